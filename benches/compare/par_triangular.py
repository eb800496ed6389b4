# CPython twin of par_triangular.weft: item i costs ~i loop iterations
# against an even workload of the same total, sequentially and on a
# ThreadPoolExecutor(2) in chunks of 64 items (GIL-bound baseline).
import time
from concurrent.futures import ThreadPoolExecutor


def spin(iters):
    acc = 0
    i = 0
    while i < iters:
        acc = (acc + i * 7) % 1_000_003
        i += 1
    return acc


def chunked_map(pool, f, xs, chunk):
    futures = [pool.submit(lambda part: [f(x) for x in part], xs[a:a + chunk])
               for a in range(0, len(xs), chunk)]
    out = []
    for fut in futures:
        out.extend(fut.result())
    return out


def main():
    n = 4001
    even_cost = (n - 1) // 2

    def tri_fn(i):
        return spin(i)

    def even_fn(i):
        return spin(even_cost)

    items = list(range(n))
    t0 = time.perf_counter()
    seq = [tri_fn(i) for i in items]
    t_seq = time.perf_counter() - t0

    with ThreadPoolExecutor(2) as pool:
        t0 = time.perf_counter()
        tri = chunked_map(pool, tri_fn, items, 64)
        t_tri = time.perf_counter() - t0

        t0 = time.perf_counter()
        even = chunked_map(pool, even_fn, items, 64)
        t_even = time.perf_counter() - t0

    assert tri == seq, "threaded map result differs from map"
    print(f"par_triangular_seq: {t_seq:.3f} s")
    print(f"par_triangular_tri: {t_tri:.3f} s")
    print(f"par_triangular_even: {t_even:.3f} s")
    print(f"tri/even: {t_tri / t_even:.3f}")
    print("checksum:", sum(tri), sum(even), n * even_cost)


main()
