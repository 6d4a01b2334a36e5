//! What the layers above `arch` do when the CPU hands them control: the
//! handlers that interrupts, exceptions and the `syscall` entry call.
//!
//! `arch` is the bottom layer and imports nothing above it (`sched`,
//! `proc`, `syscall`, `fs`); an entry path that has to reach up — a
//! system call, a timer tick, a fault on a user address, an exception
//! raised by ring 3 — calls a function pointer from [`Handlers`], which
//! `main.rs` (the one place that sees every layer) registers once at boot
//! with [`register`], before interrupts are enabled and before any user
//! address is touched.
//!
//! Locking: written once, read-only afterwards (a `spin::Once`).

use super::syscall::UserFrame;

/// Access that faulted on a user address.
#[derive(Clone, Copy, Debug)]
pub struct FaultAccess {
    pub write: bool,
    pub exec: bool,
    /// The access came from ring 3 (not from a kernel user copy).
    pub user: bool,
}

/// What became of a fault on a user address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserFault {
    /// The page is there now: retry the access.
    Resolved,
    /// No frame was free; the OOM killer has chosen a victim, perhaps this
    /// very process. Retry the access; a user copy gives up instead when
    /// the running thread is `dying` (has a fatal signal pending).
    OutOfMemory { dying: bool },
    /// The address space refuses the access (or there is no process):
    /// no vma maps it (`SEGV_MAPERR`), or its vma forbids it (`accerr`,
    /// `SEGV_ACCERR`).
    Refused { accerr: bool },
    /// The page lies beyond the end of the object the vma maps (a
    /// truncated file): `SIGBUS`, `BUS_ADRERR`.
    SigBus,
    /// A fatal signal came while waiting for the address space's lock.
    Interrupted,
}

/// The trap a user thread took, as a signal frame's `sigcontext` reports
/// it (Linux `thread.trap_nr`, `error_code`, `cr2`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapInfo {
    pub trapno: u64,
    pub error_code: u64,
    pub cr2: u64,
}

/// The handlers the entry paths call. Every one runs on the interrupted
/// (or calling) thread's kernel stack.
pub struct Handlers {
    /// A `syscall` from ring 3, interrupts enabled: handle the call that
    /// `frame` describes and put the result in `frame.rax`.
    pub syscall: fn(frame: &mut UserFrame),
    /// COM1's receive interrupt, interrupts disabled, before the end of
    /// interrupt is signalled: take the bytes that arrived.
    pub console_irq: fn(),
    /// Every timer tick, interrupts disabled, after the end of interrupt
    /// was signalled: account it, wake sleepers, preempt.
    pub timer_tick: fn(),
    /// A reschedule IPI (another CPU made a thread runnable here),
    /// interrupts disabled, after the end of interrupt was signalled.
    pub reschedule: fn(),
    /// On every way back to ring 3 (after a system call, an exception or
    /// an interrupt that came from ring 3), interrupts in any state, with
    /// the registers ring 3 gets: a thread that is to exit does not
    /// return; pending signals are delivered (their handlers' frames
    /// pushed onto `frame`).
    pub before_return_to_user: fn(frame: &mut UserFrame),
    /// A page fault on a user address, from ring 3 or from a kernel user
    /// copy, interrupts enabled (resolving it may sleep).
    pub user_fault: fn(addr: u64, access: FaultAccess) -> UserFault,
    /// An exception raised by ring 3 (a refused page fault, a
    /// general-protection fault, a breakpoint, a divide error, ...): force
    /// signal `sig` with `si_code` `code` and `si_addr` `addr` on the
    /// current thread; it is delivered (or ends the process) on the way
    /// back to ring 3.
    pub user_signal: fn(sig: u8, code: i32, addr: u64, trap: TrapInfo),
}

static HANDLERS: spin::Once<Handlers> = spin::Once::new();

/// Register the handlers (once, at boot, before interrupts are enabled).
pub fn register(handlers: Handlers) {
    HANDLERS.call_once(|| handlers);
}

/// The registered handlers (panics if an entry path runs before
/// [`register`]: a boot-order bug).
pub(super) fn get() -> &'static Handlers {
    HANDLERS.get().expect("arch::handlers::register not called")
}
