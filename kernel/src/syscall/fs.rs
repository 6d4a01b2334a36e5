//! File syscalls: read/write(v), open(at), close, lseek, stat family,
//! ioctl, fcntl, getcwd.
//!
//! Each returns what Linux returns and checks its arguments in Linux's
//! order: flags that are invalid whatever the file, then the path (copied
//! in before the `dirfd` is looked at), then the descriptor (`EBADF`,
//! including a file not open for the access asked), then lengths and
//! counts, then user buffers (`EFAULT`), then the operation itself.

use alloc::sync::Arc;
use alloc::vec::Vec;
use mm::Errno;

use super::{Args, SysResult};
use crate::fs::file::*;
use crate::fs::namei::{self, FsCred, Node, NodeType, Walk};
use crate::fs::tmpfs::{self, Inode, InodeKind};
use crate::proc;
use crate::uaccess::{access_ok, copy_to_user, read_user, write_user};

pub(super) const AT_FDCWD: i32 = -100;
pub(super) const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_NO_AUTOMOUNT: u32 = 0x800;
pub(super) const AT_EMPTY_PATH: u32 = 0x1000;
const AT_STATX_SYNC_TYPE: u32 = 0x6000;
/// Most iovecs one readv/writev takes (`UIO_MAXIOV`).
const UIO_MAXIOV: u64 = 1024;

/// The file at `fd` for I/O (`EBADF` if none, or an `O_PATH` handle).
pub(super) fn file(fd: u64) -> Result<Arc<File>, Errno> {
    files(&proc::current()).lock().get(fd as i32)
}

/// The file at `fd`, `O_PATH` handles included.
pub(super) fn file_raw(fd: i32) -> Result<Arc<File>, Errno> {
    files(&proc::current()).lock().get_raw(fd)
}

/// `inode_owner_or_capable` for Holdfast's inodes, which are all owned
/// by root: every process starts as root, and one that changed its uid
/// is no longer dumpable, so Linux gives its /proc/<pid> files to root
/// too. fsuid 0 or `CAP_FOWNER` passes.
fn owner_or_capable() -> bool {
    let creds = proc::current().creds();
    creds.fsuid == 0 || creds.capable(proc::cred::CAP_FOWNER)
}

/// `read`: `EBADF` unless open for reading, `EFAULT` for a buffer outside
/// user space, then the file's read (a directory is `EISDIR`).
pub fn sys_read(a: Args) -> SysResult {
    let [fd, buf, count, ..] = a.0;
    let f = file(fd)?;
    if f.f_mode() & FMODE_READ == 0 {
        return Err(Errno::EBADF);
    }
    let count = count as usize;
    access_ok(buf, count as u64)?;
    f.read_to_user(buf, count).map(|n| n as u64)
}

/// `write`: `EBADF` unless open for writing, before the buffer is looked
/// at (even for 0 bytes), then `EFAULT`, then the file's write.
pub fn sys_write(a: Args) -> SysResult {
    let [fd, buf, count, ..] = a.0;
    let f = file(fd)?;
    if f.f_mode() & FMODE_WRITE == 0 {
        return Err(Errno::EBADF);
    }
    let count = count as usize;
    access_ok(buf, count as u64)?;
    f.write_from_user(buf, count.min(MAX_RW_COUNT)).map(|n| n as u64)
}

/// Linux's `import_iovec`: more than `UIO_MAXIOV` entries is `EINVAL`; the
/// array must be readable (`EFAULT`); a length negative as `ssize_t` is
/// `EINVAL`; every buffer must lie in user space (`EFAULT`). The total is
/// capped at `MAX_RW_COUNT`.
fn import_iovec(iov: u64, cnt: u64) -> Result<Vec<(u64, usize)>, Errno> {
    if cnt > UIO_MAXIOV {
        return Err(Errno::EINVAL);
    }
    if cnt == 0 {
        // iovec_from_user: no iovec, nothing to check (not even `iov`).
        return Ok(Vec::new());
    }
    access_ok(iov, cnt * 16)?;
    let mut v = Vec::with_capacity(cnt as usize);
    for i in 0..cnt {
        let [base, len] = read_user::<[u64; 2]>(iov + i * 16)?;
        if (len as i64) < 0 {
            return Err(Errno::EINVAL);
        }
        v.push((base, len as usize));
    }
    let mut total = 0usize;
    for (base, len) in v.iter_mut() {
        access_ok(*base, *len as u64)?;
        *len = (*len).min(MAX_RW_COUNT - total);
        total += *len;
    }
    Ok(v)
}

/// Run `op` on each iovec until one transfers less than asked; an error
/// after some bytes moved returns those bytes.
fn for_each_iovec(iovs: &[(u64, usize)], mut op: impl FnMut(u64, usize) -> Result<usize, Errno>) -> SysResult {
    let mut total = 0usize;
    for &(base, len) in iovs.iter().filter(|v| v.1 != 0) {
        match op(base, len) {
            Ok(n) => {
                total += n;
                if n < len {
                    break;
                }
            }
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(total as u64)
}

pub fn sys_writev(a: Args) -> SysResult {
    let [fd, iov, iovcnt, ..] = a.0;
    let f = file(fd)?;
    if f.f_mode() & FMODE_WRITE == 0 {
        return Err(Errno::EBADF);
    }
    let iovs = import_iovec(iov, iovcnt)?;
    if let Some(r) = f.pipe_rw_iov(&iovs, true) {
        return r.map(|n| n as u64);
    }
    for_each_iovec(&iovs, |base, len| f.write_from_user(base, len))
}

pub fn sys_readv(a: Args) -> SysResult {
    let [fd, iov, iovcnt, ..] = a.0;
    let f = file(fd)?;
    if f.f_mode() & FMODE_READ == 0 {
        return Err(Errno::EBADF);
    }
    let iovs = import_iovec(iov, iovcnt)?;
    if let Some(r) = f.pipe_rw_iov(&iovs, false) {
        return r.map(|n| n as u64);
    }
    for_each_iovec(&iovs, |base, len| f.read_to_user(base, len))
}

/// Where a path lookup starts ([`namei::start_dir`]).
pub(super) fn start_dir(dirfd: i32, path: &[u8]) -> Result<Node, Errno> {
    namei::start_dir(dirfd, path)
}

/// Open the node `node` with `flags`.
pub(super) fn open_node(node: Node, flags: u32) -> Result<Arc<File>, Errno> {
    let kind = match node {
        Node::Proc(path) if node_is_dir(&path) => FileKind::Dir(path),
        Node::Proc(path) => crate::fs::procfs::open(&path).ok_or(Errno::ENOENT)??,
        Node::Tmpfs(i) => match &i.kind {
            // Every process's controlling terminal is the console.
            InodeKind::Chr(namei::Device::Tty | namei::Device::Console) => FileKind::Console,
            InodeKind::Chr(d) => FileKind::Dev(*d),
            _ => FileKind::Tmpfs(i),
        },
    };
    Ok(File::opened(kind, flags))
}

fn node_is_dir(path: &[u8]) -> bool {
    namei::proc_node_type(path) == Some(NodeType::Dir)
}

/// `may_create`: a name may be added to the tmpfs directory `dir` (not
/// one that was removed: `ENOENT`) by who may write and search it
/// (`EACCES`).
pub(super) fn may_create(dir: &Arc<Inode>, cred: FsCred) -> Result<(), Errno> {
    if dir.dir().is_none_or(|d| d.lock().dead) {
        return Err(Errno::ENOENT);
    }
    namei::permission(dir, namei::MAY_WRITE | namei::MAY_EXEC, &cred)
}

/// Make a new inode as `name` in `dir`: owned by the caller, its group
/// the directory's when that is set-gid (directories inherit the bit).
pub(super) fn create_in(
    dir: &Arc<Inode>,
    name: &[u8],
    cred: FsCred,
    make: impl FnOnce(u32, u32) -> Result<Arc<Inode>, Errno>,
) -> Result<Arc<Inode>, Errno> {
    may_create(dir, cred.clone())?;
    let dm = dir.meta();
    let gid = if dm.mode & tmpfs::S_ISGID != 0 { dm.gid } else { cred.gid };
    let inode = make(cred.uid, gid)?;
    if inode.is_dir() && dm.mode & tmpfs::S_ISGID != 0 {
        inode.meta.lock().mode |= tmpfs::S_ISGID;
    }
    let tree = tmpfs::TREE.lock();
    tmpfs::link_into(&tree, dir, name, inode.clone())?;
    Ok(inode)
}

/// The caller's umask.
pub(super) fn umask() -> u32 {
    fs_struct(&proc::current()).lock().umask
}

/// `inode_owner_or_capable`: the owner, or `CAP_FOWNER`.
pub(super) fn owner_or_capable_of(inode: &Inode, cred: &FsCred) -> bool {
    cred.capable(crate::proc::cred::CAP_FOWNER) || inode.meta().uid == cred.uid
}

/// `do_sys_open`: flags (`build_open_flags`), the path, a free descriptor
/// (`EMFILE`), the `dirfd`, the walk (`O_CREAT` creates a missing last
/// name, also at the end of a dangling symbolic link), then `do_open`'s
/// and `may_open`'s checks on what was found, and `O_TRUNC`.
fn do_open(dirfd: i32, path_ptr: u64, flags: u64, mode: u64) -> SysResult {
    let mut flags = flags as u32;
    if flags & O_PATH != 0 {
        flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    }
    if flags & (O_DIRECTORY | O_CREAT) == O_DIRECTORY | O_CREAT {
        return Err(Errno::EINVAL);
    }
    let writing = flags & O_ACCMODE != 0;
    if flags & __O_TMPFILE != 0 && (flags & O_DIRECTORY == 0 || !writing) {
        return Err(Errno::EINVAL);
    }
    let path = namei::getname(path_ptr, false)?;
    // do_sys_openat2 takes its descriptor before the lookup: with none
    // free, EMFILE comes before anything the path could say.
    let p = proc::current();
    if !files(&p).lock().has_free(nofile(&p)) {
        return Err(Errno::EMFILE);
    }
    let start = start_dir(dirfd, &path)?;
    let cred = FsCred::current();
    let mut w = Walk::new(cred.clone());
    let mut parent = w.parent(start, &path)?;
    if flags & __O_TMPFILE != 0 {
        // Unnamed temporary files are not supported.
        return Err(Errno::EOPNOTSUPP);
    }
    let mut created = false;
    let node = if flags & O_CREAT == 0 {
        w.last(parent, flags & O_NOFOLLOW == 0)?
    } else {
        loop {
            if !parent.is_norm() || parent.trailing_slash {
                return Err(Errno::EISDIR);
            }
            match namei::step(&parent.dir, &parent.last) {
                Ok(_) if flags & O_EXCL != 0 => return Err(Errno::EEXIST),
                Ok(n) if n.is_symlink() && flags & O_NOFOLLOW == 0 => {
                    let Some(InodeKind::Symlink(target)) = n.inode().map(|i| &i.kind) else { unreachable!() };
                    let target = target.clone();
                    w.count_link()?;
                    parent = w.parent(parent.dir.clone(), &target)?;
                }
                Ok(n) => break n,
                Err(Errno::ENOENT) => {
                    // /proc's lookups fail before any create.
                    let Node::Tmpfs(dir) = &parent.dir else { return Err(Errno::ENOENT) };
                    let perm = mode as u32 & 0o7777 & !umask();
                    match create_in(dir, &parent.last, cred.clone(), |uid, gid| Inode::new_file(perm, uid, gid, &[])) {
                        Ok(inode) => {
                            created = true;
                            break Node::Tmpfs(inode);
                        }
                        // Another thread made it first: open that.
                        Err(Errno::EEXIST) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    };
    let is_dir = node.is_dir();
    if flags & O_CREAT != 0 && !created && is_dir {
        return Err(Errno::EISDIR);
    }
    if flags & O_DIRECTORY != 0 && !is_dir {
        return Err(Errno::ENOTDIR);
    }
    if flags & O_PATH == 0 {
        // may_open
        if node.is_symlink() {
            return Err(Errno::ELOOP);
        }
        if is_dir && (writing || flags & O_TRUNC != 0) {
            return Err(Errno::EISDIR);
        }
        match &node {
            Node::Tmpfs(i) => {
                let mut mask = match flags & O_ACCMODE {
                    0 => namei::MAY_READ,
                    1 => namei::MAY_WRITE,
                    _ => namei::MAY_READ | namei::MAY_WRITE,
                };
                if flags & O_TRUNC != 0 {
                    mask |= namei::MAY_WRITE;
                }
                if !created {
                    namei::permission(i, mask, &cred)?;
                }
                if flags & O_NOATIME != 0 && !owner_or_capable_of(i, &cred) {
                    return Err(Errno::EPERM);
                }
            }
            Node::Proc(path) => {
                // Only the sysctls (0644) and sysrq-trigger (0200) are
                // writable, and only by root.
                let proc_writable = crate::fs::procfs::Sysctl::from_path(path).is_some() || path == b"/proc/sysrq-trigger";
                if writing && (!proc_writable || !owner_or_capable()) {
                    return Err(Errno::EACCES);
                }
                if flags & O_NOATIME != 0 && !owner_or_capable() {
                    return Err(Errno::EPERM);
                }
            }
        }
        // do_dentry_open: none of these files supports direct I/O.
        if flags & O_DIRECT != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & O_TRUNC != 0 && !created {
            if let Some(data) = node.inode().and_then(|i| i.file()) {
                let gone = data.lock().truncate(0)?;
                drop(gone);
                node.inode().unwrap().touch_mc();
            }
        }
    }
    let f = open_node(node, flags)?;
    let nofile = nofile(&p);
    let fd = files(&p).lock().install_from(f, 0, flags & O_CLOEXEC != 0, nofile)?;
    Ok(fd as u64)
}

pub fn sys_open(a: Args) -> SysResult {
    let [path, flags, mode, ..] = a.0;
    do_open(AT_FDCWD, path, flags, mode)
}

pub fn sys_openat(a: Args) -> SysResult {
    let [dirfd, path, flags, mode, ..] = a.0;
    do_open(dirfd as i32, path, flags, mode)
}

/// `creat`: `open(path, O_CREAT|O_WRONLY|O_TRUNC, mode)`.
pub fn sys_creat(a: Args) -> SysResult {
    let [path, mode, ..] = a.0;
    do_open(AT_FDCWD, path, (O_CREAT | 1 | O_TRUNC) as u64, mode)
}

/// `pipe2`: flags other than `O_CLOEXEC` and `O_NONBLOCK` are `EINVAL`
/// (Linux also takes `O_DIRECT`, packet mode, which Holdfast's pipes do
/// not have); two descriptors (`EMFILE` unless both fit), then the pair
/// is copied out: a fault is `EFAULT` and both are closed again.
pub fn sys_pipe2(a: Args) -> SysResult {
    let [fds, flags, ..] = a.0;
    let flags = flags as u32;
    if flags & !(O_CLOEXEC | O_NONBLOCK) != 0 {
        return Err(Errno::EINVAL);
    }
    let (r, w) = crate::fs::pipe::create();
    let nonblock = flags & O_NONBLOCK != 0;
    let (rf, wf) = (File::pipe_end(r, false, nonblock), File::pipe_end(w, true, nonblock));
    let cloexec = flags & O_CLOEXEC != 0;
    let p = proc::current();
    let nofile = nofile(&p);
    let pair = {
        let mut t = files(&p).lock();
        let rfd = t.install_from(rf.clone(), 0, cloexec, nofile)?;
        match t.install_from(wf.clone(), 0, cloexec, nofile) {
            Ok(wfd) => [rfd, wfd],
            Err(e) => {
                let _ = t.close_if(rfd, &rf);
                return Err(e);
            }
        }
    };
    // int fd[2], little-endian: the read end first.
    let both = pair[0] as u32 as u64 | (pair[1] as u32 as u64) << 32;
    if let Err(e) = write_user(fds, &both) {
        let mut t = files(&p).lock();
        let _ = t.close_if(pair[0], &rf);
        let _ = t.close_if(pair[1], &wf);
        return Err(e);
    }
    Ok(0)
}

pub fn sys_pipe(a: Args) -> SysResult {
    let [fds, ..] = a.0;
    sys_pipe2(Args([fds, 0, 0, 0, 0, 0]))
}

/// `dup`: the lowest free descriptor for the same open file (`O_PATH`
/// handles too), without close-on-exec; `EBADF`, `EMFILE`.
pub fn sys_dup(a: Args) -> SysResult {
    let [oldfd, ..] = a.0;
    let f = file_raw(oldfd as u32 as i32)?;
    let p = proc::current();
    let nofile = nofile(&p);
    let fd = files(&p).lock().install_from(f, 0, false, nofile)?;
    Ok(fd as u64)
}

/// `ksys_dup3`: flags other than `O_CLOEXEC` and equal descriptors are
/// `EINVAL`, a `newfd` at or past `RLIMIT_NOFILE` is `EBADF`, then an
/// `oldfd` that is not open is `EBADF`. `newfd` is replaced atomically:
/// the table lock is held from the lookup of `oldfd` to the install.
fn do_dup3(oldfd: u64, newfd: u64, flags: u64) -> SysResult {
    let (oldfd, newfd) = (oldfd as u32, newfd as u32);
    if flags & !(O_CLOEXEC as u64) != 0 {
        return Err(Errno::EINVAL);
    }
    if oldfd == newfd {
        return Err(Errno::EINVAL);
    }
    let p = proc::current();
    if newfd as usize >= nofile(&p) {
        return Err(Errno::EBADF);
    }
    let replaced = {
        let mut t = files(&p).lock();
        let f = t.get_raw(oldfd as i32)?;
        t.replace(newfd as usize, f, flags != 0)
    };
    // The replaced file's last reference may go here, unlocked.
    drop(replaced);
    Ok(newfd as u64)
}

/// `dup2`: `dup2(fd, fd)` returns `fd` if it is open (`EBADF` if not);
/// otherwise `dup3` without flags.
pub fn sys_dup2(a: Args) -> SysResult {
    let [oldfd, newfd, ..] = a.0;
    if oldfd as u32 == newfd as u32 {
        file_raw(oldfd as u32 as i32)?;
        return Ok(oldfd as u32 as u64);
    }
    do_dup3(oldfd, newfd, 0)
}

pub fn sys_dup3(a: Args) -> SysResult {
    let [oldfd, newfd, flags, ..] = a.0;
    do_dup3(oldfd, newfd, flags as u32 as u64)
}

/// `close`: the file's last reference (a removed tmpfs file's pages with
/// it) goes after the table is unlocked.
pub fn sys_close(a: Args) -> SysResult {
    let [fd, ..] = a.0;
    let f = files(&proc::current()).lock().take(fd as i32)?;
    drop(f);
    Ok(0)
}

const SEEK_MAX: u32 = 4; // SEEK_HOLE

/// `lseek`: `EBADF`, then an unknown `whence` is `EINVAL`, then the
/// file's llseek (`ESPIPE` on the console).
pub fn sys_lseek(a: Args) -> SysResult {
    let [fd, offset, whence, ..] = a.0;
    let f = file(fd)?;
    let whence = whence as u32;
    if whence > SEEK_MAX {
        return Err(Errno::EINVAL);
    }
    f.lseek(offset as i64, whence)
}

/// What the stat family reports (Linux's `struct kstat`).
pub(super) struct Kstat {
    dev: u64,
    ino: u64,
    mode: u32,
    nlink: u32,
    uid: u32,
    gid: u32,
    rdev: u64,
    size: u64,
    blocks: u64,
    atime: u64,
    mtime: u64,
    ctime: u64,
}

/// tmpfs's `st_dev` (an anonymous device, as Linux gives it) and /proc's.
const TMPFS_DEV: u64 = 0x1d;
const PROC_DEV: u64 = 0x16;

fn kstat_inode(i: &Inode) -> Kstat {
    let m = i.meta();
    let rdev = match &i.kind {
        InodeKind::Chr(d) => encode_dev(d.rdev()),
        _ => 0,
    };
    Kstat {
        dev: TMPFS_DEV,
        ino: i.ino,
        mode: m.mode,
        nlink: m.nlink,
        uid: m.uid,
        gid: m.gid,
        rdev,
        size: i.size(),
        blocks: i.blocks(),
        atime: m.atime,
        mtime: m.mtime,
        ctime: m.ctime,
    }
}

fn encode_dev((major, minor): (u32, u32)) -> u64 {
    ((minor & 0xff) | (major << 8) | ((minor & !0xff) << 12)) as u64
}

/// The stat of an open file: its inode's, or what the console, pipes and
/// /proc files report (root's, of size 0 unless a snapshot).
pub(super) fn kstat_file(f: &File) -> Kstat {
    if let Some(i) = f.inode() {
        return kstat_inode(i);
    }
    let t = tmpfs::now();
    Kstat {
        dev: PROC_DEV,
        ino: 1,
        mode: f.mode(),
        nlink: if f.is_dir() { 2 } else { 1 },
        uid: 0,
        gid: 0,
        rdev: f.rdev(),
        size: f.size(),
        blocks: f.size().div_ceil(512),
        atime: t,
        mtime: t,
        ctime: t,
    }
}

fn kstat_node(node: Node) -> Result<Kstat, Errno> {
    match node {
        Node::Tmpfs(i) => Ok(kstat_inode(&i)),
        // A /proc symbolic link (not followed): Linux's proc links are
        // 0777 and of size 0.
        Node::Proc(p) if namei::proc_symlink_target(&p).is_some() => {
            let t = tmpfs::now();
            let mode = tmpfs::S_IFLNK | 0o777;
            Ok(Kstat { dev: PROC_DEV, ino: 1, mode, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 0, blocks: 0, atime: t, mtime: t, ctime: t })
        }
        n => Ok(kstat_file(&*open_node(n, 0)?)),
    }
}

/// `cp_new_stat`: a Linux x86_64 `struct stat` (144 bytes).
fn cp_new_stat(k: &Kstat, buf: u64) -> SysResult {
    let mut st = [0u64; 18];
    st[0] = k.dev;
    st[1] = k.ino;
    st[2] = k.nlink as u64;
    st[3] = k.mode as u64 | (k.uid as u64) << 32;
    st[4] = k.gid as u64;
    st[5] = k.rdev;
    st[6] = k.size;
    st[7] = 4096; // st_blksize
    st[8] = k.blocks;
    for (i, t) in [k.atime, k.mtime, k.ctime].into_iter().enumerate() {
        st[9 + 2 * i] = t / 1_000_000_000;
        st[10 + 2 * i] = t % 1_000_000_000;
    }
    write_user(buf, &st).map(|_| 0)
}

/// Look up `path_ptr` from `dirfd` for the stat family. With `empty_ok`
/// (`AT_EMPTY_PATH`) an empty path names `dirfd` itself (any file).
fn stat_lookup(dirfd: i32, path_ptr: u64, empty_ok: bool, follow: bool) -> Result<Kstat, Errno> {
    let path = namei::getname(path_ptr, empty_ok)?;
    if path.is_empty() {
        return if dirfd == AT_FDCWD {
            kstat_node(fs_struct(&proc::current()).lock().cwd.clone())
        } else {
            Ok(kstat_file(&*file_raw(dirfd)?))
        };
    }
    let start = start_dir(dirfd, &path)?;
    kstat_node(namei::lookup(start, &path, follow)?)
}

pub fn sys_fstat(a: Args) -> SysResult {
    let [fd, statbuf, ..] = a.0;
    let f = file_raw(fd as i32)?;
    cp_new_stat(&kstat_file(&f), statbuf)
}

pub fn sys_stat(a: Args) -> SysResult {
    let [path, statbuf, ..] = a.0;
    cp_new_stat(&stat_lookup(AT_FDCWD, path, false, true)?, statbuf)
}

/// `lstat`: a symbolic link last is not followed.
pub fn sys_lstat(a: Args) -> SysResult {
    let [path, statbuf, ..] = a.0;
    cp_new_stat(&stat_lookup(AT_FDCWD, path, false, false)?, statbuf)
}

/// `newfstatat`: with `AT_EMPTY_PATH`, a NULL or empty path and a
/// non-negative `dirfd` is `fstat(dirfd)` (Linux takes this shortcut
/// before it looks at the other flags); otherwise unknown flags are
/// `EINVAL` first, then the path, the `dirfd`, the lookup and the copy.
pub fn sys_newfstatat(a: Args) -> SysResult {
    let [dirfd, path_ptr, buf, flags, ..] = a.0;
    let (dirfd, flags) = (dirfd as i32, flags as u32);
    let empty_ok = flags & AT_EMPTY_PATH != 0;
    if empty_ok && dirfd >= 0 && (path_ptr == 0 || read_user::<u8>(path_ptr) == Ok(0)) {
        let f = file_raw(dirfd)?;
        return cp_new_stat(&kstat_file(&f), buf);
    }
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0 {
        return Err(Errno::EINVAL);
    }
    let k = if empty_ok && path_ptr == 0 {
        if dirfd == AT_FDCWD {
            kstat_node(fs_struct(&proc::current()).lock().cwd.clone())?
        } else {
            return Err(Errno::EBADF);
        }
    } else {
        stat_lookup(dirfd, path_ptr, empty_ok, flags & AT_SYMLINK_NOFOLLOW == 0)?
    };
    cp_new_stat(&k, buf)
}

/// `STATX_BASIC_STATS`, and the reserved mask bit.
const STATX_BASIC_STATS: u32 = 0x7ff;
const STATX_RESERVED: u32 = 0x8000_0000;

/// `statx`: the path, then a reserved mask bit or both sync types is
/// `EINVAL`, then unknown flags, then the lookup (an empty path with
/// `AT_EMPTY_PATH` is `dirfd`), then the copy of `struct statx`.
pub fn sys_statx(a: Args) -> SysResult {
    let [dirfd, path_ptr, flags, mask, buf, ..] = a.0;
    let (dirfd, flags, mask) = (dirfd as i32, flags as u32, mask as u32);
    let empty_ok = flags & AT_EMPTY_PATH != 0;
    let path = if path_ptr == 0 && empty_ok { Vec::new() } else { namei::getname(path_ptr, empty_ok)? };
    if mask & STATX_RESERVED != 0 || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE {
        return Err(Errno::EINVAL);
    }
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH | AT_STATX_SYNC_TYPE) != 0 {
        return Err(Errno::EINVAL);
    }
    let k = if path.is_empty() {
        if dirfd == AT_FDCWD {
            kstat_node(fs_struct(&proc::current()).lock().cwd.clone())?
        } else {
            kstat_file(&*file_raw(dirfd)?)
        }
    } else {
        let start = start_dir(dirfd, &path)?;
        kstat_node(namei::lookup(start, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?)?
    };
    let mut sx = [0u8; 256];
    let put32 = |sx: &mut [u8; 256], at: usize, v: u32| sx[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put64 = |sx: &mut [u8; 256], at: usize, v: u64| sx[at..at + 8].copy_from_slice(&v.to_le_bytes());
    put32(&mut sx, 0, STATX_BASIC_STATS);
    put32(&mut sx, 4, 4096);
    put32(&mut sx, 16, k.nlink);
    put32(&mut sx, 20, k.uid);
    put32(&mut sx, 24, k.gid);
    sx[28..30].copy_from_slice(&(k.mode as u16).to_le_bytes());
    put64(&mut sx, 32, k.ino);
    put64(&mut sx, 40, k.size);
    put64(&mut sx, 48, k.blocks);
    for (at, t) in [(64, k.atime), (96, k.ctime), (112, k.mtime)] {
        put64(&mut sx, at, t / 1_000_000_000);
        put32(&mut sx, at + 8, (t % 1_000_000_000) as u32);
    }
    let (rmaj, rmin) = ((k.rdev >> 8) & 0xfff, (k.rdev & 0xff) | ((k.rdev >> 12) & !0xff));
    put32(&mut sx, 128, rmaj as u32);
    put32(&mut sx, 132, rmin as u32);
    put32(&mut sx, 136, (k.dev >> 8) as u32);
    put32(&mut sx, 140, (k.dev & 0xff) as u32);
    copy_to_user(buf, &sx).map(|_| 0)
}

/// What `pread64` and `pwrite64` check, in Linux's order: the
/// descriptor open for `mode` (`EBADF`), a non-negative offset
/// (`EINVAL`), a file with offsets (`ESPIPE` for a stream), the buffer
/// (`EFAULT`).
fn positional_io(fd: u64, mode: u32, buf: u64, count: u64, off: u64) -> Result<Arc<File>, Errno> {
    let f = file(fd)?;
    if f.f_mode() & mode == 0 {
        return Err(Errno::EBADF);
    }
    if (off as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    if matches!(f.kind, FileKind::Console | FileKind::Pipe(_)) {
        return Err(Errno::ESPIPE);
    }
    access_ok(buf, count)?;
    Ok(f)
}

/// `pread64`: read at an offset, the file's own offset unchanged.
pub fn sys_pread64(a: Args) -> SysResult {
    let [fd, buf, count, off, ..] = a.0;
    let f = positional_io(fd, FMODE_READ, buf, count, off)?;
    f.pread_to_user(buf, count as usize, off).map(|n| n as u64)
}

/// `pwrite64`: as `pread64`, for writing.
pub fn sys_pwrite64(a: Args) -> SysResult {
    let [fd, buf, count, off, ..] = a.0;
    let f = positional_io(fd, FMODE_WRITE, buf, count, off)?;
    f.pwrite_from_user(buf, count as usize, off).map(|n| n as u64)
}

/// `getdents64`: `EBADF`, `ENOTDIR` for a file that is not a directory,
/// then whole `struct linux_dirent64` records from the offset (`.` at 0,
/// `..` at 1, then each name at its cookie) while they fit: none fitting
/// is `EINVAL`, a fault `EFAULT`. The offset moves past what was copied.
pub fn sys_getdents64(a: Args) -> SysResult {
    let [fd, buf, count, ..] = a.0;
    let f = file(fd)?;
    let count = (count as u32 as usize).min(MAX_RW_COUNT);
    let mut out: Vec<u8> = Vec::new();
    let mut pos = f.pos();
    let add = |out: &mut Vec<u8>, ino: u64, next: u64, ty: u8, name: &[u8]| -> Result<bool, Errno> {
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > count {
            return Ok(false);
        }
        out.try_reserve(reclen).map_err(|_| Errno::ENOMEM)?;
        out.extend_from_slice(&ino.to_le_bytes());
        out.extend_from_slice(&next.to_le_bytes());
        out.extend_from_slice(&(reclen as u16).to_le_bytes());
        out.push(ty);
        out.extend_from_slice(name);
        out.resize(out.len() + reclen - 19 - name.len(), 0);
        Ok(true)
    };
    // (ino, d_off of the next, d_type, name) of the record at `pos`.
    let proc_entries;
    let record: &dyn Fn(u64) -> Option<(u64, u64, u8, Vec<u8>)> = match &f.kind {
        FileKind::Tmpfs(i) if i.is_dir() => &|pos| {
            let d = i.dir().unwrap();
            match pos {
                0 => Some((i.ino, 1, 4, b".".to_vec())),
                1 => {
                    let parent = d.lock().parent.upgrade();
                    Some((parent.map_or(i.ino, |p| p.ino), tmpfs::FIRST_COOKIE, 4, b"..".to_vec()))
                }
                _ => {
                    let (cookie, name, child) = d.lock().entry_from(pos)?;
                    Some((child.ino, cookie + 1, child.d_type(), name))
                }
            }
        },
        FileKind::Dir(path) => {
            proc_entries = namei::proc_dir_entries(path);
            &|pos| match pos {
                0 => Some((1, 1, 4, b".".to_vec())),
                1 => Some((1, 2, 4, b"..".to_vec())),
                _ => proc_entries.get(pos as usize - 2).map(|(n, t)| (1, pos + 1, *t, n.clone())),
            }
        }
        _ => return Err(Errno::ENOTDIR),
    };
    access_ok(buf, count as u64)?;
    let mut didnt_fit = false;
    while let Some((ino, next, ty, name)) = record(pos) {
        if !add(&mut out, ino, next, ty, &name)? {
            didnt_fit = true;
            break;
        }
        pos = next;
    }
    if out.is_empty() {
        return if didnt_fit { Err(Errno::EINVAL) } else { Ok(0) };
    }
    copy_to_user(buf, &out)?;
    f.set_pos(pos);
    Ok(out.len() as u64)
}

const FIONREAD: u32 = 0x541b;
const FIONBIO: u32 = 0x5421;
const FIONCLEX: u32 = 0x5450;
const FIOCLEX: u32 = 0x5451;

/// `ioctl`: `EBADF`, then the generic requests every file answers
/// (`do_vfs_ioctl`), then the file's own (terminal requests on the
/// console); anything else is `ENOTTY`.
pub fn sys_ioctl(a: Args) -> SysResult {
    let [fd, request, arg, ..] = a.0;
    let f = file(fd)?;
    let fd = fd as i32;
    match request as u32 {
        FIOCLEX | FIONCLEX => {
            let on = request as u32 == FIOCLEX;
            files(&proc::current()).lock().set_cloexec(fd, on).map(|_| 0)
        }
        FIONBIO => {
            let on = read_user::<i32>(arg)?;
            f.set_f_flags(O_NONBLOCK, if on != 0 { O_NONBLOCK } else { 0 });
            Ok(0)
        }
        // Unread bytes in a pipe (pipe_ioctl).
        FIONREAD if matches!(f.kind, FileKind::Pipe(_)) => {
            let FileKind::Pipe(p) = &f.kind else { unreachable!() };
            write_user(arg, &(p.nr_bytes() as i32)).map(|_| 0)
        }
        // The terminal's own requests (tty_ioctl).
        _ if f.is_tty() => crate::tty::console().ioctl(request as u32, arg),
        // Bytes left to read in a regular file.
        FIONREAD if !f.is_dir() && !matches!(f.kind, FileKind::Dev(_)) => {
            let left = f.size().saturating_sub(f.pos()) as i32;
            write_user(arg, &left).map(|_| 0)
        }
        _ => Err(Errno::ENOTTY),
    }
}

const F_DUPFD: u32 = 0;
const F_GETFD: u32 = 1;
const F_SETFD: u32 = 2;
const F_GETFL: u32 = 3;
const F_SETFL: u32 = 4;
const F_DUPFD_CLOEXEC: u32 = 1030;
const FD_CLOEXEC: u64 = 1;

/// `fcntl`: `EBADF` (an `O_PATH` handle allows only the descriptor
/// commands), then the command; an unknown one is `EINVAL`.
pub fn sys_fcntl(a: Args) -> SysResult {
    let [fd, cmd, arg, ..] = a.0;
    let (fd, cmd) = (fd as i32, cmd as u32);
    let f = file_raw(fd)?;
    if f.is_path() && !matches!(cmd, F_DUPFD | F_DUPFD_CLOEXEC | F_GETFD | F_SETFD | F_GETFL) {
        return Err(Errno::EBADF);
    }
    let argi = arg as i32;
    match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let from = argi as u32 as usize;
            let p = proc::current();
            let nofile = nofile(&p);
            if from >= nofile {
                return Err(Errno::EINVAL);
            }
            let fd = files(&p).lock().install_from(f, from, cmd == F_DUPFD_CLOEXEC, nofile)?;
            Ok(fd as u64)
        }
        F_GETFD => files(&proc::current()).lock().cloexec(fd).map(u64::from),
        F_SETFD => files(&proc::current()).lock().set_cloexec(fd, arg & FD_CLOEXEC != 0).map(|_| 0),
        F_GETFL => Ok(f.f_flags() as u64),
        F_SETFL => {
            let arg = argi as u32;
            if arg & O_NOATIME != 0 && f.f_flags() & O_NOATIME == 0 && !owner_or_capable() {
                return Err(Errno::EPERM);
            }
            if arg & O_DIRECT != 0 {
                return Err(Errno::EINVAL);
            }
            f.set_f_flags(SETFL_MASK, arg);
            Ok(0)
        }
        super::memfd::F_ADD_SEALS | super::memfd::F_GET_SEALS => super::memfd::memfd_fcntl(&f, cmd, arg),
        _ => Err(Errno::EINVAL),
    }
}

/// `getcwd`: the working directory's path and its NUL (`ENOENT` if it
/// was removed, `ERANGE` if it does not fit in `size`); returns the
/// length copied.
pub fn sys_getcwd(a: Args) -> SysResult {
    let [buf, size, ..] = a.0;
    let cwd = fs_struct(&proc::current()).lock().cwd.clone();
    let mut path = namei::path_of(&cwd)?;
    path.push(0);
    if path.len() as u64 > size {
        return Err(Errno::ERANGE);
    }
    copy_to_user(buf, &path).map(|_| path.len() as u64)
}
