//! The native standard library: global builtins, methods of the built-in
//! types, and built-in modules (`math`). One file per module, each exposing a
//! `make_module()` or a table, all registered here.
//!
//! CONTRACT with the compiler/VM:
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
//! - [`set_script_args`]: the CLI hands over the script's ARGS for `args()`.
//!
//! DECISIONS where LANGUAGE.md is silent (Python's behaviour unless noted):
//! - Numbers: `bool` is not a number (`true + 1` and `abs(true)` are
//!   `TypeError`s), but `int(true)` is 1 and `float(false)` is 0.0.
//!   Division and modulo by zero are `ZeroDivisionError` for floats too;
//!   `0 ** -1` likewise. A float `**` (or `math.pow`, `math.exp`) that
//!   overflows from finite operands is an `OverflowError`; `+ - * /` on floats
//!   follow IEEE (they may give `inf`). See [`crate::ops`] for the rest.
//! - Ordering: `<` is defined on numbers, strings (code point order) and
//!   lists (lexicographic); `nil`, bools, maps and ranges are unordered
//!   (`TypeError`). NaN compares false; when sorting, NaN goes last.
//! - Indexes must be ints: `xs[1.0]` is a `TypeError` (as in Python).
//!   `s[i]` and every string position count characters, not bytes.
//! - Missing keys: `m[k]`, `m.k` and `m.remove(k)` throw `KeyError` with the
//!   message `key not found: <repr of k>`. A missing module field is a
//!   `KeyError` too; modules are read-only (`m.x = 1` is a `TypeError`).
//! - `int(x)`: parses decimal only (after trimming whitespace; a sign and `_`
//!   between digits allowed, `"0x1f"` and `"1.5"` rejected) → `ValueError`;
//!   a value outside i64 → `OverflowError`; a non-number, non-string
//!   argument (`int(nil)`) → `ValueError`, as LANGUAGE.md says. `float(x)` accepts `inf`, `nan`,
//!   exponents and `_` between digits.
//! - `sum([])` is `0` (Python); `min`/`max` of nothing is a `ValueError`.
//!   `sum`, `min`, `max` of a range are O(1). `min`/`max` return the first
//!   of equal items.
//! - `list`, `sorted`, `enumerate`, `zip`, `min`, `max`, `sum` and
//!   `list.extend` accept any iterable: a list, a range, a string (its
//!   characters) or a map (its keys). `enumerate(xs, start)` and
//!   `zip(a, b, c, ...)` are accepted as in Python.
//! - `sorted`/`sort` are stable and call `key_fn` once per item. If a
//!   comparison or the key function fails, the list is left unchanged.
//! - `list.pop(i)` is accepted as in Python; `remove(i)` removes by *index*
//!   (LANGUAGE.md) and returns the item; both throw `IndexError` when out of
//!   range. `insert(i, v)` clamps `i` like Python. `index_of(v)` and
//!   `string.find(s)` return -1 when absent. `reduce(f)` without `init` folds
//!   from the first item (an empty list is then a `TypeError`, as Python).
//! - `join` requires every item to be a string (`TypeError` naming the index
//!   and type of the first bad one), as Python does; `str()` them first.
//! - `slice(a, b)` accepts `nil` for either bound (the start/end).
//! - `split()` with no separator splits on runs of whitespace and drops
//!   empty parts; `split("")` is a `ValueError`; `lines()` splits on `\n`
//!   and `\r\n` and drops one trailing empty line.
//! - Ranges also have the read-only list methods `len contains index_of map
//!   filter reduce` (`contains`/`index_of` in O(1)); maps also have `copy()`.
//! - Method names: a built-in method wins over a map key of the same name
//!   (`m.len()` is the map's size even if `m` has a key `"len"`); a name
//!   that is not a map method (`m.handler(x)`) calls the function stored
//!   under that key. On a module, every call is a field call, so a module
//!   may export functions named `map`, `get`, `split`...
//! - Wrong argument counts and types are `TypeError`s naming the function:
//!   `list.push() takes 1 argument (2 given)`, `string has no method 'push'`.
//! - `print` writes each line with one call under the stdout lock, so lines
//!   from concurrent tasks never interleave. A write failure (closed pipe)
//!   is an `IOError`.
//! - `input(prompt?)` prints the prompt's printed form; `nil` at end of
//!   input; strips `\n` or `\r\n`. `read_file`/`write_file` use UTF-8;
//!   failures are `IOError: cannot read "path": <OS reason>`; `write_file`
//!   requires a string (no implicit `str()`).
//! - `exit(code?)`: `nil` or nothing means 0; `exit("msg")` prints msg to
//!   stderr and exits with 1 (as Python's `sys.exit`); a code outside i32 is
//!   a `ValueError`.
//! - `time()` counts from [`start_clock`] (called by the CLI at startup, or
//!   else at the first `time()`); `sleep` takes ints or floats; negative or
//!   NaN → `ValueError`, too large → `OverflowError`.
//! - `format`: `{}`, `{N}` and a Python-style spec `{:[[fill]align][sign][0]
//!   [width][,|_][.precision][type]}`; extra arguments are ignored (Python),
//!   too few is a `ValueError`, as is a spec that does not fit the value
//!   (`{:d}` of a float).
//! - `random_int(lo, hi)` with `lo > hi` is a `ValueError`; unseeded, the
//!   generator is per thread and seeded from the OS (`random_seed`: see
//!   `random.rs`).
//! - `math` has, besides LANGUAGE.md's list, `trunc tan atan atan2 log2
//!   log10` and `e tau nan`. `round(x)` halves to even and returns an int;
//!   `round(x, n)` returns a float for a float (an int for an int). Domain
//!   errors say `math domain error` (`ValueError`); overflows say `math range
//!   error` (`OverflowError`); `log(x, 1)` is a `ZeroDivisionError` (Python).
//! - Tasks, atoms and pool introspection (prelude names that are also
//!   fields of the module `async`, see `async_module.rs`): their decisions
//!   are in the docs of `task.rs`, `atom.rs` and `introspect.rs`.

mod args;
mod async_module;
pub mod atom;
pub mod channel;
mod csv;
mod data;
mod date;
mod format;
mod fs;
pub mod handles;
mod introspect;
mod io;
mod json;
mod list;
mod map;
mod math;
mod os;
pub(crate) mod parallel;
mod prelude;
pub mod random;
mod re;
pub mod scope;
mod sort;
mod stream;
mod string;
mod system;
pub mod task;
pub mod task_registry;

#[cfg(test)]
mod test;

pub use format::format_values;
pub use system::{set_script_args, start_clock};

use crate::error::{Error, ErrorKind, Result};
use crate::value::{NativeFn, Value};
use crate::vm::Vm;
use std::sync::OnceLock;

macro_rules! methods {
    ($($variant:ident = $name:literal, mutating = $mutating:literal;)*) => {
        /// A known method name, interned at compile time.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Method {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Method {
            /// The method's name as written in source.
            pub fn name(self) -> &'static str {
                match self {
                    $(Method::$variant => $name,)*
                }
            }
        }

        /// The method id for `name`, if it is a known built-in method name.
        pub fn method_id(name: &str) -> Option<Method> {
            match name {
                $($name => Some(Method::$variant),)*
                _ => None,
            }
        }

        /// Whether `m` mutates its receiver (`push pop insert remove extend
        /// clear sort reverse set`).
        pub fn is_mutating(m: Method) -> bool {
            match m {
                $(Method::$variant => $mutating,)*
            }
        }
    };
}

methods! {
    Push = "push", mutating = true;
    Pop = "pop", mutating = true;
    Insert = "insert", mutating = true;
    Remove = "remove", mutating = true;
    Extend = "extend", mutating = true;
    Clear = "clear", mutating = true;
    Sort = "sort", mutating = true;
    Reverse = "reverse", mutating = true;
    Set = "set", mutating = true;
    Len = "len", mutating = false;
    Contains = "contains", mutating = false;
    IndexOf = "index_of", mutating = false;
    Slice = "slice", mutating = false;
    Join = "join", mutating = false;
    Map = "map", mutating = false;
    Filter = "filter", mutating = false;
    Reduce = "reduce", mutating = false;
    Copy = "copy", mutating = false;
    Has = "has", mutating = false;
    Get = "get", mutating = false;
    Keys = "keys", mutating = false;
    Values = "values", mutating = false;
    Items = "items", mutating = false;
    Upper = "upper", mutating = false;
    Lower = "lower", mutating = false;
    Trim = "trim", mutating = false;
    Split = "split", mutating = false;
    Lines = "lines", mutating = false;
    StartsWith = "starts_with", mutating = false;
    EndsWith = "ends_with", mutating = false;
    Replace = "replace", mutating = false;
    Find = "find", mutating = false;
    Chars = "chars", mutating = false;
    BytesLen = "bytes_len", mutating = false;
    // Channels (channel.rs; `len` above also serves them).
    Send = "send", mutating = false;
    Recv = "recv", mutating = false;
    TryRecv = "try_recv", mutating = false;
    TrySend = "try_send", mutating = false;
    SendBatch = "send_batch", mutating = false;
    RecvBatch = "recv_batch", mutating = false;
    Close = "close", mutating = false;
    Closed = "closed", mutating = false;
    // Tasks and atoms (task.rs, atom.rs).
    Done = "done", mutating = false;
    Cancel = "cancel", mutating = false;
    Id = "id", mutating = false;
    Status = "status", mutating = false;
    Update = "update", mutating = false;
    Add = "add", mutating = false;
    // Scopes (scope.rs).
    Spawn = "spawn", mutating = false;
}

/// The tables of global builtins, searched in order.
const GLOBAL_TABLES: &[&[NativeFn]] = &[
    prelude::FUNCTIONS,
    io::FUNCTIONS,
    system::FUNCTIONS,
    random::FUNCTIONS,
    format::FUNCTIONS,
];

/// The global builtin called `name`, if any.
pub fn lookup_global(name: &str) -> Option<Value> {
    for table in GLOBAL_TABLES {
        if let Some(f) = table.iter().find(|f| f.name == name) {
            return Some(Value::Native(f));
        }
    }
    if let Some(f) = async_module::lookup(name) {
        return Some(Value::Native(f));
    }
    builtin_module(name)
}

/// The names of every global builtin (for "did you mean" suggestions and
/// the REPL's completion).
pub fn global_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = GLOBAL_TABLES
        .iter()
        .flat_map(|t| t.iter().map(|f| f.name))
        .collect();
    names.extend(async_module::names());
    names.push("math");
    names.push("async");
    names.extend(DATA_MODULES);
    names
}

/// The data modules of STDLIB.md (`json csv re fs os date`), built in as
/// `math` is.
const DATA_MODULES: &[&str] = &["json", "csv", "re", "fs", "os", "date"];

/// The built-in module called `name` (`math`, `async`, [`DATA_MODULES`]), if any. The same module value
/// is returned every time.
pub fn builtin_module(name: &str) -> Option<Value> {
    static MATH: OnceLock<Value> = OnceLock::new();
    static ASYNC: OnceLock<Value> = OnceLock::new();
    static JSON: OnceLock<Value> = OnceLock::new();
    static RE: OnceLock<Value> = OnceLock::new();
    static CSV: OnceLock<Value> = OnceLock::new();
    static OS: OnceLock<Value> = OnceLock::new();
    static DATE: OnceLock<Value> = OnceLock::new();
    static FS: OnceLock<Value> = OnceLock::new();
    match name {
        "math" => Some(MATH.get_or_init(math::make_module).clone()),
        "async" => Some(ASYNC.get_or_init(async_module::make_module).clone()),
        "json" => Some(JSON.get_or_init(json::make_module).clone()),
        "re" => Some(RE.get_or_init(re::make_module).clone()),
        "csv" => Some(CSV.get_or_init(csv::make_module).clone()),
        "os" => Some(OS.get_or_init(os::make_module).clone()),
        "date" => Some(DATE.get_or_init(date::make_module).clone()),
        "fs" => Some(FS.get_or_init(fs::make_module).clone()),
        _ => None,
    }
}

/// Calls method `m` on `recv` (held in place) with `args`.
#[inline]
pub fn call_method(vm: &mut Vm, recv: &mut Value, m: Method, args: &[Value]) -> Result<Value> {
    match recv {
        Value::List(xs) => {
            // The hottest call in loops: no detour through the dispatcher.
            if let (Method::Push, [x]) = (m, args) {
                xs.make_mut().push(x.clone());
                return Ok(Value::Nil);
            }
            list::call(vm, xs, m, args)
        }
        Value::Str(s) => string::call(s, m, args),
        Value::Map(map) => match map::call(vm, map, m, args)? {
            Some(v) => Ok(v),
            None => call_member(vm, recv, m.name(), args),
        },
        Value::Range(r) => list::call_range(vm, **r, m, args),
        Value::Module(_) => call_member(vm, recv, m.name(), args),
        Value::Channel(c) => channel::call_in(vm, c, m, args),
        Value::Task(t) => task::call(t, m, args),
        Value::Scope(s) => scope::call(vm, s, m, args),
        Value::Atom(a) => {
            let a = a.clone();
            atom::call(vm, &a, m, args)
        }
        other => Err(no_method(other, m.name())),
    }
}

/// Calls `recv.name(args)` where `name` is not a known method.
pub fn call_member(vm: &mut Vm, recv: &mut Value, name: &str, args: &[Value]) -> Result<Value> {
    match recv {
        Value::Module(module) => match module.fields.get(&crate::ops::StrKey(name)) {
            Some(f @ (Value::Func(_) | Value::Native(_))) => {
                let f = f.clone();
                args::call(vm, &f, args)
            }
            Some(other) => Err(Error::type_error(format!(
                "field '{name}' of module '{}' is {}, not a function",
                module.name,
                args::article(other.type_name())
            ))),
            None => Err(Error::new(
                ErrorKind::KeyError,
                format!("module '{}' has no field '{name}'", module.name),
            )),
        },
        Value::Map(map) => match map.get(&crate::ops::StrKey(name)) {
            Some(f @ (Value::Func(_) | Value::Native(_))) => {
                let f = f.clone();
                args::call(vm, &f, args)
            }
            Some(other) => Err(Error::type_error(format!(
                "map key '{name}' holds {}, not a function",
                args::article(other.type_name())
            ))),
            None => Err(no_method(recv, name)),
        },
        other => Err(no_method(other, name)),
    }
}

#[cold]
fn no_method(v: &Value, name: &str) -> Error {
    Error::type_error(format!("{} has no method '{name}'", v.type_name()))
}
