use super::*;

fn at(line: u32, col: u32, message: &str) -> Diagnostic {
    Diagnostic::new(Pos { line, col }, message)
}

#[test]
fn renders_header_line_and_caret() {
    let src = "let x = 1\nlet y = (2 +\nprint(y)\n";
    let d = at(2, 9, "expected ')'");
    assert_eq!(
        d.render("a.weft", src),
        "a.weft:2:9: error: expected ')'\n    let y = (2 +\n            ^"
    );
}

#[test]
fn caret_at_column_one() {
    let d = at(1, 1, "unexpected '}'");
    assert_eq!(
        d.render("f", "}\n"),
        "f:1:1: error: unexpected '}'\n    }\n    ^"
    );
}

#[test]
fn tabs_are_kept_so_the_caret_lines_up() {
    let src = "if x {\n\t\tfoo(\t1)\n}";
    let d = at(2, 8, "m");
    assert_eq!(
        d.render("t.weft", src),
        "t.weft:2:8: error: m\n    \t\tfoo(\t1)\n    \t\t    \t^"
    );
}

#[test]
fn columns_count_characters_not_bytes() {
    let src = "let s = \"héllo\" +";
    // The '+' is character 17 (byte 18).
    let d = at(1, 17, "x");
    assert_eq!(
        d.render("u", src),
        "u:1:17: error: x\n    let s = \"héllo\" +\n                    ^"
    );
}

#[test]
fn column_past_the_end_points_after_the_line() {
    let d = at(1, 4, "expected '}'");
    assert_eq!(
        d.render("e", "a {"),
        "e:1:4: error: expected '}'\n    a {\n       ^"
    );
}

#[test]
fn crlf_line_endings_are_not_shown() {
    let d = at(2, 1, "m");
    assert_eq!(
        d.render("w", "a\r\nbad\r\n"),
        "w:2:1: error: m\n    bad\n    ^"
    );
}

#[test]
fn missing_line_gives_the_header_only() {
    assert_eq!(at(5, 1, "m").render("f", "one line"), "f:5:1: error: m");
    assert_eq!(at(0, 0, "m").render("f", "one line"), "f:0:0: error: m");
}

#[test]
fn empty_last_line_is_a_line() {
    // A file ending in '\n' has an empty line after it; an error there still
    // shows a (blank) source line and a caret.
    assert_eq!(
        at(2, 1, "m").render("f", "x\n"),
        "f:2:1: error: m\n    \n    ^"
    );
}

#[test]
fn display_is_line_col_message() {
    assert_eq!(at(3, 7, "boom").to_string(), "3:7: boom");
}
