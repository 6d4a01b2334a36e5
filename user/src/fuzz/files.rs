//! The sandbox's files and pipes ([`super::Mode::Fuzz`] only).
//!
//! Calls that create, change or remove files reach only a directory of the
//! sandbox's own, `/tmp/hfuzz.<pid>` (mode 0777, so that it stays usable
//! after a setuid away from root), created at start and removed at the
//! end: they name it through a descriptor kept at [`DIR_FD`] (a number no
//! other call closes or reuses) with a relative name from [`NAMES`], or by
//! its absolute path. Symbolic links the sandbox makes point only at
//! relative names inside it ([`TARGETS`]), none with `..`, so nothing
//! reached through them lies outside. Descriptors of files outside the
//! directory are only ever opened read-only, and no call that changes a
//! file through its descriptor (`fchmod`, `fchown`) is made.
//!
//! Blocking calls on pipes (a read of an empty one, a write to a full one)
//! are not avoided: the guard timer ([`super::procs`]) interrupts them.

use super::{ctrl_write, Call, Sandbox, KERNEL_HALF, SCRATCH, SCRATCH_LEN};
use crate::mem::{map, PAGE_SIZE};
use crate::sys::{self, Errno};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// Where the sandbox keeps its directory open.
pub(super) const DIR_FD: usize = 900;
/// Names inside the directory (some of them nested, one through a file).
const NAMES: &[&[u8]] = &[b"f0", b"f1", b"d0", b"d0/f2", b"d0/d1", b"d0/d1/f3", b"l0", b"l1", b"f0/x", b"nonexistent/x", b""];
/// Symbolic link targets: relative, inside the directory, one a loop.
const TARGETS: &[&[u8]] = &[b"f0", b"d0", b"l1", b"l0", b"nonexistent", b"d0/f2"];
const NAMES_AT: usize = 2800; // NAMES, 16 bytes each
const NAME_STRIDE: usize = 16;
const ABS_AT: usize = 2976; // the same names as absolute paths
const ABS_STRIDE: usize = 48;
const TARGETS_AT: usize = 3504; // TARGETS, 16 bytes each
/// Where `pipe2` writes its two descriptors, so the sandbox can use them.
pub(super) const PIPE_FDS: usize = SCRATCH + SCRATCH_LEN - 128;

const AT_FDCWD: usize = -100isize as usize;

/// The directory's path for process `pid`: `/tmp/hfuzz.<pid>`, and for
/// an exec'd child `/tmp/hfuzz.<parent>.<pid>` (so that everything a run
/// leaves behind starts with its first process's name).
pub(super) fn dir_path(pid: usize, nested: bool) -> String {
    if nested {
        // SAFETY: getppid only returns a number.
        let ppid = unsafe { sys::syscall6(110, [0; 6]) };
        format!("/tmp/hfuzz.{ppid}.{pid}")
    } else {
        format!("/tmp/hfuzz.{pid}")
    }
}

impl Sandbox {
    /// Create the directory, keep it open at [`DIR_FD`], and write the
    /// names into CTRL.
    pub(super) fn setup_files(&mut self) -> Result<(), Errno> {
        let dir = dir_path(self.pid, self.nested);
        let cdir = cstring(dir.as_bytes());
        match sys::mkdir(&cdir, 0o755) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        // Writable by everyone: after a random setuid away from root the
        // calls can still create and remove files in it.
        // SAFETY: chmod reads the path, a live C string.
        sys::check(unsafe { sys::syscall6(90, [cdir.as_ptr() as usize, 0o777, 0, 0, 0, 0]) })?;
        const O_DIRECTORY: usize = 0x1_0000;
        let fd = sys::openat(sys::AT_FDCWD, &cdir, O_DIRECTORY | sys::O_CLOEXEC, 0)?;
        // SAFETY: F_DUPFD_CLOEXEC (1030) copies a descriptor; no memory.
        let high = sys::check(unsafe { sys::syscall6(72, [fd as usize, 1030, DIR_FD, 0, 0, 0]) });
        let _ = sys::close(fd);
        if high? != DIR_FD {
            return Err(Errno::EBUSY);
        }
        self.dir = dir.clone();
        for (i, name) in NAMES.iter().enumerate() {
            let mut z = name.to_vec();
            z.push(0);
            ctrl_write(NAMES_AT + i * NAME_STRIDE, &z);
            let mut abs = format!("{dir}/").into_bytes();
            abs.extend_from_slice(name);
            abs.push(0);
            ctrl_write(ABS_AT + i * ABS_STRIDE, &abs);
        }
        for (i, t) in TARGETS.iter().enumerate() {
            let mut z = t.to_vec();
            z.push(0);
            ctrl_write(TARGETS_AT + i * NAME_STRIDE, &z);
        }
        Ok(())
    }

    /// Remove the directory and everything left in it.
    pub fn remove_files(&self) -> Result<(), Errno> {
        let _ = sys::close(DIR_FD as i32);
        let dir = self.dir.clone();
        remove_tree(format!("{dir}.noexec").as_bytes())?;
        remove_tree(dir.as_bytes())
    }

    /// A directory descriptor and a path for a call that may create or
    /// change a file: always inside the directory, or refused.
    fn file_at(&mut self) -> (usize, usize) {
        let i = self.rng.below(NAMES.len());
        match self.rng.below(8) {
            0 => (AT_FDCWD, super::CTRL + ABS_AT + i * ABS_STRIDE),
            1 => (self.rng.pick(&[1000, usize::MAX]), super::CTRL + NAMES_AT + i * NAME_STRIDE), // EBADF
            2 => (DIR_FD, self.rng.pick(&[0, KERNEL_HALF])),                                     // EFAULT
            _ => (DIR_FD, super::CTRL + NAMES_AT + i * NAME_STRIDE),
        }
    }

    /// An offset for `pread64`/`pwrite64`, or a length for `ftruncate`.
    fn offset(&mut self) -> usize {
        self.rng.pick(&[0, 1, 4095, 4096, 1 << 20, 1 << 40, usize::MAX, i64::MAX as usize])
    }

    /// Open flags for a file in the directory: any access mode, creating,
    /// truncating, appending.
    fn rw_open_flags(&mut self) -> usize {
        // O_RDWR most often; 3 is Linux's "ioctl only" mode.
        let mut f = self.rng.pick(&[2, 2, 2, 1, 0, 3]);
        // O_CREAT O_EXCL O_TRUNC O_APPEND O_NONBLOCK O_DIRECTORY O_NOFOLLOW O_CLOEXEC O_PATH
        for (bit, one_in) in
            [(0x40, 2), (0x80, 6), (0x200, 5), (0x400, 5), (0x800, 5), (0x1_0000, 12), (0x2_0000, 8), (0x8_0000, 4), (0x20_0000, 12)]
        {
            if self.rng.chance(one_in) {
                f |= bit;
            }
        }
        if self.rng.chance(20) {
            f |= 0x41_0000; // O_TMPFILE
        }
        f
    }

    /// The arguments of a file or pipe call.
    pub(super) fn file_args(&mut self, call: Call) -> [usize; 6] {
        use Call::*;
        let mode = self.rng.below(0o10000);
        match call {
            OpenatRw => {
                let (d, p) = self.file_at();
                [d, p, self.rw_open_flags(), mode, 0, 0]
            }
            Pread64 | Pwrite64 => {
                let len = self.len();
                [self.fd(), self.out_ptr(), len, self.offset(), 0, 0]
            }
            Ftruncate => [self.fd(), self.offset(), 0, 0, 0, 0],
            Getdents64 => [self.fd(), self.out_ptr(), self.len(), 0, 0, 0],
            Unlinkat => {
                let (d, p) = self.file_at();
                [d, p, self.rng.pick(&[0, 0, 0x200, 0x1234]), 0, 0, 0]
            }
            Mkdirat => {
                let (d, p) = self.file_at();
                [d, p, mode, 0, 0, 0]
            }
            Renameat2 => {
                let (d1, p1) = self.file_at();
                let (d2, p2) = self.file_at();
                // RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT, both first two
                [d1, p1, d2, p2, self.rng.pick(&[0, 0, 1, 2, 4, 3]), 0]
            }
            Linkat => {
                let (d1, p1) = self.file_at();
                let (d2, p2) = self.file_at();
                // AT_SYMLINK_FOLLOW; AT_EMPTY_PATH links the file a
                // descriptor names (one in the directory, or one opened
                // read-only elsewhere: refused, a directory or /proc).
                match self.rng.below(6) {
                    0 => [self.fd(), super::CTRL + NAMES_AT + (NAMES.len() - 1) * NAME_STRIDE, d2, p2, 0x1000, 0],
                    1 => [d1, p1, d2, p2, 0x400, 0],
                    _ => [d1, p1, d2, p2, self.rng.pick(&[0, 0, 0x1234]), 0],
                }
            }
            Symlinkat => {
                let (d, p) = self.file_at();
                let t = self.rng.below(TARGETS.len());
                let target = if self.rng.chance(8) { self.rng.pick(&[0, KERNEL_HALF]) } else { super::CTRL + TARGETS_AT + t * NAME_STRIDE };
                [target, d, p, 0, 0, 0]
            }
            Readlinkat => {
                let (d, p) = self.file_at();
                [d, p, self.out_ptr(), self.len(), 0, 0]
            }
            Fchmodat => {
                let (d, p) = self.file_at();
                [d, p, mode, self.rng.pick(&[0, 0, 0x100, 0x1234]), 0, 0]
            }
            Fchownat => {
                let (d, p) = self.file_at();
                let id = |s: &mut Self| s.rng.pick(&[0, 65534, u32::MAX as usize, 1000]);
                let (uid, gid) = (id(self), id(self));
                // AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH (with the empty name:
                // the directory itself)
                [d, p, uid, gid, self.rng.pick(&[0, 0x100, 0x1000, 0x1234]), 0]
            }
            Statx => {
                let (d, p) = self.file_at();
                let flags = self.rng.pick(&[0, 0x100, 0x800, 0x1000, 0x2000, 0x4000, 0x6000, 0xdead]);
                let mask = self.rng.pick(&[0x7ff, 0xfff, 0, u32::MAX as usize]);
                [d, p, flags, mask, self.out_ptr(), 0]
            }
            Umask => [mode, 0, 0, 0, 0, 0],
            Dup => [self.fd(), 0, 0, 0, 0, 0],
            Dup3 => [self.fd(), 3 + self.rng.below(24), self.rng.pick(&[0, 0, sys::O_CLOEXEC, 1]), 0, 0, 0],
            MemfdCreate => {
                // A name from NAMES (the empty one too), or a bad pointer;
                // MFD_CLOEXEC, MFD_ALLOW_SEALING, or bad flags.
                let name = match self.rng.below(8) {
                    0 => self.rng.pick(&[0, KERNEL_HALF]),
                    _ => super::CTRL + NAMES_AT + self.rng.below(NAMES.len()) * NAME_STRIDE,
                };
                [name, self.rng.pick(&[0, 1, 2, 3, 0x100, 4]), 0, 0, 0, 0]
            }
            MmapFile => {
                // A descriptor of the pool (a file, a memfd, a pipe, ...)
                // mapped at an arena page, shared or private, from one of
                // its first pages; the file may be shorter (SIGBUS pages:
                // the sandbox reaches them only through system calls,
                // which get EFAULT) and may be truncated later.
                let pages = 1 + self.rng.below(16);
                let addr = super::ARENA + self.rng.below(super::ARENA_LEN / PAGE_SIZE - pages) * PAGE_SIZE;
                let prot = self.rng.below(8);
                let flags = self.rng.pick(&[map::SHARED, map::PRIVATE]) | map::FIXED;
                let flags = flags | if self.rng.chance(6) { self.rng.pick(&[0x2000, 0x8000]) } else { 0 };
                [addr, pages * PAGE_SIZE, prot, flags, self.fd(), self.rng.below(4) * PAGE_SIZE]
            }
            Pipe2 => {
                let at = self.rng.pick(&[PIPE_FDS, PIPE_FDS, PIPE_FDS, 0, KERNEL_HALF, usize::MAX - 3]);
                // O_NONBLOCK, O_CLOEXEC, O_DIRECT, and an invalid flag
                [at, self.rng.pick(&[0, 0x800, sys::O_CLOEXEC, 0x4000, 0x800 | sys::O_CLOEXEC, 0x1234]), 0, 0, 0, 0]
            }
            Poll => self.poll_args(),
            Select => self.select_args(),
            _ => unreachable!("{call:?} is not a file call"),
        }
    }

    /// `poll` on up to eight of the sandbox's descriptors; the array lives
    /// in scratch (the kernel writes `revents`).
    fn poll_args(&mut self) -> [usize; 6] {
        let n = 1 + self.rng.below(8);
        for i in 0..n {
            let fd = self.fd() as u32 as u64;
            // POLLIN POLLPRI POLLOUT POLLRDHUP, or anything
            let events = self.rng.pick(&[1u64, 4, 5, 2, 0x2000, 0xffff]);
            super::scratch_write(8 * i, &(fd | events << 32).to_ne_bytes());
        }
        let nfds = self.rng.pick(&[0, n, n, n, 1 << 20]);
        let at = if self.rng.chance(10) { KERNEL_HALF } else { SCRATCH };
        [at, nfds, self.rng.pick(&[0, 1, 0, (-1i32) as u32 as usize]), 0, 0, 0]
    }

    /// `select` on the sandbox's descriptors: three fd sets and a timeval
    /// in scratch (the kernel writes back both), or refused pointers.
    fn select_args(&mut self) -> [usize; 6] {
        const SETS: usize = 1024; // three sets of 1024 bits
        const TV: usize = SETS + 3 * 128;
        let mut sets = [0usize; 3];
        for (k, set) in sets.iter_mut().enumerate() {
            let mut bits = [0u8; 128];
            for _ in 0..self.rng.below(4) {
                let fd = self.fd();
                if fd < 1024 {
                    bits[fd / 8] |= 1 << (fd % 8);
                }
            }
            super::scratch_write(SETS + 128 * k, &bits);
            *set = self.rng.pick(&[SCRATCH + SETS + 128 * k, SCRATCH + SETS + 128 * k, 0, KERNEL_HALF]);
        }
        // At most 1 ms; an invalid one; or none (the guard timer ends it).
        let short = self.rng.below(1000);
        let usec = self.rng.pick(&[0, short, 1_000_000, usize::MAX]);
        super::scratch_write(TV, &[0u64.to_ne_bytes(), (usec as u64).to_ne_bytes()].concat());
        let tv = self.rng.pick(&[SCRATCH + TV, SCRATCH + TV, SCRATCH + TV, 0, KERNEL_HALF]);
        let some = 1 + self.rng.below(64);
        let nfds = self.rng.pick(&[0, some, 64, 1025, usize::MAX]);
        [nfds, sets[0], sets[1], sets[2], tv, 0]
    }

    /// Keep track of a descriptor a call returned (at most 16 stay open).
    pub(super) fn track_fd(&mut self, fd: usize) {
        if fd < 3 || fd == DIR_FD || self.fds.contains(&fd) {
            return;
        }
        self.fds.push(fd);
        if self.fds.len() > 16 {
            let old = self.fds.remove(0);
            let _ = sys::close(old as i32);
        }
    }
}

/// `bytes` with a terminating NUL, as a C string.
fn cstring(bytes: &[u8]) -> alloc::ffi::CString {
    alloc::ffi::CString::new(bytes.to_vec()).unwrap_or_default()
}

/// `rm -r path`, not following symbolic links.
fn remove_tree(path: &[u8]) -> Result<(), Errno> {
    let c = cstring(path);
    match sys::unlinkat(sys::AT_FDCWD, &c, 0) {
        Ok(()) | Err(Errno::ENOENT) => return Ok(()),
        Err(Errno(21)) => {} // EISDIR
        Err(e) => return Err(e),
    }
    // A directory: empty it, then remove it.
    let fd = sys::openat(sys::AT_FDCWD, &c, 0x1_0000 | 0x2_0000 | sys::O_CLOEXEC, 0)?; // O_DIRECTORY|O_NOFOLLOW
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut buf = vec![0u8; 4096];
    loop {
        let n = match sys::getdents64(fd, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = sys::close(fd);
                return Err(e);
            }
        };
        let mut at = 0;
        while at + 19 < n {
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            let name = sys::cfield(&buf[at + 19..at + reclen.max(19)]);
            if name != b"." && name != b".." {
                names.push(name.to_vec());
            }
            at += reclen.max(1);
        }
    }
    let _ = sys::close(fd);
    for name in names {
        let mut child = path.to_vec();
        child.push(b'/');
        child.extend_from_slice(&name);
        remove_tree(&child)?;
    }
    sys::unlinkat(sys::AT_FDCWD, &c, 0x200)
}
