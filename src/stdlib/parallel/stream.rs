//! The parallel calls over a channel: streams with bounded memory.
//!
//! `parallel_map(ch, f)` and `parallel_filter(ch, p)` return at once an
//! output channel. **Runners** (jobs on the pool, at most one per worker)
//! take **chunks** of items from the input, run them and put the results
//! on the output, in input order; a **driver** thread of the call's own
//! steps in only when no runner is running: to wait for items, or for the
//! consumer to make room, and to start runners again.
//! `parallel_for_each`, `parallel_reduce` and `parallel_fold` over a
//! channel run the same driver on the calling thread and return when the
//! input is closed and drained. The protocol (states, each side's steps,
//! why the memory bound holds, why no wakeup is lost, why nothing
//! deadlocks) is written up in `STREAMS.md` next to this file.
//!
//! The driver uses only the channel's public API and pool jobs; every wait
//! of its own is on its own thread or inside [`crate::pool::blocking`], and
//! no runner ever waits for the driver or for the consumer.

use std::collections::VecDeque;
use std::mem;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use parking_lot::{Condvar, Mutex};

use super::options::Options;
use super::progress::Progress;
use super::stats::CallStats;
use super::tree::{self, TreeStack};
use super::work::{cancelled, Work};
use crate::channel::{Channel, Interrupt, RecvTimeoutError, SendTimeoutError};
use crate::error::{Error, ErrorKind, Result};
use crate::map::Map;
use crate::pool::ThreadPool;
use crate::stdlib::args;
use crate::stdlib::channel::{ChannelObj, Help};
use crate::stdlib::stream::Decode;
use crate::value::{Key, Value};
use crate::vm::{with_vm, Vm};

/// How long a chunk should take: long enough to pay for its handling
/// (a queue push, a pool job, a VM, the emit), short enough to keep every
/// worker fed within `in_flight`.
const TARGET_CHUNK: Duration = Duration::from_micros(200);

/// How long a runner out of room spins for a consumer that is not
/// helping: rounds of 1, 2, 4, .. spin hints (127 in all).
const SPIN_ROUNDS: u32 = 6;

/// The longest a runner out of room waits (spinning) for a helping
/// consumer to take results, and a helping consumer with nothing to run
/// waits for a runner's results, before giving up (the runner stops, the
/// consumer parks). Between the two, a few chunks' time: see
/// [`Stream::spin_limit`].
const SPIN_MAX: Duration = Duration::from_micros(50);
/// The shortest such wait.
const SPIN_MIN: Duration = Duration::from_micros(5);

/// What the driver waits for (`Stream::waiting`): a runner stopping
/// (the last one), or the helping consumer emitting.
const WAIT_RUNNERS: u8 = 1;
/// See [`WAIT_RUNNERS`].
const WAIT_EMITS: u8 = 2;

/// How often a waiting driver looks whether the consumer dropped the
/// output (the one event nothing wakes it for).
const LIVENESS: Duration = Duration::from_secs(1);

/// What a stream call does with each item.
#[derive(Debug)]
pub(super) enum StreamOp {
    /// `parallel_map`: emit `f(x)`.
    Map,
    /// `parallel_filter`: emit `x` when `p(x)` is truthy.
    Filter,
    /// `parallel_for_each`: call `f(x)`.
    ForEach,
    /// `parallel_reduce` / `parallel_fold`: fold leaves with `f` (`step`)
    /// from `identity`, combine them in the fixed tree with `combine`
    /// (`None`: `f`, with the thread's `init` state first).
    Reduce {
        /// The fold's starting value, and every leaf's.
        identity: Value,
        /// `parallel_fold`'s combine.
        combine: Option<Value>,
    },
}

impl StreamOp {
    fn emits(&self) -> bool {
        matches!(self, StreamOp::Map | StreamOp::Filter)
    }
}

/// A run of consecutive items handed to one runner.
#[derive(Debug)]
struct Chunk {
    seq: u64,
    /// Input index of the first item.
    first: usize,
    items: Vec<Value>,
}

/// What a runner made of a chunk.
#[derive(Debug)]
struct Done {
    seq: u64,
    count: usize,
    /// map/filter: the values to emit, with their input indices; reduce:
    /// one value per leaf (in `leaves`).
    out: Vec<(usize, Value)>,
    /// reduce: each leaf's value, `None` where a leaf stopped.
    leaves: Vec<Option<Value>>,
}

/// A thread's run of chunks: its VM, set up as the caller's (one
/// `as_caller` for as many chunks as it runs), its `init` state (looked up
/// when its first item runs), and the items it ran not yet counted.
struct Runs<'v> {
    vm: &'v mut Vm,
    state: Option<Result<Option<Value>>>,
    ran: usize,
}

impl Runs<'_> {
    /// The VM, and the thread's `init` state (`init` runs on first use).
    fn vm_and_state(&mut self, work: &Work) -> (&mut Vm, &Result<Option<Value>>) {
        let state = match &mut self.state {
            Some(s) => s,
            slot => slot.insert(work.state(self.vm)),
        };
        (self.vm, state)
    }

    /// Counts the items run so far (progress, `--stats`).
    fn flush(&mut self, work: &Work) {
        work.count(mem::take(&mut self.ran));
    }
}

/// The chunks waiting for a runner, and how many runners are alive.
#[derive(Debug, Default)]
struct Queue {
    chunks: VecDeque<Chunk>,
    runners: usize,
}

/// The input's read position: who takes items numbers them, so taking and
/// numbering happen together, under this lock.
#[derive(Debug, Default)]
struct Taker {
    /// Items taken so far (the index of the next one).
    taken: usize,
    /// Chunks made so far (the sequence number of the next one).
    seq: u64,
    /// reduce, fold: items of a leaf not yet complete.
    staged: Vec<Value>,
}

/// In-order emission: finished chunks wait here until every earlier one is
/// done; one thread at a time (the one that sets `merging`) emits them.
#[derive(Debug, Default)]
struct Emit {
    next: u64,
    ready: VecDeque<Option<Done>>,
    merging: bool,
}

/// One stream call; shared (`Arc`) by its driver and runners.
#[derive(Debug)]
pub(super) struct Stream {
    /// Itself, for the helping consumer (which gets `&self`) to start
    /// runners.
    me: Weak<Stream>,
    func: &'static str,
    op: StreamOp,
    work: Work,
    stats: CallStats,
    pool: &'static ThreadPool,
    /// The input, kept alive while the call runs (for a composed stream:
    /// the previous stage's output, whose driver watches this handle).
    input: Arc<ChannelObj>,
    /// The output (map, filter), bounded to `in_flight`.
    output: Option<Channel<Value>>,
    /// The script's handle to the output: once it is gone, so is the
    /// consumer.
    consumer: Weak<ChannelObj>,
    in_flight: usize,
    ordered: bool,
    fixed_chunk: Option<usize>,
    /// Items per leaf (reduce, fold).
    leaf: usize,
    workers: usize,
    // Written per chunk: `queue`, `take`, `emit`, `outstanding` and the
    // consumer's `consumer_vm` lock each have a cache line of their own,
    // away from the read-mostly fields that every thread reads per chunk
    // or per item (`cost`, `consumer_helps`, `in_flight`, the work's
    // function, token and failure): a write to a line takes it from every
    // other thread, and these are written by one thread while another
    // runs items.
    queue: CachePadded<Mutex<Queue>>,
    take: CachePadded<Mutex<Taker>>,
    /// The input was found closed and drained.
    input_done: AtomicBool,
    emit: CachePadded<Mutex<Emit>>,
    /// reduce, fold: the leaves merged so far, in tree order.
    tree: Mutex<TreeStack<Value>>,
    /// Items taken from the input and not yet emitted (or dropped).
    outstanding: CachePadded<AtomicUsize>,
    /// Mean cost of an item in nanoseconds (f64 bits), 0 before the first
    /// chunk ends.
    cost: AtomicU64,
    /// A claimed input stream's decoder (`csv.rows`): its raw items are
    /// decoded by the runner that runs them (see `stdlib/stream`).
    decode: Option<Arc<dyn Decode>>,
    /// The driver sleeps on `wake` while `waiting` is set, to what it
    /// waits for ([`WAIT_RUNNERS`], [`WAIT_EMITS`]).
    waiting: AtomicU8,
    wake_lock: Mutex<()>,
    wake: Condvar,
    /// The consumer closed or dropped the output.
    consumer_gone: AtomicBool,
    /// The consumer runs chunks ([`Help`]): it found the output empty and
    /// had work to do the last time it looked. While it does, it holds one
    /// of the `workers` places and at most `workers - 1` runners run
    /// (at least one).
    consumer_helps: AtomicBool,
    /// The helping consumer's VM, set up as the caller's once
    /// ([`Work::prepare`]) and kept for all the chunks it runs (see
    /// [`Stream::consumer_runs`]).
    consumer_vm: CachePadded<Mutex<Option<Box<Vm>>>>,
}

/// Starts a stream call of `func` over `input` applying `f` from the
/// caller's `vm`. map and filter return the output channel at once; the
/// others run to the end here and return their result.
pub(super) fn run(
    vm: &mut Vm,
    func: &'static str,
    input: Arc<ChannelObj>,
    f: &Value,
    op: StreamOp,
    options: &Options,
) -> Result<Value> {
    let pool = crate::runtime::pool()?;
    run_on(vm, func, input, f, op, options, pool)
}

/// As [`run`], on `pool`.
pub(super) fn run_on(
    vm: &mut Vm,
    func: &'static str,
    input: Arc<ChannelObj>,
    f: &Value,
    op: StreamOp,
    options: &Options,
    pool: &'static ThreadPool,
) -> Result<Value> {
    let workers = pool.worker_count().max(1);
    let leaf = match op {
        StreamOp::Reduce { .. } => options.chunk_size.unwrap_or(tree::STREAM_LEAF),
        _ => 1,
    };
    let mut in_flight = options.in_flight.unwrap_or(4 * workers);
    if matches!(op, StreamOp::Reduce { .. }) {
        // A leaf is folded in one piece: at least one must fit.
        in_flight = in_flight.max(leaf);
    }
    let progress = if options.progress {
        Progress::start(func, None)
    } else {
        None
    };
    let stats = CallStats::new(vm);
    let work = Work::new_stream(vm, f, options, progress);
    // The stream's own handle and the caller's argument: if nobody else
    // holds a reader's stream, its records are parsed here, on the runners.
    let decode = claim_input(&input, &op);
    // A claimed stream of blocks: `in_flight` counts blocks (see
    // `claimed_in_flight`), the output has room for their rows.
    let per_item = decode.as_ref().map_or(1, |d| d.max_weight());
    let in_flight = claimed_in_flight(in_flight, per_item, workers);
    let output = if op.emits() {
        Some(Arc::new(ChannelObj::new(Some(
            in_flight.saturating_mul(per_item),
        ))?))
    } else {
        None
    };
    let stream = Arc::new_cyclic(|me| Stream {
        me: me.clone(),
        func,
        op,
        work,
        stats,
        pool,
        input,
        output: output.as_ref().map(|o| o.ch.clone()),
        consumer: output.as_ref().map(Arc::downgrade).unwrap_or_default(),
        in_flight,
        ordered: options.ordered,
        fixed_chunk: options.chunk_size.map(|c| c.div_ceil(per_item)),
        leaf,
        workers,
        queue: CachePadded::new(Mutex::new(Queue::default())),
        take: CachePadded::new(Mutex::new(Taker::default())),
        input_done: AtomicBool::new(false),
        emit: CachePadded::new(Mutex::new(Emit::default())),
        tree: Mutex::new(TreeStack::new()),
        outstanding: CachePadded::new(AtomicUsize::new(0)),
        cost: AtomicU64::new(0),
        decode,
        waiting: AtomicU8::new(0),
        wake_lock: Mutex::new(()),
        wake: Condvar::new(),
        consumer_gone: AtomicBool::new(false),
        consumer_helps: AtomicBool::new(false),
        consumer_vm: CachePadded::new(Mutex::new(None)),
    });
    match output {
        Some(out) => {
            let helper: Weak<dyn Help> = Arc::downgrade(&stream) as Weak<dyn Help>;
            out.set_helper(helper);
            let driver = Arc::clone(&stream);
            // The driver may still feed the output a script waits on, and
            // it is not a pool task: no deadlock is reported while it runs
            // (see STREAMS.md, "Deadlock detection").
            let pending = crate::runtime::outside_work();
            std::thread::Builder::new()
                .name("weft-stream".into())
                .spawn(move || {
                    driver.drive_to_end();
                    drop(pending);
                })
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Error,
                        format!("{func}() could not start its stream thread: {e}"),
                    )
                })?;
            Ok(Value::Channel(out))
        }
        None => stream.drive_here(vm),
    }
}

impl Stream {
    /// The driver of map and filter, on its own thread: runs the stream,
    /// then closes the output (with the error, if the work failed).
    fn drive_to_end(self: Arc<Self>) {
        let started = Instant::now();
        self.drive();
        let failed = self.work.failure.take();
        // Progress and `--stats` first: once the output is closed, the
        // script may end and print the call sites before this thread runs
        // again.
        self.end(started, failed.is_none());
        if let Some(out) = &self.output {
            match &failed {
                Some(e) if !self.consumer_gone.load(Ordering::Relaxed) => {
                    out.close_with(e.clone().into_value());
                }
                _ => {
                    out.close();
                }
            }
        }
    }

    /// The driver of for_each, reduce and fold, on the calling thread: the
    /// result, or the first failure in input order.
    fn drive_here(self: Arc<Self>, vm: &mut Vm) -> Result<Value> {
        let started = Instant::now();
        self.drive();
        let result = match self.work.failure.take() {
            Some(e) => Err(e),
            None => match &self.op {
                StreamOp::Reduce { identity, combine } => {
                    let tree = mem::take(&mut *self.tree.lock());
                    let value = if tree.leaves() == 0 {
                        Some(identity.clone())
                    } else {
                        self.work.as_caller(vm, |vm| {
                            tree.finish(&mut |a, b, at| {
                                self.combine(vm, combine.as_ref(), a, b, at)
                            })
                        })
                    };
                    match (value, self.work.failure.take()) {
                        (_, Some(e)) => Err(e),
                        (Some(v), None) => Ok(v),
                        (None, None) => Err(Error::new(
                            ErrorKind::Error,
                            "internal error: a stream reduction lost a leaf",
                        )),
                    }
                }
                _ => Ok(Value::Nil),
            },
        };
        self.end(started, result.is_ok());
        let result = result?;
        if !self.work.collects() {
            return Ok(result);
        }
        let mut m = Map::with_capacity(2);
        let key = match self.op {
            StreamOp::Reduce { .. } => "result",
            _ => "results",
        };
        m.insert(Key::str(key), result);
        m.insert(Key::str("errors"), self.work.collected_value());
        Ok(Value::map(m))
    }

    /// Progress and `--stats` at the end of the call.
    fn end(&self, started: Instant, ok: bool) {
        if let Some(p) = &self.work.progress {
            p.finish(ok);
        }
        self.stats.wall(started.elapsed());
        self.stats
            .record(self.func, self.work.items_run.load(Ordering::Relaxed));
    }

    /// The driver's loop. While runners run, they take items themselves;
    /// the driver waits until none is running, then takes what the bound
    /// allows (waiting for items, or for the consumer to make room), hands
    /// it out and starts runners. At the end it waits until every chunk is
    /// done.
    fn drive(self: &Arc<Self>) {
        let token = self.work.token().cloned();
        let interrupt: Option<&dyn Interrupt> = token.as_ref().map(|t| t as &dyn Interrupt);
        loop {
            if self.should_stop() || self.input_done.load(Ordering::SeqCst) {
                break;
            }
            self.wait_until(WAIT_RUNNERS, |s| {
                s.runners() == 0 || s.stopping() || s.work.cancelled()
            });
            if self.should_stop() {
                break;
            }
            if self.room() == 0 {
                match &self.output {
                    Some(_) if !self.idle() => {
                        // No runner runs, yet items are taken and not
                        // emitted: the helping consumer runs them (`Help`),
                        // and the chunks after them wait for its emit.
                        // Wait until it emits (it wakes the driver then):
                        // then either there is room, or nothing is
                        // outstanding and the output is full (the branch
                        // below waits for the consumer to receive). (A
                        // wait for the output's room now would return at
                        // once, the output not being full: the driver
                        // would spin on a core the consumer needs.)
                        self.wait_until(WAIT_EMITS, |s| {
                            s.room() > 0 || s.idle() || s.stopping() || s.work.cancelled()
                        });
                    }
                    Some(out) => {
                        // Nothing outstanding: the output is full. Wait
                        // for the consumer to take a result.
                        let deadline = Instant::now() + LIVENESS;
                        if let Err(SendTimeoutError::Closed(())) =
                            crate::pool::blocking(|| out.wait_for_room(Some(deadline), interrupt))
                        {
                            self.consumer_left();
                        }
                        self.pause_for_block_room(out);
                    }
                    None => {}
                }
                continue;
            }
            let mut t = self.take.lock();
            // Exact under the lock (a runner may have taken meanwhile).
            let room = self.room();
            if room == 0 {
                continue;
            }
            let want = NonZeroUsize::new(self.take_size(room)).unwrap_or(NonZeroUsize::MIN);
            let deadline = Instant::now() + LIVENESS;
            let got = crate::pool::blocking(|| {
                self.input
                    .ch
                    .recv_batch_deadline(want, Some(deadline), interrupt)
            });
            match got {
                Ok(items) => {
                    let chunks = self.make_chunks(&mut t, items);
                    drop(t);
                    self.hand_out(chunks);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Closed) => {
                    self.input_closed(&mut t);
                    break;
                }
                Err(RecvTimeoutError::Cancelled) => {
                    if !self.consumer_gone.load(Ordering::Relaxed) {
                        let at = t.taken + t.staged.len();
                        self.work.failure.record(at, cancelled());
                    }
                    break;
                }
            }
        }
        // The input is done (or the work stopped): the last partial leaf.
        {
            let mut t = self.take.lock();
            if !t.staged.is_empty() {
                let staged = mem::take(&mut t.staged);
                if self.should_stop() {
                    self.outstanding.fetch_sub(staged.len(), Ordering::SeqCst);
                } else {
                    let chunk = self.chunk_of(&mut t, staged);
                    drop(t);
                    self.hand_out(vec![chunk]);
                }
            }
        }
        if self.consumer_gone.load(Ordering::Relaxed) || self.work.cancelled() {
            self.work.abandon();
        }
        if self.work.cancelled()
            && !self.consumer_gone.load(Ordering::Relaxed)
            && !self.work.failure.any()
        {
            // The caller was cancelled: the consumer learns it after the
            // results of the items already taken.
            let taken = self.take.lock().taken;
            self.work.failure.record(taken, cancelled());
        }
        self.wait_until(WAIT_RUNNERS | WAIT_EMITS, |s| s.runners() == 0 && s.idle());
    }

    /// The input was found closed and drained: if it was closed with an
    /// error (a previous stage failed), that error is this call's failure,
    /// after the items it delivered.
    fn input_closed(&self, t: &mut Taker) {
        self.input_done.store(true, Ordering::SeqCst);
        if let Some(Value::Error(e)) = self.input.ch.close_reason() {
            self.work.failure.record(t.taken + t.staged.len(), Error(e));
        }
    }

    /// Whether the driver must stop taking items: an item failed (and
    /// failures are thrown), the consumer left, or the caller was cancelled.
    fn should_stop(&self) -> bool {
        self.check_consumer();
        self.stopping() || self.work.cancelled()
    }

    /// Whether the work is stopping (a failure to throw, or no consumer).
    fn stopping(&self) -> bool {
        self.consumer_gone.load(Ordering::Relaxed) || self.work.failure.any()
    }

    /// Notes whether the consumer closed or dropped the output.
    fn check_consumer(&self) {
        if let Some(out) = &self.output {
            if self.consumer.strong_count() == 0 || out.is_closed() {
                self.consumer_left();
            }
        }
    }

    /// The consumer closed or dropped the output: stop the work.
    fn consumer_left(&self) {
        if !self.consumer_gone.swap(true, Ordering::Relaxed) {
            self.work.abandon();
        }
    }

    /// Room left under the bound now: `in_flight` minus the items taken
    /// and not yet emitted, minus those on the output.
    ///
    /// Exact only under the take lock: then `outstanding` cannot grow, and
    /// it is read before the output's length, so an emit in between (send,
    /// then subtract) is counted twice rather than not at all. Without the
    /// lock it is a hint.
    fn room(&self) -> usize {
        let outstanding = self.outstanding.load(Ordering::SeqCst);
        let out_len = self.output.as_ref().map_or(0, Channel::len);
        let out_len = self.output_items(out_len);
        self.in_flight.saturating_sub(outstanding + out_len)
    }

    /// How many input items `out_len` results on the output count for:
    /// as many, except for a claimed stream of blocks, where a block's
    /// results (at most `max_weight`) count as one block (see
    /// [`claimed_in_flight`]).
    #[inline]
    fn output_items(&self, out_len: usize) -> usize {
        match &self.decode {
            None => out_len,
            Some(d) => out_len.div_ceil(d.max_weight()),
        }
    }

    /// A claimed stream of blocks out of room while its output is not
    /// full (a block's room comes back only once a block's worth of rows
    /// is received, and the output's own wait is for one slot): pause
    /// briefly rather than spin.
    fn pause_for_block_room(&self, out: &Channel<Value>) {
        if self.decode.as_ref().is_some_and(|d| d.max_weight() > 1)
            && self.room() == 0
            && !out.is_empty()
        {
            std::thread::sleep(Duration::from_micros(50));
        }
    }

    /// The index the items of `items` take (a claimed stream's block
    /// stands for its rows: items are numbered by row).
    #[inline]
    fn weight(&self, items: &[Value]) -> usize {
        match &self.decode {
            Some(d) if d.max_weight() > 1 => items.iter().map(|x| d.weight(x)).sum(),
            _ => items.len(),
        }
    }

    /// How many items the driver takes at once, with `room` left: a chunk
    /// for every worker.
    fn take_size(&self, room: usize) -> usize {
        self.chunk_size()
            .saturating_mul(self.workers)
            .min(room)
            .max(1)
    }

    /// Items per chunk: `chunk_size`, or what takes about
    /// [`TARGET_CHUNK`] at the measured cost, at most an equal share of
    /// `in_flight` per worker; for reduce, whole leaves.
    fn chunk_size(&self) -> usize {
        // Two chunks per worker fit in `in_flight`: one running, one done
        // (on the output, or waiting for an earlier chunk), so that a
        // thread that finishes a chunk finds room for its next one.
        let share = (self.in_flight / (2 * self.workers)).max(1);
        let c = match self.fixed_chunk {
            Some(c) if self.leaf == 1 => c,
            _ => {
                let cost = f64::from_bits(self.cost.load(Ordering::Relaxed));
                let by_cost = if cost > 0.0 {
                    (TARGET_CHUNK.as_nanos() as f64 / cost) as usize
                } else {
                    1
                };
                by_cost.clamp(1, share)
            }
        };
        if self.leaf > 1 {
            c.div_ceil(self.leaf).max(1) * self.leaf
        } else {
            c
        }
    }

    /// Numbers `items` (just taken from the input, under the take lock)
    /// and cuts them into chunks; for reduce, whole leaves only (the rest
    /// waits in `staged`).
    fn make_chunks(&self, t: &mut Taker, items: Vec<Value>) -> Vec<Chunk> {
        self.outstanding.fetch_add(items.len(), Ordering::SeqCst);
        let mut items = if self.leaf > 1 {
            t.staged.extend(items);
            let whole = t.staged.len() / self.leaf * self.leaf;
            let rest = t.staged.split_off(whole);
            mem::replace(&mut t.staged, rest)
        } else {
            items
        };
        let size = self.chunk_size();
        let mut chunks = Vec::new();
        while !items.is_empty() {
            let rest = if items.len() > size {
                items.split_off(size)
            } else {
                Vec::new()
            };
            let part = mem::replace(&mut items, rest);
            chunks.push(self.chunk_of(t, part));
        }
        chunks
    }

    /// The next chunk: `items`, numbered.
    fn chunk_of(&self, t: &mut Taker, items: Vec<Value>) -> Chunk {
        let chunk = Chunk {
            seq: t.seq,
            first: t.taken,
            items,
        };
        t.seq += 1;
        t.taken += self.weight(&chunk.items);
        chunk
    }

    /// Queues `chunks` and starts runners for them (up to one per worker).
    fn hand_out(self: &Arc<Self>, chunks: Vec<Chunk>) {
        let start = {
            let mut q = self.queue.lock();
            q.chunks.extend(chunks);
            let wanted = q.chunks.len().min(self.max_runners());
            let start = wanted.saturating_sub(q.runners);
            q.runners += start;
            start
        };
        for _ in 0..start {
            let me = Arc::clone(self);
            // The task's handle is dropped: runners report through the
            // stream, never through the task.
            drop(self.pool.spawn(move || me.runner()));
        }
    }

    /// Runners alive.
    fn runners(&self) -> usize {
        self.queue.lock().runners
    }

    /// Whether chunks wait for a runner (a hint).
    fn queued(&self) -> bool {
        !self.queue.lock().chunks.is_empty()
    }

    /// Waits on the wake condvar until `done(self)`, which must change
    /// only on the events in `what`: the last runner stopping
    /// ([`WAIT_RUNNERS`]: every chunk a runner ran is emitted by then) or
    /// the helping consumer emitting ([`WAIT_EMITS`]); or when the caller
    /// is cancelled (which wakes it) or the consumer leaves (it looks
    /// every [`LIVENESS`] whether the consumer dropped the output).
    fn wait_until(self: &Arc<Self>, what: u8, done: impl Fn(&Stream) -> bool) {
        if done(self) {
            return;
        }
        let weak = Arc::downgrade(self);
        let _on_cancel = self.work.token().map(|t| {
            t.on_cancel(move || {
                if let Some(s) = weak.upgrade() {
                    let _guard = s.wake_lock.lock();
                    s.wake.notify_all();
                }
            })
        });
        crate::pool::blocking(|| {
            let mut guard = self.wake_lock.lock();
            self.waiting.store(what, Ordering::SeqCst);
            while !done(self) {
                if self.wake.wait_for(&mut guard, LIVENESS).timed_out() {
                    self.check_consumer();
                }
            }
            self.waiting.store(0, Ordering::SeqCst);
        });
    }

    /// Whether no item is taken and not yet emitted.
    fn idle(&self) -> bool {
        self.outstanding.load(Ordering::SeqCst) == 0
    }

    /// Wakes the driver if it waits for `event` ([`WAIT_RUNNERS`],
    /// [`WAIT_EMITS`]).
    fn wake_driver(&self, event: u8) {
        if self.waiting.load(Ordering::SeqCst) & event != 0 {
            let _guard = self.wake_lock.lock();
            self.wake.notify_one();
        }
    }

    /// A runner: runs queued chunks, and takes more from the input itself
    /// while the bound allows; stops when there is nothing to take.
    fn runner(self: Arc<Self>) {
        // Channel waits inside items watch the pool task's token: cancel
        // it with the stream's.
        let _link = match (crate::pool::current_cancel_token(), self.work.token()) {
            (Some(mine), Some(stream)) => Some(stream.on_cancel(move || {
                mine.cancel();
            })),
            _ => None,
        };
        // One VM set up as the caller's for all the chunks this runner
        // runs (not one per chunk: its cancel token and flag are shared
        // counters that every set-up bounces between the threads).
        self.runs(|runs| loop {
            // (Pop first: the queue lock must be released before taking.)
            let queued = {
                let mut q = self.queue.lock();
                if q.runners > self.max_runners() {
                    // The helping consumer holds one of the places: give
                    // this one back. (Another runner stays, for the queued
                    // chunks: `max_runners() >= 1`.)
                    runs.flush(&self.work);
                    q.runners -= 1;
                    return;
                }
                q.chunks.pop_front().ok_or(q.runners)
            };
            let chunk = match queued {
                Ok(c) => Some(c),
                Err(runners) => self.try_take(runners),
            };
            match chunk {
                Some(chunk) => {
                    let done = self.run_chunk(runs, chunk);
                    self.finish_chunk(done);
                }
                None => {
                    let mut q = self.queue.lock();
                    if q.chunks.is_empty() {
                        // Counted before the driver can see no runner.
                        runs.flush(&self.work);
                        q.runners -= 1;
                        let last = q.runners == 0;
                        drop(q);
                        if last {
                            // (Whatever the driver waits for: once no
                            // runner runs, only the consumer may emit.)
                            self.wake_driver(WAIT_RUNNERS | WAIT_EMITS);
                        }
                        return;
                    }
                }
            }
        })
    }

    /// Runs `f` with this thread's VM set up as the caller's ([`Runs`]);
    /// counts the items it ran.
    fn runs<R>(&self, f: impl FnOnce(&mut Runs<'_>) -> R) -> R {
        with_vm(|vm| self.work.as_caller(vm, |vm| self.counted(vm, f)))
    }

    /// Runs `f` on `vm` (already set up as the caller's) and counts the
    /// items it ran.
    fn counted<R>(&self, vm: &mut Vm, f: impl FnOnce(&mut Runs<'_>) -> R) -> R {
        let mut runs = Runs {
            vm,
            state: None,
            ran: 0,
        };
        let r = f(&mut runs);
        runs.flush(&self.work);
        r
    }

    /// As [`runs`](Self::runs), for the helping consumer: on the VM the
    /// stream keeps for it, set up as the caller's once rather than per
    /// chunk (its chunks are as small as two items, and a set-up clones
    /// and drops the cancel token, whose count shares a cache line with
    /// the flag every runner reads at each loop back-edge). A second
    /// consumer helping at the same time (several tasks receive from the
    /// output) uses its thread's VM as a runner does. A VM left inside a
    /// call (a panic unwound through it) is dropped, not kept.
    fn consumer_runs<R>(&self, f: impl FnOnce(&mut Runs<'_>) -> R) -> R {
        let Some(mut slot) = self.consumer_vm.try_lock() else {
            return self.runs(f);
        };
        let mut vm = slot.take().unwrap_or_else(|| {
            let mut vm = Box::<Vm>::default();
            self.work.prepare(&mut vm);
            vm
        });
        let r = self
            .work
            .as_caller_prepared(&mut vm, |vm| self.counted(vm, f));
        if vm.depth() == 0 && !vm.is_parked() {
            *slot = Some(vm);
        }
        r
    }

    /// Notes that the consumer helps (written only when it changes: every
    /// thread reads this flag before each chunk).
    #[inline]
    fn set_helping(&self) {
        if !self.consumer_helps.load(Ordering::Relaxed) {
            self.consumer_helps.store(true, Ordering::Relaxed);
        }
    }

    /// How many runners may run at once: one per worker, but one fewer
    /// (at least one) while the consumer runs chunks itself, so that no
    /// more threads run the stream's items than the pool has workers. (A
    /// consumer on a pool worker holds that worker anyway; the main
    /// thread's would be one thread too many: on a machine with as many
    /// cores as workers, three threads would share two cores, and the one
    /// left out holds the items that the others' results wait behind.)
    fn max_runners(&self) -> usize {
        if self.consumer_helps.load(Ordering::Relaxed) {
            (self.workers - 1).max(1)
        } else {
            self.workers
        }
    }

    /// How long a runner out of room spins for a helping consumer, or a
    /// helping consumer for a runner's results: about three chunks' time,
    /// within [`SPIN_MIN`]..[`SPIN_MAX`].
    fn spin_limit(&self) -> Duration {
        let cost = f64::from_bits(self.cost.load(Ordering::Relaxed));
        let ns = 3.0 * cost * self.chunk_size() as f64;
        Duration::from_nanos(ns as u64).clamp(SPIN_MIN, SPIN_MAX)
    }

    /// A runner's own take: the next chunk from the input if it has items
    /// and the bound has room (waiting briefly for a consumer that has
    /// results to take), never waiting for the input. `None`: nothing to take now (the
    /// driver takes over once no runner runs).
    fn try_take(self: &Arc<Self>, runners: usize) -> Option<Chunk> {
        // Fewer runners than may run (the consumer stopped helping): take
        // their chunks too, and start them.
        let missing = self.max_runners().saturating_sub(runners);
        self.take_some(true, 1 + missing).map(|mut chunks| {
            let first = chunks.remove(0);
            if !chunks.is_empty() {
                self.hand_out(chunks);
            }
            first
        })
    }

    /// Takes the next `chunks` chunks (or fewer) from the input if it has
    /// items and the bound has room, never waiting for the input. A runner
    /// (`runner`) waits briefly for a consumer to make room, and for the
    /// take lock; the helping consumer ([`Help`]) does neither. `None`, or
    /// at least one chunk.
    fn take_some(&self, runner: bool, chunks: usize) -> Option<Vec<Chunk>> {
        if self.stopping() || self.work.cancelled() || self.input_done.load(Ordering::SeqCst) {
            return None;
        }
        // Out of room, a runner spins (never yielding: a yield under CPU
        // contention hands the core to another process for a whole time
        // slice): for a helping consumer, which makes room as soon as it
        // finishes its chunk, up to a few chunks' time; for one that is
        // not helping but has results to take, about a microsecond (it
        // may be slow, and a spinning runner would take its core).
        let mut round = 0;
        let mut deadline = None;
        let room = loop {
            let room = self.room();
            if room > 0 || !runner || self.stopping() {
                break room;
            }
            if self.consumer_helps.load(Ordering::Relaxed) {
                let d = *deadline.get_or_insert_with(|| Instant::now() + self.spin_limit());
                if round > SPIN_ROUNDS && Instant::now() >= d {
                    // It did not: count it as not helping until it helps
                    // again (its runners stop spinning for it).
                    self.consumer_helps.store(false, Ordering::Relaxed);
                    break 0;
                }
            } else if round > SPIN_ROUNDS || self.output.as_ref().map_or(true, Channel::is_empty) {
                break 0;
            }
            spin(round);
            round += 1;
        };
        if room == 0 {
            return None;
        }
        // Never held long while a runner is alive: the driver takes (and
        // may wait for items) only when no runner is. The consumer never
        // waits for it: the driver may hold it while it waits for items.
        let mut t = if runner {
            self.take.lock()
        } else {
            self.take.try_lock()?
        };
        // `room` above is a hint; the one that counts is read under the
        // take lock.
        let room = self.room();
        if room == 0 {
            return None;
        }
        let want = self.chunk_size().saturating_mul(chunks.max(1)).min(room);
        let max = NonZeroUsize::new(want).unwrap_or(NonZeroUsize::MIN);
        match self.input.ch.try_recv_batch(max) {
            Ok(items) => {
                // `chunks` chunks, as a rule (reduce may make none: a
                // partial leaf; the chunk size may change in between).
                let chunks = self.make_chunks(&mut t, items);
                drop(t);
                (!chunks.is_empty()).then_some(chunks)
            }
            Err(crate::channel::TryRecvError::Empty) => None,
            Err(crate::channel::TryRecvError::Closed) => {
                self.input_closed(&mut t);
                None
            }
        }
    }

    /// Runs the items of `chunk` on `runs`' VM.
    fn run_chunk(&self, runs: &mut Runs<'_>, mut chunk: Chunk) -> Done {
        self.stats.chunk();
        // The cost per item is sampled (every chunk at first, then one in
        // eight): `cost` is read by every thread before each chunk, and
        // each write takes the line away from the others.
        let sample = chunk.seq < 32 || chunk.seq % 8 == 0;
        let start = if sample {
            Some(Instant::now())
        } else {
            self.stats.clock()
        };
        let count = chunk.items.len();
        if let Some(d) = &self.decode {
            // An item that cannot be decoded fails the stream as a failed
            // input would, after the items before it.
            if let Err((k, e)) = d.decode(&mut chunk.items) {
                chunk.items.truncate(k);
                self.work.failure.record(chunk.first + k, e);
            }
        }
        let mut done = Done {
            seq: chunk.seq,
            count,
            out: Vec::new(),
            leaves: Vec::new(),
        };
        let ran = match &self.op {
            StreamOp::Reduce { identity, .. } => {
                self.fold_leaves(runs, &chunk, identity, &mut done.leaves)
            }
            _ => self.apply(runs, &chunk, &mut done.out),
        };
        runs.ran += ran;
        if self.work.progress.is_some() {
            runs.flush(&self.work);
        }
        if let Some(start) = start {
            let elapsed = start.elapsed();
            self.stats.busy(elapsed);
            if sample {
                self.note_cost(elapsed, count);
            }
        }
        done
    }

    /// Folds in the measured cost per item of a chunk (a moving average).
    fn note_cost(&self, elapsed: Duration, count: usize) {
        if count == 0 {
            return;
        }
        let per = elapsed.as_nanos() as f64 / count as f64;
        let old = f64::from_bits(self.cost.load(Ordering::Relaxed));
        let new = if old == 0.0 {
            per
        } else {
            0.7 * old + 0.3 * per
        };
        self.cost.store(new.to_bits(), Ordering::Relaxed);
    }

    /// map, filter, for_each: runs each item of `chunk`, pushing what to
    /// emit on `out`.
    /// Returns how many items ran.
    fn apply(&self, runs: &mut Runs<'_>, chunk: &Chunk, out: &mut Vec<(usize, Value)>) -> usize {
        let work = &self.work;
        let (vm, state) = runs.vm_and_state(work);
        let mut ran = 0;
        for (k, x) in chunk.items.iter().enumerate() {
            let i = chunk.first + k;
            if work.failure.skips(i) {
                break;
            }
            if work.cancelled() {
                if !self.consumer_gone.load(Ordering::Relaxed) {
                    work.failure.record(i, cancelled());
                }
                break;
            }
            ran += 1;
            work.seed(vm, i);
            let r = match &state {
                Ok(s) => work.call(vm, &work.f, s.as_ref(), x.clone(), None),
                Err(e) => Err(e.clone()),
            };
            let stop = match r {
                Ok(v) => {
                    match self.op {
                        StreamOp::Map if work.collects() => {
                            out.push((i, outcome(i, x, v, None)));
                        }
                        StreamOp::Map => out.push((i, v)),
                        StreamOp::Filter if work.collects() => {
                            out.push((i, outcome(i, x, Value::Bool(v.truthy()), None)));
                        }
                        StreamOp::Filter if v.truthy() => out.push((i, x.clone())),
                        _ => {}
                    }
                    false
                }
                Err(e) => self.item_failed(i, x, e, out),
            };
            if stop {
                break;
            }
        }
        ran
    }

    /// Item `i` (`x`) failed with `e`. `true`: stop the chunk.
    #[cold]
    fn item_failed(&self, i: usize, x: &Value, e: Error, out: &mut Vec<(usize, Value)>) -> bool {
        let work = &self.work;
        if work.collects() && self.op.emits() {
            let e = work.restate(e);
            if e.kind() == ErrorKind::Cancelled && work.cancelled() {
                return true;
            }
            out.push((i, outcome(i, x, Value::Nil, Some(e))));
            return false;
        }
        work.fail(i, x.clone(), e)
    }

    /// reduce, fold: folds each leaf of `chunk` from `identity`. Returns
    /// how many items ran.
    fn fold_leaves(
        &self,
        runs: &mut Runs<'_>,
        chunk: &Chunk,
        identity: &Value,
        leaves: &mut Vec<Option<Value>>,
    ) -> usize {
        let work = &self.work;
        let (vm, state) = runs.vm_and_state(work);
        let mut ran = 0;
        'leaves: for (l, part) in chunk.items.chunks(self.leaf).enumerate() {
            let mut acc = identity.clone();
            for (k, x) in part.iter().enumerate() {
                let i = chunk.first + l * self.leaf + k;
                if work.failure.skips(i) {
                    leaves.push(None);
                    break 'leaves;
                }
                if work.cancelled() {
                    work.failure.record(i, cancelled());
                    leaves.push(None);
                    break 'leaves;
                }
                ran += 1;
                work.seed(vm, i);
                let r = match &state {
                    Ok(s) => {
                        let before = if work.collects() {
                            acc.clone()
                        } else {
                            mem::take(&mut acc)
                        };
                        work.call(vm, &work.f, s.as_ref(), before, Some(x.clone()))
                    }
                    Err(e) => Err(e.clone()),
                };
                match r {
                    Ok(v) => acc = v,
                    Err(e) => {
                        if work.fail(i, x.clone(), e) {
                            leaves.push(None);
                            break 'leaves;
                        }
                    }
                }
            }
            leaves.push(Some(acc));
        }
        ran
    }

    /// Hands a finished chunk on: emitted (or merged) in input order, or
    /// at once when `ordered: false`.
    fn finish_chunk(&self, done: Done) {
        let in_order = match self.op {
            StreamOp::Map | StreamOp::Filter => self.ordered,
            StreamOp::ForEach => false,
            StreamOp::Reduce { .. } => true,
        };
        if !in_order {
            self.emit_one(done);
            return;
        }
        let mut e = self.emit.lock();
        let slot = (done.seq - e.next) as usize;
        while e.ready.len() <= slot {
            e.ready.push_back(None);
        }
        e.ready[slot] = Some(done);
        if e.merging {
            return; // the merging thread will see it
        }
        e.merging = true;
        loop {
            let mut batch = Vec::new();
            while let Some(Some(_)) = e.ready.front() {
                batch.push(e.ready.pop_front().flatten().expect("checked"));
                e.next += 1;
            }
            if batch.is_empty() {
                e.merging = false;
                break;
            }
            drop(e);
            for done in batch {
                self.emit_one(done);
            }
            e = self.emit.lock();
        }
    }

    /// Emits one finished chunk (the caller keeps the order), then counts
    /// its items out of `outstanding`.
    fn emit_one(&self, done: Done) {
        let count = done.count;
        match (&self.op, &self.output) {
            (StreamOp::Reduce { combine, .. }, _) => self.merge_leaves(done, combine.as_ref()),
            (_, Some(out)) => {
                // Only what precedes the first failure (in input order).
                let values: Vec<Value> = done
                    .out
                    .into_iter()
                    .filter(|(i, _)| self.work.failure.before_first(*i))
                    .map(|(_, v)| v)
                    .collect();
                if !values.is_empty() && !self.consumer_gone.load(Ordering::Relaxed) {
                    // Never waits: the output has room for everything
                    // outstanding (see STREAMS.md).
                    if out.send_batch(values, None).is_err() {
                        self.consumer_left();
                    }
                }
            }
            _ => {}
        }
        self.outstanding.fetch_sub(count, Ordering::SeqCst);
    }

    /// reduce, fold: adds a chunk's leaves to the tree, in order.
    fn merge_leaves(&self, done: Done, combine: Option<&Value>) {
        if self.work.failure.any() {
            return;
        }
        let mut tree = self.tree.lock();
        with_vm(|vm| {
            self.work.as_caller(vm, |vm| {
                for leaf in done.leaves {
                    let Some(v) = leaf else { return };
                    let r = tree.push(v, &mut |a, b, at| self.combine(vm, combine, a, b, at));
                    if r.is_none() {
                        return;
                    }
                }
            })
        });
    }

    /// `combine(a, b)` of two adjacent parts of a reduction (`at`: the
    /// first leaf of `b`, whose first item is blamed if it fails).
    fn combine(
        &self,
        vm: &mut Vm,
        combine: Option<&Value>,
        a: Value,
        b: Value,
        at: usize,
    ) -> Option<Value> {
        let r = match combine {
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
                self.work.failure.record(at * self.leaf, e);
                None
            }
        }
    }
}

/// The consumer's share: a receive on the output that finds it empty runs
/// the next chunk on the receiving thread (as a runner would, without
/// counting as one) instead of waiting for a runner to wake it. It never
/// waits for a lock or for the input. With nothing to run (no room, no
/// items, the take lock busy) while runners hold items, a consumer that
/// has been helping spins briefly for their results (a parked consumer
/// costs the runner's emit a wakeup, and the stream the time it takes to
/// wake); then it returns `false` and the receive parks as usual.
impl Help for Stream {
    fn help(&self) -> bool {
        let mut deadline = None;
        let mut round = 0;
        loop {
            self.set_helping();
            let queued = {
                let mut q = self.queue.lock();
                q.chunks.pop_front().ok_or(q.runners)
            };
            let chunk = match queued {
                Ok(c) => Some(c),
                Err(runners) => {
                    // Fewer runners than may run beside the consumer
                    // (they stopped for lack of room or items, and the
                    // consumer takes the room first): take their chunks
                    // too, and start them.
                    let missing = self.max_runners().saturating_sub(runners);
                    self.take_some(false, 1 + missing).map(|mut chunks| {
                        let first = chunks.remove(0);
                        if !chunks.is_empty() {
                            // (`me` is alive: the receive holds it.)
                            match self.me.upgrade() {
                                Some(me) => me.hand_out(chunks),
                                None => self.queue.lock().chunks.extend(chunks),
                            }
                        }
                        first
                    })
                }
            };
            if let Some(chunk) = chunk {
                let done = self.consumer_runs(|runs| self.run_chunk(runs, chunk));
                self.finish_chunk(done);
                // The driver may wait for room (taken items the consumer
                // ran) or, at the end, for `outstanding == 0`.
                self.wake_driver(WAIT_EMITS);
                return true;
            }
            // Nothing to run now.
            loop {
                if self.output.as_ref().is_some_and(|o| !o.is_empty()) {
                    return true; // the receive takes them
                }
                let give_up = !self.consumer_helps.load(Ordering::Relaxed)
                    || self.stopping()
                    || self.work.cancelled()
                    || self.outstanding.load(Ordering::SeqCst) == 0
                    || round > SPIN_ROUNDS
                        && Instant::now()
                            >= *deadline.get_or_insert_with(|| Instant::now() + self.spin_limit());
                if give_up {
                    self.consumer_helps.store(false, Ordering::Relaxed);
                    return false;
                }
                spin(round);
                round += 1;
                if self.room() > 0 && !self.input.ch.is_empty() || self.queued() {
                    break; // something to take: try again
                }
            }
        }
    }
}

/// Claims `input` if it is a reader's stream nobody else holds (see
/// `stdlib/stream`): in blocks of rows, except for reduce and fold, whose
/// leaves are runs of items (one item per row keeps their tree the plain
/// stream's).
fn claim_input(input: &Arc<ChannelObj>, op: &StreamOp) -> Option<Arc<dyn Decode>> {
    use crate::stdlib::stream::{claim, Claim};
    let how = match op {
        StreamOp::Reduce { .. } => Claim::Items,
        _ => Claim::Blocks,
    };
    claim(input, 2, how)
}

/// `in_flight` for a claimed stream whose items are blocks of up to
/// `per_item` rows: the blocks that hold `in_flight` rows, and at least two
/// per worker (one running, one done). The bound then holds in blocks: at
/// most `in_flight` blocks are taken and not yet received, their rows on
/// the output counted as whole blocks (`Stream::output_items`), so the
/// output (room for `in_flight * per_item` rows) never fills: each block
/// taken yields at most `per_item` results.
fn claimed_in_flight(in_flight: usize, per_item: usize, workers: usize) -> usize {
    if per_item <= 1 {
        return in_flight;
    }
    in_flight.div_ceil(per_item).max(2 * workers)
}

/// One round of a spin wait: 1, 2, 4, .. 64 spin hints (then 64 each).
#[inline]
fn spin(round: u32) {
    for _ in 0..1u32 << round.min(SPIN_ROUNDS) {
        std::hint::spin_loop();
    }
}

/// The map a stream with `errors: "collect"` emits for item `i` (`x`):
/// `{"index": i, "item": x, "result": r, "error": e}` (`result` nil when it
/// failed, `error` nil when it did not).
fn outcome(i: usize, x: &Value, result: Value, error: Option<Error>) -> Value {
    let mut m = Map::with_capacity(4);
    m.insert(Key::str("index"), Value::Int(i as i64));
    m.insert(Key::str("item"), x.clone());
    m.insert(Key::str("result"), result);
    m.insert(
        Key::str("error"),
        error.map_or(Value::Nil, Error::into_value),
    );
    Value::map(m)
}
