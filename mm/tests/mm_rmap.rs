//! Reverse maps: every pte mapping a frame is found from the frame (fork
//! shares pages, copy-on-write separates them, munmap and exit remove
//! them, mremap moves them, a shmem object's pages are found in every
//! address space mapping it), the per-frame mapcount follows, and
//! `page_referenced` tests and clears the accessed bits. Then the `VM_IO`
//! guard of `mlock_vma_pages_range`: an rmap walk driven into the window
//! between two page tables of an mlock (test hook) leaves `mlock_count`
//! right with the guard, and counts a page twice without it.
#![cfg(not(loom))]

mod common;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use mm::fault::{FaultAccess, FaultOrigin};
use mm::mmap::*;
use mm::mremap::{MREMAP_FIXED, MREMAP_MAYMOVE};
use mm::pgtable::{NoFlush, PteFlags};
use mm::rmap::{page_referenced, rmap_walk};
use mm::vma::VmFlags;
use mm::MmStruct;

const M2: u64 = 2 << 20;

fn child_of(w: &World, parent: &TestMm) -> TestMm {
    let mut child = MmStruct::new(w.arena.clone(), w.backend.clone(), NoFlush, w.meta.clone(), None).unwrap();
    parent.dup_mmap(&mut child).unwrap();
    child
}

fn fault(mm: &TestMm, va: u64, access: FaultAccess) {
    mm.handle_mm_fault(va, access, FaultOrigin::User).unwrap();
}

fn frame(mm: &TestMm, va: u64) -> u64 {
    mm.follow_page(va).expect("mapped").0
}

/// Every (mm id, address) the rmap walk finds for `pa`, sorted.
fn mappings(mm: &TestMm, pa: u64) -> Vec<(u64, u64)> {
    let mut v = Vec::new();
    rmap_walk(mm, pa, &mut |hit| {
        assert_eq!(hit.pa, pa, "the walk hands out only ptes of the frame");
        v.push((hit.mm_id, hit.addr));
        true
    });
    v.sort();
    v
}

fn mapcount(w: &World, pa: u64) -> u32 {
    w.meta.get(pa).unwrap().mapcount()
}

fn private(w: &World, pages: u64) -> u64 {
    let (prot, flags) = anon_rw();
    w.mm.do_mmap(0, pages * P, prot, flags, &root()).unwrap()
}

#[test]
fn a_faulted_page_has_one_mapping() {
    let w = world();
    let a = private(&w, 2);
    fault(&w.mm, a, FaultAccess::Write);
    let pa = frame(&w.mm, a);
    assert_eq!(mappings(&w.mm, pa), vec![(w.mm.id(), a)]);
    assert_eq!(mapcount(&w, pa), 1);
    check(&w.mm);
}

#[test]
fn fork_shares_pages_and_the_walk_finds_both_ptes_until_cow_separates_them() {
    let w = world();
    let a = private(&w, 4);
    for i in 0..4 {
        fault(&w.mm, a + i * P, FaultAccess::Write);
    }
    let child = child_of(&w, &w.mm);
    let mut ids = [w.mm.id(), child.id()];
    ids.sort();
    for i in 0..4 {
        let pa = frame(&w.mm, a + i * P);
        assert_eq!(frame(&child, a + i * P), pa);
        assert_eq!(mappings(&w.mm, pa), ids.iter().map(|&id| (id, a + i * P)).collect::<Vec<_>>());
        assert_eq!(mappings(&child, pa), mappings(&w.mm, pa), "either mm finds both");
        assert_eq!(mapcount(&w, pa), 2);
    }
    // A write in the child copies page 1: each side now maps its own.
    let old = frame(&w.mm, a + P);
    fault(&child, a + P, FaultAccess::Write);
    let new = frame(&child, a + P);
    assert_ne!(old, new);
    assert_eq!(mappings(&w.mm, old), vec![(w.mm.id(), a + P)]);
    assert_eq!(mappings(&child, new), vec![(child.id(), a + P)]);
    assert_eq!((mapcount(&w, old), mapcount(&w, new)), (1, 1));
    check(&w.mm);
    check(&child);
}

#[test]
fn munmap_and_exit_remove_their_mappings() {
    let w = world();
    let a = private(&w, 2);
    fault(&w.mm, a, FaultAccess::Write);
    fault(&w.mm, a + P, FaultAccess::Write);
    let (p0, p1) = (frame(&w.mm, a), frame(&w.mm, a + P));
    let child = child_of(&w, &w.mm);
    w.mm.do_munmap(a, P).unwrap();
    assert_eq!(mappings(&child, p0), vec![(child.id(), a)]);
    assert_eq!(mapcount(&w, p0), 1);
    assert_eq!(mapcount(&w, p1), 2);
    child.exit_mmap();
    assert_eq!(mappings(&w.mm, p1), vec![(w.mm.id(), a + P)]);
    assert_eq!(mapcount(&w, p1), 1);
    assert_eq!(w.meta.get(p0).unwrap().page_ref_count(), 0, "the last mapping's exit freed the page");
    check(&w.mm);
}

#[test]
fn an_mremap_moved_page_is_found_at_its_new_address() {
    let w = world();
    let a = private(&w, 2);
    fault(&w.mm, a + P, FaultAccess::Write);
    let pa = frame(&w.mm, a + P);
    let child = child_of(&w, &w.mm);
    // Move the child's mapping elsewhere.
    let b = child.do_mremap(a, 2 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x5000_0000, &root()).unwrap();
    assert_eq!(b, 0x5000_0000);
    assert_eq!(frame(&child, b + P), pa);
    let mut want = vec![(w.mm.id(), a + P), (child.id(), b + P)];
    want.sort();
    assert_eq!(mappings(&w.mm, pa), want);
    assert_eq!(mapcount(&w, pa), 2);
    check(&w.mm);
    check(&child);
}

#[test]
fn shmem_pages_are_found_in_every_address_space_mapping_the_object() {
    let w = world();
    let a = w.mm.do_mmap(0, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, &root()).unwrap();
    let child = child_of(&w, &w.mm);
    fault(&w.mm, a + 2 * P, FaultAccess::Write);
    fault(&child, a + 2 * P, FaultAccess::Read);
    let pa = frame(&w.mm, a + 2 * P);
    assert_eq!(frame(&child, a + 2 * P), pa);
    let mut want = vec![(w.mm.id(), a + 2 * P), (child.id(), a + 2 * P)];
    want.sort();
    assert_eq!(mappings(&w.mm, pa), want);
    assert_eq!(mapcount(&w, pa), 2);
    child.do_munmap(a, 4 * P).unwrap();
    assert_eq!(mappings(&w.mm, pa), vec![(w.mm.id(), a + 2 * P)]);
    assert_eq!(mapcount(&w, pa), 1);
    check(&w.mm);
    check(&child);
}

#[test]
fn page_referenced_counts_mappings_and_clears_the_accessed_bits() {
    let w = world();
    let a = private(&w, 1);
    fault(&w.mm, a, FaultAccess::Write);
    let child = child_of(&w, &w.mm);
    let pa = frame(&w.mm, a);
    // The fault made the parent's pte young; the child's copy is old.
    let r = page_referenced(&w.mm, pa);
    assert_eq!((r.mapcount, r.referenced), (2, 1));
    assert!(!w.mm.follow_page(a).unwrap().1.contains(PteFlags::ACCESSED));
    let r = page_referenced(&child, pa);
    assert_eq!((r.mapcount, r.referenced), (2, 0));
    check(&w.mm);
    check(&child);
}

#[test]
fn page_referenced_reports_a_locked_vma_and_leaves_a_counted_mlock_alone() {
    let w = world();
    let a = private(&w, 1);
    fault(&w.mm, a, FaultAccess::Write);
    let pa = frame(&w.mm, a);
    w.mm.do_mlock(a, P, 0, &root()).unwrap();
    let r = page_referenced(&w.mm, pa);
    assert!(r.vm_flags.contains(VmFlags::LOCKED));
    // Reclaim walks only evictable pages: one already on the unevictable
    // list keeps its count.
    let f = w.meta.get(pa).unwrap();
    assert_eq!((f.is_mlocked(), f.mlock_count()), (true, 1));
    w.mm.do_munlock(a, P).unwrap();
    assert!(!f.is_mlocked());
    check(&w.mm);
}

/// Map two pages in two page tables of one vma, mlock the vma with a hook
/// that runs `page_referenced` on the second page in the window after the
/// first page table; returns the second page's (mlocked, mlock_count)
/// after the mlock and after the munlock, and whether the hook ran.
fn mlock_with_walk_in_the_window(guard: bool) -> ((bool, u32), (bool, u32), bool) {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0x4000_0000, 2 * M2, prot, flags | MAP_FIXED, &root()).unwrap();
    assert_eq!(a % M2, 0);
    fault(&w.mm, a, FaultAccess::Write);
    fault(&w.mm, a + M2, FaultAccess::Write);
    let second = frame(&w.mm, a + M2);
    w.mm.set_vm_io_guard(guard);
    let ran = Arc::new(AtomicBool::new(false));
    let seen = ran.clone();
    w.mm.set_mlock_hook(Some(Arc::new(move |mm: &TestMm, next: u64| {
        if next == a + M2 && !seen.swap(true, Ordering::SeqCst) {
            let r = page_referenced(mm, second);
            assert_eq!(r.mapcount, 1);
        }
    })));
    w.mm.do_mlock(a, 2 * M2, 0, &root()).unwrap();
    let f = w.meta.get(second).unwrap();
    let locked = (f.is_mlocked(), f.mlock_count());
    w.mm.do_munlock(a, 2 * M2).unwrap();
    let unlocked = (f.is_mlocked(), f.mlock_count());
    w.mm.set_mlock_hook(None);
    (locked, unlocked, ran.load(Ordering::SeqCst))
}

#[test]
fn with_the_vm_io_guard_a_walk_in_the_mlock_window_counts_nothing() {
    let (locked, unlocked, ran) = mlock_with_walk_in_the_window(true);
    assert!(ran, "the hook ran in the window");
    assert_eq!(locked, (true, 1), "one locked mapping, counted once");
    assert_eq!(unlocked, (false, 0), "munlock of the only locked mapping munlocks the page");
}

#[test]
fn without_the_vm_io_guard_a_walk_in_the_mlock_window_counts_twice() {
    let (locked, unlocked, ran) = mlock_with_walk_in_the_window(false);
    assert!(ran, "the hook ran in the window");
    assert_eq!(locked, (true, 2), "counted by the walk and by mlock_pte_range");
    assert_eq!(unlocked, (true, 1), "left mlocked after the last munlock");
}

/// The same race with real threads: a second thread runs rmap walks on
/// the second page while the first thread's mlock is in its window (the
/// hook waits for one walk to complete there).
fn threaded(guard: bool) -> (u32, bool) {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0x4000_0000, 2 * M2, prot, flags | MAP_FIXED, &root()).unwrap();
    fault(&w.mm, a, FaultAccess::Write);
    fault(&w.mm, a + M2, FaultAccess::Write);
    let second = frame(&w.mm, a + M2);
    w.mm.set_vm_io_guard(guard);
    let walks = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let in_window = Arc::new(Mutex::new(false));
    let walker = {
        let (mm, walks, stop, in_window) = (w.mm.clone(), walks.clone(), stop.clone(), in_window.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let window = *in_window.lock().unwrap();
                page_referenced(&*mm, second);
                if window {
                    walks.fetch_add(1, Ordering::SeqCst);
                }
                std::thread::yield_now();
            }
        })
    };
    {
        let (walks, in_window) = (walks.clone(), in_window.clone());
        w.mm.set_mlock_hook(Some(Arc::new(move |_mm: &TestMm, next: u64| {
            if next != a + M2 {
                return;
            }
            *in_window.lock().unwrap() = true;
            let base = walks.load(Ordering::SeqCst);
            while walks.load(Ordering::SeqCst) < base + 2 {
                std::thread::yield_now();
            }
            *in_window.lock().unwrap() = false;
        })));
    }
    w.mm.do_mlock(a, 2 * M2, 0, &root()).unwrap();
    stop.store(true, Ordering::SeqCst);
    walker.join().unwrap();
    w.mm.set_mlock_hook(None);
    let count = w.meta.get(second).unwrap().mlock_count();
    w.mm.do_munlock(a, 2 * M2).unwrap();
    (count, w.meta.get(second).unwrap().is_mlocked())
}

#[test]
fn threaded_rmap_walks_racing_mlock() {
    assert_eq!(threaded(true), (1, false));
    let (count, left) = threaded(false);
    assert!(
        count >= 2 && left,
        "without the guard the racing walks count the page again: count {count}, mlocked after munlock {left}"
    );
}

#[test]
fn the_checker_catches_a_pte_the_mapcount_misses() {
    let w = world();
    let a = private(&w, 1);
    fault(&w.mm, a, FaultAccess::Write);
    let child = child_of(&w, &w.mm);
    let pa = frame(&w.mm, a);
    let f = w.meta.get(pa).unwrap();
    check(&w.mm);
    f.remove_mapcount();
    let err = mm::invariants::check_mm_invariants(&*w.mm).unwrap_err();
    assert!(err.contains("mapcount is 1"), "{err}");
    f.add_mapcount();
    check(&w.mm);
    check(&child);
}

#[test]
fn a_page_shared_by_three_generations_is_found_once_in_each() {
    let w = world();
    let a = private(&w, 1);
    fault(&w.mm, a, FaultAccess::Write);
    let pa = frame(&w.mm, a);
    let c1 = child_of(&w, &w.mm);
    let c2 = child_of(&w, &w.mm);
    let g1 = child_of(&w, &c1);
    let mut want: Vec<_> = [w.mm.id(), c1.id(), c2.id(), g1.id()].iter().map(|&id| (id, a)).collect();
    want.sort();
    for mm in [&*w.mm, &c1, &c2, &g1] {
        assert_eq!(mappings(mm, pa), want);
        check(mm);
    }
    assert_eq!(mapcount(&w, pa), 4);
    drop(c1);
    assert_eq!(mapcount(&w, pa), 3);
    assert_eq!(mappings(&g1, pa).len(), 3);
}
