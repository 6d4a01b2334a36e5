//! The mmap family for anonymous memory: `do_mmap`, `do_munmap`,
//! `do_mprotect`, `do_brk`, `madvise`, `mincore`, `msync`, `exit_mmap`
//! (Linux `mm/mmap.c`, `mm/mprotect.c`, `mm/madvise.c`, `mm/mincore.c`,
//! `mm/msync.c`).
//!
//! Errors follow Linux to the errno (checks in Linux's order where it
//! matters). Deviations, on purpose:
//! - only anonymous memory: a mapping without `MAP_ANONYMOUS` is `EBADF`
//!   (Linux's answer for fd -1; the kernel's syscall layer answers for real
//!   file descriptors itself, e.g. `ENODEV`);
//! - unknown `prot` bits in `mmap` are `EINVAL` (Linux ignores them in mmap
//!   and refuses them in mprotect);
//! - no zero page, no copy-on-write, no fork: a shared anonymous mapping
//!   behaves like a private one apart from its flags (`VM_SHARED |
//!   VM_MAYSHARE`, `s` in maps, no write faults during population);
//! - no stack guard gap and no `VM_ACCOUNT`.
//!
//! Population after mmap/brk (`MAP_POPULATE`, `MAP_LOCKED`, `MCL_FUTURE`)
//! follows the active population strategy ([`crate::populate`]); in the
//! default (Linux 3.9+) shape it happens after the write lock is dropped,
//! errors ignored.
//!
//! Locking: every entry point takes `mmap_lock` itself (write for vma
//! changes, read for `madvise`/`mincore`) and the inner lock inside it.

use alloc::vec::Vec;

use crate::addr::{page_align_down, page_align_up, page_align_wrapping, page_aligned, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE};
use crate::errno::Errno;
use crate::mm_struct::{vm_pte_flags, MlockCreds, MmInner, MmStruct, MMAP_BASE, MMAP_MIN_ADDR};
use crate::pagewalk::{walk_page_range_novma, MmWalk, MmWalkOps, WalkControl};
use crate::page_meta::PageMetaArray;
use crate::pgtable::{Level, PageTable, PhysMem, PtSlot, PteFlags, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::vma::{max_map_count, Vma, VmFlags, VmaTree};

pub const PROT_NONE: u64 = 0x0;
pub const PROT_READ: u64 = 0x1;
pub const PROT_WRITE: u64 = 0x2;
pub const PROT_EXEC: u64 = 0x4;
pub const PROT_SEM: u64 = 0x8;
pub const PROT_GROWSDOWN: u64 = 0x0100_0000;
pub const PROT_GROWSUP: u64 = 0x0200_0000;

pub const MAP_SHARED: u64 = 0x01;
pub const MAP_PRIVATE: u64 = 0x02;
pub const MAP_SHARED_VALIDATE: u64 = 0x03;
pub const MAP_TYPE: u64 = 0x0f;
pub const MAP_FIXED: u64 = 0x10;
pub const MAP_ANONYMOUS: u64 = 0x20;
pub const MAP_GROWSDOWN: u64 = 0x0100;
pub const MAP_LOCKED: u64 = 0x2000;
pub const MAP_NORESERVE: u64 = 0x4000;
pub const MAP_POPULATE: u64 = 0x8000;
pub const MAP_NONBLOCK: u64 = 0x1_0000;
pub const MAP_STACK: u64 = 0x2_0000;
pub const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;

pub const MS_ASYNC: i32 = 1;
pub const MS_INVALIDATE: i32 = 2;
pub const MS_SYNC: i32 = 4;

pub const MADV_NORMAL: i32 = 0;
pub const MADV_RANDOM: i32 = 1;
pub const MADV_SEQUENTIAL: i32 = 2;
pub const MADV_WILLNEED: i32 = 3;
pub const MADV_DONTNEED: i32 = 4;
pub const MADV_FREE: i32 = 8;
pub const MADV_REMOVE: i32 = 9;
pub const MADV_DONTFORK: i32 = 10;
pub const MADV_DOFORK: i32 = 11;
pub const MADV_MERGEABLE: i32 = 12;
pub const MADV_UNMERGEABLE: i32 = 13;
pub const MADV_HUGEPAGE: i32 = 14;
pub const MADV_NOHUGEPAGE: i32 = 15;
pub const MADV_DONTDUMP: i32 = 16;
pub const MADV_DODUMP: i32 = 17;
pub const MADV_WIPEONFORK: i32 = 18;
pub const MADV_KEEPONFORK: i32 = 19;
pub const MADV_COLD: i32 = 20;
pub const MADV_PAGEOUT: i32 = 21;
pub const MADV_POPULATE_READ: i32 = 22;
pub const MADV_POPULATE_WRITE: i32 = 23;
pub const MADV_DONTNEED_LOCKED: i32 = 24;
pub const MADV_COLLAPSE: i32 = 25;

/// Linux `calc_vm_prot_bits`.
pub fn calc_vm_prot_bits(prot: u64) -> VmFlags {
    let mut f = VmFlags::empty();
    if prot & PROT_READ != 0 {
        f |= VmFlags::READ;
    }
    if prot & PROT_WRITE != 0 {
        f |= VmFlags::WRITE;
    }
    if prot & PROT_EXEC != 0 {
        f |= VmFlags::EXEC;
    }
    f
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
pub(crate) fn for_each_present_pte<P: PhysMem>(pt: &mut PageTable<P>, start: u64, end: u64, mut f: impl FnMut(&mut PageTable<P>, u64, u64, PteFlags)) {
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

/// Linux `zap_page_range_single` for anonymous memory: unmap every present
/// page of `[start, end)`, which lies in a vma with `vm_flags`; each page's
/// locked mapping goes away (`munlock_vma_folio` when `VM_LOCKED`), its
/// reference is dropped and the frame freed with the last one.
///
/// Locking: `mmap_lock` held (write, or read for madvise), inner lock held.
pub(crate) fn zap_page_range<P: PhysMem, T: TlbFlush>(inner: &mut MmInner<P, T>, meta: &PageMetaArray, start: u64, end: u64, vm_flags: VmFlags) {
    let Some(pt) = inner.pgtable.as_mut() else { return };
    let (tlb, phys, rss) = (&inner.tlb, &inner.phys, &mut inner.rss);
    for_each_present_pte(pt, start, end, |pt, va, _, _| {
        let Ok(m) = pt.unmap(va, tlb) else { return };
        *rss = rss.saturating_sub(1);
        match meta.get(m.pa) {
            Some(folio) => {
                meta.munlock_vma_folio(folio, vm_flags);
                if let Ok(true) = meta.put_page(folio) {
                    phys.free_frame(m.pa);
                }
            }
            None => phys.free_frame(m.pa),
        }
    });
}

/// Remove `[start, end)` (page aligned) from the address space: vmas,
/// pages, counters.
///
/// Locking: `mmap_lock` held for write, inner lock held.
pub(crate) fn do_munmap_locked<P: PhysMem, T: TlbFlush>(inner: &mut MmInner<P, T>, meta: &PageMetaArray, start: u64, end: u64) -> Result<(), Errno> {
    let removed = inner.vmas.unmap_range(start, end)?;
    for piece in removed {
        zap_page_range(inner, meta, piece.start, piece.end, piece.flags);
        inner.total_vm = inner.total_vm.saturating_sub(piece.pages());
        if piece.flags.contains(VmFlags::LOCKED) {
            inner.locked_vm = inner.locked_vm.saturating_sub(piece.pages());
        }
    }
    Ok(())
}

/// Tear everything down (exit_mmap, Drop).
///
/// Locking: exclusive access to the inner state.
pub(crate) fn teardown<P: PhysMem, T: TlbFlush>(inner: &mut MmInner<P, T>, meta: &PageMetaArray) {
    // One vma at a time: exit allocates nothing, so it cannot fail.
    while let Some(v) = inner.vmas.first().cloned() {
        zap_page_range(inner, meta, v.start, v.end, v.flags);
        inner.vmas.remove(v.start);
    }
    inner.vmas = VmaTree::new();
    if let Some(pt) = inner.pgtable.take() {
        pt.free_all_tables();
    }
    inner.tlb.flush_all();
    inner.total_vm = 0;
    inner.locked_vm = 0;
    inner.rss = 0;
    inner.def_flags = VmFlags::empty();
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
    /// Linux `mmap` (anonymous only) -> the mapped address.
    ///
    /// Errors, in order: `EBADF` without `MAP_ANONYMOUS`; `EINVAL` len 0;
    /// `ENOMEM` len rounds past 2^64 or exceeds `TASK_SIZE`; `EINVAL`
    /// unknown prot bits; `MAP_FIXED`(`_NOREPLACE`): `ENOMEM` beyond
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
        {
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
            if fixed {
                do_munmap_locked(inner, &meta, start, end)?;
            }
            inner.vmas.insert(Vma::new_anonymous(start, end, vm_flags)).map_err(|_| Errno::ENOMEM)?;
            inner.vmas.merge_at(end);
            inner.vmas.merge_at(start);
            inner.total_vm += len >> PAGE_SHIFT;
            if vm_flags.contains(VmFlags::LOCKED) {
                inner.locked_vm += len >> PAGE_SHIFT;
            }
            populate = vm_flags.contains(VmFlags::LOCKED) || flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE;
        }
        if populate {
            let _ = self.populate_after_write(write, start, len, true);
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
        let _w = self.mmap_lock.write_killable()?;
        let meta = self.page_meta_arc().clone();
        let mut g = self.lock_inner();
        do_munmap_locked(&mut g, &meta, addr, (addr + len).min(TASK_SIZE))
    }

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
        let _w = self.mmap_lock.write_killable()?;
        let new_prot = calc_vm_prot_bits(prot);
        let mut populate = Vec::new();
        let run_end;
        {
            let mut g = self.lock_inner();
            let inner = &mut *g;
            let Some(first) = inner.vmas.vma_lookup(start) else { return Err(Errno::ENOMEM) };
            if grows & PROT_GROWSDOWN != 0 && !first.flags.contains(VmFlags::GROWSDOWN) {
                return Err(Errno::EINVAL);
            }
            run_end = inner.vmas.mapped_run_end(start, end.min(TASK_SIZE));
            let rwx = VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC;
            let changes = inner.vmas.vma_modify_flags(start, run_end, |old| (old - rwx) | new_prot)?;
            if let Some(pt) = inner.pgtable.as_mut() {
                for c in &changes {
                    let want = vm_pte_flags(c.new);
                    let tlb = &inner.tlb;
                    for_each_present_pte(pt, c.start, c.end, |pt, va, _, _| {
                        let _ = pt.protect(va, want, tlb);
                    });
                    let lockmask = VmFlags::WRITE | VmFlags::SHARED | VmFlags::LOCKED;
                    if c.old.intersection(lockmask) == VmFlags::LOCKED && c.new.contains(VmFlags::WRITE) {
                        populate.push((c.start, c.end));
                    }
                }
            }
        }
        for (s, e) in populate {
            let _ = self.populate_range_held(s, e, true, crate::populate::PopulateLock::Write);
        }
        if run_end < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
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
                return match do_munmap_locked(inner, &meta, newbrk, oldbrk) {
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
        let _ = self.populate_after_write(write, oldbrk, newbrk - oldbrk, true);
        brk
    }

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
        let _r = self.mmap_lock.read_killable()?;
        if matches!(advice, MADV_POPULATE_READ | MADV_POPULATE_WRITE) {
            // Not a walk over the vmas: population goes page by page and
            // stops at the first problem, hole or vma (Linux 6.10+).
            return self.faultin_page_range(start, end, advice == MADV_POPULATE_WRITE);
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
            self.madvise_vma(&meta, &v, ps, pe, advice)?;
            cursor = pe;
        }
        if cursor < end || unmapped {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// One vma's part of `madvise`.
    ///
    /// Locking: `mmap_lock` held for read.
    fn madvise_vma(&self, meta: &PageMetaArray, v: &Vma, start: u64, end: u64, advice: i32) -> Result<(), Errno> {
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
                zap_page_range(&mut g, meta, start, end, v.flags);
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

    /// Linux `msync` for anonymous memory (nothing to write back).
    /// Errors: `EINVAL` unknown flags, `MS_ASYNC | MS_SYNC`, unaligned
    /// `start`; `ENOMEM` length overflow or a hole (after checking the
    /// mapped vmas); `EBUSY` `MS_INVALIDATE` on a `VM_LOCKED` vma; `EINTR`.
    ///
    /// Locking: takes `mmap_lock` for read.
    pub fn msync(&self, start: u64, len: u64, flags: i32) -> Result<(), Errno> {
        if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 {
            return Err(Errno::EINVAL);
        }
        if !page_aligned(start) {
            return Err(Errno::EINVAL);
        }
        if flags & MS_ASYNC != 0 && flags & MS_SYNC != 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_align_wrapping(len);
        let end = start.wrapping_add(len);
        if end < start {
            return Err(Errno::ENOMEM);
        }
        if end == start {
            return Ok(());
        }
        let _r = self.mmap_lock.read_killable()?;
        let g = self.lock_inner();
        let mut cursor = start;
        let mut unmapped = false;
        for v in g.vmas.range(start, end) {
            if v.start > cursor {
                unmapped = true;
            }
            if flags & MS_INVALIDATE != 0 && v.flags.contains(VmFlags::LOCKED) {
                return Err(Errno::EBUSY);
            }
            cursor = v.end;
        }
        if unmapped || cursor < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    /// Linux `do_mincore`: the residency of up to `pages` pages from
    /// `start` (page-aligned), stopping at the end of the vma that contains
    /// `start`; `ENOMEM` if none does. The mincore system call calls it in
    /// a loop, copying each piece out before the next, so that a bad vector
    /// is `EFAULT` and a hole `ENOMEM` in the order they are reached.
    ///
    /// Locking: takes `mmap_lock` for read.
    pub fn do_mincore(&self, start: u64, pages: u64) -> Result<Vec<u8>, Errno> {
        let _r = self.mmap_lock.read_killable()?;
        let g = self.lock_inner();
        let Some(v) = g.vmas.vma_lookup(start) else { return Err(Errno::ENOMEM) };
        let end = v.end.min(start.saturating_add(pages.saturating_mul(PAGE_SIZE)));
        let n = ((end - start) / PAGE_SIZE) as usize;
        let mut out = Vec::new();
        out.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
        let pt = g.pgtable.as_ref();
        out.extend((0..n as u64).map(|i| u8::from(pt.is_some_and(|pt| pt.translate(start + i * PAGE_SIZE).is_some()))));
        Ok(out)
    }

    /// Linux `mincore`: one byte per page of `[start, start + len)`, 1 if
    /// the page is resident (a touched `PROT_NONE` page is: its protnone pte
    /// keeps the frame, as in Linux). Errors: `EINVAL` unaligned `start`; `ENOMEM`
    /// range beyond `TASK_SIZE` or a page not in any vma; `EINTR`.
    ///
    /// Locking: takes `mmap_lock` for read once per vma (`do_mincore`).
    pub fn mincore(&self, start: u64, len: u64) -> Result<Vec<u8>, Errno> {
        if !page_aligned(start) {
            return Err(Errno::EINVAL);
        }
        match start.checked_add(len) {
            Some(end) if end <= TASK_SIZE => {}
            _ => return Err(Errno::ENOMEM),
        }
        // One vma's piece at a time, as the system call does.
        let mut pages = len.div_ceil(PAGE_SIZE);
        let mut out = Vec::new();
        out.try_reserve_exact(pages as usize).map_err(|_| Errno::ENOMEM)?;
        let mut addr = start;
        while pages > 0 {
            let piece = self.do_mincore(addr, pages)?;
            pages -= piece.len() as u64;
            addr += piece.len() as u64 * PAGE_SIZE;
            out.extend_from_slice(&piece);
        }
        Ok(out)
    }

    /// Linux `exit_mmap`: unmap everything, free every data frame (munlocking
    /// mlocked pages first) and every page-table frame including the root;
    /// counters go to zero. Afterwards the mm has no page table: faults fail
    /// and `do_mmap` returns `ENOMEM`.
    ///
    /// Locking: takes `mmap_lock` for write (uninterruptibly).
    pub fn exit_mmap(&self) {
        let _w = self.mmap_lock.write();
        let meta = self.page_meta_arc().clone();
        let mut g = self.lock_inner();
        teardown(&mut g, &meta);
    }
}
