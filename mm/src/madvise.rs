//! `madvise` for anonymous memory (Linux `mm/madvise.c`): the advices
//! that drop pages (`MADV_DONTNEED`, `MADV_FREE`, `MADV_REMOVE`,
//! `MADV_DONTNEED_LOCKED`), the populating ones (`MADV_POPULATE_READ/WRITE`,
//! through [`faultin_page_range`](MmStruct::faultin_page_range)), and the
//! hints Holdfast accepts and ignores.
//!
//! Locking: takes `mmap_lock` for read, the inner lock per vma.

use crate::addr::{page_align_up, page_aligned};
use crate::errno::Errno;
use crate::memory::zap_page_range;
use crate::mm_struct::{MmStruct, MmapLocked};
use crate::mman::*;
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
    /// next touch gives zeroes. The other advices are accepted and do
    /// nothing.
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
        let read = self.mmap_lock.read_killable()?;
        let held = self.mmap_read_locked(&read);
        if matches!(advice, MADV_POPULATE_READ | MADV_POPULATE_WRITE) {
            // Not a walk over the vmas: population goes page by page and
            // stops at the first problem, hole or vma (Linux 6.10+).
            return self.faultin_page_range(held, start, end, advice == MADV_POPULATE_WRITE);
        }
        let meta = self.page_meta_arc().clone();
        // One vma at a time (the read lock keeps the tree as it is), so a
        // range over many vmas allocates nothing.
        let mut unmapped = false;
        let mut cursor = start;
        while cursor < end {
            let Some(v) = self.lock_inner().vmas.find_vma_intersection(cursor, end).cloned() else { break };
            if v.start > cursor {
                unmapped = true;
            }
            let ps = v.start.max(cursor);
            let pe = v.end.min(end);
            self.madvise_vma(held, &meta, &v, ps, pe, advice)?;
            cursor = pe;
        }
        if cursor < end || unmapped {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// One vma's part of `madvise`.
    ///
    /// Locking: `mmap_lock` held for read (`held`).
    fn madvise_vma(&self, held: MmapLocked<'_>, meta: &PageMetaArray, v: &Vma, start: u64, end: u64, advice: i32) -> Result<(), Errno> {
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
                let mut g = self.lock_inner();
                zap_page_range(held, &mut g, meta, start, end, v.flags);
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
}
