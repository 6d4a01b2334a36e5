//! The two traits through which page-table code reaches the machine.
//!
//! [`PhysMem`] gives frames (for page tables, and to the mm for the pages
//! it maps) and 64-bit entries inside page-table frames; the
//! kernel implements it over its physical-memory offset mapping (with
//! `unsafe` code), host tests with [`ArenaPhysMem`](super::ArenaPhysMem).
//! [`TlbFlush`] invalidates translations after an entry is changed or
//! removed; the kernel implements it with `invlpg` / CR3 reload (and, on SMP,
//! a shootdown).
//!
//! Invariants an implementation must keep: `alloc_frame` returns a
//! 4 KiB-aligned physical address of a frame whose 512 entries are all zero
//! and that nobody else uses until it is given back with `free_frame`.
//! `read_entry`/`write_entry` are only called by this crate with frames it got
//! from `alloc_frame` (or a root the owner vouched for) and
//! `index < 512`.
//!
//! Locking: none here. The callers (the `PageTable` operations) run under the
//! mm's page-table lock; the implementation only has to make a single entry
//! write atomic (an aligned 64-bit store is).

/// Physical memory as page-table code sees it.
pub trait PhysMem {
    /// A zeroed 4 KiB frame — for a page table, or a data page of an
    /// address space; its physical address, or `None` when memory is
    /// exhausted.
    fn alloc_frame(&self) -> Option<u64>;
    /// Give back a frame obtained from [`alloc_frame`](Self::alloc_frame).
    fn free_frame(&self, pa: u64);
    /// Entry `index` (0..512) of the table in frame `table_pa`.
    fn read_entry(&self, table_pa: u64, index: usize) -> u64;
    /// Store `val` into entry `index` (0..512) of the table in frame `table_pa`.
    fn write_entry(&self, table_pa: u64, index: usize, val: u64);
}

impl<T: PhysMem + ?Sized> PhysMem for &T {
    fn alloc_frame(&self) -> Option<u64> {
        (**self).alloc_frame()
    }
    fn free_frame(&self, pa: u64) {
        (**self).free_frame(pa)
    }
    fn read_entry(&self, table_pa: u64, index: usize) -> u64 {
        (**self).read_entry(table_pa, index)
    }
    fn write_entry(&self, table_pa: u64, index: usize, val: u64) {
        (**self).write_entry(table_pa, index, val)
    }
}

/// TLB invalidation for the address space whose page table changed.
pub trait TlbFlush {
    /// Invalidate the translation of the page containing `va` (for a huge
    /// page, any address inside it). On x86 `invlpg` also drops the cached
    /// upper-level entries, so freeing empty intermediate tables needs nothing more.
    fn flush_page(&self, va: u64);
    /// Invalidate every non-global translation.
    fn flush_all(&self);
}

impl<T: TlbFlush + ?Sized> TlbFlush for &T {
    fn flush_page(&self, va: u64) {
        (**self).flush_page(va)
    }
    fn flush_all(&self) {
        (**self).flush_all()
    }
}

/// A [`TlbFlush`] that does nothing: for page tables that are not loaded on
/// any CPU yet (being built) or when the caller flushes a whole range itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFlush;

impl TlbFlush for NoFlush {
    fn flush_page(&self, _va: u64) {}
    fn flush_all(&self) {}
}
