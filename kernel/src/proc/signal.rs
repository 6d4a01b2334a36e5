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
pub const SIGSEGV: u8 = 11;

/// Deliver fatal signal `sig` to `proc`.
pub fn send_fatal(proc: &alloc::sync::Arc<super::Process>, sig: u8) {
    exit::begin_group_exit(proc, ExitStatus::Signaled(sig));
}

/// `SIGTSTP`, whose default action is to stop: Holdfast has no stopped
/// state, so it is ignored.
pub const SIGTSTP: u8 = 20;

/// Send `sig` to every process of group `pgrp` (the terminal's interrupt
/// and quit characters). Interrupt context is allowed.
pub fn kill_pgrp(pgrp: u32, sig: u8) {
    if sig == SIGTSTP {
        return;
    }
    for p in super::pgrp_members(pgrp) {
        send_fatal(&p, sig);
    }
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
