//! System calls with deliberately invalid arguments, for checking that the
//! kernel rejects them (EFAULT, EINVAL, ENOSYS) instead of crashing.
//!
//! Each function is safe because the bad address it passes is either in the
//! kernel half (the kernel must never write there on our behalf, and cannot
//! touch Rust memory through it) or a page this function just unmapped and
//! that no Rust value refers to. Every function asserts its precondition.

use crate::mem::{self, Region, PAGE_SIZE};
use crate::sys::{check, nr, syscall6, Errno, Timespec};

/// Start of the x86_64 kernel half (canonical upper half).
pub const KERNEL_HALF: usize = 0xffff_8000_0000_0000;

fn assert_kernel(addr: usize) {
    assert!(addr >= KERNEL_HALF, "probe address {:#x} is not a kernel address", addr);
}

/// An address in user space with nothing mapped at it (a page we mapped and
/// unmapped). Only valid as long as nothing else maps memory meanwhile, so
/// the functions below obtain it immediately before use.
fn unmapped_page() -> Result<usize, Errno> {
    let r = Region::map_anon(PAGE_SIZE, mem::prot::RW)?;
    let a = r.addr();
    r.unmap()?;
    Ok(a)
}

/// `write(fd, addr, len)` from a kernel address.
pub fn write_from_kernel(fd: i32, addr: usize, len: usize) -> Result<usize, Errno> {
    assert_kernel(addr);
    // SAFETY: write() only reads from addr, which is not user memory.
    check(unsafe { syscall6(nr::WRITE, [fd as usize, addr, len, 0, 0, 0]) })
}

/// `read(fd, addr, len)` into a kernel address.
pub fn read_into_kernel(fd: i32, addr: usize, len: usize) -> Result<usize, Errno> {
    assert_kernel(addr);
    // SAFETY: addr is in the kernel half; no Rust memory is there.
    check(unsafe { syscall6(nr::READ, [fd as usize, addr, len, 0, 0, 0]) })
}

/// `write(fd, p, len)` where `p` is an unmapped user page.
pub fn write_from_unmapped(fd: i32, len: usize) -> Result<usize, Errno> {
    let a = unmapped_page()?;
    // SAFETY: write() only reads; `a` is not mapped and not referenced.
    check(unsafe { syscall6(nr::WRITE, [fd as usize, a, len.min(PAGE_SIZE), 0, 0, 0]) })
}

/// `read(fd, p, len)` where `p` is an unmapped user page.
pub fn read_into_unmapped(fd: i32, len: usize) -> Result<usize, Errno> {
    let a = unmapped_page()?;
    // SAFETY: `a` was just unmapped by us and no Rust value refers to it; this
    // program maps nothing in between (single call, no allocation).
    check(unsafe { syscall6(nr::READ, [fd as usize, a, len.min(PAGE_SIZE), 0, 0, 0]) })
}

/// A system call number Linux does not assign (must be >= 1000).
pub fn unassigned_syscall(number: usize) -> Result<usize, Errno> {
    assert!((1000..0x4000_0000).contains(&number));
    // SAFETY: no such system call exists; the arguments are all zero.
    check(unsafe { syscall6(number, [0; 6]) })
}

/// Anonymous mmap with arbitrary (non-FIXED) `flags`; any mapping that is
/// unexpectedly created is unmapped again.
pub fn mmap_flags(len: usize, prot: usize, flags: usize) -> Result<usize, Errno> {
    let res = mem::mmap_nofixed(0, len, prot, flags);
    if let Ok(a) = res {
        // SAFETY: the mapping was just created and nothing refers to it.
        let _ = unsafe { mem::munmap(a, mem::page_round_up(len.max(1))) };
    }
    res
}

/// `munmap(addr + misalign, len)` on a region we own; the region is then
/// unmapped properly.
pub fn munmap_misaligned(misalign: usize, len: usize) -> Result<(), Errno> {
    assert!(!misalign.is_multiple_of(PAGE_SIZE));
    let r = Region::map_anon(2 * PAGE_SIZE, mem::prot::RW)?;
    // SAFETY: the range lies inside `r`, which we own and nobody references;
    // if the kernel (wrongly) unmapped it, `r`'s drop just gets an error.
    let res = unsafe { mem::munmap(r.addr() + misalign, len) };
    drop(r);
    res
}

/// `mprotect(page, PAGE_SIZE, prot)` on a fresh page of our own.
pub fn mprotect_prot(prot: usize) -> Result<(), Errno> {
    let mut r = Region::map_anon(PAGE_SIZE, mem::prot::RW)?;
    r.protect(0, PAGE_SIZE, prot)
}

/// `clock_gettime(clock, addr)` with a kernel-half `addr`.
pub fn clock_gettime_into_kernel(clock: u32, addr: usize) -> Result<usize, Errno> {
    assert_kernel(addr);
    // SAFETY: addr is in the kernel half; no Rust memory is there.
    check(unsafe { syscall6(nr::CLOCK_GETTIME, [clock as usize, addr, 0, 0, 0, 0]) })
}

/// `futex(addr, FUTEX_WAIT, val, 10 ms)` with a kernel-half `addr`.
/// The timeout bounds the damage if a kernel wrongly sleeps.
pub fn futex_wait_kernel(addr: usize, val: u32) -> Result<usize, Errno> {
    assert_kernel(addr);
    let t = Timespec::from_ns(10_000_000);
    // SAFETY: addr is in the kernel half; the timeout is a live local.
    check(unsafe { syscall6(nr::FUTEX, [addr, 0, val as usize, &t as *const Timespec as usize, 0, 0]) })
}

/// `getrlimit(resource, p)` where `p` is a read-only page: the kernel's
/// copy-out must fail with EFAULT. Used to check that `mprotect` took effect.
pub fn getrlimit_into_readonly(resource: u32, region: &Region) -> Result<usize, Errno> {
    // SAFETY: the caller made `region` read-only, so the kernel cannot write
    // it; if it (wrongly) did, it writes 16 bytes into memory the region owns
    // and that `&Region` only exposes as plain bytes.
    check(unsafe { syscall6(nr::GETRLIMIT, [resource as usize, region.addr(), 0, 0, 0, 0]) })
}

/// A page of our own that was written (so its frame is present) and then
/// given protection `prot`: the case the MMU alone does not refuse to the
/// kernel when `prot` is `PROT_NONE`.
fn touched_page_with_prot(prot: usize) -> Result<Region, Errno> {
    let mut r = Region::map_anon(PAGE_SIZE, mem::prot::RW)?;
    r.touch(0, 0x5a);
    r.protect(0, PAGE_SIZE, prot)?;
    Ok(r)
}

/// `write(fd, p, len)` where `p` is a touched page now `PROT_NONE`.
/// Linux: EFAULT.
pub fn write_from_prot_none(fd: i32, len: usize) -> Result<usize, Errno> {
    let r = touched_page_with_prot(mem::prot::NONE)?;
    // SAFETY: write() only reads the page, which `r` owns and no Rust value
    // borrows; `r` unmaps it when dropped.
    check(unsafe { syscall6(nr::WRITE, [fd as usize, r.addr(), len.min(PAGE_SIZE), 0, 0, 0]) })
}

/// `read(fd, p, len)` where `p` is a touched page now given `prot` (no
/// `PROT_WRITE`). Linux: EFAULT.
pub fn read_into_protected(fd: i32, len: usize, prot: usize) -> Result<usize, Errno> {
    assert!(prot & mem::prot::WRITE == 0);
    let r = touched_page_with_prot(prot)?;
    // SAFETY: the page belongs to `r` alone and no Rust value borrows it; a
    // kernel that (wrongly) wrote it changes only bytes nobody reads.
    check(unsafe { syscall6(nr::READ, [fd as usize, r.addr(), len.min(PAGE_SIZE), 0, 0, 0]) })
}

/// `futex(p, FUTEX_WAIT, 0, 10 ms)` where `p` is a touched page now
/// `PROT_NONE`. Linux: EFAULT (it cannot read the futex word).
pub fn futex_wait_prot_none() -> Result<usize, Errno> {
    let r = touched_page_with_prot(mem::prot::NONE)?;
    let t = Timespec::from_ns(10_000_000);
    // SAFETY: the futex word lies in a page `r` owns; the timeout is a live local.
    check(unsafe { syscall6(nr::FUTEX, [r.addr(), 0, 0x5a, &t as *const Timespec as usize, 0, 0]) })
}

/// Write one byte at `offset` in the first page of the address space, which
/// is never mapped (Linux: `vm.mmap_min_addr`). The thread gets SIGSEGV.
pub fn write_null_page(offset: usize) {
    assert!(offset < PAGE_SIZE);
    // SAFETY: the zero page is never mapped, so this store faults and hands
    // the thread SIGSEGV; no Rust-owned memory lives there.
    unsafe { core::ptr::write_volatile(offset as *mut u8, 0x42) };
}
