//! Lock-order checking: Linux's lockdep, reduced to the one order the mm
//! code documents.
//!
//! Every lock the mm code takes belongs to a [`LockClass`], and the classes
//! are ordered: a thread may take a lock only while it holds nothing of its
//! own class or of a later one:
//!
//! ```text
//! mmap_lock  >  rmap lock  >  page-table lock (an mm's inner lock)  >  frame allocator
//! ```
//!
//! The rmap lock is an anon_vma's or a shmem object's list of the address
//! spaces that may map its pages ([`crate::rmap`]): an rmap walk holds it
//! while it takes each of those mms' page-table locks in turn, never with
//! their `mmap_lock` (Linux's `anon_vma` lock and `i_mmap_rwsem`).
//!
//! (Frame metadata, between the page-table lock and the frame allocator in
//! the documented order, is atomics and takes no lock. The leaf spinlocks
//! at that level — the lruvec lock, the swap device list and slot maps,
//! zram's table — are held with interrupts off and take nothing under
//! them ([`crate::irqlock`]); they are not tracked here.) Taking a lock out of
//! order is a bug even when it does not deadlock this time: the checker
//! reports it at the acquisition that breaks the order, before the thread
//! can block on it, with both classes named.
//!
//! A thread's held classes are a [`HeldLocks`] set that the rwsem backend
//! keeps per thread ([`RwSemBackend::lock_acquire`] and
//! [`RwSemBackend::lock_release`]); the kernel checks while
//! `mm.check_invariants` is on and in its test build, the host backend
//! always. Holding two locks of one class (two mms' mmap locks, a
//! recursive read of one) is a violation too: nothing in Holdfast nests
//! them.
//!
//! [`RwSemBackend::lock_acquire`]: crate::rwsem::RwSemBackend::lock_acquire
//! [`RwSemBackend::lock_release`]: crate::rwsem::RwSemBackend::lock_release
//!
//! Locking: none; a [`HeldLocks`] belongs to one thread.

use core::fmt;

/// A class of locks, in the order they must be taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockClass {
    /// An mm's `mmap_lock`.
    MmapLock,
    /// An anon_vma's or a shmem object's rmap list ([`crate::rmap`]).
    Rmap,
    /// An mm's inner lock (Holdfast's page-table lock).
    PageTable,
    /// The frame allocator's lock.
    FrameAllocator,
}

impl LockClass {
    /// Every class, in order.
    pub const ALL: [LockClass; 4] = [LockClass::MmapLock, LockClass::Rmap, LockClass::PageTable, LockClass::FrameAllocator];

    /// The name used in reports.
    pub const fn name(self) -> &'static str {
        match self {
            LockClass::MmapLock => "mmap_lock",
            LockClass::Rmap => "rmap lock",
            LockClass::PageTable => "page-table lock",
            LockClass::FrameAllocator => "frame allocator",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Taking `taking` while holding `held`, which must be taken after it (or
/// is the same class).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockOrderViolation {
    pub taking: LockClass,
    pub held: LockClass,
}

impl fmt::Display for LockOrderViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lock order violation: taking the {} while holding the {} (order: mmap_lock > rmap lock > page-table lock > frame allocator)",
            self.taking.name(),
            self.held.name()
        )
    }
}

/// The lock classes one thread holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HeldLocks(u8);

impl HeldLocks {
    /// Nothing held.
    pub const fn new() -> Self {
        HeldLocks(0)
    }

    /// Record that `class` is being taken; refuse (recording nothing) if a
    /// lock of that class or a later one is held.
    pub fn acquire(&mut self, class: LockClass) -> Result<(), LockOrderViolation> {
        if let Some(&held) = LockClass::ALL.iter().find(|&&c| c >= class && self.0 & c.bit() != 0) {
            return Err(LockOrderViolation { taking: class, held });
        }
        self.0 |= class.bit();
        Ok(())
    }

    /// Record that the lock of `class` was released (or not taken after
    /// all).
    pub fn release(&mut self, class: LockClass) {
        self.0 &= !class.bit();
    }

    /// Whether a lock of `class` is held.
    pub fn holds(&self, class: LockClass) -> bool {
        self.0 & class.bit() != 0
    }

    /// The set as bits, for storing it in an atomic.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// A set from [`bits`](Self::bits).
    pub const fn from_bits(bits: u8) -> Self {
        HeldLocks(bits)
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_is_fine_and_release_forgets() {
        let mut h = HeldLocks::default();
        h.acquire(LockClass::MmapLock).unwrap();
        h.acquire(LockClass::PageTable).unwrap();
        h.acquire(LockClass::FrameAllocator).unwrap();
        h.release(LockClass::FrameAllocator);
        h.release(LockClass::PageTable);
        assert!(h.holds(LockClass::MmapLock) && !h.holds(LockClass::PageTable));
        h.acquire(LockClass::FrameAllocator).unwrap(); // skipping a class is fine
        h.release(LockClass::FrameAllocator);
        h.release(LockClass::MmapLock);
        assert!(h.is_empty());
    }

    #[test]
    fn out_of_order_and_same_class_are_violations() {
        let mut h = HeldLocks::default();
        h.acquire(LockClass::PageTable).unwrap();
        let v = h.acquire(LockClass::MmapLock).unwrap_err();
        assert_eq!(v, LockOrderViolation { taking: LockClass::MmapLock, held: LockClass::PageTable });
        assert!(v.to_string().contains("taking the mmap_lock while holding the page-table lock"), "{v}");
        assert!(!h.holds(LockClass::MmapLock), "a refused acquisition is not recorded");
        assert_eq!(h.acquire(LockClass::PageTable).unwrap_err().held, LockClass::PageTable);
        h.acquire(LockClass::FrameAllocator).unwrap();
        assert_eq!(h.acquire(LockClass::PageTable).unwrap_err().held, LockClass::PageTable);
    }
}
