//! Loom models of the sleep protocol. Run with
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib pool::sleep`.
//!
//! A lost wakeup shows up as a model where every thread is blocked, which
//! loom reports as a deadlock; so each model passing means no interleaving
//! loses a wakeup.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::{Sleep, SleepOutcome};
use crate::pool::latch::CoreLatch;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Takes one job from the model queue if there is one.
fn try_take(queue: &AtomicUsize) -> bool {
    let mut n = queue.load(Ordering::Acquire);
    while n > 0 {
        match queue.compare_exchange(n, n - 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return true,
            Err(now) => n = now,
        }
    }
    false
}

/// The idle loop of a worker: take a job, else park, until one job was run.
fn work_one(sleep: &Sleep, slot: usize, latch: &CoreLatch, queue: &AtomicUsize) {
    loop {
        if try_take(queue) {
            return;
        }
        sleep.sleep(slot, latch, None, || queue.load(Ordering::SeqCst) > 0);
    }
}

#[test]
fn a_push_always_reaches_a_parking_worker() {
    model(|| {
        let sleep = Arc::new(Sleep::new(1));
        let queue = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (sleep, queue) = (sleep.clone(), queue.clone());
            thread::spawn(move || work_one(&sleep, 0, &CoreLatch::new(), &queue))
        };
        queue.fetch_add(1, Ordering::Release);
        sleep.notify_work();
        worker.join().unwrap();
        assert_eq!(sleep.sleepers(), 0);
    });
}

#[test]
fn two_pushes_reach_two_parking_workers() {
    model(|| {
        let sleep = Arc::new(Sleep::new(2));
        let queue = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|slot| {
                let (sleep, queue) = (sleep.clone(), queue.clone());
                thread::spawn(move || work_one(&sleep, slot, &CoreLatch::new(), &queue))
            })
            .collect();
        for _ in 0..2 {
            queue.fetch_add(1, Ordering::Release);
            sleep.notify_work();
        }
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(queue.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn setting_a_latch_wakes_its_parked_owner() {
    model(|| {
        let sleep = Arc::new(Sleep::new(1));
        let latch = Arc::new(CoreLatch::new());
        let owner = {
            let (sleep, latch) = (sleep.clone(), latch.clone());
            thread::spawn(move || {
                while !latch.probe() {
                    sleep.sleep(0, &latch, None, || false);
                }
            })
        };
        if latch.set() {
            sleep.wake(0);
        }
        owner.join().unwrap();
    });
}

#[test]
fn one_push_wakes_at_most_one_sleeper() {
    model(|| {
        let sleep = Arc::new(Sleep::new(2));
        let woken = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(CoreLatch::new());
        let workers: Vec<_> = (0..2)
            .map(|slot| {
                let (sleep, woken, stop) = (sleep.clone(), woken.clone(), stop.clone());
                thread::spawn(move || {
                    let latch = CoreLatch::new();
                    // Park once (or not at all if the stop flag is seen).
                    let outcome = sleep.sleep(slot, &latch, None, || stop.probe());
                    if outcome == SleepOutcome::Woken {
                        woken.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        sleep.notify_work();
        let after_one = woken.load(Ordering::SeqCst);
        assert!(after_one <= 1);
        // Shut down: the stop flag plus a wake of everyone.
        stop.set();
        sleep.wake_all();
        for w in workers {
            w.join().unwrap();
        }
    });
}

#[test]
fn work_dealt_to_one_worker_reaches_it() {
    model(|| {
        let sleep = Arc::new(Sleep::new(2));
        let inbox = Arc::new(AtomicUsize::new(0));
        let worker = {
            let (sleep, inbox) = (sleep.clone(), inbox.clone());
            thread::spawn(move || work_one(&sleep, 1, &CoreLatch::new(), &inbox))
        };
        inbox.fetch_add(1, Ordering::Release);
        sleep.notify_slot(1);
        worker.join().unwrap();
    });
}
