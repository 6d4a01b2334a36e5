//! Wait queues: threads sleeping until a condition becomes true.
//!
//! `wait_event(cond)` re-checks `cond` after every wake-up, so spurious
//! wake-ups are harmless. Locking: the queue is a spin mutex taken with
//! interrupts disabled; the condition is checked after enqueueing, which
//! with [`super::block_current`]'s pending-wake flag rules out lost wake-ups.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

use super::Thread;

/// Why a killable wait ended early.
#[derive(Debug, PartialEq, Eq)]
pub struct Interrupted;

/// A queue of sleeping threads.
pub struct WaitQueue {
    q: Mutex<VecDeque<Arc<Thread>>>,
}

impl WaitQueue {
    pub const fn new() -> WaitQueue {
        WaitQueue { q: Mutex::new(VecDeque::new()) }
    }

    fn remove(&self, me: &Arc<Thread>) {
        without_interrupts(|| self.q.lock().retain(|t| !Arc::ptr_eq(t, me)));
    }

    /// Sleep until `cond()` holds; returns `Err(Interrupted)` if a fatal
    /// signal arrives first.
    pub fn wait_event_killable(&self, mut cond: impl FnMut() -> bool) -> Result<(), Interrupted> {
        let me = super::current();
        loop {
            without_interrupts(|| self.q.lock().push_back(me.clone()));
            if cond() {
                self.remove(&me);
                return Ok(());
            }
            if me.fatal_signal_pending() {
                self.remove(&me);
                return Err(Interrupted);
            }
            super::block_current();
            self.remove(&me);
        }
    }

    /// Wake every sleeper (each re-checks its condition).
    pub fn wake_all(&self) {
        let all: VecDeque<Arc<Thread>> = without_interrupts(|| core::mem::take(&mut *self.q.lock()));
        for t in &all {
            super::wake(t);
        }
    }

    /// Wake the first sleeper.
    pub fn wake_one(&self) {
        if let Some(t) = without_interrupts(|| self.q.lock().pop_front()) {
            super::wake(&t);
        }
    }

    /// Is anyone waiting?
    pub fn is_empty(&self) -> bool {
        without_interrupts(|| self.q.lock().is_empty())
    }
}
