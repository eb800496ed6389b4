# Map churn: insert, lookup, update, delete and iteration on one dict with
# both string keys ("k123") and int keys.
def run(n, rounds):
    m = {}
    total = 0
    for r in range(rounds):
        # insert: string keys and int keys side by side
        for i in range(n):
            m["k" + str(i)] = i + r
            m[i * 7] = i
        # lookup: hits and misses
        for i in range(n):
            total += m["k" + str(i)]
            total += m.get(i * 7 + 1, -1)
            if i * 3 in m:
                total += 1
        # update in place
        for i in range(0, n, 3):
            m["k" + str(i)] += 5
            m[i * 7] *= 2
        # delete half of each kind
        for i in range(0, n, 2):
            del m["k" + str(i)]
            del m[i * 7]
        # iterate what is left
        for key, value in m.items():
            total += value
        total = total % 1_000_000_007 + len(m)
    return total


print(run(50_000, 6))
