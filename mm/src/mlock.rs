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
//! # `downgrade-retake` (kept broken on purpose)
//!
//! Under [`PopulateStrategy::DowngradeRetake`] mlock/mlockall run
//! Schermerhorn's 2008 loop: per vma, fix it up under the write lock,
//! downgrade, populate it under read, **drop the lock**, retake it for
//! write, re-check only that *a* vma still covers the piece (`EAGAIN` if
//! not), and carry on with what it knew before the window: it writes the
//! flags it computed for the old vma back onto whatever vma covers the
//! piece now. In Linux the stale knowledge was a `vma` pointer and a `prev`
//! chain; here it is the snapshot, with the same effect Linus described: if
//! another thread replaced the vma in the window, the re-check passes and
//! the replacement silently becomes `VM_LOCKED` without its pages being
//! mlocked or counted in `locked_vm` (or loses a protection change made in
//! the window). [`check_mm_invariants`](crate::invariants::check_mm_invariants)
//! detects it; the other strategies never look at stale state.
//!
//! Locking: every entry point takes `mmap_lock` for write (killable,
//! `EINTR`); the page work happens under the inner lock.

use crate::addr::{offset_in_page, page_align_down, page_align_wrapping, PAGE_SIZE, TASK_SIZE};
use crate::errno::Errno;
use crate::mm_struct::{MlockCreds, MmInner, MmStruct};
use crate::page_meta::PageMetaArray;
use crate::pagewalk::{walk_page_range_vma, MmWalk, MmWalkOps, WalkAction, WalkControl};
use crate::pgtable::{Level, PhysMem, PtSlot, TlbFlush};
use crate::populate::{PopulateLock, PopulateProgress, PopulateStrategy};
use crate::rwsem::{RwSemBackend, RwSemWriteGuard};
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
/// present page under the pmd, according to the walked vma's `VM_LOCKED`.
struct MlockWalk<'m> {
    meta: &'m PageMetaArray,
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

impl MmWalkOps for MlockWalk<'_> {
    const HAS_PMD_ENTRY: bool = true;

    /// Linux `mlock_pte_range`.
    fn pmd_entry<P: PhysMem>(&mut self, pmd: PtSlot, addr: u64, next: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
        let lock = walk.vma.is_some_and(|v| v.flags.contains(VmFlags::LOCKED));
        let e = walk.get(pmd);
        if e.is_leaf(Level::Pmd) {
            // A huge page (never made by this crate's fault path).
            self.apply(e.leaf_frame(Level::Pmd), lock);
            walk.action = WalkAction::Continue;
            return WalkControl::Continue;
        }
        if let Some(ptes) = walk.pte_range(pmd, addr, next) {
            for (_, slot) in ptes {
                let pte = walk.get(slot);
                if pte.is_present() {
                    self.apply(pte.leaf_frame(Level::Pte), lock);
                }
            }
        }
        // Linux answers a failed pte map with ACTION_AGAIN (a racing THP
        // collapse); nothing can race with us here, so never loop.
        walk.action = WalkAction::Continue;
        WalkControl::Continue
    }
}

/// Linux `mlock_vma_pages_range`: `[start, end)` lies in one vma whose
/// flags were just changed; (m|mun)lock its present pages, with the
/// `VM_IO` guard set while locking.
///
/// Locking: `mmap_lock` held for write, inner lock held.
fn mlock_vma_pages_range<P: PhysMem, T: TlbFlush>(inner: &mut MmInner<P, T>, meta: &PageMetaArray, start: u64, end: u64) {
    let Some(vma) = inner.vmas.vma_lookup(start).cloned() else { return };
    if vma.end < end {
        return;
    }
    let locking = vma.flags.contains(VmFlags::LOCKED);
    let mut walked = vma.clone();
    if locking {
        walked.flags |= VmFlags::IO;
        if let Some(f) = inner.vmas.get_mut_flags(vma.start) {
            *f |= VmFlags::IO;
        }
    }
    if let Some(pt) = inner.pgtable.as_mut() {
        walk_page_range_vma(pt, &walked, start, end, &mut MlockWalk { meta });
    }
    if locking {
        if let Some(f) = inner.vmas.get_mut_flags(vma.start) {
            *f -= VmFlags::IO;
        }
    }
}

/// `mlock_fixup` over the fully mapped range `[start, end)`: every vma
/// piece gets `(flags & !VM_LOCKED_MASK) | to_add`, except `VM_SPECIAL`
/// vmas, which are left alone.
///
/// Locking: `mmap_lock` held for write, inner lock held.
pub(crate) fn mlock_fixup_range<P: PhysMem, T: TlbFlush>(
    inner: &mut MmInner<P, T>,
    meta: &PageMetaArray,
    start: u64,
    end: u64,
    to_add: VmFlags,
) -> Result<(), Errno> {
    let changes = inner.vmas.vma_modify_flags(start, end, |old| {
        if old.intersects(VmFlags::SPECIAL) {
            old
        } else {
            (old - VmFlags::LOCKED_MASK) | to_add
        }
    })?;
    for c in changes {
        let was = c.old.contains(VmFlags::LOCKED);
        let is = c.new.contains(VmFlags::LOCKED);
        match (was, is) {
            (false, true) => inner.locked_vm += c.pages(),
            (true, false) => inner.locked_vm = inner.locked_vm.saturating_sub(c.pages()),
            _ => {}
        }
        if was != is {
            mlock_vma_pages_range(inner, meta, c.start, c.end);
        }
    }
    Ok(())
}

/// Linux `apply_vma_lock_flags`: `EINVAL` if the range wraps, nothing for an
/// empty range, `ENOMEM` if `start` is unmapped or the range has a hole (the
/// vmas before the hole are changed).
///
/// Locking: `mmap_lock` held for write, inner lock held.
pub(crate) fn apply_vma_lock_flags<P: PhysMem, T: TlbFlush>(
    inner: &mut MmInner<P, T>,
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
    if inner.vmas.vma_lookup(start).is_none() {
        return Err(Errno::ENOMEM);
    }
    let run_end = inner.vmas.mapped_run_end(start, end);
    mlock_fixup_range(inner, meta, start, run_end, to_add)?;
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
fn apply_mlockall_flags<P: PhysMem, T: TlbFlush>(inner: &mut MmInner<P, T>, meta: &PageMetaArray, flags: u32) -> Option<VmFlags> {
    let to_add = mlockall_def_flags(inner, flags)?;
    let mut cursor = 0;
    while let Some(v) = inner.vmas.find_vma(cursor).cloned() {
        let s = v.start.max(cursor);
        let _ = mlock_fixup_range(inner, meta, s, v.end, to_add);
        cursor = v.end;
    }
    Some(to_add)
}

/// The `def_flags` half of `apply_mlockall_flags`; returns the flags for
/// current vmas, `None` if they are not to be touched.
fn mlockall_def_flags<P: PhysMem, T: TlbFlush>(inner: &mut MmInner<P, T>, flags: u32) -> Option<VmFlags> {
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
            let mut g = self.lock_inner();
            let inner = &mut *g;
            let mut locked = (len / PAGE_SIZE).saturating_add(inner.locked_vm);
            if locked > lock_limit && !creds.cap_ipc_lock {
                locked = locked.saturating_sub(count_mm_mlocked_page_nr(inner, start, len));
            }
            if locked > lock_limit && !creds.cap_ipc_lock {
                return Err(Errno::ENOMEM);
            }
            if strategy != PopulateStrategy::DowngradeRetake {
                apply_vma_lock_flags(inner, &meta, start, len, to_add)?;
            } else if start.wrapping_add(len) < start {
                return Err(Errno::EINVAL);
            }
        }
        if strategy == PopulateStrategy::DowngradeRetake {
            return self.mlock_downgrade_retake(write, start, start + len, to_add, false);
        }
        self.populate_after_write(write, start, len, false).map_err(mlock_posix_error)
    }

    /// Linux `munlock`: same rounding; no permission or limit checks.
    /// Errors: `EINVAL` wrap, `ENOMEM` unmapped start or hole (earlier vmas
    /// are unlocked), `EINTR`. Clears `VM_LOCKED` and `VM_LOCKONFAULT`,
    /// munlocks present pages, never faults anything in.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn do_munlock(&self, start: u64, len: u64) -> Result<(), Errno> {
        let (start, len) = round_range(start, len);
        let _w = self.mmap_lock.write_killable()?;
        let meta = self.page_meta_arc().clone();
        let mut g = self.lock_inner();
        apply_vma_lock_flags(&mut g, &meta, start, len, VmFlags::empty())
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
            let mut g = self.lock_inner();
            let inner = &mut *g;
            if flags & MCL_CURRENT != 0 && inner.total_vm > lock_limit && !creds.cap_ipc_lock {
                return Err(Errno::ENOMEM);
            }
            to_add = if strategy == PopulateStrategy::DowngradeRetake {
                mlockall_def_flags(inner, flags)
            } else {
                apply_mlockall_flags(inner, &meta, flags)
            };
        }
        let Some(to_add) = to_add else { return Ok(()) };
        if flags & MCL_CURRENT == 0 {
            return Ok(());
        }
        if strategy == PopulateStrategy::DowngradeRetake {
            let _ = self.mlock_downgrade_retake(write, 0, TASK_SIZE, to_add, true);
        } else {
            let _ = self.populate_after_write(write, 0, TASK_SIZE, true);
        }
        Ok(())
    }

    /// Linux `munlockall`: clear `def_flags`' lock bits and unlock every
    /// vma. Errors: `EINTR`.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn do_munlockall(&self) -> Result<(), Errno> {
        let _w = self.mmap_lock.write_killable()?;
        let meta = self.page_meta_arc().clone();
        let mut g = self.lock_inner();
        apply_mlockall_flags(&mut g, &meta, 0);
        Ok(())
    }

    /// Schermerhorn's per-vma loop (see the module doc), for mlock
    /// (`all == false`: `[start, end)`, holes are `ENOMEM`, errors end it)
    /// and mlockall (`all == true`: every vma, errors ignored).
    ///
    /// Locking: `write` is `mmap_lock` held for write; the lock is dropped
    /// and retaken once per populated vma; released on return.
    fn mlock_downgrade_retake(&self, write: RwSemWriteGuard<'_, B>, start: u64, end: u64, to_add: VmFlags, all: bool) -> Result<(), Errno> {
        let meta = self.page_meta_arc().clone();
        let mut write = write;
        let mut cursor = start;
        // As in Linux's two-phase shape, a population error does not stop
        // the vma changes: later vmas are still locked, just no longer
        // populated, and the first error is returned at the end.
        let mut populate_err: Option<Errno> = None;
        while cursor < end {
            let (ps, pe, newflags) = {
                let mut g = self.lock_inner();
                let inner = &mut *g;
                let found = if all { inner.vmas.find_vma(cursor).cloned() } else { inner.vmas.vma_lookup(cursor).cloned() };
                let Some(stale) = found else {
                    return match populate_err {
                        _ if !all => Err(Errno::ENOMEM),
                        Some(e) => Err(e),
                        None => Ok(()),
                    };
                };
                if stale.start >= end {
                    break;
                }
                let ps = stale.start.max(cursor);
                let pe = stale.end.min(end);
                let r = mlock_fixup_range(inner, &meta, ps, pe, to_add);
                if let Err(e) = r {
                    if !all {
                        return Err(e);
                    }
                }
                let newflags = if stale.flags.intersects(VmFlags::SPECIAL) {
                    stale.flags
                } else {
                    (stale.flags - VmFlags::LOCKED_MASK) | to_add
                };
                (ps, pe, newflags)
            };
            cursor = pe;
            let populates = newflags.contains(VmFlags::LOCKED)
                && !newflags.intersects(VmFlags::SPECIAL | VmFlags::LOCKONFAULT);
            if !populates || populate_err.is_some() {
                continue;
            }
            let read = write.downgrade();
            let r = self.populate_range_held_reporting(ps, pe, all, PopulateLock::Read, (start, end));
            drop(read);
            // The window: no lock held.
            self.run_populate_hook(PopulateProgress { start, end, addr: pe, lock: PopulateLock::Unlocked });
            write = self.mmap_lock.write_killable()?;
            if let Err(e) = r {
                if !all {
                    populate_err = Some(mlock_posix_error(e));
                }
            }
            let mut g = self.lock_inner();
            // The 2008 re-check: *a* vma still covers the piece?
            match g.vmas.vma_lookup(ps) {
                Some(v) if v.end >= pe => {}
                _ => return Err(Errno::EAGAIN),
            }
            // ...and the stale view carried on: the flags computed for the
            // old vma are written onto whatever vma is there now, with no
            // accounting and no walk (Linux went on with its stale `vma`).
            let _ = g.vmas.vma_modify_flags(ps, pe, |_| newflags);
        }
        populate_err.map_or(Ok(()), Err)
    }
}
