//! Open files and the per-process file-descriptor table.
//!
//! Holdfast's files: the console (fds 0-2: reads see end of file, writes
//! go to every console), tmpfs files and directories (see `fs::tmpfs`;
//! data is moved a page at a time through a kernel buffer, so that no
//! tmpfs lock is held over a user copy), `/proc` files (generated
//! when opened, like a `seq_file` snapshot), the writable
//! `/proc/sys/vm/mlock_populate` switch, directories (opened read-only
//! or `O_PATH`, to be `fstat`ed or used as a `dirfd`), pipe ends, and
//! `/dev/null` and `/dev/zero`.
//!
//! An open file description carries Linux's `f_mode` (may it be read,
//! written, or is it an `O_PATH` handle) and `f_flags` (what `F_GETFL`
//! reports); a descriptor carries its close-on-exec bit. Reads and writes
//! copy at most up to the next user page boundary at a time, so that a
//! fault part-way returns the bytes already copied, as Linux does.
//!
//! With the table, a process's [`Files`] carry its file-system context
//! (Linux's `fs_struct`): the working directory and the umask.
//!
//! A process holds its table as an opaque `proc::ProcessFiles` (the process
//! layer sits below this one); [`Files`] is what is behind it, and
//! [`files`] finds it again.
//!
//! Locking: the table is behind the process's `IrqMutex`; a file's offset
//! has its own. Data is copied to and from user memory outside both.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::sync::atomic::{AtomicU32, Ordering};
use mm::Errno;

use super::namei::Device;
use crate::proc::{Process, ProcessFiles};
use crate::sync::IrqMutex;
use crate::uaccess::{copy_from_user, copy_to_user};

/// `open` flags (x86_64 values).
pub const O_ACCMODE: u32 = 0o3;
pub const O_RDWR: u32 = 0o2;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_NOCTTY: u32 = 0o400;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DIRECT: u32 = 0o40000;
pub const O_LARGEFILE: u32 = 0o100000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_NOATIME: u32 = 0o1000000;
pub const O_CLOEXEC: u32 = 0o2000000;
pub const O_PATH: u32 = 0o10000000;
pub const __O_TMPFILE: u32 = 0o20000000;

/// The flags `F_SETFL` may change.
pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_DIRECT | O_NOATIME;

/// `f_mode` bits.
pub const FMODE_READ: u32 = 0x1;
pub const FMODE_WRITE: u32 = 0x2;
pub const FMODE_PATH: u32 = 0x4000;

const PAGE_SIZE: u64 = 4096;
/// Most bytes one read or write transfers (`MAX_RW_COUNT`).
pub const MAX_RW_COUNT: usize = 0x7fff_f000;

/// What an open file is.
pub enum FileKind {
    Console,
    /// Read-only bytes (a generated /proc snapshot).
    Bytes(FileBytes),
    /// A `/proc/sys/vm` setting: reads give the value, writes set it.
    Sysctl(super::procfs::Sysctl),
    /// `/proc/sysrq-trigger`: write-only; a written key runs its action.
    SysrqTrigger,
    /// A directory, named by its canonical path (see `fs::namei`).
    Dir(Vec<u8>),
    /// One end of a pipe (see `fs::pipe`).
    Pipe(super::pipe::PipeEnd),
    /// `/dev/null` or `/dev/zero`.
    Dev(super::namei::Device),
    /// A tmpfs regular file, directory or (`O_PATH`) symbolic link.
    Tmpfs(Arc<super::tmpfs::Inode>),
}

/// Generated contents (a /proc snapshot).
pub enum FileBytes {
    Owned(Vec<u8>),
}

impl FileBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            FileBytes::Owned(v) => v,
        }
    }
}

/// An open file description.
pub struct File {
    pub kind: FileKind,
    pos: IrqMutex<u64>,
    /// `f_mode`: `FMODE_READ`, `FMODE_WRITE`, `FMODE_PATH`.
    f_mode: u32,
    /// `f_flags`: access mode and status flags, as `F_GETFL` reports them.
    f_flags: AtomicU32,
}

/// `st_mode` bits.
pub const S_IFREG: u32 = 0o100000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFIFO: u32 = 0o010000;

/// Largest offset a file may have (`MAX_LFS_FILESIZE`).
const MAX_LFS_FILESIZE: i64 = i64::MAX;

impl File {
    /// The console, open for reading and writing.
    pub fn console() -> Arc<File> {
        File::opened(FileKind::Console, O_RDWR)
    }

    /// A file opened with `open` flags `flags`: `f_mode` follows the access
    /// mode (or is `FMODE_PATH`), `f_flags` keeps what Linux keeps
    /// (`O_LARGEFILE` is forced on 64-bit; `O_CREAT`, `O_EXCL`, `O_NOCTTY`,
    /// `O_TRUNC` and `O_CLOEXEC` are not file status flags).
    pub fn opened(kind: FileKind, flags: u32) -> Arc<File> {
        let (f_mode, f_flags) = if flags & O_PATH != 0 {
            (FMODE_PATH, flags & (O_PATH | O_DIRECTORY | O_NOFOLLOW))
        } else {
            let mode = match flags & O_ACCMODE {
                0 => FMODE_READ,
                1 => FMODE_WRITE,
                2 => FMODE_READ | FMODE_WRITE,
                _ => 0,
            };
            (mode, (flags | O_LARGEFILE) & !(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC))
        };
        Arc::new(File { kind, pos: IrqMutex::new(0), f_mode, f_flags: AtomicU32::new(f_flags) })
    }

    /// A pipe end, as `create_pipe_files` makes it: `f_mode` read or
    /// write, `f_flags` the access mode and `O_NONBLOCK` (no forced
    /// `O_LARGEFILE`: pipes are not opened through `open`).
    pub fn pipe_end(end: super::pipe::PipeEnd, write: bool, nonblock: bool) -> Arc<File> {
        let (f_mode, acc) = if write { (FMODE_WRITE, 1) } else { (FMODE_READ, 0) };
        let f_flags = acc | if nonblock { O_NONBLOCK } else { 0 };
        Arc::new(File { kind: FileKind::Pipe(end), pos: IrqMutex::new(0), f_mode, f_flags: AtomicU32::new(f_flags) })
    }

    /// `readv` and `writev` on a pipe: one operation over all the
    /// iovecs (`None` for other files, which take them one by one).
    pub fn pipe_rw_iov(&self, iov: super::pipe::UserIov, write: bool) -> Option<Result<usize, Errno>> {
        let FileKind::Pipe(p) = &self.kind else { return None };
        Some(if write { p.write(iov, self.nonblock()) } else { p.read(iov, self.nonblock()) })
    }

    fn nonblock(&self) -> bool {
        self.f_flags() & O_NONBLOCK != 0
    }

    pub fn f_mode(&self) -> u32 {
        self.f_mode
    }

    pub fn is_path(&self) -> bool {
        self.f_mode & FMODE_PATH != 0
    }

    pub fn f_flags(&self) -> u32 {
        self.f_flags.load(Ordering::Relaxed)
    }

    /// Replace the flags in `mask` by those of `value`.
    pub fn set_f_flags(&self, mask: u32, value: u32) {
        let _ = self.f_flags.try_update(Ordering::Relaxed, Ordering::Relaxed, |f| Some((f & !mask) | (value & mask)));
    }

    pub fn is_dir(&self) -> bool {
        match &self.kind {
            FileKind::Dir(_) => true,
            FileKind::Tmpfs(i) => i.is_dir(),
            _ => false,
        }
    }

    /// The tmpfs inode behind the file, if it is one.
    pub fn inode(&self) -> Option<&Arc<super::tmpfs::Inode>> {
        match &self.kind {
            FileKind::Tmpfs(i) => Some(i),
            _ => None,
        }
    }

    /// The name-space node the file is (for a `dirfd` or `fchdir`).
    pub fn node(&self) -> Option<super::namei::Node> {
        match &self.kind {
            FileKind::Tmpfs(i) => Some(super::namei::Node::Tmpfs(i.clone())),
            FileKind::Dir(p) => Some(super::namei::Node::Proc(p.clone())),
            _ => None,
        }
    }

    /// Set the offset (a directory's is a `getdents64` cookie).
    pub fn set_pos(&self, pos: u64) {
        *self.pos.lock() = pos;
    }

    /// Read from a tmpfs file at `*pos` into user memory, a page at a
    /// time through a kernel buffer; `*pos` advances.
    fn tmpfs_read(inode: &super::tmpfs::Inode, pos: &mut u64, buf: u64, count: usize) -> Result<usize, Errno> {
        let data = inode.file().ok_or(Errno::EISDIR)?;
        let mut kbuf = Vec::new();
        kbuf.try_reserve_exact(PAGE_SIZE as usize).map_err(|_| Errno::ENOMEM)?;
        kbuf.resize(PAGE_SIZE as usize, 0);
        let mut done = 0usize;
        while done < count {
            let at = buf + done as u64;
            let want = (count - done).min((PAGE_SIZE - at % PAGE_SIZE) as usize);
            super::tmpfs::swapin_before_lock(data, *pos);
            let n = match data.lock().read_page(*pos, &mut kbuf[..want]) {
                Ok(n) => n,
                Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
            };
            if n == 0 {
                break;
            }
            if let Err(e) = copy_to_user(at, &kbuf[..n]) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
            *pos += n as u64;
            done += n;
        }
        inode.meta.lock().atime = super::tmpfs::now();
        Ok(done)
    }

    /// Write user memory to a tmpfs file at `*pos` (at its end with
    /// `append`), a page at a time; `*pos` advances. A full file system
    /// or a file at its size limit after some bytes returns those bytes.
    /// The file's seals: `EPERM` under a write seal; under `F_SEAL_GROW`
    /// the bytes up to the end are written, none past it.
    fn tmpfs_write(inode: &super::tmpfs::Inode, pos: &mut u64, append: bool, buf: u64, count: usize) -> Result<usize, Errno> {
        let data = inode.file().ok_or(Errno::EISDIR)?;
        let mut kbuf = Vec::new();
        kbuf.try_reserve_exact(PAGE_SIZE as usize).map_err(|_| Errno::ENOMEM)?;
        kbuf.resize(PAGE_SIZE as usize, 0);
        if append {
            *pos = data.lock().size;
        }
        if count > 0 && *pos >= super::tmpfs::MAX_FILESIZE {
            return Err(Errno::EFBIG);
        }
        let mut done = 0usize;
        let mut result = Ok(());
        while done < count {
            let at = buf + done as u64;
            let n = (count - done).min((PAGE_SIZE - at % PAGE_SIZE) as usize).min((PAGE_SIZE - *pos % PAGE_SIZE) as usize);
            if let Err(e) = copy_from_user(&mut kbuf[..n], at) {
                result = Err(e);
                break;
            }
            if !append {
                super::tmpfs::swapin_before_lock(data, *pos);
            }
            // A page the write needs and cannot have is looked for again
            // after direct reclaim, with the file's lock dropped (a failed
            // write_page changes nothing).
            let written = crate::memory::swap::retry_after_reclaim(|| {
                let mut d = data.lock();
                if append {
                    *pos = d.size;
                }
                // The file's seals, checked under its lock as the seals
                // are added under it.
                let m = d.sealed_write_len(*pos, n)?;
                d.write_page(*pos, &kbuf[..m]).map(|()| m)
            });
            let m = match written {
                Ok(m) => m,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            };
            *pos += m as u64;
            done += m;
            if m < n {
                break;
            }
        }
        if done > 0 {
            inode.touch_mc();
            // Linux's file_remove_privs: a write by anyone drops set-uid
            // (and set-gid with group exec).
            let mut m = inode.meta.lock();
            if m.mode & super::tmpfs::S_ISUID != 0 || m.mode & (super::tmpfs::S_ISGID | 0o010) == super::tmpfs::S_ISGID | 0o010 {
                m.mode &= !(super::tmpfs::S_ISUID | super::tmpfs::S_ISGID);
            }
            return Ok(done);
        }
        result.map(|_| 0)
    }

    /// `pread64`: read at `off` without moving the offset.
    pub fn pread_to_user(&self, buf: u64, count: usize, off: u64) -> Result<usize, Errno> {
        match &self.kind {
            FileKind::Tmpfs(i) => {
                let mut pos = off;
                Self::tmpfs_read(i, &mut pos, buf, count.min(MAX_RW_COUNT))
            }
            FileKind::Dev(Device::Null) => Ok(0),
            FileKind::Dev(Device::Zero) => read_zero(buf, count.min(MAX_RW_COUNT)),
            FileKind::Dir(_) => Err(Errno::EISDIR),
            _ => Err(Errno::ESPIPE),
        }
    }

    /// `pwrite64`: write at `off` without moving the offset (at the end
    /// for an `O_APPEND` file, as Linux does).
    pub fn pwrite_from_user(&self, buf: u64, count: usize, off: u64) -> Result<usize, Errno> {
        match &self.kind {
            FileKind::Tmpfs(i) => {
                let mut pos = off;
                Self::tmpfs_write(i, &mut pos, self.f_flags() & O_APPEND != 0, buf, count.min(MAX_RW_COUNT))
            }
            FileKind::Dev(_) => Ok(count),
            _ => Err(Errno::ESPIPE),
        }
    }

    /// The file's current offset.
    pub fn pos(&self) -> u64 {
        *self.pos.lock()
    }

    /// Read at the current offset into user memory at `buf` (`count`
    /// bytes, already checked with `access_ok`); returns bytes read (0 =
    /// end of file). A fault after some bytes were copied returns those.
    pub fn read_to_user(&self, buf: u64, count: usize) -> Result<usize, Errno> {
        match &self.kind {
            FileKind::Console => return crate::tty::console().read(buf, count.min(MAX_RW_COUNT), self.nonblock()),
            FileKind::Dev(Device::Null) => return Ok(0),
            FileKind::Pipe(p) => return p.read(&[(buf, count.min(MAX_RW_COUNT))], self.nonblock()),
            FileKind::Dev(Device::Zero) => return read_zero(buf, count.min(MAX_RW_COUNT)),
            FileKind::Tmpfs(i) => {
                // The offset is read before and stored after the copy (no
                // lock is held over user memory).
                let mut p = self.pos();
                if (p as i64).checked_add(count as i64).is_none_or(|end| end < 0) {
                    return Err(Errno::EINVAL);
                }
                let r = Self::tmpfs_read(i, &mut p, buf, count.min(MAX_RW_COUNT));
                self.set_pos(p);
                return r;
            }
            _ => {}
        }
        // rw_verify_area (the console is a stream, without an offset): the
        // end offset must not overflow.
        if (self.pos() as i64).checked_add(count as i64).is_none_or(|end| end < 0) {
            return Err(Errno::EINVAL);
        }
        let count = count.min(MAX_RW_COUNT);
        let sysctl;
        let data: &[u8] = match &self.kind {
            FileKind::Console | FileKind::Pipe(_) | FileKind::Dev(_) | FileKind::Tmpfs(_) => return Ok(0),
            FileKind::Dir(_) => return Err(Errno::EISDIR),
            // No read operation (Linux's vfs_read: EINVAL).
            FileKind::SysrqTrigger => return Err(Errno::EINVAL),
            FileKind::Bytes(b) => b.as_slice(),
            FileKind::Sysctl(s) => {
                sysctl = s.read();
                sysctl.as_bytes()
            }
        };
        let mut done = 0usize;
        while done < count {
            let start = usize::try_from(self.pos()).unwrap_or(usize::MAX);
            if start >= data.len() {
                break;
            }
            let at = buf + done as u64;
            let to_page_end = (PAGE_SIZE - at % PAGE_SIZE) as usize;
            let n = (count - done).min(data.len() - start).min(to_page_end);
            if let Err(e) = copy_to_user(at, &data[start..start + n]) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
            *self.pos.lock() = (start + n) as u64;
            done += n;
        }
        Ok(done)
    }

    /// Write `count` bytes from user memory at `buf` (already checked with
    /// `access_ok`). The console and the sysctl are writable.
    pub fn write_from_user(&self, buf: u64, count: usize) -> Result<usize, Errno> {
        match &self.kind {
            FileKind::Tmpfs(i) => {
                let mut p = self.pos();
                let r = Self::tmpfs_write(i, &mut p, self.f_flags() & O_APPEND != 0, buf, count);
                self.set_pos(p);
                r
            }
            FileKind::Pipe(p) => p.write(&[(buf, count)], self.nonblock()),
            // write_null / write_zero: everything is taken, nothing read.
            FileKind::Dev(_) => Ok(count),
            FileKind::Console => crate::tty::console().write(buf, count),
            FileKind::Sysctl(_) if count == 0 => Ok(0),
            FileKind::Sysctl(s) => {
                // Like proc_dostring: the value is the first page written.
                let mut kbuf = alloc::vec![0u8; count.min(PAGE_SIZE as usize)];
                copy_from_user(&mut kbuf, buf)?;
                s.write(&kbuf)?;
                Ok(count)
            }
            FileKind::SysrqTrigger if count == 0 => Ok(0),
            FileKind::SysrqTrigger => {
                // Like write_sysrq_trigger: the first byte is the key.
                let mut key = [0u8; 1];
                copy_from_user(&mut key, buf)?;
                super::procfs::sysrq_trigger(key[0]);
                Ok(count)
            }
            // No write operation (never reached: these are opened read-only).
            FileKind::Bytes(_) | FileKind::Dir(_) => Err(Errno::EINVAL),
        }
    }

    /// `lseek` with a valid `whence` (0..=4): `generic_file_llseek` for
    /// tmpfs files, the sysctl and /proc directories (of size 0),
    /// `seq_lseek` (`SEEK_SET` and `SEEK_CUR` only) for generated /proc
    /// files; the console cannot seek.
    pub fn lseek(&self, off: i64, whence: u32) -> Result<u64, Errno> {
        let mut pos = self.pos.lock();
        let new = match (&self.kind, whence) {
            // null_lseek: any seek lands at 0.
            (FileKind::Dev(_), _) => {
                *pos = 0;
                return Ok(0);
            }
            (FileKind::Console | FileKind::Pipe(_), _) => return Err(Errno::ESPIPE),
            // dcache_dir_lseek: a directory's offset is a cookie.
            (FileKind::Tmpfs(i), 0) if i.is_dir() => off,
            (FileKind::Tmpfs(i), 1) if i.is_dir() => off.wrapping_add(*pos as i64),
            (FileKind::Tmpfs(i), _) if i.is_dir() => return Err(Errno::EINVAL),
            (FileKind::Bytes(FileBytes::Owned(_)), 0) => off,
            (FileKind::Bytes(FileBytes::Owned(_)), 1) => off.wrapping_add(*pos as i64),
            (FileKind::Bytes(FileBytes::Owned(_)), _) => return Err(Errno::EINVAL),
            (_, 0) => off,
            (_, 1) if off == 0 => return Ok(*pos),
            (_, 1) => off.wrapping_add(*pos as i64),
            (_, 2) => off.wrapping_add(self.size() as i64),
            (_, 3) if off as u64 >= self.size() => return Err(Errno::ENXIO),
            (_, 3) => off,
            (_, 4) if off as u64 >= self.size() => return Err(Errno::ENXIO),
            (_, 4) => self.size() as i64,
            _ => return Err(Errno::EINVAL),
        };
        if !(0..=MAX_LFS_FILESIZE).contains(&new) {
            return Err(Errno::EINVAL);
        }
        *pos = new as u64;
        Ok(new as u64)
    }

    /// `st_size`: the length of a tmpfs file or /proc snapshot; 0 for
    /// the console, the sysctl and directories.
    pub fn size(&self) -> u64 {
        match &self.kind {
            FileKind::Bytes(FileBytes::Owned(b)) => b.len() as u64,
            FileKind::Tmpfs(i) => i.size(),
            _ => 0,
        }
    }

    pub fn mode(&self) -> u32 {
        match &self.kind {
            FileKind::Console => S_IFCHR | 0o620,
            FileKind::Bytes(_) => S_IFREG | 0o444,
            FileKind::Sysctl(_) => S_IFREG | 0o644,
            FileKind::SysrqTrigger => S_IFREG | 0o200,
            FileKind::Dir(p) if crate::fs::namei::in_proc(p) => S_IFDIR | 0o555,
            FileKind::Dir(_) => S_IFDIR | 0o755,
            FileKind::Pipe(_) => S_IFIFO | 0o600,
            FileKind::Dev(_) => S_IFCHR | 0o666,
            FileKind::Tmpfs(i) => i.mode(),
        }
    }

    /// `st_rdev`, as `new_encode_dev` packs (major, minor) (0 for files
    /// that are not devices).
    pub fn rdev(&self) -> u64 {
        match &self.kind {
            FileKind::Dev(d) => {
                let (major, minor) = d.rdev();
                ((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)) as u64
            }
            _ => 0,
        }
    }

    pub fn is_tty(&self) -> bool {
        matches!(self.kind, FileKind::Console)
    }
}

/// `read_zero`: fill user memory with zeros, a page at most at a time; a
/// fault after some bytes returns those.
fn read_zero(buf: u64, count: usize) -> Result<usize, Errno> {
    let zeros = [0u8; PAGE_SIZE as usize];
    let mut done = 0usize;
    while done < count {
        let at = buf + done as u64;
        let n = (count - done).min((PAGE_SIZE - at % PAGE_SIZE) as usize);
        if let Err(e) = copy_to_user(at, &zeros[..n]) {
            return if done > 0 { Ok(done) } else { Err(e) };
        }
        done += n;
    }
    Ok(done)
}

/// One descriptor: the open file and its close-on-exec bit.
#[derive(Clone)]
struct Fd {
    file: Arc<File>,
    cloexec: bool,
}

/// A process's file descriptors.
pub struct FdTable {
    fds: Vec<Option<Fd>>,
}

/// A process's file table, as its `Process::files` holds it.
pub struct Files(IrqMutex<FdTable>, IrqMutex<FsStruct>);

/// A process's file-system context (Linux's `fs_struct`).
pub struct FsStruct {
    /// The working directory.
    pub cwd: super::namei::Node,
    /// The file-mode creation mask.
    pub umask: u32,
}

impl Files {
    /// A new process's files: stdin, stdout and stderr on the console;
    /// its working directory the root, its umask 022.
    pub fn with_console() -> Box<dyn ProcessFiles> {
        let fs = FsStruct { cwd: super::namei::Node::root(), umask: 0o022 };
        Box::new(Files(IrqMutex::new(FdTable::with_console()), IrqMutex::new(fs)))
    }
}

/// The file-system context of process `p`.
pub fn fs_struct(p: &Process) -> &IrqMutex<FsStruct> {
    let any: &dyn Any = &*p.files;
    &any.downcast_ref::<Files>().expect("a process's files are fs::file::Files").1
}

impl ProcessFiles for Files {
    fn close_all(&self) {
        // The files' last references go after the lock.
        let fds = core::mem::take(&mut self.0.lock().fds);
        drop(fds);
    }

    fn close_on_exec(&self) {
        // The files are dropped after the table's lock is released.
        let closed = self.0.lock().take_cloexec();
        drop(closed);
    }

    fn dup(&self) -> Result<Box<dyn ProcessFiles>, Errno> {
        let t = self.0.lock();
        let mut fds = Vec::new();
        fds.try_reserve_exact(t.fds.len()).map_err(|_| Errno::ENOMEM)?;
        fds.extend(t.fds.iter().cloned());
        let fs = self.1.lock();
        let fs = FsStruct { cwd: fs.cwd.clone(), umask: fs.umask };
        Ok(Box::new(Files(IrqMutex::new(FdTable { fds }), IrqMutex::new(fs))))
    }
}

/// The file table of process `p`.
pub fn files(p: &Process) -> &IrqMutex<FdTable> {
    let any: &dyn Any = &*p.files;
    &any.downcast_ref::<Files>().expect("a process's files are fs::file::Files").0
}

/// Most descriptors any process may hold, whatever its `RLIMIT_NOFILE`
/// (Linux's `sysctl_nr_open` default).
pub const NR_OPEN: usize = 1 << 20;

/// The descriptors process `p` may use: its `RLIMIT_NOFILE`, at most
/// [`NR_OPEN`].
pub fn nofile(p: &Process) -> usize {
    p.rlimits.lock()[crate::proc::RLIMIT_NOFILE].cur.min(NR_OPEN as u64) as usize
}

impl FdTable {
    /// stdin, stdout and stderr on the console.
    pub fn with_console() -> FdTable {
        let c = Fd { file: File::console(), cloexec: false };
        FdTable { fds: alloc::vec![Some(c.clone()), Some(c.clone()), Some(c)] }
    }

    /// Install `f` at the lowest free descriptor `>= from` (`EMFILE` if
    /// there is none below `nofile`, the process's `RLIMIT_NOFILE`).
    pub fn install_from(&mut self, file: Arc<File>, from: usize, cloexec: bool, nofile: usize) -> Result<i32, Errno> {
        let fd = Some(Fd { file, cloexec });
        if let Some(i) = self.fds.iter().take(nofile).skip(from).position(Option::is_none) {
            self.fds[from + i] = fd;
            return Ok((from + i) as i32);
        }
        let i = self.fds.len().max(from);
        if i >= nofile {
            return Err(Errno::EMFILE);
        }
        self.fds.resize(i + 1, None);
        self.fds[i] = fd;
        Ok(i as i32)
    }

    /// The table's size in descriptors: whole 64-bit words of them, at
    /// least one word (Linux's `fdtable::max_fds`). No descriptor at or
    /// above it is open.
    pub fn max_fds(&self) -> usize {
        self.fds.len().div_ceil(64).max(1) * 64
    }

    /// Is a descriptor below `nofile` free?
    pub fn has_free(&self, nofile: usize) -> bool {
        self.fds.len() < nofile || self.fds.iter().take(nofile).any(Option::is_none)
    }

    fn slot(&self, fd: i32) -> Option<&Fd> {
        usize::try_from(fd).ok().and_then(|i| self.fds.get(i)).and_then(Option::as_ref)
    }

    /// The file at `fd`, `O_PATH` handles included (Linux's `fdget_raw`).
    pub fn get_raw(&self, fd: i32) -> Result<Arc<File>, Errno> {
        self.slot(fd).map(|d| d.file.clone()).ok_or(Errno::EBADF)
    }

    /// The file at `fd` for I/O: an `O_PATH` handle is `EBADF` (`fdget`).
    pub fn get(&self, fd: i32) -> Result<Arc<File>, Errno> {
        self.get_raw(fd).and_then(|f| if f.is_path() { Err(Errno::EBADF) } else { Ok(f) })
    }

    pub fn cloexec(&self, fd: i32) -> Result<bool, Errno> {
        self.slot(fd).map(|d| d.cloexec).ok_or(Errno::EBADF)
    }

    pub fn set_cloexec(&mut self, fd: i32, on: bool) -> Result<(), Errno> {
        let slot = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)).and_then(Option::as_mut);
        slot.map(|d| d.cloexec = on).ok_or(Errno::EBADF)
    }

    /// Remove `fd` from the table and hand over its file (to be dropped
    /// outside the table's lock).
    pub fn take(&mut self, fd: i32) -> Result<Arc<File>, Errno> {
        let slot = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)).ok_or(Errno::EBADF)?;
        slot.take().map(|d| d.file).ok_or(Errno::EBADF)
    }

    pub fn close(&mut self, fd: i32) -> Result<(), Errno> {
        let slot = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)).ok_or(Errno::EBADF)?;
        slot.take().map(|_| ()).ok_or(Errno::EBADF)
    }

    /// `do_dup2`: make `newfd` (below the caller's `RLIMIT_NOFILE`) refer
    /// to `file`, replacing whatever it held in one step; returns the
    /// replaced descriptor's file, for the caller to drop unlocked.
    pub fn replace(&mut self, newfd: usize, file: Arc<File>, cloexec: bool) -> Option<Arc<File>> {
        if self.fds.len() <= newfd {
            self.fds.resize(newfd + 1, None);
        }
        self.fds[newfd].replace(Fd { file, cloexec }).map(|d| d.file)
    }

    /// Close `fd` if it still holds `file` (undoing an install that
    /// another thread of the process may have raced with).
    pub fn close_if(&mut self, fd: i32, file: &Arc<File>) -> Result<(), Errno> {
        match self.slot(fd) {
            Some(d) if Arc::ptr_eq(&d.file, file) => self.close(fd),
            _ => Err(Errno::EBADF),
        }
    }

    /// `do_close_on_exec`: take every descriptor marked close-on-exec out
    /// of the table; returns their files, for the caller to drop unlocked.
    pub fn take_cloexec(&mut self) -> Vec<Arc<File>> {
        let mut closed = Vec::new();
        for slot in self.fds.iter_mut() {
            if slot.as_ref().is_some_and(|d| d.cloexec) {
                if let Some(d) = slot.take() {
                    closed.push(d.file);
                }
            }
        }
        closed
    }
}
