//! User page faults: the kernel half of demand paging.
//!
//! A fault on a user address — from ring 3, or from a kernel user-copy
//! instruction — goes to the process's address space
//! (`handle_mm_fault`), which takes `mmap_lock` for read, checks the vma
//! and maps a zeroed frame. A fault the address space refuses is, from
//! ring 3, a SIGSEGV for the whole process (exit status 128 + 11 and a log
//! line); from a user copy, `EFAULT` for the syscall.

use super::signal;

/// Access that faulted.
#[derive(Clone, Copy, Debug)]
pub struct FaultAccess {
    pub write: bool,
    pub exec: bool,
    pub user: bool,
}

/// What became of a user fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserFault {
    /// The page is there now: retry the access.
    Resolved,
    /// No frame was free; the OOM killer has chosen a victim, perhaps this
    /// very process (then a fatal signal is pending). Retry the access.
    OutOfMemory,
    /// The address space refuses the access (or there is no process).
    Refused,
}

/// Try to resolve a fault at user address `addr` for the current process.
/// A fault that found no free frame runs the OOM killer (Linux
/// `pagefault_out_of_memory`). Runs with interrupts enabled (it may sleep
/// on `mmap_lock`).
pub fn handle_user_fault(addr: u64, access: FaultAccess) -> UserFault {
    let Some(proc) = super::try_current() else { return UserFault::Refused };
    match proc.mm.handle_fault(addr, access, &proc.stack_limits()) {
        Ok(()) => UserFault::Resolved,
        Err(mm::Errno::ENOMEM) => {
            super::oom::out_of_memory();
            UserFault::OutOfMemory
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
        crate::sched::current().tid,
        crate::sched::current().name,
        addr,
        if access.exec { "exec" } else if access.write { "write" } else { "read" },
        rip
    );
    signal::send_fatal(&proc, signal::SIGSEGV);
    super::exit::do_exit_thread()
}
