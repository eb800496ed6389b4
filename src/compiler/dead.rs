//! Dropping dead references: registers that would keep a list, map or
//! string shared after nothing can read them.
//!
//! Copy-on-write makes `xs.push(x)` O(1) only while `xs` is the one
//! reference to its list. A register the program can no longer read still
//! counts as a reference, so a loop like
//!
//! ```text
//! for i in range(n) { xs.push(i); let ys = xs }
//! ```
//!
//! copied the whole list on every push (the dead `ys` of the previous
//! iteration still held it): quadratic. The compiler therefore clears such
//! registers where they die:
//! - a block's locals at its end (and at a `break` or `continue` that leaves
//!   it), unless the block ends its function (returning clears the frame);
//! - the result of a call whose value is thrown away (`add(i)` as a
//!   statement, where `add` returns what an atom's `update` returned): a
//!   function call's result goes to its first argument's register, which
//!   the next call there overwrites before it runs; a call without
//!   arguments, or a method call that may return a shared value, gets a
//!   `Nil` after it.
//!
//! None of this costs code that does not need it: a local the compiler can
//! see only ever holds a number, a bool or nil is never cleared, nor is
//! anything in a function's outermost block, so tight numeric loops
//! (`benches/compare/fib.weft`, `loop.weft`) compile to the same code.

use super::*;
use crate::stdlib::Method;

impl Compiler<'_> {
    /// Emits `Nil` into every register local of the innermost scope that
    /// may hold a shared value (the scope is about to end).
    pub(super) fn clear_scope_locals(&mut self) {
        let depth = self.f().blocks.len();
        self.clear_scopes_from(depth.saturating_sub(1));
    }

    /// Emits `Nil` into the registers of the locals that may hold a shared
    /// value, in the scopes from `depth` inwards (a `break` or `continue`
    /// leaves them).
    pub(super) fn clear_scopes_from(&mut self, depth: usize) {
        let blocks = &self.f().blocks;
        let regs: Vec<Reg> = blocks[depth.min(blocks.len())..]
            .iter()
            .flatten()
            .filter(|l| l.heap)
            .filter_map(|l| match l.kind {
                LocalKind::Reg(r, _) => Some(r),
                LocalKind::Module(_) => None,
            })
            .collect();
        for r in regs {
            self.emit(Instr::Nil { dst: r });
        }
    }

    /// The local just declared by `let name = value` holds only scalars if
    /// `value` is one.
    pub(super) fn note_let(&mut self, value: &Expr) {
        let heap = !self.is_scalar(value);
        if let Some(l) = self.f().blocks.last_mut().and_then(|b| b.last_mut()) {
            l.heap = heap;
        }
    }

    /// `name = value` or `name op= value` on a local: it may now hold a
    /// shared value.
    pub(super) fn note_assign(&mut self, name: &str, op: Option<BinOp>, value: &Expr) {
        let scalar = match op {
            None => self.is_scalar(value),
            Some(BinOp::Add | BinOp::Mul) => self.is_scalar(value) && self.local_is_scalar(name),
            Some(_) => true,
        };
        if !scalar {
            if let Some(l) = self.find_local_mut(name) {
                l.heap = true;
            }
        }
    }

    /// `name = <a value already in a register>` (destructuring): it may
    /// now hold a shared value.
    pub(super) fn note_assign_unknown(&mut self, name: &str) {
        if let Some(l) = self.find_local_mut(name) {
            l.heap = true;
        }
    }

    /// Whether a thrown-away call may have returned a value that something
    /// else shares (so its register is worth clearing): a function call
    /// without arguments (with arguments, the result register is reused;
    /// see the module docs), or a method call that may return one.
    pub(super) fn discarded_result_may_be_shared(e: &Expr) -> bool {
        let name = match &e.kind {
            ExprKind::Call { .. } => return true,
            ExprKind::MethodCall { name, .. } => name,
            _ => return false,
        };
        !matches!(
            stdlib::method_id(&name.name),
            Some(
                Method::Push
                    | Method::Insert
                    | Method::Extend
                    | Method::Clear
                    | Method::Sort
                    | Method::Reverse
                    | Method::Set
                    | Method::Send
                    | Method::SendBatch
                    | Method::Close
                    | Method::Cancel
                    | Method::Add
                    | Method::Len
            )
        )
    }

    /// Whether `e` can only produce nil, a bool or a number: never a
    /// string, list, map, function or handle.
    fn is_scalar(&self, e: &Expr) -> bool {
        match &e.kind {
            ExprKind::Nil | ExprKind::Bool(_) | ExprKind::Int(_) | ExprKind::Float(_) => true,
            ExprKind::Unary(UnOp::Neg | UnOp::Not, _) => true,
            ExprKind::Binary(op, l, r) => match op {
                BinOp::Add | BinOp::Mul => self.is_scalar(l) && self.is_scalar(r),
                BinOp::Sub
                | BinOp::Div
                | BinOp::FloorDiv
                | BinOp::Mod
                | BinOp::Pow
                | BinOp::Eq
                | BinOp::Ne
                | BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge => true,
                #[allow(unreachable_patterns)]
                _ => false,
            },
            ExprKind::And(l, r) | ExprKind::Or(l, r) => self.is_scalar(l) && self.is_scalar(r),
            ExprKind::Name(id) => self.local_is_scalar(&id.name),
            _ => false,
        }
    }

    /// Whether `name` is a local of this function known to hold only
    /// scalars.
    fn local_is_scalar(&self, name: &str) -> bool {
        let f = self.fns.last().expect("a function is being compiled");
        f.blocks
            .iter()
            .rev()
            .flat_map(|b| b.iter().rev())
            .find(|l| l.name == name)
            .is_some_and(|l| !l.heap && matches!(l.kind, LocalKind::Reg(..)))
    }

    fn find_local_mut(&mut self, name: &str) -> Option<&mut Local> {
        self.f()
            .blocks
            .iter_mut()
            .rev()
            .flat_map(|b| b.iter_mut().rev())
            .find(|l| l.name == name)
    }
}
