//! Pool timers: deadlines for parked tasks (`sleep`, timeouts) without a
//! thread per sleeper. One heap of deadlines per pool, serviced by one
//! timer thread that is started with the first timer and sleeps on a
//! condvar until the earliest deadline (so an idle pool with pending
//! timers uses no CPU between deadlines). The design and its guarantees
//! are written up in `README.md` beside this file.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use super::registry::Registry;

type Callback = Box<dyn FnOnce() + Send>;

/// The timer thread's stack: it only runs short callbacks (wakes).
const TIMER_STACK: usize = 256 * 1024;

#[derive(Default)]
struct State {
    /// Deadlines, earliest first; an id whose callback is gone was
    /// cancelled and is skipped when it comes up.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    callbacks: HashMap<u64, Callback>,
    next_id: u64,
    thread: Option<JoinHandle<()>>,
    shutdown: bool,
}

/// The timers of one pool.
pub(crate) struct Timers {
    state: Mutex<State>,
    cv: Condvar,
    /// Armed and neither fired nor cancelled (also `callbacks.len()`).
    pending: AtomicUsize,
    armed: AtomicU64,
    stack: usize,
}

/// A pending timer. Dropping it (or [`Timer::cancel`]) cancels it if it
/// has not fired.
///
/// One pointer (the handle is boxed): a handle sits in every channel
/// object (`after`, `ticker`) and in every timed wait, most of which never
/// hold one.
#[must_use = "dropping a Timer cancels it"]
pub struct Timer(Box<TimerRef>);

/// What a [`Timer`] points at.
struct TimerRef {
    id: u64,
    timers: Weak<Timers>,
    registry: Weak<Registry>,
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").field("id", &self.0.id).finish()
    }
}

impl Timer {
    fn new(id: u64, timers: Weak<Timers>, registry: Weak<Registry>) -> Timer {
        Timer(Box::new(TimerRef {
            id,
            timers,
            registry,
        }))
    }

    /// Cancels the timer; true if it had not fired (its callback is then
    /// dropped unrun).
    pub fn cancel(&self) -> bool {
        match self.0.timers.upgrade() {
            Some(t) => t.cancel(self.0.id, &self.0.registry),
            None => false,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl Timers {
    pub(crate) fn new() -> Arc<Timers> {
        Arc::new(Timers {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            pending: AtomicUsize::new(0),
            armed: AtomicU64::new(0),
            stack: TIMER_STACK,
        })
    }

    /// Timers pending now.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::SeqCst)
    }

    /// Timers armed so far.
    pub(crate) fn armed(&self) -> u64 {
        self.armed.load(Ordering::Relaxed)
    }

    /// Calls `f` on the timer thread at `deadline` (at once, on that
    /// thread, if it has passed). `f` must be short and must not block.
    pub(crate) fn arm(
        self: &Arc<Self>,
        registry: &Arc<Registry>,
        deadline: Instant,
        f: Callback,
    ) -> Timer {
        let mut st = self.state.lock();
        let id = st.next_id;
        st.next_id += 1;
        if st.shutdown {
            // Never fires: the pool is going away.
            return Timer::new(id, Weak::new(), Weak::new());
        }
        let earliest = st
            .heap
            .peek()
            .map_or(true, |Reverse((at, _))| deadline < *at);
        st.heap.push(Reverse((deadline, id)));
        st.callbacks.insert(id, f);
        self.pending.fetch_add(1, Ordering::SeqCst);
        self.armed.fetch_add(1, Ordering::Relaxed);
        if st.thread.is_none() {
            let timers = Arc::clone(self);
            let weak = Arc::downgrade(registry);
            st.thread = thread::Builder::new()
                .name("weft-timers".into())
                .stack_size(self.stack)
                .spawn(move || timers.run(weak))
                .ok();
            if st.thread.is_none() {
                // No thread: fire on the next arm that can start one; the
                // pending timer still counts (nothing is lost, only late).
                drop(st);
                return Timer::new(id, Arc::downgrade(self), Arc::downgrade(registry));
            }
        } else if earliest {
            self.cv.notify_one();
        }
        Timer::new(id, Arc::downgrade(self), Arc::downgrade(registry))
    }

    fn cancel(&self, id: u64, registry: &Weak<Registry>) -> bool {
        let removed = self.state.lock().callbacks.remove(&id);
        match removed {
            Some(cb) => {
                self.pending.fetch_sub(1, Ordering::SeqCst);
                drop(cb);
                if let Some(r) = registry.upgrade() {
                    r.check_quiescent();
                }
                true
            }
            None => false,
        }
    }

    /// The timer thread: fire what is due, sleep until the next deadline.
    fn run(&self, registry: Weak<Registry>) {
        let mut st = self.state.lock();
        loop {
            if st.shutdown {
                return;
            }
            let now = Instant::now();
            let mut due: Vec<Callback> = Vec::new();
            while let Some(Reverse((at, id))) = st.heap.peek().copied() {
                if !st.callbacks.contains_key(&id) {
                    st.heap.pop(); // cancelled
                    continue;
                }
                if at > now {
                    break;
                }
                st.heap.pop();
                if let Some(cb) = st.callbacks.remove(&id) {
                    due.push(cb);
                }
            }
            if !due.is_empty() {
                drop(st);
                let n = due.len();
                for cb in due {
                    // A panicking callback must not kill the timer thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(cb));
                }
                self.pending.fetch_sub(n, Ordering::SeqCst);
                if let Some(r) = registry.upgrade() {
                    r.check_quiescent();
                }
                st = self.state.lock();
                continue;
            }
            match st.heap.peek().copied() {
                Some(Reverse((at, _))) => {
                    self.cv.wait_until(&mut st, at);
                }
                None => self.cv.wait(&mut st),
            }
        }
    }

    /// Shutdown: the thread exits; pending timers never fire. Returns the
    /// thread to join.
    pub(crate) fn shutdown(&self) -> Option<JoinHandle<()>> {
        let mut st = self.state.lock();
        st.shutdown = true;
        let n = st.callbacks.len();
        st.callbacks.clear();
        st.heap.clear();
        self.pending.fetch_sub(n, Ordering::SeqCst);
        self.cv.notify_all();
        st.thread.take()
    }
}

#[cfg(all(test, not(loom)))]
mod test;
