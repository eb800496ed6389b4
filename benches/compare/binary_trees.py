# Binary-trees (max depth 14): allocation of many small lists and recursion.
# A tree is a list [left, right]; a leaf is [None, None]. Same program shape
# as the benchmarks-game reference (stretch tree, long-lived tree, then
# batches of short-lived trees at increasing depths).
def make(depth):
    if depth == 0:
        return [None, None]
    return [make(depth - 1), make(depth - 1)]


def check(tree):
    left = tree[0]
    if left is None:
        return 1
    return 1 + check(left) + check(tree[1])


def main(max_depth):
    min_depth = 4
    stretch = max_depth + 1
    print("stretch tree of depth", stretch, "check:", check(make(stretch)))
    long_lived = make(max_depth)
    for depth in range(min_depth, max_depth + 1, 2):
        iterations = 2 ** (max_depth - depth + min_depth)
        total = 0
        for _ in range(iterations):
            total += check(make(depth))
        print(iterations, "trees of depth", depth, "check:", total)
    print("long lived tree of depth", max_depth, "check:", check(long_lived))


main(14)
