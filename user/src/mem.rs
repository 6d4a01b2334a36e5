//! Owned anonymous mappings and the program break.
//!
//! [`Region`] is a private anonymous mapping owned by one Rust value: it is
//! unmapped when dropped, and every operation that changes its contents or
//! layout (`MAP_FIXED` over part of it, `madvise(MADV_DONTNEED)`, `mprotect`)
//! takes `&mut self`, so no Rust reference into it can observe the change.
//! That is what makes these wrappers safe.
//!
//! The brk heap is handed out by [`brk_grow`] in leaked `'static` slices; the
//! break never shrinks, so those slices stay valid.

use crate::sync::Mutex;
use crate::sys::{check, nr, syscall6, Errno};
use alloc::vec;
use alloc::vec::Vec;

pub const PAGE_SIZE: usize = 4096;

/// `PROT_*` bits.
pub mod prot {
    pub const NONE: usize = 0;
    pub const READ: usize = 1;
    pub const WRITE: usize = 2;
    pub const EXEC: usize = 4;
    pub const RW: usize = READ | WRITE;
}

/// `MAP_*` flags.
pub mod map {
    pub const SHARED: usize = 0x01;
    pub const PRIVATE: usize = 0x02;
    pub const FIXED: usize = 0x10;
    pub const ANONYMOUS: usize = 0x20;
    pub const NORESERVE: usize = 0x4000;
    pub const POPULATE: usize = 0x8000;
    pub const FIXED_NOREPLACE: usize = 0x10_0000;
}

pub const MADV_DONTNEED: usize = 4;

/// Round up to a whole number of pages.
pub const fn page_round_up(n: usize) -> usize {
    (n + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// mmap without `MAP_FIXED`: the kernel picks (or takes the hint for) an
/// address that no existing mapping uses, so no Rust-owned memory changes.
pub(crate) fn mmap_nofixed(hint: usize, len: usize, prot: usize, flags: usize) -> Result<usize, Errno> {
    assert!(flags & (map::FIXED | map::FIXED_NOREPLACE) == 0, "mmap_nofixed with MAP_FIXED");
    // SAFETY: without MAP_FIXED the kernel never replaces an existing mapping;
    // fd is -1 (anonymous or rejected), so nothing is read from us.
    check(unsafe { syscall6(nr::MMAP, [hint, len, prot, flags, usize::MAX, 0]) })
}

/// munmap a range that the caller owns and no reference points into.
///
/// # Safety
/// `[addr, addr+len)` must not be referenced by any live Rust value.
pub(crate) unsafe fn munmap(addr: usize, len: usize) -> Result<(), Errno> {
    // SAFETY: the caller guarantees nothing refers to the range.
    check(unsafe { syscall6(nr::MUNMAP, [addr, len, 0, 0, 0, 0]) }).map(|_| ())
}

/// mprotect a range; changing protection never invalidates Rust memory
/// (at worst a later access raises SIGSEGV), so this takes no `unsafe`.
pub(crate) fn mprotect(addr: usize, len: usize, prot: usize) -> Result<(), Errno> {
    // SAFETY: mprotect changes no memory contents and reads no user memory.
    check(unsafe { syscall6(nr::MPROTECT, [addr, len, prot, 0, 0, 0]) }).map(|_| ())
}

/// An owned private anonymous mapping, unmapped on drop.
pub struct Region {
    addr: usize,
    len: usize,
}

impl Region {
    /// Map `len` bytes (rounded up to pages), private anonymous.
    pub fn map_anon(len: usize, prot: usize) -> Result<Region, Errno> {
        Self::map_anon_hint(0, len, prot, 0)
    }

    /// As [`map_anon`](Self::map_anon) with an address hint (not `MAP_FIXED`)
    /// and extra flags such as `MAP_POPULATE` or `MAP_NORESERVE`.
    pub fn map_anon_hint(hint: usize, len: usize, prot: usize, extra_flags: usize) -> Result<Region, Errno> {
        let len = page_round_up(len);
        let addr = mmap_nofixed(hint, len, prot, map::PRIVATE | map::ANONYMOUS | extra_flags)?;
        Ok(Region { addr, len })
    }

    pub fn addr(&self) -> usize {
        self.addr
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn pages(&self) -> usize {
        self.len / PAGE_SIZE
    }

    /// The mapping's bytes. Faults (SIGSEGV) if the region is not readable.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: [addr, addr+len) is mapped and owned by self for self's
        // lifetime; the shared borrow blocks every `&mut self` operation.
        unsafe { core::slice::from_raw_parts(self.addr as *const u8, self.len) }
    }

    /// The mapping's bytes, writable. Faults if the region is not writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and the unique borrow excludes aliases.
        unsafe { core::slice::from_raw_parts_mut(self.addr as *mut u8, self.len) }
    }

    /// Write one byte at `offset` with a volatile store, so the compiler cannot
    /// drop it: used to take exactly one first-touch page fault.
    pub fn touch(&mut self, offset: usize, val: u8) {
        assert!(offset < self.len);
        // SAFETY: offset is in bounds of the owned, mapped region.
        unsafe { core::ptr::write_volatile((self.addr + offset) as *mut u8, val) };
    }

    /// Read one byte at `offset` with a volatile load.
    pub fn peek(&self, offset: usize) -> u8 {
        assert!(offset < self.len);
        // SAFETY: offset is in bounds of the owned, mapped region.
        unsafe { core::ptr::read_volatile((self.addr + offset) as *const u8) }
    }

    /// mprotect `[offset, offset+len)` of this region.
    pub fn protect(&mut self, offset: usize, len: usize, prot: usize) -> Result<(), Errno> {
        assert!(offset.checked_add(len).is_some_and(|e| e <= self.len));
        mprotect(self.addr + offset, len, prot)
    }

    /// `madvise(MADV_DONTNEED)` on `[offset, offset+len)`: private anonymous
    /// pages read back as zero afterwards.
    pub fn dontneed(&mut self, offset: usize, len: usize) -> Result<(), Errno> {
        assert!(offset.checked_add(len).is_some_and(|e| e <= self.len));
        // SAFETY: the range is inside this region and `&mut self` means no
        // reference observes its contents being discarded.
        check(unsafe { syscall6(nr::MADVISE, [self.addr + offset, len, MADV_DONTNEED, 0, 0, 0]) }).map(|_| ())
    }

    /// Replace `[offset, offset+len)` with a fresh anonymous mapping using
    /// `MAP_FIXED`; returns the address the kernel reports.
    pub fn remap_fixed(&mut self, offset: usize, len: usize, prot: usize) -> Result<usize, Errno> {
        assert!(offset.is_multiple_of(PAGE_SIZE) && offset.checked_add(len).is_some_and(|e| e <= self.len));
        let flags = map::PRIVATE | map::ANONYMOUS | map::FIXED;
        // SAFETY: MAP_FIXED replaces only pages inside this owned region, and
        // `&mut self` means no reference points into them.
        check(unsafe { syscall6(nr::MMAP, [self.addr + offset, len, prot, flags, usize::MAX, 0]) })
    }

    /// `mincore()` over the whole region: one byte per page, bit 0 = resident.
    pub fn mincore(&self) -> Result<Vec<u8>, Errno> {
        let mut vec = vec![0u8; self.pages()];
        // SAFETY: the kernel writes pages() bytes into `vec`, which has them.
        check(unsafe { syscall6(nr::MINCORE, [self.addr, self.len, vec.as_mut_ptr() as usize, 0, 0, 0]) })?;
        Ok(vec)
    }

    /// Unmap now, reporting the kernel's answer (drop ignores it).
    pub fn unmap(self) -> Result<(), Errno> {
        let (addr, len) = (self.addr, self.len);
        core::mem::forget(self);
        // SAFETY: self is consumed, so nothing refers to the range any more.
        unsafe { munmap(addr, len) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: self is being dropped; no reference into it can outlive it.
        let _ = unsafe { munmap(self.addr, self.len) };
    }
}

/// `mincore()` on an arbitrary range that we do not own: only the kernel's
/// answer (e.g. `ENOMEM` for an unmapped range) is returned.
pub fn mincore_probe(addr: usize, len: usize) -> Result<Vec<u8>, Errno> {
    let mut vec = vec![0u8; page_round_up(len) / PAGE_SIZE];
    // SAFETY: the kernel only reads page tables for [addr, addr+len) and
    // writes into `vec`, which is sized for the range.
    check(unsafe { syscall6(nr::MINCORE, [addr, len, vec.as_mut_ptr() as usize, 0, 0, 0]) })?;
    Ok(vec)
}

static BRK_LOCK: Mutex<()> = Mutex::new(());

/// The current program break (`brk(0)`).
pub fn brk_current() -> usize {
    // SAFETY: brk(0) only queries.
    unsafe { syscall6(nr::BRK, [0; 6]) as usize }
}

/// Grow the program break by `len` bytes and return the new memory.
///
/// Linux's raw brk returns the new break on success and the old one on
/// failure, which is reported as `ENOMEM`.
pub fn brk_grow(len: usize) -> Result<&'static mut [u8], Errno> {
    let _guard = BRK_LOCK.lock();
    let old = brk_current();
    let want = old.checked_add(len).ok_or(Errno::ENOMEM)?;
    // SAFETY: growing the break maps new memory above `old`; nothing in this
    // crate shrinks it, so existing brk memory is untouched.
    let new = unsafe { syscall6(nr::BRK, [want, 0, 0, 0, 0, 0]) } as usize;
    if new < want {
        return Err(Errno::ENOMEM);
    }
    // SAFETY: [old, want) was just added to the heap under BRK_LOCK and is
    // handed out exactly once; the break never shrinks, so it lives forever.
    Ok(unsafe { core::slice::from_raw_parts_mut(old as *mut u8, len) })
}
