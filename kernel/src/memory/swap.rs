//! Swap in the kernel: the compressed in-RAM device, kswapd, and direct
//! reclaim ([`mm::vmscan`] does the work).
//!
//! - `zram=SIZE` on the command line (bytes, or with a `K`/`M`/`G`
//!   suffix) makes a zram device of that many bytes ([`mm::swap::zram`]),
//!   its compressed data limited to a quarter of memory, and swaps on it
//!   at boot, as a distribution's zram generator does; `/proc/swaps`
//!   names it `/dev/zram0`.
//! - `swapon=/dev/vda` swaps on the virtio-blk disk (`cargo xtask run
//!   --swap-disk SIZE` attaches one, with a Linux swap header) after
//!   zram, so zram, the faster, fills first.
//! - Both are known to `swapon(2)`/`swapoff(2)` by those names
//!   ([`super::swapfile`]); the disk even when not swapped on at boot.
//! - kswapd, a kernel thread, is woken when an allocation of user memory
//!   leaves fewer free frames than the low watermark, and reclaims until
//!   the high watermark is reached or reclaim makes no progress (it also
//!   looks every 100 ms). The watermarks sit above the reserve that user
//!   allocations may not take ([`super::frame::reserve`]): low = 2 x
//!   reserve, high = 3 x reserve.
//! - Direct reclaim: a user fault that found no free frame reclaims a
//!   cluster itself, with no lock held, and retries; the OOM killer runs
//!   only when that freed nothing ([`crate::proc::fault`]).
//!
//! Locking: the device and the thread are set once at boot; reclaim takes
//! what [`mm::vmscan`] says, never with a lock of the caller held.

use alloc::string::String;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use mm::swap::zram::Zram;
use mm::vmscan::{shrink_lruvec, ReclaimStats, Reclaimer, MAX_RECLAIM_RETRIES, SWAP_CLUSTER_MAX};
use mm::Errno;
use spin::Once;

use crate::arch::tlb::KernelTlb;
use crate::memory::phys::KernelPhys;
use crate::sched::rwsem_backend::SchedBackend;
use crate::sched::thread::{alloc_tid, Thread};

static KSWAPD: Once<Arc<Thread>> = Once::new();

/// Swap on the device known as `name` ([`super::swapfile`]), at boot.
fn swapon(name: &'static str) {
    if let Err(e) = super::swapfile::swapon(name.as_bytes(), 0) {
        log::warn!("swapon {name}: {e:?}");
    }
}

/// Parse `SIZE` (bytes, or `K`/`M`/`G` suffixed).
fn parse_size(v: &str) -> Option<u64> {
    let (num, shift) = match v.as_bytes().last()? {
        b'K' | b'k' => (&v[..v.len() - 1], 10),
        b'M' | b'm' => (&v[..v.len() - 1], 20),
        b'G' | b'g' => (&v[..v.len() - 1], 30),
        _ => (v, 0),
    };
    num.parse::<u64>().ok()?.checked_mul(1 << shift)
}

/// At boot: make and swap on the zram device `zram=SIZE` asks for, and
/// start kswapd.
pub fn init() {
    if let Some(v) = crate::cmdline::value("zram") {
        match parse_size(v).map(|bytes| bytes / mm::addr::PAGE_SIZE) {
            Some(pages) if pages > 1 => swapon_zram(pages),
            _ => log::warn!("zram={v}: not a size; no swap"),
        }
    }
    // The disk can be swapped on later (swapon(2)) if not now.
    let disk = crate::drivers::virtio_blk::swap_disk().and_then(|(disk, bad)| super::swapfile::register("/dev/vda", disk, bad).ok());
    match crate::cmdline::value("swapon") {
        Some("/dev/vda") => match disk {
            Some(()) => swapon("/dev/vda"),
            None => log::warn!("swapon=/dev/vda: no virtio-blk disk with a swap header"),
        },
        Some(other) => log::warn!("swapon={other}: unknown device (known: /dev/vda)"),
        None => {}
    }
    let t = Thread::new(alloc_tid(), String::from("kswapd0"));
    KSWAPD.call_once(|| crate::sched::spawn(t, kswapd));
}

fn swapon_zram(pages: u64) {
    let cpus = crate::arch::percpu::nr_online().max(1);
    let dev = match Zram::with_streams(pages, cpus) {
        Ok(d) => Arc::new(d),
        Err(e) => {
            log::warn!("zram0: cannot make a device of {pages} pages: {e:?}");
            return;
        }
    };
    // Compressed pages live on the kernel heap, which may dip into the
    // frames user memory leaves the kernel: keep zram to a quarter of
    // memory (Linux's mem_limit), and refuse a page while free frames are
    // below a quarter of the reserve, so that it can never take them all.
    let (total, _) = super::frame::counts();
    dev.set_mem_limit(total * mm::addr::PAGE_SIZE / 4);
    match super::swapfile::register("/dev/zram0", Arc::new(ReserveGuard(dev)), alloc::vec::Vec::new()) {
        Ok(()) => swapon("/dev/zram0"),
        Err(e) => log::warn!("zram0: {e:?}"),
    }
}

/// A zram device that stores nothing while three quarters of the
/// kernel's reserve of free frames are gone (its heap would take frames
/// the kernel needs).
struct ReserveGuard(Arc<Zram>);

impl mm::swap::SwapDevice for ReserveGuard {
    fn nr_slots(&self) -> u64 {
        self.0.nr_slots()
    }
    fn write_page(&self, slot: u64, page: &[u8; mm::swap::SWAP_PAGE_SIZE]) -> Result<(), mm::swap::SwapIoError> {
        if super::frame::counts().1 < super::frame::reserve() / 4 {
            return Err(mm::swap::SwapIoError::NoSpace);
        }
        self.0.write_page(slot, page)
    }
    fn read_page(&self, slot: u64, page: &mut [u8; mm::swap::SWAP_PAGE_SIZE]) -> Result<(), mm::swap::SwapIoError> {
        self.0.read_page(slot, page)
    }
    fn discard(&self, slot: u64) {
        self.0.discard(slot)
    }
}

/// (low, high) watermarks in free frames.
fn watermarks() -> (u64, u64) {
    let r = super::frame::reserve();
    (2 * r, 3 * r)
}

/// An allocation of user memory left `free` frames: wake kswapd if that
/// is below the low watermark.
///
/// Locking: any (takes the scheduler lock briefly).
pub fn wakeup_kswapd(free: u64) {
    if free >= watermarks().0 || !crate::proc::usermm::page_meta().swap().enabled() {
        return;
    }
    if let Some(t) = KSWAPD.get() {
        crate::sched::wake(t);
    }
}

/// Reclaim a cluster for a user fault that found no free frame (Linux
/// `try_to_free_pages`); returns how many pages were freed.
///
/// Locking: no lock held.
pub fn try_to_free_pages() -> u64 {
    shrink(SWAP_CLUSTER_MAX as u64, Reclaimer::Direct).reclaimed
}

/// Run `op`; while it fails with `ENOMEM` and a round of direct reclaim
/// frees pages, run it again (Linux's allocator slow path, at the level
/// of a whole operation, for operations that allocate under locks
/// reclaim would need: `op` must undo everything when it fails, as fork's
/// copy of an address space does).
///
/// Locking: no lock held, interrupts enabled.
pub fn retry_after_reclaim<T>(mut op: impl FnMut() -> Result<T, Errno>) -> Result<T, Errno> {
    let mut retries = 0;
    loop {
        match op() {
            Err(Errno::ENOMEM) if retries < MAX_RECLAIM_RETRIES && try_to_free_pages() > 0 => retries += 1,
            r => return r,
        }
    }
}

/// Reclaim runs in progress (they hold references on isolated pages).
static RECLAIMING: AtomicUsize = AtomicUsize::new(0);

fn shrink(nr: u64, who: Reclaimer) -> ReclaimStats {
    let meta = crate::proc::usermm::page_meta();
    RECLAIMING.fetch_add(1, Ordering::SeqCst);
    let start = crate::arch::time::now_ns();
    let st = shrink_lruvec::<KernelPhys, SchedBackend, KernelTlb>(meta, &SchedBackend, &KernelPhys, nr, who);
    account_reclaim_time(crate::arch::time::now_ns().saturating_sub(start), st.reclaimed);
    RECLAIMING.fetch_sub(1, Ordering::SeqCst);
    st
}

/// Time spent in [`shrink_lruvec`] by kswapd and direct reclaim together,
/// in ns (wall time of each call, so time the caller was preempted
/// counts too), and the pages those calls reclaimed.
static RECLAIM_NS: AtomicU64 = AtomicU64::new(0);
static RECLAIM_PAGES: AtomicU64 = AtomicU64::new(0);

fn account_reclaim_time(ns: u64, pages: u64) {
    RECLAIM_NS.fetch_add(ns, Ordering::Relaxed);
    RECLAIM_PAGES.fetch_add(pages, Ordering::Relaxed);
}

/// Reclaim's cost since boot: (ns spent in reclaim, pages reclaimed).
///
/// Locking: any.
pub fn reclaim_cost() -> (u64, u64) {
    (RECLAIM_NS.load(Ordering::Relaxed), RECLAIM_PAGES.load(Ordering::Relaxed))
}

/// Wait (yielding, at most a second) until no reclaim is in progress, so
/// that the pages it had isolated are back: the leak check at the last
/// process's exit counts references.
pub fn wait_for_reclaim_idle() {
    let deadline = crate::arch::time::now_ns() + 1_000_000_000;
    while RECLAIMING.load(Ordering::SeqCst) != 0 && crate::arch::time::now_ns() < deadline {
        crate::sched::yield_now();
    }
}

/// kswapd: reclaim while free memory is below the high watermark and
/// reclaim makes progress; sleep until woken (or 100 ms).
fn kswapd() -> ! {
    let meta = crate::proc::usermm::page_meta();
    loop {
        while meta.swap().enabled() && super::frame::counts().1 < watermarks().1 {
            if shrink(SWAP_CLUSTER_MAX as u64, Reclaimer::Kswapd).reclaimed == 0 {
                break;
            }
        }
        crate::sched::block_until(crate::arch::time::now_ns() + 100_000_000);
    }
}
