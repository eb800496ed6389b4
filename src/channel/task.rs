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
use super::select::{perform_case, Selected};
use super::state::{Side, State};
use super::sync::Mutex;
use super::wait::{register, settle, unregister, Perform, Registered, Settled, Sides};
use super::waiter::{Outcome, SlotList, Slots, Waiter, INTERRUPTED, TIMED_OUT};
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
    /// A select's other channels and sides (`None` for a single-channel
    /// operation: a parked task's wait stays small).
    more: Option<Box<More<T>>>,
    /// The operation's value slots, one per channel (README, "Unbuffered
    /// channels"), shared with the channels it registers on. `None` for a
    /// single buffered channel: no peer ever touches its slot there, so
    /// each poll uses a slot on the stack (a parked receive allocates
    /// nothing for it).
    slots: Option<Arc<Slots<T>>>,
    /// Where the scan starts (the low 31 bits), and the side of a
    /// single-channel operation ([`SEND_BIT`]); then on how many channels
    /// from there the waiter is registered. Packed in `u32`s: a parked
    /// task's wait stays small (a select has far fewer than 2^31 cases).
    start: u32,
    /// The task's waker, or the waiter (holding it) while registered.
    who: Who,
    registered: u32,
}

/// Who a [`TaskWait`] wakes: the task's waker while no registration is
/// live, else the registered waiter, which holds the waker (its parker).
/// One of the two, not both: 16 bytes (the waiter fits beside the waker's
/// non-null pointer), so a parked task's channel operation stays in a
/// smaller size class (a million may be parked, issue 8).
enum Who {
    Idle(Waker),
    Waiting(Arc<Waiter>),
}

impl Who {
    /// The task's waker: kept while idle, or the one its waiter holds.
    #[inline]
    fn task_waker(&self) -> &Waker {
        match self {
            Who::Idle(k) => k,
            Who::Waiting(w) => w.task_waker(),
        }
    }

    /// The registered waiter, if a registration is live.
    #[inline]
    fn waiter(&self) -> Option<&Arc<Waiter>> {
        match self {
            Who::Idle(_) => None,
            Who::Waiting(w) => Some(w),
        }
    }

    /// Forgets the registered waiter (its wait ended), keeping its waker.
    #[inline]
    /// The waiter goes back to the thread's spare if nobody else holds it
    /// ([`Waiter::recycle`]).
    fn clear(&mut self) {
        if let Who::Waiting(w) = self {
            let waker = match Waiter::take_task_waker(w) {
                Some(k) => k,
                None => w.task_waker().clone(),
            };
            if let Who::Waiting(w) = std::mem::replace(self, Who::Idle(waker)) {
                Waiter::recycle(w);
            }
        }
    }
}

/// A receive's poll: the channel and its value (`None`: closed and
/// drained), or why the wait gave up.
type RecvPoll<T> = Poll<Result<(usize, Option<T>), GiveUp>>;

/// A send's poll: sent, or the value back (closed), or why it gave up.
type SendPoll<T> = Poll<Result<Result<(), T>, GiveUp>>;

/// In [`TaskWait::start`]: the operation sends.
const SEND_BIT: u32 = 1 << 31;

/// A position or count among a wait's channels, as stored.
#[inline]
fn narrow(n: usize) -> u32 {
    debug_assert!(n < SEND_BIT as usize, "a wait on more than 2^31 channels");
    n as u32
}

/// What only a select's wait has.
struct More<T> {
    /// The other channels.
    rest: Vec<Channel<T>>,
    /// A mixed select's side per case (empty: `side` for every channel).
    sides: Vec<Side>,
}

impl<T> std::fmt::Debug for TaskWait<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskWait")
            .field("channels", &(1 + self.rest().len()))
            .field("registered", &self.registered)
            .finish()
    }
}

/// The shared value slot of a finished single-channel wait on an
/// unbuffered channel, kept for a later wait ([`TaskWait::take_spare`],
/// [`TaskWait::recv_reusing`]): a task that parks in a loop on unbuffered
/// channels (a ping-pong) allocates no slot per park.
pub struct SpareSlot<T>(Arc<Slots<T>>);

impl<T> TaskWait<T> {
    fn new(
        first: Channel<T>,
        rest: Vec<Channel<T>>,
        side: Side,
        start: usize,
        waker: Waker,
    ) -> Self {
        TaskWait::new_reusing(first, rest, side, start, waker, &mut None)
    }

    /// [`TaskWait::new`], taking the slot of a single unbuffered channel's
    /// wait from `spare` if there is one.
    fn new_reusing(
        first: Channel<T>,
        rest: Vec<Channel<T>>,
        side: Side,
        start: usize,
        waker: Waker,
        spare: &mut Option<SpareSlot<T>>,
    ) -> Self {
        debug_assert!(start <= rest.len());
        let n = 1 + rest.len();
        let more = (!rest.is_empty()).then(|| {
            Box::new(More {
                rest,
                sides: Vec::new(),
            })
        });
        let slots = if n == 1 && first.shared.capacity != 0 {
            None
        } else if let (1, Some(SpareSlot(slot))) = (n, spare.take()) {
            Some(slot)
        } else {
            Some(Arc::new(Mutex::new((0..n).map(|_| None).collect())))
        };
        let send = if side == Side::Send { SEND_BIT } else { 0 };
        TaskWait {
            first,
            more,
            slots,
            start: narrow(start) | send,
            who: Who::Idle(waker),
            registered: 0,
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

    /// [`TaskWait::recv`] (`send`: [`TaskWait::send`]) that takes its
    /// value slot from `spare` if it needs one (an unbuffered channel) and
    /// one is there.
    pub fn recv_reusing(ch: &Channel<T>, waker: Waker, spare: &mut Option<SpareSlot<T>>) -> Self {
        TaskWait::new_reusing(ch.clone(), Vec::new(), Side::Recv, 0, waker, spare)
    }

    /// [`TaskWait::send`] with a spare slot: see [`TaskWait::recv_reusing`].
    pub fn send_reusing(ch: &Channel<T>, waker: Waker, spare: &mut Option<SpareSlot<T>>) -> Self {
        TaskWait::new_reusing(ch.clone(), Vec::new(), Side::Send, 0, waker, spare)
    }

    /// After the wait ended (its poll was ready): its value slot, if it is
    /// a single-channel wait's, empty and shared with nobody any more (no
    /// channel lists the wait, no peer holds it), for a later wait.
    pub fn take_spare(&mut self) -> Option<SpareSlot<T>> {
        if self.more.is_some() || self.who.waiter().is_some() {
            return None;
        }
        let slot = self.slots.as_mut()?;
        // (Unshared: the lock is uncontended.)
        let empty = matches!(&*Arc::get_mut(slot)?.lock(), SlotList::One(None));
        if empty {
            self.slots.take().map(SpareSlot)
        } else {
            None
        }
    }

    /// A wait to receive from whichever of `chans` is ready first (not
    /// empty), scanning from `start`.
    /// `chans` must not be empty.
    pub fn select(mut chans: Vec<Channel<T>>, start: usize, waker: Waker) -> Self {
        let n = chans.len().max(1);
        let first = chans.remove(0);
        TaskWait::new(first, chans, Side::Recv, start % n, waker)
    }

    /// A wait on a mixed select's cases: case `i` receives from
    /// `chans[i]` or sends `offers[i]` on it, as `sides[i]` says
    /// ([`select_cases`](super::select_cases)), scanning from `start`.
    /// `chans` must not be empty.
    pub fn cases(
        chans: Vec<Channel<T>>,
        sides: Vec<Side>,
        offers: Vec<Option<T>>,
        start: usize,
        waker: Waker,
    ) -> Self {
        debug_assert!(sides.len() == chans.len() && offers.len() == chans.len());
        let mut chans = chans;
        let n = chans.len().max(1);
        let first = chans.remove(0);
        let mut wait = TaskWait::new(first, Vec::new(), Side::Recv, 0, waker);
        wait.start = narrow(start % n);
        debug_assert!(wait.side() == Side::Recv);
        wait.more = Some(Box::new(More { rest: chans, sides }));
        wait.slots = Some(Arc::new(Mutex::new(offers.into())));
        wait
    }

    /// Where the scan over the channels starts.
    #[inline]
    fn start(&self) -> usize {
        (self.start & !SEND_BIT) as usize
    }

    /// The side of a single-channel operation (a select's default side).
    #[inline]
    fn side(&self) -> Side {
        if self.start & SEND_BIT != 0 {
            Side::Send
        } else {
            Side::Recv
        }
    }

    /// A select's other channels (empty for a single-channel operation).
    fn rest(&self) -> &[Channel<T>] {
        self.more.as_deref().map_or(&[], |m| &m.rest)
    }

    fn sides(&self) -> Sides<'_> {
        match self.more.as_deref() {
            Some(m) if !m.sides.is_empty() => Sides::Each(&m.sides),
            _ => Sides::All(self.side()),
        }
    }

    /// One step of a mixed select's wait ([`TaskWait::cases`]): the case
    /// performed and what it did.
    pub fn poll_cases(
        &mut self,
        give_up: Option<GiveUp>,
    ) -> Poll<Result<(usize, Selected<T>), GiveUp>> {
        let sides = self
            .more
            .as_mut()
            .map(|m| std::mem::take(&mut m.sides))
            .unwrap_or_default();
        let r = {
            let mut perform = perform_case(&sides);
            self.poll_inner(Sides::Each(&sides), give_up, &mut None, &mut perform)
        };
        if let Some(m) = self.more.as_mut() {
            m.sides = sides;
        }
        r
    }

    /// One step of the wait: `perform` runs on a ready channel (then
    /// `Ready(Ok)`), or the waiter is (still) registered (`Pending`: park),
    /// or the wait gave up (`Ready(Err)`, only with `give_up`).
    fn poll_with<R>(
        &mut self,
        give_up: Option<GiveUp>,
        perform: &mut Perform<'_, T, R>,
    ) -> Poll<Result<(usize, R), GiveUp>> {
        let side = self.side();
        self.poll_inner(Sides::All(side), give_up, &mut None, perform)
    }

    /// [`poll_loop`](Self::poll_loop) with the wait's slots: its shared
    /// ones, or (a single buffered channel) one on the stack holding
    /// `scratch` (a send's value) for this poll, handed back after it.
    fn poll_inner<R>(
        &mut self,
        sides: Sides<'_>,
        give_up: Option<GiveUp>,
        scratch: &mut Option<T>,
        perform: &mut Perform<'_, T, R>,
    ) -> Poll<Result<(usize, R), GiveUp>> {
        match self.slots.take() {
            Some(shared) => {
                let r = self.poll_loop(sides, give_up, &shared, Some(&shared), perform);
                self.slots = Some(shared);
                r
            }
            None => {
                let local = Mutex::new(SlotList::one(scratch.take()));
                let r = self.poll_loop(sides, give_up, &local, None, perform);
                *scratch = local.into_inner().take_first();
                r
            }
        }
    }

    fn poll_loop<R>(
        &mut self,
        sides: Sides<'_>,
        give_up: Option<GiveUp>,
        slots: &Slots<T>,
        share: Option<&Arc<Slots<T>>>,
        perform: &mut Perform<'_, T, R>,
    ) -> Poll<Result<(usize, R), GiveUp>> {
        let one;
        let many: Vec<&Channel<T>>;
        let chans: &[&Channel<T>] = match self.more.as_deref() {
            None => {
                one = [&self.first];
                &one
            }
            Some(m) => {
                many = std::iter::once(&self.first).chain(&m.rest).collect();
                &many
            }
        };
        loop {
            // (Borrowed, not cloned: no reference count per poll.)
            if let Some(w) = self.who.waiter() {
                if let Some(why) = give_up {
                    let code = match why {
                        GiveUp::Timeout => TIMED_OUT,
                        GiveUp::Cancelled => INTERRUPTED,
                    };
                    // Fails if a channel claimed us first: honour that.
                    w.try_abort(code);
                }
                let settled = settle(
                    chans,
                    sides,
                    self.start(),
                    self.registered as usize,
                    w,
                    slots,
                    perform,
                );
                match settled {
                    Settled::Waiting => return Poll::Pending,
                    Settled::Done(j, out) => {
                        self.who.clear();
                        return Poll::Ready(Ok((j, out)));
                    }
                    Settled::Aborted(abort) => {
                        self.who.clear();
                        return Poll::Ready(Err(abort.into()));
                    }
                    Settled::Retry(next) => {
                        self.who.clear();
                        self.registered = 0;
                        self.start = narrow(next) | (self.start & SEND_BIT);
                    }
                }
            }
            let mut waiter = None;
            let mut registered = 0;
            // (`Idle` here: the last registration was settled above.)
            let waker = self.who.task_waker();
            let make = || Waiter::for_task(waker.clone());
            let r = register(
                chans,
                sides,
                self.start(),
                &mut waiter,
                &mut registered,
                &make,
                slots,
                share,
                perform,
            );
            if let Some(w) = waiter {
                self.who = Who::Waiting(w);
            }
            self.registered = narrow(registered);
            match r {
                Registered::Done(i, out) => {
                    self.who.clear();
                    return Poll::Ready(Ok((i, out)));
                }
                Registered::Retry(next) => {
                    self.who.clear();
                    self.registered = 0;
                    self.start = narrow(next) | (self.start & SEND_BIT);
                    if let Some(why) = give_up {
                        return Poll::Ready(Err(why));
                    }
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
        // No shared slots and no other channel: one buffered channel.
        if give_up.is_none()
            && self.slots.is_none()
            && self.more.is_none()
            && self.side() == Side::Recv
        {
            if let Some(r) = self.poll_recv_buffered() {
                return r;
            }
        } else if give_up.is_none()
            && self.more.is_none()
            && self.side() == Side::Recv
            && self.first.shared.capacity == 0
        {
            if let Some(r) = self.poll_recv_unbuffered() {
                return r;
            }
        }
        self.poll_with(give_up, &mut super::pop)
    }

    /// The end of a fast path's `register`: `w`, just queued on the first
    /// channel, is this wait's one live registration.
    #[inline]
    fn now_waiting<R>(&mut self, w: Arc<Waiter>) -> Option<Poll<R>> {
        self.who = Who::Waiting(w);
        self.registered = 1;
        Some(Poll::Pending)
    }

    /// [`poll_recv`](Self::poll_recv) on one buffered channel with nothing
    /// to give up for: the steps of `poll_loop` with `register` and
    /// `settle` written out for that case (speed only: a task parked in a
    /// receive, the commonest wait, skips the general path's slot on the
    /// stack, channel list and step closure). `None` (nothing done) for an
    /// outcome only the general path handles (an abort).
    #[inline]
    fn poll_recv_buffered(&mut self) -> Option<RecvPoll<T>> {
        let shared = &*self.first.shared;
        debug_assert!(shared.capacity != 0 && self.start() == 0);
        if let Who::Waiting(w) = &self.who {
            match w.outcome() {
                // A spurious wake: still registered.
                Outcome::Waiting => return Some(Poll::Pending),
                // `settle`: arrive, take a value if one is left, pass the
                // wake on.
                Outcome::Claimed(0) => {
                    let mut st = shared.state.lock();
                    st.waiters(Side::Recv).arrived();
                    let out = if st.ready(Side::Recv, shared.capacity) {
                        Some(st.queue.pop_front())
                    } else {
                        None
                    };
                    shared.release(st);
                    self.who.clear();
                    self.registered = 0;
                    if let Some(v) = out {
                        return Some(Poll::Ready(Ok((0, v))));
                    }
                    // Someone else took it first: register again.
                }
                _ => return None,
            }
        }
        // `register` (with no live registration): take a value now, or
        // queue the waiter.
        let mut st = shared.state.lock();
        if st.ready(Side::Recv, shared.capacity) {
            let v = st.queue.pop_front();
            shared.release(st);
            return Some(Poll::Ready(Ok((0, v))));
        }
        let w = Waiter::for_task(self.who.task_waker().clone());
        st.waiters(Side::Recv).push(&w, 0, None);
        drop(st);
        self.now_waiting(w)
    }

    /// [`poll_recv`](Self::poll_recv) on one unbuffered channel with
    /// nothing to give up for: the steps of `poll_loop` with `settle`, and
    /// `register` when no sender waits, written out for that case (speed
    /// only: the parked receive of a ping-pong). A value a sender handed
    /// over (in the shared slot) is taken from the slot directly; the
    /// general path moves it to the front of the empty-or-not queue and
    /// pops it back, which leaves the queue as it was and gives the same
    /// value. `None` (nothing done) where the general path must act: an
    /// abort, a closed channel, a value left queued, or a waiting sender to
    /// take the offer of.
    #[inline]
    fn poll_recv_unbuffered(&mut self) -> Option<RecvPoll<T>> {
        let shared = &*self.first.shared;
        let slots = self.slots.as_ref()?;
        debug_assert!(shared.capacity == 0 && self.side() == Side::Recv && self.start() == 0);
        if let Who::Waiting(w) = &self.who {
            match w.outcome() {
                // A spurious wake: still registered.
                Outcome::Waiting => return Some(Poll::Pending),
                // `settle`: arrive; the value handed over, or (none: the
                // claim came from the wake rule) a queued value or the
                // close if there is one; pass the wake on.
                Outcome::Claimed(0) => {
                    let mut st = shared.state.lock();
                    st.waiters(Side::Recv).arrived();
                    let handed = slots.lock()[0].take();
                    let out = match handed {
                        Some(v) => Some(Some(v)),
                        None if st.ready(Side::Recv, 0) => Some(st.queue.pop_front()),
                        None => None,
                    };
                    shared.release(st);
                    self.who.clear();
                    self.registered = 0;
                    if let Some(v) = out {
                        return Some(Poll::Ready(Ok((0, v))));
                    }
                    // Someone else took it first: register again.
                }
                _ => return None,
            }
        }
        // `register` when the step is not ready (open, nothing queued, no
        // live sender): queue the waiter with the shared (empty) slot a
        // sender hands its value to.
        let mut st = shared.state.lock();
        if st.closed || !st.queue.is_empty() || st.waiters(Side::Send).has_live_peer(None) {
            return None;
        }
        let w = Waiter::for_task(self.who.task_waker().clone());
        st.waiters(Side::Recv).push(&w, 0, Some(slots));
        drop(st);
        self.now_waiting(w)
    }

    /// Receives 1..=`max` values; an empty list once closed and drained.
    pub fn poll_recv_batch(
        &mut self,
        max: NonZeroUsize,
        give_up: Option<GiveUp>,
    ) -> Poll<Result<Vec<T>, GiveUp>> {
        self.poll_with(give_up, &mut |_, st, _| {
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
        let Some(shared) = &self.slots else {
            // A buffered channel: the value waits in `slot` between polls.
            let side = self.side();
            return self
                .poll_inner(Sides::All(side), give_up, slot, &mut super::push)
                .map(|r| r.map(|(_, sent)| sent));
        };
        // An unbuffered channel: the value waits in the shared slot, where
        // a receiver that claims this wait takes it.
        if let Some(v) = slot.take() {
            shared.lock()[0] = Some(v);
        }
        let fast = if give_up.is_none() && self.more.is_none() {
            self.poll_send_unbuffered()
        } else {
            None
        };
        let r = match fast {
            Some(r) => r,
            None => self
                .poll_with(give_up, &mut super::push)
                .map(|r| r.map(|(_, sent)| sent)),
        };
        if r.is_ready() {
            if let Some(shared) = &self.slots {
                *slot = shared.lock()[0].take();
            }
        }
        r
    }

    /// [`poll_send`](Self::poll_send) on one unbuffered channel with
    /// nothing to give up for, the offer already in the shared slot: the
    /// steps of `poll_loop` with `settle`, and `register` when no receiver
    /// waits, written out for that case (speed only: the parked send of a
    /// ping-pong). `None` (nothing done) where the general path must act:
    /// an abort, a closed channel or a waiting receiver to hand off to.
    #[inline]
    fn poll_send_unbuffered(&mut self) -> Option<SendPoll<T>> {
        let shared = &*self.first.shared;
        let slots = self.slots.as_ref()?;
        debug_assert!(shared.capacity == 0 && self.side() == Side::Send);
        if let Who::Waiting(w) = &self.who {
            match w.outcome() {
                // A spurious wake: still registered.
                Outcome::Waiting => return Some(Poll::Pending),
                // `settle`: arrive; sent if a receiver took the offer (or
                // handed back if the channel was closed); pass the wake on.
                Outcome::Claimed(0) => {
                    let mut st = shared.state.lock();
                    st.waiters(Side::Send).arrived();
                    let out = {
                        let mut list = slots.lock();
                        let slot = &mut list[0];
                        if slot.is_none() || st.closed {
                            Some(super::push(0, &mut st, slot))
                        } else {
                            None
                        }
                    };
                    shared.release(st);
                    self.who.clear();
                    self.registered = 0;
                    if let Some(out) = out {
                        return Some(Poll::Ready(Ok(out)));
                    }
                    // Not taken: register again.
                }
                _ => return None,
            }
        }
        // `register` when the step is not ready (open, no live receiver):
        // queue the waiter with the shared slot holding the offer.
        let mut st = shared.state.lock();
        if st.closed || st.waiters(Side::Recv).has_live_peer(None) {
            return None;
        }
        let w = Waiter::for_task(self.who.task_waker().clone());
        st.waiters(Side::Send).push(&w, 0, Some(slots));
        drop(st);
        self.now_waiting(w)
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
        if capacity == 0 {
            return self.poll_send_each(rest, sent, give_up);
        }
        loop {
            let step = self.poll_with(give_up, &mut |_, st, _| {
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

impl<T> TaskWait<T> {
    /// Puts `v` in the first shared slot (an unbuffered channel's wait
    /// always has shared slots).
    fn shared_slot(&mut self, v: T) {
        let slots = self
            .slots
            .get_or_insert_with(|| Arc::new(Mutex::new(SlotList::one(None))));
        slots.lock()[0] = Some(v);
    }

    /// `poll_send_batch` on an unbuffered channel: one hand-off per item;
    /// the item in flight waits in the wait's slot.
    #[cold]
    fn poll_send_each(
        &mut self,
        rest: &mut VecDeque<T>,
        sent: &mut usize,
        give_up: Option<GiveUp>,
    ) -> Poll<Result<bool, GiveUp>> {
        loop {
            let in_flight = self.who.waiter().is_some();
            if !in_flight {
                match rest.pop_front() {
                    Some(v) => self.shared_slot(v),
                    None => return Poll::Ready(Ok(true)),
                }
            }
            let r = self.poll_with(give_up, &mut super::push);
            match r {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok((_, Ok(())))) => *sent += 1,
                Poll::Ready(Ok((_, Err(v)))) => {
                    rest.push_front(v);
                    return Poll::Ready(Ok(false));
                }
                Poll::Ready(Err(why)) => {
                    if let Some(v) = self.slots.as_ref().and_then(|s| s.lock()[0].take()) {
                        rest.push_front(v);
                    }
                    return Poll::Ready(Err(why));
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
        let Some(w) = self.who.waiter().cloned() else {
            return;
        };
        let chans: Vec<&Channel<T>> = std::iter::once(&self.first).chain(self.rest()).collect();
        let sides = self.sides();
        if w.try_abort(INTERRUPTED) {
            unregister(&chans, sides, self.start(), self.registered as usize, &w);
            return;
        }
        // Claimed: arrive, take nothing, pass the wake on (a value handed
        // over by an unbuffered channel's sender stays queued there for
        // the next receiver).
        let local;
        let slots: &Slots<T> = match &self.slots {
            Some(shared) => shared,
            None => {
                local = Mutex::new(SlotList::one(None));
                &local
            }
        };
        let _ = settle(
            &chans,
            sides,
            self.start(),
            self.registered as usize,
            &w,
            slots,
            &mut |_, _: &mut State<T>, _| (),
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
        if shared.capacity == 0 {
            let pulled = chans[i].pull(&mut st);
            if st.ready(Side::Recv, 0) {
                let v = st.queue.pop_front();
                shared.release(st);
                if let Some(w) = pulled {
                    w.unpark();
                }
                return Some((i, v));
            }
            drop(st);
            if let Some(w) = pulled {
                w.unpark();
            }
            continue;
        }
        if st.ready(Side::Recv, shared.capacity) {
            let v = st.queue.pop_front();
            shared.release(st);
            return Some((i, v));
        }
    }
    None
}
