//! TAP-like reporting: `ok N - what` / `not ok N - what (got X, expected Y)`,
//! then a plan line `1..N` and `NAME: P passed, F failed`. A program's exit
//! status is its number of failures (capped at 100; 101 means it panicked).

use core::fmt::{Debug, Display};

pub struct Tap {
    name: &'static str,
    n: u32,
    failed: u32,
}

impl Tap {
    pub fn new(name: &'static str) -> Self {
        crate::println!("# {}", name);
        Tap { name, n: 0, failed: 0 }
    }

    /// Record a check that passes when `cond` holds.
    pub fn ok(&mut self, cond: bool, what: impl Display) -> bool {
        self.n += 1;
        if cond {
            crate::println!("ok {} - {}", self.n, what);
        } else {
            self.failed += 1;
            crate::println!("not ok {} - {}", self.n, what);
        }
        cond
    }

    /// Record a check with the observed and expected values shown on failure.
    pub fn check(&mut self, cond: bool, what: impl Display, got: impl Debug, expected: impl Display) -> bool {
        self.n += 1;
        if cond {
            crate::println!("ok {} - {}", self.n, what);
        } else {
            self.failed += 1;
            crate::println!("not ok {} - {} (got {:?}, expected {})", self.n, what, got, expected);
        }
        cond
    }

    /// `got == expected`.
    pub fn eq<T: PartialEq + Debug>(&mut self, got: T, expected: T, what: impl Display) -> bool {
        self.n += 1;
        if got == expected {
            crate::println!("ok {} - {}", self.n, what);
            true
        } else {
            self.failed += 1;
            crate::println!("not ok {} - {} (got {:?}, expected {:?})", self.n, what, got, expected);
            false
        }
    }

    /// A free-form diagnostic line (`# ...`).
    pub fn note(&self, msg: impl Display) {
        crate::println!("# {}", msg);
    }

    pub fn failures(&self) -> u32 {
        self.failed
    }

    /// Print the plan and summary; return the exit status.
    pub fn finish(self) -> i32 {
        crate::println!("1..{}", self.n);
        crate::println!("{}: {} passed, {} failed", self.name, self.n - self.failed, self.failed);
        self.failed.min(100) as i32
    }
}
