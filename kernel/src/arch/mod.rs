//! x86_64 machine support: per-CPU data, segments, interrupts, the local
//! APIC timer and IPIs, bringing up the other CPUs, TLB shootdown, the
//! clock, exception fixups and the QEMU exit device.
//!
//! The bottom layer of the kernel: `arch` imports nothing above it. What
//! the entry paths hand upwards (system calls, timer ticks, user faults,
//! exceptions from ring 3) goes through the function pointers registered
//! in [`handlers`]; what the scheduler hands down for a context switch is
//! plain data ([`SwitchTarget`]).

pub mod acpi;
pub mod apic;
pub mod cpu;
pub mod entry;
pub mod extable;
pub mod fpu;
pub mod gdt;
pub mod handlers;
pub mod idt;
pub mod ioapic;
pub mod percpu;
pub mod pit;
pub mod qemu;
pub mod rtc;
pub mod smp;
pub mod syscall;
pub mod time;
pub mod tlb;

/// The kernel's own page table (Linux `init_mm`): the bootloader's, whose
/// upper half every process's table shares. Recorded once at boot.
static KERNEL_CR3: spin::Once<u64> = spin::Once::new();

/// Remember the page table the CPU boots on as the kernel's own.
pub fn init_kernel_page_table() {
    let (root, _) = x86_64::registers::control::Cr3::read();
    KERNEL_CR3.call_once(|| root.start_address().as_u64());
}

/// Physical address of the kernel's own page table.
pub fn kernel_page_table() -> u64 {
    *KERNEL_CR3.get().expect("arch::init_kernel_page_table not called")
}

/// Physical address of the page table loaded on this CPU.
pub fn current_page_table() -> u64 {
    x86_64::registers::control::Cr3::read().0.start_address().as_u64()
}

/// Load the kernel's own page table on this CPU (Linux `switch_mm` to
/// `init_mm` in `exit_mm`): afterwards no translation of a user address
/// space is in use here, so that address space's tables may be freed.
pub fn switch_to_kernel_page_table() {
    let kernel = kernel_page_table();
    x86_64::instructions::interrupts::without_interrupts(|| load_page_table(kernel));
}

/// Load the page table rooted at `cr3` on this CPU, unless it is loaded
/// already, publishing it first for TLB shootdown ([`tlb`]). Interrupts
/// disabled.
pub fn load_page_table(cr3: u64) {
    use x86_64::registers::control::Cr3;
    let (cur, flags) = Cr3::read();
    if cur.start_address().as_u64() != cr3 {
        tlb::note_cr3_load(cr3);
        // SAFETY: every page table the kernel loads (its own, or a
        // process's) maps the kernel half, so the code running now stays
        // mapped.
        unsafe { Cr3::write(x86_64::structures::paging::PhysFrame::containing_address(x86_64::PhysAddr::new(cr3)), flags) };
    }
}

/// The per-thread machine state that a context switch loads, besides the
/// registers `sched::switch` saves on the stack.
#[derive(Clone, Copy, Debug)]
pub struct SwitchTarget {
    /// Top of the thread's kernel stack (0: keep the current one).
    pub kstack_top: u64,
    /// Root of the page table the thread runs on (0: keep the loaded one).
    pub cr3: u64,
    /// User FS base (TLS).
    pub fs_base: u64,
    /// User GS base.
    pub gs_base: u64,
}

/// Make `next` the thread the CPU runs on: its page table, the stack the
/// CPU enters the kernel on from ring 3, and its FS and GS bases.
/// Interrupts off.
///
/// A thread with no page table of its own (`cr3 == 0`: kernel threads,
/// and user threads that have left their address space on exit) runs on
/// the kernel's own table. (Linux instead keeps the previous table loaded,
/// its lazy TLB mode; Holdfast does not, so that the table a CPU has
/// loaded always belongs to the thread it runs, which is what the TLB
/// shootdown relies on, and a process's tables are never loaded on a CPU
/// once its last thread has left them.)
pub fn switch_address_space_and_stack(next: SwitchTarget) {
    let top = next.kstack_top;
    if top != 0 {
        gdt::set_kernel_stack(top);
        syscall::set_kernel_rsp(top);
    }
    load_page_table(if next.cr3 != 0 { next.cr3 } else { kernel_page_table() });
    x86_64::registers::model_specific::FsBase::write(x86_64::VirtAddr::new_truncate(next.fs_base));
    percpu::set_user_gs_base(next.gs_base);
}

/// The x87/SSE state a new program starts with (`fxsave` layout): FCW
/// 0x37F and MXCSR 0x1F80 (every exception masked), every register zero.
#[repr(C, align(16))]
struct InitialFpu([u8; 512]);

static INITIAL_FPU: InitialFpu = {
    let mut a = [0u8; 512];
    a[0] = 0x7F;
    a[1] = 0x03;
    a[24] = 0x80;
    a[25] = 0x1F;
    InitialFpu(a)
};

/// Give the running thread's next user program clean registers beyond its
/// frame (what `execve` does before the new program runs): the initial
/// x87/SSE state, and FS and GS bases of 0 (the caller clears the thread's
/// saved copies, which a switch loads). The kernel never uses the x87/SSE
/// registers; the scheduler saves and restores them with the thread.
pub fn reset_user_registers() {
    x86_64::instructions::interrupts::without_interrupts(|| {
        // SAFETY: INITIAL_FPU is a valid 16-byte aligned 512-byte fxsave
        // image (reserved fields zero, MXCSR without reserved bits set).
        unsafe { core::arch::x86_64::_fxrstor64(INITIAL_FPU.0.as_ptr()) };
        x86_64::registers::model_specific::FsBase::write(x86_64::VirtAddr::zero());
        percpu::set_user_gs_base(0);
    });
}

/// Halt until the next interrupt, forever.
pub fn halt_loop() -> ! {
    loop {
        x86_64::instructions::hlt();
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::extable::{probe_read_u64, probe_write_u64};
    use crate::ktest::ktest;

    /// An address in an upper-half PML4 slot that nothing maps.
    fn unmapped_kernel_address() -> u64 {
        let (root, _) = x86_64::registers::control::Cr3::read();
        let pml4 = crate::memory::phys_to_virt(root.start_address().as_u64()) as *const u64;
        let idx = (256..512)
            // SAFETY: reading PML4 entries through the physical-memory mapping.
            .find(|&i| unsafe { pml4.add(i).read_volatile() } & 1 == 0)
            .expect("a free PML4 slot");
        0xFFFF_0000_0000_0000 | ((idx as u64) << 39) | 0x1238
    }

    #[ktest]
    pub fn page_fault_on_unmapped_kernel_address_is_caught() {
        let addr = unmapped_kernel_address();
        let fault = probe_read_u64(addr).expect_err("read of an unmapped address succeeded");
        assert_eq!(fault.addr, addr, "CR2 reported wrong address");
        assert!(probe_write_u64(addr, 1).is_err());
        // A mapped address still reads fine through the same probe.
        let x: u64 = 0xDEAD_BEEF;
        assert_eq!(probe_read_u64(&x as *const u64 as u64), Ok(0xDEAD_BEEF));
    }

    #[ktest]
    pub fn non_canonical_access_is_caught() {
        assert!(probe_read_u64(0x8000_0000_0000_0000).is_err());
    }

    #[ktest]
    pub fn write_to_read_only_page_is_caught() {
        // The kernel's own code is mapped read-only.
        let code = write_to_read_only_page_is_caught as *const () as u64;
        let before = probe_read_u64(code).expect("code is readable");
        assert!(probe_write_u64(code, 0).is_err(), "write to kernel text succeeded");
        assert_eq!(probe_read_u64(code), Ok(before));
    }

    #[ktest]
    pub fn timer_ticks_advance() {
        let t0 = super::apic::ticks();
        let start = super::time::now_ns();
        while super::apic::ticks() < t0 + 5 {
            x86_64::instructions::hlt();
            assert!(super::time::now_ns() - start < 5_000_000_000, "timer not ticking");
        }
        let elapsed_ms = (super::time::now_ns() - start) / 1_000_000;
        // 5 ticks at HZ take 20 ms; allow a wide margin for TCG.
        assert!(elapsed_ms >= 10, "ticks came too fast: 5 ticks in {elapsed_ms} ms");
    }

    #[ktest]
    pub fn clock_is_monotonic_and_calibrated() {
        assert!(super::time::tsc_per_ms() > 0);
        assert!(super::apic::timer_per_ms() > 0);
        let mut last = super::time::now_ns();
        for _ in 0..10_000 {
            let now = super::time::now_ns();
            assert!(now >= last);
            last = now;
        }
    }
}

/// Turn on the CPU's protections — write-protect in ring 0 (CR0.WP), and
/// no-execute pages (EFER.NXE), SMEP and SMAP where the CPU has them — and
/// SSE (`fxsave`/`fxrstor`) for user programs. Detects the CPU's features
/// ([`cpu::detect`]) and returns them.
pub fn enable_protections() -> cpu::Features {
    use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};
    use x86_64::registers::model_specific::{Efer, EferFlags};
    let features = cpu::detect();
    // SAFETY: enabling WP/NXE keeps every existing mapping valid; SMEP and
    // SMAP only restrict kernel access to user pages, of which none exist
    // yet. Each feature bit is set only if CPUID reports it (setting an
    // unsupported CR4 or EFER bit faults).
    unsafe {
        // SSE for user programs (the kernel itself never uses it).
        Cr0::update(|f| {
            f.insert(Cr0Flags::WRITE_PROTECT | Cr0Flags::MONITOR_COPROCESSOR);
            f.remove(Cr0Flags::EMULATE_COPROCESSOR);
        });
        if features.nx {
            Efer::update(|f| f.insert(EferFlags::NO_EXECUTE_ENABLE));
        }
        Cr4::update(|f| {
            f.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE);
            if features.smep {
                f.insert(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION);
            }
            if features.smap {
                f.insert(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION);
            }
        });
    }
    if features.smap {
        extable::set_smap_enabled();
    }
    features
}
