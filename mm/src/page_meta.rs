//! Per-frame metadata (Linux `struct page` / `struct folio`, reduced to what
//! the memory-locking story needs) and the mlock counting of Linux 5.18+.
//!
//! Every physical frame has one [`PageMeta`]: a reference count, a few
//! [`PageFlags`] and an `mlock_count`. A [`PageMetaArray`] holds the
//! `PageMeta`s of a window of frames, indexed by pfn (Linux `mem_map` /
//! `pfn_to_page`), together with the counters Linux keeps in vmstat:
//! `nr_mlock` (`NR_MLOCK`, in pages) and the `unevictable_pgs_*` events.
//!
//! # Mlock counting (Hugh Dickins' 2022 rework, Linux 5.18+)
//!
//! Linux no longer finds out whether a page is still mlocked by walking its
//! reverse map. Instead an mlocked page sits on the (imaginary) unevictable
//! LRU and counts its locked mappings in `mlock_count`:
//!
//! - [`PageMetaArray::mlock_folio`]: the `mlock_pte_range` walk found the
//!   page mapped in a `VM_LOCKED` vma. Sets `MLOCKED` (the first time:
//!   `nr_mlock += 1`). If the page is on the LRU: the first time it also
//!   becomes `UNEVICTABLE` with `mlock_count = 1`, afterwards
//!   `mlock_count += 1`. If the page is *off* the LRU (isolated) nothing
//!   more can be done: the mlock is not counted ("there is nothing more we
//!   can do while it's off LRU").
//! - [`PageMetaArray::mlock_new_folio`]: a newly allocated page, not yet on
//!   the LRU, is being mapped into a `VM_LOCKED` vma: `MLOCKED`,
//!   `UNEVICTABLE`, `mlock_count = 1`, and it goes onto the LRU.
//! - [`PageMetaArray::munlock_folio`]: one locked mapping went away (munlock
//!   walk, unmap of a `VM_LOCKED` vma). On the LRU and `UNEVICTABLE`: the
//!   count drops by one (never below zero); while it stays above zero the
//!   page stays mlocked. Otherwise, or when the count reaches zero, Linux
//!   "assumes that was the last mlock": `MLOCKED` is cleared
//!   (`nr_mlock -= 1`), and a page on the LRU becomes evictable again.
//! - [`PageMetaArray::folio_add_lru`] (Linux `lru_add`): a page (re)joins the
//!   LRU. An mlocked page becomes `UNEVICTABLE` with `mlock_count = 0`: an
//!   *underestimate* on purpose, so that a page is never left unevictable
//!   forever; Linux lets reclaim repair it, Holdfast has no reclaim.
//!
//! A page of an unevictable mapping (a `SHM_LOCK`ed SysV segment: Linux's
//! `mapping_unevictable`) carries `MAPPING_UNEVICTABLE`, Holdfast's stand-in
//! for Linux's look at `folio->mapping` in `folio_evictable`: it joins the
//! LRU unevictable (with `mlock_count = 0`, not `MLOCKED`), and a munlock
//! that clears `MLOCKED` leaves it there. A page already on the evictable
//! LRU when its mapping becomes unevictable stays there (Linux leaves it to
//! reclaim to move). [`PageMetaArray::folio_clear_mapping_unevictable`]
//! (Linux `check_move_unevictable_folios`, from `shmem_unlock_mapping`)
//! moves it back when the mapping is evictable again.
//!
//! So the count is exact as long as a page stays on the LRU from the moment
//! it is first mapped, which in Holdfast is always: user pages enter the
//! LRU in [`PageMetaArray::folio_add_lru_vma`] before their pte is set, and
//! nothing (no reclaim, no migration) isolates them.
//! [`PageMetaArray::folio_isolate_lru`] exists to show what Linux does when
//! a page is off the LRU, and to test it.
//!
//! # Invariants
//!
//! Callers maintain: every `MLOCKED` frame's `mlock_count` equals the
//! number of `VM_LOCKED` mappings of it (each mapping counted once by one
//! `mlock_folio`/`mlock_new_folio` and uncounted once by one
//! `munlock_folio`). The `VM_IO` trick of `mlock_vma_pages_range` exists to
//! keep racing rmap walkers from counting a page twice.
//!
//! This module guarantees, for every page, after every operation:
//! - `!MLOCKED` implies `mlock_count == 0`;
//! - on the LRU, `MLOCKED` implies `UNEVICTABLE`, and `UNEVICTABLE`
//!   implies `MLOCKED` or `MAPPING_UNEVICTABLE`;
//! - `mlock_count` never exceeds the number of mlocks not yet matched by a
//!   munlock, and `MLOCKED` is only ever set while that number is above
//!   zero (Linux may *under*count, never overcount: no page is left
//!   mlocked forever);
//! - for pages that never left the LRU since they were first added (see
//!   above), `MLOCKED` iff that number is above zero and `mlock_count`
//!   equals it;
//! - `nr_mlock` equals the number of `MLOCKED` pages of the array whenever
//!   no operation is in flight;
//! - a page's flags and `mlock_count` change together, atomically.
//!
//! # Locking
//!
//! None: every field is an atomic. Flags and `mlock_count` share one
//! 64-bit word updated by compare-and-swap, which stands in for the lruvec
//! lock under which Linux's batched `__mlock_folio`/`__munlock_folio` run.
//! The `mlock_pte_range` walk calls in with `mmap_lock` held for write and
//! the page-table lock held; the fault path (`mlock_new_folio`) with
//! `mmap_lock` held for read. Different address spaces may mlock the same
//! page concurrently; the CAS keeps each page consistent and counts each
//! `MLOCKED` transition exactly once. In the lock order these atomics sit
//! below the page-table lock and above the frame allocator.
//!
//! A change that moves a page on or off the evictable LRU lists (added to
//! the LRU, mlocked, munlocked, isolated, freed) is followed by
//! [`Lruvec::sync`] of that page, which takes the lruvec lock (also below
//! the page-table lock, above the frame allocator) and puts the page's
//! list place in line with its state word (see [`crate::lru`]).

use alloc::vec::Vec;
use core::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

use bitflags::bitflags;

use crate::addr::PAGE_SHIFT;
use crate::lru::{LruList, LruSizes, Lruvec};
use crate::rmap::AnonVmaRegistry;
use crate::swap::swap_state::Swap;
use crate::vma::VmFlags;

bitflags! {
    /// Page flags (Linux `PG_*`), only those Holdfast uses.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
    pub struct PageFlags: u32 {
        /// `PG_lru`: the page is on the LRU: on an evictable list of
        /// [`crate::lru`] or, with `UNEVICTABLE`, on the unevictable one
        /// (imaginary, as Linux's: only the flag exists). Clear while the
        /// page is isolated (by reclaim) or free.
        const LRU         = 1 << 0;
        /// `PG_unevictable`: on the unevictable LRU; `mlock_count` is
        /// maintained while this and `LRU` are set.
        const UNEVICTABLE = 1 << 1;
        /// `PG_mlocked`: mapped by at least one `VM_LOCKED` vma (as far as
        /// the counting knows). Counted in `nr_mlock`.
        const MLOCKED     = 1 << 2;
        /// `PageAnon`: anonymous memory (Linux keeps this in the low bit of
        /// `folio->mapping`).
        const ANON        = 1 << 3;
        /// `PageAnonExclusive`: an anonymous page only this one mapping
        /// may write. Set when the page is faulted in or copied; cleared
        /// by fork, which shares it; set again when a write fault finds
        /// the page no longer shared (`wp_page_reuse`). Only an
        /// exclusive page may be writable in a private vma.
        const ANON_EXCLUSIVE = 1 << 4;
        /// The page's mapping is unevictable (Linux `mapping_unevictable`
        /// of `folio->mapping`: a `SHM_LOCK`ed segment's object): it
        /// joins the LRU unevictable and munlock leaves it there.
        const MAPPING_UNEVICTABLE = 1 << 5;
        /// `PG_referenced`: reclaim found the page referenced once and
        /// gave it a second chance on the inactive list; found referenced
        /// again, it is activated.
        const REFERENCED = 1 << 6;
        /// `PG_reclaim`: reclaim is writing this shmem page to swap with
        /// no pte mapping it (see [`crate::shmem::swap`]). Cleared by any
        /// lookup of the page in its object's index: whoever looks it up
        /// may write it, so the copy reclaim is writing is stale and the
        /// page stays.
        const RECLAIM = 1 << 7;
    }
}

/// Bits of [`PageMeta`]'s mapcount word that hold the mapcount (up to
/// 16 M ptes per page); the rest count changes.
pub const MAPCOUNT_BITS: u32 = 24;
const MAPCOUNT_MASK: u32 = (1 << MAPCOUNT_BITS) - 1;
const MAPCOUNT_SEQ_ONE: u32 = 1 << MAPCOUNT_BITS;

/// Pages in use by kind ([`PageMetaArray::page_counts`]), in pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageCounts {
    /// Referenced `ANON` pages (Linux `NR_ANON_MAPPED`).
    pub anon: u64,
    /// Pages on the LRU and evictable (on one of the lists of
    /// [`crate::lru`]).
    pub evictable_lru: u64,
    /// Pages on the unevictable LRU (Linux `NR_UNEVICTABLE`).
    pub unevictable: u64,
}

/// A consistent snapshot of a page's flags and mlock count.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageState {
    pub flags: PageFlags,
    pub mlock_count: u32,
}

impl PageState {
    const fn pack(self) -> u64 {
        (self.mlock_count as u64) << 32 | self.flags.bits() as u64
    }

    const fn unpack(word: u64) -> PageState {
        PageState { flags: PageFlags::from_bits_retain(word as u32), mlock_count: (word >> 32) as u32 }
    }

    pub fn mlocked(self) -> bool {
        self.flags.contains(PageFlags::MLOCKED)
    }
}

/// Why a page-metadata call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageMetaError {
    /// The reference count is zero: the page is free.
    RefcountZero,
    /// The reference count would overflow.
    RefcountOverflow,
    /// `prep_new_page` on a page that has references or flags.
    PageInUse,
    /// The page is already on the LRU.
    OnLru,
    /// The heap could not provide the metadata array.
    NoMemory,
}

/// What an mlock operation did to the page's `MLOCKED` flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MlockTransition {
    /// Was not mlocked, now is (`nr_mlock` went up by one).
    Mlocked,
    /// Was mlocked and still is (only `mlock_count` may have changed).
    StillMlocked,
    /// Was mlocked, no longer is (`nr_mlock` went down by one).
    Munlocked,
    /// Was not mlocked and still is not.
    NotMlocked,
}

impl MlockTransition {
    fn between(old: PageState, new: PageState) -> MlockTransition {
        match (old.mlocked(), new.mlocked()) {
            (false, true) => MlockTransition::Mlocked,
            (true, true) => MlockTransition::StillMlocked,
            (true, false) => MlockTransition::Munlocked,
            (false, false) => MlockTransition::NotMlocked,
        }
    }

    /// Whether the `MLOCKED` flag changed.
    pub fn changed(self) -> bool {
        matches!(self, MlockTransition::Mlocked | MlockTransition::Munlocked)
    }

    /// Whether the page is mlocked afterwards.
    pub fn is_mlocked(self) -> bool {
        matches!(self, MlockTransition::Mlocked | MlockTransition::StillMlocked)
    }
}

/// Metadata of one physical frame (32 bytes).
///
/// All-zero bytes are a valid `PageMeta` of a free frame (equal to
/// [`PageMeta::new`]), so the kernel may build a `&'static [PageMeta]` over
/// zeroed memory it carved out before its heap exists.
#[derive(Debug, Default)]
#[repr(C)]
pub struct PageMeta {
    /// Linux `_refcount`: 0 while the frame is free.
    refcount: AtomicU32,
    /// Linux `_mapcount + 1`: the number of ptes mapping the page, in all
    /// address spaces (see [`crate::rmap`]), in the low [`MAPCOUNT_BITS`];
    /// above them a count of the changes (wrapping), so that a reader can
    /// tell a page whose ptes changed while it looked even when as many
    /// came as went ([`PageMeta::rmap_seq`]).
    mapcount: AtomicU32,
    /// [`PageState`] packed: flags in bits 0..32, `mlock_count` in 32..64.
    state: AtomicU64,
    /// Linux `folio->index` of an anonymous page: its linear index in its
    /// anon_vma, set when it is first mapped (see [`crate::rmap`]).
    index: AtomicU64,
    /// Linux `folio->mapping` of an anonymous page: the id of its
    /// anon_vma (0: none), by which reclaim finds the address spaces that
    /// may map it ([`crate::rmap::AnonVmaRegistry`]).
    mapping: AtomicU64,
}

impl PageMeta {
    /// Metadata of a free frame: no references, no flags.
    pub const fn new() -> PageMeta {
        PageMeta {
            refcount: AtomicU32::new(0),
            mapcount: AtomicU32::new(0),
            state: AtomicU64::new(0),
            index: AtomicU64::new(0),
            mapping: AtomicU64::new(0),
        }
    }

    /// Linux `folio_mapcount`: ptes mapping the page, in every address
    /// space.
    pub fn mapcount(&self) -> u32 {
        self.mapcount.load(Ordering::Acquire) & MAPCOUNT_MASK
    }

    /// The number of mapcount changes so far, wrapping at `2^(32 -
    /// MAPCOUNT_BITS)`: equal before and after a walk of the page's ptes
    /// (and the same mapcount), no pte came or went meanwhile, barring
    /// that many changes.
    pub fn rmap_seq(&self) -> u32 {
        self.mapcount.load(Ordering::Acquire) >> MAPCOUNT_BITS
    }

    /// One more pte maps the page (Linux `folio_add_*_rmap_pte`).
    pub fn add_mapcount(&self) {
        let old = self.mapcount.fetch_add(MAPCOUNT_SEQ_ONE + 1, Ordering::AcqRel);
        debug_assert!(old & MAPCOUNT_MASK < MAPCOUNT_MASK, "mapcount overflow");
    }

    /// One pte mapping the page went away (Linux `folio_remove_rmap_pte`).
    pub fn remove_mapcount(&self) {
        let old = self.mapcount.fetch_add(MAPCOUNT_SEQ_ONE.wrapping_sub(1), Ordering::AcqRel);
        debug_assert!(old & MAPCOUNT_MASK > 0, "mapcount underflow");
    }

    /// Linux `folio->index` of an anonymous page (see [`crate::rmap`]).
    pub fn index(&self) -> u64 {
        self.index.load(Ordering::Acquire)
    }

    /// Record the page's linear index (when it is first mapped).
    pub fn set_index(&self, index: u64) {
        self.index.store(index, Ordering::Release);
    }

    /// The id of an anonymous page's anon_vma (0: none recorded).
    pub fn mapping(&self) -> u64 {
        self.mapping.load(Ordering::Acquire)
    }

    /// Record the page's anon_vma (when it is first mapped).
    pub fn set_mapping(&self, anon_vma_id: u64) {
        self.mapping.store(anon_vma_id, Ordering::Release);
    }

    /// Linux `page_ref_count`.
    pub fn page_ref_count(&self) -> u32 {
        self.refcount.load(Ordering::Acquire)
    }

    /// Flags and mlock count, read together.
    pub fn state(&self) -> PageState {
        PageState::unpack(self.state.load(Ordering::Acquire))
    }

    pub fn flags(&self) -> PageFlags {
        self.state().flags
    }

    /// Linux `folio->mlock_count`: meaningful while the page is on the LRU
    /// and `UNEVICTABLE`; always 0 when the page is not `MLOCKED`.
    pub fn mlock_count(&self) -> u32 {
        self.state().mlock_count
    }

    /// Linux `folio_test_mlocked`.
    pub fn is_mlocked(&self) -> bool {
        self.flags().contains(PageFlags::MLOCKED)
    }

    /// Linux `folio_test_unevictable`.
    pub fn is_unevictable(&self) -> bool {
        self.flags().contains(PageFlags::UNEVICTABLE)
    }

    /// Linux `folio_test_lru`.
    pub fn on_lru(&self) -> bool {
        self.flags().contains(PageFlags::LRU)
    }

    /// Linux `folio_test_anon`.
    pub fn is_anon(&self) -> bool {
        self.flags().contains(PageFlags::ANON)
    }

    /// Linux `PageAnonExclusive`.
    pub fn is_anon_exclusive(&self) -> bool {
        self.flags().contains(PageFlags::ANON_EXCLUSIVE)
    }

    /// Set or clear `ANON_EXCLUSIVE` (see [`PageFlags::ANON_EXCLUSIVE`]).
    pub fn set_anon_exclusive(&self, exclusive: bool) {
        let bit = u64::from(PageFlags::ANON_EXCLUSIVE.bits());
        if exclusive {
            self.state.fetch_or(bit, Ordering::AcqRel);
        } else {
            self.state.fetch_and(!bit, Ordering::AcqRel);
        }
    }

    /// Linux `folio_test_set_referenced` / `folio_test_clear_referenced`:
    /// set or clear `REFERENCED`; returns whether it was set.
    pub fn test_set_referenced(&self, on: bool) -> bool {
        let bit = u64::from(PageFlags::REFERENCED.bits());
        let old = if on { self.state.fetch_or(bit, Ordering::AcqRel) } else { self.state.fetch_and(!bit, Ordering::AcqRel) };
        old & bit != 0
    }

    /// Set or clear `RECLAIM` (see [`PageFlags::RECLAIM`]); returns
    /// whether it was set.
    pub fn test_set_reclaim(&self, on: bool) -> bool {
        let bit = u64::from(PageFlags::RECLAIM.bits());
        let old = if on { self.state.fetch_or(bit, Ordering::AcqRel) } else { self.state.fetch_and(!bit, Ordering::AcqRel) };
        old & bit != 0
    }

    /// Mark the page anonymous (done when it is first mapped; cleared when
    /// it is freed).
    pub fn set_anon(&self) {
        self.state.fetch_or(u64::from(PageFlags::ANON.bits()), Ordering::AcqRel);
    }

    /// Linux `prep_new_page`/`set_page_refcounted`: a frame fresh from the
    /// frame allocator gets its first reference. Refused with `PageInUse`
    /// if the page still has references or flags (a frame allocator bug).
    pub fn prep_new_page(&self) -> Result<(), PageMetaError> {
        if self.state.load(Ordering::Acquire) != 0 {
            return Err(PageMetaError::PageInUse);
        }
        self.refcount
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| ())
            .map_err(|_| PageMetaError::PageInUse)
    }

    /// Linux `get_page`: take one more reference. Refused on a free page
    /// (refcount 0: taking a reference would resurrect it) and on overflow.
    pub fn get_page(&self) -> Result<(), PageMetaError> {
        update_refcount(&self.refcount, |r| match r {
            0 => Err(PageMetaError::RefcountZero),
            u32::MAX => Err(PageMetaError::RefcountOverflow),
            r => Ok(r + 1),
        })
        .map(|_| ())
    }

    /// Apply `f` to the packed state atomically; returns (old, new).
    fn update<E>(&self, mut f: impl FnMut(PageState) -> Result<PageState, E>) -> Result<(PageState, PageState), E> {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            let old = PageState::unpack(cur);
            let new = f(old)?;
            match self.state.compare_exchange_weak(cur, new.pack(), Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok((old, new)),
                Err(seen) => cur = seen,
            }
        }
    }

    /// Infallible [`update`](Self::update).
    fn modify(&self, mut f: impl FnMut(PageState) -> PageState) -> (PageState, PageState) {
        match self.update::<core::convert::Infallible>(|s| Ok(f(s))) {
            Ok(pair) => pair,
            Err(never) => match never {},
        }
    }
}

/// Compare-and-swap loop on a reference count; returns the old value.
fn update_refcount(refcount: &AtomicU32, f: impl Fn(u32) -> Result<u32, PageMetaError>) -> Result<u32, PageMetaError> {
    let mut cur = refcount.load(Ordering::Acquire);
    loop {
        let new = f(cur)?;
        match refcount.compare_exchange_weak(cur, new, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(cur),
            Err(seen) => cur = seen,
        }
    }
}

/// A snapshot of the mlock-related vmstat counters of one array (Linux
/// `/proc/vmstat` names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MlockStats {
    /// `nr_mlock`: pages currently `MLOCKED`.
    pub nr_mlock: u64,
    /// `unevictable_pgs_mlocked`: `MLOCKED` set.
    pub unevictable_pgs_mlocked: u64,
    /// `unevictable_pgs_munlocked`: `MLOCKED` cleared by munlock.
    pub unevictable_pgs_munlocked: u64,
    /// `unevictable_pgs_culled`: moved onto the unevictable LRU.
    pub unevictable_pgs_culled: u64,
    /// `unevictable_pgs_rescued`: moved off the unevictable LRU.
    pub unevictable_pgs_rescued: u64,
    /// `unevictable_pgs_stranded`: munlocked while isolated and unevictable.
    pub unevictable_pgs_stranded: u64,
    /// `unevictable_pgs_cleared`: freed while still `MLOCKED`.
    pub unevictable_pgs_cleared: u64,
}

#[derive(Debug, Default)]
struct VmStat {
    /// Signed: an increment may land after the matching decrement of a
    /// racing munlock; the sum is right once both are done.
    nr_mlock: AtomicI64,
    mlocked: AtomicU64,
    munlocked: AtomicU64,
    culled: AtomicU64,
    rescued: AtomicU64,
    stranded: AtomicU64,
    cleared: AtomicU64,
    /// Pages held by shmem objects (Linux `NR_SHMEM`).
    nr_shmem: AtomicU64,
}

fn count(event: &AtomicU64) {
    event.fetch_add(1, Ordering::Relaxed);
}

/// Where the `PageMeta`s live.
enum Pages {
    /// Carved out of physical memory by the kernel before its heap.
    Static(&'static [PageMeta]),
    Owned(Vec<PageMeta>),
}

/// The `PageMeta`s of the frames `[base_pfn, base_pfn + len)` and their
/// mlock statistics (one Linux zone, as far as these counters go).
///
/// The mlock operations take a `&PageMeta` obtained from this array's
/// [`get`](Self::get); a page from another array would be counted here.
pub struct PageMetaArray {
    pages: Pages,
    base_pfn: u64,
    stat: VmStat,
    /// The evictable LRU lists of these pages ([`crate::lru`]).
    lru: Lruvec,
    /// The machine's swap devices ([`crate::swap`]).
    swap: Swap,
    /// The anon_vmas reclaim can find pages' mappings through.
    anon_vmas: AnonVmaRegistry,
}

impl PageMetaArray {
    /// Metadata for `npages` frames from `base_pfn`, on the heap (24 bytes
    /// a frame). Errors: `NoMemory` if the heap cannot provide it.
    pub fn new(base_pfn: u64, npages: usize) -> Result<PageMetaArray, PageMetaError> {
        let mut v = Vec::new();
        v.try_reserve_exact(npages).map_err(|_| PageMetaError::NoMemory)?;
        v.resize_with(npages, PageMeta::new);
        let lru = Lruvec::new(npages).ok_or(PageMetaError::NoMemory)?;
        Ok(PageMetaArray {
            pages: Pages::Owned(v),
            base_pfn,
            stat: VmStat::default(),
            lru,
            swap: Swap::new(),
            anon_vmas: AnonVmaRegistry::default(),
        })
    }

    /// Metadata over caller-provided storage (every entry should be
    /// [`PageMeta::new`]); `pages[i]` describes pfn `base_pfn + i`.
    pub fn from_static(pages: &'static [PageMeta], base_pfn: u64) -> PageMetaArray {
        let lru = Lruvec::new(pages.len()).expect("LRU links for a static page array");
        PageMetaArray {
            pages: Pages::Static(pages),
            base_pfn,
            stat: VmStat::default(),
            lru,
            swap: Swap::new(),
            anon_vmas: AnonVmaRegistry::default(),
        }
    }

    fn slice(&self) -> &[PageMeta] {
        match &self.pages {
            Pages::Static(s) => s,
            Pages::Owned(v) => v,
        }
    }

    /// First pfn described.
    pub fn base_pfn(&self) -> u64 {
        self.base_pfn
    }

    /// Number of frames described.
    pub fn len(&self) -> usize {
        self.slice().len()
    }

    pub fn is_empty(&self) -> bool {
        self.slice().is_empty()
    }

    /// The metadata of the frame containing physical address `pa`, or
    /// `None` outside the array.
    pub fn get(&self, pa: u64) -> Option<&PageMeta> {
        self.pfn_to_page(pa >> PAGE_SHIFT)
    }

    /// Linux `pfn_to_page`, checked.
    pub fn pfn_to_page(&self, pfn: u64) -> Option<&PageMeta> {
        let idx = usize::try_from(pfn.checked_sub(self.base_pfn)?).ok()?;
        self.slice().get(idx)
    }

    /// Linux `page_to_pfn`, checked: `None` if `page` is not an element of
    /// this array.
    pub fn page_to_pfn(&self, page: &PageMeta) -> Option<u64> {
        let slice = self.slice();
        let base = slice.as_ptr() as usize;
        let addr = page as *const PageMeta as usize;
        let offset = addr.checked_sub(base)?;
        let size = core::mem::size_of::<PageMeta>();
        let idx = offset / size;
        (offset % size == 0 && idx < slice.len()).then(|| self.base_pfn + idx as u64)
    }

    /// Linux `NR_MLOCK`: number of `MLOCKED` pages (0 while a racing
    /// update is half done and the sum is briefly negative).
    pub fn nr_mlock(&self) -> u64 {
        self.stat.nr_mlock.load(Ordering::Acquire).max(0) as u64
    }

    /// Pages held by shmem objects (Linux `NR_SHMEM`, meminfo's `Shmem`).
    pub fn nr_shmem(&self) -> u64 {
        self.stat.nr_shmem.load(Ordering::Relaxed)
    }

    /// A shmem object took (`true`) or dropped a page.
    pub(crate) fn account_shmem(&self, added: bool) {
        if added {
            self.stat.nr_shmem.fetch_add(1, Ordering::Relaxed);
        } else {
            self.stat.nr_shmem.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Count the pages in use by kind, for `/proc/meminfo` (one pass over
    /// every `PageMeta`; a snapshot, not atomic as a whole).
    pub fn page_counts(&self) -> PageCounts {
        let mut c = PageCounts::default();
        for p in self.slice().iter().filter(|p| p.page_ref_count() > 0) {
            let st = p.state();
            if st.flags.contains(PageFlags::ANON) {
                c.anon += 1;
            }
            if st.flags.contains(PageFlags::LRU) {
                if st.flags.contains(PageFlags::UNEVICTABLE) {
                    c.unevictable += 1;
                } else {
                    c.evictable_lru += 1;
                }
            }
        }
        c
    }
    /// The evictable LRU lists of these pages.
    pub fn lruvec(&self) -> &Lruvec {
        &self.lru
    }

    /// The machine's swap.
    pub fn swap(&self) -> &Swap {
        &self.swap
    }

    /// The anon_vmas reclaim walks.
    pub fn anon_vmas(&self) -> &AnonVmaRegistry {
        &self.anon_vmas
    }

    /// Lengths of the evictable LRU lists.
    pub fn lru_sizes(&self) -> LruSizes {
        self.lru.sizes()
    }

    /// The index of `folio` in this array (its pfn less the first pfn).
    pub fn index_of(&self, folio: &PageMeta) -> Option<usize> {
        self.page_to_pfn(folio).map(|pfn| (pfn - self.base_pfn) as usize)
    }

    /// The page at index `idx` of this array.
    pub fn page_at(&self, idx: usize) -> Option<&PageMeta> {
        self.slice().get(idx)
    }

    /// After `folio`'s state changed from `old` to `new`: if that moved it
    /// on or off the evictable LRU, put its list place in line with its
    /// state ([`Lruvec::sync`], which rereads the state under the lruvec
    /// lock). Every user page is swap-backed: it goes on the anonymous
    /// lists.
    ///
    /// Locking: takes the lruvec lock when the page moves.
    fn lru_follow(&self, folio: &PageMeta, old: PageState, new: PageState) {
        if on_evictable_lru(old) != on_evictable_lru(new) {
            if let Some(idx) = self.index_of(folio) {
                self.lru.sync(idx, LruList::InactiveAnon, || folio.state());
            }
        }
    }

    /// All mlock counters.
    pub fn stats(&self) -> MlockStats {
        let s = &self.stat;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        MlockStats {
            nr_mlock: self.nr_mlock(),
            unevictable_pgs_mlocked: get(&s.mlocked),
            unevictable_pgs_munlocked: get(&s.munlocked),
            unevictable_pgs_culled: get(&s.culled),
            unevictable_pgs_rescued: get(&s.rescued),
            unevictable_pgs_stranded: get(&s.stranded),
            unevictable_pgs_cleared: get(&s.cleared),
        }
    }

    fn account_mlocked(&self) {
        self.stat.nr_mlock.fetch_add(1, Ordering::AcqRel);
        count(&self.stat.mlocked);
    }

    /// Linux `mlock_folio` (with the batched `__mlock_folio` done at once):
    /// mlock a page found mapped in a `VM_LOCKED` vma. See the module
    /// documentation for the rules.
    ///
    /// Locking: `mmap_lock` held for write (the `mlock_pte_range` walk) or
    /// the page-table lock of the mapping being added.
    pub fn mlock_folio(&self, folio: &PageMeta) -> MlockTransition {
        let (old, new) = folio.modify(|mut s| {
            s.flags |= PageFlags::MLOCKED;
            if s.flags.contains(PageFlags::LRU) {
                if s.flags.contains(PageFlags::UNEVICTABLE) {
                    s.mlock_count = s.mlock_count.saturating_add(1);
                } else {
                    s.flags |= PageFlags::UNEVICTABLE;
                    s.mlock_count = 1;
                }
            }
            // Off the LRU: nothing more can be done; the mlock goes uncounted.
            s
        });
        if !old.mlocked() {
            self.account_mlocked();
        }
        if !old.flags.contains(PageFlags::UNEVICTABLE) && new.flags.contains(PageFlags::UNEVICTABLE) {
            count(&self.stat.culled);
        }
        self.lru_follow(folio, old, new);
        MlockTransition::between(old, new)
    }

    /// Linux `mlock_new_folio`: a newly allocated page, not yet on the LRU,
    /// is about to be mapped into a `VM_LOCKED` vma. It becomes `MLOCKED`
    /// and `UNEVICTABLE` with `mlock_count = 1` and joins the LRU.
    ///
    /// Errors: `OnLru` if the page is already on the LRU (then nothing
    /// changes; use [`mlock_folio`](Self::mlock_folio)).
    ///
    /// Locking: `mmap_lock` held (at least for read), page-table lock held.
    pub fn mlock_new_folio(&self, folio: &PageMeta) -> Result<MlockTransition, PageMetaError> {
        let (old, new) = folio.update(|mut s| {
            if s.flags.contains(PageFlags::LRU) {
                return Err(PageMetaError::OnLru);
            }
            s.flags |= PageFlags::MLOCKED | PageFlags::UNEVICTABLE | PageFlags::LRU;
            s.mlock_count = 1;
            Ok(s)
        })?;
        if !old.mlocked() {
            self.account_mlocked();
        }
        count(&self.stat.culled);
        Ok(MlockTransition::between(old, new))
    }

    /// Linux `munlock_folio` (with the batched `__munlock_folio` done at
    /// once): one `VM_LOCKED` mapping of the page is going away. See the
    /// module documentation for the rules. On a page that is not mlocked
    /// this changes nothing and returns `NotMlocked`.
    ///
    /// Locking: as for [`mlock_folio`](Self::mlock_folio).
    pub fn munlock_folio(&self, folio: &PageMeta) -> MlockTransition {
        let (old, new) = folio.modify(|mut s| {
            let isolated = !s.flags.contains(PageFlags::LRU);
            if !isolated && s.flags.contains(PageFlags::UNEVICTABLE) {
                // Then mlock_count is maintained, but might undercount.
                s.mlock_count = s.mlock_count.saturating_sub(1);
                if s.mlock_count > 0 {
                    return s;
                }
            }
            // Otherwise assume that was the last mlock.
            s.flags -= PageFlags::MLOCKED;
            s.mlock_count = 0;
            if !isolated && !s.flags.contains(PageFlags::MAPPING_UNEVICTABLE) {
                // Evictable again (Linux `folio_evictable`, checked after
                // clearing `MLOCKED`): off the unevictable LRU.
                s.flags -= PageFlags::UNEVICTABLE;
            }
            s
        });
        if old.mlocked() && !new.mlocked() {
            self.stat.nr_mlock.fetch_sub(1, Ordering::AcqRel);
            let on_lru = old.flags.contains(PageFlags::LRU);
            if on_lru || !old.flags.contains(PageFlags::UNEVICTABLE) {
                count(&self.stat.munlocked);
            } else {
                count(&self.stat.stranded);
            }
        }
        if old.flags.contains(PageFlags::UNEVICTABLE) && !new.flags.contains(PageFlags::UNEVICTABLE) {
            count(&self.stat.rescued);
        }
        self.lru_follow(folio, old, new);
        MlockTransition::between(old, new)
    }

    /// Linux `lru_add` (`folio_add_lru`/`folio_putback_lru`): put a page on
    /// the LRU. An `MLOCKED` page, or one of an unevictable mapping, goes
    /// to the unevictable LRU with `mlock_count = 0` (Linux underestimates
    /// on purpose); any other page leaves it. Errors: `OnLru` if already on the LRU.
    pub fn folio_add_lru(&self, folio: &PageMeta) -> Result<(), PageMetaError> {
        self.lru_add(folio, LruList::InactiveAnon)
    }

    /// The page's mapping became unevictable (Linux
    /// `mapping_set_unevictable`, seen through the page): it stays on the
    /// LRU it is on; a later [`folio_add_lru`](Self::folio_add_lru) or
    /// munlock keeps it unevictable.
    pub fn folio_set_mapping_unevictable(&self, folio: &PageMeta) {
        folio.modify(|mut s| {
            s.flags |= PageFlags::MAPPING_UNEVICTABLE;
            s
        });
    }

    /// Linux `mapping_clear_unevictable` with `check_move_unevictable_folios`
    /// for one page: its mapping is evictable again; a page on the
    /// unevictable LRU that is not `MLOCKED` goes back to the evictable
    /// one (`unevictable_pgs_rescued`).
    pub fn folio_clear_mapping_unevictable(&self, folio: &PageMeta) {
        let (old, new) = folio.modify(|mut s| {
            s.flags -= PageFlags::MAPPING_UNEVICTABLE;
            if s.flags.contains(PageFlags::LRU) && !s.mlocked() {
                s.flags -= PageFlags::UNEVICTABLE;
                s.mlock_count = 0;
            }
            s
        });
        if old.flags.contains(PageFlags::UNEVICTABLE) && !new.flags.contains(PageFlags::UNEVICTABLE) {
            count(&self.stat.rescued);
        }
        self.lru_follow(folio, old, new);
    }

    /// Linux `folio_isolate_lru` (the flag part: `folio_test_clear_lru`):
    /// take the page off the LRU. Returns `false` if it was not on it.
    /// While isolated, `mlock_folio` cannot count and `munlock_folio`
    /// clears `MLOCKED` at once.
    pub fn folio_isolate_lru(&self, folio: &PageMeta) -> bool {
        let (old, new) = folio.modify(|mut s| {
            s.flags -= PageFlags::LRU;
            s
        });
        self.lru_follow(folio, old, new);
        old.flags.contains(PageFlags::LRU)
    }

    /// Linux `folio_test_clear_lru`, for reclaim isolating a page under
    /// the lruvec lock (which has already unlinked it): clear `LRU`;
    /// `false` if it was not set.
    ///
    /// Locking: the lruvec lock held (so no list sync here).
    pub(crate) fn folio_test_clear_lru(&self, folio: &PageMeta) -> bool {
        let (old, _) = folio.modify(|mut s| {
            s.flags -= PageFlags::LRU;
            s
        });
        old.flags.contains(PageFlags::LRU)
    }

    /// Linux `folio_putback_lru`: an isolated page goes back on the LRU,
    /// at the head of `list` if it is evictable (reclaim activating it, or
    /// rotating it), else on the unevictable list as
    /// [`folio_add_lru`](Self::folio_add_lru) decides.
    ///
    /// Locking: takes the lruvec lock.
    pub fn folio_putback_lru(&self, folio: &PageMeta, list: LruList) {
        let _ = self.lru_add(folio, list);
    }

    /// [`folio_add_lru`](Self::folio_add_lru) onto the head of `list` when
    /// the page is evictable.
    fn lru_add(&self, folio: &PageMeta, list: LruList) -> Result<(), PageMetaError> {
        let (old, new) = folio.update(|mut s| {
            if s.flags.contains(PageFlags::LRU) {
                return Err(PageMetaError::OnLru);
            }
            s.flags |= PageFlags::LRU;
            if s.mlocked() || s.flags.contains(PageFlags::MAPPING_UNEVICTABLE) {
                s.flags |= PageFlags::UNEVICTABLE;
                s.mlock_count = 0;
            } else {
                s.flags -= PageFlags::UNEVICTABLE;
            }
            Ok(s)
        })?;
        let (was, is) = (old.flags.contains(PageFlags::UNEVICTABLE), new.flags.contains(PageFlags::UNEVICTABLE));
        if was && !is {
            count(&self.stat.rescued);
        } else if !was && is {
            count(&self.stat.culled);
        }
        if let Some(idx) = self.index_of(folio) {
            self.lru.sync(idx, list, || folio.state());
        }
        Ok(())
    }

    /// Linux `folio_add_lru_vma`: a new page is being mapped into `vma`
    /// with flags `vm_flags`. In a `VM_LOCKED` vma that is not `VM_SPECIAL`
    /// it is mlocked ([`mlock_new_folio`](Self::mlock_new_folio)), otherwise
    /// just added to the LRU. Errors: `OnLru`.
    pub fn folio_add_lru_vma(&self, folio: &PageMeta, vm_flags: VmFlags) -> Result<MlockTransition, PageMetaError> {
        if vma_mlocks(vm_flags) {
            self.mlock_new_folio(folio)
        } else {
            self.folio_add_lru(folio)?;
            Ok(if folio.is_mlocked() { MlockTransition::StillMlocked } else { MlockTransition::NotMlocked })
        }
    }

    /// Linux `mlock_vma_folio`: called when a mapping of an existing page
    /// is added to a vma (rmap add). Mlocks only if the vma is `VM_LOCKED`
    /// and not `VM_SPECIAL`; `mlock_vma_pages_range` sets `VM_IO` while it
    /// walks so that such racing callers do not count a page the walk will
    /// count too.
    pub fn mlock_vma_folio(&self, folio: &PageMeta, vm_flags: VmFlags) -> MlockTransition {
        if vma_mlocks(vm_flags) {
            self.mlock_folio(folio)
        } else {
            unchanged(folio)
        }
    }

    /// Linux `munlock_vma_folio`: called when a mapping of the page is
    /// removed from a vma (rmap remove); munlocks if the vma is
    /// `VM_LOCKED`.
    pub fn munlock_vma_folio(&self, folio: &PageMeta, vm_flags: VmFlags) -> MlockTransition {
        if vm_flags.contains(VmFlags::LOCKED) {
            self.munlock_folio(folio)
        } else {
            unchanged(folio)
        }
    }

    /// Linux `put_page`: drop one reference. Returns `Ok(true)` when it was
    /// the last one: the page's flags and mlock count are then cleared (a
    /// page freed while `MLOCKED` leaves `nr_mlock` and counts as
    /// `unevictable_pgs_cleared`, as in Linux's `free_pages_prepare`), and
    /// the caller must return the frame to the frame allocator.
    ///
    /// Errors: `RefcountZero` if the page had no reference (nothing
    /// changes).
    #[track_caller]
    pub fn put_page(&self, folio: &PageMeta) -> Result<bool, PageMetaError> {
        let old = update_refcount(&folio.refcount, |r| r.checked_sub(1).ok_or(PageMetaError::RefcountZero))?;
        if old != 1 {
            return Ok(false);
        }
        // Last reference gone: nobody else can look at the page any more.
        debug_assert_eq!(folio.mapcount(), 0, "page freed while mapped");
        folio.index.store(0, Ordering::Release);
        folio.mapping.store(0, Ordering::Release);
        let state = PageState::unpack(folio.state.swap(0, Ordering::AcqRel));
        if state.mlocked() {
            self.stat.nr_mlock.fetch_sub(1, Ordering::AcqRel);
            count(&self.stat.cleared);
        }
        self.lru_follow(folio, state, PageState::default());
        Ok(true)
    }
}

/// Does a page in state `s` belong on an evictable LRU list?
fn on_evictable_lru(s: PageState) -> bool {
    s.flags.contains(PageFlags::LRU) && !s.flags.contains(PageFlags::UNEVICTABLE)
}

/// Linux's test in `mlock_vma_folio`/`folio_add_lru_vma`:
/// `(vm_flags & (VM_LOCKED | VM_SPECIAL)) == VM_LOCKED`.
fn vma_mlocks(vm_flags: VmFlags) -> bool {
    vm_flags.intersection(VmFlags::LOCKED | VmFlags::SPECIAL) == VmFlags::LOCKED
}

fn unchanged(folio: &PageMeta) -> MlockTransition {
    if folio.is_mlocked() {
        MlockTransition::StillMlocked
    } else {
        MlockTransition::NotMlocked
    }
}

#[cfg(test)]
mod tests {
    use super::MlockTransition::*;
    use super::*;
    use crate::addr::PAGE_SIZE;

    const UNEVICTABLE_MLOCKED: PageFlags = PageFlags::MLOCKED.union(PageFlags::UNEVICTABLE);

    /// An array of `n` pages at pfn 0x100, each allocated and on the LRU.
    fn pages_on_lru(n: usize) -> PageMetaArray {
        let a = PageMetaArray::new(0x100, n).unwrap();
        for i in 0..n {
            let p = a.pfn_to_page(0x100 + i as u64).unwrap();
            p.prep_new_page().unwrap();
            a.folio_add_lru(p).unwrap();
        }
        a
    }

    #[test]
    fn lru_lists_follow_mlock_munlock_and_free() {
        let a = pages_on_lru(3);
        let page = |i: u64| a.pfn_to_page(0x100 + i).unwrap();
        assert_eq!(a.lru_sizes().inactive_anon, 3);
        a.mlock_folio(page(0));
        assert_eq!(a.lruvec().list_of(0), None, "an mlocked page leaves the evictable lists");
        a.mlock_folio(page(0));
        a.munlock_folio(page(0));
        assert_eq!(a.lruvec().list_of(0), None, "still locked once");
        a.munlock_folio(page(0));
        assert_eq!(a.lruvec().list_of(0), Some(LruList::InactiveAnon), "munlock rescues it");
        assert!(a.folio_isolate_lru(page(1)));
        assert_eq!(a.lruvec().list_of(1), None);
        a.folio_add_lru(page(1)).unwrap();
        assert_eq!(a.lruvec().list_of(1), Some(LruList::InactiveAnon));
        assert_eq!(a.put_page(page(2)), Ok(true));
        assert_eq!(a.lruvec().list_of(2), None, "a freed page is on no list");
        let new = PageMetaArray::new(0, 1).unwrap();
        let p = new.pfn_to_page(0).unwrap();
        p.prep_new_page().unwrap();
        new.mlock_new_folio(p).unwrap();
        assert_eq!(new.lru_sizes().inactive_anon, 0);
        new.munlock_folio(p);
        assert_eq!(new.lru_sizes().inactive_anon, 1);
        a.lruvec().check().unwrap();
        new.lruvec().check().unwrap();
    }

    #[test]
    fn lru_lists_stay_consistent_under_racing_mlock_and_munlock() {
        let a = std::sync::Arc::new(pages_on_lru(16));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let a = a.clone();
                std::thread::spawn(move || {
                    for k in 0..5000u64 {
                        let p = a.pfn_to_page(0x100 + (k * 7 + t) % 16).unwrap();
                        a.mlock_folio(p);
                        a.munlock_folio(p);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // Every lock was matched by an unlock: all pages evictable again.
        assert_eq!(a.lru_sizes().inactive_anon, 16);
        a.lruvec().check().unwrap();
    }

    #[test]
    fn get_by_physical_address() {
        let a = PageMetaArray::new(0x100, 4).unwrap();
        assert!(a.get(0x100 * PAGE_SIZE).is_some());
        assert!(a.get(0x103 * PAGE_SIZE + 0xfff).is_some());
        assert!(a.get(0x104 * PAGE_SIZE).is_none());
        assert!(a.get(0xff * PAGE_SIZE).is_none());
        assert!(a.get(u64::MAX).is_none());
        let p = a.get(0x102 * PAGE_SIZE + 8).unwrap();
        assert_eq!(a.page_to_pfn(p), Some(0x102));
        // A page of another array is not ours.
        let other = PageMetaArray::new(0x100, 4).unwrap();
        assert_eq!(a.page_to_pfn(other.get(0x100 * PAGE_SIZE).unwrap()), None);
        let lone = PageMeta::new();
        assert_eq!(a.page_to_pfn(&lone), None);
    }

    #[test]
    fn page_meta_is_32_bytes() {
        assert_eq!(core::mem::size_of::<PageMeta>(), 32);
    }

    #[test]
    fn huge_array_is_an_error_not_an_abort() {
        assert!(matches!(PageMetaArray::new(0, usize::MAX / 2), Err(PageMetaError::NoMemory)));
    }

    #[test]
    fn static_storage() {
        let storage: &'static [PageMeta] = Box::leak((0..8).map(|_| PageMeta::new()).collect::<Vec<_>>().into_boxed_slice());
        let a = PageMetaArray::from_static(storage, 0);
        assert_eq!(a.len(), 8);
        assert_eq!(a.page_to_pfn(a.get(7 * PAGE_SIZE).unwrap()), Some(7));
        assert!(a.get(8 * PAGE_SIZE).is_none());
    }

    #[test]
    fn refcounting() {
        let a = PageMetaArray::new(0, 1).unwrap();
        let p = a.pfn_to_page(0).unwrap();
        assert_eq!(p.get_page(), Err(PageMetaError::RefcountZero));
        assert_eq!(a.put_page(p), Err(PageMetaError::RefcountZero));
        p.prep_new_page().unwrap();
        assert_eq!(p.prep_new_page(), Err(PageMetaError::PageInUse));
        p.get_page().unwrap();
        assert_eq!(p.page_ref_count(), 2);
        assert_eq!(a.put_page(p), Ok(false));
        assert_eq!(a.put_page(p), Ok(true));
        assert_eq!(p.page_ref_count(), 0);
        assert_eq!(a.put_page(p), Err(PageMetaError::RefcountZero));
        // Free again: can be prepared again.
        p.prep_new_page().unwrap();
    }

    #[test]
    fn refcount_overflow_is_an_error() {
        let p = PageMeta::new();
        p.refcount.store(u32::MAX, Ordering::Relaxed);
        assert_eq!(p.get_page(), Err(PageMetaError::RefcountOverflow));
        assert_eq!(p.page_ref_count(), u32::MAX);
    }

    #[test]
    fn mlock_new_folio_then_counted_mlocks() {
        let a = PageMetaArray::new(0, 1).unwrap();
        let p = a.pfn_to_page(0).unwrap();
        p.prep_new_page().unwrap();
        // Faulted into a VM_LOCKED vma.
        assert_eq!(a.mlock_new_folio(p), Ok(Mlocked));
        assert_eq!(p.flags(), UNEVICTABLE_MLOCKED | PageFlags::LRU);
        assert_eq!(p.mlock_count(), 1);
        assert_eq!(a.nr_mlock(), 1);
        // Two more locked mappings (e.g. fork-shared, or another vma).
        assert_eq!(a.mlock_folio(p), StillMlocked);
        assert_eq!(a.mlock_folio(p), StillMlocked);
        assert_eq!(p.mlock_count(), 3);
        assert_eq!(a.nr_mlock(), 1);
        assert_eq!(a.munlock_folio(p), StillMlocked);
        assert_eq!(a.munlock_folio(p), StillMlocked);
        assert_eq!(p.mlock_count(), 1);
        assert_eq!(a.munlock_folio(p), Munlocked);
        assert_eq!(p.flags(), PageFlags::LRU);
        assert_eq!(p.mlock_count(), 0);
        assert_eq!(a.nr_mlock(), 0);
        // An unbalanced munlock is a no-op.
        assert_eq!(a.munlock_folio(p), NotMlocked);
        assert_eq!(a.nr_mlock(), 0);
        let s = a.stats();
        assert_eq!(s.unevictable_pgs_mlocked, 1);
        assert_eq!(s.unevictable_pgs_munlocked, 1);
        assert_eq!(s.unevictable_pgs_culled, 1);
        assert_eq!(s.unevictable_pgs_rescued, 1);
    }

    #[test]
    fn mlock_folio_on_lru_first_time() {
        let a = pages_on_lru(1);
        let p = a.pfn_to_page(0x100).unwrap();
        assert_eq!(p.flags(), PageFlags::LRU);
        assert_eq!(a.mlock_folio(p), Mlocked);
        assert_eq!(p.flags(), UNEVICTABLE_MLOCKED | PageFlags::LRU);
        assert_eq!(p.mlock_count(), 1);
        assert_eq!(a.nr_mlock(), 1);
    }

    #[test]
    fn mlock_new_folio_refuses_page_on_lru() {
        let a = pages_on_lru(1);
        let p = a.pfn_to_page(0x100).unwrap();
        assert_eq!(a.mlock_new_folio(p), Err(PageMetaError::OnLru));
        assert_eq!(p.flags(), PageFlags::LRU);
        assert_eq!(a.nr_mlock(), 0);
        assert_eq!(a.folio_add_lru(p), Err(PageMetaError::OnLru));
    }

    #[test]
    fn off_lru_mlock_is_not_counted_and_munlock_clears_at_once() {
        let a = pages_on_lru(1);
        let p = a.pfn_to_page(0x100).unwrap();
        assert_eq!(a.mlock_folio(p), Mlocked); // count 1
        assert!(a.folio_isolate_lru(p));
        assert!(!a.folio_isolate_lru(p));
        // Second locked mapping while isolated: flag only, not counted.
        assert_eq!(a.mlock_folio(p), StillMlocked);
        assert_eq!(p.mlock_count(), 1);
        // Munlock while isolated assumes it was the last mlock.
        assert_eq!(a.munlock_folio(p), Munlocked);
        assert_eq!(p.mlock_count(), 0);
        assert_eq!(a.nr_mlock(), 0);
        // Still flagged UNEVICTABLE: stranded until it is put back.
        assert_eq!(p.flags(), PageFlags::UNEVICTABLE);
        assert_eq!(a.stats().unevictable_pgs_stranded, 1);
        a.folio_add_lru(p).unwrap();
        assert_eq!(p.flags(), PageFlags::LRU);
        assert_eq!(a.stats().unevictable_pgs_rescued, 1);
    }

    #[test]
    fn putback_of_mlocked_page_undercounts() {
        let a = pages_on_lru(1);
        let p = a.pfn_to_page(0x100).unwrap();
        a.mlock_folio(p);
        a.mlock_folio(p);
        assert_eq!(p.mlock_count(), 2);
        a.folio_isolate_lru(p);
        a.folio_add_lru(p).unwrap();
        // Linux lru_add: mlocked page goes unevictable with mlock_count = 0.
        assert_eq!(p.flags(), UNEVICTABLE_MLOCKED | PageFlags::LRU);
        assert_eq!(p.mlock_count(), 0);
        // The first munlock clears it although one locked mapping remains:
        // an undercount, never an overcount.
        assert_eq!(a.munlock_folio(p), Munlocked);
        assert_eq!(a.munlock_folio(p), NotMlocked);
        assert_eq!(a.nr_mlock(), 0);
    }

    #[test]
    fn vma_helpers_follow_linux_flag_tests() {
        let a = PageMetaArray::new(0, 3).unwrap();
        let locked = VmFlags::READ | VmFlags::WRITE | VmFlags::LOCKED;
        let p0 = a.pfn_to_page(0).unwrap();
        let p1 = a.pfn_to_page(1).unwrap();
        let p2 = a.pfn_to_page(2).unwrap();
        assert_eq!(a.folio_add_lru_vma(p0, locked), Ok(Mlocked));
        assert_eq!(a.folio_add_lru_vma(p1, VmFlags::READ), Ok(NotMlocked));
        assert_eq!(p1.flags(), PageFlags::LRU);
        // VM_IO (set during the mlock walk) hides VM_LOCKED from rmap adds.
        assert_eq!(a.folio_add_lru_vma(p2, locked | VmFlags::IO), Ok(NotMlocked));
        assert_eq!(a.mlock_vma_folio(p1, locked | VmFlags::IO), NotMlocked);
        assert_eq!(a.mlock_vma_folio(p1, locked), Mlocked);
        assert_eq!(a.mlock_vma_folio(p0, VmFlags::READ), StillMlocked);
        assert_eq!(p0.mlock_count(), 1);
        assert_eq!(a.munlock_vma_folio(p0, VmFlags::READ), StillMlocked);
        assert_eq!(a.munlock_vma_folio(p0, locked), Munlocked);
        assert_eq!(a.nr_mlock(), 1);
    }

    #[test]
    fn freeing_an_mlocked_page_clears_it() {
        let a = PageMetaArray::new(0, 1).unwrap();
        let p = a.pfn_to_page(0).unwrap();
        p.prep_new_page().unwrap();
        p.set_anon();
        a.mlock_new_folio(p).unwrap();
        assert_eq!(a.nr_mlock(), 1);
        assert_eq!(a.put_page(p), Ok(true));
        assert_eq!(p.state(), PageState::default());
        assert_eq!(a.nr_mlock(), 0);
        assert_eq!(a.stats().unevictable_pgs_cleared, 1);
        p.prep_new_page().unwrap();
    }

    #[test]
    fn anon_flag_survives_mlock_changes() {
        let a = pages_on_lru(1);
        let p = a.pfn_to_page(0x100).unwrap();
        p.set_anon();
        a.mlock_folio(p);
        a.munlock_folio(p);
        assert!(p.is_anon() && p.on_lru() && !p.is_unevictable());
    }

    #[test]
    fn concurrent_mlocks_count_exactly() {
        use std::sync::Arc;
        let a = Arc::new(pages_on_lru(2));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let a = Arc::clone(&a);
                std::thread::spawn(move || {
                    let p = a.pfn_to_page(0x100).unwrap();
                    let q = a.pfn_to_page(0x101).unwrap();
                    for _ in 0..1000 {
                        a.mlock_folio(p);
                        a.mlock_folio(q);
                        a.munlock_folio(q);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let p = a.pfn_to_page(0x100).unwrap();
        let q = a.pfn_to_page(0x101).unwrap();
        assert_eq!(p.mlock_count(), 4000);
        assert!(p.is_mlocked() && !q.is_mlocked());
        assert_eq!(q.mlock_count(), 0);
        assert_eq!(a.nr_mlock(), 1);
    }
}
