//! Process syscalls: fork, vfork (clone without CLONE_THREAD is in
//! `thread`), wait4, waitid, getppid, process groups and sessions
//! (setpgid, getpgid, getpgrp, setsid, getsid), prctl.
//!
//! Each checks and converts its user arguments and calls into
//! `proc::fork` and `proc::wait`, which keep the process tree.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;
use mm::Errno;

use super::{Args, SysResult};
use crate::arch::syscall::UserFrame;
use crate::proc::fork::{self, flags::*, CloneArgs};
use crate::proc::wait::{self, Reaped, WaitFor, WaitOptions};
use crate::proc::{self, SIGCHLD};
use crate::uaccess::{copy_to_user, read_user, write_user};

pub fn sys_fork(_a: Args, frame: &UserFrame) -> SysResult {
    fork::do_fork(CloneArgs { flags: u64::from(SIGCHLD), ..CloneArgs::default() }, frame).map(u64::from)
}

pub fn sys_vfork(_a: Args, frame: &UserFrame) -> SysResult {
    let flags = CLONE_VM | CLONE_VFORK | u64::from(SIGCHLD);
    fork::do_fork(CloneArgs { flags, ..CloneArgs::default() }, frame).map(u64::from)
}

const WNOHANG: u64 = 0x1;
const WUNTRACED: u64 = 0x2; // WSTOPPED for waitid
const WEXITED: u64 = 0x4;
const WCONTINUED: u64 = 0x8;
const WNOWAIT: u64 = 0x0100_0000;
const WNOTHREAD: u64 = 0x2000_0000;
const WALL: u64 = 0x4000_0000;
const WCLONE: u64 = 0x8000_0000;

fn options(bits: u64) -> WaitOptions {
    WaitOptions {
        nohang: bits & WNOHANG != 0,
        nowait: bits & WNOWAIT != 0,
        exited: bits & WEXITED != 0,
        clone: bits & WCLONE != 0,
        all: bits & WALL != 0,
        stopped: bits & WUNTRACED != 0,
        continued: bits & WCONTINUED != 0,
    }
}

/// `struct rusage`: 18 longs. Holdfast keeps no resource usage: zeroes.
const RUSAGE_SIZE: usize = 144;

fn zero_rusage(addr: u64) -> Result<(), Errno> {
    if addr != 0 {
        copy_to_user(addr, &[0u8; RUSAGE_SIZE])?;
    }
    Ok(())
}

/// `wait4(pid, status, options, rusage)`: pid > 0 that child, 0 the
/// caller's process group, -1 any child, < -1 group -pid. Errors: EINVAL
/// unknown options, ESRCH for `INT_MIN`, ECHILD, EINTR, EFAULT (after the
/// child was reaped, as Linux).
pub fn sys_wait4(a: Args) -> SysResult {
    let [pid, status, opts, rusage, ..] = a.0;
    let pid = pid as u32 as i32;
    let opts = opts as u32 as u64;
    if opts & !(WNOHANG | WUNTRACED | WCONTINUED | WNOTHREAD | WCLONE | WALL) != 0 {
        return Err(Errno::EINVAL);
    }
    let who = match pid {
        i32::MIN => return Err(Errno::ESRCH),
        -1 => WaitFor::Any,
        0 => WaitFor::Pgid(proc::current().pgid.load(Ordering::SeqCst)),
        p if p < 0 => WaitFor::Pgid(p.unsigned_abs()),
        p => WaitFor::Pid(p as u32),
    };
    let mut o = options(opts);
    o.exited = true;
    match wait::do_wait(who, o)? {
        None => Ok(0),
        Some(r) => {
            if status != 0 {
                write_user::<u32>(status, &r.event.wait_status())?;
            }
            zero_rusage(rusage)?;
            Ok(u64::from(r.pid))
        }
    }
}

const P_ALL: u64 = 0;
const P_PID: u64 = 1;
const P_PGID: u64 = 2;

/// The `siginfo_t` waitid reports: si_signo, si_errno, si_code, then
/// si_pid, si_uid, si_status (offsets 16, 20, 24) in 128 bytes.
fn child_siginfo(r: &Reaped) -> [u8; 128] {
    let (code, st) = r.event.code_and_status();
    let mut si = [0u8; 128];
    let fields: [(usize, i32); 5] = [(0, i32::from(SIGCHLD)), (8, code), (16, r.pid as i32), (20, r.uid as i32), (24, st)];
    for (off, v) in fields {
        si[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    si
}

/// `waitid(idtype, id, infop, options, rusage)`. Errors: EINVAL unknown
/// options, none of WEXITED/WSTOPPED/WCONTINUED, unknown id type, P_PID
/// with id 0; ECHILD; EINTR; EFAULT.
pub fn sys_waitid(a: Args) -> SysResult {
    let [idtype, id, infop, opts, rusage, _] = a.0;
    let opts = opts as u32 as u64;
    let id = id as u32;
    if opts & !(WNOHANG | WNOWAIT | WEXITED | WUNTRACED | WCONTINUED | WNOTHREAD | WCLONE | WALL) != 0 {
        return Err(Errno::EINVAL);
    }
    if opts & (WEXITED | WUNTRACED | WCONTINUED) == 0 {
        return Err(Errno::EINVAL);
    }
    let who = match idtype as u32 as u64 {
        P_ALL => WaitFor::Any,
        P_PID if (id as i32) <= 0 => return Err(Errno::EINVAL),
        P_PID => WaitFor::Pid(id),
        P_PGID if (id as i32) < 0 => return Err(Errno::EINVAL),
        P_PGID if id == 0 => WaitFor::Pgid(proc::current().pgid.load(Ordering::SeqCst)),
        P_PGID => WaitFor::Pgid(id),
        _ => return Err(Errno::EINVAL),
    };
    let r = wait::do_wait(who, options(opts))?;
    if infop != 0 {
        match &r {
            Some(r) => copy_to_user(infop, &child_siginfo(r))?,
            // Nothing to report (WNOHANG): Linux zeroes the fields it
            // would have set.
            None => copy_to_user(infop, &[0u8; 28])?,
        }
    }
    zero_rusage(rusage)?;
    Ok(0)
}

pub fn sys_getppid(_a: Args) -> SysResult {
    Ok(u64::from(proc::current().ppid.load(Ordering::SeqCst)))
}

pub fn sys_setpgid(a: Args) -> SysResult {
    let [pid, pgid, ..] = a.0;
    wait::setpgid(pid as u32 as i32, pgid as u32 as i32).map(|_| 0)
}

pub fn sys_getpgid(a: Args) -> SysResult {
    wait::getpgid(a.0[0] as u32 as i32).map(u64::from)
}

pub fn sys_getpgrp(_a: Args) -> SysResult {
    wait::getpgid(0).map(u64::from)
}

pub fn sys_setsid(_a: Args) -> SysResult {
    wait::setsid().map(u64::from)
}

pub fn sys_getsid(a: Args) -> SysResult {
    wait::getsid(a.0[0] as u32 as i32).map(u64::from)
}

const PR_SET_NAME: u64 = 15;
const PR_GET_NAME: u64 = 16;
const PR_SET_CHILD_SUBREAPER: u64 = 36;
const PR_GET_CHILD_SUBREAPER: u64 = 37;
use crate::proc::exec::TASK_COMM_LEN;

/// `prctl`: the name (`PR_SET_NAME`/`PR_GET_NAME`, 16 bytes with the NUL)
/// and child subreaping; other options are EINVAL.
pub fn sys_prctl(a: Args) -> SysResult {
    let [option, arg2, ..] = a.0;
    let p = proc::current();
    match option as u32 as u64 {
        PR_SET_NAME => {
            let mut name = alloc::vec::Vec::new();
            while name.len() < TASK_COMM_LEN - 1 {
                let b = read_user::<u8>(arg2 + name.len() as u64)?;
                if b == 0 {
                    break;
                }
                name.push(b);
            }
            *p.name.lock() = alloc::string::String::from_utf8_lossy(&name).into_owned();
            Ok(0)
        }
        PR_GET_NAME => {
            let mut buf = [0u8; TASK_COMM_LEN];
            let name = p.name();
            let n = name.len().min(TASK_COMM_LEN - 1);
            buf[..n].copy_from_slice(&name.as_bytes()[..n]);
            copy_to_user(arg2, &buf).map(|_| 0)
        }
        PR_SET_CHILD_SUBREAPER => {
            p.child_subreaper.store(arg2 != 0, Ordering::SeqCst);
            Ok(0)
        }
        PR_GET_CHILD_SUBREAPER => write_user::<i32>(arg2, &i32::from(p.child_subreaper.load(Ordering::SeqCst))).map(|_| 0),
        _ => Err(Errno::EINVAL),
    }
}

/// The processes `kill(pid, ...)` names: pid > 0 that one (a zombie
/// too, which takes no signal), 0 the caller's group, -1 every process
/// but the first and the caller, < -1 group -pid. `ESRCH` if none.
pub fn kill_targets(pid: i32) -> Result<alloc::vec::Vec<Arc<proc::Process>>, Errno> {
    let me = proc::current();
    let targets = match pid {
        p if p > 0 => alloc::vec![proc::find_any(p as u32).ok_or(Errno::ESRCH)?],
        0 => wait::group_members(me.pgid.load(Ordering::SeqCst)),
        -1 => proc::all().into_iter().filter(|p| !p.dead.load(Ordering::SeqCst) && !p.is_init && p.pid != me.pid).collect(),
        p => wait::group_members(p.unsigned_abs()),
    };
    if targets.is_empty() {
        return Err(Errno::ESRCH);
    }
    Ok(targets)
}
