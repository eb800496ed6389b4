//! Quiescence: the moment nothing in a pool runs or can ever run again
//! by itself, told to watchers (the language runtime turns it into a
//! `Deadlock` error for a main script that waits). The rule, and why it
//! has no false positives, is in `README.md` beside this file.

use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::registry::Registry;

type Watcher = Arc<dyn Fn() + Send + Sync>;

/// The watchers of one pool.
#[derive(Default)]
pub(crate) struct Watchers {
    list: Mutex<Vec<(u64, Watcher)>>,
    /// `list.len()`, read without the lock on the sleep path.
    count: AtomicUsize,
    next: AtomicU64,
}

/// A registered watcher; dropping it unregisters.
#[must_use = "dropping a QuiescenceWatch unregisters it"]
pub struct QuiescenceWatch {
    registry: Arc<Registry>,
    id: u64,
}

impl std::fmt::Debug for QuiescenceWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuiescenceWatch")
            .field("id", &self.id)
            .finish()
    }
}

impl Drop for QuiescenceWatch {
    fn drop(&mut self) {
        let w = &self.registry.watchers;
        let removed = {
            let mut list = w.list.lock();
            let before = list.len();
            list.retain(|(id, _)| *id != self.id);
            w.count.store(list.len(), Ordering::SeqCst);
            before - list.len()
        };
        debug_assert!(removed <= 1);
    }
}

impl Registry {
    /// Whether the pool is quiescent, given the sleep state (`parked`
    /// threads parked without a deadline, `timed` with one), read under
    /// the sleep lock: no timer pending, every thread that could run pool
    /// work (the workers and the spares serving) parked without a
    /// deadline, and no job queued anywhere.
    pub(crate) fn quiescent_now(&self, parked: usize, timed: usize) -> bool {
        if timed != 0 || self.timers.pending() != 0 {
            return false;
        }
        if parked != self.workers() + self.spares.active() {
            return false;
        }
        // Pairs with the fence of a push's wake-up (`sleep/README.md`).
        fence(Ordering::SeqCst);
        !self.any_queued_work()
    }

    /// Whether anyone watches for quiescence (one relaxed load).
    #[inline]
    pub(crate) fn watched(&self) -> bool {
        self.watchers.count.load(Ordering::SeqCst) != 0
    }

    /// Looks whether the pool is quiescent now and, if so, tells the
    /// watchers. Called after anything that may have made it so outside a
    /// thread's park: a timer fired or was cancelled, a spare retired.
    pub(crate) fn check_quiescent(&self) {
        if !self.watched() {
            return;
        }
        let quiet = self
            .sleep
            .with_parked(|parked, timed| self.quiescent_now(parked, timed));
        if quiet {
            self.tell_watchers();
        }
    }

    /// Calls every watcher (each must be short and must not block).
    pub(crate) fn tell_watchers(&self) {
        let list: Vec<Watcher> = self
            .watchers
            .list
            .lock()
            .iter()
            .map(|(_, w)| Arc::clone(w))
            .collect();
        for w in list {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w()));
        }
    }

    /// Registers `f` to be called whenever the pool becomes quiescent
    /// (and now, if it is).
    pub(crate) fn watch_quiescence(self: &Arc<Self>, f: Watcher) -> QuiescenceWatch {
        let id = self.watchers.next.fetch_add(1, Ordering::Relaxed);
        {
            let mut list = self.watchers.list.lock();
            list.push((id, f));
            self.watchers.count.store(list.len(), Ordering::SeqCst);
        }
        self.check_quiescent();
        QuiescenceWatch {
            registry: Arc::clone(self),
            id,
        }
    }
}

#[cfg(all(test, not(loom)))]
mod test;
