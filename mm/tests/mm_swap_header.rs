//! Linux's swap header (`union swap_header`) as `swapon` reads it.
#![cfg(not(loom))]
use mm::swap::header::{parse, HeaderError, MAX_SWAP_BADPAGES, SWAP_MAGIC, SWAP_MAGIC_OFFSET};
use mm::swap::SWAP_PAGE_SIZE;

/// A header as `mkswap` writes it: version 1, `last_page`, bad pages, a uuid.
fn header(version: u32, last_page: u32, bad: &[u32]) -> [u8; SWAP_PAGE_SIZE] {
    let mut p = [0u8; SWAP_PAGE_SIZE];
    p[1024..1028].copy_from_slice(&version.to_le_bytes());
    p[1028..1032].copy_from_slice(&last_page.to_le_bytes());
    p[1032..1036].copy_from_slice(&(bad.len() as u32).to_le_bytes());
    p[1036..1052].copy_from_slice(&[0x5a; 16]);
    p[1052..1058].copy_from_slice(b"label\0");
    for (i, b) in bad.iter().enumerate() {
        p[1536 + 4 * i..1540 + 4 * i].copy_from_slice(&b.to_le_bytes());
    }
    p[SWAP_MAGIC_OFFSET..].copy_from_slice(SWAP_MAGIC);
    p
}

#[test]
fn good_header() {
    let h = parse(&header(1, 16383, &[]), 16384).unwrap();
    assert_eq!(h.last_page, 16383);
    assert_eq!(h.nr_slots(), 16384);
    assert_eq!(h.nr_good_pages(), 16383);
    assert_eq!(h.uuid, [0x5a; 16]);
    assert_eq!(h.label(), b"label");
    assert!(!h.is_bad(1) && !h.is_bad(16383));
    // Slot 0 is the header, never a page.
    assert!(h.is_bad(0));
    assert!(h.is_bad(16384));
}

#[test]
fn device_larger_than_the_header_says() {
    // Linux uses last_page + 1 pages and ignores the rest of the device.
    let h = parse(&header(1, 99, &[]), 16384).unwrap();
    assert_eq!((h.nr_slots(), h.nr_good_pages()), (100, 99));
    assert!(h.is_bad(100));
}

#[test]
fn wrong_magic() {
    let mut p = header(1, 100, &[]);
    p[SWAP_MAGIC_OFFSET..].copy_from_slice(b"SWAP-SPACE");
    assert_eq!(parse(&p, 1000), Err(HeaderError::BadMagic));
    let zero = [0u8; SWAP_PAGE_SIZE];
    assert_eq!(parse(&zero, 1000), Err(HeaderError::BadMagic));
}

#[test]
fn version_must_be_one() {
    assert_eq!(parse(&header(0, 100, &[]), 1000), Err(HeaderError::BadVersion(0)));
    assert_eq!(parse(&header(2, 100, &[]), 1000), Err(HeaderError::BadVersion(2)));
}

#[test]
fn empty_swap_area() {
    assert_eq!(parse(&header(1, 0, &[]), 1000), Err(HeaderError::Empty));
}

#[test]
fn last_page_beyond_the_device() {
    assert_eq!(parse(&header(1, 1000, &[]), 1000), Err(HeaderError::BeyondDevice { last_page: 1000, device_pages: 1000 }));
    assert!(parse(&header(1, 999, &[]), 1000).is_ok());
}

#[test]
fn bad_pages_are_skipped() {
    let h = parse(&header(1, 999, &[3, 7, 999]), 1000).unwrap();
    assert_eq!(h.nr_badpages, 3);
    assert_eq!(h.nr_good_pages(), 999 - 3);
    assert!(h.is_bad(3) && h.is_bad(7) && h.is_bad(999));
    assert!(!h.is_bad(4) && !h.is_bad(998));
}

#[test]
fn bad_page_list_out_of_range() {
    // Page 0 is the header itself; a page past last_page is not in the area.
    assert_eq!(parse(&header(1, 999, &[0]), 1000), Err(HeaderError::BadPageOutOfRange(0)));
    assert_eq!(parse(&header(1, 999, &[5, 1000]), 1000), Err(HeaderError::BadPageOutOfRange(1000)));
}

#[test]
fn too_many_bad_pages() {
    let mut p = header(1, 999, &[]);
    p[1032..1036].copy_from_slice(&(MAX_SWAP_BADPAGES as u32 + 1).to_le_bytes());
    assert_eq!(parse(&p, 1000), Err(HeaderError::TooManyBadPages(MAX_SWAP_BADPAGES as u32 + 1)));
}
