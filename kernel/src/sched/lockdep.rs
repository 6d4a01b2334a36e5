//! The kernel's lock-order checker: each thread's held lock classes
//! (`mm::lockdep`), checked at every acquisition of an mmap lock, an mm's
//! inner lock or the frame allocator.
//!
//! On while `mm.check_invariants` is on (the user suite) and always in the
//! test build (`ktest`); off otherwise, when each acquisition costs one
//! relaxed load. A violation panics, naming both classes, before the thread
//! can block on the lock it was taking.
//!
//! The held set lives in the thread (`Thread::held_locks`), not the CPU:
//! a thread keeps its mmap lock across sleeps and migrations. Only the
//! thread itself reads or writes it, with interrupts disabled so that it
//! cannot move CPUs in between. Before the scheduler runs (early boot, a
//! CPU starting) there is no thread and nothing is checked.
//!
//! Locking: none.

use core::sync::atomic::{AtomicBool, Ordering};
use mm::lockdep::{HeldLocks, LockClass};
use x86_64::instructions::interrupts;

use crate::arch::percpu;

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turn checking on or off (at boot, from the command line).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Run `f` on the running thread's held set, if checking is on and a
/// thread runs.
fn with_held(f: impl FnOnce(&mut HeldLocks)) {
    if !ENABLED.load(Ordering::Relaxed) || percpu::nr_online() == 0 {
        return;
    }
    interrupts::without_interrupts(|| {
        let p = percpu::this_cpu().current.load(Ordering::Acquire) as *const super::Thread;
        if p.is_null() {
            return;
        }
        // SAFETY: the pointer is the running thread's (us), which this
        // CPU's run queue keeps alive while it runs; interrupts are off,
        // so it stays the running thread until we are done.
        let t = unsafe { &*p };
        let mut held = HeldLocks::from_bits(t.held_locks.load(Ordering::Relaxed));
        f(&mut held);
        t.held_locks.store(held.bits(), Ordering::Relaxed);
    });
}

/// The running thread takes a lock of `class`: panic if that breaks the
/// order, else record it.
pub fn acquire(class: LockClass) {
    let mut violation = None;
    with_held(|held| violation = held.acquire(class).err());
    if let Some(v) = violation {
        panic!("{v}");
    }
}

/// The running thread released its lock of `class` (or did not get it).
pub fn release(class: LockClass) {
    with_held(|held| held.release(class));
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;
    use crate::sched::{self, thread::Thread as KThread};
    use alloc::string::String;
    use core::sync::atomic::AtomicU32;

    static STEP: AtomicU32 = AtomicU32::new(0);

    fn takes_mmap_lock_class() -> ! {
        acquire(LockClass::MmapLock);
        acquire(LockClass::PageTable);
        release(LockClass::PageTable);
        release(LockClass::MmapLock);
        STEP.store(1, Ordering::SeqCst);
        sched::exit_current();
    }

    /// The held set belongs to the thread: while this thread holds a
    /// page-table-class lock, another thread on any CPU may take an
    /// mmap-lock-class one (which this thread could not).
    #[ktest]
    pub fn held_locks_belong_to_the_thread() {
        assert!(ENABLED.load(Ordering::Relaxed), "checking is on in the test build");
        STEP.store(0, Ordering::SeqCst);
        acquire(LockClass::PageTable);
        let mut mine = HeldLocks::default();
        with_held(|h| mine = *h);
        assert!(mine.holds(LockClass::PageTable));
        let _t = sched::spawn(KThread::new(crate::sched::thread::alloc_tid(), String::from("ktest-lockdep")), takes_mmap_lock_class);
        while STEP.load(Ordering::SeqCst) == 0 {
            sched::yield_now();
        }
        release(LockClass::PageTable);
        with_held(|h| mine = *h);
        assert!(mine.is_empty());
    }
}
