//! Swap: where reclaim puts anonymous and shmem pages it takes out of RAM.
//!
//! A swap device is an array of page-sized slots ([`SwapDevice`]). Slot 0
//! holds the device's header (Linux's `union swap_header`) on a disk and is
//! never handed out; the others hold one page each while a swap entry
//! names them.
//!
//! Which slots hold a page, and how many swap entries name each, is
//! [`swapfile`]'s business.
//!
//! Taking a device away again, with every page on it brought back into
//! RAM, is [`swapoff`]'s.
//!
//! Devices: a compressed store in RAM in the style of Linux's zram
//! ([`zram`]) and, in the kernel, a virtio-blk disk.
//!
//! Locking: a device serialises its own slots; callers hold no page-table
//! lock while they read or write a page (the I/O may sleep or allocate).

pub mod header;
pub mod zram;

/// Size of one slot, in bytes (one page).
pub const SWAP_PAGE_SIZE: usize = 4096;

/// Why a device could not store or return a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapIoError {
    /// The device failed the transfer (Linux: the bio completed with an
    /// error). Reclaim keeps the page; a swap-in gets `SIGBUS`.
    Io,
    /// The device has no room for this page's data (a compressed store
    /// whose memory ran out). Reclaim keeps the page.
    NoSpace,
    /// The slot is outside the device, or (reading) holds nothing.
    BadSlot,
}

/// A block of page-sized slots that swap writes pages to.
///
/// Locking: implementations serialise concurrent calls themselves; the
/// caller holds no page-table lock.
pub trait SwapDevice: Send + Sync {
    /// Number of slots, slot 0 included.
    fn nr_slots(&self) -> u64;
    /// Store `page` in `slot` (replacing whatever it held).
    fn write_page(&self, slot: u64, page: &[u8; SWAP_PAGE_SIZE]) -> Result<(), SwapIoError>;
    /// Copy the page stored in `slot` into `page`.
    fn read_page(&self, slot: u64, page: &mut [u8; SWAP_PAGE_SIZE]) -> Result<(), SwapIoError>;
    /// The slot's contents are no longer needed (Linux's discard / zram's
    /// `zram_slot_free_notify`): a compressed store frees their memory, a
    /// disk may ignore it.
    fn discard(&self, slot: u64);
}

/// Why [`swap_read_frame`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SwapReadError {
    /// No frame, or no heap for the transfer.
    NoMemory,
    /// The device failed the read, or is gone.
    Io,
}

/// Read slot `entry` of `si` into a new frame (the caller's `spare` if it
/// has one, else one from `phys`) and return the frame (Linux
/// `swap_read_folio` into a new folio). The frame is freed again on
/// failure.
///
/// Locking: no page-table lock held (the device may sleep or allocate).
pub(crate) fn swap_read_frame(
    phys: &impl crate::pgtable::PhysMem,
    si: &swapfile::SwapInfo,
    entry: swapfile::SwapEntry,
    spare: &mut Option<u64>,
) -> Result<u64, SwapReadError> {
    let pa = match spare.take() {
        Some(pa) => pa,
        None => phys.alloc_frame().ok_or(SwapReadError::NoMemory)?,
    };
    let mut buf: alloc::vec::Vec<u8> = alloc::vec::Vec::new();
    if buf.try_reserve_exact(SWAP_PAGE_SIZE).is_err() {
        phys.free_frame(pa);
        return Err(SwapReadError::NoMemory);
    }
    buf.resize(SWAP_PAGE_SIZE, 0);
    let read = match <&mut [u8; SWAP_PAGE_SIZE]>::try_from(buf.as_mut_slice()) {
        Ok(page) => si.device().read_page(entry.offset, page).map(|_| phys.write_frame(pa, page)),
        Err(_) => Err(SwapIoError::Io),
    };
    if read.is_err() {
        phys.free_frame(pa);
        return Err(SwapReadError::Io);
    }
    Ok(pa)
}

pub mod swap_state;
pub mod swapfile;
pub mod swapoff;
