//! Limits a script can reach, checked through the `weft` binary because
//! getting them wrong kills the process (a signal, an abort, the OOM
//! killer) rather than failing an assertion: huge allocations, deeply
//! nested data, self-referencing atoms, closed pipes, very long scripts.
//! Every run has a time limit, so a regression fails instead of hanging
//! (or eating the machine's memory for long).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `weft -e CODE` with `WEFT_WORKERS=workers`.
fn eval(code: &str, workers: &str, limit: Duration) -> common::Run {
    common::weft_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["-e", code],
        &[("WEFT_WORKERS", workers)],
        "",
        limit,
    )
}

/// `weft script | head -1`: once the reader is gone, the script stops at its
/// next `print`, quietly and with status 0.
#[test]
fn closed_stdout_ends_the_script_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["-e", "let i = 0\nwhile true { print(i); i += 1 }"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft starts");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("a first line");
    assert_eq!(first, "0\n");
    drop(out); // the reader goes away, as `head -1` does
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("weft kept running after its stdout was closed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().expect("stderr"), &mut err)
        .expect("stderr");
    assert_eq!(status.code(), Some(0), "stderr: {err}");
    assert_eq!(err, "", "nothing is reported on stderr");
}

/// A task printing to a closed pipe ends the script the same way.
#[test]
fn closed_stdout_in_a_task_ends_the_script_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args([
            "-e",
            "await(spawn(fn() { let i = 0\nwhile true { print(i); i += 1 } }))",
        ])
        .env("WEFT_WORKERS", "2")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft starts");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("a first line");
    drop(out);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("weft kept running after its stdout was closed");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(status.code(), Some(0));
}

/// Builders whose size the script chooses: one that cannot fit in memory is
/// a catchable `MemoryError`, raised before anything is allocated (so it
/// comes at once, and the machine's memory is untouched), also in a task.
#[test]
fn impossible_allocations_are_memory_errors() {
    let cases = [
        r#""a" * 10**12"#,
        "[1] * 10**12",
        "[1, 2] * (10**12 // 2)",
        "range(10**11).map(fn(x) { x })",
        "list(range(10**11))",
        "sorted(range(10**11))",
        "enumerate(range(10**11))",
        "zip(range(10**11), range(10**11))",
        "parallel_map(range(10**11), fn(x) { x })",
        r#"(["a"] * 10**6).join("x" * 10**7)"#,
        r#"("ab" * 10**6).replace("a", "x" * 10**7)"#,
        r#"format("{:1000000000000}", 1)"#,
        r#"format("{:.1000000000000f}", 1.5)"#,
        "await(spawn(fn() { [nil] * 10**12 }))",
        "channel().send_batch(range(10**12))",
    ];
    let mut script = String::from(
        "fn try_it(f) { try { f(); \"no error\" } catch e { \
         e.kind + \" \" + str(e.message.starts_with(\"cannot allocate\")) } }\n",
    );
    for c in cases {
        script.push_str(&format!("print(try_it(fn() {{ {c} }}))\n"));
    }
    let start = Instant::now();
    let run = eval(&script, "2", Duration::from_secs(20));
    let want = "MemoryError true\n".repeat(cases.len());
    assert_eq!(run.stdout, want, "stderr: {}", run.stderr);
    assert_eq!(run.status, 0);
    // Nothing was allocated: no page of a terabyte was touched.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

/// A count whose size does not even fit the address space is an
/// `OverflowError`, as in Python; a size the machine could never hold but
/// the address space could is a `MemoryError`.
#[test]
fn sizes_beyond_the_address_space_are_overflow_errors() {
    let run = eval(
        "for c in [fn() { [1, 2] * 2**62 }, fn() { \"ab\" * 2**62 }, fn() { [0] * 2**40 }] {\n\
         try { c() } catch e { print(e.kind) } }",
        "1",
        Duration::from_secs(20),
    );
    assert_eq!(
        run.stdout, "OverflowError\nOverflowError\nMemoryError\n",
        "{}",
        run.stderr
    );
}

/// JSON text can be far bigger than the value it writes (shared items are
/// written once per reference; indentation grows with depth): the writer
/// checks its buffer's growth against the memory left, so output too big
/// for the machine is a `MemoryError`, never an abort or the OOM killer.
/// Run under `ulimit -v` (1 GB of address space, and a little more per
/// worker), where a failed
/// allocation would abort the process at once, so the test is quick and
/// touches little memory; every case here would need gigabytes or more.
#[test]
fn json_output_too_big_for_memory_is_a_memory_error() {
    let code = r#"
let s = "ab" * 2**24
let x = [s]
for i in range(30) { x = [x, x] }
try { json.stringify(x) } catch e { print(e.kind, e.message.slice(0, 33)) }
try { json.stringify(range(10**11)) } catch e { print(e.kind) }
let m = {}
for i in range(20000) { m = {k: m} }
try { json.stringify(m, 1024) } catch e { print(e.kind) }
print(await(spawn(fn() { try { json.stringify([x, x]) } catch e { e.kind } })))
print(len(json.stringify(m)), json.stringify([s.slice(0, 4), 1]))
"#;
    for workers in [1, 2, 8] {
        // Each worker thread reserves some address space of its own.
        let limit_kb = (1_000_000 + 128_000 * workers).to_string();
        let workers = workers.to_string();
        let start = Instant::now();
        let out = Command::new("sh")
            .args([
                "-c",
                "ulimit -v $2 && exec timeout 60 \"$0\" -e \"$1\"",
                env!("CARGO_BIN_EXE_weft"),
                code,
                &limit_kb,
            ])
            .env("WEFT_WORKERS", &workers)
            // mimalloc reserves address space 1 GiB at a time by default.
            .env("MIMALLOC_ARENA_RESERVE", "64M")
            .output()
            .expect("sh runs");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "WEFT_WORKERS={workers}: {stderr}"
        );
        assert_eq!(
            stdout,
            "MemoryError json.stringify(): cannot allocate\n\
             MemoryError\n\
             MemoryError\n\
             MemoryError\n\
             120002 [\"abab\",1]\n",
            "WEFT_WORKERS={workers}: {stderr}"
        );
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
    }
}

/// Writes `src` to `name` in a fresh directory under the system's
/// temporary directory; the directory goes when the returned guard is
/// dropped, also when the test fails.
fn temp_script(name: &str, src: &str) -> (tempfile::TempDir, String) {
    let dir = common::temp_dir("weft-limits-");
    std::fs::write(dir.path().join(name), src).expect("write script");
    (dir, name.to_string())
}

/// Runs a script file (from [`temp_script`]) through the binary; the
/// caller's guard removes its directory after.
fn run_file((dir, name): &(tempfile::TempDir, String)) -> common::Run {
    common::weft_in(dir.path(), &[name], &[], "", Duration::from_secs(60))
}

/// A long generated script (100,000 distinct constants, field names and
/// method calls in one function) compiles and runs: constants past the
/// first 65,536 are loaded with a wide instruction.
#[test]
fn generated_scripts_with_many_constants_run() {
    let n = 100_000;
    let mut src = String::from("fn build() {\n  let m = {}\n  let xs = []\n");
    for i in 0..n {
        src.push_str(&format!("  xs.push(\"s{i}\")\n  m.k{i} = {i}.5\n"));
    }
    // Reads of fields whose names come last, and a comparison with a big
    // constant past the narrow range.
    src.push_str("  let big = 0\n  if len(xs) < 98765432109876 { big = 1 }\n");
    src.push_str(&format!(
        "  [len(xs), xs[{}], len(m), m.k{}, m.k7, big]\n}}\nprint(build())\n",
        n - 1,
        n - 1
    ));
    let run = run_file(&temp_script("many_constants.weft", &src));
    assert_eq!(
        run.stdout,
        format!("[{n}, \"s{}\", {n}, {}.5, 7.5, 1]\n", n - 1, n - 1),
        "stderr: {}",
        run.stderr.chars().take(500).collect::<String>()
    );
    assert_eq!(run.status, 0);
}

/// A function with a couple of hundred locals works; past what the
/// register encoding holds, the error says what to do in the user's terms.
#[test]
fn many_locals_work_and_too_many_are_explained() {
    let function = |n: usize| {
        let mut src = String::from("fn f() {\n");
        for i in 0..n {
            src.push_str(&format!("  let a{i} = {i}\n"));
        }
        src.push_str(&format!("  a0 + a{}\n}}\nprint(f())\n", n - 1));
        src
    };
    let run = run_file(&temp_script("locals_ok.weft", &function(240)));
    assert_eq!(run.stdout, "239\n", "{}", run.stderr);
    let run = run_file(&temp_script("locals_too_many.weft", &function(300)));
    assert_eq!(run.status, 1);
    assert!(
        run.stderr
            .contains("locals_too_many.weft:257:3: error: this function keeps more than 255 values live at once (local variables and intermediate results)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("register"), "{}", run.stderr);
}

/// More top-level variables than a file can hold: the error names the
/// limit in the script's terms.
#[test]
fn too_many_top_level_variables_are_explained() {
    let mut src = String::new();
    for i in 0..70_000 {
        src.push_str(&format!("let v{i} = {i}\n"));
    }
    let run = run_file(&temp_script("many_globals.weft", &src));
    assert_eq!(run.status, 1);
    assert!(
        run.stderr
            .contains("too many top-level variables and functions in one file (at most 65,536)"),
        "{}",
        run.stderr
    );
}

/// Handle cycles are never freed (src/stdlib/handles/README.md): `--stats`
/// reports the handles still alive at exit, so a leak shows as a count
/// that grows with the work; handles without a cycle are freed.
#[test]
fn stats_report_live_handles_at_exit() {
    let script = "for i in range(1000) { let ch = channel(); ch.send(ch) }\n\
                  for i in range(500) { let a = atom(nil); a.set([a]) }\n\
                  for i in range(300) { let c = channel(); c.send(1); let b = atom([1]) }\n\
                  let t = spawn(fn() { 1 })\n\
                  fn keep() { t }\n\
                  print(await(t))";
    let run = common::weft_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["--stats", "-e", script],
        &[("WEFT_WORKERS", "2")],
        "",
        Duration::from_secs(20),
    );
    assert_eq!(
        (run.status, run.stdout.as_str()),
        (0, "1\n"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("weft: live handles at exit: 500 atoms, 1000 channels, 1 task (held by"),
        "{}",
        run.stderr
    );
    let run = common::weft_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &[
            "--stats",
            "-e",
            "for i in range(100) { let c = channel(); c.send(1) }",
        ],
        &[],
        "",
        Duration::from_secs(20),
    );
    assert!(
        run.stderr
            .contains("weft: live handles at exit: 0 atoms, 0 channels, 0 tasks\n"),
        "{}",
        run.stderr
    );
}
