//! How idle pool threads park and how new work wakes them.
//!
//! The protocol, and why it never loses a wakeup nor deadlocks, is written
//! up in `README.md` next to this file. In short: a thread that found no work
//! announces itself in `sleepers`, then re-checks for work, then parks; a
//! thread that publishes work issues a `SeqCst` fence and reads `sleepers`,
//! waking one sleeper if there is any. One of the two always sees the other.

use std::time::Instant;

use super::latch::CoreLatch;
use super::sync::{fence, AtomicUsize, Condvar, Mutex, Ordering};

#[cfg(all(test, loom))]
mod loom_test;

/// Where a pool thread is in the protocol.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SlotState {
    /// Running, spinning or looking for work.
    Awake,
    /// Parked on its condvar, listed in `sleeping`.
    Sleeping,
    /// Taken off the list by a waker; will run again.
    Woken,
}

struct SleepState {
    status: Vec<SlotState>,
    /// Parked threads, most recently parked last (woken first: its cache is
    /// the warmest and it parked for the shortest time).
    sleeping: Vec<usize>,
    /// Threads parked (or just woken) with a deadline: they wake by
    /// themselves, so the pool is not quiescent while there are any.
    timed: usize,
}

/// How a call to [`Sleep::sleep`] ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum SleepOutcome {
    /// The re-check found work or a set latch: the thread never parked.
    NotParked,
    /// Parked, then woken.
    Woken,
    /// Parked, then the deadline passed.
    TimedOut,
}

/// The sleep state of one pool: one slot per thread (workers and spares).
pub(crate) struct Sleep {
    /// Threads between "announced" and "woken": the waker's fast path reads
    /// only this.
    sleepers: AtomicUsize,
    /// Threads spinning in search of work (idle but awake). Local pushes
    /// wake no sleeper while one of these is around: it will find the job.
    searching: AtomicUsize,
    /// Threads parked for at most a time slice to come back and look at
    /// the run-next slots of busy threads (`run_next/README.md`).
    watching: AtomicUsize,
    state: Mutex<SleepState>,
    condvars: Box<[Condvar]>,
}

impl Sleep {
    pub(crate) fn new(slots: usize) -> Self {
        Sleep {
            sleepers: AtomicUsize::new(0),
            searching: AtomicUsize::new(0),
            watching: AtomicUsize::new(0),
            state: Mutex::new(SleepState {
                status: vec![SlotState::Awake; slots],
                sleeping: Vec::with_capacity(slots),
                timed: 0,
            }),
            condvars: (0..slots).map(|_| Condvar::new()).collect(),
        }
    }

    /// Parks thread `slot` until it is woken (new work, its latch set,
    /// shutdown) or `deadline` passes. Does not park if `latch` is set or
    /// `has_work()` finds work after the thread announced itself.
    ///
    /// `has_work` must look at every queue this thread would take work from;
    /// it runs under the sleep lock.
    #[cold]
    #[cfg(loom)]
    pub(crate) fn sleep(
        &self,
        slot: usize,
        latch: &CoreLatch,
        deadline: Option<Instant>,
        has_work: impl FnOnce() -> bool,
    ) -> SleepOutcome {
        self.sleep_watched(slot, latch, deadline, has_work, |_, _| {})
    }

    /// As [`sleep`](Self::sleep); just before the thread parks, still
    /// under the sleep lock, `on_park(parked, timed)` is called with the
    /// number of threads parked without a deadline (this one included) and
    /// with one (the quiescence check, `quiescent/README.md`).
    #[cold]
    pub(crate) fn sleep_watched(
        &self,
        slot: usize,
        latch: &CoreLatch,
        deadline: Option<Instant>,
        has_work: impl FnOnce() -> bool,
        on_park: impl FnOnce(usize, usize),
    ) -> SleepOutcome {
        // Step 1: tell a setter of `latch` that it must wake us.
        if !latch.get_sleepy() {
            return SleepOutcome::NotParked;
        }
        let mut state = self.state.lock();
        // Step 2: announce, then (step 3) re-check. The fence pairs with the
        // one in `notify_work`.
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if latch.probe() || has_work() || deadline.is_some_and(|d| Instant::now() >= d) {
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            drop(state);
            latch.wake_up();
            return SleepOutcome::NotParked;
        }
        // Step 4: park until a waker moves us to `Woken`.
        state.status[slot] = SlotState::Sleeping;
        state.sleeping.push(slot);
        if deadline.is_some() {
            state.timed += 1;
        }
        on_park(
            state.sleeping.len() - state.timed.min(state.sleeping.len()),
            state.timed,
        );
        let outcome = loop {
            state = match deadline {
                None => self.condvars[slot].wait(state),
                Some(d) => self.condvars[slot].wait_until(state, d),
            };
            match state.status[slot] {
                SlotState::Woken => break SleepOutcome::Woken,
                SlotState::Sleeping if deadline.is_some_and(|d| Instant::now() >= d) => {
                    // Leave on our own: undo what a waker would have done.
                    if let Some(pos) = state.sleeping.iter().position(|&s| s == slot) {
                        state.sleeping.remove(pos);
                    }
                    self.sleepers.fetch_sub(1, Ordering::SeqCst);
                    break SleepOutcome::TimedOut;
                }
                _ => {} // spurious wakeup
            }
        };
        state.status[slot] = SlotState::Awake;
        if deadline.is_some() {
            state.timed -= 1;
        }
        drop(state);
        latch.wake_up();
        outcome
    }

    /// Under the sleep lock: `f(parked, timed)` as for
    /// [`sleep_watched`](Self::sleep_watched)'s `on_park`.
    pub(crate) fn with_parked<R>(&self, f: impl FnOnce(usize, usize) -> R) -> R {
        let state = self.state.lock();
        f(
            state.sleeping.len() - state.timed.min(state.sleeping.len()),
            state.timed,
        )
    }

    /// Called after publishing work (a push to any queue a sleeper would
    /// look at): wakes one parked thread if there is one.
    #[inline]
    pub(crate) fn notify_work(&self) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) != 0 {
            self.wake_one();
        }
    }

    /// A hint after pushing work that the pushing thread will run itself if
    /// nobody takes it (its own deque): no fence, so a racing sleeper may be
    /// missed, which costs parallelism, never liveness.
    /// Also skipped while some thread is spinning in search of work.
    #[inline]
    pub(crate) fn notify_local_work(&self) {
        if self.sleepers.load(Ordering::Relaxed) != 0 && self.searching.load(Ordering::Relaxed) == 0
        {
            self.wake_one();
        }
    }

    /// A hint after putting a task in the caller's run-next slot: wakes a
    /// parked thread only if none is searching or watching the slots (so
    /// that a waker that then runs long cannot hold the task for good); a
    /// thread woken so watches until the pool goes idle, so a chain of
    /// hand-offs wakes at most one thread. No fence: a missed sleeper
    /// costs parallelism (the owner runs the task itself), never liveness.
    #[inline]
    pub(crate) fn notify_run_next(&self) {
        if self.sleepers.load(Ordering::Relaxed) != 0
            && self.searching.load(Ordering::Relaxed) == 0
            && self.watching.load(Ordering::Relaxed) == 0
        {
            self.wake_one();
        }
    }

    /// A thread parks for a while to come back and look at the run-next
    /// slots (ended by [`stop_watching`](Self::stop_watching)).
    pub(crate) fn start_watching(&self) {
        self.watching.fetch_add(1, Ordering::Relaxed);
    }

    /// The watching park is over.
    pub(crate) fn stop_watching(&self) {
        self.watching.fetch_sub(1, Ordering::Relaxed);
    }

    /// A thread starts spinning in search of work.
    pub(crate) fn start_searching(&self) {
        self.searching.fetch_add(1, Ordering::Relaxed);
    }

    /// The thread found work, or gives up spinning to park.
    pub(crate) fn stop_searching(&self) {
        self.searching.fetch_sub(1, Ordering::Relaxed);
    }

    #[cold]
    fn wake_one(&self) {
        let mut state = self.state.lock();
        if let Some(slot) = state.sleeping.pop() {
            state.status[slot] = SlotState::Woken;
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            drop(state);
            // Notified after unlocking, so the woken thread need not wait for
            // the lock. A late notify can only hit a later sleep of the same
            // thread, which sees itself still `Sleeping` and waits again.
            self.condvars[slot].notify_one();
        }
    }

    /// Wakes thread `slot` if it is parked (its latch was set, or work was
    /// dealt to its own queue). A no-op otherwise.
    #[cold]
    pub(crate) fn wake(&self, slot: usize) {
        let mut state = self.state.lock();
        if state.status[slot] == SlotState::Sleeping {
            if let Some(pos) = state.sleeping.iter().position(|&s| s == slot) {
                state.sleeping.remove(pos);
            }
            state.status[slot] = SlotState::Woken;
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            drop(state);
            self.condvars[slot].notify_one();
        }
    }

    /// Wakes thread `slot` if it is parked, after work was dealt to a queue
    /// only it reads: the fast path is the same as [`Sleep::notify_work`].
    #[inline]
    pub(crate) fn notify_slot(&self, slot: usize) {
        fence(Ordering::SeqCst);
        if self.sleepers.load(Ordering::Relaxed) != 0 {
            self.wake(slot);
        }
    }

    /// Wakes every parked thread (shutdown).
    pub(crate) fn wake_all(&self) {
        let mut state = self.state.lock();
        while let Some(slot) = state.sleeping.pop() {
            state.status[slot] = SlotState::Woken;
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
            self.condvars[slot].notify_one();
        }
    }

    /// How many threads are announced or parked right now.
    pub(crate) fn sleepers(&self) -> usize {
        self.sleepers.load(Ordering::Relaxed)
    }
}
