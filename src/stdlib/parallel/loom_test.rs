//! A loom model of the stream protocol (`STREAMS.md`). Run with
//! `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test
//! --release --lib stdlib::parallel::loom`.
//!
//! `stream.rs` mixes the protocol with VMs, channels and the pool, which
//! loom cannot run, so this is the protocol alone, written step by step
//! as `STREAMS.md` states it, on loom's primitives:
//! - **taking** under the `take` lock: room = `in_flight - outstanding -
//!   output length`, read in that order; take at most `room` items,
//!   number them, add them to `outstanding` before the lock is released;
//! - **runners** (pool jobs, run here by one pool thread): pop a queued
//!   chunk or take one, run it, finish it; with nothing to do, stop under
//!   `queue` (if none is queued) and, the last one, wake the driver;
//! - **the consumer that helps**: a receive that finds the output empty
//!   runs a chunk itself (`try_lock` on `take`, never a wait), then wakes
//!   the driver if it waits for emits; with nothing to run it blocks on
//!   the output;
//! - **finish**: in order through one merger (`emit.ready`, `merging`);
//!   **emit**: send the results before the first failure, *then* subtract
//!   from `outstanding`;
//! - **the driver**: waits for no runner, then for room (the consumer's
//!   emits while items are outstanding, the output's room otherwise), takes
//!   and starts a runner; at the end waits for no runner and nothing
//!   outstanding, then closes the output (with the failure, if any).
//!
//! Checked: the consumer receives every result in input order, and only
//! those before a failing item, then the close (with the error, after the
//! earlier results); the output never holds more than `in_flight` (a send
//! never waits); items taken and not received never exceed `in_flight`;
//! and nobody sleeps forever (a lost wakeup is a loom deadlock). The
//! waits have no timeout here: the real ones (a second) only look for a
//! consumer that dropped its output.
//!
//! Loom models `SeqCst` loads and stores as `AcqRel` (its README), which
//! misses the store-then-load ordering the driver's `waiting` flag relies
//! on (the driver publishes `waiting` then reads the counters; the emitter
//! updates a counter then reads `waiting`): without the `fence(SeqCst)`
//! that says it here, loom reports a lost wakeup that SeqCst rules out.

use std::collections::VecDeque;

use loom::sync::atomic::{fence, AtomicBool, AtomicU8, AtomicUsize, Ordering};
use loom::sync::{Arc, Condvar, Mutex};
use loom::thread;

const WAIT_RUNNERS: u8 = 1;
const WAIT_EMITS: u8 = 2;

/// A chunk of one item: (sequence number, item index).
type Chunk = (usize, usize);

struct Taker {
    /// Items taken (the index of the next one; chunks are one item, so
    /// also the next sequence number).
    taken: usize,
}

#[derive(Default)]
struct Queue {
    chunks: VecDeque<Chunk>,
    runners: usize,
    /// Runner jobs spawned and not yet started by the pool thread.
    jobs: usize,
    /// The pool shuts down (the driver is done).
    shutdown: bool,
}

#[derive(Default)]
struct Emit {
    next: usize,
    /// Finished chunks by sequence number from `next`: the item's result,
    /// `None` when it failed.
    ready: VecDeque<Option<Option<usize>>>,
    merging: bool,
}

#[derive(Default)]
struct Output {
    items: VecDeque<usize>,
    /// `Some(Ok)` once closed, `Some(Err(i))` closed with item `i`'s error.
    closed: Option<Result<(), usize>>,
}

struct Model {
    n: usize,
    in_flight: usize,
    fail_at: Option<usize>,
    take: Mutex<Taker>,
    outstanding: AtomicUsize,
    queue: Mutex<Queue>,
    /// The pool thread waits here for jobs.
    jobs: Condvar,
    emit: Mutex<Emit>,
    output: Mutex<Output>,
    /// Receivers wait here for results; the driver for the output's room.
    out_cv: Condvar,
    /// The lowest failing index (`usize::MAX`: none).
    failure: AtomicUsize,
    waiting: AtomicU8,
    wake_lock: Mutex<()>,
    wake: Condvar,
    input_done: AtomicBool,
    /// Results the consumer received, and items whose result was never
    /// sent (after a failure): no longer held (for the bound check).
    received: AtomicUsize,
    dropped: AtomicUsize,
}

impl Model {
    fn new(n: usize, in_flight: usize, fail_at: Option<usize>) -> Model {
        Model {
            n,
            in_flight,
            fail_at,
            take: Mutex::new(Taker { taken: 0 }),
            outstanding: AtomicUsize::new(0),
            queue: Mutex::new(Queue::default()),
            jobs: Condvar::new(),
            emit: Mutex::new(Emit::default()),
            output: Mutex::new(Output::default()),
            out_cv: Condvar::new(),
            failure: AtomicUsize::new(usize::MAX),
            waiting: AtomicU8::new(0),
            wake_lock: Mutex::new(()),
            wake: Condvar::new(),
            input_done: AtomicBool::new(false),
            received: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        }
    }

    /// `in_flight - outstanding - output length`, `outstanding` first.
    fn room(&self) -> usize {
        let o = self.outstanding.load(Ordering::SeqCst);
        let l = self.output.lock().unwrap().items.len();
        self.in_flight.saturating_sub(o + l)
    }

    /// Takes one item under the `take` lock, if there is room and input.
    fn take_one(&self, t: &mut Taker) -> Option<Chunk> {
        if self.failure.load(Ordering::SeqCst) != usize::MAX {
            return None;
        }
        if t.taken == self.n {
            self.input_done.store(true, Ordering::SeqCst);
            return None;
        }
        if self.room() == 0 {
            return None;
        }
        let i = t.taken;
        t.taken += 1;
        self.outstanding.fetch_add(1, Ordering::SeqCst);
        // The bound: items taken and still held (`taken` cannot move
        // while we hold the lock; the others only grow).
        let released = self.received.load(Ordering::SeqCst) + self.dropped.load(Ordering::SeqCst);
        let x = t.taken - released;
        assert!(
            x <= self.in_flight,
            "{x} items in flight > {}",
            self.in_flight
        );
        Some((i, i))
    }

    /// Runs item `i`: its result, or `None` (recorded) if it fails.
    fn run(&self, i: usize) -> Option<usize> {
        if self.fail_at == Some(i) {
            self.failure.fetch_min(i, Ordering::SeqCst);
            None
        } else {
            Some(i * 10)
        }
    }

    /// Finishes a chunk in order: the merger emits the ready prefix.
    fn finish(&self, (seq, i): Chunk, result: Option<usize>) {
        let _ = i;
        let mut e = self.emit.lock().unwrap();
        let slot = seq - e.next;
        while e.ready.len() <= slot {
            e.ready.push_back(None);
        }
        e.ready[slot] = Some(result);
        if e.merging {
            return;
        }
        e.merging = true;
        loop {
            let mut batch = Vec::new();
            while let Some(Some(_)) = e.ready.front() {
                let r = e.ready.pop_front().flatten().expect("checked");
                batch.push((e.next, r));
                e.next += 1;
            }
            if batch.is_empty() {
                e.merging = false;
                break;
            }
            drop(e);
            for (index, r) in batch {
                self.emit(index, r);
            }
            e = self.emit.lock().unwrap();
        }
    }

    /// Sends the result if it precedes the first failure, then counts the
    /// item out of `outstanding`.
    fn emit(&self, index: usize, r: Option<usize>) {
        match r {
            Some(v) if index < self.failure.load(Ordering::SeqCst) => {
                let mut out = self.output.lock().unwrap();
                assert!(out.items.len() < self.in_flight, "a send would wait");
                out.items.push_back(v);
                self.out_cv.notify_all();
            }
            _ => {
                self.dropped.fetch_add(1, Ordering::SeqCst);
            }
        }
        self.outstanding.fetch_sub(1, Ordering::SeqCst);
    }

    fn wake_driver(&self, event: u8) {
        // The real code's SeqCst accesses order this load after the emit's
        // `outstanding` update; loom models SeqCst accesses as AcqRel only,
        // so the model says it with the fence (which loom supports).
        fence(Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) & event != 0 {
            let _guard = self.wake_lock.lock().unwrap();
            self.wake.notify_one();
        }
    }

    fn wait_until(&self, what: u8, done: impl Fn(&Model) -> bool) {
        if done(self) {
            return;
        }
        let mut guard = self.wake_lock.lock().unwrap();
        self.waiting.store(what, Ordering::SeqCst);
        // As in `wake_driver`: `done` reads after `waiting` is published.
        fence(Ordering::SeqCst);
        while !done(self) {
            guard = self.wake.wait(guard).unwrap();
        }
        self.waiting.store(0, Ordering::SeqCst);
    }

    /// Raises `runners` by one and spawns its job (the pool thread runs it).
    fn start_runner(&self, q: &mut Queue) {
        q.runners += 1;
        q.jobs += 1;
        self.jobs.notify_all();
    }

    /// A runner job.
    fn runner(&self) {
        loop {
            let popped = self.queue.lock().unwrap().chunks.pop_front();
            let chunk = popped.or_else(|| self.take_one(&mut self.take.lock().unwrap()));
            if let Some(c) = chunk {
                let r = self.run(c.1);
                self.finish(c, r);
                continue;
            }
            let mut q = self.queue.lock().unwrap();
            if !q.chunks.is_empty() {
                continue;
            }
            q.runners -= 1;
            let last = q.runners == 0;
            drop(q);
            if last {
                self.wake_driver(WAIT_RUNNERS);
            }
            return;
        }
    }

    /// The pool thread: runs runner jobs until shut down.
    fn pool_thread(&self) {
        let mut q = self.queue.lock().unwrap();
        loop {
            if q.jobs > 0 {
                q.jobs -= 1;
                drop(q);
                self.runner();
                q = self.queue.lock().unwrap();
            } else if q.shutdown {
                return;
            } else {
                q = self.jobs.wait(q).unwrap();
            }
        }
    }

    /// The consumer's help on an empty output: runs one chunk (popped, or
    /// taken with `try_lock`, never waiting). `true` if it ran one.
    fn help(&self) -> bool {
        let popped = self.queue.lock().unwrap().chunks.pop_front();
        let chunk = popped.or_else(|| match self.take.try_lock() {
            Ok(mut t) => self.take_one(&mut t),
            Err(_) => None,
        });
        let Some(c) = chunk else { return false };
        let r = self.run(c.1);
        self.finish(c, r);
        self.wake_driver(WAIT_EMITS);
        true
    }

    /// The consumer: receives (helping when the output is empty) until the
    /// output is closed. Returns the results and how it was closed.
    fn consume(&self) -> (Vec<usize>, Result<(), usize>) {
        let mut got = Vec::new();
        loop {
            {
                let mut out = self.output.lock().unwrap();
                if let Some(v) = out.items.pop_front() {
                    self.received.fetch_add(1, Ordering::SeqCst);
                    // The driver may wait for the output's room.
                    self.out_cv.notify_all();
                    got.push(v);
                    continue;
                }
                if let Some(end) = out.closed {
                    return (got, end);
                }
            }
            if self.help() {
                continue;
            }
            let mut out = self.output.lock().unwrap();
            while out.items.is_empty() && out.closed.is_none() {
                out = self.out_cv.wait(out).unwrap();
            }
        }
    }

    fn stopping(&self) -> bool {
        self.input_done.load(Ordering::SeqCst) || self.failure.load(Ordering::SeqCst) != usize::MAX
    }

    /// The driver: feeds runners until the input is done or an item
    /// failed, then waits for the end and closes the output.
    fn drive(&self) {
        while !self.stopping() {
            self.wait_until(WAIT_RUNNERS, |m| m.queue.lock().unwrap().runners == 0);
            if self.room() == 0 {
                if self.outstanding.load(Ordering::SeqCst) > 0 {
                    // The helping consumer holds them: wait for its emits.
                    self.wait_until(WAIT_EMITS, |m| {
                        m.room() > 0 || m.outstanding.load(Ordering::SeqCst) == 0
                    });
                } else {
                    // The output is full: wait for the consumer to receive.
                    let mut out = self.output.lock().unwrap();
                    while out.items.len() >= self.in_flight {
                        out = self.out_cv.wait(out).unwrap();
                    }
                }
                continue;
            }
            let chunk = self.take_one(&mut self.take.lock().unwrap());
            if let Some(c) = chunk {
                let mut q = self.queue.lock().unwrap();
                q.chunks.push_back(c);
                self.start_runner(&mut q);
            }
        }
        self.wait_until(WAIT_RUNNERS | WAIT_EMITS, |m| {
            m.queue.lock().unwrap().runners == 0 && m.outstanding.load(Ordering::SeqCst) == 0
        });
        let failure = self.failure.load(Ordering::SeqCst);
        let mut out = self.output.lock().unwrap();
        out.closed = Some(if failure == usize::MAX {
            Ok(())
        } else {
            Err(failure)
        });
        self.out_cv.notify_all();
        drop(out);
        let mut q = self.queue.lock().unwrap();
        q.shutdown = true;
        self.jobs.notify_all();
    }
}

/// Runs the model: the driver on the model's main thread, one pool thread,
/// the consumer; checks what the consumer got.
fn check(n: usize, in_flight: usize, fail_at: Option<usize>) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(move || {
        let m = Arc::new(Model::new(n, in_flight, fail_at));
        let pool = {
            let m = Arc::clone(&m);
            thread::spawn(move || m.pool_thread())
        };
        let consumer = {
            let m = Arc::clone(&m);
            thread::spawn(move || m.consume())
        };
        m.drive();
        let (got, end) = consumer.join().unwrap();
        pool.join().unwrap();
        let upto = fail_at.unwrap_or(n);
        let want: Vec<usize> = (0..upto).map(|i| i * 10).collect();
        assert_eq!(got, want, "results lost, duplicated or out of order");
        match fail_at {
            Some(i) => assert_eq!(end, Err(i), "the error was not delivered"),
            None => assert_eq!(end, Ok(()), "closed with an error"),
        }
        assert_eq!(m.outstanding.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn loom_stream_backpressure_keeps_order_and_bound() {
    // Three items through a bound of one: every take waits for the
    // consumer to receive (or run) the previous item.
    check(3, 1, None);
}

#[test]
fn loom_stream_runner_and_helping_consumer_share_the_bound() {
    check(3, 2, None);
}

#[test]
fn loom_stream_error_after_the_earlier_results() {
    // Item 1 fails: item 0's result is delivered, then the error; item 2
    // (if taken) is never delivered.
    check(3, 2, Some(1));
}
