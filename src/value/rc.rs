//! [`RefCount`]: the reference count at the head of every string, list and
//! map payload.
//!
//! It differs from `std::sync::Arc`'s in three ways, each measured
//! (BENCHMARKS.md, NOTES):
//! - **No weak count.** Payloads never have weak references, so "am I the
//!   only owner?" (asked before every in-place mutation) is one load instead
//!   of `Arc::make_mut`'s compare-exchange on the weak count.
//! - **A unique owner frees without an atomic read-modify-write.** When the
//!   count is 1 the owner that drops it is the last one: nobody else holds a
//!   reference from which to clone a new one, so no other thread can change
//!   the count concurrently.
//! - **Immortal payloads.** Constants, module variables and other values
//!   that live until the process exits are marked immortal: cloning and
//!   dropping them touches no shared cache line, so threads that read the
//!   same constant do not slow each other down (CPython 3.12 does the same
//!   for its immortal objects). An immortal payload is never freed and never
//!   unique (mutating it copies it, as value semantics require).
//!
//! # Orderings
//! As `Arc`: increments are `Relaxed` (a new reference is made from an
//! existing one, which already orders what it points to); the decrement
//! that may be the last is `Release`, and whoever frees first synchronizes
//! with every earlier decrement with an `Acquire` load or fence, so no
//! access by another owner can happen after the free. The uniqueness check
//! is an `Acquire` load for the same reason: an owner that finds the count
//! at 1 and then mutates in place must see every write of owners that
//! dropped their references before.

use std::sync::atomic::{fence, AtomicUsize, Ordering};

/// Counts at or above this are immortal. Far above any count a program can
/// reach by cloning (every reference takes at least 8 bytes of memory).
const IMMORTAL_MIN: usize = 1 << (usize::BITS - 2);

/// The count an immortal payload is given: in the middle of the immortal
/// range, so that racing increments and decrements by owners that read
/// the count just before it was made immortal cannot leave the range.
const IMMORTAL: usize = IMMORTAL_MIN + (IMMORTAL_MIN >> 1);

/// A reference count without weak references, with immortal values.
#[derive(Debug)]
pub(crate) struct RefCount(AtomicUsize);

impl RefCount {
    /// A count of one: a new payload, owned by its creator.
    pub(crate) const fn one() -> RefCount {
        RefCount(AtomicUsize::new(1))
    }

    /// The count of a payload that is never freed (statics, constants).
    pub(crate) const fn immortal() -> RefCount {
        RefCount(AtomicUsize::new(IMMORTAL))
    }

    /// Adds an owner. Immortal payloads are not written to.
    #[inline(always)]
    pub(crate) fn inc(&self) {
        if self.0.load(Ordering::Relaxed) < IMMORTAL_MIN {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Removes an owner; `true` when it was the last one, so the caller
    /// must free the payload.
    #[inline(always)]
    pub(crate) fn dec(&self) -> bool {
        let c = self.0.load(Ordering::Acquire);
        if c == 1 {
            // The caller is the only owner: nobody can clone or drop
            // concurrently, and the Acquire load ordered the decrements of
            // every earlier owner before the free.
            return true;
        }
        if c >= IMMORTAL_MIN {
            return false;
        }
        self.dec_shared()
    }

    #[inline(never)]
    fn dec_shared(&self) -> bool {
        if self.0.fetch_sub(1, Ordering::Release) == 1 {
            fence(Ordering::Acquire);
            return true;
        }
        false
    }

    /// Whether the caller's reference is the only one (so the payload may
    /// be changed in place). Never true for an immortal payload.
    #[inline(always)]
    pub(crate) fn is_unique(&self) -> bool {
        self.0.load(Ordering::Acquire) == 1
    }

    /// Whether the payload is immortal.
    #[inline]
    pub(crate) fn is_immortal(&self) -> bool {
        self.0.load(Ordering::Relaxed) >= IMMORTAL_MIN
    }

    /// Makes the payload immortal: from now on it is never freed. The
    /// caller gives up its reference to it (leaks it), which is what makes
    /// this sound with other owners still around: their later drops see an
    /// immortal count and do nothing.
    pub(crate) fn make_immortal(&self) {
        self.0.store(IMMORTAL, Ordering::Release);
    }

    /// The current count (tests and diagnostics only; racy by nature).
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn counts_owners_and_reports_the_last() {
        let rc = RefCount::one();
        assert!(rc.is_unique());
        rc.inc();
        rc.inc();
        assert_eq!(rc.get(), 3);
        assert!(!rc.is_unique());
        assert!(!rc.dec());
        assert!(!rc.dec());
        assert!(rc.is_unique());
        assert!(rc.dec());
    }

    #[test]
    fn immortal_counts_never_move_far_and_never_free() {
        let rc = RefCount::immortal();
        assert!(rc.is_immortal() && !rc.is_unique());
        for _ in 0..1000 {
            rc.inc();
        }
        assert_eq!(rc.get(), IMMORTAL);
        for _ in 0..1000 {
            assert!(!rc.dec());
        }
        assert_eq!(rc.get(), IMMORTAL);
        let shared = RefCount::one();
        shared.inc();
        shared.make_immortal();
        assert!(!shared.dec() && !shared.dec() && !shared.dec());
        assert!(shared.is_immortal());
    }

    #[test]
    fn concurrent_owners_free_exactly_once() {
        use std::sync::atomic::AtomicUsize as Counter;
        let rc = RefCount::one();
        let frees = Counter::new(0);
        const OWNERS: usize = 8;
        for _ in 1..OWNERS * 1000 {
            rc.inc();
        }
        std::thread::scope(|s| {
            for _ in 0..OWNERS {
                s.spawn(|| {
                    for _ in 0..1000 {
                        if rc.dec() {
                            frees.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(frees.load(Ordering::Relaxed), 1);
    }
}
