use super::*;

fn strs(xs: &[&str]) -> Value {
    l(xs.iter().map(|x| s(x)).collect())
}

#[test]
fn lengths_and_case() {
    let mut t = s("Héllo");
    assert_eq!(ok(method(&mut t, "len", &[])), i(5));
    assert_eq!(ok(method(&mut t, "bytes_len", &[])), i(6));
    assert_eq!(ok(method(&mut t, "upper", &[])), s("HÉLLO"));
    assert_eq!(ok(method(&mut t, "lower", &[])), s("héllo"));
    assert_eq!(ok(method(&mut s("  a b \n"), "trim", &[])), s("a b"));
    assert_eq!(ok(method(&mut s("ab"), "trim", &[])), s("ab"));
    assert_eq!(kind(method(&mut t, "len", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(kind(method(&mut t, "upper", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(t, s("Héllo"), "strings are immutable");
}

#[test]
fn split_and_lines() {
    assert_eq!(
        ok(method(&mut s("  a  b\tc\n"), "split", &[])),
        strs(&["a", "b", "c"])
    );
    assert_eq!(ok(method(&mut s(""), "split", &[])), strs(&[]));
    assert_eq!(
        ok(method(&mut s("a,b,,c"), "split", &[s(",")])),
        strs(&["a", "b", "", "c"])
    );
    assert_eq!(ok(method(&mut s(""), "split", &[s(",")])), strs(&[""]));
    assert_eq!(
        ok(method(&mut s("a::b"), "split", &[s("::")])),
        strs(&["a", "b"])
    );
    assert_eq!(
        kind(method(&mut s("a"), "split", &[s("")])),
        ErrorKind::ValueError
    );
    assert_eq!(
        kind(method(&mut s("a"), "split", &[i(1)])),
        ErrorKind::TypeError
    );
    assert_eq!(
        ok(method(&mut s("a\nb\r\nc\n"), "lines", &[])),
        strs(&["a", "b", "c"])
    );
    assert_eq!(
        ok(method(&mut s("a\n\nb"), "lines", &[])),
        strs(&["a", "", "b"])
    );
    assert_eq!(ok(method(&mut s(""), "lines", &[])), strs(&[]));
    assert_eq!(ok(method(&mut s("hé"), "chars", &[])), strs(&["h", "é"]));
}

#[test]
fn searching() {
    let mut t = s("héllo wörld");
    assert_eq!(
        ok(method(&mut t, "contains", &[s("wö")])),
        Value::Bool(true)
    );
    assert_eq!(
        ok(method(&mut t, "contains", &[s("x")])),
        Value::Bool(false)
    );
    assert_eq!(
        ok(method(&mut t, "starts_with", &[s("hé")])),
        Value::Bool(true)
    );
    assert_eq!(
        ok(method(&mut t, "ends_with", &[s("rld")])),
        Value::Bool(true)
    );
    assert_eq!(
        ok(method(&mut t, "ends_with", &[s("wö")])),
        Value::Bool(false)
    );
    assert_eq!(
        ok(method(&mut t, "find", &[s("wö")])),
        i(6),
        "a character index, not a byte index"
    );
    assert_eq!(ok(method(&mut t, "find", &[s("l")])), i(2));
    assert_eq!(ok(method(&mut t, "find", &[s("zz")])), i(-1));
    assert_eq!(ok(method(&mut t, "find", &[s("")])), i(0));
    for m in ["contains", "starts_with", "ends_with", "find"] {
        let (k, msg) = err(method(&mut t, m, &[i(1)]));
        assert_eq!(k, ErrorKind::TypeError, "{m}");
        assert!(msg.contains(&format!("string.{m}()")), "{msg}");
        assert_eq!(kind(method(&mut t, m, &[])), ErrorKind::TypeError, "{m}");
    }
}

#[test]
fn replace_all() {
    assert_eq!(
        ok(method(&mut s("a-b-c"), "replace", &[s("-"), s("+")])),
        s("a+b+c")
    );
    assert_eq!(
        ok(method(&mut s("abc"), "replace", &[s("x"), s("y")])),
        s("abc")
    );
    assert_eq!(
        ok(method(&mut s("ab"), "replace", &[s(""), s("-")])),
        s("-a-b-")
    );
    assert_eq!(
        kind(method(&mut s("ab"), "replace", &[s("a")])),
        ErrorKind::TypeError
    );
    assert_eq!(
        kind(method(&mut s("ab"), "replace", &[s("a"), i(1)])),
        ErrorKind::TypeError
    );
}

#[test]
fn slice_counts_characters_and_clamps() {
    let mut t = s("héllo");
    assert_eq!(ok(method(&mut t, "slice", &[i(1), i(3)])), s("él"));
    assert_eq!(ok(method(&mut t, "slice", &[i(-2)])), s("lo"));
    assert_eq!(ok(method(&mut t, "slice", &[i(-100), i(100)])), s("héllo"));
    assert_eq!(ok(method(&mut t, "slice", &[i(4), i(2)])), s(""));
    assert_eq!(ok(method(&mut t, "slice", &[i(5)])), s(""));
    assert_eq!(
        ok(method(&mut s("hello"), "slice", &[i(1), i(-1)])),
        s("ell")
    );
    assert_eq!(kind(method(&mut t, "slice", &[])), ErrorKind::TypeError);
    assert_eq!(
        kind(method(&mut t, "slice", &[f(1.0)])),
        ErrorKind::TypeError
    );
}
