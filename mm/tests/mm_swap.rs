//! Reclaim to swap and swap-in (`vmscan`, swap entries, `do_swap_page`) on
//! a zram device: pages leave RAM and come back with their contents; a
//! page in a `VM_LOCKED` vma never leaves; fork shares swapped-out pages
//! (one slot count per pte) and each side reads its own copy back; munmap,
//! exit and mremap keep the slot counts right. The invariant checker runs
//! after every step.
#![cfg(not(loom))]

mod common;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::swap::*;
use common::*;
use mm::fault::{FaultAccess, FaultOrigin};
use mm::mmap::*;
use mm::mremap::MREMAP_MAYMOVE;
use mm::pgtable::{NoFlush, PhysMem};
use mm::rwsem::StdBackend;
use mm::swap::zram::Zram;
use mm::vmscan::{shrink_lruvec, Reclaimer};
use mm::MmStruct;

const N: u64 = 64;

fn reclaim(w: &World, nr: u64) -> mm::vmscan::ReclaimStats {
    shrink_lruvec::<SharedArena, StdBackend, NoFlush>(&w.meta, &w.backend, &w.arena, nr, Reclaimer::Direct)
}

fn touch(mm: &TestMm, va: u64, access: FaultAccess) {
    mm.handle_mm_fault(va, access, FaultOrigin::User).unwrap();
}

/// Fault every page back in (reads) and check its markers.
fn read_back(w: &World, mm: &TestMm, a: u64, pages: u64) {
    for i in 0..pages {
        let va = a + i * P;
        if mm.follow_page(va).is_none() {
            touch(mm, va, FaultAccess::Read);
        }
        let pa = frame(mm, va);
        assert_eq!(w.arena.read_entry(pa, 0), 0x5eed_0000 + i, "page {i}");
        assert_eq!(w.arena.read_entry(pa, 511), !i, "page {i}");
    }
}

#[test]
fn reclaimed_pages_leave_ram_and_come_back_intact() {
    let w = swap_world(1024);
    let a = populated(&w, N);
    let in_use = w.arena.in_use();
    // The first pass finds the pages referenced (the fault set the
    // accessed bits) and activates them; later passes age and reclaim.
    let mut st = mm::vmscan::ReclaimStats::default();
    for _ in 0..4 {
        let s = reclaim(&w, N);
        st.reclaimed += s.reclaimed;
        st.activated += s.activated;
    }
    check(&w.mm);
    assert_eq!(st.reclaimed, N, "{st:?}");
    assert_eq!(swapped(&w.mm, a, N), N);
    assert_eq!(w.mm.rss(), 0);
    assert_eq!(w.mm.swap_ents(), N);
    assert_eq!(w.arena.in_use(), in_use - N, "the frames went back");
    let (total, free) = w.meta.swap().totals();
    assert_eq!(total - free, N);
    assert_eq!(w.meta.swap().events().pswpout, N);
    let v = w.mm.smaps(None).unwrap().into_iter().find(|v| v.start == a).unwrap();
    assert_eq!((v.stats.swap, v.stats.swap_pss), (N * P, (N * P) << mm::smaps::PSS_SHIFT), "smaps Swap and SwapPss");
    read_back(&w, &w.mm, a, N);
    check(&w.mm);
    assert_eq!(w.mm.rss(), N);
    assert_eq!(w.mm.swap_ents(), 0);
    assert_eq!(w.meta.swap().totals(), (total, total), "every slot given back");
    assert_eq!(w.meta.swap().events().pswpin, N);
}

#[test]
fn a_write_after_swap_in_is_kept_and_swapped_again() {
    let w = swap_world(1024);
    let a = populated(&w, 4);
    while swapped(&w.mm, a, 4) < 4 {
        assert!(reclaim(&w, 4).scanned > 0);
    }
    touch(&w.mm, a, FaultAccess::Write);
    w.arena.write_entry(frame(&w.mm, a), 0, 0x5eed_0000 + 99);
    while swapped(&w.mm, a, 1) < 1 {
        assert!(reclaim(&w, 4).scanned > 0);
    }
    touch(&w.mm, a, FaultAccess::Read);
    assert_eq!(w.arena.read_entry(frame(&w.mm, a), 0), 0x5eed_0000 + 99);
    check(&w.mm);
}

#[test]
fn pages_of_a_locked_vma_never_leave_and_unlocked_ones_do() {
    let w = swap_world(1024);
    let a = populated(&w, N);
    w.mm.do_mlock(a, N / 2 * P, 0, &root()).unwrap();
    for _ in 0..6 {
        reclaim(&w, N);
    }
    check(&w.mm);
    assert_eq!(swapped(&w.mm, a, N / 2), 0, "no locked page left RAM");
    assert_eq!(swapped(&w.mm, a + N / 2 * P, N / 2), N / 2, "every unlocked one did");
    assert_eq!(w.meta.nr_mlock(), N / 2);
    // munlock makes them evictable again.
    w.mm.do_munlock(a, N / 2 * P).unwrap();
    for _ in 0..6 {
        reclaim(&w, N);
    }
    assert_eq!(swapped(&w.mm, a, N), N);
    read_back(&w, &w.mm, a, N);
}

/// Two pages in two page tables of one vma; mlock it with a hook that runs
/// real reclaim in the window after the first page table (the second page
/// is still evictable, its vma already `VM_LOCKED`). Returns the second
/// page's mlock_count after the mlock, whether it was ever swapped out,
/// and whether the hook ran.
fn mlock_with_reclaim_in_the_window(guard: bool) -> (u32, bool, bool) {
    const M2: u64 = 2 << 20;
    let w = swap_world(1024);
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0x4000_0000, 2 * M2, prot, flags | MAP_FIXED, &root()).unwrap();
    touch(&w.mm, a, FaultAccess::Write);
    touch(&w.mm, a + M2, FaultAccess::Write);
    let second = frame(&w.mm, a + M2);
    w.mm.set_vm_io_guard(guard);
    let ran = Arc::new(AtomicBool::new(false));
    let (seen, meta, backend, arena) = (ran.clone(), w.meta.clone(), w.backend.clone(), w.arena.clone());
    w.mm.set_mlock_hook(Some(Arc::new(move |_mm: &TestMm, next: u64| {
        if next == a + M2 && !seen.swap(true, Ordering::SeqCst) {
            for _ in 0..4 {
                shrink_lruvec::<SharedArena, StdBackend, NoFlush>(&meta, &backend, &arena, 8, Reclaimer::Direct);
            }
        }
    })));
    w.mm.do_mlock(a, 2 * M2, 0, &root()).unwrap();
    w.mm.set_mlock_hook(None);
    w.mm.set_vm_io_guard(true);
    let swapped_out = w.meta.swap().events().pswpout > 0;
    let count = w.meta.get(second).map_or(0, |f| f.mlock_count());
    assert_eq!(frame(&w.mm, a + M2), second, "the locked page stayed in its frame");
    check(&w.mm);
    (count, swapped_out, ran.load(Ordering::SeqCst))
}

#[test]
fn reclaim_in_the_mlock_window_leaves_a_guarded_vma_alone() {
    let (count, swapped_out, ran) = mlock_with_reclaim_in_the_window(true);
    assert!(ran, "reclaim ran in the window");
    assert!(!swapped_out, "nothing of a vma being locked is swapped out");
    assert_eq!(count, 1, "one locked mapping, counted once");
}

#[test]
fn without_the_vm_io_guard_reclaim_in_the_mlock_window_culls_the_page() {
    // Reclaim meets the VM_LOCKED vma, mlocks the page it isolated (not
    // counted: it is off the LRU) and puts it back unevictable with
    // mlock_count 0, Linux's underestimate; mlock_pte_range then counts
    // the one locked mapping.
    let (count, swapped_out, ran) = mlock_with_reclaim_in_the_window(false);
    assert!(ran);
    assert!(!swapped_out, "culled: a page in a VM_LOCKED vma is never swapped");
    assert_eq!(count, 1);
}

#[test]
fn fork_shares_swapped_pages_and_each_side_reads_its_own_copy() {
    let w = swap_world(1024);
    let a = populated(&w, 8);
    while swapped(&w.mm, a, 8) < 8 {
        assert!(reclaim(&w, 8).scanned > 0);
    }
    let mut child = MmStruct::new(w.arena.clone(), w.backend.clone(), NoFlush, w.meta.clone(), None).unwrap();
    child.enable_rmap().unwrap();
    w.mm.dup_mmap(&mut child).unwrap();
    assert_eq!(swapped(&child, a, 8), 8, "the child got the swap entries");
    assert_eq!(child.swap_ents(), 8);
    let (total, free) = w.meta.swap().totals();
    assert_eq!(total - free, 8, "one slot per page, counted twice");
    // SwapPss splits each shared slot between its two ptes.
    let v = child.smaps(None).unwrap().into_iter().find(|v| v.start == a).unwrap();
    assert_eq!((v.stats.swap, v.stats.swap_pss), (8 * P, (8 * P) << mm::smaps::PSS_SHIFT >> 1));
    read_back(&w, &child, a, 8);
    // The child's copies are its own: a write there is not seen by the parent.
    w.arena.write_entry(frame(&child, a), 0, 7);
    read_back(&w, &w.mm, a, 8);
    check(&w.mm);
    check(&child);
    assert_eq!(w.meta.swap().totals(), (total, total));
}

#[test]
fn munmap_exit_and_mremap_keep_slot_counts_right() {
    let w = swap_world(1024);
    let a = populated(&w, 16);
    while swapped(&w.mm, a, 16) < 16 {
        assert!(reclaim(&w, 16).scanned > 0);
    }
    let (total, _) = w.meta.swap().totals();
    // munmap of half gives those slots back.
    w.mm.do_munmap(a, 4 * P).unwrap();
    assert_eq!(w.meta.swap().totals().1, total - 12);
    // mremap moves swap entries: they read back at the new place.
    let b = w.mm.do_mremap(a + 4 * P, 12 * P, 24 * P, MREMAP_MAYMOVE, 0, &root()).unwrap();
    assert_eq!(swapped(&w.mm, b, 12), 12);
    assert_eq!(w.meta.swap().totals().1, total - 12);
    for i in 0..12 {
        touch(&w.mm, b + i * P, FaultAccess::Read);
        assert_eq!(w.arena.read_entry(frame(&w.mm, b + i * P), 0), 0x5eed_0000 + 4 + i);
    }
    check(&w.mm);
    // Exit gives the rest back.
    let c = populated(&w, 8);
    while swapped(&w.mm, c, 8) < 8 {
        assert!(reclaim(&w, 8).scanned > 0);
    }
    w.mm.exit_mmap();
    assert_eq!(w.meta.swap().totals(), (total, total));
}

#[test]
fn a_full_swap_device_stops_reclaim_without_losing_anything() {
    let w = swap_world(9); // slot 0 is the header: 8 usable
    let a = populated(&w, 16);
    for _ in 0..6 {
        reclaim(&w, 16);
    }
    assert_eq!(swapped(&w.mm, a, 16), 8);
    assert_eq!(w.meta.swap().totals().1, 0);
    read_back(&w, &w.mm, a, 16);
    check(&w.mm);
}

#[test]
fn without_swap_reclaim_does_nothing() {
    let w = world();
    let a = populated(&w, 8);
    let st = reclaim(&w, 8);
    assert_eq!(st.scanned, 0);
    assert_eq!(swapped(&w.mm, a, 8), 0);
}

/// zram that can be told to fail its transfers, as a disk might.
struct Flaky {
    inner: Zram,
    fail_reads: AtomicBool,
    fail_writes: AtomicBool,
}

impl mm::swap::SwapDevice for Flaky {
    fn nr_slots(&self) -> u64 {
        self.inner.nr_slots()
    }
    fn write_page(&self, slot: u64, page: &[u8; 4096]) -> Result<(), mm::swap::SwapIoError> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(mm::swap::SwapIoError::Io);
        }
        self.inner.write_page(slot, page)
    }
    fn read_page(&self, slot: u64, page: &mut [u8; 4096]) -> Result<(), mm::swap::SwapIoError> {
        if self.fail_reads.load(Ordering::SeqCst) {
            return Err(mm::swap::SwapIoError::Io);
        }
        self.inner.read_page(slot, page)
    }
    fn discard(&self, slot: u64) {
        self.inner.discard(slot)
    }
}

#[test]
fn swap_io_errors_keep_pages_or_give_sigbus_never_lose_data_silently() {
    let w = world();
    let dev = Arc::new(Flaky { inner: Zram::new(64).unwrap(), fail_reads: AtomicBool::new(false), fail_writes: AtomicBool::new(true) });
    w.meta.swap().swapon(dev.clone(), &[]).unwrap();
    let a = populated(&w, 8);
    // Writes fail: every page stays in RAM, intact, and no slot is held.
    for _ in 0..4 {
        assert_eq!(reclaim(&w, 8).reclaimed, 0);
    }
    assert_eq!(swapped(&w.mm, a, 8), 0);
    let (total, free) = w.meta.swap().totals();
    assert_eq!(total, free);
    read_back(&w, &w.mm, a, 8);
    check(&w.mm);
    // Writes work, reads fail: the swapped-out page cannot come back, and
    // the fault says so (SIGBUS) instead of mapping anything else.
    dev.fail_writes.store(false, Ordering::SeqCst);
    while swapped(&w.mm, a, 8) < 8 {
        assert!(reclaim(&w, 8).scanned > 0);
    }
    dev.fail_reads.store(true, Ordering::SeqCst);
    assert_eq!(w.mm.handle_mm_fault(a, FaultAccess::Read, FaultOrigin::User), Err(mm::fault::FaultError::SigBus));
    assert!(w.mm.swapped_out(a), "the entry stays: a later read may work");
    dev.fail_reads.store(false, Ordering::SeqCst);
    read_back(&w, &w.mm, a, 8);
    check(&w.mm);
}
