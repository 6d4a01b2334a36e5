//! The reference cases of section E (LTP, open_posix, selftests) that make
//! sense at the mm level, plus the behaviours the brief lists: PROT_NONE,
//! MADV_DONTNEED, MAP_LOCKED/POPULATE/NONBLOCK, MCL_FUTURE with mmap and
//! brk, munlock of a huge untouched range, exit_mmap, /proc formats.
#![cfg(not(loom))]

mod common;
use common::*;
use mm::fault::{FaultAccess, FaultError, FaultOrigin};
use mm::mlock::{MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT, MLOCK_ONFAULT};
use mm::mmap::*;
use mm::pgtable::PhysMem;
use mm::vma::VmFlags;
use mm::Errno::*;

fn touch(w: &World, addr: u64, pages: u64) {
    for i in 0..pages {
        w.mm.handle_mm_fault(addr + i * P, FaultAccess::Write, FaultOrigin::User).unwrap();
    }
}

/// LTP mlock201: 8-page shared anonymous mapping;
/// (pretouched, len, flags) -> (VmLck pages, present pages).
#[test]
fn ltp_mlock201_table() {
    let cases: [(u64, u64, u32, u64, usize); 8] = [
        (0, P, 0, 1, 1),
        (0, 8 * P, 0, 8, 8),
        (0, 2 * P + 1, 0, 3, 3),
        (0, 2 * P - 1, 0, 2, 2),
        (0, P, MLOCK_ONFAULT, 1, 0),
        (4, 8 * P, MLOCK_ONFAULT, 8, 4),
        (1, 4 * P + 1, MLOCK_ONFAULT, 5, 1),
        (4, 4 * P - 1, MLOCK_ONFAULT, 4, 4),
    ];
    for (touched, len, flags, locked, present_pages) in cases {
        let w = world();
        let a = w.mm.do_mmap(0, 8 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, &root()).unwrap();
        touch(&w, a, touched);
        w.mm.do_mlock(a, len, flags, &root()).unwrap();
        let case = format!("touched {touched} len {len:#x} flags {flags}");
        assert_eq!(w.mm.locked_vm(), locked, "{case}: VmLck");
        assert_eq!(present(&w.mm, a, 8 * P), present_pages, "{case}: present");
        assert_eq!(w.meta.nr_mlock(), present_pages as u64, "{case}: every present locked page is mlocked");
        check(&w.mm);
        w.mm.do_munlock(a, 8 * P).unwrap();
        assert_eq!(w.meta.nr_mlock(), 0, "{case}");
        check(&w.mm);
    }
}

/// LTP mlock202: flags -1 EINVAL; nobody L = P-1 ENOMEM; L = 0 EPERM;
/// the middle of an unmapped 8-page hole ENOMEM.
#[test]
fn ltp_mlock202() {
    let w = world();
    let a = w.mm.do_mmap(0, 8 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, &root()).unwrap();
    assert_eq!(w.mm.do_mlock(a, P, u32::MAX, &root()), Err(EINVAL));
    assert_eq!(w.mm.do_mlock(a, P, 0, &nobody(P - 1)), Err(ENOMEM));
    assert_eq!(w.mm.do_mlock(a, P, 0, &nobody(0)), Err(EPERM));
    w.mm.do_munmap(a, 8 * P).unwrap();
    assert_eq!(w.mm.do_mlock(a + 4 * P, P, 0, &root()), Err(ENOMEM));
    check(&w.mm);
}

/// LTP mlock203: mlock2(ONFAULT) adds one page to VmLck, then mlock2(0)
/// on the same page adds nothing (and populates it).
#[test]
fn ltp_mlock203_no_double_count() {
    let w = world();
    let a = w.mm.do_mmap(0, 2 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, &root()).unwrap();
    w.mm.do_mlock(a, P, MLOCK_ONFAULT, &root()).unwrap();
    assert_eq!(w.mm.locked_vm(), 1);
    assert_eq!(present(&w.mm, a, P), 0);
    w.mm.do_mlock(a, P, 0, &root()).unwrap();
    assert_eq!(w.mm.locked_vm(), 1);
    assert_eq!(present(&w.mm, a, P), 1);
    let m = w.mm.maps_snapshot();
    assert!(m[0].2.contains(VmFlags::LOCKED) && !m[0].2.contains(VmFlags::LOCKONFAULT));
    check(&w.mm);
}

/// LTP mlock01/munlock01 sizes, open_posix rounding cases.
#[test]
fn ltp_mlock01_sizes_and_rounding() {
    let w = world();
    let (prot, flags) = anon_rw();
    for size in [1, 1024, 1 << 20, 10 << 20] {
        let a = w.mm.do_mmap(0, size, prot, flags, &root()).unwrap();
        assert_eq!(w.mm.do_mlock(a, size, 0, &root()), Ok(()));
        assert_eq!(present(&w.mm, a, size), size.div_ceil(P) as usize);
        assert_eq!(w.mm.do_munlock(a, size), Ok(()));
        check(&w.mm);
    }
    w.mm.do_munlockall().unwrap();
    // mlock(p + 1, 0) locks one page; unaligned addr with len P - 1 -> 0.
    let a = w.mm.do_mmap(0, 4 * P, prot, flags, &root()).unwrap();
    let before = w.mm.locked_vm();
    assert_eq!(w.mm.do_mlock(a + 1, 0, 0, &root()), Ok(()));
    assert_eq!(w.mm.locked_vm(), before + 1);
    assert_eq!(w.mm.do_mlock(a + P + 10, P - 1, 0, &root()), Ok(()));
    assert_eq!(w.mm.locked_vm(), before + 3, "[a+P+10, a+2P+9) spans two pages");
    check(&w.mm);
}

/// mlockall01 / munlockall01: VmLck goes 0 -> >0 -> 0, in Linux's format.
#[test]
fn ltp_mlockall_munlockall_vmlck() {
    let w = world();
    let (prot, flags) = anon_rw();
    w.mm.do_mmap(0, 16 * P, prot, flags, &root()).unwrap();
    assert!(w.mm.proc_status_vm().contains("VmLck:\t       0 kB\n"));
    for f in [MCL_CURRENT, MCL_FUTURE, MCL_CURRENT | MCL_FUTURE] {
        assert_eq!(w.mm.do_mlockall(f, &root()), Ok(()));
        check(&w.mm);
    }
    assert_eq!(
        w.mm.proc_status_vm(),
        "VmSize:\t      64 kB\nVmLck:\t      64 kB\nVmRSS:\t      64 kB\nVmSwap:\t       0 kB\n"
    );
    assert_eq!(w.mm.do_munlockall(), Ok(()));
    assert!(w.mm.proc_status_vm().contains("VmLck:\t       0 kB\n"));
    assert_eq!(w.meta.nr_mlock(), 0);
    check(&w.mm);
}

/// selftests mlock2-tests: lock flags and vma splitting / merging.
#[test]
fn selftests_mlock2_vmas() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 3 * P, prot, flags, &root()).unwrap();
    // mlock2(0): locked, Rss == Size.
    w.mm.do_mlock(a, 3 * P, 0, &root()).unwrap();
    assert_eq!(w.mm.rss(), 3);
    w.mm.do_munlock(a, 3 * P).unwrap();
    w.mm.madvise(a, 3 * P, MADV_DONTNEED).unwrap();
    assert_eq!(w.mm.rss(), 0);
    // ONFAULT + touch 1: Rss < Size.
    w.mm.do_mlock(a, 3 * P, MLOCK_ONFAULT, &root()).unwrap();
    touch(&w, a, 1);
    assert_eq!(w.mm.rss(), 1);
    assert_eq!(w.meta.nr_mlock(), 1, "a page faulted into a LOCKONFAULT vma is mlocked");
    check(&w.mm);
    // munlock the middle page: 3 vmas; munlock all: merged back to 1.
    w.mm.do_munlock(a + P, P).unwrap();
    assert_eq!(w.mm.map_count(), 3);
    check(&w.mm);
    w.mm.do_munlock(a, 3 * P).unwrap();
    assert_eq!(w.mm.map_count(), 1);
    assert_eq!(w.meta.nr_mlock(), 0);
    // mlockall(MCL_CURRENT | MCL_ONFAULT): locked on fault only.
    w.mm.do_mlockall(MCL_CURRENT | MCL_ONFAULT, &root()).unwrap();
    assert!(w.mm.maps_snapshot()[0].2.contains(VmFlags::LOCKED | VmFlags::LOCKONFAULT));
    assert_eq!(w.mm.rss(), 1);
    assert_eq!(w.meta.nr_mlock(), 1, "the present page got mlocked by the walk");
    check(&w.mm);
}

/// selftests mlock-random-test: L = 256 KiB; random mlock/mlock2(ONFAULT)
/// inside a 128 KiB buffer all succeed with VmLck <= 128 KiB + P; in a
/// 384 KiB buffer, lengths in [256K, 384K) all fail and VmLck stays.
#[test]
fn selftests_mlock_random() {
    let w = world();
    let (prot, flags) = anon_rw();
    let user = nobody(256 << 10);
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let small = w.mm.do_mmap(0, 128 << 10, prot, flags, &root()).unwrap();
    for _ in 0..100 {
        let off = rnd(128 << 10);
        let len = rnd((128 << 10) - off) + 1;
        let fl = if rnd(2) == 0 { 0 } else { MLOCK_ONFAULT };
        assert_eq!(w.mm.do_mlock(small + off, len, fl, &user), Ok(()), "off {off:#x} len {len:#x}");
        assert!(w.mm.locked_vm() * P <= (128 << 10) + P);
    }
    check(&w.mm);
    w.mm.do_munlockall().unwrap();
    let big = w.mm.do_mmap(0, 384 << 10, prot, flags, &root()).unwrap();
    w.mm.do_mlock(big, 64 << 10, 0, &user).unwrap();
    let locked = w.mm.locked_vm();
    for _ in 0..100 {
        let len = (256 << 10) + rnd(128 << 10);
        let off = rnd((384 << 10) - len);
        // Already-locked pages in range do not count, so start past them.
        let off = off.max(64 << 10).min((384 << 10) - len);
        let r = w.mm.do_mlock(big + off, len, if rnd(2) == 0 { 0 } else { MLOCK_ONFAULT }, &user);
        if (len + (off & (P - 1))).div_ceil(P) * P + locked * P > 256 << 10 {
            assert_eq!(r, Err(ENOMEM), "off {off:#x} len {len:#x}");
            assert_eq!(w.mm.locked_vm(), locked);
        }
    }
    check(&w.mm);
}

/// selftests on-fault-limit: mlockall(ONFAULT|FUTURE) ok; a populating
/// mmap of twice the limit then fails with EAGAIN.
#[test]
fn selftests_on_fault_limit() {
    let w = world();
    let user = nobody(64 * P);
    assert_eq!(w.mm.do_mlockall(MCL_ONFAULT | MCL_FUTURE, &user), Ok(()));
    let (prot, flags) = anon_rw();
    assert_eq!(w.mm.do_mmap(0, 128 * P, prot, flags | MAP_POPULATE, &user), Err(EAGAIN));
    let a = w.mm.do_mmap(0, 32 * P, prot, flags | MAP_POPULATE, &user).unwrap();
    assert_eq!(present(&w.mm, a, 32 * P), 0, "populate skips a VM_LOCKONFAULT vma");
    assert_eq!(w.mm.locked_vm(), 32);
    check(&w.mm);
}

#[test]
fn prot_none_keeps_frames_and_refuses_access() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 4 * P, prot, flags | MAP_POPULATE, &root()).unwrap();
    assert_eq!(w.mm.rss(), 4);
    let (pa, _) = w.mm.follow_page(a).unwrap();
    w.mm.do_mprotect(a, 2 * P, PROT_NONE).unwrap();
    check(&w.mm);
    assert_eq!(w.mm.rss(), 4);
    assert_eq!(present(&w.mm, a, 4 * P), 4);
    assert_eq!(w.mm.handle_mm_fault(a, FaultAccess::Read, FaultOrigin::User), Err(FaultError::Access));
    assert_eq!(w.mm.handle_mm_fault(a + 2 * P, FaultAccess::Write, FaultOrigin::User), Ok(()));
    // mlock on the PROT_NONE part: ENOMEM, locked and counted; its present
    // pages are mlocked by the walk.
    assert_eq!(w.mm.do_mlock(a, 4 * P, 0, &root()), Err(ENOMEM));
    assert_eq!(w.mm.locked_vm(), 4, "both vmas locked first; populate then fails at PROT_NONE");
    assert_eq!(w.meta.nr_mlock(), 4, "present pages, PROT_NONE ones included, are mlocked");
    check(&w.mm);
    w.mm.do_mprotect(a, 2 * P, PROT_READ | PROT_WRITE).unwrap();
    assert_eq!(w.mm.follow_page(a).unwrap().0, pa, "same frame after PROT_NONE and back");
    assert_eq!(w.mm.handle_mm_fault(a, FaultAccess::Write, FaultOrigin::User), Ok(()));
    assert_eq!(w.mm.rss(), 4);
    check(&w.mm);
}

#[test]
fn mprotect_keeps_locked_and_populates_locked_private_gaining_write() {
    let w = world();
    let a = w.mm.do_mmap(0, 8 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, &root()).unwrap();
    assert_eq!(w.mm.do_mlock(a, 8 * P, 0, &root()), Err(ENOMEM));
    assert_eq!(w.mm.rss(), 0);
    // Split: the middle gains write and is populated, all stays locked.
    w.mm.do_mprotect(a + 2 * P, 2 * P, PROT_READ | PROT_WRITE).unwrap();
    assert_eq!(w.mm.map_count(), 3);
    assert!(w.mm.maps_snapshot().iter().all(|m| m.2.contains(VmFlags::LOCKED)));
    assert_eq!(w.mm.locked_vm(), 8);
    assert_eq!(present(&w.mm, a, 8 * P), 2);
    assert_eq!(w.meta.nr_mlock(), 2);
    // Read-only gains nothing to populate.
    w.mm.do_mprotect(a + 5 * P, P, PROT_READ).unwrap();
    assert_eq!(present(&w.mm, a, 8 * P), 2);
    check(&w.mm);
}

#[test]
fn madvise_dontneed_zaps_next_touch_gives_zeroes() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 2 * P, prot, flags, &root()).unwrap();
    touch(&w, a, 2);
    let (pa, _) = w.mm.follow_page(a).unwrap();
    w.arena.write_entry(pa, 0, 0xdead_beef);
    w.mm.madvise(a, P, MADV_DONTNEED).unwrap();
    assert_eq!(w.mm.rss(), 1);
    assert!(w.mm.follow_page(a).is_none());
    check(&w.mm);
    touch(&w, a, 1);
    let (pa2, _) = w.mm.follow_page(a).unwrap();
    assert_eq!(w.arena.read_entry(pa2, 0), 0, "fresh zeroed page");
    // On a locked vma: EINVAL, nothing zapped; MADV_DONTNEED_LOCKED zaps
    // and munlocks.
    w.mm.do_mlock(a, 2 * P, 0, &root()).unwrap();
    assert_eq!(w.mm.madvise(a, 2 * P, MADV_DONTNEED), Err(EINVAL));
    assert_eq!(w.mm.rss(), 2);
    assert_eq!(w.meta.nr_mlock(), 2);
    w.mm.madvise(a, P, MADV_DONTNEED_LOCKED).unwrap();
    assert_eq!(w.mm.rss(), 1);
    assert_eq!(w.meta.nr_mlock(), 1);
    check(&w.mm);
}

#[test]
fn map_locked_populate_nonblock() {
    let w = world();
    let (prot, flags) = anon_rw();
    let r = root();
    let a = w.mm.do_mmap(0, 8 * P, prot, flags | MAP_POPULATE, &r).unwrap();
    assert_eq!(present(&w.mm, a, 8 * P), 8);
    let b = w.mm.do_mmap(0, 8 * P, prot, flags | MAP_POPULATE | MAP_NONBLOCK, &r).unwrap();
    assert_eq!(present(&w.mm, b, 8 * P), 0, "MAP_POPULATE|MAP_NONBLOCK does not populate");
    let c = w.mm.do_mmap(0, 8 * P, prot, flags | MAP_LOCKED | MAP_NONBLOCK, &r).unwrap();
    assert_eq!(present(&w.mm, c, 8 * P), 8, "VM_LOCKED always populates");
    assert_eq!(w.mm.locked_vm(), 8);
    assert_eq!(w.meta.nr_mlock(), 8);
    // Read-only MAP_POPULATE gets read faults (pages present, not writable).
    let d = w.mm.do_mmap(0, 2 * P, PROT_READ, flags | MAP_POPULATE, &r).unwrap();
    assert_eq!(present(&w.mm, d, 2 * P), 2);
    assert!(!w.mm.follow_page(d).unwrap().1.contains(mm::pgtable::PteFlags::WRITABLE));
    // PROT_NONE MAP_LOCKED: populate error ignored, mmap succeeds.
    let e = w.mm.do_mmap(0, 2 * P, PROT_NONE, flags | MAP_LOCKED, &r).unwrap();
    assert_eq!(present(&w.mm, e, 2 * P), 0);
    check(&w.mm);
    // munmap of a locked range: fine, counters drop.
    w.mm.do_munmap(c, 8 * P).unwrap();
    assert_eq!(w.mm.locked_vm(), 2);
    assert_eq!(w.meta.nr_mlock(), 0);
    check(&w.mm);
}

#[test]
fn mcl_future_with_mmap_and_brk() {
    let w = world();
    let r = root();
    w.mm.set_brk_base(0x40_0000).unwrap();
    w.mm.do_mlockall(MCL_FUTURE, &r).unwrap();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 4 * P, prot, flags, &r).unwrap();
    assert_eq!(present(&w.mm, a, 4 * P), 4);
    assert_eq!(w.mm.do_brk(0x40_0000 + 3 * P, &r), 0x40_0000 + 3 * P);
    assert_eq!(present(&w.mm, 0x40_0000, 3 * P), 3, "brk growth under MCL_FUTURE is populated");
    assert_eq!(w.mm.locked_vm(), 7);
    assert_eq!(w.meta.nr_mlock(), 7);
    check(&w.mm);
    // Shrinking unmaps and munlocks.
    assert_eq!(w.mm.do_brk(0x40_0000 + P, &r), 0x40_0000 + P);
    assert_eq!(w.mm.locked_vm(), 5);
    assert_eq!(w.meta.nr_mlock(), 5);
    // MCL_FUTURE | MCL_ONFAULT: locked on fault, not populated.
    w.mm.do_mlockall(MCL_FUTURE | MCL_ONFAULT, &r).unwrap();
    let b = w.mm.do_mmap(0, 4 * P, prot, flags, &r).unwrap();
    assert_eq!(present(&w.mm, b, 4 * P), 0);
    assert_eq!(w.mm.locked_vm(), 9);
    assert_eq!(w.mm.do_brk(0x40_0000 + 2 * P, &r), 0x40_0000 + 2 * P);
    assert_eq!(present(&w.mm, 0x40_0000 + P, P), 0);
    check(&w.mm);
    let maps = w.mm.proc_maps(None);
    assert!(maps.starts_with("00400000-00401000 rw-p 00000000 00:00 0 "), "{maps}");
    // The heap grew in two steps with different flags: two vmas, both [heap].
    assert_eq!(maps.matches("[heap]").count(), 2, "{maps}");
}

/// munlock of an untouched 1 GiB range (and mlock(ONFAULT) of it) touches
/// no page and allocates no frame.
#[test]
fn munlock_untouched_gigabyte_allocates_nothing() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 1 << 30, prot, flags, &root()).unwrap();
    let allocated = w.arena.allocated();
    w.mm.do_mlock(a, 1 << 30, MLOCK_ONFAULT, &root()).unwrap();
    assert_eq!(w.mm.locked_vm(), (1 << 30) / P);
    w.mm.do_munlock(a, 1 << 30).unwrap();
    w.mm.do_munlockall().unwrap();
    assert_eq!(w.arena.allocated(), allocated, "no frame allocated");
    assert_eq!(w.mm.rss(), 0);
    assert_eq!(w.mm.locked_vm(), 0);
    // Also after a SIGKILLed mlock (Hugh 2009): munlock walks only what is there.
    touch(&w, a + (512 << 20), 3);
    let allocated = w.arena.allocated();
    w.mm.do_mlock(a, 1 << 30, MLOCK_ONFAULT, &root()).unwrap();
    assert_eq!(w.meta.nr_mlock(), 3);
    w.mm.do_munlock(a, 1 << 30).unwrap();
    assert_eq!(w.arena.allocated(), allocated);
    assert_eq!(w.meta.nr_mlock(), 0);
    check(&w.mm);
}

#[test]
fn exit_mmap_frees_everything() {
    let w = world();
    let r = root();
    let before = w.arena.in_use(); // the root table
    w.mm.set_brk_base(0x40_0000).unwrap();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 64 * P, prot, flags | MAP_POPULATE, &r).unwrap();
    w.mm.do_mlock(a, 32 * P, 0, &r).unwrap();
    w.mm.do_mprotect(a, 8 * P, PROT_NONE).unwrap();
    let b = w.mm.do_mmap(0x7000_0000_0000, 16 * P, prot, flags | MAP_LOCKED, &r).unwrap();
    w.mm.do_mlock(b, 16 * P, MLOCK_ONFAULT, &r).unwrap();
    w.mm.do_brk(0x40_0000 + 10 * P, &r);
    touch(&w, 0x40_0000, 10);
    w.mm.do_mlockall(MCL_CURRENT | MCL_FUTURE, &r).unwrap();
    check(&w.mm);
    assert!(w.meta.nr_mlock() > 0);
    assert!(w.arena.in_use() > before + 64);
    w.mm.exit_mmap();
    assert_eq!(w.arena.in_use(), before - 1, "every data and table frame, root included");
    assert_eq!(w.meta.nr_mlock(), 0);
    assert_eq!((w.mm.total_vm(), w.mm.locked_vm(), w.mm.rss()), (0, 0, 0));
    assert_eq!(w.mm.handle_mm_fault(a, FaultAccess::Read, FaultOrigin::User), Err(FaultError::NoVma));
    assert_eq!(w.mm.do_mmap(0, P, prot, flags, &r), Err(ENOMEM));
    check(&w.mm);
}

#[test]
fn dropping_an_mm_frees_its_frames() {
    let w = world();
    let (prot, flags) = anon_rw();
    w.mm.do_mmap(0, 16 * P, prot, flags | MAP_LOCKED, &root()).unwrap();
    assert_eq!(w.meta.nr_mlock(), 16);
    let World { mm, arena, meta, .. } = w;
    drop(mm);
    assert_eq!(arena.in_use(), 0);
    assert_eq!(meta.nr_mlock(), 0);
}

#[test]
fn proc_maps_exact_format() {
    let w = world();
    let r = root();
    w.mm.set_brk_base(0x60_0000).unwrap();
    w.mm.do_brk(0x60_2000, &r);
    let (prot, flags) = anon_rw();
    w.mm.do_mmap(0x4000_0000, 4 * P, PROT_READ | PROT_EXEC, flags | MAP_FIXED, &r).unwrap();
    w.mm.do_mmap(0x7ffd_5b0a_5000, 0x21000, prot, flags | MAP_FIXED | MAP_GROWSDOWN, &r).unwrap();
    w.mm.do_mmap(0x7f00_0000_0000, P, prot, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, &r).unwrap();
    // Split the shared mapping: its second half starts one page into the
    // object.
    w.mm.do_mmap(0x7f00_0000_1000, 2 * P, prot, MAP_SHARED | MAP_ANONYMOUS | MAP_FIXED, &r).unwrap();
    w.mm.do_mprotect(0x7f00_0000_2000, P, PROT_READ).unwrap();
    let maps = w.mm.proc_maps(Some(0x7ffd_5b0c_5f00));
    // The inode numbers of shmem objects come from a global counter.
    let ino = |start: &str| maps.lines().find(|l| l.starts_with(start)).and_then(|l| l.split_whitespace().nth(4)).unwrap().to_string();
    let (a, b) = (ino("7f0000000000"), ino("7f0000001000"));
    assert_eq!(ino("7f0000002000"), b, "one object on both sides of the split");
    let expect = format!(
        "00600000-00602000 rw-p 00000000 00:00 0                                  [heap]\n\
         40000000-40004000 r-xp 00000000 00:00 0 \n\
         7f0000000000-7f0000001000 rw-s 00000000 00:01 {a:<26} /dev/zero (deleted)\n\
         7f0000001000-7f0000002000 rw-s 00000000 00:01 {b:<26} /dev/zero (deleted)\n\
         7f0000002000-7f0000003000 r--s 00001000 00:01 {b:<26} /dev/zero (deleted)\n\
         7ffd5b0a5000-7ffd5b0c6000 rw-p 00000000 00:00 0                          [stack]\n"
    );
    assert_eq!(maps, expect);
    assert!(a != "0" && a != b, "each object has its own inode");
}

#[test]
fn faults_check_access_and_are_idempotent() {
    let w = world();
    let r = root();
    let ro = w.mm.do_mmap(0, P, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, &r).unwrap();
    assert_eq!(w.mm.handle_mm_fault(ro, FaultAccess::Write, FaultOrigin::User), Err(FaultError::Access));
    assert_eq!(w.mm.handle_mm_fault(ro, FaultAccess::Exec, FaultOrigin::User), Err(FaultError::Access));
    assert_eq!(w.mm.handle_mm_fault(ro + 7, FaultAccess::Read, FaultOrigin::User), Ok(()));
    assert_eq!(w.mm.handle_mm_fault(ro, FaultAccess::Read, FaultOrigin::Kernel), Ok(()), "spurious");
    assert_eq!(w.mm.rss(), 1);
    let (_, f) = w.mm.follow_page(ro).unwrap();
    use mm::pgtable::PteFlags;
    assert!(f.contains(PteFlags::USER | PteFlags::NO_EXECUTE) && !f.contains(PteFlags::WRITABLE));
    let x = w.mm.do_mmap(0, P, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, &r).unwrap();
    assert_eq!(w.mm.handle_mm_fault(x, FaultAccess::Exec, FaultOrigin::User), Ok(()));
    assert!(!w.mm.follow_page(x).unwrap().1.contains(PteFlags::NO_EXECUTE));
    assert_eq!(w.mm.handle_mm_fault(0x1000_0000, FaultAccess::Read, FaultOrigin::User), Err(FaultError::NoVma));
    assert_eq!(w.mm.handle_mm_fault(u64::MAX, FaultAccess::Read, FaultOrigin::User), Err(FaultError::NoVma));
    w.mm.install_special_mapping(0x5000_0000, P, PROT_READ).unwrap();
    assert_eq!(w.mm.handle_mm_fault(0x5000_0000, FaultAccess::Read, FaultOrigin::User), Err(FaultError::Access));
    // Out of frames: OutOfMemory, nothing left behind.
    let a = w.mm.do_mmap(0, P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, &r).unwrap();
    w.arena.set_limit(Some(w.arena.in_use()));
    assert_eq!(w.mm.handle_mm_fault(a, FaultAccess::Write, FaultOrigin::User), Err(FaultError::OutOfMemory));
    w.arena.set_limit(None);
    check(&w.mm);
}

#[test]
fn strategy_names_round_trip() {
    use mm::PopulateStrategy as S;
    for s in S::ALL {
        assert_eq!(S::from_name(s.name()), Some(s));
        assert_eq!(S::from_name(&format!("{}\n", s.name())), Some(s));
    }
    assert_eq!(S::from_name("nope"), None);
    assert_eq!(S::default(), S::YieldToWaiters);
    assert_eq!(
        S::ALL.map(|s| s.name()),
        ["hold-write", "downgrade-retake", "downgrade-at-end", "populate-unlocked", "yield-to-waiters"]
    );
    let w = world();
    w.mm.set_populate_strategy(None);
    assert_eq!(w.mm.populate_strategy(), mm::populate::global_strategy());
}

/// Placement: a free hint is honoured, otherwise top-down below the mmap
/// base; identical neighbours merge; no room is ENOMEM.
#[test]
fn mmap_placement_and_merge() {
    use mm::mm_struct::{MMAP_BASE, MMAP_MIN_ADDR};
    let w = world();
    let (prot, flags) = anon_rw();
    let r = root();
    let a = w.mm.do_mmap(0, 4 * P, prot, flags, &r).unwrap();
    assert_eq!(a, MMAP_BASE - 4 * P, "top-down from mmap_base");
    let b = w.mm.do_mmap(0, 4 * P, prot, flags, &r).unwrap();
    assert_eq!(b, a - 4 * P);
    assert_eq!(w.mm.map_count(), 1, "identical neighbours merge");
    let c = w.mm.do_mmap(0x1234_5000, P, prot, flags, &r).unwrap();
    assert_eq!(c, 0x1234_5000, "free hint honoured");
    let d = w.mm.do_mmap(0x1234_5000, P, prot, flags, &r).unwrap();
    assert_ne!(d, 0x1234_5000, "occupied hint: searched elsewhere");
    let e = w.mm.do_mmap(0x3000, P, prot, flags, &r).unwrap();
    assert_eq!(e, MMAP_MIN_ADDR, "hint below mmap_min_addr rounded up to it");
    let e2 = w.mm.do_mmap(0x100, P, prot, flags, &r).unwrap();
    assert_eq!(e2, d - P, "a hint inside page 0 is no hint (Linux masks it first)");
    // Different flags do not merge.
    let f = w.mm.do_mmap(0, P, PROT_READ, flags, &r).unwrap();
    assert_eq!(f + P, e2);
    assert_eq!(w.mm.map_count(), 4, "a, b, d, e2 merged; c; e; f (read-only)");
    check(&w.mm);
    // No room: a mapping larger than the whole user address space left.
    assert_eq!(w.mm.do_mmap(0, mm::addr::TASK_SIZE - MMAP_MIN_ADDR, prot, flags, &r), Err(ENOMEM));
    check(&w.mm);
}
