//! Processes: an address space, a file table, credentials and limits
//! shared by one or more threads.
//!
//! A process is created from an executable in the initrd ([`exec`]), or
//! as a copy of another by `fork`/`vfork`/`clone` ([`fork`]); more threads
//! join it through `clone` with `CLONE_VM|CLONE_THREAD`; `execve`
//! replaces its program, address space included, keeping its pid
//! ([`exec`]). It ends when its last thread exits ([`exit`]); its exit
//! status is then fixed, its address space torn down, and it stays a
//! zombie until its parent reaps it ([`wait`]), which also keeps the
//! process tree, process groups and sessions.
//!
//! Layering: `proc` sits on `sched` (a thread carries its process as
//! opaque data, see [`attach`] and [`current`]) and below `syscall` and
//! `fs`, which it does not import. What a process needs from above is
//! registered once at boot ([`init`] with [`Services`]): how an executable
//! is found and opened, and the open files a new process starts with.
//! The file table itself is held as a [`ProcessFiles`] trait object that
//! `fs` downcasts to its own type; all `proc` does with it is close it
//! when the process exits, and close its close-on-exec descriptors at
//! `execve`.
//!
//! Locking: each field has its own `IrqMutex`, held only briefly, never
//! across a sleep. The address space carries its own `mmap_lock`; the
//! process holds it behind a lock of its own so that `execve` can replace
//! it ([`Process::mm`] hands out a reference, which keeps the old one
//! alive for whoever still uses it). The process tree (`ppid`,
//! `children`, `pgid`, `sid`, `dead`) changes only under
//! [`wait::TASKLIST`] (Linux `tasklist_lock`), taken before any
//! per-process lock.

#![deny(unsafe_code)]

pub mod cred;
pub mod elf;
pub mod exec;
pub mod exit;
pub mod fault;
pub mod fork;
pub mod futex;
pub mod itimer;
pub mod oom;
pub mod sigframe;
pub mod signal;
pub mod stack;
pub mod usermm;
pub mod wait;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::sched::Thread;
use crate::sync::IrqMutex;
pub use cred::Creds;
pub use usermm::UserMm;

/// Number of resource limits (Linux `RLIM_NLIMITS`).
pub const RLIM_NLIMITS: usize = 16;
/// `RLIMIT_MEMLOCK`.
pub const RLIMIT_MEMLOCK: usize = 8;
/// `RLIMIT_NOFILE`.
pub const RLIMIT_NOFILE: usize = 7;
/// `RLIMIT_STACK`.
pub const RLIMIT_STACK: usize = 3;
/// `RLIMIT_NPROC`.
pub const RLIMIT_NPROC: usize = 6;
/// `SIGCHLD`: the exit signal of `fork`'s children.
pub const SIGCHLD: u8 = 17;
/// `RLIM_INFINITY`.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// One resource limit (Linux `struct rlimit`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

/// How a process ended (Linux wait status semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Exited(i32),
    Signaled(u8),
}

impl ExitStatus {
    /// Linux's wait status: the exit code in bits 8..16, or the signal
    /// number (no core is ever dumped).
    pub fn wait_status(self) -> u32 {
        match self {
            ExitStatus::Exited(c) => ((c & 0xFF) as u32) << 8,
            ExitStatus::Signaled(s) => u32::from(s & 0x7F),
        }
    }

    /// The shell's view: the exit code, or 128 + signal.
    pub fn shell_code(self) -> u32 {
        match self {
            ExitStatus::Exited(c) => (c & 0xFF) as u32,
            ExitStatus::Signaled(s) => 128 + s as u32,
        }
    }
}

/// A process's open files as this layer sees them: something to close when
/// the process exits. The file layer implements it (`fs::file::Files`)
/// and finds its own type again by downcasting (`Any`).
pub trait ProcessFiles: Any + Send + Sync {
    /// Close every descriptor (the process has exited).
    fn close_all(&self);
    /// Close the descriptors marked close-on-exec (`execve` succeeded).
    fn close_on_exec(&self);
    /// A copy of the table for a child process: the same open file
    /// descriptions under the same numbers (Linux `dup_fd`). `ENOMEM` if
    /// the heap cannot hold it.
    fn dup(&self) -> Result<Box<dyn ProcessFiles>, mm::Errno>;
}

/// What processes need from the layers above them, registered once at
/// boot by [`init`].
pub struct Services {
    /// Open the file `path` names for execution (Linux's
    /// `do_open_execat`), looked up from the directory open at `dirfd`
    /// (`AT_FDCWD`: the working directory) with `execveat`'s `flags`; an
    /// empty `path` with `AT_EMPTY_PATH` names `dirfd` itself. Gives the
    /// file's contents, or ENOENT, ENOTDIR, ENAMETOOLONG, EBADF, EINVAL,
    /// and EACCES for what is not a regular file with execute permission.
    pub open_exec: fn(dirfd: i32, path: &[u8], flags: u32) -> Result<exec::ExecImage, mm::Errno>,
    /// The open files of a new process: stdin, stdout and stderr on the
    /// console.
    pub new_files: fn() -> Box<dyn ProcessFiles>,
}

static SERVICES: spin::Once<Services> = spin::Once::new();

/// Register what processes need from the layers above (once, at boot,
/// before the first process starts).
pub fn init(services: Services) {
    SERVICES.call_once(|| services);
}

fn services() -> &'static Services {
    SERVICES.get().expect("proc::init not called")
}

/// A process.
pub struct Process {
    pub pid: u32,
    pub name: IrqMutex<String>,
    /// The address space; replaced as a whole by `execve`.
    mm: IrqMutex<Arc<UserMm>>,
    pub threads: IrqMutex<Vec<Arc<Thread>>>,
    /// The open files, kept by the file layer (see [`ProcessFiles`]).
    pub files: Box<dyn ProcessFiles>,
    pub creds: IrqMutex<Creds>,
    pub rlimits: IrqMutex<[Rlimit; RLIM_NLIMITS]>,
    /// Signal actions, pending signals and per-thread signal state
    /// (see [`signal`]).
    pub signal: IrqMutex<signal::SigHand>,
    /// The `ITIMER_REAL` timer (see [`itimer`]).
    pub itimer_real: IrqMutex<itimer::ITimerReal>,
    /// Set by the first `exit_group` or fatal signal.
    pub exit_status: IrqMutex<Option<ExitStatus>>,
    /// The process has exited completely (all threads gone).
    pub dead: AtomicBool,
    /// A thread is in `execve`'s `de_thread` (one at a time).
    pub in_exec: AtomicBool,
    /// The absolute path of the program it runs (`/proc/<pid>/exe`).
    pub exe: IrqMutex<Vec<u8>>,
    /// Start of the initial stack vma (shown as `[stack]`).
    pub stack_start: AtomicU64,
    /// Is this the first process (whose exit ends the run)?
    pub is_init: bool,
    /// The parent's pid (Linux `real_parent`); 0 for the first process
    /// and for an orphan nobody adopted. Changed under [`wait::TASKLIST`].
    pub ppid: AtomicU32,
    /// Process group and session ids. Changed under [`wait::TASKLIST`].
    pub pgid: AtomicU32,
    pub sid: AtomicU32,
    /// Children, running or zombies, until reaped. Under [`wait::TASKLIST`].
    pub children: IrqMutex<Vec<Arc<Process>>>,
    /// Threads of this process asleep in `wait4`/`waitid` (Linux
    /// `wait_chldexit`): woken when a child exits or is adopted.
    pub child_waiters: IrqMutex<Vec<Arc<Thread>>>,
    /// The signal the parent gets when this process exits (`SIGCHLD`, or
    /// the low byte of `clone`'s flags); not `SIGCHLD` makes it a "clone"
    /// child for wait's `__WCLONE`/`__WALL`.
    pub exit_signal: u8,
    /// `PR_SET_CHILD_SUBREAPER`: adopts orphaned descendants.
    pub child_subreaper: AtomicBool,
    /// The parent's thread asleep in `vfork` until this process releases
    /// the address space (exit or exec), see [`fork::mm_release`].
    pub vfork_parent: IrqMutex<Option<Arc<Thread>>>,
}

static PROCESSES: IrqMutex<Vec<Arc<Process>>> = IrqMutex::new(Vec::new());

/// Linux's default limits for a root process.
fn default_rlimits() -> [Rlimit; RLIM_NLIMITS] {
    let mut r = [Rlimit { cur: RLIM_INFINITY, max: RLIM_INFINITY }; RLIM_NLIMITS];
    r[RLIMIT_STACK] = Rlimit { cur: 8 << 20, max: RLIM_INFINITY };
    r[RLIMIT_MEMLOCK] = Rlimit { cur: 8 << 20, max: 8 << 20 };
    r[RLIMIT_NOFILE] = Rlimit { cur: 1024, max: 4096 };
    r
}

impl Process {
    /// A new process with an empty address space.
    pub fn new(pid: u32, name: &str, is_init: bool) -> Result<Arc<Process>, mm::Errno> {
        let p = Arc::new(Process {
            pid,
            name: IrqMutex::new(String::from(name)),
            mm: IrqMutex::new(Arc::new(UserMm::new()?)),
            threads: IrqMutex::new(Vec::new()),
            files: (services().new_files)(),
            creds: IrqMutex::new(Creds::root()),
            rlimits: IrqMutex::new(default_rlimits()),
            signal: IrqMutex::new(signal::SigHand::new()),
            itimer_real: IrqMutex::new(itimer::ITimerReal::default()),
            exit_status: IrqMutex::new(None),
            dead: AtomicBool::new(false),
            in_exec: AtomicBool::new(false),
            exe: IrqMutex::new(Vec::new()),
            stack_start: AtomicU64::new(0),
            is_init,
            ppid: AtomicU32::new(0),
            pgid: AtomicU32::new(pid),
            sid: AtomicU32::new(pid),
            children: IrqMutex::new(Vec::new()),
            child_waiters: IrqMutex::new(Vec::new()),
            exit_signal: SIGCHLD,
            child_subreaper: AtomicBool::new(false),
            vfork_parent: IrqMutex::new(None),
        });
        PROCESSES.lock().push(p.clone());
        Ok(p)
    }

    /// The process's address space (the one its threads run on).
    pub fn mm(&self) -> Arc<UserMm> {
        self.mm.lock().clone()
    }

    /// `exec_mmap`: make `new` the process's address space and load it on
    /// this CPU for the running thread, which must be the process's only
    /// one; returns the old address space, which no CPU has loaded any
    /// more. The thread's `cr3` and the CPU's page table change together,
    /// with interrupts off, so a switch away and back (and the TLB
    /// shootdown's record of what each CPU has loaded) sees the new table.
    pub(crate) fn exec_mmap(&self, new: Arc<UserMm>) -> Arc<UserMm> {
        let me = crate::sched::current();
        let root = new.root_pa();
        x86_64::instructions::interrupts::without_interrupts(|| {
            let old = core::mem::replace(&mut *self.mm.lock(), new);
            me.cr3.store(root, Ordering::SeqCst);
            crate::arch::load_page_table(root);
            old
        })
    }

    /// A child of `parent` (`fork`): a copy of its name, credentials,
    /// limits, signal actions, process group and session, with address
    /// space `mm` and file table `files`. Not listed yet: the caller
    /// lists it with [`wait::attach_child`] once its thread is ready.
    pub fn new_child(pid: u32, parent: &Process, mm: Arc<UserMm>, files: Box<dyn ProcessFiles>, exit_signal: u8) -> Arc<Process> {
        Arc::new(Process {
            pid,
            name: IrqMutex::new(parent.name()),
            mm: IrqMutex::new(mm),
            threads: IrqMutex::new(Vec::new()),
            files,
            creds: IrqMutex::new(parent.creds()),
            rlimits: IrqMutex::new(*parent.rlimits.lock()),
            signal: IrqMutex::new(parent.signal.lock().for_child(crate::sched::current().tid(), pid)),
            itimer_real: IrqMutex::new(itimer::ITimerReal::default()),
            exit_status: IrqMutex::new(None),
            dead: AtomicBool::new(false),
            in_exec: AtomicBool::new(false),
            exe: IrqMutex::new(parent.exe.lock().clone()),
            stack_start: AtomicU64::new(parent.stack_start.load(Ordering::SeqCst)),
            is_init: false,
            ppid: AtomicU32::new(parent.pid),
            pgid: AtomicU32::new(parent.pgid.load(Ordering::SeqCst)),
            sid: AtomicU32::new(parent.sid.load(Ordering::SeqCst)),
            children: IrqMutex::new(Vec::new()),
            child_waiters: IrqMutex::new(Vec::new()),
            exit_signal,
            child_subreaper: AtomicBool::new(false),
            vfork_parent: IrqMutex::new(None),
        })
    }

    /// The mlock credentials of this process: RLIMIT_MEMLOCK and CAP_IPC_LOCK.
    pub fn mlock_creds(&self) -> mm::mm_struct::MlockCreds {
        let limit = self.rlimits.lock()[RLIMIT_MEMLOCK].cur;
        mm::mm_struct::MlockCreds { memlock_limit: limit, cap_ipc_lock: self.capable(cred::CAP_IPC_LOCK) }
    }

    /// Is capability `cap` in the process's effective set?
    pub fn capable(&self, cap: u32) -> bool {
        self.creds.lock().capable(cap)
    }

    /// A copy of the process's credentials.
    pub fn creds(&self) -> Creds {
        self.creds.lock().clone()
    }

    /// What a fault needs to grow this process's stack: RLIMIT_STACK and
    /// the mlock credentials.
    pub fn stack_limits(&self) -> mm::stack::StackLimits {
        let stack = self.rlimits.lock()[RLIMIT_STACK].cur;
        mm::stack::StackLimits { stack, mlock: self.mlock_creds() }
    }

    /// The process's name (its executable's file name).
    pub fn name(&self) -> String {
        self.name.lock().clone()
    }

    /// Number of live threads.
    pub fn nr_threads(&self) -> usize {
        self.threads.lock().len()
    }
}

/// Make `proc` the process of thread `t` (once, before `t` first runs).
pub fn attach(t: &Thread, proc: &Arc<Process>) {
    t.process.call_once(|| proc.clone() as Arc<dyn Any + Send + Sync>);
}

/// The process of thread `t`, if it is a user thread.
pub fn process_of(t: &Thread) -> Option<Arc<Process>> {
    let any = t.process.get()?.clone();
    Some(
        any.downcast::<Process>()
            .unwrap_or_else(|_| panic!("thread {} carries something other than a Process", t.tid())),
    )
}

/// The process of the running thread (panics for kernel threads, which
/// never make syscalls).
pub fn current() -> Arc<Process> {
    try_current().expect("kernel thread has no process")
}

/// The process of the running thread, if it is a user thread.
pub fn try_current() -> Option<Arc<Process>> {
    process_of(&crate::sched::current())
}

/// Find a live process by pid.
pub fn find(pid: u32) -> Option<Arc<Process>> {
    PROCESSES.lock().iter().find(|p| p.pid == pid && !p.dead.load(Ordering::SeqCst)).cloned()
}

/// Find a live thread by thread id, with its process.
pub fn find_thread(tid: u32) -> Option<(Arc<Process>, Arc<crate::sched::Thread>)> {
    let procs = all();
    procs.into_iter().filter(|p| !p.dead.load(Ordering::SeqCst)).find_map(|p| {
        let t = p.threads.lock().iter().find(|t| t.tid() == tid).cloned()?;
        Some((p, t))
    })
}

/// Find a listed process by pid, a zombie included.
pub fn find_any(pid: u32) -> Option<Arc<Process>> {
    PROCESSES.lock().iter().find(|p| p.pid == pid).cloned()
}

/// Every listed process (live, or exited and not yet reaped).
pub fn all() -> Vec<Arc<Process>> {
    PROCESSES.lock().clone()
}

/// List a new process.
pub(crate) fn list(p: Arc<Process>) {
    PROCESSES.lock().push(p);
}

/// The live processes of process group `pgrp`.
pub fn pgrp_members(pgrp: u32) -> Vec<Arc<Process>> {
    wait::group_members(pgrp)
}

/// The session of the live process group `id`, or else of the live
/// process `id` (Linux's `session_of_pgrp(find_vpid(id))`); `None` if
/// neither exists.
pub fn session_of_pgrp(id: u32) -> Option<u32> {
    let group = pgrp_members(id).into_iter().next();
    group.or_else(|| find(id)).map(|p| p.sid.load(Ordering::SeqCst))
}

/// Does the leader of session `sid` live (it keeps the session's
/// controlling terminal until it exits)?
pub fn session_leader_lives(sid: u32) -> bool {
    find(sid).is_some_and(|p| p.sid.load(Ordering::SeqCst) == sid)
}

/// The calling process as its terminal sees it.
pub fn tty_caller() -> crate::tty::Caller {
    let p = current();
    crate::tty::Caller { pid: p.pid, pgid: p.pgid.load(Ordering::SeqCst), sid: p.sid.load(Ordering::SeqCst) }
}

/// Forget a reaped process.
pub(crate) fn unlist(pid: u32) {
    PROCESSES.lock().retain(|p| p.pid != pid);
}

/// Number of tasks (threads; 1 for a zombie) of listed processes whose
/// real uid is `uid` (Linux `user->processes`, what `RLIMIT_NPROC` limits).
pub fn nr_processes_of(uid: u32) -> u64 {
    all().iter().filter(|p| p.creds.lock().uid == uid).map(|p| p.nr_threads().max(1) as u64).sum()
}

/// ELF segment flags and the mmap protections they become.
pub mod elf_consts {
    pub use super::elf::{PF_R, PF_W, PF_X};
    pub use mm::mmap::{PROT_EXEC, PROT_READ, PROT_WRITE};
}
