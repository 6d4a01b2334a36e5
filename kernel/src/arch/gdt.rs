//! Global descriptor table and task state segment.
//!
//! Layout (fixed, because `syscall`/`sysret` derive selectors from it):
//! 0x08 kernel code, 0x10 kernel data, 0x18 user data, 0x20 user code, 0x28 TSS.
//! The TSS holds the double-fault IST stack (so a kernel stack overflow is
//! reported instead of triple-faulting) and `rsp0`, the stack used when an
//! interrupt arrives in ring 3.
//!
//! Locking: built once at boot on the boot CPU; `rsp0` is updated by the
//! scheduler with interrupts disabled.

use core::ptr::addr_of;
use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

/// IST slot used by the double-fault handler.
pub const DOUBLE_FAULT_IST_INDEX: u16 = 0;
const IST_STACK_SIZE: usize = 5 * 4096;

/// A stack only the CPU uses (through the TSS), hence never read by Rust.
#[repr(align(16))]
#[allow(dead_code)]
struct Stack([u8; IST_STACK_SIZE]);
static mut DOUBLE_FAULT_STACK: Stack = Stack([0; IST_STACK_SIZE]);

static mut TSS: TaskStateSegment = TaskStateSegment::new();
static GDT: Once<(GlobalDescriptorTable, Selectors)> = Once::new();

/// Segment selectors of the fixed layout.
#[derive(Clone, Copy, Debug)]
pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    pub tss: SegmentSelector,
}

/// Build and load the GDT and TSS.
pub fn init() {
    // SAFETY: runs once on the boot CPU before interrupts are enabled; no
    // other reference to TSS exists yet.
    let tss: &'static TaskStateSegment = unsafe {
        let stack_start = VirtAddr::from_ptr(addr_of!(DOUBLE_FAULT_STACK));
        let tss = &mut *core::ptr::addr_of_mut!(TSS);
        tss.interrupt_stack_table[DOUBLE_FAULT_IST_INDEX as usize] = stack_start + IST_STACK_SIZE as u64;
        &*tss
    };
    let (gdt, sel) = GDT.call_once(|| {
        let mut gdt = GlobalDescriptorTable::new();
        let kernel_code = gdt.append(Descriptor::kernel_code_segment());
        let kernel_data = gdt.append(Descriptor::kernel_data_segment());
        let user_data = gdt.append(Descriptor::user_data_segment());
        let user_code = gdt.append(Descriptor::user_code_segment());
        let tss = gdt.append(Descriptor::tss_segment(tss));
        (gdt, Selectors { kernel_code, kernel_data, user_data, user_code, tss })
    });
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded.
    unsafe {
        CS::set_reg(sel.kernel_code);
        SS::set_reg(sel.kernel_data);
        DS::set_reg(sel.kernel_data);
        ES::set_reg(sel.kernel_data);
        load_tss(sel.tss);
    }
}

/// The selectors of the loaded GDT.
pub fn selectors() -> Selectors {
    GDT.get().expect("gdt::init not called").1
}

/// Set the stack the CPU switches to on an interrupt from ring 3.
pub fn set_kernel_stack(top: u64) {
    // SAFETY: single CPU, called with interrupts disabled by the scheduler;
    // the CPU reads rsp0 only when entering ring 0 from ring 3.
    unsafe { (*core::ptr::addr_of_mut!(TSS)).privilege_stack_table[0] = VirtAddr::new(top) };
}
