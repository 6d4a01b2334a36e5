//! The `newc` cpio format, Holdfast's initrd (the format Linux's initramfs
//! uses).
//!
//! Each entry is a 110-byte ASCII header (`070701` followed by thirteen
//! 8-digit hex fields: ino, mode, uid, gid, nlink, mtime, filesize,
//! devmajor, devminor, rdevmajor, rdevminor, namesize, check), the
//! NUL-terminated path, padding to a multiple of 4 bytes, the file data, and
//! again padding to 4 bytes. The archive ends with an entry named
//! `TRAILER!!!`.
//!
//! - [`read`] lists the entries of an archive in place, without allocating
//!   and without panicking on malformed input. The kernel uses it for the
//!   initrd the bootloader hands over.
//! - The writer ([`archive_bytes`], feature `alloc`) builds an archive from
//!   [`Entry`]s. `boot` uses it on the host to pack the initrd.
//!
//! `no_std`; the writer needs `alloc`.

#![cfg_attr(not(test), no_std)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod read;
#[cfg(feature = "alloc")]
mod write;

#[cfg(feature = "alloc")]
pub use write::{archive_bytes, CpioError, Entry};

/// File-type bits of `mode` (`S_IFMT`) and the two types the writer writes.
pub const S_IFMT: u32 = 0o170000;
/// Regular file.
pub const S_IFREG: u32 = 0o100000;
/// Directory.
pub const S_IFDIR: u32 = 0o040000;

/// Magic that starts every `newc` header.
pub const NEWC_MAGIC: &[u8; 6] = b"070701";
/// Length of a `newc` header, magic included.
pub const HEADER_LEN: usize = 110;
/// Name of the record that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";
