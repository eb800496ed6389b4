//! Bodies of `scope` and `within` run by tasks park (issue 9): many more
//! tasks waiting inside such bodies than the pool has threads, spare
//! threads included, still finish; a deadline reaches a parked body.
//! Through the `weft` binary with 1, 2 and 8 workers and
//! `max_spare_workers = 0` (a body holding its thread could never be
//! replaced), each run under a time limit that names what hung.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

const SCRIPT: &str = r#"
let n = int(args()[0])
let half = int(n / 2)
let gate = channel()
let ts = range(n).map(fn(i) {
    spawn(fn() {
        if i % 2 == 0 {
            within(60, fn() { scope(fn(s) { let k = s.spawn(fn() { gate.recv() }); gate.recv() + await(k) }) })
        } else {
            scope(fn(s) { within(60, fn() { gate.recv() * 2 }) })
        }
    })
})
let t0 = time()
while pool_stats().parked < n + half {
    if time() - t0 > 30 { throw "hung: the bodies did not all park" }
    sleep(0.002)
}
print(pool_stats().blocked)
# One value per receive: n/2 tasks take 2, n/2 take 1.
gate.send_batch(range(n + half).map(fn(i) { 1 }))
print(sum(await_all(ts)))
# A deadline reaching bodies parked in recv: Timeout once per task.
let never = channel()
let late = range(n).map(fn(i) {
    spawn(fn() { try { within(0.2, fn() { scope(fn(s) { never.recv() }) }) } catch e { e.kind } })
})
let kinds = await_all(late)
print(len(kinds), all(kinds.map(fn(k) { k == "Timeout" })))
"#;

fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("scope_park");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::fs::write(dir.join("bodies.weft"), SCRIPT).expect("write script");
    std::fs::write(
        dir.join("weft.toml"),
        "[thread_pool]\nmax_spare_workers = 0\n",
    )
    .expect("write config");
    dir
}

#[test]
fn many_bodies_parked_with_no_spare_threads() {
    let dir = scratch();
    let n = 400;
    for w in ["1", "2", "8"] {
        let r = common::weft_in(
            &dir,
            &["bodies.weft", &n.to_string()],
            &[("WEFT_WORKERS", w), ("WEFT_CONFIG", "weft.toml")],
            "",
            LIMIT,
        );
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (
                0,
                format!("0\n{}\n{n} true\n", n / 2 * 2 + n / 2 * 2).as_str()
            ),
            "{w} workers; stderr:\n{}",
            r.stderr
        );
    }
}
