//! A sandbox for calling the kernel with hostile arguments: random system
//! calls whose pointers can only reach memory the sandbox owns (or memory
//! the kernel must refuse), so that whatever the kernel does with them, the
//! calling program keeps running and can check the kernel afterwards.
//!
//! Memory the sandbox owns, at fixed addresses far from the program (which
//! lives at 0x400000, its heap and stack near the top of user space):
//!
//! - `SCRATCH` (2 pages, read-write): any pointer argument the kernel may
//!   write through. Its contents become garbage; nothing trusts them.
//! - `CTRL` (1 page): arguments the kernel only reads and that must stay
//!   harmless: iovec arrays (whose bases are again sandbox pointers),
//!   timespecs of at most 1 ms, rlimits, paths. Never passed as an output.
//! - `ARENA` (64 MiB of address space): the only place memory-management
//!   calls may change. Ranges are clamped to it, or chosen so that the
//!   kernel must reject them whole (start + length wraps around, start in
//!   the kernel half, unaligned start).
//!
//! Each of the three is followed by unmapped address space, so a copy that
//! runs past its end faults instead of reaching the program.
//!
//! Calls that would make the run unbounded or reach outside the process are
//! shaped, not avoided: sleeps get at most 1 ms, futex waits always carry a
//! timeout, signals sent are only 0 or invalid numbers, file descriptors 0-2
//! are never passed, files are only opened read-only, `setrlimit` changes
//! only `RLIMIT_MEMLOCK`, `arch_prctl` only reads. `clone`, `exit`,
//! `exit_group` and `fork` are not called.
//!
//! [`Mode::Compare`] makes a run whose trace must be the same on Linux and
//! on Holdfast line by line, on any machine: it leaves out the calls whose
//! answer depends on the machine rather than on the kernel's rules, and
//! [`Traced`] prints the values that differ between machines (pids, the
//! randomized break) symbolically. The list, each with its reason, is on
//! [`Mode::Compare`].

mod files;
mod procs;

pub use procs::{child_status_ok, delivered, stop_guard, CHILD_CALLS, CHILD_FAILED, EXEC_FAILED};

use crate::mem::{map, PAGE_SIZE};
use crate::sys::{check, syscall6, Errno};
use alloc::vec::Vec;

pub const SCRATCH: usize = 0x4000_0000_0000;
pub const SCRATCH_LEN: usize = 2 * PAGE_SIZE;
pub const CTRL: usize = 0x4100_0000_0000;
pub const ARENA: usize = 0x5000_0000_0000;
pub const ARENA_LEN: usize = 64 << 20;
const KERNEL_HALF: usize = 0xffff_8000_0000_0000;

/// Where things live inside `CTRL`.
const IOV_AT: usize = 0; // 128 iovecs, 16 bytes each
const IOV_MAX_FILLED: usize = 128;
const TS_AT: usize = 2048; // 4 timespecs
const RLIM_AT: usize = 2112; // one rlimit
const PATHS_AT: usize = 2176; // up to 8 paths
const PATHS: &[&[u8]] = &[
    b"/proc/self/status\0",
    b"/proc/self/maps\0",
    b"/\0",
    b"/proc\0",
    b"/nonexistent\0",
    b"\0",
    b"proc/self/status\0",
    b"/proc/self/smaps\0",
];
/// [`Mode::Compare`]'s paths: none under /proc, whose file contents differ
/// between kernels and which Linux mounts `noexec` (so `mmap(PROT_EXEC)`
/// of it is EPERM there, ENODEV on Holdfast).
const COMPARE_PATHS: &[&[u8]] = &[b"/\0", b"/nonexistent\0", b"\0", b"/nonexistent/x\0"];
const PATH_STRIDE: usize = 32;
/// `RLIMIT_MEMLOCK` at the start of a [`Mode::Compare`] run (soft and hard):
/// Linux's default since 5.16 and Holdfast's.
pub const COMPARE_MEMLOCK: u64 = 8 << 20;
/// `MAP_HUGETLB`.
const MAP_HUGETLB: usize = 0x4_0000;
/// `MADV_COLLAPSE`.
const MADV_COLLAPSE: usize = 25;

/// What a run is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every kind of call and argument.
    Fuzz,
    /// A trace to compare with another kernel's, call by call. Left out,
    /// because the answer depends on the machine and not on the kernel's
    /// rules:
    ///
    /// - paths under /proc ([`COMPARE_PATHS`]), and `lseek` on the
    ///   descriptors the sandbox opened (directories: what `lseek` allows
    ///   on one depends on the filesystem, the host's ext4 or overlayfs
    ///   against Holdfast's initrd);
    /// - `kill(-1, ...)`, which on Linux reaches the host's processes;
    /// - raising `RLIMIT_MEMLOCK`'s hard limit: root may on Holdfast, but
    ///   on Linux only with CAP_SYS_RESOURCE, which containers often drop.
    ///   The run starts at [`COMPARE_MEMLOCK`] and new hard limits never
    ///   exceed the current one;
    /// - `MAP_HUGETLB` (Linux with hugetlbfs and no huge pages reserved:
    ///   ENOMEM; Holdfast is like Linux without hugetlbfs: EINVAL) and
    ///   `MADV_COLLAPSE` (whether Linux can assemble a huge page);
    /// - kernel output read back as input: every call sees a zeroed
    ///   scratch area (so "garbage" paths are empty strings), and the calls
    ///   that compare a futex word never look in the arena.
    ///
    /// `sched_getaffinity`'s success value is the size of the kernel's
    /// cpumask, a build constant; [`Traced`] prints it as `CPUMASK_BYTES`.
    Compare,
}

/// xorshift64*: small, deterministic and good enough to pick arguments.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next 64 random bits (xorshift64*; an infinite stream, not an
    /// iterator).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

/// One system call the fuzzer makes, and how its arguments are shaped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Call {
    Read,
    Write,
    Open,
    Close,
    Stat,
    Fstat,
    Lseek,
    Mmap,
    Mprotect,
    Munmap,
    Brk,
    RtSigaction,
    RtSigprocmask,
    Ioctl,
    Readv,
    Writev,
    SchedYield,
    Mremap,
    Msync,
    Mincore,
    Madvise,
    Nanosleep,
    Getpid,
    Kill,
    Uname,
    Fcntl,
    Getcwd,
    Getrlimit,
    Getuid,
    Setuid,
    Mlock,
    Munlock,
    Mlockall,
    Munlockall,
    ArchPrctl,
    Setrlimit,
    Gettid,
    Futex,
    SchedGetaffinity,
    SetTidAddress,
    ClockGettime,
    ClockGetres,
    ClockNanosleep,
    Tgkill,
    Openat,
    Newfstatat,
    Prlimit64,
    Getrandom,
    Mlock2,
    // [`Mode::Fuzz`] only, from here on ([`FUZZ_CALLS`]).
    OpenatRw,
    Pread64,
    Pwrite64,
    Ftruncate,
    Getdents64,
    Unlinkat,
    Mkdirat,
    Renameat2,
    Linkat,
    Symlinkat,
    Readlinkat,
    Fchmodat,
    Fchownat,
    Statx,
    Umask,
    Dup,
    Dup3,
    MemfdCreate,
    MmapFile,
    Pipe2,
    Poll,
    Select,
    Wait4,
    Waitid,
    Execve,
    SigactionHandler,
    Sigaltstack,
    RtSigsuspend,
    RtSigtimedwait,
    Pause,
    Getitimer,
    Fork,
}

pub const CALLS: &[Call] = &[
    Call::Read,
    Call::Write,
    Call::Open,
    Call::Close,
    Call::Stat,
    Call::Fstat,
    Call::Lseek,
    Call::Mmap,
    Call::Mprotect,
    Call::Munmap,
    Call::Brk,
    Call::RtSigaction,
    Call::RtSigprocmask,
    Call::Ioctl,
    Call::Readv,
    Call::Writev,
    Call::SchedYield,
    Call::Mremap,
    Call::Msync,
    Call::Mincore,
    Call::Madvise,
    Call::Nanosleep,
    Call::Getpid,
    Call::Kill,
    Call::Uname,
    Call::Fcntl,
    Call::Getcwd,
    Call::Getrlimit,
    Call::Getuid,
    Call::Setuid,
    Call::Mlock,
    Call::Munlock,
    Call::Mlockall,
    Call::Munlockall,
    Call::ArchPrctl,
    Call::Setrlimit,
    Call::Gettid,
    Call::Futex,
    Call::SchedGetaffinity,
    Call::SetTidAddress,
    Call::ClockGettime,
    Call::ClockGetres,
    Call::ClockNanosleep,
    Call::Tgkill,
    Call::Openat,
    Call::Newfstatat,
    Call::Prlimit64,
    Call::Getrandom,
    Call::Mlock2,
];

/// The calls [`Mode::Fuzz`] makes besides [`CALLS`]: files, pipes,
/// processes and signals. `Fork` is last: a forked child makes all but it.
pub const FUZZ_CALLS: &[Call] = &[
    Call::OpenatRw,
    Call::Pread64,
    Call::Pwrite64,
    Call::Ftruncate,
    Call::Getdents64,
    Call::Unlinkat,
    Call::Mkdirat,
    Call::Renameat2,
    Call::Linkat,
    Call::Symlinkat,
    Call::Readlinkat,
    Call::Fchmodat,
    Call::Fchownat,
    Call::Statx,
    Call::Umask,
    Call::Dup,
    Call::Dup3,
    Call::MemfdCreate,
    Call::MmapFile,
    Call::Pipe2,
    Call::Poll,
    Call::Select,
    Call::Wait4,
    Call::Waitid,
    Call::Execve,
    Call::SigactionHandler,
    Call::Sigaltstack,
    Call::RtSigsuspend,
    Call::RtSigtimedwait,
    Call::Pause,
    Call::Getitimer,
    Call::Fork,
];

/// Call number `i` of a run's list: [`CALLS`], then [`FUZZ_CALLS`].
pub fn call_at(i: usize) -> Call {
    CALLS.get(i).copied().unwrap_or_else(|| FUZZ_CALLS[i - CALLS.len()])
}

impl Call {
    /// The Linux x86_64 system call number.
    pub fn nr(self) -> usize {
        use Call::*;
        match self {
            Read => 0,
            Write => 1,
            Open => 2,
            Close => 3,
            Stat => 4,
            Fstat => 5,
            Lseek => 8,
            Mmap => 9,
            Mprotect => 10,
            Munmap => 11,
            Brk => 12,
            RtSigaction => 13,
            RtSigprocmask => 14,
            Ioctl => 16,
            Readv => 19,
            Writev => 20,
            SchedYield => 24,
            Mremap => 25,
            Msync => 26,
            Mincore => 27,
            Madvise => 28,
            Nanosleep => 35,
            Getpid => 39,
            Kill => 62,
            Uname => 63,
            Fcntl => 72,
            Getcwd => 79,
            Getrlimit => 97,
            Getuid => 102,
            Setuid => 105,
            Mlock => 149,
            Munlock => 150,
            Mlockall => 151,
            Munlockall => 152,
            ArchPrctl => 158,
            Setrlimit => 160,
            Gettid => 186,
            Futex => 202,
            SchedGetaffinity => 204,
            SetTidAddress => 218,
            ClockGettime => 228,
            ClockGetres => 229,
            ClockNanosleep => 230,
            Tgkill => 234,
            Openat => 257,
            Newfstatat => 262,
            Prlimit64 => 302,
            Getrandom => 318,
            Mlock2 => 325,
            OpenatRw => 257,
            Pread64 => 17,
            Pwrite64 => 18,
            Ftruncate => 77,
            Getdents64 => 217,
            Unlinkat => 263,
            Mkdirat => 258,
            Renameat2 => 316,
            Linkat => 265,
            Symlinkat => 266,
            Readlinkat => 267,
            Fchmodat => 268,
            Fchownat => 260,
            Statx => 332,
            Umask => 95,
            Dup => 32,
            Dup3 => 292,
            MemfdCreate => 319,
            MmapFile => 9,
            Pipe2 => 293,
            Poll => 7,
            Select => 23,
            Wait4 => 61,
            Waitid => 247,
            Execve => 59,
            SigactionHandler => 13,
            Sigaltstack => 131,
            RtSigsuspend => 130,
            RtSigtimedwait => 128,
            Pause => 34,
            Getitimer => 36,
            Fork => 57,
        }
    }
}

/// The sandbox: its regions, the descriptors it opened, its break.
pub struct Sandbox {
    pub rng: Rng,
    pub mode: Mode,
    paths: &'static [&'static [u8]],
    fds: Vec<usize>,
    brk0: usize,
    pid: usize,
    tid: usize,
    /// The process group the sandbox signals (its own, in [`Mode::Fuzz`]).
    pgid: usize,
    /// A forked or exec'd child: makes no `fork` of its own.
    nested: bool,
    /// Forked children not yet reaped (as far as the sandbox knows).
    children: Vec<usize>,
    /// Children reaped with a status that is not an acceptable end.
    bad_children: Vec<(usize, i32)>,
    /// The directory of [`files`] ([`Mode::Fuzz`]).
    dir: alloc::string::String,
}

/// Map `len` bytes read-write exactly at `addr`, which must be free.
fn map_fixed_noreplace(addr: usize, len: usize) -> Result<(), Errno> {
    const MAP_FIXED_NOREPLACE: usize = 0x10_0000;
    let flags = map::PRIVATE | map::ANONYMOUS | MAP_FIXED_NOREPLACE;
    // SAFETY: MAP_FIXED_NOREPLACE never replaces an existing mapping, so no
    // memory the program uses can change.
    let got = check(unsafe { syscall6(crate::sys::nr::MMAP, [addr, len, 3, flags, usize::MAX, 0]) })?;
    if got != addr {
        return Err(Errno::EEXIST);
    }
    Ok(())
}

/// Write `bytes` at `CTRL + at`.
fn ctrl_write(at: usize, bytes: &[u8]) {
    assert!(at + bytes.len() <= PAGE_SIZE);
    // SAFETY: CTRL is a page the sandbox mapped and owns; no Rust reference
    // points into it, and the kernel never writes it (it is only passed as
    // an input).
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), (CTRL + at) as *mut u8, bytes.len()) };
}

/// Touch the 256 KiB of stack below the caller's frame.
#[inline(never)]
fn grow_stack() {
    let mut room = [0u8; 256 << 10];
    core::hint::black_box(&mut room);
}

/// Write `bytes` at `SCRATCH + at` (arguments the kernel reads and
/// writes back, like `poll`'s array).
fn scratch_write(at: usize, bytes: &[u8]) {
    assert!(at + bytes.len() <= SCRATCH_LEN);
    // SAFETY: SCRATCH is the sandbox's own mapping, which no Rust
    // reference points into.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), (SCRATCH + at) as *mut u8, bytes.len()) };
}

/// Read `SCRATCH + at` into `out` (what a call just wrote there).
fn scratch_read(at: usize, out: &mut [u8]) {
    assert!(at + out.len() <= SCRATCH_LEN);
    // SAFETY: as in `scratch_write`; the bytes are plain data.
    unsafe { core::ptr::copy_nonoverlapping((SCRATCH + at) as *const u8, out.as_mut_ptr(), out.len()) };
}

fn ctrl_u64s(at: usize, words: &[u64]) {
    for (i, w) in words.iter().enumerate() {
        ctrl_write(at + 8 * i, &w.to_ne_bytes());
    }
}

impl Sandbox {
    /// Map the scratch and control pages (the arena starts empty); in
    /// [`Mode::Compare`] also set `RLIMIT_MEMLOCK` to [`COMPARE_MEMLOCK`];
    /// in [`Mode::Fuzz`] make the files, handlers and guard timer of
    /// [`files`] and [`procs`], in a process group of the sandbox's own
    /// unless `nested` (a child run: no `fork`).
    pub fn new(seed: u64, mode: Mode, nested: bool) -> Result<Sandbox, Errno> {
        if mode == Mode::Compare {
            let limit = crate::sys::Rlimit { cur: COMPARE_MEMLOCK, max: COMPARE_MEMLOCK };
            crate::sys::setrlimit(crate::sys::RLIMIT_MEMLOCK, &limit)?;
        }
        map_fixed_noreplace(SCRATCH, SCRATCH_LEN)?;
        map_fixed_noreplace(CTRL, PAGE_SIZE)?;
        // Inherited descriptors (a pipe from a build tool, say) could block a
        // read; the sandbox uses only what it opens itself.
        for fd in 3..64 {
            // SAFETY: closing a descriptor frees no memory.
            unsafe { syscall6(3, [fd, 0, 0, 0, 0, 0]) };
        }
        let paths = if mode == Mode::Compare { COMPARE_PATHS } else { PATHS };
        for (i, p) in paths.iter().enumerate() {
            ctrl_write(PATHS_AT + i * PATH_STRIDE, p);
        }
        // SAFETY: these three only return numbers.
        let (brk0, pid, tid) = unsafe { (syscall6(12, [0; 6]) as usize, syscall6(39, [0; 6]) as usize, syscall6(186, [0; 6]) as usize) };
        // Reserved now: after mlockall(MCL_FUTURE) and a setuid away from root,
        // the allocator's next mmap may fail, so the run must not allocate.
        let mut sb = Sandbox {
            rng: Rng::new(seed),
            mode,
            paths,
            fds: Vec::with_capacity(32),
            brk0,
            pid,
            tid,
            pgid: pid,
            nested,
            children: Vec::with_capacity(8),
            bad_children: Vec::with_capacity(16),
            dir: alloc::string::String::new(),
        };
        if mode == Mode::Fuzz {
            sb.setup_fuzz()?;
        }
        Ok(sb)
    }

    /// [`Mode::Fuzz`]'s files, signals and process group.
    fn setup_fuzz(&mut self) -> Result<(), Errno> {
        // Signal frames are built on the stack: grow it now, while growing
        // is allowed. After mlockall(MCL_FUTURE) and a setuid away from
        // root, a stack that must grow for a frame may not (RLIMIT_MEMLOCK),
        // and the process would die of SIGSEGV, as on Linux.
        grow_stack();
        // SAFETY: getpgid only returns a number.
        let getpgid = || check(unsafe { syscall6(121, [0; 6]) });
        if !self.nested && getpgid()? != self.pid {
            // kill(0, sig) must reach no process but the sandbox's. (A
            // session leader, which may not do this, leads its group.)
            crate::sys::setpgid(0, 0)?;
        }
        self.pgid = getpgid()?;
        map_fixed_noreplace(procs::ALTSTACK, procs::ALTSTACK_LEN)?;
        // A child inherits the umask random calls gave its parent.
        // SAFETY: umask only returns a number.
        unsafe { syscall6(95, [0o022, 0, 0, 0, 0, 0]) };
        self.setup_files()?;
        let noexec = alloc::format!("{}.noexec\0", self.dir);
        let path = core::ffi::CStr::from_bytes_with_nul(noexec.as_bytes()).map_err(|_| Errno::EINVAL)?;
        // O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, mode 0755: executable, not a program.
        let fd = crate::sys::openat(crate::sys::AT_FDCWD, path, 0o1 | 0o100 | 0o1000 | crate::sys::O_CLOEXEC, 0o755)?;
        let written = crate::sys::write_all(fd, b"not a program\n");
        crate::sys::close(fd)?;
        written?;
        self.setup_exec(noexec.as_bytes());
        procs::install()
    }

    /// How many calls a run picks from: [`CALLS`], and in [`Mode::Fuzz`]
    /// also [`FUZZ_CALLS`] (without `fork` in a child).
    pub fn call_count(&self) -> usize {
        match (self.mode, self.nested) {
            (Mode::Compare, _) => CALLS.len(),
            (Mode::Fuzz, false) => CALLS.len() + FUZZ_CALLS.len(),
            (Mode::Fuzz, true) => CALLS.len() + FUZZ_CALLS.len() - 1,
        }
    }

    /// Pick, shape and make one call: `(index in the list, call, arguments,
    /// result)`.
    pub fn step(&mut self) -> (usize, Call, [usize; 6], isize) {
        let which = self.rng.below(self.call_count());
        let call = call_at(which);
        let a = self.args(call);
        let ret = self.call(call, a);
        (which, call, a, ret)
    }

    /// A pointer the kernel may write through: scratch, arena, or an
    /// address it must refuse.
    fn out_ptr(&mut self) -> usize {
        match self.rng.below(10) {
            0 => 0,
            1 => KERNEL_HALF + self.rng.below(1 << 20) * 8,
            2 => usize::MAX - self.rng.below(PAGE_SIZE),
            3 => ARENA + ARENA_LEN + self.rng.below(1 << 20), // never mapped
            4..=6 => SCRATCH + self.rng.below(SCRATCH_LEN),
            _ => ARENA + self.rng.below(ARENA_LEN),
        }
    }

    /// A byte count for a copy.
    fn len(&mut self) -> usize {
        match self.rng.below(10) {
            0 => 0,
            1 => 1,
            2 => 8,
            3 => PAGE_SIZE,
            4 => PAGE_SIZE + 1,
            5 => usize::MAX - self.rng.below(16),
            6 => 1 << 40,
            _ => self.rng.below(3 * PAGE_SIZE),
        }
    }

    /// A file descriptor other than 0, 1 and 2.
    ///
    /// Draws the same random numbers whatever the kernel answered before,
    /// so that a seed gives the same sequence of calls on every kernel.
    fn fd(&mut self) -> usize {
        let (mine, k) = (self.rng.below(3) != 0, self.rng.next() as usize);
        let low = 3 + self.rng.below(8);
        let other = self.rng.pick(&[usize::MAX, low, 1000, 1 << 20, (-100isize) as usize]);
        if mine && !self.fds.is_empty() {
            self.fds[k % self.fds.len()]
        } else {
            other
        }
    }

    /// A descriptor for `lseek`: in [`Mode::Compare`] none the sandbox
    /// opened (see there).
    fn lseek_fd(&mut self) -> usize {
        let fd = self.fd();
        if self.mode == Mode::Compare && self.fds.contains(&fd) {
            usize::MAX
        } else {
            fd
        }
    }

    /// A path: one of the sandbox's strings, scratch garbage, or refused.
    fn path(&mut self) -> usize {
        match self.rng.below(8) {
            0 => SCRATCH + self.rng.below(SCRATCH_LEN),
            1 => KERNEL_HALF,
            2 => 0,
            _ => CTRL + PATHS_AT + self.rng.below(self.paths.len()) * PATH_STRIDE,
        }
    }

    /// A range for a memory-management call: inside the arena, or one the
    /// kernel must reject as a whole.
    fn range(&mut self) -> (usize, usize) {
        let page = |s: &mut Self| s.rng.below(ARENA_LEN / PAGE_SIZE) * PAGE_SIZE;
        match self.rng.below(12) {
            0 => (ARENA + page(self) + 1 + self.rng.below(PAGE_SIZE - 1), self.rng.below(4 * PAGE_SIZE)), // unaligned
            1 => (ARENA + page(self), usize::MAX - self.rng.below(2 * PAGE_SIZE)),                        // wraps
            2 => (KERNEL_HALF + page(self), PAGE_SIZE * (1 + self.rng.below(4))),
            3 => (ARENA + page(self), 0),
            _ => {
                let start = page(self);
                let room = ARENA_LEN - start;
                let max_pages = (room / PAGE_SIZE).min(if self.rng.chance(4) { 2048 } else { 64 });
                let len = (1 + self.rng.below(max_pages)) * PAGE_SIZE - if self.rng.chance(8) { self.rng.below(PAGE_SIZE) } else { 0 };
                (ARENA + start, len)
            }
        }
    }

    /// A page-aligned arena address (for `mmap`/`mremap` destinations).
    fn arena_page(&mut self) -> usize {
        ARENA + self.rng.below(ARENA_LEN / PAGE_SIZE) * PAGE_SIZE
    }

    /// A pointer to a timespec of at most 1 ms (or an invalid one), or an
    /// address the kernel must refuse. Never null, so no wait is unbounded.
    fn timespec(&mut self) -> usize {
        let slot = self.rng.below(4);
        let (sec, nsec): (i64, i64) = match self.rng.below(6) {
            0 => (0, 1_000_000_000), // EINVAL
            1 => (-1, 0),            // EINVAL
            2 => (0, -1),            // EINVAL
            _ => (0, self.rng.below(1_000_000) as i64),
        };
        ctrl_u64s(TS_AT + slot * 16, &[sec as u64, nsec as u64]);
        if self.rng.chance(10) {
            KERNEL_HALF
        } else {
            CTRL + TS_AT + slot * 16
        }
    }

    /// An iovec array in CTRL whose bases are sandbox pointers.
    fn iov(&mut self) -> (usize, usize) {
        for i in 0..IOV_MAX_FILLED {
            let base = self.out_ptr();
            let len = if self.rng.chance(8) { self.len() } else { self.rng.below(256) };
            ctrl_u64s(IOV_AT + 16 * i, &[base as u64, len as u64]);
        }
        let cnt = match self.rng.below(8) {
            0 => 0,
            1 => 1025 + self.rng.below(100), // > IOV_MAX: EINVAL
            2 => usize::MAX,
            _ => 1 + self.rng.below(IOV_MAX_FILLED),
        };
        let at = if self.rng.chance(10) { KERNEL_HALF } else { CTRL + IOV_AT };
        (at, cnt)
    }

    /// The arguments for one call of `call`.
    pub fn args(&mut self, call: Call) -> [usize; 6] {
        use Call::*;
        let r = &mut self.rng;
        let any = r.next() as usize;
        match call {
            Read => [self.fd(), self.out_ptr(), self.len(), 0, 0, 0],
            Write => [self.fd(), self.out_ptr(), self.len(), 0, 0, 0],
            Open => {
                let flags = self.open_flags();
                [self.path(), flags, any & 0o7777, 0, 0, 0]
            }
            Openat => {
                let dirfd = self.fd();
                let path = self.path();
                let flags = self.open_flags();
                [dirfd, path, flags, any & 0o7777, 0, 0]
            }
            Close => [self.fd(), 0, 0, 0, 0, 0],
            Stat => [self.path(), self.out_ptr(), 0, 0, 0, 0],
            Fstat => [self.fd(), self.out_ptr(), 0, 0, 0, 0],
            Newfstatat => {
                let flags = self.rng.pick(&[0, 0x1000, 0x100, 0x800, 0xdead]);
                [self.fd(), self.path(), self.out_ptr(), flags, 0, 0]
            }
            Lseek => [self.lseek_fd(), self.rng.pick(&[0, 1, 4096, usize::MAX, 1 << 62, any]), self.rng.below(6), 0, 0, 0],
            Mmap => {
                let (addr, len) = if self.rng.chance(3) { (self.arena_page(), (1 + self.rng.below(64)) * PAGE_SIZE) } else { self.range() };
                let len = if len != 0 && addr >= ARENA && addr.checked_add(len).is_some_and(|e| e > ARENA + ARENA_LEN) {
                    ARENA + ARENA_LEN - addr
                } else {
                    len
                };
                let prot = if self.rng.chance(10) { self.rng.below(16) | 0x100 } else { self.rng.below(8) };
                let mut flags = self.rng.pick(&[map::PRIVATE, map::PRIVATE, map::SHARED, 0, 3]);
                if !self.rng.chance(10) {
                    flags |= map::ANONYMOUS;
                }
                // 0x2000 MAP_LOCKED, 0x8000 MAP_POPULATE, 0x10000 MAP_NONBLOCK,
                // 0x4000 MAP_NORESERVE, 0x100 MAP_GROWSDOWN, 0x40000 MAP_HUGETLB
                for bit in [0x2000, 0x8000, 0x10000, 0x4000, 0x100, MAP_HUGETLB, 0x80_0000] {
                    if self.rng.chance(5) {
                        flags |= bit;
                    }
                }
                if self.mode == Mode::Compare {
                    flags &= !MAP_HUGETLB;
                }
                // Always an exact placement: MAP_FIXED or MAP_FIXED_NOREPLACE.
                flags |= if self.rng.chance(4) { 0x10_0000 } else { map::FIXED };
                let fd = if flags & map::ANONYMOUS != 0 && !self.rng.chance(8) { usize::MAX } else { self.fd() };
                let off = self.rng.pick(&[0, PAGE_SIZE, 1, usize::MAX & !0xfff]);
                [addr, len, prot, flags, fd, off]
            }
            Mprotect => {
                let (a, l) = self.range();
                let prot = if self.rng.chance(10) {
                    self.rng.pick(&[0x8, 0x1000000, 0x2000000, 0x1000]) | self.rng.below(8)
                } else {
                    self.rng.below(8)
                };
                [a, l, prot, 0, 0, 0]
            }
            Munmap => {
                let (a, l) = self.range();
                [a, l, 0, 0, 0, 0]
            }
            Madvise => {
                let (a, l) = self.range();
                // Every advice up to MADV_COLLAPSE, and invalid ones; never
                // MADV_HWPOISON (100) or MADV_SOFT_OFFLINE (101).
                // (102 and 103 are MADV_GUARD_* on Linux 6.13+, which Holdfast
                // does not have; they are left out to keep traces comparable.)
                let advice = if self.rng.chance(8) { self.rng.pick(&[26, 99, 104, 1000, usize::MAX]) } else { self.rng.below(26) };
                let advice = if self.mode == Mode::Compare && advice == MADV_COLLAPSE { 0 } else { advice };
                [a, l, advice, 0, 0, 0]
            }
            Mlock | Munlock => {
                let (a, l) = self.range();
                [a, l, 0, 0, 0, 0]
            }
            Mlock2 => {
                let (a, l) = self.range();
                [a, l, self.rng.pick(&[0, 1, 1, 2, 3, 0x80]), 0, 0, 0]
            }
            Mlockall => [self.rng.below(16), 0, 0, 0, 0, 0],
            Munlockall => [0; 6],
            Msync => {
                let (a, l) = self.range();
                [a, l, self.rng.below(8), 0, 0, 0]
            }
            Mincore => {
                let (a, l) = self.range();
                [a, l, self.out_ptr(), 0, 0, 0]
            }
            Mremap => {
                let (old, old_len) =
                    if self.rng.chance(2) { (self.arena_page(), (1 + self.rng.below(64)) * PAGE_SIZE) } else { self.range() };
                let new_len =
                    if self.rng.chance(8) { self.rng.pick(&[0, usize::MAX - 4095]) } else { (1 + self.rng.below(256)) * PAGE_SIZE };
                let new_addr = self.arena_page();
                let new_len = if new_addr.checked_add(new_len).is_some_and(|e| e > ARENA + ARENA_LEN) {
                    ARENA + ARENA_LEN - new_addr
                } else {
                    new_len
                };
                // MREMAP_MAYMOVE alone would let the kernel move the range out
                // of the arena, so moves always name their destination.
                let flags = self.rng.pick(&[0, 1 | 2, 1 | 2 | 4, 2, 4, 8, 1 | 2 | 8]);
                [old, old_len, new_len, flags, new_addr, 0]
            }
            Brk => {
                let b = self.brk0;
                let (up, down) = (b + self.rng.below(4 << 20), b.saturating_sub(self.rng.below(1 << 20)));
                [self.rng.pick(&[0, up, down, KERNEL_HALF, usize::MAX]), 0, 0, 0, 0, 0]
            }
            RtSigaction => {
                let in_scratch = SCRATCH + self.rng.below(SCRATCH_LEN - 32);
                let act = self.rng.pick(&[0, in_scratch, KERNEL_HALF]);
                let size = self.rng.pick(&[8, 8, 4, 16, usize::MAX]);
                let sig = self.rng.below(70);
                let sig = if self.mode == Mode::Fuzz { self.garbage_action_signal(sig) } else { sig };
                [sig, act, self.out_ptr(), size, 0, 0]
            }
            RtSigprocmask if self.mode == Mode::Fuzz => {
                let set = self.sigset_ptr();
                [self.rng.below(5), set, self.out_ptr(), self.rng.pick(&[8, 8, 4, 16]), 0, 0]
            }
            RtSigprocmask => {
                let in_scratch = SCRATCH + self.rng.below(SCRATCH_LEN - 8);
                let set = self.rng.pick(&[0, in_scratch, KERNEL_HALF]);
                let size = self.rng.pick(&[8, 8, 4, 16]);
                [self.rng.below(5), set, self.out_ptr(), size, 0, 0]
            }
            Ioctl => {
                // Terminal and generic requests, and numbers of an ioctl type
                // no driver uses; never a random request, which could name
                // one that changes the host's filesystem (FIFREEZE, ...).
                let unknown = (0xe7 << 8) | self.rng.below(256) | (self.rng.below(4) << 30);
                let req = self.rng.pick(&[0x5401, 0x5413, 0x541b, 0x5421, 0x5451, 0x5450, 0, unknown, unknown]);
                [self.fd(), req, self.out_ptr(), 0, 0, 0]
            }
            Readv | Writev => {
                let fd = self.fd();
                let (iov, cnt) = self.iov();
                [fd, iov, cnt, 0, 0, 0]
            }
            SchedYield | Getpid | Getuid | Gettid => [0; 6],
            Nanosleep => [self.timespec(), self.out_ptr(), 0, 0, 0, 0],
            ClockNanosleep => {
                // Only clocks a sleep on can end: not a CPU-time clock.
                let clock = self.rng.pick(&[0, 1, 7, 100]);
                [clock, self.rng.pick(&[0, 1, 2]), self.timespec(), self.out_ptr(), 0, 0]
            }
            Kill if self.mode == Mode::Fuzz => {
                let pid = self.kill_pid();
                [pid, self.signal_for(pid), 0, 0, 0, 0]
            }
            Kill => {
                let pid = self.rng.pick(&[self.pid, 0, usize::MAX, 1 << 30, (-(1isize << 30)) as usize]);
                let pid = if self.mode == Mode::Compare && pid == usize::MAX { 0 } else { pid };
                [pid, self.rng.pick(&[0, 65, 1000, usize::MAX]), 0, 0, 0, 0]
            }
            Tgkill if self.mode == Mode::Fuzz => {
                let (pid, tid) = (self.rng.pick(&[self.pid, 0, 1 << 30]), self.rng.pick(&[self.tid, 0, 1 << 30]));
                [pid, tid, self.signal_for(pid), 0, 0, 0]
            }
            Tgkill => {
                [self.rng.pick(&[self.pid, 0, 1 << 30]), self.rng.pick(&[self.tid, 0, 1 << 30]), self.rng.pick(&[0, 65, 1000]), 0, 0, 0]
            }
            Uname => [self.out_ptr(), 0, 0, 0, 0, 0],
            Fcntl => {
                let cmd = self.rng.pick(&[0, 1, 2, 3, 4, 1030, 9999]);
                [self.fd(), cmd, self.rng.pick(&[0, 1, 3, 100, 1 << 20, usize::MAX]), 0, 0, 0]
            }
            Getcwd => [self.out_ptr(), self.len(), 0, 0, 0, 0],
            Getrlimit => [self.rng.below(20), self.out_ptr(), 0, 0, 0, 0],
            // Dropping root is for good (Linux), and ends the mlock calls'
            // success with CAP_IPC_LOCK: make it rare.
            Setuid => [if self.rng.chance(40) { self.rng.pick(&[65534, 1000, usize::MAX]) } else { 0 }, 0, 0, 0, 0, 0],
            Setrlimit => {
                let new = self.rlimit();
                [self.rng.pick(&[8, 8, 16, 100]), new, 0, 0, 0, 0]
            }
            Prlimit64 => {
                let resource = self.rng.below(20);
                let new = if resource == 8 || self.rng.chance(4) && resource >= 16 { self.rlimit() } else { 0 };
                let pid = self.rng.pick(&[0, self.pid, 1 << 30]);
                [pid, resource, new, self.out_ptr(), 0, 0]
            }
            ArchPrctl => [self.rng.pick(&[0x1003, 0x1004, 0x9999, 0]), self.out_ptr(), 0, 0, 0, 0],
            Futex => {
                let uaddr = self.out_ptr() & !3;
                let op = self.rng.pick(&[0, 1, 3, 4, 9, 10, 50])
                    | if self.rng.chance(2) { 128 } else { 0 }
                    | if self.rng.chance(6) { 256 } else { 0 };
                let is_wait = matches!(op & 0x7f, 0 | 9);
                // WAIT, WAIT_BITSET and CMP_REQUEUE compare the word at uaddr.
                let reads_word = matches!(op & 0x7f, 0 | 4 | 9);
                let in_arena = (ARENA..ARENA + ARENA_LEN).contains(&uaddr);
                let uaddr =
                    if self.mode == Mode::Compare && reads_word && in_arena { SCRATCH + (uaddr & (SCRATCH_LEN - 4)) } else { uaddr };
                let val2 = if is_wait { self.timespec() } else { self.rng.below(4) };
                let val3 = self.rng.pick(&[0, 1, usize::MAX, 0x5a]);
                [uaddr, op, self.rng.pick(&[0, 1, usize::MAX]), val2, self.out_ptr() & !3, val3]
            }
            SchedGetaffinity => [self.rng.pick(&[0, self.pid, 1 << 30]), self.rng.pick(&[0, 7, 8, 128, 4096]), self.out_ptr(), 0, 0, 0],
            SetTidAddress => [self.out_ptr(), 0, 0, 0, 0, 0],
            ClockGettime | ClockGetres => [self.rng.pick(&[0, 1, 2, 3, 4, 5, 6, 7, 11, 100, usize::MAX]), self.out_ptr(), 0, 0, 0, 0],
            Getrandom => {
                let len = self.len().min(1 << 20);
                [self.out_ptr(), len, self.rng.pick(&[0, 1, 2, 3, 4, 8]), 0, 0, 0]
            }
            OpenatRw | Pread64 | Pwrite64 | Ftruncate | Getdents64 | Unlinkat | Mkdirat | Renameat2 | Linkat | Symlinkat | Readlinkat
            | Fchmodat | Fchownat | Statx | Umask | Dup | Dup3 | MemfdCreate | MmapFile | Pipe2 | Poll | Select => self.file_args(call),
            Wait4 | Waitid | Execve | SigactionHandler | Sigaltstack | RtSigsuspend | RtSigtimedwait | Pause | Getitimer | Fork => {
                self.proc_args(call)
            }
        }
    }

    /// Read-only open flags with random harmless extras: never `O_CREAT`,
    /// `O_TRUNC`, `O_APPEND`, `O_TMPFILE` or a write access mode.
    fn open_flags(&mut self) -> usize {
        let mut f = 0;
        for bit in [0x800, 0x1_0000, 0x2_0000, 0x8_0000, 0x20_0000, 0x8000, 0x100, 0x4_0000] {
            if self.rng.chance(4) {
                f |= bit;
            }
        }
        f
    }

    /// An rlimit in CTRL (for RLIMIT_MEMLOCK-sized values), or refused. In
    /// [`Mode::Compare`] its hard limit is at most the current one.
    fn rlimit(&mut self) -> usize {
        let v = [0u64, 4096, 1 << 20, 64 << 20, u64::MAX];
        let cur = self.rng.pick(&v);
        let max = self.rng.pick(&v);
        let max = match self.mode {
            Mode::Compare => max.min(crate::sys::getrlimit(crate::sys::RLIMIT_MEMLOCK).map_or(0, |r| r.max)),
            Mode::Fuzz => max,
        };
        ctrl_u64s(RLIM_AT, &[cur, max]);
        if self.rng.chance(8) {
            KERNEL_HALF
        } else {
            CTRL + RLIM_AT
        }
    }

    /// Unmap the whole arena (what the random calls left there).
    pub fn unmap_arena(&mut self) -> Result<(), Errno> {
        // SAFETY: the arena holds only mappings the sandbox's calls made.
        check(unsafe { syscall6(crate::sys::nr::MUNMAP, [ARENA, ARENA_LEN, 0, 0, 0, 0]) }).map(|_| ())
    }

    /// Make one call with the given arguments, and keep track of the
    /// descriptors it opened (at most 16 stay open).
    pub fn call(&mut self, call: Call, a: [usize; 6]) -> isize {
        if self.mode == Mode::Compare {
            // SAFETY: SCRATCH is the sandbox's own mapping; nothing but the
            // kernel (as told by earlier calls) writes it.
            unsafe { core::ptr::write_bytes(SCRATCH as *mut u8, 0, SCRATCH_LEN) };
        }
        match call {
            Call::Fork => return self.fork_call(),
            Call::Wait4 | Call::Waitid => self.before_wait(),
            _ => {}
        }
        // SAFETY: `args` builds every argument the kernel may write through
        // from `out_ptr` (scratch, arena, or addresses the kernel must
        // refuse), every argument it reads as a structure from CTRL, and
        // every memory-management range inside the arena or so that the
        // kernel must reject it whole; none of these overlaps memory the
        // program's Rust code uses, each is followed by unmapped space, and
        // no call that could end the process is made; `fork` is made by
        // `fork_call`, `execve` only of files that cannot run (`procs`).
        let ret = unsafe { syscall6(call.nr(), a) };
        let opened = matches!(call, Call::Open | Call::Openat | Call::OpenatRw | Call::Dup | Call::Dup3 | Call::MemfdCreate)
            || (call == Call::Fcntl && matches!(a[1], 0 | 1030));
        if opened && ret >= 3 {
            self.track_fd(ret as usize);
        }
        match call {
            Call::Close if ret == 0 => self.fds.retain(|&f| f != a[0]),
            Call::Pipe2 if ret == 0 && a[0] == files::PIPE_FDS => {
                let mut b = [0u8; 8];
                scratch_read(files::PIPE_FDS - SCRATCH, &mut b);
                self.track_fd(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize);
                self.track_fd(u32::from_ne_bytes([b[4], b[5], b[6], b[7]]) as usize);
            }
            Call::Wait4 | Call::Waitid => self.after_wait(call, a, ret),
            _ => {}
        }
        ret
    }
}

/// One traced call as a line: `Name(a0, ..., a5) = result`. In
/// [`Mode::Compare`] the values that differ between machines are printed
/// as names: the pid and tid as `PID`/`TID` where a call takes or returns
/// them, addresses near the initial break as `BRK+0x..` (Linux randomizes
/// it), and `sched_getaffinity`'s success as `CPUMASK_BYTES`.
pub struct Traced<'a> {
    pub sb: &'a Sandbox,
    pub call: Call,
    pub args: [usize; 6],
    pub ret: isize,
}

/// How a value prints in a trace.
enum Shown {
    Hex(usize),
    Pid,
    Tid,
    Brk(isize),
    Errno(u16),
    CpumaskBytes,
}

impl core::fmt::Display for Shown {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Shown::Hex(v) => write!(f, "{v:#x}"),
            Shown::Pid => f.write_str("PID"),
            Shown::Tid => f.write_str("TID"),
            Shown::Brk(d) if d < 0 => write!(f, "BRK-{:#x}", d.unsigned_abs()),
            Shown::Brk(d) => write!(f, "BRK+{d:#x}"),
            Shown::Errno(e) => write!(f, "{:?}", Errno(e)),
            Shown::CpumaskBytes => f.write_str("CPUMASK_BYTES"),
        }
    }
}

impl Traced<'_> {
    /// How argument `i` (or the result, `i == 6`) prints.
    fn shown(&self, i: usize) -> Shown {
        use Call::*;
        let ret = i == 6;
        let v = if ret { self.ret as usize } else { self.args[i] };
        if ret && (-4095..0).contains(&self.ret) {
            return Shown::Errno((-self.ret) as u16);
        }
        if self.sb.mode == Mode::Fuzz {
            return Shown::Hex(v);
        }
        let pid_at: &[usize] = match self.call {
            Kill | Prlimit64 | SchedGetaffinity => &[0],
            Tgkill => &[0],
            Getpid => &[6],
            _ => &[],
        };
        let tid_at: &[usize] = match self.call {
            Tgkill => &[1],
            Gettid | SetTidAddress => &[6],
            _ => &[],
        };
        // `brk` arguments are 0, KERNEL_HALF, usize::MAX (printed as they
        // are) or within a few MiB of the initial break.
        let near_brk = |v: usize| v != 0 && v.abs_diff(self.sb.brk0) < 64 << 20;
        match self.call {
            _ if pid_at.contains(&i) && v == self.sb.pid => Shown::Pid,
            _ if tid_at.contains(&i) && v == self.sb.tid => Shown::Tid,
            Brk if (i == 0 || ret) && near_brk(v) => Shown::Brk(v.wrapping_sub(self.sb.brk0) as isize),
            SchedGetaffinity if ret => Shown::CpumaskBytes,
            _ => Shown::Hex(v),
        }
    }
}

impl core::fmt::Display for Traced<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:?}(", self.call)?;
        for i in 0..6 {
            write!(f, "{}{}", if i > 0 { ", " } else { "" }, self.shown(i))?;
        }
        write!(f, ") = {}", self.shown(6))
    }
}

/// What a result shows to be wrong, whatever the arguments were.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Problem {
    /// An error that is not a Linux errno (1..=133).
    NotAnErrno,
    /// A successful `MAP_FIXED` mmap somewhere else than asked.
    MapFixedMoved,
    /// `brk` failed (it returns the current break instead).
    BrkFailed,
}

/// Check one call's result (see [`Problem`]).
pub fn problem(call: Call, a: [usize; 6], ret: isize) -> Option<Problem> {
    if (-4095..0).contains(&ret) && !(1..=133).contains(&-ret) {
        Some(Problem::NotAnErrno)
    } else if matches!(call, Call::Mmap | Call::MmapFile) && ret >= 0 && a[3] & map::FIXED != 0 && ret as usize != a[0] {
        Some(Problem::MapFixedMoved)
    } else if call == Call::Brk && ret <= 0 {
        Some(Problem::BrkFailed)
    } else {
        None
    }
}
