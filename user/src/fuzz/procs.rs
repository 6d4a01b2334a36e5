//! The sandbox's processes and signals ([`super::Mode::Fuzz`] only).
//!
//! - Signals: the sandbox handles [`SENT`], the only signals it sends
//!   (to itself, its process group or its children), with [`on_signal`];
//!   random calls may switch them between that handler and `SIG_IGN` (and
//!   `SIG_DFL` for those whose default is to ignore) with any flags, but
//!   never give them a handler that does not exist. Random `rt_sigaction`
//!   calls with garbage actions are moved off these signals.
//! - The guard timer: `ITIMER_REAL` every [`GUARD_US`] raises SIGALRM,
//!   handled without `SA_RESTART`, so any call that blocks (a pipe read,
//!   `wait4`, `pause`, `rt_sigsuspend`, `poll` without a timeout) ends with
//!   EINTR. Masks the sandbox passes never block SIGALRM, and its action is
//!   never changed.
//! - Children: `fork` runs [`CHILD_CALLS`] random calls in the child (which
//!   shares the sandbox's files, pipes and copy-on-write arena), or execs
//!   this program in `child` mode through `/proc/self/exe`, then exits.
//!   At most [`MAX_CHILDREN`] live at once; random `wait4`/`waitid` calls
//!   reap them, and every status reaped into scratch is checked: a child
//!   exits 0, or dies of a signal of [`SENT`] (SIGUSR1, SIGUSR2, SIGPIPE)
//!   sent before an exec'd child installed its handlers.
//! - `execve` in the sandbox itself only names files that cannot run (no
//!   execute permission, not a program, missing), so it always fails.

use super::{ctrl_u64s, ctrl_write, scratch_read, scratch_write, Call, Sandbox, CTRL, KERNEL_HALF, SCRATCH, SCRATCH_LEN};
use crate::signal::{self, KSigaction, SIGALRM, SIGCHLD, SIGPIPE, SIGURG, SIGUSR1, SIGUSR2, SIGWINCH};
use crate::sys::{self, Errno};
use core::sync::atomic::{AtomicU32, Ordering};

/// The signals the sandbox sends.
pub(super) const SENT: &[usize] = &[SIGUSR1, SIGUSR2, SIGPIPE, SIGCHLD, SIGURG, SIGWINCH];
/// Of those, the ones whose default action is to ignore them.
const DEFAULT_IGNORED: &[usize] = &[SIGCHLD, SIGURG, SIGWINCH];
/// The guard timer's period.
const GUARD_US: u64 = 10_000;
/// Calls a forked child makes before it exits.
pub const CHILD_CALLS: u32 = 30;
const MAX_CHILDREN: usize = 3;

const SIGACT_AT: usize = 3600; // struct sigaction (32 bytes)
const SIGSET_AT: usize = 3632; // one sigset_t
const STACK_T_AT: usize = 3640; // stack_t (24 bytes)
const ARGV_AT: usize = 2464; // up to 6 pointers
const STRS_AT: usize = 2512; // argv strings (96 bytes)
const EXEC_PATHS_AT: usize = 2608; // EXEC_PATHS, 48 bytes each
const EXEC_STRIDE: usize = 48;
/// Where `wait4` and `waitid` write what they reaped, read back after.
const STATUS_AT: usize = SCRATCH + SCRATCH_LEN - 64;
const INFO_AT: usize = SCRATCH + SCRATCH_LEN - 256;

/// A stack for `SA_ONSTACK` handlers (`sigaltstack` only ever names it).
pub(super) const ALTSTACK: usize = 0x4200_0000_0000;
pub(super) const ALTSTACK_LEN: usize = 64 << 10;

/// Signals delivered to [`on_signal`], in this process.
static DELIVERED: AtomicU32 = AtomicU32::new(0);

/// The sandbox's handler: counts, and for SIGUSR2 makes a system call
/// from inside the handler.
extern "C" fn on_signal(sig: i32, _info: usize, _ctx: usize) {
    DELIVERED.fetch_add(1, Ordering::Relaxed);
    if sig as usize == SIGUSR2 {
        let _ = sys::getpid();
    }
}

/// Signals [`on_signal`] has run for.
pub fn delivered() -> u32 {
    DELIVERED.load(Ordering::Relaxed)
}

/// Handle [`SENT`] and SIGALRM, and start the guard timer.
pub(super) fn install() -> Result<(), Errno> {
    for &sig in SENT {
        signal::sigaction(sig, &KSigaction::handler(on_signal, signal::SA_RESTART, 0))?;
    }
    signal::sigaction(SIGALRM, &KSigaction::handler(on_signal, signal::SA_SIGINFO, 0))?;
    signal::setitimer(signal::ITIMER_REAL, GUARD_US, GUARD_US)
}

/// Stop the guard timer.
pub fn stop_guard() -> Result<(), Errno> {
    signal::setitimer(signal::ITIMER_REAL, 0, 0)
}

/// Is `status` (as `wait4` reports it) an acceptable end for a child?
pub fn child_status_ok(status: i32) -> bool {
    let sig = (status & 0x7f) as usize;
    let exited = sig == 0;
    (exited && (status >> 8) & 0xff == 0) || (!exited && sig != 0x7f && SENT.contains(&sig) && !DEFAULT_IGNORED.contains(&sig))
}

/// Exit code of a child whose own checks failed.
pub const CHILD_FAILED: i32 = 1;
/// Exit code of a forked child whose `execve` of `/proc/self/exe` failed.
pub const EXEC_FAILED: i32 = 3;

impl Sandbox {
    /// Write the `execve` paths and argument vector into CTRL.
    pub(super) fn setup_exec(&mut self, noexec: &[u8]) {
        let paths: [&[u8]; 4] = [noexec, b"/\0", b"/nonexistent\0", b"/proc/self/status\0"];
        for (i, p) in paths.iter().enumerate() {
            ctrl_write(EXEC_PATHS_AT + i * EXEC_STRIDE, p);
        }
        ctrl_write(STRS_AT, b"syscall_fuzz\0x\0");
        ctrl_u64s(ARGV_AT, &[(CTRL + STRS_AT) as u64, (CTRL + STRS_AT + 13) as u64, 0, 0]);
    }

    /// A signal set for a mask argument: anything but SIGALRM.
    fn mask(&mut self) -> u64 {
        self.rng.next() & !(1 << (SIGALRM - 1))
    }

    /// A signal for `kill`/`tgkill` to `pid`: one of [`SENT`], 0, or
    /// invalid; to every process (`-1`) only 0 or invalid ones.
    pub(super) fn signal_for(&mut self, pid: usize) -> usize {
        if pid == usize::MAX {
            return self.rng.pick(&[0, 65, 1000]);
        }
        match self.rng.below(8) {
            0 => 0,
            1 => self.rng.pick(&[65, 1000]),
            _ => self.rng.pick(SENT),
        }
    }

    /// A pid for `kill`: the sandbox, its group, a child, or none.
    pub(super) fn kill_pid(&mut self) -> usize {
        let child = self.some_child();
        self.rng
            .pick(&[self.pid, 0, (self.pgid as isize).wrapping_neg() as usize, child, usize::MAX, 1 << 30, (-(1isize << 30)) as usize])
    }

    /// A live child's pid, or one that is nobody's.
    fn some_child(&mut self) -> usize {
        if self.children.is_empty() {
            1 << 30
        } else {
            let i = self.rng.below(self.children.len());
            self.children[i]
        }
    }

    /// A signal number for `rt_sigaction` with a garbage action: any but
    /// the ones the sandbox sends or relies on.
    pub(super) fn garbage_action_signal(&mut self, sig: usize) -> usize {
        if SENT.contains(&sig) || sig == SIGALRM {
            sig + 30
        } else {
            sig
        }
    }

    /// A mask in CTRL for `rt_sigprocmask`, or a refused pointer.
    pub(super) fn sigset_ptr(&mut self) -> usize {
        let m = self.mask();
        ctrl_u64s(SIGSET_AT, &[m]);
        self.rng.pick(&[CTRL + SIGSET_AT, CTRL + SIGSET_AT, CTRL + SIGSET_AT, 0, KERNEL_HALF])
    }

    /// The arguments of a process or signal call.
    pub(super) fn proc_args(&mut self, call: Call) -> [usize; 6] {
        use Call::*;
        match call {
            Fork | Pause => [0; 6],
            Wait4 => {
                let child = self.some_child();
                let pid = self.rng.pick(&[usize::MAX, usize::MAX, 0, child, (self.pgid as isize).wrapping_neg() as usize, 1 << 30]);
                let status = self.rng.pick(&[STATUS_AT, STATUS_AT, STATUS_AT, 0, KERNEL_HALF]);
                // WNOHANG, __WALL, WUNTRACED, an invalid bit
                let options = self.rng.pick(&[1, 1, 0, 1 | 0x4000_0000, 1 | 2, 0x1234]);
                [pid, status, options, self.out_ptr(), 0, 0]
            }
            Waitid => {
                let child = self.some_child();
                let (idtype, id) = self.rng.pick(&[(0, 0), (1, child), (2, 0), (2, self.pgid), (3, 1000), (99, 0)]);
                let info = self.rng.pick(&[INFO_AT, INFO_AT, 0, KERNEL_HALF]);
                // WEXITED WNOHANG WNOWAIT WSTOPPED, none
                let options = self.rng.pick(&[4 | 1, 4 | 1, 4, 4 | 1 | 0x0100_0000, 2 | 1, 0]);
                [idtype, id, info, options, self.out_ptr(), 0]
            }
            Execve => {
                let i = self.rng.below(4);
                let path = if self.rng.chance(6) {
                    self.rng.pick(&[0, KERNEL_HALF, usize::MAX - 10])
                } else {
                    CTRL + EXEC_PATHS_AT + i * EXEC_STRIDE
                };
                let garbage = SCRATCH + 8 * self.rng.below(SCRATCH_LEN / 8);
                let argv = self.rng.pick(&[CTRL + ARGV_AT, CTRL + ARGV_AT, 0, KERNEL_HALF, garbage]);
                let envp = self.rng.pick(&[CTRL + ARGV_AT + 16, 0, KERNEL_HALF]);
                [path, argv, envp, 0, 0, 0]
            }
            SigactionHandler => {
                let sig = self.rng.pick(SENT);
                let ignored_by_default = DEFAULT_IGNORED.contains(&sig);
                let handler = match self.rng.below(if ignored_by_default { 4 } else { 3 }) {
                    0 => signal::SIG_IGN,
                    3 => signal::SIG_DFL,
                    _ => on_signal as *const () as usize,
                };
                let mut flags = signal::SA_RESTORER;
                for f in [
                    signal::SA_RESTART,
                    signal::SA_NODEFER,
                    signal::SA_SIGINFO,
                    signal::SA_ONSTACK,
                    signal::SA_NOCLDSTOP,
                    signal::SA_NOCLDWAIT,
                ] {
                    if self.rng.chance(3) {
                        flags |= f;
                    }
                }
                if ignored_by_default && self.rng.chance(3) {
                    flags |= signal::SA_RESETHAND;
                }
                let mask = self.mask();
                ctrl_u64s(SIGACT_AT, &[handler as u64, flags, signal::restorer as *const () as u64, mask]);
                let act = self.rng.pick(&[CTRL + SIGACT_AT, CTRL + SIGACT_AT, 0, KERNEL_HALF]);
                [sig, act, self.out_ptr(), self.rng.pick(&[8, 8, 8, 16]), 0, 0]
            }
            Sigaltstack => {
                // Both stacks hold any signal frame (Linux kills a process
                // whose frame overflows its alternate stack, and an XSAVE
                // frame with AVX-512 state is larger than MINSIGSTKSZ);
                // 1024 bytes are below MINSIGSTKSZ: ENOMEM.
                let (sp, size) = self.rng.pick(&[(ALTSTACK, ALTSTACK_LEN), (ALTSTACK + ALTSTACK_LEN / 2, 16 << 10), (ALTSTACK, 1024)]);
                // SS_ONSTACK, SS_DISABLE, SS_AUTODISARM, invalid
                let flags = self.rng.pick(&[0u64, 0, 1, 2, 1 << 31, 0x1234]);
                ctrl_u64s(STACK_T_AT, &[sp as u64, flags, size as u64]);
                let ss = self.rng.pick(&[CTRL + STACK_T_AT, CTRL + STACK_T_AT, 0, KERNEL_HALF]);
                [ss, self.out_ptr(), 0, 0, 0, 0]
            }
            RtSigsuspend => [self.sigset_ptr(), self.rng.pick(&[8, 8, 4]), 0, 0, 0, 0],
            RtSigtimedwait => {
                let set = self.sigset_ptr();
                [set, self.out_ptr(), self.timespec(), self.rng.pick(&[8, 8, 4]), 0, 0]
            }
            Getitimer => [self.rng.pick(&[0, 1, 2, 3, 99]), self.out_ptr(), 0, 0, 0, 0],
            _ => unreachable!("{call:?} is not a process call"),
        }
    }

    /// Before a call that reads back what the kernel reaped, clear it (the
    /// kernel need not write it: `WNOHANG` with nothing to reap).
    pub(super) fn before_wait(&mut self) {
        scratch_write(STATUS_AT - SCRATCH, &[0; 8]);
        scratch_write(INFO_AT - SCRATCH, &[0; 32]);
    }

    /// After `wait4`/`waitid`: forget the child reaped, check its status.
    pub(super) fn after_wait(&mut self, call: Call, a: [usize; 6], ret: isize) {
        if ret == -(Errno::ECHILD.0 as isize) {
            self.children.clear();
            return;
        }
        let (pid, status) = match call {
            Call::Wait4 if ret > 0 => (ret as usize, (a[1] == STATUS_AT).then(|| read_i32(STATUS_AT))),
            Call::Waitid if ret == 0 && a[2] == INFO_AT && a[3] & 0x0100_0000 == 0 => {
                let pid = read_i32(INFO_AT + 16) as usize;
                let (code, st) = (read_i32(INFO_AT + 8), read_i32(INFO_AT + 24));
                // CLD_EXITED, CLD_KILLED, CLD_DUMPED as a wait4 status
                let status = match code {
                    1 => Some((st & 0xff) << 8),
                    2 | 3 => Some(st & 0x7f),
                    _ => None,
                };
                (pid, status)
            }
            _ => return,
        };
        self.reaped(pid, status);
    }

    /// Forget `pid`, and note its status if it is not an acceptable end.
    fn reaped(&mut self, pid: usize, status: Option<i32>) {
        self.children.retain(|&c| c != pid);
        if let Some(st) = status {
            if !child_status_ok(st) && self.bad_children.len() < self.bad_children.capacity() {
                self.bad_children.push((pid, st));
            }
        }
    }

    /// Wait for any child, retrying when the guard timer interrupts.
    fn reap_one(&mut self) -> Result<(), Errno> {
        loop {
            match sys::wait4(-1, 0x4000_0000) {
                Ok((pid, st)) => {
                    self.reaped(pid, Some(st));
                    return Ok(());
                }
                Err(Errno::EINTR) => {}
                Err(e) => {
                    self.children.clear();
                    return Err(e);
                }
            }
        }
    }

    /// Reap every child; the statuses that were not acceptable.
    pub fn reap_all(&mut self) -> &[(usize, i32)] {
        while self.reap_one().is_ok() {}
        &self.bad_children
    }

    /// `fork`, and in the child the child's run; see the module comment.
    pub(super) fn fork_call(&mut self) -> isize {
        while self.children.len() >= MAX_CHILDREN {
            if self.reap_one().is_err() {
                break;
            }
        }
        let seed = self.rng.next();
        let exec = self.rng.chance(3);
        // SAFETY: the sandbox's programs are single-threaded.
        match unsafe { sys::fork() } {
            Ok(0) => self.child(seed, exec),
            Ok(pid) => {
                self.children.push(pid);
                pid as isize
            }
            Err(e) => -(e.0 as isize),
        }
    }

    /// The forked child: random calls then exit, or exec this program.
    fn child(&mut self, seed: u64, exec: bool) -> ! {
        if exec {
            let mut digits = [0u8; 24];
            let seed_str = decimal(seed, &mut digits);
            let mut strs = [0u8; 96];
            let mut at = 0;
            let mut ptrs = [0u64; 6];
            for (i, s) in [b"syscall_fuzz".as_slice(), b"20", seed_str, b"child", b"/proc/self/exe"].iter().enumerate() {
                strs[at..at + s.len()].copy_from_slice(s);
                if i < 4 {
                    ptrs[i] = (CTRL + STRS_AT + at) as u64;
                }
                at += s.len() + 1;
            }
            let exe = CTRL + STRS_AT + at - b"/proc/self/exe".len() - 1;
            ctrl_write(STRS_AT, &strs);
            ctrl_u64s(ARGV_AT, &ptrs);
            // SAFETY: every pointer is in CTRL, NUL-terminated and
            // NULL-terminated; on success this program is replaced.
            unsafe { sys::syscall6(59, [exe, CTRL + ARGV_AT, CTRL + ARGV_AT + 32, 0, 0, 0]) };
            sys::exit_group(EXEC_FAILED);
        }
        self.pid = sys::getpid() as usize;
        self.tid = sys::gettid() as usize;
        self.children.clear();
        self.nested = true;
        self.rng = super::Rng::new(seed);
        // Interval timers are not inherited.
        if signal::setitimer(signal::ITIMER_REAL, GUARD_US, GUARD_US).is_err() {
            sys::exit_group(CHILD_FAILED);
        }
        let mut failed = false;
        for _ in 0..CHILD_CALLS {
            let (_, call, a, ret) = self.step();
            if let Some(p) = super::problem(call, a, ret) {
                crate::eprintln!("syscall_fuzz child {}: {p:?}: {}", self.pid, super::Traced { sb: self, call, args: a, ret });
                failed = true;
            }
        }
        sys::exit_group(if failed { CHILD_FAILED } else { 0 });
    }
}

fn read_i32(addr: usize) -> i32 {
    let mut b = [0u8; 4];
    scratch_read(addr - SCRATCH, &mut b);
    i32::from_ne_bytes(b)
}

/// `v` in decimal, in `buf`.
fn decimal(mut v: u64, buf: &mut [u8; 24]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}
