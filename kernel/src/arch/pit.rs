//! The 8254 programmable interval timer, used only as a reference clock to
//! calibrate the TSC and the local APIC timer at boot, and the legacy 8259
//! PICs, which are remapped out of the exception range and masked.

use x86_64::instructions::port::Port;

const PIT_HZ: u64 = 1_193_182;

/// Busy-wait `ms` milliseconds (at most 50) on PIT channel 2, running `on_start`
/// just as the count starts. Locking: boot only, interrupts off.
pub fn wait_ms(ms: u64, on_start: impl FnOnce()) {
    let count = (PIT_HZ * ms.min(50) / 1000) as u16;
    // SAFETY: ports 0x42/0x43/0x61 are the PIT channel 2 and its gate; only
    // used at boot by this function.
    unsafe {
        let mut gate = Port::<u8>::new(0x61);
        let mut cmd = Port::<u8>::new(0x43);
        let mut ch2 = Port::<u8>::new(0x42);
        let g = gate.read();
        gate.write((g & !0x02) | 0x01); // speaker off, gate on
        cmd.write(0b1011_0000); // channel 2, lobyte/hibyte, mode 0
        ch2.write(count as u8);
        ch2.write((count >> 8) as u8);
        // Restart the count by toggling the gate.
        let g = gate.read();
        gate.write(g & !0x01);
        gate.write(g | 0x01);
        on_start();
        while gate.read() & 0x20 == 0 {
            core::hint::spin_loop();
        }
    }
}

/// Remap the two 8259 PICs to vectors 0x20..0x30 and mask every line: the
/// local APIC delivers all interrupts Holdfast uses.
pub fn disable_legacy_pic() {
    // SAFETY: standard 8259 initialisation sequence on its fixed ports.
    unsafe {
        let mut m_cmd = Port::<u8>::new(0x20);
        let mut m_data = Port::<u8>::new(0x21);
        let mut s_cmd = Port::<u8>::new(0xA0);
        let mut s_data = Port::<u8>::new(0xA1);
        m_cmd.write(0x11);
        s_cmd.write(0x11);
        m_data.write(0x20);
        s_data.write(0x28);
        m_data.write(4);
        s_data.write(2);
        m_data.write(1);
        s_data.write(1);
        m_data.write(0xFF);
        s_data.write(0xFF);
    }
}
