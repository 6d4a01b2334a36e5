//! The kernel command line: the words of the initrd file `/cmdline`.
//!
//! Kernel words (`key=value` or bare flags such as `stay`) come first;
//! `init=/PROGRAM` and the program's arguments come last, so every word
//! after `init=` belongs to the program. Among kernel words, later ones win.
//!
//! Locking: immutable after boot.

use alloc::string::String;
use alloc::vec::Vec;
use spin::Once;

static CMDLINE: Once<&'static str> = Once::new();

/// Take the command line from the contents of the initrd file `/cmdline`
/// (empty if absent or not UTF-8).
pub fn init(file: Option<&'static [u8]>) {
    CMDLINE.call_once(|| file.and_then(|data| core::str::from_utf8(data).ok()).map(str::trim).unwrap_or(""));
}

/// The whole command line.
pub fn get() -> &'static str {
    CMDLINE.get().copied().unwrap_or("")
}

/// The kernel's words: everything up to and including `init=...`.
fn kernel_words() -> impl Iterator<Item = &'static str> {
    let mut done = false;
    get().split_whitespace().take_while(move |w| {
        let keep = !done;
        done |= w.starts_with("init=");
        keep
    })
}

/// Value of `key=value` (the last one), if present.
pub fn value(key: &str) -> Option<&'static str> {
    kernel_words().filter_map(|w| w.strip_prefix(key)?.strip_prefix('=')).last()
}

/// Is the bare word `flag` present?
pub fn flag(flag: &str) -> bool {
    kernel_words().any(|w| w == flag)
}

/// The init program's argv (`init=/P a b` gives `["/P", "a", "b"]`).
pub fn init_argv() -> Option<Vec<String>> {
    let mut words = get().split_whitespace().skip_while(|w| !w.starts_with("init="));
    let path = words.next()?.strip_prefix("init=")?;
    Some(core::iter::once(path).chain(words).map(String::from).collect())
}
