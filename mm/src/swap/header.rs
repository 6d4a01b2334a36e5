//! Linux's swap header: the first page of a swap partition or file, as
//! `mkswap` writes it and `swapon` reads it (`union swap_header` in
//! `include/linux/swap.h`, checked as `read_swap_header` in
//! `mm/swapfile.c` does).
//!
//! Layout of the page (little-endian, version 1 only):
//!
//! ```text
//! 0     bootbits[1024]     left alone (a boot sector or disk label)
//! 1024  version: u32       1
//! 1028  last_page: u32     the last usable page; the area is pages 0..=last_page
//! 1032  nr_badpages: u32   entries in badpages[]
//! 1036  sws_uuid[16]
//! 1052  sws_volume[16]     label, NUL-padded
//! 1068  padding[117]: u32
//! 1536  badpages[]: u32    page numbers never to use
//! 4086  magic              "SWAPSPACE2"
//! ```
//!
//! Page 0 is the header itself and never holds a swapped page.
//!
//! Pure parsing, no I/O and no locking: the caller reads the page.

use super::SWAP_PAGE_SIZE;
use alloc::vec::Vec;

/// The signature of a version-1 swap area (`SWAPSPACE2`).
pub const SWAP_MAGIC: &[u8; 10] = b"SWAPSPACE2";
/// Where the signature sits: the last ten bytes of the page.
pub const SWAP_MAGIC_OFFSET: usize = SWAP_PAGE_SIZE - SWAP_MAGIC.len();

const VERSION: usize = 1024;
const LAST_PAGE: usize = 1028;
const NR_BADPAGES: usize = 1032;
const UUID: usize = 1036;
const VOLUME: usize = 1052;
const BADPAGES: usize = 1536;

/// Most bad pages the header has room for (Linux's `MAX_SWAP_BADPAGES`).
pub const MAX_SWAP_BADPAGES: usize = (SWAP_MAGIC_OFFSET - BADPAGES) / 4;

/// Why a page is not a usable swap header (Linux's `swapon` fails with
/// `EINVAL` for each).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// No `SWAPSPACE2` signature: not a (version 1) swap area.
    BadMagic,
    /// `info.version` is not 1.
    BadVersion(u32),
    /// `last_page` is 0: no page besides the header.
    Empty,
    /// The header claims more pages than the device has ("Swap area
    /// shorter than signature indicates").
    BeyondDevice { last_page: u32, device_pages: u64 },
    /// `nr_badpages` exceeds [`MAX_SWAP_BADPAGES`].
    TooManyBadPages(u32),
    /// A bad-page entry names the header or a page past `last_page`.
    BadPageOutOfRange(u32),
}

/// A parsed version-1 swap header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwapHeader {
    /// The last page of the area: slots `1..=last_page` may hold pages.
    pub last_page: u32,
    pub nr_badpages: u32,
    pub uuid: [u8; 16],
    /// The label as stored, NUL padding included.
    pub volume: [u8; 16],
    /// The bad pages, sorted.
    pub badpages: Vec<u32>,
}

impl SwapHeader {
    /// Slots of the area, the header's included (`last_page + 1`).
    pub fn nr_slots(&self) -> u64 {
        u64::from(self.last_page) + 1
    }

    /// Slots that may hold a page: all but the header and the bad ones.
    pub fn nr_good_pages(&self) -> u64 {
        u64::from(self.last_page) - u64::from(self.nr_badpages)
    }

    /// Must `slot` never hold a page? (The header, a listed bad page, or
    /// past the end of the area.)
    pub fn is_bad(&self, slot: u64) -> bool {
        slot == 0 || slot > u64::from(self.last_page) || self.badpages.binary_search(&(slot as u32)).is_ok()
    }

    /// The label without its NUL padding.
    pub fn label(&self) -> &[u8] {
        let end = self.volume.iter().position(|&b| b == 0).unwrap_or(self.volume.len());
        &self.volume[..end]
    }
}

fn u32_at(page: &[u8; SWAP_PAGE_SIZE], off: usize) -> u32 {
    u32::from_le_bytes([page[off], page[off + 1], page[off + 2], page[off + 3]])
}

/// Parse the header `page` of a device of `device_pages` pages.
pub fn parse(page: &[u8; SWAP_PAGE_SIZE], device_pages: u64) -> Result<SwapHeader, HeaderError> {
    if &page[SWAP_MAGIC_OFFSET..] != SWAP_MAGIC {
        return Err(HeaderError::BadMagic);
    }
    let version = u32_at(page, VERSION);
    if version != 1 {
        return Err(HeaderError::BadVersion(version));
    }
    let last_page = u32_at(page, LAST_PAGE);
    if last_page == 0 {
        return Err(HeaderError::Empty);
    }
    if u64::from(last_page) >= device_pages {
        return Err(HeaderError::BeyondDevice { last_page, device_pages });
    }
    let nr_badpages = u32_at(page, NR_BADPAGES);
    if nr_badpages as usize > MAX_SWAP_BADPAGES {
        return Err(HeaderError::TooManyBadPages(nr_badpages));
    }
    let mut badpages = Vec::with_capacity(nr_badpages as usize);
    for i in 0..nr_badpages as usize {
        let bad = u32_at(page, BADPAGES + 4 * i);
        if bad == 0 || bad > last_page {
            return Err(HeaderError::BadPageOutOfRange(bad));
        }
        badpages.push(bad);
    }
    badpages.sort_unstable();
    badpages.dedup();
    let mut uuid = [0; 16];
    uuid.copy_from_slice(&page[UUID..UUID + 16]);
    let mut volume = [0; 16];
    volume.copy_from_slice(&page[VOLUME..VOLUME + 16]);
    // A repeated entry counts once.
    let nr_badpages = badpages.len() as u32;
    Ok(SwapHeader { last_page, nr_badpages, uuid, volume, badpages })
}
