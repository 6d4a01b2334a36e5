//! Linux error numbers.
//!
//! `mm` returns `Result<T, Errno>`; the syscall layer turns an `Errno` into
//! `-errno` in `rax`. The discriminants are the Linux x86_64 values, so an
//! `Errno` can be compared with what a Linux kernel returns for the same call.

/// A Linux errno value (x86_64 numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    ENOEXEC = 8,
    EBADF = 9,
    ECHILD = 10,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    EXDEV = 18,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    ENOTTY = 25,
    EFBIG = 27,
    ENOSPC = 28,
    ESPIPE = 29,
    EROFS = 30,
    EPIPE = 32,
    ERANGE = 34,
    EDEADLK = 35,
    ENAMETOOLONG = 36,
    ENOSYS = 38,
    ENOTEMPTY = 39,
    ELOOP = 40,
    EOVERFLOW = 75,
    EOPNOTSUPP = 95,
    ETIMEDOUT = 110,
    /// Kernel-internal (never seen by user space): a system call a signal
    /// interrupted, restarted after a handler with `SA_RESTART` or when no
    /// handler runs, else `EINTR` (Linux `ERESTARTSYS`).
    ERESTARTSYS = 512,
    /// Kernel-internal: always restarted (Linux `ERESTARTNOINTR`).
    ERESTARTNOINTR = 513,
    /// Kernel-internal: `EINTR` after a handler, restarted when no handler
    /// runs (Linux `ERESTARTNOHAND`).
    ERESTARTNOHAND = 514,
    /// Kernel-internal: `EINTR` after a handler, continued through
    /// `restart_syscall` when no handler runs (Linux `ERESTART_RESTARTBLOCK`).
    #[allow(non_camel_case_types)] // Linux's name
    ERESTART_RESTARTBLOCK = 516,
}

impl Errno {
    /// The positive errno number.
    pub const fn as_i32(self) -> i32 {
        self as i32
    }

    /// The value a syscall returns in `rax` for this error: `-errno`.
    pub const fn as_syscall_return(self) -> i64 {
        -(self as i64)
    }
}
