//! Stress tests of the thread pool through its public API, with 1, 2 and
//! 16 workers. They assert outcomes, never timings.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use weft::pool::{
    blocking, current_cancel_token, wait_any, ThreadPool, ThreadPoolConfig, WaitError, WorkerCount,
};

const SIZES: [usize; 3] = [1, 2, 16];

fn pool(workers: usize, stealing: bool) -> Arc<ThreadPool> {
    let config = ThreadPoolConfig::default()
        .with_worker_count(WorkerCount::Fixed(workers))
        .with_work_stealing(stealing);
    Arc::new(ThreadPool::new(config).expect("pool"))
}

#[test]
fn many_spawns_from_many_threads() {
    for n in SIZES {
        for stealing in [true, false] {
            let pool = pool(n, stealing);
            let producers: Vec<_> = (0..4)
                .map(|t| {
                    let pool = Arc::clone(&pool);
                    thread::spawn(move || {
                        let handles: Vec<_> =
                            (0..5_000u64).map(|i| pool.spawn(move || i + t)).collect();
                        handles.into_iter().map(|h| h.wait().unwrap()).sum::<u64>()
                    })
                })
                .collect();
            let total: u64 = producers.into_iter().map(|p| p.join().unwrap()).sum();
            let expected: u64 = (0..4u64)
                .map(|t| (0..5_000u64).map(|i| i + t).sum::<u64>())
                .sum();
            assert_eq!(total, expected, "workers={n} stealing={stealing}");
            let stats = pool.stats();
            assert_eq!(stats.spawned, 20_000);
            assert_eq!(stats.completed, 20_000);
        }
    }
}

fn tree_spawn(pool: &Arc<ThreadPool>, depth: u32) -> u64 {
    if depth == 0 {
        return 1;
    }
    let p = Arc::clone(pool);
    let left = pool.spawn(move || tree_spawn(&p, depth - 1));
    let right = tree_spawn(pool, depth - 1);
    left.wait().unwrap() + right
}

#[test]
fn spawn_trees_inside_tasks() {
    for n in SIZES {
        let pool = pool(n, true);
        let p = Arc::clone(&pool);
        assert_eq!(pool.spawn(move || tree_spawn(&p, 12)).wait(), Ok(1 << 12));
    }
}

#[test]
fn joins_inside_tasks_with_mixed_panics_and_cancels() {
    for n in SIZES {
        let pool = pool(n, true);
        let handles: Vec<_> = (0..300u64)
            .map(|i| {
                let p = Arc::clone(&pool);
                pool.spawn(move || {
                    if i % 7 == 0 {
                        panic!("task {i} fails");
                    }
                    let (a, b) = p.join(
                        || i * 2,
                        || {
                            current_cancel_token()
                                .map(|t| t.is_cancelled())
                                .unwrap_or(false)
                        },
                    );
                    a + b as u64
                })
            })
            .collect();
        let cancelled: Vec<bool> = handles
            .iter()
            .enumerate()
            .map(|(i, h)| i % 5 == 0 && h.cancel())
            .collect();
        let (mut ok, mut failed, mut never_ran) = (0u64, 0u64, 0u64);
        for (i, h) in handles.iter().enumerate() {
            match h.wait() {
                Ok(v) => {
                    ok += 1;
                    assert!(v == i as u64 * 2 || v == i as u64 * 2 + 1)
                }
                Err(WaitError::Panicked(m)) => {
                    failed += 1;
                    assert_eq!(m, format!("task {i} fails"))
                }
                Err(WaitError::Cancelled) => {
                    never_ran += 1;
                    assert!(cancelled[i])
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        // Let cancelled jobs still queued be popped, then the books balance.
        pool.install(|| ());
        for _ in 0..100 {
            let s = pool.stats();
            if s.completed + s.failed + s.cancelled == s.spawned {
                break;
            }
            thread::sleep(Duration::from_millis(10));
        }
        let s = pool.stats();
        assert_eq!(s.spawned, 300);
        assert_eq!(
            (s.completed, s.failed, s.cancelled),
            (ok, failed, never_ran),
            "workers={n}"
        );
    }
}

#[test]
fn create_and_drop_pools_with_queued_work() {
    for round in 0..30 {
        let n = SIZES[round % 3];
        let pool = pool(n, round % 2 == 0);
        let ran = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..200)
            .map(|_| {
                let r = Arc::clone(&ran);
                pool.spawn(move || {
                    r.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        drop(pool);
        let done = handles.iter().filter(|h| h.wait().is_ok()).count();
        assert_eq!(done, ran.load(Ordering::SeqCst));
        assert!(handles.iter().all(|h| h.is_done()));
    }
}

#[test]
fn blocking_chains_finish_with_one_worker() {
    // Task k waits (blocking) for a value from task k+1, which is queued
    // after it: a chain of 32 blocked tasks, one worker.
    for n in SIZES {
        let pool = pool(n, true);
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..33)
            .map(|_| crossbeam_channel::bounded::<u64>(1))
            .unzip();
        let handles: Vec<_> = (0..32)
            .map(|k| {
                let rx = rxs[k + 1].clone();
                let tx = txs[k].clone();
                pool.spawn(move || {
                    let v = blocking(|| rx.recv().unwrap());
                    tx.send(v + 1).unwrap();
                })
            })
            .collect();
        let last = txs[32].clone();
        pool.spawn(move || last.send(0).unwrap()).wait().unwrap();
        for h in handles {
            h.wait().unwrap();
        }
        assert_eq!(rxs[0].recv().unwrap(), 32, "workers={n}");
    }
}

#[test]
fn wait_any_over_many_tasks() {
    for n in SIZES {
        let pool = pool(n, true);
        let handles: Vec<_> = (0..50u64)
            .map(|i| {
                pool.spawn(move || {
                    let _ = weft::pool::sleep(Duration::from_millis(50 - i));
                    i
                })
            })
            .collect();
        let first = wait_any(&handles).unwrap();
        assert!(handles[first].is_done());
        for h in &handles {
            h.wait().unwrap();
        }
    }
}

#[test]
fn racing_cancels_never_let_a_cancelled_task_run() {
    for n in SIZES {
        let pool = pool(n, true);
        let ran: Arc<Vec<AtomicUsize>> = Arc::new((0..3000).map(|_| AtomicUsize::new(0)).collect());
        let handles: Vec<_> = (0..3000)
            .map(|i| {
                let ran = Arc::clone(&ran);
                pool.spawn(move || {
                    ran[i].fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        // Cancel every other task from another thread while they run.
        let to_cancel: Vec<_> = handles.iter().step_by(2).cloned().collect();
        let canceller = thread::spawn(move || to_cancel.iter().filter(|h| h.cancel()).count());
        let cancelled_calls = canceller.join().unwrap();
        let mut never_ran = 0;
        for (i, h) in handles.iter().enumerate() {
            match h.wait() {
                Ok(()) => assert_eq!(ran[i].load(Ordering::SeqCst), 1, "task {i} ran once"),
                Err(WaitError::Cancelled) => {
                    never_ran += 1;
                    assert_eq!(i % 2, 0, "only cancelled tasks report Cancelled");
                    assert_eq!(
                        ran[i].load(Ordering::SeqCst),
                        0,
                        "task {i} must never start"
                    );
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        assert!(never_ran <= cancelled_calls, "workers={n}");
    }
}

#[test]
fn blocking_churn_respects_the_spare_cap() {
    for n in SIZES {
        let config = ThreadPoolConfig::default()
            .with_worker_count(WorkerCount::Fixed(n))
            .with_max_spare_workers(4);
        let pool = ThreadPool::new(config).expect("pool");
        let handles: Vec<_> = (0..200u64)
            .map(|i| {
                pool.spawn(move || {
                    blocking(|| thread::sleep(Duration::from_micros(200)));
                    i
                })
            })
            .collect();
        let sum: u64 = handles.iter().map(|h| h.wait().unwrap()).sum();
        assert_eq!(sum, (0..200).sum::<u64>());
        let stats = pool.stats();
        assert!(
            stats.spares >= 1 && stats.spares <= 4,
            "workers={n}: {}",
            stats.spares
        );
        assert_eq!(stats.blocked_now, 0);
    }
}

#[test]
fn very_deep_nested_joins_and_waits_with_one_worker() {
    fn nest(pool: &ThreadPool, depth: usize) -> usize {
        if depth == 0 {
            return 0;
        }
        let (a, b) = pool.join(|| nest(pool, depth - 1), || 1);
        a + b
    }
    fn chain(pool: &Arc<ThreadPool>, depth: u32) -> u32 {
        if depth == 0 {
            return 0;
        }
        let p = Arc::clone(pool);
        pool.spawn(move || chain(&p, depth - 1)).wait().unwrap() + 1
    }
    let pool = pool(1, true);
    assert_eq!(pool.install(|| nest(&pool, 2_000)), 2_000);
    let p = Arc::clone(&pool);
    assert_eq!(pool.spawn(move || chain(&p, 500)).wait(), Ok(500));
}
