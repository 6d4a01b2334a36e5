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

use super::{RwSemBackend, TaskState};
use alloc::sync::Arc;
use alloc::vec::Vec;
use loom::sync::{Condvar, Mutex};
use loom::thread::{self, Thread, ThreadId};

/// A loom thread's wake-up permit and the condition variable it sleeps on.
#[derive(Debug)]
pub struct LoomWaiter {
    permit: Mutex<bool>,
    wakeup: Condvar,
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
        let w = Arc::new(LoomWaiter { permit: Mutex::new(false), wakeup: Condvar::new() });
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
        let mut permit = me.permit.lock().unwrap_or_else(|e| e.into_inner());
        while !*permit {
            permit = me.wakeup.wait(permit).unwrap_or_else(|e| e.into_inner());
        }
        *permit = false;
    }

    fn wake(&self, waiter: &Arc<LoomWaiter>) {
        *waiter.permit.lock().unwrap_or_else(|e| e.into_inner()) = true;
        waiter.wakeup.notify_one();
    }

    fn fatal_signal_pending(&self) -> bool {
        let me = thread::current().id();
        self.lock().killed.contains(&me)
    }

    fn now_ns(&self) -> u64 {
        0
    }
}
