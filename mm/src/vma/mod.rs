//! Virtual memory areas: the `Vma` record and the per-address-space tree.
//!
//! A [`Vma`] describes one contiguous, page-aligned range `[start, end)` of a
//! user address space with uniform flags (Linux `struct vm_area_struct`).
//! The vmas of one address space live in a [`tree::VmaTree`].
//!
//! Invariants: `start < end`, both page aligned; vmas of one tree never overlap.
//!
//! Locking: the tree of an address space is read under `mmap_lock` held for
//! read and changed only under `mmap_lock` held for write.

pub mod tree;

use bitflags::bitflags;

pub use tree::{FlagChange, VmaTree};

use core::sync::atomic::{AtomicUsize, Ordering};

/// Linux's default `vm.max_map_count`: `USHRT_MAX - MAPCOUNT_ELF_CORE_MARGIN`.
pub const DEFAULT_MAX_MAP_COUNT: usize = 65530;

static MAX_MAP_COUNT: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_MAP_COUNT);

/// The most vmas one address space may have (Linux `sysctl_max_map_count`,
/// `/proc/sys/vm/max_map_count`). One value for every address space.
/// `mmap` and `brk` refuse (`ENOMEM`) once an mm has more than this many;
/// a split (mprotect, mlock, munmap punching a hole) refuses when it would
/// take the count beyond it.
pub fn max_map_count() -> usize {
    MAX_MAP_COUNT.load(Ordering::Relaxed)
}

/// Set `vm.max_map_count`. Address spaces already above it keep their vmas;
/// only calls that would add one are refused.
pub fn set_max_map_count(n: usize) {
    MAX_MAP_COUNT.store(n, Ordering::Relaxed);
}

bitflags! {
    /// Linux `vm_flags` bits that Holdfast uses (same values as Linux).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    pub struct VmFlags: u64 {
        const READ        = 0x0000_0001;
        const WRITE       = 0x0000_0002;
        const EXEC        = 0x0000_0004;
        const SHARED      = 0x0000_0008;
        const MAYREAD     = 0x0000_0010;
        const MAYWRITE    = 0x0000_0020;
        const MAYEXEC     = 0x0000_0040;
        const MAYSHARE    = 0x0000_0080;
        const GROWSDOWN   = 0x0000_0100;
        const PFNMAP      = 0x0000_0400;
        const LOCKONFAULT = 0x0008_0000;
        const LOCKED      = 0x0000_2000;
        const IO          = 0x0000_4000;
        const DONTCOPY    = 0x0002_0000;
        const DONTEXPAND  = 0x0004_0000;
        const ACCOUNT     = 0x0010_0000;
        const MIXEDMAP    = 0x1000_0000;
    }
}

impl VmFlags {
    /// Linux `VM_SPECIAL`: vmas that mlock skips and that never merge.
    pub const SPECIAL: VmFlags = VmFlags::IO.union(VmFlags::DONTEXPAND).union(VmFlags::PFNMAP).union(VmFlags::MIXEDMAP);
    /// Linux `VM_LOCKED_MASK`: the bits mlock and munlock change.
    pub const LOCKED_MASK: VmFlags = VmFlags::LOCKED.union(VmFlags::LOCKONFAULT);
}

/// What backs a vma.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmaKind {
    /// Anonymous memory, zero-filled on first touch.
    Anonymous,
}

/// One virtual memory area: `[start, end)` with uniform flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vma {
    /// First byte of the area (page aligned).
    pub start: u64,
    /// One past the last byte (page aligned, `> start`).
    pub end: u64,
    /// Protection and behaviour flags.
    pub flags: VmFlags,
    /// What backs the area.
    pub kind: VmaKind,
}

impl Vma {
    /// A new anonymous vma. `start` and `end` must be page aligned, `start < end`.
    pub fn new_anonymous(start: u64, end: u64, flags: VmFlags) -> Vma {
        debug_assert!(start < end && crate::addr::page_aligned(start) && crate::addr::page_aligned(end));
        Vma { start, end, flags, kind: VmaKind::Anonymous }
    }

    /// Length in bytes (never 0: a vma is never empty).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.end - self.start
    }

    /// Number of base pages.
    pub fn pages(&self) -> u64 {
        self.len() >> crate::addr::PAGE_SHIFT
    }

    /// Does the vma contain `addr`?
    pub fn contains(&self, addr: u64) -> bool {
        self.start <= addr && addr < self.end
    }

    /// Could `self` (ending where `next` starts) merge with `next`?
    /// Linux `is_mergeable_vma` for anonymous memory: same flags, same kind,
    /// adjacent, and neither is `VM_SPECIAL`.
    pub fn can_merge_with(&self, next: &Vma) -> bool {
        self.end == next.start && self.flags == next.flags && self.kind == next.kind && !self.flags.intersects(VmFlags::SPECIAL)
    }
}
