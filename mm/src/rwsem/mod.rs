//! The reader/writer semaphore used as the mmap lock (Linux
//! `kernel/locking/rwsem.c`).
//!
//! A sleeping lock with two modes: many readers (`down_read`) or one writer
//! (`down_write`). A writer can turn itself into a reader without letting a
//! writer in between (`downgrade_write`); there is no upgrade. Waiting
//! threads sleep through a [`RwSemBackend`] (the kernel's scheduler, std
//! threads on the host, loom threads in models). The rwsem guards no data of
//! its own, like Linux's `struct rw_semaphore`: it *is* the mmap lock, and
//! what it protects is said by the code that takes it.
//!
//! # State and invariants
//!
//! All state sits behind one internal spinlock, `wait_lock` (see below):
//!
//! * `readers` (Linux: `count` bits 8..62) and `writer` (Linux:
//!   `RWSEM_WRITER_LOCKED`). Exactly one of these holds at any time:
//!   free (`readers == 0 && !writer`), read-owned (`readers > 0 && !writer`),
//!   write-owned (`readers == 0 && writer`).
//! * `wait_list`: the FIFO queue of sleeping waiters, each waiting for read
//!   or write. Non-empty is Linux's `RWSEM_FLAG_WAITERS` and what
//!   [`is_contended`](RwSem::is_contended) reports.
//! * Whenever `wait_lock` is released: if the queue is non-empty, the lock is
//!   held; if the head waits for read, the lock is write-owned. In other
//!   words: nobody sleeps while the lock could be granted to them.
//!   (`check_invariants`: debug builds and loom models.)
//!
//! # Queue discipline (writer-fair)
//!
//! * A reader gets the lock at once only if it is not write-owned **and no
//!   one is queued**: once a waiter is queued, new readers queue behind it
//!   and `down_read_trylock` fails, so a stream of readers cannot starve a
//!   writer. A writer gets it at once only if it is free (and so nobody is
//!   queued).
//! * On release, `mark_wake` (Linux `rwsem_mark_wake`) looks at the head
//!   of the queue. A writer head gets the lock if it is free; writers go one
//!   at a time, in FIFO order. A reader head gets it, together with other
//!   queued readers, if it is not write-owned. Which other readers is the
//!   [`WakePolicy`]:
//!   - [`AllReaders`](WakePolicy::AllReaders), the default: every queued
//!     reader, also those behind queued writers, as Linux does since its 2019
//!     rwsem rework ("locking/rwsem: Wake up almost all readers in wait
//!     queue", ~v5.3). Linux caps one pass at 256 readers
//!     (`MAX_READERS_WAKEUP`) to bound its `wait_lock` hold time; Holdfast
//!     has far fewer threads and no cap. A queued writer still cannot starve:
//!     readers arriving later queue behind it.
//!   - [`FrontReaders`](WakePolicy::FrontReaders): strict FIFO, as Linux's
//!     older rwsem-xadd: only the readers before the first queued writer.
//! * `downgrade_write` makes the writer a reader and then runs the same
//!   wake: a reader head is admitted with its readers, a writer head is not
//!   (the lock is still read-owned).
//! * A killable waiter that sees a fatal signal removes itself from the queue
//!   and re-runs the wake, so that waiters that were stuck behind it (e.g.
//!   readers behind a cancelled writer while the lock is read-owned) go on.
//!
//! # Grant before wake (and how this differs from Linux)
//!
//! The releasing thread hands the lock over under `wait_lock`: it updates
//! `readers`/`writer`, removes the waiters from the queue, and wakes them
//! only afterwards. A woken waiter already owns the lock; it only checks that
//! it is no longer queued. So no thread can steal the lock between a wake and
//! the woken thread running, and the FIFO order above is exact. Linux grants
//! readers this way but lets a woken *writer* compete (it may lose to a
//! spinning writer, and sets `RWSEM_FLAG_HANDOFF` after ~4 ms to stop the
//! stealing); it also has lock-free fast paths on an atomic `count`.
//! Holdfast trades those for one short spinlock per operation, which keeps
//! every rule above checkable and loom-testable.
//!
//! # Optimistic spinning (Linux `rwsem_optimistic_spin`)
//!
//! Sleeping and being woken costs two context switches; if the owner is
//! running on another CPU and about to release, spinning for it is cheaper.
//! When the backend allows it ([`RwSemBackend::can_spin`]: more than one CPU
//! runs threads), a contended `down_*` spins before it queues:
//!
//! * **Owner tracking.** The state records the writer's token as `owner`
//!   (Linux `sem->owner`) when it takes the lock; a read-owned lock is
//!   marked reader-owned (`RWSEM_READER_OWNED`) without naming its readers.
//!   Spinners watch an *owner word* (`owner_word`: write-owned, reader-owned,
//!   non-spinnable, waiters queued, and a generation that changes with every
//!   new owner) without taking `wait_lock`; whenever it changes they take
//!   `wait_lock` and try for the lock.
//! * **Writer-owned**: a writer, and also a reader (as Linux v5.3 to v5.10
//!   did; later Linux spins writers only), spins while
//!   [`owner_on_cpu`](RwSemBackend::owner_on_cpu) says the owner runs. An
//!   owner that is not running, or was never recorded, is not spun on.
//! * **Reader-owned**: only writers spin, and only for a short threshold
//!   that grows with the number of readers (10 to 25 us, Linux
//!   `rwsem_rspin_threshold`); a writer that runs out of it marks the lock
//!   non-spinnable (`RWSEM_NONSPINNABLE`) so that later writers do not spin
//!   on readers either, until a writer gets the lock.
//! * **Bounds**: every spin ends when
//!   [`need_resched`](RwSemBackend::need_resched) says so, or after
//!   [`spin_limit_ns`](RwSemBackend::spin_limit_ns).
//! * **Fairness**: a spinner takes the lock only as the fast path would,
//!   when nobody is queued, and stops spinning as soon as anybody is. With
//!   grant-before-wake the lock is never free while a waiter is queued, so
//!   spinners cannot pass a queued writer, and a read-owned lock admits no
//!   spinning reader past one. (Linux instead lets spinners steal the lock
//!   from a woken writer until the writer sets `RWSEM_FLAG_HANDOFF`.)
//!
//! Linux also lines its spinners up on an MCS lock (`osq_lock`) so that one
//! at a time polls the owner; Holdfast lets each spinner poll. A spin that
//! took the lock counts in `spin_acquired`, one that ended without it in
//! `spin_failed` ([`stats`]). The defaults of the backend's spin methods
//! turn all of this off: a single-CPU kernel sleeps at once, as before.
//!
//! # Locking
//!
//! `wait_lock` is a spinlock held only for a few dozen instructions, with
//! interrupts disabled (the backend's `local_irq_save`), so that its holder
//! is never preempted while a contender spins. The backend is never called
//! with it held (wake-ups are collected in a wake queue and issued after it
//! is dropped, like Linux's `wake_q`; an owner token is dropped after it
//! too). The owner word is written only under
//! `wait_lock` and read by spinners without it. The rwsem is a sleeping
//! lock: never take it under a spinlock.
//!
//! # Statistics
//!
//! Every rwsem counts acquisitions and records wait and hold times with the
//! backend's clock; see [`stats`] and [`RwSem::stats`].
//!
//! # Tests
//!
//! `mm/tests/rwsem_semantics.rs` (deterministic cases on std threads),
//! `mm/tests/rwsem_torture.rs` (locktorture-style stress),
//! `mm/tests/rwsem_spin.rs` (optimistic spinning, cases and stress) and loom
//! models in `mm/tests/loom_rwsem.rs`:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test -p mm --release --test loom_rwsem
//! ```

pub(crate) mod backend;
mod guard;
pub mod stats;
mod wait_lock;

#[cfg(all(any(test, feature = "std"), not(loom)))]
mod std_backend;

#[cfg(loom)]
mod loom_backend;

use alloc::collections::VecDeque;
use alloc::vec::Vec;

pub use backend::{RwSemBackend, TaskState};
pub use guard::{RwSemReadGuard, RwSemWriteGuard};
pub use stats::{Log2Histogram, RwSemModeStats, RwSemStats};

#[cfg(all(any(test, feature = "std"), not(loom)))]
pub use std_backend::{StdBackend, StdWaiter};

#[cfg(loom)]
pub use loom_backend::{LoomBackend, LoomWaiter};

use crate::lockdep::LockClass;
use crate::Errno;
use backend::IrqsSaved;
use wait_lock::{WaitLock, WaitLockGuard};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicUsize, Ordering};
#[cfg(loom)]
use loom::sync::atomic::{AtomicUsize, Ordering};

/// Bits of the owner word (`RwSem::owner_word`), what spinners watch
/// without taking `wait_lock` (Linux keeps the like in `sem->owner` and
/// `sem->count`). The bits above [`OWNER_GEN_SHIFT`] count ownership
/// changes, so that a spinner notices one owner handing over to another.
const OWNER_WRITER: usize = 1 << 0;
/// Linux `RWSEM_READER_OWNED`.
const OWNER_READERS: usize = 1 << 1;
/// Linux `RWSEM_NONSPINNABLE`: see [`RwSemState::nonspinnable`].
const OWNER_NONSPINNABLE: usize = 1 << 2;
/// Linux `RWSEM_FLAG_WAITERS`.
const OWNER_WAITERS: usize = 1 << 3;
const OWNER_GEN_SHIFT: u32 = 4;

/// Which readers a wake-up admits when the head of the queue is a reader.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WakePolicy {
    /// Every queued reader, wherever it is in the queue (Linux since ~v5.3,
    /// minus its 256-reader `MAX_READERS_WAKEUP` cap). Queued writers keep
    /// their places.
    #[default]
    AllReaders,
    /// Only the run of readers at the front of the queue, up to the first
    /// queued writer (strict FIFO).
    FrontReaders,
}

/// What a queued waiter waits for (Linux `enum rwsem_waiter_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WaitFor {
    Read,
    Write,
}

/// One sleeping thread in the wait queue (Linux `struct rwsem_waiter`).
struct RwSemWaiter<W> {
    /// Unique per wait; the waiter knows it has been granted the lock when
    /// its ticket is no longer in the queue (only a grant or the waiter
    /// itself removes it).
    ticket: u64,
    wait_for: WaitFor,
    task: W,
    queued_at_ns: u64,
}

/// Everything `wait_lock` protects.
struct RwSemState<W> {
    readers: usize,
    writer: bool,
    wait_list: VecDeque<RwSemWaiter<W>>,
    next_ticket: u64,
    /// When the current write hold started.
    write_locked_at_ns: u64,
    /// When the current read-owned period started.
    read_owned_at_ns: u64,
    stats: RwSemStats,
    /// The thread holding the lock for write, if known (Linux
    /// `sem->owner`): set when a queued or spinning writer is granted the
    /// lock, and on the fast path and trylock when the backend can spin.
    /// `None` while read-owned or free, and for a writer that took the
    /// lock while spinning was off; spinners do not spin on such an owner.
    owner: Option<W>,
    /// Bumped whenever a writer is granted the lock or a read-owned period
    /// begins: the generation bits of the owner word.
    owner_gen: usize,
    /// Linux `RWSEM_NONSPINNABLE`: a writer spun on this read-owned lock
    /// for the whole reader-owned threshold and gave up. Later writers do
    /// not spin on readers until a writer gets the lock (which clears it).
    nonspinnable: bool,
}

/// Threads to wake once `wait_lock` is dropped (Linux `wake_q`). Adding to
/// it may need memory; a thread that does not fit is woken at once, under
/// `wait_lock`, which is correct and only slower (see [`WakeQ::add`]).
struct WakeQ<W> {
    tasks: Vec<W>,
}

impl<W> WakeQ<W> {
    fn new() -> Self {
        WakeQ { tasks: Vec::new() }
    }

    /// Queue `task` for waking, or, if the queue cannot grow, wake it now
    /// with `wake_now`.
    fn add(&mut self, task: W, wake_now: &dyn Fn(&W)) {
        if self.tasks.try_reserve(1).is_ok() {
            self.tasks.push(task);
        } else {
            wake_now(&task);
        }
    }
}

/// A reader/writer semaphore; see the [module documentation](self).
pub struct RwSem<B: RwSemBackend> {
    backend: B,
    policy: WakePolicy,
    wait_lock: WaitLock<RwSemState<B::Waiter>>,
    /// The spinners' view of the state ([`OWNER_WRITER`] and friends),
    /// stored under `wait_lock` whenever the state changes and read by
    /// spinners without it. Only a hint: a spinner acts on what it finds
    /// under `wait_lock`.
    owner_word: AtomicUsize,
    /// What the lock-order checker knows it as; `None`: not checked.
    class: Option<LockClass>,
}

impl<B: RwSemBackend> RwSem<B> {
    /// A free rwsem with the default [`WakePolicy::AllReaders`].
    pub fn new(backend: B) -> Self {
        Self::with_wake_policy(backend, WakePolicy::default())
    }

    /// A free rwsem that admits readers according to `policy`.
    pub fn with_wake_policy(backend: B, policy: WakePolicy) -> Self {
        Self {
            backend,
            policy,
            wait_lock: WaitLock::new(RwSemState {
                readers: 0,
                writer: false,
                wait_list: VecDeque::new(),
                next_ticket: 0,
                write_locked_at_ns: 0,
                read_owned_at_ns: 0,
                stats: RwSemStats::default(),
                owner: None,
                owner_gen: 0,
                nonspinnable: false,
            }),
            owner_word: AtomicUsize::new(0),
            class: None,
        }
    }

    /// This rwsem with a lock class for the backend's lock-order checker
    /// ([`crate::lockdep`]).
    pub fn with_lock_class(mut self, class: LockClass) -> Self {
        self.class = Some(class);
        self
    }

    /// The backend this rwsem sleeps and wakes through.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The wake policy chosen at creation.
    pub fn wake_policy(&self) -> WakePolicy {
        self.policy
    }

    // ----- acquiring -------------------------------------------------------

    /// Take the lock for reading, sleeping as long as needed.
    pub fn down_read(&self) {
        // Uninterruptible waits cannot fail.
        let _ = self.down(WaitFor::Read, TaskState::Uninterruptible);
    }

    /// Take the lock for reading; give up with `EINTR` if a fatal signal
    /// arrives while waiting. (Like Linux, an uncontended lock is taken even
    /// with a signal pending.)
    pub fn down_read_killable(&self) -> Result<(), Errno> {
        self.down(WaitFor::Read, TaskState::Killable)
    }

    /// Take the lock for reading if that is possible without waiting: it is
    /// not write-owned and nobody is queued.
    pub fn down_read_trylock(&self) -> bool {
        self.trylock(WaitFor::Read)
    }

    /// Take the lock for writing, sleeping as long as needed.
    pub fn down_write(&self) {
        let _ = self.down(WaitFor::Write, TaskState::Uninterruptible);
    }

    /// Take the lock for writing; give up with `EINTR` if a fatal signal
    /// arrives while waiting. If the lock is granted before the waiter sees
    /// the signal, it returns `Ok` and the caller holds the lock (as Linux).
    pub fn down_write_killable(&self) -> Result<(), Errno> {
        self.down(WaitFor::Write, TaskState::Killable)
    }

    /// Take the lock for writing if it is free.
    pub fn down_write_trylock(&self) -> bool {
        self.trylock(WaitFor::Write)
    }

    // ----- releasing -------------------------------------------------------

    /// Release a read hold. Calling it without holding the lock for read is
    /// a kernel bug: a debug assertion, ignored in release builds.
    pub fn up_read(&self) {
        let now = self.backend.now_ns();
        let mut wake_q = WakeQ::new();
        {
            let mut sem = self.lock_state();
            debug_assert!(sem.readers > 0, "up_read on an rwsem not held for read");
            if sem.readers == 0 {
                return;
            }
            sem.readers -= 1;
            if sem.readers == 0 {
                let held = now.saturating_sub(sem.read_owned_at_ns);
                sem.stats.read.hold_ns.record(held);
            }
            sem.mark_wake(self.policy, now, &mut wake_q, &|w| self.backend.wake(w));
            sem.check_invariants();
        }
        self.lockdep_release();
        self.wake_up_q(wake_q);
    }

    /// Release the write hold. Calling it without holding the lock for write
    /// is a kernel bug: a debug assertion, ignored in release builds.
    pub fn up_write(&self) {
        let now = self.backend.now_ns();
        let mut wake_q = WakeQ::new();
        let _owner = {
            let mut sem = self.lock_state();
            debug_assert!(sem.writer, "up_write on an rwsem not held for write");
            if !sem.writer {
                return;
            }
            let owner = sem.end_write_hold(now);
            sem.mark_wake(self.policy, now, &mut wake_q, &|w| self.backend.wake(w));
            sem.check_invariants();
            owner
        };
        self.lockdep_release();
        self.wake_up_q(wake_q);
    }

    /// Turn the caller's write hold into a read hold, atomically: no writer
    /// can get in between. Queued readers at the head of the queue are
    /// admitted with it (per the [`WakePolicy`]); a queued writer at the head
    /// keeps waiting until the last reader leaves.
    pub fn downgrade_write(&self) {
        let now = self.backend.now_ns();
        let mut wake_q = WakeQ::new();
        let _owner = {
            let mut sem = self.lock_state();
            debug_assert!(sem.writer, "downgrade_write on an rwsem not held for write");
            if !sem.writer {
                return;
            }
            let owner = sem.end_write_hold(now);
            // A new read-owned period (Linux `rwsem_set_reader_owned`).
            sem.readers = 1;
            sem.read_owned_at_ns = now;
            sem.owner_gen = sem.owner_gen.wrapping_add(1);
            sem.stats.downgrades += 1;
            sem.mark_wake(self.policy, now, &mut wake_q, &|w| self.backend.wake(w));
            sem.check_invariants();
            owner
        };
        self.wake_up_q(wake_q);
    }

    // ----- RAII ------------------------------------------------------------

    /// [`down_read`](Self::down_read), released when the guard drops.
    pub fn read(&self) -> RwSemReadGuard<'_, B> {
        self.down_read();
        RwSemReadGuard::new(self)
    }

    /// [`down_read_killable`](Self::down_read_killable) as a guard.
    pub fn read_killable(&self) -> Result<RwSemReadGuard<'_, B>, Errno> {
        self.down_read_killable()?;
        Ok(RwSemReadGuard::new(self))
    }

    /// [`down_read_trylock`](Self::down_read_trylock) as a guard.
    pub fn try_read(&self) -> Option<RwSemReadGuard<'_, B>> {
        self.down_read_trylock().then(|| RwSemReadGuard::new(self))
    }

    /// [`down_write`](Self::down_write), released when the guard drops.
    pub fn write(&self) -> RwSemWriteGuard<'_, B> {
        self.down_write();
        RwSemWriteGuard::new(self)
    }

    /// [`down_write_killable`](Self::down_write_killable) as a guard.
    pub fn write_killable(&self) -> Result<RwSemWriteGuard<'_, B>, Errno> {
        self.down_write_killable()?;
        Ok(RwSemWriteGuard::new(self))
    }

    /// [`down_write_trylock`](Self::down_write_trylock) as a guard.
    pub fn try_write(&self) -> Option<RwSemWriteGuard<'_, B>> {
        self.down_write_trylock().then(|| RwSemWriteGuard::new(self))
    }

    // ----- inspection ------------------------------------------------------

    /// Whether any thread is queued waiting for the lock (Linux
    /// `rwsem_is_contended`, used by `mmap_lock_is_contended`).
    pub fn is_contended(&self) -> bool {
        !self.lock_state().wait_list.is_empty()
    }

    /// How many threads are queued.
    pub fn nr_waiters(&self) -> usize {
        self.lock_state().wait_list.len()
    }

    /// Whether the lock is held in either mode (Linux `rwsem_is_locked`).
    pub fn is_locked(&self) -> bool {
        let sem = self.lock_state();
        sem.writer || sem.readers > 0
    }

    /// Whether the lock is held for write.
    pub fn is_write_locked(&self) -> bool {
        self.lock_state().writer
    }

    /// How many read holds there are now.
    pub fn readers(&self) -> usize {
        self.lock_state().readers
    }

    /// Debug check for "Locking: held for write" (Linux
    /// `mmap_assert_write_locked`). It checks that *someone* holds it for
    /// write: the owner is recorded for spinners only, and not always.
    #[track_caller]
    pub fn assert_write_locked(&self) {
        debug_assert!(self.is_write_locked(), "rwsem not held for write");
    }

    /// Debug check for "Locking: held for read or write" (Linux
    /// `mmap_assert_locked`).
    #[track_caller]
    pub fn assert_locked(&self) {
        debug_assert!(self.is_locked(), "rwsem not held");
    }

    /// Whether writers have stopped spinning on this lock's readers (Linux
    /// `RWSEM_NONSPINNABLE`): a writer spun on the read-owned lock for the
    /// whole reader threshold; cleared when a writer gets the lock.
    pub fn is_nonspinnable(&self) -> bool {
        self.lock_state().nonspinnable
    }

    /// A copy of the statistics so far.
    pub fn stats(&self) -> RwSemStats {
        self.lock_state().stats
    }

    /// Zero the statistics (e.g. between benchmark runs).
    pub fn reset_stats(&self) {
        self.lock_state().stats = RwSemStats::default();
    }

    // ----- internals -------------------------------------------------------

    fn lock_state(&self) -> StateGuard<'_, B> {
        let (guard, irqs) = self.wait_lock.lock(&self.backend);
        // Every change was published before `wait_lock` was dropped.
        #[cfg(all(debug_assertions, not(loom)))]
        debug_assert_eq!(self.owner_word.load(Ordering::Relaxed), guard.owner_word(), "owner word out of date");
        StateGuard { guard, owner_word: &self.owner_word, changed: false, _irqs: irqs }
    }

    fn wake_up_q(&self, wake_q: WakeQ<B::Waiter>) {
        for task in &wake_q.tasks {
            self.backend.wake(task);
        }
    }

    /// The caller's token if it should be recorded as the owner of a write
    /// hold taken without queueing: only when spinners may look at it.
    fn fast_path_owner(&self, mode: WaitFor) -> Option<B::Waiter> {
        (mode == WaitFor::Write && self.backend.can_spin()).then(|| self.backend.current_waiter())
    }

    fn trylock(&self, mode: WaitFor) -> bool {
        self.lockdep_acquire();
        let got = self.trylock_inner(mode);
        if !got {
            self.lockdep_release();
        }
        got
    }

    fn trylock_inner(&self, mode: WaitFor) -> bool {
        let me = self.fast_path_owner(mode);
        let now = self.backend.now_ns();
        let mut sem = self.lock_state();
        let got = sem.try_acquire(mode, now, me.as_ref());
        if !got {
            sem.mode_stats(mode).trylock_failed += 1;
        }
        got
    }

    /// Acquire in `mode`, queueing and sleeping if needed (Linux
    /// `rwsem_down_read_slowpath` / `rwsem_down_write_slowpath`).
    fn down(&self, mode: WaitFor, state: TaskState) -> Result<(), Errno> {
        self.lockdep_acquire();
        let r = self.down_inner(mode, state);
        if r.is_err() {
            self.lockdep_release();
        }
        r
    }

    /// Tell the backend's lock-order checker about an acquisition, if this
    /// rwsem has a [`LockClass`].
    fn lockdep_acquire(&self) {
        if let Some(class) = self.class {
            self.backend.lock_acquire(class);
        }
    }

    fn lockdep_release(&self) {
        if let Some(class) = self.class {
            self.backend.lock_release(class);
        }
    }

    fn down_inner(&self, mode: WaitFor, state: TaskState) -> Result<(), Errno> {
        let me = self.fast_path_owner(mode);
        let now = self.backend.now_ns();
        if self.lock_state().try_acquire(mode, now, me.as_ref()) {
            return Ok(());
        }
        // Contended: ask for our token outside wait_lock (if not done
        // already), spin if that may help, then look again and queue.
        let me = match me {
            Some(me) => me,
            None => self.backend.current_waiter(),
        };
        if self.backend.can_spin() && self.optimistic_spin(mode, &me) {
            return Ok(());
        }
        loop {
            let now = self.backend.now_ns();
            let ticket = {
                let mut sem = self.lock_state();
                if sem.try_acquire(mode, now, Some(&me)) {
                    return Ok(());
                }
                if sem.wait_list.try_reserve(1).is_ok() {
                    let ticket = sem.next_ticket;
                    sem.next_ticket += 1;
                    sem.wait_list.push_back(RwSemWaiter { ticket, wait_for: mode, task: me.clone(), queued_at_ns: now });
                    sem.check_invariants();
                    Some(ticket)
                } else {
                    None
                }
            };
            match ticket {
                Some(ticket) => return self.down_slowpath(&me, ticket, mode, state),
                // No memory to queue in: poll as a trylock loop would, still
                // killable.
                None if state == TaskState::Killable && self.backend.fatal_signal_pending() => {
                    self.lock_state().mode_stats(mode).interrupted += 1;
                    return Err(Errno::EINTR);
                }
                None => self.backend.cpu_relax(),
            }
        }
    }

    /// Spin while the owner runs, taking the lock as soon as it can be had
    /// without queueing (Linux `rwsem_optimistic_spin`). Returns whether the
    /// lock was taken; `false` means queue and sleep.
    ///
    /// A writer or reader spins on a writer that runs on a CPU
    /// ([`RwSemBackend::owner_on_cpu`]); a writer also spins on readers, for
    /// at most [`rspin_threshold_ns`], after which it marks the read-owned
    /// period non-spinnable. The spin ends when the lock is taken, when a
    /// waiter is queued (see [`RwSemState::spin_target`]), when the owner
    /// stops running, when the backend says to reschedule, or after the
    /// backend's [`spin_limit_ns`](RwSemBackend::spin_limit_ns). Spinners
    /// watch the owner word without `wait_lock` and take `wait_lock` only
    /// when it changes. (Linux also queues its spinners on an MCS lock so
    /// that only one of them polls the owner; Holdfast lets each spin.)
    fn optimistic_spin(&self, mode: WaitFor, me: &B::Waiter) -> bool {
        let deadline = self.backend.now_ns().saturating_add(self.backend.spin_limit_ns());
        // Set when a reader-owned phase begins (Linux `rspin_threshold`).
        let mut readers_deadline: Option<u64> = None;
        let mut give_up = self.backend.need_resched();
        while !give_up {
            let now = self.backend.now_ns();
            let (target, word) = {
                let mut sem = self.lock_state();
                if sem.try_acquire(mode, now, Some(me)) {
                    sem.mode_stats(mode).spin_acquired += 1;
                    sem.check_invariants();
                    return true;
                }
                (sem.spin_target(mode), sem.owner_word())
            };
            let end = match target {
                SpinTarget::Writer(owner) => {
                    readers_deadline = None;
                    self.spin_on_owner(word, deadline, Some(&owner))
                }
                SpinTarget::Readers(n) => {
                    let until = *readers_deadline.get_or_insert(now.saturating_add(rspin_threshold_ns(n)));
                    match self.spin_on_owner(word, until.min(deadline), None) {
                        SpinEnd::GiveUp if self.backend.now_ns() >= until => SpinEnd::ReadersTooLong,
                        end => end,
                    }
                }
                SpinTarget::Stop => SpinEnd::GiveUp,
            };
            match end {
                SpinEnd::Changed => give_up = self.backend.now_ns() >= deadline,
                SpinEnd::GiveUp => give_up = true,
                SpinEnd::ReadersTooLong => {
                    // Linux `rwsem_set_nonspinnable`: only if the same
                    // read-owned period still holds the lock.
                    let mut sem = self.lock_state();
                    if sem.owner_word() == word {
                        sem.nonspinnable = true;
                    }
                    sem.mode_stats(mode).spin_failed += 1;
                    return false;
                }
            }
        }
        self.lock_state().mode_stats(mode).spin_failed += 1;
        false
    }

    /// Spin until the owner word moves away from `word` (Linux
    /// `rwsem_spin_on_owner`), or until `owner` (a writer; `None` for
    /// readers) stops running, the backend asks to reschedule, or the
    /// clock reaches `until`.
    fn spin_on_owner(&self, word: usize, until: u64, owner: Option<&B::Waiter>) -> SpinEnd {
        loop {
            if self.owner_word.load(Ordering::Acquire) != word {
                return SpinEnd::Changed;
            }
            if self.backend.need_resched() || owner.is_some_and(|o| !self.backend.owner_on_cpu(o)) {
                return SpinEnd::GiveUp;
            }
            if self.backend.now_ns() >= until {
                return SpinEnd::GiveUp;
            }
            self.backend.cpu_relax();
        }
    }

    /// Sleep until the lock has been granted to `ticket` (grant-before-wake:
    /// being out of the queue means owning the lock), or, when killable,
    /// until a fatal signal makes us leave the queue.
    fn down_slowpath(&self, me: &B::Waiter, ticket: u64, mode: WaitFor, state: TaskState) -> Result<(), Errno> {
        loop {
            let fatal = state == TaskState::Killable && self.backend.fatal_signal_pending();
            let now = if fatal { self.backend.now_ns() } else { 0 };
            let mut wake_q = WakeQ::new();
            {
                let mut sem = self.lock_state();
                let Some(pos) = sem.wait_list.iter().position(|w| w.ticket == ticket) else {
                    return Ok(()); // granted
                };
                if fatal {
                    // Linux `rwsem_del_wake_waiter`: leave the queue and let
                    // whoever was behind us be considered again.
                    sem.wait_list.remove(pos);
                    sem.mode_stats(mode).interrupted += 1;
                    sem.mark_wake(self.policy, now, &mut wake_q, &|w| self.backend.wake(w));
                    sem.check_invariants();
                }
            }
            if fatal {
                self.wake_up_q(wake_q);
                return Err(Errno::EINTR);
            }
            self.backend.park(me, state);
        }
    }
}

impl<B: RwSemBackend> core::fmt::Debug for RwSem<B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let sem = self.lock_state();
        let queue: Vec<WaitFor> = sem.wait_list.iter().map(|w| w.wait_for).collect();
        f.debug_struct("RwSem")
            .field("readers", &sem.readers)
            .field("writer", &sem.writer)
            .field("wait_list", &queue)
            .field("policy", &self.policy)
            .finish()
    }
}

/// `wait_lock` held, interrupts disabled: the state, and on unlock, if the
/// state may have changed (it was borrowed mutably), the owner word is
/// brought up to date before `wait_lock` is released. Interrupts come back
/// last (fields drop in order).
struct StateGuard<'a, B: RwSemBackend> {
    guard: WaitLockGuard<'a, RwSemState<B::Waiter>>,
    owner_word: &'a AtomicUsize,
    changed: bool,
    _irqs: IrqsSaved<'a, B>,
}

impl<B: RwSemBackend> core::ops::Deref for StateGuard<'_, B> {
    type Target = RwSemState<B::Waiter>;

    fn deref(&self) -> &RwSemState<B::Waiter> {
        &self.guard
    }
}

impl<B: RwSemBackend> core::ops::DerefMut for StateGuard<'_, B> {
    fn deref_mut(&mut self) -> &mut RwSemState<B::Waiter> {
        self.changed = true;
        &mut self.guard
    }
}

impl<B: RwSemBackend> Drop for StateGuard<'_, B> {
    fn drop(&mut self) {
        if self.changed {
            let word = self.guard.owner_word();
            if self.owner_word.load(Ordering::Relaxed) != word {
                self.owner_word.store(word, Ordering::Release);
            }
        }
        // `guard` is dropped after this, releasing `wait_lock`; then `_irqs`.
    }
}

/// What a spinner found under `wait_lock` when it could not take the lock.
enum SpinTarget<W> {
    /// Write-owned by this thread: spin while it runs.
    Writer(W),
    /// Read-owned by this many readers (only writers spin on readers).
    Readers(usize),
    /// Spinning cannot help: stop and queue.
    Stop,
}

/// How a spin on the current owner ended.
enum SpinEnd {
    /// The owner word changed: look again (and try to take the lock).
    Changed,
    /// The owner stopped running, the spinner should reschedule, or the
    /// spin bound ran out.
    GiveUp,
    /// A writer spun on readers for the reader-owned threshold.
    ReadersTooLong,
}

/// How long a writer spins on a read-owned lock before it gives up and
/// marks the period non-spinnable (Linux `rwsem_rspin_threshold`): the more
/// readers, the longer they take to drain, from 10 us up to 25 us at 30
/// readers.
fn rspin_threshold_ns(readers: usize) -> u64 {
    (20 + readers.min(30) as u64) * 1000 / 2
}

impl<W> RwSemState<W> {
    /// The owner word that describes this state (see [`OWNER_WRITER`]).
    fn owner_word(&self) -> usize {
        let mut word = self.owner_gen << OWNER_GEN_SHIFT;
        if self.writer {
            word |= OWNER_WRITER;
        }
        if self.readers > 0 {
            word |= OWNER_READERS;
        }
        if self.nonspinnable {
            word |= OWNER_NONSPINNABLE;
        }
        if !self.wait_list.is_empty() {
            word |= OWNER_WAITERS;
        }
        word
    }
}

impl<W: Clone> RwSemState<W> {
    /// Take the lock in `mode` if that needs no waiting (the fast path).
    /// `me` is the caller's token, recorded as the owner of a write hold.
    fn try_acquire(&mut self, mode: WaitFor, now: u64, me: Option<&W>) -> bool {
        match mode {
            WaitFor::Read if self.can_read_now() => self.grant_read(now, None),
            WaitFor::Write if self.can_write_now() => self.grant_write(now, None, me.cloned()),
            _ => return false,
        }
        true
    }

    /// What a spinner that failed to take the lock in `mode` could spin on
    /// (Linux `rwsem_can_spin_on_owner` and `rwsem_owner_state`).
    ///
    /// A spinner only ever takes the lock the way the fast path does: when
    /// nobody is queued. Grant-before-wake hands a released lock straight
    /// to the head of the queue, so with a waiter queued the lock never
    /// becomes free for a spinner, and a read-owned lock does not take new
    /// readers past a queued writer: spinning would be for nothing, so
    /// queued waiters stop it.
    fn spin_target(&self, mode: WaitFor) -> SpinTarget<W> {
        if !self.wait_list.is_empty() {
            return SpinTarget::Stop;
        }
        if self.writer {
            return match &self.owner {
                Some(owner) => SpinTarget::Writer(owner.clone()),
                None => SpinTarget::Stop,
            };
        }
        if mode == WaitFor::Write && self.readers > 0 && !self.nonspinnable {
            return SpinTarget::Readers(self.readers);
        }
        SpinTarget::Stop
    }

    fn mode_stats(&mut self, mode: WaitFor) -> &mut RwSemModeStats {
        match mode {
            WaitFor::Read => &mut self.stats.read,
            WaitFor::Write => &mut self.stats.write,
        }
    }

    fn can_read_now(&self) -> bool {
        !self.writer && self.wait_list.is_empty()
    }

    fn can_write_now(&self) -> bool {
        !self.writer && self.readers == 0 && self.wait_list.is_empty()
    }

    /// Add a read hold; `queued_at_ns` is set if the reader waited.
    fn grant_read(&mut self, now: u64, queued_at_ns: Option<u64>) {
        if self.readers == 0 {
            self.read_owned_at_ns = now;
            self.owner_gen = self.owner_gen.wrapping_add(1);
        }
        self.readers += 1;
        let st = &mut self.stats.read;
        st.acquired += 1;
        if let Some(t) = queued_at_ns {
            st.contended += 1;
            st.wait_ns.record(now.saturating_sub(t));
        }
    }

    /// Make the lock write-owned by `owner` (if known); `queued_at_ns` is
    /// set if the writer waited.
    fn grant_write(&mut self, now: u64, queued_at_ns: Option<u64>, owner: Option<W>) {
        debug_assert!(!self.writer && self.readers == 0);
        self.writer = true;
        self.write_locked_at_ns = now;
        self.owner = owner;
        self.owner_gen = self.owner_gen.wrapping_add(1);
        self.nonspinnable = false;
        let st = &mut self.stats.write;
        st.acquired += 1;
        if let Some(t) = queued_at_ns {
            st.contended += 1;
            st.wait_ns.record(now.saturating_sub(t));
        }
    }

    /// The write hold ends; returns the owner's token, to be dropped after
    /// `wait_lock`.
    fn end_write_hold(&mut self, now: u64) -> Option<W> {
        self.writer = false;
        let held = now.saturating_sub(self.write_locked_at_ns);
        self.stats.write.hold_ns.record(held);
        self.owner.take()
    }

    /// Grant the lock to whoever at the head of the queue can have it now,
    /// and put them on `wake_q` (Linux `rwsem_mark_wake`). Does nothing if
    /// the head cannot be granted, so it is safe to call after any change.
    fn mark_wake(&mut self, policy: WakePolicy, now: u64, wake_q: &mut WakeQ<W>, wake_now: &dyn Fn(&W)) {
        let Some(first) = self.wait_list.front() else {
            return;
        };
        match first.wait_for {
            WaitFor::Write => {
                if self.writer || self.readers > 0 {
                    return;
                }
                if let Some(w) = self.wait_list.pop_front() {
                    self.grant_write(now, Some(w.queued_at_ns), Some(w.task.clone()));
                    wake_q.add(w.task, wake_now);
                }
            }
            WaitFor::Read => {
                if self.writer {
                    return;
                }
                let mut i = 0;
                while i < self.wait_list.len() {
                    if self.wait_list[i].wait_for == WaitFor::Write {
                        match policy {
                            WakePolicy::FrontReaders => break,
                            WakePolicy::AllReaders => {
                                i += 1;
                                continue;
                            }
                        }
                    }
                    if let Some(w) = self.wait_list.remove(i) {
                        self.grant_read(now, Some(w.queued_at_ns));
                        wake_q.add(w.task, wake_now);
                    }
                }
            }
        }
    }

    /// The invariants of the module documentation; checked in debug builds
    /// and in loom models (which run optimised).
    fn check_invariants(&self) {
        if !cfg!(any(debug_assertions, loom)) {
            return;
        }
        assert!(!(self.writer && self.readers > 0), "rwsem both read- and write-owned");
        assert!(self.writer || self.owner.is_none(), "rwsem owner recorded without a writer");
        assert!(!(self.writer && self.nonspinnable), "write-owned rwsem marked non-spinnable");
        if let Some(first) = self.wait_list.front() {
            assert!(self.writer || self.readers > 0, "rwsem free with waiters queued");
            if first.wait_for == WaitFor::Read {
                assert!(self.writer, "reader queued at the head of a rwsem it could share");
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn uncontended_modes_and_inspection() {
        let sem = RwSem::new(StdBackend::new());
        assert!(!sem.is_locked());
        sem.down_read();
        assert!(sem.down_read_trylock());
        assert_eq!(sem.readers(), 2);
        assert!(!sem.down_write_trylock());
        sem.assert_locked();
        sem.up_read();
        sem.up_read();
        {
            let w = sem.write();
            sem.assert_write_locked();
            assert!(sem.try_read().is_none());
            let r = w.downgrade();
            assert!(!sem.is_write_locked());
            assert_eq!(sem.readers(), 1);
            assert!(sem.try_read().is_some(), "no waiters: a downgraded lock is shared");
            drop(r);
        }
        assert!(!sem.is_locked());
        assert!(!sem.is_contended());
        assert_eq!(sem.down_write_killable(), Ok(()));
        assert_eq!(alloc::format!("{sem:?}"), "RwSem { readers: 0, writer: true, wait_list: [], policy: AllReaders }");
        sem.up_write();
        let st = sem.stats();
        assert_eq!(st.read.acquired, 3);
        assert_eq!(st.write.acquired, 2);
        assert_eq!(st.write.trylock_failed, 1);
        assert_eq!(st.read.trylock_failed, 1);
        assert_eq!(st.downgrades, 1);
        assert_eq!(st.write.hold_ns.count, 2);
        // read-owned periods: [down_read .. both up_read], [downgrade .. drop]
        assert_eq!(st.read.hold_ns.count, 2);
        assert_eq!(st.read.contended + st.write.contended, 0);
    }
}
