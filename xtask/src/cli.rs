//! Command-line parsing for `cargo xtask`. Pure: turns the argument list
//! into a [`Command`] or an error message; no I/O.

use std::path::PathBuf;

/// Usage text printed by `cargo xtask help` and on parse errors.
pub const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  run [options] [-- /PROGRAM ARGS...]
        build the kernel, initrd and image, boot it in QEMU with serial on
        this terminal, and exit with the kernel's exit status
        --uefi         boot the UEFI image under OVMF (default: BIOS/SeaBIOS)
        --gdb          start QEMU halted with a gdb stub on :1234 (-s -S)
        --smp N        number of CPUs (default 2)
        --mem SIZE     guest memory, e.g. 512M or 2G (default 1G)
        --swap-disk SIZE
                       attach a fresh SIZE (e.g. 64M) virtio-blk disk with
                       a Linux swap header, target/holdfast/run-swap.img
        --stay         put `stay` on the kernel command line (no power-off)
        --display      show a QEMU window (default: -display none)
        --timeout SECS kill QEMU after SECS seconds (default: no limit)
        --add FILE     put host FILE into the initrd as /BASENAME (repeatable)
        --strategy NAME
                       boot with `mlock_populate=NAME`, the mlock population
                       strategy: hold-write, downgrade-retake,
                       downgrade-at-end, populate-unlocked, yield-to-waiters
        --kernel-arg WORD
                       put WORD on the kernel command line, before `init=`
                       (repeatable): mlock_populate=NAME,
                       mm.check_invariants, mm.populate_profile, stay,
                       poweroff_delay=SECONDS, ktest.start=N,
                       ktest.filter=TEXT
        -- /PROGRAM A  kernel command line `init=/PROGRAM A...` (every user
                       program is in the initrd; default: the mlock
                       contention demo)
        --linux        boot the same programs on Linux instead, in the same
                       QEMU (-cpu qemu64): Debian's cloud kernel, fetched
                       with apt-get download into target/linux/ once, and
                       an initramfs of the same binaries; exits with the
                       program's status (--timeout defaults to 600)
        --linux-kernel PATH
                       with --linux: boot this bzImage instead
        --shell        boot into `busybox sh` on the console (type on this
                       terminal; Debian's busybox-static, fetched with
                       apt-get download into target/busybox/ once)
        --busybox PATH use this static busybox instead of Debian's
  image [--add FILE]... [--strategy NAME] [--kernel-arg WORD]...
        [-- /PROGRAM ARGS...]
        write target/holdfast/holdfast-bios.img and holdfast-uefi.img
  test [--suite host|kernel|smoke|user|linux]... [--only TEXT] [--smp N]...
       [--strategy NAME] [--kernel-arg WORD]... [--busybox PATH]
       [--swap-disk SIZE]
        run the host tests, the in-kernel suite, the boot smoke tests, the
        user programs on Holdfast and the same programs on this Linux;
        prints one line per test and `N passed, M failed, K skipped`
        --only TEXT    in the user and linux suites, run only the cases
                       whose name (e.g. user::mlock01::hold-write)
                       contains TEXT
        --smp N        boot the kernel and user suites with N CPUs (repeatable;
                       default: once with 1 and once with 4, the second run's
                       cases named kernel-smp4::..., user-smp4::...)
        --strategy, --kernel-arg
                       as for run (but not `stay`), for every Holdfast
                       boot; they go before a case's own words, so the
                       cases named after a strategy keep theirs (later
                       words win)
        --swap-disk SIZE
                       attach a fresh swap disk (as for run) to every
                       smoke and user boot; the kernel suite always has
                       one (32M unless SIZE is given)
  bench [--sizes 64,256,512] [--strategies a,b,...] [--reps N]
        [--smp 1,2,4] [--kinds abc] [--linux] [--linux-kernel PATH] [--plot DIR]
        [--timeline-size MIB] [--swap]
        boot the mlock contention workload once per population strategy,
        region size and CPU count; print the tables (figures, never a verdict)
        --smp LIST     CPU counts (default 2); with more than one, a last
                       table puts each count's pages/s and (a) max/ml side
                       by side
        --kinds K      the contending threads mlock_contend starts (a: mmap
                       writer, b: faulting reader, c: /proc reader)
        --linux        also run it on Linux in the same QEMU, once per size,
                       and print the rows side by side with ratios; both
                       kernels then run on -cpu qemu64 (as run --linux)
        --plot DIR     also write SVG charts into DIR: max and p99 latency
                       of (a), (b), (c) and mlock pages/s against region
                       size, one line per strategy (and Linux); and
                       timeline.svg, each kernel's operations around its
                       last mlock at one size (the boots at that size run
                       mlock_contend --timeline), with a table of it
        --timeline-size MIB
                       with --plot: that size (one of --sizes) for the
                       timeline (default: the largest)
        --swap         swap and reclaim figures instead: swap_mlock's
                       swap-out and swap-in pages/s on zram and on a
                       virtio-blk disk with reclaim's us per page, then
                       mlock_contend on 384M with zram, alone and beside a
                       memory hog (--sizes default 128, --strategies
                       default hold-write,yield-to-waiters; not with
                       --linux or --plot)
  help  print this text
";

/// Options that shape the initrd: extra files and the program to start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InitrdOpts {
    /// Host files copied into the initrd under their base name.
    pub add: Vec<PathBuf>,
    /// `/PROGRAM ARGS...` after `--`, if any.
    pub init: Vec<String>,
    /// Kernel words from `--strategy` and `--kernel-arg`, in order, each
    /// checked by [`check_kernel_word`]; they go before `init=`.
    pub kernel_words: Vec<String>,
}

/// `cargo xtask run` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOpts {
    pub uefi: bool,
    pub gdb: bool,
    pub smp: u32,
    pub mem: String,
    pub stay: bool,
    pub display: bool,
    pub timeout_secs: Option<u64>,
    pub initrd: InitrdOpts,
    /// Boot the program on Linux instead of Holdfast (`--linux`).
    pub linux: bool,
    /// The bzImage for `--linux` (`--linux-kernel PATH`); Debian's cloud
    /// kernel otherwise.
    pub linux_kernel: Option<PathBuf>,
    /// Boot into `busybox sh` on the console (`--shell`).
    pub shell: bool,
    /// A static busybox instead of Debian's (`--busybox PATH`).
    pub busybox: Option<PathBuf>,
    /// Bytes of a swap disk to attach (`--swap-disk SIZE`).
    pub swap_disk: Option<u64>,
}

impl Default for RunOpts {
    fn default() -> Self {
        RunOpts {
            uefi: false,
            gdb: false,
            smp: 2,
            mem: "1G".to_string(),
            stay: false,
            display: false,
            timeout_secs: None,
            initrd: InitrdOpts::default(),
            linux: false,
            linux_kernel: None,
            shell: false,
            busybox: None,
            swap_disk: None,
        }
    }
}

/// Parts of `cargo xtask test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Suite {
    /// `cargo test` of mm, boot, xtask, and the loom models.
    Host,
    /// The in-kernel `ktest` suite.
    Kernel,
    /// USB-stick boots under OVMF and SeaBIOS.
    Smoke,
    /// User programs booted as `init=`.
    User,
    /// The same user programs run natively on the host's Linux.
    Linux,
}

impl Suite {
    pub const ALL: [Suite; 5] = [Suite::Host, Suite::Kernel, Suite::Smoke, Suite::User, Suite::Linux];

    fn parse(s: &str) -> Option<Suite> {
        Some(match s {
            "host" => Suite::Host,
            "kernel" => Suite::Kernel,
            "smoke" => Suite::Smoke,
            "user" => Suite::User,
            "linux" => Suite::Linux,
            _ => return None,
        })
    }
}

/// `cargo xtask test` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOpts {
    /// Suites to run, in order; all of them by default.
    pub suites: Vec<Suite>,
    /// Only the user and linux cases whose full name contains this.
    pub only: Option<String>,
    /// Kernel words from `--strategy` and `--kernel-arg`, put before each
    /// booted case's own words (so a case that names its own strategy
    /// keeps it: among kernel words, later ones win).
    pub kernel_words: Vec<String>,
    /// CPU counts the kernel and user suites boot with, each a run of its
    /// own ([`DEFAULT_TEST_SMP`] unless `--smp` is given).
    pub smp: Vec<u32>,
    /// A static busybox instead of Debian's (`--busybox PATH`).
    pub busybox: Option<PathBuf>,
    /// Bytes of a swap disk for every smoke and user boot, and the kernel
    /// suite's (`--swap-disk SIZE`).
    pub swap_disk: Option<u64>,
}

/// CPU counts `cargo xtask test` runs the kernel and user suites at.
pub const DEFAULT_TEST_SMP: [u32; 2] = [1, 4];

/// `cargo xtask bench` options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchOpts {
    /// Region sizes to mlock, in MiB.
    pub sizes_mib: Vec<u64>,
    /// Population strategies (`mlock_populate=NAME`), each one of
    /// [`crate::bench::STRATEGIES`].
    pub strategies: Vec<String>,
    /// Repetitions per boot (`mlock_contend SIZE REPS`).
    pub reps: u32,
    /// Also run the workload on Linux in the same QEMU (`--linux`).
    pub linux: bool,
    /// The bzImage for `--linux` (`--linux-kernel PATH`).
    pub linux_kernel: Option<PathBuf>,
    /// Write SVG charts of the rows into this directory (`--plot DIR`).
    pub plot: Option<PathBuf>,
    /// CPU counts to boot with (`--smp 1,2,4`), each a matrix of its own.
    pub smp: Vec<u32>,
    /// The contending kinds of `mlock_contend` (`--kinds a`), all by default.
    pub kinds: Option<String>,
    /// The region size of the timeline runs (`--timeline-size MIB`, one
    /// of the sizes); see [`BenchOpts::timeline_size`].
    pub timeline_size: Option<u64>,
    /// Swap and reclaim figures instead of the strategy matrix (`--swap`,
    /// [`crate::bench_swap`]).
    pub swap: bool,
}

/// `bench --swap`'s region sizes unless `--sizes` is given.
pub const SWAP_BENCH_SIZES: [u64; 1] = [128];
/// `bench --swap`'s strategies unless `--strategies` is given.
pub const SWAP_BENCH_STRATEGIES: [&str; 2] = ["hold-write", "yield-to-waiters"];

impl BenchOpts {
    /// With `--plot`, the size whose boots also print `mlock_contend
    /// --timeline` output for `timeline.svg`: `--timeline-size`, or the
    /// largest size.
    pub fn timeline_size(&self) -> Option<u64> {
        self.plot.as_ref()?;
        self.timeline_size.or_else(|| self.sizes_mib.iter().copied().max())
    }
}

impl Default for BenchOpts {
    /// 64, 256 and 512 MiB, every strategy, 3 repetitions.
    fn default() -> Self {
        BenchOpts {
            sizes_mib: vec![64, 256, 512],
            strategies: crate::bench::STRATEGIES.iter().map(|s| s.to_string()).collect(),
            reps: 3,
            linux: false,
            linux_kernel: None,
            plot: None,
            smp: vec![2],
            kinds: None,
            timeline_size: None,
            swap: false,
        }
    }
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run(RunOpts),
    Image(InitrdOpts),
    Test(TestOpts),
    Bench(BenchOpts),
    Help,
}

fn value<'a>(flag: &str, it: &mut impl Iterator<Item = &'a String>) -> Result<&'a String, String> {
    it.next().ok_or_else(|| format!("{flag} needs a value"))
}

/// The words the kernel reads from its command line (`cmdline::flag` and
/// `cmdline::value` in `kernel/src`): a bare flag, or a key ending in `=`
/// that takes a value; with what each does.
pub const KERNEL_WORDS: &[(&str, &str)] = &[
    ("mlock_populate=", "the mlock population strategy, by name"),
    ("mm.check_invariants", "check the address-space invariants after every mm syscall"),
    ("mm.populate_profile", "account where population's time goes (populate_* lines in /proc/vmstat)"),
    ("stay", "do not power off when the first process exits"),
    ("poweroff_delay=", "seconds to wait, the screen showing the last output, before powering off"),
    ("zram=", "swap on a compressed in-RAM device of this size (e.g. 1G)"),
    ("swapon=", "swap on this device at boot (/dev/vda: the disk of --swap-disk)"),
    ("ktest.start=", "in-kernel tests: start at this index"),
    ("ktest.filter=", "in-kernel tests: run only those whose name contains this"),
];

fn unknown_strategy(name: &str) -> String {
    format!("unknown strategy {name:?}; one of {}", crate::bench::STRATEGIES.join(", "))
}

/// Checks one word for the kernel command line: no whitespace (the kernel
/// splits at it), not `init=` (xtask puts the program there, from `--`),
/// and one of [`KERNEL_WORDS`] with a value the kernel takes.
pub fn check_kernel_word(w: &str) -> Result<(), String> {
    if w.is_empty() || w.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("kernel word {w:?} is empty or contains whitespace; the kernel splits its command line at spaces"));
    }
    if w.starts_with("init=") {
        return Err(format!("{w}: xtask sets init= itself; give the program after `--`, e.g. `-- /mlock_contend 64`"));
    }
    let known = KERNEL_WORDS.iter().find(|(k, _)| match k.strip_suffix('=') {
        Some(key) => w.split_once('=').is_some_and(|(wk, _)| wk == key),
        None => w == *k,
    });
    let Some((key, _)) = known else {
        let list: Vec<String> = KERNEL_WORDS.iter().map(|(k, what)| format!("  {k:<22}{what}")).collect();
        return Err(format!("unknown kernel word {w:?}; the kernel knows:\n{}", list.join("\n")));
    };
    let value = w.split_once('=').map_or("", |(_, v)| v);
    match *key {
        "mlock_populate=" if !crate::bench::STRATEGIES.contains(&value) => Err(format!("{w}: {}", unknown_strategy(value))),
        "ktest.start=" if value.parse::<u32>().is_err() => Err(format!("{w}: ktest.start= takes a test index")),
        "ktest.filter=" if value.is_empty() => Err(format!("{w}: ktest.filter= takes part of a test name")),
        "poweroff_delay=" if value.parse::<u32>().is_err() => Err(format!("{w}: poweroff_delay= takes whole seconds")),
        _ => Ok(()),
    }
}

/// Handles `--strategy NAME` and `--kernel-arg WORD`, appending the
/// checked word to `words`; `Ok(false)` if `arg` is neither.
fn kernel_word_option<'a>(arg: &str, it: &mut impl Iterator<Item = &'a String>, words: &mut Vec<String>) -> Result<bool, String> {
    let word = match arg {
        "--strategy" => {
            let v = value(arg, it)?;
            if !crate::bench::STRATEGIES.contains(&v.as_str()) {
                return Err(unknown_strategy(v));
            }
            format!("mlock_populate={v}")
        }
        "--kernel-arg" => value(arg, it)?.clone(),
        _ => return Ok(false),
    };
    check_kernel_word(&word)?;
    words.push(word);
    Ok(true)
}

/// The words after `--`: `/PROGRAM ARGS...`. A kernel word there would
/// become the init program (`init=/mlock_populate=...`), so say where it
/// goes instead.
fn init_words<'a>(it: &mut impl Iterator<Item = &'a String>) -> Result<Vec<String>, String> {
    let init: Vec<String> = it.cloned().collect();
    if let Some(first) = init.first() {
        if !first.starts_with('/') && (first.contains('=') || KERNEL_WORDS.iter().any(|(k, _)| k == first)) {
            let instead = match first.strip_prefix("mlock_populate=") {
                Some(name) => format!("--strategy {name}"),
                None => format!("--kernel-arg {first}"),
            };
            return Err(format!(
                "{first:?} after `--` would be started as the program /{first}; kernel words go before `--`: use `{instead}`"
            ));
        }
    }
    Ok(init)
}

/// Checks a memory size the way QEMU's `-m` takes it: digits with an
/// optional M or G suffix.
fn valid_mem(s: &str) -> bool {
    let digits = s.strip_suffix(['M', 'G', 'm', 'g']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && digits.parse::<u64>().is_ok_and(|n| n > 0)
}

/// The bytes of `--swap-disk SIZE`.
fn swap_disk_size(v: &str) -> Result<u64, String> {
    crate::swapdisk::parse_size(v)
        .ok_or_else(|| format!("--swap-disk wants a size like 64M or 1G (whole 4 KiB pages, at least 8K), not {v:?}"))
}

/// Parses the arguments after `cargo xtask`.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let Some((cmd, rest)) = args.split_first() else {
        return Err("no command given".to_string());
    };
    match cmd.as_str() {
        "run" => parse_run(rest).map(Command::Run),
        "image" => {
            let mut initrd = InitrdOpts::default();
            let mut it = rest.iter();
            while let Some(arg) = it.next() {
                match arg.as_str() {
                    _ if kernel_word_option(arg, &mut it, &mut initrd.kernel_words)? => {}
                    "--add" => initrd.add.push(value(arg, &mut it)?.into()),
                    "--" => initrd.init = init_words(&mut it)?,
                    other => return Err(format!("unknown option for image: {other}")),
                }
            }
            Ok(Command::Image(initrd))
        }
        "test" => {
            let mut suites = Vec::new();
            let mut only = None;
            let mut kernel_words = Vec::new();
            let mut smp = Vec::new();
            let mut busybox = None;
            let mut swap_disk = None;
            let mut it = rest.iter();
            while let Some(arg) = it.next() {
                match arg.as_str() {
                    _ if kernel_word_option(arg, &mut it, &mut kernel_words)? => {}
                    "--smp" => {
                        let v = value(arg, &mut it)?;
                        let n = v
                            .parse::<u32>()
                            .ok()
                            .filter(|n| (1..=64).contains(n))
                            .ok_or_else(|| format!("--smp wants a CPU count from 1 to 64, not {v:?}"))?;
                        if !smp.contains(&n) {
                            smp.push(n);
                        }
                    }
                    "--suite" => {
                        let v = value(arg, &mut it)?;
                        let s = Suite::parse(v).ok_or_else(|| format!("unknown suite {v:?} (host, kernel, smoke, user, linux)"))?;
                        if !suites.contains(&s) {
                            suites.push(s);
                        }
                    }
                    "--only" => only = Some(value(arg, &mut it)?.clone()),
                    "--busybox" => busybox = Some(value(arg, &mut it)?.into()),
                    "--swap-disk" => swap_disk = Some(swap_disk_size(value(arg, &mut it)?)?),
                    other => return Err(format!("unknown option for test: {other}")),
                }
            }
            if kernel_words.iter().any(|w| w == "stay") {
                return Err("test cannot take `stay`: every boot would run until its timeout".to_string());
            }
            if suites.is_empty() {
                suites = Suite::ALL.to_vec();
            }
            suites.sort();
            if smp.is_empty() {
                smp = DEFAULT_TEST_SMP.to_vec();
            }
            Ok(Command::Test(TestOpts { suites, only, kernel_words, smp, busybox, swap_disk }))
        }
        "bench" => {
            let mut opts = BenchOpts::default();
            let (mut sizes_given, mut strategies_given) = (false, false);
            let mut it = rest.iter();
            while let Some(arg) = it.next() {
                match arg.as_str() {
                    "--swap" => opts.swap = true,
                    "--sizes" => {
                        sizes_given = true;
                        let v = value(arg, &mut it)?;
                        opts.sizes_mib = v
                            .split(',')
                            .map(|s| s.parse::<u64>().ok().filter(|&n| (1..=4096).contains(&n)))
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(|| format!("--sizes takes MiB values like 64,256: {v:?}"))?;
                    }
                    "--strategies" => {
                        strategies_given = true;
                        let v = value(arg, &mut it)?;
                        let list: Vec<String> = v.split(',').map(String::from).collect();
                        if let Some(bad) = list.iter().find(|s| !crate::bench::STRATEGIES.contains(&s.as_str())) {
                            return Err(format!("unknown strategy {bad:?}; one of {:?}", crate::bench::STRATEGIES));
                        }
                        opts.strategies = list;
                    }
                    "--reps" => {
                        let v = value(arg, &mut it)?;
                        opts.reps =
                            v.parse().ok().filter(|&n| (1..=20).contains(&n)).ok_or_else(|| format!("--reps takes 1..=20: {v:?}"))?;
                    }
                    "--linux" => opts.linux = true,
                    "--linux-kernel" => opts.linux_kernel = Some(value(arg, &mut it)?.into()),
                    "--plot" => opts.plot = Some(value(arg, &mut it)?.into()),
                    "--timeline-size" => {
                        let v = value(arg, &mut it)?;
                        opts.timeline_size = Some(v.parse().map_err(|_| format!("--timeline-size takes MiB, e.g. 64: {v:?}"))?);
                    }
                    "--smp" => {
                        let v = value(arg, &mut it)?;
                        opts.smp = v
                            .split(',')
                            .map(|s| s.parse::<u32>().ok().filter(|n| (1..=64).contains(n)))
                            .collect::<Option<Vec<_>>>()
                            .ok_or_else(|| format!("--smp takes CPU counts like 1,2,4: {v:?}"))?;
                    }
                    "--kinds" => {
                        let v = value(arg, &mut it)?;
                        if v.is_empty() || !v.chars().all(|c| "abc".contains(c)) {
                            return Err(format!("--kinds takes letters of abc: {v:?}"));
                        }
                        opts.kinds = Some(v.clone());
                    }
                    other => return Err(format!("unknown option for bench: {other}")),
                }
            }
            if opts.swap {
                if opts.linux || opts.plot.is_some() {
                    return Err("--swap does not go with --linux or --plot".to_string());
                }
                if !sizes_given {
                    opts.sizes_mib = SWAP_BENCH_SIZES.to_vec();
                }
                if !strategies_given {
                    opts.strategies = SWAP_BENCH_STRATEGIES.iter().map(|s| s.to_string()).collect();
                }
            }
            if opts.linux_kernel.is_some() && !opts.linux {
                return Err("--linux-kernel goes with --linux".to_string());
            }
            if let Some(t) = opts.timeline_size {
                if opts.plot.is_none() {
                    return Err("--timeline-size goes with --plot".to_string());
                }
                if !opts.sizes_mib.contains(&t) {
                    return Err(format!("--timeline-size {t} must be one of --sizes {:?}", opts.sizes_mib));
                }
            }
            Ok(Command::Bench(opts))
        }
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => Err(format!("unknown command {other:?}")),
    }
}

fn parse_run(rest: &[String]) -> Result<RunOpts, String> {
    let mut o = RunOpts::default();
    let mut it = rest.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            _ if kernel_word_option(arg, &mut it, &mut o.initrd.kernel_words)? => {}
            "--uefi" => o.uefi = true,
            "--gdb" => o.gdb = true,
            "--stay" => o.stay = true,
            "--display" => o.display = true,
            "--smp" => {
                let v = value(arg, &mut it)?;
                o.smp = v
                    .parse()
                    .ok()
                    .filter(|&n: &u32| (1..=255).contains(&n))
                    .ok_or_else(|| format!("--smp wants a CPU count from 1 to 255, not {v:?}"))?;
            }
            "--mem" => {
                let v = value(arg, &mut it)?;
                if !valid_mem(v) {
                    return Err(format!("--mem wants a size like 512M or 2G, not {v:?}"));
                }
                o.mem = v.to_uppercase();
            }
            "--timeout" => {
                let v = value(arg, &mut it)?;
                o.timeout_secs =
                    Some(v.parse().ok().filter(|&n: &u64| n > 0).ok_or_else(|| format!("--timeout wants seconds, not {v:?}"))?);
            }
            "--add" => o.initrd.add.push(value(arg, &mut it)?.into()),
            "--linux" => o.linux = true,
            "--linux-kernel" => o.linux_kernel = Some(value(arg, &mut it)?.into()),
            "--shell" => o.shell = true,
            "--busybox" => o.busybox = Some(value(arg, &mut it)?.into()),
            "--swap-disk" => o.swap_disk = Some(swap_disk_size(value(arg, &mut it)?)?),
            "--" => {
                o.initrd.init = init_words(&mut it)?;
                if o.initrd.init.is_empty() {
                    return Err("`--` must be followed by /PROGRAM".to_string());
                }
            }
            other => return Err(format!("unknown option for run: {other}")),
        }
    }
    if o.linux_kernel.is_some() && !o.linux {
        return Err("--linux-kernel goes with --linux".to_string());
    }
    if o.shell {
        if !o.initrd.init.is_empty() {
            return Err("--shell starts /busybox sh: it takes no `-- /PROGRAM`".to_string());
        }
        o.initrd.init = vec!["/busybox".to_string(), "sh".to_string()];
    }
    if o.linux {
        let holdfast_only = [
            (o.uefi, "--uefi"),
            (o.stay, "--stay"),
            (!o.initrd.kernel_words.is_empty(), "--strategy and --kernel-arg"),
            (o.swap_disk.is_some(), "--swap-disk"),
        ];
        if let Some((_, what)) = holdfast_only.iter().find(|(set, _)| *set) {
            return Err(format!("{what}: Holdfast's, not for --linux (Linux boots with -kernel, has one mlock strategy and powers off when the program ends)"));
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn run_defaults() {
        assert_eq!(parse(&args("run")), Ok(Command::Run(RunOpts::default())));
        let d = RunOpts::default();
        assert_eq!((d.smp, d.mem.as_str(), d.uefi, d.display), (2, "1G", false, false));
    }

    #[test]
    fn run_all_options() {
        let c = parse(&args(
            "run --uefi --gdb --smp 4 --mem 2g --stay --display --timeout 60 --add a/b/contend --add x -- /contend 4 --flag",
        ))
        .unwrap();
        let Command::Run(o) = c else { panic!() };
        assert!(o.uefi && o.gdb && o.stay && o.display);
        assert_eq!(o.smp, 4);
        assert_eq!(o.mem, "2G");
        assert_eq!(o.timeout_secs, Some(60));
        assert_eq!(o.initrd.add, vec![PathBuf::from("a/b/contend"), PathBuf::from("x")]);
        // Everything after `--` belongs to the program, even things that look like flags.
        assert_eq!(o.initrd.init, args("/contend 4 --flag"));
    }

    #[test]
    fn run_errors() {
        assert!(parse(&args("run --smp")).unwrap_err().contains("needs a value"));
        assert!(parse(&args("run --smp 0")).is_err());
        assert!(parse(&args("run --smp many")).is_err());
        assert!(parse(&args("run --mem lots")).is_err());
        assert!(parse(&args("run --mem 0")).is_err());
        assert!(parse(&args("run --mem 512M")).is_ok());
        let Ok(Command::Run(o)) = parse(&args("run --swap-disk 64M")) else { panic!() };
        assert_eq!(o.swap_disk, Some(64 << 20));
        assert!(parse(&args("run --swap-disk lots")).is_err());
        assert!(parse(&args("run --frobnicate")).unwrap_err().contains("--frobnicate"));
        assert!(parse(&args("run --")).is_err());
    }

    #[test]
    fn other_commands() {
        assert_eq!(parse(&args("help")), Ok(Command::Help));
        assert!(parse(&[]).is_err());
        assert!(parse(&args("frob")).is_err());
        assert!(matches!(parse(&args("bench --sizes 64,128 --reps 2")), Ok(Command::Bench(_))));
        assert!(parse(&args("bench --strategies nope")).is_err());
        let Command::Image(i) = parse(&args("image --add f -- /p q")).unwrap() else { panic!() };
        assert_eq!(i.add, vec![PathBuf::from("f")]);
        assert_eq!(i.init, args("/p q"));
    }

    #[test]
    fn bench_defaults_and_options() {
        let Command::Bench(d) = parse(&args("bench")).unwrap() else { panic!() };
        assert_eq!(d, BenchOpts::default());
        assert_eq!((d.sizes_mib.as_slice(), d.reps), (&[64, 256, 512][..], 3));
        // Every strategy the kernel knows, in the kernel's order.
        let names: Vec<&str> = mm::populate::PopulateStrategy::ALL.iter().map(|s| s.name()).collect();
        assert_eq!(d.strategies, names);
        let Command::Bench(o) = parse(&args("bench --sizes 64 --strategies hold-write,yield-to-waiters --reps 1")).unwrap() else {
            panic!()
        };
        assert_eq!(
            o,
            BenchOpts { sizes_mib: vec![64], strategies: args("hold-write yield-to-waiters"), reps: 1, ..BenchOpts::default() }
        );
        assert!(!o.linux && o.linux_kernel.is_none());
    }

    #[test]
    fn linux_options() {
        let Command::Bench(o) = parse(&args("bench --sizes 16 --linux --linux-kernel /k/bzImage")).unwrap() else { panic!() };
        assert!(o.linux);
        assert_eq!(o.linux_kernel, Some(PathBuf::from("/k/bzImage")));
        assert!(parse(&args("bench --linux-kernel /k")).unwrap_err().contains("--linux"));
        let Command::Bench(o) = parse(&args("bench --linux --plot target/plots")).unwrap() else { panic!() };
        assert_eq!(o.plot, Some(PathBuf::from("target/plots")));
        assert!(parse(&args("bench --plot")).unwrap_err().contains("needs a value"));
        // The timeline: at the largest size unless told, and only with a plot.
        assert_eq!(o.timeline_size(), Some(512));
        assert_eq!(BenchOpts::default().timeline_size(), None);
        let Command::Bench(o) = parse(&args("bench --sizes 256,64 --plot p")).unwrap() else { panic!() };
        assert_eq!(o.timeline_size(), Some(256));
        let Command::Bench(o) = parse(&args("bench --sizes 64,256 --plot p --timeline-size 64")).unwrap() else { panic!() };
        assert_eq!((o.timeline_size, o.timeline_size()), (Some(64), Some(64)));
        assert!(parse(&args("bench --sizes 64,256 --plot p --timeline-size 128")).unwrap_err().contains("one of --sizes"));
        assert!(parse(&args("bench --sizes 64 --timeline-size 64")).unwrap_err().contains("--plot"));
        assert!(parse(&args("bench --plot p --timeline-size x")).unwrap_err().contains("--timeline-size"));
        // --swap: its own defaults unless told, and no Linux or plot.
        let Command::Bench(o) = parse(&args("bench --swap")).unwrap() else { panic!() };
        assert!(o.swap);
        assert_eq!((o.sizes_mib, o.strategies), (vec![128], args("hold-write yield-to-waiters")));
        let Command::Bench(o) = parse(&args("bench --sizes 64 --swap --strategies hold-write --smp 1")).unwrap() else { panic!() };
        assert_eq!((o.sizes_mib, o.strategies, o.smp), (vec![64], args("hold-write"), vec![1]));
        assert!(!BenchOpts::default().swap);
        assert!(parse(&args("bench --swap --linux")).unwrap_err().contains("--swap"));
        assert!(parse(&args("bench --swap --plot p")).unwrap_err().contains("--swap"));
        let Command::Run(o) = parse(&args("run --linux --smp 2 --mem 2G --timeout 60 -- /hello a")).unwrap() else { panic!() };
        assert!(o.linux && o.linux_kernel.is_none());
        assert_eq!((o.smp, o.mem.as_str(), o.timeout_secs), (2, "2G", Some(60)));
        assert_eq!(o.initrd.init, args("/hello a"));
        assert!(parse(&args("run --linux-kernel /k")).unwrap_err().contains("--linux"));
        // Holdfast's own knobs mean nothing to Linux: an error, not ignored.
        for extra in ["--uefi", "--stay", "--strategy hold-write", "--kernel-arg mm.check_invariants"] {
            let e = parse(&args(&format!("run --linux {extra}"))).unwrap_err();
            assert!(e.contains("--linux"), "{extra}: {e}");
        }
    }

    #[test]
    fn test_suites() {
        let opts = |suites: Vec<Suite>, only: Option<&str>| TestOpts {
            suites,
            only: only.map(String::from),
            kernel_words: vec![],
            smp: DEFAULT_TEST_SMP.to_vec(),
            busybox: None,
            swap_disk: None,
        };
        assert_eq!(parse(&args("test")), Ok(Command::Test(opts(Suite::ALL.to_vec(), None))));
        assert_eq!(
            parse(&args("test --suite smoke --suite host --suite smoke")),
            Ok(Command::Test(opts(vec![Suite::Host, Suite::Smoke], None)))
        );
        assert_eq!(parse(&args("test --suite user --only mlock01")), Ok(Command::Test(opts(vec![Suite::User], Some("mlock01")))));
        assert!(parse(&args("test --only")).is_err());
        let Ok(Command::Test(t)) = parse(&args("test --suite kernel --swap-disk 16M")) else { panic!() };
        assert_eq!(t.swap_disk, Some(16 << 20));
        assert!(parse(&args("test --swap-disk 1000")).is_err());
        assert!(parse(&args("test --suite nope")).is_err());
    }

    fn kernel_words_of(line: &str) -> Result<Vec<String>, String> {
        match parse(&args(line))? {
            Command::Run(o) => Ok(o.initrd.kernel_words),
            Command::Image(i) => Ok(i.kernel_words),
            Command::Test(t) => Ok(t.kernel_words),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn strategy_and_kernel_args_for_run_image_and_test() {
        for cmd in ["run", "image", "test"] {
            assert_eq!(kernel_words_of(&format!("{cmd} --strategy hold-write")), Ok(args("mlock_populate=hold-write")), "{cmd}");
            assert_eq!(
                kernel_words_of(&format!("{cmd} --kernel-arg mm.check_invariants --strategy populate-unlocked --kernel-arg ktest.start=3")),
                Ok(args("mm.check_invariants mlock_populate=populate-unlocked ktest.start=3")),
                "{cmd}"
            );
            assert_eq!(
                kernel_words_of(&format!("{cmd} --kernel-arg mlock_populate=downgrade-at-end --kernel-arg ktest.filter=vma")),
                Ok(args("mlock_populate=downgrade-at-end ktest.filter=vma")),
                "{cmd}"
            );
        }
        // Every strategy the kernel knows is accepted, by either option.
        for s in crate::bench::STRATEGIES {
            assert_eq!(kernel_words_of(&format!("run --strategy {s}")), Ok(vec![format!("mlock_populate={s}")]));
            assert_eq!(kernel_words_of(&format!("run --kernel-arg mlock_populate={s}")), Ok(vec![format!("mlock_populate={s}")]));
        }
        assert_eq!(kernel_words_of("image --kernel-arg stay"), Ok(args("stay")));
        // Under test, `stay` would turn every boot into a timeout.
        assert!(kernel_words_of("test --kernel-arg stay").unwrap_err().contains("stay"));
        // Kernel words and the program's words stay apart.
        let Command::Run(o) = parse(&args("run --strategy hold-write --stay -- /mlock_contend 16 --quick --strategy x")).unwrap() else {
            panic!()
        };
        assert_eq!(o.initrd.kernel_words, args("mlock_populate=hold-write"));
        assert!(o.stay);
        assert_eq!(o.initrd.init, args("/mlock_contend 16 --quick --strategy x"));
    }

    #[test]
    fn bad_strategies_and_kernel_words_are_errors() {
        for cmd in ["run", "image", "test"] {
            let err = |rest: &str| kernel_words_of(&format!("{cmd} {rest}")).unwrap_err();
            let e = err("--strategy nope");
            assert!(e.contains("\"nope\"") && e.contains("hold-write") && e.contains("yield-to-waiters"), "{e}");
            assert!(err("--strategy").contains("needs a value"));
            assert!(err("--kernel-arg").contains("needs a value"));
            let e = err("--kernel-arg mlock_populate=nope");
            assert!(e.contains("nope") && e.contains("hold-write"), "{e}");
            assert!(err("--kernel-arg mlock_populate=").contains("hold-write"));
            let e = err("--kernel-arg init=/hello");
            assert!(e.contains("init=") && e.contains("--"), "{e}");
            let e = err("--kernel-arg frobnicate");
            assert!(e.contains("frobnicate") && e.contains("mm.check_invariants") && e.contains("ktest.start="), "{e}");
            assert!(err("--kernel-arg stay=1").contains("stay=1"));
            assert!(err("--kernel-arg mm.check_invariants=yes").contains("mm.check_invariants=yes"));
            assert!(err("--kernel-arg ktest.start=x").contains("ktest.start=x"));
            assert!(err("--kernel-arg ktest.nope=1").contains("ktest.nope=1"));
            assert!(err("--kernel-arg ktest.filter=").contains("ktest.filter="));
            assert!(err("--kernel-arg poweroff_delay=soon").contains("whole seconds"));
            assert!(err("--kernel-arg poweroff_delay=").contains("whole seconds"));
        }
        assert_eq!(kernel_words_of("run --kernel-arg poweroff_delay=5").unwrap(), ["poweroff_delay=5"]);
        // Words with whitespace cannot come from split_whitespace; build them.
        for bad in ["stay mm.check_invariants", "mlock_populate=hold-write\t", "", "st\nay"] {
            let e = parse(&["run".to_string(), "--kernel-arg".to_string(), bad.to_string()]).unwrap_err();
            assert!(e.contains("whitespace") || e.contains("empty"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn kernel_words_after_double_dash_are_errors() {
        // The word would become `init=/mlock_populate=hold-write`: ENOENT in the guest.
        for cmd in ["run", "image"] {
            let e = parse(&args(&format!("{cmd} -- mlock_populate=hold-write /mlock_contend 64"))).unwrap_err();
            assert!(e.contains("--strategy hold-write") && e.contains("before `--`"), "{e}");
            let e = parse(&args(&format!("{cmd} -- stay /hello"))).unwrap_err();
            assert!(e.contains("--kernel-arg stay") || e.contains("--stay"), "{e}");
        }
        // A program's own arguments may contain `=`.
        assert!(parse(&args("run -- /p a=b")).is_ok());
    }

    /// Every word the kernel looks up with `cmdline::flag`/`cmdline::value`
    /// is one `--kernel-arg` accepts, and nothing else is.
    #[test]
    fn known_kernel_words_match_the_kernel() {
        fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    walk(&p, out);
                } else if p.extension().is_some_and(|x| x == "rs") {
                    out.push(std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        let mut sources = Vec::new();
        walk(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../kernel/src"), &mut sources);
        let mut used = Vec::new();
        for src in &sources {
            for (call, suffix) in [("cmdline::flag(\"", ""), ("cmdline::value(\"", "=")] {
                for (i, _) in src.match_indices(call) {
                    let rest = &src[i + call.len()..];
                    used.push(format!("{}{suffix}", &rest[..rest.find('"').unwrap()]));
                }
            }
        }
        used.sort();
        used.dedup();
        let mut known: Vec<String> = KERNEL_WORDS.iter().map(|(w, _)| w.to_string()).collect();
        known.sort();
        assert_eq!(used, known);
    }
}
