//! Latches: one-shot "this happened" signals that a waiter blocks on.
//!
//! [`CoreLatch`] is the state word shared with the sleep protocol (see
//! `sleep/README.md`): a waiting pool thread marks it `SLEEPING` before it
//! parks, so the setter knows when it must wake that thread and can skip the
//! sleep lock otherwise. The other latches add who to wake:
//! - [`SpinLatch`]: owned by a pool thread waiting in `join`; set by a thread
//!   of the same pool.
//! - [`LockLatch`]: owned by a thread outside the pool (mutex + condvar).
//! - [`SignalLatch`]: shared (`Arc`), settable from any thread; used by task
//!   waits, which are woken by task completion or by cancellation.

use std::sync::Arc;
use std::time::Instant;

use super::registry::Registry;
use super::sync::{AtomicU8, Ordering};

const UNSET: u8 = 0;
const SLEEPING: u8 = 1;
const SET: u8 = 2;

/// The state word of a latch: `UNSET -> (SLEEPING <-> UNSET)* -> SET`.
pub(crate) struct CoreLatch {
    state: AtomicU8,
}

impl CoreLatch {
    pub(crate) fn new() -> Self {
        CoreLatch {
            state: AtomicU8::new(UNSET),
        }
    }

    /// Whether the latch is set.
    #[inline]
    pub(crate) fn probe(&self) -> bool {
        self.state.load(Ordering::Acquire) == SET
    }

    /// The owner is about to park: `UNSET -> SLEEPING`. False if the latch is
    /// already set (then the owner must not park).
    pub(crate) fn get_sleepy(&self) -> bool {
        self.state
            .compare_exchange(UNSET, SLEEPING, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    }

    /// The owner stopped parking: `SLEEPING -> UNSET` unless it was set.
    pub(crate) fn wake_up(&self) {
        let _ = self
            .state
            .compare_exchange(SLEEPING, UNSET, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Sets the latch. Returns true if the owner had announced it would park,
    /// in which case the caller must wake it through the sleep protocol.
    /// The latch may be freed by its owner as soon as this returns.
    #[inline]
    pub(crate) fn set(&self) -> bool {
        self.state.swap(SET, Ordering::AcqRel) == SLEEPING
    }
}

/// Something a job sets when it is done.
pub(crate) trait Latch {
    /// Sets the latch.
    ///
    /// # Safety
    /// `this` must be valid on entry; the owner may free it as soon as the
    /// latch is observed set, so this must not touch `*this` afterwards.
    unsafe fn set(this: *const Self);
}

/// A latch owned by a pool thread (waiting in `join`), set by a thread of the
/// same pool.
pub(crate) struct SpinLatch<'r> {
    core: CoreLatch,
    owner: usize,
    registry: &'r Arc<Registry>,
}

impl<'r> SpinLatch<'r> {
    pub(crate) fn new(registry: &'r Arc<Registry>, owner: usize) -> Self {
        SpinLatch {
            core: CoreLatch::new(),
            owner,
            registry,
        }
    }

    pub(crate) fn core(&self) -> &CoreLatch {
        &self.core
    }
}

impl Latch for SpinLatch<'_> {
    unsafe fn set(this: *const Self) {
        // SAFETY: `this` is valid on entry (trait contract). Copy what is
        // needed before setting: after `core.set()` the owner may return and
        // free the latch. The registry outlives the set because the owner's
        // thread holds an `Arc` to it until it has seen the latch set, and we
        // clone that `Arc` before the set.
        let (owner, registry) = unsafe { ((*this).owner, Arc::clone((*this).registry)) };
        // SAFETY: still valid: the owner cannot free it before it is set.
        if unsafe { (*this).core.set() } {
            registry.sleep.wake(owner);
        }
    }
}

/// A latch owned by a thread outside the pool: a flag under a mutex.
pub(crate) struct LockLatch {
    done: std::sync::Mutex<bool>,
    cv: std::sync::Condvar,
}

impl LockLatch {
    pub(crate) fn new() -> Self {
        LockLatch {
            done: std::sync::Mutex::new(false),
            cv: std::sync::Condvar::new(),
        }
    }

    /// Blocks until set.
    pub(crate) fn wait(&self) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            done = self.cv.wait(done).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Latch for LockLatch {
    unsafe fn set(this: *const Self) {
        // SAFETY: valid on entry. The owner only returns after taking the
        // mutex and seeing the flag, which cannot happen before we unlock; the
        // notify happens while we hold the lock.
        let this = unsafe { &*this };
        let mut done = this.done.lock().unwrap_or_else(|e| e.into_inner());
        *done = true;
        this.cv.notify_all();
    }
}

/// Who waits on a [`SignalLatch`].
enum SignalOwner {
    /// A pool thread, woken through its pool's sleep protocol.
    Worker {
        registry: Arc<Registry>,
        slot: usize,
    },
    /// Any other thread, woken through a condvar.
    Thread {
        lock: parking_lot::Mutex<()>,
        cv: parking_lot::Condvar,
    },
}

/// A shared latch that any thread may set, any number of times (after the
/// first, sets do nothing).
pub(crate) struct SignalLatch {
    core: CoreLatch,
    owner: SignalOwner,
}

impl SignalLatch {
    pub(crate) fn for_worker(registry: Arc<Registry>, slot: usize) -> Arc<Self> {
        Arc::new(SignalLatch {
            core: CoreLatch::new(),
            owner: SignalOwner::Worker { registry, slot },
        })
    }

    pub(crate) fn for_thread() -> Arc<Self> {
        Arc::new(SignalLatch {
            core: CoreLatch::new(),
            owner: SignalOwner::Thread {
                lock: parking_lot::Mutex::new(()),
                cv: parking_lot::Condvar::new(),
            },
        })
    }

    pub(crate) fn core(&self) -> &CoreLatch {
        &self.core
    }

    pub(crate) fn probe(&self) -> bool {
        self.core.probe()
    }

    pub(crate) fn set(&self) {
        match &self.owner {
            SignalOwner::Worker { registry, slot } => {
                if self.core.set() {
                    registry.sleep.wake(*slot);
                }
            }
            SignalOwner::Thread { lock, cv } => {
                let _guard = lock.lock();
                self.core.set();
                cv.notify_all();
            }
        }
    }

    /// Blocks a non-pool thread until set or `deadline`; true if set.
    pub(crate) fn wait_thread(&self, deadline: Option<Instant>) -> bool {
        let SignalOwner::Thread { lock, cv } = &self.owner else {
            return self.probe();
        };
        let mut guard = lock.lock();
        while !self.core.probe() {
            match deadline {
                None => cv.wait(&mut guard),
                Some(d) => {
                    if cv.wait_until(&mut guard, d).timed_out() {
                        return self.core.probe();
                    }
                }
            }
        }
        true
    }
}
