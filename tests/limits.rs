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
