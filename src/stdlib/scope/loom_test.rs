//! Loom models of a scope's members (`members.rs`). Run with
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib stdlib::scope`.
//!
//! The joiner waits as the scope does: check, and if children are left,
//! leave a waker and sleep until woken. A lost wakeup leaves it asleep
//! forever, which loom reports as a deadlock; a joiner that closes while
//! a child is still live fails the assertions.

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::{Arc, Notify};
use loom::thread;

use super::members::Members;

type M = Members<Arc<Notify>>;

fn leave(m: &M, left: &AtomicUsize) {
    left.fetch_add(1, Ordering::SeqCst);
    if let Some(w) = m.leave() {
        w.notify();
    }
}

/// Waits until the scope closes, as `Join::poll` and `wait_blocking` do.
fn join(m: &M, n: &Arc<Notify>) {
    while !m.close_if_empty(|| Arc::clone(n)) {
        n.wait();
    }
}

#[test]
fn loom_the_last_child_wakes_the_joiner() {
    loom::model(|| {
        let m = Arc::new(M::new());
        let left = Arc::new(AtomicUsize::new(0));
        assert!(m.enter());
        assert!(m.enter());
        let ts: Vec<_> = (0..2)
            .map(|_| {
                let (m, left) = (Arc::clone(&m), Arc::clone(&left));
                thread::spawn(move || leave(&m, &left))
            })
            .collect();
        join(&m, &Arc::new(Notify::new()));
        assert_eq!(left.load(Ordering::SeqCst), 2, "closed with a child live");
        assert!(!m.enter(), "a closed scope took a child");
        for t in ts {
            t.join().unwrap();
        }
    });
}

#[test]
fn loom_a_child_adds_a_sibling_before_it_leaves() {
    loom::model(|| {
        let m = Arc::new(M::new());
        let left = Arc::new(AtomicUsize::new(0));
        assert!(m.enter());
        let (m2, left2) = (Arc::clone(&m), Arc::clone(&left));
        let parent = thread::spawn(move || {
            // The child is live: its sibling must be let in.
            assert!(m2.enter(), "a live scope refused a child");
            let (m3, left3) = (Arc::clone(&m2), Arc::clone(&left2));
            let sibling = thread::spawn(move || leave(&m3, &left3));
            leave(&m2, &left2);
            sibling.join().unwrap();
        });
        join(&m, &Arc::new(Notify::new()));
        assert_eq!(left.load(Ordering::SeqCst), 2, "closed with a child live");
        parent.join().unwrap();
    });
}

#[test]
fn loom_a_spawn_racing_the_close_is_either_awaited_or_refused() {
    loom::model(|| {
        let m = Arc::new(M::new());
        let entered = Arc::new(AtomicUsize::new(0));
        let left = Arc::new(AtomicUsize::new(0));
        let (m2, entered2, left2) = (Arc::clone(&m), Arc::clone(&entered), Arc::clone(&left));
        let late = thread::spawn(move || {
            if m2.enter() {
                entered2.fetch_add(1, Ordering::SeqCst);
                leave(&m2, &left2);
            }
        });
        join(&m, &Arc::new(Notify::new()));
        // Whatever got in before the close had left by then.
        let at_close = left.load(Ordering::SeqCst);
        late.join().unwrap();
        assert_eq!(entered.load(Ordering::SeqCst), at_close);
    });
}
