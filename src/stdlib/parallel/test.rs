//! Unit tests of the parallel functions: the split grid, the splitter, the
//! first-failure rule, and whole calls on pools of 1, 2 and 16 workers.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::drive::{Call, Grid, Op, Splitter};
use super::failure::Failure;
use super::input::Input;
use super::options::Options;
use super::reduce::Reduction;
use super::stats::CallStats;
use super::work::Work;
use crate::error::{Error, ErrorKind, Result};
use crate::interp::Script;
use crate::pool::{current_worker_index, ThreadPool, ThreadPoolConfig, WorkerCount};
use crate::value::{NativeFn, RangeVal, Value};
use crate::vm::Vm;

const WORKER_COUNTS: [usize; 3] = [1, 2, 16];

fn pool(workers: usize) -> ThreadPool {
    ThreadPool::new(ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(workers)))
        .expect("pool starts")
}

fn range(start: i64, stop: i64) -> Value {
    Value::Range(Arc::new(RangeVal {
        start,
        stop,
        step: 1,
    }))
}

/// The script's top-level value `name` (a function, usually).
fn script_value(src: &str, name: &str) -> Value {
    let mut script = Script::compile("<test>", src).unwrap_or_else(|e| panic!("{}", e.render()));
    script.run().expect("script runs");
    script.get(name).expect("name defined")
}

/// Options with `chunk_size: chunk`.
fn opts(chunk: Option<usize>) -> Options {
    Options {
        chunk_size: chunk,
        ..Options::default()
    }
}

/// `op` with `f` over `input` on `pool` (`slots` for map/filter), as the
/// natives do.
fn run_op(
    pool: &ThreadPool,
    input: &Value,
    op: Op,
    f: &Value,
    chunk: Option<usize>,
    out: Option<&mut Vec<Value>>,
) -> Result<()> {
    run_with(pool, input, op, f, &opts(chunk), out, &mut Vm::new())
}

/// As [`run_op`], with `options`, from `vm`.
fn run_with(
    pool: &ThreadPool,
    input: &Value,
    op: Op,
    f: &Value,
    options: &Options,
    out: Option<&mut Vec<Value>>,
    vm: &mut Vm,
) -> Result<()> {
    let input = Input::new("test", input)?;
    let work = Work::new(vm, f, options, None);
    let stats = CallStats::default();
    Call::new(&input, op, options.chunk_size, &work, &stats)
        .offering_to(Some(pool))
        .run_on(vm, out, || Ok(pool))
}

fn map_on(pool: &ThreadPool, input: &Value, f: &Value, chunk: Option<usize>) -> Result<Vec<Value>> {
    let mut out = Vec::new();
    run_op(pool, input, Op::Map, f, chunk, Some(&mut out))?;
    Ok(out)
}

/// `parallel_reduce` (`combine` None) or `parallel_fold` on `pool`.
fn reduce_on(
    pool: &ThreadPool,
    input: &Value,
    f: &Value,
    combine: Option<&Value>,
    identity: &Value,
    chunk: Option<usize>,
) -> Result<Value> {
    let input = Input::new("test", input)?;
    let mut vm = Vm::new();
    let work = Work::new(&mut vm, f, &opts(chunk), None);
    let stats = CallStats::default();
    Reduction::new(&input, &work, identity, combine, chunk, &stats).run(&mut vm, || Ok(pool))
}

/// Busy-waits about `us` microseconds (a measurable per-item cost).
fn busy(us: u64) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_micros(us) {
        std::hint::spin_loop();
    }
}

/// A native returning the index of the pool thread it runs on (-1 off the
/// pool), after about 5 µs of work.
fn slow_who(_: &mut Vm, _: &[Value]) -> Result<Value> {
    busy(5);
    Ok(Value::Int(current_worker_index().map_or(-1, |i| i as i64)))
}
static SLOW_WHO: NativeFn = NativeFn {
    name: "slow_who",
    f: slow_who,
};

/// A native returning the pool thread index, with no work at all.
fn who(_: &mut Vm, _: &[Value]) -> Result<Value> {
    Ok(Value::Int(current_worker_index().map_or(-1, |i| i as i64)))
}
static WHO: NativeFn = NativeFn {
    name: "who",
    f: who,
};

#[test]
fn grid_mid_is_a_grid_point_strictly_inside() {
    for step in 1..=8 {
        for phase in 0..step {
            let grid = Grid::with(step, phase);
            for lo in 0..40 {
                for hi in lo..48 {
                    let any_inside = (lo + 1..hi).any(|m| m % step == phase);
                    match grid.mid(lo, hi) {
                        Some(m) => {
                            assert!(lo < m && m < hi, "{step} {phase} {lo}..{hi}: {m}");
                            assert_eq!(m % step, phase, "{step} {phase} {lo}..{hi}: {m}");
                        }
                        None => assert!(!any_inside, "{step} {phase} {lo}..{hi}: missed"),
                    }
                }
            }
        }
    }
}

#[test]
fn cache_line_grid_starts_at_a_line_boundary_of_the_buffer() {
    let size = std::mem::size_of::<Value>();
    let mut buf: Vec<Value> = Vec::with_capacity(64);
    let spare = buf.spare_capacity_mut();
    for line in [16, 32, 64, 128, 256] {
        for off in 0..8 {
            let slots = &spare[off..];
            let grid = Grid::cache_lines(Some(slots), line);
            // Every split point of the grid is at a line boundary.
            let m = grid.mid(0, slots.len()).expect("a split point");
            let addr = slots.as_ptr() as usize + m * size;
            assert_eq!(addr % line, 0, "line {line}, offset {off}, split {m}");
        }
    }
    // Without output slots any index is a split point.
    assert_eq!(Grid::cache_lines(None, 64).mid(0, 3), Some(1));
    // Fixed chunks split on multiples of the chunk.
    assert_eq!(Grid::chunks(10).mid(0, 100), Some(50));
    assert_eq!(Grid::chunks(10).mid(0, 35), Some(10));
    assert_eq!(Grid::chunks(10).mid(0, 10), None);
}

#[test]
fn a_grid_cell_costlier_than_a_slice_gives_way_to_every_index() {
    use std::time::Duration;
    // Cells of 4 items: 3 items left in one cell cannot be split.
    let cells = Grid::with(4, 0);
    assert_eq!(cells.mid(1, 4), None);
    // Items of 1 µs (a cell: 4 µs, far below a slice): the grid stays.
    let cheap = cells.for_cost(Duration::from_micros(10), 10);
    assert_eq!(cheap, cells);
    assert_eq!(cheap.mid(1, 4), None);
    // Items of 4 ms (re per line: a cell is 16 ms): any index splits.
    let costly = cells.for_cost(Duration::from_millis(4), 1);
    assert_eq!(costly.mid(1, 4), Some(2));
    assert_eq!(costly.mid(2, 4), Some(3));
    assert_eq!(costly.mid(3, 4), None);
    // The edge: a cell of exactly one slice splits anywhere, just under
    // it does not.
    let slice = super::drive::LEAF_SLICE;
    assert_eq!(cells.for_cost(slice / 4, 1), Grid::with(1, 0));
    assert_eq!(
        cells.for_cost(slice / 4 - Duration::from_nanos(100), 1),
        cells
    );
    // No items timed (cannot happen after a pause, but must not divide
    // by zero): the cost is read as the whole time.
    assert_eq!(cells.for_cost(slice, 0), Grid::with(1, 0));
}

#[test]
fn splitter_halves_its_budget_and_refills_when_stolen() {
    let mut s = Splitter::new(4);
    assert!(s.try_split(false)); // 4 -> 2
    assert!(s.try_split(false)); // 2 -> 1
    assert!(s.try_split(false)); // 1 -> 0
    assert!(!s.try_split(false));
    assert!(s.try_split(true)); // stolen: back to 4
    assert!(s.try_split(false));
    let mut fixed = Splitter::Fixed;
    assert!((0..100).all(|_| fixed.try_split(false)));
}

#[test]
fn failure_keeps_the_lowest_index() {
    let f = Failure::new();
    assert!(!f.skips(usize::MAX - 1));
    f.record(9, Error::value_error("nine"));
    assert!(f.skips(10) && !f.skips(9) && !f.skips(3));
    f.record(3, Error::value_error("three"));
    f.record(5, Error::value_error("five"));
    assert!(f.skips(4) && !f.skips(3) && !f.skips(0));
    assert_eq!(
        f.take().map(|e| e.message().to_string()),
        Some("three".into())
    );
}

#[test]
fn map_matches_the_sequential_map_on_every_pool() {
    let f = script_value(
        "fn f(x) {\n let acc = 0\n let i = 0\n while i < 30 { acc = (acc * 7 + x + i) % 10007\n i += 1 }\n acc\n}",
        "f",
    );
    let xs: Vec<Value> = (0..20_000).map(Value::Int).collect();
    let list = Value::list(xs.clone());
    let mut vm = Vm::new();
    let expect: Vec<Value> = xs
        .iter()
        .map(|x| vm.call(&f, std::slice::from_ref(x)).unwrap())
        .collect();
    for workers in WORKER_COUNTS {
        let pool = pool(workers);
        assert_eq!(map_on(&pool, &list, &f, None).unwrap(), expect, "{workers}");
        assert_eq!(map_on(&pool, &range(0, 20_000), &f, None).unwrap(), expect);
        for chunk in [1, 3, 64, 19_999, 20_000, 50_000] {
            assert_eq!(
                map_on(&pool, &list, &f, Some(chunk)).unwrap(),
                expect,
                "{workers} workers, chunk {chunk}"
            );
        }
        let s = Value::str("añb€".repeat(500));
        let upper = script_value("fn u(c) { c.upper() }", "u");
        let got = map_on(&pool, &s, &upper, Some(7)).unwrap();
        let want: Vec<Value> = "AÑB€"
            .repeat(500)
            .chars()
            .map(|c| Value::str(c.to_string()))
            .collect();
        assert_eq!(got, want);
    }
}

#[test]
fn threads_meet_only_at_grid_points() {
    let f = Value::Native(&SLOW_WHO);
    for workers in WORKER_COUNTS {
        let pool = pool(workers);
        let n = 4_000;
        let mut out = Vec::with_capacity(n);
        let line = crate::runtime::config().cache_line_size();
        let grid = Grid::cache_lines(Some(&out.spare_capacity_mut()[..n]), line);
        run_op(
            &pool,
            &range(0, n as i64),
            Op::Map,
            &f,
            None,
            Some(&mut out),
        )
        .unwrap();
        let ids: Vec<i64> = out
            .iter()
            .map(|v| match v {
                Value::Int(i) => *i,
                other => panic!("{other:?}"),
            })
            .collect();
        assert!(
            ids.iter().any(|&i| i >= 0),
            "{workers}: nothing ran on the pool"
        );
        for i in 1..n {
            let (a, b) = (ids[i - 1], ids[i]);
            if a >= 0 && b >= 0 && a != b {
                // A split point between two threads: it must be the grid's.
                assert_eq!(grid.mid(i - 1, i + 1), Some(i), "{workers}: boundary {i}");
            }
        }
        // With chunk_size, threads meet only at multiples of the chunk.
        let mut out = Vec::new();
        run_op(
            &pool,
            &range(0, n as i64),
            Op::Map,
            &f,
            Some(37),
            Some(&mut out),
        )
        .unwrap();
        for i in 1..n {
            if out[i - 1] != out[i] {
                assert_eq!(i % 37, 0, "{workers}: chunk boundary {i}");
            }
        }
    }
}

#[test]
fn small_cheap_inputs_stay_on_the_caller() {
    let f = Value::Native(&WHO);
    let mut out = Vec::new();
    let input = Input::new("test", &range(0, 100)).unwrap();
    let mut vm = Vm::new();
    let work = Work::new(&mut vm, &f, &Options::default(), None);
    let stats = CallStats::default();
    let call = Call::new(&input, Op::Map, None, &work, &stats);
    // The pool is never asked for: the work is measured as too small.
    call.run_on(&mut vm, Some(&mut out), || -> Result<&ThreadPool> {
        panic!("a small cheap input must not use the pool")
    })
    .unwrap();
    assert!(out.iter().all(|v| *v == Value::Int(-1)));
    // Expensive items go to the pool (5 µs x 2000 = 10 ms of work).
    let pool = pool(2);
    let slow = Value::Native(&SLOW_WHO);
    let out = map_on(&pool, &range(0, 2000), &slow, None).unwrap();
    assert!(out.iter().any(|v| matches!(v, Value::Int(i) if *i >= 0)));
    // The caller ran at most a short measured prefix.
    let on_caller = out.iter().filter(|v| **v == Value::Int(-1)).count();
    assert!(on_caller < 1000, "{on_caller} items on the caller");
}

#[test]
fn the_first_error_in_input_order_wins_and_nothing_before_it_is_skipped() {
    let src = "
        let n = 3000
        let runs = list(range(n)).map(fn(i) { atom(0) })
        let bad = atom([])
        fn f(x) {
            runs[x].add(1)
            let i = 0
            while i < 50 { i += 1 }
            if bad.get().contains(x) { throw \"bad \" + str(x) }
            x
        }
        fn count(i) { runs[i].get() }
        fn reset(b) { bad.set(b); for r in runs { r.set(0) } }
    ";
    let mut script = Script::compile("<test>", src).unwrap_or_else(|e| panic!("{}", e.render()));
    script.run().unwrap();
    let f = script.get("f").unwrap();
    for workers in WORKER_COUNTS {
        let pool = pool(workers);
        for bad in [
            vec![0],
            vec![2999],
            vec![1500, 40, 2000],
            vec![7, 8, 9, 2998],
        ] {
            for chunk in [None, Some(1), Some(100)] {
                let list = Value::list(bad.iter().map(|&b| Value::Int(b)).collect());
                script.call("reset", &[list]).unwrap();
                let err = map_on(&pool, &range(0, 3000), &f, chunk).unwrap_err();
                let lowest = *bad.iter().min().unwrap();
                assert_eq!(
                    err.message(),
                    format!("bad {lowest}"),
                    "{workers} {chunk:?}"
                );
                for i in 0..3000 {
                    let runs = script.call("count", &[Value::Int(i)]).unwrap();
                    if i <= lowest {
                        assert_eq!(runs, Value::Int(1), "{workers} {chunk:?}: item {i}");
                    } else {
                        assert!(matches!(runs, Value::Int(0 | 1)), "item {i} ran {runs:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn reduce_keeps_item_order_on_every_pool() {
    let concat = script_value("fn c(a, b) { a + b }", "c");
    let words: Vec<Value> = (0..5000)
        .map(|i| Value::str(format!("{},", i % 97)))
        .collect();
    let expect: String = (0..5000).map(|i| format!("{},", i % 97)).collect();
    let list = Value::list(words);
    let identity = Value::str("");
    for workers in WORKER_COUNTS {
        let pool = pool(workers);
        for chunk in [None, Some(1), Some(33)] {
            let got = reduce_on(&pool, &list, &concat, None, &identity, chunk).unwrap();
            assert_eq!(got, Value::str(expect.clone()), "{workers} {chunk:?}");
        }
    }
}

static STOP_AT: AtomicUsize = AtomicUsize::new(usize::MAX);
static CALLS: AtomicUsize = AtomicUsize::new(0);
static CANCEL: std::sync::OnceLock<Arc<AtomicBool>> = std::sync::OnceLock::new();

/// A native that sets the caller's cancel flag when it sees item `STOP_AT`.
fn cancel_at(_: &mut Vm, args: &[Value]) -> Result<Value> {
    CALLS.fetch_add(1, Ordering::Relaxed);
    busy(2);
    if let Value::Int(i) = args[0] {
        if i as usize == STOP_AT.load(Ordering::Relaxed) {
            CANCEL.get().unwrap().store(true, Ordering::Relaxed);
        }
    }
    Ok(Value::Nil)
}
static CANCEL_AT: NativeFn = NativeFn {
    name: "cancel_at",
    f: cancel_at,
};

#[test]
fn cancelling_the_caller_stops_the_work() {
    let flag = CANCEL.get_or_init(|| Arc::new(AtomicBool::new(false)));
    let f = Value::Native(&CANCEL_AT);
    let input = Input::new("test", &range(0, 200_000)).unwrap();
    for workers in WORKER_COUNTS {
        let pool = pool(workers);
        // Already cancelled: nothing runs.
        flag.store(true, Ordering::Relaxed);
        CALLS.store(0, Ordering::Relaxed);
        let mut vm = Vm::new();
        vm.set_cancel_flag(Some(Arc::clone(flag)));
        let work = Work::new(&mut vm, &f, &Options::default(), None);
        let stats = CallStats::default();
        let err = Call::new(&input, Op::ForEach, None, &work, &stats)
            .run_on(&mut vm, None, || Ok(&pool))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        assert_eq!(CALLS.load(Ordering::Relaxed), 0);
        // Cancelled while running (by item 3000): the rest is not run.
        flag.store(false, Ordering::Relaxed);
        STOP_AT.store(3000, Ordering::Relaxed);
        CALLS.store(0, Ordering::Relaxed);
        let work = Work::new(&mut vm, &f, &Options::default(), None);
        let stats = CallStats::default();
        let err = Call::new(&input, Op::ForEach, None, &work, &stats)
            .run_on(&mut vm, None, || Ok(&pool))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cancelled);
        let calls = CALLS.load(Ordering::Relaxed);
        assert!(calls < 200_000, "{workers}: all {calls} items ran");
    }
}

#[test]
fn filter_and_for_each_on_every_pool() {
    let even = script_value("fn e(x) { x % 2 == 0 }", "e");
    for workers in WORKER_COUNTS {
        let pool = pool(workers);
        let mut keep = Vec::new();
        run_op(
            &pool,
            &range(0, 10_000),
            Op::Filter,
            &even,
            None,
            Some(&mut keep),
        )
        .unwrap();
        for (i, k) in keep.iter().enumerate() {
            assert_eq!(*k, Value::Bool(i % 2 == 0));
        }
        run_op(&pool, &range(0, 10_000), Op::ForEach, &even, Some(10), None).unwrap();
    }
}

#[test]
fn bad_inputs_are_type_errors() {
    for v in [
        Value::Int(1),
        Value::Nil,
        Value::Float(1.0),
        Value::Bool(true),
    ] {
        let err = Input::new("parallel_map", &v).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TypeError);
        assert!(err.message().starts_with("parallel_map() first argument"));
    }
    let big = Input::new("t", &range(-5, 5)).unwrap();
    assert_eq!(big.len(), 10);
    assert_eq!(big.get(0), Value::Int(-5));
    assert_eq!(big.get(9), Value::Int(4));
}

#[test]
fn every_output_slot_is_written_once_and_dropped_once() {
    // The results share one string: its reference count shows leaks
    // (a slot never dropped) and double drops (a count too low, or a
    // crash). Failures at several places leave slots nil.
    let shared = Value::str("shared");
    let count = || match &shared {
        Value::Str(s) => s.strong_count(),
        _ => unreachable!(),
    };
    let f = script_value(
        "fn f(pair) { if pair[0] % 1000 == 999 and pair[0] > 15000 { throw \"no\" }; pair[1] }",
        "f",
    );
    let n = 20_000;
    let input = Value::list(
        (0..n)
            .map(|i| Value::list(vec![Value::Int(i), shared.clone()]))
            .collect(),
    );
    let base = count();
    for workers in WORKER_COUNTS {
        let pool = pool(workers);
        for chunk in [None, Some(1), Some(512)] {
            let out = map_on(&pool, &input, &f, chunk);
            assert_eq!(out.unwrap_err().message(), "no");
            assert_eq!(count(), base, "{workers} {chunk:?}: a result leaked");
            // Without failures every slot holds the shared string.
            let ok = script_value("fn g(pair) { pair[1] }", "g");
            let out = map_on(&pool, &input, &ok, chunk).unwrap();
            assert_eq!(count(), base + n as usize);
            assert!(out.iter().all(|v| *v == shared));
            drop(out);
            assert_eq!(count(), base, "{workers} {chunk:?}");
        }
    }
}

#[test]
fn without_stealing_parts_are_dealt_to_every_worker() {
    let f = script_value("fn f(x) { x * x % 1009 }", "f");
    let concat = script_value("fn c(a, b) { a + b }", "c");
    let slow = Value::Native(&SLOW_WHO);
    for workers in WORKER_COUNTS {
        let config = ThreadPoolConfig::default()
            .with_worker_count(WorkerCount::Fixed(workers))
            .with_work_stealing(false);
        let pool = ThreadPool::new(config).expect("pool starts");
        let n = 30_000;
        let expect: Vec<Value> = (0..n).map(|x| Value::Int(x * x % 1009)).collect();
        for chunk in [None, Some(1000)] {
            let got = map_on(&pool, &range(0, n), &f, chunk).unwrap();
            assert_eq!(got, expect, "{workers} {chunk:?}");
        }
        // Each worker gets a part (5 µs x 3000 items is worth splitting).
        let ids = map_on(&pool, &range(0, 3000), &slow, None).unwrap();
        let mut seen: Vec<&Value> = ids.iter().filter(|v| **v != Value::Int(-1)).collect();
        seen.sort_by_key(|v| v.to_string());
        seen.dedup();
        assert_eq!(seen.len(), workers, "{workers}: {seen:?}");
        // Reduce keeps order; the first error is the lowest.
        let words = Value::list((0..3000).map(|i| Value::str(format!("{i},"))).collect());
        let identity = Value::str("");
        let joined = reduce_on(&pool, &words, &concat, None, &identity, None).unwrap();
        let want: String = (0..3000).map(|i| format!("{i},")).collect();
        assert_eq!(joined, Value::str(want));
        let failing = script_value(
            "fn g(x) { if x == 2500 or x == 29000 { throw str(x) }; x }",
            "g",
        );
        let err = map_on(&pool, &range(0, n), &failing, None).unwrap_err();
        assert_eq!(err.message(), "2500");
    }
}

/// Pool workers that have started an item of `coarse_who` (the barrier the
/// caller's item waits at), and whether the caller's wait was met.
static COARSE_STARTED: AtomicUsize = AtomicUsize::new(0);
static COARSE_WANTED: AtomicUsize = AtomicUsize::new(0);
static COARSE_MET: AtomicBool = AtomicBool::new(false);

/// A coarse item (30 ms asleep) returning the pool thread it ran on (-1:
/// the caller). The caller's item first waits (up to 10 s) until
/// `COARSE_WANTED` workers have started items: it can only get there if
/// workers help while the caller runs its first item.
fn coarse_who(_: &mut Vm, _: &[Value]) -> Result<Value> {
    let who = current_worker_index();
    match who {
        Some(_) => {
            COARSE_STARTED.fetch_add(1, Ordering::SeqCst);
        }
        None => {
            let deadline = Instant::now() + Duration::from_secs(10);
            let wanted = COARSE_WANTED.load(Ordering::SeqCst);
            while COARSE_STARTED.load(Ordering::SeqCst) < wanted && Instant::now() < deadline {
                std::thread::sleep(Duration::from_micros(200));
            }
            COARSE_MET.store(
                COARSE_STARTED.load(Ordering::SeqCst) >= wanted,
                Ordering::SeqCst,
            );
        }
    }
    std::thread::sleep(Duration::from_millis(30));
    Ok(Value::Int(who.map_or(-1, |i| i as i64)))
}
static COARSE_WHO: NativeFn = NativeFn {
    name: "coarse_who",
    f: coarse_who,
};

#[test]
fn coarse_items_from_outside_the_pool_split_evenly() {
    // 16 items of 30 ms from the test thread (outside the pool): while the
    // caller runs its first item, `workers - 1` workers run items too (the
    // caller counts as one thread), and every worker runs items. How many
    // each runs after that depends on the OS scheduler: on a loaded machine
    // a worker that is not given a core for an item's time leaves its items
    // to the others (seen: 6 items on one of 4 workers at load 24), so the
    // bound per thread is twice the even share: it catches one thread
    // running most of the items; that helpers start while the caller runs
    // its first item is what `COARSE_MET` checks.
    let f = Value::Native(&COARSE_WHO);
    let n = 16;
    for workers in [2, 4, 8] {
        let pool = pool(workers);
        COARSE_STARTED.store(0, Ordering::SeqCst);
        COARSE_WANTED.store(workers - 1, Ordering::SeqCst);
        COARSE_MET.store(false, Ordering::SeqCst);
        let out = map_on(&pool, &range(0, n), &f, None).unwrap();
        assert!(
            COARSE_MET.load(Ordering::SeqCst),
            "{workers} workers: fewer than {} workers ran items while the caller ran its first",
            workers - 1
        );
        let mut per_thread = std::collections::BTreeMap::new();
        for v in &out {
            let Value::Int(w) = v else { panic!("{v:?}") };
            *per_thread.entry(*w).or_insert(0usize) += 1;
        }
        assert_eq!(per_thread.values().sum::<usize>(), n as usize);
        assert_eq!(per_thread.get(&-1), Some(&1), "{workers}: {per_thread:?}");
        let share = (n as usize).div_ceil(workers);
        for (w, k) in &per_thread {
            assert!(
                *k <= 2 * share,
                "{workers} workers: thread {w} ran {k} items: {per_thread:?}"
            );
        }
        assert_eq!(per_thread.len(), workers + 1, "{workers}: {per_thread:?}");
    }
}

/// How long `sleepy` sleeps, in microseconds.
static SLEEPY_US: AtomicUsize = AtomicUsize::new(0);

fn sleepy(_: &mut Vm, _: &[Value]) -> Result<Value> {
    let us = SLEEPY_US.load(Ordering::SeqCst) as u64;
    if us > 0 {
        std::thread::sleep(Duration::from_micros(us));
    }
    Ok(Value::Nil)
}
static SLEEPY: NativeFn = NativeFn {
    name: "sleepy",
    f: sleepy,
};

/// Runs `map_on` of `n` instant items of `f` until the call ran inline
/// (done while measuring, with no help), at most 100 times: a caller
/// preempted while it measures the first item (a loaded machine) sees it
/// take longer than the measuring budget and splits the call instead.
/// Returns whether an inline call was remembered.
fn inline_call_remembered(pool: &ThreadPool, n: i64, f: &Value) -> bool {
    use super::offer::ran_inline_last;
    (0..100).any(|_| {
        assert_eq!(
            map_on(pool, &range(0, n), f, None).unwrap().len(),
            n as usize
        );
        ran_inline_last(f)
    })
}

#[test]
fn a_function_whose_last_call_ran_inline_is_not_offered_until_a_call_splits() {
    use super::offer::ran_inline_last;
    let pool = pool(2);
    let f = Value::Native(&SLEEPY);
    assert!(!ran_inline_last(&f), "nothing ran yet");
    // Four instant items: done while measuring, on the caller.
    SLEEPY_US.store(0, Ordering::SeqCst);
    assert!(
        inline_call_remembered(&pool, 4, &f),
        "an inline call is remembered"
    );
    // The same function with 5 ms items splits (whatever the load: the
    // first item alone outlasts the measuring budget, and the rest is
    // worth splitting): forgotten.
    SLEEPY_US.store(5_000, Ordering::SeqCst);
    assert_eq!(map_on(&pool, &range(0, 8), &f, None).unwrap().len(), 8);
    assert!(!ran_inline_last(&f), "a call that split is not inline");
    // Another function's inline call does not count for this one.
    assert!(inline_call_remembered(&pool, 4, &Value::Native(&WHO)));
    assert!(!ran_inline_last(&f));
}
