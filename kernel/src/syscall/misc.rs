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
    let uid = a.0[0] as u32;
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
    let old = do_prlimit(&proc::current(), resource(a.0[0])?, None)?;
    write_rlimit(a.0[1], old).map(|_| 0)
}

pub fn sys_setrlimit(a: Args) -> SysResult {
    let new = read_rlimit(a.0[1])?;
    do_prlimit(&proc::current(), resource(a.0[0])?, Some(new)).map(|_| 0)
}

pub fn sys_prlimit64(a: Args) -> SysResult {
    let [pid, res, new, old, ..] = a.0;
    let res = resource(res)?;
    let p = if pid == 0 { proc::current() } else { proc::find(pid as u32).ok_or(Errno::ESRCH)? };
    let new = if new != 0 { Some(read_rlimit(new)?) } else { None };
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

fn send(pid: u32, sig: u64) -> SysResult {
    if sig > 64 {
        return Err(Errno::EINVAL);
    }
    let p = proc::find(pid).ok_or(Errno::ESRCH)?;
    if sig != 0 && !ignored_by_default(sig) {
        signal::send_fatal(&p, sig as u8);
    }
    Ok(0)
}

pub fn sys_kill(a: Args) -> SysResult {
    let pid = a.0[0] as i64;
    if pid <= 0 {
        return if pid == 0 || pid == -1 { send(proc::current().pid, a.0[1]) } else { send((-pid) as u32, a.0[1]) };
    }
    send(pid as u32, a.0[1])
}

pub fn sys_tgkill(a: Args) -> SysResult {
    let [tgid, tid, sig, ..] = a.0;
    if (tgid as i64) <= 0 || (tid as i64) <= 0 {
        return Err(Errno::EINVAL);
    }
    let p = proc::find(tgid as u32).ok_or(Errno::ESRCH)?;
    if !p.threads.lock().iter().any(|t| t.tid as u64 == tid) {
        return Err(Errno::ESRCH);
    }
    send(tgid as u32, sig)
}

pub fn sys_rt_sigaction(a: Args) -> SysResult {
    let [sig, act, oldact, sigsetsize, ..] = a.0;
    if sigsetsize != 8 || sig == 0 || sig > 64 || (act != 0 && (sig == 9 || sig == 19)) {
        return Err(Errno::EINVAL);
    }
    if act != 0 {
        read_user::<[u64; 4]>(act)?; // validate; handlers are not delivered
    }
    if oldact != 0 {
        write_user(oldact, &[0u64; 4])?;
    }
    Ok(0)
}

pub fn sys_rt_sigprocmask(a: Args) -> SysResult {
    let [how, set, oldset, sigsetsize, ..] = a.0;
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    if set != 0 {
        if how > 2 {
            return Err(Errno::EINVAL);
        }
        read_user::<u64>(set)?;
    }
    if oldset != 0 {
        write_user(oldset, &0u64)?;
    }
    Ok(0)
}

pub fn sys_uname(a: Args) -> SysResult {
    let mut uts = [0u8; 6 * 65];
    let fields: [&[u8]; 6] = [b"Holdfast", b"holdfast", b"6.1.0-holdfast", b"#1 SMP", b"x86_64", b"(none)"];
    for (i, f) in fields.iter().enumerate() {
        uts[i * 65..i * 65 + f.len()].copy_from_slice(f);
    }
    copy_to_user(a.0[0], &uts).map(|_| 0)
}

pub fn sys_getrandom(a: Args) -> SysResult {
    let [buf, len, flags, ..] = a.0;
    if flags & !0x7 != 0 {
        return Err(Errno::EINVAL);
    }
    let len = len.min(1 << 20) as usize;
    let mut x = crate::arch::time::now_ns() | 1;
    let bytes: alloc::vec::Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    copy_to_user(buf, &bytes).map(|_| len as u64)
}

pub fn sys_sched_getaffinity(a: Args) -> SysResult {
    let [pid, len, mask, ..] = a.0;
    if pid != 0 && proc::find(pid as u32).is_none() {
        return Err(Errno::ESRCH);
    }
    if len < 8 || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    write_user(mask, &1u64).map(|_| 8)
}
