//! `abi_basic`: one check per basic Linux system call a static binary needs:
//! identity, uname, clocks, nanosleep, brk, mmap (hinted and fixed), mprotect,
//! munmap, madvise(MADV_DONTNEED), mincore, RLIMIT_MEMLOCK via getrlimit /
//! setrlimit / prlimit64, arch_prctl(ARCH_SET_FS), /proc/self/maps and
//! /proc/self/status, ioctl(TIOCGWINSZ), writev; and the file-system
//! calls' errors, in Linux's order: path names as bytes, directories,
//! newfstatat flags, read/write/readv/writev checks, fcntl, generic
//! ioctls and lseek(SEEK_DATA/SEEK_HOLE).

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;
use holdfast_user::fs::{self, MapsLine};
use holdfast_user::mem::{self, prot, Region, PAGE_SIZE};
use holdfast_user::sys::{self, Errno, Rlimit, Timespec};
use holdfast_user::tap::Tap;
use holdfast_user::time::{self, Instant};
use holdfast_user::{entry, probe, Args};

entry!(main);

fn main(args: Args) -> i32 {
    let mut t = Tap::new("abi_basic");
    auxv(&mut t, &args);
    identity(&mut t);
    uname(&mut t);
    clocks(&mut t);
    brk(&mut t);
    mmap_family(&mut t);
    mincore(&mut t);
    rlimits(&mut t);
    tls(&mut t);
    procfs(&mut t, args.auxv(holdfast_user::entry::AT_ENTRY).unwrap_or(0));
    tty_and_writev(&mut t);
    fs_paths(&mut t);
    fs_dirs(&mut t);
    fs_stat(&mut t);
    fs_rw(&mut t);
    fs_fcntl_ioctl(&mut t);
    fs_lseek(&mut t, args.get_bytes(0).unwrap_or(b""));
    t.finish()
}

fn identity(t: &mut Tap) {
    let pid = sys::getpid();
    let tid = sys::gettid();
    t.check(pid > 0, "getpid > 0", pid, "> 0");
    t.eq(tid, pid, "gettid == getpid in the main thread");
    let uid = sys::getuid();
    let euid = sys::geteuid();
    t.ok(uid.is_ok(), format!("getuid ({:?})", uid));
    t.ok(euid.is_ok(), format!("geteuid ({:?})", euid));
}

fn uname(t: &mut Tap) {
    match sys::uname() {
        Ok(u) => {
            let sysname = sys::cfield(&u.sysname);
            t.check(!sysname.is_empty(), "uname sysname non-empty", core::str::from_utf8(sysname), "non-empty");
            t.note(format!(
                "uname: {} {} {}",
                core::str::from_utf8(sysname).unwrap_or("?"),
                core::str::from_utf8(sys::cfield(&u.release)).unwrap_or("?"),
                core::str::from_utf8(sys::cfield(&u.machine)).unwrap_or("?"),
            ));
        }
        Err(e) => {
            t.check(false, "uname", e, "Ok");
        }
    }
}

fn clocks(t: &mut Tap) {
    let a = sys::clock_gettime(sys::CLOCK_MONOTONIC);
    t.check(a.is_ok(), "clock_gettime(MONOTONIC)", a, "Ok");
    // Spin (bounded) until the clock moves: it must not go backwards and must advance.
    let a = a.map_or(0, |ts| ts.as_ns());
    let mut b = a;
    let mut backwards = false;
    for _ in 0..10_000_000 {
        let now = time::monotonic_ns();
        backwards |= now < b;
        b = now;
        if b > a {
            break;
        }
    }
    t.check(b > a && !backwards, "CLOCK_MONOTONIC advances, never backwards", (a, b), "later > earlier");

    let rt = sys::clock_gettime(sys::CLOCK_REALTIME);
    // 2020-01-01T00:00:00Z .. 2100-01-01T00:00:00Z
    let plausible = rt.is_ok_and(|ts| (1_577_836_800..4_102_444_800).contains(&ts.sec) && (0..1_000_000_000).contains(&ts.nsec));
    t.check(plausible, "CLOCK_REALTIME plausible (2020..2100)", rt, "a time in 2020..2100");

    let start = Instant::now();
    let r = sys::nanosleep(&Timespec::from_ns(10_000_000));
    let slept = start.elapsed_ns();
    t.eq(r, Ok(()), "nanosleep(10 ms) returns 0");
    t.check(slept >= 10_000_000, "nanosleep(10 ms) takes >= 10 ms", slept, ">= 10000000 ns");
    t.check(slept < 2_000_000_000, "nanosleep(10 ms) takes < 2 s", slept, "< 2000000000 ns");
}

fn brk(t: &mut Tap) {
    let before = mem::brk_current();
    t.check(before != 0, "brk(0) returns the current break", before, "non-zero");
    match mem::brk_grow(64 * 1024) {
        Ok(buf) => {
            t.eq(mem::brk_current(), before + 64 * 1024, "brk grows by 64 KiB");
            for (i, b) in buf.iter_mut().enumerate() {
                *b = (i % 251) as u8;
            }
            let good = buf.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8);
            t.ok(good, "brk memory is writable and reads back");
        }
        Err(e) => {
            t.check(false, "brk grows by 64 KiB", e, "Ok");
        }
    }
}

fn pattern(buf: &mut [u8], seed: u8) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(31).wrapping_add(seed);
    }
}

fn has_pattern(buf: &[u8], seed: u8) -> bool {
    buf.iter().enumerate().all(|(i, &b)| b == (i as u8).wrapping_mul(31).wrapping_add(seed))
}

fn mmap_family(t: &mut Tap) {
    // Plain anonymous private mapping.
    let mut r = match Region::map_anon(4 * PAGE_SIZE, prot::RW) {
        Ok(r) => r,
        Err(e) => {
            t.check(false, "mmap anonymous private 16 KiB", e, "Ok");
            return;
        }
    };
    t.ok(r.addr() % PAGE_SIZE == 0 && r.addr() != 0, format!("mmap anonymous private 16 KiB at {:#x}", r.addr()));
    t.ok(r.as_slice().iter().all(|&b| b == 0), "fresh anonymous memory reads as zero");
    pattern(r.as_mut_slice(), 7);
    t.ok(has_pattern(r.as_slice(), 7), "write/read through the mapping");

    // Hinted mapping: a free address near the top of the first 4 GiB+.
    let hint = 0x2_0000_0000usize;
    match Region::map_anon_hint(hint, PAGE_SIZE, prot::RW, 0) {
        Ok(mut h) => {
            t.note(format!("hint {:#x} -> {:#x}", hint, h.addr()));
            h.touch(0, 1);
            t.ok(h.peek(0) == 1, "mmap with an address hint gives usable memory");
        }
        Err(e) => {
            t.check(false, "mmap with an address hint", e, "Ok");
        }
    }

    // MAP_FIXED over page 2 of our region: replaced by a fresh zero page.
    let want = r.addr() + 2 * PAGE_SIZE;
    let fixed = r.remap_fixed(2 * PAGE_SIZE, PAGE_SIZE, prot::RW);
    t.eq(fixed, Ok(want), "mmap MAP_FIXED returns the requested address");
    let s = r.as_slice();
    t.ok(s[2 * PAGE_SIZE..3 * PAGE_SIZE].iter().all(|&b| b == 0), "MAP_FIXED page is fresh (zero)");
    t.ok(has_pattern(&s[..2 * PAGE_SIZE], 7), "pages around the MAP_FIXED page are untouched");

    // mprotect read-only: reads still work, kernel copy-out into it fails.
    t.eq(r.protect(0, PAGE_SIZE, prot::READ), Ok(()), "mprotect(PROT_READ)");
    t.ok(has_pattern(&r.as_slice()[..PAGE_SIZE], 7), "read-only page still readable");
    t.eq(
        probe::getrlimit_into_readonly(sys::RLIMIT_MEMLOCK, &r),
        Err(Errno::EFAULT),
        "kernel write into read-only page -> EFAULT",
    );
    t.eq(r.protect(0, PAGE_SIZE, prot::RW), Ok(()), "mprotect back to PROT_READ|PROT_WRITE");
    r.touch(0, 0xaa);
    t.eq(r.peek(0), 0xaa, "page writable again after mprotect");

    // madvise(MADV_DONTNEED) zeroes private anonymous pages.
    pattern(r.as_mut_slice(), 9);
    t.eq(r.dontneed(PAGE_SIZE, PAGE_SIZE), Ok(()), "madvise(MADV_DONTNEED)");
    let s = r.as_slice();
    t.ok(s[PAGE_SIZE..2 * PAGE_SIZE].iter().all(|&b| b == 0), "MADV_DONTNEED page reads back as zero");
    t.ok(has_pattern(&s[..PAGE_SIZE], 9), "page before the MADV_DONTNEED range keeps its data");

    // munmap: afterwards mincore says the range is not mapped (ENOMEM).
    let (addr, len) = (r.addr(), r.len());
    t.eq(r.unmap(), Ok(()), "munmap 16 KiB");
    t.eq(mem::mincore_probe(addr, len).map(|_| ()), Err(Errno::ENOMEM), "mincore on the unmapped range -> ENOMEM");
}

fn mincore(t: &mut Tap) {
    let mut r = match Region::map_anon(4 * PAGE_SIZE, prot::RW) {
        Ok(r) => r,
        Err(e) => {
            t.check(false, "mmap for mincore", e, "Ok");
            return;
        }
    };
    let before = r.mincore().map(|v| v.iter().map(|b| b & 1).collect::<Vec<u8>>());
    t.eq(before, Ok(alloc::vec![0, 0, 0, 0]), "mincore: untouched pages not resident");
    r.touch(0, 1);
    r.touch(2 * PAGE_SIZE, 1);
    let after = r.mincore().map(|v| v.iter().map(|b| b & 1).collect::<Vec<u8>>());
    t.eq(after, Ok(alloc::vec![1, 0, 1, 0]), "mincore: touched pages 0 and 2 resident");
}

fn rlimits(t: &mut Tap) {
    let res = sys::RLIMIT_MEMLOCK;
    let orig = match sys::getrlimit(res) {
        Ok(r) => r,
        Err(e) => {
            t.check(false, "getrlimit(RLIMIT_MEMLOCK)", e, "Ok");
            return;
        }
    };
    t.ok(orig.cur <= orig.max, format!("getrlimit(RLIMIT_MEMLOCK) = {{cur {:#x}, max {:#x}}}", orig.cur, orig.max));
    let lowered = Rlimit { cur: orig.max.min(64 * 1024).min(orig.cur), max: orig.max };
    t.eq(sys::setrlimit(res, &lowered), Ok(()), "setrlimit(RLIMIT_MEMLOCK) lowers the soft limit");
    t.eq(sys::getrlimit(res), Ok(lowered), "getrlimit reads back the new limit");
    // prlimit64 with no new value only reads.
    t.eq(sys::prlimit64(0, res, None), Ok(lowered), "prlimit64(0, MEMLOCK, NULL, &old) reads");
    // prlimit64 setting the original back returns the lowered one as old.
    t.eq(sys::prlimit64(0, res, Some(&orig)), Ok(lowered), "prlimit64 sets and returns the old limit");
    t.eq(sys::getrlimit(res), Ok(orig), "limit restored");
    // Raising soft above hard is refused.
    if orig.max != sys::RLIM_INFINITY {
        let bad = Rlimit { cur: orig.max + 4096, max: orig.max };
        t.eq(sys::setrlimit(res, &bad), Err(Errno::EINVAL), "setrlimit soft > hard -> EINVAL");
    }
}

fn tls(t: &mut Tap) {
    let old = sys::arch_get_fs();
    t.ok(old.is_ok(), format!("arch_prctl(ARCH_GET_FS) ({:?})", old));
    let mut block = Region::map_anon(PAGE_SIZE, prot::RW).expect("mmap TLS block");
    let base = block.addr();
    block.as_mut_slice()[..8].copy_from_slice(&(base as u64 ^ 0x5a5a).to_le_bytes());
    t.eq(sys::arch_set_fs(base), Ok(()), "arch_prctl(ARCH_SET_FS)");
    t.eq(sys::arch_get_fs(), Ok(base), "ARCH_GET_FS returns the new base");
    t.eq(sys::read_fs_qword0(), base ^ 0x5a5a, "%fs:0 reads the block's first word");
    t.eq(sys::arch_set_fs(old.unwrap_or(0)), Ok(()), "FS base restored");
}

fn auxv(t: &mut Tap, args: &Args) {
    t.check(!args.is_empty(), "argc >= 1", args.len(), ">= 1");
    let pagesz = args.auxv(holdfast_user::entry::AT_PAGESZ);
    t.eq(pagesz, Some(PAGE_SIZE), "auxv AT_PAGESZ = 4096");
    let entry = args.auxv(holdfast_user::entry::AT_ENTRY);
    t.check(
        entry.is_some_and(|e| (0x400000..0x800000).contains(&e)),
        "auxv AT_ENTRY inside the image at 0x400000",
        entry,
        "0x400000..0x800000",
    );
}

fn procfs(t: &mut Tap, entry: usize) {
    // A distinctive mapping: 3 pages, read-only, so its line is easy to spot.
    let r = Region::map_anon(3 * PAGE_SIZE, prot::READ).expect("mmap for maps");
    match fs::read_file(c"/proc/self/maps") {
        Ok(buf) => {
            let text = core::str::from_utf8(&buf).unwrap_or("");
            t.ok(!text.is_empty(), format!("read /proc/self/maps ({} bytes)", buf.len()));
            let lines: Vec<&str> = text.lines().collect();
            let bad: Vec<&&str> = lines.iter().filter(|l| MapsLine::parse(l).is_none()).collect();
            t.check(bad.is_empty(), "every maps line is `start-end perms offset dev inode path`", bad.first(), "none malformed");
            let ours = lines.iter().filter_map(|l| MapsLine::parse(l)).find(|m| m.start <= r.addr() && r.addr() < m.end);
            match ours {
                Some(m) => {
                    let covers = m.start <= r.addr() && m.end >= r.addr() + r.len();
                    t.ok(
                        covers,
                        format!("maps has our mapping {:#x}-{:#x} (line {:#x}-{:#x})", r.addr(), r.addr() + r.len(), m.start, m.end),
                    );
                    t.eq(m.perms, "r--p", "our mapping's perms are r--p");
                    t.eq((m.offset, m.inode), (0, 0), "anonymous mapping: offset 0, inode 0");
                }
                None => {
                    t.check(false, "maps has our mapping", r.addr(), "a line covering it");
                }
            }
            let text_line = lines.iter().filter_map(|l| MapsLine::parse(l)).find(|m| m.start <= entry && entry < m.end);
            t.check(
                text_line.as_ref().is_some_and(|m| m.perms.starts_with("r-x")),
                "maps shows the entry point's segment as r-x",
                text_line,
                "r-xp",
            );
        }
        Err(e) => {
            t.check(false, "open/read /proc/self/maps", e, "Ok");
        }
    }
    match fs::read_file(c"/proc/self/status") {
        Ok(buf) => {
            let text = core::str::from_utf8(&buf).unwrap_or("");
            t.ok(text.lines().any(|l| l.starts_with("VmLck:")), "/proc/self/status has VmLck:");
            let threads = text.lines().find(|l| l.starts_with("Threads:"));
            t.check(threads.is_some_and(|l| l[8..].trim() == "1"), "/proc/self/status has Threads: 1", threads, "Threads: 1");
        }
        Err(e) => {
            t.check(false, "open/read /proc/self/status", e, "Ok");
        }
    }
    t.eq(
        sys::openat(sys::AT_FDCWD, c"/nonexistent/holdfast", sys::O_RDONLY, 0).map(|_| ()),
        Err(Errno::ENOENT),
        "open of a missing file -> ENOENT",
    );
    t.eq(sys::close(12345), Err(Errno::EBADF), "close of a bad fd -> EBADF");
}

fn tty_and_writev(t: &mut Tap) {
    let ws = sys::ioctl_tiocgwinsz(1);
    t.ok(matches!(ws, Ok(_) | Err(Errno::ENOTTY)), format!("ioctl(1, TIOCGWINSZ) is 0 or ENOTTY ({:?})", ws));
    let parts: [&[u8]; 3] = [b"# writev: ", b"three ", b"pieces\n"];
    let iov = parts.map(sys::IoVec::new);
    let total: usize = parts.iter().map(|p| p.len()).sum();
    t.eq(sys::writev(1, &iov), Ok(total), "writev of 3 pieces writes them all");
}

const BADFD: isize = 1000;

/// Item 1: paths are bytes; getname's errors come before the dirfd's.
fn fs_paths(t: &mut Tap) {
    t.eq(sys::openat_bytes(sys::AT_FDCWD, b"/\xff\xfe\x80\0", 0), Err(Errno::ENOENT), "non-UTF-8 path: ENOENT");
    t.eq(sys::openat_bytes(sys::AT_FDCWD, b"\0", 0), Err(Errno::ENOENT), "empty path: ENOENT");
    t.eq(sys::openat_bytes(BADFD, b"\0", 0), Err(Errno::ENOENT), "empty path with a bad dirfd: ENOENT first");
    let mut long = alloc::vec![b'a'; 4096];
    long.push(0);
    t.eq(sys::openat_bytes(sys::AT_FDCWD, &long, 0), Err(sys::ENAMETOOLONG), "4096-byte path: ENAMETOOLONG");
    let mut comp = alloc::vec![b'/'];
    comp.extend_from_slice(&[b'b'; 256]);
    comp.push(0);
    t.eq(sys::openat_bytes(sys::AT_FDCWD, &comp, 0), Err(sys::ENAMETOOLONG), "256-byte component: ENAMETOOLONG");
    t.eq(sys::openat_addr(sys::AT_FDCWD, sys::KERNEL_ADDR, 0), Err(Errno::EFAULT), "faulting path: EFAULT");
    t.eq(
        sys::openat_addr(BADFD, sys::KERNEL_ADDR, 0),
        Err(Errno::EFAULT),
        "faulting path with a bad dirfd: EFAULT first",
    );
    t.eq(sys::openat_bytes(BADFD, b"x\0", 0), Err(Errno::EBADF), "relative path, bad dirfd: EBADF");
    match sys::openat_bytes(BADFD, b"/proc/self/status\0", 0) {
        Ok(fd) => {
            t.ok(true, "absolute path ignores a bad dirfd");
            t.eq(sys::openat_bytes(fd as isize, b"x\0", 0), Err(sys::ENOTDIR), "relative path, dirfd not a directory: ENOTDIR");
            t.eq(
                sys::openat_bytes(sys::AT_FDCWD, b"/proc/self/status/\0", 0),
                Err(sys::ENOTDIR),
                "trailing slash on a file: ENOTDIR",
            );
            let _ = sys::close(fd);
        }
        Err(e) => {
            t.check(false, "absolute path ignores a bad dirfd", e, "Ok");
        }
    }
}

/// Item 2: directories exist, can be opened and fstat'ed, not read.
fn fs_dirs(t: &mut Tap) {
    for p in [&b"/\0"[..], b"/proc\0", b"/proc/self\0", b"/proc/sys\0", b"/proc/sys/vm\0"] {
        let name = core::str::from_utf8(&p[..p.len() - 1]).unwrap_or("?");
        let st = sys::newfstatat(sys::AT_FDCWD, p, 0);
        t.check(st.is_ok_and(|s| s.is_dir() && s.nlink() >= 1), format!("stat({name}) is a directory"), st, "S_IFDIR");
    }
    let d = sys::openat_bytes(sys::AT_FDCWD, b"/proc\0", sys::O_RDONLY);
    t.check(d.is_ok(), "open(/proc, O_RDONLY)", d, "Ok");
    if let Ok(d) = d {
        let mut buf = [0u8; 16];
        t.eq(sys::read(d, &mut buf), Err(sys::EISDIR), "read on a directory: EISDIR");
        t.eq(sys::fstat(d).map(|s| s.is_dir()), Ok(true), "fstat on a directory fd");
        let f = sys::openat_bytes(d as isize, b"self/status\0", 0);
        t.check(f.is_ok(), "openat(/proc fd, self/status)", f, "Ok");
        if let Ok(f) = f {
            let _ = sys::close(f);
        }
        t.eq(sys::write(d, b""), Err(Errno::EBADF), "write on a directory: EBADF");
        t.eq(
            sys::openat_bytes(sys::AT_FDCWD, b"/proc\0", sys::O_WRONLY),
            Err(sys::EISDIR),
            "open a directory for writing: EISDIR",
        );
        let _ = sys::close(d);
    }
    t.eq(
        sys::openat_bytes(sys::AT_FDCWD, b"/proc/self/status\0", sys::O_DIRECTORY),
        Err(sys::ENOTDIR),
        "O_DIRECTORY on a file: ENOTDIR",
    );
    let p = sys::openat_bytes(sys::AT_FDCWD, b"/proc/self/status\0", sys::O_PATH);
    t.check(p.is_ok(), "open(O_PATH)", p, "Ok");
    if let Ok(p) = p {
        t.ok(sys::fstat(p).is_ok_and(|s| !s.is_dir()), "fstat on an O_PATH fd");
        let mut buf = [0u8; 4];
        t.eq(sys::read(p, &mut buf), Err(Errno::EBADF), "read on an O_PATH fd: EBADF");
        t.eq(sys::fcntl(p, sys::F_GETFL, 0), Ok(sys::O_PATH), "F_GETFL on an O_PATH fd: O_PATH");
        t.eq(sys::close(p), Ok(()), "close an O_PATH fd");
    }
}

/// Item 3: newfstatat checks its flags first; a bad buffer is EFAULT only
/// after the lookup succeeded.
fn fs_stat(t: &mut Tap) {
    t.eq(
        sys::newfstatat_addr(sys::AT_FDCWD, sys::KERNEL_ADDR, sys::KERNEL_ADDR, 0x10000),
        Err(Errno::EINVAL),
        "newfstatat: invalid flags first",
    );
    t.eq(
        sys::newfstatat(BADFD, b"x\0", 0xdead & !0x1000).map(|_| ()),
        Err(Errno::EINVAL),
        "newfstatat: invalid flags before dirfd",
    );
    t.eq(
        sys::newfstatat_addr(sys::AT_FDCWD, c"/nonexistent".as_ptr() as usize, sys::KERNEL_ADDR, 0),
        Err(Errno::ENOENT),
        "stat: lookup before the buffer",
    );
    t.eq(
        sys::newfstatat_addr(sys::AT_FDCWD, c"/proc".as_ptr() as usize, sys::KERNEL_ADDR, 0),
        Err(Errno::EFAULT),
        "stat to a bad buffer: EFAULT",
    );
    t.eq(sys::fstat_addr(BADFD as i32, 0), Err(Errno::EBADF), "fstat: EBADF before the buffer");
    t.eq(sys::fstat_addr(1, 0), Err(Errno::EFAULT), "fstat to NULL: EFAULT");
    t.ok(sys::newfstatat(1, b"\0", sys::AT_EMPTY_PATH).is_ok(), "newfstatat(fd, \"\", AT_EMPTY_PATH)");
}

/// Item 4: write/writev need a descriptor open for writing, checked
/// first; readv/writev's count, lengths and array; partial reads.
fn fs_rw(t: &mut Tap) {
    let Ok(fd) = sys::openat_bytes(sys::AT_FDCWD, b"/proc/self/status\0", sys::O_RDONLY) else {
        t.ok(false, "open /proc/self/status");
        return;
    };
    t.eq(sys::write(fd, b""), Err(Errno::EBADF), "write(read-only fd, 0 bytes): EBADF");
    t.eq(
        probe::write_from_kernel(fd, probe::KERNEL_HALF, 8),
        Err(Errno::EBADF),
        "write(read-only fd, bad buffer): EBADF first",
    );
    t.eq(sys::rwv_kernel_iov(true, fd, 5000), Err(Errno::EBADF), "writev(read-only fd): EBADF first");
    t.eq(sys::rwv_kernel_iov(false, BADFD as i32, 5000), Err(Errno::EBADF), "readv(bad fd): EBADF first");
    t.eq(sys::rwv_kernel_iov(false, fd, 1025), Err(Errno::EINVAL), "readv(1025 iovecs): EINVAL");
    t.eq(sys::rwv_kernel_iov(false, fd, 1), Err(Errno::EFAULT), "readv(faulting iovec array): EFAULT");
    t.eq(sys::rwv_kernel_iov(false, fd, 0), Ok(0), "readv(no iovecs): 0, the array unread");
    t.eq(sys::readv_kernel_bases(fd, &[8, usize::MAX]), Err(Errno::EINVAL), "readv(negative iov_len): EINVAL");
    t.eq(sys::readv_kernel_bases(fd, &[8]), Err(Errno::EFAULT), "readv(faulting base): EFAULT");
    t.eq(sys::read_across_unmapped(fd, 100, 300), Ok(100), "read across an unmapped page: the bytes before it");
    let _ = sys::close(fd);
}

/// Items 5 and 6: fcntl's F_DUPFD(_CLOEXEC), F_SETFL, unknown commands;
/// the generic ioctls FIOCLEX, FIONCLEX, FIONBIO.
fn fs_fcntl_ioctl(t: &mut Tap) {
    let Ok(fd) = sys::openat_bytes(sys::AT_FDCWD, b"/proc/self/status\0", sys::O_RDONLY) else {
        t.ok(false, "open /proc/self/status");
        return;
    };
    let d = sys::fcntl(fd, sys::F_DUPFD, 20);
    t.check(d.is_ok_and(|d| d >= 20), "F_DUPFD: lowest free fd >= arg", d, ">= 20");
    if let Ok(d) = d {
        t.eq(sys::fcntl(d as i32, sys::F_GETFD, 0), Ok(0), "F_DUPFD: close-on-exec clear");
        let _ = sys::close(d as i32);
    }
    let d = sys::fcntl(fd, sys::F_DUPFD_CLOEXEC, 0);
    t.check(d.is_ok_and(|d| d > 2), "F_DUPFD_CLOEXEC", d, "Ok");
    if let Ok(d) = d {
        t.eq(sys::fcntl(d as i32, sys::F_GETFD, 0), Ok(1), "F_DUPFD_CLOEXEC: close-on-exec set");
        let _ = sys::close(d as i32);
    }
    t.eq(sys::fcntl(fd, sys::F_DUPFD, 1 << 20), Err(Errno::EINVAL), "F_DUPFD beyond RLIMIT_NOFILE: EINVAL");
    t.eq(sys::fcntl(fd, sys::F_SETFL, sys::O_DIRECT), Err(Errno::EINVAL), "F_SETFL O_DIRECT: EINVAL");
    t.eq(sys::fcntl(fd, 9999, 0), Err(Errno::EINVAL), "unknown fcntl: EINVAL");
    t.eq(sys::fcntl(BADFD as i32, 9999, 0), Err(Errno::EBADF), "unknown fcntl on a bad fd: EBADF first");
    t.eq(sys::fcntl(fd, sys::F_GETFL, 0), Ok(sys::O_LARGEFILE), "F_GETFL: O_RDONLY | O_LARGEFILE");

    t.eq(sys::ioctl_in(fd, sys::FIOCLEX, None), Ok(0), "FIOCLEX");
    t.eq(sys::fcntl(fd, sys::F_GETFD, 0), Ok(1), "FIOCLEX sets close-on-exec");
    t.eq(sys::ioctl_in(fd, sys::FIONCLEX, None), Ok(0), "FIONCLEX");
    t.eq(sys::fcntl(fd, sys::F_GETFD, 0), Ok(0), "FIONCLEX clears close-on-exec");
    t.eq(sys::ioctl_addr(fd, sys::FIONBIO, sys::KERNEL_ADDR), Err(Errno::EFAULT), "FIONBIO with a faulting arg: EFAULT");
    t.eq(sys::ioctl_in(fd, sys::FIONBIO, Some(&1)), Ok(0), "FIONBIO on");
    t.eq(sys::fcntl(fd, sys::F_GETFL, 0).map(|f| f & sys::O_NONBLOCK), Ok(sys::O_NONBLOCK), "FIONBIO sets O_NONBLOCK");
    t.eq(sys::ioctl_in(fd, sys::FIONBIO, Some(&0)), Ok(0), "FIONBIO off");
    t.eq(sys::fcntl(fd, sys::F_GETFL, 0).map(|f| f & sys::O_NONBLOCK), Ok(0), "FIONBIO clears O_NONBLOCK");
    t.eq(sys::ioctl_in(BADFD as i32, sys::FIOCLEX, None), Err(Errno::EBADF), "FIOCLEX on a bad fd: EBADF");
    t.eq(sys::ioctl_addr(fd, sys::TCGETS, 0), Err(Errno::ENOTTY), "TCGETS on a file: ENOTTY");
    let _ = sys::close(fd);
}

/// Item 7: lseek's SEEK_DATA and SEEK_HOLE on a regular file (this
/// program's own), and an invalid whence.
fn fs_lseek(t: &mut Tap, argv0: &[u8]) {
    let mut path = argv0.to_vec();
    path.push(0);
    let Ok(fd) = sys::openat_bytes(sys::AT_FDCWD, &path, sys::O_RDONLY) else {
        t.ok(false, "open argv[0]");
        return;
    };
    let size = sys::fstat(fd).map_or(0, |s| s.size() as usize);
    t.eq(sys::lseek(fd, 0, 3), Ok(0), "SEEK_DATA at 0: 0");
    t.eq(sys::lseek(fd, 0, 4), Ok(size), "SEEK_HOLE at 0: the size");
    t.eq(sys::lseek(fd, size as i64, 3), Err(sys::ENXIO), "SEEK_DATA at the size: ENXIO");
    t.eq(sys::lseek(fd, size as i64 + 5, 4), Err(sys::ENXIO), "SEEK_HOLE beyond the size: ENXIO");
    t.eq(sys::lseek(fd, 0, 5), Err(Errno::EINVAL), "lseek whence 5: EINVAL");
    t.eq(sys::lseek(fd, -1, 0), Err(Errno::EINVAL), "lseek to -1: EINVAL");
    t.eq(sys::lseek(BADFD as i32, 0, 5), Err(Errno::EBADF), "lseek on a bad fd: EBADF first");
    let _ = sys::close(fd);
}
