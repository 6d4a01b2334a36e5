//! Interrupt descriptor table and what each vector does: every CPU
//! exception, the APIC timer, the inter-processor interrupts and the
//! spurious vector.
//!
//! Every gate points at a stub of [`super::entry`], which saves the
//! registers (swapping GS on entry from ring 3) and calls [`dispatch`].
//!
//! A fault at an instruction listed in [`super::extable`] resumes at its
//! fixup; any other exception in the kernel is a kernel bug and panics with
//! the vector's name, the error code and the interrupted RIP (for a page
//! fault also CR2 and the decoded error bits). Double faults run on their
//! own IST stack so that a kernel stack overflow is still reported.
//!
//! What happens next for an exception raised by ring 3, a user page fault,
//! a timer tick or a reschedule IPI is the business of the layers above;
//! the handlers here call them through [`super::handlers`].
//!
//! Locking: one IDT, built once on the boot CPU and loaded by every CPU;
//! handlers run with interrupts off unless they enable them (the page
//! fault handler does, to let resolving a fault sleep).

use spin::Lazy;
use x86_64::registers::control::Cr2;
use x86_64::structures::idt::{InterruptDescriptorTable, PageFaultErrorCode};
use x86_64::VirtAddr;

use super::entry::TrapFrame;
use super::handlers::{self, FaultAccess, TrapInfo, UserFault};
use super::{apic, extable, gdt};
use x86_64::instructions::interrupts;

/// `si_code` of a signal the kernel raises itself.
const SI_KERNEL: i32 = 0x80;

/// The signal an exception raised by ring 3 forces: (signal, `si_code`,
/// `si_addr`), as Linux's trap handlers send them.
fn exception_signal(frame: &TrapFrame) -> (u8, i32, u64) {
    match frame.vector {
        0 => (8, 1, frame.rip), // SIGFPE, FPE_INTDIV
        6 => (4, 2, frame.rip), // SIGILL, ILL_ILLOPN
        17 => (7, 1, 0),        // SIGBUS, BUS_ADRALN
        v => (exception_info(v).1, SI_KERNEL, 0),
    }
}

/// The trap details of `frame` for the signal frame.
fn trap_info(frame: &TrapFrame, cr2: u64) -> TrapInfo {
    TrapInfo { trapno: frame.vector, error_code: frame.error_code, cr2 }
}

/// Name and signal of each exception that is fatal in the kernel and
/// signals the process that raised it in ring 3.
fn exception_info(vector: u64) -> (&'static str, u8) {
    match vector {
        0 => ("divide error (#DE)", 8),
        1 => ("debug (#DB)", 5),
        4 => ("overflow (#OF)", 11),
        5 => ("bound range exceeded (#BR)", 11),
        6 => ("invalid opcode (#UD)", 4),
        7 => ("device not available (#NM)", 4),
        10 => ("invalid TSS (#TS)", 11),
        11 => ("segment not present (#NP)", 7),
        12 => ("stack-segment fault (#SS)", 7),
        16 => ("x87 floating point (#MF)", 8),
        17 => ("alignment check (#AC)", 7),
        19 => ("SIMD floating point (#XM)", 8),
        20 => ("virtualization (#VE)", 9),
        21 => ("control protection (#CP)", 11),
        28 => ("hypervisor injection (#HV)", 9),
        29 => ("VMM communication (#VC)", 9),
        30 => ("security exception (#SX)", 9),
        _ => ("unexpected vector", 11),
    }
}

/// Called by the common entry path for every vector, interrupts disabled.
pub(super) fn dispatch(frame: &mut TrapFrame) {
    match frame.vector {
        2 => nmi(frame),
        // int3 in ring 3: SIGTRAP (Linux `do_int3_user`).
        3 if frame.came_from_user() => (handlers::get().user_signal)(5, SI_KERNEL, 0, trap_info(frame, 0)),
        3 => log::info!("breakpoint at rip={:#x}", frame.rip),
        8 => panic!("exception: double fault (#DF, error code {:#x}) at rip={:#x}\n{:#x?}", frame.error_code, frame.rip, frame),
        13 => general_protection(frame),
        14 => page_fault(frame),
        18 => panic!("exception: machine check (#MC) at rip={:#x}", frame.rip),
        v if v == apic::TIMER_VECTOR as u64 => timer(),
        v if v == apic::RESCHEDULE_VECTOR as u64 => {
            apic::eoi();
            (handlers::get().reschedule)();
        }
        v if v == apic::TLB_FLUSH_VECTOR as u64 => {
            super::tlb::handle_flush_ipi();
            apic::eoi();
        }
        v if v == apic::STOP_VECTOR as u64 => super::smp::stop_this_cpu(),
        v if v == super::ioapic::COM1_VECTOR as u64 => {
            (handlers::get().console_irq)();
            apic::eoi();
        }
        v if v == apic::SPURIOUS_VECTOR as u64 => {}
        v => {
            let (what, _) = exception_info(v);
            if frame.came_from_user() {
                let (sig, code, addr) = exception_signal(frame);
                (handlers::get().user_signal)(sig, code, addr, trap_info(frame, 0));
                return;
            }
            panic!(
                "exception: {} (vector {}, error code {:#x}) at rip={:#x}\n{:#x?}",
                what, v, frame.error_code, frame.rip, frame
            );
        }
    }
}

/// An NMI is the hardware's, not the interrupted program's: report it and
/// go on (Holdfast enables no NMI source itself). A CPU told to stop by a
/// panic elsewhere stops here too.
fn nmi(frame: &TrapFrame) {
    if super::smp::stopping() {
        super::smp::stop_this_cpu();
    }
    log::warn!("non-maskable interrupt at rip={:#x}", frame.rip);
}

/// Resume at the fixup for a fault at `frame`'s RIP, if there is one.
fn try_fixup(frame: &mut TrapFrame, fault_addr: u64) -> bool {
    match extable::fixup(frame.rip, fault_addr) {
        Some(fix) => {
            frame.rip = fix;
            true
        }
        None => false,
    }
}

fn general_protection(frame: &mut TrapFrame) {
    if frame.came_from_user() {
        (handlers::get().user_signal)(11, SI_KERNEL, 0, trap_info(frame, 0));
        return;
    }
    // A non-canonical address raises #GP, not #PF; the address is unknown.
    if try_fixup(frame, 0) {
        return;
    }
    panic!(
        "exception: general protection fault (#GP, error code {:#x}) at rip={:#x}\n{:#x?}",
        frame.error_code, frame.rip, frame
    );
}

fn page_fault(frame: &mut TrapFrame) {
    let cr2 = Cr2::read_raw();
    let rip = frame.rip;
    let code = PageFaultErrorCode::from_bits_truncate(frame.error_code);
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
            match outcome {
                UserFault::Refused { accerr } => {
                    // SIGSEGV, SEGV_ACCERR or SEGV_MAPERR.
                    let code = if accerr { 2 } else { 1 };
                    (handlers::get().user_signal)(11, code, cr2, trap_info(frame, cr2));
                }
                // SIGBUS, BUS_ADRERR.
                UserFault::SigBus => (handlers::get().user_signal)(7, 2, cr2, trap_info(frame, cr2)),
                _ => {}
            }
            // Otherwise retry the access, unless the thread is to exit (an
            // OOM victim, say): the way back to ring 3 sees to both.
            return;
        }
        if matches!(outcome, UserFault::Resolved | UserFault::OutOfMemory { dying: false }) {
            return; // retry the user copy
        }
    }
    if try_fixup(frame, cr2) {
        return;
    }
    panic!(
        "exception: page fault (#PF) at address cr2={:#x}, error code {:#x} ({:?}), rip={:#x}\n{:#x?}",
        cr2,
        code.bits(),
        code,
        frame.rip,
        frame
    );
}

fn timer() {
    apic::on_tick();
    apic::eoi();
    (handlers::get().timer_tick)();
}

static IDT: Lazy<InterruptDescriptorTable> = Lazy::new(|| {
    let mut idt = InterruptDescriptorTable::new();
    for (vector, stub) in super::entry::stubs() {
        let addr = VirtAddr::new(stub);
        // SAFETY: each stub is an interrupt entry point that saves every
        // register, handles the vector and returns with `iretq`, with or
        // without an error code on the stack as the vector has.
        unsafe {
            match vector {
                0 => idt.divide_error.set_handler_addr(addr),
                1 => idt.debug.set_handler_addr(addr),
                2 => idt.non_maskable_interrupt.set_handler_addr(addr),
                // int3 is allowed from ring 3 (a DPL 3 gate, as Linux's),
                // where it raises SIGTRAP.
                3 => idt.breakpoint.set_handler_addr(addr).set_privilege_level(x86_64::PrivilegeLevel::Ring3),
                4 => idt.overflow.set_handler_addr(addr),
                5 => idt.bound_range_exceeded.set_handler_addr(addr),
                6 => idt.invalid_opcode.set_handler_addr(addr),
                7 => idt.device_not_available.set_handler_addr(addr),
                // The IST index names the double-fault stack of gdt::init.
                8 => idt.double_fault.set_handler_addr(addr).set_stack_index(gdt::DOUBLE_FAULT_IST_INDEX),
                10 => idt.invalid_tss.set_handler_addr(addr),
                11 => idt.segment_not_present.set_handler_addr(addr),
                12 => idt.stack_segment_fault.set_handler_addr(addr),
                13 => idt.general_protection_fault.set_handler_addr(addr),
                14 => idt.page_fault.set_handler_addr(addr),
                16 => idt.x87_floating_point.set_handler_addr(addr),
                17 => idt.alignment_check.set_handler_addr(addr),
                18 => idt.machine_check.set_handler_addr(addr),
                19 => idt.simd_floating_point.set_handler_addr(addr),
                20 => idt.virtualization.set_handler_addr(addr),
                21 => idt.cp_protection_exception.set_handler_addr(addr),
                28 => idt.hv_injection_exception.set_handler_addr(addr),
                29 => idt.vmm_communication_exception.set_handler_addr(addr),
                30 => idt.security_exception.set_handler_addr(addr),
                v if v >= 32 => idt[v].set_handler_addr(addr),
                _ => continue, // reserved vectors stay not-present
            };
        }
    }
    idt
});

/// Load the IDT on this CPU.
pub fn init() {
    IDT.load();
}
