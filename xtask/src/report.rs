//! Reading test output and keeping score: the kernel's `ktest:` serial
//! lines, cargo's per-test and `test result:` lines, and the tally that
//! ends `cargo xtask test` with `N passed, M failed, K skipped`.
//!
//! A test that did not run (a missing prerequisite, a file that does not
//! exist yet, cargo's `#[ignore]`) is counted as skipped, never as passed;
//! only failures make the run fail.

use std::path::PathBuf;

/// One `ktest:` line from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KtestLine {
    Run { index: u32, name: String },
    Ok { index: u32, name: String },
    Failed { index: u32, name: String },
    Done,
}

/// Parses a serial line; `None` for anything that is not a ktest line.
/// Leading noise (e.g. a log prefix or a carriage return) is tolerated.
pub fn parse_ktest(line: &str) -> Option<KtestLine> {
    let rest = &line[line.find("ktest: ")? + "ktest: ".len()..];
    let mut words = rest.split_whitespace();
    let verb = words.next()?;
    if verb == "done" {
        return words.next().is_none().then_some(KtestLine::Done);
    }
    let index = words.next()?.parse().ok()?;
    let name = words.next()?.to_string();
    if words.next().is_some() {
        return None;
    }
    Some(match verb {
        "run" => KtestLine::Run { index, name },
        "ok" => KtestLine::Ok { index, name },
        "FAILED" => KtestLine::Failed { index, name },
        _ => return None,
    })
}

/// Counts from one `test result:` line of `cargo test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CargoCounts {
    pub passed: u32,
    pub failed: u32,
    /// `#[ignore]`d tests: they did not run.
    pub ignored: u32,
}

/// Parses `test result: ok. 12 passed; 0 failed; 1 ignored; ...`.
pub fn parse_cargo_result(line: &str) -> Option<CargoCounts> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let mut counts = CargoCounts::default();
    let (mut got_passed, mut got_failed) = (false, false);
    for part in rest.split(';') {
        let mut words = part.split_whitespace().rev();
        let (Some(label), Some(n)) = (words.next(), words.next()) else { continue };
        let Ok(n) = n.parse::<u32>() else { continue };
        match label {
            "passed" => (counts.passed, got_passed) = (n, true),
            "failed" => (counts.failed, got_failed) = (n, true),
            "ignored" => counts.ignored = n,
            _ => {}
        }
    }
    (got_passed && got_failed).then_some(counts)
}

/// A per-test line of `cargo test`: `test a::b ... ok` -> ("a::b", "ok").
pub fn parse_cargo_test_line(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("test ")?;
    let (name, result) = rest.rsplit_once(" ... ")?;
    matches!(result, "ok" | "FAILED" | "ignored" | "bench").then_some((name, result))
}

/// Running score of `cargo xtask test`.
#[derive(Debug, Default)]
pub struct Tally {
    pub passed: u32,
    pub failed: u32,
    /// Tests that did not run.
    pub skipped: u32,
    /// Failed test names, each with where to look.
    pub failures: Vec<(String, Option<PathBuf>)>,
}

impl Tally {
    /// Records and prints one test result.
    pub fn record(&mut self, name: &str, ok: bool, log: Option<PathBuf>) {
        println!("test {name} ... {}", if ok { "ok" } else { "FAILED" });
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            self.failures.push((name.to_string(), log));
        }
    }

    /// Records and prints a test that did not run, and why.
    pub fn skip(&mut self, name: &str, why: &str) {
        println!("test {name} ... skipped ({why})");
        self.skipped += 1;
    }

    /// Adds counts that were already printed test by test (cargo's).
    pub fn add_counts(&mut self, name: &str, c: CargoCounts, log: Option<PathBuf>) {
        self.passed += c.passed;
        self.failed += c.failed;
        self.skipped += c.ignored;
        if c.failed > 0 {
            self.failures.push((format!("{name} ({} failed)", c.failed), log));
        }
    }

    /// The final line.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed, {} skipped", self.passed, self.failed, self.skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ktest_lines() {
        assert_eq!(parse_ktest("ktest: run 3 rwsem_basic"), Some(KtestLine::Run { index: 3, name: "rwsem_basic".into() }));
        assert_eq!(parse_ktest("ktest: ok 3 rwsem_basic\r"), Some(KtestLine::Ok { index: 3, name: "rwsem_basic".into() }));
        assert_eq!(parse_ktest("ktest: FAILED 0 frames"), Some(KtestLine::Failed { index: 0, name: "frames".into() }));
        assert_eq!(parse_ktest("ktest: done"), Some(KtestLine::Done));
        assert_eq!(parse_ktest("[INFO] ktest: done"), Some(KtestLine::Done));
        assert_eq!(parse_ktest("ktest: run x name"), None);
        assert_eq!(parse_ktest("ktest: run 1"), None);
        assert_eq!(parse_ktest("ktest: skip 1 a"), None);
        assert_eq!(parse_ktest("ktest: done now"), None);
        assert_eq!(parse_ktest("holdfast: kernel main reached"), None);
        assert_eq!(parse_ktest("panicked at kernel/src/x.rs:3:5: ktest: ok"), None);
    }

    #[test]
    fn cargo_result_lines() {
        let l = "test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.03s";
        assert_eq!(parse_cargo_result(l), Some(CargoCounts { passed: 12, failed: 0, ignored: 1 }));
        let l = "test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out; finished in 1.20s";
        assert_eq!(parse_cargo_result(l), Some(CargoCounts { passed: 3, failed: 2, ignored: 0 }));
        assert_eq!(parse_cargo_result("running 3 tests"), None);
        assert_eq!(parse_cargo_result("test result: garbage"), None);
    }

    #[test]
    fn cargo_test_lines() {
        assert_eq!(parse_cargo_test_line("test vma::tests::split ... ok"), Some(("vma::tests::split", "ok")));
        assert_eq!(parse_cargo_test_line("test a ... FAILED"), Some(("a", "FAILED")));
        assert_eq!(
            parse_cargo_test_line("test src/lib.rs - cpio (line 5) ... ignored"),
            Some(("src/lib.rs - cpio (line 5)", "ignored"))
        );
        assert_eq!(parse_cargo_test_line("test result: ok. 1 passed; 0 failed"), None);
    }

    #[test]
    fn tally_summary() {
        let mut t = Tally::default();
        t.record("kernel::a", true, None);
        t.record("kernel::b", false, None);
        t.add_counts("host::mm", CargoCounts { passed: 5, failed: 1, ignored: 0 }, None);
        assert_eq!(t.summary(), "6 passed, 2 failed, 0 skipped");
        assert_eq!(t.failures.len(), 2);
    }

    #[test]
    fn skipped_is_neither_passed_nor_failed() {
        let mut t = Tally::default();
        t.record("user::hello", true, None);
        t.skip("linux::mlock01", "needs root");
        t.add_counts("host::mm", CargoCounts { passed: 2, failed: 0, ignored: 3 }, None);
        assert_eq!((t.passed, t.failed, t.skipped), (3, 0, 4));
        assert_eq!(t.summary(), "3 passed, 0 failed, 4 skipped");
        assert!(t.failures.is_empty());
    }
}
