//! Credential syscalls: the uid and gid families, supplementary groups,
//! `capget` and `capset` (Linux kernel/sys.c, kernel/groups.c,
//! kernel/capability.c). The rules live in [`crate::proc::cred`]; these
//! wrappers read and write user memory and store the new credentials.
//!
//! Locking: the process's `creds` lock is held from reading the old
//! credentials to storing the new ones, so two threads changing them at
//! once cannot lose an update; it is never held across a user copy.

use alloc::vec::Vec;
use mm::Errno;

use super::{Args, SysResult};
use crate::proc::{self, cred, Creds};
use crate::uaccess::{copy_from_user, copy_to_user, read_user, write_user};

/// Replace the current process's credentials by `change(old)`.
fn commit(change: impl FnOnce(&Creds) -> Result<Creds, Errno>) -> SysResult {
    let p = proc::current();
    let mut creds = p.creds.lock();
    *creds = change(&creds)?;
    Ok(0)
}

/// An id argument: `uid_t`/`gid_t` are 32 bits, the upper half ignored.
fn id(arg: u64) -> u32 {
    arg as u32
}

pub fn sys_getuid(_a: Args) -> SysResult {
    Ok(proc::current().creds.lock().uid as u64)
}

pub fn sys_geteuid(_a: Args) -> SysResult {
    Ok(proc::current().creds.lock().euid as u64)
}

pub fn sys_getgid(_a: Args) -> SysResult {
    Ok(proc::current().creds.lock().gid as u64)
}

pub fn sys_getegid(_a: Args) -> SysResult {
    Ok(proc::current().creds.lock().egid as u64)
}

pub fn sys_setuid(a: Args) -> SysResult {
    commit(|c| c.set_uid(id(a.0[0])))
}

pub fn sys_setreuid(a: Args) -> SysResult {
    commit(|c| c.set_reuid(id(a.0[0]), id(a.0[1])))
}

pub fn sys_setresuid(a: Args) -> SysResult {
    commit(|c| c.set_resuid(id(a.0[0]), id(a.0[1]), id(a.0[2])))
}

pub fn sys_setgid(a: Args) -> SysResult {
    commit(|c| c.set_gid(id(a.0[0])))
}

pub fn sys_setregid(a: Args) -> SysResult {
    commit(|c| c.set_regid(id(a.0[0]), id(a.0[1])))
}

pub fn sys_setresgid(a: Args) -> SysResult {
    commit(|c| c.set_resgid(id(a.0[0]), id(a.0[1]), id(a.0[2])))
}

/// `setfsuid`: always the old fsuid, whether or not it changed.
pub fn sys_setfsuid(a: Args) -> SysResult {
    let p = proc::current();
    let mut creds = p.creds.lock();
    let old = creds.fsuid;
    if let Some(new) = creds.set_fsuid(id(a.0[0])) {
        *creds = new;
    }
    Ok(old as u64)
}

/// `setfsgid`: always the old fsgid.
pub fn sys_setfsgid(a: Args) -> SysResult {
    let p = proc::current();
    let mut creds = p.creds.lock();
    let old = creds.fsgid;
    if let Some(new) = creds.set_fsgid(id(a.0[0])) {
        *creds = new;
    }
    Ok(old as u64)
}

/// `getresuid`/`getresgid`: three ids, each written on its own (a bad
/// pointer is `EFAULT` after the earlier ones were written, as Linux).
fn put_three(ptrs: [u64; 3], ids: [u32; 3]) -> SysResult {
    for (ptr, id) in ptrs.into_iter().zip(ids) {
        write_user(ptr, &id)?;
    }
    Ok(0)
}

pub fn sys_getresuid(a: Args) -> SysResult {
    let c = proc::current().creds();
    put_three([a.0[0], a.0[1], a.0[2]], [c.uid, c.euid, c.suid])
}

pub fn sys_getresgid(a: Args) -> SysResult {
    let c = proc::current().creds();
    put_three([a.0[0], a.0[1], a.0[2]], [c.gid, c.egid, c.sgid])
}

/// `getgroups(size, list)`: the count for size 0, `EINVAL` for a list
/// too small (or a negative size).
pub fn sys_getgroups(a: Args) -> SysResult {
    let [size, list, ..] = a.0;
    let size = size as i32;
    if size < 0 {
        return Err(Errno::EINVAL);
    }
    let groups = proc::current().creds().groups;
    if size == 0 {
        return Ok(groups.len() as u64);
    }
    if groups.len() > size as usize {
        return Err(Errno::EINVAL);
    }
    let bytes: Vec<u8> = groups.iter().flat_map(|g| g.to_ne_bytes()).collect();
    copy_to_user(list, &bytes)?;
    Ok(groups.len() as u64)
}

/// `setgroups(size, list)`: `EPERM` without `CAP_SETGID` before anything
/// else, `EINVAL` past `NGROUPS_MAX`, then `EFAULT`.
pub fn sys_setgroups(a: Args) -> SysResult {
    let [size, list, ..] = a.0;
    let p = proc::current();
    if !p.capable(cred::CAP_SETGID) {
        return Err(Errno::EPERM);
    }
    let n = size as i32 as u32 as usize;
    if n > cred::NGROUPS_MAX {
        return Err(Errno::EINVAL);
    }
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(n * 4).map_err(|_| Errno::ENOMEM)?;
    bytes.resize(n * 4, 0);
    copy_from_user(&mut bytes, list)?;
    let groups = bytes.as_chunks::<4>().0.iter().map(|b| u32::from_ne_bytes(*b)).collect();
    commit(|c| c.set_groups(groups))
}

/// `_LINUX_CAPABILITY_VERSION_1`: one 32-bit set per field.
const CAP_VERSION_1: u32 = 0x1998_0330;
/// `_LINUX_CAPABILITY_VERSION_2` (deprecated) and `_3`: two.
const CAP_VERSION_2: u32 = 0x2007_1026;
const CAP_VERSION_3: u32 = 0x2008_0522;

/// The number of `__user_cap_data_struct`s the header's version asks for
/// (Linux `cap_validate_magic`): an unknown version gets the preferred
/// one written back and `EINVAL`.
fn cap_validate_magic(header: u64) -> Result<usize, Errno> {
    match read_user::<u32>(header)? {
        CAP_VERSION_1 => Ok(1),
        CAP_VERSION_2 | CAP_VERSION_3 => Ok(2),
        _ => {
            write_user(header, &CAP_VERSION_3)?;
            Err(Errno::EINVAL)
        }
    }
}

/// `capget(header, data)`: the sets of the process `header.pid` (0 for
/// the caller). A null `data` with an unknown version is a version probe
/// and returns 0.
pub fn sys_capget(a: Args) -> SysResult {
    let [header, data, ..] = a.0;
    let tocopy = match cap_validate_magic(header) {
        Err(Errno::EINVAL) if data == 0 => return Ok(0),
        r => r?,
    };
    if data == 0 {
        return Ok(0);
    }
    let pid = read_user::<i32>(header + 4)?;
    if pid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = proc::current();
    let target = if pid == 0 || pid as u32 == me.pid { me } else { proc::find(pid as u32).ok_or(Errno::ESRCH)? };
    let c = target.creds();
    let halves = |set: cred::CapSet| [set as u32, (set >> 32) as u32];
    let (e, p, i) = (halves(c.cap_effective), halves(c.cap_permitted), halves(c.cap_inheritable));
    let words = [e[0], p[0], i[0], e[1], p[1], i[1]];
    let bytes: Vec<u8> = words[..tocopy * 3].iter().flat_map(|w| w.to_ne_bytes()).collect();
    copy_to_user(data, &bytes)?;
    Ok(0)
}

/// `capset(header, data)`: only the caller's own sets (`EPERM` for any
/// other pid); the rules are [`Creds::capset`]'s.
pub fn sys_capset(a: Args) -> SysResult {
    let [header, data, ..] = a.0;
    let tocopy = cap_validate_magic(header)?;
    let pid = read_user::<i32>(header + 4)?;
    let p = proc::current();
    if pid != 0 && pid as u32 != p.pid {
        return Err(Errno::EPERM);
    }
    let mut words = [0u32; 6];
    let words = &mut words[..tocopy * 3];
    let mut bytes = [0u8; 24];
    copy_from_user(&mut bytes[..tocopy * 12], data)?;
    for (w, b) in words.iter_mut().zip(bytes.as_chunks::<4>().0) {
        *w = u32::from_ne_bytes(*b);
    }
    let set = |k: usize| words[k] as u64 | words.get(3 + k).map_or(0, |&hi| (hi as u64) << 32);
    let (effective, permitted, inheritable) = (set(0), set(1), set(2));
    commit(|c| c.capset(effective, permitted, inheritable))
}
