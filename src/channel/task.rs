//! [`TaskWait`]: channel operations for pool tasks that park instead of
//! blocking their thread. The same protocol as a thread's wait
//! (`README.md`, "The waiting side"), cut at the park: a registration pass
//! with a waiter whose parker is the task's [`Waker`]; then the task parks;
//! each time it runs again, the wait is polled: still waiting (a spurious
//! wake) parks again, a claim is honoured, an abort unregisters. The
//! timeout and the cancellation are the caller's: it passes `give_up` once
//! its deadline has passed or its task was cancelled (after arranging to be
//! woken for either), and the wait ends with that unless a channel claimed
//! it first (an interrupt only ends a *wait*).

use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::task::Poll;

use super::error::Abort;
use super::state::{Side, State};
use super::wait::{register, settle, unregister, Registered, Settled};
use super::waiter::{Waiter, INTERRUPTED, TIMED_OUT};
use super::Channel;
use crate::pool::Waker;

/// Why a task's wait gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveUp {
    /// Its deadline passed.
    Timeout,
    /// Its task was cancelled.
    Cancelled,
}

impl From<Abort> for GiveUp {
    fn from(a: Abort) -> Self {
        match a {
            Abort::Timeout => GiveUp::Timeout,
            Abort::Cancelled => GiveUp::Cancelled,
        }
    }
}

/// A parked task's wait on one or more channels (one side), kept across
/// its parks. Dropping it ends the wait cleanly (a claim it got is passed
/// on, so no wakeup is lost).
pub struct TaskWait<T> {
    /// The channel (the first of a select's).
    first: Channel<T>,
    /// A select's other channels.
    rest: Vec<Channel<T>>,
    side: Side,
    start: usize,
    waiter: Option<Arc<Waiter>>,
    registered: usize,
    waker: Waker,
}

impl<T> std::fmt::Debug for TaskWait<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskWait")
            .field("channels", &(1 + self.rest.len()))
            .field("registered", &self.registered)
            .finish()
    }
}

impl<T> TaskWait<T> {
    fn new(
        first: Channel<T>,
        rest: Vec<Channel<T>>,
        side: Side,
        start: usize,
        waker: Waker,
    ) -> Self {
        debug_assert!(start <= rest.len());
        TaskWait {
            first,
            rest,
            side,
            start,
            waiter: None,
            registered: 0,
            waker,
        }
    }

    /// A wait to receive from `ch` (also `recv_batch`, `for v in ch`).
    pub fn recv(ch: &Channel<T>, waker: Waker) -> Self {
        TaskWait::new(ch.clone(), Vec::new(), Side::Recv, 0, waker)
    }

    /// A wait to send on `ch` (also `send_batch`).
    pub fn send(ch: &Channel<T>, waker: Waker) -> Self {
        TaskWait::new(ch.clone(), Vec::new(), Side::Send, 0, waker)
    }

    /// A wait to receive from whichever of `chans` is ready first (not
    /// empty), scanning from `start`.
    /// `chans` must not be empty.
    pub fn select(mut chans: Vec<Channel<T>>, start: usize, waker: Waker) -> Self {
        let n = chans.len().max(1);
        let first = chans.remove(0);
        TaskWait::new(first, chans, Side::Recv, start % n, waker)
    }

    /// One step of the wait: `perform` runs on a ready channel (then
    /// `Ready(Ok)`), or the waiter is (still) registered (`Pending`: park),
    /// or the wait gave up (`Ready(Err)`, only with `give_up`).
    fn poll_with<R>(
        &mut self,
        give_up: Option<GiveUp>,
        perform: &mut dyn FnMut(&mut State<T>) -> R,
    ) -> Poll<Result<(usize, R), GiveUp>> {
        let one;
        let many: Vec<&Channel<T>>;
        let chans: &[&Channel<T>] = if self.rest.is_empty() {
            one = [&self.first];
            &one
        } else {
            many = std::iter::once(&self.first).chain(&self.rest).collect();
            &many
        };
        loop {
            if let Some(w) = self.waiter.clone() {
                if let Some(why) = give_up {
                    let code = match why {
                        GiveUp::Timeout => TIMED_OUT,
                        GiveUp::Cancelled => INTERRUPTED,
                    };
                    // Fails if a channel claimed us first: honour that.
                    w.try_abort(code);
                }
                match settle(chans, self.side, self.start, self.registered, &w, perform) {
                    Settled::Waiting => return Poll::Pending,
                    Settled::Done(j, out) => {
                        self.waiter = None;
                        return Poll::Ready(Ok((j, out)));
                    }
                    Settled::Aborted(abort) => {
                        self.waiter = None;
                        return Poll::Ready(Err(abort.into()));
                    }
                    Settled::Retry(next) => {
                        self.waiter = None;
                        self.registered = 0;
                        self.start = next;
                    }
                }
            }
            let mut waiter = None;
            let mut registered = 0;
            let waker = &self.waker;
            let make = || Waiter::for_task(waker.clone());
            let r = register(
                chans,
                self.side,
                self.start,
                &mut waiter,
                &mut registered,
                &make,
                perform,
            );
            self.waiter = waiter;
            self.registered = registered;
            match r {
                Registered::Done(i, out) => {
                    self.waiter = None;
                    return Poll::Ready(Ok((i, out)));
                }
                // Registered everywhere: park, unless giving up (then the
                // loop aborts the fresh registration at once).
                Registered::Waiting if give_up.is_none() => return Poll::Pending,
                Registered::Waiting | Registered::Claimed => {}
            }
        }
    }

    /// Receives one value: `Ok((i, Some(v)))` from channel `i`, or
    /// `Ok((i, None))` once channel `i` is closed and drained.
    pub fn poll_recv(
        &mut self,
        give_up: Option<GiveUp>,
    ) -> Poll<Result<(usize, Option<T>), GiveUp>> {
        self.poll_with(give_up, &mut |st| st.queue.pop_front())
    }

    /// Receives 1..=`max` values; an empty list once closed and drained.
    pub fn poll_recv_batch(
        &mut self,
        max: NonZeroUsize,
        give_up: Option<GiveUp>,
    ) -> Poll<Result<Vec<T>, GiveUp>> {
        self.poll_with(give_up, &mut |st| {
            let n = max.get().min(st.queue.len());
            st.queue.drain(..n).collect::<Vec<T>>()
        })
        .map(|r| r.map(|(_, batch)| batch))
    }

    /// Sends the value in `slot` (taken when it is sent): `Ok(Ok(()))`, or
    /// `Ok(Err(v))` with the value back if the channel is closed.
    pub fn poll_send(
        &mut self,
        slot: &mut Option<T>,
        give_up: Option<GiveUp>,
    ) -> Poll<Result<Result<(), T>, GiveUp>> {
        self.poll_with(give_up, &mut |st| match slot.take() {
            Some(v) if st.closed => Err(v),
            Some(v) => {
                st.queue.push_back(v);
                Ok(())
            }
            None => Ok(()),
        })
        .map(|r| r.map(|(_, sent)| sent))
    }

    /// Sends the items of `rest` in order, as many as fit per step (each
    /// step one lock and at most one receiver wakeup), until all are sent
    /// (`Ok(true)`) or the channel is closed (`Ok(false)`: `rest` holds
    /// what was not sent). `sent` counts the items sent so far; progress is
    /// kept across parks.
    pub fn poll_send_batch(
        &mut self,
        rest: &mut VecDeque<T>,
        sent: &mut usize,
        give_up: Option<GiveUp>,
    ) -> Poll<Result<bool, GiveUp>> {
        let capacity = self.first.shared.capacity;
        loop {
            let step = self.poll_with(give_up, &mut |st| {
                if st.closed {
                    return None;
                }
                let room = capacity - st.queue.len();
                let n = room.min(rest.len());
                if n == rest.len() {
                    st.queue.append(rest);
                } else {
                    st.queue.extend(rest.drain(..n));
                }
                Some(n)
            });
            match step {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(why)) => return Poll::Ready(Err(why)),
                Poll::Ready(Ok((_, None))) => return Poll::Ready(Ok(false)),
                Poll::Ready(Ok((_, Some(n)))) => {
                    *sent += n;
                    if rest.is_empty() {
                        return Poll::Ready(Ok(true));
                    }
                }
            }
        }
    }
}

impl<T> Drop for TaskWait<T> {
    /// A wait dropped while registered (its task was cancelled and its
    /// state dropped, say) leaves cleanly: unregistered if still waiting,
    /// and a claim it got is handed to the next waiter (the claimed
    /// channel's wake rule runs again), so no value waits for a waiter
    /// that will never come.
    fn drop(&mut self) {
        let Some(w) = self.waiter.take() else {
            return;
        };
        let chans: Vec<&Channel<T>> = std::iter::once(&self.first).chain(&self.rest).collect();
        if w.try_abort(INTERRUPTED) {
            unregister(&chans, self.side, self.start, self.registered, &w);
            return;
        }
        // Claimed: arrive, take nothing, pass the wake on.
        let _ = settle(
            &chans,
            self.side,
            self.start,
            self.registered,
            &w,
            &mut |_: &mut State<T>| (),
        );
    }
}

/// One pass over `chans` from `start` without waiting: the first ready
/// channel's value (`None`: it is closed and drained), or `None` if none
/// is ready.
pub fn try_select<T>(chans: &[&Channel<T>], start: usize) -> Option<(usize, Option<T>)> {
    let n = chans.len();
    for k in 0..n {
        let i = (start + k) % n;
        let shared = &*chans[i].shared;
        let mut st = shared.state.lock();
        if st.ready(Side::Recv, shared.capacity) {
            let v = st.queue.pop_front();
            let wakes = shared.finish(&mut st);
            drop(st);
            wakes.unpark();
            return Some((i, v));
        }
    }
    None
}
