//! Every errno path of reference section D (and the mmap family's own),
//! one assertion each, with the state checked after every call.
#![cfg(not(loom))]

mod common;
use common::*;
use mm::addr::TASK_SIZE;
use mm::mlock::{MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT, MLOCK_ONFAULT};
use mm::mmap::*;
use mm::Errno::*;

fn map(w: &World, pages: u64) -> u64 {
    let (prot, flags) = anon_rw();
    w.mm.do_mmap(0, pages * P, prot, flags, &root()).unwrap()
}

// ----- mlock / mlock2 ------------------------------------------------------

#[test]
fn mlock2_unknown_flags_einval_before_eperm() {
    let w = world();
    let a = map(&w, 4);
    assert_eq!(w.mm.do_mlock(a, P, 2, &nobody(0)), Err(EINVAL));
    assert_eq!(w.mm.do_mlock(a, P, u32::MAX, &root()), Err(EINVAL));
    assert_eq!(w.mm.locked_vm(), 0);
    check(&w.mm);
}

#[test]
fn mlock_eperm_without_limit_or_cap_even_len_0() {
    let w = world();
    let a = map(&w, 4);
    assert_eq!(w.mm.do_mlock(a, P, 0, &nobody(0)), Err(EPERM));
    assert_eq!(w.mm.do_mlock(a, 0, 0, &nobody(0)), Err(EPERM));
    assert_eq!(w.mm.do_mlock(a, 0, MLOCK_ONFAULT, &nobody(0)), Err(EPERM));
    // CAP_IPC_LOCK with a zero limit may lock.
    let cap0 = mm::MlockCreds { memlock_limit: 0, cap_ipc_lock: true };
    assert_eq!(w.mm.do_mlock(a, P, 0, &cap0), Ok(()));
    check(&w.mm);
}

#[test]
fn mlock_enomem_over_limit_minus_already_locked() {
    let w = world();
    let a = map(&w, 8);
    let user = nobody(4 * P);
    assert_eq!(w.mm.do_mlock(a, 5 * P, 0, &user), Err(ENOMEM));
    assert_eq!(w.mm.locked_vm(), 0);
    assert_eq!(w.mm.do_mlock(a, 4 * P, 0, &user), Ok(()));
    // Re-locking the same range (and one page less) is fine: already locked.
    assert_eq!(w.mm.do_mlock(a, 4 * P, 0, &user), Ok(()));
    assert_eq!(w.mm.do_mlock(a + P, 3 * P, 0, &user), Ok(()));
    // One more page is over.
    assert_eq!(w.mm.do_mlock(a, 5 * P, 0, &user), Err(ENOMEM));
    assert_eq!(w.mm.locked_vm(), 4);
    // LTP mlock02: L = P - 1 nobody mlock(P) -> ENOMEM.
    assert_eq!(w.mm.do_mlock(a + 6 * P, P, 0, &nobody(P - 1)), Err(ENOMEM));
    check(&w.mm);
}

#[test]
fn mlock_einval_on_wrap_with_cap() {
    let w = world();
    map(&w, 1);
    // [addr, addr + len) wraps: only reachable with CAP_IPC_LOCK.
    let start = !(P - 1);
    assert_eq!(w.mm.do_mlock(start - P, 4 * P, 0, &root()), Err(EINVAL));
    // Without CAP the limit check answers first.
    assert_eq!(w.mm.do_mlock(start - P, 4 * P, 0, &nobody(P)), Err(ENOMEM));
    check(&w.mm);
}

#[test]
fn mlock_enomem_unmapped_and_holes_earlier_vmas_stay_locked() {
    let w = world();
    let a = map(&w, 8);
    // Entirely unmapped.
    assert_eq!(w.mm.do_mlock(0x1000_0000, P, 0, &root()), Err(ENOMEM));
    // open_posix: mlock(LONG_MAX & ~(P-1)) -> ENOMEM
    assert_eq!(w.mm.do_mlock(0, (i64::MAX as u64) & !(P - 1), 0, &root()), Err(ENOMEM));
    // Hole in the middle: unmap pages 2..6, mlock 0..8.
    w.mm.do_munmap(a + 2 * P, 4 * P).unwrap();
    assert_eq!(w.mm.do_mlock(a, 8 * P, 0, &root()), Err(ENOMEM));
    assert_eq!(w.mm.locked_vm(), 2, "the vma before the hole stays locked");
    assert_eq!(present(&w.mm, a, 2 * P), 0, "...and unpopulated");
    check(&w.mm);
}

#[test]
fn mlock_populate_efault_is_enomem_prot_none_stays_locked() {
    let w = world();
    let a = w.mm.do_mmap(0, 4 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, &root()).unwrap();
    assert_eq!(w.mm.do_mlock(a, 4 * P, 0, &root()), Err(ENOMEM));
    assert_eq!(w.mm.locked_vm(), 4, "PROT_NONE vma is locked and counted");
    assert_eq!(w.mm.rss(), 0);
    check(&w.mm);
}

#[test]
fn mlock_populate_oom_is_eagain() {
    let w = world();
    let a = map(&w, 64);
    w.arena.set_limit(Some(w.arena.in_use() + 8));
    assert_eq!(w.mm.do_mlock(a, 64 * P, 0, &root()), Err(EAGAIN));
    w.arena.set_limit(None);
    assert_eq!(w.mm.locked_vm(), 64);
    check(&w.mm);
}

#[test]
fn mlock_special_vma_success_not_locked() {
    let w = world();
    w.mm.install_special_mapping(0x4000_0000, 4 * P, PROT_READ | PROT_WRITE).unwrap();
    assert_eq!(w.mm.do_mlock(0x4000_0000, 4 * P, 0, &root()), Ok(()));
    assert_eq!(w.mm.locked_vm(), 0);
    assert!(!w.mm.maps_snapshot()[0].2.contains(mm::vma::VmFlags::LOCKED));
    assert_eq!(w.mm.do_mlockall(MCL_CURRENT, &root()), Ok(()));
    assert_eq!(w.mm.locked_vm(), 0);
    check(&w.mm);
}

#[test]
fn mlock_eintr_when_killed_while_waiting_for_the_lock() {
    let w = world();
    let a = map(&w, 4);
    let guard = w.mm.mmap_lock.write();
    let mm = w.mm.clone();
    let backend = w.backend.clone();
    let t = std::thread::spawn(move || {
        let r = mm.do_mlock(a, P, 0, &root());
        backend.clear_fatal_signal();
        r
    });
    while !w.mm.mmap_lock.is_contended() {
        std::thread::yield_now();
    }
    w.backend.send_fatal_signal(t.thread());
    assert_eq!(t.join().unwrap(), Err(EINTR));
    drop(guard);
    assert_eq!(w.mm.locked_vm(), 0);
    check(&w.mm);
}

// ----- munlock -------------------------------------------------------------

#[test]
fn munlock_no_permission_checks_einval_enomem() {
    let w = world();
    let a = map(&w, 8);
    w.mm.do_mlock(a, 8 * P, 0, &root()).unwrap();
    // No credentials involved at all; wrap -> EINVAL.
    let top = !(P - 1);
    assert_eq!(w.mm.do_munlock(top - P, 4 * P), Err(EINVAL));
    assert_eq!(w.mm.do_munlock(0x1000_0000, P), Err(ENOMEM));
    // LTP munlock02: mlock 8 pages, unmap 2..6, munlock(addr + 2P, 8P) -> ENOMEM.
    w.mm.do_munmap(a + 2 * P, 4 * P).unwrap();
    assert_eq!(w.mm.do_munlock(a + 2 * P, 8 * P), Err(ENOMEM));
    assert_eq!(w.mm.locked_vm(), 4);
    // From inside a vma up to a hole: the part before the hole is unlocked.
    assert_eq!(w.mm.do_munlock(a, 8 * P), Err(ENOMEM));
    assert_eq!(w.mm.locked_vm(), 2);
    assert_eq!(w.mm.do_munlock(a, 0), Ok(()));
    check(&w.mm);
}

// ----- mlockall / munlockall ----------------------------------------------

#[test]
fn mlockall_flag_rules() {
    let w = world();
    map(&w, 2);
    for bad in [0, MCL_ONFAULT, 8, !(MCL_CURRENT | MCL_FUTURE), MCL_CURRENT | 16] {
        assert_eq!(w.mm.do_mlockall(bad, &root()), Err(EINVAL), "flags {bad:#x}");
    }
    assert_eq!(w.mm.do_mlockall(MCL_CURRENT, &nobody(0)), Err(EPERM));
    assert_eq!(w.mm.locked_vm(), 0);
    check(&w.mm);
}

#[test]
fn mlockall_current_enomem_when_total_vm_over_limit() {
    // LTP mlockall02/03: nobody, L = 7 pages, 10 pages mapped -> ENOMEM.
    let w = world();
    map(&w, 10);
    assert_eq!(w.mm.do_mlockall(MCL_CURRENT, &nobody(7 * P)), Err(ENOMEM));
    // MCL_FUTURE alone is not checked against total_vm.
    assert_eq!(w.mm.do_mlockall(MCL_FUTURE, &nobody(7 * P)), Ok(()));
    assert_eq!(w.mm.locked_vm(), 0);
    // With CAP: fine.
    assert_eq!(w.mm.do_mlockall(MCL_CURRENT, &mm::MlockCreds { memlock_limit: 7 * P, cap_ipc_lock: true }), Ok(()));
    assert_eq!(w.mm.locked_vm(), 10);
    check(&w.mm);
}

#[test]
fn mlockall_ignores_per_vma_errors_and_clears_future() {
    let w = world();
    let a = w.mm.do_mmap(0, 4 * P, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, &root()).unwrap();
    let b = map(&w, 4);
    assert_eq!(w.mm.do_mlockall(MCL_CURRENT | MCL_FUTURE, &root()), Ok(()));
    assert_eq!(w.mm.locked_vm(), 8);
    assert_eq!(present(&w.mm, a, 4 * P), 0);
    assert_eq!(present(&w.mm, b, 4 * P), 4);
    assert!(w.mm.def_flags().contains(mm::vma::VmFlags::LOCKED));
    // A call without MCL_FUTURE clears the future flags.
    assert_eq!(w.mm.do_mlockall(MCL_CURRENT, &root()), Ok(()));
    assert!(w.mm.def_flags().is_empty());
    assert_eq!(w.mm.do_munlockall(), Ok(()));
    assert_eq!(w.mm.locked_vm(), 0);
    assert_eq!(w.meta.nr_mlock(), 0);
    check(&w.mm);
}

// ----- mmap ------------------------------------------------------------------

#[test]
fn mmap_argument_errors() {
    let w = world();
    let (prot, flags) = anon_rw();
    let r = root();
    assert_eq!(w.mm.do_mmap(0, P, prot, MAP_PRIVATE, &r), Err(EBADF), "file mapping with fd -1");
    assert_eq!(w.mm.do_mmap(0, 0, prot, flags, &r), Err(EINVAL));
    assert_eq!(w.mm.do_mmap(0, u64::MAX, prot, flags, &r), Err(ENOMEM));
    assert_eq!(w.mm.do_mmap(0, TASK_SIZE, prot, flags, &r), Err(ENOMEM));
    // Linux ignores prot bits it does not know in mmap (not in mprotect).
    let a = w.mm.do_mmap(0, P, prot | 0x40 | 0x100, flags, &r).expect("unknown prot bits are ignored");
    assert_eq!(w.mm.do_munmap(a, P), Ok(()));
    assert_eq!(w.mm.do_mmap(0, P, prot, MAP_ANONYMOUS, &r), Err(EINVAL), "neither shared nor private");
    assert_eq!(w.mm.do_mmap(0, P, prot, MAP_ANONYMOUS | MAP_SHARED_VALIDATE, &r), Err(EINVAL));
    assert_eq!(w.mm.do_mmap(0, P, prot, MAP_ANONYMOUS | 0x0f, &r), Err(EINVAL));
    assert_eq!(w.mm.do_mmap(0, P, prot, MAP_ANONYMOUS | MAP_SHARED | MAP_GROWSDOWN, &r), Err(EINVAL));
    assert_eq!(w.mm.do_mmap(0x4000_0001, P, prot, flags | MAP_FIXED, &r), Err(EINVAL));
    assert_eq!(w.mm.do_mmap(TASK_SIZE - P, 2 * P, prot, flags | MAP_FIXED, &r), Err(ENOMEM));
    assert_eq!(w.mm.do_mmap(0x1000, P, prot, flags | MAP_FIXED, &r), Err(EPERM), "below mmap_min_addr");
    assert_eq!(w.mm.total_vm(), 0);
    check(&w.mm);
}

#[test]
fn mmap_locked_eperm_eagain_and_future() {
    let w = world();
    let (prot, flags) = anon_rw();
    assert_eq!(w.mm.do_mmap(0, P, prot, flags | MAP_LOCKED, &nobody(0)), Err(EPERM));
    assert_eq!(w.mm.do_mmap(0, 5 * P, prot, flags | MAP_LOCKED, &nobody(4 * P)), Err(EAGAIN));
    let a = w.mm.do_mmap(0, 4 * P, prot, flags | MAP_LOCKED, &nobody(4 * P)).unwrap();
    assert_eq!(w.mm.locked_vm(), 4);
    assert_eq!(present(&w.mm, a, 4 * P), 4, "MAP_LOCKED populates");
    // MCL_FUTURE-inherited VM_LOCKED is checked too.
    w.mm.do_mlockall(MCL_FUTURE, &nobody(6 * P)).unwrap();
    assert_eq!(w.mm.do_mmap(0, 3 * P, prot, flags, &nobody(6 * P)), Err(EAGAIN));
    let b = w.mm.do_mmap(0, 2 * P, prot, flags, &nobody(6 * P)).unwrap();
    assert_eq!(present(&w.mm, b, 2 * P), 2);
    assert_eq!(w.mm.locked_vm(), 6);
    check(&w.mm);
}

#[test]
fn mmap_fixed_noreplace_eexist_and_fixed_replaces() {
    let w = world();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0x4000_0000, 4 * P, prot, flags | MAP_FIXED | MAP_LOCKED, &root()).unwrap();
    assert_eq!(a, 0x4000_0000);
    assert_eq!(w.meta.nr_mlock(), 4);
    assert_eq!(w.mm.do_mmap(a + P, P, prot, flags | MAP_FIXED_NOREPLACE, &root()), Err(EEXIST));
    let in_use = w.arena.in_use();
    // MAP_FIXED over the middle: two pages freed and munlocked.
    assert_eq!(w.mm.do_mmap(a + P, 2 * P, prot, flags | MAP_FIXED, &root()), Ok(a + P));
    assert_eq!(w.meta.nr_mlock(), 2);
    assert_eq!(w.arena.in_use(), in_use - 2);
    assert_eq!(w.mm.locked_vm(), 2);
    assert_eq!(w.mm.total_vm(), 4);
    assert_eq!(w.mm.map_count(), 3);
    check(&w.mm);
}

// ----- munmap / mprotect -------------------------------------------------------

#[test]
fn munmap_errors() {
    let w = world();
    let a = map(&w, 4);
    assert_eq!(w.mm.do_munmap(a + 1, P), Err(EINVAL));
    assert_eq!(w.mm.do_munmap(a, 0), Err(EINVAL));
    assert_eq!(w.mm.do_munmap(TASK_SIZE + P, P), Err(EINVAL));
    assert_eq!(w.mm.do_munmap(a, u64::MAX - a), Err(EINVAL));
    assert_eq!(w.mm.do_munmap(0x10_0000, P), Ok(()), "nothing mapped: fine");
    assert_eq!(w.mm.do_munmap(a, 1), Ok(()), "len rounds up");
    assert_eq!(w.mm.total_vm(), 3);
    check(&w.mm);
}

#[test]
fn mprotect_errors() {
    let w = world();
    let a = map(&w, 8);
    assert_eq!(w.mm.do_mprotect(a + 1, P, PROT_READ), Err(EINVAL));
    assert_eq!(w.mm.do_mprotect(a, P, 0x10), Err(EINVAL));
    assert_eq!(w.mm.do_mprotect(a, P, PROT_READ | PROT_GROWSDOWN | PROT_GROWSUP), Err(EINVAL));
    assert_eq!(w.mm.do_mprotect(a, P, PROT_READ | PROT_GROWSDOWN), Err(EINVAL));
    assert_eq!(w.mm.do_mprotect(a, 0, PROT_GROWSDOWN | PROT_GROWSUP), Err(EINVAL), "checked before len");
    assert_eq!(w.mm.do_mprotect(a, 0, 0x10), Ok(()), "len 0 returns before prot is validated");
    assert_eq!(w.mm.do_mprotect(a, 0, PROT_READ), Ok(()));
    assert_eq!(w.mm.do_mprotect(a, u64::MAX, PROT_READ), Err(ENOMEM));
    assert_eq!(w.mm.do_mprotect(0x1000_0000, P, PROT_READ), Err(ENOMEM));
    w.mm.do_munmap(a + 4 * P, 2 * P).unwrap();
    assert_eq!(w.mm.do_mprotect(a, 8 * P, PROT_READ), Err(ENOMEM));
    let m = w.mm.maps_snapshot();
    assert!(!m[0].2.contains(mm::vma::VmFlags::WRITE), "vmas before the hole changed");
    assert!(m[1].2.contains(mm::vma::VmFlags::WRITE), "vmas after it did not");
    check(&w.mm);
}

// ----- madvise / mincore / brk ---------------------------------------------

#[test]
fn madvise_errors() {
    let w = world();
    let a = map(&w, 8);
    assert_eq!(w.mm.madvise(a, P, 7), Err(EINVAL), "unknown advice");
    assert_eq!(w.mm.madvise(a, P, 1000), Err(EINVAL));
    assert_eq!(w.mm.madvise(a + 1, P, MADV_DONTNEED), Err(EINVAL));
    assert_eq!(w.mm.madvise(a, u64::MAX, MADV_DONTNEED), Err(EINVAL));
    assert_eq!(w.mm.madvise(a, 0, MADV_DONTNEED), Ok(()));
    assert_eq!(w.mm.madvise(a, 16 * P, MADV_NORMAL), Err(ENOMEM), "runs past the vma");
    assert_eq!(w.mm.madvise(0x1000_0000, P, MADV_WILLNEED), Err(ENOMEM));
    for adv in [
        MADV_NORMAL,
        MADV_RANDOM,
        MADV_SEQUENTIAL,
        MADV_WILLNEED,
        MADV_DONTFORK,
        MADV_DOFORK,
        MADV_HUGEPAGE,
        MADV_NOHUGEPAGE,
        MADV_DONTDUMP,
        MADV_DODUMP,
        MADV_COLD,
        MADV_PAGEOUT,
    ] {
        assert_eq!(w.mm.madvise(a, 8 * P, adv), Ok(()), "advice {adv}");
    }
    // No transparent huge pages: a collapse is refused per vma, and that
    // error wins over the hole after the vma (Linux's madvise_walk_vmas).
    assert_eq!(w.mm.madvise(a, 8 * P, mm::mmap::MADV_COLLAPSE), Err(EINVAL));
    assert_eq!(w.mm.madvise(a, 16 * P, mm::mmap::MADV_COLLAPSE), Err(EINVAL));
    assert_eq!(w.mm.madvise(a, 8 * P, MADV_REMOVE), Err(EINVAL), "private memory");
    w.mm.do_mlock(a, 2 * P, 0, &root()).unwrap();
    assert_eq!(w.mm.madvise(a, 8 * P, MADV_DONTNEED), Err(EINVAL), "VM_LOCKED");
    assert_eq!(w.mm.madvise(a, P, MADV_FREE), Err(EINVAL));
    assert_eq!(w.mm.madvise(a, P, MADV_COLD), Err(EINVAL));
    assert_eq!(present(&w.mm, a, 2 * P), 2);
    check(&w.mm);
}

// ----- MADV_POPULATE_(READ|WRITE) --------------------------------------------
//
// Linux 6.10+ (mm/madvise.c madvise_populate -> mm/gup.c faultin_page_range
// with FOLL_MADV_POPULATE): page by page from the start; at each vma
// boundary the vma is looked up (none: ENOMEM) and checked as
// check_vma_flags does (VM_IO/VM_PFNMAP, no VM_WRITE for a write, no
// VM_READ for a read: EINVAL); then a pending fatal signal is EINTR; then
// the page is faulted in. The pages before the error stay populated.

fn map_prot(w: &World, pages: u64, prot: u64) -> u64 {
    w.mm.do_mmap(0, pages * P, prot, MAP_PRIVATE | MAP_ANONYMOUS, &root()).unwrap()
}

#[test]
fn madvise_populate_permission_errors_are_einval() {
    let w = world();
    // (prot, MADV_POPULATE_READ, MADV_POPULATE_WRITE)
    let cases = [
        (PROT_READ | PROT_WRITE, Ok(()), Ok(())),
        (PROT_READ, Ok(()), Err(EINVAL)),
        (PROT_WRITE, Err(EINVAL), Ok(())),
        (PROT_EXEC, Err(EINVAL), Err(EINVAL)),
        (PROT_READ | PROT_EXEC, Ok(()), Err(EINVAL)),
        (PROT_NONE, Err(EINVAL), Err(EINVAL)),
    ];
    for (prot, read, write) in cases {
        for (advice, want) in [(MADV_POPULATE_READ, read), (MADV_POPULATE_WRITE, write)] {
            let a = map_prot(&w, 4, prot);
            assert_eq!(w.mm.madvise(a, 4 * P, advice), want, "prot {prot:#x} advice {advice}");
            assert_eq!(present(&w.mm, a, 4 * P), if want.is_ok() { 4 } else { 0 }, "prot {prot:#x} advice {advice}");
            w.mm.do_munmap(a, 4 * P).unwrap();
        }
    }
    // Shared anonymous memory is populated for writing like private memory.
    let s = w.mm.do_mmap(0, 4 * P, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, &root()).unwrap();
    assert_eq!(w.mm.madvise(s, 4 * P, MADV_POPULATE_WRITE), Ok(()));
    assert_eq!(present(&w.mm, s, 4 * P), 4);
    check(&w.mm);
}

#[test]
fn madvise_populate_special_mapping_is_einval() {
    let w = world();
    w.mm.install_special_mapping(0x4000_0000, 4 * P, PROT_READ | PROT_WRITE).unwrap();
    assert_eq!(w.mm.madvise(0x4000_0000, 4 * P, MADV_POPULATE_READ), Err(EINVAL));
    assert_eq!(w.mm.madvise(0x4000_0000, 4 * P, MADV_POPULATE_WRITE), Err(EINVAL));
    // Reached after a normal vma: that one is populated first.
    let (prot, flags) = anon_rw();
    w.mm.do_mmap(0x4000_0000 - 2 * P, 2 * P, prot, flags | MAP_FIXED, &root()).unwrap();
    assert_eq!(w.mm.madvise(0x4000_0000 - 2 * P, 6 * P, MADV_POPULATE_WRITE), Err(EINVAL));
    assert_eq!(w.mm.rss(), 2);
    check(&w.mm);
}

#[test]
fn madvise_populate_stops_at_the_first_problem_in_address_order() {
    let w = world();
    let (rw, flags) = anon_rw();
    let fixed = |at: u64, pages: u64, prot: u64| {
        w.mm.do_mmap(at, pages * P, prot, flags | MAP_FIXED, &root()).unwrap();
    };
    let a = 0x4000_0000;
    // [rw][ro][rw]: EINVAL at the read-only vma, the page before it populated.
    fixed(a, 1, rw);
    fixed(a + P, 1, PROT_READ);
    fixed(a + 2 * P, 1, rw);
    assert_eq!(w.mm.madvise(a, 3 * P, MADV_POPULATE_WRITE), Err(EINVAL));
    assert_eq!(w.mm.mincore(a, 3 * P), Ok(vec![1, 0, 0]));
    // [rw][hole][ro]: the hole comes first: ENOMEM, not EINVAL.
    w.mm.do_munmap(a + P, P).unwrap();
    fixed(a + 2 * P, 1, PROT_READ);
    assert_eq!(w.mm.madvise(a, 3 * P, MADV_POPULATE_WRITE), Err(ENOMEM));
    // [ro][hole]: the read-only vma comes first: EINVAL.
    assert_eq!(w.mm.madvise(a + 2 * P, 2 * P, MADV_POPULATE_WRITE), Err(EINVAL));
    // Start in a hole: ENOMEM, and the vma after it is left alone.
    fixed(a + 4 * P, 4, rw);
    assert_eq!(w.mm.madvise(a + 3 * P, 5 * P, MADV_POPULATE_READ), Err(ENOMEM));
    assert_eq!(present(&w.mm, a + 4 * P, 4 * P), 0);
    // [r][r][none]: the readable pages are populated, then EINVAL.
    fixed(a + 4 * P, 2, PROT_READ);
    fixed(a + 6 * P, 1, PROT_NONE);
    assert_eq!(w.mm.madvise(a + 4 * P, 3 * P, MADV_POPULATE_READ), Err(EINVAL));
    assert_eq!(w.mm.mincore(a + 4 * P, 3 * P), Ok(vec![1, 1, 0]));
    // Nothing mapped at all, and a kernel address: ENOMEM (no vma).
    assert_eq!(w.mm.madvise(0x2000_0000, P, MADV_POPULATE_READ), Err(ENOMEM));
    assert_eq!(w.mm.madvise(0xffff_8000_0000_0000, P, MADV_POPULATE_READ), Err(ENOMEM));
    check(&w.mm);
}

#[test]
fn madvise_populate_eintr_with_a_fatal_signal_pending() {
    let w = world();
    let a = map(&w, 8);
    let ro = map_prot(&w, 2, PROT_READ);
    let me = std::thread::current();
    w.backend.send_fatal_signal(&me);
    // The vma checks come before the signal check...
    assert_eq!(w.mm.madvise(0x2000_0000, P, MADV_POPULATE_WRITE), Err(ENOMEM));
    assert_eq!(w.mm.madvise(ro, 2 * P, MADV_POPULATE_WRITE), Err(EINVAL));
    // ...which comes before every page (the lock itself is uncontended).
    assert_eq!(w.mm.madvise(a, 8 * P, MADV_POPULATE_WRITE), Err(EINTR));
    assert_eq!(w.mm.madvise(a, 8 * P, MADV_POPULATE_READ), Err(EINTR));
    w.backend.clear_fatal_signal();
    assert_eq!(w.mm.rss(), 0);
    assert_eq!(w.mm.madvise(a, 8 * P, MADV_POPULATE_WRITE), Ok(()));
    assert_eq!(w.mm.rss(), 8);
    check(&w.mm);
}

#[test]
fn madvise_populate_eintr_when_killed_midway() {
    // The populating thread is held at its first page's frame allocation
    // (the test holds the frame allocator), the signal is sent, and the
    // allocator let go: population must stop at the next page.
    let w = world();
    let a = map(&w, 8);
    let held = w.arena.0.lock().unwrap();
    let mm = w.mm.clone();
    let backend = w.backend.clone();
    let t = std::thread::spawn(move || {
        let r = mm.madvise(a, 8 * P, MADV_POPULATE_WRITE);
        backend.clear_fatal_signal();
        r
    });
    w.backend.send_fatal_signal(t.thread());
    drop(held);
    assert_eq!(t.join().unwrap(), Err(EINTR));
    assert!(w.mm.rss() <= 1, "population went on after the signal: {} pages", w.mm.rss());
    check(&w.mm);
}

#[test]
fn mincore_errors() {
    let w = world();
    let a = map(&w, 4);
    assert_eq!(w.mm.mincore(a + 1, P), Err(EINVAL));
    assert_eq!(w.mm.mincore(a, 8 * P), Err(ENOMEM));
    assert_eq!(w.mm.mincore(0x1000_0000, P), Err(ENOMEM));
    assert_eq!(w.mm.mincore(a, u64::MAX), Err(ENOMEM));
    assert_eq!(w.mm.mincore(a, 0), Ok(vec![]));
    assert_eq!(w.mm.mincore(a, P + 1).unwrap().len(), 2);
    check(&w.mm);
}

#[test]
fn brk_failures_return_the_current_break() {
    let w = world();
    let r = root();
    assert_eq!(w.mm.do_brk(0x50_0000, &r), 0, "no heap yet");
    w.mm.set_brk_base(0x40_0123).unwrap();
    let base = 0x40_1000;
    assert_eq!(w.mm.do_brk(0, &r), base);
    assert_eq!(w.mm.do_brk(base - 1, &r), base, "below start_brk");
    // Something mapped in the way.
    let (prot, flags) = anon_rw();
    w.mm.do_mmap(base + 8 * P, P, prot, flags | MAP_FIXED, &r).unwrap();
    assert_eq!(w.mm.do_brk(base + 8 * P, &r), base, "would touch the guard page");
    assert_eq!(w.mm.do_brk(base + 7 * P - 5, &r), base + 7 * P - 5, "one free page left: fine");
    assert_eq!(w.mm.total_vm(), 8);
    assert_eq!(w.mm.do_brk(base + 6 * P + 5, &r), base + 6 * P + 5, "shrink");
    assert_eq!(w.mm.total_vm(), 8, "still 7 heap pages + 1");
    // MCL_FUTURE: growth over RLIMIT_MEMLOCK fails.
    w.mm.do_mlockall(MCL_FUTURE, &nobody(2 * P)).unwrap();
    assert_eq!(w.mm.do_brk(base + 6 * P + 5 + 3 * P, &nobody(2 * P)), base + 6 * P + 5);
    check(&w.mm);
}

#[test]
fn msync_errors_and_locked_invalidate_ebusy() {
    let w = world();
    let a = map(&w, 4);
    assert_eq!(w.mm.msync(a, P, 8), Err(EINVAL));
    assert_eq!(w.mm.msync(a, P, MS_ASYNC | MS_SYNC), Err(EINVAL));
    assert_eq!(w.mm.msync(a + 1, P, MS_SYNC), Err(EINVAL));
    assert_eq!(w.mm.msync(a, u64::MAX - a, MS_SYNC), Err(ENOMEM));
    assert_eq!(w.mm.msync(a, 0, MS_SYNC), Ok(()));
    assert_eq!(w.mm.msync(a, 8 * P, MS_SYNC), Err(ENOMEM), "hole");
    assert_eq!(w.mm.msync(a, 4 * P, MS_SYNC | MS_INVALIDATE), Ok(()));
    w.mm.do_mlock(a + P, P, 0, &root()).unwrap();
    assert_eq!(w.mm.msync(a, 4 * P, MS_INVALIDATE), Err(EBUSY));
    assert_eq!(w.mm.msync(a, 4 * P, MS_SYNC), Ok(()));
    check(&w.mm);
}

#[test]
fn do_mincore_stops_at_the_end_of_the_vma() {
    let w = world();
    let a = map(&w, 4);
    let b = w.mm.do_mmap(a + 8 * P, 2 * P, anon_rw().0, anon_rw().1 | mm::mmap::MAP_FIXED, &root()).unwrap();
    w.mm.handle_mm_fault(a + P, mm::fault::FaultAccess::Write, mm::fault::FaultOrigin::User).unwrap();
    assert_eq!(w.mm.do_mincore(a, 100), Ok(vec![0, 1, 0, 0]), "one vma's pages, no more");
    assert_eq!(w.mm.do_mincore(a + 2 * P, 1), Ok(vec![0]), "no more than asked");
    assert_eq!(w.mm.do_mincore(a + 4 * P, 1), Err(ENOMEM), "a hole");
    assert_eq!(w.mm.do_mincore(b, 5), Ok(vec![0, 0]));
}

/// `mlock([A][hole][C])` under every strategy, downgrade-retake's 2008 loop
/// included: ENOMEM, A locked but not populated (the hole is found before
/// anything is faulted in, as every Linux since 2.6.29 does), C untouched.
#[test]
fn mlock_over_a_hole_populates_nothing_under_every_strategy() {
    for s in mm::PopulateStrategy::ALL {
        let w = world_with(s);
        let a = map(&w, 3);
        w.mm.do_munmap(a + P, P).unwrap();
        assert_eq!(w.mm.do_mlock(a, 3 * P, 0, &root()), Err(ENOMEM), "{}", s.name());
        assert_eq!(w.mm.locked_vm(), 1, "{}: A locked and counted", s.name());
        assert_eq!(present(&w.mm, a, P), 0, "{}: A populated", s.name());
        assert_eq!(present(&w.mm, a + 2 * P, P), 0, "{}: C populated", s.name());
        check(&w.mm);
    }
}
