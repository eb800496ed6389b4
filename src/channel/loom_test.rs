//! loom models of the wait/wake core: every interleaving of a few threads,
//! checked for lost wakeups (loom reports a deadlock), lost or duplicated
//! values, and a wrong outcome. Run with
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib channel`.
//! Deadlines are not modelled (loom has no clock).

use std::sync::Arc;

use loom::thread;

use super::*;

#[test]
fn parked_recv_is_woken_by_send() {
    loom::model(|| {
        let ch = Channel::unbounded();
        let tx = ch.clone();
        let t = thread::spawn(move || tx.send(1, None).unwrap());
        assert_eq!(ch.recv(None), Ok(1));
        t.join().unwrap();
    });
}

#[test]
fn close_wakes_both_parked_receivers() {
    loom::model(|| {
        let ch = Channel::<i32>::unbounded();
        let rx = ch.clone();
        let t = thread::spawn(move || rx.recv(None));
        let closer = ch.clone();
        let c = thread::spawn(move || {
            closer.close();
        });
        assert_eq!(ch.recv(None), Err(RecvError::Closed));
        assert_eq!(t.join().unwrap(), Err(RecvError::Closed));
        c.join().unwrap();
    });
}

#[test]
fn bounded_one_passes_two_values_in_order() {
    loom::model(|| {
        let ch = Channel::bounded(1).unwrap();
        let tx = ch.clone();
        let t = thread::spawn(move || {
            tx.send(1, None).unwrap();
            tx.send(2, None).unwrap();
        });
        assert_eq!(ch.recv(None), Ok(1));
        assert_eq!(ch.recv(None), Ok(2));
        t.join().unwrap();
    });
}

#[test]
fn close_wakes_a_parked_sender_with_its_value() {
    loom::model(|| {
        let ch = Channel::bounded(1).unwrap();
        ch.send(0, None).unwrap();
        let tx = ch.clone();
        let t = thread::spawn(move || tx.send(1, None));
        ch.close();
        match t.join().unwrap() {
            Err(SendError::Closed(1)) => assert_eq!(ch.len(), 1),
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn select_gets_both_values_once() {
    loom::model(|| {
        let a = Channel::unbounded();
        let b = Channel::unbounded();
        let (a2, b2) = (a.clone(), b.clone());
        let ta = thread::spawn(move || a2.send(10, None).unwrap());
        let tb = thread::spawn(move || b2.send(20, None).unwrap());
        let mut got = vec![
            select(&[&a, &b], None, None).unwrap(),
            select(&[&a, &b], None, None).unwrap(),
        ];
        got.sort();
        assert_eq!(got, vec![(0, Some(10)), (1, Some(20))]);
        ta.join().unwrap();
        tb.join().unwrap();
    });
}

#[test]
fn select_and_plain_receiver_share_one_channel() {
    // A select claimed by one channel while a plain receiver takes the value
    // it was claimed for: the other value must still reach someone.
    loom::model(|| {
        let a = Channel::unbounded();
        let b = Channel::<i32>::unbounded();
        let a2 = a.clone();
        let rx = thread::spawn(move || a2.recv(None).unwrap());
        a.send_batch(vec![1, 2], None).unwrap();
        let (i, v) = select(&[&a, &b], None, None).unwrap();
        assert_eq!(i, 0);
        let mut both = vec![v.unwrap(), rx.join().unwrap()];
        both.sort();
        assert_eq!(both, vec![1, 2]);
    });
}

#[test]
fn interrupt_races_a_send() {
    loom::model(|| {
        let ch = Channel::unbounded();
        let flag = Arc::new(InterruptFlag::new());
        let tx = ch.clone();
        let f = Arc::clone(&flag);
        let sender = thread::spawn(move || tx.send(1, None).unwrap());
        let firer = thread::spawn(move || {
            f.fire();
        });
        match ch.recv(Some(&*flag)) {
            Ok(v) => assert_eq!(v, 1),
            Err(RecvError::Cancelled) => {
                sender.join().unwrap();
                firer.join().unwrap();
                // The value was not lost: it is still queued.
                assert_eq!(ch.try_recv(), Ok(1));
                return;
            }
            Err(other) => panic!("unexpected {other:?}"),
        }
        sender.join().unwrap();
        firer.join().unwrap();
        assert_eq!(ch.try_recv(), Err(TryRecvError::Empty));
    });
}

#[test]
fn one_batch_wakeup_chains_to_both_parked_receivers() {
    loom::model(|| {
        let ch = Channel::unbounded();
        let (rx1, rx2) = (ch.clone(), ch.clone());
        let t1 = thread::spawn(move || rx1.recv(None).unwrap());
        let t2 = thread::spawn(move || rx2.recv(None).unwrap());
        ch.send_batch(vec![1, 2], None).unwrap();
        let mut got = vec![t1.join().unwrap(), t2.join().unwrap()];
        got.sort();
        assert_eq!(got, vec![1, 2]);
    });
}

#[test]
fn bounded_batch_larger_than_capacity() {
    loom::model(|| {
        let ch = Channel::bounded(1).unwrap();
        let tx = ch.clone();
        let t = thread::spawn(move || tx.send_batch(vec![1, 2], None));
        let mut got = Vec::new();
        while got.len() < 2 {
            got.extend(ch.recv_batch(std::num::NonZeroUsize::MIN, None).unwrap());
        }
        assert_eq!(got, vec![1, 2]);
        assert_eq!(t.join().unwrap(), Ok(()));
    });
}

#[test]
fn interrupt_races_a_select() {
    loom::model(|| {
        let a = Channel::unbounded();
        let b = Channel::<i32>::unbounded();
        let flag = Arc::new(InterruptFlag::new());
        let (a2, f) = (a.clone(), Arc::clone(&flag));
        let sender = thread::spawn(move || a2.send(1, None).unwrap());
        let firer = thread::spawn(move || {
            f.fire();
        });
        let outcome = select(&[&a, &b], None, Some(&*flag));
        sender.join().unwrap();
        firer.join().unwrap();
        match outcome {
            Ok((0, Some(1))) => assert_eq!(a.try_recv(), Err(TryRecvError::Empty)),
            Err(SelectError::Cancelled) => assert_eq!(a.try_recv(), Ok(1)),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(a.waiting_receivers() + b.waiting_receivers(), 0);
    });
}

#[test]
fn select_claimed_by_one_channel_never_takes_another() {
    // If a select claimed by `a` took `b`'s value instead, `a`'s value would
    // sit with its wakeup spent and the plain receiver parked forever.
    loom::model(|| {
        let a = Channel::unbounded();
        let b = Channel::unbounded();
        let (a2, b2) = (a.clone(), b.clone());
        let plain = thread::spawn(move || a2.recv(None).unwrap());
        let (a3, b3) = (a.clone(), b.clone());
        let selector = thread::spawn(move || select(&[&a3, &b3], None, None).unwrap());
        a.send(1, None).unwrap();
        b2.send(2, None).unwrap();
        let (i, v) = selector.join().unwrap();
        if i == 0 {
            // The select took `a`'s value: give the plain receiver another.
            assert_eq!(v, Some(1));
            a.send(3, None).unwrap();
            assert_eq!(plain.join().unwrap(), 3);
        } else {
            assert_eq!(v, Some(2));
            assert_eq!(plain.join().unwrap(), 1);
        }
    });
}

#[test]
fn unbuffered_hand_off_completes_both_sides_once() {
    // A sender and a receiver on an unbuffered channel, in any order: the
    // value is handed over exactly once and nothing stays queued.
    loom::model(|| {
        let ch = Channel::unbuffered();
        let tx = ch.clone();
        let t = thread::spawn(move || tx.send(1, None));
        assert_eq!(ch.recv(None), Ok(1));
        assert_eq!(t.join().unwrap(), Ok(()));
        assert_eq!(ch.len(), 0);
        assert_eq!(ch.waiting_senders() + ch.waiting_receivers(), 0);
    });
}

#[test]
fn unbuffered_send_races_close() {
    // A parked (or arriving) sender and a receiver against close: the
    // value is received, or the sender gets it back; never both, never lost.
    loom::model(|| {
        let ch = Channel::unbuffered();
        let tx = ch.clone();
        let s = thread::spawn(move || tx.send(1, None));
        let rx = ch.clone();
        let r = thread::spawn(move || rx.recv(None));
        ch.close();
        let sent = s.join().unwrap();
        let got = r.join().unwrap();
        match (sent, got) {
            (Ok(()), Ok(1)) => {}
            (Err(SendError::Closed(1)), Err(RecvError::Closed)) => {}
            other => panic!("unexpected {other:?}"),
        }
    });
}

#[test]
fn unbuffered_try_recv_races_a_sender_and_close() {
    // `try_recv` takes a waiting sender's offer directly (`take_offer`):
    // against a sender that may not have registered yet and a close, the
    // value is taken once or handed back to the sender, never both, never
    // lost, and a sender whose offer was taken always completes.
    loom::model(|| {
        let ch = Channel::unbuffered();
        let tx = ch.clone();
        let s = thread::spawn(move || tx.send(1, None));
        let got = ch.try_recv();
        ch.close();
        let sent = s.join().unwrap();
        match (got, sent) {
            (Ok(1), Ok(())) => {}
            (Err(TryRecvError::Empty), Err(SendError::Closed(1))) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(ch.len(), 0);
    });
}

#[test]
fn unbuffered_try_send_races_a_receiver_and_close() {
    // The send-side twin of the model above: `try_send` hands its value
    // straight to a parked receiver (`give_offer`). Against a receiver
    // that may not have registered yet and a close, the value is received
    // once or handed back to the caller (`Full`), never both, never lost,
    // and a receiver that was not given it sees the close.
    loom::model(|| {
        let ch = Channel::unbuffered();
        let rx = ch.clone();
        let r = thread::spawn(move || rx.recv(None));
        let sent = ch.try_send(1);
        ch.close();
        let got = r.join().unwrap();
        match (sent, got) {
            (Ok(()), Ok(1)) => {}
            (Err(TrySendError::Full(1)), Err(RecvError::Closed)) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(ch.len(), 0);
    });
}

#[test]
fn select_offering_a_send_and_a_receive_at_once() {
    // One select offers to send on `a` and to receive on `b`; a peer sends
    // on `b` while a receiver takes from `a`. Exactly one case is
    // performed; the other party is served by a second select.
    loom::model(|| {
        let a = Channel::unbuffered();
        let b = Channel::unbuffered();
        let (a2, b2) = (a.clone(), b.clone());
        let receiver = thread::spawn(move || a2.recv(None));
        let sender = thread::spawn(move || b2.send(20, None));
        let sides = [Side::Send, Side::Recv];
        let first = select_cases(&[&a, &b], &sides, vec![Some(10), None], None, None).unwrap();
        let second = select_cases(&[&a, &b], &sides, vec![Some(11), None], None, None).unwrap();
        let mut done = vec![first.clone(), second.clone()];
        done.sort_by_key(|(i, _)| *i);
        assert_eq!(done[0].0, 0, "one send, one receive: {first:?} {second:?}");
        assert_eq!(done[0].1, Selected::Sent);
        assert_eq!(done[1], (1, Selected::Received(Some(20))));
        let sent_value = if first.0 == 0 { 10 } else { 11 };
        assert_eq!(receiver.join().unwrap(), Ok(sent_value));
        assert_eq!(sender.join().unwrap(), Ok(()));
    });
}

#[test]
fn two_selects_meet_on_an_unbuffered_channel() {
    // Two selects, each offering a send on one channel and a receive on
    // the other, crossed: they pair up exactly once (one sends, the other
    // receives), whichever registers first.
    loom::model(|| {
        let a = Channel::unbuffered();
        let b = Channel::unbuffered();
        let (a2, b2) = (a.clone(), b.clone());
        let t = thread::spawn(move || {
            select_cases(
                &[&a2, &b2],
                &[Side::Recv, Side::Send],
                vec![None, Some(2)],
                None,
                None,
            )
            .unwrap()
        });
        let mine = select_cases(
            &[&a, &b],
            &[Side::Send, Side::Recv],
            vec![Some(1), None],
            None,
            None,
        )
        .unwrap();
        let theirs = t.join().unwrap();
        match (mine, theirs) {
            ((0, Selected::Sent), (0, Selected::Received(Some(1)))) => {}
            ((1, Selected::Received(Some(2))), (1, Selected::Sent)) => {}
            other => panic!("unexpected {other:?}"),
        }
    });
}
