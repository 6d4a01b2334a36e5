//! `vm.max_map_count`: no call may take an address space past the limit on
//! its number of vmas (Linux `sysctl_max_map_count`, 65530 by default).
//! mmap and brk refuse once the count is above it, a split (mprotect,
//! mlock, munmap punching a hole, mremap moving) once it would go beyond.
//! The limit is global, so this file holds one test.
#![cfg(not(loom))]

mod common;
use common::*;
use mm::mmap::*;
use mm::vma::{max_map_count, set_max_map_count, DEFAULT_MAX_MAP_COUNT};
use mm::Errno::ENOMEM;

const LIMIT: usize = 40;

fn writable(w: &World, addr: u64) -> bool {
    let maps = w.mm.maps_snapshot();
    let (_, _, flags) = maps.iter().find(|(s, e, _)| (*s..*e).contains(&addr)).expect("mapped");
    flags.contains(mm::vma::VmFlags::WRITE)
}

#[test]
fn splits_and_new_mappings_stop_at_max_map_count() {
    assert_eq!(max_map_count(), DEFAULT_MAX_MAP_COUNT);
    assert_eq!(DEFAULT_MAX_MAP_COUNT, 65530);
    set_max_map_count(LIMIT);
    let w = world();
    let (prot, flags) = anon_rw();
    let pages = 4 * LIMIT as u64;
    let a = w.mm.do_mmap(0, pages * P, prot, flags, &root()).unwrap();

    // Alternating mprotect: each call splits the tail vma twice.
    let mut refused = None;
    for i in (1..pages).step_by(2) {
        let before = w.mm.map_count();
        match w.mm.do_mprotect(a + i * P, P, PROT_READ) {
            Ok(()) => assert_eq!(w.mm.map_count(), before + 2),
            Err(e) => {
                assert_eq!(e, ENOMEM);
                assert!(before + 2 > LIMIT, "refused at {before} vmas, limit {LIMIT}");
                // As Linux: the split at the start was made, the one at the
                // end refused.
                let after = if before < LIMIT { before + 1 } else { before };
                assert_eq!(w.mm.map_count(), after, "vmas after a refused mprotect");
                refused = Some(i);
                break;
            }
        }
        check(&w.mm);
    }
    let i = refused.expect("mprotect splits never hit the limit");
    assert!(w.mm.map_count() <= LIMIT);
    // The page the refused call asked for kept its protection.
    assert!(writable(&w, a + i * P), "a refused mprotect changed the protection");

    // mlock of one page in the middle of the tail vma would split it.
    let tail = a + (i + 1) * P;
    let at_limit = w.mm.map_count();
    if at_limit + 2 > LIMIT {
        assert_eq!(w.mm.do_mlock(tail + P, P, 0, &root()), Err(ENOMEM));
        assert_eq!(w.mm.locked_vm(), 0);
    }
    // Fill up to exactly the limit with one-page mappings elsewhere.
    while w.mm.map_count() < LIMIT {
        w.mm.do_mmap(0, P, PROT_READ, flags, &root()).unwrap();
    }
    assert_eq!(w.mm.map_count(), LIMIT);
    // At the limit: one more mmap is still allowed (Linux checks
    // `map_count > max`), the next is refused.
    let extra = w.mm.do_mmap(0, P, PROT_NONE, flags, &root()).unwrap();
    assert_eq!(w.mm.map_count(), LIMIT + 1);
    assert_eq!(w.mm.do_mmap(0, P, PROT_NONE, flags, &root()), Err(ENOMEM));
    // munmap may not punch a hole (one vma more) above the limit, but may
    // remove or trim vmas.
    assert_eq!(w.mm.do_munmap(tail + P, P), Err(ENOMEM));
    assert_eq!(w.mm.do_munmap(extra, P), Ok(()));
    assert_eq!(w.mm.map_count(), LIMIT);
    assert_eq!(w.mm.do_munmap(tail + P, P), Err(ENOMEM), "a hole at the limit would exceed it");
    assert_eq!(w.mm.do_munmap(a + pages * P - P, P), Ok(()), "trimming a vma's end needs no new vma");
    check(&w.mm);

    // Raising the limit lets the same calls through.
    set_max_map_count(DEFAULT_MAX_MAP_COUNT);
    assert_eq!(w.mm.do_munmap(tail + P, P), Ok(()));
    assert_eq!(w.mm.do_mprotect(a + i * P, P, PROT_READ), Ok(()));
    assert_eq!(w.mm.do_mlock(tail + 3 * P, P, 0, &root()), Ok(()));
    check(&w.mm);
}
