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

use core::sync::atomic::{AtomicU64, Ordering};

core::arch::global_asm!(
    r#"
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
    .text
"#
);

#[repr(C)]
struct ProbeResult {
    value: u64,
    faulted: u64,
}

extern "C" {
    fn holdfast_probe_read_u64(addr: u64) -> ProbeResult;
    fn holdfast_probe_write_u64(addr: u64, val: u64) -> ProbeResult;
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

fn table() -> [(u64, u64); 2] {
    // Only the addresses of the assembly labels are taken.
    {
        [
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
pub fn probe_write_u64(addr: u64, val: u64) -> Result<(), Fault> {
    // SAFETY: as in probe_read_u64; the caller owns whatever `addr` maps.
    let r = unsafe { holdfast_probe_write_u64(addr, val) };
    if r.faulted != 0 {
        Err(Fault { addr: LAST_FAULT_ADDR.load(Ordering::Relaxed) })
    } else {
        Ok(())
    }
}
