//! Interrupt and exception entry: one small stub per vector and one common
//! path that saves every register into a [`TrapFrame`], swaps GS when the
//! CPU came from ring 3, and calls [`super::idt::dispatch`].
//!
//! The stubs exist for the GS swap: kernel code finds its per-CPU block at
//! `gs:0` ([`super::percpu`]), so an entry from ring 3 must `swapgs` before
//! any Rust runs, and the way back to ring 3 must `swapgs` again right
//! before `iretq`. Whether the CPU came from ring 3 is read from the saved
//! CS, on the way in and on the way out.
//!
//! Every return to ring 3 first runs the registered
//! `before_return_to_user` on the saved registers (signal delivery).
//!
//! Locking: none; the CPU enters with interrupts disabled (every IDT gate
//! is an interrupt gate) and the common path returns with them disabled.

use super::syscall::UserFrame;

/// Registers of an interrupted context, as the common entry path saves
/// them. The first fifteen fields are laid out as in
/// [`super::syscall::UserFrame`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct TrapFrame {
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
    /// The vector number (pushed by the stub).
    pub vector: u64,
    /// The CPU's error code, or 0 for vectors without one.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl TrapFrame {
    /// Did the CPU come from ring 3?
    pub fn came_from_user(&self) -> bool {
        self.cs & 3 == 3
    }

    /// The registers as a [`UserFrame`].
    fn user_frame(&self) -> UserFrame {
        let f = self;
        UserFrame {
            r15: f.r15,
            r14: f.r14,
            r13: f.r13,
            r12: f.r12,
            r11: f.r11,
            r10: f.r10,
            r9: f.r9,
            r8: f.r8,
            rbp: f.rbp,
            rdi: f.rdi,
            rsi: f.rsi,
            rdx: f.rdx,
            rcx: f.rcx,
            rbx: f.rbx,
            rax: f.rax,
            rip: f.rip,
            cs: f.cs,
            rflags: f.rflags,
            rsp: f.rsp,
            ss: f.ss,
        }
    }

    /// Take the registers of `u`.
    fn set_user_frame(&mut self, u: &UserFrame) {
        (self.r15, self.r14, self.r13, self.r12, self.r11, self.r10, self.r9, self.r8) =
            (u.r15, u.r14, u.r13, u.r12, u.r11, u.r10, u.r9, u.r8);
        (self.rbp, self.rdi, self.rsi, self.rdx, self.rcx, self.rbx, self.rax) = (u.rbp, u.rdi, u.rsi, u.rdx, u.rcx, u.rbx, u.rax);
        (self.rip, self.cs, self.rflags, self.rsp, self.ss) = (u.rip, u.cs, u.rflags, u.rsp, u.ss);
    }
}

macro_rules! stubs {
    (no_code: $($v:literal)*; code: $($e:literal)*) => {
        core::arch::global_asm!(
            $(
                concat!("holdfast_isr_", $v, ":"),
                "push 0",
                concat!("push ", $v),
                "jmp holdfast_isr_common",
            )*
            $(
                concat!("holdfast_isr_", $e, ":"),
                concat!("push ", $e),
                "jmp holdfast_isr_common",
            )*
            ".pushsection .data.rel.ro.holdfast_isr_table, \"aw\"",
            ".balign 8",
            ".global holdfast_isr_table",
            "holdfast_isr_table:",
            $( concat!(".quad holdfast_isr_", $v), )*
            $( concat!(".quad holdfast_isr_", $e), )*
            ".popsection",
        );
        /// Vectors that have a stub, in the order of `holdfast_isr_table`.
        const STUB_VECTORS: &[u8] = &[$($v,)* $($e),*];
    };
}

// The CPU pushes an error code for 8, 10-14, 17, 21, 29 and 30; the stubs
// of the others push a 0 in its place, so every frame has the same shape.
stubs!(no_code: 0 1 2 3 4 5 6 7 9 15 16 18 19 20 22 23 24 25 26 27 28 31 32 36 240 241 242 243 255;
       code: 8 10 11 12 13 14 17 21 29 30);

core::arch::global_asm!(
    r#"
    .global holdfast_isr_common
holdfast_isr_common:
    test byte ptr [rsp + 24], 3
    jz 1f
    swapgs
1:
"#,
    super::syscall::push_general_registers!(),
    r#"
    mov rdi, rsp
    cld
    call {dispatch}
"#,
    super::syscall::pop_general_registers!(),
    r#"
    test byte ptr [rsp + 24], 3
    jz 2f
    swapgs
2:
    add rsp, 16
    iretq
"#,
    dispatch = sym trap_entry_rust,
);

extern "C" {
    static holdfast_isr_table: [u64; STUB_VECTORS.len()];
}

extern "C" fn trap_entry_rust(frame: &mut TrapFrame) {
    super::idt::dispatch(frame);
    // Back to ring 3: signals first (never inside an NMI, which stays
    // blocked until its `iretq`).
    if frame.came_from_user() && frame.vector != 2 {
        let mut u = frame.user_frame();
        (super::handlers::get().before_return_to_user)(&mut u);
        frame.set_user_frame(&u);
    }
    // Back to the interrupted context with interrupts disabled: the
    // `iretq` restores its flags.
    x86_64::instructions::interrupts::disable();
}

/// Each stubbed vector with the address of its stub.
pub fn stubs() -> impl Iterator<Item = (u8, u64)> {
    // SAFETY: the table is read-only data emitted above, one entry per
    // vector in STUB_VECTORS.
    let table = unsafe { &*core::ptr::addr_of!(holdfast_isr_table) };
    STUB_VECTORS.iter().copied().zip(table.iter().copied())
}
