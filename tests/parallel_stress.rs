//! Stress tests of `parallel_map` / `parallel_filter` / `parallel_for_each`
//! / `parallel_reduce` through the `weft` binary, with `WEFT_WORKERS` = 1,
//! 2 and 8: large inputs, deep nesting, errors at many positions, uneven
//! (triangular) loads. Expected values are computed here in Rust. Every run
//! has a deadline, so a deadlock fails the test instead of hanging it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const WORKERS: [&str; 3] = ["1", "2", "8"];
const DEADLINE: Duration = Duration::from_secs(120);

/// Runs `code` with `weft -e` and `WEFT_WORKERS=workers`; returns stdout,
/// or panics with stderr if the script failed or ran past the deadline.
fn run(workers: &str, code: &str) -> String {
    let (status, stdout, stderr) = run_raw(workers, code);
    assert!(
        status == Some(0),
        "WEFT_WORKERS={workers}: status {status:?}\n--- stderr\n{stderr}\n--- script\n{code}"
    );
    stdout
}

/// As [`run`], returning (exit status, stdout, stderr) whatever happened.
fn run_raw(workers: &str, code: &str) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .arg("-e")
        .arg(code)
        .env_remove("WEFT_CONFIG")
        .env("WEFT_WORKERS", workers)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weft starts");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).ok();
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).ok();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > DEADLINE {
            child.kill().ok();
            child.wait().ok();
            panic!("WEFT_WORKERS={workers}: no result after {DEADLINE:?} (deadlock?)\n{code}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let stdout = reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    (status.code(), stdout, stderr)
}

/// The Weft `work(x, k)` used by several scripts, mirrored in Rust.
const WORK: &str = "
fn work(x, k) {
    let acc = x
    let i = 0
    while i < k {
        acc = (acc * 31 + i) % 1_000_003
        i += 1
    }
    acc
}
";

fn work(x: i64, k: i64) -> i64 {
    let mut acc = x;
    for i in 0..k {
        acc = (acc * 31 + i) % 1_000_003;
    }
    acc
}

#[test]
fn large_inputs_give_the_sequential_results() {
    let n: i64 = 1_000_000;
    let code = format!(
        "{WORK}
let a = parallel_map(range({n}), fn(x) {{ x * 3 + 1 }})
print(len(a), sum(a))
let xs = list(range(200_000))
let b = parallel_map(xs, fn(x) {{ work(x, 10) }})
print(len(b), sum(b))
print(len(parallel_filter(range({n}), fn(x) {{ x % 13 == 5 }})))
print(parallel_reduce(range({n}), fn(a, b) {{ a + b }}, 0))
let count = atom(0)
parallel_for_each(range(300_000), fn(x) {{ count.add(1) }})
print(count.get())
let s = \"weft\" * 50_000
print(len(parallel_filter(s, fn(c) {{ c == \"f\" }})), parallel_reduce(parallel_map(s, fn(c) {{ 1 }}), fn(a, b) {{ a + b }}, 0))
"
    );
    let sum_a: i64 = (0..n).map(|x| x * 3 + 1).sum();
    let sum_b: i64 = (0..200_000).map(|x| work(x, 10)).sum();
    let filtered = (0..n).filter(|x| x % 13 == 5).count();
    let expect = format!(
        "{n} {sum_a}\n200000 {sum_b}\n{filtered}\n{}\n300000\n50000 200000\n",
        n * (n - 1) / 2
    );
    for w in WORKERS {
        assert_eq!(run(w, &code), expect, "WEFT_WORKERS={w}");
    }
}

#[test]
fn nested_calls_four_deep_finish_and_keep_order() {
    // chunk_size 1 forces a split at every level; the automatic variant
    // has enough work per item to split too.
    let code = format!(
        "{WORK}
let one = {{\"chunk_size\": 1}}
let r = parallel_map(range(3), fn(a) {{
    parallel_map(range(3), fn(b) {{
        parallel_map(range(3), fn(c) {{
            parallel_reduce(range(4), fn(x, y) {{ x + y }}, 0, one) + a * 100 + b * 10 + c
        }}, one)
    }}, one)
}}, one)
print(r)
let auto = parallel_map(range(4), fn(a) {{
    parallel_reduce(parallel_map(range(6), fn(b) {{
        parallel_reduce(parallel_map(range(200), fn(c) {{ work(a + b + c, 40) }}), fn(x, y) {{ x + y }}, 0)
    }}), fn(x, y) {{ x + y }}, 0)
}})
print(auto)
let t = spawn(fn() {{ parallel_map(range(8), fn(i) {{ await(spawn(fn() {{ parallel_map(range(50), fn(j) {{ work(i * j, 20) }}) }})) }}) }})
print(sum(await(t).map(sum)))
"
    );
    let mut r = Vec::new();
    for a in 0..3 {
        let mut ra = Vec::new();
        for b in 0..3 {
            let rb: Vec<String> = (0..3)
                .map(|c| (a * 100 + b * 10 + c + 6).to_string())
                .collect();
            ra.push(format!("[{}]", rb.join(", ")));
        }
        r.push(format!("[{}]", ra.join(", ")));
    }
    let auto: Vec<String> = (0..4)
        .map(|a| {
            (0..6)
                .map(|b| (0..200).map(|c| work(a + b + c, 40)).sum::<i64>())
                .sum::<i64>()
                .to_string()
        })
        .collect();
    let tasks: i64 = (0..8)
        .map(|i| (0..50).map(|j| work(i * j, 20)).sum::<i64>())
        .sum();
    let expect = format!("[{}]\n[{}]\n{tasks}\n", r.join(", "), auto.join(", "));
    for w in WORKERS {
        assert_eq!(run(w, &code), expect, "WEFT_WORKERS={w}");
    }
}

#[test]
fn the_first_error_in_input_order_is_thrown_wherever_it_is() {
    let n = 50_000;
    // Failing positions, and the ones after them that also fail.
    let cases: [&[i64]; 7] = [
        &[0],
        &[1],
        &[n - 1],
        &[n / 2, n / 2 + 1, n - 1],
        &[31_337, 7],
        &[4, 5, 6, 7, 8, 9],
        &[12_345, 40_000, 49_000],
    ];
    let mut code = format!("{WORK}\n");
    code.push_str(
        "fn first(thunk) { try { thunk(); \"none\" } catch e { e.message } }
fn failing(bad) { fn(x) { if bad.contains(x) { throw \"bad \" + str(x) }; work(x, 15) } }
",
    );
    let mut expect = String::new();
    for bad in cases {
        let list = format!("{bad:?}");
        let lowest = bad.iter().min().unwrap();
        for opts in ["{}", "{\"chunk_size\": 1}", "{\"chunk_size\": 999}"] {
            code.push_str(&format!(
                "print(first(fn() {{ parallel_map(range({n}), failing({list}), {opts}) }}))\n\
                 print(first(fn() {{ parallel_for_each(range({n}), failing({list}), {opts}) }}))\n\
                 print(first(fn() {{ parallel_filter(list(range({n})), failing({list}), {opts}) }}))\n"
            ));
            for _ in 0..3 {
                expect.push_str(&format!("bad {lowest}\n"));
            }
        }
    }
    // reduce: a string item makes `+` fail at that item.
    for pos in [0, 1, 999, 25_000, n - 1] {
        code.push_str(&format!(
            "let items{pos} = list(range({n}))\nitems{pos}[{pos}] = \"s\"\n\
             print(first(fn() {{ parallel_reduce(items{pos}, fn(a, b) {{ if type(b) == \"string\" {{ throw \"at \" + str(a) }}; a + b }}, 0) }}) != \"none\")\n"
        ));
        expect.push_str("true\n");
    }
    for w in WORKERS {
        assert_eq!(run(w, &code), expect, "WEFT_WORKERS={w}");
    }
}

#[test]
fn triangular_and_reversed_loads_give_the_sequential_results() {
    let n = 3000;
    let code = format!(
        "{WORK}
let tri = parallel_map(range({n}), fn(i) {{ work(i, i) }})
print(sum(tri))
let rev = parallel_map(range({n}), fn(i) {{ work(i, {n} - i) }})
print(sum(rev))
let spiky = parallel_map(range({n}), fn(i) {{ if i % 500 == 0 {{ work(i, 200_000) }} else {{ work(i, 3) }} }})
print(sum(spiky))
let r = parallel_reduce(range({n}), fn(a, b) {{ a + work(b, b % 700) }}, 0)
print(r)
"
    );
    let tri: i64 = (0..n).map(|i| work(i, i)).sum();
    let rev: i64 = (0..n).map(|i| work(i, n - i)).sum();
    let spiky: i64 = (0..n)
        .map(|i| {
            if i % 500 == 0 {
                work(i, 200_000)
            } else {
                work(i, 3)
            }
        })
        .sum();
    let expect_head = format!("{tri}\n{rev}\n{spiky}\n");
    for w in WORKERS {
        let out = run(w, &code);
        assert!(out.starts_with(&expect_head), "WEFT_WORKERS={w}: {out}");
        // `a + work(b, ...)` is not associative across parts (the combine
        // calls `work` on a partial sum), so only check that it finished.
        assert_eq!(out.lines().count(), 4, "WEFT_WORKERS={w}: {out}");
    }
}

#[test]
fn an_uncaught_error_exits_with_status_1_and_the_item_trace() {
    let code = "fn check(x) {\n    if x >= 777 {\n        throw \"bad \" + str(x)\n    }\n    x\n}\nparallel_map(range(100_000), check)\n";
    for w in WORKERS {
        let (status, stdout, stderr) = run_raw(w, code);
        assert_eq!(status, Some(1), "WEFT_WORKERS={w}: {stderr}");
        assert_eq!(stdout, "");
        assert!(stderr.contains("error: Error: bad 777"), "{stderr}");
        assert!(stderr.contains("at check (<eval>:3"), "{stderr}");
        assert!(stderr.contains("at <main> (<eval>:7"), "{stderr}");
    }
}

#[test]
fn streams_under_churn_finish_with_every_result_or_the_first_error() {
    // Many short composed streams, some failing at varying positions, some
    // closed early by their consumer, some run inside tasks and items.
    let code = "
fn numbers(n, cap) {
    let ch = channel(cap)
    spawn(fn() { for i in range(n) { ch.send(i) }; ch.close() })
    ch
}
let total = 0
let errors = 0
for round in range(60) {
    let bad = round * 37 % 500
    let out = parallel_map(
        parallel_filter(numbers(500, 1 + round % 7), fn(x) { x % 2 == 0 }, {\"in_flight\": 1 + round % 5}),
        fn(x) { if round % 3 == 0 and x == bad { throw \"bad\" }; x + 1 },
        {\"ordered\": round % 4 != 1})
    let got = 0
    try {
        for v in out {
            got += v
            if round % 5 == 2 and got > 1000 { out.close() }
        }
    } catch e {
        errors += 1
    }
    total += got
}
# Streams started inside tasks and inside items.
let ts = list(range(8)).map(fn(k) { spawn(fn() {
    let s = 0
    for v in parallel_map(numbers(300, 4), fn(x) { x * k }) { s += v }
    s
}) })
let inner = parallel_map(range(6), fn(k) { parallel_reduce(numbers(200, 3), fn(a, b) { a + b }, 0) + k })
print(total > 0, errors, await_all(ts) == list(range(8)).map(fn(k) { 44850 * k }), inner)
";
    for workers in WORKERS {
        let out = run(workers, code);
        // Rounds 0, 3, ... 57 fail when the bad item is even (kept by the
        // filter), unless the consumer closes the output first: rounds
        // with round % 5 == 2 close once the sum passes 1000, that is
        // after the items 0, 2, ..., 62 (1 + 3 + ... + 63 = 1024).
        let failing = (0..60)
            .filter(|r| {
                let bad = r * 37 % 500;
                r % 3 == 0 && bad % 2 == 0 && !(r % 5 == 2 && bad > 62)
            })
            .count();
        assert_eq!(
            out.trim(),
            format!("true {failing} true [19900, 19901, 19902, 19903, 19904, 19905]"),
            "WEFT_WORKERS={workers}"
        );
    }
}
