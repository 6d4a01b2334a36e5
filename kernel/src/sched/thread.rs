//! Kernel threads: a kernel stack, a saved stack pointer and a state.
//!
//! Every thread, kernel or user, is a `Thread`. A user thread additionally
//! belongs to a process and returns to ring 3 from its kernel stack. The
//! scheduler sits below processes and does not know what a process is: a
//! thread carries its process as opaque shared data ([`Thread::process`],
//! an `Arc<dyn Any>`), which `proc` attaches when it creates the thread
//! and downcasts back to its `Process` (`proc::current`).
//!
//! Invariants: `saved_rsp` is only meaningful while `on_cpu` is clear; it
//! is written by the context switch away from the thread (after which the
//! next thread on that CPU clears `on_cpu`) and read by the switch back to
//! it, on whichever CPU, under the scheduler lock with interrupts
//! disabled.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use core::any::Any;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};

/// Size of every kernel stack.
pub const KSTACK_SIZE: usize = 64 * 1024;

/// A kernel stack is made of these, so that its top is 16-byte aligned as
/// the ABI wants at every call (the compiler places 16-byte aligned
/// locals, such as the `fxsave` area of a signal frame, by that rule; a
/// byte buffer from the heap may be only 8-byte aligned).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct StackChunk([u8; 16]);
/// Bytes at the top of every kernel stack reserved for the user frame that
/// `syscall` entry and the first entry to ring 3 put there (a `UserFrame`
/// is 160 bytes; the rest keeps the code below it 16-byte aligned).
pub const USER_FRAME_RESERVE: u64 = 176;

/// The x87/SSE register file of a thread (`fxsave` layout). The kernel is
/// built without SSE, so the registers always hold the state of the user
/// thread that last ran; the scheduler saves and restores them on switch.
#[repr(C, align(16))]
pub struct FpuState(pub [u8; 512]);

impl FpuState {
    /// The state after `fninit` with SSE exceptions masked: FCW 0x37F,
    /// MXCSR 0x1F80.
    fn initial() -> FpuState {
        let mut a = [0u8; 512];
        a[0..2].copy_from_slice(&0x037Fu16.to_le_bytes());
        a[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
        FpuState(a)
    }
}

/// Scheduling state of a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ThreadState {
    Runnable = 0,
    Running = 1,
    Blocked = 2,
    Dead = 3,
}

/// One schedulable thread.
pub struct Thread {
    /// The thread id; changes only when `execve` makes a thread its
    /// process's leader ([`Thread::set_tid`]).
    tid: AtomicU32,
    pub name: String,
    kstack: Option<Box<[StackChunk]>>,
    saved_rsp: UnsafeCell<u64>,
    fpu: UnsafeCell<Box<FpuState>>,
    state: AtomicU8,
    /// The thread's registers are live on a CPU: set from when a CPU
    /// switches to it until the switch away from it has finished (Linux's
    /// `p->on_cpu`). Another CPU may switch to it only once it is clear.
    pub(super) on_cpu: AtomicBool,
    /// The CPU it runs on, or last ran on.
    pub cpu: AtomicU32,
    /// The CPUs it may run on (`sched_setaffinity`), one bit per CPU index.
    pub affinity: AtomicU64,
    /// A wake-up arrived while the thread was not blocked: its next block
    /// returns at once (no lost wake-ups).
    pub(super) wake_pending: AtomicBool,
    /// The lock classes this thread holds (`mm::lockdep::HeldLocks` bits;
    /// see `sched::lockdep`). Only the thread itself touches it.
    pub(super) held_locks: AtomicU8,
    /// SIGKILL (or process exit) is pending: killable waits return.
    fatal_pending: AtomicBool,
    /// Deadline of a timed sleep (ns on the monotonic clock), 0 if none.
    pub(super) wake_at: AtomicU64,
    /// Page-table root this thread runs on (0: the kernel's boot table).
    pub cr3: AtomicU64,
    /// User FS base (TLS), restored on every switch to this thread.
    pub fs_base: AtomicU64,
    /// User GS base (`ARCH_SET_GS`), restored likewise; the kernel itself
    /// never uses GS.
    pub gs_base: AtomicU64,
    /// Blocked-signal mask (bit `sig - 1`); changed by `proc::signal`
    /// under its process's signal lock.
    pub sigmask: AtomicU64,
    /// A signal this thread does not block may be pending (Linux
    /// `TIF_SIGPENDING`): interruptible sleeps end, and the way back to
    /// ring 3 delivers it. Set and recomputed by `proc::signal`.
    pub sigpending: AtomicBool,
    /// The system call number while the thread is in a system call
    /// (Linux `orig_ax`), [`NO_SYSCALL`] otherwise: what a restart after
    /// a signal re-executes.
    pub orig_rax: AtomicU64,
    /// Ticks spent running, for /proc and the demo.
    pub ticks: AtomicU64,
    /// Number of voluntary sleeps (blocks).
    pub nr_blocks: AtomicU32,
    /// The process of a user thread (set once, before it first runs),
    /// opaque here: `proc` puts its `Process` in and downcasts it back.
    pub process: spin::Once<Arc<dyn Any + Send + Sync>>,
    /// `set_tid_address` / `CLONE_CHILD_CLEARTID`: zeroed and futex-woken
    /// when the thread exits.
    pub clear_child_tid: AtomicU64,
}

// SAFETY: `saved_rsp` is the only non-Sync field; it is accessed only by the
// scheduler under its lock with interrupts disabled (see module invariants).
unsafe impl Sync for Thread {}
// SAFETY: as above; the boxed stack is plain memory.
unsafe impl Send for Thread {}

/// [`Thread::orig_rax`] outside a system call.
pub const NO_SYSCALL: u64 = u64::MAX;

/// Linux's pid of init: the first process gets it, whatever kernel
/// threads started before it ([`alloc_init_pid`]).
pub const INIT_PID: u32 = 1;

static NEXT_TID: AtomicU32 = AtomicU32::new(INIT_PID + 1);
static INIT_PID_TAKEN: AtomicBool = AtomicBool::new(false);

/// Allocate a thread id (also used as pid for the first thread of a process).
pub fn alloc_tid() -> u32 {
    NEXT_TID.fetch_add(1, Ordering::Relaxed)
}

/// [`INIT_PID`] for the first process, once; `None` after.
pub fn alloc_init_pid() -> Option<u32> {
    (!INIT_PID_TAKEN.swap(true, Ordering::Relaxed)).then_some(INIT_PID)
}

impl Thread {
    /// The thread that is already running on this CPU: the boot context
    /// (on the bootloader's stack) or an application processor's first
    /// context (on the stack it was started with).
    pub(super) fn boot(name: String) -> Thread {
        let t = Self::with_stack(alloc_tid(), name, None, Box::new(FpuState::initial()), ThreadState::Running);
        t.on_cpu.store(true, Ordering::Relaxed);
        t
    }

    /// A new thread with its own kernel stack, not yet runnable.
    pub fn new(tid: u32, name: String) -> Thread {
        Self::try_new(tid, name).expect("no memory for a kernel thread")
    }

    /// [`Thread::new`] for threads a user program asks for (`clone`,
    /// process start): `None` if there is no memory for the kernel stack.
    pub fn try_new(tid: u32, name: String) -> Option<Thread> {
        let chunks = KSTACK_SIZE / core::mem::size_of::<StackChunk>();
        let mut stack = alloc::vec::Vec::new();
        stack.try_reserve_exact(chunks).ok()?;
        stack.resize(chunks, StackChunk([0; 16]));
        let fpu = Box::try_new(FpuState::initial()).ok()?;
        Some(Self::with_stack(tid, name, Some(stack.into_boxed_slice()), fpu, ThreadState::Blocked))
    }

    fn with_stack(tid: u32, name: String, kstack: Option<Box<[StackChunk]>>, fpu: Box<FpuState>, state: ThreadState) -> Thread {
        Thread {
            tid: AtomicU32::new(tid),
            name,
            kstack,
            saved_rsp: UnsafeCell::new(0),
            fpu: UnsafeCell::new(fpu),
            state: AtomicU8::new(state as u8),
            on_cpu: AtomicBool::new(false),
            cpu: AtomicU32::new(0),
            affinity: AtomicU64::new(u64::MAX),
            wake_pending: AtomicBool::new(false),
            held_locks: AtomicU8::new(0),
            fatal_pending: AtomicBool::new(false),
            wake_at: AtomicU64::new(0),
            cr3: AtomicU64::new(0),
            fs_base: AtomicU64::new(0),
            gs_base: AtomicU64::new(0),
            sigmask: AtomicU64::new(0),
            sigpending: AtomicBool::new(false),
            orig_rax: AtomicU64::new(NO_SYSCALL),
            ticks: AtomicU64::new(0),
            nr_blocks: AtomicU32::new(0),
            process: spin::Once::new(),
            clear_child_tid: AtomicU64::new(0),
        }
    }

    /// Top of the kernel stack (0 for the boot thread, which keeps the
    /// bootloader's stack and never enters user mode).
    pub fn kstack_top(&self) -> u64 {
        self.kstack.as_ref().map_or(0, |s| s.as_ptr() as u64 + core::mem::size_of_val::<[StackChunk]>(s) as u64)
    }

    /// What the CPU must load to run this thread (see
    /// [`crate::arch::switch_address_space_and_stack`]).
    pub(super) fn switch_target(&self) -> crate::arch::SwitchTarget {
        crate::arch::SwitchTarget {
            kstack_top: self.kstack_top(),
            cr3: self.cr3.load(Ordering::Relaxed),
            fs_base: self.fs_base.load(Ordering::Relaxed),
            gs_base: self.gs_base.load(Ordering::Relaxed),
        }
    }

    pub fn state(&self) -> ThreadState {
        match self.state.load(Ordering::SeqCst) {
            0 => ThreadState::Runnable,
            1 => ThreadState::Running,
            2 => ThreadState::Blocked,
            _ => ThreadState::Dead,
        }
    }

    pub(super) fn set_state(&self, s: ThreadState) {
        self.state.store(s as u8, Ordering::SeqCst);
    }

    /// Pointer to the saved stack pointer slot.
    pub(super) fn saved_rsp_ptr(&self) -> *mut u64 {
        self.saved_rsp.get()
    }

    /// Pointer to the thread's saved x87/SSE state.
    pub(super) fn fpu_ptr(&self) -> *mut FpuState {
        // SAFETY: only the scheduler, under its lock with interrupts off,
        // touches the FPU area (see module invariants).
        unsafe { &mut **self.fpu.get() as *mut FpuState }
    }

    /// May the thread run on CPU `cpu` (its affinity mask)?
    pub fn may_run_on(&self, cpu: usize) -> bool {
        self.affinity.load(Ordering::Relaxed) & (1u64 << cpu) != 0
    }

    /// The thread id.
    pub fn tid(&self) -> u32 {
        self.tid.load(Ordering::Relaxed)
    }

    /// Give the thread the id `tid`: `execve` from a thread other than the
    /// leader makes it the leader, with the process's id.
    pub fn set_tid(&self, tid: u32) {
        self.tid.store(tid, Ordering::Relaxed);
    }

    /// Is a fatal signal pending?
    pub fn fatal_signal_pending(&self) -> bool {
        self.fatal_pending.load(Ordering::SeqCst)
    }

    /// Is a signal pending that ends an interruptible sleep (Linux
    /// `signal_pending`): a fatal one, or one the thread does not block?
    pub fn signal_pending(&self) -> bool {
        self.fatal_signal_pending() || self.sigpending.load(Ordering::SeqCst)
    }

    /// Mark a fatal signal pending (the caller then wakes the thread).
    pub fn set_fatal_signal(&self) {
        self.fatal_pending.store(true, Ordering::SeqCst);
    }
}
