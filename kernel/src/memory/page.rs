//! One owned 4 KiB frame of data, reached through the physical-memory
//! mapping: the storage of a tmpfs file page. The frame comes from the
//! user-memory pool ([`super::frame::alloc_user`], which keeps the
//! kernel's reserve) zeroed, and goes back when the `PageFrame` drops.
//!
//! Invariant: `pa` is a frame this value alone owns; nothing maps it.
//!
//! Locking: none of its own; its owner serialises access.

use mm::addr::PAGE_SIZE;

/// An owned, zero-initialised frame.
pub struct PageFrame {
    pa: u64,
}

impl PageFrame {
    /// A zeroed frame, or `None` when user memory is exhausted.
    pub fn new() -> Option<PageFrame> {
        super::frame::alloc_user().map(|pa| PageFrame { pa })
    }

    /// The frame's bytes.
    pub fn bytes(&self) -> &[u8; PAGE_SIZE as usize] {
        // SAFETY: `pa` is a frame this value owns (nothing else writes it),
        // mapped at `phys_to_virt(pa)` for the kernel's lifetime; the
        // borrow of `self` bounds the reference.
        unsafe { &*(super::phys_to_virt(self.pa) as *const [u8; PAGE_SIZE as usize]) }
    }

    /// The frame's bytes, writable.
    pub fn bytes_mut(&mut self) -> &mut [u8; PAGE_SIZE as usize] {
        // SAFETY: as in `bytes`; `&mut self` makes the borrow unique.
        unsafe { &mut *(super::phys_to_virt(self.pa) as *mut [u8; PAGE_SIZE as usize]) }
    }
}

impl Drop for PageFrame {
    fn drop(&mut self) {
        if let Err(e) = super::frame::free(self.pa) {
            log::error!("tmpfs page {:#x} freed twice: {:?}", self.pa, e);
        }
    }
}
