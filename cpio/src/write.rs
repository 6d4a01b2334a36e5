//! Writer: [`Entry`]s to the bytes of a `newc` archive (see the crate
//! doc for the layout).
//!
//! Paths are stored without a leading `/` (as `cpio -H newc` and Linux's
//! `gen_init_cpio` do): `/cmdline` is written as `cmdline`. Timestamps,
//! owners and device numbers are zero, so the same entries always give the
//! same bytes. Invalid entries are an error, never a panic.

use alloc::collections::BTreeSet;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use crate::{HEADER_LEN, NEWC_MAGIC, S_IFDIR, S_IFMT, S_IFREG, TRAILER};

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path inside the archive, e.g. `/cmdline` (stored as `cmdline`).
    pub path: String,
    /// Full `st_mode`: file type bits and permissions.
    pub mode: u32,
    /// Contents (empty for directories).
    pub data: Vec<u8>,
}

impl Entry {
    /// A regular file with permission bits `perm` (e.g. `0o755`).
    pub fn file(path: impl Into<String>, perm: u32, data: impl Into<Vec<u8>>) -> Self {
        Entry { path: path.into(), mode: S_IFREG | (perm & 0o7777), data: data.into() }
    }

    /// A directory with permission bits `perm`.
    pub fn dir(path: impl Into<String>, perm: u32) -> Self {
        Entry { path: path.into(), mode: S_IFDIR | (perm & 0o7777), data: Vec::new() }
    }
}

/// Why an archive could not be written.
#[derive(Debug)]
pub enum CpioError {
    /// The path is empty, `/`, contains a NUL byte or a `..` component.
    BadPath(String),
    /// Two entries have the same path.
    Duplicate(String),
    /// A file is larger than the 32-bit size field allows.
    TooLarge(String, usize),
    /// The mode has no file type or one this writer does not support.
    BadMode(String, u32),
}

impl fmt::Display for CpioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpioError::BadPath(p) => write!(f, "invalid initrd path {p:?}"),
            CpioError::Duplicate(p) => write!(f, "initrd path {p:?} appears twice"),
            CpioError::TooLarge(p, n) => {
                write!(f, "initrd file {p:?} is {n} bytes, more than cpio's 4 GiB limit")
            }
            CpioError::BadMode(p, m) => {
                write!(f, "initrd entry {p:?} has unsupported mode {m:#o}")
            }
        }
    }
}

impl core::error::Error for CpioError {}

/// The stored form of a path: no leading `/`, no empty or `.` components.
fn archive_name(path: &str) -> Result<String, CpioError> {
    let bad = || CpioError::BadPath(path.to_string());
    if path.contains('\0') {
        return Err(bad());
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(bad()),
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        return Err(bad());
    }
    let name = parts.join("/");
    if name == TRAILER {
        return Err(bad());
    }
    Ok(name)
}

fn pad4(w: &mut Vec<u8>, len: usize) {
    let pad = (4 - len % 4) % 4;
    w.extend_from_slice(&[0u8; 3][..pad]);
}

fn write_record(w: &mut Vec<u8>, ino: u32, mode: u32, nlink: u32, name: &str, data: &[u8]) {
    let namesize = name.len() + 1;
    let fields: [u32; 13] = [
        ino,
        mode,
        0, // uid
        0, // gid
        nlink,
        0, // mtime
        data.len() as u32,
        0, // devmajor
        0, // devminor
        0, // rdevmajor
        0, // rdevminor
        namesize as u32,
        0, // check (only used by the "070702" crc format)
    ];
    let mut header = Vec::with_capacity(HEADER_LEN);
    header.extend_from_slice(NEWC_MAGIC);
    for field in fields {
        header.extend_from_slice(alloc::format!("{field:08X}").as_bytes());
    }
    debug_assert_eq!(header.len(), HEADER_LEN);
    w.extend_from_slice(&header);
    w.extend_from_slice(name.as_bytes());
    w.push(0);
    pad4(w, HEADER_LEN + namesize);
    w.extend_from_slice(data);
    pad4(w, data.len());
}

/// The archive holding `entries` in order, then the trailer.
pub fn archive_bytes(entries: &[Entry]) -> Result<Vec<u8>, CpioError> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let name = archive_name(&entry.path)?;
        if !seen.insert(name.clone()) {
            return Err(CpioError::Duplicate(entry.path.clone()));
        }
        let kind = entry.mode & S_IFMT;
        if kind != S_IFREG && kind != S_IFDIR {
            return Err(CpioError::BadMode(entry.path.clone(), entry.mode));
        }
        if kind == S_IFDIR && !entry.data.is_empty() {
            return Err(CpioError::BadMode(entry.path.clone(), entry.mode));
        }
        if u32::try_from(entry.data.len()).is_err() {
            return Err(CpioError::TooLarge(entry.path.clone(), entry.data.len()));
        }
        let nlink = if kind == S_IFDIR { 2 } else { 1 };
        write_record(&mut out, i as u32 + 1, entry.mode, nlink, &name, &entry.data);
    }
    write_record(&mut out, 0, 0, 1, TRAILER, &[]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A parsed record: (name, fields, data).
    type Record = (String, [u32; 13], Vec<u8>);

    /// Minimal `newc` reader, independent of the writer, for round trips.
    fn parse(mut buf: &[u8]) -> Vec<Record> {
        let total = buf.len();
        let mut out = Vec::new();
        loop {
            let offset = total - buf.len();
            assert_eq!(offset % 4, 0, "record at {offset} not 4-aligned");
            assert_eq!(&buf[..6], b"070701", "bad magic at {offset}");
            let mut fields = [0u32; 13];
            for (i, f) in fields.iter_mut().enumerate() {
                let hex = std::str::from_utf8(&buf[6 + 8 * i..14 + 8 * i]).unwrap();
                *f = u32::from_str_radix(hex, 16).unwrap();
            }
            let namesize = fields[11] as usize;
            let filesize = fields[6] as usize;
            let name_bytes = &buf[110..110 + namesize];
            assert_eq!(name_bytes[namesize - 1], 0, "name not NUL-terminated");
            let name = String::from_utf8(name_bytes[..namesize - 1].to_vec()).unwrap();
            let data_start = (110 + namesize + 3) & !3;
            assert!(buf[110 + namesize..data_start].iter().all(|&b| b == 0));
            let data = buf[data_start..data_start + filesize].to_vec();
            let next = (data_start + filesize + 3) & !3;
            assert!(buf[data_start + filesize..next].iter().all(|&b| b == 0));
            buf = &buf[next..];
            let done = name == TRAILER;
            out.push((name, fields, data));
            if done {
                assert!(buf.is_empty(), "bytes after trailer");
                return out;
            }
        }
    }

    #[test]
    fn exact_header_layout() {
        let bytes = archive_bytes(&[Entry::file("/cmdline", 0o644, b"init=/x\n".to_vec())]).unwrap();
        // Header: magic, ino=1, mode=0o100644, uid, gid, nlink=1, mtime,
        // filesize=8, dev/rdev zero, namesize=8 ("cmdline\0"), check=0.
        let expected_header = concat!(
            "070701", "00000001", "000081A4", "00000000", "00000000", "00000001", "00000000", "00000008", "00000000", "00000000",
            "00000000", "00000000", "00000008", "00000000"
        );
        assert_eq!(&bytes[..110], expected_header.as_bytes());
        // 110 + 8 = 118 -> padded to 120, then 8 data bytes (already aligned).
        assert_eq!(&bytes[110..118], b"cmdline\0");
        assert_eq!(&bytes[118..120], &[0, 0]);
        assert_eq!(&bytes[120..128], b"init=/x\n");
        // Trailer: ino 0, mode 0, nlink 1, namesize 11.
        let trailer = &bytes[128..];
        assert_eq!(&trailer[..6], b"070701");
        assert_eq!(&trailer[6..14], b"00000000");
        assert_eq!(&trailer[38..46], b"00000001");
        assert_eq!(&trailer[94..102], b"0000000B");
        assert_eq!(&trailer[110..121], b"TRAILER!!!\0");
        // 110 + 11 = 121 -> padded to 124; archive length is 4-aligned.
        assert_eq!(trailer.len(), 124);
        assert_eq!(bytes.len() % 4, 0);
    }

    #[test]
    fn round_trip() {
        let entries = vec![
            Entry::file("/cmdline", 0o644, b"init=/contend ktest.start=3\n".to_vec()),
            Entry::dir("/bin", 0o755),
            Entry::file("/bin/a", 0o755, vec![1, 2, 3]),
            Entry::file("b", 0o600, Vec::new()),
            Entry::file("/contend", 0o755, (0..=255u8).cycle().take(4097).collect::<Vec<_>>()),
        ];
        let records = parse(&archive_bytes(&entries).unwrap());
        assert_eq!(records.len(), entries.len() + 1);
        let names: Vec<_> = records.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(names, ["cmdline", "bin", "bin/a", "b", "contend", TRAILER]);
        for (entry, (_, fields, data)) in entries.iter().zip(&records) {
            assert_eq!(fields[1], entry.mode);
            assert_eq!(&entry.data, data);
            assert_eq!(fields[6] as usize, entry.data.len());
        }
        assert_eq!(records[1].1[4], 2, "directories have nlink 2");
        // Inode numbers are distinct and non-zero.
        let mut inos: Vec<_> = records[..5].iter().map(|r| r.1[0]).collect();
        inos.dedup();
        assert_eq!(inos, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn empty_archive_is_just_the_trailer() {
        let records = parse(&archive_bytes(&[]).unwrap());
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0, TRAILER);
    }

    #[test]
    fn rejects_bad_entries() {
        assert!(matches!(archive_bytes(&[Entry::file("/", 0o644, vec![])]), Err(CpioError::BadPath(_))));
        assert!(matches!(archive_bytes(&[Entry::file("/a/../b", 0o644, vec![])]), Err(CpioError::BadPath(_))));
        assert!(matches!(archive_bytes(&[Entry::file("TRAILER!!!", 0o644, vec![])]), Err(CpioError::BadPath(_))));
        assert!(matches!(
            archive_bytes(&[Entry::file("/a", 0o644, vec![]), Entry::file("a", 0o644, vec![])]),
            Err(CpioError::Duplicate(_))
        ));
        let symlink = Entry { path: "l".into(), mode: 0o120777, data: b"x".to_vec() };
        assert!(matches!(archive_bytes(&[symlink]), Err(CpioError::BadMode(..))));
        let err = archive_bytes(&[Entry::file("", 0o644, vec![])]).unwrap_err();
        assert_eq!(err.to_string(), "invalid initrd path \"\"");
    }
}
