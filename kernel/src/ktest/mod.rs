//! The in-kernel test harness (built with the `ktest` feature).
//!
//! Tests are plain functions that panic on failure, listed in [`TESTS`]
//! next to the subsystem they test. The protocol on the serial console,
//! read by `cargo xtask test`:
//!
//! ```text
//! ktest: run <index> <name>
//! ktest: ok <index> <name>          | ktest: FAILED <index> <name>
//! ktest: done
//! ```
//!
//! There is no unwinding in the kernel, so a failing (panicking) test ends
//! the run: the panic handler prints the FAILED line and exits QEMU with
//! [`EXIT_TEST_PANICKED`](crate::arch::qemu::EXIT_TEST_PANICKED); xtask
//! reboots with `ktest.start=<index + 1>` so the remaining tests still run.
//! `ktest.filter=<substring>` runs only matching tests.
//!
//! Locking: runs on the boot thread; `CURRENT` is read by the panic handler.

use core::sync::atomic::{AtomicIsize, Ordering};

/// One in-kernel test.
pub struct KTest {
    pub name: &'static str,
    pub run: fn(),
}

/// `crate::memory::frame::tests::x` -> `memory::frame::tests::x`.
const fn strip_crate(path: &'static str) -> &'static str {
    match path.as_bytes() {
        [b'c', b'r', b'a', b't', b'e', b':', b':', rest @ ..] => match core::str::from_utf8(rest) {
            Ok(s) => s,
            Err(_) => path,
        },
        _ => path,
    }
}

macro_rules! ktests {
    ($($path:path),* $(,)?) => {
        &[$(KTest { name: strip_crate(stringify!($path)), run: $path }),*]
    };
}

/// Every in-kernel test, in run order.
pub static TESTS: &[KTest] = ktests![
    crate::memory::frame::tests::alloc_free_roundtrip,
    crate::memory::frame::tests::no_double_handout,
    crate::memory::frame::tests::double_free_is_reported,
    crate::memory::frame::tests::zeroed_frames_are_zero,
    crate::memory::heap::tests::large_allocation_grows_heap,
    crate::memory::heap::tests::many_small_allocations,
    crate::arch::tests::page_fault_on_unmapped_kernel_address_is_caught,
    crate::arch::tests::non_canonical_access_is_caught,
    crate::arch::tests::write_to_read_only_page_is_caught,
    crate::arch::tests::timer_ticks_advance,
    crate::arch::tests::clock_is_monotonic_and_calibrated,
    crate::memory::phys::tests::map_walk_unmap_real_page_table,
    crate::memory::phys::tests::protnone_leaf_is_not_present_to_the_cpu,
    crate::sched::tests::busy_threads_are_preempted,
    crate::sched::tests::sleep_until_deadline,
    crate::sched::tests::wake_up_in_the_sleep_window_is_not_lost,
    crate::sched::rwsem_backend::tests::reader_sleeps_behind_writer,
    crate::sched::rwsem_backend::tests::sigkill_ends_killable_waits,
    crate::proc::usermm::tests::downgrade_retake_race_corrupts_only_downgrade_retake,
    crate::proc::usermm::tests::exit_mmap_frees_mlocked_memory,
    crate::proc::exit::tests::exited_process_page_table_is_not_in_use,
    crate::proc::oom::tests::oom_killer_kills_the_memory_hog_and_the_kernel_goes_on,
    crate::uaccess::tests::copy_from_prot_none_page_faults_to_the_fixup,
    crate::proc::stack::tests::initial_stack_layout,
    crate::proc::elf::tests::rejects_garbage,
    crate::fs::initrd::tests::parses_newc,
    crate::fs::initrd::tests::truncated_archive_is_not_fatal,
    crate::fs::initrd::tests::boot_initrd_has_cmdline,
    crate::fs::namei::tests::path_walk,
];

/// Index of the running test, or -1.
static CURRENT: AtomicIsize = AtomicIsize::new(-1);

/// The running test, if any (for the panic handler).
pub fn current() -> Option<(usize, &'static str)> {
    let i = CURRENT.load(Ordering::SeqCst);
    (i >= 0).then(|| (i as usize, TESTS[i as usize].name))
}

/// Run the tests from `ktest.start` on, then exit QEMU with the verdict.
pub fn run_all() -> ! {
    let start: usize = crate::cmdline::value("ktest.start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let filter = crate::cmdline::value("ktest.filter");
    crate::kprintln!("ktest: {} tests, starting at {}", TESTS.len(), start);
    for (i, t) in TESTS.iter().enumerate().skip(start) {
        if filter.is_some_and(|f| !t.name.contains(f)) {
            continue;
        }
        crate::kprintln!("ktest: run {} {}", i, t.name);
        CURRENT.store(i as isize, Ordering::SeqCst);
        (t.run)();
        CURRENT.store(-1, Ordering::SeqCst);
        crate::kprintln!("ktest: ok {} {}", i, t.name);
    }
    crate::kprintln!("ktest: done");
    crate::arch::qemu::exit(crate::arch::qemu::EXIT_SUCCESS)
}
