//! Stable sorting of values, shared by `list.sort` and `sorted`.
//!
//! The order is [`crate::ops::compare`]'s. Lists of only ints, only numbers
//! or only strings cannot fail to compare and use the standard library's
//! sort directly. Anything else is sorted through a permutation with a
//! fallible merge sort, so a `TypeError` midway leaves the list untouched.
//!
//! `sorted(xs, key_fn, reverse)` and `xs.sort(key_fn, reverse)` take the
//! same options: `key_fn` may be `nil` (no key), `reverse` must be a bool.
//! A reverse sort is stable too: equal items keep their order (as Python's
//! `reverse=True`), so it is not the same as reversing an ascending sort.

use super::args;
use crate::error::Result;
use crate::ops::{compare, total_compare};
use crate::value::Value;
use crate::vm::Vm;
use std::cmp::Ordering;

/// Sorts `xs` in place (stably). On error `xs` is unchanged.
pub(crate) fn sort_values(xs: &mut [Value]) -> Result<()> {
    if let Some(()) = sort_fast(xs, |x| x) {
        return Ok(());
    }
    let perm = sorted_permutation(xs)?;
    let sorted: Vec<Value> = perm.into_iter().map(|i| xs[i].clone()).collect();
    for (x, v) in xs.iter_mut().zip(sorted) {
        *x = v;
    }
    Ok(())
}

/// `xs` sorted (stably) by `key(x)`, which is called once per item.
pub(crate) fn sorted_by_key(vm: &mut Vm, xs: &[Value], key: &Value) -> Result<Vec<Value>> {
    let mut keys = crate::ops::try_vec(xs.len())?;
    for x in xs {
        keys.push(args::call(vm, key, std::slice::from_ref(x))?);
    }
    let mut pairs: Vec<(Value, Value)> = keys.into_iter().zip(xs.iter().cloned()).collect();
    if sort_fast(&mut pairs, |p| &p.0).is_some() {
        return Ok(pairs.into_iter().map(|p| p.1).collect());
    }
    let keys: Vec<Value> = pairs.iter().map(|p| p.0.clone()).collect();
    let perm = sorted_permutation(&keys)?;
    Ok(perm.into_iter().map(|i| pairs[i].1.clone()).collect())
}

/// The `key_fn` and `reverse` arguments of `func` (the items after the
/// list): `key_fn` may be `nil`, `reverse` must be a bool.
pub(crate) fn options<'a>(func: &str, opts: &'a [Value]) -> Result<(Option<&'a Value>, bool)> {
    let key = match opts.first() {
        None | Some(Value::Nil) => None,
        Some(k) => {
            args::callable(func, "key", k)?;
            Some(k)
        }
    };
    let reverse = match opts.get(1) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(args::type_error(func, "reverse", "a bool", other)),
    };
    Ok((key, reverse))
}

/// `xs` sorted (stably) by `key` (or by the items), in descending order
/// when `reverse` (equal items keep their order).
pub(crate) fn sorted_with(
    vm: &mut Vm,
    xs: &[Value],
    key: Option<&Value>,
    reverse: bool,
) -> Result<Vec<Value>> {
    // Reversing before and after a stable ascending sort gives a stable
    // descending one.
    let mut items: Vec<Value> = if reverse {
        xs.iter().rev().cloned().collect()
    } else {
        xs.to_vec()
    };
    match key {
        Some(k) => items = sorted_by_key(vm, &items, k)?,
        None => sort_values(&mut items)?,
    }
    if reverse {
        items.reverse();
    }
    Ok(items)
}

/// Sorts with the standard library when every key is of a kind that cannot
/// fail to compare; `None` (with `v` untouched) otherwise.
fn sort_fast<T>(v: &mut [T], key: impl Fn(&T) -> &Value) -> Option<()> {
    if v.iter().all(|x| matches!(key(x), Value::Int(_))) {
        v.sort_by_key(|x| match key(x) {
            Value::Int(i) => *i,
            _ => 0,
        });
        return Some(());
    }
    if v.iter()
        .all(|x| matches!(key(x), Value::Int(_) | Value::Float(_)))
    {
        // Numbers have a total order (NaN last), so this cannot fail.
        v.sort_by(|a, b| total_compare(key(a), key(b)).unwrap_or(Ordering::Equal));
        return Some(());
    }
    if v.iter().all(|x| matches!(key(x), Value::Str(_))) {
        v.sort_by(|a, b| match (key(a), key(b)) {
            (Value::Str(x), Value::Str(y)) => x.as_str().cmp(y.as_str()),
            _ => Ordering::Equal,
        });
        return Some(());
    }
    None
}

/// The permutation that sorts `keys` stably, or the first comparison error.
fn sorted_permutation(keys: &[Value]) -> Result<Vec<usize>> {
    let mut perm: Vec<usize> = (0..keys.len()).collect();
    let mut buf = Vec::with_capacity(keys.len() / 2 + 1);
    merge_sort(&mut perm, &mut buf, &mut |a, b| compare(&keys[a], &keys[b]))?;
    Ok(perm)
}

/// A stable top-down merge sort whose comparison may fail.
fn merge_sort(
    v: &mut [usize],
    buf: &mut Vec<usize>,
    cmp: &mut impl FnMut(usize, usize) -> Result<Ordering>,
) -> Result<()> {
    let n = v.len();
    if n <= 12 {
        for i in 1..n {
            let mut j = i;
            while j > 0 && cmp(v[j - 1], v[j])? == Ordering::Greater {
                v.swap(j - 1, j);
                j -= 1;
            }
        }
        return Ok(());
    }
    let mid = n / 2;
    merge_sort(&mut v[..mid], buf, cmp)?;
    merge_sort(&mut v[mid..], buf, cmp)?;
    if cmp(v[mid - 1], v[mid])? != Ordering::Greater {
        return Ok(()); // already in order
    }
    buf.clear();
    buf.extend_from_slice(&v[..mid]);
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < buf.len() && j < n {
        // Take from the right only when strictly smaller: stability.
        if cmp(v[j], buf[i])? == Ordering::Less {
            v[k] = v[j];
            j += 1;
        } else {
            v[k] = buf[i];
            i += 1;
        }
        k += 1;
    }
    while i < buf.len() {
        v[k] = buf[i];
        i += 1;
        k += 1;
    }
    Ok(())
}
