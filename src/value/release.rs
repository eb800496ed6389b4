//! Freeing and immortalizing nested values without recursion.
//!
//! A list or map may hold lists and maps nested to any depth a script can
//! build (200,000 levels is a few lines of Weft). Rust's derived drop glue
//! would recurse once per level and overflow the thread's stack, so the
//! last owner of a list or map frees it here instead: its items are moved
//! out one by one; a nested list or map whose last reference that was is
//! pushed on a work list rather than freed recursively; everything else is
//! dropped in place (strings and scalars have no children; functions and
//! handles hold their values behind their own allocations). The work list
//! lives on the stack for the first [`INLINE`] entries, which is all a
//! balanced tree (binary-trees) ever needs, so freeing small structures
//! allocates nothing.
//!
//! [`make_immortal`] walks the same way, with an explicit stack.

use super::list::{DeadList, List};
use super::map_ref::{DeadMap, MapRef};
use super::Value;
use std::mem::MaybeUninit;

/// Entries of the work list kept on the stack.
const INLINE: usize = 32;

/// A list or map with no owner left.
enum Dead {
    List(DeadList),
    Map(DeadMap),
}

/// A stack of dead containers: inline first, then on the heap.
struct WorkList {
    /// `inline[..len]` are initialized.
    inline: [MaybeUninit<Dead>; INLINE],
    len: usize,
    spill: Vec<Dead>,
}

impl WorkList {
    #[inline]
    fn new() -> WorkList {
        WorkList {
            inline: [const { MaybeUninit::uninit() }; INLINE],
            len: 0,
            spill: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, d: Dead) {
        if self.len < INLINE {
            self.inline[self.len].write(d);
            self.len += 1;
        } else {
            self.spill.push(d);
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<Dead> {
        if let Some(d) = self.spill.pop() {
            return Some(d);
        }
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: entries below the old `len` are initialized; this one is
        // no longer counted, so it is read exactly once.
        Some(unsafe { self.inline[self.len].assume_init_read() })
    }

    /// Drops `v`, deferring a container whose last reference it was.
    /// Inlined into the loops that free items, with scalars first (speed
    /// only): they need nothing, and were a call each before.
    #[inline(always)]
    fn release(&mut self, v: Value) {
        match v {
            Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) => {}
            Value::List(l) => {
                if let Some(d) = l.release() {
                    self.push(Dead::List(d));
                }
            }
            Value::Map(m) => {
                if let Some(d) = m.release() {
                    self.push(Dead::Map(d));
                }
            }
            // The commonest item that owns something: its count is checked
            // inline (speed only; `drop(other)` is a call through the drop
            // glue's jump table).
            Value::Str(s) => drop(s),
            other => drop(other),
        }
    }

    fn run(&mut self) {
        while let Some(d) = self.pop() {
            match d {
                Dead::List(l) => l.free(|v| self.release(v)),
                Dead::Map(m) => {
                    for (_, v) in m.take() {
                        self.release(v);
                    }
                }
            }
        }
    }
}

/// Frees a list whose last reference was dropped, and every list and map
/// that only it held, iteratively.
///
/// Never inlined: its work list (a 32-entry array) would otherwise make the
/// frame of every `drop_in_place::<Value>` that inlines it half a kilobyte,
/// set up and torn down on every drop, ints included.
#[inline(never)]
pub(super) fn free_list(dead: DeadList) {
    let mut work = WorkList::new();
    dead.free(|v| work.release(v));
    work.run();
}

/// As [`free_list`], for a map.
#[inline(never)]
pub(super) fn free_map(dead: DeadMap) {
    let mut work = WorkList::new();
    for (_, v) in dead.take() {
        work.release(v);
    }
    work.run();
}

/// Makes `v` and every string, list and map inside it immortal, with an
/// explicit stack. Containers already immortal are not entered again (their
/// contents were made immortal with them).
pub(super) fn make_immortal(v: &Value) {
    let mut stack: Vec<Value> = Vec::new();
    let visit = |v: &Value, stack: &mut Vec<Value>| match v {
        Value::Str(s) => s.make_immortal(),
        Value::List(l) if !l.is_immortal() => {
            l.make_immortal();
            stack.push(Value::List(List::clone(l)));
        }
        Value::Map(m) if !m.is_immortal() => {
            m.make_immortal();
            stack.push(Value::Map(MapRef::clone(m)));
        }
        _ => {}
    };
    visit(v, &mut stack);
    while let Some(c) = stack.pop() {
        match &c {
            Value::List(l) => {
                for x in l.iter() {
                    visit(x, &mut stack);
                }
            }
            Value::Map(m) => {
                for (k, x) in m.iter() {
                    visit(&k.0, &mut stack);
                    visit(x, &mut stack);
                }
            }
            _ => {}
        }
    }
}
