//! Golden tests: every `tests/scripts/**/*.weft` is run through the `weft`
//! binary and its stdout, stderr and exit status are checked against the
//! files beside it. See `tests/scripts/README.md` for the conventions:
//!
//! - `NAME.out`: expected stdout, exactly (missing: stdout must be empty);
//! - `NAME.status`: expected exit status (missing: 0);
//! - `NAME.err`: lines that must occur in stderr, in order (missing and
//!   status 0: stderr must be empty);
//! - `NAME.args`: command-line arguments, one per line;
//! - `NAME.stdin`: standard input (missing: empty);
//! - `NAME.env`: extra environment variables, `KEY=VALUE` per line, where
//!   `$DIR` stands for the script's directory (absolute).
//!
//! Files whose name starts with `_` are modules imported by other scripts and
//! are not run on their own. Scripts under a directory named `async` or
//! `channels` run three times, with `WEFT_WORKERS` = 1, 2 and 8.
//! `WEFT_GOLDEN_FILTER=substring` runs only the scripts whose path (relative
//! to `tests/scripts`) contains the substring.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// How long one run of one script may take before it is killed.
const TIMEOUT: Duration = Duration::from_secs(20);

/// Worker counts used for scripts under `async/` and `channels/`.
const WORKER_COUNTS: [&str; 3] = ["1", "2", "8"];

/// Directory names whose scripts run once per entry of [`WORKER_COUNTS`].
const MULTI_WORKER_DIRS: [&str; 2] = ["async", "channels"];

/// Lines of diff shown per failing stream.
const MAX_DIFF_LINES: usize = 40;

/// One run of one script: the script and the `WEFT_WORKERS` it runs with.
struct Job {
    script: PathBuf,
    workers: Option<&'static str>,
}

/// What a script is expected to do, read from the files beside it.
struct Expectation {
    stdout: String,
    status: i32,
    err_lines: Option<String>,
    args: Vec<String>,
    stdin: Vec<u8>,
    env: Vec<(String, String)>,
}

/// What a finished run produced.
struct Outcome {
    stdout: String,
    stderr: String,
    status: Option<ExitStatus>,
    timed_out: bool,
}

fn scripts_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("scripts")
}

/// All `.weft` scripts under `dir`, sorted, skipping `_module.weft` files.
fn collect_scripts(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_scripts(&path, out);
        } else if is_script(&path) {
            out.push(path);
        }
    }
}

fn is_script(path: &Path) -> bool {
    let is_weft = path.extension().is_some_and(|e| e == "weft");
    let is_module = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('_'));
    is_weft && !is_module
}

fn needs_multi_worker_runs(relative: &Path) -> bool {
    relative.components().any(|c| {
        let c = c.as_os_str().to_string_lossy();
        MULTI_WORKER_DIRS.iter().any(|d| *d == c)
    })
}

fn sibling(script: &Path, ext: &str) -> PathBuf {
    script.with_extension(ext)
}

fn read_optional(path: &Path) -> Result<Option<String>, String> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| format!("{} is not UTF-8", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn load_expectation(script: &Path) -> Result<Expectation, String> {
    let stdout = read_optional(&sibling(script, "out"))?.unwrap_or_default();
    let status = match read_optional(&sibling(script, "status"))? {
        None => 0,
        Some(text) => text.trim().parse::<i32>().map_err(|_| {
            format!(
                "{}: not an integer: {text:?}",
                sibling(script, "status").display()
            )
        })?,
    };
    let err_lines = read_optional(&sibling(script, "err"))?;
    let args = read_optional(&sibling(script, "args"))?
        .map(|text| text.lines().map(str::to_string).collect())
        .unwrap_or_default();
    let stdin = fs::read(sibling(script, "stdin")).unwrap_or_default();
    let env = match read_optional(&sibling(script, "env"))? {
        None => Vec::new(),
        Some(text) => {
            let dir = script.parent().map(absolute).unwrap_or_default();
            parse_env(&text, &dir.to_string_lossy())
                .map_err(|e| format!("{}: {e}", sibling(script, "env").display()))?
        }
    };
    Ok(Expectation {
        stdout,
        status,
        err_lines,
        args,
        stdin,
        env,
    })
}

fn absolute(path: &Path) -> PathBuf {
    fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Parses `KEY=VALUE` lines (blank lines and `#` comments skipped), with
/// `$DIR` in a value replaced by `dir`.
fn parse_env(text: &str, dir: &str) -> Result<Vec<(String, String)>, String> {
    let mut vars = Vec::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| format!("not KEY=VALUE: {line:?}"))?;
        let key = key.trim();
        if key.is_empty() {
            return Err(format!("empty variable name: {line:?}"));
        }
        vars.push((key.to_string(), value.replace("$DIR", dir)));
    }
    Ok(vars)
}

/// Reads a pipe to the end on its own thread.
fn drain<R: Read + Send + 'static>(mut pipe: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> (Option<ExitStatus>, bool) {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return (Some(status), false),
            Ok(None) if start.elapsed() >= timeout => {
                let _ = child.kill();
                let status = child.wait().ok();
                return (status, true);
            }
            Ok(None) => thread::sleep(Duration::from_millis(5)),
            Err(_) => return (None, false),
        }
    }
}

fn run_script(job: &Job, exp: &Expectation) -> Result<Outcome, String> {
    let dir = job
        .script
        .parent()
        .ok_or("script has no parent directory")?;
    let file = job.script.file_name().ok_or("script has no file name")?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.arg(file)
        .args(&exp.args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // Isolate the run from the caller's Weft configuration.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("WEFT_") {
            cmd.env_remove(&key);
        }
    }
    for (key, value) in &exp.env {
        cmd.env(key, value);
    }
    if let Some(workers) = job.workers {
        cmd.env("WEFT_WORKERS", workers);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", env!("CARGO_BIN_EXE_weft")))?;
    let stdin = child.stdin.take();
    let input = exp.stdin.clone();
    let feeder = thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            // The script may exit without reading its input; that is fine.
            let _ = stdin.write_all(&input);
        }
    });
    let out = drain(child.stdout.take().ok_or("no stdout pipe")?);
    let err = drain(child.stderr.take().ok_or("no stderr pipe")?);
    let (status, timed_out) = wait_with_timeout(&mut child, TIMEOUT);
    let _ = feeder.join();
    let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    Ok(Outcome {
        stdout,
        stderr,
        status,
        timed_out,
    })
}

/// Checks that each non-empty line of `expected` occurs in `actual`, in order.
///
/// Each expected line (trailing whitespace ignored) is searched for as a
/// substring of one line of `actual`, starting just after where the previous
/// expected line was found (so several expected lines may match within the
/// same actual line, left to right). On failure, says which line was missing.
fn match_err_lines(expected: &str, actual: &str) -> Result<(), String> {
    let lines: Vec<&str> = actual.lines().collect();
    // Cursor: (line index, byte offset within that line).
    let (mut line, mut col) = (0usize, 0usize);
    for (n, want) in expected.lines().enumerate() {
        let want = want.trim_end();
        if want.is_empty() {
            continue;
        }
        let mut found = false;
        while line < lines.len() {
            let rest = &lines[line][col..];
            if let Some(at) = rest.find(want) {
                col += at + want.len();
                found = true;
                break;
            }
            line += 1;
            col = 0;
        }
        if !found {
            return Err(format!(
                "line {} of .err not found in stderr (in order): {want:?}",
                n + 1
            ));
        }
    }
    Ok(())
}

/// A line diff of `expected` against `actual` (`-` expected, `+` actual),
/// showing only changed lines with one line of context, at most `max` lines.
fn line_diff(expected: &str, actual: &str, max: usize) -> String {
    let a: Vec<&str> = expected.split_inclusive('\n').collect();
    let b: Vec<&str> = actual.split_inclusive('\n').collect();
    let ops = diff_ops(&a, &b);
    let changed: Vec<bool> = ops
        .iter()
        .map(|op| !matches!(op, DiffOp::Same(_)))
        .collect();
    let mut out = String::new();
    let mut shown = 0;
    let mut skipped = false;
    for (i, op) in ops.iter().enumerate() {
        let near_change =
            changed[i] || (i > 0 && changed[i - 1]) || (i + 1 < changed.len() && changed[i + 1]);
        if !near_change {
            skipped = true;
            continue;
        }
        if skipped {
            out.push_str("  ...\n");
            skipped = false;
        }
        if shown == max {
            out.push_str("  ... (diff cut)\n");
            break;
        }
        shown += 1;
        let (mark, text) = match op {
            DiffOp::Same(t) => (' ', *t),
            DiffOp::Del(t) => ('-', *t),
            DiffOp::Add(t) => ('+', *t),
        };
        let _ = writeln!(out, "{mark} {}", show_line(text));
    }
    out
}

/// A line as shown in a diff: escaped, with a missing final newline marked.
fn show_line(text: &str) -> String {
    match text.strip_suffix('\n') {
        Some(body) => format!("{body:?}"),
        None => format!("{text:?} (no newline at end)"),
    }
}

#[derive(Debug, PartialEq)]
enum DiffOp<'a> {
    Same(&'a str),
    Del(&'a str),
    Add(&'a str),
}

/// Longest-common-subsequence line diff (inputs here are small).
fn diff_ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<DiffOp<'a>> {
    const LIMIT: usize = 4_000_000;
    if a.len().saturating_mul(b.len()) > LIMIT {
        // Too big for the table: show everything as replaced.
        let mut ops: Vec<DiffOp> = a.iter().map(|l| DiffOp::Del(l)).collect();
        ops.extend(b.iter().map(|l| DiffOp::Add(l)));
        return ops;
    }
    let (n, m) = (a.len(), b.len());
    // lcs[i][j] = LCS length of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(DiffOp::Same(a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(DiffOp::Del(a[i]));
            i += 1;
        } else {
            ops.push(DiffOp::Add(b[j]));
            j += 1;
        }
    }
    ops
}

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("    {l}\n")).collect()
}

/// Compares one outcome with its expectation; returns every difference.
fn check(exp: &Expectation, got: &Outcome) -> Vec<String> {
    let mut problems = Vec::new();
    if got.timed_out {
        problems.push(format!(
            "timed out after {} s and was killed",
            TIMEOUT.as_secs()
        ));
    }
    match got.status.and_then(|s| s.code()) {
        Some(code) if code == exp.status => {}
        Some(code) => problems.push(format!("exit status {code}, expected {}", exp.status)),
        None if !got.timed_out => problems.push(format!(
            "killed by a signal ({:?}), expected status {}",
            got.status, exp.status
        )),
        None => {}
    }
    if got.stdout != exp.stdout {
        problems.push(format!(
            "stdout differs (- expected, + actual):\n{}",
            indent(&line_diff(&exp.stdout, &got.stdout, MAX_DIFF_LINES))
        ));
    }
    match &exp.err_lines {
        Some(want) => {
            if let Err(msg) = match_err_lines(want, &got.stderr) {
                problems.push(msg);
            }
        }
        None if exp.status == 0 && !got.stderr.is_empty() => {
            problems.push("stderr should be empty".to_string());
        }
        None => {}
    }
    if !problems.is_empty() && !got.stderr.is_empty() {
        let shown: String = got
            .stderr
            .lines()
            .take(12)
            .map(|l| format!("{l}\n"))
            .collect();
        problems.push(format!("stderr was:\n{}", indent(&shown)));
    }
    problems
}

fn run_job(job: &Job, root: &Path) -> Option<String> {
    let name = job
        .script
        .strip_prefix(root)
        .unwrap_or(&job.script)
        .display()
        .to_string();
    let label = match job.workers {
        Some(w) => format!("{name} [WEFT_WORKERS={w}]"),
        None => name,
    };
    let result = load_expectation(&job.script).and_then(|exp| {
        let got = run_script(job, &exp)?;
        Ok(check(&exp, &got))
    });
    match result {
        Ok(problems) if problems.is_empty() => None,
        Ok(problems) => Some(format!("FAIL {label}\n{}", indent(&problems.join("\n")))),
        Err(msg) => Some(format!("FAIL {label}\n    {msg}\n")),
    }
}

#[test]
fn golden_scripts() {
    let root = scripts_root();
    let mut scripts = Vec::new();
    collect_scripts(&root, &mut scripts);
    assert!(!scripts.is_empty(), "no scripts under {}", root.display());
    let filter = std::env::var("WEFT_GOLDEN_FILTER").ok();
    let mut jobs = Vec::new();
    for script in scripts {
        let relative = script.strip_prefix(&root).unwrap_or(&script).to_path_buf();
        if let Some(f) = &filter {
            if !relative.to_string_lossy().contains(f.as_str()) {
                continue;
            }
        }
        if needs_multi_worker_runs(&relative) {
            for w in WORKER_COUNTS {
                jobs.push(Job {
                    script: script.clone(),
                    workers: Some(w),
                });
            }
        } else {
            jobs.push(Job {
                script,
                workers: None,
            });
        }
    }
    assert!(
        !jobs.is_empty(),
        "WEFT_GOLDEN_FILTER={filter:?} matches no script"
    );

    let threads = thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, 8);
    let next = AtomicUsize::new(0);
    let failures: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                if let Some(report) = run_job(job, &root) {
                    failures
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push((i, report));
                }
            });
        }
    });
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|(i, _)| *i);
    if !failures.is_empty() {
        let mut report = String::new();
        for (_, f) in &failures {
            report.push_str(f);
            report.push('\n');
        }
        eprintln!("{report}");
        panic!(
            "{} of {} golden runs failed (see above)",
            failures.len(),
            jobs.len()
        );
    }
    eprintln!("{} golden runs passed", jobs.len());
}

#[test]
fn harness_err_lines_match_in_order() {
    let stderr = "t.weft:3:5: error: undefined name 'foo'\n  print(foo)\n        ^\n";
    assert!(match_err_lines("t.weft:3:5: error:\n'foo'\n", stderr).is_ok());
    assert!(match_err_lines("\nt.weft:3:5: error:\n\n^\n", stderr).is_ok());
    assert!(match_err_lines("", stderr).is_ok());
    // Trailing whitespace (e.g. CRLF files) is ignored.
    assert!(match_err_lines("t.weft:3:5: error:  \r\n", stderr).is_ok());
}

#[test]
fn harness_err_lines_report_missing_or_out_of_order() {
    let stderr = "error: KeyError: 'zz'\n  at f (a.weft:2:3)\n  at <main> (a.weft:5:1)\n";
    let err = match_err_lines("error: KeyError:\nat g (a.weft", stderr).unwrap_err();
    assert!(
        err.contains("line 2") && err.contains("at g (a.weft"),
        "{err}"
    );
    // Present, but before the previous match: out of order.
    let err = match_err_lines("at <main>\nat f (", stderr).unwrap_err();
    assert!(err.contains("line 2"), "{err}");
    // Within one line, order matters too.
    assert!(match_err_lines("'zz'\nKeyError", stderr).is_err());
    assert!(match_err_lines("KeyError\n'zz'", stderr).is_ok());
    assert!(match_err_lines("x", "").is_err());
}

#[test]
fn harness_diff_marks_changed_lines() {
    let d = line_diff("a\nb\nc\n", "a\nB\nc\n", 40);
    assert_eq!(d, "  \"a\"\n- \"b\"\n+ \"B\"\n  \"c\"\n");
    let d = line_diff("x\n", "x", 40);
    assert_eq!(d, "- \"x\"\n+ \"x\" (no newline at end)\n");
    let d = line_diff("", "extra\n", 40);
    assert_eq!(d, "+ \"extra\"\n");
    // Far-away unchanged lines are elided.
    let d = line_diff("1\n2\n3\n4\n5\n", "1\n2\n3\n4\n6\n", 40);
    assert_eq!(d, "  ...\n  \"4\"\n- \"5\"\n+ \"6\"\n");
    // Output is capped.
    let long_a: String = (0..100).map(|i| format!("{i}\n")).collect();
    let d = line_diff(&long_a, "", 10);
    assert_eq!(d.lines().count(), 11);
    assert!(d.ends_with("(diff cut)\n"));
}

#[test]
fn harness_check_reports_each_difference() {
    let exp = Expectation {
        stdout: "1\n".into(),
        status: 0,
        err_lines: None,
        args: vec![],
        stdin: vec![],
        env: vec![],
    };
    let ok = Outcome {
        stdout: "1\n".into(),
        stderr: String::new(),
        status: exit_status(0),
        timed_out: false,
    };
    assert!(check(&exp, &ok).is_empty());
    let bad = Outcome {
        stdout: "2\n".into(),
        stderr: "oops\n".into(),
        status: exit_status(1),
        timed_out: false,
    };
    let problems = check(&exp, &bad).join("\n");
    assert!(problems.contains("exit status 1, expected 0"), "{problems}");
    assert!(problems.contains("stdout differs"), "{problems}");
    assert!(problems.contains("stderr should be empty"), "{problems}");
    assert!(problems.contains("oops"), "{problems}");

    let exp_err = Expectation {
        stdout: String::new(),
        status: 1,
        err_lines: Some("error: KeyError:\n".into()),
        args: vec![],
        stdin: vec![],
        env: vec![],
    };
    let got = Outcome {
        stdout: String::new(),
        stderr: "error: IndexError: x\n".into(),
        status: exit_status(1),
        timed_out: false,
    };
    let problems = check(&exp_err, &got).join("\n");
    assert!(problems.contains("not found in stderr"), "{problems}");
    let got = Outcome {
        stdout: String::new(),
        stderr: "error: KeyError: x\n".into(),
        status: exit_status(1),
        timed_out: false,
    };
    assert!(check(&exp_err, &got).is_empty());
}

#[test]
fn harness_finds_scripts_and_worker_dirs() {
    assert!(is_script(Path::new("a/b.weft")));
    assert!(!is_script(Path::new("a/_mod.weft")));
    assert!(!is_script(Path::new("a/b.out")));
    assert!(needs_multi_worker_runs(Path::new("async/spawn.weft")));
    assert!(needs_multi_worker_runs(Path::new("x/channels/c.weft")));
    assert!(!needs_multi_worker_runs(Path::new("asyncish/c.weft")));
}

/// A real exit status with the given code, from running a shell.
fn exit_status(code: i32) -> Option<ExitStatus> {
    Command::new("sh")
        .arg("-c")
        .arg(format!("exit {code}"))
        .status()
        .ok()
}

#[test]
fn harness_timeout_kills_a_hung_child() {
    let Ok(mut child) = Command::new("sleep").arg("30").spawn() else {
        return; // no `sleep` on this machine: nothing to check
    };
    let (status, timed_out) = wait_with_timeout(&mut child, Duration::from_millis(100));
    assert!(timed_out);
    assert!(status.is_some_and(|s| s.code().is_none()), "{status:?}");
    let mut quick = Command::new("true")
        .spawn()
        .expect("`true` runs where `sleep` does");
    let (status, timed_out) = wait_with_timeout(&mut quick, Duration::from_secs(20));
    assert!(!timed_out);
    assert_eq!(status.and_then(|s| s.code()), Some(0));
}

#[test]
fn harness_env_files_parse() {
    let vars = parse_env("# comment\n\nWEFT_PATH=$DIR/lib\nA = x=y\n", "/s").unwrap();
    assert_eq!(
        vars,
        vec![
            ("WEFT_PATH".to_string(), "/s/lib".to_string()),
            ("A".to_string(), " x=y".to_string())
        ]
    );
    assert!(parse_env("NOEQUALS\n", "/s")
        .unwrap_err()
        .contains("NOEQUALS"));
    assert!(parse_env("=v\n", "/s").is_err());
}
