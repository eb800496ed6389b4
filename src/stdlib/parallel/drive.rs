//! Running one parallel call: measure on the caller, then split the rest
//! over the pool with results written in place.
//!
//! 1. **Measure.** The caller runs items itself, timing them (a clock read
//!    after 1, 2, 4, 8, ... items). If everything is done within
//!    [`MEASURE_BUDGET`], or the measured cost of what is left is below
//!    [`INLINE_WORK`], the call finishes on the caller: no task, and a
//!    script that only ever maps small inputs never starts the pool.
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
//! item's result is written in its slot, nil for an item that did not run
//! (filter writes a keep flag, then keeps items in one pass). Nothing is
//! concatenated at the end.
//! Reduce folds each leaf from `identity` and combines the halves of every
//! join with `f` (left before right), so the result is the sequential
//! fold's when `f` is associative with identity `identity`.
//!
//! Errors and cancellation: see [`Failure`]. The caller's cancellation
//! (its VM's task token and cancel flag) is checked before every item and
//! installed in every VM that runs items, so cancelling the enclosing task
//! stops the work between items and inside long ones.

use std::cell::Cell;
use std::mem::{self, MaybeUninit};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::failure::Failure;
use super::input::Input;
use super::progress::Progress;
use crate::error::{Error, ErrorKind, Result};
use crate::pool::{CancelToken, JoinContext, ThreadPool};
use crate::runtime;
use crate::stdlib::args;
use crate::value::Value;
use crate::vm::{with_vm, Vm};

/// How long the caller runs items before it decides (step 1).
pub(super) const MEASURE_BUDGET: Duration = Duration::from_micros(20);
/// Measured work left below this runs on the caller: splitting and waking
/// a worker would cost about as much as it saves.
pub(super) const INLINE_WORK: Duration = Duration::from_micros(50);
/// How long a leaf runs before it splits what it has left (step 3).
pub(super) const LEAF_SLICE: Duration = Duration::from_micros(100);

/// The operation applied to every item.
#[derive(Clone, Copy, Debug)]
pub(super) enum Op<'a> {
    /// `slot = f(x)`.
    Map(&'a Value),
    /// `slot = truthy(f(x))`.
    Filter(&'a Value),
    /// `f(x)`, result dropped.
    ForEach(&'a Value),
    /// `acc = f(acc, x)` from `identity`; halves combined with `f`.
    Reduce {
        /// The combining function.
        f: &'a Value,
        /// Its identity: every leaf starts from it.
        identity: &'a Value,
    },
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

/// One call of a parallel function: what runs, and the state its chunks
/// share.
#[derive(Debug)]
pub(super) struct Call<'a> {
    input: &'a Input,
    op: Op<'a>,
    chunk: Option<usize>,
    failure: Failure,
    token: Option<CancelToken>,
    flag: Option<Arc<AtomicBool>>,
    /// How many more nested calls the caller's VM allowed: VMs running
    /// items get the same budget, so unbounded recursion through parallel
    /// calls is a `StackOverflow`, as it is through `xs.map`.
    depth_left: usize,
    /// The depth limit of the outermost VM (named in `StackOverflow`
    /// messages, which VMs with a lowered limit would otherwise misstate).
    limit: usize,
    progress: Option<Progress>,
    /// After `random_seed`: the call's stream key; item `i` draws from the
    /// stream derived from it and `i` (see `stdlib/random.rs`).
    rng_key: Option<u64>,
}

thread_local! {
    /// While a VM runs items of a call: that call's `limit`, inherited by
    /// calls nested in the items.
    static LIMIT: Cell<Option<usize>> = const { Cell::new(None) };
}

impl<'a> Call<'a> {
    /// A call of `op` over `input` made from `vm` (whose cancellation it
    /// follows). `chunk`: the `chunk_size` option; `progress`: the bar.
    pub(super) fn new(
        vm: &mut Vm,
        input: &'a Input,
        op: Op<'a>,
        chunk: Option<usize>,
        progress: Option<Progress>,
    ) -> Call<'a> {
        // Read the caller's flag (there is no getter: swap it out and back).
        let flag = vm.set_cancel_flag(None);
        vm.set_cancel_flag(flag.clone());
        Call {
            input,
            op,
            chunk,
            failure: Failure::new(),
            token: vm
                .cancel_token()
                .cloned()
                .or_else(crate::pool::current_cancel_token),
            flag,
            depth_left: vm.max_depth().saturating_sub(vm.depth()),
            limit: LIMIT.with(Cell::get).unwrap_or(vm.max_depth()),
            progress,
            rng_key: vm.rng_mut().map(crate::stdlib::random::Stream::fork_key),
        }
    }

    /// Runs the call on the calling thread's `vm` and the pool. `out`
    /// (map, filter) is an empty vector with room for one result per item;
    /// it is filled in place. Returns the reduction (nil for the others) or
    /// the first error in input order.
    pub(super) fn run(&self, vm: &mut Vm, out: Option<&mut Vec<Value>>) -> Result<Value> {
        self.run_on(vm, out, runtime::pool)
    }

    /// As [`run`](Self::run), with the pool `pool()` (started only if the
    /// work is split).
    pub(super) fn run_on<'p>(
        &self,
        vm: &mut Vm,
        mut out: Option<&mut Vec<Value>>,
        pool: impl FnOnce() -> Result<&'p ThreadPool>,
    ) -> Result<Value> {
        let n = self.input.len();
        let slots = out.as_deref_mut().map(|v| {
            v.clear();
            v.reserve_exact(n);
            &mut v.spare_capacity_mut()[..n]
        });
        let acc = self.run_slots(vm, slots, pool);
        if let (Some(v), true) = (out, self.failure.ended_cleanly()) {
            // SAFETY: the first `n` slots of the spare capacity were all
            // written: every path through `run_slots` that returns (the only
            // exception is a panic in a worker, reported as `Err` with
            // `ended_cleanly() == false`, where we leak instead) writes each
            // slot exactly once, with the item's result or with nil for an
            // item that did not run (`fill_nil`). `n <= capacity` by
            // `reserve_exact` above.
            unsafe { v.set_len(n) };
        }
        acc
    }

    /// [`run_on`](Self::run_on) on the uninitialised `slots`; every slot
    /// is written before it returns (unless a worker panicked).
    fn run_slots<'p>(
        &self,
        vm: &mut Vm,
        mut slots: Slots<'_>,
        pool: impl FnOnce() -> Result<&'p ThreadPool>,
    ) -> Result<Value> {
        let n = self.input.len();
        let mut acc = self.start_value();
        let grid = match self.chunk {
            Some(c) => Grid::chunks(c),
            None => Grid::cache_lines(slots.as_deref(), runtime::config().cache_line_size()),
        };
        let rest_from = match self.chunk {
            Some(c) if n > c => Some(0),
            Some(_) => {
                self.run_slice(vm, 0, n, slots.as_deref_mut(), &mut acc, Budget::None, grid);
                None
            }
            None => {
                let budget = Budget::Measure(MEASURE_BUDGET);
                match self.run_slice(vm, 0, n, slots.as_deref_mut(), &mut acc, budget, grid) {
                    Slice::Paused { at, elapsed } if !worth_splitting(elapsed, at, n) => {
                        let rest = slots.as_deref_mut().map(|s| &mut s[at..]);
                        self.run_slice(vm, at, n, rest, &mut acc, Budget::None, grid);
                        None
                    }
                    Slice::Paused { at, .. } => Some(at),
                    Slice::Done | Slice::Stopped => None,
                }
            }
        };
        if let Some(from) = rest_from {
            let mut rest = slots.map(|s| &mut s[from..]);
            let pool = match pool() {
                Ok(pool) => pool,
                Err(e) => {
                    fill_nil(rest.as_deref_mut());
                    self.failure.record(from, e);
                    return Err(self.failure.take().expect("just recorded"));
                }
            };
            let rest = self.run_on_pool(pool, from, n, rest, grid)?;
            acc = match from {
                // Nothing ran on the caller: `acc` is just the identity.
                0 => rest.unwrap_or_default(),
                _ => self.combine(vm, Some(acc), rest, from).unwrap_or_default(),
            };
        }
        let failed = self.failure.take();
        if let Some(p) = &self.progress {
            p.finish(failed.is_none());
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(acc),
        }
    }

    /// Items `from..n` on the pool (step 2).
    fn run_on_pool(
        &self,
        pool: &ThreadPool,
        from: usize,
        n: usize,
        slots: Slots<'_>,
        grid: Grid,
    ) -> Result<Option<Value>> {
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
            self.failure.mark_panicked();
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
    fn deal(
        &self,
        pool: &ThreadPool,
        from: usize,
        n: usize,
        slots: Slots<'_>,
        grid: Grid,
    ) -> Option<Value> {
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
        let results: Vec<Mutex<Option<Value>>> = parts.iter().map(|_| Mutex::new(None)).collect();
        pool.parallel_for(0..parts.len(), 1, |range| {
            for j in range {
                if let Some((lo, hi, part)) = parts[j].lock().take() {
                    *results[j].lock() = self.leaf(pool, lo, hi, part, Splitter::Fixed, grid);
                }
            }
        });
        let mut results = results.into_iter().map(Mutex::into_inner);
        let first = results.next().flatten();
        with_vm(|vm| {
            results
                .zip(&bounds[1..])
                .fold(first, |acc, (r, &at)| self.combine(vm, acc, r, at))
        })
    }

    /// Items `lo..hi`, split or run as a leaf. `None`: stopped.
    #[allow(clippy::too_many_arguments)]
    fn drive(
        &self,
        pool: &ThreadPool,
        lo: usize,
        hi: usize,
        mut slots: Slots<'_>,
        mut splitter: Splitter,
        migrated: bool,
        grid: Grid,
    ) -> Option<Value> {
        if self.failure.skips(lo) {
            fill_nil(slots.as_deref_mut());
            return None;
        }
        if let Some(mid) = grid.mid(lo, hi) {
            if splitter.try_split(migrated) {
                let (left, right) = split_slots(slots, mid - lo);
                let (a, b) = pool.join_context(
                    |ctx: JoinContext| {
                        self.drive(pool, lo, mid, left, splitter, ctx.migrated(), grid)
                    },
                    |ctx: JoinContext| {
                        self.drive(pool, mid, hi, right, splitter, ctx.migrated(), grid)
                    },
                );
                return self.combine_here(a, b, mid);
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
    ) -> Option<Value> {
        let mut acc = self.start_value();
        let budget = match splitter {
            Splitter::Fixed => Budget::None,
            Splitter::Adaptive { .. } => Budget::Leaf(LEAF_SLICE),
        };
        let slice = with_vm(|vm| {
            self.as_caller(vm, |vm| {
                self.run_slice(vm, lo, hi, slots.as_deref_mut(), &mut acc, budget, grid)
            })
        });
        match slice {
            Slice::Done => Some(acc),
            Slice::Stopped => None,
            Slice::Paused { at, .. } => {
                let threads = match splitter {
                    Splitter::Adaptive { threads, .. } => threads,
                    Splitter::Fixed => 1,
                };
                // One split: this thread keeps the first half, the second
                // is offered to thieves (and refilled if one takes it).
                let once = Splitter::Adaptive { splits: 1, threads };
                let rest = slots.map(|s| &mut s[at - lo..]);
                let rest = self.drive(pool, at, hi, rest, once, false, grid);
                self.combine_here(Some(acc), rest, at)
            }
        }
    }

    /// Runs items `lo..hi` in order on `vm`, writing `slots` (which start
    /// at item `lo`) or folding into `acc`, until done, stopped, or
    /// `budget` says to pause. Writes every slot before returning, except
    /// after a pause, where the slots from `at` on are the caller's.
    #[allow(clippy::too_many_arguments)]
    fn run_slice(
        &self,
        vm: &mut Vm,
        lo: usize,
        hi: usize,
        mut slots: Slots<'_>,
        acc: &mut Value,
        budget: Budget,
        grid: Grid,
    ) -> Slice {
        let (mut limit, pause_needs_split) = match budget {
            Budget::None => (None, false),
            Budget::Measure(d) => (Some(d), false),
            Budget::Leaf(d) => (Some(d), true),
        };
        let start = limit.map(|_| Instant::now());
        let mut next_check = lo + 1;
        let mut reported = lo;
        let mut i = lo;
        let end = loop {
            if i >= hi {
                break Slice::Done;
            }
            if self.failure.skips(i) {
                break Slice::Stopped;
            }
            if self.cancelled() {
                self.failure.record(i, cancelled());
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
                    if let Some(p) = &self.progress {
                        p.add(i - reported);
                        reported = i;
                    }
                }
            }
            let slot = slots.as_deref_mut().map(|s| &mut s[i - lo]);
            if let Err(e) = self.step(vm, i, acc, slot) {
                self.failure.record(i, self.restate(e));
                break Slice::Stopped;
            }
            i += 1;
        };
        if let Some(p) = &self.progress {
            p.add(i - reported);
        }
        if let (Slice::Stopped, Some(s)) = (end, slots) {
            // Item `i` failed or did not run; nor do the rest.
            fill_nil(Some(&mut s[i - lo..]));
        }
        end
    }

    /// Runs item `i`.
    #[inline]
    fn step(
        &self,
        vm: &mut Vm,
        i: usize,
        acc: &mut Value,
        slot: Option<&mut MaybeUninit<Value>>,
    ) -> Result<()> {
        let x = self.input.get(i);
        if let Some(key) = self.rng_key {
            vm.set_rng(Some(crate::stdlib::random::Stream::derived(key, i as u64)));
        }
        match self.op {
            Op::Map(f) => {
                let v = args::call(vm, f, std::slice::from_ref(&x))?;
                if let Some(slot) = slot {
                    slot.write(v);
                }
            }
            Op::Filter(f) => {
                let keep = args::call(vm, f, std::slice::from_ref(&x))?.truthy();
                if let Some(slot) = slot {
                    slot.write(Value::Bool(keep));
                }
            }
            Op::ForEach(f) => {
                args::call(vm, f, std::slice::from_ref(&x))?;
            }
            Op::Reduce { f, .. } => {
                let a = mem::take(acc);
                *acc = args::call(vm, f, &[a, x])?;
            }
        }
        Ok(())
    }

    /// [`combine`](Self::combine) on this thread, taking a VM only when
    /// there is something to call.
    fn combine_here(&self, a: Option<Value>, b: Option<Value>, at: usize) -> Option<Value> {
        match self.op {
            Op::Reduce { .. } => with_vm(|vm| self.combine(vm, a, b, at)),
            _ => a.and(b),
        }
    }

    /// Combines the results of two adjacent parts (`at`: where the second
    /// starts, blamed if `f` fails).
    fn combine(&self, vm: &mut Vm, a: Option<Value>, b: Option<Value>, at: usize) -> Option<Value> {
        let (a, b) = (a?, b?);
        match self.op {
            Op::Reduce { f, .. } => match self.as_caller(vm, |vm| args::call(vm, f, &[a, b])) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.failure.record(at, self.restate(e));
                    None
                }
            },
            _ => Some(Value::Nil),
        }
    }

    /// Runs `f` on `vm` as if on the caller's: with the caller's
    /// cancellation installed (so a long item stops when the caller's task
    /// is cancelled) and the caller's remaining call depth.
    fn as_caller<R>(&self, vm: &mut Vm, f: impl FnOnce(&mut Vm) -> R) -> R {
        let old_flag = vm.set_cancel_flag(self.flag.clone());
        let old_token = vm.set_cancel_token(self.token.clone());
        let old_max = vm.max_depth();
        vm.set_max_depth(vm.depth().saturating_add(self.depth_left));
        let old_limit = LIMIT.with(|l| l.replace(Some(self.limit)));
        let old_rng = vm.set_rng(None);
        let r = f(vm);
        vm.set_rng(old_rng);
        LIMIT.with(|l| l.set(old_limit));
        vm.set_max_depth(old_max);
        vm.set_cancel_flag(old_flag);
        vm.set_cancel_token(old_token);
        r
    }

    /// `e`, with a `StackOverflow` message naming the outermost limit
    /// rather than the lowered one of the VM that ran out.
    fn restate(&self, mut e: Error) -> Error {
        if e.kind() == ErrorKind::StackOverflow {
            let message = format!("maximum recursion depth exceeded ({} frames)", self.limit);
            if e.message() != message {
                let inner = Arc::make_mut(&mut e.0);
                inner.value = Value::from(message.as_str());
                inner.message = message;
            }
        }
        e
    }

    /// What a part starts from: `identity` for reduce, nil otherwise.
    fn start_value(&self) -> Value {
        match self.op {
            Op::Reduce { identity, .. } => identity.clone(),
            _ => Value::Nil,
        }
    }

    /// Whether the caller's task was cancelled.
    #[inline]
    fn cancelled(&self) -> bool {
        self.token.as_ref().is_some_and(CancelToken::is_cancelled)
            || self
                .flag
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Relaxed))
    }
}

/// Whether `n - done` more items, after `done` took `elapsed`, are worth
/// sending to the pool.
fn worth_splitting(elapsed: Duration, done: usize, n: usize) -> bool {
    let per_item = elapsed.as_secs_f64() / done.max(1) as f64;
    per_item * (n - done) as f64 >= INLINE_WORK.as_secs_f64()
}

/// Output slots of map and filter, not yet written: each is written
/// exactly once, with the item's result or (if it did not run) nil.
type Slots<'s> = Option<&'s mut [MaybeUninit<Value>]>;

/// Writes nil in every slot of `slots` (items that did not run).
fn fill_nil(slots: Slots<'_>) {
    for slot in slots.into_iter().flatten() {
        slot.write(Value::Nil);
    }
}

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

#[cold]
fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the task was cancelled")
}
