//! The items a caller outside the pool offers to idle workers while it
//! measures ([`super::drive`], step 1).
//!
//! A call made from outside the pool (the script's main thread) times its
//! first items on the calling thread before it decides whether to split.
//! When an item is coarse (milliseconds), that first item runs alone while
//! every worker idles: 16 items of 15 ms on 2 workers then end after
//! 1 + 8 item times instead of 8 (1.78x, not 2x). The caller counts as one
//! of the pool's threads while it runs items itself, so while it measures,
//! up to `workers - 1` workers may help, no more (the call never has more
//! threads running items than the pool has workers).
//!
//! The protocol, all under one lock ([`Inner`]):
//! - The caller opens the offer (spawning one helper task) and claims its
//!   items one by one from the bottom (`lo`), only while measuring.
//! - A helper waits until the caller has measured for
//!   [`MEASURE_BUDGET`](super::drive::MEASURE_BUDGET) (a call that is done
//!   sooner, or decides to stay inline, closes the offer and no helper runs
//!   any item: small inputs stay on the calling thread). It then registers
//!   as running (the caller cannot return while one runs), spawns the next
//!   helper if fewer than `workers - 1` were spawned, and claims items one
//!   by one from the top (`hi`), running each at once.
//! - Once the caller has measured, it closes the offer: the bottom and top
//!   meet at the boundary `hi`; no helper claims again. Items `lo..hi` are
//!   the caller's to run inline or split over the pool as usual; the
//!   helpers' results (items `hi..n`) are written in their slots after the
//!   caller has waited for every running helper ([`OfferGuard::finish`]).
//!
//! No item is lost or run twice: each index is claimed exactly once, under
//! the lock, by moving `lo` up or `hi` down while `lo < hi`. A helper that
//! stops (its item failed, an earlier item failed, cancellation) reports
//! the item it claimed and did not run, which becomes a hole. No deadlock:
//! the caller waits only for helpers that are running items (never for
//! one that has not started: that one finds the offer closed and returns),
//! and a running helper takes no lock but this one, briefly.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use super::drive::{Call, MEASURE_BUDGET};
use super::work::cancelled;
use crate::error::{Error, ErrorKind};
use crate::pool::{CancelToken, ThreadPool};
use crate::value::Value;
use crate::vm::with_vm;

thread_local! {
    /// The code of the item function whose last call from this thread
    /// stayed on it with no help ([`ran_inline_last`]); 0: none.
    static LAST_INLINE: Cell<usize> = const { Cell::new(0) };
}

/// What identifies the code of an item function across calls (closures
/// made anew by each call share their compiled function); 0 if nothing
/// does.
fn code_key(f: &Value) -> usize {
    match f {
        Value::Func(c) => std::ptr::from_ref(c.proto) as usize,
        Value::Native(n) => std::ptr::from_ref(*n) as usize,
        _ => 0,
    }
}

/// Whether the last call of `f`'s code from this thread ran inline with no
/// help: then this one does not offer (spawning a helper costs a call of
/// four tiny items about 4 µs, five times the call). A call that turns out
/// coarse clears it, so the next call offers again.
pub(super) fn ran_inline_last(f: &Value) -> bool {
    let key = code_key(f);
    key != 0 && LAST_INLINE.with(Cell::get) == key
}

/// Remembers whether this call of `f` ran inline with no help.
pub(super) fn remember(f: &Value, inline: bool) {
    let key = code_key(f);
    LAST_INLINE.with(|last| {
        if inline {
            last.set(key);
        } else if last.get() == key {
            last.set(0);
        }
    });
}

/// The call and pool a running helper uses, their lifetimes erased.
#[derive(Clone, Copy)]
struct Target {
    call: *const Call<'static>,
    pool: *const ThreadPool,
}

// SAFETY: `Target` is only dereferenced by a helper registered as running
// (`Inner::running`), and the caller does not return (so neither the call
// nor the pool it borrows is dropped) while one runs: `OfferGuard`'s drop
// and `finish` wait for `running == 0`. `Call` is `Sync` (its chunks run
// on many threads through `&Call`), as is `ThreadPool`.
unsafe impl Send for Target {}

/// The offer's state, under [`Shared::inner`].
struct Inner {
    /// The next item the caller claims.
    lo: usize,
    /// Items `hi..n` are the helpers'.
    hi: usize,
    /// What helpers run; `None` once the caller closed the offer.
    target: Option<Target>,
    /// Helper tasks spawned.
    spawned: usize,
    /// Helpers between their start and their end: the caller waits for 0.
    running: usize,
    /// The helpers' items: the result, or `None` for an item claimed and
    /// not run (its slot stays a hole). Only when the call keeps results.
    results: Vec<(usize, Option<Value>)>,
    /// Items the helpers ran (for `--stats`: a call they helped is not
    /// inline).
    ran: usize,
}

struct Shared {
    inner: Mutex<Inner>,
    /// Signalled when `running` drops to 0.
    idle: Condvar,
    /// When the caller started measuring.
    started: Instant,
    /// At most this many helpers (the pool's workers - 1).
    max_helpers: usize,
    /// Whether results are kept (map, filter).
    keep: bool,
}

/// An open offer; closing it and waiting for its helpers is its drop (or
/// [`finish`](Self::finish)), so the call it points to outlives them.
pub(super) struct OfferGuard {
    shared: Arc<Shared>,
}

/// What the helpers did, once the offer is closed and they have all ended.
pub(super) struct Helped {
    /// Results (or holes) of items `boundary..n`, in no particular order.
    pub results: Vec<(usize, Option<Value>)>,
    /// Items the helpers ran.
    pub ran: usize,
}

impl OfferGuard {
    /// Offers items `0..n` of `call` to up to `pool.worker_count() - 1`
    /// helpers (`keep`: the call writes results). The caller must claim
    /// its items with [`claim`](Self::claim).
    pub(super) fn open(pool: &ThreadPool, call: &Call<'_>, n: usize, keep: bool) -> OfferGuard {
        let target = Target {
            call: std::ptr::from_ref(call).cast::<Call<'static>>(),
            pool: pool as *const ThreadPool,
        };
        let shared = Arc::new(Shared {
            inner: Mutex::new(Inner {
                lo: 0,
                hi: n,
                target: Some(target),
                spawned: 1,
                running: 0,
                results: Vec::new(),
                ran: 0,
            }),
            idle: Condvar::new(),
            started: Instant::now(),
            max_helpers: pool.worker_count().saturating_sub(1),
            keep,
        });
        let helper = Arc::clone(&shared);
        drop(pool.spawn(move || help(helper)));
        OfferGuard { shared }
    }

    /// Claims item `i` (the next one up) for the caller; `false` if a
    /// helper has it (every item from `i` on is then the helpers').
    pub(super) fn claim(&self, i: usize) -> bool {
        let mut inner = self.shared.inner.lock();
        debug_assert_eq!(inner.lo, i, "the caller claims in order");
        if inner.lo < inner.hi {
            inner.lo += 1;
            true
        } else {
            false
        }
    }

    /// Closes the offer (idempotent): no helper claims another item.
    /// Returns the boundary: items from it on are the helpers'.
    pub(super) fn close(&self) -> usize {
        let mut inner = self.shared.inner.lock();
        inner.target = None;
        inner.hi
    }

    /// Closes the offer, waits for the running helpers, and returns what
    /// they did.
    pub(super) fn finish(self) -> Helped {
        self.close();
        let mut inner = self.shared.inner.lock();
        while inner.running > 0 {
            self.shared.idle.wait(&mut inner);
        }
        Helped {
            results: std::mem::take(&mut inner.results),
            ran: inner.ran,
        }
    }
}

impl Drop for OfferGuard {
    fn drop(&mut self) {
        self.close();
        let mut inner = self.shared.inner.lock();
        while inner.running > 0 {
            self.shared.idle.wait(&mut inner);
        }
    }
}

/// Ends a helper's run (also when an item panics).
struct Running<'s>(&'s Shared);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut inner = self.0.inner.lock();
        inner.running -= 1;
        if inner.running == 0 {
            self.0.idle.notify_all();
        }
    }
}

/// A helper task: waits out the caller's measuring budget, then runs items
/// from the top until the offer closes or the items meet.
fn help(shared: Arc<Shared>) {
    // Small inputs are done (and the offer closed) within the budget.
    let budget = MEASURE_BUDGET;
    loop {
        if shared.inner.lock().target.is_none() {
            return;
        }
        if shared.started.elapsed() >= budget {
            break;
        }
        spin_a_little(budget.saturating_sub(shared.started.elapsed()));
    }
    let (target, spawn_next) = {
        let mut inner = shared.inner.lock();
        let Some(target) = inner.target else { return };
        if inner.lo >= inner.hi {
            return;
        }
        inner.running += 1;
        let next = inner.spawned < shared.max_helpers;
        if next {
            inner.spawned += 1;
        }
        (target, next)
    };
    let _running = Running(&shared);
    // SAFETY: this helper is registered as running, so the caller waits
    // (in `OfferGuard::finish` or its drop) before its call and pool go
    // away; see `Target`.
    let (call, pool) = unsafe { (&*target.call, &*target.pool) };
    if spawn_next {
        let next = Arc::clone(&shared);
        drop(pool.spawn(move || help(next)));
    }
    call.stats().chunk();
    call.stats().steal();
    let clock = call.stats().clock();
    // The helper is a job of its own: its thread's current cancel token is
    // its own, which nobody cancels. Its items must stop as the caller's
    // do (`within`, Ctrl-C, a cancelled task): a wait that cannot park (a
    // `sleep`, a channel wait outside a task) watches the thread's current
    // token, so the call's token is made current while the items run.
    let _token = CurrentToken::set(call.work().token().cloned());
    with_vm(|vm| {
        call.work().as_caller(vm, |vm| {
            let state = call.work().state(vm);
            loop {
                let j = {
                    let mut inner = shared.inner.lock();
                    if inner.target.is_none() || inner.lo >= inner.hi {
                        break;
                    }
                    inner.hi -= 1;
                    inner.hi
                };
                let work = call.work();
                let out = if work.failure.skips(j) {
                    None
                } else if work.cancelled() {
                    work.failure.record(j, cancelled());
                    None
                } else {
                    // A native panic is a bug, but must not leave item
                    // `j`'s slot unaccounted for: it becomes the call's
                    // error (and the result vector is leaked, not read).
                    let run = panic::catch_unwind(AssertUnwindSafe(|| match &state {
                        Ok(s) => call.item(vm, j, s.as_ref()),
                        Err(e) => call.failed_value(j, None, e.clone()),
                    }));
                    run.unwrap_or_else(|_| {
                        work.failure.mark_panicked();
                        let e = Error::new(ErrorKind::Error, "internal error: an item panicked");
                        work.failure.record(j, e);
                        None
                    })
                };
                let stop = out.is_none();
                let mut inner = shared.inner.lock();
                if !stop {
                    inner.ran += 1;
                }
                if shared.keep {
                    inner.results.push((j, out));
                }
                drop(inner);
                if stop {
                    break;
                }
                work.count(1);
            }
        })
    });
    call.stats().busy_since(clock);
}

/// Makes a token this thread's current cancel token until dropped (also
/// when a helper unwinds), then puts the previous one back.
struct CurrentToken(Option<CancelToken>);

impl CurrentToken {
    fn set(token: Option<CancelToken>) -> CurrentToken {
        CurrentToken(crate::pool::set_current_cancel_token(token))
    }
}

impl Drop for CurrentToken {
    fn drop(&mut self) {
        crate::pool::set_current_cancel_token(self.0.take());
    }
}

/// Waits a moment (at most `left`) for the caller's budget to run out.
fn spin_a_little(left: Duration) {
    if left > Duration::from_micros(5) {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}
