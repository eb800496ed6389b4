# CPython twin of par_map_1us.weft: the same per-item work (K = 20 inner
# iterations, a few microseconds in CPython) over 100,000 items, run
# sequentially and on a ThreadPoolExecutor(2) in chunks. CPU-bound threads
# share the GIL, so this is the "what threads buy in CPython" baseline.
import sys
import time
from concurrent.futures import ThreadPoolExecutor


def work(x, k):
    acc = x
    i = 0
    while i < k:
        acc = (acc * 31 + i) % 1_000_003
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
    n = 100_000
    k = int(sys.argv[1]) if len(sys.argv) > 1 else 20

    def f(x):
        return work(x, k)

    xs = list(range(n))
    t0 = time.perf_counter()
    seq = [f(x) for x in xs]
    t_seq = time.perf_counter() - t0

    with ThreadPoolExecutor(2) as pool:
        t0 = time.perf_counter()
        par = chunked_map(pool, f, xs, 1024)
        t_par = time.perf_counter() - t0

    assert par == seq, "threaded map result differs from map"
    print(f"par_map_1us_seq: {t_seq:.3f} s")
    print(f"par_map_1us_par: {t_par:.3f} s")
    print(f"per_item_us: {t_seq / n * 1_000_000:.3f}")
    print("checksum:", sum(par))


main()
