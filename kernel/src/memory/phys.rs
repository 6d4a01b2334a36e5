//! The kernel's implementation of the mm crate's physical-memory trait:
//! frames through the physical-memory mapping. (The TLB trait is
//! implemented by `arch::tlb::KernelTlb`, which needs the other CPUs.)
//!
//! Locking: stateless; the frame allocator has its own lock.

use mm::pgtable::PhysMem;

/// Physical memory as seen through the bootloader's offset mapping.
#[derive(Clone, Copy, Debug, Default)]
pub struct KernelPhys;

impl PhysMem for KernelPhys {
    /// Every frame the mm crate asks for belongs to a user address space.
    fn alloc_frame(&self) -> Option<u64> {
        super::frame::alloc_user()
    }

    fn free_frame(&self, pa: u64) {
        if let Err(e) = super::frame::free(pa) {
            log::error!("free_frame({pa:#x}): {e:?}");
        }
    }

    fn read_entry(&self, table_pa: u64, index: usize) -> u64 {
        assert!(index < 512 && table_pa % 4096 == 0);
        // SAFETY: table_pa is a page-table frame owned by the caller's page
        // table; the offset mapping covers it; index is in bounds.
        unsafe { core::ptr::read_volatile((super::phys_to_virt(table_pa) as *const u64).add(index)) }
    }

    fn write_entry(&self, table_pa: u64, index: usize, val: u64) {
        assert!(index < 512 && table_pa % 4096 == 0);
        // SAFETY: as in read_entry; the caller holds the page-table lock.
        unsafe { core::ptr::write_volatile((super::phys_to_virt(table_pa) as *mut u64).add(index), val) }
    }

    fn copy_frame(&self, dst: u64, src: u64) {
        assert!(dst % 4096 == 0 && src % 4096 == 0 && dst != src);
        // SAFETY: both are whole data frames the caller's page table holds
        // references to (the source mapped, the destination fresh from the
        // allocator); the offset mapping covers both; they do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(super::phys_to_virt(src) as *const u8, super::phys_to_virt(dst) as *mut u8, 4096) }
    }

    /// Direct reclaim; a refusal it answered is no reason for the OOM
    /// killer.
    fn reclaim(&self) -> bool {
        let freed = super::swap::try_to_free_pages() > 0;
        if freed {
            super::frame::take_user_alloc_failure();
        }
        freed
    }

    fn read_frame(&self, pa: u64, buf: &mut [u8; 4096]) {
        assert!(pa % 4096 == 0);
        // SAFETY: a data frame reclaim holds a reference to (write-protected
        // in every mapping); the offset mapping covers it; `buf` is ours.
        unsafe { core::ptr::copy_nonoverlapping(super::phys_to_virt(pa) as *const u8, buf.as_mut_ptr(), 4096) }
    }

    fn write_frame(&self, pa: u64, buf: &[u8; 4096]) {
        assert!(pa % 4096 == 0);
        // SAFETY: a frame fresh from the allocator that nothing maps yet
        // (swap-in fills it before mapping it); the offset mapping covers it.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), super::phys_to_virt(pa) as *mut u8, 4096) }
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::arch::extable::{probe_read_u64, probe_write_u64};
    use crate::ktest::ktest;
    use mm::mmu_gather::MmuGather;
    use mm::pagewalk::{walk_page_range_novma, MmWalk, MmWalkOps, WalkControl};
    use mm::pgtable::{PageSize, PageTable, PtSlot, PteFlags};
    use x86_64::registers::control::Cr3;

    struct CountPresent(u64);
    impl MmWalkOps for CountPresent {
        const HAS_PTE_ENTRY: bool = true;
        fn pte_entry<P: PhysMem>(&mut self, _pte: PtSlot, _addr: u64, _next: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
            self.0 += 1;
            WalkControl::Continue
        }
    }

    /// Build a page table of our own, run on it, walk it, tear it down.
    #[ktest]
    pub fn map_walk_unmap_real_page_table() {
        let (_, free0) = crate::memory::frame::counts();
        let (root, flags) = Cr3::read();
        let mut pt = PageTable::new_with_kernel_half(KernelPhys, root.start_address().as_u64()).expect("new table");
        let base = 0x4000_0000u64;
        let data: alloc::vec::Vec<u64> = (0..8).map(|_| crate::memory::frame::alloc_zeroed().unwrap()).collect();
        for (i, &pa) in data.iter().enumerate() {
            pt.map(base + i as u64 * 4096, pa, PageSize::Size4K, PteFlags::WRITABLE | PteFlags::NO_EXECUTE).unwrap();
        }
        assert_eq!(pt.translate(base + 3 * 4096 + 8).unwrap().pa, data[3] + 8);
        let mut count = CountPresent(0);
        assert_eq!(walk_page_range_novma(&mut pt, base, base + (1 << 21), &mut count), 0);
        assert_eq!(count.0, 8);
        // Run on the new table: the CPU's own walk must agree with ours.
        // SAFETY: the new table shares the kernel half with the current one,
        // so the kernel keeps running; interrupts are off while it is loaded.
        x86_64::instructions::interrupts::without_interrupts(|| unsafe {
            Cr3::write(x86_64::structures::paging::PhysFrame::containing_address(x86_64::PhysAddr::new(pt.root_pa())), flags);
            probe_write_u64(base + 5 * 4096, 0x1234_5678).unwrap();
            assert!(probe_read_u64(base + 8 * 4096).is_err(), "unmapped page readable");
            Cr3::write(root, flags);
        });
        // SAFETY: data[5] is our frame, mapped by the offset mapping.
        assert_eq!(unsafe { *(crate::memory::phys_to_virt(data[5]) as *const u64) }, 0x1234_5678);
        let mut tlb = MmuGather::tlb_gather_mmu();
        for i in 0..8 {
            pt.unmap(base + i * 4096, &mut tlb).unwrap();
        }
        tlb.tlb_finish_mmu(&KernelPhys, &crate::arch::tlb::KernelTlb::local());
        pt.free_all_tables();
        for pa in data {
            crate::memory::frame::free(pa).unwrap();
        }
        assert_eq!(crate::memory::frame::counts().1, free0, "page-table frames leaked");
    }

    /// A protnone leaf on the real MMU: the CPU faults on it, while the
    /// page table still translates and walks it; made present again, the
    /// frame's contents are where they were.
    #[ktest]
    pub fn protnone_leaf_is_not_present_to_the_cpu() {
        let (_, free0) = crate::memory::frame::counts();
        let (root, flags) = Cr3::read();
        let mut pt = PageTable::new_with_kernel_half(KernelPhys, root.start_address().as_u64()).expect("new table");
        let va = 0x4000_0000u64;
        let pa = crate::memory::frame::alloc_zeroed().unwrap();
        let rw = PteFlags::WRITABLE | PteFlags::NO_EXECUTE;
        pt.map(va, pa, PageSize::Size4K, rw).unwrap();
        let load = |pa_root: u64| {
            // SAFETY: both tables share the kernel half; interrupts are off
            // while the test's table is loaded (callers use without_interrupts).
            unsafe { Cr3::write(x86_64::structures::paging::PhysFrame::containing_address(x86_64::PhysAddr::new(pa_root)), flags) }
        };
        x86_64::instructions::interrupts::without_interrupts(|| {
            load(pt.root_pa());
            probe_write_u64(va + 16, 0xC0FF_EE00).unwrap();
            let mut tlb = MmuGather::tlb_gather_mmu();
            pt.protect(va, PteFlags::PROTNONE, &mut tlb).unwrap();
            tlb.tlb_finish_mmu(&KernelPhys, &crate::arch::tlb::KernelTlb::local());
            assert_eq!(probe_read_u64(va + 16).map_err(|f| f.addr), Err(va + 16), "a protnone page must fault");
            assert!(probe_write_u64(va, 1).is_err());
            load(root.start_address().as_u64());
        });
        let m = pt.translate(va).expect("a protnone leaf is still a mapping");
        assert_eq!((m.pa, m.flags), (pa, PteFlags::PROTNONE));
        let mut count = CountPresent(0);
        assert_eq!(walk_page_range_novma(&mut pt, va, va + (1 << 21), &mut count), 0);
        assert_eq!(count.0, 1, "the walk visits the protnone leaf");
        let mut tlb = MmuGather::tlb_gather_mmu();
        pt.protect(va, rw, &mut tlb).unwrap();
        tlb.tlb_finish_mmu(&KernelPhys, &crate::arch::tlb::KernelTlb::local());
        x86_64::instructions::interrupts::without_interrupts(|| {
            load(pt.root_pa());
            assert_eq!(probe_read_u64(va + 16), Ok(0xC0FF_EE00), "present again, contents kept");
            load(root.start_address().as_u64());
        });
        let mut tlb = MmuGather::tlb_gather_mmu();
        pt.unmap(va, &mut tlb).unwrap();
        tlb.tlb_finish_mmu(&KernelPhys, &crate::arch::tlb::KernelTlb::local());
        pt.free_all_tables();
        crate::memory::frame::free(pa).unwrap();
        assert_eq!(crate::memory::frame::counts().1, free0, "frames leaked");
    }
}
