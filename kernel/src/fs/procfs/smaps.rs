//! `/proc/<pid>/smaps` and `/proc/<pid>/smaps_rollup` in Linux's format
//! (fs/proc/task_mmu.c `show_smap`, `__show_smap`, `show_smaps_rollup`,
//! `show_smap_vma_flags`).
//!
//! Each vma: its `/proc/<pid>/maps` line, then `Size`, `KernelPageSize`,
//! `MMUPageSize`, the sums of [`mm::smaps`] (`Rss` ... `Locked`, each
//! `%-16s%8lu kB` as Linux's `SEQ_PUT_DEC`), `THPeligible` and `VmFlags`
//! with Linux's two-letter codes in bit order. The rollup is one range
//! line, first vma start to last vma end, `---p 00000000 00:00 0` and
//! `[rollup]`, then the fields summed over all vmas with `Pss_Anon`,
//! `Pss_File` and `Pss_Shmem` after `Pss_Dirty`, rounding `Pss` once.
//!
//! What Holdfast does not have reads 0: swap (`Swap`, `SwapPss`), KSM,
//! lazy-free pages, transparent and hugetlb huge pages (`AnonHugePages`,
//! `ShmemPmdMapped`, `FilePmdMapped`, `*_Hugetlb`, `THPeligible`), file
//! mappings (`Pss_File`). There are no protection keys, so no
//! `ProtectionKey` line, as on Linux without them.
//!
//! Locking: [`mm::MmStruct::smaps`] holds the mmap lock for read while it
//! counts; the text is made after it is released.

use alloc::string::String;
use core::fmt::Write;
use mm::mm_struct::format_maps_line;
use mm::smaps::{MemSizeStats, SmapsVma, PSS_SHIFT};
use mm::vma::VmFlags;

/// Linux's `mnemonics` of `show_smap_vma_flags`, for the flags Holdfast
/// has, in bit order.
const MNEMONICS: &[(VmFlags, &str)] = &[
    (VmFlags::READ, "rd"),
    (VmFlags::WRITE, "wr"),
    (VmFlags::EXEC, "ex"),
    (VmFlags::SHARED, "sh"),
    (VmFlags::MAYREAD, "mr"),
    (VmFlags::MAYWRITE, "mw"),
    (VmFlags::MAYEXEC, "me"),
    (VmFlags::MAYSHARE, "ms"),
    (VmFlags::GROWSDOWN, "gd"),
    (VmFlags::PFNMAP, "pf"),
    (VmFlags::LOCKED, "lo"),
    (VmFlags::IO, "io"),
    (VmFlags::DONTCOPY, "dc"),
    (VmFlags::DONTEXPAND, "de"),
    (VmFlags::LOCKONFAULT, "lf"),
    (VmFlags::ACCOUNT, "ac"),
    (VmFlags::MIXEDMAP, "mm"),
];

/// One `SEQ_PUT_DEC` line: the name with its colon padded to 16 columns,
/// the value in kB right-aligned in 8.
fn kb_line(s: &mut String, name: &str, bytes: u64) {
    let _ = writeln!(s, "{:<16}{:>8} kB", alloc::format!("{name}:"), bytes >> 10);
}

/// Linux `__show_smap`: the counted fields, from `Rss` to `Locked`.
fn show_mss(s: &mut String, mss: &MemSizeStats, rollup: bool) {
    kb_line(s, "Rss", mss.resident);
    kb_line(s, "Pss", mss.pss >> PSS_SHIFT);
    kb_line(s, "Pss_Dirty", mss.pss_dirty >> PSS_SHIFT);
    if rollup {
        kb_line(s, "Pss_Anon", mss.pss_anon >> PSS_SHIFT);
        kb_line(s, "Pss_File", mss.pss_file >> PSS_SHIFT);
        kb_line(s, "Pss_Shmem", mss.pss_shmem >> PSS_SHIFT);
    }
    kb_line(s, "Shared_Clean", mss.shared_clean);
    kb_line(s, "Shared_Dirty", mss.shared_dirty);
    kb_line(s, "Private_Clean", mss.private_clean);
    kb_line(s, "Private_Dirty", mss.private_dirty);
    kb_line(s, "Referenced", mss.referenced);
    kb_line(s, "Anonymous", mss.anonymous);
    for name in ["KSM", "LazyFree", "AnonHugePages", "ShmemPmdMapped", "FilePmdMapped", "Shared_Hugetlb", "Private_Hugetlb"] {
        kb_line(s, name, 0);
    }
    kb_line(s, "Swap", mss.swap);
    kb_line(s, "SwapPss", mss.swap_pss >> PSS_SHIFT);
    kb_line(s, "Locked", mss.pss_locked >> PSS_SHIFT);
}

/// `/proc/<pid>/smaps`: every vma of `vmas` (address order).
pub fn smaps(vmas: &[SmapsVma]) -> String {
    let mut s = String::new();
    for v in vmas {
        let f = v.file;
        s.push_str(&format_maps_line(v.start, v.end, v.flags, f.offset, f.major, f.minor, f.ino, v.name.as_deref()));
        kb_line(&mut s, "Size", v.end - v.start);
        kb_line(&mut s, "KernelPageSize", mm::addr::PAGE_SIZE);
        kb_line(&mut s, "MMUPageSize", mm::addr::PAGE_SIZE);
        show_mss(&mut s, &v.stats, false);
        // No transparent huge pages.
        let _ = writeln!(s, "THPeligible:    {:>8}", 0);
        s.push_str("VmFlags: ");
        for (flag, code) in MNEMONICS {
            if v.flags.contains(*flag) {
                let _ = write!(s, "{code} ");
            }
        }
        s.push('\n');
    }
    s
}

/// `/proc/<pid>/smaps_rollup`: the range of all vmas (`0-0` without any)
/// and their sums.
pub fn smaps_rollup(vmas: &[SmapsVma]) -> String {
    let mut mss = MemSizeStats::default();
    vmas.iter().for_each(|v| mss.add(&v.stats));
    let (start, end) = match (vmas.first(), vmas.last()) {
        (Some(first), Some(last)) => (first.start, last.end),
        _ => (0, 0),
    };
    let mut s = format_maps_line(start, end, VmFlags::empty(), 0, 0, 0, 0, Some("[rollup]"));
    show_mss(&mut s, &mss, true);
    s
}
