//! Unit tests of quiescence (`README.md`): watchers are told when nothing
//! in the pool can run again, and never while something can. "Never" is
//! checked at moments the test controls (a job is running, a thread is
//! blocked, a task is queued behind a running one), not by timing.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::pool::{
    current_waker, Resumable, Step, ThreadPool, ThreadPoolConfig, Waker, WorkerCount,
};

fn pool(workers: usize) -> ThreadPool {
    let config = ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(workers));
    ThreadPool::new(config).expect("valid config")
}

/// Pool sizes each test runs with: one worker, two, and more workers than
/// cores. Under Miri (one interpreted core, every thread a few hundred
/// times slower) "more" is 3.
const SIZES: [usize; 3] = if cfg!(miri) { [1, 2, 3] } else { [1, 2, 8] };
const HANG: Duration = Duration::from_secs(20);

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < HANG, "hung: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Counts the watcher's calls.
fn counting_watch(p: &ThreadPool) -> (Arc<AtomicUsize>, crate::pool::QuiescenceWatch) {
    let told = Arc::new(AtomicUsize::new(0));
    let t = Arc::clone(&told);
    let w = p.watch_quiescence(move || {
        t.fetch_add(1, Ordering::SeqCst);
    });
    (told, w)
}

#[test]
fn an_idle_pool_becomes_quiescent_and_tells_its_watcher() {
    for n in SIZES {
        let p = pool(n);
        let (told, _w) = counting_watch(&p);
        wait_until("the idle pool is told quiescent", || {
            told.load(Ordering::SeqCst) > 0
        });
        assert!(p.is_quiescent());
    }
}

#[test]
fn not_quiescent_while_a_job_runs_then_told_when_it_ends() {
    for n in SIZES {
        let p = pool(n);
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let h = p.spawn(move || {
            started_tx.send(()).unwrap();
            go_rx.recv().unwrap();
        });
        started_rx.recv_timeout(HANG).expect("the job started");
        assert!(!p.is_quiescent(), "{n} workers: a job runs");
        let (told, _w) = counting_watch(&p);
        assert_eq!(told.load(Ordering::SeqCst), 0, "{n}: told while a job runs");
        go_tx.send(()).unwrap();
        h.wait().expect("the job finished");
        wait_until("told once the job ended", || {
            told.load(Ordering::SeqCst) > 0
        });
    }
}

#[test]
fn not_quiescent_while_a_thread_is_blocked_in_a_wait_that_cannot_park() {
    for n in SIZES {
        let p = pool(n);
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let h = p.spawn(move || {
            crate::pool::blocking(|| {
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
            })
        });
        started_rx.recv_timeout(HANG).expect("the job blocked");
        // Whatever the spares do meanwhile (one may start, serve and
        // retire), the blocked thread is never parked.
        let (told, _w) = counting_watch(&p);
        std::thread::sleep(Duration::from_millis(20));
        assert!(!p.is_quiescent(), "{n} workers: a thread is blocked");
        assert_eq!(told.load(Ordering::SeqCst), 0, "{n}: told while blocked");
        go_tx.send(()).unwrap();
        h.wait().expect("the job finished");
        wait_until("told once the block ended", || {
            told.load(Ordering::SeqCst) > 0
        });
    }
}

/// Parks once, handing its waker out; done when polled again.
struct ParkOnce {
    parked: bool,
    out: mpsc::Sender<Waker>,
}

impl Resumable for ParkOnce {
    type Output = ();
    fn resume(&mut self) -> Step<()> {
        if self.parked {
            return Step::Done(());
        }
        self.parked = true;
        self.out.send(current_waker().expect("a waker")).unwrap();
        Step::Park
    }
}

#[test]
fn parked_tasks_leave_the_pool_quiescent_and_a_wake_ends_it() {
    for n in SIZES {
        let p = pool(n);
        let (tx, rx) = mpsc::channel();
        let tasks: Vec<_> = (0..10)
            .map(|_| {
                p.spawn_resumable(ParkOnce {
                    parked: false,
                    out: tx.clone(),
                })
            })
            .collect();
        let wakers: Vec<Waker> = (0..10).map(|_| rx.recv_timeout(HANG).unwrap()).collect();
        let (told, _w) = counting_watch(&p);
        wait_until("parked tasks: quiescent", || {
            told.load(Ordering::SeqCst) > 0
        });
        assert_eq!(p.parked_tasks().len(), 10);
        for w in &wakers {
            w.wake();
        }
        for t in tasks {
            t.wait().expect("woken tasks finish");
        }
        assert!(p.parked_tasks().is_empty());
    }
}
