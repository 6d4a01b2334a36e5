//! Thread syscalls: clone (threads), exit, exit_group, futex,
//! set_tid_address, gettid, arch_prctl, sched_yield.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::sync::atomic::Ordering;
use mm::Errno;

use super::{Args, SysResult};
use crate::arch::syscall::UserFrame;
use crate::proc::{self, exit, futex};
use crate::sched::{self, thread::Thread};
use crate::uaccess::{read_user, write_user};

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SYSVSEM: u64 = 0x40000;
const CLONE_SETTLS: u64 = 0x80000;
const CLONE_PARENT_SETTID: u64 = 0x100000;
const CLONE_CHILD_CLEARTID: u64 = 0x200000;
const CLONE_DETACHED: u64 = 0x400000;
const CLONE_CHILD_SETTID: u64 = 0x1000000;
const CSIGNAL: u64 = 0xFF;
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

extern "C" fn thread_start(arg: u64) -> ! {
    sched::finish_switch();
    // SAFETY: `arg` is the frame boxed by sys_clone for this thread.
    let frame = unsafe { Box::from_raw(arg as *mut UserFrame) };
    proc::signal::before_return_to_user();
    proc::exec::start_user(*frame)
}

/// `clone` for threads: the new thread shares everything and returns 0 in
/// `rax` on `newsp`. Creating processes (no `CLONE_VM`) is not supported.
pub fn sys_clone(a: Args, parent: &UserFrame) -> SysResult {
    let [flags, newsp, parent_tid, child_tid, tls, _] = a.0;
    if flags & !SUPPORTED != 0 {
        return Err(Errno::EINVAL);
    }
    let thread_flags = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;
    if flags & thread_flags != thread_flags {
        // Linux: CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM.
        return Err(if flags & CLONE_VM == 0 { Errno::ENOSYS } else { Errno::EINVAL });
    }
    if flags & CLONE_SETTLS != 0 && tls >= mm::addr::TASK_SIZE {
        return Err(Errno::EPERM);
    }
    let p = proc::current();
    let me = sched::current();
    let tid = sched::thread::alloc_tid();
    let t = Thread::new(tid, p.name());
    t.process.call_once(|| p.clone());
    t.cr3.store(me.cr3.load(Ordering::SeqCst), Ordering::SeqCst);
    let fs = if flags & CLONE_SETTLS != 0 { tls } else { me.fs_base.load(Ordering::SeqCst) };
    t.fs_base.store(fs, Ordering::SeqCst);
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
    sched::spawn_arc(t, thread_start, Box::into_raw(Box::new(frame)) as u64);
    Ok(tid as u64)
}

pub fn sys_exit(a: Args) -> SysResult {
    exit::do_exit(a.0[0] as i32)
}

pub fn sys_exit_group(a: Args) -> SysResult {
    exit::do_exit_group(proc::ExitStatus::Exited(a.0[0] as i32))
}

pub fn sys_gettid(_a: Args) -> SysResult {
    Ok(sched::current().tid as u64)
}

pub fn sys_set_tid_address(a: Args) -> SysResult {
    let me = sched::current();
    me.clear_child_tid.store(a.0[0], Ordering::SeqCst);
    Ok(me.tid as u64)
}

pub fn sys_sched_yield(_a: Args) -> SysResult {
    sched::yield_now();
    Ok(0)
}

const ARCH_SET_FS: u64 = 0x1002;
const ARCH_GET_FS: u64 = 0x1003;

pub fn sys_arch_prctl(a: Args) -> SysResult {
    let me = sched::current();
    match a.0[0] {
        ARCH_SET_FS => {
            if a.0[1] >= mm::addr::TASK_SIZE {
                return Err(Errno::EPERM);
            }
            me.fs_base.store(a.0[1], Ordering::SeqCst);
            x86_64::registers::model_specific::FsBase::write(x86_64::VirtAddr::new(a.0[1]));
            Ok(0)
        }
        ARCH_GET_FS => write_user(a.0[1], &me.fs_base.load(Ordering::SeqCst)).map(|_| 0),
        _ => Err(Errno::EINVAL),
    }
}

const FUTEX_WAIT: u64 = 0;
const FUTEX_WAKE: u64 = 1;
const FUTEX_WAIT_BITSET: u64 = 9;
const FUTEX_WAKE_BITSET: u64 = 10;
const FUTEX_PRIVATE_FLAG: u64 = 128;
const FUTEX_CLOCK_REALTIME: u64 = 256;

pub fn sys_futex(a: Args) -> SysResult {
    let [uaddr, op, val, timeout, _uaddr2, val3] = a.0;
    let p = proc::current();
    match op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME) {
        cmd @ (FUTEX_WAIT | FUTEX_WAIT_BITSET) => {
            if cmd == FUTEX_WAIT_BITSET && val3 as u32 == 0 {
                return Err(Errno::EINVAL);
            }
            let deadline = if timeout == 0 {
                None
            } else {
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
            };
            futex::wait(&p, uaddr, val as u32, deadline).map(|_| 0)
        }
        cmd @ (FUTEX_WAKE | FUTEX_WAKE_BITSET) => {
            if cmd == FUTEX_WAKE_BITSET && val3 as u32 == 0 {
                return Err(Errno::EINVAL);
            }
            futex::wake(&p, uaddr, val as u32).map(u64::from)
        }
        _ => Err(Errno::ENOSYS),
    }
}
