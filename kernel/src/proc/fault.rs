//! User page faults: the kernel half of demand paging, and the signals of
//! exceptions raised by ring 3.
//!
//! A fault on a user address — from ring 3, or from a kernel user-copy
//! instruction — goes to the process's address space
//! (`handle_mm_fault`), which takes `mmap_lock` for read, checks the vma
//! and maps a zeroed frame. A fault the address space refuses is, from
//! ring 3, a SIGSEGV (`SEGV_MAPERR` without a vma, `SEGV_ACCERR` when the
//! vma forbids the access) forced on the thread; from a user copy,
//! `EFAULT` for the syscall. Any other exception raised by ring 3 forces
//! its signal likewise ([`user_signal`]); a handler may catch it, and if
//! it is blocked or already being handled the process ends with it.
//!
//! The exception handlers in `arch` call these functions through the
//! pointers registered in `arch::handlers` (by `main.rs`).

use super::signal;
pub use crate::arch::handlers::{FaultAccess, TrapInfo, UserFault};
use mm::fault::FaultError;

/// Try to resolve a fault at user address `addr` for the current process.
/// A fault that found no free frame reclaims (direct reclaim, swap on)
/// and is retried; if reclaim freed nothing it runs the OOM killer (Linux
/// `pagefault_out_of_memory`). Runs with interrupts enabled (it may sleep
/// on `mmap_lock`).
pub fn handle_user_fault(addr: u64, access: FaultAccess) -> UserFault {
    let Some(proc) = super::try_current() else { return UserFault::Refused { accerr: false } };
    match proc.mm().handle_fault(addr, access, &proc.stack_limits()) {
        Ok(()) => UserFault::Resolved,
        Err(FaultError::OutOfMemory) => {
            // Direct reclaim, with no lock held; retry if it freed a frame.
            if crate::memory::swap::try_to_free_pages() > 0 {
                // The refusal is answered: no OOM kill on the way out.
                crate::memory::frame::take_user_alloc_failure();
                return UserFault::Resolved;
            }
            super::oom::out_of_memory();
            UserFault::OutOfMemory { dying: crate::sched::current().fatal_signal_pending() }
        }
        Err(FaultError::Interrupted) => UserFault::Interrupted,
        Err(FaultError::NoVma) => UserFault::Refused { accerr: false },
        Err(FaultError::Access) => UserFault::Refused { accerr: true },
        Err(FaultError::SigBus) => UserFault::SigBus,
        // Handled inside the fault (never returned); retrying is right.
        Err(FaultError::ShmemSwapped(_)) => UserFault::Resolved,
    }
}

/// An exception raised by ring 3: force `sig` (`si_code` `code`,
/// `si_addr` `addr`) on the current thread (Linux `force_sig_fault`).
pub fn user_signal(sig: u8, code: i32, addr: u64, trap: TrapInfo) {
    signal::force_fault(sig, code, addr, trap);
}
