//! Atoms: shared mutable cells (`atom`, `get`, `set`, `update`, `add`;
//! ASYNC.md, "Shared state").
//!
//! # Design: a writer lock held while `update`'s function runs
//! An atom has two locks. `cell` guards the value and is only ever held
//! for a clone or a store, never while Weft code runs. `writer` serialises
//! every write (`set`, `add`, `update`) and is held while `update`'s
//! function runs, so `f` runs exactly once per update, its side effects
//! happen once, and concurrent updates never lose one. (An optimistic
//! compare-and-retry design would run `f` again on conflict, repeating its
//! side effects, and livelock when `f` itself writes the atom.)
//!
//! # Waiting for the writer lock
//! The writer lock is a flag and a first-come-first-served queue of
//! waiters; unlocking hands the lock to the first waiter still waiting
//! (a [`LockWaiter`]'s state leaves `WAITING` exactly once, by
//! compare-and-swap: `GRANTED` by the unlocker, or `ABORTED` by the waiter's
//! own cancellation, so a lock is never handed to a waiter that left).
//! A task that finds the lock held *parks* (its waiter's parker is its
//! pool waker): it holds no thread, and its cancellation reaches it. A
//! thread that cannot park (the main script, a write inside a native
//! callback) spins briefly, then blocks (on a pool thread, through
//! [`pool::blocking`], so a spare keeps the pool running); cancellation
//! reaches it too, and on the main script's thread a wait nothing can end
//! is a `Deadlock`.
//!
//! DECISIONS:
//! - `update` hands `f` the atom's value itself, not a copy: the value
//!   moves out of the cell into `f`'s parameter (the writer lock is held,
//!   so nothing else writes meanwhile) and the result moves back. So `f`
//!   holds it once and `xs.push(x); xs` in `f` is O(1), where a shared
//!   snapshot made every update copy the whole list or map (quadratic
//!   accumulation). The calling side is [`Vm::call_owned`].
//! - While `f` runs the value is in its hands: `a.get()` (and printing the
//!   atom) from another task waits for the update to finish and sees its
//!   result, as reading a lock-protected value does in Go or Python. Inside
//!   `f` itself (or a task it spawned, while `f` runs), `get` throws a
//!   `ValueError` like the writes below (it would wait for itself; the
//!   value is `f`'s argument), and printing the atom shows
//!   `<atom (being updated)>`. Outside updates, `get` never waits for a
//!   writer.
//! - `set`, `add` or `update` on the same atom inside its own `update`
//!   function would wait for itself forever; it throws a `ValueError`
//!   instead ("... inside its own update function"). So does such a write
//!   from a task spawned inside the update function while that function
//!   still runs (the function may be awaiting the task: a lock held while
//!   waiting). Once the function is done, the task writes normally. And
//!   if, while an update function awaits, its thread runs an unrelated
//!   task (the pool's help-first waiting) that writes the same atom, that
//!   write throws too, since waiting there would block the thread under
//!   the function that holds the lock. Waiting inside an update function is
//!   best avoided; a cycle through other means (a channel) is not detected.
//! - Another atom can be written inside an update function. Two update
//!   functions that each write the other's atom (in opposite order, in
//!   two tasks) would each hold one lock and wait for the other forever
//!   (the ABBA deadlock): the second one to wait finds the cycle (each
//!   blocked writer publishes which atom it waits for, and the chain of
//!   holders leads back to itself) and throws `Deadlock` instead of
//!   waiting; its update function fails, its lock is released, and the
//!   other one goes on.
//! - If `f` throws, the atom keeps `f`'s argument as `f` left it: the old
//!   value if `f` did not change it, else with the changes `f` made before
//!   throwing (as code changing a lock-protected value in Python or Go
//!   leaves it). The error propagates.
//! - `add(n)` requires both the atom's value and `n` to be numbers (int or
//!   float; `bool` is not a number): `TypeError` otherwise, naming which.
//!   Int overflow is an `OverflowError` and leaves the value unchanged.

use super::args::{self, arity};
use crate::ast::BinOp;
use crate::error::{Error, ErrorKind, Result};
use crate::pool;
use crate::value::{NativeFn, Value};
use crate::vm::{Call, Vm, Wait};
use parking_lot::Mutex;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

/// The table of the atom builtins (also fields of the `async` module).
pub(crate) static FUNCTIONS: &[NativeFn] = &[NativeFn {
    name: "atom",
    f: atom,
}];

/// How long a thread spins for a held atom before it blocks.
const SHORT_WAIT: Duration = Duration::from_micros(20);

/// A shared mutable cell. Copying the `atom` value copies the handle.
#[derive(Debug)]
pub struct AtomObj {
    /// The current value; held only to clone or store.
    cell: Mutex<Value>,
    /// Taken by every write, and held while `update`'s function runs.
    writer: Writer,
    /// The thread holding `writer` (see [`thread_tag`]), 0 if none.
    holder: AtomicUsize,
    /// Numbers the updates of this atom.
    update_seq: AtomicU64,
    /// The number of the update whose function runs now, 0 if none.
    running_update: AtomicU64,
    /// Counts this atom among the live handles (`--stats`).
    _live: super::handles::Live,
}

/// An update in progress: the atom (its address), the update's number,
/// and whether this thread runs that update's function (`false`: the mark
/// was inherited by a task spawned inside it).
type UpdateMark = (usize, u64, bool);

thread_local! {
    static TAG: u8 = const { 0 };
    /// The updates whose function the code running on this thread is
    /// inside: its own, and those of the update functions that spawned the
    /// running task (see [`inherited_updates`]).
    static UPDATING: RefCell<Vec<UpdateMark>> = const { RefCell::new(Vec::new()) };
    /// False only while `UPDATING` is empty (true once a mark may be
    /// there): lets a task's start and end on this thread skip `UPDATING`
    /// in the common case (speed only: two per task resume). A plain
    /// `Cell<bool>`, with no destructor, is a cheaper thread-local than the
    /// `RefCell<Vec>`.
    static MAY_HOLD_MARKS: Cell<bool> = const { Cell::new(false) };
}

/// A number unique to this thread among live threads.
fn thread_tag() -> usize {
    TAG.with(|t| t as *const u8 as usize)
}

/// For `spawn`: the updates the spawning code is inside (`None`, the
/// common case, costs nothing). A task spawned inside an update function
/// cannot write that atom while the function runs: it could only wait for
/// a function that may be waiting for it.
pub(crate) fn inherited_updates() -> Option<Arc<[UpdateMark]>> {
    UPDATING.with(|u| {
        let u = u.borrow();
        (!u.is_empty()).then(|| u.iter().map(|&(a, s, _)| (a, s, false)).collect())
    })
}

/// A task starts on this thread with the marks it inherited; returns the
/// marks of the code it interrupts, for [`leave_task`].
#[inline]
pub(crate) fn enter_task(inherited: Option<&Arc<[UpdateMark]>>) -> Vec<UpdateMark> {
    if inherited.is_none() && !MAY_HOLD_MARKS.with(Cell::get) {
        // No marks here and none to install.
        return Vec::new();
    }
    if inherited.is_some() {
        MAY_HOLD_MARKS.with(|m| m.set(true));
    }
    UPDATING.with(|u| {
        let mut u = u.borrow_mut();
        match inherited {
            None if u.is_empty() => Vec::new(),
            None => std::mem::take(&mut *u),
            Some(marks) => std::mem::replace(&mut *u, marks.to_vec()),
        }
    })
}

/// The task that [`enter_task`] started is done.
#[inline]
pub(crate) fn leave_task(saved: Vec<UpdateMark>) {
    if saved.is_empty() && !MAY_HOLD_MARKS.with(Cell::get) {
        // Nothing here, nothing to put back.
        return;
    }
    if !saved.is_empty() {
        MAY_HOLD_MARKS.with(|m| m.set(true));
    }
    UPDATING.with(|u| {
        let mut u = u.borrow_mut();
        if !(u.is_empty() && saved.is_empty()) {
            *u = saved;
        }
    });
}

// ---------------------------------------------------------------------------
// The writer lock

const WAITING: u8 = 0;
const GRANTED: u8 = 1;
const ABORTED: u8 = 2;

/// Who waits for the writer lock.
enum Parker {
    Thread(std::thread::Thread),
    Task(pool::Waker),
}

/// One wait for an atom's writer lock. Its state leaves `WAITING` once.
struct LockWaiter {
    state: AtomicU8,
    parker: Parker,
}

impl LockWaiter {
    fn new(parker: Parker) -> Arc<LockWaiter> {
        Arc::new(LockWaiter {
            state: AtomicU8::new(WAITING),
            parker,
        })
    }

    fn end(&self, to: u8) -> bool {
        self.state
            .compare_exchange(WAITING, to, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn granted(&self) -> bool {
        self.state.load(Ordering::Acquire) == GRANTED
    }

    fn waiting(&self) -> bool {
        self.state.load(Ordering::Acquire) == WAITING
    }

    fn wake(&self) {
        match &self.parker {
            Parker::Thread(t) => t.unpark(),
            Parker::Task(w) => w.wake(),
        }
    }
}

#[derive(Default)]
struct WriterState {
    held: bool,
    waiters: VecDeque<Arc<LockWaiter>>,
}

/// The writer lock: held or not, and who waits, first come first served.
#[derive(Default)]
struct Writer {
    state: Mutex<WriterState>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock();
        f.debug_struct("Writer")
            .field("held", &st.held)
            .field("waiting", &st.waiters.len())
            .finish()
    }
}

impl Writer {
    fn try_lock(&self) -> bool {
        let mut st = self.state.lock();
        !std::mem::replace(&mut st.held, true)
    }

    /// Takes the lock if it is free (true), else queues `w` (false).
    fn lock_or_queue(&self, w: &Arc<LockWaiter>) -> bool {
        let mut st = self.state.lock();
        if !st.held {
            st.held = true;
            return true;
        }
        st.waiters.push_back(Arc::clone(w));
        false
    }

    /// Removes a waiter that left (after its abort won).
    fn forget(&self, w: &Arc<LockWaiter>) {
        self.state.lock().waiters.retain(|x| !Arc::ptr_eq(x, w));
    }

    /// Hands the lock to the first waiter still waiting, or frees it.
    fn unlock(&self) {
        let next = {
            let mut st = self.state.lock();
            loop {
                match st.waiters.pop_front() {
                    Some(w) if w.end(GRANTED) => break Some(w),
                    Some(_) => {}
                    None => {
                        st.held = false;
                        break None;
                    }
                }
            }
        };
        if let Some(w) = next {
            w.wake();
        }
    }
}

/// The threads blocked waiting for an atom's writer lock, and for which:
/// the wait-for graph in which an ABBA cycle is found (`enter_wait`).
static WAITS: Mutex<Vec<(usize, Arc<AtomObj>)>> = Mutex::new(Vec::new());

/// Unpublishes this thread's wait (`WAITS`) on drop.
struct PublishedWait;

impl Drop for PublishedWait {
    fn drop(&mut self) {
        let me = thread_tag();
        WAITS.lock().retain(|(t, _)| *t != me);
    }
}

/// Holds an atom's writer lock; releases it (to the next waiter) on drop.
struct WriteGuard<'a> {
    atom: &'a AtomObj,
}

impl<'a> WriteGuard<'a> {
    /// The guard of a lock just taken (or granted) by this thread.
    fn held(atom: &'a AtomObj) -> Self {
        atom.holder.store(thread_tag(), Ordering::Release);
        WriteGuard { atom }
    }
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.atom.holder.store(0, Ordering::Release);
        self.atom.writer.unlock();
    }
}

/// An update function is running: on drop (also when `f` unwinds), puts
/// `back` into the cell, marks the update over and pops this thread's
/// update mark.
struct UpdateScope<'a> {
    atom: &'a AtomObj,
    /// The value the atom holds once the update is over.
    back: Value,
}

impl Drop for UpdateScope<'_> {
    fn drop(&mut self) {
        let moved_out = {
            let mut cell = self.atom.cell.lock();
            let v = std::mem::replace(&mut *cell, std::mem::take(&mut self.back));
            self.atom.running_update.store(0, Ordering::Release);
            v
        };
        drop(moved_out);
        UPDATING.with(|u| {
            u.borrow_mut().pop();
        });
    }
}

/// A write, as it waits for the lock (a parked task keeps it).
enum Write {
    Set(Value),
    Add(Value),
    Update(Value),
}

impl Write {
    fn method(&self) -> &'static str {
        match self {
            Write::Set(_) => "set",
            Write::Add(_) => "add",
            Write::Update(_) => "update",
        }
    }
}

#[cold]
fn cancelled() -> Error {
    Error::cancelled()
}

impl AtomObj {
    /// A new atom holding `v`.
    pub fn new(v: Value) -> AtomObj {
        AtomObj {
            cell: Mutex::new(v),
            writer: Writer::default(),
            holder: AtomicUsize::new(0),
            update_seq: AtomicU64::new(0),
            running_update: AtomicU64::new(0),
            _live: super::handles::Live::new(super::handles::Kind::Atom),
        }
    }

    /// A snapshot of the current value. While an update function runs
    /// the value is in its hands: `get` waits for it to finish, and inside
    /// the function itself (or a task it spawned) throws a `ValueError`,
    /// as `set` does, since it would wait for itself.
    pub fn get(self: &Arc<Self>) -> Result<Value> {
        {
            let cell = self.cell.lock();
            if self.running_update.load(Ordering::Acquire) == 0 {
                return Ok(cell.clone());
            }
        }
        self.get_slow()
    }

    /// [`get`](Self::get) during an update: wait for the writer lock.
    #[cold]
    fn get_slow(self: &Arc<Self>) -> Result<Value> {
        let _w = self.lock_writer_slow("get")?;
        Ok(self.cell.lock().clone())
    }

    /// The value to print: as [`get`](Self::get), or `None` inside the
    /// atom's own update function.
    pub(crate) fn peek(self: &Arc<Self>) -> Option<Value> {
        self.get().ok()
    }

    fn addr(&self) -> usize {
        self as *const AtomObj as usize
    }

    /// Why waiting for the lock here would wait for itself, if it would.
    fn self_wait(&self, method: &str) -> Result<()> {
        let running = self.running_update.load(Ordering::Acquire);
        let inside = running != 0
            && UPDATING.with(|u| {
                u.borrow()
                    .iter()
                    .any(|&(a, s, _)| (a, s) == (self.addr(), running))
            });
        // Only this thread stores its own tag, and clears it before it
        // unlocks: seeing it here means this thread holds the lock.
        let why = if inside {
            Some("inside its own update function (or a task spawned there while it runs)")
        } else if self.holder.load(Ordering::Acquire) == thread_tag() {
            Some(
                "while its update function, further up this thread, waits \
                 (a task it awaits runs on this thread)",
            )
        } else {
            None
        };
        match why {
            Some(why) => Err(Error::value_error(format!(
                "atom.{method}() called on an atom {why}; it would wait for itself forever"
            ))),
            None => Ok(()),
        }
    }

    /// Takes the writer lock for `method`, blocking this thread if another
    /// holds it (the path for code that cannot park).
    fn lock_writer(self: &Arc<Self>, method: &str) -> Result<WriteGuard<'_>> {
        if self.writer.try_lock() {
            return Ok(WriteGuard::held(self));
        }
        self.lock_writer_slow(method)
    }

    #[cold]
    fn lock_writer_slow(self: &Arc<Self>, method: &str) -> Result<WriteGuard<'_>> {
        self.self_wait(method)?;
        // Most updates are short: spin a little first.
        let start = Instant::now();
        while start.elapsed() < SHORT_WAIT {
            if self.writer.try_lock() {
                return Ok(WriteGuard::held(self));
            }
            std::hint::spin_loop();
        }
        let w = LockWaiter::new(Parker::Thread(std::thread::current()));
        if self.writer.lock_or_queue(&w) {
            return Ok(WriteGuard::held(self));
        }
        // Publish the wait, unless it closes a cycle of writers each
        // holding a lock another one waits for.
        if let Err(e) = self.enter_wait(method) {
            if w.end(ABORTED) {
                self.writer.forget(&w);
            } else {
                // Granted meanwhile: pass it on.
                self.writer.unlock();
            }
            return Err(e);
        }
        let _published = PublishedWait;
        // Woken by a grant, our task's cancellation, or (on the main
        // script's thread) a deadlock.
        let abort = {
            let w = Arc::clone(&w);
            move || {
                if w.end(ABORTED) {
                    w.wake();
                }
            }
        };
        let _cancel = pool::current_cancel_token().map(|t| t.on_cancel(abort.clone()));
        let dead = Arc::new(AtomicBool::new(false));
        let _watch = {
            let (d, abort) = (Arc::clone(&dead), abort.clone());
            crate::runtime::watch_deadlock(move || {
                d.store(true, Ordering::SeqCst);
                abort();
            })
        };
        let wait = || {
            while w.waiting() {
                std::thread::park();
            }
        };
        if pool::current_worker_index().is_some() {
            pool::blocking(wait);
        } else {
            wait();
        }
        if w.granted() {
            return Ok(WriteGuard::held(self));
        }
        self.writer.forget(&w);
        if dead.load(Ordering::SeqCst) {
            return Err(crate::runtime::deadlock_error(&format!(
                "atom.{method}() waiting for the atom's lock"
            )));
        }
        Err(cancelled())
    }

    /// Performs `op` with the writer lock held (`_w`).
    fn perform(&self, vm: &mut Vm, op: Write, w: WriteGuard<'_>) -> Result<Value> {
        match op {
            Write::Set(v) => {
                let old = std::mem::replace(&mut *self.cell.lock(), v);
                drop(w);
                drop(old);
                Ok(Value::Nil)
            }
            Write::Add(n) => {
                let mut cell = self.cell.lock();
                if !is_number(&cell) {
                    return Err(Error::type_error(format!(
                        "atom.add() needs an atom holding a number, not {}",
                        args::article(cell.type_name())
                    )));
                }
                let new = crate::ops::binary(BinOp::Add, &cell, &n)?;
                *cell = new.clone();
                drop(cell);
                drop(w);
                Ok(new)
            }
            Write::Update(f) => {
                let seq = self.update_seq.fetch_add(1, Ordering::Relaxed) + 1;
                // The value moves out of the cell into `f`, which then holds
                // it once: `xs.push(x)` in `f` changes it in place instead
                // of copying it (the writer lock is held, so no one else
                // writes meanwhile).
                let mut value = {
                    let mut cell = self.cell.lock();
                    self.running_update.store(seq, Ordering::Release);
                    std::mem::take(&mut *cell)
                };
                MAY_HOLD_MARKS.with(|m| m.set(true));
                UPDATING.with(|u| u.borrow_mut().push((self.addr(), seq, true)));
                let mut scope = UpdateScope {
                    atom: self,
                    back: Value::Nil,
                };
                let r = vm.call_owned(&f, &mut value);
                // On error, `value` is what `f`'s argument held when it threw.
                scope.back = match &r {
                    Ok(new) => new.clone(),
                    Err(_) => value,
                };
                drop(scope);
                drop(w);
                r
            }
        }
    }

    /// A write from code running on `vm`: parks the task if the lock is
    /// held and `vm` can park here, else blocks.
    fn write(self: &Arc<Self>, vm: &mut Vm, op: Write, call: Call) -> Result<Value> {
        let method = op.method();
        if self.writer.try_lock() {
            return self.perform(vm, op, WriteGuard::held(self));
        }
        if vm.can_park(call) {
            if let Some(waker) = vm.task_waker() {
                self.self_wait(method)?;
                let w = LockWaiter::new(Parker::Task(waker));
                if self.writer.lock_or_queue(&w) {
                    return self.perform(vm, op, WriteGuard::held(self));
                }
                return Err(vm.park(Box::new(LockWait {
                    atom: Arc::clone(self),
                    waiter: w,
                    op: Some(op),
                })));
            }
        }
        let g = self.lock_writer_slow(method)?;
        self.perform(vm, op, g)
    }

    /// Publishes that this thread waits for this atom's lock, or finds
    /// that this would close a cycle: the holder of this lock waits for a
    /// lock whose holder waits ... for a lock this thread holds.
    fn enter_wait(self: &Arc<Self>, method: &str) -> Result<()> {
        let me = thread_tag();
        let mut waits = WAITS.lock();
        let mut atom = Arc::clone(self);
        let mut steps = 0usize;
        loop {
            let holder = atom.holder.load(Ordering::Acquire);
            if holder == 0 {
                break;
            }
            if holder == me {
                return Err(Error::new(
                    ErrorKind::Deadlock,
                    format!(
                        "atom.{method}() would wait forever: its lock is held by an update \
                         function that waits (directly or through other atoms' locks) for a lock \
                         this update function holds (updates writing each other's atoms in \
                         opposite order)"
                    ),
                ));
            }
            match waits.iter().find(|(t, _)| *t == holder) {
                Some((_, next)) if steps <= waits.len() => {
                    atom = Arc::clone(next);
                    steps += 1;
                }
                _ => break,
            }
        }
        waits.push((me, Arc::clone(self)));
        Ok(())
    }

    /// `a.set(v)`.
    pub fn set(self: &Arc<Self>, v: Value) -> Result<()> {
        let w = self.lock_writer("set")?;
        let old = std::mem::replace(&mut *self.cell.lock(), v);
        drop(w);
        drop(old);
        Ok(())
    }

    /// `a.add(n)`: the new value.
    pub fn add(self: &Arc<Self>, n: &Value) -> Result<Value> {
        if !is_number(n) {
            return Err(args::type_error("atom.add", "argument", "a number", n));
        }
        let w = self.lock_writer("add")?;
        self.perform(&mut Vm::new(), Write::Add(n.clone()), w)
    }

    /// `a.update(f)`: sets the value to `f(old)`; the new value.
    pub fn update(self: &Arc<Self>, vm: &mut Vm, f: &Value) -> Result<Value> {
        args::callable("atom.update", "argument", f)?;
        let w = self.lock_writer("update")?;
        self.perform(vm, Write::Update(f.clone()), w)
    }
}

/// A task parked waiting for an atom's writer lock; once it is granted,
/// the write is done on resume.
struct LockWait {
    atom: Arc<AtomObj>,
    waiter: Arc<LockWaiter>,
    op: Option<Write>,
}

impl Wait for LockWait {
    fn poll(&mut self, vm: &mut Vm) -> Poll<Result<Value>> {
        if vm.cancel_token().is_some_and(|t| t.is_cancelled()) {
            if self.waiter.end(ABORTED) {
                self.atom.writer.forget(&self.waiter);
            } else if self.waiter.granted() {
                // Granted as we were cancelled: pass the lock on.
                self.op = None;
                self.atom.writer.unlock();
            }
            return Poll::Ready(Err(cancelled()));
        }
        if !self.waiter.granted() {
            return Poll::Pending;
        }
        let Some(op) = self.op.take() else {
            return Poll::Ready(Err(Error::new(
                ErrorKind::Error,
                "internal: an atom write resumed twice",
            )));
        };
        let guard = WriteGuard::held(&self.atom);
        Poll::Ready(self.atom.perform(vm, op, guard))
    }

    fn describe(&self) -> String {
        let method = self.op.as_ref().map_or("write", Write::method);
        format!("atom.{method}() waiting for the atom's lock")
    }
}

impl Drop for LockWait {
    /// A parked write dropped unfinished (its task's state went away) gives
    /// up its place, or the lock if it was granted.
    fn drop(&mut self) {
        if self.waiter.end(ABORTED) {
            self.atom.writer.forget(&self.waiter);
        } else if self.waiter.granted() && self.op.is_some() {
            self.atom.writer.unlock();
        }
    }
}

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Float(_))
}

/// `atom(v)`: a new atom holding `v`.
fn atom(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("atom", args, 1, 1)?;
    Ok(Value::Atom(Arc::new(AtomObj::new(args[0].clone()))))
}

/// Calls atom method `m` on `a`.
pub(crate) fn call(
    vm: &mut Vm,
    a: &Arc<AtomObj>,
    m: super::Method,
    argv: &[Value],
) -> Result<Value> {
    use super::Method;
    match m {
        Method::Get => {
            arity("atom.get", argv, 0, 0)?;
            a.get()
        }
        Method::Set => {
            arity("atom.set", argv, 1, 1)?;
            a.write(vm, Write::Set(argv[0].clone()), Call::Method(m))
        }
        Method::Update => {
            arity("atom.update", argv, 1, 1)?;
            args::callable("atom.update", "argument", &argv[0])?;
            a.write(vm, Write::Update(argv[0].clone()), Call::Method(m))
        }
        Method::Add => {
            arity("atom.add", argv, 1, 1)?;
            if !is_number(&argv[0]) {
                return Err(args::type_error(
                    "atom.add", "argument", "a number", &argv[0],
                ));
            }
            a.write(vm, Write::Add(argv[0].clone()), Call::Method(m))
        }
        other => Err(Error::type_error(format!(
            "atom has no method '{}'",
            other.name()
        ))),
    }
}
