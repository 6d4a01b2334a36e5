//! The physical frame allocator: one bit per 4 KiB frame.
//!
//! [`FrameAllocator`] manages a window of physical frame numbers
//! `[base_pfn, base_pfn + npages)`. Inside the window only the frames of the
//! *usable regions* handed to [`FrameAllocator::add_region`] (the firmware
//! memory map's "usable" entries) are ever handed out; everything else in
//! the window (holes, MMIO, firmware data) stays permanently marked as
//! allocated and is not counted in [`FrameAllocator::total_frames`].
//!
//! Bit `i` of the bitmap describes pfn `base_pfn + i`: `0` means free, `1`
//! means allocated or not usable. Single frames come from a scan that
//! starts at a word hint: it moves forward as frames are handed out and
//! back to any frame freed below it, so freed frames are reused before
//! frames never handed out (they are warm in the caches, and under QEMU
//! already backed by host memory). Contiguous runs (2 MiB pages) come from
//! a first-fit scan over aligned candidates.
//!
//! # Two ways to build one
//!
//! The kernel needs frames before it has a heap, so the bitmap can live in
//! caller-provided storage: [`FrameAllocator::new`] takes a
//! `&'static mut [u64]` that the kernel carved out of a usable region
//! (size it with [`bitmap_words`], then [`FrameAllocator::reserve_range`] the
//! carve-out itself). Host tests and later users can instead let the
//! allocator own a heap bitmap: [`FrameAllocator::with_capacity`] and
//! [`FrameAllocator::from_regions`].
//!
//! # Invariants
//!
//! - `free_frames()` equals the number of zero bits in the bitmap; only bits
//!   of frames inside a usable region are ever zero; bits past `npages` in
//!   the last word are always one.
//! - A frame is never handed out twice: `alloc`/`alloc_contiguous` return
//!   only frames whose bits were zero and set them before returning, and
//!   `free` refuses (with [`FrameError::DoubleFree`]) a frame that is
//!   already free.
//! - Usable regions never overlap; `total_frames()` is the sum of their
//!   sizes.
//! - No public method panics: bad input is an `Err` or `None`.
//!
//! # Locking
//!
//! `FrameAllocator` is a plain `&mut self` data structure with no interior
//! locking. The kernel wraps it in a spinlock; that lock is the lowest in
//! the lock order (mmap_lock > page-table lock > per-frame metadata > frame
//! allocator), so nothing else may be acquired while it is held, and it is
//! never held across a sleep.

use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

use crate::addr::{page_align_down, page_aligned, PAGE_SHIFT, PAGE_SIZE};

/// Most usable regions one allocator tracks. Adjacent regions are merged,
/// so this bounds the number of *discontiguous* usable ranges.
pub const MAX_REGIONS: usize = 128;

const BITS_PER_WORD: u64 = 64;

/// Number of `u64` bitmap words needed to manage `npages` frames.
pub const fn bitmap_words(npages: u64) -> usize {
    npages.div_ceil(BITS_PER_WORD) as usize
}

/// Why a frame-allocator call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The physical address is not 4 KiB aligned.
    Unaligned,
    /// The frame is not inside a usable region of this allocator.
    OutOfRange,
    /// The frame is already free.
    DoubleFree,
    /// The caller's bitmap storage is too small for the requested window.
    BitmapTooSmall,
    /// The window `[base_pfn, base_pfn + npages)` overflows the physical
    /// address space, or a range has `start > end`.
    InvalidRange,
    /// A new usable region overlaps one added before.
    Overlap,
    /// More than [`MAX_REGIONS`] discontiguous usable regions.
    TooManyRegions,
    /// The heap could not provide the bitmap.
    NoMemory,
}

/// Where the bitmap words live.
enum Words {
    /// Storage the kernel carved out of physical memory before its heap.
    Borrowed(&'static mut [u64]),
    /// Heap storage.
    Owned(Vec<u64>),
}

impl Deref for Words {
    type Target = [u64];
    fn deref(&self) -> &[u64] {
        match self {
            Words::Borrowed(w) => w,
            Words::Owned(w) => w,
        }
    }
}

impl DerefMut for Words {
    fn deref_mut(&mut self) -> &mut [u64] {
        match self {
            Words::Borrowed(w) => w,
            Words::Owned(w) => w,
        }
    }
}

/// A usable region as a half-open pfn range `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PfnRange {
    start: u64,
    end: u64,
}

/// Bitmap allocator of physical frames. See the module documentation.
///
/// Locking: every method takes `&self`/`&mut self`; in the kernel the
/// allocator lives behind the frame-allocator spinlock (lowest in the lock
/// order), so each call runs with that lock held.
pub struct FrameAllocator {
    bitmap: Words,
    /// First pfn of the managed window.
    base_pfn: u64,
    /// Frames in the managed window (usable or not).
    npages: u64,
    /// Usable regions, sorted by start, disjoint and not adjacent.
    regions: [PfnRange; MAX_REGIONS],
    nr_regions: usize,
    /// Frames inside usable regions.
    total: u64,
    /// Zero bits in the bitmap.
    free: u64,
    /// Word index where the next single-frame search starts: the lowest
    /// word a frame was freed in since, or where the last search ended.
    next_word: usize,
}

impl FrameAllocator {
    /// An allocator for the window `[base_pfn, base_pfn + npages)` over
    /// caller-provided bitmap storage (at least [`bitmap_words`]`(npages)`
    /// words; extra words are left unused). Every frame starts out not
    /// usable; add the usable ones with [`add_region`](Self::add_region).
    ///
    /// This is the constructor the kernel uses before its heap exists.
    pub fn new(bitmap: &'static mut [u64], base_pfn: u64, npages: u64) -> Result<Self, FrameError> {
        Self::build(Words::Borrowed(bitmap), base_pfn, npages)
    }

    /// Like [`new`](Self::new), with the bitmap allocated on the heap.
    pub fn with_capacity(base_pfn: u64, npages: u64) -> Result<Self, FrameError> {
        check_window(base_pfn, npages)?;
        let words = bitmap_words(npages);
        let mut bitmap = Vec::new();
        bitmap.try_reserve_exact(words).map_err(|_| FrameError::NoMemory)?;
        bitmap.resize(words, 0);
        Self::build(Words::Owned(bitmap), base_pfn, npages)
    }

    /// An allocator whose window spans exactly the given usable regions
    /// (byte ranges `[start, end)`, each page-aligned inward), with a heap
    /// bitmap. Regions that are empty after alignment are skipped.
    pub fn from_regions(regions: &[(u64, u64)]) -> Result<Self, FrameError> {
        let mut lo = u64::MAX;
        let mut hi = 0;
        for &(start, end) in regions {
            if let Some(r) = align_inward(start, end)? {
                lo = lo.min(r.start);
                hi = hi.max(r.end);
            }
        }
        if lo > hi {
            // No usable frame at all: an empty allocator.
            (lo, hi) = (0, 0);
        }
        let mut fa = Self::with_capacity(lo, hi - lo)?;
        for &(start, end) in regions {
            fa.add_region(start, end)?;
        }
        Ok(fa)
    }

    fn build(mut bitmap: Words, base_pfn: u64, npages: u64) -> Result<Self, FrameError> {
        check_window(base_pfn, npages)?;
        let words = bitmap_words(npages);
        if bitmap.len() < words {
            return Err(FrameError::BitmapTooSmall);
        }
        // Nothing is usable until add_region says so.
        bitmap.fill(u64::MAX);
        Ok(FrameAllocator {
            bitmap,
            base_pfn,
            npages,
            regions: [PfnRange { start: 0, end: 0 }; MAX_REGIONS],
            nr_regions: 0,
            total: 0,
            free: 0,
            next_word: 0,
        })
    }

    /// Make the frames of the byte range `[start, end)` available, rounding
    /// `start` up and `end` down to page boundaries. The part of the range
    /// outside the managed window is ignored. Returns the number of frames
    /// added (0 for a range smaller than a page).
    ///
    /// Errors: `InvalidRange` if `start > end`; `Overlap` if any frame is
    /// already usable; `TooManyRegions` if the region list is full. On
    /// error nothing changes.
    pub fn add_region(&mut self, start: u64, end: u64) -> Result<u64, FrameError> {
        let Some(r) = align_inward(start, end)? else {
            return Ok(0);
        };
        let window_end = self.base_pfn + self.npages;
        let r = PfnRange { start: r.start.max(self.base_pfn), end: r.end.min(window_end) };
        if r.start >= r.end {
            return Ok(0);
        }
        self.insert_region(r)?;
        let first = r.start - self.base_pfn;
        let count = r.end - r.start;
        self.fill_bits(first, count, false);
        self.total += count;
        self.free += count;
        Ok(count)
    }

    /// Mark every still-free frame of the byte range `[start, end)`
    /// (rounded outward to page boundaries) as allocated, e.g. the frames
    /// holding the kernel image or this allocator's own bitmap. Frames
    /// outside usable regions are ignored. Returns how many frames were
    /// taken. Reserved frames may later be released with
    /// [`free`](Self::free).
    pub fn reserve_range(&mut self, start: u64, end: u64) -> Result<u64, FrameError> {
        if start > end {
            return Err(FrameError::InvalidRange);
        }
        let first_pfn = (start >> PAGE_SHIFT).max(self.base_pfn);
        let end_pfn = end.div_ceil(PAGE_SIZE).min(self.base_pfn + self.npages);
        if first_pfn >= end_pfn {
            return Ok(0);
        }
        // Frames outside usable regions already have their bit set, so
        // setting the whole span only changes free usable frames.
        let mut taken = 0;
        for_each_word_span(first_pfn - self.base_pfn, end_pfn - first_pfn, |w, mask| {
            taken += u64::from((!self.bitmap[w] & mask).count_ones());
            self.bitmap[w] |= mask;
        });
        self.free -= taken;
        Ok(taken)
    }

    /// Allocate one frame; returns its physical address, or `None` when no
    /// frame is free.
    pub fn alloc(&mut self) -> Option<u64> {
        if self.free == 0 {
            return None;
        }
        let words = bitmap_words(self.npages);
        for step in 0..words {
            let w = (self.next_word + step) % words;
            let word = self.bitmap[w];
            if word != u64::MAX {
                let bit = (!word).trailing_zeros() as u64;
                let idx = w as u64 * BITS_PER_WORD + bit;
                // Bits past npages are always one, so idx < npages here.
                self.set_bit(idx);
                self.free -= 1;
                self.next_word = w;
                return Some((self.base_pfn + idx) << PAGE_SHIFT);
            }
        }
        None
    }

    /// Allocate `count` physically contiguous frames whose first frame
    /// number is a multiple of `align_pages` (a power of two; 512 gives a
    /// 2 MiB-aligned 2 MiB page). Returns the physical address of the first
    /// frame, or `None` if no such run is free or the arguments are invalid
    /// (`count == 0`, `align_pages` not a power of two).
    pub fn alloc_contiguous(&mut self, count: u64, align_pages: u64) -> Option<u64> {
        if count == 0 || !align_pages.is_power_of_two() || count > self.free {
            return None;
        }
        let window_end = self.base_pfn + self.npages;
        let mut pfn = align_up(self.base_pfn, align_pages)?;
        loop {
            let end = pfn.checked_add(count)?;
            if end > window_end {
                return None;
            }
            let first = pfn - self.base_pfn;
            match self.find_set_bit(first, count) {
                None => {
                    self.fill_bits(first, count, true);
                    self.free -= count;
                    return Some(pfn << PAGE_SHIFT);
                }
                // Skip past the busy frame to the next aligned candidate.
                Some(busy) => pfn = align_up(self.base_pfn + busy + 1, align_pages)?,
            }
        }
    }

    /// Return the frame at physical address `pa` to the allocator.
    ///
    /// Errors: `Unaligned`; `OutOfRange` if `pa` is not in a usable region;
    /// `DoubleFree` if the frame is already free. On error nothing changes.
    pub fn free(&mut self, pa: u64) -> Result<(), FrameError> {
        let idx = self.usable_index(pa)?;
        if !self.test_bit(idx) {
            return Err(FrameError::DoubleFree);
        }
        self.clear_bit(idx);
        self.free += 1;
        self.reuse_from(idx);
        Ok(())
    }

    /// Start the next single-frame search no higher than frame `idx`, which
    /// was just freed: recently used frames are handed out again before
    /// frames never touched (Linux keeps freed pages hot on per-CPU lists
    /// for the same reason; under QEMU a never-touched guest frame also
    /// costs the host a page fault on first write).
    fn reuse_from(&mut self, idx: u64) {
        self.next_word = self.next_word.min((idx / BITS_PER_WORD) as usize);
    }

    /// Return `count` contiguous frames starting at `pa` (as handed out by
    /// [`alloc_contiguous`](Self::alloc_contiguous)). All frames are checked
    /// before any is freed: on error nothing changes.
    pub fn free_contiguous(&mut self, pa: u64, count: u64) -> Result<(), FrameError> {
        if count == 0 {
            return Ok(());
        }
        let first = self.usable_index(pa)?;
        let last_pa = (count - 1).checked_mul(PAGE_SIZE).and_then(|off| pa.checked_add(off)).ok_or(FrameError::OutOfRange)?;
        let last = self.usable_index(last_pa)?;
        // Both ends usable is not enough: the run must lie in one region.
        if self.region_of(self.base_pfn + first) != self.region_of(self.base_pfn + last) {
            return Err(FrameError::OutOfRange);
        }
        if self.find_clear_bit(first, count).is_some() {
            return Err(FrameError::DoubleFree);
        }
        self.fill_bits(first, count, false);
        self.free += count;
        self.reuse_from(first);
        Ok(())
    }

    /// Whether the frame containing `pa` is currently allocated (or
    /// reserved). `false` for frames outside every usable region.
    pub fn is_allocated(&self, pa: u64) -> bool {
        match self.usable_index(page_align_down(pa)) {
            Ok(idx) => self.test_bit(idx),
            Err(_) => false,
        }
    }

    /// Frames inside usable regions (allocated or not).
    pub fn total_frames(&self) -> u64 {
        self.total
    }

    /// Frames that [`alloc`](Self::alloc) could still hand out.
    pub fn free_frames(&self) -> u64 {
        self.free
    }

    /// The managed window as `(base_pfn, npages)`.
    pub fn window(&self) -> (u64, u64) {
        (self.base_pfn, self.npages)
    }

    // ---- internals ----------------------------------------------------

    /// Bitmap index of the usable frame at page-aligned `pa`.
    fn usable_index(&self, pa: u64) -> Result<u64, FrameError> {
        if !page_aligned(pa) {
            return Err(FrameError::Unaligned);
        }
        let pfn = pa >> PAGE_SHIFT;
        if self.region_of(pfn).is_none() {
            return Err(FrameError::OutOfRange);
        }
        Ok(pfn - self.base_pfn)
    }

    /// Index in `regions` of the usable region holding `pfn`.
    fn region_of(&self, pfn: u64) -> Option<usize> {
        let regions = &self.regions[..self.nr_regions];
        // First region whose end is past pfn.
        let i = regions.partition_point(|r| r.end <= pfn);
        (i < regions.len() && regions[i].start <= pfn).then_some(i)
    }

    /// Insert `r` into the sorted region list, merging with neighbours
    /// that touch it.
    fn insert_region(&mut self, r: PfnRange) -> Result<(), FrameError> {
        let n = self.nr_regions;
        let i = self.regions[..n].partition_point(|x| x.end <= r.start);
        if i < n && self.regions[i].start < r.end {
            return Err(FrameError::Overlap);
        }
        let joins_prev = i > 0 && self.regions[i - 1].end == r.start;
        let joins_next = i < n && self.regions[i].start == r.end;
        match (joins_prev, joins_next) {
            (true, true) => {
                self.regions[i - 1].end = self.regions[i].end;
                self.regions.copy_within(i + 1..n, i);
                self.nr_regions -= 1;
            }
            (true, false) => self.regions[i - 1].end = r.end,
            (false, true) => self.regions[i].start = r.start,
            (false, false) => {
                if n == MAX_REGIONS {
                    return Err(FrameError::TooManyRegions);
                }
                self.regions.copy_within(i..n, i + 1);
                self.regions[i] = r;
                self.nr_regions += 1;
            }
        }
        Ok(())
    }

    fn test_bit(&self, idx: u64) -> bool {
        self.bitmap[(idx / BITS_PER_WORD) as usize] & (1 << (idx % BITS_PER_WORD)) != 0
    }

    fn set_bit(&mut self, idx: u64) {
        self.bitmap[(idx / BITS_PER_WORD) as usize] |= 1 << (idx % BITS_PER_WORD);
    }

    fn clear_bit(&mut self, idx: u64) {
        self.bitmap[(idx / BITS_PER_WORD) as usize] &= !(1 << (idx % BITS_PER_WORD));
    }

    /// Set (`value == true`) or clear bits `[first, first + count)`, a word
    /// at a time where possible.
    fn fill_bits(&mut self, first: u64, count: u64, value: bool) {
        for_each_word_span(first, count, |w, mask| {
            if value {
                self.bitmap[w] |= mask;
            } else {
                self.bitmap[w] &= !mask;
            }
        });
    }

    /// Index of the first one bit in `[first, first + count)`.
    fn find_set_bit(&self, first: u64, count: u64) -> Option<u64> {
        let mut found = None;
        for_each_word_span(first, count, |w, mask| {
            let hits = self.bitmap[w] & mask;
            if found.is_none() && hits != 0 {
                found = Some(w as u64 * BITS_PER_WORD + hits.trailing_zeros() as u64);
            }
        });
        found
    }

    /// Index of the first zero bit in `[first, first + count)`.
    fn find_clear_bit(&self, first: u64, count: u64) -> Option<u64> {
        let mut found = None;
        for_each_word_span(first, count, |w, mask| {
            let hits = !self.bitmap[w] & mask;
            if found.is_none() && hits != 0 {
                found = Some(w as u64 * BITS_PER_WORD + hits.trailing_zeros() as u64);
            }
        });
        found
    }

    /// Count of zero bits in the bitmap (for invariant checks in tests).
    #[cfg(test)]
    fn count_zero_bits(&self) -> u64 {
        self.bitmap[..bitmap_words(self.npages)].iter().map(|w| w.count_zeros() as u64).sum()
    }
}

/// Call `f(word_index, mask)` for each word overlapped by bits
/// `[first, first + count)`, in increasing order.
fn for_each_word_span(first: u64, count: u64, mut f: impl FnMut(usize, u64)) {
    let end = first + count;
    let mut idx = first;
    while idx < end {
        let bit = idx % BITS_PER_WORD;
        let n = (BITS_PER_WORD - bit).min(end - idx);
        let mask = if n == BITS_PER_WORD { u64::MAX } else { ((1u64 << n) - 1) << bit };
        f((idx / BITS_PER_WORD) as usize, mask);
        idx += n;
    }
}

fn check_window(base_pfn: u64, npages: u64) -> Result<(), FrameError> {
    // The window end, as a byte address, must fit in a u64.
    match base_pfn.checked_add(npages) {
        Some(end) if end <= u64::MAX >> PAGE_SHIFT => Ok(()),
        _ => Err(FrameError::InvalidRange),
    }
}

/// Page-align the byte range `[start, end)` inward to a pfn range; `None`
/// if no whole page is left.
fn align_inward(start: u64, end: u64) -> Result<Option<PfnRange>, FrameError> {
    if start > end {
        return Err(FrameError::InvalidRange);
    }
    let first = start.div_ceil(PAGE_SIZE);
    let last = end >> PAGE_SHIFT;
    Ok((first < last).then_some(PfnRange { start: first, end: last }))
}

/// Round `pfn` up to a multiple of `align` (a power of two).
fn align_up(pfn: u64, align: u64) -> Option<u64> {
    Some(pfn.checked_add(align - 1)? & !(align - 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const MIB: u64 = 1 << 20;

    fn check(fa: &FrameAllocator) {
        assert_eq!(fa.count_zero_bits(), fa.free_frames());
        assert!(fa.free_frames() <= fa.total_frames());
    }

    #[test]
    fn add_region_aligns_inward() {
        let mut fa = FrameAllocator::with_capacity(0, 64).unwrap();
        // [0x1001, 0x5fff) holds whole pages 2, 3, 4.
        assert_eq!(fa.add_region(0x1001, 0x5fff), Ok(3));
        assert_eq!(fa.total_frames(), 3);
        assert_eq!(fa.free_frames(), 3);
        // Smaller than a page after alignment: nothing.
        assert_eq!(fa.add_region(0x8001, 0x8fff), Ok(0));
        assert_eq!(fa.add_region(5, 4), Err(FrameError::InvalidRange));
        // Overlap is refused and changes nothing.
        assert_eq!(fa.add_region(0x4000, 0x7000), Err(FrameError::Overlap));
        assert_eq!(fa.total_frames(), 3);
        check(&fa);
    }

    #[test]
    fn add_region_clips_to_window() {
        let mut fa = FrameAllocator::with_capacity(16, 16).unwrap();
        assert_eq!(fa.add_region(0, 64 * PAGE_SIZE), Ok(16));
        assert_eq!(fa.add_region(100 * PAGE_SIZE, 200 * PAGE_SIZE), Ok(0));
        assert_eq!(fa.total_frames(), 16);
        check(&fa);
    }

    #[test]
    fn adjacent_regions_merge() {
        let mut fa = FrameAllocator::with_capacity(0, 64).unwrap();
        fa.add_region(0, 4 * PAGE_SIZE).unwrap();
        fa.add_region(8 * PAGE_SIZE, 12 * PAGE_SIZE).unwrap();
        fa.add_region(4 * PAGE_SIZE, 8 * PAGE_SIZE).unwrap();
        assert_eq!(fa.nr_regions, 1);
        // One merged region allows a 12-frame run across old boundaries.
        assert_eq!(fa.alloc_contiguous(12, 1), Some(0));
        check(&fa);
    }

    #[test]
    fn too_many_regions() {
        let mut fa = FrameAllocator::with_capacity(0, 4 * MAX_REGIONS as u64 + 4).unwrap();
        for i in 0..MAX_REGIONS as u64 {
            fa.add_region(2 * i * PAGE_SIZE, (2 * i + 1) * PAGE_SIZE).unwrap();
        }
        let far = 3 * MAX_REGIONS as u64 * PAGE_SIZE;
        assert_eq!(fa.add_region(far, far + PAGE_SIZE), Err(FrameError::TooManyRegions));
        assert_eq!(fa.total_frames(), MAX_REGIONS as u64);
        check(&fa);
    }

    #[test]
    fn alloc_everything_distinct_then_none() {
        // Two regions with a hole, not a multiple of 64 frames.
        let mut fa = FrameAllocator::from_regions(&[(0x10_0000, 0x14_5000), (0x20_0000, 0x20_3000)]).unwrap();
        let total = fa.total_frames();
        assert_eq!(total, 0x45 + 3);
        let mut seen = HashSet::new();
        while let Some(pa) = fa.alloc() {
            assert_eq!(pa % PAGE_SIZE, 0);
            assert!(fa.is_allocated(pa));
            let in_a = (0x10_0000..0x14_5000).contains(&pa);
            let in_b = (0x20_0000..0x20_3000).contains(&pa);
            assert!(in_a || in_b, "handed out a frame outside the regions: {pa:#x}");
            assert!(seen.insert(pa), "frame {pa:#x} handed out twice");
        }
        assert_eq!(seen.len() as u64, total);
        assert_eq!(fa.free_frames(), 0);
        assert_eq!(fa.alloc(), None);
        assert_eq!(fa.alloc_contiguous(1, 1), None);
        check(&fa);
    }

    #[test]
    fn free_then_realloc() {
        let mut fa = FrameAllocator::from_regions(&[(0, 8 * PAGE_SIZE)]).unwrap();
        let a = fa.alloc().unwrap();
        let b = fa.alloc().unwrap();
        assert_ne!(a, b);
        assert_eq!(fa.free_frames(), 6);
        fa.free(a).unwrap();
        assert!(!fa.is_allocated(a));
        assert_eq!(fa.free_frames(), 7);
        // Drain: a must come back exactly once.
        let mut got = Vec::new();
        while let Some(pa) = fa.alloc() {
            got.push(pa);
        }
        assert_eq!(got.len(), 7);
        assert_eq!(got.iter().filter(|&&p| p == a).count(), 1);
        assert!(!got.contains(&b));
        check(&fa);
    }

    #[test]
    fn bad_frees_are_errors() {
        let mut fa = FrameAllocator::from_regions(&[(0x1000, 0x9000)]).unwrap();
        let pa = fa.alloc().unwrap();
        assert_eq!(fa.free(pa + 1), Err(FrameError::Unaligned));
        assert_eq!(fa.free(0), Err(FrameError::OutOfRange)); // below the region
        assert_eq!(fa.free(0x9000), Err(FrameError::OutOfRange)); // past the end
        assert_eq!(fa.free(!(PAGE_SIZE - 1)), Err(FrameError::OutOfRange));
        fa.free(pa).unwrap();
        assert_eq!(fa.free(pa), Err(FrameError::DoubleFree));
        assert_eq!(fa.free_frames(), 8);
        check(&fa);
    }

    #[test]
    fn hole_inside_window_is_never_handed_out_nor_freeable() {
        let mut fa = FrameAllocator::with_capacity(0, 16).unwrap();
        fa.add_region(0, 4 * PAGE_SIZE).unwrap();
        fa.add_region(8 * PAGE_SIZE, 12 * PAGE_SIZE).unwrap();
        assert_eq!(fa.free(5 * PAGE_SIZE), Err(FrameError::OutOfRange));
        assert!(!fa.is_allocated(5 * PAGE_SIZE));
        // No 8-frame run exists across the hole.
        assert_eq!(fa.alloc_contiguous(8, 1), None);
        assert_eq!(fa.alloc_contiguous(4, 4), Some(0));
        assert_eq!(fa.alloc_contiguous(4, 4), Some(8 * PAGE_SIZE));
        // free_contiguous must not span the hole either.
        assert_eq!(fa.free_contiguous(0, 12), Err(FrameError::OutOfRange));
        check(&fa);
    }

    #[test]
    fn alloc_contiguous_alignment() {
        // 8 MiB starting at 1 MiB + 1 page: the 2 MiB-aligned runs that fit
        // below 9 MiB + 1 page start at 2, 4 and 6 MiB.
        let start = MIB + PAGE_SIZE;
        let mut fa = FrameAllocator::from_regions(&[(start, start + 8 * MIB)]).unwrap();
        let mut got = Vec::new();
        while let Some(pa) = fa.alloc_contiguous(512, 512) {
            assert_eq!(pa % (2 * MIB), 0, "{pa:#x} not 2 MiB aligned");
            assert!(pa >= start && pa + 2 * MIB <= start + 8 * MIB);
            got.push(pa);
        }
        assert_eq!(got, vec![2 * MIB, 4 * MIB, 6 * MIB]);
        assert_eq!(fa.free_frames(), fa.total_frames() - 3 * 512);
        // Smaller runs still fit in the unaligned leftovers.
        assert!(fa.alloc_contiguous(3, 1).is_some());
        check(&fa);
        fa.free_contiguous(4 * MIB, 512).unwrap();
        assert_eq!(fa.alloc_contiguous(512, 512), Some(4 * MIB));
        check(&fa);
    }

    #[test]
    fn alloc_contiguous_skips_busy_frames() {
        let mut fa = FrameAllocator::from_regions(&[(0, 64 * PAGE_SIZE)]).unwrap();
        // Frames 0..4 free except frame 2.
        fa.reserve_range(2 * PAGE_SIZE, 3 * PAGE_SIZE).unwrap();
        assert_eq!(fa.alloc_contiguous(4, 1), Some(3 * PAGE_SIZE));
        assert_eq!(fa.alloc_contiguous(2, 1), Some(0));
        assert_eq!(fa.alloc_contiguous(8, 8), Some(8 * PAGE_SIZE));
        check(&fa);
    }

    #[test]
    fn alloc_contiguous_bad_args() {
        let mut fa = FrameAllocator::from_regions(&[(0, 64 * PAGE_SIZE)]).unwrap();
        assert_eq!(fa.alloc_contiguous(0, 1), None);
        assert_eq!(fa.alloc_contiguous(1, 0), None);
        assert_eq!(fa.alloc_contiguous(1, 3), None);
        assert_eq!(fa.alloc_contiguous(65, 1), None);
        assert_eq!(fa.alloc_contiguous(u64::MAX, 1), None);
        assert_eq!(fa.free_frames(), 64);
        // Huge alignments: pfn 0 is aligned to anything, pfn 1.. to nothing big.
        let mut fa = FrameAllocator::from_regions(&[(PAGE_SIZE, 65 * PAGE_SIZE)]).unwrap();
        assert_eq!(fa.alloc_contiguous(1, 1 << 63), None);
        assert_eq!(fa.alloc_contiguous(1, 1 << 7), None);
        assert_eq!(fa.alloc_contiguous(1, 1 << 6), Some(64 * PAGE_SIZE));
        assert_eq!(fa.free_frames(), 63);
        check(&fa);
    }

    #[test]
    fn free_contiguous_is_all_or_nothing() {
        let mut fa = FrameAllocator::from_regions(&[(0, 16 * PAGE_SIZE)]).unwrap();
        let pa = fa.alloc_contiguous(4, 4).unwrap();
        fa.free(pa + 2 * PAGE_SIZE).unwrap();
        assert_eq!(fa.free_contiguous(pa, 4), Err(FrameError::DoubleFree));
        assert!(fa.is_allocated(pa) && fa.is_allocated(pa + 3 * PAGE_SIZE));
        assert_eq!(fa.free_contiguous(pa, u64::MAX), Err(FrameError::OutOfRange));
        assert_eq!(fa.free_frames(), 13);
        check(&fa);
    }

    #[test]
    fn reserve_range_takes_only_free_usable_frames() {
        let mut fa = FrameAllocator::with_capacity(0, 32).unwrap();
        fa.add_region(4 * PAGE_SIZE, 12 * PAGE_SIZE).unwrap();
        let pa = fa.alloc().unwrap();
        // Rounded outward: [3.5 pages, 8.5 pages) -> frames 3..9; 3 is a hole.
        let taken = fa.reserve_range(3 * PAGE_SIZE + 0x800, 8 * PAGE_SIZE + 0x800).unwrap();
        assert_eq!(taken, 5 - u64::from((4..9).contains(&(pa / PAGE_SIZE))));
        assert_eq!(fa.free_frames(), 8 - 1 - taken);
        assert_eq!(fa.reserve_range(2, 1), Err(FrameError::InvalidRange));
        check(&fa);
    }

    #[test]
    fn static_storage_constructor() {
        let storage: &'static mut [u64] = Box::leak(vec![0u64; 2].into_boxed_slice());
        assert!(matches!(
            FrameAllocator::new(Box::leak(vec![0u64; 1].into_boxed_slice()), 0, 65),
            Err(FrameError::BitmapTooSmall)
        ));
        let mut fa = FrameAllocator::new(storage, 0x100, 100).unwrap();
        assert_eq!(fa.total_frames(), 0);
        assert_eq!(fa.alloc(), None);
        assert_eq!(fa.add_region(0x100 * PAGE_SIZE, 0x164 * PAGE_SIZE), Ok(100));
        for _ in 0..100 {
            fa.alloc().unwrap();
        }
        assert_eq!(fa.alloc(), None);
        check(&fa);
    }

    #[test]
    fn window_overflow_rejected() {
        assert!(matches!(FrameAllocator::with_capacity(u64::MAX, 2), Err(FrameError::InvalidRange)));
        assert!(matches!(FrameAllocator::with_capacity(1 << 52, 1), Err(FrameError::InvalidRange)));
        assert!(matches!(FrameAllocator::with_capacity(0, 1 << 52), Err(FrameError::InvalidRange)));
        assert!(matches!(FrameAllocator::from_regions(&[(0, 0x1000), (0x2000, 0x1000)]), Err(FrameError::InvalidRange)));
    }

    #[test]
    fn regions_high_in_a_64_gib_machine() {
        // A sparse map: low memory plus a region just below 64 GiB. The
        // window spans 64 GiB (16 Mi frames, a 2 MiB bitmap).
        let top = 64 << 30;
        let mut fa = FrameAllocator::from_regions(&[(0x1000, 0x9f000), (top - 4 * MIB, top)]).unwrap();
        assert_eq!(fa.total_frames(), 0x9e + 1024);
        let huge = fa.alloc_contiguous(512, 512).unwrap();
        assert_eq!(huge, top - 4 * MIB);
        let mut n = 0;
        while fa.alloc().is_some() {
            n += 1;
        }
        assert_eq!(n, 0x9e + 512);
        check(&fa);
    }

    #[test]
    fn empty_allocator() {
        let mut fa = FrameAllocator::from_regions(&[]).unwrap();
        assert_eq!(fa.total_frames(), 0);
        assert_eq!(fa.alloc(), None);
        assert_eq!(fa.alloc_contiguous(1, 1), None);
        assert_eq!(fa.free(0), Err(FrameError::OutOfRange));
        assert!(!fa.is_allocated(0));
    }

    #[test]
    fn freed_frames_are_reused_first() {
        let mut fa = FrameAllocator::from_regions(&[(0, 1024 * PAGE_SIZE)]).unwrap();
        let a = fa.alloc().unwrap();
        let b = fa.alloc().unwrap();
        assert!(b > a);
        let mut later = Vec::new();
        for _ in 0..500 {
            later.push(fa.alloc().unwrap());
        }
        // A freed frame is the next one handed out, not one never used.
        fa.free(a).unwrap();
        assert_eq!(fa.alloc(), Some(a));
        // So is a run freed lower down, lowest first.
        let run = &later[100..300];
        for &pa in run {
            fa.free(pa).unwrap();
        }
        let again: Vec<u64> = (0..run.len()).map(|_| fa.alloc().unwrap()).collect();
        assert_eq!(again, run, "the freed run is reused in order before fresh frames");
        // Then allocation goes on above everything in use.
        let next = fa.alloc().unwrap();
        assert!(next > *later.last().unwrap(), "got {next:#x}");
        check(&fa);
    }
}
