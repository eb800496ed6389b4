//! Bodies run in the loop: a native (`scope`, `within`) that calls a Weft
//! function and must do something after it (join the scope's children,
//! turn the deadline's cancellation into `Timeout`) without a Rust frame
//! between that function and the dispatch loop, so that waits inside the
//! function park like any other task wait.
//!
//! # The protocol
//! - **Start.** The native, when [`Vm::can_run_body`] says so (a task's VM
//!   that may park at this call, a Weft function, the task's waker known),
//!   returns `Err(vm.start_body(f, args, region, cont))`: the call to make,
//!   the region's cancel token and a Rust continuation. The dispatch loop
//!   leaves on its error path as for a park (the frames stay, the caller's
//!   `pc` just after the call); [`Vm::run`] (the loop's wrapper) sees the
//!   pending start, pushes `f`'s frame above the caller's window as an
//!   *entry* frame, records a [`Body`] (the frame's index, the continuation,
//!   the tokens it replaced) and runs the loop again.
//! - **While the body runs** the region's token is the VM's token and the
//!   thread's current token; a callback on the region's token wakes the
//!   task, so a deadline or a sibling's failure reaches a body parked in a
//!   wait (the wait gives up on the VM's token: `Cancelled`).
//! - **End.** An entry frame's `return` leaves the loop, and `unwind` stops
//!   at an entry frame (a body frame is the only entry frame above the
//!   loop's own). The wrapper sees that the innermost body's frame is
//!   gone, puts the tokens back, and runs the continuation with the body's
//!   outcome. Its value goes where the native's call puts its result; its
//!   error is thrown from the native's call site; or it parks (the
//!   scope's join), the caller's frame on top, as the native itself would.
//! - **Park inside a body.** The wrapper wraps the wait in an [`InBody`]
//!   holding the body records (the [`ParkedVm`](super::ParkedVm) keeps the
//!   frames). On resume, on any thread, [`InBody`] puts the innermost
//!   region's token back as the VM's and the thread's token before polling
//!   the wait, and the records back into the VM once the wait is over. A
//!   task dropped while parked in a body cancels the bodies' regions.
//! - **Time slices.** A task is not sliced while it runs a body (a yield
//!   there is skipped; as a body called by a native re-entry before).
//!
//! # Why nothing is lost
//! The continuation runs exactly once: when the body's frame leaves by
//! `return` or by an error (the record is popped first). The wake
//! callback is registered before the body's first instruction, and a
//! region cancelled before that runs the callback at once, so a parked
//! body never misses its region's cancellation.

use std::task::Poll;

use super::park::Parking;
use super::{arity_error, set_reg, stack_overflow, Vm};
use crate::bytecode::Instr;
use crate::error::{Error, Result};
use crate::pool::{self, CancelToken};
use crate::value::Value;

/// What a native runs once its body ended: the body's outcome in, the
/// native's result out (or a park, through [`Vm::park`]).
pub type Cont = Box<dyn FnOnce(&mut Vm, Result<Value>) -> Result<Value> + Send>;

/// The bodies running on a VM, innermost last, and one about to start.
#[derive(Default)]
pub(super) struct Bodies {
    stack: Vec<Body>,
    start: Option<Box<Start>>,
}

impl Bodies {
    /// No body runs and none is about to start.
    #[inline(always)]
    pub(super) fn is_idle(&self) -> bool {
        self.stack.is_empty() && self.start.is_none()
    }
}

/// A body asked for by a native, not started yet.
struct Start {
    f: Value,
    args: Vec<Value>,
    region: CancelToken,
    cont: Cont,
    waker: pool::Waker,
}

/// A body running (or parked) on a VM.
struct Body {
    /// The index of its entry frame.
    frame: usize,
    cont: Cont,
    region: CancelToken,
    /// The VM's and the thread's tokens before it started.
    outer_vm: Option<CancelToken>,
    outer_thread: Option<CancelToken>,
    /// The waker of the task running it.
    waker: pool::Waker,
    /// Wakes the task when the region is cancelled (while the body runs).
    _wake: pool::Registration,
}

/// The signal a starting body parks on for an instant (never polled).
struct Starting;

impl super::Wait for Starting {
    fn poll(&mut self, _vm: &mut Vm) -> Poll<Result<Value>> {
        Poll::Ready(Err(Error::new(
            crate::error::ErrorKind::Error,
            "internal: a body start was polled",
        )))
    }

    fn describe(&self) -> String {
        "starting a body".to_string()
    }
}

/// A wait inside one or more bodies: the wait, and the bodies' records.
struct InBody {
    inner: Box<dyn super::Wait>,
    bodies: Vec<Body>,
}

impl super::Wait for InBody {
    fn poll(&mut self, vm: &mut Vm) -> Poll<Result<Value>> {
        let region = self.bodies.last().map(|b| b.region.clone());
        let shielded = vm.shields.iter().any(|s| s.saved.is_some());
        let outer_vm = if shielded {
            None
        } else {
            Some(vm.set_cancel_token(region.clone()))
        };
        let outer_thread = pool::set_current_cancel_token(region);
        match self.inner.poll(vm) {
            Poll::Pending => {
                if let Some(t) = outer_vm {
                    vm.set_cancel_token(t);
                }
                pool::set_current_cancel_token(outer_thread);
                Poll::Pending
            }
            Poll::Ready(r) => {
                debug_assert!(vm.bodies.stack.is_empty());
                vm.bodies.stack = std::mem::take(&mut self.bodies);
                Poll::Ready(r)
            }
        }
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

impl Drop for InBody {
    fn drop(&mut self) {
        // The task is gone while parked in its bodies: nothing will ever
        // join them, so their regions (children, timers) stop.
        for b in &self.bodies {
            b.region.cancel();
        }
    }
}

impl Vm {
    /// Whether the native executing `call` can run `f` as a body in the
    /// dispatch loop ([`start_body`](Self::start_body)).
    pub fn can_run_body(&self, call: super::Call, f: &Value) -> bool {
        matches!(f, Value::Func(_)) && self.can_park(call) && self.task_waker().is_some()
    }

    /// The waker of the task running on this VM: kept by the body it is
    /// in (the thread's current token is then a region's), else the
    /// pool's.
    pub fn task_waker(&self) -> Option<pool::Waker> {
        match self.bodies.stack.last() {
            Some(b) => Some(b.waker.clone()),
            None => pool::current_waker(),
        }
    }

    /// The region of the innermost body running on this VM, if any.
    pub fn body_region(&self) -> Option<&CancelToken> {
        self.bodies.stack.last().map(|b| &b.region)
    }

    /// Asks the dispatch loop to call `f(args)` as a body in `region`, and
    /// `cont` with its outcome (see the module docs). Returns the error the
    /// native must return at once. Only after
    /// [`can_run_body`](Self::can_run_body) said yes.
    pub fn start_body(
        &mut self,
        f: Value,
        args: Vec<Value>,
        region: CancelToken,
        cont: Cont,
    ) -> Error {
        let waker = self.task_waker().expect("can_run_body checked the waker");
        self.bodies.start = Some(Box::new(Start {
            f,
            args,
            region,
            cont,
            waker,
        }));
        self.park(Box::new(Starting))
    }

    /// The dispatch loop, with the bodies it runs: runs until the entry
    /// frame (index `entry`) returns.
    pub(super) fn run(&mut self, entry: usize) -> Result<Value> {
        let r = self.run_loop(entry);
        if self.bodies.is_idle() {
            return r;
        }
        self.run_bodies(r, entry)
    }

    /// Throws `e` from the running call site and runs on (a resumed wait
    /// that failed).
    pub(super) fn throw_and_run(&mut self, e: Error, entry: usize) -> Result<Value> {
        match self.unwind(e, entry) {
            Ok(()) => self.run(entry),
            Err(e) if self.bodies.is_idle() => Err(e),
            Err(e) => self.run_bodies(Err(e), entry),
        }
    }

    #[cold]
    #[inline(never)]
    fn run_bodies(&mut self, mut r: Result<Value>, entry: usize) -> Result<Value> {
        loop {
            if let Some(start) = self.bodies.start.take() {
                self.park.parking = None;
                r = self.begin_body(*start, entry);
                continue;
            }
            if self.park.parking.is_some() {
                if self.bodies.stack.is_empty() {
                    return r;
                }
                match self.park.parking.take() {
                    Some(Parking::Wait(inner)) => {
                        let bodies = std::mem::take(&mut self.bodies.stack);
                        self.park.parking = Some(Parking::Wait(Box::new(InBody { inner, bodies })));
                        return r;
                    }
                    // Not sliced inside a body: go on at the instruction
                    // that yielded.
                    Some(Parking::Yield) | None => {
                        r = self.run_loop(entry);
                        continue;
                    }
                }
            }
            let ended = self
                .bodies
                .stack
                .last()
                .is_some_and(|b| b.frame == self.frames.len() && b.frame > entry);
            if !ended {
                return r;
            }
            let b = self.bodies.stack.pop().expect("checked above");
            r = self.end_body(b, r, entry);
        }
    }

    /// Pushes a body's frame and runs the loop (or ends the body at once
    /// with the error that stopped it from starting).
    fn begin_body(&mut self, s: Start, entry: usize) -> Result<Value> {
        let Start {
            f,
            args,
            region,
            cont,
            waker,
        } = s;
        let outer_vm = self.set_cancel_token(Some(region.clone()));
        let outer_thread = pool::set_current_cancel_token(Some(region.clone()));
        let w = waker.clone();
        let wake = region.on_cancel(move || w.wake());
        self.bodies.stack.push(Body {
            frame: self.frames.len(),
            cont,
            region,
            outer_vm,
            outer_thread,
            waker,
            _wake: wake,
        });
        match self.push_body_frame(&f, &args) {
            Ok(()) => self.run_loop(entry),
            // Ends the body at once (its record is on top, its frame
            // index the current height).
            Err(e) => Err(e),
        }
    }

    fn push_body_frame(&mut self, f: &Value, args: &[Value]) -> Result<()> {
        let Value::Func(c) = f else {
            return Err(Error::type_error("internal: a body is not a function"));
        };
        let proto = c.proto;
        let start = if args.len() == proto.nparams as usize {
            0
        } else {
            proto
                .entry_for(args.len())
                .ok_or_else(|| arity_error(proto, args.len()))?
        };
        if self.depth() >= self.max_depth {
            return Err(stack_overflow(self.max_depth + self.park.depth_base));
        }
        if self.is_cancelled() {
            return Err(Error::cancelled());
        }
        self.push_entry_frame(proto, Some(c), args, start);
        Ok(())
    }

    /// The body `b` ended with `r`: tokens back, its continuation, and the
    /// loop on from the native's call site.
    fn end_body(&mut self, b: Body, r: Result<Value>, entry: usize) -> Result<Value> {
        let Body {
            cont,
            outer_vm,
            outer_thread,
            _wake,
            ..
        } = b;
        drop(_wake);
        self.set_cancel_token(outer_vm);
        pool::set_current_cancel_token(outer_thread);
        let c = cont(self, r);
        if self.park.parking.is_some() {
            // The continuation parked (the scope's join): the caller's
            // frame is on top, its `pc` after the call.
            return c;
        }
        match c {
            Ok(v) => {
                self.deliver_call(v);
                self.run_loop(entry)
            }
            Err(e) => match self.unwind(e, entry) {
                Ok(()) => self.run_loop(entry),
                Err(e) => Err(e),
            },
        }
    }

    /// The register holding the receiver of the method call being executed
    /// (`xs` in `xs.extend(ch)`) when it is a register of the running
    /// frame, not a temporary (not a path, not a module variable): where a
    /// mutating method that parked finishes its work when it resumes (the
    /// VM puts the receiver back in its register when the method returns).
    pub fn method_receiver(&mut self) -> Option<&mut Value> {
        let f = self.frames.last()?;
        let ins = f.proto.code.get((f.pc as usize).checked_sub(1)?)?;
        match *ins {
            Instr::CallMethod { recv, site, .. }
                if f.proto
                    .methods
                    .get(site as usize)
                    .is_some_and(|s| !s.temp_recv && !s.readonly) =>
            {
                let at = f.base as usize + recv as usize;
                self.stack.get_mut(at)
            }
            _ => None,
        }
    }

    /// Puts a native's result where its call instruction puts it.
    fn deliver_call(&mut self, v: Value) {
        let Some(f) = self.frames.last() else {
            return;
        };
        let base = f.base as usize;
        match f.proto.code[f.pc as usize - 1] {
            Instr::Call { dst, .. }
            | Instr::CallGlobal { dst, .. }
            | Instr::CallGlobalSubI { dst, .. }
            | Instr::CallMethod { dst, .. }
            | Instr::CallMethodPath { dst, .. } => {
                set_reg(&mut self.stack[base + dst as usize], v);
            }
            other => debug_assert!(false, "a body's native ended at {other:?}"),
        }
    }
}
