//! Population (Linux `mm/gup.c`): fault in the pages of a range —
//! `__mm_populate`, `populate_vma_page_range`, `faultin_page_range` —
//! holding `mmap_lock` as the active [population strategy](crate::populate)
//! says.
//!
//! Population walks the vmas of a range and faults in every missing page of
//! each one, as `get_user_pages(FOLL_TOUCH | FOLL_WRITE-if-private-writable
//! | FOLL_FORCE)` would: a private writable vma gets write faults, any other
//! accessible vma read faults. Per vma, like `populate_vma_page_range`:
//! `VM_LOCKONFAULT` vmas are skipped (nothing to do, success), `VM_IO` /
//! `VM_PFNMAP` vmas are skipped (`vma_can_gup` fails), an inaccessible
//! (`PROT_NONE`) vma is `EFAULT`. With [`OnError::Skip`] (mmap, mlockall) a
//! failing vma is skipped and population goes on with the next one;
//! without it (mlock) the first error ends population. Pages faulted into a
//! `VM_LOCKED` vma are mlocked by the fault itself (`mlock_new_folio`).
//!
//! `MADV_POPULATE_READ/WRITE` populate differently, as Linux's GUP does
//! for them ([`MmStruct::faultin_page_range`]): the access asked for, no
//! `FOLL_FORCE`, under one read hold, and the first hole (`ENOMEM`) or
//! unsuitable vma (`EINVAL`) ends the call instead of being skipped.
//!
//! Before every page, population checks `fatal_signal_pending()` and stops
//! with `EINTR` (as GUP does), so that a SIGKILLed `mlock` of gigabytes
//! ends promptly; the caller maps `EINTR` through unchanged (mlock returns
//! `EINTR`, which nobody sees: the task is dying).
//!
//! # The loop and its lock (Linux `__mm_populate`)
//!
//! One loop serves every strategy. It holds `mmap_lock` across vmas: the
//! vma found for an address stays valid while the hold lasts, and the next
//! vma is looked up from its end. If the hold is dropped on the way
//! (Linux's `locked` out-parameter becoming 0), the loop takes the lock for
//! read again and looks the vma up afresh at the address it had reached:
//! whatever vma is there now is populated, even if it replaced the one the
//! caller set up.
//!
//! In Linux the hold is dropped by a fault that must sleep (`VM_FAULT_RETRY`:
//! it waits for I/O or a page lock without the lock). Holdfast's population
//! faults never need to: memory is anonymous, so there is no I/O and no
//! page lock to wait for, and stack growth — the one fault that needs
//! `mmap_lock` for write ([`crate::stack`]) — is never reached, because
//! population faults only addresses inside a vma (Linux's GUP no longer
//! grows stacks either: `gup_vma_lookup`). The one thing that drops the
//! hold is `yield-to-waiters`, through the same path.
//!
//! How each strategy holds the lock, and where the test hook runs, is
//! described in [`crate::populate`].
//!
//! Locking: see each function.

use crate::addr::{PAGE_SIZE, TASK_SIZE};
use crate::errno::Errno;
use crate::fault::{FaultAccess, FaultError};
use crate::mm_struct::{MmStruct, MmapLocked};
use crate::pgtable::{PhysMem, TlbFlush};
use crate::populate::{PopulateLock, PopulateProgress, PopulateStrategy, POPULATE_BATCH_PAGES, YIELD_HOLD_PAGES};
use crate::populate_profile;
use crate::rwsem::{RwSemBackend, RwSemReadGuard, RwSemWriteGuard};
use crate::vma::VmFlags;

/// Can population fault in a vma with these flags at all, and how?
/// `Ok(None)`: skip it successfully (special or lock-on-fault);
/// `Err(EFAULT)`: inaccessible.
fn populate_access(flags: VmFlags) -> Result<Option<FaultAccess>, Errno> {
    if flags.intersects(VmFlags::IO | VmFlags::PFNMAP) {
        return Ok(None);
    }
    if flags.contains(VmFlags::LOCKONFAULT) {
        return Ok(None);
    }
    if !flags.intersects(VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC) {
        return Err(Errno::EFAULT);
    }
    if flags.intersection(VmFlags::WRITE | VmFlags::SHARED) == VmFlags::WRITE {
        Ok(Some(FaultAccess::Write))
    } else {
        Ok(Some(FaultAccess::Read))
    }
}

/// Linux `check_vma_flags` for a GUP without `FOLL_FORCE` (what
/// `MADV_POPULATE_*` asks for): may a vma with `flags` be faulted in for
/// writing (`write`) or reading? Not a special (`VM_IO` / `VM_PFNMAP`) vma;
/// a write needs `VM_WRITE`, a read `VM_READ` (a write-only or exec-only
/// vma cannot be populated for reading, though x86 lets a user read it).
fn check_vma_flags(flags: VmFlags, write: bool) -> bool {
    if flags.intersects(VmFlags::IO | VmFlags::PFNMAP) {
        return false;
    }
    flags.contains(if write { VmFlags::WRITE } else { VmFlags::READ })
}

/// How population holds `mmap_lock` (Linux's `int *locked`, and who took
/// the hold).
enum PopulateHold<'a, B: RwSemBackend> {
    /// Held by the caller, for read or write, for the whole population; it
    /// is never dropped here (Linux passes `locked == NULL`).
    Caller(MmapLocked<'a>),
    /// A read hold population took itself, and may drop (released when
    /// the guard is).
    Read(RwSemReadGuard<'a, B>),
    /// Dropped (`*locked == 0`): population retakes it, and looks the vma
    /// up again, before it goes on.
    Dropped,
}

impl<B: RwSemBackend> PopulateHold<'_, B> {
    fn lock(&self) -> PopulateLock {
        match self {
            PopulateHold::Caller(held) if held.is_write() => PopulateLock::Write,
            PopulateHold::Caller(_) | PopulateHold::Read(_) => PopulateLock::Read,
            PopulateHold::Dropped => PopulateLock::Unlocked,
        }
    }

    /// The proof of the hold (`None` when dropped).
    fn held<P: PhysMem + Clone, T: TlbFlush>(&self, mm: &MmStruct<P, B, T>) -> Option<MmapLocked<'_>> {
        match self {
            PopulateHold::Caller(held) => Some(*held),
            PopulateHold::Read(guard) => Some(mm.mmap_read_locked(guard)),
            PopulateHold::Dropped => None,
        }
    }
}

/// What population does when a vma cannot be populated (Linux's
/// `ignore_errors`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Skip that vma and go on with the next ("best effort": mmap, brk,
    /// mremap, mprotect, mlockall; Linux `ignore_errors`).
    Skip,
    /// Stop at the first error and return it (mlock).
    Stop,
}

/// One population run: the range, what to do on errors, whether read holds
/// end for waiters, and the range the test hook is told about.
struct PopulateRun {
    start: u64,
    end: u64,
    on_error: OnError,
    yield_to_waiters: bool,
    report: (u64, u64),
}

impl PopulateRun {
    fn progress(&self, addr: u64, lock: PopulateLock) -> PopulateProgress {
        PopulateProgress { start: self.report.0, end: self.report.1, addr, lock }
    }
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `faultin_page_range` with `FOLL_MADV_POPULATE`, the work of
    /// `MADV_POPULATE_READ/WRITE`: fault in every page of `[start, end)`
    /// (page aligned) in address order, for writing (`write`) or reading.
    /// For each page, as `__get_user_pages` does: on entering a new vma,
    /// look it up (`ENOMEM` if there is none) and check it
    /// ([`check_vma_flags`]: `EINVAL`); then `EINTR` if a fatal signal is
    /// pending; then the fault (`ENOMEM` out of memory). The first error
    /// ends it; the pages before it stay populated. A page already present
    /// with the access allowed is left as it is.
    ///
    /// Locking: `mmap_lock` held for read (or write) throughout (`held`);
    /// takes the inner lock per vma lookup and per page.
    pub fn faultin_page_range(&self, held: MmapLocked<'_>, start: u64, end: u64, write: bool) -> Result<(), Errno> {
        let access = if write { FaultAccess::Write } else { FaultAccess::Read };
        let mut spare = None;
        let mut addr = start;
        let mut vma_end = start;
        let r = loop {
            if addr >= end {
                break Ok(());
            }
            if addr >= vma_end {
                let flags;
                (vma_end, flags) = match self.lock_inner().vmas.vma_lookup(addr) {
                    Some(v) => (v.end, v.flags),
                    None => break Err(Errno::ENOMEM),
                };
                if !check_vma_flags(flags, write) {
                    break Err(Errno::EINVAL);
                }
            }
            if self.mmap_lock.backend().fatal_signal_pending() {
                break Err(Errno::EINTR);
            }
            if let Err(e) = self.fault_in_page_unlocked_alloc(held, addr, access, &mut spare) {
                break Err(e.to_errno());
            }
            addr += PAGE_SIZE;
        };
        self.release_spare(&mut spare);
        r
    }

    /// The vma intersecting `[addr, end)`, as (start, end, flags).
    ///
    /// Locking: `mmap_lock` held (`_held`); takes the inner lock.
    fn find_vma_intersection_snapshot(&self, _held: MmapLocked<'_>, addr: u64, end: u64) -> Option<(u64, u64, VmFlags)> {
        let g = self.lock_inner();
        g.vmas.find_vma_intersection(addr, end).map(|v| (v.start, v.end, v.flags))
    }

    /// The loop of Linux `__mm_populate`, for every strategy: see the module
    /// doc. `locked` is `Dropped` for a caller that holds nothing (the loop
    /// takes the lock itself) or `Caller` for one that holds it throughout.
    ///
    /// Locking: as `locked` says; the loop may take and drop read holds of
    /// its own (ending with whatever `locked` then says); the inner lock per
    /// lookup and per page.
    fn populate_loop<'a>(&'a self, run: &PopulateRun, locked: &mut PopulateHold<'a, B>) -> Result<(), Errno> {
        let profile = populate_profile::enabled();
        let started = if profile { self.mmap_lock.backend().now_ns() } else { 0 };
        let mut spare = None;
        let r = self.populate_loop_inner(run, locked, &mut spare);
        self.release_spare(&mut spare);
        if profile {
            populate_profile::add_populate(0, self.mmap_lock.backend().now_ns().saturating_sub(started));
        }
        r
    }

    fn populate_loop_inner<'a>(
        &'a self,
        run: &PopulateRun,
        locked: &mut PopulateHold<'a, B>,
        spare: &mut Option<u64>,
    ) -> Result<(), Errno> {
        let mut nstart = run.start;
        // The vma of the current hold: valid until the hold is dropped.
        let mut vma: Option<(u64, u64, VmFlags)> = None;
        // Pages looked at in the current hold.
        let mut held_pages = 0u64;
        while nstart < run.end {
            if let PopulateHold::Dropped = locked {
                // The window: nothing held. (Linux checks for a fatal
                // signal here too, before it retakes the lock.)
                self.run_populate_hook(run.progress(nstart, PopulateLock::Unlocked));
                if self.mmap_lock.backend().fatal_signal_pending() {
                    return Err(Errno::EINTR);
                }
                *locked = PopulateHold::Read(self.mmap_lock.read_killable()?);
                held_pages = 0;
                // A new hold: look the vma up again.
                vma = None;
            }
            let held = locked.held(self).expect("population holds mmap_lock here");
            match vma {
                Some((_, vend, _)) if nstart < vend => {}
                Some((_, vend, _)) => vma = self.find_vma_intersection_snapshot(held, vend, run.end),
                None => vma = self.find_vma_intersection_snapshot(held, nstart, run.end),
            }
            let Some((vstart, vend, flags)) = vma else { break };
            let nend = vend.min(run.end);
            nstart = nstart.max(vstart);
            if flags.intersects(VmFlags::IO | VmFlags::PFNMAP) {
                nstart = nend;
                continue;
            }
            match self.populate_vma_page_range(run, flags, nstart, nend, locked, &mut held_pages, spare) {
                Ok(next) => nstart = next,
                Err(_) if run.on_error == OnError::Skip => nstart = nend,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Linux `populate_vma_page_range` (with `__get_user_pages`' page loop):
    /// fault in `[start, end)`, which lies in one vma with `flags`. Returns
    /// where population goes on from: `end`, or, when `yield-to-waiters`
    /// ended the hold (`*locked` is then `Dropped`), the next page.
    ///
    /// Runs the test hook every [`POPULATE_BATCH_PAGES`] pages of a hold
    /// that goes on.
    ///
    /// Locking: `mmap_lock` held as `locked` says; the inner lock per page.
    #[allow(clippy::too_many_arguments)]
    fn populate_vma_page_range(
        &self,
        run: &PopulateRun,
        flags: VmFlags,
        start: u64,
        end: u64,
        locked: &mut PopulateHold<'_, B>,
        held_pages: &mut u64,
        spare: &mut Option<u64>,
    ) -> Result<u64, Errno> {
        let Some(access) = populate_access(flags)? else { return Ok(end) };
        let mut addr = start;
        while addr < end {
            if self.mmap_lock.backend().fatal_signal_pending() {
                return Err(Errno::EINTR);
            }
            let held = locked.held(self).expect("populate_vma_page_range runs with mmap_lock held");
            if populate_profile::enabled() {
                self.fault_in_page_profiled(held, addr, access, spare).map_err(|e| e.to_errno())?;
                populate_profile::add_populate(1, 0);
            } else {
                self.fault_in_page_unlocked_alloc(held, addr, access, spare).map_err(|e| e.to_errno())?;
            }
            addr += PAGE_SIZE;
            *held_pages += 1;
            if addr >= run.end {
                break;
            }
            if run.yield_to_waiters && matches!(locked, PopulateHold::Read(_)) && *held_pages >= YIELD_HOLD_PAGES {
                *locked = PopulateHold::Dropped;
                return Ok(addr);
            }
            if (*held_pages).is_multiple_of(POPULATE_BATCH_PAGES) {
                self.run_populate_hook(run.progress(addr, locked.lock()));
            }
        }
        Ok(addr)
    }

    /// [`fault_in_page_unlocked_alloc`](Self::fault_in_page_unlocked_alloc),
    /// adding the time of its two halves (getting a frame, installing it)
    /// to the population profile.
    ///
    /// Locking: `mmap_lock` held (`held`); takes the inner lock.
    fn fault_in_page_profiled(
        &self,
        held: MmapLocked<'_>,
        addr: u64,
        access: FaultAccess,
        spare: &mut Option<u64>,
    ) -> Result<bool, FaultError> {
        let clock = self.mmap_lock.backend();
        let t0 = clock.now_ns();
        if spare.is_none() {
            *spare = self.phys.alloc_frame();
        }
        let t1 = clock.now_ns();
        let r = self.fault_in_page_unlocked_alloc(held, addr, access, spare);
        populate_profile::add_alloc(t1.saturating_sub(t0));
        populate_profile::add_install(clock.now_ns().saturating_sub(t1));
        r
    }

    /// Populate `[start, end)` for a caller that holds `mmap_lock`
    /// throughout, for write or read as `held` says (`hold-write`,
    /// `downgrade-*`, mprotect).
    ///
    /// Locking: `mmap_lock` held as `held` says; the inner lock per page.
    pub fn populate_range_held(&self, held: MmapLocked<'_>, start: u64, end: u64, on_error: OnError) -> Result<(), Errno> {
        self.populate_range_held_reporting(held, start, end, on_error, (start, end))
    }

    /// [`populate_range_held`](Self::populate_range_held), telling the test
    /// hook about `report` (the whole range of a per-vma caller).
    pub(crate) fn populate_range_held_reporting(
        &self,
        held: MmapLocked<'_>,
        start: u64,
        end: u64,
        on_error: OnError,
        report: (u64, u64),
    ) -> Result<(), Errno> {
        let end = end.min(TASK_SIZE);
        let run = PopulateRun { start, end, on_error, yield_to_waiters: false, report };
        self.populate_loop(&run, &mut PopulateHold::Caller(held))
    }

    /// Linux `__mm_populate`: populate `[start, start + len)` with no lock
    /// held on entry. Takes `mmap_lock` for read (killable: `EINTR`) once
    /// and keeps it across vmas to the end; under `yield-to-waiters` the
    /// hold also ends after every [`YIELD_HOLD_PAGES`] pages (letting in
    /// any thread that waits for the lock) and is then retaken, the vma looked up
    /// again by address. Whatever vma is found at an address is populated,
    /// even if it replaced the one the caller set up.
    ///
    /// Locking: no lock of this mm held by the caller.
    pub fn __mm_populate(&self, start: u64, len: u64, on_error: OnError) -> Result<(), Errno> {
        let end = start.saturating_add(len).min(TASK_SIZE);
        let yield_to_waiters = self.populate_strategy() == PopulateStrategy::YieldToWaiters;
        let run = PopulateRun { start, end, on_error, yield_to_waiters, report: (start, end) };
        let mut locked = PopulateHold::Dropped;
        self.populate_loop(&run, &mut locked)
        // A hold still taken is released here, as `locked` is dropped.
    }

    /// Linux `mm_populate`: [`__mm_populate`](Self::__mm_populate) ignoring
    /// errors (mmap, brk: "best effort").
    pub fn mm_populate(&self, start: u64, len: u64) {
        let _ = self.__mm_populate(start, len, OnError::Skip);
    }

    /// Finish an operation that changed vmas under `write` and now has to
    /// populate `[start, start + len)`, holding the lock as the active
    /// strategy says: `hold-write` populates under `write`; `downgrade-*`
    /// downgrade it and populate under read (`downgrade-retake` has no
    /// per-vma loop here, so it behaves as `downgrade-at-end`); the unlocked
    /// strategies drop it and call [`__mm_populate`](Self::__mm_populate).
    /// The lock is released when this returns.
    ///
    /// Locking: `write` is this mm's `mmap_lock` held for write.
    pub fn populate_after_write(&self, write: RwSemWriteGuard<'_, B>, start: u64, len: u64, on_error: OnError) -> Result<(), Errno> {
        let end = start.saturating_add(len).min(TASK_SIZE);
        match self.populate_strategy() {
            PopulateStrategy::HoldWrite => {
                let r = self.populate_range_held(self.mmap_write_locked(&write).as_locked(), start, end, on_error);
                drop(write);
                r
            }
            PopulateStrategy::DowngradeRetake | PopulateStrategy::DowngradeAtEnd => {
                let read = write.downgrade();
                let r = self.populate_range_held(self.mmap_read_locked(&read), start, end, on_error);
                drop(read);
                r
            }
            PopulateStrategy::PopulateUnlocked | PopulateStrategy::YieldToWaiters => {
                drop(write);
                self.__mm_populate(start, end.saturating_sub(start), on_error)
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::mm_struct::MlockCreds;
    use crate::page_meta::PageMetaArray;
    use crate::pgtable::{ArenaPhysMem, NoFlush, ARENA_BASE};
    use crate::rwsem::StdBackend;
    use alloc::sync::Arc;

    /// With population's read hold taken and a writer queued, a
    /// yield-to-waiters hold ends after YIELD_HOLD_PAGES pages (dropped: the
    /// writer gets the lock); a populate-unlocked hold goes on to the end
    /// of the vma.
    /// Deterministic: the writer is queued before population starts.
    #[test]
    fn read_hold_ends_for_a_waiting_writer_only_under_yield_to_waiters() {
        let arena = ArenaPhysMem::new();
        let meta = Arc::new(PageMetaArray::new(ARENA_BASE >> 12, 4096).unwrap());
        let mm = MmStruct::new(&arena, StdBackend::new(), NoFlush, meta, None).unwrap();
        let a = mm
            .do_mmap(
                0,
                2 * YIELD_HOLD_PAGES * PAGE_SIZE,
                3,
                crate::mman::MAP_PRIVATE | crate::mman::MAP_ANONYMOUS,
                &MlockCreds::root(),
            )
            .unwrap();
        let end = a + 2 * YIELD_HOLD_PAGES * PAGE_SIZE;
        let flags = {
            let read = mm.mmap_lock.read();
            mm.find_vma_intersection_snapshot(mm.mmap_read_locked(&read), a, end).unwrap().2
        };
        for (start, yield_to_waiters) in [(a, true), (a + PAGE_SIZE, false)] {
            let run = PopulateRun { start, end, on_error: OnError::Stop, yield_to_waiters, report: (start, end) };
            let mut locked = PopulateHold::Read(mm.mmap_lock.read());
            std::thread::scope(|s| {
                let lock = &mm.mmap_lock;
                s.spawn(move || drop(lock.write()));
                while !mm.mmap_lock.is_contended() {
                    std::thread::yield_now();
                }
                let (mut held, mut spare) = (0, None);
                let r = mm.populate_vma_page_range(&run, flags, start, end, &mut locked, &mut held, &mut spare);
                mm.release_spare(&mut spare);
                if yield_to_waiters {
                    assert_eq!(r, Ok(start + YIELD_HOLD_PAGES * PAGE_SIZE));
                    assert_eq!(locked.lock(), PopulateLock::Unlocked);
                } else {
                    assert_eq!(r, Ok(end));
                    assert_eq!(locked.lock(), PopulateLock::Read);
                    assert!(mm.mmap_lock.is_contended(), "the writer still waits");
                    locked = PopulateHold::Dropped;
                }
            });
        }
        assert_eq!(mm.rss(), 2 * YIELD_HOLD_PAGES);
        crate::invariants::check_mm_invariants(&mm).unwrap();
    }
}
