//! Device drivers: the COM1 serial port, the framebuffer text console, PCI
//! configuration space and the virtio-blk swap disk.

pub mod framebuffer;
pub mod pci;
pub mod serial;
pub mod virtio_blk;
