//! Weft's pool against rayon, each row in the same run (criterion, short).
//! `cargo bench --bench pool`. For a one-line-per-row summary use
//! `cargo run --release --example pool_vs_rayon`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rayon::prelude::*;
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
        .build()
        .expect("rayon pool")
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

#[inline]
fn cheap(i: usize) -> u64 {
    (i as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .rotate_left(17)
}

#[inline]
fn work(i: usize, triangular: bool) -> u64 {
    let units = if triangular { i } else { TRI_N / 2 };
    let mut x = i as u64 | 1;
    for _ in 0..units {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
    }
    x
}

fn weft_loop(pool: &ThreadPool, n: usize, f: impl Fn(usize) -> u64 + Sync) -> u64 {
    let total = AtomicU64::new(0);
    pool.parallel_for(0..n, 1, |r| {
        let s = r.map(&f).fold(0u64, u64::wrapping_add);
        total.fetch_add(s, Ordering::Relaxed);
    });
    total.into_inner()
}

fn rayon_loop(pool: &rayon::ThreadPool, n: usize, f: impl Fn(usize) -> u64 + Sync + Send) -> u64 {
    pool.install(|| {
        (0..n)
            .into_par_iter()
            .map(f)
            .reduce(|| 0, u64::wrapping_add)
    })
}

fn benches(c: &mut Criterion) {
    let weft2 = weft_pool(2, true);
    let weft2_nosteal = weft_pool(2, false);
    let weft16 = weft_pool(16, true);
    let rayon2 = rayon_pool(2);
    let rayon16 = rayon_pool(16);

    let mut g = c.benchmark_group("spawn_wait_1m");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    g.bench_function("weft", |b| {
        b.iter(|| {
            weft2.install(|| {
                let hs: Vec<_> = (0..SPAWNS).map(|_| weft2.spawn(|| ())).collect();
                for h in hs {
                    h.wait().expect("task");
                }
            })
        })
    });
    g.bench_function("rayon", |b| {
        b.iter(|| {
            rayon2.scope(|s| {
                for _ in 0..SPAWNS {
                    s.spawn(|_| ());
                }
            })
        })
    });
    g.finish();

    for (name, w, r) in [
        ("join_fib25", &weft2, &rayon2),
        ("join_fib25_16w", &weft16, &rayon16),
    ] {
        let mut g = c.benchmark_group(name);
        g.sample_size(10).measurement_time(Duration::from_secs(2));
        g.bench_function("weft", |b| {
            b.iter(|| black_box(w.install(|| weft_fib(w, 25))))
        });
        g.bench_function("rayon", |b| {
            b.iter(|| black_box(r.install(|| rayon_fib(25))))
        });
        g.finish();
    }

    for (name, w, r) in [
        ("loop_1m", &weft2, &rayon2),
        ("loop_1m_16w", &weft16, &rayon16),
    ] {
        let mut g = c.benchmark_group(name);
        g.sample_size(20).measurement_time(Duration::from_secs(2));
        g.bench_function("weft", |b| {
            b.iter(|| black_box(weft_loop(w, LOOP_N, cheap)))
        });
        g.bench_function("rayon", |b| {
            b.iter(|| black_box(rayon_loop(r, LOOP_N, cheap)))
        });
        g.finish();
    }

    let mut g = c.benchmark_group("uneven_loop");
    g.sample_size(10).measurement_time(Duration::from_secs(3));
    g.bench_function("weft_even_steal", |b| {
        b.iter(|| black_box(weft_loop(&weft2, TRI_N, |i| work(i, false))))
    });
    g.bench_function("weft_triangular_steal", |b| {
        b.iter(|| black_box(weft_loop(&weft2, TRI_N, |i| work(i, true))))
    });
    g.bench_function("weft_triangular_nosteal", |b| {
        b.iter(|| black_box(weft_loop(&weft2_nosteal, TRI_N, |i| work(i, true))))
    });
    g.bench_function("rayon_even", |b| {
        b.iter(|| black_box(rayon_loop(&rayon2, TRI_N, |i| work(i, false))))
    });
    g.bench_function("rayon_triangular", |b| {
        b.iter(|| black_box(rayon_loop(&rayon2, TRI_N, |i| work(i, true))))
    });
    g.finish();
}

criterion_group! {
    name = pool;
    config = Criterion::default().warm_up_time(Duration::from_millis(300));
    targets = benches
}
criterion_main!(pool);
