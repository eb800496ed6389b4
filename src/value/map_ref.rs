//! [`MapRef`]: the payload of `Value::Map`, a reference-counted [`Map`]
//! (one allocation for the count and the map's own header; the entries and
//! the hash table are the map's).
//!
//! Reading goes through `Deref<Target = Map>`; changing through
//! [`MapRef::make_mut`], which copies the map first when it is shared. The
//! empty map literal `{}` points at an immortal static until its first
//! insert. Dropping the last owner frees nested lists and maps with an
//! explicit work list ([`super::release`]).

use super::rc::RefCount;
use super::release;
use crate::map::Map;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;

/// The allocation behind a [`MapRef`].
pub(crate) struct MapInner {
    rc: RefCount,
    map: Map,
}

/// The map every empty map literal points to until it is changed.
static EMPTY: MapInner = MapInner {
    rc: RefCount::immortal(),
    map: Map::new(),
};

/// A reference-counted, copy-on-write [`Map`] (8 bytes).
pub struct MapRef {
    ptr: NonNull<MapInner>,
}

// SAFETY: shared like an `Arc<Map>`: the map is only read through shared
// references and changed only through `&mut MapRef` when uniquely held.
// `Map` is `Send + Sync` (it holds values and indexes).
unsafe impl Send for MapRef {}
// SAFETY: as above.
unsafe impl Sync for MapRef {}

impl MapRef {
    /// A reference to a new map.
    pub fn new(map: Map) -> MapRef {
        if map.capacity_is_zero() {
            return MapRef::empty();
        }
        let b = Box::new(MapInner {
            rc: RefCount::one(),
            map,
        });
        MapRef {
            ptr: NonNull::from(Box::leak(b)),
        }
    }

    /// The empty map (no allocation).
    #[inline]
    pub fn empty() -> MapRef {
        MapRef {
            ptr: NonNull::from(&EMPTY),
        }
    }

    #[inline(always)]
    fn inner(&self) -> &MapInner {
        // SAFETY: `ptr` points at a live `MapInner` (boxed, or the static)
        // while this reference exists.
        unsafe { self.ptr.as_ref() }
    }

    /// The map, read-only.
    #[inline(always)]
    pub fn as_map(&self) -> &Map {
        &self.inner().map
    }

    /// Whether `a` and `b` are the same allocation.
    #[inline]
    pub fn ptr_eq(a: &MapRef, b: &MapRef) -> bool {
        a.ptr == b.ptr
    }

    /// The address of the allocation (identity checks).
    pub fn as_ptr(&self) -> *const () {
        self.ptr.as_ptr().cast_const().cast()
    }

    /// The number of references (a racy snapshot, for tests and
    /// diagnostics; immortal maps report a huge number).
    pub fn strong_count(&self) -> usize {
        self.inner().rc.get()
    }

    /// Whether this is the only reference.
    #[inline(always)]
    pub fn is_unique(&self) -> bool {
        self.inner().rc.is_unique()
    }

    /// The map to change in place: copied first if it is shared.
    #[inline]
    pub fn make_mut(&mut self) -> &mut Map {
        if !self.is_unique() {
            self.unshare();
        }
        // SAFETY: uniquely held, so no other reference reads the map while
        // the returned borrow of `self` lives; a unique map is boxed (the
        // static is immortal, never unique).
        unsafe { &mut (*self.ptr.as_ptr()).map }
    }

    /// The map to change in place, if this is the only reference.
    #[inline]
    pub fn get_mut(&mut self) -> Option<&mut Map> {
        if self.is_unique() {
            // SAFETY: as in `make_mut`.
            Some(unsafe { &mut (*self.ptr.as_ptr()).map })
        } else {
            None
        }
    }

    #[cold]
    #[inline(never)]
    fn unshare(&mut self) {
        let b = Box::new(MapInner {
            rc: RefCount::one(),
            map: self.as_map().clone(),
        });
        *self = MapRef {
            ptr: NonNull::from(Box::leak(b)),
        };
    }

    /// The map, moved out when this is the only reference.
    pub fn into_map(self) -> Map {
        if !self.is_unique() {
            return self.as_map().clone();
        }
        let me = ManuallyDrop::new(self);
        // SAFETY: the only owner: the box is taken back (it came from
        // `Box::leak`) and not freed again.
        unsafe { Box::from_raw(me.ptr.as_ptr()).map }
    }

    /// Makes the map immortal (see [`super::Value::make_immortal`]).
    pub(crate) fn make_immortal(&self) {
        self.inner().rc.make_immortal();
    }

    pub(super) fn is_immortal(&self) -> bool {
        self.inner().rc.is_immortal()
    }

    /// Gives up this reference without dropping: `Some(dead)` when it was
    /// the last one, for [`release`] to free.
    pub(super) fn release(self) -> Option<DeadMap> {
        let me = ManuallyDrop::new(self);
        if me.inner().rc.dec() {
            Some(DeadMap(me.ptr))
        } else {
            None
        }
    }
}

/// A map whose last reference is gone: its values still need releasing.
pub(super) struct DeadMap(NonNull<MapInner>);

impl DeadMap {
    /// The map, to take apart.
    pub(super) fn take(self) -> Map {
        // SAFETY: no owner is left and the static is never dead, so the
        // box (from `Box::leak`) is taken back exactly once.
        unsafe { Box::from_raw(self.0.as_ptr()).map }
    }
}

impl Drop for MapRef {
    #[inline]
    fn drop(&mut self) {
        if self.inner().rc.dec() {
            release::free_map(DeadMap(self.ptr));
        }
    }
}

impl Clone for MapRef {
    #[inline(always)]
    fn clone(&self) -> MapRef {
        self.inner().rc.inc();
        MapRef { ptr: self.ptr }
    }
}

impl Default for MapRef {
    fn default() -> MapRef {
        MapRef::empty()
    }
}

impl Deref for MapRef {
    type Target = Map;
    #[inline(always)]
    fn deref(&self) -> &Map {
        self.as_map()
    }
}

impl AsRef<Map> for MapRef {
    fn as_ref(&self) -> &Map {
        self.as_map()
    }
}

impl fmt::Debug for MapRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_map().fmt(f)
    }
}

impl From<Map> for MapRef {
    fn from(m: Map) -> MapRef {
        MapRef::new(m)
    }
}

#[cfg(test)]
mod test {
    //! The `unsafe` paths of `MapRef` (the borrow `make_mut`/`get_mut`
    //! hand out, the box `into_map` and `DeadMap::take` take back), run by
    //! `cargo test` and under Miri (`.ci/miri.sh value::`).
    use super::MapRef;
    use crate::map::Map;
    use crate::value::{Key, Value};

    /// A map holding `n` entries, each a string key and a list with a string.
    fn map_of(n: i64) -> Map {
        let mut m = Map::new();
        for i in 0..n {
            let item = Value::list(vec![Value::str(format!("item {i}")), Value::Int(i)]);
            m.insert(Key::str(&format!("k{i}")), item);
        }
        m
    }

    fn int(m: &Map, k: &str) -> Option<i64> {
        match m.get(&Key::str(k)) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    #[test]
    fn a_unique_map_changes_in_place_and_a_shared_one_is_copied_first() {
        let mut a = MapRef::new(map_of(3));
        let at = a.as_ptr();
        a.make_mut().insert(Key::str("x"), Value::Int(1));
        assert_eq!(a.as_ptr(), at, "unique: changed in place");
        assert!(a.get_mut().is_some());

        let b = a.clone();
        assert_eq!(a.strong_count(), 2);
        assert!(a.get_mut().is_none(), "shared: no in-place borrow");
        a.make_mut().insert(Key::str("x"), Value::Int(2));
        assert!(!MapRef::ptr_eq(&a, &b), "shared: copied before the change");
        assert_eq!((int(&a, "x"), int(&b, "x")), (Some(2), Some(1)));
        assert_eq!((a.strong_count(), b.strong_count()), (1, 1));
        assert_eq!((a.len(), b.len()), (4, 4));
        a.get_mut()
            .expect("unique again")
            .insert(Key::str("y"), Value::Int(3));
        assert_eq!((a.len(), b.len()), (5, 4));
    }

    #[test]
    fn into_map_moves_a_unique_map_out_and_copies_a_shared_one() {
        let a = MapRef::new(map_of(4));
        let m = a.into_map();
        assert_eq!(m.len(), 4);

        let a = MapRef::new(map_of(4));
        let b = a.clone();
        let mut m = a.into_map();
        assert_eq!(b.strong_count(), 1, "the shared reference was given up");
        m.insert(Key::str("k0"), Value::Nil);
        assert!(matches!(b.get(&Key::str("k0")), Some(Value::List(_))));
    }

    #[test]
    fn the_empty_map_is_shared_until_its_first_change() {
        let mut e = MapRef::empty();
        let f = MapRef::default();
        assert!(MapRef::ptr_eq(&e, &f));
        assert!(e.get_mut().is_none(), "the static is never unique");
        e.make_mut().insert(Key::str("a"), Value::Int(1));
        assert!(!MapRef::ptr_eq(&e, &f));
        assert_eq!((e.len(), f.len()), (1, 0));
        assert_eq!(f.clone().into_map().len(), 0);
        assert_eq!(MapRef::new(Map::new()).as_ptr(), f.as_ptr());
    }

    #[test]
    fn the_last_owner_frees_nested_values_once_on_any_thread() {
        // Maps of maps of lists, deep enough that freeing goes through the
        // work list (`release`), dropped by whichever thread is last.
        let mut v = Value::map(map_of(3));
        for depth in 0..40 {
            let mut m = map_of(2);
            m.insert(Key::str("inner"), v);
            m.insert(Key::str("depth"), Value::Int(depth));
            v = Value::map(m);
        }
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let v = v.clone();
                std::thread::spawn(move || drop(v))
            })
            .collect();
        drop(v);
        for t in threads {
            t.join().expect("no panic");
        }
    }
}
