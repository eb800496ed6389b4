//! The run-next slot: one task per pool thread that runs before anything
//! in the thread's deque (Go's `runnext`, tokio's LIFO slot).
//!
//! A task woken by the task running on a pool thread goes here (the
//! previous occupant, if any, moves to the deque) and runs as soon as the
//! waker parks or ends, on the same thread, with no other thread woken for
//! it. Thieves leave a slot alone while its occupant is fresh and take it
//! once the same occupant has sat there for [`GRACE`] (the owner is busy
//! with a long job). The protocol (states, each side's steps, why nothing
//! is lost or run twice, why no starvation) is in `README.md` beside this
//! file; the loom model is `loom_test.rs`.
//!
//! The slot holds a thin pointer to a task (`Task<B>`, whose `TaskCore`
//! comes first: `#[repr(C)]`), which carries the function that runs its
//! job: one word, so one atomic swap moves it. This file knows only
//! pointers; `registry.rs` turns them back into jobs.

use std::time::Duration;

use super::sync::{AtomicPtr, AtomicUsize, Ordering};

#[cfg(all(test, loom))]
mod loom_test;
#[cfg(all(test, not(loom)))]
mod test;

/// How long a thief leaves the same occupant of a busy thread's slot
/// alone before it takes it (Go waits about 3 us).
pub(crate) const GRACE: Duration = Duration::from_micros(5);

/// One pool thread's run-next slot.
pub(crate) struct RunNext {
    /// The occupant, or null. Only the owner puts; the owner and thieves
    /// take, each with one atomic read-modify-write, so exactly one of
    /// them gets a given occupant.
    slot: AtomicPtr<()>,
    /// Occupants put so far (written by the owner only). A thief that
    /// sees the same count (and an occupant) twice, [`GRACE`] apart, knows
    /// that occupant waited that long.
    puts: AtomicUsize,
}

impl Default for RunNext {
    fn default() -> Self {
        RunNext::new()
    }
}

impl RunNext {
    pub(crate) fn new() -> Self {
        RunNext {
            slot: AtomicPtr::new(std::ptr::null_mut()),
            puts: AtomicUsize::new(0),
        }
    }

    /// Owner only: makes `item` (non-null) the occupant and returns the
    /// previous one, which the caller must queue elsewhere.
    #[inline]
    pub(crate) fn put(&self, item: *mut ()) -> Option<*mut ()> {
        debug_assert!(!item.is_null());
        // Only the owner writes `puts`: a load and a store, no RMW.
        let n = self.puts.load(Ordering::Relaxed);
        self.puts.store(n.wrapping_add(1), Ordering::Relaxed);
        // Release: a taker that acquires `item` sees the task's state as
        // the waker left it. Acquire: the previous occupant, if still
        // here, is ours again.
        let old = self.slot.swap(item, Ordering::AcqRel);
        (!old.is_null()).then_some(old)
    }

    /// Owner: takes the occupant, if any.
    #[inline]
    pub(crate) fn take(&self) -> Option<*mut ()> {
        // The load keeps the common empty case a read of a line this
        // thread owns.
        if self.slot.load(Ordering::Relaxed).is_null() {
            return None;
        }
        let old = self.slot.swap(std::ptr::null_mut(), Ordering::Acquire);
        (!old.is_null()).then_some(old)
    }

    /// Thief: takes the occupant only if it is still `seen`.
    pub(crate) fn steal(&self, seen: *mut ()) -> Option<*mut ()> {
        self.slot
            .compare_exchange(
                seen,
                std::ptr::null_mut(),
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .ok()
            .filter(|p| !p.is_null())
    }

    /// The occupant now (null if none), for a look by a thief.
    #[inline]
    pub(crate) fn peek(&self) -> *mut () {
        self.slot.load(Ordering::Acquire)
    }

    /// Whether the slot is empty now.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.slot.load(Ordering::Acquire).is_null()
    }

    /// Occupants put so far.
    #[inline]
    pub(crate) fn puts(&self) -> usize {
        self.puts.load(Ordering::Relaxed)
    }
}
