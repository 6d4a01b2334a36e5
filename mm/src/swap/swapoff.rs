//! swapoff's mm part (Linux `try_to_unuse`, `unuse_mm`, `unuse_pte` in
//! `mm/swapfile.c`): bring every page swapped out to one device back into
//! RAM, so that the device can be taken away.
//!
//! [`swapoff`] stops the device taking new slots
//! ([`Swap::swapoff_begin`]), then [`try_to_unuse`] goes over every
//! address space, round after round, until no slot of the device is in
//! use: in each ([`MmStruct::unuse_mm`]) every swap pte naming the device
//! is swapped in as a fault would ([`MmStruct::unuse_pte`]): the slot is
//! read into a fresh frame, which replaces the pte as a new exclusive
//! anonymous page, and the pte's slot count is given back. Then the
//! device leaves the list ([`Swap::swapoff_finish`]). If that cannot be
//! done (no frame, no heap, a read error, a signal), the device takes new
//! slots again ([`Swap::reinsert_swap_info`]) and nothing is lost: every
//! page is either back in RAM or still in its slot, named by its pte.
//!
//! Shmem objects' indexes hold swap entries too: each round also goes over
//! every shmem object there is ([`Shmem::shmem_unuse`](crate::shmem::Shmem::shmem_unuse)) and swaps in its
//! pages on the device.
//!
//! Holdfast has no swap cache: a slot that several address spaces share
//! after fork is read once per pte, and each gets its own copy of the
//! page (Linux maps the one swap-cache page into all of them). Swapping
//! off may therefore take more memory than was swapped out.
//!
//! More rounds are needed when entries move while a round runs: fork
//! copying swap ptes into an address space the round already went over,
//! or reclaim that took a slot before the device stopped taking them and
//! makes its ptes swap entries afterwards (its own count on the slot keeps
//! the slot in use until then).
//!
//! # Invariants
//!
//! - While the device is being swapped off no slot of it is handed out,
//!   so its slots in use only decrease, except through fork's duplicates
//!   of entries that already exist.
//! - A page is mapped in place of a swap pte only if the pte still holds
//!   that entry under the inner lock (as [`crate::fault`]'s swap-in).
//!
//! # Locking
//!
//! As `do_swap_page`: [`MmStruct::unuse_mm`] holds the mm's `mmap_lock`
//! for read (so no vma changes, and no `mlock_vma_pages_range` window is
//! open), collects the swap ptes of one page table under the inner lock,
//! then reads each slot with no inner lock held and takes the inner lock
//! again to map it. No mm lock is held across device I/O but `mmap_lock`
//! for read, as in a fault. [`try_to_unuse`] holds no lock between
//! address spaces.

use alloc::vec::Vec;

use super::swap_state::pte_to_swp_entry;
use super::swapfile::SwapInfo;
use crate::addr::PAGE_SIZE;
use crate::errno::Errno;
use crate::fault::{map_swapped_in, FaultError};
use crate::memory::for_each_swap_pte;
use crate::mm_struct::{vm_pte_flags, MmStruct, MmapLocked};
use crate::page_meta::PageMetaArray;
use crate::pgtable::{PhysMem, PtEntry, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::shmem::swap::shmem_objects;
use crate::swap::SwapReadError;

/// The span of one page table (ptes collected per batch).
const PMD_SIZE: u64 = 512 * PAGE_SIZE;

/// Linux `swapoff` once the device is known: stop device `type_` taking
/// slots, swap in every page on it ([`try_to_unuse`], with
/// `each_round`), and take it off the list; returns it.
///
/// Errors: `EINVAL` when no such device is on or it is being swapped off
/// already; those of [`try_to_unuse`], after which the device takes slots
/// again.
/// Locking: no mm lock held.
pub fn swapoff<P, B, T>(
    meta: &PageMetaArray,
    phys: &P,
    type_: u8,
    each_round: impl FnMut(&mut dyn FnMut(&MmStruct<P, B, T>) -> Result<(), Errno>) -> Result<(), Errno>,
) -> Result<alloc::sync::Arc<SwapInfo>, Errno>
where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    let swap = meta.swap();
    let si = swap.swapoff_begin(type_)?;
    let r = try_to_unuse(meta, phys, &si, each_round).and_then(|()| swap.swapoff_finish(type_));
    if r.is_err() {
        swap.reinsert_swap_info(&si);
    }
    r
}

/// Linux `try_to_unuse`: until no slot of `si` is in use, call
/// `each_round` with a visitor that it calls on every address space
/// there is (it may also wait between rounds, and end them with `EINTR`
/// when a signal is pending); the visitor swaps in every page of the
/// device that address space has ([`MmStruct::unuse_mm`]). Then every
/// shmem object `meta` knows swaps in its pages on the device
/// ([`Shmem::shmem_unuse`](crate::shmem::Shmem::shmem_unuse)), with frames from `phys`.
///
/// Errors: `ENOMEM` (no frame or heap), `EIO` (a slot could not be read),
/// or what `each_round` returns.
/// Locking: no mm lock held.
pub fn try_to_unuse<P, B, T>(
    meta: &PageMetaArray,
    phys: &P,
    si: &SwapInfo,
    mut each_round: impl FnMut(&mut dyn FnMut(&MmStruct<P, B, T>) -> Result<(), Errno>) -> Result<(), Errno>,
) -> Result<(), Errno>
where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    while si.inuse_pages() != 0 {
        each_round(&mut |mm| mm.unuse_mm(si).map(|_| ()))?;
        for obj in shmem_objects(meta)? {
            obj.shmem_unuse(meta, phys, si.type_())?;
        }
    }
    Ok(())
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `unuse_mm`: swap in every page of this address space that is
    /// swapped out to `si`; returns how many.
    ///
    /// Errors: `ENOMEM`, `EIO` (see [`unuse_pte`](Self::unuse_pte)),
    /// `EINTR` (a fatal signal while waiting for `mmap_lock`). The pages
    /// swapped in before stay in.
    /// Locking: no lock of this mm held; takes `mmap_lock` for read, and
    /// the inner lock around each page table's lookup and each mapping.
    pub fn unuse_mm(&self, si: &SwapInfo) -> Result<u64, Errno> {
        if self.lock_inner().swap_ents == 0 {
            return Ok(0);
        }
        let read = self.mmap_lock.read_killable().map_err(|_| Errno::EINTR)?;
        let held = self.mmap_read_locked(&read);
        let ranges: Vec<(u64, u64)> = {
            let g = self.lock_inner();
            let mut v = Vec::new();
            v.try_reserve_exact(g.vmas.iter().count()).map_err(|_| Errno::ENOMEM)?;
            v.extend(g.vmas.iter().map(|vma| (vma.start, vma.end)));
            v
        };
        let mut found: Vec<(u64, PtEntry)> = Vec::new();
        found.try_reserve_exact(512).map_err(|_| Errno::ENOMEM)?;
        let mut done = 0;
        for (start, end) in ranges {
            let mut cur = start;
            while cur < end {
                let next = ((cur / PMD_SIZE) + 1).saturating_mul(PMD_SIZE).min(end);
                found.clear();
                {
                    let mut g = self.lock_inner();
                    let inner = &mut *g;
                    if inner.swap_ents == 0 {
                        return Ok(done);
                    }
                    let Some(pt) = inner.pgtable.as_mut() else { return Ok(done) };
                    for_each_swap_pte(pt, cur, next, |_, va, e| {
                        if pte_to_swp_entry(e).is_some_and(|s| s.type_ == si.type_()) {
                            found.push((va, e));
                        }
                    });
                }
                for &(va, swp) in &found {
                    if self.unuse_pte(held, si, va, swp)? {
                        done += 1;
                    }
                }
                cur = next;
            }
        }
        Ok(done)
    }

    /// Linux `unuse_pte`: the pte at `va` held the swap entry `swp`, a
    /// slot of `si`, when it was looked at. Read the slot into a fresh
    /// frame with no inner lock held and map it in the pte's place as a
    /// new exclusive anonymous page, old (no accessed or dirty bit, as
    /// Linux's `pte_mkold`), with the vma's protection; returns whether it
    /// did (not if the pte changed meanwhile: a fault or a zap got there
    /// first; a read that fails because the slot was freed meanwhile is
    /// such a change). A frame that cannot be had is looked for once more
    /// after direct reclaim (to other devices).
    ///
    /// Errors: `ENOMEM` (no frame, no heap for the transfer or a page
    /// table), `EIO` (the device could not read the slot and the pte still
    /// names it: it stays).
    /// Locking: `mmap_lock` held for read (`held`), no inner lock; takes
    /// the inner lock after the read.
    fn unuse_pte(&self, held: MmapLocked<'_>, si: &SwapInfo, va: u64, swp: PtEntry) -> Result<bool, Errno> {
        let _ = held;
        let entry = pte_to_swp_entry(swp).ok_or(Errno::EINVAL)?;
        let mut spare = self.phys.alloc_frame();
        if spare.is_none() && self.phys.reclaim() {
            spare = self.phys.alloc_frame();
        }
        if spare.is_none() {
            return Err(Errno::ENOMEM);
        }
        let pa = match self.swap_read_frame(si, entry, &mut spare) {
            Ok(pa) => pa,
            Err(SwapReadError::NoMemory) => return Err(Errno::ENOMEM),
            Err(SwapReadError::Io) => {
                // A fault may have swapped the page in and freed the slot
                // since the pte was looked at: only an entry still there
                // is an error.
                let still = self.lock_inner().pgtable.as_ref().and_then(|pt| pt.swap_entry_at(va)) == Some(swp);
                return if still { Err(Errno::EIO) } else { Ok(false) };
            }
        };
        let meta = self.page_meta();
        let mut g = self.lock_inner();
        let inner = &mut *g;
        let vma = inner.vmas.vma_lookup(va).map(|v| (v.flags, v.linear_page_index(va)));
        let still = inner.pgtable.as_ref().and_then(|pt| pt.swap_entry_at(va)) == Some(swp);
        let Some((vm_flags, index)) = vma.filter(|_| still) else {
            inner.phys.free_frame(pa);
            return Ok(false);
        };
        map_swapped_in(inner, meta, va, swp, pa, vm_flags, index, vm_pte_flags(vm_flags)).map_err(|e| match e {
            FaultError::OutOfMemory => Errno::ENOMEM,
            _ => Errno::EINVAL,
        })?;
        Ok(true)
    }
}
