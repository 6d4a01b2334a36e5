//! Smoke test: one mm through mmap, fault, mlock, munmap and exit_mmap.
#![cfg(not(loom))]
mod common;
use common::*;
use mm::fault::{FaultAccess, FaultOrigin};

#[test]
fn mmap_fault_mlock_munmap_exit() {
    let w = world();
    let base = w.arena.in_use();
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, 8 * P, prot, flags, &root()).unwrap();
    check(&w.mm);
    w.mm.handle_mm_fault(a, FaultAccess::Write, FaultOrigin::User).unwrap();
    check(&w.mm);
    assert_eq!(w.mm.rss(), 1);
    w.mm.do_mlock(a, 8 * P, 0, &root()).unwrap();
    check(&w.mm);
    assert_eq!(w.mm.locked_vm(), 8);
    assert_eq!(w.meta.nr_mlock(), 8);
    w.mm.do_munmap(a, 4 * P).unwrap();
    check(&w.mm);
    assert_eq!(w.meta.nr_mlock(), 4);
    w.mm.exit_mmap();
    assert_eq!(w.meta.nr_mlock(), 0);
    assert_eq!(w.arena.in_use(), base - 1);
}

/// The inner lock (the page-table lock) is held with interrupts disabled:
/// a counter read that takes only the inner lock disables them once, and
/// faults and mlock (which take it per page) leave them enabled.
#[test]
fn inner_lock_is_held_with_interrupts_disabled() {
    let w = world();
    let before = w.backend.irq_saves();
    let _ = w.mm.total_vm();
    assert_eq!(w.backend.irq_saves() - before, 1, "total_vm should take the inner lock once, interrupts off");
    let (prot, flags) = anon_rw();
    let addr = w.mm.do_mmap(0, 16 * 4096, prot, flags | mm::mmap::MAP_POPULATE, &root()).unwrap();
    w.mm.do_mlock(addr, 16 * 4096, 0, &root()).unwrap();
    assert!(!mm::rwsem::StdBackend::irqs_disabled(), "interrupts left disabled");
    check(&w.mm);
}
