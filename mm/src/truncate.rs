//! Taking an object's pages out of the address spaces that map them, when
//! the object shrinks (Linux `unmap_mapping_range` in `mm/memory.c`, the
//! first half of `truncate_pagecache`).
//!
//! A tmpfs file that shrinks sets its object's size first (so no fault
//! maps a page past the end again: such faults are `SIGBUS`), then asks
//! every address space to unmap the pages past the end
//! ([`MmStruct::unmap_mapping_pages`]), then takes the pages out of the
//! object ([`Shmem::detach_pages_from`], freed by [`Shmem::put_detached`]). A private mapping loses its own
//! copies of pages past the end too (Linux's `truncate_pagecache` unmaps
//! with `even_cows`): every access past the end is `SIGBUS`.
//!
//! Locking: `mmap_lock` of the address space for read, then its inner
//! lock; the object's lock is not held (the fault path checks the size
//! under it).

use alloc::sync::Arc;

use crate::addr::PAGE_SHIFT;
use crate::memory::zap_page_range;
use crate::mm_struct::MmStruct;
use crate::mmu_gather::MmuGather;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::shmem::Shmem;

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `unmap_mapping_range` (with `even_cows`) for this address
    /// space: unmap every pte of a vma of `obj` at page `first` or past
    /// it (a private vma's copies too), flushed before it returns.
    /// Returns how many ptes went.
    ///
    /// Locking: takes `mmap_lock` for read, then the inner lock.
    pub fn unmap_mapping_pages(&self, obj: &Arc<Shmem>, first: u64) -> usize {
        let read = self.mmap_lock.read();
        let locked = self.mmap_read_locked(&read);
        let meta = self.page_meta();
        let mut g = self.lock_inner();
        let inner = &mut *g;
        let mut ranges = alloc::vec::Vec::new();
        for v in inner.vmas.iter() {
            let Some((o, pgoff)) = v.shmem_index(v.start) else { continue };
            if !Arc::ptr_eq(o, obj) {
                continue;
            }
            let skip = first.saturating_sub(pgoff);
            if skip >= v.pages() {
                continue;
            }
            if ranges.try_reserve(1).is_err() {
                break;
            }
            ranges.push((v.start + (skip << PAGE_SHIFT), v.end, v.flags));
        }
        let rss_before = inner.rss;
        let mut tlb = MmuGather::tlb_gather_mmu();
        for (start, end, flags) in ranges {
            zap_page_range(locked, inner, meta, &mut tlb, start, end, flags);
        }
        tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
        (rss_before - inner.rss) as usize
    }
}
