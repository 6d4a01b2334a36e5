//! Stack growth: a fault just below a `VM_GROWSDOWN` vma extends it down
//! (Linux `lock_mm_and_find_vma` + `expand_stack_locked` /
//! `expand_downwards` + `acct_stack_growth`).
//!
//! The user fault path runs [`MmStruct::handle_user_mm_fault`]: the vma is
//! looked up under `mmap_lock` for read; when the address lies in no vma
//! but below a `VM_GROWSDOWN` one, the read lock is dropped and the write
//! lock taken (an rwsem cannot be upgraded), the lookup is repeated, the
//! vma is extended down to the faulting page, and the write lock is
//! *downgraded* so that the fault itself completes as a reader, as Linux
//! 6.5+ does.
//!
//! Growth is refused (the fault fails: `SIGSEGV` for a user access,
//! `EFAULT` for a kernel copy) when the new page is below `mmap_min_addr`;
//! when an accessible vma that does not grow down lies within
//! [`STACK_GUARD_GAP`] below it; when the stack would exceed
//! `RLIMIT_STACK`; or, for a `VM_LOCKED` stack, when the new pages would
//! exceed `RLIMIT_MEMLOCK` without `CAP_IPC_LOCK`. `total_vm` (and
//! `locked_vm` for a locked stack) grow with the vma; the pages are
//! faulted in one by one as usual (and mlocked as they are, in a locked
//! stack).
//!
//! Locking: `mmap_lock` for write, then the inner lock, around the change
//! of the vma; never with the inner lock held on entry.

use crate::addr::{page_align_down, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE};
use crate::fault::{FaultAccess, FaultError, FaultOrigin};
use crate::mm_struct::{MlockCreds, MmInner, MmStruct, MmapLocked, MmapWriteLocked, MMAP_MIN_ADDR};
use crate::mmap::mlock_future_ok;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::vma::VmFlags;

/// Linux's default `stack_guard_gap`: 256 pages.
pub const STACK_GUARD_GAP: u64 = 256 * PAGE_SIZE;

/// What a fault needs to know about the faulting task to grow a stack.
#[derive(Clone, Copy, Debug)]
pub struct StackLimits {
    /// `RLIMIT_STACK` (soft), bytes.
    pub stack: u64,
    /// `RLIMIT_MEMLOCK` and `CAP_IPC_LOCK`, for a locked stack.
    pub mlock: MlockCreds,
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// A fault from the user (or from a kernel copy on the user's behalf)
    /// at `addr`, with stack growth: see the module doc.
    ///
    /// Locking: no lock of this mm held by the caller.
    pub fn handle_user_mm_fault(
        &self,
        addr: u64,
        access: FaultAccess,
        origin: FaultOrigin,
        limits: &StackLimits,
    ) -> Result<(), FaultError> {
        if addr >= TASK_SIZE {
            return Err(FaultError::NoVma);
        }
        let read = self.mmap_lock.read_killable().map_err(|_| FaultError::Interrupted)?;
        if !self.below_growsdown_vma(self.mmap_read_locked(&read), addr) {
            return self.handle_mm_fault_locked(self.mmap_read_locked(&read), addr, access, origin);
        }
        // No upgrade from read to write: drop, retake, and look again.
        drop(read);
        let write = self.mmap_lock.write_killable().map_err(|_| FaultError::Interrupted)?;
        {
            let locked = self.mmap_write_locked(&write);
            let mut g = self.lock_inner();
            expand_stack_locked(&locked, &mut g, addr, limits)?;
        }
        let read = write.downgrade();
        self.handle_mm_fault_locked(self.mmap_read_locked(&read), addr, access, origin)
    }

    /// Whether `addr` lies in no vma, just below a `VM_GROWSDOWN` one.
    ///
    /// Locking: `mmap_lock` held (`_held`); takes the inner lock.
    fn below_growsdown_vma(&self, _held: MmapLocked<'_>, addr: u64) -> bool {
        let g = self.lock_inner();
        g.vmas.find_vma(addr).is_some_and(|v| v.start > addr && v.flags.contains(VmFlags::GROWSDOWN))
    }
}

/// Linux `expand_stack_locked` for a stack that grows down: extend the vma
/// above `addr` down to `addr`'s page. `Ok` also when another thread
/// already mapped `addr` while the lock was dropped.
///
/// Locking: `mmap_lock` held for write, inner lock held.
pub(crate) fn expand_stack_locked<P: PhysMem, T: TlbFlush>(
    _locked: &MmapWriteLocked<'_>,
    inner: &mut MmInner<P, T>,
    addr: u64,
    limits: &StackLimits,
) -> Result<(), FaultError> {
    let address = page_align_down(addr);
    let (next, prev) = inner.vmas.find_vma_prev(addr);
    let vma = next.cloned().ok_or(FaultError::NoVma)?;
    if vma.start <= addr {
        return Ok(());
    }
    if !vma.flags.contains(VmFlags::GROWSDOWN) || address < MMAP_MIN_ADDR {
        return Err(FaultError::NoVma);
    }
    if let Some(prev) = prev {
        let accessible = prev.flags.intersects(VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC);
        if !prev.flags.contains(VmFlags::GROWSDOWN) && accessible && address - prev.end < STACK_GUARD_GAP {
            return Err(FaultError::NoVma);
        }
    }
    // acct_stack_growth
    let size = vma.end - address;
    let grow = vma.start - address;
    if size > limits.stack {
        return Err(FaultError::NoVma);
    }
    if !mlock_future_ok(inner.locked_vm, vma.flags, grow, &limits.mlock) {
        return Err(FaultError::NoVma);
    }
    inner.vmas.insert(vma.slice(address, vma.start, vma.flags)).map_err(|_| FaultError::OutOfMemory)?;
    inner.vmas.merge_at(vma.start);
    inner.total_vm += grow >> PAGE_SHIFT;
    if vma.flags.contains(VmFlags::LOCKED) {
        inner.locked_vm += grow >> PAGE_SHIFT;
    }
    Ok(())
}
