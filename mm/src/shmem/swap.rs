//! Shmem pages in swap (Linux `shmem_writeout`, `shmem_swapin_folio` and
//! `shmem_unuse` in `mm/shmem.c`): the object's half of reclaiming a
//! page of shared memory, a tmpfs file or a SysV segment, and of bringing
//! it back.
//!
//! Reclaim ([`crate::vmscan`]) first unmaps the page from every address
//! space (its ptes become empty: unlike an anonymous page's, a shmem
//! page's ptes never hold swap entries, the object's index does), then:
//!
//! 1. [`Shmem::writeout_begin`] marks the page `RECLAIM` while the index
//!    still holds it;
//! 2. the page is written to a slot with no lock held;
//! 3. [`Shmem::writeout_finish`] replaces the page in the index by the
//!    slot's swap entry, and drops the object's reference, only if the
//!    page is still there, still `RECLAIM` (nobody looked it up since:
//!    every lookup that may lead to a write, [`Shmem::find_or_add`],
//!    clears the flag), mapped nowhere, and referenced only by the object
//!    and reclaim. Otherwise the page stays and the slot is given back.
//!
//! A lookup that finds a swap entry ([`Shmem::shmem_swapin`]) takes one
//! more count on the slot (so that it is neither freed nor handed out
//! again meanwhile: Linux's `SWAP_HAS_CACHE` does that), reads it into a
//! new frame with no lock held, and installs the frame if the index still
//! holds the entry; the index's count on the slot is then given back.
//!
//! # Invariants
//!
//! - An index entry that names a slot holds one count on it; the slot's
//!   contents are the page's as they were when the last writer let go.
//! - A page leaves the index for swap only with mapcount 0 and no
//!   reference but the object's and reclaim's.
//!
//! # Locking
//!
//! The object's lock (inside an inner lock, never the other way round)
//! around each index change; the swap-map lock inside it for slot counts.
//! No lock is held during device I/O.

use alloc::sync::Arc;

use super::{entry_at, IndexEntry, Shmem};
use crate::errno::Errno;
use crate::page_meta::{PageMeta, PageMetaArray};
use crate::pgtable::PhysMem;
use crate::swap::swap_state::SwapEvent;
use crate::swap::swapfile::{SwapEntry, SwapInfo};
use crate::swap::{swap_read_frame, SwapReadError};

impl Shmem {
    /// Linux `shmem_swapin_folio`: if page `index` is in swap, read it
    /// into a new frame (the caller's `spare` if it has one) and put the
    /// frame in its place; returns whether it did (not if the index
    /// changed meanwhile: another reader, or a truncation, got there
    /// first; the caller looks again).
    ///
    /// Errors: `ENOMEM` (no frame, or no heap for the transfer), `EIO`
    /// (the device could not read the slot).
    /// Locking: no inner lock held (the device may sleep); takes the
    /// object's lock before and after the read.
    pub fn shmem_swapin(&self, meta: &PageMetaArray, phys: &impl PhysMem, index: u64, spare: &mut Option<u64>) -> Result<bool, Errno> {
        let swap = meta.swap();
        let entry = {
            let pages = self.pages.lock();
            let IndexEntry::Swapped(entry) = IndexEntry::decode(entry_at(&pages, index)) else { return Ok(false) };
            // Pin the slot: it cannot be freed and reused while we read.
            swap.swap_duplicate(entry).map_err(|_| Errno::ENOMEM)?;
            entry
        };
        let r = match swap.device(entry.type_) {
            Some(si) => self.swapin_read(meta, phys, &si, index, entry, spare),
            None => Err(Errno::EIO),
        };
        let _ = swap.swap_free(entry);
        r
    }

    /// Read slot `entry` of `si` and install it as page `index` if the
    /// index still names the slot.
    ///
    /// Locking: no inner lock held; takes the object's lock after the
    /// read.
    fn swapin_read(
        &self,
        meta: &PageMetaArray,
        phys: &impl PhysMem,
        si: &SwapInfo,
        index: u64,
        entry: SwapEntry,
        spare: &mut Option<u64>,
    ) -> Result<bool, Errno> {
        let pa = swap_read_frame(phys, si, entry, spare).map_err(|e| match e {
            SwapReadError::NoMemory => Errno::ENOMEM,
            SwapReadError::Io => Errno::EIO,
        })?;
        let mut pages = self.pages.lock();
        let word = entry_at(&pages, index);
        let folio = meta.get(pa);
        let (true, Some(folio)) = (IndexEntry::decode(word) == IndexEntry::Swapped(entry), folio) else {
            drop(pages);
            phys.free_frame(pa);
            return Ok(false);
        };
        if folio.prep_new_page().is_err() {
            // A frame still in use: leave it alone.
            return Err(Errno::ENOMEM);
        }
        self.add_page_locked(meta, folio, index);
        if let Some(slot) = pages.get_mut(&(index / super::LEAF as u64)).and_then(|l| l.get_mut((index % super::LEAF as u64) as usize)) {
            *slot = pa;
        }
        drop(pages);
        // The index's count on the slot.
        let _ = meta.swap().swap_free(entry);
        meta.swap().count(SwapEvent::SwapIn, 1);
        Ok(true)
    }

    /// Reclaim is about to write page `index` (`folio`, frame `pa`) to
    /// swap: mark it `RECLAIM` if the index still holds it; returns
    /// whether it does.
    ///
    /// Locking: takes the object's lock.
    pub(crate) fn writeout_begin(&self, index: u64, pa: u64, folio: &PageMeta) -> bool {
        let pages = self.pages.lock();
        if entry_at(&pages, index) != pa {
            return false;
        }
        folio.test_set_reclaim(true);
        true
    }

    /// Reclaim wrote page `index` (`folio`, frame `pa`) to slot `entry`:
    /// if nobody looked the page up, mapped it or holds it since
    /// [`Shmem::writeout_begin`], the index names the slot instead (taking
    /// over reclaim's count on it) and the object's reference is dropped
    /// (reclaim's is then the last); returns whether it did. `RECLAIM` is
    /// cleared either way.
    ///
    /// Locking: takes the object's lock.
    pub(crate) fn writeout_finish(&self, meta: &PageMetaArray, index: u64, pa: u64, folio: &PageMeta, entry: SwapEntry) -> bool {
        let mut pages = self.pages.lock();
        let untouched = folio.test_set_reclaim(false);
        if !untouched || entry_at(&pages, index) != pa || folio.mapcount() != 0 || folio.page_ref_count() != 2 {
            return false;
        }
        let Some(slot) = pages.get_mut(&(index / super::LEAF as u64)).and_then(|l| l.get_mut((index % super::LEAF as u64) as usize)) else {
            return false;
        };
        *slot = IndexEntry::swap_word(entry);
        meta.account_shmem(false);
        // The object's reference; reclaim still holds one.
        let _ = meta.put_page(folio);
        true
    }

    /// Linux `shmem_unuse` for one object: swap in each of its pages that
    /// is in a slot of device `type_`; returns how many.
    ///
    /// Errors: those of [`Shmem::shmem_swapin`].
    /// Locking: no inner lock held; takes the object's lock.
    pub fn shmem_unuse(&self, meta: &PageMetaArray, phys: &impl PhysMem, type_: u8) -> Result<u64, Errno> {
        let mut done = 0;
        let mut next = 0u64;
        while let Some(index) = self.next_swapped(next, type_) {
            if self.shmem_swapin(meta, phys, index, &mut None)? {
                done += 1;
            }
            next = index + 1;
        }
        Ok(done)
    }

    /// The first page at or after `from` that is in a slot of device
    /// `type_`.
    ///
    /// Locking: takes the object's lock.
    fn next_swapped(&self, from: u64, type_: u8) -> Option<u64> {
        let pages = self.pages.lock();
        let leaf_len = super::LEAF as u64;
        pages.range(from / leaf_len..).find_map(|(&l, leaf)| {
            leaf.iter().enumerate().find_map(|(i, &w)| {
                let index = l * leaf_len + i as u64;
                let on_dev = matches!(IndexEntry::decode(w), IndexEntry::Swapped(e) if e.type_ == type_);
                (index >= from && on_dev).then_some(index)
            })
        })
    }
}

/// Every shmem object `meta` knows, for swapoff.
///
/// Errors: `ENOMEM`.
pub fn shmem_objects(meta: &PageMetaArray) -> Result<alloc::vec::Vec<Arc<Shmem>>, Errno> {
    meta.anon_vmas().shmem_objects()
}
