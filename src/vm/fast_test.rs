//! Tests of the VM's speed-only paths: each must give exactly what the
//! general path gives, errors included.

use super::*;
use crate::interp::Script;

fn run_get(src: &str, name: &str) -> Value {
    let mut s =
        Script::compile("<test>", src).unwrap_or_else(|e| panic!("compile error: {}", e.render()));
    s.run()
        .unwrap_or_else(|e| panic!("runtime error: {e} {:?}", e.0.trace));
    s.get(name).unwrap_or_else(|| panic!("no top-level {name}"))
}

fn run_err(src: &str) -> Error {
    let mut s =
        Script::compile("<test>", src).unwrap_or_else(|e| panic!("compile error: {}", e.render()));
    match s.run() {
        Ok(_) => panic!("expected a runtime error"),
        Err(e) => e,
    }
}

#[test]
fn range_loops_match_range_values() {
    let src = r#"
        let cases = [[5], [2, 6], [10, 0, -3], [0, 10, 4], [3, 3], [5, 1], [-3, 3, 2],
                     [9223372036854775800, 9223372036854775807, 3],
                     [-9223372036854775800, -9223372036854775807, -4]]
        let ok = true
        let seen = []
        for c in cases {
            let looped = []
            if len(c) == 1 {
                for i in range(c[0]) { looped.push(i) }
            } else if len(c) == 2 {
                for i in range(c[0], c[1]) { looped.push(i) }
            } else {
                for i in range(c[0], c[1], c[2]) { looped.push(i) }
            }
            let r = if len(c) == 1 { range(c[0]) } else if len(c) == 2 { range(c[0], c[1]) } else { range(c[0], c[1], c[2]) }
            ok = ok and looped == list(r)
            seen.push(len(looped))
        }
    "#;
    assert_eq!(run_get(src, "ok"), Value::Bool(true));
    assert_eq!(
        run_get(src, "seen").to_string(),
        "[5, 4, 4, 3, 0, 0, 3, 3, 2]"
    );
}

#[test]
fn range_loop_errors_come_from_range() {
    let e = run_err("for i in range(1, 5, 0) { }");
    assert_eq!(e.kind(), ErrorKind::ValueError);
    assert!(
        e.message().contains("step must not be zero"),
        "{}",
        e.message()
    );
    let e = run_err("for i in range(1.5) { }");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = run_err("let s = \"3\"\nfor i in range(0, s) { }");
    assert_eq!(e.kind(), ErrorKind::TypeError);
}

#[test]
fn builtin_module_functions_are_called_directly() {
    let p = Script::compile("<test>", "fn f(x) { math.sqrt(x) }\nlet r = f(16.0)").unwrap();
    let code = p.disassemble();
    assert!(
        code.contains("Call {") && !code.contains("CallMethod"),
        "{code}"
    );
    assert_eq!(
        run_get(
            "let r = [math.sqrt(16.0), math.floor(2.5), math.pow(2, 10)]",
            "r"
        )
        .to_string(),
        "[4.0, 2, 1024.0]"
    );
    let e = run_err("let r = math.sqrt(-1.0)");
    assert_eq!(e.kind(), ErrorKind::ValueError);
    let e = run_err("let r = math.sqrt(\"x\")");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    // An unknown member is still a run-time error, and a local or module
    // variable named `math` is not the built-in.
    let e = run_err("let r = math.no_such_function(1)");
    assert_eq!(e.kind(), ErrorKind::KeyError);
    assert_eq!(
        run_get(
            "fn f() { let math = {sqrt: fn(x) { x + 1 }}\n math.sqrt(4) }\nlet r = f()",
            "r"
        ),
        Value::Int(5)
    );
    assert_eq!(
        run_get(
            "let math = {sqrt: fn(x) { x * 10 }}\nlet r = math.sqrt(4)",
            "r"
        ),
        Value::Int(40)
    );
}
