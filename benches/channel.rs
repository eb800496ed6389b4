//! Channel benchmarks: `weft::channel` against raw crossbeam-channel in the
//! same run, batches against per-item loops, and the wake latency of a
//! parked receiver.
//!
//! Run: `cargo bench --bench channel` (results: benches/results/channel.md).

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use weft::channel::Channel;

/// Items per measured iteration in the throughput groups.
const ITEMS: usize = 25_600;
/// Batch size of the batch group.
const BATCH: usize = 256;

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).expect("n > 0")
}

/// Single-item send/recv: one thread doing both (the uncontended cost of an
/// operation), then 1 sender x 1 receiver and 4 x 4 threads.
fn single_item(c: &mut Criterion) {
    let mut g = c.benchmark_group("single_item");
    g.throughput(Throughput::Elements(ITEMS as u64));

    g.bench_function("same_thread/weft", |b| {
        let ch = Channel::unbounded();
        b.iter(|| {
            for i in 0..ITEMS {
                ch.send(i, None).unwrap();
                black_box(ch.recv(None).unwrap());
            }
        })
    });
    g.bench_function("same_thread/crossbeam", |b| {
        let (tx, rx) = crossbeam_channel::unbounded();
        b.iter(|| {
            for i in 0..ITEMS {
                tx.send(i).unwrap();
                black_box(rx.recv().unwrap());
            }
        })
    });

    for (name, cap) in [("unbounded", None), ("bounded_256", Some(256))] {
        for (senders, receivers) in [(1, 1), (4, 4)] {
            let id = format!("{senders}x{receivers}_{name}");
            g.bench_function(BenchmarkId::new(id.clone(), "weft"), |b| {
                b.iter(|| weft_mpmc(cap, senders, receivers))
            });
            g.bench_function(BenchmarkId::new(id, "crossbeam"), |b| {
                b.iter(|| crossbeam_mpmc(cap, senders, receivers))
            });
        }
    }
    g.finish();
}

fn weft_mpmc(cap: Option<usize>, senders: usize, receivers: usize) {
    let ch = Channel::new(cap).unwrap();
    thread::scope(|s| {
        let producers: Vec<_> = (0..senders)
            .map(|_| {
                s.spawn(|| {
                    for i in 0..ITEMS / senders {
                        ch.send(i, None).unwrap();
                    }
                })
            })
            .collect();
        for _ in 0..receivers {
            s.spawn(|| {
                for v in ch.iter() {
                    black_box(v);
                }
            });
        }
        for p in producers {
            p.join().unwrap();
        }
        ch.close();
    });
}

fn crossbeam_mpmc(cap: Option<usize>, senders: usize, receivers: usize) {
    let (tx, rx) = match cap {
        Some(n) => crossbeam_channel::bounded(n),
        None => crossbeam_channel::unbounded(),
    };
    thread::scope(|s| {
        for _ in 0..senders {
            let tx = tx.clone();
            s.spawn(move || {
                for i in 0..ITEMS / senders {
                    tx.send(i).unwrap();
                }
            });
        }
        // Receivers end when the last sender is gone (crossbeam's close).
        drop(tx);
        for _ in 0..receivers {
            let rx = rx.clone();
            s.spawn(move || {
                for v in rx.iter() {
                    black_box(v);
                }
            });
        }
    });
}

/// `send_batch(256)` / `recv_batch(256)` against a loop of `send` / `recv`,
/// one sender thread and one receiver thread (crossbeam's loop for scale).
fn batches(c: &mut Criterion) {
    let mut g = c.benchmark_group("batch_256");
    g.throughput(Throughput::Elements(ITEMS as u64));
    for (name, cap) in [("unbounded", None), ("bounded_1024", Some(1024))] {
        g.bench_function(BenchmarkId::new(name, "weft_batch"), |b| {
            b.iter(|| {
                let ch = Channel::new(cap).unwrap();
                thread::scope(|s| {
                    s.spawn(|| {
                        for k in 0..ITEMS / BATCH {
                            let batch: Vec<usize> = (k * BATCH..(k + 1) * BATCH).collect();
                            ch.send_batch(batch, None).unwrap();
                        }
                        ch.close();
                    });
                    s.spawn(|| {
                        while let Ok(batch) = ch.recv_batch(nz(BATCH), None) {
                            black_box(batch);
                        }
                    });
                });
            })
        });
        g.bench_function(BenchmarkId::new(name, "weft_loop"), |b| {
            b.iter(|| {
                let ch = Channel::new(cap).unwrap();
                thread::scope(|s| {
                    s.spawn(|| {
                        for k in 0..ITEMS / BATCH {
                            let batch: Vec<usize> = (k * BATCH..(k + 1) * BATCH).collect();
                            for v in batch {
                                ch.send(v, None).unwrap();
                            }
                        }
                        ch.close();
                    });
                    s.spawn(|| {
                        // Receive 256 one by one, into a Vec, like recv_batch.
                        let mut open = true;
                        while open {
                            let mut batch = Vec::with_capacity(BATCH);
                            while batch.len() < BATCH {
                                match ch.recv(None) {
                                    Ok(v) => batch.push(v),
                                    Err(_) => {
                                        open = false;
                                        break;
                                    }
                                }
                            }
                            black_box(batch);
                        }
                    });
                });
            })
        });
        g.bench_function(BenchmarkId::new(name, "crossbeam_loop"), |b| {
            b.iter(|| {
                let (tx, rx) = match cap {
                    Some(n) => crossbeam_channel::bounded(n),
                    None => crossbeam_channel::unbounded(),
                };
                thread::scope(|s| {
                    s.spawn(move || {
                        for k in 0..ITEMS / BATCH {
                            let batch: Vec<usize> = (k * BATCH..(k + 1) * BATCH).collect();
                            for v in batch {
                                tx.send(v).unwrap();
                            }
                        }
                    });
                    s.spawn(move || {
                        let mut open = true;
                        while open {
                            let mut batch = Vec::with_capacity(BATCH);
                            while batch.len() < BATCH {
                                match rx.recv() {
                                    Ok(v) => batch.push(v),
                                    Err(_) => {
                                        open = false;
                                        break;
                                    }
                                }
                            }
                            black_box(batch);
                        }
                    });
                });
            })
        });
    }
    g.finish();
}

/// Rounds of the wake-latency measurement.
const ROUNDS: usize = 2000;

/// Median, 10th and 90th percentile of `samples`, in microseconds.
fn percentiles(mut samples: Vec<Duration>) -> (f64, f64, f64) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    (at(0.5), at(0.1), at(0.9))
}

/// Wake latency of a parked receiver: the time from just before `send` to
/// the receiver holding the value, with the receiver parked (registered and
/// given 200 µs to fall asleep) before every send.
fn wake_latency_weft() -> Vec<Duration> {
    let ch = Channel::<Instant>::unbounded();
    let rx = ch.clone();
    let receiver = thread::spawn(move || {
        let mut out = Vec::with_capacity(ROUNDS);
        while let Ok(sent) = rx.recv(None) {
            out.push(sent.elapsed());
        }
        out
    });
    for _ in 0..ROUNDS {
        while ch.waiting_receivers() == 0 {
            thread::yield_now();
        }
        thread::sleep(Duration::from_micros(200));
        ch.send(Instant::now(), None).unwrap();
    }
    while ch.waiting_receivers() == 0 {
        thread::yield_now();
    }
    ch.close();
    receiver.join().unwrap()
}

/// The same with raw crossbeam-channel (no registration count to wait for:
/// the 200 µs pause alone lets the receiver park).
fn wake_latency_crossbeam() -> Vec<Duration> {
    let (tx, rx) = crossbeam_channel::unbounded::<Instant>();
    let receiver = thread::spawn(move || {
        let mut out = Vec::with_capacity(ROUNDS);
        while let Ok(sent) = rx.recv() {
            out.push(sent.elapsed());
        }
        out
    });
    for _ in 0..ROUNDS {
        thread::sleep(Duration::from_micros(250));
        tx.send(Instant::now()).unwrap();
    }
    drop(tx);
    receiver.join().unwrap()
}

fn wake_latency() {
    println!("\nwake latency of a parked receiver, {ROUNDS} rounds (µs):");
    println!("| channel | median | p10 | p90 |");
    println!("|---|---|---|---|");
    for (name, samples) in [
        ("weft", wake_latency_weft()),
        ("crossbeam", wake_latency_crossbeam()),
    ] {
        let (median, p10, p90) = percentiles(samples);
        println!("| {name} | {median:.1} | {p10:.1} | {p90:.1} |");
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    single_item(&mut c);
    batches(&mut c);
    c.final_summary();
    // Skipped when a filter selects only some criterion benchmarks.
    if std::env::args().skip(1).all(|a| a.starts_with('-')) {
        wake_latency();
    }
}
