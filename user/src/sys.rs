//! Raw Linux x86_64 system calls and thin typed wrappers.
//!
//! This is the bottom of the runtime: the only place that executes the
//! `syscall` instruction. Numbers and structure layouts are the Linux x86_64
//! ABI, so the same binary runs on Linux and on Holdfast.
//!
//! Convention: a raw return value in `-4095..=-1` is `-errno`; everything else
//! is a success value. Wrappers return `Result<usize, Errno>` (or a typed
//! value). A wrapper is a safe `fn` only when no argument can make the kernel
//! write to memory that Rust code owns; anything that takes a raw address the
//! kernel writes through lives elsewhere behind a safe abstraction
//! ([`crate::mem`], [`crate::probe`], [`crate::thread`]).

use core::arch::asm;
use core::ffi::CStr;
use core::fmt;
use core::sync::atomic::AtomicU32;

/// A Linux error number (the positive value; the kernel returns `-errno`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Errno(pub u16);

impl Errno {
    pub const EPERM: Errno = Errno(1);
    pub const ENOENT: Errno = Errno(2);
    pub const ECHILD: Errno = Errno(10);
    pub const ESRCH: Errno = Errno(3);
    pub const EINTR: Errno = Errno(4);
    pub const EIO: Errno = Errno(5);
    pub const EBADF: Errno = Errno(9);
    pub const EAGAIN: Errno = Errno(11);
    pub const ENOMEM: Errno = Errno(12);
    pub const EACCES: Errno = Errno(13);
    pub const EFAULT: Errno = Errno(14);
    pub const EBUSY: Errno = Errno(16);
    pub const EEXIST: Errno = Errno(17);
    pub const EINVAL: Errno = Errno(22);
    pub const ENOTTY: Errno = Errno(25);
    pub const ERANGE: Errno = Errno(34);
    pub const ENOSYS: Errno = Errno(38);
    pub const ETIMEDOUT: Errno = Errno(110);

    /// The symbolic name, or `None` for numbers this crate does not name.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1 => "EPERM",
            2 => "ENOENT",
            3 => "ESRCH",
            4 => "EINTR",
            5 => "EIO",
            9 => "EBADF",
            11 => "EAGAIN",
            12 => "ENOMEM",
            13 => "EACCES",
            14 => "EFAULT",
            16 => "EBUSY",
            17 => "EEXIST",
            22 => "EINVAL",
            25 => "ENOTTY",
            34 => "ERANGE",
            38 => "ENOSYS",
            110 => "ETIMEDOUT",
            _ => return None,
        })
    }
}

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => f.write_str(n),
            None => write!(f, "errno {}", self.0),
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Linux x86_64 system call numbers used by this crate.
pub mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const MMAP: usize = 9;
    pub const MPROTECT: usize = 10;
    pub const MUNMAP: usize = 11;
    pub const BRK: usize = 12;
    pub const IOCTL: usize = 16;
    pub const WRITEV: usize = 20;
    pub const SCHED_YIELD: usize = 24;
    pub const MINCORE: usize = 27;
    pub const MADVISE: usize = 28;
    pub const NANOSLEEP: usize = 35;
    pub const GETPID: usize = 39;
    pub const CLONE: usize = 56;
    pub const EXIT: usize = 60;
    pub const UNAME: usize = 63;
    pub const GETRLIMIT: usize = 97;
    pub const MLOCK: usize = 149;
    pub const MUNLOCK: usize = 150;
    pub const GETUID: usize = 102;
    pub const GETEUID: usize = 107;
    pub const ARCH_PRCTL: usize = 158;
    pub const SETRLIMIT: usize = 160;
    pub const GETTID: usize = 186;
    pub const FUTEX: usize = 202;
    pub const CLOCK_GETTIME: usize = 228;
    pub const EXIT_GROUP: usize = 231;
    pub const OPENAT: usize = 257;
    pub const PRLIMIT64: usize = 302;
}

/// Issue a system call with up to six arguments.
///
/// # Safety
/// The arguments must be valid for system call `nr`: any pointer the kernel
/// writes through must point to memory the caller may let the kernel modify.
#[inline(always)]
pub unsafe fn syscall6(nr: usize, a: [usize; 6]) -> isize {
    let ret: isize;
    // SAFETY: the caller vouches for the arguments; `syscall` clobbers only
    // rcx and r11 (declared), and the kernel preserves every other register.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as isize => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// Turn a raw return value into `Ok(value)` or `Err(errno)`.
#[inline]
pub fn check(ret: isize) -> Result<usize, Errno> {
    if (-4095..0).contains(&ret) {
        Err(Errno((-ret) as u16))
    } else {
        Ok(ret as usize)
    }
}

/// A system call whose arguments are plain integers or pointers the kernel
/// only reads. Private helper for the safe wrappers below.
#[inline(always)]
fn sc(nr: usize, a: [usize; 6]) -> Result<usize, Errno> {
    // SAFETY: only called by wrappers in this module whose arguments either
    // carry no pointer, or carry pointers derived from live Rust references
    // sized for what the kernel writes.
    check(unsafe { syscall6(nr, a) })
}

// ---------------------------------------------------------------- files --

pub const AT_FDCWD: isize = -100;
pub const O_RDONLY: usize = 0;
pub const O_CLOEXEC: usize = 0o2000000;

pub fn read(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    sc(nr::READ, [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0])
}

pub fn write(fd: i32, buf: &[u8]) -> Result<usize, Errno> {
    sc(nr::WRITE, [fd as usize, buf.as_ptr() as usize, buf.len(), 0, 0, 0])
}

/// Write all of `buf`, retrying short writes.
pub fn write_all(fd: i32, mut buf: &[u8]) -> Result<(), Errno> {
    while !buf.is_empty() {
        match write(fd, buf) {
            Ok(0) => return Err(Errno::EIO),
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

pub fn openat(dirfd: isize, path: &CStr, flags: usize, mode: usize) -> Result<i32, Errno> {
    sc(nr::OPENAT, [dirfd as usize, path.as_ptr() as usize, flags, mode, 0, 0]).map(|fd| fd as i32)
}

/// `munlockall()`: unlocks every page and clears `MCL_FUTURE`.
pub fn munlockall() -> Result<(), Errno> {
    // SAFETY: munlockall changes no memory contents and takes no pointer.
    check(unsafe { syscall6(152, [0; 6]) }).map(|_| ())
}

pub fn close(fd: i32) -> Result<(), Errno> {
    sc(nr::CLOSE, [fd as usize, 0, 0, 0, 0, 0]).map(|_| ())
}

/// `struct iovec`, borrowing the bytes it describes.
#[repr(C)]
pub struct IoVec<'a> {
    base: *const u8,
    len: usize,
    _borrow: core::marker::PhantomData<&'a [u8]>,
}

impl<'a> IoVec<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        IoVec { base: buf.as_ptr(), len: buf.len(), _borrow: core::marker::PhantomData }
    }
}

pub fn writev(fd: i32, iov: &[IoVec<'_>]) -> Result<usize, Errno> {
    sc(nr::WRITEV, [fd as usize, iov.as_ptr() as usize, iov.len(), 0, 0, 0])
}

/// `struct winsize`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct Winsize {
    pub rows: u16,
    pub cols: u16,
    pub xpixel: u16,
    pub ypixel: u16,
}

pub const TIOCGWINSZ: usize = 0x5413;

pub fn ioctl_tiocgwinsz(fd: i32) -> Result<Winsize, Errno> {
    let mut ws = Winsize::default();
    sc(nr::IOCTL, [fd as usize, TIOCGWINSZ, &mut ws as *mut Winsize as usize, 0, 0, 0])?;
    Ok(ws)
}

// -------------------------------------------------------------- process --

pub fn getpid() -> i32 {
    sc(nr::GETPID, [0; 6]).unwrap_or(0) as i32
}

pub fn gettid() -> i32 {
    sc(nr::GETTID, [0; 6]).unwrap_or(0) as i32
}

pub fn getuid() -> Result<u32, Errno> {
    sc(nr::GETUID, [0; 6]).map(|v| v as u32)
}

pub fn geteuid() -> Result<u32, Errno> {
    sc(nr::GETEUID, [0; 6]).map(|v| v as u32)
}

pub fn sched_yield() {
    let _ = sc(nr::SCHED_YIELD, [0; 6]);
}

/// Exit the whole process (all threads).
pub fn exit_group(code: i32) -> ! {
    let _ = sc(nr::EXIT_GROUP, [code as usize, 0, 0, 0, 0, 0]);
    // exit_group never returns; if a broken kernel returns, spin.
    loop {
        core::hint::spin_loop();
    }
}

/// `struct utsname` (Linux: six fields of 65 bytes).
#[repr(C)]
pub struct Utsname {
    pub sysname: [u8; 65],
    pub nodename: [u8; 65],
    pub release: [u8; 65],
    pub version: [u8; 65],
    pub machine: [u8; 65],
    pub domainname: [u8; 65],
}

/// The bytes of a NUL-terminated `utsname` field, without the NUL.
pub fn cfield(f: &[u8]) -> &[u8] {
    let n = f.iter().position(|&b| b == 0).unwrap_or(f.len());
    &f[..n]
}

pub fn uname() -> Result<Utsname, Errno> {
    let mut u = Utsname { sysname: [0; 65], nodename: [0; 65], release: [0; 65], version: [0; 65], machine: [0; 65], domainname: [0; 65] };
    sc(nr::UNAME, [&mut u as *mut Utsname as usize, 0, 0, 0, 0, 0])?;
    Ok(u)
}

// ---------------------------------------------------------------- mlock --

/// `mlock(addr, len)`: lock (and populate) the pages of a range.
///
/// Safe: the kernel writes no memory that Rust code can see; populating an
/// anonymous page leaves its contents as they read before (zero if untouched).
pub fn mlock(addr: usize, len: usize) -> Result<(), Errno> {
    sc(nr::MLOCK, [addr, len, 0, 0, 0, 0]).map(|_| ())
}

/// `munlock(addr, len)`: unlock the pages of a range (never changes contents).
pub fn munlock(addr: usize, len: usize) -> Result<(), Errno> {
    sc(nr::MUNLOCK, [addr, len, 0, 0, 0, 0]).map(|_| ())
}

// -------------------------------------------------------------- rlimits --

pub const RLIMIT_MEMLOCK: u32 = 8;
pub const RLIM_INFINITY: u64 = !0;

/// `struct rlimit` / `struct rlimit64` (identical on x86_64).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub cur: u64,
    pub max: u64,
}

pub fn getrlimit(resource: u32) -> Result<Rlimit, Errno> {
    let mut r = Rlimit::default();
    sc(nr::GETRLIMIT, [resource as usize, &mut r as *mut Rlimit as usize, 0, 0, 0, 0])?;
    Ok(r)
}

pub fn setrlimit(resource: u32, r: &Rlimit) -> Result<(), Errno> {
    sc(nr::SETRLIMIT, [resource as usize, r as *const Rlimit as usize, 0, 0, 0, 0]).map(|_| ())
}

/// `prlimit64(pid, resource, new, &old)`; returns the old limit.
pub fn prlimit64(pid: i32, resource: u32, new: Option<&Rlimit>) -> Result<Rlimit, Errno> {
    let mut old = Rlimit::default();
    let newp = new.map_or(0, |r| r as *const Rlimit as usize);
    sc(nr::PRLIMIT64, [pid as usize, resource as usize, newp, &mut old as *mut Rlimit as usize, 0, 0])?;
    Ok(old)
}

// ----------------------------------------------------------------- time --

pub const CLOCK_REALTIME: u32 = 0;
pub const CLOCK_MONOTONIC: u32 = 1;

/// `struct timespec`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Timespec {
    pub sec: i64,
    pub nsec: i64,
}

impl Timespec {
    pub fn from_ns(ns: u64) -> Self {
        Timespec { sec: (ns / 1_000_000_000) as i64, nsec: (ns % 1_000_000_000) as i64 }
    }
    pub fn as_ns(&self) -> u64 {
        (self.sec as u64).wrapping_mul(1_000_000_000).wrapping_add(self.nsec as u64)
    }
}

pub fn clock_gettime(clock: u32) -> Result<Timespec, Errno> {
    let mut ts = Timespec::default();
    sc(nr::CLOCK_GETTIME, [clock as usize, &mut ts as *mut Timespec as usize, 0, 0, 0, 0])?;
    Ok(ts)
}

pub fn nanosleep(req: &Timespec) -> Result<(), Errno> {
    sc(nr::NANOSLEEP, [req as *const Timespec as usize, 0, 0, 0, 0, 0]).map(|_| ())
}

// ----------------------------------------------------------------- TLS --

pub const ARCH_SET_FS: usize = 0x1002;
pub const ARCH_GET_FS: usize = 0x1003;

/// Set the FS segment base of the calling thread.
///
/// Safe because nothing in this crate uses `%fs`-relative TLS; a thread
/// created by [`crate::thread`] gets its own base from `clone(CLONE_SETTLS)`.
pub fn arch_set_fs(base: usize) -> Result<(), Errno> {
    sc(nr::ARCH_PRCTL, [ARCH_SET_FS, base, 0, 0, 0, 0]).map(|_| ())
}

pub fn arch_get_fs() -> Result<usize, Errno> {
    let mut base: usize = 0;
    sc(nr::ARCH_PRCTL, [ARCH_GET_FS, &mut base as *mut usize as usize, 0, 0, 0, 0])?;
    Ok(base)
}

/// Read the 8 bytes at `%fs:0` (by the x86_64 TLS ABI, the thread pointer's
/// self-reference). Faults (SIGSEGV) if the FS base is not mapped.
pub fn read_fs_qword0() -> usize {
    let v: usize;
    // SAFETY: a plain load through the FS segment; it writes no memory, and
    // an unmapped base raises SIGSEGV rather than reading Rust-owned state.
    unsafe { asm!("mov {}, qword ptr fs:[0]", out(reg) v, options(nostack, readonly, preserves_flags)) };
    v
}

// ---------------------------------------------------------------- futex --

pub const FUTEX_WAIT: usize = 0;
pub const FUTEX_WAKE: usize = 1;
pub const FUTEX_PRIVATE_FLAG: usize = 128;

/// `futex(FUTEX_WAIT)`: sleep while `*word == val`, up to `timeout` (relative).
/// `private` selects `FUTEX_PRIVATE_FLAG` (only this process waits/wakes).
pub fn futex_wait(word: &AtomicU32, val: u32, timeout: Option<&Timespec>, private: bool) -> Result<(), Errno> {
    let op = FUTEX_WAIT | if private { FUTEX_PRIVATE_FLAG } else { 0 };
    let t = timeout.map_or(0, |t| t as *const Timespec as usize);
    sc(nr::FUTEX, [word.as_ptr() as usize, op, val as usize, t, 0, 0]).map(|_| ())
}

/// `futex(FUTEX_WAKE)`: wake up to `n` waiters; returns how many were woken.
/// The kernel reads the count as an `int`, so `n` is clamped to `i32::MAX`
/// (passing `u32::MAX` would mean -1, which Linux treats as "wake one").
pub fn futex_wake(word: &AtomicU32, n: u32, private: bool) -> Result<usize, Errno> {
    let n = n.min(i32::MAX as u32);
    let op = FUTEX_WAKE | if private { FUTEX_PRIVATE_FLAG } else { 0 };
    sc(nr::FUTEX, [word.as_ptr() as usize, op, n as usize, 0, 0, 0])
}

// ------------------------------------------------------ file-system ABI --
//
// Wrappers for checking the file-system calls' errors. A path or iovec
// argument given as an address is only ever read by the kernel; an output
// buffer given as an address must be 0 or in the kernel half, where the
// kernel must refuse to write on our behalf (asserted).

pub mod fsnr {
    pub const OPEN: usize = 2;
    pub const FSTAT: usize = 5;
    pub const LSEEK: usize = 8;
    pub const READV: usize = 19;
    pub const FCNTL: usize = 72;
    pub const NEWFSTATAT: usize = 262;
}

/// Start of the x86_64 kernel half: never user memory.
pub const KERNEL_ADDR: usize = 0xffff_8000_0000_0000;

fn assert_not_user(addr: usize) {
    assert!(addr == 0 || addr >= KERNEL_ADDR, "{:#x} could be user memory", addr);
}

pub const O_WRONLY: usize = 0o1;
pub const O_CREAT: usize = 0o100;
pub const O_NONBLOCK: usize = 0o4000;
pub const O_DIRECT: usize = 0o40000;
pub const O_LARGEFILE: usize = 0o100000;
pub const O_DIRECTORY: usize = 0o200000;
pub const O_PATH: usize = 0o10000000;
pub const AT_EMPTY_PATH: usize = 0x1000;
pub const ENXIO: Errno = Errno(6);
pub const ENOTDIR: Errno = Errno(20);
pub const EISDIR: Errno = Errno(21);
pub const ENAMETOOLONG: Errno = Errno(36);

/// `openat` of a path given as an address (read only; no `O_CREAT`).
pub fn openat_addr(dirfd: isize, path: usize, flags: usize) -> Result<i32, Errno> {
    assert!(flags & O_CREAT == 0);
    sc(nr::OPENAT, [dirfd as usize, path, flags, 0, 0, 0]).map(|fd| fd as i32)
}

/// `openat` of a path given as bytes, which must hold a NUL (no `O_CREAT`).
pub fn openat_bytes(dirfd: isize, path: &[u8], flags: usize) -> Result<i32, Errno> {
    assert!(path.contains(&0), "path without NUL");
    openat_addr(dirfd, path.as_ptr() as usize, flags)
}

/// Linux x86_64 `struct stat`, as 18 words.
#[derive(Clone, Copy, Default, Debug)]
pub struct Stat(pub [u64; 18]);

impl Stat {
    pub fn nlink(&self) -> u64 {
        self.0[2]
    }
    pub fn mode(&self) -> u32 {
        self.0[3] as u32
    }
    pub fn size(&self) -> u64 {
        self.0[6]
    }
    pub fn is_dir(&self) -> bool {
        self.mode() & 0o170000 == 0o040000
    }
}

pub fn fstat(fd: i32) -> Result<Stat, Errno> {
    let mut st = Stat::default();
    sc(fsnr::FSTAT, [fd as usize, st.0.as_mut_ptr() as usize, 0, 0, 0, 0]).map(|_| st)
}

/// `fstat` into `buf`, which is 0 or in the kernel half.
pub fn fstat_addr(fd: i32, buf: usize) -> Result<usize, Errno> {
    assert_not_user(buf);
    sc(fsnr::FSTAT, [fd as usize, buf, 0, 0, 0, 0])
}

/// `newfstatat` of a path given as bytes holding a NUL.
pub fn newfstatat(dirfd: isize, path: &[u8], flags: usize) -> Result<Stat, Errno> {
    assert!(path.contains(&0), "path without NUL");
    let mut st = Stat::default();
    sc(fsnr::NEWFSTATAT, [dirfd as usize, path.as_ptr() as usize, st.0.as_mut_ptr() as usize, flags, 0, 0]).map(|_| st)
}

/// `newfstatat` with the path (read only) and the buffer (0 or in the
/// kernel half) given as addresses.
pub fn newfstatat_addr(dirfd: isize, path: usize, buf: usize, flags: usize) -> Result<usize, Errno> {
    assert_not_user(buf);
    sc(fsnr::NEWFSTATAT, [dirfd as usize, path, buf, flags, 0, 0])
}

pub fn lseek(fd: i32, off: i64, whence: usize) -> Result<usize, Errno> {
    sc(fsnr::LSEEK, [fd as usize, off as usize, whence, 0, 0, 0])
}

pub const F_DUPFD: usize = 0;
pub const F_GETFD: usize = 1;
pub const F_SETFD: usize = 2;
pub const F_GETFL: usize = 3;
pub const F_SETFL: usize = 4;
pub const F_DUPFD_CLOEXEC: usize = 1030;

/// `fcntl` with an integer argument: only the commands above, or a number
/// no kernel knows (>= 9000).
pub fn fcntl(fd: i32, cmd: usize, arg: usize) -> Result<usize, Errno> {
    assert!(matches!(cmd, F_DUPFD | F_GETFD | F_SETFD | F_GETFL | F_SETFL | F_DUPFD_CLOEXEC) || cmd >= 9000);
    sc(fsnr::FCNTL, [fd as usize, cmd, arg, 0, 0, 0])
}

pub const FIONBIO: usize = 0x5421;
pub const FIONCLEX: usize = 0x5450;
pub const FIOCLEX: usize = 0x5451;
pub const TCGETS: usize = 0x5401;

/// `ioctl` whose argument the kernel only reads (or ignores): `FIOCLEX`,
/// `FIONCLEX`, `FIONBIO`, or any request with a kernel-half argument.
pub fn ioctl_in(fd: i32, req: usize, arg: Option<&i32>) -> Result<usize, Errno> {
    assert!(matches!(req, FIOCLEX | FIONCLEX | FIONBIO));
    sc(nr::IOCTL, [fd as usize, req, arg.map_or(0, |a| a as *const i32 as usize), 0, 0, 0])
}

/// `ioctl(fd, req, addr)` with `addr` 0 or in the kernel half.
pub fn ioctl_addr(fd: i32, req: usize, addr: usize) -> Result<usize, Errno> {
    assert_not_user(addr);
    sc(nr::IOCTL, [fd as usize, req, addr, 0, 0, 0])
}

/// `readv` (or `writev`) of `cnt` iovecs at `iov`, an address in the
/// kernel half: the kernel must refuse before reading a single one.
pub fn rwv_kernel_iov(write: bool, fd: i32, cnt: usize) -> Result<usize, Errno> {
    let nr = if write { nr::WRITEV } else { fsnr::READV };
    sc(nr, [fd as usize, KERNEL_ADDR, cnt, 0, 0, 0])
}

/// `readv` of iovecs with the given lengths, all based in the kernel half:
/// checks the lengths are refused (or the bases are) before any copy.
pub fn readv_kernel_bases(fd: i32, lens: &[usize]) -> Result<usize, Errno> {
    let iov: alloc::vec::Vec<[usize; 2]> = lens.iter().map(|&l| [KERNEL_ADDR, l]).collect();
    sc(fsnr::READV, [fd as usize, iov.as_ptr() as usize, iov.len(), 0, 0, 0])
}

/// `read(fd)` of `count` bytes into a buffer whose first `before` bytes
/// are mapped and the rest is not (a page this function just unmapped):
/// Linux returns the bytes copied before the fault.
pub fn read_across_unmapped(fd: i32, before: usize, count: usize) -> Result<usize, Errno> {
    const PAGE: usize = 4096;
    assert!(before <= PAGE);
    // SAFETY: a fresh anonymous mapping no Rust value refers to.
    let base = check(unsafe { syscall6(9, [0, 2 * PAGE, 3, 0x22, usize::MAX, 0]) })?;
    // SAFETY: unmapping the second page of the mapping made above.
    check(unsafe { syscall6(11, [base + PAGE, PAGE, 0, 0, 0, 0]) })?;
    // SAFETY: the kernel writes at most into [base + PAGE - before, base +
    // PAGE), inside the first page of our mapping, and faults beyond.
    let r = check(unsafe { syscall6(nr::READ, [fd as usize, base + PAGE - before, count, 0, 0, 0]) });
    // SAFETY: unmapping the rest of our own mapping.
    unsafe { syscall6(11, [base, PAGE, 0, 0, 0, 0]) };
    r
}

// ------------------------------------------------------------ processes --

/// `fork()`: `Ok(0)` in the child, `Ok(pid)` in the parent.
///
/// # Safety
/// The program must have a single thread: the child gets a copy of the
/// caller's memory only, so a lock another thread held stays held in it.
pub unsafe fn fork() -> Result<usize, Errno> {
    // SAFETY: fork takes no pointer; the caller vouches for the rest.
    check(unsafe { syscall6(57, [0; 6]) })
}

pub const WNOHANG: usize = 1;

/// `wait4(pid, &status, options, NULL)`: `(pid, status)` of a child that
/// changed state, `(0, 0)` with `WNOHANG` when none has.
pub fn wait4(pid: isize, options: usize) -> Result<(usize, i32), Errno> {
    let mut status: i32 = 0;
    let got = sc(61, [pid as usize, &mut status as *mut i32 as usize, options, 0, 0, 0])?;
    Ok((got, status))
}

pub fn kill(pid: isize, sig: usize) -> Result<(), Errno> {
    sc(62, [pid as usize, sig, 0, 0, 0, 0]).map(|_| ())
}

pub fn setpgid(pid: usize, pgid: usize) -> Result<(), Errno> {
    sc(109, [pid, pgid, 0, 0, 0, 0]).map(|_| ())
}

pub fn mkdir(path: &CStr, mode: usize) -> Result<(), Errno> {
    sc(83, [path.as_ptr() as usize, mode, 0, 0, 0, 0]).map(|_| ())
}

/// `unlinkat(dirfd, path, flags)` (`AT_REMOVEDIR` = 0x200 removes a
/// directory).
pub fn unlinkat(dirfd: isize, path: &CStr, flags: usize) -> Result<(), Errno> {
    sc(263, [dirfd as usize, path.as_ptr() as usize, flags, 0, 0, 0]).map(|_| ())
}

/// `getdents64(fd, buf)`: bytes of `struct linux_dirent64` records read.
pub fn getdents64(fd: i32, buf: &mut [u8]) -> Result<usize, Errno> {
    sc(217, [fd as usize, buf.as_mut_ptr() as usize, buf.len(), 0, 0, 0])
}
