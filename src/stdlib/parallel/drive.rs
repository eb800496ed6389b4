//! Running one `parallel_map`, `parallel_filter` or `parallel_for_each`
//! over a list, range or string: measure on the caller, then split the
//! rest over the pool with results written in place. (Reductions have a
//! fixed tree: [`super::reduce`]; channels stream: [`super::stream`].)
//!
//! 1. **Measure.** The caller runs items itself, timing them (a clock read
//!    after 1, 2, 4, 8, ... items). If everything is done within
//!    [`MEASURE_BUDGET`], or the measured cost of what is left is below
//!    [`INLINE_WORK`], the call finishes on the caller: no task, and a
//!    script that only ever maps small inputs never starts the pool.
//!    From outside the pool, idle workers of a started pool take items
//!    from the end meanwhile (one fewer than the workers: the caller
//!    counts as one), so a coarse first item does not run alone
//!    ([`super::offer`]).
//! 2. **Split.** The rest goes to the pool as a binary tree of
//!    `join_context`s. A [`Splitter`] allows `worker_count` splits along
//!    each path and is refilled on a half that was stolen (`migrated`), so
//!    the tree is cut finer exactly where threads run dry (rayon's adaptive
//!    splitter). Every split point lies on the [`Grid`]: a cache-line
//!    boundary of the output buffer, so no two threads write results into
//!    the same cache line.
//! 3. **Slice.** A leaf that has run for [`LEAF_SLICE`] and still has
//!    enough items left stops and splits its remainder (it keeps the first
//!    half, offers the second to thieves). A leaf is therefore never much
//!    longer than a slice, which bounds the imbalance at the end of an
//!    uneven (e.g. triangular) workload whatever the first items cost.
//!
//! Results: map and filter get one preallocated buffer of `len` slots (the
//! spare capacity of the result list itself, left uninitialised so that no
//! thread fills it twice), split with `split_at_mut` down the tree; each
//! item's result is written in its slot (filter writes a keep flag, then
//! keeps items in one pass). An item that did not run (the work stopped on
//! an error or a cancellation) leaves its slot unwritten and its range in
//! the call's list of holes: the result is thrown away then, so only the
//! slots written are dropped, and a Ctrl-C early in a call of ten million
//! items does not first write ten million nils. Nothing is
//! concatenated at the end.
//!
//! Errors and cancellation: see [`super::failure::Failure`] and
//! [`Work::fail`] (`errors: "collect"` writes nil, or for filter "do not
//! keep", and goes on). The caller's cancellation
//! (its VM's task token and cancel flag) is checked before every item and
//! installed in every VM that runs items, so cancelling the enclosing task
//! stops the work between items and inside long ones.

use std::mem::{self, MaybeUninit};
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::input::Input;
use super::offer::{self, OfferGuard};
use super::stats::CallStats;
use super::work::{cancelled, Work};
use crate::error::{Error, ErrorKind, Result};
use crate::pool::{JoinContext, ThreadPool};
use crate::runtime;
use crate::value::Value;
use crate::vm::{with_vm, Vm};

/// How long the caller runs items before it decides (step 1).
pub(super) const MEASURE_BUDGET: Duration = Duration::from_micros(20);
/// Measured work left below this runs on the caller: splitting and waking
/// a worker would cost about as much as it saves.
pub(super) const INLINE_WORK: Duration = Duration::from_micros(50);
/// How long a leaf runs before it splits what it has left (step 3).
pub(super) const LEAF_SLICE: Duration = Duration::from_micros(100);

/// The operation applied to every item (the function is [`Work::f`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Op {
    /// `slot = f(x)`.
    Map,
    /// `slot = truthy(f(x))`.
    Filter,
    /// `f(x)`, result dropped.
    ForEach,
}

/// Where a split may fall: indices `i` with `i % step == phase`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Grid {
    step: usize,
    phase: usize,
}

impl Grid {
    /// Boundaries at the cache lines of `slots` (lines of `line` bytes):
    /// every `line / size_of::<Value>()` items, starting where the buffer's
    /// first full line starts. Without slots (for_each, reduce) any index
    /// will do.
    pub(super) fn cache_lines(slots: Option<&[MaybeUninit<Value>]>, line: usize) -> Grid {
        let size = mem::size_of::<Value>();
        let Some(slots) = slots else {
            return Grid { step: 1, phase: 0 };
        };
        let step = (line / size).max(1);
        let addr = slots.as_ptr() as usize;
        // Allocators align to 16 bytes, so slot boundaries meet line
        // boundaries; if not, index multiples are the best we can do.
        let phase = if line % size == 0 && addr % size == 0 {
            ((line - addr % line) % line) / size
        } else {
            0
        };
        Grid { step, phase }
    }

    /// Boundaries at `i % step == phase`.
    #[cfg(test)]
    pub(super) fn with(step: usize, phase: usize) -> Grid {
        Grid { step, phase }
    }

    /// The first grid point at or after `i`.
    pub(super) fn ceil(&self, i: usize) -> usize {
        let above = (i + self.step - self.phase % self.step) % self.step;
        if above == 0 {
            i
        } else {
            i + (self.step - above)
        }
    }

    /// This grid, or every index if one cell of it takes longer than a
    /// leaf's slice at the measured cost (`elapsed` for `done` items):
    /// items that costly are few per leaf, and a leaf that cannot split
    /// inside a cell leaves up to a cell's worth of items to one thread at
    /// the end (60 items of 4 ms on a grid of 4: up to 12 ms alone),
    /// while a result written once per item next to another thread's
    /// costs nothing worth a cache line.
    pub(super) fn for_cost(self, elapsed: Duration, done: usize) -> Grid {
        // elapsed / done * step >= slice, in whole nanoseconds.
        if elapsed.as_nanos() * self.step as u128 >= LEAF_SLICE.as_nanos() * done.max(1) as u128 {
            Grid { step: 1, phase: 0 }
        } else {
            self
        }
    }

    /// Boundaries every `chunk` items from 0 (the `chunk_size` option).
    pub(super) fn chunks(chunk: usize) -> Grid {
        Grid {
            step: chunk.max(1),
            phase: 0,
        }
    }

    /// The grid point nearest below the middle of `lo..hi`, strictly inside
    /// it (the one above if that is `lo`), or `None` if there is none.
    pub(super) fn mid(&self, lo: usize, hi: usize) -> Option<usize> {
        if hi.saturating_sub(lo) < 2 {
            return None;
        }
        let target = lo + (hi - lo) / 2;
        // How far `target` is above the grid point at or below it.
        let above = (target + self.step - self.phase % self.step) % self.step;
        let m = match target.checked_sub(above) {
            Some(m) if m > lo => m,
            _ => target + (self.step - above),
        };
        (m < hi).then_some(m)
    }
}

/// How many more times a path of the tree may split (rayon's adaptive
/// splitter); `Fixed` splits down to single grid cells (`chunk_size`).
#[derive(Clone, Copy, Debug)]
pub(super) enum Splitter {
    /// Split while `splits > 0`, halving it; refill to `threads` when stolen.
    Adaptive {
        /// Splits left on this path.
        splits: usize,
        /// The pool's worker count.
        threads: usize,
    },
    /// Split until one chunk is left.
    Fixed,
}

impl Splitter {
    /// A fresh splitter for a pool of `threads` workers.
    pub(super) fn new(threads: usize) -> Splitter {
        Splitter::Adaptive {
            splits: threads,
            threads,
        }
    }

    /// Whether to split once more (`migrated`: this part was stolen).
    pub(super) fn try_split(&mut self, migrated: bool) -> bool {
        match self {
            Splitter::Fixed => true,
            Splitter::Adaptive { splits, threads } => {
                if migrated {
                    *splits = (*threads).max(*splits / 2);
                    true
                } else if *splits > 0 {
                    *splits /= 2;
                    true
                } else {
                    false
                }
            }
        }
    }
}

/// When [`Call::run_slice`] may stop early to let the caller decide.
#[derive(Clone, Copy, Debug)]
enum Budget {
    /// Run to the end.
    None,
    /// Pause once this much time has passed (the caller's measurement).
    Measure(Duration),
    /// Pause once this much time has passed, if the rest can be split.
    Leaf(Duration),
}

/// How [`Call::run_slice`] ended.
#[derive(Clone, Copy, Debug)]
enum Slice {
    /// Every item ran.
    Done,
    /// An item failed, the call was cancelled, or an earlier item failed.
    Stopped,
    /// The budget ran out before item `at`, after `elapsed`.
    Paused { at: usize, elapsed: Duration },
}

/// One call of `parallel_map`, `parallel_filter` or `parallel_for_each`
/// over an indexable input: what runs, and the state its chunks share.
#[derive(Debug)]
pub(super) struct Call<'a> {
    input: &'a Input,
    op: Op,
    chunk: Option<usize>,
    work: &'a Work,
    stats: &'a CallStats,
    /// Output slots left unwritten because the work stopped (an error, a
    /// cancellation): absolute index ranges. Written nowhere on success.
    holes: Mutex<Vec<(usize, usize)>>,
    /// The started pool whose idle workers may help while a caller from
    /// outside it measures (`offer.rs`); `None`: no help.
    offer_to: Option<&'a ThreadPool>,
}

impl<'a> Call<'a> {
    /// A call of `op` over `input`, with `work` (the function and what the
    /// threads share). `chunk`: the `chunk_size` option.
    pub(super) fn new(
        input: &'a Input,
        op: Op,
        chunk: Option<usize>,
        work: &'a Work,
        stats: &'a CallStats,
    ) -> Call<'a> {
        Call {
            input,
            op,
            chunk,
            work,
            stats,
            holes: Mutex::new(Vec::new()),
            offer_to: None,
        }
    }

    /// Lets idle workers of `pool` (if started) help while a caller from
    /// outside it measures.
    pub(super) fn offering_to(mut self, pool: Option<&'a ThreadPool>) -> Call<'a> {
        self.offer_to = pool;
        self
    }

    /// The work its items share.
    pub(super) fn work(&self) -> &Work {
        self.work
    }

    /// Its `--stats` counters.
    pub(super) fn stats(&self) -> &CallStats {
        self.stats
    }

    /// Runs the call on the calling thread's `vm` and the pool. `out`
    /// (map, filter) is an empty vector with room for one result per item;
    /// it is filled in place (nil for a failed item; for filter, whether to
    /// keep the item). Returns the first error in input order, unless
    /// failures are collected.
    pub(super) fn run(self, vm: &mut Vm, out: Option<&mut Vec<Value>>) -> Result<()> {
        self.offering_to(runtime::started_pool())
            .run_on(vm, out, runtime::pool)
    }

    /// As [`run`](Self::run), with the pool `pool()` (started only if the
    /// work is split).
    pub(super) fn run_on<'p>(
        &self,
        vm: &mut Vm,
        mut out: Option<&mut Vec<Value>>,
        pool: impl FnOnce() -> Result<&'p ThreadPool>,
    ) -> Result<()> {
        let n = self.input.len();
        let slots = out.as_deref_mut().map(|v| {
            v.clear();
            v.reserve_exact(n);
            &mut v.spare_capacity_mut()[..n]
        });
        let started = Instant::now();
        let r = self.run_slots(vm, slots, pool);
        self.stats.wall(started.elapsed());
        if let (Some(v), true) = (out, self.work.failure.ended_cleanly()) {
            let mut holes = mem::take(&mut *self.holes.lock());
            if r.is_ok() {
                // Normally no holes: work only stops on an error. Should
                // one exist, its items did not run: nil.
                for &(lo, hi) in &holes {
                    for slot in &mut v.spare_capacity_mut()[lo..hi] {
                        slot.write(Value::Nil);
                    }
                }
                // SAFETY: every path through `run_slots` that returns (the
                // only exception is a panic in a worker, reported as `Err`
                // with `ended_cleanly() == false`, where we leak instead)
                // writes each of the first `n` slots exactly once or
                // records it in a hole (`hole`), and the holes were just
                // written. `n <= capacity` by `reserve_exact` above.
                unsafe { v.set_len(n) };
            } else {
                // The result is thrown away: drop the results written,
                // skipping the holes (after a Ctrl-C early in a long call,
                // most of the buffer), and leave the vector empty.
                holes.sort_unstable();
                let mut at = 0;
                for (lo, hi) in holes.into_iter().chain([(n, n)]) {
                    let written = &mut v.spare_capacity_mut()[at..lo.max(at)];
                    for slot in written {
                        // SAFETY: outside every hole, each of the first `n`
                        // slots was written exactly once (as above), and the
                        // vector's length stays 0, so nothing else drops it.
                        unsafe { slot.assume_init_drop() };
                    }
                    at = at.max(hi);
                }
            }
        }
        r
    }

    /// Records that the slots of items `lo..hi` stay unwritten (the work
    /// stopped before them); a no-op without output slots.
    #[cold]
    fn hole(&self, slots: &Slots<'_>, lo: usize, hi: usize) {
        if slots.is_some() && lo < hi {
            self.holes.lock().push((lo, hi));
        }
    }

    /// [`run_on`](Self::run_on) on the uninitialised `slots`; every slot
    /// is written before it returns (unless a worker panicked).
    fn run_slots<'p>(
        &self,
        vm: &mut Vm,
        mut slots: Slots<'_>,
        pool: impl FnOnce() -> Result<&'p ThreadPool>,
    ) -> Result<()> {
        let n = self.input.len();
        let grid = match self.chunk {
            Some(c) => Grid::chunks(c),
            None => Grid::cache_lines(slots.as_deref(), runtime::config().cache_line_size()),
        };
        // From outside the pool, idle workers may help while the caller
        // measures (`offer.rs`).
        let offer = match (self.chunk, self.offer_to) {
            (None, Some(p)) if offer_helps(p, n) && !offer::ran_inline_last(&self.work.f) => {
                Some(OfferGuard::open(p, self, n, slots.is_some()))
            }
            _ => None,
        };
        let (rest, inline, hi) = self.work.as_caller(vm, |vm| match self.chunk {
            Some(c) if n > c => (Some((0, grid)), None, n),
            Some(_) => {
                self.run_slice(vm, 0, n, slots.as_deref_mut(), Budget::None, grid, None);
                (None, Some("one chunk"), n)
            }
            None => {
                let budget = Budget::Measure(MEASURE_BUDGET);
                let slice =
                    self.run_slice(vm, 0, n, slots.as_deref_mut(), budget, grid, offer.as_ref());
                // The caller's items end at `hi`; the helpers ran the rest.
                let hi = offer.as_ref().map_or(n, OfferGuard::close);
                match slice {
                    Slice::Paused { at, elapsed } if !worth_splitting(elapsed, at, hi) => {
                        let rest = slots.as_deref_mut().map(|s| &mut s[at..hi]);
                        self.run_slice(vm, at, hi, rest, Budget::None, grid, None);
                        (None, Some("too little work"), hi)
                    }
                    Slice::Paused { at, elapsed } => {
                        (Some((at, grid.for_cost(elapsed, at))), None, hi)
                    }
                    Slice::Done => (None, Some("done while measuring"), hi),
                    Slice::Stopped => (None, None, hi),
                }
            }
        });
        let (mine, theirs) = split_slots(slots, hi);
        let r = match rest {
            Some((from, grid)) => {
                let rest = mine.map(|s| &mut s[from..]);
                match pool() {
                    Ok(pool) => self.run_on_pool(pool, from, hi, rest, grid),
                    Err(e) => {
                        self.hole(&rest, from, hi);
                        self.work.failure.record(from, e);
                        Ok(())
                    }
                }
            }
            None => Ok(()),
        };
        let helped = offer.map_or(0, |o| self.merge(o, theirs, hi));
        if let (Some(why), 0) = (inline, helped) {
            self.stats.ran_inline(why);
        }
        if self.chunk.is_none() {
            offer::remember(&self.work.f, inline.is_some() && helped == 0);
        }
        r?;
        match self.work.failure.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Closes `offer`, waits for its helpers and writes their results in
    /// `theirs` (the slots of items `hi..`); an item a helper claimed and
    /// did not run is a hole. Returns how many items the helpers ran.
    fn merge(&self, offer: OfferGuard, theirs: Slots<'_>, hi: usize) -> usize {
        let helped = offer.finish();
        if let Some(theirs) = theirs {
            for (j, v) in helped.results {
                match v {
                    Some(v) => {
                        theirs[j - hi].write(v);
                    }
                    None => self.holes.lock().push((j, j + 1)),
                }
            }
        }
        helped.ran
    }

    /// Items `from..n` on the pool (step 2).
    fn run_on_pool(
        &self,
        pool: &ThreadPool,
        from: usize,
        n: usize,
        slots: Slots<'_>,
        grid: Grid,
    ) -> Result<()> {
        let splitter = match self.chunk {
            Some(_) => Splitter::Fixed,
            None => Splitter::new(pool.worker_count()),
        };
        // A native panic is a bug, but it must not take the script down.
        panic::catch_unwind(AssertUnwindSafe(|| {
            if pool.config().work_stealing() {
                pool.install(|| self.drive(pool, from, n, slots, splitter, false, grid))
            } else {
                self.deal(pool, from, n, slots, grid)
            }
        }))
        .map_err(|payload| {
            self.work.failure.mark_panicked();
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            Error::new(ErrorKind::Error, format!("internal error: {what}"))
        })
    }

    /// Without work stealing (`work_stealing = false`, thread-per-core
    /// style): items `from..n` are cut into one part per worker on grid
    /// points (or into the `chunk_size` chunks), and the pool deals the
    /// parts round-robin to its workers ([`ThreadPool::parallel_for`]).
    /// Nobody steals, so nothing adapts: this is the baseline that shows
    /// what stealing buys.
    fn deal(&self, pool: &ThreadPool, from: usize, n: usize, slots: Slots<'_>, grid: Grid) {
        let mut bounds = vec![from];
        match self.chunk {
            Some(c) => bounds.extend((from + c..n).step_by(c)),
            None => {
                let k = pool.worker_count();
                for j in 1..k {
                    let at = grid.ceil(from + (n - from) * j / k);
                    if at > bounds[bounds.len() - 1] && at < n {
                        bounds.push(at);
                    }
                }
            }
        }
        bounds.push(n);
        let mut parts = Vec::with_capacity(bounds.len() - 1);
        let mut rest = slots;
        for w in bounds.windows(2) {
            let (part, tail) = split_slots(rest, w[1] - w[0]);
            parts.push(Mutex::new(Some((w[0], w[1], part))));
            rest = tail;
        }
        pool.parallel_for(0..parts.len(), 1, |range| {
            for j in range {
                if let Some((lo, hi, part)) = parts[j].lock().take() {
                    self.leaf(pool, lo, hi, part, Splitter::Fixed, grid);
                }
            }
        });
    }

    /// Items `lo..hi`, split or run as a leaf.
    #[allow(clippy::too_many_arguments)]
    fn drive(
        &self,
        pool: &ThreadPool,
        lo: usize,
        hi: usize,
        slots: Slots<'_>,
        mut splitter: Splitter,
        migrated: bool,
        grid: Grid,
    ) {
        if self.work.failure.skips(lo) {
            self.hole(&slots, lo, hi);
            return;
        }
        if let Some(mid) = grid.mid(lo, hi) {
            if splitter.try_split(migrated) {
                let (left, right) = split_slots(slots, mid - lo);
                pool.join_context(
                    |ctx: JoinContext| {
                        self.drive(pool, lo, mid, left, splitter, ctx.migrated(), grid)
                    },
                    |ctx: JoinContext| {
                        if ctx.migrated() {
                            self.stats.steal();
                        }
                        self.drive(pool, mid, hi, right, splitter, ctx.migrated(), grid)
                    },
                );
                return;
            }
        }
        self.leaf(pool, lo, hi, slots, splitter, grid)
    }

    /// Runs items `lo..hi` on this thread (step 3: splits the remainder
    /// once it has run for a slice).
    fn leaf(
        &self,
        pool: &ThreadPool,
        lo: usize,
        hi: usize,
        mut slots: Slots<'_>,
        splitter: Splitter,
        grid: Grid,
    ) {
        let budget = match splitter {
            Splitter::Fixed => Budget::None,
            Splitter::Adaptive { .. } => Budget::Leaf(LEAF_SLICE),
        };
        self.stats.chunk();
        let clock = self.stats.clock();
        let slice = with_vm(|vm| {
            self.work.as_caller(vm, |vm| {
                self.run_slice(vm, lo, hi, slots.as_deref_mut(), budget, grid, None)
            })
        });
        self.stats.busy_since(clock);
        if let Slice::Paused { at, .. } = slice {
            let threads = match splitter {
                Splitter::Adaptive { threads, .. } => threads,
                Splitter::Fixed => 1,
            };
            // One split: this thread keeps the first half, the second
            // is offered to thieves (and refilled if one takes it).
            let once = Splitter::Adaptive { splits: 1, threads };
            let rest = slots.map(|s| &mut s[at - lo..]);
            self.drive(pool, at, hi, rest, once, false, grid);
        }
    }

    /// Runs items `lo..hi` in order on `vm`, writing `slots` (which start
    /// at item `lo`), until done, stopped, or `budget` says to pause.
    /// Writes every slot before returning, except after a pause, where the
    /// slots from `at` on are the caller's.
    #[allow(clippy::too_many_arguments)]
    fn run_slice(
        &self,
        vm: &mut Vm,
        lo: usize,
        hi: usize,
        mut slots: Slots<'_>,
        budget: Budget,
        grid: Grid,
        offer: Option<&OfferGuard>,
    ) -> Slice {
        let (mut limit, pause_needs_split) = match budget {
            Budget::None => (None, false),
            Budget::Measure(d) => (Some(d), false),
            Budget::Leaf(d) => (Some(d), true),
        };
        let work = self.work;
        let state = match work.state(vm) {
            Ok(s) => s,
            Err(e) => return self.fail_all(lo, hi, slots, e, offer),
        };
        let start = limit.map(|_| Instant::now());
        let shown = work.progress.is_some();
        let mut next_check = lo + 1;
        let mut reported = lo;
        let mut i = lo;
        let end = loop {
            if i >= hi {
                break Slice::Done;
            }
            if work.failure.skips(i) {
                break Slice::Stopped;
            }
            if work.cancelled() {
                work.failure.record(i, cancelled());
                break Slice::Stopped;
            }
            if let (Some(d), Some(start)) = (limit, start) {
                if i == next_check {
                    let elapsed = start.elapsed();
                    if elapsed >= d {
                        if !pause_needs_split || grid.mid(i, hi).is_some() {
                            break Slice::Paused { at: i, elapsed };
                        }
                        // Too little left to split: finish without the clock.
                        limit = None;
                    }
                    next_check = i + (i - lo);
                    work.count(i - reported);
                    reported = i;
                }
            }
            if offer.is_some_and(|o| !o.claim(i)) {
                // Helpers have every item from `i` on.
                break Slice::Done;
            }
            let slot = slots.as_deref_mut().map(|s| &mut s[i - lo]);
            if !self.step(vm, i, state.as_ref(), slot) {
                break Slice::Stopped;
            }
            i += 1;
            if shown {
                // A display is up: every item moves it.
                work.count(1);
                reported = i;
            }
        };
        work.count(i - reported);
        if let Slice::Stopped = end {
            // Item `i` failed or did not run; nor do the rest (of the
            // caller's: the helpers' items are theirs).
            let hi = offer.map_or(hi, OfferGuard::close);
            self.hole(&slots, i, hi);
        }
        end
    }

    /// Runs item `i`, writing its slot (a failed item's slot is nil when
    /// failures are collected). `false`: the work must stop (the slot is
    /// left unwritten).
    #[inline]
    fn step(
        &self,
        vm: &mut Vm,
        i: usize,
        state: Option<&Value>,
        slot: Option<&mut MaybeUninit<Value>>,
    ) -> bool {
        match self.item(vm, i, state) {
            Some(v) => {
                if let Some(slot) = slot {
                    slot.write(v);
                }
                true
            }
            None => false,
        }
    }

    /// Runs item `i`: what its slot gets (a failed item's is nil, or for
    /// filter `false`, when failures are collected), or `None` if the work
    /// must stop.
    #[inline]
    pub(super) fn item(&self, vm: &mut Vm, i: usize, state: Option<&Value>) -> Option<Value> {
        let work = self.work;
        let x = self.input.get(i);
        let keep = work.collects().then(|| x.clone());
        work.seed(vm, i);
        match work.call(vm, &work.f, state, x, None) {
            Ok(v) => Some(match self.op {
                Op::Filter => Value::Bool(v.truthy()),
                _ => v,
            }),
            Err(e) => self.failed_value(i, keep, e),
        }
    }

    /// Item `i` failed with `e` (`item`: the item, if failures are
    /// collected; looked up if `None`): its slot's value, or `None` if the
    /// work must stop.
    #[cold]
    pub(super) fn failed_value(&self, i: usize, item: Option<Value>, e: Error) -> Option<Value> {
        let item = match item {
            Some(x) => x,
            None if self.work.collects() => self.input.get(i),
            None => Value::Nil,
        };
        if self.work.fail(i, item, e) {
            return None;
        }
        Some(match self.op {
            Op::Filter => Value::Bool(false),
            _ => Value::Nil,
        })
    }

    /// Every item of `lo..hi` fails with `e` (this thread's `init` threw),
    /// but those the offer's helpers took: each item is claimed from
    /// `offer` first, as [`run_slice`](Self::run_slice) does, so an item is
    /// failed (and its slot written) by one thread only.
    #[cold]
    fn fail_all(
        &self,
        lo: usize,
        hi: usize,
        mut slots: Slots<'_>,
        e: Error,
        offer: Option<&OfferGuard>,
    ) -> Slice {
        for i in lo..hi {
            if offer.is_some_and(|o| !o.claim(i)) {
                // Helpers have every item from `i` on.
                self.work.count(i - lo);
                return Slice::Done;
            }
            let v = match self.work.failure.skips(i) {
                true => None,
                false => self.failed_value(i, Some(self.input.get(i)), e.clone()),
            };
            let Some(v) = v else {
                self.hole(&slots, i, hi);
                return Slice::Stopped;
            };
            if let Some(s) = slots.as_deref_mut() {
                s[i - lo].write(v);
            }
        }
        self.work.count(hi - lo);
        Slice::Done
    }
}

/// Whether offering items to `pool`'s idle workers can help: the caller
/// is not one of its threads (a worker's own splits are stolen as usual),
/// the pool steals and has a worker to spare, and there is more than one
/// item.
fn offer_helps(pool: &ThreadPool, n: usize) -> bool {
    n >= 2
        && pool.worker_count() >= 2
        && pool.config().work_stealing()
        && crate::pool::current_worker_index().is_none()
}

/// Whether `n - done` more items, after `done` took `elapsed`, are worth
/// sending to the pool.
pub(super) fn worth_splitting(elapsed: Duration, done: usize, n: usize) -> bool {
    let per_item = elapsed.as_secs_f64() / done.max(1) as f64;
    per_item * (n - done) as f64 >= INLINE_WORK.as_secs_f64()
}

/// Output slots of map and filter, not yet written: each is written
/// exactly once with the item's result, or, if it did not run, recorded
/// in one of the call's holes ([`Call::hole`]).
type Slots<'s> = Option<&'s mut [MaybeUninit<Value>]>;

/// Splits the output slots (if any) at `at`.
fn split_slots(slots: Slots<'_>, at: usize) -> (Slots<'_>, Slots<'_>) {
    match slots {
        Some(s) => {
            let (a, b) = s.split_at_mut(at);
            (Some(a), Some(b))
        }
        None => (None, None),
    }
}
