//! Pseudo-random numbers (`fastrand`, one generator per thread):
//! `random random_int`.

use super::args::{self, arity};
use crate::error::{Error, Result};
use crate::value::{NativeFn, Value};
use crate::vm::Vm;

/// The table of this file's builtins.
pub(crate) static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "random",
        f: random,
    },
    NativeFn {
        name: "random_int",
        f: random_int,
    },
];

/// `random()`: a float in `[0, 1)`.
fn random(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("random", args, 0, 0)?;
    Ok(Value::Float(fastrand::f64()))
}

/// `random_int(lo, hi)`: an int in `[lo, hi]` (both ends included).
fn random_int(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("random_int", args, 2, 2)?;
    let lo = args::int("random_int", "lo", &args[0])?;
    let hi = args::int("random_int", "hi", &args[1])?;
    if lo > hi {
        return Err(Error::value_error(format!(
            "random_int() lo ({lo}) is greater than hi ({hi})"
        )));
    }
    Ok(Value::Int(fastrand::i64(lo..=hi)))
}
