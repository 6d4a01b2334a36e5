//! The I/O APIC: how device interrupts (here COM1's) reach a CPU.
//!
//! The legacy 8259 PICs are masked at boot (`pit::disable_legacy_pic`);
//! ISA devices are reached through the first I/O APIC of the MADT
//! instead. An ISA IRQ arrives on the global system interrupt (GSI) of
//! the same number unless an Interrupt Source Override says otherwise
//! (with its own polarity and trigger mode; ISA's default is
//! active-high, edge-triggered). [`route_isa_irq`] programs that GSI's
//! redirection entry: fixed delivery of a vector to the boot CPU, in
//! physical destination mode. Every other entry stays masked.
//!
//! Registers are reached through an index register (`IOREGSEL`, offset 0)
//! and a data window (`IOWIN`, offset 0x10) in one MMIO page, read
//! through the physical-memory mapping as the local APIC's is.
//!
//! Locking: a spin mutex around each index/data pair, taken with
//! interrupts disabled; routes are set up at boot.

use spin::Mutex;

use super::acpi::{self, IrqOverride, MadtIoApic};

const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REG_VER: u32 = 0x01;
const REG_REDTBL: u32 = 0x10;
/// Redirection entry: interrupt masked.
const RTE_MASKED: u64 = 1 << 16;
/// Redirection entry: level-triggered (else edge).
const RTE_LEVEL: u64 = 1 << 15;
/// Redirection entry: active low (else active high).
const RTE_ACTIVE_LOW: u64 = 1 << 13;

/// The ISA IRQ of COM1.
pub const COM1_IRQ: u8 = 4;
/// The vector COM1's interrupt arrives on.
pub const COM1_VECTOR: u8 = 0x24;

struct IoApic {
    /// Virtual address of the register page.
    base: u64,
    gsi_base: u32,
    entries: u32,
}

static IOAPIC: Mutex<Option<IoApic>> = Mutex::new(None);
static OVERRIDES: Mutex<alloc::vec::Vec<IrqOverride>> = Mutex::new(alloc::vec::Vec::new());

impl IoApic {
    fn read(&self, reg: u32) -> u32 {
        // SAFETY: `base` maps the I/O APIC's register page (from the MADT);
        // IOREGSEL then IOWIN is the architectural access sequence, done
        // under the IOAPIC lock so that no other access interleaves.
        unsafe {
            core::ptr::write_volatile((self.base + IOREGSEL) as *mut u32, reg);
            core::ptr::read_volatile((self.base + IOWIN) as *const u32)
        }
    }

    fn write(&self, reg: u32, value: u32) {
        // SAFETY: as in `read`.
        unsafe {
            core::ptr::write_volatile((self.base + IOREGSEL) as *mut u32, reg);
            core::ptr::write_volatile((self.base + IOWIN) as *mut u32, value);
        }
    }

    fn set_entry(&self, index: u32, value: u64) {
        // Mask first, then the destination, then the low half that
        // unmasks: the entry is never live half-written.
        self.write(REG_REDTBL + 2 * index, RTE_MASKED as u32);
        self.write(REG_REDTBL + 2 * index + 1, (value >> 32) as u32);
        self.write(REG_REDTBL + 2 * index, value as u32);
    }
}

/// Find the first I/O APIC in the MADT and mask all its entries. Returns
/// a description for the boot log, or why there is none.
pub fn init(rsdp: u64) -> Result<MadtIoApic, &'static str> {
    let (ioapics, overrides) = acpi::madt_ioapics(rsdp)?;
    let first = *ioapics.first().ok_or("no I/O APIC in the MADT")?;
    let io = IoApic { base: crate::memory::phys_to_virt(first.addr), gsi_base: first.gsi_base, entries: 0 };
    let entries = ((io.read(REG_VER) >> 16) & 0xff) + 1;
    let io = IoApic { entries, ..io };
    x86_64::instructions::interrupts::without_interrupts(|| {
        for i in 0..entries {
            io.set_entry(i, RTE_MASKED);
        }
        *IOAPIC.lock() = Some(io);
        *OVERRIDES.lock() = overrides;
    });
    Ok(first)
}

/// Deliver ISA `irq` as `vector` to the CPU with local APIC ID `apic_id`.
/// Returns the GSI used, or why it cannot be routed.
pub fn route_isa_irq(irq: u8, vector: u8, apic_id: u32) -> Result<u32, &'static str> {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let ov = OVERRIDES.lock().iter().find(|o| o.irq == irq).copied();
        let (gsi, flags) = ov.map_or((irq as u32, 0), |o| (o.gsi, o.flags));
        let guard = IOAPIC.lock();
        let io = guard.as_ref().ok_or("no I/O APIC")?;
        let index = gsi.checked_sub(io.gsi_base).filter(|&i| i < io.entries).ok_or("GSI not on the first I/O APIC")?;
        if apic_id > 0xff {
            return Err("destination APIC ID above 255");
        }
        let mut entry = vector as u64 | (apic_id as u64) << 56;
        // MPS INTI flags: polarity 3 = active low, trigger 3 = level;
        // 0 ("conforms to the bus") is ISA's active high, edge.
        if flags & 0b11 == 0b11 {
            entry |= RTE_ACTIVE_LOW;
        }
        if (flags >> 2) & 0b11 == 0b11 {
            entry |= RTE_LEVEL;
        }
        io.set_entry(index, entry);
        Ok(gsi)
    })
}
