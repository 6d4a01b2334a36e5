//! `memfd_create` (Linux `mm/memfd.c`): an anonymous tmpfs file, open for
//! reading and writing, that no directory names. Its pages are a shmem
//! object like any tmpfs file's, so it can be sized with `ftruncate`,
//! mapped `MAP_SHARED` and shared across fork and exec through the
//! descriptor; `/proc/<pid>/maps` names it `/memfd:NAME (deleted)`.
//!
//! File seals (Linux `memfd_fcntl`): `fcntl(F_ADD_SEALS)` and
//! `fcntl(F_GET_SEALS)` of a memfd or any tmpfs file, kept by its shmem
//! object ([`mm::shmem::Shmem::add_seals`], which also says how mappings
//! obey them). A memfd starts with `F_SEAL_SEAL` (no seal can be added)
//! unless made with `MFD_ALLOW_SEALING` or `MFD_NOEXEC_SEAL` (which starts
//! it with `F_SEAL_EXEC` and mode 0666); a file of the tree always has
//! `F_SEAL_SEAL`. The file's `write` and `ftruncate` check the write and
//! size seals ([`crate::fs::tmpfs::FileData`]), `chmod` `F_SEAL_EXEC`.
//!
//! Not supported: `MFD_HUGETLB` (`EINVAL`: no huge pages).
//!
//! Locking: `memfd_create` none of its own (the descriptor table's lock to
//! install). `F_ADD_SEALS` holds the inode's `meta` lock and its file data
//! lock over the change (`chmod` checks under the first, `write` and
//! `ftruncate` under the second), then the object's seal lock.

use alloc::string::String;
use mm::Errno;

use super::{Args, SysResult};
use crate::fs::file::{files, nofile, File, FileKind, FMODE_WRITE};
use crate::fs::namei::{self, FsCred};
use crate::fs::tmpfs::Inode;
use crate::proc;
use mm::shmem::{F_ALL_SEALS, F_SEAL_EXEC, F_SEAL_SEAL};

const MFD_CLOEXEC: u64 = 0x1;
const MFD_ALLOW_SEALING: u64 = 0x2;
const MFD_HUGETLB: u64 = 0x4;
const MFD_NOEXEC_SEAL: u64 = 0x8;
const MFD_EXEC: u64 = 0x10;
/// `NAME_MAX` less `"memfd:"`.
const MFD_NAME_MAX_LEN: usize = 255 - 6;
/// `O_RDWR | O_LARGEFILE`, the file's open flags.
const MEMFD_OPEN_FLAGS: u32 = 0o2 | 0o100000;

pub fn sys_memfd_create(a: Args) -> SysResult {
    let [uname, flags, ..] = a.0;
    if flags & !(MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & MFD_HUGETLB != 0 || flags & (MFD_NOEXEC_SEAL | MFD_EXEC) == MFD_NOEXEC_SEAL | MFD_EXEC {
        return Err(Errno::EINVAL);
    }
    let name = match namei::getname(uname, true) {
        Ok(n) if n.len() <= MFD_NAME_MAX_LEN => n,
        Ok(_) | Err(Errno::ENAMETOOLONG) => return Err(Errno::EINVAL),
        Err(e) => return Err(e),
    };
    let p = proc::current();
    let cred = FsCred::current();
    // Linux: mode 0777 (0666 with MFD_NOEXEC_SEAL), owned by the caller.
    let mode = if flags & MFD_NOEXEC_SEAL != 0 { 0o666 } else { 0o777 };
    let inode = Inode::new_file(mode, cred.uid, cred.gid, &[])?;
    let label = String::from("/memfd:") + &String::from_utf8_lossy(&name) + " (deleted)";
    if let Some(data) = inode.file() {
        let d = data.lock();
        d.label(label.into(), (0, 1));
        // Linux: MFD_NOEXEC_SEAL implies MFD_ALLOW_SEALING.
        if flags & MFD_NOEXEC_SEAL != 0 {
            d.object().init_seals(F_SEAL_EXEC);
        } else if flags & MFD_ALLOW_SEALING != 0 {
            d.object().init_seals(0);
        } else {
            d.object().init_seals(F_SEAL_SEAL);
        }
    }
    let f = File::opened(FileKind::Tmpfs(inode), MEMFD_OPEN_FLAGS);
    let nofile = nofile(&p);
    let fd = files(&p).lock().install_from(f, 0, flags & MFD_CLOEXEC != 0, nofile)?;
    Ok(fd as u64)
}

/// `fcntl(F_ADD_SEALS)`.
pub const F_ADD_SEALS: u32 = 1033;
/// `fcntl(F_GET_SEALS)`.
pub const F_GET_SEALS: u32 = 1034;

/// Linux `memfd_fcntl`: `F_ADD_SEALS` and `F_GET_SEALS` of a tmpfs file
/// (a memfd or a file of the tree; any other file is `EINVAL`).
/// `F_ADD_SEALS` checks in Linux's order: the descriptor open for writing
/// (`EPERM`), no unknown seal (`EINVAL`), a tmpfs file (`EINVAL`), then
/// [`Shmem::add_seals`](mm::shmem::Shmem::add_seals) (`EPERM`, `EBUSY`).
///
/// Locking: `F_ADD_SEALS` holds the inode's `meta` lock (chmod checks
/// `F_SEAL_EXEC` under it) and the file data lock (writes and truncation
/// check the seals under it) over the change.
pub fn memfd_fcntl(f: &File, cmd: u32, arg: u64) -> SysResult {
    let inode = f.inode().filter(|i| i.file().is_some());
    match cmd {
        F_GET_SEALS => {
            let data = inode.and_then(|i| i.file()).ok_or(Errno::EINVAL)?;
            Ok(u64::from(data.lock().object().seals()))
        }
        F_ADD_SEALS => {
            let seals = arg as u32;
            if f.f_mode() & FMODE_WRITE == 0 {
                return Err(Errno::EPERM);
            }
            if seals & !F_ALL_SEALS != 0 {
                return Err(Errno::EINVAL);
            }
            let inode = inode.ok_or(Errno::EINVAL)?;
            let data = inode.file().ok_or(Errno::EINVAL)?;
            let meta = inode.meta.lock();
            let d = data.lock();
            d.object().add_seals(seals, meta.mode & 0o111 != 0)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}
