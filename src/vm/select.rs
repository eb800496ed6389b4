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
        // Most selects have a few cases: a small buffer to fill and drop.
        if n <= 6 {
            let mut buf: [Value; 6] = Default::default();
            for (i, slot) in buf.iter_mut().enumerate().take(n) {
                *slot = mem::take(&mut self.stack[at + i]);
            }
            return crate::stdlib::channel::select_flat(self, &buf[..n], count, pairs, timeout);
        }
        let mut buf: [Value; MAX_REGS] = Default::default();
        for (i, slot) in buf.iter_mut().enumerate().take(n) {
            *slot = mem::take(&mut self.stack[at + i]);
        }
        crate::stdlib::channel::select_flat(self, &buf[..n], count, pairs, timeout)
    }
}

#[cfg(test)]
mod test {
    use crate::interp::Script;

    fn code(src: &str) -> String {
        Script::compile("<test>", src)
            .unwrap_or_else(|e| panic!("compile error: {}", e.render()))
            .disassemble()
    }

    #[test]
    fn a_written_out_case_list_compiles_to_select() {
        let d = code("let a = channel()\nlet b = channel()\nselect([a, [b, 1]])\n");
        assert!(d.contains("Select"), "{d}");
        assert!(!d.contains("List {"), "no list is built:\n{d}");
        let d = code("let a = channel()\nselect([[a, 1]], 0.5)\n");
        assert!(d.contains("timeout: true"), "{d}");
    }

    #[test]
    fn other_shapes_call_select() {
        // A list in a variable, more than 8 cases, a shadowed `select`.
        for src in [
            "let a = channel()\nlet cs = [a]\nselect(cs)\n",
            "let a = channel()\nselect([a, a, a, a, a, a, a, a, a])\n",
            "fn select(xs) { xs }\nselect([1])\n",
            "fn f(select) { select([1]) }\n",
        ] {
            let d = code(src);
            assert!(!d.contains("Select {"), "{src}:\n{d}");
        }
    }
}
