//! RAII guards: the lock is released when the guard is dropped.

use super::{RwSem, RwSemBackend};

/// A read hold on an [`RwSem`]; `up_read` on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwSemReadGuard<'a, B: RwSemBackend> {
    sem: &'a RwSem<B>,
}

/// The write hold on an [`RwSem`]; `up_write` on drop.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct RwSemWriteGuard<'a, B: RwSemBackend> {
    sem: &'a RwSem<B>,
}

impl<'a, B: RwSemBackend> RwSemReadGuard<'a, B> {
    /// Locking: `sem` held for read by the caller; the guard takes over.
    pub(super) fn new(sem: &'a RwSem<B>) -> Self {
        Self { sem }
    }

    /// The rwsem this guard holds.
    pub fn rwsem(&self) -> &'a RwSem<B> {
        self.sem
    }
}

impl<'a, B: RwSemBackend> RwSemWriteGuard<'a, B> {
    /// Locking: `sem` held for write by the caller; the guard takes over.
    pub(super) fn new(sem: &'a RwSem<B>) -> Self {
        Self { sem }
    }

    /// The rwsem this guard holds.
    pub fn rwsem(&self) -> &'a RwSem<B> {
        self.sem
    }

    /// [`RwSem::downgrade_write`]: keep holding the lock, for read, with no
    /// writer able to get in between.
    pub fn downgrade(self) -> RwSemReadGuard<'a, B> {
        let sem = self.sem;
        // The write hold becomes the read hold: skip our `up_write`.
        core::mem::forget(self);
        sem.downgrade_write();
        RwSemReadGuard::new(sem)
    }
}

impl<B: RwSemBackend> Drop for RwSemReadGuard<'_, B> {
    fn drop(&mut self) {
        self.sem.up_read();
    }
}

impl<B: RwSemBackend> Drop for RwSemWriteGuard<'_, B> {
    fn drop(&mut self) {
        self.sem.up_write();
    }
}
