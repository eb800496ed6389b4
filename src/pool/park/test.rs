//! Unit tests of resumable tasks: park, wake, yield, cancel, listing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::pool::{
    current_cancel_token, current_waker, Resumable, Step, TaskError, TaskStatus, ThreadPool,
    ThreadPoolConfig, Waker, WorkerCount,
};

fn pool(workers: usize) -> ThreadPool {
    let config = ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(workers));
    ThreadPool::new(config).expect("valid config")
}

/// Pool sizes each test runs with: one worker, two, and more workers than
/// cores. Under Miri (one interpreted core, every thread a few hundred
/// times slower) "more" is 3.
const SIZES: [usize; 3] = if cfg!(miri) { [1, 2, 3] } else { [1, 2, 16] };

/// Spins until `done()` holds; panics saying `what` hung after 20 s.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "hung waiting for {what}"
        );
        thread::yield_now();
    }
}

/// Where parked tasks leave their wakers for the test to fire.
#[derive(Clone, Default)]
struct Wakers(Arc<Mutex<Vec<Waker>>>);

impl Wakers {
    fn push(&self, w: Waker) {
        self.0.lock().unwrap().push(w);
    }
    fn take(&self) -> Vec<Waker> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
    /// Waits until `n` wakers are registered, then takes them.
    fn take_n(&self, n: usize) -> Vec<Waker> {
        let start = Instant::now();
        loop {
            {
                let mut v = self.0.lock().unwrap();
                if v.len() >= n {
                    return v.drain(..n).collect();
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "hung: fewer than {n} tasks parked"
            );
            thread::sleep(Duration::from_micros(200));
        }
    }
}

/// Parks `parks` times (handing its waker out each time), then returns the
/// number of polls it took.
struct ParkTimes {
    parks: usize,
    polls: usize,
    wakers: Wakers,
}

impl Resumable for ParkTimes {
    type Output = usize;
    fn resume(&mut self) -> Step<usize> {
        self.polls += 1;
        if self.parks == 0 {
            return Step::Done(self.polls);
        }
        self.parks -= 1;
        self.wakers
            .push(current_waker().expect("a waker while polled"));
        Step::Park
    }
    fn describe(&self) -> String {
        format!("waiting, {} parks to go", self.parks)
    }
}

#[test]
fn a_parked_task_resumes_once_per_wake_on_any_worker() {
    for n in SIZES {
        let pool = pool(n);
        let wakers = Wakers::default();
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                pool.spawn_resumable(ParkTimes {
                    parks: 3,
                    polls: 0,
                    wakers: wakers.clone(),
                })
            })
            .collect();
        for _round in 0..3 {
            let round = wakers.take_n(50);
            // Once they are all parked (not just about to), one wake is
            // one more poll.
            let start = Instant::now();
            while !tasks.iter().all(|t| t.status() == TaskStatus::Parked) {
                assert!(start.elapsed() < Duration::from_secs(20), "hung");
                thread::yield_now();
            }
            for w in round {
                w.wake();
            }
        }
        for t in tasks {
            assert_eq!(t.wait(), Ok(4), "workers={n}");
        }
        let stats = pool.stats();
        assert_eq!(stats.task_parks, 150);
        assert_eq!(stats.parked_now, 0);
        assert!(stats.parked_peak >= 1 && stats.parked_peak <= 50);
    }
}

/// Wakes itself during its poll, then parks: the wake must not be lost.
struct WakeSelfThenPark {
    polls: usize,
}

impl Resumable for WakeSelfThenPark {
    type Output = usize;
    fn resume(&mut self) -> Step<usize> {
        self.polls += 1;
        if self.polls == 3 {
            return Step::Done(self.polls);
        }
        current_waker().unwrap().wake();
        Step::Park
    }
}

#[test]
fn a_wake_during_the_poll_makes_the_task_poll_again() {
    for n in SIZES {
        let pool = pool(n);
        let t = pool.spawn_resumable(WakeSelfThenPark { polls: 0 });
        assert_eq!(t.wait(), Ok(3));
        assert_eq!(pool.stats().task_parks, 0, "never actually parked");
    }
}

/// Yields `left` times, recording its turns in a shared log.
struct Yielder {
    name: char,
    left: usize,
    log: Arc<Mutex<String>>,
}

impl Resumable for Yielder {
    type Output = ();
    fn resume(&mut self) -> Step<()> {
        self.log.lock().unwrap().push(self.name);
        if self.left == 0 {
            return Step::Done(());
        }
        self.left -= 1;
        Step::Yield
    }
}

#[test]
fn a_yield_goes_to_the_back_of_the_queue() {
    let pool = pool(1);
    let log = Arc::new(Mutex::new(String::new()));
    // Hold the one worker until both tasks are queued.
    let gate = Arc::new(std::sync::Barrier::new(2));
    let g = Arc::clone(&gate);
    let blocker = pool.spawn(move || {
        g.wait();
    });
    let a = pool.spawn_resumable(Yielder {
        name: 'a',
        left: 2,
        log: Arc::clone(&log),
    });
    let b = pool.spawn_resumable(Yielder {
        name: 'b',
        left: 2,
        log: Arc::clone(&log),
    });
    gate.wait();
    blocker.wait().unwrap();
    a.wait().unwrap();
    b.wait().unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 6);
    // Each yield lets the other run: the turns alternate.
    assert!(
        log == "ababab" || log == "bababa",
        "turns did not alternate: {log}"
    );
    assert_eq!(pool.stats().yields, 4);
}

#[test]
fn an_awaiter_runs_a_queued_task_inline_and_it_may_park_there() {
    let pool = pool(1);
    let wakers = Wakers::default();
    // Occupy the worker so the task stays queued.
    let gate = Arc::new(std::sync::Barrier::new(2));
    let g = Arc::clone(&gate);
    let blocker = pool.spawn(move || {
        g.wait();
    });
    let t = pool.spawn_resumable(ParkTimes {
        parks: 1,
        polls: 0,
        wakers: wakers.clone(),
    });
    assert!(t.run_if_queued(), "queued: runs here");
    assert!(!t.run_if_queued(), "started: never twice");
    assert_eq!(t.status(), TaskStatus::Parked);
    assert!(!t.is_done());
    gate.wait();
    blocker.wait().unwrap();
    for w in wakers.take_n(1) {
        w.wake();
    }
    assert_eq!(t.wait(), Ok(2));
    assert_eq!(t.status(), TaskStatus::Done);
}

/// Parks until cancelled; reports whether it saw the cancellation.
struct UntilCancelled {
    wakers: Wakers,
    polls: Arc<AtomicUsize>,
}

impl Resumable for UntilCancelled {
    type Output = &'static str;
    fn resume(&mut self) -> Step<&'static str> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if current_cancel_token().is_some_and(|t| t.is_cancelled()) {
            return Step::Done("saw the cancel");
        }
        self.wakers.push(current_waker().unwrap());
        Step::Park
    }
}

#[test]
fn cancelling_a_parked_task_wakes_it() {
    for n in SIZES {
        let pool = pool(n);
        let wakers = Wakers::default();
        let polls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                pool.spawn_resumable(UntilCancelled {
                    wakers: wakers.clone(),
                    polls: Arc::clone(&polls),
                })
            })
            .collect();
        let _parked = wakers.take_n(100);
        // A waker is handed out during the poll, just before the task
        // parks: wait until all have parked.
        wait_until("100 tasks parked", || {
            tasks.iter().all(|t| t.status() == TaskStatus::Parked)
        });
        assert_eq!(pool.stats().parked_now, 100);
        for t in &tasks {
            assert_eq!(t.status(), TaskStatus::Parked);
            assert!(t.cancel());
        }
        for t in &tasks {
            assert_eq!(t.wait(), Ok("saw the cancel"), "workers={n}");
        }
        assert_eq!(polls.load(Ordering::SeqCst), 200);
    }
}

#[test]
fn a_task_cancelled_before_it_runs_never_runs() {
    let pool = pool(1);
    let gate = Arc::new(std::sync::Barrier::new(2));
    let g = Arc::clone(&gate);
    let blocker = pool.spawn(move || {
        g.wait();
    });
    let polls = Arc::new(AtomicUsize::new(0));
    let t = pool.spawn_resumable(UntilCancelled {
        wakers: Wakers::default(),
        polls: Arc::clone(&polls),
    });
    assert!(t.cancel());
    gate.wait();
    blocker.wait().unwrap();
    assert_eq!(t.wait(), Err(crate::pool::WaitError::Cancelled));
    assert_eq!(polls.load(Ordering::SeqCst), 0);
}

#[test]
fn parked_tasks_are_listed_with_their_description() {
    let pool = pool(2);
    let wakers = Wakers::default();
    let tasks: Vec<_> = (0..3)
        .map(|i| {
            pool.spawn_resumable(ParkTimes {
                parks: 1 + i,
                polls: 0,
                wakers: wakers.clone(),
            })
        })
        .collect();
    let first = wakers.take_n(3);
    wait_until("3 tasks parked", || {
        tasks.iter().all(|t| t.status() == TaskStatus::Parked)
    });
    let listed = pool.parked_tasks();
    assert_eq!(listed.len(), 3, "{listed:?}");
    let mut ids: Vec<u64> = tasks.iter().map(|t| t.id()).collect();
    ids.sort_unstable();
    assert_eq!(listed.iter().map(|(id, _)| *id).collect::<Vec<_>>(), ids);
    let mut texts: Vec<&str> = listed.iter().map(|(_, t)| t.as_str()).collect();
    texts.sort_unstable();
    assert_eq!(
        texts,
        [
            "waiting, 0 parks to go",
            "waiting, 1 parks to go",
            "waiting, 2 parks to go"
        ]
    );
    // Listing did not disturb them: each still wakes once.
    for w in first {
        w.wake();
    }
    let mut rest = 3;
    while rest > 0 {
        for w in wakers.take() {
            w.wake();
            rest -= 1;
        }
        thread::yield_now();
    }
    let polls: Vec<usize> = tasks.iter().map(|t| t.wait().unwrap()).collect();
    assert_eq!(polls, [2, 3, 4]);
    assert!(pool.parked_tasks().is_empty());
}

#[test]
fn a_wake_during_a_listing_is_kept() {
    let pool = pool(1);
    let wakers = Wakers::default();
    let t = pool.spawn_resumable(ParkTimes {
        parks: 1,
        polls: 0,
        wakers: wakers.clone(),
    });
    let w = wakers.take_n(1).pop().unwrap();
    let lister = {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = Arc::clone(&stop);
        let pool = Arc::new(pool);
        let p = Arc::clone(&pool);
        let h = thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let _ = p.parked_tasks();
            }
        });
        (stop, h, pool)
    };
    w.wake();
    assert_eq!(t.wait(), Ok(2));
    lister.0.store(true, Ordering::SeqCst);
    lister.1.join().unwrap();
}

#[test]
fn dropping_the_pool_finishes_parked_tasks_as_cancelled() {
    let wakers = Wakers::default();
    let t = {
        let pool = pool(2);
        let t = pool.spawn_resumable(ParkTimes {
            parks: 5,
            polls: 0,
            wakers: wakers.clone(),
        });
        let _ = wakers.take_n(1);
        t
    };
    assert_eq!(t.wait(), Err(crate::pool::WaitError::Cancelled));
    // A waker outliving its pool does nothing harmful.
    for w in wakers.take() {
        w.wake();
    }
}

/// A panic in a resumable task becomes its error; the worker lives on.
struct Panics;

impl Resumable for Panics {
    type Output = ();
    fn resume(&mut self) -> Step<()> {
        panic!("resumable exploded")
    }
}

#[test]
fn a_panicking_resumable_fails_its_task() {
    let pool = pool(1);
    assert_eq!(
        pool.spawn_resumable(Panics).wait(),
        Err(crate::pool::WaitError::Panicked(
            "resumable exploded".into()
        ))
    );
    assert_eq!(pool.spawn(|| 5).wait(), Ok(5));
    let _ = TaskError::Cancelled;
}

#[test]
fn no_waker_outside_a_poll() {
    assert!(current_waker().is_none());
    let pool = pool(1);
    // Inside a `join` half of a resumable task run elsewhere: not polled
    // there, so no waker (the half runs inline here, polled: a waker).
    let p = Arc::new(pool);
    let q = Arc::clone(&p);
    let in_plain_thread = thread::spawn(current_waker).join().unwrap();
    assert!(in_plain_thread.is_none());
    drop(q);
}
