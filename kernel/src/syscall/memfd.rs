//! `memfd_create` (Linux `mm/memfd.c`): an anonymous tmpfs file, open for
//! reading and writing, that no directory names. Its pages are a shmem
//! object like any tmpfs file's, so it can be sized with `ftruncate`,
//! mapped `MAP_SHARED` and shared across fork and exec through the
//! descriptor; `/proc/<pid>/maps` names it `/memfd:NAME (deleted)`.
//!
//! Not supported: file seals (`MFD_ALLOW_SEALING` is accepted, but
//! `F_ADD_SEALS`/`F_GET_SEALS` are not implemented) and `MFD_HUGETLB`
//! (`EINVAL`: no huge pages).
//!
//! Locking: none of its own (the descriptor table's lock to install).

use alloc::string::String;
use mm::Errno;

use super::{Args, SysResult};
use crate::fs::file::{files, nofile, File, FileKind};
use crate::fs::namei::{self, FsCred};
use crate::fs::tmpfs::Inode;
use crate::proc;

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
        data.lock().label(label.into(), (0, 1));
    }
    let f = File::opened(FileKind::Tmpfs(inode), MEMFD_OPEN_FLAGS);
    let nofile = nofile(&p);
    let fd = files(&p).lock().install_from(f, 0, flags & MFD_CLOEXEC != 0, nofile)?;
    Ok(fd as u64)
}
