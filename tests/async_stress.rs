//! Stress tests for tasks and atoms, and tests of the `weft` command's pool
//! options (`--workers`, `--config`, `--no-pin`, `--stats`, `--trace`).
//!
//! Everything runs through the `weft` binary: the runtime (one pool per
//! process) is process-global, so each worker count needs its own process.
//! Every stress script runs with `WEFT_WORKERS` = 1, 2 and 8, under a time
//! limit (a hang fails the test instead of blocking the suite).

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Worker counts every stress script runs with.
const WORKERS: [&str; 3] = ["1", "2", "8"];

/// How long one run may take before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(120);

/// Runs `weft ARGS...` with `env`, feeding `stdin`, in `dir`; panics on a
/// hang.
fn weft_in(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> common::Run {
    common::weft_in(dir, args, env, stdin, LIMIT)
}

/// A fresh scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("async_stress")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Runs `code` with each worker count and checks it prints `expected`.
fn stress(name: &str, code: &str, expected: &str) {
    let dir = scratch(name);
    for w in WORKERS {
        let r = weft_in(&dir, &["-e", code], &[("WEFT_WORKERS", w)], "");
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (0, expected),
            "{name} with {w} workers; stderr:\n{}",
            r.stderr
        );
    }
}

/// Tasks per stress run.
const MANY: usize = 100_000;

#[test]
fn many_tasks_spawned_then_awaited() {
    let code = format!(
        "let n = {MANY}
         let ts = []
         for i in range(n) {{ ts.push(spawn(fn(x) {{ x * 2 }}, i)) }}
         let rs = await_all(ts)
         print(sum(rs) == n * (n - 1), len(rs))
         let s = pool_stats()
         print(s.spawned, s.completed, s.failed, s.cancelled)"
    );
    stress(
        "many_tasks",
        &code,
        &format!("true {MANY}\n{MANY} {MANY} 0 0\n"),
    );
}

#[test]
fn many_tasks_spawned_from_tasks_with_failures() {
    // Every third task fails; await_all throws the first failure (index 2).
    let code = "let outer = range(8).map(fn(k) {
           spawn(fn() {
             let ts = range(500).map(fn(i) { spawn(fn() { if i % 3 == 2 { throw i } else { i } }) })
             try { await_all(ts) } catch e { e.message }
           })
         })
         print(await_all(outer))
         let s = pool_stats()
         print(s.spawned, s.completed, s.failed)";
    stress(
        "tasks_from_tasks",
        code,
        "[\"2\", \"2\", \"2\", \"2\", \"2\", \"2\", \"2\", \"2\"]\n4008 2680 1328\n",
    );
}

#[test]
fn nested_spawn_depth_20_and_a_task_tree() {
    let code = "fn chain(k) {
           if k == 0 { return 0 }
           await(spawn(chain, k - 1)) + 1
         }
         print(await(spawn(chain, 20)))
         fn tree(k) {
           if k == 0 { return 1 }
           let l = spawn(tree, k - 1)
           let r = spawn(tree, k - 1)
           await(l) + await(r)
         }
         print(await(spawn(tree, 12)))
         fn fail_deep(k) {
           if k == 0 { throw \"bottom\" }
           await(spawn(fail_deep, k - 1))
         }
         try { await(spawn(fail_deep, 20)) } catch e {
           print(e.message, len(e.trace.filter(fn(l) { l.starts_with(\"at <spawn>\") })))
         }";
    stress("nested", code, "20\n4096\nbottom 21\n");
}

#[test]
fn concurrent_atom_updates_lose_nothing() {
    let per = if cfg!(debug_assertions) {
        2_000
    } else {
        10_000
    };
    let code = format!(
        "let a = atom(0)
         let f = atom(0.0)
         let ts = range(8).map(fn(i) {{
           spawn(fn() {{
             for j in range({per}) {{
               a.update(fn(v) {{ v + 1 }})
               a.add(1)
               f.add(0.25)
             }}
           }})
         }})
         await_all(ts)
         print(a.get(), f.get())"
    );
    let total = 8 * per;
    stress(
        "atoms",
        &code,
        &format!("{} {:?}\n", 2 * total, total as f64 * 0.25),
    );
}

#[test]
fn cancel_storm() {
    // Spinners, sleepers, quick tasks and parents awaiting children, all
    // cancelled at once: every await ends (value or Cancelled), the counts
    // add up, and no cancelled sleeper ran to the end.
    let n = if cfg!(debug_assertions) {
        2_000
    } else {
        10_000
    };
    let code = format!(
        "let n = {n}
         let finished_sleepers = atom(0)
         let ts = range(n).map(fn(i) {{
           let kind = i % 4
           if kind == 0 {{ return spawn(fn() {{ while true {{ }} }}) }}
           if kind == 1 {{ return spawn(fn() {{ sleep(60); finished_sleepers.add(1) }}) }}
           if kind == 2 {{ return spawn(fn() {{ i }}) }}
           spawn(fn() {{ await(spawn(fn() {{ sleep(60); finished_sleepers.add(1) }})) }})
         }})
         sleep(0.05)
         for t in ts {{ t.cancel() }}
         let ok = 0
         let cancelled = 0
         for t in ts {{
           try {{ await(t); ok += 1 }} catch e {{
             if e.kind == \"Cancelled\" {{ cancelled += 1 }} else {{ print(e) }}
           }}
         }}
         print(ok + cancelled == n, cancelled >= n / 2, finished_sleepers.get())
         print(ts.filter(fn(t) {{ not t.done() }}).len())"
    );
    stress("cancel_storm", &code, "true true 0\n0\n");
}

#[test]
fn tasks_waiting_on_each_other_never_deadlock() {
    // Each task awaits a few earlier tasks it did not spawn (so the waits
    // cross between tasks), some sleep, some spawn and await children.
    let code = "let ts = []
         for i in range(300) {
           let earlier = []
           if i >= 1 { earlier.push(ts[i - 1]) }
           if i >= 7 { earlier.push(ts[i - 7]) }
           if i >= 50 { earlier.push(ts[i - 50]) }
           ts.push(spawn(fn() {
             if i % 10 == 0 { sleep(0.001) }
             let child = spawn(fn() { 1 })
             let s = 0
             for t in earlier { s = s + await(t) % 1000 }
             s + await(child)
           }))
         }
         print(len(await_all(ts)))";
    stress("no_deadlock", code, "300\n");
}

// ---------------------------------------------------------------------
// The command line's pool options.

/// The script that prints how many threads the process has.
const THREADS: &str = "fn threads() {
  for line in read_file(\"/proc/self/status\").lines() {
    if line.starts_with(\"Threads:\") { return int(line.split()[1]) }
  }
  nil
}";

#[test]
fn eval_without_tasks_starts_no_pool_thread() {
    let dir = scratch("no_thread");
    // The process has two threads: main and the interpreter's.
    let code = format!("{THREADS}\nprint(threads())\nprint(1)");
    let r = weft_in(&dir, &["--workers", "4", "-e", &code], &[], "");
    assert_eq!((r.status, r.stdout.as_str()), (0, "2\n1\n"), "{}", r.stderr);
    // Spawning starts the workers, all at once.
    let code = format!("{THREADS}\nawait(spawn(fn() {{ 1 }}))\nprint(threads())");
    let r = weft_in(&dir, &["--workers", "4", "-e", &code], &[], "");
    assert_eq!((r.status, r.stdout.as_str()), (0, "6\n"), "{}", r.stderr);
}

#[test]
fn options_after_the_script_are_script_arguments() {
    let dir = scratch("args_after");
    std::fs::write(
        dir.join("s.weft"),
        "print(args())\nprint(pool_config().worker_count)\n",
    )
    .unwrap();
    let r = weft_in(
        &dir,
        &["--workers", "3", "s.weft", "--stats", "--workers", "5"],
        &[],
        "",
    );
    assert_eq!(
        (r.status, r.stdout.as_str(), r.stderr.as_str()),
        (0, "[\"--stats\", \"--workers\", \"5\"]\n3\n", "")
    );
    // The same with -e: everything after the code is an argument.
    let r = weft_in(&dir, &["-e", "print(args())", "--stats"], &[], "");
    assert_eq!((r.status, r.stdout.as_str()), (0, "[\"--stats\"]\n"));
}

#[test]
fn flags_win_over_env_and_file_and_name_their_source() {
    let dir = scratch("layers");
    std::fs::write(
        dir.join("weft.toml"),
        "[thread_pool]\nworker_count = 2\nnuma_aware = true\nmax_batch_size = 7\n",
    )
    .unwrap();
    let code = "let c = pool_config()
        print(c.worker_count, c.source.worker_count)
        print(c.numa_aware, c.source.numa_aware)
        print(c.max_batch_size, c.source.max_batch_size)
        await(spawn(fn() { 1 }))
        print(pool_stats().workers)";
    let r = weft_in(
        &dir,
        &["--workers", "3", "--no-pin", "-e", code],
        &[("WEFT_WORKERS", "5"), ("WEFT_MAX_BATCH_SIZE", "9")],
        "",
    );
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (
            0,
            "3 flag --workers\nfalse flag --no-pin\n9 env WEFT_MAX_BATCH_SIZE\n3\n"
        ),
        "{}",
        r.stderr
    );
    // Without flags and env, the file's values.
    let r = weft_in(&dir, &["-e", code], &[], "");
    assert!(
        r.stdout
            .starts_with("2 file weft.toml\ntrue file weft.toml\n7 file weft.toml\n2\n"),
        "{}{}",
        r.stdout,
        r.stderr
    );
    // With numa_aware, pool_config() reports the pinning of each worker.
    let r = weft_in(
        &dir,
        &[
            "-e",
            "await(spawn(fn() { 1 }))\nprint(len(pool_config().pinning))",
        ],
        &[],
        "",
    );
    assert_eq!((r.status, r.stdout.as_str()), (0, "2\n"), "{}", r.stderr);
}

#[test]
fn config_file_option_and_bad_configs_exit_2_before_running() {
    let dir = scratch("config_option");
    std::fs::write(dir.join("pool.toml"), "[thread_pool]\nworker_count = 4\n").unwrap();
    let r = weft_in(
        &dir,
        &[
            "--config",
            "pool.toml",
            "-e",
            "print(pool_config().source.worker_count)",
        ],
        &[],
        "",
    );
    assert_eq!(
        (r.status, r.stdout.as_str()),
        (0, "file pool.toml\n"),
        "{}",
        r.stderr
    );

    // (command line, environment, what the error must name)
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 5] = [
        (
            &["--config", "missing.toml", "-e", "print(1)"],
            &[],
            "missing.toml",
        ),
        (&["--workers", "0", "-e", "print(1)"], &[], "--workers"),
        (&["--workers", "lots", "-e", "print(1)"], &[], "--workers"),
        (
            &["-e", "print(1)"],
            &[("WEFT_WORKERS", "-1")],
            "WEFT_WORKERS",
        ),
        (
            &["-e", "print(1)"],
            &[("WEFT_NUMA_AWARE", "maybe")],
            "WEFT_NUMA_AWARE",
        ),
    ];
    for (args, env, needle) in cases {
        let r = weft_in(&dir, args, env, "");
        assert_eq!(r.status, 2, "{args:?} {env:?}: {}", r.stderr);
        assert_eq!(r.stdout, "", "{args:?}: nothing may run");
        assert!(
            r.stderr.contains("error:") && r.stderr.contains(needle),
            "{}",
            r.stderr
        );
    }
    // The REPL checks the config before reading anything too.
    std::fs::write(dir.join("weft.toml"), "[thread_pool]\nworkers = 2\n").unwrap();
    let r = weft_in(&dir, &[], &[], "print(1)\n");
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("weft.toml:2:") && r.stderr.contains("worker_count"),
        "{}",
        r.stderr
    );
}

#[test]
fn stats_prints_a_table_at_exit() {
    let dir = scratch("stats");
    let r = weft_in(
        &dir,
        &[
            "--stats",
            "--workers",
            "2",
            "-e",
            "print(await_all(range(10).map(fn(i) { spawn(fn() { i }) })).len())",
        ],
        &[],
        "",
    );
    assert_eq!((r.status, r.stdout.as_str()), (0, "10\n"), "{}", r.stderr);
    for needle in [
        "workers",
        "spawned",
        "completed",
        "stolen",
        "parks",
        "spares",
        "busy_s",
    ] {
        assert!(r.stderr.contains(needle), "no {needle} in:\n{}", r.stderr);
    }
    assert!(
        r.stderr
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["spawned", "10"]),
        "{}",
        r.stderr
    );
    let worker_rows = r
        .stderr
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| w == "0" || w == "1")
        })
        .count();
    assert_eq!(worker_rows, 2, "{}", r.stderr);
    // Also on exit(n), and it says so when the pool never started.
    let r = weft_in(
        &dir,
        &["--stats", "-e", "await(spawn(fn() { 1 }))\nexit(3)"],
        &[],
        "",
    );
    assert_eq!(r.status, 3);
    assert!(r.stderr.contains("spawned"), "{}", r.stderr);
    let r = weft_in(&dir, &["--stats", "-e", "print(1)"], &[], "");
    assert_eq!((r.status, r.stdout.as_str()), (0, "1\n"));
    assert!(r.stderr.contains("not started"), "{}", r.stderr);
}

#[test]
fn trace_writes_valid_chrome_trace_json() {
    let dir = scratch("trace");
    let code = "fn fib(n) {
          if n < 2 { return n }
          let a = spawn(fib, n - 1)
          fib(n - 2) + await(a)
        }
        print(await(spawn(fib, 12)))
        sleep(0.01)";
    let r = weft_in(
        &dir,
        &["--trace", "out.json", "--workers", "2", "-e", code],
        &[],
        "",
    );
    assert_eq!((r.status, r.stdout.as_str()), (0, "144\n"), "{}", r.stderr);
    let text = std::fs::read_to_string(dir.join("out.json")).expect("trace written");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let events = json["traceEvents"].as_array().expect("traceEvents");
    let named: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .filter_map(|e| e["args"]["name"].as_str())
        .collect();
    assert!(
        named.contains(&"worker 0") && named.contains(&"worker 1"),
        "{named:?}"
    );
    // Every B has its E on the same row, in order; timestamps never go back.
    // Rows: the two workers, and the main thread (tasks it runs inline).
    // A task that parks in `await` and resumes opens a second slice with
    // the same name, so count distinct task names, not slices.
    let mut tasks = std::collections::HashSet::new();
    let mut rows: Vec<i64> = events.iter().filter_map(|e| e["tid"].as_i64()).collect();
    rows.sort_unstable();
    rows.dedup();
    for tid in rows {
        let mut depth = 0i64;
        let mut last = 0.0f64;
        for e in events.iter().filter(|e| e["tid"] == tid && e["ph"] != "M") {
            let ts = e["ts"].as_f64().expect("ts is a number");
            assert!(ts >= last, "time went back on row {tid}");
            last = ts;
            match e["ph"].as_str() {
                Some("B") => {
                    depth += 1;
                    if let Some(n) = e["name"].as_str().filter(|n| n.starts_with("task ")) {
                        tasks.insert(n.to_string());
                    }
                }
                Some("E") => depth -= 1,
                Some("i") => assert!(
                    ["park", "unpark"].contains(&e["name"].as_str().unwrap_or(""))
                        || e["name"].as_str().is_some_and(|n| {
                            n.starts_with("steal from ")
                                || n.starts_with("park task ")
                                || n.starts_with("yield task ")
                        }),
                    "{e}"
                ),
                other => panic!("unexpected phase {other:?}"),
            }
            assert!(depth >= 0, "E without B on row {tid}");
        }
        assert_eq!(depth, 0, "unclosed slice on row {tid}");
    }
    // fib(12) spawns fib(n-1) for every n >= 2 reached: 232 tasks, plus the
    // top one.
    assert_eq!(tasks.len(), 233, "{tasks:?}");
    // Without any task, the trace is still valid JSON.
    let r = weft_in(&dir, &["--trace", "empty.json", "-e", "print(1)"], &[], "");
    assert_eq!(r.status, 0);
    let text = std::fs::read_to_string(dir.join("empty.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(json["traceEvents"].is_array());
}

/// The `--stats` per-thread "jobs" of a run, from its stderr: worker index
/// (or "spare" / "main") to count.
fn stats_jobs(stderr: &str) -> std::collections::HashMap<String, u64> {
    let mut rows = std::collections::HashMap::new();
    let mut in_table = false;
    for line in stderr.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words == ["worker", "jobs", "busy_s"] {
            in_table = true;
            continue;
        }
        if !in_table {
            continue;
        }
        match words.as_slice() {
            [row, jobs, _] if row.parse::<usize>().is_ok() || ["spare", "main"].contains(row) => {
                rows.insert(row.to_string(), jobs.parse().expect("jobs is a count"));
            }
            _ => in_table = false,
        }
    }
    rows
}

#[test]
fn stats_jobs_agree_with_the_trace_slices_of_the_same_run() {
    let dir = scratch("stats-trace");
    // Tasks awaited by the main script (run inline on its thread), tasks
    // that park in await and resume, and parallel chunks.
    let code = "fn fib(n) {
          if n < 2 { return n }
          let a = spawn(fib, n - 1)
          fib(n - 2) + await(a)
        }
        print(await(spawn(fib, 11)))
        print(sum(parallel_map(range(2000), fn(x) { x % 7 })))";
    for workers in ["1", "2", "8"] {
        let r = weft_in(
            &dir,
            &[
                "--stats",
                "--trace",
                "both.json",
                "--workers",
                workers,
                "-e",
                code,
            ],
            &[],
            "",
        );
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (0, "89\n5995\n"),
            "{}",
            r.stderr
        );
        let jobs = stats_jobs(&r.stderr);
        let text = std::fs::read_to_string(dir.join("both.json")).expect("trace written");
        let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let events = json["traceEvents"].as_array().expect("traceEvents");
        let row_name = |tid: &serde_json::Value| {
            events
                .iter()
                .find(|e| e["ph"] == "M" && e["name"] == "thread_name" && &e["tid"] == tid)
                .and_then(|e| e["args"]["name"].as_str())
                .unwrap_or("?")
                .to_string()
        };
        let mut slices: std::collections::HashMap<String, u64> = Default::default();
        for e in events
            .iter()
            .filter(|e| e["ph"] == "B" && e["cat"] == "job")
        {
            let name = row_name(&e["tid"]);
            let row = if let Some(i) = name.strip_prefix("worker ") {
                i.to_string()
            } else if name.starts_with("spare") {
                "spare".to_string()
            } else {
                "main".to_string()
            };
            *slices.entry(row).or_default() += 1;
        }
        let workers_n: usize = workers.parse().unwrap();
        for i in 0..workers_n {
            let row = i.to_string();
            assert_eq!(
                jobs.get(&row).copied(),
                Some(slices.get(&row).copied().unwrap_or(0)),
                "worker {i} with {workers} workers: stats {jobs:?}, trace {slices:?}\n{}",
                r.stderr
            );
        }
        for row in ["spare", "main"] {
            assert_eq!(
                jobs.get(row).copied().unwrap_or(0),
                slices.get(row).copied().unwrap_or(0),
                "row {row} with {workers} workers: stats {jobs:?}, trace {slices:?}"
            );
        }
        let total: u64 = jobs.values().sum();
        assert!(total >= 89, "every task ran at least one slice: {jobs:?}");
    }
}

#[test]
fn trace_ends_a_task_running_at_exit_and_marks_it_unfinished() {
    let dir = scratch("trace-unfinished");
    for workers in ["1", "2", "8"] {
        // The spinning task never ends; the script exits while it runs.
        let code = "let c = channel()
            spawn(fn() { c.send(1)
              while true {} })
            print(c.recv())";
        let r = weft_in(
            &dir,
            &["--trace", "spin.json", "--workers", workers, "-e", code],
            &[],
            "",
        );
        assert_eq!((r.status, r.stdout.as_str()), (0, "1\n"), "{}", r.stderr);
        let text = std::fs::read_to_string(dir.join("spin.json")).expect("trace written");
        let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let events = json["traceEvents"].as_array().expect("traceEvents");
        let unfinished: Vec<&serde_json::Value> = events
            .iter()
            .filter(|e| e["args"]["unfinished"] == true)
            .collect();
        // One B and its E, both marked, the E not before the B.
        assert_eq!(unfinished.len(), 2, "{workers} workers: {text}");
        assert_eq!(unfinished[0]["ph"], "B");
        assert_eq!(unfinished[1]["ph"], "E");
        assert_eq!(unfinished[0]["name"], unfinished[1]["name"]);
        let (b, e) = (
            unfinished[0]["ts"].as_f64().unwrap(),
            unfinished[1]["ts"].as_f64().unwrap(),
        );
        assert!(e >= b, "{text}");
        assert!(
            unfinished[0]["name"].as_str().unwrap().starts_with("task "),
            "{text}"
        );
    }
}
