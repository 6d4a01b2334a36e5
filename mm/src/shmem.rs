//! The shmem object behind a shared anonymous mapping (Linux `mm/shmem.c`:
//! `shmem_zero_setup`, `shmem_fault`, `shmem_evict_inode`).
//!
//! `mmap(MAP_SHARED | MAP_ANONYMOUS)` creates one [`Shmem`] sized to the
//! mapping; every vma that maps it holds it (with the page offset of its
//! start, Linux's `vm_pgoff`), in this address space and in every one
//! forked from it. Its pages are indexed by page offset in the object: a
//! fault in such a vma finds the page there or allocates a zeroed one into
//! it ([`Shmem::find_or_add`]), so every mapping of an offset, in every
//! address space, maps the same frame.
//!
//! Invariants:
//! - the object holds exactly one reference on each page it caches
//!   (Linux's page-cache reference); each pte mapping the page holds one
//!   more. A page's `mlock_count` counts the `VM_LOCKED` vmas mapping it,
//!   in any address space (see [`crate::page_meta`]);
//! - an index below [`Shmem::nr_pages`] has at most one page, for the
//!   object's life; pages leave only when the object is released;
//! - [`Shmem::mappers`] is the number of vmas in vma trees that hold the
//!   object (the tree counts them as it inserts and removes vmas). The
//!   address space whose unmap or exit takes it to 0 releases the pages
//!   ([`Shmem::release_pages`]) into its TLB gather, after its ptes are
//!   gone; no vma can map the object again after that (fork copies only
//!   vmas that are in a tree).
//!
//! - [`Shmem::i_mmap`] lists the address spaces that have mapped the
//!   object, for rmap walks ([`crate::rmap`]); a page records its offset
//!   as its index.
//!
//! Locking: the page index is behind the object's own spinlock, taken
//! inside an mm's inner lock (never the other way round) and held only to
//! look up or add a page; faults of two address spaces on one offset
//! serialise on it, so they map one page. The mapper count is atomic. The
//! `i_mmap` list has its own lock, the rmap lock, taken before any inner
//! lock (never inside one).

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::errno::Errno;
use crate::mmu_gather::MmuGather;
use crate::page_meta::PageMetaArray;
use crate::pgtable::{PhysMem, TlbFlush};

/// Pages per leaf of the page index.
const LEAF: usize = 512;

/// A shmem object: the pages of one shared anonymous mapping.
pub struct Shmem {
    /// Size in pages (the mapping's at creation).
    nr_pages: u64,
    /// Page index: leaf `i / LEAF`, slot `i % LEAF` holds the frame of
    /// page `i`, 0 if none; an empty leaf has no page yet.
    pages: spin::Mutex<Vec<Vec<u64>>>,
    /// Vmas in vma trees that hold the object.
    mappers: AtomicUsize,
    /// Set once the pages were released.
    released: AtomicBool,
    /// Its inode number in `/proc/<pid>/maps` (Linux's shmem inode).
    ino: u64,
    /// The address spaces that have mapped it (Linux `i_mmap`, see
    /// [`crate::rmap`]).
    i_mmap: crate::rmap::IMmap,
}

/// The next object's inode number.
static NEXT_INO: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

impl core::fmt::Debug for Shmem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shmem").field("nr_pages", &self.nr_pages).field("mappers", &self.mappers()).finish()
    }
}

impl Drop for Shmem {
    /// The last holder went: the pages must have been released when the
    /// last vma left its tree, or they leak.
    fn drop(&mut self) {
        debug_assert!(self.pages.get_mut().iter().all(|leaf| leaf.iter().all(|&pa| pa == 0)), "shmem object dropped with its pages");
    }
}

impl Shmem {
    /// Linux `shmem_zero_setup`: an empty object of `nr_pages` pages.
    /// Errors: `ENOMEM` when its index cannot be allocated.
    pub fn new(nr_pages: u64) -> Result<Shmem, Errno> {
        let leaves = usize::try_from(nr_pages.div_ceil(LEAF as u64)).map_err(|_| Errno::ENOMEM)?;
        let mut index = Vec::new();
        index.try_reserve_exact(leaves).map_err(|_| Errno::ENOMEM)?;
        index.resize_with(leaves, Vec::new);
        let ino = NEXT_INO.fetch_add(1, Ordering::Relaxed);
        Ok(Shmem {
            nr_pages,
            pages: spin::Mutex::new(index),
            mappers: AtomicUsize::new(0),
            released: AtomicBool::new(false),
            ino,
            i_mmap: Default::default(),
        })
    }

    /// Its inode number, as `/proc/<pid>/maps` shows it.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The address spaces that have mapped it (see [`crate::rmap`]).
    pub fn i_mmap(&self) -> &crate::rmap::IMmap {
        &self.i_mmap
    }

    /// Size in pages.
    pub fn nr_pages(&self) -> u64 {
        self.nr_pages
    }

    /// Vmas in vma trees that hold the object.
    pub fn mappers(&self) -> usize {
        self.mappers.load(Ordering::Acquire)
    }

    /// A vma holding the object went into a vma tree.
    pub(crate) fn add_mapper(&self) {
        self.mappers.fetch_add(1, Ordering::AcqRel);
    }

    /// A vma holding the object left its vma tree.
    pub(crate) fn remove_mapper(&self) {
        let old = self.mappers.fetch_sub(1, Ordering::AcqRel);
        debug_assert!(old > 0, "shmem mapper count underflow");
    }

    /// The frame of page `index`, if the object has one.
    pub fn find(&self, index: u64) -> Option<u64> {
        if index >= self.nr_pages {
            return None;
        }
        let pages = self.pages.lock();
        let leaf = &pages[(index / LEAF as u64) as usize];
        leaf.get((index % LEAF as u64) as usize).copied().filter(|&pa| pa != 0)
    }

    /// Number of pages the object holds.
    pub fn nr_cached(&self) -> usize {
        self.pages.lock().iter().map(|l| l.iter().filter(|&&pa| pa != 0).count()).sum()
    }

    /// The lookup half of Linux `shmem_fault`: the frame of page `index`;
    /// if there is none, `alloc` gives a zeroed frame, which becomes the
    /// page with the object's reference (`prep_new_page`) and goes on the
    /// LRU. Returns the frame and whether it is new. The caller takes the
    /// mapping's own reference.
    ///
    /// Errors: `EFAULT` index beyond the object (Linux: `SIGBUS`);
    /// `ENOMEM` no frame, no metadata, or no memory for the index.
    ///
    /// Locking: takes the object's lock (inside the caller's inner lock).
    pub(crate) fn find_or_add(&self, meta: &PageMetaArray, index: u64, alloc: impl FnOnce() -> Option<u64>) -> Result<(u64, bool), Errno> {
        if index >= self.nr_pages || self.released.load(Ordering::Acquire) {
            return Err(Errno::EFAULT);
        }
        let mut pages = self.pages.lock();
        let leaf = &mut pages[(index / LEAF as u64) as usize];
        let slot = (index % LEAF as u64) as usize;
        if let Some(&pa) = leaf.get(slot).filter(|&&pa| pa != 0) {
            return Ok((pa, false));
        }
        if leaf.is_empty() {
            leaf.try_reserve_exact(LEAF).map_err(|_| Errno::ENOMEM)?;
            leaf.resize(LEAF, 0);
        }
        let pa = alloc().ok_or(Errno::ENOMEM)?;
        let folio = meta.get(pa).ok_or(Errno::ENOMEM)?;
        folio.prep_new_page().map_err(|_| Errno::ENOMEM)?;
        folio.set_index(index);
        let _ = meta.folio_add_lru(folio);
        meta.account_shmem(true);
        leaf[slot] = pa;
        Ok((pa, true))
    }

    /// Linux `shmem_evict_inode` for an object no vma maps any more: drop
    /// the object's reference on each of its pages; a page that had no
    /// other is freed: after the flush of the caller's unmap if one is
    /// pending in `tlb` (its last pte may be among those zapped), at once
    /// otherwise.
    /// Only the first call does anything.
    ///
    /// Locking: the caller removed the last vma holding the object from
    /// its tree ([`mappers`](Self::mappers) is 0); takes the object's lock.
    pub(crate) fn release_pages(&self, meta: &PageMetaArray, tlb: &mut MmuGather, phys: &impl PhysMem, flush: &impl TlbFlush) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut pages = self.pages.lock();
        for leaf in pages.iter_mut() {
            for pa in leaf.iter_mut().filter(|pa| **pa != 0) {
                if tlb.needs_flush() {
                    tlb.tlb_flush_mmu(phys, flush);
                }
                if let Some(folio) = meta.get(*pa) {
                    meta.account_shmem(false);
                    if let Ok(true) = meta.put_page(folio) {
                        // Mapped until this operation: free it after the
                        // flush; mapped nowhere since an earlier one (e.g.
                        // MADV_DONTNEED): free it now.
                        if tlb.has_pending_flush() {
                            tlb.tlb_remove_page(*pa);
                        } else {
                            phys.free_frame(*pa);
                        }
                    }
                }
                *pa = 0;
            }
            *leaf = Vec::new();
        }
    }
}
