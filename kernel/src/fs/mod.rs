//! Files: the initrd (a cpio `newc` archive handed over by the bootloader).

pub mod file;
pub mod initrd;
pub mod procfs;
