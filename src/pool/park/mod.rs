//! Parking: tasks that wait without holding a thread.
//!
//! A task spawned with [`ThreadPool::spawn_resumable`](super::ThreadPool::spawn_resumable)
//! is polled ([`Resumable::resume`]) by whichever thread claims it. When
//! its code must wait, it registers a [`Waker`] with what it waits for and
//! returns [`Step::Park`]: the thread goes on with other work, and the
//! task, holding no thread, is listed as parked. A wake (from any thread,
//! at any time, any number of times) puts it back in a queue at most once
//! per park; any worker then resumes it. [`Step::Yield`] puts a task at the
//! back of the queue (time slices). The pool knows nothing of what a task
//! waits for: the language runtime decides when to park and what wakes.
//!
//! The task state word, its transitions, and why no wakeup is lost and no
//! task runs twice: `README.md` beside this file (loom models in
//! `loom_test.rs`).

pub(crate) mod listing;
pub(crate) mod state;

#[cfg(all(test, loom))]
mod loom_test;
#[cfg(all(test, not(loom)))]
mod test;

use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use super::cancel::{restore_current, swap_current, CancelToken};
use super::job::JobRef;
use super::registry::{Registry, WorkerThread};
use super::stats::EventKind;
use super::task::{panic_message, TaskError, TaskRef, NOT_LISTED};
use state::{Wake, STARTED};

/// What one poll of a task's code ended with.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<T> {
    /// Finished with this value.
    Done(T),
    /// Waiting: a [`Waker`] was registered with whatever will end the wait
    /// (before returning, so no wake is lost).
    Park,
    /// Not finished, not waiting: put me at the back of the queue (a time
    /// slice ran out while other tasks wait).
    Yield,
}

/// A task's code as the pool runs it: polled until it is done, on any
/// thread, never by two threads at once.
pub trait Resumable: Send + 'static {
    /// The task's result.
    type Output: Send + 'static;

    /// Runs until done, or until the code must wait (then a [`Waker`] of
    /// [`current_waker`] has been handed to whatever will end the wait) or
    /// should yield.
    fn resume(&mut self) -> Step<Self::Output>;

    /// What the parked task waits for, for a listing of parked tasks
    /// (called only while the task is parked, by one thread).
    fn describe(&self) -> String {
        String::from("parked")
    }
}

/// Reschedules one parked task. Cheap to clone, `Send + Sync`; waking is
/// idempotent: any number of wakes while the task is parked put it in a
/// queue once, and a wake while it runs makes it poll again before it
/// parks (so a wake racing with the park is never lost).
#[derive(Clone)]
pub struct Waker {
    task: TaskRef,
}

impl Waker {
    /// Makes the task runnable (if it is parked) or makes its current run
    /// poll once more before parking (if it is running).
    pub fn wake(&self) {
        wake(&self.task);
    }

    /// The id of the task this waker wakes.
    pub fn task_id(&self) -> u64 {
        self.task.id()
    }

    /// Whether both wake the same task.
    pub fn same_task(&self, other: &Waker) -> bool {
        Arc::ptr_eq(&self.task, &other.task)
    }
}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Waker")
            .field("task", &self.task.id())
            .finish()
    }
}

thread_local! {
    /// The task being polled on this thread (null if none): a task whose
    /// `join` half runs here has its cancel token current but is not
    /// polled here, and has no waker to give.
    static POLLING: Cell<*const ()> = const { Cell::new(std::ptr::null()) };
}

/// The waker of the resumable task being polled on this thread, if any.
pub fn current_waker() -> Option<Waker> {
    let polling = POLLING.with(Cell::get);
    if polling.is_null() {
        return None;
    }
    let token = super::cancel::current_cancel_token()?;
    let task = token.into_core();
    (Arc::as_ptr(&task) as *const () == polling && task.sched.job.is_some())
        .then_some(Waker { task })
}

/// A wake of `task` (see [`Waker::wake`]).
pub(crate) fn wake(task: &TaskRef) {
    if task.state.wake() == Wake::Schedule {
        schedule(task, false);
    }
}

/// The job that runs `task` once more (one strong reference, reclaimed by
/// the job).
fn job_ref(task: &TaskRef) -> Option<JobRef> {
    let execute = task.sched.job?;
    let pointer = Arc::into_raw(TaskRef::clone(task)) as *const ();
    // SAFETY: `execute` is the job function of the task's concrete body
    // type (set at spawn), and `pointer` its data pointer with one strong
    // reference that the job reclaims.
    Some(unsafe { JobRef::from_raw_parts(pointer, execute) })
}

/// Puts a task that its caller moved to `QUEUED` in a queue: woken by a
/// task being polled on a worker of its pool, that worker's run-next slot
/// (it runs there as soon as the waker parks or ends,
/// `run_next/README.md`); woken by other code on such a worker, the front
/// of its deque; with `back`, from another thread, or if its pool is
/// another, the global queue.
fn schedule(task: &TaskRef, back: bool) {
    if task.sched.job.is_none() {
        return;
    }
    let pool = task.sched.pool.as_ptr();
    let pushed = WorkerThread::with_current(|w| match w {
        Some(w) if !back && std::ptr::eq(Arc::as_ptr(w.registry()), pool) => {
            if POLLING.with(Cell::get).is_null() {
                if let Some(job) = job_ref(task) {
                    w.push(job);
                }
            } else {
                // One strong reference, owned by the slot (then the job).
                w.push_run_next(Arc::into_raw(TaskRef::clone(task)) as *const ());
            }
            true
        }
        _ => false,
    });
    if pushed {
        return;
    }
    let Some(job) = job_ref(task) else { return };
    match task.sched.pool.upgrade() {
        Some(registry) => registry.inject(job),
        // The pool is gone: the job finishes the task as cancelled.
        None => job.execute(None),
    }
}

/// A task's job, popped from a queue by `worker` (`None`: the pool shuts
/// down and drops it).
pub(crate) fn run_job(task: TaskRef, worker: Option<&WorkerThread>) {
    let Some(worker) = worker else {
        finish_dropped(&task);
        return;
    };
    // A failed claim: cancelled before it started (already finished), run
    // inline by an awaiter, or a second job of the same task (made by a
    // wake after an inline run parked it); the other claimant runs it.
    let Some(before) = task.state.claim(false) else {
        return;
    };
    run_on(&task, before, Some(worker));
}

/// Runs a task whose claim this thread just won (`before`: the word before
/// the claim), on whatever thread this is.
pub(crate) fn run_claimed(task: &TaskRef, before: u32, worker: Option<&WorkerThread>) {
    match worker {
        Some(w) => run_on(task, before, Some(w)),
        None => WorkerThread::with_current(|w| {
            let w = w.filter(|w| std::ptr::eq(Arc::as_ptr(w.registry()), task.sched.pool.as_ptr()));
            run_on(task, before, w)
        }),
    }
}

/// Finishes a task whose job is dropped at shutdown (or whose pool is gone).
fn finish_dropped(task: &TaskRef) {
    if task.state.claim(false).is_some() {
        // SAFETY: the claim makes this thread the body's only user.
        unsafe { (*task.body.get()).discard() };
        task.finish(Err(Box::new(TaskError::Cancelled)));
    }
}

/// Finishes the parked tasks of a pool that shuts down: their code is
/// dropped (no wake can run them any more).
pub(crate) fn finish_parked(registry: &Registry) {
    for task in registry.parked.drain() {
        if task.state.inspect() {
            // SAFETY: `inspect` moved it PARKED -> RUNNING: this thread owns it.
            unsafe { (*task.body.get()).discard() };
            task.finish(Err(Box::new(TaskError::Cancelled)));
        }
    }
}

/// What each parked task of `registry` waits for: `(task id, description)`,
/// in id order. Each task is inspected under its own claim
/// (`PARKED -> RUNNING -> PARKED`), so a wake meanwhile is not lost: it
/// reschedules the task when the inspection ends.
pub(crate) fn describe_parked(registry: &Registry) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for task in registry.parked.snapshot() {
        if !task.state.inspect() {
            continue;
        }
        // SAFETY: `inspect` made this thread the body's only user until the
        // state changes again below.
        let text = unsafe { (*task.body.get()).describe() };
        if !task.state.park() {
            // Woken while we looked: run it after all.
            task.state.requeue();
            schedule(&task, true);
        }
        out.push((task.id(), text.unwrap_or_else(|| "parked".to_string())));
    }
    out.sort_by_key(|(id, _)| *id);
    out
}

/// Runs `f` with the task's pool: borrowed from the worker (no reference
/// count), or looked up for a thread outside the pool (nothing runs if the
/// pool is gone). Generic rather than a `dyn FnMut` closure so that each use
/// in [`run_on`] is inlined (speed only: `run_on` runs at every resume).
#[inline(always)]
fn with_registry(task: &TaskRef, worker: Option<&WorkerThread>, f: impl FnOnce(&Registry)) {
    match worker {
        Some(w) => f(w.registry()),
        None => {
            if let Some(r) = task.sched.pool.upgrade() {
                f(&r)
            }
        }
    }
}

/// The poll loop of a claimed task.
fn run_on(task: &TaskRef, before: u32, worker: Option<&WorkerThread>) {
    let listed = || task.sched.listed.load(std::sync::atomic::Ordering::Relaxed) != NOT_LISTED;
    if before & STARTED != 0 {
        // Resumed after a park (listed: it stays listed while it runs,
        // README "Where a parked task is") or a yield (not listed).
        if listed() {
            with_registry(task, worker, |r| r.parked.resumed());
        }
    } else if task.is_cancelled() {
        // Cancelled before it ever ran: it never starts.
        // SAFETY: the claim makes this thread the body's only user.
        unsafe { (*task.body.get()).discard() };
        task.finish(Err(Box::new(TaskError::Cancelled)));
        count(worker, task, Counted::Cancelled);
        return;
    }
    // Events go to the pool thread's row, or for a thread outside the pool
    // (an awaiter running the task inline) to the pool's outside row.
    let outside = match worker {
        Some(_) => None,
        None => task.sched.pool.upgrade().filter(|r| r.tracing()),
    };
    let emit = |kind: EventKind| match (worker, &outside) {
        (Some(w), _) => w.emit(kind),
        (None, Some(r)) => r.emit_outside(kind),
        (None, None) => {}
    };
    let tracing = worker.map_or(outside.is_some(), |w| w.tracing());
    loop {
        let traced = tracing.then(|| task.id());
        match worker {
            Some(w) => w.stats().bump_executed(),
            None => with_registry(task, worker, |r| {
                r.external
                    .executed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }),
        }
        emit(EventKind::TaskStart { task: traced });
        let previous = swap_current(CancelToken::from_core(TaskRef::clone(task)));
        let outer = POLLING.with(|p| p.replace(Arc::as_ptr(task) as *const ()));
        // SAFETY: the claim (or the failed park below) makes this thread
        // the only user of `body` until the state word leaves `RUNNING`.
        let polled = unsafe { (*task.body.get()).poll() };
        POLLING.with(|p| p.set(outer));
        restore_current(previous);
        emit(EventKind::TaskEnd { task: traced });
        if !matches!(polled, Some(Ok(Step::Park))) && listed() {
            // Finished or yielding: off the list (while this thread still
            // owns the task).
            with_registry(task, worker, |r| r.parked.remove(task));
        }
        match polled {
            Some(Ok(Step::Done(value))) => {
                count(worker, task, Counted::Completed);
                task.finish(Ok(value));
                return;
            }
            Some(Err(payload)) => {
                let message = panic_message(payload.as_ref());
                // The payload may itself panic when dropped; contain that.
                let _ =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(payload)));
                count(worker, task, Counted::Failed);
                task.finish(Err(Box::new(TaskError::Panicked(message))));
                return;
            }
            None => {
                task.finish(Err(Box::new(TaskError::Cancelled)));
                return;
            }
            Some(Ok(Step::Park)) => {
                let unlisted = !listed();
                with_registry(task, worker, |r| {
                    if unlisted {
                        let shard = worker.map_or(r.parked.outside_shard(), |w| w.index());
                        r.parked.insert(shard, task);
                    }
                    r.parked.parked();
                    if worker.is_none() {
                        r.external
                            .task_parks
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                });
                if task.state.park() {
                    if let Some(w) = worker {
                        w.stats().bump_task_parks();
                    }
                    emit(EventKind::TaskPark { task: traced });
                    return;
                }
                // Woken during the poll: poll again.
                with_registry(task, worker, |r| r.parked.resumed());
            }
            Some(Ok(Step::Yield)) => {
                task.state.requeue();
                if let Some(w) = worker {
                    w.stats().bump_yields();
                }
                emit(EventKind::TaskYield { task: traced });
                schedule(task, true);
                return;
            }
        }
    }
}

enum Counted {
    Completed,
    Failed,
    Cancelled,
}

/// Counts a finished task on the thread that finished it (a pool thread's
/// own counters, or the pool's shared ones for a thread outside it).
fn count(worker: Option<&WorkerThread>, task: &TaskRef, what: Counted) {
    match worker {
        Some(w) => match what {
            Counted::Completed => w.stats().bump_completed(),
            Counted::Failed => w.stats().bump_failed(),
            Counted::Cancelled => w.stats().bump_cancelled(),
        },
        None => {
            if let Some(r) = task.sched.pool.upgrade() {
                let counter = match what {
                    Counted::Completed => &r.external.completed,
                    Counted::Failed => &r.external.failed,
                    Counted::Cancelled => &r.external.cancelled,
                };
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}
