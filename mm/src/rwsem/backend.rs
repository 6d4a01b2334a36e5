//! How the rwsem blocks: the [`RwSemBackend`] trait and its contract.

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

    /// Called while spinning for the rwsem's internal `wait_lock`. The
    /// default is a CPU pause; a host backend may yield instead, so that an
    /// oversubscribed machine does not spin away a whole time slice.
    fn cpu_relax(&self) {
        core::hint::spin_loop();
    }
}
