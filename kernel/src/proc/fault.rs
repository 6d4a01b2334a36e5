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

/// Try to resolve a fault at user address `addr` for the current process.
/// Returns false if there is no user process or the address space refuses.
/// Runs with interrupts enabled (it may sleep on `mmap_lock`).
pub fn handle_user_fault(addr: u64, access: FaultAccess) -> bool {
    match super::try_current() {
        Some(proc) => proc.mm.handle_fault(addr, access, &proc.stack_limits()).is_ok(),
        None => false,
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
