//! The semantics of operators on values: arithmetic (with overflow errors),
//! comparison, indexing and fields. The VM inlines fast paths for ints and
//! floats and calls these for everything else; the stdlib uses them too
//! (`sum`, `sorted`, `min`, ...), so every place agrees on what `+` means.
//!
//! Rules (LANGUAGE.md, and Python where it is silent):
//! - `int op int` is an int, except `/` which is always a float. Overflow is
//!   an `OverflowError` (including `i64::MIN // -1` and `-i64::MIN`).
//! - `//` floors and `%` takes the sign of the divisor, for ints and floats,
//!   exactly as Python computes them. Dividing by zero (int or float) is a
//!   `ZeroDivisionError`.
//! - `int ** int` is an int for a non-negative exponent and a float for a
//!   negative one; `0 ** -1` is a `ZeroDivisionError`. A float power that
//!   overflows to infinity from finite operands is an `OverflowError`, and a
//!   negative base with a fractional exponent is a `ValueError` (Python would
//!   give a complex number).
//! - `bool` is not a number: `true + 1` is a `TypeError`.
//! - Bitwise `& | ^ << >>` and unary `~` take ints only (bools and floats
//!   are a `TypeError`) and work on 64-bit two's complement, as Python's
//!   ints do within that range: `~x` is `-x - 1`, `>>` keeps the sign
//!   (`-8 >> 1` is -4; shifting by 64 or more gives 0 or -1). A negative
//!   shift count is a `ValueError`; `<<` whose result does not fit an int
//!   (any non-zero value shifted by 64 or more) is an `OverflowError`.
//! - `==`/`!=` never fail. `<` and friends order numbers (ints and floats
//!   compared exactly, never through a rounding conversion), strings (by code
//!   point) and lists (lexicographically); anything else is a `TypeError`.
//!   A NaN makes every `<`-style comparison false, as in Python; for sorting
//!   ([`compare`]) NaN sorts after every number so the order stays total.

use crate::ast::BinOp;
use crate::error::{Error, ErrorKind, Result};
use crate::value::{Key, List, RangeVal, Str, Value};
use std::cmp::Ordering;

/// `a op b` for every [`BinOp`] (equality never fails; `<` on unlike types
/// is a `TypeError`).
pub fn binary(op: BinOp, a: &Value, b: &Value) -> Result<Value> {
    use Value::{Float, Int};
    match (a, b) {
        (Int(x), Int(y)) => int_op(op, *x, *y),
        _ if is_bitwise(op) => Err(operand_error(op, a, b)),
        (Float(x), Float(y)) => float_op(op, *x, *y),
        (Int(x), Float(y)) => match op {
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                Ok(Value::Bool(cmp_result(op, cmp_int_float(*x, *y))))
            }
            _ => float_op(op, *x as f64, *y),
        },
        (Float(x), Int(y)) => match op {
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => Ok(
                Value::Bool(cmp_result(op, cmp_int_float(*y, *x).map(Ordering::reverse))),
            ),
            _ => float_op(op, *x, *y as f64),
        },
        _ => binary_slow(op, a, b),
    }
}

/// The non-numeric cases of [`binary`].
fn binary_slow(op: BinOp, a: &Value, b: &Value) -> Result<Value> {
    use Value::{Int, List, Str};
    match op {
        BinOp::Eq => return Ok(Value::Bool(a == b)),
        BinOp::Ne => return Ok(Value::Bool(a != b)),
        BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
            let ord = partial_compare(a, b).map_err(|()| compare_error(op.symbol(), a, b))?;
            return Ok(Value::Bool(cmp_result(op, ord)));
        }
        _ => {}
    }
    match (op, a, b) {
        (BinOp::Add, Str(x), Str(y)) => Ok(Value::Str(memory::concat(x, y)?)),
        (BinOp::Add, List(x), List(y)) => {
            let mut v = try_vec(x.len().saturating_add(y.len()))?;
            v.extend_from_slice(x);
            v.extend_from_slice(y);
            Ok(Value::list(v))
        }
        (BinOp::Mul, Str(s), Int(n)) | (BinOp::Mul, Int(n), Str(s)) => repeat_str(s, *n),
        (BinOp::Mul, List(xs), Int(n)) | (BinOp::Mul, Int(n), List(xs)) => repeat_list(xs, *n),
        _ => Err(operand_error(op, a, b)),
    }
}

/// `a += b` (and the other compound ops) written in place where `a` is
/// uniquely held: appending to a string or list does not copy it.
pub fn binary_in_place(op: BinOp, a: &mut Value, b: &Value) -> Result<()> {
    match (op, &mut *a, b) {
        (BinOp::Add, Value::Str(x), Value::Str(y)) => {
            let s = x.make_mut();
            memory::reserve_string(s, y.len())?;
            s.push_str(y);
            Ok(())
        }
        (BinOp::Add, Value::List(x), Value::List(y)) => {
            // `xs += xs`: `y` may be the same allocation; copy it out first
            // only in that case (make_mut would copy `x` anyway).
            if List::ptr_eq(x, y) {
                let items = y.as_slice().to_vec();
                let v = x.make_mut();
                memory::reserve_list(v, items.len())?;
                v.extend(items);
            } else {
                let v = x.make_mut();
                memory::reserve_list(v, y.len())?;
                v.extend_from_slice(y);
            }
            Ok(())
        }
        _ => {
            *a = binary(op, a, b)?;
            Ok(())
        }
    }
}

/// Unary minus.
pub fn negate(v: &Value) -> Result<Value> {
    match v {
        Value::Int(i) => i.checked_neg().map(Value::Int).ok_or_else(|| overflow("-")),
        Value::Float(f) => Ok(Value::Float(-f)),
        other => Err(Error::type_error(format!(
            "bad operand type for unary -: '{}'",
            other.type_name()
        ))),
    }
}

/// The order of `a` and `b` for `<`, `sort`, `min`...: numbers with numbers,
/// strings with strings, lists lexicographically; else `TypeError`.
///
/// The order is total: NaN sorts after every other number and equals NaN.
pub fn compare(a: &Value, b: &Value) -> Result<Ordering> {
    total_compare(a, b).map_err(|()| {
        Error::type_error(format!(
            "cannot compare '{}' with '{}'",
            a.type_name(),
            b.type_name()
        ))
    })
}

/// [`compare`] with a unit error, so callers choose the message.
pub(crate) fn total_compare(a: &Value, b: &Value) -> std::result::Result<Ordering, ()> {
    use Value::{Float, Int, List, Str};
    match (a, b) {
        (Int(x), Int(y)) => Ok(x.cmp(y)),
        (Float(x), Float(y)) => Ok(cmp_floats_total(*x, *y)),
        (Int(x), Float(y)) => Ok(match cmp_int_float(*x, *y) {
            Some(o) => o,
            None => Ordering::Less, // y is NaN: NaN sorts last
        }),
        (Float(x), Int(y)) => Ok(match cmp_int_float(*y, *x) {
            Some(o) => o.reverse(),
            None => Ordering::Greater,
        }),
        (Str(x), Str(y)) => Ok(x.as_str().cmp(y.as_str())),
        // Iterative at any depth; never `None` (NaN has its place).
        (List(_), List(_)) => {
            crate::value::deep_compare(a, b, |p, q| total_compare(p, q).map(Some))
                .map(|o| o.unwrap_or(Ordering::Equal))
        }
        _ => Err(()),
    }
}

/// `None` when a NaN is involved (every comparison is then false).
fn partial_compare(a: &Value, b: &Value) -> std::result::Result<Option<Ordering>, ()> {
    use Value::{Float, Int, List};
    match (a, b) {
        (Float(x), Float(y)) => Ok(x.partial_cmp(y)),
        (Int(x), Float(y)) => Ok(cmp_int_float(*x, *y)),
        (Float(x), Int(y)) => Ok(cmp_int_float(*y, *x).map(Ordering::reverse)),
        // Iterative at any depth; a NaN pair ends it unordered.
        (List(_), List(_)) => crate::value::deep_compare(a, b, partial_compare),
        _ => total_compare(a, b).map(Some),
    }
}

fn cmp_result(op: BinOp, ord: Option<Ordering>) -> bool {
    match (op, ord) {
        (BinOp::Eq, Some(o)) => o == Ordering::Equal,
        (BinOp::Ne, Some(o)) => o != Ordering::Equal,
        (BinOp::Ne, None) => true,
        (_, None) => false,
        (BinOp::Lt, Some(o)) => o == Ordering::Less,
        (BinOp::Le, Some(o)) => o != Ordering::Greater,
        (BinOp::Gt, Some(o)) => o == Ordering::Greater,
        (BinOp::Ge, Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

fn cmp_floats_total(x: f64, y: f64) -> Ordering {
    match x.partial_cmp(&y) {
        Some(o) => o,
        None => x.is_nan().cmp(&y.is_nan()),
    }
}

/// 2^63 as a float: the first float above every i64.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// Exact comparison of an int with a float; `None` if `f` is NaN.
pub(crate) fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= TWO_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_63 {
        return Some(Ordering::Greater);
    }
    // Now -2^63 <= f < 2^63, so its integer part fits an i64 exactly.
    let whole = f.trunc();
    match i.cmp(&(whole as i64)) {
        Ordering::Equal => {
            let frac = f - whole;
            Some(if frac > 0.0 {
                Ordering::Less
            } else if frac < 0.0 {
                Ordering::Greater
            } else {
                Ordering::Equal
            })
        }
        o => Some(o),
    }
}

/// Integer arithmetic and comparison.
fn int_op(op: BinOp, x: i64, y: i64) -> Result<Value> {
    let r = match op {
        BinOp::Add => x.checked_add(y),
        BinOp::Sub => x.checked_sub(y),
        BinOp::Mul => x.checked_mul(y),
        BinOp::Div => {
            if y == 0 {
                return Err(zero_div("division by zero"));
            }
            return Ok(Value::Float(int_true_div(x, y)));
        }
        BinOp::FloorDiv => return int_floor_div(x, y).map(Value::Int),
        BinOp::Mod => return int_mod(x, y).map(Value::Int),
        BinOp::Pow => return int_pow(x, y),
        BinOp::Eq => return Ok(Value::Bool(x == y)),
        BinOp::Ne => return Ok(Value::Bool(x != y)),
        BinOp::Lt => return Ok(Value::Bool(x < y)),
        BinOp::Le => return Ok(Value::Bool(x <= y)),
        BinOp::Gt => return Ok(Value::Bool(x > y)),
        BinOp::Ge => return Ok(Value::Bool(x >= y)),
        BinOp::BitAnd => Some(x & y),
        BinOp::BitOr => Some(x | y),
        BinOp::BitXor => Some(x ^ y),
        BinOp::Shl => return shift_left(x, y).map(Value::Int),
        BinOp::Shr => return shift_right(x, y).map(Value::Int),
    };
    r.map(Value::Int).ok_or_else(|| overflow(op.symbol()))
}

/// Whether `op` is one of the bitwise operators (ints only).
pub(crate) fn is_bitwise(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor | BinOp::Shl | BinOp::Shr
    )
}

/// `x << n`, as Python computes it, or `OverflowError` when the result
/// does not fit an int.
pub(crate) fn shift_left(x: i64, n: i64) -> Result<i64> {
    if n < 0 {
        return Err(negative_shift());
    }
    if x == 0 {
        return Ok(0);
    }
    if n >= 64 {
        return Err(shift_overflow(x, n));
    }
    let r = x << n;
    if r >> n != x {
        return Err(shift_overflow(x, n));
    }
    Ok(r)
}

/// `x >> n` (arithmetic, rounding towards negative infinity, as Python).
pub(crate) fn shift_right(x: i64, n: i64) -> Result<i64> {
    if n < 0 {
        return Err(negative_shift());
    }
    Ok(x >> n.min(63))
}

/// `~x`.
pub fn bit_not(v: &Value) -> Result<Value> {
    match v {
        Value::Int(i) => Ok(Value::Int(!i)),
        other => Err(Error::type_error(format!(
            "bad operand type for unary ~: '{}'",
            other.type_name()
        ))),
    }
}

#[cold]
fn negative_shift() -> Error {
    Error::value_error("negative shift count")
}

#[cold]
fn shift_overflow(x: i64, n: i64) -> Error {
    Error::new(
        ErrorKind::OverflowError,
        format!("integer overflow in <<: {x} << {n} does not fit in a 64-bit int"),
    )
}

/// `x / y` for ints, rounded once (as Python does) when both fit a float's
/// 53-bit mantissa, which is the common case.
fn int_true_div(x: i64, y: i64) -> f64 {
    const EXACT: i64 = 1 << 53;
    if (-EXACT..=EXACT).contains(&x) && (-EXACT..=EXACT).contains(&y) {
        x as f64 / y as f64
    } else {
        // Both operands may round; go through i128 quotient and remainder
        // so large exact quotients stay exact.
        let (q, r) = ((x as i128) / (y as i128), (x as i128) % (y as i128));
        if q == 0 {
            return x as f64 / y as f64; // keeps the sign of a zero result
        }
        q as f64 + (r as f64 / y as f64)
    }
}

/// Python's `x // y` for ints.
pub(crate) fn int_floor_div(x: i64, y: i64) -> Result<i64> {
    if y == 0 {
        return Err(zero_div("integer division or modulo by zero"));
    }
    let q = x.checked_div(y).ok_or_else(|| overflow("//"))?;
    if (x % y != 0) && ((x < 0) != (y < 0)) {
        Ok(q - 1)
    } else {
        Ok(q)
    }
}

/// Python's `x % y` for ints: the result has the sign of `y`.
pub(crate) fn int_mod(x: i64, y: i64) -> Result<i64> {
    if y == 0 {
        return Err(zero_div("integer division or modulo by zero"));
    }
    if y == -1 {
        return Ok(0); // also covers i64::MIN % -1, which checked_rem rejects
    }
    let r = x % y;
    if r != 0 && ((r < 0) != (y < 0)) {
        Ok(r + y)
    } else {
        Ok(r)
    }
}

/// `x ** y` for ints.
fn int_pow(x: i64, y: i64) -> Result<Value> {
    if y < 0 {
        if x == 0 {
            return Err(zero_div("0 cannot be raised to a negative power"));
        }
        return Ok(Value::Float((x as f64).powf(y as f64)));
    }
    match x {
        0 => return Ok(Value::Int(if y == 0 { 1 } else { 0 })),
        1 => return Ok(Value::Int(1)),
        -1 => return Ok(Value::Int(if y % 2 == 0 { 1 } else { -1 })),
        _ => {}
    }
    let exp = u32::try_from(y).map_err(|_| overflow("**"))?;
    x.checked_pow(exp)
        .map(Value::Int)
        .ok_or_else(|| overflow("**"))
}

/// Float arithmetic and comparison.
fn float_op(op: BinOp, x: f64, y: f64) -> Result<Value> {
    Ok(match op {
        BinOp::Add => Value::Float(x + y),
        BinOp::Sub => Value::Float(x - y),
        BinOp::Mul => Value::Float(x * y),
        BinOp::Div => {
            if y == 0.0 {
                return Err(zero_div("float division by zero"));
            }
            Value::Float(x / y)
        }
        BinOp::FloorDiv => {
            if y == 0.0 {
                return Err(zero_div("float floor division by zero"));
            }
            Value::Float(float_divmod(x, y).0)
        }
        BinOp::Mod => {
            if y == 0.0 {
                return Err(zero_div("float modulo by zero"));
            }
            Value::Float(float_mod(x, y))
        }
        BinOp::Pow => Value::Float(float_pow(x, y)?),
        BinOp::Eq => Value::Bool(x == y),
        BinOp::Ne => Value::Bool(x != y),
        BinOp::Lt => Value::Bool(x < y),
        BinOp::Le => Value::Bool(x <= y),
        BinOp::Gt => Value::Bool(x > y),
        BinOp::Ge => Value::Bool(x >= y),
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor | BinOp::Shl | BinOp::Shr => {
            return Err(Error::type_error(format!(
                "unsupported operand types for {}: 'float' and 'float'",
                op.symbol()
            )))
        }
    })
}

/// Python's float `%`: `fmod`, moved to the divisor's sign. `y != 0`.
pub(crate) fn float_mod(x: f64, y: f64) -> f64 {
    let m = x % y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m + y
        } else {
            m
        }
    } else {
        0.0f64.copysign(y)
    }
}

/// Python's float `divmod` (floor quotient, modulo). `y != 0`.
pub(crate) fn float_divmod(x: f64, y: f64) -> (f64, f64) {
    let mut m = x % y;
    let mut div = (x - m) / y;
    if m != 0.0 {
        if (y < 0.0) != (m < 0.0) {
            m += y;
            div -= 1.0;
        }
    } else {
        m = 0.0f64.copysign(y);
    }
    let floordiv = if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        0.0f64.copysign(x / y)
    };
    (floordiv, m)
}

/// `x ** y` for floats, with Python's errors.
pub(crate) fn float_pow(x: f64, y: f64) -> Result<f64> {
    if x == 0.0 && y < 0.0 && y.is_finite() {
        return Err(zero_div("0.0 cannot be raised to a negative power"));
    }
    let finite = x.is_finite() && y.is_finite();
    if finite && x.abs().powf(y).is_infinite() {
        return Err(Error::new(
            ErrorKind::OverflowError,
            "float ** result too large",
        ));
    }
    if x < 0.0 && finite && y.fract() != 0.0 {
        return Err(Error::value_error(
            "negative number cannot be raised to a fractional power",
        ));
    }
    Ok(x.powf(y))
}

/// A vector with room for `n` items, or an error instead of an abort (or
/// a kill by the OOM killer) when the allocation is impossible: see
/// [`memory`].
pub(crate) fn try_vec<T>(n: usize) -> Result<Vec<T>> {
    memory::vec_with_room(n)
}

fn repeat_str(s: &str, n: i64) -> Result<Value> {
    if n <= 0 || s.is_empty() {
        return Ok(Value::str(""));
    }
    let total = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(s.len()))
        .filter(|t| *t <= isize::MAX as usize)
        .ok_or_else(|| overflow("*"))?;
    memory::check(total, || format!("a string of {total} bytes"))?;
    // Doubling copies: O(log n) memcpys, not n appends.
    let mut out: Vec<u8> = memory::vec_with_room(total)?;
    out.extend_from_slice(s.as_bytes());
    while out.len() < total {
        let k = out.len().min(total - out.len());
        out.extend_from_within(..k);
    }
    let out = String::from_utf8(out).expect("copies of a string are a string");
    Ok(Value::str(out))
}

fn repeat_list(xs: &[Value], n: i64) -> Result<Value> {
    if n <= 0 || xs.is_empty() {
        return Ok(Value::list(Vec::new()));
    }
    let total = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_mul(xs.len()))
        .ok_or_else(|| overflow("*"))?;
    let mut out = try_vec(total)?;
    for _ in 0..n {
        out.extend_from_slice(xs);
    }
    Ok(Value::list(out))
}

#[cold]
fn overflow(op: &str) -> Error {
    Error::new(
        ErrorKind::OverflowError,
        format!("integer overflow in {op}"),
    )
}

#[cold]
fn zero_div(msg: &str) -> Error {
    Error::new(ErrorKind::ZeroDivisionError, msg)
}

#[cold]
fn operand_error(op: BinOp, a: &Value, b: &Value) -> Error {
    Error::type_error(format!(
        "unsupported operand types for {}: '{}' and '{}'",
        op.symbol(),
        a.type_name(),
        b.type_name()
    ))
}

#[cold]
fn compare_error(sym: &str, a: &Value, b: &Value) -> Error {
    Error::type_error(format!(
        "'{sym}' not supported between '{}' and '{}'",
        a.type_name(),
        b.type_name()
    ))
}

/// Resolves index `i` (negative counts from the end) against `len`.
#[inline]
pub(crate) fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let j = if i < 0 { i.checked_add(len)? } else { i };
    if (0..len).contains(&j) {
        Some(j as usize)
    } else {
        None
    }
}

#[cold]
fn index_error(what: &str, i: i64, len: usize) -> Error {
    Error::new(
        ErrorKind::IndexError,
        format!("{what} index {i} out of range (length {len})"),
    )
}

#[cold]
fn index_type_error(what: &str, i: &Value) -> Error {
    Error::type_error(format!(
        "{what} indices must be ints, not {}",
        i.type_name()
    ))
}

#[cold]
pub(crate) fn key_error(k: &Value) -> Error {
    Error::new(ErrorKind::KeyError, format!("key not found: {}", k.repr()))
}

/// The `i`-th character of `s` (negative from the end) as a string: O(1)
/// for an ASCII string (and no allocation: one-character ASCII strings are
/// statics), O(1) plus a short scan otherwise (see [`Str`]).
pub(crate) fn str_char_at(s: &Str, i: i64) -> Result<Value> {
    let n = s.char_count();
    match resolve_index(i, n) {
        Some(j) => Ok(Value::Str(s.char_at(j))),
        None => Err(index_error("string", i, n)),
    }
}

/// `v[i]`: lists, strings and ranges by int (negative from the end), maps by key.
pub fn index_get(v: &Value, i: &Value) -> Result<Value> {
    match (v, i) {
        (Value::List(xs), Value::Int(i)) => match resolve_index(*i, xs.len()) {
            Some(j) => Ok(xs[j].clone()),
            None => Err(index_error("list", *i, xs.len())),
        },
        (Value::Map(m), k) => match m.get(&KeyRef::new(k)?) {
            Some(x) => Ok(x.clone()),
            None => Err(key_error(k)),
        },
        (Value::Str(s), Value::Int(i)) => str_char_at(s, *i),
        (Value::Range(r), Value::Int(i)) => range_get(r, *i),
        (Value::List(_), other) => Err(index_type_error("list", other)),
        (Value::Str(_), other) => Err(index_type_error("string", other)),
        (Value::Range(_), other) => Err(index_type_error("range", other)),
        (other, _) => Err(Error::type_error(format!(
            "'{}' is not indexable",
            other.type_name()
        ))),
    }
}

fn range_get(r: &RangeVal, i: i64) -> Result<Value> {
    // In i128: a range may have more items than an i64 counts.
    let n = r.len_i128();
    let j = if i < 0 { i as i128 + n } else { i as i128 };
    if (0..n).contains(&j) {
        Ok(Value::Int(r.get_i128(j)))
    } else {
        Err(Error::new(
            ErrorKind::IndexError,
            format!("range index {i} out of range (length {n})"),
        ))
    }
}

/// `v[i] = x` in place (copying `v` first only if it is shared).
pub fn index_set(v: &mut Value, i: &Value, x: Value) -> Result<()> {
    match (v, i) {
        (Value::List(xs), Value::Int(i)) => match resolve_index(*i, xs.len()) {
            Some(j) => {
                xs.make_mut()[j] = x;
                Ok(())
            }
            None => Err(index_error("list", *i, xs.len())),
        },
        (Value::List(_), other) => Err(index_type_error("list", other)),
        (Value::Map(m), k) => {
            let key = KeyRef::new(k)?;
            m.make_mut().insert_with(&key, x, || Key(k.clone()));
            Ok(())
        }
        (Value::Str(_), _) => Err(Error::type_error(
            "strings are immutable: cannot assign to s[i]",
        )),
        (other, _) => Err(Error::type_error(format!(
            "'{}' does not support item assignment",
            other.type_name()
        ))),
    }
}

/// A borrowed string key: looks up a map's string key without allocating a
/// [`Key`]. It hashes exactly as `Key(Value::Str(..))` does.
#[derive(Clone, Copy, Debug)]
pub struct StrKey<'a>(pub &'a str);

impl std::hash::Hash for StrKey<'_> {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(crate::value::str_hash(self.0))
    }
}

impl crate::map::Equivalent<Key> for StrKey<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        matches!(&key.0, Value::Str(s) if s.as_str() == self.0)
    }
}

/// A borrowed string key whose hash is cached ([`Str::hash_code`]): looks
/// up a field name or a constant key without hashing or allocating, and
/// compares by pointer before comparing bytes (interned constants and map
/// keys made from them are the same allocation).
#[derive(Clone, Copy, Debug)]
pub struct StrRefKey<'a>(pub &'a Str);

impl std::hash::Hash for StrRefKey<'_> {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(self.0.hash_code())
    }
}

impl crate::map::Equivalent<Key> for StrRefKey<'_> {
    #[inline]
    fn equivalent(&self, key: &Key) -> bool {
        matches!(&key.0, Value::Str(s) if Str::ptr_eq(s, self.0) || s.as_str() == self.0.as_str())
    }
}

/// A borrowed map key (`m[k]` without cloning `k`): hashes and compares as
/// [`Key`] does. Make one with [`KeyRef::new`], which rejects the types
/// that cannot be keys.
#[derive(Clone, Copy, Debug)]
pub struct KeyRef<'a>(&'a Value);

impl<'a> KeyRef<'a> {
    /// `v` as a key, or the `TypeError` [`Key::new`] gives.
    #[inline]
    pub fn new(v: &'a Value) -> Result<KeyRef<'a>> {
        match v {
            Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Str(_) => {
                Ok(KeyRef(v))
            }
            other => Key::new(other.clone()).map(|_| KeyRef(v)),
        }
    }
}

impl std::hash::Hash for KeyRef<'_> {
    #[inline]
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        crate::value::hash_key(self.0, h)
    }
}

impl crate::map::Equivalent<Key> for KeyRef<'_> {
    #[inline]
    fn equivalent(&self, key: &Key) -> bool {
        // Ints and strings (nearly every key) compared inline; the rest
        // (nil, bools, floats, an int against a float) as `==` does.
        match (self.0, &key.0) {
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Str(a), Value::Str(b)) => a == b,
            (a, b) => a == b,
        }
    }
}

/// `v.name`: a map's `"name"` key, a module's field, an error's field.
pub fn field_get(v: &Value, name: &str) -> Result<Value> {
    match v {
        Value::Map(m) => match m.get(&StrKey(name)) {
            Some(x) => Ok(x.clone()),
            None => Err(key_error(&Value::str(name))),
        },
        Value::Module(m) => match m.fields.get(&StrKey(name)) {
            Some(x) => Ok(x.clone()),
            None => Err(Error::new(
                ErrorKind::KeyError,
                format!("module '{}' has no field '{name}'", m.name),
            )),
        },
        Value::Error(e) => match name {
            "kind" => Ok(Value::str(e.kind.as_str())),
            "message" => Ok(Value::str(e.message.as_str())),
            "value" => Ok(e.value.clone()),
            "trace" => Ok(Value::list(
                e.trace
                    .iter()
                    .map(|t| Value::str(t.as_str()))
                    .collect::<Vec<_>>(),
            )),
            "errors" if e.errors.is_some() => Ok(e.errors.clone().unwrap_or_default()),
            _ => Err(Error::new(
                ErrorKind::KeyError,
                format!(
                    "error has no field '{name}' (fields: kind, message, value, trace; \
                     errors for a scope's failure)"
                ),
            )),
        },
        other => Err(Error::type_error(format!(
            "'{}' has no field '{name}'",
            other.type_name()
        ))),
    }
}

/// `v.name = x`: sets a map's `"name"` key in place.
pub fn field_set(v: &mut Value, name: &str, x: Value) -> Result<()> {
    match v {
        Value::Map(m) => {
            let m = m.make_mut();
            match m.get_mut(&StrKey(name)) {
                Some(slot) => *slot = x,
                None => {
                    m.insert(Key::str(name), x);
                }
            }
            Ok(())
        }
        other => Err(Error::type_error(format!(
            "cannot set field '{name}' on '{}' (only maps have assignable fields)",
            other.type_name()
        ))),
    }
}

/// `len(v)` for strings (characters), lists, maps and ranges.
pub fn len(v: &Value) -> Result<i64> {
    match v {
        Value::List(xs) => Ok(xs.len() as i64),
        Value::Str(s) => Ok(s.char_count() as i64),
        Value::Map(m) => Ok(m.len() as i64),
        Value::Range(r) => r.checked_len(),
        // The queued count, as `ch.len()`.
        Value::Channel(c) => Ok(i64::try_from(c.ch.len()).unwrap_or(i64::MAX)),
        other => Err(Error::type_error(format!(
            "'{}' has no length",
            other.type_name()
        ))),
    }
}

/// The number of characters of `s`.
#[inline]
pub(crate) fn str_len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

pub(crate) mod memory;
#[cfg(test)]
mod test;
