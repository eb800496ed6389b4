//! End-to-end tests: Weft closures as callbacks, and methods called from
//! compiled scripts (value semantics, in-place mutation, error paths).

use super::*;
use crate::interp::Script;

/// Runs `src` and returns its top-level variable `r`.
fn eval(src: &str) -> Result<Value> {
    let mut script = Script::compile("<test>", src).unwrap_or_else(|e| panic!("{}", e.render()));
    script.run()?;
    Ok(script.get("r").unwrap_or_default())
}

fn eval_ok(src: &str) -> Value {
    eval(src).unwrap_or_else(|e| panic!("{src}\n{e}"))
}

fn eval_str(src: &str) -> String {
    eval_ok(src).to_string()
}

#[test]
fn map_filter_reduce_with_closures() {
    assert_eq!(
        eval_str("let r = [1, 2, 3].map(fn(x) { x * x })"),
        "[1, 4, 9]"
    );
    assert_eq!(
        eval_str("let k = 10\nlet r = [1, 2, 3].map(fn(x) { x + k })"),
        "[11, 12, 13]"
    );
    assert_eq!(
        eval_str("let r = range(10).filter(fn(x) { x % 3 == 0 })"),
        "[0, 3, 6, 9]"
    );
    assert_eq!(
        eval_str("let r = [1, 2, 3, 4].reduce(fn(a, b) { a * b }, 1)"),
        "24"
    );
    assert_eq!(
        eval_str(r#"let r = ["a", "b"].reduce(fn(a, b) { a + b })"#),
        "ab"
    );
    assert_eq!(
        eval_str("let r = [[1, 2], [3]].map(fn(p) { p.len() })"),
        "[2, 1]"
    );
}

#[test]
fn sorting_with_closures() {
    assert_eq!(
        eval_str("let r = sorted([3, -1, 2], fn(x) { -x })"),
        "[3, 2, -1]"
    );
    assert_eq!(
        eval_str(r#"let r = sorted(["ccc", "a", "bb", "d"], fn(s) { s.len() })"#),
        r#"["a", "d", "bb", "ccc"]"#
    );
    assert_eq!(
        eval_str(
            r#"let r = [{n: "x", a: 3}, {n: "y", a: 1}, {n: "z", a: 3}]
r.sort(fn(p) { p.a })
r = r.map(fn(p) { p.n })"#
        ),
        r#"["y", "x", "z"]"#
    );
    assert_eq!(
        eval_str("let r = sorted([[2, 1], [1, 5], [1, 2]])"),
        "[[1, 2], [1, 5], [2, 1]]"
    );
}

#[test]
fn callback_errors_propagate_with_their_kind() {
    let e = eval("let r = [1, 0].map(fn(x) { 1 // x })").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::ZeroDivisionError);
    let e = eval(r#"let r = [1, 2].filter(fn(x) { throw "no" })"#).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Error);
    assert_eq!(e.message(), "no");
    let e = eval("let xs = [2, 1]\nxs.sort(fn(x) { x.nope })").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = eval(r#"let r = sorted([1, 2], fn(x) { if x == 1 { "a" } else { 2 } })"#).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
    assert_eq!(
        eval_str("let r = [1, 2, 3]\ntry { r.sort(fn(x) { if x == 2 { throw 1 } else { x } }) } catch e { }"),
        "[1, 2, 3]",
        "a failed sort leaves the list unchanged"
    );
}

#[test]
fn mutating_methods_have_value_semantics() {
    assert_eq!(
        eval_str("let a = [1]\nlet b = a\nb.push(2)\nlet r = [a, b]"),
        "[[1], [1, 2]]"
    );
    assert_eq!(
        eval_str("let a = {k: 1}\nlet b = a\nb.set(\"j\", 2)\nlet r = [a, b]"),
        r#"[{"k": 1}, {"k": 1, "j": 2}]"#
    );
    assert_eq!(
        eval_str("fn f(xs) { xs.push(9); xs }\nlet a = [1]\nlet b = f(a)\nlet r = [a, b]"),
        "[[1], [1, 9]]"
    );
    assert_eq!(
        eval_str("let r = [[1], [2]]\nr[1].push(3)\nr[0].clear()"),
        "[[], [2, 3]]"
    );
    assert_eq!(
        eval_str("let r = {xs: []}\nr.xs.push(1)\nr.xs.push(2)"),
        r#"{"xs": [1, 2]}"#
    );
}

#[test]
fn loops_of_push_and_append() {
    assert_eq!(
        eval_str("let r = []\nfor i in range(1000) { r.push(i) }\nr = [r.len(), r[999], sum(r)]"),
        "[1000, 999, 499500]"
    );
    assert_eq!(
        eval_str("let s = \"\"\nfor i in range(5) { s += str(i) }\nlet r = s"),
        "01234"
    );
    assert_eq!(
        eval_str("let r = []\nfor i in range(3) { r += [i] }"),
        "[0, 1, 2]"
    );
}

#[test]
fn member_calls_on_maps_and_modules() {
    assert_eq!(
        eval_str("let m = {double: fn(x) { x * 2 }}\nlet r = m.double(21)"),
        "42"
    );
    assert_eq!(eval_str("let r = math.sqrt(16) + math.floor(2.5)"), "6.0");
    let e = eval("let m = {n: 1}\nlet r = m.n()").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = eval("let r = math.nope(1)").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::KeyError);
}

#[test]
fn errors_from_builtins_are_catchable() {
    assert_eq!(
        eval_str("let r = []\nlet e0 = []\ntry { e0.pop() } catch e { r.push(e.kind) }\ntry { int(\"x\") } catch e { r.push(e.kind) }\nlet m = {}\ntry { m[\"k\"] } catch e { r.push(e.message) }"),
        r#"["IndexError", "ValueError", "key not found: \"k\""]"#
    );
    assert_eq!(
        eval_str("let r = nil\nlet xs = [1]\ntry { xs.push(1, 2) } catch e { r = e.message }"),
        "list.push() takes 1 argument (2 given)"
    );
}
