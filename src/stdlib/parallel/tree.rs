//! The fixed shape of a reproducible reduction: which items form each leaf
//! block, and in which tree the leaf results are combined. Both depend only
//! on the number of items (and on `chunk_size` when a script gives one),
//! never on the worker count, the machine or timing, so a reduction that
//! follows them gives the same bits on every run: floats included.
//!
//! - **Leaves.** Items are cut into blocks of [`leaf_size`] items from index
//!   0 (the last block may be shorter). A leaf is folded in item order,
//!   starting from the identity.
//! - **Tree.** Leaves `lo..hi` (more than one) are split at
//!   [`split`]`(lo, hi)`: `lo` plus the largest power of two *below*
//!   `hi - lo`. The left part is therefore a perfect binary tree, the right
//!   part the rest, split the same way; a node's value is
//!   `combine(left, right)`. For 7 leaves: `((0 1) (2 3)) ((4 5) 6)`.
//!
//! This shape is the one a stream can build while items arrive, in memory
//! logarithmic in their number ([`TreeStack`]: the carry chain of a binary
//! counter). So a channel input reduces in the same tree as a list of the
//! same length cut into the same leaves: with the same `chunk_size`, a list
//! and a channel of the same items give the same bits.
//!
//! A parallel evaluation may hand any subtree to another thread (work
//! stealing moves whole subtrees) but never reassociates: the result is that
//! of [`fold_tree`], the sequential evaluation, bit for bit.
//!
//! For other modules (MPI collectives): [`leaf_size`], [`leaf_count`],
//! [`leaf_range`], [`split`], [`fold_tree`] and [`TreeStack`] are all that is
//! needed to reduce in this exact order across processes: give each rank
//! whole subtrees (ranges that [`split`] produces) and combine their results
//! in the same tree.

use std::ops::Range;

/// Leaf sizes are multiples of this many items: 8 values of 16 bytes are
/// 128 bytes, a whole number of cache lines on machines with 64- or
/// 128-byte lines. (Fixed rather than read from `cache_line_size`, so that
/// the shape does not depend on the configuration.)
pub const LEAF_GRAIN: usize = 8;

/// The largest automatic leaf: long enough that a leaf of cheap items
/// (a float add, ~50 ns in the VM) takes ~100 µs, which makes the
/// per-leaf costs (one more `combine`, a possible fork) negligible.
pub const MAX_LEAF: usize = 2048;

/// Leaves wanted for a mid-sized input: enough for stealing to balance
/// uneven items on any pool up to ~64 workers.
pub const TARGET_LEAVES: usize = 256;

/// The leaf size of a stream (a channel input), whose length is not known
/// in advance: one grain.
pub const STREAM_LEAF: usize = LEAF_GRAIN;

/// Items per leaf for a reduction over `n` items: about `n / 256`, rounded
/// up to a multiple of [`LEAF_GRAIN`], at least one grain and at most
/// [`MAX_LEAF`]. `chunk` (the script's `chunk_size`) overrides it.
pub fn leaf_size(n: usize, chunk: Option<usize>) -> usize {
    if let Some(c) = chunk {
        return c.max(1);
    }
    let per = n.div_ceil(TARGET_LEAVES);
    per.div_ceil(LEAF_GRAIN)
        .saturating_mul(LEAF_GRAIN)
        .clamp(LEAF_GRAIN, MAX_LEAF)
}

/// How many leaves of `block` items cover `n` items.
pub fn leaf_count(n: usize, block: usize) -> usize {
    n.div_ceil(block.max(1))
}

/// The items of leaf `leaf` (of `block` items each) among `n` items.
pub fn leaf_range(leaf: usize, n: usize, block: usize) -> Range<usize> {
    let lo = leaf.saturating_mul(block).min(n);
    lo..lo.saturating_add(block).min(n)
}

/// Where the leaves `lo..hi` (at least two) split: `lo` plus the largest
/// power of two strictly below `hi - lo`.
pub fn split(lo: usize, hi: usize) -> usize {
    debug_assert!(hi - lo >= 2, "split of fewer than two leaves");
    let len = hi - lo;
    // The highest set bit of `len - 1` is the largest power of two < len.
    lo + (1usize << (usize::BITS - 1 - (len - 1).leading_zeros()))
}

/// The sequential evaluation of the tree over leaves `lo..hi` (non-empty):
/// `leaf(i)` for each leaf in increasing order, combined as the tree says.
/// `None` from either stops the evaluation (what remains is not computed).
pub fn fold_tree<T>(
    lo: usize,
    hi: usize,
    leaf: &mut impl FnMut(usize) -> Option<T>,
    combine: &mut impl FnMut(T, T, usize) -> Option<T>,
) -> Option<T> {
    if hi - lo == 1 {
        return leaf(lo);
    }
    let mid = split(lo, hi);
    let a = fold_tree(lo, mid, leaf, combine)?;
    let b = fold_tree(mid, hi, leaf, combine)?;
    combine(a, b, mid)
}

/// The tree built incrementally, leaf by leaf, in memory logarithmic in the
/// number of leaves: pushing leaf values in order and then calling
/// [`finish`](TreeStack::finish) combines exactly as [`fold_tree`] over the
/// same number of leaves.
///
/// The stack holds the roots of perfect subtrees of strictly decreasing
/// sizes (the binary digits of the leaf count); pushing a leaf merges equal
/// sizes as a binary counter carries. `finish` combines what is left from
/// the right, which is [`split`]'s rule: the left part of any node is the
/// largest perfect subtree.
#[derive(Debug)]
pub struct TreeStack<T> {
    /// (leaves covered, first leaf, value), sizes strictly decreasing.
    stack: Vec<(usize, usize, T)>,
    leaves: usize,
}

impl<T> Default for TreeStack<T> {
    fn default() -> Self {
        TreeStack {
            stack: Vec::new(),
            leaves: 0,
        }
    }
}

impl<T> TreeStack<T> {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many leaves were pushed.
    pub fn leaves(&self) -> usize {
        self.leaves
    }

    /// Adds the next leaf's value. `combine(a, b, first_leaf_of_b)`; if it
    /// fails (`None`), the tree is poisoned and so is every later result.
    pub fn push(
        &mut self,
        value: T,
        combine: &mut impl FnMut(T, T, usize) -> Option<T>,
    ) -> Option<()> {
        let mut size = 1;
        let mut first = self.leaves;
        let mut value = value;
        self.leaves += 1;
        while let Some(&(top, top_first, _)) = self.stack.last() {
            if top != size {
                break;
            }
            let (_, _, left) = self.stack.pop().expect("checked above");
            value = combine(left, value, first)?;
            first = top_first;
            size *= 2;
        }
        self.stack.push((size, first, value));
        Some(())
    }

    /// The value of the whole tree (`None` if no leaf was pushed or a
    /// combine failed).
    pub fn finish(mut self, combine: &mut impl FnMut(T, T, usize) -> Option<T>) -> Option<T> {
        let (_, mut first, mut acc) = self.stack.pop()?;
        while let Some((_, left_first, left)) = self.stack.pop() {
            acc = combine(left, acc, first)?;
            first = left_first;
        }
        Some(acc)
    }
}
