//! A futex-based mutex (Drepper, "Futexes Are Tricky", mutex #2).
//!
//! State word: 0 = unlocked, 1 = locked with no waiters, 2 = locked and
//! someone may be sleeping in `futex(FUTEX_WAIT_PRIVATE)`. Unlock wakes one
//! waiter only when the state was 2, so the uncontended path makes no system
//! call at all.

use crate::sys::{futex_wait, futex_wake, Errno, Timespec};
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicU32, Ordering};

pub struct Mutex<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the mutex hands out access to `T` to one thread at a time.
unsafe impl<T: Send> Sync for Mutex<T> {}
// SAFETY: moving the mutex moves the `T` it owns.
unsafe impl<T: Send> Send for Mutex<T> {}

impl<T> Mutex<T> {
    pub const fn new(value: T) -> Self {
        Mutex { state: AtomicU32::new(0), value: UnsafeCell::new(value) }
    }

    pub fn lock(&self) -> MutexGuard<'_, T> {
        if self.state.compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            // Contended: mark "waiters possible" and sleep until we take it.
            while self.state.swap(2, Ordering::Acquire) != 0 {
                let _ = futex_wait(&self.state, 2, None, true);
            }
        }
        MutexGuard { mutex: self }
    }

    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.mutex.value.get() }
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &mut *self.mutex.value.get() }
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        if self.mutex.state.swap(0, Ordering::Release) == 2 {
            let _ = futex_wake(&self.mutex.state, 1, true);
        }
    }
}

/// Wait on `word` while it equals `val`, for at most `timeout_ns`.
/// Returns `Err(ETIMEDOUT)` on timeout, `Err(EAGAIN)` if the value differed.
pub fn wait_timeout(word: &AtomicU32, val: u32, timeout_ns: u64) -> Result<(), Errno> {
    futex_wait(word, val, Some(&Timespec::from_ns(timeout_ns)), true)
}
