//! Threads against one MmStruct, for every population strategy: a
//! writer-heavy thread (mmap/munmap/mprotect) next to mlock/munlock of
//! another region and faulting readers — no deadlock, invariants hold;
//! a reader and a writer (the 2008 race: the vma being mlocked replaced)
//! let go at a mid-population point of each strategy, getting in exactly
//! where the strategy allows, with the checker catching downgrade-retake
//! only; writers getting in during a long mlock under yield-to-waiters and
//! never under hold-write; SIGKILL ends population promptly.
#![cfg(not(loom))]

mod common;
use common::*;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use mm::fault::{FaultAccess, FaultOrigin};
use mm::mmap::*;
use mm::populate::{PopulateLock, PopulateProgress, POPULATE_BATCH_PAGES, YIELD_HOLD_PAGES};
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
                        mm.handle_mm_fault(a, FaultAccess::Write, FaultOrigin::User).unwrap();
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
                            let _ = mm.handle_mm_fault(region + (i * 7 % region_pages) * P, FaultAccess::Read, FaultOrigin::User);
                            let _ = mm.handle_mm_fault(0x3000_0000 + (i % 128) * P, FaultAccess::Read, FaultOrigin::User);
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
            let locked_present: usize =
                maps.iter().filter(|m| m.2.contains(mm::vma::VmFlags::LOCKED)).map(|m| present(&w.mm, m.0, m.1 - m.0)).sum();
            assert_eq!(w.meta.nr_mlock(), locked_present as u64);
            w.mm.exit_mmap();
            assert_eq!(w.arena.in_use(), 0);
            assert_eq!(w.meta.nr_mlock(), 0);
        });
    }
}

/// Who races with population.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Racer {
    /// A fault on a page outside the mlocked range: takes `mmap_lock` for read.
    Reader,
    /// munmap + mmap of the first vma being mlocked (a new, unlocked vma in
    /// its place), then three faults in it: the 2008 race.
    Writer,
}

/// What one race looked like from population's side.
#[derive(Debug)]
struct Race {
    /// The first hook call: what population held and how far it was.
    first: PopulateProgress,
    /// The hook call where the racer was let go: the first one with pages
    /// behind population *and* pages still to do.
    window: PopulateProgress,
    /// The racer's operation had completed at some hook call where
    /// population still had pages to do.
    mid: bool,
    mlock: Result<(), mm::Errno>,
    verdict: Result<(), String>,
}

/// Two vmas, A (read-write) and B (read-only), 4 batches each, mlocked in
/// one call while `racer` runs on its own thread. The hook lets the racer go
/// at the first mid-population point. Where population holds nothing the
/// hook waits for the racer to finish (it must be able to); where it holds
/// the lock in a mode the racer cannot share, the hook waits until the
/// racer is queued on `mmap_lock`, and population goes on with it waiting.
/// Every later hook call with pages still to do records whether the racer
/// has finished.
fn race(s: PopulateStrategy, racer: Racer) -> (World, Race) {
    let w = world_with(s);
    let (prot, flags) = anon_rw();
    let n = 4 * POPULATE_BATCH_PAGES;
    let a = w.mm.do_mmap(0x2000_0000, n * P, prot, flags | MAP_FIXED, &root()).unwrap();
    w.mm.do_mmap(a + n * P, n * P, PROT_READ, flags | MAP_FIXED, &root()).unwrap();
    let c = w.mm.do_mmap(0x3000_0000, P, prot, flags | MAP_FIXED, &root()).unwrap();
    let go = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicBool::new(false));
    let mid = Arc::new(AtomicBool::new(false));
    let calls: Arc<Mutex<Vec<PopulateProgress>>> = Arc::default();
    let window: Arc<Mutex<Option<PopulateProgress>>> = Arc::default();
    let (go_h, done_h, mid_h, calls_h, window_h) = (go.clone(), done.clone(), mid.clone(), calls.clone(), window.clone());
    w.mm.set_populate_hook(Some(Arc::new(move |mm: &TestMm, p: PopulateProgress| {
        calls_h.lock().unwrap().push(p);
        if p.remaining() == 0 {
            return;
        }
        // Can the racer finish while population is stopped here?
        let can_finish = match p.lock {
            PopulateLock::Unlocked => true,
            PopulateLock::Read => racer == Racer::Reader,
            PopulateLock::Write => false,
        };
        if !go_h.load(Ordering::SeqCst) {
            if p.done() == 0 {
                return;
            }
            *window_h.lock().unwrap() = Some(p);
            go_h.store(true, Ordering::SeqCst);
            if !can_finish {
                while !mm.mmap_lock.is_contended() {
                    std::thread::yield_now();
                }
            }
        }
        if can_finish {
            while !done_h.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
        }
        if done_h.load(Ordering::SeqCst) {
            mid_h.store(true, Ordering::SeqCst);
        }
    })));
    let mut res = Ok(());
    std::thread::scope(|sc| {
        let mm = &w.mm;
        let (go, done) = (&go, &done);
        sc.spawn(move || {
            while !go.load(Ordering::SeqCst) {
                std::thread::yield_now();
            }
            match racer {
                Racer::Reader => mm.handle_mm_fault(c, FaultAccess::Write, FaultOrigin::User).unwrap(),
                Racer::Writer => {
                    mm.do_munmap(a, n * P).unwrap();
                    mm.do_mmap(a, n * P, prot, flags | MAP_FIXED, &root()).unwrap();
                    for i in 0..3 {
                        mm.handle_mm_fault(a + i * P, FaultAccess::Write, FaultOrigin::User).unwrap();
                    }
                }
            }
            done.store(true, Ordering::SeqCst);
        });
        res = mm.do_mlock(a, 2 * n * P, 0, &root());
        if !go.load(Ordering::SeqCst) {
            // No mid-population window: release the racer so the test ends.
            go.store(true, Ordering::SeqCst);
        }
    });
    w.mm.set_populate_hook(None);
    let calls = calls.lock().unwrap().clone();
    let first = *calls.first().unwrap_or_else(|| panic!("{}: the hook never ran", s.name()));
    let window = window
        .lock()
        .unwrap()
        .unwrap_or_else(|| panic!("{}: no hook call mid-population; calls: {calls:x?}", s.name()));
    assert!(window.done() > 0 && window.remaining() > 0, "{window:?}");
    let verdict = mm::invariants::check_mm_invariants(&*w.mm);
    let race = Race { first, window, mid: mid.load(Ordering::SeqCst), mlock: res, verdict };
    (w, race)
}

/// Every strategy has a mid-population point (pages behind and pages still
/// to do) where the test hook runs; what another thread can do there is
/// what the strategy allows: hold-write lets nobody in until it is done;
/// downgrade-at-end and populate-unlocked (Linux's `__mm_populate`: one read
/// hold across vmas) let readers in but make a writer wait until population
/// ends; downgrade-retake drops the lock between vmas, and a writer that
/// replaces a vma there corrupts the mm (the checker sees `locked_vm` off);
/// yield-to-waiters drops it between batches, and the same replacement is
/// harmless because population looks the vma up again.
#[test]
fn each_strategy_lets_a_racer_in_only_where_it_should() {
    use PopulateLock::*;
    use PopulateStrategy::*;
    // (strategy, first hook call: lock and pages done, lock at the
    //  mid-population window, a reader gets in mid-population, a writer does)
    let table = [
        (HoldWrite, (Write, POPULATE_BATCH_PAGES), Write, false, false),
        (DowngradeRetake, (Read, POPULATE_BATCH_PAGES), Read, true, true),
        (DowngradeAtEnd, (Read, POPULATE_BATCH_PAGES), Read, true, false),
        (PopulateUnlocked, (Unlocked, 0), Read, true, false),
        // The first mid-population stop is a batch of a read hold; a
        // waiting writer gets in where that hold ends, YIELD_HOLD_PAGES in.
        (YieldToWaiters, (Unlocked, 0), Read, true, true),
    ];
    let n = 4 * POPULATE_BATCH_PAGES;
    for (s, (first_lock, first_done), window_lock, reader_mid, writer_mid) in table {
        with_watchdog(60, s.name(), move || {
            let (w, r) = race(s, Racer::Reader);
            assert_eq!((r.first.lock, r.first.done()), (first_lock, first_done), "{}: first hook call {:?}", s.name(), r.first);
            assert_eq!(r.window.lock, window_lock, "{}: {:?}", s.name(), r.window);
            assert_eq!(r.mid, reader_mid, "{}: a reader completed mid-population", s.name());
            assert_eq!(r.mlock, Ok(()), "{}", s.name());
            r.verdict.unwrap_or_else(|e| panic!("{}: {e}", s.name()));
            assert_eq!(w.mm.locked_vm(), 2 * n);
            assert_eq!(w.mm.rss(), 2 * n + 1);

            let (w, r) = race(s, Racer::Writer);
            assert_eq!(r.window.lock, window_lock, "{}: {:?}", s.name(), r.window);
            assert_eq!(r.mid, writer_mid, "{}: munmap+mmap completed mid-population", s.name());
            assert_eq!(r.mlock, Ok(()), "{}: (downgrade-retake's re-check finds a vma)", s.name());
            let a = 0x2000_0000;
            if s == DowngradeRetake {
                let e = r.verdict.expect_err("downgrade-retake must leave a corrupted mm");
                assert!(e.contains("locked_vm"), "{e}");
                return;
            }
            r.verdict.unwrap_or_else(|e| panic!("{}: {e}", s.name()));
            // A was replaced by an unlocked vma; B alone is locked.
            assert_eq!(w.mm.locked_vm(), n, "{}", s.name());
            assert_eq!(present(&w.mm, a + n * P, n * P), n as usize, "{}", s.name());
            let maps = w.mm.maps_snapshot();
            let va = maps.iter().find(|m| m.0 == a).expect("A's replacement");
            assert!(!va.2.contains(mm::vma::VmFlags::LOCKED), "{}: {va:x?}", s.name());
            // After population: only the racer's 3 pages. Mid-population
            // (yield-to-waiters): population looked the vma up again and
            // faulted in the rest of the replacement, from where its hold
            // ended.
            let expect_a = if writer_mid { n.saturating_sub(r.window.done().next_multiple_of(YIELD_HOLD_PAGES)) + 3 } else { 3 };
            assert_eq!(present(&w.mm, a, n * P), expect_a as usize, "{}: {:?}", s.name(), r.window);
            check(&w.mm);
        });
    }
}

/// populate-unlocked and yield-to-waiters drop the write lock before
/// population takes the read lock: a vma replaced in that window is looked
/// up afresh and populated as it is now (unlocked, so nothing is counted).
#[test]
fn vma_replaced_before_population_is_looked_up_again() {
    for s in [PopulateStrategy::PopulateUnlocked, PopulateStrategy::YieldToWaiters] {
        let w = world_with(s);
        let (prot, flags) = anon_rw();
        let n = 2 * POPULATE_BATCH_PAGES;
        let a = w.mm.do_mmap(0x2000_0000, n * P, prot, flags | MAP_FIXED, &root()).unwrap();
        let fired = Arc::new(AtomicBool::new(false));
        let fired_h = fired.clone();
        w.mm.set_populate_hook(Some(Arc::new(move |mm: &TestMm, p: PopulateProgress| {
            if p.lock == PopulateLock::Unlocked && p.done() == 0 && !fired_h.swap(true, Ordering::SeqCst) {
                // No lock of the mm is held here: the hook may call it.
                mm.do_munmap(a, n * P).unwrap();
                mm.do_mmap(a, n * P, prot, flags | MAP_FIXED, &root()).unwrap();
            }
        })));
        assert_eq!(w.mm.do_mlock(a, n * P, 0, &root()), Ok(()));
        w.mm.set_populate_hook(None);
        assert!(fired.load(Ordering::SeqCst), "{}", s.name());
        assert_eq!(w.mm.locked_vm(), 0, "{}", s.name());
        assert_eq!(present(&w.mm, a, n * P), n as usize, "{}", s.name());
        assert_eq!(w.meta.nr_mlock(), 0);
        check(&w.mm);
    }
}

/// The 2008 race under mlockall(MCL_CURRENT): in the first window where
/// population holds no lock, the vma is munlocked and made read-only.
/// hold-write and downgrade-at-end have no such window; downgrade-retake's
/// stale flags corrupt the mm; the others stay consistent.
#[test]
fn downgrade_retake_race_mlockall() {
    for s in PopulateStrategy::ALL {
        let w = world_with(s);
        let (prot, flags) = anon_rw();
        let pages = 2 * POPULATE_BATCH_PAGES;
        let a = w.mm.do_mmap(0x2000_0000, pages * P, prot, flags | MAP_FIXED, &root()).unwrap();
        let fired = Arc::new(AtomicBool::new(false));
        let fired_h = fired.clone();
        w.mm.set_populate_hook(Some(Arc::new(move |mm: &TestMm, p: PopulateProgress| {
            if p.lock == PopulateLock::Unlocked && !fired_h.swap(true, Ordering::SeqCst) {
                mm.do_munlock(a, pages * P).unwrap();
                mm.do_mprotect(a, pages * P, PROT_READ).unwrap();
            }
        })));
        w.mm.do_mlockall(mm::mlock::MCL_CURRENT, &root()).unwrap();
        w.mm.set_populate_hook(None);
        let has_window = !matches!(s, PopulateStrategy::HoldWrite | PopulateStrategy::DowngradeAtEnd);
        assert_eq!(fired.load(Ordering::SeqCst), has_window, "{}", s.name());
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

/// Writers get `mmap_lock` while a long mlock populates under
/// yield-to-waiters, and never under hold-write. A writer thread (20
/// one-page mmaps) is let go at the first mid-population hook call, which
/// waits until it holds or waits for the lock, so it is there before
/// population goes on, whatever the scheduler does. At every hook call with
/// pages still to do, the writer acquisitions of `mmap_lock` granted so far
/// (the rwsem's own count, minus those before the writer started) are
/// writers that got in while mlock was populating.
#[test]
fn yield_to_waiters_lets_writers_in() {
    for (s, writers_get_in) in [(PopulateStrategy::YieldToWaiters, true), (PopulateStrategy::HoldWrite, false)] {
        with_watchdog(60, s.name(), move || {
            let w = world_with(s);
            let (prot, flags) = anon_rw();
            let pages = 64 * POPULATE_BATCH_PAGES;
            let writes = 20;
            let a = w.mm.do_mmap(0x2000_0000, pages * P, prot, flags | MAP_FIXED, &root()).unwrap();
            let go = Arc::new(AtomicBool::new(false));
            let base = Arc::new(AtomicU64::new(0));
            let during = Arc::new(AtomicU64::new(0));
            let (go_h, base_h, during_h) = (go.clone(), base.clone(), during.clone());
            w.mm.set_populate_hook(Some(Arc::new(move |mm: &TestMm, p: PopulateProgress| {
                if p.done() == 0 || p.remaining() == 0 {
                    return;
                }
                let lock = &mm.mmap_lock;
                if !go_h.load(Ordering::SeqCst) {
                    base_h.store(lock.stats().write.acquired, Ordering::SeqCst);
                    go_h.store(true, Ordering::SeqCst);
                    while !lock.is_contended() && lock.stats().write.acquired == base_h.load(Ordering::SeqCst) {
                        std::thread::yield_now();
                    }
                }
                let got_in = lock.stats().write.acquired - base_h.load(Ordering::SeqCst);
                during_h.fetch_max(got_in, Ordering::SeqCst);
            })));
            std::thread::scope(|sc| {
                let mm = &w.mm;
                let go = &go;
                sc.spawn(move || {
                    while !go.load(Ordering::SeqCst) {
                        std::thread::yield_now();
                    }
                    for i in 0..writes {
                        mm.do_mmap(0x4000_0000 + i * 2 * P, P, prot, flags | MAP_FIXED, &root()).unwrap();
                    }
                });
                assert_eq!(mm.do_mlock(a, pages * P, 0, &root()), Ok(()));
                // Release the writer even if the hook never did.
                assert!(go.swap(true, Ordering::SeqCst), "{}: no hook call mid-population", s.name());
            });
            w.mm.set_populate_hook(None);
            let during = during.load(Ordering::SeqCst);
            eprintln!("{}: writer acquisitions during population: {during} of {writes}", s.name());
            if writers_get_in {
                assert!(during > 0, "{}: no writer got in during population", s.name());
            } else {
                assert_eq!(during, 0, "{}: a writer got in during population", s.name());
            }
            assert_eq!(w.mm.locked_vm(), pages);
            assert_eq!(w.mm.rss(), pages, "the writer's mappings are not touched");
            assert_eq!(w.mm.total_vm(), pages + writes);
            check(&w.mm);
        });
    }
}
