//! The mlock family in its Linux 5.18+ shape (`mm/mlock.c`): `do_mlock`
//! (mlock, mlock2), `do_munlock`, `do_mlockall`, `do_munlockall`.
//!
//! ```text
//! do_mlock: EINVAL (mlock2 flags) -> EPERM (!can_do_mlock, even for len 0)
//!   -> round [start & PAGE_MASK, PAGE_ALIGN(start + len)) -> EINTR (killable
//!   write lock) -> ENOMEM over RLIMIT_MEMLOCK (already-locked pages in the
//!   range not counted again) -> apply_vma_lock_flags (EINVAL wrap, ENOMEM
//!   hole: the vmas before it stay locked) -> population per strategy
//!   -> EFAULT becomes ENOMEM, ENOMEM becomes EAGAIN
//! ```
//!
//! `mlock_fixup` skips `VM_SPECIAL` vmas (success, no flag, no count),
//! splits/merges through [`VmaTree::vma_modify_flags`](crate::vma::VmaTree::vma_modify_flags),
//! adjusts `locked_vm`, changes only flags for locked -> locked (mlocking
//! twice would count pages twice), and otherwise runs
//! `mlock_vma_pages_range`: set the `VM_IO` guard, walk the range with
//! `walk_page_range_vma` and the `mlock_pte_range` pmd callback, which
//! mlocks (`mlock_folio`) or munlocks (`munlock_folio`) each *present* page
//! according to the vma's `VM_LOCKED`, clear `VM_IO`. munlock never faults
//! anything in: an untouched range costs a walk over empty tables.
//!
//! Under the `downgrade-retake` strategy mlock and mlockall hand their vma
//! changes to the 2008 per-vma loop instead, kept broken on purpose in
//! [`crate::mlock_downgrade_retake`].
//!
//! Locking: every entry point takes `mmap_lock` for write (killable,
//! `EINTR`); the page work happens under the inner lock, which
//! `mlock_vma_pages_range` releases between two page tables (Linux takes
//! the pte lock per page table): an rmap walk ([`crate::rmap`]), which
//! takes no `mmap_lock`, may run in that window and meet the vma with its
//! `VM_IO` guard set. (The `downgrade-retake` loop keeps the inner lock
//! across its vma change.)

use crate::addr::{offset_in_page, page_align_down, page_align_wrapping, PAGE_SIZE, TASK_SIZE};
use crate::errno::Errno;
use crate::gup::OnError;
use crate::mlock_downgrade_retake::RetakeFixup;
use crate::mm_struct::{InnerGuard, MlockCreds, MmInner, MmStruct, MmapWriteLocked};
use crate::page_meta::PageMetaArray;
use crate::pagewalk::{walk_page_range_vma, MmWalk, MmWalkOps, WalkAction, WalkControl};
use crate::pgtable::{Level, PhysMem, PtSlot, TlbFlush};
use crate::populate::PopulateStrategy;
use crate::rwsem::RwSemBackend;
use crate::vma::VmFlags;

/// `mlock2` flag: lock pages as they are faulted in, do not populate.
pub const MLOCK_ONFAULT: u32 = 0x01;
/// `mlockall`: lock what is mapped now.
pub const MCL_CURRENT: u32 = 1;
/// `mlockall`: lock what will be mapped.
pub const MCL_FUTURE: u32 = 2;
/// `mlockall`: with the above, lock on fault.
pub const MCL_ONFAULT: u32 = 4;

/// Linux `can_do_mlock`: a non-zero `RLIMIT_MEMLOCK` or `CAP_IPC_LOCK`.
pub fn can_do_mlock(creds: &MlockCreds) -> bool {
    creds.memlock_limit != 0 || creds.cap_ipc_lock
}

/// Linux `__mlock_posix_error_return`: population errors as POSIX wants
/// them from mlock.
pub fn mlock_posix_error(e: Errno) -> Errno {
    match e {
        Errno::EFAULT => Errno::ENOMEM,
        Errno::ENOMEM => Errno::EAGAIN,
        e => e,
    }
}

/// The `mlock_pte_range` walk: a `pmd_entry` that (m|mun)locks every
/// present page under the pmd, according to the walked vma's `VM_LOCKED`,
/// then stops the walk (`resume` says where to go on), so that
/// `mlock_vma_pages_range` can release the page-table lock between two
/// page tables, as Linux takes the pte lock per page table.
struct MlockWalk<'m> {
    meta: &'m PageMetaArray,
    resume: Option<u64>,
}

impl MlockWalk<'_> {
    fn apply(&self, pa: u64, lock: bool) {
        if let Some(folio) = self.meta.get(pa) {
            if lock {
                self.meta.mlock_folio(folio);
            } else {
                self.meta.munlock_folio(folio);
            }
        }
    }
}

/// The `Stop` code of a walk that did one page table.
const ONE_TABLE: core::num::NonZeroI32 = match core::num::NonZeroI32::new(1) {
    Some(n) => n,
    None => unreachable!(),
};

impl MmWalkOps for MlockWalk<'_> {
    const HAS_PMD_ENTRY: bool = true;

    /// Linux `mlock_pte_range`.
    fn pmd_entry<P: PhysMem>(&mut self, pmd: PtSlot, addr: u64, next: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
        let lock = walk.vma.is_some_and(|v| v.flags.contains(VmFlags::LOCKED));
        let e = walk.get(pmd);
        walk.action = WalkAction::Continue;
        if e.is_leaf(Level::Pmd) {
            // A huge page (never made by this crate's fault path).
            self.apply(e.leaf_frame(Level::Pmd), lock);
            self.resume = Some(next);
            return WalkControl::Stop(ONE_TABLE);
        }
        // Linux answers a failed pte map with ACTION_AGAIN (a racing THP
        // collapse); nothing can race with us here, so never loop.
        let Some(ptes) = walk.pte_range(pmd, addr, next) else { return WalkControl::Continue };
        for (_, slot) in ptes {
            let pte = walk.get(slot);
            if pte.is_present() {
                self.apply(pte.leaf_frame(Level::Pte), lock);
            }
        }
        self.resume = Some(next);
        WalkControl::Stop(ONE_TABLE)
    }
}

/// How `mlock_vma_pages_range` holds the page-table lock (the inner
/// lock): released between two page tables ([`PteLockWindows`], what the
/// mlock family uses), or held throughout (a bare `MmInner`, for the
/// `downgrade-retake` loop, which holds the lock itself).
pub(crate) trait PteLock<P: PhysMem, T: TlbFlush> {
    /// The state behind the held inner lock.
    fn inner(&mut self) -> &mut MmInner<P, T>;
    /// Let others take the inner lock: release it, then take it again;
    /// `next` is where the caller will go on.
    fn window(&mut self, next: u64);
    /// Whether to set the `VM_IO` guard (always, but in tests that turn it
    /// off).
    fn vm_io_guard(&self) -> bool;
}

impl<P: PhysMem, T: TlbFlush> PteLock<P, T> for MmInner<P, T> {
    fn inner(&mut self) -> &mut MmInner<P, T> {
        self
    }

    fn window(&mut self, _next: u64) {}

    fn vm_io_guard(&self) -> bool {
        true
    }
}

/// The inner lock of `mm`, released in every window (the mlock test hook
/// runs there, see [`MmStruct::set_mlock_hook`]).
pub(crate) struct PteLockWindows<'a, P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> {
    mm: &'a MmStruct<P, B, T>,
    guard: Option<InnerGuard<'a, P, B, T>>,
}

impl<'a, P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> PteLockWindows<'a, P, B, T> {
    /// Take `mm`'s inner lock.
    /// Locking: `mmap_lock` held; not the inner lock.
    pub(crate) fn lock(mm: &'a MmStruct<P, B, T>) -> Self {
        PteLockWindows { mm, guard: Some(mm.lock_inner()) }
    }
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> PteLock<P, T> for PteLockWindows<'_, P, B, T> {
    fn inner(&mut self) -> &mut MmInner<P, T> {
        if self.guard.is_none() {
            self.guard = Some(self.mm.lock_inner());
        }
        match self.guard.as_mut() {
            Some(g) => g,
            None => unreachable!("the inner lock was just taken"),
        }
    }

    fn window(&mut self, next: u64) {
        self.guard = None;
        self.mm.run_mlock_hook(next);
        self.guard = Some(self.mm.lock_inner());
    }

    fn vm_io_guard(&self) -> bool {
        self.mm.vm_io_guard()
    }
}

/// Linux `mlock_vma_pages_range`: `[start, end)` lies in one vma whose
/// flags were just changed; (m|mun)lock its present pages, one page table
/// at a time with the page-table lock released between two (`mmap_lock`
/// stays held for write: the vma cannot change), with the `VM_IO` guard
/// set while locking. In a window an rmap walk can find a page of the
/// range that the walk has not reached yet; it must not count the vma's
/// mlock too (Linux's comment: "There is a slight chance that concurrent
/// page migration, or page reclaim finding a page of this now-VM_LOCKED
/// vma, will call mlock_vma_folio() and raise page's mlock_count: double
/// counting, leaving the page unevictable indefinitely. Communicate this
/// danger to mlock_vma_folio() with VM_IO, which is a VM_SPECIAL flag not
/// allowed on VM_LOCKED vmas.")
///
/// Locking: `mmap_lock` held for write, inner lock held by `ptl` (released
/// and retaken between page tables).
fn mlock_vma_pages_range<P: PhysMem, T: TlbFlush>(
    _locked: &MmapWriteLocked<'_>,
    ptl: &mut dyn PteLock<P, T>,
    meta: &PageMetaArray,
    start: u64,
    end: u64,
) {
    let guard = ptl.vm_io_guard();
    let inner = ptl.inner();
    let Some(vma) = inner.vmas.vma_lookup(start).cloned() else { return };
    if vma.end < end {
        return;
    }
    let guarded = guard && vma.flags.contains(VmFlags::LOCKED);
    let mut walked = vma.clone();
    if guarded {
        walked.flags |= VmFlags::IO;
        if let Some(f) = inner.vmas.get_mut_flags(vma.start) {
            *f |= VmFlags::IO;
        }
    }
    let mut addr = start;
    loop {
        let mut walk = MlockWalk { meta, resume: None };
        if let Some(pt) = ptl.inner().pgtable.as_mut() {
            walk_page_range_vma(pt, &walked, addr, end, &mut walk);
        }
        match walk.resume {
            Some(next) if next < end => {
                ptl.window(next);
                addr = next;
            }
            _ => break,
        }
    }
    if guarded {
        if let Some(f) = ptl.inner().vmas.get_mut_flags(vma.start) {
            *f -= VmFlags::IO;
        }
    }
}

/// The flags `mlock_fixup` gives a vma that has `old`: `(old &
/// !VM_LOCKED_MASK) | to_add`, except for a `VM_SPECIAL` vma, which keeps
/// its flags.
fn mlock_new_flags(old: VmFlags, to_add: VmFlags) -> VmFlags {
    if old.intersects(VmFlags::SPECIAL) {
        old
    } else {
        (old - VmFlags::LOCKED_MASK) | to_add
    }
}

/// `mlock_fixup` over the fully mapped range `[start, end)`: every vma
/// piece gets `(flags & !VM_LOCKED_MASK) | to_add`, except `VM_SPECIAL`
/// vmas, which are left alone.
///
/// Locking: `mmap_lock` held for write, inner lock held.
fn mlock_fixup_range<P: PhysMem, T: TlbFlush>(
    locked: &MmapWriteLocked<'_>,
    ptl: &mut dyn PteLock<P, T>,
    meta: &PageMetaArray,
    start: u64,
    end: u64,
    to_add: VmFlags,
) -> Result<(), Errno> {
    let changes = ptl.inner().vmas.vma_modify_flags(start, end, |old| mlock_new_flags(old, to_add))?;
    for c in changes {
        let was = c.old.contains(VmFlags::LOCKED);
        let is = c.new.contains(VmFlags::LOCKED);
        let inner = ptl.inner();
        match (was, is) {
            (false, true) => inner.locked_vm += c.pages(),
            (true, false) => inner.locked_vm = inner.locked_vm.saturating_sub(c.pages()),
            _ => {}
        }
        if was != is {
            mlock_vma_pages_range(locked, ptl, meta, c.start, c.end);
        }
    }
    Ok(())
}

/// Linux `apply_vma_lock_flags`: `EINVAL` if the range wraps, nothing for an
/// empty range, `ENOMEM` if `start` is unmapped or the range has a hole (the
/// vmas before the hole are changed).
///
/// Locking: `mmap_lock` held for write, inner lock held.
fn apply_vma_lock_flags<P: PhysMem, T: TlbFlush>(
    locked: &MmapWriteLocked<'_>,
    ptl: &mut dyn PteLock<P, T>,
    meta: &PageMetaArray,
    start: u64,
    len: u64,
    to_add: VmFlags,
) -> Result<(), Errno> {
    let end = start.wrapping_add(len);
    if end < start {
        return Err(Errno::EINVAL);
    }
    if end == start {
        return Ok(());
    }
    let inner = ptl.inner();
    if inner.vmas.vma_lookup(start).is_none() {
        return Err(Errno::ENOMEM);
    }
    let run_end = inner.vmas.mapped_run_end(start, end);
    mlock_fixup_range(locked, ptl, meta, start, run_end, to_add)?;
    if run_end < end {
        return Err(Errno::ENOMEM);
    }
    Ok(())
}

/// Linux `apply_mlockall_flags`: set `def_flags` from `MCL_FUTURE`; with
/// `MCL_CURRENT` lock (else, without `MCL_FUTURE`, unlock) every vma,
/// ignoring per-vma errors. Returns the flags added to current vmas, or
/// `None` when current vmas were left alone (`MCL_FUTURE` alone).
///
/// Locking: `mmap_lock` held for write, inner lock held.
fn apply_mlockall_flags<P: PhysMem, T: TlbFlush>(
    locked: &MmapWriteLocked<'_>,
    ptl: &mut dyn PteLock<P, T>,
    meta: &PageMetaArray,
    flags: u32,
) -> Option<VmFlags> {
    let to_add = mlockall_def_flags(locked, ptl.inner(), flags)?;
    let mut cursor = 0;
    while let Some(v) = ptl.inner().vmas.find_vma(cursor).cloned() {
        let s = v.start.max(cursor);
        let _ = mlock_fixup_range(locked, ptl, meta, s, v.end, to_add);
        cursor = v.end;
    }
    Some(to_add)
}

/// The `def_flags` half of `apply_mlockall_flags`; returns the flags for
/// current vmas, `None` if they are not to be touched.
///
/// Locking: `mmap_lock` held for write, inner lock held.
fn mlockall_def_flags<P: PhysMem, T: TlbFlush>(_locked: &MmapWriteLocked<'_>, inner: &mut MmInner<P, T>, flags: u32) -> Option<VmFlags> {
    inner.def_flags -= VmFlags::LOCKED_MASK;
    if flags & MCL_FUTURE != 0 {
        inner.def_flags |= VmFlags::LOCKED;
        if flags & MCL_ONFAULT != 0 {
            inner.def_flags |= VmFlags::LOCKONFAULT;
        }
        if flags & MCL_CURRENT == 0 {
            return None;
        }
    }
    let mut to_add = VmFlags::empty();
    if flags & MCL_CURRENT != 0 {
        to_add |= VmFlags::LOCKED;
        if flags & MCL_ONFAULT != 0 {
            to_add |= VmFlags::LOCKONFAULT;
        }
    }
    Some(to_add)
}

/// Linux `count_mm_mlocked_page_nr`: pages of `VM_LOCKED` vmas inside
/// `[start, start + len)`.
fn count_mm_mlocked_page_nr<P: PhysMem, T: TlbFlush>(inner: &MmInner<P, T>, start: u64, len: u64) -> u64 {
    let end = start.saturating_add(len);
    inner
        .vmas
        .range(start, end)
        .filter(|v| v.flags.contains(VmFlags::LOCKED))
        .map(|v| (v.end.min(end) - v.start.max(start)) / PAGE_SIZE)
        .sum()
}

/// `len = PAGE_ALIGN(len + offset_in_page(start)); start &= PAGE_MASK`,
/// with C's wrap-around.
fn round_range(start: u64, len: u64) -> (u64, u64) {
    let len = page_align_wrapping(len.wrapping_add(offset_in_page(start)));
    (page_align_down(start), len)
}

/// mlock's vma change for the `downgrade-retake` loop: `mlock_fixup` adding
/// `to_add`, errors as POSIX wants them from mlock.
struct MlockFixup {
    to_add: VmFlags,
}

impl<P: PhysMem, T: TlbFlush> RetakeFixup<P, T> for MlockFixup {
    fn fixup(
        &self,
        locked: &MmapWriteLocked<'_>,
        inner: &mut MmInner<P, T>,
        meta: &PageMetaArray,
        start: u64,
        end: u64,
    ) -> Result<(), Errno> {
        mlock_fixup_range(locked, inner, meta, start, end, self.to_add)
    }

    fn new_flags(&self, old: VmFlags) -> VmFlags {
        mlock_new_flags(old, self.to_add)
    }

    fn population_error(&self, e: Errno) -> Errno {
        mlock_posix_error(e)
    }
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `mlock2(start, len, flags)`; `mlock` is `flags == 0`.
    ///
    /// Errors: `EINVAL` flags other than `MLOCK_ONFAULT`; `EPERM`
    /// `!can_do_mlock` (even for len 0); `EINTR`; `ENOMEM` over
    /// `RLIMIT_MEMLOCK` without `CAP_IPC_LOCK` (pages already locked in the
    /// range do not count twice); `EINVAL` the rounded range wraps; `ENOMEM`
    /// unmapped start or a hole (earlier vmas stay locked, unpopulated);
    /// population: `ENOMEM` for `EFAULT` (PROT_NONE: the vma stays locked
    /// and counted), `EAGAIN` out of memory, `EINTR` fatal signal,
    /// `EAGAIN` (`downgrade-retake` only) vma gone in the window.
    ///
    /// `MLOCK_ONFAULT`: `VM_LOCKED | VM_LOCKONFAULT`, counted, not populated;
    /// mlock without it on such a range clears `VM_LOCKONFAULT` and
    /// populates, counting nothing twice. Special vmas: success, not locked.
    ///
    /// Locking: takes `mmap_lock` for write; population per strategy.
    pub fn do_mlock(&self, start: u64, len: u64, flags: u32, creds: &MlockCreds) -> Result<(), Errno> {
        if flags & !MLOCK_ONFAULT != 0 {
            return Err(Errno::EINVAL);
        }
        let mut to_add = VmFlags::LOCKED;
        if flags & MLOCK_ONFAULT != 0 {
            to_add |= VmFlags::LOCKONFAULT;
        }
        if !can_do_mlock(creds) {
            return Err(Errno::EPERM);
        }
        let (start, len) = round_range(start, len);
        let lock_limit = creds.limit_pages();
        let write = self.mmap_lock.write_killable()?;
        let meta = self.page_meta_arc().clone();
        let strategy = self.populate_strategy();
        {
            let held = self.mmap_write_locked(&write);
            let mut ptl = PteLockWindows::lock(self);
            let inner = ptl.inner();
            let mut locked = (len / PAGE_SIZE).saturating_add(inner.locked_vm);
            if locked > lock_limit && !creds.cap_ipc_lock {
                locked = locked.saturating_sub(count_mm_mlocked_page_nr(inner, start, len));
            }
            if locked > lock_limit && !creds.cap_ipc_lock {
                return Err(Errno::ENOMEM);
            }
            if strategy != PopulateStrategy::DowngradeRetake {
                apply_vma_lock_flags(&held, &mut ptl, &meta, start, len, to_add)?;
            } else if start.wrapping_add(len) < start {
                return Err(Errno::EINVAL);
            }
        }
        if strategy == PopulateStrategy::DowngradeRetake {
            return self.mlock_downgrade_retake(write, start, start + len, OnError::Stop, &MlockFixup { to_add });
        }
        self.populate_after_write(write, start, len, OnError::Stop).map_err(mlock_posix_error)
    }

    /// Linux `munlock`: same rounding; no permission or limit checks.
    /// Errors: `EINVAL` wrap, `ENOMEM` unmapped start or hole (earlier vmas
    /// are unlocked), `EINTR`. Clears `VM_LOCKED` and `VM_LOCKONFAULT`,
    /// munlocks present pages, never faults anything in.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn do_munlock(&self, start: u64, len: u64) -> Result<(), Errno> {
        let (start, len) = round_range(start, len);
        let write = self.mmap_lock.write_killable()?;
        let locked = self.mmap_write_locked(&write);
        let meta = self.page_meta_arc().clone();
        let mut ptl = PteLockWindows::lock(self);
        apply_vma_lock_flags(&locked, &mut ptl, &meta, start, len, VmFlags::empty())
    }

    /// Linux `mlockall`. Errors: `EINVAL` flags 0, unknown bits, or
    /// `MCL_ONFAULT` alone; `EPERM` `!can_do_mlock`; `EINTR`; `ENOMEM` with
    /// `MCL_CURRENT` when `total_vm` exceeds the limit without
    /// `CAP_IPC_LOCK`. Per-vma and population errors are ignored. A call
    /// without `MCL_FUTURE` clears the future flags.
    ///
    /// Locking: takes `mmap_lock` for write; population per strategy.
    pub fn do_mlockall(&self, flags: u32, creds: &MlockCreds) -> Result<(), Errno> {
        if flags == 0 || flags & !(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0 || flags == MCL_ONFAULT {
            return Err(Errno::EINVAL);
        }
        if !can_do_mlock(creds) {
            return Err(Errno::EPERM);
        }
        let lock_limit = creds.limit_pages();
        let write = self.mmap_lock.write_killable()?;
        let meta = self.page_meta_arc().clone();
        let strategy = self.populate_strategy();
        let to_add;
        {
            let locked = self.mmap_write_locked(&write);
            let mut ptl = PteLockWindows::lock(self);
            let inner = ptl.inner();
            if flags & MCL_CURRENT != 0 && inner.total_vm > lock_limit && !creds.cap_ipc_lock {
                return Err(Errno::ENOMEM);
            }
            to_add = if strategy == PopulateStrategy::DowngradeRetake {
                mlockall_def_flags(&locked, inner, flags)
            } else {
                apply_mlockall_flags(&locked, &mut ptl, &meta, flags)
            };
        }
        let Some(to_add) = to_add else { return Ok(()) };
        if flags & MCL_CURRENT == 0 {
            return Ok(());
        }
        if strategy == PopulateStrategy::DowngradeRetake {
            let _ = self.mlock_downgrade_retake(write, 0, TASK_SIZE, OnError::Skip, &MlockFixup { to_add });
        } else {
            let _ = self.populate_after_write(write, 0, TASK_SIZE, OnError::Skip);
        }
        Ok(())
    }

    /// Linux `munlockall`: clear `def_flags`' lock bits and unlock every
    /// vma. Errors: `EINTR`.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn do_munlockall(&self) -> Result<(), Errno> {
        let write = self.mmap_lock.write_killable()?;
        let locked = self.mmap_write_locked(&write);
        let meta = self.page_meta_arc().clone();
        let mut ptl = PteLockWindows::lock(self);
        apply_mlockall_flags(&locked, &mut ptl, &meta, 0);
        Ok(())
    }
}
