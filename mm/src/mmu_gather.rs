//! Batched TLB invalidation and deferred freeing: Linux's `mmu_gather`
//! (include/asm-generic/tlb.h, mm/mmu_gather.c; the x86 flush in
//! arch/x86/mm/tlb.c).
//!
//! An operation that unmaps pages or changes their protection records,
//! in one [`MmuGather`], everything the TLBs must forget and everything
//! that may be freed once they have:
//! - the virtual range whose entries were cleared or changed
//!   ([`tlb_flush_pte_range`](MmuGather::tlb_flush_pte_range), Linux's
//!   `__tlb_adjust_range`): one range from the lowest to the highest
//!   address, and the smallest entry size among them (the stride, Linux's
//!   `tlb_get_unmap_shift`);
//! - the data frames to give back ([`tlb_remove_page`](MmuGather::tlb_remove_page));
//! - the page-table frames unlinked from the tree
//!   ([`tlb_remove_table`](MmuGather::tlb_remove_table)), which also marks
//!   the flush as `freed_tables`.
//!
//! [`tlb_finish_mmu`](MmuGather::tlb_finish_mmu) then makes one flush
//! round through [`TlbFlush::flush_range`] (page by page for at most
//! [`TLB_SINGLE_PAGE_FLUSH_CEILING`] pages, one full flush above, as
//! Linux's `flush_tlb_mm_range` decides), or `flush_all` for a gather made
//! with [`tlb_gather_mmu_fullmm`](MmuGather::tlb_gather_mmu_fullmm) (exit),
//! and only after it returned frees the frames: on SMP another CPU may use
//! a stale translation, or walk a stale cached upper-level entry into an
//! unlinked table, until its flush. Nothing recorded, nothing flushed: a
//! refused operation costs no flush.
//!
//! Invariants:
//! - a frame handed to the gather is not given back to [`PhysMem`] before
//!   a flush that covers the address it was mapped at (or served, for a
//!   table) has returned;
//! - one operation makes one flush round, except when memory for the list
//!   of frames runs out: the list lives in a small array inside the gather
//!   and then in a `Vec` grown with `try_reserve`; when growing fails,
//!   [`needs_flush`](MmuGather::needs_flush) says so and the caller flushes
//!   and frees what it has so far ([`tlb_flush_mmu`](MmuGather::tlb_flush_mmu))
//!   before going on, as Linux does when its batch pages cannot be
//!   allocated. Until then there is always room for [`MMU_GATHER_SLACK`]
//!   more frames, which is what one unmapped pte can add. The list holds
//!   8 bytes per frame, at most 1/512 of the memory being freed.
//!
//! The gather holds no reference to the address space: the caller passes
//! the [`PhysMem`] and [`TlbFlush`] to the calls that flush, so that the
//! gather can live next to `&mut` access to the rest of the mm. A gather
//! must be finished; dropping one with frames or a range pending is a bug
//! (a debug assertion; in release builds its frames are leaked, never
//! freed unflushed).
//!
//! Locking: a gather belongs to one operation of one thread. The mm
//! finishes it before it releases the page-table (inner) lock, so no other
//! thread of the address space sees a cleared entry whose flush is still
//! pending (Linux needs `mm_tlb_flush_nested` for that case; Holdfast never
//! lets it arise).

use alloc::vec::Vec;

use crate::addr::{PAGE_SHIFT, PAGE_SIZE};
use crate::pgtable::phys::{PhysMem, TlbFlush};

pub use crate::pgtable::phys::TLB_SINGLE_PAGE_FLUSH_CEILING;

/// Frames kept inside the gather before it allocates (Linux's
/// `MMU_GATHER_BUNDLE`).
const MMU_GATHER_BUNDLE: usize = 8;

/// Room the gather keeps for frames between two
/// [`needs_flush`](MmuGather::needs_flush) checks: one pte unmapped can
/// add its data frame and the three tables above it.
pub const MMU_GATHER_SLACK: usize = 4;

/// Smallest growth of the frame list.
const MIN_GROWTH: usize = 64;

/// One operation's pending TLB flush and deferred frees (Linux
/// `struct mmu_gather`). See the module documentation.
#[derive(Debug)]
pub struct MmuGather {
    /// Tearing the whole address space down: the flush is `flush_all`.
    fullmm: bool,
    /// `[start, end)`: the addresses whose entries changed since the last
    /// flush; empty when `start >= end`.
    start: u64,
    end: u64,
    /// log2 of the smallest entry changed since the last flush.
    stride_shift: Option<u32>,
    /// Page tables were unlinked since the last flush.
    freed_tables: bool,
    /// Frames to free after the flush: the first ones here...
    local: [u64; MMU_GATHER_BUNDLE],
    nr_local: usize,
    /// ... the rest here.
    more: Vec<u64>,
    /// Fault injection for the unit tests: `more` never grows beyond this.
    #[cfg(test)]
    grow_limit: usize,
}

impl MmuGather {
    fn new(fullmm: bool) -> MmuGather {
        MmuGather {
            fullmm,
            start: u64::MAX,
            end: 0,
            stride_shift: None,
            freed_tables: false,
            local: [0; MMU_GATHER_BUNDLE],
            nr_local: 0,
            more: Vec::new(),
            #[cfg(test)]
            grow_limit: usize::MAX,
        }
    }

    /// Linux `tlb_gather_mmu`: a gather for an operation on part of an
    /// address space (munmap, mprotect, ...).
    pub fn tlb_gather_mmu() -> MmuGather {
        MmuGather::new(false)
    }

    /// Linux `tlb_gather_mmu_fullmm`: a gather for tearing the whole
    /// address space down (exit). Its flush is one `flush_all`, which
    /// [`tlb_finish_mmu`](Self::tlb_finish_mmu) always makes.
    pub fn tlb_gather_mmu_fullmm() -> MmuGather {
        MmuGather::new(true)
    }

    /// Linux `__tlb_adjust_range` and the `cleared_*` bits: the leaf entry
    /// covering `[va, va + size)` (`size` 4 KiB, or 2 MiB / 1 GiB for a
    /// huge leaf; `va` its first byte) was cleared or changed.
    pub fn tlb_flush_pte_range(&mut self, va: u64, size: u64) {
        self.adjust_range(va, size);
        self.note_stride(size);
    }

    /// Linux `tlb_remove_page`: free the data frame at `pa` after the
    /// flush. Its pte must have been recorded with
    /// [`tlb_flush_pte_range`](Self::tlb_flush_pte_range).
    pub fn tlb_remove_page(&mut self, pa: u64) {
        self.push(pa);
    }

    /// Linux `pte_free_tlb` / `pmd_free_tlb` / `pud_free_tlb` and
    /// `tlb_remove_table`: the page table at `table_pa` was unlinked by
    /// clearing an entry that covered `entry_size` bytes around `va`;
    /// free it after the flush. As in Linux, one page at `va` joins the
    /// range (on x86, invalidating any address drops the cached upper-level
    /// entries), with the stride of the cleared entry, and the flush is
    /// marked `freed_tables`.
    pub fn tlb_remove_table(&mut self, table_pa: u64, va: u64, entry_size: u64) {
        self.adjust_range(va & !(PAGE_SIZE - 1), PAGE_SIZE);
        self.note_stride(entry_size);
        self.freed_tables = true;
        self.push(table_pa);
    }

    /// Will [`tlb_finish_mmu`](Self::tlb_finish_mmu) flush (a range was
    /// recorded since the last flush, or it is a fullmm gather)? A frame
    /// whose last mapping went before that flush must wait for it; a frame
    /// with no mapping recorded here (a shmem object's page mapped nowhere)
    /// may be freed without it.
    pub fn has_pending_flush(&self) -> bool {
        self.fullmm || self.start < self.end
    }

    /// Memory for the frame list ran out: flush and free what the gather
    /// holds ([`tlb_flush_mmu`](Self::tlb_flush_mmu)) before handing it
    /// more than [`MMU_GATHER_SLACK`] frames.
    pub fn needs_flush(&self) -> bool {
        self.room() < MMU_GATHER_SLACK
    }

    /// Linux `tlb_flush_mmu`: one flush round for what was recorded since
    /// the last one (none if nothing was), then free the frames.
    pub fn tlb_flush_mmu(&mut self, phys: &(impl PhysMem + ?Sized), tlb: &(impl TlbFlush + ?Sized)) {
        self.tlb_flush_mmu_tlbonly(tlb);
        self.tlb_flush_mmu_free(phys);
    }

    /// Linux `tlb_finish_mmu`: the last [`tlb_flush_mmu`](Self::tlb_flush_mmu)
    /// of the operation. A fullmm gather always flushes, once.
    pub fn tlb_finish_mmu(mut self, phys: &(impl PhysMem + ?Sized), tlb: &(impl TlbFlush + ?Sized)) {
        if self.fullmm {
            tlb.flush_all();
            self.reset_range();
        } else {
            self.tlb_flush_mmu_tlbonly(tlb);
        }
        self.tlb_flush_mmu_free(phys);
    }

    /// Nothing recorded and nothing to free.
    pub fn is_empty(&self) -> bool {
        self.start >= self.end && !self.freed_tables && self.frames().next().is_none()
    }

    /// Linux `tlb_flush_mmu_tlbonly`: flush what was recorded, forget the
    /// range.
    fn tlb_flush_mmu_tlbonly(&mut self, tlb: &(impl TlbFlush + ?Sized)) {
        if self.fullmm {
            if self.start < self.end || self.freed_tables {
                tlb.flush_all();
            }
        } else if self.start < self.end {
            let stride = self.stride_shift.unwrap_or(PAGE_SHIFT);
            tlb.flush_range(self.start, self.end, stride, self.freed_tables);
        } else if self.frames().next().is_some() {
            // Frames without a recorded range: a caller bug. Flushing
            // everything keeps the frames safe to free.
            debug_assert!(false, "MmuGather: frames to free but no range recorded");
            tlb.flush_all();
        }
        self.reset_range();
    }

    /// Give every gathered frame back.
    fn tlb_flush_mmu_free(&mut self, phys: &(impl PhysMem + ?Sized)) {
        for &pa in &self.local[..self.nr_local] {
            phys.free_frame(pa);
        }
        for &pa in &self.more {
            phys.free_frame(pa);
        }
        self.nr_local = 0;
        self.more.clear();
    }

    fn reset_range(&mut self) {
        self.start = u64::MAX;
        self.end = 0;
        self.stride_shift = None;
        self.freed_tables = false;
    }

    /// Linux `__tlb_adjust_range`.
    fn adjust_range(&mut self, va: u64, size: u64) {
        self.start = self.start.min(va);
        self.end = self.end.max(va.saturating_add(size));
    }

    fn note_stride(&mut self, size: u64) {
        let shift = size.trailing_zeros();
        self.stride_shift = Some(self.stride_shift.map_or(shift, |s| s.min(shift)));
    }

    fn frames(&self) -> impl Iterator<Item = u64> + '_ {
        self.local[..self.nr_local].iter().chain(self.more.iter()).copied()
    }

    /// Frames the gather can take without allocating.
    fn room(&self) -> usize {
        MMU_GATHER_BUNDLE - self.nr_local + (self.more.capacity() - self.more.len())
    }

    /// Make room for `additional` more frames in `more` (at least doubling
    /// it); false when memory ran out.
    fn grow(&mut self, additional: usize) -> bool {
        let additional = additional.max(self.more.len()).max(MIN_GROWTH);
        #[cfg(test)]
        if self.more.len() + additional > self.grow_limit {
            return false;
        }
        self.more.try_reserve(additional).is_ok()
    }

    fn push(&mut self, pa: u64) {
        if self.nr_local < MMU_GATHER_BUNDLE {
            self.local[self.nr_local] = pa;
            self.nr_local += 1;
        } else if self.more.len() < self.more.capacity() || self.grow(1) {
            self.more.push(pa);
        } else {
            // The caller ignored needs_flush(). Leaking the frame is the
            // safe failure: freeing it unflushed would be a use-after-free.
            debug_assert!(false, "MmuGather: no room for frame {pa:#x} (needs_flush ignored)");
        }
        if self.needs_flush() {
            // Keep room for the next unit of work if memory allows.
            self.grow(MMU_GATHER_SLACK);
        }
    }
}

impl Drop for MmuGather {
    fn drop(&mut self) {
        debug_assert!(self.is_empty(), "an MmuGather with pending work was dropped before tlb_finish_mmu");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pgtable::{ArenaPhysMem, EventLog, MachineEvent, PageSize, PageTable, PteFlags, RecordingTlb, TlbEvent};
    use alloc::vec;

    const K: u64 = 4096;
    const M2: u64 = 2 << 20;
    const RW: PteFlags = PteFlags::WRITABLE.union(PteFlags::USER);

    fn tlb_events(log: &[MachineEvent]) -> Vec<TlbEvent> {
        log.iter()
            .filter_map(|e| match e {
                MachineEvent::Tlb(t) => Some(*t),
                MachineEvent::FreeFrame(_) => None,
            })
            .collect()
    }

    #[test]
    fn nothing_recorded_nothing_flushed() {
        let log = EventLog::new();
        let arena = ArenaPhysMem::with_log(log.clone());
        let tlb = RecordingTlb::with_log(log.clone());
        MmuGather::tlb_gather_mmu().tlb_finish_mmu(&arena, &tlb);
        assert_eq!(log.events(), []);
    }

    #[test]
    fn a_range_at_the_ceiling_is_flushed_page_by_page_above_it_at_once() {
        for (pages, full) in [(1, false), (33, false), (34, true), (512, true)] {
            let tlb = RecordingTlb::new();
            let arena = ArenaPhysMem::new();
            let mut g = MmuGather::tlb_gather_mmu();
            // Out of order, and twice for one page: the range is min..max.
            for i in (0..pages).rev() {
                g.tlb_flush_pte_range(0x10_0000 + i * K, K);
            }
            g.tlb_flush_pte_range(0x10_0000, K);
            g.tlb_finish_mmu(&arena, &tlb);
            let range = TlbEvent::Range { start: 0x10_0000, end: 0x10_0000 + pages * K, stride_shift: 12, freed_tables: false };
            let mut want = vec![range];
            if full {
                want.push(TlbEvent::All);
            } else {
                want.extend((0..pages).map(|i| TlbEvent::Page(0x10_0000 + i * K)));
            }
            assert_eq!(tlb.events(), want, "{pages} pages");
        }
    }

    /// A 2 MiB leaf is one stride of 2 MiB: one `invlpg`, as Linux's
    /// `tlb_get_unmap_shift` makes it when only pmds were cleared.
    #[test]
    fn huge_leaves_flush_with_their_own_stride() {
        let log = EventLog::new();
        let arena = ArenaPhysMem::with_log(log.clone());
        let tlb = RecordingTlb::with_log(log.clone());
        let mut pt = PageTable::new(&arena).unwrap();
        pt.map(4 * M2, 0, PageSize::Size2M, RW).unwrap();
        pt.map(5 * M2, 0, PageSize::Size2M, RW).unwrap();
        assert_eq!(arena.in_use(), 3, "root, pud and pmd tables");
        let mut g = MmuGather::tlb_gather_mmu();
        pt.unmap(4 * M2, &mut g).unwrap();
        pt.unmap(5 * M2, &mut g).unwrap();
        assert_eq!(arena.in_use(), 3, "unlinked tables stay allocated until the flush");
        g.tlb_finish_mmu(&arena, &tlb);
        let got = log.take();
        assert_eq!(
            tlb_events(&got),
            [
                TlbEvent::Range { start: 4 * M2, end: 6 * M2, stride_shift: 21, freed_tables: true },
                TlbEvent::Page(4 * M2),
                TlbEvent::Page(5 * M2),
            ]
        );
        assert_eq!(got.len(), 5, "then the pmd and pud tables are freed");
        assert!(got[3..].iter().all(|e| matches!(e, MachineEvent::FreeFrame(_))));
        assert_eq!(arena.in_use(), 1);
        assert_eq!(pt.free_all_tables(), 1);
    }

    #[test]
    fn frees_come_after_the_one_flush() {
        let log = EventLog::new();
        let arena = ArenaPhysMem::with_log(log.clone());
        let tlb = RecordingTlb::with_log(log.clone());
        let mut pt = PageTable::new(&arena).unwrap();
        let data: Vec<u64> = (0..4).map(|_| arena.alloc_frame().unwrap()).collect();
        for (i, &pa) in data.iter().enumerate() {
            pt.map(0x40_0000 + i as u64 * K, pa, PageSize::Size4K, RW).unwrap();
        }
        let tables = arena.in_use() - 1 - 4;
        let mut g = MmuGather::tlb_gather_mmu();
        for i in 0..4 {
            let m = pt.unmap(0x40_0000 + i * K, &mut g).unwrap();
            g.tlb_remove_page(m.pa);
        }
        assert!(log.events().is_empty(), "nothing flushed or freed before finishing");
        g.tlb_finish_mmu(&arena, &tlb);
        let got = log.take();
        let mut want: Vec<MachineEvent> =
            vec![MachineEvent::Tlb(TlbEvent::Range { start: 0x40_0000, end: 0x40_0000 + 4 * K, stride_shift: 12, freed_tables: true })];
        want.extend((0..4).map(|i| MachineEvent::Tlb(TlbEvent::Page(0x40_0000 + i * K))));
        assert_eq!(got[..5], want[..]);
        let mut freed: Vec<u64> = got[5..]
            .iter()
            .map(|e| match e {
                MachineEvent::FreeFrame(pa) => *pa,
                MachineEvent::Tlb(t) => panic!("flush {t:?} after a free"),
            })
            .collect();
        assert_eq!(freed.len() as u64, 4 + tables);
        freed.retain(|pa| data.contains(pa));
        assert_eq!(freed, data);
        assert_eq!(pt.free_all_tables(), 1);
        assert_eq!(arena.in_use(), 0);
    }

    #[test]
    fn fullmm_finishes_with_one_full_flush() {
        let tlb = RecordingTlb::new();
        let arena = ArenaPhysMem::new();
        let mut g = MmuGather::tlb_gather_mmu_fullmm();
        for i in 0..3 {
            g.tlb_flush_pte_range(i * K, K);
        }
        g.tlb_finish_mmu(&arena, &tlb);
        assert_eq!(tlb.events(), [TlbEvent::All]);
        MmuGather::tlb_gather_mmu_fullmm().tlb_finish_mmu(&arena, &tlb);
        assert_eq!(tlb.events(), [TlbEvent::All, TlbEvent::All], "exit always flushes: the root goes next");
    }

    /// When the frame list cannot grow, `needs_flush` says so while there is
    /// still room for one more pte's frames; flushing empties it, and
    /// every frame is still freed only after a flush covering it.
    #[test]
    fn out_of_memory_for_the_list_means_an_early_flush_never_an_unflushed_free() {
        let log = EventLog::new();
        let arena = ArenaPhysMem::with_log(log.clone());
        let tlb = RecordingTlb::with_log(log.clone());
        let mut g = MmuGather::tlb_gather_mmu();
        g.grow_limit = 0;
        let frames: Vec<u64> = (0..20).map(|_| arena.alloc_frame().unwrap()).collect();
        let mut early = 0;
        for (i, &pa) in frames.iter().enumerate() {
            if g.needs_flush() {
                g.tlb_flush_mmu(&arena, &tlb);
                early += 1;
            }
            assert!(g.room() >= MMU_GATHER_SLACK);
            g.tlb_flush_pte_range(i as u64 * K, K);
            g.tlb_remove_page(pa);
        }
        g.tlb_finish_mmu(&arena, &tlb);
        assert_eq!(early, 3, "five frames per round: the bundle of 8 keeps room for 4");
        assert_eq!(arena.in_use(), 0);
        // Every free comes after a Page flush of its address, in a round of
        // its own.
        let mut flushed = Vec::new();
        for e in log.take() {
            match e {
                MachineEvent::Tlb(TlbEvent::Page(va)) => flushed.push(va),
                MachineEvent::Tlb(_) => {}
                MachineEvent::FreeFrame(pa) => {
                    let i = frames.iter().position(|&f| f == pa).unwrap() as u64;
                    assert!(flushed.contains(&(i * K)), "frame {i} freed before its flush");
                }
            }
        }
    }
}
