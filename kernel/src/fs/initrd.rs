//! Read-only view of the initrd, a cpio `newc` archive.
//!
//! xtask packs the initrd; the bootloader loads it and tells the kernel where
//! (`BootInfo::ramdisk_addr`). The `cpio` crate parses it; this module keeps
//! it and looks entries up by path, ignoring a leading `/` or `./`. A
//! malformed archive ends the listing at the first bad header instead of
//! panicking.
//!
//! Locking: immutable after boot.

use spin::Once;

static INITRD: Once<&'static [u8]> = Once::new();

/// Remember the initrd's bytes.
pub fn init(bytes: &'static [u8]) {
    INITRD.call_once(|| bytes);
}

/// One file of the archive. `mode` is `st_mode` as archived (checked by the
/// tests; files are served read-only whatever it says).
pub type Entry = cpio::read::Entry<'static>;

/// Iterate the entries of a `newc` archive.
pub fn entries_of(archive: &'static [u8]) -> impl Iterator<Item = Entry> {
    cpio::read::entries(archive)
}

fn normalize(path: &str) -> &str {
    path.trim_start_matches("./").trim_start_matches('/')
}

/// Every entry of the initrd (none if there is no initrd).
pub fn entries() -> impl Iterator<Item = Entry> {
    entries_of(INITRD.get().copied().unwrap_or(&[]))
}

/// Look up a file by path.
pub fn lookup(path: &str) -> Option<Entry> {
    lookup_bytes(path.as_bytes())
}

/// Look up a file by path given as bytes (paths need not be UTF-8).
pub fn lookup_bytes(path: &[u8]) -> Option<Entry> {
    let mut want = path;
    while let Some(rest) = want.strip_prefix(b"./") {
        want = rest;
    }
    while let Some(rest) = want.strip_prefix(b"/") {
        want = rest;
    }
    entries().find(|e| normalize(e.name).as_bytes() == want)
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;

    /// A two-file archive in `newc` format, built by hand.
    const SAMPLE: &[u8] = b"07070100000001000081800000000000000000000000010000000000000005000000000000000000000000000000000000000a00000000./a/hello\0hello\0\0\x0007070100000001000000000000000000000000000000010000000000000000000000000000000000000000000000000000000b00000000TRAILER!!!\0\0\0\0";

    #[ktest]
    pub fn parses_newc() {
        let all: alloc::vec::Vec<Entry> = entries_of(SAMPLE).collect();
        assert_eq!(all.len(), 1);
        assert_eq!(normalize(all[0].name), "a/hello");
        assert_eq!(all[0].data, b"hello");
        assert_eq!(all[0].mode, 0o100600);
    }

    #[ktest]
    pub fn truncated_archive_is_not_fatal() {
        assert_eq!(entries_of(&SAMPLE[..50]).count(), 0);
        assert_eq!(entries_of(&SAMPLE[..120]).count(), 0);
    }

    #[ktest]
    pub fn boot_initrd_has_cmdline() {
        assert!(lookup("/cmdline").is_some(), "xtask always packs /cmdline");
    }
}
