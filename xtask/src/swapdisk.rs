//! The swap disk QEMU attaches for `--swap-disk SIZE`: a sparse raw image
//! whose first page is a Linux swap header as `mkswap` writes it (version
//! 1, `last_page` = pages - 1, a random uuid, no bad pages, the
//! `SWAPSPACE2` signature at byte 4086), so the guest finds a swap area
//! on the whole disk. Written here so that no `mkswap` is needed.

use crate::error::{Error, Result};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const PAGE: u64 = 4096;

/// The header page of a swap area of `pages` pages.
pub fn swap_header(pages: u64, uuid: [u8; 16]) -> [u8; PAGE as usize] {
    assert!((2..=1 << 32).contains(&pages), "a swap area has 2 to 2^32 pages");
    let mut p = [0u8; PAGE as usize];
    p[1024..1028].copy_from_slice(&1u32.to_le_bytes());
    p[1028..1032].copy_from_slice(&((pages - 1) as u32).to_le_bytes());
    // nr_badpages (1032..1036) stays 0.
    p[1036..1052].copy_from_slice(&uuid);
    p[1052..1064].copy_from_slice(b"holdfast-swp");
    p[4086..].copy_from_slice(b"SWAPSPACE2");
    p
}

/// A random version-4 uuid (from /dev/urandom; the time if that fails).
fn new_uuid() -> [u8; 16] {
    let mut u = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut u));
    if random.is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        u.copy_from_slice(&(t ^ u128::from(std::process::id()) << 64).to_le_bytes());
    }
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

/// (Re)create `path` as a sparse `bytes`-byte swap disk. Earlier contents
/// are dropped: each boot starts with an empty swap area.
pub fn create(path: &Path, bytes: u64) -> Result<()> {
    let fail = |e: std::io::Error| Error::new(format!("swap disk {}: {e}", path.display()));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(fail)?;
    }
    let mut f = std::fs::File::create(path).map_err(fail)?;
    f.set_len(bytes).map_err(fail)?;
    f.seek(SeekFrom::Start(0)).map_err(fail)?;
    f.write_all(&swap_header(bytes / PAGE, new_uuid())).map_err(fail)?;
    Ok(())
}

/// Parses a disk size: digits with a K, M or G suffix, a whole number of
/// pages, at least two (the header and one page) and at most 2^32 pages.
pub fn parse_size(s: &str) -> Option<u64> {
    let (digits, unit) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1 << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let bytes = digits.parse::<u64>().ok()?.checked_mul(unit)?;
    (bytes % PAGE == 0 && (2..=1 << 32).contains(&(bytes / PAGE))).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes() {
        let h = swap_header(16384, [7; 16]);
        assert_eq!(&h[4086..], b"SWAPSPACE2");
        assert_eq!(u32::from_le_bytes(h[1024..1028].try_into().unwrap()), 1);
        assert_eq!(u32::from_le_bytes(h[1028..1032].try_into().unwrap()), 16383);
        assert_eq!(u32::from_le_bytes(h[1032..1036].try_into().unwrap()), 0);
        assert_eq!(h[1036..1052], [7; 16]);
        assert!(h[..1024].iter().all(|&b| b == 0));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Some(64 << 20));
        assert_eq!(parse_size("1g"), Some(1 << 30));
        assert_eq!(parse_size("8K"), Some(8192));
        assert_eq!(parse_size("8192"), Some(8192));
        for bad in ["", "M", "4K", "1000", "-1M", "1.5G", "64MB", "0"] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn sparse_image() {
        let path = std::env::temp_dir().join(format!("holdfast-swap-test-{}.img", std::process::id()));
        create(&path, 64 << 20).unwrap();
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len(), 64 << 20);
        assert_eq!(&data[4086..4096], b"SWAPSPACE2");
        assert!(data[4096..].iter().all(|&b| b == 0));
        std::fs::remove_file(&path).unwrap();
    }
}
