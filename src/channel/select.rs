//! [`select`]: receive from whichever of several channels is ready first.

use std::sync::Arc;
use std::time::Instant;

use super::error::SelectError;
use super::interrupt::Interrupt;
use super::state::{Side, State};
use super::sync::Mutex;
use super::wait::{block, step, Sides, Step};
use super::waiter::{SlotList, Slots};
use super::Channel;

/// Waits until one of `chans` has a value or is closed and drained, and
/// returns its index with the value received (`None`: that channel is closed
/// and drained). Channels are scanned from a random index, so a busy channel
/// early in the list does not starve later ones. Fails with
/// [`SelectError::Timeout`] once `deadline` passes, with
/// [`SelectError::Cancelled`] if `interrupt` fires while waiting, and with
/// [`SelectError::NoChannels`] for an empty list. A channel may appear more
/// than once.
///
/// No polling: the thread registers with every channel and parks until one
/// claims it (README, "select").
pub fn select<T>(
    chans: &[&Channel<T>],
    deadline: Option<Instant>,
    interrupt: Option<&dyn Interrupt>,
) -> Result<(usize, Option<T>), SelectError> {
    let n = chans.len();
    if n == 0 {
        return Err(SelectError::NoChannels);
    }
    let slots = Arc::new(Mutex::new((0..n).map(|_| None).collect()));
    block(
        chans,
        Sides::All(Side::Recv),
        start_index(n),
        deadline,
        interrupt,
        &slots,
        &mut super::pop,
    )
    .map_err(SelectError::from)
}

/// What the case a [`select_cases`] performed did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selected<T> {
    /// A receive case: the value (`None`: closed and drained).
    Received(Option<T>),
    /// A send case delivered its value.
    Sent,
    /// A send case found its channel closed: here is the value back.
    SendClosed(T),
}

/// The step of a case of a mixed select.
pub(crate) fn perform_case<T>(
    sides: &[Side],
) -> impl FnMut(usize, &mut State<T>, &mut Option<T>) -> Selected<T> + '_ {
    move |i, st, slot| match sides[i] {
        Side::Recv => Selected::Received(st.queue.pop_front()),
        Side::Send => match super::push(i, st, slot) {
            Ok(()) => Selected::Sent,
            Err(v) => Selected::SendClosed(v),
        },
    }
}

/// A select over receive and send cases (Go's `select` with send cases):
/// case `i` receives from `chans[i]` if `sides[i]` is [`Side::Recv`], or
/// sends `offers[i]` on it if [`Side::Send`]. Exactly one case is
/// performed; its index and what it did come back. Scanning starts at a
/// random case. A send case on an unbuffered channel is ready when a
/// receiver waits there (and not this select itself). Errors as
/// [`select`]. `offers` holds `Some` exactly for the send cases.
pub fn select_cases<T>(
    chans: &[&Channel<T>],
    sides: &[Side],
    offers: Vec<Option<T>>,
    deadline: Option<Instant>,
    interrupt: Option<&dyn Interrupt>,
) -> Result<(usize, Selected<T>), SelectError> {
    let n = chans.len();
    if n == 0 {
        return Err(SelectError::NoChannels);
    }
    debug_assert!(sides.len() == n && offers.len() == n);
    let slots: Arc<Slots<T>> = Arc::new(Mutex::new(offers.into()));
    block(
        chans,
        Sides::Each(sides),
        start_index(n),
        deadline,
        interrupt,
        &slots,
        &mut perform_case(sides),
    )
    .map_err(SelectError::from)
}

/// One pass of [`select_cases`] from `start` without waiting: the case
/// performed, or `None` if no case was ready (`offers` is then intact; a
/// performed send case's offer is taken from it).
pub fn try_select_cases<T>(
    chans: &[&Channel<T>],
    sides: &[Side],
    offers: &mut Vec<Option<T>>,
    start: usize,
) -> Option<(usize, Selected<T>)> {
    let n = chans.len();
    let slots: Slots<T> = Mutex::new(std::mem::take(offers).into());
    let mut perform = perform_case(sides);
    let mut done = None;
    for k in 0..n {
        let i = (start + k) % n;
        let shared = &*chans[i].shared;
        let mut st = shared.state.lock();
        if let Step::Done(out, wakes) =
            step(shared, &mut st, sides[i], i, None, &slots, &mut perform)
        {
            drop(st);
            wakes.unpark();
            done = Some((i, out));
            break;
        }
    }
    *offers = slots.into_inner().into();
    done
}

/// One case of a select tried once, without waiting: receive from `chan`
/// (`offer` is `None`) or send a clone of `offer` on it. What the case did,
/// or `None` if it is not ready. The allocation-free building block of a
/// select's first pass: the caller walks its cases in rotation from a
/// random start and stops at the first that is performed, so it needs no
/// channel, side or slot vectors for the common case (a case ready at
/// once). The same readiness as [`try_select_cases`]: a buffered channel's
/// queue under its lock; an unbuffered channel's waiting peer.
#[inline]
pub fn try_case<T: Clone>(chan: &Channel<T>, offer: Option<&T>) -> Option<Selected<T>> {
    let shared = &*chan.shared;
    if shared.capacity == 0 {
        return try_case_unbuffered(chan, offer);
    }
    let side = if offer.is_some() {
        Side::Send
    } else {
        Side::Recv
    };
    // Skip the lock of a case that does not even look ready (the atomic
    // copies of length and closed flag): a case missed on a stale copy is
    // only one that became ready while this pass ran, as if it had become
    // ready just after; a select that finds nothing ready here decides
    // under the locks (it registers or, polling, gives up there).
    if !shared.looks_ready(side) {
        return None;
    }
    let mut st = shared.state.lock();
    let out = match offer {
        None => {
            if st.queue.is_empty() && !st.closed {
                return None;
            }
            Selected::Received(st.queue.pop_front())
        }
        Some(v) => {
            if st.closed {
                Selected::SendClosed(v.clone())
            } else if st.queue.len() < shared.capacity {
                st.queue.push_back(v.clone());
                Selected::Sent
            } else {
                return None;
            }
        }
    };
    shared.release(st);
    Some(out)
}

/// [`try_case`] on an unbuffered channel: a hand-off with a waiting peer
/// ([`step`], README "Unbuffered channels"), or a value left queued by a
/// dropped wait, or closed.
#[cold]
fn try_case_unbuffered<T: Clone>(chan: &Channel<T>, offer: Option<&T>) -> Option<Selected<T>> {
    let shared = &*chan.shared;
    let (side, sides) = match offer {
        None => (Side::Recv, [Side::Recv]),
        Some(_) => (Side::Send, [Side::Send]),
    };
    let slots: Slots<T> = Mutex::new(SlotList::One(offer.cloned()));
    let mut perform = perform_case(&sides);
    let mut st = shared.state.lock();
    match step(shared, &mut st, side, 0, None, &slots, &mut perform) {
        Step::Done(out, wakes) => {
            drop(st);
            wakes.unpark();
            Some(out)
        }
        _ => None,
    }
}

/// Where the scan starts: random, except under loom (whose executions must
/// replay deterministically).
fn start_index(n: usize) -> usize {
    #[cfg(not(loom))]
    {
        fastrand::usize(..n)
    }
    #[cfg(loom)]
    {
        let _ = n;
        0
    }
}
