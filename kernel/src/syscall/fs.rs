//! File syscalls: read/write(v), open(at), close, lseek, stat family,
//! ioctl, fcntl, getcwd.

use alloc::sync::Arc;
use alloc::vec;
use mm::Errno;

use super::{Args, SysResult};
use crate::fs::file::{File, FileBytes, FileKind};
use crate::proc;
use crate::uaccess::{copy_from_user, copy_to_user, read_user, read_user_cstr, write_user};

/// Largest chunk copied through the kernel per step.
const CHUNK: usize = 64 * 1024;
const O_ACCMODE: u64 = 3;
const O_CREAT: u64 = 0o100;
const AT_FDCWD: i64 = -100;
const AT_EMPTY_PATH: u64 = 0x1000;
const PATH_MAX: usize = 4096;

fn file(fd: u64) -> Result<Arc<File>, Errno> {
    proc::current().files.lock().get(fd as i32)
}

pub fn sys_read(a: Args) -> SysResult {
    let f = file(a.0[0])?;
    let (buf, count) = (a.0[1], a.0[2] as usize);
    crate::uaccess::access_ok(buf, count as u64)?;
    let mut kbuf = vec![0u8; count.min(CHUNK)];
    let n = f.read(&mut kbuf)?;
    copy_to_user(buf, &kbuf[..n])?;
    Ok(n as u64)
}

fn write_from_user(f: &File, buf: u64, count: usize) -> Result<usize, Errno> {
    crate::uaccess::access_ok(buf, count as u64)?;
    let mut done = 0;
    let mut kbuf = vec![0u8; count.min(CHUNK)];
    while done < count {
        let n = (count - done).min(CHUNK);
        copy_from_user(&mut kbuf[..n], buf + done as u64)?;
        done += f.write(&kbuf[..n])?;
    }
    Ok(done)
}

pub fn sys_write(a: Args) -> SysResult {
    let f = file(a.0[0])?;
    write_from_user(&f, a.0[1], a.0[2] as usize).map(|n| n as u64)
}

fn iovecs(iov: u64, cnt: u64) -> Result<alloc::vec::Vec<(u64, u64)>, Errno> {
    if cnt > 1024 {
        return Err(Errno::EINVAL);
    }
    (0..cnt).map(|i| read_user::<[u64; 2]>(iov + i * 16).map(|v| (v[0], v[1]))).collect()
}

pub fn sys_writev(a: Args) -> SysResult {
    let f = file(a.0[0])?;
    let mut total = 0u64;
    for (base, len) in iovecs(a.0[1], a.0[2])? {
        total += write_from_user(&f, base, len as usize)? as u64;
    }
    Ok(total)
}

pub fn sys_readv(a: Args) -> SysResult {
    let f = file(a.0[0])?;
    let mut total = 0u64;
    for (base, len) in iovecs(a.0[1], a.0[2])? {
        crate::uaccess::access_ok(base, len)?;
        let mut kbuf = vec![0u8; (len as usize).min(CHUNK)];
        let n = f.read(&mut kbuf)?;
        copy_to_user(base, &kbuf[..n])?;
        total += n as u64;
        if n < kbuf.len() {
            break;
        }
    }
    Ok(total)
}

fn open_path(path: &str, flags: u64) -> Result<Arc<File>, Errno> {
    let writing = flags & O_ACCMODE != 0;
    if let Some(r) = crate::fs::procfs::open(path) {
        let f = r?;
        if writing && !matches!(f.kind, FileKind::MlockPopulateSysctl) {
            return Err(Errno::EACCES);
        }
        return Ok(f);
    }
    match crate::fs::initrd::lookup(path) {
        Some(_) if writing => Err(Errno::EROFS),
        Some(e) => Ok(File::new(FileKind::Bytes(FileBytes::Static(e.data)))),
        None if flags & O_CREAT != 0 => Err(Errno::EROFS),
        None => Err(Errno::ENOENT),
    }
}

/// Open `path_ptr` relative to `dirfd`. Holdfast's only directory is the
/// root, which is also the working directory: absolute paths ignore
/// `dirfd`, relative ones resolve from "/" with `AT_FDCWD`, and any other
/// `dirfd` (never a directory here) makes a relative path `ENOTDIR`.
fn do_open(dirfd: i64, path_ptr: u64, flags: u64) -> SysResult {
    let path = read_user_cstr(path_ptr, PATH_MAX)?;
    if !path.starts_with('/') && dirfd != AT_FDCWD {
        file(dirfd as u64)?;
        return Err(Errno::ENOTDIR);
    }
    let path = if path.starts_with('/') { path } else { alloc::format!("/{path}") };
    let f = open_path(&path, flags)?;
    proc::current().files.lock().install(f).map(|fd| fd as u64)
}

pub fn sys_open(a: Args) -> SysResult {
    do_open(AT_FDCWD, a.0[0], a.0[1])
}

pub fn sys_openat(a: Args) -> SysResult {
    do_open(a.0[0] as i32 as i64, a.0[1], a.0[2])
}

pub fn sys_close(a: Args) -> SysResult {
    proc::current().files.lock().close(a.0[0] as i32).map(|_| 0)
}

pub fn sys_lseek(a: Args) -> SysResult {
    file(a.0[0])?.lseek(a.0[1] as i64, a.0[2] as u32)
}

/// Fill a Linux x86_64 `struct stat` (144 bytes) for `f`.
fn stat_of(f: &File) -> [u64; 18] {
    let mut st = [0u64; 18];
    st[1] = 1; // st_ino
    st[2] = 1; // st_nlink
    st[3] = f.mode() as u64; // st_mode (uid 0 in the high half)
    st[6] = f.size(); // st_size
    st[7] = 4096; // st_blksize
    st[8] = f.size().div_ceil(512); // st_blocks
    st
}

pub fn sys_fstat(a: Args) -> SysResult {
    let f = file(a.0[0])?;
    write_user(a.0[1], &stat_of(&f)).map(|_| 0)
}

pub fn sys_stat(a: Args) -> SysResult {
    let path = read_user_cstr(a.0[0], PATH_MAX)?;
    let f = open_path(&path, 0)?;
    write_user(a.0[1], &stat_of(&f)).map(|_| 0)
}

pub fn sys_newfstatat(a: Args) -> SysResult {
    let path = read_user_cstr(a.0[1], PATH_MAX)?;
    let f = if path.is_empty() && a.0[3] & AT_EMPTY_PATH != 0 { file(a.0[0])? } else { open_path(&path, 0)? };
    write_user(a.0[2], &stat_of(&f)).map(|_| 0)
}

const TCGETS: u64 = 0x5401;
const TIOCGWINSZ: u64 = 0x5413;

pub fn sys_ioctl(a: Args) -> SysResult {
    let f = file(a.0[0])?;
    match a.0[1] {
        TIOCGWINSZ if f.is_tty() => {
            // struct winsize { rows, cols, xpixel, ypixel } as u16s.
            let ws: u64 = 24 | (80 << 16);
            write_user(a.0[2], &ws).map(|_| 0)
        }
        TCGETS if f.is_tty() => {
            // struct termios is 60 bytes: raw mode, no flags.
            copy_to_user(a.0[2], &[0u8; 60]).map(|_| 0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

pub fn sys_fcntl(a: Args) -> SysResult {
    file(a.0[0])?;
    match a.0[1] {
        1 | 3 => Ok(0),          // F_GETFD, F_GETFL
        2 | 4 => Ok(0),          // F_SETFD, F_SETFL: accepted
        _ => Err(Errno::EINVAL),
    }
}

pub fn sys_getcwd(a: Args) -> SysResult {
    if a.0[1] < 2 {
        return Err(Errno::ERANGE);
    }
    copy_to_user(a.0[0], b"/\0").map(|_| 2)
}
