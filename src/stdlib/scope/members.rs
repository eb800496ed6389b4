//! A scope's members: the count of its unfinished children and the one
//! waiter for that count to reach zero, after which the scope is closed
//! (steps 1, 2 and 4 of "Scopes and deadlines" in
//! `src/pool/cancel/README.md`). Model-checked with loom:
//! `RUSTFLAGS="--cfg loom" cargo test --release --lib stdlib::scope`.

#[cfg(not(loom))]
use parking_lot::Mutex;

/// loom's mutex with `parking_lot`'s calling style.
#[cfg(loom)]
struct Mutex<T>(loom::sync::Mutex<T>);

#[cfg(loom)]
type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

#[cfg(loom)]
impl<T> Mutex<T> {
    fn new(v: T) -> Self {
        Mutex(loom::sync::Mutex::new(v))
    }

    fn lock(&self) -> MutexGuard<'_, T> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Children spawned (or being spawned) and not finished, and who waits for
/// there to be none. `W` is how the waiter is woken (a parked task's
/// waker, or a thread's signal).
pub(crate) struct Members<W> {
    state: Mutex<State<W>>,
}

struct State<W> {
    live: usize,
    closed: bool,
    waiter: Option<W>,
}

impl<W> Members<W> {
    pub(crate) fn new() -> Self {
        Members {
            state: Mutex::new(State {
                live: 0,
                closed: false,
                waiter: None,
            }),
        }
    }

    /// Makes room for a child about to be spawned, before it exists (so
    /// the scope cannot close meanwhile); false once the scope is closed.
    pub(crate) fn enter(&self) -> bool {
        let mut s = self.state.lock();
        if s.closed {
            return false;
        }
        s.live += 1;
        true
    }

    /// A child finished (or its spawn failed): the waiter to wake, if it
    /// was the last one. Called after everything the child leaves for the
    /// joiner (its failure) is recorded.
    pub(crate) fn leave(&self) -> Option<W> {
        let mut s = self.state.lock();
        s.live -= 1;
        if s.live == 0 {
            s.waiter.take()
        } else {
            None
        }
    }

    /// The joiner's check: true if no child is left, and then the scope is
    /// closed for good; else `waiter()` is stored (under the lock `leave`
    /// takes it with, so the last leave cannot miss it) and false.
    pub(crate) fn close_if_empty(&self, waiter: impl FnOnce() -> W) -> bool {
        let mut s = self.state.lock();
        if s.live == 0 {
            s.closed = true;
            s.waiter = None;
            return true;
        }
        s.waiter = Some(waiter());
        false
    }

    /// How many children are left (for messages).
    pub(crate) fn live(&self) -> usize {
        self.state.lock().live
    }
}
