//! The in-kernel test harness (built with the `ktest` feature).
//!
//! Tests are plain functions that panic on failure, next to the subsystem
//! they test, marked with the [`ktest`] attribute:
//!
//! ```ignore
//! use crate::ktest::ktest;
//!
//! #[ktest]
//! pub fn alloc_free_roundtrip() { ... }
//! ```
//!
//! The attribute puts a [`KTest`] for the function into the linker section
//! `ktests`; the harness finds them all between the linker-made symbols
//! `__start_ktests` and `__stop_ktests`, so a test cannot be written and
//! left out of the run. They run sorted by module path, then by line:
//! the same order on every boot of a build, which `ktest.start` relies on.
//!
//! The protocol on the serial console, read by `cargo xtask test`:
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

use alloc::vec::Vec;
use core::sync::atomic::{AtomicIsize, Ordering};

/// One in-kernel test, as `#[ktest]` registers it.
pub struct KTest {
    /// Its path without the crate: `memory::frame::tests::alloc_free_roundtrip`.
    pub name: &'static str,
    /// `module_path!()` and `line!()` where it is declared: the run order.
    pub module: &'static str,
    pub line: u32,
    pub run: fn(),
}

/// `kernel::memory::frame::tests::x` -> `memory::frame::tests::x`.
pub const fn strip_crate(path: &'static str) -> &'static str {
    match path.as_bytes() {
        [b'k', b'e', b'r', b'n', b'e', b'l', b':', b':', rest @ ..] => match core::str::from_utf8(rest) {
            Ok(s) => s,
            Err(_) => path,
        },
        _ => path,
    }
}

/// `#[ktest] pub fn name() { ... }`: the function, plus a [`KTest`] for it
/// in the `ktests` section (kept by `#[used]`, collected by [`tests`]).
macro_rules! ktest {
    attr() ($(#[$meta:meta])* $vis:vis fn $name:ident() $body:block) => {
        $(#[$meta])* $vis fn $name() $body

        const _: () = {
            #[used]
            #[link_section = "ktests"]
            static KTEST: $crate::ktest::KTest = $crate::ktest::KTest {
                name: $crate::ktest::strip_crate(concat!(module_path!(), "::", stringify!($name))),
                module: module_path!(),
                line: line!(),
                run: $name,
            };
        };
    };
}
pub(crate) use ktest;

extern "C" {
    /// Start and end of the `ktests` section, defined by the linker (only
    /// their addresses are used).
    static __start_ktests: u8;
    static __stop_ktests: u8;
}

/// Every registered test, in the linker's order.
fn registered() -> &'static [KTest] {
    let start = core::ptr::addr_of!(__start_ktests) as *const KTest;
    let stop = core::ptr::addr_of!(__stop_ktests) as *const KTest;
    let len = (stop as usize - start as usize) / core::mem::size_of::<KTest>();
    // SAFETY: the section holds nothing but the `KTest` statics that
    // `#[ktest]` puts there, back to back: each is aligned as a `KTest` and
    // its size is a multiple of that alignment, so there are no gaps, and
    // the section starts at the first one. They are never written.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// Every registered test, in run order (by module, then by line).
static TESTS: spin::Once<Vec<&'static KTest>> = spin::Once::new();

fn tests() -> &'static [&'static KTest] {
    TESTS.call_once(|| {
        let mut all: Vec<&'static KTest> = registered().iter().collect();
        all.sort_by_key(|t| (t.module, t.line));
        all
    })
}

/// Index of the running test, or -1.
static CURRENT: AtomicIsize = AtomicIsize::new(-1);

/// The running test, if any (for the panic handler).
pub fn current() -> Option<(usize, &'static str)> {
    let i = CURRENT.load(Ordering::SeqCst);
    (i >= 0).then(|| (i as usize, tests()[i as usize].name))
}

/// Run the tests from `ktest.start` on, then exit QEMU with the verdict.
pub fn run_all() -> ! {
    let start: usize = crate::cmdline::value("ktest.start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let filter = crate::cmdline::value("ktest.filter");
    let tests = tests();
    crate::kprintln!("ktest: {} tests, starting at {}", tests.len(), start);
    for (i, t) in tests.iter().enumerate().skip(start) {
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
