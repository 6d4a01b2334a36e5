//! File seals on a shmem object (Linux `mm/memfd.c`: `memfd_add_seals`,
//! `memfd_get_seals`, `mapping_deny_writable`; `mm/shmem.c` and
//! `mm/memfd.c`'s `memfd_check_seals_mmap` for their effect on mappings).
//!
//! A seal is a bit that, once set, stays: `F_SEAL_SEAL` (no more seals),
//! `F_SEAL_SHRINK`, `F_SEAL_GROW`, `F_SEAL_WRITE`, `F_SEAL_FUTURE_WRITE`,
//! `F_SEAL_EXEC`. An object starts with `F_SEAL_SEAL` (Linux's
//! `shmem_get_inode` gives every tmpfs file that); `memfd_create` lifts
//! it ([`Shmem::init_seals`]). The file system enforces the size and write
//! seals on `write` and `ftruncate`; mappings enforce the write seals here.
//!
//! Invariants:
//! - [`Shmem::mapping_writable`] (Linux `i_mmap_writable`) is the number
//!   of vmas in vma trees that hold the object with `VM_SHARED` and
//!   `VM_MAYWRITE`: the vma tree counts them where it counts mappers
//!   (insert, remove, split, and a flag change that adds or drops one of
//!   the two), so splits, merges, mremap, fork and munmap keep it right;
//! - while the object has `F_SEAL_WRITE` that number is 0: the seal is
//!   refused (`EBUSY`) unless it is 0, and after it a new shared mapping
//!   gets no `VM_MAYWRITE` ([`Shmem::mmap_seal_flags`]). Every other vma
//!   that can join a tree (split piece, fork copy, mremap target) copies a
//!   vma already counted, so the number cannot rise from 0.
//!
//! Locking: the seals live behind the object's seal lock. A new mapping
//! holds it from its seal check until its vma is in the tree
//! ([`Shmem::seals_lock`]), and adding seals holds it over the count check
//! and the change, so the two exclude each other. The seal lock is taken
//! inside an mm's inner lock and inside the file's locks, and takes only
//! the owner's hook lock (through the tree's mapper count) inside it.

use core::sync::atomic::Ordering;

use super::Shmem;
use crate::errno::Errno;
use crate::vma::VmFlags;

pub const F_SEAL_SEAL: u32 = 0x1;
pub const F_SEAL_SHRINK: u32 = 0x2;
pub const F_SEAL_GROW: u32 = 0x4;
pub const F_SEAL_WRITE: u32 = 0x8;
pub const F_SEAL_FUTURE_WRITE: u32 = 0x10;
pub const F_SEAL_EXEC: u32 = 0x20;
/// Every seal Linux knows.
pub const F_ALL_SEALS: u32 = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;

/// Linux `is_shared_maywrite`: does a vma with `flags` count in
/// [`Shmem::mapping_writable`]?
pub fn is_shared_maywrite(flags: VmFlags) -> bool {
    flags.contains(VmFlags::SHARED | VmFlags::MAYWRITE)
}

impl Shmem {
    /// The seals (Linux `memfd_get_seals`).
    pub fn seals(&self) -> u32 {
        *self.seals.lock()
    }

    /// Set the seals of an object no one else can reach yet (a new
    /// memfd's: without `F_SEAL_SEAL` it can be sealed).
    pub fn init_seals(&self, seals: u32) {
        *self.seals.lock() = seals;
    }

    /// Linux `memfd_add_seals` once the caller checked the descriptor is
    /// open for writing and `seals` has no unknown bit: add `seals`.
    /// `F_SEAL_EXEC` on a file with an exec bit (`exec_mode`) adds the
    /// write, shrink and grow seals too.
    ///
    /// Errors: `EPERM` the object has `F_SEAL_SEAL`; `EBUSY` `F_SEAL_WRITE`
    /// is new and a shared writable mapping of the object exists. Nothing
    /// is added on error.
    ///
    /// Locking: takes the seal lock; the caller holds the file's locks
    /// that its writes and size changes check the seals under.
    pub fn add_seals(&self, seals: u32, exec_mode: bool) -> Result<(), Errno> {
        debug_assert_eq!(seals & !F_ALL_SEALS, 0);
        let mut cur = self.seals.lock();
        if *cur & F_SEAL_SEAL != 0 {
            return Err(Errno::EPERM);
        }
        let mut seals = seals;
        if seals & F_SEAL_EXEC != 0 && exec_mode {
            seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
        }
        // Linux `mapping_deny_writable`: no shared writable mapping may
        // exist, and none can be made while the lock is held.
        if seals & F_SEAL_WRITE != 0 && *cur & F_SEAL_WRITE == 0 && self.mapping_writable() > 0 {
            return Err(Errno::EBUSY);
        }
        *cur |= seals;
        Ok(())
    }

    /// The seal lock, held by a new mapping of the object from
    /// [`Shmem::mmap_seal_flags`] until its vma is in its tree.
    pub(crate) fn seals_lock(&self) -> spin::MutexGuard<'_, u32> {
        self.seals.lock()
    }

    /// Linux `memfd_check_seals_mmap` for a new mapping with `vm_flags`
    /// under the seals `seals` (held with [`Shmem::seals_lock`]): a shared
    /// mapping of an object sealed against writes may not be writable
    /// (`EPERM`) and never becomes so (its flags lose `VM_MAYWRITE`).
    pub(crate) fn mmap_seal_flags(seals: u32, vm_flags: VmFlags) -> Result<VmFlags, Errno> {
        if seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) == 0 || !vm_flags.contains(VmFlags::SHARED) {
            return Ok(vm_flags);
        }
        if vm_flags.contains(VmFlags::WRITE) {
            return Err(Errno::EPERM);
        }
        Ok(vm_flags - VmFlags::MAYWRITE)
    }

    /// Linux `i_mmap_writable`: the vmas in vma trees holding the object
    /// with `VM_SHARED | VM_MAYWRITE`.
    pub fn mapping_writable(&self) -> usize {
        self.i_mmap_writable.load(Ordering::SeqCst)
    }

    /// A vma with `flags` holding the object went into a tree, or its
    /// flags changed to `flags` in one: count it if it is shared and may
    /// write (Linux `mapping_map_writable`).
    pub(crate) fn mapping_map_writable(&self, flags: VmFlags) {
        if is_shared_maywrite(flags) {
            self.i_mmap_writable.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The other way (Linux `mapping_unmap_writable`).
    pub(crate) fn mapping_unmap_writable(&self, flags: VmFlags) {
        if is_shared_maywrite(flags) {
            let old = self.i_mmap_writable.fetch_sub(1, Ordering::SeqCst);
            debug_assert!(old > 0, "i_mmap_writable underflow");
        }
    }
}
