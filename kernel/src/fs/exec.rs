//! Opening a file for execution (Linux's `do_open_execat`): the one place
//! where `execve`, `execveat`, a `#!` interpreter and the first process
//! find the file they run.
//!
//! The walk is the ordinary one (`namei`); what is found must be a regular
//! file with execute permission (`EACCES` otherwise: a directory, a device,
//! a pipe, a `/proc` file, an initrd file archived without an execute
//! bit). Holdfast's files all belong to root (uid 0, gid 0) and every
//! process has gid 0, so root needs any execute bit (Linux's
//! `CAP_DAC_OVERRIDE` rule for execution) and any other user the group's.
//!
//! Locking: the file table's lock, briefly, to look a descriptor up.

use alloc::borrow::Cow;
use alloc::vec::Vec;
use mm::Errno;

use super::file::{files, FileBytes, FileKind};
use super::namei::{self, NodeType};
use crate::proc::exec::{ExecImage, AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW};

/// May the current process execute a file of mode `mode`? (The kernel
/// itself, starting the first process, has root's rights.)
fn may_exec(mode: u32) -> bool {
    let euid = crate::proc::try_current().map_or(0, |p| p.creds.lock().euid);
    if euid == 0 {
        mode & 0o111 != 0
    } else {
        mode & 0o010 != 0
    }
}

/// Where a relative lookup starts (`path_init`): the root for an absolute
/// path or `AT_FDCWD` (Holdfast's working directory is the root), else the
/// directory open at `dirfd` (`EBADF`, `ENOTDIR`).
fn start_dir(dirfd: i32, path: &[u8]) -> Result<Vec<u8>, Errno> {
    if path.first() == Some(&b'/') || dirfd == AT_FDCWD {
        return Ok(b"/".to_vec());
    }
    match &files(&crate::proc::current()).lock().get_raw(dirfd)?.kind {
        FileKind::Dir(p) => Ok(p.clone()),
        _ => Err(Errno::ENOTDIR),
    }
}

/// The executable contents of the initrd file `e`, or `EACCES`.
fn initrd_image(e: super::initrd::Entry) -> Result<ExecImage, Errno> {
    if e.mode & 0o170000 != 0o100000 || !may_exec(e.mode) {
        return Err(Errno::EACCES);
    }
    Ok(ExecImage { data: Cow::Borrowed(e.data) })
}

/// `do_open_execat` (see [`crate::proc::Services::open_exec`]).
pub fn open_exec(dirfd: i32, path: &[u8], flags: u32) -> Result<ExecImage, Errno> {
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    if path.is_empty() {
        if flags & AT_EMPTY_PATH == 0 {
            return Err(Errno::ENOENT);
        }
        if dirfd == AT_FDCWD {
            // The working directory itself.
            return Err(Errno::EACCES);
        }
        let file = files(&crate::proc::current()).lock().get_raw(dirfd)?;
        return match &file.kind {
            FileKind::Bytes(FileBytes::Initrd(e)) => initrd_image(*e),
            _ => Err(Errno::EACCES),
        };
    }
    let start = start_dir(dirfd, path)?;
    let (node, ty) = namei::walk(&start, path)?;
    if ty != NodeType::File || namei::in_proc(&node) || namei::Device::from_path(&node).is_some() {
        return Err(Errno::EACCES);
    }
    initrd_image(super::initrd::lookup_bytes(&node).ok_or(Errno::ENOENT)?)
}
