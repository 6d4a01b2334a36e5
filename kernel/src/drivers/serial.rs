//! COM1 serial console (16550 UART at port 0x3F8).
//!
//! The port is optional: a PC without a serial port simply has no serial
//! console (initialisation fails its loopback self-test and output is dropped).
//!
//! Locking: the port sits behind a spin mutex; callers that may run with
//! interrupts enabled go through [`crate::logger`], which disables interrupts
//! around console output so a timer interrupt cannot deadlock on it.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};
use spin::Mutex;
use uart_16550::backend::PioBackend;
use uart_16550::spec::registers::IER;
use uart_16550::{Config, Uart16550Tty};

static COM1: Mutex<Option<Uart16550Tty<PioBackend>>> = Mutex::new(None);

/// Initialise COM1. Returns whether a working UART was found.
pub fn init() -> bool {
    // SAFETY: 0x3F8 is the standard COM1 base port; nothing else in the
    // kernel touches these eight I/O ports.
    let port = unsafe { Uart16550Tty::new_port(0x3F8, Config::default()) };
    let ok = port.is_ok();
    *COM1.lock() = port.ok();
    ok
}

/// Nothing was written to COM1 since its last newline (false while a line
/// is being written): where the panic message must begin a line of its own.
static AT_LINE_START: AtomicBool = AtomicBool::new(true);

/// COM1, keeping [`AT_LINE_START`] up to date line by line.
struct LineTracking<'a, W: Write>(&'a mut W);

impl<W: Write> Write for LineTracking<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for piece in s.split_inclusive('\n') {
            AT_LINE_START.store(false, Ordering::Relaxed);
            self.0.write_str(piece)?;
            AT_LINE_START.store(piece.ends_with('\n'), Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Write raw bytes to COM1 if it exists (terminal output: no UTF-8
/// conversion).
pub fn write_bytes(bytes: &[u8]) {
    if let Some(port) = COM1.lock().as_mut() {
        // Line by line, as `LineTracking`: a CPU stopped mid-line (a
        // panic on another) leaves the flag saying so.
        for piece in bytes.split_inclusive(|&b| b == b'\n') {
            AT_LINE_START.store(false, Ordering::Relaxed);
            port.inner_mut().send_bytes_exact(piece);
            AT_LINE_START.store(piece.ends_with(b"\n"), Ordering::Relaxed);
        }
    }
}

/// Let COM1 raise its interrupt when a byte arrives (IRQ 4, routed by
/// `arch::ioapic`). Returns whether there is a COM1.
pub fn enable_rx_interrupt() -> bool {
    match COM1.lock().as_mut() {
        Some(port) => {
            // The driver's initialisation set OUT2, which gates the
            // UART's interrupt line on PC-compatible boards.
            port.inner_mut().enable_interrupts(IER::DATA_READY);
            true
        }
        None => false,
    }
}

/// Take up to `buf.len()` received bytes from COM1 (0 when none wait).
pub fn receive(buf: &mut [u8]) -> usize {
    match COM1.lock().as_mut() {
        Some(port) => port.inner_mut().receive_bytes(buf),
        None => 0,
    }
}

/// Write formatted text to COM1 if it exists.
pub fn write_fmt(args: fmt::Arguments) {
    if let Some(port) = COM1.lock().as_mut() {
        let _ = LineTracking(port).write_fmt(args);
    }
}

/// Write text to COM1 even if its lock is held (panic path only), on a
/// line of its own: the holder, this CPU interrupted mid-line or another
/// CPU the panic stopped, is never resumed.
pub fn force_write_fmt(args: fmt::Arguments) {
    // SAFETY: only called on the panic path, by the one CPU that claimed
    // it after stopping every other CPU (`arch::smp::claim_panic`): the
    // holder of the lock, this CPU interrupted or a stopped one, never
    // resumes.
    unsafe { COM1.force_unlock() };
    // A CPU stopped mid-line left it unfinished: start a new one.
    if !AT_LINE_START.load(Ordering::Relaxed) {
        write_fmt(format_args!("\n"));
    }
    write_fmt(args);
}
