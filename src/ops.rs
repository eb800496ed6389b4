//! The semantics of operators on values: arithmetic (with overflow errors),
//! comparison, indexing and fields. The VM inlines fast paths for ints and
//! floats and calls these for everything else; the stdlib uses them too
//! (`sum`, `sorted`, `min`, ...), so every place agrees on what `+` means.
//!
//! Placeholder signatures; the stdlib work fills them in.

use crate::ast::BinOp;
use crate::error::Result;
use crate::value::Value;
use std::cmp::Ordering;

/// `a op b` for every [`BinOp`] (equality never fails; `<` on unlike types
/// is a `TypeError`).
pub fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value> {
    let _ = (op, a, b);
    unimplemented!()
}

/// `a += b` (and the other compound ops) written in place where `a` is
/// uniquely held: appending to a string or list does not copy it.
pub fn binary_in_place(op: BinOp, a: &mut Value, b: &Value) -> Result<()> {
    let _ = (op, a, b);
    unimplemented!()
}

/// Unary minus.
pub fn negate(v: &Value) -> Result<Value> {
    let _ = v;
    unimplemented!()
}

/// The order of `a` and `b` for `<`, `sort`, `min`...: numbers with numbers,
/// strings with strings, lists lexicographically; else `TypeError`.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering> {
    let _ = (a, b);
    unimplemented!()
}

/// `v[i]`: lists, strings and ranges by int (negative from the end), maps by key.
pub fn index_get(v: &Value, i: &Value) -> Result<Value> {
    let _ = (v, i);
    unimplemented!()
}

/// `v[i] = x` in place (copying `v` first only if it is shared).
pub fn index_set(v: &mut Value, i: &Value, x: Value) -> Result<()> {
    let _ = (v, i, x);
    unimplemented!()
}

/// `v.name`: a map's `"name"` key, a module's field, an error's field.
pub fn field_get(v: &Value, name: &str) -> Result<Value> {
    let _ = (v, name);
    unimplemented!()
}

/// `v.name = x`: sets a map's `"name"` key in place.
pub fn field_set(v: &mut Value, name: &str, x: Value) -> Result<()> {
    let _ = (v, name, x);
    unimplemented!()
}

/// `len(v)` for strings (characters), lists, maps and ranges.
pub fn len(v: &Value) -> Result<i64> {
    let _ = v;
    unimplemented!()
}
