# Reverse-complement (benchmarks game): the reverse complement of a DNA
# sequence of 1,000,000 characters, printed in lines of 60. The benchmarks
# game reads fasta's output; here the sequence is generated with fasta's
# generator and IUB alphabet (upper-cased) so the program needs no input.
# Indexing a string character by character from the end, dict lookups by
# one-character strings, joining.

IUB = [
    ["A", 0.27], ["C", 0.12], ["G", 0.12], ["T", 0.27],
    ["B", 0.02], ["D", 0.02], ["H", 0.02], ["K", 0.02],
    ["M", 0.02], ["N", 0.02], ["R", 0.02], ["S", 0.02],
    ["V", 0.02], ["W", 0.02], ["Y", 0.02],
]
PAIRS = "ACGTUMRWSYKVHDBN"
COMPLEMENTS = "TGCAAKYWSRMBDHVN"
WIDTH = 60


def generate(n, seed):
    chars = []
    probs = []
    acc = 0.0
    for c, p in IUB:
        acc += p
        chars.append(c)
        probs.append(acc)
    probs[-1] = 1.0
    out = []
    for _ in range(n):
        seed = (seed * 3877 + 29573) % 139968
        r = 1.0 * seed / 139968
        c = 0
        while probs[c] <= r:
            c += 1
        out.append(chars[c])
    return "".join(out)


def main(n):
    comp = {}
    for i in range(len(PAIRS)):
        comp[PAIRS[i]] = COMPLEMENTS[i]
    seq = generate(n, 42)
    print(">ONE reverse complement")
    line = []
    for i in range(len(seq) - 1, -1, -1):
        line.append(comp[seq[i]])
        if len(line) == WIDTH:
            print("".join(line))
            line = []
    if len(line) > 0:
        print("".join(line))


main(1_000_000)
