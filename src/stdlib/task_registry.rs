//! What the runtime knows about script tasks beyond the pool's handle:
//! each task's state for `t.status()`, the tasks running right now (so
//! Ctrl-C can cancel every one and say where each was), and the failures
//! nobody awaited (reported at exit). The protocol with the signal side is
//! written up in `src/signal/README.md`.
//!
//! # State of one task ([`TaskInfo`])
//! `QUEUED → RUNNING ⇄ WAITING`, one atomic byte written only by the
//! thread running the task: `RUNNING` each time it runs, `WAITING` when it
//! parks (or blocks a thread in a wait inside a native callback), back to
//! `RUNNING` when it runs again. A task that yields at the end of its time
//! slice stays `RUNNING` (it is runnable, only waiting for a worker). "Done", "failed" and "cancelled"
//! are read from the pool's handle (its outcome), which is set after the
//! body returns, so a reader that checks the handle first never reports a
//! finished task as running.
//!
//! # Running tasks
//! A task registers `(key → its cancel token)` in a sharded map when it
//! first runs and removes it when it ends (a parked task stays in it); [`cancel_all`] cancels every
//! registered token. Tasks still queued are not in the map: each remembers
//! the interrupt *epoch* at its spawn, and a body that starts after the
//! epoch moved on does not run (it ends as `Cancelled`). The order makes
//! the race safe: the body registers, then reads the epoch; `cancel_all`
//! bumps the epoch, then walks the map under each shard's lock. Either the
//! walk finds the entry, or the registration came after the walk's lock
//! and so sees the new epoch.
//!
//! # Failures nobody awaited
//! A body that ends with an error (other than `Cancelled`) files it here by
//! task id *before* it returns, so before the handle is done: any await
//! that sees the failure comes later and [`seen`] removes it. What is left
//! at exit is reported by [`unawaited_report`].

use crate::error::{Error, ErrorKind};
use crate::pool::CancelToken;
use crate::vm::CallSite;
use parking_lot::Mutex;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Spawned, body not started.
pub(crate) const QUEUED: u8 = 0;
/// Body running.
pub(crate) const RUNNING: u8 = 1;
/// Body waiting (await, sleep, a channel operation that had to wait).
pub(crate) const WAITING: u8 = 2;

/// Bumped by every [`cancel_all`] (every Ctrl-C).
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// What the runtime keeps about one task, shared by its script handle and
/// its body.
#[derive(Debug)]
pub struct TaskInfo {
    /// The task's key here: its owner id (`task.rs`), unique in the
    /// process and increasing in spawn order on each thread. (Not the
    /// task's `id()`: the pool gives those out lazily, on first request,
    /// and asking for one here would number tasks in the order they start,
    /// not the order they were spawned.)
    seq: u64,
    state: AtomicU8,
    /// [`EPOCH`] when the task was spawned.
    epoch: u32,
    /// Where `spawn` was called.
    spawned_at: Option<CallSite>,
}

impl TaskInfo {
    /// The record of a task spawned now at `spawned_at`.
    pub(crate) fn new(seq: u64, spawned_at: Option<CallSite>) -> Arc<TaskInfo> {
        Arc::new(TaskInfo {
            seq,
            state: AtomicU8::new(QUEUED),
            epoch: EPOCH.load(Ordering::SeqCst),
            spawned_at,
        })
    }

    /// The task's key (its owner id, `task.rs`).
    pub(crate) fn seq(&self) -> u64 {
        self.seq
    }

    /// Where `spawn` was called (`None` when called from Rust).
    pub(crate) fn spawned_at(&self) -> Option<CallSite> {
        self.spawned_at
    }

    /// [`QUEUED`], [`RUNNING`] or [`WAITING`] (meaningful while the
    /// task's handle is not done).
    pub(crate) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }
}

/// One running task in the registry.
struct Live {
    token: CancelToken,
    /// Its record (its key, where it was spawned): a pointer, so that a
    /// slot stays at 16 bytes (a million parked tasks are a million slots).
    info: Arc<TaskInfo>,
}

const SHARDS: usize = 16;

/// One shard of the registry: a slot per running task (free slots are
/// reused), so an entry costs its 16 bytes and no hash table overhead.
#[derive(Default)]
struct Slab {
    slots: Vec<Option<Live>>,
    free: Vec<u32>,
}

impl Slab {
    fn insert(&mut self, live: Live) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(live);
                i
            }
            None => {
                self.slots.push(Some(live));
                // Fewer than 2^32 tasks run at once per shard.
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn remove(&mut self, i: u32) {
        if let Some(slot) = self.slots.get_mut(i as usize) {
            if slot.take().is_some() {
                self.free.push(i);
            }
        }
        if self.free.len() == self.slots.len() && self.slots.capacity() > 64 {
            // Every task of a burst ended: give the memory back.
            self.slots = Vec::new();
            self.free = Vec::new();
        }
    }

    /// Whether slot `i` holds the task with key `seq`.
    fn holds(&self, i: u32, seq: u64) -> bool {
        matches!(self.slots.get(i as usize), Some(Some(l)) if l.info.seq == seq)
    }
}

type Shard = Mutex<Slab>;

fn shards() -> &'static [Shard] {
    static LIVE: OnceLock<Box<[Shard]>> = OnceLock::new();
    LIVE.get_or_init(|| (0..SHARDS).map(|_| Mutex::default()).collect())
}

fn shard_of(seq: u64) -> u32 {
    (seq % SHARDS as u64) as u32
}

thread_local! {
    /// The task whose body runs on this thread (innermost).
    static CURRENT: RefCell<Option<Arc<TaskInfo>>> = const { RefCell::new(None) };
}

/// A task in the running registry, from its first run to its end (across
/// parks): dropping it takes the task out.
pub(crate) struct Registered {
    /// Its shard ([`NOT_REGISTERED`]: none) and slot there.
    shard: u32,
    slot: u32,
}

const NOT_REGISTERED: u32 = u32::MAX;

impl Registered {
    /// Not in the registry (a task that has not started, or has ended).
    pub(crate) const NONE: Registered = Registered {
        shard: NOT_REGISTERED,
        slot: 0,
    };
}

impl Drop for Registered {
    fn drop(&mut self) {
        if self.shard != NOT_REGISTERED {
            shards()[self.shard as usize].lock().remove(self.slot);
        }
    }
}

/// Registers the task `info` (whose cancel token is `token`) as running,
/// when its body first runs. `Err` when a Ctrl-C came between the spawn
/// and now: the body must not run (the task ends as `Cancelled`).
pub(crate) fn start(
    info: &Arc<TaskInfo>,
    token: Option<&CancelToken>,
) -> Result<Registered, Registered> {
    let registered = match token {
        Some(t) => {
            let shard = shard_of(info.seq);
            let slot = shards()[shard as usize].lock().insert(Live {
                token: t.clone(),
                info: Arc::clone(info),
            });
            Registered { shard, slot }
        }
        None => Registered::NONE,
    };
    if info.epoch != EPOCH.load(Ordering::SeqCst) {
        return Err(registered);
    }
    Ok(registered)
}

/// The task `info` runs on this thread (one run, until it parks, yields or
/// ends): dropping it restores the thread's previous current task.
pub(crate) struct OnThread {
    previous: Option<Arc<TaskInfo>>,
}

impl Drop for OnThread {
    fn drop(&mut self) {
        let previous = self.previous.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

/// Marks `info` running on this thread (for [`waiting`] and `status()`).
pub(crate) fn enter_thread(info: &Arc<TaskInfo>) -> OnThread {
    info.state.store(RUNNING, Ordering::Release);
    let previous = CURRENT.with(|c| c.borrow_mut().replace(Arc::clone(info)));
    OnThread { previous }
}

impl TaskInfo {
    /// The task parked (it keeps no thread): "parked" until it runs again.
    pub(crate) fn set_waiting(&self) {
        self.state.store(WAITING, Ordering::Release);
    }
}

/// While alive, the task running on this thread (if any) counts as waiting
/// for `t.status()`.
pub(crate) struct Waiting(Option<Arc<TaskInfo>>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(info) = &self.0 {
            info.state.store(RUNNING, Ordering::Release);
        }
    }
}

/// Marks the task running on this thread as waiting until the guard drops.
/// Call it only on the slow path of a wait (it costs a thread-local access).
pub(crate) fn waiting() -> Waiting {
    let info = CURRENT.try_with(|c| c.borrow().clone()).ok().flatten();
    if let Some(info) = &info {
        info.state.store(WAITING, Ordering::Release);
    }
    Waiting(info)
}

/// A task Ctrl-C found running: its key, token (for its id) and where it
/// was spawned.
#[derive(Clone, Debug)]
pub(crate) struct Interrupted {
    seq: u64,
    /// Where it is registered (shard, slot).
    at: (u32, u32),
    token: CancelToken,
    spawned_at: Option<CallSite>,
}

/// Cancels every script task: those running now (their tokens), and those
/// still queued (they will not start). Returns the running ones, in spawn
/// order (per spawning thread).
pub(crate) fn cancel_all() -> Vec<Interrupted> {
    EPOCH.fetch_add(1, Ordering::SeqCst);
    let mut found = Vec::new();
    for (k, shard) in shards().iter().enumerate() {
        let live = shard.lock();
        for (i, l) in live.slots.iter().enumerate() {
            let Some(l) = l else { continue };
            found.push(Interrupted {
                seq: l.info.seq,
                at: (k as u32, i as u32),
                token: l.token.clone(),
                spawned_at: l.info.spawned_at,
            });
        }
    }
    // Cancel outside the locks: a cancel callback may finish a task, whose
    // body then leaves the registry.
    for t in &found {
        t.token.cancel();
    }
    found.sort_by_key(|t| t.seq);
    found
}

/// Whether the task Ctrl-C found is still running (registered).
fn is_running(t: &Interrupted) -> bool {
    shards()[t.at.0 as usize].lock().holds(t.at.1, t.seq)
}

/// Where interrupted tasks stopped: the innermost frame of their
/// `Cancelled` error, filed by the body as it ends.
static STOPPED_AT: Mutex<BTreeMap<u64, String>> = Mutex::new(BTreeMap::new());

/// Files where a task stopped after a Ctrl-C cancelled it.
pub(crate) fn note_stopped(info: &TaskInfo, e: &Error) {
    let at = e.0.trace.first().cloned().unwrap_or_default();
    STOPPED_AT.lock().insert(info.seq, at);
}

/// Whether a Ctrl-C came after this task was spawned.
pub(crate) fn interrupted_since_spawn(info: &TaskInfo) -> bool {
    info.epoch != EPOCH.load(Ordering::SeqCst)
}

/// The lines listing `tasks` (found running by Ctrl-C) and where each was:
/// `  task 3 at work (x.weft:2:5), at <spawn> (x.weft:7:9)`. Waits up to
/// `patience` in all for them to stop, so the place is known; a task that
/// has not stopped by then is listed as `still running`.
pub(crate) fn interrupted_report(tasks: &[Interrupted], patience: Duration) -> Vec<String> {
    let until = Instant::now() + patience;
    while tasks.iter().any(is_running) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(1));
    }
    let stopped = STOPPED_AT.lock();
    tasks
        .iter()
        .map(|t| {
            let at = match stopped.get(&t.seq) {
                Some(at) if !at.is_empty() => at.clone(),
                Some(_) => "at <native>".to_string(),
                None if is_running(t) => "still running (not stopped yet)".to_string(),
                None => "finished".to_string(),
            };
            let id = t.token.id();
            match t.spawned_at {
                Some(site) => format!("  task {id} {at}, {}", site.frame("<spawn>")),
                None => format!("  task {id} {at}"),
            }
        })
        .collect()
}

/// A failure nobody has awaited yet.
struct Unseen {
    error: Error,
    /// The task's token, for its id.
    token: CancelToken,
    spawned_at: Option<CallSite>,
}

static UNSEEN: Mutex<BTreeMap<u64, Unseen>> = Mutex::new(BTreeMap::new());

/// Files the failure of the task `info` whose token is `token` (called by
/// its body before it returns).
/// `Cancelled` is never filed: a task that was cancelled, or that stopped
/// because what it awaited was cancelled, is not a failure to report (as
/// Python's asyncio does not report cancelled tasks).
pub(crate) fn note_failure(info: &TaskInfo, token: &CancelToken, e: &Error) {
    if e.kind() == ErrorKind::Cancelled {
        return;
    }
    UNSEEN.lock().insert(
        info.seq,
        Unseen {
            error: e.clone(),
            token: token.clone(),
            spawned_at: info.spawned_at,
        },
    );
}

/// The failure of the task `info` reached the script (an await threw it,
/// or `await_all` waited for it): it is not reported at exit.
pub(crate) fn seen(info: &TaskInfo) {
    UNSEEN.lock().remove(&info.seq);
}

/// The warnings for the failures nobody awaited, in spawn order (per
/// spawning thread), and forgets them: `warning: task N failed and was never awaited: KIND: MESSAGE`, then
/// the task's trace ending with its spawn line.
pub fn unawaited_report() -> Vec<String> {
    let unseen = std::mem::take(&mut *UNSEEN.lock());
    unseen
        .into_values()
        .map(|u| {
            let id = u.token.id();
            let mut e = u.error;
            if let Some(site) = u.spawned_at {
                e.push_trace(site.frame("<spawn>"));
            }
            let text = crate::interp::render_runtime_error(&e);
            let body = text.strip_prefix("error: ").unwrap_or(&text);
            format!("warning: task {id} failed and was never awaited: {body}")
        })
        .collect()
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn waiting_marks_the_current_task_and_restores_it() {
        let info = TaskInfo::new(u64::MAX - 10, None);
        assert_eq!(info.state(), QUEUED);
        let token = CancelToken::new();
        let registered = start(&info, Some(&token)).ok().expect("no interrupt");
        let found = Interrupted {
            seq: info.seq,
            at: (registered.shard, registered.slot),
            token: token.clone(),
            spawned_at: None,
        };
        let on_thread = enter_thread(&info);
        assert_eq!(info.state(), RUNNING);
        assert!(is_running(&found));
        {
            let _w = waiting();
            assert_eq!(info.state(), WAITING);
        }
        assert_eq!(info.state(), RUNNING);
        drop(on_thread);
        drop(registered);
        assert!(!is_running(&found));
        info.set_waiting();
        assert_eq!(info.state(), WAITING);
        let _again = enter_thread(&info);
        assert_eq!(info.state(), RUNNING);
        // Off any task, waiting() marks nothing.
        drop(_again);
        let _w = waiting();
        assert_eq!(info.state(), RUNNING);
    }

    #[test]
    fn the_registry_gives_each_running_task_a_slot_until_it_ends() {
        let token = CancelToken::new();
        // One shard: keys that are equal modulo the shard count.
        let infos: Vec<Arc<TaskInfo>> = (1..=100u64)
            .map(|k| TaskInfo::new(u64::MAX - 7 - k * SHARDS as u64, None))
            .collect();
        let shard = shard_of(infos[0].seq);
        assert!(infos.iter().all(|i| shard_of(i.seq) == shard));
        let regs: Vec<Registered> = infos
            .iter()
            .map(|i| start(i, Some(&token)).ok().expect("no interrupt"))
            .collect();
        let mut slots: Vec<u32> = regs.iter().map(|r| r.slot).collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), 100, "each running task has its own slot");
        let held = |r: &(u32, u32), i: &TaskInfo| shards()[r.0 as usize].lock().holds(r.1, i.seq);
        let at: Vec<(u32, u32)> = regs.iter().map(|r| (r.shard, r.slot)).collect();
        assert!(at.iter().zip(&infos).all(|(r, i)| held(r, i)));
        drop(regs);
        // Gone (a slot reused meanwhile by another test holds another key).
        assert!(at.iter().zip(&infos).all(|(r, i)| !held(r, i)));
        // Not registered: nothing to drop.
        drop(start(&infos[0], None).ok().expect("no interrupt"));
    }

    #[test]
    fn a_cancelled_failure_is_never_filed_and_a_seen_one_is_forgotten() {
        let token = CancelToken::new();
        let (a, b, c) = (
            TaskInfo::new(u64::MAX - 1, None),
            TaskInfo::new(u64::MAX - 2, None),
            TaskInfo::new(u64::MAX - 3, None),
        );
        let cancelled = Error::new(ErrorKind::Cancelled, "task was cancelled");
        note_failure(&a, &token, &cancelled);
        note_failure(&b, &token, &Error::value_error("bad"));
        note_failure(&c, &token, &Error::value_error("worse"));
        seen(&c);
        let unseen = UNSEEN.lock();
        assert!(!unseen.contains_key(&(u64::MAX - 1)));
        assert!(unseen.contains_key(&(u64::MAX - 2)));
        assert!(!unseen.contains_key(&(u64::MAX - 3)));
        drop(unseen);
        seen(&b);
    }
}
