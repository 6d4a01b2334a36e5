//! The mmap family (Linux `mm/mmap.c`): `do_mmap` of anonymous memory,
//! `do_mmap_object` of a memory object (a file's page cache, a SysV
//! segment), `do_munmap`, `do_brk`, `exit_mmap`, and
//! `install_special_mapping`.
//! mprotect, madvise, mincore and msync have their own modules, as in
//! Linux; the system calls' constants live in [`crate::mman`] and are
//! re-exported here.
//!
//! Errors follow Linux to the errno (checks in Linux's order where it
//! matters). Deviations, on purpose:
//! - `do_mmap` without `MAP_ANONYMOUS` is `EBADF` (Linux's answer for fd
//!   -1): the kernel's syscall layer looks descriptors up itself and maps
//!   a file's object with `do_mmap_object` (or answers `ENODEV`);
//! - no zero page;
//! - a shared anonymous mapping (`MAP_SHARED | MAP_ANONYMOUS`) is backed
//!   by a shmem object sized to it, as Linux's `shmem_zero_setup` does
//!   ([`crate::shmem`]): every vma mapping it, in this address space and
//!   in those forked from it, holds the object and its page offset, faults
//!   find or add the page there (mapped writable if the vma is, never
//!   copied on write), and the pages are freed when the last such vma
//!   goes. A fault beyond the object (the part of a mapping that mremap
//!   grew) is `SIGBUS`, as Linux;
//! - no stack guard gap and no `VM_ACCOUNT`.
//!
//! Population after mmap/brk (`MAP_POPULATE`, `MAP_LOCKED`, `MCL_FUTURE`)
//! follows the active population strategy ([`crate::populate`]); in the
//! default (Linux 3.9+) shape it happens after the write lock is dropped,
//! errors ignored.
//!
//! Locking: every entry point takes `mmap_lock` for write itself, and the
//! inner lock inside it.

use crate::addr::{page_align_down, page_align_up, page_aligned, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE};
use crate::errno::Errno;
use crate::gup::OnError;
use crate::memory::{release_unmapped_shmem, teardown, zap_page_range};
use crate::mm_struct::{MlockCreds, MmInner, MmStruct, MmapWriteLocked, MMAP_BASE, MMAP_MIN_ADDR};
use crate::mmu_gather::MmuGather;
use crate::page_meta::PageMetaArray;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::vma::{max_map_count, VmFlags, Vma, VmaTree};

pub use crate::mman::*;

/// What [`MmStruct::do_mmap_object`] maps: an object from a page offset
/// (Linux's `vm_file` and `vm_pgoff`).
#[derive(Clone, Debug)]
pub struct MmapBacking {
    /// The object.
    pub obj: alloc::sync::Arc<crate::shmem::Shmem>,
    /// The page of the object the mapping starts at.
    pub pgoff: u64,
    /// May a shared mapping of it ever be writable (the file is open for
    /// writing)?
    pub may_write: bool,
}

/// Linux `mlock_future_ok`: may `bytes` more of `VM_LOCKED` memory (if
/// `flags` has it) be added to an mm with `locked_vm` pages locked?
pub fn mlock_future_ok(locked_vm: u64, flags: VmFlags, bytes: u64, creds: &MlockCreds) -> bool {
    if !flags.contains(VmFlags::LOCKED) || creds.cap_ipc_lock {
        return true;
    }
    let locked = (bytes >> PAGE_SHIFT).saturating_add(locked_vm);
    locked <= creds.limit_pages()
}

/// Remove `[start, end)` (page aligned) from the address space: vmas,
/// pages, counters — one TLB flush round for the lot, before any frame is
/// freed.
///
/// Locking: `mmap_lock` held for write, inner lock held.
pub(crate) fn do_munmap_locked<P: PhysMem, T: TlbFlush>(
    locked: &MmapWriteLocked<'_>,
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    start: u64,
    end: u64,
) -> Result<(), Errno> {
    let mut tlb = MmuGather::tlb_gather_mmu();
    let r = unmap_region(locked, inner, meta, &mut tlb, start, end);
    tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
    r
}

/// [`do_munmap_locked`] into the caller's gather (Linux `do_vmi_munmap`
/// with the `unmap_region` it ends in), for an operation that unmaps more
/// than one range (mremap): pages and emptied tables go to `tlb`; an
/// error (`ENOMEM`: a split beyond `vm.max_map_count`) comes before
/// anything was unmapped.
///
/// Locking: `mmap_lock` held for write, inner lock held.
pub(crate) fn unmap_region<P: PhysMem, T: TlbFlush>(
    locked: &MmapWriteLocked<'_>,
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    tlb: &mut MmuGather,
    start: u64,
    end: u64,
) -> Result<(), Errno> {
    let removed = inner.vmas.unmap_range(start, end)?;
    for piece in removed {
        zap_page_range(locked.as_locked(), inner, meta, tlb, piece.start, piece.end, piece.flags);
        release_unmapped_shmem(inner, meta, tlb, &piece);
        inner.total_vm = inner.total_vm.saturating_sub(piece.pages());
        if piece.flags.contains(VmFlags::LOCKED) {
            inner.locked_vm = inner.locked_vm.saturating_sub(piece.pages());
        }
    }
    Ok(())
}

/// Linux `round_hint_to_min`.
fn round_hint_to_min(hint: u64) -> u64 {
    let hint = page_align_down(hint);
    if hint != 0 && hint < MMAP_MIN_ADDR {
        MMAP_MIN_ADDR
    } else {
        hint
    }
}

/// Top-down search: the hint if free, else below `MMAP_BASE` above
/// `MMAP_MIN_ADDR`, else above `MMAP_BASE` (Linux falls back bottom-up).
fn find_free_area(vmas: &VmaTree, len: u64, hint: u64) -> Option<u64> {
    if hint != 0 && hint <= TASK_SIZE - len && vmas.find_vma_intersection(hint, hint + len).is_none() {
        return Some(hint);
    }
    vmas.get_unmapped_area(len, 0, PAGE_SIZE, MMAP_MIN_ADDR, MMAP_BASE)
        .or_else(|| vmas.get_unmapped_area(len, 0, PAGE_SIZE, MMAP_BASE, TASK_SIZE))
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `mmap` (anonymous only) -> the mapped address.
    ///
    /// Errors, in order: `EBADF` without `MAP_ANONYMOUS`; `EINVAL` len 0;
    /// `ENOMEM` len rounds past 2^64 or exceeds `TASK_SIZE` (unknown prot
    /// bits are ignored, as in Linux); `MAP_FIXED`(`_NOREPLACE`): `ENOMEM` beyond
    /// `TASK_SIZE`, `EINVAL` unaligned, `EPERM` below `mmap_min_addr`;
    /// `EINTR` (killable lock); `ENOMEM` no room; `EEXIST`
    /// (`MAP_FIXED_NOREPLACE` overlap); `EPERM` `MAP_LOCKED` without
    /// `can_do_mlock`; `EAGAIN` locked (`MAP_LOCKED` or `MCL_FUTURE`) over
    /// `RLIMIT_MEMLOCK`; `EINVAL` map type not exactly `MAP_SHARED` or
    /// `MAP_PRIVATE` (Linux refuses `MAP_SHARED_VALIDATE` for anonymous
    /// memory too), or `MAP_SHARED | MAP_GROWSDOWN`.
    ///
    /// `MAP_FIXED` replaces what was there (pages freed, munlocked).
    /// Populates (errors ignored) when the new vma is `VM_LOCKED` or for
    /// `MAP_POPULATE` without `MAP_NONBLOCK`.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn do_mmap(&self, addr: u64, len: u64, prot: u64, flags: u64, creds: &MlockCreds) -> Result<u64, Errno> {
        if flags & MAP_ANONYMOUS == 0 {
            return Err(Errno::EBADF);
        }
        self.mmap_region(addr, len, prot, flags, None, creds)
    }

    /// `do_mmap` of an existing memory object (a tmpfs file, a SysV
    /// segment, a memfd): `[addr, addr + len)` maps the object from page
    /// `backing.pgoff` on. `flags` are the mmap flags (`MAP_ANONYMOUS` is
    /// ignored); `MAP_SHARED` shares the object's pages, `MAP_PRIVATE`
    /// maps them copy-on-write. Without `backing.may_write` the vma never
    /// gets `VM_MAYWRITE` (Linux: a shared mapping of a file not open for
    /// writing), so it cannot be made writable later; nor does one of an
    /// object sealed with `F_SEAL_WRITE` or `F_SEAL_FUTURE_WRITE`, which
    /// is `EPERM` if `prot` asks for writing ([`crate::shmem::seals`]).
    /// The caller checked the file's mode against `prot`; other errors as
    /// [`MmStruct::do_mmap`].
    ///
    /// Locking: takes `mmap_lock` for write, then the object's seal lock
    /// inside the inner lock until the vma is in the tree.
    pub fn do_mmap_object(
        &self,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        backing: MmapBacking,
        creds: &MlockCreds,
    ) -> Result<u64, Errno> {
        self.mmap_region(addr, len, prot, flags & !MAP_ANONYMOUS, Some(backing), creds)
    }

    /// The body of `do_mmap` and `do_mmap_object` (Linux `do_mmap` with
    /// `mmap_region`): anonymous memory when `backing` is `None`.
    fn mmap_region(
        &self,
        addr: u64,
        len: u64,
        prot: u64,
        flags: u64,
        backing: Option<MmapBacking>,
        creds: &MlockCreds,
    ) -> Result<u64, Errno> {
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let mut flags = flags;
        if flags & MAP_FIXED_NOREPLACE != 0 {
            flags |= MAP_FIXED;
        }
        let fixed = flags & MAP_FIXED != 0;
        // Unknown prot bits are ignored, as Linux's calc_vm_prot_bits does
        // (only mprotect refuses them).
        let len = page_align_up(len).ok_or(Errno::ENOMEM)?;
        if len > TASK_SIZE - MMAP_MIN_ADDR {
            return Err(Errno::ENOMEM);
        }
        if fixed {
            if addr > TASK_SIZE - len {
                return Err(Errno::ENOMEM);
            }
            if !page_aligned(addr) {
                return Err(Errno::EINVAL);
            }
            if addr < MMAP_MIN_ADDR {
                return Err(Errno::EPERM);
            }
        }
        let hint = if fixed { addr } else { round_hint_to_min(addr) };

        let write = self.mmap_lock.write_killable()?;
        let meta = self.page_meta_arc().clone();
        let populate;
        let start;
        let mut shmem_obj = None;
        {
            let locked = self.mmap_write_locked(&write);
            let mut g = self.lock_inner();
            let inner = &mut *g;
            if inner.pgtable.is_none() {
                return Err(Errno::ENOMEM);
            }
            // Too many mappings? (Linux: above the limit, not at it.)
            if inner.vmas.len() > max_map_count() {
                return Err(Errno::ENOMEM);
            }
            start = if fixed { hint } else { find_free_area(&inner.vmas, len, hint).ok_or(Errno::ENOMEM)? };
            let end = start + len;
            if flags & MAP_FIXED_NOREPLACE != 0 && inner.vmas.find_vma_intersection(start, end).is_some() {
                return Err(Errno::EEXIST);
            }
            let mut vm_flags = calc_vm_prot_bits(prot) | inner.def_flags | VmFlags::MAYREAD | VmFlags::MAYWRITE | VmFlags::MAYEXEC;
            if backing.as_ref().is_some_and(|b| !b.may_write) && flags & MAP_TYPE != MAP_PRIVATE {
                vm_flags -= VmFlags::MAYWRITE;
            }
            if flags & MAP_GROWSDOWN != 0 {
                vm_flags |= VmFlags::GROWSDOWN;
            }
            if flags & MAP_LOCKED != 0 {
                if !crate::mlock::can_do_mlock(creds) {
                    return Err(Errno::EPERM);
                }
                vm_flags |= VmFlags::LOCKED;
            }
            if !mlock_future_ok(inner.locked_vm, vm_flags, len, creds) {
                return Err(Errno::EAGAIN);
            }
            match flags & MAP_TYPE {
                MAP_SHARED => {
                    if vm_flags.contains(VmFlags::GROWSDOWN) {
                        return Err(Errno::EINVAL);
                    }
                    vm_flags |= VmFlags::SHARED | VmFlags::MAYSHARE;
                }
                MAP_PRIVATE => {}
                _ => return Err(Errno::EINVAL),
            }
            // Linux `memfd_check_seals_mmap`: the object's write seals
            // decide, under its seal lock held until the vma is in the
            // tree (it counts there if it may write: `F_SEAL_WRITE`
            // excludes it or sees it).
            let sealed_obj = backing.as_ref().map(|b| b.obj.clone());
            let seals = sealed_obj.as_ref().map(|o| o.seals_lock());
            if let Some(s) = &seals {
                vm_flags = crate::shmem::Shmem::mmap_seal_flags(**s, vm_flags)?;
            }
            if fixed {
                do_munmap_locked(&locked, inner, &meta, start, end)?;
            }
            let vma = match backing {
                Some(MmapBacking { obj, pgoff, .. }) => {
                    shmem_obj = Some(obj.clone());
                    Vma::new_object(start, end, vm_flags, obj, pgoff)
                }
                None if vm_flags.contains(VmFlags::SHARED) => {
                    // Linux `shmem_zero_setup`: an object sized to the mapping.
                    let obj = alloc::sync::Arc::new(crate::shmem::Shmem::new(len >> PAGE_SHIFT)?);
                    shmem_obj = Some(obj.clone());
                    Vma::new_shmem(start, end, vm_flags, obj)
                }
                None => Vma::new_anonymous(start, end, vm_flags),
            };
            inner.vmas.insert(vma).map_err(|_| Errno::ENOMEM)?;
            drop(seals);
            inner.vmas.merge_at(end);
            inner.vmas.merge_at(start);
            inner.total_vm += len >> PAGE_SHIFT;
            if vm_flags.contains(VmFlags::LOCKED) {
                inner.locked_vm += len >> PAGE_SHIFT;
            }
            populate = vm_flags.contains(VmFlags::LOCKED) || flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE;
        }
        if let Some(obj) = shmem_obj {
            // Join the object's rmap list (no inner lock held).
            if let Err(e) = crate::rmap::link_shmem(self, &obj) {
                let locked = self.mmap_write_locked(&write);
                let mut g = self.lock_inner();
                let _ = do_munmap_locked(&locked, &mut g, &meta, start, start + len);
                return Err(e);
            }
        }
        if populate {
            let _ = self.populate_after_write(write, start, len, OnError::Skip);
        }
        Ok(start)
    }

    /// Install a special (`VM_IO | VM_PFNMAP | VM_DONTEXPAND`) vma without
    /// pages at the free, page-aligned range `[addr, addr + len)`: a stand-in
    /// for device mappings (mlock skips such vmas, faults in them fail).
    /// Errors: `EINVAL` bad range, `EEXIST` overlap, `EINTR`.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn install_special_mapping(&self, addr: u64, len: u64, prot: u64) -> Result<(), Errno> {
        if len == 0 || !page_aligned(addr) || !page_aligned(len) || addr < MMAP_MIN_ADDR || len > TASK_SIZE || addr > TASK_SIZE - len {
            return Err(Errno::EINVAL);
        }
        let _w = self.mmap_lock.write_killable()?;
        let mut g = self.lock_inner();
        let flags = calc_vm_prot_bits(prot) | VmFlags::IO | VmFlags::PFNMAP | VmFlags::DONTEXPAND | VmFlags::MAYREAD | VmFlags::MAYWRITE;
        g.vmas.insert(Vma::new_anonymous(addr, addr + len, flags))?;
        g.total_vm += len >> PAGE_SHIFT;
        Ok(())
    }

    /// Linux `munmap`. Errors: `EINVAL` unaligned `addr`, `len` 0 or the
    /// range beyond `TASK_SIZE`; `EINTR`. Unmapping nothing succeeds.
    /// Locked pages are munlocked and freed; `locked_vm`/`total_vm` drop.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn do_munmap(&self, addr: u64, len: u64) -> Result<(), Errno> {
        if !page_aligned(addr) || addr > TASK_SIZE || len > TASK_SIZE - addr {
            return Err(Errno::EINVAL);
        }
        let len = page_align_up(len).ok_or(Errno::EINVAL)?;
        if len == 0 {
            return Err(Errno::EINVAL);
        }
        let write = self.mmap_lock.write_killable()?;
        let locked = self.mmap_write_locked(&write);
        let meta = self.page_meta_arc().clone();
        let mut g = self.lock_inner();
        do_munmap_locked(&locked, &mut g, &meta, addr, (addr + len).min(TASK_SIZE))
    }

    /// Linux `brk`: returns the new break, or the current one if the
    /// request fails (no heap set up with
    /// [`set_brk_base`](MmStruct::set_brk_base), below `start_brk`,
    /// collides with a mapping, over
    /// `RLIMIT_MEMLOCK` under `MCL_FUTURE`, no memory) — Linux semantics.
    /// Growth under `MCL_FUTURE` is `VM_LOCKED` and populated (errors
    /// ignored); shrinking unmaps (and munlocks). A fatal signal while
    /// waiting for the lock returns the current break (Linux: `-EINTR`;
    /// the task is dying either way).
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn do_brk(&self, brk: u64, creds: &MlockCreds) -> u64 {
        let Ok(write) = self.mmap_lock.write_killable() else { return self.brk_range().1 };
        let meta = self.page_meta_arc().clone();
        let (oldbrk, newbrk);
        {
            let locked = self.mmap_write_locked(&write);
            let mut g = self.lock_inner();
            let inner = &mut *g;
            let origbrk = inner.brk;
            if inner.start_brk == 0 || brk < inner.start_brk || brk >= TASK_SIZE || inner.pgtable.is_none() {
                return origbrk;
            }
            let Some(nb) = page_align_up(brk) else { return origbrk };
            let Some(ob) = page_align_up(inner.brk) else { return origbrk };
            (oldbrk, newbrk) = (ob, nb);
            if oldbrk == newbrk {
                inner.brk = brk;
                return brk;
            }
            if brk <= inner.brk {
                return match do_munmap_locked(&locked, inner, &meta, newbrk, oldbrk) {
                    Ok(()) => {
                        inner.brk = brk;
                        brk
                    }
                    Err(_) => origbrk,
                };
            }
            if newbrk.saturating_add(PAGE_SIZE) > TASK_SIZE || inner.vmas.find_vma_intersection(oldbrk, newbrk + PAGE_SIZE).is_some() {
                return origbrk;
            }
            let flags = VmFlags::READ | VmFlags::WRITE | VmFlags::MAYREAD | VmFlags::MAYWRITE | VmFlags::MAYEXEC | inner.def_flags;
            let len = newbrk - oldbrk;
            if !mlock_future_ok(inner.locked_vm, flags, len, creds) || inner.vmas.len() > max_map_count() {
                return origbrk;
            }
            if inner.vmas.insert(Vma::new_anonymous(oldbrk, newbrk, flags)).is_err() {
                return origbrk;
            }
            inner.vmas.merge_at(oldbrk);
            inner.total_vm += len >> PAGE_SHIFT;
            if flags.contains(VmFlags::LOCKED) {
                inner.locked_vm += len >> PAGE_SHIFT;
            }
            inner.brk = brk;
            if !flags.contains(VmFlags::LOCKED) {
                return brk;
            }
        }
        let _ = self.populate_after_write(write, oldbrk, newbrk - oldbrk, OnError::Skip);
        brk
    }

    /// Linux `exit_mmap`: unmap everything, free every data frame (munlocking
    /// mlocked pages first) and every page-table frame including the root;
    /// counters go to zero. Afterwards the mm has no page table: faults fail
    /// and `do_mmap` returns `ENOMEM`.
    ///
    /// Locking: takes `mmap_lock` for write (uninterruptibly).
    pub fn exit_mmap(&self) {
        let write = self.mmap_lock.write();
        let locked = self.mmap_write_locked(&write);
        let meta = self.page_meta_arc().clone();
        let mut g = self.lock_inner();
        teardown(&locked, &mut g, &meta);
        self.exited.store(true, core::sync::atomic::Ordering::Release);
    }
}
