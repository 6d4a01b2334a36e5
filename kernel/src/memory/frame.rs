//! The kernel's physical frame allocator: [`mm::frame::FrameAllocator`]
//! over the usable regions of the bootloader's memory map.
//!
//! The allocator's bitmap is carved out of the first usable region large
//! enough to hold it (before the heap exists) and its frames are reserved.
//!
//! User memory (pages and page tables of user address spaces, all that a
//! program can make the kernel allocate without bound) comes from
//! [`alloc_user`], which leaves a reserve of free frames to the kernel's
//! own allocations (heap growth, kernel stacks), as Linux's `min`
//! watermark does. A refused user allocation is remembered for the OOM
//! killer ([`take_user_alloc_failure`]).
//!
//! Locking: one spin mutex, taken with interrupts disabled (a preempted
//! holder would otherwise deadlock the next taker on its CPU) through
//! `sync::lock_irqs_off`, which answers other CPUs' TLB shootdowns while it
//! waits. It is the innermost lock of the kernel.

use bootloader_api::info::{MemoryRegionKind, MemoryRegions};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use mm::addr::PAGE_SIZE;
use mm::frame::FrameAllocator;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

static FRAMES: Mutex<Option<FrameAllocator>> = Mutex::new(None);

/// Free frames that only the kernel's own allocations may take.
static RESERVE: AtomicU64 = AtomicU64::new(0);
/// A user allocation was refused since the OOM killer last looked.
static USER_ALLOC_FAILED: AtomicBool = AtomicBool::new(false);

/// Summary of the memory map, for the boot log.
#[derive(Clone, Copy, Debug)]
pub struct MemorySummary {
    pub regions: usize,
    pub usable_bytes: u64,
    pub total_frames: u64,
    pub free_frames: u64,
    /// The allocator's window: first pfn and number of pages.
    pub base_pfn: u64,
    pub npages: u64,
}

/// Build the allocator from the bootloader's memory map.
pub fn init(regions: &MemoryRegions) -> MemorySummary {
    let usable = || regions.iter().filter(|r| r.kind == MemoryRegionKind::Usable);
    let lo = usable().map(|r| r.start).min().expect("no usable memory");
    let hi = usable().map(|r| r.end).max().unwrap();
    let base_pfn = lo / PAGE_SIZE;
    let npages = hi.div_ceil(PAGE_SIZE) - base_pfn;
    let words = npages.div_ceil(64) as usize;
    let bitmap_bytes = (words * 8) as u64;
    let bitmap_region = usable()
        .find(|r| r.end - r.start.next_multiple_of(PAGE_SIZE) >= bitmap_bytes)
        .expect("no usable region can hold the frame bitmap");
    let bitmap_pa = bitmap_region.start.next_multiple_of(PAGE_SIZE);
    // SAFETY: [bitmap_pa, bitmap_pa + bitmap_bytes) is usable RAM that nothing
    // else uses: its frames are reserved in the allocator right below, and the
    // physical-memory mapping makes it addressable for the kernel's lifetime.
    let bitmap: &'static mut [u64] = unsafe { core::slice::from_raw_parts_mut(super::phys_to_virt(bitmap_pa) as *mut u64, words) };
    let mut fa = FrameAllocator::new(bitmap, base_pfn, npages).expect("frame allocator");
    let mut usable_bytes = 0;
    for r in usable() {
        usable_bytes += r.end - r.start;
        fa.add_region(r.start, r.end).expect("usable region inside the allocator window");
    }
    fa.reserve_range(bitmap_pa, (bitmap_pa + bitmap_bytes).next_multiple_of(PAGE_SIZE))
        .expect("reserve the frame bitmap");
    // The AP trampoline: TRAMPOLINE_PAGES free pages of usable memory
    // below 1 MiB (real-mode reachable), not page 0, kept out of the
    // allocator. Free ones: the frame bitmap may sit in the first low
    // region, and the trampoline must not overwrite it.
    let low = usable().find_map(|r| {
        let first = r.start.next_multiple_of(PAGE_SIZE).max(PAGE_SIZE);
        let last_end = r.end.min(0x10_0000);
        (first..)
            .step_by(PAGE_SIZE as usize)
            .take_while(|start| start + TRAMPOLINE_PAGES * PAGE_SIZE <= last_end)
            .find(|&start| (0..TRAMPOLINE_PAGES).all(|i| !fa.is_allocated(start + i * PAGE_SIZE)))
    });
    if let Some(pa) = low {
        if fa.reserve_range(pa, pa + TRAMPOLINE_PAGES * PAGE_SIZE) == Ok(TRAMPOLINE_PAGES) {
            TRAMPOLINE.store(pa, Ordering::Relaxed);
        }
    }
    let summary = MemorySummary {
        regions: regions.len(),
        usable_bytes,
        total_frames: fa.total_frames(),
        free_frames: fa.free_frames(),
        base_pfn,
        npages,
    };
    // 1/64 of memory, between 1 and 16 MiB: room for the heap to grow
    // while user programs hold every other frame.
    RESERVE.store((summary.total_frames / 64).clamp(256, 4096), Ordering::Relaxed);
    without_interrupts(|| *FRAMES.lock() = Some(fa));
    summary
}

/// Pages the AP trampoline needs below 1 MiB: its code and a three-level
/// identity map.
pub const TRAMPOLINE_PAGES: u64 = 4;
static TRAMPOLINE: AtomicU64 = AtomicU64::new(0);

/// Physical address of [`TRAMPOLINE_PAGES`] reserved pages below 1 MiB
/// for starting other CPUs, if the memory map had them.
pub fn trampoline_pages() -> Option<u64> {
    Some(TRAMPOLINE.load(Ordering::Relaxed)).filter(|&pa| pa != 0)
}

/// Frames kept back from user memory.
pub fn reserve() -> u64 {
    RESERVE.load(Ordering::Relaxed)
}

/// Allocate a zeroed frame for user memory, unless that would eat into the
/// kernel's reserve; a refusal is remembered for the OOM killer.
pub fn alloc_user() -> Option<u64> {
    let reserve = reserve();
    let (pa, free) = with(|fa| if fa.free_frames() > reserve { (fa.alloc(), fa.free_frames()) } else { (None, fa.free_frames()) });
    super::swap::wakeup_kswapd(free);
    match pa {
        Some(pa) => {
            let profile = mm::populate_profile::enabled();
            let started = if profile { crate::arch::time::now_ns() } else { 0 };
            // SAFETY: the frame was just handed out to us and is mapped by
            // the physical-memory mapping.
            unsafe { core::ptr::write_bytes(super::phys_to_virt(pa) as *mut u8, 0, PAGE_SIZE as usize) };
            if profile {
                mm::populate_profile::add_zero(crate::arch::time::now_ns().saturating_sub(started));
            }
            Some(pa)
        }
        None => {
            USER_ALLOC_FAILED.store(true, Ordering::SeqCst);
            None
        }
    }
}

/// Was a user allocation refused since the last call? (Clears the mark.)
pub fn take_user_alloc_failure() -> bool {
    USER_ALLOC_FAILED.swap(false, Ordering::SeqCst)
}

fn with<R>(f: impl FnOnce(&mut FrameAllocator) -> R) -> R {
    use mm::lockdep::LockClass;
    crate::sched::lockdep::acquire(LockClass::FrameAllocator);
    let r = without_interrupts(|| f(crate::sync::lock_irqs_off(&FRAMES).as_mut().expect("frame allocator not initialised")));
    crate::sched::lockdep::release(LockClass::FrameAllocator);
    r
}

/// Allocate one 4 KiB frame (contents undefined).
pub fn alloc() -> Option<u64> {
    with(|fa| fa.alloc())
}

/// Allocate one 4 KiB frame filled with zeros.
pub fn alloc_zeroed() -> Option<u64> {
    let pa = alloc()?;
    // SAFETY: the frame was just handed out to us and is mapped by the
    // physical-memory mapping.
    unsafe { core::ptr::write_bytes(super::phys_to_virt(pa) as *mut u8, 0, PAGE_SIZE as usize) };
    Some(pa)
}

/// Allocate `count` physically contiguous frames (contents undefined), for
/// memory a device reaches by physical address ([`super::dma`]).
pub fn alloc_contiguous(count: u64) -> Option<u64> {
    with(|fa| fa.alloc_contiguous(count, 1))
}

/// Return `count` contiguous frames from [`alloc_contiguous`].
pub fn free_contiguous(pa: u64, count: u64) -> Result<(), mm::frame::FrameError> {
    with(|fa| fa.free_contiguous(pa, count))
}

/// Return a frame. A double free or a foreign address is reported, not fatal.
pub fn free(pa: u64) -> Result<(), mm::frame::FrameError> {
    with(|fa| fa.free(pa))
}

/// Is the frame at `pa` currently allocated?
#[cfg(feature = "ktest")]
pub fn is_allocated(pa: u64) -> bool {
    with(|fa| fa.is_allocated(pa))
}

/// (total, free) frames.
pub fn counts() -> (u64, u64) {
    with(|fa| (fa.total_frames(), fa.free_frames()))
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;
    use alloc::collections::BTreeSet;
    use alloc::vec::Vec;

    #[ktest]
    pub fn alloc_free_roundtrip() {
        let (_, free0) = counts();
        let frames: Vec<u64> = (0..1000).map(|_| alloc().expect("frame")).collect();
        assert_eq!(counts().1, free0 - 1000);
        for &f in &frames {
            assert_eq!(f % PAGE_SIZE, 0);
            assert!(is_allocated(f));
        }
        for f in frames {
            free(f).expect("free");
        }
        assert_eq!(counts().1, free0);
    }

    #[ktest]
    pub fn no_double_handout() {
        let frames: Vec<u64> = (0..4096).map(|_| alloc().expect("frame")).collect();
        let distinct: BTreeSet<u64> = frames.iter().copied().collect();
        assert_eq!(distinct.len(), frames.len(), "a frame was handed out twice");
        for f in frames {
            free(f).unwrap();
        }
    }

    #[ktest]
    pub fn double_free_is_reported() {
        let f = alloc().unwrap();
        free(f).unwrap();
        assert!(free(f).is_err(), "double free not detected");
        assert!(free(1 << 60).is_err(), "foreign address not rejected");
    }

    #[ktest]
    pub fn zeroed_frames_are_zero() {
        let f = alloc().unwrap();
        // SAFETY: we own frame f.
        unsafe { core::ptr::write_bytes(crate::memory::phys_to_virt(f) as *mut u8, 0xAB, 4096) };
        free(f).unwrap();
        let g = alloc_zeroed().unwrap();
        // SAFETY: we own frame g.
        let bytes = unsafe { core::slice::from_raw_parts(crate::memory::phys_to_virt(g) as *const u8, 4096) };
        assert!(bytes.iter().all(|&b| b == 0));
        free(g).unwrap();
    }
}
