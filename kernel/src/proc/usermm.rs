//! A process's address space: the mm crate's `MmStruct` on the kernel's
//! frames, scheduler and TLB, plus the glue the syscall layer needs
//! (Linux mmap ABI constants, /proc text).
//!
//! Locking: `MmStruct` takes its `mmap_lock` itself in every operation;
//! callers must not hold it, and must not copy to or from user memory
//! while an operation runs (the fault path takes the lock for read).

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
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

/// One process's address space.
pub struct UserMm {
    mm: Inner,
}

impl UserMm {
    pub fn new() -> Result<UserMm, Errno> {
        let meta = PAGE_META.get().expect("usermm::init not called").clone();
        let mm = MmStruct::new(KernelPhys, SchedBackend, KernelTlb, meta, Some(*KERNEL_ROOT.get().unwrap()))?;
        Ok(UserMm { mm })
    }

    pub fn inner(&self) -> &Inner {
        &self.mm
    }

    pub fn root_pa(&self) -> u64 {
        self.mm.root_pa()
    }

    pub fn handle_fault(&self, addr: u64, access: FaultAccess) -> Result<(), Errno> {
        let kind = if access.exec {
            mm::fault::FaultAccess::Exec
        } else if access.write {
            mm::fault::FaultAccess::Write
        } else {
            mm::fault::FaultAccess::Read
        };
        self.mm.handle_mm_fault(addr, kind, access.user).map_err(|e| e.to_errno())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn mmap(&self, addr: u64, len: u64, prot: u32, flags: u32, fd: i32, off: u64, creds: &MlockCreds) -> Result<u64, Errno> {
        // Only anonymous memory exists; the mm crate refuses the rest
        // (EBADF without MAP_ANONYMOUS), so fd and offset are not needed.
        let _ = (fd, off);
        self.mm.do_mmap(addr, len, prot as u64, flags as u64, creds)
    }

    /// Map fresh anonymous memory at exactly `addr` (the ELF loader and the
    /// stack); `stack` marks the vma as growing down.
    pub fn mmap_fixed_anon(&self, addr: u64, len: u64, prot: u32, stack: bool) -> Result<(), Errno> {
        const MAP_PRIVATE: u64 = 0x02;
        const MAP_FIXED: u64 = 0x10;
        const MAP_ANONYMOUS: u64 = 0x20;
        const MAP_GROWSDOWN: u64 = 0x100;
        let flags = MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | if stack { MAP_GROWSDOWN } else { 0 };
        self.mm.do_mmap(addr, len, prot as u64, flags, &MlockCreds::root()).map(|_| ())
    }

    pub fn munmap(&self, addr: u64, len: u64) -> Result<(), Errno> {
        self.mm.do_munmap(addr, len)
    }

    pub fn mprotect(&self, addr: u64, len: u64, prot: u32) -> Result<(), Errno> {
        self.mm.do_mprotect(addr, len, prot as u64)
    }

    pub fn set_brk_start(&self, addr: u64) {
        let _ = self.mm.set_brk_base(addr);
    }

    pub fn brk(&self, new: u64, creds: &MlockCreds) -> u64 {
        self.mm.do_brk(new, creds)
    }

    pub fn madvise(&self, addr: u64, len: u64, advice: u32) -> Result<(), Errno> {
        self.mm.madvise(addr, len, advice as i32)
    }

    pub fn mincore(&self, addr: u64, len: u64) -> Result<Vec<u8>, Errno> {
        self.mm.mincore(addr, len)
    }

    pub fn mlock(&self, addr: u64, len: u64, flags: u32, creds: &MlockCreds) -> Result<(), Errno> {
        self.mm.do_mlock(addr, len, flags, creds)
    }

    pub fn munlock(&self, addr: u64, len: u64) -> Result<(), Errno> {
        self.mm.do_munlock(addr, len)
    }

    pub fn mlockall(&self, flags: u32, creds: &MlockCreds) -> Result<(), Errno> {
        self.mm.do_mlockall(flags, creds)
    }

    pub fn munlockall(&self) -> Result<(), Errno> {
        self.mm.do_munlockall()
    }

    /// `/proc/<pid>/maps`.
    pub fn proc_maps(&self, stack_start: u64) -> String {
        self.mm.proc_maps((stack_start != 0).then_some(stack_start))
    }

    /// (VmSize, VmLck, VmRSS) in kB.
    pub fn status_kb(&self) -> (u64, u64, u64) {
        (self.mm.total_vm() * 4, self.mm.locked_vm() * 4, self.mm.rss() * 4)
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

    pub fn exit_mmap(&self) {
        self.mm.exit_mmap();
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
            let mm = um.inner();
            mm.set_populate_strategy(Some(s));
            let pages = 4 * POPULATE_BATCH_PAGES as u64;
            let a = mm.do_mmap(0x2000_0000, pages * P, PROT_RW, MAP_PRIVATE_ANON_FIXED, &root).unwrap();
            let fired = Arc::new(AtomicBool::new(false));
            let fired_h = fired.clone();
            mm.set_populate_hook(Some(Arc::new(move |mm: &Inner| {
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
        let a = um.inner().do_mmap(0x3000_0000, 512 * P, PROT_RW, MAP_PRIVATE_ANON_FIXED, &root).unwrap();
        um.inner().do_mlock(a, 512 * P, 0, &root).unwrap();
        assert_eq!(page_meta().nr_mlock(), 512);
        assert_eq!(um.inner().locked_vm(), 512);
        um.exit_mmap();
        drop(um);
        assert_eq!(page_meta().nr_mlock(), 0);
        assert_eq!(crate::memory::frame::counts().1, free0, "frames leaked by exit_mmap");
    }
}
