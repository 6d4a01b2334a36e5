//! The population strategies: the five ways of holding the mmap lock while
//! faulting in the pages of a range ([`PopulateStrategy`]), the global and
//! per-mm setting, and what population tells the test hook
//! ([`PopulateProgress`]). The population itself is in [`crate::gup`].
//!
//! # Strategies
//!
//! | strategy | lock while faulting |
//! |---|---|
//! | `hold-write` | the write lock taken for the vma changes, until the end |
//! | `downgrade-retake` | per vma: write for the change, downgrade, populate under read, *drop*, retake write, re-check only that some vma covers the range (`EAGAIN` if not), go on (see [`crate::mlock_downgrade_retake`]) |
//! | `downgrade-at-end` | write for all vma changes, one downgrade, populate everything under that read hold, drop |
//! | `populate-unlocked` | write for the vma changes, dropped; then one read hold for the whole range, across vmas, re-looking the vma up only if the hold was dropped (never, in Holdfast: see [`crate::gup`]) |
//! | `yield-to-waiters` | as `populate-unlocked`, but the read hold ends every [`YIELD_HOLD_PAGES`] pages; population then retakes it (behind any writer that waits) and looks the vma up again |
//!
//! Paths that populate after changing vmas (mlock, mlockall, mmap with
//! `MAP_LOCKED`/`MAP_POPULATE`/`MCL_FUTURE`, brk under `MCL_FUTURE`,
//! mremap) all go through [`MmStruct::populate_after_write`](crate::MmStruct::populate_after_write), which applies
//! the strategy; only mlock/mlockall under `downgrade-retake` use the
//! per-vma loop of [`crate::mlock_downgrade_retake`]. mprotect's "locked private vma gains
//! write" population runs under its write lock, as in Linux.
//!
//! The setting: a global default ([`set_global_strategy`], for the kernel's
//! command line and `/proc/sys/vm/mlock_populate`) and an optional per-mm
//! override ([`MmStruct::set_populate_strategy`](crate::MmStruct::set_populate_strategy), used by tests that run in
//! parallel).
//!
//! # Test hook
//!
//! The mm's populate hook ([`MmStruct::set_populate_hook`]) is called with
//! a [`PopulateProgress`]: the range, how far population has got and what
//! it holds of `mmap_lock` (never the inner lock). It runs wherever each
//! strategy could let another thread in:
//!
//! - with the lock held, while pages of the range remain: after every
//!   [`POPULATE_BATCH_PAGES`] pages of one hold (`Write` under `hold-write`
//!   and mprotect; `Read` under the downgrade strategies and
//!   `populate-unlocked`). A thread that tries to take the lock from there
//!   waits, or (a reader, under `Read`) gets in;
//! - with nothing held (`Unlocked`): under `populate-unlocked` and
//!   `yield-to-waiters` before every read lock population takes (the first
//!   one, right after the write lock of the vma changes was dropped, and
//!   after every yield); under `downgrade-retake` between each vma's
//!   `up_read` and the `down_write` that follows (also after the last vma:
//!   its re-check comes after that window).
//!
//! A test uses it to make another thread act exactly there; an `Unlocked`
//! hook may call the mm itself.
//!
//! Locking: the global setting is an atomic; nothing else here touches
//! shared state.

use core::sync::atomic::{AtomicU8, Ordering};

use crate::addr::PAGE_SIZE;

/// How often the test hook runs while population holds the lock, in pages.
pub const POPULATE_BATCH_PAGES: u64 = 64;

/// `yield-to-waiters`' read hold, in pages: after this many, population
/// drops `mmap_lock` and takes it again, so a writer waits for at most
/// about this many page faults. The size is a trade: each drop lets one
/// waiting writer in, which costs population the writer's critical
/// section and a wake-up; with 256 pages (1 MiB) population keeps 0.86x
/// hold-write's pages/s on two CPUs under QEMU, and a writer waits about
/// half a millisecond per hold on warm memory (about 3 ms when every frame
/// is new to the host: 90 000 pages/s). 128 pages gave no shorter worst
/// case there (host jitter dominates) and a lower rate. A hold that ended as soon as
/// a writer queued, after a single page, let a writer on another CPU
/// that asks again at once in every page: 0.43x hold-write's pages/s on
/// two CPUs.
pub const YIELD_HOLD_PAGES: u64 = 256;

/// How population holds the mmap lock. See the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PopulateStrategy {
    /// Before 2.6.28: the write lock from start to end.
    HoldWrite = 0,
    /// Schermerhorn 2008, with its race kept on purpose.
    DowngradeRetake = 1,
    /// Linus 2009: downgrade once after all vma changes.
    DowngradeAtEnd = 2,
    /// Lespinasse, Linux 3.9+: vma changes under write, dropped; then one
    /// read hold across vmas.
    PopulateUnlocked = 3,
    /// Beyond Linux: as `PopulateUnlocked`, but the read hold ends after a
    /// batch of pages, or when another thread waits.
    #[default]
    YieldToWaiters = 4,
}

impl PopulateStrategy {
    /// Every strategy, in history order.
    pub const ALL: [PopulateStrategy; 5] = [
        PopulateStrategy::HoldWrite,
        PopulateStrategy::DowngradeRetake,
        PopulateStrategy::DowngradeAtEnd,
        PopulateStrategy::PopulateUnlocked,
        PopulateStrategy::YieldToWaiters,
    ];

    /// The name used on the command line and in `/proc/sys/vm/mlock_populate`.
    pub const fn name(self) -> &'static str {
        match self {
            PopulateStrategy::HoldWrite => "hold-write",
            PopulateStrategy::DowngradeRetake => "downgrade-retake",
            PopulateStrategy::DowngradeAtEnd => "downgrade-at-end",
            PopulateStrategy::PopulateUnlocked => "populate-unlocked",
            PopulateStrategy::YieldToWaiters => "yield-to-waiters",
        }
    }

    /// Parse a [`name`](Self::name) (surrounding whitespace, e.g. the
    /// newline of `echo x > /proc/sys/...`, is ignored).
    pub fn from_name(s: &str) -> Option<PopulateStrategy> {
        let s = s.trim();
        Self::ALL.into_iter().find(|p| p.name() == s)
    }

    /// From the `repr(u8)` value.
    pub const fn from_u8(v: u8) -> Option<PopulateStrategy> {
        match v {
            0 => Some(PopulateStrategy::HoldWrite),
            1 => Some(PopulateStrategy::DowngradeRetake),
            2 => Some(PopulateStrategy::DowngradeAtEnd),
            3 => Some(PopulateStrategy::PopulateUnlocked),
            4 => Some(PopulateStrategy::YieldToWaiters),
            _ => None,
        }
    }
}

/// What population holds of `mmap_lock` where the test hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopulateLock {
    /// The write lock: no other thread can take `mmap_lock` at all.
    Write,
    /// A read hold: other readers get in, a writer waits.
    Read,
    /// Nothing: any thread can take `mmap_lock`.
    Unlocked,
}

/// Where population is when the test hook runs: it populates
/// `[start, end)`, has got to `addr`, and holds `lock`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PopulateProgress {
    pub start: u64,
    pub end: u64,
    pub addr: u64,
    pub lock: PopulateLock,
}

impl PopulateProgress {
    /// Pages of the range population has gone past (faulted in or skipped).
    pub fn done(&self) -> u64 {
        (self.addr.saturating_sub(self.start)) / PAGE_SIZE
    }

    /// Pages of the range still ahead of population.
    pub fn remaining(&self) -> u64 {
        (self.end.saturating_sub(self.addr)) / PAGE_SIZE
    }
}

static GLOBAL_STRATEGY: AtomicU8 = AtomicU8::new(PopulateStrategy::YieldToWaiters as u8);

/// Set the strategy of every mm that has no override of its own.
pub fn set_global_strategy(s: PopulateStrategy) {
    GLOBAL_STRATEGY.store(s as u8, Ordering::Relaxed);
}

/// The global strategy (default `yield-to-waiters`).
pub fn global_strategy() -> PopulateStrategy {
    PopulateStrategy::from_u8(GLOBAL_STRATEGY.load(Ordering::Relaxed)).unwrap_or_default()
}
