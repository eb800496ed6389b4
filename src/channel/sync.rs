//! The few synchronization primitives the channel uses, swapped for loom's
//! model-checked versions under `cfg(loom)`.
//!
//! Only the waiter state word, the channel mutex and thread parking go through
//! here; `Arc` stays `std::sync::Arc` (loom's `Arc` cannot hold `dyn Fn`).

#[cfg(not(loom))]
pub(crate) use parking_lot::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::AtomicUsize;
#[cfg(not(loom))]
pub(crate) use std::thread::{current, park, park_timeout, Thread};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::AtomicUsize;
#[cfg(loom)]
pub(crate) use loom::thread::{current, park, Thread};

#[cfg(loom)]
pub(crate) use loom::sync::MutexGuard;

/// loom's mutex behind parking_lot's (non-poisoning) `lock()` signature.
#[cfg(loom)]
pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
impl<T> Mutex<T> {
    pub(crate) fn new(value: T) -> Self {
        Mutex(loom::sync::Mutex::new(value))
    }

    pub(crate) fn into_inner(self) -> T {
        self.0
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// loom has no timed park: a model never uses a deadline, so this parks.
#[cfg(loom)]
pub(crate) fn park_timeout(_: std::time::Duration) {
    park()
}

/// Runs `f`, a wait that parks this thread, telling the pool first (so a
/// pool worker that blocks is replaced by a spare). Under loom there is no
/// pool to tell.
#[inline]
pub(crate) fn blocking<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(not(loom))]
    {
        crate::pool::blocking(f)
    }
    #[cfg(loom)]
    {
        f()
    }
}
