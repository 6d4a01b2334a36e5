//! `/proc/meminfo` in Linux's format and field order (fs/proc/meminfo.c
//! `meminfo_proc_show`): `%-16s%8lu kB` lines (`show_val_kb`).
//!
//! Real values: `MemTotal` and `MemFree` (the frame allocator's frames and
//! its free ones), `MemAvailable` (free frames less the reserve user memory
//! may not take), `Active`, `Inactive` and their `(anon)`/`(file)` parts
//! (the lengths of the evictable LRU lists, [`mm::lru`]; every user page is
//! swap-backed, so the file lists are empty), `SwapTotal`/`SwapFree`
//! (the slots of the swap devices), `Unevictable` (pages on the unevictable
//! LRU: the mlocked ones and
//! the pages of `SHM_LOCK`ed segments), `Mlocked` (`NR_MLOCK`), `AnonPages` (mapped
//! private anonymous frames), `Shmem` and `Cached` (the pages of the shmem
//! objects behind `MAP_SHARED | MAP_ANONYMOUS` memory: Linux counts shmem
//! in the page cache, and Holdfast has no other), `Slab`/`SUnreclaim` (the
//! frames the kernel heap holds). From
//! [`mm::page_meta::PageMetaArray::page_counts`], one pass over the frame
//! metadata, and its counters.
//!
//! Zero because the concept does not exist in Holdfast yet: `Buffers`,
//! `Dirty`, `Writeback`, `Mapped` (no
//! page cache for files, no files mapped),
//! `SwapCached` (a swapped-out page is written before its ptes name the
//! slot, so no page stays in a swap cache), `KReclaimable`, `SReclaimable` (no
//! reclaim), and the huge page lines (no huge pages). Lines Linux prints
//! for things Holdfast has but does not count (`KernelStack`,
//! `PageTables`, `Committed_AS`, `Vmalloc*`, `Percpu`, `DirectMap*`) are
//! left out rather than shown wrong; readers such as procps find fields by
//! name.
//!
//! Locking: the frame allocator's lock (briefly, for its counts) and the
//! heap's; frame metadata is read with atomics.

use alloc::string::String;
use core::fmt::Write;

fn kb(s: &mut String, name: &str, kib: u64) {
    let _ = writeln!(s, "{:<16}{:>8} kB", alloc::format!("{name}:"), kib);
}

/// The text of `/proc/meminfo`.
pub fn meminfo() -> String {
    let (total, free) = crate::memory::frame::counts();
    let reserve = crate::memory::frame::reserve();
    let (heap_mapped, _) = crate::memory::heap::stats();
    let meta = crate::proc::usermm::page_meta();
    let pages = meta.page_counts();
    let lru = meta.lru_sizes();
    let (swap_total, swap_free) = meta.swap().totals();
    let pg = |n: u64| n * (mm::addr::PAGE_SIZE >> 10);
    let mut s = String::new();
    kb(&mut s, "MemTotal", pg(total));
    kb(&mut s, "MemFree", pg(free));
    kb(&mut s, "MemAvailable", pg(free.saturating_sub(reserve)));
    kb(&mut s, "Buffers", 0);
    kb(&mut s, "Cached", pg(meta.nr_shmem()));
    kb(&mut s, "SwapCached", 0);
    kb(&mut s, "Active", pg(lru.active_anon + lru.active_file));
    kb(&mut s, "Inactive", pg(lru.inactive_anon + lru.inactive_file));
    kb(&mut s, "Active(anon)", pg(lru.active_anon));
    kb(&mut s, "Inactive(anon)", pg(lru.inactive_anon));
    kb(&mut s, "Active(file)", pg(lru.active_file));
    kb(&mut s, "Inactive(file)", pg(lru.inactive_file));
    kb(&mut s, "Unevictable", pg(pages.unevictable));
    kb(&mut s, "Mlocked", pg(meta.nr_mlock()));
    kb(&mut s, "SwapTotal", pg(swap_total));
    kb(&mut s, "SwapFree", pg(swap_free));
    kb(&mut s, "Dirty", 0);
    kb(&mut s, "Writeback", 0);
    kb(&mut s, "AnonPages", pg(pages.anon));
    kb(&mut s, "Mapped", 0);
    kb(&mut s, "Shmem", pg(meta.nr_shmem()));
    kb(&mut s, "KReclaimable", 0);
    kb(&mut s, "Slab", heap_mapped >> 10);
    kb(&mut s, "SReclaimable", 0);
    kb(&mut s, "SUnreclaim", heap_mapped >> 10);
    for name in ["AnonHugePages", "ShmemHugePages", "ShmemPmdMapped", "FileHugePages", "FilePmdMapped"] {
        kb(&mut s, name, 0);
    }
    for name in ["HugePages_Total:", "HugePages_Free:", "HugePages_Rsvd:", "HugePages_Surp:"] {
        let _ = writeln!(s, "{name:<16}{:>8}", 0);
    }
    kb(&mut s, "Hugepagesize", 2048);
    kb(&mut s, "Hugetlb", 0);
    s
}
