//! The CPUs and I/O APICs of the machine, from the ACPI MADT.
//!
//! The bootloader hands over the RSDP's physical address. A revision-0
//! RSDP (SeaBIOS) names a 32-bit RSDT; revision 2 and later (OVMF, real
//! UEFI machines) name a 64-bit XSDT, which is preferred. The MADT
//! ("APIC") lists one Processor Local APIC (type 0) or Processor Local
//! x2APIC (type 9) entry per CPU; entries whose Enabled flag is clear
//! (absent or only hot-pluggable CPUs) are skipped. It also lists the
//! I/O APICs (type 1) and how ISA interrupts reach them (Interrupt Source
//! Overrides, type 2). Every table is checked
//! against its checksum; a damaged table is reported and ignored.
//!
//! Tables are read through the physical-memory mapping, never written.
//!
//! Locking: none; parsed once on the boot CPU.

use alloc::vec::Vec;

/// One usable CPU of the MADT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MadtCpu {
    pub apic_id: u32,
    /// The ACPI processor UID.
    pub acpi_id: u32,
}

fn read<T: Copy>(pa: u64) -> T {
    // SAFETY: ACPI tables lie in memory the bootloader maps at the
    // physical-memory offset; the reads are unaligned-safe and never
    // written.
    unsafe { core::ptr::read_unaligned(crate::memory::phys_to_virt(pa) as *const T) }
}

fn checksum_ok(pa: u64, len: u64) -> bool {
    (0..len).fold(0u8, |s, i| s.wrapping_add(read::<u8>(pa + i))) == 0
}

/// The tables an RSDT or XSDT lists: (physical address, signature).
fn sdt_entries(rsdp: u64) -> Result<Vec<u64>, &'static str> {
    if &read::<[u8; 8]>(rsdp) != b"RSD PTR " {
        return Err("no RSDP signature");
    }
    if !checksum_ok(rsdp, 20) {
        return Err("RSDP checksum");
    }
    let revision: u8 = read(rsdp + 15);
    let (root, entry_size) = if revision >= 2 && read::<u64>(rsdp + 24) != 0 {
        (read::<u64>(rsdp + 24), 8)
    } else {
        (read::<u32>(rsdp + 16) as u64, 4)
    };
    let len = read::<u32>(root + 4) as u64;
    let sig = read::<[u8; 4]>(root);
    if (entry_size == 8 && &sig != b"XSDT") || (entry_size == 4 && &sig != b"RSDT") {
        return Err("RSDT/XSDT signature");
    }
    if len < 36 || !checksum_ok(root, len) {
        return Err("RSDT/XSDT checksum");
    }
    Ok((0..(len - 36) / entry_size)
        .map(|i| {
            let at = root + 36 + i * entry_size;
            if entry_size == 8 {
                read::<u64>(at)
            } else {
                read::<u32>(at) as u64
            }
        })
        .collect())
}

/// The MADT's interrupt-controller entries: (type, physical address of
/// the entry, its length), each within the table.
fn madt_entries(rsdp: u64) -> Result<Vec<(u8, u64, u64)>, &'static str> {
    let madt = sdt_entries(rsdp)?.into_iter().find(|&t| &read::<[u8; 4]>(t) == b"APIC").ok_or("no MADT")?;
    let len = read::<u32>(madt + 4) as u64;
    if len < 44 || !checksum_ok(madt, len) {
        return Err("MADT checksum");
    }
    let mut entries = Vec::new();
    let mut at = madt + 44;
    while at + 2 <= madt + len {
        let (kind, elen) = (read::<u8>(at), read::<u8>(at + 1) as u64);
        if elen < 2 || at + elen > madt + len {
            return Err("MADT entry length");
        }
        entries.push((kind, at, elen));
        at += elen;
    }
    Ok(entries)
}

/// The enabled CPUs of the MADT found from the RSDP at `rsdp` (physical).
pub fn madt_cpus(rsdp: u64) -> Result<Vec<MadtCpu>, &'static str> {
    let mut cpus = Vec::new();
    for (kind, at, elen) in madt_entries(rsdp)? {
        match kind {
            0 if elen >= 8 && read::<u32>(at + 4) & 1 != 0 => {
                cpus.push(MadtCpu { apic_id: read::<u8>(at + 3) as u32, acpi_id: read::<u8>(at + 2) as u32 })
            }
            9 if elen >= 16 && read::<u32>(at + 8) & 1 != 0 => {
                cpus.push(MadtCpu { apic_id: read::<u32>(at + 4), acpi_id: read::<u32>(at + 12) })
            }
            _ => {}
        }
    }
    // A CPU listed both ways (some firmware does) counts once.
    cpus.dedup_by_key(|c| c.apic_id);
    let mut seen = Vec::new();
    cpus.retain(|c| {
        let new = !seen.contains(&c.apic_id);
        seen.push(c.apic_id);
        new
    });
    Ok(cpus)
}

/// One I/O APIC of the MADT (type 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MadtIoApic {
    pub id: u8,
    /// Physical address of its registers.
    pub addr: u64,
    /// The first global system interrupt it serves.
    pub gsi_base: u32,
}

/// An Interrupt Source Override (type 2): ISA `irq` arrives on `gsi`
/// with the MPS INTI `flags` (polarity in bits 0-1, trigger mode in 2-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqOverride {
    pub irq: u8,
    pub gsi: u32,
    pub flags: u16,
}

/// The I/O APICs and ISA interrupt overrides of the MADT.
pub fn madt_ioapics(rsdp: u64) -> Result<(Vec<MadtIoApic>, Vec<IrqOverride>), &'static str> {
    let (mut ioapics, mut overrides) = (Vec::new(), Vec::new());
    for (kind, at, elen) in madt_entries(rsdp)? {
        match kind {
            1 if elen >= 12 => {
                ioapics.push(MadtIoApic { id: read::<u8>(at + 2), addr: read::<u32>(at + 4) as u64, gsi_base: read::<u32>(at + 8) })
            }
            2 if elen >= 10 && read::<u8>(at + 2) == 0 => {
                overrides.push(IrqOverride { irq: read::<u8>(at + 3), gsi: read::<u32>(at + 4), flags: read::<u16>(at + 8) })
            }
            _ => {}
        }
    }
    Ok((ioapics, overrides))
}
