//! The first failure in input order, shared by every chunk of one call.
//!
//! Every chunk checks [`Failure::skips`] before each item: an item is
//! skipped only if its index is above the lowest failure recorded so far.
//! Since that lowest index only decreases, an item below the *final* lowest
//! failure is never skipped: all of them ran and succeeded, and the error
//! thrown is exactly the one sequential code would have thrown first,
//! whatever the scheduling.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::error::Error;

/// The lowest-index error of a parallel call, and the stop flag derived
/// from it.
#[derive(Debug)]
pub(super) struct Failure {
    /// The lowest failed index so far (`usize::MAX`: none). A hint read
    /// without ordering: a stale (higher) value only skips fewer items.
    lowest: AtomicUsize,
    /// The error of the lowest failed index.
    first: Mutex<Option<(usize, Error)>>,
    /// Whether a worker panicked (the call's output is then incomplete).
    panicked: AtomicBool,
}

impl Failure {
    /// No failure yet.
    pub(super) fn new() -> Failure {
        Failure {
            lowest: AtomicUsize::new(usize::MAX),
            first: Mutex::new(None),
            panicked: AtomicBool::new(false),
        }
    }

    /// Whether item `i` need not run because an item before it failed.
    #[inline]
    pub(super) fn skips(&self, i: usize) -> bool {
        i > self.lowest.load(Ordering::Relaxed)
    }

    /// Whether item `i` comes before every failure recorded so far.
    #[inline]
    pub(super) fn before_first(&self, i: usize) -> bool {
        i < self.lowest.load(Ordering::Relaxed)
    }

    /// Whether any failure was recorded.
    #[inline]
    pub(super) fn any(&self) -> bool {
        self.lowest.load(Ordering::Relaxed) != usize::MAX
    }

    /// Records that item `i` failed with `e`; kept if it is the lowest.
    #[cold]
    pub(super) fn record(&self, i: usize, e: Error) {
        let mut first = self.first.lock();
        if !matches!(&*first, Some((j, _)) if *j <= i) {
            *first = Some((i, e));
        }
        self.lowest.fetch_min(i, Ordering::Relaxed);
    }

    /// Notes that a worker panicked: some of the call's work may not have
    /// run to its end.
    #[cold]
    pub(super) fn mark_panicked(&self) {
        self.panicked.store(true, Ordering::Relaxed);
    }

    /// True unless a worker panicked: every part of the call returned.
    pub(super) fn ended_cleanly(&self) -> bool {
        !self.panicked.load(Ordering::Relaxed)
    }

    /// The lowest-index error, if any item failed.
    pub(super) fn take(&self) -> Option<Error> {
        self.first.lock().take().map(|(_, e)| e)
    }
}
