use super::*;
use TokenKind as T;

fn kinds(src: &str) -> Vec<TokenKind> {
    let lexed = tokenize(src);
    if let Some(e) = lexed.error {
        panic!("unexpected lex error for {src:?}: {}", e.diagnostic);
    }
    lexed
        .tokens
        .into_iter()
        .map(|t| t.kind)
        .filter(|k| *k != T::Eof)
        .collect()
}

fn lex_err(src: &str) -> (String, bool) {
    match tokenize(src).error {
        Some(e) => (e.diagnostic.to_string(), e.incomplete),
        None => panic!("expected a lex error for {src:?}"),
    }
}

fn ident(s: &str) -> TokenKind {
    T::Ident(s.to_string())
}

#[test]
fn keywords_and_identifiers() {
    let words = "let fn return if else while for in break continue true false nil and or not try catch throw import";
    let ks = kinds(words);
    assert_eq!(ks.len(), 20);
    for (k, w) in ks.iter().zip(words.split(' ')) {
        assert_eq!(k.symbol(), Some(w));
    }
    assert_eq!(
        kinds("as _x x1 Foo_Bar letter iff"),
        vec![
            ident("as"),
            ident("_x"),
            ident("x1"),
            ident("Foo_Bar"),
            ident("letter"),
            ident("iff")
        ]
    );
}

#[test]
fn operators_longest_match() {
    let src = "+ - * / // % ** == != < <= > >= = += -= *= /= //= %= & | ^ ~ << >> &= |= ^= <<= >>= ... ( ) [ ] { } , . : ;";
    let ks = kinds(src);
    let syms: Vec<&str> = ks.iter().map(|k| k.symbol().unwrap()).collect();
    assert_eq!(syms.join(" "), src);
    assert_eq!(
        kinds("a//=b**c"),
        vec![
            ident("a"),
            T::SlashSlashEq,
            ident("b"),
            T::StarStar,
            ident("c")
        ]
    );
    assert_eq!(kinds("***"), vec![T::StarStar, T::Star]);
    assert_eq!(kinds("==="), vec![T::EqEq, T::Assign]);
    assert_eq!(kinds("<<<"), vec![T::Shl, T::Lt]);
    assert_eq!(kinds(">>>="), vec![T::Shr, T::Ge]);
    assert_eq!(kinds("a<<=b"), vec![ident("a"), T::ShlEq, ident("b")]);
    assert_eq!(kinds("x.y"), vec![ident("x"), T::Dot, ident("y")]);
    assert_eq!(kinds("...xs"), vec![T::Ellipsis, ident("xs")]);
    assert_eq!(kinds("~1"), vec![T::Tilde, T::Int(1)]);
}

#[test]
fn numbers() {
    assert_eq!(
        kinds("42 1_000_000 0xff 0XFF 0o17 0b1010"),
        vec![
            T::Int(42),
            T::Int(1_000_000),
            T::Int(255),
            T::Int(255),
            T::Int(15),
            T::Int(10)
        ]
    );
    assert_eq!(
        kinds("2.5 1e-9 2E+3 1_0.5_0 0.5"),
        vec![
            T::Float(2.5),
            T::Float(1e-9),
            T::Float(2000.0),
            T::Float(10.5),
            T::Float(0.5)
        ]
    );
    assert_eq!(kinds("9223372036854775807"), vec![T::Int(i64::MAX as u64)]);
    // 2^63 is lexed (for `-9223372036854775808`); the parser range-checks it.
    assert_eq!(kinds("9223372036854775808"), vec![T::Int(1 << 63)]);
    // A dot not followed by a digit is a separate token.
    assert_eq!(kinds("1.abs"), vec![T::Int(1), T::Dot, ident("abs")]);
    assert_eq!(kinds("1..2"), vec![T::Int(1), T::Dot, T::Dot, T::Int(2)]);
    assert_eq!(kinds("1e400"), vec![T::Float(f64::INFINITY)]);
}

#[test]
fn bad_numbers() {
    assert_eq!(lex_err("9223372036854775809").0,
        "1:1: integer literal 9223372036854775809 is too large (the largest int is 9223372036854775807)");
    assert!(lex_err("x = 99999999999999999999999")
        .0
        .starts_with("1:5: integer literal 99999999999999999999999 is too large"));
    assert!(lex_err("0xffffffffffffffff").0.contains("too large"));
    assert_eq!(lex_err("12abc").0, "1:1: invalid number literal '12abc'");
    assert_eq!(lex_err("1e").0, "1:1: invalid number literal '1e'");
    assert_eq!(lex_err("1__0").0, "1:1: invalid number literal '1__0'");
    assert_eq!(lex_err("1_").0, "1:1: invalid number literal '1_'");
    assert_eq!(lex_err("0x").0, "1:1: invalid number literal '0x'");
    assert_eq!(lex_err("0xfg").0, "1:1: invalid number literal '0xfg'");
    assert_eq!(lex_err("0b102").0, "1:1: invalid number literal '0b102'");
    assert_eq!(
        lex_err("0123").0,
        "1:1: leading zeros are not allowed in the integer literal '0123' (write 0o... for an octal number)"
    );
    assert_eq!(
        kinds("0 00 0_0 0.5 00.5 0e3"),
        vec![
            T::Int(0),
            T::Int(0),
            T::Int(0),
            T::Float(0.5),
            T::Float(0.5),
            T::Float(0.0)
        ]
    );
    assert_eq!(lex_err("1_.5").0, "1:1: invalid number literal '1_.5'");
}

#[test]
fn strings_and_escapes() {
    assert_eq!(
        kinds(r#""" "text""#),
        vec![T::Str("".into()), T::Str("text".into())]
    );
    assert_eq!(
        kinds(r#""a\nb\tc\\d\"e\r\0""#),
        vec![T::Str("a\nb\tc\\d\"e\r\0".into())]
    );
    assert_eq!(
        kinds(r#""\u{1F600}\u{e9}\u{0}""#),
        vec![T::Str("😀é\0".into())]
    );
    assert_eq!(
        kinds("\"héllo 😀 # not a comment\""),
        vec![T::Str("héllo 😀 # not a comment".into())]
    );
    // Strings may span lines; `\r\n` inside becomes `\n`.
    assert_eq!(
        kinds("\"a\nb\" \"c\r\nd\""),
        vec![T::Str("a\nb".into()), T::Str("c\nd".into())]
    );
}

#[test]
fn bad_escapes_name_the_escape() {
    assert_eq!(
        lex_err(r#""ab\q""#),
        (
            r#"1:4: invalid escape '\q' in string (valid escapes: \n \t \r \0 \\ \" \u{...})"#
                .to_string(),
            false
        )
    );
    assert!(lex_err(r#""\x41""#)
        .0
        .starts_with(r"1:2: invalid escape '\x'"));
    assert!(lex_err(r#""\é""#)
        .0
        .starts_with(r"1:2: invalid escape '\é'"));
    assert!(lex_err("\"a\\\nb\"")
        .0
        .starts_with(r"1:3: invalid escape '\' at the end of a line"));
    assert!(lex_err(r#""\u0041""#)
        .0
        .starts_with(r"1:2: invalid escape '\u': write '\u{...}'"));
    assert!(lex_err(r#""\u{}""#)
        .0
        .starts_with(r"1:2: invalid escape '\u{'"));
    assert!(lex_err(r#""\u{1234567}""#).0.contains("1 to 6 hex digits"));
    assert!(lex_err(r#""\u{zz}""#).0.contains("1 to 6 hex digits"));
    assert_eq!(
        lex_err(r#""\u{D800}""#).0,
        r"1:2: invalid escape '\u{D800}': U+D800 is not a Unicode scalar value"
    );
    assert!(lex_err(r#""\u{110000}""#)
        .0
        .contains("not a Unicode scalar value"));
}

#[test]
fn unterminated_strings_are_incomplete() {
    assert_eq!(
        lex_err("x = \"abc"),
        (
            "1:5: unterminated string: the '\"' opened at 1:5 is never closed".to_string(),
            true
        )
    );
    assert!(lex_err("\"abc\\").1);
    assert!(lex_err("\"a\nb").1);
    assert!(!lex_err("\"\\q\"").1);
}

#[test]
fn bad_characters_with_hints() {
    assert_eq!(lex_err("a @ b").0, "1:3: unexpected character '@'");
    assert_eq!(
        lex_err("!a").0,
        "1:1: unexpected character '!' (use 'not' for negation, '!=' for inequality)"
    );
    assert_eq!(
        lex_err("a && b").0,
        "1:3: unexpected character '&' (use 'and')"
    );
    assert_eq!(
        lex_err("a || b").0,
        "1:3: unexpected character '|' (use 'or')"
    );
    assert_eq!(
        lex_err("'x'").0,
        "1:1: unexpected character ''' (strings use double quotes)"
    );
    assert_eq!(lex_err("é").0, "1:1: unexpected character 'é'");
    assert_eq!(lex_err("a\u{0}").0, "1:2: unexpected character U+0000");
}

#[test]
fn comments_shebang_bom_and_newline_flags() {
    let toks = tokenize("#!/usr/bin/env weft\na # c\n\n  # d\r\nb c;d\n").tokens;
    let ks: Vec<_> = toks
        .iter()
        .map(|t| (t.kind.clone(), t.newline_before, t.pos.line, t.pos.col))
        .collect();
    assert_eq!(
        ks,
        vec![
            (ident("a"), true, 2, 1),
            (ident("b"), true, 5, 1),
            (ident("c"), false, 5, 3),
            (T::Semicolon, false, 5, 4),
            (ident("d"), false, 5, 5),
            (T::Eof, true, 5, 6),
        ]
    );
    // A byte-order mark is skipped and does not shift columns.
    let toks = tokenize("\u{feff}x").tokens;
    assert_eq!(
        (toks[0].kind.clone(), toks[0].pos),
        (ident("x"), Pos { line: 1, col: 1 })
    );
}

#[test]
fn columns_count_characters() {
    let toks = tokenize("\"日本語\" + x\n\t\"é\"y").tokens;
    let cols: Vec<(u32, u32)> = toks.iter().map(|t| (t.pos.line, t.pos.col)).collect();
    assert_eq!(cols, vec![(1, 1), (1, 7), (1, 9), (2, 2), (2, 5), (2, 6)]);
    let e = lex_err("\"😀\" @");
    assert_eq!(e.0, "1:5: unexpected character '@'");
}

#[test]
fn eof_token_sits_after_the_last_token_or_at_the_error() {
    let toks = tokenize("f(x\n\n").tokens;
    assert_eq!(toks.last().unwrap().pos, Pos { line: 1, col: 4 });
    let toks = tokenize("").tokens;
    assert_eq!(toks.len(), 1);
    assert_eq!(toks[0].pos, Pos { line: 1, col: 1 });
    let lexed = tokenize("a b @ c");
    assert_eq!(lexed.tokens.len(), 3);
    assert_eq!(lexed.tokens[2].pos, Pos { line: 1, col: 5 });
    let toks = tokenize("x = \"a\nbc\"").tokens;
    assert_eq!(toks.last().unwrap().pos, Pos { line: 2, col: 4 });
}

#[test]
fn describe_tokens() {
    let src = "foo 42 \"a long string that goes on and on\" }";
    let toks = tokenize(src).tokens;
    let ds: Vec<String> = toks.iter().map(|t| t.describe(src)).collect();
    assert_eq!(
        ds,
        vec![
            "'foo'",
            "'42'",
            "string \"a long string that g...\"",
            "'}'",
            "end of file"
        ]
    );
}
