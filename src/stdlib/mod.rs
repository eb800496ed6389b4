//! The native standard library: global builtins, methods of the built-in
//! types, and built-in modules (`math`). One file per module, each exposing a
//! `make_module()` or a table, all registered here.
//!
//! CONTRACT with the compiler/VM (placeholder bodies; the stdlib work fills
//! them in, keeping these signatures):
//! - [`lookup_global`]: the compiler resolves a name that is not a local or
//!   module variable here; `None` means "undefined name" (a compile error).
//! - [`builtin_module`]: `import "math"` and the prelude name `math`.
//! - [`Method`] / [`method_id`] / [`is_mutating`]: method names are interned
//!   at compile time; a mutating method on a non-place is a compile error.
//! - [`call_method`]: the VM takes the receiver out of its variable/place,
//!   calls this with `&mut` to it, and puts it back, so mutating methods work
//!   in place when the value is uniquely held.
//! - [`call_member`]: `recv.name(args)` for a name that is not a known
//!   method: a module's function field, or a map key holding a function.

use crate::error::Result;
use crate::value::Value;
use crate::vm::Vm;

/// A known method name, interned at compile time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// `push`
    Push,
}

/// The method id for `name`, if it is a known built-in method name.
pub fn method_id(name: &str) -> Option<Method> {
    let _ = name;
    None
}

/// Whether `m` mutates its receiver (`push pop insert remove extend clear
/// sort reverse set`).
pub fn is_mutating(m: Method) -> bool {
    matches!(m, Method::Push)
}

/// The global builtin called `name`, if any.
pub fn lookup_global(name: &str) -> Option<Value> {
    let _ = name;
    None
}

/// The built-in module called `name` (`math`), if any.
pub fn builtin_module(name: &str) -> Option<Value> {
    let _ = name;
    None
}

/// Calls method `m` on `recv` (held in place) with `args`.
pub fn call_method(vm: &mut Vm, recv: &mut Value, m: Method, args: &[Value]) -> Result<Value> {
    let _ = (vm, recv, m, args);
    unimplemented!("the stdlib is being written")
}

/// Calls `recv.name(args)` where `name` is not a known method.
pub fn call_member(vm: &mut Vm, recv: &mut Value, name: &str, args: &[Value]) -> Result<Value> {
    let _ = (vm, recv, name, args);
    unimplemented!("the stdlib is being written")
}
