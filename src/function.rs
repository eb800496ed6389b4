//! Weft closures: compiled code plus captured values.
//!
//! Owned by the compiler/VM work; this placeholder fixes only what
//! `value.rs` needs (`Closure::name`).

/// A Weft closure value.
#[derive(Debug)]
pub struct Closure {
    name: Option<String>,
}

impl Closure {
    /// The function's name, if it was declared with one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}
