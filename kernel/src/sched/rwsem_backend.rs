//! The mm crate's rwsem on the kernel scheduler: waiters sleep, and with
//! more than one CPU online first spin while the owner runs.
//!
//! A waiter is a thread; `park` blocks it (a pending wake makes the block
//! return at once), `wake` makes it runnable. Optimistic spinning
//! (`can_spin`) is on only when more than one CPU runs threads: on one CPU
//! the owner cannot run while a contender spins. A spin ends when the
//! owner leaves its CPU, when another thread waits for this CPU
//! (`need_resched`) or after [`SPIN_LIMIT_NS`].
//!
//! The rwsem's `wait_lock` and an mm's inner lock are held with interrupts
//! disabled (`local_irq_save`), so a holder is never preempted and never
//! takes a timer tick inside its critical section.

use alloc::sync::Arc;
use mm::rwsem::{RwSemBackend, TaskState};

use super::Thread;

/// The longest optimistic spin (Linux bounds it by the spinner's time
/// slice; Holdfast's tick is 4 ms, and a spin that long would waste most
/// of one).
pub const SPIN_LIMIT_NS: u64 = 200_000;

/// The kernel's rwsem backend.
#[derive(Clone, Copy, Debug, Default)]
pub struct SchedBackend;

impl RwSemBackend for SchedBackend {
    type Waiter = Arc<Thread>;

    fn current_waiter(&self) -> Arc<Thread> {
        super::current()
    }

    fn park(&self, _me: &Arc<Thread>, _state: TaskState) {
        // The rwsem parks only after restoring what wait_lock disabled.
        debug_assert!(x86_64::instructions::interrupts::are_enabled(), "rwsem park with interrupts disabled");
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

    /// Spinning for the rwsem's `wait_lock` (or an mm's inner lock): on
    /// one CPU the holder can only be preempted, so give way to it; with
    /// more CPUs it is most likely running elsewhere and about to release,
    /// so pause a while, giving way only now and then.
    fn cpu_relax(&self) {
        use core::sync::atomic::{AtomicU32, Ordering};
        static SPINS: AtomicU32 = AtomicU32::new(0);
        if !x86_64::instructions::interrupts::are_enabled() {
            // A caller that had interrupts disabled already: it may not
            // yield, and must answer other CPUs' shootdowns while it spins.
            crate::sync::spin_irqs_off();
        } else if crate::arch::percpu::nr_online() > 1 && SPINS.fetch_add(1, Ordering::Relaxed) % 64 != 0 {
            for _ in 0..32 {
                core::hint::spin_loop();
            }
        } else {
            super::yield_now();
        }
    }

    /// Spinning pays only when the owner can run meanwhile: more than one
    /// CPU runs threads.
    fn can_spin(&self) -> bool {
        crate::arch::percpu::nr_online() > 1
    }

    /// An owner runs on a CPU while its state is `Running`, and is about to
    /// while it is `Runnable`: the rwsem grants the lock before it wakes
    /// the waiter (see the rwsem's "grant before wake"), so a freshly
    /// granted writer is `Runnable` until its CPU takes the reschedule IPI,
    /// and spinning for its short critical section beats sleeping behind
    /// it. Only a `Blocked` owner is certainly not coming back soon.
    fn owner_on_cpu(&self, owner: &Arc<Thread>) -> bool {
        matches!(owner.state(), super::ThreadState::Running | super::ThreadState::Runnable)
    }

    /// Another thread waits in this CPU's run queue.
    fn need_resched(&self) -> bool {
        super::need_resched()
    }

    fn spin_limit_ns(&self) -> u64 {
        SPIN_LIMIT_NS
    }

    fn lock_acquire(&self, class: mm::lockdep::LockClass) {
        super::lockdep::acquire(class);
    }

    fn lock_release(&self, class: mm::lockdep::LockClass) {
        super::lockdep::release(class);
    }

    fn local_irq_save(&self) -> bool {
        let were_enabled = x86_64::instructions::interrupts::are_enabled();
        x86_64::instructions::interrupts::disable();
        were_enabled
    }

    fn local_irq_restore(&self, were_enabled: bool) {
        if were_enabled {
            x86_64::instructions::interrupts::enable();
        }
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;

    type KRwSem = mm::rwsem::RwSem<SchedBackend>;
    use crate::sched::{self, thread::Thread as KThread};
    use alloc::string::String;
    use core::sync::atomic::{AtomicU32, Ordering};

    static SEM: spin::Lazy<KRwSem> = spin::Lazy::new(|| KRwSem::new(SchedBackend));
    static STEP: AtomicU32 = AtomicU32::new(0);

    fn reader() -> ! {
        STEP.store(1, Ordering::SeqCst);
        SEM.down_read(); // blocks: the test thread holds the write lock
        STEP.store(2, Ordering::SeqCst);
        SEM.up_read();
        STEP.store(3, Ordering::SeqCst);
        sched::exit_current();
    }

    /// A reader blocks (sleeping, not spinning) behind a writer and runs
    /// when the writer releases; a downgrade admits it.
    #[ktest]
    pub fn reader_sleeps_behind_writer() {
        STEP.store(0, Ordering::SeqCst);
        SEM.down_write();
        let t = sched::spawn(KThread::new(crate::sched::thread::alloc_tid(), String::from("ktest-reader")), reader);
        while STEP.load(Ordering::SeqCst) == 0 || !SEM.is_contended() {
            sched::yield_now();
        }
        assert!(!SEM.down_read_trylock(), "trylock must fail with a waiter queued");
        // Queued is not yet asleep: on another CPU the reader may still be
        // between leaving wait_lock and parking. It must be asleep soon
        // (within far more than any spin may last), and stay so.
        let deadline = crate::arch::time::now_ns() + 100 * SPIN_LIMIT_NS;
        while t.state() != crate::sched::ThreadState::Blocked {
            assert!(crate::arch::time::now_ns() < deadline, "reader spins instead of sleeping");
            sched::yield_now();
        }
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

    /// What a killable waiter's `down_*_killable` returned: 0 still
    /// waiting, 1 got the lock (and released it), 2 EINTR.
    static KILLED_RESULT: [AtomicU32; 3] = [const { AtomicU32::new(0) }; 3];
    static KSEM: spin::Lazy<KRwSem> = spin::Lazy::new(|| KRwSem::new(SchedBackend));

    fn record(slot: u64, r: Result<(), mm::Errno>, up: fn()) {
        let v = match r {
            Ok(()) => {
                up();
                1
            }
            Err(e) => {
                assert_eq!(e, mm::Errno::EINTR);
                2
            }
        };
        KILLED_RESULT[slot as usize].store(v, Ordering::SeqCst);
    }

    fn killable_reader(slot: u64) -> ! {
        record(slot, KSEM.down_read_killable(), || KSEM.up_read());
        sched::exit_current();
    }

    fn killable_writer(slot: u64) -> ! {
        record(slot, KSEM.down_write_killable(), || KSEM.up_write());
        sched::exit_current();
    }

    fn start(entry: fn(u64) -> !, slot: u64, waiters_after: usize) -> alloc::sync::Arc<KThread> {
        KILLED_RESULT[slot as usize].store(0, Ordering::SeqCst);
        let t = sched::spawn(KThread::new(crate::sched::thread::alloc_tid(), String::from("ktest-waiter")), move || entry(slot));
        while KSEM.nr_waiters() < waiters_after || t.state() != crate::sched::ThreadState::Blocked {
            sched::yield_now();
        }
        t
    }

    fn kill_and_wait(t: &alloc::sync::Arc<KThread>, slot: usize) {
        t.set_fatal_signal();
        sched::wake(t);
        while KILLED_RESULT[slot].load(Ordering::SeqCst) == 0 {
            sched::yield_now();
        }
    }

    /// SIGKILL ends killable rwsem waits, reader and writer alike, and
    /// leaves the lock as it was: still held by its owner, the killed
    /// waiters gone from the queue, and a reader that was queued behind a
    /// killed writer admitted at once while the lock is read-held.
    #[ktest]
    pub fn sigkill_ends_killable_waits() {
        KSEM.reset_stats();
        // 1. Write-held: a killable reader and a killable writer queue.
        KSEM.down_write();
        let r = start(killable_reader, 0, 1);
        let w = start(killable_writer, 1, 2);
        kill_and_wait(&w, 1);
        assert_eq!(KILLED_RESULT[1].load(Ordering::SeqCst), 2, "killed writer did not get EINTR");
        assert_eq!(KSEM.nr_waiters(), 1, "killed writer still queued");
        assert!(KSEM.is_write_locked(), "the owner lost the write lock");
        kill_and_wait(&r, 0);
        assert_eq!(KILLED_RESULT[0].load(Ordering::SeqCst), 2, "killed reader did not get EINTR");
        assert_eq!(KSEM.nr_waiters(), 0, "killed reader still queued");
        assert!(KSEM.is_write_locked());
        KSEM.up_write();
        assert!(!KSEM.is_locked(), "lock not free after the owner's release");

        // 2. Read-held: a writer queues, a reader queues behind it (writer
        // fairness). Killing the writer admits the reader.
        KSEM.down_read();
        let w = start(killable_writer, 1, 1);
        let r = start(killable_reader, 2, 2);
        assert_eq!(KILLED_RESULT[2].load(Ordering::SeqCst), 0, "reader overtook a queued writer");
        kill_and_wait(&w, 1);
        assert_eq!(KILLED_RESULT[1].load(Ordering::SeqCst), 2);
        while KILLED_RESULT[2].load(Ordering::SeqCst) == 0 {
            sched::yield_now();
        }
        assert_eq!(KILLED_RESULT[2].load(Ordering::SeqCst), 1, "reader behind the killed writer was not admitted");
        assert_eq!(KSEM.nr_waiters(), 0);
        assert!(KSEM.is_locked() && !KSEM.is_write_locked(), "the owner's read lock is gone");
        KSEM.up_read();
        assert!(!KSEM.is_locked());
        let st = KSEM.stats();
        assert_eq!((st.read.interrupted, st.write.interrupted), (1, 2), "interrupted waits in the statistics");
        for t in [r, w] {
            while t.state() != crate::sched::ThreadState::Dead {
                sched::yield_now();
            }
        }
    }
}
