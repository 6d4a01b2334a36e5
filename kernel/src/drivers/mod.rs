//! Device drivers: the COM1 serial port and the framebuffer text console.

pub mod framebuffer;
pub mod serial;
