//! Bringing up the other CPUs (application processors, APs), and stopping
//! them when the kernel panics.
//!
//! The boot CPU finds the CPUs in the ACPI MADT ([`super::acpi`]) and
//! starts each one in turn with INIT, then up to two STARTUP IPIs (Intel's
//! "INIT-SIPI-SIPI"). An AP starts in real mode at the start of a page
//! below 1 MiB; that page holds [`TRAMPOLINE`] code copied there, and the
//! three pages after it a page table that identity-maps the first 2 MiB
//! (so the instruction after enabling paging is still mapped) and shares
//! the kernel's upper half. The trampoline switches straight from real
//! mode to long mode and jumps to [`ap_entry`] on a stack of its own; from
//! then on the AP runs on the kernel's page table.
//!
//! An AP that does not report itself online within [`AP_TIMEOUT_MS`] is
//! reported and left alone; the kernel goes on with the CPUs it has.
//!
//! Locking: APs are started one at a time by the boot CPU, which owns the
//! trampoline pages until the last AP has reported in; an AP's handshake
//! is the `ONLINE` flag.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::{apic, percpu};

/// How long an AP has to report itself online.
pub const AP_TIMEOUT_MS: u64 = 1000;
/// Kernel stack of an AP's first context (its idle thread's).
const AP_STACK_SIZE: usize = 64 * 1024;

core::arch::global_asm!(
    r#"
    .pushsection .rodata.holdfast_trampoline, "a"
    .global holdfast_trampoline_start
    .global holdfast_trampoline_end
    .code16
holdfast_trampoline_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    movl %cr4, %eax
    orl $0x20, %eax
    movl %eax, %cr4
    movl (holdfast_tr_cr3 - holdfast_trampoline_start), %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl (holdfast_tr_efer - holdfast_trampoline_start), %eax
    wrmsr
    lgdtl (holdfast_tr_gdtr - holdfast_trampoline_start)
    movl %cr0, %eax
    orl $0x80000001, %eax
    movl %eax, %cr0
    .byte 0x66, 0xEA
    .global holdfast_tr_jump
holdfast_tr_jump:
    .long 0
    .word 0x08
    .code64
    .global holdfast_tr_long
holdfast_tr_long:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movq holdfast_tr_stack(%rip), %rsp
    movq holdfast_tr_arg(%rip), %rdi
    movq holdfast_tr_entry(%rip), %rax
    pushq $0
    jmpq *%rax
    .balign 8
    .global holdfast_tr_gdt
holdfast_tr_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF
    .quad 0x00CF92000000FFFF
    .global holdfast_tr_gdtr
holdfast_tr_gdtr:
    .word 23
    .long 0
    .balign 8
    .global holdfast_tr_cr3
holdfast_tr_cr3:
    .long 0
    .global holdfast_tr_efer
holdfast_tr_efer:
    .long 0
    .global holdfast_tr_stack
holdfast_tr_stack:
    .quad 0
    .global holdfast_tr_entry
holdfast_tr_entry:
    .quad 0
    .global holdfast_tr_arg
holdfast_tr_arg:
    .quad 0
holdfast_trampoline_end:
    .popsection
"#,
    options(att_syntax)
);

extern "C" {
    static holdfast_trampoline_start: u8;
    static holdfast_trampoline_end: u8;
    static holdfast_tr_jump: u8;
    static holdfast_tr_long: u8;
    static holdfast_tr_gdt: u8;
    static holdfast_tr_gdtr: u8;
    static holdfast_tr_cr3: u8;
    static holdfast_tr_efer: u8;
    static holdfast_tr_stack: u8;
    static holdfast_tr_entry: u8;
    static holdfast_tr_arg: u8;
}

/// The trampoline's code and the offsets of the fields patched in it.
struct Trampoline {
    code: &'static [u8],
    jump: u64,
    long: u64,
    gdt: u64,
    gdtr: u64,
    cr3: u64,
    efer: u64,
    stack: u64,
    entry: u64,
    arg: u64,
}

fn trampoline() -> Trampoline {
    // SAFETY: start and end bound the read-only trampoline blob emitted
    // above; of the field labels inside it only the addresses are taken.
    unsafe {
        let start = core::ptr::addr_of!(holdfast_trampoline_start);
        let end = core::ptr::addr_of!(holdfast_trampoline_end);
        let off = |p: *const u8| p as u64 - start as u64;
        Trampoline {
            code: core::slice::from_raw_parts(start, end as usize - start as usize),
            jump: off(core::ptr::addr_of!(holdfast_tr_jump)),
            long: off(core::ptr::addr_of!(holdfast_tr_long)),
            gdt: off(core::ptr::addr_of!(holdfast_tr_gdt)),
            gdtr: off(core::ptr::addr_of!(holdfast_tr_gdtr)),
            cr3: off(core::ptr::addr_of!(holdfast_tr_cr3)),
            efer: off(core::ptr::addr_of!(holdfast_tr_efer)),
            stack: off(core::ptr::addr_of!(holdfast_tr_stack)),
            entry: off(core::ptr::addr_of!(holdfast_tr_entry)),
            arg: off(core::ptr::addr_of!(holdfast_tr_arg)),
        }
    }
}

/// The AP that is starting reports here (its CPU index + 1).
static ONLINE: AtomicU32 = AtomicU32::new(0);
/// APIC ID of each CPU index, for the AP to learn its own.
static APIC_IDS: [AtomicU32; percpu::MAX_CPUS] = [const { AtomicU32::new(0) }; percpu::MAX_CPUS];
/// What each AP runs once its CPU is set up (the scheduler's idle loop).
static AP_MAIN: spin::Once<fn() -> !> = spin::Once::new();

fn poke<T>(pa: u64, value: T) {
    // SAFETY: `pa` lies in the trampoline pages, which the boot CPU owns
    // (reserved from the frame allocator) while APs start.
    unsafe { core::ptr::write_unaligned(crate::memory::phys_to_virt(pa) as *mut T, value) }
}

fn busy_wait_us(us: u64) {
    let end = super::time::now_ns() + us * 1000;
    while super::time::now_ns() < end {
        core::hint::spin_loop();
    }
}

/// Start every enabled CPU of the MADT found from `rsdp`; each runs
/// `ap_main` once it is set up. Boot CPU, after its own per-CPU block,
/// GDT, IDT, APIC timer and heap exist, before the first user thread.
/// Returns the number of CPUs online.
pub fn boot_aps(rsdp: Option<u64>, ap_main: fn() -> !) -> usize {
    AP_MAIN.call_once(|| ap_main);
    let Some(rsdp) = rsdp else {
        log::info!("smp: no ACPI RSDP from the bootloader; running on the boot CPU only");
        return percpu::nr_online();
    };
    let cpus = match super::acpi::madt_cpus(rsdp) {
        Ok(c) => c,
        Err(e) => {
            log::warn!("smp: cannot read the MADT ({e}); running on the boot CPU only");
            return percpu::nr_online();
        }
    };
    let me = apic::id();
    log::info!("smp: MADT lists {} enabled CPUs; boot CPU has APIC ID {me}", cpus.len());
    let Some(low) = crate::memory::frame::trampoline_pages() else {
        log::warn!("smp: no free page below 1 MiB for the AP trampoline; running on the boot CPU only");
        return percpu::nr_online();
    };
    let t = trampoline();
    poke_trampoline(low, &t);
    let mut next_index = 1u32;
    for c in cpus.iter().filter(|c| c.apic_id != me) {
        if next_index as usize >= percpu::MAX_CPUS {
            log::warn!("smp: more than {} CPUs; APIC ID {} and later stay off", percpu::MAX_CPUS, c.apic_id);
            break;
        }
        if start_ap(low, &t, next_index, c.apic_id) {
            log::info!("cpu {next_index} online (apic id {})", c.apic_id);
            next_index += 1;
        } else {
            log::error!("smp: cpu with APIC ID {} did not come up within {AP_TIMEOUT_MS} ms; going on without it", c.apic_id);
        }
    }
    percpu::nr_online()
}

/// Copy the trampoline to `low` and build its page table in the three
/// pages after it.
fn poke_trampoline(low: u64, t: &Trampoline) {
    let (pml4, pdpt, pd) = (low + 0x1000, low + 0x2000, low + 0x3000);
    for (i, b) in t.code.iter().enumerate() {
        poke(low + i as u64, *b);
    }
    for table in [pml4, pdpt, pd] {
        for i in 0..512 {
            poke(table + i * 8, 0u64);
        }
    }
    const PRESENT_WRITABLE: u64 = 0b11;
    poke(pml4, pdpt | PRESENT_WRITABLE);
    poke(pdpt, pd | PRESENT_WRITABLE);
    poke(pd, PRESENT_WRITABLE | (1 << 7)); // 2 MiB page at 0
    let kernel = super::kernel_page_table();
    for i in 256..512u64 {
        // SAFETY: reading the kernel's PML4 through the physical mapping.
        let e = unsafe { core::ptr::read_volatile((crate::memory::phys_to_virt(kernel) as *const u64).add(i as usize)) };
        poke(pml4 + i * 8, e);
    }
    poke(low + t.jump, (low + t.long) as u32);
    poke(low + t.gdtr + 2, (low + t.gdt) as u32);
    poke(low + t.cr3, pml4 as u32);
    let nx = x86_64::registers::model_specific::Efer::read().contains(x86_64::registers::model_specific::EferFlags::NO_EXECUTE_ENABLE);
    poke(low + t.efer, (1u32 << 8) | if nx { 1 << 11 } else { 0 });
    poke(low + t.entry, ap_entry as *const () as u64);
}

/// Start one AP as CPU `index`: INIT, 10 ms, STARTUP, and a second
/// STARTUP if it has not answered after 200 us (Intel's MP protocol).
fn start_ap(low: u64, t: &Trampoline, index: u32, apic_id: u32) -> bool {
    let stack = alloc::vec![0u8; AP_STACK_SIZE].leak();
    poke(low + t.stack, (stack.as_ptr() as u64 + AP_STACK_SIZE as u64) & !0xF);
    poke(low + t.arg, index as u64);
    APIC_IDS[index as usize].store(apic_id, Ordering::SeqCst);
    ONLINE.store(0, Ordering::SeqCst);
    let page = (low >> 12) as u8;
    x86_64::instructions::interrupts::without_interrupts(|| {
        apic::send_init(apic_id);
        apic::send_init_deassert(apic_id);
    });
    busy_wait_us(10_000);
    for _ in 0..2 {
        x86_64::instructions::interrupts::without_interrupts(|| apic::send_sipi(apic_id, page));
        busy_wait_us(200);
        if ONLINE.load(Ordering::SeqCst) == index + 1 {
            return true;
        }
    }
    let end = super::time::now_ns() + AP_TIMEOUT_MS * 1_000_000;
    while super::time::now_ns() < end {
        if ONLINE.load(Ordering::SeqCst) == index + 1 {
            return true;
        }
        core::hint::spin_loop();
    }
    false
}

/// First Rust code of an AP, on its own stack, on the trampoline's page
/// table, interrupts disabled.
extern "C" fn ap_entry(index: u64) -> ! {
    use x86_64::registers::control::Cr3;
    let kernel = super::kernel_page_table();
    // SAFETY: the kernel's page table maps everything the kernel runs on,
    // including this stack (heap) and code.
    unsafe { Cr3::write(x86_64::structures::paging::PhysFrame::containing_address(x86_64::PhysAddr::new(kernel)), Cr3::read().1) };
    let index = index as u32;
    percpu::init_this_cpu(index, APIC_IDS[index as usize].load(Ordering::SeqCst));
    super::tlb::note_cr3_load(kernel);
    super::gdt::init();
    super::idt::init();
    super::enable_protections();
    super::syscall::init();
    apic::init_ap();
    ONLINE.store(index + 1, Ordering::SeqCst);
    (AP_MAIN.get().expect("boot_aps sets AP_MAIN"))()
}

/// A panic is in progress; other CPUs stop.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// The CPU that claimed the panic (`u32::MAX`: none).
static PANIC_CPU: AtomicU32 = AtomicU32::new(u32::MAX);

/// What a panicking CPU is to do ([`claim_panic`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanicRole {
    /// The first panic: the other CPUs are stopped; print and exit.
    First,
    /// A panic inside the panic path of this same CPU: exit at once.
    Nested,
    /// Another CPU panicked first: just stop.
    Other,
}

/// The CPUs (by number, one bit each) that have stopped for a panic.
static STOPPED: AtomicU64 = AtomicU64::new(0);

/// How long the panicking CPU waits for the others to stop (Linux's
/// `smp_send_stop` waits a second too).
const STOP_WAIT_NS: u64 = 1_000_000_000;

/// Has a CPU panicked (so that this one should stop)?
pub fn stopping() -> bool {
    STOPPING.load(Ordering::SeqCst)
}

/// The first CPU to panic claims the console and stops every other CPU
/// (an NMI, which reaches CPUs spinning with interrupts disabled), waiting
/// until each has stopped (or [`STOP_WAIT_NS`]) so that none of them
/// writes to the console again.
pub fn claim_panic() -> PanicRole {
    // Before the per-CPU blocks only the boot CPU runs: call it CPU 0.
    let me = if percpu::nr_online() == 0 { 0 } else { percpu::this_cpu().cpu };
    if STOPPING.swap(true, Ordering::SeqCst) {
        return if PANIC_CPU.load(Ordering::SeqCst) == me { PanicRole::Nested } else { PanicRole::Other };
    }
    PANIC_CPU.store(me, Ordering::SeqCst);
    if percpu::nr_online() == 0 {
        return PanicRole::First;
    }
    let others: Vec<(u32, u32)> = percpu::online().filter(|c| c.cpu != me).map(|c| (c.cpu, c.apic_id)).collect();
    let mask = others.iter().fold(0u64, |m, &(cpu, _)| m | 1 << cpu);
    for &(_, apic_id) in &others {
        apic::send_nmi(apic_id);
    }
    let deadline = super::time::now_ns().saturating_add(STOP_WAIT_NS);
    while STOPPED.load(Ordering::SeqCst) & mask != mask && super::time::now_ns() < deadline {
        core::hint::spin_loop();
    }
    PanicRole::First
}

/// Stop this CPU for good (interrupts off, halted), telling a panicking
/// CPU that waits for it.
pub fn stop_this_cpu() -> ! {
    x86_64::instructions::interrupts::disable();
    if percpu::nr_online() > 0 {
        STOPPED.fetch_or(1 << percpu::this_cpu().cpu, Ordering::SeqCst);
    }
    loop {
        x86_64::instructions::hlt();
    }
}
