//! TLB shootdown discipline of every operation that unmaps or changes
//! ptes: munmap, mprotect, madvise(DONTNEED), mremap (move, shrink,
//! MREMAP_FIXED), mmap(MAP_FIXED) over a mapping, brk shrink, exit, and
//! freeing the page tables they empty.
//!
//! The TLB double and the frame arena write into one ordered log, and each
//! test checks, for one operation:
//! 1. no data frame or page-table frame goes back to the allocator before a
//!    flush that covers the virtual address it served (on SMP another CPU
//!    may use a stale translation until then);
//! 2. the operation makes one flush round (one `flush_range`, or one
//!    `flush_all` for exit), carried out page by page for at most 33
//!    pages (Linux's `tlb_single_page_flush_ceiling`) and as one full
//!    flush above, and every free comes after it;
//! 3. a refused operation flushes and frees nothing.
#![cfg(not(loom))]

use std::collections::HashMap;
use std::sync::Arc;

use mm::addr::PAGE_SIZE as P;
use mm::fault::{FaultAccess, FaultOrigin};
use mm::mlock::MLOCK_ONFAULT;
use mm::mmap::*;
use mm::mremap::*;
use mm::page_meta::PageMetaArray;
use mm::pgtable::{ArenaPhysMem, EventLog, Level, MachineEvent, PhysMem, PtEntry, RecordingTlb, TlbEvent, ARENA_BASE, PTRS_PER_TABLE};
use mm::rwsem::StdBackend;
use mm::{Errno, MlockCreds, MmStruct};

type Mm = MmStruct<&'static ArenaPhysMem, StdBackend, RecordingTlb>;

struct Rig {
    arena: &'static ArenaPhysMem,
    log: EventLog,
    mm: Mm,
}

const BASE: u64 = 0x4000_0000;
const CEILING: u64 = 33;
const RW: u64 = PROT_READ | PROT_WRITE;
const ANON: u64 = MAP_PRIVATE | MAP_ANONYMOUS;

fn rig() -> Rig {
    let log = EventLog::new();
    let arena: &'static ArenaPhysMem = Box::leak(Box::new(ArenaPhysMem::with_log(log.clone())));
    let meta = Arc::new(PageMetaArray::new(ARENA_BASE >> 12, 1 << 14).unwrap());
    let mm = MmStruct::new(arena, StdBackend::new(), RecordingTlb::with_log(log.clone()), meta, None).unwrap();
    Rig { arena, log, mm }
}

fn root() -> MlockCreds {
    MlockCreds::root()
}

impl Rig {
    /// A private anonymous mapping of `pages` at `addr`, every page faulted in.
    fn populated(&self, addr: u64, pages: u64, prot: u64) -> u64 {
        let a = self.mm.do_mmap(addr, pages * P, prot, ANON | MAP_FIXED | MAP_POPULATE, &root()).unwrap();
        assert_eq!(a, addr);
        a
    }

    fn touch(&self, addr: u64) {
        self.mm.handle_mm_fault(addr, FaultAccess::Write, FaultOrigin::User).unwrap();
    }

    /// Every frame reachable from the root and the virtual range it serves:
    /// a data frame the page it maps, a page-table frame the range its
    /// entries cover (the root: everything). The log is cleared, so that
    /// it holds the next operation only.
    fn snapshot(&self) -> HashMap<u64, (u64, u64)> {
        let mut out = HashMap::new();
        let root = self.mm.root_pa();
        out.insert(root, (0, 1 << 47));
        walk(self.arena, root, Level::Pgd, 0, &mut out);
        self.log.clear();
        out
    }
}

fn walk(arena: &ArenaPhysMem, table: u64, level: Level, base: u64, out: &mut HashMap<u64, (u64, u64)>) {
    // The lower half is all the host's mm has.
    let entries = if level == Level::Pgd { PTRS_PER_TABLE / 2 } else { PTRS_PER_TABLE };
    for i in 0..entries {
        let e = PtEntry(arena.read_entry(table, i));
        if !e.is_present() {
            continue;
        }
        let va = base + i as u64 * level.entry_size();
        let range = (va, va + level.entry_size());
        if e.is_leaf(level) {
            assert!(out.insert(e.leaf_frame(level), range).is_none(), "frame mapped twice");
        } else {
            out.insert(e.addr(), range);
            walk(arena, e.addr(), level.lower().expect("a table below a pte"), va, out);
        }
    }
}

/// The flush round an operation should make.
#[derive(Debug)]
enum Round {
    /// `flush_range` over these 4 KiB pages (at most 33 of them, from the
    /// first to the last), carried out page by page.
    Pages(u64, u64),
    /// `flush_range` over `[start, end)`, more than 33 pages: carried out
    /// as one full flush.
    Full(u64, u64),
    /// `flush_all` (exit): no range.
    All,
    /// One round of either shape (its range is not the point).
    Any,
}

/// The log of one operation, checked against rules 1 and 2 (module doc):
/// first one flush round of the expected shape, then only frees, each of
/// a frame that the flush covers (or that was never mapped). Returns the
/// freed frames.
#[track_caller]
fn check_one_round(log: &[MachineEvent], before: &HashMap<u64, (u64, u64)>, want: Round) -> Vec<u64> {
    let first_free = log.iter().position(|e| matches!(e, MachineEvent::FreeFrame(_))).unwrap_or(log.len());
    let (flushes, frees) = log.split_at(first_free);
    let tlb: Vec<TlbEvent> = flushes
        .iter()
        .map(|e| match e {
            MachineEvent::Tlb(t) => *t,
            MachineEvent::FreeFrame(_) => unreachable!(),
        })
        .collect();
    let freed: Vec<u64> = frees
        .iter()
        .map(|e| match e {
            MachineEvent::FreeFrame(pa) => *pa,
            MachineEvent::Tlb(t) => panic!("{t:?} after a frame was freed: one round, frees after it\nlog: {log:x?}"),
        })
        .collect();
    match want {
        Round::Pages(start, end) => {
            let pages: Vec<TlbEvent> = (start..end).step_by(P as usize).map(TlbEvent::Page).collect();
            assert!(pages.len() as u64 <= CEILING, "bad test: {} pages", pages.len());
            assert!(
                matches!(tlb.first(), Some(&TlbEvent::Range { start: s, end: e, stride_shift: 12, .. }) if (s, e) == (start, end)),
                "one flush_range over [{start:#x}, {end:#x}) first\nlog: {log:x?}"
            );
            assert_eq!(tlb[1..], pages[..], "carried out page by page\nlog: {log:x?}");
        }
        Round::Full(start, end) => {
            assert!((end - start) / P > CEILING, "bad test");
            assert!(
                matches!(tlb[..], [TlbEvent::Range { start: s, end: e, .. }, TlbEvent::All] if (s, e) == (start, end)),
                "one flush_range over [{start:#x}, {end:#x}) carried out as one full flush\nlog: {log:x?}"
            );
        }
        Round::All => assert_eq!(tlb, [TlbEvent::All], "one full flush\nlog: {log:x?}"),
        Round::Any => {
            let ok = match tlb[..] {
                [TlbEvent::All] | [TlbEvent::Range { .. }, TlbEvent::All] => true,
                [TlbEvent::Range { start, end, stride_shift: 12, .. }, ref rest @ ..] => {
                    (end - start) / P <= CEILING && rest.iter().copied().eq((start..end).step_by(P as usize).map(TlbEvent::Page))
                }
                _ => false,
            };
            assert!(ok, "one flush round\nlog: {log:x?}");
        }
    }
    for pa in &freed {
        if let Some(&(s, e)) = before.get(pa) {
            let covered = tlb.iter().any(|t| match *t {
                TlbEvent::All => true,
                TlbEvent::Page(va) => s <= va && va < e,
                TlbEvent::Range { .. } => false,
            });
            assert!(covered, "frame {pa:#x} (serving [{s:#x}, {e:#x})) freed without a flush covering it\nlog: {log:x?}");
        }
    }
    freed
}

/// Data frames (mapped 4 KiB pages) among `freed`.
fn data_frames(freed: &[u64], before: &HashMap<u64, (u64, u64)>) -> usize {
    freed.iter().filter(|pa| before.get(pa).is_some_and(|(s, e)| e - s == P)).count()
}

#[track_caller]
fn assert_nothing_happened(r: &Rig, what: &str) {
    assert_eq!(r.log.events(), [], "{what}: a refused operation flushes and frees nothing");
}

#[test]
fn munmap_of_few_pages_flushes_each_page_once_then_frees() {
    for pages in [1, 2, CEILING] {
        let r = rig();
        let a = r.populated(BASE, pages, RW);
        let before = r.snapshot();
        r.mm.do_munmap(a, pages * P).unwrap();
        let freed = check_one_round(&r.log.take(), &before, Round::Pages(a, a + pages * P));
        assert_eq!(data_frames(&freed, &before), pages as usize, "{pages} pages");
        assert_eq!(freed.len(), pages as usize + 3, "the pte, pmd and pud tables went too");
        assert_eq!(r.arena.in_use(), 1, "only the root is left");
    }
}

#[test]
fn munmap_above_the_ceiling_is_one_full_flush() {
    for pages in [CEILING + 1, 300] {
        let r = rig();
        let a = r.populated(BASE, pages, RW);
        let before = r.snapshot();
        r.mm.do_munmap(a, pages * P).unwrap();
        let freed = check_one_round(&r.log.take(), &before, Round::Full(a, a + pages * P));
        assert_eq!(data_frames(&freed, &before), pages as usize);
        assert_eq!(r.arena.in_use(), 1);
    }
}

/// The range flushed is the one whose ptes were cleared (Linux's
/// `__tlb_adjust_range`), not the one asked for; a table freed on the way
/// stays inside it.
#[test]
fn munmap_flushes_the_range_of_the_cleared_ptes() {
    let r = rig();
    let a = r.mm.do_mmap(BASE, 40 * P, RW, ANON | MAP_FIXED, &root()).unwrap();
    for i in [5, 6, 7] {
        r.touch(a + i * P);
    }
    let before = r.snapshot();
    r.mm.do_munmap(a, 40 * P).unwrap();
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(a + 5 * P, a + 8 * P));
    assert_eq!(data_frames(&freed, &before), 3);
    assert_eq!(r.arena.in_use(), 1);
}

/// One munmap over several vmas, with a page table in the middle going
/// away: still one round.
#[test]
fn munmap_over_several_vmas_is_one_round() {
    let r = rig();
    let a = r.populated(BASE - 4 * P, 4, RW);
    r.populated(BASE, 4, PROT_READ);
    let before = r.snapshot();
    r.mm.do_munmap(a, 8 * P).unwrap();
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(a, a + 8 * P));
    assert_eq!(data_frames(&freed, &before), 8);
    assert_eq!(r.arena.in_use(), 1);
}

#[test]
fn mprotect_is_one_round_and_frees_nothing() {
    let r = rig();
    let a = r.populated(BASE, 8, RW);
    r.populated(BASE + 8 * P, 8, RW | PROT_EXEC);
    let before = r.snapshot();
    r.mm.do_mprotect(a, 16 * P, PROT_READ).unwrap();
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(a, a + 16 * P));
    assert!(freed.is_empty());

    let b = r.populated(BASE + 4 * 512 * P, 100, RW);
    let before = r.snapshot();
    r.mm.do_mprotect(b, 100 * P, PROT_NONE).unwrap();
    let freed = check_one_round(&r.log.take(), &before, Round::Full(b, b + 100 * P));
    assert!(freed.is_empty());
}

#[test]
fn madvise_dontneed_over_several_vmas_is_one_round() {
    let r = rig();
    let a = r.populated(BASE, 10, RW);
    r.populated(BASE + 10 * P, 10, PROT_READ);
    let before = r.snapshot();
    r.mm.madvise(a, 20 * P, MADV_DONTNEED).unwrap();
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(a, a + 20 * P));
    assert_eq!(data_frames(&freed, &before), 20);

    let b = r.populated(BASE + 1024 * P, 64, RW);
    let before = r.snapshot();
    r.mm.madvise(b, 64 * P, MADV_DONTNEED).unwrap();
    let freed = check_one_round(&r.log.take(), &before, Round::Full(b, b + 64 * P));
    assert_eq!(data_frames(&freed, &before), 64);
}

/// madvise stops with EINVAL at a locked vma; what it zapped before that
/// is flushed (once) before its frames go.
#[test]
fn madvise_stopped_by_a_locked_vma_flushes_what_it_zapped() {
    let r = rig();
    let a = r.populated(BASE, 4, RW);
    r.mm.do_mmap(BASE + 4 * P, 4 * P, RW, ANON | MAP_FIXED | MAP_LOCKED, &root()).unwrap();
    let before = r.snapshot();
    assert_eq!(r.mm.madvise(a, 8 * P, MADV_DONTNEED), Err(Errno::EINVAL));
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(a, a + 4 * P));
    assert_eq!(data_frames(&freed, &before), 4);
}

#[test]
fn mremap_shrink_is_one_round() {
    let r = rig();
    let a = r.populated(BASE, 10, RW);
    let before = r.snapshot();
    assert_eq!(r.mm.do_mremap(a, 10 * P, 4 * P, 0, 0, &root()), Ok(a));
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(a + 4 * P, a + 10 * P));
    assert_eq!(data_frames(&freed, &before), 6);
}

/// A move keeps the frames (they are mapped at the new address) and frees
/// the old page tables, after one flush of the old range.
#[test]
fn mremap_move_flushes_the_old_range_once() {
    let r = rig();
    let a = r.populated(BASE, 8, RW);
    r.mm.do_mmap(BASE + 8 * P, P, PROT_READ, ANON | MAP_FIXED, &root()).unwrap();
    let before = r.snapshot();
    let b = r.mm.do_mremap(a, 8 * P, 16 * P, MREMAP_MAYMOVE, 0, &root()).unwrap();
    assert_ne!(a, b);
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(a, a + 8 * P));
    assert_eq!(data_frames(&freed, &before), 0, "the frames moved");
    for i in 0..8 {
        assert!(r.mm.follow_page(b + i * P).is_some());
    }
}

/// MREMAP_FIXED onto a populated mapping: the target's pages are unmapped,
/// the tail beyond the new length too, the rest moved — one round for all.
#[test]
fn mremap_fixed_over_a_mapping_is_one_round() {
    let r = rig();
    let a = r.populated(BASE, 8, RW);
    let t = r.populated(BASE + 512 * P, 4, RW);
    let before = r.snapshot();
    let got = r.mm.do_mremap(a, 8 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, t, &root());
    assert_eq!(got, Ok(t));
    let freed = check_one_round(&r.log.take(), &before, Round::Any);
    assert_eq!(data_frames(&freed, &before), 4 + 4, "the target's four pages and the old tail's four");
}

/// A move that runs out of page-table frames half way undoes the half
/// copy: the new ptes were visible, so the table they leave empty is freed
/// only after one flush over them.
#[test]
fn mremap_move_out_of_memory_flushes_the_half_copy_before_freeing_its_table() {
    const M2: u64 = 512 * P;
    let r = rig();
    let a = r.populated(BASE, 8, RW);
    // The target straddles two page tables of the pmd table `a` is in:
    // one more frame lets the first four pages be mapped, not the rest.
    let t = BASE + 2 * M2 - 4 * P;
    let frames = r.arena.in_use();
    r.arena.set_limit(Some(frames + 1));
    let before = r.snapshot();
    let got = r.mm.do_mremap(a, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_FIXED, t, &root());
    r.arena.set_limit(None);
    assert_eq!(got, Err(Errno::ENOMEM));
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(t, t + 4 * P));
    assert_eq!(freed.len(), 1, "the page table made for the copy, after the flush");
    assert!(!before.contains_key(&freed[0]));
    assert_eq!(r.arena.in_use(), frames);
    for i in 0..8 {
        assert!(r.mm.follow_page(a + i * P).is_some(), "the original stays");
    }
}

#[test]
fn mremap_dontunmap_flushes_the_old_range_once() {
    let r = rig();
    let a = r.populated(BASE, 8, RW);
    let before = r.snapshot();
    let b = r.mm.do_mremap(a, 8 * P, 8 * P, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, 0, &root()).unwrap();
    assert_ne!(a, b);
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(a, a + 8 * P));
    assert_eq!(data_frames(&freed, &before), 0);
}

#[test]
fn mmap_fixed_over_a_populated_mapping_is_one_round() {
    let r = rig();
    let a = r.populated(BASE, 12, RW);
    let before = r.snapshot();
    r.mm.do_mmap(a + 2 * P, 8 * P, PROT_READ, ANON | MAP_FIXED, &root()).unwrap();
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(a + 2 * P, a + 10 * P));
    assert_eq!(data_frames(&freed, &before), 8);
}

#[test]
fn brk_shrink_is_one_round() {
    let r = rig();
    r.mm.set_brk_base(BASE).unwrap();
    assert_eq!(r.mm.do_brk(BASE + 40 * P, &root()), BASE + 40 * P);
    for i in 0..40 {
        r.touch(BASE + i * P);
    }
    let before = r.snapshot();
    assert_eq!(r.mm.do_brk(BASE + 10 * P, &root()), BASE + 10 * P);
    let freed = check_one_round(&r.log.take(), &before, Round::Pages(BASE + 10 * P, BASE + 40 * P));
    assert_eq!(data_frames(&freed, &before), 30);
}

/// munlock changes no pte: nothing to flush, nothing to free.
#[test]
fn munlock_flushes_nothing() {
    let r = rig();
    let a = r.populated(BASE, 8, RW);
    r.mm.do_mlock(a, 8 * P, 0, &root()).unwrap();
    r.mm.do_mlock(a, 8 * P, MLOCK_ONFAULT, &root()).unwrap();
    r.snapshot();
    r.mm.do_munlock(a, 8 * P).unwrap();
    r.mm.do_munlockall().unwrap();
    assert_eq!(r.log.events(), []);
}

/// Exit: one full flush, then every data frame and every page-table frame,
/// the root included.
#[test]
fn exit_is_one_full_flush_then_every_frame() {
    let r = rig();
    r.populated(BASE, 8, RW);
    r.populated(BASE + 1024 * P, 50, PROT_READ);
    r.populated(0x7000_0000_0000, 3, RW);
    let before = r.snapshot();
    r.mm.exit_mmap();
    let freed = check_one_round(&r.log.take(), &before, Round::All);
    assert_eq!(data_frames(&freed, &before), 61);
    let mut all: Vec<u64> = before.keys().copied().collect();
    let mut got = freed.clone();
    all.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, all, "every frame, tables and root included");
    assert_eq!(r.arena.in_use(), 0);
}

/// The same when the mm is dropped without exit_mmap.
#[test]
fn drop_is_one_full_flush_then_every_frame() {
    let r = rig();
    r.populated(BASE, 8, RW);
    let before = r.snapshot();
    let Rig { arena, log, mm } = r;
    drop(mm);
    let freed = check_one_round(&log.take(), &before, Round::All);
    assert_eq!(freed.len(), before.len());
    assert_eq!(arena.in_use(), 0);
}

#[test]
fn refused_operations_flush_and_free_nothing() {
    let r = rig();
    let a = r.populated(BASE, 8, RW);
    r.mm.do_mmap(BASE + 8 * P, 4 * P, RW, ANON | MAP_FIXED | MAP_LOCKED, &root()).unwrap();
    let frames = r.arena.in_use();
    r.snapshot();

    assert_eq!(r.mm.do_munmap(a + 1, P), Err(Errno::EINVAL));
    assert_eq!(r.mm.do_munmap(a, 0), Err(Errno::EINVAL));
    assert_nothing_happened(&r, "munmap");

    assert_eq!(r.mm.do_mprotect(a, P, 0x100), Err(Errno::EINVAL));
    assert_eq!(r.mm.do_mprotect(BASE - 16 * P, 8 * P, PROT_READ), Err(Errno::ENOMEM));
    assert_nothing_happened(&r, "mprotect");

    assert_eq!(r.mm.madvise(BASE + 8 * P, 4 * P, MADV_DONTNEED), Err(Errno::EINVAL));
    assert_eq!(r.mm.madvise(a + 1, P, MADV_DONTNEED), Err(Errno::EINVAL));
    assert_nothing_happened(&r, "madvise");

    assert_eq!(r.mm.do_mremap(a, 8 * P, 16 * P, 0, 0, &root()), Err(Errno::ENOMEM), "cannot grow in place");
    assert_eq!(r.mm.do_mremap(a, 8 * P, 4 * P, 8, 0, &root()), Err(Errno::EINVAL));
    assert_eq!(r.mm.do_mremap(a, 8 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED, 0x1000, &root()), Err(Errno::EPERM));
    assert_nothing_happened(&r, "mremap");

    // MAP_FIXED refused before it would replace the populated pages.
    let bad = MAP_SHARED | MAP_ANONYMOUS | MAP_GROWSDOWN | MAP_FIXED;
    assert_eq!(r.mm.do_mmap(a, 4 * P, RW, bad, &root()), Err(Errno::EINVAL));
    assert_eq!(r.mm.do_mmap(a, 4 * P, RW, ANON | MAP_FIXED | MAP_LOCKED, &MlockCreds::user(0)), Err(Errno::EPERM));
    assert_eq!(r.mm.do_mmap(a, 4 * P, RW, ANON | MAP_FIXED_NOREPLACE, &root()), Err(Errno::EEXIST));
    assert_nothing_happened(&r, "mmap MAP_FIXED");

    assert_eq!(r.arena.in_use(), frames);
}
