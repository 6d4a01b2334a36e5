//! The host backend: std threads park and unpark; "fatal signals" are a
//! per-thread flag that tests set. Only with `cfg(test)` or feature `std`.

extern crate std;

use super::{RwSemBackend, TaskState};
use alloc::sync::Arc;
use std::collections::HashSet;
use std::sync::Mutex;
use std::thread::{self, Thread, ThreadId};
use std::time::Instant;

/// [`RwSemBackend`] on std threads. Clones share one signal table and one
/// clock, so a test can keep a clone to send signals with.
#[derive(Clone, Debug)]
pub struct StdBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    epoch: Instant,
    /// Threads with a "fatal signal" pending.
    killed: Mutex<HashSet<ThreadId>>,
}

impl Default for StdBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl StdBackend {
    /// A backend whose clock starts now and with no signals pending.
    pub fn new() -> Self {
        Self { inner: Arc::new(Inner { epoch: Instant::now(), killed: Mutex::new(HashSet::new()) }) }
    }

    /// Mark `thread` as having a fatal signal pending and wake it, as the
    /// kernel does for a `TASK_KILLABLE` sleeper.
    pub fn send_fatal_signal(&self, thread: &Thread) {
        self.killed().insert(thread.id());
        thread.unpark();
    }

    /// Forget the calling thread's pending fatal signal (a test's stand-in
    /// for the thread having died and been replaced).
    pub fn clear_fatal_signal(&self) {
        self.killed().remove(&thread::current().id());
    }

    fn killed(&self) -> std::sync::MutexGuard<'_, HashSet<ThreadId>> {
        self.inner.killed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RwSemBackend for StdBackend {
    type Waiter = Thread;

    fn current_waiter(&self) -> Thread {
        thread::current()
    }

    fn park(&self, _me: &Thread, _state: TaskState) {
        // unpark-before-park leaves a permit: no lost wake-up.
        thread::park();
    }

    fn wake(&self, waiter: &Thread) {
        waiter.unpark();
    }

    fn fatal_signal_pending(&self) -> bool {
        self.killed().contains(&thread::current().id())
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn cpu_relax(&self) {
        // Host threads outnumber cores in the tests: let the holder run.
        thread::yield_now();
    }
}
