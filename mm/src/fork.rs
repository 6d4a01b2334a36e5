//! Copying an address space for `fork` (Linux `dup_mmap` and
//! `copy_page_range` in kernel/fork.c and mm/memory.c), and the rule that
//! decides whether a mapped page may be written in place.
//!
//! [`MmStruct::dup_mmap`] copies every vma of the parent into a new, empty
//! child (skipping `VM_DONTCOPY` ones) and every present pte with it. The
//! frames are shared, not copied: each gets one more reference
//! (`get_page`). A private writable page is write-protected in both
//! parent and child, so that the first write on either side faults and
//! breaks the sharing ([`crate::fault`]'s `wp_page_copy`, or reuses the
//! page if no other mapping is left). A `MAP_SHARED` anonymous vma maps a
//! shmem object ([`crate::shmem`]): the child's vma holds the same object
//! and no pte is copied; the child faults the object's pages in, writable
//! if its vma is (that memory is meant to be shared). The child's copied
//! ptes are old (accessed bit clear); a private page stays dirty in the
//! child, as Linux's `__copy_present_ptes` leaves it.
//!
//! Linux's mlock rules at fork: the child's vmas lose `VM_LOCKED` and
//! `VM_LOCKONFAULT`, its `def_flags` lose them too (no `MCL_FUTURE`), and
//! its `locked_vm` starts at 0. The child's mappings of the parent's
//! mlocked pages are not locked mappings, so each such page stays
//! `MLOCKED` with the `mlock_count` of the parent's mappings alone, and
//! stays resident (nothing is unmapped).
//!
//! Invariant kept (and checked by [`crate::invariants`]): a pte of a
//! private (not `VM_SHARED`) vma is writable only if its page is
//! `ANON_EXCLUSIVE`, and an exclusive page has exactly one reference per
//! mapping in its own mm: no other address space maps it. Fork clears the
//! flag on every page it shares; a write fault sets it again on a page it
//! finds with one reference left (`wp_page_reuse`) or on its copy.
//!
//! Locking: `dup_mmap` holds the parent's `mmap_lock` for write for the
//! whole copy (faults, population and every vma change of the parent
//! wait), and its inner lock per batch of ptes; the parent's TLB is
//! flushed for each batch before that inner lock is released, on every
//! CPU that runs on the parent's page table (no thread of the parent can
//! write a page through a stale writable entry after the batch). The child
//! is taken as `&mut` (nobody can see it yet), so none of its locks is
//! needed.

use crate::errno::Errno;
use crate::memory::{for_each_swap_pte, present_ptes_batch};
use crate::mm_struct::MmInner;
use crate::mm_struct::MmStruct;
use crate::mmu_gather::MmuGather;
use crate::page_meta::PageMeta;
use crate::pgtable::{PageSize, PhysMem, PteFlags, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::swap::swap_state::pte_to_swp_entry;
use crate::vma::{VmFlags, Vma};

/// Linux `is_cow_mapping`: a private mapping that may become writable —
/// its shared pages must be copied before they are written.
pub fn is_cow_mapping(flags: VmFlags) -> bool {
    flags.intersection(VmFlags::SHARED | VmFlags::MAYWRITE) == VmFlags::MAYWRITE
}

/// The pte flags a present page of a vma with `vm_flags` may get, given
/// that `want` is what the vma's protection asks for
/// ([`vm_pte_flags`](crate::mm_struct::vm_pte_flags)): without `WRITABLE`
/// if the vma is private and the page is not `ANON_EXCLUSIVE` (fork shared
/// it, and no write fault has since found it unshared), so that a write
/// faults first (Linux's `can_change_pte_writable` for mprotect).
pub fn cow_pte_flags(vm_flags: VmFlags, want: PteFlags, folio: Option<&PageMeta>) -> PteFlags {
    let exclusive = folio.is_some_and(|f| f.is_anon_exclusive());
    if want.contains(PteFlags::WRITABLE) && !vm_flags.contains(VmFlags::SHARED) && !exclusive {
        want - PteFlags::WRITABLE
    } else {
        want
    }
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `dup_mmap`: make `child`, a new address space with no vmas,
    /// a copy-on-write copy of this one (see the module doc). `child` must
    /// count its pages in the same [`PageMetaArray`](crate::page_meta::PageMetaArray).
    ///
    /// Errors: `EINTR` if a fatal signal arrives while waiting for the
    /// `mmap_lock`; `ENOMEM` if the child's vma tree or page tables cannot
    /// grow, or a page's reference count would overflow. On error the
    /// child holds part of the copy (its own references); dropping it
    /// releases them, and the parent is intact (some of its pages may be
    /// write-protected; a write fault reuses them).
    ///
    /// Locking: takes this mm's `mmap_lock` for write; no lock of either
    /// mm may be held by the caller.
    pub fn dup_mmap(&self, child: &mut MmStruct<P, B, T>) -> Result<(), Errno> {
        assert!(
            alloc::sync::Arc::ptr_eq(self.page_meta_arc(), child.page_meta_arc()),
            "dup_mmap into an mm with other page metadata"
        );
        let write = self.mmap_lock.write_killable()?;
        let _locked = self.mmap_write_locked(&write);
        let meta = self.page_meta_arc().clone();
        self.dup_mmap_copy(child, &meta)?;
        // The child joins the rmap lists once its copy is complete (a walk
        // in the meantime does not see its ptes, which its pages' mapcounts
        // already count: see crate::rmap).
        let backend = self.mmap_lock.backend();
        let anon_vma = self.anon_vma().clone();
        anon_vma.link(backend, self.id(), self.inner_arc())?;
        anon_vma.link(backend, child.id(), child.inner_arc())?;
        child.set_rmap_from(anon_vma, self.shmem_rmap_ops());
        let objects: alloc::vec::Vec<_> = child.maps_shmem_objects()?;
        for obj in objects {
            crate::rmap::link_shmem(child, &obj)?;
        }
        Ok(())
    }

    /// The copy half of [`dup_mmap`](Self::dup_mmap).
    ///
    /// Locking: this mm's `mmap_lock` held for write; `child` is new (no
    /// rmap list names it).
    fn dup_mmap_copy(&self, child: &mut MmStruct<P, B, T>, meta: &crate::page_meta::PageMetaArray) -> Result<(), Errno> {
        let (_child_locked, cinner) = child.exclusive().ok_or(Errno::EINVAL)?;
        if !cinner.vmas.is_empty() {
            return Err(Errno::EINVAL);
        }
        let mut vmas = alloc::vec::Vec::new();
        {
            let g = self.lock_inner();
            vmas.try_reserve_exact(g.vmas.len()).map_err(|_| Errno::ENOMEM)?;
            vmas.extend(g.vmas.iter().filter(|v| !v.flags.contains(VmFlags::DONTCOPY)).cloned());
            cinner.start_brk = g.start_brk;
            cinner.brk = g.brk;
            cinner.def_flags = g.def_flags - VmFlags::LOCKED_MASK;
        }
        for v in vmas {
            let cflags = v.flags - VmFlags::LOCKED_MASK;
            cinner.vmas.insert(Vma { flags: cflags, ..v.clone() })?;
            cinner.total_vm += v.pages();
            if v.shmem().is_some() && v.flags.contains(VmFlags::SHARED) {
                // The child shares the object and faults its pages from it
                // (Linux copies no ptes of a shared mapping without anon
                // pages). A private mapping of an object may hold copies
                // (anonymous pages): its ptes are copied like any other.
                continue;
            }
            self.copy_page_range(
                &v,
                &mut |va, pa, flags| {
                    let pt = cinner.pgtable.as_mut().ok_or(Errno::ENOMEM)?;
                    pt.map(va, pa, PageSize::Size4K, flags).map_err(|_| Errno::ENOMEM)?;
                    if let Some(folio) = meta.get(pa) {
                        crate::rmap::folio_dup_rmap_pte(folio);
                    }
                    cinner.rss += 1;
                    Ok(())
                },
                meta,
            )?;
            self.copy_swap_ptes(&v, cinner, meta)?;
        }
        Ok(())
    }

    /// Linux `copy_nonpresent_pte` for the swap entries of vma `v`: each
    /// slot gets one more count (`swap_duplicate`) and the entry is copied
    /// into the child's table, so parent and child read the same page back.
    ///
    /// Errors: `ENOMEM` (a slot's count is full, or no frame for a child
    /// page table); what was copied is released with the child.
    /// Locking: `mmap_lock` held for write by the caller; takes the inner
    /// lock; `cinner` is the new child's, which nothing else can reach.
    fn copy_swap_ptes(&self, v: &Vma, cinner: &mut MmInner<P, T>, meta: &crate::page_meta::PageMetaArray) -> Result<(), Errno> {
        if !meta.swap().may_have_entries() {
            return Ok(());
        }
        let mut g = self.lock_inner();
        let inner = &mut *g;
        if inner.swap_ents == 0 {
            return Ok(());
        }
        let Some(pt) = inner.pgtable.as_mut() else { return Ok(()) };
        let mut err = None;
        for_each_swap_pte(pt, v.start, v.end, |_, va, e| {
            let Some(se) = pte_to_swp_entry(e).filter(|_| err.is_none()) else { return };
            if let Err(x) = meta.swap().swap_duplicate(se) {
                err = Some(x);
                return;
            }
            match cinner.pgtable.as_mut().map(|cpt| cpt.install_swap_pte(va, e)) {
                Some(Ok(())) => cinner.swap_ents += 1,
                _ => {
                    let _ = meta.swap().swap_free(se);
                    err = Some(Errno::ENOMEM);
                }
            }
        });
        err.map_or(Ok(()), Err)
    }

    /// Linux `copy_page_range` for one vma `v` of this mm: take a
    /// reference on every present page, write-protect the private
    /// writable ones here, and hand each to `install` (va, frame, flags
    /// for the child's pte), one batch at a time. If `install` fails, the
    /// references it did not take over are dropped again.
    ///
    /// Locking: `mmap_lock` held for write by the caller; takes the inner
    /// lock per batch.
    fn copy_page_range(
        &self,
        v: &Vma,
        install: &mut dyn FnMut(u64, u64, PteFlags) -> Result<(), Errno>,
        meta: &crate::page_meta::PageMetaArray,
    ) -> Result<(), Errno> {
        let cow = is_cow_mapping(v.flags);
        let mut cur = v.start;
        loop {
            let (batch, resume) = {
                let mut g = self.lock_inner();
                let inner = &mut *g;
                let Some(pt) = inner.pgtable.as_mut() else { return Ok(()) };
                let (batch, resume) = present_ptes_batch(pt, cur, v.end);
                let mut tlb = MmuGather::tlb_gather_mmu();
                let mut err = None;
                let mut taken = 0;
                for &(va, pa, flags) in batch.as_slice() {
                    let Some(folio) = meta.get(pa) else {
                        err = Some(Errno::ENOMEM);
                        break;
                    };
                    if folio.get_page().is_err() {
                        err = Some(Errno::ENOMEM);
                        break;
                    }
                    taken += 1;
                    // Shared from now on: no longer exclusive to either side.
                    folio.set_anon_exclusive(false);
                    if cow && flags.contains(PteFlags::WRITABLE) {
                        let _ = pt.protect(va, flags - PteFlags::WRITABLE, &mut tlb);
                    }
                }
                tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
                if let Some(e) = err {
                    for &(_, pa, _) in &batch.as_slice()[..taken] {
                        self.put_shared(meta, pa);
                    }
                    return Err(e);
                }
                (batch, resume)
            };
            let entries = batch.as_slice();
            for (i, &(va, pa, flags)) in entries.iter().enumerate() {
                // Linux `__copy_present_ptes`: the child's pte is old, and
                // clean in a shared mapping; a private page stays dirty.
                let mut cflags = flags & crate::mm_struct::PTE_PROT_MASK;
                if !v.flags.contains(VmFlags::SHARED) {
                    cflags |= flags & PteFlags::DIRTY;
                }
                if cow {
                    cflags -= PteFlags::WRITABLE;
                }
                if let Err(e) = install(va, pa, cflags) {
                    for &(_, pa, _) in &entries[i..] {
                        self.put_shared(meta, pa);
                    }
                    return Err(e);
                }
            }
            match resume {
                Some(r) => cur = r,
                None => return Ok(()),
            }
        }
    }

    /// Drop a reference [`copy_page_range`](Self::copy_page_range) took
    /// (never the last one: the parent still maps the page).
    fn put_shared(&self, meta: &crate::page_meta::PageMetaArray, pa: u64) {
        if let Some(folio) = meta.get(pa) {
            if let Ok(true) = meta.put_page(folio) {
                self.phys.free_frame(pa);
            }
        }
    }
}
