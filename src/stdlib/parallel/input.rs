//! What the parallel functions iterate: a list, a range or a string, read
//! by index from any thread without materialising a range.

use crate::error::Result;
use crate::stdlib::args;
use crate::value::{List, RangeVal, Value};

/// An input of `parallel_*`, indexable in O(1) from every worker.
#[derive(Debug)]
pub(super) enum Input {
    /// A list's items (the list is shared, not copied).
    List(List),
    /// A range's ints, computed from the index.
    Range(RangeVal),
    /// A string's characters, each item a one-character string.
    Chars(Vec<char>),
}

impl Input {
    /// The input `v` of `func`, or a `TypeError` naming `func`.
    pub(super) fn new(func: &str, v: &Value) -> Result<Input> {
        match v {
            Value::List(xs) => Ok(Input::List(xs.clone())),
            Value::Range(r) => Ok(Input::Range(**r)),
            Value::Str(s) => Ok(Input::Chars(s.chars().collect())),
            other => Err(args::type_error(
                func,
                "first argument",
                "a list, range, string or channel",
                other,
            )),
        }
    }

    /// The number of items.
    pub(super) fn len(&self) -> usize {
        match self {
            Input::List(xs) => xs.len(),
            // A range longer than the address space cannot be mapped into
            // a list anyway; `try_vec` reports it for map and filter.
            Input::Range(r) => usize::try_from(r.len()).unwrap_or(usize::MAX),
            Input::Chars(cs) => cs.len(),
        }
    }

    /// Item `i` (`i < len()`).
    #[inline]
    pub(super) fn get(&self, i: usize) -> Value {
        match self {
            Input::List(xs) => xs[i].clone(),
            Input::Range(r) => Value::Int(r.get(i as i64)),
            Input::Chars(cs) => Value::str(cs[i]),
        }
    }
}
