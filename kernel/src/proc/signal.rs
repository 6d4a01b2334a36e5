//! Signals, as far as Holdfast has them: fatal ones.
//!
//! `SIGKILL` (and any signal sent with `kill`/`tgkill`, and the `SIGSEGV`
//! of a bad user fault) ends the whole process: the exit status is fixed
//! as "killed by signal N", every thread is marked and woken. A thread
//! blocked in a killable wait (the mmap lock, a futex, a sleep) returns,
//! and every thread exits at its next return towards user space. Signal
//! handlers are accepted by `rt_sigaction` but never run.

use super::{exit, ExitStatus};

pub const SIGKILL: u8 = 9;
/// `SIG_IGN` as a handler address (`SIG_DFL` is 0).
const SIG_IGN: u64 = 1;
pub const SIGSEGV: u8 = 11;

/// Deliver fatal signal `sig` to `proc`.
pub fn send_fatal(proc: &alloc::sync::Arc<super::Process>, sig: u8) {
    exit::begin_group_exit(proc, ExitStatus::Signaled(sig));
}

/// Called on every way back to ring 3: a thread with a fatal signal
/// pending exits here instead.
pub fn before_return_to_user() {
    // A system call that ran out of user memory (population) calls the
    // OOM killer here, with no lock held; its victim may be this process.
    super::oom::out_of_memory_if_needed();
    if crate::sched::current().fatal_signal_pending() {
        exit::do_exit_thread();
    }
}

/// `flush_signal_handlers` at exec: a handler that is a function becomes
/// `SIG_DFL` (the program that installed it is gone), `SIG_IGN` stays;
/// flags, restorer and mask are cleared.
pub fn flush_signal_handlers(proc: &super::Process) {
    for action in proc.sigactions.lock().iter_mut() {
        let handler = if action[0] == SIG_IGN { SIG_IGN } else { 0 };
        *action = [handler, 0, 0, 0];
    }
}
