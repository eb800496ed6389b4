//! Channels: [`Channel<T>`], a multi-producer multi-consumer FIFO queue that
//! can be bounded, closed explicitly, waited on with a deadline and an
//! [`Interrupt`], batched, and [`select`]ed over. It knows nothing about Weft
//! values; the `async` module binds it to scripts (ASYNC.md, "Channels").
//!
//! # Design
//!
//! Each channel is its own queue: a `VecDeque<T>` and the lists of blocked
//! waiters under one `parking_lot` mutex, with waits parked on the thread
//! (`std::thread::park`), not built on crossbeam-channel. The choice was
//! made by measurement (`benches/channel.rs`, numbers and command in
//! `benches/results/channel.md`) and by what crossbeam-channel cannot do:
//!
//! - **Batches.** crossbeam-channel has no batch operation: a batch is a loop
//!   of sends, each checking for a waiter to wake. Here a batch is one lock,
//!   one move of all the items that fit, and at most one wakeup; a
//!   `recv_batch` takes up to `max` values under one lock. Measured, one
//!   sender and one receiver thread, batches of 256: 3x to 6x the throughput
//!   of a per-item loop on the same channel; against a per-item loop on raw
//!   crossbeam-channel, about 3x on an unbounded channel and about equal on a
//!   bounded one (where a batch that fills the channel parks).
//! - **Close.** crossbeam-channel disconnects only when the last sender or
//!   last receiver is dropped. An explicit, idempotent `close` that wakes
//!   every blocked sender and hands its value back would need a second
//!   channel and a two-way select in every blocking operation.
//! - **Interrupts** ([`Interrupt`]) likewise would need a select against an
//!   extra channel per wait; here the interrupt's wake just ends the wait.
//! - **Select** over channels of which some are closed and drained is the
//!   same code as any wait (`wait::block` over several channels).
//!
//! Single-item speed stays close to raw crossbeam-channel (same run, 2
//! loaded cores, 1 or 4 senders x 1 or 4 receivers, bounded or not): 0.4x to
//! 1.3x its time in the final runs (target: within 1.5x); one sender and one
//! receiver on an unbounded channel is the weakest case, since both threads
//! share one mutex where crossbeam's list is lock-free. A first version that
//! parked as soon as it had to wait was up to 7.5x slower on a bounded
//! channel with 4 x 4 threads (every full/empty moment cost a park and an
//! unpark); both sides now spin briefly first (crossbeam's `Backoff`, as
//! crossbeam-channel does), which closed the gap. A parked receiver wakes in
//! a median of 3 to 28 µs depending on the machine's load, like
//! crossbeam-channel's in the same runs.
//!
//! The wait/wake protocol, and why it loses no wakeup and cannot deadlock,
//! is written down in `src/channel/README.md`.
//!
//! # Binding to Weft
//!
//! A script's channel value holds a `Channel<Value>` (cloning it is an `Arc`
//! clone). Each blocking call passes the current task's cancel token as
//! `Some(&token)` (the pool's token implements [`Interrupt`]: `register`
//! adds the wake to the token's list under its mutex; cancelling sets the
//! flag, then calls the wakes), or `None` off the pool. Mapping:
//!
//! | script | native | errors |
//! |---|---|---|
//! | `channel()` / `channel(n)` / `channel(0)` | [`Channel::unbounded`] / [`Channel::bounded`] / [`Channel::unbuffered`] | n < 0 (or not an int): `ValueError` |
//! | `ch.try_send(v)` | [`Channel::try_send`] | `Full` → `false`; `Closed`, `nil`: `ValueError` |
//! | `select(cases)` with `[ch, v]` cases | [`select_cases`] (a task: [`TaskWait::cases`]) | `Selected::SendClosed`: `ValueError` |
//! | `ch.send(v)` | [`Channel::send`] | `nil`: `ValueError`, checked first; `Closed`: `ValueError`; `Cancelled`: `Cancelled` |
//! | `ch.recv()` | [`Channel::recv`] | `Closed` → `nil`; `Cancelled`: `Cancelled` |
//! | `ch.recv(s)` | [`Channel::recv_timeout`] | `Timeout`: `Timeout`; `Closed` → `nil` |
//! | `ch.try_recv()` | [`Channel::try_recv`] | `Empty` and `Closed` → `nil` |
//! | `ch.send_batch(xs)` | [`Channel::send_batch`] | check every item for `nil` first (so a bad batch sends nothing); then as `send` |
//! | `ch.recv_batch(max)` | [`Channel::recv_batch`] | `max` defaults to `max_batch_size`; < 1: `ValueError`; `Closed` → `[]` |
//! | `ch.close()`, `ch.len()`, `ch.closed()` | [`Channel::close`], [`Channel::len`], [`Channel::is_closed`] | |
//! | `for v in ch` | [`Channel::recv`] in a loop | ends on `Closed`; `Cancelled` throws |
//! | `select(chs)` / `select(chs, s)` | [`select`] with no / a deadline | `[i, v]`, `v` = `nil` if closed and drained; `Timeout`; empty list: `ValueError` |
//!
//! Seconds convert with `Duration::try_from_secs_f64` (negative or NaN:
//! `ValueError`). The binding must not wrap calls in `pool::blocking`: the
//! channel does that itself, only around an actual park.
//!
//! # Semantics
//!
//! - Every value sent is received exactly once; values from one sender are
//!   received in the order it sent them (the queue is one FIFO).
//! - `send` waits while a bounded channel is full; it fails with the value
//!   handed back once the channel is closed, including when `close` happens
//!   while it waits. Nothing is silently dropped: a send delivers or errors.
//! - `recv` waits while the channel is empty; once closed, receivers drain
//!   what is queued, then get [`RecvError::Closed`].
//! - `send_batch` queues its items in order. On an unbounded channel (or a
//!   bounded one with room for all of them) the whole batch goes in under one
//!   lock, so it is contiguous in the queue. On a bounded channel with less
//!   room it queues as much as fits, waits for space, and repeats: per-sender
//!   order holds, but another sender's items may land between two such
//!   chunks (atomic batches would need the whole capacity reserved and could
//!   never complete for a batch larger than it; the spec does not ask for
//!   them). A receiver parked on the channel is woken once per chunk, not
//!   once per item.
//! - An interrupt or a deadline only ends a *wait*: an operation that can
//!   complete at once completes even if its interrupt has fired.
//! - Waiting parks the thread (no polling, no sleep loops), inside
//!   [`crate::pool::blocking`], so a pool worker that blocks on a channel is
//!   replaced by a spare while it waits.

mod error;
mod interrupt;
mod reason;
mod select;
mod state;
mod sync;
mod task;
mod wait;
mod waiter;

#[cfg(all(test, not(loom)))]
mod test;

#[cfg(all(test, loom))]
mod loom_test;

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroUsize;
use std::slice;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use error::{
    CapacityError, RecvError, RecvTimeoutError, SelectError, SendBatchError, SendError,
    SendTimeoutError, TryRecvError, TrySendError,
};
pub use interrupt::{Interrupt, InterruptFlag, Registration, Wake};
pub use select::{select, select_cases, try_case, try_select_cases, Selected};
pub use task::{try_select, GiveUp, SpareSlot, TaskWait};

use error::Abort;
pub use state::Side;
use state::State;
use sync::Mutex;
use wait::{Perform, Sides};
use waiter::SlotList;

/// The receive step: the next queued value (`None`: closed and drained).
fn pop<T>(_: usize, st: &mut State<T>, _: &mut Option<T>) -> Option<T> {
    st.queue.pop_front()
}

/// The send step: queues the offer, or hands it back if the channel is
/// closed; an offer already taken (by an unbuffered channel's receiver) is
/// sent.
fn push<T>(_: usize, st: &mut State<T>, slot: &mut Option<T>) -> Result<(), T> {
    match slot.take() {
        Some(v) if st.closed => Err(v),
        Some(v) => {
            st.enqueue(v);
            Ok(())
        }
        None => Ok(()),
    }
}

/// A multi-producer multi-consumer channel. Cloning gives another handle to
/// the same channel; the channel lives until its last handle is dropped and
/// is closed only by [`close`](Channel::close).
pub struct Channel<T> {
    shared: Arc<Shared<T>>,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    /// `usize::MAX` for an unbounded channel.
    capacity: usize,
    /// Copies of `state.queue.len()` (shifted left by one) and
    /// `state.closed` (the low bit), stored under the lock at the end of
    /// every operation and by `close`, read without it by `len()` and by
    /// the short spin before a wait ([`wait::block`]). One word: the block
    /// stays in a smaller size class (a million tasks may each have a
    /// channel, issue 8).
    status: AtomicUsize,
}

/// In [`Shared::status`]: the channel is closed.
const STATUS_CLOSED: usize = 1;

/// A [`Shared::status`] word.
#[inline]
fn status(len: usize, closed: bool) -> usize {
    (len << 1) | usize::from(closed)
}

/// An emptied queue with room for more than this many values shrinks...
const SHRINK_ABOVE: usize = 1 << 16;
/// ...to room for this many.
const SHRINK_TO: usize = 1024;

impl<T> Shared<T> {
    /// Ends an operation under the lock: publishes the length and applies
    /// the wake rule ([`State::wake_next`]).
    #[inline]
    fn finish(&self, st: &mut State<T>) -> state::Wakes {
        let len = st.queue.len();
        self.status.store(status(len, st.closed), Relaxed);
        if len == 0 && st.queue.capacity() > SHRINK_ABOVE {
            // A burst is over: give its memory back.
            st.queue.shrink_to(SHRINK_TO);
        }
        st.wake_next(self.capacity)
    }

    /// [`finish`](Self::finish) an operation, unlock, then wake whoever the
    /// wake rule picked (outside the lock, so a woken thread does not
    /// find it held).
    #[inline]
    fn release(&self, mut st: sync::MutexGuard<'_, State<T>>) {
        let wakes = self.finish(&mut st);
        drop(st);
        wakes.unpark();
    }

    /// Whether `side` looks ready, without the lock (a hint for spinning).
    #[inline]
    fn looks_ready(&self, side: Side) -> bool {
        let word = self.status.load(Relaxed);
        let len = word >> 1;
        word & STATUS_CLOSED != 0
            || match side {
                Side::Recv => len > 0,
                Side::Send => len < self.capacity,
            }
    }
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Channel {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Default for Channel<T> {
    fn default() -> Self {
        Self::unbounded()
    }
}

/// A deadline `timeout` from now; `None` (wait forever) if that is too far
/// to represent.
fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

impl<T> Channel<T> {
    /// An unbuffered channel (Go's `make(chan T)`): a send completes only
    /// when a receiver takes the value; nothing is ever queued.
    pub fn unbuffered() -> Self {
        Self::with_capacity(0)
    }

    /// An unbounded channel: `send` never waits.
    pub fn unbounded() -> Self {
        Self::with_capacity(usize::MAX)
    }

    /// A channel holding at most `capacity` queued values (at least 1).
    pub fn bounded(capacity: usize) -> Result<Self, CapacityError> {
        if capacity == 0 {
            return Err(CapacityError);
        }
        Ok(Self::with_capacity(capacity))
    }

    /// `bounded(n)` for `Some(n)`, `unbounded()` for `None`.
    pub fn new(capacity: Option<usize>) -> Result<Self, CapacityError> {
        match capacity {
            Some(n) => Self::bounded(n),
            None => Ok(Self::unbounded()),
        }
    }

    fn with_capacity(capacity: usize) -> Self {
        Channel {
            shared: Arc::new(Shared {
                state: Mutex::new(State::new(capacity)),
                capacity,
                status: AtomicUsize::new(status(0, false)),
            }),
        }
    }

    /// Whether the channel is unbuffered ([`Channel::unbuffered`]).
    pub fn is_unbuffered(&self) -> bool {
        self.shared.capacity == 0
    }

    /// The capacity of a bounded channel (0: unbuffered); `None` if
    /// unbounded.
    pub fn capacity(&self) -> Option<usize> {
        (self.shared.capacity != usize::MAX).then_some(self.shared.capacity)
    }

    /// How many values are queued now.
    pub fn len(&self) -> usize {
        self.shared.status.load(Relaxed) >> 1
    }

    /// Whether no value is queued now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the channel has been closed (values may still be queued).
    pub fn is_closed(&self) -> bool {
        self.shared.state.lock().closed
    }

    /// Whether the channel has been closed, without taking its lock: a
    /// close that is racing with this call may not be seen yet.
    pub fn looks_closed(&self) -> bool {
        self.shared.status.load(Relaxed) & STATUS_CLOSED != 0
    }

    /// Whether both handles refer to the same channel.
    pub fn same_channel(&self, other: &Channel<T>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Closes the channel: sends fail from now on, and every blocked sender
    /// and receiver is woken (senders get their value back in an error,
    /// receivers drain what is queued, then see "closed"). Returns `false` if
    /// it was already closed (closing is idempotent).
    pub fn close(&self) -> bool {
        let mut woken = Vec::new();
        {
            let mut st = self.shared.state.lock();
            if st.closed {
                return false;
            }
            st.closed = true;
            self.shared
                .status
                .store(status(st.queue.len(), true), Relaxed);
            st.waiters(Side::Recv).claim_all(&mut woken);
            st.waiters(Side::Send).claim_all(&mut woken);
        }
        for waiter in woken {
            waiter.unpark();
        }
        true
    }

    /// Runs `perform` under the lock once the channel is ready on `side`:
    /// at once if it is (the fast path), else after [`wait::block`].
    /// `slot` is the operation's value slot (a send's offer, which an
    /// unbuffered channel's receiver may take); what is left of it comes
    /// back with the result.
    #[inline]
    fn run<R>(
        &self,
        side: Side,
        deadline: Option<Instant>,
        interrupt: Option<&dyn Interrupt>,
        mut slot: Option<T>,
        perform: &mut Perform<'_, T, R>,
    ) -> (Result<R, Abort>, Option<T>) {
        let shared = &*self.shared;
        if shared.capacity == 0 {
            return self.run_unbuffered(side, deadline, interrupt, slot, perform);
        }
        // Not even looking ready: skip the lock, go spin (block re-checks
        // under the lock before it registers).
        if shared.looks_ready(side) {
            let mut st = shared.state.lock();
            if st.ready(side, shared.capacity) {
                let out = perform(0, &mut st, &mut slot);
                shared.release(st);
                return (Ok(out), slot);
            }
        }
        let slots = Arc::new(sync::Mutex::new(SlotList::one(slot)));
        let r = wait::block(
            slice::from_ref(&self),
            Sides::All(side),
            0,
            deadline,
            interrupt,
            &slots,
            perform,
        )
        .map(|(_, out)| out);
        let slot = slots.lock().take_first();
        (r, slot)
    }

    #[cold]
    fn run_unbuffered<R>(
        &self,
        side: Side,
        deadline: Option<Instant>,
        interrupt: Option<&dyn Interrupt>,
        slot: Option<T>,
        perform: &mut Perform<'_, T, R>,
    ) -> (Result<R, Abort>, Option<T>) {
        let slots = Arc::new(sync::Mutex::new(SlotList::one(slot)));
        let r = wait::block(
            slice::from_ref(&self),
            Sides::All(side),
            0,
            deadline,
            interrupt,
            &slots,
            perform,
        )
        .map(|(_, out)| out);
        let slot = slots.lock().take_first();
        (r, slot)
    }

    /// Sends `value` if that needs no waiting: a bounded channel with room,
    /// or an unbuffered one with a receiver waiting (which takes it).
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let shared = &*self.shared;
        let mut st = shared.state.lock();
        if st.closed {
            return Err(TrySendError::Closed(value));
        }
        if shared.capacity == 0 {
            return match self.give_offer(&mut st, value) {
                Ok(wakes) => {
                    drop(st);
                    wakes.unpark();
                    Ok(())
                }
                Err(v) => Err(TrySendError::Full(v)),
            };
        }
        if st.queue.len() >= shared.capacity {
            return Err(TrySendError::Full(value));
        }
        st.enqueue(value);
        shared.release(st);
        Ok(())
    }

    /// Sends `value`, waiting while the channel is full. Fails, handing the
    /// value back, if the channel is or becomes closed, or if `interrupt`
    /// fires while waiting.
    pub fn send(&self, value: T, interrupt: Option<&dyn Interrupt>) -> Result<(), SendError<T>> {
        self.send_deadline(value, None, interrupt)
            .map_err(|err| match err {
                SendTimeoutError::Closed(v) => SendError::Closed(v),
                // No deadline: only an interrupt ends the wait.
                SendTimeoutError::Cancelled(v) | SendTimeoutError::Timeout(v) => {
                    SendError::Cancelled(v)
                }
            })
    }

    /// As [`send`](Channel::send), waiting at most `timeout` for space.
    pub fn send_timeout(
        &self,
        value: T,
        timeout: Duration,
        interrupt: Option<&dyn Interrupt>,
    ) -> Result<(), SendTimeoutError<T>> {
        self.send_deadline(value, deadline_after(timeout), interrupt)
    }

    /// As [`send`](Channel::send), waiting for space until `deadline` at
    /// most (`None`: no limit).
    pub fn send_deadline(
        &self,
        value: T,
        deadline: Option<Instant>,
        interrupt: Option<&dyn Interrupt>,
    ) -> Result<(), SendTimeoutError<T>> {
        let (sent, slot) = self.run(Side::Send, deadline, interrupt, Some(value), &mut push);
        match (sent, slot) {
            (Ok(Ok(())), _) => Ok(()),
            (Ok(Err(v)), _) => Err(SendTimeoutError::Closed(v)),
            (Err(Abort::Timeout), Some(v)) => Err(SendTimeoutError::Timeout(v)),
            (Err(Abort::Cancelled), Some(v)) => Err(SendTimeoutError::Cancelled(v)),
            // A wait that ended without `perform` left the value in `slot`.
            (Err(_), None) => Ok(()),
        }
    }

    /// Sends every item of `items`, in order, as one operation: one lock and
    /// at most one receiver wakeup per chunk that fits (see the module doc
    /// for bounded channels smaller than the batch). Fails if the channel is
    /// or becomes closed, or if `interrupt` fires while waiting for space;
    /// the error says how many items went and hands back the rest. An empty
    /// batch succeeds unless the channel is closed.
    pub fn send_batch(
        &self,
        items: Vec<T>,
        interrupt: Option<&dyn Interrupt>,
    ) -> Result<(), SendBatchError<T>> {
        if self.shared.capacity == 0 {
            return self.send_each(items, interrupt);
        }
        let mut rest = VecDeque::from(items);
        let mut sent = 0;
        loop {
            let (step, _) = self.run(Side::Send, None, interrupt, None, &mut |_, st, _| {
                if st.closed {
                    return Err(());
                }
                let room = self.shared.capacity - st.queue.len();
                let n = room.min(rest.len());
                if n == rest.len() {
                    st.queue.append(&mut rest);
                } else {
                    st.queue.extend(rest.drain(..n));
                }
                Ok(n)
            });
            match step {
                Ok(Ok(n)) => {
                    sent += n;
                    if rest.is_empty() {
                        return Ok(());
                    }
                }
                Ok(Err(())) => {
                    return Err(SendBatchError::Closed {
                        sent,
                        unsent: rest.into(),
                    })
                }
                Err(_) => {
                    return Err(SendBatchError::Cancelled {
                        sent,
                        unsent: rest.into(),
                    })
                }
            }
        }
    }

    /// `send_batch` on an unbuffered channel: each item is a hand-off.
    #[cold]
    fn send_each(
        &self,
        items: Vec<T>,
        interrupt: Option<&dyn Interrupt>,
    ) -> Result<(), SendBatchError<T>> {
        let mut rest = items.into_iter();
        let mut sent = 0;
        while let Some(v) = rest.next() {
            let (unsent, closed) = match self.send(v, interrupt) {
                Ok(()) => {
                    sent += 1;
                    continue;
                }
                Err(SendError::Closed(v)) => (v, true),
                Err(SendError::Cancelled(v)) => (v, false),
            };
            let unsent: Vec<T> = std::iter::once(unsent).chain(rest).collect();
            return Err(if closed {
                SendBatchError::Closed { sent, unsent }
            } else {
                SendBatchError::Cancelled { sent, unsent }
            });
        }
        Ok(())
    }

    /// On an unbuffered channel with nothing queued, takes the offer of a
    /// waiting sender into the queue (under the lock) for a non-waiting
    /// receive; returns the sender to wake.
    #[inline]
    fn pull(&self, st: &mut State<T>) -> Option<state::Wakes> {
        let shared = &*self.shared;
        if shared.capacity != 0 || st.closed || !st.queue.is_empty() {
            return None;
        }
        let slots = sync::Mutex::new(SlotList::one(None));
        match wait::step(shared, st, Side::Recv, 0, None, &slots, &mut pop) {
            wait::Step::Done(v, wakes) => {
                // `pop` took the value: put it back for the caller's step.
                if let Some(v) = v {
                    st.queue.push_front(v);
                }
                Some(wakes)
            }
            _ => None,
        }
    }

    /// [`pull`](Self::pull) for [`try_recv`](Self::try_recv): the
    /// waiting sender's offer itself, with the wakes to do after the unlock
    /// (the sender claimed for the hand-off, and what the wake rule
    /// claimed). The same steps as `wait::step`'s hand-off with no waiter
    /// of its own, without the detour of the offer through the queue and a
    /// second wake rule (speed only: the receive of a ping-pong).
    #[inline]
    fn take_offer(&self, st: &mut State<T>) -> Option<(Option<T>, state::Wakes)> {
        let shared = &*self.shared;
        if shared.capacity != 0 || st.closed || !st.queue.is_empty() {
            return None;
        }
        let peer = {
            let mut senders = st.waiters(Side::Send);
            if !senders.has_live_peer(None) {
                return None;
            }
            senders.claim_peer(None)?
        };
        let offer = peer
            .slots
            .as_ref()
            .and_then(|s| s.lock()[peer.index].take());
        debug_assert!(offer.is_some(), "an unbuffered sender without an offer");
        Some((offer, shared.finish(st).with(peer.waiter)))
    }

    /// [`try_send`](Self::try_send)'s hand-off on an open unbuffered
    /// channel: `value` goes straight into the slot of the longest-waiting
    /// live receiver, which is claimed (counted pending: it arrives in
    /// `settle`); the wakes to do after the unlock (that receiver, and what
    /// the wake rule claimed). The same steps as `wait::step`'s hand-off
    /// with no waiter of its own, without the detour of the value through
    /// the queue (speed only: the send of a ping-pong or a thread ring to a
    /// parked receiver). `Err(value)` if no receiver waits.
    #[inline]
    fn give_offer(&self, st: &mut State<T>, value: T) -> Result<state::Wakes, T> {
        let shared = &*self.shared;
        debug_assert!(shared.capacity == 0 && !st.closed);
        let peer = {
            let mut receivers = st.waiters(Side::Recv);
            if !receivers.has_live_peer(None) {
                return Err(value);
            }
            match receivers.claim_peer(None) {
                Some(peer) => peer,
                None => return Err(value),
            }
        };
        debug_assert!(peer.slots.is_some(), "an unbuffered receiver without slots");
        match &peer.slots {
            Some(s) => s.lock()[peer.index] = Some(value),
            // Not reached (every wait registered on an unbuffered channel
            // shares its slots); never lose the value.
            None => st.enqueue(value),
        }
        Ok(shared.finish(st).with(peer.waiter))
    }

    /// The next value if one is queued now (or, unbuffered, if a sender is
    /// waiting: its value is taken).
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let shared = &*self.shared;
        let mut st = shared.state.lock();
        if let Some((v, wakes)) = self.take_offer(&mut st) {
            let closed = st.closed;
            drop(st);
            wakes.unpark();
            return match v {
                Some(v) => Ok(v),
                None if closed => Err(TryRecvError::Closed),
                None => Err(TryRecvError::Empty),
            };
        }
        // No `pull` here: it takes a waiting sender's offer in exactly the
        // cases `take_offer` does (an open unbuffered channel, nothing
        // queued, a live sender), so after `take_offer` found none it would
        // find none either.
        match st.queue.pop_front() {
            Some(v) => {
                shared.release(st);
                Ok(v)
            }
            None => {
                let closed = st.closed;
                drop(st);
                Err(if closed {
                    TryRecvError::Closed
                } else {
                    TryRecvError::Empty
                })
            }
        }
    }

    /// The next value, waiting while the channel is empty. Fails with
    /// [`RecvError::Closed`] once the channel is closed and drained, and with
    /// [`RecvError::Cancelled`] if `interrupt` fires while waiting.
    pub fn recv(&self, interrupt: Option<&dyn Interrupt>) -> Result<T, RecvError> {
        self.recv_deadline(None, interrupt)
            .map_err(|err| match err {
                RecvTimeoutError::Closed => RecvError::Closed,
                // No deadline: only an interrupt ends the wait.
                RecvTimeoutError::Cancelled | RecvTimeoutError::Timeout => RecvError::Cancelled,
            })
    }

    /// As [`recv`](Channel::recv), waiting at most `timeout`.
    pub fn recv_timeout(
        &self,
        timeout: Duration,
        interrupt: Option<&dyn Interrupt>,
    ) -> Result<T, RecvTimeoutError> {
        self.recv_deadline(deadline_after(timeout), interrupt)
    }

    /// As [`recv`](Channel::recv), waiting until `deadline` at most (`None`:
    /// no limit).
    pub fn recv_deadline(
        &self,
        deadline: Option<Instant>,
        interrupt: Option<&dyn Interrupt>,
    ) -> Result<T, RecvTimeoutError> {
        match self.run(Side::Recv, deadline, interrupt, None, &mut pop).0 {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(RecvTimeoutError::Closed),
            Err(abort) => Err(abort.into()),
        }
    }

    /// Waits until at least one value is queued, then takes up to `max` of
    /// them, in order, under one lock. Fails with [`RecvError::Closed`] once
    /// the channel is closed and drained, and with [`RecvError::Cancelled`]
    /// if `interrupt` fires while waiting.
    pub fn recv_batch(
        &self,
        max: NonZeroUsize,
        interrupt: Option<&dyn Interrupt>,
    ) -> Result<Vec<T>, RecvError> {
        let (taken, _) = self.run(Side::Recv, None, interrupt, None, &mut |_, st, _| {
            let n = max.get().min(st.queue.len());
            st.queue.drain(..n).collect::<Vec<T>>()
        });
        match taken {
            Ok(batch) if batch.is_empty() => Err(RecvError::Closed),
            Ok(batch) => Ok(batch),
            Err(_) => Err(RecvError::Cancelled),
        }
    }

    /// Receives until the channel is closed and drained (no interrupt).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { channel: self }
    }

    /// Threads registered as waiting to receive (for tests and benches).
    #[doc(hidden)]
    pub fn waiting_receivers(&self) -> usize {
        self.shared.state.lock().receivers.registered()
    }

    /// Threads registered as waiting to send (for tests and benches).
    #[doc(hidden)]
    pub fn waiting_senders(&self) -> usize {
        self.shared.state.lock().senders.registered()
    }
}

/// Blocking iterator over received values, from [`Channel::iter`]; ends once
/// the channel is closed and drained.
pub struct Iter<'a, T> {
    channel: &'a Channel<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.channel.recv(None).ok()
    }
}

impl<'a, T> IntoIterator for &'a Channel<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.shared.state.lock();
        f.debug_struct("Channel")
            .field("len", &st.queue.len())
            .field("capacity", &self.capacity())
            .field("closed", &st.closed)
            .finish()
    }
}

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter")
            .field("channel", self.channel)
            .finish()
    }
}
