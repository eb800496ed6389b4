//! Runs the code blocks of the user reference (`docs/*.md`), so the docs
//! stay in step with the code (TEAM.md, "Docs"):
//!
//! - a block fenced ```` ```weft ```` must exit 0; if the very next fenced
//!   block is ```` ```output ````, stdout must equal it exactly (a trailing
//!   newline ignored);
//! - ```` ```weft error ```` must exit with status 1; a following `output`
//!   block's lines must each appear in stderr, in order;
//! - ```` ```weft norun ```` is shown only.
//!
//! Each block runs as `weft -` (the script read from stdin, so traces name
//! it `<stdin>`) with the docs directory as working directory, without the
//! caller's `WEFT_*` variables, and with a 20 s limit. Every failing block
//! is reported (file, line, what differed) before the test fails.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How a `weft` block is checked.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Exit 0; stdout equals the output block, if any.
    Run,
    /// Exit 1; the output block's lines appear in stderr in order.
    Error,
    /// Not run.
    NoRun,
}

/// One `weft` code block of a page.
#[derive(Debug)]
struct Block {
    /// Line of the opening fence (1-based).
    line: usize,
    mode: Mode,
    code: String,
    output: Option<String>,
}

/// The fenced blocks of `text`: `(info string, body, line of the fence)`.
fn fences(text: &str) -> Vec<(String, String, usize)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            continue;
        };
        let mut body = String::new();
        for (_, l) in lines.by_ref() {
            if l.trim_start().starts_with("```") {
                break;
            }
            body.push_str(l);
            body.push('\n');
        }
        out.push((info.trim().to_string(), body, i + 1));
    }
    out
}

/// The `weft` blocks of a page, each with the `output` block right after it.
fn blocks(text: &str) -> Result<Vec<Block>, String> {
    let fs = fences(text);
    let mut out = Vec::new();
    for (k, (info, body, line)) in fs.iter().enumerate() {
        let mut words = info.split_whitespace();
        if words.next() != Some("weft") {
            continue;
        }
        let mode = match words.next() {
            None => Mode::Run,
            Some("error") => Mode::Error,
            Some("norun") => Mode::NoRun,
            Some(other) => return Err(format!("line {line}: unknown block tag 'weft {other}'")),
        };
        let output = fs
            .get(k + 1)
            .filter(|(info, _, _)| info == "output")
            .map(|(_, body, _)| body.clone());
        out.push(Block {
            line: *line,
            mode,
            code: body.clone(),
            output,
        });
    }
    Ok(out)
}

/// Runs `code` as `weft -` in `dir`; `(status, stdout, stderr)`, or an
/// error if it did not finish within the limit.
fn run(code: &str, dir: &Path) -> Result<(Option<i32>, String, String), String> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_weft"));
    cmd.arg("-")
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("WEFT_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd.spawn().map_err(|e| format!("cannot run weft: {e}"))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(code.as_bytes())
        .map_err(|e| format!("cannot write the block to weft: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > Duration::from_secs(20) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("hung: still running after 20 s (killed)".to_string());
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait failed: {e}")),
        }
    }
    let o = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok((
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    ))
}

/// Checks one block; `None` when it behaves as the page says.
fn check(block: &Block, dir: &Path) -> Option<String> {
    if block.mode == Mode::NoRun {
        return None;
    }
    let (status, stdout, stderr) = match run(&block.code, dir) {
        Ok(r) => r,
        Err(e) => return Some(e),
    };
    match block.mode {
        Mode::Run => {
            if status != Some(0) {
                return Some(format!(
                    "exited with {status:?}, expected 0\nstderr:\n{stderr}"
                ));
            }
            if let Some(want) = &block.output {
                if stdout.trim_end_matches('\n') != want.trim_end_matches('\n') {
                    return Some(format!(
                        "stdout differs\n--- expected\n{want}--- actual\n{stdout}"
                    ));
                }
            }
        }
        Mode::Error => {
            if status != Some(1) {
                return Some(format!(
                    "exited with {status:?}, expected 1\nstdout:\n{stdout}stderr:\n{stderr}"
                ));
            }
            if let Some(want) = &block.output {
                let mut at = 0;
                for line in want.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
                    match stderr[at..].find(line) {
                        Some(i) => at += i + line.len(),
                        None => {
                            return Some(format!(
                                "stderr lacks (in order) the line {line:?}\nstderr:\n{stderr}"
                            ))
                        }
                    }
                }
            }
        }
        Mode::NoRun => {}
    }
    None
}

fn docs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs")
}

#[test]
fn every_weft_block_in_the_docs_behaves_as_shown() {
    let dir = docs_dir();
    let mut pages: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("docs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    pages.sort();
    let mut failures = Vec::new();
    let mut ran = 0;
    for page in &pages {
        let text = std::fs::read_to_string(page).expect("readable page");
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let blocks = match blocks(&text) {
            Ok(b) => b,
            Err(e) => {
                failures.push(format!("{name}: {e}"));
                continue;
            }
        };
        for b in &blocks {
            if b.mode != Mode::NoRun {
                ran += 1;
            }
            if let Some(why) = check(b, &dir) {
                failures.push(format!(
                    "FAIL {name}:{} ({:?} block)\n{why}",
                    b.line, b.mode
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} doc blocks failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // language.md, async.md and config.md alone have more than this.
    assert!(ran >= 25, "only {ran} blocks ran: is docs/ complete?");
}

#[test]
fn the_runner_reads_tags_and_output_blocks() {
    let page = "text\n```weft\nprint(1)\n```\n\n```output\n1\n```\n```weft error\nx\n```\n```weft norun\ninput()\n```\n```sh\nls\n```\n";
    let bs = blocks(page).unwrap();
    assert_eq!(bs.len(), 3);
    assert_eq!((bs[0].line, bs[0].mode), (2, Mode::Run));
    assert_eq!(bs[0].output.as_deref(), Some("1\n"));
    assert_eq!((bs[1].mode, bs[1].output.as_deref()), (Mode::Error, None));
    assert_eq!(bs[2].mode, Mode::NoRun);
    assert!(blocks("```weft maybe\n```\n").is_err());
}

#[test]
fn the_runner_catches_wrong_blocks() {
    let dir = docs_dir();
    let block = |mode, code: &str, output: Option<&str>| Block {
        line: 1,
        mode,
        code: code.to_string(),
        output: output.map(str::to_string),
    };
    assert!(check(&block(Mode::Run, "print(1)\n", Some("1\n")), &dir).is_none());
    assert!(check(&block(Mode::Run, "print(1)\n", Some("2\n")), &dir).is_some());
    assert!(check(&block(Mode::Run, "1 // 0\n", None), &dir).is_some());
    assert!(check(
        &block(Mode::Error, "1 // 0\n", Some("ZeroDivisionError\n")),
        &dir
    )
    .is_none());
    assert!(check(&block(Mode::Error, "1 // 0\n", Some("KeyError\n")), &dir).is_some());
    assert!(check(&block(Mode::Error, "print(1)\n", None), &dir).is_some());
    // Lines are found in order.
    let two = "at f (<stdin>:1:\nat <main> (<stdin>:2:\n";
    let code = "fn f() { 1 // 0 }\nf()\n";
    assert!(check(&block(Mode::Error, code, Some(two)), &dir).is_none());
    let swapped = "at <main> (<stdin>:2:\nat f (<stdin>:1:\n";
    assert!(check(&block(Mode::Error, code, Some(swapped)), &dir).is_some());
}
