//! Local APIC: each CPU's timer tick and the inter-processor interrupts.
//!
//! The local APIC is driven in xAPIC mode (registers in the memory page
//! reached through the bootloader's physical-memory mapping) or, when the
//! firmware handed it over in x2APIC mode (IA32_APIC_BASE.EXTD), through
//! its MSRs; every register access goes through [`read`]/[`write`], which
//! pick the mode. The timer is calibrated once against the PIT on the boot
//! CPU and then runs periodically at [`HZ`] on vector [`TIMER_VECTOR`] on
//! every CPU; the boot CPU's ticks advance [`ticks`].
//!
//! Locking: each CPU writes only its own local APIC, with interrupts
//! disabled (the ICR write of an IPI, EOI) or at bring-up.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use x86_64::registers::model_specific::Msr;

/// Timer interrupts per second.
pub const HZ: u64 = 250;
/// Vector of the local APIC timer.
pub const TIMER_VECTOR: u8 = 0x20;
/// Vector of the reschedule IPI (a thread was woken for this CPU).
pub const RESCHEDULE_VECTOR: u8 = 0xF0;
/// Vector of the TLB-flush IPI ([`super::tlb`]).
pub const TLB_FLUSH_VECTOR: u8 = 0xF1;
/// Vector of the stop IPI (another CPU panicked).
pub const STOP_VECTOR: u8 = 0xF2;
/// Vector of spurious interrupts.
pub const SPURIOUS_VECTOR: u8 = 0xFF;

const REG_ID: u64 = 0x20;
const REG_EOI: u64 = 0xB0;
const REG_SVR: u64 = 0xF0;
const REG_LVT_TIMER: u64 = 0x320;
const REG_TIMER_INIT: u64 = 0x380;
const REG_TIMER_CURRENT: u64 = 0x390;
const REG_TIMER_DIVIDE: u64 = 0x3E0;
const REG_ICR_LOW: u64 = 0x300;
const REG_ICR_HIGH: u64 = 0x310;
const IA32_APIC_BASE: u32 = 0x1B;
/// IA32_APIC_BASE: x2APIC mode enabled.
const APIC_BASE_EXTD: u64 = 1 << 10;
/// First x2APIC MSR; register `reg` of the xAPIC page is MSR
/// `X2APIC_MSR_BASE + reg / 16`.
const X2APIC_MSR_BASE: u32 = 0x800;

static APIC_BASE: AtomicU64 = AtomicU64::new(0);
static X2APIC: AtomicBool = AtomicBool::new(false);
static TICKS: AtomicU64 = AtomicU64::new(0);
static TIMER_PER_MS: AtomicU64 = AtomicU64::new(0);

fn read(reg: u64) -> u32 {
    if X2APIC.load(Ordering::Relaxed) {
        // SAFETY: in x2APIC mode every xAPIC register has an MSR; reading
        // the ones used here has no side effects.
        return unsafe { Msr::new(X2APIC_MSR_BASE + (reg / 16) as u32).read() } as u32;
    }
    // SAFETY: APIC_BASE is the virtual address of the local APIC page
    // (set in init); `reg` is an architectural register offset.
    unsafe { core::ptr::read_volatile((APIC_BASE.load(Ordering::Relaxed) + reg) as *const u32) }
}

fn write(reg: u64, val: u32) {
    if X2APIC.load(Ordering::Relaxed) {
        // SAFETY: as in `read`; writes program this CPU's own APIC.
        unsafe { Msr::new(X2APIC_MSR_BASE + (reg / 16) as u32).write(val as u64) };
        return;
    }
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile((APIC_BASE.load(Ordering::Relaxed) + reg) as *mut u32, val) }
}

/// Find this CPU's local APIC and enable it (software enable, spurious
/// vector). The mode follows what the firmware chose: x2APIC if it is on
/// (it cannot be turned off without a reset), xAPIC otherwise.
fn enable_this_cpu() {
    // SAFETY: reading IA32_APIC_BASE is side-effect free.
    let base_msr = unsafe { Msr::new(IA32_APIC_BASE).read() };
    let phys = base_msr & 0xF_FFFF_F000;
    APIC_BASE.store(crate::memory::phys_to_virt(phys), Ordering::Relaxed);
    X2APIC.store(base_msr & APIC_BASE_EXTD != 0, Ordering::Relaxed);
    write(REG_SVR, 0x100 | SPURIOUS_VECTOR as u32);
}

/// Is the local APIC in x2APIC mode?
pub fn x2apic() -> bool {
    X2APIC.load(Ordering::Relaxed)
}

/// This CPU's local APIC ID.
pub fn id() -> u32 {
    let v = read(REG_ID);
    if x2apic() {
        v
    } else {
        v >> 24
    }
}

/// Enable the boot CPU's local APIC (before the per-CPU blocks exist, so
/// that its ID is known).
pub fn enable_boot_cpu() {
    enable_this_cpu();
}

/// Enable the local APIC, calibrate its timer (and the TSC) against the PIT,
/// and start the periodic tick. Boot CPU, interrupts still disabled.
pub fn init() {
    enable_this_cpu();

    // One 10 ms PIT window calibrates both the TSC and the APIC timer.
    write(REG_TIMER_DIVIDE, 0x3); // divide by 16
    write(REG_LVT_TIMER, 1 << 16); // masked one-shot
    let mut tsc0 = 0;
    super::pit::wait_ms(10, || {
        write(REG_TIMER_INIT, u32::MAX);
        // SAFETY: RDTSC has no side effects.
        tsc0 = unsafe { core::arch::x86_64::_rdtsc() };
    });
    // SAFETY: as above.
    let tsc1 = unsafe { core::arch::x86_64::_rdtsc() };
    let elapsed = u32::MAX - read(REG_TIMER_CURRENT);
    write(REG_TIMER_INIT, 0);
    super::time::set_calibration(tsc1 - tsc0, 10);
    let per_ms = (elapsed as u64 / 10).max(1);
    TIMER_PER_MS.store(per_ms, Ordering::Relaxed);

    start_timer();
}

fn start_timer() {
    write(REG_TIMER_DIVIDE, 0x3); // divide by 16
    write(REG_LVT_TIMER, TIMER_VECTOR as u32 | (1 << 17)); // periodic
    write(REG_TIMER_INIT, (timer_per_ms() * 1000 / HZ) as u32);
}

/// Enable an application processor's local APIC and start its tick with
/// the boot CPU's calibration (all local APIC timers of a machine run
/// from the same bus clock). Interrupts disabled.
pub fn init_ap() {
    enable_this_cpu();
    start_timer();
}

/// Write the interrupt command register: `low` (vector, delivery mode,
/// level, trigger) to the CPU with APIC ID `dest`, and wait until the
/// xAPIC has accepted it. Interrupts disabled (ICR writes of one CPU must
/// not interleave).
fn send_icr(dest: u32, low: u32) {
    if x2apic() {
        // SAFETY: the x2APIC ICR is a single 64-bit MSR: destination in the
        // high half, the command in the low half; writing it sends.
        unsafe { Msr::new(X2APIC_MSR_BASE + 0x30).write(((dest as u64) << 32) | low as u64) };
        return;
    }
    write(REG_ICR_HIGH, dest << 24);
    write(REG_ICR_LOW, low);
    // Delivery status (bit 12): 1 while the IPI is being sent.
    while read(REG_ICR_LOW) & (1 << 12) != 0 {
        core::hint::spin_loop();
    }
}

/// Send a fixed interrupt on `vector` to the CPU with APIC ID `dest`.
pub fn send_ipi(dest: u32, vector: u8) {
    x86_64::instructions::interrupts::without_interrupts(|| send_icr(dest, vector as u32 | (1 << 14)));
}

/// Send an NMI to the CPU with APIC ID `dest` (the panic stop, which must
/// reach a CPU spinning with interrupts disabled).
pub fn send_nmi(dest: u32) {
    x86_64::instructions::interrupts::without_interrupts(|| send_icr(dest, (0b100 << 8) | (1 << 14)));
}

/// INIT IPI (assert, level) to `dest`: the first step of starting an AP.
pub fn send_init(dest: u32) {
    send_icr(dest, (0b101 << 8) | (1 << 14) | (1 << 15));
}

/// INIT de-assert, for xAPICs that want it (a no-op elsewhere).
pub fn send_init_deassert(dest: u32) {
    if !x2apic() {
        send_icr(dest, (0b101 << 8) | (1 << 15));
    }
}

/// Start-up IPI to `dest`: the AP starts in real mode at `page << 12`.
pub fn send_sipi(dest: u32, page: u8) {
    send_icr(dest, (0b110 << 8) | (1 << 14) | page as u32);
}

/// Signal end of interrupt.
pub fn eoi() {
    write(REG_EOI, 0);
}

/// Called by the timer interrupt handler: counts the tick on this CPU,
/// and on the boot CPU in the global count.
pub fn on_tick() {
    let me = super::percpu::this_cpu();
    me.ticks.fetch_add(1, Ordering::Relaxed);
    if me.cpu == 0 {
        TICKS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Boot-CPU timer ticks since the timer started.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// APIC timer counts per millisecond (after division by 16).
pub fn timer_per_ms() -> u64 {
    TIMER_PER_MS.load(Ordering::Relaxed)
}
