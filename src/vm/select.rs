//! `Instr::Select`: a `select` whose case list is written out in the call
//! reads its cases from registers (see `stdlib::channel::select_flat`), so
//! a select in a loop builds and frees no list per iteration.

use super::Vm;
use crate::error::Result;
use crate::value::Value;
use std::mem;

/// Registers a select reads at most: 8 send pairs and a timeout.
const MAX_REGS: usize = 17;

impl Vm {
    /// Runs the select whose registers start at absolute index `at`. The
    /// registers are moved out first (they are temporaries, and nothing
    /// they hold stays shared), as a native call's arguments are.
    pub(super) fn select_flat(
        &mut self,
        at: usize,
        count: u8,
        pairs: u8,
        timeout: bool,
    ) -> Result<Value> {
        let n = (count as usize + pairs.count_ones() as usize + timeout as usize).min(MAX_REGS);
        let mut buf: [Value; MAX_REGS] = Default::default();
        for (i, slot) in buf.iter_mut().enumerate().take(n) {
            *slot = mem::take(&mut self.stack[at + i]);
        }
        crate::stdlib::channel::select_flat(self, &buf[..n], count, pairs, timeout)
    }
}
