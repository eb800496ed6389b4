//! Looking at the pool from a script: `pool_config`, `pool_stats`,
//! `worker_id`, `cpu_count` (ASYNC.md, "Introspection"). None of them
//! starts the pool.
//!
//! DECISIONS where ASYNC.md is silent:
//! - `pool_config()` maps each CONFIG.md key to its effective value
//!   (`worker_count` is `"auto"` or an int, `stack_size` a string such as
//!   `"16MiB"`), plus `source`: a map from each key to where its value came
//!   from (`default`, `detected`, `file weft.toml`, `env WEFT_WORKERS`,
//!   `flag --workers`, `api`), and `workers`: the resolved number of
//!   workers (what `"auto"` came to; the pool's size once it runs). With
//!   `numa_aware = true` it also has
//!   `pinning`: per worker, `"cpu C (node N)"` or `"unpinned: REASON"` once
//!   the pool has started, else the string `"not started"`.
//! - `pool_stats()` before the pool starts has `workers` (the number the
//!   pool will start) and zero counters. Besides ASYNC.md's keys it has
//!   `executed` (jobs run per worker) and `blocked` (threads blocked now),
//!   and for parked tasks: `parked` (tasks parked now), `parked_peak` (the
//!   most at once), `task_parks` (parks so far), `yields` (time slices
//!   that ended in a yield), `timers` (timers pending now: sleeps and
//!   timeouts of parked tasks) and `timers_armed` (timers so far).
//!   `failed` counts tasks that threw (or panicked); `cancelled` counts
//!   tasks cancelled before they started plus those stopped by
//!   cancellation while running.
//! - `worker_id()` on a spare thread (standing in for a blocked worker) is
//!   its slot number, `worker_count` or more.

use super::args::arity;
use crate::error::Result;
use crate::pool::{ConfigKey, ConfigValue, PinOutcome};
use crate::value::{Key, Map, NativeFn, Value};
use crate::vm::Vm;

/// The table of the introspection builtins (also fields of `async`).
pub(crate) static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "pool_config",
        f: pool_config,
    },
    NativeFn {
        name: "pool_stats",
        f: pool_stats,
    },
    NativeFn {
        name: "worker_id",
        f: worker_id,
    },
    NativeFn {
        name: "cpu_count",
        f: cpu_count,
    },
];

fn put(m: &mut Map, k: &str, v: Value) {
    m.insert(Key::str(k), v);
}

/// `pool_config()`: the effective config, with `source` (and `pinning`).
fn pool_config(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("pool_config", args, 0, 0)?;
    let config = crate::runtime::config();
    let mut m = Map::new();
    let mut sources = Map::new();
    for entry in config.entries() {
        let v = match &entry.value {
            ConfigValue::Int(n) => Value::Int(*n),
            ConfigValue::Bool(b) => Value::Bool(*b),
            ConfigValue::Str(s) => Value::from(s.as_str()),
        };
        put(&mut m, entry.name(), v);
        put(
            &mut sources,
            entry.name(),
            Value::from(entry.source.to_string()),
        );
    }
    // The resolved number, also when `worker_count` is "auto" (its source
    // is worker_count's).
    let workers = crate::runtime::stats().workers;
    put(&mut m, "workers", Value::Int(workers as i64));
    if let Some(src) = sources.get(&Key::str("worker_count")).cloned() {
        put(&mut sources, "workers", src);
    }
    put(&mut m, "source", Value::map(sources));
    if config.numa_aware() {
        let pinning = match crate::runtime::started_pool() {
            None => Value::from("not started"),
            Some(pool) => Value::list(
                pool.pinning()
                    .into_iter()
                    .map(|p| Value::from(pin_text(&p)))
                    .collect(),
            ),
        };
        put(&mut m, "pinning", pinning);
    }
    debug_assert!(ConfigKey::ALL.len() < m.len());
    Ok(Value::map(m))
}

fn pin_text(p: &PinOutcome) -> String {
    match p {
        PinOutcome::NotRequested => "not requested".to_string(),
        PinOutcome::Pinned { cpu, node } => format!("cpu {cpu} (node {node})"),
        PinOutcome::Unpinned { reason } => format!("unpinned: {reason}"),
    }
}

/// `pool_stats()`: the pool's counters (zeros before it starts).
fn pool_stats(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("pool_stats", args, 0, 0)?;
    let s = crate::runtime::stats();
    let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let mut m = Map::new();
    put(&mut m, "workers", int(s.workers as u64));
    put(&mut m, "spawned", int(s.spawned));
    put(&mut m, "completed", int(s.completed));
    put(&mut m, "failed", int(s.failed));
    put(&mut m, "cancelled", int(s.cancelled));
    put(&mut m, "stolen", int(s.stolen));
    put(&mut m, "parks", int(s.parks));
    put(&mut m, "spares", int(s.spares));
    put(
        &mut m,
        "busy_seconds",
        Value::list(s.busy_seconds.iter().map(|&b| Value::Float(b)).collect()),
    );
    put(
        &mut m,
        "executed",
        Value::list(s.executed.iter().map(|&n| int(n)).collect()),
    );
    put(&mut m, "blocked", int(s.blocked_now as u64));
    put(&mut m, "parked", int(s.parked as u64));
    put(&mut m, "parked_peak", int(s.parked_peak as u64));
    put(&mut m, "task_parks", int(s.task_parks));
    put(&mut m, "yields", int(s.yields));
    put(&mut m, "timers", int(s.timers as u64));
    put(&mut m, "timers_armed", int(s.timers_armed));
    Ok(Value::map(m))
}

/// `worker_id()`: this pool thread's index, or `nil` off the pool.
fn worker_id(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("worker_id", args, 0, 0)?;
    Ok(match crate::pool::current_worker_index() {
        Some(i) => Value::Int(i as i64),
        None => Value::Nil,
    })
}

/// `cpu_count()`: the logical CPUs this process may use.
fn cpu_count(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("cpu_count", args, 0, 0)?;
    Ok(Value::Int(crate::pool::available_cpus() as i64))
}
