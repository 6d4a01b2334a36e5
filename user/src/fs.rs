//! Reading whole files (mainly `/proc/self/*`) and parsing `/proc/self/maps`.

use crate::sys::{self, Errno};
use alloc::vec::Vec;
use core::ffi::CStr;

/// Read the whole of `path` into `buf` (cleared first); returns its length.
/// `/proc` files report size 0, so this reads in 4 KiB steps until EOF.
pub fn read_file_into(path: &CStr, buf: &mut Vec<u8>) -> Result<usize, Errno> {
    let fd = sys::openat(sys::AT_FDCWD, path, sys::O_RDONLY | sys::O_CLOEXEC, 0)?;
    buf.clear();
    let res = loop {
        if buf.capacity() - buf.len() < 4096 {
            buf.reserve(4096);
        }
        let start = buf.len();
        buf.resize(buf.capacity(), 0);
        match sys::read(fd, &mut buf[start..]) {
            Ok(0) => {
                buf.truncate(start);
                break Ok(start);
            }
            Ok(n) => buf.truncate(start + n),
            Err(Errno::EINTR) => buf.truncate(start),
            Err(e) => {
                buf.truncate(start);
                break Err(e);
            }
        }
    };
    let _ = sys::close(fd);
    res
}

pub fn read_file(path: &CStr) -> Result<Vec<u8>, Errno> {
    let mut v = Vec::new();
    read_file_into(path, &mut v)?;
    Ok(v)
}

/// One line of `/proc/PID/maps`:
/// `start-end perms offset dev inode [path]`, e.g.
/// `7f0000000000-7f0000001000 rw-p 00000000 00:00 0 [heap]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapsLine<'a> {
    pub start: usize,
    pub end: usize,
    pub perms: &'a str,
    pub offset: u64,
    pub dev: &'a str,
    pub inode: u64,
    pub path: &'a str,
}

fn hex(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

impl<'a> MapsLine<'a> {
    /// Parse one line; `None` if it does not have the Linux format.
    pub fn parse(line: &'a str) -> Option<Self> {
        let mut it = line.split_ascii_whitespace();
        let range = it.next()?;
        let perms = it.next()?;
        let offset = hex(it.next()?)?;
        let dev = it.next()?;
        let inode: u64 = it.next()?.parse().ok()?;
        let (s, e) = range.split_once('-')?;
        let (start, end) = (hex(s)? as usize, hex(e)? as usize);
        let pb = perms.as_bytes();
        let perms_ok = pb.len() == 4
            && matches!(pb[0], b'r' | b'-')
            && matches!(pb[1], b'w' | b'-')
            && matches!(pb[2], b'x' | b'-')
            && matches!(pb[3], b'p' | b's');
        let dev_ok = dev.split_once(':').is_some_and(|(a, b)| hex(a).is_some() && hex(b).is_some());
        if !perms_ok || !dev_ok || start >= end {
            return None;
        }
        // The path is the rest of the line after the inode column (may be
        // empty, may contain spaces).
        let path = line[nth_field_end(line, 5)?..].trim();
        Some(MapsLine { start, end, perms, offset, dev, inode, path })
    }
}

/// Byte index just past the `n`-th whitespace-separated field (1-based).
fn nth_field_end(line: &str, n: usize) -> Option<usize> {
    let b = line.as_bytes();
    let mut i = 0;
    for _ in 0..n {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        while i < b.len() && !b[i].is_ascii_whitespace() {
            i += 1;
        }
    }
    Some(i)
}
