//! Where population's time goes: optional accounting of the pages that
//! mlock, `MAP_POPULATE` and the other populating calls fault in.
//!
//! Off by default, when it costs one relaxed load per page. When on
//! ([`set_enabled`]; the kernel word `mm.populate_profile`), every
//! population loop adds its wall time, and every page it faults in the time
//! spent getting a frame (the allocator and the zeroing) and
//! installing it (the inner lock, the page-table update and the frame's
//! mlock accounting); the kernel adds the zeroing alone
//! ([`add_zero`]). What is left of the wall time is the loop itself: vma
//! lookups, the `mmap_lock` traffic of the strategy, and waiting for it.
//! Times come from the mm's rwsem backend clock.
//!
//! The counters are global (all mms, all CPUs), like Linux's vmstat, and
//! only ever grow; read them before and after the run of interest.
//!
//! Locking: none; every counter is an atomic.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);
static PAGES: AtomicU64 = AtomicU64::new(0);
static POPULATE_NS: AtomicU64 = AtomicU64::new(0);
static ALLOC_NS: AtomicU64 = AtomicU64::new(0);
static ZERO_NS: AtomicU64 = AtomicU64::new(0);
static INSTALL_NS: AtomicU64 = AtomicU64::new(0);

/// The counters at one moment. Times in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PopulateProfile {
    /// Pages the population loops faulted in (or found present).
    pub pages: u64,
    /// Wall time inside population loops.
    pub populate_ns: u64,
    /// Of which getting frames (allocator and zeroing).
    pub alloc_ns: u64,
    /// Of which zeroing frames (as the kernel reports it; part of `alloc_ns`).
    pub zero_ns: u64,
    /// Of which installing pages under the inner lock.
    pub install_ns: u64,
}

/// Turn the accounting on or off.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Whether the accounting is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The counters now.
pub fn snapshot() -> PopulateProfile {
    PopulateProfile {
        pages: PAGES.load(Ordering::Relaxed),
        populate_ns: POPULATE_NS.load(Ordering::Relaxed),
        alloc_ns: ALLOC_NS.load(Ordering::Relaxed),
        zero_ns: ZERO_NS.load(Ordering::Relaxed),
        install_ns: INSTALL_NS.load(Ordering::Relaxed),
    }
}

/// One population loop ran for `ns` over `pages` pages.
pub(crate) fn add_populate(pages: u64, ns: u64) {
    PAGES.fetch_add(pages, Ordering::Relaxed);
    POPULATE_NS.fetch_add(ns, Ordering::Relaxed);
}

/// Getting one frame took `ns`.
pub(crate) fn add_alloc(ns: u64) {
    ALLOC_NS.fetch_add(ns, Ordering::Relaxed);
}

/// Installing one page took `ns`.
pub(crate) fn add_install(ns: u64) {
    INSTALL_NS.fetch_add(ns, Ordering::Relaxed);
}

/// Zeroing one frame took `ns` (the kernel's frame allocator reports it
/// while the accounting is on).
pub fn add_zero(ns: u64) {
    ZERO_NS.fetch_add(ns, Ordering::Relaxed);
}
