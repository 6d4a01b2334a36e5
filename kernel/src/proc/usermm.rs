//! A process's address space: the mm crate's `MmStruct` on the kernel's
//! frames, scheduler and TLB, plus the glue the syscall layer needs
//! (Linux mmap ABI constants, /proc text).
//!
//! Locking: `MmStruct` takes its `mmap_lock` itself in every operation;
//! callers must not hold it, and must not copy to or from user memory
//! while an operation runs (the fault path takes the lock for read).

use alloc::string::String;
use alloc::sync::Arc;
use mm::mm_struct::{MlockCreds, MmStruct};
use mm::page_meta::PageMetaArray;
use mm::Errno;
use spin::Once;

use super::fault::FaultAccess;
use crate::memory::phys::{KernelPhys, KernelTlb};
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
/// still referenced). Both must be 0 — exit returns every frame.
pub fn leak_check() -> (u64, u64) {
    let meta = page_meta();
    let base = meta.base_pfn();
    let referenced = (base..base + meta.len() as u64)
        .filter(|&pfn| meta.pfn_to_page(pfn).is_some_and(|p| p.page_ref_count() > 0))
        .count() as u64;
    (meta.nr_mlock(), referenced)
}

/// One process's address space: the mm crate's `MmStruct` (reached through
/// `Deref`, with Linux's names: `do_mmap`, `do_mlock`, ...) plus the glue
/// that only the kernel needs.
pub struct UserMm {
    mm: Inner,
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
        let mm = MmStruct::new(KernelPhys, SchedBackend, KernelTlb, meta, Some(*KERNEL_ROOT.get().unwrap()))?;
        Ok(UserMm { mm })
    }

    /// The mm crate's view of a fault taken by the CPU.
    pub fn handle_fault(&self, addr: u64, access: FaultAccess, limits: &mm::stack::StackLimits) -> Result<(), Errno> {
        let kind = if access.exec {
            mm::fault::FaultAccess::Exec
        } else if access.write {
            mm::fault::FaultAccess::Write
        } else {
            mm::fault::FaultAccess::Read
        };
        self.mm.handle_user_mm_fault(addr, kind, access.user, limits).map_err(|e| e.to_errno())
    }

    /// Map fresh anonymous memory at exactly `addr` (the ELF loader and the
    /// stack); `stack` marks the vma as growing down.
    pub fn mmap_fixed_anon(&self, addr: u64, len: u64, prot: u64, stack: bool) -> Result<(), Errno> {
        use mm::mmap::{MAP_ANONYMOUS, MAP_FIXED, MAP_GROWSDOWN, MAP_PRIVATE};
        let flags = MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | if stack { MAP_GROWSDOWN } else { 0 };
        self.mm.do_mmap(addr, len, prot, flags, &MlockCreds::root()).map(|_| ())
    }

    /// Statistics of the mmap lock (`/proc/<pid>/mmap_lock`): one line per
    /// mode; times in ns (log2 histogram bucket bounds).
    pub fn lock_stats_text(&self) -> String {
        use core::fmt::Write;
        let st = self.mm.mmap_lock.stats();
        let mut s = String::from("mode  acquired contended trylock_failed interrupted wait_p50 wait_p99 wait_max hold_p50 hold_p99 hold_max\n");
        for (name, m) in [("read", &st.read), ("write", &st.write)] {
            let _ = writeln!(
                s,
                "{:<5} {:>8} {:>9} {:>14} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
                name,
                m.acquired,
                m.contended,
                m.trylock_failed,
                m.interrupted,
                m.wait_ns.p50(),
                m.wait_ns.p99(),
                m.wait_ns.max(),
                m.hold_ns.p50(),
                m.hold_ns.p99(),
                m.hold_ns.max()
            );
        }
        let _ = writeln!(s, "downgrades {}", st.downgrades);
        s
    }

    pub fn check_invariants(&self) -> Result<(), String> {
        mm::invariants::check_mm_invariants(&self.mm)
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use core::sync::atomic::{AtomicBool, Ordering};
    use mm::fault::FaultAccess as Access;
    use mm::populate::{PopulateStrategy, POPULATE_BATCH_PAGES};

    const P: u64 = 4096;
    const PROT_RW: u64 = 3;
    const MAP_PRIVATE_ANON_FIXED: u64 = 0x02 | 0x20 | 0x10;

    /// The 2008 race, on the kernel's own page tables and scheduler: while
    /// mlock's population has dropped the mmap lock, the region is unmapped
    /// and mapped again (a new vma at the same place). `downgrade-retake`
    /// re-checks only that *a* vma covers the range and carries on with
    /// stale state, so the invariant checker finds the address space
    /// corrupted; every other strategy leaves it consistent.
    pub fn downgrade_retake_race_corrupts_only_downgrade_retake() {
        let root = MlockCreds::root();
        for s in PopulateStrategy::ALL {
            let um = UserMm::new().expect("address space");
            let mm = &*um;
            mm.set_populate_strategy(Some(s));
            let pages = 4 * POPULATE_BATCH_PAGES as u64;
            let a = mm.do_mmap(0x2000_0000, pages * P, PROT_RW, MAP_PRIVATE_ANON_FIXED, &root).unwrap();
            let fired = Arc::new(AtomicBool::new(false));
            let fired_h = fired.clone();
            mm.set_populate_hook(Some(Arc::new(move |mm: &Inner, _: mm::populate::PopulateProgress| {
                if fired_h.swap(true, Ordering::SeqCst) {
                    return;
                }
                mm.do_munmap(a, pages * P).unwrap();
                mm.do_mmap(a, pages * P, PROT_RW, MAP_PRIVATE_ANON_FIXED, &MlockCreds::root()).unwrap();
                for i in 0..3 {
                    mm.handle_mm_fault(a + i * P, Access::Write, true).unwrap();
                }
            })));
            let res = mm.do_mlock(a, pages * P, 0, &root);
            mm.set_populate_hook(None);
            assert!(fired.load(Ordering::SeqCst), "{}: the hook ran", s.name());
            assert_eq!(res, Ok(()), "{}", s.name());
            let verdict = um.check_invariants();
            if s == PopulateStrategy::DowngradeRetake {
                let e = verdict.expect_err("downgrade-retake must leave a corrupted address space");
                crate::kprintln!("  downgrade-retake: invariant checker: {e}");
            } else if let Err(e) = verdict {
                panic!("{}: {e}", s.name());
            }
            um.exit_mmap();
        }
        assert_eq!(page_meta().nr_mlock(), 0, "mlocked pages left behind");
    }

    /// Exit of an address space with mlocked memory returns every frame and
    /// leaves no page mlocked.
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
