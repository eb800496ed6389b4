//! `weft --mpi` end to end.
//!
//! With the `mpi` feature (`cargo test --release --features mpi --test
//! mpi`): every golden script of `tests/scripts/mpi/` runs under `mpirun
//! -np 2` and `-np 3` and must give exactly its expected output, status
//! and stderr lines — the same files the plain golden suite checks
//! without MPI — and the failure cases end the job with their statuses.
//! When `mpirun` is not installed these tests say so and pass.
//!
//! Without the feature: `--mpi` is a usage error (status 2).

#[allow(dead_code)]
mod common;

use std::path::Path;
#[cfg(feature = "mpi")]
use std::path::PathBuf;
use std::time::Duration;

#[cfg(not(feature = "mpi"))]
#[test]
fn mpi_flag_without_the_feature_is_a_usage_error() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let r = common::weft_in(
        dir,
        &["--mpi", "examples/hello.weft"],
        &[],
        "",
        Duration::from_secs(20),
    );
    assert_eq!(r.status, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--features mpi"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[cfg(feature = "mpi")]
mod with_mpi {
    use super::*;
    use std::io::Read;
    use std::process::{Command, Stdio};
    use std::time::Instant;

    /// How long one `mpirun` may take.
    const LIMIT: Duration = Duration::from_secs(60);

    fn scripts_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/mpi")
    }

    /// Whether `mpirun` can be run; if not, says why the test is skipped.
    fn have_mpirun(test: &str) -> bool {
        let ok = Command::new("mpirun")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED {test}: mpirun is not installed (apt-get install openmpi-bin)");
        }
        ok
    }

    struct Run {
        status: i32,
        stdout: String,
        stderr: String,
    }

    /// `mpirun ... -np N weft ARGS` (or the MPMD `apps`, each a list of
    /// weft arguments run on one rank) in `dir`, killed after [`LIMIT`].
    fn mpirun(dir: &Path, apps: &[(usize, Vec<&str>)]) -> Run {
        let weft = env!("CARGO_BIN_EXE_weft");
        let mut cmd = Command::new("mpirun");
        cmd.args([
            "--allow-run-as-root",
            "--oversubscribe",
            "--bind-to",
            "none",
        ]);
        for (i, (np, args)) in apps.iter().enumerate() {
            if i > 0 {
                cmd.arg(":");
            }
            cmd.args(["-np", &np.to_string(), weft]);
            cmd.args(args);
        }
        cmd.current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars() {
            if k.starts_with("WEFT_") {
                cmd.env_remove(k);
            }
        }
        let mut child = cmd.spawn().expect("mpirun starts");
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let o = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let e = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() > LIMIT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("mpirun {apps:?} did not finish in {LIMIT:?} (a rank hung)");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        Run {
            status: status.code().unwrap_or(-1),
            stdout: o.join().unwrap_or_default(),
            stderr: e.join().unwrap_or_default(),
        }
    }

    fn read(path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    /// `lines` occur in `text` in order (each after the previous match).
    fn lines_in_order(text: &str, lines: &str) -> Result<(), String> {
        let mut at = 0;
        for line in lines.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            match text[at..].find(line) {
                Some(i) => at += i + line.len(),
                None => return Err(format!("missing, in order: {line:?}")),
            }
        }
        Ok(())
    }

    #[test]
    fn golden_scripts_give_the_same_results_on_2_and_3_ranks() {
        if !have_mpirun("golden_scripts_give_the_same_results_on_2_and_3_ranks") {
            return;
        }
        let dir = scripts_dir();
        let mut scripts: Vec<String> = std::fs::read_dir(&dir)
            .expect("tests/scripts/mpi")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".weft") && !n.starts_with('_'))
            .collect();
        scripts.sort();
        assert!(scripts.len() >= 3, "{scripts:?}");
        let mut failures = Vec::new();
        for name in &scripts {
            let stem = name.trim_end_matches(".weft");
            let want_out = read(&dir.join(format!("{stem}.out"))).unwrap_or_default();
            let want_status: i32 = read(&dir.join(format!("{stem}.status")))
                .map_or(0, |s| s.trim().parse().expect("a status"));
            let want_err = read(&dir.join(format!("{stem}.err")));
            for np in [2, 3] {
                let r = mpirun(&dir, &[(np, vec!["--mpi", name.as_str()])]);
                let mut why = Vec::new();
                if r.status != want_status {
                    why.push(format!("status {} (wanted {want_status})", r.status));
                }
                if r.stdout != want_out {
                    why.push(format!("stdout:\n{}\nwanted:\n{want_out}", r.stdout));
                }
                if let Some(lines) = &want_err {
                    if let Err(e) = lines_in_order(&r.stderr, lines) {
                        why.push(e);
                    }
                } else if want_status == 0 && !r.stderr.is_empty() {
                    why.push("unexpected stderr".into());
                }
                if !why.is_empty() {
                    failures.push(format!(
                        "{name} -np {np}: {}\nstderr:\n{}",
                        why.join("\n"),
                        r.stderr
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    /// A scratch directory, removed with its files when dropped, also
    /// when the test fails (`tempfile::TempDir`).
    struct Scratch(tempfile::TempDir);

    impl std::ops::Deref for Scratch {
        type Target = Path;
        fn deref(&self) -> &Path {
            self.0.path()
        }
    }

    /// A scratch directory with `files`.
    fn scratch(name: &str, files: &[(&str, &str)]) -> Scratch {
        let dir = common::temp_dir(&format!("weft-mpi-{name}-"));
        for (f, text) in files {
            std::fs::write(dir.path().join(f), text).expect("write");
        }
        Scratch(dir)
    }

    #[test]
    fn exit_in_an_item_on_another_rank_ends_the_job_with_its_status() {
        if !have_mpirun("exit_in_an_item_on_another_rank_ends_the_job_with_its_status") {
            return;
        }
        // With chunk_size 1, rank 0 deals the first chunks before it runs
        // any itself: item 0 runs on rank 1.
        let dir = scratch(
            "exit",
            &[(
                "x.weft",
                "print(\"start\")\nparallel_map(range(6), fn(x) { if x == 0 { exit(3) }\n sleep(0.2)\n x }, {\"chunk_size\": 1})\nprint(\"not reached\")\n",
            )],
        );
        let r = mpirun(&dir, &[(2, vec!["--mpi", "x.weft"])]);
        assert_eq!(r.status, 3, "{}", r.stderr);
        assert!(
            r.stdout.contains("start") && !r.stdout.contains("not reached"),
            "{}",
            r.stdout
        );
        // (mpirun's own note about MPI_ABORT is not checked: OpenMPI
        // sometimes loses it when the job is torn down.)
    }

    /// The `weft --mpi statistics` rows: (rank, chunks, items).
    fn mpi_rows(stderr: &str) -> Vec<(usize, u64, u64)> {
        let table = stderr
            .split("weft --mpi statistics")
            .nth(1)
            .expect("the --mpi table");
        table
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("rank"))
            .skip(1)
            .map_while(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                match f.as_slice() {
                    [r, c, i, _] => Some((r.parse().ok()?, c.parse().ok()?, i.parse().ok()?)),
                    _ => None,
                }
            })
            .collect()
    }

    /// The part of `stderr` under `--- rank R on HOST ---`, up to the next
    /// such line.
    fn rank_section(stderr: &str, rank: usize) -> Option<&str> {
        let at = stderr.find(&format!("--- rank {rank} on "))?;
        let rest = &stderr[at..];
        let body = &rest[rest.find('\n')? + 1..];
        Some(match body.find("--- rank ") {
            Some(end) => &body[..end],
            None => body,
        })
    }

    #[test]
    fn stats_print_every_ranks_tables_under_its_rank() {
        if !have_mpirun("stats_print_every_ranks_tables_under_its_rank") {
            return;
        }
        // chunk_size: dealt at once, without measuring first; rank 0 deals
        // every other rank its first chunks before it runs any itself.
        let dir = scratch(
            "stats",
            &[
                (
                    "x.weft",
                    "print(sum(parallel_map(range(60), fn(x) { x }, {\"chunk_size\": 5})))\n",
                ),
                (
                    "exit.weft",
                    "print(sum(parallel_map(range(60), fn(x) { x }, {\"chunk_size\": 5})))\nexit(4)\n",
                ),
            ],
        );
        for (script, status) in [("x.weft", 0), ("exit.weft", 4)] {
            let r = mpirun(&dir, &[(3, vec!["--mpi", "--stats", script])]);
            assert_eq!(r.status, status, "{script}: {}", r.stderr);
            assert_eq!(r.stdout, "1770\n", "{script}");
            let e = &r.stderr;
            // The distributed calls' table, then ranks 1, 2 and 0, each
            // label once.
            lines_in_order(
                e,
                "weft --mpi statistics\n--- rank 1 on \n--- rank 2 on \n--- rank 0 on ",
            )
            .unwrap_or_else(|m| panic!("{script}: {m}\n{e}"));
            for rank in 0..3 {
                let label = format!("--- rank {rank} on ");
                assert_eq!(e.matches(&label).count(), 1, "{script}: {e}");
            }
            // Each other rank's section is its own: its local calls are the
            // chunks rank 0 counted for it, with their items.
            let rows = mpi_rows(e);
            assert_eq!(rows.iter().map(|r| r.2).sum::<u64>(), 60, "{e}");
            for &(rank, chunks, items) in rows.iter().filter(|r| r.0 > 0) {
                assert!(chunks > 0, "rank {rank} ran no chunk: {e}");
                let section = rank_section(e, rank).expect("a section");
                assert!(section.contains("weft pool statistics"), "{section}");
                let row: Vec<&str> = section
                    .lines()
                    .find(|l| l.contains("<native>") && l.contains("parallel_map"))
                    .unwrap_or_else(|| panic!("rank {rank}: no call-site row: {section}"))
                    .split_whitespace()
                    .collect();
                assert_eq!(
                    (row[2], row[3]),
                    (chunks.to_string().as_str(), items.to_string().as_str()),
                    "rank {rank}: {section}"
                );
            }
            // Rank 0's own tables follow its label (printed by the runtime).
            let own = rank_section(e, 0).expect("rank 0");
            assert!(own.contains("live handles at exit"), "{own}");
        }
        // Without --stats: no tables, from any rank.
        let r = mpirun(&dir, &[(3, vec!["--mpi", "x.weft"])]);
        assert_eq!((r.status, r.stdout.as_str()), (0, "1770\n"), "{}", r.stderr);
        assert!(!r.stderr.contains("--- rank"), "{}", r.stderr);
        assert!(!r.stderr.contains("statistics"), "{}", r.stderr);
    }

    #[test]
    fn exit_on_rank_0_ends_every_rank_with_its_status() {
        if !have_mpirun("exit_on_rank_0_ends_every_rank_with_its_status") {
            return;
        }
        let dir = scratch(
            "exit0",
            &[(
                "x.weft",
                "print(sum(parallel_map(range(50), fn(x) { x }, {\"chunk_size\": 5})))\nexit(5)\n",
            )],
        );
        let r = mpirun(&dir, &[(3, vec!["--mpi", "x.weft"])]);
        assert_eq!(r.status, 5, "{}", r.stderr);
        assert_eq!(r.stdout, "1225\n");
        // Every rank finished MPI properly: no abort.
        assert!(!r.stderr.contains("MPI_ABORT"), "{}", r.stderr);
    }

    #[test]
    fn ranks_running_different_scripts_stop_with_2_naming_the_rank() {
        if !have_mpirun("ranks_running_different_scripts_stop_with_2_naming_the_rank") {
            return;
        }
        let dir = scratch(
            "mismatch",
            &[
                ("a.weft", "print(parallel_map(range(3), fn(x) { x }))\n"),
                ("b.weft", "print(parallel_map(range(3), fn(x) { x + 1 }))\n"),
                ("c.weft", "this is ( not weft\n"),
            ],
        );
        let r = mpirun(
            &dir,
            &[(2, vec!["--mpi", "a.weft"]), (1, vec!["--mpi", "b.weft"])],
        );
        assert_eq!(r.status, 2, "{}", r.stderr);
        assert!(r.stdout.is_empty(), "nothing ran: {}", r.stdout);
        assert!(
            r.stderr.contains("rank 2 (on ") && r.stderr.contains("compiled a different program"),
            "{}",
            r.stderr
        );
        assert!(!r.stderr.contains("rank 1 (on "), "{}", r.stderr);
        let r = mpirun(
            &dir,
            &[(1, vec!["--mpi", "a.weft"]), (1, vec!["--mpi", "c.weft"])],
        );
        assert_eq!(r.status, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains("rank 1 (on ")
                && r.stderr.contains("could not compile the script: c.weft:1:"),
            "{}",
            r.stderr
        );
        // Rank 0's own syntax error: printed as without MPI, status 1.
        let r = mpirun(&dir, &[(2, vec!["--mpi", "c.weft"])]);
        assert_eq!(r.status, 1, "{}", r.stderr);
        assert!(r.stderr.contains("c.weft:1:"), "{}", r.stderr);
    }

    #[test]
    fn a_captured_atom_is_refused_before_anything_runs() {
        if !have_mpirun("a_captured_atom_is_refused_before_anything_runs") {
            return;
        }
        let dir = scratch(
            "atom",
            &[(
                "x.weft",
                r#"fn make() {
    let cache = [1, 2, atom(3)]
    fn(x) { print("ran", x)
        x + len(cache) }
}
let f = make()
try { parallel_map(range(10), f) } catch e { print(e.kind, e.message) }
let hits = atom(0)
parallel_for_each(range(10), fn(x) { hits.add(1) })
"#,
            )],
        );
        let r = mpirun(&dir, &[(2, vec!["--mpi", "x.weft"])]);
        assert_eq!(r.status, 1, "{}", r.stderr);
        assert_eq!(
            r.stdout,
            "TypeError parallel_map() under --mpi: captured 'cache'[2] is an atom; \
             tasks, channels and atoms cannot cross ranks\n"
        );
        assert!(
            r.stderr.contains("error: TypeError: parallel_for_each() under --mpi: module variable 'hits' is an atom"),
            "{}",
            r.stderr
        );
    }

    #[test]
    fn usage_errors_and_a_single_rank() {
        if !have_mpirun("usage_errors_and_a_single_rank") {
            return;
        }
        let dir = scratch(
            "single",
            &[("x.weft", "print(parallel_map(range(4), fn(x) { x * x }))\n")],
        );
        // One rank (also what `weft --mpi` alone gives): runs as usual.
        let r = mpirun(&dir, &[(1, vec!["--mpi", "x.weft"])]);
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (0, "[0, 1, 4, 9]\n"),
            "{}",
            r.stderr
        );
        let r = mpirun(
            &dir,
            &[(2, vec!["--mpi", "-e", "print(parallel_map(range(3), str))"])],
        );
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (0, "[\"0\", \"1\", \"2\"]\n"),
            "{}",
            r.stderr
        );
        let r = mpirun(&dir, &[(2, vec!["--mpi", "missing.weft"])]);
        assert_eq!(r.status, 2, "{}", r.stderr);
        assert!(
            r.stderr.contains("cannot open 'missing.weft'"),
            "{}",
            r.stderr
        );
        let r = common::weft_in(&dir, &["--mpi"], &[], "", Duration::from_secs(20));
        assert_eq!(r.status, 2, "{}", r.stderr);
        assert!(r.stderr.contains("--mpi needs a script"), "{}", r.stderr);
    }

    /// The pids of the weft processes running `script` (by command line),
    /// with their rank (from OpenMPI's environment).
    fn ranks_of(script: &str) -> Vec<(u32, String)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if !cmdline.contains("--mpi") || !cmdline.contains(script) || cmdline.contains("mpirun")
            {
                continue;
            }
            let env = std::fs::read(entry.path().join("environ")).unwrap_or_default();
            let rank = String::from_utf8_lossy(&env)
                .split('\0')
                .find_map(|kv| kv.strip_prefix("OMPI_COMM_WORLD_RANK=").map(str::to_string))
                .unwrap_or_default();
            out.push((pid, rank));
        }
        out
    }

    /// Starts `mpirun` on `script` in `dir`, waits until every rank is up
    /// and rank 0 printed its first line, runs `act`, and returns what
    /// mpirun did.
    fn interrupt(dir: &Path, script: &str, act: impl FnOnce(u32, &[(u32, String)])) -> Run {
        let weft = env!("CARGO_BIN_EXE_weft");
        let mut child = Command::new("mpirun")
            .args([
                "--allow-run-as-root",
                "--oversubscribe",
                "--bind-to",
                "none",
                "-np",
                "2",
            ])
            .args([weft, "--mpi", script])
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("mpirun starts");
        let mut out = child.stdout.take().expect("stdout");
        let mut err = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let o = std::thread::spawn(move || {
            let mut s = Vec::new();
            let mut buf = [0u8; 256];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.extend_from_slice(&buf[..n]);
                let _ = tx.send(());
            }
            String::from_utf8_lossy(&s).into_owned()
        });
        let e = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        rx.recv_timeout(LIMIT)
            .expect("rank 0 printed that the work started");
        let ranks = ranks_of(script);
        assert_eq!(ranks.len(), 2, "{ranks:?}");
        act(child.id(), &ranks);
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            if start.elapsed() > Duration::from_secs(20) {
                let _ = child.kill();
                panic!("mpirun did not end after the interruption");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        // Give mpirun's children a moment to be reaped.
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            ranks_of(script).is_empty(),
            "ranks left running: {:?}",
            ranks_of(script)
        );
        Run {
            status: status.code().unwrap_or(-1),
            stdout: o.join().unwrap_or_default(),
            stderr: e.join().unwrap_or_default(),
        }
    }

    const LONG: &str = "print(\"started\")\nfn f(x) {\n let i = 0\n while i < 1000000 { i += 1 }\n x }\nprint(len(parallel_map(range(100000), f)))\n";

    #[test]
    fn a_rank_that_dies_ends_the_job_with_a_non_zero_status() {
        if !have_mpirun("a_rank_that_dies_ends_the_job_with_a_non_zero_status") {
            return;
        }
        let dir = scratch("dies", &[("dies.weft", LONG)]);
        let r = interrupt(&dir, "dies.weft", |_, ranks| {
            let (pid, _) = ranks.iter().find(|(_, r)| r == "1").expect("rank 1");
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        });
        assert_ne!(r.status, 0, "{}", r.stderr);
        assert!(r.stderr.contains("rank 1"), "{}", r.stderr);
        assert_eq!(r.stdout, "started\n");
    }

    #[test]
    fn ctrl_c_on_mpirun_stops_every_rank() {
        if !have_mpirun("ctrl_c_on_mpirun_stops_every_rank") {
            return;
        }
        let dir = scratch("ctrlc", &[("ctrlc.weft", LONG)]);
        let r = interrupt(&dir, "ctrlc.weft", |mpirun, _| {
            let _ = Command::new("kill")
                .args(["-INT", &mpirun.to_string()])
                .status();
        });
        assert_ne!(r.status, 0, "{}", r.stderr);
        assert_eq!(r.stdout, "started\n");
    }

    #[test]
    fn auto_workers_share_the_cpus_among_the_ranks_of_a_host() {
        if !have_mpirun("auto_workers_share_the_cpus_among_the_ranks_of_a_host") {
            return;
        }
        let dir = scratch("workers", &[]);
        let code = "print(pool_config()[\"worker_count\"])";
        // --bind-to none: every rank may use every CPU; 2 ranks share them.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let r = mpirun(&dir, &[(2, vec!["--mpi", "-e", code])]);
        assert_eq!(r.status, 0, "{}", r.stderr);
        assert_eq!(r.stdout.trim(), (cpus / 2).max(1).to_string());
        // An explicit count wins.
        let r = mpirun(&dir, &[(2, vec!["--workers", "3", "--mpi", "-e", code])]);
        assert_eq!(r.stdout.trim(), "3", "{}", r.stderr);
    }
}
