//! Argument checking shared by every builtin and method: arity, types,
//! iteration over the iterable types, and calling a callback.
//!
//! Every failure here is `#[cold]` and names the function it happened in,
//! e.g. `list.push() takes 1 argument (2 given)`.

use crate::error::{Error, Result};
use crate::value::{Key, Value};
use crate::vm::Vm;

/// Checks that `args` has between `min` and `max` items (`usize::MAX` means
/// no upper bound). `func` is shown as `func()`.
#[inline]
pub(crate) fn arity(func: &str, args: &[Value], min: usize, max: usize) -> Result<()> {
    if args.len() < min || args.len() > max {
        return Err(arity_error(func, args.len(), min, max));
    }
    Ok(())
}

#[cold]
pub(crate) fn arity_error(func: &str, given: usize, min: usize, max: usize) -> Error {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    let takes = if max == usize::MAX {
        format!("at least {min} {}", plural(min))
    } else if min == max && min == 0 {
        "no arguments".to_string()
    } else if min == max {
        format!("{min} {}", plural(min))
    } else if max == min + 1 {
        format!("{min} or {max} arguments")
    } else {
        format!("{min} to {max} arguments")
    };
    Error::type_error(format!("{func}() takes {takes} ({given} given)"))
}

/// A `TypeError` saying `func()`'s `what` must be `want`, not `v`'s type.
#[cold]
pub(crate) fn type_error(func: &str, what: &str, want: &str, v: &Value) -> Error {
    Error::type_error(format!(
        "{func}() {what} must be {want}, not {}",
        article(v.type_name())
    ))
}

/// `"1 item"`, `"2 items"`: a count and its noun, singular for exactly one
/// (the noun's plural adds an `s`).
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `"an int"`, `"a string"`.
pub(crate) fn article(type_name: &str) -> String {
    match type_name.as_bytes().first() {
        Some(b'a' | b'e' | b'i' | b'o' | b'u') => format!("an {type_name}"),
        _ => format!("a {type_name}"),
    }
}

/// An int argument.
#[inline]
pub(crate) fn int(func: &str, what: &str, v: &Value) -> Result<i64> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(type_error(func, what, "an int", other)),
    }
}

/// A number argument (int or float) as a float.
#[inline]
pub(crate) fn number(func: &str, what: &str, v: &Value) -> Result<f64> {
    match v {
        Value::Int(i) => Ok(*i as f64),
        Value::Float(f) => Ok(*f),
        other => Err(type_error(func, what, "a number", other)),
    }
}

/// A string argument.
#[inline]
pub(crate) fn string<'a>(func: &str, what: &str, v: &'a Value) -> Result<&'a str> {
    match v {
        Value::Str(s) => Ok(s.as_str()),
        other => Err(type_error(func, what, "a string", other)),
    }
}

/// A map key argument.
pub(crate) fn key(v: &Value) -> Result<Key> {
    Key::new(v.clone())
}

/// Checks that `v` can be called (a Weft function or a native one).
pub(crate) fn callable(func: &str, what: &str, v: &Value) -> Result<()> {
    match v {
        Value::Func(_) | Value::Native(_) => Ok(()),
        other => Err(type_error(func, what, "a function", other)),
    }
}

/// Calls a callback. Native functions are called directly; Weft functions go
/// through the VM.
#[inline]
pub(crate) fn call(vm: &mut Vm, f: &Value, args: &[Value]) -> Result<Value> {
    match f {
        Value::Native(n) => (n.f)(vm, args),
        _ => vm.call(f, args),
    }
}

/// The items of an iterable value: a list's items, a range's ints, a
/// string's characters (as one-character strings) or a map's keys.
pub(crate) enum Items<'a> {
    /// A list's items.
    List(std::slice::Iter<'a, Value>),
    /// A range's ints: the next value, how many are left, the step.
    Range { next: i64, left: i64, step: i64 },
    /// A string's characters.
    Chars(std::str::Chars<'a>),
    /// A map's keys.
    Keys(crate::map::Keys<'a>),
    /// What a channel held until it was closed (received first).
    Owned(std::vec::IntoIter<Value>),
}

impl Iterator for Items<'_> {
    type Item = Value;

    #[inline]
    fn next(&mut self) -> Option<Value> {
        match self {
            Items::List(it) => it.next().cloned(),
            Items::Range { next, left, step } => {
                if *left <= 0 {
                    return None;
                }
                let v = *next;
                *left -= 1;
                *next = next.wrapping_add(*step);
                Some(Value::Int(v))
            }
            Items::Chars(it) => it.next().map(Value::str),
            Items::Keys(it) => it.next().map(|k| k.0.clone()),
            Items::Owned(it) => it.next(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Items::List(it) => it.size_hint(),
            Items::Range { left, .. } => {
                let n = usize::try_from(*left).unwrap_or(usize::MAX);
                (n, Some(n))
            }
            Items::Chars(it) => it.size_hint(),
            Items::Keys(it) => it.size_hint(),
            Items::Owned(it) => it.size_hint(),
        }
    }
}

/// Iterates `v`, or a `TypeError` naming `func` if it is not iterable.
pub(crate) fn items<'a>(func: &str, what: &str, v: &'a Value) -> Result<Items<'a>> {
    Ok(match v {
        Value::List(xs) => Items::List(xs.iter()),
        Value::Range(r) => Items::Range {
            next: r.start,
            left: r.len(),
            step: r.step,
        },
        Value::Str(s) => Items::Chars(s.chars()),
        Value::Map(m) => Items::Keys(m.keys()),
        // Received until closed and drained (ASYNC.md: every builtin that
        // takes an iterable drains a channel).
        Value::Channel(c) => Items::Owned(super::channel::drain(func, c)?.into_iter()),
        other => {
            return Err(type_error(
                func,
                what,
                "a list, range, string or map",
                other,
            ))
        }
    })
}

/// The items of an iterable value collected into a new vector.
pub(crate) fn collect(func: &str, what: &str, v: &Value) -> Result<Vec<Value>> {
    if let Value::List(xs) = v {
        return Ok(xs.as_slice().to_vec());
    }
    let it = items(func, what, v)?;
    let mut out = crate::ops::try_vec(it.size_hint().0)?;
    out.extend(it);
    Ok(out)
}

/// Resolves Python-style slice bounds `a` and `b` (ints, negative from the
/// end, `nil` meaning the start/end) against `len`, clamped.
pub(crate) fn slice_bounds(
    func: &str,
    len: usize,
    a: &Value,
    b: Option<&Value>,
) -> Result<(usize, usize)> {
    let clamp = |i: i64| -> usize {
        let n = len as i64;
        if i < 0 {
            (i.saturating_add(n)).max(0) as usize
        } else {
            i.min(n) as usize
        }
    };
    let start = match a {
        Value::Nil => 0,
        v => clamp(int(func, "start", v)?),
    };
    let end = match b {
        None | Some(Value::Nil) => len,
        Some(v) => clamp(int(func, "end", v)?),
    };
    Ok((start, end.max(start)))
}
