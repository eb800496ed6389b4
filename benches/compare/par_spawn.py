# Task overhead in CPython: ThreadPoolExecutor(2) submit + result of a
# trivial function, 100,000 times. Twin of par_spawn.weft.
#   par_spawn_roundtrip       submit one, wait for its result, repeat
#   par_spawn_all_then_await  submit all 100,000, then collect every result
import time
from concurrent.futures import ThreadPoolExecutor


def add_one(x):
    return x + 1


def main():
    n = 100_000
    with ThreadPoolExecutor(2) as pool:
        t0 = time.perf_counter()
        total = 0
        for i in range(n):
            total += pool.submit(add_one, i).result()
        roundtrip = time.perf_counter() - t0

        t0 = time.perf_counter()
        futures = [pool.submit(add_one, i) for i in range(n)]
        results = [f.result() for f in futures]
        all_then_await = time.perf_counter() - t0

    print(f"par_spawn_roundtrip: {roundtrip:.3f} s")
    print(f"par_spawn_all_then_await: {all_then_await:.3f} s")
    print("checksum:", total, sum(results))


main()
