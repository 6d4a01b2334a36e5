//! The page counts of `/proc/<pid>/smaps` (`MmStruct::smaps`): resident
//! pages per vma, `Pss` halved for pages fork shares and whole again once
//! the child is gone, `Locked` only in `VM_LOCKED` vmas (split by mlock),
//! shared anonymous memory counted as shmem, protnone pages resident, and
//! the `[heap]`/`[stack]` names of `/proc/<pid>/maps`. Dirty and
//! `Referenced` come from the pte's dirty and accessed bits: the CPU sets
//! them, and so does a fault (young, dirty for a write), as Linux's does,
//! so the host tests see them too; mprotect and fork keep them as Linux
//! does.
#![cfg(not(loom))]

mod common;
use common::*;
use mm::fault::{FaultAccess, FaultOrigin};
use mm::mmap::*;
use mm::pgtable::NoFlush;
use mm::smaps::{maps_vma_name, MemSizeStats, SmapsVma, PSS_SHIFT};
use mm::vma::VmFlags;
use mm::MmStruct;

const KB: u64 = 1024;

fn write(mm: &TestMm, va: u64, pages: u64) {
    for i in 0..pages {
        mm.handle_mm_fault(va + i * P, FaultAccess::Write, FaultOrigin::User).unwrap();
    }
}

fn vma_at(list: &[SmapsVma], va: u64) -> &SmapsVma {
    list.iter().find(|v| v.start <= va && va < v.end).expect("a vma")
}

fn pss_kb(s: &MemSizeStats) -> u64 {
    (s.pss >> PSS_SHIFT) / KB
}

#[test]
fn private_pages_count_whole_and_mlock_splits_locked() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 64 * P, prot, flags, &root()).unwrap();
    write(&w.mm, a, 16);
    let list = w.mm.smaps(None).unwrap();
    let v = vma_at(&list, a);
    assert_eq!((v.start, v.end), (a, a + 64 * P));
    assert_eq!(v.stats.resident, 64 * KB);
    assert_eq!(pss_kb(&v.stats), 64);
    assert_eq!((v.stats.private_clean, v.stats.private_dirty), (0, 64 * KB));
    assert_eq!(v.stats.shared_clean + v.stats.shared_dirty, 0);
    assert_eq!(v.stats.referenced, 64 * KB);
    assert_eq!(v.stats.pss_dirty, v.stats.pss);
    assert_eq!(v.stats.anonymous, 64 * KB);
    assert_eq!(v.stats.pss_anon, v.stats.pss);
    assert_eq!(v.stats.pss_locked, 0);

    w.mm.do_mlock(a + 4 * P, 8 * P, 0, &root()).unwrap();
    let list = w.mm.smaps(None).unwrap();
    let (x, y, z) = (vma_at(&list, a), vma_at(&list, a + 4 * P), vma_at(&list, a + 12 * P));
    assert_eq!((x.end, y.start, y.end, z.start), (a + 4 * P, a + 4 * P, a + 12 * P, a + 12 * P));
    assert!(y.flags.contains(VmFlags::LOCKED) && !x.flags.contains(VmFlags::LOCKED));
    assert_eq!((x.stats.resident, y.stats.resident, z.stats.resident), (16 * KB, 32 * KB, 16 * KB));
    assert_eq!((x.stats.pss_locked, y.stats.pss_locked >> PSS_SHIFT, z.stats.pss_locked), (0, 32 * KB, 0));

    // The sum over all vmas is what the rollup shows.
    let mut total = MemSizeStats::default();
    list.iter().for_each(|v| total.add(&v.stats));
    assert_eq!(total.resident, w.mm.rss() * P);
    check(&w.mm);
}

#[test]
fn fork_shares_pages_pss_halves_then_comes_back() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 64 * P, prot, flags, &root()).unwrap();
    write(&w.mm, a, 16);
    w.mm.do_mlock(a, 4 * P, 0, &root()).unwrap();
    let mut child = MmStruct::new(w.arena.clone(), w.backend.clone(), NoFlush, w.meta.clone(), None).unwrap();
    w.mm.dup_mmap(&mut child).unwrap();

    let list = w.mm.smaps(None).unwrap();
    let (l, v) = (vma_at(&list, a), vma_at(&list, a + 4 * P));
    assert_eq!(v.stats.resident, 48 * KB);
    assert_eq!(pss_kb(&v.stats), 24, "12 pages shared by two mappings");
    assert_eq!((v.stats.shared_clean, v.stats.shared_dirty), (0, 48 * KB));
    assert_eq!(v.stats.private_clean + v.stats.private_dirty, 0);
    assert_eq!(l.stats.pss_locked >> PSS_SHIFT, 8 * KB, "Locked is the Pss of the locked vma");
    let clist = child.smaps(None).unwrap();
    // The child's copies of the two vmas (dup_mmap copies, never merges)
    // are not locked.
    let (c0, c1) = (vma_at(&clist, a), vma_at(&clist, a + 4 * P));
    assert_eq!((c0.end, c1.end), (a + 4 * P, a + 64 * P));
    assert_eq!((c0.stats.resident + c1.stats.resident, pss_kb(&c0.stats) + pss_kb(&c1.stats)), (64 * KB, 32));
    assert_eq!(c0.stats.pss_locked + c1.stats.pss_locked, 0);
    // Linux's child ptes: old, and still dirty in a private mapping.
    assert_eq!((c1.stats.shared_dirty, c1.stats.referenced), (48 * KB, 0));

    // A write in the child copies one page: private in both now.
    write(&child, a + 5 * P, 1);
    let v2 = w.mm.smaps(None).unwrap();
    let v2 = vma_at(&v2, a + 4 * P);
    assert_eq!(v2.stats.private_clean + v2.stats.private_dirty, 4 * KB);
    assert_eq!(v2.stats.pss, ((4 * KB) << PSS_SHIFT) + ((44 * KB) << PSS_SHIFT) / 2);

    drop(child);
    let list = w.mm.smaps(None).unwrap();
    let v = vma_at(&list, a + 4 * P);
    assert_eq!((v.stats.resident, pss_kb(&v.stats)), (48 * KB, 48));
    assert_eq!(v.stats.shared_clean + v.stats.shared_dirty, 0);
    check(&w.mm);
}

#[test]
fn shared_anonymous_memory_is_shmem_not_anonymous() {
    let w = world();
    let s = w.mm.do_mmap(0, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_POPULATE, &root()).unwrap();
    let mut child = MmStruct::new(w.arena.clone(), w.backend.clone(), NoFlush, w.meta.clone(), None).unwrap();
    w.mm.dup_mmap(&mut child).unwrap();
    // The child shares the shmem object, not the ptes: nothing of it is
    // resident in the child until it faults, and the parent's mappings are
    // the pages' only ones (the object's reference is not a mapping).
    let list = child.smaps(None).unwrap();
    assert_eq!(vma_at(&list, s).stats.resident, 0);
    let list = w.mm.smaps(None).unwrap();
    assert_eq!((vma_at(&list, s).stats.resident, pss_kb(&vma_at(&list, s).stats)), (16 * KB, 16));
    write(&child, s, 4);
    for mm in [&*w.mm, &child] {
        let list = mm.smaps(None).unwrap();
        let v = vma_at(&list, s);
        assert_eq!(v.stats.resident, 16 * KB);
        assert_eq!(v.stats.anonymous, 0);
        assert_eq!((v.stats.pss_shmem, v.stats.pss_anon), (v.stats.pss, 0));
        assert_eq!(pss_kb(&v.stats), 8);
    }
}

#[test]
fn protnone_pages_stay_resident_and_unmapped_ones_do_not_count() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 8 * P, prot, flags, &root()).unwrap();
    write(&w.mm, a, 3);
    w.mm.do_mprotect(a, 8 * P, PROT_NONE).unwrap();
    let list = w.mm.smaps(None).unwrap();
    assert_eq!(vma_at(&list, a).stats.resident, 12 * KB);
    assert_eq!(vma_at(&list, a).stats.private_dirty, 12 * KB, "mprotect keeps the dirty bits");
    w.mm.do_munmap(a, P).unwrap();
    let list = w.mm.smaps(None).unwrap();
    assert_eq!(vma_at(&list, a + P).stats.resident, 8 * KB);
    assert!(list.iter().all(|v| v.start >= a + P || v.end <= a));
}

#[test]
fn names_follow_maps() {
    assert_eq!(maps_vma_name(0x1000, 0x3000, (0x2000, 0x2800), None), Some("[heap]"));
    assert_eq!(maps_vma_name(0x1000, 0x3000, (0, 0), Some(0x2000)), Some("[stack]"));
    assert_eq!(maps_vma_name(0x1000, 0x3000, (0x4000, 0x5000), Some(0x8000)), None);
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 2 * P, prot, flags, &root()).unwrap();
    let list = w.mm.smaps(Some(a + P)).unwrap();
    assert_eq!(vma_at(&list, a).name.as_deref(), Some("[stack]"));
}

#[test]
fn page_counts_see_anonymous_evictable_and_unevictable_pages() {
    let w = world();
    let before = w.meta.page_counts();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 16 * P, prot, flags, &root()).unwrap();
    write(&w.mm, a, 10);
    w.mm.do_mlock(a, 4 * P, 0, &root()).unwrap();
    let c = w.meta.page_counts();
    assert_eq!(c.anon - before.anon, 10);
    assert_eq!(c.unevictable - before.unevictable, 4);
    assert_eq!(c.evictable_lru - before.evictable_lru, 6);
    assert_eq!(w.meta.nr_mlock(), 4);
    w.mm.do_munmap(a, 16 * P).unwrap();
    assert_eq!(w.meta.page_counts(), before);
}

#[test]
fn population_writes_private_pages_dirty_and_young_as_linux() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 8 * P, prot, flags | MAP_POPULATE, &root()).unwrap();
    let list = w.mm.smaps(None).unwrap();
    let v = vma_at(&list, a);
    assert_eq!((v.stats.private_dirty, v.stats.referenced), (32 * KB, 32 * KB));
}
