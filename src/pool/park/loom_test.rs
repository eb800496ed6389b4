//! Loom models of the task state word (`README.md` beside this file). Run
//! with `RUSTFLAGS="--cfg loom" cargo test --release --lib pool::park`.
//!
//! Each model has a task whose poll finishes only once what it waits for
//! is ready (flags set by wakers before they wake), a model queue of jobs
//! (pushed by a wake that moved the task `PARKED -> QUEUED`), and a check
//! that no two threads ever hold the task's body at once. A lost wakeup
//! shows up as a task left parked, not done, with nothing queued.

use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::state::{State, Wake, CANCELLED, DONE, LIFECYCLE, PARKED};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// A task, its queue of jobs, and what its poll waits for.
struct Task {
    state: State,
    queue: AtomicUsize,
    /// Set while some thread holds the body.
    in_body: AtomicBool,
    /// Flags the poll needs, all set, to finish.
    ready: [AtomicBool; 2],
    needs: usize,
    polls: AtomicUsize,
}

impl Task {
    fn running(needs: usize) -> Arc<Task> {
        let t = Task::queued(needs);
        assert!(t.state.claim(false).is_some());
        t.queue.store(0, Ordering::SeqCst);
        t
    }

    /// A task not started yet, its one job queued.
    fn queued(needs: usize) -> Arc<Task> {
        Arc::new(Task {
            state: State::queued(),
            queue: AtomicUsize::new(1),
            in_body: AtomicBool::new(false),
            ready: [AtomicBool::new(false), AtomicBool::new(false)],
            needs,
            polls: AtomicUsize::new(0),
        })
    }

    /// The body: done once cancelled or once every needed flag is set.
    fn poll(&self) -> bool {
        assert!(
            !self.in_body.swap(true, Ordering::SeqCst),
            "two threads in the body"
        );
        self.polls.fetch_add(1, Ordering::SeqCst);
        let done = self.state.load() & CANCELLED != 0
            || self.ready[..self.needs]
                .iter()
                .all(|r| r.load(Ordering::SeqCst));
        self.in_body.store(false, Ordering::SeqCst);
        done
    }

    /// The runner's loop after a claim: poll until done or parked.
    fn run(&self) {
        loop {
            if self.poll() {
                self.state.complete();
                return;
            }
            if self.state.park() {
                return;
            }
        }
    }

    /// A wake: set a flag, then wake (push a job if it was parked).
    fn wake(&self) {
        if self.state.wake() == Wake::Schedule {
            self.queue.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Runs every queued job (each claims, polls, parks or finishes).
    fn drain(&self) {
        while self.queue.load(Ordering::SeqCst) > 0 {
            self.queue.fetch_sub(1, Ordering::SeqCst);
            if self.state.claim(false).is_some() {
                self.run();
            }
        }
    }
}

#[test]
fn a_wake_racing_the_park_is_never_lost() {
    model(|| {
        let t = Task::running(1);
        let w = {
            let t = t.clone();
            thread::spawn(move || {
                t.ready[0].store(true, Ordering::SeqCst);
                t.wake();
            })
        };
        t.run();
        w.join().unwrap();
        t.drain();
        assert_eq!(t.state.load() & LIFECYCLE, DONE, "lost wakeup");
        // One wake: one extra poll at most.
        assert!(t.polls.load(Ordering::SeqCst) <= 2);
    });
}

#[test]
fn a_wake_racing_the_claim_of_a_queued_task_is_never_lost() {
    model(|| {
        let t = Task::queued(1);
        let w = {
            let t = t.clone();
            thread::spawn(move || {
                t.ready[0].store(true, Ordering::SeqCst);
                t.wake();
            })
        };
        t.drain(); // the worker: claims, polls, parks or finishes
        w.join().unwrap();
        t.drain();
        assert_eq!(t.state.load() & LIFECYCLE, DONE, "lost wakeup");
        assert!(t.polls.load(Ordering::SeqCst) <= 2);
    });
}

#[test]
fn two_wakes_racing_each_other_and_the_park() {
    model(|| {
        let t = Task::running(2);
        let wakers: Vec<_> = (0..2)
            .map(|i| {
                let t = t.clone();
                thread::spawn(move || {
                    t.ready[i].store(true, Ordering::SeqCst);
                    t.wake();
                })
            })
            .collect();
        t.run();
        for w in wakers {
            w.join().unwrap();
        }
        t.drain();
        assert_eq!(t.state.load() & LIFECYCLE, DONE, "lost wakeup");
        assert_eq!(t.queue.load(Ordering::SeqCst), 0);
    });
}

#[test]
fn a_cancel_racing_a_wake_and_the_park() {
    model(|| {
        // The task waits for a flag nobody sets: only the cancel ends it.
        let t = Task::running(1);
        let canceller = {
            let t = t.clone();
            thread::spawn(move || {
                t.state.cancel();
                t.wake();
            })
        };
        let spurious = {
            let t = t.clone();
            thread::spawn(move || t.wake())
        };
        t.run();
        canceller.join().unwrap();
        spurious.join().unwrap();
        t.drain();
        assert_eq!(t.state.load() & LIFECYCLE, DONE, "the cancel was lost");
    });
}

#[test]
fn an_inspection_racing_a_wake_keeps_the_wake() {
    model(|| {
        let t = Task::running(1);
        t.run(); // parks: not ready
        assert_eq!(t.state.load() & LIFECYCLE, PARKED);
        let inspector = {
            let t = t.clone();
            thread::spawn(move || {
                if t.state.inspect() {
                    assert!(!t.in_body.swap(true, Ordering::SeqCst));
                    t.in_body.store(false, Ordering::SeqCst);
                    if !t.state.park() {
                        // Woken meanwhile: requeue it.
                        t.state.requeue();
                        t.queue.fetch_add(1, Ordering::SeqCst);
                    }
                }
            })
        };
        t.ready[0].store(true, Ordering::SeqCst);
        t.wake();
        inspector.join().unwrap();
        t.drain();
        assert_eq!(t.state.load() & LIFECYCLE, DONE, "the wake was lost");
    });
}
