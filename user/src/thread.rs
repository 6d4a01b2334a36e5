//! Threads made with the raw `clone` system call, joined with a futex.
//!
//! Each thread gets one private anonymous mapping laid out as
//!
//! ```text
//!   base                                                    base+len
//!   | guard page (PROT_NONE) | stack, grows down ->| control page |
//! ```
//!
//! The control page holds the thread's TLS block (`%fs:0` points to itself,
//! as the x86_64 TLS ABI wants) and the child-tid word. `clone` is called with
//! `CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID` on that word: the kernel
//! stores the new tid there before `clone` returns, and on thread exit stores
//! 0 and does `futex(FUTEX_WAKE)` on it. `join` waits for the 0 (a shared,
//! not private, futex wait: Linux's exit-time wake is a shared wake), after
//! which the kernel no longer touches the mapping and it can be unmapped.

use crate::mem::{self, Region, PAGE_SIZE};
use crate::sys::{self, futex_wait, Errno};
use alloc::boxed::Box;
use core::arch::asm;
use core::sync::atomic::{AtomicU32, Ordering};

pub const CLONE_VM: usize = 0x0000_0100;
pub const CLONE_FS: usize = 0x0000_0200;
pub const CLONE_FILES: usize = 0x0000_0400;
pub const CLONE_SIGHAND: usize = 0x0000_0800;
pub const CLONE_THREAD: usize = 0x0001_0000;
pub const CLONE_SYSVSEM: usize = 0x0004_0000;
pub const CLONE_SETTLS: usize = 0x0008_0000;
pub const CLONE_PARENT_SETTID: usize = 0x0010_0000;
pub const CLONE_CHILD_CLEARTID: usize = 0x0020_0000;

/// The flags every thread here is created with (those of glibc/musl
/// `pthread_create`).
pub const THREAD_FLAGS: usize = CLONE_VM
    | CLONE_FS
    | CLONE_FILES
    | CLONE_SIGHAND
    | CLONE_THREAD
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID;

/// Default stack size (excluding guard and control pages).
pub const STACK_SIZE: usize = 64 * 1024;

/// The control page's layout.
#[repr(C)]
struct Control {
    /// TLS self-pointer: `%fs:0` reads this.
    tls_self: usize,
    /// Child-tid word for CLONE_PARENT_SETTID / CLONE_CHILD_CLEARTID.
    tid: AtomicU32,
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A running (or finished, not yet joined) thread.
pub struct JoinHandle {
    region: Option<Region>,
    tid: i32,
}

/// Start a thread running `f`, with the default stack size.
pub fn spawn<F: FnOnce() + Send + 'static>(f: F) -> Result<JoinHandle, Errno> {
    spawn_with_stack(STACK_SIZE, f)
}

pub fn spawn_with_stack<F: FnOnce() + Send + 'static>(stack: usize, f: F) -> Result<JoinHandle, Errno> {
    let stack = mem::page_round_up(stack);
    let mut region = Region::map_anon(PAGE_SIZE + stack + PAGE_SIZE, mem::prot::RW)?;
    region.protect(0, PAGE_SIZE, mem::prot::NONE)?;
    let base = region.addr();
    let ctl_addr = base + PAGE_SIZE + stack;
    let stack_top = ctl_addr; // 4096-aligned, so 16-aligned

    let job: Box<Job> = Box::new(Box::new(f));
    let arg = Box::into_raw(job) as usize;

    let ctl = ctl_addr as *mut Control;
    // SAFETY: the control page and the top of the stack lie inside `region`,
    // which is mapped read-write and not yet shared with any thread.
    unsafe {
        ctl.write(Control { tls_self: ctl_addr, tid: AtomicU32::new(0) });
        // The child pops `thread_main` then `arg` (see the asm below).
        ((stack_top - 16) as *mut usize).write(thread_main as extern "C" fn(usize) -> ! as usize);
        ((stack_top - 8) as *mut usize).write(arg);
    }
    let tid_ptr = ctl_addr + core::mem::offset_of!(Control, tid);

    let ret: isize;
    // SAFETY: raw clone. The parent continues normally. The child starts on
    // the new stack (rsp = stack_top-16) with every other register as the
    // parent had it; it never returns into this function: it pops the entry
    // point and its argument, and calls `thread_main`, which never returns.
    // The kernel writes the tid only to `tid_ptr`, inside our region.
    unsafe {
        asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            // child
            "xor ebp, ebp",
            "pop rax",
            "pop rdi",
            "call rax",
            "ud2",
            "2:",
            inlateout("rax") sys::nr::CLONE as isize => ret,
            in("rdi") THREAD_FLAGS,
            in("rsi") stack_top - 16,
            in("rdx") tid_ptr,
            in("r10") tid_ptr,
            in("r8") ctl_addr,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    match sys::check(ret) {
        Ok(tid) => Ok(JoinHandle { region: Some(region), tid: tid as i32 }),
        Err(e) => {
            // SAFETY: clone failed, so no child owns the job: take it back.
            drop(unsafe { Box::from_raw(arg as *mut Job) });
            Err(e)
        }
    }
}

/// The child's first Rust frame: run the job, then exit this thread only.
extern "C" fn thread_main(arg: usize) -> ! {
    // SAFETY: `arg` came from `Box::into_raw` in `spawn_with_stack`, and only
    // this thread consumes it.
    let job = unsafe { Box::from_raw(arg as *mut Job) };
    job();
    exit_thread(0)
}

/// `exit(code)`: end the calling thread (not the process).
pub fn exit_thread(code: i32) -> ! {
    // SAFETY: SYS_exit takes no pointer and never returns. This thread's stack
    // is not freed here; the joiner unmaps it after CLONE_CHILD_CLEARTID.
    unsafe { sys::syscall6(sys::nr::EXIT, [code as usize, 0, 0, 0, 0, 0]) };
    loop {
        core::hint::spin_loop();
    }
}

impl JoinHandle {
    /// The thread id returned by `clone`.
    pub fn tid(&self) -> i32 {
        self.tid
    }

    fn tid_word(&self) -> &AtomicU32 {
        let r = self.region.as_ref().expect("joined");
        let ctl = (r.addr() + r.len() - PAGE_SIZE) as *const Control;
        // SAFETY: the control page lies in the region we still own; the tid
        // word is only accessed atomically (by us and by the kernel).
        unsafe { &(*ctl).tid }
    }

    /// The tid word as the kernel set it (CLONE_PARENT_SETTID), or 0 once
    /// the thread has exited.
    pub fn tid_word_value(&self) -> u32 {
        self.tid_word().load(Ordering::Acquire)
    }

    /// Wait for the thread to exit (its tid word becomes 0) and free its stack.
    pub fn join(mut self) {
        loop {
            let v = self.tid_word().load(Ordering::Acquire);
            if v == 0 {
                break;
            }
            // Shared (non-private) wait: see the module comment.
            let _ = futex_wait(self.tid_word(), v, None, false);
        }
        drop(self.region.take());
    }
}
