//! Optimistic spinning of the rwsem on std threads (Linux
//! `rwsem_optimistic_spin`): a contending thread spins instead of sleeping
//! while the owner runs on a CPU, bounded, and never ahead of a queued
//! waiter.
//!
//! The host backend counts a thread as running unless it is parked in the
//! backend or inside `StdBackend::off_cpu`; it counts parks and owner polls,
//! which is how these tests see whether a thread spun or slept. They need a
//! host with more than one CPU. The last two tests are a locktorture-style
//! stress with spinning on, for a fixed number of operations; run with
//! `--nocapture` to see the spin statistics.
#![cfg(not(loom))]

use mm::rwsem::{RwSem, RwSemBackend, RwSemStats, StdBackend, WakePolicy};
use mm::Errno;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

type Sem = Arc<RwSem<StdBackend>>;
type Log = Arc<Mutex<Vec<&'static str>>>;

const TIMEOUT: Duration = Duration::from_secs(10);
/// A spin bound no test reaches: a thread that stops spinning under it
/// stopped for another reason.
const NO_BOUND: Duration = Duration::from_secs(3600);

fn spinning_sem(limit: Duration) -> Sem {
    let backend = StdBackend::with_optimistic_spinning(limit);
    assert!(backend.can_spin(), "optimistic spinning needs a host with more than one CPU");
    Arc::new(RwSem::new(backend))
}

/// Poll (politely) until `cond` holds; fail the test after `TIMEOUT`.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < TIMEOUT, "timed out waiting for: {what}");
        thread::sleep(Duration::from_micros(200));
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Read,
    Write,
    WriteKillable,
}

/// A thread that takes the lock, logs its name, and holds the lock (still
/// running, as far as spinners can tell) until told to release it.
struct Holder {
    name: &'static str,
    entered: Receiver<()>,
    release: Sender<()>,
    handle: JoinHandle<Result<(), Errno>>,
}

impl Holder {
    fn spawn(sem: &Sem, log: &Log, op: Op, name: &'static str) -> Holder {
        let (sem, log) = (sem.clone(), log.clone());
        let (entered_tx, entered) = channel();
        let (release, release_rx) = channel::<()>();
        let handle = thread::spawn(move || {
            match op {
                Op::Read => sem.down_read(),
                Op::Write => sem.down_write(),
                Op::WriteKillable => sem.down_write_killable()?,
            }
            log.lock().unwrap().push(name);
            entered_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            match op {
                Op::Read => sem.up_read(),
                Op::Write | Op::WriteKillable => sem.up_write(),
            }
            Ok(())
        });
        Holder { name, entered, release, handle }
    }

    /// Spawn and wait until it sits in the queue as waiter number `nth`.
    fn queue(sem: &Sem, log: &Log, op: Op, name: &'static str, nth: usize) -> Holder {
        let h = Holder::spawn(sem, log, op, name);
        wait_until(name, || sem.nr_waiters() == nth);
        h
    }

    fn has_entered(&self) -> bool {
        self.entered.try_recv().is_ok()
    }

    /// Wait until it holds the lock, then let it go and join it.
    fn finish(self) -> Result<(), Errno> {
        self.entered.recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("{} never got the lock", self.name));
        self.release.send(()).unwrap();
        self.handle.join().unwrap()
    }
}

fn log_of(log: &Log) -> Vec<&'static str> {
    log.lock().unwrap().clone()
}

/// (1) A writer that finds the lock write-held by a running owner spins on
/// it and takes the lock when the owner lets go: a spin acquisition, no
/// queueing, no sleep.
#[test]
fn writer_spins_on_running_owner_and_never_sleeps() {
    let sem = spinning_sem(NO_BOUND);
    sem.down_write();
    let sem2 = sem.clone();
    let w = thread::spawn(move || {
        sem2.down_write();
        sem2.up_write();
    });
    wait_until("the writer spins on us", || sem.backend().owner_polls() > 0);
    assert_eq!(sem.nr_waiters(), 0, "the spinner queued");
    sem.up_write();
    w.join().unwrap();
    let st = sem.stats();
    assert_eq!((st.write.acquired, st.write.spin_acquired, st.write.spin_failed), (2, 1, 0));
    assert_eq!(st.write.contended, 0, "a spin acquisition is not a queued one");
    assert_eq!(sem.backend().parks(), 0, "the spinner slept");
    assert!(!sem.is_locked());
}

/// (1) Likewise a reader on a lock write-held by a running owner.
#[test]
fn reader_spins_on_running_writer_and_never_sleeps() {
    let sem = spinning_sem(NO_BOUND);
    sem.down_write();
    let sem2 = sem.clone();
    let r = thread::spawn(move || {
        sem2.down_read();
        sem2.up_read();
    });
    wait_until("the reader spins on us", || sem.backend().owner_polls() > 0);
    assert_eq!(sem.nr_waiters(), 0, "the spinner queued");
    sem.up_write();
    r.join().unwrap();
    let st = sem.stats();
    assert_eq!((st.read.acquired, st.read.spin_acquired, st.read.spin_failed, st.read.contended), (1, 1, 0, 0));
    assert_eq!(sem.backend().parks(), 0, "the spinner slept");
}

/// (2) An owner that is not running makes a contender sleep at once: it
/// looks at the owner, does not spin, queues and parks.
#[test]
fn waiter_sleeps_when_owner_is_off_cpu() {
    let sem = spinning_sem(NO_BOUND);
    sem.down_write();
    let w = sem.backend().off_cpu(|| {
        let sem2 = sem.clone();
        let w = thread::spawn(move || {
            sem2.down_write();
            sem2.up_write();
        });
        wait_until("the writer queues", || sem.nr_waiters() == 1);
        w
    });
    assert!(sem.backend().owner_polls() >= 1, "the writer never looked at the owner");
    sem.up_write();
    w.join().unwrap();
    let st = sem.stats();
    assert_eq!((st.write.spin_acquired, st.write.spin_failed, st.write.contended), (0, 1, 1));
    assert!(sem.backend().parks() >= 1, "the waiter never slept");
}

/// (2) A spinner whose owner stops running in the middle of the spin stops
/// spinning and sleeps (the bound is out of reach: only the owner's state
/// can end this spin).
#[test]
fn spinner_sleeps_when_owner_leaves_the_cpu() {
    let sem = spinning_sem(NO_BOUND);
    sem.down_write();
    let sem2 = sem.clone();
    let w = thread::spawn(move || {
        sem2.down_write();
        sem2.up_write();
    });
    wait_until("the writer spins on us", || sem.backend().owner_polls() > 0);
    sem.backend().off_cpu(|| wait_until("the writer gives up and queues", || sem.nr_waiters() == 1));
    sem.up_write();
    w.join().unwrap();
    let st = sem.stats();
    assert_eq!((st.write.spin_acquired, st.write.spin_failed, st.write.contended), (0, 1, 1));
}

/// (3) Writer fairness, read-owned: a writer queues behind our read hold;
/// a reader arriving next must not spin its way in beside us past the
/// queued writer. The writer goes first.
#[test]
fn spinning_reader_does_not_pass_queued_writer() {
    let sem = spinning_sem(NO_BOUND);
    let log = Log::default();
    sem.down_read();
    let w = Holder::queue(&sem, &log, Op::Write, "W", 1);
    let r = Holder::queue(&sem, &log, Op::Read, "R", 2);
    assert_eq!(sem.readers(), 1, "R shares the lock past the queued W");
    assert!(!r.has_entered());
    sem.up_read();
    w.finish().unwrap();
    r.finish().unwrap();
    assert_eq!(log_of(&log), ["W", "R"]);
    let st = sem.stats();
    assert_eq!((st.read.spin_acquired, st.write.spin_acquired), (0, 0));
    assert!(!sem.is_locked() && !sem.is_contended());
}

/// (3) Writer fairness, write-owned: W1 queued while we were off the CPU.
/// Back on it, a writer and a reader that arrive must queue behind W1
/// rather than spin on us (with no spin bound, a spinner would never
/// queue); the queue order is kept.
#[test]
fn spinners_do_not_pass_queued_writer() {
    let sem = spinning_sem(NO_BOUND);
    let log = Log::default();
    sem.down_write();
    let w1 = sem.backend().off_cpu(|| Holder::queue(&sem, &log, Op::Write, "W1", 1));
    let w2 = Holder::queue(&sem, &log, Op::Write, "W2", 2);
    let r = Holder::queue(&sem, &log, Op::Read, "R", 3);
    sem.up_write();
    w1.finish().unwrap();
    w2.finish().unwrap();
    r.finish().unwrap();
    assert_eq!(log_of(&log), ["W1", "W2", "R"]);
    let st = sem.stats();
    assert_eq!((st.write.spin_acquired, st.write.spin_failed), (0, 2));
    assert_eq!((st.read.spin_acquired, st.read.spin_failed), (0, 1));
    assert_eq!(st.write.contended + st.read.contended, 3);
}

/// (4) The spin is bounded: an owner that keeps running with the lock held
/// makes the spinner give up after the bound and sleep in the queue.
#[test]
fn spin_on_running_owner_is_bounded() {
    let limit = Duration::from_millis(50);
    let sem = spinning_sem(limit);
    sem.down_write();
    let sem2 = sem.clone();
    let (started_tx, started) = channel();
    let w = thread::spawn(move || {
        started_tx.send(Instant::now()).unwrap();
        sem2.down_write();
        sem2.up_write();
    });
    let t0 = started.recv().unwrap();
    wait_until("the writer gives up spinning and queues", || sem.nr_waiters() == 1);
    let spun = t0.elapsed();
    assert!(sem.is_write_locked(), "we still hold the lock, running");
    assert!(spun >= limit, "the writer queued after {spun:?}, before the {limit:?} bound: it did not spin");
    assert!(spun < limit + Duration::from_secs(2), "the writer spun for {spun:?}, far past the {limit:?} bound");
    assert!(sem.backend().owner_polls() > 1);
    sem.up_write();
    w.join().unwrap();
    let st = sem.stats();
    assert_eq!((st.write.spin_acquired, st.write.spin_failed, st.write.contended), (0, 1, 1));
}

/// (4) A writer spinning on a read-owned lock stops after the short
/// reader-owned threshold (Linux `rwsem_rspin_threshold`), even with no
/// overall bound, and marks the lock non-spinnable for writers (Linux
/// `RWSEM_NONSPINNABLE`) until a writer gets it.
#[test]
fn spin_on_reader_owned_lock_is_bounded_and_marks_it_nonspinnable() {
    let sem = spinning_sem(NO_BOUND);
    let log = Log::default();
    sem.down_read();
    assert!(!sem.is_nonspinnable());
    let w = Holder::queue(&sem, &log, Op::WriteKillable, "W", 1);
    assert!(sem.is_nonspinnable(), "the timed-out spinner did not mark the read-owned lock");
    assert_eq!((sem.stats().write.spin_failed, sem.stats().write.spin_acquired), (1, 0));
    // The waiter leaves; the period stays non-spinnable: the next writer
    // queues without spinning, while we still hold the lock.
    sem.backend().send_fatal_signal(w.handle.thread());
    assert_eq!(w.handle.join().unwrap(), Err(Errno::EINTR));
    assert!(sem.is_nonspinnable());
    let w2 = Holder::queue(&sem, &log, Op::Write, "W2", 1);
    assert_eq!(sem.stats().write.spin_failed, 2);
    sem.up_read();
    assert!(sem.is_write_locked(), "W2 was granted the lock");
    assert!(!sem.is_nonspinnable(), "a writer's acquisition ends the non-spinnable state");
    w2.finish().unwrap();
    assert_eq!(log_of(&log), ["W2"]);
}

// ----- torture with spinning on --------------------------------------------

const WRITERS: usize = 2;
const READERS: usize = 2;
const WRITER_OPS: u64 = 1500;
const READER_OPS: u64 = 3000;
/// Host stand-in for a time slice: the longest one spin may last.
const SPIN_LIMIT: Duration = Duration::from_millis(1);

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
    writes: AtomicU64,
    reads: AtomicU64,
    downgrades: AtomicU64,
    eintr: AtomicU64,
    signals: AtomicU64,
    done: AtomicBool,
}

impl Shared {
    fn check(&self, ok: bool, what: &str) {
        if !ok {
            self.violations.fetch_add(1, SeqCst);
            eprintln!("VIOLATION: {what}");
        }
    }
}

fn busy(ns: u64) {
    let until = Instant::now() + Duration::from_nanos(ns);
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// Work between two acquisitions, up to 150 us, so that the queue drains now
/// and then and arriving threads find a running owner and nobody queued:
/// the case optimistic spinning is for.
fn think(rng: &mut Rng) {
    busy(rng.below(300_000));
}

/// A short critical section: mostly a busy wait of up to 10 us (the holder
/// runs: spinners spin on it), one in ten a real sleep counted as off the
/// CPU (spinners give up and sleep).
fn hold(sem: &RwSem<StdBackend>, rng: &mut Rng) {
    if rng.below(10) < 9 {
        busy(rng.below(10_000));
    } else {
        let nap = Duration::from_micros(20 + rng.below(80));
        sem.backend().off_cpu(|| thread::sleep(nap));
    }
}

/// `ops` successful write acquisitions; a quarter of them downgrade, half
/// the waits are killable (EINTR retries).
fn writer(sem: &RwSem<StdBackend>, sh: &Shared, seed: u64, ops: u64) {
    let mut rng = Rng(seed);
    let mut mine = 0;
    while mine < ops {
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
        hold(sem, &mut rng);
        sh.check(sh.readers_in.load(SeqCst) == 0, "reader got in during a write hold");
        mine += 1;
        sh.writes.fetch_add(1, SeqCst);
        if rng.below(4) == 0 {
            sh.writers_in.fetch_sub(1, SeqCst);
            let read = guard.downgrade();
            sh.readers_in.fetch_add(1, SeqCst);
            sh.check(sh.writers_in.load(SeqCst) == 0, "writer in after downgrade");
            hold(sem, &mut rng);
            sh.check(sh.writers_in.load(SeqCst) == 0, "writer got in during downgraded hold");
            sh.readers_in.fetch_sub(1, SeqCst);
            sh.downgrades.fetch_add(1, SeqCst);
            drop(read);
        } else {
            sh.writers_in.fetch_sub(1, SeqCst);
            drop(guard);
        }
        think(&mut rng);
    }
}

fn reader(sem: &RwSem<StdBackend>, sh: &Shared, seed: u64, ops: u64) {
    let mut rng = Rng(seed);
    let mut mine = 0;
    while mine < ops {
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
        hold(sem, &mut rng);
        sh.check(sh.writers_in.load(SeqCst) == 0, "writer got in during a read hold");
        sh.readers_in.fetch_sub(1, SeqCst);
        mine += 1;
        sh.reads.fetch_add(1, SeqCst);
        drop(guard);
        think(&mut rng);
    }
}

fn report(policy: WakePolicy, sh: &Shared, elapsed: Duration, st: &RwSemStats, backend: &StdBackend) {
    println!(
        "rwsem spin torture, {policy:?}, {WRITERS} writers x {WRITER_OPS} / {READERS} readers x {READER_OPS}, \
         spin limit {SPIN_LIMIT:?}, {elapsed:.2?}:"
    );
    println!(
        "  writes {} reads {} downgrades {} signals sent {} EINTR {} violations {}",
        sh.writes.load(SeqCst),
        sh.reads.load(SeqCst),
        sh.downgrades.load(SeqCst),
        sh.signals.load(SeqCst),
        sh.eintr.load(SeqCst),
        sh.violations.load(SeqCst)
    );
    print!("{st}");
    println!("  owner polls by spinners {}  parks {}", backend.owner_polls(), backend.parks());
}

/// The two torture runs take turns: spinning needs the CPUs to itself more
/// than the sleeping torture does.
static ONE_TORTURE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn spin_torture(policy: WakePolicy) {
    let _turn = ONE_TORTURE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sem = Arc::new(RwSem::with_wake_policy(StdBackend::with_optimistic_spinning(SPIN_LIMIT), policy));
    assert!(sem.backend().can_spin(), "optimistic spinning needs a host with more than one CPU");
    let sh = Arc::new(Shared::default());
    let (done_tx, done_rx) = channel::<()>();
    let mut threads: Vec<Thread> = Vec::new();
    let start = Instant::now();
    for i in 0..WRITERS + READERS {
        let (sem, sh, done_tx) = (sem.clone(), sh.clone(), done_tx.clone());
        let seed = 0x2545_F491_4F6C_DD1D ^ ((i as u64 + 1) * 0x1000_0001);
        let h = thread::spawn(move || {
            if i < WRITERS {
                writer(&sem, &sh, seed, WRITER_OPS)
            } else {
                reader(&sem, &sh, seed, READER_OPS)
            }
            done_tx.send(()).unwrap();
        });
        threads.push(h.thread().clone());
    }
    // The killer: a fatal signal to a random worker every ~0.5 ms until
    // the workers are done.
    let killer = {
        let (sem, sh) = (sem.clone(), sh.clone());
        thread::spawn(move || {
            let mut rng = Rng(7);
            while !sh.done.load(SeqCst) {
                let t = &threads[rng.below(threads.len() as u64) as usize];
                sem.backend().send_fatal_signal(t);
                sh.signals.fetch_add(1, SeqCst);
                thread::sleep(Duration::from_micros(500));
            }
        })
    };
    for _ in 0..WRITERS + READERS {
        done_rx
            .recv_timeout(Duration::from_secs(120))
            .expect("watchdog: a torture thread is stuck (deadlock or lost wake-up)");
    }
    sh.done.store(true, SeqCst);
    killer.join().unwrap();
    let elapsed = start.elapsed();

    let st = sem.stats();
    report(policy, &sh, elapsed, &st, sem.backend());
    assert_eq!(sh.violations.load(SeqCst), 0, "mutual exclusion violated");
    assert!(!sem.is_locked() && !sem.is_contended(), "rwsem left held or with waiters");
    assert_eq!(st.write.acquired, WRITERS as u64 * WRITER_OPS);
    assert_eq!(st.read.acquired, READERS as u64 * READER_OPS);
    assert_eq!(st.write.acquired, sh.writes.load(SeqCst));
    assert_eq!(st.read.acquired, sh.reads.load(SeqCst));
    assert_eq!(st.downgrades, sh.downgrades.load(SeqCst));
    assert_eq!(st.read.interrupted + st.write.interrupted, sh.eintr.load(SeqCst));
    // Spinning happened, on running owners, and some of it paid off. (How
    // much depends on how loaded the host is: a holder preempted by the
    // host still counts as running, and a waiter queued behind it makes
    // later arrivals queue too.)
    assert!(sem.backend().owner_polls() > 0, "nobody spun on a running owner");
    assert!(st.read.spin_acquired + st.write.spin_acquired > 0, "no acquisition by spinning");
    for (mode, m) in [("read", &st.read), ("write", &st.write)] {
        assert!(m.spin_failed > 0, "no {mode} spin failed");
        assert!(m.spin_acquired + m.contended <= m.acquired, "{mode}: spun and queued for one acquisition");
    }
}

#[test]
fn rwsem_spin_torture_linux_wake_policy() {
    spin_torture(WakePolicy::AllReaders);
}

#[test]
fn rwsem_spin_torture_strict_fifo() {
    spin_torture(WakePolicy::FrontReaders);
}
