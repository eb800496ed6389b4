//! [`Str`]: the payload of `Value::Str`, one allocation holding the
//! reference count, the length, the capacity, two caches and the UTF-8
//! bytes, behind a thin pointer.
//!
//! The caches make the common string operations cheap without changing
//! what a string is:
//! - its **hash** ([`Str::hash_code`]), computed on first use: a map lookup
//!   by a string that was hashed before (a constant, a map key, a field
//!   name) hashes nothing;
//! - its **character count** ([`Str::char_count`]), which also tells
//!   whether it is all ASCII (count == bytes): then `s[i]`, `len(s)` and
//!   `s.slice(a, b)` are O(1);
//! - for a long non-ASCII string, a **sparse character index** (the byte
//!   offset of every 64th character), built on first use, so `s[i]` is
//!   O(1) plus a scan of at most 63 characters instead of O(i).
//!
//! The empty string and the 128 one-character ASCII strings are immortal
//! statics: `s[i]` on an ASCII string, `chars()` and iteration allocate
//! nothing for them. Changing a string in place (`s += t` on a uniquely held
//! string) goes through [`Str::make_mut`] and keeps the caches right.

use super::list::CapacityError;
use super::rc::RefCount;
use std::alloc::{self, Layout};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// `chars` before the characters were counted.
const UNKNOWN: usize = usize::MAX;

/// Characters between two entries of the sparse index.
const STRIDE: usize = 64;

/// The header in front of a string's bytes.
#[repr(C)]
pub(crate) struct StrHeader {
    rc: RefCount,
    len: usize,
    cap: usize,
    /// [`str_hash`] of the bytes, or 0 before it was computed.
    hash: AtomicU64,
    /// The number of characters, or [`UNKNOWN`].
    chars: AtomicUsize,
    /// The sparse character index (non-ASCII strings only), or null.
    index: AtomicPtr<CharIndex>,
}

impl StrHeader {
    const fn immortal(len: usize) -> StrHeader {
        StrHeader {
            rc: RefCount::immortal(),
            len,
            cap: len,
            hash: AtomicU64::new(0),
            chars: AtomicUsize::new(len),
            index: AtomicPtr::new(ptr::null_mut()),
        }
    }
}

/// The byte offsets of characters 0, 64, 128, ...
struct CharIndex {
    offsets: Box<[usize]>,
}

/// A static one-character ASCII string: the header and its byte.
#[repr(C)]
struct StaticChar {
    header: StrHeader,
    bytes: [u8; 8],
}

const fn ascii_table() -> [StaticChar; 128] {
    let mut t = [const {
        StaticChar {
            header: StrHeader::immortal(1),
            bytes: [0; 8],
        }
    }; 128];
    let mut i = 0;
    while i < 128 {
        t[i].bytes[0] = i as u8;
        i += 1;
    }
    t
}

/// The one-character ASCII strings.
static ASCII: [StaticChar; 128] = ascii_table();

/// The empty string.
static EMPTY: StrHeader = StrHeader::immortal(0);

/// The hash of a string's bytes, as cached in [`StrHeader::hash`]: FxHash
/// of the bytes, never 0 (0 marks "not computed").
#[inline]
pub fn str_hash(s: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(s.as_bytes());
    match h.finish() {
        0 => 1,
        x => x,
    }
}

fn layout(cap: usize) -> Layout {
    let bytes = cap
        .checked_add(std::mem::size_of::<StrHeader>())
        .filter(|b| *b <= isize::MAX as usize)
        .unwrap_or_else(|| panic!("string capacity overflow ({cap} bytes)"));
    Layout::from_size_align(bytes, std::mem::align_of::<StrHeader>()).expect("size checked above")
}

#[inline(always)]
fn bytes_of(h: NonNull<StrHeader>) -> *mut u8 {
    // SAFETY (of the arithmetic): the bytes start right after the header,
    // inside (or, for the empty static, one past) the same allocation.
    unsafe { h.as_ptr().add(1).cast::<u8>() }
}

/// Copies `n` bytes from `src` to `dst` (the ranges do not overlap). Strings
/// are mostly short (one character, a key, a number), and for those a call
/// to `memcpy` costs more than the copy: below 16 bytes the bytes move with
/// at most two (overlapping) loads and stores of one width, inline.
///
/// # Safety
/// `src` is valid for reading and `dst` for writing `n` bytes, and the two
/// ranges do not overlap.
#[inline(always)]
unsafe fn copy_bytes(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY: every access below stays inside `src[..n]` / `dst[..n]` (each
    // branch's widths are at most `n`), which the caller vouches for;
    // unaligned reads and writes are used where the width exceeds a byte.
    unsafe {
        if n == 1 {
            // One character (`s[i]`, the items of `chars`, a join of
            // characters): the commonest length, checked first.
            *dst = *src;
        } else if n >= 16 {
            ptr::copy_nonoverlapping(src, dst, n);
        } else if n >= 8 {
            let a = ptr::read_unaligned(src.cast::<u64>());
            let b = ptr::read_unaligned(src.add(n - 8).cast::<u64>());
            ptr::write_unaligned(dst.cast::<u64>(), a);
            ptr::write_unaligned(dst.add(n - 8).cast::<u64>(), b);
        } else if n >= 4 {
            let a = ptr::read_unaligned(src.cast::<u32>());
            let b = ptr::read_unaligned(src.add(n - 4).cast::<u32>());
            ptr::write_unaligned(dst.cast::<u32>(), a);
            ptr::write_unaligned(dst.add(n - 4).cast::<u32>(), b);
        } else if n > 0 {
            // 2 or 3 bytes: the first, the middle and the last.
            let (a, b, c) = (*src, *src.add(n / 2), *src.add(n - 1));
            *dst = a;
            *dst.add(n / 2) = b;
            *dst.add(n - 1) = c;
        }
    }
}

/// Allocates a header with room for `cap` bytes and length 0. A capacity
/// of 0 gives the empty static.
fn alloc_header(cap: usize) -> NonNull<StrHeader> {
    if cap == 0 {
        return NonNull::from(&EMPTY);
    }
    let layout = layout(cap);
    // SAFETY: the layout's size is non-zero (the header alone is 48 bytes).
    let p = unsafe { alloc::alloc(layout) }.cast::<StrHeader>();
    let Some(p) = NonNull::new(p) else {
        alloc::handle_alloc_error(layout)
    };
    // SAFETY: `p` was just allocated with room for a header.
    unsafe { init_header(p, cap) }
}

/// [`alloc_header`], or an error when `cap` bytes cannot be had.
fn try_alloc_header(cap: usize) -> Result<NonNull<StrHeader>, CapacityError> {
    if cap == 0 {
        return Ok(NonNull::from(&EMPTY));
    }
    try_alloc_header_with(cap, alloc::alloc)
}

/// [`try_alloc_header`] with the bytes zeroed (`cap > 0`): memory fresh
/// from the OS is zero already, so the allocator skips the clearing.
fn try_alloc_header_zeroed(cap: usize) -> Result<NonNull<StrHeader>, CapacityError> {
    try_alloc_header_with(cap, alloc::alloc_zeroed)
}

/// A header with room for `cap > 0` bytes from `allocate` (`alloc` or
/// `alloc_zeroed`), or an error when the size overflows or memory is out. Inlined, so each
/// caller calls its allocator directly.
#[inline(always)]
fn try_alloc_header_with(
    cap: usize,
    allocate: unsafe fn(Layout) -> *mut u8,
) -> Result<NonNull<StrHeader>, CapacityError> {
    let bytes = cap
        .checked_add(std::mem::size_of::<StrHeader>())
        .filter(|b| *b <= isize::MAX as usize)
        .ok_or(CapacityError)?;
    let layout = Layout::from_size_align(bytes, std::mem::align_of::<StrHeader>())
        .map_err(|_| CapacityError)?;
    // SAFETY: the layout's size is non-zero (the header alone is 48 bytes),
    // as `alloc` and `alloc_zeroed` require.
    let p = unsafe { allocate(layout) }.cast::<StrHeader>();
    let p = NonNull::new(p).ok_or(CapacityError)?;
    // SAFETY: `p` was just allocated with room for a header.
    Ok(unsafe { init_header(p, cap) })
}

/// Asks the kernel to back `len` bytes at `start` with huge pages where it
/// can (Linux's transparent huge pages in `madvise` mode): reading a file
/// of 100 MB into a fresh buffer then takes ~50 page faults instead of
/// ~25,000. Only the whole pages inside the range are advised; the advice
/// never changes the bytes. Below 4 MiB it is not worth a system call.
#[cfg(target_os = "linux")]
fn advise_huge_pages(start: *mut u8, len: usize) {
    const PAGE: usize = 4096;
    if len < 4 << 20 {
        return;
    }
    let from = (start as usize).next_multiple_of(PAGE);
    let to = (start as usize + len) & !(PAGE - 1);
    if to > from {
        // SAFETY: the range lies inside one live allocation of ours;
        // MADV_HUGEPAGE only changes how its pages are backed, never their
        // contents, and a failure (no THP support) leaves them as they were.
        unsafe {
            libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_start: *mut u8, _len: usize) {}

/// Writes a fresh header (count 1, length 0) into the allocation `p`.
///
/// # Safety
/// `p` is a fresh allocation of [`layout`]`(cap)`.
#[inline(always)]
unsafe fn init_header(p: NonNull<StrHeader>, cap: usize) -> NonNull<StrHeader> {
    p.as_ptr().write(StrHeader {
        rc: RefCount::one(),
        len: 0,
        cap,
        hash: AtomicU64::new(0),
        chars: AtomicUsize::new(0),
        index: AtomicPtr::new(ptr::null_mut()),
    });
    p
}

/// A reference-counted, immutable (copy-on-write) UTF-8 string (8 bytes).
pub struct Str {
    ptr: NonNull<StrHeader>,
}

// SAFETY: shared like an `Arc<String>`: the bytes are only read through
// shared references and written only through `&mut Str` when uniquely
// held; the caches are atomics written with the same value by any thread
// that computes them (or, for the index, installed once by compare-exchange).
unsafe impl Send for Str {}
// SAFETY: as above.
unsafe impl Sync for Str {}

impl Str {
    /// The empty string (no allocation).
    #[inline]
    pub fn empty() -> Str {
        Str {
            ptr: NonNull::from(&EMPTY),
        }
    }

    /// A copy of `s`. The empty string and one-character ASCII strings are
    /// statics (no allocation).
    pub fn new(s: &str) -> Str {
        match s.as_bytes() {
            [] => Str::empty(),
            [b] if b.is_ascii() => Str::ascii_char(*b),
            bytes => {
                let p = alloc_header(bytes.len());
                // SAFETY: room for `len` bytes was allocated; they are
                // copied from a valid `str`, so the contents are UTF-8.
                unsafe {
                    copy_bytes(bytes.as_ptr(), bytes_of(p), bytes.len());
                    let h = &mut *p.as_ptr();
                    h.len = bytes.len();
                    h.chars = AtomicUsize::new(UNKNOWN);
                }
                Str { ptr: p }
            }
        }
    }

    /// Everything `r` holds, read straight into one new string: no
    /// intermediate buffer and no copy (what `read_file` uses). `size_hint`
    /// is the expected length (a file's size): that much room is allocated
    /// up front and filled in place; input beyond it is still read (a file
    /// that grew, a `/proc` file that reports size 0), through a copy.
    /// Bytes that are not UTF-8 are an `InvalidData` error with the message
    /// of `std::io::Read::read_to_string`.
    pub fn read_from<R: std::io::Read>(r: &mut R, size_hint: usize) -> std::io::Result<Str> {
        use std::io::{Error, ErrorKind};
        let invalid = || Error::new(ErrorKind::InvalidData, "stream did not contain valid UTF-8");
        if size_hint == 0 {
            let mut all = Vec::new();
            r.read_to_end(&mut all)?;
            return String::from_utf8(all)
                .map(|t| Str::new(&t))
                .map_err(|_| invalid());
        }
        let p = try_alloc_header_zeroed(size_hint)
            .map_err(|_| Error::new(ErrorKind::OutOfMemory, "out of memory"))?;
        // Length 0 until the end: dropped early (an error), it frees the
        // allocation like an empty string.
        let s = Str { ptr: p };
        advise_huge_pages(bytes_of(p), size_hint);
        // SAFETY: `size_hint` bytes after the header were allocated zeroed
        // (so initialised) and are uniquely ours; `s` does not read them
        // while `buf` lives.
        let buf = unsafe { std::slice::from_raw_parts_mut(bytes_of(p), size_hint) };
        let mut len = 0;
        while len < size_hint {
            match r.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if len == size_hint {
            let mut rest = Vec::new();
            r.read_to_end(&mut rest)?;
            if !rest.is_empty() {
                let mut all = Vec::with_capacity(len + rest.len());
                all.extend_from_slice(&buf[..len]);
                all.extend_from_slice(&rest);
                drop(s);
                return String::from_utf8(all)
                    .map(|t| Str::new(&t))
                    .map_err(|_| invalid());
            }
        }
        std::str::from_utf8(&buf[..len]).map_err(|_| invalid())?;
        if len > 0 {
            // SAFETY: a heap string, uniquely held; its first `len` bytes
            // were just checked to be UTF-8.
            unsafe {
                let h = &mut *p.as_ptr();
                h.len = len;
                *h.chars.get_mut() = UNKNOWN;
            }
        }
        Ok(s)
    }

    /// An empty string with room for `cap` bytes, to fill with
    /// [`StrMut::push_str`].
    pub fn with_capacity(cap: usize) -> Str {
        Str {
            ptr: alloc_header(cap),
        }
    }

    /// The decimal text of `i` (what `str(i)` gives), without going
    /// through `fmt`.
    pub fn from_int(i: i64) -> Str {
        let mut buf = itoa::Buffer::new();
        let text = buf.format(i);
        let out = Str::new(text);
        if text.len() > 1 {
            // SAFETY: a fresh heap string, uniquely held; digits and '-'
            // are ASCII.
            unsafe { *(*out.ptr.as_ptr()).chars.get_mut() = text.len() };
        }
        out
    }

    /// `a + b` in one allocation of exactly the combined length, the
    /// character count carried over when both counts are known.
    pub fn try_concat(a: &Str, b: &Str) -> Result<Str, CapacityError> {
        let (x, y) = (a.as_str(), b.as_str());
        if y.is_empty() {
            return Ok(a.clone());
        }
        if x.is_empty() {
            return Ok(b.clone());
        }
        let len = x.len().checked_add(y.len()).ok_or(CapacityError)?;
        let p = try_alloc_header(len)?;
        let (ca, cb) = (
            a.header().chars.load(Ordering::Relaxed),
            b.header().chars.load(Ordering::Relaxed),
        );
        // SAFETY: `p` has room for `len` bytes (len >= 2, so it is a heap
        // string, uniquely ours); both halves are UTF-8, so the whole is.
        unsafe {
            let at = bytes_of(p);
            copy_bytes(x.as_ptr(), at, x.len());
            copy_bytes(y.as_ptr(), at.add(x.len()), y.len());
            let h = &mut *p.as_ptr();
            h.len = len;
            *h.chars.get_mut() = if ca == UNKNOWN || cb == UNKNOWN {
                UNKNOWN
            } else {
                ca + cb
            };
        }
        Ok(Str { ptr: p })
    }

    /// The string with every ASCII letter upper-cased (`upper`) or
    /// lower-cased, in one allocation; `None` if the string is not all
    /// ASCII (the caller then uses Unicode case mapping).
    pub fn ascii_case(&self, upper: bool) -> Option<Str> {
        if !self.is_ascii() {
            return None;
        }
        let text = self.as_bytes();
        if text.len() <= 1 {
            let Some(&c) = text.first() else {
                return Some(self.clone());
            };
            let c = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            return Some(Str::ascii_char(c));
        }
        let p = alloc_header(text.len());
        // SAFETY: `p` has room for `text.len()` bytes and is uniquely ours;
        // case-mapping ASCII bytes gives ASCII bytes (UTF-8, same count).
        unsafe {
            let out = std::slice::from_raw_parts_mut(bytes_of(p), text.len());
            out.copy_from_slice(text);
            if upper {
                out.make_ascii_uppercase();
            } else {
                out.make_ascii_lowercase();
            }
            let h = &mut *p.as_ptr();
            h.len = text.len();
            *h.chars.get_mut() = text.len();
        }
        Some(Str { ptr: p })
    }

    /// The static one-character string of ASCII byte `b` (`b < 128`).
    #[inline]
    pub fn ascii_char(b: u8) -> Str {
        let c = &ASCII[(b & 0x7f) as usize];
        Str {
            ptr: NonNull::from(&c.header),
        }
    }

    /// The one-character string `c` (a static for ASCII).
    pub fn from_char(c: char) -> Str {
        if c.is_ascii() {
            Str::ascii_char(c as u8)
        } else {
            let mut buf = [0u8; 4];
            Str::new(c.encode_utf8(&mut buf))
        }
    }

    #[inline(always)]
    fn header(&self) -> &StrHeader {
        // SAFETY: `ptr` points at a live header while this `Str` exists.
        unsafe { self.ptr.as_ref() }
    }

    /// The text.
    #[inline(always)]
    pub fn as_str(&self) -> &str {
        // SAFETY: the first `len` bytes are initialized UTF-8 (written only
        // from `str`s and `char`s) and do not change while `self` is
        // borrowed.
        unsafe {
            std::str::from_utf8_unchecked(std::slice::from_raw_parts(
                bytes_of(self.ptr),
                self.header().len,
            ))
        }
    }

    /// Whether `a` and `b` are the same allocation.
    #[inline(always)]
    pub fn ptr_eq(a: &Str, b: &Str) -> bool {
        a.ptr == b.ptr
    }

    /// The address of the allocation (identity checks; it changes when a
    /// uniquely held string grows past its capacity).
    pub fn as_ptr(&self) -> *const () {
        self.ptr.as_ptr().cast_const().cast()
    }

    /// The number of references (a racy snapshot, for tests and
    /// diagnostics; immortal strings report a huge number).
    pub fn strong_count(&self) -> usize {
        self.header().rc.get()
    }

    /// Spare room: how many more bytes fit before the next reallocation.
    pub fn spare_capacity(&self) -> usize {
        self.header().cap - self.header().len
    }

    /// Whether this is the only reference.
    #[inline]
    pub fn is_unique(&self) -> bool {
        self.header().rc.is_unique()
    }

    /// The hash of the text (cached): [`str_hash`].
    #[inline]
    pub fn hash_code(&self) -> u64 {
        let h = self.header().hash.load(Ordering::Relaxed);
        if h != 0 {
            return h;
        }
        let h = str_hash(self.as_str());
        self.header().hash.store(h, Ordering::Relaxed);
        h
    }

    /// The number of characters (cached).
    #[inline]
    pub fn char_count(&self) -> usize {
        let n = self.header().chars.load(Ordering::Relaxed);
        if n != UNKNOWN {
            return n;
        }
        self.count_chars()
    }

    #[cold]
    fn count_chars(&self) -> usize {
        let s = self.as_str();
        let n = if s.is_ascii() {
            s.len()
        } else {
            s.chars().count()
        };
        self.header().chars.store(n, Ordering::Relaxed);
        n
    }

    /// Whether every character is ASCII (so characters are bytes).
    #[inline]
    pub fn is_ascii(&self) -> bool {
        self.char_count() == self.header().len
    }

    /// Character `i` (`i < char_count()`) as a string: O(1) for ASCII,
    /// O(1) plus a short scan otherwise.
    pub fn char_at(&self, i: usize) -> Str {
        let s = self.as_str();
        if self.is_ascii() {
            return Str::ascii_char(s.as_bytes()[i]);
        }
        let at = self.byte_offset(i);
        let c = s[at..]
            .chars()
            .next()
            .expect("character index checked by the caller");
        Str::from_char(c)
    }

    /// The byte offset of character `i` (`i <= char_count()`; the count
    /// itself gives the length in bytes).
    pub fn byte_offset(&self, i: usize) -> usize {
        let s = self.as_str();
        if self.is_ascii() {
            return i.min(s.len());
        }
        let (mut at, mut left) = match self.index() {
            Some(ix) => {
                let k = (i / STRIDE).min(ix.offsets.len() - 1);
                (ix.offsets[k], i - k * STRIDE)
            }
            None => (0, i),
        };
        for c in s[at..].chars() {
            if left == 0 {
                break;
            }
            at += c.len_utf8();
            left -= 1;
        }
        at
    }

    /// The sparse index of a non-ASCII string longer than one stride,
    /// built on first use.
    fn index(&self) -> Option<&CharIndex> {
        let p = self.header().index.load(Ordering::Acquire);
        if !p.is_null() {
            // SAFETY: a non-null index pointer was installed by
            // `build_index` and is freed only with the string (or by
            // `StrMut`, which holds the string uniquely).
            return Some(unsafe { &*p });
        }
        if self.char_count() <= STRIDE {
            return None;
        }
        self.build_index()
    }

    #[cold]
    fn build_index(&self) -> Option<&CharIndex> {
        let offsets: Box<[usize]> = self
            .as_str()
            .char_indices()
            .step_by(STRIDE)
            .map(|(b, _)| b)
            .collect();
        let fresh = Box::into_raw(Box::new(CharIndex { offsets }));
        let slot = &self.header().index;
        match slot.compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire) {
            // SAFETY: installed; it lives as long as the string.
            Ok(_) => Some(unsafe { &*fresh }),
            Err(other) => {
                // SAFETY: another thread installed its index first; ours
                // was never shared, so it is freed here, and theirs lives
                // as long as the string.
                unsafe {
                    drop(Box::from_raw(fresh));
                    Some(&*other)
                }
            }
        }
    }

    /// The string to change in place: copied first if it is shared.
    #[inline]
    pub fn make_mut(&mut self) -> &mut StrMut {
        if !self.is_unique() {
            *self = self.copy_with_capacity(self.header().len);
        }
        // SAFETY: `StrMut` is a `repr(transparent)` wrapper and the string is
        // now uniquely held (its invariant).
        unsafe { &mut *(self as *mut Str).cast::<StrMut>() }
    }

    #[cold]
    fn copy_with_capacity(&self, cap: usize) -> Str {
        let mut s = Str::with_capacity(cap.max(1));
        s.make_mut_fresh().push_str(self.as_str());
        s
    }

    /// `make_mut` for a string just allocated by `with_capacity` (unique,
    /// or the empty static when the capacity is 0, handled by `push_str`).
    fn make_mut_fresh(&mut self) -> &mut StrMut {
        // SAFETY: as in `make_mut`; `StrMut::push_str` reallocates a
        // non-unique (static) string before writing.
        unsafe { &mut *(self as *mut Str).cast::<StrMut>() }
    }

    /// Makes the string immortal (see [`super::Value::make_immortal`]).
    pub(crate) fn make_immortal(&self) {
        self.header().rc.make_immortal();
    }
}

/// Frees a string's allocation and its index.
///
/// # Safety
/// `h` is a heap string (not a static) with no owner left.
#[inline(never)]
unsafe fn free(h: NonNull<StrHeader>) {
    let hdr = &*h.as_ptr();
    let ix = hdr.index.load(Ordering::Acquire);
    if !ix.is_null() {
        drop(Box::from_raw(ix));
    }
    let cap = hdr.cap;
    alloc::dealloc(h.as_ptr().cast(), layout(cap));
}

impl Drop for Str {
    #[inline]
    fn drop(&mut self) {
        if self.header().rc.dec() {
            // SAFETY: the last owner is gone; statics are immortal and never
            // reach this point.
            unsafe { free(self.ptr) }
        }
    }
}

impl Clone for Str {
    #[inline(always)]
    fn clone(&self) -> Str {
        self.header().rc.inc();
        Str { ptr: self.ptr }
    }
}

impl Default for Str {
    fn default() -> Str {
        Str::empty()
    }
}

impl Deref for Str {
    type Target = str;
    #[inline(always)]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Str {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Str {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Str {
    #[inline]
    fn eq(&self, other: &Str) -> bool {
        if Str::ptr_eq(self, other) {
            return true;
        }
        let (a, b) = (self.as_bytes(), other.as_bytes());
        a.len() == b.len() && bytes_eq(a, b)
    }
}

/// `a == b` for two byte strings of the same length. Map keys are mostly
/// short: below 16 bytes they are compared inline with at most two
/// (overlapping) loads of one width from each, instead of a call to `bcmp`.
#[inline(always)]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    debug_assert_eq!(n, b.len());
    if n >= 16 {
        return a == b;
    }
    // SAFETY: both slices have `n` bytes and every read below stays inside
    // `[..n]` (each branch's widths are at most `n`); reads are unaligned.
    unsafe {
        let (p, q) = (a.as_ptr(), b.as_ptr());
        if n >= 8 {
            let x = ptr::read_unaligned(p.cast::<u64>()) ^ ptr::read_unaligned(q.cast::<u64>());
            let y = ptr::read_unaligned(p.add(n - 8).cast::<u64>())
                ^ ptr::read_unaligned(q.add(n - 8).cast::<u64>());
            (x | y) == 0
        } else if n >= 4 {
            let x = ptr::read_unaligned(p.cast::<u32>()) ^ ptr::read_unaligned(q.cast::<u32>());
            let y = ptr::read_unaligned(p.add(n - 4).cast::<u32>())
                ^ ptr::read_unaligned(q.add(n - 4).cast::<u32>());
            (x | y) == 0
        } else {
            (0..n).all(|i| *p.add(i) == *q.add(i))
        }
    }
}

impl Eq for Str {}

impl Hash for Str {
    /// Hashes as the `str` it holds (so `Borrow<str>` lookups work); map
    /// keys use [`Str::hash_code`] instead.
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl fmt::Display for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::new(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str::new(&s)
    }
}

/// A uniquely held [`Str`], changed in place: what [`Str::make_mut`]
/// returns.
#[repr(transparent)]
pub struct StrMut(Str);

impl StrMut {
    /// Appends `t`.
    pub fn push_str(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        let (len, cap) = (self.0.header().len, self.0.header().cap);
        let need = len
            .checked_add(t.len())
            .unwrap_or_else(|| panic!("string capacity overflow"));
        if need > cap || !self.0.is_unique() {
            self.grow_to(need.max(cap.saturating_mul(2)).max(16));
        }
        let added = if t.is_ascii() {
            t.len()
        } else {
            t.chars().count()
        };
        // SAFETY: the string is uniquely held (grown into a fresh allocation
        // above if it was the empty static) with room for `need` bytes; `t`
        // is UTF-8, so the bytes stay UTF-8; the caches are updated for the
        // new text and the stale index is freed (no other reader exists).
        unsafe {
            copy_bytes(t.as_ptr(), bytes_of(self.0.ptr).add(len), t.len());
            let h = &mut *self.0.ptr.as_ptr();
            h.len = need;
            *h.hash.get_mut() = 0;
            let chars = h.chars.get_mut();
            if *chars != UNKNOWN {
                *chars += added;
            }
            let ix = std::mem::replace(h.index.get_mut(), ptr::null_mut());
            if !ix.is_null() {
                drop(Box::from_raw(ix));
            }
        }
    }

    /// The length of the text in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.header().len
    }

    /// Whether the text is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many bytes fit before the next reallocation.
    #[inline]
    pub fn capacity(&self) -> usize {
        self.0.header().cap
    }

    /// Makes room for `additional` more bytes, growing the usual way
    /// (doubling), or says why it cannot.
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), CapacityError> {
        let (len, cap) = (self.len(), self.capacity());
        let need = len.checked_add(additional).ok_or(CapacityError)?;
        self.try_grow(need, need.max(cap.saturating_mul(2)).max(16))
    }

    /// Makes room for exactly `additional` more bytes, or says why it
    /// cannot.
    pub fn try_reserve_exact(&mut self, additional: usize) -> Result<(), CapacityError> {
        let need = self.len().checked_add(additional).ok_or(CapacityError)?;
        self.try_grow(need, need)
    }

    /// Grows to `cap` bytes if `need` do not fit (or the string is the
    /// shared empty static).
    fn try_grow(&mut self, need: usize, cap: usize) -> Result<(), CapacityError> {
        if need <= self.capacity() && self.0.is_unique() {
            return Ok(());
        }
        cap.checked_add(std::mem::size_of::<StrHeader>())
            .filter(|b| *b <= isize::MAX as usize)
            .ok_or(CapacityError)?;
        if !self.0.is_unique() {
            self.0 = self.0.copy_with_capacity(cap);
            return Ok(());
        }
        let old_cap = self.capacity();
        let new_layout = layout(cap);
        // SAFETY: a unique string is a heap string of capacity `old_cap`;
        // `realloc` keeps the header and the bytes (on failure the old
        // allocation is untouched).
        let p = unsafe {
            alloc::realloc(
                self.0.ptr.as_ptr().cast(),
                layout(old_cap),
                new_layout.size(),
            )
        };
        let p = NonNull::new(p.cast::<StrHeader>()).ok_or(CapacityError)?;
        self.0.ptr = p;
        // SAFETY: uniquely held.
        unsafe { (*p.as_ptr()).cap = cap };
        Ok(())
    }

    /// Appends `c`.
    pub fn push(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.push_str(c.encode_utf8(&mut buf));
    }

    /// Moves the text to an allocation of `cap` bytes.
    #[cold]
    fn grow_to(&mut self, cap: usize) {
        if !self.0.is_unique() {
            // A static (a fresh `with_capacity(0)`): continue in a private
            // heap copy.
            self.0 = self.0.copy_with_capacity(cap);
            return;
        }
        let old_cap = self.0.header().cap;
        let new_layout = layout(cap);
        // SAFETY: a unique string is a heap string of capacity `old_cap`;
        // `realloc` keeps the header and the bytes.
        let p = unsafe {
            alloc::realloc(
                self.0.ptr.as_ptr().cast(),
                layout(old_cap),
                new_layout.size(),
            )
        };
        let Some(p) = NonNull::new(p.cast::<StrHeader>()) else {
            alloc::handle_alloc_error(new_layout)
        };
        self.0.ptr = p;
        // SAFETY: uniquely held.
        unsafe { (*p.as_ptr()).cap = cap };
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// Builds a new string in one allocation sized up front (a join, a
/// replace): appending is a bounds check and a copy, and the caches are
/// set once, by [`StrBuilder::finish`].
pub struct StrBuilder {
    /// Uniquely held; its header's `len` stays 0 until `finish`, so
    /// dropping an unfinished builder frees it like an empty string.
    s: Str,
    len: usize,
}

impl StrBuilder {
    /// A builder with room for `cap` bytes, or an error when they cannot be
    /// had.
    pub fn try_with_capacity(cap: usize) -> Result<StrBuilder, CapacityError> {
        Ok(StrBuilder {
            s: Str {
                ptr: try_alloc_header(cap)?,
            },
            len: 0,
        })
    }

    /// Appends `t`; past the capacity asked for, the string grows (by
    /// doubling) as [`StrMut::push_str`] does.
    #[inline]
    pub fn push_str(&mut self, t: &str) {
        let cap = self.s.header().cap;
        if t.len() > cap - self.len {
            self.grow(t.len());
        }
        // SAFETY: the string is uniquely held with room for `len + t.len()`
        // bytes (checked or grown above); the bytes written are UTF-8 and
        // land after the `len` already written.
        unsafe {
            copy_bytes(t.as_ptr(), bytes_of(self.s.ptr).add(self.len), t.len());
        }
        self.len += t.len();
    }

    #[cold]
    fn grow(&mut self, more: usize) {
        let need = self
            .len
            .checked_add(more)
            .unwrap_or_else(|| panic!("string capacity overflow"));
        let cap = self.s.header().cap;
        // Record what was written so the move keeps it, then grow in place
        // or into a copy (the empty static).
        self.finish_len();
        self.s
            .make_mut()
            .grow_to(need.max(cap.saturating_mul(2)).max(16));
    }

    fn finish_len(&mut self) {
        if self.len > 0 {
            // SAFETY: bytes were written, so this is a heap string,
            // uniquely held, and its first `len` bytes are UTF-8.
            unsafe {
                let h = &mut *self.s.ptr.as_ptr();
                h.len = self.len;
                *h.chars.get_mut() = UNKNOWN;
            }
        }
    }

    /// The string built (its character count is computed on first use).
    pub fn finish(mut self) -> Str {
        self.finish_len();
        self.s
    }
}

impl fmt::Write for StrMut {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s);
        Ok(())
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// Equality of strings of every length `bytes_eq` treats differently,
    /// differing at the first, a middle or the last byte, or not at all.
    #[test]
    fn equality_at_every_short_length() {
        let text: String = ('a'..='z').chain('A'..='Z').collect();
        for n in 0..=40 {
            let a = Str::new(&text[1..1 + n]);
            let same = Str::new(&text[1..1 + n]);
            assert!(!Str::ptr_eq(&a, &same) || n <= 1);
            assert_eq!(a, same);
            for at in [0, n / 2, n.saturating_sub(1)] {
                if n == 0 {
                    continue;
                }
                let mut bytes = text.as_bytes()[1..1 + n].to_vec();
                bytes[at] = b'#';
                let other = Str::new(std::str::from_utf8(&bytes).unwrap());
                assert_ne!(a, other, "length {n}, differing at {at}");
            }
            if n > 0 {
                assert_ne!(a, Str::new(&text[1..n]), "length {n} vs {}", n - 1);
            }
        }
    }

    /// Every length `copy_bytes` treats differently (0, 1-3, 4-7, 8-15,
    /// 16+), at unaligned offsets, through each string-building path that
    /// uses it: the bytes arrive whole and nothing around them is touched.
    #[test]
    fn short_copies_of_every_length_are_exact() {
        let text: String = ('a'..='z').chain('A'..='Z').collect();
        for n in 0..=40 {
            for off in 0..3 {
                let t = &text[off..off + n];
                assert_eq!(Str::new(t).as_str(), t);
                let a = Str::new(&text[..off + 1]);
                let cat = Str::try_concat(&a, &Str::new(t)).unwrap();
                assert_eq!(cat.as_str(), format!("{}{t}", &text[..off + 1]));
                let mut b = StrBuilder::try_with_capacity(2 * n + 2).unwrap();
                b.push_str("<");
                b.push_str(t);
                b.push_str(t);
                b.push_str(">");
                assert_eq!(b.finish().as_str(), format!("<{t}{t}>"));
                let mut m = Str::new("x");
                m.make_mut().push_str(t);
                assert_eq!(m.as_str(), format!("x{t}"));
            }
            // Straight into a buffer, with guard bytes on both sides.
            let mut buf = [0xEEu8; 48];
            // SAFETY: `text` has at least `n` bytes and `buf[3..3 + n]` is
            // inside the 48-byte buffer; the two do not overlap.
            unsafe { copy_bytes(text.as_ptr(), buf.as_mut_ptr().add(3), n) };
            assert_eq!(&buf[3..3 + n], &text.as_bytes()[..n]);
            assert!(buf[..3].iter().chain(&buf[3 + n..]).all(|&b| b == 0xEE));
        }
    }

    #[test]
    fn statics_and_heap_strings_read_back() {
        assert_eq!(Str::empty().as_str(), "");
        assert_eq!(Str::new("").as_str(), "");
        for b in 0..128u8 {
            let s = Str::ascii_char(b);
            assert_eq!(s.as_bytes(), &[b]);
            assert!(s.is_ascii() && s.char_count() == 1);
        }
        let s = Str::new("héllo wörld");
        assert_eq!(s.as_str(), "héllo wörld");
        assert_eq!(s.char_count(), 11);
        assert!(!s.is_ascii());
        assert_eq!(Str::from_char('ö').as_str(), "ö");
    }

    #[test]
    fn read_from_reads_everything_whatever_the_hint() {
        let text = "héllo wörld\n".repeat(1000);
        // Exact, too small (the rest through a copy), too large, none.
        for hint in [text.len(), 10, text.len() + 100, 0] {
            let s = Str::read_from(&mut text.as_bytes(), hint).unwrap();
            assert_eq!(s.as_str(), text, "hint {hint}");
            assert_eq!(s.char_count(), text.chars().count());
        }
        let empty = Str::read_from(&mut &b""[..], 16).unwrap();
        assert_eq!(empty.as_str(), "");
        // Large enough for the huge-page advice.
        let big = "x".repeat(5 << 20);
        let s = Str::read_from(&mut big.as_bytes(), big.len()).unwrap();
        assert_eq!(s.len(), big.len());
        assert!(s.is_ascii());
    }

    #[test]
    fn read_from_rejects_invalid_utf8_and_passes_read_errors_on() {
        for hint in [4, 2, 0] {
            let e = Str::read_from(&mut &b"ab\xffc"[..], hint).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
            assert_eq!(e.to_string(), "stream did not contain valid UTF-8");
        }
        struct Failing;
        impl std::io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let e = Str::read_from(&mut Failing, 100).unwrap_err();
        assert_eq!(e.to_string(), "disk on fire");
    }

    #[test]
    fn hash_is_cached_and_matches_str_hash() {
        let s = Str::new("some key");
        assert_eq!(s.hash_code(), str_hash("some key"));
        assert_eq!(s.hash_code(), s.hash_code());
        assert_ne!(s.hash_code(), 0);
        assert_eq!(Str::new("").hash_code(), str_hash(""));
    }

    #[test]
    fn indexing_matches_chars_for_any_text() {
        let text: String = (0..1000)
            .map(|i| match i % 7 {
                0 => 'é',
                1 => '字',
                2 => '🦀',
                _ => (b'a' + (i % 26) as u8) as char,
            })
            .collect();
        let s = Str::new(&text);
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(s.char_count(), chars.len());
        for (i, c) in chars.iter().enumerate() {
            assert_eq!(s.char_at(i).as_str(), c.to_string(), "char {i}");
            assert_eq!(&text[s.byte_offset(i)..].chars().next(), &Some(*c));
        }
        assert_eq!(s.byte_offset(chars.len()), text.len());
        let ascii = Str::new("plain ascii text");
        assert_eq!(ascii.char_at(6).as_str(), "a");
        assert_eq!(ascii.byte_offset(5), 5);
    }

    #[test]
    fn push_str_grows_in_place_and_keeps_caches_right() {
        let mut s = Str::new("ab");
        let h0 = s.hash_code();
        let m = s.make_mut();
        for _ in 0..100 {
            m.push_str("xy");
        }
        m.push('é');
        assert_eq!(s.len(), 2 + 200 + 2);
        assert_eq!(s.char_count(), 203);
        assert_ne!(s.hash_code(), h0);
        assert_eq!(s.hash_code(), str_hash(s.as_str()));
        // Index built, then invalidated by an append.
        assert_eq!(s.char_at(202).as_str(), "é");
        s.make_mut().push_str("z");
        assert_eq!(s.char_at(203).as_str(), "z");
        // Appending to the empty static or a shared string copies first.
        let mut e = Str::empty();
        e.make_mut().push_str("new");
        assert_eq!(e.as_str(), "new");
        let shared = e.clone();
        e.make_mut().push_str("!");
        assert_eq!((e.as_str(), shared.as_str()), ("new!", "new"));
        let mut c = Str::ascii_char(b'q');
        c.make_mut().push_str("rs");
        assert_eq!(c.as_str(), "qrs");
        assert_eq!(Str::ascii_char(b'q').as_str(), "q");
    }

    #[test]
    fn concurrent_first_use_of_the_caches_agrees() {
        let text: String = "ü".repeat(5000);
        let s = Str::new(&text);
        std::thread::scope(|sc| {
            for _ in 0..4 {
                sc.spawn(|| {
                    assert_eq!(s.char_at(4321).as_str(), "ü");
                    assert_eq!(s.hash_code(), str_hash(&text));
                });
            }
        });
    }

    #[test]
    fn from_int_writes_decimal_text_with_known_counts() {
        for i in [0, 7, -7, 10, -10, 123_456_789, i64::MAX, i64::MIN] {
            let s = Str::from_int(i);
            assert_eq!(s.as_str(), i.to_string());
            assert_eq!(s.char_count(), i.to_string().len());
            assert_eq!(s.hash_code(), str_hash(&i.to_string()));
        }
    }

    #[test]
    fn concat_copies_both_sides_once_and_keeps_counts_right() {
        let a = Str::new("héllo");
        let b = Str::new(" wörld");
        // Counts unknown on both sides: the result counts on first use.
        let ab = Str::try_concat(&a, &b).unwrap();
        assert_eq!(ab.as_str(), "héllo wörld");
        assert_eq!(ab.char_count(), 11);
        assert!(ab.is_unique());
        // Both counts known: carried over (and still right).
        assert_eq!((a.char_count(), b.char_count()), (5, 6));
        let ab2 = Str::try_concat(&a, &b).unwrap();
        assert_eq!(ab2.char_count(), 11);
        assert_eq!(ab2.char_at(9).as_str(), "l");
        // An empty side gives the other string itself.
        let e = Str::empty();
        assert!(Str::ptr_eq(&Str::try_concat(&a, &e).unwrap(), &a));
        assert!(Str::ptr_eq(&Str::try_concat(&e, &b).unwrap(), &b));
        // Two one-byte statics make a heap string.
        let xy = Str::try_concat(&Str::ascii_char(b'x'), &Str::ascii_char(b'y')).unwrap();
        assert_eq!(
            (xy.as_str(), xy.char_count(), xy.is_unique()),
            ("xy", 2, true)
        );
    }

    #[test]
    fn ascii_case_maps_ascii_only() {
        let s = Str::new("MiXeD 123 !");
        assert_eq!(s.ascii_case(true).unwrap().as_str(), "MIXED 123 !");
        let low = s.ascii_case(false).unwrap();
        assert_eq!(low.as_str(), "mixed 123 !");
        assert!(low.is_ascii() && low.char_count() == 11);
        assert_eq!(
            Str::ascii_char(b'a').ascii_case(true).unwrap().as_str(),
            "A"
        );
        assert_eq!(Str::empty().ascii_case(true).unwrap().as_str(), "");
        assert!(Str::new("straße").ascii_case(true).is_none());
    }

    #[test]
    fn builder_fills_its_capacity_and_grows_past_it() {
        let mut b = StrBuilder::try_with_capacity(5).unwrap();
        b.push_str("ab");
        b.push_str("");
        b.push_str("cde");
        let s = b.finish();
        assert_eq!(
            (s.as_str(), s.char_count(), s.spare_capacity()),
            ("abcde", 5, 0)
        );
        // Past the capacity (including from none at all), it grows.
        for cap in [0, 1, 3] {
            let mut b = StrBuilder::try_with_capacity(cap).unwrap();
            for part in ["é", "xyz", "", "ü".repeat(40).as_str()] {
                b.push_str(part);
            }
            let s = b.finish();
            assert_eq!(s.as_str(), format!("éxyz{}", "ü".repeat(40)));
            assert_eq!(s.char_count(), 44);
            assert!(s.is_unique());
        }
        // Nothing pushed: the empty string; an unfinished builder frees.
        assert_eq!(
            StrBuilder::try_with_capacity(0).unwrap().finish().as_str(),
            ""
        );
        assert_eq!(StrBuilder::try_with_capacity(8).unwrap().finish().len(), 0);
        let mut dropped = StrBuilder::try_with_capacity(4).unwrap();
        dropped.push_str("abcdef");
        drop(dropped);
        // An impossible size is an error, not an abort.
        assert!(StrBuilder::try_with_capacity(usize::MAX).is_err());
    }
}
