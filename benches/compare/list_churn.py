# List churn: push (append), pop, indexing, sort and slicing on lists of
# ints, driven by a deterministic 31-bit LCG so every language sees the
# same numbers.
def run(rounds, size):
    seed = 12345
    checksum = 0
    for r in range(rounds):
        xs = []
        for _ in range(size):
            seed = (seed * 1103515245 + 12345) % 2147483648
            xs.append(seed % 100_000)
        # indexed reads and writes
        for i in range(0, size, 7):
            xs[i] = xs[i] + xs[size - 1 - i] % 10
        xs.sort()
        checksum += xs[0] + xs[len(xs) // 2] + xs[-1]
        middle = xs[size // 4:size // 2]
        checksum += sum(middle) % 1_000_003 + len(middle)
        # pop the top half back off
        while len(xs) > size // 2:
            checksum += xs.pop() % 1000
        # refill from the front half, reversed order of reads
        for i in range(len(xs) - 1, -1, -3):
            xs.append(xs[i] + r)
        checksum = (checksum + xs[-1] * 3 + len(xs)) % 1_000_000_007
    return checksum


print(run(800, 2000))
