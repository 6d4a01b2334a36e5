//! `cargo xtask bench --swap`: swap and reclaim figures.
//!
//! Two parts, each once per CPU count of `--smp`:
//!
//! - Swap throughput. Holdfast boots `swap_mlock 16 288 1` on 256 MiB,
//!   once swapping on zram (`zram=1G`) and once on a virtio-blk swap disk
//!   (`--swap-disk 1G`, `swapon=/dev/vda`). The program prints the pages/s
//!   of writing 288 MiB (swap-out) and of reading it back (swap-in); the
//!   kernel prints at exit how many pages kswapd and direct reclaim took
//!   and reclaim's time per page (`holdfast: reclaim: ...`).
//! - `mlock_contend` with reclaim alongside. On 384 MiB with `zram=1G`,
//!   the BusyBox script [`PRESSURE_SCRIPT`] runs `mlock_contend SIZE REPS`
//!   for each strategy and size, once alone and once beside a loop of
//!   `mem_touch 384` (which keeps kswapd and direct reclaim busy); it
//!   prints `/proc/vmstat`'s swap and reclaim counters before and after,
//!   so the table shows how much reclaim ran during the measurement
//!   (`mlock_contend --pause-ms 5000` in both: the hog fills memory
//!   before the first mlock).
//!
//! Figures only: a boot that prints nothing usable is a row of dashes and
//! a note, never a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use boot::Firmware;

use crate::bench::{self, Measured};
use crate::build::{self, Paths};
use crate::cli::BenchOpts;
use crate::error::{Error, Result};
use crate::image::{cmdline, initrd_entries, make_images};
use crate::qemu::{self, Flow};

/// A swap device of the throughput boots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    Zram,
    Disk,
}

impl Device {
    pub const ALL: [Device; 2] = [Device::Zram, Device::Disk];

    pub fn name(self) -> &'static str {
        match self {
            Device::Zram => "zram",
            Device::Disk => "virtio-blk",
        }
    }

    /// The kernel words that swap on this device.
    fn words(self) -> Vec<String> {
        match self {
            Device::Zram => vec!["zram=1G".to_string()],
            Device::Disk => vec!["swapon=/dev/vda".to_string()],
        }
    }

    /// The swap disk QEMU attaches, in bytes.
    fn disk(self) -> Option<u64> {
        match self {
            Device::Zram => None,
            Device::Disk => Some(1 << 30),
        }
    }
}

/// Guest memory of the throughput boots (as the swap_mlock test).
const SWAP_MEM: &str = "256M";
/// `swap_mlock LOCKED_MB UNLOCKED_MB ROUNDS` of the throughput boots.
const SWAP_MLOCK_ARGS: [&str; 3] = ["16", "288", "1"];
/// Guest memory of the `mlock_contend` boots with and without pressure.
const PRESSURE_MEM: &str = "384M";
/// The memory hog's size beside `mlock_contend`, in MiB.
pub const HOG_MIB: u64 = 384;
/// Timeout of one boot.
const BOOT_TIMEOUT: Duration = Duration::from_secs(600);

/// What one throughput boot printed; a field is `None` when its line was
/// missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SwapFigures {
    pub out_pages: Option<u64>,
    pub out_per_s: Option<f64>,
    pub in_pages: Option<u64>,
    pub in_per_s: Option<f64>,
    pub by_kswapd: Option<u64>,
    pub directly: Option<u64>,
    pub reclaim_ms: Option<f64>,
    pub reclaimed: Option<u64>,
    pub us_per_page: Option<f64>,
}

/// The number before `suffix` at the end of `s`'s word sequence, e.g.
/// `"12 pages"` -> 12 for suffix `pages`.
fn num_before<T: std::str::FromStr>(s: &str, suffix: &str) -> Option<T> {
    let words: Vec<&str> = s.split_whitespace().collect();
    let at = words.iter().position(|w| *w == suffix)?;
    words.get(at.checked_sub(1)?)?.trim_start_matches('(').parse().ok()
}

/// Fold one console line into `f`: swap_mlock's `# writing ...` and
/// `# reading it back: ...` lines, the kernel's `holdfast: swap: ...` and
/// `holdfast: reclaim: ...` lines. Other lines change nothing.
pub fn parse_swap_line(line: &str, f: &mut SwapFigures) {
    let l = line.trim();
    if let Some(rest) = l.strip_prefix("# writing ") {
        let (_, rest) = rest.split_once(": ").unwrap_or(("", rest));
        f.out_pages = num_before(rest, "pages");
        f.out_per_s = num_before(rest, "pages/s)");
    } else if let Some(rest) = l.strip_prefix("# reading it back: ") {
        f.in_pages = num_before(rest, "pages");
        f.in_per_s = num_before(rest, "pages/s)");
    } else if let Some(rest) = l.strip_prefix("holdfast: swap: ") {
        // `N pages out, M in; reclaimed K by kswapd, D directly`
        if let Some((_, reclaim)) = rest.split_once("reclaimed ") {
            f.by_kswapd = num_before(reclaim, "by");
            f.directly = num_before(reclaim, "directly");
        }
    } else if let Some(rest) = l.strip_prefix("holdfast: reclaim: ") {
        // `X ms for K pages, Y us per page`
        f.reclaim_ms = num_before(rest, "ms");
        f.reclaimed = num_before(rest, "pages,");
        f.us_per_page = num_before(rest, "us");
    }
}

/// One row of the throughput table.
#[derive(Debug, Clone, PartialEq)]
pub struct SwapRow {
    pub device: &'static str,
    pub smp: u32,
    pub figures: SwapFigures,
}

fn cell<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or("-".to_string(), |v| v.to_string())
}

fn cell0(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.0}"))
}

fn cell2(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{v:.2}"))
}

/// The throughput table: per device and CPU count, swap-out and swap-in
/// pages/s, reclaim's time per page and who reclaimed.
pub fn swap_table(rows: &[SwapRow]) -> Vec<String> {
    let mut out = vec![format!(
        "{:<10} {:>4} {:>12} {:>11} {:>12} {:>11} {:>11} {:>10} {:>10} {:>10}",
        "device", "CPUs", "out pages/s", "pages out", "in pages/s", "pages in", "us/reclaim", "reclaimed", "kswapd", "direct"
    )];
    for r in rows {
        let f = &r.figures;
        out.push(format!(
            "{:<10} {:>4} {:>12} {:>11} {:>12} {:>11} {:>11} {:>10} {:>10} {:>10}",
            r.device,
            r.smp,
            cell0(f.out_per_s),
            cell(f.out_pages),
            cell0(f.in_per_s),
            cell(f.in_pages),
            cell2(f.us_per_page),
            cell(f.reclaimed),
            cell(f.by_kswapd),
            cell(f.directly),
        ));
    }
    out
}

/// The BusyBox script of the `mlock_contend` boots: `sh SCRIPT HOG_MIB
/// SIZE REPS [--kinds K] --pause-ms MS`. With HOG_MIB above 0 it starts
/// a loop of `mem_touch HOG_MIB` first; `mlock_contend` pauses
/// [`PAUSE_MS`] before each mlock, long enough for the hog to fill
/// memory. It prints the reclaim counters of /proc/vmstat before the hog
/// starts and after `mlock_contend` ends (`PRESSURE before ...`,
/// `PRESSURE after ...`) and exits with `mlock_contend`'s status (the
/// kernel powers off when init exits, hog or not).
///
/// Under pressure a fork can fail with ENOMEM (Holdfast's fork does not
/// reclaim): so both programs start before memory fills, and the counters
/// are read with shell builtins, no awk or grep forked; the hog's loop
/// forks again only after `mem_touch` exited and freed its memory.
pub const PRESSURE_SCRIPT: &str = r#"# bench-pressure.sh HOG_MIB ARGS...: mlock_contend ARGS beside a memory hog.
hog=$1
shift
counters() {
	s=""
	while read -r k v; do
		case $k in
		pswpout | pswpin | pgsteal_kswapd | pgsteal_direct) s="$s $k=$v" ;;
		esac
	done </proc/vmstat
	echo "PRESSURE $1$s"
}
counters before
if [ "$hog" -gt 0 ]; then
	(while :; do /mem_touch "$hog" >/dev/null; done) &
fi
/mlock_contend "$@" &
wait $!
status=$?
counters after
exit $status
"#;

/// `mlock_contend --pause-ms` of the pressure boots: time for the hog to
/// fill memory before the first mlock (the same without a hog, so the
/// rows compare).
pub const PAUSE_MS: u64 = 5000;

/// The script's file name in the initrd.
const SCRIPT_NAME: &str = "bench-pressure.sh";

/// The reclaim counters a `PRESSURE before|after k=v ...` line gives.
pub fn parse_pressure(line: &str) -> Option<(bool, BTreeMap<String, u64>)> {
    let rest = line.trim().strip_prefix("PRESSURE ")?;
    let mut words = rest.split_whitespace();
    let after = match words.next()? {
        "before" => false,
        "after" => true,
        _ => return None,
    };
    let kv = words.filter_map(|w| w.split_once('=')).filter_map(|(k, v)| Some((k.to_string(), v.parse().ok()?))).collect();
    Some((after, kv))
}

/// One `mlock_contend` boot of the pressure part: its row (label =
/// strategy), whether a hog ran, and the counters' growth across
/// `mlock_contend`.
#[derive(Debug, Clone, PartialEq)]
pub struct PressureRow {
    pub measured: Measured,
    pub hog_mib: u64,
    pub reclaim: BTreeMap<String, u64>,
}

/// `after - before` of each counter both have.
pub fn counter_growth(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after.iter().filter_map(|(k, a)| Some((k.clone(), a.saturating_sub(*before.get(k)?)))).collect()
}

/// The pressure table: each strategy's row alone and with the hog, its
/// mlock figures and how much reclaim ran during the measurement.
pub fn pressure_table(rows: &[PressureRow]) -> Vec<String> {
    let w = rows.iter().map(|r| r.measured.label.len()).max().unwrap_or(0).max(18);
    let mut out = vec![format!(
        "{:>5} {:<w$} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9}",
        "MiB", "kernel", "hog", "mlock_ms", "pages/s", "(a) max/ml", "(b) max/ml", "(c) max/ml", "pswpout", "kswapd", "direct"
    )];
    for r in rows {
        let m = &r.measured;
        let c = |k: &str| cell(r.reclaim.get(k));
        out.push(format!(
            "{:>5} {:<w$} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>9}",
            m.size_mib,
            m.label,
            if r.hog_mib > 0 { r.hog_mib.to_string() } else { "-".to_string() },
            cell2(m.num("mlock_ms")),
            cell0(m.num("pages_per_s")),
            cell2(m.max_over_mlock("a")),
            cell2(m.max_over_mlock("b")),
            cell2(m.max_over_mlock("c")),
            c("pswpout"),
            c("pgsteal_kswapd"),
            c("pgsteal_direct"),
        ));
    }
    out
}

/// The script's arguments after its name: `HOG_MIB SIZE REPS [--kinds K]
/// --pause-ms MS`.
fn pressure_args(hog: u64, size: u64, opts: &BenchOpts) -> Vec<String> {
    let mut a = vec![hog.to_string(), size.to_string(), opts.reps.to_string()];
    if let Some(k) = &opts.kinds {
        a.extend(["--kinds".to_string(), k.clone()]);
    }
    a.extend(["--pause-ms".to_string(), PAUSE_MS.to_string()]);
    a
}

/// One Holdfast boot.
struct Boot<'a> {
    stem: String,
    words: Vec<String>,
    init: Vec<String>,
    files: Vec<PathBuf>,
    mem: &'a str,
    smp: u32,
    swap_disk: Option<u64>,
}

/// Boot and return the console's lines (and a note when the boot did not
/// end by itself).
fn boot(paths: &Paths, kernel: &Path, b: &Boot) -> Result<(Vec<String>, PathBuf, String)> {
    let line = cmdline(&b.words, &b.init).map_err(Error::new)?;
    let entries = initrd_entries(&line, &b.files)?;
    let dir = paths.out.join("cases");
    let images = make_images(paths, kernel, &entries, &dir, &b.stem, &[Firmware::Bios])?;
    let mut machine = qemu::Machine::new(Firmware::Bios, images.bios.expect("BIOS image requested"));
    machine.mem = b.mem.into();
    machine.smp = b.smp;
    if let Some(bytes) = b.swap_disk {
        let swap = dir.join(format!("{}-swap.img", b.stem));
        crate::swapdisk::create(&swap, bytes)?;
        machine.swap_disk = Some(swap);
    }
    let log = paths.logs().join(format!("{}.log", b.stem));
    let mut lines = Vec::new();
    let outcome = qemu::run(
        &qemu::Run { args: qemu::args(&machine, None), log: &log, echo: false, stdin: false, typed: None, timeout: Some(BOOT_TIMEOUT) },
        |l| {
            lines.push(l.to_string());
            Flow::Continue
        },
    )?;
    Ok((lines, log, outcome.exit.describe()))
}

/// Run both parts and print their tables.
pub fn bench_swap(opts: &BenchOpts) -> Result<i32> {
    let paths = Paths::new();
    qemu::check_qemu()?;
    let kernel = build::build_kernel(&paths, false)?;
    let user = crate::user::build_user_programs(&paths)?;
    let program = |name: &str| -> Result<PathBuf> {
        let p = user.join(name);
        if p.exists() {
            Ok(p)
        } else {
            Err(Error::new(format!("user program {name} was not built")))
        }
    };
    let swap_mlock = program("swap_mlock")?;
    let contend = [program("mlock_contend")?, program("mem_touch")?, program("busybox")?];
    let script = paths.out.join("cases").join(SCRIPT_NAME);
    std::fs::create_dir_all(paths.out.join("cases")).map_err(|e| Error::new(format!("creating cases dir: {e}")))?;
    std::fs::write(&script, PRESSURE_SCRIPT).map_err(|e| Error::new(format!("writing {}: {e}", script.display())))?;

    let per_smp = Device::ALL.len() + 2 * opts.strategies.len() * opts.sizes_mib.len();
    let total = per_smp * opts.smp.len();
    let started = Instant::now();
    let mut done = 0;
    let mut notes = Vec::new();
    let mut swap_rows = Vec::new();
    let mut pressure_rows: Vec<(u32, Vec<PressureRow>)> = Vec::new();
    for &smp in &opts.smp {
        for dev in Device::ALL {
            eprintln!("{}", progress(done, total, &format!("swap_mlock on {} (smp {smp})", dev.name()), started.elapsed()));
            let mut init = vec!["/swap_mlock".to_string()];
            init.extend(SWAP_MLOCK_ARGS.iter().map(|s| s.to_string()));
            let b = Boot {
                stem: format!("bench-swap-{}-smp{smp}", dev.name()),
                words: dev.words(),
                init,
                files: vec![swap_mlock.clone()],
                mem: SWAP_MEM,
                smp,
                swap_disk: dev.disk(),
            };
            let (lines, log, exit) = boot(&paths, &kernel, &b)?;
            done += 1;
            let mut f = SwapFigures::default();
            for l in &lines {
                parse_swap_line(l, &mut f);
            }
            if f.out_per_s.is_none() || f.us_per_page.is_none() {
                notes.push(format!("{} smp {smp}: figures missing ({exit}; log {})", dev.name(), paths.show(&log)));
            }
            let row = SwapRow { device: dev.name(), smp, figures: f };
            eprintln!("{}", swap_table(std::slice::from_ref(&row))[1]);
            swap_rows.push(row);
        }
        let mut rows = Vec::new();
        for &size in &opts.sizes_mib {
            for strategy in &opts.strategies {
                for hog in [0, HOG_MIB] {
                    let what = format!("{strategy}{} {size} MiB (smp {smp})", if hog > 0 { " +reclaim" } else { "" });
                    eprintln!("{}", progress(done, total, &what, started.elapsed()));
                    let mut init = vec!["/busybox".to_string(), "sh".to_string(), format!("/{SCRIPT_NAME}")];
                    init.extend(pressure_args(hog, size, opts));
                    let mut files = contend.to_vec();
                    files.push(script.clone());
                    let b = Boot {
                        stem: format!("bench-pressure-{strategy}-{size}-hog{hog}-smp{smp}"),
                        words: vec![format!("mlock_populate={strategy}"), "zram=1G".to_string()],
                        init,
                        files,
                        mem: PRESSURE_MEM,
                        smp,
                        swap_disk: None,
                    };
                    let (lines, log, exit) = boot(&paths, &kernel, &b)?;
                    done += 1;
                    let result = lines.iter().rev().find_map(|l| bench::parse_result(l));
                    let mut before = None;
                    let mut after = None;
                    for (is_after, kv) in lines.iter().filter_map(|l| parse_pressure(l)) {
                        *(if is_after { &mut after } else { &mut before }) = Some(kv);
                    }
                    let reclaim = before.zip(after).map(|(b, a)| counter_growth(&b, &a)).unwrap_or_default();
                    if result.is_none() || reclaim.is_empty() {
                        let why = program_error(&lines).map_or(String::new(), |e| format!("{e}; "));
                        notes.push(format!("{what}: no RESULT or PRESSURE lines ({why}{exit}; log {})", paths.show(&log)));
                    }
                    let row = PressureRow { measured: Measured { label: strategy.clone(), size_mib: size, result }, hog_mib: hog, reclaim };
                    eprintln!("{}", pressure_table(std::slice::from_ref(&row))[1]);
                    rows.push(row);
                }
            }
        }
        pressure_rows.push((smp, rows));
    }
    println!();
    println!(
        "swap throughput: swap_mlock {} on {SWAP_MEM} (16 MiB mlocked, 288 MiB written then read back); zram=1G or a 1 GiB virtio-blk disk",
        SWAP_MLOCK_ARGS.join(" ")
    );
    println!(
        "(us/reclaim: wall time in shrink_lruvec per page reclaimed, kswapd and direct together; kswapd/direct: pages each reclaimed)"
    );
    for l in swap_table(&swap_rows) {
        println!("{l}");
    }
    for (smp, rows) in &pressure_rows {
        println!();
        println!(
            "mlock_contend on {PRESSURE_MEM} with zram=1G, -smp {smp}, alone and beside a loop of mem_touch {HOG_MIB} (hog); \
             pswpout/kswapd/direct: pages swapped out and reclaimed while mlock_contend ran (pauses included)"
        );
        for l in pressure_table(rows) {
            println!("{l}");
        }
    }
    for n in &notes {
        println!("note: {n}");
    }
    println!("({total} boots in {})", bench::minutes(started.elapsed()));
    Ok(0)
}

/// The last `error: ...` line a program printed, if any.
pub fn program_error(lines: &[String]) -> Option<&str> {
    lines.iter().rev().map(|l| l.trim()).find(|l| l.starts_with("error: "))
}

/// The progress line before boot `done + 1` of `total`.
fn progress(done: usize, total: usize, what: &str, elapsed: Duration) -> String {
    format!("bench --swap [{}/{total}] {what} ({} elapsed)", done + 1, bench::minutes(elapsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_swap_mlock_and_kernel_lines() {
        let mut f = SwapFigures::default();
        for l in [
            "ok 3 - Mlocked rises by 16 MiB (+16384 kB)\r",
            "# writing 288 MiB: 12.50 s, 51200 pages swapped out (4096 pages/s)\r",
            "# reading it back: 4.00 s, 40000 pages swapped in (10000 pages/s)",
            "holdfast: swap: 60000 pages out, 45000 in; reclaimed 50000 by kswapd, 10000 directly",
            "holdfast: reclaim: 1234.567 ms for 60000 pages, 20.576 us per page",
        ] {
            parse_swap_line(l, &mut f);
        }
        assert_eq!(
            f,
            SwapFigures {
                out_pages: Some(51200),
                out_per_s: Some(4096.0),
                in_pages: Some(40000),
                in_per_s: Some(10000.0),
                by_kswapd: Some(50000),
                directly: Some(10000),
                reclaim_ms: Some(1234.567),
                reclaimed: Some(60000),
                us_per_page: Some(20.576),
            }
        );
        let t = swap_table(&[
            SwapRow { device: "zram", smp: 2, figures: f },
            SwapRow { device: "virtio-blk", smp: 2, figures: SwapFigures::default() },
        ]);
        assert!(t[0].contains("out pages/s") && t[0].contains("us/reclaim") && t[0].contains("direct"), "{}", t[0]);
        let cells = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(cells(&t[1]), ["zram", "2", "4096", "51200", "10000", "40000", "20.58", "60000", "50000", "10000"]);
        // A boot that printed nothing is a row of dashes.
        assert_eq!(cells(&t[2]), ["virtio-blk", "2", "-", "-", "-", "-", "-", "-", "-", "-"]);
    }

    #[test]
    fn pressure_lines_and_table() {
        let (after, b) = parse_pressure("PRESSURE before pswpin=10 pswpout=100 pgsteal_kswapd=90 pgsteal_direct=5\r").unwrap();
        assert!(!after);
        let (after, a) = parse_pressure("PRESSURE after pswpin=10 pswpout=4100 pgsteal_kswapd=3090 pgsteal_direct=1005").unwrap();
        assert!(after);
        assert!(parse_pressure("PRESSURE during x=1").is_none());
        assert!(parse_pressure("RESULT mlock_ms=1").is_none());
        let out = |t: &str| t.lines().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            program_error(&out("rep 1\nerror: mlock(128 MiB) failed in rep 1: EAGAIN\r\nmlock_contend: FAILED")),
            Some("error: mlock(128 MiB) failed in rep 1: EAGAIN")
        );
        assert_eq!(program_error(&out("RESULT mlock_ms=1")), None);
        let g = counter_growth(&b, &a);
        assert_eq!((g["pswpout"], g["pgsteal_kswapd"], g["pgsteal_direct"], g["pswpin"]), (4000, 3000, 1000, 0));
        let m = |line: &str| Measured { label: "hold-write".into(), size_mib: 128, result: bench::parse_result(line) };
        let rows = vec![
            PressureRow {
                measured: m("RESULT mlock_ms=100.00 pages_per_s=327680 a_max=90000 b_max=10 c_max=0"),
                hog_mib: 0,
                reclaim: BTreeMap::new(),
            },
            PressureRow {
                measured: m("RESULT mlock_ms=400.00 pages_per_s=81920 a_max=200000 b_max=4000 c_max=400000"),
                hog_mib: 512,
                reclaim: g,
            },
            PressureRow {
                measured: Measured { label: "yield-to-waiters".into(), size_mib: 128, result: None },
                hog_mib: 512,
                reclaim: BTreeMap::new(),
            },
        ];
        let t = pressure_table(&rows);
        assert!(t[0].contains("hog") && t[0].contains("pswpout") && t[0].contains("(a) max/ml"), "{}", t[0]);
        let cells = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(cells(&t[1]), ["128", "hold-write", "-", "100.00", "327680", "0.90", "0.00", "0.00", "-", "-", "-"]);
        assert_eq!(cells(&t[2]), ["128", "hold-write", "512", "400.00", "81920", "0.50", "0.01", "1.00", "4000", "3000", "1000"]);
        assert_eq!(cells(&t[3]), ["128", "yield-to-waiters", "512", "-", "-", "-", "-", "-", "-", "-", "-"]);
    }

    #[test]
    fn pressure_script_arguments() {
        let opts = BenchOpts { kinds: Some("ab".into()), reps: 1, ..BenchOpts::default() };
        assert_eq!(pressure_args(512, 128, &opts), ["512", "128", "1", "--kinds", "ab", "--pause-ms", "5000"]);
        assert_eq!(pressure_args(0, 64, &BenchOpts { reps: 2, ..BenchOpts::default() }), ["0", "64", "2", "--pause-ms", "5000"]);
        // The script hands everything after the hog's size to mlock_contend.
        assert!(PRESSURE_SCRIPT.contains("shift") && PRESSURE_SCRIPT.contains("/mlock_contend \"$@\""));
    }
}
