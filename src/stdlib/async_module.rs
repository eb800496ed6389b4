//! The built-in module `async` (ASYNC.md: every function of the async
//! library is in the global prelude and also a field of `async`).
//!
//! Registration: each async file appends its table of natives to
//! [`TABLES`] (one line each) and its globals to `GLOBAL_TABLES` in
//! `stdlib/mod.rs`.

use std::sync::{Arc, OnceLock};

use crate::value::{Key, Map, Module, NativeFn, Value};

/// The natives that are fields of `async`, one table per file.
const TABLES: &[&[NativeFn]] = &[super::parallel::FUNCTIONS];

/// The module value (the same one every time).
pub(crate) fn module() -> Value {
    static MODULE: OnceLock<Value> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let mut fields = Map::default();
            for f in TABLES.iter().flat_map(|t| t.iter()) {
                fields.insert(Key::str(f.name), Value::Native(f));
            }
            Value::Module(Arc::new(Module {
                name: "async".to_string(),
                fields,
            }))
        })
        .clone()
}
