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

/// Round `len` up to a page boundary with C's wrap-around (Linux
/// `PAGE_ALIGN` on an `unsigned long`): a value in the last page of the
/// address space becomes 0. For system calls whose errno rules depend on
/// the wrapped value (mlock, msync, mremap).
pub const fn page_align_wrapping(len: u64) -> u64 {
    len.wrapping_add(PAGE_SIZE - 1) & PAGE_MASK
}

/// Offset of `addr` within its page (Linux `offset_in_page`).
pub const fn offset_in_page(addr: u64) -> u64 {
    addr & (PAGE_SIZE - 1)
}

/// Is `addr` (or a length) a multiple of the page size (Linux `PAGE_ALIGNED`)?
pub const fn page_aligned(addr: u64) -> bool {
    offset_in_page(addr) == 0
}

/// Number of base pages in `len` bytes (`len` page aligned).
pub const fn pages(len: u64) -> u64 {
    len >> PAGE_SHIFT
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_helpers() {
        assert!(page_aligned(0) && page_aligned(PAGE_SIZE) && page_aligned(TASK_SIZE));
        assert!(!page_aligned(1) && !page_aligned(PAGE_SIZE - 1) && !page_aligned(u64::MAX));
        assert_eq!(offset_in_page(3 * PAGE_SIZE + 5), 5);
        assert_eq!(page_align_down(3 * PAGE_SIZE + 5), 3 * PAGE_SIZE);
        assert_eq!(page_align_up(u64::MAX), None);
        // C's PAGE_ALIGN: wraps to 0 past the top of the address space.
        assert_eq!(page_align_wrapping(PAGE_SIZE + 1), 2 * PAGE_SIZE);
        assert_eq!(page_align_wrapping(u64::MAX - 5), 0);
        assert_eq!(page_align_wrapping(0), 0);
    }
}
