//! Host stand-ins for the machine: [`ArenaPhysMem`] and [`RecordingTlb`].
//!
//! `ArenaPhysMem` keeps page-table frames in a `Vec` and hands out fake
//! physical addresses `ARENA_BASE + i * 4096`. It counts allocations and
//! frees, can be given a frame limit to provoke out-of-memory paths, and
//! panics on a double free or on touching a frame that is not allocated:
//! in a test double a panic is the detected bug (on the machine it would be
//! silent memory corruption).
//!
//! Locking: single-threaded (`RefCell`); only for host tests and benchmarks.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};

use super::entry::PTRS_PER_TABLE;
use super::phys::{PhysMem, TlbFlush};

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
}

impl ArenaPhysMem {
    /// An empty arena without a frame limit.
    pub fn new() -> Self {
        Self::default()
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
}

/// A [`TlbFlush`] that records what it was asked to do.
#[derive(Debug, Default)]
pub struct RecordingTlb {
    events: RefCell<Vec<TlbEvent>>,
}

impl RecordingTlb {
    /// An empty record.
    pub fn new() -> Self {
        Self::default()
    }

    /// The flushes so far, oldest first.
    pub fn events(&self) -> Vec<TlbEvent> {
        self.events.borrow().clone()
    }

    /// Forget the flushes so far.
    pub fn clear(&self) {
        self.events.borrow_mut().clear();
    }
}

impl TlbFlush for RecordingTlb {
    fn flush_page(&self, va: u64) {
        self.events.borrow_mut().push(TlbEvent::Page(va));
    }
    fn flush_all(&self) {
        self.events.borrow_mut().push(TlbEvent::All);
    }
}
