//! Atoms: shared mutable cells (`atom`, `get`, `set`, `update`, `add`;
//! ASYNC.md, "Shared state").

use crate::value::Value;
use parking_lot::Mutex;

/// A shared mutable cell. Copying the `atom` value copies the handle.
#[derive(Debug)]
pub struct AtomObj {
    /// The current value.
    pub cell: Mutex<Value>,
}

impl AtomObj {
    /// A new atom holding `v`.
    pub fn new(v: Value) -> AtomObj {
        AtomObj {
            cell: Mutex::new(v),
        }
    }

    /// A snapshot of the current value.
    pub fn get(&self) -> Value {
        self.cell.lock().clone()
    }
}
