//! Shmem pages in swap (`vmscan` for shmem pages, `shmem::swap`): pages of
//! a shared mapping that two address spaces map leave RAM as one slot
//! each (not one per mapping), come back intact and still shared; pages
//! of a `VM_LOCKED` vma or a `SHM_LOCK`ed object stay; truncation and the
//! last unmap give the slots back; swapoff brings an object's pages back.
//! The invariant checker runs on every mm after each step.
#![cfg(not(loom))]

mod common;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use common::swap::*;
use common::*;
use mm::fault::{FaultAccess, FaultOrigin};
use mm::mmap::*;
use mm::page_meta::PageMetaArray;
use mm::pgtable::{NoFlush, PhysMem};
use mm::rwsem::StdBackend;
use mm::shmem::{IndexEntry, Shmem};
use mm::vmscan::{shrink_lruvec, Reclaimer};
use mm::MmStruct;

const N: u64 = 32;
const RW: u64 = PROT_READ | PROT_WRITE;

fn reclaim(w: &World, nr: u64) -> mm::vmscan::ReclaimStats {
    shrink_lruvec::<SharedArena, StdBackend, NoFlush>(&w.meta, &w.backend, &w.arena, nr, Reclaimer::Direct)
}

fn fault(mm: &TestMm, va: u64, access: FaultAccess) {
    mm.handle_mm_fault(va, access, FaultOrigin::User).unwrap();
}

/// Read word `word` of the page at `va` in `mm`, after writing `write`
/// there if given, as a CPU would: fault, and touch the frame only while
/// the pte maps it, holding a reference (which stands in for the TLB
/// entry reclaim's flush would wait for); reclaim taking the page in
/// between means faulting again.
fn cpu_access(mm: &TestMm, meta: &PageMetaArray, arena: &SharedArena, va: u64, word: usize, write: Option<u64>) -> u64 {
    loop {
        fault(mm, va, if write.is_some() { FaultAccess::Write } else { FaultAccess::Read });
        let Some((pa, _)) = mm.follow_page(va) else { continue };
        let folio = meta.get(pa).unwrap();
        if folio.get_page().is_err() {
            continue;
        }
        let seen = (mm.follow_page(va).map(|m| m.0) == Some(pa)).then(|| {
            if let Some(v) = write {
                arena.write_entry(pa, word, v);
            }
            arena.read_entry(pa, word)
        });
        if let Ok(true) = meta.put_page(folio) {
            arena.free_frame(pa);
        }
        if let Some(seen) = seen {
            return seen;
        }
    }
}

/// A child of `w.mm` on the rmap lists (as every kernel mm is).
fn child_of(w: &World) -> TestMm {
    let mut child = MmStruct::new(w.arena.clone(), w.backend.clone(), NoFlush, w.meta.clone(), None).unwrap();
    child.enable_rmap().unwrap();
    w.mm.dup_mmap(&mut child).unwrap();
    child
}

/// A new object of `N` pages, mapped shared and writable in `w.mm` with
/// every page faulted in for write; and its address.
fn map_new_object(w: &World) -> (Arc<Shmem>, u64) {
    let obj = Arc::new(Shmem::new(N).unwrap());
    let backing = MmapBacking { obj: obj.clone(), pgoff: 0, may_write: true };
    let a = w.mm.do_mmap_object(0, N * P, RW, MAP_SHARED, backing, &root()).unwrap();
    for i in 0..N {
        fault(&w.mm, a + i * P, FaultAccess::Write);
    }
    (obj, a)
}

/// [`map_new_object`] with each page written with a marker.
fn shared_object(w: &World) -> (Arc<Shmem>, u64) {
    let (obj, a) = map_new_object(w);
    for i in 0..N {
        w.arena.write_entry(frame(&w.mm, a + i * P), 0, 0x5a5a_0000 + i);
    }
    (obj, a)
}

/// Reclaim until `obj` has `want` pages in swap (or give up).
fn reclaim_until_swapped(w: &World, obj: &Shmem, want: usize) {
    for _ in 0..16 {
        if obj.nr_swapped() >= want {
            return;
        }
        reclaim(w, 2 * N);
    }
    assert!(obj.nr_swapped() >= want, "only {} of {want} pages went to swap", obj.nr_swapped());
}

fn slots_in_use(w: &World) -> u64 {
    let (total, free) = w.meta.swap().totals();
    total - free
}

#[test]
fn shared_pages_go_to_swap_once_and_come_back_shared() {
    let w = swap_world(1024);
    let (obj, a) = shared_object(&w);
    let child = child_of(&w);
    // The child maps every page too.
    for i in 0..N {
        fault(&child, a + i * P, FaultAccess::Read);
    }
    let frames_before = w.arena.in_use();
    reclaim_until_swapped(&w, &obj, N as usize);
    check(&w.mm);
    check(&child);
    assert_eq!(obj.nr_cached(), 0);
    assert_eq!(w.mm.rss(), 0);
    assert_eq!(child.rss(), 0);
    assert_eq!(present(&w.mm, a, N * P), 0, "mincore: nothing resident");
    assert_eq!(slots_in_use(&w), N, "one slot per page, however many map it");
    assert_eq!(w.mm.swap_ents(), 0, "the ptes are empty, the object holds the entries");
    // (Emptied page tables go back too.)
    assert!(w.arena.in_use() <= frames_before - N, "the frames went back");
    assert_eq!(w.meta.swap().events().pswpout, N);
    // smaps: each mapping shows the object's swapped pages as its Swap
    // (Linux `shmem_swap_usage`), and no SwapPss.
    for mm in [&*w.mm, &child] {
        let v = mm.smaps(None).unwrap().into_iter().find(|v| v.start == a).unwrap();
        assert_eq!((v.stats.swap, v.stats.swap_pss, v.stats.resident), (N * P, 0, 0));
    }
    // The child reads each page in; the parent then maps the same frame
    // and sees the child's writes.
    for i in 0..N {
        let va = a + i * P;
        fault(&child, va, FaultAccess::Write);
        assert_eq!(w.arena.read_entry(frame(&child, va), 0), 0x5a5a_0000 + i, "page {i}");
        w.arena.write_entry(frame(&child, va), 1, 0xc0de + i);
        fault(&w.mm, va, FaultAccess::Read);
        assert_eq!(frame(&w.mm, va), frame(&child, va), "page {i} is one page again");
        assert_eq!(w.arena.read_entry(frame(&w.mm, va), 1), 0xc0de + i);
    }
    check(&w.mm);
    check(&child);
    assert_eq!(obj.nr_swapped(), 0);
    assert_eq!(slots_in_use(&w), 0, "every slot given back");
    assert_eq!(w.meta.swap().events().pswpin, N);
}

#[test]
fn locked_vmas_and_shm_locked_objects_keep_their_pages() {
    let w = swap_world(1024);
    let (obj, a) = shared_object(&w);
    w.mm.do_mlock(a, N / 2 * P, 0, &root()).unwrap();
    for _ in 0..8 {
        reclaim(&w, 2 * N);
    }
    check(&w.mm);
    assert_eq!(present(&w.mm, a, N / 2 * P), (N / 2) as usize, "no locked page left RAM");
    assert_eq!(obj.nr_swapped(), (N / 2) as usize, "every unlocked one did");
    // SHM_LOCK: the object's pages are unevictable, mapped or not.
    let (locked, _) = map_new_object(&w);
    locked.set_unevictable(&w.meta, true);
    for _ in 0..8 {
        reclaim(&w, 2 * N);
    }
    assert_eq!(locked.nr_swapped(), 0);
    assert_eq!(locked.nr_cached(), N as usize);
    check(&w.mm);
}

#[test]
fn truncation_and_the_last_unmap_give_the_slots_back() {
    let w = swap_world(1024);
    let (obj, a) = shared_object(&w);
    obj.pin();
    reclaim_until_swapped(&w, &obj, N as usize);
    assert_eq!(slots_in_use(&w), N);
    // Cut the second half off, as a tmpfs truncation does.
    obj.set_nr_pages(N / 2);
    let detached = obj.detach_pages_from(N / 2).unwrap();
    assert_eq!(detached.len() as u64, N / 2);
    w.mm.unmap_mapping_pages(&obj, N / 2);
    obj.put_detached(&detached, &w.meta, &w.arena);
    assert_eq!(slots_in_use(&w), N / 2);
    assert_eq!(obj.lookup(N - 1), IndexEntry::Hole);
    // The first half still reads back.
    fault(&w.mm, a, FaultAccess::Read);
    assert_eq!(w.arena.read_entry(frame(&w.mm, a), 0), 0x5a5a_0000);
    check(&w.mm);
    w.mm.do_munmap(a, N * P).unwrap();
    obj.unpin(&w.meta, &w.arena);
    assert_eq!(slots_in_use(&w), 0, "the last holder gave every slot back");
}

#[test]
fn swapoff_brings_an_unmapped_objects_pages_back() {
    let w = swap_world(1024);
    let (obj, a) = shared_object(&w);
    obj.pin();
    reclaim_until_swapped(&w, &obj, N as usize);
    // No vma maps it any more: only the index knows the slots.
    w.mm.do_munmap(a, N * P).unwrap();
    assert_eq!(slots_in_use(&w), N);
    let mms: [&TestMm; 1] = [&w.mm];
    mm::swap::swapoff::swapoff::<SharedArena, StdBackend, NoFlush>(&w.meta, &w.arena, 0, |visit| mms.iter().try_for_each(|mm| visit(mm)))
        .unwrap();
    assert_eq!(obj.nr_swapped(), 0);
    assert_eq!(obj.nr_cached(), N as usize);
    for i in 0..N {
        let pa = obj.find(i).unwrap();
        assert_eq!(w.arena.read_entry(pa, 0), 0x5a5a_0000 + i, "page {i}");
    }
    assert!(!w.meta.swap().enabled(), "the device is off");
    obj.unpin(&w.meta, &w.arena);
}

#[test]
fn faults_and_reclaim_racing_on_shared_pages_lose_nothing() {
    let w = swap_world(4096);
    let (obj, a) = shared_object(&w);
    let child = Arc::new(child_of(&w));
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for (k, mm) in [w.mm.clone(), child.clone()].into_iter().enumerate() {
        let (arena, meta, stop, rounds) = (w.arena.clone(), w.meta.clone(), stop.clone(), rounds.clone());
        threads.push(std::thread::spawn(move || {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for i in (k as u64..N).step_by(2) {
                    let va = a + i * P;
                    assert_eq!(cpu_access(&mm, &meta, &arena, va, 0, None), 0x5a5a_0000 + i, "page {i}");
                }
                round += 1;
                rounds.fetch_add(1, Ordering::Relaxed);
            }
            round
        }));
    }
    // Reclaim while both sides go over their pages a few hundred times.
    let mut passes = 0;
    while rounds.load(Ordering::Relaxed) < 400 && passes < 100_000 {
        reclaim(&w, N / 2);
        passes += 1;
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        assert!(t.join().unwrap() > 0);
    }
    check(&w.mm);
    check(&child);
    for i in 0..N {
        fault(&w.mm, a + i * P, FaultAccess::Read);
        assert_eq!(w.arena.read_entry(frame(&w.mm, a + i * P), 0), 0x5a5a_0000 + i, "page {i}");
    }
    assert!(w.meta.swap().events().pswpout > 0, "reclaim took pages while they were used");
    let _ = obj;
}

/// A page written and unmapped again (`MADV_DONTNEED` keeps a shared
/// page's contents in its object) while reclaim writes it out: the write
/// must not be lost to the copy reclaim wrote before it.
#[test]
fn a_write_between_writeout_and_its_end_is_never_lost() {
    let w = swap_world(4096);
    let (obj, a) = shared_object(&w);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (mm, arena, meta, stop) = (w.mm.clone(), w.arena.clone(), w.meta.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut v = 0u64;
            while !stop.load(Ordering::Relaxed) && v < 5_000 {
                v += 1;
                let va = a + (v % 4) * P;
                cpu_access(&mm, &meta, &arena, va, 1, Some(v));
                mm.madvise(va, P, mm::mman::MADV_DONTNEED).unwrap();
                let seen = cpu_access(&mm, &meta, &arena, va, 1, None);
                assert_eq!(seen, v, "write {v} lost");
            }
            v
        })
    };
    while !writer.is_finished() {
        reclaim(&w, 4);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
    check(&w.mm);
    let _ = obj;
}

/// zram that runs a hook (once) in the middle of a page write, as another
/// CPU would run while reclaim waits for the device.
struct WriteHook {
    inner: mm::swap::zram::Zram,
    hook: std::sync::Mutex<Option<Box<dyn FnOnce() + Send>>>,
}

impl mm::swap::SwapDevice for WriteHook {
    fn nr_slots(&self) -> u64 {
        self.inner.nr_slots()
    }
    fn write_page(&self, slot: u64, page: &[u8; 4096]) -> Result<(), mm::swap::SwapIoError> {
        let hook = self.hook.lock().unwrap().take();
        if let Some(hook) = hook {
            hook();
        }
        self.inner.write_page(slot, page)
    }
    fn read_page(&self, slot: u64, page: &mut [u8; 4096]) -> Result<(), mm::swap::SwapIoError> {
        self.inner.read_page(slot, page)
    }
    fn discard(&self, slot: u64) {
        self.inner.discard(slot)
    }
}

/// The same race made certain: while reclaim writes the first page out,
/// it is faulted in, written and unmapped again. The copy on the device
/// is stale, so the page must stay in RAM with the write.
#[test]
fn a_page_written_during_its_writeout_stays_with_the_write() {
    let w = world();
    let dev = Arc::new(WriteHook { inner: mm::swap::zram::Zram::new(64).unwrap(), hook: std::sync::Mutex::new(None) });
    w.meta.swap().swapon(dev.clone(), &[]).unwrap();
    let (obj, a) = shared_object(&w);
    // Unmapped (the contents stay in the object), so reclaim has no pte
    // to clear and the first page it looks at is written right away.
    w.mm.madvise(a, N * P, mm::mman::MADV_DONTNEED).unwrap();
    let (mm, arena) = (w.mm.clone(), w.arena.clone());
    *dev.hook.lock().unwrap() = Some(Box::new(move || {
        for i in 0..N {
            fault(&mm, a + i * P, FaultAccess::Write);
            arena.write_entry(frame(&mm, a + i * P), 1, 0xd1d0 + i);
        }
        mm.madvise(a, N * P, mm::mman::MADV_DONTNEED).unwrap();
    }));
    reclaim_until_swapped(&w, &obj, N as usize);
    assert!(dev.hook.lock().unwrap().is_none(), "the hook ran");
    for i in 0..N {
        fault(&w.mm, a + i * P, FaultAccess::Read);
        assert_eq!(w.arena.read_entry(frame(&w.mm, a + i * P), 1), 0xd1d0 + i, "page {i}'s write was lost");
    }
    check(&w.mm);
}
