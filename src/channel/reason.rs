//! What a channel offers a stage of a pipeline (the `parallel_*` calls over
//! channels) beyond the basic operations, all built on the same wait
//! (`Channel::run`, so they follow `README.md`'s protocol unchanged):
//!
//! - **Close with a reason** ([`Channel::close_with`]): closes the channel
//!   and records why (for a Weft channel, the error of the stage that
//!   produced it). Receivers drain what is queued and then see "closed"
//!   as usual; [`Channel::close_reason`] tells them why. The reason is
//!   stored before `closed` is set, under the channel's lock, so a
//!   receiver that sees "closed" always sees the reason too.
//! - **Wait for room** ([`Channel::wait_for_room`]): waits, as a sender
//!   would, until the channel has free space or is closed, without sending
//!   anything. It registers as a sender and is woken by the sender wake
//!   rule; if it is claimed and returns without sending, it runs the wake
//!   rule like any claimed sender, so no other sender's wakeup is lost.
//! - **Batch receive with a deadline** ([`Channel::recv_batch_deadline`]),
//!   and without waiting ([`Channel::try_recv_batch`]).

use std::num::NonZeroUsize;
use std::time::Instant;

use super::error::Abort;
use super::state::Side;
use super::{Channel, Interrupt, RecvTimeoutError, SendTimeoutError, TryRecvError};

impl<T> Channel<T> {
    /// Closes the channel as [`close`](Channel::close) does, recording
    /// `reason` for receivers ([`close_reason`](Channel::close_reason)).
    /// Returns `false` (and records nothing) if it was already closed.
    pub fn close_with(&self, reason: T) -> bool {
        {
            let mut st = self.shared.state.lock();
            if st.closed {
                return false;
            }
            st.reason = Some(Box::new(reason));
        }
        // Another thread may close in between: the reason stays, and
        // receivers see it either way.
        self.close();
        true
    }

    /// Why the channel was closed, if it was closed with
    /// [`close_with`](Channel::close_with).
    pub fn close_reason(&self) -> Option<T>
    where
        T: Clone,
    {
        self.shared.state.lock().reason.as_deref().cloned()
    }

    /// Waits until the channel has room for a value (or is closed), until
    /// `deadline` at most, without sending. `Err(Closed(()))` once closed.
    pub fn wait_for_room(
        &self,
        deadline: Option<Instant>,
        interrupt: Option<&dyn Interrupt>,
    ) -> Result<(), SendTimeoutError<()>> {
        if self.is_unbuffered() {
            // Never room: an unbuffered channel only hands values over.
            return if self.is_closed() {
                Err(SendTimeoutError::Closed(()))
            } else {
                Ok(())
            };
        }
        match self
            .run(Side::Send, deadline, interrupt, None, &mut |_, st, _| {
                st.closed
            })
            .0
        {
            Ok(false) => Ok(()),
            Ok(true) => Err(SendTimeoutError::Closed(())),
            Err(Abort::Timeout) => Err(SendTimeoutError::Timeout(())),
            Err(Abort::Cancelled) => Err(SendTimeoutError::Cancelled(())),
        }
    }

    /// As [`recv_batch`](Channel::recv_batch), waiting until `deadline` at
    /// most (`None`: no limit).
    pub fn recv_batch_deadline(
        &self,
        max: NonZeroUsize,
        deadline: Option<Instant>,
        interrupt: Option<&dyn Interrupt>,
    ) -> Result<Vec<T>, RecvTimeoutError> {
        let (taken, _) = self.run(Side::Recv, deadline, interrupt, None, &mut |_, st, _| {
            let n = max.get().min(st.queue.len());
            st.queue.drain(..n).collect::<Vec<T>>()
        });
        match taken {
            Ok(batch) if batch.is_empty() => Err(RecvTimeoutError::Closed),
            Ok(batch) => Ok(batch),
            Err(abort) => Err(abort.into()),
        }
    }
}

impl<T> Channel<T> {
    /// Up to `max` queued values, in order, under one lock, without
    /// waiting: `Empty` if none is queued, `Closed` once closed and drained.
    pub fn try_recv_batch(&self, max: NonZeroUsize) -> Result<Vec<T>, TryRecvError> {
        let shared = &*self.shared;
        let mut st = shared.state.lock();
        let pulled = self.pull(&mut st);
        if st.queue.is_empty() {
            drop(st);
            if let Some(w) = pulled {
                w.unpark();
            }
            return Err(if self.is_closed() {
                TryRecvError::Closed
            } else {
                TryRecvError::Empty
            });
        }
        let n = max.get().min(st.queue.len());
        let batch: Vec<T> = st.queue.drain(..n).collect();
        shared.release(st);
        if let Some(w) = pulled {
            w.unpark();
        }
        Ok(batch)
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::num::NonZeroUsize;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::super::{Channel, RecvError, RecvTimeoutError, SendTimeoutError, TryRecvError};

    #[test]
    fn a_reason_is_seen_after_the_queue_is_drained() {
        let ch = Channel::unbounded();
        ch.send(1, None).unwrap();
        ch.send(2, None).unwrap();
        assert!(ch.close_with(-1));
        assert!(!ch.close_with(-2), "already closed");
        assert_eq!(ch.recv(None), Ok(1));
        assert_eq!(ch.recv(None), Ok(2));
        assert_eq!(ch.recv(None), Err(RecvError::Closed));
        assert_eq!(ch.close_reason(), Some(-1));
        // A plain close records nothing.
        let plain: Channel<i32> = Channel::unbounded();
        plain.close();
        assert!(!plain.close_with(5));
        assert_eq!(plain.close_reason(), None);
    }

    #[test]
    fn close_with_wakes_a_parked_receiver_that_then_sees_the_reason() {
        let ch: Channel<&str> = Channel::unbounded();
        let rx = ch.clone();
        let t = thread::spawn(move || (rx.recv(None), rx.close_reason()));
        while ch.waiting_receivers() == 0 {
            thread::yield_now();
        }
        ch.close_with("boom");
        let (got, why) = t.join().unwrap();
        assert_eq!(got, Err(RecvError::Closed));
        assert_eq!(why, Some("boom"));
    }

    #[test]
    fn wait_for_room_returns_once_a_value_is_taken() {
        let ch = Channel::bounded(2).unwrap();
        ch.send(1, None).unwrap();
        // Room now: returns at once.
        assert_eq!(ch.wait_for_room(None, None), Ok(()));
        ch.send(2, None).unwrap();
        // Full: times out.
        let soon = Instant::now() + Duration::from_millis(20);
        assert_eq!(
            ch.wait_for_room(Some(soon), None),
            Err(SendTimeoutError::Timeout(()))
        );
        assert_eq!(ch.len(), 2, "waiting sends nothing");
        let rx = ch.clone();
        let t = thread::spawn(move || {
            while rx.waiting_senders() == 0 {
                thread::yield_now();
            }
            rx.recv(None)
        });
        assert_eq!(ch.wait_for_room(None, None), Ok(()));
        assert_eq!(t.join().unwrap(), Ok(1));
        // A real sender parked beside a room-waiter still gets its wakeup.
        ch.send(3, None).unwrap();
        let tx = ch.clone();
        let sender = thread::spawn(move || tx.send(4, None));
        while ch.waiting_senders() == 0 {
            thread::yield_now();
        }
        assert_eq!(ch.recv(None), Ok(2));
        sender.join().unwrap().unwrap();
        assert_eq!(ch.recv(None), Ok(3));
        assert_eq!(ch.recv(None), Ok(4));
        ch.close();
        assert_eq!(
            ch.wait_for_room(None, None),
            Err(SendTimeoutError::Closed(()))
        );
    }

    #[test]
    fn try_recv_batch_never_waits_and_frees_room_for_a_parked_sender() {
        let two = NonZeroUsize::new(2).unwrap();
        let ch = Channel::bounded(3).unwrap();
        assert_eq!(ch.try_recv_batch(two), Err(TryRecvError::Empty));
        ch.send_batch(vec![1, 2, 3], None).unwrap();
        let tx = ch.clone();
        let sender = thread::spawn(move || tx.send(4, None));
        while ch.waiting_senders() == 0 {
            thread::yield_now();
        }
        assert_eq!(ch.try_recv_batch(two), Ok(vec![1, 2]));
        sender.join().unwrap().unwrap();
        assert_eq!(ch.try_recv_batch(two), Ok(vec![3, 4]));
        ch.close();
        assert_eq!(ch.try_recv_batch(two), Err(TryRecvError::Closed));
    }

    #[test]
    fn recv_batch_deadline_takes_what_is_there_or_times_out() {
        let ch = Channel::unbounded();
        let three = NonZeroUsize::new(3).unwrap();
        let soon = || Some(Instant::now() + Duration::from_millis(20));
        assert_eq!(
            ch.recv_batch_deadline(three, soon(), None),
            Err(RecvTimeoutError::Timeout)
        );
        ch.send_batch(vec![1, 2, 3, 4], None).unwrap();
        assert_eq!(
            ch.recv_batch_deadline(three, soon(), None),
            Ok(vec![1, 2, 3])
        );
        ch.close();
        assert_eq!(ch.recv_batch_deadline(three, None, None), Ok(vec![4]));
        assert_eq!(
            ch.recv_batch_deadline(three, None, None),
            Err(RecvTimeoutError::Closed)
        );
    }
}
