//! List methods (and the read-only ones ranges share).
//!
//! Mutating: `push(v) pop() pop(i) insert(i, v) remove(i) extend(ys) clear()
//! sort() sort(key_fn) sort(key_fn, reverse) reverse()`. Read-only: `len() contains(v) index_of(v)
//! slice(a, b?) join(sep) map(f) filter(f) reduce(f, init?) copy()`.
//! Mutation goes through [`List::make_mut`]: in place when the list is
//! uniquely held, after a copy when it is shared (value semantics).

use super::args::{self, arity};
use super::{no_method, sort, Method};
use crate::error::{Error, ErrorKind, Result};
use crate::ops::{memory, resolve_index, try_vec};
use crate::value::{List, RangeVal, Value};
use crate::vm::Vm;
use std::sync::Arc;

/// Calls list method `m` on `xs`.
pub(crate) fn call(vm: &mut Vm, xs: &mut List, m: Method, args: &[Value]) -> Result<Value> {
    match m {
        Method::Push => {
            arity("list.push", args, 1, 1)?;
            let v = xs.make_mut();
            memory::reserve_list(v, 1)?;
            v.push(args[0].clone());
            Ok(Value::Nil)
        }
        Method::Pop => {
            arity("list.pop", args, 0, 1)?;
            if xs.is_empty() {
                return Err(Error::new(ErrorKind::IndexError, "pop from an empty list"));
            }
            match args.first() {
                None => Ok(xs.make_mut().pop().unwrap_or_default()),
                Some(i) => {
                    let i = args::int("list.pop", "index", i)?;
                    let j = index_in("list.pop", i, xs.len())?;
                    Ok(xs.make_mut().remove(j))
                }
            }
        }
        Method::Insert => {
            arity("list.insert", args, 2, 2)?;
            let i = args::int("list.insert", "index", &args[0])?;
            // Like Python, an index past either end inserts at that end.
            let n = xs.len() as i64;
            let j = if i < 0 {
                (i.saturating_add(n)).max(0)
            } else {
                i.min(n)
            };
            let v = xs.make_mut();
            memory::reserve_list(v, 1)?;
            v.insert(j as usize, args[1].clone());
            Ok(Value::Nil)
        }
        Method::Remove => {
            arity("list.remove", args, 1, 1)?;
            let i = args::int("list.remove", "index", &args[0])?;
            let j = index_in("list.remove", i, xs.len())?;
            Ok(xs.make_mut().remove(j))
        }
        Method::Extend => {
            arity("list.extend", args, 1, 1)?;
            match &args[0] {
                Value::List(ys) if List::ptr_eq(xs, ys) => {
                    let copy = ys.as_slice().to_vec();
                    let v = xs.make_mut();
                    memory::reserve_list(v, copy.len())?;
                    v.extend(copy);
                }
                Value::List(ys) => {
                    let v = xs.make_mut();
                    memory::reserve_list(v, ys.len())?;
                    v.extend_from_slice(ys);
                }
                other => {
                    if let Value::Channel(c) = other {
                        // In a task: parks until the channel is closed and
                        // drained (the park signal), or it already was.
                        if let Some(r) = super::channel::park_to_extend(vm, c) {
                            if let Value::List(ys) = r? {
                                let v = xs.make_mut();
                                memory::reserve_list(v, ys.len())?;
                                v.extend_from_slice(&ys);
                            }
                            return Ok(Value::Nil);
                        }
                    }
                    let it = args::items("list.extend", "argument", other)?;
                    let v = xs.make_mut();
                    memory::reserve_list(v, it.size_hint().0)?;
                    v.extend(it);
                }
            }
            Ok(Value::Nil)
        }
        Method::Clear => {
            arity("list.clear", args, 0, 0)?;
            match xs.get_mut() {
                Some(v) => v.clear(),
                None => *xs = List::new(),
            }
            Ok(Value::Nil)
        }
        Method::Sort => {
            arity("list.sort", args, 0, 2)?;
            match sort::options("list.sort", args)? {
                (None, false) => sort::sort_values(xs.make_mut())?,
                (key, reverse) => {
                    let sorted = sort::sorted_with(vm, xs, key, reverse)?;
                    *xs = List::from(sorted);
                }
            }
            Ok(Value::Nil)
        }
        Method::Reverse => {
            arity("list.reverse", args, 0, 0)?;
            xs.make_mut().reverse();
            Ok(Value::Nil)
        }
        Method::Len => {
            arity("list.len", args, 0, 0)?;
            Ok(Value::Int(xs.len() as i64))
        }
        Method::Contains => {
            arity("list.contains", args, 1, 1)?;
            Ok(Value::Bool(xs.contains(&args[0])))
        }
        Method::IndexOf => {
            arity("list.index_of", args, 1, 1)?;
            Ok(Value::Int(
                xs.iter()
                    .position(|x| *x == args[0])
                    .map_or(-1, |i| i as i64),
            ))
        }
        Method::Slice => {
            arity("list.slice", args, 1, 2)?;
            let (a, b) = args::slice_bounds("list.slice", xs.len(), &args[0], args.get(1))?;
            if a == 0 && b == xs.len() {
                return Ok(Value::List(xs.clone()));
            }
            Ok(Value::list(xs[a..b].to_vec()))
        }
        Method::Join => {
            arity("list.join", args, 1, 1)?;
            let sep = args::string("list.join", "separator", &args[0])?;
            join(xs, sep)
        }
        Method::Map => map(vm, "list.map", xs.iter().cloned(), xs.len(), args),
        Method::Filter => filter(vm, "list.filter", xs.iter().cloned(), xs.len(), args),
        Method::Reduce => reduce(vm, "list.reduce", xs.iter().cloned(), args),
        Method::Copy => {
            arity("list.copy", args, 0, 0)?;
            Ok(Value::List(xs.clone()))
        }
        other => Err(no_method(&Value::List(xs.clone()), other.name())),
    }
}

/// The read-only list methods on a range: `len contains index_of map filter
/// reduce`, the first three in O(1).
pub(crate) fn call_range(vm: &mut Vm, r: RangeVal, m: Method, args: &[Value]) -> Result<Value> {
    let items = || args::Items::Range {
        next: r.start,
        left: r.len(),
        step: r.step,
    };
    match m {
        Method::Len => {
            arity("range.len", args, 0, 0)?;
            Ok(Value::Int(r.checked_len()?))
        }
        Method::Contains => {
            arity("range.contains", args, 1, 1)?;
            Ok(Value::Bool(range_position(&r, &args[0]).is_some()))
        }
        Method::IndexOf => {
            arity("range.index_of", args, 1, 1)?;
            match range_position(&r, &args[0]) {
                None => Ok(Value::Int(-1)),
                Some(pos) => i64::try_from(pos).map(Value::Int).map_err(|_| {
                    Error::new(
                        ErrorKind::OverflowError,
                        format!(
                            "range.index_of(): the position {pos} is larger than the largest int"
                        ),
                    )
                }),
            }
        }
        Method::Map => map(vm, "range.map", items(), r.len() as usize, args),
        Method::Filter => filter(vm, "range.filter", items(), r.len() as usize, args),
        Method::Reduce => reduce(vm, "range.reduce", items(), args),
        other => Err(no_method(&Value::Range(Arc::new(r)), other.name())),
    }
}

/// The position of `v` in `r`, if it is there (ints, and floats equal to
/// one). In i128: a position may be past `i64::MAX`.
fn range_position(r: &RangeVal, v: &Value) -> Option<i128> {
    let x = match v {
        Value::Int(i) => *i,
        Value::Float(f) => crate::value::float_as_int(*f)?,
        _ => return None,
    };
    let off = (x as i128) - (r.start as i128);
    let step = r.step as i128;
    if off % step != 0 {
        return None;
    }
    let pos = off / step;
    (0..r.len_i128()).contains(&pos).then_some(pos)
}

fn index_in(func: &str, i: i64, len: usize) -> Result<usize> {
    resolve_index(i, len).ok_or_else(|| {
        Error::new(
            ErrorKind::IndexError,
            format!("{func}() index {i} out of range (length {len})"),
        )
    })
}

/// `sep.join(xs)`; every item must be a string.
fn join(xs: &[Value], sep: &str) -> Result<Value> {
    let mut total = sep.len().saturating_mul(xs.len().saturating_sub(1));
    for (i, x) in xs.iter().enumerate() {
        match x {
            Value::Str(s) => total = total.saturating_add(s.len()),
            other => {
                return Err(Error::type_error(format!(
                    "list.join() item {i} is {}, not a string",
                    args::article(other.type_name())
                )))
            }
        }
    }
    let mut out = memory::str_builder(total)?;
    // `join("")` (characters back into a string) is the common case: no
    // separator to copy between the items.
    let sep = (!sep.is_empty()).then_some(sep);
    for (i, x) in xs.iter().enumerate() {
        if let (Some(sep), true) = (sep, i > 0) {
            out.push_str(sep);
        }
        if let Value::Str(s) = x {
            out.push_str(s);
        }
    }
    Ok(Value::Str(out.finish()))
}

/// `xs.map(f)`: a new list of `f(x)`.
fn map(
    vm: &mut Vm,
    func: &str,
    it: impl Iterator<Item = Value>,
    n: usize,
    args: &[Value],
) -> Result<Value> {
    arity(func, args, 1, 1)?;
    let f = &args[0];
    args::callable(func, "argument", f)?;
    let mut out = try_vec(n)?;
    for x in it {
        out.push(args::call(vm, f, std::slice::from_ref(&x))?);
    }
    Ok(Value::list(out))
}

/// `xs.filter(f)`: the items for which `f(x)` is truthy.
fn filter(
    vm: &mut Vm,
    func: &str,
    it: impl Iterator<Item = Value>,
    n: usize,
    args: &[Value],
) -> Result<Value> {
    arity(func, args, 1, 1)?;
    let f = &args[0];
    args::callable(func, "argument", f)?;
    let mut out = Vec::with_capacity(n.min(1024));
    for x in it {
        if args::call(vm, f, std::slice::from_ref(&x))?.truthy() {
            memory::reserve(&mut out, 1)?;
            out.push(x);
        }
    }
    Ok(Value::list(out))
}

/// `xs.reduce(f, init)`: folds left with `acc = f(acc, x)`. Without `init`,
/// the first item starts the fold (an empty list is then a `TypeError`).
fn reduce(
    vm: &mut Vm,
    func: &str,
    mut it: impl Iterator<Item = Value>,
    args: &[Value],
) -> Result<Value> {
    arity(func, args, 1, 2)?;
    let f = &args[0];
    args::callable(func, "argument", f)?;
    let mut acc = match args.get(1) {
        Some(init) => init.clone(),
        None => it.next().ok_or_else(|| {
            Error::type_error(format!(
                "{func}() of an empty sequence with no initial value"
            ))
        })?,
    };
    for x in it {
        acc = args::call(vm, f, &[acc, x])?;
    }
    Ok(acc)
}
