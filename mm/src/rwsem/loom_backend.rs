//! The loom backend (`cfg(loom)` only): loom threads sleep on per-thread
//! condition variables and "fatal signals" are a per-thread flag, so that
//! models explore every interleaving of grants, wake-ups and cancellations.
//!
//! Each thread gets a [`LoomWaiter`]: a wake-up permit behind a loom
//! `Mutex` and a `Condvar` to sleep on. Loom's own `thread::park`/`unpark`
//! cannot implement the backend contract: an `unpark` that reaches a thread
//! blocked on another loom object (our `wait_lock`, a `join`) is applied to
//! that object's wait (loom then asserts) instead of being kept for the next
//! `park`, whereas `std::thread::unpark` and the kernel's wake-up keep it. A
//! stale wake-up (the waiter saw its grant before the waker got to `wake`)
//! is normal for the rwsem, so the permit has to be a separate object.
//!
//! [`LoomBackend::with_optimistic_spinning`] turns optimistic spinning on: a
//! thread counts as running unless it is parked here, and `need_resched`
//! becomes true after a fixed number of calls since the thread last parked
//! (its "time slice"), which bounds every spin (the clock reads 0, so the
//! rwsem's time bounds never end a spin in a model).

// loom runs on std; its `thread_local!` names `std`.
extern crate std;

use super::{RwSemBackend, TaskState};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::Cell;
use loom::sync::{Condvar, Mutex};
use loom::thread::{self, Thread, ThreadId};

/// A loom thread's wake-up permit and the condition variable it sleeps on.
#[derive(Debug)]
pub struct LoomWaiter {
    state: Mutex<WaiterState>,
    wakeup: Condvar,
}

#[derive(Debug, Default)]
struct WaiterState {
    /// A wake-up is pending.
    permit: bool,
    /// The thread is blocked in `park` (not on a CPU).
    parked: bool,
}

loom::thread_local! {
    /// `need_resched` calls since this thread last parked.
    static RESCHED_POLLS: Cell<usize> = Cell::new(0);
}

#[derive(Debug, Default)]
struct Threads {
    waiters: Vec<(ThreadId, Arc<LoomWaiter>)>,
    killed: Vec<ThreadId>,
}

/// [`RwSemBackend`] on loom threads. The clock always reads 0.
#[derive(Clone, Debug, Default)]
pub struct LoomBackend {
    threads: Arc<Mutex<Threads>>,
    /// With spinning on: `need_resched` calls a thread may make between two
    /// parks before it says "reschedule". `None`: spinning off.
    time_slice: Option<usize>,
}

impl LoomBackend {
    /// A backend with no signals pending that never spins.
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend whose threads spin on a running owner; `time_slice` bounds
    /// each thread's spinning between two sleeps (see the module
    /// documentation).
    pub fn with_optimistic_spinning(time_slice: usize) -> Self {
        Self { time_slice: Some(time_slice), ..Self::default() }
    }

    /// Mark `thread` as having a fatal signal pending and wake it.
    pub fn send_fatal_signal(&self, thread: &Thread) {
        let waiter = {
            let mut t = self.lock();
            t.killed.push(thread.id());
            Self::waiter_of(&mut t, thread)
        };
        self.wake(&waiter);
    }

    fn lock(&self) -> loom::sync::MutexGuard<'_, Threads> {
        self.threads.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn waiter_of(t: &mut Threads, thread: &Thread) -> Arc<LoomWaiter> {
        let id = thread.id();
        if let Some((_, w)) = t.waiters.iter().find(|(i, _)| *i == id) {
            return w.clone();
        }
        let w = Arc::new(LoomWaiter { state: Mutex::new(WaiterState::default()), wakeup: Condvar::new() });
        t.waiters.push((id, w.clone()));
        w
    }
}

impl RwSemBackend for LoomBackend {
    type Waiter = Arc<LoomWaiter>;

    fn current_waiter(&self) -> Arc<LoomWaiter> {
        Self::waiter_of(&mut self.lock(), &thread::current())
    }

    fn park(&self, me: &Arc<LoomWaiter>, _state: TaskState) {
        let mut st = me.state.lock().unwrap_or_else(|e| e.into_inner());
        while !st.permit {
            st.parked = true;
            st = me.wakeup.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.parked = false;
        st.permit = false;
        RESCHED_POLLS.with(|n| n.set(0));
    }

    fn wake(&self, waiter: &Arc<LoomWaiter>) {
        waiter.state.lock().unwrap_or_else(|e| e.into_inner()).permit = true;
        waiter.wakeup.notify_one();
    }

    fn fatal_signal_pending(&self) -> bool {
        let me = thread::current().id();
        self.lock().killed.contains(&me)
    }

    fn now_ns(&self) -> u64 {
        0
    }

    fn cpu_relax(&self) {
        // A spinning model thread must let the others run.
        thread::yield_now();
    }

    fn can_spin(&self) -> bool {
        self.time_slice.is_some()
    }

    fn owner_on_cpu(&self, owner: &Arc<LoomWaiter>) -> bool {
        !owner.state.lock().unwrap_or_else(|e| e.into_inner()).parked
    }

    fn need_resched(&self) -> bool {
        let slice = self.time_slice.unwrap_or(0);
        RESCHED_POLLS.with(|n| {
            n.set(n.get() + 1);
            n.get() > slice
        })
    }

    fn spin_limit_ns(&self) -> u64 {
        u64::MAX
    }
}
