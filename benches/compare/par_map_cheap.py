# CPython twin of par_map_cheap.weft: x + 1 over 1,000,000 items,
# sequentially (list(map(...))) and on a ThreadPoolExecutor(2) in two
# halves (the cheapest way to hand the work to threads).
import time
from concurrent.futures import ThreadPoolExecutor


def inc(x):
    return x + 1


def main():
    n = 1_000_000
    xs = list(range(n))
    t0 = time.perf_counter()
    seq = list(map(inc, xs))
    t_seq = time.perf_counter() - t0

    with ThreadPoolExecutor(2) as pool:
        t0 = time.perf_counter()
        half = n // 2
        parts = [pool.submit(lambda part: list(map(inc, part)), xs[a:b])
                 for a, b in ((0, half), (half, n))]
        par = parts[0].result() + parts[1].result()
        t_par = time.perf_counter() - t0

    assert par == seq, "threaded map result differs from map"
    print(f"par_map_cheap_seq: {t_seq:.3f} s")
    print(f"par_map_cheap_par: {t_par:.3f} s")
    print("checksum:", sum(par))


main()
