//! The CMOS real-time clock, read once at boot to give `CLOCK_REALTIME`
//! its epoch (Holdfast keeps no other wall-clock time).

use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::instructions::port::Port;

static BOOT_EPOCH_NS: AtomicU64 = AtomicU64::new(0);

fn cmos(reg: u8) -> u8 {
    // SAFETY: ports 0x70/0x71 are the CMOS index/data ports; reading RTC
    // registers has no side effects.
    unsafe {
        Port::<u8>::new(0x70).write(reg);
        Port::<u8>::new(0x71).read()
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// Read the RTC (waiting out an update in progress) and record the epoch
/// time of boot (monotonic time 0).
pub fn init() {
    while cmos(0x0A) & 0x80 != 0 {
        core::hint::spin_loop();
    }
    let bcd = cmos(0x0B) & 0x04 == 0;
    let conv = |v: u8| if bcd { (v & 0x0F) + (v >> 4) * 10 } else { v };
    let (s, mi, h, d, mo, y) = (conv(cmos(0)), conv(cmos(2)), conv(cmos(4) & 0x7F), conv(cmos(7)), conv(cmos(8)), conv(cmos(9)));
    let days = days_from_civil(2000 + y as i64, mo as i64, d as i64);
    let secs = days * 86400 + h as i64 * 3600 + mi as i64 * 60 + s as i64;
    let now = super::time::now_ns();
    BOOT_EPOCH_NS.store((secs.max(0) as u64 * 1_000_000_000).saturating_sub(now), Ordering::Relaxed);
}

/// Wall-clock nanoseconds since 1970 at monotonic time 0.
pub fn boot_epoch_ns() -> u64 {
    BOOT_EPOCH_NS.load(Ordering::Relaxed)
}
