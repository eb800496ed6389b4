# CPython twin of chan_batch.weft: one producer thread, one consumer thread,
# 200,000 ints through queue.Queue: one item at a time (a
# queue of 1024 items), then in lists of 256 (a queue of 4 lists, the same
# number of items in flight), then as ready-made lists of 256 summed with
# sum() (the twin of chan_bulk). None marks the end. Producer and consumer
# are both threads, as both are tasks in the Weft script.
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


def produce_bulk(q, n, size):
    for start in range(0, n, size):
        q.put(list(range(start, min(start + size, n))))
    q.put(None)


def consume_single(q, out):
    total = 0
    while (v := q.get()) is not None:
        total += v
    out.append(total)


def consume_batched(q, out):
    total = 0
    while (got := q.get()) is not None:
        for x in got:
            total += x
    out.append(total)


def consume_bulk(q, out):
    total = 0
    while (got := q.get()) is not None:
        total += sum(got)
    out.append(total)


def run(q, producer, pargs, consumer):
    out = []
    t0 = time.perf_counter()
    c = threading.Thread(target=consumer, args=(q, out))
    p = threading.Thread(target=producer, args=(q, *pargs))
    c.start()
    p.start()
    c.join()
    p.join()
    return time.perf_counter() - t0, out[0]


def main():
    n = 200_000
    size = 256

    t_single, total_single = run(queue.Queue(1024), produce_single, (n,), consume_single)
    t_batch, total_batch = run(
        queue.Queue(1024 // size), produce_batched, (n, size), consume_batched
    )
    t_bulk, total_bulk = run(queue.Queue(1024 // size), produce_bulk, (n, size), consume_bulk)

    print(f"chan_single: {t_single:.3f} s")
    print(f"chan_single_rate: {int(n / t_single)} items/s")
    print(f"chan_batch: {t_batch:.3f} s")
    print(f"chan_batch_rate: {int(n / t_batch)} items/s")
    print(f"chan_bulk: {t_bulk:.3f} s")
    print(f"chan_bulk_rate: {int(n / t_bulk)} items/s")
    print(f"ratio_batch_vs_single: {t_single / t_batch:.2f}")
    print(f"ratio_bulk_vs_single: {t_single / t_bulk:.2f}")
    print("checksum:", total_single, total_batch, total_bulk)


main()
