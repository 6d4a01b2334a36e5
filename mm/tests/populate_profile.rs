//! The population profile counts exactly the pages population faults in,
//! and its parts fit inside its wall time. (Its own test binary: the
//! counters are global.)

mod common;
use common::*;

#[test]
fn counts_populated_pages_and_splits_their_time() {
    let w = world_with(mm::PopulateStrategy::HoldWrite);
    let (prot, flags) = anon_rw();
    let addr = w.mm.do_mmap(0, 64 * 4096, prot, flags, &root()).unwrap();
    mm::populate_profile::set_enabled(false);
    w.mm.do_mlock(addr, 16 * 4096, 0, &root()).unwrap();
    assert_eq!(mm::populate_profile::snapshot().pages, 0, "counted while off");
    mm::populate_profile::set_enabled(true);
    w.mm.do_mlock(addr, 64 * 4096, 0, &root()).unwrap();
    let p = mm::populate_profile::snapshot();
    assert_eq!(p.pages, 64, "{p:?}");
    assert!(p.populate_ns > 0 && p.alloc_ns > 0 && p.install_ns > 0, "{p:?}");
    assert!(p.alloc_ns + p.install_ns <= p.populate_ns, "parts exceed the whole: {p:?}");
    assert_eq!(present(&w.mm, addr, 64 * 4096), 64);
    check(&w.mm);
}
