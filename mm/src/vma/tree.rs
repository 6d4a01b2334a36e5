//! The per-address-space VMA tree: an augmented AVL tree keyed by vma start.
//!
//! Linux keeps the vmas of an `mm_struct` in a maple tree (before 6.1: an
//! augmented rbtree). Holdfast uses an AVL tree written here, in safe Rust:
//! the nodes live in an arena (`Vec<Node>`) and refer to each other by `u32`
//! index; freed slots go on a free list and are reused.
//!
//! Every node carries three augmented fields, each recomputed from the node
//! and its two children, so rotations only have to recompute the two nodes
//! they move:
//!
//! - `min_start`: the lowest `start` in the subtree,
//! - `max_end`:   the highest `end` in the subtree,
//! - `max_gap`:   the largest free gap *strictly inside* the subtree, i.e.
//!   between two address-consecutive vmas that both belong to the subtree.
//!
//! `max_gap` is what makes [`VmaTree::get_unmapped_area`] O(log n): a search
//! skips any subtree whose `max_gap` is too small.
//!
//! # Invariants (checked by [`VmaTree::check_invariants`])
//!
//! - every vma has `start < end`, both page aligned;
//! - in-order traversal is sorted by `start` and vmas never overlap
//!   (`prev.end <= next.start`);
//! - AVL: every node's stored height is `1 + max(child heights)` and the two
//!   child heights differ by at most one, so the height is at most
//!   ~1.44 log2(n) and every search is O(log n);
//! - every augmented field equals the value recomputed from the children;
//! - every arena slot is either reachable from the root exactly once or on
//!   the free list.
//!
//! # Cost
//!
//! `find_vma`, `find_vma_prev`, `vma_lookup`, `insert`, `remove`, `split`,
//! `merge_at` and `get_unmapped_area` are O(log n); `range` is
//! O(log n + k); `vma_modify_flags` and `unmap_range` are O((k + 1) log n)
//! for the k vmas they touch; `check_invariants` is O(n).
//!
//! The tree never merges on its own: [`VmaTree::insert`] keeps what it is
//! given; merging happens only in [`VmaTree::merge_at`] and
//! [`VmaTree::vma_modify_flags`].
//!
//! # Locking
//!
//! The tree has no lock of its own. The caller holds `mmap_lock` for read for
//! lookups (`find_vma`, `iter`, `get_unmapped_area`, ...) and for write for
//! changes (`insert`, `remove`, `split`, `vma_modify_flags`, ...); the borrow
//! checker enforces the same split (`&self` vs `&mut self`).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::{VmFlags, Vma, VmaKind};
use crate::addr::{page_aligned, PAGE_SIZE};
use crate::errno::Errno;

/// "No node": the null index.
const NIL: u32 = u32::MAX;

/// One arena slot: a vma, its children and its augmented fields.
#[derive(Clone, Debug)]
struct Node {
    vma: Vma,
    left: u32,
    right: u32,
    /// AVL height of the subtree rooted here (a leaf has height 1).
    height: u32,
    /// Lowest `start` in the subtree.
    min_start: u64,
    /// Highest `end` in the subtree.
    max_end: u64,
    /// Largest gap between two address-consecutive vmas of the subtree.
    max_gap: u64,
}

/// One flag change made by [`VmaTree::vma_modify_flags`]: the piece
/// `[start, end)` (after splitting, before merging) went from `old` to `new`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagChange {
    /// Start of the changed piece.
    pub start: u64,
    /// End of the changed piece.
    pub end: u64,
    /// Flags before the change.
    pub old: VmFlags,
    /// Flags after the change.
    pub new: VmFlags,
}

impl FlagChange {
    /// Number of base pages in the piece.
    pub fn pages(&self) -> u64 {
        (self.end - self.start) >> crate::addr::PAGE_SHIFT
    }
}

/// The vmas of one address space, ordered by address. See the module doc.
#[derive(Clone)]
pub struct VmaTree {
    /// Node arena; slots listed in `free` hold stale data.
    nodes: Vec<Node>,
    /// Free arena slots, reused before the arena grows.
    free: Vec<u32>,
    /// Root node, or `NIL` when empty.
    root: u32,
    /// Number of vmas in the tree.
    len: usize,
}

impl Default for VmaTree {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for VmaTree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl VmaTree {
    /// An empty tree. Does not allocate.
    pub const fn new() -> VmaTree {
        VmaTree { nodes: Vec::new(), free: Vec::new(), root: NIL, len: 0 }
    }

    /// Number of vmas (Linux `mm->map_count`).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Is the tree empty?
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// All vmas in address order.
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, u64::MAX)
    }

    /// The vmas that intersect `[start, end)`, in address order.
    /// O(log n + k) for k results; empty if `start >= end`.
    pub fn range(&self, start: u64, end: u64) -> Iter<'_> {
        let mut stack = PathStack::new();
        if start < end {
            // Push the path to the first vma with `end > start`: exactly the
            // ancestors where the search went left, which is the stack an
            // in-order traversal would hold at that vma.
            let mut n = self.root;
            while n != NIL {
                let node = &self.nodes[n as usize];
                if node.vma.end > start {
                    stack.push(n);
                    n = node.left;
                } else {
                    n = node.right;
                }
            }
        }
        Iter { tree: self, stack, end }
    }

    /// Linux `find_vma`: the first vma with `end > addr` (it contains `addr`
    /// or lies entirely above it). O(log n).
    pub fn find_vma(&self, addr: u64) -> Option<&Vma> {
        self.node_ref(self.find_vma_index(addr))
    }

    /// Linux `find_vma_prev`: `(find_vma(addr), prev)` where `prev` is the
    /// last vma below the first one, i.e. the last vma with `end <= addr`.
    pub fn find_vma_prev(&self, addr: u64) -> (Option<&Vma>, Option<&Vma>) {
        let mut prev = NIL;
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if node.vma.end <= addr {
                prev = n;
                n = node.right;
            } else {
                n = node.left;
            }
        }
        (self.find_vma(addr), self.node_ref(prev))
    }

    /// Linux `vma_lookup`: the vma that contains `addr`, if any.
    pub fn vma_lookup(&self, addr: u64) -> Option<&Vma> {
        self.find_vma(addr).filter(|v| v.start <= addr)
    }

    /// Linux `find_vma_intersection`: the first vma that intersects
    /// `[start, end)`; `None` if `start >= end`.
    pub fn find_vma_intersection(&self, start: u64, end: u64) -> Option<&Vma> {
        if start >= end {
            return None;
        }
        self.find_vma(start).filter(|v| v.start < end)
    }

    /// The vma that starts exactly at `start`.
    pub fn get(&self, start: u64) -> Option<&Vma> {
        self.node_ref(self.find_exact_index(start))
    }

    /// Mutable access to the flags of the vma starting exactly at `start`,
    /// for flag-only changes (the bounds cannot change through it). Does not
    /// split or merge; use [`VmaTree::vma_modify_flags`] for that. The
    /// caller must not change `VM_SHARED` or `VM_MAYWRITE` through it (a
    /// shmem object counts its vmas with both: [`crate::shmem::Shmem::mapping_writable`]).
    pub fn get_mut_flags(&mut self, start: u64) -> Option<&mut VmFlags> {
        let n = self.find_exact_index(start);
        if n == NIL {
            return None;
        }
        Some(&mut self.nodes[n as usize].vma.flags)
    }

    /// The lowest vma.
    pub fn first(&self) -> Option<&Vma> {
        let mut n = self.root;
        while n != NIL && self.nodes[n as usize].left != NIL {
            n = self.nodes[n as usize].left;
        }
        self.node_ref(n)
    }

    /// The highest vma.
    pub fn last(&self) -> Option<&Vma> {
        let mut n = self.root;
        while n != NIL && self.nodes[n as usize].right != NIL {
            n = self.nodes[n as usize].right;
        }
        self.node_ref(n)
    }

    /// Add `vma` (Linux `insert_vm_struct`). Never merges.
    ///
    /// Errors: `EINVAL` if `vma` is malformed (`start >= end` or not page
    /// aligned); `EEXIST` if it overlaps a vma already in the tree (the same
    /// error `MAP_FIXED_NOREPLACE` reports); `ENOMEM` if the node arena
    /// cannot grow. On error the tree is unchanged.
    pub fn insert(&mut self, vma: Vma) -> Result<(), Errno> {
        if vma.start >= vma.end || !page_aligned(vma.start) || !page_aligned(vma.end) {
            return Err(Errno::EINVAL);
        }
        if self.find_vma_intersection(vma.start, vma.end).is_some() {
            return Err(Errno::EEXIST);
        }
        self.reserve_nodes(1)?;
        self.insert_unchecked(vma);
        Ok(())
    }

    /// Remove and return the vma starting exactly at `start`.
    pub fn remove(&mut self, start: u64) -> Option<Vma> {
        let (root, removed) = self.remove_at(self.root, start);
        self.root = root;
        if removed == NIL {
            return None;
        }
        self.len -= 1;
        self.free.push(removed);
        // Take the vma out: a free node holds no shmem object.
        let vma = &mut self.nodes[removed as usize].vma;
        let kind = core::mem::replace(&mut vma.kind, VmaKind::Anonymous);
        if let VmaKind::Shmem { obj, .. } = &kind {
            obj.remove_mapper(vma.flags);
        }
        Some(Vma { kind, ..vma.clone() })
    }

    /// Linux `split_vma`: split the vma containing `addr` into
    /// `[start, addr)` and `[addr, end)`, both with its flags and kind.
    ///
    /// Errors: `EINVAL` if `addr` is not page aligned, lies in no vma, or is
    /// the start of its vma (nothing to split); `ENOMEM` if the tree already
    /// holds [`max_map_count`](super::max_map_count) vmas or the arena
    /// cannot grow. On error the tree is unchanged.
    pub fn split(&mut self, addr: u64) -> Result<(), Errno> {
        if !page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        let vma = match self.vma_lookup(addr) {
            Some(v) if v.start < addr => v.clone(),
            _ => return Err(Errno::EINVAL),
        };
        if self.len >= super::max_map_count() {
            return Err(Errno::ENOMEM);
        }
        self.reserve_nodes(1)?;
        self.split_unchecked(&vma, addr);
        Ok(())
    }

    /// Linux `vma_merge` at one boundary: if the vma ending at `addr` and
    /// the vma starting at `addr` can merge ([`Vma::can_merge_with`]),
    /// replace them by one vma. Returns whether it merged.
    pub fn merge_at(&mut self, addr: u64) -> bool {
        let (next, prev) = match self.find_vma_prev(addr) {
            (Some(next), Some(prev)) if prev.end == addr && next.start == addr => (next, prev),
            _ => return false,
        };
        if !prev.can_merge_with(next) {
            return false;
        }
        let (prev_start, next_start, next_end) = (prev.start, next.start, next.end);
        self.remove(next_start);
        self.set_bounds(prev_start, prev_start, next_end);
        true
    }

    /// The end of the mapped run starting at `start`, capped at `end`: the
    /// largest `e <= end` such that `[start, e)` is covered by vmas with no
    /// hole (`start` if `start` itself is unmapped). Callers that follow
    /// Linux's "change the vmas up to the first hole, then fail with ENOMEM"
    /// (mlock, mprotect) use it before [`VmaTree::vma_modify_flags`].
    pub fn mapped_run_end(&self, start: u64, end: u64) -> u64 {
        let mut cursor = start;
        for vma in self.range(start, end) {
            if vma.start > cursor {
                break;
            }
            cursor = vma.end;
        }
        cursor.min(end).max(start)
    }

    /// The mlock_fixup / mprotect_fixup pattern (Linux `vma_modify_flags`
    /// applied to every vma of the range): for each vma covering part of
    /// `[start, end)`, compute `new = f(old)`; if it differs, split the vma
    /// at `start` / `end` as needed, give the piece inside the range the new
    /// flags, then merge the piece with its neighbours where
    /// [`Vma::can_merge_with`] allows. Vmas whose flags do not change are
    /// neither split nor merged. `f` is a function of the old flags alone,
    /// called once per vma piece, in address order; near the
    /// [`max_map_count`](super::max_map_count) limit it is first asked
    /// about the first and last vma as well, to count the splits.
    ///
    /// Returns the pieces whose flags changed (bounds after splitting,
    /// before merging), in address order; callers derive e.g. the number of
    /// pages whose `VM_LOCKED` bit flipped.
    ///
    /// Errors: `EINVAL` if `start > end` or either is not page aligned;
    /// `ENOMEM` if part of `[start, end)` is unmapped (see
    /// [`VmaTree::mapped_run_end`]), if the splits would take the tree
    /// beyond [`max_map_count`](super::max_map_count) vmas, or the arena
    /// cannot grow. On error the tree is unchanged, with one exception
    /// that Linux's order of checks makes visible: a range strictly inside
    /// one vma that has room for one split but not two is split at
    /// `start` (flags unchanged) before `ENOMEM`, as Linux's `vma_modify`
    /// does. (Over several vmas, Linux would also have changed the flags
    /// of the pieces before the last; Holdfast refuses before any change.)
    pub fn vma_modify_flags<F>(&mut self, start: u64, end: u64, mut f: F) -> Result<Vec<FlagChange>, Errno>
    where
        F: FnMut(VmFlags) -> VmFlags,
    {
        if start > end || !page_aligned(start) || !page_aligned(end) {
            return Err(Errno::EINVAL);
        }
        let mut changes = Vec::new();
        if start == end {
            return Ok(changes);
        }
        if self.mapped_run_end(start, end) != end {
            return Err(Errno::ENOMEM);
        }
        let head = self.find_vma(start).is_some_and(|v| v.start < start);
        let tail = self.find_vma(end - PAGE_SIZE).is_some_and(|v| v.end > end);
        let max = super::max_map_count();
        // Only near the limit does it matter whether the edge vmas really
        // change (and need their split): ask `f` then.
        if self.len + usize::from(head) + usize::from(tail) > max {
            let splits = self.splits_needed(start, end, &mut f);
            if self.len + splits > max {
                // Linux splits at `start`, then refuses the split at `end`;
                // for a range inside one vma, leave the same split behind.
                if splits == 2 && self.len < max {
                    if let Some(v) = self.find_vma(start).filter(|v| v.end > end).cloned() {
                        self.reserve_nodes(1)?;
                        self.split_unchecked(&v, start);
                    }
                }
                return Err(Errno::ENOMEM);
            }
        }
        // Only the first and the last vma can need a split, and merges only
        // free nodes: two spare slots make the rest infallible.
        self.reserve_nodes(2)?;
        let mut cursor = start;
        while cursor < end {
            // The range is fully mapped, so this vma contains `cursor`. A
            // merge below may have joined it to an already-processed piece,
            // but merged vmas share flags, so `old` is still the flags that
            // `[cursor, piece_end)` had before this call.
            let vma = match self.find_vma(cursor) {
                Some(v) => v.clone(),
                None => break,
            };
            debug_assert!(vma.start <= cursor);
            let piece_end = vma.end.min(end);
            let old = vma.flags;
            let new = f(old);
            if new != old {
                if vma.start < cursor {
                    self.split_unchecked(&vma, cursor);
                }
                if piece_end < vma.end {
                    let piece = vma.slice(cursor, vma.end, vma.flags);
                    self.split_unchecked(&piece, piece_end);
                }
                if let Some(flags) = self.get_mut_flags(cursor) {
                    *flags = new;
                }
                // The object counts its shared writable vmas by flags.
                if let Some(obj) = vma.shmem() {
                    obj.mapping_map_writable(new);
                    obj.mapping_unmap_writable(old);
                }
                changes.push(FlagChange { start: cursor, end: piece_end, old, new });
                self.merge_at(piece_end);
                self.merge_at(cursor);
            }
            cursor = piece_end;
        }
        Ok(changes)
    }

    /// How many vmas [`VmaTree::vma_modify_flags`] would add by splitting
    /// the first and the last vma of the fully mapped `[start, end)`.
    fn splits_needed<F: FnMut(VmFlags) -> VmFlags>(&self, start: u64, end: u64, f: &mut F) -> usize {
        let mut changes = |v: &Vma| f(v.flags) != v.flags;
        let head = self.find_vma(start).is_some_and(|v| v.start < start && changes(v));
        let tail = self.find_vma(end - PAGE_SIZE).is_some_and(|v| v.end > end && changes(v));
        usize::from(head) + usize::from(tail)
    }

    /// Linux `do_vmi_munmap` on the tree: remove `[start, end)` from the
    /// address space, trimming or splitting vmas that straddle its ends.
    /// Returns the removed pieces in address order (empty if nothing was
    /// mapped there).
    ///
    /// Errors: `EINVAL` if `start > end` or either is not page aligned;
    /// `ENOMEM` if there is no memory for the list of pieces, or if
    /// splitting a vma that covers the whole range (a hole
    /// punched in it: one vma more) would take the tree beyond
    /// [`max_map_count`](super::max_map_count) or needs an arena slot that
    /// cannot be allocated. On error the tree is unchanged.
    pub fn unmap_range(&mut self, start: u64, end: u64) -> Result<Vec<Vma>, Errno> {
        if start > end || !page_aligned(start) || !page_aligned(end) {
            return Err(Errno::EINVAL);
        }
        let mut removed = Vec::new();
        if start == end {
            return Ok(removed);
        }
        // Collect first: the tree cannot change while `range` borrows it.
        let mut hit: Vec<Vma> = Vec::new();
        hit.try_reserve(self.range(start, end).count()).map_err(|_| Errno::ENOMEM)?;
        hit.extend(self.range(start, end).cloned());
        removed.try_reserve(hit.len()).map_err(|_| Errno::ENOMEM)?;
        if let Some(v) = hit.first() {
            if v.start < start && v.end > end {
                if self.len >= super::max_map_count() {
                    return Err(Errno::ENOMEM);
                }
                self.reserve_nodes(1)?;
            }
        }
        for vma in hit {
            let cut_start = vma.start.max(start);
            let cut_end = vma.end.min(end);
            if vma.start < start && vma.end > end {
                // Punch a hole in the middle: keep [vma.start, start) and
                // [end, vma.end).
                self.split_unchecked(&vma, end);
                self.set_bounds(vma.start, vma.start, start);
            } else if vma.start < start {
                self.set_bounds(vma.start, vma.start, start);
            } else if vma.end > end {
                self.set_bounds(vma.start, end, vma.end);
            } else {
                self.remove(vma.start);
            }
            removed.push(vma.slice(cut_start, cut_end, vma.flags));
        }
        Ok(removed)
    }

    /// Linux `get_unmapped_area` with the top-down mmap layout.
    ///
    /// Finds room for `len` bytes at an `align`-aligned address inside
    /// `[low, high)`, touching no vma:
    ///
    /// 1. `hint` (`0` = no hint, as in Linux): if it is page aligned and
    ///    `[hint, hint + len)` is free and inside `[low, high)`, it is the
    ///    answer (alignment is not required of a hint).
    /// 2. Otherwise, the highest free gap (clipped to `[low, high)`) that is
    ///    at least `len + align - PAGE_SIZE` long, and in it the highest
    ///    `align`-aligned address that fits. As in Linux `vm_unmapped_area`
    ///    (which searches for `length + align_mask`), a gap shorter than that
    ///    is not used even if it happens to be well aligned: the fixed size
    ///    lets the search skip subtrees by `max_gap` alone, which keeps it
    ///    O(log n). For `align == PAGE_SIZE` this is exactly "the highest
    ///    free address". The gaps below the first vma (down to `low`) and
    ///    above the last one (up to `high`) count.
    ///
    /// `low` is rounded up and `high` down to a page boundary. Returns
    /// `None` (Linux: `-ENOMEM`) if nothing fits, or if `len` is zero or not
    /// page aligned, or `align` is not a power of two `>= PAGE_SIZE`.
    pub fn get_unmapped_area(&self, len: u64, hint: u64, align: u64, low: u64, high: u64) -> Option<u64> {
        if len == 0 || !page_aligned(len) || !align.is_power_of_two() || align < PAGE_SIZE {
            return None;
        }
        let low = crate::addr::page_align_up(low)?;
        let high = crate::addr::page_align_down(high);
        if low >= high || high - low < len {
            return None;
        }
        if hint != 0 && page_aligned(hint) && hint >= low && hint <= high - len && self.find_vma_intersection(hint, hint + len).is_none() {
            return Some(hint);
        }
        let q = GapQuery { len, align, need: len.checked_add(align - PAGE_SIZE)?, low, high };
        if self.root == NIL {
            return q.fit(0, u64::MAX);
        }
        let root = &self.nodes[self.root as usize];
        // Top-down: the gap above the last vma, the gaps inside the tree,
        // the gap below the first vma.
        q.fit(root.max_end, u64::MAX)
            .or_else(|| self.gap_search_rev(self.root, &q))
            .or_else(|| q.fit(0, root.min_start))
    }

    /// Check every invariant listed in the module doc; describe the first
    /// violation found. O(n); meant for tests and debugging.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut visited = 0usize;
        let mut seen = alloc::vec![false; self.nodes.len()];
        for &f in &self.free {
            let slot = seen.get_mut(f as usize).ok_or_else(|| format!("free slot {f} out of range"))?;
            if *slot {
                return Err(format!("free slot {f} listed twice"));
            }
            *slot = true;
        }
        self.check_subtree(self.root, &mut seen, &mut visited)?;
        if visited != self.len {
            return Err(format!("len is {} but {} vmas are reachable", self.len, visited));
        }
        if visited + self.free.len() != self.nodes.len() {
            return Err(format!("{} reachable + {} free != {} arena slots", visited, self.free.len(), self.nodes.len()));
        }
        let mut prev: Option<&Vma> = None;
        for vma in self.iter() {
            if vma.start >= vma.end || !page_aligned(vma.start) || !page_aligned(vma.end) {
                return Err(format!("malformed vma {:#x}..{:#x}", vma.start, vma.end));
            }
            if let Some(p) = prev {
                if p.end > vma.start {
                    return Err(format!(
                        "vmas out of order or overlapping: {:#x}..{:#x} then {:#x}..{:#x}",
                        p.start, p.end, vma.start, vma.end
                    ));
                }
            }
            prev = Some(vma);
        }
        Ok(())
    }

    // ---- internals -------------------------------------------------------

    fn node_ref(&self, n: u32) -> Option<&Vma> {
        if n == NIL {
            None
        } else {
            Some(&self.nodes[n as usize].vma)
        }
    }

    /// Index of the first vma with `end > addr`, or `NIL`.
    fn find_vma_index(&self, addr: u64) -> u32 {
        let mut found = NIL;
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if node.vma.end > addr {
                found = n;
                if node.vma.start <= addr {
                    // Contains `addr`: every vma to its left ends at or
                    // below its start, so none of them qualifies.
                    break;
                }
                n = node.left;
            } else {
                n = node.right;
            }
        }
        found
    }

    /// Index of the vma starting exactly at `start`, or `NIL`.
    fn find_exact_index(&self, start: u64) -> u32 {
        let mut n = self.root;
        while n != NIL {
            let node = &self.nodes[n as usize];
            if start < node.vma.start {
                n = node.left;
            } else if start > node.vma.start {
                n = node.right;
            } else {
                return n;
            }
        }
        NIL
    }

    /// Make sure `k` nodes can be allocated without growing the arena
    /// fallibly: afterwards `alloc_node` cannot fail `k` times in a row.
    /// The free list also gets room for every node, so that
    /// [`VmaTree::remove`] never allocates (exit cannot fail).
    fn reserve_nodes(&mut self, k: usize) -> Result<(), Errno> {
        let need = k.saturating_sub(self.free.len());
        if self.nodes.len() + need >= NIL as usize {
            return Err(Errno::ENOMEM);
        }
        self.nodes.try_reserve(need).map_err(|_| Errno::ENOMEM)?;
        let slots = self.nodes.len() + need;
        self.free.try_reserve(slots.saturating_sub(self.free.len())).map_err(|_| Errno::ENOMEM)
    }

    /// A fresh leaf holding `vma`. The caller reserved a slot.
    fn alloc_node(&mut self, vma: Vma) -> u32 {
        let node = Node { min_start: vma.start, max_end: vma.end, vma, left: NIL, right: NIL, height: 1, max_gap: 0 };
        if let Some(i) = self.free.pop() {
            self.nodes[i as usize] = node;
            i
        } else {
            // Capacity was reserved, so this push does not allocate.
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    /// Insert a vma already known not to overlap; a slot is reserved.
    fn insert_unchecked(&mut self, vma: Vma) {
        if let Some(obj) = vma.shmem() {
            obj.add_mapper(vma.flags);
        }
        let new = self.alloc_node(vma);
        self.root = self.insert_at(self.root, new);
        self.len += 1;
    }

    /// Split `vma` (which is in the tree) at `addr`, strictly inside it; a
    /// slot is reserved.
    fn split_unchecked(&mut self, vma: &Vma, addr: u64) {
        debug_assert!(vma.start < addr && addr < vma.end);
        self.set_bounds(vma.start, vma.start, addr);
        self.insert_unchecked(vma.slice(addr, vma.end, vma.flags));
    }

    /// Change the bounds of the vma starting at `key` to
    /// `[new_start, new_end)` and fix the augmented fields on its path. The
    /// caller guarantees the order and no-overlap invariants still hold, so
    /// the tree's shape does not change.
    fn set_bounds(&mut self, key: u64, new_start: u64, new_end: u64) {
        let found = self.set_bounds_at(self.root, key, new_start, new_end);
        debug_assert!(found, "set_bounds: no vma at {key:#x}");
    }

    fn set_bounds_at(&mut self, n: u32, key: u64, new_start: u64, new_end: u64) -> bool {
        if n == NIL {
            return false;
        }
        let cur = self.nodes[n as usize].vma.start;
        let found = if key < cur {
            self.set_bounds_at(self.nodes[n as usize].left, key, new_start, new_end)
        } else if key > cur {
            self.set_bounds_at(self.nodes[n as usize].right, key, new_start, new_end)
        } else {
            let vma = &mut self.nodes[n as usize].vma;
            // The offset into a shmem object follows the start.
            let piece = vma.slice(new_start, new_end, vma.flags);
            vma.kind = piece.kind;
            vma.anon_pgoff = piece.anon_pgoff;
            vma.start = new_start;
            vma.end = new_end;
            true
        };
        if found {
            self.update(n);
        }
        found
    }

    fn height(&self, n: u32) -> u32 {
        if n == NIL {
            0
        } else {
            self.nodes[n as usize].height
        }
    }

    /// Recompute height and augmented fields of `n` from its children.
    fn update(&mut self, n: u32) {
        let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
        let node = &self.nodes[n as usize];
        let mut height = 1;
        let mut min_start = node.vma.start;
        let mut max_end = node.vma.end;
        let mut max_gap = 0;
        if l != NIL {
            let ln = &self.nodes[l as usize];
            height = height.max(ln.height + 1);
            min_start = ln.min_start;
            // The left subtree's highest end is the end of this vma's
            // predecessor: sorted, non-overlapping.
            max_gap = max_gap.max(ln.max_gap).max(node.vma.start - ln.max_end);
        }
        if r != NIL {
            let rn = &self.nodes[r as usize];
            height = height.max(rn.height + 1);
            max_end = rn.max_end;
            max_gap = max_gap.max(rn.max_gap).max(rn.min_start - node.vma.end);
        }
        let node = &mut self.nodes[n as usize];
        node.height = height;
        node.min_start = min_start;
        node.max_end = max_end;
        node.max_gap = max_gap;
    }

    /// Rotate the subtree at `n` right; returns the new subtree root.
    fn rotate_right(&mut self, n: u32) -> u32 {
        let l = self.nodes[n as usize].left;
        self.nodes[n as usize].left = self.nodes[l as usize].right;
        self.nodes[l as usize].right = n;
        self.update(n);
        self.update(l);
        l
    }

    /// Rotate the subtree at `n` left; returns the new subtree root.
    fn rotate_left(&mut self, n: u32) -> u32 {
        let r = self.nodes[n as usize].right;
        self.nodes[n as usize].right = self.nodes[r as usize].left;
        self.nodes[r as usize].left = n;
        self.update(n);
        self.update(r);
        r
    }

    /// Restore the AVL property at `n` (children already balanced, heights
    /// differing by at most two) and refresh its fields; returns the new
    /// subtree root.
    fn rebalance(&mut self, n: u32) -> u32 {
        self.update(n);
        let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
        let (hl, hr) = (self.height(l), self.height(r));
        if hl > hr + 1 {
            let ll = self.nodes[l as usize].left;
            let lr = self.nodes[l as usize].right;
            if self.height(lr) > self.height(ll) {
                self.nodes[n as usize].left = self.rotate_left(l);
            }
            self.rotate_right(n)
        } else if hr > hl + 1 {
            let rl = self.nodes[r as usize].left;
            let rr = self.nodes[r as usize].right;
            if self.height(rl) > self.height(rr) {
                self.nodes[n as usize].right = self.rotate_right(r);
            }
            self.rotate_left(n)
        } else {
            n
        }
    }

    /// Insert leaf `new` into the subtree at `n`; returns the new root.
    fn insert_at(&mut self, n: u32, new: u32) -> u32 {
        if n == NIL {
            return new;
        }
        if self.nodes[new as usize].vma.start < self.nodes[n as usize].vma.start {
            let l = self.insert_at(self.nodes[n as usize].left, new);
            self.nodes[n as usize].left = l;
        } else {
            let r = self.insert_at(self.nodes[n as usize].right, new);
            self.nodes[n as usize].right = r;
        }
        self.rebalance(n)
    }

    /// Unlink the node keyed `start` from the subtree at `n`. Returns the
    /// new subtree root and the unlinked node (`NIL` if absent).
    fn remove_at(&mut self, n: u32, start: u64) -> (u32, u32) {
        if n == NIL {
            return (NIL, NIL);
        }
        let (l, r) = (self.nodes[n as usize].left, self.nodes[n as usize].right);
        let cur = self.nodes[n as usize].vma.start;

        let removed = if start < cur {
            let (nl, rm) = self.remove_at(l, start);
            self.nodes[n as usize].left = nl;
            rm
        } else if start > cur {
            let (nr, rm) = self.remove_at(r, start);
            self.nodes[n as usize].right = nr;
            rm
        } else {
            if l == NIL {
                return (r, n);
            }
            if r == NIL {
                return (l, n);
            }
            // Two children: the successor (lowest of the right subtree)
            // takes this node's place.
            let (nr, succ) = self.remove_min(r);
            self.nodes[succ as usize].left = l;
            self.nodes[succ as usize].right = nr;
            return (self.rebalance(succ), n);
        };
        if removed == NIL {
            return (n, NIL);
        }
        (self.rebalance(n), removed)
    }

    /// Unlink the lowest node of the subtree at `n` (not `NIL`). Returns the
    /// new subtree root and the unlinked node.
    fn remove_min(&mut self, n: u32) -> (u32, u32) {
        let l = self.nodes[n as usize].left;
        if l == NIL {
            return (self.nodes[n as usize].right, n);
        }
        let (nl, min) = self.remove_min(l);
        self.nodes[n as usize].left = nl;
        (self.rebalance(n), min)
    }

    /// Highest qualifying gap strictly inside the subtree at `n`, searched
    /// right to left. Visits O(log n) nodes: a subtree entirely inside
    /// `[low, high)` is entered only if its `max_gap` guarantees a hit, so
    /// the only fruitless descents are along the two paths to the vmas at
    /// `low` and `high`.
    fn gap_search_rev(&self, n: u32, q: &GapQuery) -> Option<u64> {
        if n == NIL {
            return None;
        }
        let node = &self.nodes[n as usize];
        // Every gap inside the subtree lies within [min_start, max_end).
        if node.max_gap < q.need || node.max_end.min(q.high).saturating_sub(node.min_start.max(q.low)) < q.need {
            return None;
        }
        let (l, r) = (node.left, node.right);
        if let Some(a) = self.gap_search_rev(r, q) {
            return Some(a);
        }
        if r != NIL {
            if let Some(a) = q.fit(node.vma.end, self.nodes[r as usize].min_start) {
                return Some(a);
            }
        }
        if l != NIL {
            if let Some(a) = q.fit(self.nodes[l as usize].max_end, node.vma.start) {
                return Some(a);
            }
        }
        self.gap_search_rev(l, q)
    }

    /// Recursively check the subtree at `n`; returns its height.
    fn check_subtree(&self, n: u32, seen: &mut [bool], visited: &mut usize) -> Result<u32, String> {
        if n == NIL {
            return Ok(0);
        }
        let slot = seen.get_mut(n as usize).ok_or_else(|| format!("node {n} out of range"))?;
        if *slot {
            return Err(format!("node {n} reached twice or is on the free list"));
        }
        *slot = true;
        *visited += 1;
        let node = &self.nodes[n as usize];
        let hl = self.check_subtree(node.left, seen, visited)?;
        let hr = self.check_subtree(node.right, seen, visited)?;
        let at = node.vma.start;
        if hl.abs_diff(hr) > 1 {
            return Err(format!("AVL balance broken at {at:#x}: heights {hl} / {hr}"));
        }
        let height = 1 + hl.max(hr);
        if node.height != height {
            return Err(format!("height at {at:#x} is {} but should be {height}", node.height));
        }
        // Recompute the augmented fields from the children's checked values.
        let mut min_start = node.vma.start;
        let mut max_end = node.vma.end;
        let mut max_gap = 0u64;
        if node.left != NIL {
            let ln = &self.nodes[node.left as usize];
            if ln.vma.start >= node.vma.start || ln.max_end > node.vma.start {
                return Err(format!("left subtree of {at:#x} not below it"));
            }
            min_start = ln.min_start;
            max_gap = max_gap.max(ln.max_gap).max(node.vma.start - ln.max_end);
        }
        if node.right != NIL {
            let rn = &self.nodes[node.right as usize];
            if rn.vma.start <= node.vma.start || rn.min_start < node.vma.end {
                return Err(format!("right subtree of {at:#x} not above it"));
            }
            max_end = rn.max_end;
            max_gap = max_gap.max(rn.max_gap).max(rn.min_start - node.vma.end);
        }
        if (node.min_start, node.max_end, node.max_gap) != (min_start, max_end, max_gap) {
            return Err(format!(
                "augmented fields at {at:#x}: stored (min_start {:#x}, max_end {:#x}, max_gap {:#x}), \
                 recomputed ({min_start:#x}, {max_end:#x}, {max_gap:#x})",
                node.min_start, node.max_end, node.max_gap
            ));
        }
        Ok(height)
    }
}

/// Parameters of one top-down gap search.
struct GapQuery {
    len: u64,
    align: u64,
    /// Minimum usable gap length: `len + align - PAGE_SIZE`. A page-aligned
    /// gap start is at most `align - PAGE_SIZE` below the next aligned
    /// address, so a gap this long always holds an aligned fit.
    need: u64,
    low: u64,
    high: u64,
}

impl GapQuery {
    /// The highest aligned fit in the free gap `[gap_start, gap_end)`
    /// clipped to `[low, high)`, if the clipped gap is long enough.
    fn fit(&self, gap_start: u64, gap_end: u64) -> Option<u64> {
        let start = gap_start.max(self.low);
        let end = gap_end.min(self.high);
        if end <= start || end - start < self.need {
            return None;
        }
        let addr = (end - self.len) & !(self.align - 1);
        debug_assert!(addr >= start);
        Some(addr)
    }
}

/// In-order iterator over the vmas of a [`VmaTree`], optionally stopping at
/// the first vma that starts at or above a bound. Made by
/// [`VmaTree::iter`] and [`VmaTree::range`].
/// The deepest an AVL tree of fewer than 2^32 nodes can be (its height is
/// below 1.4405 log2(n + 2)).
const MAX_HEIGHT: usize = 48;

/// A root-to-node path, held inline so that iterating allocates nothing.
struct PathStack {
    nodes: [u32; MAX_HEIGHT],
    len: usize,
}

impl PathStack {
    fn new() -> PathStack {
        PathStack { nodes: [NIL; MAX_HEIGHT], len: 0 }
    }

    fn push(&mut self, n: u32) {
        // A path is never longer than the tree is high.
        assert!(self.len < MAX_HEIGHT, "VmaTree deeper than an AVL tree can be");
        self.nodes[self.len] = n;
        self.len += 1;
    }

    fn pop(&mut self) -> Option<u32> {
        self.len = self.len.checked_sub(1)?;
        Some(self.nodes[self.len])
    }

    fn clear(&mut self) {
        self.len = 0;
    }
}

pub struct Iter<'a> {
    tree: &'a VmaTree,
    /// Nodes still to visit, each followed (in order) by its right subtree.
    stack: PathStack,
    /// Stop before the first vma with `start >= end`.
    end: u64,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Vma;

    fn next(&mut self) -> Option<&'a Vma> {
        let n = self.stack.pop()?;
        let node = &self.tree.nodes[n as usize];
        if node.vma.start >= self.end {
            self.stack.clear();
            return None;
        }
        let mut c = node.right;
        while c != NIL {
            self.stack.push(c);
            c = self.tree.nodes[c as usize].left;
        }
        Some(&node.vma)
    }
}

impl<'a> IntoIterator for &'a VmaTree {
    type Item = &'a Vma;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

#[cfg(test)]
mod tests;
