# Task overhead in CPython: ThreadPoolExecutor(2) submit + result of a
# trivial function, 100,000 times. Twin of par_spawn.weft.
#   par_spawn_roundtrip       submit one, wait for its result, repeat
#   par_spawn_all_then_await  submit all 100,000, then collect every result
#   par_spawn_roundtrip_in_task  submit one and wait for it, repeat, from
#                             inside a pool thread (the other one runs it)
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

        def inner_loop():
            s = 0
            for i in range(n):
                s += pool.submit(add_one, i).result()
            return s

        t0 = time.perf_counter()
        inner = pool.submit(inner_loop).result()
        in_task = time.perf_counter() - t0

    print(f"par_spawn_roundtrip: {roundtrip:.3f} s")
    print(f"par_spawn_all_then_await: {all_then_await:.3f} s")
    print(f"par_spawn_roundtrip_in_task: {in_task:.3f} s")
    print("checksum:", total, sum(results), inner)


main()
