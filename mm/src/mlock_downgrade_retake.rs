//! The `downgrade-retake` population strategy for mlock and mlockall,
//! kept broken on purpose.
//!
//! Under [`PopulateStrategy::DowngradeRetake`](crate::populate::PopulateStrategy::DowngradeRetake) mlock/mlockall run
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
//! One thing is not 2008's: a hole in an mlock range is found before the
//! loop, so nothing is populated when mlock fails with `ENOMEM`, as under
//! every other strategy (the 2008 loop populated the vmas before the hole
//! first).
//!
//! The loop is written for any vma change (`RetakeFixup`); mlock and
//! mlockall ([`crate::mlock`]) give it `mlock_fixup`. Every other strategy
//! populates through [`MmStruct::populate_after_write`] after the vma
//! changes are done.
//!
//! Locking: entered with `mmap_lock` held for write; per populated vma it
//! is downgraded, dropped and retaken (killable: `EINTR`), so the loop ends
//! holding it or, on `EINTR`, not; it is released on return. The inner
//! lock is held for each vma change and each re-check, never across the
//! window.

use crate::errno::Errno;
use crate::gup::OnError;
use crate::mm_struct::{MmInner, MmStruct, MmapWriteLocked};
use crate::page_meta::PageMetaArray;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::populate::{PopulateLock, PopulateProgress};
use crate::rwsem::{RwSemBackend, RwSemWriteGuard};
use crate::vma::VmFlags;

/// The vma change the loop makes to each piece of the range, under the
/// write lock, and what it knows about that change across the window.
pub(crate) trait RetakeFixup<P: PhysMem, T: TlbFlush> {
    /// Change the vma piece `[start, end)` (Linux `mlock_fixup`).
    ///
    /// Locking: `mmap_lock` held for write, inner lock held.
    fn fixup(
        &self,
        locked: &MmapWriteLocked<'_>,
        inner: &mut MmInner<P, T>,
        meta: &PageMetaArray,
        start: u64,
        end: u64,
    ) -> Result<(), Errno>;

    /// The flags [`fixup`](Self::fixup) gives a vma that had `old`: the
    /// stale view the loop carries across the window and writes back.
    fn new_flags(&self, old: VmFlags) -> VmFlags;

    /// The errno a population failure is returned as.
    fn population_error(&self, e: Errno) -> Errno;
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Schermerhorn's per-vma loop (see the module doc), making `change` to
    /// each vma piece: for mlock with [`OnError::Stop`] (`[start, end)`
    /// must be mapped: a hole is `ENOMEM`, the first error ends it), for
    /// mlockall with [`OnError::Skip`] (every vma; holes and errors are
    /// skipped).
    ///
    /// Locking: `write` is `mmap_lock` held for write; the lock is dropped
    /// and retaken once per populated vma; released on return.
    pub(crate) fn mlock_downgrade_retake(
        &self,
        write: RwSemWriteGuard<'_, B>,
        start: u64,
        end: u64,
        on_error: OnError,
        change: &impl RetakeFixup<P, T>,
    ) -> Result<(), Errno> {
        let all = on_error == OnError::Skip;
        let meta = self.page_meta_arc().clone();
        if !all {
            // A hole in an mlock range is found before anything is
            // populated, as by every other strategy (and Linux since
            // 2.6.29): the vmas before it are changed, nothing is faulted
            // in, ENOMEM. The 2008 loop met the hole only after populating
            // the vmas before it; that is not the race kept here.
            let locked = self.mmap_write_locked(&write);
            let mut g = self.lock_inner();
            let run_end = g.vmas.mapped_run_end(start, end);
            if run_end != end {
                if run_end > start {
                    change.fixup(&locked, &mut g, &meta, start, run_end)?;
                }
                return Err(Errno::ENOMEM);
            }
        }
        let mut write = write;
        let mut cursor = start;
        // As in Linux's two-phase shape, a population error does not stop
        // the vma changes: later vmas are still locked, just no longer
        // populated, and the first error is returned at the end.
        let mut populate_err: Option<Errno> = None;
        while cursor < end {
            let (ps, pe, newflags) = {
                let locked = self.mmap_write_locked(&write);
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
                let r = change.fixup(&locked, inner, &meta, ps, pe);
                if let Err(e) = r {
                    if !all {
                        return Err(e);
                    }
                }
                let newflags = change.new_flags(stale.flags);
                (ps, pe, newflags)
            };
            cursor = pe;
            let populates = newflags.contains(VmFlags::LOCKED) && !newflags.intersects(VmFlags::SPECIAL | VmFlags::LOCKONFAULT);
            if !populates || populate_err.is_some() {
                continue;
            }
            let read = write.downgrade();
            let r = self.populate_range_held_reporting(self.mmap_read_locked(&read), ps, pe, on_error, (start, end));
            drop(read);
            // The window: no lock held.
            self.run_populate_hook(PopulateProgress { start, end, addr: pe, lock: PopulateLock::Unlocked });
            write = self.mmap_lock.write_killable()?;
            if let Err(e) = r {
                if !all {
                    populate_err = Some(change.population_error(e));
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
