//! `PROT_NONE` pages, Linux's way: a page that was touched and then made
//! `PROT_NONE` becomes a *protnone* leaf. The MMU sees a non-present entry
//! (every access, user or kernel, faults), while the mm still counts it as
//! mapped (Linux's `pte_present()` is true for it): it keeps its frame and
//! contents, its rss, its mlock state, `mincore` reports it resident, zap,
//! munmap, mremap and exit handle it like any page, and `mprotect` back to
//! readable makes it present again on the same frame.
//!
//! The second half checks the invariant checker's own judgement of pte
//! bits (Linux's x86 `protection_map`): one pte is corrupted behind the
//! mm's back, through the arena, and the checker must name it.
#![cfg(not(loom))]

mod common;
use common::*;
use mm::fault::{FaultAccess, FaultError, FaultOrigin};
use mm::invariants::check_mm_invariants;
use mm::mmap::*;
use mm::mremap::{MREMAP_FIXED, MREMAP_MAYMOVE};
use mm::pgtable::{PhysMem, PteFlags, ENTRY_ADDR_MASK};
use mm::Errno::*;

const PRESENT: u64 = PteFlags::PRESENT.bits();
const WRITABLE: u64 = PteFlags::WRITABLE.bits();
const USER: u64 = PteFlags::USER.bits();
const NX: u64 = PteFlags::NO_EXECUTE.bits();
const PROTNONE: u64 = PteFlags::PROTNONE.bits();

/// `(table, index)` of the pte mapping `va`, found by reading the tables
/// through the arena the way the MMU walks them.
fn pte_slot(w: &World, va: u64) -> (u64, usize) {
    let mut table = w.mm.root_pa();
    for shift in [39, 30, 21] {
        let e = w.arena.read_entry(table, ((va >> shift) & 511) as usize);
        assert!(e & PRESENT != 0, "no page table above {va:#x} (level shift {shift})");
        table = e & ENTRY_ADDR_MASK;
    }
    (table, ((va >> 12) & 511) as usize)
}

/// The raw pte mapping `va`, as the MMU reads it.
fn raw_pte(w: &World, va: u64) -> u64 {
    let (t, i) = pte_slot(w, va);
    w.arena.read_entry(t, i)
}

fn set_raw_pte(w: &World, va: u64, val: u64) {
    let (t, i) = pte_slot(w, va);
    w.arena.write_entry(t, i, val);
}

/// The frame mapped at `va` (protnone or not).
fn frame(w: &World, va: u64) -> u64 {
    w.mm.follow_page(va).expect("a page is mapped").0
}

#[test]
fn prot_none_page_is_not_present_to_the_mmu_and_keeps_its_frame() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 4 * P, prot, flags | MAP_POPULATE, &root()).unwrap();
    let frames: Vec<u64> = (0..4).map(|i| frame(&w, a + i * P)).collect();
    for (i, &pa) in frames.iter().enumerate() {
        w.arena.write_entry(pa, 7, 0x5eed_0000 + i as u64);
    }
    w.mm.do_mprotect(a, 4 * P, PROT_NONE).unwrap();
    check(&w.mm);
    for (i, &pa) in frames.iter().enumerate() {
        let raw = raw_pte(&w, a + i as u64 * P);
        assert_eq!(raw & PRESENT, 0, "page {i}: a PROT_NONE pte must not be present to the MMU ({raw:#x})");
        assert_eq!(raw & (PROTNONE | USER | WRITABLE), PROTNONE, "page {i}: protnone, no user or write bit ({raw:#x})");
        assert_eq!(raw & ENTRY_ADDR_MASK, pa, "page {i}: the pte keeps its frame");
        assert_eq!(w.arena.read_entry(pa, 7), 0x5eed_0000 + i as u64, "page {i}: contents kept");
    }
    assert_eq!(w.mm.rss(), 4, "protnone pages stay in rss");
    // Protnone alone, apart from the accessed and dirty bits the fault set
    // (kept, as Linux's pte_modify keeps them).
    let (pa0, f0) = w.mm.follow_page(a).unwrap();
    assert_eq!((pa0, f0 - mm::mm_struct::PTE_AD_MASK), (frames[0], PteFlags::PROTNONE));
    assert_eq!(f0 & mm::mm_struct::PTE_AD_MASK, mm::mm_struct::PTE_AD_MASK);

    // A fault there is an access error (SIGSEGV), never a fresh page.
    for access in [FaultAccess::Read, FaultAccess::Write, FaultAccess::Exec] {
        assert_eq!(w.mm.handle_mm_fault(a + P, access, FaultOrigin::User), Err(FaultError::Access), "{access:?}");
    }
    assert_eq!(frame(&w, a + P), frames[1]);
    assert_eq!(w.mm.rss(), 4);
    // MADV_POPULATE refuses it (EINVAL, as Linux's check_vma_flags) and maps nothing over it.
    assert_eq!(w.mm.madvise(a, P, MADV_POPULATE_READ), Err(EINVAL));
    assert_eq!(frame(&w, a), frames[0]);

    // Readable again: present, user, read-only, no-exec, same frame, same
    // contents; a read is satisfied, a write is still refused.
    w.mm.do_mprotect(a, 4 * P, PROT_READ).unwrap();
    check(&w.mm);
    for (i, &pa) in frames.iter().enumerate() {
        let raw = raw_pte(&w, a + i as u64 * P);
        assert_eq!(raw & (PRESENT | USER | WRITABLE | NX | PROTNONE), PRESENT | USER | NX, "page {i} ({raw:#x})");
        assert_eq!(raw & ENTRY_ADDR_MASK, pa);
        assert_eq!(w.arena.read_entry(pa, 7), 0x5eed_0000 + i as u64);
    }
    assert_eq!(w.mm.handle_mm_fault(a, FaultAccess::Read, FaultOrigin::User), Ok(()));
    assert_eq!(w.mm.handle_mm_fault(a, FaultAccess::Write, FaultOrigin::User), Err(FaultError::Access));
    assert_eq!(w.mm.rss(), 4);
    check(&w.mm);
}

#[test]
fn mlocked_page_stays_mlocked_across_prot_none() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 2 * P, prot, flags | MAP_LOCKED, &root()).unwrap();
    let frames: Vec<u64> = (0..2).map(|i| frame(&w, a + i * P)).collect();
    assert_eq!(w.meta.nr_mlock(), 2);
    w.mm.do_mprotect(a, 2 * P, PROT_NONE).unwrap();
    assert_eq!(raw_pte(&w, a) & (PRESENT | PROTNONE), PROTNONE);
    assert_eq!(w.meta.nr_mlock(), 2, "protnone pages stay mlocked");
    assert!(frames.iter().all(|&pa| w.meta.get(pa).unwrap().is_mlocked()));
    assert_eq!(w.mm.locked_vm(), 2);
    check(&w.mm);
    // munlock's walk reaches the protnone pages...
    w.mm.do_munlock(a, 2 * P).unwrap();
    assert_eq!(w.meta.nr_mlock(), 0, "munlock of protnone pages");
    check(&w.mm);
    // ... and so does mlock's (whose population then fails at PROT_NONE:
    // ENOMEM, the vma stays locked).
    assert_eq!(w.mm.do_mlock(a, 2 * P, 0, &root()), Err(ENOMEM));
    assert_eq!(w.meta.nr_mlock(), 2, "mlock of protnone pages");
    check(&w.mm);
    w.mm.do_mprotect(a, 2 * P, PROT_READ | PROT_WRITE).unwrap();
    assert_eq!((0..2).map(|i| frame(&w, a + i * P)).collect::<Vec<_>>(), frames);
    assert_eq!(w.meta.nr_mlock(), 2);
    check(&w.mm);
}

#[test]
fn mincore_reports_resident_prot_none_pages() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 4 * P, prot, flags, &root()).unwrap();
    for i in [0, 2] {
        w.mm.handle_mm_fault(a + i * P, FaultAccess::Write, FaultOrigin::User).unwrap();
    }
    w.mm.do_mprotect(a, 4 * P, PROT_NONE).unwrap();
    assert_eq!(w.mm.mincore(a, 4 * P).unwrap(), vec![1, 0, 1, 0]);
    check(&w.mm);
}

#[test]
fn zap_munmap_and_exit_free_prot_none_frames() {
    let w = world();
    let (prot, flags) = anon_rw();
    let before = w.arena.in_use();
    let a = w.mm.do_mmap(0, 4 * P, prot, flags | MAP_POPULATE, &root()).unwrap();
    w.mm.do_mprotect(a, 4 * P, PROT_NONE).unwrap();
    // MADV_DONTNEED zaps protnone pages like others.
    w.mm.madvise(a, 2 * P, MADV_DONTNEED).unwrap();
    assert_eq!(w.mm.rss(), 2);
    assert_eq!(w.mm.mincore(a, 4 * P).unwrap(), vec![0, 0, 1, 1]);
    check(&w.mm);
    w.mm.do_munmap(a, 4 * P).unwrap();
    assert_eq!(w.mm.rss(), 0);
    assert_eq!(w.arena.in_use(), before, "every data frame and page table freed");
    check(&w.mm);

    let b = w.mm.do_mmap(0, 4 * P, prot, flags | MAP_POPULATE | MAP_LOCKED, &root()).unwrap();
    w.mm.do_mprotect(b, 4 * P, PROT_NONE).unwrap();
    w.mm.exit_mmap();
    assert_eq!(w.arena.in_use(), before - 1, "exit frees protnone frames, tables and the root");
    assert_eq!(w.meta.nr_mlock(), 0);
}

#[test]
fn mremap_moves_prot_none_pages_with_their_frames() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 2 * P, prot, flags | MAP_POPULATE, &root()).unwrap();
    let frames: Vec<u64> = (0..2).map(|i| frame(&w, a + i * P)).collect();
    w.arena.write_entry(frames[1], 0, 0xfeed);
    w.mm.do_mprotect(a, 2 * P, PROT_NONE).unwrap();
    let target = 0x5000_0000;
    assert_eq!(w.mm.do_mremap(a, 2 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, target, &root()), Ok(target));
    check(&w.mm);
    assert!(w.mm.follow_page(a).is_none());
    for i in 0..2u64 {
        let raw = raw_pte(&w, target + i * P);
        assert_eq!(raw & (PRESENT | PROTNONE), PROTNONE, "moved page {i} is still protnone ({raw:#x})");
        assert_eq!(raw & ENTRY_ADDR_MASK, frames[i as usize]);
    }
    assert_eq!(w.mm.rss(), 2);
    w.mm.do_mprotect(target, 4 * P, PROT_READ).unwrap();
    assert_eq!(frame(&w, target + P), frames[1]);
    assert_eq!(w.arena.read_entry(frames[1], 0), 0xfeed);
    check(&w.mm);
}

// ---- the invariant checker's pte rule ------------------------------------

/// Corrupt the pte at `va` to `bad`, expect the checker to report that
/// pte, put the original back and expect it to pass again.
#[track_caller]
fn expect_reported(w: &World, va: u64, bad: u64, what: &str) {
    let good = raw_pte(w, va);
    assert_ne!(good, bad, "{what}: not a corruption");
    set_raw_pte(w, va, bad);
    let verdict = check_mm_invariants(&*w.mm);
    set_raw_pte(w, va, good);
    let e = verdict.expect_err(what);
    assert!(e.contains(&format!("{va:#x}")), "{what}: the report names the pte: {e}");
    check(&w.mm);
}

#[test]
fn invariant_checker_reports_pte_bits_that_do_not_match_the_vma() {
    let w = world();
    let (_, flags) = anon_rw();
    let pop = flags | MAP_POPULATE;
    let r = w.mm.do_mmap(0, P, PROT_READ, pop, &root()).unwrap();
    let rw = w.mm.do_mmap(0, P, PROT_READ | PROT_WRITE, pop, &root()).unwrap();
    let rx = w.mm.do_mmap(0, P, PROT_READ | PROT_EXEC, pop, &root()).unwrap();
    let wo = w.mm.do_mmap(0, P, PROT_WRITE, pop, &root()).unwrap();
    let none = w.mm.do_mmap(0, P, PROT_READ | PROT_WRITE, pop, &root()).unwrap();
    w.mm.do_mprotect(none, P, PROT_NONE).unwrap();
    check(&w.mm);
    let pte = |va| raw_pte(&w, va);

    expect_reported(&w, r, pte(r) | WRITABLE, "read-only vma, writable pte");
    expect_reported(&w, r, pte(r) & !USER, "readable vma, supervisor-only pte");
    expect_reported(&w, r, pte(r) & !NX, "no VM_EXEC, executable pte");
    expect_reported(&w, rw, pte(rw) & !WRITABLE, "private writable anon vma, read-only pte");
    expect_reported(&w, rw, pte(rw) | PROTNONE, "accessible vma, protnone bit on a present pte");
    expect_reported(&w, rx, pte(rx) | NX, "VM_EXEC vma, no-exec pte");
    expect_reported(&w, wo, pte(wo) & !WRITABLE, "write-only vma, read-only pte");
    // A PROT_NONE page must be protnone: not present to the MMU at all.
    // Present without USER (the kernel could still reach it) is wrong.
    expect_reported(&w, none, (pte(none) & !PROTNONE) | PRESENT | NX, "PROT_NONE vma, present supervisor-only pte");
    expect_reported(&w, none, pte(none) | PRESENT | USER, "PROT_NONE vma, present user pte");
    expect_reported(&w, none, pte(none) | WRITABLE, "PROT_NONE vma, protnone pte with a write bit");
    // An entry with neither bit is no mapping at all: its frame is lost to
    // the page table, which the rss count gives away.
    let good = pte(none);
    set_raw_pte(&w, none, good & !PROTNONE);
    assert!(check_mm_invariants(&*w.mm).is_err(), "a PROT_NONE page whose pte lost its protnone bit");
    set_raw_pte(&w, none, good);
    check(&w.mm);
}
