//! The `weft` command line: -e, files, argument passthrough, exit codes,
//! --version, and the REPL fed from a pipe.

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

fn temp_script(name: &str, src: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("weft-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(format!("{name}.weft"));
    std::fs::write(&path, src).expect("write script");
    path
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
fn repl_reads_a_pipe() {
    let input = "let x = 2\nx * 21\nfn f(a) {\n  a + 1\n}\nf(x)\n\"s\"\nprint(\"printed\")\nundefined_thing\n[1, 2][5]\nx\n";
    let o = weft_stdin(&[], input);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(out(&o), "42\n3\n\"s\"\nprinted\n2\n");
    let e = err(&o);
    assert!(e.contains("undefined name 'undefined_thing'"), "{e}");
    assert!(e.contains("error: IndexError: "), "{e}");
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
