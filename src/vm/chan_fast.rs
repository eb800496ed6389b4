//! The direct path of `ch.recv()` and `ch.send(v)` (speed only).
//!
//! A channel hand-off between tasks is two method calls per pass (a
//! thread-ring task does `from.recv()` then `to.send(x)`). The general
//! path of a built-in method ([`Vm::builtin_method`]) moves the arguments
//! into a six-slot buffer, goes through the stdlib dispatcher
//! ([`crate::stdlib::call_method`]) and the channel's method table, checks
//! the arity, clones the value to send, and drops the buffer: about 270
//! instructions per call, as much as the channel operation itself when it
//! does not wait. Here the two commonest shapes, `recv()` with no argument
//! and `send(v)` with one, go straight to the channel with the value moved
//! out of its register. Everything else (a `recv(seconds)`, a wrong arity,
//! any other method or receiver) answers `None` and takes the general
//! path, which reports errors as usual. What a script sees is the same:
//! the receiver is put back (or dropped when it was a temporary), the
//! argument register is consumed, and a wait parks the task exactly as
//! the general path does (the channel functions called here are the ones
//! the general path calls).

use std::mem;

use super::Vm;
use crate::bytecode::{MethodSite, Reg};
use crate::error::Result;
use crate::stdlib::{channel, Method};
use crate::value::Value;

impl Vm {
    /// `R[recv].recv()` or `R[recv].send(R[args])` on a channel, or `None`
    /// (nothing done) for any other call.
    #[inline]
    pub(super) fn channel_method(
        &mut self,
        s: &MethodSite,
        base: usize,
        recv: Reg,
        args: Reg,
        argc: u8,
    ) -> Option<Result<Value>> {
        let m = s.id?;
        if !matches!((m, argc), (Method::Recv, 0) | (Method::Send, 1)) {
            return None;
        }
        let ri = base + recv as usize;
        if !matches!(self.stack[ri], Value::Channel(_)) {
            return None;
        }
        let rv = mem::take(&mut self.stack[ri]);
        let Value::Channel(c) = &rv else {
            self.stack[ri] = rv;
            return None;
        };
        let r = if m == Method::Recv {
            channel::recv_method(self, c)
        } else {
            let x = mem::take(&mut self.stack[base + args as usize]);
            channel::send_method(self, c, x)
        };
        if !s.temp_recv {
            // The stack may have grown during the call: index it again.
            self.stack[ri] = rv;
        }
        Some(r)
    }
}
