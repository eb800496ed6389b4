//! [`State`]: what a channel's mutex guards, and the wake rule every
//! operation ends with.

use std::collections::VecDeque;
use std::sync::Arc;

use super::waiter::{Waiter, Waiters, WaitersMut};

/// Which side of a channel an operation waits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Waits for a value (or for close).
    Recv,
    /// Waits for free space (or for close).
    Send,
}

impl Side {
    /// The side a hand-off peer waits on.
    #[inline]
    pub(crate) fn other(self) -> Side {
        match self {
            Side::Recv => Side::Send,
            Side::Send => Side::Recv,
        }
    }
}

/// A channel's queue, closed flag and blocked waiters, all under one mutex.
///
/// Kept small (a million tasks may each have a channel, issue 8): the
/// pending counts are `u32`s beside the lists, and the close reason, which
/// few channels get, is boxed.
pub(crate) struct State<T> {
    pub(crate) queue: VecDeque<T>,
    pub(crate) closed: bool,
    pub(crate) receivers: Waiters<T>,
    pub(crate) senders: Waiters<T>,
    /// Claims made by each side not yet back under the lock
    /// ([`WaitersMut::pending`]).
    recv_pending: u32,
    send_pending: u32,
    /// Why the channel was closed (`reason.rs`), set before `closed`.
    pub(crate) reason: Option<Box<T>>,
}

/// Waiters claimed under the lock, to unpark once it is released.
#[must_use = "claimed waiters must be unparked"]
pub(crate) struct Wakes(
    Option<Arc<Waiter>>,
    Option<Arc<Waiter>>,
    Option<Arc<Waiter>>,
);

impl Wakes {
    /// Adds a peer claimed by a hand-off (unbuffered channels).
    #[inline]
    pub(crate) fn with(mut self, peer: Arc<Waiter>) -> Self {
        self.2 = Some(peer);
        self
    }

    /// Unparks the claimed waiters. Call after dropping the channel lock.
    #[inline]
    pub(crate) fn unpark(self) {
        if let Some(w) = self.0 {
            w.unpark();
        }
        if let Some(w) = self.1 {
            w.unpark();
        }
        if let Some(w) = self.2 {
            w.unpark();
        }
    }
}

/// The most values a bounded channel makes room for before any arrives.
const INITIAL_BOUNDED: usize = 16;

impl<T> State<T> {
    pub(crate) fn new(capacity: usize) -> Self {
        State {
            // An empty channel allocates nothing (a million tasks may each
            // have one); a bounded one gets a small buffer up front, and
            // any queue grows as values arrive.
            queue: if capacity == usize::MAX || capacity == 0 {
                VecDeque::new()
            } else {
                VecDeque::with_capacity(capacity.min(INITIAL_BOUNDED))
            },
            closed: false,
            receivers: Waiters::default(),
            senders: Waiters::default(),
            recv_pending: 0,
            send_pending: 0,
            reason: None,
        }
    }

    /// Queues `v`. An empty queue first makes room for one value, not the
    /// four a first `push_back` would: a million channels may each carry
    /// one value at a time (a task's reply, a parked receiver's wake).
    #[inline]
    pub(crate) fn enqueue(&mut self, v: T) {
        if self.queue.capacity() == 0 {
            self.queue.reserve_exact(1);
        }
        self.queue.push_back(v);
    }

    /// Whether an operation on `side` can complete now (closing makes both
    /// sides ready: receivers drain then see "closed", senders get an error).
    #[inline]
    pub(crate) fn ready(&self, side: Side, capacity: usize) -> bool {
        match side {
            Side::Recv => !self.queue.is_empty() || self.closed,
            Side::Send => self.queue.len() < capacity || self.closed,
        }
    }

    #[inline]
    pub(crate) fn waiters(&mut self, side: Side) -> WaitersMut<'_, T> {
        match side {
            Side::Recv => self.receivers.with(&mut self.recv_pending),
            Side::Send => self.senders.with(&mut self.send_pending),
        }
    }

    /// The wake rule, run at the end of every operation under the lock:
    /// if more values are queued than claimed receivers are on their way,
    /// claim one more receiver; same for free slots and senders. One claim
    /// per side per operation: a woken waiter runs this rule again, so a
    /// batch wakes one receiver and the wakeups chain (in parallel with the
    /// sender) instead of the sender paying one per item.
    #[inline]
    pub(crate) fn wake_next(&mut self, capacity: usize) -> Wakes {
        let len = self.queue.len();
        let mut receivers = self.receivers.with(&mut self.recv_pending);
        let receiver = if !receivers.is_empty() && len > receivers.pending() {
            receivers.claim_one()
        } else {
            None
        };
        let mut senders = self.senders.with(&mut self.send_pending);
        let sender = if !senders.is_empty() && capacity.saturating_sub(len) > senders.pending() {
            senders.claim_one()
        } else {
            None
        };
        Wakes(receiver, sender, None)
    }
}
