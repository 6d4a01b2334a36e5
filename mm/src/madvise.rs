//! `madvise` for anonymous memory (Linux `mm/madvise.c`): the advices
//! that drop pages (`MADV_DONTNEED`, `MADV_FREE`, `MADV_REMOVE`,
//! `MADV_DONTNEED_LOCKED`), the populating ones (`MADV_POPULATE_READ/WRITE`,
//! through [`faultin_page_range`](MmStruct::faultin_page_range)), and the
//! hints Holdfast accepts and ignores.
//!
//! The advices that drop pages make one TLB flush round for the whole
//! range (one [`MmuGather`]) before the frames are freed.
//!
//! Locking: takes `mmap_lock` for read, the inner lock per vma (once for
//! the whole range for the advices that drop pages).

use crate::addr::{page_align_up, page_aligned};
use crate::errno::Errno;
use crate::memory::zap_page_range;
use crate::mm_struct::{MmInner, MmStruct, MmapLocked};
use crate::mman::*;
use crate::mmu_gather::MmuGather;
use crate::page_meta::PageMetaArray;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::vma::{VmFlags, Vma};

fn valid_madvise(advice: i32) -> bool {
    matches!(
        advice,
        MADV_NORMAL
            | MADV_RANDOM
            | MADV_SEQUENTIAL
            | MADV_WILLNEED
            | MADV_DONTNEED
            | MADV_FREE
            | MADV_REMOVE
            | MADV_DONTFORK
            | MADV_DOFORK
            | MADV_MERGEABLE
            | MADV_UNMERGEABLE
            | MADV_HUGEPAGE
            | MADV_NOHUGEPAGE
            | MADV_DONTDUMP
            | MADV_DODUMP
            | MADV_WIPEONFORK
            | MADV_KEEPONFORK
            | MADV_COLD
            | MADV_PAGEOUT
            | MADV_POPULATE_READ
            | MADV_POPULATE_WRITE
            | MADV_DONTNEED_LOCKED
            | MADV_COLLAPSE
    )
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `madvise`. Errors: `EINVAL` unknown advice, unaligned `start`,
    /// length overflow; `EINTR` (killable lock); `EINVAL`
    /// `MADV_DONTNEED`/`MADV_FREE`/`MADV_REMOVE`/`MADV_COLD`/`MADV_PAGEOUT`
    /// on a `VM_LOCKED` (or `VM_PFNMAP`) vma, `MADV_FREE` on shared,
    /// `MADV_REMOVE` on private memory; `ENOMEM` holes (after the mapped
    /// parts were advised).
    ///
    /// `MADV_POPULATE_READ/WRITE` fault the pages in, in address order,
    /// and stop at the first problem instead of walking the vmas
    /// ([`faultin_page_range`](Self::faultin_page_range)): `ENOMEM` at a
    /// hole, `EINVAL` at a vma that cannot be populated that way, `EINTR`
    /// with a fatal signal pending; the pages before it stay populated.
    ///
    /// `MADV_DONTNEED` (and `_LOCKED`, `FREE`, `REMOVE`) zap the pages: the
    /// next touch gives zeroes. `MADV_DONTFORK`/`MADV_DOFORK` set and clear
    /// `VM_DONTCOPY`. The other advices are accepted and do nothing.
    ///
    /// Locking: takes `mmap_lock` for read.
    pub fn madvise(&self, start: u64, len: u64, advice: i32) -> Result<(), Errno> {
        if !valid_madvise(advice) {
            return Err(Errno::EINVAL);
        }
        if !page_aligned(start) {
            return Err(Errno::EINVAL);
        }
        let alen = page_align_up(len).ok_or(Errno::EINVAL)?;
        if len != 0 && alen == 0 {
            return Err(Errno::EINVAL);
        }
        let end = start.checked_add(alen).ok_or(Errno::EINVAL)?;
        if end == start {
            return Ok(());
        }
        if matches!(advice, MADV_DONTFORK | MADV_DOFORK) {
            return self.madvise_dontfork(start, end, advice == MADV_DONTFORK);
        }
        let read = self.mmap_lock.read_killable()?;
        let held = self.mmap_read_locked(&read);
        if matches!(advice, MADV_POPULATE_READ | MADV_POPULATE_WRITE) {
            // Not a walk over the vmas: population goes page by page and
            // stops at the first problem, hole or vma (Linux 6.10+).
            return self.faultin_page_range(held, start, end, advice == MADV_POPULATE_WRITE);
        }
        if matches!(advice, MADV_DONTNEED | MADV_FREE | MADV_DONTNEED_LOCKED | MADV_REMOVE) {
            return self.madvise_dontneed(held, start, end, advice);
        }
        // One vma at a time (the read lock keeps the tree as it is), so a
        // range over many vmas allocates nothing.
        let mut unmapped = false;
        let mut cursor = start;
        while cursor < end {
            let Some(v) = self.lock_inner().vmas.find_vma_intersection(cursor, end).cloned() else { break };
            if v.start > cursor {
                unmapped = true;
            }
            check_vma_advice(&v, advice)?;
            cursor = v.end.min(end);
        }
        if cursor < end || unmapped {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// `MADV_DONTFORK` / `MADV_DOFORK`: set or clear `VM_DONTCOPY` on the
    /// vmas of `[start, end)` (split and merged as mprotect does), so that
    /// `fork` leaves them out of the child ([`crate::fork`]). `EINVAL`
    /// `MADV_DOFORK` on a `VM_IO` vma; `ENOMEM` if `start` is unmapped or
    /// the run of vmas from it ends before `end` (the mapped run is
    /// changed first).
    ///
    /// Locking: takes `mmap_lock` for write.
    fn madvise_dontfork(&self, start: u64, end: u64, dontfork: bool) -> Result<(), Errno> {
        let write = self.mmap_lock.write_killable()?;
        let _locked = self.mmap_write_locked(&write);
        let mut g = self.lock_inner();
        let run_end = g.vmas.mapped_run_end(start, end);
        if !dontfork && g.vmas.range(start, run_end).any(|v| v.flags.contains(VmFlags::IO)) {
            return Err(Errno::EINVAL);
        }
        g.vmas
            .vma_modify_flags(start, run_end, |f| if dontfork { f | VmFlags::DONTCOPY } else { f - VmFlags::DONTCOPY })?;
        if run_end < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// `madvise` for the advices that zap pages (`MADV_DONTNEED`,
    /// `_LOCKED`, `MADV_FREE`, `MADV_REMOVE`): the same walk over the vmas
    /// as for the others, with the same errors, but under one hold of the
    /// inner lock and into one [`MmuGather`], so the whole range costs one
    /// TLB flush round, made before the lock is released (also when a vma
    /// stops the walk with `EINVAL`: what was zapped before it is flushed
    /// and freed).
    ///
    /// Locking: `mmap_lock` held for read (`held`); takes the inner lock.
    fn madvise_dontneed(&self, held: MmapLocked<'_>, start: u64, end: u64, advice: i32) -> Result<(), Errno> {
        let meta = self.page_meta_arc().clone();
        let mut g = self.lock_inner();
        let inner = &mut *g;
        let mut tlb = MmuGather::tlb_gather_mmu();
        let r = zap_vmas(held, inner, &meta, &mut tlb, start, end, advice);
        tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
        r
    }
}

/// The walk of [`MmStruct::madvise_dontneed`]: zap `[start, end)` vma by
/// vma into `tlb`, refusing (`EINVAL`) at the first vma the advice does
/// not apply to, `ENOMEM` for holes once the mapped parts were zapped.
///
/// Locking: `mmap_lock` held for read, inner lock held.
fn zap_vmas<P: PhysMem, T: TlbFlush>(
    held: MmapLocked<'_>,
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    tlb: &mut MmuGather,
    start: u64,
    end: u64,
    advice: i32,
) -> Result<(), Errno> {
    let mut unmapped = false;
    let mut cursor = start;
    while cursor < end {
        let Some(v) = inner.vmas.find_vma_intersection(cursor, end).cloned() else { break };
        if v.start > cursor {
            unmapped = true;
        }
        let ps = v.start.max(cursor);
        let pe = v.end.min(end);
        check_vma_advice(&v, advice)?;
        zap_page_range(held, inner, meta, tlb, ps, pe, v.flags);
        cursor = pe;
    }
    if cursor < end || unmapped {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

/// One vma's part of `madvise`: may `advice` be applied to `v`? (`EINVAL`
/// if not.) The advices that drop pages do it in [`zap_vmas`]; the others
/// are hints Holdfast accepts and ignores.
fn check_vma_advice(v: &Vma, advice: i32) -> Result<(), Errno> {
    let locked = v.flags.contains(VmFlags::LOCKED);
    let pfnmap = v.flags.contains(VmFlags::PFNMAP);
    let shared = v.flags.contains(VmFlags::MAYSHARE);
    match advice {
        MADV_DONTNEED | MADV_FREE | MADV_DONTNEED_LOCKED | MADV_REMOVE => {
            if pfnmap || (locked && advice != MADV_DONTNEED_LOCKED) {
                return Err(Errno::EINVAL);
            }
            if (advice == MADV_FREE && shared) || (advice == MADV_REMOVE && !shared) {
                return Err(Errno::EINVAL);
            }
            Ok(())
        }
        MADV_COLD | MADV_PAGEOUT => {
            if locked || pfnmap {
                return Err(Errno::EINVAL);
            }
            Ok(())
        }
        // Holdfast has no transparent huge pages: like Linux with THP
        // set to "never", MADV_HUGEPAGE/NOHUGEPAGE are accepted hints,
        // and a synchronous collapse is refused for every vma.
        MADV_COLLAPSE => Err(Errno::EINVAL),
        _ => Ok(()),
    }
}
