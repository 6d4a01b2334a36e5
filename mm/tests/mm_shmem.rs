//! Shared anonymous memory backed by a shmem object: faults go through the
//! object, fork shares it (pages touched before and after the fork, writes
//! seen both ways), splits and mremap keep the offsets, madvise(DONTNEED)
//! and mincore see the object's pages, mlock_count counts the locked vmas
//! of every address space, and no frame outlives the last mapping. The
//! invariant checker runs on every mm after each step.
#![cfg(not(loom))]

mod common;
use common::*;
use mm::fault::{FaultAccess, FaultOrigin};
use mm::mman::MADV_DONTNEED;
use mm::mmap::*;
use mm::mremap::MREMAP_MAYMOVE;
use mm::pgtable::{NoFlush, PhysMem, PteFlags};
use mm::MmStruct;

const N: u64 = 16;

fn child_of(w: &World, parent: &TestMm) -> TestMm {
    let mut child = MmStruct::new(w.arena.clone(), w.backend.clone(), NoFlush, w.meta.clone(), None).unwrap();
    parent.dup_mmap(&mut child).unwrap();
    child
}

fn shared(w: &World, pages: u64) -> u64 {
    w.mm.do_mmap(0, pages * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, &root()).unwrap()
}

fn fault(mm: &TestMm, va: u64, access: FaultAccess) {
    mm.handle_mm_fault(va, access, FaultOrigin::User).unwrap();
}

/// Write `val` to word 3 of the page at `va` through `mm`'s page table
/// (faulting it in for write first, as a store would).
fn store(w: &World, mm: &TestMm, va: u64, val: u64) {
    fault(mm, va, FaultAccess::Write);
    let (pa, flags) = mm.follow_page(va).unwrap();
    assert!(flags.contains(PteFlags::WRITABLE), "a shared page is mapped writable");
    w.arena.write_entry(pa, 3, val);
}

/// Word 3 of the page at `va`, as a load through `mm` would see it.
fn load(w: &World, mm: &TestMm, va: u64) -> u64 {
    fault(mm, va, FaultAccess::Read);
    w.arena.read_entry(mm.follow_page(va).unwrap().0, 3)
}

fn frame(mm: &TestMm, va: u64) -> u64 {
    mm.follow_page(va).expect("mapped").0
}

fn mlock_state(w: &World, pa: u64) -> (bool, u32) {
    let f = w.meta.get(pa).unwrap();
    (f.is_mlocked(), f.mlock_count())
}

#[test]
fn a_fault_goes_through_the_object_and_fork_shares_it_both_ways() {
    let w = world();
    let in_use = w.arena.in_use();
    let a = shared(&w, N);
    // Nothing touched before fork.
    let child = child_of(&w, &w.mm);
    assert_eq!(present(&w.mm, a, N * P), 0);
    // The child writes pages first touched after the fork; the parent
    // sees them, in the same frames.
    for i in 0..N / 2 {
        store(&w, &child, a + i * P, 0xc000 + i);
    }
    check(&child);
    assert_eq!(present(&w.mm, a, N * P) as u64, N / 2, "mincore: the object has the pages");
    assert_eq!(w.mm.rss(), 0, "nothing mapped in the parent yet");
    for i in 0..N / 2 {
        assert_eq!(load(&w, &w.mm, a + i * P), 0xc000 + i, "page {i}");
        assert_eq!(frame(&w.mm, a + i * P), frame(&child, a + i * P));
        assert_eq!(w.meta.get(frame(&w.mm, a + i * P)).unwrap().page_ref_count(), 3, "object + 2 mappings");
    }
    // The parent writes, the child sees (pages new to both, and old ones).
    for i in 0..N {
        store(&w, &w.mm, a + i * P, 0xb000 + i);
    }
    for i in 0..N {
        assert_eq!(load(&w, &child, a + i * P), 0xb000 + i, "page {i}");
    }
    check(&w.mm);
    check(&child);
    // A grandchild forked now shares the same object.
    let grandchild = child_of(&w, &child);
    assert_eq!(grandchild.rss(), 0, "no pte copied for a shared vma");
    assert_eq!(load(&w, &grandchild, a + 5 * P), 0xb005);
    check(&grandchild);
    drop(grandchild);
    drop(child);
    check(&w.mm);
    assert_eq!(load(&w, &w.mm, a + 2 * P), 0xb002);
    w.mm.do_munmap(a, N * P).unwrap();
    check(&w.mm);
    assert_eq!(w.arena.in_use(), in_use, "no frame leaked when the last mapping went");
}

#[test]
fn the_last_mapping_frees_the_pages_in_either_order() {
    for parent_first in [true, false] {
        let w = world();
        let in_use = w.arena.in_use();
        let a = shared(&w, N);
        store(&w, &w.mm, a, 1);
        let child = child_of(&w, &w.mm);
        store(&w, &child, a + P, 2);
        let pa0 = frame(&w.mm, a);
        if parent_first {
            w.mm.do_munmap(a, N * P).unwrap();
            assert_eq!(w.meta.get(pa0).unwrap().page_ref_count(), 1, "the child still maps the object: it keeps its pages");
            assert_eq!(load(&w, &child, a), 1);
            check(&child);
            drop(child);
        } else {
            child.exit_mmap();
            assert_eq!(load(&w, &w.mm, a + P), 2);
            w.mm.do_munmap(a, N * P).unwrap();
        }
        check(&w.mm);
        assert_eq!(w.arena.in_use(), in_use, "parent_first {parent_first}");
    }
}

#[test]
fn splits_and_mremap_keep_the_offsets() {
    let w = world();
    let a = shared(&w, N);
    for i in 0..N {
        store(&w, &w.mm, a + i * P, 0xa000 + i);
    }
    let child = child_of(&w, &w.mm);
    // Split the parent's vma three ways (mprotect, mlock), and punch a
    // hole (munmap): every page keeps its offset.
    w.mm.do_mprotect(a + 2 * P, 2 * P, PROT_READ).unwrap();
    w.mm.do_mlock(a + 6 * P, 2 * P, 0, &root()).unwrap();
    w.mm.do_munmap(a + 10 * P, P).unwrap();
    check(&w.mm);
    for i in (0..N).filter(|&i| i != 10) {
        assert_eq!(load(&w, &w.mm, a + i * P), 0xa000 + i, "page {i}");
    }
    // Zap the parent's ptes and fault again through each piece.
    // (The locked piece would refuse MADV_DONTNEED, as Linux: zap
    // around it.)
    w.mm.madvise(a, 6 * P, MADV_DONTNEED).unwrap();
    w.mm.madvise(a + 8 * P, 2 * P, MADV_DONTNEED).unwrap();
    assert_eq!(w.mm.rss(), 2 + 5);
    for i in (0..10).filter(|&i| !(6..8).contains(&i)) {
        assert_eq!(load(&w, &w.mm, a + i * P), 0xa000 + i, "page {i} after zap");
    }
    // Undo the splits: the pieces merge back (same object, contiguous
    // offsets).
    w.mm.do_mprotect(a, 10 * P, PROT_READ | PROT_WRITE).unwrap();
    w.mm.do_munlock(a, 10 * P).unwrap();
    check(&w.mm);
    assert_eq!(
        w.mm.maps_snapshot_locked().iter().filter(|v| v.0 >= a && v.0 < a + N * P).count(),
        2,
        "merged back around the hole: {:#x?}",
        w.mm.maps_snapshot_locked()
    );
    // mremap moves keep the offsets: move the tail [11, 16) elsewhere
    // (a page right after it keeps it from growing in place).
    let _ = w.mm.do_mmap(a + N * P, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, &root());
    let b = w.mm.do_mremap(a + 11 * P, 5 * P, 8 * P, MREMAP_MAYMOVE, 0, &root()).unwrap();
    assert_ne!(b, a + 11 * P);
    check(&w.mm);
    for i in 0..5 {
        assert_eq!(load(&w, &w.mm, b + i * P), 0xa000 + 11 + i, "moved page {i}");
    }
    // A write through the moved range is seen by the child at the old
    // address.
    store(&w, &w.mm, b + 2 * P, 0x5eed);
    assert_eq!(load(&w, &child, a + 13 * P), 0x5eed);
    // Beyond the object (the growth): no page (Linux: SIGBUS).
    assert!(w.mm.handle_mm_fault(b + 6 * P, FaultAccess::Read, FaultOrigin::User).is_err());
    check(&w.mm);
    check(&child);
}

#[test]
fn mremap_with_old_len_0_duplicates_a_shared_mapping() {
    let w = world();
    let in_use = w.arena.in_use();
    let a = shared(&w, N);
    store(&w, &w.mm, a + 3 * P, 0x33);
    assert_eq!(w.mm.do_mremap(a + 2 * P, 0, 4 * P, 0, 0, &root()), Err(mm::Errno::ENOMEM), "no room in place, may not move");
    let b = w.mm.do_mremap(a + 2 * P, 0, 4 * P, MREMAP_MAYMOVE, 0, &root()).unwrap();
    assert_ne!(b, a + 2 * P);
    check(&w.mm);
    assert_eq!(load(&w, &w.mm, b + P), 0x33, "b maps the object from page 2 on");
    assert_eq!(frame(&w.mm, b + P), frame(&w.mm, a + 3 * P));
    store(&w, &w.mm, b + 3 * P, 0x55);
    assert_eq!(load(&w, &w.mm, a + 5 * P), 0x55);
    // One frame mapped twice in one mm, each mapping counted; locked in
    // one vma only, then in both.
    assert_eq!(w.meta.get(frame(&w.mm, a + 5 * P)).unwrap().page_ref_count(), 3);
    check(&w.mm);
    w.mm.do_mlock(b, 4 * P, 0, &root()).unwrap();
    assert_eq!(mlock_state(&w, frame(&w.mm, b + P)), (true, 1));
    check(&w.mm);
    w.mm.do_mlock(a, N * P, 0, &root()).unwrap();
    assert_eq!(mlock_state(&w, frame(&w.mm, b + P)), (true, 2));
    check(&w.mm);
    w.mm.do_munmap(a, N * P).unwrap();
    assert_eq!(mlock_state(&w, frame(&w.mm, b + P)), (true, 1));
    check(&w.mm);
    assert_eq!(load(&w, &w.mm, b + P), 0x33, "the duplicate keeps the object");
    w.mm.do_munmap(b, 4 * P).unwrap();
    check(&w.mm);
    assert_eq!(w.arena.in_use(), in_use);
}

#[test]
fn madv_dontneed_keeps_the_data_and_mincore_sees_the_object() {
    let w = world();
    let a = shared(&w, N);
    let child = child_of(&w, &w.mm);
    store(&w, &child, a, 0x77);
    w.mm.madvise(a, N * P, MADV_DONTNEED).unwrap();
    child.madvise(a, N * P, MADV_DONTNEED).unwrap();
    assert_eq!(child.rss(), 0);
    assert_eq!(present(&child, a, N * P), 1, "the object keeps the page");
    assert_eq!(load(&w, &w.mm, a), 0x77);
    assert_eq!(load(&w, &child, a), 0x77);
    check(&w.mm);
    check(&child);
}

#[test]
fn mlock_count_counts_the_locked_vmas_of_every_address_space() {
    let w = world();
    let a = shared(&w, N);
    let child = child_of(&w, &w.mm);
    store(&w, &child, a, 1);
    let pa = frame(&child, a);
    w.mm.do_mlock(a, N * P, 0, &root()).unwrap();
    check(&w.mm);
    assert_eq!(mlock_state(&w, pa), (true, 1));
    assert_eq!(w.mm.rss(), N, "mlock populated the parent");
    child.do_mlock(a, N * P, 0, &root()).unwrap();
    check(&w.mm);
    check(&child);
    assert_eq!(mlock_state(&w, pa), (true, 2), "two locked vmas map it");
    for i in 0..N {
        assert_eq!(frame(&child, a + i * P), frame(&w.mm, a + i * P));
    }
    assert_eq!(w.meta.nr_mlock(), N);
    // One munlocks: still mlocked by the other.
    child.do_munlock(a, N * P).unwrap();
    assert_eq!(mlock_state(&w, pa), (true, 1));
    assert_eq!(w.meta.nr_mlock(), N);
    check(&w.mm);
    check(&child);
    // Lock again, then the parent unmaps: the child's lock remains.
    child.do_mlock(a, N * P, 0, &root()).unwrap();
    assert_eq!(mlock_state(&w, pa), (true, 2));
    w.mm.do_munmap(a, N * P).unwrap();
    assert_eq!(mlock_state(&w, pa), (true, 1));
    check(&w.mm);
    check(&child);
    // The other unmaps: not mlocked any more, and the frames are freed.
    child.do_munmap(a, N * P).unwrap();
    assert_eq!(w.meta.nr_mlock(), 0);
    check(&child);
}

#[test]
fn munlock_then_unmap_of_the_other_leaves_nothing_mlocked() {
    let w = world();
    let a = shared(&w, N);
    let child = child_of(&w, &w.mm);
    w.mm.do_mlock(a, N * P, 0, &root()).unwrap();
    child.do_mlock(a, N * P, 0, &root()).unwrap();
    let pa = frame(&w.mm, a + 3 * P);
    assert_eq!(mlock_state(&w, pa), (true, 2));
    child.do_munlock(a, N * P).unwrap();
    assert_eq!(mlock_state(&w, pa), (true, 1), "still MLOCKED");
    w.mm.do_munmap(a, N * P).unwrap();
    assert_eq!(mlock_state(&w, pa), (false, 0), "not MLOCKED once the locked mapping is gone");
    assert_eq!(w.meta.nr_mlock(), 0);
    // The child's mapping keeps the page (and its data).
    assert_eq!(frame(&child, a + 3 * P), pa);
    check(&w.mm);
    check(&child);
}

#[test]
fn checker_refuses_a_wrong_mlock_count_on_a_shmem_page() {
    let w = world();
    let a = shared(&w, 1);
    store(&w, &w.mm, a, 1);
    let pa = frame(&w.mm, a);
    // Mapped once, in an unlocked vma, and the object: strict counting.
    w.meta.mlock_folio(w.meta.get(pa).unwrap());
    assert!(mm::invariants::check_mm_invariants(&w.mm).is_err(), "an MLOCKED page with no locked mapping anywhere");
    w.meta.munlock_folio(w.meta.get(pa).unwrap());
    check(&w.mm);
}

#[test]
fn nr_shmem_counts_the_objects_pages_until_the_last_mapping_goes() {
    let w = world();
    let a = shared(&w, N);
    assert_eq!(w.meta.nr_shmem(), 0, "nothing faulted yet");
    let child = child_of(&w, &w.mm);
    for i in 0..4 {
        store(&w, &w.mm, a + i * P, i);
    }
    assert_eq!(load(&w, &child, a), 0, "the child reads page 0");
    assert_eq!(w.meta.nr_shmem(), 4, "one count per page, however many map it");
    w.mm.do_munmap(a, N * P).unwrap();
    assert_eq!(w.meta.nr_shmem(), 4, "the child still maps the object");
    drop(child);
    assert_eq!(w.meta.nr_shmem(), 0, "the last mapping took the pages with it");
}

/// An object that an owner pins (a tmpfs file, a SysV segment), mapped
/// with `do_mmap_object`: shared mappings write into it, a private one
/// reads its pages and copies on write (the object keeps its data, fork
/// keeps the copy), unmapping everything keeps the pages while it is
/// pinned, and `unpin` frees them.
#[test]
fn a_pinned_object_mapped_shared_and_private() {
    use std::sync::Arc;
    let w = world();
    let in_use = w.arena.in_use();
    let obj = Arc::new(mm::shmem::Shmem::new(N).unwrap());
    obj.pin();
    let backing = |pgoff| MmapBacking { obj: obj.clone(), pgoff, may_write: true };
    let s = w.mm.do_mmap_object(0, N * P, PROT_READ | PROT_WRITE, MAP_SHARED, backing(0), &root()).unwrap();
    for i in 0..N {
        store(&w, &w.mm, s + i * P, 0x5000 + i);
    }
    // A private mapping from page 2 on sees the object's data, in the
    // object's frames, read-only until written.
    let p = w.mm.do_mmap_object(0, 4 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, backing(2), &root()).unwrap();
    assert_eq!(load(&w, &w.mm, p), 0x5002);
    assert_eq!(frame(&w.mm, p), frame(&w.mm, s + 2 * P));
    assert!(
        !w.mm.follow_page(p).unwrap().1.contains(PteFlags::WRITABLE),
        "a private mapping of an object page is read-only"
    );
    // A write copies: the object keeps its value.
    store(&w, &w.mm, p, 0xbeef);
    assert_ne!(frame(&w.mm, p), frame(&w.mm, s + 2 * P));
    assert_eq!(load(&w, &w.mm, s + 2 * P), 0x5002);
    // A first touch by a write copies at once (page 3 of the object).
    store(&w, &w.mm, p + P, 0xcafe);
    assert_eq!(load(&w, &w.mm, s + 3 * P), 0x5003);
    // Fork keeps the private copies, and shares the object's pages.
    let child = child_of(&w, &w.mm);
    assert_eq!(load(&w, &child, p), 0xbeef);
    assert_eq!(load(&w, &child, p + 2 * P), 0x5004);
    store(&w, &child, s + 5 * P, 0x77);
    assert_eq!(load(&w, &w.mm, s + 5 * P), 0x77);
    check(&w.mm);
    check(&child);
    drop(child);
    w.mm.do_munmap(s, N * P).unwrap();
    w.mm.do_munmap(p, 4 * P).unwrap();
    assert_eq!(obj.nr_cached() as u64, N, "the pinned object keeps its pages");
    // Mapped again: the same data.
    let s = w.mm.do_mmap_object(0, N * P, PROT_READ, MAP_SHARED, backing(0), &root()).unwrap();
    assert_eq!(load(&w, &w.mm, s + 7 * P), 0x5007);
    w.mm.do_munmap(s, N * P).unwrap();
    obj.unpin(&w.meta, &w.arena);
    assert_eq!(obj.nr_cached(), 0);
    assert_eq!(w.arena.in_use(), in_use, "no frame outlives the object");
}

/// A shared mapping of an object its owner may not write (a file open
/// read-only) cannot be made writable.
#[test]
fn a_read_only_object_mapping_never_becomes_writable() {
    use std::sync::Arc;
    let w = world();
    let obj = Arc::new(mm::shmem::Shmem::new(N).unwrap());
    obj.pin();
    let b = MmapBacking { obj: obj.clone(), pgoff: 0, may_write: false };
    let s = w.mm.do_mmap_object(0, N * P, PROT_READ, MAP_SHARED, b.clone(), &root()).unwrap();
    assert_eq!(w.mm.do_mprotect(s, P, PROT_READ | PROT_WRITE), Err(mm::Errno::EACCES));
    // Private: may be written (copies).
    let p = w.mm.do_mmap_object(0, N * P, PROT_READ, MAP_PRIVATE, b, &root()).unwrap();
    assert_eq!(w.mm.do_mprotect(p, P, PROT_READ | PROT_WRITE), Ok(()));
    w.mm.do_munmap(s, N * P).unwrap();
    w.mm.do_munmap(p, N * P).unwrap();
    obj.unpin(&w.meta, &w.arena);
}

/// Truncation: the object shrinks, every mapping of the pages past the end
/// goes (a private mapping's own copies too, as Linux), the pages are
/// freed, and a fault past the end is SIGBUS.
#[test]
fn truncation_unmaps_and_frees_the_pages_past_the_end() {
    use mm::fault::FaultError;
    use std::sync::Arc;
    let w = world();
    let in_use = w.arena.in_use();
    let obj = Arc::new(mm::shmem::Shmem::new(N).unwrap());
    obj.pin();
    let b = MmapBacking { obj: obj.clone(), pgoff: 0, may_write: true };
    let s = w.mm.do_mmap_object(0, N * P, PROT_READ | PROT_WRITE, MAP_SHARED, b.clone(), &root()).unwrap();
    let p = w.mm.do_mmap_object(0, N * P, PROT_READ | PROT_WRITE, MAP_PRIVATE, b, &root()).unwrap();
    let child = child_of(&w, &w.mm);
    for i in 0..N {
        store(&w, &w.mm, s + i * P, i);
        load(&w, &child, s + i * P);
        load(&w, &w.mm, p + i * P);
    }
    store(&w, &w.mm, p + 9 * P, 0x99);
    obj.set_nr_pages(4);
    let detached = obj.detach_pages_from(4).unwrap();
    let parent_gone = w.mm.unmap_mapping_pages(&obj, 4);
    let child_gone = child.unmap_mapping_pages(&obj, 4);
    assert_eq!(parent_gone as u64, 2 * (N - 4), "shared and private, the private copy too");
    assert_eq!(child_gone as u64, N - 4);
    obj.put_detached(&detached, &w.meta, &w.arena);
    assert_eq!(obj.nr_cached(), 4);
    assert_eq!(w.mm.handle_mm_fault(s + 4 * P, FaultAccess::Read, FaultOrigin::User), Err(FaultError::SigBus));
    assert_eq!(child.handle_mm_fault(s + 15 * P, FaultAccess::Write, FaultOrigin::User), Err(FaultError::SigBus));
    assert_eq!(w.mm.handle_mm_fault(p + 5 * P, FaultAccess::Read, FaultOrigin::User), Err(FaultError::SigBus));
    assert_eq!(
        w.mm.handle_mm_fault(p + 9 * P, FaultAccess::Read, FaultOrigin::User),
        Err(FaultError::SigBus),
        "the copy went too"
    );
    assert_eq!(load(&w, &w.mm, s + 3 * P), 3);
    check(&w.mm);
    check(&child);
    drop(child);
    w.mm.do_munmap(s, N * P).unwrap();
    w.mm.do_munmap(p, N * P).unwrap();
    obj.unpin(&w.meta, &w.arena);
    assert_eq!(w.arena.in_use(), in_use, "no frame leaked");
}

/// Linux `i_mmap_writable`: an object counts the vmas that map it shared
/// and may write, through splits, merges, mremap (moved, grown,
/// duplicated), fork and munmap; `F_SEAL_WRITE` needs the count at 0, and
/// then a shared mapping is refused writable and never may write.
#[test]
fn shared_writable_vmas_are_counted_for_the_write_seal() {
    use mm::shmem::{Shmem, F_SEAL_FUTURE_WRITE, F_SEAL_WRITE};
    use std::sync::Arc;
    const RW: u64 = PROT_READ | PROT_WRITE;
    let w = world();
    let obj = Arc::new(Shmem::new(N).unwrap());
    obj.pin();
    obj.init_seals(0);
    let b = |pgoff| MmapBacking { obj: obj.clone(), pgoff, may_write: true };
    let s = w.mm.do_mmap_object(0, 8 * P, RW, MAP_SHARED, b(0), &root()).unwrap();
    assert_eq!(obj.mapping_writable(), 1);
    // mprotect splits one vma in three, and merges them back.
    w.mm.do_mprotect(s + P, P, PROT_READ).unwrap();
    assert_eq!(obj.mapping_writable(), 3);
    w.mm.do_mprotect(s + P, P, RW).unwrap();
    assert_eq!(obj.mapping_writable(), 1);
    // A second mapping of the next offsets next to the first merges.
    w.mm.do_munmap(s + 4 * P, 4 * P).unwrap();
    assert_eq!(obj.mapping_writable(), 1);
    w.mm.do_mmap_object(s + 4 * P, 4 * P, RW, MAP_SHARED | MAP_FIXED, b(4), &root()).unwrap();
    assert_eq!(obj.mapping_writable(), 1, "merged into one vma");
    // A hole punched: two.
    w.mm.do_munmap(s + 2 * P, P).unwrap();
    assert_eq!(obj.mapping_writable(), 2);
    // Private and read-only mappings do not count.
    let p = w.mm.do_mmap_object(0, 2 * P, RW, MAP_PRIVATE, b(0), &root()).unwrap();
    let r = w.mm.do_mmap_object(0, 2 * P, PROT_READ, MAP_SHARED, b(0), &root()).unwrap();
    assert_eq!(obj.mapping_writable(), 3, "a read-only shared mapping may still write");
    let ro = MmapBacking { may_write: false, ..b(0) };
    let r2 = w.mm.do_mmap_object(0, 2 * P, PROT_READ, MAP_SHARED, ro, &root()).unwrap();
    assert_eq!(obj.mapping_writable(), 3, "one of a file open read-only may not");
    w.mm.do_munmap(r, 2 * P).unwrap();
    assert_eq!(obj.mapping_writable(), 2);
    // mremap: moved, grown in place, duplicated.
    let m = w.mm.do_mremap(s + 3 * P, 5 * P, 6 * P, MREMAP_MAYMOVE, 0, &root()).unwrap();
    assert_eq!(obj.mapping_writable(), 2, "moved and grown");
    let d = w.mm.do_mremap(s, 0, 2 * P, MREMAP_MAYMOVE, 0, &root()).unwrap();
    assert_eq!(obj.mapping_writable(), 3, "duplicated");
    // Fork copies count in the child's tree until it exits.
    let child = child_of(&w, &w.mm);
    assert_eq!(obj.mapping_writable(), 6);
    assert_eq!(obj.add_seals(F_SEAL_WRITE, false), Err(mm::Errno::EBUSY));
    assert_eq!(obj.seals(), 0, "nothing added");
    child.exit_mmap();
    drop(child);
    assert_eq!(obj.mapping_writable(), 3);
    w.mm.do_munmap(s, 2 * P).unwrap();
    w.mm.do_munmap(m, 6 * P).unwrap();
    assert_eq!(obj.add_seals(F_SEAL_WRITE, false), Err(mm::Errno::EBUSY));
    w.mm.do_munmap(d, 2 * P).unwrap();
    assert_eq!(obj.mapping_writable(), 0);
    assert_eq!(obj.add_seals(F_SEAL_WRITE, false), Ok(()));
    // Sealed: writable shared is EPERM, read-only shared never may write,
    // private is as before.
    assert_eq!(w.mm.do_mmap_object(0, P, RW, MAP_SHARED, b(0), &root()), Err(mm::Errno::EPERM));
    let r = w.mm.do_mmap_object(0, P, PROT_READ, MAP_SHARED, b(0), &root()).unwrap();
    assert_eq!(obj.mapping_writable(), 0);
    assert_eq!(w.mm.do_mprotect(r, P, RW), Err(mm::Errno::EACCES));
    assert_eq!(w.mm.do_mprotect(p, P, RW), Ok(()));
    assert_eq!(obj.add_seals(F_SEAL_FUTURE_WRITE, false), Ok(()));
    check(&w.mm);
    w.mm.do_munmap(r, P).unwrap();
    w.mm.do_munmap(r2, 2 * P).unwrap();
    w.mm.do_munmap(p, 2 * P).unwrap();
    obj.unpin(&w.meta, &w.arena);
}

/// `F_SEAL_FUTURE_WRITE` leaves a shared writable mapping writing and
/// counted, and refuses new ones.
#[test]
fn future_write_seal_keeps_the_mappings_it_found() {
    use mm::shmem::{Shmem, F_SEAL_FUTURE_WRITE, F_SEAL_SEAL, F_SEAL_WRITE};
    use std::sync::Arc;
    const RW: u64 = PROT_READ | PROT_WRITE;
    let w = world();
    let obj = Arc::new(Shmem::new(N).unwrap());
    obj.pin();
    assert_eq!(obj.add_seals(F_SEAL_WRITE, false), Err(mm::Errno::EPERM), "F_SEAL_SEAL from the start");
    obj.init_seals(0);
    let b = MmapBacking { obj: obj.clone(), pgoff: 0, may_write: true };
    let s = w.mm.do_mmap_object(0, 2 * P, RW, MAP_SHARED, b.clone(), &root()).unwrap();
    assert_eq!(obj.add_seals(F_SEAL_FUTURE_WRITE | F_SEAL_SEAL, false), Ok(()));
    store(&w, &w.mm, s, 0x42);
    assert_eq!(obj.mapping_writable(), 1);
    assert_eq!(w.mm.do_mmap_object(0, P, RW, MAP_SHARED, b, &root()), Err(mm::Errno::EPERM));
    assert_eq!(obj.add_seals(0, false), Err(mm::Errno::EPERM));
    w.mm.do_munmap(s, 2 * P).unwrap();
    assert_eq!(obj.mapping_writable(), 0);
    obj.unpin(&w.meta, &w.arena);
}
