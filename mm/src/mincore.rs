//! `mincore` (Linux `mm/mincore.c`): which pages of a range are resident.
//!
//! Locking: takes `mmap_lock` for read once per vma, the inner lock inside it.

use alloc::vec::Vec;

use crate::addr::{page_aligned, PAGE_SIZE, TASK_SIZE};
use crate::errno::Errno;
use crate::mm_struct::MmStruct;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::rwsem::RwSemBackend;

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// Linux `do_mincore`: the residency of up to `pages` pages from
    /// `start` (page-aligned), stopping at the end of the vma that contains
    /// `start`; `ENOMEM` if none does. The mincore system call calls it in
    /// a loop, copying each piece out before the next, so that a bad vector
    /// is `EFAULT` and a hole `ENOMEM` in the order they are reached.
    ///
    /// Locking: takes `mmap_lock` for read.
    pub fn do_mincore(&self, start: u64, pages: u64) -> Result<Vec<u8>, Errno> {
        let _r = self.mmap_lock.read_killable()?;
        let g = self.lock_inner();
        let Some(v) = g.vmas.vma_lookup(start) else { return Err(Errno::ENOMEM) };
        let end = v.end.min(start.saturating_add(pages.saturating_mul(PAGE_SIZE)));
        let n = ((end - start) / PAGE_SIZE) as usize;
        let mut out = Vec::new();
        out.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
        let pt = g.pgtable.as_ref();
        // A page of a shmem vma is resident if the object has it, mapped
        // here or not (Linux `mincore_page` on the mapping).
        let cached = |va: u64| v.shmem_index(va).is_some_and(|(obj, index)| obj.find(index).is_some());
        out.extend((0..n as u64).map(|i| {
            let va = start + i * PAGE_SIZE;
            u8::from(pt.is_some_and(|pt| pt.translate(va).is_some()) || cached(va))
        }));
        Ok(out)
    }

    /// Linux `mincore`: one byte per page of `[start, start + len)`, 1 if
    /// the page is resident (a touched `PROT_NONE` page is: its protnone pte
    /// keeps the frame, as in Linux; a page of a shared anonymous mapping
    /// is if its shmem object holds it, mapped here or not). Errors: `EINVAL` unaligned `start`; `ENOMEM`
    /// range beyond `TASK_SIZE` or a page not in any vma; `EINTR`.
    ///
    /// Locking: takes `mmap_lock` for read once per vma (`do_mincore`).
    pub fn mincore(&self, start: u64, len: u64) -> Result<Vec<u8>, Errno> {
        if !page_aligned(start) {
            return Err(Errno::EINVAL);
        }
        match start.checked_add(len) {
            Some(end) if end <= TASK_SIZE => {}
            _ => return Err(Errno::ENOMEM),
        }
        // One vma's piece at a time, as the system call does.
        let mut pages = len.div_ceil(PAGE_SIZE);
        let mut out = Vec::new();
        out.try_reserve_exact(pages as usize).map_err(|_| Errno::ENOMEM)?;
        let mut addr = start;
        while pages > 0 {
            let piece = self.do_mincore(addr, pages)?;
            pages -= piece.len() as u64;
            addr += piece.len() as u64 * PAGE_SIZE;
            out.extend_from_slice(&piece);
        }
        Ok(out)
    }
}
