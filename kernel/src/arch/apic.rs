//! Local APIC and its timer: the periodic tick.
//!
//! The local APIC is reached through the bootloader's physical-memory
//! mapping (which covers the first 4 GiB, where the APIC lives). The timer
//! is calibrated against the PIT and then runs periodically at [`HZ`] on
//! vector [`TIMER_VECTOR`]; each tick increments [`ticks`].
//!
//! Locking: registers are written at boot and from interrupt context (EOI)
//! of the single CPU.

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::registers::model_specific::Msr;

/// Timer interrupts per second.
pub const HZ: u64 = 250;
/// Vector of the local APIC timer.
pub const TIMER_VECTOR: u8 = 0x20;
/// Vector of spurious interrupts.
pub const SPURIOUS_VECTOR: u8 = 0xFF;

const REG_EOI: u64 = 0xB0;
const REG_SVR: u64 = 0xF0;
const REG_LVT_TIMER: u64 = 0x320;
const REG_TIMER_INIT: u64 = 0x380;
const REG_TIMER_CURRENT: u64 = 0x390;
const REG_TIMER_DIVIDE: u64 = 0x3E0;
const IA32_APIC_BASE: u32 = 0x1B;

static APIC_BASE: AtomicU64 = AtomicU64::new(0);
static TICKS: AtomicU64 = AtomicU64::new(0);
static TIMER_PER_MS: AtomicU64 = AtomicU64::new(0);

fn read(reg: u64) -> u32 {
    // SAFETY: APIC_BASE is the virtual address of the local APIC page
    // (set in init); `reg` is an architectural register offset.
    unsafe { core::ptr::read_volatile((APIC_BASE.load(Ordering::Relaxed) + reg) as *const u32) }
}

fn write(reg: u64, val: u32) {
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile((APIC_BASE.load(Ordering::Relaxed) + reg) as *mut u32, val) }
}

/// Enable the local APIC, calibrate its timer (and the TSC) against the PIT,
/// and start the periodic tick. Interrupts must still be disabled.
pub fn init() {
    // SAFETY: reading IA32_APIC_BASE is side-effect free.
    let base_msr = unsafe { Msr::new(IA32_APIC_BASE).read() };
    let phys = base_msr & 0xF_FFFF_F000;
    APIC_BASE.store(crate::memory::phys_to_virt(phys), Ordering::Relaxed);
    write(REG_SVR, 0x100 | SPURIOUS_VECTOR as u32);

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

    write(REG_LVT_TIMER, TIMER_VECTOR as u32 | (1 << 17)); // periodic
    write(REG_TIMER_INIT, (per_ms * 1000 / HZ) as u32);
}

/// Signal end of interrupt.
pub fn eoi() {
    write(REG_EOI, 0);
}

/// Called by the timer interrupt handler.
pub fn on_tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
}

/// Timer ticks since the timer started.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// APIC timer counts per millisecond (after division by 16).
pub fn timer_per_ms() -> u64 {
    TIMER_PER_MS.load(Ordering::Relaxed)
}
