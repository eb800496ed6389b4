//! Unit tests of the native standard library. Callbacks are native test
//! functions here (called directly, no VM needed); Weft closures as
//! callbacks are tested end to end in `script.rs` once the VM runs scripts.

mod format;
mod io;
mod list;
mod map;
mod math;
mod prelude;
mod script;
mod string;

use super::*;
use crate::value::{Key, Map, RangeVal};
use std::sync::Arc;

/// A VM for calling natives (and, through them, Weft callbacks).
pub(super) fn vm() -> Vm {
    Vm::new()
}

pub(super) fn i(x: i64) -> Value {
    Value::Int(x)
}
pub(super) fn f(x: f64) -> Value {
    Value::Float(x)
}
pub(super) fn s(x: &str) -> Value {
    Value::str(x)
}
pub(super) fn l(xs: Vec<Value>) -> Value {
    Value::list(xs)
}
pub(super) fn range(start: i64, stop: i64, step: i64) -> Value {
    Value::Range(Arc::new(RangeVal { start, stop, step }))
}
pub(super) fn map(pairs: Vec<(Value, Value)>) -> Value {
    let mut m = Map::default();
    for (k, v) in pairs {
        m.insert(Key::new(k).unwrap(), v);
    }
    Value::map(m)
}

/// Calls the global builtin `name`.
pub(super) fn call(name: &str, args: &[Value]) -> Result<Value> {
    match lookup_global(name) {
        Some(Value::Native(n)) => (n.f)(&mut vm(), args),
        other => panic!("{name} is not a native builtin: {other:?}"),
    }
}

/// Calls `recv.name(args)` as the VM does.
pub(super) fn method(recv: &mut Value, name: &str, args: &[Value]) -> Result<Value> {
    match method_id(name) {
        Some(m) => call_method(&mut vm(), recv, m, args),
        None => call_member(&mut vm(), recv, name, args),
    }
}

/// The error kind and message of a failed call.
pub(super) fn err(r: Result<Value>) -> (ErrorKind, String) {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => (e.kind(), e.message().to_string()),
    }
}

pub(super) fn kind(r: Result<Value>) -> ErrorKind {
    err(r).0
}

pub(super) fn ok(r: Result<Value>) -> Value {
    r.unwrap_or_else(|e| panic!("unexpected error {e}"))
}

fn native(v: &'static NativeFn) -> Value {
    Value::Native(v)
}

fn double(_: &mut Vm, args: &[Value]) -> Result<Value> {
    crate::ops::binary(crate::ast::BinOp::Mul, &args[0], &Value::Int(2))
}
fn is_even(_: &mut Vm, args: &[Value]) -> Result<Value> {
    Ok(Value::Bool(matches!(args[0], Value::Int(x) if x % 2 == 0)))
}
fn add(_: &mut Vm, args: &[Value]) -> Result<Value> {
    crate::ops::binary(crate::ast::BinOp::Add, &args[0], &args[1])
}
fn negate(_: &mut Vm, args: &[Value]) -> Result<Value> {
    crate::ops::negate(&args[0])
}
fn fail(_: &mut Vm, _: &[Value]) -> Result<Value> {
    Err(Error::value_error("callback failed"))
}

/// `x * 2`
pub(super) static DOUBLE: NativeFn = NativeFn {
    name: "double",
    f: double,
};
/// `x % 2 == 0`
pub(super) static IS_EVEN: NativeFn = NativeFn {
    name: "is_even",
    f: is_even,
};
/// `a + b`
pub(super) static ADD: NativeFn = NativeFn {
    name: "add",
    f: add,
};
/// `-x`
pub(super) static NEGATE: NativeFn = NativeFn {
    name: "negate",
    f: negate,
};
/// Always a `ValueError`.
pub(super) static FAIL: NativeFn = NativeFn {
    name: "fail",
    f: fail,
};

pub(super) fn double_fn() -> Value {
    native(&DOUBLE)
}
pub(super) fn is_even_fn() -> Value {
    native(&IS_EVEN)
}
pub(super) fn add_fn() -> Value {
    native(&ADD)
}
pub(super) fn negate_fn() -> Value {
    native(&NEGATE)
}
pub(super) fn fail_fn() -> Value {
    native(&FAIL)
}

#[test]
fn every_documented_global_resolves() {
    let names = [
        "print",
        "len",
        "type",
        "str",
        "int",
        "float",
        "range",
        "list",
        "abs",
        "min",
        "max",
        "sum",
        "sorted",
        "enumerate",
        "zip",
        "assert",
        "time",
        "sleep",
        "args",
        "exit",
        "input",
        "read_file",
        "write_file",
        "format",
        "random",
        "random_int",
    ];
    for name in names {
        match lookup_global(name) {
            Some(Value::Native(n)) => assert_eq!(n.name, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(matches!(lookup_global("math"), Some(Value::Module(_))));
    assert!(lookup_global("nope").is_none());
    assert!(
        lookup_global("sqrt").is_none(),
        "math functions are not globals"
    );
    assert!(global_names().contains(&"print") && global_names().contains(&"math"));
}

#[test]
fn the_math_module_is_one_value() {
    let a = builtin_module("math").unwrap();
    let b = lookup_global("math").unwrap();
    assert_eq!(a, b, "modules compare by identity");
    assert!(builtin_module("nosuchmodule").is_none());
    for name in ["json", "csv", "re", "fs", "os", "date"] {
        let m = builtin_module(name).unwrap();
        assert_eq!(m, builtin_module(name).unwrap(), "{name} is one value");
        assert_eq!(m.to_string(), format!("<module {name}>"));
    }
    assert_eq!(a.to_string(), "<module math>");
}

#[test]
fn method_ids_round_trip_and_mutating_set_is_exact() {
    let mutating = [
        "push", "pop", "insert", "remove", "extend", "clear", "sort", "reverse", "set",
    ];
    let others = [
        "len",
        "contains",
        "index_of",
        "slice",
        "join",
        "map",
        "filter",
        "reduce",
        "copy",
        "has",
        "get",
        "keys",
        "values",
        "items",
        "upper",
        "lower",
        "trim",
        "split",
        "lines",
        "starts_with",
        "ends_with",
        "replace",
        "find",
        "chars",
        "bytes_len",
    ];
    for name in mutating {
        let m = method_id(name).unwrap();
        assert_eq!(m.name(), name);
        assert!(is_mutating(m), "{name}");
    }
    for name in others {
        let m = method_id(name).unwrap();
        assert_eq!(m.name(), name);
        assert!(!is_mutating(m), "{name}");
    }
    assert_eq!(method_id("frobnicate"), None);
    assert_eq!(method_id("Push"), None);
}

#[test]
fn methods_on_the_wrong_type() {
    let (k, m) = err(method(&mut s("abc"), "push", &[i(1)]));
    assert_eq!(k, ErrorKind::TypeError);
    assert_eq!(m, "string has no method 'push'");
    assert_eq!(
        err(method(&mut i(1), "len", &[])).1,
        "int has no method 'len'"
    );
    assert_eq!(
        err(method(&mut l(vec![]), "upper", &[])).1,
        "list has no method 'upper'"
    );
    assert_eq!(
        err(method(&mut Value::Nil, "frob", &[])).1,
        "nil has no method 'frob'"
    );
    assert_eq!(
        kind(method(&mut range(0, 3, 1), "push", &[i(1)])),
        ErrorKind::TypeError
    );
}

#[test]
fn call_member_on_modules() {
    let mut m = builtin_module("math").unwrap();
    assert_eq!(ok(method(&mut m, "sqrt", &[i(9)])), f(3.0));
    let (k, msg) = err(method(&mut m, "pi", &[]));
    assert_eq!(k, ErrorKind::TypeError);
    assert!(msg.contains("'pi'") && msg.contains("float"), "{msg}");
    let (k, msg) = err(method(&mut m, "nope", &[]));
    assert_eq!(k, ErrorKind::KeyError);
    assert!(msg.contains("nope"), "{msg}");

    // A module function named like a built-in method is still reachable.
    let mut fields = Map::default();
    fields.insert(Key::str("map"), double_fn());
    let mut module = Value::Module(Arc::new(crate::value::Module {
        name: "m".into(),
        fields,
    }));
    assert_eq!(ok(method(&mut module, "map", &[i(4)])), i(8));
}

#[test]
fn call_member_on_maps() {
    let mut m = map(vec![
        (s("twice"), double_fn()),
        (s("n"), i(1)),
        (s("map"), double_fn()),
    ]);
    assert_eq!(ok(method(&mut m, "twice", &[i(21)])), i(42));
    // A key named like a non-map method is called too.
    assert_eq!(ok(method(&mut m, "map", &[i(2)])), i(4));
    let (k, msg) = err(method(&mut m, "n", &[]));
    assert_eq!(k, ErrorKind::TypeError);
    assert!(msg.contains("'n'") && msg.contains("int"), "{msg}");
    assert_eq!(
        err(method(&mut m, "missing", &[])).1,
        "map has no method 'missing'"
    );
    // Map methods win over keys.
    let mut m2 = map(vec![(s("len"), double_fn())]);
    assert_eq!(ok(method(&mut m2, "len", &[])), i(1));
    assert_eq!(
        kind(call_member(&mut vm(), &mut i(1), "x", &[])),
        ErrorKind::TypeError
    );
}

#[test]
fn shared_values_mutated_from_many_threads_stay_independent() {
    for threads in [1, 2, 16] {
        let shared = l((0..100).map(i).collect());
        let shared_map = map(vec![(s("n"), i(0))]);
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mut xs = shared.clone();
                let mut m = shared_map.clone();
                std::thread::spawn(move || {
                    let mut vm = vm();
                    for k in 0..200 {
                        call_method(&mut vm, &mut xs, Method::Push, &[i(t * 1000 + k)]).unwrap();
                    }
                    call_method(&mut vm, &mut xs, Method::Sort, &[negate_fn()]).unwrap();
                    call_method(&mut vm, &mut m, Method::Set, &[s("n"), i(t)]).unwrap();
                    (xs, m)
                })
            })
            .collect();
        for (t, h) in handles.into_iter().enumerate() {
            let (xs, m) = h.join().unwrap();
            assert_eq!(crate::ops::len(&xs).unwrap(), 300);
            assert_eq!(
                crate::ops::index_get(&xs, &i(0)).unwrap(),
                i(t as i64 * 1000 + 199)
            );
            assert_eq!(crate::ops::field_get(&m, "n").unwrap(), i(t as i64));
        }
        assert_eq!(crate::ops::len(&shared).unwrap(), 100, "{threads} threads");
        assert_eq!(crate::ops::index_get(&shared, &i(0)).unwrap(), i(0));
        assert_eq!(crate::ops::field_get(&shared_map, "n").unwrap(), i(0));
    }
}
