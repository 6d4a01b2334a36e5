//! Copying to and from user memory.
//!
//! The only way the kernel touches user memory. Each helper first checks
//! that the whole range lies in the user half (below `TASK_SIZE`, no
//! overflow) — a pointer into the kernel is `EFAULT` without any access —
//! and then copies with SMAP lifted for the duration of the copy. A page
//! fault during the copy first tries to fault the user page in (demand
//! paging); if that fails the copy stops at the fixup and returns `EFAULT`.
//!
//! Nothing else is checked up front: whether a page may be accessed is the
//! MMU's and the fault handler's business. In particular a touched
//! `PROT_NONE` page is a protnone pte, not present to the MMU (see
//! `mm::mm_struct::vm_pte_flags`), so the copy faults on it, the fault
//! handler refuses it (the vma allows nothing) and the fixup gives
//! `EFAULT` — also when another thread's `mprotect` lands in the middle
//! of the copy, which no check made before the copy could catch.
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

/// Copy `dst.len()` bytes from user address `src`.
pub fn copy_from_user(dst: &mut [u8], src: u64) -> Result<(), Errno> {
    access_ok(src, dst.len() as u64)?;
    // SAFETY: `dst` is a valid kernel buffer of that length; the user range
    // was checked to be in the user half and faults on it are caught.
    let left = unsafe { crate::arch::extable::copy_user_raw(dst.as_mut_ptr() as u64, src, dst.len() as u64) };
    if left == 0 {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
}

/// Copy `src` to user address `dst`.
pub fn copy_to_user(dst: u64, src: &[u8]) -> Result<(), Errno> {
    access_ok(dst, src.len() as u64)?;
    // SAFETY: as in copy_from_user, in the other direction.
    let left = unsafe { crate::arch::extable::copy_user_raw(dst, src.as_ptr() as u64, src.len() as u64) };
    if left == 0 {
        Ok(())
    } else {
        Err(Errno::EFAULT)
    }
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

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::arch::extable::last_fault_addr;
    use crate::ktest::ktest;
    use crate::proc::usermm::UserMm;
    use core::sync::atomic::Ordering;
    use mm::fault::FaultAccess;
    use mm::mm_struct::MlockCreds;

    const P: u64 = 4096;
    const PROT_NONE: u64 = 0;
    const PROT_READ: u64 = 1;
    const PROT_RW: u64 = 3;
    const MAP_PRIVATE_ANON_FIXED: u64 = 0x02 | 0x20 | 0x10;

    /// Run `f` on this kernel thread with `um`'s page table loaded. The
    /// thread's `cr3` is set as well, so that a switch away and back (the
    /// fault path runs with interrupts on) returns to the same tables.
    fn with_address_space(um: &UserMm, f: impl FnOnce()) {
        let me = crate::sched::current();
        let old = me.cr3.load(Ordering::SeqCst);
        let kernel_root = crate::arch::current_page_table();
        x86_64::instructions::interrupts::without_interrupts(|| {
            me.cr3.store(um.root_pa(), Ordering::SeqCst);
            crate::arch::load_page_table(um.root_pa());
        });
        f();
        x86_64::instructions::interrupts::without_interrupts(|| {
            me.cr3.store(old, Ordering::SeqCst);
            crate::arch::load_page_table(kernel_root);
        });
    }

    /// A copy to or from a touched page that is now `PROT_NONE` fails with
    /// `EFAULT` because the access itself faults (the page is a protnone
    /// pte, not present to the MMU) and the copy's fixup ends it — the
    /// copy helpers check nothing about the page beforehand. (On the boot
    /// thread there is no process, so no fault is resolved by demand
    /// paging: an access that got as far as the MMU and was let through
    /// would simply succeed.) Back to `PROT_READ`, the same bytes are read.
    #[ktest]
    pub fn copy_from_prot_none_page_faults_to_the_fixup() {
        let um = UserMm::new().expect("address space");
        let a = um.do_mmap(0x2000_0000, 2 * P, PROT_RW, MAP_PRIVATE_ANON_FIXED, &MlockCreds::root()).unwrap();
        um.handle_mm_fault(a, FaultAccess::Write, mm::fault::FaultOrigin::User).unwrap();
        um.handle_mm_fault(a + P, FaultAccess::Write, mm::fault::FaultOrigin::User).unwrap();
        let b = a + P; // the page that becomes PROT_NONE
        with_address_space(&um, || {
            copy_to_user(b + 8, &[0x5a; 16]).expect("a present user page takes the copy");
            um.do_mprotect(b, P, PROT_NONE).unwrap();
            let mut buf = [0u8; 16];
            assert_eq!(copy_from_user(&mut buf, b + 8), Err(Errno::EFAULT), "read from a PROT_NONE page");
            assert_eq!(last_fault_addr(), b + 8, "the read faulted and the fixup caught it");
            assert_eq!(copy_to_user(b + 0x100, &[1, 2, 3]), Err(Errno::EFAULT), "write to a PROT_NONE page");
            assert_eq!(last_fault_addr(), b + 0x100, "the write faulted and the fixup caught it");
            // A copy that starts in the accessible page stops at the boundary.
            let mut big = [0u8; 32];
            assert_eq!(copy_from_user(&mut big, b - 16), Err(Errno::EFAULT));
            assert_eq!(last_fault_addr(), b);
            um.do_mprotect(b, P, PROT_READ).unwrap();
            copy_from_user(&mut buf, b + 8).expect("readable again");
            assert_eq!(buf, [0x5a; 16], "the page kept its contents");
        });
        assert_eq!(um.rss(), 2);
        um.check_invariants().unwrap();
        um.exit_mmap();
    }
}
