//! User page faults: the kernel half of demand paging.
//!
//! A fault on a user address — from ring 3, or from a kernel user-copy
//! instruction — goes to the process's address space
//! (`handle_mm_fault`), which takes `mmap_lock` for read, checks the vma
//! and maps a zeroed frame. A fault the address space refuses is, from
//! ring 3, a SIGSEGV for the whole process (exit status 128 + 11 and a log
//! line); from a user copy, `EFAULT` for the syscall. Any other exception
//! raised by ring 3 kills the process with its signal.
//!
//! The exception handlers in `arch` call these functions through the
//! pointers registered in `arch::handlers` (by `main.rs`).

use super::signal;
pub use crate::arch::handlers::{FaultAccess, UserFault};

/// Try to resolve a fault at user address `addr` for the current process.
/// A fault that found no free frame runs the OOM killer (Linux
/// `pagefault_out_of_memory`). Runs with interrupts enabled (it may sleep
/// on `mmap_lock`).
pub fn handle_user_fault(addr: u64, access: FaultAccess) -> UserFault {
    let Some(proc) = super::try_current() else { return UserFault::Refused };
    match proc.mm().handle_fault(addr, access, &proc.stack_limits()) {
        Ok(()) => UserFault::Resolved,
        Err(mm::Errno::ENOMEM) => {
            super::oom::out_of_memory();
            UserFault::OutOfMemory { dying: crate::sched::current().fatal_signal_pending() }
        }
        Err(_) => UserFault::Refused,
    }
}

/// Kill the current process for a bad access from ring 3.
pub fn segv(addr: u64, rip: u64, access: FaultAccess) -> ! {
    let proc = super::current();
    crate::kprintln!(
        "holdfast: segfault in pid {} ({}) tid {} ({}) at address {:#x} ({}) rip {:#x}",
        proc.pid,
        proc.name(),
        crate::sched::current().tid(),
        crate::sched::current().name,
        addr,
        if access.exec {
            "exec"
        } else if access.write {
            "write"
        } else {
            "read"
        },
        rip
    );
    signal::send_fatal(&proc, signal::SIGSEGV);
    drop(proc);
    super::exit::do_exit_thread()
}

/// Kill the current process with `sig` for exception `what` raised by
/// ring 3 at `rip` (the kernel must survive anything a program does).
pub fn user_exception(what: &str, rip: u64, sig: u8) -> ! {
    let proc = super::current();
    crate::kprintln!("holdfast: {} in pid {} at rip {:#x}", what, proc.pid, rip);
    signal::send_fatal(&proc, sig);
    drop(proc);
    super::exit::do_exit_thread()
}
