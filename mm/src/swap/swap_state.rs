//! The machine's swap: the devices `swapon` added and the swap counters
//! of `/proc/vmstat` (Linux `swap_info[]`).
//!
//! There is no swap cache that outlives a swap-out: reclaim writes a page
//! to its slot *before* it turns the page's ptes (or its shmem object's
//! index entry) into swap entries (see [`crate::vmscan`]), so a fault on a
//! swap entry always finds the page's contents on the device. A swap-in
//! takes a count on the slot while it reads (so the slot is neither freed
//! nor reused meanwhile, which Linux's `SWAP_HAS_CACHE` ensures), and
//! reads its own copy (see [`crate::fault`]). Linux keeps swapped in pages
//! in a swap cache to share one copy among the processes that swapped an
//! anonymous page out together; Holdfast gives each its own (a shmem page
//! has one slot and comes back as one page).
//!
//! # Invariants
//!
//! - `devices[t]`, when present, has type `t`.
//! - `nr_entries` counts the slot counts taken and not given back: when
//!   it is 0, no page table holds a swap entry.
//!
//! # Locking
//!
//! The device list has a spinlock held with interrupts off
//! ([`crate::irqlock`]), below the page-table lock (zap and
//! fork take slot counts with an inner lock held) and above the frame
//! allocator; no device I/O runs under it.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use super::swapfile::{SwapEntry, SwapInfo, SwapMapError};
use super::SwapDevice;
use crate::errno::Errno;
use crate::irqlock::IrqSpinLock;
use crate::pgtable::{PtEntry, MAX_SWAP_TYPE};

/// Linux `MAX_SWAPFILES` is 32 less some special types; Holdfast keeps a
/// handful.
pub const MAX_SWAPFILES: usize = 8;

/// Swap and reclaim events since boot (Linux `/proc/vmstat` names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwapEvents {
    /// `pswpin`: pages read from swap.
    pub pswpin: u64,
    /// `pswpout`: pages written to swap.
    pub pswpout: u64,
    /// `pgscan_kswapd` / `pgscan_direct`: pages reclaim looked at.
    pub pgscan_kswapd: u64,
    pub pgscan_direct: u64,
    /// `pgsteal_kswapd` / `pgsteal_direct`: pages reclaim freed.
    pub pgsteal_kswapd: u64,
    pub pgsteal_direct: u64,
    /// `pgactivate` / `pgdeactivate`: moves between inactive and active.
    pub pgactivate: u64,
    pub pgdeactivate: u64,
    /// `pgmajfault`: faults that read a page from swap.
    pub pgmajfault: u64,
}

/// A swap event to count ([`Swap::count`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SwapEvent {
    SwapIn,
    SwapOut,
    Scan { kswapd: bool },
    Steal { kswapd: bool },
    Activate,
    Deactivate,
    MajorFault,
}

impl SwapEvent {
    const COUNT: usize = 9;

    /// This event's counter.
    const fn index(self) -> usize {
        match self {
            SwapEvent::SwapIn => 0,
            SwapEvent::SwapOut => 1,
            SwapEvent::Scan { kswapd: true } => 2,
            SwapEvent::Scan { kswapd: false } => 3,
            SwapEvent::Steal { kswapd: true } => 4,
            SwapEvent::Steal { kswapd: false } => 5,
            SwapEvent::Activate => 6,
            SwapEvent::Deactivate => 7,
            SwapEvent::MajorFault => 8,
        }
    }
}

/// The machine's swap devices and counters.
#[derive(Default)]
pub struct Swap {
    devices: IrqSpinLock<Vec<Option<Arc<SwapInfo>>>>,
    /// One counter per [`SwapEvent`], indexed by [`SwapEvent::index`].
    events: [AtomicU64; SwapEvent::COUNT],
    /// How many devices are on: lets zap and fork skip looking for swap
    /// entries when there can be none.
    nr_devices: AtomicU64,
    /// Slot counts taken and not given back, across all devices: when 0,
    /// no page table holds a swap entry.
    nr_entries: AtomicU64,
    /// Devices on with a default (negative) priority: the next gets
    /// `-2 - defaults` (Linux's `least_priority`, which starts at -1).
    /// Changed under the device-list lock.
    defaults: AtomicU64,
    /// Turns among the devices of one priority (Linux requeues a device
    /// behind its equals after each allocation).
    rotor: AtomicU64,
}

/// One line of `/proc/swaps`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwapSummary {
    pub type_: u8,
    /// Usable slots, in pages.
    pub pages: u64,
    /// Slots in use, in pages.
    pub used: u64,
    /// Its priority.
    pub prio: i32,
}

impl Swap {
    pub fn new() -> Swap {
        Swap::default()
    }

    /// Linux `swapon`: add `device` (with slot 0 and `bad` unusable) as
    /// the lowest free type; returns the type.
    ///
    /// Errors: `EPERM` when [`MAX_SWAPFILES`] devices are on; `EINVAL`
    /// for a device with no usable slot; `ENOMEM` if the heap cannot hold
    /// its slot map.
    /// Locking: takes the device-list lock.
    pub fn swapon(&self, device: Arc<dyn SwapDevice>, bad: &[u64]) -> Result<u8, Errno> {
        self.swapon_prio(device, bad, None)
    }

    /// [`Swap::swapon`] with priority `prio` (Linux `SWAP_FLAG_PREFER`,
    /// 0 to 32767), or, with `None`, the next default one: -2 for the
    /// first device on without one, one less for each further one (Linux
    /// `least_priority`).
    ///
    /// Errors: as [`Swap::swapon`].
    /// Locking: takes the device-list lock.
    pub fn swapon_prio(&self, device: Arc<dyn SwapDevice>, bad: &[u64], prio: Option<u16>) -> Result<u8, Errno> {
        let mut devs = self.devices.lock();
        let type_ = match devs.iter().position(Option::is_none) {
            Some(t) => t,
            None if devs.len() < MAX_SWAPFILES.min(usize::from(MAX_SWAP_TYPE) + 1) => {
                devs.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                devs.push(None);
                devs.len() - 1
            }
            None => return Err(Errno::EPERM),
        };
        let type_ = u8::try_from(type_).map_err(|_| Errno::EPERM)?;
        if device.nr_slots() > crate::pgtable::MAX_SWAP_OFFSET {
            return Err(Errno::EINVAL);
        }
        let info = SwapInfo::new(type_, device, bad).ok_or(Errno::ENOMEM)?;
        if info.pages() == 0 {
            return Err(Errno::EINVAL);
        }
        match prio {
            Some(p) => info.set_prio(i32::from(p & 0x7fff)),
            None => {
                let n = self.defaults.fetch_add(1, Ordering::Relaxed);
                info.set_prio(-2 - i32::try_from(n).unwrap_or(i32::MAX - 2));
            }
        }
        devs[usize::from(type_)] = Some(Arc::new(info));
        self.nr_devices.fetch_add(1, Ordering::AcqRel);
        Ok(type_)
    }

    /// First step of Linux `swapoff`: device `type_` stops taking new
    /// slots (clears `SWP_WRITEOK`) and is returned, still on the list, so
    /// that the swap entries naming it can be swapped back in
    /// ([`super::swapoff::try_to_unuse`]).
    ///
    /// Errors: `EINVAL` when no such device is on, or it is already being
    /// swapped off.
    /// Locking: takes the device-list lock, then the map lock.
    pub fn swapoff_begin(&self, type_: u8) -> Result<Arc<SwapInfo>, Errno> {
        let devs = self.devices.lock();
        let si = devs.get(usize::from(type_)).cloned().flatten().ok_or(Errno::EINVAL)?;
        if !si.set_writeok(false) {
            return Err(Errno::EINVAL);
        }
        Ok(si)
    }

    /// A swapoff that failed: the device takes new slots again (Linux
    /// `reinsert_swap_info`).
    ///
    /// Locking: takes the map lock.
    pub fn reinsert_swap_info(&self, si: &SwapInfo) {
        si.set_writeok(true);
    }

    /// Last step of Linux `swapoff`: take device `type_`, which no swap
    /// entry names any more, off the list; its type is free for the next
    /// `swapon`.
    ///
    /// Errors: `EINVAL` if no such device is being swapped off; `EBUSY`
    /// if a slot is still in use (it stays on, not taking new slots).
    /// Locking: takes the device-list lock, then the map lock.
    pub fn swapoff_finish(&self, type_: u8) -> Result<Arc<SwapInfo>, Errno> {
        let mut devs = self.devices.lock();
        let slot = devs.get_mut(usize::from(type_)).ok_or(Errno::EINVAL)?;
        match slot {
            Some(si) if si.writeok() => return Err(Errno::EINVAL),
            Some(si) if si.inuse_pages() != 0 => return Err(Errno::EBUSY),
            Some(_) => {}
            None => return Err(Errno::EINVAL),
        }
        let si = slot.take().ok_or(Errno::EINVAL)?;
        self.nr_devices.fetch_sub(1, Ordering::AcqRel);
        // Linux: the devices with a default priority below it move up one,
        // so the defaults stay -2, -3, ... with no gap.
        if si.prio() < 0 {
            for d in devs.iter().flatten().filter(|d| d.prio() < si.prio()) {
                d.set_prio(d.prio() + 1);
            }
            self.defaults.fetch_sub(1, Ordering::Relaxed);
        }
        Ok(si)
    }

    /// Whether any device is on.
    pub fn enabled(&self) -> bool {
        self.nr_devices.load(Ordering::Acquire) > 0
    }

    /// Whether a page table may hold a swap entry.
    pub fn may_have_entries(&self) -> bool {
        self.nr_entries.load(Ordering::Acquire) > 0
    }

    /// The device of type `t`.
    ///
    /// Locking: takes the device-list lock.
    pub fn device(&self, t: u8) -> Option<Arc<SwapInfo>> {
        self.devices.lock().get(usize::from(t)).cloned().flatten()
    }

    /// `/proc/swaps`: every device on.
    ///
    /// Locking: takes the device-list lock, then each map lock.
    pub fn summaries(&self) -> Vec<SwapSummary> {
        let devs: Vec<Arc<SwapInfo>> = self.devices.lock().iter().flatten().cloned().collect();
        devs.iter()
            .map(|d| SwapSummary { type_: d.type_(), pages: d.pages(), used: d.pages() - d.nr_free(), prio: d.prio() })
            .collect()
    }

    /// (total, free) slots over every device, in pages (meminfo
    /// `SwapTotal`, `SwapFree`).
    pub fn totals(&self) -> (u64, u64) {
        self.summaries().iter().fold((0, 0), |(t, f), s| (t + s.pages, f + s.pages - s.used))
    }

    /// A free slot (count 1, held by the caller: reclaim) on a device of
    /// the highest priority that has one; devices of equal priority take
    /// turns (Linux `get_swap_pages` over `swap_avail_heads`).
    ///
    /// Locking: takes the device-list lock, then map locks.
    pub fn get_swap_page(&self) -> Option<SwapEntry> {
        let mut devs: Vec<Arc<SwapInfo>> = self.devices.lock().iter().flatten().cloned().collect();
        devs.sort_by_key(|d| core::cmp::Reverse(d.prio()));
        let turn = self.rotor.fetch_add(1, Ordering::Relaxed) as usize;
        let e = devs
            .chunk_by(|a, b| a.prio() == b.prio())
            .find_map(|equals| (0..equals.len()).find_map(|k| equals[(turn + k) % equals.len()].get_swap_page()))?;
        self.nr_entries.fetch_add(1, Ordering::AcqRel);
        Some(e)
    }

    /// One more swap pte names `e` (a pte made by reclaim, or copied by
    /// fork).
    ///
    /// Errors: `ENOMEM` when the slot's count is full (Linux fails the
    /// fork the same way without continuation pages); `EINVAL` for an
    /// entry no device has.
    pub fn swap_duplicate(&self, e: SwapEntry) -> Result<(), Errno> {
        let d = self.device(e.type_).ok_or(Errno::EINVAL)?;
        match d.swap_duplicate(e) {
            Ok(_) => {
                self.nr_entries.fetch_add(1, Ordering::AcqRel);
                Ok(())
            }
            Err(SwapMapError::Overflow) => Err(Errno::ENOMEM),
            Err(SwapMapError::BadEntry) => Err(Errno::EINVAL),
        }
    }

    /// A swap pte (or the cache's count) naming `e` went away; the last
    /// frees the slot. A bad entry is reported, not fatal.
    pub fn swap_free(&self, e: SwapEntry) -> Result<u16, Errno> {
        let d = self.device(e.type_).ok_or(Errno::EINVAL)?;
        let left = d.swap_free(e).map_err(|_| Errno::EINVAL)?;
        self.nr_entries.fetch_sub(1, Ordering::AcqRel);
        Ok(left)
    }

    /// How many ptes (and the cache) name `e`.
    pub fn swap_count(&self, e: SwapEntry) -> u16 {
        self.device(e.type_).map_or(0, |d| d.swap_count(e))
    }

    /// Count `ev`.
    pub fn count(&self, ev: SwapEvent, n: u64) {
        self.events[ev.index()].fetch_add(n, Ordering::Relaxed);
    }

    /// The counters.
    pub fn events(&self) -> SwapEvents {
        let g = |ev: SwapEvent| self.events[ev.index()].load(Ordering::Relaxed);
        SwapEvents {
            pswpin: g(SwapEvent::SwapIn),
            pswpout: g(SwapEvent::SwapOut),
            pgscan_kswapd: g(SwapEvent::Scan { kswapd: true }),
            pgscan_direct: g(SwapEvent::Scan { kswapd: false }),
            pgsteal_kswapd: g(SwapEvent::Steal { kswapd: true }),
            pgsteal_direct: g(SwapEvent::Steal { kswapd: false }),
            pgactivate: g(SwapEvent::Activate),
            pgdeactivate: g(SwapEvent::Deactivate),
            pgmajfault: g(SwapEvent::MajorFault),
        }
    }
}

/// The swap entry a pte holds, as a [`SwapEntry`].
pub fn pte_to_swp_entry(e: PtEntry) -> Option<SwapEntry> {
    e.swap_entry().map(|(type_, offset)| SwapEntry { type_, offset })
}

/// The pte for a [`SwapEntry`].
pub fn swp_entry_to_pte(e: SwapEntry) -> Option<PtEntry> {
    PtEntry::swap(e.type_, e.offset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::swap::zram::Zram;

    fn dev() -> Arc<dyn SwapDevice> {
        Arc::new(Zram::new(16).unwrap())
    }

    fn prios(swap: &Swap) -> Vec<(u8, i32)> {
        swap.summaries().iter().map(|s| (s.type_, s.prio)).collect()
    }

    #[test]
    fn default_priorities_count_down_from_minus_two_and_close_up_on_swapoff() {
        let swap = Swap::new();
        let a = swap.swapon(dev(), &[]).unwrap();
        let b = swap.swapon(dev(), &[]).unwrap();
        let c = swap.swapon_prio(dev(), &[], Some(7)).unwrap();
        let d = swap.swapon(dev(), &[]).unwrap();
        assert_eq!(prios(&swap), [(a, -2), (b, -3), (c, 7), (d, -4)]);
        // Off with a: those below it move up one; the next default is -4.
        swap.swapoff_begin(a).unwrap();
        swap.swapoff_finish(a).unwrap();
        assert_eq!(prios(&swap), [(b, -2), (c, 7), (d, -3)]);
        let e = swap.swapon(dev(), &[]).unwrap();
        assert_eq!(prios(&swap), [(e, -4), (b, -2), (c, 7), (d, -3)]);
        // A preferred device going off changes no other.
        swap.swapoff_begin(c).unwrap();
        swap.swapoff_finish(c).unwrap();
        assert_eq!(prios(&swap), [(e, -4), (b, -2), (d, -3)]);
    }

    #[test]
    fn slots_come_from_the_highest_priority_and_equals_take_turns() {
        let swap = Swap::new();
        let low = swap.swapon(dev(), &[]).unwrap();
        let hi1 = swap.swapon_prio(dev(), &[], Some(5)).unwrap();
        let hi2 = swap.swapon_prio(dev(), &[], Some(5)).unwrap();
        let types: Vec<u8> = (0..30).map(|_| swap.get_swap_page().unwrap().type_).collect();
        // 15 usable slots each: the two of priority 5 alternate until both
        // are full, then the default one is used.
        assert_eq!(types[..30].iter().filter(|&&t| t == hi1).count(), 15, "{types:?}");
        assert_eq!(types[..30].iter().filter(|&&t| t == hi2).count(), 15, "{types:?}");
        assert!(types[..4].contains(&hi1) && types[..4].contains(&hi2), "{types:?}");
        assert_eq!(swap.get_swap_page().unwrap().type_, low);
    }
}
