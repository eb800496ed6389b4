//! The `weft` command line: -e, files, argument passthrough, exit codes,
//! --version, and the REPL fed from a pipe.

#[allow(dead_code)]
mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .output()
        .expect("weft runs")
}

fn weft_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("weft finishes")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

use common::TempScript;

/// A fresh directory under the system temp dir, removed when dropped.
fn temp_dir() -> tempfile::TempDir {
    common::temp_dir("weft-cli-")
}

fn temp_script(name: &str, src: &str) -> TempScript {
    TempScript::new("weft-cli-", name, src)
}

#[test]
fn eval_prints_and_exits_zero() {
    let o = weft(&["-e", "print(1 + 2, \"ok\")"]);
    assert_eq!(out(&o), "3 ok\n");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn eval_passes_arguments() {
    let o = weft(&["-e", "print(args())", "x", "--y", "-z"]);
    assert_eq!(out(&o), "[\"x\", \"--y\", \"-z\"]\n");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn file_runs_with_arguments_that_look_like_flags() {
    let p = temp_script("args", "print(len(args()), args())\n");
    let o = weft(&[p.to_str().expect("utf-8 path"), "a", "--flag", "-e", "b"]);
    assert_eq!(out(&o), "4 [\"a\", \"--flag\", \"-e\", \"b\"]\n");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn uncaught_error_prints_kind_message_and_trace() {
    let p = temp_script("fail", "fn f(x) {\n  x + nil\n}\nf(1)\n");
    let o = weft(&[p.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    let lines: Vec<&str> = e.lines().collect();
    assert!(lines[0].starts_with("error: TypeError: "), "{e}");
    assert!(
        lines[1].starts_with("  at f (") && lines[1].ends_with("fail.weft:2:5)"),
        "{e}"
    );
    assert!(
        lines[2].starts_with("  at <main> (") && lines[2].ends_with("fail.weft:4:2)"),
        "{e}"
    );
}

#[test]
fn compile_error_exits_one_before_running() {
    let o = weft(&["-e", "print(\"ran\")\nprint(nope)"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "", "nothing ran");
    assert_eq!(
        err(&o),
        "<eval>:2:7: error: undefined name 'nope'\n    print(nope)\n          ^\n"
    );
}

#[test]
fn syntax_error_exits_one() {
    let o = weft(&["-e", "let = 3"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).starts_with("<eval>:1:5: error:"), "{}", err(&o));
}

#[test]
fn exit_with_a_code() {
    let o = weft(&["-e", "print(\"before\")\nexit(7)\nprint(\"after\")"]);
    assert_eq!(o.status.code(), Some(7));
    assert_eq!(out(&o), "before\n");
}

#[test]
fn usage_errors_exit_two() {
    let o = weft(&["--no-such-flag"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("--no-such-flag"), "{}", err(&o));
    let o = weft(&["/no/such/file.weft"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("/no/such/file.weft"), "{}", err(&o));
}

#[test]
fn version_and_help() {
    let o = weft(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(out(&o), format!("weft {}\n", env!("CARGO_PKG_VERSION")));
    let o = weft(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(out(&o).contains("-e <CODE>"), "{}", out(&o));
}

#[test]
fn imports_resolve_next_to_the_script_and_run_once() {
    let p = temp_script(
        "main",
        "import \"helper\"\nimport \"helper\" as h\nprint(helper.twice(4), h.count)\n",
    );
    std::fs::write(
        p.with_file_name("helper.weft"),
        "print(\"loading\")\nlet count = 1\nfn twice(x) { x * 2 }\n",
    )
    .expect("write module");
    let o = weft(&[p.to_str().expect("utf-8 path")]);
    assert_eq!(out(&o), "loading\n8 1\n", "{}", err(&o));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn import_cycle_is_a_compile_error() {
    let p = temp_script("cyc_a", "import \"cyc_b\"\n");
    std::fs::write(p.with_file_name("cyc_b.weft"), "import \"cyc_a\"\n").expect("write module");
    let o = weft(&[p.to_str().expect("utf-8 path")]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    assert!(
        e.contains("import cycle: ")
            && e.contains("cyc_a.weft -> ")
            && e.contains("cyc_b.weft -> "),
        "{e}"
    );
}

#[test]
fn embedded_stdlib_module() {
    let o = weft(&["-e", "import \"functional\" as fp\nprint(fp.compose(fn(x) { x + 1 }, fn(x) { x * 2 })(5), fp.chunks(range(5), 2))"]);
    assert_eq!(out(&o), "11 [[0, 1], [2, 3], [4]]\n", "{}", err(&o));
}

#[test]
fn a_piped_stdin_is_a_script() {
    // As Python: the first uncaught error stops it (exit 1), nothing after
    // it runs, and values of expression statements are not echoed.
    let o = weft_stdin(&[], "1 // 0\nprint(\"after\")\n");
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert_eq!(out(&o), "");
    let e = err(&o);
    assert!(e.contains("error: ZeroDivisionError: "), "{e}");
    assert!(e.contains("at <main> (<stdin>:1:3)"), "{e}");
    let o = weft_stdin(
        &[],
        "let x = 2\nx * 21\nfn f(a) {\n  a + 1\n}\nprint(f(x))\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "3\n");
    // A compile error anywhere: nothing runs.
    let o = weft_stdin(&[], "print(\"ran\")\nprint(nope)\n");
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "");
    assert!(
        err(&o).starts_with("<stdin>:2:7: error: undefined name 'nope'"),
        "{}",
        err(&o)
    );
    // `weft -` reads the script from stdin too, with arguments.
    let o = weft_stdin(&["-", "a", "b"], "print(args())\n");
    assert_eq!(out(&o), "[\"a\", \"b\"]\n", "{}", err(&o));
}

#[test]
fn an_unknown_option_is_named_with_the_closest_one() {
    let p = temp_script("opt", "print(\"ran\")\n");
    let script = p.to_str().expect("utf-8 path");
    let o = weft(&["--worker", "4", script]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(out(&o), "", "nothing ran");
    assert!(
        err(&o).contains("unknown option '--worker' (did you mean '--workers'?)"),
        "{}",
        err(&o)
    );
    let o = weft(&["--stat", script]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("unknown option '--stat' (did you mean '--stats'?)"),
        "{}",
        err(&o)
    );
    let o = weft(&["--workers=2", "--frobnicate", script]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("unknown option '--frobnicate'"),
        "{}",
        err(&o)
    );
    // After the script name, options belong to the script.
    let o = weft(&["--workers=2", script, "--worker"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "ran\n");
}

#[test]
fn a_bad_trace_path_is_a_usage_error_before_running() {
    let o = weft(&["--trace", "/nonexistent/dir/t.json", "-e", "print(\"ran\")"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(out(&o), "", "the script must not run");
    assert!(err(&o).contains("/nonexistent/dir/t.json"), "{}", err(&o));
    // A good path works and is written.
    let p = temp_script("trace", "print(await(spawn(fn() { 1 })))\n");
    let trace = p.with_file_name("t.json");
    let o = weft(&["--trace", trace.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(std::fs::metadata(&trace)
        .map(|m| m.len() > 0)
        .unwrap_or(false));
}

#[test]
fn an_undefined_name_suggests_the_closest_one() {
    let o = weft(&["-e", "let total = 1\nprint(totl)"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).starts_with("<eval>:2:7: error: undefined name 'totl' (did you mean 'total'?)"),
        "{}",
        err(&o)
    );
    let o = weft(&["-e", "fn f(count) { coutn + 1 }"]);
    assert!(err(&o).contains("(did you mean 'count'?)"), "{}", err(&o));
    let o = weft(&["-e", "prnt(1)"]);
    assert!(err(&o).contains("(did you mean 'print'?)"), "{}", err(&o));
    // No hint when nothing is close.
    let o = weft(&["-e", "print(zzzzqqq)"]);
    assert!(!err(&o).contains("did you mean"), "{}", err(&o));
}

#[test]
fn invalid_utf8_is_reported_at_its_line_and_column() {
    let dir = temp_dir();
    let path = dir.path().join("bad.weft");
    std::fs::write(&path, b"print(1)\nlet s = \"ab\xffc\"\n").expect("write");
    let o = weft(&[path.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(out(&o), "", "nothing ran");
    let e = err(&o);
    assert!(
        e.contains("bad.weft:2:12: error: invalid UTF-8 (byte 0xFF)"),
        "{e}"
    );
    // Columns count characters, and stdin scripts are checked the same way.
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            "let é = 1\n\"\u{e9}\u{e9}"
                .as_bytes()
                .iter()
                .chain(b"\xc3(\"")
                .copied()
                .collect::<Vec<u8>>()
                .as_slice(),
        )
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("<stdin>:2:4: error: invalid UTF-8 (byte 0xC3)"),
        "{}",
        err(&o)
    );
}

#[test]
fn a_flat_chain_of_100000_operators_runs() {
    // Issue 15: the parser builds it without a depth limit, and the
    // compiler and the tree's drop cope with its depth.
    let src = format!(
        "print({})\nlet x = true\nprint({})\n",
        vec!["1"; 100_000].join(" + "),
        vec!["x"; 100_000].join(" and ")
    );
    let p = temp_script("chain", &src);
    let o = weft(&[p.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        &err(&o)[..err(&o).len().min(500)]
    );
    assert_eq!(out(&o), "100000\ntrue\n");
}

/// Drives the REPL through a pseudo-terminal (rustyline needs one), with
/// python3's `pty` module. Returns everything the REPL wrote and the
/// history file it saved.
fn repl_in_pty(keys: &[&str]) -> (String, String) {
    // One home per call: the REPL tests run at once, on threads of one process.
    let home = temp_dir();
    let driver = include_str!("pty_repl.py");
    let o = Command::new("python3")
        .arg("-c")
        .arg(driver)
        .arg(env!("CARGO_BIN_EXE_weft"))
        .arg(home.path())
        .args(keys)
        .output()
        .expect("python3 (with its pty module) runs the REPL test driver");
    assert!(o.status.success(), "driver failed: {}", err(&o));
    let history = std::fs::read_to_string(home.path().join(".weft_history")).unwrap_or_default();
    (out(&o), history)
}

#[test]
fn repl_history_keeps_multi_line_entries_whole_and_traces_number_entries() {
    let (screen, history) = repl_in_pty(&[
        // Entry 1, on two lines.
        "[1,\\r",
        "2 + 40]\\r",
        // Up recalls the whole entry (not just its last line): entry 2.
        "\\x1b[A",
        "\\r",
        // Entry 3 defines a function whose line 2 fails; entry 4 calls it.
        "fn f(x) {\\r",
        "  x // 0\\r",
        "}\\r",
        "f(1)\\r",
    ]);
    assert_eq!(screen.matches("[1, 42]").count(), 2, "{screen}");
    assert!(!screen.contains("unexpected ']'"), "{screen}");
    assert!(screen.contains("at f (<stdin#3>:2:5)"), "{screen}");
    assert!(screen.contains("at <main> (<stdin#4>:1:2)"), "{screen}");
    // The saved history has the two-line entry as one entry.
    assert!(history.contains("2 + 40]"), "{history:?}");
    assert!(!history.lines().any(|l| l == "2 + 40]"), "{history:?}");
}

#[test]
fn a_repl_entry_that_deadlocks_is_reported_and_the_repl_goes_on() {
    let (screen, _) = repl_in_pty(&[
        "let c = channel()\\r",
        "let t = spawn(fn() { c.recv() })\\r",
        // Nothing can ever send on this channel: Deadlock, naming task 1.
        "channel().recv()\\r",
        "print(40 + 2)\\r",
        // The task parked in entry 2 is still there, and can be woken.
        "c.send(\"woken\")\\r",
        "print(await(t))\\r",
    ]);
    assert!(screen.contains("Deadlock"), "{screen}");
    assert!(screen.contains("task 1: recv on channel 1"), "{screen}");
    let after = &screen[screen.find("Deadlock").expect("reported")..];
    assert!(after.contains("42"), "the REPL went on: {screen}");
    assert!(after.contains("woken"), "the parked task resumed: {screen}");
    assert!(screen.ends_with("[exit 0]\n"), "{screen}");
}

#[test]
fn pool_options_are_validated_before_running() {
    let o = weft(&["--workers", "0", "-e", "print(\"ran\")"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(out(&o), "");
    assert!(err(&o).contains("--workers"), "{}", err(&o));
    let o = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["-e", "print(\"ran\")"])
        .env("WEFT_WORKERS", "many")
        .output()
        .expect("weft runs");
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("WEFT_WORKERS"), "{}", err(&o));
    let o = weft(&[
        "--workers",
        "3",
        "--no-pin",
        "-e",
        "print(args())",
        "--workers",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(out(&o), "[\"--workers\"]\n");
    let o = weft(&["--config", "/no/such/weft.toml", "-e", "print(1)"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("/no/such/weft.toml"), "{}", err(&o));
}
