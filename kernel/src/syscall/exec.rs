//! `execve` and `execveat`: the path is copied in here (`EFAULT`,
//! `ENAMETOOLONG`, `ENOENT` for an empty one without `AT_EMPTY_PATH`), the
//! rest is `proc::exec::do_execveat`. On success the frame the syscall
//! returns through enters the new program (its `rax`, the result, is 0).

use super::{Args, SysResult};
use crate::arch::syscall::UserFrame;
use crate::fs::file::files;
use crate::fs::namei;
use crate::proc::{self, exec};

/// Is the file a descriptor-relative exec names reachable only through a
/// close-on-exec descriptor (so that a script's interpreter could not open
/// it after the exec)?
fn path_inaccessible(dirfd: i32, path: &[u8]) -> bool {
    dirfd != exec::AT_FDCWD && path.first() != Some(&b'/') && files(&proc::current()).lock().cloexec(dirfd) == Ok(true)
}

fn do_execveat(dirfd: i32, path_ptr: u64, argv: u64, envp: u64, flags: u32, frame: &mut UserFrame) -> SysResult {
    let path = namei::getname(path_ptr, flags & exec::AT_EMPTY_PATH != 0)?;
    let inaccessible = path_inaccessible(dirfd, &path);
    exec::do_execveat(dirfd, &path, argv, envp, flags, inaccessible, frame).map(|()| 0)
}

pub fn sys_execve(a: Args, frame: &mut UserFrame) -> SysResult {
    let [path, argv, envp, ..] = a.0;
    do_execveat(exec::AT_FDCWD, path, argv, envp, 0, frame)
}

pub fn sys_execveat(a: Args, frame: &mut UserFrame) -> SysResult {
    let [dirfd, path, argv, envp, flags, _] = a.0;
    do_execveat(dirfd as u32 as i32, path, argv, envp, flags as u32, frame)
}
