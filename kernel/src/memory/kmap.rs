//! Kernel-private virtual mappings in the upper half (the heap's range).
//!
//! The bootloader's page table stays the kernel's page table; the upper half
//! (PML4 entries 256..512) is the kernel's. [`reserve_pml4_slot`] finds an
//! unused upper-half PML4 entry, giving a 512 GiB window for one purpose, and
//! [`map_page`] maps a fresh frame into it through the x86_64 crate's
//! `OffsetPageTable`.
//!
//! Locking: a spin mutex serialises changes to the kernel half; taken with
//! interrupts disabled. Lock order: kmap > frame allocator.

use spin::Mutex;
use x86_64::registers::control::Cr3;
use x86_64::structures::paging::{FrameAllocator, Mapper, OffsetPageTable, Page, PageTable, PageTableFlags, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

static KMAP_LOCK: Mutex<()> = Mutex::new(());

struct KernelFrames;

// SAFETY: frames come from the kernel frame allocator, unused and zeroed.
unsafe impl FrameAllocator<Size4KiB> for KernelFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame> {
        super::frame::alloc_zeroed().map(|pa| PhysFrame::containing_address(PhysAddr::new(pa)))
    }
}

fn with_page_table<R>(f: impl FnOnce(&mut OffsetPageTable<'static>) -> R) -> R {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let _guard = KMAP_LOCK.lock();
        let (root, _) = Cr3::read();
        // SAFETY: CR3 names the active PML4, mapped by the physical-memory
        // mapping; KMAP_LOCK makes this the only mutable view of it.
        let pml4 = unsafe { &mut *(super::phys_to_virt(root.start_address().as_u64()) as *mut PageTable) };
        // SAFETY: the physical-memory offset maps all of physical memory.
        let mut table = unsafe { OffsetPageTable::new(pml4, VirtAddr::new(super::phys_offset())) };
        f(&mut table)
    })
}

/// Claim an unused upper-half PML4 entry and return the base address of its
/// 512 GiB window. The entry is populated with an empty PDPT so that every
/// process page table that copies the kernel half sees later mappings in it.
pub fn reserve_pml4_slot() -> Option<u64> {
    with_page_table(|table| {
        let pml4 = table.level_4_table_mut();
        let idx = (256..512).rev().find(|&i| pml4[i].is_unused())?;
        let pdpt = super::frame::alloc_zeroed()?;
        pml4[idx].set_addr(PhysAddr::new(pdpt), PageTableFlags::PRESENT | PageTableFlags::WRITABLE);
        Some(0xFFFF_0000_0000_0000 | ((idx as u64) << 39))
    })
}

/// Map a fresh zeroed frame at `va` (kernel, writable, no-execute).
pub fn map_page(va: u64) -> Result<(), &'static str> {
    let frame = super::frame::alloc_zeroed().ok_or("out of frames")?;
    let res = with_page_table(|table| {
        let page = Page::<Size4KiB>::containing_address(VirtAddr::new(va));
        let flags = PageTableFlags::PRESENT | PageTableFlags::WRITABLE | PageTableFlags::NO_EXECUTE;
        // SAFETY: `va` lies in a window reserved for the caller and is not
        // mapped yet; the frame is fresh.
        unsafe { table.map_to(page, PhysFrame::containing_address(PhysAddr::new(frame)), flags, &mut KernelFrames) }
            .map(|flush| flush.flush())
    });
    res.map_err(|_| {
        let _ = super::frame::free(frame);
        "map_to failed"
    })
}
