//! The core global builtins: `len type str int float range list abs min max
//! sum sorted enumerate zip assert any all reversed ord chr`.
//!
//! Decisions where LANGUAGE.md is silent (Python's unless noted):
//! - `min(xs, key_fn)` / `max(xs, key_fn)`: two arguments whose second is a
//!   function take the key form; the first item with the smallest (largest)
//!   key wins; an empty iterable is a `ValueError`.
//! - `any(xs)` / `all(xs)` take any iterable and test truthiness; `any([])`
//!   is false, `all([])` true.
//! - `reversed(xs)` is a new list (of a list's items, a range's ints, a
//!   string's characters, a map's keys).
//! - `ord(c)` needs a one-character string (`TypeError` for another type,
//!   `ValueError` for another length); `chr(i)` needs an int that is a
//!   Unicode scalar value (0 to 0x10FFFF, not a surrogate), else
//!   `ValueError`.

use super::args::{self, arity};
use super::channel::{park_to_drain, Drains};
use super::sort;
use crate::ast::BinOp;
use crate::error::{Error, ErrorKind, Result};
use crate::ops;
use crate::value::{NativeFn, RangeVal, Str, Value};
use crate::vm::Vm;
use std::sync::{Arc, OnceLock};

/// The table of this file's builtins.
pub(crate) static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "len",
        f: len,
    },
    NativeFn {
        name: "type",
        f: type_of,
    },
    NativeFn {
        name: "str",
        f: str,
    },
    NativeFn {
        name: "int",
        f: int,
    },
    NativeFn {
        name: "float",
        f: float,
    },
    NativeFn {
        name: "range",
        f: range,
    },
    NativeFn {
        name: "list",
        f: list,
    },
    NativeFn {
        name: "abs",
        f: abs,
    },
    NativeFn {
        name: "min",
        f: min,
    },
    NativeFn {
        name: "max",
        f: max,
    },
    NativeFn {
        name: "sum",
        f: sum,
    },
    NativeFn {
        name: "sorted",
        f: sorted,
    },
    NativeFn {
        name: "enumerate",
        f: enumerate,
    },
    NativeFn {
        name: "zip",
        f: zip,
    },
    NativeFn {
        name: "assert",
        f: assert,
    },
    NativeFn {
        name: "any",
        f: any,
    },
    NativeFn {
        name: "all",
        f: all,
    },
    NativeFn {
        name: "reversed",
        f: reversed,
    },
    NativeFn {
        name: "ord",
        f: ord,
    },
    NativeFn {
        name: "chr",
        f: chr,
    },
];

/// `len(x)`: characters of a string, items of a list, map or range.
fn len(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("len", args, 1, 1)?;
    ops::len(&args[0]).map(Value::Int)
}

/// `type(x)`: the type's name.
fn type_of(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("type", args, 1, 1)?;
    Ok(type_name_value(args[0].type_name()))
}

/// The type names as shared string values, so `type(x) == "int"` in a loop
/// does not allocate.
fn type_name_value(name: &'static str) -> Value {
    const NAMES: [&str; 9] = [
        "nil", "bool", "int", "float", "string", "list", "map", "range", "function",
    ];
    static VALUES: OnceLock<Vec<Value>> = OnceLock::new();
    let values = VALUES.get_or_init(|| NAMES.iter().map(|n| Value::str(*n)).collect());
    match NAMES.iter().position(|n| *n == name) {
        Some(i) => values[i].clone(),
        None => Value::str(name),
    }
}

/// `str(x)`: the printed form.
fn str(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("str", args, 1, 1)?;
    Ok(match &args[0] {
        Value::Str(s) => Value::Str(s.clone()),
        Value::Int(i) => Value::Str(Str::from_int(*i)),
        other => Value::str(other.to_string()),
    })
}

/// `int(x)`: ints as they are, floats truncated, bools as 0/1, strings
/// parsed as decimal (surrounding whitespace, a sign and `_` between digits
/// allowed).
fn int(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("int", args, 1, 1)?;
    match &args[0] {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Float(f) => float_to_int(*f, f.trunc()).map(Value::Int),
        Value::Bool(b) => Ok(Value::Int(*b as i64)),
        Value::Str(s) => parse_int(s).map(Value::Int),
        // LANGUAGE.md: "int(x) (truncates floats, parses strings, else ValueError)".
        other => Err(Error::value_error(format!(
            "int() takes a number or a string, not a {}",
            other.type_name()
        ))),
    }
}

/// Converts the already-rounded float `whole` (computed from `f`) to an int.
pub(crate) fn float_to_int(f: f64, whole: f64) -> Result<i64> {
    if f.is_nan() {
        return Err(Error::value_error("cannot convert float nan to int"));
    }
    if f.is_infinite() {
        return Err(Error::new(
            ErrorKind::OverflowError,
            "cannot convert float infinity to int",
        ));
    }
    // i64 covers [-2^63, 2^63).
    if !(-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&whole) {
        return Err(Error::new(
            ErrorKind::OverflowError,
            format!(
                "float {} is too large for an int",
                crate::value::format_float(f)
            ),
        ));
    }
    Ok(whole as i64)
}

/// Digits with single underscores between them, as in Python literals.
fn valid_underscores(digits: &str) -> bool {
    !digits.starts_with('_') && !digits.ends_with('_') && !digits.contains("__")
}

fn parse_int(s: &str) -> Result<i64> {
    let bad = || {
        Error::value_error(format!(
            "invalid literal for int(): {}",
            Value::str(s).repr()
        ))
    };
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        || !valid_underscores(digits)
    {
        return Err(bad());
    }
    let mut clean = String::with_capacity(digits.len() + 1);
    if neg {
        clean.push('-');
    }
    clean.extend(digits.chars().filter(|c| *c != '_'));
    clean.parse::<i64>().map_err(|_| {
        Error::new(
            ErrorKind::OverflowError,
            format!("int(): {} does not fit in a 64-bit int", t),
        )
    })
}

/// `float(x)`: numbers converted, bools as 0.0/1.0, strings parsed
/// (`"1.5"`, `"1e-9"`, `"inf"`, `"nan"`, `_` between digits).
fn float(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("float", args, 1, 1)?;
    match &args[0] {
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::Float(f) => Ok(Value::Float(*f)),
        Value::Bool(b) => Ok(Value::Float(*b as i64 as f64)),
        Value::Str(s) => parse_float(s).map(Value::Float),
        other => Err(args::type_error(
            "float",
            "argument",
            "a number or a string",
            other,
        )),
    }
}

pub(crate) fn parse_float(s: &str) -> Result<f64> {
    let bad = || {
        Error::value_error(format!(
            "invalid literal for float(): {}",
            Value::str(s).repr()
        ))
    };
    let t = s.trim();
    if t.contains('_') {
        // Each underscore must sit between two digits.
        let b = t.as_bytes();
        let ok = b.iter().enumerate().all(|(i, c)| {
            *c != b'_'
                || (i > 0
                    && i + 1 < b.len()
                    && b[i - 1].is_ascii_digit()
                    && b[i + 1].is_ascii_digit())
        });
        if !ok {
            return Err(bad());
        }
        return t.replace('_', "").parse::<f64>().map_err(|_| bad());
    }
    t.parse::<f64>().map_err(|_| bad())
}

/// `range(stop)`, `range(start, stop)`, `range(start, stop, step)`.
fn range(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("range", args, 1, 3)?;
    let int = |i: usize, what: &str| args::int("range", what, &args[i]);
    let (start, stop, step) = match args.len() {
        1 => (0, int(0, "stop")?, 1),
        2 => (int(0, "start")?, int(1, "stop")?, 1),
        _ => (int(0, "start")?, int(1, "stop")?, int(2, "step")?),
    };
    if step == 0 {
        return Err(Error::value_error("range() step must not be zero"));
    }
    Ok(Value::Range(Arc::new(RangeVal { start, stop, step })))
}

/// `list()` / `list(iterable)`: a list of the items.
fn list(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("list", args, 0, 1)?;
    if let Some(r) = park_to_drain(vm, "list", list, args, Drains::First) {
        return r;
    }
    match args.first() {
        None => Ok(Value::list(Vec::new())),
        Some(Value::List(xs)) => Ok(Value::List(xs.clone())),
        Some(v) => args::collect("list", "argument", v).map(Value::list),
    }
}

/// `abs(x)` for numbers.
fn abs(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("abs", args, 1, 1)?;
    match &args[0] {
        Value::Int(i) => i
            .checked_abs()
            .map(Value::Int)
            .ok_or_else(|| Error::new(ErrorKind::OverflowError, "integer overflow in abs()")),
        Value::Float(f) => Ok(Value::Float(f.abs())),
        other => Err(args::type_error("abs", "argument", "a number", other)),
    }
}

/// The values `min`/`max`/`sum` work on: one iterable argument, or several
/// arguments.
fn operands<'a>(func: &str, args: &'a [Value]) -> Result<args::Items<'a>> {
    match args {
        [] => Err(args::arity_error(func, 0, 1, usize::MAX)),
        [one] => args::items(func, "argument", one),
        many => Ok(args::Items::List(many.iter())),
    }
}

/// `min(xs)` / `min(a, b, ...)` / `min(xs, key_fn)`: the first smallest item.
fn min(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    if let [Value::Range(r)] = args {
        return range_end(r, "min", r.step > 0);
    }
    if drains_first(args) {
        if let Some(r) = park_to_drain(vm, "min", min, args, Drains::First) {
            return r;
        }
    }
    if let [xs, key @ (Value::Func(_) | Value::Native(_))] = args {
        return extreme_by_key(vm, "min", xs, key, BinOp::Lt);
    }
    extreme("min", args, BinOp::Lt)
}

/// `max(xs)` / `max(a, b, ...)` / `max(xs, key_fn)`: the first largest item.
fn max(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    if let [Value::Range(r)] = args {
        return range_end(r, "max", r.step < 0);
    }
    if drains_first(args) {
        if let Some(r) = park_to_drain(vm, "max", max, args, Drains::First) {
            return r;
        }
    }
    if let [xs, key @ (Value::Func(_) | Value::Native(_))] = args {
        return extreme_by_key(vm, "max", xs, key, BinOp::Gt);
    }
    extreme("max", args, BinOp::Gt)
}

/// Whether `min`/`max` take their first argument as an iterable (alone, or
/// with a key function), so a channel there is drained.
fn drains_first(args: &[Value]) -> bool {
    matches!(
        args,
        [Value::Channel(_)] | [Value::Channel(_), Value::Func(_) | Value::Native(_)]
    )
}

/// The first item of `xs` whose `key(item)` is `better` than every other.
fn extreme_by_key(
    vm: &mut Vm,
    func: &str,
    xs: &Value,
    key: &Value,
    better: BinOp,
) -> Result<Value> {
    let mut it = args::items(func, "first argument", xs)?;
    let first = it.next().ok_or_else(|| empty(func))?;
    let mut best_key = args::call(vm, key, std::slice::from_ref(&first))?;
    let mut best = first;
    for x in it {
        let k = args::call(vm, key, std::slice::from_ref(&x))?;
        if ops::binary(better, &k, &best_key)?.truthy() {
            best = x;
            best_key = k;
        }
    }
    Ok(best)
}

/// The first (`first`) or last item of a range, O(1).
fn range_end(r: &RangeVal, func: &str, first: bool) -> Result<Value> {
    if r.is_empty() {
        return Err(empty(func));
    }
    Ok(Value::Int(if first {
        r.start
    } else {
        r.get_i128(r.len_i128() - 1)
    }))
}

#[cold]
fn empty(func: &str) -> Error {
    Error::value_error(format!("{func}() of an empty sequence"))
}

fn extreme(func: &str, args: &[Value], better: BinOp) -> Result<Value> {
    let mut it = operands(func, args)?;
    let mut best = it.next().ok_or_else(|| empty(func))?;
    for x in it {
        if ops::binary(better, &x, &best)?.truthy() {
            best = x;
        }
    }
    Ok(best)
}

/// `sum(xs)` / `sum(a, b, ...)`: the items added with `+`, starting from 0
/// (so `sum([])` is 0).
fn sum(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    if let [Value::Range(r)] = args {
        return range_sum(r);
    }
    if let [Value::Channel(_)] = args {
        if let Some(r) = park_to_drain(vm, "sum", sum, args, Drains::First) {
            return r;
        }
    }
    let mut acc = Value::Int(0);
    for x in operands("sum", args)? {
        acc = match (&acc, &x) {
            (Value::Int(a), Value::Int(b)) => match a.checked_add(*b) {
                Some(s) => Value::Int(s),
                None => ops::binary(BinOp::Add, &acc, &x)?,
            },
            (Value::Float(a), Value::Float(b)) => Value::Float(a + b),
            _ => ops::binary(BinOp::Add, &acc, &x)?,
        };
    }
    Ok(acc)
}

/// `sum(range(...))` in O(1).
fn range_sum(r: &RangeVal) -> Result<Value> {
    // n < 2^64, so n * (n - 1) / 2 < 2^127 fits an i128 when the halving
    // comes first; the products are checked all the same.
    let n = r.len_i128();
    let pairs = if n % 2 == 0 {
        (n / 2) * (n - 1).max(0)
    } else {
        n * ((n - 1) / 2)
    };
    let total = n
        .checked_mul(r.start as i128)
        .zip((r.step as i128).checked_mul(pairs))
        .and_then(|(a, b)| a.checked_add(b));
    total
        .and_then(|t| i64::try_from(t).ok())
        .map(Value::Int)
        .ok_or_else(|| Error::new(ErrorKind::OverflowError, "integer overflow in sum()"))
}

/// `sorted(xs)` / `sorted(xs, key_fn)` / `sorted(xs, key_fn, reverse)`: a
/// new sorted list (stable; `key_fn` may be `nil`).
fn sorted(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("sorted", args, 1, 3)?;
    let (key, reverse) = sort::options("sorted", &args[1..])?;
    if let Some(r) = park_to_drain(vm, "sorted", sorted, args, Drains::First) {
        return r;
    }
    let mut xs = args::collect("sorted", "argument", &args[0])?;
    if key.is_none() && !reverse {
        sort::sort_values(&mut xs)?;
        return Ok(Value::list(xs));
    }
    sort::sorted_with(vm, &xs, key, reverse).map(Value::list)
}

/// `enumerate(xs)` / `enumerate(xs, start)`: a list of `[i, x]`.
fn enumerate(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("enumerate", args, 1, 2)?;
    let start = match args.get(1) {
        Some(v) => args::int("enumerate", "start", v)?,
        None => 0,
    };
    if let Some(r) = park_to_drain(vm, "enumerate", enumerate, args, Drains::First) {
        return r;
    }
    let it = args::items("enumerate", "argument", &args[0])?;
    let mut out = ops::try_vec(it.size_hint().0)?;
    for (i, x) in it.enumerate() {
        let n = start.checked_add(i as i64).ok_or_else(|| {
            Error::new(ErrorKind::OverflowError, "integer overflow in enumerate()")
        })?;
        out.push(Value::list(vec![Value::Int(n), x]));
    }
    Ok(Value::list(out))
}

/// `zip(a, b, ...)`: a list of `[a[i], b[i], ...]`, as long as the shortest.
fn zip(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("zip", args, 1, usize::MAX)?;
    if args.iter().any(|a| matches!(a, Value::Channel(_))) {
        // Every other argument checked first: a bad call takes no value.
        for a in args {
            if !matches!(a, Value::Channel(_)) {
                args::items("zip", "argument", a)?;
            }
        }
        if let Some(r) = park_to_drain(vm, "zip", zip, args, Drains::All) {
            return r;
        }
    }
    let mut its = args
        .iter()
        .map(|a| args::items("zip", "argument", a))
        .collect::<Result<Vec<_>>>()?;
    let n = its.iter().map(|it| it.size_hint().0).min().unwrap_or(0);
    let mut out = ops::try_vec(n)?;
    'outer: loop {
        let mut row = Vec::with_capacity(its.len());
        for it in &mut its {
            match it.next() {
                Some(x) => row.push(x),
                None => break 'outer,
            }
        }
        out.push(Value::list(row));
    }
    Ok(Value::list(out))
}

/// `assert(cond, message?)`: `AssertionError` when `cond` is falsy.
fn assert(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("assert", args, 1, 2)?;
    if args[0].truthy() {
        return Ok(Value::Nil);
    }
    let message = match args.get(1) {
        Some(m) => m.to_string(),
        None => "assertion failed".to_string(),
    };
    Err(Error::new(ErrorKind::AssertionError, message))
}

/// `any(xs)`: whether some item is truthy.
fn any(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("any", args, 1, 1)?;
    if let Some(r) = park_to_drain(vm, "any", any, args, Drains::First) {
        return r;
    }
    let mut it = args::items("any", "argument", &args[0])?;
    Ok(Value::Bool(it.any(|x| x.truthy())))
}

/// `all(xs)`: whether every item is truthy.
fn all(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("all", args, 1, 1)?;
    if let Some(r) = park_to_drain(vm, "all", all, args, Drains::First) {
        return r;
    }
    let mut it = args::items("all", "argument", &args[0])?;
    Ok(Value::Bool(it.all(|x| x.truthy())))
}

/// `reversed(xs)`: a new list of the items in reverse order.
fn reversed(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("reversed", args, 1, 1)?;
    if let Some(r) = park_to_drain(vm, "reversed", reversed, args, Drains::First) {
        return r;
    }
    let mut xs = args::collect("reversed", "argument", &args[0])?;
    xs.reverse();
    Ok(Value::list(xs))
}

/// `ord(c)`: the code point of a one-character string.
fn ord(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("ord", args, 1, 1)?;
    let s = args::string("ord", "argument", &args[0])?;
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => Ok(Value::Int(c as i64)),
        _ => Err(Error::value_error(format!(
            "ord() expected a string of one character, but the string has {}",
            s.chars().count()
        ))),
    }
}

/// `chr(i)`: the one-character string of code point `i`.
fn chr(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("chr", args, 1, 1)?;
    let i = args::int("chr", "argument", &args[0])?;
    u32::try_from(i)
        .ok()
        .and_then(char::from_u32)
        .map(|c| Value::str(c.to_string()))
        .ok_or_else(|| {
            Error::value_error(format!(
                "chr() argument {i} is not a Unicode code point (0 to 0x10FFFF, not a surrogate)"
            ))
        })
}
