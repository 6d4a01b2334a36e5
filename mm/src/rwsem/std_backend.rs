//! The host backend: std threads park and unpark; "fatal signals" are a
//! per-thread flag that tests set. Only with `cfg(test)` or feature `std`.
//!
//! # Optimistic spinning on the host
//!
//! [`StdBackend::new`] never spins, like the kernel on one CPU.
//! [`StdBackend::with_optimistic_spinning`] lets contending threads spin
//! while the owner runs, if the host has more than one CPU. "Running" is a
//! per-thread flag ([`StdWaiter`]): a thread counts as on a CPU unless it is
//! parked in this backend or inside [`StdBackend::off_cpu`], which tests
//! wrap around sleeps and blocking receives to play a lock holder that has
//! been descheduled. (A host thread preempted by the OS still counts as
//! running; the spin bound covers that case.) `need_resched` is always
//! `false`: the spin bound stands in for the end of a time slice.
//!
//! # Interrupts on the host
//!
//! Each thread also has a lock-order record ([`crate::lockdep`]): every
//! acquisition out of order panics, so every host test checks the order.
//!
//! Each thread has a simulated interrupt flag ([`StdBackend::irqs_disabled`]).
//! `local_irq_save` clears it and counts the call; `park` and `cpu_relax`
//! panic when it is clear, because in the kernel sleeping or spinning for
//! the mm crate's spinlocks with interrupts disabled is a bug (a sleeper
//! would switch away with them off; a spinner would hold up timer ticks and
//! IPIs). Every host test thus checks that the rwsem and the mm hold their
//! spinlocks, and only those, with interrupts disabled.

extern crate std;

use super::{RwSemBackend, TaskState};
use crate::lockdep::{HeldLocks, LockClass};
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;
use std::collections::HashSet;
use std::sync::Mutex;
use std::thread::{self, Thread, ThreadId};
use std::time::Instant;

/// [`RwSemBackend`] on std threads. Clones share one signal table, one
/// clock and one set of counters, so a test can keep a clone to send
/// signals with.
#[derive(Clone, Debug)]
pub struct StdBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    epoch: Instant,
    /// Threads with a "fatal signal" pending.
    killed: Mutex<HashSet<ThreadId>>,
    /// Longest optimistic spin in ns; 0: spinning off.
    spin_limit_ns: u64,
    /// Whether the host has more than one CPU.
    smp: bool,
    /// `park` calls so far.
    parks: AtomicU64,
    /// `owner_on_cpu` calls so far: how often a spinner looked at an owner.
    owner_polls: AtomicU64,
    /// `local_irq_save` calls so far.
    irq_saves: AtomicU64,
}

/// A std thread as the rwsem names it: the thread, to unpark it, and, if
/// the backend spins, its "on a CPU" state, to spin on it. (A backend that
/// does not spin does not track it: naming a thread then allocates
/// nothing, which a waiter that is out of memory relies on.)
#[derive(Clone, Debug)]
pub struct StdWaiter {
    thread: Thread,
    cpu: Option<Arc<CpuState>>,
}

/// Whether one thread is running. The thread is off its CPU while
/// `off_cpu > 0`: while parked in the backend or inside
/// [`StdBackend::off_cpu`] (nestable).
#[derive(Debug, Default)]
struct CpuState {
    off_cpu: AtomicUsize,
}

std::thread_local! {
    static CPU: Arc<CpuState> = Arc::new(CpuState::default());
    /// The calling thread's simulated interrupt flag is clear.
    static IRQS_DISABLED: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
    /// The lock classes the calling thread holds (see `crate::lockdep`).
    static HELD_LOCKS: core::cell::Cell<HeldLocks> = const { core::cell::Cell::new(HeldLocks::new()) };
}

/// Panic if the calling thread has interrupts disabled: `what` would be a
/// kernel bug there.
fn assert_irqs_enabled(what: &str) {
    assert!(!IRQS_DISABLED.with(|d| d.get()), "{what} with interrupts disabled");
}

impl StdWaiter {
    /// The std thread.
    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the thread is running (not parked in the backend and not
    /// inside [`StdBackend::off_cpu`]); `false` if the backend that named
    /// it does not track that.
    pub fn on_cpu(&self) -> bool {
        self.cpu.as_ref().is_some_and(|cpu| cpu.off_cpu.load(Ordering::SeqCst) == 0)
    }
}

/// Marks the calling thread off its CPU until dropped.
struct OffCpu(Arc<CpuState>);

impl OffCpu {
    fn enter() -> Self {
        let cpu = CPU.with(Arc::clone);
        cpu.off_cpu.fetch_add(1, Ordering::SeqCst);
        OffCpu(cpu)
    }
}

impl Drop for OffCpu {
    fn drop(&mut self) {
        self.0.off_cpu.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Default for StdBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl StdBackend {
    /// A backend whose clock starts now, with no signals pending, that
    /// never spins: every contended acquisition sleeps.
    pub fn new() -> Self {
        Self::build(0)
    }

    /// Like [`new`](Self::new), but contending threads spin for up to
    /// `limit` while the owner runs, if the host has more than one CPU (see
    /// the module documentation). A zero `limit` turns spinning off.
    pub fn with_optimistic_spinning(limit: Duration) -> Self {
        Self::build(u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX))
    }

    fn build(spin_limit_ns: u64) -> Self {
        let smp = thread::available_parallelism().map(|n| n.get() > 1).unwrap_or(false);
        Self {
            inner: Arc::new(Inner {
                epoch: Instant::now(),
                killed: Mutex::new(HashSet::new()),
                spin_limit_ns,
                smp,
                parks: AtomicU64::new(0),
                owner_polls: AtomicU64::new(0),
                irq_saves: AtomicU64::new(0),
            }),
        }
    }

    /// Mark `thread` as having a fatal signal pending and wake it, as the
    /// kernel does for a `TASK_KILLABLE` sleeper.
    pub fn send_fatal_signal(&self, thread: &Thread) {
        self.killed().insert(thread.id());
        thread.unpark();
    }

    /// Forget the calling thread's pending fatal signal (a test's stand-in
    /// for the thread having died and been replaced).
    pub fn clear_fatal_signal(&self) {
        self.killed().remove(&thread::current().id());
    }

    /// Run `f` with the calling thread counted as not running on a CPU: a
    /// lock holder that sleeps or blocks in `f` looks descheduled to
    /// spinners, which then stop spinning and sleep.
    pub fn off_cpu<R>(&self, f: impl FnOnce() -> R) -> R {
        let _off = OffCpu::enter();
        f()
    }

    /// How many times a thread parked in this backend so far.
    pub fn parks(&self) -> u64 {
        self.inner.parks.load(Ordering::SeqCst)
    }

    /// How many times a spinner asked whether an owner runs
    /// ([`RwSemBackend::owner_on_cpu`]) so far.
    pub fn owner_polls(&self) -> u64 {
        self.inner.owner_polls.load(Ordering::SeqCst)
    }

    /// How many times interrupts were disabled through this backend so far.
    pub fn irq_saves(&self) -> u64 {
        self.inner.irq_saves.load(Ordering::SeqCst)
    }

    /// The lock classes the calling thread holds.
    pub fn held_locks() -> HeldLocks {
        HELD_LOCKS.with(|h| h.get())
    }

    /// Whether the calling thread's simulated interrupts are disabled.
    pub fn irqs_disabled() -> bool {
        IRQS_DISABLED.with(|d| d.get())
    }

    /// Run `f` with the calling thread's simulated interrupts disabled, as
    /// a kernel caller that already disabled them would.
    pub fn with_irqs_disabled<R>(f: impl FnOnce() -> R) -> R {
        let were = IRQS_DISABLED.with(|d| d.replace(true));
        let r = f();
        IRQS_DISABLED.with(|d| d.set(were));
        r
    }

    fn killed(&self) -> std::sync::MutexGuard<'_, HashSet<ThreadId>> {
        self.inner.killed.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl RwSemBackend for StdBackend {
    type Waiter = StdWaiter;

    fn current_waiter(&self) -> StdWaiter {
        StdWaiter { thread: thread::current(), cpu: self.can_spin().then(|| CPU.with(Arc::clone)) }
    }

    fn park(&self, me: &StdWaiter, _state: TaskState) {
        assert_irqs_enabled("park");
        self.inner.parks.fetch_add(1, Ordering::SeqCst);
        if let Some(cpu) = &me.cpu {
            cpu.off_cpu.fetch_add(1, Ordering::SeqCst);
        }
        // unpark-before-park leaves a permit: no lost wake-up.
        thread::park();
        if let Some(cpu) = &me.cpu {
            cpu.off_cpu.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn wake(&self, waiter: &StdWaiter) {
        waiter.thread.unpark();
    }

    fn fatal_signal_pending(&self) -> bool {
        self.killed().contains(&thread::current().id())
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.inner.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn cpu_relax(&self) {
        assert_irqs_enabled("spinning for a lock");
        // Host threads outnumber cores in the tests: let the holder run.
        thread::yield_now();
    }

    fn can_spin(&self) -> bool {
        self.inner.spin_limit_ns > 0 && self.inner.smp
    }

    fn owner_on_cpu(&self, owner: &StdWaiter) -> bool {
        self.inner.owner_polls.fetch_add(1, Ordering::SeqCst);
        owner.on_cpu()
    }

    fn spin_limit_ns(&self) -> u64 {
        self.inner.spin_limit_ns
    }

    fn local_irq_save(&self) -> bool {
        self.inner.irq_saves.fetch_add(1, Ordering::SeqCst);
        !IRQS_DISABLED.with(|d| d.replace(true))
    }

    fn local_irq_restore(&self, were_enabled: bool) {
        assert!(Self::irqs_disabled(), "local_irq_restore with interrupts enabled: unbalanced");
        if were_enabled {
            IRQS_DISABLED.with(|d| d.set(false));
        }
    }

    /// Checks the order on every host thread; a violation panics.
    fn lock_acquire(&self, class: LockClass) {
        let mut held = HELD_LOCKS.with(|h| h.get());
        if let Err(v) = held.acquire(class) {
            panic!("{v}");
        }
        HELD_LOCKS.with(|h| h.set(held));
    }

    fn lock_release(&self, class: LockClass) {
        HELD_LOCKS.with(|h| {
            let mut held = h.get();
            held.release(class);
            h.set(held);
        });
    }
}
