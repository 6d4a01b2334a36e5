//! `IrqMutex`: a spin lock that disables interrupts while held.
//!
//! On one CPU with a preemptive scheduler, a plain spin lock held by a
//! preempted thread would make the next taker spin forever; disabling
//! interrupts for the (short) critical section rules that out. Never sleep
//! while holding one.

use core::ops::{Deref, DerefMut};

/// A spin mutex whose guard keeps interrupts disabled.
pub struct IrqMutex<T> {
    inner: spin::Mutex<T>,
}

/// Guard of an [`IrqMutex`]; re-enables interrupts (if they were enabled)
/// when dropped.
pub struct IrqMutexGuard<'a, T> {
    guard: Option<spin::MutexGuard<'a, T>>,
    were_enabled: bool,
}

impl<T> IrqMutex<T> {
    pub const fn new(value: T) -> Self {
        IrqMutex { inner: spin::Mutex::new(value) }
    }

    pub fn lock(&self) -> IrqMutexGuard<'_, T> {
        let were_enabled = x86_64::instructions::interrupts::are_enabled();
        x86_64::instructions::interrupts::disable();
        IrqMutexGuard { guard: Some(self.inner.lock()), were_enabled }
    }
}

impl<T> Deref for IrqMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.guard.as_ref().unwrap()
    }
}

impl<T> DerefMut for IrqMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.guard.as_mut().unwrap()
    }
}

impl<T> Drop for IrqMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.guard.take();
        if self.were_enabled {
            x86_64::instructions::interrupts::enable();
        }
    }
}
