//! `cargo xtask bench`: rerun the seeds' experiment on every population
//! strategy.
//!
//! For each strategy and region size, Holdfast boots with
//! `mlock_populate=STRATEGY init=/mlock_contend SIZE REPS`; the program
//! mlocks the region while three threads time (a) mmap+munmap of one page
//! (a writer on the mmap lock), (b) first-touch faults (a reader) and (c)
//! reads of /proc/self/maps (a reader), and prints one `RESULT` line. The
//! lines become one table. Benchmarks report figures; they never fail on a
//! time (a boot that produces no RESULT line is reported as missing).

use std::collections::BTreeMap;
use std::time::Duration;

use boot::Firmware;
use mm::populate::PopulateStrategy;

use crate::build::{self, Paths};
use crate::cli::BenchOpts;
use crate::error::{Error, Result};
use crate::image::{cmdline, initrd_entries, make_images};
use crate::qemu::{self, Flow};

/// The strategies' names (`mlock_populate=NAME`), in the order of their
/// history: the kernel's own list, [`PopulateStrategy::ALL`].
pub const STRATEGIES: [&str; PopulateStrategy::ALL.len()] = {
    let mut names = [""; PopulateStrategy::ALL.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = PopulateStrategy::ALL[i].name();
        i += 1;
    }
    names
};

/// Parse `key=value` pairs of a `RESULT ...` line.
pub fn parse_result(line: &str) -> Option<BTreeMap<String, String>> {
    let rest = line.trim().strip_prefix("RESULT ")?;
    Some(
        rest.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn row(strategy: &str, size: u64, r: Option<&BTreeMap<String, String>>) -> String {
    let g = |k: &str| r.and_then(|m| m.get(k)).map_or("-".to_string(), |v| v.clone());
    let lat = |p: &str| format!("{}/{}/{}", g(&format!("{p}_p50")), g(&format!("{p}_p99")), g(&format!("{p}_max")));
    format!(
        "{:<18} {:>5} {:>10} {:>12} {:>24} {:>24} {:>24}",
        strategy,
        size,
        g("mlock_ms"),
        g("pages_per_s"),
        lat("a"),
        lat("b"),
        lat("c")
    )
}

/// Run the benchmark matrix and print the table.
pub fn bench(opts: &BenchOpts) -> Result<i32> {
    let paths = Paths::new();
    qemu::check_qemu()?;
    let kernel = build::build_kernel(&paths, false)?;
    let user = crate::user::build_user_programs(&paths)?;
    let program = user.join("mlock_contend");
    if !program.exists() {
        return Err(Error::new("user program mlock_contend was not built"));
    }
    let header = format!(
        "{:<18} {:>5} {:>10} {:>12} {:>24} {:>24} {:>24}",
        "strategy", "MiB", "mlock_ms", "pages/s", "(a) mmap p50/p99/max", "(b) fault p50/p99/max", "(c) maps p50/p99/max"
    );
    let mut rows = Vec::new();
    for size in &opts.sizes_mib {
        for strategy in &opts.strategies {
            let words = vec![format!("mlock_populate={strategy}")];
            let init = vec!["/mlock_contend".to_string(), size.to_string(), opts.reps.to_string()];
            let line = cmdline(&words, &init).map_err(Error::new)?;
            let entries = initrd_entries(&line, std::slice::from_ref(&program))?;
            let stem = format!("bench-{strategy}-{size}");
            let images = make_images(&paths, &kernel, &entries, &paths.out.join("cases"), &stem, &[Firmware::Bios])?;
            let mut machine = qemu::Machine::new(Firmware::Bios, images.bios.expect("BIOS image requested"));
            machine.mem = "2G".into();
            let log = paths.logs().join(format!("{stem}.log"));
            let mut result = None;
            let outcome = qemu::run(
                &qemu::Run {
                    args: qemu::args(&machine, None),
                    log: &log,
                    echo: false,
                    stdin: false,
                    timeout: Some(Duration::from_secs(600)),
                },
                |l| {
                    if let Some(r) = parse_result(l) {
                        result = Some(r);
                    }
                    Flow::Continue
                },
            )?;
            let r = row(strategy, *size, result.as_ref());
            if result.is_none() {
                eprintln!("{strategy} {size} MiB: no RESULT line ({}; log {})", outcome.exit.describe(), paths.show(&log));
            }
            eprintln!("{r}");
            rows.push(r);
        }
    }
    println!();
    println!("mlock of an untouched region while 3 threads time the mmap lock (latencies in us, of operations overlapping an mlock call):");
    println!("{header}");
    for r in rows {
        println!("{r}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_result_lines() {
        let r = parse_result("RESULT strategy=hold-write region_mib=64 mlock_ms=120 a_p50=3").unwrap();
        assert_eq!(r["strategy"], "hold-write");
        assert_eq!(r["mlock_ms"], "120");
        assert!(parse_result("ok 1 - something").is_none());
        let line = row("hold-write", 64, Some(&r));
        assert!(line.contains("hold-write") && line.contains("120") && line.contains("3/-/-"));
    }
}
