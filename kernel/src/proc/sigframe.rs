//! The x86_64 signal frame (Linux `arch/x86/kernel/signal_64.c`):
//! built on the user stack (or the alternate stack) before a handler runs,
//! read back by `rt_sigreturn`.
//!
//! Layout, from the handler's RSP up (Linux `struct rt_sigframe`):
//! `pretcode` (the return address: `sa_restorer`, which calls
//! `rt_sigreturn`), `struct ucontext` (`uc_flags`, `uc_link`, `uc_stack`,
//! `uc_mcontext` = `struct sigcontext` with every register, the trap
//! details and a pointer to the FPU state, `uc_sigmask`), `siginfo_t`,
//! and above them, 64-byte aligned, the 512-byte `fxsave` image. RSP + 8
//! is 16-byte aligned at the handler's entry, as after a `call`; 128 bytes
//! below the interrupted RSP are left alone (the ABI's red zone).
//!
//! Everything `rt_sigreturn` reads is sanitized: the code and stack
//! segments are always the user ones, RFLAGS takes only the bits a
//! program may set, RIP and RSP must be canonical, MXCSR only bits the CPU
//! has; a frame that is unreadable or fails these checks is a SIGSEGV
//! for the process, never a fault in the kernel.
//!
//! Locking: none beyond the signal lock taken by the callees; user
//! copies may fault and sleep.

use mm::Errno;

use super::signal::{self, AltStack, SigAction, SigInfo, SigSet, TrapInfo, SA_ONSTACK, SA_RESTORER, SS_AUTODISARM};
use crate::arch::fpu::{self, FxArea};
use crate::arch::syscall::UserFrame;
use crate::uaccess::{copy_from_user, copy_to_user};

/// `sizeof(struct rt_sigframe)`: pretcode 8, ucontext 304, siginfo 128.
const FRAME_SIZE: u64 = 440;
/// Offsets in the frame.
const UC: usize = 8;
const UC_STACK: usize = UC + 16;
const MCONTEXT: usize = UC + 40;
const SIGMASK: usize = MCONTEXT + 256;
const INFO: usize = SIGMASK + 8;
/// Offsets in `struct sigcontext`, in 8-byte words.
const SC_R8: usize = 0;
const SC_RDI: usize = 8;
const SC_RSI: usize = 9;
const SC_RBP: usize = 10;
const SC_RBX: usize = 11;
const SC_RDX: usize = 12;
const SC_RAX: usize = 13;
const SC_RCX: usize = 14;
const SC_RSP: usize = 15;
const SC_RIP: usize = 16;
const SC_EFLAGS: usize = 17;
const SC_SEGS: usize = 18;
const SC_ERR: usize = 19;
const SC_TRAPNO: usize = 20;
const SC_OLDMASK: usize = 21;
const SC_CR2: usize = 22;
const SC_FPSTATE: usize = 23;
/// `uc_flags`: the frame saved SS, and `rt_sigreturn` restores it.
const UC_SIGCONTEXT_SS: u64 = 0x2;
const UC_STRICT_RESTORE_SS: u64 = 0x4;
/// The ABI's red zone below RSP.
const RED_ZONE: u64 = 128;
/// RFLAGS bits `rt_sigreturn` takes from the frame (Linux `FIX_EFLAGS`):
/// AC, OF, DF, TF, SF, ZF, AF, PF, CF, RF.
const FIX_EFLAGS: u64 = (1 << 18) | (1 << 11) | (1 << 10) | (1 << 8) | (1 << 7) | (1 << 6) | (1 << 4) | (1 << 2) | 1 | (1 << 16);
/// RFLAGS bits cleared for the handler: DF, RF, TF.
const HANDLER_CLEARS: u64 = (1 << 10) | (1 << 16) | (1 << 8);

fn put(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

fn is_canonical(a: u64) -> bool {
    (a as i64) << 16 >> 16 == a as i64
}

/// Write the frame for `info`'s handler and point `regs` at the handler
/// (Linux `x64_setup_rt_frame`). `blocked` is the mask the handler's
/// return restores; `alt` the thread's alternate stack (disarmed here if
/// it asked for `SS_AUTODISARM`). `Err` if the frame cannot be written:
/// the caller forces SIGSEGV (Linux `force_sigsegv`).
pub fn setup_rt_frame(
    regs: &mut UserFrame,
    info: &SigInfo,
    act: &SigAction,
    blocked: SigSet,
    alt: &mut AltStack,
    trap: &TrapInfo,
) -> Result<(), ()> {
    // x86_64 libcs always pass a restorer; without one the handler
    // could not return (Linux fails the frame).
    if act.flags & SA_RESTORER == 0 {
        return Err(());
    }
    let nested = alt.on_stack(regs.rsp);
    let mut sp = regs.rsp.wrapping_sub(RED_ZONE);
    let mut entering = false;
    if act.flags & SA_ONSTACK != 0 && alt.mode_for(sp) == 0 {
        sp = alt.sp.wrapping_add(alt.size);
        entering = true;
    }
    let fx_at = (sp.wrapping_sub(512)) & !63;
    let frame_at = ((fx_at.wrapping_sub(FRAME_SIZE)) & !15).wrapping_sub(8);
    if (nested || entering) && !alt.on_stack(frame_at) {
        return Err(()); // it would overflow the alternate stack
    }
    let fx = fpu::save_user();
    copy_to_user(fx_at, &fx.0).map_err(|_| ())?;

    let mut b = [0u8; FRAME_SIZE as usize];
    put(&mut b, 0, act.restorer);
    put(&mut b, UC, UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS);
    put(&mut b, UC + 8, 0);
    put(&mut b, UC_STACK, alt.sp);
    b[UC_STACK + 8..UC_STACK + 12].copy_from_slice(&(alt.mode_for(regs.rsp) | (alt.flags & SS_AUTODISARM)).to_le_bytes());
    put(&mut b, UC_STACK + 16, alt.size);
    let sc = |w: usize| MCONTEXT + 8 * w;
    let gprs = [regs.r8, regs.r9, regs.r10, regs.r11, regs.r12, regs.r13, regs.r14, regs.r15];
    for (i, v) in gprs.into_iter().enumerate() {
        put(&mut b, sc(SC_R8 + i), v);
    }
    put(&mut b, sc(SC_RDI), regs.rdi);
    put(&mut b, sc(SC_RSI), regs.rsi);
    put(&mut b, sc(SC_RBP), regs.rbp);
    put(&mut b, sc(SC_RBX), regs.rbx);
    put(&mut b, sc(SC_RDX), regs.rdx);
    put(&mut b, sc(SC_RAX), regs.rax);
    put(&mut b, sc(SC_RCX), regs.rcx);
    put(&mut b, sc(SC_RSP), regs.rsp);
    put(&mut b, sc(SC_RIP), regs.rip);
    put(&mut b, sc(SC_EFLAGS), regs.rflags);
    // cs, gs, fs, ss (16 bits each).
    put(&mut b, sc(SC_SEGS), (regs.cs & 0xFFFF) | (regs.ss & 0xFFFF) << 48);
    put(&mut b, sc(SC_ERR), trap.error_code);
    put(&mut b, sc(SC_TRAPNO), trap.trapno);
    put(&mut b, sc(SC_OLDMASK), blocked);
    put(&mut b, sc(SC_CR2), trap.cr2);
    put(&mut b, sc(SC_FPSTATE), fx_at);
    put(&mut b, SIGMASK, blocked);
    b[INFO..INFO + 128].copy_from_slice(&info.to_bytes());
    copy_to_user(frame_at, &b).map_err(|_| ())?;

    if alt.flags & SS_AUTODISARM != 0 && entering {
        *alt = AltStack::default();
    }
    regs.rdi = u64::from(info.signo);
    regs.rax = 0;
    regs.rsi = frame_at + INFO as u64;
    regs.rdx = frame_at + UC as u64;
    regs.rip = act.handler;
    regs.rsp = frame_at;
    regs.rflags &= !HANDLER_CLEARS;
    let user = crate::arch::syscall::new_user_frame(0, 0);
    regs.cs = user.cs;
    regs.ss = user.ss;
    // The handler starts from a clean FPU state.
    fpu::reset_user();
    Ok(())
}

/// `rt_sigreturn`: restore the registers, blocked mask, FPU state and
/// alternate stack from the frame the handler's return left at RSP - 8.
/// Returns the restored RAX. A bad frame forces SIGSEGV (and returns 0).
pub fn sys_rt_sigreturn(regs: &mut UserFrame) -> Result<u64, Errno> {
    let frame_at = regs.rsp.wrapping_sub(8);
    match restore(regs, frame_at) {
        Ok(rax) => Ok(rax),
        Err(()) => {
            crate::kprintln!("holdfast: pid {}: bad signal frame at {:#x} in rt_sigreturn", super::current().pid, frame_at);
            signal::force_signal(SigInfo::kernel(signal::SIGSEGV));
            Ok(0)
        }
    }
}

fn restore(regs: &mut UserFrame, frame_at: u64) -> Result<u64, ()> {
    // Whatever a handler interrupted is not continued by a later
    // `restart_syscall` (Linux sets `do_no_restart_syscall`).
    signal::with_current(|t| t.restart = None);
    let mut b = [0u8; FRAME_SIZE as usize];
    copy_from_user(&mut b, frame_at).map_err(|_| ())?;
    signal::set_current_blocked(get(&b, SIGMASK));
    let sc = |w: usize| MCONTEXT + 8 * w;
    let rip = get(&b, sc(SC_RIP));
    let rsp = get(&b, sc(SC_RSP));
    if !is_canonical(rip) || !is_canonical(rsp) || rip >= mm::addr::TASK_SIZE {
        return Err(());
    }
    // The FPU image first: nothing is changed if it is bad.
    let fpstate = get(&b, sc(SC_FPSTATE));
    let fx = if fpstate == 0 {
        None
    } else {
        let mut fx = FxArea::zeroed();
        copy_from_user(&mut fx.0, fpstate).map_err(|_| ())?;
        Some(fx)
    };
    let mut n = *regs;
    let g = |w: usize| get(&b, sc(w));
    n.r8 = g(SC_R8);
    n.r9 = g(SC_R8 + 1);
    n.r10 = g(SC_R8 + 2);
    n.r11 = g(SC_R8 + 3);
    n.r12 = g(SC_R8 + 4);
    n.r13 = g(SC_R8 + 5);
    n.r14 = g(SC_R8 + 6);
    n.r15 = g(SC_R8 + 7);
    n.rdi = g(SC_RDI);
    n.rsi = g(SC_RSI);
    n.rbp = g(SC_RBP);
    n.rbx = g(SC_RBX);
    n.rdx = g(SC_RDX);
    n.rax = g(SC_RAX);
    n.rcx = g(SC_RCX);
    n.rsp = rsp;
    n.rip = rip;
    n.rflags = (regs.rflags & !FIX_EFLAGS) | (g(SC_EFLAGS) & FIX_EFLAGS);
    let user = crate::arch::syscall::new_user_frame(0, 0);
    n.cs = user.cs;
    n.ss = user.ss;
    match fx {
        None => fpu::reset_user(),
        Some(fx) => fpu::restore_user(&fx)?,
    }
    *regs = n;
    // `restore_altstack`: as sigaltstack from the restored stack; only a
    // fault counts (Linux squashes the other errors).
    let ss_sp = get(&b, UC_STACK);
    let ss_flags = u32::from_le_bytes([b[UC_STACK + 8], b[UC_STACK + 9], b[UC_STACK + 10], b[UC_STACK + 11]]);
    let ss_size = get(&b, UC_STACK + 16);
    let _ = do_sigaltstack(Some(AltStack { sp: ss_sp, size: ss_size, flags: ss_flags }), regs.rsp);
    Ok(regs.rax)
}

/// `sigaltstack`'s core (Linux `do_sigaltstack`): the old stack as
/// reported at `sp` (the caller's user RSP), then the new one set: `EPERM`
/// while running on the current one, `EINVAL` for unknown flags, `ENOMEM`
/// below `MINSIGSTKSZ`. `new.flags` holds the caller's `ss_flags`.
pub fn do_sigaltstack(new: Option<AltStack>, sp: u64) -> Result<AltStack, Errno> {
    signal::with_current(|t| {
        let cur = t.altstack;
        let old = AltStack { sp: cur.sp, size: cur.size, flags: cur.mode_for(sp) | (cur.flags & SS_AUTODISARM) };
        if let Some(n) = new {
            if cur.on_stack(sp) {
                return Err(Errno::EPERM);
            }
            let mode = n.flags & !SS_AUTODISARM;
            if mode != signal::SS_DISABLE && mode != signal::SS_ONSTACK && mode != 0 {
                return Err(Errno::EINVAL);
            }
            if mode == signal::SS_DISABLE {
                t.altstack = AltStack::default();
            } else {
                if n.size < signal::MINSIGSTKSZ {
                    return Err(Errno::ENOMEM);
                }
                t.altstack = AltStack { sp: n.sp, size: n.size, flags: n.flags & SS_AUTODISARM };
            }
        }
        Ok(old)
    })
}
