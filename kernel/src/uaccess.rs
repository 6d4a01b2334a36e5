//! Copying to and from user memory.
//!
//! The only way the kernel touches user memory. Each helper first checks
//! that the whole range lies in the user half (below `TASK_SIZE`, no
//! overflow) — a pointer into the kernel is `EFAULT` without any access —
//! and then copies with SMAP lifted for the duration of the copy. A page
//! fault during the copy first tries to fault the user page in (demand
//! paging); if that fails the copy stops at the fixup and returns `EFAULT`.
//!
//! One case the MMU does not catch: a `PROT_NONE` page that was touched
//! before its protection was dropped stays present but supervisor-only (see
//! `mm::mm_struct::vm_pte_flags`), so a kernel access would succeed. The
//! copy helpers therefore refuse any range with a present page that lacks
//! the `USER` bit, as Linux refuses its non-present protnone ptes.
//!
//! Locking: must not be called with the current process's `mmap_lock` held
//! (the fault path takes it for read).

use mm::addr::TASK_SIZE;
use mm::Errno;

/// Check that `[addr, addr + len)` lies in user space.
pub fn access_ok(addr: u64, len: u64) -> Result<(), Errno> {
    match addr.checked_add(len) {
        Some(end) if end <= TASK_SIZE => Ok(()),
        _ => Err(Errno::EFAULT),
    }
}

/// `EFAULT` if a page of `[addr, addr + len)` is present in the current
/// process's page table but not user-accessible (a `PROT_NONE` page).
/// Pages not present are left to the fault path, which consults the vma.
pub fn user_pages_accessible(addr: u64, len: u64) -> Result<(), Errno> {
    let Some(proc) = crate::proc::try_current() else {
        return Ok(());
    };
    let end = addr + len;
    let mut page = addr & mm::addr::PAGE_MASK;
    while page < end {
        if let Some((_, flags)) = proc.mm.follow_page(page) {
            if !flags.contains(mm::pgtable::PteFlags::USER) {
                return Err(Errno::EFAULT);
            }
        }
        page += mm::addr::PAGE_SIZE;
    }
    Ok(())
}

/// Copy `dst.len()` bytes from user address `src`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Errno> {
    access_ok(src, dst.len() as u64)?;
    user_pages_accessible(src, dst.len() as u64)?;
    // SAFETY: `dst` is a valid kernel buffer of that length; the user range
    // was checked to be in the user half and faults on it are caught.
    let left = unsafe { crate::arch::extable::copy_user_raw(dst.as_mut_ptr() as u64, src, dst.len() as u64) };
    if left == 0 { Ok(()) } else { Err(Errno::EFAULT) }
}

/// Copy `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Errno> {
    access_ok(dst, src.len() as u64)?;
    user_pages_accessible(dst, src.len() as u64)?;
    // SAFETY: as in copy_from_user, in the other direction.
    let left = unsafe { crate::arch::extable::copy_user_raw(dst, src.as_ptr() as u64, src.len() as u64) };
    if left == 0 { Ok(()) } else { Err(Errno::EFAULT) }
}

/// Plain data that may be copied from and to user memory byte for byte:
/// every bit pattern is a valid value and there is no padding to leak.
///
/// # Safety
/// Implement only for `#[repr(C)]` types made of integers without padding.
pub unsafe trait Pod: Copy + Default {}
// SAFETY: integers have no padding and no invalid bit patterns.
unsafe impl Pod for u8 {}
// SAFETY: as above.
unsafe impl Pod for u32 {}
// SAFETY: as above.
unsafe impl Pod for i32 {}
// SAFETY: as above.
unsafe impl Pod for u64 {}
// SAFETY: as above.
unsafe impl Pod for i64 {}
// SAFETY: arrays of Pod have no padding between elements.
unsafe impl<const N: usize> Pod for [u64; N] where [u64; N]: Default {}

/// Read one `T` from user memory.
pub fn read_user<T: Pod>(addr: u64) -> Result<T, Errno> {
    let mut v = T::default();
    // SAFETY: T is Pod, so viewing it as bytes and filling them is sound.
    let bytes = unsafe { core::slice::from_raw_parts_mut(&mut v as *mut T as *mut u8, core::mem::size_of::<T>()) };
    copy_from_user(bytes, addr)?;
    Ok(v)
}

/// Write one `T` to user memory.
pub fn write_user<T: Pod>(addr: u64, v: &T) -> Result<(), Errno> {
    // SAFETY: T is Pod: no padding, so every byte is initialised.
    let bytes = unsafe { core::slice::from_raw_parts(v as *const T as *const u8, core::mem::size_of::<T>()) };
    copy_to_user(addr, bytes)
}
