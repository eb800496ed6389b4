# A 10M-iteration while loop with an integer accumulator: the raw
# dispatch cost of local-variable reads/writes, comparisons and arithmetic.
def run(n):
    i = 0
    acc = 0
    while i < n:
        acc += i % 7 * 3 + i // 11
        i += 1
    return acc


print(run(10_000_000))
