//! `parallel_reduce` and `parallel_fold` over a list, range or string:
//! reproducible, because the combining tree is fixed ([`super::tree`]) and
//! only the scheduling adapts.
//!
//! 1. **Measure.** The caller folds leaves in order (timing itself after 1,
//!    2, 4, ... items, as the other calls do) for up to
//!    [`MEASURE_BUDGET`]. It may stop in the middle of a leaf; the leaf's
//!    accumulator is kept and the leaf is finished later from there, by
//!    whichever thread evaluates it (a leaf is always folded in item
//!    order, never cut).
//! 2. **Decide.** All done, or too little work left ([`worth_splitting`]):
//!    the caller evaluates the rest of the tree itself.
//! 3. **Evaluate on the pool.** The tree is walked from the root. At an
//!    internal node the walker either forks (`join_context`: the right
//!    subtree is offered to thieves) or goes on alone, left then right.
//!    It forks while the adaptive [`Splitter`] allows (refilled when a
//!    subtree was stolen) and whenever it has run [`LEAF_SLICE`] without
//!    forking, so a long stretch of leaves is exposed to idle threads.
//!    Either way node values are `combine(left, right)` of the *same*
//!    subtrees, so the result is that of [`tree::fold_tree`], bit for bit.
//!    Without work stealing, the subtrees of the first levels (at least
//!    one per worker) are dealt to the workers, and the caller combines the
//!    levels above them.
//!
//! Cost against an adaptive reduce that combines only as many parts as it
//! split into: one more combine per leaf (at most ~1 per [`tree::MAX_LEAF`]
//! items on large inputs, ~1 per 8 items on inputs of under ~2,000), and
//! for tiny leaves a fork check per internal node.
//!
//! Errors: an item failure is ranked at its index (the first in input order
//! is thrown); with `errors: "collect"` the item is left out of the result
//! and listed. A failing combine is ranked at the first item of its right
//! part, and is thrown in either mode (it is not an item's failure).

use std::mem;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::drive::{worth_splitting, Splitter, LEAF_SLICE, MEASURE_BUDGET};
use super::input::Input;
use super::stats::CallStats;
use super::tree;
use super::work::{cancelled, Work};
use crate::error::{Error, ErrorKind, Result};
use crate::pool::{JoinContext, ThreadPool};
use crate::stdlib::args;
use crate::value::Value;
use crate::vm::{with_vm, Vm};

/// One reduction over an indexable input.
#[derive(Debug)]
pub(super) struct Reduction<'a> {
    input: &'a Input,
    work: &'a Work,
    identity: &'a Value,
    /// `parallel_fold`'s `combine`; `None` for `parallel_reduce`, whose `f`
    /// both folds items and combines parts (with the thread's `init` state
    /// first, as for items).
    combine: Option<&'a Value>,
    n: usize,
    block: usize,
    leaves: usize,
    /// Leaves folded by the caller while measuring (their values, in order).
    pre: Mutex<Vec<Option<Value>>>,
    /// The leaf the caller stopped in while measuring: (leaf, next item,
    /// accumulator so far).
    partial: Mutex<Option<(usize, usize, Value)>>,
    stats: &'a CallStats,
}

/// How folding (part of) a leaf ended.
enum LeafEnd {
    /// Every item folded: the leaf's value.
    Done(Value),
    /// An item failed or the call was cancelled (or an earlier item failed).
    Stopped,
    /// The measuring budget ran out before item `at`.
    Paused { at: usize, acc: Value },
}

/// The caller's clock while measuring: items done, when to look next.
struct Clock {
    start: Instant,
    done: usize,
    next_check: usize,
}

impl<'a> Reduction<'a> {
    /// A reduction of `input` with `work.f` from `identity`; `combine` for
    /// `parallel_fold`; `chunk`: the `chunk_size` option (the leaf size).
    pub fn new(
        input: &'a Input,
        work: &'a Work,
        identity: &'a Value,
        combine: Option<&'a Value>,
        chunk: Option<usize>,
        stats: &'a CallStats,
    ) -> Reduction<'a> {
        let n = input.len();
        let block = tree::leaf_size(n, chunk);
        Reduction {
            input,
            work,
            identity,
            combine,
            n,
            block,
            leaves: tree::leaf_count(n, block),
            pre: Mutex::new(Vec::new()),
            partial: Mutex::new(None),
            stats,
        }
    }

    /// Runs the reduction from the caller's `vm`, on `pool()` if it pays.
    /// The result, or the first failure in input order.
    pub fn run<'p>(
        &self,
        vm: &mut Vm,
        pool: impl FnOnce() -> Result<&'p ThreadPool>,
    ) -> Result<Value> {
        if self.n == 0 {
            return Ok(self.identity.clone());
        }
        let started = Instant::now();
        let measured = self.work.as_caller(vm, |vm| self.measure(vm));
        let acc = match measured {
            None => None,
            Some((true, _, _)) | Some((false, false, _)) => {
                self.stats.ran_inline(if measured.is_some_and(|m| m.0) {
                    "done while measuring"
                } else {
                    "too little work"
                });
                self.work.as_caller(vm, |vm| self.eval_here(vm))
            }
            Some((false, true, _)) => match pool() {
                Ok(pool) => self.eval_on_pool(pool)?,
                Err(e) => {
                    self.work.failure.record(0, e);
                    None
                }
            },
        };
        self.stats.wall(started.elapsed());
        match (self.work.failure.take(), acc) {
            (Some(e), _) => Err(e),
            (None, Some(v)) => Ok(v),
            // Stopped without a recorded failure: only a panic does that.
            (None, None) => Err(Error::new(
                ErrorKind::Error,
                "internal error: a reduction stopped without an error",
            )),
        }
    }

    /// Step 1 on the caller: folds leaves until done, stopped, or the
    /// budget is spent. `Some((all_done, worth_splitting, elapsed))`;
    /// `None` if stopped by a failure.
    fn measure(&self, vm: &mut Vm) -> Option<(bool, bool, Duration)> {
        let mut clock = Clock {
            start: Instant::now(),
            done: 0,
            next_check: 1,
        };
        let mut pre = Vec::new();
        for leaf in 0..self.leaves {
            let from = self.leaf_items(leaf).start;
            match self.run_leaf(vm, leaf, from, self.identity.clone(), Some(&mut clock)) {
                LeafEnd::Done(v) => pre.push(Some(v)),
                LeafEnd::Stopped => return None,
                LeafEnd::Paused { at, acc } => {
                    let elapsed = clock.start.elapsed();
                    *self.pre.lock() = pre;
                    *self.partial.lock() = Some((leaf, at, acc));
                    let worth = worth_splitting(elapsed, clock.done, self.n);
                    return Some((false, worth, elapsed));
                }
            }
        }
        *self.pre.lock() = pre;
        Some((true, false, clock.start.elapsed()))
    }

    /// The items of `leaf`.
    fn leaf_items(&self, leaf: usize) -> std::ops::Range<usize> {
        tree::leaf_range(leaf, self.n, self.block)
    }

    /// Folds items `from..` of `leaf` into `acc` on `vm`, pausing when
    /// `clock` (the caller's measurement) says so.
    fn run_leaf(
        &self,
        vm: &mut Vm,
        leaf: usize,
        from: usize,
        mut acc: Value,
        mut clock: Option<&mut Clock>,
    ) -> LeafEnd {
        let hi = self.leaf_items(leaf).end;
        let work = self.work;
        let state = match work.state(vm) {
            Ok(s) => s,
            Err(e) => return self.fail_all(from, hi, e, acc),
        };
        let collect = work.collects();
        let shown = work.progress.is_some();
        let mut end = LeafEnd::Stopped;
        let mut i = from;
        loop {
            if i >= hi {
                end = LeafEnd::Done(mem::take(&mut acc));
                break;
            }
            if work.failure.skips(i) {
                break;
            }
            if work.cancelled() {
                work.failure.record(i, cancelled());
                break;
            }
            if let Some(c) = clock.as_deref_mut() {
                if c.done == c.next_check {
                    c.next_check *= 2;
                    if c.start.elapsed() >= MEASURE_BUDGET {
                        end = LeafEnd::Paused {
                            at: i,
                            acc: mem::take(&mut acc),
                        };
                        break;
                    }
                }
                c.done += 1;
            }
            let x = self.input.get(i);
            work.seed(vm, i);
            if collect {
                let before = acc.clone();
                match work.call(vm, &work.f, state.as_ref(), before, Some(x.clone())) {
                    Ok(v) => acc = v,
                    Err(e) => {
                        if work.fail(i, x, e) {
                            break;
                        }
                    }
                }
            } else {
                match work.call(vm, &work.f, state.as_ref(), mem::take(&mut acc), Some(x)) {
                    Ok(v) => acc = v,
                    Err(e) => {
                        work.fail(i, Value::Nil, e);
                        break;
                    }
                }
            }
            i += 1;
            if shown {
                // A display is up: every item moves it.
                work.count(1);
            }
        }
        if !shown {
            work.count(i - from);
        }
        end
    }

    /// Every item of `from..hi` fails with `e` (this thread's `init`
    /// threw): collected one by one, or the first one thrown.
    #[cold]
    fn fail_all(&self, from: usize, hi: usize, e: Error, acc: Value) -> LeafEnd {
        for i in from..hi {
            if self.work.failure.skips(i) || self.work.fail(i, self.input.get(i), e.clone()) {
                return LeafEnd::Stopped;
            }
        }
        self.work.count(hi - from);
        LeafEnd::Done(acc)
    }

    /// `combine(a, b)` of two adjacent parts (`at`: the first leaf of `b`,
    /// whose first item is blamed if it fails).
    fn combine(&self, vm: &mut Vm, a: Value, b: Value, at: usize) -> Option<Value> {
        let r = match self.combine {
            Some(c) => args::call(vm, c, &[a, b]),
            None => match self.work.state(vm) {
                Ok(state) => super::work::call_with(vm, &self.work.f, state.as_ref(), a, Some(b)),
                Err(e) => Err(e),
            },
        };
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                let e = self.work.restate(e);
                self.work.failure.record(self.leaf_items(at).start, e);
                None
            }
        }
    }

    /// The value of `leaf` on `vm`: from the measurement, or folded now.
    fn leaf_value(&self, vm: &mut Vm, leaf: usize) -> Option<Value> {
        let pre = self.pre.lock().get_mut(leaf).map(Option::take);
        if let Some(v) = pre {
            return v;
        }
        // Only the thread evaluating `leaf` takes its partial state.
        let resumed = {
            let mut partial = self.partial.lock();
            match &*partial {
                Some((l, _, _)) if *l == leaf => partial.take(),
                _ => None,
            }
        };
        let (from, acc) = match resumed {
            Some((_, at, acc)) => (at, acc),
            None => (self.leaf_items(leaf).start, self.identity.clone()),
        };
        self.stats.chunk();
        match self.run_leaf(vm, leaf, from, acc, None) {
            LeafEnd::Done(v) => Some(v),
            LeafEnd::Stopped | LeafEnd::Paused { .. } => None,
        }
    }

    /// Step 2: the rest of the tree on the caller.
    fn eval_here(&self, vm: &mut Vm) -> Option<Value> {
        let vm = std::cell::RefCell::new(vm);
        tree::fold_tree(
            0,
            self.leaves,
            &mut |leaf| self.leaf_value(&mut vm.borrow_mut(), leaf),
            &mut |a, b, at| self.combine(&mut vm.borrow_mut(), a, b, at),
        )
    }

    /// Step 3: the tree on the pool. `Err` only for a panic inside.
    fn eval_on_pool(&self, pool: &ThreadPool) -> Result<Option<Value>> {
        panic::catch_unwind(AssertUnwindSafe(|| {
            if pool.config().work_stealing() {
                let splitter = Splitter::new(pool.worker_count());
                pool.install(|| {
                    self.eval_par(pool, 0, self.leaves, splitter, false, Instant::now())
                })
            } else {
                self.deal(pool)
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

    /// The subtree of leaves `lo..hi` on the pool: forks while `splitter`
    /// allows or once this thread has run for a slice since `since`.
    #[allow(clippy::too_many_arguments)]
    fn eval_par(
        &self,
        pool: &ThreadPool,
        lo: usize,
        hi: usize,
        mut splitter: Splitter,
        migrated: bool,
        since: Instant,
    ) -> Option<Value> {
        if self.work.failure.skips(self.leaf_items(lo).start) {
            return None;
        }
        if hi - lo == 1 {
            return with_vm(|vm| self.work.as_caller(vm, |vm| self.leaf_value(vm, lo)));
        }
        let mid = tree::split(lo, hi);
        if splitter.try_split(migrated) || since.elapsed() >= LEAF_SLICE {
            let now = Instant::now();
            let (a, b) = pool.join_context(
                |ctx: JoinContext| self.eval_par(pool, lo, mid, splitter, ctx.migrated(), now),
                |ctx: JoinContext| {
                    if ctx.migrated() {
                        self.stats.steal();
                    }
                    self.eval_par(pool, mid, hi, splitter, ctx.migrated(), now)
                },
            );
            let (a, b) = (a?, b?);
            with_vm(|vm| self.work.as_caller(vm, |vm| self.combine(vm, a, b, mid)))
        } else {
            let a = self.eval_par(pool, lo, mid, splitter, false, since)?;
            let b = self.eval_par(pool, mid, hi, splitter, false, since)?;
            with_vm(|vm| self.work.as_caller(vm, |vm| self.combine(vm, a, b, mid)))
        }
    }

    /// Without work stealing: the subtrees `depth` levels down (at least
    /// one per worker) are dealt to the workers; the levels above are
    /// combined here.
    fn deal(&self, pool: &ThreadPool) -> Option<Value> {
        let depth = usize::BITS - (pool.worker_count().max(1) - 1).leading_zeros();
        let mut parts = Vec::new();
        collect_subtrees(0, self.leaves, depth, &mut parts);
        let results: Vec<Mutex<Option<Value>>> = parts.iter().map(|_| Mutex::new(None)).collect();
        pool.parallel_for(0..parts.len(), 1, |range| {
            for j in range {
                let (lo, hi) = parts[j];
                self.stats.chunk();
                let v = with_vm(|vm| {
                    self.work.as_caller(vm, |vm| {
                        let vm = std::cell::RefCell::new(vm);
                        tree::fold_tree(
                            lo,
                            hi,
                            &mut |leaf| self.leaf_value(&mut vm.borrow_mut(), leaf),
                            &mut |a, b, at| self.combine(&mut vm.borrow_mut(), a, b, at),
                        )
                    })
                });
                *results[j].lock() = v;
            }
        });
        let mut results = results.into_iter().map(Mutex::into_inner);
        with_vm(|vm| {
            self.work.as_caller(vm, |vm| {
                self.eval_top(vm, 0, self.leaves, depth, &mut results)
            })
        })
    }

    /// The levels above the dealt subtrees, consuming their results in
    /// order.
    fn eval_top(
        &self,
        vm: &mut Vm,
        lo: usize,
        hi: usize,
        depth: u32,
        results: &mut impl Iterator<Item = Option<Value>>,
    ) -> Option<Value> {
        if depth == 0 || hi - lo == 1 {
            return results.next().flatten();
        }
        let mid = tree::split(lo, hi);
        let a = self.eval_top(vm, lo, mid, depth - 1, results);
        let b = self.eval_top(vm, mid, hi, depth - 1, results);
        self.combine(vm, a?, b?, mid)
    }
}

/// The subtrees `depth` levels below leaves `lo..hi` (or single leaves
/// above that depth), in order.
fn collect_subtrees(lo: usize, hi: usize, depth: u32, out: &mut Vec<(usize, usize)>) {
    if depth == 0 || hi - lo == 1 {
        out.push((lo, hi));
        return;
    }
    let mid = tree::split(lo, hi);
    collect_subtrees(lo, mid, depth - 1, out);
    collect_subtrees(mid, hi, depth - 1, out);
}
