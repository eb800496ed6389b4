//! [`block`]: the one blocking routine behind every waiting operation
//! (`send`, `recv`, their timed forms, the batch forms, `select`), written
//! once with an optional deadline and an optional interrupt. The protocol and
//! why it loses no wakeup are in `README.md` beside this file.

use std::sync::Arc;
use std::time::Instant;

use super::error::Abort;
use super::interrupt::{Interrupt, Wake};
use super::state::{Side, State};
use super::sync::{blocking, park, park_timeout};
use super::waiter::{Outcome, Waiter, INTERRUPTED, TIMED_OUT};
use super::Channel;

/// Waits until one of `chans` is ready on `side`, then runs `perform` on it
/// under its lock and returns its position and `perform`'s result.
///
/// Channels are tried in rotation from `start`. `perform` runs only when the
/// channel is ready ([`State::ready`]), exactly once per successful call.
/// Returns `Abort::Timeout` once `deadline` passes (never without one) and
/// `Abort::Cancelled` once `interrupt` fires, if no channel was ready first.
///
/// The first pass over the channels allocates nothing, so `select` uses it as
/// its fast path; single-channel operations try their own fast path first.
pub(crate) fn block<T, R>(
    chans: &[&Channel<T>],
    side: Side,
    mut start: usize,
    deadline: Option<Instant>,
    interrupt: Option<&dyn Interrupt>,
    perform: &mut dyn FnMut(&mut State<T>) -> R,
) -> Result<(usize, R), Abort> {
    let n = chans.len();
    debug_assert!(n > 0 && start < n);
    loop {
        spin_until_ready(chans, side, deadline);
        let mut waiter: Option<Arc<Waiter>> = None;
        let mut registered = 0;
        match register(
            chans,
            side,
            start,
            &mut waiter,
            &mut registered,
            &Waiter::new,
            perform,
        ) {
            Registered::Done(i, out) => return Ok((i, out)),
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
        match settle(chans, side, start, registered, &waiter, perform) {
            Settled::Done(j, out) => return Ok((j, out)),
            Settled::Retry(next) => start = next,
            Settled::Aborted(abort) => return Err(abort),
            Settled::Waiting => {
                debug_assert!(false, "wait ended while still waiting");
                unregister(chans, side, start, registered, &waiter);
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
}

/// Registers a waiter (made by `make` on first need) on each channel in
/// turn from `start`, unless one is ready: then, if the waiter is already
/// registered elsewhere, it first claims itself; if that fails, another
/// channel claimed it meanwhile (README, "select").
pub(crate) fn register<T, R>(
    chans: &[&Channel<T>],
    side: Side,
    start: usize,
    waiter: &mut Option<Arc<Waiter>>,
    registered: &mut usize,
    make: &dyn Fn() -> Arc<Waiter>,
    perform: &mut dyn FnMut(&mut State<T>) -> R,
) -> Registered<R> {
    let n = chans.len();
    for k in 0..n {
        let i = (start + k) % n;
        let shared = &*chans[i].shared;
        let mut st = shared.state.lock();
        if st.ready(side, shared.capacity) {
            // Registered elsewhere already? Then take this channel only
            // if no channel claimed us meanwhile (a claim obliges us to
            // retry there first; see README, "select").
            if let Some(w) = waiter.as_ref() {
                if !w.try_claim(i) {
                    return Registered::Claimed;
                }
            }
            let out = perform(&mut st);
            let wakes = shared.finish(&mut st);
            drop(st);
            wakes.unpark();
            if let Some(w) = waiter.as_ref() {
                unregister(chans, side, start, *registered, w);
            }
            return Registered::Done(i, out);
        }
        let w = waiter.get_or_insert_with(make);
        st.waiters(side).push(w, i);
        *registered += 1;
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
pub(crate) fn settle<T, R>(
    chans: &[&Channel<T>],
    side: Side,
    start: usize,
    registered: usize,
    waiter: &Arc<Waiter>,
    perform: &mut dyn FnMut(&mut State<T>) -> R,
) -> Settled<R> {
    let n = chans.len();
    match waiter.outcome() {
        Outcome::Claimed(j) => {
            // Channel `j` claimed us: it removed our entry there and
            // counts us as pending. Retry there first.
            let shared = &*chans[j].shared;
            let mut st = shared.state.lock();
            st.waiters(side).arrived();
            let ready = st.ready(side, shared.capacity);
            let out = if ready { Some(perform(&mut st)) } else { None };
            let wakes = shared.finish(&mut st);
            drop(st);
            wakes.unpark();
            if n > 1 {
                unregister(chans, side, start, registered, waiter);
            }
            match out {
                Some(out) => Settled::Done(j, out),
                // Someone else took it first: wait again, starting at the
                // next channel so that `j` does not keep winning.
                None => Settled::Retry((j + 1) % n),
            }
        }
        Outcome::TimedOut => {
            unregister(chans, side, start, registered, waiter);
            Settled::Aborted(Abort::Timeout)
        }
        Outcome::Interrupted => {
            unregister(chans, side, start, registered, waiter);
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
fn spin_until_ready<T>(chans: &[&Channel<T>], side: Side, deadline: Option<Instant>) {
    #[cfg(not(loom))]
    {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        let backoff = crossbeam_utils::Backoff::new();
        while !backoff.is_completed() {
            backoff.snooze();
            if chans.iter().any(|c| c.shared.looks_ready(side)) {
                return;
            }
        }
    }
    #[cfg(loom)]
    {
        let _ = (chans, side, deadline);
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
    side: Side,
    start: usize,
    registered: usize,
    waiter: &Arc<Waiter>,
) {
    let n = chans.len();
    for k in 0..registered {
        let i = (start + k) % n;
        chans[i].shared.state.lock().waiters(side).remove(waiter);
    }
}
