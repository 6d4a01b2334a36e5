//! The context switch: save callee-saved registers on the old thread's
//! kernel stack, switch stacks, restore the new thread's registers.
//!
//! A new thread's stack is prepared by [`initial_stack`] so that its first
//! switch "returns" into `holdfast_thread_start`, which calls the thread's
//! entry function with its argument.

core::arch::global_asm!(
    r#"
    .global holdfast_switch_context
holdfast_switch_context:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov rsp, rsi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

    .global holdfast_thread_start
holdfast_thread_start:
    mov rdi, r13
    call r12
    ud2
"#
);

extern "C" {
    fn holdfast_switch_context(prev_rsp: *mut u64, next_rsp: u64);
    fn holdfast_thread_start();
}

/// Entry function of a new kernel thread; it must never return.
pub type ThreadEntry = extern "C" fn(arg: u64) -> !;

/// Lay out the first frame of a new thread on the stack ending at `top`
/// and return the saved stack pointer for it.
pub fn initial_stack(top: u64, entry: ThreadEntry, arg: u64) -> u64 {
    // The frame popped by holdfast_switch_context: r15 r14 r13 r12 rbx rbp,
    // then the return address; after `ret`, rsp points at the last word and
    // must be 16-byte aligned for the `call` inside holdfast_thread_start.
    let words: [u64; 8] = [0, 0, arg, entry as *const () as u64, 0, 0, holdfast_thread_start as *const () as u64, 0];
    let rsp = (top & !0xF) - 8 * words.len() as u64 - 8;
    // SAFETY: [rsp, top) lies inside the new thread's stack, which nothing
    // else uses yet.
    unsafe { core::ptr::copy_nonoverlapping(words.as_ptr(), rsp as *mut u64, words.len()) };
    rsp
}

/// Switch from the current thread (saving its stack pointer into `*prev_rsp`)
/// to the thread whose saved stack pointer is `next_rsp`.
///
/// # Safety
/// Interrupts must be disabled; `prev_rsp` must point at the current
/// thread's save slot and `next_rsp` be a value saved by this function or
/// made by [`initial_stack`], whose stack is still alive.
pub unsafe fn switch_context(prev_rsp: *mut u64, next_rsp: u64) {
    // SAFETY: forwarded to the caller.
    unsafe { holdfast_switch_context(prev_rsp, next_rsp) }
}
