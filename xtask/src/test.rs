//! `cargo xtask test`: every test level in one command.
//!
//! 1. host: `cargo test` of mm, boot and xtask, and the loom models of the
//!    rwsem; counted from cargo's `test result:` lines.
//! 2. kernel: the in-kernel `ktest` suite, booted in QEMU, rebooting after
//!    a test that panics or crashes the machine (`ktest.start=N`).
//! 3. smoke: the images booted as USB sticks under OVMF and SeaBIOS.
//! 4. user: user programs booted as `init=/PROGRAM`, checked by exit status
//!    and output.
//!
//! QEMU runs are [`BootCase`]s; each has a timeout and its serial output
//! goes to `target/holdfast/logs/`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use boot::Firmware;

use crate::build::{self, Paths};
use crate::cli::{Suite, TestOpts};
use crate::error::Result;
use crate::image::{cmdline, initrd_entries, make_images};
use crate::qemu::{self, Attach, Exit, Flow};
use crate::report::{self, KtestLine, Tally};

/// Timeout for one boot of the kernel suite (TCG is slow).
const KTEST_TIMEOUT: Duration = Duration::from_secs(300);
/// Timeout for a smoke boot or a user-program run.
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);
/// Upper bound on kernel-suite reboots, so a harness bug cannot loop forever.
const MAX_KTEST_BOOTS: u32 = 64;

/// `cargo xtask test`; returns the process exit status.
pub fn test(opts: &TestOpts) -> Result<i32> {
    let paths = Paths::new();
    let wants_qemu = opts.suites.iter().any(|s| !matches!(s, Suite::Host));
    if wants_qemu {
        qemu::check_qemu()?;
        qemu::find_ovmf()?;
    }
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut normal_kernel: Option<Option<PathBuf>> = None;
    let mut user_dir: Option<Option<PathBuf>> = None;
    let mut build_user = |tally: &mut Tally| -> Option<PathBuf> {
        user_dir
            .get_or_insert_with(|| match crate::user::build_user_programs(&paths) {
                Ok(d) => Some(d),
                Err(e) => {
                    eprintln!("error: {e}");
                    tally.record("user (build)", false, None);
                    None
                }
            })
            .clone()
    };
    for suite in &opts.suites {
        let t = Instant::now();
        match suite {
            Suite::Host => host_suite(&paths, &mut tally),
            Suite::Kernel => {
                for &smp in &opts.smp {
                    kernel_suite(&paths, &opts.kernel_words, smp, opts.swap_disk.unwrap_or(KTEST_SWAP_DISK), &mut tally)
                }
            }
            Suite::Linux => {
                if let Some(dir) = build_user(&mut tally) {
                    linux_suite(&dir, opts, &mut tally);
                    if selected(opts, crate::linux_guest::CHECK_NAME) {
                        crate::linux_guest::check(&paths, &dir, &mut tally);
                    }
                    let compare: Vec<u64> = FUZZ_COMPARE_SEEDS.iter().copied().filter(|s| selected(opts, &fuzz_compare_name(*s))).collect();
                    if !compare.is_empty() {
                        let kernel = normal_kernel.get_or_insert_with(|| build_normal_kernel(&paths)).clone();
                        fuzz_compare(&paths, kernel.as_deref(), &dir, &compare, &opts.kernel_words, &mut tally);
                    }
                }
            }
            Suite::Smoke | Suite::User => {
                let cases = if *suite == Suite::Smoke {
                    let mut cases = smoke_cases();
                    if let Some(dir) = build_user(&mut tally) {
                        cases.extend(cpu_model_cases(&dir));
                        cases.extend(smp_boot_cases(&dir));
                        cases.extend(memory_cases(&dir));
                        cases.push(no_serial_case(&dir));
                        cases.extend(panic_cases(&dir));
                    }
                    cases
                } else {
                    match build_user(&mut tally) {
                        Some(dir) => opts.smp.iter().flat_map(|&n| user_cases_at(&dir, n)).collect(),
                        None => continue,
                    }
                };
                let cases: Vec<BootCase> = cases
                    .into_iter()
                    .filter(|c| selected(opts, &format!("{}::{}", c.suite, c.name)))
                    .map(|c| with_kernel_words(&opts.kernel_words, c))
                    .map(|c| BootCase { swap_disk: c.swap_disk.or(opts.swap_disk), ..c })
                    .collect();
                if cases.is_empty() {
                    println!("note: no {} cases yet", if *suite == Suite::Smoke { "smoke" } else { "user-program" });
                    continue;
                }
                let kernel = normal_kernel.get_or_insert_with(|| build_normal_kernel(&paths));
                match kernel {
                    Some(k) => {
                        for case in &cases {
                            run_case(&paths, k, case, &mut tally);
                        }
                    }
                    None => {
                        for case in &cases {
                            tally.record(&format!("{}::{}", case.suite, case.name), false, None);
                        }
                    }
                }
            }
        }
        eprintln!("({} suite took {:.0} s)", format!("{suite:?}").to_lowercase(), t.elapsed().as_secs_f64());
    }
    if !tally.failures.is_empty() {
        println!();
        println!("failures:");
        for (name, log) in &tally.failures {
            match log {
                Some(l) => println!("    {name} (log: {})", paths.show(l)),
                None => println!("    {name}"),
            }
        }
    }
    eprintln!("(all suites took {:.0} s)", started.elapsed().as_secs_f64());
    println!("{}", tally.summary());
    Ok(if tally.failed > 0 { 1 } else { 0 })
}

/// The kernel the smoke, user and linux suites boot; `None` (after saying
/// why) if it does not build.
fn build_normal_kernel(paths: &Paths) -> Option<PathBuf> {
    match build::build_kernel(paths, false) {
        Ok(k) => Some(k),
        Err(e) => {
            eprintln!("error: {e}");
            None
        }
    }
}

/// Whether `--only` lets the case named `name` run.
fn selected(opts: &TestOpts, name: &str) -> bool {
    opts.only.as_ref().is_none_or(|o| name.contains(o.as_str()))
}

// ---------------------------------------------------------------- host

/// One `cargo test` invocation of the host suite.
struct HostRun {
    name: &'static str,
    args: &'static [&'static str],
    env: Vec<(&'static str, PathBuf)>,
    /// Counted as skipped when this file does not exist.
    needs: Option<&'static str>,
}

fn host_runs(paths: &Paths) -> Vec<HostRun> {
    vec![
        HostRun { name: "mm", args: &["test", "-p", "mm"], env: vec![], needs: None },
        HostRun { name: "boot", args: &["test", "-p", "boot"], env: vec![], needs: None },
        HostRun { name: "cpio", args: &["test", "-p", "cpio"], env: vec![], needs: None },
        HostRun { name: "xtask", args: &["test", "-p", "xtask"], env: vec![], needs: None },
        HostRun {
            name: "loom",
            args: &["test", "-p", "mm", "--release", "--test", "loom_rwsem"],
            env: vec![("RUSTFLAGS", "--cfg loom".into()), ("CARGO_TARGET_DIR", paths.target.join("loom"))],
            needs: Some("mm/tests/loom_rwsem.rs"),
        },
    ]
}

fn host_suite(paths: &Paths, tally: &mut Tally) {
    for run in host_runs(paths) {
        if let Some(file) = run.needs {
            if !paths.root.join(file).exists() {
                tally.skip(&format!("host::{}", run.name), &format!("{file} does not exist yet"));
                continue;
            }
        }
        let log = paths.logs().join(format!("host-{}.log", run.name));
        host_run(paths, &run, &log, tally);
    }
}

fn host_run(paths: &Paths, run: &HostRun, log_path: &Path, tally: &mut Tally) {
    let suite = format!("host::{}", run.name);
    let mut cmd = build::cargo(paths);
    cmd.args(run.args);
    for (k, v) in &run.env {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    build::announce(&cmd);
    let mut log = std::fs::create_dir_all(paths.logs()).and_then(|()| std::fs::File::create(log_path)).ok();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}", build::spawn_error(cmd.get_program(), e));
            tally.record(&suite, false, None);
            return;
        }
    };
    // cargo's stderr (compiler messages) goes to the terminal and the log.
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let mut stderr_log = log.as_ref().and_then(|f| f.try_clone().ok());
    let stderr_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = std::io::Read::read(&mut stderr_pipe, &mut buf) {
            let _ = std::io::stderr().write_all(&buf[..n]);
            if let Some(f) = stderr_log.as_mut() {
                let _ = f.write_all(&buf[..n]);
            }
        }
    });
    let mut failed_in_lines = 0;
    let stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    for line in stdout.lines() {
        let Ok(line) = line else { break };
        if let Some(f) = log.as_mut() {
            let _ = writeln!(f, "{line}");
        }
        if let Some((name, result)) = report::parse_cargo_test_line(&line) {
            println!("test {suite}::{name} ... {result}");
        } else if let Some(counts) = report::parse_cargo_result(&line) {
            failed_in_lines += counts.failed;
            tally.add_counts(&suite, counts, Some(log_path.to_path_buf()));
        }
    }
    let status = child.wait();
    let _ = stderr_thread.join();
    let ok = matches!(&status, Ok(s) if s.success());
    if !ok && failed_in_lines == 0 {
        // It did not build (or the harness died): one failure.
        tally.record(&format!("{suite} (build)"), false, Some(log_path.to_path_buf()));
    }
}

// ---------------------------------------------------------------- kernel

/// What one boot of the kernel suite showed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KtestBoot {
    /// The test that printed `run` without a result yet.
    pub running: Option<(u32, String)>,
    /// The last result: (index, name, passed).
    pub last: Option<(u32, String, bool)>,
    /// Some test of this boot failed.
    pub any_failed: bool,
    /// `ktest: done` was seen.
    pub done: bool,
}

/// What to do after a boot of the kernel suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// The suite finished; `exit_ok` says whether the exit code agreed
    /// with the results (0 if none failed in this boot, 1 otherwise).
    Finished { exit_ok: bool },
    /// The running test crashed the machine or hung: count it as failed
    /// and reboot after it.
    Crashed { index: u32, name: String, start: u32 },
    /// A test failed by panicking (expected reboot): go on after it.
    Reboot { start: u32 },
    /// The kernel ended between tests, without `done`: a harness failure;
    /// go on after the last test that reported.
    Lost { after: String, start: u32 },
    /// No test ran at all: the kernel does not get that far.
    NoProgress,
}

/// Decides how to go on after a boot (pure, so it can be unit tested).
pub fn next_step(b: &KtestBoot, exit: &Exit) -> Next {
    if b.done {
        let expected = if b.any_failed { 1 } else { 0 };
        return Next::Finished { exit_ok: *exit == Exit::Kernel(expected) };
    }
    if let Some((index, name)) = &b.running {
        return Next::Crashed { index: *index, name: name.clone(), start: index + 1 };
    }
    match &b.last {
        Some((index, _, false)) => Next::Reboot { start: index + 1 },
        Some((index, name, true)) => Next::Lost { after: name.clone(), start: index + 1 },
        None => Next::NoProgress,
    }
}

impl KtestBoot {
    /// Updates the state with one line; returns a result to record, if any.
    pub fn feed(&mut self, line: &KtestLine) -> Option<(String, bool)> {
        match line {
            KtestLine::Run { index, name } => {
                self.running = Some((*index, name.clone()));
                None
            }
            KtestLine::Ok { index, name } | KtestLine::Failed { index, name } => {
                let ok = matches!(line, KtestLine::Ok { .. });
                self.running = None;
                self.last = Some((*index, name.clone(), ok));
                self.any_failed |= !ok;
                Some((name.clone(), ok))
            }
            KtestLine::Done => {
                self.done = true;
                None
            }
        }
    }
}

/// `case` booted with `smp` CPUs, in the suite named for that count.
///
/// Instruction counting is for one CPU only: with several, QEMU runs the
/// vCPUs round-robin on one host thread and lets a busy vCPU run for up to
/// a tenth of a second before the next gets a turn, so a thread woken on
/// another vCPU waits that long in guest time. Those boots run the vCPUs
/// in parallel instead, and the shape checks, ratios within one run with
/// wide margins, hold there too.
fn at_smp(case: BootCase, smp: u32) -> BootCase {
    if smp == 1 {
        return case;
    }
    let suite: &'static str = Box::leak(suite_name(case.suite, smp).into_boxed_str());
    BootCase { suite, smp: Some(smp), icount: false, ..case }
}

/// The name a suite's cases carry when run on `smp` CPUs: the suite's own
/// name on one CPU, `NAME-smpN` on more.
fn suite_name(suite: &str, smp: u32) -> String {
    if smp == 1 {
        suite.to_string()
    } else {
        format!("{suite}-smp{smp}")
    }
}

/// Bytes of the swap disk the kernel suite attaches (the virtio-blk tests
/// need one): 8192 pages.
pub const KTEST_SWAP_DISK: u64 = 32 << 20;

fn kernel_suite(paths: &Paths, kernel_words: &[String], smp: u32, swap_disk: u64, tally: &mut Tally) {
    let suite = suite_name("kernel", smp);
    let kernel = match build::build_kernel(paths, true) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            tally.record(&format!("{suite}::build"), false, None);
            return;
        }
    };
    // Tests that start a process: exit runs `/hello`, the OOM killer
    // `/oom_touch`.
    let programs = match crate::user::build_user_programs(paths) {
        Ok(dir) => vec![dir.join("hello"), dir.join("oom_touch")],
        Err(e) => {
            eprintln!("error: {e}");
            tally.record(&format!("{suite}::build"), false, None);
            return;
        }
    };
    let mut start = 0u32;
    for _boot in 0..MAX_KTEST_BOOTS {
        let log = paths.logs().join(format!("{suite}-start-{start}.log"));
        let mut words = kernel_words.to_vec();
        words.push(format!("ktest.start={start}"));
        let line = cmdline(&words, &[]).expect("valid words");
        let images = initrd_entries(&line, &programs)
            .and_then(|entries| make_images(paths, &kernel, &entries, &paths.out.join("ktest"), "ktest", &[Firmware::Bios]));
        let image = match images {
            Ok(i) => i.bios.expect("BIOS image requested"),
            Err(e) => {
                eprintln!("error: {e}");
                tally.record(&format!("{suite}::image"), false, None);
                return;
            }
        };
        let mut machine = qemu::Machine::new(Firmware::Bios, image);
        machine.smp = smp;
        let swap = paths.out.join("ktest").join("swap.img");
        if let Err(e) = crate::swapdisk::create(&swap, swap_disk) {
            eprintln!("error: {e}");
            tally.record(&format!("{suite}::image"), false, None);
            return;
        }
        machine.swap_disk = Some(swap);
        let mut state = KtestBoot::default();
        let mut after_failure = false;
        let outcome = qemu::run(
            &qemu::Run {
                args: qemu::args(&machine, None),
                log: &log,
                echo: false,
                stdin: false,
                typed: None,
                timeout: Some(KTEST_TIMEOUT),
            },
            |line| {
                match report::parse_ktest(line) {
                    Some(k) => {
                        after_failure = false;
                        if let Some((name, ok)) = state.feed(&k) {
                            tally.record(&format!("{suite}::{name}"), ok, (!ok).then(|| log.clone()));
                            after_failure = !ok;
                        }
                    }
                    // Lines after a FAILED line carry the failure message.
                    None if after_failure => println!("    | {line}"),
                    None => {}
                }
                Flow::Continue
            },
        );
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                eprintln!("error: {e}");
                tally.record(&format!("{suite}::qemu"), false, None);
                return;
            }
        };
        let why = if outcome.timed_out { format!("timed out after {} s", outcome.elapsed.as_secs()) } else { outcome.exit.describe() };
        match next_step(&state, &outcome.exit) {
            Next::Finished { exit_ok } => {
                if !exit_ok {
                    println!("    kernel suite: `ktest: done` but {why}; expected status {}", state.any_failed as u8);
                    tally.record(&format!("{suite}::exit-status"), false, Some(log));
                }
                return;
            }
            Next::Crashed { index, name, start: s } => {
                println!("    {suite}::{name} (test {index}) did not finish: {why}");
                tally.record(&format!("{suite}::{name}"), false, Some(log));
                start = s;
            }
            Next::Reboot { start: s } => start = s,
            Next::Lost { after, start: s } => {
                println!("    kernel suite ended after {after} without `ktest: done`: {why}");
                tally.record(&format!("{suite}::harness-after-{after}"), false, Some(log));
                start = s;
            }
            Next::NoProgress => {
                println!("    kernel suite (ktest.start={start}) ran no test: {why}");
                tally.record(&format!("{suite}::boot"), false, Some(log));
                return;
            }
        }
    }
    println!("    kernel suite: gave up after {MAX_KTEST_BOOTS} boots");
    tally.record(&format!("{suite}::too-many-reboots"), false, None);
}

// ---------------------------------------------------------------- boot cases

/// What a boot case must show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// `holdfast: kernel main reached` on serial; QEMU is then stopped.
    MainReached,
    /// The kernel exits with `status` (the first user process's) and the
    /// serial output contains every string in `output`.
    Exit { status: i32, output: Vec<String> },
}

/// One QEMU boot with an expectation.
#[derive(Debug, Clone)]
pub struct BootCase {
    pub suite: &'static str,
    pub name: String,
    pub firmware: Firmware,
    pub attach: Attach,
    /// Kernel command-line words before `init=`.
    pub kernel_words: Vec<String>,
    /// `/PROGRAM ARGS...` for `init=`, or empty.
    pub init: Vec<String>,
    /// Host files put into the initrd under their base name.
    pub files: Vec<PathBuf>,
    pub expect: Expect,
    pub timeout: Duration,
    /// The population strategy booted with, if not the default.
    pub strategy: Option<&'static str>,
    /// Instruction-counted guest time ([`qemu::Machine::icount`]).
    pub icount: bool,
    /// A further check of the serial output of a boot that met `expect`.
    pub check: Option<OutputCheck>,
    /// Guest memory (`-m`), if not the default 1G.
    pub mem: Option<&'static str>,
    /// CPU model (`-cpu`), if not the default `max`.
    pub cpu: Option<&'static str>,
    /// CPUs (`-smp`), if not 1.
    pub smp: Option<u32>,
    /// Machine type (`-machine`), if not QEMU's default `pc`.
    pub machine: Option<&'static str>,
    /// A serial port; without one nothing is read from the guest and the
    /// exit code alone is judged.
    pub serial: bool,
    /// Text typed on the console once a serial line contains the first
    /// string ([`qemu::Run::typed`]).
    pub typed: Option<(&'static str, &'static str)>,
    /// Dump the screen while the guest runs; the last dump must not be
    /// blank, and `expect`'s output is looked for in the text read from
    /// it instead of in the serial output ([`crate::screen`]).
    pub screendump: bool,
    /// Bytes of a fresh swap disk to attach ([`crate::swapdisk`]).
    pub swap_disk: Option<u64>,
}

impl BootCase {
    /// A BIOS disk boot of `init` (with `files` in the initrd) that must
    /// exit 0 and leave no page behind; every other setting at its default.
    pub fn exits_cleanly(suite: &'static str, name: String, init: Vec<String>, files: Vec<PathBuf>) -> BootCase {
        BootCase {
            suite,
            name,
            firmware: Firmware::Bios,
            attach: Attach::Disk,
            kernel_words: vec![],
            init,
            files,
            expect: Expect::Exit { status: 0, output: vec![LEAK_CHECK_CLEAN.into()] },
            timeout: BOOT_TIMEOUT,
            strategy: None,
            icount: false,
            check: None,
            mem: None,
            cpu: None,
            smp: None,
            machine: None,
            serial: true,
            screendump: false,
            typed: None,
            swap_disk: None,
        }
    }

    /// The name of its log file and image, without extension.
    pub fn file_stem(&self) -> String {
        format!("{}-{}", self.suite, self.name.replace("::", "-"))
    }
}

/// The images booted the way a PC boots a USB stick.
pub fn smoke_cases() -> Vec<BootCase> {
    [(Firmware::Uefi, "uefi-usb"), (Firmware::Bios, "bios-usb")]
        .into_iter()
        .map(|(firmware, name)| BootCase {
            firmware,
            attach: Attach::UsbStick,
            expect: Expect::MainReached,
            ..BootCase::exits_cleanly("smoke", name.into(), vec![], vec![])
        })
        .collect()
}

/// CPU models other than QEMU's `max`, as on real PCs: `qemu64` has
/// neither SMAP, SMEP, PCID nor FSGSBASE, and `+x2apic` is how such a
/// machine was first seen to fail; `Nehalem` (2008) has no SMAP or SMEP
/// either, `Skylake-Client` (2015) and `EPYC` (2017) have both. Each boots
/// the demo `cargo xtask run` boots ([`crate::image::DEFAULT_INIT`]:
/// threads, page faults, mlock, copies to and from user memory) and must
/// see it report its result and exit 0 with no leak, and the boot log show
/// the features named here (present, or in the `missing:` list); under
/// TCG QEMU drops some of a model's
/// features (PCID, x2APIC) with a warning, so only SMAP and SMEP, which
/// TCG and KVM both give or withhold, are named.
pub const CPU_MODELS: &[(&str, Firmware, Attach, &str)] = &[
    ("qemu64", Firmware::Bios, Attach::Disk, NO_SMAP_SMEP),
    ("qemu64,+x2apic", Firmware::Uefi, Attach::UsbStick, NO_SMAP_SMEP),
    ("Nehalem", Firmware::Bios, Attach::UsbStick, NO_SMAP_SMEP),
    ("Skylake-Client", Firmware::Uefi, Attach::UsbStick, SMAP_SMEP),
    ("EPYC", Firmware::Uefi, Attach::UsbStick, SMAP_SMEP),
];

/// The boot log's feature line on a CPU without SMAP and SMEP.
const NO_SMAP_SMEP: &str = "(missing: smap smep";
/// The boot log's feature line on a CPU with SMAP, SMEP and NX.
const SMAP_SMEP: &str = "cpu features: smap smep nx";

/// [`CPU_MODELS`] as smoke cases, reading the demo's program from `dir`.
pub fn cpu_model_cases(dir: &std::path::Path) -> Vec<BootCase> {
    let init: Vec<String> = crate::image::DEFAULT_INIT.iter().map(|s| s.to_string()).collect();
    let program = dir.join(init[0].trim_start_matches('/'));
    CPU_MODELS
        .iter()
        .map(|&(cpu, firmware, attach, features)| BootCase {
            firmware,
            attach,
            cpu: Some(cpu),
            expect: Expect::Exit { status: 0, output: vec![features.into(), REPORTS_STRATEGY.into(), LEAK_CHECK_CLEAN.into()] },
            ..BootCase::exits_cleanly("smoke", format!("cpu::{}", cpu.replace(',', "")), init.clone(), vec![program.clone()])
        })
        .collect()
}

/// Guest memory sizes booted on q35 (OVMF and SeaBIOS, from a USB stick):
/// with (size, MiB, init) where init touches memory.
///
/// q35 puts 2 GiB of a guest this large below 4 GiB and the rest above,
/// and the firmware splits it into many memory-map regions. The logged
/// usable memory must be close to the size ([`usable_near`]); with 4 GiB
/// `mem_touch` writes and reads back 2.5 GiB, more than there is below
/// 4 GiB, so some of its pages lie above (it gives each page a distinct
/// value, so two pages sharing a frame would show). With 16 GiB the
/// kernel's per-frame metadata for 4 Mi frames must fit and `hello` run.
pub fn memory_cases(dir: &std::path::Path) -> Vec<BootCase> {
    let touch = |mib: u32| (vec!["/mem_touch".to_string(), mib.to_string()], format!("mem_touch: {mib} MiB written and read back"));
    let mut cases = Vec::new();
    for (firmware, name) in [(Firmware::Uefi, "uefi-usb"), (Firmware::Bios, "bios-usb")] {
        let sizes: [(&'static str, OutputCheck, Option<u32>); 2] =
            [("4G", usable_near::<4096>, Some(MEM_TOUCH_MIB)), ("16G", usable_near::<16384>, None)];
        for (mem, check, touch_mib) in sizes {
            let (init, program, output) = match touch_mib {
                Some(mib) => {
                    let (init, line) = touch(mib);
                    (init, "mem_touch", vec![line, LEAK_CHECK_CLEAN.into()])
                }
                None => (vec!["/hello".into()], "hello", vec![LEAK_CHECK_CLEAN.into()]),
            };
            cases.push(BootCase {
                firmware,
                attach: Attach::UsbStick,
                machine: Some("q35"),
                mem: Some(mem),
                check: Some(check),
                expect: Expect::Exit { status: 0, output },
                ..BootCase::exits_cleanly("smoke", format!("mem::{mem}::{name}"), init, vec![dir.join(program)])
            });
        }
    }
    cases
}

/// What `mem_touch` touches in the 4 GiB cases: more than q35's 2 GiB
/// below 4 GiB.
const MEM_TOUCH_MIB: u32 = 2560;

/// An [`OutputCheck`]: the boot log's `memory map: N regions, M MiB
/// usable` must show no more than `MIB` MiB and at most 1/64 of it less
/// (firmware and the bootloader keep a few MiB; 1/64 is 64 MiB of 4 GiB).
fn usable_near<const MIB: u64>(_: Option<&str>, serial: &str) -> std::result::Result<String, String> {
    let line = serial
        .lines()
        .find_map(|l| l.split_once("memory map: ").map(|(_, r)| r))
        .ok_or("no `memory map:` line in the boot log")?;
    let (regions, rest) = line.split_once(" regions, ").ok_or(format!("cannot read {line:?}"))?;
    let usable: u64 = rest.split_once(" MiB usable").and_then(|(n, _)| n.parse().ok()).ok_or(format!("cannot read {line:?}"))?;
    let what = format!("{usable} MiB usable of {MIB} MiB, {regions} regions");
    if usable > MIB || usable < MIB - MIB / 64 {
        return Err(format!("the kernel sees {what}; wanted {} to {MIB}", MIB - MIB / 64));
    }
    Ok(what)
}

/// Seconds the no-serial boot keeps its last screen up before it powers
/// off, for the screendumps taken every [`crate::screen::SCREENDUMP_EVERY`].
const NO_SERIAL_POWEROFF_DELAY: u64 = 3;

/// A PC without a serial port: q35, OVMF, USB stick, `-serial none`. The
/// framebuffer console is the only output: the boot is judged by the exit
/// code of `hello` and by the screen, dumped while the kernel waits before
/// powering off, which must not be blank and must show `hello`'s greeting
/// and the kernel's leak check.
pub fn no_serial_case(dir: &std::path::Path) -> BootCase {
    BootCase {
        firmware: Firmware::Uefi,
        attach: Attach::UsbStick,
        machine: Some("q35"),
        serial: false,
        screendump: true,
        kernel_words: vec![format!("poweroff_delay={NO_SERIAL_POWEROFF_DELAY}")],
        expect: Expect::Exit { status: 0, output: vec!["hello from ring 3".into(), LEAK_CHECK_CLEAN.into()] },
        ..BootCase::exits_cleanly("smoke", "no-serial::uefi-usb".into(), vec!["/hello".into()], vec![dir.join("hello")])
    }
}

/// CPUs the SMP smoke boots start.
const SMOKE_SMP: u32 = 4;

/// Both firmwares from a USB stick with [`SMOKE_SMP`] CPUs: every CPU of
/// the MADT comes online (SeaBIOS hands over a revision-0 RSDP and an
/// RSDT, OVMF an XSDT) and `nprocs` sees them all and runs on each.
pub fn smp_boot_cases(dir: &std::path::Path) -> Vec<BootCase> {
    [(Firmware::Bios, "bios-usb"), (Firmware::Uefi, "uefi-usb")]
        .into_iter()
        .map(|(firmware, name)| {
            let base = BootCase::exits_cleanly(
                "smoke",
                format!("smp{SMOKE_SMP}::{name}"),
                vec!["/nprocs".into(), SMOKE_SMP.to_string()],
                vec![dir.join("nprocs")],
            );
            let online = format!("smp: {SMOKE_SMP} CPUs online");
            let last = format!("cpu {} online (apic id", SMOKE_SMP - 1);
            BootCase {
                firmware,
                attach: Attach::UsbStick,
                smp: Some(SMOKE_SMP),
                expect: Expect::Exit { status: 0, output: vec![online, last, LEAK_CHECK_CLEAN.into()] },
                ..base
            }
        })
        .collect()
}

/// The kernel's exit status after a panic (`arch::qemu::EXIT_PANIC`).
const EXIT_PANIC: i32 = 3;

/// A panic on two CPUs at once while every CPU prints: `sysrq_crash` on
/// [`SMOKE_SMP`] CPUs, judged by [`one_panic_then_silence`].
pub fn panic_cases(dir: &std::path::Path) -> Vec<BootCase> {
    let base = BootCase::exits_cleanly(
        "smoke",
        format!("panic::sysrq-smp{SMOKE_SMP}"),
        vec!["/sysrq_crash".into()],
        vec![dir.join("sysrq_crash")],
    );
    vec![BootCase {
        smp: Some(SMOKE_SMP),
        expect: Expect::Exit { status: EXIT_PANIC, output: vec!["KERNEL PANIC: ".into()] },
        check: Some(one_panic_then_silence),
        ..base
    }]
}

/// The panic path's promise: one panic message, whole, and nothing from
/// the other CPUs after it, which were all printing before it (every CPU
/// of [`SMOKE_SMP`] printed a `beat` line).
fn one_panic_then_silence(_strategy: Option<&str>, serial: &str) -> std::result::Result<String, String> {
    let lines: Vec<&str> = serial.lines().collect();
    let panics: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains("PANIC")).collect();
    let [at] = panics[..] else {
        return Err(format!(
            "{} lines mention a panic, expected exactly one: {:?}",
            panics.len(),
            panics.iter().map(|&i| lines[i]).collect::<Vec<_>>()
        ));
    };
    // `KERNEL PANIC: panicked at FILE:LINE:COL:` and the message below it.
    let message = lines[at..].iter().take(2).copied().collect::<Vec<_>>().join("\n");
    if !lines[at].starts_with("KERNEL PANIC: ") || !message.contains("sysrq triggered crash") {
        return Err(format!("the panic message is not whole: {message:?}"));
    }
    for cpu in 0..SMOKE_SMP {
        let mark = format!("beat {cpu} ");
        if !lines[..at].iter().any(|l| l.starts_with(&mark)) {
            return Err(format!("CPU {cpu} never printed before the panic"));
        }
    }
    match lines[at + 1..].iter().find(|l| l.contains("beat ")) {
        Some(l) => Err(format!("a CPU printed after the panic: {l:?}")),
        None => Ok(format!("one panic message; {SMOKE_SMP} CPUs printing before it, none after")),
    }
}

/// A user program run as init: its arguments, expected exit status and
/// output. Programs are read from `target/holdfast/user/<program>`.
pub struct UserCase {
    /// The case's name if not the program's (several cases of one
    /// program, such as busybox's).
    pub name: &'static str,
    pub program: &'static str,
    pub args: &'static [&'static str],
    pub status: i32,
    /// Strings the program prints (checked on Holdfast and on Linux).
    pub output: &'static [&'static str],
    /// Strings Holdfast's kernel prints about the run (checked on Holdfast
    /// only), beyond the leak check every run must pass.
    pub kernel_log: &'static [&'static str],
    /// Check the address-space invariants after every mm syscall
    /// (`mm.check_invariants`); off only where it would make a long
    /// program too slow under TCG.
    pub check_invariants: bool,
    /// On Linux it needs root (CAP_IPC_LOCK beyond RLIMIT_MEMLOCK, or
    /// setuid to drop it); the `linux` suite skips it without root.
    pub needs_root: bool,
    /// Booted once per population strategy (`mlock_populate=NAME`), each
    /// boot a case of its own named `PROGRAM::STRATEGY`; otherwise booted
    /// once with the default strategy.
    pub every_strategy: bool,
    /// Boot with instruction-counted guest time ([`qemu::Machine::icount`]),
    /// for programs whose verdict compares latencies measured in the guest.
    pub icount: bool,
    /// A further check of a passing Holdfast run: given the strategy
    /// booted with (`None`: the default) and the serial output, `Ok` with
    /// a note to print, or `Err` with why the run fails.
    pub check: Option<OutputCheck>,
    /// Arguments instead of `args` when booted with more than one CPU;
    /// `{cpus}` stands for the CPU count (programs that must see every CPU
    /// online, so that a kernel running on one cannot pass them
    /// trivially).
    pub smp_args: &'static [&'static str],
    /// The check instead of `check` when booted with more than one CPU.
    pub check_parallel: Option<OutputCheck>,
    /// Further files of the user directory (helper programs, scripts) the
    /// program needs beside it in the initrd.
    pub with: &'static [&'static str],
    /// Text typed on the console once the kernel has started the program
    /// (`started /PROGRAM`); on Linux it is the program's standard input.
    pub typed: Option<&'static str>,
    /// Guest memory (`-m`), if not the default.
    pub mem: Option<&'static str>,
    /// Further kernel command-line words (e.g. `zram=1G`).
    pub kernel_words: &'static [&'static str],
    /// The boot's timeout, if not [`BOOT_TIMEOUT`].
    pub timeout: Option<Duration>,
    /// A swap disk of this many bytes as a second drive (`/dev/vda`, off
    /// until the program swaps it on).
    pub swap_disk: Option<u64>,
}

impl UserCase {
    /// The case's name: [`UserCase::name`], or the program's.
    pub fn name(&self) -> &'static str {
        if self.name.is_empty() {
            self.program
        } else {
            self.name
        }
    }
}

/// See [`UserCase::check`].
pub type OutputCheck = fn(Option<&str>, &str) -> std::result::Result<String, String>;

/// What `busybox_console` types at the shell's prompt: arithmetic, a
/// pipe, the mlock strategy switched through its sysctl, and an exit
/// status for the kernel to report.
const SHELL_SESSION: &str = "echo \"answer=$((6 * 7))\"\n\
grep -c '\\[stack\\]' /proc/self/maps | sed 's/^/stacks:/'\n\
echo hold-write > /proc/sys/vm/mlock_populate\n\
sed 's/^/strategy:/' /proc/sys/vm/mlock_populate\n\
exit 5\n";

/// The kernel's line when it has started the first process: a typed
/// session begins then.
const STARTED: &str = "started /";

/// A program expected to exit 0, with invariant checks on.
const fn case(program: &'static str) -> UserCase {
    UserCase {
        name: "",
        program,
        args: &[],
        status: 0,
        output: &[],
        kernel_log: &[],
        check_invariants: true,
        needs_root: false,
        every_strategy: false,
        icount: false,
        check: None,
        smp_args: &[],
        check_parallel: None,
        with: &[],
        typed: None,
        mem: None,
        kernel_words: &[],
        timeout: None,
        swap_disk: None,
    }
}

/// A program of the mlock conformance suite: needs root on Linux, and runs
/// under every population strategy, since each populates differently.
const fn mlock_case(program: &'static str) -> UserCase {
    UserCase { needs_root: true, every_strategy: true, ..case(program) }
}

/// Every user program with its expectation. Each prints `N passed, 0
/// failed` style lines and exits with its number of failures, so status 0
/// is the verdict; `segv` must be killed by SIGSEGV (128 + 11).
pub const USER_CASES: &[UserCase] = &[
    // The first process is pid 1, as Linux's init (kernel threads
    // started before it take other numbers).
    UserCase { kernel_log: &["started /hello as pid 1\n"], ..case("hello") },
    case("abi_basic"),
    case("bad_input"),
    case("threads"),
    UserCase { status: 139, kernel_log: &["killed by signal 11"], ..case("segv") },
    UserCase { args: &["3", "1"], check_invariants: false, ..case("contend") },
    // The demo `cargo xtask run` boots. What the writer feels must have
    // the shape of the strategy: in guest time (instruction-counted, so
    // host load cannot distort it) populating 128 MiB takes ~570 ms, well
    // above the ~12-50 ms a thread can wait for the CPU behind the other
    // three (4 ms ticks), so the ratio separates hold-write (~1.0) from
    // yield-to-waiters (~0.003) widely. Its `--timeline` output must
    // agree with its RESULT line.
    UserCase {
        args: &["128", "--quick", "--timeline"],
        output: &[REPORTS_STRATEGY],
        check_invariants: false,
        icount: true,
        check: Some(contend_shape),
        check_parallel: Some(contend_shape_parallel),
        ..mlock_case("mlock_contend")
    },
    case("hello_printf"),
    UserCase { check_invariants: false, ..case("malloc_stress") },
    case("pthreads"),
    case("clock"),
    case("abi_order"),
    case("stack_growth"),
    case("madvise_populate"),
    case("pipes"),
    // select and pselect6: pipes, files, timeouts, masks, across fork.
    case("select"),
    // BusyBox (Debian's busybox-static): a script of pipes, statuses,
    // signals and applets; then an interactive shell on the console.
    UserCase {
        name: "busybox_sh",
        args: &["sh", "sh_basics.sh"],
        output: &["sh_basics: 21 passed, 0 failed"],
        with: &["sh_basics.sh"],
        ..case("busybox")
    },
    UserCase {
        name: "busybox_console",
        args: &["sh"],
        status: 5,
        output: &["answer=42", "stacks:1", "strategy:hold-write"],
        typed: Some(SHELL_SESSION),
        ..case("busybox")
    },
    // Types into the serial line when it asks (`tty: send HEX`); ends
    // killed by the SIGINT of the ^C it typed.
    UserCase { status: 130, output: &["tty: 63 passed, 0 failed"], kernel_log: &["killed by signal 2"], ..case("tty") },
    // Sets its uids for good at the end; needs root to start from.
    UserCase { needs_root: true, ..case("creds") },
    // The writable file system: every operation and its errors, the
    // permission checks as uid 65534 last (setuid), and ENOSPC. Root on
    // Linux: it mounts a 16 MiB tmpfs to run in.
    UserCase { needs_root: true, ..case("tmpfs") },
    // fork, vfork and clone: copy-on-write isolation, threads, pipes.
    case("fork"),
    // Linux's mlock rules across fork (VmLck, MCL_FUTURE, residency).
    UserCase { needs_root: true, ..case("fork_mlock") },
    // /proc/<pid>/smaps, smaps_rollup and /proc/meminfo against mlock and
    // copy-on-write state (mlocks 4 MiB: root on Linux).
    UserCase { needs_root: true, ..case("smaps") },
    // MAP_SHARED | MAP_ANONYMOUS shared across fork through one shmem
    // object: writes both ways, mlock/munlock (VmLck, mincore) in each
    // process, MADV_DONTNEED keeps the data. Root on Linux (mlock).
    UserCase { needs_root: true, ..case("shm_anon") },
    // One page locked by two processes: mlocked once (meminfo Mlocked),
    // each process's VmLck and smaps Locked:, locked until the last
    // locked mapping is munlocked or unmapped. Root on Linux (mlock).
    UserCase { needs_root: true, ..case("shm_mlock") },
    // The LRU lists in meminfo and vmstat: written memory on the
    // anonymous lists, mlock moving it to Unevictable and munlock back
    // (unevictable_pgs_* counters). Root on Linux (mlock).
    UserCase { needs_root: true, ..case("lru_lists") },
    // What mlock protects against: on 256 MiB with zram swap, 64 MiB
    // mlocked stays resident while 512 MiB of unlocked memory is swapped
    // out and read back intact. Sized for the guest (skipped natively).
    // Without the checker: its lists of every frame would need more heap
    // than a machine under this pressure has (mm_swap checks reclaim and
    // swap-in with it on).
    // At 4 vCPUs on this 2-core host every TLB flush of reclaim waits for
    // the other vCPUs: the same test on less memory with one pass after
    // munlock (6 minutes otherwise). About a minute on a quiet host; the
    // timeout leaves room for a loaded one.
    UserCase {
        mem: Some("256M"),
        kernel_words: &["zram=1G"],
        needs_root: true,
        check_invariants: false,
        smp_args: &["16", "288", "1"],
        timeout: Some(Duration::from_secs(360)),
        ..case("swap_mlock")
    },
    // Copy-on-write pages shared by fork swapped out once (one slot, two
    // counts) and read back by each process as its own data: 32 MiB
    // shared, 320 MiB of pressure on 256 MiB with zram.
    UserCase { mem: Some("256M"), kernel_words: &["zram=1G"], ..case("swap_fork") },
    // Shmem pages (shared anonymous, memfd, System V) swapped out by three
    // rounds of 320 MiB of pressure on 256 MiB with zram and read back
    // intact (mincore, pread, pwrite, a child's writes), SHM_LOCK keeping
    // its segment resident, meminfo SwapFree/Shmem and smaps Swap:, slots
    // freed by swap-in, ftruncate and release. Sized for the guest.
    // About 20 s at one CPU; at 4 vCPUs on this 2-core host reclaim's TLB
    // flushes wait for the other vCPUs (about 2 minutes on a kernel that
    // swaps no shmem), so the timeout of swap_mlock.
    UserCase { mem: Some("256M"), kernel_words: &["zram=1G"], timeout: Some(Duration::from_secs(360)), ..case("shmem_swap") },
    // The stress programs under real memory pressure: mm_stress and
    // syscall_fuzz in the foreground while swap_mlock keeps reclaim
    // swapping in the background, with the invariant checker on (it
    // skips its walk while free memory is below twice the reserve).
    UserCase {
        name: "swap_pressure",
        args: &["sh", "swap_pressure.sh"],
        output: &["swap_pressure: 6 passed, 0 failed"],
        with: &["swap_pressure.sh", "swap_mlock", "mm_stress", "syscall_fuzz"],
        mem: Some("160M"),
        kernel_words: &["zram=512M"],
        // Half a minute at one CPU on a quiet host, a minute at four;
        // three times that under load.
        timeout: Some(Duration::from_secs(360)),
        ..case("busybox")
    },
    // vm.swappiness: Linux's default, its range and EINVAL, and global
    // reclaim swapping at swappiness 0 (no file pages to take instead):
    // 320 MiB written on 256 MiB with zram. Without the checker, as
    // swap_mlock.
    UserCase { mem: Some("256M"), kernel_words: &["zram=1G"], needs_root: true, check_invariants: false, ..case("swappiness") },
    // swapoff brings every swapped-out page of every process back and
    // takes the device away (ENOMEM, nothing lost, while more is swapped
    // out than fits); swapon puts it back; their errnos. On 256 MiB with
    // zram: sized for the guest (skipped natively). Without the checker
    // for the same reason as swap_mlock (mm_swapoff checks try_to_unuse
    // with it on). Less memory at 4 CPUs, where swapping is slower (about
    // 3 minutes on a 2-core host; 35 s at one CPU).
    UserCase {
        mem: Some("256M"),
        kernel_words: &["zram=1G"],
        needs_root: true,
        check_invariants: false,
        smp_args: &["16", "240"],
        timeout: Some(Duration::from_secs(360)),
        ..case("swapoff")
    },
    // Swap priorities: the defaults (-2, -3, closing up on swapoff),
    // SWAP_FLAG_PREFER, reclaim writing to the highest priority only and
    // to equals in turn, read from /proc/swaps. Two devices: zram on at
    // boot and a 256 MiB disk the program swaps on. Sized for the guest.
    UserCase {
        mem: Some("160M"),
        kernel_words: &["zram=128M"],
        swap_disk: Some(256 << 20),
        needs_root: true,
        check_invariants: false,
        timeout: Some(Duration::from_secs(360)),
        ..case("swap_prio")
    },
    // File mappings through the page cache: MAP_SHARED/MAP_PRIVATE of
    // tmpfs files coherent with read/write, truncation (SIGBUS), mlock
    // breaking copy-on-write, /dev/zero, memfd_create. Root on Linux.
    UserCase { needs_root: true, ..case("file_map") },
    // File seals on memfds and tmpfs files: F_ADD_SEALS/F_GET_SEALS
    // errnos, F_SEAL_WRITE against shared writable mappings (split,
    // moved, merged, forked), the write, size and exec seals.
    case("memfd_seals"),
    // System V shared memory: shmget/shmat/shmdt/shmctl errnos, sharing
    // and shm_nattch across fork and exit, IPC_RMID, SHM_RDONLY, SHM_LOCK
    // (meminfo's Unevictable), /proc/sysvipc/shm, permission errors as uid
    // 65534 (setresuid needs root).
    UserCase { needs_root: true, ..case("sysv_shm") },
    // wait4/waitid statuses, orphans, process groups and sessions.
    case("wait"),
    // Job-control stops and continues, their wait statuses and SIGCHLD.
    case("jobctl"),
    // RLIMIT_NPROC bounds a fork bomb as uid 65534 (setuid needs root).
    UserCase { needs_root: true, ..case("forkbomb") },
    // A write to a pipe without a reader: SIGPIPE's default action ends
    // the process, waking its two threads asleep in other pipes.
    UserCase { status: 141, output: &["writing to a pipe without a reader"], kernel_log: &["killed by signal 13"], ..case("pipe_sigpipe") },
    UserCase { status: 137, kernel_log: &["killed by signal 9"], ..mlock_case("mlock_sigkill") },
    // Handlers run (SA_SIGINFO, SA_RESTART, masks, sigaltstack, timers,
    // FPU state across a handler, a process-directed signal to the thread
    // that does not block it).
    case("signals"),
    // A handler returns through a corrupted frame: SIGSEGV, never a panic.
    UserCase { status: 139, output: &["through a corrupted frame"], kernel_log: &["killed by signal 11"], ..case("sig_badframe") },
    // A fault in a SIGSEGV handler (SIGSEGV blocked there) kills.
    UserCase { status: 139, output: &["faulting again"], kernel_log: &["killed by signal 11"], ..case("sig_segv_in_handler") },
    // Default actions: SIGUSR1 and SIGALRM terminate.
    UserCase { status: 138, kernel_log: &["killed by signal 10"], ..case("sig_default_usr1") },
    UserCase { status: 142, kernel_log: &["killed by signal 14"], ..case("sig_default_alarm") },
    // A stack overflow with a SIGSEGV handler but no alternate stack: the
    // frame cannot be written, and SIGSEGV kills (Linux force_sigsegv).
    UserCase { status: 139, output: &["until the stack overflows"], kernel_log: &["killed by signal 11"], ..case("sig_stack_overflow") },
    mlock_case("mlock01"),
    mlock_case("mlock02"),
    mlock_case("mlock04"),
    mlock_case("mlock05"),
    mlock_case("mlock201"),
    mlock_case("mlock202"),
    mlock_case("mlock203"),
    mlock_case("mlock2_selftests"),
    mlock_case("mlock_errno"),
    mlock_case("mlock_random"),
    mlock_case("mlockall01"),
    mlock_case("mlockall02"),
    mlock_case("munlock01"),
    mlock_case("munlock02"),
    mlock_case("munlock_untouched"),
    mlock_case("munlockall01"),
    mlock_case("on_fault_limit"),
    mlock_case("open_posix_mlock"),
    // 400 000 alternating mprotect splits against vm.max_map_count; 65 530
    // vmas make the invariant check after every call too slow. Writes the
    // sysctl, so root on Linux.
    UserCase { output: &["max_map_count: ", " passed, 0 failed"], check_invariants: false, needs_root: true, ..case("max_map_count") },
    // Touches twice the machine's memory: the OOM killer ends it with
    // SIGKILL, and every frame comes back (the leak check).
    UserCase {
        args: &["2048"],
        status: 137,
        kernel_log: &["Out of memory: Killed process", "killed by signal 9"],
        check_invariants: false,
        ..case("oom_touch")
    },
    // The OOM killer among several processes: a forked child touching
    // twice the machine's memory is the victim; its parent and two small
    // siblings live on.
    UserCase {
        args: &["2048"],
        output: &["oom_fork: 7 passed, 0 failed"],
        kernel_log: &["Out of memory: Killed process"],
        check_invariants: false,
        ..case("oom_fork")
    },
    // Random system calls with hostile arguments; the kernel checks its mm
    // invariants after every memory-management call.
    UserCase { args: &["3000", "1"], output: &["syscall_fuzz: 11 passed, 0 failed"], ..case("syscall_fuzz") },
    // munmap and MAP_FIXED while another thread (on another CPU when
    // there is one) reads the page: it never reads the old frame, and its
    // read after the final munmap is killed by SIGSEGV. The summary line
    // comes before that final round.
    UserCase {
        args: &["100"],
        smp_args: &["100", "{cpus}"],
        status: 139,
        output: &["# final round: A munmaps X while B reads it"],
        kernel_log: &["killed by signal 11"],
        ..case("tlb_munmap")
    },
    // mprotect(PROT_READ) while another thread (on another CPU when there
    // is one) writes the page: its write after the final mprotect is
    // killed by SIGSEGV; the cycles before lose no write.
    UserCase {
        args: &["50"],
        smp_args: &["50", "{cpus}"],
        status: 139,
        output: &["# final round: A makes X read-only while B writes it"],
        kernel_log: &["killed by signal 11"],
        ..case("tlb_mprotect")
    },
    // Four threads mmap, munmap, mprotect, mlock, munlock and touch
    // interleaved pages of one arena; every result and byte is checked,
    // and the kernel checks its invariants after every call.
    UserCase { args: &["1500"], smp_args: &["1500", "1", "{cpus}"], ..case("mm_stress") },
    // The online CPUs as /proc/cpuinfo, sysconf, sched_getaffinity and
    // /proc/self/status report them; sched_setaffinity/getcpu to each CPU
    // in turn, and Linux's errors for both affinity calls. (An argument
    // would fix the CPU count; this host's Linux runs it too, so none.)
    UserCase { smp_args: &["{cpus}"], ..case("nprocs") },
    // execve/execveat without fork: the program executes itself in stages
    // (argv/envp, close-on-exec, mlocks and MCL_FUTURE gone, one thread
    // left, handlers reset, #! scripts interpreted by exec_echo), with
    // threads busy on the other CPUs when there are some.
    UserCase {
        args: &["3"],
        smp_args: &["{cpus}"],
        with: &["exec_echo", "exec_script.sh", "exec_nested.sh", "exec_loop.sh", "exec_garbage", "exec_noexec.txt"],
        ..case("exec")
    },
];

/// Under `hold-write` the mlock holds the write lock from start to end, so
/// a writer that queues during it waits for most of it: the longest
/// mmap+munmap (mlock_contend's kind a) that overlapped the mlock must take
/// at least [`HOLD_WRITE_MIN`] of the mlock's time.
const HOLD_WRITE_MIN: f64 = 0.5;
/// Under `yield-to-waiters` population gives the lock up as soon as a
/// writer waits, so no writer waits for more than a small part of the
/// mlock: at most [`YIELD_MAX`] of its time.
const YIELD_MAX: f64 = 0.1;

/// mlock_contend's [`OutputCheck`]: the ratio, within one run, of the
/// writer's longest in-mlock latency to the mlock's time, judged for the
/// two strategies whose shape is clear-cut and reported for the others;
/// and its timeline checked against its RESULT line
/// ([`crate::timeline::check_against_result`]). Never a verdict on an
/// absolute time.
fn contend_shape(strategy: Option<&str>, serial: &str) -> std::result::Result<String, String> {
    let r = serial.lines().rev().find_map(crate::bench::parse_result).ok_or("no RESULT line")?;
    let get = |k: &str| -> std::result::Result<f64, String> {
        r.get(k).and_then(|v| v.parse::<f64>().ok()).ok_or(format!("RESULT line lacks a number {k}="))
    };
    let (a_n, a_max_us, mlock_ms) = (get("a_n")?, get("a_max")?, get("mlock_ms")?);
    if mlock_ms <= 0.0 {
        return Err(format!("mlock_ms={mlock_ms}: no mlock was timed"));
    }
    let ratio = a_max_us / (mlock_ms * 1000.0);
    let shape = format!("writer's max in mlock / mlock time = {a_max_us} us / {mlock_ms} ms = {ratio:.3} (a_n={a_n})");
    if a_n < 1.0 {
        return Err(format!("no writer sample overlapped the mlock: {shape}"));
    }
    match strategy {
        Some("hold-write") if ratio < HOLD_WRITE_MIN => Err(format!("{shape}; hold-write wants >= {HOLD_WRITE_MIN}")),
        Some("yield-to-waiters") if ratio > YIELD_MAX => Err(format!("{shape}; yield-to-waiters wants <= {YIELD_MAX}")),
        _ => Ok(()),
    }?;
    // The run's `--timeline` output agrees with its RESULT line.
    let timeline = crate::timeline::check_against_result(serial).map_err(|e| format!("{shape}; {e}"))?;
    Ok(format!("{shape}; {timeline}"))
}

/// [`contend_shape`] for boots with more than one CPU, whose vCPUs run as
/// host threads: hold-write's bound is judged (its writer waits for the
/// whole mlock whatever the host does), yield-to-waiters' only reported,
/// since with more vCPUs than host cores the longest wait measures how
/// long the host left a vCPU unscheduled as much as the kernel.
fn contend_shape_parallel(strategy: Option<&str>, serial: &str) -> std::result::Result<String, String> {
    match strategy {
        Some("yield-to-waiters") => contend_shape(None, serial).map(|s| format!("{s} (reported, not judged, with several vCPUs)")),
        _ => contend_shape(strategy, serial),
    }
}

/// What the kernel prints when the first process has exited and left no
/// page mlocked and no frame referenced; every user run must show it.
const LEAK_CHECK_CLEAN: &str = "leak check: 0 pages mlocked, 0 user pages still referenced";

/// The start of mlock_contend's last line, which names the strategy.
const REPORTS_STRATEGY: &str = "RESULT strategy=";

/// What the kernel prints when `mlock_populate=` names no strategy (it then
/// keeps its default).
const UNKNOWN_STRATEGY: &str = "unknown mlock_populate=";

/// [`USER_CASES`] as boot cases, reading programs from `dir`: one per
/// program, or one per population strategy for
/// [`every_strategy`](UserCase::every_strategy) programs.
/// The guest memory of the small-machine runs of the mlock programs.
const LOW_MEM: &str = "128M";

#[cfg(test)]
pub fn user_cases(dir: &std::path::Path) -> Vec<BootCase> {
    user_cases_at(dir, 1)
}

/// [`user_cases`] booted with `smp` CPUs: in the suite named for that
/// count ([`at_smp`]), with each program's
/// [`smp_args`](UserCase::smp_args) when it has them and `smp > 1`.
pub fn user_cases_at(dir: &std::path::Path, smp: u32) -> Vec<BootCase> {
    let mut cases = Vec::new();
    for u in USER_CASES {
        let mut init = vec![format!("/{}", u.program)];
        if smp > 1 && !u.smp_args.is_empty() {
            init.extend(u.smp_args.iter().map(|a| a.replace("{cpus}", &smp.to_string())));
        } else {
            init.extend(u.args.iter().map(|a| a.to_string()));
        }
        let output: Vec<String> = u.output.iter().chain(u.kernel_log).chain(&[LEAK_CHECK_CLEAN]).map(|s| s.to_string()).collect();
        let mut kernel_words: Vec<String> = if u.check_invariants { vec!["mm.check_invariants".into()] } else { vec![] };
        kernel_words.extend(u.kernel_words.iter().map(|w| w.to_string()));
        let check = if smp > 1 { u.check_parallel.or(u.check) } else { u.check };
        let base = BootCase {
            kernel_words: kernel_words.clone(),
            expect: Expect::Exit { status: u.status, output: output.clone() },
            icount: u.icount,
            check,
            typed: u.typed.map(|t| (STARTED, t)),
            mem: u.mem,
            swap_disk: u.swap_disk,
            timeout: u.timeout.unwrap_or(BOOT_TIMEOUT),
            ..BootCase::exits_cleanly("user", u.name().to_string(), init, [u.program].iter().chain(u.with).map(|f| dir.join(f)).collect())
        };
        // With more CPUs, a single-threaded mlock program exercises what it
        // does on one (the strategies differ in how they let other threads
        // in, and it has none): it runs once, under the default strategy.
        // The contention benchmark still runs under every strategy.
        if !u.every_strategy || (smp > 1 && u.check.is_none()) {
            cases.push(base);
            continue;
        }
        // The mlock programs also run on a small machine, where population
        // can run out of memory: no panic, the same results. (Not the
        // contention benchmark, whose region is sized for the 1 GiB guest.)
        if u.check.is_none() {
            cases.push(BootCase { name: format!("{}::{LOW_MEM}", u.name()), mem: Some(LOW_MEM), ..base.clone() });
        }
        for strategy in crate::bench::STRATEGIES {
            let mut words = kernel_words.clone();
            words.push(format!("mlock_populate={strategy}"));
            // A program that reports the strategy it ran under must show
            // this one.
            let output = output.iter().map(|o| if o == REPORTS_STRATEGY { format!("{o}{strategy}") } else { o.clone() }).collect();
            cases.push(BootCase {
                name: format!("{}::{strategy}", u.name()),
                kernel_words: words,
                expect: Expect::Exit { status: u.status, output },
                strategy: Some(strategy),
                ..base.clone()
            });
        }
    }
    cases.into_iter().map(|c| at_smp(c, smp)).collect()
}

// ---------------------------------------------------------------- linux

/// Run every user program natively on the host's Linux and expect the
/// same status as on Holdfast: where the two differ, Holdfast is wrong.
/// The mlock conformance programs need root (they drop to uid 65534 and
/// set limits themselves); without root they are reported as skipped.
fn linux_suite(dir: &std::path::Path, opts: &TestOpts, tally: &mut Tally) {
    let root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    for u in USER_CASES {
        let name = format!("linux::{}", u.name());
        if !selected(opts, &name) {
            continue;
        }
        if let Some(why) = linux_skip(u, root) {
            tally.skip(&name, why);
            continue;
        }
        let left_before = fuzz_leftovers();
        let mut cmd = std::process::Command::new("timeout");
        cmd.arg("120").arg(dir.join(u.program)).args(u.args).current_dir(dir);
        cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let out = match u.typed {
            None => cmd.output(),
            Some(text) => cmd.stdin(std::process::Stdio::piped()).spawn().and_then(|mut child| {
                use std::io::Write;
                if let Some(mut stdin) = child.stdin.take() {
                    stdin.write_all(text.as_bytes())?;
                }
                child.wait_with_output()
            }),
        };
        let (ok, why) = match out {
            Ok(o) => {
                use std::os::unix::process::ExitStatusExt;
                let status = o.status.code().unwrap_or_else(|| 128 + o.status.signal().unwrap_or(0));
                let text = String::from_utf8_lossy(&o.stdout);
                let missing = u.output.iter().find(|w| !text.contains(*w));
                // The failed checks say what went wrong on this host.
                let not_ok: String = text.lines().filter(|l| l.starts_with("not ok")).map(|l| format!("\n      {l}")).collect();
                match missing {
                    _ if status != u.status => (false, format!("status {status}, expected {}{not_ok}", u.status)),
                    Some(w) => (false, format!("output lacks {w:?}{not_ok}")),
                    None => (true, String::new()),
                }
            }
            Err(e) => (false, format!("cannot run: {e}")),
        };
        for path in fuzz_leftovers().difference(&left_before) {
            let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
        }
        if !ok {
            println!("    {name}: {why}");
        }
        tally.record(&name, ok, None);
    }
}

/// What `syscall_fuzz` runs leave in /tmp: the directories and files of
/// its sandboxes (`/tmp/hfuzz.*`), which stay when a run gave up root.
fn fuzz_leftovers() -> std::collections::BTreeSet<PathBuf> {
    let entries = std::fs::read_dir("/tmp").into_iter().flatten().flatten();
    entries.filter(|e| e.file_name().to_string_lossy().starts_with("hfuzz.")).map(|e| e.path()).collect()
}

/// Why `u` does not run natively here, if it does not.
fn linux_skip(u: &UserCase, root: bool) -> Option<&'static str> {
    if u.typed.is_some() {
        return Some("a console session on Holdfast (/proc/sys/vm/mlock_populate)");
    }
    if matches!(
        u.name(),
        "oom_touch" | "oom_fork" | "swap_mlock" | "swap_fork" | "shmem_swap" | "swap_pressure" | "swapoff" | "swap_prio"
    ) {
        // Its size is twice the guest's memory; this machine has far more.
        return Some("sized for the QEMU guest's memory");
    }
    (u.needs_root && !root).then_some("needs root")
}

// ---------------------------------------------------------------- fuzz compare

/// Calls per comparison run. Every seed of 1..=8 agrees with this host's
/// Linux for its first 1377 calls or more; the seeds below agree for
/// their first 3197 or more.
const FUZZ_COMPARE_CALLS: u32 = 2000;
/// Seeds compared, one Holdfast boot each.
const FUZZ_COMPARE_SEEDS: &[u64] = &[1, 3, 6];
/// Differences shown in full when a comparison fails.
const SHOWN_DIFFERENCES: usize = 8;

fn fuzz_compare_name(seed: u64) -> String {
    format!("linux::fuzz_compare::seed{seed}")
}

/// The trace lines of a `syscall_fuzz ... compare` run (`N Call(...) = R`),
/// without carriage returns, from output that may hold anything else.
fn parse_trace(out: &str) -> Vec<&str> {
    out.lines()
        .map(|l| l.trim_end_matches('\r'))
        .filter(|l| {
            let Some((index, rest)) = l.split_once(' ') else { return false };
            !index.is_empty()
                && index.bytes().all(|b| b.is_ascii_digit())
                && rest.starts_with(|c: char| c.is_ascii_uppercase())
                && rest.contains("(")
                && rest.contains(") = ")
        })
        .collect()
}

/// Compares the traces of `calls` calls from Linux and from Holdfast call
/// by call; `Err` shows the first differences, both lines of each.
fn compare_traces(linux: &str, holdfast: &str, calls: u32) -> std::result::Result<(), String> {
    let (l, h) = (parse_trace(linux), parse_trace(holdfast));
    for (side, t) in [("linux", &l), ("holdfast", &h)] {
        let in_order = t.iter().enumerate().all(|(i, line)| line.split(' ').next() == Some(i.to_string().as_str()));
        if t.len() != calls as usize || !in_order {
            return Err(format!("{side}: {} of {calls} trace lines{}", t.len(), if in_order { "" } else { ", out of order" }));
        }
    }
    let differ: Vec<(&str, &str)> = l.iter().zip(&h).filter(|(a, b)| a != b).map(|(a, b)| (*a, *b)).collect();
    if differ.is_empty() {
        return Ok(());
    }
    let mut msg = format!("{} of {calls} calls differ; the first {}:", differ.len(), differ.len().min(SHOWN_DIFFERENCES));
    for (a, b) in differ.iter().take(SHOWN_DIFFERENCES) {
        msg.push_str(&format!("\n        linux:    {a}\n        holdfast: {b}"));
    }
    Err(msg)
}

/// `syscall_fuzz CALLS SEED compare` booted on Holdfast and run natively,
/// as root and from `/` with Holdfast's argv[0] and environment (so that
/// relative paths and the initial stack match); the traces must be the
/// same call by call (`fuzz::Mode::Compare` in `user/` leaves out what
/// depends on the machine). Both runs must also pass the fuzzer's own
/// checks (exit status 0).
fn fuzz_compare(paths: &Paths, kernel: Option<&Path>, dir: &Path, seeds: &[u64], kernel_words: &[String], tally: &mut Tally) {
    let root = std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    let program = dir.join("syscall_fuzz");
    for &seed in seeds {
        let name = fuzz_compare_name(seed);
        if !root {
            tally.skip(&name, "needs root");
            continue;
        }
        let Some(kernel) = kernel else {
            println!("    {name}: no kernel");
            tally.record(&name, false, None);
            continue;
        };
        let args = vec![FUZZ_COMPARE_CALLS.to_string(), seed.to_string(), "compare".to_string()];
        let linux_log = paths.logs().join(format!("linux-fuzz_compare-seed{seed}-linux.log"));
        let linux = {
            use std::os::unix::process::CommandExt;
            let mut cmd = std::process::Command::new(&program);
            cmd.arg0("/syscall_fuzz").args(&args).current_dir("/").env_clear();
            cmd.envs([("HOME", "/"), ("PATH", "/"), ("TERM", "linux")]);
            cmd.stdin(Stdio::null()).stderr(Stdio::inherit());
            cmd.output()
        };
        let linux = match linux {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).into_owned(),
            Ok(o) => {
                let _ = std::fs::write(&linux_log, &o.stdout);
                println!("    {name}: on Linux syscall_fuzz ended with {}", o.status);
                tally.record(&name, false, Some(linux_log));
                continue;
            }
            Err(e) => {
                println!("    {name}: cannot run {}: {e}", paths.show(&program));
                tally.record(&name, false, None);
                continue;
            }
        };
        let _ = std::fs::create_dir_all(paths.logs()).and_then(|()| std::fs::write(&linux_log, &linux));
        let mut init = vec!["/syscall_fuzz".to_string()];
        init.extend(args);
        let case = BootCase {
            kernel_words: vec!["mm.check_invariants".into()],
            ..BootCase::exits_cleanly("linux", format!("fuzz_compare::seed{seed}"), init, vec![program.clone()])
        };
        let case = with_kernel_words(kernel_words, case);
        let (log, result) = boot_case(paths, kernel, &case);
        let result = result.and_then(|(outcome, serial)| {
            judge(&case.expect, &outcome, &serial)?;
            compare_traces(&linux, &serial, FUZZ_COMPARE_CALLS)?;
            Ok(outcome)
        });
        match result {
            Ok(o) => {
                eprintln!("    ({name}: {FUZZ_COMPARE_CALLS} calls agree; Holdfast boot {:.0} s)", o.elapsed.as_secs_f64());
                tally.record(&name, true, None);
            }
            Err(why) => {
                println!("    {name}: {why}");
                println!("    (traces: {} and {})", paths.show(&linux_log), paths.show(&log));
                tally.record(&name, false, Some(log));
            }
        }
    }
}

/// `case` with `words` (from `--strategy`/`--kernel-arg`) before its own
/// kernel words: among kernel words later ones win, so a case booted under
/// a named strategy keeps it.
fn with_kernel_words(words: &[String], mut case: BootCase) -> BootCase {
    case.kernel_words = words.iter().chain(&case.kernel_words).cloned().collect();
    case
}

/// Judges a finished boot; `Err` holds the reason for failing.
pub fn judge(expect: &Expect, outcome: &qemu::Outcome, serial: &str) -> std::result::Result<(), String> {
    if outcome.timed_out {
        return Err(format!("timed out after {} s", outcome.elapsed.as_secs()));
    }
    match expect {
        Expect::MainReached if outcome.stopped => Ok(()),
        Expect::MainReached => Err(format!("`{}` never appeared: {}", qemu::MAIN_REACHED, outcome.exit.describe())),
        Expect::Exit { status, output } => {
            if outcome.exit != Exit::Kernel(*status) {
                return Err(format!("expected exit status {status}, but {}", outcome.exit.describe()));
            }
            match output.iter().find(|s| !serial.contains(s.as_str())) {
                Some(missing) => Err(format!("output lacks {missing:?}")),
                None => Ok(()),
            }
        }
    }
}

/// Boots `case`: returns its log file, and how QEMU ended with the serial
/// output, or why it could not boot.
fn boot_case(paths: &Paths, kernel: &Path, case: &BootCase) -> (PathBuf, std::result::Result<(qemu::Outcome, String), String>) {
    let log = paths.logs().join(format!("{}.log", case.file_stem()));
    let result = (|| {
        let line = cmdline(&case.kernel_words, &case.init)?;
        let dir = paths.out.join("cases");
        let images = initrd_entries(&line, &case.files)
            .and_then(|entries| make_images(paths, kernel, &entries, &dir, &case.file_stem(), &[case.firmware]))
            .map_err(|e| e.to_string())?;
        let image = images.bios.or(images.uefi).expect("one image requested");
        let ovmf = match case.firmware {
            Firmware::Uefi => Some(qemu::find_ovmf().map_err(|e| e.to_string())?),
            Firmware::Bios => None,
        };
        let mut machine = qemu::Machine::new(case.firmware, image);
        machine.attach = case.attach;
        machine.icount = case.icount;
        if let Some(n) = case.smp {
            machine.smp = n;
        }
        if let Some(mem) = case.mem {
            machine.mem = mem.into();
        }
        if let Some(cpu) = case.cpu {
            machine.cpu = cpu.into();
        }
        machine.machine = case.machine.map(String::from);
        machine.serial = case.serial;
        if let Some(bytes) = case.swap_disk {
            let swap = paths.out.join("cases").join(format!("{}-swap.img", case.file_stem()));
            crate::swapdisk::create(&swap, bytes).map_err(|e| e.to_string())?;
            machine.swap_disk = Some(swap);
        }
        let dumps = if case.screendump {
            // A unix socket's path has at most 107 bytes: keep it short
            // whatever the checkout's path.
            let socket = std::env::temp_dir().join(format!("holdfast-{}.qmp", std::process::id()));
            let shot = screendump_path(paths, case);
            for stale in [&socket, &shot] {
                let _ = std::fs::remove_file(stale);
            }
            machine.qmp = Some(socket.clone());
            Some((crate::screen::Screendumps::start(socket.clone(), shot, crate::screen::SCREENDUMP_EVERY), socket))
        } else {
            None
        };
        let mut serial = String::new();
        let outcome = qemu::run(
            &qemu::Run {
                args: qemu::args(&machine, ovmf.as_deref()),
                log: &log,
                echo: false,
                stdin: false,
                typed: case.typed,
                timeout: Some(case.timeout),
            },
            |line| {
                serial.push_str(line);
                serial.push('\n');
                if case.expect == Expect::MainReached && line.contains(qemu::MAIN_REACHED) {
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            },
        )
        .map_err(|e| e.to_string());
        if let Some((dumps, socket)) = dumps {
            let taken = dumps.finish();
            let _ = std::fs::remove_file(socket);
            let taken = taken?;
            eprintln!("    ({} screendumps, the last kept in {})", taken, paths.show(&screendump_path(paths, case)));
        }
        Ok((outcome?, serial))
    })();
    (log, result)
}

/// Where the last screendump of `case` is kept.
fn screendump_path(paths: &Paths, case: &BootCase) -> PathBuf {
    paths.logs().join(format!("{}.ppm", case.file_stem()))
}

fn run_case(paths: &Paths, kernel: &Path, case: &BootCase, tally: &mut Tally) {
    let full = format!("{}::{}", case.suite, case.name);
    let fail = |tally: &mut Tally, why: String, log: Option<PathBuf>| {
        println!("    {full}: {why}");
        tally.record(&full, false, log);
    };
    let (log, result) = boot_case(paths, kernel, case);
    let (o, serial) = match result {
        Ok(r) => r,
        Err(why) => return fail(tally, why, None),
    };
    // Without a serial port, what the case expects to read is on the screen.
    let (serial, screen) = if case.screendump {
        let shot = screendump_path(paths, case);
        match crate::screen::read_screen(&shot) {
            Ok((text, what)) => {
                let _ = std::fs::write(shot.with_extension("txt"), &text);
                (text, format!(", {what}"))
            }
            Err(why) => return fail(tally, why, Some(shot)),
        }
    } else {
        (serial, String::new())
    };
    if let Err(why) = judge(&case.expect, &o, &serial) {
        return fail(tally, why, Some(if case.screendump { screendump_path(paths, case).with_extension("txt") } else { log }));
    }
    if case.strategy.is_some() && serial.contains(UNKNOWN_STRATEGY) {
        return fail(tally, format!("the kernel did not take {:?}", case.kernel_words), Some(log));
    }
    let note = match case.check.map(|check| check(case.strategy, &serial)) {
        Some(Err(why)) => return fail(tally, why, Some(log)),
        Some(Ok(note)) => format!(", {note}"),
        None => String::new(),
    };
    eprintln!("    ({full}: {:.0} s{note}{screen})", o.elapsed.as_secs_f64());
    tally.record(&full, true, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boot_with(lines: &[&str]) -> KtestBoot {
        let mut b = KtestBoot::default();
        for l in lines {
            b.feed(&report::parse_ktest(l).expect("ktest line"));
        }
        b
    }

    #[test]
    fn clean_run() {
        let b = boot_with(&["ktest: run 0 a", "ktest: ok 0 a", "ktest: run 1 b", "ktest: ok 1 b", "ktest: done"]);
        assert_eq!(next_step(&b, &Exit::Kernel(0)), Next::Finished { exit_ok: true });
        assert_eq!(next_step(&b, &Exit::Kernel(1)), Next::Finished { exit_ok: false });
    }

    #[test]
    fn failed_without_panic_finishes_with_1() {
        let b = boot_with(&["ktest: run 0 a", "ktest: FAILED 0 a", "ktest: run 1 b", "ktest: ok 1 b", "ktest: done"]);
        assert_eq!(next_step(&b, &Exit::Kernel(1)), Next::Finished { exit_ok: true });
    }

    #[test]
    fn panic_reboots_after_the_test() {
        let b = boot_with(&["ktest: run 3 a", "ktest: ok 3 a", "ktest: run 4 b", "ktest: FAILED 4 b"]);
        assert_eq!(next_step(&b, &Exit::Kernel(2)), Next::Reboot { start: 5 });
    }

    #[test]
    fn crash_or_timeout_counts_the_running_test() {
        let b = boot_with(&["ktest: run 0 a", "ktest: ok 0 a", "ktest: run 1 b"]);
        let want = Next::Crashed { index: 1, name: "b".into(), start: 2 };
        assert_eq!(next_step(&b, &Exit::NoExitCode), want);
        assert_eq!(next_step(&b, &Exit::Killed), want);
    }

    #[test]
    fn ending_between_tests_or_before_any() {
        let b = boot_with(&["ktest: run 0 a", "ktest: ok 0 a"]);
        assert_eq!(next_step(&b, &Exit::NoExitCode), Next::Lost { after: "a".into(), start: 1 });
        assert_eq!(next_step(&KtestBoot::default(), &Exit::Killed), Next::NoProgress);
    }

    fn outcome(exit: Exit, timed_out: bool, stopped: bool) -> qemu::Outcome {
        qemu::Outcome { exit, timed_out, stopped, elapsed: Duration::from_secs(3) }
    }

    #[test]
    fn cases_at_four_cpus_are_named_for_it_and_take_the_cpu_count() {
        let one = user_cases_at(Path::new("/u"), 1);
        let four = user_cases_at(Path::new("/u"), 4);
        assert!(four.len() < one.len(), "single-threaded mlock programs run once at smp 4");
        assert!(four.iter().any(|c| c.name == "mlock01") && !four.iter().any(|c| c.name.starts_with("mlock01::")));
        assert_eq!(four.iter().filter(|c| c.name.starts_with("mlock_contend::")).count(), crate::bench::STRATEGIES.len());
        assert!(one.iter().all(|c| c.suite == "user" && c.smp.is_none()));
        assert!(four.iter().all(|c| c.suite == "user-smp4" && c.smp == Some(4)));
        let init = |cases: &[BootCase], name: &str| cases.iter().find(|c| c.name == name).unwrap().init.join(" ");
        assert_eq!(init(&one, "tlb_munmap"), "/tlb_munmap 100");
        assert_eq!(init(&four, "tlb_munmap"), "/tlb_munmap 100 4");
        assert_eq!(init(&four, "nprocs"), "/nprocs 4");
        assert_eq!(init(&four, "hello"), "/hello");
    }

    #[test]
    fn judging_boot_cases() {
        let main = Expect::MainReached;
        assert!(judge(&main, &outcome(Exit::Killed, false, true), "").is_ok());
        assert!(judge(&main, &outcome(Exit::Killed, true, false), "").unwrap_err().contains("timed out"));
        assert!(judge(&main, &outcome(Exit::NoExitCode, false, false), "").is_err());
        let exit = Expect::Exit { status: 0, output: vec!["locked 4 pages".into()] };
        assert!(judge(&exit, &outcome(Exit::Kernel(0), false, false), "x\nlocked 4 pages\n").is_ok());
        assert!(judge(&exit, &outcome(Exit::Kernel(0), false, false), "x\n").unwrap_err().contains("locked 4 pages"));
        assert!(judge(&exit, &outcome(Exit::Kernel(3), false, false), "locked 4 pages").unwrap_err().contains("status 3"));
    }

    #[test]
    fn mlock_programs_boot_under_every_strategy() {
        let cases = user_cases(Path::new("/u"));
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert!(names.contains(&"hello"), "{names:?}");
        for program in ["mlock01", "mlock_errno", "mlock_sigkill", "mlock_contend"] {
            assert!(!names.contains(&program), "{program} runs once per strategy, not once");
            for s in mm::populate::PopulateStrategy::ALL {
                let name = format!("{program}::{}", s.name());
                let c = cases.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no case {name}"));
                assert!(c.kernel_words.contains(&format!("mlock_populate={}", s.name())), "{name}: {:?}", c.kernel_words);
                assert_eq!(c.init[0], format!("/{program}"));
            }
        }
        // Every case has its own log file and image.
        let mut stems: Vec<String> = cases.iter().map(|c| c.file_stem()).collect();
        stems.sort();
        stems.dedup();
        assert_eq!(stems.len(), cases.len());
        assert!(stems.iter().all(|s| !s.contains(['/', ':'])), "{stems:?}");
    }

    #[test]
    fn kernel_words_from_the_command_line_go_first() {
        let words: Vec<String> = vec!["mlock_populate=populate-unlocked".into(), "stay".into()];
        let cases: Vec<BootCase> = user_cases(std::path::Path::new("/u")).into_iter().map(|c| with_kernel_words(&words, c)).collect();
        let find = |name: &str| cases.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(find("hello").kernel_words, ["mlock_populate=populate-unlocked", "stay", "mm.check_invariants"]);
        // A case named after a strategy keeps it: the kernel takes the last value.
        let line = cmdline(&find("mlock01::hold-write").kernel_words, &[]).unwrap();
        assert_eq!(line, "mlock_populate=populate-unlocked stay mm.check_invariants mlock_populate=hold-write");
    }

    #[test]
    fn mlock_contend_shape() {
        // With the writer's timeline (`--timeline`), whose slowest sample
        // in the mlock is a_max.
        let run = |a_n: u32, a_max: u32, mlock_ms: &str| {
            let mlock_us = (mlock_ms.parse::<f64>().unwrap() * 1000.0) as u64;
            format!(
                "mlock_contend: strategy=s\nTIMELINE kind=a strategy=s mlock_us={mlock_us} seen=9 kept=9 shown=2 slowest=2\n\
                 TL a -50:3.0 0:{a_max}.0\nRESULT strategy=s region_mib=16 mlock_ms={mlock_ms} pages_per_s=1 \
                 a_n={a_n} a_p50=1 a_p99=1 a_max={a_max} b_n=3 b_p50=1 b_p99=1 b_max=1\n"
            )
        };
        let hold = Some("hold-write");
        let yield_ = Some("yield-to-waiters");
        // hold-write: the writer waits for most of the mlock.
        assert!(contend_shape(hold, &run(1, 90_000, "100.00")).unwrap().contains("0.90"));
        assert!(contend_shape(hold, &run(1, 50_000, "100.00")).is_ok());
        assert!(contend_shape(hold, &run(40, 49_000, "100.00")).unwrap_err().contains("0.49"));
        // yield-to-waiters: it waits for a small part of it.
        assert!(contend_shape(yield_, &run(40, 10_000, "100.00")).is_ok());
        assert!(contend_shape(yield_, &run(40, 11_000, "100.00")).unwrap_err().contains("0.11"));
        // No writer sample overlapped the mlock: nothing was measured.
        assert!(contend_shape(yield_, &run(0, 0, "100.00")).unwrap_err().contains("a_n=0"));
        assert!(contend_shape(hold, &run(0, 0, "100.00")).is_err());
        // The other strategies are reported, not judged.
        assert!(contend_shape(Some("downgrade-at-end"), &run(5, 90_000, "100.00")).is_ok());
        assert!(contend_shape(None, &run(5, 90_000, "100.00")).is_ok());
        assert!(contend_shape(hold, "no result line").is_err());
        assert!(contend_shape(hold, &run(1, 90_000, "0.00")).is_err());
        // The timeline must be there and agree with the RESULT line.
        assert!(contend_shape(hold, &run(1, 90_000, "100.00")).unwrap().contains("is RESULT's a_max"));
        let no_timeline: String = run(1, 90_000, "100.00").lines().filter(|l| !l.starts_with("T")).map(|l| format!("{l}\n")).collect();
        assert!(contend_shape(hold, &no_timeline).unwrap_err().contains("TIMELINE"));
        assert!(contend_shape(None, &run(5, 90_000, "100.00").replace("0:90000.0", "0:9000.0")).unwrap_err().contains("a_max"));
        // The user cases check it.
        let c = USER_CASES.iter().find(|u| u.program == "mlock_contend").unwrap();
        assert!(c.check.is_some() && c.every_strategy);
    }

    #[test]
    fn fuzz_traces() {
        let t = |lines: &[&str]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let a = ["0 Getpid(0x0, 0x0, 0x0, 0x0, 0x0, 0x0) = PID", "1 Mlock(0x5000, 0x1000, 0x0, 0x0, 0x0, 0x0) = ENOMEM"];
        // Serial noise around the trace (kernel log, carriage returns, TAP).
        let holdfast = format!("[ 0.1] INFO started\n{}ok 1 - x\r\n", t(&a).replace('\n', "\r\n"));
        assert_eq!(parse_trace(&holdfast), a.to_vec());
        assert_eq!(compare_traces(&t(&a), &holdfast, 2), Ok(()));
        // One answer differs: named with both lines.
        let b = ["0 Getpid(0x0, 0x0, 0x0, 0x0, 0x0, 0x0) = PID", "1 Mlock(0x5000, 0x1000, 0x0, 0x0, 0x0, 0x0) = EINVAL"];
        let e = compare_traces(&t(&a), &t(&b), 2).unwrap_err();
        assert!(e.contains("1 of 2 calls differ"), "{e}");
        assert!(e.contains("linux:    1 Mlock(0x5000, 0x1000, 0x0, 0x0, 0x0, 0x0) = ENOMEM"), "{e}");
        assert!(e.contains("holdfast: 1 Mlock(0x5000, 0x1000, 0x0, 0x0, 0x0, 0x0) = EINVAL"), "{e}");
        // A side that stopped early, or printed nothing, fails.
        assert!(compare_traces(&t(&a), &t(&a[..1]), 2).unwrap_err().contains("holdfast: 1 of 2"));
        assert!(compare_traces("", "", 2).unwrap_err().contains("linux: 0 of 2"));
        // Lines out of order are not a trace.
        assert!(compare_traces(&t(&[a[1], a[0]]), &t(&[a[1], a[0]]), 2).is_err());
    }

    #[test]
    fn linux_skips_only_what_needs_root() {
        let find = |p: &str| USER_CASES.iter().find(|u| u.program == p).expect("a user case");
        // `clock` has "lock" in its name but needs no privilege.
        assert_eq!(linux_skip(find("clock"), false), None);
        assert_eq!(linux_skip(find("hello"), false), None);
        for p in ["mlock01", "mlock_errno", "mlock_sigkill", "mlock_contend"] {
            assert_eq!(linux_skip(find(p), false), Some("needs root"), "{p}");
            assert_eq!(linux_skip(find(p), true), None, "{p}");
        }
    }

    #[test]
    fn panic_judged_by_one_message_then_silence() {
        let beats = "beat 0 1\nbeat 1 1\nbeat 2 1\nbeat 3 1\nbeat ";
        let panic = "\nKERNEL PANIC: panicked at kernel/src/fs/procfs.rs:1:1:\nsysrq triggered crash\n";
        assert!(one_panic_then_silence(None, &format!("{beats}{panic}")).is_ok());
        let after = format!("{beats}{panic}beat 2 2\n");
        assert!(one_panic_then_silence(None, &after).unwrap_err().contains("after the panic"));
        let twice = format!("{beats}{panic}{panic}");
        assert!(one_panic_then_silence(None, &twice).unwrap_err().contains("exactly one"));
        let torn = format!("{beats}{}", panic.replace("triggered crash", "trig"));
        assert!(one_panic_then_silence(None, &torn).is_err());
        let idle = format!("beat 0 1\nbeat 1 1\n{panic}");
        assert!(one_panic_then_silence(None, &idle).unwrap_err().contains("CPU 2 never printed"));
    }

    #[test]
    fn smoke_cases_are_usb_sticks() {
        let cases = smoke_cases();
        assert_eq!(cases.len(), 2);
        assert!(cases.iter().all(|c| c.attach == Attach::UsbStick && c.expect == Expect::MainReached));
        assert_eq!(cases[0].firmware, Firmware::Uefi);
        assert_eq!(cases[1].firmware, Firmware::Bios);
    }

    #[test]
    fn cpu_model_cases_run_the_demo_on_each_model() {
        let cases = cpu_model_cases(Path::new("/u"));
        assert_eq!(
            cases.iter().map(|c| c.cpu).collect::<Vec<_>>(),
            [Some("qemu64"), Some("qemu64,+x2apic"), Some("Nehalem"), Some("Skylake-Client"), Some("EPYC")]
        );
        assert_eq!(cases[1].name, "cpu::qemu64+x2apic");
        assert_eq!(cases[3].name, "cpu::Skylake-Client");
        for c in &cases {
            // What `cargo xtask run` boots, as on a real PC.
            assert_eq!(c.init, crate::image::DEFAULT_INIT);
            assert_eq!(c.files, [Path::new("/u/mlock_contend")]);
            let Expect::Exit { status: 0, output } = &c.expect else { panic!("{}: {:?}", c.name, c.expect) };
            // The boot log names the features the model has (or lacks),
            // the demo reports its result, and nothing leaks.
            assert_eq!(output[1..], [REPORTS_STRATEGY.to_string(), LEAK_CHECK_CLEAN.into()], "{}", c.name);
        }
        let features = |name: &str| match &cases.iter().find(|c| c.name == name).unwrap().expect {
            Expect::Exit { output, .. } => output[0].clone(),
            e => panic!("{e:?}"),
        };
        // Before Broadwell/Zen there is no SMAP or SMEP; after, both are on.
        assert_eq!(features("cpu::qemu64"), "(missing: smap smep");
        assert_eq!(features("cpu::Nehalem"), "(missing: smap smep");
        assert_eq!(features("cpu::Skylake-Client"), "cpu features: smap smep nx");
        assert_eq!(features("cpu::EPYC"), "cpu features: smap smep nx");
        assert!(cases.iter().any(|c| c.firmware == Firmware::Bios) && cases.iter().any(|c| c.firmware == Firmware::Uefi));
    }

    fn memory_map_line(regions: u32, mib: u64) -> String {
        format!("[    0.000] INFO  memory map: {regions} regions, {mib} MiB usable; frames: 1 total, 1 free\n")
    }

    #[test]
    fn memory_cases_see_and_touch_memory_above_4g() {
        let cases = memory_cases(Path::new("/u"));
        let names: Vec<&str> = cases.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["mem::4G::uefi-usb", "mem::16G::uefi-usb", "mem::4G::bios-usb", "mem::16G::bios-usb"]);
        for c in &cases {
            assert_eq!((c.machine, c.attach), (Some("q35"), Attach::UsbStick), "{}", c.name);
            assert!(c.check.is_some(), "{}", c.name);
        }
        let four = &cases[0];
        assert_eq!(four.mem, Some("4G"));
        // q35 keeps 2 GiB below 4 GiB: touching more reaches above it.
        assert_eq!(four.init, ["/mem_touch", "2560"]);
        let Expect::Exit { status: 0, output } = &four.expect else { panic!("{:?}", four.expect) };
        assert!(output.contains(&"mem_touch: 2560 MiB written and read back".to_string()), "{output:?}");
        // The logged usable memory must be close to the size given.
        let check = four.check.unwrap();
        assert!(check(None, &memory_map_line(128, 4082)).unwrap().contains("4082 MiB usable of 4096 MiB, 128 regions"));
        assert!(check(None, &memory_map_line(128, 1010)).unwrap_err().contains("1010 MiB usable"));
        assert!(check(None, &memory_map_line(128, 4000)).is_err());
        assert!(check(None, &memory_map_line(128, 4097)).is_err());
        assert!(check(None, "no memory map line").is_err());
        let sixteen = cases[1].check.unwrap();
        assert!(sixteen(None, &memory_map_line(122, 16370)).is_ok());
        assert!(sixteen(None, &memory_map_line(122, 4082)).is_err());
    }

    #[test]
    fn the_no_serial_case_is_judged_by_exit_code_and_screen() {
        let c = no_serial_case(Path::new("/u"));
        assert_eq!(c.name, "no-serial::uefi-usb");
        assert!(!c.serial && c.screendump);
        assert_eq!((c.firmware, c.attach, c.machine), (Firmware::Uefi, Attach::UsbStick, Some("q35")));
        // Nothing can be read from serial: the exit code, and text read
        // from the screen.
        assert_eq!(c.expect, Expect::Exit { status: 0, output: vec!["hello from ring 3".into(), LEAK_CHECK_CLEAN.into()] });
        // The kernel keeps its last screen up long enough to be dumped.
        let delay: u64 = c.kernel_words.iter().find_map(|w| w.strip_prefix("poweroff_delay=")).unwrap().parse().unwrap();
        assert!(Duration::from_secs(delay) >= 4 * crate::screen::SCREENDUMP_EVERY);
        assert!(crate::cli::check_kernel_word(&c.kernel_words[0]).is_ok());
    }
}
