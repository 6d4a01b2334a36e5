//! The mm crate's rwsem on the kernel scheduler: waiters sleep, they do
//! not spin.
//!
//! A waiter is a thread; `park` blocks it (a pending wake makes the block
//! return at once), `wake` makes it runnable. Spinning on the rwsem's
//! internal wait_lock yields the CPU, because on one CPU a preempted holder
//! can only make progress if the contender gives way.

use alloc::sync::Arc;
use mm::rwsem::{RwSemBackend, TaskState};

use super::Thread;

/// The kernel's rwsem backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedBackend;

impl RwSemBackend for SchedBackend {
    type Waiter = Arc<Thread>;

    fn current_waiter(&self) -> Arc<Thread> {
        super::current()
    }

    fn park(&self, _me: &Arc<Thread>, _state: TaskState) {
        // Killable parks are ended by the signal code, which wakes the
        // thread after marking the fatal signal; the rwsem re-checks.
        super::block_current();
    }

    fn wake(&self, waiter: &Arc<Thread>) {
        super::wake(waiter);
    }

    fn fatal_signal_pending(&self) -> bool {
        super::current().fatal_signal_pending()
    }

    fn now_ns(&self) -> u64 {
        crate::arch::time::now_ns()
    }

    fn cpu_relax(&self) {
        super::yield_now();
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;

    type KRwSem = mm::rwsem::RwSem<SchedBackend>;
    use crate::sched::{self, thread::Thread as KThread};
    use alloc::string::String;
    use core::sync::atomic::{AtomicU32, Ordering};

    static SEM: spin::Lazy<KRwSem> = spin::Lazy::new(|| KRwSem::new(SchedBackend));
    static STEP: AtomicU32 = AtomicU32::new(0);

    extern "C" fn reader(_: u64) -> ! {
        sched::finish_switch();
        STEP.store(1, Ordering::SeqCst);
        SEM.down_read(); // blocks: the test thread holds the write lock
        STEP.store(2, Ordering::SeqCst);
        SEM.up_read();
        STEP.store(3, Ordering::SeqCst);
        sched::exit_current();
    }

    /// A reader blocks (sleeping, not spinning) behind a writer and runs
    /// when the writer releases; a downgrade admits it.
    pub fn reader_sleeps_behind_writer() {
        STEP.store(0, Ordering::SeqCst);
        SEM.down_write();
        let t = sched::spawn(KThread::new(crate::sched::thread::alloc_tid(), String::from("ktest-reader")), reader, 0);
        while STEP.load(Ordering::SeqCst) == 0 || !SEM.is_contended() {
            sched::yield_now();
        }
        assert!(!SEM.down_read_trylock(), "trylock must fail with a waiter queued");
        assert_eq!(t.state(), crate::sched::ThreadState::Blocked, "reader spins instead of sleeping");
        for _ in 0..10 {
            sched::yield_now();
        }
        assert_eq!(STEP.load(Ordering::SeqCst), 1, "reader got in while the writer held the lock");
        SEM.downgrade_write();
        // The reader gets in while this thread still holds the downgraded
        // read lock: both are readers at once.
        while STEP.load(Ordering::SeqCst) < 2 {
            sched::yield_now();
        }
        assert!(SEM.is_locked());
        SEM.up_read();
        // The timer may preempt the reader between its two stores; only
        // after its up_read is the lock free.
        while STEP.load(Ordering::SeqCst) != 3 {
            sched::yield_now();
        }
        assert!(!SEM.is_locked());
    }
}
