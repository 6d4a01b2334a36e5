//! The address-space consistency checker: [`check_mm_invariants`].
//!
//! The kernel calls it after every mm syscall in test builds; host tests
//! call it after every operation. It checks, and describes the first
//! violation found:
//!
//! 1. the vma tree's own invariants ([`VmaTree::check_invariants`](crate::vma::VmaTree::check_invariants));
//! 2. no vma carries the transient `VM_IO` guard of `mlock_vma_pages_range`
//!    unless it is a special mapping (`VM_PFNMAP` too) — or an mlock is in
//!    progress (see below);
//! 3. `total_vm` == pages of all vmas; `locked_vm` == pages of `VM_LOCKED`
//!    vmas;
//! 4. every present pte (protnone ones included) lies inside a vma (below
//!    `TASK_SIZE`, not in a special vma) and carries exactly the protection
//!    bits Linux's x86 `protection_map` gives that vma's flags. The
//!    checker has its own copy of that table ([`PROTECTION_MAP`]) rather
//!    than asking the implementation's
//!    [`vm_pte_flags`](crate::mm_struct::vm_pte_flags), so that a wrong
//!    answer there shows up here;
//! 5. no frame is mapped twice in this mm, except a shmem object's page
//!    (by two vmas mapping its offset); each mapped frame has metadata
//!    and a reference count of at least its number of mappings here,
//!    plus 1 for a page of a shmem object (a pte of a shmem vma must map
//!    the object's page at that offset, and the page is never
//!    `ANON_EXCLUSIVE`). More references mean other address spaces map it
//!    too (fork shares frames, a shmem object's pages are mapped by every
//!    address space that maps the object). A pte of a private vma is writable only if its page is
//!    `ANON_EXCLUSIVE`, an exclusive page has no references from
//!    elsewhere, and a private writable vma's pte may lack `RW` only if
//!    its page is not exclusive (copy-on-write, see [`crate::fork`]); a
//!    frame with exactly its mappings here as references is not shared,
//!    and must count exactly as below;
//! 6. a frame mapped by a `VM_LOCKED` vma is `MLOCKED` with `mlock_count`
//!    equal to the number of such mappings; a frame mapped by no
//!    `VM_LOCKED` vma is not `MLOCKED` (page_meta's counting is exact here
//!    because Holdfast's pages never leave the LRU, see
//!    [`crate::page_meta`]). For a shared frame (references beyond this
//!    mm's mappings and, for a shmem page, its object's one) the other
//!    mappings may be locked ones: `mlock_count` may exceed the locked mappings here by at
//!    most its references from elsewhere, and it may be `MLOCKED` with no
//!    locked mapping here (never with a count of 0);
//! 7. `rss` == number of present ptes;
//! 8. (by rmap walks, [`crate::rmap`], with `mmap_lock` held for read)
//!    every pte mapping a frame of this mm is counted in the frame's
//!    mapcount: the walk finds at least this mm's mappings and at most
//!    the mapcount, which is at most the frame's references (a fork in
//!    progress elsewhere has counted ptes a walk cannot see yet, so the
//!    two need not be equal);
//! 9. an `MLOCKED` frame that only this mm maps is mapped by at least one
//!    `VM_LOCKED` vma, and its `mlock_count` is at most the number of
//!    such mappings.
//!
//! Rules 8 and 9 skip a frame whose mapcount, state or references change
//! while it is walked (another address space at work on it). While
//! another thread holds `mmap_lock` for write with a vma carrying the
//! `VM_IO` guard, mlock is between two page tables and the checker stops
//! after the vma tree's own invariants.
//!
//! Frames that are `MLOCKED` but not mapped by this mm at all cannot be seen
//! from one mm (the metadata array is shared); tests check `nr_mlock`.
//!
//! Locking: takes `mmap_lock` for read when it can get it without waiting
//! (`down_read_trylock`); a caller that holds it already (any mode) or
//! knows the mm is quiescent may call it either way: the check then runs
//! under the inner lock alone, which is enough for a consistent snapshot
//! between operations but may see an operation half done if one is running.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

use crate::addr::TASK_SIZE;
use crate::memory::{for_each_present_pte, for_each_swap_pte};
use crate::mm_struct::MmStruct;
use crate::pgtable::{PhysMem, PteFlags, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::vma::VmFlags;

// x86-64 page-table bits (Intel SDM vol. 3, "4-level paging"), spelled out
// here for the table below.
const P: u64 = 1 << 0; // present
const RW: u64 = 1 << 1; // writes allowed
const US: u64 = 1 << 2; // user accessible
const XD: u64 = 1 << 63; // execute disable (NX)
/// Holdfast's protnone marker (software bit 10, see
/// [`PteFlags::PROTNONE`]); x86 Linux uses bit 8 for `_PAGE_PROTNONE`.
const PROTNONE: u64 = PteFlags::PROTNONE.bits();

/// The protection bits a mapped page must carry, indexed by its vma's
/// `VM_EXEC | VM_WRITE | VM_READ` (Linux's `xwr` order): x86 Linux's
/// `protection_map` (`__P000`..`__S111` in `pgtable_types.h`), reduced to
/// the bits judged here ([`JUDGED`]). Holdfast differs on purpose in one
/// respect: it has no zero page, so a private writable page is writable
/// once faulted in (Linux maps it `PAGE_COPY`, read-only, until the first
/// write fault), and shared and private anonymous memory get the same bits
/// (Linux's shared column). The exception is copy-on-write after fork: a
/// private writable vma's pte may lack `RW` (see [`check_mm_invariants`],
/// rule 5). x86 cannot make a
/// page write- or exec-only: those are readable too.
pub const PROTECTION_MAP: [u64; 8] = [
    PROTNONE,         // ---: PAGE_NONE, not present to the MMU
    P | US | XD,      // --r: PAGE_READONLY
    P | US | RW | XD, // -w-: PAGE_SHARED (private: PAGE_COPY, see above)
    P | US | RW | XD, // -wr: PAGE_SHARED
    P | US,           // x--: PAGE_READONLY_EXEC
    P | US,           // x-r: PAGE_READONLY_EXEC
    P | US | RW,      // xw-: PAGE_SHARED_EXEC
    P | US | RW,      // xwr: PAGE_SHARED_EXEC
];

/// The bits of a leaf [`PROTECTION_MAP`] decides; the frame, `ACCESSED`,
/// `DIRTY`, caching and other software bits are not judged.
pub const JUDGED: u64 = P | RW | US | XD | PROTNONE;

/// The judged bits a page of a vma with `flags` must have.
pub fn expected_pte_bits(flags: VmFlags) -> u64 {
    let r = flags.contains(VmFlags::READ) as usize;
    let w = flags.contains(VmFlags::WRITE) as usize;
    let x = flags.contains(VmFlags::EXEC) as usize;
    PROTECTION_MAP[x << 2 | w << 1 | r]
}

/// Check every invariant listed in the module doc. O(vmas + present pages).
pub fn check_mm_invariants<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush>(mm: &MmStruct<P, B, T>) -> Result<(), String> {
    let r = mm.mmap_lock.try_read();
    let meta = mm.page_meta();
    let mut g = mm.lock_inner();
    let inner = &mut *g;
    inner.vmas.check_invariants().map_err(|e| format!("vma tree: {e}"))?;
    meta.lruvec().check().map_err(|e| format!("LRU lists: {e}"))?;
    if r.is_none() && inner.vmas.iter().any(|v| v.flags.contains(VmFlags::IO) && !v.flags.contains(VmFlags::PFNMAP)) {
        // Someone holds mmap_lock for write and mlock_vma_pages_range is
        // in a window between two page tables: the vma is locked, its
        // pages only partly counted. Nothing about them can be judged.
        return Ok(());
    }

    let mut total = 0u64;
    let mut locked = 0u64;
    for v in inner.vmas.iter() {
        total += v.pages();
        if v.flags.contains(VmFlags::LOCKED) {
            locked += v.pages();
        }
        if v.flags.contains(VmFlags::IO) && !v.flags.contains(VmFlags::PFNMAP) {
            return Err(format!("vma {:#x}..{:#x} left with the VM_IO guard: {:?}", v.start, v.end, v.flags));
        }
        if v.end > TASK_SIZE {
            return Err(format!("vma {:#x}..{:#x} beyond TASK_SIZE", v.start, v.end));
        }
    }
    if total != inner.total_vm {
        return Err(format!("total_vm is {} but the vmas have {} pages", inner.total_vm, total));
    }
    if locked != inner.locked_vm {
        return Err(format!("locked_vm is {} but VM_LOCKED vmas have {} pages", inner.locked_vm, locked));
    }

    let Some(pt) = inner.pgtable.as_mut() else {
        if inner.rss != 0 {
            return Err(format!("no page table but rss {}", inner.rss));
        }
        return Ok(());
    };
    // The lists are sized up front, fallibly: under memory pressure (the
    // heap cannot grow) the check is skipped rather than the kernel
    // brought down by the checker.
    let mut ptes = alloc::vec::Vec::new();
    if ptes.try_reserve_exact(usize::try_from(inner.rss).unwrap_or(usize::MAX)).is_err() {
        return Ok(());
    }
    let mut overflow = false;
    for_each_present_pte(pt, 0, TASK_SIZE, |_, va, pa, flags| {
        if ptes.len() < ptes.capacity() {
            ptes.push((va, pa, flags));
        } else {
            overflow = true;
        }
    });
    if overflow {
        return Err(format!("rss is {} but more ptes are present", inner.rss));
    }
    if ptes.len() as u64 != inner.rss {
        return Err(format!("rss is {} but {} ptes are present", inner.rss, ptes.len()));
    }
    if meta.swap().may_have_entries() || inner.swap_ents != 0 {
        let mut swaps = alloc::vec::Vec::new();
        if swaps.try_reserve_exact(usize::try_from(inner.swap_ents).unwrap_or(usize::MAX)).is_err() {
            return Ok(());
        }
        let mut overflow = false;
        for_each_swap_pte(pt, 0, TASK_SIZE, |_, va, e| {
            if swaps.len() < swaps.capacity() {
                swaps.push((va, e));
            } else {
                overflow = true;
            }
        });
        if overflow {
            return Err(format!("swap_ents is {} but more ptes are swap entries", inner.swap_ents));
        }
        if swaps.len() as u64 != inner.swap_ents {
            return Err(format!("swap_ents is {} but {} ptes are swap entries", inner.swap_ents, swaps.len()));
        }
        for &(va, e) in &swaps {
            if inner.vmas.vma_lookup(va).is_none() {
                return Err(format!("swap entry at {va:#x} outside any vma"));
            }
            let counted = crate::swap::swap_state::pte_to_swp_entry(e).map_or(0, |se| meta.swap().swap_count(se));
            if counted == 0 {
                return Err(format!("swap entry at {va:#x} ({e:?}) names a free slot"));
            }
        }
    }
    let mut frames: BTreeMap<u64, Mapped> = BTreeMap::new();
    let mut truncated = alloc::vec::Vec::new();
    for &(va, pa, flags) in &ptes {
        let Some(v) = inner.vmas.vma_lookup(va) else {
            return Err(format!("present pte at {va:#x} (frame {pa:#x}) outside any vma"));
        };
        if v.flags.intersects(VmFlags::PFNMAP) {
            return Err(format!("present pte at {va:#x} in a special vma {:?}", v.flags));
        }
        let want = expected_pte_bits(v.flags);
        let have = flags.bits() & JUDGED;
        // Copy-on-write: a private writable vma's page that fork shared
        // (not exclusive) is read-only until a write fault.
        let exclusive = meta.get(pa).is_some_and(|f| f.is_anon_exclusive());
        let private = !v.flags.contains(VmFlags::SHARED);
        let cow_ok = private && !exclusive && want & RW != 0 && have == want & !RW;
        if have != want && !cow_ok {
            return Err(format!(
                "pte at {va:#x} has {:?} but its vma {:#x}..{:#x} ({:?}) wants {:?}",
                PteFlags::from_bits_retain(have),
                v.start,
                v.end,
                v.flags,
                PteFlags::from_bits_retain(want)
            ));
        }
        let cached = match v.shmem_index(va) {
            // A private mapping of an object maps either the object's page
            // (read-only, checked above) or its own copy, an anonymous page.
            Some(_) if private && meta.get(pa).is_some_and(|f| f.is_anon()) => false,
            // A page past the end of a shrinking object: taken out of it,
            // about to be unmapped here (see `crate::truncate`).
            Some((obj, index)) if index >= obj.nr_pages() && obj.find(index).is_none() => {
                // Its rmap (through the object) no longer finds it.
                if truncated.try_reserve(1).is_ok() {
                    truncated.push(pa);
                }
                true
            }
            Some((obj, index)) => {
                if obj.find(index) != Some(pa) {
                    return Err(format!("pte at {va:#x} maps frame {pa:#x}, not page {index} of its shmem object ({:?})", obj.find(index)));
                }
                true
            }
            None => false,
        };
        let mapcount = meta.get(pa).map_or(0, |f| f.mapcount());
        let entry = frames.entry(pa).or_insert(Mapped { maps: 0, locked_maps: 0, va, private_writable: false, cached, mapcount });
        entry.maps += 1;
        if v.flags.contains(VmFlags::LOCKED) {
            entry.locked_maps += 1;
        }
        if have & RW != 0 && private {
            entry.private_writable = true;
        }
        if entry.maps > 1 && !(cached && entry.cached) {
            // Only a shmem page may be mapped more than once in one mm
            // (two vmas mapping one object's offset, after mremap with
            // old_len 0).
            return Err(format!("frame {pa:#x} mapped twice: at {:#x} and {va:#x}", entry.va));
        }
    }
    let reclaim_on = meta.swap().enabled();
    for (&pa, &Mapped { maps, locked_maps, va, private_writable, cached, .. }) in &frames {
        let Some(folio) = meta.get(pa) else {
            return Err(format!("frame {pa:#x} (at {va:#x}) has no metadata"));
        };
        // Another address space sharing the frame may change its state and
        // references while this one is checked (its mmap_lock is not held
        // here): take one snapshot of the flags and count that did not
        // change while the reference count was read.
        let (st, refs) = stable_state(folio);
        let mlocked = st.mlocked();
        // A shmem object holds one reference on each of its pages.
        let held = maps + u32::from(cached);
        if refs < held {
            return Err(format!("frame {pa:#x} (at {va:#x}) has refcount {refs} for {maps} mappings (shmem page: {cached})"));
        }
        if cached && folio.is_anon_exclusive() {
            return Err(format!("shmem frame {pa:#x} (at {va:#x}) is ANON_EXCLUSIVE"));
        }
        // References from other address spaces (fork, or other mappings
        // of a shmem object). A page off the LRU is isolated by reclaim
        // (every mapped page joins the LRU when first mapped), which holds
        // one reference on it while it decides.
        let isolated = u32::from(!st.flags.contains(crate::page_meta::PageFlags::LRU));
        let elsewhere = refs.saturating_sub(held + isolated);
        if private_writable && !folio.is_anon_exclusive() {
            return Err(format!("frame {pa:#x} (at {va:#x}) is writable in a private vma but not exclusive ({refs} references)"));
        }
        if elsewhere > 0 && folio.is_anon_exclusive() {
            return Err(format!("frame {pa:#x} (at {va:#x}) is exclusive but shared ({refs} references for {maps} mappings)"));
        }
        // With reclaim running (swap on), a page may be mlocked while
        // reclaim has it isolated: the mlock is not counted, and the page
        // goes back unevictable with mlock_count 0 (Linux's deliberate
        // undercount). The count is then at most, not exactly, its locked
        // mappings; without reclaim nothing isolates a page and it is exact.
        let min_count = |want: u32| if reclaim_on { 0 } else { want };
        if elsewhere > 0 {
            let max = locked_maps.saturating_add(elsewhere);
            let bad = if mlocked { st.mlock_count < min_count(locked_maps.max(1)) || st.mlock_count > max } else { locked_maps > 0 };
            if bad {
                return Err(format!(
                    "shared frame {pa:#x} (at {va:#x}, {refs} references): mlocked {mlocked} mlock_count {} for {locked_maps} locked mappings here",
                    st.mlock_count
                ));
            }
        } else if locked_maps > 0 {
            if !mlocked || st.mlock_count > locked_maps || st.mlock_count < min_count(locked_maps) {
                return Err(format!(
                    "frame {pa:#x} (at {va:#x}) in a VM_LOCKED vma: mlocked {mlocked} mlock_count {} (want {locked_maps})",
                    st.mlock_count
                ));
            }
        } else if mlocked {
            return Err(format!("frame {pa:#x} (at {va:#x}) is MLOCKED (count {}) but no VM_LOCKED vma maps it", st.mlock_count));
        }
    }
    drop(g);
    if r.is_some() {
        frames.retain(|pa, _| !truncated.contains(pa));
        check_rmap(mm, &frames)?;
    }
    Ok(())
}

/// How the page table of the mm being checked maps one frame.
struct Mapped {
    /// Ptes mapping it.
    maps: u32,
    /// Of those, the ones in `VM_LOCKED` vmas.
    locked_maps: u32,
    /// The first address mapping it.
    va: u64,
    /// Writable in a private vma.
    private_writable: bool,
    /// The page of a shmem object.
    cached: bool,
    /// Its mapcount, read under the inner lock with the ptes.
    mapcount: u32,
}

/// Rules 8 and 9 (see the module doc), by rmap walks from `mm`, whose
/// mapped frames `frames` are (the inner lock released: a walk takes it).
/// A frame whose mapcount changed since the ptes were read, or whose
/// state changed during its walk (another address space at work), is
/// skipped, and so is one this mm no longer maps at `va` after the walk:
/// the caller holds `mmap_lock` only for read, and another thread's
/// `MADV_DONTNEED` may have zapped it meanwhile.
///
/// Locking: `mmap_lock` of `mm` held for read; no inner lock.
fn check_rmap<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush>(
    mm: &MmStruct<P, B, T>,
    frames: &BTreeMap<u64, Mapped>,
) -> Result<(), String> {
    let meta = mm.page_meta();
    for (&pa, &Mapped { maps, va, cached, mapcount, .. }) in frames {
        let Some(folio) = meta.get(pa) else { continue };
        let (st, refs) = stable_state(folio);
        let (before, seq) = (folio.mapcount(), folio.rmap_seq());
        let (found, found_locked) = crate::rmap::try_to_unmap_count(mm, pa, Some(va));
        let (st_after, refs_after) = stable_state(folio);
        let still = mm.lock_inner().pgtable.as_ref().and_then(|pt| pt.translate(va)).is_some_and(|m| m.pa == pa);
        // A pte removed and another added during the walk (reclaim
        // unmapping a shmem page that a fault elsewhere maps again) leave
        // the mapcount as it was: the change count tells.
        let changed = folio.mapcount() != before || folio.rmap_seq() != seq;
        if changed || before != mapcount || st_after != st || refs_after != refs || !still {
            continue;
        }
        if found < maps {
            return Err(format!(
                "frame {pa:#x} (at {va:#x}): the rmap walk found {found} ptes, this mm alone has {maps}; {}",
                describe(mm, folio, va)
            ));
        }
        if found > before {
            return Err(format!("frame {pa:#x} (at {va:#x}): {found} ptes map it but its mapcount is {before}"));
        }
        if before.saturating_add(u32::from(cached)) > refs {
            return Err(format!("frame {pa:#x} (at {va:#x}): mapcount {before} (shmem page: {cached}) beyond its {refs} references"));
        }
        // Mapped only here: the vmas that matter are this mm's, which
        // cannot change under its mmap_lock.
        if found == maps && st.mlocked() && (found_locked == 0 || st.mlock_count > found_locked) {
            return Err(format!(
                "frame {pa:#x} (at {va:#x}) is MLOCKED with mlock_count {} but {found_locked} VM_LOCKED vmas map it",
                st.mlock_count
            ));
        }
    }
    Ok(())
}

/// What an rmap walk went by for the page at `va`: the frame's anon flag
/// and index, the vma there and the index it gives `va`.
///
/// Locking: takes `mm`'s inner lock.
fn describe<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush>(
    mm: &MmStruct<P, B, T>,
    folio: &crate::page_meta::PageMeta,
    va: u64,
) -> String {
    let g = mm.lock_inner();
    let vma = match g.vmas.vma_lookup(va) {
        Some(v) => format!(
            "vma {:#x}-{:#x} {:?} anon_pgoff {:#x} (index here {:#x}, shmem {:?})",
            v.start,
            v.end,
            v.flags,
            v.anon_pgoff,
            v.linear_page_index(va),
            v.shmem_index(va).map(|(_, i)| i)
        ),
        None => "no vma".into(),
    };
    format!("page anon {} index {:#x} mapcount {}; {vma}", folio.is_anon(), folio.index(), folio.mapcount())
}

/// A frame's state and reference count, read until the state is the same
/// before and after the reference count (a few tries: the other address
/// spaces' operations on one frame are short).
fn stable_state(folio: &crate::page_meta::PageMeta) -> (crate::page_meta::PageState, u32) {
    let mut st = folio.state();
    for _ in 0..64 {
        let refs = folio.page_ref_count();
        let again = folio.state();
        if again == st {
            return (st, refs);
        }
        st = again;
    }
    (st, folio.page_ref_count())
}
