//! The OOM killer: when user memory cannot get a frame and reclaim frees
//! nothing (no swap, swap full, nothing evictable), kill the process that
//! holds the most (Linux `out_of_memory` / `oom_kill_process`, its badness
//! reduced to resident pages).
//!
//! A refused user allocation is only remembered where it happens
//! (`memory::frame::alloc_user`), because the allocating code holds the
//! address space's locks. The killer runs where no lock is held: in the
//! page-fault handler after a fault failed for want of memory, and on the
//! way back to user space after a system call whose population failed
//! (mlock, `MAP_POPULATE`, `MADV_POPULATE_*`). The victim gets SIGKILL
//! (exit status 137) and the line
//! `Out of memory: Killed process N (name) ...` in the kernel log.
//!
//! Locking: takes the process list and each candidate's mm inner lock
//! (for its rss), one at a time; call with no lock held. Reclaim and the
//! killer run with interrupts enabled whatever the caller had (reclaim
//! spins on locks whose holders must get to run).

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use super::{signal, ExitStatus, Process};

/// If a user allocation failed since the last look, reclaim; run the OOM
/// killer if that freed nothing.
pub fn out_of_memory_if_needed() -> Option<Arc<Process>> {
    if !crate::memory::frame::take_user_alloc_failure() {
        return None;
    }
    // Reclaim may spin on an rmap lock whose holder was preempted; on one
    // CPU the holder runs again only if this CPU can be preempted, so
    // reclaim (and the OOM killer) run with interrupts enabled, as signal
    // delivery on the way back to user space does.
    let irqs = x86_64::instructions::interrupts::are_enabled();
    x86_64::instructions::interrupts::enable();
    let victim = if crate::memory::swap::try_to_free_pages() > 0 { None } else { out_of_memory() };
    if !irqs {
        x86_64::instructions::interrupts::disable();
    }
    victim
}

/// Pick a victim and kill it (Linux `out_of_memory`). Returns the victim,
/// if there was one to kill (none: every candidate is already exiting,
/// and its memory is on its way back).
pub fn out_of_memory() -> Option<Arc<Process>> {
    crate::memory::frame::take_user_alloc_failure();
    let victim = select_bad_process()?;
    oom_kill_process(&victim);
    Some(victim)
}

/// The live process with the most resident user pages that is not already
/// on its way out (Linux skips tasks that are exiting).
fn select_bad_process() -> Option<Arc<Process>> {
    super::all()
        .into_iter()
        .filter(|p| !p.dead.load(Ordering::SeqCst) && p.exit_status.lock().is_none())
        .max_by_key(|p| p.mm().rss())
}

fn oom_kill_process(victim: &Arc<Process>) {
    let kb = |pages: u64| pages * 4;
    crate::kprintln!(
        "holdfast: Out of memory: Killed process {} ({}) total-vm:{}kB, anon-rss:{}kB, file-rss:0kB, shmem-rss:0kB, UID:{}",
        victim.pid,
        victim.name(),
        kb(victim.mm().total_vm()),
        kb(victim.mm().rss()),
        victim.creds.lock().uid
    );
    signal::send_fatal(victim, signal::SIGKILL);
    debug_assert!(matches!(*victim.exit_status.lock(), Some(ExitStatus::Signaled(_))));
}

#[cfg(feature = "ktest")]
pub mod tests {
    use crate::ktest::ktest;
    use alloc::string::String;
    use alloc::vec;

    use super::super::exit::tests::{run_to_exit, threads_still_run};
    use super::super::ExitStatus;

    /// A program that touches twice the machine's memory is killed by the
    /// OOM killer with SIGKILL; every frame comes back and the kernel goes
    /// on: its heap grows, threads start.
    #[ktest]
    pub fn oom_killer_kills_the_memory_hog_and_the_kernel_goes_on() {
        let (total, free0) = crate::memory::frame::counts();
        let mib = (total * 4096 * 2) >> 20;
        let proc = run_to_exit(vec![String::from("/oom_touch"), alloc::format!("{mib}")], 300);
        assert_eq!(*proc.exit_status.lock(), Some(ExitStatus::Signaled(9)), "the memory hog was not SIGKILLed");
        drop(proc);
        let (_, free) = crate::memory::frame::counts();
        // Kernel stacks and heap may have grown a little meanwhile.
        assert!(free + 64 >= free0, "frames not returned: {free} free after, {free0} before");
        let big = alloc::vec![7u8; 8 << 20];
        assert_eq!(big[(8 << 20) - 1], 7);
        drop(big);
        threads_still_run();
    }
}
