//! Signal system calls: actions, masks, pending sets, waiting for
//! signals, sending them, the alternate stack, `rt_sigreturn` and the
//! `ITIMER_REAL` timer (`alarm`, `setitimer`, `getitimer`).
//!
//! Argument checks come in Linux's order; the work is done by
//! [`crate::proc::signal`], [`crate::proc::sigframe`] and
//! [`crate::proc::itimer`].

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use mm::Errno;

use super::{Args, SysResult};
use crate::arch::syscall::UserFrame;
use crate::proc::signal::{self, AltStack, SigAction, SigInfo, SigSet, UNBLOCKABLE};
use crate::proc::{self, itimer, sigframe, Process};
use crate::sched;
use crate::uaccess::{copy_to_user, read_user, write_user};

/// `sizeof(sigset_t)` in the kernel's ABI.
const SIGSET_SIZE: u64 = 8;

/// `rt_sigaction`. Linux's order: the set size (EINVAL), reading the new
/// action (EFAULT), the signal number (EINVAL, also for SIGKILL/SIGSTOP
/// with a new action), writing the old action (EFAULT).
pub fn sys_rt_sigaction(a: Args) -> SysResult {
    let [sig, act, oldact, sigsetsize, ..] = a.0;
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 { Some(SigAction::from_words(read_user::<[u64; 4]>(act)?)) } else { None };
    let sig = signal::valid_signal(sig).ok_or(Errno::EINVAL)?;
    let old = signal::do_sigaction(&proc::current(), sig, new)?;
    if oldact != 0 {
        write_user(oldact, &old.to_words())?;
    }
    Ok(0)
}

const SIG_BLOCK: u64 = 0;
const SIG_UNBLOCK: u64 = 1;
const SIG_SETMASK: u64 = 2;

/// `rt_sigprocmask` on the calling thread's mask. Linux's order: the set
/// size (EINVAL), reading the new set (EFAULT), `how` (EINVAL), writing
/// the old set (EFAULT). SIGKILL and SIGSTOP are never blocked.
pub fn sys_rt_sigprocmask(a: Args) -> SysResult {
    let [how, set, oldset, sigsetsize, ..] = a.0;
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let me = sched::current();
    let old = me.sigmask.load(Ordering::SeqCst);
    if set != 0 {
        let new = read_user::<u64>(set)?;
        let mask = match how as u32 as u64 {
            SIG_BLOCK => old | new,
            SIG_UNBLOCK => old & !new,
            SIG_SETMASK => new,
            _ => return Err(Errno::EINVAL),
        };
        signal::set_current_blocked(mask);
    }
    if oldset != 0 {
        write_user(oldset, &old)?;
    }
    Ok(0)
}

/// `rt_sigpending`: the blocked signals pending for the thread or its
/// process; a set size above 8 is EINVAL, a smaller one gets that many
/// bytes.
pub fn sys_rt_sigpending(a: Args) -> SysResult {
    let [set, sigsetsize, ..] = a.0;
    if sigsetsize > SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let pending = signal::pending_blocked();
    copy_to_user(set, &pending.to_le_bytes()[..sigsetsize as usize]).map(|_| 0)
}

/// Sleep until a signal is pending, then fail so that it is delivered
/// (`-ERESTARTNOHAND`: `EINTR` after a handler, a restart otherwise).
fn wait_for_signal() -> SysResult {
    sched::wait_for_signal();
    Err(Errno::ERESTARTNOHAND)
}

/// `pause`.
pub fn sys_pause(_a: Args) -> SysResult {
    wait_for_signal()
}

/// `rt_sigsuspend`: wait with `mask` blocked; the old mask comes back
/// when the handler returns (it is what the frame saves), or at once if
/// no handler runs.
pub fn sys_rt_sigsuspend(a: Args) -> SysResult {
    let [mask, sigsetsize, ..] = a.0;
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = read_user::<u64>(mask)?;
    let old = signal::set_current_blocked(mask);
    signal::with_current(|t| t.saved_mask = Some(old));
    wait_for_signal()
}

/// `rt_sigtimedwait`: take a pending signal of `these` without running
/// its handler, waiting for one (with them unblocked) up to the timeout:
/// `EAGAIN` when it passes, `EINTR` when another signal comes.
pub fn sys_rt_sigtimedwait(a: Args) -> SysResult {
    let [uthese, uinfo, uts, sigsetsize, ..] = a.0;
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let these: SigSet = read_user::<u64>(uthese)? & !UNBLOCKABLE;
    let timeout = if uts != 0 { Some(super::time::read_timespec(uts)?) } else { None };
    let got = match signal::dequeue(these) {
        Some(info) => Ok(info),
        None if timeout == Some(0) => Err(Errno::EAGAIN),
        None => {
            let deadline = timeout.map(|t| crate::arch::time::now_ns().saturating_add(t));
            signal::sigtimedwait_begin(these);
            let me = sched::current();
            let mut timed_out = false;
            while !me.signal_pending() {
                match deadline {
                    Some(d) if crate::arch::time::now_ns() >= d => {
                        timed_out = true;
                        break;
                    }
                    Some(d) => sched::block_until(d),
                    None => sched::block_current(),
                }
            }
            signal::sigtimedwait_end();
            match signal::dequeue(these) {
                Some(info) => Ok(info),
                None if timed_out => Err(Errno::EAGAIN),
                None => Err(Errno::EINTR),
            }
        }
    };
    let info = got?;
    if uinfo != 0 {
        copy_to_user(uinfo, &info.to_bytes())?;
    }
    Ok(u64::from(info.signo))
}

/// `stack_t`: `ss_sp`, `ss_flags` (an int), `ss_size`.
fn read_stack(addr: u64) -> Result<AltStack, Errno> {
    let [sp, flags, size] = read_user::<[u64; 3]>(addr)?;
    Ok(AltStack { sp, size, flags: flags as u32 })
}

/// `sigaltstack`: reading the new stack (EFAULT), setting it (EPERM,
/// EINVAL, ENOMEM: see `do_sigaltstack`), writing the old one (EFAULT).
pub fn sys_sigaltstack(a: Args, frame: &UserFrame) -> SysResult {
    let [uss, uoss, ..] = a.0;
    let new = if uss != 0 { Some(read_stack(uss)?) } else { None };
    let old = sigframe::do_sigaltstack(new, frame.rsp)?;
    if uoss != 0 {
        write_user(uoss, &[old.sp, u64::from(old.flags), old.size])?;
    }
    Ok(0)
}

/// `rt_sigreturn`: back from a handler.
pub fn sys_rt_sigreturn(frame: &mut UserFrame) -> SysResult {
    let r = sigframe::sys_rt_sigreturn(frame);
    // Never restart anything because of the restored RAX.
    sched::current().orig_rax.store(sched::thread::NO_SYSCALL, Ordering::SeqCst);
    r
}

/// `restart_syscall`: continue what was interrupted with
/// `-ERESTART_RESTARTBLOCK`; `EINTR` if nothing was.
pub fn sys_restart_syscall(_a: Args) -> SysResult {
    match signal::with_current(|t| t.restart.take()) {
        Some(signal::RestartBlock::NanoSleep { deadline, rmtp }) => super::time::nanosleep_until(deadline, rmtp),
        None => Err(Errno::EINTR),
    }
}

/// A signal number for `kill`-like calls: 0 (only check the target) or
/// 1..=64, else EINVAL.
fn kill_signal(arg: u64) -> Result<u8, Errno> {
    let sig = arg as u32 as i32;
    if sig == 0 {
        Ok(0)
    } else {
        signal::valid_signal(arg).ok_or(Errno::EINVAL)
    }
}

/// Linux `kill_ok_by_cred`: `CAP_KILL`, or a sender whose real or
/// effective uid is the target's real or saved uid.
fn may_signal(target: &Process) -> bool {
    let me = proc::current();
    if core::ptr::eq(&*me, target) {
        return true;
    }
    let mine = me.creds();
    if mine.capable(proc::cred::CAP_KILL) {
        return true;
    }
    let theirs = target.creds();
    [mine.uid, mine.euid].iter().any(|u| *u == theirs.uid || *u == theirs.suid)
}

/// Send `sig` (0: check only) to process `p` from the current process.
fn kill_process(p: &Arc<Process>, sig: u64) -> SysResult {
    let sig = kill_signal(sig)?;
    if !may_signal(p) {
        return Err(Errno::EPERM);
    }
    // A zombie takes no signal, and that is no error.
    if sig != 0 && !p.dead.load(Ordering::SeqCst) {
        signal::send_to_process(p, SigInfo::from_current(sig, signal::SI_USER))?;
    }
    Ok(0)
}

/// `kill` (Linux `kill_something_info`): whom `pid` names is
/// `process::kill_targets`'s answer (`ESRCH` before `EINVAL`). A group
/// succeeds if any member took the signal, else fails with the last
/// member's error (`__kill_pgrp_info`).
pub fn sys_kill(a: Args) -> SysResult {
    let [pid, sig, ..] = a.0;
    let pid = pid as u32 as i32; // a pid_t
    let targets = super::process::kill_targets(pid)?;
    if pid > 0 {
        return kill_process(&targets[0], sig);
    }
    let mut last = Err(Errno::ESRCH);
    let mut any = false;
    for t in &targets {
        last = kill_process(t, sig);
        any |= last.is_ok();
    }
    if any {
        Ok(0)
    } else {
        last
    }
}

/// Send `sig` to thread `tid` (of process `tgid` if given), with
/// `SI_TKILL` (Linux `do_tkill`).
fn do_tkill(tgid: Option<u32>, tid: u32, sig: u64) -> SysResult {
    let (p, t) = proc::find_thread(tid).ok_or(Errno::ESRCH)?;
    if tgid.is_some_and(|g| g != p.pid) {
        return Err(Errno::ESRCH);
    }
    let sig = kill_signal(sig)?;
    if !may_signal(&p) {
        return Err(Errno::EPERM);
    }
    if sig != 0 {
        signal::send_to_thread(&p, &t, SigInfo::from_current(sig, signal::SI_TKILL))?;
    }
    Ok(0)
}

pub fn sys_tgkill(a: Args) -> SysResult {
    let [tgid, tid, sig, ..] = a.0;
    let (tgid, tid) = (tgid as u32 as i32, tid as u32 as i32);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    do_tkill(Some(tgid as u32), tid as u32, sig)
}

pub fn sys_tkill(a: Args) -> SysResult {
    let [tid, sig, ..] = a.0;
    let tid = tid as u32 as i32;
    if tid <= 0 {
        return Err(Errno::EINVAL);
    }
    do_tkill(None, tid as u32, sig)
}

const ITIMER_REAL: u64 = 0;
const ITIMER_VIRTUAL: u64 = 1;
const ITIMER_PROF: u64 = 2;
const NS_PER_US: u64 = 1000;
const NS_PER_S: u64 = 1_000_000_000;

/// A `struct timeval` in ns: EINVAL for a negative or oversized field.
fn timeval_ns(sec: u64, usec: u64) -> Result<u64, Errno> {
    if (sec as i64) < 0 || usec >= 1_000_000 {
        return Err(Errno::EINVAL);
    }
    Ok(sec.saturating_mul(NS_PER_S).saturating_add(usec * NS_PER_US))
}

fn write_itimerval(addr: u64, (value, interval): (u64, u64)) -> Result<(), Errno> {
    let tv = |ns: u64| [ns / NS_PER_S, ns % NS_PER_S / NS_PER_US];
    let [is, iu] = tv(interval);
    let [vs, vu] = tv(value);
    write_user(addr, &[is, iu, vs, vu])
}

/// `which` for the interval timers: only `ITIMER_REAL` is kept
/// (`ITIMER_VIRTUAL` and `ITIMER_PROF` are EINVAL, as an unknown timer).
fn itimer_which(which: u64) -> Result<(), Errno> {
    match which as u32 as u64 {
        ITIMER_REAL => Ok(()),
        ITIMER_VIRTUAL | ITIMER_PROF => Err(Errno::EINVAL),
        _ => Err(Errno::EINVAL),
    }
}

/// `setitimer`: a NULL new value disarms, as Linux allows.
pub fn sys_setitimer(a: Args) -> SysResult {
    let [which, new, old, ..] = a.0;
    let (value, interval) = if new != 0 {
        let [is, iu, vs, vu] = read_user::<[u64; 4]>(new)?;
        (timeval_ns(vs, vu)?, timeval_ns(is, iu)?)
    } else {
        (0, 0)
    };
    itimer_which(which)?;
    let prev = itimer::set(&proc::current(), value, interval);
    if old != 0 {
        write_itimerval(old, prev)?;
    }
    Ok(0)
}

pub fn sys_getitimer(a: Args) -> SysResult {
    let [which, cur, ..] = a.0;
    itimer_which(which)?;
    write_itimerval(cur, itimer::get(&proc::current())).map(|_| 0)
}

/// `alarm`: a one-shot `ITIMER_REAL` in seconds; returns the old one's
/// rest in seconds, rounded to the nearest (at least 1 if armed).
pub fn sys_alarm(a: Args) -> SysResult {
    let [secs, ..] = a.0;
    let secs = (secs as u32).min(i32::MAX as u32) as u64;
    let (left, _) = itimer::set(&proc::current(), secs * NS_PER_S, 0);
    let (mut s, us) = (left / NS_PER_S, left % NS_PER_S / NS_PER_US);
    if (s == 0 && us != 0) || us >= 500_000 {
        s += 1;
    }
    Ok(s)
}
