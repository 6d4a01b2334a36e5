//! Files: the tmpfs mounted at `/` (holding the initrd's files, a cpio
//! `newc` archive handed over by the bootloader), `/proc` mounted on it,
//! pipes, and path lookup over them.

#![deny(unsafe_code)]

pub mod exec;
pub mod file;
pub mod initrd;
pub mod namei;
pub mod pipe;
pub mod procfs;
pub mod tmpfs;
