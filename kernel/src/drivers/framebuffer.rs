//! Text console on the framebuffer the bootloader hands over.
//!
//! A real PC booted from a USB stick has no serial port to read, so every
//! log line is also drawn here with an 8x16 bitmap font (Terminus, see
//! `FONT.md`). The console keeps a cursor in character cells; when the
//! screen is full it scrolls by a quarter of the screen at once, which keeps
//! the cost of scrolling (a large memmove) rare.
//!
//! Locking: a spin mutex around the console state; [`crate::logger`] takes
//! it with interrupts disabled.

use bootloader_api::info::{FrameBuffer, FrameBufferInfo, PixelFormat};
use core::fmt;
use spin::Mutex;

const FONT: &[u8; 95 * 16] = include_bytes!("font8x16.bin");
const GLYPH_W: usize = 8;
const GLYPH_H: usize = 16;

struct Console {
    buf: &'static mut [u8],
    info: FrameBufferInfo,
    col: usize,
    row: usize,
}

static CONSOLE: Mutex<Option<Console>> = Mutex::new(None);

/// Take over the framebuffer and clear it.
pub fn init(fb: &'static mut FrameBuffer) {
    let info = fb.info();
    let buf = fb.buffer_mut();
    // SAFETY: the framebuffer lives for the whole run of the kernel (the
    // boot info is `'static`); we only extend the borrow's lifetime.
    let buf: &'static mut [u8] = unsafe { core::slice::from_raw_parts_mut(buf.as_mut_ptr(), buf.len()) };
    buf.fill(0);
    *CONSOLE.lock() = Some(Console { buf, info, col: 0, row: 0 });
}

/// Screen size in pixels, if a framebuffer console exists.
pub fn resolution() -> Option<(usize, usize)> {
    CONSOLE.lock().as_ref().map(|c| (c.info.width, c.info.height))
}

impl Console {
    fn cols(&self) -> usize {
        self.info.width / GLYPH_W
    }

    fn rows(&self) -> usize {
        self.info.height / GLYPH_H
    }

    fn put_pixel(&mut self, x: usize, y: usize, on: bool) {
        let bpp = self.info.bytes_per_pixel;
        let off = (y * self.info.stride + x) * bpp;
        let v: u8 = if on { 0xC0 } else { 0 };
        let px = &mut self.buf[off..off + bpp];
        match self.info.pixel_format {
            PixelFormat::U8 => px[0] = v,
            _ => {
                for b in px.iter_mut().take(3) {
                    *b = v;
                }
            }
        }
    }

    fn draw_glyph(&mut self, ch: u8) {
        let idx = if (0x20..=0x7E).contains(&ch) { (ch - 0x20) as usize } else { (b'?' - 0x20) as usize };
        let glyph = &FONT[idx * GLYPH_H..(idx + 1) * GLYPH_H];
        let (x0, y0) = (self.col * GLYPH_W, self.row * GLYPH_H);
        for (dy, bits) in glyph.iter().enumerate() {
            for dx in 0..GLYPH_W {
                self.put_pixel(x0 + dx, y0 + dy, bits & (0x80 >> dx) != 0);
            }
        }
    }

    fn newline(&mut self) {
        self.col = 0;
        self.row += 1;
        if self.row >= self.rows() {
            let rows = self.rows();
            let shift = (rows / 4).max(1);
            let line_bytes = self.info.stride * self.info.bytes_per_pixel * GLYPH_H;
            let used = rows * line_bytes;
            self.buf.copy_within(shift * line_bytes..used, 0);
            self.buf[(rows - shift) * line_bytes..used].fill(0);
            self.row = rows - shift;
        }
    }

    /// Bring a cursor left mid-update (by a CPU stopped for a panic) back
    /// on the screen, at the start of a line.
    fn recover(&mut self) {
        self.row = self.row.min(self.rows().saturating_sub(1));
        if self.col != 0 {
            self.newline();
        }
    }

    fn write_byte(&mut self, b: u8) {
        match b {
            b'\n' => self.newline(),
            b'\r' => self.col = 0,
            // Backspace: the cursor moves left (the terminal's echo rubs a
            // character out with backspace, space, backspace).
            0x08 => self.col = self.col.saturating_sub(1),
            _ => {
                if self.col >= self.cols() {
                    self.newline();
                }
                self.draw_glyph(b);
                self.col += 1;
            }
        }
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        s.bytes().for_each(|b| self.write_byte(b));
        Ok(())
    }
}

/// Draw formatted text if the console exists.
pub fn write_fmt(args: fmt::Arguments) {
    if let Some(c) = CONSOLE.lock().as_mut() {
        let _ = fmt::Write::write_fmt(c, args);
    }
}

/// Draw raw bytes (terminal output) if the console exists.
pub fn write_bytes(bytes: &[u8]) {
    if let Some(c) = CONSOLE.lock().as_mut() {
        bytes.iter().for_each(|&b| c.write_byte(b));
    }
}

/// Draw text even if the console lock is held (panic path only), on a
/// line of its own.
pub fn force_write_fmt(args: fmt::Arguments) {
    // SAFETY: only called on the panic path, by the one CPU that claimed
    // it after stopping every other CPU (`arch::smp::claim_panic`): the
    // holder of the lock, this CPU interrupted or a stopped one, never
    // resumes.
    unsafe { CONSOLE.force_unlock() };
    if let Some(c) = CONSOLE.lock().as_mut() {
        c.recover();
    }
    write_fmt(args);
}
