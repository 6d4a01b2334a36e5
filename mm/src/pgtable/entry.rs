//! x86_64 page-table entries: flag bits, levels, page sizes.
//!
//! An entry is a `u64`: flag bits 0..=11 and 52..=63, a physical address in
//! bits 12..=51 (the next table, or the mapped frame for a leaf).
//!
//! *Present* has Linux's meaning (`pte_present`): [`PteFlags::PRESENT`]
//! (bit 0, what the MMU looks at) or [`PteFlags::PROTNONE`] is set. A
//! protnone entry is a leaf the MMU treats as not present, so that every
//! access faults, while the page table and the mm above it still treat it
//! as a mapping of its frame (a `PROT_NONE` page that keeps its contents).
//! The one non-zero entry with neither bit is a *swap entry*
//! ([`PtEntry::swap`]: [`SWAP_MARK`] set, only in PTEs): the page was
//! swapped out and the entry names its slot. Walkers and `translate` see a
//! swap entry as none (no frame is mapped); code that must keep or release
//! it (zap, fork, mremap, the fault that swaps the page back in) asks for
//! it ([`PtEntry::swap_entry`]), and no operation writes over one. A leaf is a present PTE, or a present PMD / PUD
//! with [`PteFlags::HUGE`] (2 MiB / 1 GiB). Table pointers always have
//! `PRESENT` set.
//!
//! Level numbering follows the hardware: 4 = PML4 (Linux pgd; the p4d level
//! is folded), 3 = PDPT (pud), 2 = page directory (pmd), 1 = page table (pte).
//!
//! Locking: plain values; see [`PageTable`](super::PageTable).

use bitflags::bitflags;

bitflags! {
    /// x86_64 page-table entry flags (Linux `_PAGE_*`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct PteFlags: u64 {
        /// Bit 0: the entry is valid.
        const PRESENT       = 1 << 0;
        /// Bit 1: writes allowed.
        const WRITABLE      = 1 << 1;
        /// Bit 2: ring 3 may access.
        const USER          = 1 << 2;
        /// Bit 3: write-through caching.
        const WRITE_THROUGH = 1 << 3;
        /// Bit 4: caching disabled.
        const NO_CACHE      = 1 << 4;
        /// Bit 5: set by the CPU on access.
        const ACCESSED      = 1 << 5;
        /// Bit 6: set by the CPU on write (leaves only).
        const DIRTY         = 1 << 6;
        /// Bit 7 in a PMD / PUD: this entry maps a 2 MiB / 1 GiB page. (In a
        /// PTE bit 7 is PAT; this crate never sets it there.)
        const HUGE          = 1 << 7;
        /// Bit 8: not flushed on CR3 reload (kernel mappings).
        const GLOBAL        = 1 << 8;
        /// Bit 9: ignored by the CPU, free for software (Linux `_PAGE_SOFTW1`).
        const SOFTW1        = 1 << 9;
        /// Bit 10 (software, Linux `_PAGE_SOFTW2`), meaningful only with
        /// `PRESENT` clear: the entry is a *protnone* leaf, a `PROT_NONE`
        /// page that keeps its frame (Linux `_PAGE_PROTNONE`, which x86
        /// Linux keeps in bit 8, `GLOBAL`, reused while `PRESENT` is clear;
        /// Holdfast takes a bit the CPU ignores in every entry instead).
        /// The MMU sees a non-present entry, so every access, user or
        /// kernel, faults; the rest of the entry (frame, other bits) stays.
        const PROTNONE      = 1 << 10;
        /// Bit 63: instruction fetches fault.
        const NO_EXECUTE    = 1 << 63;
    }
}

/// Bits 12..=51: the physical address in an entry.
pub const ENTRY_ADDR_MASK: u64 = 0x000F_FFFF_FFFF_F000;
/// Entries per table.
pub const PTRS_PER_TABLE: usize = 512;

/// One level of the 4-level tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Level 1, the page table: each entry maps 4 KiB (Linux pte).
    Pte = 1,
    /// Level 2, the page directory: each entry covers 2 MiB (Linux pmd).
    Pmd = 2,
    /// Level 3, the PDPT: each entry covers 1 GiB (Linux pud).
    Pud = 3,
    /// Level 4, the PML4: each entry covers 512 GiB (Linux pgd).
    Pgd = 4,
}

impl Level {
    /// log2 of the bytes one entry of this level covers.
    pub const fn shift(self) -> u32 {
        12 + 9 * (self as u32 - 1)
    }

    /// Bytes one entry of this level covers.
    pub const fn entry_size(self) -> u64 {
        1 << self.shift()
    }

    /// Index of the entry of this level that covers `va`.
    pub const fn index(self, va: u64) -> usize {
        ((va >> self.shift()) & (PTRS_PER_TABLE as u64 - 1)) as usize
    }

    /// The level below, `None` for [`Level::Pte`].
    pub const fn lower(self) -> Option<Level> {
        match self {
            Level::Pgd => Some(Level::Pud),
            Level::Pud => Some(Level::Pmd),
            Level::Pmd => Some(Level::Pte),
            Level::Pte => None,
        }
    }

    /// The `depth` Linux passes to `pte_hole` for a missing entry of this
    /// level: pgd 0, pud 2, pmd 3 (p4d, 1, is folded into pgd on 4-level
    /// paging). Holes found at the pte level get 4, which Linux never
    /// reports (its `pte_entry` sees empty ptes instead).
    pub const fn hole_depth(self) -> i32 {
        match self {
            Level::Pgd => 0,
            Level::Pud => 2,
            Level::Pmd => 3,
            Level::Pte => 4,
        }
    }

    /// End of the range covered by the entry holding `addr`, capped at `end`
    /// (Linux `pXd_addr_end`; never overflows).
    pub const fn addr_end(self, addr: u64, end: u64) -> u64 {
        let base = addr & !(self.entry_size() - 1);
        match base.checked_add(self.entry_size()) {
            Some(boundary) if boundary < end => boundary,
            _ => end,
        }
    }
}

/// Size of one leaf mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSize {
    /// 4 KiB, a PTE.
    Size4K,
    /// 2 MiB, a huge PMD.
    Size2M,
    /// 1 GiB, a huge PUD.
    Size1G,
}

impl PageSize {
    /// Size in bytes.
    pub const fn bytes(self) -> u64 {
        self.level().entry_size()
    }

    /// The level whose entry maps a page of this size.
    pub const fn level(self) -> Level {
        match self {
            PageSize::Size4K => Level::Pte,
            PageSize::Size2M => Level::Pmd,
            PageSize::Size1G => Level::Pud,
        }
    }

    /// The page size a leaf at `level` maps; `None` for the PML4.
    pub const fn from_level(level: Level) -> Option<PageSize> {
        match level {
            Level::Pte => Some(PageSize::Size4K),
            Level::Pmd => Some(PageSize::Size2M),
            Level::Pud => Some(PageSize::Size1G),
            Level::Pgd => None,
        }
    }
}

/// Bit 11 of a non-present PTE: the entry is a swap entry (Linux keeps
/// the swap type and offset in a non-present pte the same way; the bit is
/// ignored by the MMU, as every bit is while `PRESENT` is clear).
pub const SWAP_MARK: u64 = 1 << 11;
/// Bits 1..=5 of a swap entry: the swap type (device number).
const SWAP_TYPE_SHIFT: u32 = 1;
const SWAP_TYPE_MASK: u64 = 0x1f;
/// Bits 12..=51 of a swap entry: the slot offset, inverted, as Linux does
/// so that a non-present entry never holds the address of cacheable
/// memory (the L1TF mitigation).
const SWAP_OFFSET_SHIFT: u32 = 12;
const SWAP_OFFSET_MASK: u64 = (1 << 40) - 1;

/// The highest swap type and slot offset a swap entry can name.
pub const MAX_SWAP_TYPE: u8 = SWAP_TYPE_MASK as u8;
pub const MAX_SWAP_OFFSET: u64 = SWAP_OFFSET_MASK;

/// The value of one page-table entry (Linux `pte_t` / `pmd_t` / ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PtEntry(pub u64);

impl PtEntry {
    /// The empty entry.
    pub const NONE: PtEntry = PtEntry(0);

    /// The raw bits.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Linux `pte_present`: `PRESENT` or `PROTNONE` set, i.e. a table
    /// pointer or a leaf, protnone leaves included. (The MMU's view is the
    /// `PRESENT` bit alone.)
    pub const fn is_present(self) -> bool {
        self.0 & (PteFlags::PRESENT.bits() | PteFlags::PROTNONE.bits()) != 0
    }

    /// A protnone leaf (Linux `pte_protnone`): [`PteFlags::PROTNONE`] set,
    /// [`PteFlags::PRESENT`] clear.
    pub const fn is_protnone(self) -> bool {
        self.0 & (PteFlags::PRESENT.bits() | PteFlags::PROTNONE.bits()) == PteFlags::PROTNONE.bits()
    }

    /// Not present: no frame mapped (an empty entry or a swap entry; for
    /// the empty entry alone see [`is_clear`](Self::is_clear)).
    pub const fn is_none(self) -> bool {
        !self.is_present()
    }

    /// All zero (Linux `pte_none`): nothing, not even a swap entry.
    pub const fn is_clear(self) -> bool {
        self.0 == 0
    }

    /// A swap entry for slot `offset` of swap device `type_` (Linux
    /// `swp_entry_to_pte`). `None` if either is out of range.
    pub const fn swap(type_: u8, offset: u64) -> Option<PtEntry> {
        if type_ > MAX_SWAP_TYPE || offset > MAX_SWAP_OFFSET {
            return None;
        }
        let inverted = !offset & SWAP_OFFSET_MASK;
        Some(PtEntry(SWAP_MARK | (type_ as u64) << SWAP_TYPE_SHIFT | inverted << SWAP_OFFSET_SHIFT))
    }

    /// Linux `is_swap_pte`: a swap entry.
    pub const fn is_swap(self) -> bool {
        !self.is_present() && self.0 & SWAP_MARK != 0
    }

    /// The (type, offset) of a swap entry (Linux `pte_to_swp_entry`).
    pub const fn swap_entry(self) -> Option<(u8, u64)> {
        if !self.is_swap() {
            return None;
        }
        let type_ = ((self.0 >> SWAP_TYPE_SHIFT) & SWAP_TYPE_MASK) as u8;
        let offset = !(self.0 >> SWAP_OFFSET_SHIFT) & SWAP_OFFSET_MASK;
        Some((type_, offset))
    }

    /// Does this present entry at `level` map a page (rather than point to
    /// the next table)? Linux `pmd_leaf` / `pud_leaf`; every present PTE,
    /// protnone ones included.
    pub const fn is_leaf(self, level: Level) -> bool {
        if !self.is_present() {
            return false;
        }
        match level {
            Level::Pte => true,
            Level::Pmd | Level::Pud => self.0 & PteFlags::HUGE.bits() != 0,
            Level::Pgd => false,
        }
    }

    /// The flag bits (for a PTE, bit 7 is PAT and reads as `HUGE`; use
    /// [`leaf_flags`](Self::leaf_flags) for what a mapping was given).
    pub const fn flags(self) -> PteFlags {
        PteFlags::from_bits_truncate(self.0)
    }

    /// The flags of a leaf as `map`/`protect` take them: without `HUGE`
    /// (the page size says that).
    pub const fn leaf_flags(self) -> PteFlags {
        self.flags().difference(PteFlags::HUGE)
    }

    /// The physical address in the entry: the next table or the mapped frame.
    pub const fn addr(self) -> u64 {
        self.0 & ENTRY_ADDR_MASK
    }

    /// Physical base of the page a leaf at `level` maps.
    pub const fn leaf_frame(self, level: Level) -> u64 {
        self.addr() & !(level.entry_size() - 1)
    }
}
