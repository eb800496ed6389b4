//! The interpreter. Placeholder: the compiler/VM work replaces this file.

use crate::error::Result;
use crate::value::Value;

/// Per-thread interpreter state.
pub struct Vm {}

impl Vm {
    /// Calls any callable value with `args` on this thread.
    pub fn call(&mut self, f: &Value, args: &[Value]) -> Result<Value> {
        let _ = (f, args);
        unimplemented!("the VM is being written")
    }
}
