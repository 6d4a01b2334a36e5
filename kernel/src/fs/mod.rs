//! Files: the initrd (a cpio `newc` archive handed over by the bootloader),
//! `/proc`, pipes, and path lookup over the initrd and /proc.

#![deny(unsafe_code)]

pub mod exec;
pub mod file;
pub mod initrd;
pub mod namei;
pub mod pipe;
pub mod procfs;
