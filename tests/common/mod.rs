//! Helpers shared by the integration tests that run the `weft` binary.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run of `weft` produced.
pub struct Run {
    /// Exit status (-1 if killed by a signal).
    pub status: i32,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Runs `weft ARGS...` in `dir` with `env` (and no inherited `WEFT_*`),
/// feeding `stdin`; panics if it takes longer than `limit` (a hang fails
/// the test instead of blocking the suite).
pub fn weft_in(
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: &str,
    limit: Duration,
) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("WEFT_") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("cannot start weft");
    let mut input = child.stdin.take().expect("stdin");
    // The child may exit without reading (a bad config): ignore EPIPE.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("weft {args:?} {env:?} did not finish in {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        status: status.code().unwrap_or(-1),
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
    }
}

/// A fresh directory under the system temp dir whose name starts with
/// `prefix`, removed when dropped, also when the test fails. (Not every
/// test crate that includes this module uses it, nor [`TempScript`].)
#[allow(dead_code)]
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("temp dir")
}

/// A script `NAME.weft` in a fresh directory of its own (see [`temp_dir`]):
/// the directory, with whatever a test writes beside the script, goes when
/// this is dropped. Derefs to the script's path.
#[allow(dead_code)]
pub struct TempScript {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

#[allow(dead_code)]
impl TempScript {
    /// Writes `src` to `NAME.weft` in a fresh directory named `prefix...`.
    pub fn new(prefix: &str, name: &str, src: &str) -> TempScript {
        let dir = temp_dir(prefix);
        let path = dir.path().join(format!("{name}.weft"));
        std::fs::write(&path, src).expect("write script");
        TempScript { path, _dir: dir }
    }
}

impl std::ops::Deref for TempScript {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.path
    }
}
