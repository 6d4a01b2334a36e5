//! The loom backend (`cfg(loom)` only): loom threads park and unpark, and
//! "fatal signals" are a per-thread flag, so that models explore every
//! interleaving of grants, wake-ups and cancellations.
//!
//! Each thread gets a [`LoomWaiter`] with an explicit wake-up permit. Loom's
//! own `unpark` is not enough for the backend contract: when the target is
//! blocked on a loom `Mutex` (e.g. our `wait_lock`) at that moment, loom
//! makes it runnable and forgets the unpark, so a later `park` would sleep
//! through it. The permit keeps it, as `std::thread::unpark` and the
//! kernel's wake-up do.

use super::{RwSemBackend, TaskState};
use alloc::sync::Arc;
use alloc::vec::Vec;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Mutex;
use loom::thread::{self, Thread, ThreadId};

/// A loom thread and its wake-up permit.
#[derive(Debug)]
pub struct LoomWaiter {
    thread: Thread,
    permit: AtomicBool,
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
}

impl LoomBackend {
    /// A backend with no signals pending.
    pub fn new() -> Self {
        Self::default()
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
        let w = Arc::new(LoomWaiter { thread: thread.clone(), permit: AtomicBool::new(false) });
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
        if !me.permit.swap(false, Ordering::AcqRel) {
            thread::park();
            me.permit.store(false, Ordering::Release);
        }
    }

    fn wake(&self, waiter: &Arc<LoomWaiter>) {
        waiter.permit.store(true, Ordering::Release);
        waiter.thread.unpark();
    }

    fn fatal_signal_pending(&self) -> bool {
        let me = thread::current().id();
        self.lock().killed.contains(&me)
    }

    fn now_ns(&self) -> u64 {
        0
    }
}
