//! A process's address space: the mm crate's `MmStruct` on the kernel's
//! frames, scheduler and TLB, plus the glue the syscall layer needs
//! (Linux mmap ABI constants, /proc text).
//!
//! Locking: `MmStruct` takes its `mmap_lock` itself in every operation;
//! callers must not hold it, and must not copy to or from user memory
//! while an operation runs (the fault path takes the lock for read).

use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicUsize, Ordering};
use mm::mm_struct::{MlockCreds, MmStruct};
use mm::page_meta::PageMetaArray;
use mm::Errno;
use spin::Once;

use super::fault::FaultAccess;
use crate::arch::tlb::KernelTlb;
use crate::memory::phys::KernelPhys;
use crate::sched::rwsem_backend::SchedBackend;

type Inner = MmStruct<KernelPhys, SchedBackend, KernelTlb>;

static PAGE_META: Once<Arc<PageMetaArray>> = Once::new();
static KERNEL_ROOT: Once<u64> = Once::new();

/// Create the per-frame metadata for every frame the allocator manages and
/// remember the kernel's page table (whose upper half every process shares).
pub fn init(base_pfn: u64, npages: u64) {
    let meta = PageMetaArray::new(base_pfn, npages as usize).expect("page metadata");
    PAGE_META.call_once(|| Arc::new(meta));
    let (root, _) = x86_64::registers::control::Cr3::read();
    KERNEL_ROOT.call_once(|| root.start_address().as_u64());
}

/// The frame metadata (for the invariant checks and the boot log).
pub fn page_meta() -> &'static PageMetaArray {
    PAGE_META.get().expect("usermm::init not called")
}

/// After the last process has exited: (pages still mlocked, user pages
/// still referenced by anything but the page cache, page-cache pages).
/// The first two must be 0 — exit returns every frame; what stays is the
/// pages of tmpfs files (and SysV segments), each held once by its
/// object.
pub fn leak_check() -> (u64, u64, u64) {
    let meta = page_meta();
    let base = meta.base_pfn();
    let (mut referenced, mut extra) = (0u64, 0u64);
    for pfn in base..base + meta.len() as u64 {
        if let Some(refs) = meta.pfn_to_page(pfn).map(|p| p.page_ref_count()).filter(|&r| r > 0) {
            referenced += 1;
            // Only an object's own reference may be left.
            extra += u64::from(refs > 1);
        }
    }
    let cached = meta.nr_shmem();
    (meta.nr_mlock(), referenced.saturating_sub(cached) + extra, cached)
}

/// Swap slots that shmem objects (tmpfs files, SysV segments, shared
/// mappings) hold for their pages in swap.
pub fn shmem_swapped() -> u64 {
    let objects = mm::shmem::swap::shmem_objects(page_meta()).unwrap_or_default();
    objects.iter().map(|o| o.nr_swapped() as u64).sum()
}

/// One process's address space: the mm crate's `MmStruct` (reached through
/// `Deref`, with Linux's names: `do_mmap`, `do_mlock`, ...) plus the glue
/// that only the kernel needs.
pub struct UserMm {
    mm: Inner,
    /// Processes using this address space (Linux `mm_users`): more than
    /// one while a `vfork` child runs on its parent's. The last one to
    /// exit tears it down ([`mmput`](Self::mmput)).
    users: AtomicUsize,
}

impl core::ops::Deref for UserMm {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.mm
    }
}

impl UserMm {
    pub fn new() -> Result<UserMm, Errno> {
        let meta = PAGE_META.get().expect("usermm::init not called").clone();
        let tlb = KernelTlb::default();
        let mut mm = MmStruct::new(KernelPhys, SchedBackend, tlb.clone(), meta, Some(*KERNEL_ROOT.get().unwrap()))?;
        // Rmap walks from any process find this one's shmem mappings.
        mm.enable_rmap()?;
        // Flushes go to every CPU that runs on this table from now on.
        tlb.set_root(mm.root_pa());
        Ok(UserMm { mm, users: AtomicUsize::new(1) })
    }

    /// A copy-on-write copy of this address space for a forked child
    /// (`dup_mmap`). Locking: takes this mm's `mmap_lock` for write.
    pub fn dup(&self) -> Result<UserMm, Errno> {
        let mut child = UserMm::new()?;
        self.mm.dup_mmap(&mut child.mm)?;
        Ok(child)
    }

    /// One more process uses this address space (Linux `mmget`).
    pub fn mmget(&self) {
        self.users.fetch_add(1, Ordering::SeqCst);
    }

    /// A process stops using it (Linux `mmput`); `true` for the last
    /// one, which must tear it down (`exit_mmap`).
    pub fn mmput(&self) -> bool {
        self.users.fetch_sub(1, Ordering::SeqCst) == 1
    }

    /// The mm crate's view of a fault taken by the CPU.
    pub fn handle_fault(&self, addr: u64, access: FaultAccess, limits: &mm::stack::StackLimits) -> Result<(), mm::fault::FaultError> {
        let kind = if access.exec {
            mm::fault::FaultAccess::Exec
        } else if access.write {
            mm::fault::FaultAccess::Write
        } else {
            mm::fault::FaultAccess::Read
        };
        let origin = if access.user { mm::fault::FaultOrigin::User } else { mm::fault::FaultOrigin::Kernel };
        self.mm.handle_user_mm_fault(addr, kind, origin, limits)
    }

    /// Map fresh anonymous memory at exactly `addr` (the ELF loader and the
    /// stack); `stack` marks the vma as growing down.
    /// Map pages `pgoff..` of a program file's object privately at the
    /// page-aligned `[addr, addr + len)` (exec's `elf_map`), replacing
    /// what was there.
    pub fn mmap_fixed_file(&self, addr: u64, len: u64, prot: u64, obj: Arc<mm::shmem::Shmem>, pgoff: u64) -> Result<(), Errno> {
        use mm::mmap::{MmapBacking, MAP_FIXED, MAP_PRIVATE};
        let backing = MmapBacking { obj, pgoff, may_write: false };
        self.mm.do_mmap_object(addr, len, prot, MAP_PRIVATE | MAP_FIXED, backing, &MlockCreds::root()).map(|_| ())
    }

    pub fn mmap_fixed_anon(&self, addr: u64, len: u64, prot: u64, stack: bool) -> Result<(), Errno> {
        use mm::mmap::{MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE};
        let flags = MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | if stack { MAP_GROWSDOWN } else { 0 };
        self.mm.do_mmap(addr, len, prot, flags, &MlockCreds::root()).map(|_| ())
    }

    /// Statistics of the mmap lock (`/proc/<pid>/mmap_lock`): one line per
    /// mode; times in ns (log2 histogram bucket bounds).
    pub fn lock_stats_text(&self) -> String {
        alloc::format!("{}", self.mm.mmap_lock.stats())
    }

    pub fn check_invariants(&self) -> Result<(), String> {
        mm::invariants::check_mm_invariants(&self.mm)
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;
    use core::sync::atomic::{AtomicBool, Ordering};
    use mm::fault::FaultAccess as Access;
    use mm::populate::{PopulateLock, PopulateProgress, PopulateStrategy, POPULATE_BATCH_PAGES};

    use crate::sched::{self, thread::Thread as KThread, ThreadState};

    const P: u64 = 4096;
    const PROT_READ: u64 = 1;
    const PROT_RW: u64 = 3;
    const MAP_PRIVATE_ANON_FIXED: u64 = 0x02 | 0x20 | 0x10;

    /// The racer's address space, and the flags the test and the racer
    /// share (one race at a time).
    static RACER_MM: spin::Mutex<Option<Arc<UserMm>>> = spin::Mutex::new(None);
    static GO: AtomicBool = AtomicBool::new(false);
    static DONE: AtomicBool = AtomicBool::new(false);
    /// Vma A, the one replaced, and its length in pages (vma B follows it).
    const A: u64 = 0x2000_0000;
    const N: u64 = 4 * POPULATE_BATCH_PAGES;

    /// The racer thread: once let go, unmaps A, maps a new vma in its place
    /// and touches three of its pages.
    fn racer() -> ! {
        while !GO.load(Ordering::SeqCst) {
            sched::yield_now();
        }
        let um = RACER_MM.lock().clone().expect("the racer's address space");
        um.do_munmap(A, N * P).unwrap();
        um.do_mmap(A, N * P, PROT_RW, MAP_PRIVATE_ANON_FIXED, &MlockCreds::root()).unwrap();
        for i in 0..3 {
            um.handle_mm_fault(A + i * P, Access::Write, mm::fault::FaultOrigin::User).unwrap();
        }
        drop(um);
        DONE.store(true, Ordering::SeqCst);
        sched::exit_current();
    }

    /// The 2008 race, on the kernel's page tables and scheduler, at a point
    /// where population has pages behind it and pages still to do: mlock of
    /// two vmas (A read-write, B read-only, 4 batches each) while a kernel
    /// thread replaces A (munmap + mmap). The populate hook lets the racer
    /// go at the first such point; where population holds nothing it waits
    /// for the racer to finish, where it holds the lock it waits until the
    /// racer sleeps on it. Expected: hold-write, downgrade-at-end and
    /// populate-unlocked (one read hold across vmas, as Linux's
    /// `__mm_populate`) make the racer wait until population is over;
    /// downgrade-retake lets it in between A and B and then writes its stale
    /// flags onto the replacement (the invariant checker catches it);
    /// yield-to-waiters lets it in where its read hold ends
    /// (`YIELD_HOLD_PAGES` in), and population looks the vma up again and
    /// stays consistent.
    #[ktest]
    pub fn downgrade_retake_race_corrupts_only_downgrade_retake() {
        use PopulateLock::*;
        use PopulateStrategy::*;
        let root = MlockCreds::root();
        // (strategy, lock at the window, the racer got in mid-population)
        let table = [
            (HoldWrite, Write, false),
            (DowngradeRetake, Read, true),
            (DowngradeAtEnd, Read, false),
            (PopulateUnlocked, Read, false),
            (YieldToWaiters, Read, true),
        ];
        for (s, window_lock, racer_mid) in table {
            let um = Arc::new(UserMm::new().expect("address space"));
            um.set_populate_strategy(Some(s));
            um.do_mmap(A, N * P, PROT_RW, MAP_PRIVATE_ANON_FIXED, &root).unwrap();
            um.do_mmap(A + N * P, N * P, PROT_READ, MAP_PRIVATE_ANON_FIXED, &root).unwrap();
            GO.store(false, Ordering::SeqCst);
            DONE.store(false, Ordering::SeqCst);
            *RACER_MM.lock() = Some(um.clone());
            let t = sched::spawn(KThread::new(sched::thread::alloc_tid(), String::from("ktest-racer")), racer);
            let window: Arc<spin::Mutex<Option<PopulateProgress>>> = Arc::default();
            let mid = Arc::new(AtomicBool::new(false));
            let (window_h, mid_h) = (window.clone(), mid.clone());
            um.set_populate_hook(Some(Arc::new(move |mm: &Inner, p: PopulateProgress| {
                if p.remaining() == 0 {
                    return;
                }
                let can_finish = p.lock == Unlocked;
                if !GO.load(Ordering::SeqCst) {
                    if p.done() == 0 {
                        return;
                    }
                    *window_h.lock() = Some(p);
                    GO.store(true, Ordering::SeqCst);
                    if !can_finish {
                        while !mm.mmap_lock.is_contended() {
                            sched::yield_now();
                        }
                    }
                }
                if can_finish {
                    while !DONE.load(Ordering::SeqCst) {
                        sched::yield_now();
                    }
                }
                if DONE.load(Ordering::SeqCst) {
                    mid_h.store(true, Ordering::SeqCst);
                }
            })));
            let res = um.do_mlock(A, 2 * N * P, 0, &root);
            um.set_populate_hook(None);
            GO.store(true, Ordering::SeqCst);
            while t.state() != ThreadState::Dead {
                sched::yield_now();
            }
            *RACER_MM.lock() = None;
            let window = window.lock().unwrap_or_else(|| panic!("{}: no hook call mid-population", s.name()));
            assert!(window.done() > 0 && window.remaining() > 0, "{window:?}");
            assert_eq!(window.lock, window_lock, "{}: {window:?}", s.name());
            assert_eq!(mid.load(Ordering::SeqCst), racer_mid, "{}: the racer got in mid-population", s.name());
            assert_eq!(res, Ok(()), "{}", s.name());
            let verdict = um.check_invariants();
            if s == DowngradeRetake {
                let e = verdict.expect_err("downgrade-retake must leave a corrupted address space");
                crate::kprintln!("  downgrade-retake: invariant checker: {e}");
            } else {
                if let Err(e) = verdict {
                    panic!("{}: {e}", s.name());
                }
                assert_eq!(um.locked_vm(), N, "{}: only B stays locked", s.name());
                let present = |addr, pages| um.mincore(addr, pages * P).unwrap().iter().filter(|&&b| b == 1).count() as u64;
                assert_eq!(present(A + N * P, N), N, "{}", s.name());
                // Mid-population, population went on in the replacement
                // from where its hold ended.
                let expect_a =
                    if racer_mid { N.saturating_sub(window.done().next_multiple_of(mm::populate::YIELD_HOLD_PAGES)) + 3 } else { 3 };
                assert_eq!(present(A, N), expect_a, "{}: {window:?}", s.name());
            }
            um.exit_mmap();
        }
        assert_eq!(page_meta().nr_mlock(), 0, "mlocked pages left behind");
    }

    /// Exit of an address space with mlocked memory returns every frame and
    /// leaves no page mlocked.
    #[ktest]
    pub fn exit_mmap_frees_mlocked_memory() {
        let (_, free0) = crate::memory::frame::counts();
        let um = UserMm::new().expect("address space");
        let root = MlockCreds::root();
        let a = um.do_mmap(0x3000_0000, 512 * P, PROT_RW, MAP_PRIVATE_ANON_FIXED, &root).unwrap();
        um.do_mlock(a, 512 * P, 0, &root).unwrap();
        assert_eq!(page_meta().nr_mlock(), 512);
        assert_eq!(um.locked_vm(), 512);
        um.exit_mmap();
        drop(um);
        assert_eq!(page_meta().nr_mlock(), 0);
        assert_eq!(crate::memory::frame::counts().1, free0, "frames leaked by exit_mmap");
    }
}
