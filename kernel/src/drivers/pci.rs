//! PCI: configuration space through the legacy configuration mechanism #1
//! (address port 0xCF8, data port 0xCFC), enumeration of bus 0 and of the
//! buses behind PCI-to-PCI bridges, base address registers, and the
//! command register's enable bits. Also the one safe window onto a
//! device's I/O ports ([`IoPorts`]), so that drivers do no port I/O of
//! their own.
//!
//! Invariants: a configuration access is an address write to 0xCF8
//! followed by a data access at 0xCFC; the pair must not be split by
//! another CPU's (or an interrupt handler's) access. Sizing a BAR writes
//! all-ones to it with the device's decoding turned off, and restores both
//! before anyone else may touch the device's configuration.
//!
//! Locking: one [`IrqMutex`] ([`CONFIG`]) around every 0xCF8/0xCFC pair
//! and around multi-access sequences (BAR sizing, read-modify-write of the
//! command register). Short; nothing is called while it is held.

use crate::sync::{IrqMutex, IrqMutexGuard};
use alloc::vec::Vec;
use core::fmt;
use x86_64::instructions::port::Port;

const CONFIG_ADDRESS: u16 = 0xCF8;
const CONFIG_DATA: u16 = 0xCFC;

/// Owner of the configuration-mechanism ports.
static CONFIG: IrqMutex<()> = IrqMutex::new(());

/// Configuration-space offsets (type 0 and 1 headers).
pub const PCI_VENDOR_ID: u8 = 0x00;
pub const PCI_COMMAND: u8 = 0x04;
pub const PCI_CLASS_REVISION: u8 = 0x08;
pub const PCI_HEADER_TYPE: u8 = 0x0E;
pub const PCI_BASE_ADDRESS_0: u8 = 0x10;
pub const PCI_SECONDARY_BUS: u8 = 0x19;
pub const PCI_SUBSYSTEM_ID: u8 = 0x2E;
pub const PCI_INTERRUPT_LINE: u8 = 0x3C;

/// Command register bits.
pub const PCI_COMMAND_IO: u16 = 1 << 0;
pub const PCI_COMMAND_MEMORY: u16 = 1 << 1;
pub const PCI_COMMAND_MASTER: u16 = 1 << 2;

/// Bus, device and function: where a function sits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bdf {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl fmt::Display for Bdf {
    /// Linux's `lspci` form: `00:04.0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

impl Bdf {
    fn address(self, offset: u8) -> u32 {
        0x8000_0000
            | u32::from(self.bus) << 16
            | u32::from(self.device & 0x1f) << 11
            | u32::from(self.function & 0x7) << 8
            | u32::from(offset & 0xfc)
    }
}

/// A 32-bit configuration read with [`CONFIG`] held.
fn read32_locked(_held: &IrqMutexGuard<'_, ()>, bdf: Bdf, offset: u8) -> u32 {
    // SAFETY: 0xCF8/0xCFC are the PC's configuration-mechanism ports,
    // used by nothing else in the kernel; the caller holds CONFIG, so the
    // address/data pair is not interleaved with another access.
    unsafe {
        Port::<u32>::new(CONFIG_ADDRESS).write(bdf.address(offset));
        Port::<u32>::new(CONFIG_DATA).read()
    }
}

/// A 32-bit configuration write with [`CONFIG`] held.
fn write32_locked(_held: &IrqMutexGuard<'_, ()>, bdf: Bdf, offset: u8, value: u32) {
    // SAFETY: as in read32_locked.
    unsafe {
        Port::<u32>::new(CONFIG_ADDRESS).write(bdf.address(offset));
        Port::<u32>::new(CONFIG_DATA).write(value);
    }
}

/// Read the aligned dword containing `offset`.
pub fn read32(bdf: Bdf, offset: u8) -> u32 {
    let held = CONFIG.lock();
    read32_locked(&held, bdf, offset)
}

/// Read the 16 bits at (even) `offset`.
pub fn read16(bdf: Bdf, offset: u8) -> u16 {
    (read32(bdf, offset) >> (u32::from(offset & 2) * 8)) as u16
}

/// Read the byte at `offset`.
pub fn read8(bdf: Bdf, offset: u8) -> u8 {
    (read32(bdf, offset) >> (u32::from(offset & 3) * 8)) as u8
}

/// One function's identity, as enumeration finds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciDevice {
    pub bdf: Bdf,
    pub vendor_id: u16,
    pub device_id: u16,
    pub class: u8,
    pub subclass: u8,
    pub prog_if: u8,
    pub revision: u8,
    /// Bits 0-6 of the header type: 0 a device, 1 a PCI-to-PCI bridge.
    pub header_type: u8,
    pub subsystem_id: u16,
    /// The legacy interrupt line the firmware assigned (0xff: none).
    pub interrupt_line: u8,
}

impl PciDevice {
    /// Read the identity of the function at `bdf`, if one is there.
    pub fn probe(bdf: Bdf) -> Option<PciDevice> {
        let id = read32(bdf, PCI_VENDOR_ID);
        let vendor_id = id as u16;
        if vendor_id == 0xffff || vendor_id == 0 {
            return None;
        }
        let class = read32(bdf, PCI_CLASS_REVISION);
        let header_type = read8(bdf, PCI_HEADER_TYPE) & 0x7f;
        Some(PciDevice {
            bdf,
            vendor_id,
            device_id: (id >> 16) as u16,
            class: (class >> 24) as u8,
            subclass: (class >> 16) as u8,
            prog_if: (class >> 8) as u8,
            revision: class as u8,
            header_type,
            // Type 1 headers have no subsystem id there.
            subsystem_id: if header_type == 0 { read16(bdf, PCI_SUBSYSTEM_ID) } else { 0 },
            interrupt_line: read8(bdf, PCI_INTERRUPT_LINE),
        })
    }

    /// Number of BARs its header type has.
    fn nr_bars(&self) -> u8 {
        match self.header_type {
            0 => 6,
            1 => 2,
            _ => 0,
        }
    }

    /// Decode BAR `index` (sizing it); `None` if it is unimplemented or
    /// out of range. A 64-bit BAR is read with the next one, its upper
    /// half, which callers do not decode on its own.
    pub fn bar(&self, index: u8) -> Option<Bar> {
        if index >= self.nr_bars() {
            return None;
        }
        let offset = PCI_BASE_ADDRESS_0 + 4 * index;
        let held = CONFIG.lock();
        let command = read32_locked(&held, self.bdf, PCI_COMMAND);
        // Decoding off while the BAR holds all-ones: the device must not
        // answer at that address meanwhile.
        write32_locked(&held, self.bdf, PCI_COMMAND, command & !u32::from(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
        let low = read32_locked(&held, self.bdf, offset);
        write32_locked(&held, self.bdf, offset, 0xffff_ffff);
        let low_mask = read32_locked(&held, self.bdf, offset);
        write32_locked(&held, self.bdf, offset, low);
        let bar = if low & 1 == 1 {
            let mask = low_mask & 0xffff_fffc;
            (mask != 0).then(|| Bar::Io { port: (low & 0xffff_fffc) as u16, size: (!mask & 0xffff).wrapping_add(1) })
        } else {
            let prefetchable = low & 0x8 != 0;
            match (low >> 1) & 3 {
                // 32-bit.
                0 => {
                    let mask = low_mask & 0xffff_fff0;
                    (mask != 0).then(|| Bar::Memory {
                        addr: u64::from(low & 0xffff_fff0),
                        size: u64::from((!mask).wrapping_add(1)),
                        prefetchable,
                        is_64bit: false,
                    })
                }
                // 64-bit: this BAR and the next.
                2 if index + 1 < self.nr_bars() => {
                    let high = read32_locked(&held, self.bdf, offset + 4);
                    write32_locked(&held, self.bdf, offset + 4, 0xffff_ffff);
                    let high_mask = read32_locked(&held, self.bdf, offset + 4);
                    write32_locked(&held, self.bdf, offset + 4, high);
                    let mask = u64::from(high_mask) << 32 | u64::from(low_mask & 0xffff_fff0);
                    (mask != 0).then(|| Bar::Memory {
                        addr: u64::from(high) << 32 | u64::from(low & 0xffff_fff0),
                        size: (!mask).wrapping_add(1),
                        prefetchable,
                        is_64bit: true,
                    })
                }
                _ => None,
            }
        };
        write32_locked(&held, self.bdf, PCI_COMMAND, command);
        bar
    }

    /// Set bits of the command register (`PCI_COMMAND_IO`,
    /// `PCI_COMMAND_MEMORY`, `PCI_COMMAND_MASTER`).
    pub fn enable(&self, bits: u16) {
        let held = CONFIG.lock();
        let dword = read32_locked(&held, self.bdf, PCI_COMMAND);
        // The upper half is the status register, whose set bits are
        // write-one-to-clear: write zeros there.
        write32_locked(&held, self.bdf, PCI_COMMAND, (dword & 0xffff) | u32::from(bits));
    }
}

/// A decoded base address register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bar {
    /// A range of I/O ports.
    Io { port: u16, size: u32 },
    /// A range of physical addresses.
    Memory { addr: u64, size: u64, prefetchable: bool, is_64bit: bool },
}

/// Every function on bus 0 and the buses behind its bridges, in bus,
/// device, function order of discovery.
pub fn enumerate() -> Vec<PciDevice> {
    let mut found = Vec::new();
    let mut seen = [false; 256];
    scan_bus(0, &mut seen, &mut found);
    found
}

fn scan_bus(bus: u8, seen: &mut [bool; 256], found: &mut Vec<PciDevice>) {
    if core::mem::replace(&mut seen[usize::from(bus)], true) {
        return;
    }
    for device in 0..32 {
        let Some(f0) = PciDevice::probe(Bdf { bus, device, function: 0 }) else {
            continue;
        };
        let multifunction = read8(f0.bdf, PCI_HEADER_TYPE) & 0x80 != 0;
        let functions = if multifunction { 8 } else { 1 };
        for function in 0..functions {
            let Some(dev) = (if function == 0 { Some(f0) } else { PciDevice::probe(Bdf { bus, device, function }) }) else {
                continue;
            };
            found.push(dev);
            // A PCI-to-PCI bridge: its secondary bus, if configured.
            if dev.header_type == 1 && dev.class == 0x06 && dev.subclass == 0x04 {
                let secondary = read8(dev.bdf, PCI_SECONDARY_BUS);
                if secondary != 0 {
                    scan_bus(secondary, seen, found);
                }
            }
        }
    }
}

/// The first function with this vendor and one of these device ids.
pub fn find(vendor_id: u16, device_ids: &[u16]) -> Option<PciDevice> {
    enumerate().into_iter().find(|d| d.vendor_id == vendor_id && device_ids.contains(&d.device_id))
}

/// A device's I/O-port BAR: the driver's only way to its ports.
///
/// Invariant: `[base, base + len)` is one I/O BAR of one function, decoded
/// by that function alone (the firmware assigned non-overlapping ranges).
/// Accesses are bounds- and alignment-checked; an access outside the range
/// panics (a driver bug, not a device error).
#[derive(Clone, Copy, Debug)]
pub struct IoPorts {
    base: u16,
    len: u32,
}

impl IoPorts {
    /// The ports of I/O BAR `index` of `dev`, if that BAR is an I/O BAR.
    pub fn from_bar(dev: &PciDevice, index: u8) -> Option<IoPorts> {
        match dev.bar(index)? {
            Bar::Io { port, size } if port != 0 && size != 0 => Some(IoPorts { base: port, len: size }),
            _ => None,
        }
    }

    /// First port.
    pub fn base(&self) -> u16 {
        self.base
    }

    fn port(&self, offset: u16, width: u16) -> u16 {
        assert!(
            offset.is_multiple_of(width) && u32::from(offset) + u32::from(width) <= self.len,
            "port {offset:#x} outside the BAR"
        );
        self.base + offset
    }

    pub fn read8(&self, offset: u16) -> u8 {
        let port = self.port(offset, 1);
        // SAFETY: the port lies in the device's own I/O BAR (checked by
        // `port`); reading a device register has no effect on memory.
        unsafe { Port::<u8>::new(port).read() }
    }

    pub fn read16(&self, offset: u16) -> u16 {
        let port = self.port(offset, 2);
        // SAFETY: as in read8.
        unsafe { Port::<u16>::new(port).read() }
    }

    pub fn read32(&self, offset: u16) -> u32 {
        let port = self.port(offset, 4);
        // SAFETY: as in read8.
        unsafe { Port::<u32>::new(port).read() }
    }

    pub fn write8(&self, offset: u16, v: u8) {
        let port = self.port(offset, 1);
        // SAFETY: the port lies in the device's own I/O BAR; what the
        // write makes the device do to memory (DMA) is the driver's to
        // set up, with memory it owns (`memory::dma`).
        unsafe { Port::<u8>::new(port).write(v) }
    }

    pub fn write16(&self, offset: u16, v: u16) {
        let port = self.port(offset, 2);
        // SAFETY: as in write8.
        unsafe { Port::<u16>::new(port).write(v) }
    }

    pub fn write32(&self, offset: u16, v: u32) {
        let port = self.port(offset, 4);
        // SAFETY: as in write8.
        unsafe { Port::<u32>::new(port).write(v) }
    }
}
