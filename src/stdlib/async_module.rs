//! The built-in module `async`: every concurrency builtin, also in the
//! global prelude (ASYNC.md: "the same functions are also fields of the
//! built-in module `async`").
//!
//! To add builtins, append their table to [`TABLES`]: [`super::lookup_global`]
//! searches these tables after the other prelude tables, and
//! [`make_module`] makes every entry a field of `async`.

use crate::value::{Key, Map, Module, NativeFn, Value};
use std::sync::Arc;

/// The tables of the `async` builtins, in registration order. One line
/// per file; a name must appear only once over all tables.
pub(crate) static TABLES: &[&[NativeFn]] = &[
    super::task::FUNCTIONS,
    super::atom::FUNCTIONS,
    super::introspect::FUNCTIONS,
    super::channel::FUNCTIONS,
    super::parallel::FUNCTIONS,
    super::scope::FUNCTIONS,
];

/// The `async` builtin called `name`, if any.
pub(crate) fn lookup(name: &str) -> Option<&'static NativeFn> {
    TABLES
        .iter()
        .find_map(|t| t.iter().find(|f| f.name == name))
}

/// The names of every `async` builtin.
pub(crate) fn names() -> impl Iterator<Item = &'static str> {
    TABLES.iter().flat_map(|t| t.iter().map(|f| f.name))
}

/// The module value `async`.
pub(crate) fn make_module() -> Value {
    let mut fields = Map::default();
    for f in TABLES.iter().flat_map(|t| t.iter()) {
        fields.insert(Key::str(f.name), Value::Native(f));
    }
    Value::Module(Arc::new(Module {
        name: "async".to_string(),
        fields,
    }))
}
