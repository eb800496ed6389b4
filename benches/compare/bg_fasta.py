# Fasta (benchmarks game), n = 250,000: writes three DNA sequences in lines
# of 60 characters, one repeated from a fixed string and two drawn from
# weighted alphabets with the benchmarks game's linear congruential
# generator. String slicing, list building and joining, printing.
# The random state is passed along rather than kept in a global.

ALU = (
    "GGCCGGGCGCGGTGGCTCACGCCTGTAATCCCAGCACTTTGG"
    "GAGGCCGAGGCGGGCGGATCACCTGAGGTCAGGAGTTCGAGA"
    "CCAGCCTGGCCAACATGGTGAAACCCCGTCTCTACTAAAAAT"
    "ACAAAAATTAGCCGGGCGTGGTGGCGCGCGCCTGTAATCCCA"
    "GCTACTCGGGAGGCTGAGGCAGGAGAATCGCTTGAACCCGGG"
    "AGGCGGAGGTTGCAGTGAGCCGAGATCGCGCCACTGCACTCC"
    "AGCCTGGGCGACAGAGCGAGACTCCGTCTCAAAAA"
)
IUB = [
    ["a", 0.27], ["c", 0.12], ["g", 0.12], ["t", 0.27],
    ["B", 0.02], ["D", 0.02], ["H", 0.02], ["K", 0.02],
    ["M", 0.02], ["N", 0.02], ["R", 0.02], ["S", 0.02],
    ["V", 0.02], ["W", 0.02], ["Y", 0.02],
]
HOMO_SAPIENS = [
    ["a", 0.3029549426680], ["c", 0.1979883004921],
    ["g", 0.1975473066391], ["t", 0.3015094502008],
]
WIDTH = 60


def repeat_fasta(header, src, n):
    print(header)
    r = len(src)
    s = src + src + src[: n % r]
    for j in range(n // WIDTH):
        i = j * WIDTH % r
        print(s[i : i + WIDTH])
    if n % WIDTH != 0:
        print(s[len(s) - n % WIDTH :])


def random_fasta(header, table, n, seed):
    print(header)
    chars = []
    probs = []
    acc = 0.0
    for c, p in table:
        acc += p
        chars.append(c)
        probs.append(acc)
    probs[-1] = 1.0
    left = n
    while left > 0:
        width = WIDTH if left > WIDTH else left
        line = []
        for _ in range(width):
            seed = (seed * 3877 + 29573) % 139968
            r = 1.0 * seed / 139968
            c = 0
            while probs[c] <= r:
                c += 1
            line.append(chars[c])
        print("".join(line))
        left -= width
    return seed


def main(n):
    repeat_fasta(">ONE Homo sapiens alu", ALU, n * 2)
    seed = random_fasta(">TWO IUB ambiguity codes", IUB, n * 3, 42)
    random_fasta(">THREE Homo sapiens frequency", HOMO_SAPIENS, n * 5, seed)


main(250_000)
