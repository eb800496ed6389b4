//! Data parallelism v2 through the `weft` binary: bounded memory while
//! streaming millions of items, the `--stats` report per call site, the
//! progress status line when stderr is not a terminal, and the progress
//! bar on a terminal (a pty made by `script`, when it is installed).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{weft_in, Run};

/// A fresh directory with `name` holding `src`, and the script's file
/// name. The directory is removed when the `TempDir` is dropped, also
/// when the test fails.
fn script(name: &str, src: &str) -> (tempfile::TempDir, String) {
    let dir = common::temp_dir("weft-par2-");
    let file = format!("{name}.weft");
    std::fs::write(dir.path().join(&file), src).expect("write script");
    (dir, file)
}

fn run(dir: &Path, args: &[&str], workers: &str, limit: u64) -> Run {
    weft_in(
        dir,
        args,
        &[("WEFT_WORKERS", workers)],
        "",
        Duration::from_secs(limit),
    )
}

/// The script's `key: value` lines.
fn field<'a>(out: &'a str, key: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(key))
        .unwrap_or_else(|| panic!("no '{key}' in {out}"))
        .trim()
}

const STREAM: &str = r#"
let n = int(args()[0])
let in_flight = int(args()[1])
let ch = channel(1024)
spawn(fn() {
    let i = 0
    while i < n {
        ch.send_batch(range(i, min(i + 1024, n)))
        i += 1024
    }
    ch.close()
})
let out = parallel_map(ch, fn(x) { x + 1 }, {"in_flight": in_flight})
# A slow consumer at first: without the bound, results would pile up.
let most = 0
for k in range(30) {
    sleep(0.01)
    most = max(most, out.len())
}
let total = 0
let b = out.recv_batch(1024)
while len(b) > 0 {
    for v in b { total += v }
    b = out.recv_batch(1024)
}
print("total:", total)
print("most queued:", most)
for line in read_file("/proc/self/status").split("\n") {
    if line.starts_with("VmHWM:") { print(line) }
}
"#;

#[test]
fn streaming_five_million_items_keeps_memory_bounded() {
    let (dir, file) = script("stream_memory", STREAM);
    // 5M items on 2 workers; 1M on 1 and 8 (the suite's time is shared).
    for (workers, n) in [("2", 5_000_000u64), ("1", 1_000_000), ("8", 1_000_000)] {
        let r = run(dir.path(), &[&file, &n.to_string(), "64"], workers, 120);
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert_eq!(field(&r.stdout, "total:"), (n * (n + 1) / 2).to_string());
        let most: usize = field(&r.stdout, "most queued:").parse().unwrap();
        assert!(most <= 64, "{workers} workers: {most} results queued");
        let hwm_kb: u64 = field(&r.stdout, "VmHWM:")
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        // 5M results would take 80 MB as values alone.
        assert!(
            hwm_kb < 64 * 1024,
            "{workers} workers: peak RSS {hwm_kb} kB streaming {n} items"
        );
    }
    // The control: with a bound larger than the stream, the slow consumer
    // lets results pile up on the output (so the check above can fail).
    let r = run(dir.path(), &[&file, "300000", "1000000"], "2", 120);
    assert_eq!(r.status, 0, "{}", r.stderr);
    let most: usize = field(&r.stdout, "most queued:").parse().unwrap();
    assert!(most > 1000, "unbounded control queued only {most}");
}

/// Busy threads in this process, spinning until dropped.
struct Hogs {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Hogs {
    fn start(n: usize) -> Hogs {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..n)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        Hogs { stop, threads }
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[test]
fn a_stream_keeps_going_while_other_threads_hog_the_cpus() {
    // Three busy threads besides the stream's: every hand-off between the
    // stream's threads can wait for a thread the OS has not scheduled.
    // Before the consumer helped (ran the chunks itself), 300,000 items
    // took 44-68 s here on 2 cores; with it, a few seconds.
    let (dir, file) = script("stream_hogs", STREAM);
    let _hogs = Hogs::start(3);
    for (workers, n) in [("2", 300_000u64), ("1", 100_000), ("8", 100_000)] {
        let started = std::time::Instant::now();
        let r = run(dir.path(), &[&file, &n.to_string(), "64"], workers, 40);
        assert_eq!(
            r.status,
            0,
            "{workers} workers, {n} items, {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            r.stderr
        );
        assert_eq!(field(&r.stdout, "total:"), (n * (n + 1) / 2).to_string());
        let most: usize = field(&r.stdout, "most queued:").parse().unwrap();
        assert!(most <= 64, "{workers} workers: {most} results queued");
    }
}

#[test]
fn stats_report_each_parallel_call_site() {
    let src = "fn slow(x) {\n    let i = 0\n    while i < 200 { i += 1 }\n    x\n}\nlet a = parallel_map(range(20000), slow)\nlet b = parallel_map([1, 2, 3], fn(x) { x })\nfor i in range(3) { parallel_reduce(range(1000), fn(p, q) { p + q }, 0) }\nlet ch = channel()\nch.send_batch(range(100))\nch.close()\nfor v in parallel_map(ch, slow) { }\nprint(len(a), b)\n";
    let (dir, file) = script("stats", src);
    let r = run(dir.path(), &["--stats", &file], "2", 60);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "20000 [1, 2, 3]\n");
    let section = r
        .stderr
        .split("weft parallel call sites")
        .nth(1)
        .unwrap_or_else(|| panic!("no call-site section:\n{}", r.stderr));
    let row = |site: &str| {
        section
            .lines()
            .find(|l| l.trim_start().starts_with(site))
            .unwrap_or_else(|| panic!("no row for {site}:\n{section}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // site, call, calls, items, inline, chunks, steals, efficiency, why
    let big = row(&format!("{file}:6"));
    assert_eq!(&big[1..5], ["parallel_map", "1", "20000", "0"], "{big:?}");
    let chunks: u64 = big[5].parse().unwrap();
    assert!(chunks >= 2, "{big:?}");
    let eff: f64 = big[7].parse().unwrap();
    assert!(eff > 0.0 && eff <= 1.0, "{big:?}");
    let small = row(&format!("{file}:7"));
    assert_eq!(&small[1..5], ["parallel_map", "1", "3", "1"], "{small:?}");
    assert!(section.contains("done while measuring"), "{section}");
    let reduce = row(&format!("{file}:8"));
    assert_eq!(
        &reduce[1..4],
        ["parallel_reduce", "3", "3000"],
        "{reduce:?}"
    );
    let stream = row(&format!("{file}:12"));
    assert_eq!(
        &stream[1..5],
        ["parallel_map", "1", "100", "0"],
        "{stream:?}"
    );
    // Without --stats: no report.
    let r = run(dir.path(), &[&file], "2", 60);
    assert!(!r.stderr.contains("call sites"), "{}", r.stderr);
}

#[test]
fn progress_prints_a_status_line_at_most_every_five_seconds() {
    // About 5.5 s of sleeping items on 2 workers (no spare threads stand
    // in for sleeping workers): one status line, at 5 s.
    let src = "let r = parallel_map(range(1100), fn(x) { sleep(0.01); x }, {\"progress\": true})\nprint(len(r))\n";
    let (dir, file) = script("status", src);
    std::fs::write(
        dir.path().join("weft.toml"),
        "[thread_pool]\nmax_spare_workers = 0\n",
    )
    .unwrap();
    let r = run(dir.path(), &[&file], "2", 60);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "1100\n");
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", r.stderr);
    let line = lines[0];
    assert!(line.starts_with("parallel_map: "), "{line}");
    assert!(line.contains("/1,100 items ("), "{line}");
    assert!(line.contains("/s, ETA "), "{line}");
}

#[test]
fn the_bar_is_drawn_on_a_terminal_with_prints_above_it() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed, no pty");
        return;
    }
    let src = "parallel_for_each(range(6), fn(i) { sleep(0.05); print(\"line \" + str(i)) }, {\"progress\": true})\nprint(\"after\")\ntry {\n    parallel_map(range(100), fn(x) { sleep(0.005); if x == 60 { throw \"boom\" }; x }, {\"progress\": true})\n} catch e { print(\"caught \" + e.message) }\n";
    let (dir, file) = script("bar", src);
    let weft = env!("CARGO_BIN_EXE_weft");
    let out = Command::new("script")
        .args(["-qfec", &format!("{weft} {file}"), "/dev/null"])
        .current_dir(dir.path())
        .env("WEFT_WORKERS", "2")
        .output()
        .expect("script runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("parallel_for_each ["), "{text:?}");
    assert!(text.contains("6/6"), "no full bar: {text:?}");
    // Each printed line starts on a line the bar was cleared from.
    for i in 0..6 {
        assert!(
            text.contains(&format!("\x1b[2Kline {i}\r\n")),
            "line {i} is not above the bar: {text:?}"
        );
    }
    // The failed call's bar is cleared before the error is handled.
    let last_bar = text.rfind("parallel_map [").expect("a parallel_map bar");
    let caught = text.find("caught boom").expect("the error");
    assert!(last_bar < caught);
    assert!(
        text[last_bar..caught].contains("\x1b[2K"),
        "the bar was not cleared: {:?}",
        &text[last_bar..]
    );
    assert!(text.contains("after"));
}
