//! Process-identity, limit, signal and system-information syscalls.

use mm::Errno;

use super::{Args, SysResult};
use crate::proc::{self, signal, Rlimit, RLIM_NLIMITS};
use crate::uaccess::{copy_to_user, read_user, write_user};

pub fn sys_getpid(_a: Args) -> SysResult {
    Ok(proc::current().pid as u64)
}

pub fn sys_getuid(_a: Args) -> SysResult {
    Ok(proc::current().creds.lock().uid as u64)
}

pub fn sys_geteuid(_a: Args) -> SysResult {
    Ok(proc::current().creds.lock().euid as u64)
}

/// `setuid`: root may become anyone, and loses CAP_IPC_LOCK (and every
/// other capability) when it becomes a non-zero uid; others may only
/// "become" themselves.
pub fn sys_setuid(a: Args) -> SysResult {
    let [uid, ..] = a.0;
    let uid = uid as u32;
    if uid == u32::MAX {
        return Err(Errno::EINVAL);
    }
    let p = proc::current();
    let mut c = p.creds.lock();
    if c.euid == 0 {
        c.uid = uid;
        c.euid = uid;
        if uid != 0 {
            c.cap_ipc_lock = false;
        }
        Ok(0)
    } else if uid == c.uid {
        c.euid = uid;
        Ok(0)
    } else {
        Err(Errno::EPERM)
    }
}

fn resource(r: u64) -> Result<usize, Errno> {
    (r < RLIM_NLIMITS as u64).then_some(r as usize).ok_or(Errno::EINVAL)
}

/// Read and/or set one limit of `p` (Linux `do_prlimit`).
fn do_prlimit(p: &proc::Process, res: usize, new: Option<Rlimit>) -> Result<Rlimit, Errno> {
    let privileged = p.creds.lock().euid == 0;
    let mut limits = p.rlimits.lock();
    let old = limits[res];
    if let Some(n) = new {
        if n.cur > n.max {
            return Err(Errno::EINVAL);
        }
        if n.max > old.max && !privileged {
            return Err(Errno::EPERM);
        }
        limits[res] = n;
    }
    Ok(old)
}

fn read_rlimit(addr: u64) -> Result<Rlimit, Errno> {
    let [cur, max] = read_user::<[u64; 2]>(addr)?;
    Ok(Rlimit { cur, max })
}

fn write_rlimit(addr: u64, r: Rlimit) -> Result<(), Errno> {
    write_user(addr, &[r.cur, r.max])
}

pub fn sys_getrlimit(a: Args) -> SysResult {
    let [res, rlim, ..] = a.0;
    let old = do_prlimit(&proc::current(), resource(res)?, None)?;
    write_rlimit(rlim, old).map(|_| 0)
}

pub fn sys_setrlimit(a: Args) -> SysResult {
    let [res, rlim, ..] = a.0;
    let new = read_rlimit(rlim)?;
    do_prlimit(&proc::current(), resource(res)?, Some(new)).map(|_| 0)
}

pub fn sys_prlimit64(a: Args) -> SysResult {
    let [pid, res, new, old, ..] = a.0;
    // Linux's order: read the new limit (EFAULT), find the process
    // (ESRCH), then check the resource (EINVAL).
    let new = if new != 0 { Some(read_rlimit(new)?) } else { None };
    let pid = pid as u32 as i32; // a pid_t
    let p = if pid == 0 { proc::current() } else { u32::try_from(pid).ok().and_then(proc::find).ok_or(Errno::ESRCH)? };
    let res = resource(res)?;
    let prev = do_prlimit(&p, res, new)?;
    if old != 0 {
        write_rlimit(old, prev)?;
    }
    Ok(0)
}

/// Signals whose default action is to ignore them.
fn ignored_by_default(sig: u64) -> bool {
    matches!(sig, 17 | 18 | 23 | 28) // SIGCHLD, SIGCONT, SIGURG, SIGWINCH
}

/// A signal number from a syscall argument (an int): `None` if it is not
/// a valid signal (0 is valid: it only checks the target).
fn signal_number(arg: u64) -> Option<u8> {
    let sig = arg as u32 as i32;
    (0..=64).contains(&sig).then_some(sig as u8)
}

/// Deliver `sig` to process `p`, after Linux's check_kill_permission:
/// the target exists (the caller found it), so an invalid signal is EINVAL.
fn send_to(p: &alloc::sync::Arc<proc::Process>, sig: u64) -> SysResult {
    let sig = signal_number(sig).ok_or(Errno::EINVAL)?;
    if !may_signal(&proc::current(), p) {
        return Err(Errno::EPERM);
    }
    let alive = !p.dead.load(core::sync::atomic::Ordering::SeqCst);
    if sig != 0 && alive && !ignored_by_default(u64::from(sig)) {
        signal::send_fatal(p, sig);
    }
    Ok(0)
}

/// Linux `kill_ok_by_cred`: root, or the sender's real or effective uid
/// is the target's real or effective uid.
fn may_signal(from: &proc::Process, to: &proc::Process) -> bool {
    let s = *from.creds.lock();
    let t = *to.creds.lock();
    s.euid == 0 || [s.uid, s.euid].iter().any(|u| *u == t.uid || *u == t.euid)
}

/// `kill`: see `process::kill_targets` for whom `pid` names. A group
/// succeeds if any member took the signal, else fails with the last
/// member's error (Linux `__kill_pgrp_info`).
pub fn sys_kill(a: Args) -> SysResult {
    let [pid, sig, ..] = a.0;
    let pid = pid as u32 as i32; // a pid_t
    let targets = super::process::kill_targets(pid)?;
    if pid > 0 {
        return send_to(&targets[0], sig);
    }
    let mut last = Err(Errno::ESRCH);
    let mut any = false;
    for t in &targets {
        last = send_to(t, sig);
        any |= last.is_ok();
    }
    if any {
        Ok(0)
    } else {
        last
    }
}

pub fn sys_tgkill(a: Args) -> SysResult {
    let [tgid, tid, sig, ..] = a.0;
    let (tgid, tid) = (tgid as u32 as i32, tid as u32 as i32);
    if tgid <= 0 || tid <= 0 {
        return Err(Errno::EINVAL);
    }
    let p = proc::find(tgid as u32).ok_or(Errno::ESRCH)?;
    if !p.threads.lock().iter().any(|t| t.tid as i32 == tid) {
        return Err(Errno::ESRCH);
    }
    send_to(&p, sig)
}

/// `rt_sigaction`: the action is recorded and reported back, but only
/// the default action of fatal signals is ever carried out. Linux's order:
/// the set size (EINVAL), reading the new action (EFAULT), the signal
/// number (EINVAL), writing the old action (EFAULT).
pub fn sys_rt_sigaction(a: Args) -> SysResult {
    let [sig, act, oldact, sigsetsize, ..] = a.0;
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let new = if act != 0 { Some(read_user::<[u64; 4]>(act)?) } else { None };
    let sig = sig as u32 as i32;
    if !(1..=64).contains(&sig) || (new.is_some() && (sig == 9 || sig == 19)) {
        return Err(Errno::EINVAL);
    }
    let p = proc::current();
    let old = {
        let mut actions = p.sigactions.lock();
        let slot = &mut actions[sig as usize - 1];
        let old = *slot;
        if let Some(mut n) = new {
            // SIGKILL and SIGSTOP can never be blocked while a handler runs.
            n[3] &= !((1 << 8) | (1 << 18));
            *slot = n;
        }
        old
    };
    if oldact != 0 {
        write_user(oldact, &old)?;
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
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    let me = crate::sched::current();
    let old = me.sigmask.load(core::sync::atomic::Ordering::SeqCst);
    if set != 0 {
        let new = read_user::<u64>(set)? & !((1 << 8) | (1 << 18));
        let mask = match how as u32 as u64 {
            SIG_BLOCK => old | new,
            SIG_UNBLOCK => old & !new,
            SIG_SETMASK => new,
            _ => return Err(Errno::EINVAL),
        };
        me.sigmask.store(mask, core::sync::atomic::Ordering::SeqCst);
    }
    if oldset != 0 {
        write_user(oldset, &old)?;
    }
    Ok(0)
}

pub fn sys_uname(a: Args) -> SysResult {
    let mut uts = [0u8; 6 * 65];
    let fields: [&[u8]; 6] = [b"Holdfast", b"holdfast", b"6.1.0-holdfast", b"#1 SMP", b"x86_64", b"(none)"];
    for (i, f) in fields.iter().enumerate() {
        uts[i * 65..i * 65 + f.len()].copy_from_slice(f);
    }
    let [buf, ..] = a.0;
    copy_to_user(buf, &uts).map(|_| 0)
}

/// Linux's cap on one read or write (`MAX_RW_COUNT`).
const MAX_RW_COUNT: u64 = 0x7fff_f000;

/// `getrandom`: bytes from a xorshift generator seeded by the clock (not
/// cryptographic). Like Linux it copies in page-sized pieces and returns
/// how many bytes reached the buffer before a fault (EFAULT if none).
pub fn sys_getrandom(a: Args) -> SysResult {
    const GRND_NONBLOCK: u64 = 1;
    const GRND_RANDOM: u64 = 2;
    const GRND_INSECURE: u64 = 4;
    let [buf, len, flags, ..] = a.0;
    let flags = flags as u32 as u64;
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0 || flags & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE {
        return Err(Errno::EINVAL);
    }
    let len = len.min(MAX_RW_COUNT);
    // import_ubuf: the whole buffer must lie in user space, even when empty.
    crate::uaccess::access_ok(buf, len)?;
    let mut x = crate::arch::time::now_ns() | 1;
    let mut chunk = [0u8; 4096];
    let mut done = 0u64;
    while done < len {
        let at = buf.wrapping_add(done);
        let n = (4096 - at % 4096).min(len - done) as usize;
        for b in &mut chunk[..n] {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        if let Err(e) = copy_to_user(at, &chunk[..n]) {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        done += n as u64;
    }
    Ok(done)
}
