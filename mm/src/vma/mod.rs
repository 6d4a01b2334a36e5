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

use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::shmem::Shmem;

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
#[derive(Clone, Debug)]
pub enum VmaKind {
    /// Anonymous memory, zero-filled on first touch.
    Anonymous,
    /// A shmem object (a shared anonymous mapping, see [`crate::shmem`]):
    /// the vma's first page is page `pgoff` of `obj` (Linux `vm_file` and
    /// `vm_pgoff`).
    Shmem { obj: Arc<Shmem>, pgoff: u64 },
}

impl PartialEq for VmaKind {
    /// The same backing at the same offset (objects compare by identity).
    fn eq(&self, other: &VmaKind) -> bool {
        match (self, other) {
            (VmaKind::Anonymous, VmaKind::Anonymous) => true,
            (VmaKind::Shmem { obj: a, pgoff: pa }, VmaKind::Shmem { obj: b, pgoff: pb }) => Arc::ptr_eq(a, b) && pa == pb,
            _ => false,
        }
    }
}

impl Eq for VmaKind {}

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
    /// Linux `vm_pgoff` of an anonymous vma: the linear index, in its
    /// address space's anon_vma ([`crate::rmap`]), of the vma's first
    /// page. A new vma gets `start >> PAGE_SHIFT`; a piece of a split, an
    /// extension and a vma moved by mremap keep the indices their pages
    /// had, so a page's index (recorded when it was faulted) and this give
    /// its address in every vma that may map it. Kept (and followed) for
    /// shmem vmas too, where the object offset is in `kind`.
    pub anon_pgoff: u64,
}

impl Vma {
    /// A new anonymous vma. `start` and `end` must be page aligned, `start < end`.
    pub fn new_anonymous(start: u64, end: u64, flags: VmFlags) -> Vma {
        debug_assert!(start < end && crate::addr::page_aligned(start) && crate::addr::page_aligned(end));
        Vma { start, end, flags, kind: VmaKind::Anonymous, anon_pgoff: start >> crate::addr::PAGE_SHIFT }
    }

    /// A new vma mapping `obj` from its first page. `start` and `end` must
    /// be page aligned, `start < end`.
    pub fn new_shmem(start: u64, end: u64, flags: VmFlags, obj: Arc<Shmem>) -> Vma {
        debug_assert!(start < end && crate::addr::page_aligned(start) && crate::addr::page_aligned(end));
        Vma { start, end, flags, kind: VmaKind::Shmem { obj, pgoff: 0 }, anon_pgoff: start >> crate::addr::PAGE_SHIFT }
    }

    /// A new vma mapping `obj` from page `pgoff` on. `start` and `end`
    /// must be page aligned, `start < end`.
    pub fn new_object(start: u64, end: u64, flags: VmFlags, obj: Arc<Shmem>, pgoff: u64) -> Vma {
        debug_assert!(start < end && crate::addr::page_aligned(start) && crate::addr::page_aligned(end));
        Vma { start, end, flags, kind: VmaKind::Shmem { obj, pgoff }, anon_pgoff: start >> crate::addr::PAGE_SHIFT }
    }

    /// The shmem object the vma maps, if any.
    pub fn shmem(&self) -> Option<&Arc<Shmem>> {
        match &self.kind {
            VmaKind::Shmem { obj, .. } => Some(obj),
            VmaKind::Anonymous => None,
        }
    }

    /// The object and page offset in it of the page at `addr` (which may
    /// lie beyond the vma: where an extension of it would map), for a
    /// shmem vma.
    pub fn shmem_index(&self, addr: u64) -> Option<(&Arc<Shmem>, u64)> {
        match &self.kind {
            VmaKind::Shmem { obj, pgoff } => {
                let delta = (addr as i64 - self.start as i64) >> crate::addr::PAGE_SHIFT;
                Some((obj, pgoff.wrapping_add(delta as u64)))
            }
            VmaKind::Anonymous => None,
        }
    }

    /// The same backing as `self` for `[start, end)`, at the offsets
    /// `self` gives those addresses (a piece of `self` after a split, or
    /// its extension): `vm_pgoff` follows the start.
    pub fn slice(&self, start: u64, end: u64, flags: VmFlags) -> Vma {
        let kind = match self.shmem_index(start) {
            Some((obj, pgoff)) => VmaKind::Shmem { obj: obj.clone(), pgoff },
            None => VmaKind::Anonymous,
        };
        Vma { start, end, flags, kind, anon_pgoff: self.linear_page_index(start) }
    }

    /// Linux `linear_page_index` for anonymous memory: the linear index of
    /// the page at `addr` (which may lie beyond the vma: where an extension
    /// of it would map).
    pub fn linear_page_index(&self, addr: u64) -> u64 {
        let delta = (addr as i64 - self.start as i64) >> crate::addr::PAGE_SHIFT;
        self.anon_pgoff.wrapping_add(delta as u64)
    }

    /// The address at which this vma maps linear index `index`, if it
    /// covers it (Linux `vma_address`).
    pub fn address_of_index(&self, index: u64) -> Option<u64> {
        let off = index.checked_sub(self.anon_pgoff)?;
        (off < self.pages()).then(|| self.start + (off << crate::addr::PAGE_SHIFT))
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
    /// Linux `is_mergeable_vma`: same flags, adjacent, neither is
    /// `VM_SPECIAL`, and the same backing: both anonymous, or the same
    /// shmem object with `next` continuing `self`'s offsets, and `next`
    /// continuing `self`'s linear indices (Linux's anon `vm_pgoff` rule),
    /// and no owner's hooks on it (Linux does not merge away a vma whose
    /// `vm_ops` have `close`: a SysV segment's vmas never merge).
    pub fn can_merge_with(&self, next: &Vma) -> bool {
        let cont = self.slice(next.start, next.end, next.flags);
        self.end == next.start
            && self.flags == next.flags
            && cont.kind == next.kind
            && cont.anon_pgoff == next.anon_pgoff
            && !self.flags.intersects(VmFlags::SPECIAL)
            && !self.shmem().is_some_and(|obj| obj.has_vm_ops())
    }
}
