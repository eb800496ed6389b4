//! [`ThreadPool`]: the public face of a pool.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use super::cancel::{current_task_ptr, CancelToken};
use super::config::ThreadPoolConfig;
use super::job::{spawn_job, StackJob};
use super::join::{join_on_worker, JoinContext};
use super::latch::LockLatch;
use super::park::Resumable;
use super::quiescent::QuiescenceWatch;
use super::registry::{run_worker, Registry, WorkerThread};
use super::stats::{EventHook, PoolStats};
use super::task::{Body, Once, Resume, TaskHandle};
use super::timer::Timer;
use super::topology::{PinOutcome, Topology};
use std::time::Instant;

/// Why a pool could not be built.
#[derive(Debug)]
pub enum PoolError {
    /// A config value the pool cannot work with.
    InvalidConfig {
        /// The config key (as in CONFIG.md).
        key: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The OS refused to start a worker thread.
    Spawn(io::Error),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::InvalidConfig { key, reason } => {
                write!(f, "invalid thread pool config: {key}: {reason}")
            }
            PoolError::Spawn(e) => write!(f, "cannot start a pool thread: {e}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Spawn(e) => Some(e),
            PoolError::InvalidConfig { .. } => None,
        }
    }
}

/// Checks the values the pool relies on: the ranges of CONFIG.md, which
/// [`ThreadPoolConfig::validate`] owns (the same checks a config file gets).
fn validate(config: &ThreadPoolConfig) -> Result<(), PoolError> {
    config.validate().map_err(|e| PoolError::InvalidConfig {
        key: e
            .key()
            .and_then(super::ConfigKey::from_name)
            .map_or("config", |k| k.name()),
        reason: e.message().to_string(),
    })
}

/// A work-stealing thread pool. See the [module docs](super) for the model.
///
/// Dropping the pool stops it: running jobs finish, queued tasks are
/// dropped (their handles report [`TaskError::Cancelled`](super::TaskError::Cancelled)),
/// and every thread is joined.
pub struct ThreadPool {
    registry: Arc<Registry>,
    threads: Vec<JoinHandle<()>>,
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("workers", &self.worker_count())
            .finish()
    }
}

impl ThreadPool {
    /// Starts a pool: validates `config`, starts the workers (pinning them
    /// when `numa_aware` is on) and returns once all are running.
    pub fn new(config: ThreadPoolConfig) -> Result<ThreadPool, PoolError> {
        ThreadPool::build(config, None)
    }

    /// As [`new`](Self::new), with `hook` called for every [`Event`](super::Event)
    /// (task start/end, steal, park/unpark), e.g. to write a trace.
    pub fn with_event_hook(
        config: ThreadPoolConfig,
        hook: EventHook,
    ) -> Result<ThreadPool, PoolError> {
        ThreadPool::build(config, Some(hook))
    }

    fn build(config: ThreadPoolConfig, hook: Option<EventHook>) -> Result<ThreadPool, PoolError> {
        validate(&config)?;
        let stack = config.stack_size();
        let registry = Registry::new(config, hook);
        let mut pool = ThreadPool {
            registry: Arc::clone(&registry),
            threads: Vec::with_capacity(registry.workers()),
        };
        for index in 0..registry.workers() {
            let r = Arc::clone(&registry);
            let spawned = thread::Builder::new()
                .name(format!("weft-worker-{index}"))
                .stack_size(stack)
                .spawn(move || run_worker(r, index));
            match spawned {
                Ok(handle) => pool.threads.push(handle),
                // Dropping `pool` stops the threads already started.
                Err(e) => return Err(PoolError::Spawn(e)),
            }
        }
        registry.wait_started(registry.workers());
        Ok(pool)
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The number of workers (not counting spares).
    pub fn worker_count(&self) -> usize {
        self.registry.workers()
    }

    /// The configuration the pool runs with.
    pub fn config(&self) -> &ThreadPoolConfig {
        self.registry.config()
    }

    /// How pinning went, per worker (all [`PinOutcome::NotRequested`] when
    /// `numa_aware` is off).
    pub fn pinning(&self) -> Vec<PinOutcome> {
        self.registry.pinning()
    }

    /// The machine topology the pool placed its workers by (a flat one
    /// when `numa_aware` is off).
    pub fn topology(&self) -> &Topology {
        self.registry.topology()
    }

    /// A token cancelled when the pool starts shutting down (is dropped).
    /// Running jobs are not interrupted at shutdown, so a job blocked on
    /// something only queued work would provide should also listen to this
    /// token (e.g. `on_cancel` to wake a channel receive), or the drop waits
    /// for it forever.
    pub fn shutdown_token(&self) -> CancelToken {
        self.registry.shutdown_token().clone()
    }

    /// The [`Event::worker`](super::Event::worker) row of events on threads
    /// outside the pool (an awaiter running a task inline): one past the
    /// last pool thread's slot (`worker_count + max_spare_workers`).
    pub fn outside_row(&self) -> usize {
        self.registry.outside_row()
    }

    /// Time since the pool was created (the clock of [`Event::at`](super::Event::at)).
    pub fn elapsed(&self) -> std::time::Duration {
        self.registry.epoch.elapsed()
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> PoolStats {
        self.registry.stats()
    }

    /// Calls `f` at `deadline`, on the pool's timer thread (started with
    /// the first timer). `f` must be short and must not block: it is meant
    /// to wake a parked task ([`Waker::wake`](super::Waker::wake)). The
    /// returned [`Timer`] cancels it when dropped.
    pub fn timer_at(&self, deadline: Instant, f: impl FnOnce() + Send + 'static) -> Timer {
        self.registry
            .timers
            .arm(&self.registry, deadline, Box::new(f))
    }

    /// Calls `f` whenever the pool becomes quiescent, and now if it is:
    /// no job runs or is queued, every pool thread is parked with no
    /// deadline, no thread is blocked in [`blocking`](super::blocking), and
    /// no timer is pending. Nothing in the pool can then run again unless
    /// something outside it (the watcher's own thread) gives it work. `f`
    /// must be short and must not block; dropping the returned watch
    /// unregisters it. (`quiescent/README.md`.)
    pub fn watch_quiescence(&self, f: impl Fn() + Send + Sync + 'static) -> QuiescenceWatch {
        self.registry.watch_quiescence(Arc::new(f))
    }

    /// Whether the pool is quiescent now (see
    /// [`watch_quiescence`](Self::watch_quiescence)).
    pub fn is_quiescent(&self) -> bool {
        self.registry
            .sleep
            .with_parked(|parked, timed| self.registry.quiescent_now(parked, timed))
    }

    /// Every parked task: `(id, what it waits for)` as its
    /// [`Resumable::describe`] says, in id order. Each task is looked at
    /// while it stays parked (a wake meanwhile is kept and acted on after).
    pub fn parked_tasks(&self) -> Vec<(u64, String)> {
        super::park::describe_parked(&self.registry)
    }

    /// Whether the calling thread is one of this pool's threads.
    fn on_this_pool<R>(&self, f: impl FnOnce(Option<&WorkerThread>) -> R) -> R {
        WorkerThread::with_current(|w| f(w.filter(|w| Arc::ptr_eq(w.registry(), &self.registry))))
    }

    /// Runs `f` on the pool as a task and returns its handle at once. From a
    /// pool thread the task goes on that thread's deque (LIFO, stealable);
    /// from elsewhere to the global queue (or, without stealing, dealt
    /// round-robin to the workers). A panic in `f` becomes the task's error.
    pub fn spawn<F, T>(&self, f: F) -> TaskHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_body(Once(Some(f)))
    }

    /// Runs `r` on the pool as a resumable task ([`Resumable`]) and returns
    /// its handle at once: `r` is polled until it is done, and may park
    /// (wait holding no thread) or yield in between. Queued like
    /// [`spawn`](Self::spawn).
    pub fn spawn_resumable<R: Resumable>(&self, r: R) -> TaskHandle<R::Output> {
        self.spawn_body(Resume(Some(r)))
    }

    fn spawn_body<B: Body + 'static, T>(&self, body: B) -> TaskHandle<T> {
        let (task, job) = spawn_job(body, Arc::downgrade(&self.registry));
        let handle = TaskHandle::new(task);
        self.on_this_pool(|worker| match worker {
            Some(w) => {
                w.stats().bump_spawned();
                w.push(job);
            }
            None => {
                self.registry
                    .external
                    .spawned
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.registry.inject(job);
            }
        });
        handle
    }

    /// Runs `a` and `b`, potentially in parallel, and returns both results.
    /// The closures may borrow from the caller. A panic in either is
    /// re-raised here once both have finished.
    pub fn join<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce() -> RA + Send,
        B: FnOnce() -> RB + Send,
        RA: Send,
        RB: Send,
    {
        self.join_context(|_| a(), |_| b())
    }

    /// As [`join`](Self::join), telling each closure whether it was stolen
    /// by another thread ([`JoinContext::migrated`]).
    pub fn join_context<A, B, RA, RB>(&self, a: A, b: B) -> (RA, RB)
    where
        A: FnOnce(JoinContext) -> RA + Send,
        B: FnOnce(JoinContext) -> RB + Send,
        RA: Send,
        RB: Send,
    {
        WorkerThread::with_current(move |worker| {
            match worker.filter(|w| Arc::ptr_eq(w.registry(), &self.registry)) {
                Some(w) => join_on_worker(w, a, b),
                None => self.install(move || {
                    WorkerThread::with_current(move |w| match w {
                        Some(w) => join_on_worker(w, a, b),
                        None => (a(JoinContext::new(true)), b(JoinContext::new(true))),
                    })
                }),
            }
        })
    }

    /// Runs `f` on the pool and waits for it. On one of this pool's threads
    /// it just calls `f`; from elsewhere the calling thread blocks (a thread
    /// of another pool is marked [`blocking`](super::blocking) meanwhile). A
    /// panic in `f` is re-raised here.
    pub fn install<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        WorkerThread::with_current(move |worker| {
            match worker.filter(|w| Arc::ptr_eq(w.registry(), &self.registry)) {
                Some(_) => f(),
                None => super::blocking::blocking(|| self.install_cold(f)),
            }
        })
    }

    #[cold]
    fn install_cold<F, R>(&self, f: F) -> R
    where
        F: FnOnce() -> R + Send,
        R: Send,
    {
        let job = StackJob::new(move |_migrated| f(), LockLatch::new(), current_task_ptr());
        // SAFETY: `job` stays on this frame until its latch is set: we block
        // on the latch right below, and a job is always run (never dropped)
        // even at shutdown.
        self.registry.inject(unsafe { job.as_job_ref() });
        job.latch.wait();
        job.into_result()
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.registry.terminate();
        if let Some(timer_thread) = self.registry.timers.shutdown() {
            if timer_thread.thread().id() != thread::current().id() {
                let _ = timer_thread.join();
            }
        }
        let me = thread::current().id();
        for handle in self.threads.drain(..) {
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
        loop {
            let handles = self.registry.spares.take_handles();
            if handles.is_empty() {
                break;
            }
            for handle in handles {
                if handle.thread().id() != me {
                    let _ = handle.join();
                }
            }
        }
        self.registry.drain_all();
        super::park::finish_parked(&self.registry);
    }
}
