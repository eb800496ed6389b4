//! Parser unit tests. ASTs are compared through a compact S-expression form
//! (positions are checked separately).

use super::*;

fn sx_block(b: &Block) -> String {
    let parts: Vec<String> = b.stmts.iter().map(sx_stmt).collect();
    format!("{{{}}}", parts.join("; "))
}

fn sx_list(es: &[Expr]) -> String {
    es.iter().map(sx).collect::<Vec<_>>().join(" ")
}

fn sx_fn(f: &FnDef) -> String {
    let params: Vec<String> = f
        .params
        .iter()
        .map(|p| match &p.default {
            Some(d) => format!("{}={}", p.name.name, sx(d)),
            None => p.name.name.clone(),
        })
        .collect();
    let name = f
        .name
        .as_ref()
        .map(|n| format!("{} ", n.name))
        .unwrap_or_default();
    format!("(fn {name}({}) {})", params.join(" "), sx_block(&f.body))
}

fn sx(e: &Expr) -> String {
    match &e.kind {
        ExprKind::Nil => "nil".into(),
        ExprKind::Bool(b) => b.to_string(),
        ExprKind::Int(i) => i.to_string(),
        ExprKind::Float(f) => format!("{f:?}"),
        ExprKind::Str(s) => format!("{s:?}"),
        ExprKind::Name(n) => n.name.clone(),
        ExprKind::List(items) => format!("[{}]", sx_list(items)),
        ExprKind::Map(entries) => {
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {}", sx(k), sx(v)))
                .collect();
            format!("(map {})", parts.join(", "))
        }
        ExprKind::Unary(UnOp::Neg, x) => format!("(neg {})", sx(x)),
        ExprKind::Unary(UnOp::Not, x) => format!("(not {})", sx(x)),
        ExprKind::Unary(UnOp::BitNot, x) => format!("(~ {})", sx(x)),
        ExprKind::Binary(op, l, r) => format!("({} {} {})", op.symbol(), sx(l), sx(r)),
        ExprKind::And(l, r) => format!("(and {} {})", sx(l), sx(r)),
        ExprKind::Or(l, r) => format!("(or {} {})", sx(l), sx(r)),
        ExprKind::Call { callee, args } => format!("(call {} [{}])", sx(callee), sx_list(args)),
        ExprKind::MethodCall { recv, name, args } => {
            format!("(.{} {} [{}])", name.name, sx(recv), sx_list(args))
        }
        ExprKind::Index(x, i) => format!("(idx {} {})", sx(x), sx(i)),
        ExprKind::Field(x, name) => format!("(. {} {})", sx(x), name.name),
        ExprKind::Fn(f) => sx_fn(f),
        ExprKind::If { cond, then, else_ } => match else_ {
            Some(e) => format!("(if {} {} {})", sx(cond), sx_block(then), sx(e)),
            None => format!("(if {} {})", sx(cond), sx_block(then)),
        },
        ExprKind::Block(b) => sx_block(b),
        ExprKind::Try {
            body,
            var,
            handler,
            finally,
        } => {
            let var = var.as_ref().map(|v| v.name.as_str()).unwrap_or("_");
            let mut out = format!("(try {}", sx_block(body));
            if let Some(h) = handler {
                out.push_str(&format!(" {var} {}", sx_block(h)));
            }
            if let Some(f) = finally {
                out.push_str(&format!(" finally {}", sx_block(f)));
            }
            out + ")"
        }
    }
}

fn sx_pat(p: &Pattern) -> String {
    match p {
        Pattern::Name(id) => id.name.clone(),
        Pattern::List(l) => sx_list_pat(l),
    }
}

fn sx_list_pat(p: &ListPattern) -> String {
    let mut parts: Vec<String> = p.items.iter().map(sx_pat).collect();
    if let Some((at, id)) = &p.rest {
        parts.insert(*at, format!("...{}", id.name));
    }
    format!("[{}]", parts.join(" "))
}

fn sx_stmt(s: &Stmt) -> String {
    match &s.kind {
        StmtKind::Let { name, value } => format!("(let {} {})", name.name, sx(value)),
        StmtKind::LetPattern { pattern, value } => {
            format!("(let {} {})", sx_list_pat(pattern), sx(value))
        }
        StmtKind::Assign { target, op, value } => {
            let op = op.map(|o| o.symbol()).unwrap_or("");
            format!("({op}= {} {})", sx(target), sx(value))
        }
        StmtKind::FnDecl(f) => format!("(decl {})", sx_fn(f)),
        StmtKind::While { cond, body } => format!("(while {} {})", sx(cond), sx_block(body)),
        StmtKind::For {
            index,
            var,
            iter,
            body,
        } => {
            let index = index
                .as_ref()
                .map(|i| format!("{} ", i.name))
                .unwrap_or_default();
            format!(
                "(for {index}{} {} {})",
                sx_pat(var),
                sx(iter),
                sx_block(body)
            )
        }
        StmtKind::Break => "break".into(),
        StmtKind::Continue => "continue".into(),
        StmtKind::Return(None) => "(return)".into(),
        StmtKind::Return(Some(v)) => format!("(return {})", sx(v)),
        StmtKind::Throw(v) => format!("(throw {})", sx(v)),
        StmtKind::Import { path, alias } => match alias {
            Some(a) => format!("(import {path:?} {})", a.name),
            None => format!("(import {path:?})"),
        },
        StmtKind::Expr(e) => sx(e),
    }
}

/// The program's statements in S-expression form, `; `-separated.
#[track_caller]
fn p(src: &str) -> String {
    match parse(src) {
        Ok(prog) => prog
            .body
            .stmts
            .iter()
            .map(sx_stmt)
            .collect::<Vec<_>>()
            .join("; "),
        Err(d) => panic!("unexpected error for {src:?}: {}", d),
    }
}

/// The error for a source that must fail, as `LINE:COL: MESSAGE`.
#[track_caller]
fn err(src: &str) -> String {
    match parse(src) {
        Ok(prog) => panic!(
            "expected an error for {src:?}, got {:?}",
            prog.body.stmts.iter().map(sx_stmt).collect::<Vec<_>>()
        ),
        Err(d) => d.to_string(),
    }
}

fn first_expr(src: &str) -> Expr {
    let prog = parse(src).unwrap_or_else(|d| panic!("{d}"));
    match prog.body.stmts.into_iter().next().map(|s| s.kind) {
        Some(StmtKind::Expr(e)) => e,
        other => panic!("not an expression statement: {other:?}"),
    }
}

fn pos(line: u32, col: u32) -> Pos {
    Pos { line, col }
}

// ----- literals and primaries ----------------------------------------------

#[test]
fn literals() {
    assert_eq!(p("42"), "42");
    assert_eq!(p("1_000_000"), "1000000");
    assert_eq!(p("0xff"), "255");
    assert_eq!(p("3.14"), "3.14");
    assert_eq!(p("1e-9"), "1e-9");
    assert_eq!(p(r#""a\tb""#), r#""a\tb""#);
    assert_eq!(p("nil; true; false"), "nil; true; false");
    assert_eq!(p("x"), "x");
}

#[test]
fn smallest_int_only_after_minus() {
    assert_eq!(p("-9223372036854775808"), i64::MIN.to_string());
    assert_eq!(p("-9223372036854775807"), "(neg 9223372036854775807)");
    assert!(err("9223372036854775808").contains("integer literal 9223372036854775808 is too large"));
    // `**` binds tighter than unary minus, so the literal stands alone there.
    assert!(err("-9223372036854775808 ** 2").contains("too large"));
    assert!(err("-99999999999999999999").contains("too large"));
}

#[test]
fn lists_and_trailing_commas() {
    assert_eq!(p("[]"), "[]");
    assert_eq!(p("[1, \"a\", [2]]"), "[1 \"a\" [2]]");
    assert_eq!(p("[1, 2,]"), "[1 2]");
    assert_eq!(p("f(a, b,)"), "(call f [a b])");
    assert_eq!(p("fn f(a, b,) { a }"), "(decl (fn f (a b) {a}))");
    assert_eq!(
        p("let m = {a: 1, b: 2,}"),
        "(let m (map \"a\": 1, \"b\": 2))"
    );
}

#[test]
fn map_literals_and_keys() {
    assert_eq!(p("let m = {}"), "(let m (map ))");
    assert_eq!(
        p(r#"let m = {"a": 1, b: 2}"#),
        "(let m (map \"a\": 1, \"b\": 2))"
    );
    assert_eq!(
        p(r#"let m = {1: "a", -2: "b", 1.5: "c"}"#),
        "(let m (map 1: \"a\", (neg 2): \"b\", 1.5: \"c\"))"
    );
    assert_eq!(
        p("let m = {true: 1, nil: 2}"),
        "(let m (map true: 1, nil: 2))"
    );
    assert_eq!(
        p("let m = {(k): v, (a + b): 2}"),
        "(let m (map k: v, (+ a b): 2))"
    );
    assert_eq!(p(r#"let m = {"a" + b: 1}"#), "(let m (map (+ \"a\" b): 1))");
    assert_eq!(p("let m = {k.f: 1}"), "(let m (map (. k f): 1))");
}

#[test]
fn keywords_as_bare_keys_and_field_names() {
    assert_eq!(
        p("let m = {for: 1, import: 2, as: 3}"),
        "(let m (map \"for\": 1, \"import\": 2, \"as\": 3))"
    );
    assert_eq!(p("m.import; m.if(1)"), "(. m import); (.if m [1])");
    assert_eq!(p("{if: 1}"), "(map \"if\": 1)");
    // `true`, `false` and `nil` stay values.
    assert_eq!(p("let m = {true: 1}"), "(let m (map true: 1))");
}

#[test]
fn maps_ignore_newlines() {
    let src = "let m = {\n  a: 1,\n\n  \"b\":\n    2\n  ,\n}\nm";
    assert_eq!(p(src), "(let m (map \"a\": 1, \"b\": 2)); m");
}

// ----- the `{` disambiguation ----------------------------------------------

#[test]
fn brace_at_statement_start() {
    // A block ...
    assert_eq!(p("{ x }"), "{x}");
    assert_eq!(p("{ let y = 1\n y }"), "{(let y 1); y}");
    // ... `{}` is an empty block ...
    assert_eq!(p("{}"), "{}");
    // ... unless a key and ':' follow.
    assert_eq!(p(r#"{"id": 1}"#), "(map \"id\": 1)");
    assert_eq!(p("{id: 1}"), "(map \"id\": 1)");
    assert_eq!(p("{1: 2}"), "(map 1: 2)");
    assert_eq!(p("{-1: 2}"), "(map (neg 1): 2)");
    assert_eq!(p("{(a): 2}"), "(map a: 2)");
    assert_eq!(p("{(f(x)[0]): 2}"), "(map (idx (call f [x]) 0): 2)");
    assert_eq!(p("{\n  \"a\": 1\n}"), "(map \"a\": 1)");
}

#[test]
fn fn_body_returning_a_map() {
    assert_eq!(p(r#"fn(i) { {"id": i} }"#), "(fn (i) {(map \"id\": i)})");
    assert_eq!(p("fn(i) { {} }"), "(fn (i) {{}})");
    assert_eq!(p("fn(i) { {i} }"), "(fn (i) {{i}})");
}

#[test]
fn brace_in_expression_position() {
    assert_eq!(p("f({})"), "(call f [(map )])");
    assert_eq!(
        p("let v = { let t = 1; t + 1 }"),
        "(let v {(let t 1); (+ t 1)})"
    );
    assert_eq!(p("return {}"), "(return (map ))");
    assert_eq!(p("[{a: 1}, {}]"), "[(map \"a\": 1) (map )]");
}

#[test]
fn brace_in_heads_starts_the_body() {
    assert_eq!(p("if x {}"), "(if x {})");
    assert_eq!(p("while x { y }"), "(while x {y})");
    assert_eq!(p("for k in m { k }"), "(for k m {k})");
    assert_eq!(p("if x == ({}) { 1 }"), "(if (== x (map )) {1})");
    assert_eq!(p("if f({}) { 1 }"), "(if (call f [(map )]) {1})");
    assert_eq!(p("for x in [{a: 1}] { x }"), "(for x [(map \"a\": 1)] {x})");
    let e = err("if x == {} { 1 }");
    assert!(
        e.starts_with("1:9: expected an expression, found '{'"),
        "{e}"
    );
    assert!(e.contains("parentheses"), "{e}");
}

#[test]
fn map_at_statement_start_with_any_key() {
    assert_eq!(p("{\"a\" + \"b\": 1}"), "(map (+ \"a\" \"b\"): 1)");
    assert_eq!(p("{k.f: 1, (g): 2}"), "(map (. k f): 1, g: 2)");
    // Colons nested in brackets do not count: these are blocks.
    assert_eq!(p("{ f({a: 1}) }"), "{(call f [(map \"a\": 1)])}");
    assert_eq!(p("{ if x { {a: 1} } }"), "{(if x {(map \"a\": 1)})}");
    assert_eq!(p("{ x = {a: 1} }"), "{(= x (map \"a\": 1))}");
}

// ----- precedence ----------------------------------------------------------

#[test]
fn precedence_levels() {
    assert_eq!(p("a or b and c"), "(or a (and b c))");
    assert_eq!(p("a and b or c"), "(or (and a b) c)");
    assert_eq!(p("not a and b"), "(and (not a) b)");
    assert_eq!(p("not a == b"), "(not (== a b))");
    assert_eq!(p("not not a"), "(not (not a))");
    assert_eq!(p("a == b + c"), "(== a (+ b c))");
    assert_eq!(p("a < b or c >= d"), "(or (< a b) (>= c d))");
    assert_eq!(p("a + b * c"), "(+ a (* b c))");
    assert_eq!(p("a * b + c"), "(+ (* a b) c)");
    assert_eq!(p("a - b - c"), "(- (- a b) c)");
    assert_eq!(p("a / b // c % d"), "(% (// (/ a b) c) d)");
    assert_eq!(p("-a * b"), "(* (neg a) b)");
    assert_eq!(p("a * -b"), "(* a (neg b))");
    assert_eq!(p("- -a"), "(neg (neg a))");
    assert_eq!(p("-x ** 2"), "(neg (** x 2))");
    assert_eq!(p("2 ** -1"), "(** 2 (neg 1))");
    assert_eq!(p("2 ** 3 ** 2"), "(** 2 (** 3 2))");
    assert_eq!(p("2 ** -x ** 2"), "(** 2 (neg (** x 2)))");
    assert_eq!(p("a * b ** c"), "(* a (** b c))");
    assert_eq!(
        p("-f(x)[0].y ** 2"),
        "(neg (** (. (idx (call f [x]) 0) y) 2))"
    );
    assert_eq!(p("(a + b) * c"), "(* (+ a b) c)");
    assert_eq!(p("a != b"), "(!= a b)");
    assert_eq!(p("a <= b"), "(<= a b)");
    assert_eq!(p("a > b"), "(> a b)");
}

#[test]
fn postfix_forms() {
    assert_eq!(p("f(x)"), "(call f [x])");
    assert_eq!(p("f()"), "(call f [])");
    assert_eq!(p("f(x)(y)"), "(call (call f [x]) [y])");
    assert_eq!(p("x[i][j]"), "(idx (idx x i) j)");
    assert_eq!(p("x.name"), "(. x name)");
    assert_eq!(p("x.m(1, 2)"), "(.m x [1 2])");
    assert_eq!(p("x.a.b(c).d"), "(. (.b (. x a) [c]) d)");
    assert_eq!(p("x.m (1)"), "(.m x [1])");
    assert_eq!(p("\"s\".upper()"), "(.upper \"s\" [])");
    assert_eq!(p("[1][0]"), "(idx [1] 0)");
    assert_eq!(p("5.abs()"), "(.abs 5 [])");
}

#[test]
fn chained_comparison_is_an_error_suggesting_and() {
    assert_eq!(
        err("a < b < c"),
        "1:7: comparisons cannot be chained: write 'a < b and b < c' instead of 'a < b < c'"
    );
    assert!(err("a == b != c").starts_with("1:8: comparisons cannot be chained"));
    assert!(err("x = a < b + 1 <= c").contains("'a < b and b <= c'"));
    // Parenthesized or joined with `and`, it is fine.
    assert_eq!(p("(a < b) < c"), "(< (< a b) c)");
    assert_eq!(p("a < b and b < c"), "(and (< a b) (< b c))");
}

#[test]
fn not_in_a_tight_position_needs_parentheses() {
    let e = err("a == not b");
    assert!(e.starts_with("1:6: unexpected 'not'"), "{e}");
    assert!(err("1 + not x").contains("parentheses"));
    assert_eq!(p("a == (not b)"), "(== a (not b))");
    assert_eq!(p("a and not b"), "(and a (not b))");
}

// ----- statements ----------------------------------------------------------

#[test]
fn let_and_assignment() {
    assert_eq!(p("let x = 1"), "(let x 1)");
    assert_eq!(p("let x"), "(let x nil)");
    assert_eq!(p("x = x + 1"), "(= x (+ x 1))");
    assert_eq!(
        p("xs[0] = 5; m.key = 2; m[\"k\"] += 1; grid[i][j] = 0"),
        "(= (idx xs 0) 5); (= (. m key) 2); (+= (idx m \"k\") 1); (= (idx (idx grid i) j) 0)"
    );
    assert_eq!(
        p("a -= 1; a *= 2; a /= 3; a //= 4; a %= 5"),
        "(-= a 1); (*= a 2); (/= a 3); (//= a 4); (%= a 5)"
    );
    // The compiler, not the parser, rejects bad targets.
    assert_eq!(p("f() = 1"), "(= (call f []) 1)");
    assert!(err("let x 5").starts_with("1:7: expected '=' after 'let x', found '5'"));
    assert!(
        err("let = 5").starts_with("1:5: expected a variable name or '[' after 'let', found '='")
    );
    assert!(err("let if = 5").contains("found keyword 'if'"));
}

#[test]
fn functions() {
    assert_eq!(
        p("fn add(a, b) { a + b }"),
        "(decl (fn add (a b) {(+ a b)}))"
    );
    assert_eq!(p("let sq = fn(x) { x * x }"), "(let sq (fn (x) {(* x x)}))");
    assert_eq!(p("let f = fn fact(n) { n }"), "(let f (fn fact (n) {n}))");
    assert_eq!(p("fn() {}"), "(fn () {})");
    assert_eq!(p("fn(x) { x }(3)"), "(call (fn (x) {x}) [3])");
    assert_eq!(p("fn f()\n{\n  1\n}"), "(decl (fn f () {1}))");
    assert!(err("fn f(a, a) {}").starts_with("1:9: duplicate parameter 'a'"));
    assert!(err("fn f(1) {}").starts_with("1:6: expected a parameter name, found '1'"));
    assert!(err("fn f() 1").starts_with("1:8: expected '{' to start the function body, found '1'"));
    assert!(err("fn {}").starts_with("1:4: expected a function name or '(' after 'fn', found '{'"));
}

#[test]
fn if_else() {
    assert_eq!(
        p("if a < b { \"lt\" } else if a == b { \"eq\" } else { \"gt\" }"),
        "(if (< a b) {\"lt\"} (if (== a b) {\"eq\"} {\"gt\"}))"
    );
    assert_eq!(p("let v = if c { 1 } else { 2 }"), "(let v (if c {1} {2}))");
    assert_eq!(p("if c { 1 }\nelse { 2 }"), "(if c {1} {2})");
    assert_eq!(
        p("if c {\n 1\n}\n# comment\n\nelse {\n 2\n}"),
        "(if c {1} {2})"
    );
    assert!(err("if x = 1 { }")
        .contains("expected '{' to start the body of 'if', found '=' (use '==' to compare)"));
    assert!(err("if { }").starts_with("1:4: expected a condition after 'if', found '{'"));
    assert!(
        err("if x { } else 5").starts_with("1:15: expected '{' or 'if' after 'else', found '5'")
    );
    assert!(err("else { }").starts_with("1:1: unexpected 'else'"));
}

#[test]
fn loops() {
    assert_eq!(p("while i < 10 { i += 1 }"), "(while (< i 10) {(+= i 1)})");
    assert_eq!(
        p("for x in xs { print(x) }"),
        "(for x xs {(call print [x])})"
    );
    assert_eq!(
        p("for i, x in xs { break; continue }"),
        "(for i x xs {break; continue})"
    );
    assert_eq!(p("for x in range(3)\n{\n}"), "(for x (call range [3]) {})");
    assert!(
        err("for x xs {}").starts_with("1:7: expected 'in' after the loop variables, found 'xs'")
    );
    assert!(err("for in xs {}")
        .starts_with("1:5: expected a loop variable name or '[' after 'for', found keyword 'in'"));
    assert!(err("for x in {}").starts_with("1:10: expected something to iterate over after 'for'"));
    assert!(err("while {}").starts_with("1:7: expected a condition after 'while'"));
}

#[test]
fn return_throw_break() {
    assert_eq!(p("fn f() { return }"), "(decl (fn f () {(return)}))");
    assert_eq!(p("fn f() { return 1 }"), "(decl (fn f () {(return 1)}))");
    assert_eq!(p("fn f() { return; }"), "(decl (fn f () {(return)}))");
    // The value must be on the same line.
    assert_eq!(
        p("fn f() {\n return\n 1\n}"),
        "(decl (fn f () {(return); 1}))"
    );
    assert_eq!(p("throw \"bad\""), "(throw \"bad\")");
    assert_eq!(p("throw {kind: 1}"), "(throw (map \"kind\": 1))");
    assert!(err("throw").starts_with("1:6: expected an expression, found end of file"));
}

#[test]
fn try_catch() {
    assert_eq!(
        p("try { risky() } catch e { print(e.kind) }"),
        "(try {(call risky [])} e {(call print [(. e kind)])})"
    );
    assert_eq!(p("try { 1 } catch { 2 }"), "(try {1} _ {2})");
    assert_eq!(
        p("let r = try { 1 }\ncatch e { 2 }"),
        "(let r (try {1} e {2}))"
    );
    assert!(err("try { 1 }").starts_with(
        "1:10: expected 'catch' or 'finally' after the 'try' block, found end of file"
    ));
    assert!(err("try 1").starts_with("1:5: expected '{' to start the 'try' block, found '1'"));
    assert!(err("try {} catch e 1")
        .starts_with("1:16: expected '{' to start the 'catch' block, found '1'"));
    assert!(
        err("try {} catch 1").starts_with("1:14: expected a name or '{' after 'catch', found '1'")
    );
    assert!(err("catch e {}").starts_with("1:1: unexpected 'catch'"));
}

#[test]
fn try_finally() {
    assert_eq!(
        p("try { a() } finally { b() }"),
        "(try {(call a [])} finally {(call b [])})"
    );
    assert_eq!(
        p("try { a() } catch e { 1 }\nfinally { b() }"),
        "(try {(call a [])} e {1} finally {(call b [])})"
    );
    assert_eq!(
        p("try {} catch { 1 } finally {}"),
        "(try {} _ {1} finally {})"
    );
    // `finally` is a keyword only after a try or catch block: elsewhere it
    // is a name, also on the line after a try/catch.
    assert_eq!(p("let finally = 1"), "(let finally 1)");
    assert_eq!(
        p("try {} catch e {}\nfinally = 2"),
        "(try {} e {}); (= finally 2)"
    );
    assert!(err("try {} catch finally { 1 }")
        .starts_with("1:14: expected a name or '{' after 'catch', found 'finally'"));
    assert!(err("try {} finally").starts_with("1:8: expected 'catch' or 'finally'"));
}

#[test]
fn bitwise_operators_and_their_priorities() {
    // Looser than comparisons: | then ^ then &, then shifts, then + -.
    assert_eq!(p("a | b ^ c & d"), "(| a (^ b (& c d)))");
    assert_eq!(p("a & b == c"), "(== (& a b) c)");
    assert_eq!(p("a == b | c"), "(== a (| b c))");
    assert_eq!(p("1 << 2 + 3"), "(<< 1 (+ 2 3))");
    assert_eq!(p("1 + 2 >> 1"), "(>> (+ 1 2) 1)");
    assert_eq!(p("a << b << c"), "(<< (<< a b) c)");
    assert_eq!(p("~a & b"), "(& (~ a) b)");
    assert_eq!(p("-~a ** 2"), "(neg (~ (** a 2)))");
    assert_eq!(p("a and b | c"), "(and a (| b c))");
    assert_eq!(
        p("x &= 1; x |= 2; x ^= 3; x <<= 4; x >>= 5"),
        "(&= x 1); (|= x 2); (^= x 3); (<<= x 4); (>>= x 5)"
    );
    assert!(err("a && b").contains("use 'and'"));
    assert!(err("a || b").contains("use 'or'"));
    assert!(err("a & ").contains("expected an expression"));
}

#[test]
fn default_parameters() {
    assert_eq!(
        p("fn f(a, b = 1, c = a + 1) { a }"),
        "(decl (fn f (a b=1 c=(+ a 1)) {a}))"
    );
    assert_eq!(p("let g = fn(x = [1]) { x }"), "(let g (fn (x=[1]) {x}))");
    assert!(err("fn f(a = 1, b) {}")
        .starts_with("1:13: parameter 'b' needs a default value: it follows 'a', which has one"));
    assert!(err("fn f(a =) {}").starts_with("1:9: expected an expression"));
    assert!(err("fn f(a, a = 1) {}").contains("duplicate parameter 'a'"));
}

#[test]
fn destructuring_patterns() {
    assert_eq!(p("let [a, b] = xs"), "(let [a b] xs)");
    assert_eq!(p("let [first, ...rest] = xs"), "(let [first ...rest] xs)");
    assert_eq!(p("let [a, ...mid, z] = xs"), "(let [a ...mid z] xs)");
    assert_eq!(p("let [[a, b], c,] = xs"), "(let [[a b] c] xs)");
    assert_eq!(p("let [] = xs"), "(let [] xs)");
    assert_eq!(
        p("for [k, v] in m.items() {}"),
        "(for [k v] (.items m []) {})"
    );
    assert_eq!(p("for i, [k, v] in xs {}"), "(for i [k v] xs {})");
    assert_eq!(p("[a, b] = [b, a]"), "(= [a b] [b a])");
    assert!(err("let [a, a] = xs").starts_with("1:9: 'a' is bound twice in this pattern"));
    assert!(p("let [_, _] = xs").starts_with("(let [_ _]"));
    assert!(err("let [...a, ...b] = xs").starts_with("1:12: only one '...name'"));
    assert!(err("let [a, 1] = xs").starts_with("1:9: expected a name or '['"));
    assert!(err("let [a, b]").starts_with("1:11: expected '=' after the destructuring pattern"));
    assert!(err("let [a, b = xs").starts_with("1:11: expected ',' or ']' in the pattern"));
    assert!(err("let [a, b").contains("']' to close the pattern opened at 1:5"));
    assert!(err("for i, i in xs {}").starts_with("1:8: 'i' is bound twice in this loop"));
    assert!(err("for [a], b in xs {}").starts_with("1:8: expected 'in'"));
}

#[test]
fn imports() {
    assert_eq!(
        p("import \"path/to/module\""),
        "(import \"path/to/module\")"
    );
    assert_eq!(p("import \"json\" as j"), "(import \"json\" j)");
    assert_eq!(p("import \"lib/util.weft\""), "(import \"lib/util.weft\")");
    // `as` is a keyword only right after the path.
    assert_eq!(p("let as = 1\nas + 1"), "(let as 1); (+ as 1)");
    assert_eq!(p("import \"m\"\nas = 2"), "(import \"m\"); (= as 2)");
    assert!(
        err("import m").starts_with("1:8: expected a module path string after 'import', found 'm'")
    );
    assert!(err("import \"my-mod\"")
        .contains("'my-mod' is not a valid name; write 'import \"my-mod\" as NAME'"));
    assert!(err("import \"\"").contains("empty module path"));
    assert!(
        err("import \"x\" as").starts_with("1:14: expected a name after 'as', found end of file")
    );
}

// ----- newlines --------------------------------------------------------------

#[test]
fn newline_and_semicolon_end_statements() {
    assert_eq!(p("a\nb"), "a; b");
    assert_eq!(p("a; b;"), "a; b");
    assert_eq!(p(";;a;;\n\n;b"), "a; b");
    assert!(err("a b").starts_with("1:3: expected a newline or ';' after the statement, found 'b'"));
    assert!(err("if x { a } b").starts_with("1:12: expected a newline or ';'"));
}

#[test]
fn newline_inside_brackets_is_ignored() {
    assert_eq!(p("f(1,\n  2\n)"), "(call f [1 2])");
    assert_eq!(p("x = (1\n + 2)"), "(= x (+ 1 2))");
    assert_eq!(p("[1\n,2\n]"), "[1 2]");
    assert_eq!(p("xs[\n0\n]"), "(idx xs 0)");
    assert_eq!(p("(a\n(b))"), "(call a [b])");
}

#[test]
fn newline_after_operator_continues() {
    assert_eq!(p("x = 1 +\n 2"), "(= x (+ 1 2))");
    assert_eq!(p("x = a and\n b"), "(= x (and a b))");
    assert_eq!(p("x =\n 5"), "(= x 5)");
    assert_eq!(p("let y =\n\n 5"), "(let y 5)");
    assert_eq!(p("x = -\n 5"), "(= x (neg 5))");
    // An operator at the start of a line begins a new statement.
    assert_eq!(p("x = 1\n- 2"), "(= x 1); (neg 2)");
    assert!(err("x = 1\n+ 2").starts_with("2:1: expected an expression, found '+'"));
}

#[test]
fn paren_or_bracket_on_a_new_line_starts_a_statement() {
    assert_eq!(p("f\n(1)"), "f; 1");
    assert_eq!(p("xs\n[1]"), "xs; [1]");
}

#[test]
fn leading_dot_continues_a_method_chain() {
    assert_eq!(
        p("xs\n  .map(f)\n  .filter(g)"),
        "(.filter (.map xs [f]) [g])"
    );
    assert_eq!(
        p("let n = xs\n  # comment\n  .len()"),
        "(let n (.len xs []))"
    );
}

#[test]
fn blocks_inside_brackets_use_newlines_again() {
    assert_eq!(
        p("f(fn(x) {\n  let y = x\n  (y)\n})"),
        "(call f [(fn (x) {(let y x); y})])"
    );
    assert_eq!(p("[fn() {\n a\n -b\n}]"), "[(fn () {a; (neg b)})]");
}

#[test]
fn statement_level_block_is_complete() {
    assert_eq!(p("{ a }\n(b)"), "{a}; b");
    assert!(err("{ a } + 1").starts_with("1:7: expected a newline or ';'"));
}

// ----- errors ----------------------------------------------------------------

#[test]
fn unclosed_block() {
    assert_eq!(
        err("if x {\n  let y = 1\n  if y {\n    y\n"),
        "4:6: expected '}' to close the block opened at 3:8, found end of file"
    );
}

#[test]
fn unclosed_and_mismatched_brackets() {
    assert_eq!(
        err("f(1, 2"),
        "1:7: expected ')' to close the argument list opened at 1:2, found end of file"
    );
    assert_eq!(
        err("f(1, 2]"),
        "1:7: expected ')' to close the argument list opened at 1:2, found ']'"
    );
    assert_eq!(
        err("x = (1 + 2"),
        "1:11: expected ')' to close the '(' opened at 1:5, found end of file"
    );
    assert_eq!(
        err("[1, 2"),
        "1:6: expected ']' to close the list opened at 1:1, found end of file"
    );
    assert_eq!(
        err("xs[1"),
        "1:5: expected ']' to close the index opened at 1:3, found end of file"
    );
    assert_eq!(
        err("m = {a: 1"),
        "1:10: expected '}' to close the map opened at 1:5, found end of file"
    );
    assert_eq!(
        err("fn f(a"),
        "1:7: expected ')' to close the parameter list opened at 1:5, found end of file"
    );
    assert_eq!(
        err("f(1 2)"),
        "1:5: expected ',' or ')' after the argument, found '2'"
    );
    assert_eq!(
        err("[1 2]"),
        "1:4: expected ',' or ']' after the list item, found '2'"
    );
    assert_eq!(
        err("m = {a: 1 b: 2}"),
        "1:11: expected ',' or '}' after the map entry, found 'b'"
    );
    assert_eq!(
        err("m = {a: 1, b 2}"),
        "1:14: expected ':' after the map key, found '2'"
    );
}

#[test]
fn stray_closers() {
    assert_eq!(err(")"), "1:1: unexpected ')'");
    assert_eq!(err("f(1))"), "1:5: unexpected ')'");
    assert_eq!(err("x]"), "1:2: unexpected ']'");
    assert_eq!(err("}"), "1:1: unexpected '}' (no block is open)");
    assert_eq!(err("x = )"), "1:5: expected an expression, found ')'");
    assert_eq!(
        err("()"),
        "1:2: expected an expression inside '( )', found ')'"
    );
    assert_eq!(err("f(,)"), "1:3: expected an expression, found ','");
    assert_eq!(
        err("x = let"),
        "1:5: expected an expression, found 'let' (which starts a statement)"
    );
}

#[test]
fn lexer_errors_surface_through_parse() {
    assert!(err("x = \"abc").starts_with("1:5: unterminated string"));
    assert!(err("x = \"a\\qb\"").starts_with("1:7: invalid escape '\\q'"));
    assert!(err("x = 99999999999999999999")
        .starts_with("1:5: integer literal 99999999999999999999 is too large"));
    assert!(err("x = 1 @ 2").starts_with("1:7: unexpected character '@'"));
}

#[test]
fn the_first_error_wins_over_a_later_lexical_error() {
    // The parse error on line 1 comes before the bad character on line 2.
    assert!(err("f(1 2)\nx = @").starts_with("1:5: expected ',' or ')'"));
    assert!(err("x = 1\ny = @").starts_with("2:5: unexpected character '@'"));
}

#[test]
fn field_name_errors() {
    assert_eq!(
        err("x.1"),
        "1:3: expected a field or method name after '.', found '1'"
    );
    assert!(err("x.(").starts_with("1:3: expected a field or method name after '.', found '('"));
    assert!(
        err("x.").starts_with("1:3: expected a field or method name after '.', found end of file")
    );
}

// ----- incompleteness (REPL) -------------------------------------------------

#[test]
fn incomplete_inputs() {
    for src in [
        "if x {",
        "f(1,",
        "[1, 2",
        "x = ",
        "a +",
        "let m = {a: 1,",
        "\"abc",
        "fn f()",
        "try { 1 }",
        "x = \"a\\",
        "for x in xs",
        "if a { 1 } else",
        "import",
        "xs\n  .",
    ] {
        assert!(is_incomplete(src), "{src:?} should be incomplete");
    }
}

#[test]
fn complete_or_wrong_inputs_are_not_incomplete() {
    for src in [
        "x = 1",
        "if x { 1 }",
        "f(1))",
        ")",
        "x = \"a\\q\"",
        "a b",
        "",
        "# only a comment",
        "f(1 2",
    ] {
        assert!(!is_incomplete(src), "{src:?} should not be incomplete");
    }
    assert!(parse_for_repl("x = (").unwrap_err().incomplete);
    assert!(!parse_for_repl("x = )").unwrap_err().incomplete);
}

// ----- positions -------------------------------------------------------------

#[test]
fn positions_of_nodes() {
    let prog = parse("let x = 1\n  y = a + b * c(d)\n").unwrap();
    let s = &prog.body.stmts;
    assert_eq!(s[0].pos, pos(1, 1));
    assert_eq!(s[1].pos, pos(2, 3));
    let StmtKind::Assign { target, value, .. } = &s[1].kind else {
        panic!()
    };
    assert_eq!(target.pos, pos(2, 3));
    // A binary operator's position is the operator.
    assert_eq!(value.pos, pos(2, 9));
    let ExprKind::Binary(_, l, r) = &value.kind else {
        panic!()
    };
    assert_eq!(l.pos, pos(2, 7));
    assert_eq!(r.pos, pos(2, 13));
    // A call's position is its '('.
    let ExprKind::Binary(_, _, call) = &r.kind else {
        panic!()
    };
    assert_eq!(call.pos, pos(2, 16));
}

#[test]
fn positions_count_characters_not_bytes() {
    let e = first_expr("\"héllo wörld\" + x");
    assert_eq!(e.pos, pos(1, 15));
    let e = first_expr("\"😀\".len()");
    let ExprKind::MethodCall { name, .. } = &e.kind else {
        panic!()
    };
    assert_eq!(name.pos, pos(1, 5));
    assert_eq!(e.pos, pos(1, 8));
    assert_eq!(err("\"ü\" + )"), "1:7: expected an expression, found ')'");
}

#[test]
fn positions_after_a_multiline_string() {
    assert_eq!(
        err("x = \"a\nbc\" + )"),
        "2:7: expected an expression, found ')'"
    );
}

#[test]
fn positions_of_names_fields_and_params() {
    let prog = parse("fn f(a, bb) {\n\tx.yy\n}").unwrap();
    let StmtKind::FnDecl(def) = &prog.body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(def.pos, pos(1, 1));
    assert_eq!(def.name.as_ref().unwrap().pos, pos(1, 4));
    assert_eq!(def.params[1].name.pos, pos(1, 9));
    assert_eq!(def.body.pos, pos(1, 13));
    let StmtKind::Expr(field) = &def.body.stmts[0].kind else {
        panic!()
    };
    assert_eq!(field.pos, pos(2, 3));
    let ExprKind::Field(recv, name) = &field.kind else {
        panic!()
    };
    assert_eq!(recv.pos, pos(2, 2));
    assert_eq!(name.pos, pos(2, 4));
}

#[test]
fn program_block_position() {
    assert_eq!(parse("").unwrap().body.pos, pos(1, 1));
    assert_eq!(parse("\n\n  x").unwrap().body.pos, pos(3, 3));
    assert!(parse("").unwrap().body.stmts.is_empty());
}

#[test]
fn shebang_line_is_skipped() {
    assert_eq!(p("#!/usr/bin/env weft\nprint(1)"), "(call print [1])");
}

// ----- depth limits ----------------------------------------------------------

#[test]
fn deep_nesting_is_a_clear_error() {
    let deep = "(".repeat(10_000) + "1" + &")".repeat(10_000);
    assert!(err(&deep).contains("too deeply nested"));
    let deep = "[".repeat(10_000);
    assert!(err(&deep).contains("too deeply nested"));
    let deep = "-".repeat(100_000) + "1";
    assert!(err(&deep).contains("too deeply nested"));
    let deep = "~".repeat(100_000) + "1";
    assert!(err(&deep).contains("too deeply nested"));
    let deep = "not ".repeat(100_000) + "1";
    assert!(err(&deep).contains("too deeply nested"));
    let deep = "if x {".repeat(10_000);
    assert!(err(&deep).contains("too deeply nested"));
    let deep = "{".repeat(10_000);
    assert!(err(&deep).contains("too deeply nested"));
    let deep = "fn() {".repeat(10_000);
    assert!(err(&deep).contains("too deeply nested"));
    let deep = "let ".to_string() + &"[".repeat(10_000) + "a";
    assert!(err(&deep).contains("too deeply nested"));
}

#[test]
fn the_nesting_error_points_at_the_innermost_opening() {
    // 300 parentheses: the error is at the first one past the limit, not
    // at the start of the statement.
    let deep = "x = ".to_string() + &"(".repeat(300) + "1" + &")".repeat(300);
    let e = parse(&deep).unwrap_err();
    assert!(e.message.contains("too deeply nested"), "{}", e.message);
    assert_eq!(e.pos.line, 1);
    assert_eq!(e.pos.col, 4 + MAX_DEPTH + 1, "{}", e.message);
    // Blocks: the '{' that is one too many.
    let deep = "{\n".repeat(300);
    let e = parse(&deep).unwrap_err();
    assert_eq!(e.pos, pos(MAX_DEPTH + 1, 1), "{}", e.message);
    // Lists inside a flat chain: the chain does not count, the brackets do.
    let deep = "y = 1 + 2 + ".to_string() + &"[".repeat(250) + &"]".repeat(250);
    let e = parse(&deep).unwrap_err();
    assert_eq!(e.pos.col, 13 + MAX_DEPTH, "{}", e.message);
    // A chain of 201 method calls: the call that is one too many.
    let chain = "x".to_string() + &".f()".repeat(MAX_DEPTH as usize + 1);
    let e = parse(&chain).unwrap_err();
    assert!(e.message.contains("too deeply nested"), "{}", e.message);
    assert!(e.pos.col > 4 * (MAX_DEPTH - 1), "{}", e.pos.col);
}

#[test]
fn flat_chains_of_binary_operators_have_no_length_limit() {
    // Built iteratively: no depth limit, whatever the length.
    for n in [200, 201, 100_000] {
        let chain = vec!["1"; n].join(" + ");
        let prog = parse(&chain).unwrap_or_else(|e| panic!("{n} terms: {e}"));
        assert_eq!(prog.body.stmts.len(), 1);
    }
    for op in [
        " - ", " * ", " and ", " or ", " & ", " | ", " ^ ", " << ", " ** ",
    ] {
        let chain = vec!["x"; 100_000].join(op);
        assert!(parse(&chain).is_ok(), "chain of{op}");
    }
    // Mixed priorities still build the right tree.
    assert_eq!(p("1 + 2 * 3 - 4"), "(- (+ 1 (* 2 3)) 4)");
    assert_eq!(p("2 ** 3 ** 2"), "(** 2 (** 3 2))");
    assert_eq!(p("a or b and c or d"), "(or (or a (and b c)) d)");
    // Inside brackets, a long chain is still one level.
    let chain = format!("[{}]", vec!["1"; 10_000].join(" + "));
    assert!(parse(&chain).is_ok());
}

#[test]
fn long_suffix_chains_are_limited() {
    // Left-associative chains of calls and fields build deep trees.
    let chain = "x".to_string() + &".f".repeat(100_000);
    assert!(err(&chain).contains("too deeply nested"));
    let chain = "f".to_string() + &"()".repeat(100_000);
    assert!(err(&chain).contains("too deeply nested"));
    let else_ifs = "if a { 1 }".to_string() + &" else if a { 1 }".repeat(10_000);
    assert!(err(&else_ifs).contains("too deeply nested"));
}

#[test]
fn moderate_nesting_is_fine() {
    let nested = "(".repeat(150) + "1" + &")".repeat(150);
    assert_eq!(p(&nested), "1");
    let chain = vec!["1"; 150].join(" + ");
    assert!(parse(&chain).is_ok());
    let lists = "[".repeat(150) + &"]".repeat(150);
    assert!(parse(&lists).is_ok());
    let ifs = "if x {\n".repeat(50) + &"}\n".repeat(50);
    assert!(parse(&ifs).is_ok());
    // Width is unlimited.
    let wide = format!("[{}]", vec!["1"; 100_000].join(", "));
    assert!(parse(&wide).is_ok());
    let many = "x = 1\n".repeat(100_000);
    assert_eq!(parse(&many).unwrap().body.stmts.len(), 100_000);
}

#[test]
fn deep_inputs_do_not_overflow_a_small_stack() {
    // The parser checks the room left on the stack at each nesting level, so
    // the deepest accepted nesting works even on a small thread stack in a
    // debug build (pool workers may parse imported modules).
    let handle = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let mut results = Vec::new();
            let near = "(".repeat(199) + "1" + &")".repeat(199);
            results.push(parse(&near).is_ok());
            let near_blocks = "{".repeat(60) + &"}".repeat(60);
            results.push(parse(&near_blocks).is_ok());
            for over in [
                "(".repeat(100_000),
                "{".repeat(100_000),
                "if x {} else ".repeat(100_000),
                "fn() {".repeat(100_000),
                "[{a: ".repeat(100_000),
                "-".repeat(100_000),
            ] {
                results.push(parse(&over).is_err());
            }
            results
        })
        .unwrap();
    assert_eq!(handle.join().unwrap(), vec![true; 8]);
}

#[test]
fn rendered_syntax_error_points_at_the_gap() {
    let src = "fn f() {\n\tif x {\n\t\tg(1,\n";
    let d = parse(src).unwrap_err();
    assert_eq!(
        d.render("s.weft", src),
        "s.weft:3:7: error: expected ')' to close the argument list opened at 3:4, \
         found end of file\n    \t\tg(1,\n    \t\t    ^"
    );
}
