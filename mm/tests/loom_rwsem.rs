//! Loom models of the rwsem: every interleaving (up to a preemption bound)
//! of its `wait_lock` critical sections, parks and wake-ups, and, with a
//! spinning backend, of optimistic spinners polling the owner word.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p mm --release --test loom_rwsem
//! ```
//!
//! Loom reports a lost wake-up as a deadlock (every thread parked), so each
//! model also proves that nobody sleeps forever. The preemption bound
//! defaults to 3 when `LOOM_MAX_PREEMPTIONS` is not set.
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::Arc;
use loom::thread;
use mm::rwsem::{LoomBackend, RwSem, WakePolicy};
use mm::Errno;

type Sem = Arc<RwSem<LoomBackend>>;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.max_branches = 100_000;
    builder.check(f);
}

/// Who is inside the critical section, kept beside the lock.
#[derive(Default)]
struct Inside {
    readers: AtomicUsize,
    writers: AtomicUsize,
}

impl Inside {
    fn enter_write(&self) {
        assert_eq!(self.writers.fetch_add(1, SeqCst), 0, "two writers");
        assert_eq!(self.readers.load(SeqCst), 0, "writer with readers");
    }
    fn leave_write(&self) {
        self.writers.fetch_sub(1, SeqCst);
    }
    fn enter_read(&self) {
        self.readers.fetch_add(1, SeqCst);
        assert_eq!(self.writers.load(SeqCst), 0, "reader with a writer");
    }
    fn leave_read(&self) {
        self.readers.fetch_sub(1, SeqCst);
    }
}

fn wait_for_waiters(sem: &Sem, n: usize) {
    while sem.nr_waiters() < n {
        thread::yield_now();
    }
}

fn new_sem(policy: WakePolicy) -> Sem {
    Arc::new(RwSem::with_wake_policy(LoomBackend::new(), policy))
}

/// (c) Mutual exclusion: a writer and two readers (one of them killable,
/// never signalled) in every interleaving; the lock ends free.
#[test]
fn loom_mutual_exclusion() {
    model(|| {
        let sem = new_sem(WakePolicy::AllReaders);
        let inside = Arc::new(Inside::default());
        let w = {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                let g = sem.write();
                inside.enter_write();
                inside.leave_write();
                drop(g);
            })
        };
        let r = {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                let g = sem.read_killable().unwrap();
                inside.enter_read();
                inside.leave_read();
                drop(g);
            })
        };
        let g = sem.read();
        inside.enter_read();
        inside.leave_read();
        drop(g);
        w.join().unwrap();
        r.join().unwrap();
        assert!(!sem.is_locked());
        assert!(!sem.is_contended());
    });
}

/// (a) downgrade_write racing with a writer that is queueing (or not yet)
/// and a reader: the writer never overlaps the downgraded reader or the
/// admitted reader, and everyone finishes.
#[test]
fn loom_downgrade_races_queued_writer() {
    for policy in [WakePolicy::AllReaders, WakePolicy::FrontReaders] {
        model(move || {
            let sem = new_sem(policy);
            let inside = Arc::new(Inside::default());
            sem.down_write();
            inside.enter_write();
            let w = {
                let (sem, inside) = (sem.clone(), inside.clone());
                thread::spawn(move || {
                    sem.down_write();
                    inside.enter_write();
                    inside.leave_write();
                    sem.up_write();
                })
            };
            let r = {
                let (sem, inside) = (sem.clone(), inside.clone());
                thread::spawn(move || {
                    sem.down_read();
                    inside.enter_read();
                    inside.leave_read();
                    sem.up_read();
                })
            };
            inside.leave_write();
            sem.downgrade_write();
            inside.enter_read();
            assert!(!sem.is_write_locked(), "downgrade let a writer in");
            inside.leave_read();
            sem.up_read();
            w.join().unwrap();
            r.join().unwrap();
            assert!(!sem.is_locked() && !sem.is_contended());
        });
    }
}

/// (b) Wake-up order: a writer holds, a reader then a writer queue; on
/// up_write the reader is granted first and the writer only after it, under
/// both policies.
#[test]
fn loom_wakeup_order_reader_then_writer() {
    for policy in [WakePolicy::AllReaders, WakePolicy::FrontReaders] {
        model(move || {
            let sem = new_sem(policy);
            let order = Arc::new(AtomicUsize::new(0));
            sem.down_write();
            let r = {
                let (sem, order) = (sem.clone(), order.clone());
                thread::spawn(move || {
                    sem.down_read();
                    let my_turn = order.fetch_add(1, SeqCst);
                    sem.up_read();
                    my_turn
                })
            };
            wait_for_waiters(&sem, 1);
            let w = {
                let (sem, order) = (sem.clone(), order.clone());
                thread::spawn(move || {
                    sem.down_write();
                    let my_turn = order.fetch_add(1, SeqCst);
                    sem.up_write();
                    my_turn
                })
            };
            wait_for_waiters(&sem, 2);
            sem.up_write();
            assert_eq!(r.join().unwrap(), 0, "queued reader must go first");
            assert_eq!(w.join().unwrap(), 1, "queued writer goes after it");
            assert!(!sem.is_locked() && !sem.is_contended());
        });
    }
}

/// Killable: a writer queued behind our read hold is killed; the reader
/// queued behind it must be let in *while we still hold the lock* (the
/// cancelling writer re-runs the wake), and the writer returns EINTR.
#[test]
fn loom_killed_writer_at_head_rewakes_reader() {
    model(|| {
        let sem = new_sem(WakePolicy::FrontReaders);
        let entered = Arc::new(AtomicUsize::new(0));
        sem.down_read();
        let w = {
            let sem = sem.clone();
            thread::spawn(move || sem.down_write_killable())
        };
        wait_for_waiters(&sem, 1);
        let r = {
            let (sem, entered) = (sem.clone(), entered.clone());
            thread::spawn(move || {
                sem.down_read();
                entered.store(1, SeqCst);
                sem.up_read();
            })
        };
        wait_for_waiters(&sem, 2);
        sem.backend().send_fatal_signal(w.thread());
        while entered.load(SeqCst) == 0 {
            thread::yield_now();
        }
        sem.up_read();
        assert_eq!(w.join().unwrap(), Err(Errno::EINTR));
        r.join().unwrap();
        assert!(!sem.is_locked() && !sem.is_contended());
    });
}

/// Killable: a fatal signal races with the grant to a queued writer, while
/// we hold the lock for read or for write; a reader queued behind the writer
/// must neither be stranded nor let in while we hold it for write.
#[test]
fn loom_killed_writer_does_not_strand_reader() {
    for hold_write in [false, true] {
        model(move || {
            let sem = new_sem(WakePolicy::AllReaders);
            let inside = Arc::new(Inside::default());
            if hold_write {
                sem.down_write();
                inside.enter_write();
            } else {
                sem.down_read();
                inside.enter_read();
            }
            let w = {
                let (sem, inside) = (sem.clone(), inside.clone());
                thread::spawn(move || match sem.down_write_killable() {
                    Ok(()) => {
                        inside.enter_write();
                        inside.leave_write();
                        sem.up_write();
                    }
                    Err(e) => assert_eq!(e, Errno::EINTR),
                })
            };
            wait_for_waiters(&sem, 1);
            let r = {
                let (sem, inside) = (sem.clone(), inside.clone());
                thread::spawn(move || {
                    sem.down_read();
                    inside.enter_read();
                    inside.leave_read();
                    sem.up_read();
                })
            };
            sem.backend().send_fatal_signal(w.thread());
            if hold_write {
                inside.leave_write();
                sem.up_write();
            } else {
                inside.leave_read();
                sem.up_read();
            }
            w.join().unwrap();
            r.join().unwrap();
            assert!(!sem.is_locked() && !sem.is_contended());
        });
    }
}

// ----- optimistic spinning -------------------------------------------------

/// A spinning backend: each thread may poll `need_resched` this many times
/// between two sleeps, so every spin ends within a few rounds.
const TIME_SLICE: usize = 2;

fn new_spinning_sem(policy: WakePolicy) -> Sem {
    Arc::new(RwSem::with_wake_policy(LoomBackend::with_optimistic_spinning(TIME_SLICE), policy))
}

/// Counts, across all executions of one model, those in which a spin took
/// the lock and those in which a spin failed: a model that never reaches
/// the spin paths proves nothing about them. (A plain std atomic: it lives
/// outside the model.)
#[derive(Default)]
struct SpinCoverage {
    acquired: std::sync::atomic::AtomicUsize,
    failed: std::sync::atomic::AtomicUsize,
}

impl SpinCoverage {
    fn record(&self, sem: &Sem) {
        use std::sync::atomic::Ordering::Relaxed;
        let st = sem.stats();
        if st.read.spin_acquired + st.write.spin_acquired > 0 {
            self.acquired.fetch_add(1, Relaxed);
        }
        if st.read.spin_failed + st.write.spin_failed > 0 {
            self.failed.fetch_add(1, Relaxed);
        }
    }

    fn assert_both_seen(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        assert!(self.acquired.load(Relaxed) > 0, "no execution took the lock by spinning");
        assert!(self.failed.load(Relaxed) > 0, "no execution had a spin fail");
    }
}

/// Spinners race the release: a writer and a reader spin on our write hold
/// (or give up and queue) while we release; whoever gets in is alone (or
/// with readers only), nobody sleeps forever, and the statistics add up.
#[test]
fn loom_spinners_mutual_exclusion() {
    let seen = std::sync::Arc::new(SpinCoverage::default());
    let seen2 = seen.clone();
    model(move || {
        let sem = new_spinning_sem(WakePolicy::AllReaders);
        let inside = Arc::new(Inside::default());
        sem.down_write();
        inside.enter_write();
        let w = {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                sem.down_write();
                inside.enter_write();
                inside.leave_write();
                sem.up_write();
            })
        };
        let r = {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                sem.down_read();
                inside.enter_read();
                inside.leave_read();
                sem.up_read();
            })
        };
        inside.leave_write();
        sem.up_write();
        w.join().unwrap();
        r.join().unwrap();
        assert!(!sem.is_locked() && !sem.is_contended());
        let st = sem.stats();
        assert_eq!((st.write.acquired, st.read.acquired), (2, 1));
        for m in [&st.read, &st.write] {
            assert!(m.spin_acquired + m.contended <= m.acquired);
        }
        seen2.record(&sem);
    });
    seen.assert_both_seen();
}

/// A writer spins on our read hold while a reader arrives and we release:
/// the writer never overlaps a reader.
#[test]
fn loom_writer_spins_on_readers() {
    let seen = std::sync::Arc::new(SpinCoverage::default());
    let seen2 = seen.clone();
    model(move || {
        let sem = new_spinning_sem(WakePolicy::FrontReaders);
        let inside = Arc::new(Inside::default());
        sem.down_read();
        inside.enter_read();
        let w = {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                sem.down_write();
                inside.enter_write();
                inside.leave_write();
                sem.up_write();
            })
        };
        let r = {
            let (sem, inside) = (sem.clone(), inside.clone());
            thread::spawn(move || {
                sem.down_read();
                inside.enter_read();
                inside.leave_read();
                sem.up_read();
            })
        };
        inside.leave_read();
        sem.up_read();
        w.join().unwrap();
        r.join().unwrap();
        assert!(!sem.is_locked() && !sem.is_contended());
        seen2.record(&sem);
    });
    seen.assert_both_seen();
}

/// Writer fairness with spinners: W gave up spinning and queued behind our
/// hold (read or write); a reader arriving then must not spin its way past
/// it (into our read hold, or into the lock when we release). W goes first,
/// the reader after it.
#[test]
fn loom_spinner_does_not_pass_queued_writer() {
    for hold_write in [false, true] {
        model(move || {
            let sem = new_spinning_sem(WakePolicy::AllReaders);
            let order = Arc::new(AtomicUsize::new(0));
            if hold_write {
                sem.down_write();
            } else {
                sem.down_read();
            }
            let w = {
                let (sem, order) = (sem.clone(), order.clone());
                thread::spawn(move || {
                    sem.down_write();
                    let my_turn = order.fetch_add(1, SeqCst);
                    sem.up_write();
                    my_turn
                })
            };
            wait_for_waiters(&sem, 1);
            let r = {
                let (sem, order) = (sem.clone(), order.clone());
                thread::spawn(move || {
                    sem.down_read();
                    let my_turn = order.fetch_add(1, SeqCst);
                    sem.up_read();
                    my_turn
                })
            };
            wait_for_waiters(&sem, 2);
            if hold_write {
                sem.up_write();
            } else {
                sem.up_read();
            }
            assert_eq!(w.join().unwrap(), 0, "the queued writer goes first");
            assert_eq!(r.join().unwrap(), 1, "the reader must not pass it");
            assert_eq!(sem.stats().read.spin_acquired, 0);
            assert!(!sem.is_locked() && !sem.is_contended());
        });
    }
}
