//! Jobs: type-erased units of work that sit in the deques.
//!
//! A [`JobRef`] is a pointer plus the function that knows what it points to.
//! Two kinds exist: [`StackJob`] (a `join` half or an `install` body, living
//! on the stack of a thread that waits for it) and [`SpawnJob`] (a boxed,
//! `'static` task owned by the queue until it runs).

use std::any::Any;
use std::cell::UnsafeCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Weak};

use super::latch::Latch;
use super::registry::{Registry, WorkerThread};
use super::stats::EventKind;
use super::task::{Body, JobFn, Task, TaskCore, TaskRef};

/// A unit of work. `worker` is the pool thread running it, or `None` when the
/// pool is shutting down and the job must be dropped (a task is then
/// reported cancelled).
pub(crate) trait Job {
    /// # Safety
    /// `this` must point to a live job that has not been executed yet; each
    /// job is executed exactly once.
    unsafe fn execute(this: *const Self, worker: Option<&WorkerThread>);
}

/// A pointer to a job and the function that runs it.
pub(crate) struct JobRef {
    pointer: *const (),
    execute_fn: unsafe fn(*const (), Option<&WorkerThread>),
}

// SAFETY: a `JobRef` is only created for jobs whose contents are `Send`
// (enforced by the bounds of `StackJob::as_job_ref` / `SpawnJob::into_job_ref`),
// and it is executed at most once, by one thread.
unsafe impl Send for JobRef {}

impl JobRef {
    /// A job from its parts.
    ///
    /// # Safety
    /// `pointer` must stay valid until the job is executed, and
    /// `execute_fn` must be the function that knows what it points to.
    pub(crate) unsafe fn from_raw_parts(pointer: *const (), execute_fn: JobFn) -> JobRef {
        JobRef {
            pointer,
            execute_fn,
        }
    }

    /// # Safety
    /// `data` must stay valid until the job is executed.
    unsafe fn new<J: Job>(data: *const J) -> JobRef {
        /// Calls `J::execute` on the erased pointer.
        unsafe fn run<J: Job>(this: *const (), worker: Option<&WorkerThread>) {
            // SAFETY: `this` was made from a `*const J` in `JobRef::new`.
            unsafe { J::execute(this as *const J, worker) }
        }
        JobRef {
            pointer: data as *const (),
            execute_fn: run::<J>,
        }
    }

    /// The address of the job, to recognise it when popped back.
    #[inline]
    pub(crate) fn id(&self) -> *const () {
        self.pointer
    }

    /// Runs (or, with `None`, drops) the job.
    #[inline]
    pub(crate) fn execute(self, worker: Option<&WorkerThread>) {
        // SAFETY: a `JobRef` is consumed here, so each job runs once; the
        // creator guaranteed it stays valid until then.
        unsafe { (self.execute_fn)(self.pointer, worker) }
    }
}

/// The outcome of a stack job.
pub(crate) enum JobResult<R> {
    None,
    Ok(R),
    Panic(Box<dyn Any + Send>),
}

impl<R> JobResult<R> {
    /// The value, or re-raises the job's panic on this thread.
    pub(crate) fn into_return_value(self) -> R {
        match self {
            JobResult::Ok(r) => r,
            JobResult::Panic(p) => panic::resume_unwind(p),
            // Unreachable by construction: the latch is set after the result.
            JobResult::None => {
                panic::resume_unwind(Box::new("weft pool: stack job finished without a result"))
            }
        }
    }
}

/// A job on the stack of the thread that waits for it (a `join` half, or an
/// `install` body). `F` gets `true` if it runs on a thread other than the one
/// that created it.
pub(crate) struct StackJob<L, F, R> {
    pub(crate) latch: L,
    func: UnsafeCell<Option<F>>,
    result: UnsafeCell<JobResult<R>>,
    /// The task that created the job, made current while the job runs on
    /// another thread (see `cancel::current_task_ptr` for why the pointer
    /// stays valid).
    task: Option<*const Task<dyn Body>>,
}

impl<L: Latch, F: FnOnce(bool) -> R, R> StackJob<L, F, R> {
    pub(crate) fn new(func: F, latch: L, task: Option<*const Task<dyn Body>>) -> Self {
        StackJob {
            latch,
            func: UnsafeCell::new(Some(func)),
            result: UnsafeCell::new(JobResult::None),
            task,
        }
    }

    /// # Safety
    /// The job must not move or be dropped until its latch is set (or it is
    /// taken back with `run_inline`).
    pub(crate) unsafe fn as_job_ref(&self) -> JobRef
    where
        F: Send,
        R: Send,
    {
        // SAFETY: forwarded to the caller.
        unsafe { JobRef::new(self) }
    }

    /// Runs the job on the creating thread, after popping it back.
    pub(crate) fn run_inline(self) -> R {
        match self.func.into_inner() {
            Some(f) => f(false),
            None => panic::resume_unwind(Box::new("weft pool: stack job ran twice")),
        }
    }

    /// The result, once the latch is set.
    pub(crate) fn into_result(self) -> R {
        self.result.into_inner().into_return_value()
    }
}

impl<L: Latch, F: FnOnce(bool) -> R, R> Job for StackJob<L, F, R> {
    unsafe fn execute(this: *const Self, worker: Option<&WorkerThread>) {
        // SAFETY: the creator keeps the job alive until its latch is set,
        // which is the last thing done here; only this call touches `func`
        // and `result` (the creator reads `result` after the latch).
        let job = unsafe { &*this };
        // SAFETY: as above: no one else touches `func`.
        let func = unsafe { (*job.func.get()).take() };
        if let Some(func) = func {
            // SAFETY: `job.task` came from `current_task_ptr` on the creating
            // thread, which waits for this job (keeping the task alive) until
            // the latch below is set, after we restore.
            let previous = job
                .task
                .and_then(|t| unsafe { super::cancel::enter_task(t) });
            if let Some(w) = worker {
                w.stats().bump_executed();
                w.emit(EventKind::TaskStart { task: None });
            }
            let result = match panic::catch_unwind(AssertUnwindSafe(|| func(true))) {
                Ok(r) => JobResult::Ok(r),
                Err(p) => JobResult::Panic(p),
            };
            if let Some(w) = worker {
                w.emit(EventKind::TaskEnd { task: None });
            }
            if let Some(previous) = previous {
                super::cancel::restore_current(previous);
            }
            // SAFETY: see above.
            unsafe { *job.result.get() = result };
        }
        // SAFETY: `this` is valid until the latch is set.
        unsafe { L::set(&job.latch) };
    }
}

/// Makes a spawned task: its shared state (for the handle) and the job that
/// runs it. Both point to one allocation.
pub(crate) fn spawn_job<B: Body + 'static>(body: B, pool: Weak<Registry>) -> (TaskRef, JobRef) {
    let task: Arc<Task<B>> = Arc::new(Task::queued(body, pool));
    let handle: TaskRef = task.clone();
    // SAFETY: the reference leaked here is reclaimed by `run_task_job::<B>`,
    // which is the function paired with it.
    let job =
        unsafe { JobRef::from_raw_parts(Arc::into_raw(task) as *const (), run_task_job::<B>) };
    (handle, job)
}

/// The job of a task whose body is a `B`: its first run, and every
/// resumption after a wake or a yield.
///
/// # Safety
/// `this` must come from `Arc::into_raw` of an `Arc<Task<B>>` (one strong
/// reference, reclaimed here).
pub(crate) unsafe fn run_task_job<B: Body + 'static>(
    this: *const (),
    worker: Option<&WorkerThread>,
) {
    // SAFETY: the caller's contract.
    let task: Arc<Task<B>> = unsafe { Arc::from_raw(this as *const Task<B>) };
    super::park::run_job(task, worker);
}

/// The job of the task whose thin pointer is `task` (as the run-next slot
/// keeps it), or `None` for a task without a job (never put in a slot).
///
/// # Safety
/// `task` must come from `Arc::into_raw` of a task of some pool (a
/// `TaskRef` or `Arc<Task<B>>`, cast to a thin pointer), owning one strong
/// reference, which the returned job takes over.
pub(crate) unsafe fn task_job(task: *const ()) -> JobRef {
    // SAFETY: `Task` is `repr(C)` with its `TaskCore` first, so the thin
    // pointer to the task points to its core, alive while we hold the
    // reference.
    let core = unsafe { &*(task as *const TaskCore) };
    let execute = core
        .sched
        .job
        .expect("weft pool: a task without a job in a run-next slot");
    // SAFETY: `execute` is the job function of the task's concrete body
    // type (set at spawn), `task` its data pointer with one strong
    // reference that the job reclaims.
    unsafe { JobRef::from_raw_parts(task, execute) }
}
