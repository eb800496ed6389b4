//! The shared state of one pool (queues, sleep, spares, counters) and the
//! pool threads' loops: find work, run it, spin, park.
//!
//! Find-work order for a worker: its run-next slot (a task woken by the
//! task that ran here last, `run_next/README.md`), its own deque (LIFO),
//! then the global injector (taking a batch), then victims on its NUMA
//! node, then the others, each list starting at a random victim, then spare
//! threads' deques, and last the run-next slots of busy threads whose
//! occupant has waited for [`GRACE`]. A steal takes one job, or half of a
//! long (> 32) deque of spawned tasks. With `work_stealing = false` a
//! worker reads only its own slot, its own deque and its own inbox (where
//! outside work is dealt round-robin).

use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal, Stealer, Worker};
use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex};

use super::blocking::Spares;
use super::cancel::CancelToken;
use super::config::ThreadPoolConfig;
use super::job::{task_job, JobRef};
use super::latch::CoreLatch;
use super::park::listing::Listing;
use super::quiescent::Watchers;
use super::run_next::{RunNext, GRACE};
use super::sleep::{Sleep, SleepOutcome};
use super::stats::{Event, EventHook, EventKind, ExternalStats, PoolStats, SlotStats};
use super::timer::Timers;
use super::topology::{pin_current, PinOutcome, Placement, Topology};

/// One pool thread's place: its deque's stealing end, its counters, its
/// shutdown latch. Workers own slots `0..workers`; spares use the rest.
pub(crate) struct Slot {
    stealer: Stealer<JobRef>,
    /// The task that runs next on this thread (`run_next/`).
    run_next: CachePadded<RunNext>,
    /// The owning end, parked here while no thread runs in the slot.
    deque: Mutex<Option<Worker<JobRef>>>,
    stats: CachePadded<SlotStats>,
    terminate: CoreLatch,
    /// Inside `blocking` (no-steal mode deals no work to it).
    blocked: AtomicBool,
    node: usize,
}

/// Everything the threads of one pool share.
pub(crate) struct Registry {
    config: ThreadPoolConfig,
    workers: usize,
    slots: Box<[Slot]>,
    injector: Injector<JobRef>,
    /// Per-worker queues for outside work when stealing is off.
    inboxes: Box<[Injector<JobRef>]>,
    stealing: bool,
    pub(crate) sleep: Sleep,
    pub(crate) spares: Spares,
    terminating: AtomicBool,
    next_inbox: AtomicUsize,
    pub(crate) external: CachePadded<ExternalStats>,
    hook: Option<EventHook>,
    pub(crate) epoch: Instant,
    spin: Duration,
    /// `time_slice_ms`: how long a chain of run-next hand-offs may keep
    /// its thread while other work waits (Go's `inheritTime`).
    slice: Duration,
    placements: Vec<Placement>,
    pinning: Mutex<Vec<PinOutcome>>,
    started: Mutex<usize>,
    started_cv: Condvar,
    /// Spare slots ever handed out: `workers..workers + spare_high` may hold
    /// stealable work.
    spare_high: AtomicUsize,
    topology: Topology,
    /// Cancelled when shutdown starts.
    shutdown: CancelToken,
    /// Tasks parked now (`park/`).
    pub(crate) parked: Listing,
    /// Deadlines of parked tasks (`timer/`).
    pub(crate) timers: Arc<Timers>,
    /// Told when the pool becomes quiescent (`quiescent/`).
    pub(crate) watchers: Watchers,
}

impl Registry {
    pub(crate) fn new(config: ThreadPoolConfig, hook: Option<EventHook>) -> Arc<Registry> {
        let workers = config.resolved_worker_count().max(1);
        let max_spares = config.max_spare_workers();
        let topology = if config.numa_aware() {
            Topology::detect()
        } else {
            Topology::flat(num_cpus::get())
        };
        let placements = if config.numa_aware() {
            topology.place(workers)
        } else {
            vec![Placement { node: 0, cpu: None }; workers]
        };
        let slots: Box<[Slot]> = (0..workers + max_spares)
            .map(|i| {
                let deque = Worker::new_lifo();
                Slot {
                    stealer: deque.stealer(),
                    run_next: CachePadded::new(RunNext::new()),
                    deque: Mutex::new(Some(deque)),
                    stats: CachePadded::new(SlotStats::default()),
                    terminate: CoreLatch::new(),
                    blocked: AtomicBool::new(false),
                    node: placements.get(i).map_or(usize::MAX, |p| p.node),
                }
            })
            .collect();
        let stealing = config.work_stealing();
        Arc::new(Registry {
            workers,
            slots,
            injector: Injector::new(),
            inboxes: if stealing {
                Box::new([])
            } else {
                (0..workers).map(|_| Injector::new()).collect()
            },
            stealing,
            sleep: Sleep::new(workers + max_spares),
            spares: Spares::new(workers, max_spares),
            terminating: AtomicBool::new(false),
            next_inbox: AtomicUsize::new(0),
            external: CachePadded::new(ExternalStats::default()),
            hook,
            epoch: Instant::now(),
            spin: config.spin_before_park(),
            slice: config.time_slice(),
            pinning: Mutex::new(vec![PinOutcome::NotRequested; workers]),
            placements,
            started: Mutex::new(0),
            started_cv: Condvar::new(),
            spare_high: AtomicUsize::new(0),
            topology,
            shutdown: CancelToken::new(),
            parked: Listing::new(workers + max_spares + 1),
            timers: Timers::new(),
            watchers: Watchers::default(),
            config,
        })
    }

    pub(crate) fn config(&self) -> &ThreadPoolConfig {
        &self.config
    }

    pub(crate) fn topology(&self) -> &Topology {
        &self.topology
    }

    pub(crate) fn workers(&self) -> usize {
        self.workers
    }

    pub(crate) fn stealing(&self) -> bool {
        self.stealing
    }

    pub(crate) fn pinning(&self) -> Vec<PinOutcome> {
        self.pinning.lock().clone()
    }

    pub(crate) fn shutdown_token(&self) -> &CancelToken {
        &self.shutdown
    }

    pub(crate) fn terminating(&self) -> bool {
        self.terminating.load(Ordering::Acquire)
    }

    /// Slots that may hold work: the workers' and the spares' used so far.
    fn live_slots(&self) -> usize {
        self.workers + self.spare_high.load(Ordering::Acquire)
    }

    pub(crate) fn note_spare_slot(&self, slot: usize) {
        self.spare_high
            .fetch_max(slot + 1 - self.workers, Ordering::AcqRel);
    }

    /// Whether a pool thread other than the caller (a pool thread) is
    /// neither parked nor about to park.
    fn others_awake(&self) -> bool {
        self.workers + self.spares.active() > self.sleep.sleepers() + 1
    }

    pub(crate) fn slot_blocked(&self, slot: usize, blocked: bool) {
        self.slots[slot].blocked.store(blocked, Ordering::SeqCst);
    }

    /// Queues work from outside the pool.
    pub(crate) fn inject(&self, job: JobRef) {
        if self.stealing {
            self.injector.push(job);
            self.sleep.notify_work();
        } else {
            // Deal round-robin, passing over workers that are blocked.
            let start = self.next_inbox.fetch_add(1, Ordering::Relaxed);
            let target = (0..self.workers)
                .map(|k| (start + k) % self.workers)
                .find(|&i| !self.slots[i].blocked.load(Ordering::SeqCst))
                .unwrap_or(start % self.workers);
            self.deal(target, job);
        }
    }

    /// Queues work for worker `index` (no-steal mode: its inbox; with
    /// stealing, the injector).
    pub(crate) fn deal(&self, index: usize, job: JobRef) {
        if self.stealing {
            self.injector.push(job);
            self.sleep.notify_work();
            return;
        }
        self.inboxes[index % self.workers].push(job);
        self.sleep.notify_slot(index % self.workers);
        if self.spares.active() > 0 {
            // Spares read every queue; one may be parked.
            self.sleep.notify_work();
        }
    }

    /// Whether thread `slot` would find work (run under the sleep lock).
    /// A run-next slot with an occupant counts: the thread keeps searching
    /// and takes it once its grace is over, if its owner has not.
    fn has_work(&self, slot: usize) -> bool {
        let deques = || {
            self.slots[..self.live_slots()]
                .iter()
                .any(|s| !s.stealer.is_empty() || !s.run_next.is_empty())
        };
        if self.stealing {
            !self.injector.is_empty() || deques()
        } else if slot < self.workers {
            !self.inboxes[slot].is_empty()
                || !self.slots[slot].stealer.is_empty()
                || !self.slots[slot].run_next.is_empty()
        } else {
            self.inboxes.iter().any(|q| !q.is_empty()) || deques()
        }
    }

    /// Records that one worker is up (and how pinning went).
    fn report_started(&self, index: usize, outcome: PinOutcome) {
        if let Some(o) = self.pinning.lock().get_mut(index) {
            *o = outcome;
        }
        let mut started = self.started.lock();
        *started += 1;
        self.started_cv.notify_all();
    }

    /// Blocks until `n` workers have reported in.
    pub(crate) fn wait_started(&self, n: usize) {
        let mut started = self.started.lock();
        while *started < n {
            self.started_cv.wait(&mut started);
        }
    }

    /// Starts shutdown: every thread finishes its current job, drops queued
    /// tasks, and exits.
    pub(crate) fn terminate(&self) {
        self.terminating.store(true, Ordering::SeqCst);
        for slot in self.slots.iter() {
            slot.terminate.set();
        }
        self.sleep.wake_all();
        self.spares.wake_retired();
        self.shutdown.cancel();
    }

    /// Whether any job is queued anywhere (the global queue, the inboxes,
    /// any pool thread's deque or run-next slot).
    pub(crate) fn any_queued_work(&self) -> bool {
        !self.injector.is_empty()
            || self.inboxes.iter().any(|q| !q.is_empty())
            || self.slots[..self.live_slots()]
                .iter()
                .any(|s| !s.stealer.is_empty() || !s.run_next.is_empty())
    }

    /// Whether tasks wait in the queues this pool thread serves first (its
    /// run-next slot, its own deque, the global queue, its inbox): then a
    /// task that has used up its time slice yields.
    pub(crate) fn work_waiting_for(&self, w: &WorkerThread) -> bool {
        !w.run_next().is_empty() || w.others_wait()
    }

    /// Drops every job still queued anywhere (after all threads exited).
    pub(crate) fn drain_all(&self) {
        let drop_all = |steal: &dyn Fn() -> Steal<JobRef>| loop {
            match steal() {
                Steal::Success(job) => job.execute(None),
                Steal::Retry => continue,
                Steal::Empty => break,
            }
        };
        drop_all(&|| self.injector.steal());
        for inbox in self.inboxes.iter() {
            drop_all(&|| inbox.steal());
        }
        for slot in self.slots.iter() {
            if let Some(task) = slot.run_next.take() {
                // SAFETY: a slot's occupant is a task pointer owning one
                // reference (`WorkerThread::push_run_next`).
                unsafe { task_job(task) }.execute(None);
            }
            drop_all(&|| slot.stealer.steal());
        }
    }

    pub(crate) fn stats(&self) -> PoolStats {
        let mut stats = PoolStats::collect(
            self.slots[..self.workers].iter().map(|s| &*s.stats),
            self.slots[self.workers..].iter().map(|s| &*s.stats),
            &self.external,
        );
        let (started, blocked) = self.spares.counts();
        stats.spares = started;
        stats.blocked_now = blocked;
        (stats.parked_now, stats.parked_peak) = self.parked.counts();
        stats.timers_now = self.timers.pending();
        stats.timers_armed = self.timers.armed();
        stats
    }

    /// The event row of threads outside the pool (one past the last pool
    /// thread's slot).
    pub(crate) fn outside_row(&self) -> usize {
        self.slots.len()
    }

    /// Whether an event hook is installed.
    pub(crate) fn tracing(&self) -> bool {
        self.hook.is_some()
    }

    /// An event on a thread outside the pool (an awaiter running a task
    /// inline).
    pub(crate) fn emit_outside(&self, kind: EventKind) {
        if self.hook.is_some() {
            self.emit_at(kind, self.outside_row(), Instant::now());
        }
    }

    fn emit_at(&self, kind: EventKind, worker: usize, at: Instant) {
        if let Some(hook) = &self.hook {
            let event = Event {
                kind,
                worker,
                at: at.saturating_duration_since(self.epoch),
            };
            // A panicking hook must not take a pool thread down with it.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hook(&event)));
        }
    }

    /// Steal orders for worker `index`: same node, then the rest.
    fn victims(&self, index: usize) -> (Box<[usize]>, Box<[usize]>) {
        let node = self.slots[index].node;
        let others = (0..self.workers).filter(|&v| v != index);
        if index >= self.workers {
            return (others.collect(), Box::new([]));
        }
        let near = others
            .clone()
            .filter(|&v| self.slots[v].node == node)
            .collect();
        let far = others.filter(|&v| self.slots[v].node != node).collect();
        (near, far)
    }
}

/// A victim deque longer than this is stolen from in batches.
const BATCH_STEAL_MIN: usize = 32;

thread_local! {
    /// The pool thread running on this OS thread, if any.
    static WORKER_THREAD: Cell<*const WorkerThread> = const { Cell::new(ptr::null()) };
}

/// A pool thread's private state. Lives on that thread's stack for as long
/// as the thread serves the pool.
pub(crate) struct WorkerThread {
    registry: Arc<Registry>,
    index: usize,
    deque: Worker<JobRef>,
    rng: Cell<u64>,
    blocked: Cell<bool>,
    near: Box<[usize]>,
    far: Box<[usize]>,
    busy_since: Cell<Option<Instant>>,
    /// Since when run-next hand-offs have kept this thread while other
    /// work waits (`None`: not now).
    chain_since: Cell<Option<Instant>>,
    /// Per slot, what this thread saw there last as a thief: (puts count,
    /// occupant, since when). The grace of an occupant runs from then.
    seen: Box<[Cell<Seen>]>,
}

/// What a thief saw in one run-next slot: (puts count, occupant, when).
type Seen = (usize, *mut (), Instant);

/// Clears the thread-local pointer even if the thread unwinds.
struct CurrentGuard;

impl Drop for CurrentGuard {
    fn drop(&mut self) {
        WORKER_THREAD.with(|c| c.set(ptr::null()));
    }
}

impl WorkerThread {
    fn new(registry: Arc<Registry>, index: usize, deque: Worker<JobRef>) -> Self {
        let (near, far) = registry.victims(index);
        let registry_slots = registry.slots.len();
        let epoch = registry.epoch;
        WorkerThread {
            rng: Cell::new(0x9E37_79B9_7F4A_7C15 ^ ((index as u64 + 1) << 17) | 1),
            registry,
            index,
            deque,
            blocked: Cell::new(false),
            near,
            far,
            busy_since: Cell::new(None),
            chain_since: Cell::new(None),
            seen: (0..registry_slots)
                .map(|_| Cell::new((usize::MAX, ptr::null_mut(), epoch)))
                .collect(),
        }
    }

    /// Runs `f` with this thread registered as the current pool thread.
    fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        WORKER_THREAD.with(|c| c.set(self as *const WorkerThread));
        let _guard = CurrentGuard;
        f()
    }

    /// Calls `f` with the pool thread running on this OS thread, if any.
    #[inline]
    pub(crate) fn with_current<R>(f: impl FnOnce(Option<&WorkerThread>) -> R) -> R {
        let current = WORKER_THREAD.with(Cell::get);
        // SAFETY: the pointer is non-null only inside `WorkerThread::enter`,
        // whose `self` outlives the call; `f` runs on this thread, within
        // that call (we are nested inside it), and cannot keep the reference.
        let worker = unsafe { current.as_ref() };
        f(worker)
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub(crate) fn index(&self) -> usize {
        self.index
    }

    pub(crate) fn is_blocked(&self) -> bool {
        self.blocked.get()
    }

    pub(crate) fn set_blocked(&self, blocked: bool) {
        self.blocked.set(blocked);
    }

    pub(crate) fn stats(&self) -> &SlotStats {
        &self.registry.slots[self.index].stats
    }

    /// Whether an event hook is installed.
    #[inline]
    pub(crate) fn tracing(&self) -> bool {
        self.registry.hook.is_some()
    }

    #[inline]
    pub(crate) fn emit(&self, kind: EventKind) {
        if self.registry.hook.is_some() {
            self.registry.emit_at(kind, self.index, Instant::now());
        }
    }

    /// Pushes onto this thread's deque, where it (LIFO) or thieves find it.
    #[inline]
    pub(crate) fn push(&self, job: JobRef) {
        self.deque.push(job);
        if self.registry.stealing {
            self.registry.sleep.notify_local_work();
        }
    }

    /// Pops this thread's newest job.
    #[inline]
    pub(crate) fn take_local_job(&self) -> Option<JobRef> {
        self.deque.pop()
    }

    /// This thread's run-next slot.
    #[inline]
    pub(crate) fn run_next(&self) -> &RunNext {
        &self.registry.slots[self.index].run_next
    }

    /// Makes `task` (a thin task pointer owning one reference, of a task
    /// with a job, of this pool) run next on this thread: after the job
    /// running now, before the deque. Wakes a thread only if none
    /// searches or watches (`run_next/README.md`); the previous occupant
    /// moves to the deque, which may wake a thread.
    #[inline]
    pub(crate) fn push_run_next(&self, task: *const ()) {
        if let Some(old) = self.run_next().put(task as *mut ()) {
            // SAFETY: occupants are task pointers owning one reference.
            self.push(unsafe { task_job(old) });
        } else if self.registry.stealing {
            self.registry.sleep.notify_run_next();
        }
    }

    /// Moves the run-next occupant to the deque, where thieves find it
    /// (this thread is about to block: it cannot run it soon).
    pub(crate) fn flush_run_next(&self) {
        if let Some(task) = self.run_next().take() {
            // SAFETY: occupants are task pointers owning one reference.
            self.deque.push(unsafe { task_job(task) });
        }
    }

    /// Whether jobs wait in this thread's deque, the global queue or its
    /// inbox (not counting the run-next slot).
    #[inline]
    pub(crate) fn others_wait(&self) -> bool {
        let r = &*self.registry;
        !self.deque.is_empty()
            || !r.injector.is_empty()
            || (!r.stealing && self.index < r.workers && !r.inboxes[self.index].is_empty())
    }

    /// The owner's take of its run-next occupant. A chain of such
    /// hand-offs inherits one time slice (Go's `inheritTime`): once it has
    /// kept this thread for `time_slice_ms` while other jobs wait, the
    /// occupant goes to the back of the global queue instead, and the
    /// waiting jobs run first.
    #[inline]
    fn take_run_next(&self) -> Option<JobRef> {
        let Some(task) = self.run_next().take() else {
            self.chain_since.set(None);
            return None;
        };
        // SAFETY: occupants are task pointers owning one reference.
        let job = unsafe { task_job(task) };
        if !self.others_wait() {
            self.chain_since.set(None);
            return Some(job);
        }
        self.chain_expired(job)
    }

    /// Others wait behind a run-next hand-off: start or check the chain's
    /// slice.
    #[cold]
    fn chain_expired(&self, job: JobRef) -> Option<JobRef> {
        let now = Instant::now();
        match self.chain_since.get() {
            Some(since) if now.saturating_duration_since(since) >= self.registry.slice => {
                self.chain_since.set(None);
                self.stats().bump_yields();
                self.registry.inject(job);
                None
            }
            Some(_) => Some(job),
            None => {
                self.chain_since.set(Some(now));
                Some(job)
            }
        }
    }

    fn next_random(&self) -> usize {
        // xorshift64
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x as usize
    }

    #[inline]
    pub(crate) fn find_work(&self) -> Option<JobRef> {
        self.take_run_next()
            .or_else(|| self.deque.pop())
            .or_else(|| self.find_work_elsewhere())
    }

    fn find_work_elsewhere(&self) -> Option<JobRef> {
        let r = &*self.registry;
        if r.stealing {
            if let Some(job) = self.take_batch(&r.injector) {
                return Some(job);
            }
            self.steal_from(&self.near)
                .or_else(|| self.steal_from(&self.far))
                .or_else(|| self.steal_from_spares())
                .or_else(|| self.steal_run_next())
        } else if self.index < r.workers {
            self.take_batch(&r.inboxes[self.index])
        } else {
            // A spare in no-steal mode takes any queued work, so that work
            // queued behind a blocked worker still runs.
            let start = self.next_random();
            let n = r.inboxes.len();
            (0..n)
                .find_map(|k| self.take_batch(&r.inboxes[(start + k) % n]))
                .or_else(|| self.steal_from(&self.near))
                .or_else(|| self.steal_from_spares())
                .or_else(|| self.steal_run_next())
        }
    }

    /// The last look of a thief: the run-next slot of another thread whose
    /// occupant has sat there for [`GRACE`] (the same occupant, put by the
    /// same put, seen twice that far apart) is taken. A fresh occupant is
    /// left to its owner, which runs it as soon as its current job parks.
    fn steal_run_next(&self) -> Option<JobRef> {
        let r = &*self.registry;
        let live = r.live_slots();
        let mut now = None;
        for victim in 0..live {
            if victim == self.index {
                continue;
            }
            let slot = &r.slots[victim].run_next;
            let occupant = slot.peek();
            if occupant.is_null() {
                continue;
            }
            let puts = slot.puts();
            let now = *now.get_or_insert_with(Instant::now);
            let (seen_puts, seen_occupant, since) = self.seen[victim].get();
            if seen_puts != puts || seen_occupant != occupant {
                // New to us: its grace starts now.
                self.seen[victim].set((puts, occupant, now));
                continue;
            }
            if now.saturating_duration_since(since) < GRACE {
                continue;
            }
            if let Some(task) = slot.steal(occupant) {
                self.stats().bump_stolen();
                self.emit(EventKind::Steal { victim });
                // SAFETY: occupants are task pointers owning one reference;
                // the successful swap made it ours.
                return Some(unsafe { task_job(task) });
            }
        }
        None
    }

    /// Takes a batch from a shared queue into the own deque; returns one.
    fn take_batch(&self, queue: &Injector<JobRef>) -> Option<JobRef> {
        loop {
            match queue.steal_batch_and_pop(&self.deque) {
                Steal::Success(job) => {
                    if !self.deque.is_empty() && self.registry.stealing {
                        // Others may steal the rest of the batch.
                        self.registry.sleep.notify_local_work();
                    }
                    return Some(job);
                }
                Steal::Empty => return None,
                Steal::Retry => {}
            }
        }
    }

    fn steal_from(&self, victims: &[usize]) -> Option<JobRef> {
        let n = victims.len();
        if n == 0 {
            return None;
        }
        let start = self.next_random() % n;
        loop {
            let mut retry = false;
            for k in 0..n {
                let victim = victims[(start + k) % n];
                let stealer = &self.registry.slots[victim].stealer;
                // A long deque is a pile of spawned tasks, not the few halves
                // of nested joins: take a batch (half of it) at once.
                let stolen = if stealer.len() > BATCH_STEAL_MIN {
                    let stolen = stealer.steal_batch_and_pop(&self.deque);
                    if stolen.is_success() && !self.deque.is_empty() {
                        // Others may steal the rest of the batch.
                        self.registry.sleep.notify_local_work();
                    }
                    stolen
                } else {
                    stealer.steal()
                };
                match stolen {
                    Steal::Success(job) => {
                        self.stats().bump_stolen();
                        self.emit(EventKind::Steal { victim });
                        return Some(job);
                    }
                    Steal::Retry => retry = true,
                    Steal::Empty => {}
                }
            }
            if !retry {
                return None;
            }
        }
    }

    fn steal_from_spares(&self) -> Option<JobRef> {
        let r = &*self.registry;
        let high = r.spare_high.load(Ordering::Acquire);
        (0..high)
            .map(|k| r.workers + k)
            .filter(|&s| s != self.index)
            .find_map(|victim| loop {
                match r.slots[victim].stealer.steal() {
                    Steal::Success(job) => {
                        self.stats().bump_stolen();
                        self.emit(EventKind::Steal { victim });
                        break Some(job);
                    }
                    Steal::Retry => {}
                    Steal::Empty => break None,
                }
            })
    }

    /// Runs one job found in a queue (drops it during shutdown, except jobs
    /// someone waits for on their stack, which always run).
    #[inline]
    pub(crate) fn execute(&self, job: JobRef) {
        if self.busy_since.get().is_none() {
            self.busy_since.set(Some(Instant::now()));
        }
        if self.registry.terminating.load(Ordering::Relaxed) {
            job.execute(None);
        } else {
            job.execute(Some(self));
        }
    }

    /// Runs pool work until `latch` is set (true) or `deadline` passes
    /// (false). The help-first wait behind `join`, task waits, and the
    /// worker's main loop.
    pub(crate) fn wait_until(&self, latch: &CoreLatch, deadline: Option<Instant>) -> bool {
        loop {
            if latch.probe() {
                return true;
            }
            if let Some(job) = self.find_work() {
                self.execute(job);
                continue;
            }
            if !self.idle(latch, deadline) {
                return latch.probe();
            }
        }
    }

    /// No work found: spin for `spin_before_park` (yielding the CPU between
    /// looks), then park. False if `deadline` passed.
    #[cold]
    fn idle(&self, latch: &CoreLatch, deadline: Option<Instant>) -> bool {
        let r = &*self.registry;
        if let Some(since) = self.busy_since.take() {
            self.stats().add_busy(since.elapsed());
        }
        let spin_end = Instant::now() + r.spin;
        let mut round = 0u32;
        r.sleep.start_searching();
        loop {
            if latch.probe() {
                r.sleep.stop_searching();
                return true;
            }
            if let Some(job) = self.find_work() {
                r.sleep.stop_searching();
                self.execute(job);
                return true;
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                r.sleep.stop_searching();
                return false;
            }
            if now >= spin_end {
                break;
            }
            round += 1;
            if round <= 6 {
                for _ in 0..(1u32 << round) {
                    std::hint::spin_loop();
                }
            } else {
                thread::yield_now();
            }
        }
        r.sleep.stop_searching();
        let parked_at = Instant::now();
        // While another thread is awake it may put a task in its run-next
        // slot, which wakes nobody, and then run long: park for one time
        // slice at most and come back to look (`run_next/README.md`).
        let watch = (r.stealing || self.index >= r.workers) && r.others_awake();
        let park_deadline = match (watch, deadline) {
            (false, d) => d,
            (true, None) => Some(parked_at + r.slice),
            (true, Some(d)) => Some(d.min(parked_at + r.slice)),
        };
        if watch {
            r.sleep.start_watching();
        }
        let outcome = r.sleep.sleep_watched(
            self.index,
            latch,
            park_deadline,
            || r.has_work(self.index),
            |parked, timed| {
                // The last thread to park may leave the pool quiescent.
                if r.watched() && r.quiescent_now(parked, timed) {
                    r.tell_watchers();
                }
            },
        );
        if watch {
            r.sleep.stop_watching();
        }
        if outcome != SleepOutcome::NotParked {
            self.stats().bump_parks();
            if r.hook.is_some() {
                r.emit_at(EventKind::Park, self.index, parked_at);
                r.emit_at(EventKind::Unpark, self.index, Instant::now());
            }
        }
        outcome != SleepOutcome::TimedOut || !deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Shutdown: drops every job left in this thread's queues.
    fn drain(&self) {
        if let Some(task) = self.run_next().take() {
            // SAFETY: occupants are task pointers owning one reference.
            unsafe { task_job(task) }.execute(None);
        }
        while let Some(job) = self.deque.pop() {
            job.execute(None);
        }
        if !self.registry.stealing && self.index < self.registry.workers {
            loop {
                match self.registry.inboxes[self.index].steal() {
                    Steal::Success(job) => job.execute(None),
                    Steal::Retry => {}
                    Steal::Empty => break,
                }
            }
        }
    }
}

/// The body of worker thread `index`.
pub(crate) fn run_worker(registry: Arc<Registry>, index: usize) {
    let Some(deque) = registry.slots[index].deque.lock().take() else {
        registry.report_started(index, PinOutcome::NotRequested);
        return;
    };
    let outcome = if registry.config.numa_aware() {
        pin_current(registry.placements[index])
    } else {
        PinOutcome::NotRequested
    };
    registry.report_started(index, outcome);
    let worker = WorkerThread::new(Arc::clone(&registry), index, deque);
    worker.enter(|| {
        worker.wait_until(&registry.slots[index].terminate, None);
        worker.drain();
    });
}

/// The body of a spare thread in slot `slot`: serve while the pool is short
/// of running workers, retire when idle and no longer needed, exit after a
/// while retired.
pub(crate) fn run_spare(registry: Arc<Registry>, slot: usize) {
    let Some(deque) = registry.slots[slot].deque.lock().take() else {
        registry.spares.exited(slot);
        return;
    };
    let worker = WorkerThread::new(Arc::clone(&registry), slot, deque);
    let terminate = &registry.slots[slot].terminate;
    worker.enter(|| 'serve: loop {
        loop {
            if terminate.probe() {
                break 'serve;
            }
            if let Some(job) = worker.find_work() {
                worker.execute(job);
                continue;
            }
            if registry.spares.over_quota() {
                break;
            }
            worker.idle(terminate, None);
        }
        if let Some(since) = worker.busy_since.take() {
            worker.stats().add_busy(since.elapsed());
        }
        if !registry.spares.retire(slot, &registry) {
            break 'serve;
        }
    });
    worker.drain();
    let WorkerThread { deque, .. } = worker;
    *registry.slots[slot].deque.lock() = Some(deque);
    registry.spares.exited(slot);
}
