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

pub mod swap_state;
pub mod swapfile;
pub mod swapoff;
