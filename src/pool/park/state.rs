//! The task state word: one atomic holding a task's lifecycle and its
//! flags, changed only by the transitions below (each one compare-and-swap
//! or one read-modify-write). The table of states and transitions, and why
//! no wakeup is lost and no task runs twice, is in `README.md` beside this
//! file.

use crate::pool::sync::{AtomicU32, Ordering};

/// In a queue (or about to be put in one): runnable.
pub(crate) const QUEUED: u32 = 0;
/// Being polled by exactly one thread (the one whose claim succeeded).
pub(crate) const RUNNING: u32 = 1;
/// Waiting for a wake; in no queue, polled by nobody.
pub(crate) const PARKED: u32 = 2;
/// Finished (value, failure or cancellation). Final.
pub(crate) const DONE: u32 = 3;
/// The lifecycle bits.
pub(crate) const LIFECYCLE: u32 = 0b11;
/// A wake arrived while the task was running: poll it again instead of
/// parking it.
pub(crate) const NOTIFIED: u32 = 1 << 2;
/// Polled at least once (a claim of a never-started task, by an awaiter
/// that runs it inline, requires this bit clear).
pub(crate) const STARTED: u32 = 1 << 3;
/// Cancellation was requested.
pub(crate) const CANCELLED: u32 = 1 << 4;

/// What [`State::wake`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// `PARKED -> QUEUED`: the caller must put the task in a queue.
    Schedule,
    /// The task was running: `NOTIFIED` is set, its runner polls again.
    Notified,
    /// Already queued, already notified, or done: nothing to do.
    Nothing,
}

/// A task's state word.
pub(crate) struct State(AtomicU32);

impl State {
    /// A task that has not started (its job is queued).
    pub(crate) fn queued() -> State {
        State(AtomicU32::new(QUEUED))
    }

    /// A free-standing cancellation token: "running" until cancelled.
    pub(crate) fn running() -> State {
        State(AtomicU32::new(RUNNING | STARTED))
    }

    /// The current word.
    #[inline]
    pub(crate) fn load(&self) -> u32 {
        self.0.load(Ordering::Acquire)
    }

    /// The lifecycle part of the current word.
    #[inline]
    pub(crate) fn lifecycle(&self) -> u32 {
        self.load() & LIFECYCLE
    }

    #[inline]
    pub(crate) fn is_done(&self) -> bool {
        self.lifecycle() == DONE
    }

    #[inline]
    pub(crate) fn is_cancelled(&self) -> bool {
        self.load() & CANCELLED != 0
    }

    /// The claim: `QUEUED -> RUNNING | STARTED`. With `fresh_only`, only a
    /// task that never ran can be claimed (an awaiter running its child
    /// inline). Returns the word before the claim, or `None` if the task
    /// was not claimable (running, parked, done, or started when
    /// `fresh_only`).
    pub(crate) fn claim(&self, fresh_only: bool) -> Option<u32> {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            if cur & LIFECYCLE != QUEUED || (fresh_only && cur & STARTED != 0) {
                return None;
            }
            let next = (cur & !LIFECYCLE & !NOTIFIED) | RUNNING | STARTED;
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Some(cur),
                Err(now) => cur = now,
            }
        }
    }

    /// The runner's poll returned "waiting": `RUNNING -> PARKED`, unless a
    /// wake arrived during the poll (`NOTIFIED`), in which case the flag is
    /// cleared, the task stays `RUNNING`, and the runner must poll again
    /// (returns false).
    pub(crate) fn park(&self) -> bool {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            debug_assert_eq!(cur & LIFECYCLE, RUNNING, "park of a task not running");
            let (next, parked) = if cur & NOTIFIED != 0 {
                (cur & !NOTIFIED, false)
            } else {
                ((cur & !LIFECYCLE) | PARKED, true)
            };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return parked,
                Err(now) => cur = now,
            }
        }
    }

    /// The runner's poll returned "yield": `RUNNING -> QUEUED` (any pending
    /// notification is moot: the task is about to be polled again anyway).
    /// The caller puts it in a queue.
    pub(crate) fn requeue(&self) {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            debug_assert_eq!(cur & LIFECYCLE, RUNNING, "requeue of a task not running");
            let next = cur & !LIFECYCLE & !NOTIFIED; // QUEUED == 0
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// A wake, from any thread: `PARKED -> QUEUED` (the caller schedules),
    /// `RUNNING -> RUNNING | NOTIFIED`, otherwise nothing.
    ///
    /// Every outcome but `DONE` is decided by a successful compare-and-swap,
    /// even "nothing to do" (`QUEUED`, or `RUNNING | NOTIFIED`: the swap
    /// writes the word unchanged). A plain load may return a stale word (a
    /// `NOTIFIED` the runner has already consumed, a `QUEUED` already
    /// claimed); deciding "nothing" from it loses the wake (README, "Why no
    /// wakeup is lost"; loom model `two_wakes_racing_each_other_and_the_park`).
    pub(crate) fn wake(&self) -> Wake {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let (next, what) = match cur & LIFECYCLE {
                PARKED => (cur & !LIFECYCLE, Wake::Schedule), // -> QUEUED
                RUNNING if cur & NOTIFIED == 0 => (cur | NOTIFIED, Wake::Notified),
                // Final: no later word can follow it, so it cannot be stale.
                DONE => return Wake::Nothing,
                // QUEUED, or RUNNING | NOTIFIED: confirm it is the latest word.
                _ => (cur, Wake::Nothing),
            };
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return what,
                Err(now) => cur = now,
            }
        }
    }

    /// Inspection of a parked task's body (for a listing):
    /// `PARKED -> RUNNING`. False if it is not parked.
    pub(crate) fn inspect(&self) -> bool {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            if cur & LIFECYCLE != PARKED {
                return false;
            }
            let next = (cur & !LIFECYCLE) | RUNNING;
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
    }

    /// `-> DONE`, from whatever lifecycle state the caller owns (running,
    /// or queued and never started when the caller claimed it by cancel).
    /// Returns the word before.
    pub(crate) fn complete(&self) -> u32 {
        let mut cur = self.0.load(Ordering::Acquire);
        loop {
            let next = (cur & !NOTIFIED) | DONE;
            match self
                .0
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return cur,
                Err(now) => cur = now,
            }
        }
    }

    /// Sets `CANCELLED`; returns the word before.
    pub(crate) fn cancel(&self) -> u32 {
        self.0.fetch_or(CANCELLED, Ordering::SeqCst)
    }
}

#[cfg(all(test, not(loom)))]
mod test {
    use super::*;

    #[test]
    fn a_wake_while_running_makes_the_park_fail_once() {
        let s = State::queued();
        assert_eq!(s.claim(false), Some(QUEUED));
        assert_eq!(s.wake(), Wake::Notified);
        assert_eq!(s.wake(), Wake::Nothing, "one notification is enough");
        assert!(!s.park(), "notified: poll again");
        assert!(s.park());
        assert_eq!(s.lifecycle(), PARKED);
        assert_eq!(s.wake(), Wake::Schedule);
        assert_eq!(s.wake(), Wake::Nothing, "already queued");
        assert_eq!(s.lifecycle(), QUEUED);
    }

    #[test]
    fn only_a_task_that_never_ran_can_be_claimed_fresh() {
        let s = State::queued();
        assert!(s.claim(true).is_some());
        assert!(s.claim(false).is_none(), "running");
        assert!(s.park());
        assert!(s.claim(false).is_none(), "parked");
        assert_eq!(s.wake(), Wake::Schedule);
        assert!(s.claim(true).is_none(), "queued again but started");
        assert!(s.claim(false).is_some());
        s.complete();
        assert!(s.is_done());
        assert_eq!(s.wake(), Wake::Nothing);
        assert!(s.claim(false).is_none());
    }

    #[test]
    fn cancel_is_a_flag_beside_the_lifecycle() {
        let s = State::queued();
        assert_eq!(s.cancel() & CANCELLED, 0);
        assert_ne!(s.cancel() & CANCELLED, 0);
        assert!(s.is_cancelled());
        assert_eq!(s.lifecycle(), QUEUED);
        assert!(s.claim(false).is_some());
        assert!(s.is_cancelled());
    }

    #[test]
    fn inspect_only_takes_a_parked_task() {
        let s = State::queued();
        assert!(!s.inspect());
        s.claim(false);
        assert!(!s.inspect());
        assert!(s.park());
        assert!(s.inspect());
        assert_eq!(s.lifecycle(), RUNNING);
        assert!(s.park());
    }

    #[test]
    fn requeue_forgets_a_notification() {
        let s = State::queued();
        s.claim(false);
        assert_eq!(s.wake(), Wake::Notified);
        s.requeue();
        assert_eq!(s.load() & (LIFECYCLE | NOTIFIED), QUEUED);
    }
}
