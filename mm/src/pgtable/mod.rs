//! 4-level x86_64 page tables.
//!
//! A [`PageTable`] owns a PML4 (root) frame and the intermediate tables
//! below it, all obtained from a [`PhysMem`]. It maps 4 KiB, 2 MiB and
//! 1 GiB pages ([`PageSize`]), unmaps, changes protections and translates.
//! It never owns the mapped frames themselves: those belong to the caller.
//!
//! Invariants:
//! - every table reachable from the root except the root itself holds at
//!   least one present entry: `map` allocates intermediate tables on demand
//!   (all it needs before linking any, so a failed `map` links nothing) and
//!   `unmap` unlinks those that become empty, so an empty lower half costs
//!   no frame beyond the root (exception: upper-half PUD tables stay once
//!   made, because other roots may share the PML4 entry pointing to them);
//! - every leaf this crate writes is present in Linux's sense: either
//!   [`PteFlags::PRESENT`] is set, or it is a *protnone* leaf with
//!   [`PteFlags::PROTNONE`] set and `PRESENT` clear (asked for by passing
//!   `PROTNONE` to `map`/`protect`), which the MMU does not see but which
//!   translates, keeps its tables and is unmapped like any other leaf;
//!   PMD / PUD leaves carry [`PteFlags::HUGE`], PTEs never do (bit 7 is PAT
//!   there);
//! - intermediate entries are `PRESENT | WRITABLE` (`| USER` in the lower
//!   half): the leaf decides the access rights;
//! - a table made by [`PageTable::new_with_kernel_half`] shares the upper
//!   256 PML4 entries (and everything below them) with another root; it
//!   refuses to change that half and never frees its tables.
//!
//! Addresses must be canonical (48-bit: below `1 << 47` or at/above
//! `0xFFFF_8000_0000_0000`); bad input is an `Err`, never a panic.
//!
//! Locking: page-table changes (`map`, `unmap`, `protect`, `free_all_tables`)
//! happen under the mm's page-table lock; `translate` and walks need the
//! tables not to change under them (page-table lock, or `mmap_lock` held so
//! that nobody maps or unmaps). Taking those locks is the caller's
//! responsibility; `&mut self` only enforces it within one thread of Rust.
//! TLB invalidation: `unmap` and `protect` flush nothing themselves. They
//! record the changed entry, and `unmap` the tables it unlinked, in the
//! caller's [`MmuGather`], which flushes once for the whole operation
//! (`protect` to `PROTNONE` included: the page must stop being reachable
//! before the operation returns) and frees the tables only after that
//! flush; `map` needs no flush (x86 does not cache non-present entries).

mod entry;
pub(crate) mod phys;

#[cfg(any(test, feature = "std"))]
mod arena;
#[cfg(test)]
mod tests;

#[cfg(any(test, feature = "std"))]
pub use arena::{ArenaPhysMem, EventLog, MachineEvent, RecordingTlb, TlbEvent, ARENA_BASE};
pub use entry::{Level, PageSize, PtEntry, PteFlags, ENTRY_ADDR_MASK, MAX_SWAP_OFFSET, MAX_SWAP_TYPE, PTRS_PER_TABLE, SWAP_MARK};
pub use phys::{flush_tlb_mm_range, NoFlush, PhysMem, TlbFlush, TLB_SINGLE_PAGE_FLUSH_CEILING};

use crate::errno::Errno;
use crate::mmu_gather::MmuGather;

/// First PML4 index of the kernel (upper) half.
pub const KERNEL_PGD_START: usize = 256;
/// Lowest canonical upper-half address.
pub const UPPER_HALF_START: u64 = 0xFFFF_8000_0000_0000;
/// One past the highest canonical lower-half address.
pub const LOWER_HALF_END: u64 = 1 << 47;

/// Is `va` a canonical 48-bit virtual address?
pub const fn is_canonical(va: u64) -> bool {
    va < LOWER_HALF_END || va >= UPPER_HALF_START
}

/// Why a page-table operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The virtual address is not canonical.
    NonCanonical,
    /// An address is not aligned to the page size (for `unmap`/`protect`:
    /// `va` is not the first byte of the mapping that covers it).
    Misaligned,
    /// The physical address does not fit in 52 bits.
    BadPhysAddr,
    /// Something is already mapped there (for a huge page: somewhere in it).
    AlreadyMapped,
    /// Nothing is mapped there.
    NotMapped,
    /// No frame for an intermediate table.
    OutOfFrames,
    /// The address is in a kernel half shared with another page table.
    KernelHalf,
}

impl From<MapError> for Errno {
    fn from(e: MapError) -> Errno {
        match e {
            MapError::NonCanonical | MapError::NotMapped => Errno::EFAULT,
            MapError::Misaligned | MapError::BadPhysAddr | MapError::KernelHalf => Errno::EINVAL,
            MapError::AlreadyMapped => Errno::EEXIST,
            MapError::OutOfFrames => Errno::ENOMEM,
        }
    }
}

/// What a virtual address is mapped to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// For `translate(va)`: the physical address of `va` itself (frame plus
    /// offset). For `unmap`: the physical base of the page that was mapped.
    pub pa: u64,
    /// Size of the leaf mapping.
    pub size: PageSize,
    /// Its flags, `PRESENT` included (or, for a protnone leaf, `PROTNONE`
    /// without `PRESENT`), `HUGE` not (the size says that).
    pub flags: PteFlags,
}

/// The location of one entry: which table, which slot (Linux passes a
/// `pte_t *`). Only this crate makes them, so a holder cannot forge one that
/// points outside the page table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtSlot {
    level: Level,
    table_pa: u64,
    index: usize,
    /// An address inside the range the entry covers (the one it was found by).
    va: u64,
}

impl PtSlot {
    /// The slot of `addr`'s entry in the table `table_pa` of `level`.
    pub(crate) fn new(level: Level, table_pa: u64, addr: u64) -> PtSlot {
        PtSlot { level, table_pa, index: level.index(addr), va: addr }
    }
    /// The level of the table this entry is in.
    pub fn level(&self) -> Level {
        self.level
    }
    /// Physical address of the table.
    pub fn table_pa(&self) -> u64 {
        self.table_pa
    }
    /// Index of the entry in its table (0..512).
    pub fn index(&self) -> usize {
        self.index
    }
    /// First virtual address the entry covers.
    pub fn va(&self) -> u64 {
        self.va & !(self.level.entry_size() - 1)
    }
}

/// A 4-level x86_64 page table: the PML4 frame and what hangs below it.
/// Dropping it leaks its frames: tear it down with
/// [`free_all_tables`](PageTable::free_all_tables) once no CPU uses it.
#[derive(Debug)]
pub struct PageTable<P: PhysMem> {
    phys: P,
    root: u64,
    kernel_half_shared: bool,
}

/// The entries met on the way down to `va`: `path[k]` is the slot at level
/// `4 - k`; `len` of them are valid, the last is where the walk stopped.
struct Path {
    slots: [PtSlot; 4],
    len: usize,
}

impl Path {
    fn last(&self) -> PtSlot {
        self.slots[self.len - 1]
    }
}

/// The flags a leaf is stored with: what the caller asked for, `HUGE` only
/// above the pte level, and `PRESENT` forced — except for a protnone leaf
/// (`PROTNONE` asked for), which gets `PRESENT` cleared.
fn leaf_bits(pa: u64, level: Level, flags: PteFlags) -> u64 {
    let mut f = flags.difference(PteFlags::HUGE);
    if f.contains(PteFlags::PROTNONE) {
        f -= PteFlags::PRESENT;
    } else {
        f |= PteFlags::PRESENT;
    }
    if level != Level::Pte {
        f |= PteFlags::HUGE;
    }
    pa | f.bits()
}

impl<P: PhysMem> PageTable<P> {
    /// A page table with an empty root. `Err(OutOfFrames)` if `phys` has no frame.
    pub fn new(phys: P) -> Result<Self, MapError> {
        let root = phys.alloc_frame().ok_or(MapError::OutOfFrames)?;
        Ok(PageTable { phys, root, kernel_half_shared: false })
    }

    /// A page table for a user address space: an empty lower half and the
    /// upper 256 PML4 entries copied from `kernel_root` (so the kernel's
    /// mappings are shared). Operations on the upper half are refused with
    /// [`MapError::KernelHalf`] and teardown leaves its tables alone.
    /// `kernel_root` must be the root of a live page table on `phys`.
    pub fn new_with_kernel_half(phys: P, kernel_root: u64) -> Result<Self, MapError> {
        let root = phys.alloc_frame().ok_or(MapError::OutOfFrames)?;
        for i in KERNEL_PGD_START..PTRS_PER_TABLE {
            let e = phys.read_entry(kernel_root, i);
            if e != 0 {
                phys.write_entry(root, i, e);
            }
        }
        Ok(PageTable { phys, root, kernel_half_shared: true })
    }

    /// Physical address of the PML4 (what goes into CR3).
    pub fn root_pa(&self) -> u64 {
        self.root
    }

    /// Was this table made with a shared kernel half?
    pub fn kernel_half_shared(&self) -> bool {
        self.kernel_half_shared
    }

    /// Read the entry at `slot`.
    pub fn get(&self, slot: PtSlot) -> PtEntry {
        PtEntry(self.phys.read_entry(slot.table_pa, slot.index))
    }

    fn set(&self, slot: PtSlot, e: PtEntry) {
        self.phys.write_entry(slot.table_pa, slot.index, e.0);
    }

    /// The root's slot for `va`.
    fn root_slot(&self, va: u64) -> PtSlot {
        PtSlot::new(Level::Pgd, self.root, va)
    }

    fn check_va(&self, va: u64) -> Result<(), MapError> {
        if !is_canonical(va) {
            return Err(MapError::NonCanonical);
        }
        if self.kernel_half_shared && va >= UPPER_HALF_START {
            return Err(MapError::KernelHalf);
        }
        Ok(())
    }

    /// Follow `va` down: stop at the first entry that is not present or is
    /// a leaf (or at the pte). Never allocates.
    fn lookup(&self, va: u64) -> Path {
        let first = self.root_slot(va);
        let mut path = Path { slots: [first; 4], len: 1 };
        let mut slot = first;
        loop {
            let e = self.get(slot);
            if !e.is_present() || e.is_leaf(slot.level) {
                return path;
            }
            let Some(lower) = slot.level.lower() else { return path };
            slot = PtSlot::new(lower, e.addr(), va);
            path.slots[path.len] = slot;
            path.len += 1;
        }
    }

    /// The present (protnone included) leaf covering `va`, or `None`.
    fn leaf(&self, va: u64) -> Option<(PtSlot, PtEntry)> {
        if !is_canonical(va) {
            return None;
        }
        let slot = self.lookup(va).last();
        let e = self.get(slot);
        e.is_leaf(slot.level).then_some((slot, e))
    }

    /// Map the page at `va` to the frame at `pa` with `flags` (`PRESENT` is
    /// added unless `flags` has `PROTNONE`, which makes a protnone leaf;
    /// `HUGE` is decided by `size`). Missing intermediate tables are
    /// allocated first, all of them, and linked only once every one was
    /// had: on failure nothing was linked, so no CPU can have cached
    /// anything of them and they are freed at once.
    pub fn map(&mut self, va: u64, pa: u64, size: PageSize, flags: PteFlags) -> Result<(), MapError> {
        self.check_va(va)?;
        if !va.is_multiple_of(size.bytes()) || !pa.is_multiple_of(size.bytes()) {
            return Err(MapError::Misaligned);
        }
        if pa & !ENTRY_ADDR_MASK != 0 {
            return Err(MapError::BadPhysAddr);
        }
        self.install(va, size.level(), leaf_bits(pa, size.level(), flags))
    }

    /// Write `raw` (a leaf or a swap entry) into the empty slot of level
    /// `target` for `va`, allocating missing tables as [`map`](Self::map)
    /// describes. A slot that holds anything (a leaf, a table, a swap
    /// entry) is `AlreadyMapped`.
    fn install(&mut self, va: u64, target: Level, raw: u64) -> Result<(), MapError> {
        let table_bits = if va < LOWER_HALF_END {
            PteFlags::PRESENT | PteFlags::WRITABLE | PteFlags::USER
        } else {
            PteFlags::PRESENT | PteFlags::WRITABLE
        };
        // Down the existing tables, to the target slot or the first missing table.
        let mut slot = self.root_slot(va);
        while slot.level != target {
            let e = self.get(slot);
            if !e.is_present() {
                break;
            }
            if e.is_leaf(slot.level) {
                return Err(MapError::AlreadyMapped);
            }
            // `target` is below `slot.level`, so there is a lower level.
            let Some(lower) = slot.level.lower() else { return Err(MapError::AlreadyMapped) };
            slot = PtSlot::new(lower, e.addr(), va);
        }
        if slot.level == target {
            if !self.get(slot).is_clear() {
                // A leaf, a swap entry, or (for a huge page) a table with
                // mappings below it.
                return Err(MapError::AlreadyMapped);
            }
            self.set(slot, PtEntry(raw));
            return Ok(());
        }
        // `new[k]` becomes the table of level `levels[k]`, below `slot`.
        let mut new = [(0u64, Level::Pte); 3];
        let mut n = 0;
        let mut level = slot.level;
        while level != target {
            let Some(lower) = level.lower() else { break };
            let Some(table) = self.phys.alloc_frame() else {
                for &(t, _) in &new[..n] {
                    self.phys.free_frame(t);
                }
                return Err(MapError::OutOfFrames);
            };
            new[n] = (table, lower);
            n += 1;
            level = lower;
        }
        // Fill bottom-up, so the path appears complete when its top is linked.
        let (last, last_level) = new[n - 1];
        self.phys.write_entry(last, last_level.index(va), raw);
        for k in (0..n - 1).rev() {
            let (table, level) = new[k];
            self.phys.write_entry(table, level.index(va), new[k + 1].0 | table_bits.bits());
        }
        self.set(slot, PtEntry(new[0].0 | table_bits.bits()));
        Ok(())
    }

    /// Remove the mapping that starts at `va`; return what it mapped.
    /// The entry is recorded in `tlb` for the flush, and the intermediate
    /// tables left empty are unlinked and handed to it, to be freed after
    /// the flush (the mapped frame is the caller's).
    pub fn unmap(&mut self, va: u64, tlb: &mut MmuGather) -> Result<Mapping, MapError> {
        self.check_va(va)?;
        let (slot, e) = self.leaf(va).ok_or(MapError::NotMapped)?;
        let size = PageSize::from_level(slot.level).ok_or(MapError::NotMapped)?;
        if !va.is_multiple_of(size.bytes()) {
            return Err(MapError::Misaligned);
        }
        self.set(slot, PtEntry::NONE);
        tlb.tlb_flush_pte_range(va, size.bytes());
        self.free_empty_tables(va, tlb);
        Ok(Mapping { pa: e.leaf_frame(slot.level), size, flags: e.leaf_flags() })
    }

    /// Give the mapping that starts at `va` new `flags` (`PRESENT` set, or
    /// cleared for a protnone leaf if `flags` has `PROTNONE`; the frame and
    /// size stay); return the old flags. The entry is recorded in `tlb`
    /// for the flush.
    pub fn protect(&mut self, va: u64, flags: PteFlags, tlb: &mut MmuGather) -> Result<PteFlags, MapError> {
        self.check_va(va)?;
        let (slot, e) = self.leaf(va).ok_or(MapError::NotMapped)?;
        if !va.is_multiple_of(slot.level.entry_size()) {
            return Err(MapError::Misaligned);
        }
        self.set(slot, PtEntry(leaf_bits(e.leaf_frame(slot.level), slot.level, flags)));
        tlb.tlb_flush_pte_range(va, slot.level.entry_size());
        Ok(e.leaf_flags())
    }

    /// Clear the accessed bit of the leaf at `va`; return whether it was
    /// set (Linux `ptep_test_and_clear_young`). Nothing is flushed: on x86
    /// a stale translation with the bit still cached only means the CPU
    /// does not set it again until that entry leaves its TLB, so the page
    /// may look unused for a while, which costs reclaim a wrong guess and
    /// never a wrong byte (Linux's x86 `ptep_clear_flush_young` skips the
    /// flush for the same reason). The store is not atomic against the
    /// CPU setting `DIRTY` at the same moment, so a caller must not rely
    /// on `DIRTY` of a writable pte afterwards (reclaim write-protects and
    /// flushes before it looks at it).
    pub fn ptep_test_and_clear_young(&mut self, va: u64) -> bool {
        let Some((slot, e)) = self.leaf(va) else { return false };
        if !e.leaf_flags().contains(PteFlags::ACCESSED) {
            return false;
        }
        self.set(slot, PtEntry(e.0 & !PteFlags::ACCESSED.bits()));
        true
    }

    /// Point the 4 KiB leaf at `va` to the frame `pa` with `flags` (the
    /// copy-on-write break: the pte changes frame in one store, without an
    /// empty window and without touching the tables above); return what it
    /// mapped before. The entry is recorded in `tlb` for the flush; the old
    /// frame is the caller's.
    pub fn replace(&mut self, va: u64, pa: u64, flags: PteFlags, tlb: &mut MmuGather) -> Result<Mapping, MapError> {
        self.check_va(va)?;
        if pa & !ENTRY_ADDR_MASK != 0 || !pa.is_multiple_of(PageSize::Size4K.bytes()) {
            return Err(MapError::BadPhysAddr);
        }
        let (slot, e) = self.leaf(va).ok_or(MapError::NotMapped)?;
        if slot.level != Level::Pte || !va.is_multiple_of(slot.level.entry_size()) {
            return Err(MapError::Misaligned);
        }
        self.set(slot, PtEntry(leaf_bits(pa, slot.level, flags)));
        tlb.tlb_flush_pte_range(va, slot.level.entry_size());
        Ok(Mapping { pa: e.leaf_frame(slot.level), size: PageSize::Size4K, flags: e.leaf_flags() })
    }

    /// The PTE slot of `va`, if its page table exists.
    fn pte_slot(&self, va: u64) -> Option<PtSlot> {
        if !is_canonical(va) {
            return None;
        }
        let slot = self.lookup(va).last();
        (slot.level == Level::Pte).then_some(slot)
    }

    /// The swap entry at `va`, if the PTE there is one.
    pub fn swap_entry_at(&self, va: u64) -> Option<PtEntry> {
        let e = self.get(self.pte_slot(va)?);
        e.is_swap().then_some(e)
    }

    /// Swap a page out of this table (the pte part of Linux
    /// `try_to_unmap_one`): the present 4 KiB leaf at `va` becomes the swap
    /// entry `swp`, and its translation goes into `tlb`. Returns what was
    /// mapped.
    pub fn set_swap_pte(&mut self, va: u64, swp: PtEntry, tlb: &mut MmuGather) -> Result<Mapping, MapError> {
        self.check_va(va)?;
        if !swp.is_swap() {
            return Err(MapError::BadPhysAddr);
        }
        let (slot, e) = self.leaf(va).ok_or(MapError::NotMapped)?;
        if slot.level != Level::Pte || !va.is_multiple_of(PageSize::Size4K.bytes()) {
            return Err(MapError::Misaligned);
        }
        self.set(slot, swp);
        tlb.tlb_flush_pte_range(va, PageSize::Size4K.bytes());
        Ok(Mapping { pa: e.leaf_frame(slot.level), size: PageSize::Size4K, flags: e.leaf_flags() })
    }

    /// Put the swap entry `swp` into the empty PTE at `va`, allocating
    /// page tables as [`map`](Self::map) does (fork and mremap copying or
    /// moving a swap entry).
    pub fn install_swap_pte(&mut self, va: u64, swp: PtEntry) -> Result<(), MapError> {
        self.check_va(va)?;
        if !swp.is_swap() {
            return Err(MapError::BadPhysAddr);
        }
        if !va.is_multiple_of(PageSize::Size4K.bytes()) {
            return Err(MapError::Misaligned);
        }
        self.install(va, Level::Pte, swp.0)
    }

    /// Clear the swap entry at `va` (zap, or mremap moving it away),
    /// freeing page tables left empty into `tlb`; returns it. Nothing was
    /// mapped, so no translation needs flushing.
    pub fn clear_swap_pte(&mut self, va: u64, tlb: &mut MmuGather) -> Option<PtEntry> {
        let slot = self.pte_slot(va)?;
        let e = self.get(slot);
        if !e.is_swap() {
            return None;
        }
        self.set(slot, PtEntry::NONE);
        self.free_empty_tables(va, tlb);
        Some(e)
    }

    /// Swap a page back in (the pte part of Linux `do_swap_page`): the
    /// swap entry `swp` at `va` becomes a present mapping of `pa` with
    /// `flags`. Refused (`NotMapped`) if the entry changed meanwhile.
    pub fn replace_swap_pte(&mut self, va: u64, swp: PtEntry, pa: u64, flags: PteFlags) -> Result<(), MapError> {
        if pa & !ENTRY_ADDR_MASK != 0 || !pa.is_multiple_of(PageSize::Size4K.bytes()) {
            return Err(MapError::BadPhysAddr);
        }
        let slot = self.pte_slot(va).ok_or(MapError::NotMapped)?;
        if self.get(slot) != swp || !swp.is_swap() {
            return Err(MapError::NotMapped);
        }
        self.set(slot, PtEntry(leaf_bits(pa, Level::Pte, flags)));
        Ok(())
    }

    /// What `va` is mapped to: the physical address of `va` itself, the size
    /// and flags of the mapping. `None` if unmapped or not canonical. A
    /// protnone leaf is a mapping here (its flags say `PROTNONE`), though
    /// the MMU would fault on it.
    pub fn translate(&self, va: u64) -> Option<Mapping> {
        let (slot, e) = self.leaf(va)?;
        let size = PageSize::from_level(slot.level)?;
        let offset = va & (size.bytes() - 1);
        Some(Mapping { pa: e.leaf_frame(slot.level) + offset, size, flags: e.leaf_flags() })
    }

    /// Replace the flags of the present (or protnone) leaf at `slot` (used
    /// by page walks; `slot` comes from a walk of this table), with the same
    /// `PRESENT`/`PROTNONE` rule as [`protect`](Self::protect). Returns the
    /// old flags, or `None` if the entry is not a leaf or lies in a shared
    /// kernel half. No TLB flush.
    pub(crate) fn set_leaf_flags(&self, slot: PtSlot, flags: PteFlags) -> Option<PteFlags> {
        self.check_va(slot.va).ok()?;
        let e = self.get(slot);
        if !e.is_leaf(slot.level) {
            return None;
        }
        self.set(slot, PtEntry(leaf_bits(e.leaf_frame(slot.level), slot.level, flags)));
        Some(e.leaf_flags())
    }

    /// Unlink the tables on `va`'s path that hold no present (or protnone)
    /// entry, bottom up, and hand them to `tlb` to be freed after its flush
    /// (Linux `free_pgd_range` with `pte_free_tlb` and friends). Never the
    /// root, and in the upper half never a PUD table: other roots may have
    /// copied the PML4 entry that points to it (`new_with_kernel_half`).
    fn free_empty_tables(&mut self, va: u64, tlb: &mut MmuGather) {
        let path = self.lookup(va);
        let lowest_freeable = if va >= UPPER_HALF_START { 2 } else { 1 };
        // path.slots[k] lives in the table that path.slots[k - 1] points to.
        for k in (lowest_freeable..path.len).rev() {
            let table = path.slots[k].table_pa;
            if (0..PTRS_PER_TABLE).any(|i| !PtEntry(self.phys.read_entry(table, i)).is_clear()) {
                return;
            }
            let parent = path.slots[k - 1];
            self.set(parent, PtEntry::NONE);
            tlb.tlb_remove_table(table, va, parent.level.entry_size());
        }
    }

    /// Tear the page table down: free every intermediate table it owns and
    /// the root (a shared kernel half is left alone), at once. Mapped frames
    /// are the caller's. Returns how many table frames were freed. The table
    /// must not be loaded in CR3 on any CPU, and every CPU that had it
    /// loaded must have flushed since (exit: after the fullmm
    /// [`MmuGather`]'s flush): then nothing of it can be cached anywhere.
    pub fn free_all_tables(self) -> usize {
        let owned_end = if self.kernel_half_shared { KERNEL_PGD_START } else { PTRS_PER_TABLE };
        let mut freed = 0;
        for i in 0..owned_end {
            let e = PtEntry(self.phys.read_entry(self.root, i));
            if e.is_present() && !e.is_leaf(Level::Pgd) {
                freed += self.free_subtree(Level::Pud, e.addr());
            }
        }
        self.phys.free_frame(self.root);
        freed + 1
    }

    /// Free the table at `table` (of `level`) and the tables below it.
    fn free_subtree(&self, level: Level, table: u64) -> usize {
        let mut freed = 0;
        if let Some(lower) = level.lower() {
            for i in 0..PTRS_PER_TABLE {
                let e = PtEntry(self.phys.read_entry(table, i));
                if e.is_present() && !e.is_leaf(level) {
                    freed += self.free_subtree(lower, e.addr());
                }
            }
        }
        self.phys.free_frame(table);
        freed + 1
    }
}
