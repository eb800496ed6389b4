//! Loom models of the run-next slot. Run with
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib pool::run_next`.
//!
//! Each model ends by collecting every item from wherever it went (moved
//! to the deque by a later put, taken by the owner, taken by a thief, or
//! still in the slot) and checks that each item was taken exactly once:
//! no task is lost, none runs twice.

use loom::sync::Arc;
use loom::thread;

use super::RunNext;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

fn item(n: usize) -> *mut () {
    Box::into_raw(Box::new(n)) as *mut ()
}

/// Reclaims an item; returns its number.
fn reclaim(p: *mut ()) -> usize {
    // SAFETY: every item comes from `item`, and each is reclaimed once
    // (which is what the models check: a double take would be a double
    // free, which loom's checked allocations would also report).
    *unsafe { Box::from_raw(p as *mut usize) }
}

/// A thief's look: peek, and take what it saw (the grace period is time,
/// which loom has not; the model lets the thief take at once, the worst
/// case for the race with the owner).
fn thief_look(slot: &RunNext) -> Option<usize> {
    let seen = slot.peek();
    if seen.is_null() {
        return None;
    }
    slot.steal(seen).map(reclaim)
}

fn check(mut got: Vec<usize>, want: &[usize]) {
    got.sort_unstable();
    assert_eq!(got, want, "each task taken exactly once");
}

#[test]
fn owner_take_and_thief_take_race_for_one_task() {
    model(|| {
        let slot = Arc::new(RunNext::new());
        assert!(slot.put(item(1)).is_none());
        let thief = {
            let slot = slot.clone();
            thread::spawn(move || thief_look(&slot))
        };
        let mut got: Vec<usize> = slot.take().map(reclaim).into_iter().collect();
        got.extend(thief.join().unwrap());
        got.extend(slot.take().map(reclaim));
        check(got, &[1]);
    });
}

#[test]
fn a_put_displacing_the_occupant_races_a_thief() {
    model(|| {
        let slot = Arc::new(RunNext::new());
        let thief = {
            let slot = slot.clone();
            thread::spawn(move || {
                let mut got = Vec::new();
                for _ in 0..2 {
                    got.extend(thief_look(&slot));
                }
                got
            })
        };
        // The owner: wake 1 into the slot, wake 2 (1 moves to the deque),
        // then run what is next.
        let mut got = Vec::new();
        assert!(slot.put(item(1)).is_none());
        got.extend(slot.put(item(2)).map(reclaim));
        got.extend(slot.take().map(reclaim));
        got.extend(thief.join().unwrap());
        got.extend(slot.take().map(reclaim));
        check(got, &[1, 2]);
    });
}

#[test]
fn two_thieves_and_the_owner_race_for_one_task() {
    model(|| {
        let slot = Arc::new(RunNext::new());
        assert!(slot.put(item(7)).is_none());
        let thieves: Vec<_> = (0..2)
            .map(|_| {
                let slot = slot.clone();
                thread::spawn(move || thief_look(&slot))
            })
            .collect();
        let mut got: Vec<usize> = slot.take().map(reclaim).into_iter().collect();
        for t in thieves {
            got.extend(t.join().unwrap());
        }
        got.extend(slot.take().map(reclaim));
        check(got, &[7]);
    });
}

#[test]
fn a_stale_look_never_takes_a_newer_occupant() {
    model(|| {
        let slot = Arc::new(RunNext::new());
        let first = item(1);
        assert!(slot.put(first).is_none());
        let seen = slot.peek();
        // Items stay allocated until the end, so a newer one never has
        // the address of the one the thief saw.
        let owner = {
            let slot = slot.clone();
            thread::spawn(move || {
                // The owner runs 1, then wakes 2 into the slot.
                let taken = slot.take().map(|p| p as usize);
                let second = item(2);
                let displaced = slot.put(second).map(|p| p as usize);
                (taken, displaced, second as usize)
            })
        };
        // A thief that saw 1 takes 1 or nothing: never 2.
        let stolen = slot.steal(seen);
        let (taken, displaced, second) = owner.join().unwrap();
        assert_ne!(
            stolen.map(|p| p as usize),
            Some(second),
            "a thief took an occupant it never saw"
        );
        let mut got: Vec<usize> = stolen.into_iter().map(reclaim).collect();
        got.extend(
            [taken, displaced]
                .into_iter()
                .flatten()
                .map(|p| reclaim(p as *mut ())),
        );
        got.extend(slot.take().map(reclaim));
        check(got, &[1, 2]);
    });
}
