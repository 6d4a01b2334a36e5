//! Memory a device reads and writes by physical address (DMA): whole,
//! physically contiguous frames from the frame allocator, reached through
//! the physical-memory mapping with volatile, bounds-checked accessors so
//! that drivers need no `unsafe`.
//!
//! Invariants: a [`DmaRegion`] owns its frames from creation to drop, and
//! nothing else in the kernel maps or frees them. The device may change
//! the memory at any time, which is why every access is volatile. A driver
//! must not drop a region the device may still write (an abandoned
//! request); it keeps the region alive instead.
//!
//! Locking: none here; a driver serialises its own use of a region.

use core::sync::atomic::{fence, Ordering};
use mm::addr::PAGE_SIZE;

/// `pages` physically contiguous frames, zeroed, owned until drop.
pub struct DmaRegion {
    pa: u64,
    pages: u64,
}

impl DmaRegion {
    /// Allocate `pages` contiguous zeroed frames (None when the allocator
    /// has no such run).
    pub fn new(pages: u64) -> Option<DmaRegion> {
        let pa = super::frame::alloc_contiguous(pages)?;
        let region = DmaRegion { pa, pages };
        // SAFETY: the frames were just handed out to this region and are
        // covered by the physical-memory mapping.
        unsafe { core::ptr::write_bytes(super::phys_to_virt(pa) as *mut u8, 0, region.len()) };
        Some(region)
    }

    /// Physical address of the first byte, for the device.
    pub fn pa(&self) -> u64 {
        self.pa
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        (self.pages * PAGE_SIZE) as usize
    }

    fn ptr<T>(&self, offset: usize) -> *mut T {
        let size = core::mem::size_of::<T>();
        assert!(offset.is_multiple_of(size) && offset + size <= self.len(), "DMA access {offset:#x}+{size} outside region");
        (super::phys_to_virt(self.pa) as usize + offset) as *mut T
    }

    pub fn read_u8(&self, offset: usize) -> u8 {
        // SAFETY: in bounds and aligned (checked by ptr); the region owns
        // the frames; volatile because the device writes them.
        unsafe { core::ptr::read_volatile(self.ptr::<u8>(offset)) }
    }

    pub fn read_u16(&self, offset: usize) -> u16 {
        // SAFETY: as in read_u8.
        unsafe { core::ptr::read_volatile(self.ptr::<u16>(offset)) }
    }

    pub fn read_u32(&self, offset: usize) -> u32 {
        // SAFETY: as in read_u8.
        unsafe { core::ptr::read_volatile(self.ptr::<u32>(offset)) }
    }

    pub fn write_u8(&self, offset: usize, v: u8) {
        // SAFETY: as in read_u8.
        unsafe { core::ptr::write_volatile(self.ptr::<u8>(offset), v) }
    }

    pub fn write_u16(&self, offset: usize, v: u16) {
        // SAFETY: as in read_u8.
        unsafe { core::ptr::write_volatile(self.ptr::<u16>(offset), v) }
    }

    pub fn write_u32(&self, offset: usize, v: u32) {
        // SAFETY: as in read_u8.
        unsafe { core::ptr::write_volatile(self.ptr::<u32>(offset), v) }
    }

    pub fn write_u64(&self, offset: usize, v: u64) {
        // SAFETY: as in read_u8.
        unsafe { core::ptr::write_volatile(self.ptr::<u64>(offset), v) }
    }

    /// Copy `src` into the region at `offset`.
    pub fn copy_in(&self, offset: usize, src: &[u8]) {
        assert!(offset + src.len() <= self.len(), "DMA copy outside region");
        // SAFETY: in bounds; the region's frames are not part of `src`
        // (they are mapped nowhere but the physical-memory mapping, which
        // the kernel reaches only through DmaRegion).
        unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr::<u8>(offset), src.len()) };
        fence(Ordering::SeqCst);
    }

    /// Copy from the region at `offset` into `dst`.
    pub fn copy_out(&self, offset: usize, dst: &mut [u8]) {
        assert!(offset + dst.len() <= self.len(), "DMA copy outside region");
        fence(Ordering::SeqCst);
        // SAFETY: as in copy_in.
        unsafe { core::ptr::copy_nonoverlapping(self.ptr::<u8>(offset) as *const u8, dst.as_mut_ptr(), dst.len()) };
    }
}

impl Drop for DmaRegion {
    fn drop(&mut self) {
        if let Err(e) = super::frame::free_contiguous(self.pa, self.pages) {
            log::error!("DMA region {:#x} ({} pages): {e:?}", self.pa, self.pages);
        }
    }
}
