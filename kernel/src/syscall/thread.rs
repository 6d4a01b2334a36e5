//! Thread syscalls: clone (threads; processes in `proc::fork`), exit, exit_group, futex,
//! set_tid_address, gettid, arch_prctl, sched_yield.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;
use mm::Errno;

use super::{Args, SysResult};
use crate::arch::syscall::UserFrame;
use crate::proc::fork::flags::*;
use crate::proc::{self, exit, futex};
use crate::sched::{self, thread::Thread};
use crate::uaccess::{read_user, write_user};

const SUPPORTED: u64 = CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED
    | CLONE_CHILD_SETTID
    | CSIGNAL;

/// `clone`. Without `CLONE_THREAD` it makes a process (`proc::fork`,
/// with the flags fork, vfork and posix_spawn use). With it, a thread: the
/// new thread shares everything and returns 0 in `rax` on `newsp`.
pub fn sys_clone(a: Args, parent: &UserFrame) -> SysResult {
    let [flags, newsp, parent_tid, child_tid, tls, _] = a.0;
    if flags & CLONE_THREAD == 0 {
        // Linux: CLONE_SIGHAND needs CLONE_VM; processes that share
        // signal handlers are not supported.
        if flags & CLONE_SIGHAND != 0 {
            return Err(Errno::EINVAL);
        }
        let args = proc::fork::CloneArgs { flags, newsp, parent_tid, child_tid, tls };
        return proc::fork::do_fork(args, parent).map(u64::from);
    }
    if flags & !SUPPORTED != 0 {
        return Err(Errno::EINVAL);
    }
    let thread_flags = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;
    if flags & thread_flags != thread_flags {
        // Linux: CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM.
        return Err(Errno::EINVAL);
    }
    if flags & CLONE_SETTLS != 0 && tls >= mm::addr::TASK_SIZE {
        return Err(Errno::EPERM);
    }
    let p = proc::current();
    let me = sched::current();
    let tid = sched::thread::alloc_tid();
    let t = Thread::try_new(tid, p.name()).ok_or(Errno::ENOMEM)?;
    proc::attach(&t, &p);
    t.cr3.store(me.cr3.load(Ordering::SeqCst), Ordering::SeqCst);
    let fs = if flags & CLONE_SETTLS != 0 { tls } else { me.fs_base.load(Ordering::SeqCst) };
    t.fs_base.store(fs, Ordering::SeqCst);
    t.gs_base.store(me.gs_base.load(Ordering::SeqCst), Ordering::SeqCst);
    t.sigmask.store(me.sigmask.load(Ordering::SeqCst), Ordering::SeqCst);
    if flags & CLONE_CHILD_CLEARTID != 0 {
        t.clear_child_tid.store(child_tid, Ordering::SeqCst);
    }
    if flags & CLONE_PARENT_SETTID != 0 {
        write_user::<u32>(parent_tid, &tid)?;
    }
    if flags & CLONE_CHILD_SETTID != 0 {
        write_user::<u32>(child_tid, &tid)?;
    }
    let mut frame = *parent;
    frame.rax = 0;
    if newsp != 0 {
        frame.rsp = newsp;
    }
    let t = Arc::new(t);
    {
        let mut threads = p.threads.lock();
        if p.exit_status.lock().is_some() {
            return Err(Errno::EINTR); // the process is exiting
        }
        threads.push(t.clone());
    }
    sched::spawn(t, move || {
        let mut frame = frame;
        proc::signal::before_return_to_user(&mut frame);
        sched::start_user(frame)
    });
    Ok(tid as u64)
}

pub fn sys_exit(a: Args) -> SysResult {
    let [status, ..] = a.0;
    exit::do_exit(status as i32)
}

pub fn sys_exit_group(a: Args) -> SysResult {
    let [status, ..] = a.0;
    exit::do_exit_group(proc::ExitStatus::Exited(status as i32))
}

pub fn sys_gettid(_a: Args) -> SysResult {
    Ok(sched::current().tid() as u64)
}

pub fn sys_set_tid_address(a: Args) -> SysResult {
    let [tidptr, ..] = a.0;
    let me = sched::current();
    me.clear_child_tid.store(tidptr, Ordering::SeqCst);
    Ok(me.tid() as u64)
}

pub fn sys_sched_yield(_a: Args) -> SysResult {
    sched::yield_now();
    Ok(0)
}

const ARCH_SET_GS: u64 = 0x1001;
const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;
const ARCH_GET_GS: u64 = 0x1004;

pub fn sys_arch_prctl(a: Args) -> SysResult {
    let [code, addr, ..] = a.0;
    let me = sched::current();
    match code {
        ARCH_SET_FS => {
            if addr >= mm::addr::TASK_SIZE {
                return Err(Errno::EPERM);
            }
            me.fs_base.store(addr, Ordering::SeqCst);
            x86_64::registers::model_specific::FsBase::write(x86_64::VirtAddr::new(addr));
            Ok(0)
        }
        ARCH_SET_GS => {
            if addr >= mm::addr::TASK_SIZE {
                return Err(Errno::EPERM);
            }
            me.gs_base.store(addr, Ordering::SeqCst);
            crate::arch::percpu::set_user_gs_base(addr);
            Ok(0)
        }
        ARCH_GET_FS => write_user(addr, &me.fs_base.load(Ordering::SeqCst)).map(|_| 0),
        ARCH_GET_GS => write_user(addr, &me.gs_base.load(Ordering::SeqCst)).map(|_| 0),
        _ => Err(Errno::EINVAL),
    }
}

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_REQUEUE: u64 = 3;
const FUTEX_CMP_REQUEUE: u64 = 4;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_PRIVATE_FLAG: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;

/// A shared (non-private) futex is keyed by the page behind it, which
/// Linux's get_futex_key finds with get_user_pages: an address that is not
/// aligned is EINVAL, one without accessible memory EFAULT. (Holdfast keys
/// shared futexes per address space, so only the check remains.)
fn shared_futex_ok(op: u64, uaddr: u64) -> Result<(), Errno> {
    if op & FUTEX_PRIVATE_FLAG != 0 {
        return Ok(());
    }
    if uaddr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    read_user::<u32>(uaddr).map(|_| ())
}

pub fn sys_futex(a: Args) -> SysResult {
    let [uaddr, op, val, timeout, uaddr2, val3] = a.0;
    let op = op as u32 as u64; // an int
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    let shared = op & FUTEX_PRIVATE_FLAG == 0;
    let p = proc::current();
    // Linux's order: sys_futex reads and checks the timeout of a waiting
    // command (EFAULT, EINVAL) before do_futex looks at the command.
    let deadline = if matches!(cmd, FUTEX_WAIT | FUTEX_WAIT_BITSET) && timeout != 0 {
        let [sec, nsec] = read_user::<[u64; 2]>(timeout)?;
        if (sec as i64) < 0 || nsec >= 1_000_000_000 {
            return Err(Errno::EINVAL);
        }
        let ns = sec.saturating_mul(1_000_000_000).saturating_add(nsec);
        let now = crate::arch::time::now_ns();
        // FUTEX_WAIT takes a relative timeout; the BITSET form an
        // absolute one (on the monotonic clock unless CLOCK_REALTIME).
        Some(if cmd == FUTEX_WAIT {
            now.saturating_add(ns)
        } else if op & FUTEX_CLOCK_REALTIME != 0 {
            now + ns.saturating_sub(crate::arch::rtc::boot_epoch_ns() + now)
        } else {
            ns
        })
    } else {
        None
    };
    // FUTEX_CLOCK_REALTIME goes only with FUTEX_WAIT_BITSET (of the
    // commands Holdfast has); Linux answers ENOSYS otherwise.
    if op & FUTEX_CLOCK_REALTIME != 0 && cmd != FUTEX_WAIT_BITSET {
        return Err(Errno::ENOSYS);
    }
    match cmd {
        cmd @ (FUTEX_WAIT | FUTEX_WAIT_BITSET) => {
            if cmd == FUTEX_WAIT_BITSET && val3 as u32 == 0 {
                return Err(Errno::EINVAL);
            }
            shared_futex_ok(op, uaddr)?;
            futex::wait(&p, uaddr, val as u32, deadline, shared).map(|_| 0)
        }
        cmd @ (FUTEX_WAKE | FUTEX_WAKE_BITSET) => {
            if cmd == FUTEX_WAKE_BITSET && val3 as u32 == 0 {
                return Err(Errno::EINVAL);
            }
            shared_futex_ok(op, uaddr)?;
            // nr_wake is an int and Linux's futex_wake checks the count
            // after waking: 0 or a negative count still wakes one waiter.
            let n = (val as i32).max(1) as u32;
            futex::wake(&p, uaddr, n, shared).map(u64::from)
        }
        cmd @ (FUTEX_REQUEUE | FUTEX_CMP_REQUEUE) => {
            // `timeout` carries nr_requeue for these operations.
            let (nr_wake, nr_requeue) = (val as i32, timeout as i32);
            if nr_wake < 0 || nr_requeue < 0 {
                return Err(Errno::EINVAL);
            }
            shared_futex_ok(op, uaddr)?;
            shared_futex_ok(op, uaddr2)?;
            let cmp = (cmd == FUTEX_CMP_REQUEUE).then_some(val3 as u32);
            futex::requeue(&p, uaddr, uaddr2, nr_wake as u32, nr_requeue as u32, cmp, shared).map(u64::from)
        }
        _ => Err(Errno::ENOSYS),
    }
}
