//! Process-identity, limit and system-information syscalls.

use mm::Errno;

use super::{Args, SysResult};
use crate::proc::{self, Rlimit, RLIM_NLIMITS};
use crate::uaccess::{copy_to_user, read_user, write_user};

pub fn sys_getpid(_a: Args) -> SysResult {
    Ok(proc::current().pid as u64)
}

fn resource(r: u64) -> Result<usize, Errno> {
    (r < RLIM_NLIMITS as u64).then_some(r as usize).ok_or(Errno::EINVAL)
}

/// Read and/or set one limit of `p` (Linux `do_prlimit`).
fn do_prlimit(p: &proc::Process, res: usize, new: Option<Rlimit>) -> Result<Rlimit, Errno> {
    let privileged = p.capable(proc::cred::CAP_SYS_RESOURCE);
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
