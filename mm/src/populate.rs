//! Population: fault in the pages of a range (Linux `__mm_populate`,
//! `populate_vma_page_range`), and the five ways of holding the mmap lock
//! while doing it ([`PopulateStrategy`], design.md "Population strategies").
//!
//! Population walks the vmas of a range and faults in every missing page of
//! each one, as `get_user_pages(FOLL_TOUCH | FOLL_WRITE-if-private-writable
//! | FOLL_FORCE)` would: a private writable vma gets write faults, any other
//! accessible vma read faults. Per vma, like `populate_vma_page_range`:
//! `VM_LOCKONFAULT` vmas are skipped (nothing to do, success), `VM_IO` /
//! `VM_PFNMAP` vmas are skipped (`vma_can_gup` fails), an inaccessible
//! (`PROT_NONE`) vma is `EFAULT`. With `ignore_errors` (mmap, mlockall) a
//! failing vma is skipped and population goes on with the next one;
//! without it (mlock) the first error ends population. Pages faulted into a
//! `VM_LOCKED` vma are mlocked by the fault itself (`mlock_new_folio`).
//!
//! `MADV_POPULATE_READ/WRITE` populate differently, as Linux's GUP does
//! for them ([`MmStruct::faultin_page_range`]): the access asked for, no
//! `FOLL_FORCE`, under one read hold, and the first hole (`ENOMEM`) or
//! unsuitable vma (`EINVAL`) ends the call instead of being skipped.
//!
//! Population checks `fatal_signal_pending()` at least every
//! [`POPULATE_BATCH_PAGES`] pages and stops with
//! `EINTR` (as GUP does), so that a SIGKILLed `mlock` of gigabytes ends
//! promptly; the caller maps `EINTR` through unchanged (mlock returns
//! `EINTR`, which nobody sees: the task is dying).
//!
//! # Strategies
//!
//! | strategy | lock while faulting |
//! |---|---|
//! | `hold-write` | the write lock taken for the vma changes, until the end |
//! | `downgrade-retake` | per vma: write for the change, downgrade, populate under read, *drop*, retake write, re-check only that some vma covers the range (`EAGAIN` if not), go on (see [`crate::mlock`]) |
//! | `downgrade-at-end` | write for all vma changes, one downgrade, populate everything under that read hold, drop |
//! | `populate-unlocked` | write for the vma changes, dropped; then per vma (Linux's `__mm_populate` loop: one GUP call per vma) take read, re-look the vma up by address, fault it all in, drop |
//! | `yield-to-waiters` | as `populate-unlocked`, but in batches of at most [`POPULATE_BATCH_PAGES`] pages, and a batch also ends as soon as `mmap_lock.is_contended()` |
//!
//! Paths that populate after changing vmas (mlock, mlockall, mmap with
//! `MAP_LOCKED`/`MAP_POPULATE`/`MCL_FUTURE`, brk under `MCL_FUTURE`) all go
//! through [`MmStruct::populate_after_write`], which applies the strategy;
//! only mlock/mlockall under `downgrade-retake` use the per-vma loop of
//! `crate::mlock`. mprotect's "locked private vma gains write" population
//! runs under its write lock, as in Linux.
//!
//! The setting: a global default ([`set_global_strategy`], for the kernel's
//! command line and `/proc/sys/vm/mlock_populate`) and an optional per-mm
//! override ([`MmStruct::set_populate_strategy`], used by tests that run in
//! parallel).
//!
//! # Test hook
//!
//! The mm's populate hook ([`MmStruct::set_populate_hook`]) runs with no
//! lock of the mm held: after every batch (lock dropped) under
//! `populate-unlocked` and `yield-to-waiters`; in the window between `up_read` and `down_write`
//! of each vma under `downgrade-retake` (mlock/mlockall); once after the
//! final release under `hold-write` and `downgrade-at-end` (which have no
//! window). A test uses it to change the address space exactly where
//! another thread could.
//!
//! Locking: see each function.

use core::sync::atomic::{AtomicU8, Ordering};

use crate::addr::{PAGE_SIZE, TASK_SIZE};
use crate::errno::Errno;
use crate::fault::FaultAccess;
use crate::mm_struct::MmStruct;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::rwsem::{RwSemBackend, RwSemWriteGuard};
use crate::vma::VmFlags;

/// Largest number of pages one batch looks at.
pub const POPULATE_BATCH_PAGES: u64 = 64;

/// How population holds the mmap lock. See the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PopulateStrategy {
    /// Before 2.6.28: the write lock from start to end.
    HoldWrite = 0,
    /// Schermerhorn 2008, with its race kept on purpose.
    DowngradeRetake = 1,
    /// Linus 2009: downgrade once after all vma changes.
    DowngradeAtEnd = 2,
    /// Lespinasse, Linux 3.9+: populate in batches under read, re-looking
    /// the vma up each time.
    PopulateUnlocked = 3,
    /// Beyond Linux: batches also end when another thread waits.
    #[default]
    YieldToWaiters = 4,
}

impl PopulateStrategy {
    /// Every strategy, in history order.
    pub const ALL: [PopulateStrategy; 5] = [
        PopulateStrategy::HoldWrite,
        PopulateStrategy::DowngradeRetake,
        PopulateStrategy::DowngradeAtEnd,
        PopulateStrategy::PopulateUnlocked,
        PopulateStrategy::YieldToWaiters,
    ];

    /// The name used on the command line and in `/proc/sys/vm/mlock_populate`.
    pub const fn name(self) -> &'static str {
        match self {
            PopulateStrategy::HoldWrite => "hold-write",
            PopulateStrategy::DowngradeRetake => "downgrade-retake",
            PopulateStrategy::DowngradeAtEnd => "downgrade-at-end",
            PopulateStrategy::PopulateUnlocked => "populate-unlocked",
            PopulateStrategy::YieldToWaiters => "yield-to-waiters",
        }
    }

    /// Parse a [`name`](Self::name) (surrounding whitespace, e.g. the
    /// newline of `echo x > /proc/sys/...`, is ignored).
    pub fn from_name(s: &str) -> Option<PopulateStrategy> {
        let s = s.trim();
        Self::ALL.into_iter().find(|p| p.name() == s)
    }

    /// From the `repr(u8)` value.
    pub const fn from_u8(v: u8) -> Option<PopulateStrategy> {
        match v {
            0 => Some(PopulateStrategy::HoldWrite),
            1 => Some(PopulateStrategy::DowngradeRetake),
            2 => Some(PopulateStrategy::DowngradeAtEnd),
            3 => Some(PopulateStrategy::PopulateUnlocked),
            4 => Some(PopulateStrategy::YieldToWaiters),
            _ => None,
        }
    }
}

static GLOBAL_STRATEGY: AtomicU8 = AtomicU8::new(PopulateStrategy::YieldToWaiters as u8);

/// Set the strategy of every mm that has no override of its own.
pub fn set_global_strategy(s: PopulateStrategy) {
    GLOBAL_STRATEGY.store(s as u8, Ordering::Relaxed);
}

/// The global strategy (default `yield-to-waiters`).
pub fn global_strategy() -> PopulateStrategy {
    PopulateStrategy::from_u8(GLOBAL_STRATEGY.load(Ordering::Relaxed)).unwrap_or_default()
}

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
    /// Locking: `mmap_lock` held for read (or write) throughout; takes the
    /// inner lock per vma lookup and per page.
    pub fn faultin_page_range(&self, start: u64, end: u64, write: bool) -> Result<(), Errno> {
        self.mmap_lock.assert_locked();
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
            if let Err(e) = self.fault_in_page_unlocked_alloc(addr, access, &mut spare) {
                break Err(e.to_errno());
            }
            addr += PAGE_SIZE;
        };
        self.release_spare(&mut spare);
        r
    }

    /// One batch: populate from `addr` towards `end`, looking at most at
    /// `budget` pages; with `stop_on_contention`, also stop as soon as a
    /// thread waits for `mmap_lock` (after at least one page). Returns where
    /// to go on from (`end` when done or when no vma is left).
    ///
    /// Locking: `mmap_lock` held (read or write); takes the inner lock per
    /// page.
    fn populate_batch(&self, addr: u64, end: u64, budget: u64, stop_on_contention: bool, ignore_errors: bool) -> Result<u64, Errno> {
        let mut spare = None;
        let r = self.populate_batch_inner(addr, end, budget, stop_on_contention, ignore_errors, &mut spare);
        self.release_spare(&mut spare);
        r
    }

    fn populate_batch_inner(
        &self,
        mut addr: u64,
        end: u64,
        budget: u64,
        stop_on_contention: bool,
        ignore_errors: bool,
        spare: &mut Option<u64>,
    ) -> Result<u64, Errno> {
        let mut n = 0u64;
        while addr < end && n < budget {
            let (vstart, vend, flags) = {
                let g = self.lock_inner();
                match g.vmas.find_vma_intersection(addr, end) {
                    Some(v) => (v.start, v.end, v.flags),
                    None => return Ok(end),
                }
            };
            addr = addr.max(vstart);
            let vend = vend.min(end);
            let access = match populate_access(flags) {
                Ok(Some(a)) => a,
                Ok(None) => {
                    addr = vend;
                    continue;
                }
                Err(e) if ignore_errors => {
                    let _ = e;
                    addr = vend;
                    continue;
                }
                Err(e) => return Err(e),
            };
            while addr < vend && n < budget {
                if let Err(e) = self.fault_in_page_unlocked_alloc(addr, access, spare) {
                    if ignore_errors {
                        addr = vend;
                        break;
                    }
                    return Err(e.to_errno());
                }
                addr += PAGE_SIZE;
                n += 1;
                if stop_on_contention && self.mmap_lock.is_contended() {
                    return Ok(addr);
                }
                // GUP checks for a fatal signal on every page; a batch that
                // spans a whole vma must stay killable too.
                if n % POPULATE_BATCH_PAGES == 0 && addr < end && self.mmap_lock.backend().fatal_signal_pending() {
                    return Err(Errno::EINTR);
                }
            }
            if budget == u64::MAX {
                // A per-vma batch (populate-unlocked, as Linux's
                // __mm_populate): end it at the vma's end.
                return Ok(addr);
            }
        }
        Ok(addr)
    }

    /// Populate `[start, end)` for a caller that holds `mmap_lock` (read or
    /// write) throughout (`hold-write`, `downgrade-*`, mprotect). Checks for
    /// a fatal signal between batches (`EINTR`).
    ///
    /// Locking: `mmap_lock` held; takes the inner lock per page.
    pub fn populate_range_held(&self, start: u64, end: u64, ignore_errors: bool) -> Result<(), Errno> {
        self.mmap_lock.assert_locked();
        let end = end.min(TASK_SIZE);
        let mut addr = start;
        while addr < end {
            addr = self.populate_batch(addr, end, POPULATE_BATCH_PAGES, false, ignore_errors)?;
            if addr < end && self.mmap_lock.backend().fatal_signal_pending() {
                return Err(Errno::EINTR);
            }
        }
        Ok(())
    }

    /// Linux `__mm_populate` (3.9+ shape): populate `[start, start + len)`
    /// without holding `mmap_lock` between batches. Each batch takes it for
    /// read (killable: `EINTR`), re-looks the vma up by address, faults at
    /// most [`POPULATE_BATCH_PAGES`] pages (under `yield-to-waiters` fewer
    /// if a thread is waiting) and drops it. Whatever vma is found at an
    /// address is populated, even if it replaced the one the caller set up.
    ///
    /// Locking: no lock of this mm held by the caller.
    pub fn __mm_populate(&self, start: u64, len: u64, ignore_errors: bool) -> Result<(), Errno> {
        let end = start.saturating_add(len).min(TASK_SIZE);
        let stop_on_contention = self.populate_strategy() == PopulateStrategy::YieldToWaiters;
        // populate-unlocked holds the read lock for a whole vma, as Linux's
        // __mm_populate does (one GUP call per vma); yield-to-waiters works
        // in batches that also end when a thread waits for the lock.
        let budget = if stop_on_contention { POPULATE_BATCH_PAGES } else { u64::MAX };
        let mut addr = start;
        while addr < end {
            let r = self.mmap_lock.read_killable()?;
            let res = self.populate_batch(addr, end, budget, stop_on_contention, ignore_errors);
            drop(r);
            addr = res?;
            self.run_populate_hook();
            if addr >= end {
                break;
            }
            if self.mmap_lock.backend().fatal_signal_pending() {
                return Err(Errno::EINTR);
            }
        }
        Ok(())
    }

    /// Linux `mm_populate`: [`__mm_populate`](Self::__mm_populate) ignoring
    /// errors (mmap, brk: "best effort").
    pub fn mm_populate(&self, start: u64, len: u64) {
        let _ = self.__mm_populate(start, len, true);
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
    pub fn populate_after_write(&self, write: RwSemWriteGuard<'_, B>, start: u64, len: u64, ignore_errors: bool) -> Result<(), Errno> {
        let end = start.saturating_add(len).min(TASK_SIZE);
        match self.populate_strategy() {
            PopulateStrategy::HoldWrite => {
                let r = self.populate_range_held(start, end, ignore_errors);
                drop(write);
                self.run_populate_hook();
                r
            }
            PopulateStrategy::DowngradeRetake | PopulateStrategy::DowngradeAtEnd => {
                let read = write.downgrade();
                let r = self.populate_range_held(start, end, ignore_errors);
                drop(read);
                self.run_populate_hook();
                r
            }
            PopulateStrategy::PopulateUnlocked | PopulateStrategy::YieldToWaiters => {
                drop(write);
                self.__mm_populate(start, end.saturating_sub(start), ignore_errors)
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

    /// With the read lock held and a writer queued, a yield-to-waiters
    /// batch stops after one page; a populate-unlocked batch runs its full
    /// budget. Deterministic: the writer is queued before the batch starts.
    #[test]
    fn batch_ends_when_a_writer_waits() {
        let arena = ArenaPhysMem::new();
        let meta = Arc::new(PageMetaArray::new(ARENA_BASE >> 12, 4096).unwrap());
        let mm = MmStruct::new(&arena, StdBackend::new(), NoFlush, meta, None).unwrap();
        let a = mm
            .do_mmap(0, 256 * PAGE_SIZE, 3, crate::mmap::MAP_PRIVATE | crate::mmap::MAP_ANONYMOUS, &MlockCreds::root())
            .unwrap();
        let end = a + 256 * PAGE_SIZE;
        let read = mm.mmap_lock.read();
        std::thread::scope(|s| {
            let lock = &mm.mmap_lock;
            s.spawn(move || drop(lock.write()));
            while !mm.mmap_lock.is_contended() {
                std::thread::yield_now();
            }
            assert_eq!(mm.populate_batch(a, end, POPULATE_BATCH_PAGES, true, false), Ok(a + PAGE_SIZE));
            let next = a + PAGE_SIZE;
            assert_eq!(
                mm.populate_batch(next, end, POPULATE_BATCH_PAGES, false, false),
                Ok(next + POPULATE_BATCH_PAGES * PAGE_SIZE)
            );
            drop(read);
        });
        assert_eq!(mm.rss(), 1 + POPULATE_BATCH_PAGES);
        crate::invariants::check_mm_invariants(&mm).unwrap();
    }
}
