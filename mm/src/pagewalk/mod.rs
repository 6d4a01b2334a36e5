//! `walk_page_range`: call back for every page-table entry of a range, in the
//! shape of Linux `mm/pagewalk.c`.
//!
//! [`walk_page_range`] goes through the vmas that meet `[start, end)` in
//! address order. Gaps between vmas go to `pte_hole` with depth -1. For each
//! vma, `test_walk` decides (>0 skip, <0 abort, 0 walk; the default skips
//! `VM_PFNMAP` vmas, reporting them as a depth -1 hole, as Linux does when
//! `test_walk` is NULL); then `pre_vma`, the descent pgd -> pud -> pmd -> pte,
//! `post_vma`. [`walk_page_range_vma`] walks inside one vma without
//! `test_walk`; [`walk_page_range_novma`] walks the tables alone (kernel use).
//!
//! Rules, as in Linux:
//! - the walk never allocates page tables; a missing entry at any level is a
//!   hole, reported once to `pte_hole` with its depth (pgd 0, pud 2, pmd 3;
//!   p4d is folded on 4-level paging);
//! - it descends to a level only if a callback at that level or below exists
//!   ([`MmWalkOps::HAS_PUD_ENTRY`] ...: Rust cannot ask whether a default
//!   method was overridden, so the ops says which ones it implements, as a
//!   Linux ops struct does with non-NULL pointers);
//! - `pud_entry` / `pmd_entry` see every present entry of their level, table
//!   pointers and huge leaves alike, with `walk.action` reset to
//!   [`WalkAction::Subtree`]; they may set `Continue` (skip the subtree,
//!   e.g. after handling its ptes themselves, as `mlock_pte_range` does) or
//!   `Again` (call again for this entry; a callback that always asks again
//!   loops forever, as in Linux);
//! - a callback returns [`WalkControl`]: `Continue`, or `Stop(code)`, which
//!   ends the walk and makes it return `code` (Linux: a non-zero `int`).
//!   `walk_page_range` returns 0 when the whole range was walked and
//!   `-EINVAL` for a bad range. `test_walk` answers [`TestWalk`]: walk the
//!   vma, skip it, or stop.
//!
//! Where Holdfast differs from Linux, on purpose:
//! - `pte_entry` is called only for present ptes (present as Linux's
//!   `pte_present` means it: protnone `PROT_NONE` leaves, which the MMU
//!   does not see, are visited like any mapped page); runs of empty ptes
//!   inside a page table go to `pte_hole` with depth 4 (one call per run),
//!   so the holes and the visited entries partition the walked range;
//! - huge leaves (2 MiB pmd, 1 GiB pud) are never split: they reach only
//!   `pmd_entry` / `pud_entry`, never `pte_entry` (Linux splits a THP pmd when
//!   the walk has a `pte_entry`); a walk that must see them needs `pmd_entry`.
//!
//! Locking: the caller holds `mmap_lock` (for read, or for write when the
//! vmas or their flags change, e.g. mlock) so the vmas and the tables stay
//! put, and has exclusive access to the `PageTable` (`&mut`): the mm's
//! page-table lock when callbacks modify entries. Callbacks must not sleep
//! if that lock is a spinlock. Entry changes made through [`MmWalk`] are not
//! flushed from the TLB: the caller flushes after the walk, as Linux callers
//! do with `flush_tlb_range`.

#[cfg(test)]
mod tests;

use crate::addr::page_aligned;
use core::num::NonZeroI32;

use crate::errno::Errno;
use crate::pgtable::{is_canonical, Level, PageTable, PhysMem, PtEntry, PtSlot, PteFlags, UPPER_HALF_START};
use crate::vma::{VmFlags, Vma};

/// What the walker does after `pud_entry` / `pmd_entry` returns
/// [`WalkControl::Continue`] (Linux `enum page_walk_action`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WalkAction {
    /// Descend into the entry's subtree (the default, reset before each call).
    Subtree,
    /// Go on with the next entry at this level, skipping the subtree.
    Continue,
    /// Call the callback again for this entry.
    Again,
}

/// What a callback tells the walk (Linux: the callback's `int`, 0 to go on).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum WalkControl {
    /// Go on with the walk (Linux: return 0).
    Continue,
    /// End the walk here; the walk returns the code (Linux: any non-zero
    /// return, usually a negative errno).
    Stop(NonZeroI32),
}

/// What `test_walk` decides about a vma (Linux: its `int`, 0 / >0 / <0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum TestWalk {
    /// Walk the vma (Linux: 0).
    Walk,
    /// Skip it silently and go on with the next (Linux: > 0).
    Skip,
    /// End the walk; it returns the code (Linux: < 0).
    Stop(NonZeroI32),
}

/// The state of a walk, passed to every callback (Linux `struct mm_walk`).
pub struct MmWalk<'a, P: PhysMem> {
    pgtable: &'a mut PageTable<P>,
    /// The vma being walked; `None` in a gap between vmas and in
    /// [`walk_page_range_novma`].
    pub vma: Option<&'a Vma>,
    /// Set by `pud_entry` / `pmd_entry` to steer the walk.
    pub action: WalkAction,
}

impl<'a, P: PhysMem> MmWalk<'a, P> {
    /// The page table being walked (e.g. for `translate`).
    pub fn pgtable(&self) -> &PageTable<P> {
        self.pgtable
    }

    /// Read the entry at `slot` (Linux `ptep_get` / `pmdp_get`).
    pub fn get(&self, slot: PtSlot) -> PtEntry {
        self.pgtable.get(slot)
    }

    /// The ptes of `[addr, end)` under the pmd at `pmd` (Linux
    /// `pte_offset_map_lock` plus `pte++`): `None` if that pmd is not a present
    /// page-table pointer (empty, or a huge leaf), or if `[addr, end)` is not
    /// inside the 2 MiB it covers. A `pmd_entry` that gets `None` for a pmd
    /// it expected to hold ptes sets [`WalkAction::Again`], as Linux does.
    pub fn pte_range(&self, pmd: PtSlot, addr: u64, end: u64) -> Option<PteRange> {
        if pmd.level() != Level::Pmd || addr >= end {
            return None;
        }
        let e = self.get(pmd);
        if !e.is_present() || e.is_leaf(Level::Pmd) {
            return None;
        }
        let base = addr & !(Level::Pmd.entry_size() - 1);
        if end - base > Level::Pmd.entry_size() || Level::Pmd.index(addr) != pmd.index() {
            return None;
        }
        Some(PteRange { table_pa: e.addr(), addr, end })
    }

    /// Give the present leaf at `slot` new `flags` (`PRESENT` set, or cleared
    /// for a protnone leaf when `flags` has `PROTNONE`; frame and size
    /// unchanged); return the old flags, or `None` if `slot` holds no
    /// present leaf or is in a shared kernel half. Not flushed from the TLB
    /// (see the module doc).
    pub fn set_leaf_flags(&mut self, slot: PtSlot, flags: PteFlags) -> Option<PteFlags> {
        self.pgtable.set_leaf_flags(slot, flags)
    }
}

/// The pte slots of a range inside one page table, with their addresses.
/// Does not borrow the walk, so the loop body may read and change entries.
#[derive(Clone, Debug)]
pub struct PteRange {
    table_pa: u64,
    addr: u64,
    end: u64,
}

impl Iterator for PteRange {
    type Item = (u64, PtSlot);

    fn next(&mut self) -> Option<(u64, PtSlot)> {
        if self.addr >= self.end {
            return None;
        }
        let addr = self.addr;
        self.addr = Level::Pte.addr_end(addr, self.end);
        Some((addr, PtSlot::new(Level::Pte, self.table_pa, addr)))
    }
}

/// The callbacks of a walk (Linux `struct mm_walk_ops`); the implementing
/// value carries the walk's private state. Every method has a no-op default.
/// Return [`WalkControl::Continue`] to go on; `Stop(code)` ends the walk,
/// which returns `code`.
pub trait MmWalkOps {
    /// This ops implements [`pud_entry`](Self::pud_entry).
    const HAS_PUD_ENTRY: bool = false;
    /// This ops implements [`pmd_entry`](Self::pmd_entry).
    const HAS_PMD_ENTRY: bool = false;
    /// This ops implements [`pte_entry`](Self::pte_entry).
    const HAS_PTE_ENTRY: bool = false;

    /// A present pud (a pmd table or a 1 GiB leaf) covering `[addr, next)`.
    fn pud_entry<P: PhysMem>(&mut self, _pud: PtSlot, _addr: u64, _next: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        WalkControl::Continue
    }

    /// A present pmd (a page table or a 2 MiB leaf) covering `[addr, next)`.
    fn pmd_entry<P: PhysMem>(&mut self, _pmd: PtSlot, _addr: u64, _next: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        WalkControl::Continue
    }

    /// A present pte mapping `[addr, next)` (4 KiB), protnone included.
    fn pte_entry<P: PhysMem>(&mut self, _pte: PtSlot, _addr: u64, _next: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        WalkControl::Continue
    }

    /// `[addr, next)` has no mapping: -1 outside any vma (or in a skipped
    /// `VM_PFNMAP` vma), else the level of the missing entry
    /// ([`Level::hole_depth`]: 0 pgd, 2 pud, 3 pmd, 4 pte).
    fn pte_hole<P: PhysMem>(&mut self, _addr: u64, _next: u64, _depth: i32, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        WalkControl::Continue
    }

    /// Decide about the vma in `walk.vma` for `[start, end)`. The default is
    /// Linux's behaviour without `test_walk`: skip a `VM_PFNMAP` vma after
    /// reporting it to `pte_hole` with depth -1 (as in Linux, a `Stop` with a
    /// positive code from that `pte_hole` only skips the vma; a negative
    /// one stops the walk).
    fn test_walk<P: PhysMem>(&mut self, start: u64, end: u64, walk: &mut MmWalk<'_, P>) -> TestWalk {
        match walk.vma {
            Some(vma) if vma.flags.contains(VmFlags::PFNMAP) => match self.pte_hole(start, end, -1, walk) {
                WalkControl::Stop(code) if code.get() < 0 => TestWalk::Stop(code),
                _ => TestWalk::Skip,
            },
            _ => TestWalk::Walk,
        }
    }

    /// Before the tables of the vma in `walk.vma` are walked for `[start, end)`;
    /// `Stop` ends the walk (without `post_vma`).
    fn pre_vma<P: PhysMem>(&mut self, _start: u64, _end: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        WalkControl::Continue
    }

    /// After the tables of the vma in `walk.vma` were walked (even if a
    /// callback stopped the walk).
    fn post_vma<P: PhysMem>(&mut self, _walk: &mut MmWalk<'_, P>) {}
}

const EINVAL: i32 = -Errno::EINVAL.as_i32();

impl WalkControl {
    /// What a walk that ended with `self` returns (Linux's `int`).
    fn code(self) -> i32 {
        match self {
            WalkControl::Continue => 0,
            WalkControl::Stop(code) => code.get(),
        }
    }
}

/// `return` a [`WalkControl::Stop`] from the enclosing function (Linux's
/// `if (err) return err;`).
macro_rules! stop_on {
    ($e:expr) => {
        if let stop @ WalkControl::Stop(_) = $e {
            return stop;
        }
    };
}

/// Is `[start, end)` a non-empty, page-aligned range inside one canonical half?
fn range_ok(start: u64, end: u64) -> bool {
    start < end
        && page_aligned(start)
        && page_aligned(end)
        && is_canonical(start)
        && is_canonical(end - 1)
        && (start >= UPPER_HALF_START) == (end > UPPER_HALF_START)
}

/// Walk `[start, end)` of `pgtable` through the vmas `vmas` (sorted by
/// address, disjoint: the vma tree's order; overlapping or out-of-order
/// vmas are clamped or skipped, never walked twice). Returns 0, the code of
/// the callback that stopped it, or `-EINVAL` if the range is empty, not
/// page aligned or not inside one canonical half.
///
/// Locking: `mmap_lock` held by the caller (see the module doc).
pub fn walk_page_range<'a, P, O, I>(pgtable: &'a mut PageTable<P>, vmas: I, start: u64, end: u64, ops: &mut O) -> i32
where
    P: PhysMem,
    O: MmWalkOps + ?Sized,
    I: IntoIterator<Item = &'a Vma>,
{
    if !range_ok(start, end) {
        return EINVAL;
    }
    let mut walk = MmWalk { pgtable, vma: None, action: WalkAction::Subtree };
    let mut vmas = vmas.into_iter();
    let mut pending: Option<&'a Vma> = None;
    let mut start = start;
    while start < end {
        // Linux `find_vma(mm, start)`: the first vma ending above `start`.
        if pending.is_none_or(|v| v.end <= start) {
            pending = vmas.by_ref().find(|v| v.start < v.end && v.end > start);
        }
        let next;
        let ctl = match pending {
            None => {
                // After the last vma.
                walk.vma = None;
                next = end;
                ops.pte_hole(start, next, -1, &mut walk)
            }
            Some(vma) if start < vma.start => {
                // In a gap before `vma`.
                walk.vma = None;
                next = end.min(vma.start);
                ops.pte_hole(start, next, -1, &mut walk)
            }
            Some(vma) => {
                walk.vma = Some(vma);
                next = end.min(vma.end);
                pending = None;
                match ops.test_walk(start, next, &mut walk) {
                    TestWalk::Walk => walk_vma_range(start, next, ops, &mut walk),
                    TestWalk::Skip => WalkControl::Continue,
                    TestWalk::Stop(code) => WalkControl::Stop(code),
                }
            }
        };
        if let WalkControl::Stop(code) = ctl {
            return code.get();
        }
        start = next;
    }
    0
}

/// Walk `[start, end)` inside `vma`, which must contain it (else `-EINVAL`);
/// no `test_walk`. Linux `walk_page_range_vma`.
///
/// Locking: `mmap_lock` held by the caller (see the module doc).
pub fn walk_page_range_vma<P, O>(pgtable: &mut PageTable<P>, vma: &Vma, start: u64, end: u64, ops: &mut O) -> i32
where
    P: PhysMem,
    O: MmWalkOps + ?Sized,
{
    if !range_ok(start, end) || start < vma.start || end > vma.end {
        return EINVAL;
    }
    let mut walk = MmWalk { pgtable, vma: Some(vma), action: WalkAction::Subtree };
    walk_vma_range(start, end, ops, &mut walk).code()
}

/// Walk the page tables of `[start, end)` without vmas (kernel mappings,
/// either half): no `test_walk`, `pre_vma`, `post_vma`; `walk.vma` is `None`.
/// Linux `walk_page_range_novma`.
///
/// Locking: the caller keeps the tables from changing (page-table lock, or
/// the kernel's own lock for kernel mappings).
pub fn walk_page_range_novma<P, O>(pgtable: &mut PageTable<P>, start: u64, end: u64, ops: &mut O) -> i32
where
    P: PhysMem,
    O: MmWalkOps + ?Sized,
{
    if !range_ok(start, end) {
        return EINVAL;
    }
    let root = pgtable.root_pa();
    let mut walk = MmWalk { pgtable, vma: None, action: WalkAction::Subtree };
    walk_level(Level::Pgd, root, start, end, ops, &mut walk).code()
}

/// One vma's part: `pre_vma`, the tables, `post_vma` (Linux `__walk_page_range`).
fn walk_vma_range<P: PhysMem, O: MmWalkOps + ?Sized>(start: u64, end: u64, ops: &mut O, walk: &mut MmWalk<'_, P>) -> WalkControl {
    stop_on!(ops.pre_vma(start, end, walk));
    let root = walk.pgtable.root_pa();
    let ctl = walk_level(Level::Pgd, root, start, end, ops, walk);
    ops.post_vma(walk);
    ctl
}

/// Is there a callback at `level` or below, i.e. is descending to it useful?
fn has_handler_at_or_below<O: MmWalkOps + ?Sized>(level: Level) -> bool {
    match level {
        Level::Pgd | Level::Pud => O::HAS_PUD_ENTRY || O::HAS_PMD_ENTRY || O::HAS_PTE_ENTRY,
        Level::Pmd => O::HAS_PMD_ENTRY || O::HAS_PTE_ENTRY,
        Level::Pte => O::HAS_PTE_ENTRY,
    }
}

/// Walk the entries of `[addr, end)` in the table `table_pa` of `level`
/// (Linux `walk_pgd_range` ... `walk_pte_range`, one function for all levels).
fn walk_level<P: PhysMem, O: MmWalkOps + ?Sized>(
    level: Level,
    table_pa: u64,
    mut addr: u64,
    end: u64,
    ops: &mut O,
    walk: &mut MmWalk<'_, P>,
) -> WalkControl {
    if level == Level::Pte {
        return walk_pte_range(table_pa, addr, end, ops, walk);
    }
    loop {
        let next = level.addr_end(addr, end);
        let slot = PtSlot::new(level, table_pa, addr);
        stop_on!(walk_entry(slot, addr, next, ops, walk));
        if next >= end {
            return WalkControl::Continue;
        }
        addr = next;
    }
}

/// One pgd / pud / pmd entry covering `[addr, next)`.
fn walk_entry<P: PhysMem, O: MmWalkOps + ?Sized>(slot: PtSlot, addr: u64, next: u64, ops: &mut O, walk: &mut MmWalk<'_, P>) -> WalkControl {
    let level = slot.level();
    loop {
        if walk.get(slot).is_none() {
            return ops.pte_hole(addr, next, level.hole_depth(), walk);
        }
        walk.action = WalkAction::Subtree;
        stop_on!(match level {
            Level::Pud if O::HAS_PUD_ENTRY => ops.pud_entry(slot, addr, next, walk),
            Level::Pmd if O::HAS_PMD_ENTRY => ops.pmd_entry(slot, addr, next, walk),
            _ => WalkControl::Continue,
        });
        match walk.action {
            WalkAction::Again => continue,
            WalkAction::Continue => return WalkControl::Continue,
            WalkAction::Subtree => {}
        }
        let Some(lower) = level.lower() else { return WalkControl::Continue };
        if !has_handler_at_or_below::<O>(lower) {
            return WalkControl::Continue;
        }
        // Re-read: the callback may have changed the entry.
        let e = walk.get(slot);
        if e.is_none() {
            continue;
        }
        if e.is_leaf(level) {
            // Huge leaves are not split (module doc).
            return WalkControl::Continue;
        }
        return walk_level(lower, e.addr(), addr, next, ops, walk);
    }
}

/// The ptes of `[addr, end)` in the page table `table_pa`: `pte_entry` for
/// each present one, `pte_hole` (depth 4) for each run of empty ones.
fn walk_pte_range<P: PhysMem, O: MmWalkOps + ?Sized>(
    table_pa: u64,
    addr: u64,
    end: u64,
    ops: &mut O,
    walk: &mut MmWalk<'_, P>,
) -> WalkControl {
    let depth = Level::Pte.hole_depth();
    let mut hole_start: Option<u64> = None;
    for (pte_addr, slot) in (PteRange { table_pa, addr, end }) {
        let next = Level::Pte.addr_end(pte_addr, end);
        if walk.get(slot).is_none() {
            hole_start.get_or_insert(pte_addr);
            continue;
        }
        if let Some(hole) = hole_start.take() {
            stop_on!(ops.pte_hole(hole, pte_addr, depth, walk));
        }
        stop_on!(ops.pte_entry(slot, pte_addr, next, walk));
    }
    match hole_start {
        Some(hole) => ops.pte_hole(hole, end, depth, walk),
        None => WalkControl::Continue,
    }
}
