//! Weft's pool against rayon, same workloads, same run. One line per row:
//! `NAME weft_ns=X rayon_ns=Y ratio=Z` (ratio = weft / rayon, lower is
//! better), then idle CPU and wake latency lines.
//!
//! `cargo run --release --example pool_vs_rayon`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use weft::pool::{ThreadPool, ThreadPoolConfig, WorkerCount};

fn weft_pool(workers: usize, stealing: bool) -> ThreadPool {
    let config = ThreadPoolConfig::default()
        .with_worker_count(WorkerCount::Fixed(workers))
        .with_work_stealing(stealing);
    ThreadPool::new(config).expect("pool")
}

fn rayon_pool(workers: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(workers)
        .thread_name(|i| format!("rayon-w{i}"))
        .build()
        .expect("rayon pool")
}

/// Median wall time of `runs` runs (after one warm-up), in ns.
fn time(runs: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut samples: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64
        })
        .collect();
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn row(name: &str, weft_ns: f64, rayon_ns: f64) {
    println!(
        "{name} weft_ns={weft_ns:.0} rayon_ns={rayon_ns:.0} ratio={:.2}",
        weft_ns / rayon_ns
    );
}

const SPAWNS: usize = 1_000_000;
const LOOP_N: usize = 1_000_000;
const TRI_N: usize = 20_000;

fn weft_fib(pool: &ThreadPool, n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    let (a, b) = pool.join(|| weft_fib(pool, n - 1), || weft_fib(pool, n - 2));
    a + b
}

fn rayon_fib(n: u32) -> u64 {
    if n < 2 {
        return n as u64;
    }
    let (a, b) = rayon::join(|| rayon_fib(n - 1), || rayon_fib(n - 2));
    a + b
}

/// A cheap item.
#[inline]
fn cheap(i: usize) -> u64 {
    (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

/// An item costing about `units` steps.
#[inline]
fn work(i: usize, units: usize) -> u64 {
    let mut x = i as u64 | 1;
    for _ in 0..units {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    }
    x
}

/// Item `i` of the triangular loop costs `i` units; of the even loop, `n/2`.
fn units(i: usize, triangular: bool) -> usize {
    if triangular {
        i
    } else {
        TRI_N / 2
    }
}

fn weft_spawn(pool: &ThreadPool) {
    pool.install(|| {
        let mut handles = Vec::with_capacity(SPAWNS);
        handles.extend((0..SPAWNS).map(|_| pool.spawn(|| ())));
        for h in handles {
            h.wait().expect("task");
        }
    });
}

fn rayon_spawn(pool: &rayon::ThreadPool) {
    pool.scope(|s| {
        for _ in 0..SPAWNS {
            s.spawn(|_| ());
        }
    });
}

fn weft_loop(pool: &ThreadPool, n: usize, triangular: Option<bool>) -> u64 {
    let total = AtomicU64::new(0);
    pool.parallel_for(0..n, 1, |r| {
        let mut s = 0u64;
        for i in r {
            s = s.wrapping_add(match triangular {
                None => cheap(i),
                Some(t) => work(i, units(i, t)),
            });
        }
        total.fetch_add(s, Ordering::Relaxed);
    });
    total.into_inner()
}

fn rayon_loop(pool: &rayon::ThreadPool, n: usize, triangular: Option<bool>) -> u64 {
    use rayon::prelude::*;
    pool.install(|| {
        (0..n)
            .into_par_iter()
            .map(|i| match triangular {
                None => cheap(i),
                Some(t) => work(i, units(i, t)),
            })
            .reduce(|| 0, u64::wrapping_add)
    })
}

/// CPU seconds used by this process's threads whose name starts with
/// `prefix`, from /proc (None where /proc is missing).
fn thread_cpu_seconds(prefix: &str) -> Option<f64> {
    let mut ticks = 0u64;
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let name = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if !name.trim_end().starts_with(prefix) {
            continue;
        }
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        ticks += f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    }
    Some(ticks as f64 / 100.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    // An optional argument keeps only the rows whose name contains it.
    let only = std::env::args().nth(1).unwrap_or_default();
    let want = |name: &str| name.contains(only.as_str());
    let weft2 = weft_pool(2, true);
    let rayon2 = rayon_pool(2);

    if want("spawn_wait_1m") {
        row(
            "spawn_wait_1m",
            time(5, || weft_spawn(&weft2)),
            time(5, || rayon_spawn(&rayon2)),
        );
    }
    if !want("join_fib25") {
        return;
    }
    row(
        "join_fib25",
        time(9, || {
            black_box(weft2.install(|| weft_fib(&weft2, 25)));
        }),
        time(9, || {
            black_box(rayon2.install(|| rayon_fib(25)));
        }),
    );
    let weft_loop2 = time(15, || {
        black_box(weft_loop(&weft2, LOOP_N, None));
    });
    let rayon_loop2 = time(15, || {
        black_box(rayon_loop(&rayon2, LOOP_N, None));
    });
    row("loop_1m", weft_loop2, rayon_loop2);

    let weft_even = time(7, || {
        black_box(weft_loop(&weft2, TRI_N, Some(false)));
    });
    let weft_tri = time(7, || {
        black_box(weft_loop(&weft2, TRI_N, Some(true)));
    });
    let rayon_even = time(7, || {
        black_box(rayon_loop(&rayon2, TRI_N, Some(false)));
    });
    let rayon_tri = time(7, || {
        black_box(rayon_loop(&rayon2, TRI_N, Some(true)));
    });
    row("even_loop_steal", weft_even, rayon_even);
    row("triangular_loop_steal", weft_tri, rayon_tri);
    println!("triangular_vs_even_steal weft={:.3} rayon={:.3}", weft_tri / weft_even, rayon_tri / rayon_even);
    {
        let nosteal = weft_pool(2, false);
        let even = time(7, || {
            black_box(weft_loop(&nosteal, TRI_N, Some(false)));
        });
        let tri = time(7, || {
            black_box(weft_loop(&nosteal, TRI_N, Some(true)));
        });
        row("triangular_loop_nosteal", tri, rayon_tri);
        println!("triangular_vs_even_nosteal weft={:.3}", tri / even);
    }
    {
        let weft16 = weft_pool(16, true);
        let rayon16 = rayon_pool(16);
        let w = time(15, || {
            black_box(weft_loop(&weft16, LOOP_N, None));
        });
        let r = time(15, || {
            black_box(rayon_loop(&rayon16, LOOP_N, None));
        });
        row("loop_1m_16w", w, r);
        println!("loop_1m_16w_vs_2w weft={:.3} rayon={:.3}", w / weft_loop2, r / rayon_loop2);
        let wf = time(9, || {
            black_box(weft16.install(|| weft_fib(&weft16, 25)));
        });
        let rf = time(9, || {
            black_box(rayon16.install(|| rayon_fib(25)));
        });
        row("join_fib25_16w", wf, rf);
        let wf2 = time(9, || {
            black_box(weft2.install(|| weft_fib(&weft2, 25)));
        });
        let rf2 = time(9, || {
            black_box(rayon2.install(|| rayon_fib(25)));
        });
        println!("join_fib25_16w_vs_2w weft={:.3} rayon={:.3}", wf / wf2, rf / rf2);
    }

    // Idle CPU over 1 s, after some work, once the threads have parked.
    std::thread::sleep(Duration::from_millis(100));
    let (w0, r0) = (thread_cpu_seconds("weft-worker"), thread_cpu_seconds("rayon-w"));
    std::thread::sleep(Duration::from_secs(1));
    let (w1, r1) = (thread_cpu_seconds("weft-worker"), thread_cpu_seconds("rayon-w"));
    match (w0, w1, r0, r1) {
        (Some(w0), Some(w1), Some(r0), Some(r1)) => {
            println!("idle_cpu_1s weft_cpu_s={:.2} rayon_cpu_s={:.2}", w1 - w0, r1 - r0)
        }
        _ => println!("idle_cpu_1s unavailable (no /proc)"),
    }

    // Start latency of a job injected into a parked pool (median of 200).
    let mut weft_lat = Vec::new();
    let mut rayon_lat = Vec::new();
    for _ in 0..200 {
        std::thread::sleep(Duration::from_millis(3));
        let t = Instant::now();
        let h = weft2.spawn(move || t.elapsed().as_nanos() as f64);
        weft_lat.push(h.wait().expect("task"));
        std::thread::sleep(Duration::from_millis(3));
        let (tx, rx) = mpsc::channel();
        let t = Instant::now();
        rayon2.spawn(move || tx.send(t.elapsed().as_nanos() as f64).expect("send"));
        rayon_lat.push(rx.recv().expect("recv"));
    }
    row("wake_latency_median", median(weft_lat), median(rayon_lat));
}
