//! Creating processes: `fork`, `vfork` and `clone` without `CLONE_THREAD`
//! (Linux kernel/fork.c `kernel_clone`/`copy_process`).
//!
//! The child is a copy of the calling thread's process: a copy-on-write
//! copy of its address space (`UserMm::dup`, the mm crate's `dup_mmap`) —
//! or, with `CLONE_VM`, the same one — a copy of its file table (the same
//! open file descriptions), its credentials, limits, signal actions,
//! name, process group and session. Its one thread resumes from the same
//! system call with `rax = 0`, on `newsp` if one is given, with the
//! caller's TLS bases, signal mask and x87/SSE registers.
//!
//! `CLONE_VFORK` (vfork, posix_spawn): the parent's thread sleeps until
//! the child releases the address space, by exiting or by exec
//! ([`mm_release`]); the sleep is killable. `CLONE_PARENT_SETTID` writes
//! the child's pid in the parent's memory, `CLONE_CHILD_SETTID` in the
//! child's (by the child, before it first returns to user space, as
//! Linux's `schedule_tail`), `CLONE_CHILD_CLEARTID` is armed for the
//! child's thread.
//!
//! `RLIMIT_NPROC`: a fork that would give the caller's real uid more
//! tasks than the limit fails with `EAGAIN`, except for root (uid 0, the
//! holder of `CAP_SYS_RESOURCE` here).
//!
//! Locking: takes the parent's `mmap_lock` for write for the copy (in the
//! mm crate), then [`super::wait::TASKLIST`] to link the child; no lock is
//! held across the vfork sleep.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;
use mm::Errno;

use super::{Process, UserMm, RLIMIT_NPROC};
use crate::arch::syscall::UserFrame;
use crate::sched::{self, thread::Thread};

/// Linux's `clone` flags (the thread path in `syscall::thread` uses them
/// too).
pub mod flags {
    pub const CSIGNAL: u64 = 0xFF;
    pub const CLONE_VM: u64 = 0x100;
    pub const CLONE_FS: u64 = 0x200;
    pub const CLONE_FILES: u64 = 0x400;
    pub const CLONE_SIGHAND: u64 = 0x800;
    pub const CLONE_THREAD: u64 = 0x10000;
    pub const CLONE_SYSVSEM: u64 = 0x40000;
    pub const CLONE_VFORK: u64 = 0x4000;
    pub const CLONE_SETTLS: u64 = 0x80000;
    pub const CLONE_PARENT_SETTID: u64 = 0x100000;
    pub const CLONE_CHILD_CLEARTID: u64 = 0x200000;
    pub const CLONE_DETACHED: u64 = 0x400000;
    pub const CLONE_CHILD_SETTID: u64 = 0x1000000;
}
use flags::*;

/// The flags [`do_fork`] implements; any other makes it `EINVAL`.
/// (`CLONE_FS` is accepted, but the child gets a copy of the working
/// directory and umask rather than sharing them.)
pub const SUPPORTED: u64 = CSIGNAL
    | CLONE_VM
    | CLONE_FS
    | CLONE_VFORK
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED
    | CLONE_CHILD_SETTID;

/// `clone`'s arguments for a new process.
#[derive(Clone, Copy, Debug, Default)]
pub struct CloneArgs {
    pub flags: u64,
    /// The child's stack pointer (0: the parent's).
    pub newsp: u64,
    pub parent_tid: u64,
    pub child_tid: u64,
    pub tls: u64,
}

/// Create a child process of the current one, resuming from the system
/// call described by `frame`. Returns the child's pid.
///
/// Errors: `EINVAL` unsupported flags, `EPERM` a TLS beyond user space,
/// `EAGAIN` past `RLIMIT_NPROC`, `ENOMEM` no memory for the copy, `EINTR`
/// the parent is being killed, `EFAULT` a bad `parent_tid`.
pub fn do_fork(args: CloneArgs, frame: &UserFrame) -> Result<u32, Errno> {
    if args.flags & !SUPPORTED != 0 {
        return Err(Errno::EINVAL);
    }
    if args.flags & CLONE_SETTLS != 0 && args.tls >= mm::addr::TASK_SIZE {
        return Err(Errno::EPERM);
    }
    let parent = super::current();
    let me = sched::current();
    // RLIMIT_NPROC: checked early (no copy for nothing) and again where
    // the child is listed.
    let nproc = {
        let creds = parent.creds();
        let limit = parent.rlimits.lock()[RLIMIT_NPROC].cur;
        let exempt = creds.uid == 0 || creds.capable(super::cred::CAP_SYS_RESOURCE) || creds.capable(super::cred::CAP_SYS_ADMIN);
        (!exempt).then_some((creds.uid, limit))
    };
    if let Some((uid, limit)) = nproc {
        if super::nr_processes_of(uid) >= limit {
            return Err(Errno::EAGAIN);
        }
    }
    let mm = if args.flags & CLONE_VM != 0 {
        let mm = parent.mm();
        mm.mmget();
        mm
    } else {
        // Under memory pressure the copy's page tables may find no free
        // frame: reclaim and copy again, as Linux's allocator would.
        Arc::new(crate::memory::swap::retry_after_reclaim(|| parent.mm().dup())?)
    };
    let files = match parent.files.dup() {
        Ok(f) => f,
        Err(e) => {
            drop_mm(mm);
            return Err(e);
        }
    };
    let pid = sched::thread::alloc_tid();
    let exit_signal = (args.flags & CSIGNAL) as u8;
    let child = Process::new_child(pid, &parent, mm, files, exit_signal);
    let Some(t) = Thread::try_new(pid, child.name()) else {
        discard(&child);
        return Err(Errno::ENOMEM);
    };
    super::attach(&t, &child);
    t.cr3.store(child.mm().root_pa(), Ordering::SeqCst);
    let fs = if args.flags & CLONE_SETTLS != 0 { args.tls } else { me.fs_base.load(Ordering::SeqCst) };
    t.fs_base.store(fs, Ordering::SeqCst);
    t.gs_base.store(me.gs_base.load(Ordering::SeqCst), Ordering::SeqCst);
    t.sigmask.store(me.sigmask.load(Ordering::SeqCst), Ordering::SeqCst);
    sched::copy_fpu_state_to(&t);
    if args.flags & CLONE_CHILD_CLEARTID != 0 {
        t.clear_child_tid.store(args.child_tid, Ordering::SeqCst);
    }
    let t = Arc::new(t);
    child.threads.lock().push(t.clone());
    let vfork = args.flags & CLONE_VFORK != 0;
    if vfork {
        *child.vfork_parent.lock() = Some(me.clone());
    }
    if let Err(e) = super::wait::attach_child(&parent, &child, nproc) {
        child.threads.lock().clear();
        discard(&child);
        return Err(e);
    }
    if args.flags & CLONE_PARENT_SETTID != 0 {
        // Written once the child exists; Linux ignores a fault here.
        let _ = crate::uaccess::write_user::<u32>(args.parent_tid, &pid);
    }
    let mut uframe = *frame;
    uframe.rax = 0;
    if args.newsp != 0 {
        uframe.rsp = args.newsp;
    }
    let set_child_tid = (args.flags & CLONE_CHILD_SETTID != 0).then_some(args.child_tid);
    sched::spawn(t, move || {
        if let Some(addr) = set_child_tid {
            let _ = crate::uaccess::write_user::<u32>(addr, &pid);
        }
        let mut uframe = uframe;
        super::signal::before_return_to_user(&mut uframe);
        sched::start_user(uframe)
    });
    if vfork {
        wait_for_vfork_done(&child, &me);
    }
    Ok(pid)
}

/// The parent's side of `CLONE_VFORK`: sleep until the child has released
/// the address space (or a fatal signal arrives).
fn wait_for_vfork_done(child: &Process, me: &Arc<Thread>) {
    loop {
        if child.vfork_parent.lock().is_none() || me.fatal_signal_pending() {
            return;
        }
        sched::block_current();
    }
}

/// Linux `mm_release`: `proc` stops using its address space (exit, or
/// exec replacing it); a parent asleep in `vfork` for it goes on.
pub fn mm_release(proc: &Process) {
    let parent = proc.vfork_parent.lock().take();
    if let Some(t) = parent {
        sched::wake(&t);
    }
}

/// Undo a child that never ran: its files and its use of the mm.
fn discard(child: &Arc<Process>) {
    child.files.close_all();
    drop_mm(child.mm());
}

fn drop_mm(mm: Arc<UserMm>) {
    if mm.mmput() {
        mm.exit_mmap();
    }
}
