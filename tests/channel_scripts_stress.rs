//! Stress tests of channels as scripts use them: exactly-once delivery and
//! per-sender order with 8 sender tasks and 8 receiver tasks, through one
//! channel (`send` / `for v in ch`), through `select` over four channels,
//! and in batches (`send_batch` / `recv_batch`); and a pipeline whose every
//! stage is a task, which must finish with one worker.
//!
//! Everything runs through the `weft` binary (the runtime is one pool per
//! process), with `WEFT_WORKERS` = 1, 2 and 8, under a time limit so that a
//! hang fails instead of blocking the suite. Each sender sends 100,000
//! values (800,000 in all): a run takes under a second in a release build
//! and a few seconds in a debug one. `WEFT_CHANNEL_STRESS_VALUES` overrides
//! the count per sender.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Worker counts every script runs with.
const WORKERS: [&str; 3] = ["1", "2", "8"];

/// How long one run may take before it counts as a hang.
const LIMIT: Duration = Duration::from_secs(180);

/// Sender and receiver tasks per run.
const SENDERS: usize = 8;
const RECEIVERS: usize = 8;

/// Values per sender: 100,000 (800,000 in all), or
/// `WEFT_CHANNEL_STRESS_VALUES`.
fn per_sender() -> usize {
    std::env::var("WEFT_CHANNEL_STRESS_VALUES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// The stress script: `weft stress.weft MODE SENDERS RECEIVERS PER_SENDER`.
/// Sender `s` sends `s * 10^9 + i` for `i` in `0..PER_SENDER`; the
/// receivers return what they got, in the order they got it, and the main
/// script counts values never received, received twice, and received out
/// of their sender's order (by any one receiver).
const STRESS_SCRIPT: &str = r#"# args: MODE SENDERS RECEIVERS PER_SENDER
#   single: one channel; send / for v in ch
#   select: the senders spread over 4 channels; receivers select over all
#   batch:  one channel; send_batch of 64 / recv_batch of 50
#   unbuffered: one channel(0); send / for v in ch
#   mixed:  senders spread over 4 channels of 16; one relay task per channel
#           forwards to its own channel(0), each step a select offering to
#           receive the next value and to send the oldest one it holds;
#           receivers select over the 4 relay outputs
let a = args()
let mode = a[0]
let senders = int(a[1])
let receivers = int(a[2])
let per = int(a[3])
let base = 1_000_000_000

fn sender(out, id, per) {
  let first = id * base
  for i in range(per) { out.send(first + i) }
}

fn batch_sender(out, id, per) {
  let first = id * base
  let batch = []
  for i in range(per) {
    batch.push(first + i)
    if len(batch) == 64 {
      out.send_batch(batch)
      batch = []
    }
  }
  if len(batch) > 0 { out.send_batch(batch) }
}

fn receiver(inp) {
  let got = []
  for v in inp { got.push(v) }
  got
}

fn batch_receiver(inp) {
  let got = []
  let b = inp.recv_batch(50)
  while len(b) > 0 {
    got.extend(b)
    b = inp.recv_batch(50)
  }
  got
}

fn select_receiver(chs) {
  let got = []
  let open = chs
  while len(open) > 0 {
    let r = select(open)
    if r[1] == nil {
      open = open.slice(0, r[0]) + open.slice(r[0] + 1)
    } else {
      got.push(r[1])
    }
  }
  got
}

# Forwards `inp` to `out` in order, holding what `out` has not taken yet:
# while it holds a value, each step selects between receiving the next one
# and sending the oldest one.
fn relay(inp, out) {
  let held = []
  let head = 0
  let open = true
  while open or head < len(held) {
    if head == len(held) {
      let v = inp.recv()
      if v == nil { open = false } else { held.push(v) }
    } else if not open {
      out.send(held[head])
      head += 1
    } else {
      let r = select([inp, [out, held[head]]])
      if r[0] == 1 { head += 1 }
      else if r[1] == nil { open = false }
      else { held.push(r[1]) }
    }
    if head > 4096 {
      held = held.slice(head)
      head = 0
    }
  }
  out.close()
}

let nchans = if mode == "select" or mode == "mixed" { 4 } else { 1 }
let chans = []
for i in range(nchans) {
  if mode == "unbuffered" { chans.push(channel(0)) }
  else if mode == "mixed" { chans.push(channel(16)) }
  else { chans.push(channel(256)) }
}
let outs = []
let relays = []
if mode == "mixed" {
  for c in chans {
    let out = channel(0)
    outs.push(out)
    relays.push(spawn(relay, c, out))
  }
}

let rtasks = []
for r in range(receivers) {
  if mode == "select" { rtasks.push(spawn(select_receiver, chans)) }
  else if mode == "mixed" { rtasks.push(spawn(select_receiver, outs)) }
  else if mode == "batch" { rtasks.push(spawn(batch_receiver, chans[0])) }
  else { rtasks.push(spawn(receiver, chans[0])) }
}
let stasks = []
for s in range(senders) {
  let out = chans[s % nchans]
  if mode == "batch" { stasks.push(spawn(batch_sender, out, s, per)) }
  else { stasks.push(spawn(sender, out, s, per)) }
}
await_all(stasks)
for c in chans { c.close() }
await_all(relays)
let results = await_all(rtasks)

# Every value once, and each receiver sees each sender's values in order.
let seen = [false] * (senders * per)
let total = 0
let dups = 0
let disorder = 0
for got in results {
  let last = [-1] * senders
  for v in got {
    let s = v // base
    let i = v % base
    if i <= last[s] { disorder += 1 }
    last[s] = i
    let k = s * per + i
    if seen[k] { dups += 1 }
    seen[k] = true
    total += 1
  }
}
let missing = 0
for x in seen { if not x { missing += 1 } }
print(format("mode={} received={} missing={} duplicates={} out_of_order={}", mode, total, missing, dups, disorder))
"#;

/// A pipeline of tasks: a source, eight `+1` stages and a sink, linked by
/// channels of capacity 1, so every stage blocks often.
const PIPELINE_SCRIPT: &str = r#"
fn source(out, n) {
  for i in range(n) { out.send(i) }
  out.close()
}
fn stage(inp, out) {
  for v in inp { out.send(v + 1) }
  out.close()
}
fn sink(inp) {
  let n = 0
  let total = 0
  let last = -1
  let ordered = true
  for v in inp {
    if v <= last { ordered = false }
    last = v
    n += 1
    total += v
  }
  [n, total, ordered]
}
let n = int(args()[0])
let chans = range(10).map(fn(i) { channel(1) })
let tasks = [spawn(sink, chans[9])]
for i in range(9) { tasks.push(spawn(stage, chans[i], chans[i + 1])) }
tasks.push(spawn(source, chans[0], n))
print(await(tasks[0]))
await_all(tasks)
"#;

/// Runs `weft ARGS...` in `dir` with `WEFT_WORKERS=workers` (and no other
/// inherited `WEFT_*`); panics on a hang.
fn weft(dir: &Path, args: &[&str], workers: &str) -> common::Run {
    common::weft_in(dir, args, &[("WEFT_WORKERS", workers)], "", LIMIT)
}

/// A fresh directory holding `script` as `NAME.weft`.
fn scratch(name: &str, script: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("channel_scripts_stress")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    std::fs::write(dir.join(format!("{name}.weft")), script).expect("write script");
    dir
}

/// Runs the stress script in `mode` with each worker count and checks that
/// every value arrived exactly once and in per-sender order.
fn exactly_once(mode: &str) {
    let per = per_sender();
    let dir = scratch(mode, STRESS_SCRIPT);
    let script = format!("{mode}.weft");
    let (senders, receivers, per_s) = (SENDERS.to_string(), RECEIVERS.to_string(), per.to_string());
    let expected = format!(
        "mode={mode} received={} missing=0 duplicates=0 out_of_order=0\n",
        SENDERS * per
    );
    for w in WORKERS {
        let start = Instant::now();
        let r = weft(&dir, &[&script, mode, &senders, &receivers, &per_s], w);
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (0, expected.as_str()),
            "{mode} with {w} workers; stderr:\n{}",
            r.stderr
        );
        eprintln!("{mode}, {w} workers: {:.2?}", start.elapsed());
    }
}

#[test]
fn one_channel_exactly_once_in_order() {
    exactly_once("single");
}

#[test]
fn select_exactly_once_in_order() {
    exactly_once("select");
}

#[test]
fn batches_exactly_once_in_order() {
    exactly_once("batch");
}

#[test]
fn unbuffered_exactly_once_in_order() {
    exactly_once("unbuffered");
}

#[test]
fn mixed_select_send_and_receive_exactly_once_in_order() {
    exactly_once("mixed");
}

/// The checker notices a lost value and a duplicated one: senders that
/// skip value 3, or send it twice, must be reported.
#[test]
fn checker_reports_missing_and_duplicated_values() {
    let send_loop = "for i in range(per) { out.send(first + i) }";
    assert!(
        STRESS_SCRIPT.contains(send_loop),
        "the sender loop was not found"
    );
    let cases = [
        (
            "lossy",
            "for i in range(per) { if i != 3 { out.send(first + i) } }",
            "2",
            "mode=single received=18 missing=2 duplicates=0 out_of_order=0\n",
        ),
        (
            "dup",
            "for i in range(per) { out.send(first + i); if i == 3 { out.send(first + i) } }",
            // One receiver, so the repeat is also out of order.
            "1",
            "mode=single received=22 missing=0 duplicates=2 out_of_order=2\n",
        ),
    ];
    for (name, body, receivers, expected) in cases {
        let dir = scratch(name, &STRESS_SCRIPT.replace(send_loop, body));
        let script = format!("{name}.weft");
        let r = weft(&dir, &[&script, "single", "2", receivers, "10"], "2");
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (0, expected),
            "{name}; stderr:\n{}",
            r.stderr
        );
    }
}

#[test]
fn pipeline_of_tasks_completes_with_any_worker_count() {
    let n: usize = if cfg!(debug_assertions) {
        2_000
    } else {
        20_000
    };
    let dir = scratch("pipeline", PIPELINE_SCRIPT);
    // Values 0..n, each +1 nine times.
    let total = n * (n - 1) / 2 + 9 * n;
    let expected = format!("[{n}, {total}, true]\n");
    for w in WORKERS {
        let r = weft(&dir, &["pipeline.weft", &n.to_string()], w);
        assert_eq!(
            (r.status, r.stdout.as_str()),
            (0, expected.as_str()),
            "pipeline with {w} workers; stderr:\n{}",
            r.stderr
        );
    }
}
