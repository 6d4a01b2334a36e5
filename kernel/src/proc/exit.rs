//! Thread and process exit.
//!
//! `exit` ends one thread; `exit_group` (and a fatal signal) fixes the
//! process's exit status and tells every other thread to exit, which each
//! does at its next return towards user space or killable wait. The last
//! thread out tears the process down: its address space (every frame back
//! to the allocator, no page left mlocked; unless a `vfork` child or
//! parent still runs on it) and its files, wakes a parent asleep in
//! `vfork`, and leaves a zombie for its parent to reap
//! ([`super::wait::exit_notify`]). When the first process ends, the run
//! ends: QEMU powers off with its status, unless `stay` is on the command
//! line; other processes may still be running then.
//!
//! Page tables: a thread loads the kernel's own page table before it leaves
//! its process, so the last thread frees tables that no CPU has loaded.

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
    drop(proc);
    do_exit_thread()
}

/// End the current thread; the last thread of a process ends the process.
pub fn do_exit_thread() -> ! {
    let me = sched::current();
    let proc = super::current();
    // CLONE_CHILD_CLEARTID: zero the word and wake a joiner.
    let ctid = me.clear_child_tid.swap(0, Ordering::SeqCst);
    if ctid != 0 && !proc.dead.load(Ordering::SeqCst) && crate::uaccess::write_user::<u32>(ctid, &0).is_ok() {
        let _ = super::futex::wake(&proc, ctid, 1, true);
    }
    // Leave the address space before leaving the process: once this
    // thread is off the thread list, the last thread may free the page
    // tables, and none may still be loaded here (Linux `exit_mm`).
    me.cr3.store(0, Ordering::SeqCst);
    crate::arch::switch_to_kernel_page_table();
    let last = {
        let mut threads = proc.threads.lock();
        threads.retain(|t| !Arc::ptr_eq(t, &me));
        threads.is_empty()
    };
    super::signal::exit_thread(&proc, me.tid());
    if last {
        exit_process(&proc);
    }
    drop(proc);
    drop(me);
    sched::exit_current()
}

fn exit_process(proc: &Arc<Process>) {
    let status = proc.exit_status.lock().unwrap_or(ExitStatus::Exited(0));
    proc.files.close_all();
    super::fork::mm_release(proc);
    let mm = proc.mm();
    if mm.mmput() {
        // Every thread of every process on this address space has loaded
        // the kernel's page table before leaving it (`do_exit_thread`),
        // and a CPU has only its running thread's table loaded (no lazy
        // TLB): nothing can walk these tables any more, on any CPU.
        assert_ne!(crate::arch::current_page_table(), mm.root_pa(), "freeing the page table this CPU runs on");
        assert!(!crate::arch::tlb::loaded_anywhere(mm.root_pa()), "freeing a page table another CPU has loaded");
        mm.exit_mmap();
    }
    if let ExitStatus::Signaled(sig) = status {
        crate::kprintln!("holdfast: process {} ({}) killed by signal {}", proc.pid, proc.name(), sig);
    }
    super::wait::exit_notify(proc);
    if proc.is_init {
        // Processes still running hold their memory: the leak check is
        // only meaningful when the first process was the last.
        let running = super::all().iter().filter(|p| !p.dead.load(Ordering::SeqCst)).count();
        if running == 0 {
            // Reclaim holds references on the pages it has isolated.
            crate::memory::swap::wait_for_reclaim_idle();
            let (mlocked, referenced, cached) = super::usermm::leak_check();
            let (swap_total, swap_free) = super::usermm::page_meta().swap().totals();
            let swap_used = swap_total - swap_free;
            // Files (the initrd's among them) keep their pages in swap.
            let swap_cached = super::usermm::shmem_swapped();
            crate::kprintln!(
                "holdfast: leak check: {} pages mlocked, {} user pages still referenced ({} in the page cache), {} swap slots in use ({} by the page cache)",
                mlocked,
                referenced,
                cached,
                swap_used,
                swap_cached
            );
            let swap_used = swap_used.saturating_sub(swap_cached);
            let swap = super::usermm::page_meta().swap();
            if swap.enabled() {
                let ev = swap.events();
                crate::kprintln!(
                    "holdfast: swap: {} pages out, {} in; reclaimed {} by kswapd, {} directly",
                    ev.pswpout,
                    ev.pswpin,
                    ev.pgsteal_kswapd,
                    ev.pgsteal_direct
                );
                let (ns, pages) = crate::memory::swap::reclaim_cost();
                let per_page_ns = ns.checked_div(pages).unwrap_or(0);
                crate::kprintln!(
                    "holdfast: reclaim: {}.{:03} ms for {} pages, {}.{:03} us per page",
                    ns / 1_000_000,
                    ns / 1_000 % 1_000,
                    pages,
                    per_page_ns / 1_000,
                    per_page_ns % 1_000
                );
            }
            if crate::cmdline::flag("mm.check_invariants") {
                let (run, skipped) = crate::syscall::mem::invariant_check_counts();
                crate::kprintln!("holdfast: invariant checks: {run} run, {skipped} skipped for low memory");
            }
            if (mlocked, referenced, swap_used) != (0, 0, 0) && crate::cmdline::flag("mm.check_invariants") {
                panic!("process exit left {mlocked} mlocked and {referenced} referenced user pages, {swap_used} swap slots");
            }
        } else {
            crate::kprintln!("holdfast: leak check skipped: {running} processes still running");
        }
        let (total, free) = crate::memory::frame::counts();
        crate::kprintln!("holdfast: init exited with status {} (frames: {} total, {} free)", status.shell_code(), total, free);
        if !crate::cmdline::flag("stay") {
            crate::poweroff(status.shell_code());
        }
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use crate::ktest::ktest;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicU32, Ordering};

    use crate::sched::{self, thread::Thread};

    static RAN: AtomicU32 = AtomicU32::new(0);

    fn count_and_exit() -> ! {
        RAN.fetch_add(1, Ordering::SeqCst);
        sched::exit_current();
    }

    /// Start `argv[0]` from the initrd as a process and wait (at most
    /// `timeout_s`) until it has exited and its last thread is reaped.
    pub(crate) fn run_to_exit(argv: Vec<String>, timeout_s: u64) -> alloc::sync::Arc<super::super::Process> {
        let path = argv[0].clone();
        let proc = super::super::exec::spawn_process(&path, argv, Vec::new(), false).expect("the program is in the test initrd");
        let start = crate::arch::time::now_ns();
        while !proc.dead.load(Ordering::SeqCst) {
            assert!(crate::arch::time::now_ns() - start < timeout_s * 1_000_000_000, "{path} did not exit");
            sched::yield_now();
        }
        // Let the exiting thread switch away and be reaped.
        sched::yield_now();
        proc
    }

    /// The kernel still runs threads: four new ones each get the CPU.
    pub(crate) fn threads_still_run() {
        RAN.store(0, Ordering::SeqCst);
        for i in 0..4 {
            sched::spawn(Thread::new(sched::thread::alloc_tid(), alloc::format!("check-{i}")), count_and_exit);
        }
        let start = crate::arch::time::now_ns();
        while RAN.load(Ordering::SeqCst) < 4 {
            assert!(crate::arch::time::now_ns() - start < 5_000_000_000, "new threads did not run");
            sched::yield_now();
        }
    }

    /// A process that exits must not leave any CPU running on its freed
    /// page table: after `/hello` has exited, every free frame is taken
    /// and zeroed (so a freed PML4 that is still loaded loses the kernel
    /// half), and the kernel still runs threads.
    #[ktest]
    pub fn exited_process_page_table_is_not_in_use() {
        let proc = run_to_exit(vec![String::from("/hello")], 10);
        let root = proc.mm().root_pa();
        drop(proc);
        assert_ne!(crate::arch::current_page_table(), root, "CR3 still holds the exited process's page table");

        let (_, free) = crate::memory::frame::counts();
        let mut frames = Vec::with_capacity(free as usize + 16);
        while let Some(pa) = crate::memory::frame::alloc_zeroed() {
            frames.push(pa);
        }
        let taken = frames.len();
        for pa in frames {
            crate::memory::frame::free(pa).expect("frame handed out above");
        }
        crate::kprintln!("  took and zeroed {taken} free frames");
        threads_still_run();
    }
}
