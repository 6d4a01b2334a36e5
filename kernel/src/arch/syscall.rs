//! The `syscall` instruction's entry path and the way back to ring 3.
//!
//! `syscall` arrives with interrupts masked (SFMASK clears IF, TF, DF and
//! AC) on the user stack. The entry stub swaps in the kernel's GS base,
//! switches to the current thread's kernel stack (published in this CPU's
//! [`super::percpu::PerCpu::kernel_rsp`] by the scheduler),
//! pushes a [`UserFrame`] — an `iretq` frame plus every general register —
//! and calls the registered system-call handler
//! ([`super::handlers::Handlers::syscall`]) with interrupts enabled. Every
//! return to ring 3 (after a syscall, for a new thread or process, after a
//! signal) pops a `UserFrame`, swaps the user's GS base back and executes
//! `iretq`.
//!
//! Locking: the per-CPU scratch word is used only with interrupts masked,
//! on its own CPU.

use core::sync::atomic::Ordering;
use x86_64::registers::model_specific::{Efer, EferFlags, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;
use x86_64::VirtAddr;

/// Registers of a thread in ring 3, as saved on its kernel stack.
/// Field order is the push order of the entry stub, reversed.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct UserFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// The assembly that pushes the fifteen general registers in the order
/// that makes them the first fields of a [`UserFrame`] (and of
/// [`super::entry::TrapFrame`]), for every entry path.
macro_rules! push_general_registers {
    () => {
        "push rax\n push rbx\n push rcx\n push rdx\n push rsi\n push rdi\n push rbp\n push r8\n push r9\n push r10\n push r11\n push r12\n push r13\n push r14\n push r15\n"
    };
}
pub(super) use push_general_registers;

/// The inverse of [`push_general_registers`]: restore the fifteen general
/// registers from the top of the stack.
macro_rules! pop_general_registers {
    () => {
        "pop r15\n pop r14\n pop r13\n pop r12\n pop r11\n pop r10\n pop r9\n pop r8\n pop rbp\n pop rdi\n pop rsi\n pop rdx\n pop rcx\n pop rbx\n pop rax\n"
    };
}
pub(super) use pop_general_registers;

core::arch::global_asm!(
    r#"
    .global holdfast_syscall_entry
holdfast_syscall_entry:
    swapgs
    mov gs:[{user_rsp}], rsp
    mov rsp, gs:[{kernel_rsp}]
    push 0x1b
    push qword ptr gs:[{user_rsp}]
    push r11
    push 0x23
    push rcx
"#,
    push_general_registers!(),
    r#"
    mov rdi, rsp
    sti
    call {dispatch}
    cli
    jmp holdfast_return_to_user

    .global holdfast_return_to_user
holdfast_return_to_user:
"#,
    pop_general_registers!(),
    r#"
    swapgs
    iretq
"#,
    dispatch = sym syscall_entry_rust,
    user_rsp = const super::percpu::USER_RSP_OFFSET,
    kernel_rsp = const super::percpu::KERNEL_RSP_OFFSET,
);

extern "C" {
    fn holdfast_syscall_entry();
}

extern "C" fn syscall_entry_rust(frame: &mut UserFrame) {
    let h = super::handlers::get();
    (h.syscall)(frame);
    (h.before_return_to_user)(frame);
}

/// Program STAR/LSTAR/SFMASK and enable `syscall` (EFER.SCE) on this CPU.
pub fn init() {
    let sel = super::gdt::selectors();
    Star::write(sel.user_code, sel.user_data, sel.kernel_code, sel.kernel_data).expect("GDT layout fits STAR");
    LStar::write(VirtAddr::new(holdfast_syscall_entry as *const () as u64));
    SFMask::write(RFlags::INTERRUPT_FLAG | RFlags::TRAP_FLAG | RFlags::DIRECTION_FLAG | RFlags::ALIGNMENT_CHECK);
    // SAFETY: enabling SCE only makes the syscall instruction usable.
    unsafe { Efer::update(|f| f.insert(EferFlags::SYSTEM_CALL_EXTENSIONS)) };
}

/// Publish the kernel stack the next syscall of the running thread uses
/// on this CPU. Interrupts disabled.
pub fn set_kernel_rsp(top: u64) {
    super::percpu::this_cpu().kernel_rsp.store(top, Ordering::Relaxed);
}

/// Build a frame entering ring 3 at `rip` with stack `rsp`.
pub fn new_user_frame(rip: u64, rsp: u64) -> UserFrame {
    UserFrame { rip, rsp, cs: 0x23, ss: 0x1b, rflags: (RFlags::INTERRUPT_FLAG).bits() | 0x2, ..Default::default() }
}

/// Enter ring 3 with `frame`, which must lie at the top of the current
/// thread's kernel stack (so that later entries reuse the same stack).
///
/// # Safety
/// `frame` must be a valid user frame placed at the top of the running
/// thread's kernel stack; nothing below it on the stack is used again.
pub unsafe fn enter_user(frame: *const UserFrame) -> ! {
    // SAFETY: forwarded to the caller; interrupts are disabled across the
    // stack switch so no interrupt lands on a half-built frame.
    unsafe {
        core::arch::asm!(
            "cli",
            "mov rsp, {0}",
            "jmp holdfast_return_to_user",
            in(reg) frame,
            options(noreturn)
        )
    }
}
