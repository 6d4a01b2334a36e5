//! Linux `shmdt`'s walk of an address space (ipc/shm.c `ksys_shmdt`):
//! detach the SysV segment attached at an address, every vma of it that
//! an `mprotect` or partial `munmap` left, and nothing else.
//!
//! The first vma at or above the address that maps a segment's object at
//! the offset its distance from the address gives (Linux: `vm_ops` are
//! `shm_vm_ops` and `(vm_start - addr) / PAGE_SIZE == vm_pgoff`) names the
//! segment and its size; then every later vma ending within that size of
//! the address that maps the same object at its matching offset goes too.
//! All of them are unmapped in one TLB flush round.
//!
//! Locking: takes `mmap_lock` for write and the inner lock, as munmap.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::addr::{page_align_up, page_aligned, PAGE_SHIFT, TASK_SIZE};
use crate::errno::Errno;
use crate::mm_struct::MmStruct;
use crate::mmap::unmap_region;
use crate::mmu_gather::MmuGather;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::shmem::Shmem;
use crate::vma::Vma;

/// The object `v` maps if it maps a segment's object at the page offset
/// its distance from `addr` gives; `segment_size` says which objects are
/// segments' (and their size in bytes).
fn attached_at<'v>(v: &'v Vma, addr: u64, segment_size: &impl Fn(&Shmem) -> Option<u64>) -> Option<(&'v Arc<Shmem>, u64)> {
    let (obj, pgoff) = v.shmem_index(v.start)?;
    let size = segment_size(obj)?;
    (v.start >= addr && (v.start - addr) >> PAGE_SHIFT == pgoff).then_some((obj, size))
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `shmdt(addr)`: unmap the vmas of the segment attached at
    /// `addr` (see the module documentation). `segment_size(obj)` is the
    /// size in bytes of the segment whose object `obj` is, `None` for an
    /// object that is no segment's.
    ///
    /// Errors: `EINVAL` `addr` not page aligned, or no segment attached
    /// there; `EINTR` (killable lock); `ENOMEM` no memory for the list.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn do_shmdt(&self, addr: u64, segment_size: impl Fn(&Shmem) -> Option<u64>) -> Result<(), Errno> {
        if !page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        let write = self.mmap_lock.write_killable()?;
        let locked = self.mmap_write_locked(&write);
        let meta = self.page_meta_arc().clone();
        let mut g = self.lock_inner();
        let mut ranges: Vec<(u64, u64)> = Vec::new();
        let mut segment: Option<(Arc<Shmem>, u64)> = None;
        for v in g.vmas.range(addr, TASK_SIZE) {
            match &segment {
                None => {
                    if let Some((obj, size)) = attached_at(v, addr, &segment_size) {
                        segment = Some((obj.clone(), page_align_up(size).unwrap_or(u64::MAX)));
                        ranges.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                        ranges.push((v.start, v.end));
                    }
                }
                Some((obj, size)) => {
                    if v.end - addr > *size {
                        break;
                    }
                    if attached_at(v, addr, &segment_size).is_some_and(|(o, _)| Arc::ptr_eq(o, obj)) {
                        ranges.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                        ranges.push((v.start, v.end));
                    }
                }
            }
        }
        if ranges.is_empty() {
            return Err(Errno::EINVAL);
        }
        let mut tlb = MmuGather::tlb_gather_mmu();
        for (start, end) in ranges {
            // Whole vmas: nothing to split, so nothing can fail.
            let _ = unmap_region(&locked, &mut g, &meta, &mut tlb, start, end);
        }
        tlb.tlb_finish_mmu(&g.phys, &g.tlb);
        Ok(())
    }
}
