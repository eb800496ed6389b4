//! Parking a task's VM: how a native that must wait gives the thread back,
//! and how the task resumes later, on any thread.
//!
//! # The native-call protocol
//! A native that would wait (a channel receive on an empty channel, an
//! `await` of a running task, a `sleep`...) first asks
//! [`Vm::can_park`]. That is true only on a task's own VM
//! ([`Vm::enter_task`]), at the top level of its dispatch loop (no native
//! re-entry such as a `sort` key function in between: `reentry == 1`), and
//! only when the instruction being executed is a call of *that* native (so
//! a native called by another native never parks in its caller's place).
//! Then the native registers its task's [`Waker`](crate::pool::Waker) with
//! whatever will end the wait and returns `Err(vm.park(wait))`, where
//! `wait` is a [`Wait`]: what is awaited, and how to finish the operation.
//! Where parking is impossible (the main script, a re-entry), the same
//! native blocks its thread as before (compensated by the pool).
//!
//! The dispatch loop sees the parked state on its error path and leaves
//! `run` without unwinding: the frames, registers and `try` handlers stay
//! as they are, with the frame's `pc` just after the call.
//! [`Vm::take_parked`] then moves them into a compact [`ParkedVm`] (only
//! the registers in use), and the VM goes back to its thread's cache.
//!
//! # Resuming
//! [`Vm::resume`] moves a [`ParkedVm`] into an idle VM (any thread's) and
//! polls its [`Wait`]: still pending (a spurious wake) parks again at once;
//! a value is delivered where the call instruction puts its result (the
//! `dst` register, or a `for v in ch` step: the loop variable, or the jump
//! out when the channel is closed and drained, given as `nil`); an error is
//! thrown from the call site, exactly as if the native had returned it.
//! Then the dispatch loop goes on.
//!
//! # Holding the VM (speed only)
//! A task that parks again and again (a ping-pong, a ring, a consumer in
//! a loop) would move its registers and frames out of a VM at every park
//! and into another at every resume. Instead, a task that parks *after a
//! resumption* may keep its whole VM, parked as it is, in a [`HeldVm`]:
//! its next resume runs on that VM in place ([`Vm::resume_held`]), on any
//! thread, and when the task ends the VM goes back to the cache of the
//! thread it ended on. A task's first park always takes the compact form
//! (most tasks park once or never), and at most [`MAX_HELD_VMS`] VMs are
//! held in the process at once (each holds its stack, ~16 KB, while a
//! compact [`ParkedVm`] holds only the registers in use: a million parked
//! tasks stay small). What a script sees is the same in both forms: the
//! held VM is in exactly the state [`Vm::take_parked`] would have moved
//! out, and [`Vm::resume_held`] does what [`Vm::resume`] does after
//! moving it back in.
//!
//! # Time slices
//! At each Weft call and loop back-edge the VM counts down; every
//! [`TICKS`] checkpoints it looks at the clock (and at its cancel token
//! and flag: see `Vm::checkpoint` for how a cancellation is still seen
//! at the next checkpoint). A task's VM that has run
//! for its slice (`time_slice_ms`) while other tasks wait in its worker's
//! queues yields: it parks with nothing to wait for, with `pc` back on the
//! instruction, and goes to the back of the queue. Work that is alone on
//! its worker, a re-entry, `parallel_*` items (not task VMs) and the main
//! script are never sliced.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use super::{cancelled, set_int, set_reg, CallSite, Frame, Handler, Vm, RED_ZONE, STACK_SEGMENT};
use crate::bytecode::Instr;
use crate::error::{Error, ErrorKind, Result};
use crate::stdlib::Method;
use crate::value::Value;

/// Checkpoints (calls and loop back-edges) between two looks at the clock.
pub(super) const TICKS: u32 = 1024;

/// What a parked task waits for, and how its operation finishes.
pub trait Wait: Send {
    /// Called each time the task runs again (after a wake, which may be
    /// spurious): the operation's result, or `Pending` to park again (the
    /// waker registered before stays registered). `vm` holds the task's
    /// restored frames (for [`Vm::call_site`] and its cancel token).
    fn poll(&mut self, vm: &mut Vm) -> Poll<Result<Value>>;

    /// What the task waits for, for a deadlock report: `recv on channel 3`,
    /// `await task 4`, `sleep`, ...
    fn describe(&self) -> String;

    /// The wait is over (its poll was ready): dropped, or its allocation
    /// kept for the next wait of its kind on this thread.
    fn done(self: Box<Self>) {}
}

/// Which call a native that wants to park is executing, so the VM can check
/// that it is the instruction being executed (see the module docs).
#[derive(Clone, Copy, Debug)]
pub enum Call {
    /// A global native, by name (`await`, `sleep`, `select`...).
    Native(&'static str),
    /// A built-in method (`recv`, `send`, `update`...).
    Method(Method),
    /// A `for v in ch` step.
    ForIn,
}

/// Why a VM left its dispatch loop without finishing.
pub(super) enum Parking {
    /// A native parked on this.
    Wait(Box<dyn Wait>),
    /// The time slice ran out: resume at the same instruction.
    Yield,
}

/// A VM's task-related state.
pub(super) struct ParkState {
    /// This VM runs a task's code at its top level (it may park).
    parkable: bool,
    /// Set by [`Vm::park`] or a yield, until [`Vm::take_parked`].
    pub(super) parking: Option<Parking>,
    /// Checkpoints left before the next look at the clock.
    ticks: Cell<u32>,
    /// A checkpoint decided to yield; the error path acts on it.
    yield_wanted: Cell<bool>,
    /// When the current slice started (set lazily at the first look).
    slice_start: Cell<Option<Instant>>,
    /// `time_slice_ms`, or zero for no slicing.
    slice: Duration,
    /// Calls active below this VM (an awaiter that runs this task inline),
    /// counted in its depth limit.
    pub(super) depth_base: usize,
    /// `max_depth` before [`Vm::enter_task`].
    saved_max_depth: usize,
    /// The register box of the last task resumed here, emptied (all
    /// `nil`): [`Vm::take_parked`] fills it again when the next park needs
    /// as many registers (a task parking in the same loop, or the next
    /// task of a ring), so a park allocates nothing for its registers.
    spare: Option<Box<[Value]>>,
}

impl Default for ParkState {
    fn default() -> Self {
        ParkState {
            parkable: false,
            parking: None,
            ticks: Cell::new(TICKS),
            yield_wanted: Cell::new(false),
            slice_start: Cell::new(None),
            slice: Duration::ZERO,
            depth_base: 0,
            saved_max_depth: 0,
            spare: None,
        }
    }
}

/// A parked task's VM state: its registers in use, frames and handlers,
/// and what it waits for. Small: a task parked in a loop of one function
/// holds a few hundred bytes (a million may be parked at once), so what
/// most parked tasks do not have (`try` handlers, `finally` shields) is
/// boxed. Its depth limit is not kept: [`Vm::enter_task`], called before
/// each [`Vm::resume`] with the task's depth base, sets it again.
pub struct ParkedVm {
    stack: Box<[Value]>,
    frames: Frames,
    /// The `try` handlers and the `finally` blocks running on their error
    /// paths, if there are any.
    guards: Option<Box<Guards>>,
    parking: Parking,
}

/// A parked VM's frames: one inline (a task parked in its own function,
/// the common case, allocates nothing for them), or several boxed. The
/// same size as the box alone: the tag lives in the frame's `entry` byte.
enum Frames {
    One(Frame),
    Many(Box<[Frame]>),
}

impl Frames {
    /// The innermost frame.
    fn last(&self) -> Option<&Frame> {
        match self {
            Frames::One(f) => Some(f),
            Frames::Many(fs) => fs.last(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Frames::One(_) => 1,
            Frames::Many(fs) => fs.len(),
        }
    }
}

/// A parked VM's `try` handlers and `finally` shields.
struct Guards {
    handlers: Box<[Handler]>,
    shields: Vec<super::Shield>,
}

impl std::fmt::Debug for ParkedVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<parked vm: {} frames>", self.frames.len())
    }
}

impl ParkedVm {
    /// Where the task waits (the call it parked in).
    pub fn call_site(&self) -> Option<CallSite> {
        let f = self.frames.last()?;
        Some(CallSite {
            proto: f.proto,
            pc: f.pc,
        })
    }

    /// What the task waits for (`None` after a yield: it waits for nothing).
    pub fn describe(&self) -> Option<String> {
        match &self.parking {
            Parking::Wait(w) => Some(w.describe()),
            Parking::Yield => None,
        }
    }
}

/// VMs held by parked (or running) tasks at most, process-wide (see the
/// module docs, "Holding the VM"). A soft bound: two threads may pass it
/// by one each at the same instant.
pub const MAX_HELD_VMS: usize = 64;

/// A held VM's stack (registers) at most: a VM grown by deep recursion is
/// not held (its task parks in the compact form).
const MAX_HELD_STACK: usize = 4096;

/// VMs held now ([`HeldVm`] values alive).
static HELD_VMS: AtomicUsize = AtomicUsize::new(0);

/// A parked task's whole VM, kept by the task (see the module docs,
/// "Holding the VM"). Counted in [`MAX_HELD_VMS`] while it exists; dropped,
/// its VM goes back to the current thread's cache if idle.
pub struct HeldVm {
    /// Always `Some` until dropped.
    vm: Option<Box<Vm>>,
}

impl HeldVm {
    /// Keeps `vm`, parked, whole for its task: `Err(vm)` (unchanged) if it
    /// is not parked, its stack is large, or [`MAX_HELD_VMS`] are held.
    /// Call after [`Vm::leave_task`] and with the cancel token taken out
    /// (as before [`Vm::take_parked`]).
    pub fn hold(mut vm: Box<Vm>) -> std::result::Result<HeldVm, Box<Vm>> {
        if !vm.is_parked()
            || vm.stack.len() > MAX_HELD_STACK
            || HELD_VMS.load(Ordering::Relaxed) >= MAX_HELD_VMS
        {
            return Err(vm);
        }
        HELD_VMS.fetch_add(1, Ordering::Relaxed);
        // As a VM put back in a thread's cache: the flag goes (a `finally`
        // shield keeps its own copy).
        vm.cancel = None;
        Ok(HeldVm { vm: Some(vm) })
    }

    /// The held VM.
    #[inline]
    pub fn vm(&mut self) -> &mut Vm {
        self.vm.as_mut().expect("a held VM is there until dropped")
    }

    /// Where the task waits (the call it parked in), as
    /// [`ParkedVm::call_site`].
    pub fn call_site(&self) -> Option<CallSite> {
        let f = self.vm.as_ref()?.frames.last()?;
        Some(CallSite {
            proto: f.proto,
            pc: f.pc,
        })
    }

    /// What the task waits for, as [`ParkedVm::describe`].
    pub fn describe(&self) -> Option<String> {
        match self.vm.as_ref()?.park.parking.as_ref()? {
            Parking::Wait(w) => Some(w.describe()),
            Parking::Yield => None,
        }
    }

    /// VMs held now, process-wide (tests).
    pub fn count() -> usize {
        HELD_VMS.load(Ordering::Relaxed)
    }
}

impl Drop for HeldVm {
    fn drop(&mut self) {
        HELD_VMS.fetch_sub(1, Ordering::Relaxed);
        if let Some(vm) = self.vm.take() {
            super::give_back_vm(vm);
        }
    }
}

impl std::fmt::Debug for HeldVm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.vm.as_ref().map_or(0, |vm| vm.frames.len());
        write!(f, "<held vm: {n} frames>")
    }
}

thread_local! {
    /// The error a parking native returns (one per thread: cloning it is
    /// an uncontended reference count).
    static SIGNAL: Error = Error::new(
        ErrorKind::Error,
        "internal: a parked task's VM left its loop (this error is never seen)",
    );
}

fn park_signal() -> Error {
    SIGNAL.with(Error::clone)
}

fn is_native(v: &Value, name: &str) -> bool {
    matches!(v, Value::Native(n) if n.name == name)
}

impl Vm {
    /// This VM is about to run a task's code (its first run or a resumption,
    /// [`Vm::resume`]): it may park and yield, with time slices of `slice`
    /// (zero: never sliced), and `depth_base` calls active below it (an
    /// awaiter running the task inline, counted in the depth limit).
    pub fn enter_task(&mut self, slice: Duration, depth_base: usize) {
        let p = &mut self.park;
        p.parkable = true;
        p.slice = slice;
        p.slice_start.set(None);
        p.yield_wanted.set(false);
        p.depth_base = depth_base;
        p.saved_max_depth = self.max_depth;
        self.max_depth = self.max_depth.saturating_sub(depth_base).max(1);
    }

    /// The task's run on this VM is over (it finished or parked).
    pub fn leave_task(&mut self) {
        let p = &mut self.park;
        p.parkable = false;
        p.depth_base = 0;
        if p.saved_max_depth != 0 {
            self.max_depth = p.saved_max_depth;
            p.saved_max_depth = 0;
        }
    }

    /// Whether the native executing `call` may park this VM now (see the
    /// module docs). The slow path of a waiting native: free to be slow.
    pub fn can_park(&self, call: Call) -> bool {
        if !self.park.parkable || self.reentry != 1 || self.park.parking.is_some() {
            return false;
        }
        let Some(f) = self.frames.last() else {
            return false;
        };
        let pc = f.pc as usize;
        let base = f.base as usize;
        let Some(ins) = pc.checked_sub(1).and_then(|i| f.proto.code.get(i)) else {
            return false;
        };
        let reg = |r: u8| self.stack.get(base + r as usize);
        match (*ins, call) {
            (
                Instr::Call { f: r, .. }
                | Instr::CallGlobal { f: r, .. }
                | Instr::CallGlobalSubI { f: r, .. },
                Call::Native(name),
            ) => reg(r).is_some_and(|v| is_native(v, name)),
            // `module.native(...)`: a member function, called in the loop.
            (Instr::CallMethod { recv, args, .. }, Call::Native(name)) => {
                matches!(reg(recv), Some(Value::Module(_) | Value::Map(_)))
                    && args
                        .checked_sub(1)
                        .and_then(reg)
                        .is_some_and(|v| is_native(v, name))
            }
            (Instr::CallMethod { site, .. }, Call::Method(m)) => {
                f.proto.methods.get(site as usize).and_then(|s| s.id) == Some(m)
            }
            (Instr::CallMethodPath { desc, .. }, Call::Method(m)) => {
                f.proto
                    .paths
                    .get(desc as usize)
                    .and_then(|d| d.site)
                    .and_then(|s| f.proto.methods.get(s as usize))
                    .and_then(|s| s.id)
                    == Some(m)
            }
            (Instr::IterNext { .. } | Instr::IterNext2 { .. }, Call::ForIn) => true,
            (Instr::Select { .. }, Call::Native("select")) => true,
            _ => false,
        }
    }

    /// Parks this VM on `wait`: returns the error the native must return
    /// at once (the dispatch loop recognises it). Only after
    /// [`can_park`](Self::can_park) said yes.
    pub fn park(&mut self, wait: Box<dyn Wait>) -> Error {
        debug_assert!(self.park.parking.is_none(), "parked twice");
        self.park.parking = Some(Parking::Wait(wait));
        park_signal()
    }

    /// Whether the VM left its loop to park or yield (the error it returned
    /// is the park signal, not a real error).
    pub fn is_parked(&self) -> bool {
        self.park.parking.is_some()
    }

    /// Whether the VM left its loop to yield (not to wait).
    pub fn is_yielding(&self) -> bool {
        matches!(self.park.parking, Some(Parking::Yield))
    }

    /// Moves the parked state out (registers in use, frames, handlers, the
    /// wait), leaving the VM idle; `None` if the VM is not parked.
    pub fn take_parked(&mut self) -> Option<ParkedVm> {
        let parking = self.park.parking.take()?;
        let top = self
            .frames
            .last()
            .map_or(0, |f| f.base as usize + f.proto.nregs)
            .min(self.stack.len());
        let stack = match self.park.spare.take() {
            // Refill the emptied box of the last task resumed here.
            // (A swap: the box holds `nil`s, which go back to the VM.)
            Some(mut spare) if spare.len() == top => {
                spare.swap_with_slice(&mut self.stack[..top]);
                spare
            }
            _ => {
                let mut stack = Vec::with_capacity(top);
                stack.extend(self.stack[..top].iter_mut().map(std::mem::take));
                stack.into_boxed_slice()
            }
        };
        let frames = match self.frames.len() {
            1 => Frames::One(self.frames.pop()?),
            _ => Frames::Many(self.frames.drain(..).collect()),
        };
        let guards = (!self.handlers.is_empty() || !self.shields.is_empty()).then(|| {
            Box::new(Guards {
                handlers: self.handlers.drain(..).collect(),
                shields: std::mem::take(&mut self.shields),
            })
        });
        Some(ParkedVm {
            stack,
            frames,
            guards,
            parking,
        })
    }

    /// Resumes a parked task on this (idle) VM: restores its state, polls
    /// what it waits for, delivers the result and runs on. Returns like the
    /// call that started the task, or the park signal again (check
    /// [`is_parked`](Self::is_parked)). Call [`enter_task`](Self::enter_task)
    /// first, with the depth base the task parked with.
    pub fn resume(&mut self, parked: ParkedVm) -> Result<Value> {
        debug_assert!(
            self.frames.is_empty() && self.reentry == 0,
            "resume on a busy VM"
        );
        let ParkedVm {
            mut stack,
            frames,
            guards,
            parking,
        } = parked;
        self.ensure_stack(stack.len() + 1);
        // A swap: an idle VM's registers are all `nil` (a finished call
        // clears its window, `take_parked` empties what it moves), so the
        // box is left holding `nil`s, kept for the next park on this VM
        // (`take_parked`).
        let n = stack.len();
        self.stack[..n].swap_with_slice(&mut stack);
        self.park.spare = Some(stack);
        match frames {
            Frames::One(f) => self.frames.push(f),
            Frames::Many(fs) => self.frames.extend(fs.into_vec()),
        }
        if let Some(g) = guards {
            let Guards { handlers, shields } = *g;
            self.handlers.extend(handlers.into_vec());
            if shields.iter().any(|s| s.saved.is_some()) {
                // Parked in a `finally` block run for the task's
                // cancellation: the shield holds the task's cancellation
                // (installed again when the block ends), so the block's
                // waits are not cancelled.
                self.cancel = None;
                self.token = None;
            }
            self.shields = shields;
        }
        self.reentry += 1;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.continue_parked(parking));
        self.reentry -= 1;
        r
    }

    /// Resumes the parked task this VM holds in place ([`HeldVm`]): what
    /// [`resume`](Self::resume) does once the state is moved back in
    /// (polls the wait, delivers the result, runs on). Call
    /// [`enter_task`](Self::enter_task) and install the task's cancel
    /// token first, as for `resume`.
    pub fn resume_held(&mut self) -> Result<Value> {
        debug_assert!(self.reentry == 0, "resume_held on a busy VM");
        let Some(parking) = self.park.parking.take() else {
            return Err(Error::new(
                ErrorKind::Error,
                "internal: a held VM was resumed while not parked",
            ));
        };
        if self.shields.iter().any(|s| s.saved.is_some()) {
            // As in `resume`: parked in a shielded `finally` block.
            self.cancel = None;
            self.token = None;
        }
        self.reentry += 1;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || self.continue_parked(parking));
        self.reentry -= 1;
        r
    }

    fn continue_parked(&mut self, parking: Parking) -> Result<Value> {
        if let Parking::Wait(mut wait) = parking {
            match wait.poll(self) {
                Poll::Pending => {
                    self.park.parking = Some(Parking::Wait(wait));
                    return Err(park_signal());
                }
                Poll::Ready(Ok(v)) => {
                    wait.done();
                    self.deliver(v);
                }
                Poll::Ready(Err(e)) => {
                    wait.done();
                    return self.throw_and_run(e, 0);
                }
            }
        }
        self.run(0)
    }

    /// Puts a parked call's result where its instruction puts it.
    fn deliver(&mut self, v: Value) {
        let Some(f) = self.frames.last_mut() else {
            return;
        };
        let base = f.base as usize;
        let pc = f.pc as usize;
        let ins = f.proto.code[pc - 1];
        match ins {
            Instr::Call { dst, .. }
            | Instr::CallGlobal { dst, .. }
            | Instr::CallGlobalSubI { dst, .. }
            | Instr::CallMethod { dst, .. }
            | Instr::CallMethodPath { dst, .. }
            | Instr::Select { dst, .. } => {
                set_reg(&mut self.stack[base + dst as usize], v);
            }
            // `for v in ch`: `nil` is "closed and drained" (nil is never
            // sent), which leaves the loop.
            Instr::IterNext { it, var, off } => {
                if matches!(v, Value::Nil) {
                    f.pc = (pc as isize + off as isize) as u32;
                } else {
                    let i = self.iter_count(base + it as usize + 1);
                    set_int(&mut self.stack[base + it as usize + 1], i + 1);
                    set_reg(&mut self.stack[base + var as usize], v);
                }
            }
            Instr::IterNext2 { it, a, b, off } => {
                if matches!(v, Value::Nil) {
                    f.pc = (pc as isize + off as isize) as u32;
                } else {
                    let i = self.iter_count(base + it as usize + 1);
                    set_int(&mut self.stack[base + it as usize + 1], i + 1);
                    set_int(&mut self.stack[base + a as usize], i);
                    set_reg(&mut self.stack[base + b as usize], v);
                }
            }
            other => debug_assert!(false, "a parked call ended at {other:?}"),
        }
    }

    fn iter_count(&self, at: usize) -> i64 {
        match self.stack[at] {
            Value::Int(i) => i,
            _ => 0,
        }
    }

    /// The dispatch loop's error path saw a parked state: a yield resumes
    /// at the instruction that yielded, not after it.
    #[cold]
    pub(super) fn parked_exit(&mut self) {
        if let Some(Parking::Yield) = self.park.parking {
            if let Some(f) = self.frames.last_mut() {
                f.pc -= 1;
            }
        }
    }

    /// The check at each Weft call and loop back-edge: true if the VM must
    /// stop there (cancelled, or its time slice is over); then
    /// [`checkpoint_error`](Self::checkpoint_error) says how.
    ///
    /// One counter (speed only: this runs on every call): the cancel token
    /// and flag are looked at every [`TICKS`] checkpoints, with the clock.
    /// A cancellation made on this thread is seen at the next checkpoint all
    /// the same: whatever can cancel runs in a native, and the VM calls
    /// [`note_cancel`](Self::note_cancel) after natives, after installing a
    /// token or flag, and after a `finally` block gives them back.
    #[inline(always)]
    pub(super) fn checkpoint(&self) -> bool {
        let t = self.park.ticks.get();
        if t == 0 {
            return self.checkpoint_slow();
        }
        self.park.ticks.set(t - 1);
        false
    }

    /// After code that may have cancelled this VM (a native, a token or
    /// flag installed): if it is cancelled, the next checkpoint stops.
    #[inline(always)]
    pub(super) fn note_cancel(&self) {
        if self.is_cancelled() {
            self.park.ticks.set(0);
        }
    }

    #[cold]
    #[inline(never)]
    fn checkpoint_slow(&self) -> bool {
        let p = &self.park;
        if self.is_cancelled() {
            // The counter stays at zero: while the VM is cancelled every
            // checkpoint stops (a caught `Cancelled` is thrown again at the
            // next call or loop iteration).
            return true;
        }
        p.ticks.set(TICKS);
        if p.parkable && self.reentry == 1 && !p.slice.is_zero() {
            let now = Instant::now();
            match p.slice_start.get() {
                None => p.slice_start.set(Some(now)),
                Some(start) => {
                    if now.saturating_duration_since(start) >= p.slice
                        && crate::pool::work_is_waiting()
                    {
                        p.yield_wanted.set(true);
                        return true;
                    }
                }
            }
        }
        false
    }

    /// What a checkpoint that said "stop" throws: `Cancelled`, or the park
    /// signal of a yield.
    #[cold]
    #[inline(never)]
    pub(super) fn checkpoint_error(&mut self) -> Error {
        if self.park.yield_wanted.replace(false) && !self.is_cancelled() {
            self.park.parking = Some(Parking::Yield);
            return park_signal();
        }
        cancelled()
    }
}
