use super::*;
use crate::interp::Script;

fn compile_err(src: &str) -> String {
    match Script::compile("<test>", src) {
        Ok(_) => panic!("expected a compile error for {src:?}"),
        Err(e) => format!("{}:{}: {}", e.diag.pos.line, e.diag.pos.col, e.diag.message),
    }
}

fn compiles(src: &str) {
    if let Err(e) = Script::compile("<test>", src) {
        panic!("unexpected compile error: {}", e.render());
    }
}

fn main_proto(src: &str) -> &'static Proto {
    let program = crate::parser::parse(src).expect("parses");
    let mut loader = Loader::new();
    compile(
        &program,
        "<test>",
        Arc::from(src),
        PathBuf::from("."),
        &mut loader,
        Unit::File,
    )
    .expect("compiles")
}

#[test]
fn undefined_names_are_reported_with_position() {
    assert_eq!(
        compile_err("let a = 1\nprint(b)"),
        "2:7: undefined name 'b'"
    );
    assert_eq!(compile_err("x = 1"), "1:1: undefined name 'x'");
    assert_eq!(
        compile_err("print(y)\nlet y = 1"),
        "1:7: undefined name 'y'"
    );
}

#[test]
fn assigning_captured_or_module_variables_is_rejected() {
    let e = compile_err("fn f() { let a = 1\n let g = fn() { a = 2 } }");
    assert!(
        e.contains("captured variable 'a'") && e.contains("atom"),
        "{e}"
    );
    let e = compile_err("let total = 0\nfn add() { total += 1 }");
    assert!(
        e.contains("module variable 'total'") && e.contains("atom"),
        "{e}"
    );
    let e = compile_err("let xs = []\nfn add() { xs.push(1) }");
    assert!(e.contains("module variable 'xs'"), "{e}");
    let e = compile_err("fn f() { let m = {}\n fn() { m[\"k\"] = 1 } }");
    assert!(e.contains("captured variable 'm'"), "{e}");
}

#[test]
fn mutating_a_temporary_is_rejected() {
    let e = compile_err("fn f() { [] }\nf().push(1)");
    assert!(e.starts_with("2:5:") && e.contains("'push'"), "{e}");
    compiles("let xs = [[1]]\nxs[0].push(2)\nlet m = {}\nm.k = []\nm.k.push(1)");
    let e = compile_err("fn mk() { {} }\nmk().set(1, 2)");
    assert!(e.starts_with("2:6:") && e.contains("'set'"), "{e}");
    // A captured variable may hold an atom: `set` is checked at run time.
    compiles("fn f() { let a = {}\n fn() { a.set(1, 2) } }");
    // Non-mutating methods work on anything.
    compiles("fn f() { [] }\nprint(f().len())");
}

#[test]
fn bad_targets_and_misplaced_statements() {
    assert!(compile_err("1 = 2").contains("invalid assignment target"));
    assert!(compile_err("f() = 2").contains("invalid assignment target"));
    assert_eq!(compile_err("break"), "1:1: 'break' outside a loop");
    assert_eq!(
        compile_err("while true { fn() { continue } }"),
        "1:21: 'continue' outside a loop"
    );
    assert_eq!(compile_err("return 1"), "1:1: 'return' outside a function");
    assert!(compile_err("print = 1").contains("built-in 'print'"));
    assert!(compile_err("fn f(a, a) { a }").contains("duplicate parameter 'a'"));
}

#[test]
fn missing_module_is_a_compile_error() {
    let e = compile_err("import \"no/such/module\"");
    assert!(e.contains("module 'no/such/module' not found"), "{e}");
}

#[test]
fn shadowing_in_the_same_block() {
    compiles("let a = 1\nlet a = \"x\"\nfn f() { let b = 1\n let b = b + 1\n b }");
}

#[test]
fn hoisted_function_capturing_a_later_let_is_undefined() {
    let e = compile_err("fn f() {\n g()\n let later = 1\n fn g() { later }\n}");
    assert!(e.contains("undefined name 'later'"), "{e}");
}

#[test]
fn top_level_loop_variables_stay_in_registers() {
    let p = main_proto("let i = 0\nwhile i < 10 { i += 1 }");
    assert!(
        !p.code
            .iter()
            .any(|i| matches!(i, Instr::GetGlobal { .. } | Instr::SetGlobal { .. })),
        "{}",
        p.disassemble()
    );
    // Read by a function: a slot (a cell, since it is reassigned).
    let p = main_proto("let i = 0\nfn get() { i }\ni = 2");
    assert!(p.env.slots.iter().any(|s| matches!(**s, Slot::Cell(_))));
    // Functions and set-once variables get write-once slots.
    let p = main_proto("let k = 3\nfn get() { k }");
    assert!(p.env.slots.iter().all(|s| matches!(**s, Slot::Once(_))));
}

#[test]
fn fused_compare_and_branch() {
    let p = main_proto("fn f(n) { if n < 2 { n } else { n - 1 } }");
    let f = p.protos[0];
    assert!(
        matches!(f.code[0], Instr::JumpIfNotLtI { imm: 2, .. }),
        "{}",
        f.disassemble()
    );
    assert!(
        f.code
            .iter()
            .any(|i| matches!(i, Instr::SubI { imm: 1, .. })),
        "{}",
        f.disassemble()
    );
}

#[test]
fn calls_to_module_functions_use_call_global() {
    let p = main_proto("fn f(n) { f(n) }");
    assert!(p.protos[0]
        .code
        .iter()
        .any(|i| matches!(i, Instr::CallGlobal { .. })));
    assert!(!p.protos[0].needs_callee);
}

#[test]
fn import_binding_names() {
    assert_eq!(import_binding("a/b/util"), "util");
    assert_eq!(import_binding("x.weft"), "x");
    assert_eq!(import_binding("m"), "m");
}

#[test]
fn render_matches_the_diagnostic_format() {
    let e = Script::compile("f.weft", "let a = 1\nprint(zz)").expect_err("undefined");
    assert_eq!(
        e.render(),
        "f.weft:2:7: error: undefined name 'zz'\n    print(zz)\n          ^"
    );
}

#[test]
fn a_name_both_let_and_fn_at_top_level() {
    compiles("let f = 1\nfn f() { 2 }\nprint(f)");
    compiles("fn g() { 2 }\nlet g = 1\nprint(g)");
}

#[test]
fn small_int_operands_become_immediates() {
    let p = main_proto("let i = 3\nlet s = i * 2 % 7\nlet t = 0\nt += i");
    // The body, before the exports map is built.
    let body = &p.code[..5];
    let has = |f: &dyn Fn(&Instr) -> bool| body.iter().any(f);
    assert!(
        has(&|i| matches!(
            i,
            Instr::BinaryI {
                op: BinOp::Mul,
                imm: 2,
                ..
            }
        )),
        "{}",
        p.disassemble()
    );
    assert!(
        has(&|i| matches!(
            i,
            Instr::BinaryI {
                op: BinOp::Mod,
                imm: 7,
                ..
            }
        )),
        "{}",
        p.disassemble()
    );
    assert!(
        !has(&|i| matches!(i, Instr::Move { .. } | Instr::Int { val: 2, .. })),
        "{}",
        p.disassemble()
    );
}

#[test]
fn index_chains_overwrite_their_intermediate() {
    // `g[0]` must not linger in a register of its own: a later in-place
    // update of `g[0][..]` would then find the row shared and copy it.
    // Either the chain reuses one register, or a superinstruction reads
    // through both levels without an intermediate at all.
    for src in [
        "let g = [[1.5, 2.5]]\nlet s = g[0][1] + g[0][0]\ng[0][1] -= s",
        "let g = [[1.5, 2.5]]\nlet i = 0\nlet s = g[i][1] + g[i][0]\ng[i][1] -= s",
        "let g = [[1.5, 2.5]]\nlet i = 0\nlet j = 1\nlet s = g[i][j] + g[0][i]\ng[0][1] -= s",
    ] {
        let p = main_proto(src);
        let lingering = p.code.iter().any(|i| match i {
            Instr::Index { dst, obj, .. } | Instr::IndexI { dst, obj, .. } => dst != obj,
            _ => false,
        });
        let through = p.code.iter().any(|i| {
            matches!(
                i,
                Instr::Index2I { .. } | Instr::Index2 { .. } | Instr::SetIndex2I { .. }
            )
        });
        assert!(!lingering && through, "{}", p.disassemble());
    }
}

#[test]
fn many_top_level_variables() {
    let mut src: String = (0..300).map(|i| format!("let v{i} = {i}\n")).collect();
    src.push_str("fn f() { v299 }\nprint(v0 + v298 + f())\nlet v5 = v5 + 1\n");
    compiles(&src);
}

#[test]
fn long_operator_chains_need_few_registers() {
    let locals: String = (0..150).map(|i| format!(" let l{i} = {i}\n")).collect();
    let chain = vec!["x * 2"; 190].join(" + ");
    compiles(&format!("fn f(x) {{\n{locals} {chain}\n}}"));
}
