//! Swap slots: which slots of a swap device hold a page, and how many swap
//! entries name each (Linux `mm/swapfile.c`: `swap_info_struct`,
//! `swap_map`, `folio_alloc_swap`, `swap_duplicate`, `swap_free`).
//!
//! A [`SwapEntry`] names a device (its *type*, the index `swapon` gave it)
//! and a slot on it. Reclaim takes a free slot for a page it swaps out
//! ([`SwapInfo::get_swap_page`]); every swap pte that names the slot holds
//! one count on it (fork copies a swap pte: [`SwapInfo::swap_duplicate`]);
//! zapping such a pte or swapping the page back in gives the count back
//! ([`SwapInfo::swap_free`]), and the last one frees the slot and discards
//! its contents on the device.
//!
//! # Invariants (under the swap-map lock)
//!
//! - Slot 0 (the device header) and the bad slots are never free and never
//!   handed out.
//! - `nr_free` is the number of slots with count 0 that may be handed out.
//! - A slot's count is the number of swap entries naming it that have not
//!   been freed; the slot is free iff its count is 0.
//! - No slot is handed out while `writeok` is false (Linux `SWP_WRITEOK`
//!   clear: the device is being swapped off, see [`super::swapoff`]).
//!
//! # Locking
//!
//! One spinlock per device, held with interrupts off
//! ([`crate::irqlock`]), around its map (Linux's `si->lock` and cluster
//! locks together). It is taken with page-table locks held (zap, fork copy
//! take counts under their mm's inner lock), so it sits below the
//! page-table lock; the device's discard runs after it is dropped.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::SwapDevice;
use crate::irqlock::IrqSpinLock;

/// Linux `SWAP_MAP_MAX`: the most entries that may name one slot. A fork
/// that would exceed it fails with `ENOMEM`, as Linux's without swap
/// continuation pages does.
pub const SWAP_MAP_MAX: u16 = 0x7ffe;

/// Count value of a slot that is never handed out (header, bad slot:
/// Linux `SWAP_MAP_BAD`).
const SWAP_MAP_BAD: u16 = 0xffff;

/// Linux `swp_entry_t`: a device type and a slot offset on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SwapEntry {
    pub type_: u8,
    pub offset: u64,
}

/// Why a swap-map operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapMapError {
    /// The entry names a slot outside the device, slot 0, a bad slot, or
    /// a free slot (Linux's "Bad swap file entry" / "Unused swap offset").
    BadEntry,
    /// The slot's count is at [`SWAP_MAP_MAX`].
    Overflow,
}

struct SwapMap {
    count: Vec<u16>,
    nr_free: u64,
    /// Where the next search for a free slot starts (Linux's
    /// `cluster_next`): slots are handed out in ascending order, which a
    /// disk likes.
    next: usize,
    /// Linux `SWP_WRITEOK`: free slots may be handed out.
    writeok: bool,
}

/// One swap device and its slot counts (Linux `swap_info_struct`).
pub struct SwapInfo {
    type_: u8,
    device: Arc<dyn SwapDevice>,
    map: IrqSpinLock<SwapMap>,
    /// Usable slots (slot 0 and bad slots excluded): Linux's `pages`.
    pages: u64,
    /// Linux `prio`: slots come from the devices of the highest priority
    /// first ([`Swap::get_swap_page`](super::swap_state::Swap::get_swap_page)).
    /// Changed only under the device-list lock.
    prio: core::sync::atomic::AtomicI32,
}

impl SwapInfo {
    /// The slots of `device` as device number `type_`, with slot 0 and
    /// the slots in `bad` never used. `None` if the heap cannot hold the
    /// map.
    pub fn new(type_: u8, device: Arc<dyn SwapDevice>, bad: &[u64]) -> Option<SwapInfo> {
        let n = usize::try_from(device.nr_slots()).ok()?;
        let mut count = Vec::new();
        count.try_reserve_exact(n).ok()?;
        count.resize(n, 0u16);
        if let Some(c) = count.first_mut() {
            *c = SWAP_MAP_BAD;
        }
        for &b in bad {
            if let Some(c) = usize::try_from(b).ok().and_then(|b| count.get_mut(b)) {
                *c = SWAP_MAP_BAD;
            }
        }
        let nr_free = count.iter().filter(|&&c| c == 0).count() as u64;
        Some(SwapInfo {
            type_,
            device,
            map: IrqSpinLock::new(SwapMap { count, nr_free, next: 1, writeok: true }),
            pages: nr_free,
            prio: core::sync::atomic::AtomicI32::new(0),
        })
    }

    /// The device number.
    pub fn type_(&self) -> u8 {
        self.type_
    }

    /// Its priority (`/proc/swaps` Priority).
    pub fn prio(&self) -> i32 {
        self.prio.load(core::sync::atomic::Ordering::Relaxed)
    }

    /// Set its priority.
    ///
    /// Locking: the device-list lock held.
    pub(crate) fn set_prio(&self, prio: i32) {
        self.prio.store(prio, core::sync::atomic::Ordering::Relaxed);
    }

    /// The device the slots live on.
    pub fn device(&self) -> &Arc<dyn SwapDevice> {
        &self.device
    }

    /// Usable slots (`/proc/swaps` Size, in pages).
    pub fn pages(&self) -> u64 {
        self.pages
    }

    /// Free slots.
    ///
    /// Locking: takes the swap-map lock.
    pub fn nr_free(&self) -> u64 {
        self.map.lock().nr_free
    }

    /// Slots in use (Linux `inuse_pages`): counts held by swap entries and
    /// by reclaim writing a page out.
    ///
    /// Locking: takes the swap-map lock.
    pub fn inuse_pages(&self) -> u64 {
        self.pages - self.nr_free()
    }

    /// Whether free slots are handed out (Linux `SWP_WRITEOK`).
    ///
    /// Locking: takes the swap-map lock.
    pub fn writeok(&self) -> bool {
        self.map.lock().writeok
    }

    /// Start or stop handing out free slots; returns the previous state.
    /// Slots already taken keep their counts.
    ///
    /// Locking: takes the swap-map lock.
    pub fn set_writeok(&self, on: bool) -> bool {
        core::mem::replace(&mut self.map.lock().writeok, on)
    }

    /// Take a free slot with count 1 for a page being swapped out (Linux
    /// `folio_alloc_swap` / `scan_swap_map_slots`). `None` when the device
    /// is full or being swapped off.
    ///
    /// Locking: takes the swap-map lock.
    pub fn get_swap_page(&self) -> Option<SwapEntry> {
        let mut m = self.map.lock();
        if m.nr_free == 0 || !m.writeok {
            return None;
        }
        let n = m.count.len();
        let start = m.next.clamp(1, n.max(1));
        let off = (start..n).chain(1..start).find(|&i| m.count[i] == 0)?;
        m.count[off] = 1;
        m.nr_free -= 1;
        m.next = off + 1;
        Some(SwapEntry { type_: self.type_, offset: off as u64 })
    }

    /// One more swap entry names `e`'s slot (Linux `swap_duplicate`: fork
    /// copying a swap pte).
    ///
    /// Locking: takes the swap-map lock.
    pub fn swap_duplicate(&self, e: SwapEntry) -> Result<u16, SwapMapError> {
        let mut m = self.map.lock();
        let c = self.used_slot(&mut m, e)?;
        if *c >= SWAP_MAP_MAX {
            return Err(SwapMapError::Overflow);
        }
        *c += 1;
        Ok(*c)
    }

    /// A swap entry naming `e`'s slot went away (Linux `swap_free`);
    /// returns the count left. The last one frees the slot and discards
    /// its contents.
    ///
    /// Locking: takes the swap-map lock; calls the device's discard after
    /// dropping it.
    pub fn swap_free(&self, e: SwapEntry) -> Result<u16, SwapMapError> {
        let left = {
            let mut m = self.map.lock();
            let c = self.used_slot(&mut m, e)?;
            *c -= 1;
            let left = *c;
            if left == 0 {
                m.nr_free += 1;
            }
            left
        };
        if left == 0 {
            self.device.discard(e.offset);
        }
        Ok(left)
    }

    /// Linux `__swap_count`: how many entries name `e`'s slot (0: free, or
    /// not a slot of this device).
    ///
    /// Locking: takes the swap-map lock.
    pub fn swap_count(&self, e: SwapEntry) -> u16 {
        let m = self.map.lock();
        match usize::try_from(e.offset).ok().and_then(|o| m.count.get(o)) {
            Some(&c) if c != SWAP_MAP_BAD && e.type_ == self.type_ => c,
            _ => 0,
        }
    }

    fn used_slot<'m>(&self, m: &'m mut SwapMap, e: SwapEntry) -> Result<&'m mut u16, SwapMapError> {
        if e.type_ != self.type_ {
            return Err(SwapMapError::BadEntry);
        }
        let c = usize::try_from(e.offset).ok().and_then(|o| m.count.get_mut(o)).ok_or(SwapMapError::BadEntry)?;
        if *c == 0 || *c == SWAP_MAP_BAD {
            return Err(SwapMapError::BadEntry);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swap::{SwapIoError, SWAP_PAGE_SIZE};
    use std::sync::Mutex;

    /// A device that records discards and stores nothing.
    struct Recorder {
        slots: u64,
        discarded: Mutex<Vec<u64>>,
    }

    impl SwapDevice for Recorder {
        fn nr_slots(&self) -> u64 {
            self.slots
        }
        fn write_page(&self, _: u64, _: &[u8; SWAP_PAGE_SIZE]) -> Result<(), SwapIoError> {
            Ok(())
        }
        fn read_page(&self, _: u64, _: &mut [u8; SWAP_PAGE_SIZE]) -> Result<(), SwapIoError> {
            Err(SwapIoError::BadSlot)
        }
        fn discard(&self, slot: u64) {
            self.discarded.lock().unwrap().push(slot);
        }
    }

    fn info(slots: u64, bad: &[u64]) -> (SwapInfo, Arc<Recorder>) {
        let dev = Arc::new(Recorder { slots, discarded: Mutex::new(Vec::new()) });
        (SwapInfo::new(2, dev.clone(), bad).unwrap(), dev)
    }

    #[test]
    fn slot_zero_and_bad_slots_are_never_handed_out() {
        let (si, _) = info(6, &[3, 99]);
        assert_eq!(si.pages(), 4);
        let got: Vec<u64> = core::iter::from_fn(|| si.get_swap_page()).map(|e| e.offset).collect();
        assert_eq!(got, [1, 2, 4, 5]);
        assert_eq!(si.nr_free(), 0);
        assert_eq!(si.swap_free(SwapEntry { type_: 2, offset: 3 }), Err(SwapMapError::BadEntry));
        assert_eq!(si.swap_free(SwapEntry { type_: 2, offset: 0 }), Err(SwapMapError::BadEntry));
    }

    #[test]
    fn counts_follow_duplicate_and_free_and_the_last_free_discards() {
        let (si, dev) = info(4, &[]);
        let e = si.get_swap_page().unwrap();
        assert_eq!(si.swap_count(e), 1);
        assert_eq!(si.swap_duplicate(e), Ok(2));
        assert_eq!(si.swap_free(e), Ok(1));
        assert!(dev.discarded.lock().unwrap().is_empty());
        assert_eq!(si.swap_free(e), Ok(0));
        assert_eq!(*dev.discarded.lock().unwrap(), [e.offset]);
        assert_eq!(si.swap_count(e), 0);
        assert_eq!(si.swap_free(e), Err(SwapMapError::BadEntry), "a free slot cannot be freed again");
        assert_eq!(si.swap_duplicate(e), Err(SwapMapError::BadEntry));
        assert_eq!(si.swap_duplicate(SwapEntry { type_: 1, ..e }), Err(SwapMapError::BadEntry));
        assert_eq!(si.nr_free(), 3);
    }

    #[test]
    fn a_full_device_refuses_and_a_freed_slot_is_reused() {
        let (si, _) = info(3, &[]);
        let a = si.get_swap_page().unwrap();
        let _b = si.get_swap_page().unwrap();
        assert_eq!(si.get_swap_page(), None);
        si.swap_free(a).unwrap();
        assert_eq!(si.get_swap_page(), Some(a));
    }

    #[test]
    fn a_device_not_writeok_hands_out_nothing_but_keeps_its_counts() {
        let (si, _) = info(4, &[]);
        let e = si.get_swap_page().unwrap();
        assert!(si.set_writeok(false));
        assert_eq!(si.get_swap_page(), None);
        assert_eq!(si.swap_duplicate(e), Ok(2), "taken slots still count");
        assert_eq!(si.inuse_pages(), 1);
        assert_eq!(si.swap_free(e), Ok(1));
        assert_eq!(si.swap_free(e), Ok(0));
        assert_eq!(si.inuse_pages(), 0);
        assert!(!si.set_writeok(true));
        assert!(si.get_swap_page().is_some());
    }

    #[test]
    fn overflow_is_an_error() {
        let (si, _) = info(2, &[]);
        let e = si.get_swap_page().unwrap();
        for _ in 1..SWAP_MAP_MAX {
            si.swap_duplicate(e).unwrap();
        }
        assert_eq!(si.swap_duplicate(e), Err(SwapMapError::Overflow));
        assert_eq!(si.swap_count(e), SWAP_MAP_MAX);
    }

    #[test]
    fn concurrent_allocation_hands_each_slot_out_once() {
        let (si, _) = info(4001, &[]);
        let si = Arc::new(si);
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let si = si.clone();
                std::thread::spawn(move || (0..1000).map(|_| si.get_swap_page().unwrap().offset).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = threads.into_iter().flat_map(|t| t.join().unwrap()).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4000);
        assert_eq!(si.nr_free(), 0);
    }
}
