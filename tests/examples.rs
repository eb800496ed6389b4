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

/// `fan_in_select.weft` prints only what does not depend on timing: the
/// same text at every worker count, run after run (it used to print the
/// order in which sources finished and a count of select timeouts).
#[test]
fn fan_in_select_output_does_not_depend_on_timing() {
    let want = "fast   8 readings, sum 144\n\
                medium 4 readings, sum 60\n\
                slow   2 readings, sum 12\n\
                answer from us-2\n\
                cached answer (no mirror answered in 50 ms)\n";
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for workers in ["1", "2", "8"] {
        for run in 0..3 {
            let out = Command::new(env!("CARGO_BIN_EXE_weft"))
                .current_dir(root)
                .arg("examples/fan_in_select.weft")
                .env_remove("WEFT_CONFIG")
                .env("WEFT_WORKERS", workers)
                .output()
                .expect("the weft binary runs");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                want,
                "WEFT_WORKERS={workers}, run {run}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.status.code(), Some(0));
        }
    }
}

/// The log analyser's JSON report agrees with a count done here: every line
/// is a request (it has a status and a latency) or a skipped line.
#[test]
fn log_analyser_reports_every_line() {
    let (code, stdout, stderr) = run_example("log_analyser.weft", &[]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("the report is JSON");
    let log = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/data/app.log"),
    )
    .unwrap();
    // A request line has a status and a latency (one line in the file is
    // cut short after `status=2`: it counts as skipped).
    let request = regex::Regex::new(r" status=\d+ latency_ms=\d+").unwrap();
    let requests = log.lines().filter(|l| request.is_match(l)).count() as u64;
    let total = log.lines().count() as u64;
    assert_eq!(report["requests"], requests);
    assert_eq!(report["skipped_lines"], total - requests);
    let levels: u64 = report["levels"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(levels, requests);
    let errors = log
        .lines()
        .filter(|l| l.contains(" ERROR ") && request.is_match(l))
        .count() as u64;
    assert_eq!(report["levels"]["ERROR"], errors);
    assert_eq!(report["top_endpoints"].as_array().unwrap().len(), 5);
}

/// The CSV join's totals, worked out independently (by CPython's csv and a
/// hand count) for the shipped data.
#[test]
fn csv_join_totals_per_country() {
    let (code, stdout, stderr) = run_example("csv_join.weft", &[]);
    assert_eq!(code, 0, "{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("country,orders,customers,total,average"));
    assert_eq!(lines.next(), Some("JP,49,3,6782.49,138.42"));
    assert_eq!(lines.next(), Some("PE,47,3,5903.7,125.61"));
    assert_eq!(lines.next(), Some("DE,35,2,3906.35,111.61"));
    assert_eq!(lines.next(), Some("BR,30,2,3583.69,119.46"));
    assert_eq!(lines.next(), Some("NO,24,2,2497.28,104.05"));
    assert!(lines
        .next()
        .unwrap()
        .starts_with("# 15 orders without a known customer"));
}

/// The job runner runs every job at once and reports each outcome.
#[test]
fn job_runner_reports_each_outcome() {
    let (code, stdout, stderr) = run_example("job_runner.weft", &[]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("the report is JSON");
    let state = |name: &str| {
        report["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("job {name} missing"))
            .clone()
    };
    assert_eq!(state("greet")["stdout"], "hello from a job");
    assert_eq!(state("count")["stdout"], "5");
    assert_eq!(state("upper")["stdout"], "QUIET PLEASE");
    assert_eq!(state("too slow")["state"], "timed out");
    assert_eq!(state("fails")["status"], 7);
    assert_eq!(state("fails")["stderr"], "oops");
    assert_eq!(state("missing")["state"], "could not start");
    assert_eq!(report["summary"]["ok"], 4);
    // The 30 s job was killed at its 0.5 s timeout, and jobs ran at once.
    assert_eq!(report["wall_seconds_under_2"], true);
}

#[test]
fn go_sieve_hands_primes_down_an_unbuffered_chain() {
    let (code, stdout, stderr) = run_example("go_sieve.weft", &["10"]);
    assert_eq!(code, 0, "stderr: {stderr}");
    assert_eq!(
        stdout,
        "the first 10 primes: [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]\n11 tasks stopped cleanly\n"
    );
    let (code, _, stderr) = run_example("go_sieve.weft", &["0"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("at least 1"), "stderr: {stderr}");
}
