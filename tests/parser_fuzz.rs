//! Property tests for the lexer and parser.
//!
//! 1. Robustness: random bytes, random strings and random "token soup"
//!    (sequences of real Weft tokens, including very deep nesting) always
//!    give `Ok` or `Err` — never a panic or a stack overflow — and every
//!    error renders.
//! 2. Round trip: random expression trees, printed with the fewest
//!    parentheses the precedence table of LANGUAGE.md allows (optionally
//!    with newlines wherever the newline rules allow them), parse back to
//!    the same tree.

use proptest::prelude::*;
use weft::ast::{BinOp, Expr, ExprKind, StmtKind, UnOp};
use weft::parser::{is_incomplete, parse, parse_for_repl};

// ----- robustness ------------------------------------------------------------

/// Real token spellings, plus a few near-misses, for token soup.
const TOKENS: &[&str] = &[
    "let",
    "fn",
    "return",
    "if",
    "else",
    "while",
    "for",
    "in",
    "break",
    "continue",
    "true",
    "false",
    "nil",
    "and",
    "or",
    "not",
    "try",
    "catch",
    "throw",
    "import",
    "as",
    "x",
    "y",
    "_z",
    "foo",
    "0",
    "42",
    "1_000",
    "0xff",
    "3.14",
    "1e-9",
    "9223372036854775808",
    "99999999999999999999",
    "\"s\"",
    "\"a\\n\\u{1F600}\"",
    "\"\\q\"",
    "\"open",
    "+",
    "-",
    "*",
    "/",
    "//",
    "%",
    "**",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "=",
    "+=",
    "-=",
    "*=",
    "/=",
    "//=",
    "%=",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    ":",
    ";",
    "\n",
    "\n",
    "# c\n",
    "é",
    "@",
    "\t",
    "\r\n",
];

fn check_no_panic(src: &str) {
    let result = parse_for_repl(src);
    if let Err(e) = &result {
        let d = &e.diagnostic;
        assert!(
            d.pos.line >= 1 && d.pos.col >= 1,
            "bad position {:?} for {src:?}",
            d.pos
        );
        assert!(!d.message.is_empty());
        let rendered = d.render("fuzz.weft", src);
        assert!(rendered.starts_with(&format!("fuzz.weft:{}:{}: error: ", d.pos.line, d.pos.col)));
        // The error's line exists (the end-of-file position is on the last line).
        let lines = src.split('\n').count() as u32;
        assert!(
            d.pos.line <= lines,
            "line {} past the end of {src:?}",
            d.pos.line
        );
    }
    assert_eq!(parse(src).is_ok(), result.is_ok());
    assert_eq!(is_incomplete(src), matches!(result, Err(e) if e.incomplete));
}

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(TOKENS),
            prop::sample::select(&[" ", "", "\n"][..]),
        ),
        0..60,
    )
    .prop_map(|toks| toks.into_iter().flat_map(|(t, sep)| [t, sep]).collect())
}

/// Deep, possibly unbalanced nesting of every bracketing construct.
fn deep_nesting() -> impl Strategy<Value = String> {
    let openers = prop::sample::select(
        &[
            "(",
            "[",
            "{",
            "f(",
            "x[",
            "{a: ",
            "fn() {",
            "if x {",
            "while x {",
            "for i in x {",
            "try {",
            "-",
            "not ",
            "2 ** ",
            "1 + ",
            "x.",
            "[1, ",
        ][..],
    );
    (
        prop::collection::vec(openers, 0..600),
        0usize..600,
        prop::sample::select(&[")", "]", "}", "1", ""][..]),
    )
        .prop_map(|(opens, n, close)| {
            let mut s: String = opens.concat();
            s.push('1');
            for _ in 0..n {
                s.push_str(close);
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        check_no_panic(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn random_strings_never_panic(s in "\\PC{0,120}") {
        check_no_panic(&s);
    }

    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        check_no_panic(&src);
    }

    #[test]
    fn deep_nesting_never_overflows(src in deep_nesting()) {
        check_no_panic(&src);
    }

    #[test]
    fn prefixes_of_valid_programs_are_incomplete_or_errors(cut in 0usize..400) {
        let program = "fn f(a, b) {\n  let m = {\"k\": [1, 2], v: (a +\n b)}\n  if a < b { m.k } else { try { g(a) } catch e { e.kind } }\n}\n";
        let cut = program.char_indices().map(|(i, _)| i).nth(cut).unwrap_or(program.len());
        check_no_panic(&program[..cut]);
    }
}

#[test]
fn huge_inputs_do_not_overflow() {
    for src in [
        "(".repeat(1_000_000),
        "{".repeat(1_000_000),
        "-".repeat(1_000_000),
        "fn(){".repeat(200_000),
        vec!["x"; 200_000].join("."),
        "if x {} else ".repeat(100_000),
        "{a:".repeat(300_000),
        "{(".repeat(300_000),
    ] {
        let err = parse(&src).expect_err("too deep");
        assert!(err.message.contains("too deeply nested"), "{}", err.message);
    }
    // Chains of binary operators have no depth limit (issue 15): they parse,
    // and their trees drop without overflowing the stack.
    for src in [
        vec!["1"; 200_000].join("**"),
        vec!["1"; 200_000].join("+"),
        vec!["a"; 200_000].join(" or "),
    ] {
        assert!(parse(&src).is_ok());
    }
}

// ----- round trip ------------------------------------------------------------

/// An expression tree without positions.
#[derive(Clone, Debug, PartialEq)]
enum E {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Name(String),
    List(Vec<E>),
    Map(Vec<(E, E)>),
    Neg(Box<E>),
    Not(Box<E>),
    Bin(BinOp, Box<E>, Box<E>),
    And(Box<E>, Box<E>),
    Or(Box<E>, Box<E>),
    Call(Box<E>, Vec<E>),
    Method(Box<E>, String, Vec<E>),
    Index(Box<E>, Box<E>),
    Field(Box<E>, String),
    /// `if c { a }` or `if c { a } else { b }` (bodies are one expression).
    If(Box<E>, Box<E>, Option<Box<E>>),
    /// `fn(params) { body }`.
    Fn(Vec<String>, Box<E>),
}

const NAMES: &[&str] = &["a", "b", "x", "foo", "as", "_y", "n1"];

fn name() -> impl Strategy<Value = String> {
    prop::sample::select(NAMES).prop_map(String::from)
}

/// Keywords, which are also valid field names and bare map keys (except
/// `true`, `false` and `nil`, which stay values as keys).
const KEYWORDS: &[&str] = &["if", "for", "import", "not", "true", "nil", "catch"];

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        name(),
        prop::sample::select(KEYWORDS).prop_map(String::from)
    ]
}

fn binop() -> impl Strategy<Value = BinOp> {
    use BinOp::*;
    prop::sample::select(
        &[
            Add, Sub, Mul, Div, FloorDiv, Mod, Pow, Eq, Ne, Lt, Le, Gt, Ge,
        ][..],
    )
}

fn leaf() -> impl Strategy<Value = E> {
    prop_oneof![
        (0i64..1000).prop_map(E::Int),
        (0i64..=i64::MAX).prop_map(E::Int),
        prop::sample::select(&[0.5, 2.25, 1e-7, 1e21, 3.0, 0.1][..]).prop_map(E::Float),
        "\\PC{0,6}".prop_map(E::Str),
        "[a-z\"\\\\\n\t\r\0\u{1}é😀]{0,5}".prop_map(E::Str),
        prop::sample::select(KEYWORDS).prop_map(|k| E::Str(k.to_string())),
        name().prop_map(E::Name),
        any::<bool>().prop_map(E::Bool),
        Just(E::Nil),
    ]
}

fn expr() -> impl Strategy<Value = E> {
    leaf().prop_recursive(5, 48, 3, |inner| {
        let b = |e: E| Box::new(e);
        prop_oneof![
            4 => (binop(), inner.clone(), inner.clone()).prop_map(move |(op, l, r)| E::Bin(op, b(l), b(r))),
            1 => (inner.clone(), inner.clone()).prop_map(move |(l, r)| E::And(b(l), b(r))),
            1 => (inner.clone(), inner.clone()).prop_map(move |(l, r)| E::Or(b(l), b(r))),
            2 => inner.clone().prop_map(move |e| E::Neg(b(e))),
            1 => inner.clone().prop_map(move |e| E::Not(b(e))),
            1 => (inner.clone(), prop::collection::vec(inner.clone(), 0..3)).prop_map(move |(f, a)| E::Call(b(f), a)),
            1 => (inner.clone(), field_name(), prop::collection::vec(inner.clone(), 0..3))
                .prop_map(move |(r, n, a)| E::Method(b(r), n, a)),
            1 => (inner.clone(), inner.clone()).prop_map(move |(x, i)| E::Index(b(x), b(i))),
            1 => (inner.clone(), field_name()).prop_map(move |(x, n)| E::Field(b(x), n)),
            1 => prop::collection::vec(inner.clone(), 0..4).prop_map(E::List),
            1 => prop::collection::vec((inner.clone(), inner.clone()), 0..3).prop_map(E::Map),
            1 => (inner.clone(), inner.clone(), prop::option::of(inner.clone()))
                .prop_map(move |(c, t, e)| E::If(b(c), b(t), e.map(b))),
            1 => (prop::collection::vec(name(), 0..3), inner).prop_map(move |(mut ps, body)| {
                ps.sort();
                ps.dedup();
                E::Fn(ps, b(body))
            }),
        ]
    })
}

// Priorities from LANGUAGE.md, loosest first.
const OR: u8 = 1;
const AND: u8 = 2;
const NOT: u8 = 3;
const CMP: u8 = 4;
const ADD: u8 = 5;
const MUL: u8 = 6;
const NEG: u8 = 7;
const POW: u8 = 8;
const POSTFIX: u8 = 9;
const ATOM: u8 = 10;

fn bin_prio(op: BinOp) -> u8 {
    use BinOp::*;
    match op {
        Eq | Ne | Lt | Le | Gt | Ge => CMP,
        Add | Sub => ADD,
        Mul | Div | FloorDiv | Mod => MUL,
        Pow => POW,
        // The generator makes no bitwise operators (their priorities are
        // tested in the parser's unit tests).
        BitAnd | BitOr | BitXor | Shl | Shr => unreachable!("not generated"),
    }
}

fn prio(e: &E) -> u8 {
    match e {
        E::Or(..) => OR,
        E::And(..) => AND,
        E::Not(_) => NOT,
        E::Bin(op, ..) => bin_prio(*op),
        E::Neg(_) => NEG,
        E::Call(..) | E::Method(..) | E::Index(..) | E::Field(..) => POSTFIX,
        _ => ATOM,
    }
}

/// Prints expressions with minimal parentheses; in `newlines` mode, also
/// breaks lines wherever the newline rules allow.
struct Printer {
    newlines: bool,
}

#[derive(Clone, Copy)]
struct Ctx {
    /// The loosest priority allowed without parentheses.
    min: u8,
    /// In an `if` head, where a `{` would start the body.
    head: bool,
    /// Inside brackets, where newlines are free.
    bracket: bool,
}

/// Whether a string key can be written bare: a name, or a keyword other
/// than `true`, `false` and `nil`.
fn is_bare_key(s: &str) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
        && !matches!(s, "true" | "false" | "nil")
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl Printer {
    fn nl(&self) -> &'static str {
        if self.newlines {
            "\n"
        } else {
            ""
        }
    }

    /// A line break after an operator or a comma (always allowed).
    fn op_break(&self) -> &'static str {
        if self.newlines {
            "\n  "
        } else {
            " "
        }
    }

    fn print(&self, e: &E, ctx: Ctx) -> String {
        let wrap = prio(e) < ctx.min || (ctx.head && matches!(e, E::Map(_)));
        if wrap {
            let inner = Ctx {
                min: 0,
                head: false,
                bracket: true,
            };
            return format!("({})", self.print(e, inner));
        }
        let free = Ctx {
            min: 0,
            head: false,
            bracket: true,
        };
        let list = |items: &[E]| -> String {
            let parts: Vec<String> = items.iter().map(|x| self.print(x, free)).collect();
            let sep = format!(",{}", self.op_break());
            format!("{}{}{}", self.nl(), parts.join(&sep), self.nl())
        };
        let keep = |min: u8| Ctx { min, ..ctx };
        match e {
            E::Nil => "nil".into(),
            E::Bool(b) => b.to_string(),
            E::Int(i) => i.to_string(),
            E::Float(f) => format!("{f:?}"),
            E::Str(s) => quote(s),
            E::Name(n) => n.clone(),
            E::List(items) => format!("[{}]", list(items)),
            E::Map(entries) => {
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| {
                        let key = match k {
                            E::Str(s) if is_bare_key(s) => s.clone(),
                            E::Name(n) => format!("({n})"),
                            k => self.print(k, free),
                        };
                        format!("{key}:{}{}", self.op_break(), self.print(v, free))
                    })
                    .collect();
                let sep = format!(",{}", self.op_break());
                format!("{{{}{}{}}}", self.nl(), parts.join(&sep), self.nl())
            }
            E::Neg(x) => format!("-{}", self.print(x, keep(NEG))),
            E::Not(x) => format!("not{}{}", self.op_break(), self.print(x, keep(NOT))),
            E::Bin(op, l, r) => {
                let p = bin_prio(*op);
                let (lmin, rmin) = match p {
                    POW => (POSTFIX, NEG),
                    CMP => (CMP + 1, CMP + 1),
                    _ => (p, p + 1),
                };
                format!(
                    "{} {}{}{}",
                    self.print(l, keep(lmin)),
                    op.symbol(),
                    self.op_break(),
                    self.print(r, keep(rmin))
                )
            }
            E::And(l, r) => {
                format!(
                    "{} and{}{}",
                    self.print(l, keep(AND)),
                    self.op_break(),
                    self.print(r, keep(AND + 1))
                )
            }
            E::Or(l, r) => format!(
                "{} or{}{}",
                self.print(l, keep(OR)),
                self.op_break(),
                self.print(r, keep(OR + 1))
            ),
            // `x.f(args)` is a method call: calling a field needs `(x.f)(args)`.
            E::Call(f, args) => {
                let callee = match **f {
                    E::Field(..) => format!("({})", self.print(f, free)),
                    _ => self.print(f, keep(POSTFIX)),
                };
                format!("{callee}({})", list(args))
            }
            E::Method(r, n, args) => format!(
                "{}{}.{n}({})",
                self.print(r, keep(POSTFIX)),
                self.nl(),
                list(args)
            ),
            E::Index(x, i) => format!("{}[{}]", self.print(x, keep(POSTFIX)), self.print(i, free)),
            E::Field(x, n) => format!("{}{}.{n}", self.print(x, keep(POSTFIX)), self.nl()),
            E::If(c, t, els) => {
                let cond = self.print(
                    c,
                    Ctx {
                        min: 0,
                        head: true,
                        bracket: ctx.bracket,
                    },
                );
                let mut s = format!("if {cond} {}", self.body(t));
                if let Some(els) = els {
                    s.push_str(&format!(
                        "{}else {}",
                        if self.newlines { "\n" } else { " " },
                        self.body(els)
                    ));
                }
                s
            }
            E::Fn(params, body) => format!("fn({}) {}", params.join(", "), self.body(body)),
        }
    }

    /// `{ e }` with `e` at the start of a statement.
    fn body(&self, e: &E) -> String {
        let stmt = Ctx {
            min: 0,
            head: false,
            bracket: false,
        };
        let mut text = self.print(e, stmt);
        // `{}` at the start of a statement is an empty block, not a map.
        if text.starts_with("{}") || text.starts_with("{\n\n}") {
            text = format!("({text})");
        }
        format!(
            "{{{}{text}{}}}",
            if self.newlines { "\n" } else { " " },
            if self.newlines { "\n" } else { " " }
        )
    }
}

/// The parsed tree without positions, or a description of what does not fit.
fn strip(e: &Expr) -> Result<E, String> {
    let b = |x: &Expr| strip(x).map(Box::new);
    let all = |xs: &[Expr]| xs.iter().map(strip).collect::<Result<Vec<_>, _>>();
    let single = |block: &weft::ast::Block| -> Result<E, String> {
        match &block.stmts[..] {
            [s] => match &s.kind {
                StmtKind::Expr(e) => strip(e),
                other => Err(format!("not an expression statement: {other:?}")),
            },
            other => Err(format!("expected one statement, got {}", other.len())),
        }
    };
    Ok(match &e.kind {
        ExprKind::Nil => E::Nil,
        ExprKind::Bool(v) => E::Bool(*v),
        ExprKind::Int(i) => E::Int(*i),
        ExprKind::Float(f) => E::Float(*f),
        ExprKind::Str(s) => E::Str(s.clone()),
        ExprKind::Name(n) => E::Name(n.name.clone()),
        ExprKind::List(items) => E::List(all(items)?),
        ExprKind::Map(entries) => E::Map(
            entries
                .iter()
                .map(|(k, v)| Ok((strip(k)?, strip(v)?)))
                .collect::<Result<_, String>>()?,
        ),
        ExprKind::Unary(UnOp::Neg, x) => E::Neg(b(x)?),
        ExprKind::Unary(UnOp::Not, x) => E::Not(b(x)?),
        ExprKind::Binary(op, l, r) => E::Bin(*op, b(l)?, b(r)?),
        ExprKind::And(l, r) => E::And(b(l)?, b(r)?),
        ExprKind::Or(l, r) => E::Or(b(l)?, b(r)?),
        ExprKind::Call { callee, args } => E::Call(b(callee)?, all(args)?),
        ExprKind::MethodCall { recv, name, args } => {
            E::Method(b(recv)?, name.name.clone(), all(args)?)
        }
        ExprKind::Index(x, i) => E::Index(b(x)?, b(i)?),
        ExprKind::Field(x, n) => E::Field(b(x)?, n.name.clone()),
        ExprKind::If { cond, then, else_ } => {
            let els = match else_.as_deref() {
                None => None,
                Some(Expr {
                    kind: ExprKind::Block(block),
                    ..
                }) => Some(Box::new(single(block)?)),
                Some(other) => return Err(format!("unexpected else branch {other:?}")),
            };
            E::If(b(cond)?, Box::new(single(then)?), els)
        }
        ExprKind::Fn(def) if def.name.is_none() => E::Fn(
            def.params.iter().map(|p| p.name.name.clone()).collect(),
            Box::new(single(&def.body)?),
        ),
        other => return Err(format!("unexpected node {other:?}")),
    })
}

fn round_trip(e: &E, newlines: bool) -> Result<(), TestCaseError> {
    let printer = Printer { newlines };
    let text = printer.print(
        e,
        Ctx {
            min: 0,
            head: false,
            bracket: false,
        },
    );
    let src = format!("let r = {text}\n");
    let program = parse(&src)
        .map_err(|d| TestCaseError::fail(format!("{}\nsource:\n{src}", d.render("rt", &src))))?;
    let [stmt] = &program.body.stmts[..] else {
        return Err(TestCaseError::fail(format!(
            "expected one statement from:\n{src}"
        )));
    };
    let StmtKind::Let { value, .. } = &stmt.kind else {
        return Err(TestCaseError::fail(format!("expected a let from:\n{src}")));
    };
    let back = strip(value).map_err(|m| TestCaseError::fail(format!("{m}\nsource:\n{src}")))?;
    prop_assert_eq!(&back, e, "source:\n{}", src);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn printed_trees_parse_back(e in expr()) {
        round_trip(&e, false)?;
    }

    #[test]
    fn printed_trees_with_line_breaks_parse_back(e in expr()) {
        round_trip(&e, true)?;
    }
}

#[test]
fn printer_sanity() {
    // The printer itself follows the precedence table (so the round trip
    // tests the parser, not a printer that always parenthesizes).
    let p = Printer { newlines: false };
    let ctx = Ctx {
        min: 0,
        head: false,
        bracket: false,
    };
    let n = |s: &str| Box::new(E::Name(s.into()));
    let e = E::Bin(
        BinOp::Mul,
        Box::new(E::Bin(BinOp::Add, n("a"), n("b"))),
        n("c"),
    );
    assert_eq!(p.print(&e, ctx), "(a + b) * c");
    let e = E::Neg(Box::new(E::Bin(BinOp::Pow, n("x"), Box::new(E::Int(2)))));
    assert_eq!(p.print(&e, ctx), "-x ** 2");
    let e = E::Bin(
        BinOp::Pow,
        Box::new(E::Neg(n("x"))),
        Box::new(E::Neg(Box::new(E::Int(1)))),
    );
    assert_eq!(p.print(&e, ctx), "(-x) ** -1");
    let e = E::Not(Box::new(E::Bin(BinOp::Eq, n("a"), n("b"))));
    assert_eq!(p.print(&e, ctx), "not a == b");
    assert!(round_trip(&e, true).is_ok());
}
