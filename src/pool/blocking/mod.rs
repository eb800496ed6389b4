//! Blocking compensation: while a pool thread is blocked in
//! [`blocking`], a spare thread runs in its place, so `worker_count` threads
//! keep running pool work. The protocol is written up in `README.md` next to
//! this file.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::registry::{run_spare, Registry, WorkerThread};

/// How long a retired spare waits to be reused before its thread exits.
const SPARE_KEEPALIVE: Duration = Duration::from_secs(2);

/// Runs `f`, a call that may block for a reason the pool cannot help with
/// (sleep, I/O, a channel, a lock held by another task). On a pool thread,
/// the pool first lets a spare thread take this thread's place until `f`
/// returns (or unwinds); elsewhere, or when already inside `blocking`, it
/// just runs `f`.
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    let entered = WorkerThread::with_current(|worker| match worker {
        Some(w) if !w.is_blocked() => {
            w.set_blocked(true);
            // A task woken to run next here would wait for this thread:
            // the deque lets the spare (or any thief) take it. The fenced
            // wake in `enter_blocking` below tells a parked thread.
            w.flush_run_next();
            Some((Arc::clone(w.registry()), w.index()))
        }
        _ => None,
    });
    let Some((registry, index)) = entered else {
        return f();
    };
    registry.enter_blocking(index);
    let _exit = ExitBlocking { registry, index };
    f()
}

/// Undoes `enter_blocking` when `f` returns or unwinds.
struct ExitBlocking {
    registry: Arc<Registry>,
    index: usize,
}

impl Drop for ExitBlocking {
    fn drop(&mut self) {
        self.registry.exit_blocking(self.index);
        WorkerThread::with_current(|worker| {
            if let Some(w) = worker {
                w.set_blocked(false);
            }
        });
    }
}

struct SpareState {
    /// Pool threads inside `blocking`.
    blocked: usize,
    /// Spare threads serving (running, spinning or parked as idle workers).
    active: usize,
    /// Spare threads waiting to be reused, by slot.
    retired: Vec<usize>,
    /// Retired spares told to serve again.
    resumed: Vec<usize>,
    /// Spare slots with no thread.
    free: Vec<usize>,
    handles: Vec<JoinHandle<()>>,
    started: u64,
}

/// The spare threads of one pool.
pub(crate) struct Spares {
    state: Mutex<SpareState>,
    cv: Condvar,
    max: usize,
    /// Copies of `active` / `blocked` for the lock-free quota check.
    active: AtomicUsize,
    blocked: AtomicUsize,
}

impl Spares {
    pub(crate) fn new(workers: usize, max: usize) -> Self {
        Spares {
            state: Mutex::new(SpareState {
                blocked: 0,
                active: 0,
                retired: Vec::new(),
                resumed: Vec::new(),
                // Popped from the end: lowest slot first.
                free: (workers..workers + max).rev().collect(),
                handles: Vec::new(),
                started: 0,
            }),
            cv: Condvar::new(),
            max,
            active: AtomicUsize::new(0),
            blocked: AtomicUsize::new(0),
        }
    }

    /// Spares serving now.
    pub(crate) fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }

    /// More spares serve than threads are blocked.
    pub(crate) fn over_quota(&self) -> bool {
        self.active.load(Ordering::SeqCst) > self.blocked.load(Ordering::SeqCst)
    }

    /// (spares started so far, threads blocked now).
    pub(crate) fn counts(&self) -> (u64, usize) {
        let state = self.state.lock();
        (state.started, state.blocked)
    }

    fn publish(&self, state: &SpareState) {
        self.active.store(state.active, Ordering::SeqCst);
        self.blocked.store(state.blocked, Ordering::SeqCst);
    }

    /// A retired spare in `slot`: waits to be resumed. True to serve again,
    /// false to exit (not needed for a while, or shutdown).
    pub(crate) fn retire(&self, slot: usize, registry: &Registry) -> bool {
        let mut state = self.state.lock();
        if state.active <= state.blocked && !registry.terminating() {
            return true;
        }
        state.active -= 1;
        state.retired.push(slot);
        self.publish(&state);
        // One thread fewer to run work: the pool may be quiescent now.
        parking_lot::MutexGuard::unlocked(&mut state, || registry.check_quiescent());
        let deadline = Instant::now() + SPARE_KEEPALIVE;
        loop {
            if let Some(pos) = state.resumed.iter().position(|&s| s == slot) {
                state.resumed.swap_remove(pos);
                return true;
            }
            let timed_out =
                registry.terminating() || self.cv.wait_until(&mut state, deadline).timed_out();
            if timed_out {
                if let Some(pos) = state.resumed.iter().position(|&s| s == slot) {
                    state.resumed.swap_remove(pos);
                    if !registry.terminating() {
                        return true;
                    }
                    // Shutdown: give the activation back.
                    state.active -= 1;
                    self.publish(&state);
                }
                if let Some(pos) = state.retired.iter().position(|&s| s == slot) {
                    state.retired.swap_remove(pos);
                }
                return false;
            }
        }
    }

    /// The spare thread of `slot` is gone; the slot can be reused.
    pub(crate) fn exited(&self, slot: usize) {
        self.state.lock().free.push(slot);
    }

    /// Shutdown: retired spares exit.
    pub(crate) fn wake_retired(&self) {
        let _state = self.state.lock();
        self.cv.notify_all();
    }

    /// The spare threads' handles, for joining at shutdown.
    pub(crate) fn take_handles(&self) -> Vec<JoinHandle<()>> {
        std::mem::take(&mut self.state.lock().handles)
    }
}

impl Registry {
    /// Pool thread `slot` is about to block: make sure a spare serves.
    #[cold]
    pub(crate) fn enter_blocking(self: &Arc<Self>, slot: usize) {
        self.slot_blocked(slot, true);
        let spares = &self.spares;
        let start = {
            let mut state = spares.state.lock();
            state.blocked += 1;
            let mut start = None;
            if state.active < state.blocked.min(spares.max) && !self.terminating() {
                if let Some(s) = state.retired.pop() {
                    state.active += 1;
                    state.resumed.push(s);
                    spares.cv.notify_all();
                } else if let Some(s) = state.free.pop() {
                    state.active += 1;
                    state.started += 1;
                    state.handles.retain(|h| !h.is_finished());
                    start = Some(s);
                }
            }
            spares.publish(&state);
            start
        };
        if let Some(s) = start {
            self.note_spare_slot(s);
            let registry = Arc::clone(self);
            let spawned = thread::Builder::new()
                .name(format!("weft-spare-{s}"))
                .stack_size(self.config().stack_size())
                .spawn(move || run_spare(registry, s));
            let mut state = spares.state.lock();
            match spawned {
                Ok(handle) => state.handles.push(handle),
                Err(_) => {
                    // No thread: the pool runs one short until it returns.
                    state.active -= 1;
                    state.started -= 1;
                    state.free.push(s);
                    spares.publish(&state);
                }
            }
        }
        // Work queued behind the blocked thread needs a running thread: wake
        // a parked one (a spare serving, or an idle worker).
        self.sleep.notify_work();
    }

    /// Pool thread `slot` is back from blocking. A spare over the quota
    /// retires when it next runs out of work.
    #[cold]
    pub(crate) fn exit_blocking(&self, slot: usize) {
        self.slot_blocked(slot, false);
        let mut state = self.spares.state.lock();
        state.blocked -= 1;
        self.spares.publish(&state);
    }
}
