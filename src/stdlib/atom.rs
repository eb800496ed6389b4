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
//! Taking `writer`: `try_lock`; if another task holds it, a short timed
//! wait (most updates are short); then the wait goes through
//! [`pool::blocking`], so a spare thread keeps the pool at `worker_count`
//! running threads while this one waits.
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
//! - If `f` throws, the atom keeps `f`'s argument as `f` left it: the old
//!   value if `f` did not change it, else with the changes `f` made before
//!   throwing (as code changing a lock-protected value in Python or Go
//!   leaves it). The error propagates.
//! - `add(n)` requires both the atom's value and `n` to be numbers (int or
//!   float; `bool` is not a number): `TypeError` otherwise, naming which.
//!   Int overflow is an `OverflowError` and leaves the value unchanged.

use super::args::{self, arity};
use crate::ast::BinOp;
use crate::error::{Error, Result};
use crate::pool;
use crate::value::{NativeFn, Value};
use crate::vm::Vm;
use parking_lot::{Mutex, MutexGuard};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The table of the atom builtins (also fields of the `async` module).
pub(crate) static FUNCTIONS: &[NativeFn] = &[NativeFn {
    name: "atom",
    f: atom,
}];

/// How long a writer waits for a held atom before telling the pool it
/// blocks.
const SHORT_WAIT: Duration = Duration::from_micros(20);

/// A shared mutable cell. Copying the `atom` value copies the handle.
#[derive(Debug)]
pub struct AtomObj {
    /// The current value; held only to clone or store.
    cell: Mutex<Value>,
    /// Held by every write, and while `update`'s function runs.
    writer: Mutex<()>,
    /// The thread holding `writer` (see [`thread_tag`]), 0 if none.
    holder: AtomicUsize,
    /// Numbers the updates of this atom.
    update_seq: AtomicU64,
    /// The number of the update whose function runs now, 0 if none.
    running_update: AtomicU64,
    /// Counts this atom among the live handles (`--stats`).
    _live: super::handles::Live,
}

/// An update in progress: the atom (its address) and the update's number.
type UpdateMark = (usize, u64);

thread_local! {
    static TAG: u8 = const { 0 };
    /// The updates whose function the code running on this thread is
    /// inside: its own, and those of the update functions that spawned the
    /// running task (see [`inherited_updates`]).
    static UPDATING: RefCell<Vec<UpdateMark>> = const { RefCell::new(Vec::new()) };
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
        (!u.is_empty()).then(|| Arc::from(&u[..]))
    })
}

/// A task starts on this thread with the marks it inherited; returns the
/// marks of the code it interrupts, for [`leave_task`].
pub(crate) fn enter_task(inherited: Option<&Arc<[UpdateMark]>>) -> Vec<UpdateMark> {
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
pub(crate) fn leave_task(saved: Vec<UpdateMark>) {
    UPDATING.with(|u| {
        let mut u = u.borrow_mut();
        if !(u.is_empty() && saved.is_empty()) {
            *u = saved;
        }
    });
}

/// Holds an atom's writer lock; clears the holder on drop.
struct WriteGuard<'a> {
    atom: &'a AtomObj,
    _lock: MutexGuard<'a, ()>,
}

impl Drop for WriteGuard<'_> {
    fn drop(&mut self) {
        self.atom.holder.store(0, Ordering::Release);
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

impl AtomObj {
    /// A new atom holding `v`.
    pub fn new(v: Value) -> AtomObj {
        AtomObj {
            cell: Mutex::new(v),
            writer: Mutex::new(()),
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
    pub fn get(&self) -> Result<Value> {
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
    fn get_slow(&self) -> Result<Value> {
        let _w = self.lock_writer("get")?;
        Ok(self.cell.lock().clone())
    }

    /// The value to print: as [`get`](Self::get), or `None` inside the
    /// atom's own update function.
    pub(crate) fn peek(&self) -> Option<Value> {
        self.get().ok()
    }

    fn addr(&self) -> usize {
        self as *const AtomObj as usize
    }

    /// Takes the writer lock for `method`, waiting if another task holds
    /// it; an error instead of waiting for itself.
    fn lock_writer(&self, method: &str) -> Result<WriteGuard<'_>> {
        let lock = match self.writer.try_lock() {
            Some(lock) => lock,
            None => self.lock_writer_slow(method)?,
        };
        self.holder.store(thread_tag(), Ordering::Release);
        Ok(WriteGuard {
            atom: self,
            _lock: lock,
        })
    }

    #[cold]
    fn lock_writer_slow(&self, method: &str) -> Result<MutexGuard<'_, ()>> {
        let running = self.running_update.load(Ordering::Acquire);
        let inside = running != 0
            && UPDATING.with(|u| u.borrow().iter().any(|&m| m == (self.addr(), running)));
        // Only this thread stores its own tag, and clears it before it
        // unlocks: seeing it here means this thread holds the lock.
        let why = if inside {
            Some("inside its own update function (or a task spawned there while it runs)")
        } else if self.holder.load(Ordering::Acquire) == thread_tag() {
            Some(
                "while its update function, further up this thread, waits \
                 (waiting inside an update function runs other tasks)",
            )
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Error::value_error(format!(
                "atom.{method}() called on an atom {why}; it would wait for itself forever"
            )));
        }
        if let Some(lock) = self.writer.try_lock_for(SHORT_WAIT) {
            return Ok(lock);
        }
        Ok(pool::blocking(|| self.writer.lock()))
    }

    /// `a.set(v)`.
    pub fn set(&self, v: Value) -> Result<()> {
        let w = self.lock_writer("set")?;
        let old = std::mem::replace(&mut *self.cell.lock(), v);
        drop(w);
        drop(old);
        Ok(())
    }

    /// `a.add(n)`: the new value.
    pub fn add(&self, n: &Value) -> Result<Value> {
        if !is_number(n) {
            return Err(args::type_error("atom.add", "argument", "a number", n));
        }
        let _w = self.lock_writer("add")?;
        let mut cell = self.cell.lock();
        if !is_number(&cell) {
            return Err(Error::type_error(format!(
                "atom.add() needs an atom holding a number, not {}",
                args::article(cell.type_name())
            )));
        }
        let new = crate::ops::binary(BinOp::Add, &cell, n)?;
        *cell = new.clone();
        Ok(new)
    }

    /// `a.update(f)`: sets the value to `f(old)`; the new value.
    pub fn update(&self, vm: &mut Vm, f: &Value) -> Result<Value> {
        args::callable("atom.update", "argument", f)?;
        let w = self.lock_writer("update")?;
        let seq = self.update_seq.fetch_add(1, Ordering::Relaxed) + 1;
        // The value moves out of the cell into `f`, which then holds it
        // once: `xs.push(x)` in `f` changes it in place instead of copying
        // it (the writer lock is held, so no one else writes meanwhile).
        let mut value = {
            let mut cell = self.cell.lock();
            self.running_update.store(seq, Ordering::Release);
            std::mem::take(&mut *cell)
        };
        UPDATING.with(|u| u.borrow_mut().push((self.addr(), seq)));
        let mut scope = UpdateScope {
            atom: self,
            back: Value::Nil,
        };
        let r = vm.call_owned(f, &mut value);
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

fn is_number(v: &Value) -> bool {
    matches!(v, Value::Int(_) | Value::Float(_))
}

/// `atom(v)`: a new atom holding `v`.
fn atom(_: &mut Vm, args: &[Value]) -> Result<Value> {
    arity("atom", args, 1, 1)?;
    Ok(Value::Atom(Arc::new(AtomObj::new(args[0].clone()))))
}

/// Calls atom method `m` on `a`.
pub(crate) fn call(vm: &mut Vm, a: &AtomObj, m: super::Method, argv: &[Value]) -> Result<Value> {
    use super::Method;
    match m {
        Method::Get => {
            arity("atom.get", argv, 0, 0)?;
            a.get()
        }
        Method::Set => {
            arity("atom.set", argv, 1, 1)?;
            a.set(argv[0].clone())?;
            Ok(Value::Nil)
        }
        Method::Update => {
            arity("atom.update", argv, 1, 1)?;
            a.update(vm, &argv[0])
        }
        Method::Add => {
            arity("atom.add", argv, 1, 1)?;
            a.add(&argv[0])
        }
        other => Err(Error::type_error(format!(
            "atom has no method '{}'",
            other.name()
        ))),
    }
}
