# K-nucleotide (benchmarks game): counts the k-mers of a DNA sequence of
# 250,000 characters in a dict, for k = 1 and 2 (printed sorted by
# frequency) and five given ones up to 18 long. The benchmarks game reads
# the sequence from fasta's output; here it is generated with the same
# generator (fasta's third section) so the program needs no input.
# String slicing and dict updates keyed by short strings.

HOMO_SAPIENS = [
    ["A", 0.3029549426680], ["C", 0.1979883004921],
    ["G", 0.1975473066391], ["T", 0.3015094502008],
]


def generate(n, seed):
    chars = []
    probs = []
    acc = 0.0
    for c, p in HOMO_SAPIENS:
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


def frequencies(seq, k):
    counts = {}
    for i in range(len(seq) - k + 1):
        key = seq[i : i + k]
        counts[key] = counts.get(key, 0) + 1
    return counts


def sorted_frequencies(seq, k):
    counts = frequencies(seq, k)
    total = len(seq) - k + 1
    for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print("%s %.3f" % (key, 100.0 * count / total))
    print("")


def main(n):
    seq = generate(n, 42)
    sorted_frequencies(seq, 1)
    sorted_frequencies(seq, 2)
    for probe in ["GGT", "GGTA", "GGTATT", "GGTATTTTAATT", "GGTATTTTAATTTATAGT"]:
        counts = frequencies(seq, len(probe))
        print("%d\t%s" % (counts.get(probe, 0), probe))


main(250_000)
