//! Spinlocks held with interrupts disabled (Linux `spin_lock_irqsave`),
//! for the mm locks that are not generic over an [`RwSemBackend`]: the
//! lruvec lock, the swap device list and slot maps, the zram table.
//!
//! They are taken under an mm's inner lock (a fault adding a page to the
//! LRU, a zap giving a swap slot back) as well as outside it (reclaim,
//! kswapd). The inner lock is held with interrupts disabled; if a thread
//! holding one of these locks could be preempted, a thread on the same
//! CPU spinning for it under an inner lock would never let it run again.
//! So these locks too are held with interrupts off, through the hooks the
//! kernel installs at boot ([`set_irq_ops`]); on the host, without hooks,
//! they are plain spinlocks. A waiter spins with interrupts as they were,
//! as [`RwSemBackend`]'s `lock_irqsave` does, so that it still answers
//! TLB shootdown requests.
//!
//! Locking: what a holder must not do is block or take a lock that is
//! not below it in the documented order (these are leaves, taken last).
//!
//! [`RwSemBackend`]: crate::rwsem::RwSemBackend

use core::ops::{Deref, DerefMut};

/// How to disable and restore interrupts (Linux `local_irq_save` /
/// `local_irq_restore`).
#[derive(Clone, Copy)]
pub struct IrqOps {
    /// Disable interrupts; return whether they were enabled.
    pub save: fn() -> bool,
    /// Restore what [`save`](Self::save) returned.
    pub restore: fn(bool),
}

static OPS: spin::Once<IrqOps> = spin::Once::new();

/// Install the kernel's interrupt operations (once, at boot).
pub fn set_irq_ops(ops: IrqOps) {
    OPS.call_once(|| ops);
}

fn save() -> bool {
    OPS.get().is_some_and(|o| (o.save)())
}

fn restore(were_enabled: bool) {
    if let Some(o) = OPS.get() {
        (o.restore)(were_enabled);
    }
}

/// A spinlock held with interrupts disabled.
#[derive(Debug, Default)]
pub struct IrqSpinLock<T> {
    lock: spin::Mutex<T>,
}

/// The lock held; interrupts restored when it goes (fields drop in
/// order: the lock first, then the interrupt state).
pub struct IrqSpinGuard<'a, T> {
    guard: spin::MutexGuard<'a, T>,
    _irqs: IrqsRestored,
}

/// Restores the interrupt state [`save`] returned, when dropped.
struct IrqsRestored(bool);

impl Drop for IrqsRestored {
    fn drop(&mut self) {
        restore(self.0);
    }
}

impl<T> IrqSpinLock<T> {
    pub const fn new(value: T) -> Self {
        IrqSpinLock { lock: spin::Mutex::new(value) }
    }

    /// Take the lock, interrupts disabled while it is held.
    pub fn lock(&self) -> IrqSpinGuard<'_, T> {
        loop {
            let were_enabled = save();
            if let Some(guard) = self.lock.try_lock() {
                return IrqSpinGuard { guard, _irqs: IrqsRestored(were_enabled) };
            }
            restore(were_enabled);
            while self.lock.is_locked() {
                core::hint::spin_loop();
            }
        }
    }

    /// Take the lock if it is free, interrupts disabled while it is held.
    pub fn try_lock(&self) -> Option<IrqSpinGuard<'_, T>> {
        let were_enabled = save();
        match self.lock.try_lock() {
            Some(guard) => Some(IrqSpinGuard { guard, _irqs: IrqsRestored(were_enabled) }),
            None => {
                restore(were_enabled);
                None
            }
        }
    }

    /// The value, through exclusive access (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.lock.get_mut()
    }
}

impl<T> Deref for IrqSpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> DerefMut for IrqSpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}
