//! mremap: shrink, grow in place, move (frames and mlock state travel),
//! MREMAP_FIXED / DONTUNMAP, locked growth, and the errno paths.
#![cfg(not(loom))]

mod common;
use common::*;
use mm::fault::{FaultAccess, FaultOrigin};
use mm::mlock::MLOCK_ONFAULT;
use mm::mmap::*;
use mm::mremap::*;
use mm::vma::VmFlags;
use mm::Errno::*;

fn touch(w: &World, addr: u64, pages: u64) {
    for i in 0..pages {
        w.mm.handle_mm_fault(addr + i * P, FaultAccess::Write, FaultOrigin::User).unwrap();
    }
}

#[test]
fn mremap_errors() {
    let w = world();
    let (prot, flags) = anon_rw();
    let r = root();
    let a = w.mm.do_mmap(0x4000_0000, 4 * P, prot, flags | MAP_FIXED, &r).unwrap();
    assert_eq!(w.mm.do_mremap(a, P, 2 * P, 8, 0, &r), Err(EINVAL), "unknown flag");
    assert_eq!(w.mm.do_mremap(a, P, 2 * P, MREMAP_FIXED, 0x5000_0000, &r), Err(EINVAL), "FIXED without MAYMOVE");
    assert_eq!(
        w.mm.do_mremap(a, P, 2 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0, &r),
        Err(EINVAL),
        "DONTUNMAP needs equal lengths"
    );
    assert_eq!(w.mm.do_mremap(a + 1, P, 2 * P, 0, 0, &r), Err(EINVAL));
    assert_eq!(w.mm.do_mremap(a, P, 0, 0, 0, &r), Err(EINVAL));
    assert_eq!(w.mm.do_mremap(0x1000_0000, P, 2 * P, 0, 0, &r), Err(EFAULT), "no vma");
    assert_eq!(w.mm.do_mremap(a, 8 * P, 9 * P, 0, 0, &r), Err(EFAULT), "old range beyond the vma");
    assert_eq!(w.mm.do_mremap(a, 0, P, MREMAP_MAYMOVE, 0, &r), Err(EINVAL), "old_len 0 on private memory");
    assert_eq!(w.mm.do_mremap(a, 4 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 2 * P, &r), Err(EINVAL), "overlap");
    assert_eq!(w.mm.do_mremap(a, 4 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x5000_0001, &r), Err(EINVAL));
    assert_eq!(w.mm.do_mremap(a, 4 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x1000, &r), Err(EPERM));
    // Blocked growth without MAYMOVE.
    w.mm.do_mmap(a + 4 * P, P, PROT_READ, flags | MAP_FIXED, &r).unwrap();
    assert_eq!(w.mm.do_mremap(a, 4 * P, 8 * P, 0, 0, &r), Err(ENOMEM));
    // Special vmas do not grow.
    w.mm.install_special_mapping(0x6000_0000, P, PROT_READ).unwrap();
    assert_eq!(w.mm.do_mremap(0x6000_0000, P, 2 * P, MREMAP_MAYMOVE, 0, &r), Err(EFAULT));
    check(&w.mm);
}

#[test]
fn mremap_shrink_grow_in_place_and_move() {
    let w = world();
    let (prot, flags) = anon_rw();
    let r = root();
    let a = w.mm.do_mmap(0x4000_0000, 8 * P, prot, flags | MAP_FIXED, &r).unwrap();
    touch(&w, a, 8);
    // Shrink: the tail is unmapped and freed.
    let in_use = w.arena.in_use();
    assert_eq!(w.mm.do_mremap(a, 8 * P, 6 * P, 0, 0, &r), Ok(a));
    assert_eq!(w.arena.in_use(), in_use - 2);
    assert_eq!(w.mm.rss(), 6);
    // Grow in place.
    assert_eq!(w.mm.do_mremap(a, 6 * P, 10 * P, 0, 0, &r), Ok(a));
    assert_eq!(w.mm.map_count(), 1);
    assert_eq!(w.mm.total_vm(), 10);
    check(&w.mm);
    // Blocked: move, frames travel.
    w.mm.do_mmap(a + 10 * P, P, PROT_READ, flags | MAP_FIXED, &r).unwrap();
    let frames: Vec<u64> = (0..6).map(|i| w.mm.follow_page(a + i * P).unwrap().0).collect();
    let b = w.mm.do_mremap(a, 10 * P, 20 * P, MREMAP_MAYMOVE, 0, &r).unwrap();
    assert_ne!(b, a);
    let moved: Vec<u64> = (0..6).map(|i| w.mm.follow_page(b + i * P).unwrap().0).collect();
    assert_eq!(frames, moved, "same frames at the new address");
    assert!(w.mm.follow_page(a).is_none());
    assert_eq!(w.mm.total_vm(), 21);
    assert_eq!(w.mm.rss(), 6);
    check(&w.mm);
    // MREMAP_FIXED to a chosen place, replacing what was there.
    w.mm.do_mmap(0x5000_0000, 4 * P, prot, flags | MAP_FIXED | MAP_POPULATE, &r).unwrap();
    assert_eq!(w.mm.do_mremap(b, 20 * P, 2 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x5000_0000, &r), Ok(0x5000_0000));
    assert_eq!(w.mm.rss(), 4, "2 moved + the 2 target pages beyond the new length");
    assert_eq!(w.mm.follow_page(0x5000_0000).unwrap().0, frames[0]);
    assert_eq!(w.mm.total_vm(), 1 + 4, "the read-only page and the 4-page target");
    check(&w.mm);
}

#[test]
fn mremap_locked_growth_populates_and_respects_the_limit() {
    let w = world();
    let (prot, flags) = anon_rw();
    let user = nobody(8 * P);
    let a = w.mm.do_mmap(0x4000_0000, 4 * P, prot, flags | MAP_FIXED | MAP_LOCKED, &user).unwrap();
    assert_eq!(w.meta.nr_mlock(), 4);
    assert_eq!(w.mm.do_mremap(a, 4 * P, 16 * P, MREMAP_MAYMOVE, 0, &user), Err(EAGAIN), "over RLIMIT_MEMLOCK");
    assert_eq!(w.mm.do_mremap(a, 4 * P, 6 * P, 0, 0, &user), Ok(a));
    assert_eq!(present(&w.mm, a, 6 * P), 6, "locked growth populated");
    assert_eq!(w.mm.locked_vm(), 6);
    assert_eq!(w.meta.nr_mlock(), 6);
    check(&w.mm);
    // Moving keeps the pages mlocked, exactly once.
    w.mm.do_mmap(a + 6 * P, P, prot, flags | MAP_FIXED, &root()).unwrap();
    let b = w.mm.do_mremap(a, 6 * P, 8 * P, MREMAP_MAYMOVE, 0, &user).unwrap();
    assert_ne!(a, b);
    assert_eq!(w.mm.locked_vm(), 8);
    assert_eq!(w.meta.nr_mlock(), 8);
    check(&w.mm);
    // DONTUNMAP: the old range stays, empty and unlocked.
    let c = w.mm.do_mremap(b, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0, &user).unwrap();
    assert_eq!(w.mm.locked_vm(), 8);
    assert_eq!(present(&w.mm, b, 8 * P), 0);
    assert_eq!(present(&w.mm, c, 8 * P), 8);
    assert!(!w.mm.maps_snapshot().iter().find(|m| m.0 == b).unwrap().2.contains(VmFlags::LOCKED));
    check(&w.mm);
    // ONFAULT growth is not populated.
    w.mm.do_mlock(c, 8 * P, MLOCK_ONFAULT, &root()).unwrap();
    let d = w.mm.do_mremap(c, 8 * P, 10 * P, MREMAP_MAYMOVE, 0, &root()).unwrap();
    assert_eq!(present(&w.mm, d, 10 * P), 8);
    check(&w.mm);
    w.mm.exit_mmap();
    assert_eq!(w.arena.in_use(), 0);
    assert_eq!(w.meta.nr_mlock(), 0);
}

/// Ranges with more present pages than one pte batch (512): munmap,
/// mprotect and mremap's move go through every batch; a move that runs
/// out of page-table frames is undone.
#[test]
fn big_ranges_cross_pte_batches() {
    let w = world();
    let (prot, flags) = anon_rw();
    let r = root();
    let n = 1500;
    let a = w.mm.do_mmap(0x4000_0000, n * P, prot, flags | MAP_FIXED | MAP_POPULATE, &r).unwrap();
    assert_eq!(w.mm.rss(), n);
    w.mm.do_mprotect(a, n * P, PROT_READ).unwrap();
    check(&w.mm);
    w.mm.do_mprotect(a, n * P, PROT_READ | PROT_WRITE).unwrap();
    // A move with no frame left for the new page tables: ENOMEM, unchanged.
    w.mm.do_mmap(a + n * P, P, PROT_READ, flags | MAP_FIXED, &r).unwrap();
    let in_use = w.arena.in_use();
    // PUD + PMD + one page table: the first batch maps, a later one fails.
    w.arena.set_limit(Some(in_use + 3));
    assert_eq!(w.mm.do_mremap(a, n * P, (n + 1) * P, MREMAP_MAYMOVE, 0, &r), Err(ENOMEM));
    w.arena.set_limit(None);
    assert_eq!(w.arena.in_use(), in_use);
    assert_eq!(present(&w.mm, a, n * P), n as usize);
    check(&w.mm);
    let b = w.mm.do_mremap(a, n * P, (n + 1) * P, MREMAP_MAYMOVE, 0, &r).unwrap();
    assert_eq!(present(&w.mm, b, (n + 1) * P), n as usize);
    check(&w.mm);
    w.mm.do_munmap(b, (n + 1) * P).unwrap();
    assert_eq!(w.mm.rss(), 0);
    check(&w.mm);
    w.mm.exit_mmap();
    assert_eq!(w.arena.in_use(), 0);
}

/// A shrink whose old range reaches past TASK_SIZE is EINVAL and unmaps
/// nothing (Linux's munmap check), even with a vma above it; found by
/// syscall_fuzz, which lost its own stack to the clipped range.
#[test]
fn shrink_with_old_range_past_task_size_is_einval_and_unmaps_nothing() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0x1000_0000, 4 * P, prot, flags | mm::mmap::MAP_FIXED, &root()).unwrap();
    let high = w.mm.do_mmap(0x7000_0000_0000, 4 * P, prot, flags | mm::mmap::MAP_FIXED, &root()).unwrap();
    let huge = u64::MAX - 2 * P + 5;
    assert_eq!(w.mm.do_mremap(a, huge, P, 0, 0, &root()), Err(mm::Errno::EINVAL));
    assert_eq!(w.mm.do_mremap(a, huge, P, MREMAP_MAYMOVE | MREMAP_FIXED, a + 64 * P, &root()), Err(mm::Errno::EINVAL));
    assert_eq!(w.mm.do_mremap(a, mm::addr::TASK_SIZE - a + P, P, 0, 0, &root()), Err(mm::Errno::EINVAL));
    assert_eq!(w.mm.map_count(), 2, "nothing was unmapped");
    assert_eq!(w.mm.mincore(high, 4 * P).map(|v| v.len()), Ok(4), "the high vma is intact");
    // Up to TASK_SIZE exactly is a valid (if drastic) request, as on Linux.
    assert_eq!(w.mm.do_mremap(a, mm::addr::TASK_SIZE - a, P, 0, 0, &root()), Ok(a));
    assert_eq!(w.mm.map_count(), 1);
    check(&w.mm);
}
