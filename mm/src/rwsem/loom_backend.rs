//! The loom backend (`cfg(loom)` only): loom threads park and unpark, and
//! "fatal signals" are a per-thread flag, so that models explore every
//! interleaving of grants, wake-ups and cancellations.

use super::{RwSemBackend, TaskState};
use alloc::sync::Arc;
use alloc::vec::Vec;
use loom::sync::Mutex;
use loom::thread::{self, Thread, ThreadId};

/// [`RwSemBackend`] on loom threads. The clock always reads 0.
#[derive(Clone, Debug, Default)]
pub struct LoomBackend {
    killed: Arc<Mutex<Vec<ThreadId>>>,
}

impl LoomBackend {
    /// A backend with no signals pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mark `thread` as having a fatal signal pending and wake it.
    pub fn send_fatal_signal(&self, thread: &Thread) {
        self.killed.lock().unwrap_or_else(|e| e.into_inner()).push(thread.id());
        thread.unpark();
    }
}

impl RwSemBackend for LoomBackend {
    type Waiter = Thread;

    fn current_waiter(&self) -> Thread {
        thread::current()
    }

    fn park(&self, _me: &Thread, _state: TaskState) {
        thread::park();
    }

    fn wake(&self, waiter: &Thread) {
        waiter.unpark();
    }

    fn fatal_signal_pending(&self) -> bool {
        let me = thread::current().id();
        self.killed.lock().unwrap_or_else(|e| e.into_inner()).contains(&me)
    }

    fn now_ns(&self) -> u64 {
        0
    }
}
