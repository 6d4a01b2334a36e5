//! `mprotect` for anonymous memory (Linux `mm/mprotect.c`): change the
//! protection of the vmas of a range, splitting and merging them, and the
//! protection of their present ptes, with one TLB flush round for all of
//! them (an [`MmuGather`]).
//!
//! Locking: takes `mmap_lock` for write, the inner lock inside it.

use alloc::vec::Vec;

use crate::addr::{page_align_up, page_aligned, TASK_SIZE};
use crate::errno::Errno;
use crate::fork::cow_pte_flags;
use crate::gup::OnError;
use crate::memory::for_each_present_pte;
use crate::mm_struct::{vm_pte_flags, MmStruct, PTE_AD_MASK};
use crate::mman::{calc_vm_prot_bits, PROT_EXEC, PROT_GROWSDOWN, PROT_GROWSUP, PROT_READ, PROT_SEM, PROT_WRITE};
use crate::mmu_gather::MmuGather;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::vma::VmFlags;

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `mprotect`. Errors, in Linux's order: `EINVAL` both GROWS
    /// bits, unaligned `start`; `len == 0` succeeds; `ENOMEM` overflow;
    /// `EINVAL` unknown prot bits, `PROT_GROWSDOWN` on a vma that does not
    /// grow down; `ENOMEM` `start` unmapped, or a hole (the
    /// vmas before it keep their new protection); `EINTR`.
    ///
    /// `VM_LOCKED` survives the split; present pages get the new pte
    /// protection (PROT_NONE makes them protnone ptes that keep their
    /// frames, and a later PROT_READ makes them present again, see
    /// [`vm_pte_flags`]); a locked private
    /// vma that gains write access is populated (Linux's COW break in
    /// `mprotect_fixup`), under the write lock, errors ignored.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn do_mprotect(&self, start: u64, len: u64, prot: u64) -> Result<(), Errno> {
        let grows = prot & (PROT_GROWSDOWN | PROT_GROWSUP);
        let prot = prot & !grows;
        if grows == (PROT_GROWSDOWN | PROT_GROWSUP) {
            return Err(Errno::EINVAL);
        }
        if !page_aligned(start) {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(());
        }
        let len = page_align_up(len).ok_or(Errno::ENOMEM)?;
        let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
        if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC | PROT_SEM) != 0 {
            return Err(Errno::EINVAL);
        }
        let write = self.mmap_lock.write_killable()?;
        let locked = self.mmap_write_locked(&write);
        let new_prot = calc_vm_prot_bits(prot);
        let meta = self.page_meta();
        let mut populate = Vec::new();
        let run_end;
        let denied;
        {
            let mut g = self.lock_inner();
            let inner = &mut *g;
            let Some(first) = inner.vmas.vma_lookup(start) else { return Err(Errno::ENOMEM) };
            if grows & PROT_GROWSDOWN != 0 && !first.flags.contains(VmFlags::GROWSDOWN) {
                return Err(Errno::EINVAL);
            }
            let mapped_end = inner.vmas.mapped_run_end(start, end.min(TASK_SIZE));
            // Linux refuses (EACCES) at the first vma that may not get the
            // new rights (VM_MAY* missing, e.g. write to a shared mapping
            // of a file open read-only); the vmas before it are changed.
            let rwx = VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC;
            let may = |f: VmFlags| VmFlags::from_bits_retain((f.bits() >> 4) & rwx.bits());
            denied = inner
                .vmas
                .iter()
                .filter(|v| v.end > start && v.start < mapped_end)
                .find(|v| !may(v.flags).contains(new_prot))
                .map(|v| v.start.max(start));
            run_end = denied.unwrap_or(mapped_end);
            let changes =
                if run_end > start { inner.vmas.vma_modify_flags(start, run_end, |old| (old - rwx) | new_prot)? } else { Vec::new() };
            // One flush round for every pte changed, before the inner lock
            // is released (Linux: one mmu_gather around the vma loop).
            let mut tlb = MmuGather::tlb_gather_mmu();
            if let Some(pt) = inner.pgtable.as_mut() {
                for c in &changes {
                    let want = vm_pte_flags(c.new);
                    // A private page shared with another address space
                    // (fork) stays read-only: its first write copies it.
                    // The CPU's accessed and dirty bits stay (`pte_modify`).
                    for_each_present_pte(pt, c.start, c.end, |pt, va, pa, old| {
                        let ad = old & PTE_AD_MASK;
                        let _ = pt.protect(va, cow_pte_flags(c.new, want, meta.get(pa)) | ad, &mut tlb);
                    });
                    let lockmask = VmFlags::WRITE | VmFlags::SHARED | VmFlags::LOCKED;
                    if c.old.intersection(lockmask) == VmFlags::LOCKED && c.new.contains(VmFlags::WRITE) {
                        populate.push((c.start, c.end));
                    }
                }
            }
            tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
        }
        for (s, e) in populate {
            let _ = self.populate_range_held(locked.as_locked(), s, e, OnError::Skip);
        }
        if denied.is_some() {
            return Err(Errno::EACCES);
        }
        if run_end < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }
}
