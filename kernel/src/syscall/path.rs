//! Name-space syscalls: mkdir, unlink, rmdir, rename, link, symlink,
//! readlink, chmod, chown, access, chdir, truncate and umask, with their
//! `*at` forms.
//!
//! Each checks in Linux's order (`fs/namei.c`, `fs/open.c`,
//! `fs/attr.c`): flags, then the path (copied in before the `dirfd` is
//! looked at), the walk to the parent (`ENOENT`, `ENOTDIR`, `EACCES` for
//! a directory that may not be searched), the kind of the last component
//! (`.` and `..`), the lookup of the last name, then the permission checks
//! of the operation (`may_create`, `may_delete` with the sticky bit,
//! `inode_owner_or_capable`). Names under /proc cannot be created or
//! removed.
//!
//! Locking: a change to the tree holds `tmpfs::TREE` from its final
//! lookups to the change itself, so that nothing it checked moves under
//! it.

use alloc::sync::Arc;
use alloc::vec::Vec;
use mm::Errno;

use super::fs::{
    create_in, file, file_raw, may_create, owner_or_capable_of, start_dir, umask, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW,
};
use super::{Args, SysResult};
use crate::fs::file::{fs_struct, FMODE_WRITE};
use crate::fs::namei::{self, FsCred, Node, Parent};
use crate::fs::tmpfs::{self, Inode, InodeKind, S_IFMT, S_ISGID, S_ISUID, S_ISVTX};
use crate::proc;
use crate::proc::cred::{CAP_CHOWN, CAP_FOWNER, CAP_FSETID};
use crate::uaccess::copy_to_user;

const AT_REMOVEDIR: u32 = 0x200;
const AT_SYMLINK_FOLLOW: u32 = 0x400;
const AT_EACCESS: u32 = 0x200;
const RENAME_NOREPLACE: u32 = 1;
const RENAME_EXCHANGE: u32 = 2;
const RENAME_WHITEOUT: u32 = 4;

/// The parent of `path` from `dirfd`, for a call that changes a name.
fn parent_of(dirfd: i32, path: &[u8]) -> Result<Parent, Errno> {
    let start = start_dir(dirfd, path)?;
    namei::lookup_parent(start, path)
}

/// The tmpfs directory of a parent (names under /proc are not ours to
/// change: `err`).
fn tmpfs_dir(p: &Parent, err: Errno) -> Result<Arc<Inode>, Errno> {
    match &p.dir {
        Node::Tmpfs(d) => Ok(d.clone()),
        Node::Proc(_) => Err(err),
    }
}

/// `check_sticky`: in a sticky directory only the file's owner, the
/// directory's owner or `CAP_FOWNER` may remove or rename a name.
fn sticky_denies(dir: &Inode, victim: &Inode, cred: &FsCred) -> bool {
    let dm = dir.meta();
    dm.mode & S_ISVTX != 0 && !cred.capable(CAP_FOWNER) && victim.meta().uid != cred.uid && dm.uid != cred.uid
}

/// `may_delete`: write and search permission on `dir` (`EACCES`), the
/// sticky bit (`EPERM`), then the victim's kind: `ENOTDIR` when a
/// directory is wanted, `EISDIR` when it is not; a mount point `EBUSY`.
fn may_delete(dir: &Inode, victim: &Inode, isdir: bool, cred: FsCred) -> Result<(), Errno> {
    namei::permission(dir, namei::MAY_WRITE | namei::MAY_EXEC, &cred)?;
    if sticky_denies(dir, victim, &cred) {
        return Err(Errno::EPERM);
    }
    if isdir && !victim.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if !isdir && victim.is_dir() {
        return Err(Errno::EISDIR);
    }
    if victim.dir().is_some_and(|d| d.lock().proc_mount) {
        return Err(Errno::EBUSY);
    }
    Ok(())
}

/// `filename_create`: the parent of a name to make. `.`/`..`/nothing
/// last is `EEXIST`; a trailing slash is only for directories
/// (`ENOENT` otherwise, when the name is free); the name must be free
/// (`EEXIST`).
fn filename_create(dirfd: i32, path: &[u8], is_dir: bool) -> Result<(Arc<Inode>, Vec<u8>), Errno> {
    let p = parent_of(dirfd, path)?;
    if !p.is_norm() {
        return Err(Errno::EEXIST);
    }
    let exists = match namei::step(&p.dir, &p.last) {
        Ok(_) => true,
        Err(Errno::ENOENT) => false,
        Err(e) => return Err(e),
    };
    if exists {
        return Err(Errno::EEXIST);
    }
    if p.trailing_slash && !is_dir {
        return Err(Errno::ENOENT);
    }
    // /proc's lookups of a new name fail before any create.
    Ok((tmpfs_dir(&p, Errno::ENOENT)?, p.last))
}

fn do_mkdirat(dirfd: i32, path: u64, mode: u64) -> SysResult {
    let path = namei::getname(path, false)?;
    let (dir, name) = filename_create(dirfd, &path, true)?;
    let perm = mode as u32 & 0o7777 & !umask() & (0o777 | S_ISVTX);
    let parent = Arc::downgrade(&dir);
    create_in(&dir, &name, FsCred::current(), |uid, gid| Inode::new_dir(perm, uid, gid, parent))?;
    Ok(0)
}

pub fn sys_mkdir(a: Args) -> SysResult {
    do_mkdirat(AT_FDCWD, a.0[0], a.0[1])
}

pub fn sys_mkdirat(a: Args) -> SysResult {
    do_mkdirat(a.0[0] as i32, a.0[1], a.0[2])
}

/// `do_rmdir`: `..` last is `ENOTEMPTY`, `.` `EINVAL`, the root `EBUSY`;
/// the lookup; `may_delete`; a non-empty directory is `ENOTEMPTY`.
fn do_rmdir(dirfd: i32, path: &[u8]) -> SysResult {
    let p = parent_of(dirfd, path)?;
    match p.last.as_slice() {
        b".." => return Err(Errno::ENOTEMPTY),
        b"." => return Err(Errno::EINVAL),
        b"" => return Err(Errno::EBUSY),
        _ => {}
    }
    let cred = FsCred::current();
    let tree = tmpfs::TREE.lock();
    let victim = namei::step(&p.dir, &p.last)?;
    let dir = tmpfs_dir(&p, Errno::EPERM)?;
    let Node::Tmpfs(v) = victim else { return Err(Errno::EBUSY) };
    may_delete(&dir, &v, true, cred)?;
    if !v.dir().unwrap().lock().is_empty() {
        return Err(Errno::ENOTEMPTY);
    }
    let gone = tmpfs::unlink_from(&tree, &dir, &p.last);
    drop(tree);
    drop(gone);
    Ok(0)
}

/// `do_unlinkat`: anything but a name last is `EISDIR`; a trailing slash
/// on what is not a directory `ENOTDIR` (`EISDIR` on one); the lookup;
/// `may_delete`.
fn do_unlink(dirfd: i32, path: &[u8]) -> SysResult {
    let p = parent_of(dirfd, path)?;
    if !p.is_norm() {
        return Err(Errno::EISDIR);
    }
    let cred = FsCred::current();
    let tree = tmpfs::TREE.lock();
    let victim = namei::step(&p.dir, &p.last)?;
    if p.trailing_slash {
        return Err(if victim.is_dir() { Errno::EISDIR } else { Errno::ENOTDIR });
    }
    let dir = tmpfs_dir(&p, Errno::EPERM)?;
    let Node::Tmpfs(v) = victim else { return Err(Errno::EBUSY) };
    may_delete(&dir, &v, false, cred)?;
    let gone = tmpfs::unlink_from(&tree, &dir, &p.last);
    drop(tree);
    drop(gone);
    Ok(0)
}

pub fn sys_rmdir(a: Args) -> SysResult {
    let path = namei::getname(a.0[0], false)?;
    do_rmdir(AT_FDCWD, &path)
}

pub fn sys_unlink(a: Args) -> SysResult {
    let path = namei::getname(a.0[0], false)?;
    do_unlink(AT_FDCWD, &path)
}

/// `unlinkat`: flags other than `AT_REMOVEDIR` are `EINVAL`.
pub fn sys_unlinkat(a: Args) -> SysResult {
    let [dirfd, path, flags, ..] = a.0;
    let flags = flags as u32;
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = namei::getname(path, false)?;
    if flags & AT_REMOVEDIR != 0 {
        do_rmdir(dirfd as i32, &path)
    } else {
        do_unlink(dirfd as i32, &path)
    }
}

/// `do_renameat2`: flags (`EINVAL`; `RENAME_EXCHANGE` and whiteouts are
/// not supported), both parents, `.`/`..` last (`EBUSY`, or `EEXIST`
/// with `RENAME_NOREPLACE` for the target), the source (`ENOENT`), a
/// trailing slash on a non-directory (`ENOTDIR`), the source an ancestor
/// of the target (`EINVAL`), `RENAME_NOREPLACE` (`EEXIST`), the target an
/// ancestor of the source (`ENOTEMPTY`); then `vfs_rename`: the same
/// inode does nothing, `may_delete` of the source, `may_create` or
/// `may_delete` of the target, a non-empty target directory
/// (`ENOTEMPTY`).
fn do_renameat2(olddfd: i32, oldname: u64, newdfd: i32, newname: u64, flags: u32) -> SysResult {
    if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & (RENAME_NOREPLACE | RENAME_EXCHANGE) == RENAME_NOREPLACE | RENAME_EXCHANGE {
        return Err(Errno::EINVAL);
    }
    if flags & (RENAME_EXCHANGE | RENAME_WHITEOUT) != 0 {
        return Err(Errno::EINVAL);
    }
    let old = namei::getname(oldname, false)?;
    let new = namei::getname(newname, false)?;
    let op = parent_of(olddfd, &old)?;
    let np = parent_of(newdfd, &new)?;
    let (od, nd) = match (&op.dir, &np.dir) {
        (Node::Tmpfs(a), Node::Tmpfs(b)) => (a.clone(), b.clone()),
        _ => return Err(Errno::EXDEV),
    };
    if !op.is_norm() {
        return Err(Errno::EBUSY);
    }
    if !np.is_norm() {
        return Err(if flags & RENAME_NOREPLACE != 0 { Errno::EEXIST } else { Errno::EBUSY });
    }
    let cred = FsCred::current();
    let tree = tmpfs::TREE.lock();
    let source = match namei::step(&op.dir, &op.last)? {
        Node::Tmpfs(s) => s,
        Node::Proc(_) => return Err(Errno::EBUSY),
    };
    let is_dir = source.is_dir();
    if !is_dir && (op.trailing_slash || np.trailing_slash) {
        return Err(Errno::ENOTDIR);
    }
    if is_dir && source.is_ancestor_of(&nd) {
        return Err(Errno::EINVAL);
    }
    let target = match namei::step(&np.dir, &np.last) {
        Ok(Node::Tmpfs(t)) => Some(t),
        Ok(Node::Proc(_)) => return Err(Errno::EBUSY),
        Err(Errno::ENOENT) => None,
        Err(e) => return Err(e),
    };
    if target.is_some() && flags & RENAME_NOREPLACE != 0 {
        return Err(Errno::EEXIST);
    }
    if let Some(t) = &target {
        if t.is_dir() && t.is_ancestor_of(&od) {
            return Err(Errno::ENOTEMPTY);
        }
        if Arc::ptr_eq(t, &source) {
            return Ok(0);
        }
    }
    may_delete(&od, &source, is_dir, cred.clone())?;
    match &target {
        None => may_create(&nd, cred.clone())?,
        Some(t) => may_delete(&nd, t, is_dir, cred.clone())?,
    }
    if is_dir && !Arc::ptr_eq(&od, &nd) {
        // Its `..` changes.
        namei::permission(&source, namei::MAY_WRITE, &cred)?;
    }
    if let Some(t) = &target {
        if t.dir().is_some_and(|d| !d.lock().is_empty()) {
            return Err(Errno::ENOTEMPTY);
        }
    }
    let replaced = tmpfs::rename(&tree, &od, &op.last, &nd, &np.last)?;
    drop(tree);
    drop(replaced);
    source.touch_c();
    Ok(0)
}

pub fn sys_rename(a: Args) -> SysResult {
    do_renameat2(AT_FDCWD, a.0[0], AT_FDCWD, a.0[1], 0)
}

pub fn sys_renameat(a: Args) -> SysResult {
    do_renameat2(a.0[0] as i32, a.0[1], a.0[2] as i32, a.0[3], 0)
}

pub fn sys_renameat2(a: Args) -> SysResult {
    do_renameat2(a.0[0] as i32, a.0[1], a.0[2] as i32, a.0[3], a.0[4] as u32)
}

/// `do_linkat`: flags other than `AT_SYMLINK_FOLLOW` and `AT_EMPTY_PATH`
/// are `EINVAL`; the old path (followed with `AT_SYMLINK_FOLLOW`), the
/// new name (`filename_create`), a different file system (`EXDEV`),
/// `may_create`, a directory (`EPERM`), an unlinked file (`ENOENT`).
fn do_linkat(olddfd: i32, oldname: u64, newdfd: i32, newname: u64, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let old = namei::getname(oldname, flags & AT_EMPTY_PATH != 0)?;
    let source = if old.is_empty() {
        file_raw(olddfd)?.node().ok_or(Errno::EXDEV)?
    } else {
        let start = start_dir(olddfd, &old)?;
        namei::lookup(start, &old, flags & AT_SYMLINK_FOLLOW != 0)?
    };
    let new = namei::getname(newname, false)?;
    let (dir, name) = filename_create(newdfd, &new, false)?;
    let Node::Tmpfs(inode) = source else { return Err(Errno::EXDEV) };
    let cred = FsCred::current();
    may_create(&dir, cred)?;
    if inode.is_dir() {
        return Err(Errno::EPERM);
    }
    let tree = tmpfs::TREE.lock();
    if inode.meta().nlink == 0 {
        return Err(Errno::ENOENT);
    }
    tmpfs::link_into(&tree, &dir, &name, inode.clone())?;
    inode.touch_c();
    Ok(0)
}

pub fn sys_link(a: Args) -> SysResult {
    do_linkat(AT_FDCWD, a.0[0], AT_FDCWD, a.0[1], 0)
}

pub fn sys_linkat(a: Args) -> SysResult {
    do_linkat(a.0[0] as i32, a.0[1], a.0[2] as i32, a.0[3], a.0[4] as u32)
}

/// `do_symlinkat`: the target (an empty one is `ENOENT`), the new name
/// (`filename_create`), `may_create`.
fn do_symlinkat(target: u64, newdfd: i32, newname: u64) -> SysResult {
    let target = namei::getname(target, false)?;
    let new = namei::getname(newname, false)?;
    let (dir, name) = filename_create(newdfd, &new, false)?;
    create_in(&dir, &name, FsCred::current(), |uid, gid| Inode::new_symlink(&target, uid, gid))?;
    Ok(0)
}

pub fn sys_symlink(a: Args) -> SysResult {
    do_symlinkat(a.0[0], AT_FDCWD, a.0[1])
}

pub fn sys_symlinkat(a: Args) -> SysResult {
    do_symlinkat(a.0[0], a.0[1] as i32, a.0[2])
}

/// `do_readlinkat`: a size of 0 or less is `EINVAL`; the lookup (not
/// following the last link; an empty path with a `dirfd` names it);
/// what is not a link is `EINVAL`; the target, cut to `size`, without a
/// NUL.
fn do_readlinkat(dirfd: i32, path: u64, buf: u64, size: u64) -> SysResult {
    if size as i32 <= 0 {
        return Err(Errno::EINVAL);
    }
    let path = namei::getname(path, true)?;
    let node = if path.is_empty() {
        if dirfd == AT_FDCWD {
            return Err(Errno::ENOENT);
        }
        file_raw(dirfd)?.node().ok_or(Errno::ENOENT)?
    } else {
        let start = start_dir(dirfd, &path)?;
        namei::lookup(start, &path, false)?
    };
    let Some(t) = node.link_target() else { return Err(Errno::EINVAL) };
    let n = t.len().min(size as i32 as usize);
    copy_to_user(buf, &t[..n])?;
    Ok(n as u64)
}

pub fn sys_readlink(a: Args) -> SysResult {
    do_readlinkat(AT_FDCWD, a.0[0], a.0[1], a.0[2])
}

pub fn sys_readlinkat(a: Args) -> SysResult {
    do_readlinkat(a.0[0] as i32, a.0[1], a.0[2], a.0[3])
}

/// The tmpfs inode a path names (for the attribute calls): /proc's files
/// cannot change their attributes (`EPERM`).
fn attr_target(dirfd: i32, path: u64, follow: bool, empty_ok: bool) -> Result<Arc<Inode>, Errno> {
    let path = namei::getname(path, empty_ok)?;
    let node = if path.is_empty() {
        if dirfd == AT_FDCWD {
            fs_struct(&proc::current()).lock().cwd.clone()
        } else {
            file_raw(dirfd)?.node().ok_or(Errno::EPERM)?
        }
    } else {
        let start = start_dir(dirfd, &path)?;
        namei::lookup(start, &path, follow)?
    };
    node.inode().cloned().ok_or(Errno::EPERM)
}

/// `chmod_common`: the owner or root (`EPERM`); a caller outside the
/// file's group loses `S_ISGID` (as `inode_change_ok`); a file sealed
/// with `F_SEAL_EXEC` keeps its exec bits (`EPERM`); ctime.
fn chmod_common(inode: &Inode, mode: u32) -> SysResult {
    let cred = FsCred::current();
    if !owner_or_capable_of(inode, &cred) {
        return Err(Errno::EPERM);
    }
    let mut m = inode.meta.lock();
    let mut mode = mode & 0o7777;
    if !cred.capable(CAP_FSETID) && !cred.in_group(m.gid) {
        mode &= !S_ISGID;
    }
    // shmem_setattr: F_SEAL_EXEC keeps the exec bits (seals are added
    // under `meta`).
    if let Some(data) = inode.file() {
        if data.lock().object().seals() & mm::shmem::F_SEAL_EXEC != 0 && (m.mode ^ mode) & 0o111 != 0 {
            return Err(Errno::EPERM);
        }
    }
    m.mode = (m.mode & S_IFMT) | mode;
    m.ctime = tmpfs::now();
    Ok(0)
}

pub fn sys_chmod(a: Args) -> SysResult {
    let i = attr_target(AT_FDCWD, a.0[0], true, false)?;
    chmod_common(&i, a.0[1] as u32)
}

pub fn sys_fchmod(a: Args) -> SysResult {
    let f = file(a.0[0])?;
    let i = f.inode().cloned().ok_or(Errno::EPERM)?;
    chmod_common(&i, a.0[1] as u32)
}

/// `fchmodat`: no flags (`fchmodat2` takes `AT_SYMLINK_NOFOLLOW`, which
/// tmpfs refuses on a link with `EOPNOTSUPP`, and `AT_EMPTY_PATH`).
fn do_fchmodat(dirfd: i32, path: u64, mode: u32, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let i = attr_target(dirfd, path, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    if matches!(i.kind, InodeKind::Symlink(_)) {
        return Err(Errno::EOPNOTSUPP);
    }
    chmod_common(&i, mode)
}

pub fn sys_fchmodat(a: Args) -> SysResult {
    do_fchmodat(a.0[0] as i32, a.0[1], a.0[2] as u32, 0)
}

pub fn sys_fchmodat2(a: Args) -> SysResult {
    do_fchmodat(a.0[0] as i32, a.0[1], a.0[2] as u32, a.0[3] as u32)
}

/// `chown_common`/`notify_change`: -1 keeps an id. `CAP_CHOWN` may set any;
/// others only leave the uid theirs and set the gid to a group they are
/// in, on files they own (`EPERM`). A change clears set-uid, and set-gid
/// with group exec, of a file that is not a directory.
fn chown_common(inode: &Inode, uid: u32, gid: u32) -> SysResult {
    let cred = FsCred::current();
    let mut m = inode.meta.lock();
    let uid_change = uid != u32::MAX && uid != m.uid;
    let gid_change = gid != u32::MAX && gid != m.gid;
    if !cred.capable(CAP_CHOWN) {
        let owner = m.uid == cred.uid;
        if uid != u32::MAX && (!owner || uid != m.uid) {
            return Err(Errno::EPERM);
        }
        if gid != u32::MAX && (!owner || (gid != m.gid && !cred.in_group(gid))) {
            return Err(Errno::EPERM);
        }
    }
    if uid != u32::MAX {
        m.uid = uid;
    }
    if gid != u32::MAX {
        m.gid = gid;
    }
    if (uid_change || gid_change) && m.mode & S_IFMT != tmpfs::S_IFDIR {
        if m.mode & (S_ISGID | 0o010) == S_ISGID | 0o010 {
            m.mode &= !S_ISGID;
        }
        m.mode &= !S_ISUID;
    }
    m.ctime = tmpfs::now();
    Ok(0)
}

pub fn sys_chown(a: Args) -> SysResult {
    let i = attr_target(AT_FDCWD, a.0[0], true, false)?;
    chown_common(&i, a.0[1] as u32, a.0[2] as u32)
}

pub fn sys_lchown(a: Args) -> SysResult {
    let i = attr_target(AT_FDCWD, a.0[0], false, false)?;
    chown_common(&i, a.0[1] as u32, a.0[2] as u32)
}

pub fn sys_fchown(a: Args) -> SysResult {
    let f = file_raw(a.0[0] as i32)?;
    if f.is_path() {
        return Err(Errno::EBADF);
    }
    let i = f.inode().cloned().ok_or(Errno::EPERM)?;
    chown_common(&i, a.0[1] as u32, a.0[2] as u32)
}

/// `fchownat`: flags other than `AT_SYMLINK_NOFOLLOW` and
/// `AT_EMPTY_PATH` are `EINVAL`.
pub fn sys_fchownat(a: Args) -> SysResult {
    let [dirfd, path, uid, gid, flags, ..] = a.0;
    let flags = flags as u32;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let i = attr_target(dirfd as i32, path, flags & AT_SYMLINK_NOFOLLOW == 0, flags & AT_EMPTY_PATH != 0)?;
    chown_common(&i, uid as u32, gid as u32)
}

/// `do_faccessat`: a mode beyond `rwx` is `EINVAL`, then flags; the
/// lookup and the check with the real uid (the effective one with
/// `AT_EACCESS`). Root may read and write anything, and execute what has
/// an `x` bit or is a directory.
fn do_faccessat(dirfd: i32, path: u64, mode: u32, flags: u32) -> SysResult {
    if mode & !7 != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let cred = if flags & AT_EACCESS != 0 { FsCred::current() } else { FsCred::current_real() };
    let path = namei::getname(path, flags & AT_EMPTY_PATH != 0)?;
    let node = if path.is_empty() {
        if dirfd == AT_FDCWD {
            fs_struct(&proc::current()).lock().cwd.clone()
        } else {
            file_raw(dirfd)?.node().ok_or(Errno::EBADF)?
        }
    } else {
        let start = start_dir(dirfd, &path)?;
        namei::Walk::new(cred.clone()).walk(start, &path, flags & AT_SYMLINK_NOFOLLOW == 0)?
    };
    match node {
        Node::Tmpfs(i) if mode != 0 => namei::permission(&i, mode, &cred).map(|_| 0),
        Node::Proc(p) if mode & 2 != 0 && crate::fs::procfs::Sysctl::from_path(&p).is_none() => Err(Errno::EACCES),
        _ => Ok(0),
    }
}

pub fn sys_access(a: Args) -> SysResult {
    do_faccessat(AT_FDCWD, a.0[0], a.0[1] as u32, 0)
}

pub fn sys_faccessat(a: Args) -> SysResult {
    do_faccessat(a.0[0] as i32, a.0[1], a.0[2] as u32, 0)
}

pub fn sys_faccessat2(a: Args) -> SysResult {
    do_faccessat(a.0[0] as i32, a.0[1], a.0[2] as u32, a.0[3] as u32)
}

/// `chdir`: the lookup, a directory (`ENOTDIR`) that may be searched
/// (`EACCES`).
pub fn sys_chdir(a: Args) -> SysResult {
    let path = namei::getname(a.0[0], false)?;
    let start = start_dir(AT_FDCWD, &path)?;
    let node = namei::lookup(start, &path, true)?;
    set_cwd(node)
}

fn set_cwd(node: Node) -> SysResult {
    if !node.is_dir() {
        return Err(Errno::ENOTDIR);
    }
    if let Node::Tmpfs(i) = &node {
        namei::permission(i, namei::MAY_EXEC, &FsCred::current())?;
    }
    let p = proc::current();
    let old = core::mem::replace(&mut fs_struct(&p).lock().cwd, node);
    drop(old);
    Ok(0)
}

pub fn sys_fchdir(a: Args) -> SysResult {
    let f = file_raw(a.0[0] as i32)?;
    set_cwd(f.node().ok_or(Errno::ENOTDIR)?)
}

/// `umask`: set the mask (its permission bits); returns the old one.
pub fn sys_umask(a: Args) -> SysResult {
    let p = proc::current();
    let mut fs = fs_struct(&p).lock();
    let old = fs.umask;
    fs.umask = a.0[0] as u32 & 0o777;
    Ok(old as u64)
}

/// Set a tmpfs file's size (`shmem_setattr`): past `MAX_LFS_FILESIZE`
/// is `EFBIG`; mtime and ctime change; the set-uid bits go.
fn do_truncate(inode: &Inode, length: u64) -> SysResult {
    let data = inode.file().ok_or(Errno::EINVAL)?;
    if length > tmpfs::MAX_FILESIZE {
        return Err(Errno::EFBIG);
    }
    let gone = data.lock().truncate(length)?;
    drop(gone);
    inode.touch_mc();
    let mut m = inode.meta.lock();
    m.mode &= !S_ISUID;
    if m.mode & (S_ISGID | 0o010) == S_ISGID | 0o010 {
        m.mode &= !S_ISGID;
    }
    Ok(0)
}

/// `do_sys_truncate`: a negative length is `EINVAL`; the lookup; a
/// directory is `EISDIR`, another non-file `EINVAL`; write permission
/// (`EACCES`).
pub fn sys_truncate(a: Args) -> SysResult {
    let [path, length, ..] = a.0;
    if (length as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let path = namei::getname(path, false)?;
    let start = start_dir(AT_FDCWD, &path)?;
    let node = namei::lookup(start, &path, true)?;
    if node.is_dir() {
        return Err(Errno::EISDIR);
    }
    let inode = node.inode().cloned().ok_or(Errno::EINVAL)?;
    if inode.file().is_none() {
        return Err(Errno::EINVAL);
    }
    namei::permission(&inode, namei::MAY_WRITE, &FsCred::current())?;
    do_truncate(&inode, length)
}

/// `do_sys_ftruncate`: a negative length is `EINVAL`; `EBADF`; a file not
/// open for writing, or not a regular file, is `EINVAL`.
pub fn sys_ftruncate(a: Args) -> SysResult {
    let [fd, length, ..] = a.0;
    if (length as i64) < 0 {
        return Err(Errno::EINVAL);
    }
    let f = file(fd)?;
    let inode = f.inode().cloned().ok_or(Errno::EINVAL)?;
    if f.f_mode() & FMODE_WRITE == 0 || inode.file().is_none() {
        return Err(Errno::EINVAL);
    }
    do_truncate(&inode, length)
}
