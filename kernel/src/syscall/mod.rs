//! The Linux x86_64 system-call table.
//!
//! Numbers and argument registers are Linux's (`rax`; `rdi`, `rsi`, `rdx`,
//! `r10`, `r8`, `r9`); results go back in `rax`, errors as `-errno`. Each
//! handler is a thin wrapper: it checks user arguments (pointers through
//! [`crate::uaccess`]) and calls into the process, the file layer or the
//! mm crate. An unknown number returns `ENOSYS` and is logged once.
//!
//! Locking: handlers run with interrupts enabled on the calling thread's
//! kernel stack and may sleep.

#![deny(unsafe_code)]

mod cred;
mod exec;
mod fs;
pub(crate) mod mem;
mod memfd;
mod misc;
pub mod nr;
mod path;
mod process;
mod sched;
mod select;
mod signal;
mod thread;
mod time;

use core::sync::atomic::{AtomicU64, Ordering};
use mm::Errno;

use crate::arch::syscall::UserFrame;

/// Result of a syscall handler.
pub type SysResult = Result<u64, Errno>;

/// Arguments in Linux order.
#[derive(Clone, Copy, Debug)]
pub struct Args(pub [u64; 6]);

static LOGGED_ENOSYS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

fn log_enosys_once(nr: u64) {
    let (word, bit) = ((nr / 64) as usize, nr % 64);
    if let Some(w) = LOGGED_ENOSYS.get(word) {
        if w.fetch_or(1 << bit, Ordering::Relaxed) & (1 << bit) != 0 {
            return;
        }
    }
    log::warn!("unimplemented syscall {} (pid {}): ENOSYS", nr, crate::proc::current().pid);
}

/// Handle the syscall described by `frame` and store its result.
pub fn dispatch(frame: &mut UserFrame) {
    let nr = frame.rax;
    let a = Args([frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9]);
    // What a restart after a signal re-executes (Linux `orig_ax`).
    crate::sched::current().orig_rax.store(nr, Ordering::Relaxed);
    let res = match nr {
        nr::READ => fs::sys_read(a),
        nr::WRITE => fs::sys_write(a),
        nr::OPEN => fs::sys_open(a),
        nr::CLOSE => fs::sys_close(a),
        nr::STAT => fs::sys_stat(a),
        nr::LSTAT => fs::sys_lstat(a),
        nr::FSTAT => fs::sys_fstat(a),
        nr::POLL => select::sys_poll(a),
        nr::SELECT => select::sys_select(a),
        nr::LSEEK => fs::sys_lseek(a),
        nr::MMAP => mem::sys_mmap(a),
        nr::MPROTECT => mem::sys_mprotect(a),
        nr::MUNMAP => mem::sys_munmap(a),
        nr::BRK => mem::sys_brk(a),
        nr::RT_SIGACTION => signal::sys_rt_sigaction(a),
        nr::RT_SIGPROCMASK => signal::sys_rt_sigprocmask(a),
        nr::RT_SIGRETURN => signal::sys_rt_sigreturn(frame),
        nr::RT_SIGPENDING => signal::sys_rt_sigpending(a),
        nr::RT_SIGTIMEDWAIT => signal::sys_rt_sigtimedwait(a),
        nr::RT_SIGSUSPEND => signal::sys_rt_sigsuspend(a),
        nr::SIGALTSTACK => signal::sys_sigaltstack(a, frame),
        nr::PAUSE => signal::sys_pause(a),
        nr::ALARM => signal::sys_alarm(a),
        nr::GETITIMER => signal::sys_getitimer(a),
        nr::SETITIMER => signal::sys_setitimer(a),
        nr::TKILL => signal::sys_tkill(a),
        nr::RESTART_SYSCALL => signal::sys_restart_syscall(a),
        nr::IOCTL => fs::sys_ioctl(a),
        nr::READV => fs::sys_readv(a),
        nr::WRITEV => fs::sys_writev(a),
        nr::PIPE => fs::sys_pipe(a),
        nr::SCHED_YIELD => thread::sys_sched_yield(a),
        nr::MREMAP => mem::sys_mremap(a),
        nr::MSYNC => mem::sys_msync(a),
        nr::MINCORE => mem::sys_mincore(a),
        nr::MADVISE => mem::sys_madvise(a),
        nr::SHMGET => crate::ipc::shm::sys_shmget(a),
        nr::SHMAT => crate::ipc::shm::sys_shmat(a),
        nr::SHMCTL => crate::ipc::shm::sys_shmctl(a),
        nr::SHMDT => crate::ipc::shm::sys_shmdt(a),
        nr::DUP => fs::sys_dup(a),
        nr::DUP2 => fs::sys_dup2(a),
        nr::NANOSLEEP => time::sys_nanosleep(a),
        nr::GETPID => misc::sys_getpid(a),
        nr::CLONE => thread::sys_clone(a, frame),
        nr::FORK => process::sys_fork(a, frame),
        nr::VFORK => process::sys_vfork(a, frame),
        nr::EXECVE => exec::sys_execve(a, frame),
        nr::EXIT => thread::sys_exit(a),
        nr::WAIT4 => process::sys_wait4(a),
        nr::KILL => signal::sys_kill(a),
        nr::UNAME => misc::sys_uname(a),
        nr::FCNTL => fs::sys_fcntl(a),
        nr::GETCWD => fs::sys_getcwd(a),
        nr::GETRLIMIT => misc::sys_getrlimit(a),
        nr::GETUID => cred::sys_getuid(a),
        nr::GETGID => cred::sys_getgid(a),
        nr::SETUID => cred::sys_setuid(a),
        nr::SETGID => cred::sys_setgid(a),
        nr::GETEUID => cred::sys_geteuid(a),
        nr::GETEGID => cred::sys_getegid(a),
        nr::SETREUID => cred::sys_setreuid(a),
        nr::SETREGID => cred::sys_setregid(a),
        nr::GETGROUPS => cred::sys_getgroups(a),
        nr::SETGROUPS => cred::sys_setgroups(a),
        nr::SETRESUID => cred::sys_setresuid(a),
        nr::GETRESUID => cred::sys_getresuid(a),
        nr::SETRESGID => cred::sys_setresgid(a),
        nr::GETRESGID => cred::sys_getresgid(a),
        nr::SETFSUID => cred::sys_setfsuid(a),
        nr::SETFSGID => cred::sys_setfsgid(a),
        nr::CAPGET => cred::sys_capget(a),
        nr::CAPSET => cred::sys_capset(a),
        nr::SETPGID => process::sys_setpgid(a),
        nr::GETPPID => process::sys_getppid(a),
        nr::GETPGRP => process::sys_getpgrp(a),
        nr::SETSID => process::sys_setsid(a),
        nr::GETPGID => process::sys_getpgid(a),
        nr::GETSID => process::sys_getsid(a),
        nr::PRCTL => process::sys_prctl(a),
        nr::MLOCK => mem::sys_mlock(a),
        nr::MUNLOCK => mem::sys_munlock(a),
        nr::MLOCKALL => mem::sys_mlockall(a),
        nr::MUNLOCKALL => mem::sys_munlockall(a),
        nr::SWAPON => mem::sys_swapon(a),
        nr::SWAPOFF => mem::sys_swapoff(a),
        nr::ARCH_PRCTL => thread::sys_arch_prctl(a),
        nr::SETRLIMIT => misc::sys_setrlimit(a),
        nr::GETTID => thread::sys_gettid(a),
        nr::FUTEX => thread::sys_futex(a),
        nr::SCHED_GETAFFINITY => sched::sys_sched_getaffinity(a),
        nr::SCHED_SETAFFINITY => sched::sys_sched_setaffinity(a),
        nr::GETCPU => sched::sys_getcpu(a),
        nr::SET_TID_ADDRESS => thread::sys_set_tid_address(a),
        nr::CLOCK_GETTIME => time::sys_clock_gettime(a),
        nr::TIME => time::sys_time(a),
        nr::GETTIMEOFDAY => time::sys_gettimeofday(a),
        nr::CLOCK_GETRES => time::sys_clock_getres(a),
        nr::CLOCK_NANOSLEEP => time::sys_clock_nanosleep(a),
        nr::EXIT_GROUP => thread::sys_exit_group(a),
        nr::TGKILL => signal::sys_tgkill(a),
        nr::WAITID => process::sys_waitid(a),
        nr::OPENAT => fs::sys_openat(a),
        nr::NEWFSTATAT => fs::sys_newfstatat(a),
        nr::PSELECT6 => select::sys_pselect6(a),
        nr::PPOLL => select::sys_ppoll(a),
        nr::SET_ROBUST_LIST => Ok(0), // accepted; robust futexes are not walked at exit
        nr::PRLIMIT64 => misc::sys_prlimit64(a),
        nr::GETRANDOM => misc::sys_getrandom(a),
        nr::EXECVEAT => exec::sys_execveat(a, frame),
        nr::MLOCK2 => mem::sys_mlock2(a),
        nr::DUP3 => fs::sys_dup3(a),
        nr::PIPE2 => fs::sys_pipe2(a),
        nr::MEMFD_CREATE => memfd::sys_memfd_create(a),
        nr::PREAD64 => fs::sys_pread64(a),
        nr::PWRITE64 => fs::sys_pwrite64(a),
        nr::ACCESS => path::sys_access(a),
        nr::TRUNCATE => path::sys_truncate(a),
        nr::FTRUNCATE => path::sys_ftruncate(a),
        nr::CHDIR => path::sys_chdir(a),
        nr::FCHDIR => path::sys_fchdir(a),
        nr::RENAME => path::sys_rename(a),
        nr::MKDIR => path::sys_mkdir(a),
        nr::RMDIR => path::sys_rmdir(a),
        nr::CREAT => fs::sys_creat(a),
        nr::LINK => path::sys_link(a),
        nr::UNLINK => path::sys_unlink(a),
        nr::SYMLINK => path::sys_symlink(a),
        nr::READLINK => path::sys_readlink(a),
        nr::CHMOD => path::sys_chmod(a),
        nr::FCHMOD => path::sys_fchmod(a),
        nr::CHOWN => path::sys_chown(a),
        nr::FCHOWN => path::sys_fchown(a),
        nr::LCHOWN => path::sys_lchown(a),
        nr::UMASK => path::sys_umask(a),
        nr::GETDENTS64 => fs::sys_getdents64(a),
        nr::MKDIRAT => path::sys_mkdirat(a),
        nr::FCHOWNAT => path::sys_fchownat(a),
        nr::UNLINKAT => path::sys_unlinkat(a),
        nr::RENAMEAT => path::sys_renameat(a),
        nr::LINKAT => path::sys_linkat(a),
        nr::SYMLINKAT => path::sys_symlinkat(a),
        nr::READLINKAT => path::sys_readlinkat(a),
        nr::FCHMODAT => path::sys_fchmodat(a),
        nr::FACCESSAT => path::sys_faccessat(a),
        nr::RENAMEAT2 => path::sys_renameat2(a),
        nr::STATX => fs::sys_statx(a),
        nr::FACCESSAT2 => path::sys_faccessat2(a),
        nr::FCHMODAT2 => path::sys_fchmodat2(a),
        _ => {
            log_enosys_once(nr);
            Err(Errno::ENOSYS)
        }
    };
    frame.rax = match res {
        Ok(v) => v,
        Err(e) => e.as_syscall_return() as u64,
    };
    if crate::cmdline::flag("mm.check_invariants") && mem::is_mm_syscall(nr) {
        mem::check_invariants(nr);
    }
}
