//! Structured concurrency (ASYNC.md, "Structured concurrency"):
//! `scope(f)` with `s.spawn(g, ...args)`, `within(seconds, f)`, and
//! `as_completed(ts)`. The protocol (states, steps, why nothing is lost,
//! why no deadlock) is written up in `src/pool/cancel/README.md`,
//! "Scopes and deadlines".
//!
//! # Regions
//! The body of a `scope` or a `within` runs in a *region*: a cancel token
//! of its own ([`CancelToken::new`]), cancelled when the token of the code
//! around it is (a kept `on_cancel` link), and by the region's own reasons
//! (a child's failure, the deadline's timer). While the body runs, the
//! region's token is both the VM's token (checked at every call and loop
//! back-edge, and by parked waits) and the thread's current token (what
//! blocking waits, `sleep`, channel operations and nested `parallel_*`
//! calls register with), so cancelling the region stops everything the
//! body does, and nothing outside it. A task spawned while a region's body
//! runs (by that body's own code) is linked to the region: cancelling the
//! region cancels it.
//!
//! In a task, the body runs in the task's own dispatch loop
//! ([`Vm::start_body`], `src/vm/body.rs`): the native hands over the body,
//! the region's token and a continuation (the join; the `Timeout` rule),
//! so a wait inside the body parks the task like any of its waits, and the
//! scope's join parks too. Elsewhere (the main script, a body reached
//! through a native re-entry such as a `sort` key function) the body is a
//! call from this native ([`run_body`]): waits inside it hold the thread
//! (the pool's `blocking` lends a spare).
//!
//! DECISIONS where ASYNC.md is silent (asyncio's TaskGroup and trio's
//! nursery unless noted):
//! - A child's failure (or the body's) also cancels the body if it is
//!   still running, not only the other children (trio, asyncio): a body
//!   blocked on something a failed child would have sent cannot hang the
//!   scope.
//! - A child that ends `Cancelled` is not a failure (whoever cancelled
//!   it); nor is the body's `Cancelled` when the scope itself was
//!   cancelled. A scope whose task was cancelled, with no failure, throws
//!   `Cancelled` after its children stopped.
//! - The failure thrown is a copy of the first one (its kind, message,
//!   value and trace; a child's trace ends with its `<spawn>` frame) with
//!   `e.errors` added: every failure, the first included, in the order
//!   they happened. Failures of children are reported by the scope, never
//!   as "failed and was never awaited".
//! - `s.spawn` works until the scope has finished: also from the children
//!   (a child given `s` may add siblings while the scope waits), not
//!   after (a `ValueError`). A task started with plain `spawn` inside the
//!   body is not awaited by the scope, but it is cancelled when the scope
//!   is (as a Go goroutine given the group's context).
//! - `within(seconds, f)`: `f` takes no argument; `seconds` as for `sleep`
//!   (0 cancels at `f`'s first call, loop iteration or wait). A body that
//!   catches its cancellation and returns normally returns its value (as
//!   asyncio's `timeout`): `Timeout` is thrown only for the cancellation
//!   that reaches `within` itself. An error other than that cancellation
//!   passes through unchanged (so an inner `within`'s `Timeout` is thrown
//!   once, by the inner one).
//! - `as_completed(ts)` takes a list of tasks (a `TypeError` otherwise);
//!   a task listed twice is delivered twice; `[]` gives a closed channel.

use super::args::{arity, callable, type_error};
use super::channel::ChannelObj;
use super::system::duration;
use super::task::{self, TaskObj};
use super::Method;
use crate::error::{Error, ErrorKind, Result};
use crate::pool::{self, CancelToken};
use crate::value::{NativeFn, Value};
use crate::vm::{Call, Vm, Wait};
use members::Members;
use parking_lot::{Condvar, Mutex};
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Instant;

#[cfg(all(test, loom))]
mod loom_test;
mod members;

/// The table of this module's builtins (also fields of `async`).
pub(crate) static FUNCTIONS: &[NativeFn] = &[
    NativeFn {
        name: "scope",
        f: scope,
    },
    NativeFn {
        name: "within",
        f: within,
    },
    NativeFn {
        name: "as_completed",
        f: as_completed,
    },
];

// ---------------------------------------------------------------------------
// Regions

/// A region whose body runs on this thread: the script task running it
/// ([`task::current_owner`]) and its token.
struct Region {
    owner: u64,
    token: CancelToken,
}

thread_local! {
    /// The regions whose bodies run on this thread, innermost last.
    static REGIONS: RefCell<Vec<Region>> = const { RefCell::new(Vec::new()) };
}

/// Called by `spawn` for each new task: spawned by the body of a region
/// (by that task's code itself, not by another task run nested on the same
/// thread), it is cancelled with the region.
pub(crate) fn link_spawned(handle: &pool::TaskHandle<task::Outcome>) {
    let token = REGIONS.with(|r| {
        r.borrow()
            .last()
            .filter(|g| g.owner == task::current_owner())
            .map(|g| g.token.clone())
    });
    if let Some(token) = token {
        let h = handle.clone();
        token
            .on_cancel(move || {
                h.cancel();
            })
            .keep();
    }
}

/// Called by `spawn` with the spawner's VM: a task spawned by a body that
/// runs in the dispatch loop (`vm/body.rs`) is cancelled with its region
/// (the thread-local list above only knows bodies run by a re-entry).
pub(crate) fn link_spawned_vm(vm: &Vm, handle: &pool::TaskHandle<task::Outcome>) {
    if let Some(token) = vm.body_region() {
        let h = handle.clone();
        token
            .on_cancel(move || {
                h.cancel();
            })
            .keep();
    }
}

/// The token of the code calling a `scope`/`within` on `vm`: its region's
/// or task's (the VM's), else the thread's (the main script's, which a
/// Ctrl-C cancels).
fn outer_token(vm: &Vm) -> Option<CancelToken> {
    vm.cancel_token()
        .cloned()
        .or_else(pool::current_cancel_token)
}

/// A region's token, linked to `outer`: cancelled when `outer` is. The
/// link lasts as long as the returned registration.
fn region_token(outer: Option<&CancelToken>) -> (CancelToken, Option<pool::Registration>) {
    let token = CancelToken::new();
    let link = outer.map(|o| {
        let t = token.clone();
        o.on_cancel(move || {
            t.cancel();
        })
    });
    (token, link)
}

/// Calls `f(args)` on `vm` as the body of the region of `token` (see the
/// module docs).
fn run_body(vm: &mut Vm, token: &CancelToken, f: &Value, args: &[Value]) -> Result<Value> {
    let outer_vm = vm.set_cancel_token(Some(token.clone()));
    let outer_thread = pool::set_current_cancel_token(Some(token.clone()));
    REGIONS.with(|r| {
        r.borrow_mut().push(Region {
            owner: task::current_owner(),
            token: token.clone(),
        })
    });
    let r = vm.call(f, args);
    REGIONS.with(|r| r.borrow_mut().pop());
    vm.set_cancel_token(outer_vm);
    let now = pool::set_current_cancel_token(outer_thread);
    if now.as_ref().map(CancelToken::id) != Some(token.id()) {
        // A Ctrl-C delivered in the main script inside the body gave the
        // thread a fresh token (`signal::take_interrupt`): it stays.
        pool::set_current_cancel_token(now);
    }
    r
}

#[cold]
fn cancelled() -> Error {
    Error::cancelled()
}

/// Whether `e` is how a cancellation reaches the code it stops.
fn is_cancellation(e: &Error) -> bool {
    matches!(e.kind(), ErrorKind::Cancelled | ErrorKind::Interrupted)
}

// ---------------------------------------------------------------------------
// scope

static NEXT_SCOPE_ID: AtomicU64 = AtomicU64::new(1);

/// A `scope`'s shared state: the handle `s` given to its function.
pub struct ScopeObj {
    id: u64,
    /// The region's token: cancelling it cancels the body and every child.
    token: CancelToken,
    /// The unfinished children, and who waits for them.
    members: Members<Waiter>,
    /// Every failure so far, in the order they happened (each pushed
    /// before its child leaves `members`).
    failures: Mutex<Vec<Error>>,
}

/// Who waits for a scope's children: its parked task, or a blocked thread.
enum Waiter {
    Task(pool::Waker),
    Thread(Arc<Signal>),
}

impl Waiter {
    fn wake(self) {
        match self {
            Waiter::Task(w) => w.wake(),
            Waiter::Thread(s) => s.set(),
        }
    }
}

/// A flag and a condvar: what a blocked scope waits on.
#[derive(Default)]
struct Signal {
    set: Mutex<bool>,
    cv: Condvar,
}

impl Signal {
    fn set(&self) {
        *self.set.lock() = true;
        self.cv.notify_all();
    }

    /// Waits until set, then clears it.
    fn wait(&self) {
        let mut set = self.set.lock();
        while !*set {
            self.cv.wait(&mut set);
        }
        *set = false;
    }
}

impl std::fmt::Debug for ScopeObj {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<scope {}>", self.id)
    }
}

impl ScopeObj {
    fn new() -> ScopeObj {
        ScopeObj {
            id: NEXT_SCOPE_ID.fetch_add(1, Ordering::Relaxed),
            token: CancelToken::new(),
            members: Members::new(),
            failures: Mutex::new(Vec::new()),
        }
    }

    /// The scope's small, process-unique number.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Records a failure (time order) and cancels the scope.
    fn fail(&self, e: Error) {
        self.failures.lock().push(e);
        self.token.cancel();
    }

    /// `s.spawn(g, ...args)`.
    fn spawn(self: &Arc<Self>, vm: &mut Vm, args: &[Value]) -> Result<Value> {
        // Reserved before the spawn: the scope cannot finish meanwhile.
        if !self.members.enter() {
            return Err(Error::value_error(format!(
                "scope.spawn(): scope {} has finished; spawn into a scope only while it runs",
                self.id
            )));
        }
        let t = match task::spawn(vm, args) {
            Ok(Value::Task(t)) => t,
            Ok(_) => unreachable!("spawn returns a task"),
            Err(e) => {
                self.child_gone(None);
                return Err(e);
            }
        };
        let me = Arc::clone(self);
        let tt = Arc::clone(&t);
        // Runs at once if the child is already done.
        t.handle.on_done(move || me.child_done(&tt)).keep();
        let h = t.handle.clone();
        // Runs at once if the scope is already cancelled.
        self.token
            .on_cancel(move || {
                h.cancel();
            })
            .keep();
        Ok(Value::Task(t))
    }

    /// A child finished (its completion callback, on the finishing
    /// thread).
    fn child_done(&self, t: &TaskObj) {
        let failure = match task::outcome_now(t) {
            Err(e) if e.kind() != ErrorKind::Cancelled => {
                t.mark_seen();
                let mut e = e;
                if let Some(frame) = t.spawn_frame() {
                    e.push_trace(frame);
                }
                Some(e)
            }
            _ => None,
        };
        self.child_gone(failure);
    }

    /// One child less (with its failure, if it failed).
    fn child_gone(&self, failure: Option<Error>) {
        let failed = failure.is_some();
        if let Some(e) = failure {
            self.failures.lock().push(e);
        }
        let waiter = self.members.leave();
        if failed {
            self.token.cancel();
        }
        if let Some(w) = waiter {
            w.wake();
        }
    }

    /// Blocks this thread until every child finished (the main script, or
    /// a scope inside another region's body). `Err` with the `Deadlock`
    /// error if the main script's wait could never end (the children are
    /// then cancelled and waited for).
    fn wait_blocking(self: &Arc<Self>) -> Result<()> {
        let signal = Arc::new(Signal::default());
        let dead = Arc::new(AtomicBool::new(false));
        let watch = if task::watched_here() {
            let (s, d) = (Arc::clone(&signal), Arc::clone(&dead));
            crate::runtime::watch_deadlock(move || {
                d.store(true, Ordering::SeqCst);
                s.set();
            })
        } else {
            None
        };
        let wait = |watched: bool| loop {
            if self
                .members
                .close_if_empty(|| Waiter::Thread(Arc::clone(&signal)))
            {
                return true;
            }
            if watched && dead.load(Ordering::SeqCst) {
                return false;
            }
            signal.wait();
        };
        let done = if pool::current_worker_index().is_some() {
            let _waiting = super::task_registry::waiting();
            pool::blocking(|| wait(true))
        } else {
            wait(true)
        };
        drop(watch);
        if done {
            return Ok(());
        }
        let n = self.members.live();
        let e = crate::runtime::deadlock_error(&format!(
            "scope {} with {n} task{} left",
            self.id,
            if n == 1 { "" } else { "s" }
        ));
        // The children can never finish on their own: stop them, and
        // still wait until they have.
        self.token.cancel();
        wait(false);
        Err(e)
    }

    /// The scope's result once every child finished: the first failure
    /// with `errors`, or the body's outcome.
    fn finish(&self, body: Result<Value>, outer: Option<&CancelToken>) -> Result<Value> {
        let failures = std::mem::take(&mut *self.failures.lock());
        if let Some(first) = failures.first() {
            let all = failures
                .iter()
                .map(|e| e.clone().into_value())
                .collect::<Vec<_>>();
            let mut v = (*first.0).clone();
            v.errors = Some(Value::list(all));
            return Err(Error(Arc::new(v)));
        }
        match body {
            Ok(_) if outer.is_some_and(CancelToken::is_cancelled) => Err(cancelled()),
            other => other,
        }
    }
}

/// Calls scope method `m` on `s`.
pub(crate) fn call(vm: &mut Vm, s: &Arc<ScopeObj>, m: Method, args: &[Value]) -> Result<Value> {
    match m {
        Method::Spawn => s.spawn(vm, args),
        other => Err(Error::type_error(format!(
            "scope has no method '{}' (it has: spawn)",
            other.name()
        ))),
    }
}

/// A task parked in `scope`, waiting for the scope's children.
struct Join {
    scope: Arc<ScopeObj>,
    body: Option<Result<Value>>,
    outer: Option<CancelToken>,
    /// The outer token's link to the scope (kept while waiting).
    _link: Option<pool::Registration>,
    waker: pool::Waker,
}

impl Wait for Join {
    fn poll(&mut self, _vm: &mut Vm) -> Poll<Result<Value>> {
        let waker = &self.waker;
        if !self
            .scope
            .members
            .close_if_empty(|| Waiter::Task(waker.clone()))
        {
            return Poll::Pending;
        }
        let body = self.body.take().unwrap_or(Ok(Value::Nil));
        Poll::Ready(self.scope.finish(body, self.outer.as_ref()))
    }

    fn describe(&self) -> String {
        let n = self.scope.members.live();
        format!(
            "scope {} with {n} task{} left",
            self.scope.id,
            if n == 1 { "" } else { "s" }
        )
    }
}

/// `scope(f)`.
fn scope(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("scope", args, 1, 1)?;
    let f = &args[0];
    callable("scope", "argument", f)?;
    if let Value::Func(c) = f {
        if !c.accepts(1) {
            let name = c.proto.name.as_deref().unwrap_or("<fn>");
            return Err(Error::type_error(format!(
                "scope(): {name}() must take one argument (the scope handle)"
            )));
        }
    }
    let outer = outer_token(vm);
    if outer.as_ref().is_some_and(CancelToken::is_cancelled) {
        return Err(cancelled());
    }
    let s = Arc::new(ScopeObj::new());
    let link = outer.as_ref().map(|o| {
        let t = s.token.clone();
        o.on_cancel(move || {
            t.cancel();
        })
    });
    let handle = Value::Scope(Arc::clone(&s));
    if vm.can_run_body(Call::Native("scope"), f) {
        // The body runs in the task's dispatch loop (its waits park); the
        // join follows it there.
        let token = s.token.clone();
        let cont =
            move |vm: &mut Vm, body: Result<Value>| after_scope_body(vm, s, body, outer, link);
        return Err(vm.start_body(f.clone(), vec![handle], token, Box::new(cont)));
    }
    let body = run_body(vm, &s.token.clone(), f, &[handle]);
    after_scope_body(vm, s, body, outer, link)
}

/// What `scope` does once its body ended: a failure cancels the scope,
/// then the join (parked where the task can park, else blocking).
fn after_scope_body(
    vm: &mut Vm,
    s: Arc<ScopeObj>,
    body: Result<Value>,
    outer: Option<CancelToken>,
    link: Option<pool::Registration>,
) -> Result<Value> {
    if let Err(e) = &body {
        if !(is_cancellation(e) && s.token.is_cancelled()) {
            s.fail(e.clone());
        }
    }
    if vm.can_park(Call::Native("scope")) {
        if let Some(waker) = vm.task_waker() {
            let mut join = Join {
                scope: Arc::clone(&s),
                body: Some(body),
                outer,
                _link: link,
                waker,
            };
            return match join.poll(vm) {
                Poll::Ready(r) => r,
                Poll::Pending => Err(vm.park(Box::new(join))),
            };
        }
    }
    s.wait_blocking()?;
    drop(link);
    s.finish(body, outer.as_ref())
}

// ---------------------------------------------------------------------------
// within

/// `within(seconds, f)`.
fn within(vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("within", args, 2, 2)?;
    let limit = duration("within", &args[0])?;
    let f = &args[1];
    callable("within", "second argument", f)?;
    if let Value::Func(c) = f {
        if !c.accepts(0) {
            let name = c.proto.name.as_deref().unwrap_or("<fn>");
            return Err(Error::type_error(format!(
                "within(): {name}() must take no arguments"
            )));
        }
    }
    let outer = outer_token(vm);
    if outer.as_ref().is_some_and(CancelToken::is_cancelled) {
        return Err(cancelled());
    }
    let (token, _link) = region_token(outer.as_ref());
    let fired = Arc::new(AtomicBool::new(false));
    let _timer = match Instant::now().checked_add(limit) {
        Some(at) => {
            let (t, fired) = (token.clone(), Arc::clone(&fired));
            Some(crate::runtime::pool()?.timer_at(at, move || {
                fired.store(true, Ordering::SeqCst);
                t.cancel();
            }))
        }
        // Too far to represent: no deadline.
        None => None,
    };
    let secs = match &args[0] {
        Value::Int(n) => n.to_string(),
        Value::Float(x) => crate::value::format_float(*x),
        _ => "the given time".to_string(),
    };
    if vm.can_run_body(Call::Native("within"), f) {
        // The body runs in the task's dispatch loop (its waits park); the
        // timer and the link live until it ends.
        let cont = move |_vm: &mut Vm, r: Result<Value>| {
            drop((_timer, _link));
            within_outcome(r, &fired, outer.as_ref(), &secs)
        };
        return Err(vm.start_body(f.clone(), Vec::new(), token, Box::new(cont)));
    }
    let r = run_body(vm, &token, f, &[]);
    within_outcome(r, &fired, outer.as_ref(), &secs)
}

/// `within`'s result from its body's: the cancellation by its own
/// deadline becomes `Timeout`; anything else passes unchanged.
fn within_outcome(
    r: Result<Value>,
    fired: &AtomicBool,
    outer: Option<&CancelToken>,
    secs: &str,
) -> Result<Value> {
    match r {
        Err(e)
            if e.kind() == ErrorKind::Cancelled
                && fired.load(Ordering::SeqCst)
                && !outer.is_some_and(CancelToken::is_cancelled) =>
        {
            Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "within(): not done after {secs} second{}",
                    if secs == "1" { "" } else { "s" }
                ),
            ))
        }
        other => other,
    }
}

// ---------------------------------------------------------------------------
// as_completed

/// `as_completed(ts)`: a channel receiving each task as it finishes, then
/// closed.
fn as_completed(_vm: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("as_completed", args, 1, 1)?;
    if !matches!(args[0], Value::List(_)) {
        return Err(type_error(
            "as_completed",
            "argument",
            "a list of tasks",
            &args[0],
        ));
    }
    let tasks = task::task_list("as_completed", &args[0])?;
    let ch = Arc::new(ChannelObj::new(None)?);
    if tasks.is_empty() {
        ch.ch.close();
        return Ok(Value::Channel(ch));
    }
    let left = Arc::new(AtomicUsize::new(tasks.len()));
    for t in &tasks {
        let (c, left, tv) = (Arc::clone(&ch), Arc::clone(&left), Arc::clone(t));
        // On the finishing thread, after its outcome is set (or now if it
        // is done): send, then count; the last one closes.
        t.handle
            .on_done(move || {
                let _ = c.ch.try_send(Value::Task(tv));
                if left.fetch_sub(1, Ordering::AcqRel) == 1 {
                    c.ch.close();
                }
            })
            .keep();
    }
    Ok(Value::Channel(ch))
}
