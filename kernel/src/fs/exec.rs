//! Opening a file for execution (Linux's `do_open_execat`): the one place
//! where `execve`, `execveat`, a `#!` interpreter and the first process
//! find the file they run.
//!
//! The walk is the ordinary one (`namei`); what is found must be a regular
//! file with execute permission (`EACCES` otherwise: a directory, a device,
//! a pipe, a `/proc` file, an initrd file archived without an execute
//! bit), checked as for any file (`namei::permission`: owner, group or
//! others' execute bit, `CAP_DAC_OVERRIDE` for a file with any).
//!
//! Locking: the file table's lock, briefly, to look a descriptor up.

use alloc::vec::Vec;
use mm::Errno;

use super::file::files;
use super::namei::{self, FsCred, Node, Walk, MAY_EXEC};
use super::tmpfs::{Inode, InodeKind};
use crate::proc::exec::{ExecImage, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, EXEC_HEAD_MAX};

/// The program in tmpfs inode `inode`, if the caller may execute it: a
/// regular file (`EACCES` for anything else) with execute permission
/// for the caller (`namei::permission`): its head, read, and its page
/// cache object, which the loader maps (an initrd file's bytes are
/// copied into it the first time).
fn inode_image(inode: &Inode, cred: &FsCred, path: Vec<u8>) -> Result<ExecImage, Errno> {
    if !matches!(inode.kind, InodeKind::File(_)) {
        return Err(Errno::EACCES);
    }
    namei::permission(inode, MAY_EXEC, cred)?;
    let file = inode.file().ok_or(Errno::EACCES)?;
    for pos in (0..EXEC_HEAD_MAX as u64).step_by(super::tmpfs::PAGE_SIZE as usize) {
        super::tmpfs::swapin_before_lock(file, pos);
    }
    let mut data = file.lock();
    let obj = data.mmap_object()?;
    let size = data.size;
    let n = (size as usize).min(EXEC_HEAD_MAX);
    let mut head = Vec::new();
    head.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
    head.resize(n, 0);
    let mut at = 0;
    while at < n {
        let got = data.read_page(at as u64, &mut head[at..])?;
        if got == 0 {
            break;
        }
        at += got;
    }
    Ok(ExecImage { head, size, obj, path })
}

/// `path` made absolute from the directory `start` it is looked up in
/// (`.` and `..` left as they are).
fn absolute_path(start: &Node, path: &[u8]) -> Vec<u8> {
    if path.first() == Some(&b'/') {
        return path.to_vec();
    }
    let mut p = namei::path_of(start).unwrap_or_else(|_| b"/".to_vec());
    if p.last() != Some(&b'/') {
        p.push(b'/');
    }
    p.extend_from_slice(path);
    p
}

/// The credentials of the caller (root's for the kernel starting the
/// first process).
fn caller_cred() -> FsCred {
    if crate::proc::try_current().is_some() {
        FsCred::current()
    } else {
        FsCred::kernel()
    }
}

/// `do_open_execat` (see [`crate::proc::Services::open_exec`]).
pub fn open_exec(dirfd: i32, path: &[u8], flags: u32) -> Result<ExecImage, Errno> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let cred = caller_cred();
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            // The working directory itself.
            return Err(Errno::EACCES);
        }
        let file = files(&crate::proc::current()).lock().get_raw(dirfd)?;
        return match file.inode() {
            Some(i) => inode_image(i, &cred, alloc::format!("/dev/fd/{dirfd}").into_bytes()),
            None => Err(Errno::EACCES),
        };
    }
    let start = if path.first() == Some(&b'/') || crate::proc::try_current().is_none() {
        Node::root()
    } else {
        namei::start_dir(dirfd, path)?
    };
    let absolute = absolute_path(&start, path);
    let node = Walk::new(cred.clone()).walk(start, path, flags & AT_SYMLINK_NOFOLLOW == 0)?;
    match node.inode() {
        Some(i) => inode_image(i, &cred, absolute),
        // A /proc file or directory.
        None => Err(Errno::EACCES),
    }
}
