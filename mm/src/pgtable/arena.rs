//! Host stand-ins for the machine: [`ArenaPhysMem`] and [`RecordingTlb`],
//! and the [`EventLog`] they can share.
//!
//! `ArenaPhysMem` keeps page-table frames in a `Vec` and hands out fake
//! physical addresses `ARENA_BASE + i * 4096`. It counts allocations and
//! frees, can be given a frame limit to provoke out-of-memory paths, and
//! panics on a double free or on touching a frame that is not allocated:
//! in a test double a panic is the detected bug (on the machine it would be
//! silent memory corruption).
//!
//! `RecordingTlb` records every flush it is asked for. Given one
//! [`EventLog`] (`RecordingTlb::with_log`, `ArenaPhysMem::with_log`), the
//! two write into one ordered record of flushes and frees, so that a test
//! can check that no frame went back to the allocator before a flush that
//! covers the address it was mapped at.
//!
//! Locking: the arena is single-threaded (`RefCell`); the log and the
//! recording TLB take a spinlock per event. Only for host tests and
//! benchmarks.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use super::entry::PTRS_PER_TABLE;
use super::phys::{flush_tlb_mm_range, PhysMem, TlbFlush};

/// Physical address of the arena's first frame (never 0, so a zero entry
/// cannot be mistaken for a frame).
pub const ARENA_BASE: u64 = 0x10_0000;
const FRAME: u64 = 4096;

/// Vec-backed page-table frames for host tests.
#[derive(Debug, Default)]
pub struct ArenaPhysMem {
    frames: RefCell<Vec<Option<Box<[u64; PTRS_PER_TABLE]>>>>,
    free_slots: RefCell<Vec<usize>>,
    allocated: Cell<u64>,
    freed: Cell<u64>,
    limit: Cell<Option<u64>>,
    log: Option<EventLog>,
}

impl ArenaPhysMem {
    /// An empty arena without a frame limit.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty arena that records every `free_frame` in `log`.
    pub fn with_log(log: EventLog) -> Self {
        ArenaPhysMem { log: Some(log), ..Self::default() }
    }

    /// An arena that fails `alloc_frame` once `limit` frames are in use.
    pub fn with_limit(limit: u64) -> Self {
        let arena = Self::default();
        arena.limit.set(Some(limit));
        arena
    }

    /// Change (or remove) the limit on frames in use.
    pub fn set_limit(&self, limit: Option<u64>) {
        self.limit.set(limit);
    }

    /// Frames handed out so far.
    pub fn allocated(&self) -> u64 {
        self.allocated.get()
    }

    /// Frames given back so far.
    pub fn freed(&self) -> u64 {
        self.freed.get()
    }

    /// Frames currently in use.
    pub fn in_use(&self) -> u64 {
        self.allocated.get() - self.freed.get()
    }

    /// Is `pa` a currently allocated frame of this arena?
    pub fn is_allocated(&self, pa: u64) -> bool {
        self.slot(pa).is_some_and(|i| self.frames.borrow()[i].is_some())
    }

    fn slot(&self, pa: u64) -> Option<usize> {
        if pa < ARENA_BASE || !pa.is_multiple_of(FRAME) {
            return None;
        }
        let i = ((pa - ARENA_BASE) / FRAME) as usize;
        (i < self.frames.borrow().len()).then_some(i)
    }

    fn live_slot(&self, pa: u64, what: &str) -> usize {
        match self.slot(pa) {
            Some(i) if self.frames.borrow()[i].is_some() => i,
            _ => panic!("ArenaPhysMem: {what} of frame {pa:#x}, which is not allocated"),
        }
    }
}

impl PhysMem for ArenaPhysMem {
    fn alloc_frame(&self) -> Option<u64> {
        if self.limit.get().is_some_and(|limit| self.in_use() >= limit) {
            return None;
        }
        let zeroed = Box::new([0u64; PTRS_PER_TABLE]);
        let mut frames = self.frames.borrow_mut();
        let reused = self.free_slots.borrow_mut().pop();
        let i = match reused {
            Some(i) => {
                frames[i] = Some(zeroed);
                i
            }
            None => {
                frames.push(Some(zeroed));
                // Room for every slot on the free list, so that freeing
                // never allocates (the kernel's bitmap allocator does not).
                let mut free = self.free_slots.borrow_mut();
                let room = frames.len().saturating_sub(free.len());
                free.reserve(room);
                frames.len() - 1
            }
        };
        self.allocated.set(self.allocated.get() + 1);
        Some(ARENA_BASE + i as u64 * FRAME)
    }

    fn free_frame(&self, pa: u64) {
        let i = self.live_slot(pa, "free (double free?)");
        self.frames.borrow_mut()[i] = None;
        self.free_slots.borrow_mut().push(i);
        self.freed.set(self.freed.get() + 1);
        if let Some(log) = &self.log {
            log.push(MachineEvent::FreeFrame(pa));
        }
    }

    fn read_entry(&self, table_pa: u64, index: usize) -> u64 {
        let i = self.live_slot(table_pa, "read");
        self.frames.borrow()[i].as_ref().map_or(0, |f| f[index % PTRS_PER_TABLE])
    }

    fn write_entry(&self, table_pa: u64, index: usize, val: u64) {
        let i = self.live_slot(table_pa, "write");
        if let Some(f) = self.frames.borrow_mut()[i].as_mut() {
            f[index % PTRS_PER_TABLE] = val;
        }
    }
}

/// One recorded TLB invalidation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlbEvent {
    /// `flush_page(va)`.
    Page(u64),
    /// `flush_all()`.
    All,
    /// `flush_range(start, end, stride_shift, freed_tables)`: one flush
    /// round. The `Page`s (or the `All`) it is carried out with follow it.
    Range {
        /// First address.
        start: u64,
        /// One past the last address.
        end: u64,
        /// log2 of the distance between the addresses to flush.
        stride_shift: u32,
        /// Page tables are freed after the flush.
        freed_tables: bool,
    },
}

/// One entry of an [`EventLog`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MachineEvent {
    /// A [`RecordingTlb`] was asked to flush.
    Tlb(TlbEvent),
    /// An [`ArenaPhysMem`] got the frame at this address back.
    FreeFrame(u64),
}

/// An ordered record of machine events, shared by its clones.
#[derive(Clone, Debug, Default)]
pub struct EventLog(Arc<spin::Mutex<Vec<MachineEvent>>>);

impl EventLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `e`.
    pub fn push(&self, e: MachineEvent) {
        self.0.lock().push(e);
    }

    /// Everything recorded so far, oldest first.
    pub fn events(&self) -> Vec<MachineEvent> {
        self.0.lock().clone()
    }

    /// Everything recorded so far, oldest first; the log is empty afterwards.
    pub fn take(&self) -> Vec<MachineEvent> {
        core::mem::take(&mut *self.0.lock())
    }

    /// Forget everything recorded so far.
    pub fn clear(&self) {
        self.0.lock().clear();
    }
}

/// A [`TlbFlush`] that records what it was asked to do (into its own
/// [`EventLog`], or one shared with an arena). Clones record into the same
/// log.
#[derive(Clone, Debug, Default)]
pub struct RecordingTlb {
    log: EventLog,
}

impl RecordingTlb {
    /// A recorder with a log of its own.
    pub fn new() -> Self {
        Self::default()
    }

    /// A recorder that writes into `log`.
    pub fn with_log(log: EventLog) -> Self {
        RecordingTlb { log }
    }

    /// The log it writes into.
    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// The flushes so far, oldest first (other events of a shared log left out).
    pub fn events(&self) -> Vec<TlbEvent> {
        self.log
            .events()
            .into_iter()
            .filter_map(|e| match e {
                MachineEvent::Tlb(t) => Some(t),
                MachineEvent::FreeFrame(_) => None,
            })
            .collect()
    }

    /// Forget everything in the log so far.
    pub fn clear(&self) {
        self.log.clear();
    }
}

impl TlbFlush for RecordingTlb {
    fn flush_page(&self, va: u64) {
        self.log.push(MachineEvent::Tlb(TlbEvent::Page(va)));
    }
    fn flush_all(&self) {
        self.log.push(MachineEvent::Tlb(TlbEvent::All));
    }
    /// Records the round, then carries it out as one CPU would (the
    /// default's page-by-page or full flush, recorded too).
    fn flush_range(&self, start: u64, end: u64, stride_shift: u32, freed_tables: bool) {
        self.log.push(MachineEvent::Tlb(TlbEvent::Range { start, end, stride_shift, freed_tables }));
        flush_tlb_mm_range(self, start, end, stride_shift);
    }
}
