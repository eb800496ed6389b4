//! String methods: `len() upper() lower() trim() split(sep?) lines()
//! contains(s) starts_with(s) ends_with(s) replace(a, b) find(s)
//! slice(a, b?) chars() bytes_len()`. Positions and lengths count
//! characters (Unicode scalar values), except `bytes_len`.

use super::args::{self, arity};
use super::{no_method, Method};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::{memory, str_len};
use crate::value::{List, Str, Value};
use memchr::memmem;

/// Calls string method `m` on `s`.
pub(crate) fn call(s: &Str, m: Method, args: &[Value]) -> Result<Value> {
    let text = s.as_str();
    Ok(match m {
        Method::Len => {
            arity("string.len", args, 0, 0)?;
            Value::Int(s.char_count() as i64)
        }
        Method::BytesLen => {
            arity("string.bytes_len", args, 0, 0)?;
            Value::Int(text.len() as i64)
        }
        Method::Upper => {
            arity("string.upper", args, 0, 0)?;
            match s.ascii_case(true) {
                Some(u) => Value::Str(u),
                None => Value::str(text.to_uppercase()),
            }
        }
        Method::Lower => {
            arity("string.lower", args, 0, 0)?;
            match s.ascii_case(false) {
                Some(l) => Value::Str(l),
                None => Value::str(text.to_lowercase()),
            }
        }
        Method::Trim => {
            arity("string.trim", args, 0, 0)?;
            let t = text.trim();
            if t.len() == text.len() {
                Value::Str(s.clone())
            } else {
                Value::str(t)
            }
        }
        Method::Split => {
            arity("string.split", args, 0, 1)?;
            match args.first() {
                None | Some(Value::Nil) => strings(text, text.split_whitespace())?,
                Some(sep) => {
                    let sep = args::string("string.split", "separator", sep)?;
                    if sep.is_empty() {
                        return Err(Error::value_error("string.split() separator is empty"));
                    }
                    split(text, sep)?
                }
            }
        }
        Method::Lines => {
            arity("string.lines", args, 0, 0)?;
            strings(text, text.lines())?
        }
        Method::Chars => {
            arity("string.chars", args, 0, 0)?;
            check_parts(text.len(), || s.char_count())?;
            Value::list(
                text.chars()
                    .map(|c| Value::Str(Str::from_char(c)))
                    .collect(),
            )
        }
        Method::Contains => {
            arity("string.contains", args, 1, 1)?;
            let needle = args::string("string.contains", "argument", &args[0])?;
            Value::Bool(memmem::find(text.as_bytes(), needle.as_bytes()).is_some())
        }
        Method::StartsWith => {
            arity("string.starts_with", args, 1, 1)?;
            let p = args::string("string.starts_with", "argument", &args[0])?;
            Value::Bool(text.starts_with(p))
        }
        Method::EndsWith => {
            arity("string.ends_with", args, 1, 1)?;
            let p = args::string("string.ends_with", "argument", &args[0])?;
            Value::Bool(text.ends_with(p))
        }
        Method::Replace => {
            arity("string.replace", args, 2, 2)?;
            let from = args::string("string.replace", "pattern", &args[0])?;
            let to = args::string("string.replace", "replacement", &args[1])?;
            if from.is_empty() {
                check_replace(text, from, to)?;
                Value::str(text.replace(from, to))
            } else {
                replace(s, from, to)?
            }
        }
        Method::Find => {
            arity("string.find", args, 1, 1)?;
            let needle = args::string("string.find", "argument", &args[0])?;
            match memmem::find(text.as_bytes(), needle.as_bytes()) {
                Some(b) if s.is_ascii() => Value::Int(b as i64),
                Some(b) => Value::Int(str_len(&text[..b]) as i64),
                None => Value::Int(-1),
            }
        }
        Method::Slice => {
            arity("string.slice", args, 1, 2)?;
            let n = s.char_count();
            let (a, b) = args::slice_bounds("string.slice", n, &args[0], args.get(1))?;
            if a == 0 && b == n {
                Value::Str(s.clone())
            } else if n == text.len() {
                Value::str(&text[a..b]) // ASCII: characters are bytes
            } else {
                let start = s.byte_offset(a);
                let end = s.byte_offset(b);
                Value::str(&text[start..end])
            }
        }
        other => return Err(no_method(&Value::Str(s.clone()), other.name())),
    })
}

/// `text.split(sep)` for a non-empty `sep`: the parts between the matches
/// (found with `memmem`; a match of a UTF-8 needle in UTF-8 text always
/// starts and ends on character boundaries), in a list of exactly the
/// right size.
fn split(text: &str, sep: &str) -> Result<Value> {
    let finder = memmem::Finder::new(sep.as_bytes());
    let hay = text.as_bytes();
    let n = finder.find_iter(hay).count() + 1;
    check_parts(n, || n)?;
    let mut parts = List::try_with_capacity(n).map_err(|_| {
        Error::new(
            ErrorKind::MemoryError,
            format!("cannot allocate a list of {n} strings"),
        )
    })?;
    let out = parts.make_mut();
    let mut at = 0;
    for m in finder.find_iter(hay) {
        out.push(Value::str(&text[at..m]));
        at = m + sep.len();
    }
    out.push(Value::str(&text[at..]));
    Ok(Value::List(parts))
}

/// `s.replace(from, to)` for a non-empty `from`: the string itself when
/// nothing matches, else one allocation of the exact result size.
fn replace(s: &Str, from: &str, to: &str) -> Result<Value> {
    let text = s.as_str();
    let finder = memmem::Finder::new(from.as_bytes());
    let hay = text.as_bytes();
    let Some(first) = finder.find(hay) else {
        return Ok(Value::Str(s.clone()));
    };
    let n = 1 + finder.find_iter(&hay[first + from.len()..]).count();
    let total = if to.len() >= from.len() {
        n.checked_mul(to.len() - from.len())
            .and_then(|grow| text.len().checked_add(grow))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::OverflowError,
                    "cannot allocate a string: more than the address space",
                )
            })?
    } else {
        text.len() - n * (from.len() - to.len())
    };
    let mut out = memory::str_builder(total)?;
    let mut at = 0;
    for m in finder.find_iter(&hay[first..]) {
        let m = first + m;
        out.push_str(&text[at..m]);
        out.push_str(to);
        at = m + from.len();
    }
    out.push_str(&text[at..]);
    Ok(Value::Str(out.finish()))
}

/// A list of the `parts` of `text` (a split: at most one part per byte,
/// plus one).
fn strings<'a>(text: &str, parts: impl Iterator<Item = &'a str> + Clone) -> Result<Value> {
    check_parts(text.len().saturating_add(1), || parts.clone().count())?;
    Ok(Value::list(parts.map(Value::str).collect()))
}

/// Bytes a list of small strings takes per item: the value, the string's
/// shared header and its smallest heap block.
const BYTES_PER_PART: usize = 64;

/// Checks that a list of `count()` small strings fits in memory; `bound`
/// is an upper bound on the count, so short inputs are not counted twice.
fn check_parts(bound: usize, count: impl FnOnce() -> usize) -> Result<()> {
    if bound.saturating_mul(BYTES_PER_PART) < memory::CHECK_FROM {
        return Ok(());
    }
    let n = count();
    memory::check(n.saturating_mul(BYTES_PER_PART), || {
        format!("a list of {n} strings")
    })
}

/// Checks that `text.replace(from, to)` fits in memory before building it
/// (a short text with a long replacement can grow a thousandfold).
fn check_replace(text: &str, from: &str, to: &str) -> Result<()> {
    if to.len() <= from.len() {
        return Ok(());
    }
    let grow = to.len() - from.len();
    // An empty pattern matches before every character and at the end.
    let bound = match text.len().checked_div(from.len()) {
        Some(n) => n,
        None => text.len() + 1,
    };
    if text.len().saturating_add(bound.saturating_mul(grow)) < memory::CHECK_FROM {
        return Ok(());
    }
    let n = if from.is_empty() {
        str_len(text) + 1
    } else {
        text.matches(from).count()
    };
    let total = text.len().saturating_add(n.saturating_mul(grow));
    memory::check(total, || format!("a string of {total} bytes"))
}
