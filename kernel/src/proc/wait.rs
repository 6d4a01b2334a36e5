//! The process tree: parents and children, zombies and reaping (`wait4`,
//! `waitid`), orphans, process groups and sessions (Linux kernel/exit.c,
//! kernel/sys.c).
//!
//! A child is in its parent's `children` from `fork` until it is reaped.
//! When its last thread exits it becomes a zombie ([`exit_notify`]): its
//! address space and files are gone, its exit status stays, its `dead`
//! flag is set, and the parent's threads asleep in wait are woken. Its own
//! children are adopted first (Linux `forget_original_parent`): by the
//! nearest living ancestor that is a child subreaper, else by the first
//! process (pid 1's role), else by nobody — an orphan nobody adopts is
//! reaped as soon as it exits, as Linux's init would. A parent that set
//! `SIGCHLD` to `SIG_IGN` (or `SA_NOCLDWAIT`) leaves no zombies either.
//!
//! Waiting ([`do_wait`]) is a killable sleep on the parent's
//! `child_waiters` list: a waiter checks its children and enters the list
//! under [`TASKLIST`], and an exit wakes the list under the same lock, so
//! a wake-up between the check and the sleep is never lost (it stays
//! pending, see `sched::wake`). A fatal signal ends the wait with `EINTR`.
//!
//! Invariants: a process is in at most one `children` list, the one of
//! the process its `ppid` names; `dead` is set only under [`TASKLIST`];
//! a reaped process is in no `children` list and not listed.
//!
//! Locking: [`TASKLIST`] (Linux `tasklist_lock`) guards `ppid`, `pgid`,
//! `sid`, `children` and `dead` changes; it is taken before a process's
//! own `IrqMutex`es and never held across a sleep or a user copy.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use mm::Errno;

use super::{ExitStatus, Process, SIGCHLD};
use crate::sched;
use crate::sync::IrqMutex;

/// The process-tree lock (Linux `tasklist_lock`).
pub static TASKLIST: IrqMutex<()> = IrqMutex::new(());

/// Which children a wait is for (wait4's pid, waitid's idtype and id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFor {
    /// `P_ALL`, wait4's -1.
    Any,
    /// `P_PID`, wait4's pid > 0.
    Pid(u32),
    /// `P_PGID`, wait4's 0 (own group) and < -1.
    Pgid(u32),
}

/// wait4/waitid options Holdfast acts on.
#[derive(Clone, Copy, Debug, Default)]
pub struct WaitOptions {
    pub nohang: bool,
    /// `WNOWAIT`: report, but leave the zombie to be reaped again.
    pub nowait: bool,
    /// `WEXITED` (always set for wait4).
    pub exited: bool,
    /// `__WCLONE`: only children with an exit signal other than SIGCHLD.
    pub clone: bool,
    /// `__WALL`: every child.
    pub all: bool,
    /// `WUNTRACED` (`WSTOPPED`): report a stop.
    pub stopped: bool,
    /// `WCONTINUED`: report a continue.
    pub continued: bool,
}

/// `si_code` values of `SIGCHLD` and `waitid`.
pub const CLD_EXITED: i32 = 1;
pub const CLD_KILLED: i32 = 2;
pub const CLD_STOPPED: i32 = 5;
pub const CLD_CONTINUED: i32 = 6;

/// What a wait reports of a child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitEvent {
    /// It ended (a zombie).
    Exited(ExitStatus),
    /// A signal stopped it.
    Stopped(u8),
    /// SIGCONT continued it.
    Continued,
}

impl WaitEvent {
    /// Linux's wait status: an exit's, `0x7f | sig << 8` for a stop,
    /// `0xffff` for a continue.
    pub fn wait_status(self) -> u32 {
        match self {
            WaitEvent::Exited(s) => s.wait_status(),
            WaitEvent::Stopped(sig) => 0x7f | u32::from(sig) << 8,
            WaitEvent::Continued => 0xffff,
        }
    }

    /// `si_code` and `si_status` of its `SIGCHLD` and `waitid`.
    pub fn code_and_status(self) -> (i32, i32) {
        match self {
            WaitEvent::Exited(ExitStatus::Exited(c)) => (CLD_EXITED, c & 0xff),
            WaitEvent::Exited(ExitStatus::Signaled(s)) => (CLD_KILLED, i32::from(s)),
            WaitEvent::Stopped(sig) => (CLD_STOPPED, i32::from(sig)),
            WaitEvent::Continued => (CLD_CONTINUED, i32::from(super::signal::SIGCONT)),
        }
    }
}

/// A reaped (or, with `WNOWAIT`, reported) child.
#[derive(Clone, Copy, Debug)]
pub struct Reaped {
    pub pid: u32,
    pub uid: u32,
    pub event: WaitEvent,
}

/// Add `child`, whose thread is ready, to the process list and to its
/// parent's children. `EINTR` if the parent is already exiting (a fatal
/// signal arrived during the fork): the child must then not run. With
/// `nproc` = (uid, limit): `EAGAIN` if that uid has `limit` tasks already
/// (`RLIMIT_NPROC`, checked here, where no other fork can list a process
/// meanwhile).
pub fn attach_child(parent: &Arc<Process>, child: &Arc<Process>, nproc: Option<(u32, u64)>) -> Result<(), Errno> {
    let _t = TASKLIST.lock();
    if parent.exit_status.lock().is_some() || parent.dead.load(Ordering::SeqCst) {
        return Err(Errno::EINTR);
    }
    if let Some((uid, limit)) = nproc {
        if super::nr_processes_of(uid) >= limit {
            return Err(Errno::EAGAIN);
        }
    }
    parent.children.lock().push(child.clone());
    super::list(child.clone());
    Ok(())
}

/// Linux `find_new_reaper`: the nearest living ancestor of `proc` that is
/// a child subreaper, else the first process if it lives.
///
/// Locking: [`TASKLIST`] held.
fn find_new_reaper(proc: &Process) -> Option<Arc<Process>> {
    let mut ppid = proc.ppid.load(Ordering::SeqCst);
    let mut hops = 0;
    while ppid != 0 && hops < 4096 {
        let Some(a) = super::find_any(ppid) else { break };
        if a.child_subreaper.load(Ordering::SeqCst) && !a.dead.load(Ordering::SeqCst) && a.exit_status.lock().is_none() {
            return Some(a);
        }
        ppid = a.ppid.load(Ordering::SeqCst);
        hops += 1;
    }
    super::all().into_iter().find(|p| p.is_init && !p.dead.load(Ordering::SeqCst) && p.pid != proc.pid)
}

/// Does the parent ignore SIGCHLD (handler `SIG_IGN`, or `SA_NOCLDWAIT`)?
/// Then its children are reaped at exit (Linux `do_notify_parent`).
fn ignores_children(parent: &Process) -> bool {
    const SA_NOCLDWAIT: u64 = 2;
    let act = parent.signal.lock().actions[SIGCHLD as usize - 1];
    act.handler == super::signal::SIG_IGN || act.flags & SA_NOCLDWAIT != 0
}

/// Tell `parent` that `child` ended with `status`: its exit signal
/// (`SIGCHLD` unless `clone` named another; none for 0), with the
/// child's pid, uid and status (Linux `do_notify_parent`).
fn notify_parent(parent: &Arc<Process>, child: &Process, status: ExitStatus) {
    if child.exit_signal == 0 {
        return;
    }
    let (code, value) = WaitEvent::Exited(status).code_and_status();
    let uid = child.creds.lock().uid;
    let info = super::signal::SigInfo {
        signo: child.exit_signal,
        code,
        source: super::signal::SigSource::Child { pid: child.pid, uid, status: value },
    };
    let _ = super::signal::send_to_process(parent, info);
}

/// Tell the parent of `child` that it stopped or continued (Linux
/// `do_notify_parent_cldstop`): `SIGCHLD` unless the parent ignores it or
/// asked `SA_NOCLDSTOP`; its threads asleep in wait are woken.
pub fn notify_parent_cldstop(child: &Process, event: WaitEvent) {
    const SA_NOCLDSTOP: u64 = 1;
    let _t = TASKLIST.lock();
    let Some(parent) = super::find(child.ppid.load(Ordering::SeqCst)) else { return };
    let act = parent.signal.lock().actions[SIGCHLD as usize - 1];
    if act.handler != super::signal::SIG_IGN && act.flags & SA_NOCLDSTOP == 0 {
        let (code, status) = event.code_and_status();
        let uid = child.creds.lock().uid;
        let info = super::signal::SigInfo { signo: SIGCHLD, code, source: super::signal::SigSource::Child { pid: child.pid, uid, status } };
        let _ = super::signal::send_to_process(&parent, info);
    }
    wake_waiters(&parent);
}

/// Is process group `pgrp` orphaned (Linux `will_become_orphaned_pgrp`):
/// does no live member have a parent in another group of its session
/// (the first process's children do not count)?
pub fn is_pgrp_orphaned(pgrp: u32) -> bool {
    let _t = TASKLIST.lock();
    !group_members(pgrp).iter().any(|p| {
        super::find(p.ppid.load(Ordering::SeqCst)).is_some_and(|parent| {
            !parent.is_init
                && parent.pgid.load(Ordering::SeqCst) != pgrp
                && parent.sid.load(Ordering::SeqCst) == p.sid.load(Ordering::SeqCst)
        })
    })
}

/// Wake the threads of `p` asleep in wait.
fn wake_waiters(p: &Process) {
    let waiters: Vec<_> = core::mem::take(&mut *p.child_waiters.lock());
    for t in &waiters {
        sched::wake(t);
    }
}

/// Forget a reaped zombie: out of its parent's children and the list.
///
/// Locking: [`TASKLIST`] held.
fn release(parent: Option<&Process>, child: &Process) {
    if let Some(parent) = parent {
        parent.children.lock().retain(|c| c.pid != child.pid);
    }
    super::unlist(child.pid);
}

/// `proc` has exited (its last thread, after its memory and files are
/// released): hand its children to their new reaper, become a zombie,
/// wake the parent's waiters — or be reaped at once when nobody will wait
/// (no parent, or one that ignores SIGCHLD). Linux `exit_notify`.
pub fn exit_notify(proc: &Arc<Process>) {
    let _t = TASKLIST.lock();
    let orphans: Vec<_> = core::mem::take(&mut *proc.children.lock());
    if !orphans.is_empty() {
        let reaper = find_new_reaper(proc);
        for c in orphans {
            match &reaper {
                Some(r) => {
                    c.ppid.store(r.pid, Ordering::SeqCst);
                    let zombie = c.dead.load(Ordering::SeqCst);
                    r.children.lock().push(c);
                    if zombie {
                        wake_waiters(r);
                    }
                }
                None => {
                    c.ppid.store(0, Ordering::SeqCst);
                    if c.dead.load(Ordering::SeqCst) {
                        release(None, &c);
                    }
                }
            }
        }
    }
    proc.dead.store(true, Ordering::SeqCst);
    let parent = super::find_any(proc.ppid.load(Ordering::SeqCst)).filter(|p| !p.dead.load(Ordering::SeqCst));
    let status = proc.exit_status.lock().unwrap_or(ExitStatus::Exited(0));
    match parent {
        Some(p) if !ignores_children(&p) => {
            notify_parent(&p, proc, status);
            wake_waiters(&p);
        }
        Some(p) => {
            release(Some(&p), proc);
            wake_waiters(&p);
        }
        None if proc.is_init => {}
        None => release(None, proc),
    }
}

/// Is `c` one of the children `who` and `opts` ask for? (Linux
/// `eligible_pid` and `eligible_child`.)
fn eligible(c: &Process, who: WaitFor, opts: &WaitOptions) -> bool {
    let id_ok = match who {
        WaitFor::Any => true,
        WaitFor::Pid(pid) => c.pid == pid,
        WaitFor::Pgid(pgid) => c.pgid.load(Ordering::SeqCst) == pgid,
    };
    id_ok && (opts.all || (c.exit_signal != SIGCHLD) == opts.clone)
}

/// Linux `do_wait` for the children `who` names of the current process:
/// reap (or with `nowait` only report) a zombie, else report a stop
/// (`stopped`) or a continue (`continued`) not yet collected, collecting
/// it unless `nowait`. `Ok(None)` with `nohang` when there is none yet; `ECHILD` when no
/// child matches at all; `ERESTARTSYS` when a signal ends the sleep.
pub fn do_wait(who: WaitFor, opts: WaitOptions) -> Result<Option<Reaped>, Errno> {
    let me = super::current();
    let thread = sched::current();
    loop {
        {
            let _t = TASKLIST.lock();
            let children: Vec<_> = me.children.lock().clone();
            let mut any = false;
            for c in children.iter().filter(|c| eligible(c, who, &opts)) {
                any = true;
                if c.dead.load(Ordering::SeqCst) {
                    if !opts.exited {
                        continue;
                    }
                    let status = c.exit_status.lock().unwrap_or(ExitStatus::Exited(0));
                    let r = Reaped { pid: c.pid, uid: c.creds.lock().uid, event: WaitEvent::Exited(status) };
                    if !opts.nowait {
                        release(Some(&me), c);
                    }
                    return Ok(Some(r));
                }
                let event = {
                    let mut sh = c.signal.lock();
                    let j = &mut sh.jobctl;
                    if opts.stopped && j.stopped.is_some() && j.stop_code != 0 {
                        let sig = j.stop_code;
                        if !opts.nowait {
                            j.stop_code = 0;
                        }
                        Some(WaitEvent::Stopped(sig))
                    } else if opts.continued && j.continued {
                        if !opts.nowait {
                            j.continued = false;
                        }
                        Some(WaitEvent::Continued)
                    } else {
                        None
                    }
                };
                if let Some(event) = event {
                    return Ok(Some(Reaped { pid: c.pid, uid: c.creds.lock().uid, event }));
                }
            }
            if !any {
                return Err(Errno::ECHILD);
            }
            if opts.nohang {
                return Ok(None);
            }
            // A signal ends the wait: restarted after a handler with
            // SA_RESTART, EINTR otherwise (Linux's -ERESTARTSYS).
            if thread.signal_pending() {
                return Err(Errno::ERESTARTSYS);
            }
            let mut w = me.child_waiters.lock();
            if !w.iter().any(|t| Arc::ptr_eq(t, &thread)) {
                w.push(thread.clone());
            }
        }
        sched::block_current();
        // Woken by an exit, a fatal signal or a spurious wake: look again.
        me.child_waiters.lock().retain(|t| !Arc::ptr_eq(t, &thread));
    }
}

/// Linux `setpgid`: move process `pid` (0: the caller), the caller or one
/// of its children in its session and not a session leader, into group
/// `pgid` (0: `pid`'s own), which must exist in the caller's session
/// unless it is `pid` itself. `EINVAL` negative pgid, `ESRCH` not the
/// caller or its child, `EPERM` otherwise refused.
pub fn setpgid(pid: i32, pgid: i32) -> Result<(), Errno> {
    if pgid < 0 || pid < 0 {
        return Err(Errno::EINVAL);
    }
    let me = super::current();
    let pid = if pid == 0 { me.pid } else { pid as u32 };
    let pgid = if pgid == 0 { pid } else { pgid as u32 };
    let _t = TASKLIST.lock();
    let p = super::find(pid).ok_or(Errno::ESRCH)?;
    let my_sid = me.sid.load(Ordering::SeqCst);
    if p.pid != me.pid {
        if p.ppid.load(Ordering::SeqCst) != me.pid {
            return Err(Errno::ESRCH);
        }
        if p.sid.load(Ordering::SeqCst) != my_sid {
            return Err(Errno::EPERM);
        }
    }
    if p.sid.load(Ordering::SeqCst) == p.pid {
        return Err(Errno::EPERM); // a session leader
    }
    if pgid != pid
        && !super::all()
            .iter()
            .any(|q| !q.dead.load(Ordering::SeqCst) && q.pgid.load(Ordering::SeqCst) == pgid && q.sid.load(Ordering::SeqCst) == my_sid)
    {
        return Err(Errno::EPERM);
    }
    p.pgid.store(pgid, Ordering::SeqCst);
    Ok(())
}

/// The process `pid` (0: the caller) for getpgid/getsid: `ESRCH` if none.
fn process_or_self(pid: i32) -> Result<Arc<Process>, Errno> {
    match pid {
        0 => Ok(super::current()),
        p if p > 0 => super::find_any(p as u32).ok_or(Errno::ESRCH),
        _ => Err(Errno::ESRCH),
    }
}

/// Linux `getpgid`.
pub fn getpgid(pid: i32) -> Result<u32, Errno> {
    Ok(process_or_self(pid)?.pgid.load(Ordering::SeqCst))
}

/// Linux `getsid`.
pub fn getsid(pid: i32) -> Result<u32, Errno> {
    Ok(process_or_self(pid)?.sid.load(Ordering::SeqCst))
}

/// Linux `setsid`: a new session and group led by the caller; `EPERM` if
/// a process group with the caller's pid exists (it leads one already).
pub fn setsid() -> Result<u32, Errno> {
    let me = super::current();
    let _t = TASKLIST.lock();
    if super::all().iter().any(|q| !q.dead.load(Ordering::SeqCst) && q.pgid.load(Ordering::SeqCst) == me.pid) {
        return Err(Errno::EPERM);
    }
    me.sid.store(me.pid, Ordering::SeqCst);
    me.pgid.store(me.pid, Ordering::SeqCst);
    Ok(me.pid)
}

/// The living members of process group `pgid`.
pub fn group_members(pgid: u32) -> Vec<Arc<Process>> {
    super::all()
        .into_iter()
        .filter(|p| !p.dead.load(Ordering::SeqCst) && p.pgid.load(Ordering::SeqCst) == pgid)
        .collect()
}
