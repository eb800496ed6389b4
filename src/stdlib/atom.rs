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
//! - `a.get()` never waits: it returns the value as of the last completed
//!   write (during an update, the value before it). So `get` (and printing
//!   the atom) inside `update`'s own function is allowed and sees the old
//!   value.
//! - `set`, `add` or `update` on the same atom inside its own `update`
//!   function would wait for itself forever; it throws a `ValueError`
//!   instead ("... inside its own update function"). The same happens when
//!   a task that this thread runs while the update function awaits (the
//!   pool's help-first waiting) writes that atom: blocking there would
//!   deadlock the thread, so it gets the error instead. Waiting inside an
//!   update function is best avoided.
//! - If `f` throws, the atom keeps its old value and the error propagates.
//! - `add(n)` requires both the atom's value and `n` to be numbers (int or
//!   float; `bool` is not a number): `TypeError` otherwise, naming which.
//!   Int overflow is an `OverflowError` and leaves the value unchanged.
//! - `update` hands `f` a copy-on-write snapshot of the value (the atom
//!   still holds it for `get`), so `f` mutating a big list copies it once
//!   per update; accumulate big results with `await_all`, a channel or
//!   `parallel_map` rather than an atom holding a growing list.

use super::args::{self, arity};
use crate::ast::BinOp;
use crate::error::{Error, Result};
use crate::pool;
use crate::value::{NativeFn, Value};
use crate::vm::Vm;
use parking_lot::{Mutex, MutexGuard};
use std::sync::atomic::{AtomicUsize, Ordering};
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
    /// The VM running this atom's update function (its address), 0 if
    /// none.
    updating_vm: AtomicUsize,
}

thread_local! {
    static TAG: u8 = const { 0 };
}

/// A number unique to this thread among live threads.
fn thread_tag() -> usize {
    TAG.with(|t| t as *const u8 as usize)
}

/// The address of `vm`, to recognise it.
fn vm_tag(vm: &Vm) -> usize {
    vm as *const Vm as usize
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

impl AtomObj {
    /// A new atom holding `v`.
    pub fn new(v: Value) -> AtomObj {
        AtomObj {
            cell: Mutex::new(v),
            writer: Mutex::new(()),
            holder: AtomicUsize::new(0),
            updating_vm: AtomicUsize::new(0),
        }
    }

    /// A snapshot of the current value (never waits for a writer).
    pub fn get(&self) -> Value {
        self.cell.lock().clone()
    }

    /// Takes the writer lock for `method`, waiting if another task holds
    /// it; an error instead of waiting for this very thread.
    fn lock_writer(&self, vm: &Vm, method: &str) -> Result<WriteGuard<'_>> {
        let lock = match self.writer.try_lock() {
            Some(lock) => lock,
            None => self.lock_writer_slow(vm, method)?,
        };
        self.holder.store(thread_tag(), Ordering::Release);
        Ok(WriteGuard {
            atom: self,
            _lock: lock,
        })
    }

    #[cold]
    fn lock_writer_slow(&self, vm: &Vm, method: &str) -> Result<MutexGuard<'_, ()>> {
        // Only this thread stores its own tag, and clears it before it
        // unlocks: seeing it here means this thread holds the lock.
        if self.holder.load(Ordering::Acquire) == thread_tag() {
            let why = if self.updating_vm.load(Ordering::Acquire) == vm_tag(vm) {
                "inside its own update function"
            } else {
                "while its update function, further up this thread, waits \
                 (waiting inside an update function runs other tasks)"
            };
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
    pub fn set(&self, vm: &Vm, v: Value) -> Result<()> {
        let _w = self.lock_writer(vm, "set")?;
        let old = std::mem::replace(&mut *self.cell.lock(), v);
        drop(_w);
        drop(old);
        Ok(())
    }

    /// `a.add(n)`: the new value.
    pub fn add(&self, vm: &Vm, n: &Value) -> Result<Value> {
        if !is_number(n) {
            return Err(args::type_error("atom.add", "argument", "a number", n));
        }
        let _w = self.lock_writer(vm, "add")?;
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
        let _w = self.lock_writer(vm, "update")?;
        let old = self.get();
        self.updating_vm.store(vm_tag(vm), Ordering::Release);
        let r = args::call(vm, f, &[old]);
        self.updating_vm.store(0, Ordering::Release);
        let new = r?;
        let old = std::mem::replace(&mut *self.cell.lock(), new.clone());
        drop(_w);
        drop(old);
        Ok(new)
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
            Ok(a.get())
        }
        Method::Set => {
            arity("atom.set", argv, 1, 1)?;
            a.set(vm, argv[0].clone())?;
            Ok(Value::Nil)
        }
        Method::Update => {
            arity("atom.update", argv, 1, 1)?;
            a.update(vm, &argv[0])
        }
        Method::Add => {
            arity("atom.add", argv, 1, 1)?;
            a.add(vm, &argv[0])
        }
        other => Err(Error::type_error(format!(
            "atom has no method '{}'",
            other.name()
        ))),
    }
}
