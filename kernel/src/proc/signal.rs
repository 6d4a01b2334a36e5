//! Signals: actions, blocked masks, pending sets and delivery (Linux
//! `kernel/signal.c`).
//!
//! Each process has one [`SigHand`] under one lock (Linux's `siglock`):
//! the actions of signals 1..=64, the process-wide (shared) pending set,
//! and per thread its private pending set, alternate stack, the mask
//! `rt_sigsuspend` saved and the last trap's details. A thread's blocked
//! mask is its `Thread::sigmask`, changed only under that lock; its
//! `Thread::sigpending` flag (Linux `TIF_SIGPENDING`) says that a signal
//! it does not block may be pending, and is what interruptible sleeps
//! check ([`crate::sched::Thread::signal_pending`]).
//!
//! Sending ([`send_to_process`], [`send_to_thread`], [`force_fault`])
//! queues the signal — a standard signal at most once, real-time ones
//! each time — unless its action ignores it, then picks a thread that does
//! not block it (the main thread first), sets its flag and wakes it. A
//! signal whose action is the default "terminate" (or "core") and that the
//! chosen thread does not block ends the process at once
//! ([`super::exit::begin_group_exit`]), as Linux's `complete_signal` does;
//! SIGKILL always does.
//!
//! Delivery happens on every way back to ring 3
//! ([`before_return_to_user`]): a thread dequeues the signals it does not
//! block (synchronous faults first, then the lowest number), carries out
//! default actions, and for a handler builds a signal frame
//! ([`super::sigframe`]) and fixes up an interrupted system call
//! (`-ERESTARTSYS` and friends: `EINTR`, or a restart by rewinding RIP).
//! Job control (Linux's group stop, simplified): a stop signal (SIGSTOP,
//! SIGTSTP, SIGTTIN, SIGTTOU) taken with the default action stops the
//! whole process at once ([`JobCtl::stopped`]): the parent is told
//! (`CLD_STOPPED`), and every thread, its pending flag forced on, parks
//! on its way back to ring 3 until SIGCONT clears the stop and wakes it,
//! or SIGKILL ends the process. Sending a stop signal discards a pending
//! SIGCONT; sending SIGCONT discards pending stop signals and continues a
//! stopped process (`CLD_CONTINUED`) before its own action is looked at.
//! SIGTSTP, SIGTTIN and SIGTTOU do not stop a process of an orphaned
//! process group. `wait4`/`waitid` collect a stop and a continue once
//! each ([`JobCtl::stop_code`], [`JobCtl::continued`]).
//!
//! Lock order: `Process::threads`, then `Process::signal`; neither is held
//! across a sleep, a user copy or a process exit.

use alloc::collections::BTreeMap;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

use mm::Errno;

use super::{exit, ExitStatus, Process};
use crate::arch::syscall::UserFrame;
use crate::sched::{self, Thread};

pub const SIGQUIT: u8 = 3;
pub const SIGILL: u8 = 4;
pub const SIGTRAP: u8 = 5;
pub const SIGABRT: u8 = 6;
pub const SIGBUS: u8 = 7;
pub const SIGFPE: u8 = 8;
pub const SIGKILL: u8 = 9;
pub const SIGSEGV: u8 = 11;
pub const SIGPIPE: u8 = 13;
pub const SIGALRM: u8 = 14;
pub const SIGCHLD: u8 = 17;
pub const SIGCONT: u8 = 18;
pub const SIGSTOP: u8 = 19;
pub const SIGTSTP: u8 = 20;
pub const SIGTTIN: u8 = 21;
pub const SIGTTOU: u8 = 22;
pub const SIGURG: u8 = 23;
pub const SIGXCPU: u8 = 24;
pub const SIGXFSZ: u8 = 25;
pub const SIGWINCH: u8 = 28;
pub const SIGSYS: u8 = 31;
/// The highest signal number (`_NSIG`).
pub const NSIG: u8 = 64;
/// The first real-time signal; below it a signal is queued at most once.
pub const SIGRTMIN: u8 = 32;

/// `si_code` values.
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_TKILL: i32 = -6;

/// `sa_handler` values.
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;
/// `sa_flags` bits.
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;
pub const SA_RESTORER: u64 = 0x0400_0000;

/// A set of signals: bit `sig - 1` for signal `sig` (Linux `sigset_t`).
pub type SigSet = u64;

/// The bit of signal `sig` (1..=64) in a [`SigSet`].
pub const fn sigbit(sig: u8) -> SigSet {
    1u64 << (sig - 1)
}

/// Signals no mask or action can block, catch or ignore.
pub const UNBLOCKABLE: SigSet = sigbit(SIGKILL) | sigbit(SIGSTOP);
/// Signals raised by the instruction stream, dequeued first (Linux
/// `SYNCHRONOUS_MASK`).
const SYNCHRONOUS: SigSet = sigbit(SIGSEGV) | sigbit(SIGBUS) | sigbit(SIGILL) | sigbit(SIGTRAP) | sigbit(SIGFPE) | sigbit(SIGSYS);
/// Pending entries a process may queue before further real-time
/// signals keep only their pending bit (Linux `RLIMIT_SIGPENDING`).
const MAX_QUEUED: usize = 1024;

/// What the default action of `sig` is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum DefaultAction {
    Terminate,
    /// Terminate; Linux would also dump core (Holdfast writes none, and
    /// the exit status has no core bit).
    Core,
    Ignore,
    /// Stop the process until SIGCONT.
    Stop,
}

/// Linux's `sig_kernel_*` tables.
pub fn default_action(sig: u8) -> DefaultAction {
    match sig {
        SIGCHLD | SIGCONT | SIGURG | SIGWINCH => DefaultAction::Ignore,
        SIGSTOP | SIGTSTP | SIGTTIN | SIGTTOU => DefaultAction::Stop,
        SIGQUIT | SIGILL | SIGTRAP | SIGABRT | SIGBUS | SIGFPE | SIGSEGV | SIGXCPU | SIGXFSZ | SIGSYS => DefaultAction::Core,
        _ => DefaultAction::Terminate,
    }
}

/// A signal number from a syscall argument (an int), 1..=64.
pub fn valid_signal(arg: u64) -> Option<u8> {
    let sig = arg as u32 as i32;
    (1..=NSIG as i32).contains(&sig).then_some(sig as u8)
}

/// One `struct sigaction` (the kernel's x86_64 layout: handler, flags,
/// restorer, mask).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigAction {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: SigSet,
}

impl SigAction {
    pub fn to_words(self) -> [u64; 4] {
        [self.handler, self.flags, self.restorer, self.mask]
    }
    pub fn from_words(w: [u64; 4]) -> SigAction {
        SigAction { handler: w[0], flags: w[1], restorer: w[2], mask: w[3] }
    }
}

/// Where a signal came from: the `siginfo_t` union member it fills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigSource {
    /// `kill`, `tgkill`, a pipe's SIGPIPE: `si_pid`, `si_uid`.
    Process { pid: u32, uid: u32 },
    /// A fault: `si_addr`.
    Fault { addr: u64 },
    /// The kernel itself (a timer): nothing more.
    Kernel,
    /// A child's exit (`SIGCHLD`): `si_pid`, `si_uid`, `si_status` (the
    /// exit code, or the signal that killed it).
    Child { pid: u32, uid: u32, status: i32 },
}

/// A pending signal's `siginfo_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: u8,
    pub code: i32,
    pub source: SigSource,
}

impl SigInfo {
    /// A signal sent by the current process (`kill` with `SI_USER`,
    /// `tgkill` with `SI_TKILL`).
    pub fn from_current(signo: u8, code: i32) -> SigInfo {
        let p = super::current();
        let uid = p.creds.lock().uid;
        SigInfo { signo, code, source: SigSource::Process { pid: p.pid, uid } }
    }

    /// A signal the kernel sends (`SI_KERNEL`).
    pub fn kernel(signo: u8) -> SigInfo {
        SigInfo { signo, code: SI_KERNEL, source: SigSource::Kernel }
    }

    /// Linux's 128-byte `siginfo_t`.
    pub fn to_bytes(self) -> [u8; 128] {
        let mut b = [0u8; 128];
        b[0..4].copy_from_slice(&i32::from(self.signo).to_le_bytes());
        b[8..12].copy_from_slice(&self.code.to_le_bytes());
        match self.source {
            SigSource::Process { pid, uid } => {
                b[16..20].copy_from_slice(&pid.to_le_bytes());
                b[20..24].copy_from_slice(&uid.to_le_bytes());
            }
            SigSource::Fault { addr } => b[16..24].copy_from_slice(&addr.to_le_bytes()),
            SigSource::Kernel => {}
            SigSource::Child { pid, uid, status } => {
                b[16..20].copy_from_slice(&pid.to_le_bytes());
                b[20..24].copy_from_slice(&uid.to_le_bytes());
                b[24..28].copy_from_slice(&status.to_le_bytes());
            }
        }
        b
    }
}

/// A pending set with the queued `siginfo`s (Linux `struct sigpending`).
#[derive(Default)]
pub struct SigPending {
    pub set: SigSet,
    queue: VecDeque<SigInfo>,
}

impl SigPending {
    /// Take signal `sig`'s first queued info; its bit stays set while
    /// more instances are queued.
    fn take(&mut self, sig: u8) -> SigInfo {
        let info = match self.queue.iter().position(|i| i.signo == sig) {
            Some(at) => self.queue.remove(at).expect("position is in range"),
            None => SigInfo { signo: sig, code: SI_USER, source: SigSource::Process { pid: 0, uid: 0 } },
        };
        if !self.queue.iter().any(|i| i.signo == sig) {
            self.set &= !sigbit(sig);
        }
        info
    }

    /// Forget every instance of the signals in `mask`.
    fn flush(&mut self, mask: SigSet) {
        self.set &= !mask;
        self.queue.retain(|i| sigbit(i.signo) & mask == 0);
    }
}

/// `stack_t` of `sigaltstack`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AltStack {
    pub sp: u64,
    pub size: u64,
    /// `SS_AUTODISARM` if asked for; the mode bits are derived.
    pub flags: u32,
}

pub const SS_ONSTACK: u32 = 1;
pub const SS_DISABLE: u32 = 2;
pub const SS_AUTODISARM: u32 = 1 << 31;
/// The smallest alternate stack (Linux `MINSIGSTKSZ`).
pub const MINSIGSTKSZ: u64 = 2048;

impl AltStack {
    /// Does `sp` lie on this alternate stack (Linux `on_sig_stack`)?
    pub fn on_stack(&self, sp: u64) -> bool {
        sp > self.sp && sp - self.sp <= self.size
    }

    /// Linux `sas_ss_flags`: `SS_DISABLE`, `SS_ONSTACK` or 0 for `sp`.
    pub fn mode_for(&self, sp: u64) -> u32 {
        if self.size == 0 {
            SS_DISABLE
        } else if self.on_stack(sp) {
            SS_ONSTACK
        } else {
            0
        }
    }
}

pub use crate::arch::handlers::TrapInfo;

/// How a system call interrupted with `-ERESTART_RESTARTBLOCK` continues
/// in `restart_syscall`.
#[derive(Clone, Copy, Debug)]
pub enum RestartBlock {
    /// A relative `nanosleep`: sleep on until the monotonic `deadline`,
    /// writing the rest to `rmtp` if interrupted again.
    NanoSleep { deadline: u64, rmtp: u64 },
}

/// Per-thread signal state (the rest of Linux's `task_struct` signal
/// fields; the blocked mask lives in `Thread::sigmask`).
#[derive(Default)]
pub struct ThreadSignals {
    pub pending: SigPending,
    pub altstack: AltStack,
    /// The mask to restore after a handler interrupted `rt_sigsuspend`
    /// (Linux `saved_sigmask` with `TIF_RESTORE_SIGMASK`).
    pub saved_mask: Option<SigSet>,
    pub trap: TrapInfo,
    pub restart: Option<RestartBlock>,
    /// The mask `rt_sigtimedwait` replaced while it waits with the
    /// awaited signals unblocked (Linux `real_blocked`); 0 otherwise.
    pub real_blocked: SigSet,
}

/// The stop signals (Linux `SIG_KERNEL_STOP_MASK`).
pub const STOP_SIGNALS: SigSet = sigbit(SIGSTOP) | sigbit(SIGTSTP) | sigbit(SIGTTIN) | sigbit(SIGTTOU);

/// A process's job-control state (Linux's `signal_struct` stop flags and
/// `exit_code`).
#[derive(Clone, Copy, Debug, Default)]
pub struct JobCtl {
    /// Stopped by this signal (`SIGNAL_STOP_STOPPED`): its threads park
    /// until SIGCONT.
    pub stopped: Option<u8>,
    /// The stop's signal until `WUNTRACED`/`WSTOPPED` collects it; 0 after.
    pub stop_code: u8,
    /// Continued, until `WCONTINUED` collects it (`SIGNAL_STOP_CONTINUED`).
    pub continued: bool,
}

/// A process's signal state, under one lock (see the module doc).
pub struct SigHand {
    pub actions: [SigAction; NSIG as usize],
    pub shared: SigPending,
    pub threads: BTreeMap<u32, ThreadSignals>,
    pub jobctl: JobCtl,
}

impl SigHand {
    pub fn new() -> SigHand {
        SigHand {
            actions: [SigAction::default(); NSIG as usize],
            shared: SigPending::default(),
            threads: BTreeMap::new(),
            jobctl: JobCtl::default(),
        }
    }

    /// A forked child's (Linux `copy_sighand` and `copy_signal`): the
    /// same actions, nothing pending; its first thread `child_tid` keeps
    /// the alternate stack of the forking thread `parent_tid` (the blocked
    /// mask travels with the thread itself).
    pub fn for_child(&self, parent_tid: u32, child_tid: u32) -> SigHand {
        let mut child = SigHand::new();
        child.actions = self.actions;
        if let Some(t) = self.threads.get(&parent_tid) {
            child.thread(child_tid).altstack = t.altstack;
        }
        child
    }

    /// Thread `tid`'s state (created on first use).
    pub fn thread(&mut self, tid: u32) -> &mut ThreadSignals {
        self.threads.entry(tid).or_default()
    }

    fn action(&self, sig: u8) -> SigAction {
        self.actions[sig as usize - 1]
    }

    /// Would `sig` be discarded on arrival (Linux `sig_ignored`, for a
    /// target that does not block it)?
    fn ignores(&self, sig: u8) -> bool {
        let a = self.action(sig);
        a.handler == SIG_IGN || (a.handler == SIG_DFL && matches!(default_action(sig), DefaultAction::Ignore))
    }

    /// Is `sig`'s action the default that ends the process?
    fn kills(&self, sig: u8) -> bool {
        sig == SIGKILL
            || (self.action(sig).handler == SIG_DFL && matches!(default_action(sig), DefaultAction::Terminate | DefaultAction::Core))
    }

    /// Forget the pending instances of `mask`, process-wide and in every
    /// thread.
    fn flush_all(&mut self, mask: SigSet) {
        self.shared.flush(mask);
        for t in self.threads.values_mut() {
            t.pending.flush(mask);
        }
    }

    fn queued(&self) -> usize {
        self.shared.queue.len() + self.threads.values().map(|t| t.pending.queue.len()).sum::<usize>()
    }
}

impl Default for SigHand {
    fn default() -> Self {
        Self::new()
    }
}

/// Recompute `t`'s pending flag (Linux `recalc_sigpending`): on while a
/// signal it does not block is pending or its process is stopped. `sh` is
/// the locked signal state of `t`'s process.
fn recalc(sh: &mut SigHand, t: &Thread) {
    let blocked = t.sigmask.load(Ordering::SeqCst);
    let private = sh.threads.get(&t.tid()).map_or(0, |s| s.pending.set);
    let pending = (private | sh.shared.set) & !blocked != 0 || sh.jobctl.stopped.is_some();
    t.sigpending.store(pending, Ordering::SeqCst);
}

/// Set the current thread's blocked mask to `mask` (SIGKILL and SIGSTOP
/// never blocked) and recompute its pending flag (Linux
/// `set_current_blocked`). Returns the old mask.
pub fn set_current_blocked(mask: SigSet) -> SigSet {
    let me = sched::current();
    let p = super::current();
    let mut sh = p.signal.lock();
    let old = me.sigmask.swap(mask & !UNBLOCKABLE, Ordering::SeqCst);
    recalc(&mut sh, &me);
    old
}

/// What sending decided, carried out once the lock is released.
enum Outcome {
    Nothing,
    Wake(Arc<Thread>),
    GroupExit(u8),
}

/// Queue `info` for process `p` (`thread`: for that thread only) and
/// pick the thread to handle it (Linux `__send_signal_locked` and
/// `complete_signal`).
fn send(p: &Arc<Process>, thread: Option<&Arc<Thread>>, info: SigInfo) -> Result<(), Errno> {
    let sig = info.signo;
    if p.exit_status.lock().is_some() {
        return Ok(()); // the process is exiting: nothing left to signal
    }
    if sig == SIGKILL {
        exit::begin_group_exit(p, ExitStatus::Signaled(SIGKILL));
        return Ok(());
    }
    let threads: Vec<Arc<Thread>> = p.threads.lock().clone();
    if sig == SIGCONT || sigbit(sig) & STOP_SIGNALS != 0 {
        prepare_stop_or_continue(p, &threads, sig);
    }
    let outcome = {
        let mut sh = p.signal.lock();
        // Linux `sig_ignored`: a signal blocked by its target is kept,
        // as the action may change before it is unblocked.
        let blocks = |sh: &SigHand, t: &Arc<Thread>| {
            let real = sh.threads.get(&t.tid()).map_or(0, |s| s.real_blocked);
            (t.sigmask.load(Ordering::SeqCst) | real) & sigbit(sig) != 0
        };
        let target_blocks = match thread {
            Some(t) => blocks(&sh, t),
            None => threads.first().is_some_and(|t| blocks(&sh, t)),
        };
        if !target_blocks && sh.ignores(sig) {
            return Ok(());
        }
        let room = sh.queued() < MAX_QUEUED;
        let pending = match thread {
            Some(t) => &mut sh.thread(t.tid()).pending,
            None => &mut sh.shared,
        };
        if sig < SIGRTMIN && pending.set & sigbit(sig) != 0 {
            return Ok(()); // a standard signal is pending at most once
        }
        pending.set |= sigbit(sig);
        if room || sig < SIGRTMIN {
            pending.queue.push_back(info);
        }
        let wants = |t: &Arc<Thread>| t.sigmask.load(Ordering::SeqCst) & sigbit(sig) == 0 && !t.fatal_signal_pending();
        let chosen = match thread {
            Some(t) => wants(t).then(|| t.clone()),
            None => threads.iter().find(|t| wants(t)).cloned(),
        };
        match chosen {
            None => Outcome::Nothing,
            Some(t) if sh.kills(sig) && !blocks(&sh, &t) => Outcome::GroupExit(sig),
            Some(t) => {
                t.sigpending.store(true, Ordering::SeqCst);
                Outcome::Wake(t)
            }
        }
    };
    match outcome {
        Outcome::Nothing => {}
        Outcome::Wake(t) => sched::wake(&t),
        Outcome::GroupExit(sig) => exit::begin_group_exit(p, ExitStatus::Signaled(sig)),
    }
    Ok(())
}

/// What sending a stop signal or SIGCONT does whatever its action (Linux
/// `prepare_signal`): a stop signal discards a pending SIGCONT; SIGCONT
/// discards pending stop signals and continues a stopped process: its
/// threads are woken and its parent told (`CLD_CONTINUED`).
fn prepare_stop_or_continue(p: &Arc<Process>, threads: &[Arc<Thread>], sig: u8) {
    let continued = {
        let mut sh = p.signal.lock();
        if sig != SIGCONT {
            sh.flush_all(sigbit(SIGCONT));
            return;
        }
        sh.flush_all(STOP_SIGNALS);
        if sh.jobctl.stopped.take().is_none() {
            return;
        }
        sh.jobctl.stop_code = 0;
        sh.jobctl.continued = true;
        for t in threads {
            recalc(&mut sh, t);
        }
        true
    };
    if continued {
        for t in threads {
            sched::wake(t);
        }
        super::wait::notify_parent_cldstop(p, super::wait::WaitEvent::Continued);
    }
}

/// Send `info` to process `p` as a whole (`kill`): any thread that does
/// not block it may take it.
pub fn send_to_process(p: &Arc<Process>, info: SigInfo) -> Result<(), Errno> {
    send(p, None, info)
}

/// Send `info` to thread `t` of process `p` (`tgkill`, `tkill`).
pub fn send_to_thread(p: &Arc<Process>, t: &Arc<Thread>, info: SigInfo) -> Result<(), Errno> {
    send(p, Some(t), info)
}

/// Deliver fatal signal `sig` to `proc`: its default action whatever its
/// action is (the OOM killer's SIGKILL).
pub fn send_fatal(proc: &Arc<Process>, sig: u8) {
    exit::begin_group_exit(proc, ExitStatus::Signaled(sig));
}

/// Linux `force_sig_info`: send `info` to the current thread, which must
/// take it: if it blocks or ignores the signal, the signal is unblocked
/// and its action reset to the default, so a fault in a handler of the
/// same signal (without `SA_NODEFER`) ends the process.
pub fn force_signal(info: SigInfo) {
    let me = sched::current();
    let p = super::current();
    let sig = info.signo;
    {
        let mut sh = p.signal.lock();
        let blocked = me.sigmask.load(Ordering::SeqCst) & sigbit(sig) != 0;
        if blocked || sh.action(sig).handler == SIG_IGN {
            sh.actions[sig as usize - 1].handler = SIG_DFL;
            me.sigmask.fetch_and(!sigbit(sig), Ordering::SeqCst);
        }
        let pending = &mut sh.thread(me.tid()).pending;
        if pending.set & sigbit(sig) == 0 || sig >= SIGRTMIN {
            pending.set |= sigbit(sig);
            pending.queue.push_back(info);
        }
        recalc(&mut sh, &me);
    }
}

/// A fault in ring 3: record the trap for the frame and force `sig`
/// with `code` and `addr` on the current thread (Linux `force_sig_fault`).
/// It is delivered on the way back to ring 3.
pub fn force_fault(sig: u8, code: i32, addr: u64, trap: TrapInfo) {
    let me = sched::current();
    let p = super::current();
    let fatal = {
        let mut sh = p.signal.lock();
        sh.thread(me.tid()).trap = trap;
        me.sigmask.load(Ordering::SeqCst) & sigbit(sig) != 0 || sh.action(sig).handler <= SIG_IGN
    };
    if fatal {
        crate::kprintln!(
            "holdfast: pid {} ({}) tid {} ({}): signal {} (code {}) at address {:#x}, trap {} error {:#x}",
            p.pid,
            p.name(),
            me.tid(),
            me.name,
            sig,
            code,
            addr,
            trap.trapno,
            trap.error_code
        );
    }
    force_signal(SigInfo { signo: sig, code, source: SigSource::Fault { addr } });
}

/// Linux `force_sigsegv`: a signal frame could not be written for `sig`;
/// a SIGSEGV whose own frame failed goes back to the default action.
fn force_sigsegv(sig: u8) {
    if sig == SIGSEGV {
        let p = super::current();
        p.signal.lock().actions[SIGSEGV as usize - 1].handler = SIG_DFL;
    }
    force_signal(SigInfo::kernel(SIGSEGV));
}

/// The thread `old` of `p` now has id `new` (an exec by a thread other
/// than the leader takes over the pid): its signal state moves with it.
pub fn rename_thread(p: &Process, old: u32, new: u32) {
    let mut sh = p.signal.lock();
    if let Some(state) = sh.threads.remove(&old) {
        sh.threads.insert(new, state);
    }
}

/// At `execve` (once the new image is in place): handled signals go back
/// to their default action (ignored ones stay ignored); the blocked mask
/// and pending signals are kept (Linux `flush_signal_handlers` with
/// `force_default` off), the alternate stack is dropped.
pub fn reset_handlers_for_exec(p: &Process) {
    let mut sh = p.signal.lock();
    for a in sh.actions.iter_mut() {
        if a.handler != SIG_IGN {
            a.handler = SIG_DFL;
        }
        a.flags = 0;
        a.restorer = 0;
        a.mask = 0;
    }
    for t in sh.threads.values_mut() {
        t.altstack = AltStack::default();
        t.saved_mask = None;
        t.restart = None;
    }
}

/// `rt_sigaction`'s core (Linux `do_sigaction`): set and/or read signal
/// `sig`'s action. Setting an action that ignores a signal discards it
/// where it is pending.
pub fn do_sigaction(p: &Process, sig: u8, new: Option<SigAction>) -> Result<SigAction, Errno> {
    if new.is_some() && sigbit(sig) & UNBLOCKABLE != 0 {
        return Err(Errno::EINVAL);
    }
    let mut sh = p.signal.lock();
    let old = sh.action(sig);
    if let Some(mut n) = new {
        n.mask &= !UNBLOCKABLE;
        sh.actions[sig as usize - 1] = n;
        if sh.ignores(sig) {
            sh.shared.flush(sigbit(sig));
            for t in sh.threads.values_mut() {
                t.pending.flush(sigbit(sig));
            }
        }
    }
    Ok(old)
}

/// The signals pending for the current thread or its process that it
/// blocks (`rt_sigpending`: Linux reports those blocked only).
pub fn pending_blocked() -> SigSet {
    let me = sched::current();
    let p = super::current();
    let mut sh = p.signal.lock();
    let private = sh.thread(me.tid()).pending.set;
    (private | sh.shared.set) & me.sigmask.load(Ordering::SeqCst)
}

/// Does the current thread block `sig`, or its process ignore it
/// (`SIG_IGN`)? (Linux's `is_ignored` of the terminal code.)
pub fn current_blocks_or_ignores(sig: u8) -> bool {
    let me = sched::current();
    let p = super::current();
    let blocked = me.sigmask.load(Ordering::SeqCst) & sigbit(sig) != 0;
    blocked || p.signal.lock().action(sig).handler == SIG_IGN
}

/// Run `f` on the current thread's signal state (locked).
pub fn with_current<R>(f: impl FnOnce(&mut ThreadSignals) -> R) -> R {
    let me = sched::current();
    let p = super::current();
    let mut sh = p.signal.lock();
    f(sh.thread(me.tid()))
}

/// `rt_sigtimedwait` starts waiting: unblock `these` until
/// [`sigtimedwait_end`], remembering the mask (Linux `real_blocked`), so
/// that a signal of `these` wakes this thread but, caught here, neither
/// runs a handler nor ends the process.
pub fn sigtimedwait_begin(these: SigSet) {
    let me = sched::current();
    let p = super::current();
    let mut sh = p.signal.lock();
    let blocked = me.sigmask.load(Ordering::SeqCst);
    sh.thread(me.tid()).real_blocked = blocked;
    me.sigmask.store(blocked & !these, Ordering::SeqCst);
    recalc(&mut sh, &me);
}

/// `rt_sigtimedwait` stops waiting: the mask of [`sigtimedwait_begin`]
/// comes back.
pub fn sigtimedwait_end() {
    let me = sched::current();
    let p = super::current();
    let mut sh = p.signal.lock();
    let t = sh.thread(me.tid());
    let real = core::mem::take(&mut t.real_blocked);
    me.sigmask.store(real, Ordering::SeqCst);
    recalc(&mut sh, &me);
}

/// Forget the signal state of thread `tid`, which exits (and has left
/// the thread list). Process-wide signals it may have been chosen for go
/// to the threads that do not block them (Linux
/// `retarget_shared_pending`).
pub fn exit_thread(p: &Process, tid: u32) {
    let threads: Vec<Arc<Thread>> = p.threads.lock().clone();
    let mut wake = Vec::new();
    {
        let mut sh = p.signal.lock();
        sh.threads.remove(&tid);
        let shared = sh.shared.set;
        for t in threads {
            if shared & !t.sigmask.load(Ordering::SeqCst) != 0 && !t.sigpending.swap(true, Ordering::SeqCst) {
                wake.push(t);
            }
        }
    }
    for t in &wake {
        sched::wake(t);
    }
}

/// Take the lowest-numbered pending signal in `allowed` (synchronous
/// ones first) for the current thread: its own first, then the
/// process's (Linux `dequeue_signal`). Recomputes its pending flag.
pub fn dequeue(allowed: SigSet) -> Option<SigInfo> {
    let me = sched::current();
    let p = super::current();
    let mut sh = p.signal.lock();
    let r = dequeue_locked(&mut sh, me.tid(), allowed);
    recalc(&mut sh, &me);
    r
}

fn dequeue_locked(sh: &mut SigHand, tid: u32, allowed: SigSet) -> Option<SigInfo> {
    fn next(set: SigSet) -> Option<u8> {
        let pick = if set & SYNCHRONOUS != 0 { set & SYNCHRONOUS } else { set };
        (pick != 0).then(|| pick.trailing_zeros() as u8 + 1)
    }
    let mine = sh.thread(tid).pending.set & allowed;
    if let Some(sig) = next(mine) {
        return Some(sh.thread(tid).pending.take(sig));
    }
    let shared = sh.shared.set & allowed;
    next(shared).map(|sig| sh.shared.take(sig))
}

/// The errors a system call returns to be restarted or turned into
/// `EINTR` when a signal interrupts it (Linux's `-ERESTART*`).
fn restart_error(rax: u64) -> Option<Errno> {
    [Errno::ERESTARTSYS, Errno::ERESTARTNOINTR, Errno::ERESTARTNOHAND, Errno::ERESTART_RESTARTBLOCK]
        .into_iter()
        .find(|e| e.as_syscall_return() as u64 == rax)
}

/// `restart_syscall`'s number.
const NR_RESTART_SYSCALL: u64 = 219;

/// Fix up an interrupted system call before a handler runs (Linux
/// `handle_signal`'s restart part).
fn restart_for_handler(frame: &mut UserFrame, orig_rax: u64, act: &SigAction) {
    match restart_error(frame.rax) {
        Some(Errno::ERESTART_RESTARTBLOCK | Errno::ERESTARTNOHAND) => frame.rax = Errno::EINTR.as_syscall_return() as u64,
        Some(Errno::ERESTARTSYS) if act.flags & SA_RESTART == 0 => frame.rax = Errno::EINTR.as_syscall_return() as u64,
        Some(_) => {
            frame.rax = orig_rax;
            frame.rip -= 2;
        }
        None => {}
    }
}

/// Restart an interrupted system call when no handler ran (Linux
/// `arch_do_signal_or_restart`'s tail).
fn restart_without_handler(frame: &mut UserFrame, orig_rax: u64) {
    match restart_error(frame.rax) {
        Some(Errno::ERESTART_RESTARTBLOCK) => {
            frame.rax = NR_RESTART_SYSCALL;
            frame.rip -= 2;
        }
        Some(_) => {
            frame.rax = orig_rax;
            frame.rip -= 2;
        }
        None => {}
    }
}

/// Linux `get_signal`: dequeue the next signal the current thread takes,
/// carrying out ignore and default actions; the process ends here for a
/// fatal one. Returns a signal with a handler and that handler's action.
fn get_signal() -> Option<(SigInfo, SigAction)> {
    loop {
        let me = sched::current();
        if me.fatal_signal_pending() {
            drop(me);
            exit::do_exit_thread();
        }
        let p = super::current();
        let mut sh = p.signal.lock();
        if sh.jobctl.stopped.is_some() {
            drop(sh);
            park_while_stopped(&p, &me);
            continue;
        }
        let blocked = me.sigmask.load(Ordering::SeqCst);
        let Some(info) = dequeue_locked(&mut sh, me.tid(), !blocked) else {
            recalc(&mut sh, &me);
            return None;
        };
        recalc(&mut sh, &me);
        let sig = info.signo;
        let act = sh.action(sig);
        if act.handler == SIG_IGN {
            continue;
        }
        if act.handler == SIG_DFL {
            match default_action(sig) {
                DefaultAction::Ignore => continue,
                DefaultAction::Stop => {
                    drop(sh);
                    // The terminal's stop signals leave an orphaned
                    // process group running (nobody could continue it).
                    if sig == SIGSTOP || !super::wait::is_pgrp_orphaned(p.pgid.load(Ordering::SeqCst)) {
                        do_signal_stop(&p, sig);
                    }
                    continue;
                }
                DefaultAction::Terminate | DefaultAction::Core => {
                    drop(sh);
                    drop(me);
                    exit::begin_group_exit(&p, ExitStatus::Signaled(sig));
                    drop(p);
                    exit::do_exit_thread();
                }
            }
        }
        if act.flags & SA_RESETHAND != 0 {
            sh.actions[sig as usize - 1].handler = SIG_DFL;
        }
        return Some((info, act));
    }
}

/// Stop process `p` for `sig` (Linux `do_signal_stop`, all at once):
/// every thread's pending flag goes on so that it comes to
/// [`get_signal`] and parks there; the parent is told (`CLD_STOPPED`).
fn do_signal_stop(p: &Arc<Process>, sig: u8) {
    let threads: Vec<Arc<Thread>> = p.threads.lock().clone();
    {
        let mut sh = p.signal.lock();
        sh.jobctl = JobCtl { stopped: Some(sig), stop_code: sig, continued: false };
        for t in &threads {
            recalc(&mut sh, t);
        }
    }
    let me = sched::current();
    for t in threads.iter().filter(|t| !Arc::ptr_eq(t, &me)) {
        sched::wake(t);
    }
    super::wait::notify_parent_cldstop(p, super::wait::WaitEvent::Stopped(sig));
}

/// Park the current thread `me` of `p` while `p` is stopped: until
/// SIGCONT clears the stop (and wakes it) or a fatal signal comes.
fn park_while_stopped(p: &Process, me: &Arc<Thread>) {
    loop {
        if me.fatal_signal_pending() || p.signal.lock().jobctl.stopped.is_none() {
            return;
        }
        // A wake between the check and the block makes the block return.
        sched::block_current();
    }
}

/// Send `sig` from the kernel to every process of group `pgrp` (the
/// terminal's interrupt, quit and suspend characters).
pub fn kill_pgrp(pgrp: u32, sig: u8) {
    for p in super::pgrp_members(pgrp) {
        let _ = send_to_process(&p, SigInfo::kernel(sig));
    }
}

/// Called on every way back to ring 3 with the registers that ring 3
/// gets: a thread to exit exits here; pending signals are delivered
/// (handler frames pushed onto `frame`, default actions carried out) and
/// an interrupted system call is restarted or fails with `EINTR`.
pub fn before_return_to_user(frame: &mut UserFrame) {
    // A system call that ran out of user memory (population) calls the
    // OOM killer here, with no lock held; its victim may be this process.
    super::oom::out_of_memory_if_needed();
    let me = sched::current();
    let orig_rax = me.orig_rax.swap(crate::sched::thread::NO_SYSCALL, Ordering::SeqCst);
    if me.fatal_signal_pending() {
        drop(me);
        exit::do_exit_thread();
    }
    if !me.sigpending.load(Ordering::SeqCst) && restart_error(frame.rax).is_none() {
        return;
    }
    drop(me);
    // Frames are written to user memory, which may fault and sleep.
    let irqs = x86_64::instructions::interrupts::are_enabled();
    x86_64::instructions::interrupts::enable();
    let mut in_syscall = orig_rax != crate::sched::thread::NO_SYSCALL;
    let mut delivered = false;
    while let Some((info, act)) = get_signal() {
        if in_syscall {
            restart_for_handler(frame, orig_rax, &act);
            in_syscall = false;
        }
        if handle_signal(frame, &info, &act) {
            delivered = true;
        }
    }
    if in_syscall {
        restart_without_handler(frame, orig_rax);
    }
    if !delivered {
        // No handler ran: an `rt_sigsuspend` mask goes back now.
        let saved = with_current(|t| t.saved_mask.take());
        if let Some(mask) = saved {
            set_current_blocked(mask);
        }
    }
    if !irqs {
        x86_64::instructions::interrupts::disable();
    }
}

/// Push a frame for `info`'s handler onto `frame` and block what the
/// handler blocks (Linux `handle_signal` and `signal_delivered`). A frame
/// that cannot be written forces SIGSEGV instead (false).
fn handle_signal(frame: &mut UserFrame, info: &SigInfo, act: &SigAction) -> bool {
    let me = sched::current();
    let p = super::current();
    let sig = info.signo;
    // The mask the handler's return restores: the one `rt_sigsuspend`
    // replaced, if it did.
    let (saved, mut alt, trap) = {
        let mut sh = p.signal.lock();
        let t = sh.thread(me.tid());
        (t.saved_mask.take(), t.altstack, t.trap)
    };
    let blocked = me.sigmask.load(Ordering::SeqCst);
    let to_restore = saved.unwrap_or(blocked);
    match super::sigframe::setup_rt_frame(frame, info, act, to_restore, &mut alt, &trap) {
        Ok(()) => {
            {
                let mut sh = p.signal.lock();
                sh.thread(me.tid()).altstack = alt;
            }
            let mut mask = blocked | act.mask;
            if act.flags & SA_NODEFER == 0 {
                mask |= sigbit(sig);
            }
            set_current_blocked(mask);
            true
        }
        Err(()) => {
            if let Some(m) = saved {
                set_current_blocked(m);
            }
            force_sigsegv(sig);
            false
        }
    }
}

/// Sleep until `deadline_ns` (monotonic) unless a signal is pending first
/// ([`crate::sched::sleep_until_interruptible`]). For system calls.
pub fn interruptible_sleep_until(deadline_ns: u64) -> Result<(), Errno> {
    sched::sleep_until_interruptible(deadline_ns).map_err(|_| Errno::ERESTARTSYS)
}
