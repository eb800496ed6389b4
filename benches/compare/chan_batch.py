# CPython twin of chan_batch.weft: one producer thread, one consumer (the
# main thread), 200,000 ints through queue.Queue: one item at a time (a
# queue of 1024 items), then in lists of 256 (a queue of 4 lists, the same
# number of items in flight). None marks the end.
import queue
import threading
import time


def produce_single(q, n):
    for i in range(n):
        q.put(i)
    q.put(None)


def produce_batched(q, n, size):
    batch = []
    for i in range(n):
        batch.append(i)
        if len(batch) == size:
            q.put(batch)
            batch = []
    if batch:
        q.put(batch)
    q.put(None)


def main():
    n = 200_000
    size = 256

    q = queue.Queue(1024)
    t0 = time.perf_counter()
    producer = threading.Thread(target=produce_single, args=(q, n))
    producer.start()
    total_single = 0
    while (v := q.get()) is not None:
        total_single += v
    producer.join()
    t_single = time.perf_counter() - t0

    q = queue.Queue(1024 // size)
    t0 = time.perf_counter()
    producer = threading.Thread(target=produce_batched, args=(q, n, size))
    producer.start()
    total_batch = 0
    while (got := q.get()) is not None:
        for x in got:
            total_batch += x
    producer.join()
    t_batch = time.perf_counter() - t0

    print(f"chan_single: {t_single:.3f} s")
    print(f"chan_single_rate: {int(n / t_single)} items/s")
    print(f"chan_batch: {t_batch:.3f} s")
    print(f"chan_batch_rate: {int(n / t_batch)} items/s")
    print("checksum:", total_single, total_batch)


main()
