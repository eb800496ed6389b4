//! Unit tests: every operation's success and failure paths.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).expect("test passes n > 0")
}

/// Spins (yielding) until `cond` holds; fails the test after 20 s so a lost
/// wakeup shows up as a failure, not a hang. Never used to assert timing.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never happened: {what}"
        );
        thread::yield_now();
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

// ---- construction ----

#[test]
fn capacity_zero_is_an_error() {
    assert_eq!(Channel::<i32>::bounded(0).unwrap_err(), CapacityError);
    assert_eq!(Channel::<i32>::new(Some(0)).unwrap_err(), CapacityError);
    assert_eq!(
        CapacityError.to_string(),
        "channel capacity must be at least 1"
    );
}

#[test]
fn capacities() {
    assert_eq!(Channel::<i32>::bounded(1).unwrap().capacity(), Some(1));
    assert_eq!(Channel::<i32>::new(Some(7)).unwrap().capacity(), Some(7));
    assert_eq!(Channel::<i32>::unbounded().capacity(), None);
    assert_eq!(Channel::<i32>::new(None).unwrap().capacity(), None);
    assert_eq!(Channel::<i32>::default().capacity(), None);
    // A huge capacity does not allocate up front.
    let huge = Channel::<u8>::bounded(usize::MAX - 1).unwrap();
    huge.send(1, None).unwrap();
    assert_eq!(huge.try_recv(), Ok(1));
}

// ---- send / recv ----

#[test]
fn fifo_order_and_len() {
    let ch = Channel::unbounded();
    assert!(ch.is_empty());
    for i in 0..10 {
        ch.send(i, None).unwrap();
    }
    assert_eq!(ch.len(), 10);
    for i in 0..10 {
        assert_eq!(ch.recv(None), Ok(i));
    }
    assert!(ch.is_empty());
}

#[test]
#[cfg_attr(miri, ignore = "200,000 values: minutes under Miri")]
fn an_emptied_queue_gives_its_memory_back() {
    let ch = Channel::unbounded();
    ch.send_batch((0..200_000).collect(), None).unwrap();
    assert!(ch.shared.state.lock().queue.capacity() >= 200_000);
    assert_eq!(
        ch.recv_batch(nz(200_000), None).map(|b| b.len()),
        Ok(200_000)
    );
    let capacity = ch.shared.state.lock().queue.capacity();
    assert!(capacity < 200_000, "kept room for {capacity}");
    ch.send(1, None).unwrap();
    assert_eq!(ch.recv(None), Ok(1));
}

#[test]
fn an_empty_channel_costs_a_few_hundred_bytes() {
    // A million tasks may each hold a channel (issue 8: about 20 KB each
    // used to be preallocated). An unbounded channel allocates no queue
    // until a value arrives, and its shared block is small.
    let ch: Channel<crate::value::Value> = Channel::unbounded();
    assert_eq!(ch.shared.state.lock().queue.capacity(), 0);
    let shared = std::mem::size_of::<Shared<crate::value::Value>>();
    // 144 B: with its reference counts in mimalloc's 160 B size class.
    assert!(
        shared <= 144,
        "an empty channel's shared block is {shared} bytes"
    );
    // A bounded one makes room for a few values only, however large its
    // capacity.
    let big: Channel<crate::value::Value> = Channel::bounded(1_000_000).unwrap();
    assert!(big.shared.state.lock().queue.capacity() <= 16);
    assert_eq!(big.capacity(), Some(1_000_000));
    assert_eq!(big.len(), 0);
    assert!(big.is_empty());
}

#[test]
fn a_parked_wait_on_one_channel_stays_small() {
    // A parked task's channel wait is part of every parked task (issue 8).
    // Figures of this commit; raise them only with a reason.
    use crate::value::Value;
    let wait = std::mem::size_of::<TaskWait<Value>>();
    // 48 B: the waker and the registered waiter share a word (`Who`).
    assert!(wait <= 48, "a task's wait is {wait} bytes");
    // One slot inline: a single-channel operation allocates no slot list.
    let slots = std::mem::size_of::<waiter::SlotList<Value>>();
    assert!(slots <= 24, "{slots}");
    let mut one = waiter::SlotList::one(Some(Value::Int(7)));
    assert_eq!(one[0], Some(Value::Int(7)));
    assert_eq!(one.take_first(), Some(Value::Int(7)));
    assert_eq!(one[0], None);
    // Many: a select's, indexed per case, and back to a Vec unchanged.
    let many: waiter::SlotList<Value> = vec![None, Some(Value::Int(2)), None].into();
    assert_eq!(many[1], Some(Value::Int(2)));
    let back: Vec<Option<Value>> = many.into();
    assert_eq!(back, vec![None, Some(Value::Int(2)), None]);
}

#[test]
#[should_panic(expected = "slot 1 of a single-slot operation")]
fn a_single_slot_has_no_second_slot() {
    let one: waiter::SlotList<crate::value::Value> = waiter::SlotList::one(None);
    let _ = &one[1];
}

#[test]
fn clones_share_the_channel() {
    let a = Channel::unbounded();
    let b = a.clone();
    assert!(a.same_channel(&b));
    assert!(!a.same_channel(&Channel::unbounded()));
    a.send(5, None).unwrap();
    assert_eq!(b.recv(None), Ok(5));
    b.close();
    assert!(a.is_closed());
}

#[test]
fn send_on_closed_hands_the_value_back() {
    let ch = Channel::unbounded();
    assert!(ch.close());
    let err = ch.send(String::from("kept"), None).unwrap_err();
    assert!(matches!(err, SendError::Closed(_)));
    assert_eq!(err.to_string(), "sending on a closed channel");
    assert_eq!(err.into_inner(), "kept");
    assert_eq!(
        ch.try_send(1.to_string()).unwrap_err(),
        TrySendError::Closed("1".into())
    );
    let err = ch.send_timeout(2.to_string(), ms(1), None).unwrap_err();
    assert_eq!(err, SendTimeoutError::Closed("2".into()));
}

#[test]
fn close_is_idempotent_and_drains_first() {
    let ch = Channel::bounded(4).unwrap();
    ch.send(1, None).unwrap();
    ch.send(2, None).unwrap();
    assert!(!ch.is_closed());
    assert!(ch.close());
    assert!(!ch.close());
    assert!(ch.is_closed());
    assert_eq!(ch.len(), 2);
    assert_eq!(ch.recv(None), Ok(1));
    assert_eq!(ch.try_recv(), Ok(2));
    assert_eq!(ch.recv(None), Err(RecvError::Closed));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(ch.recv_timeout(ms(1), None), Err(RecvTimeoutError::Closed));
    assert_eq!(ch.recv_batch(nz(3), None), Err(RecvError::Closed));
}

#[test]
fn try_recv_and_try_send() {
    let ch = Channel::bounded(1).unwrap();
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(ch.try_send(1), Ok(()));
    let err = ch.try_send(2).unwrap_err();
    assert_eq!(err, TrySendError::Full(2));
    assert_eq!(err.to_string(), "sending on a full channel");
    assert_eq!(err.into_inner(), 2);
    assert_eq!(ch.try_recv(), Ok(1));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn recv_timeout_times_out_and_leaves_no_registration() {
    let ch = Channel::<i32>::unbounded();
    let err = ch.recv_timeout(ms(20), None).unwrap_err();
    assert_eq!(err, RecvTimeoutError::Timeout);
    assert_eq!(err.to_string(), "timed out waiting on receive");
    assert_eq!(ch.waiting_receivers(), 0);
    // A zero timeout still takes a ready value.
    ch.send(3, None).unwrap();
    assert_eq!(ch.recv_timeout(Duration::ZERO, None), Ok(3));
    // A deadline in the past, likewise.
    ch.send(4, None).unwrap();
    assert_eq!(ch.recv_deadline(Some(Instant::now() - ms(5)), None), Ok(4));
    assert_eq!(
        ch.recv_deadline(Some(Instant::now() - ms(5)), None),
        Err(RecvTimeoutError::Timeout)
    );
    // A timeout too large to represent waits without limit (no panic).
    ch.send(5, None).unwrap();
    assert_eq!(ch.recv_timeout(Duration::MAX, None), Ok(5));
}

#[test]
fn send_timeout_on_full_hands_the_value_back() {
    let ch = Channel::bounded(1).unwrap();
    ch.send(1, None).unwrap();
    let err = ch.send_timeout(2, ms(20), None).unwrap_err();
    assert_eq!(err, SendTimeoutError::Timeout(2));
    assert_eq!(err.to_string(), "timed out waiting for space to send");
    assert_eq!(ch.waiting_senders(), 0);
    assert_eq!(ch.len(), 1);
    assert_eq!(ch.recv(None), Ok(1));
    assert_eq!(ch.send_timeout(2, ms(20), None), Ok(()));
}

#[test]
fn blocked_recv_is_woken_by_send() {
    let ch = Channel::unbounded();
    let rx = ch.clone();
    let handle = thread::spawn(move || rx.recv(None));
    eventually("receiver parks", || ch.waiting_receivers() == 1);
    ch.send(42, None).unwrap();
    assert_eq!(handle.join().unwrap(), Ok(42));
    assert_eq!(ch.waiting_receivers(), 0);
}

#[test]
fn blocked_recv_timeout_is_woken_by_send() {
    let ch = Channel::unbounded();
    let rx = ch.clone();
    let handle = thread::spawn(move || rx.recv_timeout(Duration::from_secs(60), None));
    eventually("receiver parks", || ch.waiting_receivers() == 1);
    ch.send(7, None).unwrap();
    assert_eq!(handle.join().unwrap(), Ok(7));
}

#[test]
fn blocked_send_is_woken_by_recv() {
    let ch = Channel::bounded(1).unwrap();
    ch.send(1, None).unwrap();
    let tx = ch.clone();
    let handle = thread::spawn(move || tx.send(2, None));
    eventually("sender parks", || ch.waiting_senders() == 1);
    assert_eq!(ch.len(), 1);
    assert_eq!(ch.recv(None), Ok(1));
    assert_eq!(handle.join().unwrap(), Ok(()));
    assert_eq!(ch.recv(None), Ok(2));
}

#[test]
fn close_wakes_every_blocked_receiver() {
    let ch = Channel::<i32>::unbounded();
    let handles: Vec<_> = (0..4)
        .map(|k| {
            let rx = ch.clone();
            thread::spawn(move || match k % 4 {
                0 => rx.recv(None).map(|_| ()),
                1 => rx
                    .recv_timeout(Duration::from_secs(60), None)
                    .map(|_| ())
                    .map_err(|e| {
                        assert_eq!(e, RecvTimeoutError::Closed);
                        RecvError::Closed
                    }),
                2 => rx.recv_batch(nz(8), None).map(|_| ()),
                _ => match select(&[&rx], None, None) {
                    Ok((0, None)) => Err(RecvError::Closed),
                    other => panic!("select saw {other:?}"),
                },
            })
        })
        .collect();
    eventually("receivers park", || ch.waiting_receivers() == 4);
    ch.close();
    for h in handles {
        assert_eq!(h.join().unwrap(), Err(RecvError::Closed));
    }
}

#[test]
fn close_wakes_every_blocked_sender_with_its_value() {
    let ch = Channel::bounded(2).unwrap();
    ch.send(100, None).unwrap();
    ch.send(101, None).unwrap();
    let handles: Vec<_> = (0..3)
        .map(|k| {
            let tx = ch.clone();
            thread::spawn(move || tx.send(k, None))
        })
        .collect();
    let batch = {
        let tx = ch.clone();
        thread::spawn(move || tx.send_batch(vec![7, 8, 9], None))
    };
    eventually("senders park", || ch.waiting_senders() == 4);
    ch.close();
    let mut back: Vec<i32> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap_err())
        .map(|e| {
            assert!(matches!(e, SendError::Closed(_)));
            e.into_inner()
        })
        .collect();
    back.sort();
    assert_eq!(back, vec![0, 1, 2]);
    let err = batch.join().unwrap().unwrap_err();
    assert_eq!(
        err,
        SendBatchError::Closed {
            sent: 0,
            unsent: vec![7, 8, 9]
        }
    );
    // What was queued before close is still delivered.
    assert_eq!(ch.recv(None), Ok(100));
    assert_eq!(ch.recv(None), Ok(101));
    assert_eq!(ch.recv(None), Err(RecvError::Closed));
}

// ---- interrupt ----

#[test]
fn interrupt_ends_a_blocked_recv() {
    let ch = Channel::<i32>::unbounded();
    let flag = Arc::new(InterruptFlag::new());
    let (rx, f) = (ch.clone(), Arc::clone(&flag));
    let handle = thread::spawn(move || rx.recv(Some(&*f)));
    eventually("receiver parks", || {
        ch.waiting_receivers() == 1 && flag.registered() == 1
    });
    assert!(flag.fire());
    assert!(!flag.fire());
    let err = handle.join().unwrap().unwrap_err();
    assert_eq!(err, RecvError::Cancelled);
    assert_eq!(err.to_string(), "receive cancelled while waiting");
    assert_eq!(ch.waiting_receivers(), 0);
    assert_eq!(flag.registered(), 0);
    // The channel still works for others.
    ch.send(1, None).unwrap();
    assert_eq!(ch.recv(None), Ok(1));
}

#[test]
fn interrupt_ends_a_blocked_recv_timeout_and_recv_batch() {
    let ch = Channel::<i32>::unbounded();
    let flag = Arc::new(InterruptFlag::new());
    let (rx1, f1) = (ch.clone(), Arc::clone(&flag));
    let (rx2, f2) = (ch.clone(), Arc::clone(&flag));
    let a = thread::spawn(move || rx1.recv_timeout(Duration::from_secs(60), Some(&*f1)));
    let b = thread::spawn(move || rx2.recv_batch(nz(4), Some(&*f2)));
    eventually("receivers park", || {
        ch.waiting_receivers() == 2 && flag.registered() == 2
    });
    flag.fire();
    assert_eq!(a.join().unwrap(), Err(RecvTimeoutError::Cancelled));
    assert_eq!(b.join().unwrap(), Err(RecvError::Cancelled));
    assert_eq!(flag.registered(), 0);
}

#[test]
fn interrupt_ends_a_blocked_send_with_the_value_back() {
    let ch = Channel::bounded(1).unwrap();
    ch.send(0, None).unwrap();
    let flag = Arc::new(InterruptFlag::new());
    let (tx, f) = (ch.clone(), Arc::clone(&flag));
    let handle = thread::spawn(move || tx.send(5, Some(&*f)));
    eventually("sender parks", || {
        ch.waiting_senders() == 1 && flag.registered() == 1
    });
    flag.fire();
    let err = handle.join().unwrap().unwrap_err();
    assert_eq!(err, SendError::Cancelled(5));
    assert_eq!(err.to_string(), "send cancelled while waiting for space");
    assert_eq!(ch.waiting_senders(), 0);
    assert_eq!(ch.len(), 1);
}

#[test]
fn interrupt_ends_a_blocked_batch_with_the_rest_back() {
    let ch = Channel::bounded(2).unwrap();
    let flag = Arc::new(InterruptFlag::new());
    let (tx, f) = (ch.clone(), Arc::clone(&flag));
    let handle = thread::spawn(move || tx.send_batch((0..5).collect(), Some(&*f)));
    eventually("batch parks", || {
        ch.waiting_senders() == 1 && flag.registered() == 1
    });
    flag.fire();
    let err = handle.join().unwrap().unwrap_err();
    assert_eq!(err.sent(), 2);
    assert_eq!(err.unsent(), &[2, 3, 4]);
    assert!(matches!(err, SendBatchError::Cancelled { .. }));
    assert!(err.to_string().contains("after 2 items, 3 not sent"));
    assert_eq!(err.into_unsent(), vec![2, 3, 4]);
    assert_eq!(ch.recv_batch(nz(10), None), Ok(vec![0, 1]));
}

#[test]
fn interrupt_ends_a_blocked_select() {
    let a = Channel::<i32>::unbounded();
    let b = Channel::<i32>::unbounded();
    let flag = Arc::new(InterruptFlag::new());
    let (a2, b2, f) = (a.clone(), b.clone(), Arc::clone(&flag));
    let handle = thread::spawn(move || select(&[&a2, &b2], None, Some(&*f)));
    eventually("select parks", || {
        a.waiting_receivers() == 1 && b.waiting_receivers() == 1 && flag.registered() == 1
    });
    flag.fire();
    let err = handle.join().unwrap().unwrap_err();
    assert_eq!(err, SelectError::Cancelled);
    assert_eq!(err.to_string(), "select cancelled while waiting");
    assert_eq!(a.waiting_receivers() + b.waiting_receivers(), 0);
}

#[test]
fn interrupt_fired_before_the_wait() {
    let flag = InterruptFlag::new();
    flag.fire();
    let ch = Channel::<i32>::bounded(1).unwrap();
    assert_eq!(ch.recv(Some(&flag)), Err(RecvError::Cancelled));
    assert_eq!(
        ch.recv_timeout(Duration::from_secs(60), Some(&flag)),
        Err(RecvTimeoutError::Cancelled)
    );
    assert_eq!(
        select(&[&ch], None, Some(&flag)),
        Err(SelectError::Cancelled)
    );
    // An operation that needs no wait still completes.
    ch.send(1, Some(&flag)).unwrap();
    assert_eq!(ch.send(2, Some(&flag)), Err(SendError::Cancelled(2)));
    assert_eq!(ch.recv(Some(&flag)), Ok(1));
    assert_eq!(ch.waiting_receivers() + ch.waiting_senders(), 0);
    assert_eq!(flag.registered(), 0);
}

/// An interrupt that counts registrations and calls its wake from another
/// thread, several times: wakes must be harmless when repeated or late.
struct NoisyInterrupt {
    fired: std::sync::atomic::AtomicBool,
    wakes: parking_lot::Mutex<Vec<Wake>>,
    registrations: AtomicUsize,
}

impl Interrupt for NoisyInterrupt {
    fn is_interrupted(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
    fn register(&self, wake: Wake) -> Registration<'_> {
        self.registrations.fetch_add(1, Ordering::SeqCst);
        // Kept after unregistering on purpose, to call it late.
        self.wakes.lock().push(wake);
        Registration::new(|| {})
    }
}

#[test]
fn repeated_and_late_wakes_are_harmless() {
    let noisy = Arc::new(NoisyInterrupt {
        fired: false.into(),
        wakes: parking_lot::Mutex::new(Vec::new()),
        registrations: AtomicUsize::new(0),
    });
    let ch = Channel::unbounded();
    let (rx, n) = (ch.clone(), Arc::clone(&noisy));
    let handle = thread::spawn(move || {
        let first = rx.recv(Some(&*n));
        let second = rx.recv(Some(&*n));
        (first, second)
    });
    eventually("receiver parks", || ch.waiting_receivers() == 1);
    ch.send(1, None).unwrap();
    eventually("receiver parks again", || ch.waiting_receivers() == 1);
    // Late wakes of the first wait must not end the second.
    for wake in noisy.wakes.lock().iter().take(1) {
        wake();
        wake();
    }
    ch.send(2, None).unwrap();
    assert_eq!(handle.join().unwrap(), (Ok(1), Ok(2)));
    assert_eq!(noisy.registrations.load(Ordering::SeqCst), 2);
    // Now fire for real, against a fresh wait.
    let (rx, n) = (ch.clone(), Arc::clone(&noisy));
    let handle = thread::spawn(move || rx.recv(Some(&*n)));
    eventually("receiver parks", || {
        ch.waiting_receivers() == 1 && noisy.registrations.load(Ordering::SeqCst) == 3
    });
    noisy.fired.store(true, Ordering::SeqCst);
    for wake in noisy.wakes.lock().iter() {
        wake();
    }
    assert_eq!(handle.join().unwrap(), Err(RecvError::Cancelled));
}

// ---- batches ----

#[test]
fn send_batch_unbounded_is_contiguous_and_ordered() {
    let ch = Channel::unbounded();
    ch.send(-1, None).unwrap();
    ch.send_batch((0..100).collect(), None).unwrap();
    ch.send_batch(Vec::new(), None).unwrap();
    assert_eq!(ch.len(), 101);
    assert_eq!(ch.recv(None), Ok(-1));
    assert_eq!(ch.recv_batch(nz(1000), None), Ok((0..100).collect()));
}

#[test]
fn send_batch_on_closed() {
    let ch = Channel::<i32>::unbounded();
    ch.close();
    let err = ch.send_batch(vec![1, 2], None).unwrap_err();
    assert_eq!(
        err,
        SendBatchError::Closed {
            sent: 0,
            unsent: vec![1, 2]
        }
    );
    assert!(err.to_string().contains("channel closed"));
    let err = ch.send_batch(Vec::new(), None).unwrap_err();
    assert_eq!(err.sent(), 0);
    assert!(err.unsent().is_empty());
}

#[test]
fn bounded_batch_larger_than_capacity() {
    let ch = Channel::bounded(4).unwrap();
    let tx = ch.clone();
    let handle = thread::spawn(move || tx.send_batch((0..10).collect(), None));
    eventually("batch fills the channel and parks", || {
        ch.len() == 4 && ch.waiting_senders() == 1
    });
    let mut got = Vec::new();
    while got.len() < 10 {
        got.extend(ch.recv_batch(nz(3), None).unwrap());
    }
    assert_eq!(got, (0..10).collect::<Vec<_>>());
    assert_eq!(handle.join().unwrap(), Ok(()));
}

#[test]
fn close_during_a_bounded_batch_reports_the_rest() {
    let ch = Channel::bounded(4).unwrap();
    let tx = ch.clone();
    let handle = thread::spawn(move || tx.send_batch((0..10).collect(), None));
    eventually("batch parks", || ch.len() == 4 && ch.waiting_senders() == 1);
    ch.close();
    let err = handle.join().unwrap().unwrap_err();
    assert_eq!(
        err,
        SendBatchError::Closed {
            sent: 4,
            unsent: (4..10).collect()
        }
    );
    assert_eq!(ch.recv_batch(nz(10), None), Ok(vec![0, 1, 2, 3]));
    assert_eq!(ch.recv_batch(nz(10), None), Err(RecvError::Closed));
}

#[test]
fn recv_batch_takes_at_most_max_in_order() {
    let ch = Channel::unbounded();
    ch.send_batch((0..10).collect(), None).unwrap();
    assert_eq!(ch.recv_batch(nz(3), None), Ok(vec![0, 1, 2]));
    assert_eq!(ch.recv_batch(nz(1), None), Ok(vec![3]));
    assert_eq!(ch.recv_batch(nz(100), None), Ok((4..10).collect()));
}

#[test]
fn a_parked_receiver_gets_a_whole_batch_at_once() {
    let ch = Channel::unbounded();
    let rx = ch.clone();
    let handle = thread::spawn(move || rx.recv_batch(nz(1000), None));
    eventually("receiver parks", || ch.waiting_receivers() == 1);
    ch.send_batch((0..300).collect(), None).unwrap();
    assert_eq!(handle.join().unwrap(), Ok((0..300).collect()));
}

#[test]
fn a_batch_wakes_every_parked_receiver_it_feeds() {
    // One wakeup from the sender; the woken receivers chain the rest.
    let ch = Channel::unbounded();
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let rx = ch.clone();
            thread::spawn(move || rx.recv(None))
        })
        .collect();
    eventually("receivers park", || ch.waiting_receivers() == 4);
    ch.send_batch(vec![10, 11, 12, 13], None).unwrap();
    let mut got: Vec<i32> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    got.sort();
    assert_eq!(got, vec![10, 11, 12, 13]);
}

// ---- select ----

#[test]
fn select_with_no_channels() {
    let err = select::<i32>(&[], None, None).unwrap_err();
    assert_eq!(err, SelectError::NoChannels);
    assert_eq!(err.to_string(), "select needs at least one channel");
}

#[test]
fn select_ready_channel() {
    let a = Channel::unbounded();
    let b = Channel::unbounded();
    b.send("b", None).unwrap();
    assert_eq!(select(&[&a, &b], None, None), Ok((1, Some("b"))));
    a.send("a", None).unwrap();
    assert_eq!(select(&[&a, &b], None, None), Ok((0, Some("a"))));
}

#[test]
fn select_closed_and_drained_is_none() {
    let a = Channel::<i32>::unbounded();
    let b = Channel::<i32>::unbounded();
    b.send(1, None).unwrap();
    b.close();
    assert_eq!(select(&[&a, &b], None, None), Ok((1, Some(1))));
    assert_eq!(select(&[&a, &b], None, None), Ok((1, None)));
}

#[test]
fn select_times_out() {
    let a = Channel::<i32>::unbounded();
    let b = Channel::<i32>::bounded(3).unwrap();
    let err = select(&[&a, &b], Some(Instant::now() + ms(20)), None).unwrap_err();
    assert_eq!(err, SelectError::Timeout);
    assert_eq!(err.to_string(), "timed out waiting on select");
    assert_eq!(a.waiting_receivers() + b.waiting_receivers(), 0);
}

#[test]
fn blocked_select_is_woken_by_any_channel() {
    for target in 0..3 {
        let chans: Vec<Channel<usize>> = (0..3).map(|_| Channel::unbounded()).collect();
        let theirs = chans.clone();
        let handle = thread::spawn(move || {
            let refs: Vec<&Channel<usize>> = theirs.iter().collect();
            select(&refs, Some(Instant::now() + Duration::from_secs(60)), None)
        });
        eventually("select parks", || {
            chans.iter().all(|c| c.waiting_receivers() == 1)
        });
        chans[target].send(target * 10, None).unwrap();
        assert_eq!(handle.join().unwrap(), Ok((target, Some(target * 10))));
        // It unregistered from the others.
        eventually("select unregisters", || {
            chans.iter().all(|c| c.waiting_receivers() == 0)
        });
    }
}

#[test]
fn blocked_select_is_woken_by_close() {
    let a = Channel::<i32>::unbounded();
    let b = Channel::<i32>::unbounded();
    let (a2, b2) = (a.clone(), b.clone());
    let handle = thread::spawn(move || select(&[&a2, &b2], None, None));
    eventually("select parks", || {
        a.waiting_receivers() == 1 && b.waiting_receivers() == 1
    });
    a.close();
    assert_eq!(handle.join().unwrap(), Ok((0, None)));
}

#[test]
fn select_with_a_channel_listed_twice() {
    let a = Channel::unbounded();
    let a2 = a.clone();
    let handle = thread::spawn(move || select(&[&a2, &a2], None, None));
    eventually("select parks", || a.waiting_receivers() == 2);
    a.send(9, None).unwrap();
    let (i, v) = handle.join().unwrap().unwrap();
    assert!(i < 2);
    assert_eq!(v, Some(9));
    assert_eq!(a.waiting_receivers(), 0);
}

#[test]
fn select_does_not_always_prefer_the_first_channel() {
    let a = Channel::unbounded();
    let b = Channel::unbounded();
    let mut hits = [0usize; 2];
    for _ in 0..1000 {
        a.send(0, None).unwrap();
        b.send(1, None).unwrap();
        let (i, v) = select(&[&a, &b], None, None).unwrap();
        assert_eq!(v, Some(i));
        hits[i] += 1;
        // Take the other one back out so both stay ready next round.
        let other = [&a, &b][1 - i];
        assert_eq!(other.try_recv(), Ok(1 - i));
    }
    assert!(hits[0] > 100 && hits[1] > 100, "unfair: {hits:?}");
}

// ---- iteration and formatting ----

#[test]
fn iteration_ends_at_close() {
    let ch = Channel::unbounded();
    let tx = ch.clone();
    let producer = thread::spawn(move || {
        for i in 0..50 {
            tx.send(i, None).unwrap();
        }
        tx.close();
    });
    let got: Vec<i32> = (&ch).into_iter().collect();
    producer.join().unwrap();
    assert_eq!(got, (0..50).collect::<Vec<_>>());
    assert_eq!(ch.iter().next(), None);
}

#[test]
fn debug_output() {
    let ch = Channel::bounded(2).unwrap();
    ch.send(1, None).unwrap();
    assert_eq!(
        format!("{ch:?}"),
        "Channel { len: 1, capacity: Some(2), closed: false }"
    );
    assert!(format!("{:?}", ch.iter()).starts_with("Iter"));
    assert_eq!(format!("{:?}", SendError::Closed(1)), "Closed(..)");
    let flag = InterruptFlag::new();
    assert_eq!(
        format!("{flag:?}"),
        "InterruptFlag { fired: false, registered: 0 }"
    );
}

// ---- many threads ----

/// `senders` x `receivers` threads over a channel of `capacity`; every value
/// arrives once, and each receiver sees each sender's values in order.
fn mpmc(senders: usize, receivers: usize, capacity: Option<usize>, per_sender: usize) {
    let ch = Channel::new(capacity).unwrap();
    let start = Arc::new(Barrier::new(senders + receivers));
    let producers: Vec<_> = (0..senders)
        .map(|s| {
            let (tx, go) = (ch.clone(), Arc::clone(&start));
            thread::spawn(move || {
                go.wait();
                for i in 0..per_sender {
                    tx.send((s, i), None).unwrap();
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..receivers)
        .map(|_| {
            let (rx, go) = (ch.clone(), Arc::clone(&start));
            thread::spawn(move || {
                go.wait();
                rx.iter().collect::<Vec<_>>()
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    ch.close();
    let mut seen = vec![vec![false; per_sender]; senders];
    for c in consumers {
        let mut last = vec![None; senders];
        for (s, i) in c.join().unwrap() {
            assert!(last[s] < Some(i), "sender {s} out of order");
            last[s] = Some(i);
            assert!(!seen[s][i], "duplicate");
            seen[s][i] = true;
        }
    }
    assert!(seen.iter().flatten().all(|&x| x), "lost a value");
}

#[test]
#[cfg_attr(miri, ignore = "16 threads moving many values: minutes under Miri")]
fn mpmc_1_2_16_threads() {
    for threads in [1, 2, 16] {
        mpmc(threads, threads, None, 2000);
        mpmc(threads, threads, Some(1), 500);
        mpmc(threads, 1, Some(8), 1000);
        mpmc(1, threads, Some(3), 1000);
    }
}

// ---- unbuffered (capacity 0) ----

#[test]
fn unbuffered_try_ops_need_a_peer() {
    let ch = Channel::unbuffered();
    assert!(ch.is_unbuffered());
    assert_eq!(ch.capacity(), Some(0));
    assert_eq!(ch.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(ch.len(), 0);
    ch.close();
    assert_eq!(ch.try_send(2), Err(TrySendError::Closed(2)));
    assert_eq!(ch.try_recv(), Err(TryRecvError::Closed));
    assert_eq!(ch.recv(None), Err(RecvError::Closed));
    assert_eq!(ch.send(3, None), Err(SendError::Closed(3)));
}

#[test]
fn unbuffered_send_waits_for_a_receiver() {
    let ch = Channel::unbuffered();
    let tx = ch.clone();
    let done = Arc::new(AtomicUsize::new(0));
    let d = Arc::clone(&done);
    let t = thread::spawn(move || {
        tx.send(7, None).unwrap();
        d.store(1, Ordering::SeqCst);
    });
    eventually("sender parked", || ch.waiting_senders() == 1);
    assert_eq!(
        done.load(Ordering::SeqCst),
        0,
        "send completed with no receiver"
    );
    assert_eq!(ch.len(), 0);
    assert_eq!(ch.try_recv(), Ok(7));
    t.join().unwrap();
    assert_eq!(done.load(Ordering::SeqCst), 1);
    assert_eq!(ch.waiting_senders(), 0);
}

#[test]
fn unbuffered_try_send_hands_to_a_parked_receiver() {
    let ch = Channel::unbuffered();
    let rx = ch.clone();
    let t = thread::spawn(move || rx.recv(None));
    eventually("receiver parked", || ch.waiting_receivers() == 1);
    assert_eq!(ch.try_send(5), Ok(()));
    assert_eq!(t.join().unwrap(), Ok(5));
    assert_eq!(ch.try_send(6), Err(TrySendError::Full(6)));
}

#[test]
fn unbuffered_close_fails_a_parked_sender_and_ends_a_parked_receiver() {
    let ch = Channel::<i32>::unbuffered();
    let tx = ch.clone();
    let s = thread::spawn(move || tx.send(1, None));
    eventually("sender parked", || ch.waiting_senders() == 1);
    ch.close();
    assert_eq!(s.join().unwrap(), Err(SendError::Closed(1)));
    let ch = Channel::<i32>::unbuffered();
    let rx = ch.clone();
    let r = thread::spawn(move || rx.recv(None));
    eventually("receiver parked", || ch.waiting_receivers() == 1);
    ch.close();
    assert_eq!(r.join().unwrap(), Err(RecvError::Closed));
}

#[test]
fn unbuffered_timeouts_hand_the_value_back() {
    let ch = Channel::unbuffered();
    assert_eq!(
        ch.send_timeout(1, ms(10), None),
        Err(SendTimeoutError::Timeout(1))
    );
    assert_eq!(
        ch.recv_timeout(ms(10), None),
        Err(RecvTimeoutError::Timeout)
    );
    assert_eq!(ch.waiting_senders() + ch.waiting_receivers(), 0);
}

#[test]
fn unbuffered_batches_are_hand_offs_in_order() {
    let ch = Channel::unbuffered();
    let tx = ch.clone();
    let t = thread::spawn(move || tx.send_batch(vec![1, 2, 3, 4], None));
    let mut got = Vec::new();
    while got.len() < 4 {
        got.extend(ch.recv_batch(nz(10), None).unwrap());
    }
    assert_eq!(got, vec![1, 2, 3, 4]);
    t.join().unwrap().unwrap();
    // Closed part way: the error counts what went.
    let tx = ch.clone();
    let t = thread::spawn(move || tx.send_batch(vec![1, 2, 3], None));
    assert_eq!(ch.recv(None), Ok(1));
    eventually("second item offered", || ch.waiting_senders() == 1);
    ch.close();
    assert_eq!(
        t.join().unwrap(),
        Err(SendBatchError::Closed {
            sent: 1,
            unsent: vec![2, 3]
        })
    );
}

#[test]
#[cfg_attr(miri, ignore = "many threads and values: minutes under Miri")]
fn unbuffered_many_senders_many_receivers_exactly_once_in_order() {
    const SENDERS: usize = 4;
    const PER: usize = 2000;
    let ch = Channel::unbuffered();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let tx = ch.clone();
            thread::spawn(move || {
                for k in 0..PER {
                    tx.send((s, k), None).unwrap();
                }
            })
        })
        .collect();
    let receivers: Vec<_> = (0..4)
        .map(|_| {
            let rx = ch.clone();
            thread::spawn(move || rx.iter().collect::<Vec<_>>())
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    ch.close();
    let mut all = Vec::new();
    for r in receivers {
        let got = r.join().unwrap();
        // Per sender, each receiver sees increasing numbers.
        let mut last = [None; SENDERS];
        for &(s, k) in &got {
            assert!(last[s].map_or(true, |l| l < k), "order broken");
            last[s] = Some(k);
        }
        all.extend(got);
    }
    all.sort();
    let want: Vec<_> = (0..SENDERS)
        .flat_map(|s| (0..PER).map(move |k| (s, k)))
        .collect();
    assert_eq!(all, want);
}

// ---- select with send cases ----

#[test]
fn select_cases_sends_where_there_is_room() {
    let full = Channel::bounded(1).unwrap();
    full.send(0, None).unwrap();
    let room = Channel::bounded(1).unwrap();
    let (i, what) = select_cases(
        &[&full, &room],
        &[Side::Send, Side::Send],
        vec![Some(1), Some(2)],
        None,
        None,
    )
    .unwrap();
    assert_eq!((i, what), (1, Selected::Sent));
    assert_eq!(room.try_recv(), Ok(2));
    assert_eq!(full.len(), 1);
}

#[test]
fn select_cases_times_out_and_keeps_nothing() {
    let a = Channel::<i32>::unbuffered();
    let b = Channel::<i32>::unbounded();
    let r = select_cases(
        &[&a, &b],
        &[Side::Send, Side::Recv],
        vec![Some(1), None],
        Some(Instant::now() + ms(10)),
        None,
    );
    assert_eq!(r, Err(SelectError::Timeout));
    assert_eq!(a.waiting_senders() + b.waiting_receivers(), 0);
    let mut offers = vec![Some(1), None];
    assert_eq!(
        try_select_cases(&[&a, &b], &[Side::Send, Side::Recv], &mut offers, 0),
        None
    );
    assert_eq!(offers, vec![Some(1), None]);
}

#[test]
fn select_cases_send_on_closed_gives_the_value_back() {
    let a = Channel::<i32>::unbuffered();
    a.close();
    let r = select_cases(&[&a], &[Side::Send], vec![Some(9)], None, None);
    assert_eq!(r, Ok((0, Selected::SendClosed(9))));
}

#[test]
fn select_never_meets_itself_on_one_unbuffered_channel() {
    let a = Channel::<i32>::unbuffered();
    let r = select_cases(
        &[&a, &a],
        &[Side::Send, Side::Recv],
        vec![Some(1), None],
        Some(Instant::now() + ms(20)),
        None,
    );
    assert_eq!(r, Err(SelectError::Timeout));
}

#[test]
#[cfg_attr(miri, ignore = "many threads and rounds: minutes under Miri")]
fn select_cases_pair_up_across_threads() {
    // Two selects, each offering a send on `a` and a receive on `b`,
    // against a thread that does the opposite: every round one exchange.
    let a = Channel::<i32>::unbuffered();
    let b = Channel::<i32>::unbuffered();
    let (a2, b2) = (a.clone(), b.clone());
    let t = thread::spawn(move || {
        let mut got = Vec::new();
        for k in 0..1000 {
            match select_cases(
                &[&a2, &b2],
                &[Side::Recv, Side::Send],
                vec![None, Some(-k)],
                None,
                None,
            )
            .unwrap()
            {
                (0, Selected::Received(Some(v))) => got.push(v),
                (1, Selected::Sent) => got.push(-1_000_000),
                other => panic!("unexpected {other:?}"),
            }
        }
        got
    });
    let mut mine = Vec::new();
    for k in 0..1000 {
        match select_cases(
            &[&a, &b],
            &[Side::Send, Side::Recv],
            vec![Some(k), None],
            None,
            None,
        )
        .unwrap()
        {
            (0, Selected::Sent) => mine.push(k),
            (1, Selected::Received(Some(v))) => mine.push(v),
            other => panic!("unexpected {other:?}"),
        }
    }
    let theirs = t.join().unwrap();
    assert_eq!(theirs.len(), 1000);
    assert_eq!(mine.len(), 1000);
}
