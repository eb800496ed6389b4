//! What every thread running items of one parallel call shares, whatever
//! the input (list, range, string or channel): the function, the `init`
//! state of each thread, `retries`, the collected failures of
//! `errors: "collect"`, the first failure of `errors: "throw"`, the
//! caller's cancellation, and the progress bar.
//!
//! Each item is called through [`Work::call`] (retries) with the state of
//! the running thread ([`Work::state`], `init` run on first use). A thread
//! that runs items does so inside [`Work::as_caller`], which installs the
//! caller's cancellation and call depth in its VM.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, ThreadId};

use crossbeam_utils::CachePadded;
use parking_lot::Mutex;

use super::failure::Failure;
use super::options::Options;
use super::progress::Progress;
use crate::error::{Error, ErrorKind, Result};
use crate::map::Map;
use crate::pool::CancelToken;
use crate::stdlib::args;
use crate::value::{Key, Value};
use crate::vm::Vm;

thread_local! {
    /// While a VM runs items of a call: that call's `limit`, inherited by
    /// calls nested in the items.
    static LIMIT: Cell<Option<usize>> = const { Cell::new(None) };
    /// How many calls' items this thread is running (nested): a call made
    /// inside an item draws no progress bar of its own.
    static INSIDE_ITEMS: Cell<usize> = const { Cell::new(0) };
}

/// Whether this thread is running items of a parallel call now.
pub(super) fn inside_items() -> bool {
    INSIDE_ITEMS.with(Cell::get) > 0
}

/// One item that failed under `errors: "collect"`.
#[derive(Debug)]
pub(super) struct Collected {
    /// Its index in the input.
    pub index: usize,
    /// The item.
    pub item: Value,
    /// What it threw (after its retries).
    pub error: Error,
}

impl Collected {
    /// `{"index": i, "item": x, "error": e}`, as scripts see it.
    pub fn to_value(&self) -> Value {
        let mut m = Map::with_capacity(3);
        m.insert(Key::str("index"), Value::Int(self.index as i64));
        m.insert(Key::str("item"), self.item.clone());
        m.insert(Key::str("error"), self.error.clone().into_value());
        Value::map(m)
    }
}

/// The state shared by every thread running items of one call.
#[derive(Debug)]
pub(super) struct Work {
    /// The function applied to items (`step` for `parallel_fold`).
    pub f: Value,
    init: Option<Value>,
    /// The `init` result of each thread that ran items (an `init` that
    /// threw is kept as its error: every item on that thread fails so).
    states: Mutex<Vec<(ThreadId, Result<Value>)>>,
    retries: u32,
    collect: bool,
    collected: Mutex<Vec<Collected>>,
    /// The first failure in input order (`errors: "throw"`, and errors
    /// that are never collected: cancellation, a failing `combine`).
    pub failure: Failure,
    /// The token installed in every VM running items: the caller's, or
    /// for a stream a token of the call's own, cancelled with the caller's
    /// or when the work is abandoned ([`Work::abandon`]).
    token: Option<CancelToken>,
    /// The caller's cancel flag (embedders), installed likewise.
    flag: Option<Arc<AtomicBool>>,
    /// Keeps the link from the caller's token to a stream's own token.
    _link: Option<crate::pool::Registration>,
    /// How many more nested calls the caller's VM allowed: VMs running
    /// items get the same budget, so unbounded recursion through parallel
    /// calls is a `StackOverflow`, as it is through `xs.map`.
    depth_left: usize,
    /// The depth limit of the outermost VM (named in `StackOverflow`
    /// messages, which VMs with a lowered limit would otherwise misstate).
    limit: usize,
    /// The progress display, if `progress: true` drew one.
    pub progress: Option<Progress>,
    /// After `random_seed`: the call's stream key; item `i` draws from the
    /// stream derived from it and `i` (see `stdlib/random.rs`), whichever
    /// thread runs it.
    rng_key: Option<u64>,
    /// Items that ran (for `--stats`). On a cache line of its own: a
    /// stream's helping consumer adds to it after each chunk it runs,
    /// while runners read the work's other fields (`f`, `failure`) per
    /// item.
    pub items_run: CachePadded<AtomicU64>,
}

impl Work {
    /// The work of a call made from `vm` (whose cancellation it follows)
    /// applying `f` with `options`.
    pub fn new(vm: &mut Vm, f: &Value, options: &Options, progress: Option<Progress>) -> Work {
        let token = vm
            .cancel_token()
            .cloned()
            .or_else(crate::pool::current_cancel_token);
        Work::with_token(vm, f, options, progress, token, None)
    }

    /// As [`new`](Self::new), for a stream: the work outlives the native
    /// call, so it gets a cancel token of its own, cancelled when the
    /// caller's is ([`abandon`](Self::abandon) cancels it too).
    pub fn new_stream(
        vm: &mut Vm,
        f: &Value,
        options: &Options,
        progress: Option<Progress>,
    ) -> Work {
        let own = CancelToken::new();
        let caller = vm
            .cancel_token()
            .cloned()
            .or_else(crate::pool::current_cancel_token);
        let link = caller.map(|t| {
            let own = own.clone();
            t.on_cancel(move || {
                own.cancel();
            })
        });
        Work::with_token(vm, f, options, progress, Some(own), link)
    }

    fn with_token(
        vm: &mut Vm,
        f: &Value,
        options: &Options,
        progress: Option<Progress>,
        token: Option<CancelToken>,
        link: Option<crate::pool::Registration>,
    ) -> Work {
        // Read the caller's flag (there is no getter: swap it out and back).
        let flag = vm.set_cancel_flag(None);
        vm.set_cancel_flag(flag.clone());
        Work {
            f: f.clone(),
            init: options.init.clone(),
            states: Mutex::new(Vec::new()),
            retries: options.retries,
            collect: options.collect(),
            collected: Mutex::new(Vec::new()),
            failure: Failure::new(),
            token,
            flag,
            _link: link,
            depth_left: vm.max_depth().saturating_sub(vm.depth()),
            limit: LIMIT.with(Cell::get).unwrap_or(vm.max_depth()),
            progress,
            rng_key: vm.rng_mut().map(crate::stdlib::random::Stream::fork_key),
            items_run: CachePadded::new(AtomicU64::new(0)),
        }
    }

    /// Whether failed items are collected (`errors: "collect"`).
    #[inline]
    pub fn collects(&self) -> bool {
        self.collect
    }

    /// The caller's cancel token, if it has one.
    pub fn token(&self) -> Option<&CancelToken> {
        self.token.as_ref()
    }

    /// The state of this thread for `init`, calling `init` on its first
    /// use (`None` without `init`). Look it up once per run of items, not
    /// per item.
    pub fn state(&self, vm: &mut Vm) -> Result<Option<Value>> {
        let Some(init) = &self.init else {
            return Ok(None);
        };
        let me = thread::current().id();
        if let Some((_, s)) = self.states.lock().iter().find(|(t, _)| *t == me) {
            return s.clone().map(Some);
        }
        // Not under the lock: `init` is script code and may take long.
        let made = args::call(vm, init, &[]).map_err(|e| self.restate(e));
        self.states.lock().push((me, made.clone()));
        made.map(Some)
    }

    /// Calls `f` with this thread's `state` (if any) before `a` (and `b`),
    /// trying again up to `retries` times when it throws anything but
    /// `Cancelled`.
    #[inline]
    pub fn call(
        &self,
        vm: &mut Vm,
        f: &Value,
        state: Option<&Value>,
        a: Value,
        b: Option<Value>,
    ) -> Result<Value> {
        if self.retries == 0 {
            return call_with(vm, f, state, a, b);
        }
        self.call_retrying(vm, f, state, a, b)
    }

    #[cold]
    fn call_retrying(
        &self,
        vm: &mut Vm,
        f: &Value,
        state: Option<&Value>,
        a: Value,
        b: Option<Value>,
    ) -> Result<Value> {
        let mut tries = 0;
        loop {
            match call_with(vm, f, state, a.clone(), b.clone()) {
                Err(e)
                    if tries < self.retries
                        && e.kind() != ErrorKind::Cancelled
                        && !self.cancelled() =>
                {
                    tries += 1;
                }
                r => return r,
            }
        }
    }

    /// Records that item `index` (`item`) failed with `e`: collected, or
    /// the call's failure. Returns `true` if the work must stop (`throw`
    /// mode, or the call itself was cancelled).
    #[cold]
    pub fn fail(&self, index: usize, item: Value, e: Error) -> bool {
        let e = self.restate(e);
        if self.collect && !(e.kind() == ErrorKind::Cancelled && self.cancelled()) {
            self.collected.lock().push(Collected {
                index,
                item,
                error: e,
            });
            false
        } else {
            self.failure.record(index, e);
            true
        }
    }

    /// The collected failures, in input order.
    pub fn take_collected(&self) -> Vec<Collected> {
        let mut all = std::mem::take(&mut *self.collected.lock());
        all.sort_by_key(|c| c.index);
        all
    }

    /// The collected failures as the list scripts see.
    pub fn collected_value(&self) -> Value {
        Value::list(
            self.take_collected()
                .iter()
                .map(Collected::to_value)
                .collect(),
        )
    }

    /// Runs `f` on `vm` as if on the caller's: with the caller's
    /// cancellation installed (so a long item stops when the caller's task
    /// is cancelled) and the caller's remaining call depth.
    pub fn as_caller<R>(&self, vm: &mut Vm, f: impl FnOnce(&mut Vm) -> R) -> R {
        let old_flag = vm.set_cancel_flag(self.flag.clone());
        let old_token = vm.set_cancel_token(self.token.clone());
        let old_max = vm.max_depth();
        vm.set_max_depth(vm.depth().saturating_add(self.depth_left));
        let old_limit = LIMIT.with(|l| l.replace(Some(self.limit)));
        INSIDE_ITEMS.with(|n| n.set(n.get() + 1));
        let old_rng = vm.set_rng(None);
        let r = f(vm);
        vm.set_rng(old_rng);
        INSIDE_ITEMS.with(|n| n.set(n.get() - 1));
        LIMIT.with(|l| l.set(old_limit));
        vm.set_max_depth(old_max);
        vm.set_cancel_flag(old_flag);
        vm.set_cancel_token(old_token);
        r
    }

    /// Sets up `vm`, a VM kept by one party across many runs of items
    /// (a stream's helping consumer), as the caller's once: the caller's
    /// cancellation and remaining call depth, as [`as_caller`](Self::as_caller)
    /// installs them for one run. Each run then goes through
    /// [`as_caller_prepared`](Self::as_caller_prepared). (Installing the
    /// cancel token and flag clones them: their shared counts sit next to
    /// the flags every thread running items reads at each call and loop
    /// back-edge, so doing it per run of two items slowed the others.)
    pub fn prepare(&self, vm: &mut Vm) {
        vm.set_cancel_flag(self.flag.clone());
        vm.set_cancel_token(self.token.clone());
        vm.set_max_depth(vm.depth().saturating_add(self.depth_left));
    }

    /// Runs `f` on `vm`, set up by [`prepare`](Self::prepare), as
    /// [`as_caller`](Self::as_caller) would: installs what belongs to the
    /// thread (the call's `limit`, the count of calls whose items run here)
    /// and starts with no random stream (each item installs its own).
    pub fn as_caller_prepared<R>(&self, vm: &mut Vm, f: impl FnOnce(&mut Vm) -> R) -> R {
        let old_limit = LIMIT.with(|l| l.replace(Some(self.limit)));
        INSIDE_ITEMS.with(|n| n.set(n.get() + 1));
        vm.set_rng(None);
        let r = f(vm);
        vm.set_rng(None);
        INSIDE_ITEMS.with(|n| n.set(n.get() - 1));
        LIMIT.with(|l| l.set(old_limit));
        r
    }

    /// Before item `i` runs on `vm` (inside [`as_caller`](Self::as_caller)):
    /// after `random_seed`, installs the item's own random stream, so what
    /// it draws depends on `i` only, not on the thread or the order.
    #[inline]
    pub fn seed(&self, vm: &mut Vm, i: usize) {
        if let Some(key) = self.rng_key {
            vm.set_rng(Some(crate::stdlib::random::Stream::derived(key, i as u64)));
        }
    }

    /// Stops a stream's work for good: items stop at their next call or
    /// loop iteration with `Cancelled`, and no new item starts. (A list
    /// call's work follows the caller's token and is never abandoned.)
    pub fn abandon(&self) {
        if let Some(t) = &self.token {
            t.cancel();
        }
    }

    /// `e`, with a `StackOverflow` message naming the outermost limit
    /// rather than the lowered one of the VM that ran out.
    pub fn restate(&self, mut e: Error) -> Error {
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

    /// Whether the caller's task was cancelled (or the work abandoned).
    #[inline]
    pub fn cancelled(&self) -> bool {
        self.token.as_ref().is_some_and(CancelToken::is_cancelled)
            || self
                .flag
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Relaxed))
    }

    /// Counts `n` more items done (progress and `--stats`).
    #[inline]
    pub fn count(&self, n: usize) {
        if n > 0 {
            self.items_run.fetch_add(n as u64, Ordering::Relaxed);
            if let Some(p) = &self.progress {
                p.add(n);
            }
        }
    }
}

/// `f(state?, a, b?)`.
#[inline]
pub(super) fn call_with(
    vm: &mut Vm,
    f: &Value,
    state: Option<&Value>,
    a: Value,
    b: Option<Value>,
) -> Result<Value> {
    match (state, b) {
        (None, None) => args::call(vm, f, std::slice::from_ref(&a)),
        (None, Some(b)) => args::call(vm, f, &[a, b]),
        (Some(s), None) => args::call(vm, f, &[s.clone(), a]),
        (Some(s), Some(b)) => args::call(vm, f, &[s.clone(), a, b]),
    }
}

/// The `Cancelled` error of a call whose caller was cancelled.
#[cold]
pub(super) fn cancelled() -> Error {
    Error::cancelled()
}
