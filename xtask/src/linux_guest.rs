//! Linux in the same QEMU: the user programs Holdfast boots, booted on a
//! Linux kernel in the same QEMU configuration, for `cargo xtask run
//! --linux` and `cargo xtask bench --linux`.
//!
//! - The kernel: Debian's cloud kernel (`linux-image-cloud-amd64` names the
//!   current `linux-image-6.*-cloud-amd64` package; `apt-get download`
//!   fetches it and `dpkg-deb -x` unpacks it under `target/linux/`, where
//!   it stays cached), or any bzImage given with `--linux-kernel PATH`.
//! - The initramfs: a newc cpio (the `cpio` crate that writes Holdfast's
//!   initrd) holding `/init`, empty `/dev`, `/proc` and `/sys`, and the
//!   same static binaries as Holdfast's initrd under the same names.
//! - `/init` is `linux_init.c` (next to this file), compiled with
//!   `musl-gcc -static`: it mounts devtmpfs, proc and sysfs, prints the
//!   kernel release, runs the program given after `--` on the kernel
//!   command line, prints its exit status and powers off. Its lines start
//!   with `linux-init: ` and are read by [`Scan`].
//! - QEMU: the same `-smp`, `-m` and accelerator as Holdfast's runs, booted
//!   with `-kernel`/`-initrd`/`-append` (no disk image), `-no-reboot` and
//!   `panic=-1`, so a panic ends QEMU instead of hanging; every boot has a
//!   timeout. The CPU model is [`LINUX_CPU`].
//! - A boot whose console shows an oops or a panic is booted once more;
//!   both attempts are reported and the first one's log is kept.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use boot::cpio::Entry;

use crate::build::{self, Paths};
use crate::cli::RunOpts;
use crate::error::{Error, Result};
use crate::qemu::{self, Flow};

/// The CPU model of the Linux guest. Debian's 6.x kernels have been seen
/// to fault at boot under QEMU 7.2's `-cpu max`; `qemu64` boots 6.1 and
/// 6.12. `bench --linux` runs Holdfast on the same model, so that both
/// kernels see the same CPU.
pub const LINUX_CPU: &str = "qemu64";

/// Why [`LINUX_CPU`] is not Holdfast's default `max`, for the output.
pub const LINUX_CPU_NOTE: &str = "-cpu qemu64 (not max: Debian's 6.x kernels can fault at boot under QEMU 7.2's max CPU model)";

/// Debian's metapackage that depends on the current cloud kernel image.
pub const META_PACKAGE: &str = "linux-image-cloud-amd64";

/// The kernel words before the program: serial console, reboot at once on
/// a panic (which `-no-reboot` turns into QEMU's exit), only warnings and
/// worse on the console.
pub const LINUX_WORDS: &[&str] = &["console=ttyS0", "panic=-1", "quiet"];

/// Linux's limit on the x86 command line (`COMMAND_LINE_SIZE`), NUL included.
const COMMAND_LINE_SIZE: usize = 2048;

/// Timeout of a `run --linux` boot without `--timeout`.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// The guest's `/init`.
const INIT_SOURCE: &str = include_str!("linux_init.c");

/// The prefix of every line `/init` prints.
const INIT_PREFIX: &str = "linux-init: ";

/// A Debian package, as downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebPackage {
    pub name: String,
    pub version: String,
}

/// A Linux kernel to boot.
#[derive(Debug, Clone)]
pub struct LinuxKernel {
    /// The bzImage (`boot/vmlinuz-*` of the package).
    pub bzimage: PathBuf,
    /// The Debian package it came from; `None` for `--linux-kernel PATH`.
    pub package: Option<DebPackage>,
}

impl LinuxKernel {
    /// Where the kernel came from, for the output: the package and its
    /// version, or the path.
    pub fn origin(&self, paths: &Paths) -> String {
        match &self.package {
            Some(p) => format!("Debian package {} {}", p.name, p.version),
            None => paths.show(&self.bzimage),
        }
    }
}

/// The real kernel image package named by `apt-cache depends META` output,
/// e.g. `linux-image-6.1.0-57-cloud-amd64` from
/// `  Depends: linux-image-6.1.0-57-cloud-amd64`. Alternatives (`|Depends:`)
/// and virtual packages (`<name>`) are skipped; so are debug images.
pub fn image_package(depends_output: &str) -> Option<String> {
    depends_output.lines().find_map(|line| {
        let name = line.trim().strip_prefix("Depends: ")?.trim();
        let version = name.strip_prefix("linux-image-")?;
        let plausible = version.starts_with(|c: char| c.is_ascii_digit())
            && !name.contains(['<', '>'])
            && !name.ends_with("-dbg")
            && !name.contains("-unsigned");
        plausible.then(|| name.to_string())
    })
}

/// The package and version in the name of a downloaded `.deb`:
/// `NAME_VERSION_ARCH.deb`, with the epoch's `:` written `%3a` as
/// `apt-get download` does.
pub fn deb_file_package(file_name: &str) -> Option<DebPackage> {
    let stem = file_name.strip_suffix(".deb")?;
    let mut parts = stem.split('_');
    let (name, version, arch) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || name.is_empty() || version.is_empty() || arch.is_empty() {
        return None;
    }
    Some(DebPackage { name: name.to_string(), version: version.replace("%3a", ":").replace("%3A", ":") })
}

/// The downloaded `.deb` of `package` in `dir`, if any.
pub(crate) fn cached_deb(dir: &Path, package: &str) -> Option<(PathBuf, DebPackage)> {
    let mut found: Vec<(PathBuf, DebPackage)> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = deb_file_package(e.file_name().to_str()?)?;
            (p.name == package).then(|| (e.path(), p))
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.pop()
}

/// The `boot/vmlinuz-*` of an unpacked kernel package.
fn vmlinuz_in(root: &Path) -> Option<PathBuf> {
    let boot = root.join("boot");
    let mut v: Vec<PathBuf> = std::fs::read_dir(boot)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vmlinuz-")))
        .collect();
    v.sort();
    v.pop()
}

/// The Linux kernel to boot: `explicit` if given, else Debian's cloud
/// kernel, downloaded once into `target/linux/` and unpacked there.
pub fn kernel(paths: &Paths, explicit: Option<&Path>) -> Result<LinuxKernel> {
    if let Some(p) = explicit {
        if !p.is_file() {
            return Err(Error::new(format!("--linux-kernel {}: no such file", p.display())));
        }
        return Ok(LinuxKernel { bzimage: p.to_path_buf(), package: None });
    }
    let dir = linux_dir(paths);
    std::fs::create_dir_all(&dir).map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))?;
    let hint = "or give any bzImage with --linux-kernel PATH";
    let mut cmd = Command::new("apt-cache");
    cmd.args(["depends", META_PACKAGE]);
    build::announce(&cmd);
    let out = cmd
        .output()
        .map_err(|e| Error::new(format!("cannot run apt-cache ({e}): the Linux guest's kernel comes from Debian's packages; {hint}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let package = image_package(&stdout).ok_or_else(|| {
        Error::new(format!(
            "`apt-cache depends {META_PACKAGE}` names no linux-image-*-cloud-amd64 package ({}): \
             run `apt-get update` (as root), {hint}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    })?;
    let (deb, pkg) = match cached_deb(&dir, &package) {
        Some(found) => found,
        None => {
            let mut cmd = Command::new("apt-get");
            cmd.args(["download", &package]).current_dir(&dir);
            build::run_checked(&mut cmd, &format!("downloading {package} (run `apt-get update` first, {hint})"))?;
            cached_deb(&dir, &package)
                .ok_or_else(|| Error::new(format!("apt-get download {package} left no {package}_*.deb in {}", dir.display())))?
        }
    };
    let root = dir.join(format!("{}_{}", pkg.name, pkg.version.replace(':', "%3a")));
    if vmlinuz_in(&root).is_none() {
        let mut cmd = Command::new("dpkg-deb");
        cmd.arg("-x").arg(&deb).arg(&root);
        build::run_checked(&mut cmd, &format!("unpacking {}", deb.display()))?;
        // Only boot/ is booted; the modules are most of the package.
        for unused in ["lib", "usr"] {
            let _ = std::fs::remove_dir_all(root.join(unused));
        }
    }
    let bzimage = vmlinuz_in(&root).ok_or_else(|| Error::new(format!("{} holds no boot/vmlinuz-*", deb.display())))?;
    Ok(LinuxKernel { bzimage, package: Some(pkg) })
}

/// `target/linux/`: the kernel packages and the guest's files.
pub fn linux_dir(paths: &Paths) -> PathBuf {
    paths.target.join("linux")
}

/// Compiles the guest's `/init` into `target/linux/init`; returns its bytes.
pub fn build_init(paths: &Paths) -> Result<Vec<u8>> {
    let dir = linux_dir(paths);
    std::fs::create_dir_all(&dir).map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))?;
    let source = dir.join("init.c");
    let binary = dir.join("init");
    std::fs::write(&source, INIT_SOURCE).map_err(|e| Error::new(format!("writing {}: {e}", source.display())))?;
    let mut cmd = Command::new("musl-gcc");
    cmd.args(["-static", "-O2", "-Wall", "-Wextra", "-o"]).arg(&binary).arg(&source);
    build::run_checked(&mut cmd, &format!("building the Linux guest's /init (needs {})", crate::user::MUSL_INSTALL))?;
    std::fs::read(&binary).map_err(|e| Error::new(format!("reading {}: {e}", binary.display())))
}

/// The initramfs: `/init`, the mount points `/dev`, `/proc`, `/sys`, and
/// each program under its base name, as in Holdfast's initrd.
pub fn initramfs_entries(init: &[u8], programs: &[PathBuf]) -> Result<Vec<Entry>> {
    let mut entries =
        vec![Entry::file("/init", 0o755, init.to_vec()), Entry::dir("/dev", 0o755), Entry::dir("/proc", 0o555), Entry::dir("/sys", 0o555)];
    for p in programs {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::new(format!("{}: not a file name", p.display())))?;
        if ["init", "dev", "proc", "sys"].contains(&name) {
            return Err(Error::new(format!("{}: /{name} is the Linux guest's own", p.display())));
        }
        let data = std::fs::read(p).map_err(|e| Error::new(format!("{}: {e}", p.display())))?;
        entries.push(Entry::file(format!("/{name}"), 0o755, data));
    }
    Ok(entries)
}

/// The Linux command line: [`LINUX_WORDS`], then `--` and the program
/// with its arguments, which the kernel hands to `/init` as its argv.
pub fn cmdline(init: &[String]) -> std::result::Result<String, String> {
    let (program, args) = init.split_first().ok_or("the Linux guest needs a program to run, e.g. `-- /hello`")?;
    let program = if program.starts_with('/') { program.clone() } else { format!("/{program}") };
    if program == "/" {
        return Err("the program needs a name, e.g. `-- /hello`".into());
    }
    let mut words: Vec<String> = LINUX_WORDS.iter().map(|w| w.to_string()).collect();
    words.push("--".into());
    words.push(program);
    words.extend(args.iter().cloned());
    if let Some(w) = words.iter().find(|w| w.is_empty() || w.chars().any(|c| c.is_whitespace() || c.is_control())) {
        return Err(format!(
            "command-line word {w:?} is empty or contains whitespace; the kernel splits its command line at spaces"
        ));
    }
    let line = words.join(" ");
    if line.len() >= COMMAND_LINE_SIZE {
        return Err(format!("the Linux command line is {} bytes; Linux takes at most {}", line.len(), COMMAND_LINE_SIZE - 1));
    }
    Ok(line)
}

/// The QEMU configuration of a Linux boot: Holdfast's knobs that apply.
#[derive(Debug, Clone)]
pub struct LinuxMachine {
    pub cpu: String,
    pub smp: u32,
    pub mem: String,
    pub kvm: bool,
    pub display: bool,
    pub gdb: bool,
}

impl LinuxMachine {
    /// [`LINUX_CPU`], one CPU, 1 GiB, like `qemu::Machine::new`.
    pub fn new() -> Self {
        LinuxMachine { cpu: LINUX_CPU.into(), smp: 1, mem: "1G".into(), kvm: qemu::kvm_available(), display: false, gdb: false }
    }
}

/// QEMU's arguments to boot `bzimage` with `initramfs` and `cmdline`.
pub fn qemu_args(m: &LinuxMachine, bzimage: &Path, initramfs: &Path, cmdline: &str) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |s: &[&str]| a.extend(s.iter().map(|s| s.to_string()));
    if m.kvm {
        push(&["-accel", "kvm"]);
    }
    push(&["-cpu", &m.cpu, "-smp", &m.smp.to_string(), "-m", &m.mem]);
    push(&["-kernel", &bzimage.display().to_string(), "-initrd", &initramfs.display().to_string(), "-append", cmdline]);
    push(&["-nic", "none", "-serial", "stdio", "-no-reboot"]);
    if !m.display {
        push(&["-display", "none", "-monitor", "none"]);
    }
    if m.gdb {
        push(&["-s", "-S"]);
    }
    a
}

/// Console lines that mean the kernel itself went wrong.
const OOPS_MARKERS: &[&str] =
    &["Oops:", "BUG: ", "kernel BUG at", "general protection fault", "invalid opcode:", "Kernel panic", "double fault", "Unable to handle"];

/// What the guest's console said, line by line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// `uname -r`, from `linux-init: release R`.
    pub release: Option<String>,
    /// The program's exit status, from `linux-init: P exited with status N`.
    pub status: Option<i32>,
    /// The first line that shows an oops or a panic.
    pub oops: Option<String>,
    /// Every line, for the caller to read the program's output.
    pub lines: Vec<String>,
}

impl Scan {
    /// Takes in one console line.
    pub fn feed(&mut self, line: &str) {
        self.lines.push(line.to_string());
        if let Some(i) = line.find(INIT_PREFIX) {
            let rest = &line[i + INIT_PREFIX.len()..];
            if let Some(release) = rest.strip_prefix("release ") {
                self.release = Some(release.trim().to_string());
            } else if let Some((_, n)) = rest.rsplit_once(" exited with status ") {
                if let Ok(n) = n.trim().parse() {
                    self.status = Some(n);
                }
            }
        }
        if self.oops.is_none() && OOPS_MARKERS.iter().any(|m| line.contains(m)) {
            self.oops = Some(line.trim().to_string());
        }
    }

    /// A boot that oopsed is booted once more.
    pub fn needs_retry(&self) -> bool {
        self.oops.is_some()
    }
}

/// One Linux guest boot.
pub struct Boot<'a> {
    pub args: Vec<String>,
    pub log: &'a Path,
    pub echo: bool,
    pub stdin: bool,
    pub timeout: Duration,
}

/// How a Linux boot went (the last attempt).
#[derive(Debug)]
pub struct Booted {
    pub scan: Scan,
    pub outcome: qemu::Outcome,
    /// The first attempt's oops line and where its log was kept, if it
    /// oopsed.
    pub first_oops: Option<(String, PathBuf)>,
}

impl Booted {
    /// Why there is no exit status, or `None` if there is one.
    pub fn failure(&self) -> Option<String> {
        if let Some(o) = &self.scan.oops {
            return Some(format!("the kernel oopsed: {o}"));
        }
        if self.scan.status.is_some() {
            return None;
        }
        Some(if self.outcome.timed_out {
            format!("timed out after {} s without the exit line", self.outcome.elapsed.as_secs())
        } else {
            format!("no `{INIT_PREFIX}... exited with status` line ({})", self.outcome.exit.describe())
        })
    }
}

/// Boots once, and once more if the console shows an oops; reports the
/// retry on stderr.
pub fn boot(b: &Boot<'_>) -> Result<Booted> {
    let mut first_oops = None;
    for attempt in 1..=2 {
        let mut scan = Scan::default();
        let outcome = qemu::run(
            &qemu::Run { args: b.args.clone(), log: b.log, echo: b.echo, stdin: b.stdin, typed: None, timeout: Some(b.timeout) },
            |line| {
                scan.feed(line);
                Flow::Continue
            },
        )?;
        if attempt == 1 && scan.needs_retry() {
            let kept = b.log.with_extension("oops1.log");
            let _ = std::fs::rename(b.log, &kept);
            let oops = scan.oops.clone().unwrap_or_default();
            eprintln!("linux guest: the kernel oopsed on boot 1 ({oops}); log kept at {}; booting once more", kept.display());
            first_oops = Some((oops, kept));
            continue;
        }
        if let Some((oops, kept)) = &first_oops {
            eprintln!(
                "linux guest: boot 2 after an oops on boot 1 ({oops}, log {}): {}",
                kept.display(),
                if scan.oops.is_some() { "oopsed again" } else { "no oops this time" }
            );
        }
        return Ok(Booted { scan, outcome, first_oops });
    }
    unreachable!("the second attempt always returns")
}

/// Everything a Linux boot of the user programs needs, prepared once.
pub struct Guest {
    pub kernel: LinuxKernel,
    pub init: Vec<u8>,
}

impl Guest {
    /// Finds or downloads the kernel and builds `/init`.
    pub fn prepare(paths: &Paths, explicit_kernel: Option<&Path>) -> Result<Guest> {
        let kernel = kernel(paths, explicit_kernel)?;
        let init = build_init(paths)?;
        Ok(Guest { kernel, init })
    }

    /// Writes `target/linux/STEM.cpio` with `programs` and returns
    /// QEMU's arguments to boot it running `init` (`/PROGRAM ARGS...`).
    pub fn args(&self, paths: &Paths, machine: &LinuxMachine, stem: &str, programs: &[PathBuf], init: &[String]) -> Result<Vec<String>> {
        let line = cmdline(init).map_err(Error::new)?;
        let initramfs = linux_dir(paths).join(format!("{stem}.cpio"));
        boot::write_initrd(&initramfs, &initramfs_entries(&self.init, programs)?)?;
        eprintln!("linux guest: {} + {} with `{line}`", paths.show(&self.kernel.bzimage), paths.show(&initramfs));
        Ok(qemu_args(machine, &self.kernel.bzimage, &initramfs, &line))
    }
}

/// `cargo xtask run --linux`: boots the program on Linux and returns its
/// exit status.
pub fn run(opts: &RunOpts) -> Result<i32> {
    let paths = Paths::new();
    let init: Vec<String> = if opts.initrd.init.is_empty() {
        crate::image::DEFAULT_INIT.iter().map(|s| s.to_string()).collect()
    } else {
        opts.initrd.init.clone()
    };
    cmdline(&init).map_err(Error::new)?;
    qemu::check_qemu()?;
    let guest = Guest::prepare(&paths, opts.linux_kernel.as_deref())?;
    let mut files = crate::user::all_programs(&crate::user::build_user_programs(&paths)?)?;
    files.extend(opts.initrd.add.iter().cloned());
    let mut machine = LinuxMachine::new();
    machine.smp = opts.smp;
    machine.mem = opts.mem.clone();
    machine.display = opts.display;
    machine.gdb = opts.gdb;
    let args = guest.args(&paths, &machine, "run", &files, &init)?;
    eprintln!("linux guest: {} on {LINUX_CPU_NOTE}", guest.kernel.origin(&paths));
    let log = paths.logs().join("run-linux.log");
    let timeout = opts.timeout_secs.map_or(RUN_TIMEOUT, Duration::from_secs);
    let booted = boot(&Boot { args, log: &log, echo: true, stdin: true, timeout })?;
    let release = booted.scan.release.as_deref().unwrap_or("(release not printed)");
    match (booted.failure(), booted.scan.status) {
        (None, Some(status)) => {
            eprintln!(
                "linux {release} ({}): {} exited with status {status} (serial log: {})",
                guest.kernel.origin(&paths),
                init[0],
                paths.show(&log)
            );
            Ok(status)
        }
        (why, _) => Err(Error::new(format!(
            "linux {release}: {} (serial log: {})",
            why.unwrap_or_else(|| "no exit status".into()),
            paths.show(&log)
        ))),
    }
}

/// The name of `cargo xtask test`'s Linux guest check (linux suite).
pub const CHECK_NAME: &str = "linux::guest::hello";

/// Timeout of the check's boot; it takes a few seconds under TCG.
const CHECK_TIMEOUT: Duration = Duration::from_secs(60);

/// The check's program and arguments.
const CHECK_INIT: &[&str] = &["/hello", "one", "two"];

/// Judges the check's boot: `/hello one two` ran to status 0 with its
/// arguments, on a kernel that printed its release and did not oops.
pub fn judge_check(scan: &Scan) -> std::result::Result<(), String> {
    if let Some(o) = &scan.oops {
        return Err(format!("the kernel oopsed: {o}"));
    }
    if scan.release.is_none() {
        return Err("/init never printed the kernel release".into());
    }
    match scan.status {
        Some(0) => {}
        Some(n) => return Err(format!("/hello exited with status {n}, expected 0")),
        None => return Err("no exit status line".into()),
    }
    if !scan.lines.iter().any(|l| l.contains("argv[2] = two")) {
        return Err("/hello's output lacks `argv[2] = two`: the arguments after -- did not arrive".into());
    }
    Ok(())
}

/// `cargo xtask test`'s check [`CHECK_NAME`]: one boot of `hello` on the
/// Linux guest. Skipped where there is no apt (not Debian or Ubuntu) and
/// no kernel is cached; a failure to get the kernel where apt exists
/// fails the check.
pub fn check(paths: &Paths, user_dir: &Path, tally: &mut crate::report::Tally) {
    let started = std::time::Instant::now();
    let has_apt = Command::new("apt-cache").arg("--version").output().is_ok_and(|o| o.status.success());
    if !has_apt {
        tally.skip(CHECK_NAME, "no apt-cache to fetch Debian's kernel with");
        return;
    }
    let init: Vec<String> = CHECK_INIT.iter().map(|s| s.to_string()).collect();
    let log = paths.logs().join("linux-guest-hello.log");
    let verdict = Guest::prepare(paths, None)
        .and_then(|guest| {
            let args = guest.args(paths, &LinuxMachine::new(), "check", &[user_dir.join("hello")], &init)?;
            boot(&Boot { args, log: &log, echo: false, stdin: false, timeout: CHECK_TIMEOUT })
        })
        .map_err(|e| e.to_string())
        .and_then(|booted| {
            judge_check(&booted.scan).map_err(|why| if booted.outcome.timed_out { format!("{why} (timed out)") } else { why })?;
            Ok(booted.scan.release.unwrap_or_default())
        });
    let ok = match verdict {
        Ok(release) => {
            eprintln!("    {CHECK_NAME}: linux {release}, {:.0} s", started.elapsed().as_secs_f64());
            true
        }
        Err(why) => {
            println!("    {CHECK_NAME}: {why}");
            false
        }
    };
    tally.record(CHECK_NAME, ok, (!ok).then_some(log));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn image_package_from_apt_cache_depends() {
        let out = "linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-57-cloud-amd64\n";
        assert_eq!(image_package(out).as_deref(), Some("linux-image-6.1.0-57-cloud-amd64"));
        // Alternatives, virtual packages, debug images and other kinds of
        // dependency are passed over for the real image.
        let out = "linux-image-cloud-amd64\n |Depends: <linux-image-6.12-virtual>\n  Recommends: firmware-linux\n  \
                   Depends: linux-image-6.12.38+deb13-cloud-amd64-dbg\n  Depends: linux-image-6.12.38+deb13-cloud-amd64\n";
        assert_eq!(image_package(out).as_deref(), Some("linux-image-6.12.38+deb13-cloud-amd64"));
        assert_eq!(image_package("linux-image-cloud-amd64\n  Depends: linux-image-cloud-amd64\n"), None);
        assert_eq!(image_package("W: Unable to locate package linux-image-cloud-amd64\n"), None);
        assert_eq!(image_package(""), None);
    }

    #[test]
    fn package_and_version_from_downloaded_deb() {
        assert_eq!(
            deb_file_package("linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb"),
            Some(DebPackage { name: "linux-image-6.1.0-57-cloud-amd64".into(), version: "6.1.192-3".into() })
        );
        // apt-get download writes an epoch's colon as %3a.
        assert_eq!(deb_file_package("foo_1%3a2.0-1_amd64.deb").map(|p| p.version), Some("1:2.0-1".into()));
        assert_eq!(deb_file_package("linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb.partial"), None);
        assert_eq!(deb_file_package("notadeb.deb"), None);
        assert_eq!(deb_file_package("a_b_c_d.deb"), None);
    }

    #[test]
    fn cached_deb_finds_only_the_named_package() {
        let dir = std::env::temp_dir().join(format!("xtask-linux-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("linux-image-6.1.0-56-cloud-amd64_6.1.180-1_amd64.deb"), b"").unwrap();
        std::fs::write(dir.join("linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb"), b"").unwrap();
        let (path, pkg) = cached_deb(&dir, "linux-image-6.1.0-57-cloud-amd64").unwrap();
        assert_eq!(path, dir.join("linux-image-6.1.0-57-cloud-amd64_6.1.192-3_amd64.deb"));
        assert_eq!(pkg.version, "6.1.192-3");
        assert!(cached_deb(&dir, "linux-image-6.1.0-58-cloud-amd64").is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn initramfs_holds_init_mount_points_and_programs() {
        let dir = std::env::temp_dir().join(format!("xtask-linux-initramfs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("hello"), b"\x7fELF hello").unwrap();
        std::fs::write(dir.join("mlock_contend"), b"\x7fELF contend").unwrap();
        let entries = initramfs_entries(b"\x7fELF init", &[dir.join("hello"), dir.join("mlock_contend")]).unwrap();
        let bytes = boot::cpio::archive_bytes(&entries).unwrap();
        let listed: Vec<(&str, u32, &[u8])> = boot::cpio::read::entries(&bytes).map(|e| (e.name, e.mode, e.data)).collect();
        assert_eq!(
            listed,
            vec![
                ("init", 0o100755, &b"\x7fELF init"[..]),
                ("dev", 0o40755, &b""[..]),
                ("proc", 0o40555, &b""[..]),
                ("sys", 0o40555, &b""[..]),
                ("hello", 0o100755, &b"\x7fELF hello"[..]),
                ("mlock_contend", 0o100755, &b"\x7fELF contend"[..]),
            ]
        );
        // A program may not take the place of the guest's own files.
        std::fs::write(dir.join("init"), b"x").unwrap();
        assert!(initramfs_entries(b"i", &[dir.join("init")]).unwrap_err().to_string().contains("/init"));
        assert!(initramfs_entries(b"i", &[dir.join("missing")]).unwrap_err().to_string().contains("missing"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn linux_command_line() {
        assert_eq!(cmdline(&w("/hello one two")).unwrap(), "console=ttyS0 panic=-1 quiet -- /hello one two");
        assert_eq!(cmdline(&w("mlock_contend 64")).unwrap(), "console=ttyS0 panic=-1 quiet -- /mlock_contend 64");
        // Words with `=` or `.` after `--` reach init's argv, not the kernel.
        assert!(cmdline(&w("/p a=b mm.x")).unwrap().ends_with("-- /p a=b mm.x"));
        assert!(cmdline(&[]).is_err());
        assert!(cmdline(&w("/")).is_err());
        assert!(cmdline(&["/p".into(), "two words".into()]).is_err());
        assert!(cmdline(&["/p".into(), "x".repeat(2100)]).unwrap_err().contains("2047"));
    }

    #[test]
    fn linux_qemu_command_line() {
        let mut m = LinuxMachine::new();
        m.kvm = false;
        m.smp = 2;
        m.mem = "2G".into();
        let a = qemu_args(&m, Path::new("/k/vmlinuz"), Path::new("/t/run.cpio"), "console=ttyS0 -- /hello");
        let joined = a.join(" ");
        assert!(joined.starts_with("-cpu qemu64 -smp 2 -m 2G -kernel /k/vmlinuz -initrd /t/run.cpio -append"), "{joined}");
        // The command line is one argument.
        assert!(a.contains(&"console=ttyS0 -- /hello".to_string()));
        assert!(joined.contains("-no-reboot") && joined.contains("-serial stdio") && joined.contains("-display none"));
        assert!(!joined.contains("kvm") && !joined.contains("-s -S"));
        m.kvm = true;
        m.gdb = true;
        let joined = qemu_args(&m, Path::new("/k"), Path::new("/i"), "x").join(" ");
        assert!(joined.starts_with("-accel kvm -cpu qemu64") && joined.ends_with("-s -S"), "{joined}");
    }

    #[test]
    fn scan_reads_release_status_and_oops() {
        let mut s = Scan::default();
        for l in [
            "linux-init: release 6.1.0-57-cloud-amd64",
            "hello: one two",
            "[    1.2] random: crng init done",
            "linux-init: /hello exited with status 3",
            "[    1.770806] reboot: Power down",
        ] {
            s.feed(l);
        }
        assert_eq!(s.release.as_deref(), Some("6.1.0-57-cloud-amd64"));
        assert_eq!(s.status, Some(3));
        assert_eq!(s.oops, None);
        assert!(!s.needs_retry());
        assert_eq!(s.lines.len(), 5);
        // Killed by a signal: 128 + signal, as init reports it.
        let mut s = Scan::default();
        s.feed("linux-init: /segv exited with status 139");
        assert_eq!(s.status, Some(139));
        // A console line may start with the tail of a kernel message.
        let mut s = Scan::default();
        s.feed("\rlinux-init: /hello exited with status 0");
        assert_eq!(s.status, Some(0));
        // A program's own output that merely mentions init is not a status.
        let mut s = Scan::default();
        s.feed("linux-init: cannot start /nope: No such file or directory");
        s.feed("the child exited with status 5");
        assert_eq!(s.status, None);
    }

    #[test]
    fn scan_sees_an_oops_and_asks_for_a_retry() {
        let mut s = Scan::default();
        s.feed("[    0.52] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI");
        s.feed("[    0.53] Kernel panic - not syncing: Attempted to kill the idle task!");
        assert_eq!(s.oops.as_deref(), Some("[    0.52] invalid opcode: 0000 [#1] PREEMPT SMP NOPTI"));
        assert!(s.needs_retry());
        assert_eq!(s.status, None);
        let mut s = Scan::default();
        s.feed("[    2.00] BUG: kernel NULL pointer dereference, address: 0000000000000008");
        assert!(s.needs_retry());
    }

    #[test]
    fn judging_the_check() {
        let scan = |lines: &[&str]| {
            let mut s = Scan::default();
            lines.iter().for_each(|l| s.feed(l));
            s
        };
        let good = ["linux-init: release 6.1.0-57-cloud-amd64", "# argv[2] = two", "linux-init: /hello exited with status 0"];
        assert_eq!(judge_check(&scan(&good)), Ok(()));
        let e = judge_check(&scan(&[good[0], good[1], "linux-init: /hello exited with status 1"])).unwrap_err();
        assert!(e.contains("status 1"), "{e}");
        assert!(judge_check(&scan(&[good[0], good[1]])).unwrap_err().contains("no exit status"));
        assert!(judge_check(&scan(&[good[1], good[2]])).unwrap_err().contains("release"));
        assert!(judge_check(&scan(&[good[0], good[2]])).unwrap_err().contains("argv[2]"));
        let e = judge_check(&scan(&[good[0], "[ 1.0] BUG: unable to handle page fault", good[1], good[2]])).unwrap_err();
        assert!(e.contains("oopsed"), "{e}");
    }

    #[test]
    fn init_source_prints_what_scan_reads() {
        // The lines Scan parses are the ones linux_init.c prints.
        assert!(INIT_SOURCE.contains("\"linux-init: release %s\\n\""));
        assert!(INIT_SOURCE.contains("\"linux-init: %s exited with status %d\\n\""));
        assert!(INIT_SOURCE.contains("reboot(RB_POWER_OFF)"));
    }
}
