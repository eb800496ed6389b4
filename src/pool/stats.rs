//! Counters and the optional event hook.
//!
//! Each pool thread writes only its own cache-padded [`SlotStats`] (plain
//! load + store, no read-modify-write), so counting costs no contention;
//! [`PoolStats`] sums them when asked.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counters of one pool thread. Written by that thread only.
#[derive(Default)]
pub(crate) struct SlotStats {
    executed: AtomicU64,
    stolen: AtomicU64,
    parks: AtomicU64,
    busy_ns: AtomicU64,
    spawned: AtomicU64,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    task_parks: AtomicU64,
    yields: AtomicU64,
}

/// Adds `n` to a counter that only the calling thread writes.
#[inline]
fn add(counter: &AtomicU64, n: u64) {
    counter.store(
        counter.load(Ordering::Relaxed).wrapping_add(n),
        Ordering::Relaxed,
    );
}

impl SlotStats {
    #[inline]
    pub(crate) fn bump_executed(&self) {
        add(&self.executed, 1);
    }
    #[inline]
    pub(crate) fn bump_stolen(&self) {
        add(&self.stolen, 1);
    }
    pub(crate) fn bump_parks(&self) {
        add(&self.parks, 1);
    }
    pub(crate) fn add_busy(&self, d: Duration) {
        add(
            &self.busy_ns,
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX),
        );
    }
    #[inline]
    pub(crate) fn bump_spawned(&self) {
        add(&self.spawned, 1);
    }
    #[inline]
    pub(crate) fn bump_completed(&self) {
        add(&self.completed, 1);
    }
    pub(crate) fn bump_failed(&self) {
        add(&self.failed, 1);
    }
    pub(crate) fn bump_cancelled(&self) {
        add(&self.cancelled, 1);
    }
    pub(crate) fn bump_task_parks(&self) {
        add(&self.task_parks, 1);
    }
    pub(crate) fn bump_yields(&self) {
        add(&self.yields, 1);
    }

    fn snapshot(&self) -> WorkerStats {
        WorkerStats {
            executed: self.executed.load(Ordering::Relaxed),
            stolen: self.stolen.load(Ordering::Relaxed),
            parks: self.parks.load(Ordering::Relaxed),
            busy: Duration::from_nanos(self.busy_ns.load(Ordering::Relaxed)),
        }
    }
}

/// Counters written by threads outside the pool (atomic adds).
#[derive(Default)]
pub(crate) struct ExternalStats {
    pub(crate) spawned: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    /// Tasks run to completion by threads outside the pool (an awaiter
    /// running a queued task inline).
    pub(crate) completed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) task_parks: AtomicU64,
    /// Task slices run by threads outside the pool.
    pub(crate) executed: AtomicU64,
}

/// One thread's counters, as read by [`ThreadPool::stats`](super::ThreadPool::stats).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Job slices run: each time a task starts or resumes (after a park
    /// or a yield) on this thread, and each `join` half or parallel chunk
    /// it runs. A queue entry whose task another thread already claimed
    /// is not counted. Equals the thread's slices in a `--trace`.
    pub executed: u64,
    /// Jobs taken from another thread's deque.
    pub stolen: u64,
    /// Times the thread parked.
    pub parks: u64,
    /// Time spent running jobs (from finding work to running out of it).
    pub busy: Duration,
}

impl WorkerStats {
    fn add(&mut self, other: &WorkerStats) {
        self.executed += other.executed;
        self.stolen += other.stolen;
        self.parks += other.parks;
        self.busy += other.busy;
    }
}

/// A snapshot of a pool's counters. Counters are read one by one while the
/// pool runs, so totals may be off by in-flight tasks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Per worker, by index.
    pub workers: Vec<WorkerStats>,
    /// All spare threads (replacing blocked workers), summed.
    pub spare_totals: WorkerStats,
    /// Tasks spawned.
    pub spawned: u64,
    /// Tasks that returned a value.
    pub completed: u64,
    /// Tasks that panicked.
    pub failed: u64,
    /// Tasks that never ran because they were cancelled (or the pool shut
    /// down) before they started.
    pub cancelled: u64,
    /// Spare threads started to replace blocked workers.
    pub spares: u64,
    /// Threads inside [`blocking`](super::blocking) right now.
    pub blocked_now: usize,
    /// Times a task parked (gave its thread back to wait).
    pub task_parks: u64,
    /// Times a task yielded at the end of a time slice.
    pub yields: u64,
    /// Tasks parked right now.
    pub parked_now: usize,
    /// The most tasks parked at once.
    pub parked_peak: usize,
    /// Timers pending right now (sleeps and timeouts of parked tasks).
    pub timers_now: usize,
    /// Timers armed so far.
    pub timers_armed: u64,
    /// Task slices run by threads outside the pool (an awaiter running a
    /// queued task inline).
    pub outside_executed: u64,
}

impl PoolStats {
    pub(crate) fn collect<'a>(
        workers: impl Iterator<Item = &'a SlotStats>,
        spares: impl Iterator<Item = &'a SlotStats>,
        external: &ExternalStats,
    ) -> PoolStats {
        let mut out = PoolStats::default();
        let mut totals = |s: &SlotStats| {
            out.spawned += s.spawned.load(Ordering::Relaxed);
            out.completed += s.completed.load(Ordering::Relaxed);
            out.failed += s.failed.load(Ordering::Relaxed);
            out.cancelled += s.cancelled.load(Ordering::Relaxed);
            out.task_parks += s.task_parks.load(Ordering::Relaxed);
            out.yields += s.yields.load(Ordering::Relaxed);
        };
        let mut worker_stats = Vec::new();
        let mut spare_totals = WorkerStats::default();
        for s in workers {
            worker_stats.push(s.snapshot());
            totals(s);
        }
        for s in spares {
            spare_totals.add(&s.snapshot());
            totals(s);
        }
        out.workers = worker_stats;
        out.spare_totals = spare_totals;
        out.spawned += external.spawned.load(Ordering::Relaxed);
        out.cancelled += external.cancelled.load(Ordering::Relaxed);
        out.completed += external.completed.load(Ordering::Relaxed);
        out.failed += external.failed.load(Ordering::Relaxed);
        out.task_parks += external.task_parks.load(Ordering::Relaxed);
        out.outside_executed = external.executed.load(Ordering::Relaxed);
        out
    }

    /// Total jobs stolen, over workers and spares.
    pub fn stolen(&self) -> u64 {
        self.workers.iter().map(|w| w.stolen).sum::<u64>() + self.spare_totals.stolen
    }

    /// Total parks, over workers and spares.
    pub fn parks(&self) -> u64 {
        self.workers.iter().map(|w| w.parks).sum::<u64>() + self.spare_totals.parks
    }
}

/// What happened, for an [`EventHook`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// A job starts: a spawned task (with its id) or a `join` half / chunk.
    TaskStart {
        /// The task id, for spawned tasks.
        task: Option<u64>,
    },
    /// The job that started last on this thread ended.
    TaskEnd {
        /// The task id, for spawned tasks.
        task: Option<u64>,
    },
    /// A job was stolen from thread `victim`'s deque.
    Steal {
        /// The thread stolen from.
        victim: usize,
    },
    /// The task that started last on this thread parked: it gave the
    /// thread back to wait (it follows the task's `TaskEnd`).
    TaskPark {
        /// The task id, when tracing.
        task: Option<u64>,
    },
    /// The task that started last on this thread yielded at the end of
    /// its time slice.
    TaskYield {
        /// The task id, when tracing.
        task: Option<u64>,
    },
    /// The thread parks (no work found after spinning).
    Park,
    /// The thread woke up.
    Unpark,
}

/// One event: what, on which pool thread, and when (since the pool started).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The pool thread (worker index; spares come after the workers).
    pub worker: usize,
    /// Time since the pool was created.
    pub at: Duration,
}

/// A callback receiving every [`Event`] (for a trace timeline). Called on
/// pool threads, in the hot path: keep it cheap (e.g. push to a per-thread
/// buffer).
pub type EventHook = Arc<dyn Fn(&Event) + Send + Sync>;
