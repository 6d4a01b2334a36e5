//! `msync` for anonymous memory (Linux `mm/msync.c`): nothing to write
//! back, only Linux's argument and vma checks.
//!
//! Locking: takes `mmap_lock` for read, the inner lock inside it.

use crate::addr::{page_align_wrapping, page_aligned};
use crate::errno::Errno;
use crate::mm_struct::MmStruct;
use crate::mman::{MS_ASYNC, MS_INVALIDATE, MS_SYNC};
use crate::pgtable::{PhysMem, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::vma::VmFlags;

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `msync` for anonymous memory (nothing to write back).
    /// Errors: `EINVAL` unknown flags, `MS_ASYNC | MS_SYNC`, unaligned
    /// `start`; `ENOMEM` length overflow or a hole (after checking the
    /// mapped vmas); `EBUSY` `MS_INVALIDATE` on a `VM_LOCKED` vma; `EINTR`.
    ///
    /// Locking: takes `mmap_lock` for read.
    pub fn msync(&self, start: u64, len: u64, flags: i32) -> Result<(), Errno> {
        if flags & !(MS_ASYNC | MS_INVALIDATE | MS_SYNC) != 0 {
            return Err(Errno::EINVAL);
        }
        if !page_aligned(start) {
            return Err(Errno::EINVAL);
        }
        if flags & MS_ASYNC != 0 && flags & MS_SYNC != 0 {
            return Err(Errno::EINVAL);
        }
        let len = page_align_wrapping(len);
        let end = start.wrapping_add(len);
        if end < start {
            return Err(Errno::ENOMEM);
        }
        if end == start {
            return Ok(());
        }
        let _r = self.mmap_lock.read_killable()?;
        let g = self.lock_inner();
        let mut cursor = start;
        let mut unmapped = false;
        for v in g.vmas.range(start, end) {
            if v.start > cursor {
                unmapped = true;
            }
            if flags & MS_INVALIDATE != 0 && v.flags.contains(VmFlags::LOCKED) {
                return Err(Errno::EBUSY);
            }
            cursor = v.end;
        }
        if unmapped || cursor < end {
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }
}
