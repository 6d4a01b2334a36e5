//! Files: the initrd (a cpio `newc` archive handed over by the bootloader),
//! `/proc`, and path lookup over both.

#![deny(unsafe_code)]

pub mod file;
pub mod initrd;
pub mod namei;
pub mod procfs;
