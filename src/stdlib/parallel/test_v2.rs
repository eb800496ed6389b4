//! Unit tests of the fixed reduction tree, of reproducible reductions, of
//! the options, and of streams over channels, on pools of 1, 2 and 16
//! workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::input::Input;
use super::options::{ErrorMode, InputKind, Options};
use super::reduce::Reduction;
use super::stats::CallStats;
use super::stream::{self, StreamOp};
use super::tree::{self, TreeStack};
use super::work::Work;
use crate::channel::RecvError;
use crate::error::{ErrorKind, Result};
use crate::interp::Script;
use crate::map::Map;
use crate::pool::{ThreadPool, ThreadPoolConfig, WorkerCount};
use crate::stdlib::channel::ChannelObj;
use crate::value::{Key, NativeFn, Value};
use crate::vm::Vm;

const WORKER_COUNTS: [usize; 3] = [1, 2, 16];

/// A pool that lives for the rest of the test process (streams need one).
fn static_pool(workers: usize) -> &'static ThreadPool {
    Box::leak(Box::new(
        ThreadPool::new(ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(workers)))
            .expect("pool starts"),
    ))
}

fn pools() -> &'static [&'static ThreadPool; 3] {
    static POOLS: std::sync::OnceLock<[&'static ThreadPool; 3]> = std::sync::OnceLock::new();
    POOLS.get_or_init(|| WORKER_COUNTS.map(static_pool))
}

fn script_value(src: &str, name: &str) -> Value {
    let mut script = Script::compile("<test>", src).unwrap_or_else(|e| panic!("{}", e.render()));
    script.run().expect("script runs");
    script.get(name).expect("name defined")
}

fn float(v: &Value) -> f64 {
    match v {
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        other => panic!("not a number: {other:?}"),
    }
}

/// `a + b` on floats, natively (fast enough for 100 runs of 100k items).
fn fadd(_: &mut Vm, a: &[Value]) -> Result<Value> {
    Ok(Value::Float(float(&a[0]) + float(&a[1])))
}
static FADD: NativeFn = NativeFn {
    name: "fadd",
    f: fadd,
};

fn reduce_on(
    pool: &ThreadPool,
    input: &Value,
    f: &Value,
    combine: Option<&Value>,
    identity: &Value,
    options: &Options,
) -> Result<Value> {
    let input = Input::new("test", input)?;
    let mut vm = Vm::new();
    let work = Work::new(&mut vm, f, options, None);
    let stats = CallStats::default();
    Reduction::new(&input, &work, identity, combine, options.chunk_size, &stats)
        .run(&mut vm, || Ok(pool))
}

/// Floats of very different magnitudes: any change of association changes
/// the bits of their sum.
fn awkward_floats(n: usize) -> Vec<f64> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mantissa = (x >> 11) as f64 / (1u64 << 53) as f64;
            let exp = ((x >> 3) % 40) as i32 - 20;
            (mantissa - 0.5) * 2f64.powi(exp)
        })
        .collect()
}

/// The sum in the documented tree order, computed here from `tree` alone.
fn tree_sum(xs: &[f64], block: usize) -> f64 {
    let leaves = tree::leaf_count(xs.len(), block);
    tree::fold_tree(
        0,
        leaves,
        &mut |l| Some(tree::leaf_range(l, xs.len(), block).fold(0.0, |acc, i| acc + xs[i])),
        &mut |a, b, _| Some(a + b),
    )
    .expect("no failure")
}

#[test]
fn split_takes_the_largest_power_of_two_below_the_length() {
    assert_eq!(tree::split(0, 2), 1);
    assert_eq!(tree::split(0, 3), 2);
    assert_eq!(tree::split(0, 4), 2);
    assert_eq!(tree::split(0, 5), 4);
    assert_eq!(tree::split(0, 8), 4);
    assert_eq!(tree::split(0, 9), 8);
    assert_eq!(tree::split(10, 17), 14);
    // The order of 7 leaves: ((0 1) (2 3)) ((4 5) 6).
    let shape = tree::fold_tree(0, 7, &mut |l| Some(l.to_string()), &mut |a, b, _| {
        Some(format!("({a} {b})"))
    });
    assert_eq!(shape.as_deref(), Some("(((0 1) (2 3)) ((4 5) 6))"));
}

#[test]
fn leaf_sizes_depend_only_on_the_length() {
    assert_eq!(tree::leaf_size(0, None), tree::LEAF_GRAIN);
    assert_eq!(tree::leaf_size(10, None), 8);
    assert_eq!(tree::leaf_size(100_000, None), 392);
    assert_eq!(tree::leaf_size(10_000_000, None), tree::MAX_LEAF);
    assert_eq!(tree::leaf_size(10_000_000, Some(3)), 3);
    for n in [1usize, 7, 8, 9, 1000, 123_457, 10_000_000] {
        let b = tree::leaf_size(n, None);
        assert_eq!(b % tree::LEAF_GRAIN, 0, "{n}");
        let leaves = tree::leaf_count(n, b);
        let covered: usize = (0..leaves).map(|l| tree::leaf_range(l, n, b).len()).sum();
        assert_eq!(covered, n, "{n}: leaves cover every item once");
    }
}

#[test]
fn the_stack_builds_the_same_tree_as_the_recursion() {
    for leaves in 1..70 {
        let want = tree::fold_tree(0, leaves, &mut |l| Some(l.to_string()), &mut |a, b, at| {
            Some(format!("({a} {b}@{at})"))
        });
        let mut stack = TreeStack::new();
        let mut combine = |a: String, b: String, at: usize| Some(format!("({a} {b}@{at})"));
        for l in 0..leaves {
            stack.push(l.to_string(), &mut combine).unwrap();
        }
        assert_eq!(stack.leaves(), leaves);
        assert_eq!(stack.finish(&mut combine), want, "{leaves} leaves");
    }
}

#[test]
fn a_float_sum_has_the_same_bits_on_every_pool_and_every_run() {
    let n = 100_003;
    let xs = awkward_floats(n);
    let list = Value::list(xs.iter().map(|&x| Value::Float(x)).collect());
    let f = Value::Native(&FADD);
    let zero = Value::Float(0.0);
    let want = tree_sum(&xs, tree::leaf_size(n, None));
    // The data is sensitive to association: a plain left fold differs.
    let left: f64 = xs.iter().sum();
    assert_ne!(left.to_bits(), want.to_bits(), "pick less friendly data");
    for pool in pools() {
        for run in 0..100 {
            let got = reduce_on(pool, &list, &f, None, &zero, &Options::default()).unwrap();
            assert_eq!(
                float(&got).to_bits(),
                want.to_bits(),
                "{} workers, run {run}",
                pool.worker_count()
            );
        }
        // parallel_fold with the same step and combine: the same tree.
        let got = reduce_on(pool, &list, &f, Some(&f), &zero, &Options::default()).unwrap();
        assert_eq!(float(&got).to_bits(), want.to_bits());
    }
    // chunk_size fixes the leaves instead.
    let opts = Options {
        chunk_size: Some(1000),
        ..Options::default()
    };
    let want_1000 = tree_sum(&xs, 1000);
    for pool in pools() {
        let got = reduce_on(pool, &list, &f, None, &zero, &opts).unwrap();
        assert_eq!(float(&got).to_bits(), want_1000.to_bits());
    }
}

#[test]
fn a_weft_float_sum_is_reproducible_with_uneven_items() {
    // Weft code with uneven per-item cost (stealing happens), small input.
    let f = script_value(
        "fn f(a, b) { if b > 0.4 { let i = 0\n while i < 200 { i += 1 } }\n a + b }",
        "f",
    );
    let xs = awkward_floats(5_000);
    let list = Value::list(xs.iter().map(|&x| Value::Float(x)).collect());
    let want = tree_sum(&xs, tree::leaf_size(xs.len(), None));
    for pool in pools() {
        for _ in 0..10 {
            let got = reduce_on(
                pool,
                &list,
                &f,
                None,
                &Value::Float(0.0),
                &Options::default(),
            )
            .unwrap();
            assert_eq!(float(&got).to_bits(), want.to_bits());
        }
    }
}

#[test]
fn fold_counts_where_reduce_with_a_fold_function_cannot() {
    // The misuse: a counting step passed to parallel_reduce.
    let step = script_value(
        "fn s(acc, x) { if x % 3 == 0 { acc + 1 } else { acc } }",
        "s",
    );
    let add = script_value("fn a(x, y) { x + y }", "a");
    let range = Value::Range(Arc::new(crate::value::RangeVal {
        start: 0,
        stop: 30_000,
        step: 1,
    }));
    for pool in pools() {
        let got = reduce_on(
            pool,
            &range,
            &step,
            Some(&add),
            &Value::Int(0),
            &Options::default(),
        );
        assert_eq!(got.unwrap(), Value::Int(10_000));
        // reduce combines partial counts with the step: wrong, but now the
        // same wrong answer every time.
        let a = reduce_on(
            pool,
            &range,
            &step,
            None,
            &Value::Int(0),
            &Options::default(),
        )
        .unwrap();
        let b = reduce_on(
            pool,
            &range,
            &step,
            None,
            &Value::Int(0),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(a, b);
        assert_ne!(a, Value::Int(10_000));
    }
}

#[test]
fn reduce_collects_failures_and_leaves_them_out() {
    let f = script_value(
        "fn f(a, b) { if b % 1000 == 7 { throw \"bad \" + str(b) }; a + b }",
        "f",
    );
    let xs = Value::list((0..20_000).map(Value::Int).collect());
    let opts = Options {
        errors: ErrorMode::Collect,
        ..Options::default()
    };
    let want: i64 = (0..20_000).filter(|x| x % 1000 != 7).sum();
    for pool in pools() {
        let work_opts = opts.clone();
        let input = Input::new("t", &xs).unwrap();
        let mut vm = Vm::new();
        let work = Work::new(&mut vm, &f, &work_opts, None);
        let stats = CallStats::default();
        let got = Reduction::new(&input, &work, &Value::Int(0), None, None, &stats)
            .run(&mut vm, || Ok(*pool))
            .unwrap();
        assert_eq!(got, Value::Int(want));
        let errors = work.take_collected();
        let idx: Vec<usize> = errors.iter().map(|c| c.index).collect();
        assert_eq!(idx, (0..20).map(|k| k * 1000 + 7).collect::<Vec<_>>());
        assert_eq!(errors[3].item, Value::Int(3007));
        assert_eq!(errors[3].error.message(), "bad 3007");
        // Thrown: the first in input order.
        let err = reduce_on(pool, &xs, &f, None, &Value::Int(0), &Options::default()).unwrap_err();
        assert_eq!(err.message(), "bad 7");
    }
}

#[test]
fn options_are_checked_and_named() {
    let parse = |src: &str, kind| {
        let opts = script_value(&format!("let o = {src}"), "o");
        Options::parse("parallel_map", Some(&opts), kind)
    };
    let o = parse(
        "{\"chunk_size\": 3, \"progress\": false, \"errors\": \"collect\", \"retries\": 2}",
        InputKind::Indexed,
    )
    .unwrap();
    assert_eq!(o.chunk_size, Some(3));
    assert!(o.collect());
    assert_eq!(o.retries, 2);
    let o = parse("{\"ordered\": false, \"in_flight\": 5}", InputKind::Channel).unwrap();
    assert!(!o.ordered);
    assert_eq!(o.in_flight, Some(5));
    for (src, kind, msg) in [
        (
            "{\"ordered\": true}",
            InputKind::Indexed,
            "option ordered applies only to a channel",
        ),
        (
            "{\"in_flight\": 4}",
            InputKind::Indexed,
            "option in_flight applies only",
        ),
        (
            "{\"in_flight\": 0}",
            InputKind::Channel,
            "option in_flight must be at least 1",
        ),
        (
            "{\"retries\": -1}",
            InputKind::Indexed,
            "option retries must be at least 0",
        ),
        (
            "{\"errors\": \"ignore\"}",
            InputKind::Indexed,
            "option errors must be \"throw\" or \"collect\"",
        ),
        (
            "{\"retry\": 1}",
            InputKind::Indexed,
            "unknown option 'retry' (did you mean 'retries'?)",
        ),
    ] {
        let e = parse(src, kind).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueError, "{src}");
        assert!(e.message().contains(msg), "{src}: {}", e.message());
    }
    for (src, msg) in [
        ("{\"init\": 5}", "option init must be a function"),
        ("{\"ordered\": 1}", "option ordered must be a bool"),
        ("{\"errors\": 1}", "option errors must be a string"),
        ("{\"retries\": 1.5}", "option retries must be an int"),
    ] {
        let e = parse(src, InputKind::Channel).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TypeError, "{src}");
        assert!(e.message().contains(msg), "{src}: {}", e.message());
    }
}

// ---------------------------------------------------------------------------
// Streams

/// A channel of `n` ints sent by a thread (all at once when `cap` is
/// `None`, else bounded to `cap`), closed after the last.
fn feed(n: i64, cap: Option<usize>) -> Arc<ChannelObj> {
    let ch = Arc::new(ChannelObj::new(cap).unwrap());
    let tx = Arc::clone(&ch);
    thread::spawn(move || {
        for i in 0..n {
            tx.ch.send(Value::Int(i), None).unwrap();
        }
        tx.ch.close();
    });
    ch
}

/// Runs a stream call from a fresh VM.
fn start(
    pool: &'static ThreadPool,
    input: Arc<ChannelObj>,
    f: &Value,
    op: StreamOp,
    options: &Options,
) -> Result<Value> {
    let mut vm = Vm::new();
    stream::run_on(&mut vm, "test", input, f, op, options, pool)
}

fn out_channel(v: Value) -> Arc<ChannelObj> {
    match v {
        Value::Channel(c) => c,
        other => panic!("not a channel: {other:?}"),
    }
}

/// Everything on `out` until it closes; `Err` if it was closed with an
/// error (the values before it, and the error's message).
fn drain(out: &ChannelObj) -> (Vec<Value>, Option<String>) {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match out.ch.recv_timeout(deadline - Instant::now(), None) {
            Ok(v) => got.push(v),
            Err(crate::channel::RecvTimeoutError::Closed) => {
                let why = match out.ch.close_reason() {
                    Some(Value::Error(e)) => Some(e.message.clone()),
                    _ => None,
                };
                return (got, why);
            }
            Err(e) => panic!("the stream hung: {e:?} after {} values", got.len()),
        }
    }
}

fn opts_with(f: impl FnOnce(&mut Options)) -> Options {
    let mut o = Options::default();
    f(&mut o);
    o
}

#[test]
fn a_stream_map_keeps_input_order_on_every_pool() {
    let sq = script_value("fn f(x) { x * x }", "f");
    for &pool in pools() {
        for in_flight in [None, Some(1), Some(3), Some(64)] {
            let opts = opts_with(|o| o.in_flight = in_flight);
            let out =
                out_channel(start(pool, feed(2000, Some(16)), &sq, StreamOp::Map, &opts).unwrap());
            let (got, err) = drain(&out);
            assert_eq!(err, None);
            let want: Vec<Value> = (0..2000).map(|x| Value::Int(x * x)).collect();
            assert_eq!(
                got,
                want,
                "{} workers, in_flight {in_flight:?}",
                pool.worker_count()
            );
        }
    }
}

#[test]
fn an_unordered_stream_delivers_every_result_once() {
    let f = script_value(
        "fn f(x) { if x % 7 == 0 { let i = 0\n while i < 2000 { i += 1 } }\n x + 1 }",
        "f",
    );
    for &pool in pools() {
        let opts = opts_with(|o| {
            o.ordered = false;
            o.in_flight = Some(32);
        });
        let out = out_channel(start(pool, feed(3000, None), &f, StreamOp::Map, &opts).unwrap());
        let (got, err) = drain(&out);
        assert_eq!(err, None);
        let mut ints: Vec<i64> = got.iter().map(|v| float(v) as i64).collect();
        ints.sort_unstable();
        assert_eq!(ints, (1..=3000).collect::<Vec<_>>());
    }
}

#[test]
fn a_stream_never_holds_more_than_in_flight_items() {
    let f = script_value("fn f(x) { x }", "f");
    for &pool in pools() {
        for in_flight in [1usize, 5, 40] {
            let n = 3000;
            let input = feed(n, None);
            // Wait until the producer has queued everything: then items
            // taken = n - input.len().
            while input.ch.len() < n as usize && !input.ch.is_closed() {
                thread::yield_now();
            }
            thread::sleep(Duration::from_millis(5));
            let opts = opts_with(|o| o.in_flight = Some(in_flight));
            let out =
                out_channel(start(pool, Arc::clone(&input), &f, StreamOp::Map, &opts).unwrap());
            let mut received = 0usize;
            let mut worst = 0usize;
            loop {
                // A slow consumer: the stream must wait for it.
                if received % 500 == 0 {
                    thread::sleep(Duration::from_millis(3));
                }
                let taken = n as usize - input.ch.len();
                worst = worst.max(taken - received);
                assert!(
                    taken - received <= in_flight,
                    "{} workers, in_flight {in_flight}: {taken} taken, {received} received",
                    pool.worker_count()
                );
                match out.ch.recv(None) {
                    Ok(v) => {
                        assert_eq!(v, Value::Int(received as i64));
                        received += 1;
                    }
                    Err(RecvError::Closed) => break,
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert_eq!(received, n as usize);
            assert!(
                worst >= in_flight.min(2),
                "the bound was never reached: {worst}"
            );
        }
    }
}

#[test]
fn a_helping_consumer_keeps_the_bound_and_the_order() {
    // `for v in ch` (iter_next) runs chunks on the consumer's thread when
    // the output is empty: the bound must hold for its takes too, and its
    // emits must never block (it is the only receiver).
    let f = script_value("fn f(x) { x * 2 }", "f");
    for &pool in pools() {
        for in_flight in [1usize, 3, 8, 40] {
            let n = 3000usize;
            let input = feed(n as i64, None);
            while input.ch.len() < n && !input.ch.is_closed() {
                thread::yield_now();
            }
            let opts = opts_with(|o| o.in_flight = Some(in_flight));
            let out =
                out_channel(start(pool, Arc::clone(&input), &f, StreamOp::Map, &opts).unwrap());
            let (tx, rx) = std::sync::mpsc::channel();
            let consumer = thread::spawn(move || {
                let mut received = 0usize;
                let mut worst = 0usize;
                while let Some(v) = crate::stdlib::channel::iter_next(&out).unwrap() {
                    assert_eq!(v, Value::Int(2 * received as i64));
                    received += 1;
                    let taken = n - input.ch.len();
                    worst = worst.max(taken - received);
                    assert!(
                        taken - received <= in_flight,
                        "in_flight {in_flight}: {taken} taken, {received} received"
                    );
                }
                tx.send((received, worst)).unwrap();
            });
            let received = match rx.recv_timeout(Duration::from_secs(20)) {
                Ok((received, _worst)) => received,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    // The consumer's assertion failed: show it.
                    match consumer.join() {
                        Err(p) => std::panic::resume_unwind(p),
                        Ok(()) => unreachable!("the consumer sends before it returns"),
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
                    "{} workers, in_flight {in_flight}: the helping consumer hung",
                    pool.worker_count()
                ),
            };
            consumer.join().unwrap();
            assert_eq!(received, n);
        }
    }
}

#[test]
fn a_consumer_that_helps_then_lags_keeps_the_bound_and_gets_every_result() {
    // The consumer alternates: a fast phase, where it finds the output
    // empty and runs chunks itself (runners give it a place and stop), and
    // a slow phase, where it sleeps with results waiting (runners run out
    // of room, spin for it, give up and stop; it stops helping). Every
    // switch must bring runners back, keep the bound and lose nothing.
    let f = script_value(
        "fn f(x) { let i = 0\n while i < 300 { i += 1 }\n x * 3 }",
        "f",
    );
    for &pool in pools() {
        for in_flight in [2usize, 8, 32] {
            let n = 2400usize;
            let input = feed(n as i64, None);
            while input.ch.len() < n && !input.ch.is_closed() {
                thread::yield_now();
            }
            let opts = opts_with(|o| o.in_flight = Some(in_flight));
            let out =
                out_channel(start(pool, Arc::clone(&input), &f, StreamOp::Map, &opts).unwrap());
            let (tx, rx) = std::sync::mpsc::channel();
            let consumer = thread::spawn(move || {
                let mut received = 0usize;
                while let Some(v) = crate::stdlib::channel::iter_next(&out).unwrap() {
                    assert_eq!(v, Value::Int(3 * received as i64));
                    received += 1;
                    let taken = n - input.ch.len();
                    assert!(
                        taken - received <= in_flight,
                        "in_flight {in_flight}: {taken} taken, {received} received"
                    );
                    // Slow for 100 items of every 400.
                    if received % 400 >= 300 && received % 10 == 0 {
                        thread::sleep(Duration::from_millis(1));
                    }
                }
                tx.send(received).unwrap();
            });
            let received = match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(received) => received,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match consumer.join() {
                    Err(p) => std::panic::resume_unwind(p),
                    Ok(()) => unreachable!("the consumer sends before it returns"),
                },
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!(
                    "{} workers, in_flight {in_flight}: the stream hung",
                    pool.worker_count()
                ),
            };
            consumer.join().unwrap();
            assert_eq!(received, n, "{} workers", pool.worker_count());
        }
    }
}

/// Holds one worker of `pool` with a job that waits until the returned
/// sender sends (or is dropped); returns once the job has started.
fn hold_a_worker(pool: &ThreadPool) -> std::sync::mpsc::Sender<()> {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started_tx, started) = std::sync::mpsc::channel::<()>();
    drop(pool.spawn(move || {
        started_tx.send(()).unwrap();
        let _ = held.recv();
    }));
    started
        .recv_timeout(Duration::from_secs(20))
        .expect("the blocking job starts");
    release
}

#[test]
fn the_consumer_runs_the_stream_while_every_worker_is_busy() {
    // The pool's only worker is held by a job: no runner can start, so
    // every item the consumer receives it ran itself (without the help,
    // nothing arrives until the worker is free).
    let pool = static_pool(1);
    let release = hold_a_worker(pool);
    let f = script_value("fn f(x) { x + 1 }", "f");
    let n = 500usize;
    let input = feed(n as i64, None);
    while input.ch.len() < n && !input.ch.is_closed() {
        thread::yield_now();
    }
    let out = out_channel(
        start(
            pool,
            Arc::clone(&input),
            &f,
            StreamOp::Map,
            &Options::default(),
        )
        .unwrap(),
    );
    // Let the driver take its first chunk and queue it for the (held)
    // runner: a consumer that finds the take lock busy does not help (it
    // waits on the channel), and here no runner would ever wake it.
    while input.ch.len() == n {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(50));
    let (tx, rx) = std::sync::mpsc::channel();
    let count = Arc::new(AtomicUsize::new(0));
    let consumer = {
        let out = Arc::clone(&out);
        let count = Arc::clone(&count);
        thread::spawn(move || {
            for i in 0..n {
                let v = crate::stdlib::channel::iter_next(&out).unwrap();
                assert_eq!(v, Some(Value::Int(i as i64 + 1)));
                count.fetch_add(1, Ordering::SeqCst);
            }
            tx.send(()).unwrap();
            // The end comes once the held worker's runner has stopped.
            crate::stdlib::channel::iter_next(&out).unwrap()
        })
    };
    let helped = rx.recv_timeout(Duration::from_secs(20));
    release.send(()).unwrap();
    assert!(
        helped.is_ok(),
        "the consumer received {} of {n} items while the only worker was busy ({helped:?})",
        count.load(Ordering::SeqCst)
    );
    assert_eq!(
        consumer.join().unwrap(),
        None,
        "the output closes at the end"
    );
}

/// Receives everything from `out` with `for v in ch`'s step (which helps
/// the stream) on a thread of its own, within 20 s: the values, or a panic
/// naming what hung.
fn drain_helping(out: &Arc<ChannelObj>, what: &str) -> Vec<Value> {
    let (tx, rx) = std::sync::mpsc::channel();
    let consumer = {
        let out = Arc::clone(out);
        thread::spawn(move || {
            let mut got = Vec::new();
            while let Some(v) = crate::stdlib::channel::iter_next(&out).unwrap() {
                got.push(v);
            }
            tx.send(got).unwrap();
        })
    };
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(got) => {
            consumer.join().unwrap();
            got
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => match consumer.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!("the consumer sends before it returns"),
        },
        Err(_) => panic!("{what}: the helping consumer hung"),
    }
}

#[test]
fn the_helping_consumer_runs_failing_and_deep_items_on_its_kept_vm() {
    // The consumer keeps one VM for all the chunks it runs. Items that
    // throw, and items that overflow the call depth, leave it usable: the
    // items after them get their results, with the caller's depth budget.
    // With the pool's only worker held, the consumer runs every item.
    let f = script_value(
        "fn d(n) { if n == 0 { 0 } else { 1 + d(n - 1) } }\n\
         fn f(x) { if x % 5 == 0 { throw \"bad \" + str(x) }\n\
         if x % 7 == 0 { d(1000000000) } else { d(20) + x } }",
        "f",
    );
    let n = 300i64;
    let check = |got: &[Value], what: &str| {
        assert_eq!(got.len(), n as usize, "{what}");
        let field = |v: &Value, k: &str| match v {
            Value::Map(m) => m.get(&Key::str(k)).cloned().unwrap(),
            other => panic!("{what}: not an outcome map: {other:?}"),
        };
        for (i, v) in got.iter().enumerate() {
            let x = i as i64;
            assert_eq!(field(v, "index"), Value::Int(x), "{what}");
            match (field(v, "result"), field(v, "error")) {
                (Value::Nil, Value::Error(e)) if x % 5 == 0 => {
                    assert_eq!(e.message, format!("bad {x}"), "{what}");
                }
                (Value::Nil, Value::Error(e)) if x % 7 == 0 => {
                    assert_eq!(e.kind, ErrorKind::StackOverflow, "{what}: item {x}");
                }
                (r, Value::Nil) if x % 5 != 0 && x % 7 != 0 => {
                    assert_eq!(r, Value::Int(20 + x), "{what}: item {x}");
                }
                other => panic!("{what}: item {x} gave {other:?}"),
            }
        }
    };
    let opts = opts_with(|o| o.errors = ErrorMode::Collect);
    // Every item on the consumer: the only worker is held.
    let pool = static_pool(1);
    let release = hold_a_worker(pool);
    let input = feed(n, None);
    while input.ch.len() < n as usize && !input.ch.is_closed() {
        thread::yield_now();
    }
    let out = out_channel(start(pool, Arc::clone(&input), &f, StreamOp::Map, &opts).unwrap());
    // The driver's first chunk is queued for the held runner; the
    // consumer pops it (see the test above).
    while input.ch.len() == n as usize {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(50));
    let (tx, rx) = std::sync::mpsc::channel();
    let consumer = {
        let out = Arc::clone(&out);
        thread::spawn(move || {
            let mut got = Vec::new();
            for _ in 0..n {
                got.push(crate::stdlib::channel::iter_next(&out).unwrap().unwrap());
            }
            tx.send(got).unwrap();
            // The end comes once the held worker's runner has stopped.
            crate::stdlib::channel::iter_next(&out).unwrap()
        })
    };
    let got = rx.recv_timeout(Duration::from_secs(20));
    release.send(()).unwrap();
    let got = got.expect("the consumer running every item on its kept VM hung");
    check(&got, "1 worker, held");
    assert_eq!(consumer.join().unwrap(), None, "the output closes");
    // And beside the runners, on every pool.
    for &pool in pools() {
        for in_flight in [None, Some(3)] {
            let opts = opts_with(|o| {
                o.errors = ErrorMode::Collect;
                o.in_flight = in_flight;
            });
            let what = format!("{} workers, in_flight {in_flight:?}", pool.worker_count());
            let out =
                out_channel(start(pool, feed(n, Some(16)), &f, StreamOp::Map, &opts).unwrap());
            check(&drain_helping(&out, &what), &what);
        }
    }
}

#[test]
fn a_failing_item_delivers_what_came_before_then_the_error() {
    let f = script_value(
        "fn f(x) { if x == 777 or x == 1500 { throw \"bad \" + str(x) }; x }",
        "f",
    );
    for &pool in pools() {
        for in_flight in [None, Some(1), Some(100)] {
            let opts = opts_with(|o| o.in_flight = in_flight);
            let out = out_channel(start(pool, feed(3000, None), &f, StreamOp::Map, &opts).unwrap());
            let (got, err) = drain(&out);
            assert_eq!(err.as_deref(), Some("bad 777"));
            assert_eq!(got, (0..777).map(Value::Int).collect::<Vec<_>>());
        }
        // Collected: one outcome map per item.
        let opts = opts_with(|o| o.errors = ErrorMode::Collect);
        let out = out_channel(start(pool, feed(2000, None), &f, StreamOp::Map, &opts).unwrap());
        let (got, err) = drain(&out);
        assert_eq!(err, None);
        assert_eq!(got.len(), 2000);
        let field = |v: &Value, k: &str| match v {
            Value::Map(m) => m.get(&Key::str(k)).cloned().unwrap(),
            _ => panic!(),
        };
        assert_eq!(field(&got[5], "index"), Value::Int(5));
        assert_eq!(field(&got[5], "result"), Value::Int(5));
        assert_eq!(field(&got[5], "error"), Value::Nil);
        assert_eq!(field(&got[777], "item"), Value::Int(777));
        assert_eq!(field(&got[777], "result"), Value::Nil);
        assert!(matches!(field(&got[777], "error"), Value::Error(e) if e.message == "bad 777"));
    }
}

static CALLED: AtomicUsize = AtomicUsize::new(0);
fn counted(_: &mut Vm, a: &[Value]) -> Result<Value> {
    CALLED.fetch_add(1, Ordering::Relaxed);
    thread::sleep(Duration::from_micros(200));
    Ok(a[0].clone())
}
static COUNTED: NativeFn = NativeFn {
    name: "counted",
    f: counted,
};

#[test]
fn a_consumer_that_closes_or_drops_the_output_stops_the_work() {
    let f = Value::Native(&COUNTED);
    let pool = pools()[1];
    let n = 100_000;
    // Closes after 10 results.
    CALLED.store(0, Ordering::Relaxed);
    let input = feed(n, Some(8));
    let opts = opts_with(|o| o.in_flight = Some(8));
    let out = out_channel(start(pool, Arc::clone(&input), &f, StreamOp::Map, &opts).unwrap());
    for i in 0..10 {
        assert_eq!(out.ch.recv(None), Ok(Value::Int(i)));
    }
    out.ch.close();
    thread::sleep(Duration::from_millis(100));
    let after_close = CALLED.load(Ordering::Relaxed);
    thread::sleep(Duration::from_millis(200));
    assert_eq!(
        CALLED.load(Ordering::Relaxed),
        after_close,
        "the work went on"
    );
    assert!(after_close <= 10 + 8 + 2, "{after_close} items ran");
    // Drops it after 10 results: noticed within about a second.
    CALLED.store(0, Ordering::Relaxed);
    let input = feed(n, Some(8));
    let out = out_channel(start(pool, Arc::clone(&input), &f, StreamOp::Map, &opts).unwrap());
    for i in 0..10 {
        assert_eq!(out.ch.recv(None), Ok(Value::Int(i)));
    }
    drop(out);
    thread::sleep(Duration::from_millis(2500));
    let after_drop = CALLED.load(Ordering::Relaxed);
    thread::sleep(Duration::from_millis(300));
    assert_eq!(
        CALLED.load(Ordering::Relaxed),
        after_drop,
        "the work went on"
    );
    assert!(after_drop <= 10 + 8 + 2, "{after_drop} items ran");
}

#[test]
fn streams_compose_and_errors_flow_downstream() {
    let keep = script_value("fn p(x) { x % 3 == 0 }", "p");
    let inc = script_value(
        "fn f(x) { if x == 900 { throw \"nine hundred\" }; x + 1 }",
        "f",
    );
    for &pool in pools() {
        let filtered = start(
            pool,
            feed(2000, Some(10)),
            &keep,
            StreamOp::Filter,
            &Options::default(),
        )
        .unwrap();
        let out = out_channel(
            start(
                pool,
                out_channel(filtered),
                &inc,
                StreamOp::Map,
                &Options::default(),
            )
            .unwrap(),
        );
        let (got, err) = drain(&out);
        assert_eq!(err.as_deref(), Some("nine hundred"));
        let want: Vec<Value> = (0..900)
            .filter(|x| x % 3 == 0)
            .map(|x| Value::Int(x + 1))
            .collect();
        assert_eq!(got, want);
        // The upstream's error reaches the end of the chain after its items.
        let first = out_channel(
            start(
                pool,
                feed(2000, None),
                &inc,
                StreamOp::Map,
                &Options::default(),
            )
            .unwrap(),
        );
        let second =
            out_channel(start(pool, first, &keep, StreamOp::Filter, &Options::default()).unwrap());
        let (got, err) = drain(&second);
        assert_eq!(err.as_deref(), Some("nine hundred"));
        let want: Vec<Value> = (1..=900).filter(|x| x % 3 == 0).map(Value::Int).collect();
        assert_eq!(got, want);
    }
}

#[test]
fn stream_reductions_match_the_list_tree() {
    let f = Value::Native(&FADD);
    let xs = awkward_floats(10_007);
    let chunk = 16;
    let want = tree_sum(&xs, chunk);
    for &pool in pools() {
        for _ in 0..5 {
            let ch = Arc::new(ChannelObj::new(None).unwrap());
            for &x in &xs {
                ch.ch.send(Value::Float(x), None).unwrap();
            }
            ch.ch.close();
            let opts = opts_with(|o| {
                o.chunk_size = Some(chunk);
                o.in_flight = Some(64);
            });
            let op = StreamOp::Reduce {
                identity: Value::Float(0.0),
                combine: None,
            };
            let got = start(pool, ch, &f, op, &opts).unwrap();
            assert_eq!(
                float(&got).to_bits(),
                want.to_bits(),
                "{} workers",
                pool.worker_count()
            );
        }
        // The default stream leaf: the tree over leaves of STREAM_LEAF.
        let ch = Arc::new(ChannelObj::new(None).unwrap());
        for &x in &xs {
            ch.ch.send(Value::Float(x), None).unwrap();
        }
        ch.ch.close();
        let op = StreamOp::Reduce {
            identity: Value::Float(0.0),
            combine: Some(f.clone()),
        };
        let got = start(pool, ch, &f, op, &Options::default()).unwrap();
        assert_eq!(
            float(&got).to_bits(),
            tree_sum(&xs, tree::STREAM_LEAF).to_bits()
        );
    }
}

#[test]
fn for_each_over_a_stream_returns_when_drained_and_throws_the_first_error() {
    let mut script = Script::compile(
        "<test>",
        "let a = atom(0)\nfn f(x) { a.add(x) }\nfn g() { a.get() }",
    )
    .unwrap_or_else(|e| panic!("{}", e.render()));
    script.run().unwrap();
    let add = script.get("f").unwrap();
    for &pool in pools() {
        let before = script.call("g", &[]).unwrap();
        let r = start(
            pool,
            feed(1000, Some(5)),
            &add,
            StreamOp::ForEach,
            &Options::default(),
        );
        assert_eq!(r.unwrap(), Value::Nil);
        let after = script.call("g", &[]).unwrap();
        assert_eq!(
            float(&after) - float(&before),
            499_500.0,
            "every item ran once"
        );
        let bad = script_value("fn f(x) { if x >= 400 { throw \"x\" + str(x) }; x }", "f");
        let err = start(
            pool,
            feed(1000, Some(5)),
            &bad,
            StreamOp::ForEach,
            &Options::default(),
        )
        .unwrap_err();
        assert_eq!(err.message(), "x400");
        let opts = opts_with(|o| o.errors = ErrorMode::Collect);
        let r = start(pool, feed(1000, None), &bad, StreamOp::ForEach, &opts).unwrap();
        let Value::Map(m) = r else { panic!() };
        assert_eq!(m.get(&Key::str("results")), Some(&Value::Nil));
        match m.get(&Key::str("errors")) {
            Some(Value::List(errs)) => {
                assert_eq!(errs.len(), 600);
                let first: &Map = match &errs[0] {
                    Value::Map(m) => m,
                    _ => panic!(),
                };
                assert_eq!(first.get(&Key::str("index")), Some(&Value::Int(400)));
            }
            other => panic!("{other:?}"),
        }
    }
}

fn slow_id(_: &mut Vm, a: &[Value]) -> Result<Value> {
    thread::sleep(Duration::from_micros(200));
    Ok(a[0].clone())
}
static SLOW_ID: NativeFn = NativeFn {
    name: "slow_id",
    f: slow_id,
};

#[test]
fn cancelling_the_caller_closes_the_output_with_cancelled() {
    let f = Value::Native(&SLOW_ID);
    for &pool in pools() {
        let token = crate::pool::CancelToken::new();
        let mut vm = Vm::new();
        vm.set_cancel_token(Some(token.clone()));
        let opts = opts_with(|o| o.in_flight = Some(4));
        let out = out_channel(
            stream::run_on(
                &mut vm,
                "test",
                feed(100_000, Some(4)),
                &f,
                StreamOp::Map,
                &opts,
                pool,
            )
            .unwrap(),
        );
        for i in 0..5 {
            assert_eq!(out.ch.recv(None), Ok(Value::Int(i)));
        }
        token.cancel();
        let (got, err) = drain(&out);
        assert_eq!(err.as_deref(), Some("the task was cancelled"));
        // Only results of items taken before the cancellation, in order.
        assert!(got.len() <= 4 + 4, "{} more results", got.len());
        for (k, v) in got.iter().enumerate() {
            assert_eq!(*v, Value::Int(5 + k as i64));
        }
    }
}
