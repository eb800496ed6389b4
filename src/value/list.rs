//! [`List`]: the payload of `Value::List`, one allocation holding the
//! reference count, the length, the capacity and the items (as `Arc<[T]>`
//! does, plus spare capacity for `push`), behind a thin pointer.
//!
//! Reading goes through `Deref<Target = [Value]>`. Changing goes through
//! [`List::make_mut`], which copies the items first when the list is shared
//! (value semantics) and returns a [`ListMut`]: a `Vec`-like view (`push`,
//! `pop`, `insert`, `remove`, `extend_from_slice`, `truncate`, ... and
//! `DerefMut<Target = [Value]>` for `sort`, `reverse` and `xs[i] = v`).
//!
//! Empty lists share one immortal static header, so `[]` allocates nothing
//! until its first `push`. Dropping the last owner frees nested lists and
//! maps with an explicit work list ([`super::release`]), so a list nested
//! 200,000 deep is freed without deep recursion on the Rust stack.

use super::rc::RefCount;
use super::release;
use super::Value;
use std::alloc::{self, Layout};
use std::fmt;
use std::mem::{self, ManuallyDrop};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};

/// The header in front of a list's items.
#[repr(C)]
pub(crate) struct ListHeader {
    pub(super) rc: RefCount,
    len: usize,
    cap: usize,
}

/// The header every empty list points to until it grows.
static EMPTY: ListHeader = ListHeader {
    rc: RefCount::immortal(),
    len: 0,
    cap: 0,
};

/// A reference-counted, copy-on-write list of values (8 bytes).
pub struct List {
    ptr: NonNull<ListHeader>,
}

// SAFETY: a `List` is shared like an `Arc<Vec<Value>>`: through a shared
// reference the items are only read, and they are written only through
// `&mut List` after `is_unique()` (one owner, so no other thread can look).
// The count is atomic and `Value` is `Send + Sync`.
unsafe impl Send for List {}
// SAFETY: as above.
unsafe impl Sync for List {}

/// Why a list could not grow: its size in bytes would not fit the address
/// space, or the allocator refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityError;

impl fmt::Display for CapacityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("out of memory for the list")
    }
}

fn layout(cap: usize) -> Result<Layout, CapacityError> {
    let bytes = cap
        .checked_mul(mem::size_of::<Value>())
        .and_then(|b| b.checked_add(mem::size_of::<ListHeader>()))
        .ok_or(CapacityError)?;
    Layout::from_size_align(bytes, mem::align_of::<ListHeader>()).map_err(|_| CapacityError)
}

/// The items of the list whose header is at `h`.
#[inline(always)]
fn items_of(h: NonNull<ListHeader>) -> *mut Value {
    // SAFETY (of the arithmetic): the items start right after the header,
    // inside (or, for the empty static, one past) the same allocation;
    // `ListHeader`'s size is a multiple of `Value`'s alignment.
    unsafe { h.as_ptr().add(1).cast::<Value>() }
}

/// Allocates a header with room for `cap` items and length 0.
fn alloc_header(cap: usize) -> Result<NonNull<ListHeader>, CapacityError> {
    if cap == 0 {
        return Ok(NonNull::from(&EMPTY));
    }
    let layout = layout(cap)?;
    // SAFETY: the layout has a non-zero size (the header is 24 bytes).
    let p = unsafe { alloc::alloc(layout) }.cast::<ListHeader>();
    let p = NonNull::new(p).ok_or(CapacityError)?;
    // SAFETY: `p` is a fresh allocation large enough for the header.
    unsafe {
        p.as_ptr().write(ListHeader {
            rc: RefCount::one(),
            len: 0,
            cap,
        })
    };
    Ok(p)
}

/// The capacity a list of `len` items grows to when it needs `need`.
fn grown(cap: usize, need: usize) -> usize {
    need.max(cap.saturating_mul(2)).max(4)
}

impl List {
    /// An empty list (no allocation).
    #[inline]
    pub fn new() -> List {
        List {
            ptr: NonNull::from(&EMPTY),
        }
    }

    /// An empty list with room for `cap` items. Aborts on an impossible
    /// size, as `Vec::with_capacity` does; see [`List::try_with_capacity`].
    pub fn with_capacity(cap: usize) -> List {
        match List::try_with_capacity(cap) {
            Ok(l) => l,
            Err(_) => capacity_overflow(cap),
        }
    }

    /// An empty list with room for `cap` items, or an error when that much
    /// memory cannot be had.
    pub fn try_with_capacity(cap: usize) -> Result<List, CapacityError> {
        Ok(List {
            ptr: alloc_header(cap)?,
        })
    }

    /// A list of the values moved out of `items` (each left `nil`), in one
    /// allocation of exactly `items.len()` slots: what a list literal
    /// `[a, b]` builds from its registers, without `push`'s capacity checks.
    #[inline]
    pub fn take_from(items: &mut [Value]) -> List {
        let n = items.len();
        let l = List::with_capacity(n);
        // SAFETY: `l` has room for `n` items (or is the empty static when
        // `n == 0`, and then nothing is written); each slot is written once
        // with a value moved out of `items` before the length is set.
        unsafe {
            let dst = items_of(l.ptr);
            for (i, v) in items.iter_mut().enumerate() {
                dst.add(i).write(mem::take(v));
            }
            if n > 0 {
                (*l.ptr.as_ptr()).len = n;
            }
        }
        l
    }

    /// A list of copies of `items`.
    pub fn from_slice(items: &[Value]) -> List {
        let mut l = List::with_capacity(items.len());
        if !items.is_empty() {
            l.make_mut().extend_from_slice(items);
        }
        l
    }

    #[inline(always)]
    fn header(&self) -> &ListHeader {
        // SAFETY: `ptr` points at a live header (ours or the static) for as
        // long as this `List` exists.
        unsafe { self.ptr.as_ref() }
    }

    /// The items, read-only.
    #[inline(always)]
    pub fn as_slice(&self) -> &[Value] {
        // SAFETY: the first `len` items are initialized and stay so while
        // `self` is borrowed (writes need `&mut self`).
        unsafe { std::slice::from_raw_parts(items_of(self.ptr), self.header().len) }
    }

    /// The number of items.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.header().len
    }

    /// Whether the list has no items.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many items fit before the next reallocation.
    pub fn capacity(&self) -> usize {
        self.header().cap
    }

    /// Whether `a` and `b` are the same allocation.
    #[inline]
    pub fn ptr_eq(a: &List, b: &List) -> bool {
        a.ptr == b.ptr
    }

    /// The address of the allocation (identity checks; it changes when a
    /// uniquely held list grows past its capacity).
    pub fn as_ptr(&self) -> *const () {
        self.ptr.as_ptr().cast_const().cast()
    }

    /// The number of references (a racy snapshot, for tests and
    /// diagnostics; immortal lists report a huge number).
    pub fn strong_count(&self) -> usize {
        self.header().rc.get()
    }

    /// Whether this is the only reference (so changes are in place).
    #[inline(always)]
    pub fn is_unique(&self) -> bool {
        self.header().rc.is_unique()
    }

    /// The list to change in place: copied first if it is shared.
    #[inline(always)]
    pub fn make_mut(&mut self) -> &mut ListMut {
        if !self.is_unique() {
            self.unshare(0);
        }
        // SAFETY: `ListMut` is a `repr(transparent)` wrapper of `List`, and
        // the list is now uniquely held, which is `ListMut`'s invariant.
        unsafe { &mut *(self as *mut List).cast::<ListMut>() }
    }

    /// The list to change in place, if this is the only reference.
    #[inline]
    pub fn get_mut(&mut self) -> Option<&mut ListMut> {
        if self.is_unique() {
            // SAFETY: as in `make_mut`.
            Some(unsafe { &mut *(self as *mut List).cast::<ListMut>() })
        } else {
            None
        }
    }

    /// Replaces `self` by a private copy with room for `extra` more items.
    #[cold]
    #[inline(never)]
    fn unshare(&mut self, extra: usize) {
        let n = self.len();
        // At least one slot, so the copy is a heap list (uniquely held).
        let cap = if n == 0 { 4 } else { n }.saturating_add(extra);
        let copy = List::with_capacity(cap);
        // SAFETY: `copy` is a fresh heap list with room for `n` items; each
        // item is cloned into its slot and the length set after.
        unsafe {
            let dst = items_of(copy.ptr);
            for (i, v) in self.as_slice().iter().enumerate() {
                dst.add(i).write(clone_item(v));
            }
            (*copy.ptr.as_ptr()).len = n;
        }
        *self = copy;
    }

    /// The items as a `Vec`, moved out when this is the only reference.
    pub fn into_vec(self) -> Vec<Value> {
        if !self.is_unique() {
            return self.as_slice().to_vec();
        }
        let me = ManuallyDrop::new(self);
        let len = me.len();
        let mut v = Vec::with_capacity(len);
        // SAFETY: we are the only owner: the `len` initialized items are
        // moved (bitwise) into `v`, and the header's memory is freed without
        // dropping them again.
        unsafe {
            ptr::copy_nonoverlapping(items_of(me.ptr), v.as_mut_ptr(), len);
            v.set_len(len);
            free_buffer(me.ptr);
        }
        v
    }

    /// Makes this list, and everything in it, immortal (see
    /// [`Value::make_immortal`]).
    pub(crate) fn make_immortal(&self) {
        self.header().rc.make_immortal();
    }

    pub(super) fn is_immortal(&self) -> bool {
        self.header().rc.is_immortal()
    }

    /// Gives up this reference without dropping: `Some(dead)` when it was
    /// the last one, for [`release`] to free.
    pub(super) fn release(self) -> Option<DeadList> {
        let me = ManuallyDrop::new(self);
        if me.header().rc.dec() {
            Some(DeadList(me.ptr))
        } else {
            None
        }
    }
}

/// A list whose last reference is gone: its items still need releasing.
pub(super) struct DeadList(NonNull<ListHeader>);

impl DeadList {
    /// Moves the items out into `out` and frees the allocation.
    pub(super) fn free(self, mut out: impl FnMut(Value)) {
        // SAFETY: the list had no owner left, so nothing else reads it; each
        // of the `len` initialized items is moved out exactly once before
        // the buffer is freed.
        unsafe {
            let len = self.0.as_ref().len;
            let items = items_of(self.0);
            for i in 0..len {
                let item = items.add(i);
                // A scalar owns nothing: leaving it unread frees nothing
                // it holds (speed only: no move, no drop call per number).
                if !owns_nothing(&*item) {
                    out(ptr::read(item));
                }
            }
            free_buffer(self.0);
        }
    }
}

/// Whether `v` is a scalar (nil, a bool, a number, a native function): a
/// value with no reference count and no drop glue, so it can be copied
/// without a call to `Value::clone` and left behind without being dropped.
#[inline(always)]
fn owns_nothing(v: &Value) -> bool {
    matches!(
        v,
        Value::Nil | Value::Bool(_) | Value::Int(_) | Value::Float(_) | Value::Native(_)
    )
}

/// `v.clone()`, with numbers (the items of most lists that get copied)
/// copied inline rather than through `Value::clone`'s call and jump table
/// (speed only).
#[inline(always)]
fn clone_item(v: &Value) -> Value {
    match v {
        Value::Int(i) => Value::Int(*i),
        Value::Float(f) => Value::Float(*f),
        other => other.clone(),
    }
}

/// Frees a header's allocation (not the items).
///
/// # Safety
/// `h` came from [`alloc_header`] with a non-zero capacity (or is the
/// static, which is ignored), and nothing uses it afterwards.
unsafe fn free_buffer(h: NonNull<ListHeader>) {
    let cap = h.as_ref().cap;
    if cap == 0 {
        return;
    }
    // The layout `alloc_header` allocated with, rebuilt without the
    // overflow checks (speed only: this runs once per freed list).
    let bytes = cap * mem::size_of::<Value>() + mem::size_of::<ListHeader>();
    debug_assert!(layout(cap).is_ok_and(|l| l.size() == bytes));
    // SAFETY: `layout(cap)` succeeded when the buffer was allocated, so
    // this size does not overflow and the alignment is valid.
    let l = Layout::from_size_align_unchecked(bytes, mem::align_of::<ListHeader>());
    alloc::dealloc(h.as_ptr().cast(), l);
}

#[cold]
fn capacity_overflow(n: usize) -> ! {
    match layout(n) {
        Ok(l) => alloc::handle_alloc_error(l),
        Err(_) => panic!("list capacity overflow ({n} items)"),
    }
}

impl Drop for List {
    #[inline]
    fn drop(&mut self) {
        if self.header().rc.dec() {
            release::free_list(DeadList(self.ptr));
        }
    }
}

impl Clone for List {
    #[inline(always)]
    fn clone(&self) -> List {
        self.header().rc.inc();
        List { ptr: self.ptr }
    }
}

impl Default for List {
    fn default() -> List {
        List::new()
    }
}

impl Deref for List {
    type Target = [Value];
    #[inline(always)]
    fn deref(&self) -> &[Value] {
        self.as_slice()
    }
}

impl AsRef<[Value]> for List {
    fn as_ref(&self) -> &[Value] {
        self.as_slice()
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        List::ptr_eq(self, other) || self.as_slice() == other.as_slice()
    }
}

impl From<Vec<Value>> for List {
    fn from(mut v: Vec<Value>) -> List {
        let n = v.len();
        let l = List::with_capacity(n);
        // SAFETY: `l` has room for `n` items and is uniquely ours; the items
        // are moved bitwise and `v` forgets them (its length is set to 0
        // before it is dropped, so each item has exactly one owner).
        unsafe {
            ptr::copy_nonoverlapping(v.as_ptr(), items_of(l.ptr), n);
            v.set_len(0);
            if n > 0 {
                (*l.ptr.as_ptr()).len = n;
            }
        }
        l
    }
}

impl FromIterator<Value> for List {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> List {
        let mut iter = iter.into_iter();
        let Some(first) = iter.next() else {
            return List::new();
        };
        let mut l = List::with_capacity(iter.size_hint().0.saturating_add(1));
        let m = l.make_mut();
        m.push(first);
        for v in iter {
            m.push(v);
        }
        l
    }
}

impl<'a> IntoIterator for &'a List {
    type Item = &'a Value;
    type IntoIter = std::slice::Iter<'a, Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

/// A uniquely held [`List`], changed in place: what [`List::make_mut`]
/// returns. Its methods mirror `Vec`'s.
#[repr(transparent)]
pub struct ListMut(List);

impl ListMut {
    #[inline(always)]
    fn header_mut(&mut self) -> &mut ListHeader {
        // SAFETY: the list is uniquely held (the invariant of `ListMut`), so
        // it is not the static empty header (which is immortal, never
        // unique) and nobody else reads the header.
        unsafe { self.0.ptr.as_mut() }
    }

    /// Makes room for `additional` more items (aborts if impossible).
    pub fn reserve(&mut self, additional: usize) {
        if let Err(e) = self.try_reserve(additional) {
            let _ = e;
            capacity_overflow(self.0.len().saturating_add(additional));
        }
    }

    /// Makes room for `additional` more items, or says why it cannot.
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), CapacityError> {
        let h = self.0.header();
        let need = h.len.checked_add(additional).ok_or(CapacityError)?;
        if need > h.cap {
            self.grow_to(grown(h.cap, need))?;
        }
        Ok(())
    }

    /// Makes room for exactly `additional` more items (no doubling), or
    /// says why it cannot.
    pub fn try_reserve_exact(&mut self, additional: usize) -> Result<(), CapacityError> {
        let h = self.0.header();
        let need = h.len.checked_add(additional).ok_or(CapacityError)?;
        if need > h.cap {
            self.grow_to(need)?;
        }
        Ok(())
    }

    /// How many items fit before the next reallocation.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    #[cold]
    #[inline(never)]
    fn grow_to(&mut self, cap: usize) -> Result<(), CapacityError> {
        let old_cap = self.0.header().cap;
        let new_layout = layout(cap)?;
        // SAFETY: the list is uniquely held with a heap header of capacity
        // `old_cap` (a unique list is never the static); `realloc` keeps the
        // header and the initialized items and the new size is non-zero.
        let p = unsafe {
            alloc::realloc(
                self.0.ptr.as_ptr().cast(),
                layout(old_cap)?,
                new_layout.size(),
            )
        };
        let p = NonNull::new(p.cast::<ListHeader>()).ok_or(CapacityError)?;
        self.0.ptr = p;
        self.header_mut().cap = cap;
        Ok(())
    }

    /// Appends `v`.
    #[inline]
    pub fn push(&mut self, v: Value) {
        let h = self.0.header();
        let (len, cap) = (h.len, h.cap);
        if len == cap && self.grow_to(grown(cap, len + 1)).is_err() {
            capacity_overflow(len + 1);
        }
        // SAFETY: `len < cap` now, so slot `len` is inside the allocation
        // and uninitialized; it becomes the last item.
        unsafe { items_of(self.0.ptr).add(len).write(v) };
        self.header_mut().len = len + 1;
    }

    /// Removes and returns the last item.
    #[inline]
    pub fn pop(&mut self) -> Option<Value> {
        let len = self.0.len();
        if len == 0 {
            return None;
        }
        self.header_mut().len = len - 1;
        // SAFETY: slot `len - 1` was initialized and is no longer counted
        // as an item, so it is moved out exactly once.
        Some(unsafe { items_of(self.0.ptr).add(len - 1).read() })
    }

    /// Inserts `v` at `i` (`i <= len`), shifting the later items.
    pub fn insert(&mut self, i: usize, v: Value) {
        let len = self.0.len();
        assert!(i <= len, "insert index {i} out of range (length {len})");
        self.reserve(1);
        // SAFETY: room for one more item was reserved; the items `i..len`
        // move up one slot (overlapping copy) and `v` fills slot `i`.
        unsafe {
            let p = items_of(self.0.ptr).add(i);
            ptr::copy(p, p.add(1), len - i);
            p.write(v);
        }
        self.header_mut().len = len + 1;
    }

    /// Removes and returns the item at `i` (`i < len`), shifting the later
    /// items down.
    pub fn remove(&mut self, i: usize) -> Value {
        let len = self.0.len();
        assert!(i < len, "remove index {i} out of range (length {len})");
        // SAFETY: slot `i` is initialized; it is moved out, the items after
        // it move down one slot, and the length shrinks by one.
        unsafe {
            let p = items_of(self.0.ptr).add(i);
            let v = p.read();
            ptr::copy(p.add(1), p, len - i - 1);
            self.header_mut().len = len - 1;
            v
        }
    }

    /// Keeps the first `n` items, dropping the rest.
    pub fn truncate(&mut self, n: usize) {
        let len = self.0.len();
        if n >= len {
            return;
        }
        self.header_mut().len = n;
        // SAFETY: the items `n..len` were initialized and are no longer
        // counted, so each is dropped exactly once.
        unsafe {
            ptr::drop_in_place(ptr::slice_from_raw_parts_mut(
                items_of(self.0.ptr).add(n),
                len - n,
            ))
        };
    }

    /// Drops every item (the capacity is kept).
    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// Appends copies of `items`.
    pub fn extend_from_slice(&mut self, items: &[Value]) {
        self.reserve(items.len());
        for v in items {
            self.push(v.clone());
        }
    }

    /// Appends the items of `iter`.
    pub fn extend<I: IntoIterator<Item = Value>>(&mut self, iter: I) {
        let iter = iter.into_iter();
        self.reserve(iter.size_hint().0);
        for v in iter {
            self.push(v);
        }
    }

    /// Keeps only the items for which `keep` is true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(&Value) -> bool) {
        let items = mem::take(&mut self.0).into_vec();
        let mut kept = List::with_capacity(items.len());
        {
            let m = kept.make_mut();
            for v in items {
                if keep(&v) {
                    m.push(v);
                }
            }
        }
        self.0 = kept;
    }
}

impl Deref for ListMut {
    type Target = [Value];
    #[inline(always)]
    fn deref(&self) -> &[Value] {
        self.0.as_slice()
    }
}

impl DerefMut for ListMut {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [Value] {
        let len = self.0.len();
        // SAFETY: the list is uniquely held and borrowed mutably, and its
        // first `len` items are initialized.
        unsafe { std::slice::from_raw_parts_mut(items_of(self.0.ptr), len) }
    }
}

impl Extend<Value> for ListMut {
    fn extend<I: IntoIterator<Item = Value>>(&mut self, iter: I) {
        ListMut::extend(self, iter)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn ints(l: &[Value]) -> Vec<i64> {
        l.iter()
            .map(|v| match v {
                Value::Int(i) => *i,
                _ => -1,
            })
            .collect()
    }

    #[test]
    fn take_from_moves_items_and_leaves_nil() {
        let inner = List::from_slice(&[Value::Int(1)]);
        let mut regs = [Value::Int(7), Value::List(inner.clone()), Value::Nil];
        let l = List::take_from(&mut regs);
        assert_eq!(l.len(), 3);
        assert_eq!(l.capacity(), 3);
        assert!(l.is_unique());
        assert_eq!(l[0], Value::Int(7));
        assert_eq!(l[2], Value::Nil);
        // Moved, not cloned: the list and `inner` are the only owners.
        assert_eq!(inner.strong_count(), 2);
        assert!(regs.iter().all(|v| *v == Value::Nil));
        drop(l);
        assert_eq!(inner.strong_count(), 1);
        // No items: the shared empty list, no allocation.
        let e = List::take_from(&mut []);
        assert!(e.is_empty() && e.capacity() == 0);
    }

    #[test]
    fn grows_in_one_allocation_and_keeps_items() {
        let mut l = List::new();
        assert!(l.is_empty() && l.capacity() == 0);
        for i in 0..100 {
            l.make_mut().push(Value::Int(i));
        }
        assert_eq!(ints(&l), (0..100).collect::<Vec<_>>());
        assert!(l.capacity() >= 100);
        assert_eq!(l.make_mut().pop(), Some(Value::Int(99)));
        l.make_mut().insert(0, Value::Int(-1));
        assert_eq!(l.make_mut().remove(1), Value::Int(0));
        l.make_mut().truncate(3);
        assert_eq!(ints(&l), vec![-1, 1, 2]);
        l.make_mut().retain(|v| *v != Value::Int(1));
        assert_eq!(ints(&l), vec![-1, 2]);
        l.make_mut().clear();
        assert!(l.is_empty());
        assert_eq!(l.make_mut().pop(), None);
    }

    #[test]
    fn shared_lists_copy_on_write() {
        let mut a: List = (0..5).map(Value::Int).collect();
        let b = a.clone();
        assert!(!a.is_unique() && List::ptr_eq(&a, &b));
        a.make_mut()[0] = Value::Int(7);
        assert_eq!(ints(&a), vec![7, 1, 2, 3, 4]);
        assert_eq!(ints(&b), vec![0, 1, 2, 3, 4]);
        assert!(a.is_unique() && b.is_unique());
        // The empty static is never written to.
        let mut e = List::new();
        let e2 = e.clone();
        e.make_mut().push(Value::Int(1));
        assert_eq!(e.len(), 1);
        assert!(e2.is_empty() && List::new().is_empty());
    }

    #[test]
    fn strings_inside_are_dropped_once() {
        let s = Value::str("payload");
        let Value::Str(inner) = &s else { panic!() };
        let mut l = List::from(vec![s.clone(), s.clone()]);
        assert_eq!(inner.strong_count(), 3);
        l.make_mut().extend_from_slice(std::slice::from_ref(&s));
        let v = l.clone().into_vec();
        assert_eq!(v.len(), 3);
        drop(v);
        assert_eq!(inner.strong_count(), 4);
        drop(l);
        assert_eq!(inner.strong_count(), 1);
    }

    #[test]
    fn into_vec_moves_out_of_a_unique_list() {
        let s = Value::str("a heap string");
        let l = List::from(vec![s.clone(), Value::Int(1)]);
        let v = l.into_vec();
        assert_eq!(v, vec![s.clone(), Value::Int(1)]);
        drop(v);
        let Value::Str(inner) = &s else { panic!() };
        assert_eq!(inner.strong_count(), 1);
    }

    /// `unshare` copies scalars inline (`clone_item`) and everything else
    /// through `Value::clone`; freeing skips scalars (`owns_nothing`) and
    /// releases the rest. Both paths, in one list, with the counts checked.
    #[test]
    fn copies_and_frees_scalars_and_owners_alike() {
        let s = Value::str("a heap string");
        let Value::Str(text) = &s else { panic!() };
        let inner = List::from_slice(&[Value::Int(5)]);
        let items = vec![
            Value::Int(-3),
            Value::Float(2.5),
            Value::Nil,
            Value::Bool(true),
            s.clone(),
            Value::List(inner.clone()),
            Value::str("x"),
        ];
        let mut a = List::from(items.clone());
        let b = a.clone();
        // The copy on write: every item equal, owners counted once more.
        a.make_mut()[0] = Value::Int(4);
        assert!(!List::ptr_eq(&a, &b));
        assert_eq!(&a[1..], &items[1..]);
        assert_eq!(b.as_slice(), &items[..]);
        assert_eq!(a[0], Value::Int(4));
        assert_eq!(text.strong_count(), 4); // `s`, `items`, `a`, `b`
        assert_eq!(inner.strong_count(), 4);
        // Freeing: scalars skipped, the string and the list released.
        drop(a);
        assert_eq!(text.strong_count(), 3);
        assert_eq!(inner.strong_count(), 3);
        drop(b);
        drop(items);
        assert_eq!(text.strong_count(), 1);
        assert_eq!(inner.strong_count(), 1);
        // A list of numbers only: copied and freed without a call per item.
        let mut n: List = (0..9).map(Value::Int).collect();
        let m = n.clone();
        n.make_mut().reverse();
        assert_eq!(ints(&n), (0..9).rev().collect::<Vec<_>>());
        assert_eq!(ints(&m), (0..9).collect::<Vec<_>>());
    }
}
