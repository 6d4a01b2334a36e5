//! The kernel command line: the words of the initrd file `/cmdline`.
//!
//! Words are `key=value` or bare flags (`stay`). Later words win.
//!
//! Locking: immutable after boot.

use spin::Once;

static CMDLINE: Once<&'static str> = Once::new();

/// Read `/cmdline` from the initrd (empty if absent or not UTF-8).
pub fn init() {
    CMDLINE.call_once(|| {
        crate::fs::initrd::lookup("/cmdline")
            .and_then(|e| core::str::from_utf8(e.data).ok())
            .map(str::trim)
            .unwrap_or("")
    });
}

/// The whole command line.
pub fn get() -> &'static str {
    CMDLINE.get().copied().unwrap_or("")
}

/// Value of `key=value` (the last one), if present.
pub fn value(key: &str) -> Option<&'static str> {
    get().split_whitespace().filter_map(|w| w.strip_prefix(key)?.strip_prefix('=')).last()
}

/// Is the bare word `flag` present?
pub fn flag(flag: &str) -> bool {
    get().split_whitespace().any(|w| w == flag)
}
