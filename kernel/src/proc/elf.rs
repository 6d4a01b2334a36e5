//! Parsing static ELF64 executables (non-PIE `ET_EXEC` and static-PIE
//! `ET_DYN` without an interpreter).
//!
//! Only what loading needs is read: the file header, the `PT_LOAD`
//! segments, the address of the program headers (for `AT_PHDR`) and the
//! entry point. Every offset and size is bounds-checked against the file; a
//! malformed or unsupported file is `ENOEXEC`, never a panic.

use alloc::vec::Vec;
use mm::Errno;

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;
const ET_EXEC: u16 = 2;
const ET_DYN: u16 = 3;
const EM_X86_64: u16 = 62;
/// Size of one ELF64 program header.
pub const PHENT_SIZE: u64 = 56;

/// A loadable segment.
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub flags: u32,
}

/// The parts of an executable that the loader needs.
#[derive(Debug)]
pub struct Executable {
    /// `ET_DYN`: the file must be loaded at a bias.
    pub is_pie: bool,
    pub entry: u64,
    pub segments: Vec<Segment>,
    /// Virtual address (before bias) of the program headers, if mapped.
    pub phdr_vaddr: Option<u64>,
    pub phnum: u64,
}

fn u16_at(d: &[u8], off: usize) -> Result<u16, Errno> {
    d.get(off..off + 2).map(|b| u16::from_le_bytes([b[0], b[1]])).ok_or(Errno::ENOEXEC)
}

fn u32_at(d: &[u8], off: usize) -> Result<u32, Errno> {
    d.get(off..off + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap())).ok_or(Errno::ENOEXEC)
}

fn u64_at(d: &[u8], off: usize) -> Result<u64, Errno> {
    d.get(off..off + 8).map(|b| u64::from_le_bytes(b.try_into().unwrap())).ok_or(Errno::ENOEXEC)
}

/// Parse and validate an executable image.
#[cfg(feature = "ktest")]
pub fn parse(d: &[u8]) -> Result<Executable, Errno> {
    parse_head(d, d.len() as u64)
}

/// [`parse`] from the first bytes `d` of a file of `len` bytes: the
/// program headers must lie in `d`, the segments in the file.
pub fn parse_head(d: &[u8], len: u64) -> Result<Executable, Errno> {
    if d.len() < 64 || &d[..4] != b"\x7fELF" || d[4] != 2 || d[5] != 1 {
        return Err(Errno::ENOEXEC);
    }
    let etype = u16_at(d, 16)?;
    if u16_at(d, 18)? != EM_X86_64 || !(etype == ET_EXEC || etype == ET_DYN) {
        return Err(Errno::ENOEXEC);
    }
    let entry = u64_at(d, 24)?;
    let phoff = u64_at(d, 32)?;
    let phentsize = u16_at(d, 54)? as u64;
    let phnum = u16_at(d, 56)? as u64;
    if phentsize != PHENT_SIZE || phnum == 0 || phnum > 256 {
        return Err(Errno::ENOEXEC);
    }
    let mut segments = Vec::new();
    let mut phdr_vaddr = None;
    for i in 0..phnum {
        let off = phoff.checked_add(i * PHENT_SIZE).ok_or(Errno::ENOEXEC)? as usize;
        let ptype = u32_at(d, off)?;
        let flags = u32_at(d, off + 4)?;
        let offset = u64_at(d, off + 8)?;
        let vaddr = u64_at(d, off + 16)?;
        let filesz = u64_at(d, off + 32)?;
        let memsz = u64_at(d, off + 40)?;
        match ptype {
            PT_INTERP => return Err(Errno::ENOEXEC),
            PT_PHDR => phdr_vaddr = Some(vaddr),
            PT_LOAD if memsz > 0 => {
                let file_end = offset.checked_add(filesz).ok_or(Errno::ENOEXEC)?;
                if filesz > memsz || file_end > len || vaddr.checked_add(memsz).is_none() {
                    return Err(Errno::ENOEXEC);
                }
                if offset % 4096 != vaddr % 4096 {
                    return Err(Errno::ENOEXEC);
                }
                segments.push(Segment { vaddr, memsz, offset, filesz, flags });
            }
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(Errno::ENOEXEC);
    }
    // Without PT_PHDR, the headers are mapped if a segment covers them.
    if phdr_vaddr.is_none() {
        phdr_vaddr = segments
            .iter()
            .find(|s| s.offset <= phoff && phoff + phnum * PHENT_SIZE <= s.offset + s.filesz)
            .map(|s| s.vaddr + (phoff - s.offset));
    }
    Ok(Executable { is_pie: etype == ET_DYN, entry, segments, phdr_vaddr, phnum })
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;

    #[ktest]
    pub fn rejects_garbage() {
        assert_eq!(parse(b"").unwrap_err(), Errno::ENOEXEC);
        assert_eq!(parse(&[0u8; 100]).unwrap_err(), Errno::ENOEXEC);
        let mut hdr = alloc::vec![0u8; 64];
        hdr[..4].copy_from_slice(b"\x7fELF");
        hdr[4] = 2;
        hdr[5] = 1;
        hdr[16] = 2;
        hdr[18] = 62;
        hdr[54] = 56;
        hdr[56] = 200; // 200 program headers beyond the end of the file
        assert_eq!(parse(&hdr).unwrap_err(), Errno::ENOEXEC);
    }
}
