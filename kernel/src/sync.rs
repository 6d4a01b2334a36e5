//! `IrqMutex`: a spin lock that disables interrupts while held, and the
//! rule for every spin with interrupts disabled.
//!
//! With a preemptive scheduler, a plain spin lock held by a preempted
//! thread would make the next taker on its CPU spin forever; disabling
//! interrupts for the (short) critical section rules that out. Never sleep
//! while holding one.
//!
//! A CPU spinning with interrupts disabled cannot take the IPIs other CPUs
//! may be waiting on (a TLB shootdown waits for every target's
//! acknowledgement). So every such spin calls [`spin_irqs_off`], which
//! runs the hook `main` registers ([`set_irqs_off_spin_hook`]: answer
//! pending shootdown requests) between attempts. [`lock_irqs_off`] is the
//! way to take a plain `spin::Mutex` with interrupts already disabled.

use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicPtr, Ordering};

/// See [`set_irqs_off_spin_hook`].
static SPIN_HOOK: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Register what a CPU does while it spins with interrupts disabled (once,
/// at boot, before a second CPU starts).
pub fn set_irqs_off_spin_hook(hook: fn()) {
    SPIN_HOOK.store(hook as *mut (), Ordering::Release);
}

/// One step of a spin with interrupts disabled: run the hook, then pause.
pub fn spin_irqs_off() {
    let hook = SPIN_HOOK.load(Ordering::Acquire);
    if !hook.is_null() {
        // SAFETY: the pointer was stored from a `fn()` by
        // set_irqs_off_spin_hook and is never anything else.
        let hook: fn() = unsafe { core::mem::transmute::<*mut (), fn()>(hook) };
        hook();
    }
    core::hint::spin_loop();
}

/// Take `m`, interrupts already disabled, answering other CPUs' requests
/// while it is busy ([`spin_irqs_off`]).
pub fn lock_irqs_off<T>(m: &spin::Mutex<T>) -> spin::MutexGuard<'_, T> {
    loop {
        if let Some(g) = m.try_lock() {
            return g;
        }
        while m.is_locked() {
            spin_irqs_off();
        }
    }
}

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
        IrqMutexGuard { guard: Some(lock_irqs_off(&self.inner)), were_enabled }
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
