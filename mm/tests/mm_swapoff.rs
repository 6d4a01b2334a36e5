//! swapoff's mm part (`try_to_unuse`): pages swapped out by real reclaim,
//! in a process and its fork child, come back into RAM with their
//! contents, every slot count is given back and the device leaves the
//! list; a swapoff that runs out of memory fails with `ENOMEM`, loses
//! nothing, and leaves the device taking slots again. The invariant
//! checker runs after every step.
#![cfg(not(loom))]

mod common;
use std::sync::Arc;

use common::swap::*;
use common::*;
use mm::errno::Errno;
use mm::fault::{FaultAccess, FaultOrigin};
use mm::pgtable::{NoFlush, PhysMem};
use mm::rwsem::StdBackend;
use mm::swap::swapfile::SwapEntry;
use mm::swap::swapoff::swapoff;
use mm::swap::zram::Zram;
use mm::vmscan::{shrink_lruvec, Reclaimer};
use mm::MmStruct;

const N: u64 = 64;

/// Reclaim until every page of `[a, a + pages)` of `mm` is swapped out.
fn swap_all_out(w: &World, mm: &TestMm, a: u64, pages: u64) {
    while swapped(mm, a, pages) < pages {
        let st = shrink_lruvec::<SharedArena, StdBackend, NoFlush>(&w.meta, &w.backend, &w.arena, pages, Reclaimer::Direct);
        assert!(st.scanned > 0, "reclaim found nothing to scan");
    }
}

/// Every page is resident (no fault needed) and holds its markers.
fn resident_and_intact(w: &World, mm: &TestMm, a: u64, pages: u64) {
    for i in 0..pages {
        let pa = frame(mm, a + i * P);
        assert_eq!(w.arena.read_entry(pa, 0), 0x5eed_0000 + i, "page {i}");
        assert_eq!(w.arena.read_entry(pa, 511), !i, "page {i}");
    }
}

/// swapoff of type 0 over `mms`, one round each time it is asked,
/// yielding between rounds as the kernel's does (a fault reading a slot
/// holds a count on it until it is done: the round after it finds it).
fn swapoff_of(w: &World, mms: &[&TestMm]) -> Result<(), Errno> {
    let mut rounds = 0;
    let r = swapoff::<SharedArena, StdBackend, NoFlush>(&w.meta, &w.arena, 0, |visit| {
        if rounds > 0 {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        rounds += 1;
        assert!(rounds < 1000, "try_to_unuse keeps going round");
        mms.iter().try_for_each(|mm| visit(mm))
    });
    r.map(|_| ())
}

#[test]
fn swapoff_brings_every_page_of_every_mm_back_and_removes_the_device() {
    let w = world();
    w.meta.swap().swapon(Arc::new(Zram::new(1024).unwrap()), &[]).unwrap();
    let a = populated(&w, N);
    swap_all_out(&w, &w.mm, a, N);
    // A child shares the swapped-out pages (one slot, two counts each).
    let mut child = MmStruct::new(w.arena.clone(), w.backend.clone(), NoFlush, w.meta.clone(), None).unwrap();
    child.enable_rmap().unwrap();
    w.mm.dup_mmap(&mut child).unwrap();
    let (total, free) = w.meta.swap().totals();
    assert_eq!(total - free, N);
    let counts: u64 = (1..1024).map(|offset| u64::from(w.meta.swap().swap_count(SwapEntry { type_: 0, offset }))).sum();
    assert_eq!(counts, 2 * N, "two swap ptes name each slot");
    let in0 = w.meta.swap().events().pswpin;
    check(&w.mm);
    check(&child);

    swapoff_of(&w, &[&w.mm, &child]).unwrap();

    for mm in [&*w.mm, &child] {
        check(mm);
        assert_eq!(swapped(mm, a, N), 0);
        assert_eq!(mm.swap_ents(), 0);
        assert_eq!(mm.rss(), N);
        resident_and_intact(&w, mm, a, N);
    }
    // No swap cache: each side read its own copy.
    assert_ne!(frame(&w.mm, a), frame(&child, a));
    assert_eq!(w.meta.swap().events().pswpin - in0, 2 * N);
    assert_eq!(w.meta.swap().totals(), (0, 0), "the device is gone");
    assert!(!w.meta.swap().enabled());
    assert!(!w.meta.swap().may_have_entries(), "no slot count left anywhere");
    assert_eq!(w.meta.swap().device(0).map(|_| ()), None);
    assert_eq!(swapoff_of(&w, &[&w.mm]), Err(Errno::EINVAL), "not on any more");
    // Writes are private again.
    w.arena.write_entry(frame(&child, a), 0, 7);
    resident_and_intact(&w, &w.mm, a, N);
    // Reclaim without swap does nothing; swapping on again works.
    w.meta.swap().swapon(Arc::new(Zram::new(1024).unwrap()), &[]).unwrap();
    swap_all_out(&w, &w.mm, a, N);
    w.mm.exit_mmap();
    child.exit_mmap();
    assert_eq!(w.meta.swap().totals(), (1023, 1023));
}

#[test]
fn swapoff_without_memory_fails_with_enomem_and_loses_nothing() {
    let w = world();
    w.meta.swap().swapon(Arc::new(Zram::new(1024).unwrap()), &[]).unwrap();
    let a = populated(&w, N);
    swap_all_out(&w, &w.mm, a, N);
    // Room for half of the pages only.
    w.arena.set_limit(Some(w.arena.in_use() + N / 2));
    assert_eq!(swapoff_of(&w, &[&w.mm]), Err(Errno::ENOMEM));
    check(&w.mm);
    let back = N - swapped(&w.mm, a, N);
    assert!(back > 0 && back <= N / 2, "{back} pages came back");
    assert_eq!(w.mm.swap_ents(), N - back);
    assert_eq!(w.mm.rss(), back);
    let (total, free) = w.meta.swap().totals();
    assert_eq!(total - free, N - back, "the rest is still on the device");
    // The device takes slots again: reclaim swaps the pages that came back out.
    w.arena.set_limit(None);
    swap_all_out(&w, &w.mm, a, N);
    check(&w.mm);
    // And with memory, swapoff works; everything reads back.
    swapoff_of(&w, &[&w.mm]).unwrap();
    check(&w.mm);
    assert_eq!(w.mm.swap_ents(), 0);
    resident_and_intact(&w, &w.mm, a, N);
    assert_eq!(w.meta.swap().totals(), (0, 0));
}

#[test]
fn a_fault_after_swapoff_finds_the_page_not_the_gone_device() {
    let w = world();
    w.meta.swap().swapon(Arc::new(Zram::new(64).unwrap()), &[]).unwrap();
    let a = populated(&w, 8);
    swap_all_out(&w, &w.mm, a, 8);
    swapoff_of(&w, &[&w.mm]).unwrap();
    for i in 0..8 {
        w.mm.handle_mm_fault(a + i * P, FaultAccess::Write, FaultOrigin::User).unwrap();
    }
    resident_and_intact(&w, &w.mm, a, 8);
    check(&w.mm);
}

#[test]
fn faults_and_reclaim_racing_swapoff_lose_nothing() {
    const M: u64 = 512;
    for _ in 0..4 {
        let w = world();
        w.meta.swap().swapon(Arc::new(Zram::new(4 * M).unwrap()), &[]).unwrap();
        let a = populated(&w, M);
        swap_all_out(&w, &w.mm, a, M);
        let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Faults from the top down, towards swapoff's walk from the bottom up.
        let faulter = {
            let mm = w.mm.clone();
            std::thread::spawn(move || {
                for i in (0..M).rev() {
                    mm.handle_mm_fault(a + i * P, FaultAccess::Read, FaultOrigin::User).unwrap();
                }
            })
        };
        // Reclaim swapping out what came back, until swapoff is done.
        let reclaimer = {
            let (meta, backend, arena, done) = (w.meta.clone(), w.backend.clone(), w.arena.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    shrink_lruvec::<SharedArena, StdBackend, NoFlush>(&meta, &backend, &arena, 32, Reclaimer::Direct);
                }
            })
        };
        let r = swapoff_of(&w, &[&w.mm]);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        faulter.join().unwrap();
        reclaimer.join().unwrap();
        r.unwrap();
        check(&w.mm);
        assert_eq!(w.mm.swap_ents(), 0);
        assert_eq!(w.mm.rss(), M);
        assert_eq!(w.meta.swap().totals(), (0, 0));
        resident_and_intact(&w, &w.mm, a, M);
    }
}
