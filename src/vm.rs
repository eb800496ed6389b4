//! The virtual machine: runs [`crate::bytecode`] on the current thread.
//!
//! # Frames
//! Each thread has its own [`Vm`]: one register stack (`Vec<Value>`), one
//! frame stack and one handler stack. Calls between Weft functions push a
//! frame and continue in the same dispatch loop — they never recurse on
//! the Rust stack and allocate nothing once the stacks have grown. A call
//! `R[f](R[f+1], ..., R[f+n])` makes the callee's base `f + 1`, so the
//! arguments are already in the callee's first registers; `R[f]` (the
//! register below the base) holds the callee closure when the callee needs
//! it (captures, self-reference). Returning clears the callee's registers,
//! so no stale reference keeps a list shared (copy-on-write stays O(1)).
//!
//! # Dispatch
//! The loop reads instructions through a pointer into the running
//! function's code, with no bounds check per instruction. What makes that
//! sound is checked once, when the compiler builds the function
//! ([`crate::bytecode::Code`]): the code is not empty, its last instruction
//! never falls through, and every jump lands inside it. The pointer enters
//! a function only through a bounds-checked index (calls, returns,
//! handlers, resumption), and frames keep the index, not the pointer.
//!
//! # Re-entry
//! Natives that call back into Weft (`xs.map(f)`, `sort(key)`) use
//! [`Vm::call`], which runs a nested dispatch loop for that call only.
//! Re-entries count against the same depth limit as frames, and each one
//! runs inside `stacker::maybe_grow`, so neither deep Weft recursion nor
//! deep native re-entry can overflow the Rust stack on any thread.
//!
//! # Threads
//! Compiled code is immutable and shared (`&'static Proto`); each thread
//! has its own VM state ([`with_vm`], [`call_value`]). There is no global
//! lock: module variables are read through write-once slots (one atomic
//! load) or, for variables top-level code reassigns, a per-variable lock.
//!
//! # Cancellation
//! [`Vm::set_cancel_flag`] installs a flag checked at every call and loop
//! back-edge; when it is set the VM throws `Cancelled`. (The checkpoint
//! itself counts down and looks at the flag every 1024 checkpoints; after
//! every native and every install the VM looks at once, so a cancellation
//! made by this thread stops it at the next checkpoint and one made by
//! another thread within 1024 checkpoints.)
//! [`Vm::set_cancel_token`] does the same with a pool task's
//! [`CancelToken`](crate::pool::CancelToken) (a spawned task's VM has its
//! task's token installed while it runs); either one stops the VM.
//!
//! # Calling Weft from Rust (natives, the pool, embedders)
//! - Inside a native: use the `&mut Vm` the native was given:
//!   `vm.call(&f, &args)`.
//! - Anywhere else (a pool worker running a task): [`call_value`] uses the
//!   thread's VM; [`with_vm`] gives it to a closure, e.g. to install a
//!   task's cancel flag around the call:
//!   ```
//!   # use std::sync::{Arc, atomic::AtomicBool};
//!   # let f = weft::stdlib::lookup_global("len").unwrap();
//!   # let args = [weft::value::Value::from("abc")];
//!   let flag = Arc::new(AtomicBool::new(false));
//!   let result = weft::vm::with_vm(|vm| {
//!       let previous = vm.set_cancel_flag(Some(flag.clone()));
//!       let r = vm.call(&f, &args);
//!       vm.set_cancel_flag(previous);
//!       r
//!   });
//!   assert_eq!(result.unwrap(), weft::value::Value::Int(3));
//!   ```
//! - Errors come back as [`Error`] values whose trace already lists the
//!   Weft frames they passed through (innermost first); a caller that adds
//!   context (where a task was spawned) appends with [`Error::push_trace`].

use crate::ast::BinOp;
use crate::bytecode::*;
use crate::error::{Error, ErrorKind, Result};
use crate::function::Closure;
use crate::ops;
use crate::stdlib::{self, Method};
use crate::value::{Key, List, Map, Module, NativeFn, Value};
use std::cell::RefCell;
use std::mem;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

mod body;
mod chan_fast;
#[cfg(test)]
mod fast_test;
mod interrupt;
mod method_fast;
mod owned;
mod park;
mod select;
#[cfg(test)]
mod test;

pub use body::Cont;
pub use park::{Call, HeldVm, ParkedVm, Wait};

/// The default limit on nested calls per thread.
pub const DEFAULT_MAX_DEPTH: usize = 10_000;

/// Stack room kept free before a native re-entry grows the Rust stack.
const RED_ZONE: usize = 128 * 1024;
/// Size of each Rust stack segment added for deep native re-entry.
const STACK_SEGMENT: usize = 4 * 1024 * 1024;

/// The registers one frame can name (`Reg` is a `u8`).
const FRAME_WINDOW: usize = 256;

/// The slots the stack keeps above every frame's base: the registers a
/// frame can name, and one more for `R[f + 1]`, the first argument of a
/// call whose callee is in the last register (the dispatch loop writes it
/// through its raw register window, `Vm::run_loop`'s `regs`).
const REG_WINDOW: usize = FRAME_WINDOW + 1;

/// Windows up to this many slots (callee register included) are cleared
/// on return as one unrolled run (`Vm::clear_window`).
const SMALL_WINDOW: usize = 8;

/// How many arguments a method call passes without a heap allocation.
const INLINE_ARGS: usize = 6;

/// Values moved out of registers for a native call.
enum Taken {
    Inline([Value; INLINE_ARGS], usize),
    Heap(Vec<Value>),
}

impl Taken {
    fn as_slice(&self) -> &[Value] {
        match self {
            Taken::Inline(buf, n) => &buf[..*n],
            Taken::Heap(v) => v,
        }
    }
}

/// One activation of a Weft function.
#[derive(Clone, Copy, Debug)]
struct Frame {
    proto: &'static Proto,
    /// The next instruction (saved while the frame is not running).
    pc: u32,
    /// Absolute index of register 0.
    base: u32,
    /// Absolute index of the caller's destination register.
    ret: u32,
    /// Whether returning from this frame leaves the dispatch loop (a call
    /// from Rust: [`Vm::call`], a module body).
    entry: bool,
}

/// An installed `try` handler.
#[derive(Clone, Copy, Debug)]
struct Handler {
    /// Index of the frame that installed it.
    frame: u32,
    /// Where the handler code starts.
    pc: u32,
    /// Absolute register receiving the error value.
    reg: u32,
}

/// Per-thread interpreter state.
pub struct Vm {
    stack: Vec<Value>,
    frames: Vec<Frame>,
    handlers: Vec<Handler>,
    /// Native re-entries in progress (counted in the depth limit).
    reentry: usize,
    max_depth: usize,
    cancel: Option<Arc<AtomicBool>>,
    token: Option<crate::pool::CancelToken>,
    /// The entry frame of a [`Vm::call_owned`] in progress, and the
    /// argument it gets back if the call throws (see `vm/owned.rs`).
    owned_arg: Option<(usize, Value)>,
    /// Parking, time slices, inherited depth (`vm/park.rs`).
    park: park::ParkState,
    /// One record per `finally` block running on its error path (see
    /// [`Shield`]), innermost last.
    shields: Vec<Shield>,
    /// Set by `Rethrow`: the unwind that follows does not add the current
    /// frame to the trace again.
    rethrowing: bool,
    /// Bodies of `scope`/`within` run in the loop (`vm/body.rs`).
    bodies: body::Bodies,
    /// The seeded random stream of the task running here (`random_seed`).
    rng: Option<stdlib::random::Stream>,
}

/// A `finally` block running on its error path (between `FinallyEnter`
/// and `Rethrow`). When the error was the running task's cancellation, the
/// cancellation flag and token are moved out of the VM here, so the
/// block's calls and loops are not interrupted; they are put back when
/// the block ends, or when an error leaves it.
struct Shield {
    /// Index of the frame running the block.
    frame: u32,
    /// Handlers installed when the block started: a handler at a lower
    /// index catching an error means the error left the block.
    handlers: u32,
    /// What was moved out of the VM, if the block is shielded.
    saved: Option<(Option<Arc<AtomicBool>>, Option<crate::pool::CancelToken>)>,
}

impl Default for Vm {
    fn default() -> Self {
        Vm::new()
    }
}

impl std::fmt::Debug for Vm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<vm: {} frames>", self.frames.len())
    }
}

thread_local! {
    /// This thread's idle VMs: [`with_vm`] takes one (or makes one) and
    /// puts it back, so a pool worker reuses its VMs from task to task, also
    /// for tasks it runs nested (help-first, while it awaits).
    /// Boxed, so taking one and putting it back moves a pointer, not the
    /// whole state (a parked task's resumption does it on every wake).
    #[allow(clippy::vec_box)] // Boxed on purpose: see above.
    static THREAD_VMS: RefCell<Vec<Box<Vm>>> = const { RefCell::new(Vec::new()) };
}

/// A position in running code, cheap to keep (formatted only when a trace
/// needs it): see [`Vm::call_site`].
#[derive(Clone, Copy, Debug)]
pub struct CallSite {
    proto: &'static Proto,
    pc: u32,
}

impl CallSite {
    /// A trace frame for this position, named `name`:
    /// `at NAME (file:line:col)`.
    pub fn frame(&self, name: &str) -> String {
        format!("at {name} ({})", self.location())
    }

    /// The position as `file:line:col`.
    pub fn location(&self) -> String {
        let pos = self.proto.pos_at((self.pc as usize).saturating_sub(1));
        format!("{}:{}:{}", self.proto.file, pos.line, pos.col)
    }
}

/// Idle VMs kept per thread, at most.
const MAX_IDLE_VMS: usize = 8;

/// Runs `f` with one of this thread's VMs. The VM is this thread's alone
/// while `f` runs; code further up the Rust stack that also runs in
/// `with_vm` has another one (a native should use the `&mut Vm` it was
/// given instead). If `f` panics the VM is dropped, not reused.
pub fn with_vm<R>(f: impl FnOnce(&mut Vm) -> R) -> R {
    let mut vm = take_thread_vm();
    let r = f(&mut vm);
    give_back_vm(vm);
    r
}

/// One of this thread's idle VMs (or a new one), for code that keeps it
/// longer than a [`with_vm`] call: a task that parks holding its VM
/// (`park::HeldVm`). Hand it back with [`give_back_vm`].
#[inline]
pub(crate) fn take_thread_vm() -> Box<Vm> {
    THREAD_VMS
        .try_with(|vms| vms.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Puts `vm` back among this thread's idle VMs if it is idle (no frames,
/// not parked) and there is room; drops it otherwise.
#[inline]
pub(crate) fn give_back_vm(mut vm: Box<Vm>) {
    if vm.frames.is_empty() && vm.reentry == 0 && !vm.is_parked() {
        vm.cancel = None;
        vm.token = None;
        let _ = THREAD_VMS.try_with(|vms| {
            let mut vms = vms.borrow_mut();
            if vms.len() < MAX_IDLE_VMS {
                vms.push(vm);
            }
        });
    }
}

/// Calls any callable value on the current thread, with this thread's VM.
pub fn call_value(f: &Value, args: &[Value]) -> Result<Value> {
    with_vm(|vm| vm.call(f, args))
}

#[cold]
fn not_callable(v: &Value) -> Error {
    Error::type_error(format!("{} is not callable", article(v.type_name())))
}

fn article(t: &str) -> String {
    match t.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => format!("an {t}"),
        _ => format!("a {t}"),
    }
}

#[cold]
fn arity_error(p: &Proto, given: usize) -> Error {
    let n = p.nparams as usize;
    let min = p.min_params();
    let name = p.name.as_deref().unwrap_or("<fn>");
    let takes = if min == n {
        format!("{n} argument{}", if n == 1 { "" } else { "s" })
    } else if min + 1 == n {
        format!("{min} or {n} arguments")
    } else {
        format!("{min} to {n} arguments")
    };
    Error::type_error(format!(
        "{name}() takes {takes} but {given} {} given",
        if given == 1 { "was" } else { "were" }
    ))
}

/// Where a call of `p` with `argc` arguments (not `nparams`) starts: the
/// code that evaluates the left-out defaults; an arity error when `argc`
/// is out of range.
#[cold]
#[inline(never)]
fn default_entry(p: &Proto, argc: usize) -> Result<usize> {
    p.entry_for(argc).ok_or_else(|| arity_error(p, argc))
}

#[cold]
fn cancelled() -> Error {
    Error::cancelled()
}

#[cold]
fn stack_overflow(limit: usize) -> Error {
    Error::new(
        ErrorKind::StackOverflow,
        format!("maximum recursion depth exceeded ({limit} frames)"),
    )
}

#[cold]
fn unset_global(p: &Proto, slot: u16) -> Error {
    let name = p.env.names.get(slot as usize).map(|n| &**n).unwrap_or("?");
    Error::new(
        ErrorKind::NameError,
        format!("module variable '{name}' is used before its `let` ran"),
    )
}

#[cold]
#[inline(never)]
fn binary_slow(op: BinOp, a: &Value, b: &Value) -> Result<Value> {
    ops::binary(op, a, b)
}

/// The result of an int/float fast path: a scalar kept in machine
/// registers (a `Value` returned through memory costs a store-forwarding
/// stall when it is then copied as 16 bytes), written to a register by
/// [`set_num`].
#[derive(Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
    B(bool),
}

/// Int and float fast paths of the binary operators; `None` means "ask
/// [`ops::binary`]" (other types, overflow, division by zero...).
#[inline(always)]
fn binary_fast(op: BinOp, a: &Value, b: &Value) -> Option<Num> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => int_fast(op, *x, *y),
        // Mixed int/float arithmetic is float arithmetic (comparisons,
        // which must be exact, are left to `ops`).
        (Value::Int(x), Value::Float(y)) => float_arith(op, *x as f64, *y),
        (Value::Float(x), Value::Int(y)) => float_arith(op, *x, *y as f64),
        (Value::Float(x), Value::Float(y)) => {
            let (x, y) = (*x, *y);
            match op {
                BinOp::Add => Some(Num::F(x + y)),
                BinOp::Sub => Some(Num::F(x - y)),
                BinOp::Mul => Some(Num::F(x * y)),
                BinOp::Div if y != 0.0 => Some(Num::F(x / y)),
                BinOp::Lt => Some(Num::B(x < y)),
                BinOp::Le => Some(Num::B(x <= y)),
                BinOp::Gt => Some(Num::B(x > y)),
                BinOp::Ge => Some(Num::B(x >= y)),
                BinOp::Eq => Some(Num::B(x == y)),
                BinOp::Ne => Some(Num::B(x != y)),
                _ => None,
            }
        }
        _ => match op {
            BinOp::Eq => Some(Num::B(a == b)),
            BinOp::Ne => Some(Num::B(a != b)),
            _ => None,
        },
    }
}

/// `x op y` for the float arithmetic operators.
#[inline(always)]
fn float_arith(op: BinOp, x: f64, y: f64) -> Option<Num> {
    match op {
        BinOp::Add => Some(Num::F(x + y)),
        BinOp::Sub => Some(Num::F(x - y)),
        BinOp::Mul => Some(Num::F(x * y)),
        BinOp::Div if y != 0.0 => Some(Num::F(x / y)),
        _ => None,
    }
}

/// [`binary_fast`] for two ints.
#[inline(always)]
fn int_fast(op: BinOp, x: i64, y: i64) -> Option<Num> {
    const EXACT: i64 = 1 << 53;
    match op {
        BinOp::Add => x.checked_add(y).map(Num::I),
        BinOp::Sub => x.checked_sub(y).map(Num::I),
        BinOp::Mul => x.checked_mul(y).map(Num::I),
        BinOp::Lt => Some(Num::B(x < y)),
        BinOp::Le => Some(Num::B(x <= y)),
        BinOp::Gt => Some(Num::B(x > y)),
        BinOp::Ge => Some(Num::B(x >= y)),
        BinOp::Eq => Some(Num::B(x == y)),
        BinOp::Ne => Some(Num::B(x != y)),
        BinOp::FloorDiv if y != 0 => {
            let q = x.checked_div(y)?;
            Some(Num::I(if (x % y != 0) && ((x < 0) != (y < 0)) {
                q - 1
            } else {
                q
            }))
        }
        BinOp::Mod if y != 0 => {
            let r = x.checked_rem(y)?;
            Some(Num::I(if r != 0 && ((r < 0) != (y < 0)) {
                r + y
            } else {
                r
            }))
        }
        BinOp::Div if y != 0 && x.abs() < EXACT && y.abs() < EXACT => {
            Some(Num::F(x as f64 / y as f64))
        }
        _ => None,
    }
}

/// Writes a fast-path result into a register.
#[inline(always)]
fn set_num(slot: &mut Value, n: Num) {
    match n {
        Num::I(i) => set_int(slot, i),
        Num::F(x) => set_float(slot, x),
        Num::B(b) => set_reg(slot, Value::Bool(b)),
    }
}

/// `a op b` for a comparison `op`, as a Rust bool.
#[inline(always)]
fn compare(op: BinOp, a: &Value, b: &Value) -> Result<bool> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Ok(match op {
            BinOp::Lt => x < y,
            BinOp::Le => x <= y,
            BinOp::Gt => x > y,
            BinOp::Ge => x >= y,
            BinOp::Eq => x == y,
            _ => x != y,
        }),
        (Value::Float(x), Value::Float(y)) => Ok(match op {
            BinOp::Lt => x < y,
            BinOp::Le => x <= y,
            BinOp::Gt => x > y,
            BinOp::Ge => x >= y,
            BinOp::Eq => x == y,
            _ => x != y,
        }),
        // `x == nil` / `x != nil` (speed only: the usual end-of-structure
        // test, which the general path answers through `PartialEq`).
        (Value::Nil, y) | (y, Value::Nil) if matches!(op, BinOp::Eq | BinOp::Ne) => {
            Ok(matches!(y, Value::Nil) == matches!(op, BinOp::Eq))
        }
        _ => compare_slow(op, a, b),
    }
}

#[inline(never)]
fn compare_slow(op: BinOp, a: &Value, b: &Value) -> Result<bool> {
    match op {
        BinOp::Eq => Ok(a == b),
        BinOp::Ne => Ok(a != b),
        _ => match binary_fast(op, a, b) {
            Some(Num::B(t)) => Ok(t),
            Some(_) => Ok(true),
            None => ops::binary(op, a, b).map(|v| v.truthy()),
        },
    }
}

/// `R[a] op imm` for a comparison `op`.
#[inline(always)]
fn compare_imm(op: BinOp, a: &Value, imm: i16) -> Result<bool> {
    match a {
        Value::Int(x) => {
            let y = imm as i64;
            Ok(match op {
                BinOp::Lt => *x < y,
                BinOp::Le => *x <= y,
                BinOp::Gt => *x > y,
                BinOp::Ge => *x >= y,
                BinOp::Eq => *x == y,
                _ => *x != y,
            })
        }
        _ => compare_slow(op, a, &Value::Int(imm as i64)),
    }
}

fn resolve_index(i: i64, len: usize) -> Option<usize> {
    let j = if i < 0 { i.checked_add(len as i64)? } else { i };
    if j >= 0 && (j as usize) < len {
        Some(j as usize)
    } else {
        None
    }
}

enum Child {
    List(usize),
    Map(Key),
    Bad,
}

/// A mutable reference to `v[k]` (or `v.k`), copying `v` first if shared.
fn child_mut<'a>(v: &'a mut Value, k: &Value, is_field: bool) -> Result<&'a mut Value> {
    let which = match (&*v, k) {
        (Value::List(l), Value::Int(i)) => match resolve_index(*i, l.len()) {
            Some(j) => Child::List(j),
            None => Child::Bad,
        },
        (Value::Map(m), _) => match Key::new(k.clone()) {
            Ok(key) if m.contains_key(&key) => Child::Map(key),
            _ => Child::Bad,
        },
        _ => Child::Bad,
    };
    match (which, v) {
        (Child::List(j), Value::List(l)) => Ok(&mut l.make_mut()[j]),
        (Child::Map(key), Value::Map(m)) => match m.make_mut().get_mut(&key) {
            Some(x) => Ok(x),
            None => Err(ops::key_error(k)),
        },
        (_, v) => Err(path_error(v, k, is_field)),
    }
}

#[cold]
fn path_error(v: &Value, k: &Value, is_field: bool) -> Error {
    let r = match (is_field, k) {
        (true, Value::Str(name)) => ops::field_get(v, name),
        _ => ops::index_get(v, k),
    };
    match r {
        Err(e) => e,
        Ok(_) => Error::type_error(format!(
            "'{}' does not support item assignment",
            v.type_name()
        )),
    }
}

/// Walks `keys` from `root`, copying shared containers on the way.
fn path_mut<'a>(root: &'a mut Value, keys: &[Value], fields: u32) -> Result<&'a mut Value> {
    let mut v = root;
    for (i, k) in keys.iter().enumerate() {
        v = child_mut(v, k, fields & (1 << i) != 0)?;
    }
    Ok(v)
}

/// The final store of a `SetPath`.
fn path_set(
    root: &mut Value,
    keys: &[Value],
    fields: u32,
    op: Option<BinOp>,
    x: Value,
) -> Result<()> {
    match op {
        Some(op) => {
            let target = path_mut(root, keys, fields)?;
            if let (Value::Int(_) | Value::Float(_), Some(n)) =
                (&*target, binary_fast(op, target, &x))
            {
                set_num(target, n);
                return Ok(());
            }
            ops::binary_in_place(op, target, &x)
        }
        None => {
            let (last, init) = keys.split_last().expect("paths have at least one key");
            let parent = path_mut(root, init, fields)?;
            let is_field = fields & (1 << init.len()) != 0;
            match (is_field, last) {
                (true, Value::Str(name)) => ops::field_set(parent, name, x),
                _ => ops::index_set(parent, last, x),
            }
        }
    }
}

/// An item read by a fast indexing path, copied out of the container so
/// the register file can be written next: scalars stay in machine
/// registers (see [`Num`]).
enum Fetched {
    I(i64),
    F(f64),
    V(Value),
}

/// `v[i]` for a list and an in-range int (negative from the end), or
/// `None` for everything the general path handles (and reports).
#[inline(always)]
fn list_item(v: &Value, i: i64) -> Option<&Value> {
    match v {
        Value::List(l) => l.get(resolve_index(i, l.len())?),
        _ => None,
    }
}

/// `v[k]` when `k` is an int.
#[inline(always)]
fn list_item_at<'a>(v: &'a Value, k: &Value) -> Option<&'a Value> {
    match k {
        Value::Int(i) => list_item(v, *i),
        _ => None,
    }
}

#[inline(always)]
fn fetch(v: &Value) -> Fetched {
    match v {
        Value::Int(i) => Fetched::I(*i),
        Value::Float(x) => Fetched::F(*x),
        other => Fetched::V(clone_hot(other)),
    }
}

/// `v.clone()`, with the payloads that index reads and argument moves copy
/// most (nil, lists, strings) handled inline (speed only: the derived
/// `Value::clone` is an out-of-line call through a jump table).
#[inline(always)]
fn clone_hot(v: &Value) -> Value {
    match v {
        Value::Nil => Value::Nil,
        Value::List(l) => Value::List(l.clone()),
        Value::Str(s) => Value::Str(s.clone()),
        other => other.clone(),
    }
}

/// Writes a fetched item into a register.
#[inline(always)]
fn set_fetched(slot: &mut Value, f: Fetched) {
    match f {
        Fetched::I(i) => set_int(slot, i),
        Fetched::F(x) => set_float(slot, x),
        Fetched::V(v) => set_reg(slot, v),
    }
}

/// `o[k1][k2]` through the general path (errors, maps, strings, ranges).
#[cold]
#[inline(never)]
fn index2_slow(o: &Value, k1: &Value, k2: &Value) -> Result<Value> {
    let inner = ops::index_get(o, k1)?;
    ops::index_get(&inner, k2)
}

/// The item `root[i][j]` of a list of lists, to change in place (each
/// level copied first if shared), or `None` for anything else.
#[inline(always)]
fn list_item2_mut(root: &mut Value, i: i64, j: i64) -> Option<&mut Value> {
    let inner = match root {
        Value::List(l) => {
            let at = resolve_index(i, l.len())?;
            match &l[at] {
                Value::List(inner) => resolve_index(j, inner.len())?,
                _ => return None,
            };
            &mut l.make_mut()[at]
        }
        _ => return None,
    };
    match inner {
        Value::List(l) => {
            let at = resolve_index(j, l.len())?;
            Some(&mut l.make_mut()[at])
        }
        _ => None,
    }
}

fn is_value_type(v: &Value) -> bool {
    matches!(v, Value::List(_) | Value::Map(_) | Value::Str(_))
}

/// The fields of a module from the exports map its body returned.
fn module_from_exports(name: &str, exports: Value) -> Value {
    let fields = match exports {
        Value::Map(m) => m.into_map(),
        _ => Map::default(),
    };
    // A module lives as long as the process: its fields are immortal, so
    // workers reading them do not contend on their reference counts.
    for v in fields.values() {
        v.make_immortal();
    }
    Value::Module(Arc::new(Module {
        name: name.to_string(),
        fields,
    }))
}

/// The index in `code` of the instruction `ip` points at (or would point
/// at: one past the end is allowed). Address arithmetic only.
#[inline(always)]
fn pc_of(code: &[Instr], ip: *const Instr) -> usize {
    (ip as usize).wrapping_sub(code.as_ptr() as usize) / mem::size_of::<Instr>()
}

/// Whether `v` is a scalar: no destructor, nothing shared.
#[inline(always)]
fn is_scalar(v: &Value) -> bool {
    matches!(
        v,
        Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_)
    )
}

/// Clears a register of a popped frame (scalars need no destructor and
/// keep nothing shared, so they are left as they are).
#[inline(always)]
fn clear_slot(v: &mut Value) {
    if !is_scalar(v) {
        *v = Value::Nil;
    }
}

/// Writes `v` into a register. When the register holds a scalar (the
/// common case in arithmetic loops) the old value needs no destructor, so
/// none is called.
#[inline(always)]
fn set_reg(slot: &mut Value, v: Value) {
    if matches!(
        slot,
        Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_)
    ) {
        mem::forget(mem::replace(slot, v));
    } else {
        *slot = v;
    }
}

#[cold]
fn missing_closure() -> Error {
    Error::type_error("internal: the running closure is missing")
}

/// A copy of `v`: scalars inline, without the out-of-line `clone` call.
#[inline(always)]
fn dup(v: &Value) -> Value {
    match *v {
        Value::Int(i) => Value::Int(i),
        Value::Float(x) => Value::Float(x),
        _ => v.clone(),
    }
}

/// Copies `v` into a register, scalars with a plain store.
#[inline(always)]
fn set_from(slot: &mut Value, v: &Value) {
    match *v {
        Value::Int(i) => set_int(slot, i),
        Value::Float(x) => set_float(slot, x),
        _ => set_reg(slot, clone_hot(v)),
    }
}

/// Writes an int into a register (a single store when it already holds one).
#[inline(always)]
fn set_int(slot: &mut Value, x: i64) {
    if let Value::Int(r) = slot {
        *r = x;
    } else {
        set_reg(slot, Value::Int(x));
    }
}

/// Writes a float into a register.
#[inline(always)]
fn set_float(slot: &mut Value, x: f64) {
    if let Value::Float(r) = slot {
        *r = x;
    } else {
        set_reg(slot, Value::Float(x));
    }
}

/// The parts of a destructured value (see [`Instr::Unpack`]).
#[cold]
#[inline(never)]
fn unpack(v: &Value, before: usize, after: usize, rest: bool) -> Result<Vec<Value>> {
    let len = match v {
        Value::List(l) => l.len(),
        Value::Range(r) => usize::try_from(r.len()).unwrap_or(usize::MAX),
        Value::Str(s) => s.chars().count(),
        other => {
            let hint = match other {
                Value::Map(_) => " (use m.items() for its [key, value] pairs)",
                _ => "",
            };
            return Err(Error::type_error(format!(
                "cannot destructure {}: only a list, range or string can be taken apart{hint}",
                article(other.type_name())
            )));
        }
    };
    let want = before + after;
    if (!rest && len != want) || (rest && len < want) {
        let plural = |n: usize| if n == 1 { "item" } else { "items" };
        return Err(Error::value_error(format!(
            "cannot destructure a {} of {len} {} into {}{want} {}",
            v.type_name(),
            plural(len),
            if rest { "at least " } else { "" },
            if want == 1 { "name" } else { "names" }
        )));
    }
    let item = |i: usize| -> Value {
        match v {
            Value::List(l) => l[i].clone(),
            Value::Range(r) => Value::Int(r.get(i as i64)),
            _ => Value::Nil,
        }
    };
    let mut out = Vec::with_capacity(want + usize::from(rest));
    if let Value::Str(s) = v {
        let chars: Vec<Value> = s.chars().map(|c| Value::str(c.to_string())).collect();
        out.extend(chars[..before].iter().cloned());
        if rest {
            out.push(Value::list(chars[before..len - after].to_vec()));
        }
        out.extend(chars[len - after..].iter().cloned());
        return Ok(out);
    }
    out.extend((0..before).map(item));
    if rest {
        let mut middle = ops::try_vec(len - want)?;
        middle.extend((before..len - after).map(item));
        out.push(Value::list(middle));
    }
    out.extend((len - after..len).map(item));
    Ok(out)
}

impl Vm {
    /// A VM with empty stacks and the default depth limit.
    pub fn new() -> Vm {
        let mut stack = Vec::with_capacity(1024);
        stack.resize(256, Value::Nil);
        Vm {
            stack,
            frames: Vec::with_capacity(64),
            handlers: Vec::new(),
            reentry: 0,
            max_depth: DEFAULT_MAX_DEPTH,
            cancel: None,
            token: None,
            owned_arg: None,
            park: park::ParkState::default(),
            shields: Vec::new(),
            rethrowing: false,
            rng: None,
            bodies: body::Bodies::default(),
        }
    }

    /// The seeded random stream of the code running on this VM, if
    /// `random_seed` was called (see `stdlib/random.rs`).
    pub fn rng_mut(&mut self) -> Option<&mut stdlib::random::Stream> {
        self.rng.as_mut()
    }

    /// Installs (or removes) the seeded random stream; returns the previous
    /// one. A task's body gets its stream this way before it starts.
    pub fn set_rng(
        &mut self,
        rng: Option<stdlib::random::Stream>,
    ) -> Option<stdlib::random::Stream> {
        mem::replace(&mut self.rng, rng)
    }

    /// The stream of a task spawned now by the code on this VM (counted),
    /// or `None` when unseeded.
    pub fn fork_rng(&mut self) -> Option<stdlib::random::Stream> {
        self.rng.as_mut().map(stdlib::random::Stream::fork)
    }

    /// Sets the limit on nested calls (Weft frames plus native re-entries)
    /// beyond which a call throws `StackOverflow`.
    pub fn set_max_depth(&mut self, depth: usize) {
        self.max_depth = depth.max(1);
    }

    /// The current limit on nested calls.
    pub fn max_depth(&self) -> usize {
        self.max_depth
    }

    /// Installs (or removes) a cancellation flag: while it is set, the VM
    /// throws `Cancelled` at the next call or loop back-edge. Returns the
    /// previous flag.
    pub fn set_cancel_flag(&mut self, flag: Option<Arc<AtomicBool>>) -> Option<Arc<AtomicBool>> {
        let old = mem::replace(&mut self.cancel, flag);
        self.note_cancel();
        old
    }

    /// How many calls are active on this VM (Weft frames plus native
    /// re-entries).
    pub fn depth(&self) -> usize {
        self.frames.len() + self.reentry + self.park.depth_base
    }

    /// Installs (or removes) a task's cancellation token: once it is
    /// cancelled, the VM throws `Cancelled` at the next call or loop
    /// back-edge. Returns the previous token.
    pub fn set_cancel_token(
        &mut self,
        token: Option<crate::pool::CancelToken>,
    ) -> Option<crate::pool::CancelToken> {
        let old = mem::replace(&mut self.token, token);
        self.note_cancel();
        old
    }

    /// The installed cancellation token, if any.
    pub fn cancel_token(&self) -> Option<&crate::pool::CancelToken> {
        self.token.as_ref()
    }

    #[inline(always)]
    fn is_cancelled(&self) -> bool {
        if let Some(t) = &self.token {
            if t.is_cancelled() {
                return true;
            }
        }
        match &self.cancel {
            Some(c) => c.load(Ordering::Relaxed),
            None => false,
        }
    }

    /// Where the innermost running Weft function is: for a native, the
    /// position of its own call. `None` when no Weft code runs on this VM.
    pub fn call_site(&self) -> Option<CallSite> {
        let f = self.frames.last()?;
        Some(CallSite {
            proto: f.proto,
            pc: f.pc,
        })
    }

    /// Calls any callable value (a Weft closure or a native) with `args` on
    /// this thread. Safe to use from natives (re-entry).
    pub fn call(&mut self, f: &Value, args: &[Value]) -> Result<Value> {
        if self.is_cancelled() {
            return Err(cancelled());
        }
        match f {
            Value::Func(c) => {
                let start = if args.len() == c.proto.nparams as usize {
                    0
                } else {
                    // Parameters with default values may be left out.
                    match c.proto.entry_for(args.len()) {
                        Some(pc) => pc,
                        None => return Err(arity_error(c.proto, args.len())),
                    }
                };
                self.enter(c.proto, Some(c), args, start)
            }
            Value::Native(n) => {
                if self.depth() >= self.max_depth {
                    return Err(stack_overflow(self.max_depth + self.park.depth_base));
                }
                self.reentry += 1;
                let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || (n.f)(self, args));
                self.reentry -= 1;
                r
            }
            other => Err(not_callable(other)),
        }
    }

    /// Runs a file's top-level code (compiled by [`crate::compiler`]) and
    /// returns what it returns (the exports map, or for a REPL input the
    /// value of its last expression).
    pub fn run_main(&mut self, main: &'static Proto) -> Result<Value> {
        self.enter(main, None, &[], 0)
    }

    /// Pushes an entry frame for `proto` above everything in use and runs
    /// it to completion.
    fn enter(
        &mut self,
        proto: &'static Proto,
        callee: Option<&Arc<Closure>>,
        args: &[Value],
        start: usize,
    ) -> Result<Value> {
        if self.depth() >= self.max_depth {
            return Err(stack_overflow(self.max_depth + self.park.depth_base));
        }
        self.reentry += 1;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || {
            self.push_entry_frame(proto, callee, args, start);
            let entry = self.frames.len() - 1;
            self.run(entry)
        });
        self.reentry -= 1;
        r
    }

    /// Pushes an entry frame for `proto` above the running frame (the
    /// callee in the register below its window when it needs itself, the
    /// arguments in its first registers), starting at `start`. Unwinding
    /// and returns stop at an entry frame.
    fn push_entry_frame(
        &mut self,
        proto: &'static Proto,
        callee: Option<&Arc<Closure>>,
        args: &[Value],
        start: usize,
    ) {
        let base = self.top() + 1;
        self.ensure_stack(base + proto.nregs);
        if let (Some(c), true) = (callee, proto.needs_callee) {
            self.stack[base - 1] = Value::Func(c.clone());
        }
        for (i, a) in args.iter().enumerate() {
            self.stack[base + i] = a.clone();
        }
        self.frames.push(Frame {
            proto,
            pc: start as u32,
            base: base as u32,
            ret: 0,
            entry: true,
        });
    }

    /// The first register above the running frame's window.
    fn top(&self) -> usize {
        self.frames
            .last()
            .map_or(0, |f| f.base as usize + f.proto.nregs)
    }

    /// Makes the stack hold at least `n` slots, plus [`REG_WINDOW`] more
    /// so that the register window of a frame whose registers end at `n`
    /// (or below) is always in bounds.
    #[inline]
    fn ensure_stack(&mut self, n: usize) {
        if self.stack.len() < n + REG_WINDOW {
            self.grow_stack(n + REG_WINDOW);
        }
    }

    #[cold]
    fn grow_stack(&mut self, n: usize) {
        let new_len = n.max(self.stack.len() * 2);
        self.stack.resize(new_len, Value::Nil);
    }

    /// Clears the window of a frame being popped: its callee register and
    /// its registers.
    #[inline(always)]
    fn clear_window(&mut self, f: &Frame) {
        let lo = f.base as usize - 1;
        // A small window (speed only: most functions have a few
        // registers, and this runs on every return): a fixed run of
        // `SMALL_WINDOW` slots, unrolled, with no loop counting. The slots
        // above the window are dead (nothing lives above the frame being
        // popped, and a popped frame's slots were cleared), so looking at
        // them too changes nothing.
        if f.proto.nregs < SMALL_WINDOW {
            // One compare (`lo + SMALL_WINDOW <= len`, which `ensure_stack`
            // keeps true): the range's length is known, so the conversion
            // to an array checks nothing more.
            if let Some(w) = self
                .stack
                .get_mut(lo..lo + SMALL_WINDOW)
                .and_then(|w| <&mut [Value; SMALL_WINDOW]>::try_from(w).ok())
            {
                // One branch for the whole window (speed only): windows of
                // scalars, the common case, are left as they are after
                // eight compares whose results are or-ed, not eight
                // branches.
                let shared = w.iter().fold(false, |any, v| any | !is_scalar(v));
                if shared {
                    for v in w {
                        clear_slot(v);
                    }
                }
                return;
            }
        }
        self.clear_large_window(f);
    }

    #[inline(never)]
    fn clear_large_window(&mut self, f: &Frame) {
        let lo = f.base as usize - 1;
        let hi = (f.base as usize + f.proto.nregs).min(self.stack.len());
        // Two slots per step (speed only): for a window of scalars the
        // loop's own counting was half of the work.
        let mut pairs = self.stack[lo..hi].chunks_exact_mut(2);
        for p in &mut pairs {
            clear_slot(&mut p[0]);
            clear_slot(&mut p[1]);
        }
        for v in pairs.into_remainder() {
            clear_slot(v);
        }
    }

    /// Calls a native with `argc` arguments moved out of `R[at..]`, in an
    /// array of exactly `argc` values (speed only: a fixed `[Value; 4]`
    /// ran the drop of all four slots after every call, about 100
    /// instructions for a one-argument native such as `str(x)`).
    #[inline]
    fn call_native(&mut self, n: &'static NativeFn, at: usize, argc: usize) -> Result<Value> {
        match argc {
            0 => (n.f)(self, &[]),
            1 => {
                let args = self.take_array::<1>(at);
                (n.f)(self, &args)
            }
            2 => {
                let args = self.take_array::<2>(at);
                (n.f)(self, &args)
            }
            3 => {
                let args = self.take_array::<3>(at);
                (n.f)(self, &args)
            }
            4 => {
                let args = self.take_array::<4>(at);
                (n.f)(self, &args)
            }
            _ => {
                let args = self.take_vec(at, argc);
                (n.f)(self, &args)
            }
        }
    }

    /// Moves `N` values out of `R[at..]` into an array.
    #[inline(always)]
    fn take_array<const N: usize>(&mut self, at: usize) -> [Value; N] {
        std::array::from_fn(|i| mem::take(&mut self.stack[at + i]))
    }

    /// Moves `n` values out of `R[at..]` into a vector.
    fn take_vec(&mut self, at: usize, n: usize) -> Vec<Value> {
        (0..n).map(|i| mem::take(&mut self.stack[at + i])).collect()
    }

    /// Moves `n` values (arguments, path keys) out of `R[at..]`, without a
    /// heap allocation when there are few.
    #[inline]
    fn take_args(&mut self, at: usize, n: usize) -> Taken {
        if n <= INLINE_ARGS {
            let mut buf: [Value; INLINE_ARGS] = Default::default();
            for (i, slot) in buf.iter_mut().enumerate().take(n) {
                *slot = mem::take(&mut self.stack[at + i]);
            }
            Taken::Inline(buf, n)
        } else {
            Taken::Heap(self.take_vec(at, n))
        }
    }

    /// Builds the closure value of `sibling` sharing `me`'s captures.
    fn sibling(me: &Closure, idx: u16) -> Result<Value> {
        let group = me
            .proto
            .siblings
            .get()
            .ok_or_else(|| Error::type_error("internal: missing hoisting group"))?;
        let proto = group
            .get(idx as usize)
            .copied()
            .ok_or_else(|| Error::type_error("internal: bad sibling index"))?;
        Ok(Value::Func(Arc::new(Closure {
            proto,
            captures: me.captures.clone(),
        })))
    }

    fn running_closure(&self, base: usize) -> Result<&Closure> {
        match &self.stack[base - 1] {
            Value::Func(c) => Ok(c),
            _ => Err(missing_closure()),
        }
    }

    /// Runs a module's body once per process and returns the module value.
    fn import(&mut self, unit: &'static ModuleUnit) -> Result<Value> {
        if let Some(r) = unit.value.get() {
            return r.clone();
        }
        let r = unit.value.get_or_init(|| {
            self.run_main(unit.main)
                .map(|v| module_from_exports(&unit.name, v))
        });
        r.clone()
    }

    /// Unwinds after `err`: appends a trace line per frame, stops at the
    /// innermost handler (returning `Ok`, ready to resume) or pops the
    /// entry frame `entry` and returns the error.
    #[cold]
    #[inline(never)]
    fn unwind(&mut self, mut err: Error, entry: usize) -> Result<(), Error> {
        if err.kind() == ErrorKind::Cancelled {
            self.deliver_interrupt(&mut err);
        }
        // A rethrow from a `finally` block: this frame is in the trace.
        let mut traced = mem::take(&mut self.rethrowing);
        loop {
            let fi = self.frames.len() - 1;
            let f = self.frames[fi];
            if !traced {
                let pos = f.proto.pos_at((f.pc as usize).saturating_sub(1));
                err.push_trace(format!(
                    "at {} ({}:{}:{})",
                    f.proto.display_name(),
                    f.proto.file,
                    pos.line,
                    pos.col
                ));
            }
            traced = false;
            if let Some(h) = self.handlers.last().copied() {
                if h.frame as usize == fi {
                    self.handlers.pop();
                    if !self.shields.is_empty() {
                        self.lift_shields(fi, self.handlers.len());
                    }
                    self.frames[fi].pc = h.pc;
                    self.stack[h.reg as usize] = err.into_value();
                    return Ok(());
                }
            }
            if self.owned_arg.is_some() {
                self.keep_owned_arg(fi, f.base);
            }
            self.clear_window(&f);
            self.frames.pop();
            // An entry frame above `entry` is a body's (`vm/body.rs`).
            if fi == entry || f.entry {
                if !self.shields.is_empty() {
                    self.lift_shields(fi, 0);
                }
                return Err(err);
            }
        }
    }

    /// An error is caught by handler number `handler` of frame `frame` (or
    /// leaves frame `frame` when `handler` is 0 and the frame is gone):
    /// ends the shields of the `finally` blocks it left.
    #[cold]
    fn lift_shields(&mut self, frame: usize, handler: usize) {
        while let Some(s) = self.shields.last() {
            let left = s.frame as usize > frame
                || (s.frame as usize == frame && s.handlers as usize > handler)
                || (s.frame as usize == frame && handler == 0 && self.frames.len() <= frame);
            if !left {
                break;
            }
            let s = self.shields.pop().expect("checked above");
            self.restore_shield(s);
        }
    }

    fn restore_shield(&mut self, s: Shield) {
        if let Some((cancel, token)) = s.saved {
            self.cancel = cancel;
            self.token = token;
            self.note_cancel();
        }
    }

    /// The dispatch loop. Runs until the entry frame (index `entry`)
    /// returns, or a body's frame above it ends (`vm/body.rs`, whose
    /// `run` wraps this).
    fn run_loop(&mut self, entry: usize) -> Result<Value> {
        let top = *self.frames.last().expect("run starts with a frame");
        let mut proto: &'static Proto = top.proto;
        let mut code: &'static [Instr] = &proto.code;
        // The next instruction, as a pointer into `code` (speed only: the
        // dispatch reads through it without a bounds check and without
        // reloading `code`). Invariant, what makes the read in the
        // dispatch sound: `ip` points at an instruction of `code` whenever
        // an instruction is read through it. It is set only
        // - from a bounds-checked reference into `code` (`&code[pc]`), or
        //   to `code.as_ptr()` (instruction 0: a `Code` is never empty);
        // - one past an instruction that falls through, which is never the
        //   last one (`Code::new` checks that the last instruction ends the
        //   flow: return, throw, jump);
        // - by a jump's offset, whose target `Code::new` checked to be in
        //   `code` (`Instr::jump_offset` lists every instruction that jumps
        //   here with `jump!`).
        // `code` is a `&'static Code`: it never moves nor is freed, and it
        // changes only together with `ip` (calls, returns, `reload!`).
        let mut ip: *const Instr = &code[top.pc as usize];
        let mut base = top.base as usize;
        // The running frame's register window: a pointer to `R[0]`, i.e.
        // `self.stack[base]` (speed only: the hot instructions reach their
        // registers through it with neither a bounds check nor a load of
        // `self.stack`, and keep it in a machine register). Invariant, what
        // makes every read and write through it (`r!`, `rm!`, `r1m!`,
        // `win!`) sound:
        // - `regs == self.stack.as_mut_ptr() + base` and `base + REG_WINDOW
        //   <= self.stack.len()`: `refresh!` checks the length (growing
        //   the stack if needed) and derives the pointer; `rederive!` does
        //   the same right after `ensure_stack` made room;
        // - the stack's buffer has not moved, and no other reference to it
        //   has been used, since: an instruction that does anything else
        //   with `self.stack` or calls anything that could grow or replace
        //   it (natives, methods, `cold`, `unwind`, calls and returns)
        //   either re-derives `regs` itself before it next uses it, or
        //   falls through to the `refresh!` at the bottom of the dispatch
        //   loop. Only the instructions that end with `continue` skip that
        //   refresh: each one touches the stack through `regs` alone, or
        //   re-derives it (`enter_closure!`, `call_reg!`, `Return`).
        // `Vec::as_mut_ptr` creates no reference to the buffer, so deriving
        // the pointer again does not invalidate it either.
        let mut regs: *mut Value;

        // `R[i]` through the stack (bounds-checked), for the instructions
        // that also call into the VM.
        macro_rules! reg {
            ($i:expr) => {
                self.stack[base + ($i as usize)]
            };
        }
        // Re-establishes `regs`' invariant after the stack may have grown
        // or `base` changed.
        macro_rules! refresh {
            () => {{
                self.ensure_stack(base);
                regs = self.stack.as_mut_ptr().wrapping_add(base);
            }};
        }
        // `refresh!` right after an `ensure_stack(n)` with `n >= base`,
        // which already made the room.
        macro_rules! rederive {
            () => {{
                regs = self.stack.as_mut_ptr().wrapping_add(base);
            }};
        }
        // `&R[i]` through `regs`. `i` is a `u8`, so below `REG_WINDOW`.
        macro_rules! r {
            ($i:expr) => {{
                let i: u8 = $i;
                // SAFETY: `regs` points at `base + REG_WINDOW <=
                // self.stack.len()` initialised slots of the stack's
                // buffer, unmoved and not otherwise borrowed since it was
                // derived (the invariant where `regs` is declared); `i <
                // REG_WINDOW`.
                unsafe { &*regs.add(i as usize) }
            }};
        }
        // `&mut R[i]` through `regs`.
        macro_rules! rm {
            ($i:expr) => {{
                let i: u8 = $i;
                // SAFETY: as in `r!`; as with the bounds-checked `reg!`
                // these replace, no other reference into the window is
                // used while this one lives.
                unsafe { &mut *regs.add(i as usize) }
            }};
        }
        // `&mut R[i + 1]` through `regs` (a call's first argument).
        macro_rules! r1m {
            ($i:expr) => {{
                let i: u8 = $i;
                // SAFETY: as in `rm!`; `i + 1 <= FRAME_WINDOW <
                // REG_WINDOW`.
                unsafe { &mut *regs.add(i as usize + 1) }
            }};
        }
        // The running frame's registers as a fixed-size array (speed
        // only): a `u8` register index needs no bounds check. One per
        // instruction at most, not used after anything that may touch the
        // stack (the borrow checker cannot see that: it is checked by
        // reading, see the invariant of `regs`).
        macro_rules! win {
            () => {{
                // SAFETY: `regs` points at `REG_WINDOW >= FRAME_WINDOW`
                // initialised slots, unmoved and not otherwise borrowed
                // since it was derived (the invariant where `regs` is
                // declared); the array reference is the only one into the
                // window while it lives.
                unsafe { &mut *regs.cast::<[Value; FRAME_WINDOW]>() }
            }};
        }
        // The index of the next instruction (what frames keep).
        macro_rules! pc {
            () => {
                pc_of(code, ip)
            };
        }
        macro_rules! save_pc {
            () => {
                if let Some(f) = self.frames.last_mut() {
                    f.pc = pc!() as u32;
                }
            };
        }
        macro_rules! reload {
            () => {{
                let f = *self.frames.last().expect("a frame is running");
                proto = f.proto;
                code = &proto.code;
                ip = &code[f.pc as usize];
                base = f.base as usize;
            }};
        }
        // Jumps by an instruction's `off` (relative to the next
        // instruction). Only for instructions `Instr::jump_offset` lists,
        // whose targets `Code::new` checked.
        macro_rules! jump {
            ($off:expr) => {
                ip = ip.wrapping_offset($off as isize)
            };
        }

        refresh!();
        loop {
            let err: Error = 'dispatch: loop {
                macro_rules! tri {
                    ($e:expr) => {
                        match $e {
                            Ok(v) => v,
                            Err(e) => break 'dispatch e,
                        }
                    };
                }
                macro_rules! throw {
                    ($e:expr) => {
                        break 'dispatch $e
                    };
                }
                /// Pushes a frame for a closure whose arguments are in
                /// `R[f+1..]`.
                macro_rules! enter_closure {
                    ($callee:expr, $f:expr, $argc:expr, $dst:expr) => {{
                        let callee: &'static Proto = $callee;
                        // Where the callee starts: 0, or for left-out
                        // parameters with default values the code that
                        // fills them in (an arity error otherwise).
                        let mut start = 0;
                        if $argc as usize != callee.nparams as usize {
                            start = tri!(default_entry(callee, $argc as usize));
                        }
                        enter_closure!(@checked callee, start, $f, $dst);
                    }};
                    // The arity is known to match: `start` is where to begin.
                    (@checked $callee:expr, $start:expr, $f:expr, $dst:expr) => {{
                        let callee: &'static Proto = $callee;
                        let start: usize = $start;
                        if self.frames.len() + self.reentry >= self.max_depth {
                            throw!(stack_overflow(self.max_depth + self.park.depth_base));
                        }
                        if self.checkpoint() {
                            throw!(self.checkpoint_error());
                        }
                        let nb = base + $f as usize + 1;
                        self.ensure_stack(nb + callee.nregs);
                        if let Some(fr) = self.frames.last_mut() {
                            fr.pc = pc!() as u32;
                        }
                        self.frames.push(Frame {
                            proto: callee,
                            pc: 0,
                            base: nb as u32,
                            ret: (base + $dst as usize) as u32,
                            entry: false,
                        });
                        proto = callee;
                        code = &callee.code;
                        // Instruction 0 needs no bounds check: a `Code` is
                        // never empty.
                        ip = if start == 0 { code.as_ptr() } else { &code[start] };
                        base = nb;
                        // `ensure_stack(nb + nregs)` above made the room.
                        rederive!();
                    }};
                }
                /// Calls whatever is in `R[f]`.
                macro_rules! call_reg {
                    ($f:expr, $argc:expr, $dst:expr) => {{
                        let fv = base + $f as usize;
                        match &self.stack[fv] {
                            Value::Func(c) => {
                                let p: &'static Proto = c.proto;
                                enter_closure!(p, $f, $argc, $dst);
                            }
                            Value::Native(n) => {
                                let n: &'static NativeFn = n;
                                if self.is_cancelled() {
                                    throw!(cancelled());
                                }
                                save_pc!();
                                let r = self.call_native(n, fv + 1, $argc as usize);
                                self.note_cancel();
                                let v = tri!(r);
                                set_reg(&mut reg!($dst), v);
                                // The native may have grown the stack.
                                refresh!();
                            }
                            other => throw!(not_callable(other)),
                        }
                    }};
                }

                /// `R[dst] = R[a] - imm` (`SubI`, and the argument of
                /// `CallGlobalSubI`): ints (overflow goes to the slow path's
                /// error), floats, anything else through `binary_slow`.
                /// `$dst` is the destination register's `&mut`, written
                /// each time it is used (`rm!(d)` or `r1m!(f)`).
                macro_rules! sub_imm {
                    ($dst:expr, $a:expr, $imm:expr) => {{
                        let (a, imm) = ($a, $imm as i64);
                        match r!(a) {
                            Value::Int(x) => match x.checked_sub(imm) {
                                Some(s) => set_int($dst, s),
                                None => {
                                    let v = tri!(binary_slow(BinOp::Sub, r!(a), &Value::Int(imm)));
                                    set_reg($dst, v);
                                }
                            },
                            Value::Float(x) => {
                                let r = x - imm as f64;
                                set_float($dst, r);
                            }
                            x => {
                                let v = tri!(binary_slow(BinOp::Sub, x, &Value::Int(imm)));
                                set_reg($dst, v);
                            }
                        }
                    }};
                }

                /// Calls the module variable in `slot` with the arguments in
                /// `R[f+1..]` (`CallGlobal`).
                macro_rules! call_global {
                    ($dst:expr, $f:expr, $argc:expr, $slot:expr) => {{
                        let (dst, f, argc, slot): (Reg, Reg, u8, u16) = ($dst, $f, $argc, $slot);
                        // Inline cache (speed only): skips the chain of
                        // loads from the slot to the callee's prototype,
                        // and the arity check (a callee is cached only
                        // when this site passes exactly its parameters).
                        if let Some(callee) = proto.call_cache[pc!() - 1].get() {
                            enter_closure!(@checked callee, 0, f, dst);
                            continue;
                        }
                        match &*proto.env.slots[slot as usize] {
                            Slot::Once(c) => match c.get() {
                                Some(Value::Func(clo)) => {
                                    let callee: &'static Proto = clo.proto;
                                    if callee.needs_callee {
                                        set_reg(&mut reg!(f), Value::Func(clo.clone()));
                                    } else if argc as usize == callee.nparams as usize {
                                        // A closure that needs no callee
                                        // register is its prototype alone.
                                        let _ = proto.call_cache[pc!() - 1].set(callee);
                                    }
                                    enter_closure!(callee, f, argc, dst);
                                }
                                Some(v @ Value::Native(_)) => {
                                    set_reg(&mut reg!(f), v.clone());
                                    call_reg!(f, argc, dst);
                                }
                                Some(other) => throw!(not_callable(other)),
                                None => throw!(unset_global(proto, slot)),
                            },
                            Slot::Cell(m) => {
                                let v = m.lock().clone();
                                match v {
                                    Some(v) => {
                                        set_reg(&mut reg!(f), v);
                                        call_reg!(f, argc, dst);
                                    }
                                    None => throw!(unset_global(proto, slot)),
                                }
                            }
                        }
                    }};
                }

                // Matched through a reference (speed only): each arm loads
                // the fields it uses, instead of every field being decoded
                // from a copied word before the jump.
                // SAFETY: `ip` points at an instruction of `code`, which
                // lives forever: see the invariant where `ip` is declared.
                let ins: &'static Instr = unsafe { &*ip };
                ip = ip.wrapping_add(1);
                match *ins {
                    // The instructions that end with `continue` reach the
                    // stack through `regs` alone (see its invariant).
                    Instr::Nil { dst } => {
                        set_reg(rm!(dst), Value::Nil);
                        continue;
                    }
                    Instr::Bool { dst, val } => {
                        set_reg(rm!(dst), Value::Bool(val));
                        continue;
                    }
                    Instr::Int { dst, val } => {
                        set_int(rm!(dst), val as i64);
                        continue;
                    }
                    Instr::Const { dst, k } => {
                        let c: &'static Value = &proto.consts[k as usize];
                        set_from(rm!(dst), c);
                        continue;
                    }
                    Instr::Move { dst, src } => {
                        match *r!(src) {
                            Value::Int(i) => set_int(rm!(dst), i),
                            Value::Float(x) => set_float(rm!(dst), x),
                            _ => {
                                let v = clone_hot(r!(src));
                                set_reg(rm!(dst), v);
                            }
                        }
                        continue;
                    }
                    Instr::GetGlobal { dst, slot } => {
                        let v = match &*proto.env.slots[slot as usize] {
                            Slot::Once(c) => c.get().cloned(),
                            Slot::Cell(m) => m.lock().clone(),
                        };
                        match v {
                            Some(v) => *rm!(dst) = v,
                            None => throw!(unset_global(proto, slot)),
                        }
                        continue;
                    }
                    Instr::Add { dst, a, b } => {
                        let w = win!();
                        match (&w[a as usize], &w[b as usize]) {
                            (Value::Int(x), Value::Int(y)) => match x.checked_add(*y) {
                                Some(s) => set_int(&mut w[dst as usize], s),
                                None => {
                                    let v = tri!(binary_slow(
                                        BinOp::Add,
                                        &w[a as usize],
                                        &w[b as usize]
                                    ));
                                    set_reg(&mut w[dst as usize], v);
                                }
                            },
                            (Value::Float(x), Value::Float(y)) => {
                                let r = x + y;
                                set_float(&mut w[dst as usize], r);
                            }
                            (x, y) => match binary_fast(BinOp::Add, x, y) {
                                Some(n) => set_num(&mut w[dst as usize], n),
                                None => {
                                    let v = tri!(binary_slow(
                                        BinOp::Add,
                                        &w[a as usize],
                                        &w[b as usize]
                                    ));
                                    set_reg(&mut w[dst as usize], v);
                                }
                            },
                        }
                        continue;
                    }
                    Instr::Sub { dst, a, b } => {
                        let w = win!();
                        match (&w[a as usize], &w[b as usize]) {
                            (Value::Int(x), Value::Int(y)) => match x.checked_sub(*y) {
                                Some(s) => set_int(&mut w[dst as usize], s),
                                None => {
                                    let v = tri!(binary_slow(
                                        BinOp::Sub,
                                        &w[a as usize],
                                        &w[b as usize]
                                    ));
                                    set_reg(&mut w[dst as usize], v);
                                }
                            },
                            (Value::Float(x), Value::Float(y)) => {
                                let r = x - y;
                                set_float(&mut w[dst as usize], r);
                            }
                            (x, y) => match binary_fast(BinOp::Sub, x, y) {
                                Some(n) => set_num(&mut w[dst as usize], n),
                                None => {
                                    let v = tri!(binary_slow(
                                        BinOp::Sub,
                                        &w[a as usize],
                                        &w[b as usize]
                                    ));
                                    set_reg(&mut w[dst as usize], v);
                                }
                            },
                        }
                        continue;
                    }
                    Instr::Mul { dst, a, b } => {
                        let w = win!();
                        match (&w[a as usize], &w[b as usize]) {
                            (Value::Int(x), Value::Int(y)) => match x.checked_mul(*y) {
                                Some(s) => set_int(&mut w[dst as usize], s),
                                None => {
                                    let v = tri!(binary_slow(
                                        BinOp::Mul,
                                        &w[a as usize],
                                        &w[b as usize]
                                    ));
                                    set_reg(&mut w[dst as usize], v);
                                }
                            },
                            (Value::Float(x), Value::Float(y)) => {
                                let r = x * y;
                                set_float(&mut w[dst as usize], r);
                            }
                            (x, y) => match binary_fast(BinOp::Mul, x, y) {
                                Some(n) => set_num(&mut w[dst as usize], n),
                                None => {
                                    let v = tri!(binary_slow(
                                        BinOp::Mul,
                                        &w[a as usize],
                                        &w[b as usize]
                                    ));
                                    set_reg(&mut w[dst as usize], v);
                                }
                            },
                        }
                        continue;
                    }
                    Instr::Binary { dst, a, b, op } => {
                        let w = win!();
                        match binary_fast(op, &w[a as usize], &w[b as usize]) {
                            Some(n) => set_num(&mut w[dst as usize], n),
                            None => {
                                let v = tri!(binary_slow(op, &w[a as usize], &w[b as usize]));
                                set_reg(&mut w[dst as usize], v);
                            }
                        }
                        continue;
                    }
                    Instr::AddI { dst, a, imm } => {
                        match r!(a) {
                            Value::Int(x) => match x.checked_add(imm as i64) {
                                Some(s) => set_int(rm!(dst), s),
                                None => {
                                    let v = tri!(binary_slow(
                                        BinOp::Add,
                                        r!(a),
                                        &Value::Int(imm as i64)
                                    ));
                                    set_reg(rm!(dst), v);
                                }
                            },
                            Value::Float(x) => {
                                let r = x + imm as f64;
                                set_float(rm!(dst), r);
                            }
                            x => {
                                let v = tri!(binary_slow(BinOp::Add, x, &Value::Int(imm as i64)));
                                set_reg(rm!(dst), v);
                            }
                        }
                        continue;
                    }
                    Instr::SubI { dst, a, imm } => {
                        sub_imm!(rm!(dst), a, imm);
                        continue;
                    }
                    Instr::BinaryI { dst, a, op, imm } => {
                        let fast = match r!(a) {
                            Value::Int(x) => int_fast(op, *x, imm as i64),
                            x @ Value::Float(_) => binary_fast(op, x, &Value::Int(imm as i64)),
                            _ => None,
                        };
                        match fast {
                            Some(n) => set_num(rm!(dst), n),
                            None => {
                                let v = tri!(binary_slow(op, r!(a), &Value::Int(imm as i64)));
                                set_reg(rm!(dst), v);
                            }
                        }
                        continue;
                    }
                    Instr::OpAssign { dst, src, op } => {
                        let w = win!();
                        if let Some(n) = match (&w[dst as usize], &w[src as usize]) {
                            (x @ (Value::Int(_) | Value::Float(_)), y) => binary_fast(op, x, y),
                            _ => None,
                        } {
                            set_num(&mut w[dst as usize], n);
                        } else {
                            let rhs = w[src as usize].clone();
                            tri!(ops::binary_in_place(op, &mut w[dst as usize], &rhs));
                        }
                        continue;
                    }
                    Instr::Not { dst, src } => {
                        let v = !r!(src).truthy();
                        set_reg(rm!(dst), Value::Bool(v));
                        continue;
                    }
                    Instr::Jump { off } => {
                        jump!(off);
                        continue;
                    }
                    Instr::Loop { off } => {
                        if self.checkpoint() {
                            throw!(self.checkpoint_error());
                        }
                        jump!(off);
                        continue;
                    }
                    Instr::JumpIfFalse { cond, off } => {
                        if !r!(cond).truthy() {
                            jump!(off);
                        }
                        continue;
                    }
                    Instr::JumpIfTrue { cond, off } => {
                        if r!(cond).truthy() {
                            jump!(off);
                        }
                        continue;
                    }
                    Instr::JumpIfNot { op, a, b, off } => {
                        if !tri!(compare(op, r!(a), r!(b))) {
                            jump!(off);
                        }
                        continue;
                    }
                    // Each arm jumps on its own (speed only): one `if !t`
                    // after the match was merged with the other compares'
                    // jumps into a branchless select through the stack.
                    Instr::JumpIfNotLtI { a, imm, off } => {
                        match r!(a) {
                            Value::Int(x) => {
                                if *x >= imm as i64 {
                                    jump!(off);
                                }
                            }
                            x => {
                                if !tri!(compare_imm(BinOp::Lt, x, imm)) {
                                    jump!(off);
                                }
                            }
                        }
                        continue;
                    }
                    Instr::JumpIfNotLtK { a, k, off } => {
                        match (r!(a), &proto.consts[k as usize]) {
                            (Value::Int(x), Value::Int(y)) => {
                                if x >= y {
                                    jump!(off);
                                }
                            }
                            (x, y) => {
                                if !tri!(compare(BinOp::Lt, x, y)) {
                                    jump!(off);
                                }
                            }
                        }
                        continue;
                    }
                    Instr::JumpIfNotLeI { a, imm, off } => {
                        if !tri!(compare_imm(BinOp::Le, r!(a), imm)) {
                            jump!(off);
                        }
                        continue;
                    }
                    Instr::JumpIfNotGtI { a, imm, off } => {
                        if !tri!(compare_imm(BinOp::Gt, r!(a), imm)) {
                            jump!(off);
                        }
                        continue;
                    }
                    Instr::JumpIfNotGeI { a, imm, off } => {
                        if !tri!(compare_imm(BinOp::Ge, r!(a), imm)) {
                            jump!(off);
                        }
                        continue;
                    }
                    Instr::JumpIfNotEqI { a, imm, off } => {
                        if !tri!(compare_imm(BinOp::Eq, r!(a), imm)) {
                            jump!(off);
                        }
                        continue;
                    }
                    Instr::JumpIfNotNeI { a, imm, off } => {
                        if !tri!(compare_imm(BinOp::Ne, r!(a), imm)) {
                            jump!(off);
                        }
                        continue;
                    }
                    Instr::JumpIfNotNil { a, off } => {
                        if !matches!(*r!(a), Value::Nil) {
                            jump!(off);
                        }
                        continue;
                    }
                    Instr::JumpIfNil { a, off } => {
                        if matches!(*r!(a), Value::Nil) {
                            jump!(off);
                        }
                        continue;
                    }
                    Instr::Index { dst, obj, key } => {
                        let w = win!();
                        let v = match (&w[obj as usize], &w[key as usize]) {
                            (Value::List(l), Value::Int(i)) if (*i as u64) < l.len() as u64 => {
                                match l[*i as usize] {
                                    Value::Int(x) => {
                                        set_int(&mut w[dst as usize], x);
                                        continue;
                                    }
                                    Value::Float(x) => {
                                        set_float(&mut w[dst as usize], x);
                                        continue;
                                    }
                                    ref other => clone_hot(other),
                                }
                            }
                            (o, k) => tri!(ops::index_get(o, k)),
                        };
                        set_reg(&mut w[dst as usize], v);
                        continue;
                    }
                    Instr::GetCapture { dst, idx } => {
                        // In the loop, not in `cold` (speed only): ping-pong
                        // and the thread-ring read two captures per pass,
                        // and the call to `cold` cost more than the read.
                        let v = {
                            let Value::Func(c) = &self.stack[base - 1] else {
                                throw!(missing_closure())
                            };
                            c.captures.get(idx as usize).map_or(Value::Nil, clone_hot)
                        };
                        set_reg(&mut reg!(dst), v);
                    }
                    Instr::IndexCapture { dst, idx, key } => {
                        let f = {
                            let Value::Func(c) = &self.stack[base - 1] else {
                                throw!(missing_closure())
                            };
                            let o = c.captures.get(idx as usize).unwrap_or(&Value::Nil);
                            let k = &self.stack[base + key as usize];
                            match list_item_at(o, k) {
                                Some(v) => fetch(v),
                                None => Fetched::V(tri!(ops::index_get(o, k))),
                            }
                        };
                        set_fetched(&mut reg!(dst), f);
                    }
                    Instr::IndexI { dst, obj, imm } => {
                        let f = match list_item(r!(obj), imm as i64) {
                            Some(v) => fetch(v),
                            None => {
                                Fetched::V(tri!(ops::index_get(r!(obj), &Value::Int(imm as i64))))
                            }
                        };
                        set_fetched(rm!(dst), f);
                        continue;
                    }
                    Instr::Index2I { dst, obj, key, imm } => {
                        let w = win!();
                        let f = match list_item_at(&w[obj as usize], &w[key as usize])
                            .and_then(|inner| list_item(inner, imm as i64))
                        {
                            Some(v) => fetch(v),
                            None => Fetched::V(tri!(index2_slow(
                                &w[obj as usize],
                                &w[key as usize],
                                &Value::Int(imm as i64)
                            ))),
                        };
                        set_fetched(&mut w[dst as usize], f);
                        continue;
                    }
                    Instr::Index2 { dst, obj, k1, k2 } => {
                        let w = win!();
                        let f = match list_item_at(&w[obj as usize], &w[k1 as usize])
                            .and_then(|inner| list_item_at(inner, &w[k2 as usize]))
                        {
                            Some(v) => fetch(v),
                            None => Fetched::V(tri!(index2_slow(
                                &w[obj as usize],
                                &w[k1 as usize],
                                &w[k2 as usize]
                            ))),
                        };
                        set_fetched(&mut w[dst as usize], f);
                        continue;
                    }
                    Instr::SetIndex2I {
                        root,
                        key,
                        val,
                        op,
                        imm,
                    } => {
                        let w = win!();
                        let x = dup(&w[val as usize]);
                        let target = match w[key as usize] {
                            Value::Int(i) => list_item2_mut(&mut w[root as usize], i, imm as i64),
                            _ => None,
                        };
                        match (target, op) {
                            (Some(t), None) => set_reg(t, x),
                            (Some(t), Some(op)) => {
                                let fast = match &*t {
                                    n @ (Value::Int(_) | Value::Float(_)) => binary_fast(op, n, &x),
                                    _ => None,
                                };
                                match fast {
                                    Some(n) => set_num(t, n),
                                    None => tri!(ops::binary_in_place(op, t, &x)),
                                }
                            }
                            (None, _) => {
                                let keys = [w[key as usize].clone(), Value::Int(imm as i64)];
                                tri!(path_set(&mut w[root as usize], &keys, 0, op, x));
                            }
                        }
                        continue;
                    }
                    Instr::SetIndex { obj, key, val } => {
                        let w = win!();
                        let x = dup(&w[val as usize]);
                        // Fast path: an int index in range of a list; the
                        // key is not cloned and a scalar item is
                        // overwritten without a drop call.
                        if let Value::Int(i) = w[key as usize] {
                            if let Value::List(l) = &mut w[obj as usize] {
                                if (i as u64) < l.len() as u64 {
                                    set_reg(&mut l.make_mut()[i as usize], x);
                                    continue;
                                }
                            }
                        }
                        let k = w[key as usize].clone();
                        tri!(ops::index_set(&mut w[obj as usize], &k, x));
                        continue;
                    }
                    Instr::GetField { dst, obj, name } => {
                        let Value::Str(name) = &proto.consts[name as usize] else {
                            throw!(Error::type_error("internal: field name is not a string"))
                        };
                        // The name is an interned constant: its hash is cached
                        // and a key written from the same constant matches by
                        // pointer.
                        let v = match &reg!(obj) {
                            Value::Map(m) => match m.get(&ops::StrRefKey(name)) {
                                Some(v) => v.clone(),
                                None => tri!(ops::field_get(&reg!(obj), name)),
                            },
                            o => tri!(ops::field_get(o, name)),
                        };
                        set_reg(&mut reg!(dst), v);
                    }
                    Instr::List { dst, start, count } => {
                        // In the loop, not in `cold` (speed only): small
                        // literals such as binary-trees' `[l, r]` are hot.
                        let at = base + start as usize;
                        let l = List::take_from(&mut self.stack[at..at + count as usize]);
                        set_reg(&mut reg!(dst), Value::List(l));
                    }
                    // Calls leave `regs` re-derived (`enter_closure!`,
                    // `call_reg!`).
                    Instr::Call { dst, f, argc } => {
                        call_reg!(f, argc, dst);
                        continue;
                    }
                    Instr::CallGlobal { dst, f, argc, slot } => {
                        call_global!(dst, f, argc, slot);
                        continue;
                    }
                    Instr::CallGlobalSubI {
                        dst,
                        f,
                        a,
                        slot,
                        imm,
                    } => {
                        // `R[f+1] = R[a] - imm` as `SubI` does it, then the
                        // call (speed only: one dispatch for `g(n - 1)`).
                        sub_imm!(r1m!(f), a, imm);
                        call_global!(dst, f, 1, slot);
                        continue;
                    }
                    Instr::CallMethod {
                        dst,
                        recv,
                        args,
                        argc,
                        site,
                    } => {
                        let s: &'static MethodSite = &proto.methods[site as usize];
                        // Functions stored in modules and maps are called
                        // like any Weft function (no Rust recursion).
                        let member = match (&reg!(recv), s.id) {
                            (Value::Module(_), _) | (Value::Map(_), None) => {
                                Vm::member_function(&reg!(recv), s)
                            }
                            _ => None,
                        };
                        if let Some(fv) = member {
                            let f = args - 1;
                            set_reg(&mut reg!(f), fv);
                            call_reg!(f, argc, dst);
                            continue;
                        }
                        // Fast path (speed only): hot read-only methods on
                        // the borrowed registers; `None` takes the general
                        // path below, which also reports every error.
                        if let Some(m) = s.id {
                            let w = win!();
                            let (a, n) = (args as usize, argc as usize);
                            if m == Method::Push
                                && n == 1
                                && !s.readonly
                                && !s.temp_recv
                                && recv as usize != a
                            {
                                // Two distinct registers of the window
                                // (`get_disjoint_mut` is past the MSRV).
                                let ri = recv as usize;
                                let (r, x) = if ri < a {
                                    let (lo, hi) = w.split_at_mut(a);
                                    (&mut lo[ri], &mut hi[0])
                                } else {
                                    let (lo, hi) = w.split_at_mut(ri);
                                    (&mut hi[0], &mut lo[a])
                                };
                                if method_fast::push(r, x) {
                                    set_reg(&mut w[dst as usize], Value::Nil);
                                    continue;
                                }
                            } else if matches!(m, Method::Set | Method::Remove)
                                && !s.readonly
                                && !s.temp_recv
                                && (recv as usize) < a
                                && a + n <= FRAME_WINDOW
                            {
                                // `m.set(k, v)` / `m.remove(k)` in place
                                // (scale5: the general path's argument
                                // buffer cost more than the map operation).
                                let (lo, hi) = w.split_at_mut(a);
                                if let Some(v) =
                                    method_fast::map_mut(m, &mut lo[recv as usize], &mut hi[..n])
                                {
                                    for r in &mut hi[..n] {
                                        set_reg(r, Value::Nil);
                                    }
                                    set_reg(&mut w[dst as usize], v);
                                    continue;
                                }
                            } else if a + n <= FRAME_WINDOW {
                                if let Some(v) =
                                    method_fast::call(m, &w[recv as usize], &w[a..a + n])
                                {
                                    // As the general path: arguments are
                                    // consumed and a temporary receiver is
                                    // dropped, so no stale reference keeps
                                    // a value shared.
                                    for r in &mut w[a..a + n] {
                                        set_reg(r, Value::Nil);
                                    }
                                    if s.temp_recv {
                                        set_reg(&mut w[recv as usize], Value::Nil);
                                    }
                                    set_reg(&mut w[dst as usize], v);
                                    continue;
                                }
                            }
                        }
                        save_pc!();
                        let r = self.builtin_method(s, base, recv, args, argc);
                        self.note_cancel();
                        let v = tri!(r);
                        set_reg(&mut reg!(dst), v);
                    }
                    Instr::Return { src } => {
                        // Integer return to a Weft caller (speed only): the
                        // value stays in a register instead of going through
                        // `Fetched` (whose tag was spilled and re-decoded),
                        // and the caller's frame is read once. Same steps as
                        // the general path below: drop this frame's
                        // handlers, pop it, clear its window, write `R[ret]`.
                        if let Value::Int(i) = *r!(src) {
                            let depth = self.frames.len() - 1;
                            while let Some(h) = self.handlers.last() {
                                if h.frame as usize >= depth {
                                    self.handlers.pop();
                                } else {
                                    break;
                                }
                            }
                            let f = self.frames.pop().expect("a frame is running");
                            self.clear_window(&f);
                            if f.entry {
                                return Ok(Value::Int(i));
                            }
                            reload!();
                            set_int(&mut self.stack[f.ret as usize], i);
                            refresh!();
                            continue;
                        }
                        // Scalars are moved field by field (`Fetched`): a
                        // 16-byte copy of a register whose payload was just
                        // written alone (by an arithmetic fast path) stalls
                        // on store forwarding.
                        let v = match *r!(src) {
                            Value::Int(i) => Fetched::I(i),
                            Value::Float(x) => Fetched::F(x),
                            _ => Fetched::V(mem::take(rm!(src))),
                        };
                        let depth = self.frames.len() - 1;
                        while let Some(h) = self.handlers.last() {
                            if h.frame as usize >= depth {
                                self.handlers.pop();
                            } else {
                                break;
                            }
                        }
                        let f = self.frames.pop().expect("a frame is running");
                        self.clear_window(&f);
                        if f.entry {
                            return Ok(match v {
                                Fetched::I(i) => Value::Int(i),
                                Fetched::F(x) => Value::Float(x),
                                Fetched::V(v) => v,
                            });
                        }
                        reload!();
                        set_fetched(&mut self.stack[f.ret as usize], v);
                    }
                    Instr::ReturnNil => {
                        let depth = self.frames.len() - 1;
                        while let Some(h) = self.handlers.last() {
                            if h.frame as usize >= depth {
                                self.handlers.pop();
                            } else {
                                break;
                            }
                        }
                        let f = self.frames.pop().expect("a frame is running");
                        self.clear_window(&f);
                        if f.entry {
                            return Ok(Value::Nil);
                        }
                        reload!();
                        set_reg(&mut self.stack[f.ret as usize], Value::Nil);
                    }
                    Instr::IterNext { it, var, off } => {
                        let Value::Int(i) = reg!(it + 1) else {
                            throw!(Error::type_error("internal: iterator state"))
                        };
                        let i = i as usize;
                        let next = match &reg!(it) {
                            Value::List(l) => l.get(i).map(|v| (v.clone(), i + 1)),
                            Value::Range(r) => {
                                if (i as i64) < r.len() {
                                    Some((Value::Int(r.get(i as i64)), i + 1))
                                } else {
                                    None
                                }
                            }
                            Value::Str(s) => s
                                .get(i..)
                                .and_then(|rest| rest.chars().next())
                                .map(|c| (Value::str(c), i + c.len_utf8())),
                            Value::Map(m) => {
                                m.entry_from(i).map(|(at, k, _)| (k.0.clone(), at + 1))
                            }
                            // Receives until closed and drained.
                            Value::Channel(c) => {
                                let c = c.clone();
                                save_pc!();
                                tri!(stdlib::channel::iter_step(self, &c)).map(|v| (v, i + 1))
                            }
                            _ => None,
                        };
                        match next {
                            Some((v, ni)) => {
                                set_int(&mut reg!(it + 1), ni as i64);
                                set_reg(&mut reg!(var), v);
                            }
                            None => jump!(off),
                        }
                    }
                    Instr::RangeNext { base: rb, var, off } => {
                        let w = win!();
                        let (Value::Int(cur), Value::Int(stop), Value::Int(step)) = (
                            &w[rb as usize],
                            &w[(rb + 1) as usize],
                            &w[(rb + 2) as usize],
                        ) else {
                            throw!(Error::type_error("internal: range loop state"))
                        };
                        let (cur, stop, step) = (*cur, *stop, *step);
                        if (step > 0 && cur < stop) || (step < 0 && cur > stop) {
                            set_int(&mut w[var as usize], cur);
                            set_int(&mut w[rb as usize], cur.checked_add(step).unwrap_or(stop));
                        } else {
                            jump!(off);
                        }
                        continue;
                    }
                    Instr::SetPath {
                        root,
                        keys,
                        val,
                        desc,
                    } if root < keys
                        && matches!(proto.paths[desc as usize].root, PathRoot::Reg) =>
                    {
                        // The root variable's register is below the fresh
                        // key registers: borrow both without copying keys.
                        let d: &'static PathDesc = &proto.paths[desc as usize];
                        let x = reg!(val).clone();
                        let (lo, hi) = self.stack.split_at_mut(base + keys as usize);
                        let ks = &hi[..d.depth as usize];
                        tri!(path_set(
                            &mut lo[base + root as usize],
                            ks,
                            d.fields,
                            d.op,
                            x
                        ));
                    }
                    // Every other instruction is listed (speed only): an
                    // exhaustive match lets the jump table skip its range
                    // check on every dispatch (a catch-all arm kept it).
                    other @ (Instr::GetSelf { .. }
                    | Instr::GetSibling { .. }
                    | Instr::SetGlobal { .. }
                    | Instr::OpGlobal { .. }
                    | Instr::Closure { .. }
                    | Instr::Select { .. }
                    | Instr::ListAppend { .. }
                    | Instr::Map { .. }
                    | Instr::MapAppend { .. }
                    | Instr::Neg { .. }
                    | Instr::SetField { .. }
                    | Instr::SetPath { .. }
                    | Instr::CallMethodPath { .. }
                    | Instr::IterInit { .. }
                    | Instr::IterNext2 { .. }
                    | Instr::RangeInit { .. }
                    | Instr::TryBegin { .. }
                    | Instr::TryEnd
                    | Instr::Throw { .. }
                    | Instr::Import { .. }
                    | Instr::ConstWide { .. }
                    | Instr::GetFieldR { .. }
                    | Instr::SetFieldR { .. }
                    | Instr::BitNot { .. }
                    | Instr::Unpack { .. }
                    | Instr::FinallyEnter { .. }
                    | Instr::Rethrow { .. }) => {
                        let mut pc = pc!();
                        save_pc!();
                        let r = self.cold(other, proto, base, &mut pc);
                        // Some cold instructions run natives (method paths,
                        // imports, `select`).
                        self.note_cancel();
                        // Not read before the checks below (an error
                        // saves it as the frame's pc, then unwinds).
                        ip = code.as_ptr().wrapping_add(pc);
                        tri!(r);
                        match code.get(pc) {
                            Some(i) => ip = i,
                            None => throw!(Error::type_error(
                                "internal: the code ran past its last instruction"
                            )),
                        }
                    }
                }
                // Every instruction that did not `continue` may have
                // touched the stack otherwise or grown it.
                refresh!();
            };
            save_pc!();
            if self.park.parking.is_some() {
                // Parked (or yielding): leave with the frames as they are.
                self.parked_exit();
                return Err(err);
            }
            match self.unwind(err, entry) {
                Ok(()) => {
                    reload!();
                    refresh!();
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The instructions that are rare in hot loops, kept out of the
    /// dispatch loop so that its state stays in machine registers.
    #[inline(never)]
    fn cold(
        &mut self,
        ins: Instr,
        proto: &'static Proto,
        base: usize,
        pc: &mut usize,
    ) -> Result<()> {
        macro_rules! reg {
            ($i:expr) => {
                self.stack[base + ($i as usize)]
            };
        }
        macro_rules! tri {
            ($e:expr) => {
                $e?
            };
        }
        macro_rules! throw {
            ($e:expr) => {
                return Err($e)
            };
        }
        match ins {
            Instr::GetSelf { dst } => {
                let v = self.stack[base - 1].clone();
                set_reg(&mut reg!(dst), v);
            }
            Instr::GetSibling { dst, idx } => {
                let v = tri!(self.running_closure(base).and_then(|c| Vm::sibling(c, idx)));
                set_reg(&mut reg!(dst), v);
            }
            Instr::SetGlobal { slot, src } => {
                let v = reg!(src).clone();
                proto.env.slots[slot as usize].set(v);
            }
            Instr::OpGlobal { slot, src, op } => {
                let rhs = reg!(src).clone();
                match &*proto.env.slots[slot as usize] {
                    Slot::Cell(m) => {
                        let mut g = m.lock();
                        match &mut *g {
                            Some(v) => tri!(ops::binary_in_place(op, v, &rhs)),
                            None => {
                                drop(g);
                                throw!(unset_global(proto, slot))
                            }
                        }
                    }
                    Slot::Once(c) => {
                        // Not emitted: a reassigned variable gets a cell.
                        let cur = match c.get() {
                            Some(v) => v.clone(),
                            None => throw!(unset_global(proto, slot)),
                        };
                        let _ = tri!(ops::binary(op, &cur, &rhs));
                    }
                }
            }
            Instr::Closure { dst, proto: idx } => {
                let child: &'static Proto = proto.protos[idx as usize];
                let mut caps = Vec::with_capacity(child.captures.len());
                for src in child.captures.iter() {
                    let v = match *src {
                        CaptureSrc::Local(r) => reg!(r).clone(),
                        CaptureSrc::Capture(i) => match self.running_closure(base) {
                            Ok(c) => c.captures.get(i as usize).cloned().unwrap_or_default(),
                            Err(e) => throw!(e),
                        },
                        CaptureSrc::SelfFn => self.stack[base - 1].clone(),
                        CaptureSrc::Sibling(i) => {
                            tri!(self.running_closure(base).and_then(|c| Vm::sibling(c, i)))
                        }
                    };
                    caps.push(v);
                }
                set_reg(
                    &mut reg!(dst),
                    Value::Func(Arc::new(Closure {
                        proto: child,
                        captures: caps.into_boxed_slice(),
                    })),
                );
            }
            Instr::Select {
                dst,
                start,
                count,
                pairs,
                timeout,
            } => {
                let v = tri!(self.select_flat(base + start as usize, count, pairs, timeout));
                set_reg(&mut reg!(dst), v);
            }
            Instr::ListAppend { list, start, count } => {
                let at = base + start as usize;
                let items = self.take_vec(at, count as usize);
                if let Value::List(l) = &mut reg!(list) {
                    l.make_mut().extend(items);
                }
            }
            Instr::Map { dst, start, count } => {
                let at = base + start as usize;
                let mut m = Map::default();
                m.reserve(count as usize);
                for i in 0..count as usize {
                    let k = mem::take(&mut self.stack[at + 2 * i]);
                    let v = mem::take(&mut self.stack[at + 2 * i + 1]);
                    m.insert(tri!(Key::new(k)), v);
                }
                set_reg(&mut reg!(dst), Value::map(m));
            }
            Instr::MapAppend { map, start, count } => {
                let at = base + start as usize;
                let mut pairs = Vec::with_capacity(count as usize);
                for i in 0..count as usize {
                    let k = mem::take(&mut self.stack[at + 2 * i]);
                    let v = mem::take(&mut self.stack[at + 2 * i + 1]);
                    pairs.push((tri!(Key::new(k)), v));
                }
                if let Value::Map(m) = &mut reg!(map) {
                    m.make_mut().extend(pairs);
                }
            }
            Instr::Neg { dst, src } => {
                let v = match &reg!(src) {
                    Value::Int(x) if *x != i64::MIN => Value::Int(-x),
                    Value::Float(x) => Value::Float(-x),
                    x => tri!(ops::negate(x)),
                };
                set_reg(&mut reg!(dst), v);
            }
            Instr::SetField { obj, val, name } => {
                let Value::Str(name) = &proto.consts[name as usize] else {
                    throw!(Error::type_error("internal: field name is not a string"))
                };
                let x = reg!(val).clone();
                tri!(ops::field_set(&mut reg!(obj), name, x));
            }
            Instr::SetPath {
                root,
                keys,
                val,
                desc,
            } => {
                let d: &'static PathDesc = &proto.paths[desc as usize];
                let at = base + keys as usize;
                let ks = self.take_args(at, d.depth as usize);
                let ks = ks.as_slice();
                let x = reg!(val).clone();
                match d.root {
                    PathRoot::Reg => {
                        tri!(path_set(&mut reg!(root), ks, d.fields, d.op, x));
                    }
                    PathRoot::Global(slot) => match &*proto.env.slots[slot as usize] {
                        Slot::Cell(m) => {
                            let mut g = m.lock();
                            match &mut *g {
                                Some(v) => tri!(path_set(v, ks, d.fields, d.op, x)),
                                None => {
                                    drop(g);
                                    throw!(unset_global(proto, slot))
                                }
                            }
                        }
                        Slot::Once(_) => throw!(Error::type_error(
                            "internal: assignment to a write-once slot"
                        )),
                    },
                }
            }
            Instr::CallMethodPath {
                dst,
                root,
                keys,
                argc,
                desc,
            } => {
                if self.is_cancelled() {
                    throw!(cancelled());
                }
                let d: &'static PathDesc = &proto.paths[desc as usize];
                let s: &'static MethodSite = &proto.methods[d.site.unwrap_or(0) as usize];
                let at = base + keys as usize;
                let depth = d.depth as usize;
                let ks = self.take_args(at, depth);
                let argv = self.take_args(at + depth, argc as usize);
                let (ks, argv) = (ks.as_slice(), argv.as_slice());
                let res = match d.root {
                    PathRoot::Reg => {
                        let ri = base + root as usize;
                        let mut rv = mem::take(&mut self.stack[ri]);
                        let r = self.method_on_path(&mut rv, ks, d.fields, s, argv);
                        self.stack[ri] = rv;
                        r
                    }
                    PathRoot::Global(slot) => {
                        self.method_on_global(proto, slot, ks, d.fields, s, argv)
                    }
                };

                let v = tri!(res);
                set_reg(&mut reg!(dst), v);
            }
            Instr::IterInit { it } => {
                match &reg!(it) {
                    Value::List(_) | Value::Range(_) | Value::Str(_) | Value::Map(_) => {}
                    // Receives until closed and drained (IterNext).
                    Value::Channel(_) => {}
                    other => throw!(Error::type_error(format!(
                        "cannot iterate over {}",
                        article(other.type_name())
                    ))),
                }
                set_int(&mut reg!(it + 1), 0);
                // For strings: the character index (the byte offset is in it+1).
                set_int(&mut reg!(it + 2), 0);
            }
            Instr::IterNext2 { it, a, b, off } => {
                let Value::Int(i) = reg!(it + 1) else {
                    throw!(Error::type_error("internal: iterator state"))
                };
                let Value::Int(count) = reg!(it + 2) else {
                    throw!(Error::type_error("internal: iterator state"))
                };
                let i = i as usize;
                let next = match &reg!(it) {
                    Value::List(l) => l.get(i).map(|v| (Value::Int(i as i64), v.clone(), i + 1)),
                    Value::Range(r) => {
                        if (i as i64) < r.len() {
                            Some((Value::Int(i as i64), Value::Int(r.get(i as i64)), i + 1))
                        } else {
                            None
                        }
                    }
                    Value::Str(s) => s
                        .get(i..)
                        .and_then(|rest| rest.chars().next())
                        .map(|c| (Value::Int(count), Value::str(c), i + c.len_utf8())),
                    Value::Map(m) => m
                        .entry_from(i)
                        .map(|(at, k, v)| (k.0.clone(), v.clone(), at + 1)),
                    // `for i, v in ch`: a running count and the value.
                    Value::Channel(c) => {
                        let c = c.clone();
                        if let Some(f) = self.frames.last_mut() {
                            f.pc = *pc as u32;
                        }
                        tri!(stdlib::channel::iter_step(self, &c))
                            .map(|v| (Value::Int(i as i64), v, i + 1))
                    }
                    _ => None,
                };
                match next {
                    Some((x, y, ni)) => {
                        set_int(&mut reg!(it + 1), ni as i64);
                        if matches!(reg!(it), Value::Str(_)) {
                            set_int(&mut reg!(it + 2), count + 1);
                        }
                        set_reg(&mut reg!(a), x);
                        set_reg(&mut reg!(b), y);
                    }
                    None => *pc = (*pc as isize + off as isize) as usize,
                }
            }
            Instr::RangeInit { base: rb, argc } => {
                let at = base + rb as usize;
                // Speed only: int arguments with a non-zero step are
                // normalized here; anything else goes through `range()`
                // itself, for its errors.
                let ints = match (argc, &self.stack[at..at + 3]) {
                    (1, [Value::Int(stop), ..]) => Some((0, *stop, 1)),
                    (2, [Value::Int(start), Value::Int(stop), ..]) => Some((*start, *stop, 1)),
                    (3, [Value::Int(start), Value::Int(stop), Value::Int(step)]) if *step != 0 => {
                        Some((*start, *stop, *step))
                    }
                    _ => None,
                };
                if let Some((start, stop, step)) = ints {
                    set_int(&mut reg!(rb), start);
                    set_int(&mut reg!(rb + 1), stop);
                    set_int(&mut reg!(rb + 2), step);
                    return Ok(());
                }
                let Some(Value::Native(range_fn)) = stdlib::lookup_global("range") else {
                    throw!(Error::type_error("internal: range is not a builtin"))
                };
                let argv: Vec<Value> = self.stack[at..at + argc as usize].to_vec();
                let r = tri!((range_fn.f)(self, &argv));
                let Value::Range(r) = r else {
                    throw!(Error::type_error("internal: range() gave no range"))
                };
                set_int(&mut reg!(rb), r.start);
                set_int(&mut reg!(rb + 1), r.stop);
                set_int(&mut reg!(rb + 2), r.step);
            }
            Instr::TryBegin { err, off } => {
                self.handlers.push(Handler {
                    frame: (self.frames.len() - 1) as u32,
                    pc: (*pc as isize + off as isize) as u32,
                    reg: (base + err as usize) as u32,
                });
            }
            Instr::TryEnd => {
                self.handlers.pop();
            }
            Instr::Throw { src } => {
                let v = reg!(src).clone();
                throw!(Error::thrown(v));
            }
            Instr::Import { dst, idx } => {
                let unit: &'static ModuleUnit = &proto.imports[idx as usize];
                let v = tri!(self.import(unit));
                set_reg(&mut reg!(dst), v);
            }
            Instr::ConstWide { dst, k } => {
                let c = proto.consts[k as usize].clone();
                set_reg(&mut reg!(dst), c);
            }
            Instr::GetFieldR { dst, obj, name } => {
                let Value::Str(name) = reg!(name).clone() else {
                    throw!(Error::type_error("internal: field name is not a string"))
                };
                let v = tri!(ops::field_get(&reg!(obj), &name));
                set_reg(&mut reg!(dst), v);
            }
            Instr::SetFieldR { obj, val, name } => {
                let Value::Str(name) = reg!(name).clone() else {
                    throw!(Error::type_error("internal: field name is not a string"))
                };
                let x = reg!(val).clone();
                tri!(ops::field_set(&mut reg!(obj), &name, x));
            }
            Instr::BitNot { dst, src } => {
                let v = tri!(ops::bit_not(&reg!(src)));
                set_reg(&mut reg!(dst), v);
            }
            Instr::Unpack {
                src,
                dst,
                before,
                after,
                rest,
            } => {
                let parts = tri!(unpack(&reg!(src), before as usize, after as usize, rest));
                for (i, v) in parts.into_iter().enumerate() {
                    set_reg(&mut reg!(dst as usize + i), v);
                }
            }
            Instr::FinallyEnter { err } => {
                let cancelled = matches!(&reg!(err), Value::Error(e) if e.kind == ErrorKind::Cancelled)
                    && self.is_cancelled();
                let saved = cancelled.then(|| (self.cancel.take(), self.token.take()));
                self.shields.push(Shield {
                    frame: (self.frames.len() - 1) as u32,
                    handlers: self.handlers.len() as u32,
                    saved,
                });
            }
            Instr::Rethrow { src } => {
                let frame = (self.frames.len() - 1) as u32;
                if self.shields.last().is_some_and(|s| s.frame == frame) {
                    let s = self.shields.pop().expect("checked above");
                    self.restore_shield(s);
                }
                let v = reg!(src).clone();
                self.rethrowing = true;
                throw!(Error::thrown(v));
            }
            other => throw!(Error::type_error(format!(
                "internal: {other:?} is not a cold instruction"
            ))),
        }
        Ok(())
    }

    /// A function stored in a module field or a map key, for `recv.name(...)`.
    #[inline(never)]
    fn member_function(recv: &Value, s: &MethodSite) -> Option<Value> {
        let f = match recv {
            Value::Module(m) => m.fields.get(&ops::StrKey(&s.name)),
            Value::Map(m) => m.get(&ops::StrKey(&s.name)),
            _ => None,
        };
        match f {
            Some(f @ (Value::Func(_) | Value::Native(_))) => Some(f.clone()),
            _ => None,
        }
    }

    /// A built-in method call: the receiver is taken out of its register,
    /// called with `&mut`, and put back (in place when uniquely held).
    #[inline(never)]
    fn builtin_method(
        &mut self,
        s: &MethodSite,
        base: usize,
        recv: Reg,
        args: Reg,
        argc: u8,
    ) -> Result<Value> {
        if self.is_cancelled() {
            return Err(cancelled());
        }
        if let Some(r) = self.channel_method(s, base, recv, args, argc) {
            return r;
        }
        let ri = base + recv as usize;
        let mut rv = mem::take(&mut self.stack[ri]);
        if s.readonly && is_value_type(&rv) {
            let t = rv.type_name();
            self.stack[ri] = rv;
            return Err(Error::type_error(format!(
                "'{}' would change a captured, module or temporary {t} that this code cannot \
                 modify (closures capture by value; share mutable state through an atom)",
                s.name
            )));
        }
        let argv = self.take_args(base + args as usize, argc as usize);
        let res = match s.id {
            Some(m) => stdlib::call_method(self, &mut rv, m, argv.as_slice()),
            None => stdlib::call_member(self, &mut rv, &s.name, argv.as_slice()),
        };
        drop(argv);
        if !s.temp_recv {
            // The stack may have grown during the call: index it again.
            self.stack[ri] = rv;
        }
        res
    }

    /// A mutating method on `root[keys...]`.
    fn method_on_path(
        &mut self,
        root: &mut Value,
        keys: &[Value],
        fields: u32,
        s: &MethodSite,
        args: &[Value],
    ) -> Result<Value> {
        let target = path_mut(root, keys, fields)?;
        match s.id {
            Some(m) => stdlib::call_method(self, target, m, args),
            None => stdlib::call_member(self, target, &s.name, args),
        }
    }

    /// A mutating method on a module variable held in a cell (top-level
    /// code). Lists, maps and strings are changed in place under the
    /// cell's lock, except when the method calls back into Weft (`sort`
    /// with a key function), which works on a copy so the callback may read
    /// the variable. Handles (atoms, channels...) are called outside the lock.
    fn method_on_global(
        &mut self,
        proto: &'static Proto,
        slot: u16,
        keys: &[Value],
        fields: u32,
        s: &MethodSite,
        args: &[Value],
    ) -> Result<Value> {
        let Slot::Cell(m) = &*proto.env.slots[slot as usize] else {
            return Err(Error::type_error("internal: mutation of a write-once slot"));
        };
        let calls_back = s.id == Some(Method::Sort) && !args.is_empty();
        let mut g = m.lock();
        let Some(v) = &mut *g else {
            drop(g);
            return Err(unset_global(proto, slot));
        };
        if is_value_type(v) && !calls_back {
            return self.method_on_path(v, keys, fields, s, args);
        }
        let mut copy = v.clone();
        drop(g);
        let r = self.method_on_path(&mut copy, keys, fields, s, args);
        if is_value_type(&copy) && r.is_ok() {
            *m.lock() = Some(copy);
        }
        r
    }
}
