//! Data parallelism (ASYNC.md, "Data parallelism"): `parallel_map`,
//! `parallel_filter`, `parallel_for_each`, `parallel_reduce`,
//! `parallel_fold`. The user reference is `docs/parallel.md`.
//!
//! Each takes a list, a range (never materialised), a string (its
//! characters) or a channel (a stream), and an options map
//! ([`options`]). Over a list, range or string:
//! - map, filter and for_each run on the caller and the pool, adaptively
//!   cut ([`drive`]); results are written in place, in input order.
//! - reduce and fold combine in a tree fixed by the input's length
//!   ([`tree`], [`reduce`]): the same bits for any worker count and run.
//!
//! Over a channel the call streams ([`stream`]): map and filter return an
//! output channel at once; memory stays bounded by `in_flight`.
//!
//! What the threads running one call's items share (the function, `init`
//! states, retries, failures, cancellation, the progress display) is a
//! [`work::Work`]. Which error wins is in [`failure`]. Each thread that
//! runs items calls the function with a VM of its own
//! ([`crate::vm::with_vm`]); the calling thread uses the VM it was called
//! from. Nested calls (inside a task, or inside another call's function)
//! join on the pool, whose waiting is help-first, so they cannot deadlock,
//! even with one worker.
//!
//! DECISIONS where ASYNC.md is silent:
//! - Every call takes an optional last argument `opts`, a map (or `nil`);
//!   see [`options`] for the keys and their errors.
//! - The input is checked first, then the function(s), then `opts`; a bad
//!   input is a `TypeError` (maps are not accepted: their order is not an
//!   index).
//! - `init`: the state is the first argument of the item function:
//!   `f(state, x)` for map, filter and for_each, `f(state, acc, x)` for
//!   reduce (also when `f` combines two parts: `f(state, a, b)`) and
//!   `step(state, acc, x)` for fold (`combine(a, b)` gets no state). A
//!   thread whose `init` throws fails every item it would run, with that
//!   error. `init` runs once per thread per call; if `init` itself waits
//!   and its thread runs items of the same call meanwhile (help-first),
//!   those get an `init` of their own.
//! - `errors: "collect"`: map returns `{"results": [...], "errors": [...]}`
//!   with nil for a failed item; filter's `results` holds the kept items (a
//!   failed item is not kept); for_each returns `{"results": nil, "errors":
//!   [...]}`; reduce and fold return `{"result": r, "errors": [...]}`, `r`
//!   leaving the failed items out. Errors are maps `{"index", "item",
//!   "error"}` in input order. A failing `combine` (not an item) and the
//!   caller's cancellation are thrown even then. Over a channel, map and
//!   filter emit one map `{"index": i, "item": x, "result": r, "error": e}`
//!   per item (`result` nil on failure, `error` nil on success; for filter
//!   `result` is whether the item is kept).
//! - `retries: n`: up to `n` more tries of an item that throws anything but
//!   `Cancelled`, at once, on the same thread with the same state.
//! - `parallel_reduce` combines with `f(left, right)`; when `f` fails while
//!   combining two parts, the error is ranked at the first item of the
//!   right part. Each leaf folds from `identity`, so `identity` must be the
//!   identity of `f` and `f` associative for the result to equal the
//!   sequential fold; `parallel_fold` is for a `step` that is not itself
//!   associative (counting, appending).
//! - Items after a failed item may or may not have run (their side effects
//!   may be seen); items before it all ran. The error thrown is the one of
//!   the lowest failing index, which makes it the same error a sequential
//!   loop would have thrown.
//! - An input whose measured work is small runs on the calling thread
//!   alone; at most [`drive::MEASURE_BUDGET`] (or one item, if an item
//!   takes longer) runs on the caller before the rest is split. Empty
//!   inputs call nothing (`parallel_reduce` returns `identity`).
//! - Items run with the caller's remaining call depth, so unbounded
//!   recursion through parallel calls is a `StackOverflow` naming the
//!   usual limit, as it is through `xs.map`.
//! - With `work_stealing = false` the items are cut into one part per
//!   worker (or the `chunk_size` chunks) and dealt round-robin: no
//!   adaptive splitting, by design of that mode.
//! - A string's characters are collected once into a vector (to index
//!   them from any thread); a range is never materialised.

mod drive;
mod failure;
mod input;
mod offer;
pub mod options;
mod progress;
mod reduce;
mod stats;
mod stream;
pub mod tree;
mod work;

#[cfg(all(test, loom))]
mod loom_test;
#[cfg(test)]
mod test;
#[cfg(test)]
mod test_v2;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use self::drive::{Call, Op};
use self::input::Input;
use self::options::{InputKind, Options};
use self::progress::Progress;
use self::reduce::Reduction;
use self::stats::CallStats;
use self::stream::StreamOp;
use self::work::Work;
use super::args::{self, arity};
use crate::error::Result;
use crate::map::Map;
use crate::ops::try_vec;
use crate::stdlib::channel::ChannelObj;
use crate::value::{Key, NativeFn, Value};
use crate::vm::Vm;

pub use progress::above_bar;
pub use stats::report as stats_report;

/// The data-parallel builtins (globals, and fields of the `async` module).
pub(crate) static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "parallel_map",
        f: parallel_map,
    },
    NativeFn {
        name: "parallel_filter",
        f: parallel_filter,
    },
    NativeFn {
        name: "parallel_for_each",
        f: parallel_for_each,
    },
    NativeFn {
        name: "parallel_reduce",
        f: parallel_reduce,
    },
    NativeFn {
        name: "parallel_fold",
        f: parallel_fold,
    },
];

/// A call's input.
enum Source {
    /// A list, range or string.
    Indexed(Input),
    /// A channel: the call streams.
    Channel(Arc<ChannelObj>),
}

/// What every call checks first: the input, the functions, the options.
fn prepare(
    func: &str,
    input: &Value,
    fns: &[(&str, &Value)],
    opts: Option<&Value>,
) -> Result<(Source, Options)> {
    let source = match input {
        Value::Channel(c) => Source::Channel(Arc::clone(c)),
        other => Source::Indexed(Input::new(func, other)?),
    };
    for (what, f) in fns {
        args::callable(func, what, f)?;
    }
    let kind = match source {
        Source::Channel(_) => InputKind::Channel,
        Source::Indexed(_) => InputKind::Indexed,
    };
    let options = Options::parse(func, opts, kind)?;
    Ok((source, options))
}

/// `{"results": results, "errors": [...]}` when failures are collected,
/// else `results`.
fn with_errors(work: &Work, key: &str, results: Value) -> Value {
    if !work.collects() {
        return results;
    }
    let mut m = Map::with_capacity(2);
    m.insert(Key::str(key), results);
    m.insert(Key::str("errors"), work.collected_value());
    Value::map(m)
}

/// map, filter or for_each over an indexable input: the results (one per
/// item for map and filter; filter's are keep flags), or the first error.
fn run_indexed(
    vm: &mut Vm,
    func: &'static str,
    input: &Input,
    f: &Value,
    op: Op,
    options: &Options,
) -> Result<(Work, Option<Vec<Value>>)> {
    let n = input.len();
    let stats = CallStats::new(vm);
    let progress = if options.progress && n > 0 {
        Progress::start(func, Some(n))
    } else {
        None
    };
    let work = Work::new(vm, f, options, progress);
    let mut out = match op {
        Op::ForEach => None,
        _ => Some(try_vec(n)?),
    };
    let r = if n == 0 {
        stats.ran_inline("empty input");
        Ok(())
    } else {
        Call::new(input, op, options.chunk_size, &work, &stats).run(vm, out.as_mut())
    };
    if let Some(p) = &work.progress {
        p.finish(r.is_ok());
    }
    stats.record(func, work.items_run.load(Ordering::Relaxed));
    r?;
    Ok((work, out))
}

/// `parallel_map(xs, f, opts?)`: `[f(x) for x in xs]`.
fn parallel_map(vm: &mut Vm, a: &[Value]) -> Result<Value> {
    const NAME: &str = "parallel_map";
    if let Some(r) = crate::mpi::dispatch(vm, crate::mpi::Kind::Map, a) {
        return r;
    }
    arity(NAME, a, 2, 3)?;
    let (source, options) = prepare(NAME, &a[0], &[("second argument", &a[1])], a.get(2))?;
    let input = match source {
        Source::Channel(ch) => return stream::run(vm, NAME, ch, &a[1], StreamOp::Map, &options),
        Source::Indexed(input) => input,
    };
    let (work, out) = run_indexed(vm, NAME, &input, &a[1], Op::Map, &options)?;
    let results = Value::list(out.unwrap_or_default());
    Ok(with_errors(&work, "results", results))
}

/// `parallel_filter(xs, pred, opts?)`: the items for which `pred` is truthy.
fn parallel_filter(vm: &mut Vm, a: &[Value]) -> Result<Value> {
    const NAME: &str = "parallel_filter";
    if let Some(r) = crate::mpi::dispatch(vm, crate::mpi::Kind::Filter, a) {
        return r;
    }
    arity(NAME, a, 2, 3)?;
    let (source, options) = prepare(NAME, &a[0], &[("second argument", &a[1])], a.get(2))?;
    let input = match source {
        Source::Channel(ch) => return stream::run(vm, NAME, ch, &a[1], StreamOp::Filter, &options),
        Source::Indexed(input) => input,
    };
    let (work, keep) = run_indexed(vm, NAME, &input, &a[1], Op::Filter, &options)?;
    let mut out = Vec::new();
    for (i, k) in keep.unwrap_or_default().iter().enumerate() {
        if k.truthy() {
            out.push(input.get(i));
        }
    }
    Ok(with_errors(&work, "results", Value::list(out)))
}

/// `parallel_for_each(xs, f, opts?)`: calls `f` on every item; `nil`.
fn parallel_for_each(vm: &mut Vm, a: &[Value]) -> Result<Value> {
    const NAME: &str = "parallel_for_each";
    if let Some(r) = crate::mpi::dispatch(vm, crate::mpi::Kind::ForEach, a) {
        return r;
    }
    arity(NAME, a, 2, 3)?;
    let (source, options) = prepare(NAME, &a[0], &[("second argument", &a[1])], a.get(2))?;
    let input = match source {
        Source::Channel(ch) => {
            return stream::run(vm, NAME, ch, &a[1], StreamOp::ForEach, &options)
        }
        Source::Indexed(input) => input,
    };
    let (work, _) = run_indexed(vm, NAME, &input, &a[1], Op::ForEach, &options)?;
    Ok(with_errors(&work, "results", Value::Nil))
}

/// `parallel_reduce(xs, f, identity, opts?)`: the items combined with `f`
/// in a tree fixed by the input's length.
fn parallel_reduce(vm: &mut Vm, a: &[Value]) -> Result<Value> {
    const NAME: &str = "parallel_reduce";
    if let Some(r) = crate::mpi::dispatch(vm, crate::mpi::Kind::Reduce, a) {
        return r;
    }
    arity(NAME, a, 3, 4)?;
    let (source, options) = prepare(NAME, &a[0], &[("second argument", &a[1])], a.get(3))?;
    reduce_or_fold(vm, NAME, source, &a[1], None, &a[2], &options)
}

/// `parallel_fold(xs, step, combine, identity, opts?)`: each leaf folded
/// in order with `step` from `identity`, leaves joined with `combine` in
/// the fixed tree.
fn parallel_fold(vm: &mut Vm, a: &[Value]) -> Result<Value> {
    const NAME: &str = "parallel_fold";
    if let Some(r) = crate::mpi::dispatch(vm, crate::mpi::Kind::Fold, a) {
        return r;
    }
    arity(NAME, a, 4, 5)?;
    let fns = [("second argument", &a[1]), ("third argument", &a[2])];
    let (source, options) = prepare(NAME, &a[0], &fns, a.get(4))?;
    reduce_or_fold(vm, NAME, source, &a[1], Some(&a[2]), &a[3], &options)
}

/// The body of `parallel_reduce` (`combine` is `None`) and `parallel_fold`.
fn reduce_or_fold(
    vm: &mut Vm,
    func: &'static str,
    source: Source,
    f: &Value,
    combine: Option<&Value>,
    identity: &Value,
    options: &Options,
) -> Result<Value> {
    let input = match source {
        Source::Channel(ch) => {
            let op = StreamOp::Reduce {
                identity: identity.clone(),
                combine: combine.cloned(),
            };
            return stream::run(vm, func, ch, f, op, options);
        }
        Source::Indexed(input) => input,
    };
    let n = input.len();
    let stats = CallStats::new(vm);
    let progress = if options.progress && n > 0 {
        Progress::start(func, Some(n))
    } else {
        None
    };
    let work = Work::new(vm, f, options, progress);
    if n == 0 {
        stats.ran_inline("empty input");
    }
    let r = Reduction::new(&input, &work, identity, combine, options.chunk_size, &stats)
        .run(vm, crate::runtime::pool);
    if let Some(p) = &work.progress {
        p.finish(r.is_ok());
    }
    stats.record(func, work.items_run.load(Ordering::Relaxed));
    Ok(with_errors(&work, "result", r?))
}
