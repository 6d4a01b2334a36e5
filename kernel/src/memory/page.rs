//! Byte access to data frames through the physical-memory mapping: the
//! reads and writes of tmpfs file pages, which user space may map (and
//! store to) at the same time.
//!
//! Invariant: the caller holds a reference on the frame for the call.
//!
//! Locking: none of its own; the frame's owner serialises what needs it.

use mm::addr::PAGE_SIZE;

/// Copy `data` into frame `pa` at byte `off` (`off + data.len()` at most a
/// page). The frame may be mapped in user space at the same time (a
/// shared file mapping): the bytes are copied without references to it.
pub fn copy_to_frame(pa: u64, off: usize, data: &[u8]) {
    assert!(off + data.len() <= PAGE_SIZE as usize);
    // SAFETY: `pa` is a frame the caller holds a reference on (it is not
    // freed meanwhile), mapped at `phys_to_virt(pa)`; the range lies in
    // it; raw copies make no Rust reference to memory user space may
    // write concurrently.
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), (super::phys_to_virt(pa) as *mut u8).add(off), data.len()) }
}

/// Copy bytes of frame `pa` from byte `off` into `out` (as
/// [`copy_to_frame`], the other way).
pub fn copy_from_frame(pa: u64, off: usize, out: &mut [u8]) {
    assert!(off + out.len() <= PAGE_SIZE as usize);
    // SAFETY: as in `copy_to_frame`.
    unsafe { core::ptr::copy_nonoverlapping((super::phys_to_virt(pa) as *const u8).add(off), out.as_mut_ptr(), out.len()) }
}

/// Zero frame `pa` from byte `off` to its end.
pub fn zero_frame_from(pa: u64, off: usize) {
    assert!(off <= PAGE_SIZE as usize);
    // SAFETY: as in `copy_to_frame`.
    unsafe { core::ptr::write_bytes((super::phys_to_virt(pa) as *mut u8).add(off), 0, PAGE_SIZE as usize - off) }
}
