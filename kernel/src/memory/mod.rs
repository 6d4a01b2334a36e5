//! Physical memory, the kernel's own mappings, and the kernel heap.
//!
//! The bootloader maps all physical memory (at least the first 4 GiB) at a
//! dynamic offset in the upper half; [`phys_to_virt`] uses it. Frames come
//! from [`frame`], the kernel heap from [`heap`], memory for devices from
//! [`dma`]; reclaim and swap are started from [`swap`].

pub mod dma;
pub mod frame;
pub mod heap;
pub mod kmap;
pub mod page;
pub mod phys;
pub mod swap;
pub mod swapfile;

use core::sync::atomic::{AtomicU64, Ordering};

static PHYS_OFFSET: AtomicU64 = AtomicU64::new(0);

/// Record where the bootloader mapped physical memory.
pub fn set_phys_offset(offset: u64) {
    PHYS_OFFSET.store(offset, Ordering::Relaxed);
}

/// Virtual address at which physical address `pa` is mapped.
pub fn phys_to_virt(pa: u64) -> u64 {
    PHYS_OFFSET.load(Ordering::Relaxed) + pa
}

/// The physical-memory mapping offset.
pub fn phys_offset() -> u64 {
    PHYS_OFFSET.load(Ordering::Relaxed)
}
