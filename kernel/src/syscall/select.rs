//! Readiness waits: `poll`, `ppoll`, `select` and `pselect6` (Linux's
//! fs/select.c).
//!
//! Each looks its files up once, then loops: ask every file what it is
//! ready for (`vfs_poll`, joining the file's wait list when a sleep may
//! follow), stop when one is ready, the deadline has passed or a signal
//! is pending (`ERESTARTNOHAND`: `EINTR` after a handler, else the call
//! is made again), else sleep until a polled file changes or the
//! deadline. Every file leaves its wait list (`poll_done`) before the
//! results are copied out. No lock is held across the sleep; the file
//! table's lock only while the files are looked up.
//!
//! Timeouts are absolute deadlines in `now_ns` time; a deadline of 0 is a
//! zero timeout (never sleeps, and no time left is written back, as
//! Linux's `end_time` of {0, 0}). A signal mask given to `ppoll` or
//! `pselect6` is in force while waiting and comes back afterwards, or
//! when the handler of the signal that ended the wait returns.

use alloc::sync::Arc;
use alloc::vec::Vec;
use mm::Errno;

use super::{Args, SysResult};
use crate::fs::file::*;
use crate::fs::pipe::{POLLERR, POLLHUP, POLLIN, POLLOUT, POLLRDNORM, POLLWRNORM};
use crate::proc;
use crate::uaccess::{copy_from_user, copy_to_user, read_user, write_user};

const POLLPRI: u16 = 0x2;
const POLLNVAL: u16 = 0x20;
const POLLRDBAND: u16 = 0x80;
const POLLWRBAND: u16 = 0x200;
/// What puts a descriptor in `select`'s read, write and exception sets.
const POLLIN_SET: u16 = POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR;
const POLLOUT_SET: u16 = POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR;
const POLLEX_SET: u16 = POLLPRI;
const NSEC_PER_SEC: u64 = 1_000_000_000;

/// What a descriptor is ready for (`vfs_poll`): a pipe answers for
/// itself; every other file is always readable and writable
/// (`DEFAULT_POLLMASK`); a descriptor that is not open (or an `O_PATH`
/// handle) is `POLLNVAL`.
fn vfs_poll(f: &Result<Arc<File>, Errno>, wait: bool) -> u16 {
    match f {
        Err(_) => POLLNVAL,
        Ok(f) => match &f.kind {
            FileKind::Pipe(p) => p.poll(f.f_mode(), wait),
            FileKind::Console => crate::tty::console().poll(wait),
            _ => POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM,
        },
    }
}

/// Take `f` off the wait list `vfs_poll` put it on.
fn poll_done(f: &Arc<File>) {
    match &f.kind {
        FileKind::Pipe(pe) => pe.poll_done(),
        FileKind::Console => crate::tty::console().poll_done(),
        _ => {}
    }
}

/// The deadline of a timeout of `ns` from now (`poll_select_set_timeout`):
/// 0 for a zero timeout, else at least 1.
fn deadline_in(ns: u64) -> u64 {
    if ns == 0 {
        0
    } else {
        crate::arch::time::now_ns().saturating_add(ns).max(1)
    }
}

/// The loop every wait shares: `poll_all(wait)` asks the files and says
/// how many are ready. A signal ends it only when none is.
fn wait_loop(deadline: Option<u64>, mut poll_all: impl FnMut(bool) -> u64) -> SysResult {
    let me = crate::sched::current();
    loop {
        let timed_out = deadline.is_some_and(|d| crate::arch::time::now_ns() >= d);
        // Join the wait lists only when a sleep may follow.
        let count = poll_all(!timed_out);
        if count > 0 {
            return Ok(count);
        }
        if me.signal_pending() {
            return Err(Errno::ERESTARTNOHAND);
        }
        if timed_out {
            return Ok(0);
        }
        match deadline {
            Some(d) => crate::sched::block_until(d),
            None => crate::sched::block_current(),
        }
    }
}

/// `do_sys_poll`: more entries than `RLIMIT_NOFILE` is `EINVAL`; the
/// array is copied in (`EFAULT`); a negative fd is skipped; each entry's
/// `revents` is what its file is ready for among `events`, `POLLERR` and
/// `POLLHUP` (`POLLNVAL` for a closed descriptor). `revents` are copied
/// back (`EFAULT`).
fn do_sys_poll(ufds: u64, nfds: u64, deadline: Option<u64>) -> SysResult {
    let p = proc::current();
    if nfds > nofile(&p) as u64 {
        return Err(Errno::EINVAL);
    }
    let n = nfds as usize;
    let mut raw = Vec::new();
    raw.try_reserve_exact(n * 8).map_err(|_| Errno::ENOMEM)?;
    raw.resize(n * 8, 0);
    copy_from_user(&mut raw, ufds)?;
    // struct pollfd { int fd; short events; short revents; }
    let entries: Vec<(i32, u16)> = raw
        .chunks(8)
        .map(|c| (i32::from_le_bytes([c[0], c[1], c[2], c[3]]), u16::from_le_bytes([c[4], c[5]])))
        .collect();
    let fs: Vec<Option<Result<Arc<File>, Errno>>> = {
        let t = files(&p).lock();
        entries.iter().map(|&(fd, _)| (fd >= 0).then(|| t.get(fd))).collect()
    };
    let mut revents = alloc::vec![0u16; n];
    let result = wait_loop(deadline, |wait| {
        let mut count = 0u64;
        for (i, (&(_, events), f)) in entries.iter().zip(&fs).enumerate() {
            revents[i] = match f {
                None => 0,
                Some(f) => vfs_poll(f, wait) & (events | POLLERR | POLLHUP | POLLNVAL),
            };
            count += u64::from(revents[i] != 0);
        }
        count
    });
    fs.iter().flatten().flatten().for_each(poll_done);
    let count = result?;
    for (i, r) in revents.iter().enumerate() {
        raw[i * 8 + 6..i * 8 + 8].copy_from_slice(&r.to_le_bytes());
    }
    copy_to_user(ufds, &raw)?;
    Ok(count)
}

/// `poll`: a negative timeout waits for good, 0 does not wait.
pub fn sys_poll(a: Args) -> SysResult {
    let [ufds, nfds, timeout_ms, ..] = a.0;
    let ms = timeout_ms as i32;
    let deadline = (ms >= 0).then(|| deadline_in(ms as u64 * 1_000_000));
    do_sys_poll(ufds, nfds as u32 as u64, deadline)
}

/// `set_user_sigmask`: block `sigmask` (none if NULL; `EINVAL` unless its
/// size is 8, `EFAULT`) and return the mask it replaces.
fn set_user_sigmask(sigmask: u64, sigsetsize: u64) -> Result<Option<u64>, Errno> {
    if sigmask == 0 {
        return Ok(None);
    }
    if sigsetsize != 8 {
        return Err(Errno::EINVAL);
    }
    Ok(Some(proc::signal::set_current_blocked(read_user::<u64>(sigmask)?)))
}

/// How a wait ends (`poll_select_finish`): the mask `set_user_sigmask`
/// replaced comes back now, unless a signal interrupted the wait (then
/// the handler's return restores it, so the signal is handled with the
/// wait's mask in place). The time left is written to `utime` (a
/// `timeval` or `timespec`) unless the timeout was zero; if that write
/// faults the call cannot be restarted with it, so a restart becomes
/// `EINTR`.
fn poll_select_finish(saved: Option<u64>, deadline: Option<u64>, utime: u64, timeval: bool, ret: SysResult) -> SysResult {
    if let Some(old) = saved {
        if ret == Err(Errno::ERESTARTNOHAND) {
            proc::signal::with_current(|t| t.saved_mask = Some(old));
        } else {
            proc::signal::set_current_blocked(old);
        }
    }
    let Some(d) = deadline.filter(|&d| utime != 0 && d != 0) else {
        return ret;
    };
    let left = d.saturating_sub(crate::arch::time::now_ns());
    let (sec, nsec) = (left / NSEC_PER_SEC, left % NSEC_PER_SEC);
    let written = write_user(utime, &[sec, if timeval { nsec / 1000 } else { nsec }]);
    match (written, ret) {
        (Err(_), Err(Errno::ERESTARTNOHAND)) => Err(Errno::EINTR),
        _ => ret,
    }
}

/// `ppoll`: the timeout (`EFAULT`, `EINVAL` if invalid; NULL waits for
/// good), then the signal mask, in force while polling.
pub fn sys_ppoll(a: Args) -> SysResult {
    let [ufds, nfds, tsp, sigmask, sigsetsize, ..] = a.0;
    let deadline = if tsp != 0 { Some(deadline_in(super::time::read_timespec(tsp)?)) } else { None };
    let saved = set_user_sigmask(sigmask, sigsetsize)?;
    let r = do_sys_poll(ufds, nfds as u32 as u64, deadline);
    poll_select_finish(saved, deadline, tsp, false, r)
}

/// `core_sys_select`: `nfds` < 0 is `EINVAL`; past the descriptor table
/// it is cut to the table's size. The three sets (NULL for none) are
/// bitmaps of `nfds` bits in whole 64-bit words (`EFAULT`); a bit on a
/// descriptor that is not open is `EBADF`. Each set comes back with the
/// bits of the descriptors ready for it (`EFAULT`); the result is how
/// many bits are set in all three.
fn core_sys_select(nfds: i32, sets: [u64; 3], deadline: Option<u64>) -> SysResult {
    if nfds < 0 {
        return Err(Errno::EINVAL);
    }
    let p = proc::current();
    let n = (nfds as usize).min(files(&p).lock().max_fds());
    let words = n.div_ceil(64);
    let mut bits: [Vec<u64>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let mut raw = Vec::new();
    raw.try_reserve_exact(words * 8).map_err(|_| Errno::ENOMEM)?;
    raw.resize(words * 8, 0);
    for (set, b) in sets.iter().zip(bits.iter_mut()) {
        b.try_reserve_exact(words).map_err(|_| Errno::ENOMEM)?;
        b.resize(words, 0);
        if *set != 0 {
            copy_from_user(&mut raw, *set)?;
            for (w, c) in b.iter_mut().zip(raw.chunks(8)) {
                *w = u64::from_le_bytes(c.try_into().expect("8-byte chunk"));
            }
        }
        // Bits at nfds and above are not looked at.
        if n % 64 != 0 {
            b[words - 1] &= (1u64 << (n % 64)) - 1;
        }
    }
    // Every descriptor asked about, with its file for polling (an
    // `O_PATH` handle is open but never ready).
    let mut polled: Vec<(usize, Result<Arc<File>, Errno>)> = Vec::new();
    {
        let t = files(&p).lock();
        for w in 0..words {
            let mut any = bits[0][w] | bits[1][w] | bits[2][w];
            while any != 0 {
                let fd = w * 64 + any.trailing_zeros() as usize;
                any &= any - 1;
                t.get_raw(fd as i32)?;
                polled.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                polled.push((fd, t.get(fd as i32)));
            }
        }
    }
    let mut res: [Vec<u64>; 3] = [bits[0].clone(), bits[1].clone(), bits[2].clone()];
    let result = wait_loop(deadline, |wait| {
        let mut count = 0;
        res.iter_mut().for_each(|r| r.fill(0));
        for (fd, f) in &polled {
            let mask = vfs_poll(f, wait);
            let (w, bit) = (fd / 64, 1u64 << (fd % 64));
            for (k, want) in [POLLIN_SET, POLLOUT_SET, POLLEX_SET].into_iter().enumerate() {
                if bits[k][w] & bit != 0 && mask & want != 0 {
                    res[k][w] |= bit;
                    count += 1;
                }
            }
        }
        count
    });
    polled.iter().filter_map(|(_, f)| f.as_ref().ok()).for_each(poll_done);
    let count = result?;
    for (set, r) in sets.iter().zip(&res) {
        if *set != 0 {
            for (c, w) in raw.chunks_mut(8).zip(r) {
                c.copy_from_slice(&w.to_le_bytes());
            }
            copy_to_user(*set, &raw)?;
        }
    }
    Ok(count)
}

/// `select`: the timeout is a `timeval` (`EFAULT`; NULL waits for good)
/// whose microseconds may carry into seconds; a negative result is
/// `EINVAL`. The time left is written back.
pub fn sys_select(a: Args) -> SysResult {
    let [nfds, inp, outp, exp, tvp, ..] = a.0;
    let deadline = if tvp != 0 {
        let [sec, usec] = read_user::<[u64; 2]>(tvp)?.map(|v| v as i64);
        let sec = sec.wrapping_add(usec / 1_000_000);
        let nsec = (usec % 1_000_000) * 1000;
        if sec < 0 || nsec < 0 {
            return Err(Errno::EINVAL);
        }
        Some(deadline_in((sec as u64).saturating_mul(NSEC_PER_SEC).saturating_add(nsec as u64)))
    } else {
        None
    };
    let r = core_sys_select(nfds as i32, [inp, outp, exp], deadline);
    poll_select_finish(None, deadline, tvp, true, r)
}

/// `pselect6`: its sixth argument points at {sigset pointer, size}
/// (`EFAULT`; NULL for no mask), read first; then the `timespec` timeout
/// (`EFAULT`, `EINVAL`), then the mask, in force while waiting. The time
/// left is written back.
pub fn sys_pselect6(a: Args) -> SysResult {
    let [nfds, inp, outp, exp, tsp, sig] = a.0;
    let [sigmask, sigsetsize] = if sig != 0 { read_user::<[u64; 2]>(sig)? } else { [0, 0] };
    let deadline = if tsp != 0 { Some(deadline_in(super::time::read_timespec(tsp)?)) } else { None };
    let saved = set_user_sigmask(sigmask, sigsetsize)?;
    let r = core_sys_select(nfds as i32, [inp, outp, exp], deadline);
    poll_select_finish(saved, deadline, tsp, false, r)
}
