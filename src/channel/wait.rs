//! [`block`]: the one blocking routine behind every waiting operation
//! (`send`, `recv`, their timed forms, the batch forms, `select`), written
//! once with an optional deadline and an optional interrupt. The protocol and
//! why it loses no wakeup are in `README.md` beside this file.

use std::sync::Arc;
use std::time::Instant;

use super::error::Abort;
use super::interrupt::{Interrupt, Wake};
use super::state::{Side, State, Wakes};
use super::sync::{blocking, park, park_timeout};
use super::waiter::{Outcome, Slots, Waiter, INTERRUPTED, TIMED_OUT};
use super::{Channel, Shared};

/// The side each case of a wait is on: one side for every channel (a single
/// operation, a receive-only select), or one per case (a select with send
/// cases).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Sides<'a> {
    All(Side),
    Each(&'a [Side]),
}

impl Sides<'_> {
    #[inline]
    pub(crate) fn at(&self, i: usize) -> Side {
        match self {
            Sides::All(s) => *s,
            Sides::Each(s) => s[i],
        }
    }
}

/// What an operation does on a channel that is ready: case index, the
/// channel's state, and the case's value slot (a send case's offer; a
/// receive case's is empty).
pub(crate) type Perform<'a, T, R> = dyn FnMut(usize, &mut State<T>, &mut Option<T>) -> R + 'a;

/// Waits until one of `chans` is ready on its case's side, then runs
/// `perform` on it under its lock and returns its position and `perform`'s
/// result.
///
/// Channels are tried in rotation from `start`. `perform` runs only when the
/// channel is ready ([`State::ready`], or an unbuffered channel with a peer
/// waiting on the other side), exactly once per successful call, with the
/// case's slot from `slots`. Returns `Abort::Timeout` once `deadline`
/// passes (never without one) and `Abort::Cancelled` once `interrupt`
/// fires, if no channel was ready first.
///
/// The first pass over the channels allocates nothing but `slots`, so
/// `select` uses it as its fast path; single-channel operations try their
/// own fast path first.
#[allow(clippy::too_many_arguments)]
pub(crate) fn block<T, R>(
    chans: &[&Channel<T>],
    sides: Sides<'_>,
    mut start: usize,
    deadline: Option<Instant>,
    interrupt: Option<&dyn Interrupt>,
    slots: &Arc<Slots<T>>,
    perform: &mut Perform<'_, T, R>,
) -> Result<(usize, R), Abort> {
    let n = chans.len();
    debug_assert!(n > 0 && start < n);
    loop {
        spin_until_ready(chans, sides, deadline);
        let mut waiter: Option<Arc<Waiter>> = None;
        let mut registered = 0;
        match register(
            chans,
            sides,
            start,
            &mut waiter,
            &mut registered,
            &Waiter::new,
            slots,
            Some(slots),
            perform,
        ) {
            Registered::Done(i, out) => return Ok((i, out)),
            Registered::Retry(next) => {
                start = next;
                continue;
            }
            Registered::Waiting => {}
            Registered::Claimed => {}
        }
        // A registration pass that did not finish registered at least once.
        let Some(waiter) = waiter else {
            return Err(Abort::Timeout);
        };
        if registered == n {
            park_until(&waiter, deadline, interrupt);
        }
        match settle(chans, sides, start, registered, &waiter, slots, perform) {
            Settled::Done(j, out) => return Ok((j, out)),
            Settled::Retry(next) => start = next,
            Settled::Aborted(abort) => return Err(abort),
            Settled::Waiting => {
                debug_assert!(false, "wait ended while still waiting");
                unregister(chans, sides, start, registered, &waiter);
            }
        }
    }
}

/// How a registration pass ([`register`]) ended.
pub(crate) enum Registered<R> {
    /// Channel `i` was ready: `perform` ran there.
    Done(usize, R),
    /// The waiter is registered on every channel, still waiting.
    Waiting,
    /// A channel claimed the waiter while it was still registering on the
    /// others: [`settle`] it (it is registered on the first `registered`).
    Claimed,
    /// The waiter claimed itself for an unbuffered channel whose waiting
    /// peer stopped waiting before it could be claimed: it is unregistered
    /// everywhere; wait again from this position.
    Retry(usize),
}

/// What one look at a channel under its lock found ([`step`]).
pub(crate) enum Step<R> {
    /// `perform` ran; wake these once the lock is released.
    Done(R, Wakes),
    /// Not ready: register here.
    NotReady,
    /// The waiter was claimed by another channel meanwhile.
    Claimed,
    /// The waiter claimed itself, but the unbuffered peer it saw waiting
    /// was gone (its wait ended) before it could be claimed.
    Retry(Wakes),
}

/// One look at channel `i` (locked: `st`) for a case on `side`: if it is
/// ready, claim `own` (if registered elsewhere) and perform the case.
///
/// Ready is [`State::ready`] for a buffered channel, and for a closed one.
/// An open unbuffered channel has no room: a case there is ready when a
/// peer other than `own` waits on the other side (README, "Unbuffered
/// channels"); the peer is claimed (counted pending on its side) and the
/// value moves directly between the two operations' slots, through the
/// queue only for the length of this critical section, so `perform` is
/// the same code as for a buffered channel.
#[allow(clippy::too_many_arguments)]
pub(crate) fn step<T, R>(
    shared: &Shared<T>,
    st: &mut State<T>,
    side: Side,
    i: usize,
    own: Option<&Arc<Waiter>>,
    slots: &Slots<T>,
    perform: &mut Perform<'_, T, R>,
) -> Step<R> {
    // An open unbuffered channel hands values over (a receive takes a
    // value left queued by a dropped wait first, README).
    let handoff = shared.capacity == 0 && !st.closed && (side == Side::Send || st.queue.is_empty());
    if !handoff {
        if !st.ready(side, shared.capacity) {
            return Step::NotReady;
        }
        if let Some(w) = own {
            if !w.try_claim(i) {
                return Step::Claimed;
            }
        }
        let out = perform(i, st, &mut slots.lock()[i]);
        return Step::Done(out, shared.finish(st));
    }
    let peers = side.other();
    if !st.waiters(peers).has_live_peer(own) {
        return Step::NotReady;
    }
    if let Some(w) = own {
        if !w.try_claim(i) {
            return Step::Claimed;
        }
    }
    let Some(peer) = st.waiters(peers).claim_peer(own) else {
        // Every peer that looked live ended its wait meanwhile.
        return match own {
            Some(_) => Step::Retry(shared.finish(st)),
            None => Step::NotReady,
        };
    };
    let out = match side {
        Side::Recv => {
            // The sender's offer moves into the (empty) queue for `perform`.
            // Every sender registered on an unbuffered channel has its
            // offer in its slot (`run`, send cases, one-item batches).
            let offer = peer
                .slots
                .as_ref()
                .and_then(|s| s.lock()[peer.index].take());
            debug_assert!(offer.is_some(), "an unbuffered sender without an offer");
            if let Some(v) = offer {
                st.queue.push_back(v);
            }
            perform(i, st, &mut slots.lock()[i])
        }
        Side::Send => {
            let before = st.queue.len();
            let out = perform(i, st, &mut slots.lock()[i]);
            if st.queue.len() > before {
                let v = st.queue.pop_back();
                debug_assert!(peer.slots.is_some(), "an unbuffered receiver without slots");
                if let Some(s) = &peer.slots {
                    s.lock()[peer.index] = v;
                } else if let Some(v) = v {
                    // Not reached (every wait registered on an unbuffered
                    // channel shares its slots); never lose the value.
                    st.queue.push_back(v);
                }
            }
            out
        }
    };
    Step::Done(out, shared.finish(st).with(peer.waiter))
}

/// Registers a waiter (made by `make` on first need) on each channel in
/// turn from `start`, unless one is ready ([`step`]): then, if the waiter
/// is already registered elsewhere, it first claims itself; if that fails,
/// another channel claimed it meanwhile (README, "select").
///
/// `slots` are the operation's slots; `share` the same slots as an `Arc`,
/// registered with the waiter on unbuffered channels (where a peer uses
/// them). It must be `Some` if any of `chans` is unbuffered.
#[allow(clippy::too_many_arguments)]
pub(crate) fn register<T, R>(
    chans: &[&Channel<T>],
    sides: Sides<'_>,
    start: usize,
    waiter: &mut Option<Arc<Waiter>>,
    registered: &mut usize,
    make: &dyn Fn() -> Arc<Waiter>,
    slots: &Slots<T>,
    share: Option<&Arc<Slots<T>>>,
    perform: &mut Perform<'_, T, R>,
) -> Registered<R> {
    let n = chans.len();
    for k in 0..n {
        let i = (start + k) % n;
        let side = sides.at(i);
        let shared = &*chans[i].shared;
        let mut st = shared.state.lock();
        match step(shared, &mut st, side, i, waiter.as_ref(), slots, perform) {
            Step::Done(out, wakes) => {
                drop(st);
                wakes.unpark();
                if let Some(w) = waiter.as_ref() {
                    unregister(chans, sides, start, *registered, w);
                }
                return Registered::Done(i, out);
            }
            Step::Claimed => return Registered::Claimed,
            Step::Retry(wakes) => {
                drop(st);
                wakes.unpark();
                if let Some(w) = waiter.take() {
                    unregister(chans, sides, start, *registered, &w);
                }
                *registered = 0;
                return Registered::Retry((i + 1) % n);
            }
            Step::NotReady => {
                let w = waiter.get_or_insert_with(make);
                debug_assert!(shared.capacity != 0 || share.is_some());
                let share = if shared.capacity == 0 { share } else { None };
                st.waiters(side).push(w, i, share);
                *registered += 1;
            }
        }
    }
    Registered::Waiting
}

/// How a wait that is over (or not) ends ([`settle`]).
pub(crate) enum Settled<R> {
    /// Channel `j` claimed the wait and was still ready: `perform` ran.
    Done(usize, R),
    /// The claiming channel was emptied (or filled) by someone else first:
    /// wait again, starting at this channel.
    Retry(usize),
    /// The deadline or the interrupt ended the wait.
    Aborted(Abort),
    /// Still waiting (a spurious wake).
    Waiting,
}

/// Finishes a wait according to its waiter's outcome: a claim is honoured
/// (the claimed side arrives, takes its turn, and passes the wake on), an
/// abort unregisters everywhere.
///
/// On an unbuffered channel a claim may already have done the case's work:
/// a sender's offer taken (its slot is empty: sent), or a value handed to
/// a receiver (in its slot: it goes through the queue to `perform`). The
/// channel's lock, taken first, orders this after the peer's hand-off.
pub(crate) fn settle<T, R>(
    chans: &[&Channel<T>],
    sides: Sides<'_>,
    start: usize,
    registered: usize,
    waiter: &Arc<Waiter>,
    slots: &Slots<T>,
    perform: &mut Perform<'_, T, R>,
) -> Settled<R> {
    let n = chans.len();
    match waiter.outcome() {
        Outcome::Claimed(j) => {
            // Channel `j` claimed us: it removed our entry there and
            // counts us as pending. Retry there first.
            let side = sides.at(j);
            let shared = &*chans[j].shared;
            let mut st = shared.state.lock();
            st.waiters(side).arrived();
            let out = {
                let mut slots = slots.lock();
                let slot = &mut slots[j];
                let ready = if shared.capacity == 0 {
                    match side {
                        Side::Recv => {
                            if let Some(v) = slot.take() {
                                st.queue.push_front(v);
                            }
                            st.ready(side, 0)
                        }
                        // Taken by a receiver (sent), or closed.
                        Side::Send => slot.is_none() || st.closed,
                    }
                } else {
                    st.ready(side, shared.capacity)
                };
                if ready {
                    Some(perform(j, &mut st, slot))
                } else {
                    None
                }
            };
            shared.release(st);
            if n > 1 {
                unregister(chans, sides, start, registered, waiter);
            }
            match out {
                Some(out) => Settled::Done(j, out),
                // Someone else took it first: wait again, starting at the
                // next channel so that `j` does not keep winning.
                None => Settled::Retry((j + 1) % n),
            }
        }
        Outcome::TimedOut => {
            unregister(chans, sides, start, registered, waiter);
            Settled::Aborted(Abort::Timeout)
        }
        Outcome::Interrupted => {
            unregister(chans, sides, start, registered, waiter);
            Settled::Aborted(Abort::Cancelled)
        }
        Outcome::Waiting => Settled::Waiting,
    }
}

/// Spins briefly (crossbeam's `Backoff`: about a hundred spin hints, then a
/// few `yield_now`s) until one of `chans` looks ready: a value or a slot that
/// frees up within a microsecond or so is taken without the cost of parking
/// and of the waker's unpark (a syscall each). Bounded, so not a polling
/// loop; skipped once the deadline has passed, and under loom.
#[inline]
fn spin_until_ready<T>(chans: &[&Channel<T>], sides: Sides<'_>, deadline: Option<Instant>) {
    #[cfg(not(loom))]
    {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        // An unbuffered channel is never ready before its peer registers:
        // register at once so that the peer can find this wait.
        if chans.iter().any(|c| c.shared.capacity == 0) {
            return;
        }
        let backoff = crossbeam_utils::Backoff::new();
        while !backoff.is_completed() {
            backoff.snooze();
            if chans
                .iter()
                .enumerate()
                .any(|(i, c)| c.shared.looks_ready(sides.at(i)))
            {
                return;
            }
        }
    }
    #[cfg(loom)]
    {
        let _ = (chans, sides, deadline);
    }
}

/// Parks until `waiter`'s wait ends: claimed by a channel, or aborted by the
/// deadline or the interrupt. Tells the pool first (the thread parks).
#[cold]
fn park_until(waiter: &Arc<Waiter>, deadline: Option<Instant>, interrupt: Option<&dyn Interrupt>) {
    // Register the wake before looking at the flag: the interrupt either
    // fired before (and we see the flag) or will call the wake.
    let _registration = interrupt.map(|it| {
        let w = Arc::clone(waiter);
        let wake: Wake = Arc::new(move || {
            if w.try_abort(INTERRUPTED) {
                w.unpark();
            }
        });
        it.register(wake)
    });
    if interrupt.is_some_and(|it| it.is_interrupted()) && waiter.try_abort(INTERRUPTED) {
        return;
    }
    if waiter.outcome() != Outcome::Waiting {
        return;
    }
    blocking(|| loop {
        if waiter.outcome() != Outcome::Waiting {
            return;
        }
        match deadline {
            None => park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    // Fails only if a channel or the interrupt ended the
                    // wait first; the next check sees that.
                    waiter.try_abort(TIMED_OUT);
                    continue;
                }
                park_timeout(deadline - now);
            }
        }
    });
}

/// Removes `waiter` from the first `registered` channels of the rotation
/// starting at `start`.
#[cold]
pub(crate) fn unregister<T>(
    chans: &[&Channel<T>],
    sides: Sides<'_>,
    start: usize,
    registered: usize,
    waiter: &Arc<Waiter>,
) {
    let n = chans.len();
    for k in 0..registered {
        let i = (start + k) % n;
        chans[i]
            .shared
            .state
            .lock()
            .waiters(sides.at(i))
            .remove(waiter);
    }
}
