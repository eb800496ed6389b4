//! Every example script runs to completion from the repository root (where
//! the README tells a newcomer to run them), and the sequential ones print
//! what they promise.

use std::path::Path;
use std::process::Command;

fn run_example(name: &str, args: &[&str]) -> (i32, String, String) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .current_dir(root)
        .arg(Path::new("examples").join(name))
        .args(args)
        .env_remove("WEFT_CONFIG")
        .output()
        .expect("the weft binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_example_script_exits_zero() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples/ exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".weft"))
        .collect();
    names.sort();
    assert!(
        names.len() >= 3,
        "expected example scripts, found {names:?}"
    );
    let mut failures = Vec::new();
    for name in &names {
        let (code, stdout, stderr) = run_example(name, &[]);
        if code != 0 || stdout.trim().is_empty() {
            failures.push(format!(
                "{name}: exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "examples failed:\n{}",
        failures.join("\n")
    );
}

#[test]
fn wordfreq_counts_the_shipped_text() {
    let (code, stdout, _) = run_example("wordfreq.weft", &["examples/data/loom.txt"]);
    assert_eq!(code, 0);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("145 distinct words"));
    assert_eq!(lines.next(), Some("41  the"));
    assert_eq!(lines.next(), Some("20  and"));
    // The counts form a right-aligned column.
    assert_eq!(lines.next(), Some(" 9  is"));
    assert_eq!(lines.next(), Some(" 8  a"));
}

#[test]
fn wordfreq_reports_a_missing_file() {
    let (code, _, stderr) = run_example("wordfreq.weft", &["examples/data/no-such-file.txt"]);
    assert_eq!(code, 1);
    assert!(
        stderr.contains("IOError") && stderr.contains("no-such-file.txt"),
        "{stderr}"
    );
}

#[test]
fn primes_takes_its_bound_from_the_command_line() {
    let (code, stdout, _) = run_example("primes.weft", &["100"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("25 primes up to 100\n"), "{stdout}");
    let (code, _, stderr) = run_example("primes.weft", &["ten"]);
    assert_eq!(code, 1);
    assert!(stderr.contains("ValueError"), "{stderr}");
}
