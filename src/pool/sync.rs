//! The synchronisation primitives the sleep protocol is written against.
//!
//! Normally these are `std` atomics and `parking_lot`'s mutex and condvar;
//! under `cfg(loom)` they are loom's, so the protocol can be model-checked
//! (`RUSTFLAGS="--cfg loom" cargo test --release --lib pool::sleep`). The
//! facade offers only what the protocol uses, with one calling style for both.

use std::time::Instant;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize, Ordering};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicU32, AtomicU8, AtomicUsize, Ordering};

/// A mutex: `parking_lot` normally, loom's under `cfg(loom)`.
pub(crate) struct Mutex<T> {
    #[cfg(not(loom))]
    inner: parking_lot::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

/// The guard of a facade [`Mutex`].
#[cfg(not(loom))]
pub(crate) type MutexGuard<'a, T> = parking_lot::MutexGuard<'a, T>;
/// The guard of a facade [`Mutex`].
#[cfg(loom)]
pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex {
            #[cfg(not(loom))]
            inner: parking_lot::Mutex::new(value),
            #[cfg(loom)]
            inner: loom::sync::Mutex::new(value),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
        #[cfg(not(loom))]
        {
            self.inner.lock()
        }
        #[cfg(loom)]
        {
            // A poisoned lock means a model thread panicked: the model has
            // already failed, so keep the guard and let loom report it.
            self.inner.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}

/// A condition variable paired with the facade [`Mutex`].
pub(crate) struct Condvar {
    #[cfg(not(loom))]
    inner: parking_lot::Condvar,
    #[cfg(loom)]
    inner: loom::sync::Condvar,
}

impl Condvar {
    pub(crate) fn new() -> Self {
        Condvar {
            #[cfg(not(loom))]
            inner: parking_lot::Condvar::new(),
            #[cfg(loom)]
            inner: loom::sync::Condvar::new(),
        }
    }

    /// Releases the lock, waits for a notification (or a spurious wakeup),
    /// and re-takes the lock.
    pub(crate) fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        #[cfg(not(loom))]
        {
            let mut guard = guard;
            self.inner.wait(&mut guard);
            guard
        }
        #[cfg(loom)]
        {
            self.inner.wait(guard).unwrap_or_else(|e| e.into_inner())
        }
    }

    /// As [`Condvar::wait`], but gives up at `deadline`. Loom has no clock, so
    /// under `cfg(loom)` this is a plain wait (the models use no deadline).
    pub(crate) fn wait_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Instant,
    ) -> MutexGuard<'a, T> {
        #[cfg(not(loom))]
        {
            let mut guard = guard;
            self.inner.wait_until(&mut guard, deadline);
            guard
        }
        #[cfg(loom)]
        {
            let _ = deadline;
            self.wait(guard)
        }
    }

    pub(crate) fn notify_one(&self) {
        self.inner.notify_one();
    }
}
