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
//!
//! With `--plot DIR`, the boots at one size (`--timeline-size`, default
//! the largest) of the last CPU count also run `mlock_contend
//! --timeline`: their per-operation samples around the last mlock become
//! a table and `timeline.svg` ([`crate::timeline`]). A boot whose timeline
//! cannot be read is a note, not a panel.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use boot::Firmware;
use mm::populate::PopulateStrategy;

use crate::build::{self, Paths};
use crate::cli::BenchOpts;
use crate::error::{Error, Result};
use crate::image::{cmdline, initrd_entries, make_images};
use crate::linux_guest::{self, Guest, LinuxMachine, LINUX_CPU, LINUX_CPU_NOTE};
use crate::qemu::{self, Flow};
use crate::timeline;

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

/// One row of the table: a kernel (a Holdfast strategy, or Linux) at one
/// region size, and its `RESULT` fields if the boot produced them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    /// The strategy's name, or `linux RELEASE`.
    pub label: String,
    pub size_mib: u64,
    pub result: Option<BTreeMap<String, String>>,
}

impl Measured {
    fn get(&self, key: &str) -> Option<&str> {
        self.result.as_ref()?.get(key).map(String::as_str)
    }

    /// The RESULT field `key` as a number.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.get(key)?.parse::<f64>().ok().filter(|v| v.is_finite())
    }

    fn is_linux(&self) -> bool {
        self.label == "linux" || self.label.starts_with("linux ")
    }

    /// A contending kind's largest in-mlock latency as a fraction of the
    /// mlock call's time (median mlock): about 1 when that operation
    /// waited out a whole mlock, about 0 when it was never held up.
    pub fn max_over_mlock(&self, kind: &str) -> Option<f64> {
        ratio(self.num(&format!("{kind}_max"))?, self.num("mlock_ms")? * 1000.0)
    }
}

/// `num / den`, if `den` is positive.
fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

fn fmt2(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.2}"))
}

/// The contending kinds of the RESULT line: (a) mmap+munmap, (b) page
/// fault, (c) read of /proc/self/maps.
const KINDS: [&str; 3] = ["a", "b", "c"];

/// The width of the label column: the longest label, at least 18.
fn label_width(rows: &[Measured]) -> usize {
    rows.iter().map(|r| r.label.len()).max().unwrap_or(0).max(18)
}

/// The figures table: mlock time, pages/s and p50/p99/max of each kind.
pub fn figures_table(rows: &[Measured]) -> Vec<String> {
    let w = label_width(rows);
    let mut out = vec![format!(
        "{:<w$} {:>5} {:>10} {:>12} {:>24} {:>24} {:>24}",
        "kernel", "MiB", "mlock_ms", "pages/s", "(a) mmap p50/p99/max", "(b) fault p50/p99/max", "(c) maps p50/p99/max"
    )];
    for r in rows {
        let g = |k: &str| r.get(k).unwrap_or("-").to_string();
        let lat = |p: &str| format!("{}/{}/{}", g(&format!("{p}_p50")), g(&format!("{p}_p99")), g(&format!("{p}_max")));
        out.push(format!(
            "{:<w$} {:>5} {:>10} {:>12} {:>24} {:>24} {:>24}",
            r.label,
            r.size_mib,
            g("mlock_ms"),
            g("pages_per_s"),
            lat("a"),
            lat("b"),
            lat("c")
        ));
    }
    out
}

/// Holdfast's rows next to Linux's, per region size: pages/s and its ratio
/// to Linux's at the same size, and each kind's max latency divided by the
/// mlock time.
pub fn side_by_side_table(rows: &[Measured]) -> Vec<String> {
    let w = label_width(rows);
    let mut out = vec![format!(
        "{:>5} {:<w$} {:>10} {:>12} {:>9} {:>10} {:>10} {:>10}",
        "MiB", "kernel", "mlock_ms", "pages/s", "/linux", "(a) max/ml", "(b) max/ml", "(c) max/ml"
    )];
    let mut sizes: Vec<u64> = Vec::new();
    for r in rows {
        if !sizes.contains(&r.size_mib) {
            sizes.push(r.size_mib);
        }
    }
    for size in sizes {
        let at_size: Vec<&Measured> = rows.iter().filter(|r| r.size_mib == size).collect();
        let linux_pages = at_size.iter().find(|r| r.is_linux()).and_then(|r| r.num("pages_per_s"));
        // Linux's row last, after the strategies it is compared with.
        let ordered = at_size.iter().filter(|r| !r.is_linux()).chain(at_size.iter().filter(|r| r.is_linux()));
        for r in ordered {
            let vs_linux = r.num("pages_per_s").zip(linux_pages).and_then(|(p, l)| ratio(p, l));
            out.push(format!(
                "{:>5} {:<w$} {:>10} {:>12} {:>9} {:>10} {:>10} {:>10}",
                size,
                r.label,
                r.get("mlock_ms").unwrap_or("-"),
                r.get("pages_per_s").unwrap_or("-"),
                vs_linux.map_or("-".to_string(), |v| format!("{v:.2}x")),
                fmt2(r.max_over_mlock(KINDS[0])),
                fmt2(r.max_over_mlock(KINDS[1])),
                fmt2(r.max_over_mlock(KINDS[2])),
            ));
        }
    }
    out
}

/// `1m05s`, `42s`: elapsed time for progress lines.
pub fn minutes(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// The progress line before boot `done + 1` of `total`.
pub fn progress(done: usize, total: usize, what: &str, size: u64, elapsed: Duration) -> String {
    format!(
        "bench [{}/{total}] {what} {size} MiB ({} left after this, {} elapsed)",
        done + 1,
        total - done - 1,
        minutes(elapsed)
    )
}

/// Whether `line` is part of `mlock_contend --timeline`'s output.
pub fn is_timeline_line(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("TIMELINE ") || l.starts_with("TL ")
}

/// What one boot gave: its RESULT fields, if any, and its timeline lines.
type BootOutput = (Option<BTreeMap<String, String>>, Vec<String>);

/// One Holdfast boot of the workload (with `--timeline` if `timeline`).
#[allow(clippy::too_many_arguments)]
fn holdfast_boot(
    paths: &Paths,
    kernel: &Path,
    program: &Path,
    strategy: &str,
    size: u64,
    smp: u32,
    opts: &BenchOpts,
    timeline: bool,
) -> Result<BootOutput> {
    let words = vec![format!("mlock_populate={strategy}")];
    let init = workload(size, opts, timeline);
    let line = cmdline(&words, &init).map_err(Error::new)?;
    let entries = initrd_entries(&line, &[program.to_path_buf()])?;
    let stem = format!("bench-{strategy}-{size}-smp{smp}");
    let images = make_images(paths, kernel, &entries, &paths.out.join("cases"), &stem, &[Firmware::Bios])?;
    let mut machine = qemu::Machine::new(Firmware::Bios, images.bios.expect("BIOS image requested"));
    machine.mem = BENCH_MEM.into();
    machine.smp = smp;
    if opts.linux {
        machine.cpu = LINUX_CPU.into();
    }
    let log = paths.logs().join(format!("{stem}.log"));
    let mut result = None;
    let mut timeline_lines = Vec::new();
    let outcome = qemu::run(
        &qemu::Run { args: qemu::args(&machine, None), log: &log, echo: false, stdin: false, typed: None, timeout: Some(BOOT_TIMEOUT) },
        |l| {
            if let Some(r) = parse_result(l) {
                result = Some(r);
            } else if is_timeline_line(l) {
                timeline_lines.push(l.to_string());
            }
            Flow::Continue
        },
    )?;
    if result.is_none() {
        eprintln!("{strategy} {size} MiB: no RESULT line ({}; log {})", outcome.exit.describe(), paths.show(&log));
    }
    Ok((result, timeline_lines))
}

/// The `init=` of one bench boot: `mlock_contend SIZE REPS [--kinds K]
/// [--timeline]`.
fn workload(size: u64, opts: &BenchOpts, timeline: bool) -> Vec<String> {
    let mut init = vec!["/mlock_contend".to_string(), size.to_string(), opts.reps.to_string()];
    if let Some(k) = &opts.kinds {
        init.extend(["--kinds".to_string(), k.clone()]);
    }
    if timeline {
        init.push("--timeline".to_string());
    }
    init
}

/// A boot's timeline lines as a [`timeline::Run`] labelled `label`; a
/// timeline that cannot be read is reported (and returned as a note)
/// instead.
fn timeline_run(label: &str, size: u64, lines: &[String]) -> std::result::Result<timeline::Run, String> {
    match timeline::parse(lines.iter().map(String::as_str)) {
        Ok(kinds) if kinds.is_empty() => Err(format!("{label} {size} MiB: no timeline in the output")),
        Ok(kinds) => Ok(timeline::Run { label: label.to_string(), kinds }),
        Err(e) => Err(format!("{label} {size} MiB: {e}; not drawn")),
    }
}

/// With several CPU counts: per strategy and size, mlock pages/s and the
/// writer's (a) largest in-mlock latency over the mlock time at each
/// count, side by side. `runs` holds each count's rows.
pub fn by_cpus_table(runs: &[(u32, Vec<Measured>)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut head = format!("{:>5} {:<28}", "MiB", "kernel");
    for (n, _) in runs {
        head.push_str(&format!(" {:>11}", format!("pages/s @{n}")));
    }
    for (n, _) in runs {
        head.push_str(&format!(" {:>11}", format!("(a)max/ml@{n}")));
    }
    out.push(head);
    let Some((_, first)) = runs.first() else { return out };
    for row in first {
        let mut line = format!("{:>5} {:<28}", row.size_mib, row.label);
        let same = |rows: &Vec<Measured>| rows.iter().find(|r| r.label == row.label && r.size_mib == row.size_mib).cloned();
        for (_, rows) in runs {
            let v = same(rows).and_then(|r| r.result.as_ref().and_then(|m| m.get("pages_per_s").cloned()));
            line.push_str(&format!(" {:>11}", v.unwrap_or_else(|| "-".into())));
        }
        for (_, rows) in runs {
            let v = same(rows).and_then(|r| r.max_over_mlock(KINDS[0]));
            line.push_str(&format!(" {:>11}", v.map_or("-".to_string(), |v| format!("{v:.3}"))));
        }
        out.push(line);
    }
    out
}

/// Guest memory of every bench boot.
const BENCH_MEM: &str = "2G";
/// Timeout of one bench boot.
const BOOT_TIMEOUT: Duration = Duration::from_secs(600);

/// One Linux boot of the workload: its label (`linux RELEASE`) and RESULT
/// fields, a note if the boot needed a retry or failed, and its timeline
/// lines.
fn linux_boot(paths: &Paths, args: Vec<String>, size: u64) -> Result<(Measured, Option<String>, Vec<String>)> {
    let log = paths.logs().join(format!("bench-linux-{size}.log"));
    let booted = linux_guest::boot(&linux_guest::Boot { args, log: &log, echo: false, stdin: false, timeout: BOOT_TIMEOUT })?;
    let result = booted.scan.lines.iter().rev().find_map(|l| parse_result(l));
    let label = match &booted.scan.release {
        Some(r) => format!("linux {r}"),
        None => "linux".to_string(),
    };
    let mut note = booted
        .first_oops
        .as_ref()
        .map(|(oops, kept)| format!("linux {size} MiB: boot 1 oopsed ({oops}; log {}), the row is boot 2's", paths.show(kept)));
    if result.is_none() {
        let why = booted.failure().unwrap_or_else(|| format!("exit status {}", booted.scan.status.unwrap_or(-1)));
        let msg = format!("linux {size} MiB: no RESULT line ({why}; log {})", paths.show(&log));
        eprintln!("{msg}");
        note = Some(note.map_or(msg.clone(), |n| format!("{n}; {msg}")));
    }
    let timeline_lines = booted.scan.lines.iter().filter(|l| is_timeline_line(l)).cloned().collect();
    Ok((Measured { label, size_mib: size, result }, note, timeline_lines))
}

/// Run the benchmark matrix and print the tables.
pub fn bench(opts: &BenchOpts) -> Result<i32> {
    let paths = Paths::new();
    qemu::check_qemu()?;
    let kernel = build::build_kernel(&paths, false)?;
    let user = crate::user::build_user_programs(&paths)?;
    let program = user.join("mlock_contend");
    if !program.exists() {
        return Err(Error::new("user program mlock_contend was not built"));
    }
    let guest = if opts.linux { Some(Guest::prepare(&paths, opts.linux_kernel.as_deref())?) } else { None };
    let mut linux_machine = LinuxMachine::new();
    linux_machine.mem = BENCH_MEM.into();
    let per_run = opts.sizes_mib.len() * (opts.strategies.len() + usize::from(guest.is_some()));
    let total = per_run * opts.smp.len();
    let started = Instant::now();
    let mut done = 0;
    let mut runs = Vec::new();
    // With --plot: the last CPU count's boots at the timeline size also
    // print their timeline.
    let timeline_at = opts.timeline_size().zip(opts.smp.last().copied());
    let mut timelines: Vec<timeline::Run> = Vec::new();
    let mut timeline_notes: Vec<String> = Vec::new();
    for &smp in &opts.smp {
        let mut rows = Vec::new();
        let mut notes = Vec::new();
        linux_machine.smp = smp;
        for &size in &opts.sizes_mib {
            let with_timeline = timeline_at == Some((size, smp));
            let mut keep_timeline = |label: &str, lines: &[String]| {
                if with_timeline {
                    match timeline_run(label, size, lines) {
                        Ok(run) => timelines.push(run),
                        Err(why) => {
                            eprintln!("{why}");
                            timeline_notes.push(why);
                        }
                    }
                }
            };
            let what = |name: &str| format!("{name} (smp {smp}{})", if with_timeline { ", timeline" } else { "" });
            for strategy in &opts.strategies {
                eprintln!("{}", progress(done, total, &what(strategy), size, started.elapsed()));
                let (result, lines) = holdfast_boot(&paths, &kernel, &program, strategy, size, smp, opts, with_timeline)?;
                done += 1;
                let m = Measured { label: strategy.clone(), size_mib: size, result };
                eprintln!("{}", figures_table(std::slice::from_ref(&m))[1]);
                keep_timeline(&m.label, &lines);
                rows.push(m);
            }
            if let Some(g) = &guest {
                eprintln!("{}", progress(done, total, &what("linux"), size, started.elapsed()));
                let init = workload(size, opts, with_timeline);
                let args = g.args(&paths, &linux_machine, "bench", std::slice::from_ref(&program), &init)?;
                let (m, note, lines) = linux_boot(&paths, args, size)?;
                done += 1;
                eprintln!("{}", figures_table(std::slice::from_ref(&m))[1]);
                keep_timeline(&m.label, &lines);
                notes.extend(note);
                rows.push(m);
            }
        }
        println!();
        println!(
            "mlock of an untouched region while {} time the mmap lock (latencies in us, of operations overlapping an mlock call), -smp {smp}:",
            opts.kinds.as_deref().map_or("3 threads".to_string(), |k| format!("threads of kinds {k}"))
        );
        if let Some(g) = &guest {
            let release = rows.iter().find(|r| r.is_linux() && r.label != "linux").map_or("(release not printed)", |r| &r.label[6..]);
            println!("Linux {release} ({}); both kernels on {LINUX_CPU_NOTE}, -smp {smp}, -m {BENCH_MEM}", g.kernel.origin(&paths));
        }
        for l in figures_table(&rows) {
            println!("{l}");
        }
        if guest.is_some() {
            println!();
            println!("side by side: /linux = pages/s over Linux's at the same size; max/ml = largest in-mlock latency of that kind over the mlock time");
            for l in side_by_side_table(&rows) {
                println!("{l}");
            }
        }
        for n in &notes {
            println!("note: {n}");
        }
        runs.push((smp, rows));
    }
    if runs.len() > 1 {
        println!();
        println!("by CPU count (QEMU runs one host thread per vCPU; more vCPUs than host cores share the host's time):");
        for l in by_cpus_table(&runs) {
            println!("{l}");
        }
    }
    let rows: Vec<Measured> = runs.last().map(|(_, r)| r.clone()).unwrap_or_default();
    if let Some((size, smp)) = timeline_at {
        println!();
        println!(
            "timeline of the last mlock of {size} MiB, -smp {smp} (operations overlapping it; at_ms: when the slowest began, ms into the mlock; max/ml: its share of the mlock's time):"
        );
        for l in timeline::summary_table(&timelines) {
            println!("{l}");
        }
        for n in &timeline_notes {
            println!("note: {n}");
        }
    }
    println!("({} boots in {})", total, minutes(started.elapsed()));
    if let Some(dir) = &opts.plot {
        for p in crate::plot::write_plots(dir, &rows)? {
            println!("plot: {}", paths.show(&p));
        }
        if let Some((size, _)) = timeline_at {
            let p = crate::plot::write_timeline(dir, &timelines, size)?;
            println!("plot: {}", paths.show(&p));
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(label: &str, size: u64, line: &str) -> Measured {
        Measured { label: label.into(), size_mib: size, result: parse_result(line) }
    }

    #[test]
    fn parses_result_lines() {
        let r = parse_result("RESULT strategy=hold-write region_mib=64 mlock_ms=120 a_p50=3").unwrap();
        assert_eq!(r["strategy"], "hold-write");
        assert_eq!(r["mlock_ms"], "120");
        assert!(parse_result("ok 1 - something").is_none());
        let t = figures_table(&[Measured { label: "hold-write".into(), size_mib: 64, result: Some(r) }]);
        assert!(t[0].starts_with("kernel") && t[0].contains("(a) mmap p50/p99/max"), "{}", t[0]);
        assert!(t[1].contains("hold-write") && t[1].contains("120") && t[1].contains("3/-/-"), "{}", t[1]);
        // A boot without a RESULT line is a row of dashes, not a gap.
        let t = figures_table(&[Measured { label: "populate-unlocked".into(), size_mib: 256, result: None }]);
        assert!(t[1].contains("populate-unlocked") && t[1].contains("256") && t[1].contains("-/-/-"), "{}", t[1]);
    }

    #[test]
    fn max_latency_over_mlock_time() {
        let m = measured("hold-write", 64, "RESULT mlock_ms=200.00 pages_per_s=81920 a_max=190000 b_max=50 c_max=0");
        assert!((m.max_over_mlock("a").unwrap() - 0.95).abs() < 1e-9);
        assert!((m.max_over_mlock("b").unwrap() - 0.00025).abs() < 1e-9);
        assert_eq!(m.max_over_mlock("c"), Some(0.0));
        assert_eq!(m.max_over_mlock("d"), None);
        assert_eq!(measured("x", 64, "RESULT mlock_ms=0.00 a_max=5").max_over_mlock("a"), None);
        assert_eq!(Measured { label: "x".into(), size_mib: 64, result: None }.max_over_mlock("a"), None);
    }

    #[test]
    fn side_by_side_with_ratios_to_linux() {
        let rows = vec![
            measured("hold-write", 64, "RESULT mlock_ms=200.00 pages_per_s=80000 a_max=190000 b_max=180000 c_max=170000"),
            measured(
                "linux 6.1.0-57-cloud-amd64",
                64,
                "RESULT mlock_ms=100.00 pages_per_s=160000 a_max=99000 b_max=1000 c_max=98000",
            ),
            measured("yield-to-waiters", 64, "RESULT mlock_ms=250.00 pages_per_s=64000 a_max=5000 b_max=2500 c_max=0"),
            measured("hold-write", 256, "RESULT mlock_ms=800.00 pages_per_s=81920 a_max=790000 b_max=1 c_max=2"),
            Measured { label: "linux 6.1.0-57-cloud-amd64".into(), size_mib: 256, result: None },
        ];
        let t = side_by_side_table(&rows);
        assert!(t[0].contains("/linux") && t[0].contains("(a) max/ml") && t[0].contains("(c) max/ml"), "{}", t[0]);
        assert_eq!(t.len(), 6);
        let cells = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        // Per size: the strategies first, then Linux, which compares with itself.
        assert_eq!(cells(&t[1]), ["64", "hold-write", "200.00", "80000", "0.50x", "0.95", "0.90", "0.85"]);
        assert_eq!(cells(&t[2]), ["64", "yield-to-waiters", "250.00", "64000", "0.40x", "0.02", "0.01", "0.00"]);
        assert_eq!(cells(&t[3]), ["64", "linux", "6.1.0-57-cloud-amd64", "100.00", "160000", "1.00x", "0.99", "0.01", "0.98"]);
        // Linux's boot at 256 MiB gave nothing: no ratio, and the row says so.
        assert_eq!(cells(&t[4]), ["256", "hold-write", "800.00", "81920", "-", "0.99", "0.00", "0.00"]);
        assert_eq!(cells(&t[5]), ["256", "linux", "6.1.0-57-cloud-amd64", "-", "-", "-", "-", "-", "-"]);
    }

    #[test]
    fn by_cpu_count_side_by_side() {
        let at = |pps: u64, a_max: u64| {
            vec![measured("yield-to-waiters", 256, &format!("RESULT mlock_ms=1000.00 pages_per_s={pps} a_max={a_max}"))]
        };
        let t = by_cpus_table(&[(1, at(6000, 40000)), (2, at(90000, 5000))]);
        assert!(t[0].contains("pages/s @1") && t[0].contains("pages/s @2") && t[0].contains("(a)max/ml@2"), "{}", t[0]);
        let cells: Vec<&str> = t[1].split_whitespace().collect();
        assert_eq!(cells, ["256", "yield-to-waiters", "6000", "90000", "0.040", "0.005"]);
    }

    #[test]
    fn timeline_option_and_lines() {
        let opts = BenchOpts { kinds: Some("a".into()), reps: 2, ..BenchOpts::default() };
        assert_eq!(workload(64, &opts, false), ["/mlock_contend", "64", "2", "--kinds", "a"]);
        assert_eq!(workload(64, &opts, true), ["/mlock_contend", "64", "2", "--kinds", "a", "--timeline"]);
        assert!(is_timeline_line("TIMELINE kind=a mlock_us=1"));
        assert!(is_timeline_line("TL a 1:2.0\r"));
        assert!(!is_timeline_line("timeline: 3 lines, 100 bytes in 1.00 ms"));
        assert!(!is_timeline_line("TLB shootdown"));
        let lines = |t: &str| t.lines().map(String::from).collect::<Vec<_>>();
        let run = timeline_run("hold-write", 64, &lines("TIMELINE kind=a mlock_us=9000 seen=1 kept=1 shown=1\nTL a 5:8000.0")).unwrap();
        assert_eq!(run.label, "hold-write");
        assert_eq!(run.kinds[0].points, vec![(0.005, 8000.0)]);
        // A boot without a timeline, or with a broken one, is a note.
        assert_eq!(timeline_run("linux", 64, &[]).unwrap_err(), "linux 64 MiB: no timeline in the output");
        let e = timeline_run("linux", 64, &lines("TIMELINE kind=a mlock_us=9000 seen=1 kept=1 shown=2\nTL a 5:8000.0")).unwrap_err();
        assert!(e.starts_with("linux 64 MiB: timeline of kind a: 1 points") && e.ends_with("not drawn"), "{e}");
    }

    #[test]
    fn progress_lines() {
        assert_eq!(minutes(Duration::from_secs(42)), "42s");
        assert_eq!(minutes(Duration::from_secs(65)), "1m05s");
        assert_eq!(
            progress(2, 18, "hold-write", 256, Duration::from_secs(125)),
            "bench [3/18] hold-write 256 MiB (15 left after this, 2m05s elapsed)"
        );
        assert_eq!(
            progress(17, 18, "linux", 512, Duration::from_secs(0)),
            "bench [18/18] linux 512 MiB (0 left after this, 0s elapsed)"
        );
    }
}
