//! Page reclaim (Linux `mm/vmscan.c`): take anonymous pages off the tail
//! of the inactive LRU list, write them to swap and free their frames.
//!
//! [`shrink_lruvec`] frees up to a number of pages, a cluster of
//! [`SWAP_CLUSTER_MAX`] at a time:
//!
//! - When the inactive anonymous list is shorter than the active one, a
//!   cluster moves from the active tail to the inactive head, its accessed
//!   bits cleared on the way (with no TLB flush, as on x86 Linux) (Linux `shrink_active_list`, which deactivates
//!   anonymous pages whether referenced or not).
//! - A cluster is isolated from the inactive tail (each page with a
//!   reference taken and `LRU` cleared) and each page decided on
//!   (`shrink_folio_list`):
//!   - a shmem object's page: [`shrink_shmem_folio`], below;
//!   - anonymous without an anon_vma reclaim can walk: back to the list;
//!   - pinned (more references than mappings and ours): back to the list;
//!   - found by the reverse-map walk in a `VM_LOCKED` vma: it gets the
//!     mlock it missed and goes back as unevictable (Linux "culls" it);
//!     in a vma under the `VM_IO` guard of `mlock_vma_pages_range`: left
//!     alone (that walk counts it);
//!   - referenced (an accessed bit set since the last look): kept on the
//!     inactive list with `REFERENCED` set the first time, activated the
//!     second (Linux's second chance for pages used once);
//!   - otherwise swapped out: a slot is taken, every pte mapping the page
//!     is write-protected (so its contents stop changing: a write now
//!     faults and copies), the page is written to the slot, every pte
//!     becomes a swap entry naming the slot (one slot count each), and
//!     the frame is freed once no mapping and no reference but reclaim's
//!     is left. A page still mapped after that (a `VM_LOCKED` vma met on
//!     the way, a mapping that came back) goes back to the list; the swap
//!     entries made meanwhile read the written copy back.
//! - A shmem page (shared memory, tmpfs, SysV) is looked at the same way
//!   (its ptes found through its object's `i_mmap`); culled also when its
//!   object is `SHM_LOCK`ed; otherwise every pte mapping it is cleared,
//!   it is written to a slot, and the object's index names the slot
//!   instead, unless someone looked the page up meanwhile (see
//!   [`crate::shmem::swap`]).
//!
//! # Invariants
//!
//! - A swap entry in a page table names a slot whose contents are the
//!   page's as it was when its last writable pte was write-protected.
//! - A page is freed only with no pte mapping it (mapcount 0) and no
//!   other reference; every pte that mapped it is then a swap entry.
//! - `mlock_count` and `MLOCKED` are never changed here except through
//!   `mlock_vma_folio` (the missed mlock), so a page in a locked vma never
//!   leaves RAM.
//!
//! # Locking
//!
//! Runs with no mm lock held (from kswapd, or a fault or allocation that
//! dropped its locks). Takes the lruvec lock to isolate and put back, the
//! rmap locks and each mm's inner lock in turn through the walks, the
//! swap-map lock for counts; writes to the device with none of those
//! held. Never takes an `mmap_lock`.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::addr::PAGE_SIZE;
use crate::lru::LruList;
use crate::mm_struct::MmInner;
use crate::mmu_gather::MmuGather;
use crate::page_meta::{PageFlags, PageMeta, PageMetaArray};
use crate::pgtable::{PhysMem, PteFlags, TlbFlush};
use crate::rmap::{clear_young, rmap_walk_anon_vma, rmap_walk_shmem, AnonVma, RmapHit};
use crate::rwsem::RwSemBackend;
use crate::swap::swap_state::{swp_entry_to_pte, SwapEvent};
use crate::swap::swapfile::SwapEntry;
use crate::swap::SWAP_PAGE_SIZE;
use crate::vma::VmFlags;

/// Linux's default `vm.swappiness`.
pub const DEFAULT_SWAPPINESS: u32 = 60;
/// Linux `MAX_SWAPPINESS`: the largest `vm.swappiness`.
pub const MAX_SWAPPINESS: u32 = 200;

/// `vm.swappiness` (`/proc/sys/vm/swappiness`): how much reclaim prefers
/// anonymous pages to file pages, from 0 to [`MAX_SWAPPINESS`]. Linux's
/// `get_scan_count` splits a scan between the anonymous and the file
/// lists in proportion to it and to `MAX_SWAPPINESS` minus it, but when
/// the file lists are about empty it scans anonymous pages whatever the
/// value, and 0 stops swapping only in a memory cgroup's own reclaim.
/// Every Holdfast user page is swap-backed (the file lists stay empty)
/// and there are no memory cgroups, so reclaim takes anonymous pages at
/// any swappiness, as Linux does on such a machine: the value is kept and
/// shown, and changes nothing yet.
static VM_SWAPPINESS: AtomicU32 = AtomicU32::new(DEFAULT_SWAPPINESS);

/// The current `vm.swappiness`.
pub fn vm_swappiness() -> u32 {
    VM_SWAPPINESS.load(Ordering::Relaxed)
}

/// A `vm.swappiness` above [`MAX_SWAPPINESS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SwappinessOutOfRange;

/// Set `vm.swappiness`; nothing changes for a value out of range.
pub fn set_vm_swappiness(value: u32) -> Result<(), SwappinessOutOfRange> {
    if value > MAX_SWAPPINESS {
        return Err(SwappinessOutOfRange);
    }
    VM_SWAPPINESS.store(value, Ordering::Relaxed);
    Ok(())
}

/// Linux `MAX_RECLAIM_RETRIES`: rounds of direct reclaim an allocation
/// (or an operation that failed for want of memory) gets while they free
/// pages.
pub const MAX_RECLAIM_RETRIES: u32 = 16;

/// Linux `SWAP_CLUSTER_MAX`: pages isolated per round.
pub const SWAP_CLUSTER_MAX: usize = 32;

/// Who reclaims (counted as Linux's `pgscan_kswapd`/`pgscan_direct`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reclaimer {
    Kswapd,
    Direct,
}

/// What one [`shrink_lruvec`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReclaimStats {
    /// Pages looked at on the inactive list.
    pub scanned: u64,
    /// Pages written to swap and freed.
    pub reclaimed: u64,
    /// Pages found in `VM_LOCKED` vmas and moved to the unevictable list.
    pub culled: u64,
    /// Pages moved to the active list because they were referenced.
    pub activated: u64,
}

/// What deciding on one page came to.
enum Outcome {
    Freed,
    Keep,
    Activate,
    Culled,
    /// Swap is full: stop this round.
    NoSwap,
}

/// Free up to `nr_to_reclaim` pages of the anonymous LRU lists of `meta`
/// into swap (Linux `shrink_lruvec` for anonymous lists). Pages whose
/// mms are of types `P`/`T` (the anon_vmas in `meta`'s registry) are
/// walked with `backend`; `phys` gives freed frames back and reads pages.
///
/// Locking: no mm lock held (see the module doc).
pub fn shrink_lruvec<P, B, T>(meta: &PageMetaArray, backend: &B, phys: &P, nr_to_reclaim: u64, who: Reclaimer) -> ReclaimStats
where
    P: PhysMem + Clone + Send + 'static,
    B: RwSemBackend,
    T: TlbFlush + Send + 'static,
{
    let mut st = ReclaimStats::default();
    if !meta.swap().enabled() {
        return st;
    }
    let kswapd = who == Reclaimer::Kswapd;
    // Each round looks at a cluster; give up after the lists have been
    // gone over twice without freeing enough.
    let sizes = meta.lru_sizes();
    let budget = 2 * (sizes.inactive_anon + sizes.active_anon) + SWAP_CLUSTER_MAX as u64;
    while st.reclaimed < nr_to_reclaim && st.scanned < budget {
        let sizes = meta.lru_sizes();
        if sizes.inactive_anon < sizes.active_anon || sizes.inactive_anon == 0 {
            shrink_active_list::<P, B, T>(meta, backend, phys);
        }
        let isolated = isolate_lru_folios(meta, phys, LruList::InactiveAnon, SWAP_CLUSTER_MAX);
        if isolated.is_empty() {
            break;
        }
        st.scanned += isolated.len() as u64;
        meta.swap().count(SwapEvent::Scan { kswapd }, isolated.len() as u64);
        let mut stop = false;
        for idx in isolated {
            let Some(folio) = meta.page_at(idx) else { continue };
            let pa = (meta.base_pfn() + idx as u64) * PAGE_SIZE;
            let outcome = if stop { Outcome::Keep } else { shrink_folio::<P, B, T>(meta, backend, phys, folio, pa) };
            match outcome {
                Outcome::Freed => {
                    st.reclaimed += 1;
                    meta.swap().count(SwapEvent::Steal { kswapd }, 1);
                    // Our reference was the last: the frame goes back.
                    if let Ok(true) = meta.put_page(folio) {
                        phys.free_frame(pa);
                    }
                    continue;
                }
                Outcome::Activate => {
                    st.activated += 1;
                    meta.swap().count(SwapEvent::Activate, 1);
                    putback(meta, phys, folio, pa, LruList::ActiveAnon);
                }
                Outcome::Culled => {
                    st.culled += 1;
                    putback(meta, phys, folio, pa, LruList::InactiveAnon);
                }
                Outcome::NoSwap => {
                    stop = true;
                    putback(meta, phys, folio, pa, LruList::InactiveAnon);
                }
                Outcome::Keep => putback(meta, phys, folio, pa, LruList::InactiveAnon),
            }
        }
        if stop {
            break;
        }
    }
    st
}

/// Take up to `nr` pages off the tail of `list`, each with a reference and
/// its `LRU` flag cleared (Linux `isolate_lru_folios`). A page whose
/// reference count is 0 is being freed and stays where it is.
///
/// Locking: takes the lruvec lock.
fn isolate_lru_folios<P: PhysMem>(meta: &PageMetaArray, phys: &P, list: LruList, nr: usize) -> Vec<usize> {
    // References to give back once the lruvec lock is dropped: a put that
    // freed the page would take that lock again.
    let mut release: Vec<usize> = Vec::new();
    if release.try_reserve_exact(nr).is_err() {
        return Vec::new();
    }
    let (taken, _) = meta.lruvec().isolate_tail(list, nr, |idx| {
        let Some(folio) = meta.page_at(idx) else { return false };
        if release.len() == release.capacity() || folio.get_page().is_err() {
            return false;
        }
        if !meta.folio_test_clear_lru(folio) {
            // Raced with something that took it off the LRU: let go.
            release.push(idx);
            return false;
        }
        true
    });
    for idx in release {
        if let Some(folio) = meta.page_at(idx) {
            if let Ok(true) = meta.put_page(folio) {
                phys.free_frame((meta.base_pfn() + idx as u64) * PAGE_SIZE);
            }
        }
    }
    taken
}

/// Put an isolated page back on the LRU (Linux `folio_putback_lru`): on
/// `list` if evictable, on the unevictable list if mlocked; then drop
/// reclaim's reference.
fn putback<P: PhysMem>(meta: &PageMetaArray, phys: &P, folio: &PageMeta, pa: u64, list: LruList) {
    meta.folio_putback_lru(folio, list);
    if let Ok(true) = meta.put_page(folio) {
        // Unmapped and unreferenced while isolated: nobody else frees it.
        phys.free_frame(pa);
    }
}

/// Linux `shrink_active_list` for anonymous pages: move a cluster from
/// the tail of the active list to the head of the inactive one, clearing
/// their accessed bits, so that the inactive list sees what is used from
/// now on.
fn shrink_active_list<P, B, T>(meta: &PageMetaArray, backend: &B, phys: &P)
where
    P: PhysMem + Clone + Send + 'static,
    B: RwSemBackend,
    T: TlbFlush + Send + 'static,
{
    let isolated = isolate_lru_folios(meta, phys, LruList::ActiveAnon, SWAP_CLUSTER_MAX);
    let n = isolated.len() as u64;
    for idx in isolated {
        let Some(folio) = meta.page_at(idx) else { continue };
        let pa = (meta.base_pfn() + idx as u64) * PAGE_SIZE;
        let mut clear = |inner: &mut MmInner<P, T>, hit: &RmapHit| {
            if hit.pte_flags.contains(PteFlags::ACCESSED) {
                clear_young(inner, hit);
            }
            true
        };
        if let Some(av) = anon_vma_of::<P, T>(meta, folio) {
            walk_folio(backend, &av, folio, pa, &mut clear);
        } else if let Some(obj) = meta.anon_vmas().find_shmem(folio.mapping()).filter(|_| !folio.is_anon()) {
            rmap_walk_shmem::<P, B, T>(backend, &obj, pa, folio.index(), &mut clear);
        }
        putback(meta, phys, folio, pa, LruList::InactiveAnon);
    }
    meta.swap().count(SwapEvent::Deactivate, n);
}

/// The anon_vma reclaim walks for `folio`, if it is anonymous and its
/// anon_vma is still in use.
fn anon_vma_of<P, T>(meta: &PageMetaArray, folio: &PageMeta) -> Option<alloc::sync::Arc<AnonVma<P, T>>>
where
    P: PhysMem + Send + 'static,
    T: TlbFlush + Send + 'static,
{
    if !folio.is_anon() || folio.mapping() == 0 {
        return None;
    }
    meta.anon_vmas().find::<P, T>(folio.mapping())
}

/// Walk every pte mapping the anonymous `folio` (frame `pa`).
fn walk_folio<P, B, T>(
    backend: &B,
    av: &AnonVma<P, T>,
    folio: &PageMeta,
    pa: u64,
    visit: &mut dyn FnMut(&mut MmInner<P, T>, &RmapHit) -> bool,
) where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    rmap_walk_anon_vma(backend, av, pa, folio.index(), visit);
}

/// Give the pte at `addr` the flags `flags` (same frame), flushing its
/// translation.
///
/// Locking: `inner` locked.
fn set_pte_flags<P: PhysMem, T: TlbFlush>(inner: &mut MmInner<P, T>, addr: u64, flags: PteFlags) {
    let Some(pt) = inner.pgtable.as_mut() else { return };
    let mut tlb = MmuGather::tlb_gather_mmu();
    let _ = pt.protect(addr, flags, &mut tlb);
    tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
}

/// Is a vma with these flags one reclaim must not take a page from?
/// (`VM_LOCKED`: the page is culled; the `VM_IO` guard: mlock is counting
/// it right now.)
fn vma_holds_page(vm_flags: VmFlags) -> bool {
    vm_flags.contains(VmFlags::LOCKED) || vm_flags.intersects(VmFlags::SPECIAL)
}

/// Decide on one isolated page (Linux `shrink_folio_list` for one folio).
fn shrink_folio<P, B, T>(meta: &PageMetaArray, backend: &B, phys: &P, folio: &PageMeta, pa: u64) -> Outcome
where
    P: PhysMem + Clone + Send + 'static,
    B: RwSemBackend,
    T: TlbFlush + Send + 'static,
{
    if !folio.is_anon() {
        return shrink_shmem_folio::<P, B, T>(meta, backend, phys, folio, pa);
    }
    let Some(av) = anon_vma_of::<P, T>(meta, folio) else { return Outcome::Keep };
    if folio.is_mlocked() || folio.is_unevictable() {
        return Outcome::Culled;
    }
    // More references than its mappings and ours: pinned (get_user_pages)
    // or in flight elsewhere.
    if folio.page_ref_count() > folio.mapcount() + 1 {
        return Outcome::Keep;
    }
    if let Some(outcome) = folio_check_references(meta, folio, |visit| walk_folio(backend, &av, folio, pa, visit)) {
        return outcome;
    }
    let mut held = false;
    let swap = meta.swap();
    let Some(entry) = swap.get_swap_page() else { return Outcome::NoSwap };
    // Write-protect every mapping and clear its dirty bit: from here on
    // the contents change only through a copy (a write faults, and with
    // reclaim's reference the fault copies), or the pte shows it. The page
    // is no longer exclusive to one mapping's writes (a write fault that
    // finds it unshared takes it back, `wp_page_reuse`).
    walk_folio(backend, &av, folio, pa, &mut |inner, hit| {
        if vma_holds_page(hit.vm_flags) {
            held = true;
            return false;
        }
        let want = hit.pte_flags - PteFlags::WRITABLE - PteFlags::DIRTY;
        folio.set_anon_exclusive(false);
        if want != hit.pte_flags {
            set_pte_flags(inner, hit.addr, want);
        }
        true
    });
    if held {
        let _ = swap.swap_free(entry);
        return Outcome::Keep;
    }
    if pageout(meta, phys, pa, entry).is_err() {
        let _ = swap.swap_free(entry);
        return Outcome::Keep;
    }
    try_to_unmap(meta, backend, &av, folio, pa, entry);
    // Reclaim's own count on the slot: the swap entries hold theirs.
    let _ = swap.swap_free(entry);
    if folio.mapcount() == 0 && folio.page_ref_count() == 1 {
        Outcome::Freed
    } else {
        Outcome::Keep
    }
}

/// Linux `folio_check_references`: go over every pte mapping `folio`
/// with `walk` (an rmap walk), clearing accessed bits and giving a page
/// found in a locked vma the mlock it missed; then decide, if the page
/// stays: found in a vma that holds it, culled; referenced once, a second
/// chance on the inactive list; referenced again since, activated.
/// `None`: reclaim it.
///
/// Locking: no inner lock held (the walk takes them).
fn folio_check_references<P: PhysMem, T: TlbFlush>(
    meta: &PageMetaArray,
    folio: &PageMeta,
    walk: impl FnOnce(&mut dyn FnMut(&mut MmInner<P, T>, &RmapHit) -> bool),
) -> Option<Outcome> {
    let (mut referenced, mut held) = (false, false);
    walk(&mut |inner, hit| {
        if vma_holds_page(hit.vm_flags) {
            if !hit.vm_flags.contains(VmFlags::IO) {
                // "Restore the mlock which got missed."
                meta.mlock_vma_folio(folio, hit.vm_flags);
            }
            held = true;
            return false;
        }
        if hit.pte_flags.contains(PteFlags::ACCESSED) {
            referenced = true;
            clear_young(inner, hit);
        }
        true
    });
    if held {
        return Some(Outcome::Culled);
    }
    if !referenced {
        return None;
    }
    if folio.test_set_referenced(true) {
        folio.test_set_referenced(false);
        return Some(Outcome::Activate);
    }
    Some(Outcome::Keep)
}

/// Decide on one isolated shmem page (Linux `shrink_folio_list` for a
/// swap-backed page of an object, and `shmem_writeout`): look at its
/// references as for an anonymous page; then unmap it everywhere (its
/// ptes become empty: a later fault finds it in its object again), write
/// it to a slot, and let the object's index name the slot instead, if
/// nobody looked the page up meanwhile (see [`crate::shmem::swap`]).
fn shrink_shmem_folio<P, B, T>(meta: &PageMetaArray, backend: &B, phys: &P, folio: &PageMeta, pa: u64) -> Outcome
where
    P: PhysMem + Clone + Send + 'static,
    B: RwSemBackend,
    T: TlbFlush + Send + 'static,
{
    let Some(obj) = meta.anon_vmas().find_shmem(folio.mapping()) else { return Outcome::Keep };
    // Linux `folio_evictable`: mlocked, or its mapping is unevictable (a
    // page that was on the evictable list when its segment was
    // `SHM_LOCK`ed is culled only now, as in Linux).
    if folio.is_mlocked() || folio.is_unevictable() || folio.flags().contains(PageFlags::MAPPING_UNEVICTABLE) {
        return Outcome::Culled;
    }
    // The object's reference, one per pte, and reclaim's: any more and
    // it is pinned or in use.
    if folio.page_ref_count() > folio.mapcount() + 2 {
        return Outcome::Keep;
    }
    let index = folio.index();
    if let Some(outcome) = folio_check_references(meta, folio, |visit| rmap_walk_shmem::<P, B, T>(backend, &obj, pa, index, visit)) {
        return outcome;
    }
    let mut held = false;
    let swap = meta.swap();
    let Some(entry) = swap.get_swap_page() else { return Outcome::NoSwap };
    // Linux `try_to_unmap` for a file page: clear every pte.
    rmap_walk_shmem::<P, B, T>(backend, &obj, pa, index, &mut |inner, hit| {
        if vma_holds_page(hit.vm_flags) {
            if !hit.vm_flags.contains(VmFlags::IO) {
                meta.mlock_vma_folio(folio, hit.vm_flags);
            }
            held = true;
            return false;
        }
        let Some(pt) = inner.pgtable.as_mut() else { return false };
        let mut tlb = MmuGather::tlb_gather_mmu();
        let r = pt.unmap(hit.addr, &mut tlb);
        tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
        if r.is_err() {
            return false;
        }
        inner.rss = inner.rss.saturating_sub(1);
        crate::rmap::folio_remove_rmap_pte(meta, folio, hit.vm_flags);
        // The pte's reference; never the last (the object holds one).
        let _ = meta.put_page(folio);
        true
    });
    let written = !held
        && folio.mapcount() == 0
        && obj.writeout_begin(index, pa, folio)
        && pageout(meta, phys, pa, entry).is_ok()
        && obj.writeout_finish(meta, index, pa, folio, entry);
    if !written {
        folio.test_set_reclaim(false);
        let _ = swap.swap_free(entry);
        return if held { Outcome::Culled } else { Outcome::Keep };
    }
    // The index holds reclaim's count on the slot now, and reclaim's
    // reference on the page is the last.
    Outcome::Freed
}

/// Write the page at `pa` to its slot (Linux `pageout` / `swap_writepage`).
fn pageout<P: PhysMem>(meta: &PageMetaArray, phys: &P, pa: u64, entry: SwapEntry) -> Result<(), ()> {
    let dev = meta.swap().device(entry.type_).ok_or(())?;
    let mut buf: Vec<u8> = Vec::new();
    buf.try_reserve_exact(SWAP_PAGE_SIZE).map_err(|_| ())?;
    buf.resize(SWAP_PAGE_SIZE, 0);
    let page: &mut [u8; SWAP_PAGE_SIZE] = buf.as_mut_slice().try_into().map_err(|_| ())?;
    phys.read_frame(pa, page);
    dev.device().write_page(entry.offset, page).map_err(|_| ())?;
    meta.swap().count(SwapEvent::SwapOut, 1);
    Ok(())
}

/// Linux `try_to_unmap` for an anonymous page whose contents are in slot
/// `entry`: every pte mapping it becomes a swap entry naming the slot,
/// each taking a count on it, until a vma that holds the page is met.
fn try_to_unmap<P, B, T>(meta: &PageMetaArray, backend: &B, av: &AnonVma<P, T>, folio: &PageMeta, pa: u64, entry: SwapEntry)
where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    let Some(swp) = swp_entry_to_pte(entry) else { return };
    walk_folio(backend, av, folio, pa, &mut |inner, hit| {
        if vma_holds_page(hit.vm_flags) {
            if !hit.vm_flags.contains(VmFlags::IO) {
                meta.mlock_vma_folio(folio, hit.vm_flags);
            }
            return false;
        }
        if hit.pte_flags.intersects(PteFlags::WRITABLE | PteFlags::DIRTY) {
            // Made writable or written again since the write-protect (an
            // mprotect): the slot may not hold its contents. Keep it.
            return false;
        }
        if meta.swap().swap_duplicate(entry).is_err() {
            return false;
        }
        let Some(pt) = inner.pgtable.as_mut() else { return false };
        let mut tlb = MmuGather::tlb_gather_mmu();
        let r = pt.set_swap_pte(hit.addr, swp, &mut tlb);
        tlb.tlb_finish_mmu(&inner.phys, &inner.tlb);
        if r.is_err() {
            let _ = meta.swap().swap_free(entry);
            return false;
        }
        inner.rss = inner.rss.saturating_sub(1);
        inner.swap_ents += 1;
        crate::rmap::folio_remove_rmap_pte(meta, folio, hit.vm_flags);
        // The mapping's reference; never the last (reclaim holds one).
        let _ = meta.put_page(folio);
        true
    });
}
