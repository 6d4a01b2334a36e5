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
//! - an index has at most one page; a page at or past
//!   [`Shmem::nr_pages`] exists only between a shrink and its
//!   [`Shmem::detach_pages_from`]; pages leave only then and when the
//!   object is released;
//! - [`Shmem::mappers`] is the number of vmas in vma trees that hold the
//!   object (the tree counts them as it inserts and removes vmas), and
//!   `pins` the owners that keep it without mapping it (a tmpfs file, a
//!   SysV segment: [`Shmem::pin`]). The address space whose unmap or exit
//!   leaves both at 0 releases the pages ([`Shmem::release_pages`]) into
//!   its TLB gather, after its ptes are gone, or the owner's
//!   [`Shmem::unpin`] does when no vma maps it; no vma can map the object
//!   again after that (fork copies only vmas that are in a tree, and an
//!   owner maps only while it pins).
//!
//! Reclaim may put a page in swap ([`swap`]): the index then names its
//! slot until a fault, a file read or write, or swapoff brings it back.
//!
//! An owner may watch the vmas come and go ([`ShmemVmOps`], Linux's
//! `vm_ops->open`/`close`: a SysV segment counts its attaches) and make
//! the object's pages unevictable (`SHM_LOCK`, [`Shmem::set_unevictable`]).
//!
//! - [`Shmem::mapping_writable`] counts the shared vmas among them that
//!   may write, for the file seals ([`seals`]: `F_SEAL_WRITE`).
//! - [`Shmem::i_mmap`] lists the address spaces that have mapped the
//!   object, for rmap walks ([`crate::rmap`]); a page records its offset
//!   as its index.
//!
//! Locking: the page index is behind the object's own spinlock, taken
//! inside an mm's inner lock (never the other way round) and held only to
//! look up or add a page; faults of two address spaces on one offset
//! serialise on it, so they map one page. It is held with interrupts off
//! ([`crate::irqlock`]): it is also taken outside any inner lock (reclaim,
//! swap-in, file reads and writes), and a holder preempted there would
//! leave a thread spinning for it under an inner lock forever. Slot
//! counts (the swap-map lock) and the registry's lock are taken inside
//! it; no device I/O runs under it. The mapper count is atomic. The `i_mmap` list has its own lock,
//! the rmap lock, taken before any inner lock (never inside one).

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

mod owner;
pub mod seals;
pub mod swap;
pub use owner::ShmemVmOps;
pub use seals::*;

use crate::errno::Errno;
use crate::irqlock::IrqSpinLock;
use crate::mmu_gather::MmuGather;
use crate::page_meta::PageMetaArray;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::swap::swapfile::SwapEntry;

/// Pages per leaf of the page index.
const LEAF: usize = 512;

/// A shmem object: the pages of a shared anonymous mapping, a tmpfs file,
/// a SysV segment or a memfd.
pub struct Shmem {
    /// Unique among shmem objects and anon_vmas: its pages record it
    /// ([`crate::page_meta::PageMeta::mapping`]) so reclaim finds the
    /// object from a page.
    id: u64,
    /// Set once the object is in the page metadata's registry (at its
    /// first page).
    registered: AtomicBool,
    /// Size in pages (the mapping's at creation; a file's follows its
    /// size, [`Shmem::set_nr_pages`]).
    nr_pages: AtomicU64,
    /// Page index: leaf `i / LEAF`, slot `i % LEAF` holds page `i` as an
    /// [`IndexEntry`]: 0 if none, its frame, or the swap entry its
    /// contents are in (see [`swap`]); a missing leaf has no page.
    pages: IrqSpinLock<BTreeMap<u64, Vec<u64>>>,
    /// Vmas in vma trees that hold the object.
    mappers: AtomicUsize,
    /// Owners that keep the pages while no vma maps them (a tmpfs file's
    /// inode, a SysV segment): [`Shmem::pin`].
    pins: AtomicUsize,
    /// Set once the pages were released.
    released: AtomicBool,
    /// Its inode number in `/proc/<pid>/maps` (Linux's shmem inode).
    ino: u64,
    /// Its name and device (major, minor) in `/proc/<pid>/maps`, if it
    /// has one (a file's path): [`Shmem::set_label`].
    label: spin::Mutex<Option<Label>>,
    /// Linux `mapping_unevictable`: new pages join the LRU unevictable.
    /// Changed under the page index lock.
    unevictable: AtomicBool,
    /// The owner's hooks, called as vmas holding the object enter and
    /// leave vma trees.
    vm_ops: spin::Mutex<Option<alloc::sync::Arc<dyn ShmemVmOps>>>,
    /// The address spaces that have mapped it (Linux `i_mmap`, see
    /// [`crate::rmap`]).
    i_mmap: crate::rmap::IMmap,
    /// Its file seals (Linux `shmem_inode_info.seals`), behind the seal
    /// lock ([`seals`]).
    seals: spin::Mutex<u32>,
    /// Vmas in vma trees that hold it with `VM_SHARED | VM_MAYWRITE`
    /// (Linux `i_mmap_writable`, [`seals`]).
    i_mmap_writable: AtomicUsize,
}

/// An object's name and device (major, minor) in `/proc/<pid>/maps`.
pub type Label = (Arc<str>, (u32, u32));

/// The next object's inode number.
static NEXT_INO: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

impl core::fmt::Debug for Shmem {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Shmem").field("nr_pages", &self.nr_pages()).field("mappers", &self.mappers()).finish()
    }
}

impl Drop for Shmem {
    /// The last holder went: the pages must have been released when the
    /// last vma left its tree, or they leak.
    fn drop(&mut self) {
        debug_assert!(
            self.pages.get_mut().values().all(|leaf| leaf.iter().all(|&e| e == 0)),
            "shmem object dropped with its pages or swap entries"
        );
    }
}

impl Shmem {
    /// Linux `shmem_zero_setup`: an empty object of `nr_pages` pages.
    /// Errors: none today (the index grows as pages come); `Result` for
    /// the callers' sake.
    pub fn new(nr_pages: u64) -> Result<Shmem, Errno> {
        Ok(Shmem::new_with_ino(nr_pages, NEXT_INO.fetch_add(1, Ordering::Relaxed)))
    }

    /// An empty object of `nr_pages` pages that `/proc/<pid>/maps` shows
    /// with inode number `ino` (a tmpfs file's).
    pub fn new_with_ino(nr_pages: u64, ino: u64) -> Shmem {
        Shmem {
            id: crate::rmap::next_mapping_id(),
            registered: AtomicBool::new(false),
            nr_pages: AtomicU64::new(nr_pages),
            pages: IrqSpinLock::new(BTreeMap::new()),
            mappers: AtomicUsize::new(0),
            pins: AtomicUsize::new(0),
            released: AtomicBool::new(false),
            ino,
            label: spin::Mutex::new(None),
            unevictable: AtomicBool::new(false),
            vm_ops: spin::Mutex::new(None),
            i_mmap: Default::default(),
            seals: spin::Mutex::new(F_SEAL_SEAL),
            i_mmap_writable: AtomicUsize::new(0),
        }
    }

    /// Its name and device in `/proc/<pid>/maps` (a file's path and file
    /// system; `None`: a shared anonymous mapping's object).
    pub fn label(&self) -> Option<Label> {
        self.label.lock().clone()
    }

    /// Name the object (the kernel does, when it maps a file).
    pub fn set_label(&self, name: Arc<str>, dev: (u32, u32)) {
        *self.label.lock() = Some((name, dev));
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
        self.nr_pages.load(Ordering::Acquire)
    }

    /// Set the size in pages (a file grew or shrank). Faults at or past
    /// it are `SIGBUS` from now on; pages already there stay until
    /// [`Shmem::detach_pages_from`] (the owner unmaps them after).
    pub fn set_nr_pages(&self, nr_pages: u64) {
        self.nr_pages.store(nr_pages, Ordering::Release);
    }

    /// Vmas in vma trees that hold the object.
    pub fn mappers(&self) -> usize {
        self.mappers.load(Ordering::Acquire)
    }

    /// A vma with `flags` holding the object went into a vma tree.
    pub(crate) fn add_mapper(&self, flags: crate::vma::VmFlags) {
        self.mappers.fetch_add(1, Ordering::SeqCst);
        self.mapping_map_writable(flags);
        let ops = self.vm_ops.lock().clone();
        if let Some(ops) = ops {
            ops.open();
        }
    }

    /// A vma with `flags` holding the object left its vma tree.
    pub(crate) fn remove_mapper(&self, flags: crate::vma::VmFlags) {
        self.mapping_unmap_writable(flags);
        let old = self.mappers.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(old > 0, "shmem mapper count underflow");
        let ops = self.vm_ops.lock().clone();
        if let Some(ops) = ops {
            ops.close();
        }
    }

    /// Is the object unused: no vma maps it and no owner pins it? Then
    /// its pages may go. (The counters are sequentially consistent: of an
    /// unmap and an unpin racing to zero, at least one sees both at 0.)
    pub(crate) fn unused(&self) -> bool {
        self.mappers.load(Ordering::SeqCst) == 0 && self.pins.load(Ordering::SeqCst) == 0
    }

    /// An owner (a tmpfs inode, a SysV segment) keeps the pages while no
    /// vma maps the object, until its [`Shmem::unpin`].
    pub fn pin(&self) {
        self.pins.fetch_add(1, Ordering::SeqCst);
    }

    /// The owner is done with the object (the file's last link and open
    /// went, the segment was removed). If no vma maps it either, its pages
    /// go now ([`Shmem::release_pages`]); otherwise the last unmap frees
    /// them. The owner must not add pages afterwards.
    ///
    /// Locking: none held (takes the object's lock).
    pub fn unpin(&self, meta: &PageMetaArray, phys: &impl PhysMem) {
        let old = self.pins.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(old > 0, "shmem pin count underflow");
        if self.unused() {
            // No pte maps a page (no vma holds the object), so nothing
            // waits for a flush: the pages are freed at once.
            self.release_pages(meta, &mut MmuGather::tlb_gather_mmu(), phys, &crate::pgtable::NoFlush);
        }
    }

    /// Its id (see the field).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// What the index holds for page `index`.
    pub fn lookup(&self, index: u64) -> IndexEntry {
        let pages = self.pages.lock();
        IndexEntry::decode(entry_at(&pages, index))
    }

    /// The frame of page `index`, if the object has one in RAM.
    pub fn find(&self, index: u64) -> Option<u64> {
        match self.lookup(index) {
            IndexEntry::Page(pa) => Some(pa),
            _ => None,
        }
    }

    /// Number of pages the object holds in RAM.
    pub fn nr_cached(&self) -> usize {
        self.count_entries(|e| matches!(e, IndexEntry::Page(_)))
    }

    /// Number of its pages in swap (Linux `shmem_inode_info.swapped`).
    pub fn nr_swapped(&self) -> usize {
        self.count_entries(|e| matches!(e, IndexEntry::Swapped(_)))
    }

    /// Number of its pages in swap at indexes `[from, to)` (Linux
    /// `shmem_partial_swap_usage`, for a vma's `Swap:` in smaps).
    pub fn nr_swapped_in(&self, from: u64, to: u64) -> usize {
        let pages = self.pages.lock();
        (from..to).filter(|&i| matches!(IndexEntry::decode(entry_at(&pages, i)), IndexEntry::Swapped(_))).count()
    }

    fn count_entries(&self, f: impl Fn(IndexEntry) -> bool) -> usize {
        self.pages.lock().values().map(|l| l.iter().filter(|&&e| f(IndexEntry::decode(e))).count()).sum()
    }

    /// The lookup half of Linux `shmem_fault`: the frame of page `index`;
    /// if there is none, `alloc` gives a zeroed frame, which becomes the
    /// page with the object's reference (`prep_new_page`) and goes on the
    /// LRU. Returns the frame, with a reference for the caller (a
    /// mapping's own, or one the caller drops when done with the page),
    /// and whether it is new. A page that reclaim is writing out stays
    /// (its `RECLAIM` flag is cleared: the caller may write it).
    ///
    /// Errors: `EFAULT` index beyond the object (Linux: `SIGBUS`);
    /// `ENOMEM` no frame, no metadata, or no memory for the index;
    /// `EAGAIN` the page is in swap: swap it in first
    /// ([`Shmem::shmem_swapin`]) with no inner lock held, and retry.
    ///
    /// Locking: takes the object's lock (inside the caller's inner lock).
    pub fn find_or_add(
        self: &Arc<Self>,
        meta: &PageMetaArray,
        index: u64,
        alloc: impl FnOnce() -> Option<u64>,
    ) -> Result<(u64, bool), Errno> {
        let mut pages = self.pages.lock();
        // Checked under the lock: a truncation sets the size before it
        // takes the pages out under this lock.
        if index >= self.nr_pages() || self.released.load(Ordering::Acquire) {
            return Err(Errno::EFAULT);
        }
        match IndexEntry::decode(entry_at(&pages, index)) {
            IndexEntry::Page(pa) => {
                let folio = meta.get(pa).ok_or(Errno::ENOMEM)?;
                folio.get_page().map_err(|_| Errno::ENOMEM)?;
                folio.test_set_reclaim(false);
                return Ok((pa, false));
            }
            IndexEntry::Swapped(_) => return Err(Errno::EAGAIN),
            IndexEntry::Hole => {}
        }
        if !self.registered.load(Ordering::Acquire) {
            meta.anon_vmas().register_shmem(self)?;
            self.registered.store(true, Ordering::Release);
        }
        let leaf = leaf_for(&mut pages, index)?;
        let pa = alloc().ok_or(Errno::ENOMEM)?;
        let folio = meta.get(pa).ok_or(Errno::ENOMEM)?;
        folio.prep_new_page().map_err(|_| Errno::ENOMEM)?;
        // The object's reference is the first; the caller's the second.
        folio.get_page().map_err(|_| Errno::ENOMEM)?;
        self.add_page_locked(meta, folio, index);
        leaf[(index % LEAF as u64) as usize] = pa;
        Ok((pa, true))
    }

    /// [`Shmem::find_or_add`] for a caller that holds no inner lock (a
    /// file write): a page in swap is swapped in first.
    ///
    /// Errors: those of [`Shmem::find_or_add`] but `EAGAIN`, and those of
    /// [`Shmem::shmem_swapin`].
    /// Locking: no inner lock held; takes the object's lock.
    pub fn find_or_add_swapin(
        self: &Arc<Self>,
        meta: &PageMetaArray,
        phys: &impl PhysMem,
        index: u64,
        mut alloc: impl FnMut() -> Option<u64>,
    ) -> Result<(u64, bool), Errno> {
        loop {
            match self.find_or_add(meta, index, &mut alloc) {
                Err(Errno::EAGAIN) => {
                    self.shmem_swapin(meta, phys, index, &mut None)?;
                }
                r => return r,
            }
        }
    }

    /// Page `index`'s frame with a reference the caller drops
    /// (`put_page`), swapping it in if it is in swap; `None` for a hole.
    /// For readers that copy out of the page while reclaim may run.
    ///
    /// Errors: those of [`Shmem::shmem_swapin`].
    /// Locking: no inner lock held; takes the object's lock.
    pub fn get_page(self: &Arc<Self>, meta: &PageMetaArray, phys: &impl PhysMem, index: u64) -> Result<Option<u64>, Errno> {
        loop {
            {
                let pages = self.pages.lock();
                match IndexEntry::decode(entry_at(&pages, index)) {
                    IndexEntry::Hole => return Ok(None),
                    IndexEntry::Page(pa) => {
                        let folio = meta.get(pa).ok_or(Errno::ENOMEM)?;
                        folio.get_page().map_err(|_| Errno::ENOMEM)?;
                        return Ok(Some(pa));
                    }
                    IndexEntry::Swapped(_) => {}
                }
            }
            self.shmem_swapin(meta, phys, index, &mut None)?;
        }
    }

    /// A new page `folio` becomes page `index`: it records the object,
    /// goes on the LRU (unevictable if the object is), and counts as
    /// shmem. The caller stores it in the index.
    ///
    /// Locking: the object's lock held.
    fn add_page_locked(&self, meta: &PageMetaArray, folio: &crate::page_meta::PageMeta, index: u64) {
        if self.unevictable.load(Ordering::Relaxed) {
            meta.folio_set_mapping_unevictable(folio);
        }
        folio.set_index(index);
        folio.set_mapping(self.id);
        let _ = meta.folio_add_lru(folio);
        meta.account_shmem(true);
    }

    /// Linux `shmem_evict_inode` for an object no vma maps any more: drop
    /// the object's reference on each of its pages; a page that had no
    /// other is freed: after the flush of the caller's unmap if one is
    /// pending in `tlb` (its last pte may be among those zapped), at once
    /// otherwise.
    /// Only the first call does anything.
    ///
    /// Locking: the caller removed the last vma holding the object from
    /// its tree or unpinned it, and the object is [`unused`](Self::unused);
    /// takes the object's lock.
    pub(crate) fn release_pages(&self, meta: &PageMetaArray, tlb: &mut MmuGather, phys: &impl PhysMem, flush: &impl TlbFlush) {
        if self.released.swap(true, Ordering::AcqRel) {
            return;
        }
        self.put_all_pages(meta, tlb, phys, flush);
    }

    /// The first half of a truncation that must not lose a racing write:
    /// take the pages at index `from` and past it out of the index (a
    /// later fault or write there gets a new page), keeping the object's
    /// references and swap slots, which the caller drops with
    /// [`Shmem::put_detached`] once it unmapped them everywhere. Returns
    /// the index entries taken (frames and swap entries, see
    /// [`IndexEntry`]). The caller set the size first.
    ///
    /// Errors: `ENOMEM` (nothing changed) when the list cannot be had.
    ///
    /// Locking: takes the object's lock.
    pub fn detach_pages_from(&self, from: u64) -> Result<Vec<u64>, Errno> {
        let mut pages = self.pages.lock();
        let is_gone = |leaf_no: u64, slot: usize, e: u64| e != 0 && leaf_no * LEAF as u64 + slot as u64 >= from;
        let n = pages
            .range(from / LEAF as u64..)
            .map(|(&l, leaf)| leaf.iter().enumerate().filter(|&(i, &e)| is_gone(l, i, e)).count())
            .sum();
        let mut out = Vec::new();
        out.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
        for (&l, leaf) in pages.range_mut(from / LEAF as u64..) {
            for (i, e) in leaf.iter_mut().enumerate() {
                if is_gone(l, i, *e) {
                    out.push(*e);
                    *e = 0;
                }
            }
        }
        pages.retain(|_, leaf| leaf.iter().any(|&e| e != 0));
        Ok(out)
    }

    /// The second half: drop the object's reference on each page
    /// `detached` from it, and its count on each swap slot; a page no one
    /// else holds is freed at once (the caller unmapped and flushed it
    /// everywhere).
    pub fn put_detached(&self, detached: &[u64], meta: &PageMetaArray, phys: &impl PhysMem) {
        for &e in detached {
            put_entry(meta, e, &mut |pa| phys.free_frame(pa));
        }
    }

    /// Drop the object's reference on each of its pages and its count on
    /// each of its swap slots, and empty the index; a page that had no
    /// other reference goes to `tlb` if a flush is pending there (it was
    /// mapped until the caller's operation), to the allocator otherwise.
    fn put_all_pages(&self, meta: &PageMetaArray, tlb: &mut MmuGather, phys: &impl PhysMem, flush: &impl TlbFlush) {
        // Emptied under the lock, gone through without it: a flush must
        // not start under a lock held with interrupts off.
        let pages = core::mem::take(&mut *self.pages.lock());
        for &e in pages.values().flatten().filter(|&&e| e != 0) {
            if tlb.needs_flush() {
                tlb.tlb_flush_mmu(phys, flush);
            }
            put_entry(meta, e, &mut |pa| {
                if tlb.has_pending_flush() {
                    tlb.tlb_remove_page(pa);
                } else {
                    phys.free_frame(pa);
                }
            });
        }
    }
}

/// What a slot of an object's page index holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IndexEntry {
    /// No page: a fault or write allocates a zeroed one.
    Hole,
    /// The page is in RAM, in this frame.
    Page(u64),
    /// The page is in swap, in this slot (Linux keeps a swap entry in the
    /// page cache's xarray as a value entry). The index holds one count on
    /// the slot.
    Swapped(SwapEntry),
}

impl IndexEntry {
    /// Decode a stored word: 0, a frame (page-aligned), or a swap entry
    /// (low bit set: `offset << 9 | type << 1 | 1`).
    pub fn decode(word: u64) -> IndexEntry {
        if word == 0 {
            IndexEntry::Hole
        } else if word & 1 == 0 {
            IndexEntry::Page(word)
        } else {
            IndexEntry::Swapped(SwapEntry { type_: ((word >> 1) & 0xff) as u8, offset: word >> 9 })
        }
    }

    /// The stored word for a swap entry.
    fn swap_word(e: SwapEntry) -> u64 {
        (e.offset << 9) | (u64::from(e.type_) << 1) | 1
    }
}

/// The stored word for page `index` (0 if its leaf is missing).
fn entry_at(pages: &BTreeMap<u64, Vec<u64>>, index: u64) -> u64 {
    pages.get(&(index / LEAF as u64)).and_then(|l| l.get((index % LEAF as u64) as usize)).copied().unwrap_or(0)
}

/// The leaf that holds page `index`, made if missing.
///
/// Errors: `ENOMEM` no memory for the leaf or the tree node.
fn leaf_for(pages: &mut BTreeMap<u64, Vec<u64>>, index: u64) -> Result<&mut Vec<u64>, Errno> {
    match pages.entry(index / LEAF as u64) {
        alloc::collections::btree_map::Entry::Occupied(e) => Ok(e.into_mut()),
        alloc::collections::btree_map::Entry::Vacant(e) => {
            let mut leaf = Vec::new();
            leaf.try_reserve_exact(LEAF).map_err(|_| Errno::ENOMEM)?;
            leaf.resize(LEAF, 0);
            // A B-tree node is a few hundred bytes: refuse when even
            // 1 KiB cannot be had rather than abort in the insert.
            let mut probe: Vec<u8> = Vec::new();
            probe.try_reserve_exact(1024).map_err(|_| Errno::ENOMEM)?;
            drop(probe);
            Ok(e.insert(leaf))
        }
    }
}

/// Give up what an index entry `e` held: the object's reference on a page
/// (`free` gets the frame if that was the last one) or its count on a
/// swap slot.
fn put_entry(meta: &PageMetaArray, e: u64, free: &mut dyn FnMut(u64)) {
    match IndexEntry::decode(e) {
        IndexEntry::Hole => {}
        IndexEntry::Page(pa) => {
            if let Some(folio) = meta.get(pa) {
                meta.account_shmem(false);
                if let Ok(true) = meta.put_page(folio) {
                    free(pa);
                }
            }
        }
        IndexEntry::Swapped(entry) => {
            let _ = meta.swap().swap_free(entry);
        }
    }
}
