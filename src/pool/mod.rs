//! The thread pool under Weft scripts. It knows nothing about Weft values
//! (as rayon-core knows nothing of iterators).
//!
//! # Model
//! - `worker_count` workers, each with a LIFO deque (crossbeam-deque); work
//!   from outside the pool goes to a global injector. An idle worker looks in
//!   its own deque, then takes a batch from the injector, then steals from
//!   workers on its NUMA node, then from the others (random start). With
//!   `work_stealing = false`, outside work is dealt round-robin to per-worker
//!   queues and nobody steals.
//! - A task woken by the task running on a worker goes to that worker's
//!   run-next slot and runs there next, before its deque; thieves take it
//!   only once it has waited there for a grace period, and a chain of such
//!   hand-offs shares one time slice (`run_next/README.md`).
//! - Idle workers spin for `spin_before_park`, then park: an idle pool uses
//!   no CPU. New work wakes at most one parked thread and no wakeup is lost
//!   (`sleep/README.md`).
//! - Waiting never deadlocks the pool: a pool thread that waits (on a task,
//!   in `join`) runs other pool work meanwhile; a thread that must block for
//!   another reason calls [`blocking`], and a spare thread takes its place
//!   (`blocking/README.md`).
//! - Every task has a [`CancelToken`]; code inside polls it cheaply, sleeps
//!   on it, or registers a wake-up callback (`cancel/README.md`).
//! - A panic inside a task becomes the task's error; the worker lives on.
//!
//! # How a language runtime uses it
//! - Spawn with [`ThreadPool::spawn`], await with [`TaskHandle::wait`] /
//!   [`TaskHandle::wait_timeout`] / [`wait_any`]: the same calls work on a
//!   pool thread (help-first) and off it (blocks).
//! - Data parallelism: [`ThreadPool::join_context`] recursively, splitting
//!   more when [`JoinContext::migrated`] says work was stolen (see
//!   [`ThreadPool::parallel_for`]).
//! - Around every call that may block for long (sleep, channel receive,
//!   lock, I/O): `pool::blocking(|| ...)`. [`sleep`] is a cancellable,
//!   compensated sleep.
//! - At each function call / loop iteration: [`is_cancelled`] (or keep the
//!   [`current_cancel_token`] and call [`CancelToken::is_cancelled`]); a
//!   blocking primitive registers [`CancelToken::on_cancel`] to wake itself,
//!   on the task's token and on [`ThreadPool::shutdown_token`] (running jobs
//!   are not interrupted when the pool is dropped; the drop waits for them).
//! - When a task's wait returns [`WaitError::Interrupted`] (the waiting task
//!   was cancelled), the runtime decides whether to cancel the awaited task
//!   too (ASYNC.md says it does).

mod blocking;
mod cancel;
mod config;
mod job;
mod join;
mod latch;
mod park;
mod quiescent;
mod registry;
mod run_next;
mod sleep;
mod split;
mod stats;
mod sync;
mod task;
mod thread_pool;
mod timer;
pub mod topology;

#[cfg(all(test, not(loom)))]
mod test;

use std::time::Duration;

pub use blocking::blocking;
pub use cancel::{
    current_cancel_token, is_cancelled, set_current_cancel_token, CancelToken, Cancelled,
    Registration,
};
pub use config::{
    available_cpus, ConfigEntry, ConfigError, ConfigErrorKind, ConfigKey, ConfigValue, LoadOptions,
    Source, ThreadPoolConfig, WorkerCount,
};
pub use join::JoinContext;
pub use park::{current_waker, Resumable, Step, Waker};
pub use quiescent::QuiescenceWatch;
pub use stats::{Event, EventHook, EventKind, PoolStats, WorkerStats};
pub use task::{
    wait_any, wait_any_timeout, TaskError, TaskHandle, TaskStatus, WaitAnyError,
    WaitAnyTimeoutError, WaitError, WaitTimeoutError,
};
pub use thread_pool::{PoolError, ThreadPool};
pub use timer::Timer;
pub use topology::{PinOutcome, Topology};

/// The index of the pool thread running this code: `0..worker_count` for
/// workers, `worker_count..` for spare threads (standing in for blocked
/// workers); `None` off the pool.
pub fn current_worker_index() -> Option<usize> {
    registry::WorkerThread::with_current(|w| w.map(|w| w.index()))
}

/// Whether tasks wait for a thread in the queues the calling pool thread
/// serves first (its own deque, the global queue, its inbox); false off the
/// pool. A task that has used up its time slice yields only then.
pub fn work_is_waiting() -> bool {
    registry::WorkerThread::with_current(|w| w.is_some_and(|w| w.registry().work_waiting_for(w)))
}

/// Sleeps for `duration` as a cancellable, pool-friendly wait: on a pool
/// thread a spare takes this thread's place meanwhile ([`blocking`]); inside
/// a task it returns `Err(Cancelled)` as soon as the task is cancelled.
/// Elsewhere it is a plain sleep.
pub fn sleep(duration: Duration) -> Result<(), Cancelled> {
    match current_cancel_token() {
        Some(token) => blocking(|| token.sleep(duration)),
        None => {
            blocking(|| std::thread::sleep(duration));
            Ok(())
        }
    }
}

/// The size of a resumable task's one allocation (state and body), for
/// tests that keep a parked task small.
#[cfg(test)]
pub(crate) fn task_size_of<R: Resumable>() -> usize {
    std::mem::size_of::<task::Task<task::Resume<R>>>()
}
