//! Per-CPU data, reached through the GS base.
//!
//! Each CPU owns one [`PerCpu`] block. While a CPU runs kernel code its
//! GS base points at its block; while it runs user code the GS base is the
//! user thread's own (`arch_prctl(ARCH_SET_GS)`), and the block's address
//! waits in `IA32_KERNEL_GS_BASE`. Every way into the kernel from ring 3
//! (`syscall`, interrupts and exceptions whose saved CS is ring 3) starts
//! with `swapgs`, and every way back ends with one, so kernel code always
//! finds its block at `gs:0` (Linux's `this_cpu_*`).
//!
//! The first fields have fixed offsets that the entry assembly uses.
//!
//! Invariants: a block is written once when its CPU comes up and never
//! freed; after that only its own CPU writes the fields (`kernel_rsp` by
//! the scheduler with interrupts disabled, the scratch word by the
//! `syscall` entry with interrupts masked), except the atomics, which any
//! CPU may read.

use alloc::boxed::Box;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicU64, Ordering};

/// The most CPUs Holdfast brings up; further MADT entries are ignored.
pub const MAX_CPUS: usize = 64;

/// Offset of [`PerCpu::kernel_rsp`], for the `syscall` entry.
pub const KERNEL_RSP_OFFSET: usize = 8;
/// Offset of [`PerCpu::user_rsp_scratch`], for the `syscall` entry.
pub const USER_RSP_OFFSET: usize = 16;

/// One CPU's block.
#[repr(C)]
pub struct PerCpu {
    /// The block's own address (`gs:0`), so Rust code can find it.
    self_ptr: *const PerCpu,
    /// Top of the running thread's kernel stack: where `syscall` entry
    /// switches to.
    pub kernel_rsp: AtomicU64,
    /// The user stack pointer during the first instructions of `syscall`.
    pub user_rsp_scratch: AtomicU64,
    /// Index of this CPU (0 = the boot CPU), dense.
    pub cpu: u32,
    /// Its local APIC ID.
    pub apic_id: u32,
    /// Opaque pointer the scheduler keeps here (the running thread).
    pub current: AtomicPtr<()>,
    /// Timer ticks this CPU has taken.
    pub ticks: AtomicU64,
}

const _: () = assert!(core::mem::offset_of!(PerCpu, kernel_rsp) == KERNEL_RSP_OFFSET);
const _: () = assert!(core::mem::offset_of!(PerCpu, user_rsp_scratch) == USER_RSP_OFFSET);

/// Every CPU's block by index (null: not online).
static CPUS: [AtomicPtr<PerCpu>; MAX_CPUS] = [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];
/// CPUs online (their blocks published in [`CPUS`]).
static NR_ONLINE: AtomicU32 = AtomicU32::new(0);

/// Create the block of CPU `cpu` (APIC ID `apic_id`) and make it this
/// CPU's: load it into the GS base. Runs once per CPU, on that CPU, with
/// interrupts disabled, before anything uses [`this_cpu`].
pub fn init_this_cpu(cpu: u32, apic_id: u32) {
    assert!((cpu as usize) < MAX_CPUS);
    let block = Box::leak(Box::new(PerCpu {
        self_ptr: core::ptr::null(),
        kernel_rsp: AtomicU64::new(0),
        user_rsp_scratch: AtomicU64::new(0),
        cpu,
        apic_id,
        current: AtomicPtr::new(core::ptr::null_mut()),
        ticks: AtomicU64::new(0),
    }));
    block.self_ptr = block as *const PerCpu;
    x86_64::registers::model_specific::GsBase::write(x86_64::VirtAddr::from_ptr(block as *const PerCpu));
    // The user's GS base starts at 0 (a thread's own value is loaded on
    // every switch to it).
    x86_64::registers::model_specific::KernelGsBase::write(x86_64::VirtAddr::zero());
    CPUS[cpu as usize].store(block, Ordering::Release);
    NR_ONLINE.fetch_add(1, Ordering::AcqRel);
}

/// This CPU's block. Callers that need the answer to stay true (the CPU
/// index, say) run with interrupts disabled; fields that follow the
/// running thread (`current`) are right on any CPU.
pub fn this_cpu() -> &'static PerCpu {
    let p: *const PerCpu;
    // SAFETY: in kernel mode the GS base points at this CPU's block (see
    // the module doc), whose first word is its own address.
    unsafe { core::arch::asm!("mov {}, gs:[0]", out(reg) p, options(nostack, preserves_flags, readonly)) };
    // SAFETY: blocks are leaked at creation and never freed.
    unsafe { &*p }
}

/// Index of the CPU running this code (see [`this_cpu`] on staying true).
pub fn cpu_index() -> usize {
    this_cpu().cpu as usize
}

/// CPU `cpu`'s block, if it is online.
pub fn cpu(cpu: usize) -> Option<&'static PerCpu> {
    let p = CPUS.get(cpu)?.load(Ordering::Acquire);
    // SAFETY: non-null entries point at leaked, never-freed blocks.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// Number of CPUs online.
pub fn nr_online() -> usize {
    NR_ONLINE.load(Ordering::Acquire) as usize
}

/// The blocks of every online CPU.
pub fn online() -> impl Iterator<Item = &'static PerCpu> {
    (0..MAX_CPUS).filter_map(cpu)
}

/// Set the GS base a user thread sees (`arch_prctl(ARCH_SET_GS)` and every
/// switch to a user thread): in kernel mode that is the inactive base,
/// which `swapgs` makes live on the way to ring 3.
pub fn set_user_gs_base(base: u64) {
    x86_64::registers::model_specific::KernelGsBase::write(x86_64::VirtAddr::new_truncate(base));
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;

    /// Kernel code finds its own block at gs:0, and the user's GS base is
    /// kept apart from it.
    #[ktest]
    pub fn gs_points_at_this_cpus_block() {
        x86_64::instructions::interrupts::without_interrupts(|| {
            let me = this_cpu();
            assert!(core::ptr::eq(me, cpu(me.cpu as usize).expect("own cpu online")));
            let gs = x86_64::registers::model_specific::GsBase::read().as_u64();
            assert_eq!(gs, me as *const PerCpu as u64);
            let saved = x86_64::registers::model_specific::KernelGsBase::read();
            set_user_gs_base(0x1234_5000);
            assert_eq!(x86_64::registers::model_specific::GsBase::read().as_u64(), gs, "user GS clobbered the kernel's");
            x86_64::registers::model_specific::KernelGsBase::write(saved);
        });
        assert!(nr_online() >= 1);
    }
}
