//! The built-in `math` module: `sqrt floor ceil round trunc sin cos tan atan
//! atan2 exp log log2 log10 pow` and the constants `pi e tau inf nan`.
//!
//! As in Python: arguments may be ints or floats; `floor`, `ceil`, `round`
//! (with one argument) and `trunc` return ints (`OverflowError` for an
//! infinity or a float too large, `ValueError` for NaN); a domain error
//! (`sqrt(-1)`, `log(0)`, `sin(inf)`) is a `ValueError` and a result too
//! large to represent is an `OverflowError`, both saying `math domain error`
//! / `math range error`.

use super::args::{self, arity};
use super::prelude::float_to_int;
use crate::error::{Error, ErrorKind, Result};
use crate::value::{Key, Map, Module, NativeFn, Value};
use crate::vm::Vm;
use std::sync::Arc;

static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "sqrt",
        f: sqrt,
    },
    NativeFn {
        name: "floor",
        f: floor,
    },
    NativeFn {
        name: "ceil",
        f: ceil,
    },
    NativeFn {
        name: "round",
        f: round,
    },
    NativeFn {
        name: "trunc",
        f: trunc,
    },
    NativeFn {
        name: "sin",
        f: sin,
    },
    NativeFn {
        name: "cos",
        f: cos,
    },
    NativeFn {
        name: "tan",
        f: tan,
    },
    NativeFn {
        name: "atan",
        f: atan,
    },
    NativeFn {
        name: "atan2",
        f: atan2,
    },
    NativeFn {
        name: "exp",
        f: exp,
    },
    NativeFn {
        name: "log",
        f: log,
    },
    NativeFn {
        name: "log2",
        f: log2,
    },
    NativeFn {
        name: "log10",
        f: log10,
    },
    NativeFn {
        name: "pow",
        f: pow,
    },
];

/// Builds the `math` module value.
pub(crate) fn make_module() -> Value {
    let mut fields = Map::default();
    for f in FUNCTIONS {
        fields.insert(Key::str(f.name), Value::Native(f));
    }
    let constants = [
        ("pi", std::f64::consts::PI),
        ("e", std::f64::consts::E),
        ("tau", std::f64::consts::TAU),
        ("inf", f64::INFINITY),
        ("nan", f64::NAN),
    ];
    for (name, x) in constants {
        fields.insert(Key::str(name), Value::Float(x));
    }
    Value::Module(Arc::new(Module {
        name: "math".to_string(),
        fields,
    }))
}

#[cold]
fn domain_error() -> Error {
    Error::value_error("math domain error")
}

#[cold]
fn range_error() -> Error {
    Error::new(ErrorKind::OverflowError, "math range error")
}

/// The single number argument of `math.<func>`.
fn one(func: &str, args: &[Value]) -> Result<f64> {
    arity(func, args, 1, 1)?;
    args::number(func, "argument", &args[0])
}

/// A float result computed from finite inputs: NaN means a domain error,
/// infinity a range error.
fn checked(x: f64, inputs_finite: bool, r: f64) -> Result<Value> {
    if r.is_nan() && !x.is_nan() {
        return Err(domain_error());
    }
    if r.is_infinite() && inputs_finite {
        return Err(range_error());
    }
    Ok(Value::Float(r))
}

fn sqrt(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let x = one("math.sqrt", args)?;
    checked(x, x.is_finite(), x.sqrt())
}

/// Applies a float→int rounding, keeping ints as they are.
fn to_int(func: &str, args: &[Value], op: fn(f64) -> f64) -> Result<Value> {
    arity(func, args, 1, 1)?;
    match &args[0] {
        Value::Int(i) => Ok(Value::Int(*i)),
        Value::Float(f) => float_to_int(*f, op(*f)).map(Value::Int),
        other => Err(args::type_error(func, "argument", "a number", other)),
    }
}

fn floor(_: &mut Vm, args: &[Value]) -> Result<Value> {
    to_int("math.floor", args, f64::floor)
}

fn ceil(_: &mut Vm, args: &[Value]) -> Result<Value> {
    to_int("math.ceil", args, f64::ceil)
}

fn trunc(_: &mut Vm, args: &[Value]) -> Result<Value> {
    to_int("math.trunc", args, f64::trunc)
}

/// `round(x)`: the nearest int, halves to even. `round(x, n)`: `x` rounded
/// to `n` decimals (a float for a float, an int for an int).
fn round(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("math.round", args, 1, 2)?;
    let Some(nd) = args.get(1) else {
        return to_int("math.round", args, f64::round_ties_even);
    };
    let n = args::int("math.round", "ndigits", nd)?;
    match &args[0] {
        Value::Int(i) => round_int(*i, n).map(Value::Int),
        Value::Float(f) => Ok(Value::Float(round_float(*f, n))),
        other => Err(args::type_error(
            "math.round",
            "argument",
            "a number",
            other,
        )),
    }
}

/// An int rounded to `n` decimals; only a negative `n` changes it.
fn round_int(i: i64, n: i64) -> Result<i64> {
    if n >= 0 {
        return Ok(i);
    }
    let Some(p) = u32::try_from(-n).ok().and_then(|e| 10i128.checked_pow(e)) else {
        return Ok(0);
    };
    let x = i as i128;
    let q = x.div_euclid(p);
    let r = x.rem_euclid(p);
    let q = match (2 * r).cmp(&p) {
        std::cmp::Ordering::Greater => q + 1,
        std::cmp::Ordering::Equal if q % 2 != 0 => q + 1,
        _ => q,
    };
    i64::try_from(q * p).map_err(|_| range_error())
}

/// A float rounded to `n` decimals, halves to even on the exact binary value
/// (as Python does, through correctly rounded decimal formatting).
fn round_float(f: f64, n: i64) -> f64 {
    if !f.is_finite() || n > 330 {
        return f;
    }
    if n >= 0 {
        return format!("{f:.0$}", n as usize).parse().unwrap_or(f);
    }
    if n < -330 {
        return 0.0f64.copysign(f);
    }
    let p = 10f64.powi((-n) as i32);
    let r = (f / p).round_ties_even() * p;
    if r.is_finite() {
        r
    } else {
        f
    }
}

/// Trigonometry: an infinite argument is a domain error.
fn trig(func: &str, args: &[Value], op: fn(f64) -> f64) -> Result<Value> {
    let x = one(func, args)?;
    if x.is_infinite() {
        return Err(domain_error());
    }
    Ok(Value::Float(op(x)))
}

fn sin(_: &mut Vm, args: &[Value]) -> Result<Value> {
    trig("math.sin", args, f64::sin)
}

fn cos(_: &mut Vm, args: &[Value]) -> Result<Value> {
    trig("math.cos", args, f64::cos)
}

fn tan(_: &mut Vm, args: &[Value]) -> Result<Value> {
    trig("math.tan", args, f64::tan)
}

fn atan(_: &mut Vm, args: &[Value]) -> Result<Value> {
    Ok(Value::Float(one("math.atan", args)?.atan()))
}

fn atan2(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("math.atan2", args, 2, 2)?;
    let y = args::number("math.atan2", "y", &args[0])?;
    let x = args::number("math.atan2", "x", &args[1])?;
    Ok(Value::Float(y.atan2(x)))
}

fn exp(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let x = one("math.exp", args)?;
    checked(x, x.is_finite(), x.exp())
}

/// A logarithm: non-positive arguments are domain errors.
fn ln_checked(x: f64) -> Result<f64> {
    if x <= 0.0 {
        return Err(domain_error());
    }
    Ok(x.ln())
}

fn log(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("math.log", args, 1, 2)?;
    let x = args::number("math.log", "argument", &args[0])?;
    let num = ln_checked(x)?;
    match args.get(1) {
        None => Ok(Value::Float(num)),
        Some(b) => {
            let base = args::number("math.log", "base", b)?;
            let den = ln_checked(base)?;
            if den == 0.0 {
                return Err(Error::new(
                    ErrorKind::ZeroDivisionError,
                    "float division by zero",
                ));
            }
            Ok(Value::Float(num / den))
        }
    }
}

fn log2(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let x = one("math.log2", args)?;
    ln_checked(x)?;
    Ok(Value::Float(x.log2()))
}

fn log10(_: &mut Vm, args: &[Value]) -> Result<Value> {
    let x = one("math.log10", args)?;
    ln_checked(x)?;
    Ok(Value::Float(x.log10()))
}

/// `pow(x, y)`: always a float, as Python's `math.pow`.
fn pow(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("math.pow", args, 2, 2)?;
    let x = args::number("math.pow", "base", &args[0])?;
    let y = args::number("math.pow", "exponent", &args[1])?;
    if x == 0.0 && y < 0.0 {
        return Err(domain_error());
    }
    let r = x.powf(y);
    if r.is_nan() && !x.is_nan() && !y.is_nan() {
        return Err(domain_error());
    }
    if r.is_infinite() && x.is_finite() && y.is_finite() {
        return Err(range_error());
    }
    Ok(Value::Float(r))
}
