//! How the rwsem blocks: the [`RwSemBackend`] trait and its contract.

use crate::lockdep::LockClass;

/// The state a waiting thread sleeps in (Linux `TASK_UNINTERRUPTIBLE` /
/// `TASK_KILLABLE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// Only the rwsem wakes it (`down_read`, `down_write`).
    Uninterruptible,
    /// The rwsem or a fatal signal wakes it (`down_*_killable`).
    Killable,
}

/// Blocking, signals and time, as the rwsem needs them from the scheduler.
///
/// The rwsem itself only keeps a queue of waiters; putting a thread to sleep
/// and waking it is the scheduler's business. The kernel implements this
/// trait with its scheduler, host tests with std threads
/// (`StdBackend`) and loom models with loom threads.
///
/// # The no-lost-wakeup contract
///
/// A waiting thread runs this loop (see `RwSem::down_slowpath`):
///
/// ```text
///     lock wait_lock; enqueue myself
///     loop {
///         if I am no longer queued: the lock was granted to me -> return
///         unlock wait_lock
///         backend.park(me)                   <- may return spuriously
///         lock wait_lock
///     }
/// ```
///
/// and a releasing thread grants the lock *under* `wait_lock` (removing the
/// waiter from the queue) and calls `backend.wake(waiter)` *after* dropping
/// it. The wake can therefore land between the waiter's "am I granted?"
/// check and its `park`. The backend must not lose it:
///
/// * `wake(w)` before `park` makes that `park` return at once (a one-shot
///   permit, exactly like `std::thread::unpark` / Linux `wake_up_process`
///   setting `TASK_RUNNING` before `schedule()`), whatever the target was
///   doing when the wake came, e.g. spinning for `wait_lock`;
/// * `park` may return spuriously, and a stale permit left over from an
///   earlier wait may make one later `park` return early: the rwsem
///   re-checks its own state every time, so either is harmless;
/// * a thread parked with [`TaskState::Killable`] must be woken when a fatal
///   signal (SIGKILL) is sent to it, like Linux's `signal_wake_up` does for
///   `TASK_KILLABLE` sleepers, so that it can see
///   [`fatal_signal_pending`](RwSemBackend::fatal_signal_pending); the
///   signal must be visible as pending before that wake (a waiter checks for
///   it at the top of each round of the loop, before `wait_lock`).
///
/// None of the backend's methods is called with `wait_lock` held, so the
/// scheduler may take its own locks in them.
pub trait RwSemBackend {
    /// Names one waiting thread; a copy is kept in the wait queue so that a
    /// releasing thread can wake it. (Kernel: a task reference; host: a
    /// `std::thread::Thread`.)
    type Waiter: Clone;

    /// The token of the calling thread.
    fn current_waiter(&self) -> Self::Waiter;

    /// Block the calling thread (whose token is `me`) until `wake(me)` is
    /// called, unless a wake is already pending. May return spuriously.
    fn park(&self, me: &Self::Waiter, state: TaskState);

    /// Make `waiter` runnable, or make its next `park` return at once.
    fn wake(&self, waiter: &Self::Waiter);

    /// Whether the calling thread has a fatal signal pending (Linux
    /// `fatal_signal_pending(current)`); consulted by the killable variants.
    fn fatal_signal_pending(&self) -> bool;

    /// A monotonic clock in nanoseconds, for lock statistics only. A backend
    /// without a clock may return 0; the statistics then count but do not
    /// time.
    fn now_ns(&self) -> u64;

    /// Called while spinning for the rwsem's internal `wait_lock` and in
    /// each round of an optimistic spin. The default is a CPU pause; a host
    /// backend may yield instead, so that an oversubscribed machine does not
    /// spin away a whole time slice.
    fn cpu_relax(&self) {
        core::hint::spin_loop();
    }

    // ----- optimistic spinning (Linux `CONFIG_RWSEM_SPIN_ON_OWNER`) -------
    //
    // A contending thread may spin instead of sleeping while the owner runs
    // on another CPU (see "Optimistic spinning" in the rwsem module
    // documentation). The defaults turn spinning off: every contended
    // acquisition sleeps, as it must on one CPU, where the owner cannot run
    // while a contender spins.

    /// Whether optimistic spinning may be tried at all: more than one CPU
    /// runs threads. Consulted on every contended acquisition (and on
    /// every write acquisition, to decide whether to record the owner), so
    /// it should be cheap. Default `false`.
    fn can_spin(&self) -> bool {
        false
    }

    /// Whether `owner` (a thread that holds the lock for write) is running
    /// on a CPU right now (Linux `owner_on_cpu`). A spinner gives up as soon
    /// as this is `false`: a thread that is not running will not release
    /// the lock soon. Default `false`.
    fn owner_on_cpu(&self, _owner: &Self::Waiter) -> bool {
        false
    }

    /// Whether the calling thread should give up its CPU (Linux
    /// `need_resched()`); a spinner stops spinning when it is `true`.
    /// Default `false`.
    fn need_resched(&self) -> bool {
        false
    }

    /// The longest one optimistic spin may last, in nanoseconds of
    /// [`now_ns`](RwSemBackend::now_ns). It stands in for the end of the
    /// spinner's time slice where [`need_resched`](RwSemBackend::need_resched)
    /// cannot tell (a backend whose clock reads 0 must bound its spins with
    /// `need_resched`). Default 0.
    fn spin_limit_ns(&self) -> u64 {
        0
    }

    // ----- interrupts (Linux `local_irq_save` / `local_irq_restore`) -------
    //
    // The mm crate's spinlocks (the rwsem's `wait_lock`, an mm's inner
    // lock) are held with interrupts disabled, so that their holder is
    // never preempted in the middle of a critical section and a contender
    // on another CPU never spins for a whole time slice. Contenders spin
    // with interrupts as the caller had them: each attempt disables them,
    // tries the lock, and restores them if the lock was busy.

    /// Disable interrupts on the calling CPU; return whether they were
    /// enabled. Default: nothing to disable (`false`).
    fn local_irq_save(&self) -> bool {
        false
    }

    /// Undo one [`local_irq_save`](RwSemBackend::local_irq_save) that
    /// returned `were_enabled`: enable interrupts again only if they were.
    fn local_irq_restore(&self, _were_enabled: bool) {}

    // ----- lock-order checking (Linux `lock_acquire` / `lock_release`) ------

    /// The calling thread is about to take a lock of `class` (see
    /// [`crate::lockdep`]): check it against what the thread holds and
    /// record it; a backend that checks reports a violation (the kernel
    /// panics). Called before the thread can block on the lock. Default:
    /// no checking.
    fn lock_acquire(&self, _class: LockClass) {}

    /// The calling thread released its lock of `class`, or did not get it
    /// after all (a failed trylock, an interrupted wait).
    fn lock_release(&self, _class: LockClass) {}
}

/// Interrupts disabled by [`RwSemBackend::local_irq_save`], restored when
/// this is dropped. A lock guard keeps one as its last field, so that the
/// lock is released before interrupts come back.
pub(crate) struct IrqsSaved<'a, B: RwSemBackend> {
    backend: &'a B,
    were_enabled: bool,
}

impl<'a, B: RwSemBackend> IrqsSaved<'a, B> {
    pub(crate) fn save(backend: &'a B) -> Self {
        IrqsSaved { backend, were_enabled: backend.local_irq_save() }
    }
}

impl<B: RwSemBackend> Drop for IrqsSaved<'_, B> {
    fn drop(&mut self) {
        self.backend.local_irq_restore(self.were_enabled);
    }
}

/// `lock_acquire` done; `lock_release` when dropped. A lock guard keeps
/// one as a field after the lock's own guard.
pub(crate) struct LockdepHeld<'a, B: RwSemBackend> {
    backend: &'a B,
    class: LockClass,
}

impl<'a, B: RwSemBackend> LockdepHeld<'a, B> {
    pub(crate) fn acquire(backend: &'a B, class: LockClass) -> Self {
        backend.lock_acquire(class);
        LockdepHeld { backend, class }
    }
}

impl<B: RwSemBackend> Drop for LockdepHeld<'_, B> {
    fn drop(&mut self) {
        self.backend.lock_release(self.class);
    }
}

/// Take `lock` with interrupts disabled (Linux `spin_lock_irqsave`): try
/// with them disabled, and while the lock is busy spin with them restored,
/// calling the backend's `cpu_relax`. Returns the guard and the saved
/// interrupt state; drop the guard first.
pub(crate) fn lock_irqsave<'a, T, B: RwSemBackend>(
    lock: &'a spin::Mutex<T>,
    backend: &'a B,
) -> (spin::MutexGuard<'a, T>, IrqsSaved<'a, B>) {
    loop {
        let irqs = IrqsSaved::save(backend);
        if let Some(guard) = lock.try_lock() {
            return (guard, irqs);
        }
        drop(irqs);
        while lock.is_locked() {
            backend.cpu_relax();
        }
    }
}
