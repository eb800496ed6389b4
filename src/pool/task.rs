//! Spawned tasks: the shared state behind a [`TaskHandle`], and every wait on
//! tasks (one wait loop, with an optional deadline, for `wait`,
//! `wait_timeout` and `wait_any`).
//!
//! A task's result is set once, under its mutex. A thread outside the pool
//! waits on a condvar; a pool thread runs other pool work meanwhile
//! (help-first) and parks through the pool's sleep protocol when there is
//! none, woken by a completion callback. Nothing polls.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::cancel::{current_cancel_token, CancelToken, Registration};
use super::latch::SignalLatch;
use super::park::state::{State, CANCELLED, LIFECYCLE, PARKED, QUEUED, RUNNING};
use super::park::{Resumable, Step};
use super::registry::{Registry, WorkerThread};

/// Why a task has no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskError {
    /// The task panicked; the panic's message.
    Panicked(String),
    /// The task was cancelled before it started (or the pool shut down).
    Cancelled,
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Panicked(m) => write!(f, "task panicked: {m}"),
            TaskError::Cancelled => f.write_str("task cancelled"),
        }
    }
}

impl std::error::Error for TaskError {}

/// Why [`TaskHandle::wait`] returned no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitError {
    /// The task panicked; the panic's message.
    Panicked(String),
    /// The task was cancelled before it started (or the pool shut down).
    Cancelled,
    /// The *waiting* task was cancelled, so the wait gave up early. The
    /// awaited task is untouched.
    Interrupted,
}

/// Why [`TaskHandle::wait_timeout`] returned no value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WaitTimeoutError {
    /// The task was not done in time (it keeps running).
    Timeout,
    /// The task panicked; the panic's message.
    Panicked(String),
    /// The task was cancelled before it started (or the pool shut down).
    Cancelled,
    /// The waiting task was cancelled, so the wait gave up early.
    Interrupted,
}

/// Why [`wait_any`] returned no index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitAnyError {
    /// The list of handles was empty.
    Empty,
    /// The waiting task was cancelled, so the wait gave up early.
    Interrupted,
}

/// Why [`wait_any_timeout`] returned no index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitAnyTimeoutError {
    /// The list of handles was empty.
    Empty,
    /// No task finished in time.
    Timeout,
    /// The waiting task was cancelled, so the wait gave up early.
    Interrupted,
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Panicked(m) => write!(f, "task panicked: {m}"),
            WaitError::Cancelled => f.write_str("task cancelled"),
            WaitError::Interrupted => {
                f.write_str("wait interrupted: the waiting task was cancelled")
            }
        }
    }
}

impl fmt::Display for WaitTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitTimeoutError::Timeout => f.write_str("timed out waiting for a task"),
            WaitTimeoutError::Panicked(m) => write!(f, "task panicked: {m}"),
            WaitTimeoutError::Cancelled => f.write_str("task cancelled"),
            WaitTimeoutError::Interrupted => {
                f.write_str("wait interrupted: the waiting task was cancelled")
            }
        }
    }
}

impl fmt::Display for WaitAnyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitAnyError::Empty => f.write_str("no tasks to wait for"),
            WaitAnyError::Interrupted => {
                f.write_str("wait interrupted: the waiting task was cancelled")
            }
        }
    }
}

impl fmt::Display for WaitAnyTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitAnyTimeoutError::Empty => f.write_str("no tasks to wait for"),
            WaitAnyTimeoutError::Timeout => f.write_str("timed out waiting for tasks"),
            WaitAnyTimeoutError::Interrupted => {
                f.write_str("wait interrupted: the waiting task was cancelled")
            }
        }
    }
}

impl std::error::Error for WaitError {}
impl std::error::Error for WaitTimeoutError {}
impl std::error::Error for WaitAnyError {}
impl std::error::Error for WaitAnyTimeoutError {}

impl From<TaskError> for WaitError {
    fn from(e: TaskError) -> Self {
        match e {
            TaskError::Panicked(m) => WaitError::Panicked(m),
            TaskError::Cancelled => WaitError::Cancelled,
        }
    }
}

impl From<WaitError> for WaitTimeoutError {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Panicked(m) => WaitTimeoutError::Panicked(m),
            WaitError::Cancelled => WaitTimeoutError::Cancelled,
            WaitError::Interrupted => WaitTimeoutError::Interrupted,
        }
    }
}

/// The text of a panic payload (`&str` or `String`), else a fixed text.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

/// A finished task's outcome; the value is boxed to keep [`TaskCore`] (and
/// so the cancellation token) free of the result type.
pub(crate) type Outcome = Result<Box<dyn Any + Send>, Box<TaskError>>;

type Listener = Box<dyn FnOnce() + Send>;

static NEXT_TASK_ID: AtomicU64 = AtomicU64::new(1);

/// How a failure is stored among the outcomes: a type no task can return.
struct Failed(TaskError);

/// Completion (`true`) and cancel (`false`) callbacks, by key, and the
/// next key (kept with them: most tasks never get one, and the box lives
/// until the task is done, so a key is never reused while registered).
#[derive(Default)]
struct Listeners {
    next_key: u32,
    list: Vec<(u32, bool, Listener)>,
}

impl Listeners {
    /// Registers `listener` (completion if `on_done`) under a new key.
    fn add(&mut self, on_done: bool, listener: Listener) -> u32 {
        let key = self.next_key;
        self.next_key = self.next_key.wrapping_add(1);
        self.list.push((key, on_done, listener));
        key
    }
}

struct CoreState {
    /// The value (`Box<T>`), or a `Box<Failed>`; one fat pointer keeps the
    /// state small (a million live tasks are a million of these).
    outcome: Option<Box<dyn Any + Send>>,
    /// Boxed: most tasks never get one.
    listeners: Option<Box<Listeners>>,
}

/// The function that runs a task's job, for its concrete body type.
pub(crate) type JobFn = unsafe fn(*const (), Option<&WorkerThread>);

/// Where a parked task is listed (`shard << 32 | key`), or this.
pub(crate) const NOT_LISTED: u64 = u64::MAX;

/// How to put a task back in a queue after it parked or yielded.
pub(crate) struct Sched {
    /// Its pool (dangling for a free-standing token).
    pub(crate) pool: Weak<Registry>,
    /// Runs the task's job for its concrete type (`None`: no job).
    pub(crate) job: Option<JobFn>,
    /// Where it is listed while parked (`NOT_LISTED` otherwise); written
    /// only by the thread that owns the task's `RUNNING` state.
    pub(crate) listed: AtomicU64,
}

/// The state shared by a task's handles, its job and its cancellation token.
pub(crate) struct TaskCore {
    /// Assigned on first use (0 = not yet), so spawning touches no shared
    /// counter.
    id: AtomicU64,
    /// Lifecycle and flags (`park/README.md`).
    pub(crate) state: State,
    /// Threads blocked on `cv` (cancellable sleeps). Changed and read only
    /// under `inner`'s lock; an atomic beside `state` (not a field of
    /// `CoreState`) so the task block stays in a smaller size class (a
    /// million tasks may be parked at once).
    waiting: AtomicU32,
    pub(crate) sched: Sched,
    inner: Mutex<CoreState>,
    cv: Condvar,
}

impl TaskCore {
    fn with_state(state: State, pool: Weak<Registry>, job: Option<JobFn>) -> Self {
        TaskCore {
            id: AtomicU64::new(0),
            state,
            waiting: AtomicU32::new(0),
            sched: Sched {
                pool,
                job,
                listed: AtomicU64::new(NOT_LISTED),
            },
            inner: Mutex::new(CoreState {
                outcome: None,
                listeners: None,
            }),
            cv: Condvar::new(),
        }
    }

    /// A free-standing token: "running" until cancelled.
    fn new_running() -> Self {
        TaskCore::with_state(State::running(), Weak::new(), None)
    }

    pub(crate) fn id(&self) -> u64 {
        match self.id.load(Ordering::Acquire) {
            0 => self.assign_id(),
            id => id,
        }
    }

    #[cold]
    fn assign_id(&self) -> u64 {
        let fresh = NEXT_TASK_ID.fetch_add(1, Ordering::Relaxed);
        match self
            .id
            .compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => fresh,
            Err(taken) => taken,
        }
    }

    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.is_cancelled()
    }

    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.state.is_done()
    }

    /// Sets the outcome (once; later calls do nothing) and runs the
    /// completion callbacks on this thread.
    pub(crate) fn finish(&self, outcome: Outcome) {
        let state = self.inner.lock();
        if state.outcome.is_some() {
            return;
        }
        self.finish_locked(state, outcome);
    }

    fn finish_locked(&self, mut state: parking_lot::MutexGuard<'_, CoreState>, outcome: Outcome) {
        state.outcome = Some(match outcome {
            Ok(value) => value,
            Err(error) => Box::new(Failed(*error)),
        });
        self.state.complete();
        // Cancel callbacks are stale once the task is done: drop them.
        let listeners = state.listeners.take();
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.cv.notify_all();
        }
        drop(state);
        for (_, on_done, listener) in listeners.map(|l| l.list).unwrap_or_default() {
            if on_done {
                listener();
            }
        }
    }

    /// Sets the cancelled flag; the first call wakes cancellable sleeps, runs
    /// the cancel callbacks and finishes a task that never started. True if
    /// first. (A parked task must also be woken: [`cancel_task`].)
    pub(crate) fn cancel_flag(&self) -> bool {
        if self.state.cancel() & CANCELLED != 0 {
            return false;
        }
        let mut state = self.inner.lock();
        let mut callbacks = Vec::new();
        if let Some(listeners) = state.listeners.as_mut().map(|l| &mut l.list) {
            let mut i = 0;
            while i < listeners.len() {
                if listeners[i].1 {
                    i += 1;
                } else {
                    callbacks.push(listeners.swap_remove(i).2);
                }
            }
        }
        if self.waiting.load(Ordering::Relaxed) > 0 {
            self.cv.notify_all();
        }
        if state.outcome.is_none() && self.state.claim(true).is_some() {
            // Never started: report it cancelled now; the queued job is
            // dropped when a worker pops it.
            if let Some(pool) = self.sched.pool.upgrade() {
                pool.external
                    .cancelled
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            self.finish_locked(state, Err(Box::new(TaskError::Cancelled)));
        } else {
            drop(state);
        }
        for callback in callbacks {
            callback();
        }
        true
    }

    /// Blocks until cancelled or `deadline`; true if cancelled.
    pub(crate) fn wait_cancel(&self, deadline: Option<Instant>) -> bool {
        let mut state = self.inner.lock();
        // Under the lock: `finish_locked` and `cancel_flag` read it there.
        self.waiting.fetch_add(1, Ordering::Relaxed);
        while !self.is_cancelled() {
            match deadline {
                None => self.cv.wait(&mut state),
                Some(d) => {
                    if self.cv.wait_until(&mut state, d).timed_out() {
                        break;
                    }
                }
            }
        }
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        drop(state);
        self.is_cancelled()
    }

    /// Registers a cancel callback; runs it now (and returns `None`) if the
    /// flag is already set.
    pub(crate) fn on_cancel(&self, listener: Listener) -> Option<u32> {
        let mut state = self.inner.lock();
        if self.is_cancelled() {
            drop(state);
            listener();
            return None;
        }
        let listeners = state.listeners.get_or_insert_with(Default::default);
        Some(listeners.add(false, listener))
    }

    /// Registers a completion callback; runs it now (and returns `None`) if
    /// the task is done.
    pub(crate) fn on_done(&self, listener: Listener) -> Option<u32> {
        let mut state = self.inner.lock();
        if state.outcome.is_some() {
            drop(state);
            listener();
            return None;
        }
        let listeners = state.listeners.get_or_insert_with(Default::default);
        Some(listeners.add(true, listener))
    }

    pub(crate) fn unregister(&self, key: u32) {
        let mut state = self.inner.lock();
        let Some(listeners) = state.listeners.as_mut().map(|l| &mut l.list) else {
            return;
        };
        if let Some(pos) = listeners.iter().position(|(k, _, _)| *k == key) {
            let (_, _, listener) = listeners.swap_remove(pos);
            drop(state);
            drop(listener);
        }
    }

    /// The outcome, with the value cloned out, if done.
    fn outcome<T: Clone + 'static>(&self) -> Option<Result<T, TaskError>> {
        let state = self.inner.lock();
        let outcome = state.outcome.as_ref()?;
        if let Some(v) = outcome.downcast_ref::<T>() {
            return Some(Ok(v.clone()));
        }
        Some(Err(match outcome.downcast_ref::<Failed>() {
            Some(Failed(e)) => e.clone(),
            None => {
                TaskError::Panicked("weft pool: task result has an unexpected type".to_string())
            }
        }))
    }
}

/// A task's state plus its closure, in one allocation. `B` is the closure
/// slot (`Option<F>`); handles and tokens see it as `dyn Body`.
///
/// `repr(C)`: `core` is at offset 0 whatever `B` is, so a thin pointer to
/// the task is also a pointer to its `TaskCore` (the run-next slot keeps
/// one word per task and finds the job function there, `job::task_job`).
#[repr(C)]
pub(crate) struct Task<B: ?Sized> {
    core: TaskCore,
    /// Touched only by the holder of the task's one `JobRef` (which runs or
    /// drops the closure), never through a handle or token.
    pub(crate) body: UnsafeCell<B>,
}

/// What a task's code slot is to everyone but its runner: something
/// `Send` to drop eventually, and to poll by whoever owns the task's
/// `RUNNING` state (`park/README.md`).
pub(crate) trait Body: Send {
    /// Runs the code until it finishes, parks or yields, catching a panic;
    /// `None` if the slot holds no code.
    fn poll(&mut self) -> Option<std::thread::Result<Step<Box<dyn Any + Send>>>>;
    /// What a parked task waits for, for a listing (`None`: nothing to say).
    fn describe(&self) -> Option<String>;
    /// Drops the code without running it further.
    fn discard(&mut self);
}

/// A closure run once to completion ([`ThreadPool::spawn`](super::ThreadPool::spawn)).
pub(crate) struct Once<F>(pub(crate) Option<F>);

impl<F, T> Body for Once<F>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn poll(&mut self) -> Option<std::thread::Result<Step<Box<dyn Any + Send>>>> {
        let func = self.0.take()?;
        Some(
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(func))
                .map(|v| Step::Done(Box::new(v) as Box<dyn Any + Send>)),
        )
    }

    fn describe(&self) -> Option<String> {
        None
    }

    fn discard(&mut self) {
        let func = self.0.take();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(func)));
    }
}

/// A [`Resumable`] polled until it is done
/// ([`ThreadPool::spawn_resumable`](super::ThreadPool::spawn_resumable)).
pub(crate) struct Resume<R>(pub(crate) Option<R>);

impl<R: Resumable> Body for Resume<R> {
    fn poll(&mut self) -> Option<std::thread::Result<Step<Box<dyn Any + Send>>>> {
        let r = self.0.as_mut()?;
        let step = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.resume()));
        Some(step.map(|step| match step {
            Step::Done(v) => {
                // Done: its state (a parked VM...) goes now, not with the
                // last handle.
                self.discard();
                Step::Done(Box::new(v) as Box<dyn Any + Send>)
            }
            Step::Park => Step::Park,
            Step::Yield => Step::Yield,
        }))
    }

    fn describe(&self) -> Option<String> {
        let r = self.0.as_ref()?;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.describe())).ok()
    }

    fn discard(&mut self) {
        let r = self.0.take();
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(r)));
    }
}

impl Body for () {
    fn poll(&mut self) -> Option<std::thread::Result<Step<Box<dyn Any + Send>>>> {
        None
    }

    fn describe(&self) -> Option<String> {
        None
    }

    fn discard(&mut self) {}
}

// SAFETY: shared access goes through `core` (all atomics and a mutex); the
// `body` cell is accessed only by the single owner of the task's `JobRef`
// (see `Task::body`), and `B: Send` lets that owner be any thread.
unsafe impl<B: ?Sized + Send> Sync for Task<B> {}

impl<B: ?Sized> Deref for Task<B> {
    type Target = TaskCore;
    fn deref(&self) -> &TaskCore {
        &self.core
    }
}

impl<B: Body + 'static> Task<B> {
    /// A queued task holding `body`, of the pool `pool`.
    pub(crate) fn queued(body: B, pool: Weak<Registry>) -> Self {
        Task {
            core: TaskCore::with_state(State::queued(), pool, Some(super::job::run_task_job::<B>)),
            body: UnsafeCell::new(body),
        }
    }
}

/// A shared reference to a task, whatever its closure type.
pub(crate) type TaskRef = Arc<Task<dyn Body>>;

/// Where a task is in its life ([`TaskHandle::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskStatus {
    /// Waiting in a queue for a thread (never run, or woken or yielded).
    Queued,
    /// Being run by a thread.
    Running,
    /// Parked: waiting for a wake, holding no thread.
    Parked,
    /// Finished: with a value, a failure, or cancelled.
    Done,
}

/// Cancels `task`: sets its flag, runs its cancel callbacks, finishes it if
/// it never started, and wakes it if it is parked (its code then sees the
/// flag). True if this call was the first.
pub(crate) fn cancel_task(task: &TaskRef) -> bool {
    let first = task.cancel_flag();
    if first {
        super::park::wake(task);
    }
    first
}

/// A free-standing cancellation token's state: a task with no closure.
pub(crate) fn standalone_token() -> TaskRef {
    Arc::new(Task {
        core: TaskCore::new_running(),
        body: UnsafeCell::new(()),
    })
}

/// A handle to a spawned task: cheap to clone, `Send + Sync`. Every clone
/// sees the same result, as often as asked.
pub struct TaskHandle<T> {
    core: TaskRef,
    _result: PhantomData<fn() -> T>,
}

impl<T> Clone for TaskHandle<T> {
    fn clone(&self) -> Self {
        TaskHandle {
            core: Arc::clone(&self.core),
            _result: PhantomData,
        }
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("id", &self.core.id())
            .field("done", &self.core.is_done())
            .finish()
    }
}

impl<T> TaskHandle<T> {
    pub(crate) fn new(core: TaskRef) -> Self {
        TaskHandle {
            core,
            _result: PhantomData,
        }
    }

    /// Runs the task on this thread now if it has never run (its queued
    /// job then finds it claimed and does nothing); true if it ran here.
    /// A waiter calls this before it waits, so it never waits on a task
    /// that only a free thread could start, and one-at-a-time
    /// spawn-and-wait pays no hand-off between threads. The task runs as
    /// its worker would run it: with its cancel token current, a panic
    /// becoming its error. A resumable task may park here, as anywhere:
    /// then this returns true with the task not done, and a wake
    /// reschedules it on the pool.
    pub fn run_if_queued(&self) -> bool {
        let Some(before) = self.core.state.claim(true) else {
            return false;
        };
        super::park::run_claimed(&self.core, before, None);
        true
    }

    /// A small integer, unique in the process.
    pub fn id(&self) -> u64 {
        self.core.id()
    }

    /// Whether the task finished (with a value, a panic, or cancelled).
    pub fn is_done(&self) -> bool {
        self.core.is_done()
    }

    /// Asks the task to stop. A task that has not started never starts and
    /// reports [`TaskError::Cancelled`] at once; a running one sees its
    /// token cancelled (its code decides when to stop). True if the task
    /// had not finished.
    pub fn cancel(&self) -> bool {
        let was_done = self.core.is_done();
        cancel_task(&self.core);
        !was_done
    }

    /// Where the task is in its life (a snapshot).
    pub fn status(&self) -> TaskStatus {
        let word = self.core.state.load();
        match word & LIFECYCLE {
            QUEUED => TaskStatus::Queued,
            RUNNING => TaskStatus::Running,
            PARKED => TaskStatus::Parked,
            _ => TaskStatus::Done,
        }
    }

    /// The task's cancellation token.
    pub fn cancel_token(&self) -> CancelToken {
        CancelToken::from_core(Arc::clone(&self.core))
    }

    /// Runs `f` once when the task finishes (on the finishing thread), or
    /// now if it already has. Dropping the [`Registration`] unregisters `f`.
    /// `f` must be short and must not block.
    pub fn on_done(&self, f: impl FnOnce() + Send + 'static) -> Registration {
        Registration::new(Arc::clone(&self.core), self.core.on_done(Box::new(f)))
    }
}

impl<T: Clone + 'static> TaskHandle<T> {
    /// The result if the task is done, without waiting.
    pub fn try_result(&self) -> Option<Result<T, TaskError>> {
        self.core.outcome()
    }

    /// Waits for the task and returns (a clone of) its result. On a pool
    /// thread, runs other pool work meanwhile; returns
    /// [`WaitError::Interrupted`] early if the waiting task is cancelled.
    pub fn wait(&self) -> Result<T, WaitError> {
        match wait_first(&[&self.core], None) {
            Ok(_) => self.result_now().map_err(WaitError::from),
            Err(WaitFail::Interrupted) => Err(WaitError::Interrupted),
            // No deadline, so no timeout; report what the task says.
            Err(WaitFail::Timeout) => Err(WaitError::Interrupted),
        }
    }

    /// As [`wait`](Self::wait), giving up after `timeout`. On a pool thread
    /// the timeout is checked between the jobs it runs meanwhile, so it can
    /// be overshot by the length of one such job.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<T, WaitTimeoutError> {
        match Instant::now().checked_add(timeout) {
            Some(deadline) => self.wait_deadline(deadline),
            None => self.wait().map_err(WaitTimeoutError::from),
        }
    }

    /// As [`wait`](Self::wait), giving up at `deadline`.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<T, WaitTimeoutError> {
        match wait_first(&[&self.core], Some(deadline)) {
            Ok(_) => self
                .result_now()
                .map_err(|e| WaitTimeoutError::from(WaitError::from(e))),
            Err(WaitFail::Timeout) => Err(WaitTimeoutError::Timeout),
            Err(WaitFail::Interrupted) => Err(WaitTimeoutError::Interrupted),
        }
    }

    fn result_now(&self) -> Result<T, TaskError> {
        self.core.outcome().unwrap_or(Err(TaskError::Panicked(
            "weft pool: task reported done without a result".to_string(),
        )))
    }
}

/// Blocks until one of `handles` is done and returns its index (the lowest
/// one if several are). Pool threads run other work meanwhile.
pub fn wait_any<T>(handles: &[TaskHandle<T>]) -> Result<usize, WaitAnyError> {
    if handles.is_empty() {
        return Err(WaitAnyError::Empty);
    }
    let cores: Vec<&TaskRef> = handles.iter().map(|h| &h.core).collect();
    match wait_first(&cores, None) {
        Ok(i) => Ok(i),
        Err(_) => Err(WaitAnyError::Interrupted),
    }
}

/// As [`wait_any`], giving up after `timeout`.
pub fn wait_any_timeout<T>(
    handles: &[TaskHandle<T>],
    timeout: Duration,
) -> Result<usize, WaitAnyTimeoutError> {
    if handles.is_empty() {
        return Err(WaitAnyTimeoutError::Empty);
    }
    let cores: Vec<&TaskRef> = handles.iter().map(|h| &h.core).collect();
    let deadline = Instant::now().checked_add(timeout);
    match wait_first(&cores, deadline) {
        Ok(i) => Ok(i),
        Err(WaitFail::Timeout) => Err(WaitAnyTimeoutError::Timeout),
        Err(WaitFail::Interrupted) => Err(WaitAnyTimeoutError::Interrupted),
    }
}

/// Why [`wait_first`] gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitFail {
    Timeout,
    Interrupted,
}

fn first_done(cores: &[&TaskRef]) -> Option<usize> {
    cores.iter().position(|c| c.is_done())
}

/// The one wait loop: until one of `cores` is done, the waiting task (if
/// any) is cancelled, or `deadline` passes.
pub(crate) fn wait_first(cores: &[&TaskRef], deadline: Option<Instant>) -> Result<usize, WaitFail> {
    if let Some(i) = first_done(cores) {
        return Ok(i);
    }
    wait_first_slow(cores, deadline)
}

#[cold]
fn wait_first_slow(cores: &[&TaskRef], deadline: Option<Instant>) -> Result<usize, WaitFail> {
    let own = current_cancel_token();
    WorkerThread::with_current(|worker| {
        let worker = worker.filter(|w| !w.is_blocked());
        if let Some(w) = worker {
            // Help first, without registering anything, while there is work
            // at hand (the common case when waiting on tasks one spawned).
            while let Some(job) = w.find_work() {
                w.execute(job);
                if let Some(i) = first_done(cores) {
                    return Ok(i);
                }
                if own.as_ref().is_some_and(CancelToken::is_cancelled) {
                    return Err(WaitFail::Interrupted);
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(WaitFail::Timeout);
                }
            }
        }
        let signal = match worker {
            Some(w) => SignalLatch::for_worker(Arc::clone(w.registry()), w.index()),
            None => SignalLatch::for_thread(),
        };
        let _done_registrations: Vec<Registration> = cores
            .iter()
            .map(|core| {
                let signal = Arc::clone(&signal);
                Registration::new(
                    Arc::clone(core),
                    core.on_done(Box::new(move || signal.set())),
                )
            })
            .collect();
        let _cancel_registration = own.as_ref().map(|token| {
            let signal = Arc::clone(&signal);
            token.on_cancel(move || signal.set())
        });
        loop {
            if let Some(i) = first_done(cores) {
                return Ok(i);
            }
            if own.as_ref().is_some_and(CancelToken::is_cancelled) {
                return Err(WaitFail::Interrupted);
            }
            let set = match worker {
                Some(w) => w.wait_until(signal.core(), deadline),
                None => signal.wait_thread(deadline),
            };
            if !set {
                return match first_done(cores) {
                    Some(i) => Ok(i),
                    None => Err(WaitFail::Timeout),
                };
            }
        }
    })
}
