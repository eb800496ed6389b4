//! Ctrl-C through the real binary (ASYNC.md, "Failures, interrupts, exit"):
//! a script waiting in `sleep`, a channel, `await` or a long
//! `parallel_map` gets SIGINT; it must end with status 130, print
//! `error: Interrupted`, the main script's trace and the tasks that were
//! running, and do so quickly. A caught `Interrupted` lets the script go
//! on; a second SIGINT ends the process at once. The REPL's Ctrl-C is
//! driven through a pseudo-terminal (python3's `pty` module), as
//! rustyline needs a terminal.
//!
//! Each run has a time limit and a failure says which script hung and at
//! which step. Timings are not asserted beyond a generous bound (the
//! 100 ms target is measured in BENCHMARKS.md); the figure is printed.

#[allow(dead_code)]
mod common;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a run may take after SIGINT before the test calls it a hang.
const LIMIT: Duration = Duration::from_secs(10);

/// A bound on SIGINT-to-exit that only a real failure exceeds, even on a
/// loaded 2-core machine (the target itself is 100 ms).
const LOOSE_BOUND: Duration = Duration::from_secs(3);

use common::TempScript;

/// A fresh directory under the system temp dir, removed when dropped.
fn temp_dir() -> tempfile::TempDir {
    common::temp_dir("weft-sigint-")
}

fn script(name: &str, src: &str) -> TempScript {
    TempScript::new("weft-sigint-", name, src)
}

/// A running `weft` whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
    what: String,
}

fn start(path: &Path, workers: usize) -> Running {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.arg(path.file_name().expect("a file name"))
        .current_dir(path.parent().expect("a directory"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("WEFT_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("WEFT_WORKERS", workers.to_string());
    let mut child = cmd.spawn().expect("weft starts");
    let out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let what = format!("{} with {workers} workers", path.display());
    Running {
        child,
        lines,
        stderr,
        what,
    }
}

impl Running {
    /// Waits for the stdout line `want` (the script's "I am about to wait").
    fn expect_line(&mut self, want: &str) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            match self.lines.recv_timeout(LIMIT) {
                Ok(line) if line == want => return seen,
                Ok(line) => seen.push(line),
                Err(_) => {
                    let _ = self.child.kill();
                    panic!(
                        "{}: hung before printing {want:?} (stdout so far: {seen:?})",
                        self.what
                    );
                }
            }
        }
    }

    fn interrupt(&self) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "{}: kill -INT failed", self.what);
    }

    /// Waits for the exit; the status, the rest of stdout, stderr, and the
    /// time from `since`.
    fn finish(mut self, since: Instant, step: &str) -> (i32, Vec<String>, String, Duration) {
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait") {
                break s;
            }
            if since.elapsed() > LIMIT {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let err = self.stderr.join().unwrap_or_default();
                panic!(
                    "{}: still running {LIMIT:?} after {step} (stderr: {err})",
                    self.what
                );
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let took = since.elapsed();
        let err = self.stderr.join().unwrap_or_default();
        // The reader thread may not have read what the child printed just
        // before it exited (seen on a loaded machine: an empty `rest` with
        // status 0): take lines until it reaches the end of stdout.
        let mut rest = Vec::new();
        loop {
            match self.lines.recv_timeout(LIMIT) {
                Ok(line) => rest.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "{}: stdout still open {LIMIT:?} after the exit ({step})",
                    self.what
                ),
            }
        }
        (status.code().unwrap_or(-1), rest, err, took)
    }
}

/// Runs `src` until it prints `ready`, lets it settle into its wait, sends
/// SIGINT, and returns (status, stderr, time to exit).
fn interrupt_once(name: &str, src: &str, workers: usize) -> (i32, String, Duration) {
    let path = script(name, src);
    let mut run = start(&path, workers);
    run.expect_line("ready");
    std::thread::sleep(Duration::from_millis(200));
    run.interrupt();
    let since = Instant::now();
    let (status, _, err, took) = run.finish(since, "SIGINT");
    eprintln!("{name} [{workers} workers]: SIGINT to exit in {took:?}");
    (status, err, took)
}

fn assert_interrupted(name: &str, status: i32, err: &str, took: Duration, main_line: &str) {
    assert_eq!(status, 130, "{name}: exit status (stderr: {err})");
    assert!(err.contains("error: Interrupted"), "{name}: {err}");
    assert!(
        err.contains(&format!("at <main> ({name}.weft:{main_line}:")),
        "{name}: the main script's trace: {err}"
    );
    assert!(took < LOOSE_BOUND, "{name}: took {took:?} to stop: {err}");
}

#[test]
fn sigint_stops_a_sleep() {
    for workers in [1, 2, 8] {
        let (status, err, took) =
            interrupt_once("in_sleep", "print(\"ready\")\nsleep(60)\n", workers);
        assert_interrupted("in_sleep", status, &err, took, "2");
    }
}

#[test]
fn sigint_stops_a_channel_wait() {
    // A sender that would send much later: the wait is not a deadlock.
    let src = "let ch = channel()\nlet t = spawn(fn() { sleep(60); ch.send(1) })\nprint(\"ready\")\nch.recv()\n";
    for workers in [1, 2, 8] {
        let (status, err, took) = interrupt_once("in_channel", src, workers);
        assert_interrupted("in_channel", status, &err, took, "4");
    }
}

#[test]
fn sigint_stops_a_long_parallel_map() {
    let src = "\
fn work(x) {
  let s = 0
  for i in range(300) { s += i * x }
  return s
}
print(\"ready\")
let r = parallel_map(range(3000000), work)
print(\"never\", len(r))
";
    for workers in [1, 2, 8] {
        let (status, err, took) = interrupt_once("in_parallel_map", src, workers);
        assert_interrupted("in_parallel_map", status, &err, took, "7");
        assert!(!err.contains("never"), "{err}");
    }
}

#[test]
fn sigint_stops_a_scope_and_a_within_body() {
    // The main script waits in a scope's join for children asleep, and in
    // a `within` body's own sleep: each stops with status 130.
    let scope_src = "print(\"ready\")\nscope(fn(s) { s.spawn(fn() { sleep(60) }); s.spawn(fn() { sleep(60) }) })\n";
    let within_src = "print(\"ready\")\nwithin(3600, fn() { sleep(60) })\n";
    for workers in [1, 2, 8] {
        let (status, err, took) = interrupt_once("in_scope", scope_src, workers);
        assert_interrupted("in_scope", status, &err, took, "2");
        let (status, err, took) = interrupt_once("in_within", within_src, workers);
        assert_interrupted("in_within", status, &err, took, "2");
    }
}

#[test]
fn sigint_lists_the_tasks_that_were_running_and_where() {
    let src = "\
fn spin() {
  while true { }
}
fn nap() {
  sleep(60)
}
let a = spawn(spin)
let b = spawn(nap)
print(\"ready\")
await(b)
";
    for workers in [1, 2, 8] {
        // The report waits 50 ms for the cancelled tasks to stop, then
        // lists one that has not as "still running (not stopped yet)": on
        // a loaded machine (8 workers squeezed onto 2 busy cores) the
        // spinner may not get a core in time. That is the documented
        // fallback, not what this test is about: run again, up to 3 times.
        let run = || interrupt_once("with_tasks", src, workers);
        let (mut status, mut err, mut took) = run();
        for _ in 0..2 {
            if !err.contains("task 1 still running (not stopped yet)") {
                break;
            }
            eprintln!(
                "with_tasks [{workers} workers]: the spinner had not stopped in 50 ms; again"
            );
            (status, err, took) = run();
        }
        assert_interrupted("with_tasks", status, &err, took, "10");
        // With one worker the spinner holds it and `nap` never starts: it
        // is cancelled while queued and is not "running".
        let spin = err.find("task 1 at spin (with_tasks.weft:2:");
        assert!(spin.is_some(), "the spinning task and its line: {err}");
        assert!(
            err.contains("at <spawn> (with_tasks.weft:7:"),
            "its spawn line: {err}"
        );
        if workers > 1 {
            assert!(
                err.contains("task 2 at nap (with_tasks.weft:5:"),
                "the sleeping task: {err}"
            );
        }
        // The uncaught error comes first, then the list.
        assert!(err.find("error: Interrupted") < spin, "{err}");
        // Cancelled tasks are not "failures nobody awaited".
        assert!(!err.contains("never awaited"), "{err}");
    }
}

#[test]
fn interrupted_can_be_caught_and_the_script_goes_on() {
    let src = "\
let t = spawn(fn() { sleep(60) })
try {
  print(\"ready\")
  sleep(60)
} catch e {
  print(e.kind, e.message)
}
try { await(t) } catch e2 { }
print(\"after\", t.status())
let u = spawn(fn(x) { return x * 2 }, 21)
print(\"new task\", await(u))
print(parallel_map([1, 2, 3], fn(x) { return x + 1 }))
";
    for workers in [1, 2, 8] {
        let path = script("caught", src);
        let mut run = start(&path, workers);
        run.expect_line("ready");
        std::thread::sleep(Duration::from_millis(200));
        run.interrupt();
        let (status, out, err, _) = run.finish(Instant::now(), "SIGINT");
        assert_eq!(status, 0, "caught: {err}");
        assert_eq!(
            out,
            [
                "Interrupted interrupted by Ctrl-C (SIGINT)",
                "after cancelled",
                "new task 42",
                "[2, 3, 4]"
            ],
            "{err}"
        );
        assert_eq!(err, "", "nothing on stderr");
    }
}

#[test]
fn a_second_sigint_exits_at_once() {
    // The first SIGINT cannot reach a wait in `input()` (a blocking read);
    // the second ends the process anyway. Also after a caught one.
    let src = "print(\"ready\")\nlet line = input()\nprint(\"read\", line)\n";
    let path = script("second", src);
    let mut run = start(&path, 2);
    run.expect_line("ready");
    std::thread::sleep(Duration::from_millis(200));
    run.interrupt();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        run.child.try_wait().expect("wait").is_none(),
        "one SIGINT ended a script blocked in input()"
    );
    run.interrupt();
    let since = Instant::now();
    let (status, out, err, took) = run.finish(since, "the second SIGINT");
    eprintln!("second SIGINT to exit in {took:?}");
    assert_eq!(status, 130, "{err}");
    assert!(out.is_empty(), "{out:?}");
    assert!(err.contains("interrupted again"), "{err}");
    assert!(took < LOOSE_BOUND, "took {took:?}");

    let src = "\
try { print(\"ready\"); sleep(60) } catch e { print(\"caught\", e.kind) }
while true { }
";
    let path = script("second_after_catch", src);
    let mut run = start(&path, 2);
    run.expect_line("ready");
    std::thread::sleep(Duration::from_millis(200));
    run.interrupt();
    run.expect_line("caught Interrupted");
    run.interrupt();
    let (status, _, err, _) = run.finish(Instant::now(), "the second SIGINT");
    assert_eq!(status, 130, "{err}");
}

/// Drives the REPL in a pseudo-terminal: `keys` are typed one after the
/// other (0.5 s apart, `\x03` is Ctrl-C), then Ctrl-D. Returns the screen
/// and the saved history.
fn repl_in_pty(keys: &[&str]) -> (String, String) {
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
    assert!(
        o.status.success(),
        "REPL driver failed (a hang in the REPL?): {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let history = std::fs::read_to_string(home.path().join(".weft_history")).unwrap_or_default();
    (String::from_utf8_lossy(&o.stdout).into_owned(), history)
}

#[test]
fn repl_ctrl_c_stops_the_entry_and_keeps_the_session() {
    let (screen, history) = repl_in_pty(&[
        "fn f(x) { return x + 1 }\\r",
        "let t = spawn(fn() { sleep(60) })\\r",
        "await(t)\\r",
        "\\x03",
        "t.status()\\r",
        "parallel_map(range(3000000), fn(x) { let s = 0; for i in range(300) { s += i }; return s })\\r",
        "\\x03",
        "f(41)\\r",
    ]);
    assert_eq!(
        screen.matches("error: Interrupted").count(),
        2,
        "both entries interrupted: {screen}"
    );
    assert!(screen.contains("\"cancelled\""), "{screen}");
    assert!(screen.contains("42"), "definitions kept: {screen}");
    assert!(
        screen.contains("[exit 0]"),
        "the REPL ends normally: {screen}"
    );
    assert!(history.contains("await(t)"), "history written: {history:?}");
    assert!(history.contains("f(41)"), "history written: {history:?}");
}

#[test]
fn ctrl_c_clears_the_progress_bar() {
    // stderr must be a terminal for the bar: run the script in a pty and
    // type Ctrl-C there (the terminal sends SIGINT).
    let path = script(
        "progress",
        "fn work(x) {\n  let s = 0\n  for i in range(300) { s += i * x }\n  return s\n}\n\
         let r = parallel_map(range(3000000), work, {\"progress\": true})\n",
    );
    let driver = r#"
import os, pty, select, sys, time
weft, script = sys.argv[1], sys.argv[2]
pid, fd = pty.fork()
if pid == 0:
    for k in list(os.environ):
        if k.startswith("WEFT_"):
            del os.environ[k]
    os.environ["TERM"] = "xterm"
    os.execv(weft, [weft, script])
out = b""
def read_for(seconds):
    global out
    end = time.time() + seconds
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                return
            if not data:
                return
            out += data
read_for(1.5)
os.write(fd, b"\x03")
read_for(5)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.stdout.write("\n[exit %d]\n" % os.waitstatus_to_exitcode(status))
"#;
    let o = Command::new("python3")
        .arg("-c")
        .arg(driver)
        .arg(env!("CARGO_BIN_EXE_weft"))
        .arg(&*path)
        .output()
        .expect("python3 runs the pty driver");
    let screen = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "driver failed (a hang?): {screen}");
    assert!(screen.contains("[exit 130]"), "{screen}");
    let error = screen.find("error: Interrupted").expect("the error");
    let last_bar = screen[..error]
        .rfind("/3,000,000")
        .expect("a bar was drawn");
    assert!(
        screen[last_bar..error].contains("\x1b[2K"),
        "the bar's line is cleared before the error: {:?}",
        &screen[last_bar..error]
    );
}
