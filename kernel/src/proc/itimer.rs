//! `ITIMER_REAL`: a per-process real-time interval timer that sends
//! SIGALRM to its process when it expires (`alarm`, `setitimer`,
//! `getitimer`; Linux `kernel/time/itimer.c`).
//!
//! Each process keeps its timer ([`ITimerReal`]: the next expiry on the
//! monotonic clock and the interval, 0 when disarmed or one-shot). One
//! kernel thread, `itimer`, started with the first armed timer, sleeps
//! until the earliest expiry of all armed timers, sends SIGALRM for every
//! expired one (with `SI_KERNEL`, as Linux's `it_real_fn`) and re-arms the
//! periodic ones. Arming a timer wakes it to recompute its sleep.
//!
//! Locking: the global list of processes with a timer, then each
//! process's `itimer_real`, each held briefly; SIGALRM is sent with
//! neither held.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use super::signal::{self, SigInfo};
use super::Process;
use crate::arch::time::now_ns;
use crate::sched::{self, Thread};
use crate::sync::IrqMutex;

/// One process's `ITIMER_REAL`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ITimerReal {
    /// Next expiry (monotonic ns), 0 if disarmed.
    pub deadline: u64,
    /// Period (ns), 0 for a one-shot timer.
    pub interval: u64,
}

/// Processes whose timer may be armed.
static ARMED: IrqMutex<Vec<Weak<Process>>> = IrqMutex::new(Vec::new());
/// The timer thread, once started.
static THREAD: spin::Once<Arc<Thread>> = spin::Once::new();

/// The timer of `p` as `getitimer` reports it: the time left (0 when
/// disarmed) and the interval, in ns.
pub fn get(p: &Process) -> (u64, u64) {
    let t = *p.itimer_real.lock();
    let left = if t.deadline == 0 { 0 } else { t.deadline.saturating_sub(now_ns()).max(1000) };
    (left, t.interval)
}

/// Arm (`value` ns from now, then every `interval` ns) or disarm
/// (`value` 0) the timer of `p`; returns the old (left, interval).
pub fn set(p: &Arc<Process>, value: u64, interval: u64) -> (u64, u64) {
    let old = get(p);
    let deadline = if value == 0 { 0 } else { now_ns().saturating_add(value) };
    *p.itimer_real.lock() = ITimerReal { deadline, interval: if value == 0 { 0 } else { interval } };
    if deadline != 0 {
        {
            let mut armed = ARMED.lock();
            armed.retain(|w| w.strong_count() > 0);
            if !armed.iter().any(|w| core::ptr::eq(w.as_ptr(), Arc::as_ptr(p))) {
                armed.push(Arc::downgrade(p));
            }
        }
        let t = THREAD.call_once(|| {
            let t = Thread::new(sched::thread::alloc_tid(), alloc::string::String::from("itimer"));
            sched::spawn(t, timer_thread)
        });
        sched::wake(t);
    }
    old
}

/// The `itimer` thread: fire what expired, sleep until the next expiry.
fn timer_thread() -> ! {
    loop {
        let now = now_ns();
        let procs: Vec<Arc<Process>> = {
            let mut armed = ARMED.lock();
            armed.retain(|w| w.strong_count() > 0);
            armed.iter().filter_map(|w| w.upgrade()).collect()
        };
        let mut next = u64::MAX;
        for p in procs {
            if p.dead.load(core::sync::atomic::Ordering::SeqCst) {
                continue;
            }
            let fire = {
                let mut t = p.itimer_real.lock();
                let fire = t.deadline != 0 && t.deadline <= now;
                if fire {
                    // Periods that passed unseen are overruns: the next
                    // expiry is the first one in the future.
                    t.deadline = match (now - t.deadline).checked_div(t.interval) {
                        None => 0,
                        Some(missed) => t.deadline.saturating_add((missed + 1).saturating_mul(t.interval)),
                    };
                }
                if t.deadline != 0 {
                    next = next.min(t.deadline);
                }
                fire
            };
            if fire {
                let _ = signal::send_to_process(&p, SigInfo::kernel(signal::SIGALRM));
            }
        }
        if next == u64::MAX {
            sched::block_current();
        } else {
            sched::block_until(next);
        }
    }
}
