//! Time syscalls: clock_gettime, clock_getres, nanosleep, clock_nanosleep.

use mm::Errno;

use super::{Args, SysResult};
use crate::arch::time::now_ns;
use crate::uaccess::{read_user, write_user};

const CLOCK_REALTIME: u64 = 0;
const CLOCK_MONOTONIC: u64 = 1;
const CLOCK_PROCESS_CPUTIME_ID: u64 = 2;
const CLOCK_THREAD_CPUTIME_ID: u64 = 3;
const CLOCK_MONOTONIC_RAW: u64 = 4;
const CLOCK_REALTIME_COARSE: u64 = 5;
const CLOCK_MONOTONIC_COARSE: u64 = 6;
const CLOCK_BOOTTIME: u64 = 7;
/// International Atomic Time: Linux keeps it at REALTIME + the TAI offset,
/// which is 0 until NTP sets it; Holdfast has no NTP.
const CLOCK_TAI: u64 = 11;
const TIMER_ABSTIME: u64 = 1;
/// The resolution of the `_COARSE` clocks: one timer tick.
const TICK_NS: u64 = 1_000_000_000 / crate::arch::apic::HZ;

/// A `clockid_t` (an int) from a syscall argument.
fn clockid(arg: u64) -> u64 {
    arg as u32 as i32 as i64 as u64
}

fn clock_ns(clock: u64) -> Result<u64, Errno> {
    match clock {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE | CLOCK_TAI => Ok(crate::arch::rtc::boot_epoch_ns() + now_ns()),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => Ok(now_ns()),
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => {
            let ticks = crate::sched::current().ticks.load(core::sync::atomic::Ordering::Relaxed);
            Ok(ticks * 1_000_000_000 / crate::arch::apic::HZ)
        }
        _ => Err(Errno::EINVAL),
    }
}

fn write_timespec(addr: u64, ns: u64) -> Result<(), Errno> {
    write_user(addr, &[ns / 1_000_000_000, ns % 1_000_000_000])
}

pub(super) fn read_timespec(addr: u64) -> Result<u64, Errno> {
    let [sec, nsec] = read_user::<[u64; 2]>(addr)?;
    if (sec as i64) < 0 || nsec >= 1_000_000_000 {
        return Err(Errno::EINVAL);
    }
    Ok(sec.saturating_mul(1_000_000_000).saturating_add(nsec))
}

pub fn sys_clock_gettime(a: Args) -> SysResult {
    let [clock, tp, ..] = a.0;
    let ns = clock_ns(clockid(clock))?;
    write_timespec(tp, ns).map(|_| 0)
}

/// `time(tloc)`: the realtime clock's seconds, also stored at `tloc`
/// unless it is NULL.
pub fn sys_time(a: Args) -> SysResult {
    let [tloc, ..] = a.0;
    let secs = clock_ns(CLOCK_REALTIME)? / 1_000_000_000;
    if tloc != 0 {
        write_user(tloc, &secs)?;
    }
    Ok(secs)
}

/// `gettimeofday(tv, tz)`: the realtime clock in seconds and
/// microseconds; the timezone, if asked for, is UTC (minutes west 0, no
/// DST), as a Linux without `settimeofday(tz)` reports it.
pub fn sys_gettimeofday(a: Args) -> SysResult {
    let [tv, tz, ..] = a.0;
    if tv != 0 {
        let ns = clock_ns(CLOCK_REALTIME)?;
        write_user(tv, &[ns / 1_000_000_000, ns % 1_000_000_000 / 1000])?;
    }
    if tz != 0 {
        // struct timezone: two ints, both 0.
        write_user(tz, &0u64)?;
    }
    Ok(0)
}

pub fn sys_clock_getres(a: Args) -> SysResult {
    let [clock, res_ptr, ..] = a.0;
    let clock = clockid(clock);
    clock_ns(clock)?;
    if res_ptr != 0 {
        let res = if matches!(clock, CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE) { TICK_NS } else { 1 };
        write_timespec(res_ptr, res)?;
    }
    Ok(0)
}

/// A relative sleep until `deadline` (monotonic ns). A signal ends it
/// early: the time left goes to `rmtp` (unless 0) and the sleep continues
/// through `restart_syscall` unless a handler runs, after which it is
/// `EINTR` (Linux `hrtimer_nanosleep`'s `-ERESTART_RESTARTBLOCK`).
pub(super) fn nanosleep_until(deadline: u64, rmtp: u64) -> SysResult {
    if crate::proc::signal::interruptible_sleep_until(deadline).is_ok() {
        return Ok(0);
    }
    if rmtp != 0 {
        write_timespec(rmtp, deadline.saturating_sub(now_ns()))?;
    }
    crate::proc::signal::with_current(|t| t.restart = Some(crate::proc::signal::RestartBlock::NanoSleep { deadline, rmtp }));
    Err(Errno::ERESTART_RESTARTBLOCK)
}

pub fn sys_nanosleep(a: Args) -> SysResult {
    let [req, rem, ..] = a.0;
    let ns = read_timespec(req)?;
    nanosleep_until(now_ns().saturating_add(ns), rem)
}

pub fn sys_clock_nanosleep(a: Args) -> SysResult {
    let [clock, flags, req, rem, ..] = a.0;
    let clock = clockid(clock);
    // Linux's order: an unknown clock (EINVAL), a clock one cannot sleep on
    // (EOPNOTSUPP), then the request (EFAULT, EINVAL).
    let now = clock_ns(clock)?;
    if matches!(clock, CLOCK_THREAD_CPUTIME_ID | CLOCK_MONOTONIC_RAW | CLOCK_REALTIME_COARSE | CLOCK_MONOTONIC_COARSE) {
        return Err(Errno::EOPNOTSUPP);
    }
    let ns = read_timespec(req)?;
    if flags & TIMER_ABSTIME != 0 {
        // An absolute sleep is simply restarted (`-ERESTARTNOHAND`).
        let deadline = now_ns() + ns.saturating_sub(now);
        return crate::proc::signal::interruptible_sleep_until(deadline).map(|_| 0).map_err(|_| Errno::ERESTARTNOHAND);
    }
    nanosleep_until(now_ns().saturating_add(ns), rem)
}
