//! A compressed swap device in RAM, in the style of Linux's zram
//! (`drivers/block/zram/zram_drv.c`): each slot holds one page, compressed
//! with LZ4 (the `lz4_flex` crate's block format) into an object on the
//! kernel heap.
//!
//! A slot is in one of four states (Linux's slot flags):
//! - empty: nothing stored, reading it is [`SwapIoError::BadSlot`];
//! - same-filled (`ZRAM_SAME`): every 8-byte word of the page is equal;
//!   only the word is kept, no memory is allocated (a zero page is one);
//! - compressed: an object of the compressed length;
//! - huge (`ZRAM_HUGE`): compression did not bring the page under
//!   [`HUGE_CLASS_SIZE`], so the page is kept as it is, `SWAP_PAGE_SIZE`
//!   bytes.
//!
//! Writes (`zram_write_page`): detect a same-filled page; otherwise
//! compress into a per-stream buffer ([`Zram::with_streams`], Linux's
//! `zcomp_strm`), allocate the object with fallible allocation and copy
//! into it; then take the table lock, check the memory limit, and swap the
//! new slot in. The old object is freed only once the new one is in place:
//! a write refused for lack of memory ([`SwapIoError::NoSpace`]: the heap
//! could not give the object, or the limit of [`Zram::set_mem_limit`]
//! would be passed) leaves the slot's old contents and every counter as
//! they were. (Recent Linux frees the old slot first; keeping it lets
//! reclaim fall back on the old copy.) Nothing on the write, read or
//! discard path allocates infallibly, so heap exhaustion never panics:
//! LZ4's hash table lives in the stream (`lz4_flex` is built without its
//! `alloc` feature), so compression itself allocates nothing. [`Zram::new`]
//! reports `ENOMEM` if the table or the streams cannot be allocated.
//!
//! Counters follow Linux's `mm_stat` (`Documentation/admin-guide/blockdev/
//! zram.rst`), see [`ZramStats`] and [`Zram::mm_stat_line`].
//!
//! Invariants (under the table lock): the counters are sums over the
//! slots: `pages_stored` counts non-empty slots, `same_pages` same-filled
//! ones, `huge_pages` huge ones; `compr_data_size` adds the compressed
//! length of each compressed slot and `SWAP_PAGE_SIZE` for each huge one;
//! `mem_used_total` adds the heap capacity of every object. With a limit
//! set, a write that stores an object never leaves `mem_used_total` above
//! it (a same-filled write stores none and is never refused).
//!
//! Locking: one spinlock held with interrupts off ([`crate::irqlock`]:
//! zap frees slots under a page-table lock) around the slot table and its counters,
//! held only to move an object in or out of a slot, to copy a stored
//! object out (a compressed object into a stack buffer, a huge page
//! straight into the caller's page) and to read the counters. LZ4
//! compression and decompression, the same-filled scan and freeing an old
//! object happen outside it. Each compression stream has its own
//! such lock, held for one page's compression and object copy; a
//! writer that finds every stream busy spins until one is free. The table
//! lock and a stream lock are never held together. No lock is held across
//! a sleep (nothing here sleeps).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use crate::irqlock::{IrqSpinGuard as MutexGuard, IrqSpinLock as Mutex};
use lz4_flex::block::{compress_into_with_table, decompress_into, get_maximum_output_size, CompressTable};

use super::{SwapDevice, SwapIoError, SWAP_PAGE_SIZE};
use crate::errno::Errno;

/// A page that compresses to this many bytes or more is stored as it is
/// (Linux: `comp_len >= huge_class_size`, zsmalloc's first size class
/// that holds one object per page, where compression saves nothing; a
/// little over 3/4 of a page on x86_64, 3/4 here).
pub const HUGE_CLASS_SIZE: usize = SWAP_PAGE_SIZE / 4 * 3;

/// Compression streams [`Zram::new`] sets up.
pub const DEFAULT_STREAMS: usize = 4;

/// Room LZ4 may need to compress one page (incompressible data grows).
const COMP_BUF_SIZE: usize = get_maximum_output_size(SWAP_PAGE_SIZE);

const WORD: usize = core::mem::size_of::<u64>();

/// One slot of the table.
enum ZramSlot {
    Empty,
    /// `ZRAM_SAME`: the page is this word repeated.
    Same(u64),
    /// The LZ4 block, `len() < HUGE_CLASS_SIZE`.
    Compressed(Vec<u8>),
    /// `ZRAM_HUGE`: the page itself, `len() == SWAP_PAGE_SIZE`.
    Huge(Vec<u8>),
}

impl ZramSlot {
    /// Heap bytes held by the slot's object.
    fn mem_used(&self) -> u64 {
        match self {
            ZramSlot::Empty | ZramSlot::Same(_) => 0,
            ZramSlot::Compressed(v) | ZramSlot::Huge(v) => v.capacity() as u64,
        }
    }

    /// What the slot adds to `compr_data_size`.
    fn compr_size(&self) -> u64 {
        match self {
            ZramSlot::Empty | ZramSlot::Same(_) => 0,
            ZramSlot::Compressed(v) => v.len() as u64,
            ZramSlot::Huge(_) => SWAP_PAGE_SIZE as u64,
        }
    }
}

/// The device's counters, named as in Linux's `mm_stat` and `zram_stats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ZramStats {
    /// Bytes of pages stored, before compression (`pages_stored` pages).
    pub orig_data_size: u64,
    /// Bytes after compression; a huge page counts `SWAP_PAGE_SIZE`, a
    /// same-filled page nothing.
    pub compr_data_size: u64,
    /// Heap bytes held by stored objects (the allocations' capacities;
    /// the allocator's own overhead and the slot table are not counted).
    pub mem_used_total: u64,
    /// The limit set by [`Zram::set_mem_limit`], in bytes; 0: none.
    pub mem_limit: u64,
    /// The highest `mem_used_total` seen.
    pub mem_used_max: u64,
    /// Slots holding a same-filled page (no memory allocated).
    pub same_pages: u64,
    /// Slots holding a page, of any kind.
    pub pages_stored: u64,
    /// Slots holding an incompressible page stored raw.
    pub huge_pages: u64,
    /// Incompressible pages written since the device was made.
    pub huge_pages_since: u64,
}

impl ZramStats {
    /// Count `slot` in.
    fn add(&mut self, slot: &ZramSlot) {
        match slot {
            ZramSlot::Empty => return,
            ZramSlot::Same(_) => self.same_pages += 1,
            ZramSlot::Compressed(_) => {}
            ZramSlot::Huge(_) => {
                self.huge_pages += 1;
                self.huge_pages_since += 1;
            }
        }
        self.pages_stored += 1;
        self.orig_data_size += SWAP_PAGE_SIZE as u64;
        self.compr_data_size += slot.compr_size();
        self.mem_used_total += slot.mem_used();
        self.mem_used_max = self.mem_used_max.max(self.mem_used_total);
    }

    /// Count `slot` out.
    fn sub(&mut self, slot: &ZramSlot) {
        match slot {
            ZramSlot::Empty => return,
            ZramSlot::Same(_) => self.same_pages -= 1,
            ZramSlot::Compressed(_) => {}
            ZramSlot::Huge(_) => self.huge_pages -= 1,
        }
        self.pages_stored -= 1;
        self.orig_data_size -= SWAP_PAGE_SIZE as u64;
        self.compr_data_size -= slot.compr_size();
        self.mem_used_total -= slot.mem_used();
    }
}

/// The slot table and its counters: what the table lock protects.
struct ZramTable {
    slots: Vec<ZramSlot>,
    stats: ZramStats,
}

impl ZramTable {
    /// Put `new` in slot `index` and return what the slot held, or give
    /// `new` back if it would take the device past its memory limit (an
    /// object that needs no memory always fits). The caller drops either
    /// after releasing the lock.
    fn replace(&mut self, index: usize, new: ZramSlot) -> Result<ZramSlot, ZramSlot> {
        let limit = self.stats.mem_limit;
        let used = self.stats.mem_used_total - self.slots[index].mem_used() + new.mem_used();
        if limit != 0 && new.mem_used() != 0 && used > limit {
            return Err(new);
        }
        let old = core::mem::replace(&mut self.slots[index], new);
        self.stats.sub(&old);
        self.stats.add(&self.slots[index]);
        Ok(old)
    }
}

/// A compression stream (Linux's `zcomp_strm`): LZ4's hash table and the
/// buffer a page is compressed into.
struct Zstrm {
    table: CompressTable,
    buffer: [u8; COMP_BUF_SIZE],
}

/// The device. See the module doc.
pub struct Zram {
    nr_slots: u64,
    /// The table lock.
    table: Mutex<ZramTable>,
    /// Compression streams, each under its own lock.
    streams: Vec<Mutex<Zstrm>>,
}

/// Linux's `page_same_filled`: the word the page repeats, if it does.
fn page_same_filled(page: &[u8; SWAP_PAGE_SIZE]) -> Option<u64> {
    let mut words = page.as_chunks::<WORD>().0.iter().map(|w| u64::from_ne_bytes(*w));
    let first = words.next()?;
    words.all(|w| w == first).then_some(first)
}

/// Fill `page` with `word` (Linux's `zram_fill_page`).
fn fill_page(page: &mut [u8; SWAP_PAGE_SIZE], word: u64) {
    for w in page.as_chunks_mut::<WORD>().0 {
        *w = word.to_ne_bytes();
    }
}

/// `src` copied into a new heap object, or `NoSpace`.
fn try_copy(src: &[u8]) -> Result<Vec<u8>, SwapIoError> {
    let mut v = Vec::new();
    v.try_reserve_exact(src.len()).map_err(|_| SwapIoError::NoSpace)?;
    v.extend_from_slice(src);
    Ok(v)
}

impl Zram {
    /// A device of `nr_slots` empty slots with [`DEFAULT_STREAMS`]
    /// compression streams. `ENOMEM` if the heap cannot hold the table.
    pub fn new(nr_slots: u64) -> Result<Self, Errno> {
        Self::with_streams(nr_slots, DEFAULT_STREAMS)
    }

    /// A device of `nr_slots` empty slots with `nr_streams` compression
    /// streams (at least one; Linux has one per CPU): at most that many
    /// writers compress at once. `ENOMEM` if the heap cannot hold the
    /// table or the streams.
    pub fn with_streams(nr_slots: u64, nr_streams: usize) -> Result<Self, Errno> {
        let n = usize::try_from(nr_slots).map_err(|_| Errno::ENOMEM)?;
        let mut slots = Vec::new();
        slots.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
        slots.resize_with(n, || ZramSlot::Empty);
        let nr_streams = nr_streams.max(1);
        let mut streams = Vec::new();
        streams.try_reserve_exact(nr_streams).map_err(|_| Errno::ENOMEM)?;
        for _ in 0..nr_streams {
            streams.push(Mutex::new(Zstrm { table: CompressTable::small(), buffer: [0; COMP_BUF_SIZE] }));
        }
        Ok(Zram { nr_slots, table: Mutex::new(ZramTable { slots, stats: ZramStats::default() }), streams })
    }

    /// Linux's `mem_limit`: refuse writes that would take the memory held
    /// by stored objects above `bytes` (0: no limit). Lowering it below
    /// what is held frees nothing; it only refuses writes that need memory.
    pub fn set_mem_limit(&self, bytes: u64) {
        self.table.lock().stats.mem_limit = bytes;
    }

    /// The counters, read together under the table lock.
    pub fn stats(&self) -> ZramStats {
        self.table.lock().stats
    }

    /// The device's `mm_stat` line as Linux prints it
    /// (`"%8llu %8llu %8llu %8lu %8ld %8llu %8lu %8llu %8llu\n"`):
    /// orig_data_size, compr_data_size, mem_used_total, mem_limit,
    /// mem_used_max, same_pages, pages_compacted, huge_pages,
    /// huge_pages_since. Holdfast does not compact (objects are plain heap
    /// allocations), so pages_compacted is always 0.
    pub fn mm_stat_line(&self) -> String {
        let s = self.stats();
        let mut line = String::new();
        let fields = [
            s.orig_data_size,
            s.compr_data_size,
            s.mem_used_total,
            s.mem_limit,
            s.mem_used_max,
            s.same_pages,
            0,
            s.huge_pages,
            s.huge_pages_since,
        ];
        for (i, f) in fields.iter().enumerate() {
            let sep = if i == 0 { "" } else { " " };
            // Writing to a String cannot fail.
            let _ = write!(line, "{sep}{f:>8}");
        }
        line.push('\n');
        line
    }

    /// The table index of `slot`, or `BadSlot`.
    fn index(&self, slot: u64) -> Result<usize, SwapIoError> {
        if slot < self.nr_slots {
            usize::try_from(slot).map_err(|_| SwapIoError::BadSlot)
        } else {
            Err(SwapIoError::BadSlot)
        }
    }

    /// A free compression stream (Linux's `zcomp_stream_get`); spins while
    /// every stream is in use.
    fn stream_get(&self) -> MutexGuard<'_, Zstrm> {
        loop {
            for s in &self.streams {
                if let Some(guard) = s.try_lock() {
                    return guard;
                }
            }
            core::hint::spin_loop();
        }
    }

    /// What slot a page becomes: same-filled, compressed or huge. Takes a
    /// compression stream, not the table lock.
    fn prepare(&self, page: &[u8; SWAP_PAGE_SIZE]) -> Result<ZramSlot, SwapIoError> {
        if let Some(word) = page_same_filled(page) {
            return Ok(ZramSlot::Same(word));
        }
        let mut guard = self.stream_get();
        let zstrm = &mut *guard;
        // The buffer has room for any page (`get_maximum_output_size`); if
        // LZ4 fails all the same, the page is stored as it is.
        match compress_into_with_table(page, &mut zstrm.buffer, &mut zstrm.table) {
            Ok(len) if len < HUGE_CLASS_SIZE => Ok(ZramSlot::Compressed(try_copy(&zstrm.buffer[..len])?)),
            _ => {
                drop(guard);
                Ok(ZramSlot::Huge(try_copy(page)?))
            }
        }
    }
}

impl SwapDevice for Zram {
    fn nr_slots(&self) -> u64 {
        self.nr_slots
    }

    fn write_page(&self, slot: u64, page: &[u8; SWAP_PAGE_SIZE]) -> Result<(), SwapIoError> {
        let index = self.index(slot)?;
        let new = self.prepare(page)?;
        let replaced = self.table.lock().replace(index, new);
        // The old object (or the refused new one) is freed here, unlocked.
        match replaced {
            Ok(_old) => Ok(()),
            Err(_new) => Err(SwapIoError::NoSpace),
        }
    }

    fn read_page(&self, slot: u64, page: &mut [u8; SWAP_PAGE_SIZE]) -> Result<(), SwapIoError> {
        let index = self.index(slot)?;
        let mut src = [0u8; HUGE_CLASS_SIZE];
        let len = {
            let table = self.table.lock();
            match &table.slots[index] {
                ZramSlot::Empty => return Err(SwapIoError::BadSlot),
                ZramSlot::Same(word) => {
                    let word = *word;
                    drop(table);
                    fill_page(page, word);
                    return Ok(());
                }
                ZramSlot::Huge(v) => {
                    page.copy_from_slice(v);
                    return Ok(());
                }
                ZramSlot::Compressed(v) => {
                    src[..v.len()].copy_from_slice(v);
                    v.len()
                }
            }
        };
        match decompress_into(&src[..len], page) {
            Ok(n) if n == SWAP_PAGE_SIZE => Ok(()),
            _ => Err(SwapIoError::Io),
        }
    }

    fn discard(&self, slot: u64) {
        let Ok(index) = self.index(slot) else { return };
        let old = {
            let mut table = self.table.lock();
            let old = core::mem::replace(&mut table.slots[index], ZramSlot::Empty);
            table.stats.sub(&old);
            old
        };
        // Freed unlocked.
        drop(old);
    }
}
