use super::super::io::{print_line, strip_line_ending};
use super::*;

#[test]
fn print_lines_are_space_separated() {
    assert_eq!(print_line(&[]), "\n");
    assert_eq!(
        print_line(&[s("hi"), i(42), f(3.0), Value::Nil]),
        "hi 42 3.0 nil\n"
    );
    assert_eq!(
        print_line(&[l(vec![s("a")]), Value::Bool(true)]),
        "[\"a\"] true\n"
    );
    assert_eq!(ok(call("print", &[])), Value::Nil);
}

#[test]
fn input_line_endings() {
    assert_eq!(strip_line_ending("abc\n".into()), "abc");
    assert_eq!(strip_line_ending("abc\r\n".into()), "abc");
    assert_eq!(strip_line_ending("abc".into()), "abc");
    assert_eq!(strip_line_ending("a\n\n".into()), "a\n");
    assert_eq!(kind(call("input", &[s("a"), s("b")])), ErrorKind::TypeError);
}

/// A fresh directory under the system temp dir, removed with its files
/// when dropped, also when the test fails.
fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("weft-stdlib-test-")
        .tempdir()
        .unwrap()
}

fn temp_path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).to_string_lossy().into_owned()
}

#[test]
fn write_then_read_a_file() {
    let dir = temp_dir();
    let path = temp_path(&dir, "round-trip.txt");
    assert_eq!(
        ok(call("write_file", &[s(&path), s("héllo\nworld\n")])),
        Value::Nil
    );
    assert_eq!(ok(call("read_file", &[s(&path)])), s("héllo\nworld\n"));
    ok(call("write_file", &[s(&path), s("")]));
    assert_eq!(ok(call("read_file", &[s(&path)])), s(""));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn file_errors_name_the_path_and_reason() {
    let dir = temp_dir();
    let path = temp_path(&dir, "does-not-exist.txt");
    let (k, msg) = err(call("read_file", &[s(&path)]));
    assert_eq!(k, ErrorKind::IOError);
    assert!(msg.contains(&path) && msg.contains("No such file"), "{msg}");
    assert!(!msg.contains("os error"), "{msg}");

    let dir_path = temp_path(&dir, "no-such-dir/x.txt");
    let (k, msg) = err(call("write_file", &[s(&dir_path), s("x")]));
    assert_eq!(k, ErrorKind::IOError);
    assert!(
        msg.contains("cannot write") && msg.contains("no-such-dir"),
        "{msg}"
    );

    let bin = temp_path(&dir, "binary.dat");
    std::fs::write(&bin, [0xff, 0xfe, 0x00]).unwrap();
    assert_eq!(kind(call("read_file", &[s(&bin)])), ErrorKind::IOError);
    std::fs::remove_file(&bin).unwrap();

    assert_eq!(kind(call("read_file", &[i(1)])), ErrorKind::TypeError);
    assert_eq!(kind(call("write_file", &[s(&path)])), ErrorKind::TypeError);
    assert_eq!(
        kind(call("write_file", &[s(&path), i(1)])),
        ErrorKind::TypeError
    );
    assert!(!std::path::Path::new(&path).exists());
}
