//! Data parallelism (ASYNC.md, "Data parallelism"): `parallel_map`,
//! `parallel_filter`, `parallel_for_each`, `parallel_reduce`.
//!
//! Each takes a list, a range (never materialised) or a string (its
//! characters), keeps input order, and throws the first error in input
//! order once the rest of the work has stopped. How a call is cut up and
//! where its results go is in [`drive`]; which error wins is in
//! [`failure`].
//!
//! Each thread that runs items calls the function with a VM of its own
//! ([`crate::vm::with_vm`]); the calling thread uses the VM it was called
//! from. Nested calls (inside a task, or inside another call's function)
//! join on the pool, whose waiting is help-first, so they cannot deadlock,
//! even with one worker.
//!
//! DECISIONS where ASYNC.md is silent:
//! - All four take an optional last argument `opts`, a map (or `nil`):
//!   `chunk_size` (an int ≥ 1, else `ValueError`; not an int: `TypeError`)
//!   cuts the input into fixed chunks of that many items, one per leaf,
//!   and always uses the pool when there is more than one chunk;
//!   `progress` (a bool) shows a bar on stderr if it is a terminal. Any
//!   other key is a `ValueError` naming it.
//! - The input is checked first, then the function, then `opts`; a bad
//!   input is a `TypeError` (maps are not accepted: their order is not an
//!   index).
//! - `parallel_reduce` combines with `f(left, right)`; when `f` fails while
//!   combining two parts, the error is ranked at the first item of the
//!   right part. Each part folds from `identity`, so `identity` must be
//!   the identity of `f` for the result to equal the sequential fold.
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
mod progress;

#[cfg(test)]
mod test;

use self::drive::{Call, Op};
use self::input::Input;
use self::progress::Progress;
use super::args::{self, arity};
use crate::error::{Error, Result};
use crate::ops::try_vec;
use crate::value::{NativeFn, Value};
use crate::vm::Vm;

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
];

/// The options map of a call.
#[derive(Debug, Default)]
struct Options {
    chunk_size: Option<usize>,
    progress: bool,
}

impl Options {
    /// Option keys, in the order error messages list them.
    const KEYS: [&'static str; 2] = ["chunk_size", "progress"];

    /// Reads `opts` (absent or `nil`: the defaults).
    fn parse(func: &str, opts: Option<&Value>) -> Result<Options> {
        let mut options = Options::default();
        let map = match opts {
            None | Some(Value::Nil) => return Ok(options),
            Some(Value::Map(m)) => m,
            Some(other) => return Err(args::type_error(func, "options", "a map", other)),
        };
        for (key, value) in map.iter() {
            match &key.0 {
                Value::Str(k) if k.as_str() == "chunk_size" => {
                    let c = args::int(func, "option chunk_size", value)?;
                    if c < 1 {
                        return Err(Error::value_error(format!(
                            "{func}() option chunk_size must be at least 1, not {c}"
                        )));
                    }
                    options.chunk_size = Some(usize::try_from(c).unwrap_or(usize::MAX));
                }
                Value::Str(k) if k.as_str() == "progress" => match value {
                    Value::Bool(b) => options.progress = *b,
                    other => {
                        return Err(args::type_error(func, "option progress", "a bool", other))
                    }
                },
                other => return Err(unknown_option(func, other)),
            }
        }
        Ok(options)
    }
}

/// The `ValueError` for an option key that is not one of [`Options::KEYS`],
/// suggesting the closest one.
#[cold]
fn unknown_option(func: &str, key: &Value) -> Error {
    let (name, hint) = match key {
        Value::Str(s) => {
            let closest = Options::KEYS
                .iter()
                .map(|k| (strsim::jaro_winkler(s, k), *k))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .filter(|(score, _)| *score >= 0.8);
            (format!("'{s}'"), closest.map(|(_, k)| k))
        }
        other => (other.repr(), None),
    };
    let help = match hint {
        Some(k) => format!("did you mean '{k}'?"),
        None => format!("known: {}", Options::KEYS.join(", ")),
    };
    Error::value_error(format!("{func}() got an unknown option {name} ({help})"))
}

/// What every call checks first: the input, the function, the options.
fn prepare(func: &str, input: &Value, f: &Value, opts: Option<&Value>) -> Result<(Input, Options)> {
    let input = Input::new(func, input)?;
    args::callable(func, "second argument", f)?;
    let options = Options::parse(func, opts)?;
    Ok((input, options))
}

/// Runs `op` over `input`, with one output slot per item when `slots`.
fn run(
    vm: &mut Vm,
    func: &str,
    input: &Input,
    op: Op<'_>,
    options: &Options,
    out: Option<&mut Vec<Value>>,
) -> Result<Value> {
    if input.len() == 0 {
        return Ok(match op {
            Op::Reduce { identity, .. } => identity.clone(),
            _ => Value::Nil,
        });
    }
    let progress = if options.progress {
        Progress::start(func, input.len())
    } else {
        None
    };
    Call::new(vm, input, op, options.chunk_size, progress).run(vm, out)
}

/// `parallel_map(xs, f, opts?)`: `[f(x) for x in xs]`.
fn parallel_map(vm: &mut Vm, a: &[Value]) -> Result<Value> {
    const NAME: &str = "parallel_map";
    if let Some(r) = crate::mpi::dispatch(vm, crate::mpi::Kind::Map, a) {
        return r;
    }
    arity(NAME, a, 2, 3)?;
    let (input, options) = prepare(NAME, &a[0], &a[1], a.get(2))?;
    let mut out = try_vec(input.len())?;
    run(vm, NAME, &input, Op::Map(&a[1]), &options, Some(&mut out))?;
    Ok(Value::list(out))
}

/// `parallel_filter(xs, pred, opts?)`: the items for which `pred` is truthy.
fn parallel_filter(vm: &mut Vm, a: &[Value]) -> Result<Value> {
    const NAME: &str = "parallel_filter";
    if let Some(r) = crate::mpi::dispatch(vm, crate::mpi::Kind::Filter, a) {
        return r;
    }
    arity(NAME, a, 2, 3)?;
    let (input, options) = prepare(NAME, &a[0], &a[1], a.get(2))?;
    let mut keep = try_vec(input.len())?;
    run(
        vm,
        NAME,
        &input,
        Op::Filter(&a[1]),
        &options,
        Some(&mut keep),
    )?;
    let mut out = Vec::new();
    for (i, k) in keep.iter().enumerate() {
        if k.truthy() {
            out.push(input.get(i));
        }
    }
    Ok(Value::list(out))
}

/// `parallel_for_each(xs, f, opts?)`: calls `f` on every item; `nil`.
fn parallel_for_each(vm: &mut Vm, a: &[Value]) -> Result<Value> {
    const NAME: &str = "parallel_for_each";
    if let Some(r) = crate::mpi::dispatch(vm, crate::mpi::Kind::ForEach, a) {
        return r;
    }
    arity(NAME, a, 2, 3)?;
    let (input, options) = prepare(NAME, &a[0], &a[1], a.get(2))?;
    run(vm, NAME, &input, Op::ForEach(&a[1]), &options, None)?;
    Ok(Value::Nil)
}

/// `parallel_reduce(xs, f, identity, opts?)`: the items combined with `f`
/// in a tree, each part folded from `identity`.
fn parallel_reduce(vm: &mut Vm, a: &[Value]) -> Result<Value> {
    const NAME: &str = "parallel_reduce";
    arity(NAME, a, 3, 4)?;
    let (input, options) = prepare(NAME, &a[0], &a[1], a.get(3))?;
    let op = Op::Reduce {
        f: &a[1],
        identity: &a[2],
    };
    run(vm, NAME, &input, op, &options, None)
}
