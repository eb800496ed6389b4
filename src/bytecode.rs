//! The bytecode: register-machine instructions, function prototypes, module
//! variable slots and compiled modules.
//!
//! # Instruction format
//! Every [`Instr`] is 8 bytes: a one-byte tag and operands. Registers are
//! `u8` indices relative to the frame's base (so a function has at most 255
//! registers); constants, slots and side-table entries are `u16`; jump
//! offsets are `i32`, relative to the instruction after the jump. A
//! function may have more constants than a `u16` counts: `ConstWide` loads
//! any of them (a `u32` index), and a field name past the first 65,536 is
//! loaded into a register for `GetFieldR`/`SetFieldR`.
//!
//! # Prototypes
//! A [`Proto`] is one compiled function (or a file's top-level code). Protos
//! are immutable once built and live for the rest of the process (they are
//! leaked into `&'static` references), so frames and closures point at them
//! without reference counting and any thread can run them. Source positions
//! live in a side table (`pos`, one per instruction) and are only formatted
//! when an error is shown.
//!
//! # Module variables
//! A file's top-level `let`s and `fn`s are *module variables*. Those that
//! functions read live in [`Slot`]s: write-once slots (a `OnceLock`, read
//! with one atomic load) for variables that are set once — the common case,
//! including every top-level `fn` — and mutex-guarded cells for variables the
//! top-level code reassigns or mutates. Variables that no function reads stay
//! in registers of the top-level frame.

use crate::ast::{BinOp, Pos};
use crate::error::Error;
use crate::stdlib::Method;
use crate::value::Value;
use parking_lot::Mutex;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A register index, relative to the frame base.
pub type Reg = u8;

/// One VM instruction (8 bytes). Jump offsets are relative to the next
/// instruction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Instr {
    /// `R[dst] = nil`
    Nil {
        /// Destination.
        dst: Reg,
    },
    /// `R[dst] = val`
    Bool {
        /// Destination.
        dst: Reg,
        /// The boolean.
        val: bool,
    },
    /// `R[dst] = val` (a small int)
    Int {
        /// Destination.
        dst: Reg,
        /// The integer.
        val: i32,
    },
    /// `R[dst] = K[k]`
    Const {
        /// Destination.
        dst: Reg,
        /// Constant index.
        k: u16,
    },
    /// `R[dst] = R[src]`
    Move {
        /// Destination.
        dst: Reg,
        /// Source.
        src: Reg,
    },
    /// `R[dst] = captures[idx]` of the running closure.
    GetCapture {
        /// Destination.
        dst: Reg,
        /// Capture index.
        idx: u16,
    },
    /// `R[dst] =` the running closure itself.
    GetSelf {
        /// Destination.
        dst: Reg,
    },
    /// `R[dst] =` a sibling of the running closure in its hoisting group.
    GetSibling {
        /// Destination.
        dst: Reg,
        /// Index in the group.
        idx: u16,
    },
    /// `R[dst] = slot[slot]` (a module variable; `NameError` if unset).
    GetGlobal {
        /// Destination.
        dst: Reg,
        /// Slot index in the module environment.
        slot: u16,
    },
    /// `slot[slot] = R[src]`
    SetGlobal {
        /// Slot index.
        slot: u16,
        /// Source.
        src: Reg,
    },
    /// `slot[slot] op= R[src]`, in place under the slot's lock.
    OpGlobal {
        /// Slot index.
        slot: u16,
        /// Right-hand side.
        src: Reg,
        /// The operator.
        op: BinOp,
    },
    /// `R[dst] =` a new closure of child prototype `proto`.
    Closure {
        /// Destination.
        dst: Reg,
        /// Index into the prototype's children.
        proto: u16,
    },
    /// `R[dst] = [R[start], ..., R[start + count - 1]]`
    List {
        /// Destination.
        dst: Reg,
        /// First element register.
        start: Reg,
        /// Element count.
        count: u8,
    },
    /// `R[list].extend(R[start..start + count])` (long list literals)
    ListAppend {
        /// The list being built.
        list: Reg,
        /// First element register.
        start: Reg,
        /// Element count.
        count: u8,
    },
    /// `R[dst] = {R[start]: R[start+1], ...}` with `count` pairs.
    Map {
        /// Destination.
        dst: Reg,
        /// First key register.
        start: Reg,
        /// Pair count.
        count: u8,
    },
    /// Adds `count` pairs to the map in `R[map]` (long map literals).
    MapAppend {
        /// The map being built.
        map: Reg,
        /// First key register.
        start: Reg,
        /// Pair count.
        count: u8,
    },
    /// `R[dst] = R[a] + R[b]`
    Add {
        /// Destination.
        dst: Reg,
        /// Left operand.
        a: Reg,
        /// Right operand.
        b: Reg,
    },
    /// `R[dst] = R[a] - R[b]`
    Sub {
        /// Destination.
        dst: Reg,
        /// Left operand.
        a: Reg,
        /// Right operand.
        b: Reg,
    },
    /// `R[dst] = R[a] * R[b]`
    Mul {
        /// Destination.
        dst: Reg,
        /// Left operand.
        a: Reg,
        /// Right operand.
        b: Reg,
    },
    /// Any other binary operator: `R[dst] = R[a] op R[b]`.
    Binary {
        /// Destination.
        dst: Reg,
        /// Left operand.
        a: Reg,
        /// Right operand.
        b: Reg,
        /// The operator.
        op: BinOp,
    },
    /// `R[dst] = R[a] op imm` for the other binary operators.
    BinaryI {
        /// Destination.
        dst: Reg,
        /// Left operand.
        a: Reg,
        /// The operator.
        op: BinOp,
        /// Immediate right operand.
        imm: i16,
    },
    /// `R[dst] = R[a] + imm`
    AddI {
        /// Destination.
        dst: Reg,
        /// Left operand.
        a: Reg,
        /// Immediate.
        imm: i16,
    },
    /// `R[dst] = R[a] - imm`
    SubI {
        /// Destination.
        dst: Reg,
        /// Left operand.
        a: Reg,
        /// Immediate.
        imm: i16,
    },
    /// `R[dst] op= R[src]`, in place when `R[dst]` is uniquely held.
    OpAssign {
        /// Target (and left operand).
        dst: Reg,
        /// Right operand.
        src: Reg,
        /// The operator.
        op: BinOp,
    },
    /// `R[dst] = -R[src]`
    Neg {
        /// Destination.
        dst: Reg,
        /// Operand.
        src: Reg,
    },
    /// `R[dst] = not R[src]`
    Not {
        /// Destination.
        dst: Reg,
        /// Operand.
        src: Reg,
    },
    /// `pc += off`
    Jump {
        /// Offset.
        off: i32,
    },
    /// `pc += off` and a cancellation check (loop back-edges).
    Loop {
        /// Offset (negative).
        off: i32,
    },
    /// `if not R[cond]: pc += off`
    JumpIfFalse {
        /// Condition.
        cond: Reg,
        /// Offset.
        off: i32,
    },
    /// `if R[cond]: pc += off`
    JumpIfTrue {
        /// Condition.
        cond: Reg,
        /// Offset.
        off: i32,
    },
    /// `if not (R[a] op R[b]): pc += off` for a comparison `op`.
    JumpIfNot {
        /// The comparison.
        op: BinOp,
        /// Left operand.
        a: Reg,
        /// Right operand.
        b: Reg,
        /// Offset.
        off: i32,
    },
    /// `if not (R[a] < imm): pc += off`
    JumpIfNotLtI {
        /// Left operand.
        a: Reg,
        /// Immediate.
        imm: i16,
        /// Offset.
        off: i32,
    },
    /// `if not (R[a] < K[k]): pc += off`
    JumpIfNotLtK {
        /// Left operand.
        a: Reg,
        /// Constant index.
        k: u16,
        /// Offset.
        off: i32,
    },
    /// `if not (R[a] <= imm): pc += off`
    JumpIfNotLeI {
        /// Left operand.
        a: Reg,
        /// Immediate.
        imm: i16,
        /// Offset.
        off: i32,
    },
    /// `if not (R[a] > imm): pc += off`
    JumpIfNotGtI {
        /// Left operand.
        a: Reg,
        /// Immediate.
        imm: i16,
        /// Offset.
        off: i32,
    },
    /// `if not (R[a] >= imm): pc += off`
    JumpIfNotGeI {
        /// Left operand.
        a: Reg,
        /// Immediate.
        imm: i16,
        /// Offset.
        off: i32,
    },
    /// `if not (R[a] == imm): pc += off`
    JumpIfNotEqI {
        /// Left operand.
        a: Reg,
        /// Immediate.
        imm: i16,
        /// Offset.
        off: i32,
    },
    /// `if not (R[a] != imm): pc += off`
    JumpIfNotNeI {
        /// Left operand.
        a: Reg,
        /// Immediate.
        imm: i16,
        /// Offset.
        off: i32,
    },
    /// `if not (R[a] == nil): pc += off` (a condition `x == nil`).
    JumpIfNotNil {
        /// Operand.
        a: Reg,
        /// Offset.
        off: i32,
    },
    /// `if not (R[a] != nil): pc += off` (a condition `x != nil`).
    JumpIfNil {
        /// Operand.
        a: Reg,
        /// Offset.
        off: i32,
    },
    /// `R[dst] = R[obj][R[key]]`
    Index {
        /// Destination.
        dst: Reg,
        /// Container.
        obj: Reg,
        /// Index or key.
        key: Reg,
    },
    /// `R[obj][R[key]] = R[val]` in place.
    SetIndex {
        /// Container (a variable's register).
        obj: Reg,
        /// Index or key.
        key: Reg,
        /// The value (moved out of its register).
        val: Reg,
    },
    /// `R[dst] = R[obj].K[name]`
    GetField {
        /// Destination.
        dst: Reg,
        /// Object.
        obj: Reg,
        /// Constant index of the field name (a string).
        name: u16,
    },
    /// `R[obj].K[name] = R[val]` in place.
    SetField {
        /// Object (a variable's register).
        obj: Reg,
        /// The value.
        val: Reg,
        /// Constant index of the field name.
        name: u16,
    },
    /// Assignment through a path: see [`PathDesc`]. Keys are in
    /// `R[keys..keys + depth]`.
    SetPath {
        /// Root register (ignored for a global root).
        root: Reg,
        /// First key register.
        keys: Reg,
        /// The value.
        val: Reg,
        /// Index into the prototype's paths.
        desc: u16,
    },
    /// Call `R[f]` with `argc` arguments in `R[f+1..]`; result to `R[dst]`.
    Call {
        /// Destination.
        dst: Reg,
        /// Callee register; arguments follow it.
        f: Reg,
        /// Argument count.
        argc: u8,
    },
    /// Call the module variable in `slot` with arguments in `R[f+1..]`
    /// (`R[f]` is scratch).
    CallGlobal {
        /// Destination.
        dst: Reg,
        /// Callee scratch register; arguments follow it.
        f: Reg,
        /// Argument count.
        argc: u8,
        /// Slot index.
        slot: u16,
    },
    /// `R[f+1] = R[a] - imm`, then `CallGlobal { dst, f, argc: 1, slot }`:
    /// a one-argument call of a module function whose argument is
    /// `local - constant`, the step of most recursions (`fib(n - 1)`).
    /// Exists for speed only (one dispatch instead of two); the same
    /// results and errors as the two instructions, reported at the call.
    CallGlobalSubI {
        /// Destination.
        dst: Reg,
        /// Callee scratch register; the argument goes to `R[f+1]`.
        f: Reg,
        /// Left operand of the subtraction.
        a: Reg,
        /// Slot index.
        slot: u16,
        /// Immediate subtracted.
        imm: i16,
    },
    /// `select([...])` / `select([...], seconds)` with the case list
    /// written out in the call, the builtin `select` (not shadowed): the
    /// cases are read from `R[start..]` without building the list (see
    /// `stdlib::channel::select_flat`): case `i` takes two registers (a send
    /// case written `[ch, v]`) when bit `i` of `pairs` is set, else one;
    /// the timeout follows when `timeout` is set. Result to `R[dst]`.
    Select {
        /// Destination.
        dst: Reg,
        /// First case register.
        start: Reg,
        /// Case count (1 to 8).
        count: u8,
        /// Which cases are written-out send pairs.
        pairs: u8,
        /// Whether a timeout register follows the cases.
        timeout: bool,
    },
    /// `R[recv].method(R[args..args + argc])`; `R[args - 1]` is scratch.
    CallMethod {
        /// Destination.
        dst: Reg,
        /// Receiver register (taken out and put back).
        recv: Reg,
        /// First argument register.
        args: Reg,
        /// Argument count.
        argc: u8,
        /// Index into the prototype's method sites.
        site: u16,
    },
    /// A mutating method on a path: see [`PathDesc`]. Keys are in
    /// `R[keys..keys + depth]`, arguments follow them.
    CallMethodPath {
        /// Destination.
        dst: Reg,
        /// Root register (ignored for a global root).
        root: Reg,
        /// First key register.
        keys: Reg,
        /// Argument count.
        argc: u8,
        /// Index into the prototype's paths.
        desc: u16,
    },
    /// Return `R[src]`.
    Return {
        /// The result.
        src: Reg,
    },
    /// Return `nil`.
    ReturnNil,
    /// Turns `R[it]` into an iterator over it (state in `R[it..it+3]`).
    IterInit {
        /// Iterator base register.
        it: Reg,
    },
    /// `R[var] =` next item, or jump by `off` when done.
    IterNext {
        /// Iterator base register.
        it: Reg,
        /// Item register.
        var: Reg,
        /// Exit offset.
        off: i32,
    },
    /// `R[a], R[b] =` next index and item (key and value for maps).
    IterNext2 {
        /// Iterator base register.
        it: Reg,
        /// Index (or key) register.
        a: Reg,
        /// Item (or value) register.
        b: Reg,
        /// Exit offset.
        off: i32,
    },
    /// Normalizes `range(...)` arguments in `R[base..base+argc]` into
    /// `cur, stop, step` in `R[base..base+3]`.
    RangeInit {
        /// Base register.
        base: Reg,
        /// How many arguments were given (1 to 3).
        argc: u8,
    },
    /// `R[var] = cur; cur += step`, or jump when done.
    RangeNext {
        /// Base register (`cur, stop, step`).
        base: Reg,
        /// Item register.
        var: Reg,
        /// Exit offset.
        off: i32,
    },
    /// Installs an error handler: on error, jump by `off` with the error
    /// value in `R[err]`.
    TryBegin {
        /// Register for the caught error.
        err: Reg,
        /// Offset to the handler.
        off: i32,
    },
    /// Removes the innermost handler.
    TryEnd,
    /// Throws `R[src]`.
    Throw {
        /// The thrown value.
        src: Reg,
    },
    /// Runs module `idx` (once per process) and puts it in `R[dst]`.
    Import {
        /// Destination.
        dst: Reg,
        /// Index into the prototype's imports.
        idx: u16,
    },
    /// `R[dst] = K[k]` for a constant past the first 65,536 (a long
    /// generated script); the other forms take a `u16` index.
    ConstWide {
        /// Destination.
        dst: Reg,
        /// Constant index.
        k: u32,
    },
    /// `R[dst] = R[obj].name` with the name in `R[name]`: [`Instr::GetField`]
    /// for a name whose constant index does not fit a `u16`.
    GetFieldR {
        /// Destination.
        dst: Reg,
        /// Object.
        obj: Reg,
        /// Register holding the field name (a string).
        name: Reg,
    },
    /// `R[obj].name = R[val]` with the name in `R[name]` (see
    /// [`Instr::GetFieldR`]).
    SetFieldR {
        /// Object (a variable's register).
        obj: Reg,
        /// The value.
        val: Reg,
        /// Register holding the field name.
        name: Reg,
    },
    /// `R[dst] = ~R[src]` (bitwise not of an int)
    BitNot {
        /// Destination.
        dst: Reg,
        /// Operand.
        src: Reg,
    },
    /// Destructuring: takes the list (or range, or string) in `R[src]`
    /// apart into `R[dst..]`: its first `before` items, then (with `rest`)
    /// a list of the items in the middle, then its last `after` items. The
    /// length must match (`ValueError` naming both counts).
    Unpack {
        /// The value taken apart.
        src: Reg,
        /// First destination register.
        dst: Reg,
        /// Items bound before the rest (or all of them, without a rest).
        before: u8,
        /// Items bound after the rest.
        after: u8,
        /// Whether a `...name` takes the middle as a list.
        rest: bool,
    },
    /// Starts the error path of a `finally` block, whose error is in
    /// `R[err]`. If the error is the running task's cancellation, the
    /// block runs shielded: calls and loops inside it are not interrupted
    /// until the matching [`Instr::Rethrow`] (or an error leaving the block).
    FinallyEnter {
        /// Register holding the caught error.
        err: Reg,
    },
    /// Ends the error path of a `finally` block: lifts its shield and
    /// throws `R[src]` on, unchanged (its trace is not extended again for
    /// this frame).
    Rethrow {
        /// The error to rethrow.
        src: Reg,
    },

    // ----- Superinstructions: each exists only for speed and means exactly
    // what the sequence of general instructions it replaces means. -----
    /// `R[dst] = captures[idx][R[key]]` (`GetCapture` + `Index`: `xs[i]`
    /// in a closure that captured `xs`). Reads the captured container in
    /// place: no reference to it is taken, so threads running the same
    /// closure do not contend on its reference count.
    IndexCapture {
        /// Destination.
        dst: Reg,
        /// Capture index of the container.
        idx: u16,
        /// The key.
        key: Reg,
    },
    /// `R[dst] = R[obj][imm]` (`Int` + `Index`: `pair[0]`, `xs[-1]`).
    IndexI {
        /// Destination.
        dst: Reg,
        /// Container.
        obj: Reg,
        /// The index.
        imm: i16,
    },
    /// `R[dst] = R[obj][R[key]][imm]` without copying the inner container
    /// (`Index` + `Int` + `Index`: `bodies[i][0]`).
    Index2I {
        /// Destination.
        dst: Reg,
        /// Outer container.
        obj: Reg,
        /// Outer index or key.
        key: Reg,
        /// Inner index.
        imm: i16,
    },
    /// `R[dst] = R[obj][R[k1]][R[k2]]` without copying the inner container
    /// (`Index` + `Index`: `grid[i][j]`, keys in locals).
    Index2 {
        /// Destination.
        dst: Reg,
        /// Outer container.
        obj: Reg,
        /// Outer index or key.
        k1: Reg,
        /// Inner index or key.
        k2: Reg,
    },
    /// `R[root][R[key]][imm] = R[val]`, or `op=` it: a depth-2
    /// [`Instr::SetPath`] with the keys read in place (`bodies[i][3] -= d`).
    SetIndex2I {
        /// The variable's register.
        root: Reg,
        /// Outer index or key.
        key: Reg,
        /// The value (or right operand).
        val: Reg,
        /// For compound assignment, the operator.
        op: Option<BinOp>,
        /// Inner index.
        imm: i16,
    },
}

/// Where a closure's captured value comes from, evaluated in the creating
/// frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaptureSrc {
    /// A register of the creating frame.
    Local(Reg),
    /// A capture of the creating closure.
    Capture(u16),
    /// The creating closure itself.
    SelfFn,
    /// A sibling of the creating closure in its hoisting group.
    Sibling(u16),
}

/// A method call site: the interned method (if the name is a known built-in
/// method) and the name as written.
#[derive(Clone, Debug)]
pub struct MethodSite {
    /// The built-in method, if the name is one.
    pub id: Option<Method>,
    /// The name as written.
    pub name: Box<str>,
    /// The receiver is not a variable this code may mutate (a temporary, a
    /// captured or module variable): a mutating method on a list, map or
    /// string throws instead of silently changing a copy.
    pub readonly: bool,
    /// The receiver was computed into a temporary: after the call it is
    /// dropped rather than put back, so no stale reference keeps a list or
    /// map shared.
    pub temp_recv: bool,
}

/// The root of an assignment path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathRoot {
    /// A register of the running frame.
    Reg,
    /// A module variable slot (top-level code only).
    Global(u16),
}

/// An assignment or mutating-method path such as `grid[i][j]` or `m.k`.
#[derive(Clone, Debug)]
pub struct PathDesc {
    /// Where the path starts.
    pub root: PathRoot,
    /// Number of keys.
    pub depth: u8,
    /// Bit `i` set: key `i` was written `.name` rather than `[expr]`.
    pub fields: u32,
    /// For compound assignment, the operator.
    pub op: Option<BinOp>,
    /// For a method call, the method site.
    pub site: Option<u16>,
}

/// A module-variable slot.
#[derive(Debug)]
pub enum Slot {
    /// Set once; reading is one atomic load.
    Once(OnceLock<Value>),
    /// Reassigned by top-level code; guarded by a lock.
    Cell(Mutex<Option<Value>>),
}

impl Slot {
    /// A new, unset write-once slot.
    pub fn once() -> Arc<Slot> {
        Arc::new(Slot::Once(OnceLock::new()))
    }

    /// A new, unset reassignable slot.
    pub fn cell() -> Arc<Slot> {
        Arc::new(Slot::Cell(Mutex::new(None)))
    }

    /// The current value, if set.
    pub fn get(&self) -> Option<Value> {
        match self {
            Slot::Once(c) => c.get().cloned(),
            Slot::Cell(m) => m.lock().clone(),
        }
    }

    /// Sets the value. A write-once slot that is already set keeps its
    /// value (the compiler never emits a second write to one). A value set
    /// once lives as long as the process, so it is made immortal: workers
    /// reading a module variable do not contend on its reference count.
    pub fn set(&self, v: Value) {
        match self {
            Slot::Once(c) => {
                if c.set(v).is_ok() {
                    if let Some(v) = c.get() {
                        v.make_immortal();
                    }
                }
            }
            Slot::Cell(m) => *m.lock() = Some(v),
        }
    }
}

/// The module variables of one file (or of one REPL input).
#[derive(Debug)]
pub struct ModuleEnv {
    /// The slots, indexed by `GetGlobal`/`SetGlobal`.
    pub slots: Box<[Arc<Slot>]>,
    /// The variables' names, for `NameError` messages.
    pub names: Box<[Box<str>]>,
}

/// A function's instructions, checked when they are built so that the
/// VM can step through them with a pointer instead of a bounds-checked
/// index (`vm.rs`, the dispatch loop). The only way to make a `Code` is
/// [`Code::new`], which guarantees:
/// - the code is not empty, and its last instruction never goes on to the
///   next one ([`Instr::ends_flow`]), so stepping past an instruction that
///   falls through stays inside the code;
/// - every jump ([`Instr::jump_offset`]) lands on an instruction of the
///   code.
///
/// It reads (and prints) as the slice of its instructions.
pub struct Code(Box<[Instr]>);

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Code {
    /// Checks `code` (see [`Code`]); the error says what is wrong (a
    /// compiler bug).
    pub fn new(code: Box<[Instr]>) -> Result<Code, String> {
        match code.last() {
            None => return Err("a function without instructions".into()),
            Some(last) if !last.ends_flow() => {
                return Err(format!("the last instruction {last:?} falls through"))
            }
            Some(_) => {}
        }
        for (i, ins) in code.iter().enumerate() {
            if let Some(off) = ins.jump_offset() {
                let target = i as i64 + 1 + i64::from(off);
                if target < 0 || target >= code.len() as i64 {
                    return Err(format!(
                        "instruction {i} ({ins:?}) jumps to {target}, outside 0..{}",
                        code.len()
                    ));
                }
            }
        }
        Ok(Code(code))
    }
}

impl std::ops::Deref for Code {
    type Target = [Instr];
    fn deref(&self) -> &[Instr] {
        &self.0
    }
}

impl Instr {
    /// The offset this instruction may jump by (relative to the next
    /// instruction), for every instruction that has one.
    pub fn jump_offset(&self) -> Option<i32> {
        match *self {
            Instr::Jump { off }
            | Instr::Loop { off }
            | Instr::JumpIfFalse { off, .. }
            | Instr::JumpIfTrue { off, .. }
            | Instr::JumpIfNot { off, .. }
            | Instr::JumpIfNotLtI { off, .. }
            | Instr::JumpIfNotLtK { off, .. }
            | Instr::JumpIfNotLeI { off, .. }
            | Instr::JumpIfNotGtI { off, .. }
            | Instr::JumpIfNotGeI { off, .. }
            | Instr::JumpIfNotEqI { off, .. }
            | Instr::JumpIfNotNeI { off, .. }
            | Instr::JumpIfNotNil { off, .. }
            | Instr::JumpIfNil { off, .. }
            | Instr::IterNext { off, .. }
            | Instr::IterNext2 { off, .. }
            | Instr::RangeNext { off, .. }
            | Instr::TryBegin { off, .. } => Some(off),
            _ => None,
        }
    }

    /// Whether execution never continues with the next instruction
    /// (returns, throws and unconditional jumps).
    pub fn ends_flow(&self) -> bool {
        matches!(
            self,
            Instr::Return { .. }
                | Instr::ReturnNil
                | Instr::Jump { .. }
                | Instr::Loop { .. }
                | Instr::Throw { .. }
                | Instr::Rethrow { .. }
        )
    }
}

/// One compiled function or top-level chunk.
pub struct Proto {
    /// The function's name (`None` for anonymous functions and top-level code).
    pub name: Option<Box<str>>,
    /// Whether this is a file's top-level code (traces say `<main>`).
    pub is_main: bool,
    /// The source file name, as shown in traces.
    pub file: Arc<str>,
    /// Number of parameters (they arrive in registers `0..nparams`).
    pub nparams: u8,
    /// For a function with default parameter values: where a call with
    /// `nparams - default_entries.len() + i` arguments starts (code that
    /// evaluates the missing defaults, then jumps to 0). A call with all
    /// `nparams` arguments starts at 0 and never runs this code.
    pub default_entries: Box<[u32]>,
    /// Number of registers the frame needs.
    pub nregs: usize,
    /// The code (checked: see [`Code`]).
    pub code: Code,
    /// Source position of each instruction.
    pub pos: Box<[Pos]>,
    /// Constants.
    pub consts: Box<[Value]>,
    /// Child prototypes (closures created by this code).
    pub protos: Box<[&'static Proto]>,
    /// How each capture is obtained when a closure of this proto is created.
    pub captures: Box<[CaptureSrc]>,
    /// The captured variables' names, in the order of `captures` (for
    /// messages that name a capture, e.g. `--mpi` refusing a handle).
    pub capture_names: Box<[Box<str>]>,
    /// Whether frames of this proto need the running closure (for captures,
    /// `GetSelf` or `GetSibling`) in the register below their base.
    pub needs_callee: bool,
    /// For a hoisted function, its group (itself included), set once the
    /// group is built.
    pub siblings: OnceLock<&'static [&'static Proto]>,
    /// The module variables this code reads and writes.
    pub env: Arc<ModuleEnv>,
    /// Method call sites.
    pub methods: Box<[MethodSite]>,
    /// Assignment paths.
    pub paths: Box<[PathDesc]>,
    /// Imported modules.
    pub imports: Box<[Arc<ModuleUnit>]>,
    /// Inline caches of `CallGlobal`, one per instruction (speed only):
    /// the prototype a write-once module variable's function resolved to.
    /// The slot never changes once set, so neither does the entry. Set
    /// only when the site passes exactly the callee's parameters, so a
    /// cached call skips the arity check too.
    pub call_cache: Box<[OnceLock<&'static Proto>]>,
}

impl Proto {
    /// The name shown in traces: the function's name, `<fn>` for an
    /// anonymous function, `<main>` for top-level code.
    pub fn display_name(&self) -> &str {
        match (&self.name, self.is_main) {
            (_, true) => "<main>",
            (Some(n), false) => n,
            (None, false) => "<fn>",
        }
    }

    /// The fewest arguments a call may pass (parameters without a default).
    pub fn min_params(&self) -> usize {
        self.nparams as usize - self.default_entries.len()
    }

    /// Where a call with `argc` arguments starts, or `None` if `argc` is
    /// outside `min_params()..=nparams`.
    pub fn entry_for(&self, argc: usize) -> Option<usize> {
        let n = self.nparams as usize;
        if argc == n {
            return Some(0);
        }
        let min = self.min_params();
        if argc < min || argc > n {
            return None;
        }
        self.default_entries.get(argc - min).map(|&pc| pc as usize)
    }

    /// The source position of the instruction at `pc`.
    pub fn pos_at(&self, pc: usize) -> Pos {
        self.pos.get(pc).copied().unwrap_or_default()
    }

    /// A human-readable listing of the code (for debugging and tests).
    pub fn disassemble(&self) -> String {
        let mut out = String::new();
        for (i, ins) in self.code.iter().enumerate() {
            out.push_str(&format!("{i:4} {ins:?}\n"));
        }
        out
    }

    /// [`Proto::disassemble`] of this prototype and of every function
    /// defined in it, depth first, each under a `== name` header.
    pub fn disassemble_all(&self) -> String {
        let mut out = format!("== {} ({} registers)\n", self.display_name(), self.nregs);
        out.push_str(&self.disassemble());
        for p in self.protos.iter() {
            out.push_str(&p.disassemble_all());
        }
        out
    }
}

impl fmt::Debug for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "<proto {} ({} instrs)>",
            self.display_name(),
            self.code.len()
        )
    }
}

/// A compiled `.weft` module: its top-level code and the once-per-process
/// cell holding the result of running it.
pub struct ModuleUnit {
    /// The name `import` binds by default (the last path segment).
    pub name: String,
    /// Where it came from (a path, or `<stdlib>/name.weft`).
    pub path: String,
    /// Its top-level code; returns the exports map.
    pub main: &'static Proto,
    /// The module value (or the error its body threw), set the first time
    /// an `import` of it runs.
    pub value: OnceLock<Result<Value, Error>>,
}

impl fmt::Debug for ModuleUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<module unit {} from {}>", self.name, self.path)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn instructions_are_eight_bytes() {
        assert_eq!(std::mem::size_of::<Instr>(), 8);
    }

    #[test]
    fn code_that_ends_the_flow_with_jumps_inside_is_accepted() {
        let code = Code::new(Box::new([
            Instr::JumpIfNotLtI {
                a: 0,
                imm: 2,
                off: 1,
            },
            Instr::Return { src: 0 },
            Instr::Jump { off: -3 },
        ]))
        .expect("valid code");
        assert_eq!(code.len(), 3);
        assert!(matches!(code[1], Instr::Return { src: 0 }));
        assert_eq!(format!("{code:?}"), format!("{:?}", &code[..]));
    }

    #[test]
    fn empty_code_is_refused() {
        let e = Code::new(Box::new([])).unwrap_err();
        assert!(e.contains("without instructions"), "{e}");
    }

    #[test]
    fn code_whose_last_instruction_falls_through_is_refused() {
        for last in [
            Instr::Nil { dst: 0 },
            Instr::JumpIfFalse { cond: 0, off: -1 },
            Instr::Call {
                dst: 0,
                f: 0,
                argc: 0,
            },
        ] {
            let e = Code::new(Box::new([Instr::Nil { dst: 0 }, last])).unwrap_err();
            assert!(e.contains("falls through"), "{e}");
        }
    }

    #[test]
    fn a_jump_outside_the_code_is_refused() {
        // One past the end, and before the start.
        for (at, off) in [(0, 1), (0, -2), (1, -3), (1, 0)] {
            let mut code = vec![Instr::Nil { dst: 0 }, Instr::ReturnNil];
            code[at] = Instr::JumpIfTrue { cond: 0, off };
            if at == 1 {
                code[at] = Instr::Jump { off };
            }
            let e = Code::new(code.into_boxed_slice()).unwrap_err();
            assert!(e.contains("outside 0..2"), "{at} {off}: {e}");
        }
        // Every instruction with an offset is checked.
        for ins in [
            Instr::Loop { off: 5 },
            Instr::IterNext {
                it: 0,
                var: 1,
                off: 5,
            },
            Instr::RangeNext {
                base: 0,
                var: 1,
                off: 5,
            },
            Instr::TryBegin { err: 0, off: 5 },
            Instr::JumpIfNil { a: 0, off: 5 },
        ] {
            assert_eq!(ins.jump_offset(), Some(5));
            assert!(Code::new(Box::new([ins, Instr::ReturnNil])).is_err());
        }
    }

    #[test]
    fn slots_read_back_what_was_set() {
        let once = Slot::once();
        assert!(once.get().is_none());
        once.set(Value::Int(1));
        once.set(Value::Int(2));
        assert_eq!(once.get(), Some(Value::Int(1)));
        let cell = Slot::cell();
        cell.set(Value::Int(1));
        cell.set(Value::Int(2));
        assert_eq!(cell.get(), Some(Value::Int(2)));
    }
}
