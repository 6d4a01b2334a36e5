//! The guest's screen: QEMU `screendump`s taken over QMP while the guest
//! runs, the check that a dump shows something, and reading the text the
//! kernel's console drew on it.
//!
//! A PC without a serial port shows Holdfast's output only on its
//! framebuffer console. A boot without `-serial` is judged by its exit
//! code; its screen is captured with [`Screendumps`] every
//! [`SCREENDUMP_EVERY`] until QEMU exits (the kernel word
//! `poweroff_delay=SECONDS` keeps the last screen up that long), and the
//! last complete dump must not be blank ([`ink`]) and must show the text
//! the case expects ([`read_text`]).
//!
//! The console (`kernel/src/drivers/framebuffer.rs`) draws each character
//! as a glyph of its 8x16 font in a cell at `(8 * col, 16 * row)`, lit
//! pixels in one colour on the background; so the screen is read back
//! exactly, cell by cell, by matching each cell against the same font.
//! The bootloader's and the firmware's text, in other fonts, read as
//! unknown cells.
//!
//! QMP (QEMU's JSON protocol on a unix socket) answers each command with
//! one line holding `"return"` or `"error"`; asynchronous `"event"` lines
//! may come in between and are skipped.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the screen is dumped while the guest runs.
pub const SCREENDUMP_EVERY: Duration = Duration::from_millis(500);

/// How long to wait for QEMU's QMP socket to appear.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A binary PPM (`P6`) image, as QEMU's `screendump` writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ppm {
    pub width: usize,
    pub height: usize,
    /// `width * height` pixels, row by row, three bytes (RGB) each.
    pub rgb: Vec<u8>,
}

/// Parses a `P6` image with a maximum value of 255.
pub fn parse_ppm(data: &[u8]) -> Result<Ppm, String> {
    // Header: "P6", width, height, maxval, separated by whitespace (with
    // `#` comments to the end of a line), then one whitespace byte.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while i < data.len() && (data[i].is_ascii_whitespace() || data[i] == b'#') {
            if data[i] == b'#' {
                while i < data.len() && data[i] != b'\n' {
                    i += 1;
                }
            } else {
                i += 1;
            }
        }
        let start = i;
        while i < data.len() && !data[i].is_ascii_whitespace() {
            i += 1;
        }
        if start == i {
            return Err("truncated PPM header".into());
        }
        fields.push(String::from_utf8_lossy(&data[start..i]).into_owned());
    }
    if fields[0] != "P6" {
        return Err(format!("not a binary PPM (magic {:?})", fields[0]));
    }
    let num = |s: &str, what: &str| s.parse::<usize>().map_err(|_| format!("PPM {what} {s:?} is not a number"));
    let (width, height, max) = (num(&fields[1], "width")?, num(&fields[2], "height")?, num(&fields[3], "maximum")?);
    if max != 255 {
        return Err(format!("PPM maximum {max}, expected 255"));
    }
    let pixels = &data[(i + 1).min(data.len())..];
    let want = width * height * 3;
    if width == 0 || height == 0 || pixels.len() < want {
        return Err(format!("PPM of {width}x{height} holds {} of {want} pixel bytes", pixels.len()));
    }
    Ok(Ppm { width, height, rgb: pixels[..want].to_vec() })
}

/// Pixels that differ from the background (the most common colour) and in
/// how many text rows (16 pixels high, the console's glyph height) they lie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ink {
    pub pixels: usize,
    pub text_rows: usize,
}

/// The least ink a screen must show: about twenty characters of the
/// console's 8x16 font (each sets some 30 of its 128 pixels).
pub const MIN_INK_PIXELS: usize = 600;

/// Counts the ink of `img`.
pub fn ink(img: &Ppm) -> Ink {
    let px = |i: usize| [img.rgb[3 * i], img.rgb[3 * i + 1], img.rgb[3 * i + 2]];
    let background = background(img);
    let mut pixels = 0;
    let mut rows = std::collections::BTreeSet::new();
    for y in 0..img.height {
        for x in 0..img.width {
            if px(y * img.width + x) != background {
                pixels += 1;
                rows.insert(y / 16);
            }
        }
    }
    Ink { pixels, text_rows: rows.len() }
}

/// `Ok` with a description if the dump at `path` shows at least
/// [`MIN_INK_PIXELS`] of ink; `Err` if it is blank or unreadable.
pub fn check_not_blank(path: &Path) -> Result<String, String> {
    let data = std::fs::read(path).map_err(|e| format!("no screendump at {}: {e}", path.display()))?;
    let img = parse_ppm(&data).map_err(|e| format!("{}: {e}", path.display()))?;
    let ink = ink(&img);
    let what = format!("screen {}x{}: {} pixels of ink in {} text rows", img.width, img.height, ink.pixels, ink.text_rows);
    if ink.pixels < MIN_INK_PIXELS {
        return Err(format!("blank {what} (at least {MIN_INK_PIXELS} wanted)"));
    }
    Ok(what)
}

/// The console's font: glyphs of 0x20..=0x7E, 16 rows of 8 pixels each,
/// most significant bit leftmost.
const FONT: &[u8; 95 * 16] = include_bytes!("../../kernel/src/drivers/font8x16.bin");
const GLYPH_W: usize = 8;
const GLYPH_H: usize = 16;

/// What a cell that is no glyph of the font reads as.
pub const UNKNOWN_CELL: char = '\u{fffd}';

/// The text of `img` as the kernel's console drew it: one line per row of
/// cells, trailing blanks removed.
pub fn read_text(img: &Ppm) -> String {
    let background = background(img);
    let lit = |x: usize, y: usize| img.rgb[3 * (y * img.width + x)..3 * (y * img.width + x) + 3] != background;
    let mut text = String::new();
    for row in 0..img.height / GLYPH_H {
        let mut line = String::new();
        for col in 0..img.width / GLYPH_W {
            let mut cell = [0u8; GLYPH_H];
            for (dy, bits) in cell.iter_mut().enumerate() {
                for dx in 0..GLYPH_W {
                    if lit(col * GLYPH_W + dx, row * GLYPH_H + dy) {
                        *bits |= 0x80 >> dx;
                    }
                }
            }
            let glyph = FONT.chunks(GLYPH_H).position(|g| g == cell);
            line.push(glyph.map_or(UNKNOWN_CELL, |i| (0x20 + i as u8) as char));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// The most common colour of `img`.
fn background(img: &Ppm) -> [u8; 3] {
    let mut counts = std::collections::HashMap::new();
    for px in img.rgb.as_chunks::<3>().0 {
        *counts.entry(*px).or_insert(0usize) += 1;
    }
    counts.into_iter().max_by_key(|&(_, n)| n).map(|(c, _)| c).unwrap_or_default()
}

/// Reads the dump at `path`: `Ok` with its text ([`read_text`]) and a
/// description, `Err` if it is blank (less than [`MIN_INK_PIXELS`] of
/// ink) or unreadable.
pub fn read_screen(path: &Path) -> Result<(String, String), String> {
    let what = check_not_blank(path)?;
    let img = parse_ppm(&std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?)?;
    Ok((read_text(&img), what))
}

/// Screendumps taken in the background while QEMU runs.
pub struct Screendumps {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Result<u32, String>>,
}

impl Screendumps {
    /// Connects to the QMP socket at `socket` (retrying until QEMU has
    /// created it) and dumps the screen to `out` every `every`, each dump
    /// first to `out.part` and then renamed, so that `out` always holds the
    /// last complete one. Ends when QEMU closes the socket.
    pub fn start(socket: PathBuf, out: PathBuf, every: Duration) -> Screendumps {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || dump_loop(&socket, &out, every, &stop2));
        Screendumps { stop, thread }
    }

    /// Waits for the dumping to end (call once QEMU has exited); returns
    /// how many dumps were completed.
    pub fn finish(self) -> Result<u32, String> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().map_err(|_| "the screendump thread panicked".to_string())?
    }
}

fn dump_loop(socket: &Path, out: &Path, every: Duration, stop: &AtomicBool) -> Result<u32, String> {
    let start = Instant::now();
    let stream = loop {
        match UnixStream::connect(socket) {
            Ok(s) => break s,
            Err(_) if stop.load(Ordering::SeqCst) => return Ok(0),
            Err(e) if start.elapsed() > CONNECT_TIMEOUT => return Err(format!("QMP socket {}: {e}", socket.display())),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let mut writer = stream.try_clone().map_err(|e| format!("QMP: {e}"))?;
    let mut reader = BufReader::new(stream);
    // The greeting, then capability negotiation.
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return Ok(0);
    }
    if command(&mut writer, &mut reader, r#"{"execute":"qmp_capabilities"}"#)?.is_none() {
        return Ok(0);
    }
    let part = out.with_extension("ppm.part");
    let mut done = 0;
    loop {
        let cmd = format!(r#"{{"execute":"screendump","arguments":{{"filename":"{}"}}}}"#, part.display());
        match command(&mut writer, &mut reader, &cmd)? {
            // QEMU has gone (the guest exited): the last dump is in `out`.
            None => {
                let _ = std::fs::remove_file(&part);
                return Ok(done);
            }
            Some(()) => {
                std::fs::rename(&part, out).map_err(|e| format!("renaming {}: {e}", part.display()))?;
                done += 1;
            }
        }
        std::thread::sleep(every);
    }
}

/// Sends one QMP command; `Ok(None)` if QEMU closed the connection first,
/// `Err` if QEMU refused it.
fn command(writer: &mut UnixStream, reader: &mut BufReader<UnixStream>, cmd: &str) -> Result<Option<()>, String> {
    if writer.write_all(cmd.as_bytes()).and_then(|()| writer.write_all(b"\n")).is_err() {
        return Ok(None);
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return Ok(None),
            Ok(_) if line.contains("\"return\"") => return Ok(Some(())),
            Ok(_) if line.contains("\"error\"") => return Err(format!("QMP {cmd}: {}", line.trim())),
            Ok(_) => {} // an event
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ppm(width: usize, height: usize, ink_at: &[(usize, usize)]) -> Vec<u8> {
        let mut data = format!("P6\n{width} {height}\n255\n").into_bytes();
        let mut rgb = vec![0u8; width * height * 3];
        for &(x, y) in ink_at {
            rgb[3 * (y * width + x)..3 * (y * width + x) + 3].copy_from_slice(&[0xaa, 0xaa, 0xaa]);
        }
        data.extend(rgb);
        data
    }

    #[test]
    fn ppm_parsing() {
        let img = parse_ppm(&ppm(4, 2, &[(1, 1)])).unwrap();
        assert_eq!((img.width, img.height, img.rgb.len()), (4, 2, 24));
        assert_eq!(&img.rgb[15..18], &[0xaa, 0xaa, 0xaa]);
        let commented = b"P6 # QEMU\n2 1\n255\n\x01\x02\x03\x04\x05\x06";
        assert_eq!(parse_ppm(commented).unwrap().rgb, [1, 2, 3, 4, 5, 6]);
        assert!(parse_ppm(b"P3\n1 1\n255\n0 0 0").unwrap_err().contains("magic"));
        assert!(parse_ppm(b"P6\n2 2\n255\n\0\0\0").unwrap_err().contains("3 of 12"));
        assert!(parse_ppm(b"P6\n2").unwrap_err().contains("truncated"));
        assert!(parse_ppm(b"P6\n1 1\n65535\n\0\0\0\0\0\0").is_err());
    }

    #[test]
    fn blank_screens_fail_and_text_passes() {
        let dir = std::env::temp_dir().join(format!("xtask-screen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("shot.ppm");
        // All black.
        std::fs::write(&path, ppm(64, 64, &[])).unwrap();
        assert!(check_not_blank(&path).unwrap_err().contains("blank"));
        // All one other colour is blank too: the background is what most
        // pixels are.
        let mut grey = ppm(64, 64, &[]);
        let header = grey.len() - 64 * 64 * 3;
        grey[header..].fill(0x55);
        std::fs::write(&path, grey).unwrap();
        assert!(check_not_blank(&path).unwrap_err().contains("blank"));
        // A few specks are not text.
        std::fs::write(&path, ppm(64, 64, &[(1, 1), (30, 40)])).unwrap();
        assert!(check_not_blank(&path).is_err());
        // Two lines of text.
        let text: Vec<(usize, usize)> = (0..64)
            .flat_map(|x| [(x, 3), (x, 5), (x, 7), (x, 20), (x, 22), (x, 24)])
            .chain((0..64).flat_map(|x| [(x, 9), (x, 11), (x, 26), (x, 28)]))
            .collect();
        std::fs::write(&path, ppm(64, 64, &text)).unwrap();
        let ok = check_not_blank(&path).unwrap();
        assert!(ok.contains("640 pixels of ink in 2 text rows"), "{ok}");
        assert!(check_not_blank(&dir.join("missing.ppm")).unwrap_err().contains("no screendump"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Draws `lines` the way the kernel's console does, grey on black.
    fn console(cols: usize, rows: usize, lines: &[&str]) -> Ppm {
        let (width, height) = (cols * GLYPH_W, rows * GLYPH_H);
        let mut rgb = vec![0u8; width * height * 3];
        for (row, line) in lines.iter().enumerate() {
            for (col, ch) in line.bytes().enumerate() {
                let glyph = &FONT[(ch - 0x20) as usize * GLYPH_H..][..GLYPH_H];
                for (dy, bits) in glyph.iter().enumerate() {
                    for dx in 0..GLYPH_W {
                        if bits & (0x80 >> dx) != 0 {
                            let i = 3 * ((row * GLYPH_H + dy) * width + col * GLYPH_W + dx);
                            rgb[i..i + 3].fill(0xc0);
                        }
                    }
                }
            }
        }
        Ppm { width, height, rgb }
    }

    #[test]
    fn the_console_text_reads_back() {
        let img = console(40, 4, &["holdfast: kernel main reached", "", "  hello from ring 3 ~{}"]);
        assert_eq!(read_text(&img), "holdfast: kernel main reached\n\n  hello from ring 3 ~{}\n\n");
        // A pixel out of place makes the cell unknown, not another letter.
        let mut smudged = img.clone();
        let i = 3 * (img.width + 2);
        smudged.rgb[i..i + 3].fill(0xc0);
        smudged.rgb[i + 3..i + 6].fill(0xc0);
        let first = read_text(&smudged).lines().next().unwrap().to_string();
        assert!(first.starts_with(UNKNOWN_CELL) && first.ends_with("oldfast: kernel main reached"), "{first}");
        // Another font (the bootloader's) is no text of the console's.
        let blocky = Ppm { width: 16, height: 16, rgb: (0..16 * 16).flat_map(|i| if i % 3 == 0 { [0xff; 3] } else { [0; 3] }).collect() };
        assert!(!read_text(&blocky).chars().any(|c| c.is_ascii_alphanumeric()));
    }
}
