//! Memory syscalls: mmap, munmap, mprotect, brk, madvise, mincore, the
//! mlock family, swapon and swapoff. Each is a thin wrapper over the process's address space
//! (the mm crate does the work and the Linux errno rules).

use super::{Args, SysResult};
use crate::proc;
use crate::uaccess::{access_ok, copy_to_user};
use mm::Errno;

/// `MAP_HUGETLB`.
const MAP_HUGETLB: u64 = 0x4_0000;

pub fn sys_mmap(a: Args) -> SysResult {
    let p = proc::current();
    let creds = p.mlock_creds();
    let [addr, len, prot, flags, fd, off] = a.0;
    // Linux's x86 sys_mmap refuses an unaligned offset before anything else.
    if off & !mm::addr::PAGE_MASK != 0 {
        return Err(Errno::EINVAL);
    }
    // Without MAP_ANONYMOUS the descriptor is looked up first (EBADF), as
    // in ksys_mmap_pgoff. Holdfast is like a Linux built without
    // hugetlbfs: MAP_HUGETLB is EINVAL (hstate_sizelog finds no huge page
    // size).
    if flags & mm::mmap::MAP_ANONYMOUS == 0 {
        let file = crate::fs::file::files(&p).lock().get(fd as i32)?;
        return mmap_file(&p, &file, [addr, len, prot, flags, off], &creds);
    }
    if flags & MAP_HUGETLB != 0 {
        return Err(Errno::EINVAL);
    }
    p.mm().do_mmap(addr, len, prot, flags, &creds)
}

/// `mmap` of `file` (Linux `do_mmap`'s file half): a tmpfs regular file
/// maps its page cache object from page `off / 4096`; `/dev/zero` gives
/// anonymous memory (shared: a shmem object of its own, as
/// `shmem_zero_setup`); anything else has no mmap (`ENODEV`).
fn mmap_file(
    p: &proc::Process,
    file: &crate::fs::file::File,
    [addr, len, prot, flags, off]: [u64; 5],
    creds: &mm::MlockCreds,
) -> SysResult {
    use crate::fs::file::{FileKind, FMODE_WRITE};
    use mm::mmap::{MmapBacking, MAP_ANONYMOUS};
    mmap_file_checks(file, len, prot, flags)?;
    match &file.kind {
        FileKind::Dev(crate::fs::namei::Device::Zero) => p.mm().do_mmap(addr, len, prot, flags | MAP_ANONYMOUS, creds),
        FileKind::Tmpfs(inode) if inode.file().is_some() => {
            let pgoff = off >> mm::addr::PAGE_SHIFT;
            // Linux: the last page offset must fit (EOVERFLOW).
            let pages = mm::addr::page_align_up(len).ok_or(Errno::ENOMEM)? >> mm::addr::PAGE_SHIFT;
            if pgoff.checked_add(pages).is_none_or(|end| end > (tmpfs_max_pages() + 1)) {
                return Err(Errno::EOVERFLOW);
            }
            let obj = inode.file().ok_or(Errno::ENODEV)?.lock().mmap_object()?;
            if obj.label().is_none() {
                // Named by where it is now (Linux: the path it was opened
                // by); a file without a name is a memfd or unlinked.
                if let Some(path) = crate::fs::tmpfs::find_path(inode) {
                    obj.set_label(alloc::string::String::from_utf8_lossy(&path).into(), crate::fs::tmpfs::MAPS_DEV);
                }
            }
            let backing = MmapBacking { obj, pgoff, may_write: file.f_mode() & FMODE_WRITE != 0 };
            p.mm().do_mmap_object(addr, len, prot, flags, backing, creds)
        }
        _ => Err(Errno::ENODEV),
    }
}

/// Pages of the largest file (`MAX_LFS_FILESIZE`).
fn tmpfs_max_pages() -> u64 {
    crate::fs::tmpfs::MAX_FILESIZE >> mm::addr::PAGE_SHIFT
}

/// Linux's checks of a file mapping in Linux's order (do_mmap's file
/// case): the argument errors, then the file's mode against the mapping.
fn mmap_file_checks(file: &crate::fs::file::File, len: u64, prot: u64, flags: u64) -> Result<(), Errno> {
    use crate::fs::file::{FMODE_READ, FMODE_WRITE};
    use mm::mmap::{MAP_PRIVATE, MAP_SHARED, MAP_SHARED_VALIDATE, MAP_TYPE, PROT_WRITE};
    if len == 0 || flags & MAP_HUGETLB != 0 {
        return Err(Errno::EINVAL);
    }
    let mode = file.f_mode();
    match flags & MAP_TYPE {
        MAP_SHARED | MAP_SHARED_VALIDATE => {
            // MAP_SHARED drops the flags it does not know; only
            // MAP_SHARED_VALIDATE refuses them (none of ours supports
            // MAP_SYNC either).
            const LEGACY_MAP_MASK: u64 = 0x407_f933;
            if flags & MAP_TYPE == MAP_SHARED_VALIDATE && flags & !(LEGACY_MAP_MASK | MAP_TYPE) != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            if prot & PROT_WRITE != 0 && mode & FMODE_WRITE == 0 {
                return Err(Errno::EACCES);
            }
        }
        MAP_PRIVATE => {}
        _ => return Err(Errno::EINVAL),
    }
    if mode & FMODE_READ == 0 {
        return Err(Errno::EACCES);
    }
    Ok(())
}

pub fn sys_munmap(a: Args) -> SysResult {
    let [addr, len, ..] = a.0;
    proc::current().mm().do_munmap(addr, len).map(|_| 0)
}

pub fn sys_mprotect(a: Args) -> SysResult {
    let [addr, len, prot, ..] = a.0;
    proc::current().mm().do_mprotect(addr, len, prot).map(|_| 0)
}

pub fn sys_brk(a: Args) -> SysResult {
    let [brk, ..] = a.0;
    let p = proc::current();
    let creds = p.mlock_creds();
    Ok(p.mm().do_brk(brk, &creds))
}

pub fn sys_mremap(a: Args) -> SysResult {
    let p = proc::current();
    let creds = p.mlock_creds();
    let [addr, old_len, new_len, flags, new_addr, _] = a.0;
    p.mm().do_mremap(addr, old_len, new_len, flags, new_addr, &creds)
}

pub fn sys_msync(a: Args) -> SysResult {
    let [addr, len, flags, ..] = a.0;
    proc::current().mm().msync(addr, len, flags as i32).map(|_| 0)
}

pub fn sys_madvise(a: Args) -> SysResult {
    let [addr, len, advice, ..] = a.0;
    proc::current().mm().madvise(addr, len, advice as i32).map(|_| 0)
}

pub fn sys_mincore(a: Args) -> SysResult {
    let [start, len, vec, ..] = a.0;
    // Linux's order: an unaligned start (EINVAL) and a range beyond user
    // space (ENOMEM) come before a vector outside user space (EFAULT); only
    // then is the range walked (ENOMEM for a hole).
    if start & !mm::addr::PAGE_MASK != 0 {
        return Err(Errno::EINVAL);
    }
    if start.checked_add(len).is_none_or(|end| end > mm::addr::TASK_SIZE) {
        return Err(Errno::ENOMEM);
    }
    let mut pages = len.div_ceil(mm::addr::PAGE_SIZE);
    access_ok(vec, pages)?;
    // Piece by piece, at most one vma and one page of vector at a time,
    // each copied out before the next is looked at (Linux's loop).
    let p = proc::current();
    let (mut start, mut vec) = (start, vec);
    while pages > 0 {
        let piece = p.mm().do_mincore(start, pages.min(mm::addr::PAGE_SIZE))?;
        copy_to_user(vec, &piece)?;
        let n = piece.len() as u64;
        pages -= n;
        vec += n;
        start += n * mm::addr::PAGE_SIZE;
    }
    Ok(0)
}

pub fn sys_mlock(a: Args) -> SysResult {
    let [addr, len, ..] = a.0;
    let p = proc::current();
    let creds = p.mlock_creds();
    p.mm().do_mlock(addr, len, 0, &creds).map(|_| 0)
}

pub fn sys_mlock2(a: Args) -> SysResult {
    let [addr, len, flags, ..] = a.0;
    let p = proc::current();
    let creds = p.mlock_creds();
    p.mm().do_mlock(addr, len, flags as u32, &creds).map(|_| 0)
}

pub fn sys_munlock(a: Args) -> SysResult {
    let [addr, len, ..] = a.0;
    proc::current().mm().do_munlock(addr, len).map(|_| 0)
}

pub fn sys_mlockall(a: Args) -> SysResult {
    let [flags, ..] = a.0;
    let p = proc::current();
    let creds = p.mlock_creds();
    p.mm().do_mlockall(flags as u32, &creds).map(|_| 0)
}

pub fn sys_munlockall(_a: Args) -> SysResult {
    proc::current().mm().do_munlockall().map(|_| 0)
}

/// Syscalls after which the address-space invariants are checked when
/// the command line has `mm.check_invariants`.
pub fn is_mm_syscall(nr: u64) -> bool {
    use super::nr::*;
    matches!(
        nr,
        MMAP | MPROTECT | MUNMAP | BRK | MREMAP | MADVISE | MLOCK | MUNLOCK | MLOCKALL | MUNLOCKALL | MLOCK2 | FORK | VFORK | CLONE
    ) || matches!(nr, SHMAT | SHMDT)
}

static INVARIANT_CHECKS_RUN: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
static INVARIANT_CHECKS_SKIPPED: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// How many [`check_invariants`] calls checked, and how many were skipped
/// for want of free memory.
pub fn invariant_check_counts() -> (u64, u64) {
    use core::sync::atomic::Ordering::Relaxed;
    (INVARIANT_CHECKS_RUN.load(Relaxed), INVARIANT_CHECKS_SKIPPED.load(Relaxed))
}

/// Check the invariants of the current address space; a violation is a
/// kernel bug and panics with the reason. Skipped while free frames are
/// below twice the reserve: the checker's lists of every frame would take
/// the heap memory the kernel keeps for itself (reclaim is then running;
/// the next call with memory to spare checks again).
pub fn check_invariants(nr: u64) {
    let (_, free) = crate::memory::frame::counts();
    if free < 2 * crate::memory::frame::reserve() {
        INVARIANT_CHECKS_SKIPPED.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        return;
    }
    INVARIANT_CHECKS_RUN.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
    if let Err(why) = proc::current().mm().check_invariants() {
        panic!("mm invariants violated after syscall {nr}: {why}");
    }
}

/// `swapon(path, flags)`, in Linux's order: unknown flags (`EINVAL`),
/// then `CAP_SYS_ADMIN` (`EPERM`), then the path (`EFAULT`, `ENOENT`,
/// ...); see [`crate::memory::swapfile::swapon`].
pub fn sys_swapon(a: Args) -> SysResult {
    let flags = u64::from(a.0[1] as u32);
    if flags & !crate::memory::swapfile::SWAP_FLAGS_VALID != 0 {
        return Err(Errno::EINVAL);
    }
    if !proc::current().capable(proc::cred::CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let path = crate::fs::namei::getname(a.0[0], false)?;
    crate::memory::swapfile::swapon(&path, flags).map(|()| 0)
}

/// `swapoff(path)`: `CAP_SYS_ADMIN` (`EPERM`), then the path; see
/// [`crate::memory::swapfile::swapoff`].
pub fn sys_swapoff(a: Args) -> SysResult {
    if !proc::current().capable(proc::cred::CAP_SYS_ADMIN) {
        return Err(Errno::EPERM);
    }
    let path = crate::fs::namei::getname(a.0[0], false)?;
    crate::memory::swapfile::swapoff(&path).map(|()| 0)
}
