//! Stress tests for `weft::channel`: many OS threads sending and receiving,
//! checking that every value arrives exactly once and that each receiver sees
//! each sender's values in the order sent. Release runs use the full size
//! (8 senders x 8 receivers x 100,000 values per sender); debug runs a tenth.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread;
use std::time::Duration;

use weft::channel::{
    select, select_cases, Channel, InterruptFlag, RecvError, Selected, SendBatchError, SendError,
    Side,
};

/// Values per sender.
const PER_SENDER: usize = if cfg!(debug_assertions) {
    10_000
} else {
    100_000
};

fn value(sender: usize, seq: usize) -> u64 {
    ((sender as u64) << 32) | seq as u64
}

fn split(v: u64) -> (usize, usize) {
    ((v >> 32) as usize, (v & 0xffff_ffff) as usize)
}

/// Every value `0..per_sender` of every sender appears exactly once over all
/// receivers, and within each receiver each sender's values increase.
fn check(senders: usize, per_sender: usize, received: Vec<Vec<u64>>) {
    let mut seen = vec![false; senders * per_sender];
    for (r, values) in received.iter().enumerate() {
        let mut last: Vec<Option<usize>> = vec![None; senders];
        for &v in values {
            let (s, i) = split(v);
            assert!(
                s < senders && i < per_sender,
                "receiver {r}: bogus value {v:#x}"
            );
            assert!(
                last[s] < Some(i),
                "receiver {r}: sender {s} out of order at {i}"
            );
            last[s] = Some(i);
            let slot = &mut seen[s * per_sender + i];
            assert!(!*slot, "receiver {r}: duplicate value {s}/{i}");
            *slot = true;
        }
    }
    let missing = seen.iter().filter(|&&x| !x).count();
    assert_eq!(missing, 0, "{missing} values lost");
}

/// A small deterministic generator for batch sizes.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// Joins the sender threads, closes `chans`, joins the receiver threads and
/// checks what they received ([`check`]).
fn finish(
    producers: Vec<thread::JoinHandle<()>>,
    chans: &[Channel<u64>],
    consumers: Vec<thread::JoinHandle<Vec<u64>>>,
    senders: usize,
    per_sender: usize,
) {
    for p in producers {
        p.join().expect("sender thread");
    }
    for c in chans {
        c.close();
    }
    let received = consumers
        .into_iter()
        .map(|c| c.join().expect("receiver"))
        .collect();
    check(senders, per_sender, received);
}

/// A receiver thread: after `go`, selects over every channel of `chans`
/// until all are closed; returns what it received, in order.
fn select_receiver(chans: Vec<Channel<u64>>, go: Arc<Barrier>) -> thread::JoinHandle<Vec<u64>> {
    thread::spawn(move || {
        go.wait();
        let mut open: Vec<&Channel<u64>> = chans.iter().collect();
        let mut got = Vec::new();
        while !open.is_empty() {
            match select(&open, None, None).expect("no timeout, no interrupt") {
                (_, Some(v)) => got.push(v),
                (i, None) => {
                    open.remove(i);
                }
            }
        }
        got
    })
}

fn nz(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).expect("n > 0")
}

#[derive(Clone, Copy)]
enum Send {
    One,
    Batch,
}

#[derive(Clone, Copy)]
enum Recv {
    One,
    Batch,
}

/// `senders` x `receivers` OS threads over one channel.
fn run(
    senders: usize,
    receivers: usize,
    capacity: Option<usize>,
    per_sender: usize,
    send: Send,
    recv: Recv,
) {
    let ch = Channel::new(capacity).expect("valid capacity");
    let start = Arc::new(Barrier::new(senders + receivers));
    let producers: Vec<_> = (0..senders)
        .map(|s| {
            let (tx, go) = (ch.clone(), Arc::clone(&start));
            thread::spawn(move || {
                go.wait();
                match send {
                    Send::One => {
                        for i in 0..per_sender {
                            tx.send(value(s, i), None).expect("open channel");
                        }
                    }
                    Send::Batch => {
                        let mut rng = Lcg(s as u64 + 1);
                        let mut i = 0;
                        while i < per_sender {
                            let n = (1 + rng.below(300)).min(per_sender - i);
                            let batch = (i..i + n).map(|k| value(s, k)).collect();
                            tx.send_batch(batch, None).expect("open channel");
                            i += n;
                        }
                    }
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..receivers)
        .map(|r| {
            let (rx, go) = (ch.clone(), Arc::clone(&start));
            thread::spawn(move || {
                go.wait();
                let mut got = Vec::new();
                match recv {
                    Recv::One => got.extend(rx.iter()),
                    Recv::Batch => {
                        let mut rng = Lcg(1000 + r as u64);
                        loop {
                            match rx.recv_batch(nz(1 + rng.below(100)), None) {
                                Ok(batch) => {
                                    assert!(!batch.is_empty());
                                    got.extend(batch);
                                }
                                Err(RecvError::Closed) => break,
                                Err(e) => panic!("recv_batch: {e}"),
                            }
                        }
                    }
                }
                got
            })
        })
        .collect();
    finish(
        producers,
        std::slice::from_ref(&ch),
        consumers,
        senders,
        per_sender,
    );
    assert!(ch.is_empty());
}

#[test]
fn eight_by_eight_unbounded() {
    run(8, 8, None, PER_SENDER, Send::One, Recv::One);
}

#[test]
fn eight_by_eight_bounded() {
    run(8, 8, Some(64), PER_SENDER, Send::One, Recv::One);
}

#[test]
fn eight_by_eight_batches_unbounded() {
    run(8, 8, None, PER_SENDER, Send::Batch, Recv::Batch);
}

#[test]
fn eight_by_eight_batches_bounded_smaller_than_batches() {
    run(8, 8, Some(64), PER_SENDER, Send::Batch, Recv::Batch);
}

#[test]
fn eight_by_eight_mixed_batch_and_single() {
    run(8, 8, Some(256), PER_SENDER, Send::Batch, Recv::One);
    run(8, 8, Some(16), PER_SENDER, Send::One, Recv::Batch);
}

#[test]
fn one_two_and_sixteen_threads() {
    let per = PER_SENDER / 10;
    for threads in [1, 2, 16] {
        run(threads, threads, None, per, Send::One, Recv::One);
        run(threads, threads, Some(1), per, Send::One, Recv::One);
        run(threads, threads, Some(7), per, Send::Batch, Recv::Batch);
    }
}

/// 8 senders spread over `chans` channels (sender `s` uses channel
/// `s % chans`), 8 receivers each selecting over all of them until every
/// channel is closed and drained.
fn run_select(chans: usize, capacity: Option<usize>, per_sender: usize, batches: bool) {
    run_select_with(8, 8, chans, capacity, per_sender, batches);
}

/// As [`run_select`], with `SENDERS` senders and `RECEIVERS` receivers.
fn run_select_with(
    senders: usize,
    receivers: usize,
    chans: usize,
    capacity: Option<usize>,
    per_sender: usize,
    batches: bool,
) {
    let channels: Vec<Channel<u64>> = (0..chans)
        .map(|_| Channel::new(capacity).expect("valid capacity"))
        .collect();
    let start = Arc::new(Barrier::new(senders + receivers));
    let producers: Vec<_> = (0..senders)
        .map(|s| {
            let (tx, go) = (channels[s % chans].clone(), Arc::clone(&start));
            thread::spawn(move || {
                go.wait();
                if batches {
                    let mut rng = Lcg(7 + s as u64);
                    let mut i = 0;
                    while i < per_sender {
                        let n = (1 + rng.below(100)).min(per_sender - i);
                        tx.send_batch((i..i + n).map(|k| value(s, k)).collect(), None)
                            .expect("open channel");
                        i += n;
                    }
                } else {
                    for i in 0..per_sender {
                        tx.send(value(s, i), None).expect("open channel");
                    }
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..receivers)
        .map(|_| select_receiver(channels.clone(), Arc::clone(&start)))
        .collect();
    finish(producers, &channels, consumers, senders, per_sender);
}

#[test]
fn select_with_one_two_and_sixteen_threads() {
    let per = PER_SENDER / 10;
    for threads in [1, 2, 16] {
        run_select_with(threads, threads, 3, None, per, false);
        run_select_with(threads, threads, 2, Some(2), per, true);
    }
}

#[test]
fn select_eight_by_eight_over_four_channels() {
    run_select(4, None, PER_SENDER, false);
}

#[test]
fn select_eight_by_eight_over_bounded_channels() {
    run_select(3, Some(8), PER_SENDER, false);
}

#[test]
fn select_eight_by_eight_with_batches() {
    run_select(4, Some(32), PER_SENDER, true);
}

/// Senders race `close`: every value is either received or handed back in
/// the send's error, never both, never neither.
#[test]
fn close_races_senders_nothing_lost() {
    for capacity in [None, Some(4)] {
        let ch = Channel::new(capacity).expect("valid capacity");
        let per = PER_SENDER;
        let producers: Vec<_> = (0..4)
            .map(|s| {
                let tx = ch.clone();
                thread::spawn(move || {
                    let mut back = Vec::new();
                    let mut i = 0;
                    while i < per {
                        if s % 2 == 0 {
                            match tx.send(value(s, i), None) {
                                Ok(()) => i += 1,
                                Err(SendError::Closed(v)) => {
                                    back.push(v);
                                    back.extend((i + 1..per).map(|k| value(s, k)));
                                    break;
                                }
                                Err(e) => panic!("send: {e}"),
                            }
                        } else {
                            let n = 37.min(per - i);
                            match tx.send_batch((i..i + n).map(|k| value(s, k)).collect(), None) {
                                Ok(()) => i += n,
                                Err(SendBatchError::Closed { sent, unsent }) => {
                                    assert_eq!(sent + unsent.len(), n);
                                    back.extend(unsent);
                                    back.extend((i + n..per).map(|k| value(s, k)));
                                    break;
                                }
                                Err(e) => panic!("send_batch: {e}"),
                            }
                        }
                    }
                    back
                })
            })
            .collect();
        let received = Arc::new(AtomicUsize::new(0));
        let consumers: Vec<_> = (0..3)
            .map(|_| {
                let (rx, count) = (ch.clone(), Arc::clone(&received));
                thread::spawn(move || {
                    let mut got = Vec::new();
                    for v in rx.iter() {
                        got.push(v);
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    got
                })
            })
            .collect();
        // Close partway through, without timing: once a quarter of the 4 * per
        // values arrived
        // (or every sender is done, which only an unbounded channel allows).
        while received.load(Ordering::Relaxed) < per && !producers.iter().all(|p| p.is_finished()) {
            thread::yield_now();
        }
        ch.close();
        let mut all: Vec<Vec<u64>> = consumers
            .into_iter()
            .map(|c| c.join().expect("receiver"))
            .collect();
        let back: Vec<u64> = producers
            .into_iter()
            .flat_map(|p| p.join().expect("sender"))
            .collect();
        // Handed-back values count as "arrived" for the exactly-once check,
        // as a receiver of their own (each sender's rest is in order).
        if capacity.is_some() {
            // Senders of a bounded channel cannot be done when a quarter
            // arrived: the close raced them.
            assert!(!back.is_empty(), "close did not race any sender");
        }
        all.push(back);
        check(4, per, all);
    }
}

/// Receivers and senders are cancelled at random moments while they wait:
/// a cancelled receive takes nothing, a cancelled send hands its value back,
/// so every value is still received (or handed back) exactly once.
#[test]
fn interrupts_race_senders_and_receivers() {
    const SENDERS: usize = 4;
    const RECEIVERS: usize = 4;
    let per = PER_SENDER / 4;
    let ch = Channel::bounded(8).expect("valid capacity");
    let flags: Vec<Arc<InterruptFlag>> = (0..SENDERS + RECEIVERS)
        .map(|_| Arc::new(InterruptFlag::new()))
        .collect();
    let producers: Vec<_> = (0..SENDERS)
        .map(|s| {
            let (tx, flag) = (ch.clone(), Arc::clone(&flags[s]));
            thread::spawn(move || {
                let mut back = Vec::new();
                for i in 0..per {
                    match tx.send(value(s, i), Some(&*flag)) {
                        Ok(()) => {}
                        Err(SendError::Cancelled(v)) => {
                            back.push(v);
                            back.extend((i + 1..per).map(|k| value(s, k)));
                            break;
                        }
                        Err(e) => panic!("send: {e}"),
                    }
                }
                back
            })
        })
        .collect();
    let received = Arc::new(AtomicUsize::new(0));
    let consumers: Vec<_> = (0..RECEIVERS)
        .map(|r| {
            let (rx, flag) = (ch.clone(), Arc::clone(&flags[SENDERS + r]));
            let count = Arc::clone(&received);
            thread::spawn(move || {
                let mut got = Vec::new();
                // Ends on Cancelled or Closed.
                while let Ok(v) = rx.recv(Some(&*flag)) {
                    got.push(v);
                    count.fetch_add(1, Ordering::Relaxed);
                }
                got
            })
        })
        .collect();
    // Fire the flags one by one as values flow (no timing: by count), the
    // last receiver's flag never, so someone keeps draining.
    for (k, flag) in flags.iter().enumerate().take(SENDERS + RECEIVERS - 1) {
        let step = (k + 1) * per / 4;
        while received.load(Ordering::Relaxed) < step && !producers.iter().all(|p| p.is_finished())
        {
            thread::yield_now();
        }
        flag.fire();
    }
    let backs: Vec<Vec<u64>> = producers
        .into_iter()
        .map(|p| p.join().expect("sender"))
        .collect();
    ch.close();
    let mut all: Vec<Vec<u64>> = consumers
        .into_iter()
        .map(|c| c.join().expect("receiver"))
        .collect();
    // What cancelled receivers left behind is still queued: drain it.
    all.push(ch.iter().collect());
    all.extend(backs);
    check(SENDERS, per, all);
}

// ---------------------------------------------------------------------------
// Unbuffered channels and selects with send cases (issue 9): OS threads
// driving the native channel directly, with a watchdog on each run.

/// Values per sender through unbuffered channels (each value is one
/// hand-off, most of them a park and a wake on 2 cores: a fifth of the
/// buffered runs' size keeps each test to seconds).
const PER_SENDER_HANDOFF: usize = PER_SENDER / 5;

/// Runs `f` on a thread of its own and fails the test, naming `what`, if
/// it is not done within `limit` (a lost wakeup would hang it).
fn watchdog<F: FnOnce() + std::marker::Send + 'static>(what: &str, limit: Duration, f: F) {
    let (done_tx, done_rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        f();
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(limit) {
        Ok(()) => worker.join().expect("finished"),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("hung: {what} not done after {limit:?} (a lost wakeup?)")
        }
        // The run panicked: pass its failure on.
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(payload) = worker.join() {
                std::panic::resume_unwind(payload);
            }
        }
    }
}

const LIMIT: Duration = Duration::from_secs(120);

/// `senders` x `receivers` threads over one unbuffered channel, plain
/// `send` and `recv`: exactly once, and each receiver sees each sender's
/// values in order (a send completes only when its value is taken).
fn run_unbuffered(senders: usize, receivers: usize, per_sender: usize) {
    let ch: Channel<u64> = Channel::unbuffered();
    let start = Arc::new(Barrier::new(senders + receivers));
    let producers: Vec<_> = (0..senders)
        .map(|s| {
            let (tx, go) = (ch.clone(), Arc::clone(&start));
            thread::spawn(move || {
                go.wait();
                for i in 0..per_sender {
                    tx.send(value(s, i), None).expect("open channel");
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..receivers)
        .map(|_| {
            let (rx, go) = (ch.clone(), Arc::clone(&start));
            thread::spawn(move || {
                go.wait();
                rx.iter().collect::<Vec<u64>>()
            })
        })
        .collect();
    finish(
        producers,
        std::slice::from_ref(&ch),
        consumers,
        senders,
        per_sender,
    );
    assert!(ch.is_empty());
}

#[test]
fn unbuffered_eight_by_eight_plain_ops() {
    watchdog("8 x 8 unbuffered send/recv", LIMIT, || {
        run_unbuffered(8, 8, PER_SENDER_HANDOFF)
    });
}

#[test]
fn unbuffered_one_two_and_sixteen_threads() {
    watchdog("1, 2, 16 x unbuffered send/recv", LIMIT, || {
        for threads in [1, 2, 16] {
            run_unbuffered(threads, threads, PER_SENDER_HANDOFF / 10);
        }
    });
}

/// Senders whose every step is a select offering the next value on two
/// unbuffered channels at once (send cases only: exactly one is
/// performed), receivers selecting over both: exactly once, and each
/// receiver sees each sender's values in order (both channels hand off).
fn run_send_select_unbuffered(senders: usize, receivers: usize, per_sender: usize) {
    let chans: Vec<Channel<u64>> = vec![Channel::unbuffered(), Channel::unbuffered()];
    let start = Arc::new(Barrier::new(senders + receivers));
    let producers: Vec<_> = (0..senders)
        .map(|s| {
            let (mine, go) = (chans.clone(), Arc::clone(&start));
            thread::spawn(move || {
                go.wait();
                let refs: Vec<&Channel<u64>> = mine.iter().collect();
                let sides = [Side::Send, Side::Send];
                for i in 0..per_sender {
                    let v = value(s, i);
                    let (_, what) = select_cases(&refs, &sides, vec![Some(v), Some(v)], None, None)
                        .expect("no timeout, no interrupt");
                    assert_eq!(what, Selected::Sent, "sender {s}: value {i}");
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..receivers)
        .map(|_| select_receiver(chans.clone(), Arc::clone(&start)))
        .collect();
    finish(producers, &chans, consumers, senders, per_sender);
}

#[test]
fn send_select_over_unbuffered_eight_by_eight() {
    watchdog("8 x 8 send-select over unbuffered channels", LIMIT, || {
        run_send_select_unbuffered(8, 8, PER_SENDER_HANDOFF)
    });
}

/// Pings a receiver offers at most (its select's send case).
const PINGS: usize = 2_000;

/// Every select mixes send and receive cases. Senders offer their next
/// value on an unbuffered channel and on a bounded one, and also receive
/// from `pings` (unbuffered); receivers receive from both value channels
/// and, until they have sent `PINGS`, offer their next ping on `pings`.
/// So two selects meet on `pings` (both waiting, either may arrive first),
/// and values go through hand-offs and a queue. Checked: every value and
/// every ping arrives exactly once; for each receiver and each value
/// channel, each sender's values arrive in order (across two channels of
/// which one queues, Go promises no order, nor do we); each sender gets
/// each receiver's pings in order.
fn run_mixed_select(senders: usize, receivers: usize, per_sender: usize) {
    let values: Vec<Channel<u64>> = vec![
        Channel::unbuffered(),
        Channel::bounded(8).expect("valid capacity"),
    ];
    let pings: Channel<u64> = Channel::unbuffered();
    let start = Arc::new(Barrier::new(senders + receivers));
    let producers: Vec<_> = (0..senders)
        .map(|s| {
            let (mine, pings, go) = (values.clone(), pings.clone(), Arc::clone(&start));
            thread::spawn(move || {
                go.wait();
                let refs = [&mine[0], &mine[1], &pings];
                let sides = [Side::Send, Side::Send, Side::Recv];
                let mut got_pings = Vec::new();
                let mut i = 0;
                while i < per_sender {
                    let v = value(s, i);
                    let offers = vec![Some(v), Some(v), None];
                    match select_cases(&refs, &sides, offers, None, None)
                        .expect("no timeout, no interrupt")
                    {
                        (0 | 1, Selected::Sent) => i += 1,
                        (2, Selected::Received(Some(p))) => got_pings.push(p),
                        other => panic!("sender {s}: unexpected {other:?}"),
                    }
                }
                got_pings
            })
        })
        .collect();
    let consumers: Vec<_> = (0..receivers)
        .map(|r| {
            let (mine, pings, go) = (values.clone(), pings.clone(), Arc::clone(&start));
            thread::spawn(move || {
                go.wait();
                // Received values, by the channel they came through.
                let mut got: [Vec<u64>; 2] = [Vec::new(), Vec::new()];
                let mut open = [true, true];
                let mut sent_pings = 0;
                while open[0] || open[1] {
                    let mut refs: Vec<&Channel<u64>> = Vec::new();
                    let mut which = Vec::new();
                    let mut sides = Vec::new();
                    let mut offers = Vec::new();
                    for (k, c) in mine.iter().enumerate() {
                        if open[k] {
                            refs.push(c);
                            which.push(Some(k));
                            sides.push(Side::Recv);
                            offers.push(None);
                        }
                    }
                    if sent_pings < PINGS {
                        refs.push(&pings);
                        which.push(None);
                        sides.push(Side::Send);
                        offers.push(Some(value(senders + r, sent_pings)));
                    }
                    let (i, what) = select_cases(&refs, &sides, offers, None, None)
                        .expect("no timeout, no interrupt");
                    match (which[i], what) {
                        (Some(k), Selected::Received(Some(v))) => got[k].push(v),
                        (Some(k), Selected::Received(None)) => open[k] = false,
                        (None, Selected::Sent) => sent_pings += 1,
                        (_, other) => panic!("receiver {r}: unexpected {other:?}"),
                    }
                }
                (got, sent_pings)
            })
        })
        .collect();
    let mut ping_lists = Vec::new();
    for p in producers {
        ping_lists.push(p.join().expect("sender thread"));
    }
    for c in &values {
        c.close();
    }
    let mut by_channel: [Vec<Vec<u64>>; 2] = [Vec::new(), Vec::new()];
    let mut pings_sent = Vec::new();
    for c in consumers {
        let ([a, b], n) = c.join().expect("receiver");
        by_channel[0].push(a);
        by_channel[1].push(b);
        pings_sent.push(n);
    }
    // Values: exactly once over both channels together (each receiver's
    // two lists merged), in order per receiver and channel.
    for lists in &by_channel {
        for (r, list) in lists.iter().enumerate() {
            let mut last: Vec<Option<usize>> = vec![None; senders];
            for &v in list {
                let (s, i) = split(v);
                assert!(
                    last[s] < Some(i),
                    "receiver {r}: sender {s} out of order at {i}"
                );
                last[s] = Some(i);
            }
        }
    }
    let merged: Vec<Vec<u64>> = (0..receivers)
        .map(|r| {
            let mut all = by_channel[0][r].clone();
            all.extend(&by_channel[1][r]);
            all.sort_unstable();
            all
        })
        .collect();
    check(senders, per_sender, merged);
    // Pings: what the senders got is exactly what the receivers sent, each
    // receiver's in order at each sender. Ping senders are numbered
    // `senders + r`.
    let mut seen = std::collections::HashSet::new();
    for (s, got) in ping_lists.iter().enumerate() {
        let mut last: Vec<Option<usize>> = vec![None; receivers];
        for &p in got {
            let (from, k) = split(p);
            let r = from - senders;
            assert!(
                r < receivers && k < pings_sent[r],
                "sender {s}: bogus ping {p:#x}"
            );
            assert!(
                last[r] < Some(k),
                "sender {s}: pings of receiver {r} out of order at {k}"
            );
            last[r] = Some(k);
            assert!(seen.insert(p), "ping {p:#x} received twice");
        }
    }
    let total: usize = pings_sent.iter().sum();
    assert_eq!(seen.len(), total, "pings sent but not received");
    assert!(pings.is_empty());
}

#[test]
fn mixed_select_send_and_receive_cases_eight_by_eight() {
    watchdog("8 x 8 selects with send and receive cases", LIMIT, || {
        run_mixed_select(8, 8, PER_SENDER_HANDOFF)
    });
}

#[test]
fn mixed_select_one_two_and_sixteen_threads() {
    watchdog("1, 2, 16 x mixed selects", LIMIT, || {
        for threads in [1, 2, 16] {
            run_mixed_select(threads, threads, PER_SENDER_HANDOFF / 10);
        }
    });
}
