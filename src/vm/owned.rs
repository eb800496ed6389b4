//! Calling a Weft function with an argument it owns.
//!
//! [`Vm::call`] copies its arguments into the callee's registers, so the
//! caller's copy keeps a list or map shared and the callee's first change
//! to it copies the whole value (copy-on-write). `a.update(f)` gives its
//! value away for the duration of `f` (the atom's writer lock is held), so
//! it uses [`Vm::call_owned`], which *moves* the argument into `f`'s
//! parameter register: `f` holds it once and `xs.push(x)` in `f` is O(1).
//!
//! If `f` throws, the caller gets the argument back as `f`'s parameter
//! held it when the error left `f` (its original value if `f` never ran):
//! [`Vm::unwind`](super::Vm) takes it out of the entry frame's parameter
//! register just before clearing the frame, when that frame is the one
//! [`Vm::call_owned`] recorded in `Vm::owned_arg`.

use super::*;

impl Vm {
    /// Calls `f(arg)`, moving `arg` into a Weft function's parameter so it
    /// is held once (natives borrow it). On error, `arg` holds what the
    /// parameter held when the error left `f`; on success it is `nil`
    /// unless `f` is a native.
    pub(crate) fn call_owned(&mut self, f: &Value, arg: &mut Value) -> Result<Value> {
        let c = match f {
            Value::Func(c) if c.proto.nparams == 1 => c,
            _ => return self.call(f, std::slice::from_ref(arg)),
        };
        if self.is_cancelled() {
            return Err(cancelled());
        }
        if self.depth() >= self.max_depth {
            return Err(stack_overflow(self.max_depth));
        }
        let proto = c.proto;
        self.reentry += 1;
        let r = stacker::maybe_grow(RED_ZONE, STACK_SEGMENT, || {
            let base = self.top() + 1;
            self.ensure_stack(base + proto.nregs);
            if proto.needs_callee {
                self.stack[base - 1] = Value::Func(c.clone());
            }
            self.stack[base] = mem::take(arg);
            self.frames.push(Frame {
                proto,
                pc: 0,
                base: base as u32,
                ret: 0,
                entry: true,
            });
            let entry = self.frames.len() - 1;
            let outer = self.owned_arg.replace((entry, Value::Nil));
            let r = self.run(entry);
            if let Some((_, back)) = mem::replace(&mut self.owned_arg, outer) {
                if r.is_err() {
                    *arg = back;
                }
            }
            r
        });
        self.reentry -= 1;
        r
    }

    /// For [`unwind`](Vm::unwind): frame `fi`, about to be cleared, is the
    /// one [`call_owned`](Vm::call_owned) entered; keep its argument.
    #[cold]
    pub(super) fn keep_owned_arg(&mut self, fi: usize, base: u32) {
        if let Some((frame, back)) = &mut self.owned_arg {
            if *frame == fi {
                *back = mem::take(&mut self.stack[base as usize]);
            }
        }
    }
}
