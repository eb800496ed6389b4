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
