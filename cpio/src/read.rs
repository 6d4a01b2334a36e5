//! Reader: the entries of a `newc` archive, borrowed from its bytes.
//!
//! Invariants: never allocates, never panics. A malformed or truncated
//! archive ends the listing at the first bad header (bad magic, a field
//! that is not hex, a name or data running past the end, a name that is not
//! UTF-8); the entries before it are still listed. The `TRAILER!!!` entry
//! ends the listing and is not itself listed.

use crate::{HEADER_LEN, NEWC_MAGIC, TRAILER};

/// One file of an archive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The path as stored (the writer stores it without a leading `/`;
    /// other tools may write `./path`).
    pub name: &'a str,
    /// `st_mode` as archived: file type bits and permissions.
    pub mode: u32,
    /// The file's contents.
    pub data: &'a [u8],
}

/// Header field `i` (0 = ino, ..., 12 = check), parsed as hex.
fn hex_field(h: &[u8], i: usize) -> Option<u32> {
    let s = core::str::from_utf8(h.get(6 + i * 8..6 + (i + 1) * 8)?).ok()?;
    u32::from_str_radix(s, 16).ok()
}

/// Iterate the entries of a `newc` archive.
pub fn entries(archive: &[u8]) -> impl Iterator<Item = Entry<'_>> {
    let mut off = 0usize;
    core::iter::from_fn(move || {
        let h = archive.get(off..off.checked_add(HEADER_LEN)?)?;
        if &h[..6] != NEWC_MAGIC {
            return None;
        }
        let mode = hex_field(h, 1)?;
        let filesize = hex_field(h, 6)? as usize;
        let namesize = hex_field(h, 11)? as usize;
        let name_start = off + HEADER_LEN;
        let name = archive.get(name_start..name_start.checked_add(namesize.checked_sub(1)?)?)?;
        let name = core::str::from_utf8(name).ok()?;
        let data_start = name_start.checked_add(namesize)?.checked_next_multiple_of(4)?;
        let data = archive.get(data_start..data_start.checked_add(filesize)?)?;
        off = (data_start + filesize).checked_next_multiple_of(4)?;
        if name == TRAILER {
            return None;
        }
        Some(Entry { name, mode, data })
    })
}
