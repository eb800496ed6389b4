//! The process-wide runtime under scripts: one thread pool, started on first
//! use (`weft -e 'print(1)'` starts no thread), configured once before that.
//!
//! The CLI calls [`configure`] with the layered `ThreadPoolConfig` (and the
//! `--trace` / `--stats` options) before the script runs; an embedder may
//! skip it and get the defaults. [`pool`] starts the pool the first time a
//! script needs it; [`started_pool`] answers without starting it.
//! [`finish`] (called by the CLI at exit, also on `exit(n)`) writes the
//! trace and prints the statistics table.
//!
//! # `--trace FILE`
//! The pool is started with an event hook that appends each event to a
//! buffer of the thread it happened on (one lock per thread, never
//! contended). At exit the buffers are written as Chrome trace-event JSON
//! (`{"traceEvents": [...]}`, timestamps in microseconds since the pool
//! started): one row (`tid`) per pool thread, named `worker N` (spares:
//! `spare N`); a `B`/`E` slice per job, named `task ID` for a spawned task
//! and `chunk` for a `join` half (parallel_map chunks); steals
//! (`steal from N`), parks and unparks as instant events. A job still
//! running at exit is closed at the last timestamp. Open the file in
//! Perfetto or chrome://tracing.

use crate::error::{Error, ErrorKind, Result};
use crate::pool::{Event, EventHook, EventKind, ThreadPool, ThreadPoolConfig};
use parking_lot::Mutex;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// Everything the runtime is configured with, fixed before the pool starts.
#[derive(Clone, Debug, Default)]
pub struct RuntimeOptions {
    /// The pool's configuration (already layered and validated).
    pub config: ThreadPoolConfig,
    /// `--trace FILE`: write a Chrome trace-event JSON here at exit.
    pub trace: Option<PathBuf>,
    /// `--stats`: print `pool_stats()` as a table on stderr at exit.
    pub stats: bool,
}

static OPTIONS: OnceLock<RuntimeOptions> = OnceLock::new();
static POOL: OnceLock<std::result::Result<ThreadPool, String>> = OnceLock::new();
static TRACE: OnceLock<Arc<TraceBuffer>> = OnceLock::new();

/// Fixes the runtime's options. Fails (handing them back) if they were
/// already fixed: by an earlier call, or by the pool having started with
/// the defaults.
pub fn configure(options: RuntimeOptions) -> std::result::Result<(), Box<RuntimeOptions>> {
    OPTIONS.set(options).map_err(Box::new)
}

/// The runtime's options (the defaults if [`configure`] was never called).
pub fn options() -> &'static RuntimeOptions {
    OPTIONS.get_or_init(RuntimeOptions::default)
}

/// The pool's configuration.
pub fn config() -> &'static ThreadPoolConfig {
    &options().config
}

/// The pool, started now if it was not yet. Fails (with an `Error` a script
/// can catch) only if the pool could not start, e.g. no thread could be
/// spawned.
#[inline]
pub fn pool() -> Result<&'static ThreadPool> {
    match POOL.get_or_init(start_pool) {
        Ok(pool) => Ok(pool),
        Err(why) => Err(Error::new(
            ErrorKind::Error,
            format!("the thread pool could not start: {why}"),
        )),
    }
}

#[cold]
fn start_pool() -> std::result::Result<ThreadPool, String> {
    let options = options();
    let config = options.config.clone();
    let started = if options.trace.is_some() {
        let slots = config.resolved_worker_count() + config.max_spare_workers();
        let buffer = TRACE.get_or_init(|| Arc::new(TraceBuffer::new(slots)));
        let sink = Arc::clone(buffer);
        let hook: EventHook = Arc::new(move |e: &Event| sink.record(e));
        ThreadPool::with_event_hook(config, hook)
    } else {
        ThreadPool::new(config)
    };
    started.map_err(|e| e.to_string())
}

/// The pool if it has started; never starts it.
pub fn started_pool() -> Option<&'static ThreadPool> {
    POOL.get().and_then(|p| p.as_ref().ok())
}

// ---------------------------------------------------------------------------
// Deadlock detection (the rule: `src/pool/quiescent/README.md`)

/// Main-script threads running Weft code and not in a watched wait.
static MAIN_ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// Work going on outside the runtime's knowledge that may still wake a
/// waiting script: a stream's reader thread, a running `os.run` child.
static OUTSIDE_WORK: AtomicUsize = AtomicUsize::new(0);

/// Counts as pending outside work (see [`outside_work`]) while it lives.
#[derive(Debug)]
#[must_use = "dropping it ends the outside work"]
pub struct OutsideWork(());

/// Marks work the runtime cannot see (a thread reading a file into a
/// channel, a child process a task waits for) as pending until the guard
/// is dropped: while any is pending, no wait is reported as `Deadlock`,
/// since that work may still wake it. Take the guard before the work can
/// be waited on, drop it after its last effect (the channel closed).
pub fn outside_work() -> OutsideWork {
    OUTSIDE_WORK.fetch_add(1, Ordering::SeqCst);
    OutsideWork(())
}

impl Drop for OutsideWork {
    fn drop(&mut self) {
        if OUTSIDE_WORK.fetch_sub(1, Ordering::SeqCst) == 1 {
            check_deadlock();
        }
    }
}

/// What to call when the main script can never be woken.
type DeadlockWake = Arc<dyn Fn() + Send + Sync>;

/// The main-script threads waiting now, by watch id.
static DEADLOCK_WATCHERS: Mutex<Vec<(u64, DeadlockWake)>> = Mutex::new(Vec::new());
static NEXT_WATCH: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static IS_MAIN_SCRIPT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as running a main script (a file, `-e` code, a REPL
/// entry, an embedder's [`Script::run`](crate::interp::Script::run)) until
/// dropped: its waits that only other code could end are watched for
/// deadlock.
#[derive(Debug)]
pub struct MainScript {
    outer: bool,
}

/// See [`MainScript`].
pub fn enter_main_script() -> MainScript {
    let outer = IS_MAIN_SCRIPT.with(|m| m.replace(true));
    if !outer {
        MAIN_ACTIVE.fetch_add(1, Ordering::SeqCst);
    }
    MainScript { outer }
}

impl Drop for MainScript {
    fn drop(&mut self) {
        IS_MAIN_SCRIPT.with(|m| m.set(self.outer));
        if !self.outer && MAIN_ACTIVE.fetch_sub(1, Ordering::SeqCst) == 1 {
            check_deadlock();
        }
    }
}

/// Whether this thread runs a main script ([`enter_main_script`]).
pub fn is_main_script() -> bool {
    IS_MAIN_SCRIPT.with(|m| m.get())
}

/// A watched wait of the main script, from [`watch_deadlock`]: while it
/// lives, the main script does not count as running, and `wake` is called
/// (from any thread, maybe more than once) if the whole runtime becomes
/// quiescent: no main script runs, and the pool (if started) is quiescent.
#[must_use = "dropping the watch ends it"]
pub struct DeadlockWatch {
    id: u64,
    _pool: Option<crate::pool::QuiescenceWatch>,
}

impl std::fmt::Debug for DeadlockWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeadlockWatch")
            .field("id", &self.id)
            .finish()
    }
}

/// Starts watching a wait of the main script (see [`DeadlockWatch`]); the
/// caller must have registered its wait first (so that anything that could
/// end it comes after). `None` on other threads: a task's waits park, and a
/// wait inside a native callback may be ended by anything.
pub fn watch_deadlock(wake: impl Fn() + Send + Sync + 'static) -> Option<DeadlockWatch> {
    if !is_main_script() {
        return None;
    }
    let id = NEXT_WATCH.fetch_add(1, Ordering::Relaxed);
    DEADLOCK_WATCHERS.lock().push((id, Arc::new(wake)));
    let pool = started_pool().map(|p| p.watch_quiescence(|| tell_if_deadlocked(true)));
    if MAIN_ACTIVE.fetch_sub(1, Ordering::SeqCst) == 1 {
        check_deadlock();
    }
    Some(DeadlockWatch { id, _pool: pool })
}

impl Drop for DeadlockWatch {
    fn drop(&mut self) {
        MAIN_ACTIVE.fetch_add(1, Ordering::SeqCst);
        DEADLOCK_WATCHERS.lock().retain(|(id, _)| *id != self.id);
    }
}

/// Tells the waiting main scripts if nothing can ever wake them.
fn check_deadlock() {
    tell_if_deadlocked(false);
}

/// As [`check_deadlock`]; `pool_quiet`: called by the pool, which has just
/// found itself quiescent (under its sleep lock: it must not be asked
/// again).
fn tell_if_deadlocked(pool_quiet: bool) {
    if MAIN_ACTIVE.load(Ordering::SeqCst) != 0 || OUTSIDE_WORK.load(Ordering::SeqCst) != 0 {
        return;
    }
    if !pool_quiet {
        if let Some(pool) = started_pool() {
            if !pool.is_quiescent() {
                return;
            }
        }
    }
    let wakes: Vec<DeadlockWake> = DEADLOCK_WATCHERS
        .lock()
        .iter()
        .map(|(_, w)| Arc::clone(w))
        .collect();
    for w in wakes {
        w();
    }
}

/// The `Deadlock` error for a main script waiting on `what` (`recv on
/// channel 3`, `await task 4`...): it names every parked task, what it
/// waits for, where it waits and where it was spawned.
pub fn deadlock_error(what: &str) -> Error {
    let parked = started_pool().map(|p| p.parked_tasks()).unwrap_or_default();
    let mut message = format!("the main script waits ({what}) and nothing can ever wake it");
    if parked.is_empty() {
        message.push_str(": no task is running or parked");
    } else {
        let n = parked.len();
        let _ = write!(
            message,
            "; {} parked, none can run:",
            if n == 1 {
                "the one task left is".to_string()
            } else {
                format!("all {n} tasks left are")
            }
        );
        for (id, what) in parked {
            let _ = write!(message, "\n  task {id}: {what}");
        }
    }
    Error::new(ErrorKind::Deadlock, message)
}

/// Script tasks that ended with an error other than their own
/// cancellation, and running tasks that stopped because they were
/// cancelled.
static TASKS_FAILED: AtomicU64 = AtomicU64::new(0);
static TASKS_CANCELLED: AtomicU64 = AtomicU64::new(0);

/// Counts a script task that ended with an error: `cancelled` if it
/// stopped because it was cancelled while running.
pub fn note_task_failure(cancelled: bool) {
    let counter = if cancelled {
        &TASKS_CANCELLED
    } else {
        &TASKS_FAILED
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

/// The pool's counters as scripts see them (`pool_stats()`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskStats {
    /// Whether the pool has started (all counters are 0 if not).
    pub started: bool,
    /// Worker threads (not counting spares).
    pub workers: usize,
    /// Tasks spawned.
    pub spawned: u64,
    /// Tasks that returned a value.
    pub completed: u64,
    /// Tasks that threw an error (or whose native code panicked).
    pub failed: u64,
    /// Tasks cancelled: before they started, or stopped while running.
    pub cancelled: u64,
    /// Jobs taken from another thread's deque.
    pub stolen: u64,
    /// Times a pool thread parked.
    pub parks: u64,
    /// Spare threads started to stand in for blocked workers.
    pub spares: u64,
    /// Job slices run per worker: a task's start and each resume after a
    /// park or yield, and each parallel chunk (the worker's slices in a
    /// `--trace`).
    pub executed: Vec<u64>,
    /// Job slices run by spare threads (standing in for blocked workers).
    pub spare_executed: u64,
    /// Task slices run by the main thread (a task it awaits, run inline).
    pub outside_executed: u64,
    /// Seconds each worker spent running jobs.
    pub busy_seconds: Vec<f64>,
    /// Threads blocked (sleep, channel, lock, input) right now.
    pub blocked_now: usize,
    /// Tasks parked right now (waiting, holding no thread).
    pub parked: usize,
    /// The most tasks parked at once.
    pub parked_peak: usize,
    /// Times a task parked.
    pub task_parks: u64,
    /// Times a task yielded at the end of its time slice.
    pub yields: u64,
    /// Timers pending right now (sleeping tasks, timeouts).
    pub timers: usize,
    /// Timers armed so far.
    pub timers_armed: u64,
}

/// A snapshot of the counters; zeros (and `started: false`) if the pool has
/// not started. Never starts it.
pub fn stats() -> TaskStats {
    let Some(pool) = started_pool() else {
        let workers = config().resolved_worker_count();
        return TaskStats {
            workers,
            executed: vec![0; workers],
            busy_seconds: vec![0.0; workers],
            ..TaskStats::default()
        };
    };
    let s = pool.stats();
    let failed = TASKS_FAILED.load(Ordering::Relaxed);
    let cancelled_running = TASKS_CANCELLED.load(Ordering::Relaxed);
    // The pool counts a task whose closure returned as completed, error or
    // not; panics (caught by the task wrapper) never reach it.
    let completed = s
        .completed
        .saturating_sub(failed)
        .saturating_sub(cancelled_running);
    TaskStats {
        started: true,
        workers: s.workers.len(),
        spawned: s.spawned,
        completed,
        failed: failed + s.failed,
        cancelled: s.cancelled + cancelled_running,
        stolen: s.stolen(),
        parks: s.parks(),
        spares: s.spares,
        executed: s.workers.iter().map(|w| w.executed).collect(),
        spare_executed: s.spare_totals.executed,
        outside_executed: s.outside_executed,
        busy_seconds: s.workers.iter().map(|w| w.busy.as_secs_f64()).collect(),
        blocked_now: s.blocked_now,
        parked: s.parked_now,
        parked_peak: s.parked_peak,
        task_parks: s.task_parks,
        yields: s.yields,
        timers: s.timers_now,
        timers_armed: s.timers_armed,
    }
}

/// The `--stats` table: one line per counter, then one per worker.
pub fn stats_table(s: &TaskStats) -> String {
    let mut out = String::from("weft pool statistics\n");
    let rows: [(&str, String); 11] = [
        ("workers", s.workers.to_string()),
        ("spawned", s.spawned.to_string()),
        ("completed", s.completed.to_string()),
        ("failed", s.failed.to_string()),
        ("cancelled", s.cancelled.to_string()),
        ("stolen", s.stolen.to_string()),
        ("parks", s.parks.to_string()),
        ("spares", s.spares.to_string()),
        ("parked", format!("{} (peak {})", s.parked, s.parked_peak)),
        ("task_parks", s.task_parks.to_string()),
        ("timers", format!("{} (armed {})", s.timers, s.timers_armed)),
    ];
    for (name, value) in rows {
        let _ = writeln!(out, "  {name:<10} {value:>12}");
    }
    let _ = writeln!(out, "  {:<10} {:>12} {:>12}", "worker", "jobs", "busy_s");
    for (i, (jobs, busy)) in s.executed.iter().zip(&s.busy_seconds).enumerate() {
        let _ = writeln!(out, "  {i:<10} {jobs:>12} {busy:>12.6}");
    }
    if s.spare_executed > 0 {
        let _ = writeln!(
            out,
            "  {:<10} {:>12} {:>12}",
            "spare", s.spare_executed, "-"
        );
    }
    if s.outside_executed > 0 {
        let _ = writeln!(
            out,
            "  {:<10} {:>12} {:>12}",
            "main", s.outside_executed, "-"
        );
    }
    out
}

/// End of the process: reports the failed tasks nobody awaited
/// (`warning: task N failed and was never awaited: ...`), writes the
/// `--trace` file and prints the `--stats` table, as configured. Called by the CLI once the script is done (also
/// by `exit(n)`); later calls do nothing. Problems writing the trace are
/// reported on stderr.
pub fn finish() {
    static DONE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    for warning in crate::stdlib::task_registry::unawaited_report() {
        eprintln!("{warning}");
    }
    if OPTIONS.get().is_none() {
        return;
    }
    let options = options();
    if let Some(path) = &options.trace {
        match (started_pool(), TRACE.get()) {
            (Some(pool), Some(buffer)) => {
                let json = buffer.to_json(pool.worker_count(), pool.outside_row(), pool.elapsed());
                if let Err(e) = std::fs::write(path, json) {
                    eprintln!("weft: --trace: cannot write '{}': {e}", path.display());
                }
            }
            _ => {
                // No pool, no events: still a valid (empty) trace.
                let json = TraceBuffer::new(0).to_json(0, 0, Duration::ZERO);
                if let Err(e) = std::fs::write(path, json) {
                    eprintln!("weft: --trace: cannot write '{}': {e}", path.display());
                }
            }
        }
    }
    if options.stats {
        let s = stats();
        if s.started {
            eprint!("{}", stats_table(&s));
        } else {
            eprintln!(
                "weft: --stats: the thread pool was not started (the script did no parallel work)"
            );
        }
        let live = crate::stdlib::handles::live();
        eprintln!("{}", crate::stdlib::handles::summary(live));
        eprint!("{}", crate::stdlib::parallel::stats_report());
    }
}

/// Pool events, one buffer per pool thread.
struct TraceBuffer {
    slots: Vec<Mutex<Vec<Event>>>,
    /// Events from threads beyond the expected slots (should not happen).
    overflow: Mutex<Vec<Event>>,
}

impl TraceBuffer {
    fn new(slots: usize) -> TraceBuffer {
        TraceBuffer {
            slots: (0..slots).map(|_| Mutex::new(Vec::new())).collect(),
            overflow: Mutex::new(Vec::new()),
        }
    }

    fn record(&self, e: &Event) {
        match self.slots.get(e.worker) {
            Some(slot) => slot.lock().push(*e),
            None => self.overflow.lock().push(*e),
        }
    }

    /// The Chrome trace-event JSON of everything recorded so far; row
    /// `outside` is threads outside the pool (the main script running a
    /// task it awaits). `exit` is when the trace ends (since the pool
    /// started): a slice still open then (a task running at exit) ends
    /// there and is marked `"unfinished": true`. A thread's park (from
    /// going to sleep to waking) is drawn as an `idle` slice.
    fn to_json(&self, workers: usize, outside: usize, exit: Duration) -> String {
        let mut events: Vec<Vec<Event>> = self.slots.iter().map(|s| s.lock().clone()).collect();
        for e in self.overflow.lock().iter() {
            if events.len() <= e.worker {
                events.resize(e.worker + 1, Vec::new());
            }
            events[e.worker].push(*e);
        }
        let end = events
            .iter()
            .flat_map(|v| v.iter().map(|e| e.at))
            .max()
            .unwrap_or(Duration::ZERO)
            .max(exit);
        let mut items: Vec<String> = vec![
            "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\"args\":{\"name\":\"weft pool\"}}"
                .to_string(),
        ];
        let slice = |name: &str, cat: &str, ph: char, ts: &str, tid: usize, args: &str| {
            format!(
                "{{\"name\":\"{name}\",\"cat\":\"{cat}\",\"ph\":\"{ph}\",\"ts\":{ts},\"pid\":1,\"tid\":{tid}{args}}}"
            )
        };
        let instant = |name: &str, cat: &str, ts: &str, tid: usize| {
            format!(
                "{{\"name\":\"{name}\",\"cat\":\"{cat}\",\"ph\":\"i\",\"s\":\"t\",\"ts\":{ts},\"pid\":1,\"tid\":{tid}}}"
            )
        };
        for (tid, list) in events.iter().enumerate() {
            if list.is_empty() && tid >= workers {
                continue;
            }
            let name = if tid < workers {
                format!("worker {tid}")
            } else if tid == outside {
                "main (outside the pool)".to_string()
            } else {
                format!("spare {tid}")
            };
            items.push(format!(
                "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"name\":\"{name}\"}}}}"
            ));
            items.push(format!(
                "{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"sort_index\":{tid}}}}}"
            ));
            // Open slices: (name, category, index of the B item, start ts).
            let mut open: Vec<(String, &str, usize, String)> = Vec::new();
            for e in list {
                let ts = micros(e.at);
                match e.kind {
                    EventKind::TaskStart { task } => {
                        let name = match task {
                            Some(id) => format!("task {id}"),
                            None => "chunk".to_string(),
                        };
                        items.push(slice(&name, "job", 'B', &ts, tid, ""));
                        open.push((name, "job", items.len() - 1, ts));
                    }
                    EventKind::TaskEnd { .. } => {
                        // Close an idle slice left open (none should be),
                        // then the job.
                        while let Some((name, cat, _, _)) = open.pop() {
                            items.push(slice(&name, cat, 'E', &ts, tid, ""));
                            if cat == "job" {
                                break;
                            }
                        }
                    }
                    EventKind::Steal { victim } => {
                        items.push(instant(&format!("steal from {victim}"), "steal", &ts, tid))
                    }
                    EventKind::TaskPark { task } | EventKind::TaskYield { task } => {
                        let what = if matches!(e.kind, EventKind::TaskPark { .. }) {
                            "park"
                        } else {
                            "yield"
                        };
                        let name = match task {
                            Some(id) => format!("{what} task {id}"),
                            None => what.to_string(),
                        };
                        items.push(instant(&name, "task", &ts, tid));
                    }
                    EventKind::Park => {
                        items.push(slice("idle", "idle", 'B', &ts, tid, ""));
                        open.push(("idle".to_string(), "idle", items.len() - 1, ts));
                    }
                    EventKind::Unpark => {
                        if open.last().is_some_and(|(_, cat, _, _)| *cat == "idle") {
                            open.pop();
                            items.push(slice("idle", "idle", 'E', &ts, tid, ""));
                        }
                    }
                }
            }
            // Still open at exit: a task running when the script ended.
            let ts = micros(end);
            while let Some((name, cat, at, start)) = open.pop() {
                let args = if cat == "job" {
                    ",\"args\":{\"unfinished\":true}"
                } else {
                    ""
                };
                items[at] = slice(&name, cat, 'B', &start, tid, args);
                items.push(slice(&name, cat, 'E', &ts, tid, args));
            }
        }
        let mut out = String::from("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n");
        out.push_str(&items.join(",\n"));
        out.push_str("\n]}\n");
        out
    }
}

/// A duration in microseconds, as a JSON number with nanosecond precision.
fn micros(d: Duration) -> String {
    format!("{}.{:03}", d.as_micros(), d.subsec_nanos() % 1000)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn trace_json_closes_open_slices_and_names_threads() {
        let b = TraceBuffer::new(2);
        let at = |us| Duration::from_micros(us);
        b.record(&Event {
            kind: EventKind::TaskStart { task: Some(7) },
            worker: 0,
            at: at(1),
        });
        b.record(&Event {
            kind: EventKind::Steal { victim: 0 },
            worker: 1,
            at: at(2),
        });
        b.record(&Event {
            kind: EventKind::TaskStart { task: None },
            worker: 1,
            at: at(3),
        });
        b.record(&Event {
            kind: EventKind::TaskEnd { task: None },
            worker: 1,
            at: at(4),
        });
        b.record(&Event {
            kind: EventKind::Park,
            worker: 1,
            at: at(5),
        });
        b.record(&Event {
            kind: EventKind::Unpark,
            worker: 1,
            at: at(8),
        });
        let json = b.to_json(2, 10, at(20));
        assert!(json.contains("\"name\":\"worker 1\""));
        // task 7 never ended: its slice runs to the exit (20 us) and both
        // of its events are marked unfinished.
        assert!(json.contains(
            "\"name\":\"task 7\",\"cat\":\"job\",\"ph\":\"B\",\"ts\":1.000,\"pid\":1,\"tid\":0,\"args\":{\"unfinished\":true}"
        ), "{json}");
        assert!(json.contains(
            "\"name\":\"task 7\",\"cat\":\"job\",\"ph\":\"E\",\"ts\":20.000,\"pid\":1,\"tid\":0,\"args\":{\"unfinished\":true}"
        ), "{json}");
        // The chunk ended: not marked.
        assert_eq!(json.matches("unfinished").count(), 2);
        assert!(json.contains("\"name\":\"steal from 0\""));
        // The park is an idle slice from 5 to 8 us.
        assert!(json.contains("\"name\":\"idle\",\"cat\":\"idle\",\"ph\":\"B\",\"ts\":5.000"));
        assert!(json.contains("\"name\":\"idle\",\"cat\":\"idle\",\"ph\":\"E\",\"ts\":8.000"));
        assert_eq!(json.matches("\"ph\":\"B\"").count(), 3);
        assert_eq!(json.matches("\"ph\":\"E\"").count(), 3);
        let parsed: serde_json::Value = serde_json::from_str(&json).expect("valid JSON");
        assert!(parsed["traceEvents"].is_array());
    }

    #[test]
    fn micros_keeps_nanoseconds() {
        assert_eq!(micros(Duration::from_nanos(1_234_567)), "1234.567");
        assert_eq!(micros(Duration::ZERO), "0.000");
    }

    #[test]
    fn stats_table_lists_every_worker() {
        let s = TaskStats {
            started: true,
            workers: 2,
            spawned: 5,
            executed: vec![3, 2],
            busy_seconds: vec![0.5, 0.25],
            ..TaskStats::default()
        };
        let t = stats_table(&s);
        assert!(t.contains("spawned"));
        assert!(t
            .lines()
            .any(|l| l.trim_start().starts_with("1 ") && l.contains("0.250000")));
    }

    #[test]
    fn stats_table_rows_for_spares_and_main_only_when_they_ran() {
        let mut s = TaskStats {
            started: true,
            workers: 1,
            executed: vec![4],
            busy_seconds: vec![0.5],
            ..TaskStats::default()
        };
        let t = stats_table(&s);
        assert!(
            !t.lines().any(|l| l.trim_start().starts_with("main ")),
            "{t}"
        );
        assert!(!t.lines().any(|l| l.trim_start().starts_with("spare ")));
        s.outside_executed = 7;
        s.spare_executed = 3;
        let t = stats_table(&s);
        assert!(
            t.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["main", "7", "-"]),
            "{t}"
        );
        assert!(
            t.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["spare", "3", "-"]),
            "{t}"
        );
    }
}
