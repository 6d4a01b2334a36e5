//! The swap devices the kernel knows, by name, and the `swapon(2)` and
//! `swapoff(2)` system calls on them (Linux `mm/swapfile.c`; the mm crate
//! does the work: [`mm::swap::swap_state`], [`mm::swap::swapoff`]).
//!
//! Two devices can be swapped on: the zram device `zram=SIZE` makes at
//! boot, named `/dev/zram0`, and the virtio-blk disk with a Linux swap
//! header (parsed at boot by [`crate::drivers::virtio_blk`] with
//! [`mm::swap::header`]), named `/dev/vda`. Neither has a node in the
//! file system: `swapon` and `swapoff` know them by these exact paths
//! (the names `/proc/swaps` shows); any other path is looked up in the
//! file system and, if it exists, is not a swap device (`EINVAL`, as
//! Linux says of a character device or a file without a swap header), as
//! is `/dev/vda` when the disk has no valid swap header.
//!
//! Swapping off zram discards its contents (every slot is freed on the
//! way); swapping it on again starts from an empty device. A device's
//! priority is Linux's: `SWAP_FLAG_PREFER` gives one, else it gets the
//! next default (-2, -3, ...; see
//! [`Swap::swapon_prio`](mm::swap::swap_state::Swap::swapon_prio));
//! reclaim fills the highest first. The discard flags are accepted and
//! change nothing.
//!
//! Locking: the table is a spinlock held for lookups and updates only,
//! never across a swapoff (which takes what [`mm::swap::swapoff`] says,
//! with no lock of the caller held), nor across the mm's `swapon` beyond
//! its device-list lock.

use alloc::sync::Arc;
use alloc::vec::Vec;

use mm::swap::SwapDevice;
use mm::Errno;

use crate::memory::phys::KernelPhys;

/// Linux `SWAP_FLAG_PREFER`, `SWAP_FLAG_PRIO_MASK`, `SWAP_FLAG_DISCARD`,
/// `SWAP_FLAG_DISCARD_ONCE`, `SWAP_FLAG_DISCARD_PAGES`: the flags
/// `swapon` accepts (`SWAP_FLAGS_VALID`).
pub const SWAP_FLAGS_VALID: u64 = 0x7fff | 0x8000 | 0x10000 | 0x20000 | 0x40000;

/// A device `swapon` may name.
struct SwapFile {
    /// Its path (and `/proc/swaps` name).
    name: &'static str,
    dev: Arc<dyn SwapDevice>,
    /// Slots the swap header marks bad.
    bad: Vec<u64>,
    /// Its swap type while it is on.
    type_: Option<u8>,
}

static TABLE: spin::Mutex<Vec<SwapFile>> = spin::Mutex::new(Vec::new());

/// Make `dev` known as `name` (at boot), off.
///
/// Errors: `ENOMEM` if the table cannot grow.
pub fn register(name: &'static str, dev: Arc<dyn SwapDevice>, bad: Vec<u64>) -> Result<(), Errno> {
    let mut t = TABLE.lock();
    t.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
    t.push(SwapFile { name, dev, bad, type_: None });
    Ok(())
}

/// The `/proc/swaps` name of swap type `type_`.
pub fn device_name(type_: u8) -> &'static str {
    TABLE.lock().iter().find(|f| f.type_ == Some(type_)).map_or("", |f| f.name)
}

/// The index in the table of the device named `path`; for another path,
/// the error Linux gives for a file that is not a swap device: `EINVAL`
/// if it exists, else the lookup's (`ENOENT`, `ENOTDIR`, `EACCES`, ...).
fn find(t: &[SwapFile], path: &[u8]) -> Result<usize, Errno> {
    if let Some(i) = t.iter().position(|f| f.name.as_bytes() == path) {
        return Ok(i);
    }
    if path == b"/dev/vda" && crate::drivers::virtio_blk::disk_present() {
        // A disk without a (valid) swap header.
        return Err(Errno::EINVAL);
    }
    // AT_FDCWD: a relative path starts at the working directory.
    let start = crate::fs::namei::start_dir(-100, path)?;
    crate::fs::namei::lookup(start, path, true)?;
    Err(Errno::EINVAL)
}

/// Linux `SWAP_FLAG_PREFER`: the low 15 bits of the flags are the
/// device's priority.
pub const SWAP_FLAG_PREFER: u64 = 0x8000;

/// Linux `swapon` of the device named `path` with `flags` (already
/// checked): with `SWAP_FLAG_PREFER` the priority they give, else the
/// next default one. The discard flags change nothing (zram frees a slot's
/// data whenever the slot is freed; the disk ignores discards).
///
/// Errors: `EBUSY` if it is on; `EINVAL`/`ENOENT` as [`find`]; those of
/// [`mm::swap::swap_state::Swap::swapon`].
/// Locking: no lock held; takes the table lock, then the device list's.
pub fn swapon(path: &[u8], flags: u64) -> Result<(), Errno> {
    let mut t = TABLE.lock();
    let i = find(&t, path)?;
    let f = &mut t[i];
    if f.type_.is_some() {
        return Err(Errno::EBUSY);
    }
    let pages = f.dev.nr_slots();
    let prio = (flags & SWAP_FLAG_PREFER != 0).then_some((flags & 0x7fff) as u16);
    let type_ = crate::proc::usermm::page_meta().swap().swapon_prio(f.dev.clone(), &f.bad, prio)?;
    f.type_ = Some(type_);
    log::info!("swapon {}: {} MiB, type {type_}", f.name, (pages * mm::addr::PAGE_SIZE) >> 20);
    Ok(())
}

/// Linux `swapoff` of the device named `path`: every page on it comes
/// back into RAM, from every process's address space, then it is off
/// ([`mm::swap::swapoff::swapoff`]). Between rounds over the processes
/// it yields the CPU, and stops with `EINTR` if a signal is pending.
///
/// Errors: `EINVAL` if it is not on (or is being swapped off); `ENOENT`
/// as [`find`]; `ENOMEM` when memory runs out, `EIO` for a slot that
/// cannot be read, `EINTR`: then the device stays on, nothing lost.
/// Locking: no lock held; the table lock only to look up and update.
pub fn swapoff(path: &[u8]) -> Result<(), Errno> {
    let (type_, name) = {
        let t = TABLE.lock();
        let f = &t[find(&t, path)?];
        (f.type_.ok_or(Errno::EINVAL)?, f.name)
    };
    let meta = crate::proc::usermm::page_meta();
    let mut round = 0u32;
    let r = mm::swap::swapoff::swapoff(meta, &KernelPhys, type_, |visit| {
        if round > 0 {
            crate::sched::yield_now();
        }
        round += 1;
        if crate::sched::current().signal_pending() {
            return Err(Errno::EINTR);
        }
        crate::proc::all().iter().try_for_each(|p| visit(&p.mm()))
    });
    match r {
        Ok(_) => {
            if let Some(f) = TABLE.lock().iter_mut().find(|f| f.type_ == Some(type_)) {
                f.type_ = None;
            }
            log::info!("swapoff {name}: done in {round} rounds");
            Ok(())
        }
        Err(e) => {
            log::warn!("swapoff {name}: {e:?}");
            Err(e)
        }
    }
}
