//! Tests of the VM's speed-only paths: each must give exactly what the
//! general path gives, errors included.

use super::test::{run_err, run_get};
use super::*;
use crate::interp::Script;

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

#[test]
fn constant_and_chained_indexes_read_like_index() {
    let src = r#"
        let xs = [10, 2.5, "s", [1, 2]]
        let g = [[1, 2, 3], [4.5, 5.5], ["a", "b"], {0: "zero", 1: "one"}, "str"]
        let m = {0: [7, 8], "k": {1: "deep"}}
        let i = 1
        let j = 0
        let k = "k"
        let r = [xs[0], xs[1], xs[2], xs[3], xs[-1], xs[-4], g[0][2], g[1][-1], g[2][1],
                 g[3][1], g[4][2], g[i][j], g[j][i], m[0][1], m[k][1], range(5)[3], "héllo"[1],
                 g[i][0] + g[0][i]]
    "#;
    assert_eq!(
        run_get(src, "r").to_string(),
        r#"[10, 2.5, "s", [1, 2], [1, 2], 10, 3, 5.5, "b", "one", "r", 4.5, 2, 8, "deep", 3, "é", 6.5]"#
    );
}

#[test]
fn chained_index_errors_match_the_general_path() {
    let cases = [
        (
            "let g = [[1]]\nlet r = g[3][0]",
            ErrorKind::IndexError,
            "list index 3 out of range (length 1)",
        ),
        (
            "let g = [[1]]\nlet r = g[0][5]",
            ErrorKind::IndexError,
            "list index 5 out of range (length 1)",
        ),
        (
            "let g = [[1]]\nlet i = 0\nlet j = 9\nlet r = g[i][j]",
            ErrorKind::IndexError,
            "list index 9 out of range",
        ),
        (
            "let g = [1]\nlet r = g[0][0]",
            ErrorKind::TypeError,
            "'int' is not indexable",
        ),
        (
            "let g = [[1]]\nlet r = g[\"a\"][0]",
            ErrorKind::TypeError,
            "list indices must be ints",
        ),
        (
            "let m = {1: [1]}\nlet r = m[2][0]",
            ErrorKind::KeyError,
            "key not found: 2",
        ),
        (
            "let xs = [1]\nlet r = xs[4]",
            ErrorKind::IndexError,
            "list index 4 out of range (length 1)",
        ),
        (
            "let s = \"ab\"\nlet r = s[-3]",
            ErrorKind::IndexError,
            "string index -3 out of range (length 2)",
        ),
    ];
    for (src, kind, msg) in cases {
        let e = run_err(src);
        assert_eq!(e.kind(), kind, "{src}");
        assert!(e.message().contains(msg), "{src}: {}", e.message());
    }
}

#[test]
fn chained_stores_keep_value_semantics() {
    let src = r#"
        let g = [[1, 2], [3.5, 4.5], ["a", "b"], {1: "one"}]
        let row = g[0]
        let snapshot = g
        let i = 0
        g[i][1] = 20
        g[i][0] += 5
        g[1][-1] *= 2
        g[2][1] += "!"
        g[3][1] = "uno"
        g[3][2] = "dos"
        let r = [g, row, snapshot[0], snapshot[3]]
    "#;
    assert_eq!(
        run_get(src, "r").to_string(),
        r#"[[[6, 20], [3.5, 9.0], ["a", "b!"], {1: "uno", 2: "dos"}], [1, 2], [1, 2], {1: "one"}]"#
    );
    // A failed store changes nothing.
    let src = r#"
        let g = [[9223372036854775807, 1]]
        let ok = []
        try { g[0][0] += 1 } catch e { ok.push(e.kind) }
        try { g[0][7] = 1 } catch e { ok.push(e.kind) }
        try { g[5][0] = 1 } catch e { ok.push(e.kind) }
        try { g[0][0] += "s" } catch e { ok.push(e.kind) }
        let r = [ok, g]
    "#;
    assert_eq!(
        run_get(src, "r").to_string(),
        r#"[["OverflowError", "IndexError", "IndexError", "TypeError"], [[9223372036854775807, 1]]]"#
    );
}

#[test]
fn global_calls_resolve_every_kind_of_callee() {
    // Plain top-level functions (cached), closures with captures held in a
    // write-once variable (not cached: they need their closure), natives,
    // and reassigned variables (cells, never cached).
    let src = r#"
        fn add1(x) { x + 1 }
        fn make_adder(n) { fn(x) { x + n } }
        let add10 = make_adder(10)
        let length = len
        let f = add1
        f = make_adder(100)
        fn use_all(x) { [add1(x), add10(x), length([x, x]), f(x)] }
        let r = []
        for i in range(3) { r.push(use_all(i)) }
    "#;
    assert_eq!(
        run_get(src, "r").to_string(),
        "[[1, 10, 2, 100], [2, 11, 2, 101], [3, 12, 2, 102]]"
    );
    let e = run_err("fn g(x) { x }\nfn h() { g(1, 2) }\nh()\nlet r = 1");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = run_err("fn h() { later(1) }\nlet r = h()\nlet later = fn(x) { x }");
    assert_eq!(e.kind(), ErrorKind::NameError);
}

#[test]
fn method_fast_paths_match_the_stdlib() {
    // Inside a function (locals): the shapes `method_fast` takes, and the
    // neighbours it must leave to the general path (non-ASCII text,
    // negative or out-of-range bounds, non-int bounds, other arities).
    let src = r#"
        fn probe() {
            let m = {"a": 1, 2: "two", nil: 3}
            let s = "hello"
            let u = "héllo"
            let d = []
            let got = [m.get("a"), m.get("zz"), m.get("zz", 7), m.get(2, 0), m.get(nil),
                       m.has("a"), m.has("b"), m.has(2.0),
                       s.slice(1, 3), s.slice(0, 5), s.slice(2, 2), s.slice(-3, 5),
                       s.slice(3, 1), s.slice(1, 99), s.slice(2), u.slice(1, 3),
                       m.get("zz", d)]
            d.push(1)
            [got, d]
        }
        let r = probe()
    "#;
    assert_eq!(
        run_get(src, "r").to_string(),
        r#"[[1, nil, 7, "two", 3, true, false, true, "el", "hello", "", "llo", "", "ello", "llo", "él", []], [1]]"#
    );
    let e = run_err("fn f() { let m = {}\nm.get([1]) }\nlet r = f()");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = run_err("fn f() { let m = {}\nm.has() }\nlet r = f()");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = run_err("fn f() { \"abc\".slice(1.5, 2) }\nlet r = f()");
    assert_eq!(e.kind(), ErrorKind::TypeError);
}

#[test]
fn nil_comparisons_match_the_general_path() {
    let src = r#"
        fn probe(xs) {
            let out = []
            for x in xs { out.push([x == nil, nil == x, x != nil, nil != x]) }
            out
        }
        let r = probe([nil, 0, false, "", [], {}])
    "#;
    assert_eq!(
        run_get(src, "r").to_string(),
        "[[true, true, false, false], [false, false, true, true], [false, false, true, true], \
         [false, false, true, true], [false, false, true, true], [false, false, true, true]]"
    );
    let e = run_err("fn f(x) { x < nil }\nlet r = f(1)");
    assert_eq!(e.kind(), ErrorKind::TypeError);
}

#[test]
fn push_fast_path_keeps_value_semantics_and_errors() {
    let src = r#"
        fn probe() {
            let a = [1]
            let b = a
            b.push(2)
            let c = b
            let n = c.push(b)
            [a, b, c, n]
        }
        let r = probe()
    "#;
    assert_eq!(
        run_get(src, "r").to_string(),
        "[[1], [1, 2], [1, 2, [1, 2]], nil]"
    );
    let e = run_err("fn f() { let s = \"ab\"\ns.push(1) }\nlet r = f()");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = run_err("fn f() { let xs = [1]\nxs.push(1, 2) }\nlet r = f()");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    // A captured list copied into a local, then pushed: the capture and
    // the caller's variable are unchanged.
    let src = "fn f() { let xs = [1]\nlet g = fn() { let ys = xs\nys.push(2)\nys }\n[g(), g(), xs] }\nlet r = f()";
    assert_eq!(run_get(src, "r").to_string(), "[[1, 2], [1, 2], [1]]");
}

#[test]
fn cached_global_calls_keep_arity_checks_and_defaults() {
    // The inline cache is filled only by a site passing exactly the
    // callee's parameters; sites leaving out defaulted parameters, or
    // passing too many, go through the arity check on every call.
    let src = r#"
        fn greet(name, greeting = "hi") { greeting + " " + name }
        fn probe() {
            let out = []
            for i in range(3) {
                out.push(greet("a", "yo"))
                out.push(greet("b"))
            }
            out
        }
        let r = probe()
    "#;
    assert_eq!(
        run_get(src, "r").to_string(),
        r#"["yo a", "hi b", "yo a", "hi b", "yo a", "hi b"]"#
    );
    // A site with a wrong argument count still fails after another site
    // has cached the same callee.
    let e = run_err(
        "fn g(x) { x }\nfn ok() { for i in range(5) { g(i) } }\nok()\nfn bad() { g(1, 2) }\nfor i in range(3) { ok() }\nbad()",
    );
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e =
        run_err("fn g(x, y = 1) { x + y }\nfn bad() { g() }\nfor i in range(3) { g(i) }\nbad()");
    assert_eq!(e.kind(), ErrorKind::TypeError);
}

#[test]
fn indexed_stores_match_the_general_path() {
    // SetIndex's fast path (int key in range of a list) and SetIndex2I's
    // (two levels of lists): scalars over scalars, heap values over
    // scalars and back, copy-on-write of a shared list, a list stored
    // into itself, negative and float keys (general path), maps.
    let src = r#"
        let xs = [1, 2.5, "s", [0]]
        let alias = xs
        xs[0] = 10
        xs[1] = "now a string"
        xs[2] = 3.5
        xs[3] = xs
        xs[-1] = 7
        let grid = [[1, 2], [3, 4]]
        let g2 = grid
        let i = 1
        grid[i][0] = "x"
        grid[i][1] += 10
        grid[0][-1] = [9]
        let m = {"a": 1}
        m["a"] = 2
        m["b"] = [m["a"]]
        let t = [0, 0]
        let k = 1
        t[k] = t
        out = [xs, alias, grid, g2, m, t]
    "#;
    let src = format!("let out = nil\n{src}");
    assert_eq!(
        run_get(&src, "out").to_string(),
        "[[10, \"now a string\", 3.5, 7], [1, 2.5, \"s\", [0]], \
         [[1, [9]], [\"x\", 14]], [[1, 2], [3, 4]], {\"a\": 2, \"b\": [2]}, [0, [0, 0]]]"
    );
}

#[test]
fn indexed_store_errors_come_from_the_general_path() {
    for (src, kind, msg) in [
        (
            "let xs = [1, 2]\nlet i = 2\nxs[i] = 0",
            ErrorKind::IndexError,
            "out of range",
        ),
        (
            "let xs = [1, 2]\nlet i = -3\nxs[i] = 0",
            ErrorKind::IndexError,
            "out of range",
        ),
        (
            "let xs = [1, 2]\nlet i = \"0\"\nxs[i] = 0",
            ErrorKind::TypeError,
            "",
        ),
        (
            "let xs = [1, 2]\nlet i = 0.0\nxs[i] = 0",
            ErrorKind::TypeError,
            "",
        ),
        (
            "let s = \"ab\"\nlet i = 0\ns[i] = \"c\"",
            ErrorKind::TypeError,
            "",
        ),
        (
            "let g = [[1], [2]]\nlet i = 0\ng[i][1] = 5",
            ErrorKind::IndexError,
            "out of range",
        ),
        (
            "let g = [[1], 2]\nlet i = 1\ng[i][0] = 5",
            ErrorKind::TypeError,
            "",
        ),
        (
            "let g = [[1], [2]]\nlet i = 0\ng[i][0] += \"a\"",
            ErrorKind::TypeError,
            "",
        ),
    ] {
        let e = run_err(src);
        assert_eq!(e.kind(), kind, "{src}: {e}");
        assert!(e.message().contains(msg), "{src}: {e}");
    }
}

#[test]
fn captured_containers_are_indexed_in_place() {
    let src = r#"
        fn reader(xs, m, s) {
            fn(i) { [xs[i], xs[-1], xs[0], m["k"], s[i]] }
        }
        let f = reader([10, 2.5, "x"], {"k": [1]}, "héllo")
        let got = [f(0), f(1), f(2)]
    "#;
    let p = Script::compile("<test>", src).unwrap();
    assert!(
        p.disassemble().contains("IndexCapture"),
        "{}",
        p.disassemble()
    );
    assert_eq!(
        run_get(src, "got").to_string(),
        "[[10, \"x\", 10, [1], \"h\"], [2.5, \"x\", 10, [1], \"é\"], [\"x\", \"x\", 10, [1], \"l\"]]"
    );
    // The captured list is not changed by the closure's callers.
    let src = "fn mk(xs) { fn(i) { xs[i] } }\nlet ys = [1, 2]\nlet f = mk(ys)\nys[0] = 9\nlet r = [f(0), ys[0]]";
    assert_eq!(run_get(src, "r").to_string(), "[1, 9]");
    for (src, kind) in [
        (
            "fn mk(xs) { fn(i) { xs[i] } }\nmk([1])(1)",
            ErrorKind::IndexError,
        ),
        (
            "fn mk(xs) { fn(i) { xs[i] } }\nmk([1])(\"a\")",
            ErrorKind::TypeError,
        ),
        (
            "fn mk(m) { fn(k) { m[k] } }\nmk({\"a\": 1})(\"b\")",
            ErrorKind::KeyError,
        ),
        (
            "fn mk(n) { fn(k) { n[k] } }\nmk(5)(0)",
            ErrorKind::TypeError,
        ),
    ] {
        let e = run_err(src);
        assert_eq!(e.kind(), kind, "{src}: {e}");
    }
}

#[test]
fn nil_tests_in_conditions_match_the_general_comparison() {
    // `x == nil` / `x != nil` / `nil == x` compile to a tag test; every
    // kind of value must give what `==` gives (only nil equals nil; 0,
    // false, "" and [] do not).
    let src = r#"
        fn eq(x) { if x == nil { 1 } else { 0 } }
        fn ne(x) { if x != nil { 1 } else { 0 } }
        fn lhs(x) { if nil == x { 1 } else { 0 } }
        fn lhs_ne(x) { if nil != x { 1 } else { 0 } }
        let vals = [nil, 0, false, "", [], {}, 1.5, [nil]]
        let got = []
        for v in vals {
            got.push([eq(v), ne(v), lhs(v), lhs_ne(v), if v == nil { 1 } else { 0 }])
        }
        let n = 0
        let xs = [1, nil, 2]
        let i = 0
        while xs[i] != nil { n += 1; i += 1 }
    "#;
    assert_eq!(
        run_get(src, "got").to_string(),
        "[[1, 0, 1, 0, 1], [0, 1, 0, 1, 0], [0, 1, 0, 1, 0], [0, 1, 0, 1, 0], \
         [0, 1, 0, 1, 0], [0, 1, 0, 1, 0], [0, 1, 0, 1, 0], [0, 1, 0, 1, 0]]"
    );
    assert_eq!(run_get(src, "n"), Value::Int(1));
    let p = Script::compile("<test>", "fn f(x) { if x == nil { 1 } else { 2 } }").unwrap();
    let code = p.disassemble();
    assert!(code.contains("JumpIfNotNil { a: 0"), "{code}");
    let p = Script::compile("<test>", "fn f(x) { if nil != x { 1 } else { 2 } }").unwrap();
    let code = p.disassemble();
    assert!(code.contains("JumpIfNil { a: 0"), "{code}");
    // The operand is evaluated once, errors included.
    let e = run_err("let xs = []\nif xs[3] == nil { 1 }");
    assert_eq!(e.kind(), ErrorKind::IndexError);
}

#[test]
fn constant_list_literals_are_one_immortal_constant() {
    let p = Script::compile("<test>", "fn leaf() { [nil, nil] }\nlet r = leaf()").unwrap();
    let code = p.disassemble();
    assert!(
        code.contains("Const {") && !code.contains("List {"),
        "{code}"
    );
    // Items that are not literals still build the list from registers.
    let p = Script::compile("<test>", "fn f(x) { [x, nil] }\nlet r = f(1)").unwrap();
    assert!(p.disassemble().contains("List {"), "{}", p.disassemble());
    // Every evaluation reads the same immortal payload: no allocation.
    let src = "fn leaf() { [nil, 1, 2.5, true, \"s\"] }\nlet ab = [leaf(), leaf()]";
    let Value::List(ab) = run_get(src, "ab") else {
        panic!("not a list")
    };
    let (Value::List(a), Value::List(b)) = (ab[0].clone(), ab[1].clone()) else {
        panic!("not lists")
    };
    assert!(List::ptr_eq(&a, &b));
    assert!(a.strong_count() >= 1 << 60, "{}", a.strong_count());
    assert_eq!(Value::List(a).to_string(), r#"[nil, 1, 2.5, true, "s"]"#);
}

#[test]
fn constant_list_literals_keep_value_semantics() {
    // Each evaluation of the literal is a list of its own: changing one
    // (index store, push, pop, sort, nested store) changes no other, and
    // the literal still reads the same next time.
    let src = r#"
        fn fresh() { [3, 1, 2] }
        let seen = []
        for i in range(3) {
            let xs = fresh()
            xs[0] = i
            xs.push(i * 10)
            seen.push(xs)
        }
        let a = fresh()
        let b = a
        b.sort()
        let c = fresh()
        c.pop()
        let grid = [[0, 0], [0, 0]]
        grid[1][0] = 7
        let again = [[0, 0], [0, 0]]
        let strs = ["a", "b"]
        strs[1] += "c"
        let out = [seen, a, b, c, fresh(), grid, again, strs, ["a", "b"]]
    "#;
    assert_eq!(
        run_get(src, "out").to_string(),
        r#"[[[0, 1, 2, 0], [1, 1, 2, 10], [2, 1, 2, 20]], [3, 1, 2], [1, 2, 3], [3, 1], [3, 1, 2], [[0, 0], [7, 0]], [[0, 0], [0, 0]], ["a", "bc"], ["a", "b"]]"#
    );
}

#[test]
fn global_calls_with_a_subtracted_argument_are_one_instruction() {
    let p = Script::compile(
        "<test>",
        "fn f(n) { if n < 1 { 0 } else { f(n - 1) } }\nlet r = f(3)",
    )
    .unwrap();
    let code = p.disassemble();
    assert!(code.contains("CallGlobalSubI"), "{code}");
    // Not fused: two arguments, a register operand, a local callee.
    for src in [
        "fn g(a, b) { a }\nfn f(n) { g(n - 1, 2) }",
        "fn g(a) { a }\nfn f(n, k) { g(n - k) }",
        "fn f(n) { let g = fn(x) { x }\ng(n - 1) }",
    ] {
        let code = Script::compile("<test>", src).unwrap().disassemble();
        assert!(!code.contains("CallGlobalSubI"), "{src}: {code}");
    }
}

#[test]
fn fused_subtracted_argument_calls_match_the_two_instructions() {
    // Ints, floats, recursion through the inline cache, a native held in
    // a module variable, defaults and a callee needing its closure.
    let src = r#"
        fn fib(n) { if n < 2 { n } else { fib(n - 1) + fib(n - 2) } }
        fn down(x) { if x < 0 { x } else { down(x - 1) } }
        let show = str
        fn shown(n) { show(n - 1) }
        fn pair(a, b = 10) { [a, b] }
        fn with_default(n) { pair(n - 3) }
        let base = 100
        fn uses_global(n) { base - n }
        fn through_global(n) { uses_global(n - 1) }
        let r = [fib(20), down(2.5), shown(5), with_default(4), through_global(1),
                 down(-9223372036854775807 + 2)]
    "#;
    assert_eq!(
        run_get(src, "r").to_string(),
        r#"[6765, -0.5, "4", [1, 10], 100, -9223372036854775805]"#
    );
}

#[test]
fn fused_subtracted_argument_call_errors_match_the_general_path() {
    // The subtraction's errors: a wrong type, an overflow.
    let e = run_err("fn f(x) { x }\nfn g(s) { f(s - 1) }\ng(\"a\")");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let plain = run_err("let s = \"a\"\nlet t = s - 1");
    assert_eq!(e.message(), plain.message());
    let e = run_err("fn f(x) { x }\nfn g(n) { f(n - 1) }\ng(-9223372036854775807 - 1)");
    let plain = run_err("let n = -9223372036854775807 - 1\nlet t = n - 1");
    assert_eq!((e.kind(), e.message()), (plain.kind(), plain.message()));
    // The call's errors: arity, an unset or non-callable module variable,
    // unbounded recursion.
    let e = run_err("fn f(a, b) { a }\nfn g(n) { f(n - 1) }\ng(1)");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = run_err("let v = 3\nfn g(n) { v(n - 1) }\ng(1)");
    assert_eq!(e.kind(), ErrorKind::TypeError);
    let e = run_err("fn f(n) { f(n - 1) }\nf(1)");
    assert!(
        e.message().contains("stack overflow") || e.message().contains("recursion"),
        "{}",
        e.message()
    );
}

#[test]
fn returns_leave_no_reference_in_small_or_large_windows() {
    // `small` has fewer registers than `SMALL_WINDOW` (its window is
    // cleared as one unrolled run), `large` more (the general loop); `bad`
    // leaves by an error (the unwinding clears its window). Afterwards the
    // list is held exactly as often as in the same script without the
    // calls (`list(range(2))`: not an immortal constant).
    let base = "let xs = list(range(2))\n";
    let calls = "
        fn small(a) { let b = a\n let c = b\n len(c) }
        fn large(a) {
            let b = a\n let c = b\n let d = [b, c]\n let e = [d, d]\n let f = [e, e]
            let g = [f, f]\n let h = [g, g]\n let i = [h, h]\n len(i)
        }
        fn bad(a) { let b = a\n b + 1 }
        let n = small(xs) + large(xs)
        let caught = try { bad(xs) } catch e { e.kind }
    ";
    let src = format!("{base}{calls}");
    let p = Script::compile("<test>", &src).unwrap();
    let listing = p.disassemble();
    let regs = |name: &str| -> usize {
        let head = format!("== {name} (");
        let at = listing.find(&head).unwrap_or_else(|| panic!("{listing}")) + head.len();
        listing[at..].split(' ').next().unwrap().parse().unwrap()
    };
    assert!(regs("small") + 1 < SMALL_WINDOW, "{listing}");
    assert!(regs("large") + 1 > SMALL_WINDOW, "{listing}");
    assert_eq!(run_get(&src, "n"), Value::Int(4));
    assert_eq!(run_get(&src, "caught").to_string(), "TypeError");
    let count = |src: &str| {
        let Value::List(xs) = run_get(src, "xs") else {
            panic!("not a list")
        };
        xs.strong_count()
    };
    assert_eq!(count(&src), count(base));
}

#[test]
fn jumps_to_the_first_and_last_instructions_run() {
    // A loop whose back-edge targets instruction 0 and a function whose
    // last instruction is the return a jump lands on.
    let src = "
        fn count(n) { let i = 0\n while i < n { i += 1 }\n i }
        fn last(x) { if x { 1 } else { 2 } }
        let r = [count(5), count(0), last(true), last(false)]
    ";
    assert_eq!(run_get(src, "r").to_string(), "[5, 0, 1, 2]");
}
