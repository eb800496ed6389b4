//! Walks over nested values without recursion: printing, `==` and ordering.
//!
//! A script can nest lists and maps as deep as memory allows (`x = [x]` in
//! a loop), and a task's thread has a smaller stack than the main one, so
//! nothing that looks inside a value may recurse on the Rust stack. Each
//! walk here keeps its own stack of open containers in a vector on the heap
//! (a few dozen bytes per level), so printing, comparing or sorting a list
//! nested a million deep works on any thread.
//!
//! DECISIONS (per operation):
//! - Printing (`print`, `str`, `repr`, `format`, error messages) walks
//!   iteratively: any depth prints.
//! - `==` and `<` (and `sort`, `contains`, `index_of`, map lookups of equal
//!   values) walk iteratively: any depth compares.
//! - Hashing needs no walk: map keys are scalars only.
//! - Dropping a deep value is not done here (the value representation's own
//!   drop is iterative), nor is `json.stringify` (the json module).
//!
//! Atoms are the only way a value can contain itself (`a.set([a])`): the
//! printer keeps the set of atoms it is inside and prints an atom met again
//! as `<atom ...>`, as Python prints a list that contains itself as `[...]`.
//! `==` compares atoms by identity and `<` does not order them, so neither
//! ever looks inside one.

use super::Value;
use rustc_hash::FxHashSet;
use std::cmp::Ordering;
use std::fmt;

/// An open container while printing.
enum Open {
    /// A list and the index of its next item.
    List(Value, usize),
    /// A map, the slot of its next entry, and whether an entry was written.
    Map(Value, usize, bool),
    /// An atom whose value is being printed: `>` closes it.
    Atom(usize),
}

/// Writes `v` as `print` shows it (`bare`: a string without quotes) or as
/// inside a container (quoted).
pub(super) fn write(v: &Value, out: &mut dyn fmt::Write, bare: bool) -> fmt::Result {
    let mut stack: Vec<Open> = Vec::new();
    let mut atoms: FxHashSet<usize> = FxHashSet::default();
    let mut next = open(v, out, bare, &mut stack, &mut atoms)?;
    loop {
        if let Some(child) = next.take() {
            next = open(&child, out, false, &mut stack, &mut atoms)?;
            continue;
        }
        let Some(top) = stack.last_mut() else {
            return Ok(());
        };
        // Scalars are written in place; the first container met is opened
        // on the next turn. `done` when the container is finished.
        let done = match top {
            Open::List(list, i) => {
                let Value::List(items) = &*list else {
                    unreachable!("a list frame holds a list")
                };
                while *i < items.len() && next.is_none() {
                    if *i > 0 {
                        out.write_str(", ")?;
                    }
                    let item = &items[*i];
                    *i += 1;
                    if is_container(item) {
                        next = Some(item.clone());
                    } else {
                        write_scalar(item, out, false)?;
                    }
                }
                if next.is_none() {
                    out.write_char(']')?;
                }
                next.is_none()
            }
            Open::Map(map, slot, any) => {
                let Value::Map(m) = &*map else {
                    unreachable!("a map frame holds a map")
                };
                while next.is_none() {
                    let Some((at, k, v)) = m.entry_from(*slot) else {
                        break;
                    };
                    if *any {
                        out.write_str(", ")?;
                    }
                    *any = true;
                    *slot = at + 1;
                    write_scalar(&k.0, out, false)?;
                    out.write_str(": ")?;
                    if is_container(v) {
                        next = Some(v.clone());
                    } else {
                        write_scalar(v, out, false)?;
                    }
                }
                if next.is_none() {
                    out.write_char('}')?;
                }
                next.is_none()
            }
            Open::Atom(addr) => {
                atoms.remove(addr);
                out.write_char('>')?;
                true
            }
        };
        if done {
            stack.pop();
        }
    }
}

fn is_container(v: &Value) -> bool {
    matches!(v, Value::List(_) | Value::Map(_) | Value::Atom(_))
}

/// Writes the start of `v`; for a container, pushes its frame. Returns an
/// atom's value, which is to be opened next.
fn open(
    v: &Value,
    out: &mut dyn fmt::Write,
    bare: bool,
    stack: &mut Vec<Open>,
    atoms: &mut FxHashSet<usize>,
) -> Result<Option<Value>, fmt::Error> {
    match v {
        Value::List(items) if items.is_empty() => out.write_str("[]")?,
        Value::List(_) => {
            out.write_char('[')?;
            stack.push(Open::List(v.clone(), 0));
        }
        Value::Map(m) if m.is_empty() => out.write_str("{}")?,
        Value::Map(_) => {
            out.write_char('{')?;
            stack.push(Open::Map(v.clone(), 0, false));
        }
        Value::Atom(a) => {
            let addr = std::sync::Arc::as_ptr(a) as usize;
            if !atoms.insert(addr) {
                out.write_str("<atom ...>")?;
                return Ok(None);
            }
            out.write_str("<atom ")?;
            stack.push(Open::Atom(addr));
            match a.peek() {
                Some(inner) => return Ok(Some(inner)),
                None => out.write_str("(being updated)")?,
            }
        }
        other => write_scalar(other, out, bare)?,
    }
    Ok(None)
}

/// Writes a value that holds no other value.
fn write_scalar(v: &Value, out: &mut dyn fmt::Write, bare: bool) -> fmt::Result {
    match v {
        Value::Str(s) if bare => out.write_str(s),
        Value::Str(s) => super::write_quoted(out, s),
        other => super::write_flat(other, out),
    }
}

/// What comparing two values one level deep found.
enum Step<'a> {
    /// They are equal; go on.
    Same,
    /// They differ: the answer.
    Differ,
    /// Both are lists, or both maps, whose items must be compared.
    Open(&'a Value, &'a Value),
}

/// Equality one level deep: `==` of anything but two lists or two maps,
/// and for those the checks that need no look inside.
#[inline]
fn eq_step<'a>(a: &'a Value, b: &'a Value) -> Step<'a> {
    let differ = |same: bool| if same { Step::Same } else { Step::Differ };
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => differ(x == y),
        (Value::Str(x), Value::Str(y)) => differ(x == y),
        (Value::List(x), Value::List(y)) => {
            if super::List::ptr_eq(x, y) || (x.is_empty() && y.is_empty()) {
                Step::Same
            } else if x.len() != y.len() {
                Step::Differ
            } else {
                Step::Open(a, b)
            }
        }
        (Value::Map(x), Value::Map(y)) => {
            if super::MapRef::ptr_eq(x, y) || (x.is_empty() && y.is_empty()) {
                Step::Same
            } else if x.len() != y.len() {
                Step::Differ
            } else {
                Step::Open(a, b)
            }
        }
        _ => differ(super::flat_eq(a, b)),
    }
}

/// An open pair of containers while comparing: the next index (lists) or
/// slot (maps) of the first. Everything is borrowed from the two values
/// being compared, which nothing can change meanwhile.
struct Pair<'a>(&'a Value, &'a Value, usize);

/// `a == b` for lists and maps, at any depth (maps ignore order). The pair
/// being compared is kept apart from the stack of the ones that contain
/// it, so comparing flat lists allocates nothing.
pub(super) fn eq(a: &Value, b: &Value) -> bool {
    let mut top = match eq_step(a, b) {
        Step::Same => return true,
        Step::Differ => return false,
        Step::Open(x, y) => Pair(x, y, 0),
    };
    let mut below: Vec<Pair<'_>> = Vec::new();
    loop {
        match eq_advance(&mut top) {
            Step::Differ => return false,
            Step::Open(x, y) => below.push(std::mem::replace(&mut top, Pair(x, y, 0))),
            Step::Same => match below.pop() {
                Some(p) => top = p,
                None => return true,
            },
        }
    }
}

/// Compares the remaining items of an open pair: `Same` when all are
/// equal, else the first that is not (`Differ`, or two containers to open).
fn eq_advance<'a>(pair: &mut Pair<'a>) -> Step<'a> {
    let Pair(x, y, i) = pair;
    match (*x, *y) {
        (Value::List(xs), Value::List(ys)) => {
            while *i < xs.len() {
                let step = eq_step(&xs[*i], &ys[*i]);
                *i += 1;
                if !matches!(step, Step::Same) {
                    return step;
                }
            }
        }
        (Value::Map(xm), Value::Map(ym)) => {
            while let Some((at, k, v)) = xm.entry_from(*i) {
                *i = at + 1;
                let step = match ym.get(k) {
                    Some(w) => eq_step(v, w),
                    None => Step::Differ,
                };
                if !matches!(step, Step::Same) {
                    return step;
                }
            }
        }
        _ => unreachable!("only lists and maps are opened"),
    }
    Step::Same
}

/// How [`compare`] orders two values that are not both lists.
pub(crate) type FlatOrder = fn(&Value, &Value) -> Result<Option<Ordering>, ()>;

/// The order of two lists, lexicographic at any depth: the first pair of
/// items that differs decides (two lists by this same rule, anything else
/// by `flat`), else the shorter list is smaller. `flat` returns `None` for
/// "unordered" (a NaN for `<`), which ends the comparison, and `Err` for
/// "cannot compare".
pub(crate) fn compare(a: &Value, b: &Value, flat: FlatOrder) -> Result<Option<Ordering>, ()> {
    let mut top = Pair(a, b, 0);
    let mut below: Vec<Pair<'_>> = Vec::new();
    loop {
        match compare_advance(&mut top, flat)? {
            Next::Open(x, y) => below.push(std::mem::replace(&mut top, Pair(x, y, 0))),
            Next::Settled(Some(Ordering::Equal)) => match below.pop() {
                Some(p) => top = p,
                None => return Ok(Some(Ordering::Equal)),
            },
            Next::Settled(other) => return Ok(other),
        }
    }
}

/// What comparing the rest of an open pair of lists found.
enum Next<'a> {
    /// Their order (`Equal`: equal throughout and of the same length).
    Settled(Option<Ordering>),
    /// Two lists to compare first.
    Open(&'a Value, &'a Value),
}

/// Compares the remaining items of an open pair of lists.
fn compare_advance<'a>(pair: &mut Pair<'a>, flat: FlatOrder) -> Result<Next<'a>, ()> {
    let Pair(x, y, i) = pair;
    let (Value::List(xs), Value::List(ys)) = (*x, *y) else {
        unreachable!("only lists are opened")
    };
    while *i < xs.len().min(ys.len()) {
        let (p, q) = (&xs[*i], &ys[*i]);
        *i += 1;
        match (p, q) {
            (Value::Int(m), Value::Int(n)) => match m.cmp(n) {
                Ordering::Equal => continue,
                other => return Ok(Next::Settled(Some(other))),
            },
            (Value::Str(m), Value::Str(n)) => match m.as_str().cmp(n.as_str()) {
                Ordering::Equal => continue,
                other => return Ok(Next::Settled(Some(other))),
            },
            (Value::List(l), Value::List(m)) => {
                if super::List::ptr_eq(l, m) {
                    continue;
                }
                return Ok(Next::Open(p, q));
            }
            _ => {}
        }
        if p == q {
            continue;
        }
        match flat(p, q)? {
            Some(Ordering::Equal) => continue,
            other => return Ok(Next::Settled(other)),
        }
    }
    Ok(Next::Settled(Some(xs.len().cmp(&ys.len()))))
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::ast::BinOp;
    use crate::value::{Key, Map};

    /// A list nested `n` deep: `[[[...[]...]]]`.
    fn nested(n: usize) -> Value {
        let mut x = Value::list(Vec::new());
        for _ in 0..n {
            x = Value::list(vec![x]);
        }
        x
    }

    /// Takes `v` apart level by level, so its drop is never deep.
    fn dismantle(mut v: Value) {
        loop {
            let inner = match &v {
                Value::List(xs) if !xs.is_empty() => xs[0].clone(),
                Value::Map(m) => match m.get(&Key::str("k")) {
                    Some(inner) => inner.clone(),
                    None => return,
                },
                _ => return,
            };
            v = inner;
        }
    }

    /// Runs `f` on a thread with a 256 KiB stack, the smallest a pool
    /// worker can be configured with.
    fn on_small_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(f)
            .expect("thread starts")
            .join()
            .expect("no stack overflow");
    }

    #[test]
    fn deep_lists_print_and_compare_on_a_small_stack() {
        on_small_stack(|| {
            // Under Miri (every step interpreted) 200,000 levels exceed its
            // CPU limit; 2,000 still take the iterative paths, which is what
            // Miri checks (it does not model the native stack's size).
            let n = if cfg!(miri) { 2_000 } else { 200_000 };
            let (x, y, z) = (nested(n), nested(n), nested(n - 1));
            let s = x.to_string();
            assert_eq!(s.len(), 2 * (n + 1));
            assert!(s.starts_with("[[[") && s.ends_with("]]]"));
            assert_eq!(x.repr(), s);
            assert!(x == y && x != z);
            assert_eq!(crate::ops::compare(&z, &x).unwrap(), Ordering::Less);
            assert_eq!(crate::ops::compare(&x, &y).unwrap(), Ordering::Equal);
            for v in [x, y, z] {
                dismantle(v);
            }
        });
    }

    #[test]
    fn deep_maps_print_and_compare_on_a_small_stack() {
        on_small_stack(|| {
            let build = |n: usize| {
                let mut m = Value::map(Map::new());
                for i in 0..n {
                    let mut next = Map::new();
                    next.insert(Key::str("k"), m);
                    next.insert(Key::str("i"), Value::Int(i as i64));
                    m = Value::map(next);
                }
                m
            };
            // Smaller under Miri, as in the list test above.
            let n = if cfg!(miri) { 1_000 } else { 100_000 };
            let (a, b) = (build(n), build(n));
            assert!(a == b);
            assert!(a.to_string().starts_with(r#"{"k": {"k": "#));
            dismantle(a);
            dismantle(b);
        });
    }

    #[test]
    fn flat_rules_hold_at_depth() {
        let l = |v: Vec<Value>| Value::list(v);
        let nan = Value::Float(f64::NAN);
        // The first differing pair decides; equal pairs are skipped even
        // when they could not be ordered.
        let mut m = Map::new();
        m.insert(Key::str("a"), Value::Int(1));
        let (ma, mb) = (Value::map(m.clone()), Value::map(m));
        let a = l(vec![l(vec![ma]), Value::Int(1)]);
        let b = l(vec![l(vec![mb]), Value::Int(2)]);
        assert_eq!(crate::ops::compare(&a, &b).unwrap(), Ordering::Less);
        // For `<`, a NaN pair makes the comparison unordered.
        let p = l(vec![l(vec![nan.clone()])]);
        let q = l(vec![l(vec![Value::Int(1)])]);
        for op in [BinOp::Lt, BinOp::Gt, BinOp::Le, BinOp::Ge] {
            let r = crate::ops::binary(op, &p, &q).unwrap();
            assert!(!r.truthy(), "{op:?}");
        }
        // Unlike kinds cannot be ordered at any depth.
        let s = l(vec![l(vec![Value::from("a")])]);
        assert!(crate::ops::compare(&q, &s).is_err());
        // Printing strings inside containers quotes them.
        assert_eq!(
            l(vec![l(vec![Value::from("a\"b")])]).to_string(),
            r#"[["a\"b"]]"#
        );
    }
}
