//! Weft closures: a compiled prototype plus the values captured when the
//! closure was created (closures capture by value).

use crate::bytecode::Proto;
use crate::value::Value;
use std::fmt;

/// A Weft closure value.
pub struct Closure {
    /// The compiled function (shared, immutable, lives for the process).
    pub proto: &'static Proto,
    /// Captured values, in the order of `proto.captures`.
    pub captures: Box<[Value]>,
}

impl Closure {
    /// The function's name, if it was declared with one.
    pub fn name(&self) -> Option<&str> {
        self.proto.name.as_deref()
    }

    /// How many arguments the function takes at most.
    pub fn arity(&self) -> usize {
        self.proto.nparams as usize
    }

    /// Whether a call with `argc` arguments is accepted (parameters with
    /// default values may be left out).
    pub fn accepts(&self, argc: usize) -> bool {
        self.proto.entry_for(argc).is_some()
    }
}

impl fmt::Debug for Closure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "<fn {n}>"),
            None => f.write_str("<fn>"),
        }
    }
}
