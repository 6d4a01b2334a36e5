//! Deterministic rwsem cases on std threads.
//!
//! Nothing here sleeps for a guessed time: each step waits until the rwsem
//! itself reports the state the next step needs (a waiter count, a reader
//! count), and grant-before-wake makes those counts exact the moment a
//! release returns.

use mm::rwsem::{RwSem, StdBackend, WakePolicy};
use mm::Errno;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

type Sem = Arc<RwSem<StdBackend>>;
type Log = Arc<Mutex<Vec<&'static str>>>;

const TIMEOUT: Duration = Duration::from_secs(10);

fn new_sem(policy: WakePolicy) -> Sem {
    Arc::new(RwSem::with_wake_policy(StdBackend::new(), policy))
}

/// Spin (politely) until `cond` holds; fail the test after `TIMEOUT`.
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
    ReadKillable,
    WriteKillable,
}

/// A thread that takes the lock, logs its name, reports that it is in, and
/// holds the lock until told to release it.
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
            let res = match op {
                Op::Read => {
                    let _: () = sem.down_read();
                    Ok(())
                }
                Op::Write => {
                    let _: () = sem.down_write();
                    Ok(())
                }
                Op::ReadKillable => sem.down_read_killable(),
                Op::WriteKillable => sem.down_write_killable(),
            };
            res?;
            log.lock().unwrap().push(name);
            entered_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            match op {
                Op::Read | Op::ReadKillable => sem.up_read(),
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

    fn thread(&self) -> Thread {
        self.handle.thread().clone()
    }

    fn wait_entered(&self) {
        self.entered.recv_timeout(TIMEOUT).unwrap_or_else(|_| panic!("{} never got the lock", self.name));
    }

    fn has_entered(&self) -> bool {
        self.entered.try_recv().is_ok()
    }

    /// Wait until it holds the lock, then let it go and join it.
    fn finish(self) -> Result<(), Errno> {
        self.wait_entered();
        self.release.send(()).unwrap();
        self.handle.join().unwrap()
    }
}

fn log_of(log: &Log) -> Vec<&'static str> {
    log.lock().unwrap().clone()
}

/// Reference case: R1 holds read, W blocks in down_write; then
/// down_read_trylock fails and a second down_read blocks until W is done.
#[test]
fn queued_writer_blocks_new_readers() {
    let sem = new_sem(WakePolicy::AllReaders);
    let log = Log::default();
    sem.down_read(); // R1
    let w = Holder::queue(&sem, &log, Op::Write, "W", 1);
    assert!(sem.is_contended());
    assert!(!sem.down_read_trylock(), "a queued writer must make read trylock fail");
    assert!(!sem.down_write_trylock());
    let r2 = Holder::queue(&sem, &log, Op::Read, "R2", 2);
    assert_eq!(sem.readers(), 1, "R2 must not share with R1 past the queued W");

    sem.up_read(); // R1 out: W is granted before it even runs
    assert!(sem.is_write_locked());
    assert_eq!(sem.nr_waiters(), 1);
    w.wait_entered();
    assert!(!r2.has_entered(), "R2 ran while W held the lock");
    w.release.send(()).unwrap();
    w.handle.join().unwrap().unwrap();
    r2.finish().unwrap();
    assert_eq!(log_of(&log), ["W", "R2"]);
    assert!(!sem.is_locked() && !sem.is_contended());
}

/// Writer holds; queue = [R1, R2, W, R3]. Strict FIFO: downgrade admits
/// R1 and R2, not W, and not R3 behind W.
#[test]
fn downgrade_admits_front_readers_fifo() {
    let sem = new_sem(WakePolicy::FrontReaders);
    let log = Log::default();
    let guard = sem.write();
    let r1 = Holder::queue(&sem, &log, Op::Read, "R1", 1);
    let r2 = Holder::queue(&sem, &log, Op::Read, "R2", 2);
    let w = Holder::queue(&sem, &log, Op::Write, "W", 3);
    let r3 = Holder::queue(&sem, &log, Op::Read, "R3", 4);

    let read = guard.downgrade();
    assert!(!sem.is_write_locked());
    assert_eq!(sem.readers(), 3, "downgraded writer + R1 + R2");
    assert_eq!(sem.nr_waiters(), 2, "W and R3 still queued");
    r1.wait_entered();
    r2.wait_entered();
    assert!(!w.has_entered() && !r3.has_entered());

    drop(read);
    r1.release.send(()).unwrap();
    r2.release.send(()).unwrap();
    w.finish().unwrap();
    r3.finish().unwrap();
    r1.handle.join().unwrap().unwrap();
    r2.handle.join().unwrap().unwrap();
    let log = log_of(&log);
    assert_eq!(&log[2..], ["W", "R3"]);
}

/// Same queue, Linux policy: every queued reader is admitted (R3 passes the
/// queued W), W stays queued and gets the lock when all readers are gone.
#[test]
fn downgrade_admits_all_readers_linux() {
    let sem = new_sem(WakePolicy::AllReaders);
    let log = Log::default();
    let guard = sem.write();
    let r1 = Holder::queue(&sem, &log, Op::Read, "R1", 1);
    let r2 = Holder::queue(&sem, &log, Op::Read, "R2", 2);
    let w = Holder::queue(&sem, &log, Op::Write, "W", 3);
    let r3 = Holder::queue(&sem, &log, Op::Read, "R3", 4);

    let read = guard.downgrade();
    assert_eq!(sem.readers(), 4, "downgraded writer + R1 + R2 + R3");
    assert_eq!(sem.nr_waiters(), 1, "only W still queued");
    for r in [&r1, &r2, &r3] {
        r.wait_entered();
    }
    assert!(!w.has_entered());
    // New readers still queue behind W.
    assert!(sem.try_read().is_none());

    drop(read);
    for r in [&r1, &r2, &r3] {
        r.release.send(()).unwrap();
    }
    w.finish().unwrap();
    for r in [r1, r2, r3] {
        r.handle.join().unwrap().unwrap();
    }
    assert_eq!(log_of(&log).last(), Some(&"W"));
    assert_eq!(sem.stats().downgrades, 1);
}

/// A downgrade with a writer at the head admits nobody, not even readers
/// queued behind that writer.
#[test]
fn downgrade_with_writer_at_head_admits_nobody() {
    for policy in [WakePolicy::AllReaders, WakePolicy::FrontReaders] {
        let sem = new_sem(policy);
        let log = Log::default();
        let guard = sem.write();
        let w = Holder::queue(&sem, &log, Op::Write, "W", 1);
        let r = Holder::queue(&sem, &log, Op::Read, "R", 2);
        let read = guard.downgrade();
        assert_eq!((sem.readers(), sem.nr_waiters()), (1, 2));
        drop(read);
        w.finish().unwrap();
        r.finish().unwrap();
        assert_eq!(log_of(&log), ["W", "R"]);
    }
}

/// up_write with queue [R1, W, R2]: the Linux policy wakes both readers,
/// strict FIFO only R1; W follows the readers in both.
#[test]
fn writer_release_wakes_readers_per_policy() {
    for (policy, admitted) in [(WakePolicy::AllReaders, 2), (WakePolicy::FrontReaders, 1)] {
        let sem = new_sem(policy);
        let log = Log::default();
        sem.down_write();
        let r1 = Holder::queue(&sem, &log, Op::Read, "R1", 1);
        let w = Holder::queue(&sem, &log, Op::Write, "W", 2);
        let r2 = Holder::queue(&sem, &log, Op::Read, "R2", 3);
        sem.up_write();
        assert_eq!(sem.readers(), admitted, "{policy:?}");
        assert_eq!(sem.nr_waiters(), 3 - admitted, "{policy:?}");
        r1.finish().unwrap();
        if admitted == 2 {
            r2.finish().unwrap();
            w.finish().unwrap();
            // R1 and R2 were admitted together: either may log first.
            let mut log = log_of(&log);
            log[..2].sort();
            assert_eq!(log, ["R1", "R2", "W"], "{policy:?}");
        } else {
            w.finish().unwrap();
            r2.finish().unwrap();
            assert_eq!(log_of(&log), ["R1", "W", "R2"], "{policy:?}");
        }
    }
}

/// Writers get the lock one at a time, in the order they queued.
#[test]
fn writers_are_fifo() {
    let sem = new_sem(WakePolicy::AllReaders);
    let log = Log::default();
    sem.down_write();
    let names = ["W1", "W2", "W3", "W4", "W5"];
    let ws: Vec<Holder> = names.iter().enumerate().map(|(i, n)| Holder::queue(&sem, &log, Op::Write, n, i + 1)).collect();
    sem.up_write();
    for (i, w) in ws.into_iter().enumerate() {
        w.wait_entered();
        assert!(sem.is_write_locked());
        assert_eq!(sem.nr_waiters(), names.len() - i - 1);
        w.release.send(()).unwrap();
        w.handle.join().unwrap().unwrap();
    }
    assert_eq!(log_of(&log), names);
    let st = sem.stats();
    assert_eq!(st.write.acquired, 6);
    assert_eq!(st.write.contended, 5);
    assert_eq!(st.write.wait_ns.count, 5);
}

/// A killed writer at the head of the queue leaves it cleanly, and the
/// reader that was stuck behind it joins the readers holding the lock.
#[test]
fn killed_writer_at_head_lets_readers_behind_in() {
    let sem = new_sem(WakePolicy::AllReaders);
    let log = Log::default();
    sem.down_read();
    let w = Holder::queue(&sem, &log, Op::WriteKillable, "W", 1);
    let r = Holder::queue(&sem, &log, Op::Read, "R", 2);
    assert_eq!(sem.readers(), 1);

    sem.backend().send_fatal_signal(&w.thread());
    assert_eq!(w.handle.join().unwrap(), Err(Errno::EINTR));
    // R was re-evaluated when W left: it shares the lock with us now.
    r.wait_entered();
    assert_eq!(sem.readers(), 2);
    assert!(!sem.is_contended());
    r.release.send(()).unwrap();
    r.handle.join().unwrap().unwrap();
    sem.up_read();

    assert!(!sem.is_locked());
    assert!(sem.down_write_trylock(), "lock consistent after EINTR");
    sem.up_write();
    let st = sem.stats();
    assert_eq!(st.write.interrupted, 1);
    assert_eq!(log_of(&log), ["R"]);
}

/// A killed writer at the head while a writer holds the lock: the reader
/// behind it moves to the head but must keep waiting for the holder.
#[test]
fn killed_writer_at_head_while_write_held() {
    let sem = new_sem(WakePolicy::AllReaders);
    let log = Log::default();
    sem.down_write();
    let wk = Holder::queue(&sem, &log, Op::WriteKillable, "Wk", 1);
    let r = Holder::queue(&sem, &log, Op::Read, "R", 2);
    sem.backend().send_fatal_signal(&wk.thread());
    assert_eq!(wk.handle.join().unwrap(), Err(Errno::EINTR));
    assert!(sem.is_write_locked());
    assert_eq!((sem.readers(), sem.nr_waiters()), (0, 1));
    assert!(!r.has_entered());
    sem.up_write();
    r.finish().unwrap();
    assert!(!sem.is_locked() && !sem.is_contended());
}

/// A killed reader in the middle of the queue leaves it; the others are
/// served in order.
#[test]
fn killed_reader_in_the_middle() {
    let sem = new_sem(WakePolicy::FrontReaders);
    let log = Log::default();
    sem.down_write();
    let w1 = Holder::queue(&sem, &log, Op::Write, "W1", 1);
    let rk = Holder::queue(&sem, &log, Op::ReadKillable, "Rk", 2);
    let w2 = Holder::queue(&sem, &log, Op::Write, "W2", 3);
    sem.backend().send_fatal_signal(&rk.thread());
    assert_eq!(rk.handle.join().unwrap(), Err(Errno::EINTR));
    assert_eq!(sem.nr_waiters(), 2);
    assert!(sem.is_write_locked());
    sem.up_write();
    w1.finish().unwrap();
    w2.finish().unwrap();
    assert_eq!(log_of(&log), ["W1", "W2"]);
    assert_eq!(sem.stats().read.interrupted, 1);
    assert!(!sem.is_locked() && !sem.is_contended());
}

/// A killed writer at the head while a writer holds: the next writer moves
/// up and gets the lock on release; a pending signal makes a contended
/// killable wait fail at once, while an uncontended lock is still taken.
#[test]
fn killable_with_signal_already_pending() {
    let sem = new_sem(WakePolicy::AllReaders);
    let log = Log::default();
    sem.down_write();
    let wk = Holder::queue(&sem, &log, Op::WriteKillable, "Wk", 1);
    let w = Holder::queue(&sem, &log, Op::Write, "W", 2);
    sem.backend().send_fatal_signal(&wk.thread());
    assert_eq!(wk.handle.join().unwrap(), Err(Errno::EINTR));
    sem.up_write();
    w.finish().unwrap();
    assert_eq!(log_of(&log), ["W"]);

    // Signal pending on this thread.
    sem.backend().send_fatal_signal(&thread::current());
    assert_eq!(sem.down_write_killable(), Ok(()), "uncontended: taken like Linux");
    let sem2 = sem.clone();
    let other = thread::spawn(move || {
        let got = sem2.read_killable().map(|_| ());
        got
    });
    // The other thread has no signal: it queues and waits.
    wait_until("reader queued", || sem.nr_waiters() == 1);
    sem.up_write();
    assert_eq!(other.join().unwrap(), Ok(()));
    sem.down_read();
    let sem3 = sem.clone();
    let writer = thread::spawn(move || sem3.down_write());
    wait_until("writer queued", || sem.nr_waiters() == 1);
    assert_eq!(sem.down_read_killable(), Err(Errno::EINTR), "contended + pending signal");
    assert_eq!(sem.write_killable().err(), Some(Errno::EINTR));
    sem.backend().clear_fatal_signal();
    sem.up_read();
    writer.join().unwrap();
    sem.up_write();
    assert!(!sem.is_locked() && !sem.is_contended());
}

/// The counters count what they say.
#[test]
fn stats_count_acquisitions_and_waits() {
    let sem = new_sem(WakePolicy::AllReaders);
    let log = Log::default();
    // 3 uncontended reads, 1 uncontended write, 1 failed trylock of each.
    for _ in 0..3 {
        drop(sem.read());
    }
    let w = sem.write();
    assert!(sem.try_read().is_none());
    assert!(sem.try_write().is_none());
    // 2 contended reads while the writer holds.
    let r1 = Holder::queue(&sem, &log, Op::Read, "R1", 1);
    let r2 = Holder::queue(&sem, &log, Op::Read, "R2", 2);
    thread::sleep(Duration::from_millis(2));
    drop(w);
    // 1 contended write behind the readers.
    let w2 = Holder::queue(&sem, &log, Op::Write, "W2", 1);
    r1.finish().unwrap();
    r2.finish().unwrap();
    w2.finish().unwrap();

    let st = sem.stats();
    assert_eq!(st.read.acquired, 5);
    assert_eq!(st.read.contended, 2);
    assert_eq!(st.read.trylock_failed, 1);
    assert_eq!(st.read.wait_ns.count, 2);
    assert!(st.read.wait_ns.max() >= 2_000_000, "readers waited >= 2 ms");
    // The median is reported as its bucket's upper bound, which is at
    // least the (>= 2 ms) waits recorded in it.
    assert!(st.read.wait_ns.p50() >= 2_000_000, "p50 at least 2 ms");
    assert_eq!(st.write.acquired, 2);
    assert_eq!(st.write.contended, 1);
    assert_eq!(st.write.trylock_failed, 1);
    assert_eq!(st.write.hold_ns.count, 2);
    assert!(st.write.hold_ns.max() >= 2_000_000, "first write held >= 2 ms");
    // Read-owned periods: 3 lone reads, then R1+R2 together.
    assert_eq!(st.read.hold_ns.count, 4);
    assert_eq!(st.downgrades, 0);
    assert_eq!((st.read.interrupted, st.write.interrupted), (0, 0));

    sem.reset_stats();
    assert_eq!(sem.stats(), Default::default());
}

/// `wait_lock` is held with interrupts disabled (every lock and unlock
/// disables them at least once), and they come back afterwards.
#[test]
fn wait_lock_is_held_with_interrupts_disabled() {
    let backend = StdBackend::new();
    let sem = RwSem::new(backend.clone());
    let before = backend.irq_saves();
    sem.down_write();
    sem.up_write();
    sem.down_write();
    sem.downgrade_write();
    sem.up_read();
    assert!(backend.irq_saves() - before >= 5, "only {} irq saves", backend.irq_saves() - before);
    assert!(!StdBackend::irqs_disabled(), "interrupts left disabled");
}

/// A caller that already has interrupts disabled keeps them disabled: the
/// unlock restores what the lock found, not "enabled".
#[test]
fn wait_lock_restores_interrupts_as_found() {
    let backend = StdBackend::new();
    let sem = RwSem::new(backend.clone());
    StdBackend::with_irqs_disabled(|| {
        assert!(sem.down_read_trylock());
        assert!(StdBackend::irqs_disabled(), "down_read_trylock enabled interrupts");
        sem.up_read();
        assert!(StdBackend::irqs_disabled(), "up_read enabled interrupts");
    });
    assert!(backend.irq_saves() >= 2);
}
