//! Leaving QEMU: the `isa-debug-exit` device and hypervisor detection.
//!
//! xtask starts QEMU with `-device isa-debug-exit,iobase=0xf4,iosize=0x04`;
//! writing `c` there makes QEMU exit with status `(c << 1) | 1`. On real
//! hardware the port is not written at all: [`exit`] only does so when the
//! CPU reports that it runs under a hypervisor.

use x86_64::instructions::port::Port;

/// Exit code meaning "success" (QEMU status 1).
pub const EXIT_SUCCESS: u32 = 0;
/// Exit code of a kernel-test run that panicked inside a test (status 5).
#[cfg(feature = "ktest")]
pub const EXIT_TEST_PANICKED: u32 = 2;
/// Exit code of a panic outside any test (status 7).
pub const EXIT_PANIC: u32 = 3;

/// Does CPUID say we run under a hypervisor (QEMU TCG or KVM)?
pub fn under_hypervisor() -> bool {
    let ecx = core::arch::x86_64::__cpuid(1).ecx;
    ecx & (1 << 31) != 0
}

/// Leave QEMU with `code`; on real hardware (or if the device is missing)
/// halt forever instead.
pub fn exit(code: u32) -> ! {
    if under_hypervisor() {
        // SAFETY: port 0xf4 is QEMU's isa-debug-exit device in the machine
        // xtask configures; a write ends the virtual machine.
        unsafe { Port::<u32>::new(0xf4).write(code) };
    }
    x86_64::instructions::interrupts::disable();
    super::halt_loop()
}
