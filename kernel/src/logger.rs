//! Kernel console output: `kprint!`/`kprintln!` and the `log` facade.
//!
//! Every line goes to every console: COM1 and the framebuffer. Output is
//! done with interrupts disabled so an interrupt handler that prints cannot
//! deadlock against the code it interrupted.

use core::fmt;

/// Print to every console.
pub fn print(args: fmt::Arguments) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        crate::drivers::serial::write_fmt(args);
        crate::drivers::framebuffer::write_fmt(args);
    });
}

/// Write raw bytes to every console (terminal output).
pub fn write_bytes(bytes: &[u8]) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        crate::drivers::serial::write_bytes(bytes);
        crate::drivers::framebuffer::write_bytes(bytes);
    });
}

/// Print on the panic path, breaking console locks that the panicking
/// context may hold.
pub fn panic_print(args: fmt::Arguments) {
    x86_64::instructions::interrupts::disable();
    crate::drivers::serial::force_write_fmt(args);
    crate::drivers::framebuffer::force_write_fmt(args);
}

#[macro_export]
macro_rules! kprint {
    ($($arg:tt)*) => { $crate::logger::print(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! kprintln {
    () => { $crate::kprint!("\n") };
    ($($arg:tt)*) => { $crate::logger::print(format_args!("{}\n", format_args!($($arg)*))) };
}

struct KernelLogger;

impl log::Log for KernelLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let ms = crate::arch::time::now_ns() / 1_000_000;
            print(format_args!("[{:>5}.{:03}] {:<5} {}\n", ms / 1000, ms % 1000, record.level(), record.args()));
        }
    }

    fn flush(&self) {}
}

static LOGGER: KernelLogger = KernelLogger;

/// Install the `log` facade backend.
pub fn init() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Info);
}
