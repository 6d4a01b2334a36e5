//! Page-size constants and address rounding.
//!
//! Addresses are plain `u64`s: virtual addresses of a user address space and
//! physical addresses of frames. Only canonical lower-half virtual addresses
//! (below [`TASK_SIZE`]) belong to user space.

/// Bits in a 4 KiB page offset.
pub const PAGE_SHIFT: u32 = 12;
/// Size of a base page.
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// Mask that clears the offset within a base page.
pub const PAGE_MASK: u64 = !(PAGE_SIZE - 1);
/// Size of a 2 MiB (PMD-level) huge page.
pub const HUGE_PAGE_SIZE: u64 = 1 << 21;
/// End of the user half of the address space (Linux `TASK_SIZE_MAX` with
/// 4-level paging: one guard page below 2^47).
pub const TASK_SIZE: u64 = (1 << 47) - PAGE_SIZE;

/// Round `addr` down to a page boundary.
pub const fn page_align_down(addr: u64) -> u64 {
    addr & PAGE_MASK
}

/// Round `addr` up to a page boundary (Linux `PAGE_ALIGN`); `None` on overflow.
pub const fn page_align_up(addr: u64) -> Option<u64> {
    match addr.checked_add(PAGE_SIZE - 1) {
        Some(v) => Some(v & PAGE_MASK),
        None => None,
    }
}

/// Offset of `addr` within its page.
pub const fn offset_in_page(addr: u64) -> u64 {
    addr & (PAGE_SIZE - 1)
}

/// Number of base pages in `len` bytes (`len` page aligned).
pub const fn pages(len: u64) -> u64 {
    len >> PAGE_SHIFT
}
