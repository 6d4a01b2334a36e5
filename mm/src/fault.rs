//! The page-fault handler's mm part (Linux `handle_mm_fault` for anonymous
//! memory, `do_anonymous_page`).
//!
//! The kernel's #PF handler decodes the error code into a [`FaultAccess`]
//! and calls [`MmStruct::handle_mm_fault`]; population (mlock, MAP_POPULATE)
//! calls [`MmStruct::handle_mm_fault_locked`] with `mmap_lock` already held.
//!
//! A fault on an address with no page: find the vma, check the access
//! against its flags, take a zeroed frame, give it its first reference and
//! put it on the LRU through `folio_add_lru_vma` (which mlocks it as
//! `mlock_new_folio` when the vma is `VM_LOCKED` and not special), map it
//! (`USER`, `WRITABLE` iff `VM_WRITE`, `NX` iff not `VM_EXEC`), count it in
//! rss. The pte is young, and dirty for a write ([`fault_ad_bits`]), as
//! Linux's are: a page population wrote reads as dirty and referenced in
//! `/proc/<pid>/smaps` although no CPU touched it.
//!
//! A fault on a page that is already present and whose pte allows the
//! access is spurious (another thread won the race): success.
//!
//! A fault in a `PROT_NONE` vma is an access error (`SIGSEGV` from ring 3,
//! `EFAULT` for a kernel user copy), whether or not the page has a frame:
//! a touched `PROT_NONE` page is a protnone pte (not present to the MMU,
//! see [`vm_pte_flags`]) that keeps its frame, and the fault never maps a
//! new page over it.
//!
//! Holdfast has no zero page: a read fault allocates a frame as a write
//! fault does. A write to a present private page that is shared with
//! another address space (after `fork`, see [`crate::fork`]) copies it
//! (`wp_page_copy`), or makes it writable again when no other mapping is
//! left (`wp_page_reuse`). x86 cannot express write-only or exec-only
//! pages, so any accessible vma may be read.
//!
//! A fault on a swap entry (the page was reclaimed, see [`crate::vmscan`])
//! swaps it in (Linux `do_swap_page`): the page is read from its slot into
//! a new frame with no lock of the mm held, then, if the pte still holds
//! that entry, mapped in its place as a new exclusive anonymous page (its
//! own copy: two processes that share a swapped-out page after fork each
//! read one), and the pte's count on the slot is given back. The fault
//! holds a count of its own on the slot while it reads, so that the slot
//! is not freed and handed out again (with other contents) meanwhile. A
//! slot the device cannot read is `SigBus`.
//!
//! A fault in a vma that maps a shmem object whose page is in swap (its
//! index names a slot, see [`crate::shmem::swap`]) swaps the page back
//! into the object with no inner lock held, then faults again.
//!
//! Locking: `mmap_lock` held for read (or write) across the fault, so the
//! vma cannot change; the mm's inner lock (page-table lock) around the
//! lookup-allocate-map sequence, so that two threads faulting the same page
//! map it once.

use crate::addr::{page_align_down, TASK_SIZE};
use crate::errno::Errno;
use crate::fork::cow_pte_flags;
use crate::mm_struct::{fault_ad_bits, vm_pte_flags, MmInner, MmStruct, MmapLocked, PTE_AD_MASK};
use crate::mmu_gather::MmuGather;
use crate::page_meta::PageMetaArray;
use crate::pgtable::{PageSize, PhysMem, PtEntry, PteFlags, TlbFlush};
use crate::rmap::{folio_add_file_rmap_pte, folio_add_new_anon_rmap, folio_remove_rmap_pte};
use crate::rwsem::RwSemBackend;
use crate::swap::swap_state::{pte_to_swp_entry, SwapEvent};
use crate::swap::swapfile::{SwapEntry, SwapInfo};
use crate::swap::SwapReadError;
use crate::vma::VmFlags;

/// What the faulting access wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultAccess {
    Read,
    Write,
    Exec,
}

/// Where the faulting access came from (Linux `FAULT_FLAG_USER`). The mm
/// checks are the same for both: a kernel access to user memory (a user
/// copy) goes through the same vmas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultOrigin {
    /// Ring 3.
    User,
    /// The kernel, on the user's behalf (a user copy).
    Kernel,
}

/// Why a fault could not be resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultError {
    /// No vma contains the address (SIGSEGV, `SEGV_MAPERR`).
    NoVma,
    /// The vma does not allow the access, or is a special (`VM_IO` /
    /// `VM_PFNMAP`) mapping without pages (SIGSEGV, `SEGV_ACCERR`).
    Access,
    /// The vma maps an object and the page lies beyond the object's end
    /// (a file truncated under its mapping): SIGBUS, `BUS_ADRERR`
    /// (Linux `VM_FAULT_SIGBUS`).
    SigBus,
    /// No frame (for the page or a page table), or the frame has no
    /// metadata (the kernel's `VM_FAULT_OOM`).
    OutOfMemory,
    /// A fatal signal arrived while waiting for `mmap_lock`.
    Interrupted,
    /// A shmem page is in swap: the fault swaps it in with no inner lock
    /// held and tries again. Never returned by
    /// [`MmStruct::handle_mm_fault`] or population.
    ShmemSwapped(SwappedShmemPage),
}

/// A shmem page a fault found in swap ([`FaultError::ShmemSwapped`]).
#[derive(Clone, Debug)]
pub struct SwappedShmemPage {
    pub obj: alloc::sync::Arc<crate::shmem::Shmem>,
    pub index: u64,
}

impl PartialEq for SwappedShmemPage {
    fn eq(&self, other: &Self) -> bool {
        alloc::sync::Arc::ptr_eq(&self.obj, &other.obj) && self.index == other.index
    }
}

impl Eq for SwappedShmemPage {}

impl FaultError {
    /// The errno population reports for it (GUP's view): `EFAULT` for a bad
    /// address or access, `ENOMEM`, `EINTR`.
    pub fn to_errno(&self) -> Errno {
        match self {
            FaultError::NoVma | FaultError::Access | FaultError::SigBus => Errno::EFAULT,
            FaultError::OutOfMemory | FaultError::ShmemSwapped(..) => Errno::ENOMEM,
            FaultError::Interrupted => Errno::EINTR,
        }
    }
}

/// Does a vma with `flags` allow `access`? (x86: readable if accessible.)
pub fn vma_permits(flags: VmFlags, access: FaultAccess) -> bool {
    match access {
        FaultAccess::Read => flags.intersects(VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC),
        FaultAccess::Write => flags.contains(VmFlags::WRITE),
        FaultAccess::Exec => flags.contains(VmFlags::EXEC),
    }
}

/// Does a pte with `flags` let ring 3 make `access`? (Never a protnone pte.)
fn pte_permits(flags: PteFlags, access: FaultAccess) -> bool {
    if !flags.contains(PteFlags::PRESENT | PteFlags::USER) {
        return false;
    }
    match access {
        FaultAccess::Read => true,
        FaultAccess::Write => flags.contains(PteFlags::WRITABLE),
        FaultAccess::Exec => !flags.contains(PteFlags::NO_EXECUTE),
    }
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Resolve a page fault at `addr`: takes `mmap_lock` for read
    /// (killable), then as [`handle_mm_fault_locked`](Self::handle_mm_fault_locked).
    /// `origin` says whether the access came from ring 3 or from a kernel
    /// user copy (the checks are the same).
    ///
    /// Locking: no lock of this mm held by the caller.
    pub fn handle_mm_fault(&self, addr: u64, access: FaultAccess, origin: FaultOrigin) -> Result<(), FaultError> {
        if addr >= TASK_SIZE {
            return Err(FaultError::NoVma);
        }
        let read = self.mmap_lock.read_killable().map_err(|_| FaultError::Interrupted)?;
        self.handle_mm_fault_locked(self.mmap_read_locked(&read), addr, access, origin)
    }

    /// Resolve a page fault at `addr` for a caller that holds `mmap_lock`.
    ///
    /// Locking: `mmap_lock` held for read or write (`held`); takes the
    /// inner lock.
    pub fn handle_mm_fault_locked(
        &self,
        held: MmapLocked<'_>,
        addr: u64,
        access: FaultAccess,
        _origin: FaultOrigin,
    ) -> Result<(), FaultError> {
        if addr >= TASK_SIZE {
            return Err(FaultError::NoVma);
        }
        let mut spare = None;
        let r = self.fault_in_page_unlocked_alloc(held, addr, access, &mut spare);
        self.release_spare(&mut spare);
        r.map(|_| ())
    }

    /// Fault in one page, allocating (and zeroing) its frame *before*
    /// taking the inner lock, so that other threads of this mm wait on that
    /// lock only for the page-table update. An unused frame stays in
    /// `spare` for the next page; the caller returns it with
    /// [`release_spare`](Self::release_spare).
    ///
    /// Out of memory (the frame, or a page table allocated under the
    /// inner lock), it reclaims and tries again, for as many rounds as
    /// Linux's allocator allows while they free pages: no page-table lock
    /// is held here, so population (mlock, `MAP_POPULATE`) gets its frames
    /// under pressure as a fault from ring 3 does, even when other
    /// processes take what a round freed first.
    ///
    /// Locking: `mmap_lock` held (`held`); takes the inner lock.
    pub(crate) fn fault_in_page_unlocked_alloc(
        &self,
        held: MmapLocked<'_>,
        addr: u64,
        access: FaultAccess,
        spare: &mut Option<u64>,
    ) -> Result<bool, FaultError> {
        let mut rounds = 0;
        loop {
            if spare.is_none() {
                *spare = self.phys.alloc_frame();
            }
            // Without a frame the fault may still need none (the page is
            // there already, or a shared page is in its object).
            match self.fault_in_page_once(held, addr, access, spare) {
                Err(FaultError::OutOfMemory) if rounds < crate::vmscan::MAX_RECLAIM_RETRIES && self.phys.reclaim() => rounds += 1,
                r => return r,
            }
        }
    }

    /// One try of [`fault_in_page_unlocked_alloc`](Self::fault_in_page_unlocked_alloc)
    /// with the frame in `spare`, if there is one.
    ///
    /// Locking: `mmap_lock` held (`held`); takes the inner lock.
    fn fault_in_page_once(
        &self,
        held: MmapLocked<'_>,
        addr: u64,
        access: FaultAccess,
        spare: &mut Option<u64>,
    ) -> Result<bool, FaultError> {
        self.anon_vma_prepare().map_err(|_| FaultError::OutOfMemory)?;
        let meta = self.page_meta();
        loop {
            let mut g = self.lock_inner();
            if meta.swap().may_have_entries() {
                if let Some(swp) = g.pgtable.as_ref().and_then(|pt| pt.swap_entry_at(page_align_down(addr))) {
                    // Pin the slot while it is read with no lock held, so
                    // that it is neither freed nor handed out again (and
                    // refilled) meanwhile: the pte is checked against the
                    // entry afterwards, and only a pinned slot still holds
                    // what the entry named.
                    let pinned = pte_to_swp_entry(swp).filter(|&e| meta.swap().swap_duplicate(e).is_ok());
                    drop(g);
                    let r = self.do_swap_page(held, addr, access, swp, spare);
                    if let Some(e) = pinned {
                        let _ = meta.swap().swap_free(e);
                    }
                    return r;
                }
            }
            match fault_in_page(held, &mut g, meta, addr, access, spare) {
                Err(FaultError::ShmemSwapped(SwappedShmemPage { obj, index })) => {
                    // Linux `shmem_swapin_folio` from `shmem_fault`: read
                    // the page in with no inner lock held, then fault again.
                    drop(g);
                    obj.shmem_swapin(meta, &self.phys, index, spare).map_err(|e| match e {
                        Errno::EIO => FaultError::SigBus,
                        _ => FaultError::OutOfMemory,
                    })?;
                    meta.swap().count(SwapEvent::MajorFault, 1);
                }
                r => return r,
            }
        }
    }

    /// Linux `do_swap_page`: the pte of `addr` held the swap entry `swp`
    /// when it was looked at. Read the slot into a new frame (the caller's
    /// `spare` if it has one) with no lock of this mm held, then map the
    /// frame if the pte still holds `swp`; returns whether it did (if not,
    /// the access is retried against whatever is there now). A device that
    /// is gone, or a read that fails, is `SigBus` only if the pte still
    /// holds `swp`: a swapoff may have swapped the page in meanwhile.
    ///
    /// Locking: `mmap_lock` held (`held`), no inner lock; takes the inner
    /// lock after the read.
    fn do_swap_page(
        &self,
        held: MmapLocked<'_>,
        addr: u64,
        access: FaultAccess,
        swp: PtEntry,
        spare: &mut Option<u64>,
    ) -> Result<bool, FaultError> {
        let _ = held;
        let meta = self.page_meta();
        let va = page_align_down(addr);
        let entry = pte_to_swp_entry(swp).ok_or(FaultError::SigBus)?;
        let pa = match meta.swap().device(entry.type_) {
            Some(si) => self.swap_read_frame(&si, entry, spare),
            None => Err(SwapReadError::Io),
        };
        let pa = match pa {
            Ok(pa) => pa,
            Err(SwapReadError::NoMemory) => return Err(FaultError::OutOfMemory),
            Err(SwapReadError::Io) => {
                let still = self.lock_inner().pgtable.as_ref().and_then(|pt| pt.swap_entry_at(va)) == Some(swp);
                return if still { Err(FaultError::SigBus) } else { Ok(false) };
            }
        };
        let mut g = self.lock_inner();
        let inner = &mut *g;
        let checked = inner.vmas.vma_lookup(addr).ok_or(FaultError::NoVma).and_then(|v| {
            if v.flags.intersects(VmFlags::IO | VmFlags::PFNMAP) || !vma_permits(v.flags, access) {
                return Err(FaultError::Access);
            }
            Ok((v.flags, v.linear_page_index(va)))
        });
        let still = inner.pgtable.as_ref().and_then(|pt| pt.swap_entry_at(va)) == Some(swp);
        let (vm_flags, index) = match checked {
            Ok(x) if still => x,
            other => {
                // Swapped in by another thread, or zapped meanwhile.
                self.phys.free_frame(pa);
                return other.map(|_| false);
            }
        };
        let want = vm_pte_flags(vm_flags) | fault_ad_bits(access == FaultAccess::Write);
        map_swapped_in(inner, meta, va, swp, pa, vm_flags, index, want)?;
        meta.swap().count(SwapEvent::MajorFault, 1);
        Ok(true)
    }

    /// [`swap_read_frame`](crate::swap::swap_read_frame) with this mm's
    /// frames.
    ///
    /// Locking: no inner lock held (the device may sleep or allocate).
    pub(crate) fn swap_read_frame(&self, si: &SwapInfo, entry: SwapEntry, spare: &mut Option<u64>) -> Result<u64, SwapReadError> {
        crate::swap::swap_read_frame(&self.phys, si, entry, spare)
    }

    /// Return a frame [`fault_in_page_unlocked_alloc`](Self::fault_in_page_unlocked_alloc) did not use.
    pub(crate) fn release_spare(&self, spare: &mut Option<u64>) {
        if let Some(pa) = spare.take() {
            self.phys.free_frame(pa);
        }
    }
}

/// The mapping half of Linux `do_swap_page` and `unuse_pte`: frame `pa`,
/// which holds the contents of the slot the swap pte `swp` at `va` names,
/// replaces that pte with the protection `want`, as a new exclusive
/// anonymous page at linear index `index` of a vma with `vm_flags`; the
/// pte's count on the slot is given back. The caller checked that the pte
/// still holds `swp`. On failure the frame is freed.
///
/// Locking: `mmap_lock` held, inner lock held (`inner`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn map_swapped_in<P: PhysMem, T: TlbFlush>(
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    va: u64,
    swp: PtEntry,
    pa: u64,
    vm_flags: VmFlags,
    index: u64,
    want: PteFlags,
) -> Result<(), FaultError> {
    let Some(entry) = pte_to_swp_entry(swp) else {
        inner.phys.free_frame(pa);
        return Err(FaultError::SigBus);
    };
    let Some(folio) = meta.get(pa) else {
        inner.phys.free_frame(pa);
        return Err(FaultError::OutOfMemory);
    };
    if folio.prep_new_page().is_err() {
        return Err(FaultError::OutOfMemory);
    }
    let Some(pt) = inner.pgtable.as_mut() else { return Err(FaultError::NoVma) };
    if pt.replace_swap_pte(va, swp, pa, want).is_err() {
        if let Ok(true) = meta.put_page(folio) {
            inner.phys.free_frame(pa);
        }
        return Err(FaultError::OutOfMemory);
    }
    folio_add_new_anon_rmap(meta, folio, vm_flags, index, inner.anon_vma_id);
    inner.rss += 1;
    inner.swap_ents = inner.swap_ents.saturating_sub(1);
    let _ = meta.swap().swap_free(entry);
    meta.swap().count(SwapEvent::SwapIn, 1);
    Ok(())
}

/// The fault itself. Returns whether a new page was mapped.
///
/// Locking: `mmap_lock` held (read or write), inner lock held (`inner`).
pub(crate) fn fault_in_page<P: PhysMem, T: TlbFlush>(
    _held: MmapLocked<'_>,
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    addr: u64,
    access: FaultAccess,
    spare: &mut Option<u64>,
) -> Result<bool, FaultError> {
    let vma = inner.vmas.vma_lookup(addr).ok_or(FaultError::NoVma)?;
    let vm_flags = vma.flags;
    if vm_flags.intersects(VmFlags::IO | VmFlags::PFNMAP) {
        // A special mapping without pages. (The transient VM_IO guard of
        // mlock_vma_pages_range is never seen here: it is set and cleared
        // under mmap_lock held for write.)
        return Err(FaultError::Access);
    }
    if !vma_permits(vm_flags, access) {
        return Err(FaultError::Access);
    }
    let va = page_align_down(addr);
    let anon_index = vma.linear_page_index(va);
    let shmem = vma.shmem_index(va).map(|(obj, index)| (obj.clone(), index));
    let want = vm_pte_flags(vm_flags);
    let pt = inner.pgtable.as_mut().ok_or(FaultError::NoVma)?;
    if let Some(m) = pt.translate(va) {
        if pte_permits(m.flags, access) {
            return Ok(false); // spurious: someone else mapped it
        }
        let folio = meta.get(m.pa);
        let mut want_now = cow_pte_flags(vm_flags, want, folio);
        if access == FaultAccess::Write && !want_now.contains(PteFlags::WRITABLE) && m.flags.contains(PteFlags::PRESENT) {
            // A write to a private page fork shared (Linux `do_wp_page`):
            // still shared, copy it (`wp_page_copy`); this mapping holds
            // the only reference left, take it back (`wp_page_reuse`).
            match folio {
                Some(f) if f.page_ref_count() == 1 => {
                    f.set_anon_exclusive(true);
                    want_now = want;
                }
                _ => {
                    wp_page_copy(inner, meta, va, m.pa, vm_flags, want, spare)?;
                    return Ok(false);
                }
            }
        }
        // The vma allows it but the pte does not: bring the pte in line
        // (flushed before the inner lock goes: `want` may also take a
        // right away, e.g. write for exec).
        let want = want_now | (m.flags & PTE_AD_MASK) | fault_ad_bits(access == FaultAccess::Write);
        let mut tlb = MmuGather::tlb_gather_mmu();
        let r = pt.protect(va, want, &mut tlb);
        tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
        r.map_err(|_| FaultError::Access)?;
        return Ok(false);
    }
    if let Some((obj, index)) = shmem {
        shmem_fault(inner, meta, &obj, index, va, vm_flags, cow_pte_flags(vm_flags, want, None), spare)?;
        if access == FaultAccess::Write && !vm_flags.contains(VmFlags::SHARED) {
            // Linux `do_cow_fault`: a write to a private mapping of an
            // object gets a private copy of the object's page.
            let pa = inner.pgtable.as_ref().and_then(|pt| pt.translate(va)).ok_or(FaultError::NoVma)?.pa;
            wp_page_copy(inner, meta, va, pa, vm_flags, want, spare)?;
        }
        return Ok(true);
    }
    // Use the frame the caller allocated (and zeroed) before taking the
    // inner lock, if any, so the lock is held only for the page-table
    // update — as Linux allocates before taking the page-table lock.
    let pa = match spare.take() {
        Some(pa) => pa,
        None => inner.phys.alloc_frame().ok_or(FaultError::OutOfMemory)?,
    };
    let Some(folio) = meta.get(pa) else {
        inner.phys.free_frame(pa);
        return Err(FaultError::OutOfMemory);
    };
    if folio.prep_new_page().is_err() {
        // The frame allocator handed out a frame that is still in use:
        // do not touch it further.
        return Err(FaultError::OutOfMemory);
    }
    if pt.map(va, pa, PageSize::Size4K, want | fault_ad_bits(access == FaultAccess::Write)).is_err() {
        if let Ok(true) = meta.put_page(folio) {
            inner.phys.free_frame(pa);
        }
        return Err(FaultError::OutOfMemory);
    }
    // Nobody sees the pte before the inner lock goes.
    folio_add_new_anon_rmap(meta, folio, vm_flags, anon_index, inner.anon_vma_id);
    inner.rss += 1;
    Ok(true)
}

/// Linux `shmem_fault` and `finish_fault` for a vma that maps a shmem
/// object: map page `index` of `obj` at `va` (no page yet: a zeroed one,
/// the caller's `spare` if it has one, goes into the object), with the
/// protection `want` (read-only in a private vma: a write copies the page,
/// see the caller). The mapping takes its own reference, and counts in
/// the page's `mlock_count` when the vma is `VM_LOCKED`
/// (`mlock_vma_folio`). An index beyond the object (a truncated file, a
/// mapping extended by mremap) is `SigBus`.
///
/// Locking: `mmap_lock` held (read or write), inner lock held (`inner`);
/// takes the object's lock.
#[allow(clippy::too_many_arguments)]
fn shmem_fault<P: PhysMem, T: TlbFlush>(
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    obj: &alloc::sync::Arc<crate::shmem::Shmem>,
    index: u64,
    va: u64,
    vm_flags: VmFlags,
    want: PteFlags,
    spare: &mut Option<u64>,
) -> Result<bool, FaultError> {
    let phys = &inner.phys;
    let (pa, _new) = obj.find_or_add(meta, index, || spare.take().or_else(|| phys.alloc_frame())).map_err(|e| match e {
        Errno::EFAULT => FaultError::SigBus,
        Errno::EAGAIN => FaultError::ShmemSwapped(SwappedShmemPage { obj: obj.clone(), index }),
        _ => FaultError::OutOfMemory,
    })?;
    // find_or_add took the mapping's reference.
    let folio = meta.get(pa).ok_or(FaultError::OutOfMemory)?;
    let Some(pt) = inner.pgtable.as_mut() else {
        let _ = meta.put_page(folio);
        return Err(FaultError::NoVma);
    };
    if pt.map(va, pa, PageSize::Size4K, want).is_err() {
        // Never the last reference: the object holds one.
        let _ = meta.put_page(folio);
        return Err(FaultError::OutOfMemory);
    }
    folio_add_file_rmap_pte(meta, folio, vm_flags);
    inner.rss += 1;
    Ok(true)
}

/// Linux `wp_page_copy`: the page at `va` (frame `old_pa`) is shared with
/// another mapping and this one writes it. Copy it into a new frame (the
/// caller's `spare` if it has one), which gets this vma's mlock state
/// (`folio_add_lru_vma`: mlocked in a `VM_LOCKED` vma), point the pte at
/// the copy with the vma's protection `want`, and drop this mapping of the
/// old page (`munlock_vma_folio` in a `VM_LOCKED` vma, then its reference;
/// freed after the flush if that was the last one). rss is unchanged.
///
/// Locking: `mmap_lock` held (read or write), inner lock held (`inner`).
fn wp_page_copy<P: PhysMem, T: TlbFlush>(
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    va: u64,
    old_pa: u64,
    vm_flags: VmFlags,
    want: PteFlags,
    spare: &mut Option<u64>,
) -> Result<(), FaultError> {
    let new_pa = match spare.take() {
        Some(pa) => pa,
        None => inner.phys.alloc_frame().ok_or(FaultError::OutOfMemory)?,
    };
    let (Some(new), Some(old)) = (meta.get(new_pa), meta.get(old_pa)) else {
        inner.phys.free_frame(new_pa);
        return Err(FaultError::OutOfMemory);
    };
    if new.prep_new_page().is_err() {
        return Err(FaultError::OutOfMemory);
    }
    inner.phys.copy_frame(new_pa, old_pa);
    // The copy lives at the old page's place in the anon_vma.
    // A copy of an anonymous page keeps its linear index; a private copy
    // of an object's page takes the vma's (it is anonymous from now on).
    let index = if old.is_anon() { old.index() } else { inner.vmas.vma_lookup(va).map_or(0, |v| v.linear_page_index(va)) };
    let Some(pt) = inner.pgtable.as_mut() else {
        if let Ok(true) = meta.put_page(new) {
            inner.phys.free_frame(new_pa);
        }
        return Err(FaultError::NoVma);
    };
    let mut tlb = MmuGather::tlb_gather_mmu();
    if pt.replace(va, new_pa, want | fault_ad_bits(true), &mut tlb).is_err() {
        tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
        if let Ok(true) = meta.put_page(new) {
            inner.phys.free_frame(new_pa);
        }
        return Err(FaultError::Access);
    }
    folio_add_new_anon_rmap(meta, new, vm_flags, index, inner.anon_vma_id);
    folio_remove_rmap_pte(meta, old, vm_flags);
    if let Ok(true) = meta.put_page(old) {
        tlb.tlb_remove_page(old_pa);
    }
    tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
    Ok(())
}
