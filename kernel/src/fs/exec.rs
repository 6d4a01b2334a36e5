//! Opening a file for execution (Linux's `do_open_execat`): the one place
//! where `execve`, `execveat`, a `#!` interpreter and the first process
//! find the file they run.
//!
//! The walk is the ordinary one (`namei`); what is found must be a regular
//! file with execute permission (`EACCES` otherwise: a directory, a device,
//! a pipe, a `/proc` file, an initrd file archived without an execute
//! bit). The initrd's files belong to root (uid 0, gid 0): fsuid 0 needs
//! the owner's execute bit, a member of group 0 the group's, anyone else
//! the others'; `CAP_DAC_OVERRIDE` executes a file with any execute bit.
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
    let any_x = mode & 0o111 != 0;
    let Some(p) = crate::proc::try_current() else { return any_x };
    let c = p.creds();
    // generic_permission for a file owned by uid 0, gid 0: the owner's,
    // group's or others' bit; CAP_DAC_OVERRIDE executes anything with
    // some execute bit.
    let bits = if c.fsuid == 0 {
        mode >> 6
    } else if c.in_group(0) {
        mode >> 3
    } else {
        mode
    };
    bits & 1 != 0 || (any_x && c.capable(crate::proc::cred::CAP_DAC_OVERRIDE))
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
