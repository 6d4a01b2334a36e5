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

mod fs;
mod mem;
mod misc;
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
    let res = match nr {
        0 => fs::sys_read(a),
        1 => fs::sys_write(a),
        2 => fs::sys_open(a),
        3 => fs::sys_close(a),
        4 | 6 => fs::sys_stat(a),
        5 => fs::sys_fstat(a),
        8 => fs::sys_lseek(a),
        9 => mem::sys_mmap(a),
        10 => mem::sys_mprotect(a),
        11 => mem::sys_munmap(a),
        12 => mem::sys_brk(a),
        13 => misc::sys_rt_sigaction(a),
        14 => misc::sys_rt_sigprocmask(a),
        16 => fs::sys_ioctl(a),
        19 => fs::sys_readv(a),
        20 => fs::sys_writev(a),
        24 => thread::sys_sched_yield(a),
        25 => mem::sys_mremap(a),
        26 => mem::sys_msync(a),
        27 => mem::sys_mincore(a),
        28 => mem::sys_madvise(a),
        35 => time::sys_nanosleep(a),
        39 => misc::sys_getpid(a),
        56 => thread::sys_clone(a, frame),
        57 | 58 => Err(Errno::ENOSYS), // fork/vfork: one address space per process only
        60 => thread::sys_exit(a),
        61 => Err(Errno::ECHILD),     // wait4: Holdfast processes have no children
        62 => misc::sys_kill(a),
        63 => misc::sys_uname(a),
        72 => fs::sys_fcntl(a),
        79 => fs::sys_getcwd(a),
        97 => misc::sys_getrlimit(a),
        102 | 104 => misc::sys_getuid(a),
        105 => misc::sys_setuid(a),
        107 | 108 => misc::sys_geteuid(a),
        110 => Ok(0), // getppid
        149 => mem::sys_mlock(a),
        150 => mem::sys_munlock(a),
        151 => mem::sys_mlockall(a),
        152 => mem::sys_munlockall(a),
        158 => thread::sys_arch_prctl(a),
        160 => misc::sys_setrlimit(a),
        186 => thread::sys_gettid(a),
        202 => thread::sys_futex(a),
        204 => misc::sys_sched_getaffinity(a),
        218 => thread::sys_set_tid_address(a),
        228 => time::sys_clock_gettime(a),
        229 => time::sys_clock_getres(a),
        230 => time::sys_clock_nanosleep(a),
        231 => thread::sys_exit_group(a),
        234 => misc::sys_tgkill(a),
        257 => fs::sys_openat(a),
        262 => fs::sys_newfstatat(a),
        273 => Ok(0), // set_robust_list: accepted, robust futexes are not walked at exit
        302 => misc::sys_prlimit64(a),
        318 => misc::sys_getrandom(a),
        325 => mem::sys_mlock2(a),
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
