//! Monotonic time from the TSC, calibrated against the PIT at boot.
//!
//! `now_ns()` counts nanoseconds since calibration. Before calibration it
//! returns 0. The TSC is assumed invariant (true on every CPU QEMU emulates
//! and on modern PCs).

use core::sync::atomic::{AtomicU64, Ordering};

static TSC_AT_BOOT: AtomicU64 = AtomicU64::new(0);
static TSC_PER_MS: AtomicU64 = AtomicU64::new(0);

fn rdtsc() -> u64 {
    // SAFETY: RDTSC has no side effects and is available on every x86_64 CPU.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Record a calibration: `tsc_ticks` elapsed during `ms` milliseconds.
pub fn set_calibration(tsc_ticks: u64, ms: u64) {
    TSC_PER_MS.store((tsc_ticks / ms).max(1), Ordering::Relaxed);
    TSC_AT_BOOT.store(rdtsc(), Ordering::Relaxed);
}

/// TSC ticks per millisecond (0 before calibration).
pub fn tsc_per_ms() -> u64 {
    TSC_PER_MS.load(Ordering::Relaxed)
}

/// Nanoseconds since calibration.
pub fn now_ns() -> u64 {
    let per_ms = TSC_PER_MS.load(Ordering::Relaxed);
    if per_ms == 0 {
        return 0;
    }
    let delta = rdtsc().saturating_sub(TSC_AT_BOOT.load(Ordering::Relaxed));
    (delta as u128 * 1_000_000 / per_ms as u128) as u64
}
