//! fork's copy of an address space (`dup_mmap`) and copy-on-write: frames
//! shared and write-protected in parent and child, a write on either side
//! copies (or reuses the page once it is no longer shared), mprotect
//! keeps shared pages read-only, `MAP_SHARED` memory stays shared (see
//! also mm_shmem.rs), and
//! Linux's mlock rules (the child inherits no `VM_LOCKED`, no
//! `MCL_FUTURE`, `locked_vm` 0; the parent's pages stay mlocked while
//! shared; a COW break in a locked vma mlocks the copy and munlocks the
//! old page). The invariant checker runs on both mms after every step, and
//! must refuse a shared frame that is writable in a private vma.
#![cfg(not(loom))]

mod common;
use common::*;
use mm::fault::{FaultAccess, FaultOrigin};
use mm::invariants::check_mm_invariants;
use mm::mlock::{MCL_CURRENT, MCL_FUTURE};
use mm::mman::{MADV_DOFORK, MADV_DONTFORK};
use mm::mmap::*;
use mm::pgtable::{NoFlush, PhysMem, PteFlags};
use mm::vma::VmFlags;
use mm::MmStruct;

const N: u64 = 8;

fn child_of(w: &World) -> TestMm {
    let mut child = MmStruct::new(w.arena.clone(), w.backend.clone(), NoFlush, w.meta.clone(), None).unwrap();
    w.mm.dup_mmap(&mut child).unwrap();
    child
}

fn frame(mm: &TestMm, va: u64) -> u64 {
    mm.follow_page(va).expect("mapped").0
}

fn writable(mm: &TestMm, va: u64) -> bool {
    mm.follow_page(va).expect("mapped").1.contains(PteFlags::WRITABLE)
}

fn refs(w: &World, pa: u64) -> u32 {
    w.meta.get(pa).unwrap().page_ref_count()
}

fn write_fault(mm: &TestMm, va: u64) {
    mm.handle_mm_fault(va, FaultAccess::Write, FaultOrigin::User).unwrap();
}

/// Populated private rw memory with a marker word in each frame.
fn populated(w: &World, pages: u64) -> u64 {
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, pages * P, prot, flags | MAP_POPULATE, &root()).unwrap();
    for i in 0..pages {
        w.arena.write_entry(frame(&w.mm, a + i * P), 3, 0xa000 + i);
    }
    a
}

#[test]
fn fork_shares_frames_read_only_and_a_write_copies() {
    let w = world();
    let a = populated(&w, N);
    let in_use = w.arena.in_use();
    let child = child_of(&w);
    check(&w.mm);
    check(&child);
    assert_eq!(child.rss(), N);
    assert_eq!(child.total_vm(), w.mm.total_vm());
    for i in 0..N {
        let va = a + i * P;
        assert_eq!(frame(&child, va), frame(&w.mm, va), "page {i} is shared");
        assert_eq!(refs(&w, frame(&w.mm, va)), 2);
        assert!(!writable(&w.mm, va) && !writable(&child, va), "page {i} write-protected in both");
    }
    // The child writes page 0: it gets a copy with the same contents.
    let old = frame(&w.mm, a);
    write_fault(&child, a);
    let copy = frame(&child, a);
    assert_ne!(copy, old);
    assert!(writable(&child, a));
    assert_eq!(w.arena.read_entry(copy, 3), 0xa000);
    assert_eq!(refs(&w, old), 1);
    w.arena.write_entry(copy, 3, 0xc0);
    assert_eq!(w.arena.read_entry(old, 3), 0xa000, "the parent's page is untouched");
    // The parent writes page 0: no longer shared, it is reused in place.
    write_fault(&w.mm, a);
    assert_eq!(frame(&w.mm, a), old);
    assert!(writable(&w.mm, a));
    // The parent writes page 1 first: the parent copies, the child keeps it.
    let old1 = frame(&w.mm, a + P);
    write_fault(&w.mm, a + P);
    assert_ne!(frame(&w.mm, a + P), old1);
    assert_eq!(frame(&child, a + P), old1);
    assert_eq!(w.arena.read_entry(frame(&w.mm, a + P), 3), 0xa001);
    check(&w.mm);
    check(&child);
    // A read fault on a shared page changes nothing.
    child.handle_mm_fault(a + 2 * P, FaultAccess::Read, FaultOrigin::User).unwrap();
    assert!(!writable(&child, a + 2 * P));
    child.exit_mmap();
    drop(child);
    check(&w.mm);
    assert_eq!(
        w.arena.in_use(),
        in_use,
        "the child's frames and tables are back (the parent's copy of page 1 replaced the old frame)"
    );
    for i in 0..N {
        assert_eq!(refs(&w, frame(&w.mm, a + i * P)), 1);
    }
}

#[test]
fn mprotect_keeps_shared_pages_read_only_and_shared_memory_stays_shared() {
    let w = world();
    let a = populated(&w, N);
    w.mm.do_mprotect(a, N * P, PROT_READ).unwrap();
    let s = w.mm.do_mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, &root()).unwrap();
    let child = child_of(&w);
    child.do_mprotect(a, N * P, PROT_READ | PROT_WRITE).unwrap();
    check(&child);
    assert!(!writable(&child, a), "a shared page stays read-only after mprotect(RW)");
    write_fault(&child, a);
    assert_ne!(frame(&child, a), frame(&w.mm, a));
    // MAP_SHARED memory: no pte copied, the child faults the page from
    // the shmem object, writable.
    assert!(child.follow_page(s).is_none());
    child.handle_mm_fault(s, FaultAccess::Read, FaultOrigin::User).unwrap();
    assert!(writable(&child, s) && writable(&w.mm, s), "MAP_SHARED memory stays writable");
    assert_eq!(frame(&child, s), frame(&w.mm, s));
    assert_eq!(refs(&w, frame(&w.mm, s)), 3, "the object's reference and two mappings");
    check(&w.mm);
    check(&child);
    drop(child);
    // The parent's pages are its own again, but fork left them not
    // exclusive: mprotect(RW) keeps them read-only (Linux's
    // can_change_pte_writable), and a write fault takes them back in
    // place (wp_page_reuse).
    w.mm.do_mprotect(a, N * P, PROT_READ | PROT_WRITE).unwrap();
    check(&w.mm);
    assert!(!writable(&w.mm, a + P));
    let pa = frame(&w.mm, a + P);
    write_fault(&w.mm, a + P);
    assert!(writable(&w.mm, a + P));
    assert_eq!(frame(&w.mm, a + P), pa);
    assert!(w.meta.get(pa).unwrap().is_anon_exclusive());
    check(&w.mm);
}

#[test]
fn mlock_rules_across_fork() {
    let w = world();
    let a = populated(&w, N);
    w.mm.do_mlock(a, N * P, 0, &root()).unwrap();
    w.mm.do_mlockall(MCL_CURRENT | MCL_FUTURE, &root()).unwrap();
    let locked = w.mm.locked_vm();
    assert_eq!(w.meta.nr_mlock(), w.mm.rss());
    let nr = w.meta.nr_mlock();
    let child = child_of(&w);
    check(&w.mm);
    check(&child);
    assert_eq!(child.locked_vm(), 0, "locked_vm starts at 0");
    assert!(child.maps_snapshot_locked().iter().all(|v| !v.2.intersects(VmFlags::LOCKED_MASK)), "no VM_LOCKED inherited");
    assert_eq!(child.def_flags(), VmFlags::empty(), "no MCL_FUTURE inherited");
    assert_eq!(w.mm.locked_vm(), locked);
    assert_eq!(w.meta.nr_mlock(), nr, "the parent's pages stay mlocked while shared");
    let old = frame(&w.mm, a);
    assert!(w.meta.get(old).unwrap().is_mlocked());
    // A COW break in the parent's locked vma: the copy is mlocked, the
    // old page (the child's now) is not.
    write_fault(&w.mm, a);
    let new = frame(&w.mm, a);
    assert_ne!(new, old);
    assert!(w.meta.get(new).unwrap().is_mlocked() && w.meta.get(new).unwrap().mlock_count() == 1);
    assert!(!w.meta.get(old).unwrap().is_mlocked());
    assert_eq!(w.meta.nr_mlock(), nr);
    // A COW break in the child: its copy is not locked; the parent's page
    // stays mlocked.
    write_fault(&child, a + P);
    assert!(!w.meta.get(frame(&child, a + P)).unwrap().is_mlocked());
    assert!(w.meta.get(frame(&w.mm, a + P)).unwrap().is_mlocked());
    check(&w.mm);
    check(&child);
    // The child mlocks the shared region itself: its population breaks COW
    // (a writable private vma), so each side has its own locked pages.
    child.do_mlock(a, N * P, 0, &root()).unwrap();
    check(&w.mm);
    check(&child);
    assert_eq!(child.locked_vm(), N);
    for i in 0..N {
        assert_ne!(frame(&child, a + i * P), frame(&w.mm, a + i * P), "page {i}");
    }
    drop(child);
    assert_eq!(w.meta.nr_mlock(), nr);
    w.mm.do_munlockall().unwrap();
    assert_eq!(w.meta.nr_mlock(), 0);
    check(&w.mm);
}

#[test]
fn checker_refuses_a_shared_frame_writable_in_a_private_vma() {
    let w = world();
    let a = populated(&w, 2);
    let child = child_of(&w);
    check(&child);
    // Make the child's pte writable behind the mm's back.
    let (pa, flags) = child.follow_page(a).unwrap();
    let mut table = child.root_pa();
    for shift in [39, 30, 21] {
        table = w.arena.read_entry(table, ((a >> shift) & 511) as usize) & mm::pgtable::ENTRY_ADDR_MASK;
    }
    let idx = ((a >> 12) & 511) as usize;
    w.arena.write_entry(table, idx, pa | (flags | PteFlags::WRITABLE).bits());
    let e = check_mm_invariants(&child).expect_err("a shared writable private page must be refused");
    assert!(e.contains("writable") && e.contains("not exclusive"), "{e}");
    w.arena.write_entry(table, idx, pa | flags.bits());
    check(&child);
}

#[test]
fn fork_of_an_empty_and_a_sparse_address_space() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 1024 * P, prot, flags, &root()).unwrap();
    write_fault(&w.mm, a + 700 * P);
    let child = child_of(&w);
    assert_eq!(child.rss(), 1);
    assert_eq!(child.maps_snapshot_locked(), w.mm.maps_snapshot_locked());
    // Untouched pages fault in fresh in the child.
    write_fault(&child, a);
    assert_eq!(child.rss(), 2);
    assert_eq!(w.mm.rss(), 1);
    check(&w.mm);
    check(&child);
}

#[test]
fn madv_dontfork_vmas_are_left_out_of_the_child() {
    let w = world();
    let a = populated(&w, 4);
    w.mm.madvise(a + P, P, MADV_DONTFORK).unwrap();
    check(&w.mm);
    assert_eq!(w.mm.map_count(), 3, "the vma was split around the page");
    let child = child_of(&w);
    check(&child);
    assert_eq!(child.rss(), 3);
    assert!(child.follow_page(a + P).is_none());
    assert_eq!(child.handle_mm_fault(a + P, FaultAccess::Read, FaultOrigin::User), Err(mm::fault::FaultError::NoVma));
    w.mm.madvise(a + P, P, MADV_DOFORK).unwrap();
    assert_eq!(w.mm.map_count(), 1, "merged again");
    assert_eq!(w.mm.madvise(0x1000_0000, P, MADV_DONTFORK), Err(mm::Errno::ENOMEM));
    let child = child_of(&w);
    assert_eq!(child.rss(), 4);
    check(&w.mm);
}
