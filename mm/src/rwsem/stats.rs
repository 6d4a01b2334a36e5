//! Per-rwsem lock statistics: how often each mode was taken, how often it
//! had to wait, and log2 histograms of wait and hold times.
//!
//! The counters live inside the rwsem's `wait_lock`-protected state and are
//! updated by whoever grants or releases the lock, so they cost no atomics of
//! their own. [`RwSem::stats`](super::RwSem::stats) copies them out as plain
//! numbers (for `/proc` and benchmarks).
//!
//! What is measured:
//!
//! * `acquired`: every successful acquisition in that mode (fast path,
//!   trylock, or granted from the wait queue). A `downgrade_write` is counted
//!   in [`RwSemStats::downgrades`], not as a read acquisition.
//! * `contended`: acquisitions that had to queue; `wait_ns` has one sample
//!   per contended acquisition: from enqueue to the moment the lock was
//!   granted (grant-before-wake: the wake-up latency of the scheduler is not
//!   included). Uncontended acquisitions add no wait sample.
//! * `hold_ns` for writes: one sample per write hold, from acquisition to
//!   `up_write` or `downgrade_write`.
//! * `hold_ns` for reads: one sample per *read-owned period*, from the moment
//!   the reader count goes 0 -> 1 (acquisition or downgrade) to the moment it
//!   returns to 0. For a lone reader that is its hold time; with overlapping
//!   readers it is how long writers were kept out. (Per-reader hold times
//!   would need a start time per holder, which the raw `down_read`/`up_read`
//!   API has nowhere to keep.)
//! * `trylock_failed`, `interrupted` (killable waits that returned `EINTR`).
//! * `spin_acquired`: acquisitions made by optimistic spinning (the thread
//!   spun while the owner ran and took the lock without queueing; Linux
//!   lock event `rwsem_opt_wlock` / `rwsem_opt_rlock`). They are counted in
//!   `acquired` too, not in `contended`, and add no wait sample.
//! * `spin_failed`: contended acquisitions that were allowed to spin
//!   (the backend's `can_spin`) but did not get the lock by spinning and
//!   went on to queue: the owner was not running, a waiter was already
//!   queued, the spin bound ran out, and so on (Linux `rwsem_opt_fail`).
//!   Uncontended acquisitions and backends that never spin count neither.
//!
//! [`RwSemStats`] implements `Display` as the table `/proc/<pid>/mmap_lock`
//! shows: one line per mode, times in ns (log2 bucket bounds).

/// Number of buckets in a [`Log2Histogram`].
pub const HIST_BUCKETS: usize = 32;

/// A histogram of nanosecond durations with power-of-two buckets.
///
/// Bucket 0 holds 0 and 1 ns, bucket `i` (1 <= i < 31) holds
/// `[2^i, 2^(i+1))` ns, and the last bucket holds everything from 2^31 ns
/// (about 2.1 s) up. The exact maximum and sum are kept beside the buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Log2Histogram {
    /// Sample counts per bucket.
    pub buckets: [u64; HIST_BUCKETS],
    /// Number of samples.
    pub count: u64,
    /// Sum of all samples, saturating.
    pub sum_ns: u64,
    /// Largest sample (exact).
    pub max_ns: u64,
}

impl Default for Log2Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Log2Histogram {
    /// An empty histogram.
    pub const fn new() -> Self {
        Self { buckets: [0; HIST_BUCKETS], count: 0, sum_ns: 0, max_ns: 0 }
    }

    /// The bucket a sample of `ns` nanoseconds falls into.
    pub const fn bucket_of(ns: u64) -> usize {
        if ns < 2 {
            return 0;
        }
        let log2 = (63 - ns.leading_zeros()) as usize;
        if log2 >= HIST_BUCKETS - 1 {
            HIST_BUCKETS - 1
        } else {
            log2
        }
    }

    /// The largest value bucket `i` can hold (`u64::MAX` for the last one).
    pub const fn bucket_upper_ns(i: usize) -> u64 {
        if i >= HIST_BUCKETS - 1 {
            u64::MAX
        } else {
            (2u64 << i) - 1
        }
    }

    /// Add one sample.
    pub fn record(&mut self, ns: u64) {
        self.buckets[Self::bucket_of(ns)] += 1;
        self.count += 1;
        self.sum_ns = self.sum_ns.saturating_add(ns);
        self.max_ns = self.max_ns.max(ns);
    }

    /// An upper bound for the `num/den` quantile (e.g. `(99, 100)` for
    /// p99): the upper edge of the bucket that holds it, but never more than
    /// the exact maximum. 0 for an empty histogram or `den == 0`.
    pub fn percentile(&self, num: u64, den: u64) -> u64 {
        if self.count == 0 || den == 0 {
            return 0;
        }
        // The rank (1-based) of the sample we want: ceil(count * num / den),
        // at least 1 and at most count.
        let rank = ((self.count as u128 * num.min(den) as u128).div_ceil(den as u128) as u64).clamp(1, self.count);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::bucket_upper_ns(i).min(self.max_ns);
            }
        }
        self.max_ns
    }

    /// Median (upper bucket bound).
    pub fn p50(&self) -> u64 {
        self.percentile(50, 100)
    }

    /// 99th percentile (upper bucket bound).
    pub fn p99(&self) -> u64 {
        self.percentile(99, 100)
    }

    /// The largest sample.
    pub fn max(&self) -> u64 {
        self.max_ns
    }

    /// Mean of the samples, 0 if there are none.
    pub fn mean(&self) -> u64 {
        self.sum_ns.checked_div(self.count).unwrap_or(0)
    }
}

/// Statistics of one lock mode (read or write).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RwSemModeStats {
    /// Successful acquisitions (fast path, trylock, or granted after waiting).
    pub acquired: u64,
    /// Acquisitions that had to queue first.
    pub contended: u64,
    /// `*_trylock` calls that failed.
    pub trylock_failed: u64,
    /// Killable waits abandoned with `EINTR`.
    pub interrupted: u64,
    /// Acquisitions made by optimistic spinning, without queueing.
    pub spin_acquired: u64,
    /// Optimistic spins that ended without the lock (the thread queued).
    pub spin_failed: u64,
    /// Wait time of contended acquisitions (enqueue -> grant).
    pub wait_ns: Log2Histogram,
    /// Hold time: per write hold, or per read-owned period (see module doc).
    pub hold_ns: Log2Histogram,
}

/// A snapshot of one rwsem's statistics: plain numbers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RwSemStats {
    /// Shared (read) mode.
    pub read: RwSemModeStats,
    /// Exclusive (write) mode.
    pub write: RwSemModeStats,
    /// `downgrade_write` calls.
    pub downgrades: u64,
}

impl core::fmt::Display for RwSemStats {
    /// The `/proc/<pid>/mmap_lock` table: a header, one line per mode, then
    /// the downgrade count.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(
            f,
            "mode  acquired contended trylock_failed interrupted spin_acquired spin_failed \
             wait_p50 wait_p99 wait_max hold_p50 hold_p99 hold_max"
        )?;
        for (name, m) in [("read", &self.read), ("write", &self.write)] {
            writeln!(
                f,
                "{:<5} {:>8} {:>9} {:>14} {:>11} {:>13} {:>11} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
                name,
                m.acquired,
                m.contended,
                m.trylock_failed,
                m.interrupted,
                m.spin_acquired,
                m.spin_failed,
                m.wait_ns.p50(),
                m.wait_ns.p99(),
                m.wait_ns.max(),
                m.hold_ns.p50(),
                m.hold_ns.p99(),
                m.hold_ns.max()
            )?;
        }
        writeln!(f, "downgrades {}", self.downgrades)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two() {
        assert_eq!(Log2Histogram::bucket_of(0), 0);
        assert_eq!(Log2Histogram::bucket_of(1), 0);
        assert_eq!(Log2Histogram::bucket_of(2), 1);
        assert_eq!(Log2Histogram::bucket_of(3), 1);
        assert_eq!(Log2Histogram::bucket_of(4), 2);
        assert_eq!(Log2Histogram::bucket_of(1023), 9);
        assert_eq!(Log2Histogram::bucket_of(1024), 10);
        assert_eq!(Log2Histogram::bucket_of(1 << 31), 31);
        assert_eq!(Log2Histogram::bucket_of(u64::MAX), 31);
        assert_eq!(Log2Histogram::bucket_upper_ns(0), 1);
        assert_eq!(Log2Histogram::bucket_upper_ns(10), 2047);
        assert_eq!(Log2Histogram::bucket_upper_ns(31), u64::MAX);
    }

    #[test]
    fn display_is_the_proc_table() {
        let mut st = RwSemStats::default();
        st.read.acquired = 5;
        st.read.spin_acquired = 1;
        st.write.acquired = 7;
        st.write.contended = 2;
        st.write.spin_acquired = 3;
        st.write.spin_failed = 4;
        st.write.hold_ns.record(100);
        st.downgrades = 1;
        let text = alloc::format!("{st}");
        let lines: alloc::vec::Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        let header: alloc::vec::Vec<&str> = lines[0].split_whitespace().collect();
        assert_eq!(
            &header[..7],
            ["mode", "acquired", "contended", "trylock_failed", "interrupted", "spin_acquired", "spin_failed"]
        );
        assert_eq!(header.len(), 13);
        let read: alloc::vec::Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(&read[..7], ["read", "5", "0", "0", "0", "1", "0"]);
        let write: alloc::vec::Vec<&str> = lines[2].split_whitespace().collect();
        assert_eq!(write, ["write", "7", "2", "0", "0", "3", "4", "0", "0", "0", "100", "100", "100"]);
        assert_eq!(lines[3], "downgrades 1");
    }

    #[test]
    fn percentiles_from_buckets() {
        let mut h = Log2Histogram::new();
        assert_eq!((h.p50(), h.p99(), h.max(), h.mean()), (0, 0, 0, 0));
        // 98 samples of 100 ns (bucket 6: 64..127), 2 samples of 5000 ns
        // (bucket 12: 4096..8191).
        for _ in 0..98 {
            h.record(100);
        }
        h.record(5000);
        h.record(5000);
        assert_eq!(h.count, 100);
        assert_eq!(h.p50(), 127);
        assert_eq!(h.percentile(98, 100), 127);
        // p99 falls in the 5000 ns bucket, whose upper edge 8191 is capped
        // by the exact max.
        assert_eq!(h.p99(), 5000);
        assert_eq!(h.max(), 5000);
        assert_eq!(h.mean(), (98 * 100 + 2 * 5000) / 100);
        assert_eq!(h.percentile(0, 100), 127, "p0 is the first sample's bucket");
        assert_eq!(h.percentile(1, 0), 0);
    }
}
