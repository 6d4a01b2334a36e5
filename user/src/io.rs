//! `print!`/`println!`/`eprintln!` over `write(1)` / `write(2)`.
//!
//! Each call formats into a 512-byte stack buffer and writes it out when full
//! and at the end, so a line shorter than the buffer reaches the kernel in one
//! `write` and lines from different threads do not interleave mid-line.

use crate::sys;
use core::fmt::{self, Write};

struct BufWriter {
    fd: i32,
    buf: [u8; 512],
    len: usize,
}

impl BufWriter {
    fn flush(&mut self) {
        let _ = sys::write_all(self.fd, &self.buf[..self.len]);
        self.len = 0;
    }
}

impl Write for BufWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for chunk in s.as_bytes().chunks(self.buf.len()) {
            if self.len + chunk.len() > self.buf.len() {
                self.flush();
            }
            self.buf[self.len..self.len + chunk.len()].copy_from_slice(chunk);
            self.len += chunk.len();
        }
        Ok(())
    }
}

fn print_to(fd: i32, args: fmt::Arguments<'_>) {
    let mut w = BufWriter { fd, buf: [0; 512], len: 0 };
    let _ = w.write_fmt(args);
    w.flush();
}

#[doc(hidden)]
pub fn print_fmt(args: fmt::Arguments<'_>) {
    print_to(1, args);
}

#[doc(hidden)]
pub fn eprint_fmt(args: fmt::Arguments<'_>) {
    print_to(2, args);
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::io::print_fmt(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::io::print_fmt(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::io::print_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

#[macro_export]
macro_rules! eprintln {
    ($($arg:tt)*) => { $crate::io::eprint_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}
