//! A latency histogram with log-linear buckets (like HdrHistogram, 4 bits of
//! sub-bucket precision): values below 16 ns are exact, above that each
//! power-of-two range is split into 16 buckets, so a reported percentile is
//! the upper edge of its bucket and at most 6.25% above the true value. The
//! maximum and minimum are exact. 976 buckets = 7.6 KiB, independent of how
//! many samples are recorded, so a thread can record for as long as it likes.

use alloc::boxed::Box;
use core::fmt;

const SUB_BITS: u32 = 4;
const SUB: usize = 1 << SUB_BITS;
const BUCKETS: usize = (64 - SUB_BITS as usize + 1) * SUB;

pub struct Histogram {
    buckets: Box<[u64; BUCKETS]>,
    count: u64,
    sum: u64,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

fn index(v: u64) -> usize {
    if v < SUB as u64 {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros(); // >= SUB_BITS
    let sub = ((v >> (msb - SUB_BITS)) as usize) & (SUB - 1);
    (msb - SUB_BITS + 1) as usize * SUB + sub
}

/// Largest value that falls in bucket `i`.
fn upper(i: usize) -> u64 {
    if i < SUB {
        return i as u64;
    }
    let msb = (i / SUB) as u32 + SUB_BITS - 1;
    let sub = (i % SUB) as u64;
    let lower = (SUB as u64 + sub) << (msb - SUB_BITS);
    lower + ((1u64 << (msb - SUB_BITS)) - 1)
}

impl Histogram {
    pub fn new() -> Self {
        Histogram { buckets: Box::new([0; BUCKETS]), count: 0, sum: 0, min: u64::MAX, max: 0 }
    }

    pub fn record(&mut self, v: u64) {
        self.buckets[index(v)] += 1;
        self.count += 1;
        self.sum = self.sum.saturating_add(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets.iter()) {
            *a += *b;
        }
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.count
    }
    pub fn max(&self) -> u64 {
        self.max
    }
    pub fn min(&self) -> u64 {
        if self.count == 0 {
            0
        } else {
            self.min
        }
    }
    pub fn mean(&self) -> u64 {
        self.sum.checked_div(self.count).unwrap_or(0)
    }

    /// The value at `per_mille` (e.g. 500 = p50, 990 = p99), clamped to max.
    pub fn percentile(&self, per_mille: u32) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = (self.count * per_mille as u64).div_ceil(1000).max(1);
        let mut seen = 0;
        for (i, &c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper(i).min(self.max);
            }
        }
        self.max
    }

    pub fn p50(&self) -> u64 {
        self.percentile(500)
    }
    pub fn p99(&self) -> u64 {
        self.percentile(990)
    }
}

/// Nanoseconds shown as microseconds with two decimals, e.g. `12.34`.
pub struct Micros(pub u64);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = alloc::format!("{}.{:02}", self.0 / 1000, (self.0 % 1000) / 10);
        f.pad(&s)
    }
}

/// Internal consistency check used by `contend`'s self-test line.
pub fn self_check() -> bool {
    let mut ok = true;
    let mut prev = 0;
    for v in [0u64, 1, 15, 16, 17, 31, 32, 33, 1000, 123_456, 1 << 40, u64::MAX] {
        let i = index(v);
        ok &= i < BUCKETS && upper(i) >= v && i >= prev;
        ok &= i == 0 || upper(i - 1) < v;
        prev = i;
    }
    let mut h = Histogram::new();
    for v in 1..=1000u64 {
        h.record(v * 1000);
    }
    let p50 = h.p50();
    ok &= (500_000..=500_000 + 500_000 / 16).contains(&p50);
    ok &= h.max() == 1_000_000 && h.p99() <= 1_000_000 && h.p99() >= 990_000;
    ok
}
