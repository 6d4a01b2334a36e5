//! Thread and process exit.
//!
//! `exit` ends one thread; `exit_group` (and a fatal signal) fixes the
//! process's exit status and tells every other thread to exit, which each
//! does at its next return towards user space or killable wait. The last
//! thread out tears the process down: its address space (every frame back
//! to the allocator, no page left mlocked) and its files. When the first
//! process ends, the run ends: QEMU powers off with its status, unless
//! `stay` is on the command line.

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use super::{ExitStatus, Process};
use crate::sched;

/// Record `status` unless an earlier exit already did; mark every thread
/// of the process for exit and wake it.
pub fn begin_group_exit(proc: &Arc<Process>, status: ExitStatus) {
    {
        let mut st = proc.exit_status.lock();
        if st.is_none() {
            *st = Some(status);
        }
    }
    let threads: alloc::vec::Vec<_> = proc.threads.lock().clone();
    for t in &threads {
        t.set_fatal_signal();
        sched::wake(t);
    }
}

/// `exit_group(2)`: end the whole process.
pub fn do_exit_group(status: ExitStatus) -> ! {
    begin_group_exit(&super::current(), status);
    do_exit_thread()
}

/// `exit(2)` for one thread: if it was the last thread, the process exits
/// with `code` (unless an exit status was already fixed).
pub fn do_exit(code: i32) -> ! {
    let proc = super::current();
    let mut st = proc.exit_status.lock();
    if st.is_none() && proc.nr_threads() == 1 {
        *st = Some(ExitStatus::Exited(code));
    }
    drop(st);
    do_exit_thread()
}

/// End the current thread; the last thread of a process ends the process.
pub fn do_exit_thread() -> ! {
    let me = sched::current();
    let proc = super::current();
    // CLONE_CHILD_CLEARTID: zero the word and wake a joiner.
    let ctid = me.clear_child_tid.swap(0, Ordering::SeqCst);
    if ctid != 0 && !proc.dead.load(Ordering::SeqCst) {
        if crate::uaccess::write_user::<u32>(ctid, &0).is_ok() {
            let _ = super::futex::wake(&proc, ctid, 1);
        }
    }
    let last = {
        let mut threads = proc.threads.lock();
        threads.retain(|t| !Arc::ptr_eq(t, &me));
        threads.is_empty()
    };
    if last {
        exit_process(&proc);
    }
    drop(proc);
    drop(me);
    sched::exit_current()
}

fn exit_process(proc: &Arc<Process>) {
    let status = proc.exit_status.lock().unwrap_or(ExitStatus::Exited(0));
    proc.files.lock().close_all();
    proc.mm.exit_mmap();
    proc.dead.store(true, Ordering::SeqCst);
    super::unlist(proc.pid);
    if let ExitStatus::Signaled(sig) = status {
        crate::kprintln!("holdfast: process {} ({}) killed by signal {}", proc.pid, proc.name(), sig);
    }
    if proc.is_init {
        let (mlocked, referenced) = super::usermm::leak_check();
        crate::kprintln!("holdfast: leak check: {} pages mlocked, {} user pages still referenced", mlocked, referenced);
        if (mlocked, referenced) != (0, 0) && crate::cmdline::flag("mm.check_invariants") {
            panic!("process exit left {mlocked} mlocked and {referenced} referenced user pages");
        }
        let (total, free) = crate::memory::frame::counts();
        crate::kprintln!(
            "holdfast: init exited with status {} (frames: {} total, {} free)",
            status.shell_code(),
            total,
            free
        );
        if !crate::cmdline::flag("stay") {
            crate::arch::qemu::exit(status.shell_code());
        }
    }
}
