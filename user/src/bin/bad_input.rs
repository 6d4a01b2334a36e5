//! `bad_input`: the kernel must reject bad arguments with the Linux errno
//! and survive: kernel and unmapped pointers (EFAULT), unknown system calls
//! (ENOSYS), invalid flags, alignment and clock ids (EINVAL). The last line
//! shows the process is still alive and the kernel still answers.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use holdfast_user::mem::{map, prot, PAGE_SIZE};
use holdfast_user::probe::{self, KERNEL_HALF};
use holdfast_user::sys::{self, Errno};
use holdfast_user::tap::Tap;
use holdfast_user::{entry, fs, Args};

entry!(main);

fn main(_args: Args) -> i32 {
    let mut t = Tap::new("bad_input");
    let ef: Result<usize, Errno> = Err(Errno::EFAULT);
    let inval: Result<usize, Errno> = Err(Errno::EINVAL);
    let inval0: Result<(), Errno> = Err(Errno::EINVAL);

    t.eq(probe::write_from_kernel(1, KERNEL_HALF, 8), ef, "write(1, kernel address, 8) -> EFAULT");
    t.eq(probe::write_from_kernel(1, usize::MAX - 7, 8), ef, "write(1, 0xfff..f8, 8) -> EFAULT");
    // Needs a stdout that reads the buffer (console, file, pipe): Linux's
    // /dev/null returns 8 without touching it.
    t.eq(probe::write_from_unmapped(1, 8), ef, "write(1, unmapped user address, 8) -> EFAULT");
    t.eq(probe::write_from_prot_none(1, 8), ef, "write(1, touched page now PROT_NONE, 8) -> EFAULT");
    t.eq(probe::futex_wait_prot_none(), ef, "futex(FUTEX_WAIT) on a touched page now PROT_NONE -> EFAULT");

    // read needs a file that has data: /proc/self/status.
    match sys::openat(sys::AT_FDCWD, c"/proc/self/status", sys::O_RDONLY, 0) {
        Ok(fd) => {
            t.eq(probe::read_into_unmapped(fd, 8), ef, "read into an unmapped buffer -> EFAULT");
            t.eq(probe::read_into_kernel(fd, KERNEL_HALF + 0x1000, 8), ef, "read into a kernel address -> EFAULT");
            t.eq(probe::read_into_protected(fd, 8, prot::NONE), ef, "read into a touched page now PROT_NONE -> EFAULT");
            t.eq(probe::read_into_protected(fd, 8, prot::READ), ef, "read into a touched page now PROT_READ -> EFAULT");
            let _ = sys::close(fd);
        }
        Err(e) => {
            t.check(false, "open /proc/self/status for the read checks", e, "Ok");
        }
    }

    t.eq(probe::unassigned_syscall(1000), Err(Errno::ENOSYS), "syscall 1000 -> ENOSYS");
    t.eq(probe::unassigned_syscall(0x3fff_ffff), Err(Errno::ENOSYS), "syscall 0x3fffffff -> ENOSYS");

    t.eq(probe::mmap_flags(PAGE_SIZE, prot::RW, map::ANONYMOUS), inval, "mmap without MAP_PRIVATE/MAP_SHARED -> EINVAL");
    t.eq(
        probe::mmap_flags(PAGE_SIZE, prot::RW, map::ANONYMOUS | map::PRIVATE | map::SHARED),
        inval,
        "anonymous mmap of type 3 (MAP_SHARED_VALIDATE) -> EINVAL",
    );
    t.eq(probe::mmap_flags(0, prot::RW, map::ANONYMOUS | map::PRIVATE), inval, "mmap of length 0 -> EINVAL");

    t.eq(probe::munmap_misaligned(1, PAGE_SIZE), inval0, "munmap(addr+1, 4096) -> EINVAL");
    t.eq(probe::mprotect_prot(0x80), inval0, "mprotect with prot 0x80 -> EINVAL");
    t.eq(probe::mprotect_prot(0x1000), inval0, "mprotect with prot 0x1000 -> EINVAL");

    t.eq(sys::clock_gettime(100).map(|_| ()), inval0, "clock_gettime(100) -> EINVAL");
    t.eq(
        probe::clock_gettime_into_kernel(sys::CLOCK_MONOTONIC, KERNEL_HALF),
        ef,
        "clock_gettime into a kernel address -> EFAULT",
    );

    t.eq(probe::futex_wait_kernel(KERNEL_HALF, 0), ef, "futex(kernel address, FUTEX_WAIT) -> EFAULT");

    // Still alive, and the kernel still works.
    let alive = fs::read_file(c"/proc/self/status").is_ok() && sys::getpid() > 0;
    t.ok(alive, "process and kernel still healthy after the bad calls");
    t.finish()
}
