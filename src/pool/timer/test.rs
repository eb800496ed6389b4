//! Unit tests of pool timers (`README.md`). Deadlines are checked only in
//! the direction the design promises (never before the deadline); how late
//! a timer fires depends on the machine's load and is not asserted beyond
//! a generous bound that says what hung. A timer a test cancels is due in
//! a second: the cancel, one statement later, comes long before that.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::pool::{ThreadPool, ThreadPoolConfig, WorkerCount};

fn pool(workers: usize) -> ThreadPool {
    let config = ThreadPoolConfig::default().with_worker_count(WorkerCount::Fixed(workers));
    ThreadPool::new(config).expect("valid config")
}

/// Long enough that a timer that should have fired did, whatever the load.
const HANG: Duration = Duration::from_secs(20);

#[test]
fn a_timer_fires_once_and_not_before_its_deadline() {
    let p = pool(1);
    let (tx, rx) = mpsc::channel();
    let deadline = Instant::now() + Duration::from_millis(30);
    let _t = p.timer_at(deadline, move || tx.send(Instant::now()).unwrap());
    let fired = rx.recv_timeout(HANG).expect("the timer fired");
    assert!(fired >= deadline, "fired {:?} early", deadline - fired);
    assert!(
        rx.recv_timeout(Duration::from_millis(50)).is_err(),
        "fired twice"
    );
    // `pending` drops after the callback returns.
    wait_for_no_pending(&p);
    assert_eq!(p.stats().timers_armed, 1);
}

fn wait_for_no_pending(p: &ThreadPool) {
    let start = Instant::now();
    while p.stats().timers_now != 0 {
        assert!(start.elapsed() < HANG, "pending never dropped to 0");
        std::thread::yield_now();
    }
}

#[test]
fn a_passed_deadline_fires_at_once() {
    let p = pool(1);
    let (tx, rx) = mpsc::channel();
    let _t = p.timer_at(Instant::now() - Duration::from_millis(5), move || {
        tx.send(()).unwrap()
    });
    rx.recv_timeout(HANG).expect("the timer fired");
}

#[test]
fn a_cancelled_timer_never_fires_and_says_it_was_pending() {
    let p = pool(1);
    let fired = Arc::new(AtomicUsize::new(0));
    let f = Arc::clone(&fired);
    let t = p.timer_at(Instant::now() + Duration::from_secs(1), move || {
        f.fetch_add(1, Ordering::SeqCst);
    });
    assert_eq!(p.stats().timers_now, 1);
    assert!(t.cancel(), "it had not fired");
    assert!(!t.cancel(), "a second cancel finds nothing");
    assert_eq!(p.stats().timers_now, 0);
    // A later timer fires: the cancelled one, earlier, must not have.
    let (tx, rx) = mpsc::channel();
    let _u = p.timer_at(Instant::now() + Duration::from_millis(1200), move || {
        tx.send(()).unwrap()
    });
    rx.recv_timeout(HANG).expect("the later timer fired");
    assert_eq!(fired.load(Ordering::SeqCst), 0);
}

#[test]
fn dropping_the_handle_cancels() {
    let p = pool(1);
    let fired = Arc::new(AtomicUsize::new(0));
    let f = Arc::clone(&fired);
    drop(
        p.timer_at(Instant::now() + Duration::from_secs(1), move || {
            f.fetch_add(1, Ordering::SeqCst);
        }),
    );
    assert_eq!(p.stats().timers_now, 0);
    let (tx, rx) = mpsc::channel();
    let _u = p.timer_at(Instant::now() + Duration::from_millis(1200), move || {
        tx.send(()).unwrap()
    });
    rx.recv_timeout(HANG).expect("the later timer fired");
    assert_eq!(fired.load(Ordering::SeqCst), 0);
}

#[test]
fn cancel_after_firing_returns_false() {
    let p = pool(1);
    let (tx, rx) = mpsc::channel();
    let t = p.timer_at(Instant::now(), move || tx.send(()).unwrap());
    rx.recv_timeout(HANG).expect("the timer fired");
    wait_for_no_pending(&p);
    assert!(!t.cancel());
}

#[test]
fn timers_fire_in_deadline_order_whatever_the_arming_order() {
    let p = pool(2);
    let order = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let base = Instant::now() + Duration::from_millis(50);
    // Armed latest-first: each arm is a new earliest deadline, so the
    // timer thread (asleep for the previous earliest) must be woken.
    let mut keep = Vec::new();
    for i in (0..20u64).rev() {
        let order = Arc::clone(&order);
        let tx = tx.clone();
        keep.push(p.timer_at(base + Duration::from_millis(5 * i), move || {
            order.lock().unwrap().push(i);
            tx.send(()).unwrap();
        }));
    }
    for _ in 0..20 {
        rx.recv_timeout(HANG).expect("every timer fired");
    }
    assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
}

#[test]
fn an_earlier_timer_armed_while_the_thread_waits_fires_first() {
    let p = pool(1);
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    let _late = p.timer_at(Instant::now() + Duration::from_secs(3600), move || {
        tx2.send("late").unwrap()
    });
    // Let the timer thread go to sleep for the hour (not required for
    // correctness: either order of arm and wait must work).
    std::thread::sleep(Duration::from_millis(10));
    let _early = p.timer_at(Instant::now() + Duration::from_millis(10), move || {
        tx.send("early").unwrap()
    });
    assert_eq!(rx.recv_timeout(HANG), Ok("early"));
}

#[test]
fn a_panicking_callback_does_not_stop_the_timer_thread() {
    let p = pool(1);
    let _bad = p.timer_at(Instant::now(), || panic!("callback panics (expected)"));
    let (tx, rx) = mpsc::channel();
    let _good = p.timer_at(Instant::now() + Duration::from_millis(20), move || {
        tx.send(()).unwrap()
    });
    rx.recv_timeout(HANG).expect("the second timer fired");
}

#[test]
fn a_pending_timer_keeps_the_pool_from_being_quiescent() {
    for workers in [1, 2, 8] {
        let p = pool(workers);
        wait_quiescent(&p, true);
        let (tx, rx) = mpsc::channel();
        let t = p.timer_at(Instant::now() + Duration::from_secs(3600), move || {
            tx.send(()).unwrap()
        });
        assert!(!p.is_quiescent(), "{workers} workers: a timer is pending");
        drop(t);
        wait_quiescent(&p, true);
        assert!(rx.try_recv().is_err());
    }
}

#[test]
fn dropping_the_pool_drops_pending_callbacks_unrun() {
    let fired = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    struct OnDrop(Arc<AtomicUsize>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let p = pool(2);
    let f = Arc::clone(&fired);
    let guard = OnDrop(Arc::clone(&dropped));
    let t = p.timer_at(Instant::now() + Duration::from_secs(3600), move || {
        let _g = &guard;
        f.fetch_add(1, Ordering::SeqCst);
    });
    drop(p);
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "callback dropped");
    assert_eq!(fired.load(Ordering::SeqCst), 0, "never run");
    assert!(!t.cancel(), "nothing left to cancel");
}

/// Waits until the pool's quiescence is `want` (threads park at their own
/// pace after start-up).
pub(crate) fn wait_quiescent(p: &ThreadPool, want: bool) {
    let start = Instant::now();
    while p.is_quiescent() != want {
        assert!(
            start.elapsed() < HANG,
            "the pool never became {}quiescent",
            if want { "" } else { "non-" }
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}
