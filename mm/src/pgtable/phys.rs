//! The two traits through which page-table code reaches the machine.
//!
//! [`PhysMem`] gives frames (for page tables, and to the mm for the pages
//! it maps) and 64-bit entries inside page-table frames; the
//! kernel implements it over its physical-memory offset mapping (with
//! `unsafe` code), host tests with [`ArenaPhysMem`](super::ArenaPhysMem).
//! [`TlbFlush`] invalidates translations after entries were changed or
//! removed; the kernel implements it with `invlpg` / CR3 reload and, on
//! SMP, a shootdown. The mm never calls it directly: every change goes
//! through an [`MmuGather`](crate::mmu_gather::MmuGather), which makes one
//! call per operation and frees frames only after it returned.
//!
//! Invariants an implementation must keep: `alloc_frame` returns a
//! 4 KiB-aligned physical address of a frame whose 512 entries are all zero
//! and that nobody else uses until it is given back with `free_frame`.
//! `read_entry`/`write_entry` are only called by this crate with frames it got
//! from `alloc_frame` (or a root the owner vouched for) and
//! `index < 512`. For `TlbFlush`, see the trait.
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
    /// Copy the 4 KiB frame at `src` to the frame at `dst` (a copy-on-write
    /// break, Linux `copy_user_highpage`). The default copies it as 512
    /// words through [`read_entry`](Self::read_entry) and
    /// [`write_entry`](Self::write_entry).
    fn copy_frame(&self, dst: u64, src: u64) {
        for i in 0..512 {
            self.write_entry(dst, i, self.read_entry(src, i));
        }
    }
    /// Try to free frames by reclaim, for an allocation that found none;
    /// whether any was freed. Called with no page-table lock held (an
    /// `mmap_lock` may be). The default (the host) has nothing to reclaim.
    fn reclaim(&self) -> bool {
        false
    }
    /// Copy the 4 KiB frame at `pa` into `buf` (swap-out). The default
    /// reads it as 512 words through [`read_entry`](Self::read_entry).
    fn read_frame(&self, pa: u64, buf: &mut [u8; 4096]) {
        for (i, word) in buf.as_chunks_mut::<8>().0.iter_mut().enumerate() {
            *word = self.read_entry(pa, i).to_le_bytes();
        }
    }
    /// Fill the 4 KiB frame at `pa` from `buf` (swap-in). The default
    /// writes it as 512 words through [`write_entry`](Self::write_entry).
    fn write_frame(&self, pa: u64, buf: &[u8; 4096]) {
        for (i, word) in buf.as_chunks::<8>().0.iter().enumerate() {
            self.write_entry(pa, i, u64::from_le_bytes(*word));
        }
    }
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
    fn copy_frame(&self, dst: u64, src: u64) {
        (**self).copy_frame(dst, src)
    }
    fn reclaim(&self) -> bool {
        (**self).reclaim()
    }
    fn read_frame(&self, pa: u64, buf: &mut [u8; 4096]) {
        (**self).read_frame(pa, buf)
    }
    fn write_frame(&self, pa: u64, buf: &[u8; 4096]) {
        (**self).write_frame(pa, buf)
    }
}

/// Linux's `tlb_single_page_flush_ceiling` (arch/x86/mm/tlb.c): a flush
/// of at most this many pages (strides) is done page by page with
/// `invlpg`, a larger one as one full flush. Linux chose 33 as large enough
/// for most munmaps while capping the single flushes at about 3 µs.
pub const TLB_SINGLE_PAGE_FLUSH_CEILING: u64 = 33;

/// TLB invalidation for one address space (its page table changed).
///
/// What the kernel's implementation must guarantee: when a call returns,
/// no CPU holds a translation of the address space that the call covers
/// any more — neither in its TLB nor in its paging-structure caches. That
/// means every CPU that may hold the address space's translations: the
/// calling CPU, every CPU that has the page table loaded, and every CPU
/// that had it loaded since it last flushed (lazy-TLB or PCID-tagged
/// entries). Each must have flushed and acknowledged before the call
/// returns, because the caller frees the unmapped frames and page tables
/// right after it (through [`MmuGather`](crate::mmu_gather::MmuGather)),
/// and a CPU with a stale entry could still read or write them. With
/// `freed_tables` (and always for `flush_all`), that includes CPUs that
/// only have the page table loaded lazily: their page walker may still
/// load entries from the freed tables speculatively (Linux's
/// `native_flush_tlb_multi` IPIs lazy CPUs for the same reason).
///
/// On one CPU, `flush_page` is `invlpg` (which also drops the cached
/// upper-level entries of every address) and `flush_all` a CR3 reload.
pub trait TlbFlush {
    /// Invalidate the translation of the page containing `va` (for a huge
    /// page, any address inside it). On x86 `invlpg` also drops the cached
    /// upper-level entries, so freeing empty intermediate tables needs nothing more.
    fn flush_page(&self, va: u64);
    /// Invalidate every non-global translation of the address space.
    fn flush_all(&self);
    /// One flush round (Linux `flush_tlb_mm_range`): invalidate the
    /// translations of `[start, end)`, whose entries are `1 << stride_shift`
    /// bytes apart (12, or 21/30 when only huge leaves changed);
    /// `freed_tables`: page tables of the range were unlinked and will be
    /// freed after the call.
    ///
    /// The default does it on this CPU through [`flush_tlb_mm_range`]:
    /// `flush_page` for every stride when there are at most
    /// [`TLB_SINGLE_PAGE_FLUSH_CEILING`] of them, else one `flush_all`. An
    /// SMP implementation overrides it to make every CPU do the same in one
    /// shootdown (one IPI round, not one per page).
    fn flush_range(&self, start: u64, end: u64, stride_shift: u32, freed_tables: bool) {
        let _ = freed_tables;
        flush_tlb_mm_range(self, start, end, stride_shift);
    }
}

/// Linux `flush_tlb_mm_range`'s choice, carried out with `tlb`'s
/// `flush_page` and `flush_all`: page by page (one every
/// `1 << stride_shift` bytes from `start`) when `[start, end)` holds at
/// most [`TLB_SINGLE_PAGE_FLUSH_CEILING`] strides, else one full flush.
pub fn flush_tlb_mm_range<T: TlbFlush + ?Sized>(tlb: &T, start: u64, end: u64, stride_shift: u32) {
    if end.saturating_sub(start) >> stride_shift > TLB_SINGLE_PAGE_FLUSH_CEILING {
        tlb.flush_all();
        return;
    }
    let mut addr = start;
    while addr < end {
        tlb.flush_page(addr);
        match addr.checked_add(1 << stride_shift) {
            Some(next) => addr = next,
            None => break,
        }
    }
}

impl<T: TlbFlush + ?Sized> TlbFlush for &T {
    fn flush_page(&self, va: u64) {
        (**self).flush_page(va)
    }
    fn flush_all(&self) {
        (**self).flush_all()
    }
    fn flush_range(&self, start: u64, end: u64, stride_shift: u32, freed_tables: bool) {
        (**self).flush_range(start, end, stride_shift, freed_tables)
    }
}

/// A [`TlbFlush`] that does nothing: for page tables that no CPU has
/// loaded (being built, host tests), where nothing can be cached.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFlush;

impl TlbFlush for NoFlush {
    fn flush_page(&self, _va: u64) {}
    fn flush_all(&self) {}
    fn flush_range(&self, _start: u64, _end: u64, _stride_shift: u32, _freed_tables: bool) {}
}
