//! Stack growth (`mm::stack`): a fault below a `VM_GROWSDOWN` vma extends
//! it, within `RLIMIT_STACK`, the stack guard gap and, for a locked stack,
//! `RLIMIT_MEMLOCK`; every other fault outside a vma still fails.
#![cfg(not(loom))]
mod common;
use common::*;
use mm::fault::{FaultAccess, FaultError, FaultOrigin};
use mm::mmap::{MAP_FIXED, MAP_GROWSDOWN, MAP_LOCKED, PROT_NONE, PROT_READ};
use mm::stack::{StackLimits, STACK_GUARD_GAP};

const TOP: u64 = 0x7000_0000_0000;

fn limits(stack: u64) -> StackLimits {
    StackLimits { stack, mlock: root() }
}

/// A 4-page growing-down stack ending at TOP; returns its start.
fn stack(w: &World, extra: u64) -> u64 {
    let (prot, flags) = anon_rw();
    w.mm.do_mmap(TOP - 4 * P, 4 * P, prot, flags | MAP_FIXED | MAP_GROWSDOWN | extra, &root()).unwrap();
    TOP - 4 * P
}

fn vma_start(w: &World, addr: u64) -> Option<u64> {
    w.mm.maps_snapshot().into_iter().find(|&(s, e, _)| s <= addr && addr < e).map(|(s, _, _)| s)
}

#[test]
fn a_fault_below_a_growsdown_vma_extends_it() {
    let w = world();
    let start = stack(&w, 0);
    let total = w.mm.total_vm();
    let addr = start - 3 * P + 17;
    w.mm.handle_user_mm_fault(addr, FaultAccess::Write, FaultOrigin::User, &limits(8 << 20)).unwrap();
    check(&w.mm);
    assert_eq!(vma_start(&w, addr), Some(start - 3 * P), "one vma, now from the faulting page");
    assert_eq!(w.mm.map_count(), 1, "merged, not a second vma");
    assert_eq!(w.mm.total_vm(), total + 3);
    assert_eq!(present(&w.mm, start - 3 * P, P), 1, "the faulting page is mapped");
    assert_eq!(present(&w.mm, start - 2 * P, 2 * P), 0, "the pages between are not");
}

#[test]
fn the_plain_fault_path_never_grows() {
    let w = world();
    let start = stack(&w, 0);
    assert_eq!(w.mm.handle_mm_fault(start - P, FaultAccess::Read, FaultOrigin::User), Err(FaultError::NoVma));
    assert_eq!(vma_start(&w, start), Some(start));
}

#[test]
fn growth_beyond_rlimit_stack_fails() {
    let w = world();
    let start = stack(&w, 0);
    // Stack would be 4 + 5 pages against a limit of 8.
    assert_eq!(
        w.mm.handle_user_mm_fault(start - 5 * P, FaultAccess::Write, FaultOrigin::User, &limits(8 * P)),
        Err(FaultError::NoVma)
    );
    assert_eq!(vma_start(&w, start), Some(start));
    w.mm.handle_user_mm_fault(start - 4 * P, FaultAccess::Write, FaultOrigin::User, &limits(8 * P)).unwrap();
    assert_eq!(vma_start(&w, start), Some(start - 4 * P), "exactly the limit is fine");
    check(&w.mm);
}

#[test]
fn an_accessible_vma_within_the_guard_gap_blocks_growth() {
    let w = world();
    let start = stack(&w, 0);
    let (prot, flags) = anon_rw();
    // An accessible mapping ending 16 pages below the stack.
    let below = start - 16 * P - 4 * P;
    w.mm.do_mmap(below, 4 * P, prot, flags | MAP_FIXED, &root()).unwrap();
    assert_eq!(
        w.mm.handle_user_mm_fault(start - P, FaultAccess::Write, FaultOrigin::User, &limits(8 << 20)),
        Err(FaultError::NoVma)
    );
    // Made inaccessible, it no longer counts (Linux's vma_is_accessible).
    w.mm.do_mprotect(below, 4 * P, PROT_NONE).unwrap();
    w.mm.handle_user_mm_fault(start - P, FaultAccess::Write, FaultOrigin::User, &limits(8 << 20)).unwrap();
    assert_eq!(vma_start(&w, start), Some(start - P));
    check(&w.mm);
    const { assert!(16 * P < STACK_GUARD_GAP) };
}

#[test]
fn a_vma_that_does_not_grow_down_is_not_extended() {
    let w = world();
    let (prot, flags) = anon_rw();
    w.mm.do_mmap(TOP - 4 * P, 4 * P, prot, flags | MAP_FIXED, &root()).unwrap();
    assert_eq!(
        w.mm.handle_user_mm_fault(TOP - 5 * P, FaultAccess::Read, FaultOrigin::User, &limits(8 << 20)),
        Err(FaultError::NoVma)
    );
    assert_eq!(w.mm.map_count(), 1);
}

#[test]
fn a_locked_stack_grows_locked_within_rlimit_memlock() {
    let w = world();
    let start = stack(&w, MAP_LOCKED);
    check(&w.mm);
    assert_eq!(w.mm.locked_vm(), 4);
    // An unprivileged task with room for 6 locked pages.
    let nobody6 = StackLimits { stack: 8 << 20, mlock: nobody(6 * P) };
    w.mm.handle_user_mm_fault(start - 2 * P, FaultAccess::Write, FaultOrigin::User, &nobody6).unwrap();
    check(&w.mm);
    assert_eq!(w.mm.locked_vm(), 6, "the new stack pages are locked memory");
    assert_eq!(w.meta.nr_mlock(), 4 + 1, "MAP_LOCKED populated 4 pages; the faulted one is mlocked too");
    assert_eq!(
        w.mm.handle_user_mm_fault(start - 3 * P, FaultAccess::Write, FaultOrigin::User, &nobody6),
        Err(FaultError::NoVma),
        "a seventh locked page is over the limit"
    );
    assert_eq!(w.mm.locked_vm(), 6);
    check(&w.mm);
}

#[test]
fn growth_then_access_checks_still_apply() {
    let w = world();
    let (_, flags) = anon_rw();
    w.mm.do_mmap(TOP - 4 * P, 4 * P, PROT_READ, flags | MAP_FIXED | MAP_GROWSDOWN, &root()).unwrap();
    // A write below a read-only stack: the vma grows, the write is refused.
    assert_eq!(
        w.mm.handle_user_mm_fault(TOP - 5 * P, FaultAccess::Write, FaultOrigin::User, &limits(8 << 20)),
        Err(FaultError::Access)
    );
    assert_eq!(vma_start(&w, TOP - 5 * P), Some(TOP - 5 * P));
    w.mm.handle_user_mm_fault(TOP - 5 * P, FaultAccess::Read, FaultOrigin::User, &limits(8 << 20)).unwrap();
    check(&w.mm);
}

#[test]
fn growth_never_goes_below_mmap_min_addr() {
    let w = world();
    let (prot, flags) = anon_rw();
    w.mm.do_mmap(0x10000, 4 * P, prot, flags | MAP_FIXED | MAP_GROWSDOWN, &root()).unwrap();
    assert_eq!(
        w.mm.handle_user_mm_fault(0x10000 - P, FaultAccess::Read, FaultOrigin::User, &limits(8 << 20)),
        Err(FaultError::NoVma)
    );
    assert_eq!(
        w.mm.handle_user_mm_fault(0x10000 - P + 8, FaultAccess::Read, FaultOrigin::User, &limits(u64::MAX)),
        Err(FaultError::NoVma)
    );
}
