//! In-kernel lock torture for the rwsem that is the mmap lock (in the
//! spirit of Linux's kernel/locking/locktorture.c), on every CPU.
//!
//! Kernel threads pinned round-robin to the online CPUs hammer one rwsem
//! for a fixed number of operations each: readers, writers, downgraders
//! (write, downgrade, read, release) and killable waiters that a killer
//! thread SIGKILLs while they wait. Inside every critical section each
//! thread checks the exclusion it was promised against shared counters:
//! no writer beside a reader, no second writer, a downgraded writer
//! alongside readers only. Every broken promise is counted; the test
//! wants 0, every operation finished, and the lock free and unqueued at
//! the end.
//!
//! Locking: the rwsem under test; the counters are atomics.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::rwsem_backend::SchedBackend;
use super::thread::{alloc_tid, Thread};
use super::{spawn, ThreadState};
use crate::arch::percpu;
use crate::ktest::ktest;

type KRwSem = mm::rwsem::RwSem<SchedBackend>;

static SEM: spin::Lazy<KRwSem> = spin::Lazy::new(|| KRwSem::new(SchedBackend));
/// Readers inside (including a downgraded writer).
static READERS: AtomicU32 = AtomicU32::new(0);
/// Writers inside (0 or 1).
static WRITERS: AtomicU32 = AtomicU32::new(0);
static VIOLATIONS: AtomicU64 = AtomicU64::new(0);
static OPS: AtomicU64 = AtomicU64::new(0);
static KILLED: AtomicU64 = AtomicU64::new(0);
static CPUS_SEEN: AtomicU64 = AtomicU64::new(0);
static STOP_KILLER: AtomicBool = AtomicBool::new(false);

const READER_OPS: u64 = 1500;
const WRITER_OPS: u64 = 600;
const DOWNGRADER_OPS: u64 = 600;

fn violation(what: &str) {
    if VIOLATIONS.fetch_add(1, Ordering::SeqCst) < 4 {
        log::error!("locktorture: {what}");
    }
}

/// Stay inside a critical section for a moment (and let other CPUs
/// run into the lock meanwhile).
fn hold(spins: u32) {
    for _ in 0..spins {
        core::hint::spin_loop();
    }
}

fn note_cpu() {
    CPUS_SEEN.fetch_or(1 << super::this_cpu(), Ordering::SeqCst);
}

fn read_section() {
    READERS.fetch_add(1, Ordering::SeqCst);
    if WRITERS.load(Ordering::SeqCst) != 0 {
        violation("a writer inside while a reader holds the lock");
    }
    hold(200);
    READERS.fetch_sub(1, Ordering::SeqCst);
}

fn write_section() {
    if WRITERS.fetch_add(1, Ordering::SeqCst) != 0 {
        violation("two writers inside");
    }
    if READERS.load(Ordering::SeqCst) != 0 {
        violation("a reader inside while a writer holds the lock");
    }
    hold(200);
    WRITERS.fetch_sub(1, Ordering::SeqCst);
}

fn reader() -> ! {
    for i in 0..READER_OPS {
        note_cpu();
        SEM.down_read();
        read_section();
        SEM.up_read();
        OPS.fetch_add(1, Ordering::SeqCst);
        if i % 64 == 0 {
            super::yield_now();
        }
    }
    super::exit_current();
}

fn writer() -> ! {
    for _ in 0..WRITER_OPS {
        note_cpu();
        SEM.down_write();
        write_section();
        SEM.up_write();
        OPS.fetch_add(1, Ordering::SeqCst);
    }
    super::exit_current();
}

fn downgrader() -> ! {
    for _ in 0..DOWNGRADER_OPS {
        note_cpu();
        SEM.down_write();
        write_section();
        // Become a reader without letting a writer in between.
        READERS.fetch_add(1, Ordering::SeqCst);
        SEM.downgrade_write();
        if WRITERS.load(Ordering::SeqCst) != 0 {
            violation("a writer got in at a downgrade");
        }
        hold(200);
        READERS.fetch_sub(1, Ordering::SeqCst);
        SEM.up_read();
        OPS.fetch_add(1, Ordering::SeqCst);
    }
    super::exit_current();
}

/// Takes the lock killably, for writing and reading in turn, until it is
/// killed; a killed wait returns EINTR and holds nothing.
fn killable() -> ! {
    let me = super::current();
    let mut n = 0u64;
    loop {
        note_cpu();
        let r = if n % 2 == 0 { SEM.down_write_killable() } else { SEM.down_read_killable() };
        match r {
            Ok(()) => {
                if n % 2 == 0 {
                    write_section();
                    SEM.up_write();
                } else {
                    read_section();
                    SEM.up_read();
                }
            }
            Err(e) => {
                if e != mm::Errno::EINTR {
                    violation("a killable wait failed with something other than EINTR");
                }
                KILLED.fetch_add(1, Ordering::SeqCst);
                super::exit_current();
            }
        }
        if me.fatal_signal_pending() {
            KILLED.fetch_add(1, Ordering::SeqCst);
            super::exit_current();
        }
        n += 1;
    }
}

fn start(name: &str, cpu: usize, body: fn() -> !) -> Arc<Thread> {
    let t = Thread::new(alloc_tid(), String::from(name));
    t.affinity.store(1 << cpu, Ordering::SeqCst);
    t.cpu.store(cpu as u32, Ordering::SeqCst);
    spawn(t, body)
}

/// Readers, writers, downgraders and SIGKILLed killable waiters on every
/// online CPU, a fixed number of operations each: no broken exclusion,
/// every operation done, every killed waiter gone, the lock free after.
#[ktest]
pub fn rwsem_torture_on_every_cpu() {
    for c in [&READERS, &WRITERS] {
        c.store(0, Ordering::SeqCst);
    }
    for c in [&VIOLATIONS, &OPS, &KILLED, &CPUS_SEEN] {
        c.store(0, Ordering::SeqCst);
    }
    STOP_KILLER.store(false, Ordering::SeqCst);
    let ncpu = percpu::nr_online();
    let mut workers = Vec::new();
    let mut expected = 0;
    for i in 0..4 {
        workers.push(start("torture-reader", i % ncpu, reader));
        expected += READER_OPS;
    }
    for i in 0..2 {
        workers.push(start("torture-writer", (i + 1) % ncpu, writer));
        workers.push(start("torture-downgrade", (i + 2) % ncpu, downgrader));
        expected += WRITER_OPS + DOWNGRADER_OPS;
    }
    let victims: Vec<Arc<Thread>> = (0..3).map(|i| start("torture-killable", (i + 3) % ncpu, killable)).collect();
    let start_ns = crate::arch::time::now_ns();
    // Kill the killable waiters one by one while the others run, each
    // once it has waited (so the kill lands in, or next to, a wait).
    for v in &victims {
        let t0 = crate::arch::time::now_ns();
        while OPS.load(Ordering::SeqCst) < expected / 8 && crate::arch::time::now_ns() - t0 < 2_000_000_000 {
            super::sleep_until(crate::arch::time::now_ns() + 2_000_000);
        }
        v.set_fatal_signal();
        super::wake(v);
    }
    for t in workers.iter().chain(&victims) {
        while t.state() != ThreadState::Dead {
            assert!(
                crate::arch::time::now_ns() - start_ns < 120_000_000_000,
                "torture stuck: {} of {expected} operations, {} killed, lock {}",
                OPS.load(Ordering::SeqCst),
                KILLED.load(Ordering::SeqCst),
                if SEM.is_write_locked() {
                    "write-held"
                } else if SEM.is_locked() {
                    "read-held"
                } else {
                    "free"
                }
            );
            super::sleep_until(crate::arch::time::now_ns() + 5_000_000);
        }
    }
    let ms = (crate::arch::time::now_ns() - start_ns) / 1_000_000;
    let st = SEM.stats();
    log::info!(
        "locktorture: {} operations on {ncpu} CPUs (seen on mask {:#x}) in {ms} ms, {} killed, {} violations; write waits {}, read waits {}",
        OPS.load(Ordering::SeqCst),
        CPUS_SEEN.load(Ordering::SeqCst),
        KILLED.load(Ordering::SeqCst),
        VIOLATIONS.load(Ordering::SeqCst),
        st.write.contended,
        st.read.contended
    );
    assert_eq!(VIOLATIONS.load(Ordering::SeqCst), 0, "exclusion broken");
    assert_eq!(OPS.load(Ordering::SeqCst), expected, "operations lost");
    assert_eq!(KILLED.load(Ordering::SeqCst), victims.len() as u64, "a killed waiter did not end");
    assert!(!SEM.is_locked(), "lock still held after every thread ended");
    assert_eq!(SEM.nr_waiters(), 0, "waiters still queued");
    let all_cpus = if ncpu == 64 { u64::MAX } else { (1u64 << ncpu) - 1 };
    assert_eq!(CPUS_SEEN.load(Ordering::SeqCst), all_cpus, "not every CPU ran a torture thread");
}
