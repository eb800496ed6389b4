//! `weft::channel::try_case`: one case of a select's first pass (the
//! script's `select` tries its cases with it before waiting), on buffered
//! and unbuffered channels, open and closed, with and without a waiting
//! peer. Each wait for a thread to park gives up after 20 s, naming it.

use std::thread;
use std::time::{Duration, Instant};

use weft::channel::{try_case, Channel, Selected};

/// Spins (yielding) until `cond` holds; fails after 20 s (a hang).
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "hung waiting for {what}"
        );
        thread::yield_now();
    }
}
#[test]
fn try_case_on_buffered_channels() {
    let ch = Channel::bounded(1).unwrap();
    // Empty: a receive case is not ready; a send case is, once.
    assert_eq!(try_case(&ch, None), None);
    assert_eq!(try_case(&ch, Some(&5)), Some(Selected::Sent));
    assert_eq!(try_case(&ch, Some(&6)), None, "full");
    assert_eq!(ch.len(), 1);
    assert_eq!(try_case(&ch, None), Some(Selected::Received(Some(5))));
    // Closed: a receive drains then sees the end; a send gets its value back.
    ch.send(7, None).unwrap();
    ch.close();
    assert_eq!(try_case(&ch, Some(&8)), Some(Selected::SendClosed(8)));
    assert_eq!(try_case(&ch, None), Some(Selected::Received(Some(7))));
    assert_eq!(try_case(&ch, None), Some(Selected::Received(None)));
}

#[test]
fn try_case_wakes_a_parked_receiver() {
    let ch = Channel::<i32>::unbounded();
    let rx = ch.clone();
    let t = thread::spawn(move || rx.recv(None));
    eventually("the receiver to park", || ch.waiting_receivers() == 1);
    assert_eq!(try_case(&ch, Some(&3)), Some(Selected::Sent));
    assert_eq!(t.join().unwrap(), Ok(3));
}

#[test]
fn try_case_on_an_unbuffered_channel_needs_a_waiting_peer() {
    let ch = Channel::<i32>::unbuffered();
    assert_eq!(try_case(&ch, Some(&1)), None, "no receiver waits");
    assert_eq!(try_case(&ch, None), None, "no sender waits");
    let rx = ch.clone();
    let t = thread::spawn(move || rx.recv(None));
    eventually("the receiver to park", || ch.waiting_receivers() == 1);
    assert_eq!(try_case(&ch, Some(&2)), Some(Selected::Sent));
    assert_eq!(t.join().unwrap(), Ok(2));
    let tx = ch.clone();
    let t = thread::spawn(move || tx.send(4, None));
    eventually("the sender to park", || ch.waiting_senders() == 1);
    assert_eq!(try_case(&ch, None), Some(Selected::Received(Some(4))));
    assert_eq!(t.join().unwrap(), Ok(()));
    ch.close();
    assert_eq!(try_case(&ch, Some(&5)), Some(Selected::SendClosed(5)));
    assert_eq!(try_case(&ch, None), Some(Selected::Received(None)));
}
