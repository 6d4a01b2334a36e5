//! Signal handlers for test programs: `rt_sigaction` with the x86_64
//! `sa_restorer` that every Linux handler needs, and `setitimer`.
//!
//! On x86_64 the kernel returns from a handler through `sa_restorer`, which
//! must issue `rt_sigreturn`; Linux refuses to build a frame without it
//! (the process gets SIGSEGV instead). [`restorer`] is that trampoline, and
//! [`sigaction`] always passes it with `SA_RESTORER`.
//!
//! A handler runs on whatever the program was doing, like a thread that
//! preempted it: it may only touch atomics and make system calls.

use crate::sys::{check, syscall6, Errno};

pub const SIGUSR1: usize = 10;
pub const SIGUSR2: usize = 12;
pub const SIGPIPE: usize = 13;
pub const SIGALRM: usize = 14;
pub const SIGCHLD: usize = 17;
pub const SIGURG: usize = 23;
pub const SIGWINCH: usize = 28;

pub const SA_NOCLDSTOP: u64 = 1;
pub const SA_NOCLDWAIT: u64 = 2;
pub const SA_SIGINFO: u64 = 4;
pub const SA_RESTORER: u64 = 0x0400_0000;
pub const SA_ONSTACK: u64 = 0x0800_0000;
pub const SA_RESTART: u64 = 0x1000_0000;
pub const SA_NODEFER: u64 = 0x4000_0000;
pub const SA_RESETHAND: u64 = 0x8000_0000;

pub const SIG_DFL: usize = 0;
pub const SIG_IGN: usize = 1;

/// The kernel's `struct sigaction` on x86_64 (not libc's).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct KSigaction {
    pub handler: usize,
    pub flags: u64,
    pub restorer: usize,
    pub mask: u64,
}

/// A handler as the kernel calls it: signal number, then (with
/// `SA_SIGINFO`) the siginfo and ucontext, which a handler may ignore.
pub type Handler = extern "C" fn(i32, usize, usize);

/// The return trampoline: `rt_sigreturn` (15) from the frame the kernel
/// built, which `rsp` points at when a handler returns here.
#[unsafe(naked)]
pub extern "C" fn restorer() {
    core::arch::naked_asm!("mov eax, 15", "syscall", "ud2");
}

impl KSigaction {
    /// Run `handler` with `flags` (plus `SA_RESTORER`), blocking `mask`
    /// while it runs.
    pub fn handler(handler: Handler, flags: u64, mask: u64) -> KSigaction {
        KSigaction { handler: handler as *const () as usize, flags: flags | SA_RESTORER, restorer: restorer as *const () as usize, mask }
    }

    /// `SIG_DFL` or `SIG_IGN` with `flags`.
    pub fn disposition(handler: usize, flags: u64) -> KSigaction {
        KSigaction { handler, flags: flags | SA_RESTORER, restorer: restorer as *const () as usize, mask: 0 }
    }
}

/// `rt_sigaction(sig, act, NULL, 8)`.
///
/// Safe: a handler is an `extern "C"` function of this program, and the
/// restorer is [`restorer`], so delivering the signal runs only code the
/// program chose.
pub fn sigaction(sig: usize, act: &KSigaction) -> Result<(), Errno> {
    // SAFETY: `act` is a live reference the kernel only reads; the old
    // action is not asked for.
    check(unsafe { syscall6(13, [sig, act as *const KSigaction as usize, 0, 8, 0, 0]) }).map(|_| ())
}

/// `ITIMER_REAL`.
pub const ITIMER_REAL: usize = 0;

/// `setitimer(which, {interval, value})` in microseconds; 0 and 0 disarm.
pub fn setitimer(which: usize, interval_us: u64, value_us: u64) -> Result<(), Errno> {
    let t = [interval_us / 1_000_000, interval_us % 1_000_000, value_us / 1_000_000, value_us % 1_000_000];
    // SAFETY: `t` is a live `struct itimerval` the kernel only reads; the
    // old value is not asked for.
    check(unsafe { syscall6(38, [which, t.as_ptr() as usize, 0, 0, 0, 0]) }).map(|_| ())
}
