//! Exception fixups: kernel instructions that are allowed to fault.
//!
//! Like Linux's `__ex_table`, each entry pairs the address of an instruction
//! that may fault on a bad address with the address to resume at. The page
//! fault and general-protection handlers look the faulting RIP up here; on a
//! hit they record the faulting address and resume at the fixup instead of
//! panicking. This is what lets the kernel touch an address it does not
//! trust (a user pointer, or a probe in a test) and get an error back.
//!
//! Invariant: every fixup returns to its caller through the normal ABI.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Whether CR4.SMAP is on, so that `stac`/`clac` may be executed: on a CPU
/// without SMAP they raise #UD. Set once by [`set_smap_enabled`], before
/// any user copy.
static SMAP_ON: AtomicBool = AtomicBool::new(false);

/// Record that CR4.SMAP is now on: the user-copy routines lift it with
/// `stac` for the length of each access from here on.
pub fn set_smap_enabled() {
    SMAP_ON.store(true, Ordering::Relaxed);
}

/// Is SMAP on (and lifted by the user-copy routines)?
#[cfg(feature = "ktest")]
pub fn smap_enabled() -> bool {
    SMAP_ON.load(Ordering::Relaxed)
}

// STAC_IF_SMAP / CLAC_IF_SMAP test SMAP_ON (a byte) and skip `stac`/`clac`
// when SMAP is off. They clobber only RFLAGS' arithmetic flags, which no
// routine here carries across them.
core::arch::global_asm!(
    r#"
    .macro STAC_IF_SMAP
    cmp byte ptr [rip + {smap_on}], 0
    je 2f
    stac
2:
    .endm
    .macro CLAC_IF_SMAP
    cmp byte ptr [rip + {smap_on}], 0
    je 2f
    clac
2:
    .endm

    .section .text.holdfast_probe, "ax"
    .global holdfast_probe_read_u64
holdfast_probe_read_u64:
    xor edx, edx
    .global holdfast_probe_read_u64_insn
holdfast_probe_read_u64_insn:
    mov rax, qword ptr [rdi]
    ret
    .global holdfast_probe_read_u64_fixup
holdfast_probe_read_u64_fixup:
    xor eax, eax
    mov edx, 1
    ret
    .global holdfast_probe_write_u64
holdfast_probe_write_u64:
    xor edx, edx
    xor eax, eax
    .global holdfast_probe_write_u64_insn
holdfast_probe_write_u64_insn:
    mov qword ptr [rdi], rsi
    ret
    .global holdfast_probe_write_u64_fixup
holdfast_probe_write_u64_fixup:
    mov edx, 1
    ret

    // read_user_u32_nofault(addr): like the probes, but with SMAP lifted;
    // a fault is never resolved by demand paging (callers hold spin locks).
    .global holdfast_read_user_u32_nofault
holdfast_read_user_u32_nofault:
    xor edx, edx
    STAC_IF_SMAP
    .global holdfast_read_user_u32_nofault_insn
holdfast_read_user_u32_nofault_insn:
    mov eax, dword ptr [rdi]
    CLAC_IF_SMAP
    ret
    .global holdfast_read_user_u32_nofault_fixup
holdfast_read_user_u32_nofault_fixup:
    CLAC_IF_SMAP
    xor eax, eax
    mov edx, 1
    ret

    // copy_user(dst, src, len) -> bytes NOT copied. SMAP is lifted (stac)
    // only for the duration of the copy.
    .global holdfast_copy_user
holdfast_copy_user:
    mov rcx, rdx
    STAC_IF_SMAP
    .global holdfast_copy_user_insn
holdfast_copy_user_insn:
    rep movsb
    CLAC_IF_SMAP
    xor eax, eax
    ret
    .global holdfast_copy_user_fixup
holdfast_copy_user_fixup:
    CLAC_IF_SMAP
    mov rax, rcx
    ret

    .text
"#,
    smap_on = sym SMAP_ON,
);

#[repr(C)]
struct ProbeResult {
    value: u64,
    faulted: u64,
}

extern "C" {
    #[cfg(feature = "ktest")]
    fn holdfast_probe_read_u64(addr: u64) -> ProbeResult;
    #[cfg(feature = "ktest")]
    fn holdfast_probe_write_u64(addr: u64, val: u64) -> ProbeResult;
    fn holdfast_copy_user(dst: u64, src: u64, len: u64) -> u64;
    fn holdfast_read_user_u32_nofault(addr: u64) -> ProbeResult;
    static holdfast_read_user_u32_nofault_insn: u8;
    static holdfast_read_user_u32_nofault_fixup: u8;
    static holdfast_copy_user_insn: u8;
    static holdfast_copy_user_fixup: u8;
    static holdfast_probe_read_u64_insn: u8;
    static holdfast_probe_read_u64_fixup: u8;
    static holdfast_probe_write_u64_insn: u8;
    static holdfast_probe_write_u64_fixup: u8;
}

/// Address that the most recent fixed-up fault touched (CR2 for a page fault).
static LAST_FAULT_ADDR: AtomicU64 = AtomicU64::new(0);

/// A fault caught by the fixup table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// The address whose access faulted.
    pub addr: u64,
}

fn table() -> [(u64, u64); 4] {
    // Only the addresses of the assembly labels are taken.
    {
        [
            (core::ptr::addr_of!(holdfast_copy_user_insn) as u64, core::ptr::addr_of!(holdfast_copy_user_fixup) as u64),
            (
                core::ptr::addr_of!(holdfast_read_user_u32_nofault_insn) as u64,
                core::ptr::addr_of!(holdfast_read_user_u32_nofault_fixup) as u64,
            ),
            (
                core::ptr::addr_of!(holdfast_probe_read_u64_insn) as u64,
                core::ptr::addr_of!(holdfast_probe_read_u64_fixup) as u64,
            ),
            (
                core::ptr::addr_of!(holdfast_probe_write_u64_insn) as u64,
                core::ptr::addr_of!(holdfast_probe_write_u64_fixup) as u64,
            ),
        ]
    }
}

/// Fixup address for a fault at `rip`, if that instruction may fault.
/// Records `fault_addr` for the caller to report.
pub fn fixup(rip: u64, fault_addr: u64) -> Option<u64> {
    let hit = table().into_iter().find(|&(insn, _)| insn == rip)?;
    LAST_FAULT_ADDR.store(fault_addr, Ordering::Relaxed);
    Some(hit.1)
}

/// Read a u64 at `addr`, which may be unmapped: a fault becomes `Err`.
/// (The in-kernel tests' way to cause and observe faults.)
#[cfg(feature = "ktest")]
pub fn probe_read_u64(addr: u64) -> Result<u64, Fault> {
    // SAFETY: the probe dereferences `addr` at an instruction covered by the
    // fixup table, so a fault resumes at the fixup with `faulted = 1`.
    let r = unsafe { holdfast_probe_read_u64(addr) };
    if r.faulted != 0 {
        Err(Fault { addr: LAST_FAULT_ADDR.load(Ordering::Relaxed) })
    } else {
        Ok(r.value)
    }
}

/// Write a u64 at `addr`, which may be unmapped or read-only: a fault
/// becomes `Err`.
#[cfg(feature = "ktest")]
pub fn probe_write_u64(addr: u64, val: u64) -> Result<(), Fault> {
    // SAFETY: as in probe_read_u64; the caller owns whatever `addr` maps.
    let r = unsafe { holdfast_probe_write_u64(addr, val) };
    if r.faulted != 0 {
        Err(Fault { addr: LAST_FAULT_ADDR.load(Ordering::Relaxed) })
    } else {
        Ok(())
    }
}

/// The address of the most recent fault the fixup table caught (the
/// in-kernel tests' way to see that an access faulted rather than being
/// refused before it was made).
#[cfg(feature = "ktest")]
pub fn last_fault_addr() -> u64 {
    LAST_FAULT_ADDR.load(Ordering::Relaxed)
}

/// Is `rip` an instruction that copies to or from user memory (so that a
/// page fault there should first try to fault the user page in)?
pub fn is_user_access(rip: u64) -> bool {
    let t = table();
    rip == t[0].0
}

/// Copy `len` bytes from `src` to `dst`, either of which may be a user
/// address; returns the number of bytes NOT copied (0 on success).
///
/// # Safety
/// The kernel side of the copy must be valid for `len` bytes. The user
/// side is checked by the caller to lie below the user-space limit; faults
/// on it are caught.
pub unsafe fn copy_user_raw(dst: u64, src: u64, len: u64) -> u64 {
    // SAFETY: forwarded to the caller; faults resume at the fixup.
    unsafe { holdfast_copy_user(dst, src, len) }
}

/// Read a u32 at user address `addr` without sleeping: a fault (page not
/// present) is an error, never resolved. For use under spin locks.
pub fn read_user_u32_nofault(addr: u64) -> Result<u32, Fault> {
    if addr.checked_add(4).is_none_or(|e| e > mm::addr::TASK_SIZE) {
        return Err(Fault { addr });
    }
    // SAFETY: the address is in the user half; a fault resumes at the fixup.
    let r = unsafe { holdfast_read_user_u32_nofault(addr) };
    if r.faulted != 0 {
        Err(Fault { addr })
    } else {
        Ok(r.value as u32)
    }
}
