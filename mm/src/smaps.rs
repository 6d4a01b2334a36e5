//! The page counts behind `/proc/<pid>/smaps` and `smaps_rollup` (Linux
//! `smap_gather_stats`, `smaps_pte_entry`, `smaps_account` and
//! `smaps_page_accumulate` in fs/proc/task_mmu.c).
//!
//! [`MmStruct::smaps`] walks every vma's page table with
//! [`walk_page_range_vma`] and sums, per vma, a [`MemSizeStats`] in bytes,
//! as Linux's `struct mem_size_stats` does:
//!
//! - every present pte (protnone `PROT_NONE` pages included, as Linux
//!   counts them) is resident; `Referenced` if its accessed bit is set,
//!   dirty if its dirty bit is (the CPU sets both);
//! - a page whose reference count is 1 is private and counts whole in
//!   `Pss`; a page shared by `n` mappings (fork's copy-on-write sharing, or
//!   `MAP_SHARED | MAP_ANONYMOUS` memory after fork) is shared and counts
//!   `1/n` in `Pss`, kept in `PSS_SHIFT` fixed point so that sums round
//!   once. Holdfast's reference count is the map count, plus one on a page
//!   of a shmem object (the object's own): every other reference is one
//!   pte (fork's `get_page`, the fault's mapping), nothing pins a page
//!   without mapping it;
//! - `Anonymous` and `Pss_Anon` count the pages of private vmas; pages of
//!   `VM_SHARED` vmas are what Linux calls shmem (`Pss_Shmem`, not
//!   `Anonymous`); nothing is file-backed yet (`Pss_File` 0);
//! - `Locked` is the `Pss` of pages in `VM_LOCKED` vmas (`pss_locked`).
//!
//! The ELF loader copies a program into private anonymous memory (there is
//! no page cache yet), so its segments count as `Anonymous` and dirty
//! where Linux shows file pages, clean until written.
//!
//! `Swap` counts the vma's swapped-out pages: its swap ptes (anonymous
//! pages), and for a vma that maps a shmem object the object's pages in
//! swap that the vma would map (Linux `shmem_swap_usage` for a shared or
//! read-only mapping; in a private writable one, those at addresses with
//! no pte of their own, as `smaps_pte_hole` does). `SwapPss` divides each
//! swap pte's page by the slot's count (the ptes that share it after
//! fork), as `smaps_pte_entry` does; a shmem page in swap adds nothing to
//! it, as in Linux.
//!
//! KSM, lazy-free pages and huge pages do not exist in Holdfast; their
//! counters stay 0. The user fault path never maps a huge leaf, so the walk
//! looks at 4 KiB ptes only.
//!
//! Locking: `smaps` takes `mmap_lock` for read (killable) for the whole
//! walk, as Linux's `smaps_rollup` does, and the inner (page-table) lock one
//! vma at a time. Frame metadata is read with atomics (below both locks in
//! the lock order).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;

use crate::addr::{PAGE_SHIFT, PAGE_SIZE};
use crate::errno::Errno;
use crate::memory::for_each_swap_pte;
use crate::mm_struct::MmStruct;
use crate::page_meta::PageMetaArray;
use crate::pagewalk::{walk_page_range_vma, MmWalk, MmWalkOps, WalkControl};
use crate::pgtable::{Level, PageTable, PhysMem, PtSlot, PteFlags, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::shmem::IndexEntry;
use crate::swap::swap_state::pte_to_swp_entry;
use crate::vma::{VmFlags, Vma};

/// Fixed-point shift of the `pss*` fields (Linux `PSS_SHIFT`).
pub const PSS_SHIFT: u32 = 12;

/// The sums of one vma, or of a whole mm (Linux `struct mem_size_stats`).
/// Plain sizes are bytes; `pss*` are bytes `<< PSS_SHIFT`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemSizeStats {
    pub resident: u64,
    pub shared_clean: u64,
    pub shared_dirty: u64,
    pub private_clean: u64,
    pub private_dirty: u64,
    pub referenced: u64,
    pub anonymous: u64,
    pub pss: u64,
    pub pss_anon: u64,
    pub pss_file: u64,
    pub pss_shmem: u64,
    pub pss_dirty: u64,
    pub pss_locked: u64,
    pub swap: u64,
    pub swap_pss: u64,
}

impl MemSizeStats {
    /// Add `other` (Linux sums the vmas into one `mss` for the rollup).
    pub fn add(&mut self, other: &MemSizeStats) {
        self.resident += other.resident;
        self.shared_clean += other.shared_clean;
        self.shared_dirty += other.shared_dirty;
        self.private_clean += other.private_clean;
        self.private_dirty += other.private_dirty;
        self.referenced += other.referenced;
        self.anonymous += other.anonymous;
        self.pss += other.pss;
        self.pss_anon += other.pss_anon;
        self.pss_file += other.pss_file;
        self.pss_shmem += other.pss_shmem;
        self.pss_dirty += other.pss_dirty;
        self.pss_locked += other.pss_locked;
        self.swap += other.swap;
        self.swap_pss += other.swap_pss;
    }

    /// Linux `smaps_page_accumulate` for one 4 KiB page with `pss`
    /// (`<< PSS_SHIFT`).
    fn accumulate(&mut self, pss: u64, dirty: bool, locked: bool, private: bool, shmem: bool) {
        let size = PAGE_SIZE;
        self.pss += pss;
        if shmem {
            self.pss_shmem += pss;
        } else {
            self.pss_anon += pss;
        }
        if locked {
            self.pss_locked += pss;
        }
        match (dirty, private) {
            (true, true) => self.private_dirty += size,
            (true, false) => self.shared_dirty += size,
            (false, true) => self.private_clean += size,
            (false, false) => self.shared_clean += size,
        }
        if dirty {
            self.pss_dirty += pss;
        }
    }
}

/// One vma as `/proc/<pid>/smaps` shows it: its range, flags, what
/// `/proc/<pid>/maps` shows of its backing and the name it gives it, and
/// its sums.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmapsVma {
    pub start: u64,
    pub end: u64,
    pub flags: VmFlags,
    pub file: MapsFile,
    pub name: Option<Cow<'static, str>>,
    pub stats: MemSizeStats,
}

/// The offset, device and inode columns of a `/proc/<pid>/maps` line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapsFile {
    /// Byte offset of the vma's start in its object.
    pub offset: u64,
    pub major: u32,
    pub minor: u32,
    pub ino: u64,
}

/// Linux's name of a shared anonymous mapping: its shmem file, created
/// unlinked by `shmem_zero_setup` on the internal mount (device 00:01).
pub const SHMEM_ZERO_NAME: &str = "/dev/zero (deleted)";

/// What `/proc/<pid>/maps` shows of `v`'s backing: for a vma mapping an
/// object its page offset, and the object's device, inode and name
/// ([`Shmem::label`](crate::shmem::Shmem::label); an unlabelled one is a
/// shared anonymous mapping's: device 00:01, [`SHMEM_ZERO_NAME`]);
/// nothing for anonymous memory (the caller names heap and stack).
pub fn maps_backing(v: &Vma) -> (MapsFile, Option<Cow<'static, str>>) {
    match v.shmem_index(v.start) {
        Some((obj, pgoff)) => {
            let (name, (major, minor)) = match obj.label() {
                Some((name, dev)) => (Cow::Owned(String::from(&*name)), dev),
                None => (Cow::Borrowed(SHMEM_ZERO_NAME), (0, 1)),
            };
            (MapsFile { offset: pgoff << PAGE_SHIFT, major, minor, ino: obj.ino() }, Some(name))
        }
        None => (MapsFile::default(), None),
    }
}

/// The walk's callbacks (Linux `smaps_walk_ops`).
struct SmapsWalk<'a> {
    meta: &'a PageMetaArray,
    mss: MemSizeStats,
}

impl MmWalkOps for SmapsWalk<'_> {
    const HAS_PTE_ENTRY: bool = true;

    /// Linux `smaps_pte_entry` + `smaps_account` for a present pte.
    fn pte_entry<P: PhysMem>(&mut self, pte: PtSlot, _addr: u64, _next: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
        let vm_flags = walk.vma.map_or(VmFlags::empty(), |v| v.flags);
        let e = walk.get(pte);
        let flags = e.leaf_flags();
        // Linux `vm_normal_page`: a frame without metadata is not a page.
        let Some(folio) = self.meta.get(e.leaf_frame(Level::Pte)) else { return WalkControl::Continue };
        let shmem = vm_flags.contains(VmFlags::SHARED);
        let mss = &mut self.mss;
        if folio.is_anon() && !shmem {
            mss.anonymous += PAGE_SIZE;
        }
        mss.resident += PAGE_SIZE;
        if flags.contains(PteFlags::ACCESSED) {
            mss.referenced += PAGE_SIZE;
        }
        let dirty = flags.contains(PteFlags::DIRTY);
        let locked = vm_flags.contains(VmFlags::LOCKED);
        // Linux's mapcount: the references, less the shmem object's own
        // on each of its pages.
        let object_ref = u32::from(walk.vma.is_some_and(|v| v.shmem().is_some()));
        let mapcount = u64::from(folio.page_ref_count().saturating_sub(object_ref).max(1));
        let pss = (PAGE_SIZE << PSS_SHIFT) / mapcount;
        mss.accumulate(pss, dirty, locked, mapcount == 1, shmem);
        WalkControl::Continue
    }
}

/// Add `v`'s pages in swap to `mss` (see the module doc).
///
/// Locking: the inner lock held (`pt`); takes `v`'s object's lock.
fn smaps_swap<P: PhysMem>(meta: &PageMetaArray, pt: &mut PageTable<P>, v: &Vma, mss: &mut MemSizeStats) {
    if meta.swap().may_have_entries() {
        for_each_swap_pte(pt, v.start, v.end, |_, _, e| {
            let Some(entry) = pte_to_swp_entry(e) else { return };
            mss.swap += PAGE_SIZE;
            let count = u64::from(meta.swap().swap_count(entry).max(1));
            mss.swap_pss += (PAGE_SIZE << PSS_SHIFT) / count;
        });
    }
    let Some((obj, first)) = v.shmem_index(v.start) else { return };
    if obj.nr_swapped() == 0 {
        return;
    }
    if v.flags.contains(VmFlags::SHARED) || !v.flags.contains(VmFlags::WRITE) {
        mss.swap += obj.nr_swapped_in(first, first + v.pages()) as u64 * PAGE_SIZE;
        return;
    }
    for i in 0..v.pages() {
        let va = v.start + (i << PAGE_SHIFT);
        let hole = pt.translate(va).is_none() && pt.swap_entry_at(va).is_none();
        if hole && matches!(obj.lookup(first + i), IndexEntry::Swapped(_)) {
            mss.swap += PAGE_SIZE;
        }
    }
}

/// The name `/proc/<pid>/maps` gives the vma `[start, end)`: `[heap]` if it
/// overlaps `[start_brk, brk]` (with a heap set up), `[stack]` if it holds
/// the initial stack pointer `start_stack`.
pub fn maps_vma_name(start: u64, end: u64, (start_brk, brk): (u64, u64), start_stack: Option<u64>) -> Option<&'static str> {
    if start_brk != 0 && start <= brk && end >= start_brk {
        Some("[heap]")
    } else if start_stack.is_some_and(|sp| start <= sp && end >= sp) {
        Some("[stack]")
    } else {
        None
    }
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Every vma in address order with its [`MemSizeStats`] (Linux
    /// `show_smap` for each vma, `smap_gather_stats`); `start_stack` names
    /// the `[stack]` vma as in [`proc_maps`](Self::proc_maps).
    ///
    /// Errors: `EINTR` if a fatal signal arrives while waiting for the
    /// `mmap_lock`; `ENOMEM` if the list cannot be allocated.
    ///
    /// Locking: takes `mmap_lock` for read, and the inner lock per vma.
    pub fn smaps(&self, start_stack: Option<u64>) -> Result<Vec<SmapsVma>, Errno> {
        let _r = self.mmap_lock.read_killable()?;
        let (brk_range, vmas) = {
            let g = self.lock_inner();
            let mut vmas = Vec::new();
            vmas.try_reserve_exact(g.vmas.len()).map_err(|_| Errno::ENOMEM)?;
            vmas.extend(g.vmas.iter().cloned());
            ((g.start_brk, g.brk), vmas)
        };
        let mut out = Vec::new();
        out.try_reserve_exact(vmas.len()).map_err(|_| Errno::ENOMEM)?;
        for v in &vmas {
            let mut ops = SmapsWalk { meta: self.page_meta(), mss: MemSizeStats::default() };
            {
                let mut g = self.lock_inner();
                if let Some(pt) = g.pgtable.as_mut() {
                    let _ = walk_page_range_vma(pt, v, v.start, v.end, &mut ops);
                    smaps_swap(self.page_meta(), pt, v, &mut ops.mss);
                }
            }
            let (file, object) = maps_backing(v);
            out.push(SmapsVma {
                start: v.start,
                end: v.end,
                flags: v.flags,
                file,
                name: object.or_else(|| maps_vma_name(v.start, v.end, brk_range, start_stack).map(Cow::Borrowed)),
                stats: ops.mss,
            });
        }
        Ok(out)
    }
}
