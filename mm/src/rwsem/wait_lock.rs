//! The rwsem's internal `wait_lock`: a spinlock around its whole state.
//!
//! Outside loom this is `spin::Mutex` (a test-and-set spinlock; its one
//! `unsafe` lives in the `spin` crate), held with interrupts disabled and
//! acquired with the backend's `cpu_relax` between attempts
//! ([`lock_irqsave`](super::backend::lock_irqsave)). Under `cfg(loom)` it is `loom::sync::Mutex`,
//! so that loom can explore every interleaving of the critical sections.
//! Critical sections are a few dozen instructions and never call the
//! backend's blocking methods.

#[cfg(not(loom))]
use super::backend::lock_irqsave;
use super::backend::{IrqsSaved, RwSemBackend};

#[cfg(not(loom))]
pub(super) use spin::MutexGuard as WaitLockGuard;

#[cfg(loom)]
pub(super) use loom::sync::MutexGuard as WaitLockGuard;

/// A spinlock protecting `T`.
pub(super) struct WaitLock<T> {
    #[cfg(not(loom))]
    inner: spin::Mutex<T>,
    #[cfg(loom)]
    inner: loom::sync::Mutex<T>,
}

impl<T> WaitLock<T> {
    pub(super) fn new(value: T) -> Self {
        #[cfg(not(loom))]
        let inner = spin::Mutex::new(value);
        #[cfg(loom)]
        let inner = loom::sync::Mutex::new(value);
        Self { inner }
    }

    /// Spin until the lock is ours (see the module doc); drop the guard
    /// before the saved interrupt state.
    #[cfg(not(loom))]
    pub(super) fn lock<'a, B: RwSemBackend>(&'a self, backend: &'a B) -> (WaitLockGuard<'a, T>, IrqsSaved<'a, B>) {
        lock_irqsave(&self.inner, backend)
    }

    /// Loom's mutex blocks the model thread instead of spinning.
    #[cfg(loom)]
    pub(super) fn lock<'a, B: RwSemBackend>(&'a self, backend: &'a B) -> (WaitLockGuard<'a, T>, IrqsSaved<'a, B>) {
        let irqs = IrqsSaved::save(backend);
        // Poisoning only happens after a panic, which already fails the model.
        (self.inner.lock().unwrap_or_else(|e| e.into_inner()), irqs)
    }
}
