//! `mremap` for anonymous memory (Linux `mm/mremap.c`): shrink, grow in
//! place, or move (the page-table entries move, the frames stay, mlocked
//! pages stay mlocked), with `MREMAP_MAYMOVE`, `MREMAP_FIXED` and
//! `MREMAP_DONTUNMAP`. musl's `realloc` relies on it for large blocks.
//!
//! Errors follow Linux: `EINVAL` bad flags / unaligned `addr` / new length
//! 0 / bad or overlapping fixed target / `old_len == 0` on private memory;
//! `EFAULT` no vma at `addr`, old range beyond its vma, growing a special
//! vma; `EAGAIN` growth of a `VM_LOCKED` vma over `RLIMIT_MEMLOCK`;
//! `ENOMEM` cannot grow in place and may not move, or no room; `EPERM`
//! fixed target below `mmap_min_addr`; `EINTR`.
//!
//! A shared anonymous vma keeps its shmem object and page offsets when it
//! moves or grows (see [`crate::shmem`]); its growth lies beyond the
//! object, where faults fail (Linux: `SIGBUS`). `old_len == 0` on a
//! shared mapping with `MREMAP_MAYMOVE` maps the same shmem pages a second
//! time, from `addr`'s offset on, and unmaps nothing (Linux's "duplicate
//! shm area"); on private memory it is `EINVAL`.
//!
//! Growth of a `VM_LOCKED` vma is populated afterwards (errors ignored),
//! through [`MmStruct::populate_after_write`] like mmap.
//!
//! Everything one mremap unmaps — the target of `MREMAP_FIXED`, the tail
//! of a shrink, the old ptes of a move — is flushed from the TLBs in one
//! round (one [`MmuGather`]) before any frame or page table is freed.
//!
//! Locking: takes `mmap_lock` for write, the inner lock inside.

use crate::addr::{page_align_wrapping, page_aligned, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE};
use crate::errno::Errno;
use crate::gup::OnError;
use crate::memory::{for_each_present_pte, for_each_swap_pte};
use crate::mm_struct::{MlockCreds, MmInner, MmStruct, MmapWriteLocked, MMAP_BASE, MMAP_MIN_ADDR};
use crate::mmap::{mlock_future_ok, unmap_region};
use crate::mmu_gather::MmuGather;
use crate::page_meta::PageMetaArray;
use crate::pgtable::{PageSize, PageTable, PhysMem, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::vma::{VmFlags, Vma};

pub const MREMAP_MAYMOVE: u64 = 1;
pub const MREMAP_FIXED: u64 = 2;
pub const MREMAP_DONTUNMAP: u64 = 4;

/// What [`move_vma`] leaves at the old range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OldRange {
    /// Unmapped (a plain move).
    Unmap,
    /// Left mapped, empty and unlocked (`MREMAP_DONTUNMAP`).
    KeepEmpty,
}

/// What a successful remap returns: the address, and a range to populate
/// after the vma work (growth of a locked vma).
type Remapped = (u64, Option<(u64, u64)>);

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `mremap(addr, old_len, new_len, flags, new_addr)` -> the
    /// (possibly new) address. See the module documentation.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn do_mremap(&self, addr: u64, old_len: u64, new_len: u64, flags: u64, new_addr: u64, creds: &MlockCreds) -> Result<u64, Errno> {
        if flags & !(MREMAP_FIXED | MREMAP_MAYMOVE | MREMAP_DONTUNMAP) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & MREMAP_FIXED != 0 && flags & MREMAP_MAYMOVE == 0 {
            return Err(Errno::EINVAL);
        }
        if !page_aligned(addr) {
            return Err(Errno::EINVAL);
        }
        let old_len = page_align_wrapping(old_len);
        let new_len = page_align_wrapping(new_len);
        // Linux's check_mremap_params: every argument check (EINVAL) comes
        // before the old range is looked up (EFAULT).
        if new_len == 0 || new_len > TASK_SIZE {
            return Err(Errno::EINVAL);
        }
        if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
            if new_addr > TASK_SIZE - new_len || !page_aligned(new_addr) {
                return Err(Errno::EINVAL);
            }
            if flags & MREMAP_MAYMOVE == 0 || (flags & MREMAP_DONTUNMAP != 0 && old_len != new_len) {
                return Err(Errno::EINVAL);
            }
            if flags & MREMAP_FIXED != 0 && addr.saturating_add(old_len) > new_addr && new_addr + new_len > addr {
                return Err(Errno::EINVAL);
            }
        }
        let write = self.mmap_lock.write_killable()?;
        let meta = self.page_meta_arc().clone();
        let (ret, populate) = {
            let locked = self.mmap_write_locked(&write);
            let mut g = self.lock_inner();
            let inner = &mut *g;
            // Everything the remap unmaps (target, tail, old ptes) is
            // flushed in one round, before the inner lock is released.
            let mut tlb = MmuGather::tlb_gather_mmu();
            let r = mremap_locked(&locked, inner, &meta, &mut tlb, addr, old_len, new_len, flags, new_addr, creds);
            tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
            r?
        };
        match populate {
            Some((start, len)) => {
                let _ = self.populate_after_write(write, start, len, OnError::Skip);
            }
            None => drop(write),
        }
        Ok(ret)
    }
}

/// The end of the old range a shrink unmaps the tail of. Like munmap
/// (do_vmi_munmap), a range reaching past `TASK_SIZE` is `EINVAL` as a
/// whole; it is never clipped, which would unmap everything above `addr`.
fn shrink_end(addr: u64, old_len: u64) -> Result<u64, Errno> {
    addr.checked_add(old_len).filter(|&end| end <= TASK_SIZE).ok_or(Errno::EINVAL)
}

/// Linux `vma_to_resize`: the vma at `addr` and the checks for resizing
/// `[addr, addr + old_len)` to `new_len`.
fn vma_to_resize<P: PhysMem, T: TlbFlush>(
    inner: &MmInner<P, T>,
    addr: u64,
    old_len: u64,
    new_len: u64,
    creds: &MlockCreds,
) -> Result<Vma, Errno> {
    let vma = inner.vmas.vma_lookup(addr).cloned().ok_or(Errno::EFAULT)?;
    if old_len > vma.end - addr {
        return Err(Errno::EFAULT);
    }
    if old_len == 0 && !vma.flags.intersects(VmFlags::SHARED | VmFlags::MAYSHARE) {
        // Only a shared mapping can be duplicated (Linux's "duplicate shm
        // area" case): a new vma mapping the same object's pages.
        return Err(Errno::EINVAL);
    }
    if new_len == old_len {
        return Ok(vma);
    }
    if vma.flags.intersects(VmFlags::DONTEXPAND | VmFlags::PFNMAP) && new_len > old_len {
        return Err(Errno::EFAULT);
    }
    if new_len > old_len && !mlock_future_ok(inner.locked_vm, vma.flags, new_len - old_len, creds) {
        return Err(Errno::EAGAIN);
    }
    Ok(vma)
}

/// The body of `do_mremap`; what it unmaps goes to `tlb`.
///
/// Locking: `mmap_lock` held for write, inner lock held.
#[allow(clippy::too_many_arguments)]
fn mremap_locked<P: PhysMem, T: TlbFlush>(
    locked: &MmapWriteLocked<'_>,
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    tlb: &mut MmuGather,
    addr: u64,
    mut old_len: u64,
    new_len: u64,
    flags: u64,
    new_addr: u64,
    creds: &MlockCreds,
) -> Result<Remapped, Errno> {
    inner.vmas.vma_lookup(addr).ok_or(Errno::EFAULT)?;
    if flags & (MREMAP_FIXED | MREMAP_DONTUNMAP) != 0 {
        // Linux `mremap_to`.
        let target = if flags & MREMAP_FIXED != 0 {
            if !page_aligned(new_addr) || new_len > TASK_SIZE || new_addr > TASK_SIZE - new_len {
                return Err(Errno::EINVAL);
            }
            if addr.saturating_add(old_len) > new_addr && new_addr + new_len > addr {
                return Err(Errno::EINVAL);
            }
            if new_addr < MMAP_MIN_ADDR {
                return Err(Errno::EPERM);
            }
            unmap_region(locked, inner, meta, tlb, new_addr, new_addr + new_len)?;
            if old_len > new_len {
                unmap_region(locked, inner, meta, tlb, addr + new_len, shrink_end(addr, old_len)?)?;
                old_len = new_len;
            }
            Some(new_addr)
        } else {
            None
        };
        let vma = vma_to_resize(inner, addr, old_len, new_len, creds)?;
        let target = match target {
            Some(t) => t,
            None => find_area(inner, new_len)?,
        };
        let old_range = if flags & MREMAP_DONTUNMAP != 0 { OldRange::KeepEmpty } else { OldRange::Unmap };
        return move_vma(locked, inner, tlb, &vma, addr, old_len, new_len, target, old_range);
    }
    if old_len >= new_len {
        if old_len != new_len {
            unmap_region(locked, inner, meta, tlb, addr + new_len, shrink_end(addr, old_len)?)?;
        }
        return Ok((addr, None));
    }
    let vma = vma_to_resize(inner, addr, old_len, new_len, creds)?;
    let delta = new_len - old_len;
    if old_len == vma.end - addr {
        let expandable = vma.end.checked_add(delta).is_some_and(|e| e <= TASK_SIZE)
            && inner.vmas.find_vma_intersection(vma.end, vma.end + delta).is_none();
        if expandable {
            inner.vmas.insert(vma.slice(vma.end, vma.end + delta, vma.flags)).map_err(|_| Errno::ENOMEM)?;
            inner.vmas.merge_at(vma.end);
            inner.total_vm += delta >> PAGE_SHIFT;
            if vma.flags.contains(VmFlags::LOCKED) {
                inner.locked_vm += delta >> PAGE_SHIFT;
                return Ok((addr, Some((addr + old_len, delta))));
            }
            return Ok((addr, None));
        }
    }
    if flags & MREMAP_MAYMOVE == 0 {
        return Err(Errno::ENOMEM);
    }
    let target = find_area(inner, new_len)?;
    move_vma(locked, inner, tlb, &vma, addr, old_len, new_len, target, OldRange::Unmap)
}

/// A free area of `len` bytes, top-down as for mmap.
fn find_area<P: PhysMem, T: TlbFlush>(inner: &MmInner<P, T>, len: u64) -> Result<u64, Errno> {
    inner
        .vmas
        .get_unmapped_area(len, 0, PAGE_SIZE, MMAP_MIN_ADDR, MMAP_BASE)
        .or_else(|| inner.vmas.get_unmapped_area(len, 0, PAGE_SIZE, MMAP_BASE, TASK_SIZE))
        .ok_or(Errno::ENOMEM)
}

/// Linux `move_vma`: a vma `[new_addr, new_addr + new_len)` with `vma`'s
/// flags and backing (a shmem vma's offsets follow the pages),
/// the ptes of `[old, old + old_len)` moved into it (frames and their
/// mlock state unchanged), then the old range unmapped — or, with
/// `OldRange::KeepEmpty`, left mapped, empty and unlocked. The old ptes
/// and the tables they leave empty go to `tlb` (the frames stay mapped).
///
/// Locking: `mmap_lock` held for write, inner lock held.
#[allow(clippy::too_many_arguments)]
fn move_vma<P: PhysMem, T: TlbFlush>(
    _locked: &MmapWriteLocked<'_>,
    inner: &mut MmInner<P, T>,
    tlb: &mut MmuGather,
    vma: &Vma,
    old: u64,
    old_len: u64,
    new_len: u64,
    new_addr: u64,
    old_range: OldRange,
) -> Result<Remapped, Errno> {
    // A move may split the old vma twice and adds the new one; Linux keeps
    // three vmas of room below the limit.
    if inner.vmas.len() + 3 >= crate::vma::max_map_count() {
        return Err(Errno::ENOMEM);
    }
    let flags = vma.flags;
    // The same backing at the same offsets (a shmem vma keeps `vm_pgoff`).
    let moved = Vma { start: new_addr, end: new_addr + new_len, ..vma.slice(old, old + new_len, flags) };
    inner.vmas.insert(moved).map_err(|_| Errno::ENOMEM)?;
    let Some(pt) = inner.pgtable.as_mut() else {
        inner.vmas.remove(new_addr);
        return Err(Errno::ENOMEM);
    };
    // Phase 1: map every frame at its new address too (the old range is
    // not changed, so its walk can be resumed batch by batch). Running out
    // of page-table frames is undone by unmapping the new range, which
    // needs no memory.
    let mut failed = false;
    for_each_present_pte(pt, old, old + old_len, |pt, va, pa, f| {
        if !failed && pt.map(new_addr + (va - old), pa, PageSize::Size4K, f).is_err() {
            failed = true;
        }
    });
    // Unmapping keeps the frames (they are mapped twice); only the tables
    // it empties go to `tlb`.
    let (flush, phys) = (&inner.tlb, &inner.phys);
    let mut unmap = |pt: &mut PageTable<P>, va: u64| {
        if tlb.needs_flush() {
            tlb.tlb_flush_mmu(phys, flush);
        }
        let _ = pt.unmap(va, tlb);
    };
    // Swap entries move the same way (their slot counts stay: each entry
    // is still named once).
    for_each_swap_pte(pt, old, old + old_len, |pt, va, e| {
        if !failed && pt.install_swap_pte(new_addr + (va - old), e).is_err() {
            failed = true;
        }
    });
    if failed {
        for_each_present_pte(pt, new_addr, new_addr + old_len.min(new_len), |pt, va, _, _| unmap(pt, va));
        for_each_swap_pte(pt, new_addr, new_addr + old_len.min(new_len), |pt, va, _| {
            let _ = pt.clear_swap_pte(va, tlb);
        });
        inner.vmas.remove(new_addr);
        return Err(Errno::ENOMEM);
    }
    // Phase 2: drop the old entries (the frames now live at the new ones).
    for_each_present_pte(pt, old, old + old_len, |pt, va, _, _| unmap(pt, va));
    for_each_swap_pte(pt, old, old + old_len, |pt, va, _| {
        let _ = pt.clear_swap_pte(va, tlb);
    });
    inner.vmas.merge_at(new_addr + new_len);
    inner.vmas.merge_at(new_addr);
    inner.total_vm += new_len >> PAGE_SHIFT;
    let locked = flags.contains(VmFlags::LOCKED);
    if locked {
        inner.locked_vm += new_len >> PAGE_SHIFT;
    }
    if old_range == OldRange::KeepEmpty {
        // The old range stays mapped but empty, and is no longer locked.
        if locked {
            let changes = inner.vmas.vma_modify_flags(old, old + old_len, |f| f - VmFlags::LOCKED_MASK)?;
            for c in changes {
                inner.locked_vm = inner.locked_vm.saturating_sub(c.pages());
            }
        }
    } else {
        let removed = inner.vmas.unmap_range(old, old + old_len)?;
        for piece in removed {
            inner.total_vm = inner.total_vm.saturating_sub(piece.pages());
            if piece.flags.contains(VmFlags::LOCKED) {
                inner.locked_vm = inner.locked_vm.saturating_sub(piece.pages());
            }
        }
    }
    let populate = (locked && new_len > old_len).then(|| (new_addr + old_len, new_len - old_len));
    Ok((new_addr, populate))
}
