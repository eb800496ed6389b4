//! The list of parked tasks: for `parked` in the statistics, for the
//! deadlock report (what each parked task waits for), and for shutdown
//! (a parked task of a dropped pool is finished as cancelled).
//!
//! One shard per pool thread plus one for threads outside the pool; a task
//! is listed in the shard of the thread that first parks it, under that
//! shard's lock (uncontended but for the thread that unlists it), and
//! remembers where (`Sched::listed`), so unlisting is O(1). It stays
//! listed while it runs again and parks again (a task that parks in a loop
//! pays no lock per park), until it finishes or yields; the count of tasks
//! parked now is kept apart ([`Listing::parked`], [`Listing::resumed`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

use crate::pool::task::{TaskRef, NOT_LISTED};

#[derive(Default)]
struct Shard {
    entries: Vec<Option<TaskRef>>,
    free: Vec<u32>,
}

/// Every parked task of one pool.
pub(crate) struct Listing {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl Listing {
    /// A listing with `shards` shards (pool threads + 1).
    pub(crate) fn new(shards: usize) -> Listing {
        Listing {
            shards: (0..shards.max(1))
                .map(|_| CachePadded::new(Mutex::new(Shard::default())))
                .collect(),
            now: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        }
    }

    /// The shard for threads outside the pool.
    pub(crate) fn outside_shard(&self) -> usize {
        self.shards.len() - 1
    }

    /// Lists `task` (which the caller runs: it owns `Sched::listed`; it
    /// is not listed). Not counted as parked: see [`Listing::parked`].
    pub(crate) fn insert(&self, shard: usize, task: &TaskRef) {
        let shard = shard.min(self.shards.len() - 1);
        let key = {
            let mut s = self.shards[shard].lock();
            match s.free.pop() {
                Some(k) => {
                    s.entries[k as usize] = Some(TaskRef::clone(task));
                    k
                }
                None => {
                    s.entries.push(Some(TaskRef::clone(task)));
                    (s.entries.len() - 1) as u32
                }
            }
        };
        task.sched
            .listed
            .store(((shard as u64) << 32) | key as u64, Ordering::Relaxed);
    }

    /// A listed task is about to park: one more parked now.
    #[inline]
    pub(crate) fn parked(&self) {
        let now = self.now.fetch_add(1, Ordering::Relaxed) + 1;
        if now > self.peak.load(Ordering::Relaxed) {
            self.peak.fetch_max(now, Ordering::Relaxed);
        }
    }

    /// A parked task (listed) runs again, or its park failed (a wake came
    /// during its poll): one fewer parked now. It stays listed.
    #[inline]
    pub(crate) fn resumed(&self) {
        // Saturating: `drain` (shutdown) resets the count under a task
        // that may still be resumed.
        let _ = self
            .now
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
    }

    /// Unlists `task` if it is listed (the caller owns its running state).
    /// Not counted: the task is running, not parked.
    pub(crate) fn remove(&self, task: &TaskRef) {
        let at = task.sched.listed.swap(NOT_LISTED, Ordering::Relaxed);
        if at == NOT_LISTED {
            return;
        }
        let (shard, key) = ((at >> 32) as usize, (at & 0xFFFF_FFFF) as usize);
        let taken = {
            let mut s = self.shards[shard].lock();
            let taken = s.entries.get_mut(key).and_then(Option::take);
            if taken.is_some() {
                s.free.push(key as u32);
            }
            taken
        };
        // The listing's reference is dropped outside the lock.
        drop(taken);
    }

    /// Every listed task (a snapshot).
    pub(crate) fn snapshot(&self) -> Vec<TaskRef> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            out.extend(shard.lock().entries.iter().flatten().cloned());
        }
        out
    }

    /// Takes every listed task out (shutdown).
    pub(crate) fn drain(&self) -> Vec<TaskRef> {
        let mut out = Vec::new();
        for shard in self.shards.iter() {
            let mut s = shard.lock();
            out.extend(s.entries.drain(..).flatten());
            s.free.clear();
        }
        for t in &out {
            t.sched.listed.store(NOT_LISTED, Ordering::Relaxed);
        }
        self.now.store(0, Ordering::Relaxed);
        out
    }

    /// (parked now, most parked at once).
    pub(crate) fn counts(&self) -> (usize, usize) {
        (
            self.now.load(Ordering::Relaxed),
            self.peak.load(Ordering::Relaxed),
        )
    }
}
