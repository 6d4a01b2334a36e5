//! Global descriptor tables and task state segments, one of each per CPU.
//!
//! Layout (fixed, because `syscall`/`sysret` derive selectors from it, and
//! the same on every CPU): 0x08 kernel code, 0x10 kernel data, 0x18 user
//! data, 0x20 user code, 0x28 TSS. A CPU's TSS holds its double-fault IST
//! stack (so a kernel stack overflow is reported instead of
//! triple-faulting) and `rsp0`, the stack used when an interrupt arrives
//! in ring 3.
//!
//! Locking: each CPU builds its own tables once when it comes up; `rsp0`
//! is updated only by its own CPU, by the scheduler with interrupts
//! disabled.

use alloc::boxed::Box;
use core::sync::atomic::{AtomicPtr, Ordering};
use spin::Once;
use x86_64::instructions::segmentation::{Segment, CS, DS, ES, SS};
use x86_64::instructions::tables::load_tss;
use x86_64::structures::gdt::{Descriptor, GlobalDescriptorTable, SegmentSelector};
use x86_64::structures::tss::TaskStateSegment;
use x86_64::VirtAddr;

use super::percpu::{self, MAX_CPUS};

/// IST slot used by the double-fault handler.
pub const DOUBLE_FAULT_IST_INDEX: u16 = 0;
const IST_STACK_SIZE: usize = 5 * 4096;

/// A stack only the CPU uses (through the TSS), hence never read by Rust.
#[repr(align(16))]
#[allow(dead_code)]
struct Stack([u8; IST_STACK_SIZE]);

/// Each CPU's TSS, by CPU index.
static TSS: [AtomicPtr<TaskStateSegment>; MAX_CPUS] = [const { AtomicPtr::new(core::ptr::null_mut()) }; MAX_CPUS];
static SELECTORS: Once<Selectors> = Once::new();

/// Segment selectors of the fixed layout.
#[derive(Clone, Copy, Debug)]
pub struct Selectors {
    pub kernel_code: SegmentSelector,
    pub kernel_data: SegmentSelector,
    pub user_data: SegmentSelector,
    pub user_code: SegmentSelector,
    pub tss: SegmentSelector,
}

/// Build and load this CPU's GDT and TSS. Runs once per CPU, on that CPU,
/// with interrupts disabled, after its per-CPU block exists.
pub fn init() {
    let cpu = percpu::cpu_index();
    let stack: &'static mut Stack = Box::leak(Box::new(Stack([0; IST_STACK_SIZE])));
    let mut tss = TaskStateSegment::new();
    tss.interrupt_stack_table[DOUBLE_FAULT_IST_INDEX as usize] = VirtAddr::from_ptr(stack as *const Stack) + IST_STACK_SIZE as u64;
    let tss: &'static TaskStateSegment = Box::leak(Box::new(tss));
    let mut gdt = GlobalDescriptorTable::new();
    let kernel_code = gdt.append(Descriptor::kernel_code_segment());
    let kernel_data = gdt.append(Descriptor::kernel_data_segment());
    let user_data = gdt.append(Descriptor::user_data_segment());
    let user_code = gdt.append(Descriptor::user_code_segment());
    let tss_sel = gdt.append(Descriptor::tss_segment(tss));
    let sel = *SELECTORS.call_once(|| Selectors { kernel_code, kernel_data, user_data, user_code, tss: tss_sel });
    assert_eq!((sel.user_code, sel.tss), (user_code, tss_sel), "every CPU's GDT has the same layout");
    TSS[cpu].store(tss as *const TaskStateSegment as *mut TaskStateSegment, Ordering::Release);
    let gdt: &'static GlobalDescriptorTable = Box::leak(Box::new(gdt));
    gdt.load();
    // SAFETY: the selectors index descriptors of the GDT just loaded; the
    // TSS descriptor is this CPU's own, not yet loaded anywhere.
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
    *SELECTORS.get().expect("gdt::init not called")
}

/// Set the stack this CPU switches to on an interrupt from ring 3.
/// Interrupts disabled (the caller stays on this CPU).
pub fn set_kernel_stack(top: u64) {
    let tss = TSS[percpu::cpu_index()].load(Ordering::Acquire);
    // SAFETY: this CPU's TSS, written only by this CPU, with interrupts
    // disabled; the CPU reads rsp0 only when entering ring 0 from ring 3.
    unsafe { (*tss).privilege_stack_table[0] = VirtAddr::new(top) };
}
