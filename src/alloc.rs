//! [`Allocator`]: the `weft` binary's global allocator, mimalloc called
//! through its plain entry points.
//!
//! The `mimalloc` crate's `MiMalloc` sends every request through
//! `mi_malloc_aligned(size, align)`, even when `align` is one that plain
//! `mi_malloc` gives anyway: the aligned entry point checks the alignment,
//! looks for a block that happens to be aligned and only then takes mimalloc's
//! fast path, an out-of-line call more per allocation. Nearly every
//! allocation the interpreter makes (strings, lists, maps, closures) asks
//! for 8 bytes of alignment, so [`Allocator`] calls `mi_malloc` / `mi_zalloc`
//! / `mi_realloc` whenever that is enough and the aligned variants otherwise
//! (the same rule std's `System` allocator applies to `malloc`).
//!
//! What plain `mi_malloc` guarantees (mimalloc's `MI_MAX_ALIGN_SIZE`, 16 on
//! 64-bit targets, with its size classes rounded to two words): a block of
//! `size >= 16` bytes is 16-byte aligned and a smaller one 8-byte aligned.
//! So a layout with `align <= 16` and `align <= size` is served aligned.
//!
//! The library itself never installs a global allocator (embedders choose);
//! `src/main.rs` installs this one for the `weft` binary.

use libmimalloc_sys as ffi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// The largest alignment every block from plain `mi_malloc` of at least that
/// many bytes has (mimalloc's `MI_MAX_ALIGN_SIZE` on 64-bit targets; 8 is
/// what a pointer-sized target guarantees at least).
#[cfg(target_pointer_width = "64")]
const MIN_ALIGN: usize = 16;
#[cfg(not(target_pointer_width = "64"))]
const MIN_ALIGN: usize = 8;

/// Whether plain `mi_malloc(layout.size())` is aligned enough for `layout`.
#[inline(always)]
fn plain_ok(align: usize, size: usize) -> bool {
    align <= MIN_ALIGN && align <= size
}

/// mimalloc, through `mi_malloc` when the alignment allows it (see the
/// module docs).
pub struct Allocator;

// SAFETY: every method forwards to mimalloc, which returns blocks of at
// least the requested size, aligned as asked: the plain entry points are
// used only when `plain_ok` holds (their blocks are `MIN_ALIGN`-aligned once
// `size >= MIN_ALIGN`, and a smaller block is aligned to the largest power
// of two that divides its size class, a multiple of 8 >= `align` since
// `align <= size`), the aligned ones otherwise. `mi_free` and `mi_realloc`
// accept blocks from either family.
unsafe impl GlobalAlloc for Allocator {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarding; see the impl's comment.
        unsafe {
            if plain_ok(layout.align(), layout.size()) {
                ffi::mi_malloc(layout.size()).cast()
            } else {
                ffi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarding; see the impl's comment.
        unsafe {
            if plain_ok(layout.align(), layout.size()) {
                ffi::mi_zalloc(layout.size()).cast()
            } else {
                ffi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (GlobalAlloc's contract).
        unsafe { ffi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; the block
        // `mi_realloc` returns keeps the plain alignment for `new_size`.
        unsafe {
            if plain_ok(layout.align(), new_size) {
                ffi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                ffi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    /// Allocates, fills, grows and frees blocks of every size class up to
    /// 1 KiB (and a few large ones) at alignments 1 to 4096 through the
    /// allocator, checking each block's alignment and that its bytes
    /// survive `realloc`.
    #[test]
    #[cfg_attr(miri, ignore = "calls mimalloc, C code that Miri cannot run")]
    fn blocks_are_aligned_and_keep_their_bytes() {
        let a = Allocator;
        let sizes = (1..=1024).chain([4095, 4096, 65536, 1 << 20]);
        for size in sizes {
            for shift in 0..=12 {
                let align = 1usize << shift;
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero size; every block is freed with the
                // layout it was allocated (or reallocated) with.
                unsafe {
                    let p = a.alloc(layout);
                    assert!(!p.is_null());
                    assert_eq!(p as usize % align, 0, "size {size} align {align}");
                    p.write_bytes(0xA5, size);
                    let grown = size * 2 + 8;
                    let q = a.realloc(p, layout, grown);
                    assert!(!q.is_null());
                    assert_eq!(q as usize % align, 0, "realloc {grown} align {align}");
                    assert!((0..size).all(|i| *q.add(i) == 0xA5));
                    a.dealloc(q, Layout::from_size_align(grown, align).unwrap());

                    let z = a.alloc_zeroed(layout);
                    assert!(!z.is_null());
                    assert_eq!(z as usize % align, 0, "zeroed size {size} align {align}");
                    assert!((0..size).all(|i| *z.add(i) == 0));
                    a.dealloc(z, layout);
                }
            }
        }
    }

    /// A shrinking `realloc` into a size below the alignment takes the
    /// aligned entry point and stays aligned.
    #[test]
    #[cfg_attr(miri, ignore = "calls mimalloc, C code that Miri cannot run")]
    fn shrinking_below_the_alignment_stays_aligned() {
        let a = Allocator;
        let layout = Layout::from_size_align(64, 16).unwrap();
        // SAFETY: as above.
        unsafe {
            let p = a.alloc(layout);
            p.write_bytes(7, 64);
            let q = a.realloc(p, layout, 8);
            assert_eq!(q as usize % 16, 0);
            assert!((0..8).all(|i| *q.add(i) == 7));
            a.dealloc(q, Layout::from_size_align(8, 16).unwrap());
        }
    }

    /// Blocks allocated on one thread and freed on another (the pool moves
    /// values between workers) are accepted.
    #[test]
    #[cfg_attr(miri, ignore = "calls mimalloc, C code that Miri cannot run")]
    fn blocks_may_be_freed_on_another_thread() {
        let a = Allocator;
        let layout = Layout::from_size_align(48, 8).unwrap();
        // SAFETY: as above; the pointers are sent as integers and freed once.
        let ptrs: Vec<usize> = (0..1000)
            .map(|_| unsafe { a.alloc(layout) } as usize)
            .collect();
        std::thread::spawn(move || {
            for p in ptrs {
                // SAFETY: each block was allocated with `layout` above.
                unsafe { Allocator.dealloc(p as *mut u8, layout) }
            }
        })
        .join()
        .unwrap();
    }
}
