//! locktorture-style stress of the rwsem (after Linux
//! `kernel/locking/locktorture.c`, `rwsem_lock`).
//!
//! Writers and readers hammer one rwsem for a bounded time with random short
//! hold times. Each writer checks that it is alone (no reader, no other
//! writer), each reader that no writer is in, through counters kept beside
//! the lock. Some writers downgrade instead of releasing, half the waits are
//! killable, and a "killer" thread sends fatal signals at random, so the
//! EINTR path (leaving the queue, re-running the wake) is stressed too.
//! Violations are counted rather than asserted in the workers, so that a
//! failure cannot leave the lock held and hang the others; a watchdog fails
//! the test if the workers do not finish.
//!
//! Run with `--nocapture` to see the totals.

use mm::rwsem::{RwSem, RwSemStats, StdBackend, WakePolicy};
use mm::Errno;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

const WRITERS: usize = 3;
const READERS: usize = 5;
/// Per wake policy; the two policies run as two tests, in parallel.
const PHASE: Duration = Duration::from_secs(2);

/// A tiny xorshift PRNG: no dependency, reproducible per seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[derive(Default)]
struct Shared {
    readers_in: AtomicUsize,
    writers_in: AtomicUsize,
    violations: AtomicUsize,
    stop: AtomicBool,
    writes: AtomicU64,
    reads: AtomicU64,
    downgrades: AtomicU64,
    eintr: AtomicU64,
    signals: AtomicU64,
}

impl Shared {
    fn check(&self, ok: bool, what: &str) {
        if !ok {
            self.violations.fetch_add(1, SeqCst);
            eprintln!("VIOLATION: {what}");
        }
    }
}

/// A short critical section: mostly a busy wait of up to 20 us, sometimes a
/// real sleep so that the holder is descheduled with the lock held.
fn hold(rng: &mut Rng) {
    if rng.below(10) < 7 {
        let until = Instant::now() + Duration::from_nanos(rng.below(20_000));
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    } else {
        thread::sleep(Duration::from_micros(20 + rng.below(80)));
    }
}

fn writer(sem: &RwSem<StdBackend>, sh: &Shared, seed: u64) -> u64 {
    let mut rng = Rng(seed);
    let mut mine = 0;
    while !sh.stop.load(SeqCst) {
        let guard = if rng.below(2) == 0 {
            match sem.write_killable() {
                Ok(g) => g,
                Err(e) => {
                    sh.check(e == Errno::EINTR, "killable write failed with non-EINTR");
                    sh.eintr.fetch_add(1, SeqCst);
                    sem.backend().clear_fatal_signal();
                    continue;
                }
            }
        } else {
            sem.write()
        };
        sh.check(sh.writers_in.fetch_add(1, SeqCst) == 0, "two writers in");
        sh.check(sh.readers_in.load(SeqCst) == 0, "writer entered with readers in");
        sh.check(sem.is_write_locked() && sem.readers() == 0, "rwsem state while write-held");
        hold(&mut rng);
        sh.check(sh.readers_in.load(SeqCst) == 0, "reader got in during a write hold");
        mine += 1;
        sh.writes.fetch_add(1, SeqCst);
        if rng.below(4) == 0 {
            // Leave the writer count while still exclusive, then downgrade:
            // readers admitted by the downgrade must see no writer.
            sh.writers_in.fetch_sub(1, SeqCst);
            let read = guard.downgrade();
            sh.readers_in.fetch_add(1, SeqCst);
            sh.check(sh.writers_in.load(SeqCst) == 0, "writer in after downgrade");
            hold(&mut rng);
            sh.check(sh.writers_in.load(SeqCst) == 0, "writer got in during downgraded hold");
            sh.readers_in.fetch_sub(1, SeqCst);
            sh.downgrades.fetch_add(1, SeqCst);
            drop(read);
        } else {
            sh.writers_in.fetch_sub(1, SeqCst);
            drop(guard);
        }
        if rng.below(2) == 0 {
            thread::yield_now();
        }
    }
    mine
}

fn reader(sem: &RwSem<StdBackend>, sh: &Shared, seed: u64) -> u64 {
    let mut rng = Rng(seed);
    let mut mine = 0;
    while !sh.stop.load(SeqCst) {
        let guard = if rng.below(2) == 0 {
            match sem.read_killable() {
                Ok(g) => g,
                Err(e) => {
                    sh.check(e == Errno::EINTR, "killable read failed with non-EINTR");
                    sh.eintr.fetch_add(1, SeqCst);
                    sem.backend().clear_fatal_signal();
                    continue;
                }
            }
        } else {
            sem.read()
        };
        sh.readers_in.fetch_add(1, SeqCst);
        sh.check(sh.writers_in.load(SeqCst) == 0, "reader entered with a writer in");
        sh.check(!sem.is_write_locked() && sem.readers() > 0, "rwsem state while read-held");
        hold(&mut rng);
        sh.check(sh.writers_in.load(SeqCst) == 0, "writer got in during a read hold");
        sh.readers_in.fetch_sub(1, SeqCst);
        mine += 1;
        sh.reads.fetch_add(1, SeqCst);
        drop(guard);
        if rng.below(2) == 0 {
            thread::yield_now();
        }
    }
    mine
}

fn fmt_us(ns: u64) -> String {
    format!("{:.1}us", ns as f64 / 1000.0)
}

fn report(policy: WakePolicy, sh: &Shared, writes: &[u64], reads: &[u64], st: &RwSemStats) {
    let mm = |v: &[u64]| (v.iter().sum::<u64>(), v.iter().max().copied(), v.iter().min().copied());
    let (wt, wmax, wmin) = mm(writes);
    let (rt, rmax, rmin) = mm(reads);
    println!("rwsem torture, {policy:?}, {WRITERS} writers / {READERS} readers, {PHASE:?}:");
    println!("  writes: Total {wt} Max/Min {wmax:?}/{wmin:?}   reads: Total {rt} Max/Min {rmax:?}/{rmin:?}");
    println!(
        "  downgrades {}  signals sent {}  EINTR {}  violations {}",
        sh.downgrades.load(SeqCst),
        sh.signals.load(SeqCst),
        sh.eintr.load(SeqCst),
        sh.violations.load(SeqCst)
    );
    for (mode, m) in [("read", &st.read), ("write", &st.write)] {
        println!(
            "  {mode:5}: acquired {} contended {} interrupted {} | wait p50 {} p99 {} max {} | hold p50 {} p99 {} max {}",
            m.acquired,
            m.contended,
            m.interrupted,
            fmt_us(m.wait_ns.p50()),
            fmt_us(m.wait_ns.p99()),
            fmt_us(m.wait_ns.max()),
            fmt_us(m.hold_ns.p50()),
            fmt_us(m.hold_ns.p99()),
            fmt_us(m.hold_ns.max()),
        );
    }
}

fn torture(policy: WakePolicy) {
    let sem = Arc::new(RwSem::with_wake_policy(StdBackend::new(), policy));
    let sh = Arc::new(Shared::default());
    let (done_tx, done_rx) = channel::<(bool, u64)>();
    let mut threads: Vec<Thread> = Vec::new();
    for i in 0..WRITERS + READERS {
        let (sem, sh, done_tx) = (sem.clone(), sh.clone(), done_tx.clone());
        let is_writer = i < WRITERS;
        let seed = 0x9E37_79B9_7F4A_7C15 ^ ((i as u64 + 1) * 0x1000_0001);
        let h = thread::spawn(move || {
            let n = if is_writer { writer(&sem, &sh, seed) } else { reader(&sem, &sh, seed) };
            done_tx.send((is_writer, n)).unwrap();
        });
        threads.push(h.thread().clone());
    }
    // The killer: a fatal signal to a random worker every ~0.5 ms.
    let killer = {
        let (sem, sh) = (sem.clone(), sh.clone());
        thread::spawn(move || {
            let mut rng = Rng(42);
            while !sh.stop.load(SeqCst) {
                let t = &threads[rng.below(threads.len() as u64) as usize];
                sem.backend().send_fatal_signal(t);
                sh.signals.fetch_add(1, SeqCst);
                thread::sleep(Duration::from_micros(500));
            }
        })
    };

    thread::sleep(PHASE);
    sh.stop.store(true, SeqCst);
    let (mut writes, mut reads) = (Vec::new(), Vec::new());
    for _ in 0..WRITERS + READERS {
        let (is_writer, n) = done_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("watchdog: a torture thread is stuck (deadlock or lost wake-up)");
        if is_writer {
            writes.push(n)
        } else {
            reads.push(n)
        }
    }
    killer.join().unwrap();

    let st = sem.stats();
    report(policy, &sh, &writes, &reads, &st);
    assert_eq!(sh.violations.load(SeqCst), 0, "mutual exclusion violated");
    assert!(!sem.is_locked() && !sem.is_contended(), "rwsem left held or with waiters");
    assert!(writes.iter().all(|&n| n > 0), "a writer starved: {writes:?}");
    assert!(reads.iter().all(|&n| n > 0), "a reader starved: {reads:?}");
    // The rwsem's own statistics agree with what the workers counted.
    assert_eq!(st.write.acquired, sh.writes.load(SeqCst));
    assert_eq!(st.read.acquired, sh.reads.load(SeqCst));
    assert_eq!(st.downgrades, sh.downgrades.load(SeqCst));
    assert_eq!(st.read.interrupted + st.write.interrupted, sh.eintr.load(SeqCst));
    assert_eq!(st.write.hold_ns.count, st.write.acquired);
}

#[test]
fn rwsem_torture_linux_wake_policy() {
    torture(WakePolicy::AllReaders);
}

#[test]
fn rwsem_torture_strict_fifo() {
    torture(WakePolicy::FrontReaders);
}
