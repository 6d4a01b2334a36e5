//! Threads against one MmStruct, for every population strategy: a
//! writer-heavy thread (mmap/munmap/mprotect) next to mlock/munlock of
//! another region and faulting readers — no deadlock, invariants hold;
//! the downgrade-retake race (the test hook replaces the vma in the
//! unlocked window: the checker catches it for downgrade-retake only);
//! SIGKILL ends population promptly.
#![cfg(not(loom))]

mod common;
use common::*;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use mm::fault::FaultAccess;
use mm::mmap::*;
use mm::populate::POPULATE_BATCH_PAGES;
use mm::PopulateStrategy;

/// Run `f` on its own thread; fail (instead of hanging) if it takes longer
/// than `secs`.
fn with_watchdog<F: FnOnce() + Send + 'static>(secs: u64, what: &str, f: F) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The closure panicked: re-raise its panic.
            if let Err(e) = t.join() {
                std::panic::resume_unwind(e);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: no progress in {secs} s (deadlock?)"),
    }
}

#[test]
fn writer_heavy_vs_mlock_every_strategy() {
    for s in PopulateStrategy::ALL {
        with_watchdog(60, s.name(), move || {
            let w = world_with(s);
            let (prot, flags) = anon_rw();
            let r = root();
            let region_pages = 512;
            let region = w.mm.do_mmap(0x2000_0000, region_pages * P, prot, flags | MAP_FIXED, &r).unwrap();
            let stop = Arc::new(AtomicBool::new(false));
            let violations = Arc::new(AtomicU64::new(0));
            std::thread::scope(|sc| {
                // Writer: map, touch, protect, unmap in its own area.
                let mm = &w.mm;
                let stop_w = stop.clone();
                sc.spawn(move || {
                    let mut i = 0u64;
                    while !stop_w.load(Ordering::Relaxed) || i < 20 {
                        let a = 0x3000_0000 + (i % 8) * 16 * P;
                        mm.do_mmap(a, 8 * P, prot, flags | MAP_FIXED, &r).unwrap();
                        mm.handle_mm_fault(a, FaultAccess::Write, true).unwrap();
                        mm.do_mprotect(a, 4 * P, PROT_READ).unwrap();
                        if i % 3 == 0 {
                            mm.do_munmap(a, 8 * P).unwrap();
                        }
                        i += 1;
                    }
                });
                // Readers: fault pages of the region and of the writer's area.
                for k in 0..2u64 {
                    let stop_r = stop.clone();
                    sc.spawn(move || {
                        let mut i = k;
                        while !stop_r.load(Ordering::Relaxed) {
                            let _ = mm.handle_mm_fault(region + (i * 7 % region_pages) * P, FaultAccess::Read, true);
                            let _ = mm.handle_mm_fault(0x3000_0000 + (i % 128) * P, FaultAccess::Read, true);
                            i += 2;
                        }
                    });
                }
                // A checker: every inner-lock release point is consistent.
                let stop_c = stop.clone();
                let viol = violations.clone();
                sc.spawn(move || {
                    while !stop_c.load(Ordering::Relaxed) {
                        if let Err(e) = mm::invariants::check_mm_invariants(&**mm) {
                            eprintln!("{e}");
                            viol.fetch_add(1, Ordering::Relaxed);
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                });
                for round in 0..3 {
                    mm.do_mlock(region, region_pages * P, 0, &r).unwrap();
                    assert_eq!(present(mm, region, region_pages * P), region_pages as usize, "round {round}");
                    mm.do_munlock(region, region_pages * P).unwrap();
                    mm.do_mlock(region, region_pages * P / 2, mm::mlock::MLOCK_ONFAULT, &r).unwrap();
                    mm.do_munlockall().unwrap();
                }
                mm.do_mlock(region, region_pages * P, 0, &r).unwrap();
                stop.store(true, Ordering::Relaxed);
            });
            assert_eq!(violations.load(Ordering::Relaxed), 0, "{}: concurrent checker saw violations", s.name());
            check(&w.mm);
            assert_eq!(w.mm.locked_vm(), region_pages);
            let maps = w.mm.maps_snapshot();
            let locked_present: usize = maps
                .iter()
                .filter(|m| m.2.contains(mm::vma::VmFlags::LOCKED))
                .map(|m| present(&w.mm, m.0, m.1 - m.0))
                .sum();
            assert_eq!(w.meta.nr_mlock(), locked_present as u64);
            w.mm.exit_mmap();
            assert_eq!(w.arena.in_use(), 0);
            assert_eq!(w.meta.nr_mlock(), 0);
        });
    }
}

/// The hook replaces the vma being mlocked, in population's unlocked
/// window: unmap it and map an unlocked one in its place, touching a few
/// pages. Only downgrade-retake is fooled (its re-check finds *a* vma and
/// it writes its stale flags onto the replacement).
#[test]
fn downgrade_retake_race_is_caught_only_for_downgrade_retake() {
    for s in PopulateStrategy::ALL {
        let w = world_with(s);
        let (prot, flags) = anon_rw();
        let r = root();
        let pages = 4 * POPULATE_BATCH_PAGES;
        let a = w.mm.do_mmap(0x2000_0000, pages * P, prot, flags | MAP_FIXED, &r).unwrap();
        let fired = Arc::new(AtomicBool::new(false));
        let fired_h = fired.clone();
        w.mm.set_populate_hook(Some(Arc::new(move |mm: &TestMm, _: mm::populate::PopulateProgress| {
            if fired_h.swap(true, Ordering::SeqCst) {
                return;
            }
            mm.do_munmap(a, pages * P).unwrap();
            mm.do_mmap(a, pages * P, prot, flags | MAP_FIXED, &root()).unwrap();
            for i in 0..3 {
                mm.handle_mm_fault(a + i * P, FaultAccess::Write, true).unwrap();
            }
        })));
        let res = w.mm.do_mlock(a, pages * P, 0, &r);
        w.mm.set_populate_hook(None);
        assert!(fired.load(Ordering::SeqCst), "{}: the hook ran", s.name());
        let verdict = mm::invariants::check_mm_invariants(&*w.mm);
        if s == PopulateStrategy::DowngradeRetake {
            assert_eq!(res, Ok(()), "the 2008 re-check passes: a vma covers the range");
            let e = verdict.expect_err("downgrade-retake must leave a corrupted mm");
            assert!(e.contains("locked_vm"), "{e}");
        } else {
            assert_eq!(res, Ok(()), "{}", s.name());
            verdict.unwrap_or_else(|e| panic!("{}: {e}", s.name()));
        }
    }
}

/// The same race under mlockall(MCL_CURRENT).
#[test]
fn downgrade_retake_race_mlockall() {
    for s in PopulateStrategy::ALL {
        let w = world_with(s);
        let (prot, flags) = anon_rw();
        let pages = 2 * POPULATE_BATCH_PAGES;
        let a = w.mm.do_mmap(0x2000_0000, pages * P, prot, flags | MAP_FIXED, &root()).unwrap();
        let fired = Arc::new(AtomicBool::new(false));
        let fired_h = fired.clone();
        w.mm.set_populate_hook(Some(Arc::new(move |mm: &TestMm, _: mm::populate::PopulateProgress| {
            if !fired_h.swap(true, Ordering::SeqCst) {
                mm.do_munlock(a, pages * P).unwrap();
                mm.do_mprotect(a, pages * P, PROT_READ).unwrap();
            }
        })));
        w.mm.do_mlockall(mm::mlock::MCL_CURRENT, &root()).unwrap();
        w.mm.set_populate_hook(None);
        let verdict = mm::invariants::check_mm_invariants(&*w.mm);
        assert_eq!(verdict.is_err(), s == PopulateStrategy::DowngradeRetake, "{}: {verdict:?}", s.name());
    }
}

/// A pending fatal signal ends population after at most one batch, for
/// every strategy; munlock afterwards faults nothing in.
#[test]
fn sigkill_ends_population_promptly() {
    for s in PopulateStrategy::ALL {
        let w = world_with(s);
        let (prot, flags) = anon_rw();
        let a = w.mm.do_mmap(0, 1 << 30, prot, flags, &root()).unwrap();
        w.backend.send_fatal_signal(&std::thread::current());
        let r = w.mm.do_mlock(a, 1 << 30, 0, &root());
        w.backend.clear_fatal_signal();
        assert_eq!(r, Err(mm::Errno::EINTR), "{}", s.name());
        assert!(w.mm.rss() <= POPULATE_BATCH_PAGES, "{}: rss {}", s.name(), w.mm.rss());
        assert_eq!(w.mm.locked_vm(), (1 << 30) / P);
        let allocated = w.arena.allocated();
        w.mm.do_munlock(a, 1 << 30).unwrap();
        assert_eq!(w.arena.allocated(), allocated, "munlock never faults");
        assert_eq!(w.meta.nr_mlock(), 0);
        check(&w.mm);
    }
}

/// A mlock under yield-to-waiters lets a queued writer in mid-population:
/// a writer thread completes its mmaps while a large mlock is running, and
/// both end consistent.
#[test]
fn yield_to_waiters_lets_writers_in() {
    with_watchdog(60, "yield", || {
        let w = world_with(PopulateStrategy::YieldToWaiters);
        let (prot, flags) = anon_rw();
        let pages = 16384;
        let a = w.mm.do_mmap(0x2000_0000, pages * P, prot, flags | MAP_FIXED, &root()).unwrap();
        let during = AtomicU64::new(0);
        std::thread::scope(|sc| {
            let mm = &w.mm;
            let during = &during;
            let t = sc.spawn(move || mm.do_mlock(a, pages * P, 0, &root()));
            sc.spawn(move || {
                while mm.rss() == 0 {
                    std::thread::yield_now();
                }
                for i in 0..20 {
                    mm.do_mmap(0x4000_0000 + i * 2 * P, P, prot, flags | MAP_FIXED, &root()).unwrap();
                    if mm.rss() < pages {
                        during.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
            assert_eq!(t.join().unwrap(), Ok(()));
        });
        eprintln!("writer calls completed during population: {}", during.load(Ordering::Relaxed));
        assert_eq!(w.mm.locked_vm(), pages);
        assert_eq!(w.mm.rss(), pages, "the writer's mappings are not touched");
        assert_eq!(w.mm.total_vm(), pages + 20);
        check(&w.mm);
    });
}
