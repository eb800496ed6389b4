//! Fast paths for the hottest built-in methods (speed only).
//!
//! `CallMethod` normally moves the receiver and the arguments out of their
//! registers into a buffer and goes through the stdlib dispatcher
//! ([`crate::stdlib::call_method`]). For a few read-only methods that loops
//! call on every iteration (`m.get(k)`, `m.has(k)`, `s.slice(a, b)` on an
//! ASCII string, `xs.copy()`) that detour costs more than the method itself, so the VM
//! first tries [`call`] on the borrowed registers. It answers `None` for
//! anything it does not handle exactly as the stdlib does (another receiver
//! type, a bad key or argument, an unusual arity): the general path then runs
//! and reports errors as usual. [`push`] does the same for `xs.push(x)` on a
//! list the running code may mutate, and [`map_mut`] for `m.set(k, v)` and
//! `m.remove(k)` on a map it may mutate.

use crate::ops::KeyRef;
use crate::stdlib::Method;
use crate::value::{Key, Value};

/// `recv.m(args...)` for the methods handled here, or `None`.
#[inline]
pub(super) fn call(m: Method, recv: &Value, args: &[Value]) -> Option<Value> {
    match (recv, m, args) {
        (Value::Map(map), Method::Get, [k]) => {
            Some(map.get(&KeyRef::new(k).ok()?).cloned().unwrap_or_default())
        }
        (Value::Map(map), Method::Get, [k, default]) => {
            Some(map.get(&KeyRef::new(k).ok()?).unwrap_or(default).clone())
        }
        (Value::Map(map), Method::Has, [k]) => {
            Some(Value::Bool(map.contains_key(&KeyRef::new(k).ok()?)))
        }
        // `xs.copy()` / `m.copy()`: another reference, copied on the first
        // write (fannkuch copies a list per permutation; the general path's
        // argument buffer cost more than the copy).
        (Value::List(_) | Value::Map(_), Method::Copy, []) => Some(recv.clone()),
        (Value::Str(s), Method::Slice, [Value::Int(a), Value::Int(b)]) => {
            // ASCII only (characters are bytes) and indexes already in
            // range: exactly what `slice_bounds` leaves unchanged.
            let text = s.as_str();
            let n = text.len();
            let (a, b) = (*a, *b);
            if a < 0 || b < a || b as u64 > n as u64 || s.char_count() != n {
                return None;
            }
            if a == 0 && b as usize == n {
                return Some(recv.clone());
            }
            Some(Value::str(&text[a as usize..b as usize]))
        }
        _ => None,
    }
}

/// `xs.push(x)` on a list in a register, moving `x` in; `false` (nothing
/// done) for any other receiver. The caller checks that the receiver is a
/// variable this code may mutate (not `readonly`, not a temporary).
#[inline]
pub(super) fn push(recv: &mut Value, x: &mut Value) -> bool {
    match recv {
        Value::List(l) => {
            let v = l.make_mut();
            // A push that cannot grow the list takes the general path,
            // which reports the MemoryError.
            if crate::ops::memory::reserve_list(v, 1).is_err() {
                return false;
            }
            v.push(std::mem::take(x));
            true
        }
        _ => false,
    }
}

/// `m.set(k, v)` (moving `v` in) and `m.remove(k)` on a map in a register,
/// or `None` (nothing done) for anything the general path must handle: another
/// receiver, a key of a type maps refuse, a missing key to remove (its
/// `KeyError`), a shared map to remove from (the general path checks the key
/// before copying it). The caller checks that the receiver is a variable this
/// code may mutate (not `readonly`, not a temporary).
#[inline]
pub(super) fn map_mut(m: Method, recv: &mut Value, args: &mut [Value]) -> Option<Value> {
    let Value::Map(map) = recv else {
        return None;
    };
    match (m, args) {
        (Method::Set, [k, v]) => {
            KeyRef::new(k).ok()?;
            map.make_mut()
                .insert(Key(std::mem::take(k)), std::mem::take(v));
            Some(Value::Nil)
        }
        (Method::Remove, [k]) => map.get_mut()?.remove(&KeyRef::new(k).ok()?),
        _ => None,
    }
}
