# Binary-trees (benchmarks game), max depth 15, in each language's natural
# spelling: CPython builds tuples (left, right) with leaves (None, None), as
# the benchmarks game's CPython program does; Weft builds two-item lists
# [make(d - 1), make(d - 1)]; Lua builds two-item tables.


def make(depth):
    if depth == 0:
        return (None, None)
    depth -= 1
    return (make(depth), make(depth))


def check(node):
    left, right = node
    if left is None:
        return 1
    return 1 + check(left) + check(right)


def main(max_depth):
    min_depth = 4
    stretch = max_depth + 1
    print("stretch tree of depth %d\t check: %d" % (stretch, check(make(stretch))))
    long_lived = make(max_depth)
    for depth in range(min_depth, max_depth + 1, 2):
        iterations = 2 ** (max_depth - depth + min_depth)
        total = 0
        for _ in range(iterations):
            total += check(make(depth))
        print("%d\t trees of depth %d\t check: %d" % (iterations, depth, total))
    print("long lived tree of depth %d\t check: %d" % (max_depth, check(long_lived)))


main(15)
