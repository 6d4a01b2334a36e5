//! Page-level work on an address space's page table (Linux `mm/memory.c`):
//! iterating the present ptes of a range in bounded batches
//! (`for_each_present_pte`, on [`walk_page_range_novma`]), unmapping the
//! pages of a range into an [`MmuGather`] (`zap_page_range`), and tearing
//! a whole address space down (`teardown`, Linux `unmap_vmas` +
//! `free_pgtables`), also when an [`MmStruct`] is dropped without
//! `exit_mmap`.
//!
//! Invariant kept: a page unmapped here leaves rss, its `mlock_count` and
//! its reference count as the vma it was in requires (munlocked if the vma
//! was `VM_LOCKED`; with its last reference gone, its frame goes to the
//! gather, which frees it after the TLB flush).
//!
//! Locking: every function runs with the inner lock held (it has `&mut` to
//! the table or to [`MmInner`]); see each one for `mmap_lock`.

use crate::addr::PAGE_SIZE;
use crate::addr::TASK_SIZE;
use crate::mm_struct::{MmInner, MmStruct, MmapLocked, MmapWriteLocked};
use crate::mmu_gather::MmuGather;
use crate::page_meta::PageMetaArray;
use crate::pagewalk::{walk_page_range_novma, MmWalk, MmWalkOps, WalkControl};
use crate::pgtable::{Level, PageTable, PhysMem, PtEntry, PtSlot, PteFlags, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::swap::swap_state::pte_to_swp_entry;
use crate::vma::{VmFlags, Vma, VmaTree};

/// Most ptes collected per batch. A batch lives on the stack (about 1.5
/// KiB), so walking a range of any size allocates nothing and cannot fail
/// for want of memory, as Linux's `mmu_gather` falls back to its on-stack
/// batch.
pub(crate) const PTE_BATCH: usize = 64;

/// Up to [`PTE_BATCH`] present ptes, `(va, frame, flags)`, in address order.
pub(crate) struct PteBatch {
    entries: [(u64, u64, PteFlags); PTE_BATCH],
    len: usize,
}

impl PteBatch {
    fn new() -> PteBatch {
        PteBatch { entries: [(0, 0, PteFlags::empty()); PTE_BATCH], len: 0 }
    }

    fn is_full(&self) -> bool {
        self.len == PTE_BATCH
    }

    fn push(&mut self, e: (u64, u64, PteFlags)) {
        self.entries[self.len] = e;
        self.len += 1;
    }

    /// The collected ptes.
    pub(crate) fn as_slice(&self) -> &[(u64, u64, PteFlags)] {
        &self.entries[..self.len]
    }
}

/// Collects the present ptes of a range into a [`PteBatch`], stopping when
/// it is full. Present as Linux means it: protnone (`PROT_NONE`) ptes are
/// mapped pages too, and are collected.
struct CollectPresent {
    out: PteBatch,
    /// Where the walk stopped because the batch was full (`None`: it ran to
    /// the end of the range).
    resume: Option<u64>,
}

/// The code [`CollectPresent`] stops the walk with (nobody reads it).
const BATCH_FULL: core::num::NonZeroI32 = core::num::NonZeroI32::new(1).unwrap();

impl MmWalkOps for CollectPresent {
    const HAS_PTE_ENTRY: bool = true;
    fn pte_entry<P: PhysMem>(&mut self, pte: PtSlot, addr: u64, next: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
        let e = walk.get(pte);
        self.out.push((addr, e.leaf_frame(Level::Pte), e.leaf_flags()));
        if self.out.is_full() {
            self.resume = Some(next);
            return WalkControl::Stop(BATCH_FULL);
        }
        WalkControl::Continue
    }
}

/// The next at most [`PTE_BATCH`] present 4 KiB ptes of `[start, end)`
/// (page aligned, user half), and where to resume (`None`: done).
///
/// Locking: inner lock held (the caller has `&mut` to the table).
pub(crate) fn present_ptes_batch<P: PhysMem>(pt: &mut PageTable<P>, start: u64, end: u64) -> (PteBatch, Option<u64>) {
    let end = end.min(TASK_SIZE);
    let mut ops = CollectPresent { out: PteBatch::new(), resume: None };
    if start >= end {
        return (ops.out, None);
    }
    let _ = walk_page_range_novma(pt, start, end, &mut ops);
    (ops.out, ops.resume.filter(|&r| r < end))
}

/// Call `f` on every present pte of `[start, end)`, in batches; `f` may
/// change the entries of the batch it is given (not others).
///
/// Locking: inner lock held.
pub(crate) fn for_each_present_pte<P: PhysMem>(
    pt: &mut PageTable<P>,
    start: u64,
    end: u64,
    mut f: impl FnMut(&mut PageTable<P>, u64, u64, PteFlags),
) {
    let mut cur = start;
    loop {
        let (batch, resume) = present_ptes_batch(pt, cur, end);
        for &(va, pa, flags) in batch.as_slice() {
            f(pt, va, pa, flags);
        }
        match resume {
            Some(r) => cur = r,
            None => return,
        }
    }
}

/// Runs of empty-or-swap ptes inside existing page tables, collected by a
/// walk (`pte_hole` at depth 4), a batch at a time.
struct CollectPteHoles {
    holes: [(u64, u64); PTE_BATCH],
    len: usize,
    resume: Option<u64>,
}

impl MmWalkOps for CollectPteHoles {
    const HAS_PTE_ENTRY: bool = true;
    fn pte_entry<P: PhysMem>(&mut self, _pte: PtSlot, _addr: u64, _next: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        WalkControl::Continue
    }
    fn pte_hole<P: PhysMem>(&mut self, addr: u64, next: u64, depth: i32, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        if depth != Level::Pte.hole_depth() {
            return WalkControl::Continue;
        }
        self.holes[self.len] = (addr, next);
        self.len += 1;
        if self.len == PTE_BATCH {
            self.resume = Some(next);
            return WalkControl::Stop(BATCH_FULL);
        }
        WalkControl::Continue
    }
}

/// Call `f` with the table, the address and the entry of every swap pte in
/// `[start, end)`, in address order. `f` may change the table (clear or
/// replace the entry).
///
/// Locking: the inner lock held (the caller has `&mut` to the table).
pub(crate) fn for_each_swap_pte<P: PhysMem>(
    pt: &mut PageTable<P>,
    start: u64,
    end: u64,
    mut f: impl FnMut(&mut PageTable<P>, u64, PtEntry),
) {
    let end = end.min(TASK_SIZE);
    let mut cur = start;
    while cur < end {
        let mut ops = CollectPteHoles { holes: [(0, 0); PTE_BATCH], len: 0, resume: None };
        let _ = walk_page_range_novma(pt, cur, end, &mut ops);
        for &(a, b) in &ops.holes[..ops.len] {
            for va in (a..b).step_by(PAGE_SIZE as usize) {
                if let Some(e) = pt.swap_entry_at(va) {
                    f(pt, va, e);
                }
            }
        }
        match ops.resume {
            Some(r) if r < end => cur = r,
            _ => return,
        }
    }
}

/// Release the swap entries of `[start, end)` (Linux `zap_pte_range` on
/// non-present ptes: `free_swap_and_cache`): each gives its slot count
/// back, and the tables they leave empty go to `tlb`.
///
/// Locking: the inner lock held (`inner`).
pub(crate) fn zap_swap_range<P: PhysMem, T: TlbFlush>(
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    tlb: &mut MmuGather,
    start: u64,
    end: u64,
) {
    if !meta.swap().may_have_entries() || inner.swap_ents == 0 {
        return;
    }
    let Some(pt) = inner.pgtable.as_mut() else { return };
    let swap_ents = &mut inner.swap_ents;
    for_each_swap_pte(pt, start, end, |pt, va, _| {
        if let Some(e) = pt.clear_swap_pte(va, tlb).and_then(pte_to_swp_entry) {
            *swap_ents = swap_ents.saturating_sub(1);
            let _ = meta.swap().swap_free(e);
        }
    });
}

/// Linux `zap_page_range_single` for anonymous memory: unmap every present
/// page of `[start, end)`, which lies in a vma with `vm_flags`; each page's
/// locked mapping goes away (`munlock_vma_folio` when `VM_LOCKED`), its
/// reference is dropped, and the frame, when that was the last one, goes
/// to `tlb` to be freed after its flush, with the page tables left empty.
/// Flushes only early, if memory for `tlb`'s list runs out.
///
/// Locking: `mmap_lock` held (write, or read for madvise), inner lock held.
pub(crate) fn zap_page_range<P: PhysMem, T: TlbFlush>(
    _locked: MmapLocked<'_>,
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    tlb: &mut MmuGather,
    start: u64,
    end: u64,
    vm_flags: VmFlags,
) {
    zap_swap_range(inner, meta, tlb, start, end);
    let Some(pt) = inner.pgtable.as_mut() else { return };
    let (flush, phys, rss) = (&inner.tlb, &inner.phys, &mut inner.rss);
    for_each_present_pte(pt, start, end, |pt, va, _, _| {
        if tlb.needs_flush() {
            tlb.tlb_flush_mmu(phys, flush);
        }
        let Ok(m) = pt.unmap(va, tlb) else { return };
        *rss = rss.saturating_sub(1);
        match meta.get(m.pa) {
            Some(folio) => {
                crate::rmap::folio_remove_rmap_pte(meta, folio, vm_flags);
                if let Ok(true) = meta.put_page(folio) {
                    tlb.tlb_remove_page(m.pa);
                }
            }
            None => tlb.tlb_remove_page(m.pa),
        }
    });
}

/// `vma` (or a piece of it) left this address space, and its ptes are
/// zapped into `tlb`: if it mapped a shmem object that no vma of any
/// address space holds any more, release the object's pages into `tlb`
/// (freed after its flush). See [`crate::shmem`].
///
/// Locking: `mmap_lock` held for write, inner lock held.
pub(crate) fn release_unmapped_shmem<P: PhysMem, T: TlbFlush>(inner: &MmInner<P, T>, meta: &PageMetaArray, tlb: &mut MmuGather, vma: &Vma) {
    if let Some(obj) = vma.shmem() {
        if obj.unused() {
            obj.release_pages(meta, tlb, &inner.phys, &inner.tlb);
        }
    }
}

/// Tear everything down (exit_mmap, Drop), Linux `exit_mmap`: zap every
/// vma into one fullmm [`MmuGather`], flush everything once, free the
/// frames and tables it gathered, then the rest of the page table (no CPU
/// has it loaded, and all have flushed).
///
/// Locking: `mmap_lock` held for write (or the mm is being dropped),
/// inner lock held (or `&mut` to the mm).
pub(crate) fn teardown<P: PhysMem, T: TlbFlush>(locked: &MmapWriteLocked<'_>, inner: &mut MmInner<P, T>, meta: &PageMetaArray) {
    let mut tlb = MmuGather::tlb_gather_mmu_fullmm();
    // One vma at a time: exit allocates nothing but the gather's list, and
    // cannot fail.
    while let Some(v) = inner.vmas.first().cloned() {
        zap_page_range(locked.as_locked(), inner, meta, &mut tlb, v.start, v.end, v.flags);
        inner.vmas.remove(v.start);
        release_unmapped_shmem(inner, meta, &mut tlb, &v);
    }
    inner.vmas = VmaTree::new();
    tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
    if let Some(pt) = inner.pgtable.take() {
        pt.free_all_tables();
    }
    inner.total_vm = 0;
    inner.locked_vm = 0;
    inner.rss = 0;
    inner.def_flags = VmFlags::empty();
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> Drop for MmStruct<P, B, T> {
    /// An mm dropped without [`exit_mmap`](MmStruct::exit_mmap) is torn
    /// down here, so that no frame leaks. One that `exit_mmap` tore down
    /// takes no lock: the kernel drops an exited process's mm when it
    /// frees the thread in a context switch, whose new thread may be
    /// waiting for another mm's inner lock.
    fn drop(&mut self) {
        if *self.exited.get_mut() {
            return;
        }
        let meta = self.page_meta_arc().clone();
        self.with_exclusive(|locked, inner| teardown(locked, inner, &meta));
    }
}
