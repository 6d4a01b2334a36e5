//! Interrupt descriptor table: every CPU exception, the APIC timer and the
//! spurious vector.
//!
//! A fault at an instruction listed in [`super::extable`] resumes at its
//! fixup; any other exception in the kernel is a kernel bug and panics with
//! the vector's name, the error code and the interrupted RIP (for a page
//! fault also CR2 and the decoded error bits). Double faults run on their
//! own IST stack so that a kernel stack overflow is still reported.
//!
//! What happens next for an exception raised by ring 3, a user page fault
//! or a timer tick is the business of the layers above; the handlers here
//! call them through [`super::handlers`].
//!
//! Locking: the IDT is built once at boot; handlers run with interrupts off.

use spin::Lazy;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::{InterruptDescriptorTable, InterruptStackFrame, PageFaultErrorCode};

use super::handlers::{self, FaultAccess, UserFault};
use super::{apic, extable, gdt};
use x86_64::instructions::interrupts;

/// An exception raised by user code kills the process with `sig` (the
/// kernel must survive anything a program does); in the kernel it panics.
fn user_exception(frame: &InterruptStackFrame, what: &str, sig: u8) {
    if frame.code_segment.rpl() == x86_64::PrivilegeLevel::Ring3 {
        (handlers::get().user_exception)(what, frame.instruction_pointer.as_u64(), sig);
    }
}

macro_rules! fatal {
    ($name:ident, $what:literal, $sig:expr) => {
        extern "x86-interrupt" fn $name(frame: InterruptStackFrame) {
            user_exception(&frame, $what, $sig);
            panic!("exception: {} at rip={:#x}\n{:#?}", $what, frame.instruction_pointer.as_u64(), frame);
        }
    };
}

macro_rules! fatal_code {
    ($name:ident, $what:literal, $sig:expr) => {
        extern "x86-interrupt" fn $name(frame: InterruptStackFrame, code: u64) {
            user_exception(&frame, $what, $sig);
            panic!(
                "exception: {} (error code {:#x}) at rip={:#x}\n{:#?}",
                $what,
                code,
                frame.instruction_pointer.as_u64(),
                frame
            );
        }
    };
}

fatal!(divide_error, "divide error (#DE)", 8);
fatal!(debug, "debug (#DB)", 5);
fatal!(overflow, "overflow (#OF)", 11);
fatal!(bound_range, "bound range exceeded (#BR)", 11);
fatal!(invalid_opcode, "invalid opcode (#UD)", 4);
fatal!(device_not_available, "device not available (#NM)", 4);
fatal!(x87_floating_point, "x87 floating point (#MF)", 8);
fatal!(simd_floating_point, "SIMD floating point (#XM)", 8);
fatal!(virtualization, "virtualization (#VE)", 9);
fatal!(hv_injection, "hypervisor injection (#HV)", 9);
fatal_code!(invalid_tss, "invalid TSS (#TS)", 11);
fatal_code!(segment_not_present, "segment not present (#NP)", 7);
fatal_code!(stack_segment, "stack-segment fault (#SS)", 7);
fatal_code!(alignment_check, "alignment check (#AC)", 7);
fatal_code!(cp_protection, "control protection (#CP)", 11);
fatal_code!(vmm_communication, "VMM communication (#VC)", 9);
fatal_code!(security, "security exception (#SX)", 9);

/// An NMI is the hardware's, not the interrupted program's: report it and
/// go on (Holdfast enables no NMI source itself).
extern "x86-interrupt" fn nmi(frame: InterruptStackFrame) {
    log::warn!("non-maskable interrupt at rip={:#x}", frame.instruction_pointer.as_u64());
}

extern "x86-interrupt" fn breakpoint(frame: InterruptStackFrame) {
    log::info!("breakpoint at rip={:#x}", frame.instruction_pointer.as_u64());
}

extern "x86-interrupt" fn double_fault(frame: InterruptStackFrame, code: u64) -> ! {
    panic!(
        "exception: double fault (#DF, error code {:#x}) at rip={:#x}\n{:#?}",
        code,
        frame.instruction_pointer.as_u64(),
        frame
    );
}

extern "x86-interrupt" fn machine_check(frame: InterruptStackFrame) -> ! {
    panic!("exception: machine check (#MC) at rip={:#x}", frame.instruction_pointer.as_u64());
}

/// Resume at the fixup for a fault at `frame`'s RIP, if there is one.
fn try_fixup(frame: &mut InterruptStackFrame, fault_addr: u64) -> bool {
    match extable::fixup(frame.instruction_pointer.as_u64(), fault_addr) {
        Some(fix) => {
            // SAFETY: the fixup is a valid resume point for the faulting
            // instruction (it is the other half of the extable entry).
            unsafe { frame.as_mut().update(|f| f.instruction_pointer = x86_64::VirtAddr::new(fix)) };
            true
        }
        None => false,
    }
}

extern "x86-interrupt" fn general_protection(mut frame: InterruptStackFrame, code: u64) {
    if frame.code_segment.rpl() == x86_64::PrivilegeLevel::Ring3 {
        let access = FaultAccess { write: false, exec: false, user: true };
        (handlers::get().user_segv)(0, frame.instruction_pointer.as_u64(), access);
    }
    // A non-canonical address raises #GP, not #PF; the address is unknown.
    if try_fixup(&mut frame, 0) {
        return;
    }
    panic!(
        "exception: general protection fault (#GP, error code {:#x}) at rip={:#x}\n{:#?}",
        code,
        frame.instruction_pointer.as_u64(),
        frame
    );
}

extern "x86-interrupt" fn page_fault(mut frame: InterruptStackFrame, code: PageFaultErrorCode) {
    let cr2 = Cr2::read_raw();
    let rip = frame.instruction_pointer.as_u64();
    let from_user = code.contains(PageFaultErrorCode::USER_MODE);
    if from_user || (cr2 < mm::addr::TASK_SIZE && extable::is_user_access(rip)) {
        let access = FaultAccess {
            write: code.contains(PageFaultErrorCode::CAUSED_BY_WRITE),
            exec: code.contains(PageFaultErrorCode::INSTRUCTION_FETCH),
            user: from_user,
        };
        // The address space may sleep on mmap_lock: let the timer run.
        interrupts::enable();
        let outcome = (handlers::get().user_fault)(cr2, access);
        interrupts::disable();
        if from_user {
            if outcome == UserFault::Refused {
                (handlers::get().user_segv)(cr2, rip, access);
            }
            // Retry the access, unless the thread is to exit (an OOM
            // victim, say).
            (handlers::get().before_return_to_user)();
            return;
        }
        if matches!(outcome, UserFault::Resolved | UserFault::OutOfMemory { dying: false }) {
            return; // retry the user copy
        }
    }
    if try_fixup(&mut frame, cr2) {
        return;
    }
    panic!(
        "exception: page fault (#PF) at address cr2={:#x}, error code {:#x} ({:?}), rip={:#x}\n{:#?}",
        cr2,
        code.bits(),
        code,
        frame.instruction_pointer.as_u64(),
        frame
    );
}

extern "x86-interrupt" fn timer(frame: InterruptStackFrame) {
    apic::on_tick();
    apic::eoi();
    (handlers::get().timer_tick)();
    if frame.code_segment.rpl() == x86_64::PrivilegeLevel::Ring3 {
        (handlers::get().before_return_to_user)();
    }
}

extern "x86-interrupt" fn spurious(_frame: InterruptStackFrame) {}

static IDT: Lazy<InterruptDescriptorTable> = Lazy::new(|| {
    let mut idt = InterruptDescriptorTable::new();
    idt.divide_error.set_handler_fn(divide_error);
    idt.debug.set_handler_fn(debug);
    idt.non_maskable_interrupt.set_handler_fn(nmi);
    idt.breakpoint.set_handler_fn(breakpoint);
    idt.overflow.set_handler_fn(overflow);
    idt.bound_range_exceeded.set_handler_fn(bound_range);
    idt.invalid_opcode.set_handler_fn(invalid_opcode);
    idt.device_not_available.set_handler_fn(device_not_available);
    // SAFETY: the IST index names the double-fault stack set up in gdt::init.
    unsafe { idt.double_fault.set_handler_fn(double_fault).set_stack_index(gdt::DOUBLE_FAULT_IST_INDEX) };
    idt.invalid_tss.set_handler_fn(invalid_tss);
    idt.segment_not_present.set_handler_fn(segment_not_present);
    idt.stack_segment_fault.set_handler_fn(stack_segment);
    idt.general_protection_fault.set_handler_fn(general_protection);
    idt.page_fault.set_handler_fn(page_fault);
    idt.x87_floating_point.set_handler_fn(x87_floating_point);
    idt.alignment_check.set_handler_fn(alignment_check);
    idt.machine_check.set_handler_fn(machine_check);
    idt.simd_floating_point.set_handler_fn(simd_floating_point);
    idt.virtualization.set_handler_fn(virtualization);
    idt.cp_protection_exception.set_handler_fn(cp_protection);
    idt.hv_injection_exception.set_handler_fn(hv_injection);
    idt.vmm_communication_exception.set_handler_fn(vmm_communication);
    idt.security_exception.set_handler_fn(security);
    idt[apic::TIMER_VECTOR].set_handler_fn(timer);
    idt[apic::SPURIOUS_VECTOR].set_handler_fn(spurious);
    idt
});

/// Load the IDT.
pub fn init() {
    IDT.load();
}
