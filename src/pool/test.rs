//! Unit tests of the pool (run with 1, 2 and 16 workers where it matters).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::*;

fn pool(workers: usize) -> ThreadPool {
    pool_with(workers, true)
}

fn pool_with(workers: usize, stealing: bool) -> ThreadPool {
    let config = ThreadPoolConfig::default()
        .with_worker_count(WorkerCount::Fixed(workers))
        .with_work_stealing(stealing);
    ThreadPool::new(config).expect("valid config")
}

/// Pool sizes each test runs with: one worker, two, and more workers than
/// cores. Under Miri (one interpreted core, every thread a few hundred
/// times slower) "more" is 3.
const SIZES: [usize; 3] = if cfg!(miri) { [1, 2, 3] } else { [1, 2, 16] };

/// A gate a task can block on until the test opens it.
#[derive(Clone)]
struct Gate(Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>);

impl Gate {
    fn new() -> Self {
        Gate(Arc::new((
            std::sync::Mutex::new(false),
            std::sync::Condvar::new(),
        )))
    }
    fn open(&self) {
        *self.0 .0.lock().unwrap() = true;
        self.0 .1.notify_all();
    }
    /// Blocks (marked as blocking, so a spare serves meanwhile).
    fn wait(&self) {
        blocking(|| self.wait_raw())
    }
    /// Blocks without telling the pool: the worker stays occupied.
    fn wait_raw(&self) {
        let mut open = self.0 .0.lock().unwrap();
        while !*open {
            open = self.0 .1.wait(open).unwrap();
        }
    }
}

#[test]
fn spawn_and_wait_returns_each_result() {
    for n in SIZES {
        let pool = pool(n);
        let handles: Vec<_> = (0..2000u64).map(|i| pool.spawn(move || i * i)).collect();
        let sum: u64 = handles.iter().map(|h| h.wait().unwrap()).sum();
        assert_eq!(sum, (0..2000u64).map(|i| i * i).sum::<u64>(), "workers={n}");
        let stats = pool.stats();
        assert_eq!(stats.spawned, 2000);
        assert_eq!(stats.completed, 2000);
        assert_eq!(stats.failed, 0);
    }
}

#[test]
fn waiting_twice_and_on_clones_gives_the_same_result() {
    let pool = pool(2);
    let h = pool.spawn(|| String::from("once"));
    let h2 = h.clone();
    assert_eq!(h.wait().unwrap(), "once");
    assert_eq!(h.wait().unwrap(), "once");
    assert_eq!(h2.wait().unwrap(), "once");
    assert!(h.is_done());
    assert_eq!(h.id(), h2.id());
    assert_eq!(h.try_result(), Some(Ok(String::from("once"))));
}

#[test]
fn task_ids_are_unique() {
    let pool = pool(2);
    let mut ids: Vec<u64> = (0..100).map(|_| pool.spawn(|| ()).id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 100);
}

#[test]
fn nested_spawn_and_wait_completes_with_one_worker() {
    fn chain(pool: &Arc<ThreadPool>, depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        let p = Arc::clone(pool);
        let child = pool.spawn(move || chain(&p, depth - 1));
        child.wait().unwrap() + 1
    }
    let pool = Arc::new(pool(1));
    let p = Arc::clone(&pool);
    let h = pool.spawn(move || chain(&p, 60));
    assert_eq!(h.wait().unwrap(), 60);
}

fn fib(pool: &ThreadPool, n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    let (a, b) = pool.join(|| fib(pool, n - 1), || fib(pool, n - 2));
    a + b
}

#[test]
fn recursive_join_computes_fib() {
    for n in SIZES {
        let pool = pool(n);
        assert_eq!(fib(&pool, 18), 2584, "workers={n}");
    }
}

#[test]
fn deep_nested_join_completes_with_one_worker() {
    fn nest(pool: &ThreadPool, depth: usize) -> usize {
        if depth == 0 {
            return 0;
        }
        let (a, b) = pool.join(|| nest(pool, depth - 1), || 1);
        a + b
    }
    let pool = pool(1);
    assert_eq!(pool.install(|| nest(&pool, 200)), 200);
    // A full binary tree of depth 20 too.
    fn tree(pool: &ThreadPool, depth: u32) -> u64 {
        if depth == 0 {
            return 1;
        }
        let (a, b) = pool.join(|| tree(pool, depth - 1), || tree(pool, depth - 1));
        a + b
    }
    assert_eq!(tree(&pool, 20), 1 << 20);
}

#[test]
fn join_borrows_from_the_caller() {
    let pool = pool(2);
    let mut left = vec![1, 2, 3];
    let mut right = vec![4, 5, 6];
    pool.join(
        || left.iter_mut().for_each(|x| *x *= 2),
        || right.iter_mut().for_each(|x| *x += 1),
    );
    assert_eq!(left, [2, 4, 6]);
    assert_eq!(right, [5, 6, 7]);
}

#[test]
fn join_reraises_a_panic_after_both_sides_finish() {
    let pool = pool(2);
    let b_ran = AtomicBool::new(false);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.join(
            || panic!("left side"),
            || {
                thread::sleep(Duration::from_millis(20));
                b_ran.store(true, Ordering::SeqCst);
            },
        )
    }));
    assert!(result.is_err());
    assert!(b_ran.load(Ordering::SeqCst));
    // The pool still works.
    assert_eq!(pool.join(|| 1, || 2), (1, 2));
}

#[test]
fn join_context_reports_a_stolen_half_as_migrated() {
    let pool = pool(2);
    let b_started = AtomicBool::new(false);
    let (a_ctx, b_ctx) = pool.install(|| {
        pool.join_context(
            |ctx| {
                // Only a thief can run `b` while `a` is still running.
                while !b_started.load(Ordering::SeqCst) {
                    thread::yield_now();
                }
                ctx.migrated()
            },
            |ctx| {
                b_started.store(true, Ordering::SeqCst);
                ctx.migrated()
            },
        )
    });
    assert!(!a_ctx);
    assert!(b_ctx);
    // With one worker nothing can be stolen.
    let one = self::pool(1);
    let (a, b) = one.install(|| one.join_context(|c| c.migrated(), |c| c.migrated()));
    assert!(!a && !b);
}

#[test]
fn install_runs_on_the_pool_and_returns() {
    let pool = pool(2);
    assert_eq!(current_worker_index(), None);
    let index = pool.install(current_worker_index);
    assert!(index.is_some_and(|i| i < 2));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.install(|| panic!("inside"))
    }));
    assert!(r.is_err());
    assert_eq!(pool.install(|| 5), 5);
}

#[test]
fn install_from_another_pools_worker_works() {
    let a = Arc::new(pool(1));
    let b = Arc::new(pool(1));
    let b2 = Arc::clone(&b);
    let h = a.spawn(move || b2.install(current_worker_index));
    assert_eq!(h.wait().unwrap(), Some(0));
}

#[test]
fn current_worker_index_is_within_range_in_tasks() {
    for n in SIZES {
        let pool = pool(n);
        let handles: Vec<_> = (0..50).map(|_| pool.spawn(current_worker_index)).collect();
        for h in handles {
            let i = h.wait().unwrap().expect("on a worker");
            assert!(i < n);
        }
    }
}

#[test]
fn a_panic_becomes_the_tasks_error_and_the_worker_lives_on() {
    let pool = pool(1);
    let h = pool.spawn(|| -> u32 { panic!("boom {}", 7) });
    assert_eq!(h.wait(), Err(WaitError::Panicked("boom 7".to_string())));
    let h2 = pool.spawn(|| -> u32 { std::panic::panic_any(42u8) });
    assert!(matches!(h2.wait(), Err(WaitError::Panicked(_))));
    assert_eq!(pool.spawn(|| 3).wait(), Ok(3));
    let stats = pool.stats();
    assert_eq!(stats.failed, 2);
    assert_eq!(stats.completed, 1);
}

#[test]
fn cancelling_a_queued_task_means_it_never_starts() {
    for n in SIZES {
        let pool = pool(n);
        let gate = Gate::new();
        // Occupy every worker.
        let blockers: Vec<_> = (0..n)
            .map(|_| {
                let g = gate.clone();
                pool.spawn(move || g.wait_raw())
            })
            .collect();
        let ran = Arc::new(AtomicBool::new(false));
        let r = Arc::clone(&ran);
        let victim = pool.spawn(move || r.store(true, Ordering::SeqCst));
        assert!(victim.cancel());
        assert!(victim.is_done());
        assert_eq!(victim.wait(), Err(WaitError::Cancelled));
        assert!(!victim.cancel(), "a finished task reports false");
        gate.open();
        for b in blockers {
            b.wait().unwrap();
        }
        // Let the pool pop the cancelled job.
        pool.spawn(|| ()).wait().unwrap();
        assert!(!ran.load(Ordering::SeqCst), "workers={n}");
        assert_eq!(pool.stats().cancelled, 1);
    }
}

#[test]
fn a_running_task_sees_its_token_cancelled() {
    let pool = pool(2);
    let started = Arc::new(AtomicBool::new(false));
    let s = Arc::clone(&started);
    let h = pool.spawn(move || {
        let token = current_cancel_token().expect("tasks have a token");
        s.store(true, Ordering::SeqCst);
        let mut spins = 0u64;
        while !token.is_cancelled() {
            spins += 1;
            thread::yield_now();
        }
        assert!(is_cancelled());
        spins
    });
    while !started.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    assert!(h.cancel());
    assert!(h.wait().is_ok(), "the task decides what to return");
    assert!(h.cancel_token().is_cancelled());
    assert!(current_cancel_token().is_none());
    assert!(!is_cancelled());
}

#[test]
fn a_cancelled_sleep_returns_early() {
    let pool = pool(1);
    let h = pool.spawn(|| super::sleep(Duration::from_secs(600)));
    // Wait for it to be sleeping (it is blocked, so a spare serves).
    while pool.stats().blocked_now == 0 {
        thread::yield_now();
    }
    h.cancel();
    assert_eq!(h.wait(), Ok(Err(Cancelled)));
    // An uncancelled sleep completes.
    assert_eq!(
        pool.spawn(|| super::sleep(Duration::from_millis(1))).wait(),
        Ok(Ok(()))
    );
    assert_eq!(super::sleep(Duration::from_millis(1)), Ok(()));
}

#[test]
fn token_callbacks_run_once_and_unregister_on_drop() {
    let token = CancelToken::new();
    let hits = Arc::new(AtomicUsize::new(0));
    let h1 = Arc::clone(&hits);
    let kept = token.on_cancel(move || {
        h1.fetch_add(1, Ordering::SeqCst);
    });
    let h2 = Arc::clone(&hits);
    let dropped = token.on_cancel(move || {
        h2.fetch_add(100, Ordering::SeqCst);
    });
    drop(dropped);
    assert_eq!(token.check(), Ok(()));
    assert!(token.cancel());
    assert!(!token.cancel());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    drop(kept);
    // Registering after cancellation runs at once.
    let h3 = Arc::clone(&hits);
    token
        .on_cancel(move || {
            h3.fetch_add(10, Ordering::SeqCst);
        })
        .keep();
    assert_eq!(hits.load(Ordering::SeqCst), 11);
    assert_eq!(token.check(), Err(Cancelled));
    assert_eq!(token.sleep(Duration::from_secs(600)), Err(Cancelled));
}

#[test]
fn token_sleep_is_woken_from_another_thread() {
    let token = CancelToken::new();
    let t = token.clone();
    let sleeper = thread::spawn(move || t.sleep(Duration::from_secs(600)));
    thread::sleep(Duration::from_millis(10));
    token.cancel();
    assert_eq!(sleeper.join().unwrap(), Err(Cancelled));
    assert_eq!(CancelToken::new().sleep(Duration::from_millis(1)), Ok(()));
}

#[test]
fn a_wait_inside_a_cancelled_task_is_interrupted() {
    for n in [1, 2] {
        let pool = pool(n);
        let gate = Gate::new();
        let g = gate.clone();
        // `inner` blocks (compensated) until the gate opens.
        let inner = pool.spawn(move || g.wait());
        while pool.stats().blocked_now == 0 {
            thread::yield_now();
        }
        let i2 = inner.clone();
        let (tx, rx) = mpsc::channel();
        let outer = pool.spawn(move || {
            tx.send(()).unwrap();
            i2.wait()
        });
        rx.recv().unwrap();
        thread::sleep(Duration::from_millis(20));
        outer.cancel();
        assert_eq!(outer.wait(), Ok(Err(WaitError::Interrupted)), "workers={n}");
        assert!(!inner.is_done());
        gate.open();
        inner.wait().unwrap();
    }
}

#[test]
fn wait_timeout_times_out_then_succeeds() {
    let pool = pool(2);
    let gate = Gate::new();
    let g = gate.clone();
    let h = pool.spawn(move || {
        g.wait();
        9
    });
    assert_eq!(
        h.wait_timeout(Duration::from_millis(20)),
        Err(WaitTimeoutError::Timeout)
    );
    // From inside the pool too.
    let h2 = h.clone();
    let inner = pool.spawn(move || h2.wait_timeout(Duration::from_millis(20)));
    assert_eq!(inner.wait().unwrap(), Err(WaitTimeoutError::Timeout));
    gate.open();
    assert_eq!(h.wait_timeout(Duration::from_secs(60)), Ok(9));
}

#[test]
fn wait_any_returns_the_first_to_finish() {
    for n in [1, 2] {
        let pool = Arc::new(pool(n));
        let gate = Gate::new();
        let g = gate.clone();
        let slow = pool.spawn(move || {
            g.wait();
            0
        });
        let fast = pool.spawn(|| 1);
        let handles = vec![slow.clone(), fast];
        assert_eq!(wait_any(&handles), Ok(1));
        assert_eq!(handles[1].wait(), Ok(1));
        // Inside the pool (help-first), with a timeout that expires.
        let only_slow = vec![slow.clone()];
        let r = pool.spawn(move || wait_any_timeout(&only_slow, Duration::from_millis(20)));
        if n > 1 {
            assert_eq!(r.wait().unwrap(), Err(WaitAnyTimeoutError::Timeout));
        }
        gate.open();
        assert_eq!(wait_any(&[slow]), Ok(0));
        r.wait().unwrap().ok();
    }
    let empty: Vec<TaskHandle<()>> = Vec::new();
    assert_eq!(wait_any(&empty), Err(WaitAnyError::Empty));
    assert_eq!(
        wait_any_timeout(&empty, Duration::from_millis(1)),
        Err(WaitAnyTimeoutError::Empty)
    );
}

#[test]
fn on_done_callbacks_run_when_the_task_finishes() {
    let pool = pool(1);
    let gate = Gate::new();
    let g = gate.clone();
    let h = pool.spawn(move || g.wait());
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    h.on_done(move || tx.send("done").unwrap()).keep();
    let dropped = h.on_done(move || tx2.send("dropped").unwrap());
    drop(dropped);
    assert!(rx.try_recv().is_err());
    gate.open();
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)), Ok("done"));
    h.wait().unwrap();
    // Registering on a finished task runs at once.
    let (tx, rx) = mpsc::channel();
    h.on_done(move || tx.send(1).unwrap()).keep();
    assert_eq!(rx.try_recv(), Ok(1));
    assert!(rx.try_recv().is_err());
}

#[test]
fn blocking_off_the_pool_just_runs() {
    assert_eq!(blocking(|| 4), 4);
    assert_eq!(blocking(|| blocking(|| 5)), 5);
}

/// Every worker blocks on a channel that only queued work can fill.
fn all_workers_block(pool: &ThreadPool, n: usize) {
    let (tx, rx) = crossbeam_channel::unbounded::<usize>();
    let receivers: Vec<_> = (0..n)
        .map(|_| {
            let rx = rx.clone();
            pool.spawn(move || blocking(|| rx.recv().unwrap()))
        })
        .collect();
    let senders: Vec<_> = (0..n)
        .map(|i| {
            let tx = tx.clone();
            pool.spawn(move || tx.send(i).unwrap())
        })
        .collect();
    let mut got: Vec<usize> = receivers.iter().map(|h| h.wait().unwrap()).collect();
    for s in senders {
        s.wait().unwrap();
    }
    got.sort_unstable();
    assert_eq!(got, (0..n).collect::<Vec<_>>());
}

#[test]
fn blocked_workers_are_replaced_by_spares() {
    for n in SIZES {
        for stealing in [true, false] {
            let pool = pool_with(n, stealing);
            all_workers_block(&pool, n);
            let started = pool.stats().spares;
            assert!(started >= 1, "workers={n} stealing={stealing}");
            assert!(started as usize <= n);
            all_workers_block(&pool, n);
            assert!(pool.stats().spares as usize <= 2 * n);
            assert_eq!(pool.stats().blocked_now, 0);
        }
    }
}

#[test]
fn spares_are_reused() {
    for n in SIZES {
        let pool = pool(n);
        // One thread blocked at a time: one spare, resumed each time (it
        // retires in between, or is still serving).
        for _ in 0..20 {
            pool.spawn(|| blocking(|| thread::sleep(Duration::from_millis(1))))
                .wait()
                .unwrap();
        }
        assert_eq!(pool.stats().spares, 1, "workers={n}");
    }
}

#[test]
fn blocking_with_queued_local_work_finishes_with_one_worker() {
    // The blocked task itself queued the work that unblocks it (on its own
    // deque): the spare must steal it.
    let pool = Arc::new(pool(1));
    let p = Arc::clone(&pool);
    let h = pool.spawn(move || {
        let (tx, rx) = mpsc::channel();
        let sender = p.spawn(move || tx.send(11).unwrap());
        let v = blocking(|| rx.recv().unwrap());
        sender.wait().unwrap();
        v
    });
    assert_eq!(h.wait(), Ok(11));
}

#[test]
fn spares_are_capped() {
    let config = ThreadPoolConfig::default()
        .with_worker_count(WorkerCount::Fixed(2))
        .with_max_spare_workers(1);
    let pool = ThreadPool::new(config).unwrap();
    let gate = Gate::new();
    let blocked: Vec<_> = (0..2)
        .map(|_| {
            let g = gate.clone();
            pool.spawn(move || blocking(|| g.wait()))
        })
        .collect();
    while pool.stats().blocked_now < 2 {
        thread::yield_now();
    }
    // One spare serves: work still runs.
    assert_eq!(pool.spawn(|| 1).wait(), Ok(1));
    assert_eq!(pool.stats().spares, 1);
    gate.open();
    for b in blocked {
        b.wait().unwrap();
    }
}

#[test]
fn dropping_the_pool_cancels_queued_work_and_joins() {
    for n in SIZES {
        let pool = pool(n);
        let gate = Gate::new();
        let running: Vec<_> = (0..n)
            .map(|_| {
                let g = gate.clone();
                pool.spawn(move || g.wait())
            })
            .collect();
        let ran = Arc::new(AtomicUsize::new(0));
        let queued: Vec<_> = (0..500)
            .map(|_| {
                let r = Arc::clone(&ran);
                pool.spawn(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        let opener = {
            let gate = gate.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(20));
                gate.open();
            })
        };
        drop(pool);
        opener.join().unwrap();
        for h in &running {
            assert!(h.is_done());
        }
        let mut cancelled = 0;
        for h in &queued {
            assert!(h.is_done(), "workers={n}");
            match h.wait() {
                Ok(()) => {}
                Err(WaitError::Cancelled) => cancelled += 1,
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert_eq!(cancelled + ran.load(Ordering::SeqCst), 500);
    }
}

#[test]
fn dropping_an_idle_pool_returns() {
    for n in SIZES {
        drop(pool(n));
    }
}

#[test]
fn stealing_off_deals_outside_work_round_robin() {
    let pool = pool_with(2, false);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..40)
        .map(|_| {
            let s = Arc::clone(&seen);
            pool.spawn(move || s.lock().unwrap().push(current_worker_index()))
        })
        .collect();
    for h in handles {
        h.wait().unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.iter().filter(|i| **i == Some(0)).count(), 20);
    assert_eq!(seen.iter().filter(|i| **i == Some(1)).count(), 20);
    assert_eq!(pool.stats().stolen(), 0);
}

#[test]
fn parallel_for_covers_every_index_once() {
    for n in SIZES {
        for stealing in [true, false] {
            let pool = pool_with(n, stealing);
            let hits: Vec<AtomicUsize> = (0..10_000).map(|_| AtomicUsize::new(0)).collect();
            pool.parallel_for(0..10_000, 7, |r| {
                for i in r {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                }
            });
            assert!(
                hits.iter().all(|h| h.load(Ordering::Relaxed) == 1),
                "workers={n} stealing={stealing}"
            );
            pool.parallel_for(5..5, 1, |_| panic!("empty range calls nothing"));
        }
    }
}

#[test]
fn stats_count_executed_jobs_and_parks() {
    let pool = pool(2);
    for _ in 0..3 {
        pool.spawn(|| ()).wait().unwrap();
        thread::sleep(Duration::from_millis(5));
    }
    let stats = pool.stats();
    assert_eq!(stats.workers.len(), 2);
    assert!(stats.workers.iter().map(|w| w.executed).sum::<u64>() >= 3);
    assert!(stats.parks() >= 1, "idle workers park");
}

#[test]
fn the_event_hook_sees_task_start_and_end() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let e = Arc::clone(&events);
    let hook: EventHook = Arc::new(move |ev: &Event| e.lock().unwrap().push(*ev));
    let config = ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(2));
    let pool = ThreadPool::with_event_hook(config, hook).unwrap();
    let handles: Vec<_> = (0..10).map(|_| pool.spawn(|| ())).collect();
    let ids: Vec<u64> = handles.iter().map(|h| h.id()).collect();
    for h in handles {
        h.wait().unwrap();
    }
    drop(pool);
    let events = events.lock().unwrap();
    for id in ids {
        let starts = events
            .iter()
            .filter(|e| e.kind == EventKind::TaskStart { task: Some(id) })
            .count();
        let ends = events
            .iter()
            .filter(|e| e.kind == EventKind::TaskEnd { task: Some(id) })
            .count();
        assert_eq!((starts, ends), (1, 1));
    }
    assert!(events.iter().all(|e| e.worker < 2));
}

#[test]
fn bad_configs_are_errors_not_panics() {
    let cases = [
        (
            ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(0)),
            "worker_count",
        ),
        (
            ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(1025)),
            "worker_count",
        ),
        (
            ThreadPoolConfig::default().with_stack_size(1024),
            "stack_size",
        ),
        (
            ThreadPoolConfig::default().with_spin_before_park_us(10_001),
            "spin_before_park_us",
        ),
        (
            ThreadPoolConfig::default().with_cache_line_size(48),
            "cache_line_size",
        ),
    ];
    for (config, key) in cases {
        match ThreadPool::new(config) {
            Err(PoolError::InvalidConfig { key: k, .. }) => assert_eq!(k, key),
            other => panic!("expected an error for {key}, got {other:?}"),
        }
    }
}

#[test]
fn numa_aware_pools_report_pinning_per_worker() {
    for n in SIZES {
        let config = ThreadPoolConfig::default()
            .with_worker_count(WorkerCount::Fixed(n))
            .with_numa_aware(true);
        let pool = ThreadPool::new(config).unwrap();
        let pins = pool.pinning();
        assert_eq!(pins.len(), n);
        let usable = pool.topology().usable_cpus().len();
        let pinned = pins
            .iter()
            .filter(|p| matches!(p, PinOutcome::Pinned { .. }))
            .count();
        assert!(pinned <= usable.min(n));
        if n > usable {
            assert!(pins[usable..]
                .iter()
                .all(|p| matches!(p, PinOutcome::Unpinned { .. })));
        }
        assert_eq!(pool.install(|| 1 + 1), 2);
    }
    let plain = pool(2);
    assert!(plain
        .pinning()
        .iter()
        .all(|p| *p == PinOutcome::NotRequested));
}

/// CPU time (user + system, clock ticks) of the given threads of this
/// process (None without /proc).
fn thread_cpu_ticks(tids: &[String]) -> Option<u64> {
    let mut total = 0;
    for tid in tids {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
        // Fields after the `(comm)`: state is field 3; utime 14, stime 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        total += fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// The OS thread ids of the pool's `n` workers: `n` tasks meet at a barrier,
/// so each runs on a different worker.
fn worker_tids(pool: &ThreadPool, n: usize) -> Option<Vec<String>> {
    let barrier = Arc::new(std::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let b = Arc::clone(&barrier);
            pool.spawn(move || {
                b.wait();
                let link = std::fs::read_link("/proc/thread-self").ok()?;
                Some(link.file_name()?.to_string_lossy().into_owned())
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.wait().ok().flatten())
        .collect()
}

#[test]
fn an_idle_pool_does_not_spin() {
    for n in SIZES {
        let pool = pool(n);
        let Some(tids) = worker_tids(&pool, n) else {
            return; // no /proc: nothing to measure
        };
        let handles: Vec<_> = (0..100).map(|i| pool.spawn(move || i)).collect();
        for h in handles {
            h.wait().unwrap();
        }
        thread::sleep(Duration::from_millis(50));
        let Some(before) = thread_cpu_ticks(&tids) else {
            return;
        };
        thread::sleep(Duration::from_millis(500));
        let after = thread_cpu_ticks(&tids).unwrap_or(before);
        // A spinning worker would burn ~50 ticks (at 100 Hz) here.
        assert!(
            after - before <= 10,
            "workers={n}: {} ticks while idle",
            after - before
        );
    }
}

mod topology_tests {
    use std::fs;
    use std::path::PathBuf;

    use super::super::topology::{parse_cpu_list, Placement, Topology, TopologyError};

    /// A synthetic sysfs/procfs tree in a fresh temp dir, removed on drop.
    struct Tree(PathBuf);

    impl Tree {
        fn new(name: &str) -> Tree {
            let dir = std::env::temp_dir().join(format!(
                "weft-topology-{name}-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("sys/devices/system/cpu")).unwrap();
            Tree(dir)
        }
        fn online(self, list: &str) -> Self {
            fs::write(
                self.0.join("sys/devices/system/cpu/online"),
                format!("{list}\n"),
            )
            .unwrap();
            self
        }
        fn node(self, id: usize, list: &str) -> Self {
            let dir = self.0.join(format!("sys/devices/system/node/node{id}"));
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("cpulist"), format!("{list}\n")).unwrap();
            self
        }
        fn allowed(self, list: &str) -> Self {
            fs::create_dir_all(self.0.join("proc/self")).unwrap();
            fs::write(
                self.0.join("proc/self/status"),
                format!("Name:\tweft\nCpus_allowed:\tff\nCpus_allowed_list:\t{list}\nMems_allowed_list:\t0\n"),
            )
            .unwrap();
            self
        }
        fn read(&self) -> Topology {
            Topology::from_root(&self.0).expect("valid tree")
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn cpus(p: &[Placement]) -> Vec<Option<usize>> {
        p.iter().map(|p| p.cpu).collect()
    }

    fn nodes(p: &[Placement]) -> Vec<usize> {
        p.iter().map(|p| p.node).collect()
    }

    #[test]
    fn cpu_lists_parse() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Ok(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("5"), Ok(vec![5]));
        assert_eq!(parse_cpu_list(" "), Ok(vec![]));
        assert_eq!(parse_cpu_list("3,1,1-2"), Ok(vec![1, 2, 3]));
        assert!(parse_cpu_list("3-1").is_err());
        assert!(parse_cpu_list("a-b").is_err());
        assert!(parse_cpu_list("1,,2").is_err());
        assert!(parse_cpu_list("0-99999999").is_err());
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "writes a sysfs tree to disk; Miri isolates the file system"
    )]
    fn one_node_two_cpus() {
        let tree = Tree::new("1x2").online("0-1").node(0, "0-1").allowed("0-1");
        let t = tree.read();
        assert_eq!(t.online, vec![0, 1]);
        assert_eq!(t.nodes.len(), 1);
        assert_eq!(t.usable_cpus(), vec![0, 1]);
        let p = t.place(2);
        assert_eq!(cpus(&p), vec![Some(0), Some(1)]);
        // More workers than CPUs: the rest run unpinned.
        let p = t.place(4);
        assert_eq!(cpus(&p), vec![Some(0), Some(1), None, None]);
        assert_eq!(nodes(&p), vec![0, 0, 0, 0]);
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "writes a sysfs tree to disk; Miri isolates the file system"
    )]
    fn two_nodes_eight_cpus_each_spread_round_robin() {
        let tree = Tree::new("2x8")
            .online("0-15")
            .node(0, "0-7")
            .node(1, "8-15")
            .allowed("0-15");
        let t = tree.read();
        assert_eq!(t.nodes.len(), 2);
        assert_eq!(t.nodes[1].cpus, (8..16).collect::<Vec<_>>());
        let p = t.place(4);
        assert_eq!(nodes(&p), vec![0, 1, 0, 1]);
        assert_eq!(cpus(&p), vec![Some(0), Some(8), Some(1), Some(9)]);
        let p = t.place(16);
        let mut all: Vec<usize> = p.iter().filter_map(|p| p.cpu).collect();
        all.sort_unstable();
        assert_eq!(all, (0..16).collect::<Vec<_>>(), "each CPU used once");
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "writes a sysfs tree to disk; Miri isolates the file system"
    )]
    fn four_nodes_with_holes() {
        // Node 2 has no CPUs; CPU 5 is offline; node ids are not contiguous.
        let tree = Tree::new("4holes")
            .online("0-4,6-7")
            .node(0, "0-1")
            .node(1, "2-3")
            .node(2, "")
            .node(5, "4-7")
            .allowed("0-7");
        let t = tree.read();
        assert_eq!(
            t.nodes.iter().map(|n| n.id).collect::<Vec<_>>(),
            vec![0, 1, 2, 5]
        );
        assert_eq!(t.usable_cpus(), vec![0, 1, 2, 3, 4, 6, 7]);
        let p = t.place(7);
        // Three nodes with usable CPUs, round-robin; node 2 gets nobody.
        assert_eq!(nodes(&p), vec![0, 1, 5, 0, 1, 5, 5]);
        assert_eq!(
            cpus(&p),
            vec![
                Some(0),
                Some(2),
                Some(4),
                Some(1),
                Some(3),
                Some(6),
                Some(7)
            ]
        );
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "writes a sysfs tree to disk; Miri isolates the file system"
    )]
    fn the_affinity_mask_excludes_cpus() {
        let tree = Tree::new("mask")
            .online("0-7")
            .node(0, "0-3")
            .node(1, "4-7")
            .allowed("2-3,6");
        let t = tree.read();
        assert_eq!(t.allowed, vec![2, 3, 6]);
        assert_eq!(t.usable_cpus(), vec![2, 3, 6]);
        let p = t.place(4);
        assert_eq!(cpus(&p), vec![Some(2), Some(6), Some(3), None]);
        assert!(p
            .iter()
            .filter_map(|p| p.cpu)
            .all(|c| [2, 3, 6].contains(&c)));
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "writes a sysfs tree to disk; Miri isolates the file system"
    )]
    fn no_node_directory_means_one_node() {
        let tree = Tree::new("nonuma").online("0-3");
        let t = tree.read();
        assert_eq!(t.nodes.len(), 1);
        assert_eq!(t.nodes[0].cpus, vec![0, 1, 2, 3]);
        assert_eq!(t.allowed, vec![0, 1, 2, 3], "no status file: all allowed");
    }

    #[test]
    #[cfg_attr(
        miri,
        ignore = "writes a sysfs tree to disk; Miri isolates the file system"
    )]
    fn broken_trees_are_errors() {
        let missing = Tree::new("missing");
        assert!(matches!(
            Topology::from_root(&missing.0),
            Err(TopologyError::Read { .. })
        ));
        let bad = Tree::new("bad").online("0-x");
        let err = Topology::from_root(&bad.0).unwrap_err();
        assert!(matches!(err, TopologyError::Parse { .. }));
        assert!(err.to_string().contains("online"));
        let bad_mask = Tree::new("badmask").online("0-1").allowed("zz");
        assert!(matches!(
            Topology::from_root(&bad_mask.0),
            Err(TopologyError::Parse { .. })
        ));
    }

    #[test]
    fn this_machine_reads() {
        let t = Topology::detect();
        assert!(!t.usable_cpus().is_empty());
        assert!(!t.nodes.is_empty());
    }
}

#[test]
fn handles_tokens_and_pools_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<TaskHandle<u32>>();
    assert_send_sync::<TaskHandle<std::cell::Cell<u8>>>();
    assert_send_sync::<CancelToken>();
    assert_send_sync::<ThreadPool>();
    assert_send_sync::<PoolStats>();
}

#[test]
fn a_panicking_event_hook_does_not_kill_workers() {
    let hook: EventHook = Arc::new(|_: &Event| panic!("hook fails"));
    let config = ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(1));
    let pool = ThreadPool::with_event_hook(config, hook).unwrap();
    for i in 0..20 {
        assert_eq!(pool.spawn(move || i).wait(), Ok(i));
    }
    assert_eq!(pool.join(|| 1, || 2), (1, 2));
}

#[test]
fn the_shutdown_token_wakes_jobs_blocked_at_drop() {
    for n in [1, 2] {
        let pool = pool(n);
        let token = pool.shutdown_token();
        assert!(!token.is_cancelled());
        let (tx, rx) = mpsc::channel();
        let t = token.clone();
        let h = pool.spawn(move || {
            tx.send(()).unwrap();
            // Blocked on something only the pool's shutdown ends.
            blocking(|| t.sleep_until_cancelled())
        });
        rx.recv().unwrap();
        drop(pool);
        assert!(token.is_cancelled());
        assert_eq!(h.wait(), Ok(Err(Cancelled)));
    }
}

#[test]
fn a_stolen_join_half_runs_under_the_creating_tasks_token() {
    let pool = Arc::new(pool(2));
    let p = Arc::clone(&pool);
    let h = pool.spawn(move || {
        let b_started = AtomicBool::new(false);
        let ((), b) = p.join_context(
            |_| {
                while !b_started.load(Ordering::SeqCst) {
                    thread::yield_now();
                }
            },
            |ctx| {
                b_started.store(true, Ordering::SeqCst);
                (ctx.migrated(), current_cancel_token().map(|t| t.id()))
            },
        );
        b
    });
    let (migrated, token_id) = h.wait().unwrap();
    assert!(migrated);
    assert_eq!(token_id, Some(h.id()));
    // The thief's own state is restored afterwards.
    for _ in 0..10 {
        assert_eq!(pool.install(current_cancel_token).map(|t| t.id()), None);
    }
}

#[test]
fn a_task_may_return_an_error_value_as_its_result() {
    let pool = pool(1);
    let h = pool.spawn(|| TaskError::Cancelled);
    assert_eq!(h.wait(), Ok(TaskError::Cancelled));
    let r: Result<u8, String> = Err("mine".to_string());
    assert_eq!(pool.spawn(move || r).wait(), Ok(Err("mine".to_string())));
}

#[test]
fn a_wait_inside_blocking_blocks_and_a_spare_runs_the_awaited_task() {
    let pool = Arc::new(pool(1));
    let p = Arc::clone(&pool);
    let h = pool.spawn(move || {
        let me = current_worker_index();
        let child = p.spawn(current_worker_index);
        // No helping: this thread blocks, a spare runs `child`.
        let ran_on = blocking(|| child.wait()).unwrap();
        (me, ran_on)
    });
    let (me, ran_on) = h.wait().unwrap();
    assert_eq!(me, Some(0));
    assert!(ran_on.is_some_and(|i| i >= 1), "ran on a spare: {ran_on:?}");
    assert!(pool.stats().spares >= 1);
}

#[test]
fn a_waiter_runs_a_queued_task_itself_and_the_job_then_skips_it() {
    let pool = pool(1);
    // Keep the only worker busy so the next task stays queued.
    let (release, gate) = mpsc::channel::<()>();
    let busy = pool.spawn(move || gate.recv().is_ok());
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let queued = pool.spawn(move || {
        counted.fetch_add(1, Ordering::SeqCst);
        current_cancel_token().is_some()
    });
    assert!(queued.run_if_queued(), "a queued task is claimed");
    assert!(!queued.run_if_queued(), "a task runs at most once");
    // It ran here, with its own cancel token current.
    assert_eq!(queued.wait(), Ok(true));
    release.send(()).unwrap();
    assert_eq!(busy.wait(), Ok(true));
    // The worker has popped the claimed job by now and left it alone.
    let after = pool.spawn(|| 0);
    assert_eq!(after.wait(), Ok(0));
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn a_claimed_task_that_panics_or_was_cancelled_reports_it() {
    let pool = pool(1);
    let (release, gate) = mpsc::channel::<()>();
    let busy = pool.spawn(move || gate.recv().is_ok());
    let panics = pool.spawn(|| -> i32 { panic!("boom") });
    assert!(panics.run_if_queued());
    assert_eq!(panics.wait(), Err(WaitError::Panicked("boom".into())));
    let cancelled = pool.spawn(|| 1);
    assert!(cancelled.cancel());
    assert!(
        !cancelled.run_if_queued(),
        "a cancelled task is finished already"
    );
    assert_eq!(cancelled.wait(), Err(WaitError::Cancelled));
    release.send(()).unwrap();
    assert_eq!(busy.wait(), Ok(true));
}
