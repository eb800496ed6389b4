//! Rank 0's side of a distributed call: check, measure, deal chunks on
//! demand, run its own share, gather results in input order.
//!
//! 1. **Check** before any item runs: the function, the items and every
//!    module variable the call may read ([`snapshot::plan`]) must be able
//!    to cross ranks; a handle is a `TypeError` naming where it is.
//! 2. **Measure.** Rank 0 runs the first items itself, 1, 2, 4, ... at a
//!    time (each group through the local `parallel_*`, on its own pool),
//!    until [`MEASURE_BUDGET`] has passed. If that finished the input, or
//!    the measured cost of what is left is under [`DISTRIBUTE_MIN`], the
//!    rest runs on rank 0 too: nothing is sent, and a script that only
//!    makes small calls never pays a message.
//! 3. **Deal.** The `Call` (function and snapshot) goes to every rank;
//!    then each rank gets chunks until it has [`Sizer::depth`] unanswered
//!    (one running, the others queued behind it so that it does not wait
//!    for rank 0: at least [`MIN_IN_FLIGHT`], more when the measured round
//!    trip is long next to a chunk's time); each answer frees a place for
//!    the next chunk, so a faster
//!    rank gets more chunks (dynamic load balance). Rank 0 runs chunks of
//!    its own, one at a time, on its runner thread (through its pool),
//!    so that the calling thread keeps taking answers and dealing while
//!    rank 0's chunk runs. A chunk's length aims at [`CHUNK_TARGET`] of
//!    wall time on the rank it goes to ([`Sizer`]: per-rank estimates from
//!    the answers' measured times), and shrinks towards the end of the
//!    input so the ranks finish together.
//! 4. **Gather.** Answers are written into the result at their chunk's
//!    place: results are in input order whatever the order of answers.
//!
//! Reductions (`parallel_reduce`, `parallel_fold`): chunks are whole
//! subtrees of the fixed reduction tree ([`Shape`]); rank 0 combines the
//! chunks' values in the tree's order ([`combine_tree`]), so the result
//! has the local call's bits. With `errors: "collect"` each chunk's
//! collected failures come back with their input index and are listed in
//! input order.
//!
//! Errors: the first error in input order wins. Chunks are dealt in input
//! order, so when a chunk fails every chunk before it has been dealt; rank
//! 0 sends `Stop` (chunks after the failed one need not run, a running one
//! is cancelled) and waits until every dealt chunk is answered: an earlier
//! chunk may still fail with an earlier error. The error's trace gets a
//! frame naming the rank (`at <rank 1 on HOST>`). When the caller's task is
//! cancelled, everything is stopped the same way and the call throws
//! `Cancelled` (or an earlier error).
//!
//! One call is distributed at a time: a parallel call made while another
//! is being distributed (from another task, or inside an item on rank 0)
//! runs on rank 0's pool, as without MPI.

use std::collections::{BTreeMap, HashSet};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use parking_lot::Mutex;

use super::codec::scan;
use super::init::lease;
use super::link::{Envelope, Link};
use super::message::{decode, encode, Kind, Msg, Outcome};
use super::program::Program;
use super::service::{option, rank_frame, run_local, Ran, Spec};
use super::snapshot::{self, check_size, encode_call, refused, refused_function, Cache};
use crate::error::{Error, ErrorKind, Result};
use crate::map::Map;
use crate::pool::CancelToken;
use crate::stdlib::parallel::options::{InputKind, Options};
use crate::stdlib::parallel::tree;
use crate::value::{Key, RangeVal, Value};
use crate::vm::{with_vm, Vm};
use std::panic::{self, AssertUnwindSafe};

/// Wall time a chunk aims at on the rank that runs it.
pub const CHUNK_TARGET: Duration = Duration::from_millis(5);
/// How long rank 0 runs items alone before deciding to distribute.
pub const MEASURE_BUDGET: Duration = Duration::from_millis(1);
/// Measured work left below this runs on rank 0: a round of messages and
/// the other ranks' wake-up would cost about as much as they save.
pub const DISTRIBUTE_MIN: Duration = Duration::from_millis(5);
/// Unanswered chunks per rank, at least: one running, the rest queued.
pub const MIN_IN_FLIGHT: usize = 3;
/// Unanswered chunks per rank, at most.
pub const MAX_IN_FLIGHT: usize = 32;
/// How often a waiting rank 0 looks at its caller's cancellation.
const WAIT_SLICE: Duration = Duration::from_millis(20);

/// What rank 0 knows about one rank.
#[derive(Clone, Debug)]
pub struct RankInfo {
    /// Its pool's worker count.
    pub workers: u32,
    /// Its host name.
    pub host: String,
}

/// Rank 0's distributed executor.
#[derive(Debug)]
pub struct Context {
    prog: Arc<Program>,
    link: Link,
    ranks: Vec<RankInfo>,
    state: Mutex<State>,
    runner: OnceLock<Option<LocalRunner>>,
}

#[derive(Debug, Default)]
struct State {
    next_call: u64,
    cache: Cache,
    stats: Stats,
    /// A rank broke the protocol (a bug): the ranks may be out of step,
    /// so later calls run on rank 0 only.
    broken: bool,
}

impl Context {
    /// The executor of rank 0 of `link`'s job, running `prog`; `ranks`
    /// describes every rank (index = rank).
    pub fn new(prog: Arc<Program>, link: Link, ranks: Vec<RankInfo>) -> Context {
        Context {
            prog,
            link,
            ranks,
            state: Mutex::new(State::default()),
            runner: OnceLock::new(),
        }
    }

    /// The link to the other ranks.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The program.
    pub fn program(&self) -> &Program {
        &self.prog
    }

    /// How many ranks take part.
    pub fn size(&self) -> usize {
        self.link.size
    }

    /// What the distributed calls did so far.
    pub fn stats(&self) -> Stats {
        self.state.lock().stats.clone()
    }

    /// Runs `kind(a...)` over every rank, or `None` if this call is one to
    /// run locally (arguments the local function must judge, an option
    /// only it knows, an empty input, or another call being distributed).
    pub fn dispatch(&self, vm: &mut Vm, kind: Kind, a: &[Value]) -> Option<Result<Value>> {
        let req = Request::parse(kind, a)?;
        let mut state = self.state.try_lock()?;
        if state.broken {
            return None;
        }
        Some(self.run(&mut state, vm, req))
    }
}

/// What the distributed calls did so far (printed by `weft --mpi --stats`).
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Calls spread over the ranks.
    pub calls_spread: u64,
    /// Calls measured too small to spread: run on rank 0 alone.
    pub calls_local: u64,
    /// Chunks run, per rank.
    pub chunks: Vec<u64>,
    /// Items run in those chunks, per rank.
    pub items: Vec<u64>,
    /// Seconds spent running those chunks, per rank.
    pub busy: Vec<f64>,
    /// For each chunk another rank ran: the time from rank 0 queueing it
    /// to its answer arriving at rank 0, minus the time it waited in that
    /// rank's queue and the time it ran (the round trip's own cost), in
    /// microseconds.
    pub round_trip_us: Vec<f64>,
}

impl Stats {
    fn count(&mut self, rank: usize, items: usize, busy: Duration) {
        if self.chunks.len() <= rank {
            self.chunks.resize(rank + 1, 0);
            self.items.resize(rank + 1, 0);
            self.busy.resize(rank + 1, 0.0);
        }
        self.chunks[rank] += 1;
        self.items[rank] += items as u64;
        self.busy[rank] += busy.as_secs_f64();
    }

    /// The `p`-th percentile (0..=100) of the round-trip costs.
    pub fn round_trip_percentile(&self, p: f64) -> Option<f64> {
        if self.round_trip_us.is_empty() {
            return None;
        }
        let mut v = self.round_trip_us.clone();
        v.sort_by(f64::total_cmp);
        let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
        Some(v[i.min(v.len() - 1)])
    }

    /// The `--stats` table.
    pub fn table(&self) -> String {
        let mut out = String::from("weft --mpi statistics\n");
        out += &format!("  calls spread over the ranks {:>8}\n", self.calls_spread);
        out += &format!("  calls kept on rank 0        {:>8}\n", self.calls_local);
        out += &format!(
            "  {:<6} {:>10} {:>12} {:>10}\n",
            "rank", "chunks", "items", "busy_s"
        );
        for r in 0..self.chunks.len() {
            out += &format!(
                "  {:<6} {:>10} {:>12} {:>10.3}\n",
                r, self.chunks[r], self.items[r], self.busy[r]
            );
        }
        if let (Some(p50), Some(p90)) = (
            self.round_trip_percentile(50.0),
            self.round_trip_percentile(90.0),
        ) {
            out += &format!(
                "  round trip per chunk, beyond queueing and running: median {p50:.1} us, \
                 90th percentile {p90:.1} us ({} chunks)\n",
                self.round_trip_us.len()
            );
        }
        out
    }
}

/// The items of a call, cut into chunks without copying the whole input.
#[derive(Debug)]
pub enum Items {
    /// A list (the value, read through deref).
    List(Value),
    /// A range.
    Range(RangeVal),
    /// A string's characters.
    Chars(Vec<char>),
}

impl Items {
    fn of(v: &Value) -> Option<Items> {
        match v {
            Value::List(_) => Some(Items::List(v.clone())),
            Value::Range(r) => Some(Items::Range(**r)),
            Value::Str(s) => Some(Items::Chars(s.chars().collect())),
            _ => None,
        }
    }

    fn list(&self) -> &[Value] {
        match self {
            Items::List(Value::List(xs)) => xs,
            _ => &[],
        }
    }

    /// How many items.
    pub fn len(&self) -> usize {
        match self {
            Items::List(_) => self.list().len(),
            Items::Range(r) => usize::try_from(r.len()).unwrap_or(usize::MAX),
            Items::Chars(cs) => cs.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Items `a..b` as one value of the input's type.
    pub fn slice(&self, a: usize, b: usize) -> Value {
        match self {
            Items::List(_) => Value::list(self.list()[a..b].to_vec()),
            Items::Range(r) => {
                let start = r.get(a as i64);
                // Item `b` exists unless `b` is the end; the range's own
                // stop is then the bound (no overflow past it).
                let stop = if b >= self.len() {
                    r.stop
                } else {
                    r.get(b as i64)
                };
                Value::Range(Arc::new(RangeVal {
                    start,
                    stop,
                    step: r.step,
                }))
            }
            Items::Chars(cs) => Value::str(cs[a..b].iter().collect::<String>()),
        }
    }

    /// Item `i`.
    pub fn get(&self, i: usize) -> Value {
        match self {
            Items::List(_) => self.list()[i].clone(),
            Items::Range(r) => Value::Int(r.get(i as i64)),
            Items::Chars(cs) => Value::str(cs[i].to_string()),
        }
    }
}

/// A call's arguments, when rank 0 can distribute it.
#[derive(Debug)]
struct Request {
    /// What each chunk runs (the options forwarded to the local calls:
    /// `errors`, `retries`, `init`, and for reduce and fold the leaf size
    /// as `chunk_size`).
    spec: Spec,
    items: Items,
    /// The script's `chunk_size`: the chunk length for map, filter and
    /// for_each; the leaf size for reduce and fold.
    chunk: Option<usize>,
    progress: bool,
    /// The `init` option.
    init: Option<Value>,
}

impl Request {
    /// `None` for anything the local function should judge (and report):
    /// wrong arity, input or function types, bad options, an empty input.
    fn parse(kind: Kind, a: &[Value]) -> Option<Request> {
        // Arguments before the options.
        let fixed = match kind {
            Kind::Map | Kind::Filter | Kind::ForEach => 2,
            Kind::Reduce => 3,
            Kind::Fold => 4,
        };
        if !(fixed..=fixed + 1).contains(&a.len()) {
            return None;
        }
        let items = Items::of(&a[0])?;
        if items.is_empty() {
            return None;
        }
        let callable = |v: &Value| matches!(v, Value::Func(_) | Value::Native(_));
        if !callable(&a[1]) || (kind == Kind::Fold && !callable(&a[2])) {
            return None;
        }
        let options = Options::parse(kind.name(), a.get(fixed), InputKind::Indexed).ok()?;
        let mut fwd = Map::new();
        if options.collect() {
            fwd.insert(Key::str("errors"), Value::str("collect"));
        }
        if options.retries > 0 {
            fwd.insert(Key::str("retries"), Value::Int(i64::from(options.retries)));
        }
        if let Some(init) = &options.init {
            fwd.insert(Key::str("init"), init.clone());
        }
        if kind.is_tree() {
            let leaf = tree::leaf_size(items.len(), options.chunk_size);
            fwd.insert(
                Key::str("chunk_size"),
                Value::Int(i64::try_from(leaf).ok()?),
            );
        }
        let opts = if fwd.is_empty() {
            Value::Nil
        } else {
            Value::map(fwd)
        };
        Some(Request {
            spec: Spec {
                kind,
                f: a[1].clone(),
                extra: a[2..fixed].to_vec(),
                opts,
            },
            items,
            chunk: options.chunk_size,
            progress: options.progress,
            init: options.init,
        })
    }

    /// How the input is cut: items, or leaves of the reduction tree.
    fn shape(&self) -> Shape {
        let n = self.items.len();
        if self.spec.kind.is_tree() {
            let block = tree::leaf_size(n, self.chunk);
            Shape::Tree {
                n,
                block,
                leaves: tree::leaf_count(n, block),
            }
        } else {
            Shape::Items { n }
        }
    }
}

/// The units chunks are made of: items, or for reduce and fold leaves of
/// the fixed reduction tree ([`tree`]), a chunk being always a whole
/// subtree so that its rank's local reduction computes exactly that
/// subtree's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// `n` items, one unit each.
    Items {
        /// Items.
        n: usize,
    },
    /// `n` items in `leaves` leaves of `block` items.
    Tree {
        /// Items.
        n: usize,
        /// Items per leaf.
        block: usize,
        /// Leaves.
        leaves: usize,
    },
}

impl Shape {
    /// How many units.
    pub fn units(self) -> usize {
        match self {
            Shape::Items { n } => n,
            Shape::Tree { leaves, .. } => leaves,
        }
    }

    /// The items of units `lo..hi`.
    pub fn items(self, lo: usize, hi: usize) -> (usize, usize) {
        match self {
            Shape::Items { .. } => (lo, hi),
            Shape::Tree { n, block, .. } => (
                lo.saturating_mul(block).min(n),
                hi.saturating_mul(block).min(n),
            ),
        }
    }

    /// The units of items `start..start + len` (a chunk's).
    pub fn units_of(self, start: usize, len: usize) -> (usize, usize) {
        match self {
            Shape::Items { .. } => (start, start + len),
            Shape::Tree { block, .. } => (start / block, (start + len).div_ceil(block)),
        }
    }

    /// The end of the chunk starting at unit `lo` that has at most `want`
    /// units (at least one). For a tree: the largest subtree starting at
    /// leaf `lo` (chunks dealt from leaf 0 on this way are disjoint
    /// subtrees covering every leaf).
    pub fn cut(self, lo: usize, want: usize) -> usize {
        let want = want.max(1);
        match self {
            Shape::Items { n } => lo.saturating_add(want).min(n),
            Shape::Tree { leaves, .. } => {
                let (mut a, mut b) = (0, leaves);
                loop {
                    if (a == lo && b - a <= want) || b - a <= 1 {
                        return b;
                    }
                    let mid = tree::split(a, b);
                    if lo < mid {
                        b = mid;
                    } else {
                        a = mid;
                    }
                }
            }
        }
    }
}

/// Chunk lengths: aim at [`CHUNK_TARGET`] of wall time on each rank, from
/// its own measured seconds per item, never more than a share of what is
/// left (so the last chunks are small and the ranks end together).
///
/// Items may cost very different amounts (Mandelbrot rows outside the set
/// cost a hundredth of rows through it), so a rate measured on the first
/// items can be far off for the next ones. Two rules bound what a wrong
/// guess costs:
/// - until a rank's first answer, its chunks are no longer than what rank
///   0 measured in [`MEASURE_BUDGET`] (times the rank's workers): the
///   chunks dealt ahead on a guess are about a millisecond each, not a
///   large share of the input; after that a chunk is at most
///   [`GROWTH`] times the rank's previous one;
/// - a chunk is at most `remaining / (2 x slots)` items, `slots` being the
///   chunks that can be unanswered at once over all ranks (each rank's
///   [`depth`](Sizer::depth)): what is dealt ahead, queued on a rank, stays
///   a small part of what is left.
#[derive(Clone, Debug)]
pub struct Sizer {
    target: f64,
    fixed: Option<usize>,
    /// Seconds per item on each rank (wall time of its chunks).
    est: Vec<f64>,
    seen: Vec<bool>,
    last: Vec<usize>,
    /// Each rank's round trip (seconds, beyond queueing and running).
    trip: Vec<f64>,
    /// Each rank's chunk length until its first answer.
    first: Vec<usize>,
}

/// How much longer (in items) a rank's chunk may be than its previous one.
pub const GROWTH: usize = 4;

impl Sizer {
    /// Sizes for as many ranks as `est` has entries: each rank's first
    /// guess of its seconds per item; `first`: each rank's chunk length
    /// until it answered once (what rank 0 measured, times the rank's
    /// workers); `fixed`: the `chunk_size` option.
    pub fn new(est: Vec<f64>, first: Vec<usize>, target: Duration, fixed: Option<usize>) -> Sizer {
        let ranks = est.len();
        let est = est
            .into_iter()
            .map(|e| if e.is_finite() && e > 0.0 { e } else { 1e-9 })
            .collect();
        let mut first = first;
        first.resize(ranks, 1);
        Sizer {
            target: target.as_secs_f64(),
            fixed,
            est,
            seen: vec![false; ranks],
            last: vec![0; ranks],
            trip: vec![0.0; ranks],
            first: first.into_iter().map(|f| f.max(1)).collect(),
        }
    }

    /// How many unanswered chunks `rank` should have: enough that the
    /// queued ones cover a round trip. Rank 0 runs one at a time.
    pub fn depth(&self, rank: usize) -> usize {
        if rank == 0 {
            return 1;
        }
        let chunk = self.est[rank] * self.last[rank].max(1) as f64;
        let cover = if chunk > 0.0 {
            (self.trip[rank] / chunk).ceil()
        } else {
            0.0
        };
        let cover = if cover.is_finite() && cover < MAX_IN_FLIGHT as f64 {
            cover as usize
        } else {
            MAX_IN_FLIGHT
        };
        (2 + cover).clamp(MIN_IN_FLIGHT, MAX_IN_FLIGHT)
    }

    /// A chunk's round trip to `rank` cost `trip` beyond queueing and
    /// running.
    pub fn observe_trip(&mut self, rank: usize, trip: Duration) {
        self.trip[rank] = 0.7 * self.trip[rank] + 0.3 * trip.as_secs_f64();
    }

    /// The next chunk's length for `rank` with `remaining` items left.
    pub fn size(&mut self, rank: usize, remaining: usize) -> usize {
        let n = match self.fixed {
            Some(c) => c,
            None => {
                let want = (self.target / self.est[rank]).ceil();
                let want = if want >= usize::MAX as f64 {
                    usize::MAX
                } else {
                    want as usize
                };
                let slots: usize = (0..self.est.len()).map(|r| self.depth(r)).sum();
                let share = remaining / (2 * slots.max(1));
                let grow = if self.seen[rank] {
                    self.last[rank].max(1).saturating_mul(GROWTH)
                } else {
                    self.first[rank]
                };
                want.min(share).min(grow)
            }
        };
        let n = n.clamp(1, remaining.max(1));
        self.last[rank] = n;
        n
    }

    /// `rank` ran `items` items in `elapsed`.
    pub fn observe(&mut self, rank: usize, items: usize, elapsed: Duration) {
        if items == 0 {
            return;
        }
        let rate = (elapsed.as_secs_f64() / items as f64).max(1e-9);
        self.est[rank] = if self.seen[rank] {
            0.5 * self.est[rank] + 0.5 * rate
        } else {
            rate
        };
        self.seen[rank] = true;
    }
}

/// The results gathered so far, in input order.
#[derive(Debug)]
struct Output {
    data: Data,
    shape: Shape,
    /// Collected failures (`errors: "collect"`): (index, error map).
    errors: Vec<(u64, Value)>,
}

#[derive(Debug)]
enum Data {
    Map(Vec<Value>),
    Filter(Vec<bool>),
    ForEach,
    /// Each chunk's subtree value, by first leaf: (end leaf, value).
    Tree(BTreeMap<usize, (usize, Value)>),
}

impl Output {
    fn new(kind: Kind, shape: Shape) -> Result<Output> {
        let n = shape.items(0, shape.units()).1;
        let data = match kind {
            Kind::Map => Data::Map(crate::ops::try_vec(n)?),
            Kind::Filter => Data::Filter(vec![false; n]),
            Kind::ForEach => Data::ForEach,
            Kind::Reduce | Kind::Fold => Data::Tree(BTreeMap::new()),
        };
        Ok(Output {
            data,
            shape,
            errors: Vec::new(),
        })
    }

    /// Writes the outcome of the chunk of `len` items at `start`.
    fn put(&mut self, start: usize, len: usize, ran: Ran) -> std::result::Result<(), String> {
        let (o, errors) = ran;
        match (&mut self.data, o) {
            (Data::Map(out), Outcome::Map(Value::List(xs))) if xs.len() == len => {
                let xs: &[Value] = &xs;
                if out.len() < start + len {
                    out.resize(start + len, Value::Nil);
                }
                out[start..start + len].clone_from_slice(xs);
            }
            (Data::Filter(out), Outcome::Filter(flags)) if flags.len() == len => {
                out[start..start + len].copy_from_slice(&flags);
            }
            (Data::ForEach, Outcome::ForEach) => {}
            (Data::Tree(nodes), Outcome::Value(v)) => {
                let (lo, hi) = self.shape.units_of(start, len);
                nodes.insert(lo, (hi, v));
            }
            (_, o) => {
                return Err(format!(
                    "an answer that does not fit a chunk of {len} items: {o:?}"
                ))
            }
        }
        self.errors.extend(errors);
        Ok(())
    }

    /// The call's result: for reduce and fold the chunks' subtree values
    /// combined in the fixed tree (on this thread, with `combine`), with
    /// `errors: "collect"` wrapped with the collected failures.
    fn finish(
        self,
        items: &Items,
        collect: bool,
        combine: &mut dyn FnMut(Value, Value) -> Result<Value>,
    ) -> Result<Value> {
        let (key, v) = match self.data {
            Data::Map(v) => ("results", Value::list(v)),
            Data::Filter(flags) => (
                "results",
                Value::list(
                    flags
                        .iter()
                        .enumerate()
                        .filter(|(_, k)| **k)
                        .map(|(i, _)| items.get(i))
                        .collect(),
                ),
            ),
            Data::ForEach => ("results", Value::Nil),
            Data::Tree(mut nodes) => {
                let leaves = self.shape.units();
                ("result", combine_tree(0, leaves, &mut nodes, combine)?)
            }
        };
        if !collect {
            return Ok(v);
        }
        let mut errors = self.errors;
        errors.sort_by_key(|(i, _)| *i);
        let mut m = Map::with_capacity(2);
        m.insert(Key::str(key), v);
        m.insert(
            Key::str("errors"),
            Value::list(errors.into_iter().map(|(_, e)| e).collect()),
        );
        Ok(Value::map(m))
    }
}

/// The value of leaves `lo..hi` of the fixed tree from the chunks' subtree
/// values: a chunk's value where a chunk covers exactly `lo..hi`, else
/// `combine(left, right)` split as [`tree::split`] says — the order of
/// [`tree::fold_tree`], so the result has the bits of the local call's.
pub fn combine_tree(
    lo: usize,
    hi: usize,
    nodes: &mut BTreeMap<usize, (usize, Value)>,
    combine: &mut dyn FnMut(Value, Value) -> Result<Value>,
) -> Result<Value> {
    if nodes.get(&lo).is_some_and(|(end, _)| *end == hi) {
        if let Some((_, v)) = nodes.remove(&lo) {
            return Ok(v);
        }
    }
    if hi - lo < 2 {
        return Err(internal(format!("no value for leaf {lo}")));
    }
    let mid = tree::split(lo, hi);
    let a = combine_tree(lo, mid, nodes, combine)?;
    let b = combine_tree(mid, hi, nodes, combine)?;
    combine(a, b)
}

/// The caller's cancellation (its task's token and its VM's flag).
struct Cancel {
    token: Option<CancelToken>,
    flag: Option<Arc<AtomicBool>>,
}

impl Cancel {
    fn of(vm: &mut Vm) -> Cancel {
        // There is no getter for the flag: swap it out and back.
        let flag = vm.set_cancel_flag(None);
        vm.set_cancel_flag(flag.clone());
        Cancel {
            token: vm
                .cancel_token()
                .cloned()
                .or_else(crate::pool::current_cancel_token),
            flag,
        }
    }

    fn is_cancelled(&self) -> bool {
        self.token.as_ref().is_some_and(CancelToken::is_cancelled)
            || self
                .flag
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Relaxed))
    }
}

/// The `progress: true` bar (on a terminal only), counting items.
struct Bar(indicatif::ProgressBar);

impl Bar {
    fn start(func: &str, len: usize) -> Option<Bar> {
        if !std::io::stderr().is_terminal() {
            return None;
        }
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(len as u64),
            indicatif::ProgressDrawTarget::stderr(),
        );
        let template = format!(
            "{func} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} ({{per_sec}}, ETA {{eta}})"
        );
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        Some(Bar(bar))
    }

    fn add(&self, n: usize) {
        self.0.inc(n as u64);
    }

    fn finish(&self, ok: bool) {
        if ok {
            self.0.finish();
            eprintln!();
        } else {
            self.0.finish_and_clear();
        }
    }
}

/// One dealt chunk.
#[derive(Clone, Copy, Debug)]
struct Dealt {
    start: usize,
    len: usize,
    rank: usize,
    answered: bool,
    /// When rank 0 queued it.
    sent: Instant,
}

/// The state of one distributed call on rank 0.
struct Round<'c> {
    ctx: &'c Context,
    call: u64,
    kind: Kind,
    shape: Shape,
    chunks: Vec<Dealt>,
    in_flight: Vec<usize>,
    failure: Option<(usize, Error)>,
    stopped: bool,
    /// A rank sent something out of protocol: stop waiting for answers.
    broken: bool,
    /// Rank 0's chunk running on the runner: its first index and its
    /// cancel flag.
    local: Option<(usize, Arc<AtomicBool>)>,
}

impl Round<'_> {
    /// A rank broke the protocol: fail the call with `why`, stop waiting.
    #[cold]
    fn protocol_error(&mut self, why: String) {
        self.broken = true;
        self.fail(0, internal(why));
    }

    fn unanswered(&self) -> usize {
        self.in_flight.iter().sum()
    }

    /// Records that the item at `at` failed with `e`; the lowest wins. The
    /// first failure stops dealing and tells every rank to stop.
    fn fail(&mut self, at: usize, e: Error) {
        if self.failure.as_ref().is_some_and(|(i, _)| *i <= at) {
            return;
        }
        self.failure = Some((at, e));
        self.stop(at as u64 + 1);
    }

    /// Tells every rank that chunks from `from` on need not run.
    fn stop(&mut self, from: u64) {
        self.stopped = true;
        if let Some((start, flag)) = &self.local {
            if *start as u64 >= from {
                flag.store(true, Ordering::Relaxed);
            }
        }
        let msg = Msg::Stop {
            call: self.call,
            from,
        };
        if let Ok(bytes) = encode(&self.ctx.prog, &msg) {
            for r in 1..self.ctx.size() {
                self.ctx.link.send(r, bytes.clone());
            }
        }
    }

    /// Takes in rank 0's own chunk's outcome.
    fn local_done(
        &mut self,
        done: LocalDone,
        out: &mut Output,
        sizer: &mut Sizer,
        bar: Option<&Bar>,
        stats: &mut Stats,
    ) {
        let Some((_, flag)) = self.local.take() else {
            return;
        };
        if flag.load(Ordering::Relaxed) {
            // Stopped: what it did does not count.
            return;
        }
        match done.result {
            Ok(o) => {
                let (lo, hi) = self.shape.units_of(done.start, done.len);
                sizer.observe(0, hi - lo, done.elapsed);
                stats.count(0, done.len, done.elapsed);
                if let Some(b) = bar {
                    b.add(done.len);
                }
                if let Err(why) = out.put(done.start, done.len, o) {
                    self.fail(done.start, internal(why));
                }
            }
            Err(e) => self.fail(done.start, e),
        }
    }

    /// Takes in one answer.
    fn answer(
        &mut self,
        env: Envelope,
        out: &mut Output,
        sizer: &mut Sizer,
        bar: Option<&Bar>,
        stats: &mut Stats,
    ) {
        let from = env.from;
        let msg = match decode(&self.ctx.prog, &env.bytes) {
            Ok(m) => m,
            Err(e) => {
                self.protocol_error(format!(
                    "rank {from} sent a message rank 0 cannot read: {e}"
                ));
                return;
            }
        };
        let (call, seq) = match &msg {
            Msg::Done { call, seq, .. }
            | Msg::Failed { call, seq, .. }
            | Msg::Skipped { call, seq } => (*call, *seq),
            other => {
                self.protocol_error(format!("rank {from} sent an unexpected message: {other:?}"));
                return;
            }
        };
        let Some(chunk) = self
            .chunks
            .get_mut(seq as usize)
            .filter(|c| call == self.call && c.rank == from && !c.answered)
        else {
            // An answer to nothing dealt: a bug; say so rather than hang.
            let err = Error::new(
                ErrorKind::Error,
                format!(
                    "rank {from} answered chunk {seq} of call {call}, which rank 0 did not deal it"
                ),
            );
            self.fail(0, err);
            return;
        };
        chunk.answered = true;
        let chunk = *chunk;
        self.in_flight[from] -= 1;
        match msg {
            Msg::Done {
                elapsed_ns,
                queued_ns,
                result,
                errors,
                ..
            } => {
                let ran = Duration::from_nanos(elapsed_ns);
                let (lo, hi) = self.shape.units_of(chunk.start, chunk.len);
                sizer.observe(from, hi - lo, ran);
                stats.count(from, chunk.len, ran);
                let trip = env
                    .at
                    .saturating_duration_since(chunk.sent)
                    .saturating_sub(ran)
                    .saturating_sub(Duration::from_nanos(queued_ns));
                stats.round_trip_us.push(trip.as_secs_f64() * 1e6);
                sizer.observe_trip(from, trip);
                if let Some(b) = bar {
                    b.add(chunk.len);
                }
                if let Err(why) = out.put(chunk.start, chunk.len, (result, errors)) {
                    let err = Error::new(ErrorKind::Error, format!("rank {from} sent {why}"));
                    self.fail(chunk.start, err);
                }
            }
            Msg::Failed { error, .. } => {
                let e = match error {
                    Value::Error(e) => Error(e),
                    other => Error::thrown(other),
                };
                self.fail(chunk.start, e);
            }
            _ => {}
        }
    }
}

impl Context {
    fn run(&self, state: &mut State, vm: &mut Vm, req: Request) -> Result<Value> {
        let prog = &*self.prog;
        let spec = &req.spec;
        let func = spec.kind.name();
        let f = &spec.f;
        let items = &req.items;
        let n = items.len();

        // 1. Check.
        let mut seeds = Vec::new();
        let mut seen = HashSet::new();
        if scan(prog, f, &mut seeds, &mut seen).is_err() {
            return Err(refused_function(prog, func, f));
        }
        let labels: &[&str] = match spec.kind {
            Kind::Fold => &["the combine function", "the identity"],
            _ => &["the identity"],
        };
        let others = spec.extra.iter().zip(labels.iter().copied());
        for (v, label) in others.chain(req.init.iter().map(|i| (i, "option init"))) {
            if scan(prog, v, &mut seeds, &mut seen).is_err() {
                return Err(match v {
                    Value::Func(_) => refused_function(prog, func, v),
                    _ => refused(prog, func, v, label),
                });
            }
        }
        for (i, x) in items.list().iter().enumerate() {
            if scan(prog, x, &mut seeds, &mut seen).is_err() {
                return Err(refused(prog, func, x, &format!("item {i}")));
            }
        }
        let plan = snapshot::plan(prog, &mut state.cache, func, seeds)?;

        let bar = if req.progress {
            Bar::start(func, n)
        } else {
            None
        };
        let r = self.run_checked(state, vm, &req, &plan, bar.as_ref());
        if let Some(b) = &bar {
            b.finish(r.is_ok());
        }
        r
    }

    /// Runs a chunk (items `start..`) on rank 0, on the calling thread.
    fn local(&self, vm: &mut Vm, spec: &Spec, items: &Value, start: usize) -> Result<Ran> {
        let frame = rank_frame(0, &self.link.host);
        run_local(vm, spec, items, start as u64, &frame).map_err(|mut e| {
            e.push_trace(frame);
            e
        })
    }

    /// The result from the gathered outcomes: reduce and fold combine
    /// their chunks' values here, on the calling thread (`f(a, b)`, with
    /// this thread's `init` state first if there is one, for reduce;
    /// `combine(a, b)` for fold).
    fn finish(&self, vm: &mut Vm, req: &Request, spec: &Spec, out: Output) -> Result<Value> {
        let init = option(&spec.opts, "init");
        let mut state: Option<Value> = None;
        let mut combine = |a: Value, b: Value| -> Result<Value> {
            match spec.kind {
                Kind::Fold => vm.call(&spec.extra[0], &[a, b]),
                _ => match init {
                    None => vm.call(&spec.f, &[a, b]),
                    Some(init) => {
                        let st = match &state {
                            Some(st) => st.clone(),
                            None => {
                                let st = vm.call(init, &[])?;
                                state = Some(st.clone());
                                st
                            }
                        };
                        vm.call(&spec.f, &[st, a, b])
                    }
                },
            }
        };
        out.finish(&req.items, spec.collects(), &mut combine)
    }

    fn run_checked(
        &self,
        state: &mut State,
        vm: &mut Vm,
        req: &Request,
        plan: &snapshot::Plan,
        bar: Option<&Bar>,
    ) -> Result<Value> {
        let items = &req.items;
        let shape = req.shape();
        // What rank 0's own chunks run: `init` through a slot of this call
        // (once per thread for the whole call); the other ranks get the
        // script's `init` and lease their own.
        let (opts, _lease) = lease(&req.spec.opts);
        let opts = super::service::inline_opts(req.spec.kind, opts);
        let local_spec = Spec {
            opts,
            ..req.spec.clone()
        };
        let spec = &local_spec;
        let units = shape.units();
        let mut out = Output::new(spec.kind, shape)?;
        let cancel = Cancel::of(vm);

        // 2. Measure (units: items, or leaves of the reduction tree).
        let mut next = 0;
        let mut est0 = 0.0;
        let fixed = if spec.kind.is_tree() { None } else { req.chunk };
        if fixed.is_none() {
            let mut size = 1;
            let t0 = Instant::now();
            while next < units && t0.elapsed() < MEASURE_BUDGET {
                let end = shape.cut(next, size);
                let (a, b) = shape.items(next, end);
                let o = self.local(vm, spec, &items.slice(a, b), a)?;
                out.put(a, b - a, o).map_err(internal)?;
                if let Some(bar) = bar {
                    bar.add(b - a);
                }
                next = end;
                size = size.saturating_mul(2);
            }
            if next < units {
                est0 = t0.elapsed().as_secs_f64() / next as f64;
            }
            if next < units && est0 * ((units - next) as f64) < DISTRIBUTE_MIN.as_secs_f64() {
                while next < units {
                    let end = shape.cut(next, units - next);
                    let (a, b) = shape.items(next, end);
                    let o = self.local(vm, spec, &items.slice(a, b), a)?;
                    out.put(a, b - a, o).map_err(internal)?;
                    if let Some(bar) = bar {
                        bar.add(b - a);
                    }
                    next = end;
                }
            }
            if next == units {
                state.stats.calls_local += 1;
                return self.finish(vm, req, spec, out);
            }
        }

        // 3. Deal.
        let call = state.next_call;
        state.next_call += 1;
        state.stats.calls_spread += 1;
        let depth = vm.max_depth().saturating_sub(vm.depth());
        let depth32 = u32::try_from(depth).unwrap_or(u32::MAX);
        let bytes = encode_call(&self.prog, &mut state.cache, plan, call, depth32, &req.spec)?;
        let size = self.size();
        for r in 1..size {
            self.link.send(r, bytes.clone());
        }
        // Rank 0 measured items one at a time (one thread); a rank with
        // more workers runs a chunk's items side by side.
        let workers = |r: usize| self.ranks.get(r).map_or(1, |i| i.workers.max(1));
        let guesses = (0..size).map(|r| est0 / f64::from(workers(r))).collect();
        let first = (0..size)
            .map(|r| next.max(1).saturating_mul(workers(r) as usize))
            .collect();
        let mut sizer = Sizer::new(guesses, first, CHUNK_TARGET, fixed);
        let mut round = Round {
            ctx: self,
            call,
            kind: spec.kind,
            shape,
            chunks: Vec::new(),
            in_flight: vec![0; size],
            failure: None,
            stopped: false,
            broken: false,
            local: None,
        };
        let runner = self.runner();
        loop {
            while let Ok(env) = self.link.try_recv() {
                round.answer(env, &mut out, &mut sizer, bar, &mut state.stats);
            }
            if let Some(r) = runner {
                while let Ok(done) = r.done.try_recv() {
                    round.local_done(done, &mut out, &mut sizer, bar, &mut state.stats);
                }
            }
            if !round.stopped && cancel.is_cancelled() {
                let at = shape.items(next, next).0;
                round.failure.get_or_insert_with(|| (at, cancelled()));
                round.stop(0);
            }
            if !round.stopped {
                for r in 1..size {
                    while round.in_flight[r] < sizer.depth(r) && next < units {
                        let end = shape.cut(next, sizer.size(r, units - next));
                        let (a, b) = shape.items(next, end);
                        if let Err(e) = self.deal(&mut round, r, a, b - a, items) {
                            round.fail(a, e);
                            break;
                        }
                        next = end;
                    }
                }
            }
            // Rank 0's own share: on the runner's thread, so that this
            // thread keeps dealing; inline if there is no runner.
            if !round.stopped && next < units && round.local.is_none() {
                let end = shape.cut(next, sizer.size(0, units - next));
                let (a, b) = shape.items(next, end);
                let chunk = items.slice(a, b);
                match runner {
                    Some(r) => {
                        let flag = Arc::new(AtomicBool::new(false));
                        let job = LocalJob {
                            spec: spec.clone(),
                            items: chunk,
                            start: a,
                            len: b - a,
                            depth,
                            token: cancel.token.clone(),
                            flag: flag.clone(),
                        };
                        if r.jobs.send(job).is_ok() {
                            round.local = Some((a, flag));
                        } else {
                            round.fail(a, internal("rank 0's chunk thread is gone".into()));
                        }
                    }
                    None => {
                        let t0 = Instant::now();
                        let result = self.local(vm, spec, &chunk, a);
                        let done = LocalDone {
                            start: a,
                            len: b - a,
                            elapsed: t0.elapsed(),
                            result,
                        };
                        round.local = Some((a, Arc::new(AtomicBool::new(false))));
                        round.local_done(done, &mut out, &mut sizer, bar, &mut state.stats);
                    }
                }
                next = end;
                continue;
            }
            if (round.unanswered() == 0 && round.local.is_none()) || round.broken {
                break;
            }
            // Wait for an answer or for rank 0's chunk.
            let inbox = self.link.inbox();
            // The MPI thread polls without naps for a moment while this
            // thread waits: an answer taken at once is a chunk dealt at once.
            // (Napping instead while rank 0's own chunk runs, to leave the
            // CPU to the chunks, was measured slower: 1.45 s against 1.33 s
            // median for benches/mpi/map.weft on 2 ranks.)
            self.link.watch.begin_wait();
            let waited = crate::pool::blocking(|| match runner {
                Some(r) => crossbeam_channel::select! {
                    recv(inbox) -> env => Waited::Answer(env.ok()),
                    recv(r.done) -> done => Waited::Local(done.ok()),
                    default(WAIT_SLICE) => Waited::Nothing,
                },
                None => match inbox.recv_timeout(WAIT_SLICE) {
                    Ok(env) => Waited::Answer(Some(env)),
                    Err(RecvTimeoutError::Timeout) => Waited::Nothing,
                    Err(RecvTimeoutError::Disconnected) => Waited::Answer(None),
                },
            });
            self.link.watch.end_wait();
            match waited {
                Waited::Answer(Some(env)) => {
                    round.answer(env, &mut out, &mut sizer, bar, &mut state.stats)
                }
                Waited::Local(Some(done)) => {
                    round.local_done(done, &mut out, &mut sizer, bar, &mut state.stats)
                }
                Waited::Nothing => {}
                Waited::Answer(None) | Waited::Local(None) => {
                    round.protocol_error("the connection to the other ranks is gone".into());
                    break;
                }
            }
        }
        if round.broken {
            state.broken = true;
        }
        if let Ok(bytes) = encode(&self.prog, &Msg::End { call }) {
            for r in 1..size {
                self.link.send(r, bytes.clone());
            }
        }
        match round.failure {
            Some((_, e)) => Err(e),
            None => self.finish(vm, req, spec, out),
        }
    }

    /// The thread that runs rank 0's chunks (started on first use; `None`
    /// if no thread could be started: rank 0 then runs them inline).
    fn runner(&self) -> Option<&LocalRunner> {
        self.runner
            .get_or_init(|| LocalRunner::start(self.link.host.clone()))
            .as_ref()
    }

    /// Sends items `start..start + len` to `rank`.
    fn deal(
        &self,
        round: &mut Round<'_>,
        rank: usize,
        start: usize,
        len: usize,
        items: &Items,
    ) -> Result<()> {
        let seq = u32::try_from(round.chunks.len())
            .map_err(|_| internal("more than 4 billion chunks in one call".into()))?;
        let msg = Msg::Chunk {
            call: round.call,
            seq,
            start: start as u64,
            items: items.slice(start, start + len),
        };
        // The items were checked: this cannot be refused.
        let bytes = encode(&self.prog, &msg).map_err(|r| {
            Error::type_error(format!(
                "{}() under --mpi: an item {}",
                round.kind.name(),
                r.describe()
            ))
        })?;
        check_size(round.kind.name(), bytes.len())?;
        round.chunks.push(Dealt {
            start,
            len,
            rank,
            answered: false,
            sent: Instant::now(),
        });
        round.in_flight[rank] += 1;
        self.link.send(rank, bytes);
        Ok(())
    }

    /// Where rank `r` runs.
    pub fn rank_info(&self, r: usize) -> Option<&RankInfo> {
        self.ranks.get(r)
    }
}

/// What a wait of rank 0 brought.
enum Waited {
    Answer(Option<Envelope>),
    Local(Option<LocalDone>),
    Nothing,
}

/// One of rank 0's chunks, for its runner thread.
struct LocalJob {
    spec: Spec,
    items: Value,
    start: usize,
    len: usize,
    /// The caller's remaining call depth.
    depth: usize,
    /// The caller's task's cancellation.
    token: Option<CancelToken>,
    /// Set when the chunk need not run any more.
    flag: Arc<AtomicBool>,
}

/// How one of rank 0's chunks went.
struct LocalDone {
    start: usize,
    len: usize,
    elapsed: Duration,
    result: Result<Ran>,
}

/// The thread that runs rank 0's chunks (through the local `parallel_*`,
/// on rank 0's pool), one at a time, while the calling thread deals.
#[derive(Debug)]
struct LocalRunner {
    jobs: crossbeam_channel::Sender<LocalJob>,
    done: crossbeam_channel::Receiver<LocalDone>,
}

impl std::fmt::Debug for LocalJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<chunk {}..{}>", self.start, self.start + self.len)
    }
}

impl std::fmt::Debug for LocalDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<chunk {}..{} done>", self.start, self.start + self.len)
    }
}

/// The runner's stack: items may recurse deeply, as on the main thread.
const RUNNER_STACK: usize = 256 * 1024 * 1024;

impl LocalRunner {
    fn start(host: String) -> Option<LocalRunner> {
        let (jobs, job_rx) = crossbeam_channel::unbounded::<LocalJob>();
        let (done_tx, done) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("weft-mpi-rank0".into())
            .stack_size(RUNNER_STACK)
            .spawn(move || {
                for job in job_rx {
                    let t0 = Instant::now();
                    let frame = rank_frame(0, &host);
                    let result = with_vm(|vm| {
                        let old_flag = vm.set_cancel_flag(Some(job.flag.clone()));
                        let old_token = vm.set_cancel_token(job.token.clone());
                        let old_max = vm.max_depth();
                        vm.set_max_depth(job.depth);
                        let r = panic::catch_unwind(AssertUnwindSafe(|| {
                            run_local(vm, &job.spec, &job.items, job.start as u64, &frame)
                        }))
                        .unwrap_or_else(|_| Err(internal("a panic while running a chunk".into())));
                        vm.set_max_depth(old_max);
                        vm.set_cancel_token(old_token);
                        vm.set_cancel_flag(old_flag);
                        r
                    })
                    .map_err(|mut e| {
                        e.push_trace(frame);
                        e
                    });
                    let reply = LocalDone {
                        start: job.start,
                        len: job.len,
                        elapsed: t0.elapsed(),
                        result,
                    };
                    if done_tx.send(reply).is_err() {
                        break;
                    }
                }
            })
            .ok()?;
        Some(LocalRunner { jobs, done })
    }
}

#[cold]
fn internal(why: String) -> Error {
    Error::new(
        ErrorKind::Error,
        format!("internal error under --mpi: {why}"),
    )
}

#[cold]
fn cancelled() -> Error {
    Error::cancelled()
}
