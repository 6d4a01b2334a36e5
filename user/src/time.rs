//! Clocks and sleeping, via `clock_gettime` and `nanosleep` (no vDSO: every
//! reading is a real system call, which is what we want to exercise).

use crate::sys::{self, Errno, Timespec};

pub use sys::{CLOCK_MONOTONIC, CLOCK_REALTIME};

/// Nanoseconds on CLOCK_MONOTONIC (0 if the clock is unavailable).
pub fn monotonic_ns() -> u64 {
    sys::clock_gettime(CLOCK_MONOTONIC).map_or(0, |t| t.as_ns())
}

/// Sleep for `ns` nanoseconds, resuming after EINTR.
pub fn sleep_ns(ns: u64) -> Result<(), Errno> {
    let end = monotonic_ns() + ns;
    loop {
        let now = monotonic_ns();
        if now >= end {
            return Ok(());
        }
        match sys::nanosleep(&Timespec::from_ns(end - now)) {
            Ok(()) => return Ok(()),
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
}

/// A CLOCK_MONOTONIC instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instant(pub u64);

impl Instant {
    pub fn now() -> Self {
        Instant(monotonic_ns())
    }
    pub fn elapsed_ns(&self) -> u64 {
        monotonic_ns().saturating_sub(self.0)
    }
}
