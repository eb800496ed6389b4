//! [`Waiter`]: one parked thread's wait, and [`Waiters`]: a channel side's
//! queue of them.

use std::collections::VecDeque;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::sync::Arc;

use super::sync::{current, AtomicUsize, Mutex, Thread};

/// The value slots of one operation, one per case of its channel list: a
/// send case's offer (taken by the receiver of an unbuffered channel that
/// claims the wait), or the value a sender hands to a receive case of an
/// unbuffered channel. Only whoever owns the wait touches them: the waiting
/// side before registering or after settling, a peer only after winning the
/// waiter's compare-and-swap, under the channel's lock (README,
/// "Unbuffered channels").
pub(crate) type Slots<T> = Mutex<SlotList<T>>;

/// The slots of [`Slots`]: one inline (a single-channel operation, the
/// common case, allocates nothing for it), or one per case of a select.
pub(crate) enum SlotList<T> {
    One(Option<T>),
    Many(Box<[Option<T>]>),
}

impl<T> SlotList<T> {
    /// One slot holding `v`.
    #[inline]
    pub(crate) fn one(v: Option<T>) -> Self {
        SlotList::One(v)
    }

    /// The value of a single-slot list (the first slot of any).
    #[inline]
    pub(crate) fn take_first(&mut self) -> Option<T> {
        match self {
            SlotList::One(v) => v.take(),
            SlotList::Many(vs) => vs.first_mut().and_then(Option::take),
        }
    }
}

impl<T> std::ops::Index<usize> for SlotList<T> {
    type Output = Option<T>;

    #[inline]
    fn index(&self, i: usize) -> &Option<T> {
        match self {
            SlotList::One(v) => {
                assert!(i == 0, "slot {i} of a single-slot operation");
                v
            }
            SlotList::Many(vs) => &vs[i],
        }
    }
}

impl<T> std::ops::IndexMut<usize> for SlotList<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut Option<T> {
        match self {
            SlotList::One(v) => {
                assert!(i == 0, "slot {i} of a single-slot operation");
                v
            }
            SlotList::Many(vs) => &mut vs[i],
        }
    }
}

impl<T> From<Vec<Option<T>>> for SlotList<T> {
    fn from(mut v: Vec<Option<T>>) -> Self {
        if v.len() == 1 {
            SlotList::One(v.pop().flatten())
        } else {
            SlotList::Many(v.into_boxed_slice())
        }
    }
}

impl<T> From<SlotList<T>> for Vec<Option<T>> {
    fn from(s: SlotList<T>) -> Self {
        match s {
            SlotList::One(v) => vec![v],
            SlotList::Many(vs) => vs.into_vec(),
        }
    }
}

impl<T> FromIterator<Option<T>> for SlotList<T> {
    fn from_iter<I: IntoIterator<Item = Option<T>>>(it: I) -> Self {
        it.into_iter().collect::<Vec<_>>().into()
    }
}

/// Still waiting: nobody has decided how this wait ends.
pub(crate) const WAITING: usize = 0;
/// The deadline passed first.
pub(crate) const TIMED_OUT: usize = 1;
/// The interrupt fired first.
pub(crate) const INTERRUPTED: usize = 2;
/// `CLAIMED + i`: the channel at position `i` of the wait's list claimed it
/// (it has a value, space, or was closed), or the waiter claimed itself
/// because channel `i` was ready while it was still registering.
const CLAIMED: usize = 3;

/// One blocked operation. Its `state` leaves [`WAITING`] exactly once, by a
/// compare-and-swap, so exactly one party (a channel, the deadline, the
/// interrupt, or the waiter itself) decides how the wait ends; only that
/// party unparks the thread (or wakes the parked task).
pub(crate) struct Waiter {
    state: AtomicUsize,
    parker: Parker,
}

/// Who waits: a thread (parked with `thread::park`) or a pool task (parked
/// holding no thread, rescheduled by its waker).
pub(crate) enum Parker {
    Thread(Thread),
    Task(crate::pool::Waker),
    /// A task's waiter whose wait is over, kept for the thread's next task
    /// wait ([`Waiter::recycle`]): it wakes nobody and holds no task.
    Spare,
}

#[cfg(not(loom))]
thread_local! {
    /// One task waiter whose wait is over, not shared any more, for the
    /// next task wait on this thread ([`Waiter::for_task`]): a task that
    /// parks in a loop (a ring, a ping-pong) allocates no waiter per park.
    static SPARE: std::cell::Cell<Option<Arc<Waiter>>> = const { std::cell::Cell::new(None) };
}

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    Waiting,
    TimedOut,
    Interrupted,
    /// Claimed by the channel at this position of the wait's list.
    Claimed(usize),
}

impl Waiter {
    /// A waiter for the calling thread.
    pub(crate) fn new() -> Arc<Waiter> {
        Arc::new(Waiter {
            state: AtomicUsize::new(WAITING),
            parker: Parker::Thread(current()),
        })
    }

    /// A waiter for a pool task: ending the wait wakes the task. Reuses
    /// this thread's spare ([`Waiter::recycle`]) if there is one.
    pub(crate) fn for_task(waker: crate::pool::Waker) -> Arc<Waiter> {
        #[cfg(not(loom))]
        if let Some(mut spare) = SPARE.with(std::cell::Cell::take) {
            // Unique since `recycle` (no `Weak`s exist): never `None`.
            if let Some(w) = Arc::get_mut(&mut spare) {
                *w.state.get_mut() = WAITING;
                w.parker = Parker::Task(waker);
                return spare;
            }
        }
        Arc::new(Waiter {
            state: AtomicUsize::new(WAITING),
            parker: Parker::Task(waker),
        })
    }

    /// Gives back a task's waiter whose wait is over: if nobody else holds
    /// it any more (no channel lists it, no claimer is about to wake it),
    /// it becomes this thread's spare (its waker dropped), else it is just
    /// dropped.
    #[inline]
    pub(crate) fn recycle(this: Arc<Waiter>) {
        #[cfg(not(loom))]
        {
            let mut this = this;
            if let Some(w) = Arc::get_mut(&mut this) {
                w.parker = Parker::Spare;
                SPARE.with(|s| s.set(Some(this)));
            }
        }
        #[cfg(loom)]
        drop(this);
    }

    /// Takes the waker out of a task's waiter that nobody else holds (its
    /// wait is over), without touching the task's reference count; the
    /// waiter then wakes nobody (give it to [`Waiter::recycle`]). `None`
    /// if it is shared (or not a task's).
    #[inline]
    pub(crate) fn take_task_waker(this: &mut Arc<Waiter>) -> Option<crate::pool::Waker> {
        let w = Arc::get_mut(this)?;
        match std::mem::replace(&mut w.parker, Parker::Spare) {
            Parker::Task(k) => Some(k),
            other => {
                w.parker = other;
                None
            }
        }
    }

    /// The waker of a task's waiter ([`Waiter::for_task`]).
    #[inline]
    pub(crate) fn task_waker(&self) -> &crate::pool::Waker {
        match &self.parker {
            Parker::Task(w) => w,
            Parker::Thread(_) | Parker::Spare => {
                unreachable!("a task's wait holds a thread's waiter")
            }
        }
    }

    /// Ends the wait as claimed by position `index`; false if it had ended.
    #[inline]
    pub(crate) fn try_claim(&self, index: usize) -> bool {
        self.try_end(CLAIMED + index)
    }

    /// Ends the wait with `why` ([`TIMED_OUT`] or [`INTERRUPTED`]); false if
    /// it had ended.
    #[inline]
    pub(crate) fn try_abort(&self, why: usize) -> bool {
        debug_assert!(why == TIMED_OUT || why == INTERRUPTED);
        self.try_end(why)
    }

    #[inline]
    fn try_end(&self, to: usize) -> bool {
        self.state
            .compare_exchange(WAITING, to, AcqRel, Acquire)
            .is_ok()
    }

    /// How the wait ended so far.
    #[inline]
    pub(crate) fn outcome(&self) -> Outcome {
        match self.state.load(Acquire) {
            WAITING => Outcome::Waiting,
            TIMED_OUT => Outcome::TimedOut,
            INTERRUPTED => Outcome::Interrupted,
            claimed => Outcome::Claimed(claimed - CLAIMED),
        }
    }

    /// Wakes the waiting thread or task (call after a successful `try_*`,
    /// outside any channel lock).
    #[inline]
    pub(crate) fn unpark(&self) {
        match &self.parker {
            Parker::Thread(t) => t.unpark(),
            Parker::Task(w) => w.wake(),
            Parker::Spare => {}
        }
    }
}

/// One registration of a waiter on a channel side.
struct Entry<T> {
    waiter: Arc<Waiter>,
    /// The channel's position in the waiter's list (0 for single-channel
    /// operations; the select index otherwise).
    index: usize,
    /// The operation's value slots: registered on unbuffered channels
    /// only (the only ones whose peers use them), so a wait on a buffered
    /// channel needs no shared slots at all.
    slots: Option<Arc<Slots<T>>>,
}

/// A peer claimed on an unbuffered channel: its waiter (to wake once the
/// lock is released), its case index and its value slots.
pub(crate) struct Peer<T> {
    pub(crate) waiter: Arc<Waiter>,
    pub(crate) index: usize,
    pub(crate) slots: Option<Arc<Slots<T>>>,
}

/// The waiters blocked on one side (receive or send) of one channel, in
/// the channel's [`State`](super::state::State): registered, not yet
/// claimed; served first come, first served. The side's count of pending
/// claims lives beside it in the state (two `u32`s there keep a channel's
/// shared block in a smaller size class than a `usize` in each list:
/// a million tasks may each have a channel, issue 8); [`WaitersMut`]
/// joins the two.
pub(crate) struct Waiters<T> {
    list: VecDeque<Entry<T>>,
}

impl<T> Default for Waiters<T> {
    fn default() -> Self {
        Waiters {
            list: VecDeque::new(),
        }
    }
}

impl<T> Waiters<T> {
    /// This side's list with its pending count: `pending` is how many
    /// waiters it claimed that are not yet back under the channel's lock
    /// (each will retry its operation there, so this many ready items or
    /// free slots are already spoken for and need no further wakeup).
    #[inline]
    pub(crate) fn with<'a>(&'a mut self, pending: &'a mut u32) -> WaitersMut<'a, T> {
        WaitersMut {
            list: &mut self.list,
            pending,
        }
    }

    /// Registered waiters (for tests and diagnostics).
    pub(crate) fn registered(&self) -> usize {
        self.list.len()
    }
}

/// One side's [`Waiters`] and its pending count, borrowed from the state.
pub(crate) struct WaitersMut<'a, T> {
    list: &'a mut VecDeque<Entry<T>>,
    pending: &'a mut u32,
}

impl<T> WaitersMut<'_, T> {
    /// Registers `waiter` (whose list holds this channel at `index`).
    pub(crate) fn push(
        &mut self,
        waiter: &Arc<Waiter>,
        index: usize,
        slots: Option<&Arc<Slots<T>>>,
    ) {
        if self.list.capacity() == 0 {
            // Most channels see one waiter at a time (a million parked
            // tasks may each wait on their own): room for one, not the
            // four a first `push_back` makes.
            self.list.reserve_exact(1);
        }
        self.list.push_back(Entry {
            waiter: Arc::clone(waiter),
            index,
            slots: slots.cloned(),
        });
    }

    /// Whether a registered waiter other than `own` is still waiting (a
    /// hint: it may stop waiting before it is claimed).
    pub(crate) fn has_live_peer(&self, own: Option<&Arc<Waiter>>) -> bool {
        self.list.iter().any(|e| {
            e.waiter.outcome() == Outcome::Waiting
                && !own.is_some_and(|w| Arc::ptr_eq(w, &e.waiter))
        })
    }

    /// Claims the longest-waiting registered waiter other than `own` that
    /// is still waiting, counting it as pending (it arrives in `settle`),
    /// for a hand-off on an unbuffered channel. `own`'s entries stay (a
    /// select never meets itself); dead entries are dropped.
    pub(crate) fn claim_peer(&mut self, own: Option<&Arc<Waiter>>) -> Option<Peer<T>> {
        let mut k = 0;
        while k < self.list.len() {
            if own.is_some_and(|w| Arc::ptr_eq(w, &self.list[k].waiter)) {
                k += 1;
                continue;
            }
            let Some(entry) = self.list.remove(k) else {
                break;
            };
            if entry.waiter.try_claim(entry.index) {
                *self.pending += 1;
                return Some(Peer {
                    waiter: entry.waiter,
                    index: entry.index,
                    slots: entry.slots,
                });
            }
        }
        None
    }

    /// Whether anyone is registered.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Claims already made here whose waiter has not come back yet.
    #[inline]
    pub(crate) fn pending(&self) -> usize {
        *self.pending as usize
    }

    /// Claims the longest-waiting registered waiter still waiting, counting
    /// it as pending. Entries whose wait ended elsewhere (another channel of a
    /// select, a deadline, an interrupt) are dropped on the way.
    #[cold]
    pub(crate) fn claim_one(&mut self) -> Option<Arc<Waiter>> {
        while let Some(entry) = self.list.pop_front() {
            if entry.waiter.try_claim(entry.index) {
                *self.pending += 1;
                return Some(entry.waiter);
            }
        }
        None
    }

    /// Claims every registered waiter still waiting (for `close`).
    #[cold]
    pub(crate) fn claim_all(&mut self, out: &mut Vec<Arc<Waiter>>) {
        for entry in self.list.drain(..) {
            if entry.waiter.try_claim(entry.index) {
                *self.pending += 1;
                out.push(entry.waiter);
            }
        }
    }

    /// A waiter this side claimed is back under the lock.
    #[inline]
    pub(crate) fn arrived(&mut self) {
        debug_assert!(*self.pending > 0, "arrival without a claim");
        *self.pending = self.pending.saturating_sub(1);
    }

    /// Removes every registration of `waiter`.
    pub(crate) fn remove(&mut self, waiter: &Arc<Waiter>) {
        self.list
            .retain(|entry| !Arc::ptr_eq(&entry.waiter, waiter));
    }
}
