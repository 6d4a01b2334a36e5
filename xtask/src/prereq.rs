//! Prerequisites outside Rust: QEMU, OVMF, musl-gcc and the gcc that
//! musl-gcc drives. Before `run`, `test`, `bench` and `image`, xtask looks
//! for the ones that command needs ([`needs`]) and installs the missing
//! ones, so that on a fresh machine the first `cargo xtask run` is enough.
//!
//! - Debian and Ubuntu (and systems whose `/etc/os-release` says they are
//!   like them): `apt-get update`, then `apt-get install -y PACKAGES`, run
//!   directly as root, through `sudo` otherwise; each command is printed
//!   before it runs. Without root and without `sudo` xtask prints the
//!   commands and stops.
//! - Fedora and Arch: xtask prints the exact `dnf` or `pacman` command and
//!   stops; other systems get the list of what is missing.
//!
//! After installing, every needed tool is looked for again, so a package
//! that puts a file somewhere xtask does not look is reported, not assumed.
//! Everything that decides (os-release parsing, the package names, the
//! commands) is a pure function; only [`ensure`] looks at the machine.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build;
use crate::cli::{self, Suite};
use crate::error::{Error, Result};

/// Something a command needs that rustup does not install.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tool {
    /// `qemu-system-x86_64`.
    Qemu,
    /// UEFI firmware for QEMU, where [`crate::qemu::find_ovmf`] looks.
    Ovmf,
    /// `musl-gcc`, which builds the C user programs and the Linux guest's
    /// `/init`.
    MuslGcc,
    /// `gcc`: musl-gcc is a wrapper that runs it.
    Gcc,
}

impl Tool {
    /// What the tool is, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Tool::Qemu => "QEMU (qemu-system-x86_64)",
            Tool::Ovmf => "OVMF (UEFI firmware for QEMU, /usr/share/ovmf/OVMF.fd or OVMF_PATH)",
            Tool::MuslGcc => "musl-gcc",
            Tool::Gcc => "gcc (musl-gcc runs it)",
        }
    }

    /// Whether the tool is on this machine.
    fn present(self, path_var: &OsStr) -> bool {
        match self {
            Tool::Qemu => find_in_path(crate::qemu::QEMU, path_var).is_some(),
            Tool::Ovmf => crate::qemu::find_ovmf().is_ok(),
            Tool::MuslGcc => find_in_path("musl-gcc", path_var).is_some(),
            Tool::Gcc => find_in_path("gcc", path_var).is_some(),
        }
    }
}

/// The tools a command needs, in [`Tool`] order.
pub fn needs(command: &cli::Command) -> Vec<Tool> {
    let (qemu, ovmf, musl) = match command {
        cli::Command::Run(opts) => (true, opts.uefi && !opts.linux, true),
        cli::Command::Image(_) => (false, false, true),
        // `test` checks QEMU and OVMF before any booting suite; every
        // suite but host and kernel builds the user programs.
        cli::Command::Test(opts) => {
            let boots = opts.suites.iter().any(|s| *s != Suite::Host);
            let programs = opts.suites.iter().any(|s| matches!(s, Suite::Smoke | Suite::User | Suite::Linux));
            (boots, boots, programs)
        }
        cli::Command::Bench(_) => (true, false, true),
        cli::Command::Help => (false, false, false),
    };
    let mut tools = Vec::new();
    tools.extend(qemu.then_some(Tool::Qemu));
    tools.extend(ovmf.then_some(Tool::Ovmf));
    if musl {
        tools.extend([Tool::MuslGcc, Tool::Gcc]);
    }
    tools
}

/// The package manager family, from `/etc/os-release`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Debian, Ubuntu and their derivatives: apt-get.
    Debian,
    /// Fedora and systems that say they are like it: dnf. (RHEL and its
    /// rebuilds say so too, though their QEMU package is named otherwise.)
    Fedora,
    /// Arch and its derivatives: pacman.
    Arch,
    /// Anything else, or no os-release.
    Other,
}

/// The value of `key` in os-release text (`KEY=value`, the value possibly
/// in single or double quotes).
pub fn os_release_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let (k, v) = line.trim().split_once('=')?;
        if k != key {
            return None;
        }
        let unquoted = ['"', '\''].iter().find_map(|&q| v.strip_prefix(q)?.strip_suffix(q));
        Some(unquoted.unwrap_or(v).to_string())
    })
}

/// The family of the system `/etc/os-release` describes: its `ID` first,
/// then the words of `ID_LIKE` in order.
pub fn family(os_release: &str) -> Family {
    let id = os_release_value(os_release, "ID").unwrap_or_default();
    let like = os_release_value(os_release, "ID_LIKE").unwrap_or_default();
    std::iter::once(id.as_str())
        .chain(like.split_whitespace())
        .find_map(|word| match word {
            "debian" | "ubuntu" => Some(Family::Debian),
            "fedora" => Some(Family::Fedora),
            "arch" => Some(Family::Arch),
            _ => None,
        })
        .unwrap_or(Family::Other)
}

/// The packages that provide `tools` on `family`, without duplicates;
/// empty for [`Family::Other`].
pub fn packages(family: Family, tools: &[Tool]) -> Vec<&'static str> {
    let mut tools = tools.to_vec();
    tools.sort();
    let mut v: Vec<&'static str> = Vec::new();
    for tool in tools {
        let package = match (family, tool) {
            (Family::Other, _) => continue,
            (_, Tool::Qemu) => "qemu-system-x86",
            (Family::Debian, Tool::Ovmf) => "ovmf",
            (Family::Fedora | Family::Arch, Tool::Ovmf) => "edk2-ovmf",
            (Family::Debian, Tool::MuslGcc) => "musl-tools",
            (Family::Fedora, Tool::MuslGcc) => "musl-gcc",
            (Family::Arch, Tool::MuslGcc) => "musl",
            (_, Tool::Gcc) => "gcc",
        };
        if !v.contains(&package) {
            v.push(package);
        }
    }
    v
}

/// One command of an installation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// An environment variable set on the command (for root; through sudo
    /// it is an argument of sudo instead).
    pub env: Option<(&'static str, &'static str)>,
    pub argv: Vec<String>,
}

impl Step {
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&self.argv[1..]);
        if let Some((k, v)) = self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// The command as a shell line.
    pub fn line(&self) -> String {
        build::command_line(&self.command())
    }
}

/// What to do about missing tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Run these commands, in order.
    Install(Vec<Step>),
    /// Say this and stop.
    Stop(String),
}

/// What to do about `missing` on `family`, as root or not, with or
/// without `sudo` on the PATH.
pub fn plan(family: Family, missing: &[Tool], root: bool, has_sudo: bool) -> Plan {
    let what: Vec<&str> = missing.iter().map(|t| t.describe()).collect();
    let what = what.join(", ");
    let pkgs = packages(family, missing);
    // `sudo` (unless root), the words, then the packages if asked.
    let argv = |sudo: bool, words: &[&str], with_packages: bool| -> Vec<String> {
        let sudo: &[&str] = if sudo { &["sudo"] } else { &[] };
        let pkgs: &[&str] = if with_packages { &pkgs } else { &[] };
        sudo.iter().chain(words).chain(pkgs).map(|w| w.to_string()).collect()
    };
    let line = |argv: Vec<String>| Step { env: None, argv }.line();
    match family {
        Family::Debian if root || has_sudo => {
            let update = Step { env: None, argv: argv(!root, &["apt-get", "update"], false) };
            // No debconf question in the middle of `cargo xtask run`; sudo
            // drops the environment, so there the variable is its argument.
            let install = if root {
                Step { env: Some(("DEBIAN_FRONTEND", "noninteractive")), argv: argv(false, &["apt-get", "install", "-y"], true) }
            } else {
                Step { env: None, argv: argv(true, &["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y"], true) }
            };
            Plan::Install(vec![update, install])
        }
        Family::Debian => Plan::Stop(format!(
            "missing {what}, and xtask is not root and finds no sudo to install it with: as root, run \
             `apt-get update && {}`",
            line(argv(false, &["apt-get", "install", "-y"], true))
        )),
        Family::Fedora => Plan::Stop(format!(
            "missing {what}: install with `{}` (if OVMF lands elsewhere than /usr/share/ovmf/OVMF.fd, \
             point OVMF_PATH at it)",
            line(argv(!root, &["dnf", "install", "-y"], true))
        )),
        Family::Arch => Plan::Stop(format!(
            "missing {what}: install with `{}` (if OVMF or musl-gcc land off the usual paths, \
             point OVMF_PATH at OVMF.fd and put musl-gcc on PATH)",
            line(argv(!root, &["pacman", "-S", "--needed"], true))
        )),
        Family::Other => Plan::Stop(format!(
            "missing {what}: install them with this system's package manager \
             (on Debian and Ubuntu xtask does it itself: apt-get install -y qemu-system-x86 ovmf musl-tools gcc)"
        )),
    }
}

/// The effective user id from `/proc/self/status` text (`Uid:` real,
/// effective, saved, filesystem).
pub fn effective_uid(status: &str) -> Option<u32> {
    let ids = status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    ids.split_whitespace().nth(1)?.parse().ok()
}

/// The executable `name` in one of the directories of a PATH value.
pub fn find_in_path(name: &str, path_var: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Makes sure `tools` are present: installs the missing ones where xtask
/// can (printing each command first), otherwise stops with the command to
/// run.
pub fn ensure(tools: &[Tool]) -> Result<()> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let missing: Vec<Tool> = tools.iter().copied().filter(|t| !t.present(&path_var)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let os_release = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let root = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| effective_uid(&s)) == Some(0);
    let has_sudo = find_in_path("sudo", &path_var).is_some();
    let steps = match plan(family(&os_release), &missing, root, has_sudo) {
        Plan::Install(steps) => steps,
        Plan::Stop(why) => return Err(Error::new(why)),
    };
    let what: Vec<&str> = missing.iter().map(|t| t.describe()).collect();
    eprintln!("xtask: missing {}; installing with:", what.join(", "));
    for step in &steps {
        eprintln!("  {}", step.line());
    }
    for step in &steps {
        build::run_checked(&mut step.command(), &format!("`{}`", step.line()))?;
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    let still: Vec<&str> = missing.iter().filter(|t| !t.present(&path_var)).map(|t| t.describe()).collect();
    if !still.is_empty() {
        return Err(Error::new(format!("still missing after the installation: {}", still.join(", "))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{BenchOpts, InitrdOpts, RunOpts, TestOpts};

    const DEBIAN: &str = r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
ID=debian
HOME_URL="https://www.debian.org/"
"#;
    const UBUNTU: &str = "NAME=\"Ubuntu\"\nVERSION=\"24.04.1 LTS (Noble Numbat)\"\nID=ubuntu\nID_LIKE=debian\n";
    const MINT: &str = "NAME=\"Linux Mint\"\nID=linuxmint\nID_LIKE=\"ubuntu debian\"\n";
    const ROCKY: &str = "NAME=\"Rocky Linux\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\n";
    const FEDORA: &str = "NAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=41\n";
    const MANJARO: &str = "NAME=\"Manjaro Linux\"\nID=manjaro\nID_LIKE=arch\n";
    const ARCH: &str = "NAME=\"Arch Linux\"\nID=arch\n";
    const ALPINE: &str = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.0\n";

    #[test]
    fn os_release_values_lose_their_quotes() {
        assert_eq!(os_release_value(DEBIAN, "ID").as_deref(), Some("debian"));
        assert_eq!(os_release_value(DEBIAN, "NAME").as_deref(), Some("Debian GNU/Linux"));
        assert_eq!(os_release_value(DEBIAN, "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(os_release_value(MINT, "ID_LIKE").as_deref(), Some("ubuntu debian"));
        assert_eq!(os_release_value("# ID=nope\nID='single'\n", "ID").as_deref(), Some("single"));
        // A key is a whole name: ID is not a prefix match of ID_LIKE.
        assert_eq!(os_release_value("ID_LIKE=debian\n", "ID"), None);
        assert_eq!(os_release_value(DEBIAN, "ID_LIKE"), None);
        assert_eq!(os_release_value("", "ID"), None);
    }

    #[test]
    fn families_from_id_then_id_like() {
        assert_eq!(family(DEBIAN), Family::Debian);
        assert_eq!(family(UBUNTU), Family::Debian);
        assert_eq!(family(MINT), Family::Debian);
        assert_eq!(family("ID=ubuntu\n"), Family::Debian);
        assert_eq!(family(FEDORA), Family::Fedora);
        assert_eq!(family(ROCKY), Family::Fedora);
        assert_eq!(family(ARCH), Family::Arch);
        assert_eq!(family(MANJARO), Family::Arch);
        assert_eq!(family(ALPINE), Family::Other);
        assert_eq!(family(""), Family::Other);
    }

    #[test]
    fn package_names_per_family() {
        let all = [Tool::Qemu, Tool::Ovmf, Tool::MuslGcc, Tool::Gcc];
        assert_eq!(packages(Family::Debian, &all), ["qemu-system-x86", "ovmf", "musl-tools", "gcc"]);
        assert_eq!(packages(Family::Fedora, &all), ["qemu-system-x86", "edk2-ovmf", "musl-gcc", "gcc"]);
        assert_eq!(packages(Family::Arch, &all), ["qemu-system-x86", "edk2-ovmf", "musl", "gcc"]);
        assert!(packages(Family::Other, &all).is_empty());
        // Only what is asked for.
        assert_eq!(packages(Family::Debian, &[Tool::MuslGcc]), ["musl-tools"]);
        assert_eq!(packages(Family::Debian, &[Tool::Ovmf, Tool::Qemu]), ["qemu-system-x86", "ovmf"]);
        assert!(packages(Family::Debian, &[]).is_empty());
    }

    fn lines(plan: &Plan) -> Vec<String> {
        match plan {
            Plan::Install(steps) => steps.iter().map(Step::line).collect(),
            Plan::Stop(why) => panic!("expected an installation, got: {why}"),
        }
    }

    fn stop(plan: &Plan) -> &str {
        match plan {
            Plan::Stop(why) => why,
            Plan::Install(steps) => panic!("expected a stop, got {steps:?}"),
        }
    }

    #[test]
    fn debian_as_root_runs_apt_get_itself() {
        let p = plan(Family::Debian, &[Tool::Qemu, Tool::Ovmf, Tool::MuslGcc], true, false);
        assert_eq!(
            lines(&p),
            ["apt-get update", "DEBIAN_FRONTEND=noninteractive apt-get install -y qemu-system-x86 ovmf musl-tools"]
        );
        // Root does not go through sudo even where it exists.
        assert_eq!(
            lines(&plan(Family::Debian, &[Tool::Ovmf], true, true))[1],
            "DEBIAN_FRONTEND=noninteractive apt-get install -y ovmf"
        );
    }

    #[test]
    fn debian_as_a_user_goes_through_sudo() {
        let p = plan(Family::Debian, &[Tool::MuslGcc, Tool::Gcc], false, true);
        assert_eq!(lines(&p), ["sudo apt-get update", "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y musl-tools gcc"]);
        // sudo drops the environment: the variable is sudo's argument.
        let Plan::Install(steps) = p else { unreachable!() };
        assert_eq!(steps[1].argv[..3], ["sudo", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        assert_eq!(steps[1].env, None);
    }

    #[test]
    fn debian_without_root_or_sudo_stops_with_the_commands() {
        let p = plan(Family::Debian, &[Tool::Qemu], false, false);
        let why = stop(&p);
        assert!(why.contains("sudo"), "{why}");
        assert!(why.contains("apt-get update && apt-get install -y qemu-system-x86"), "{why}");
        assert!(why.contains("QEMU (qemu-system-x86_64)"), "{why}");
    }

    #[test]
    fn other_families_print_the_exact_command_and_stop() {
        let why = stop(&plan(Family::Fedora, &[Tool::Qemu, Tool::Ovmf], false, true)).to_string();
        assert!(why.contains("`sudo dnf install -y qemu-system-x86 edk2-ovmf`"), "{why}");
        let why = stop(&plan(Family::Fedora, &[Tool::MuslGcc], true, false)).to_string();
        assert!(why.contains("`dnf install -y musl-gcc`") && !why.contains("sudo"), "{why}");
        let why = stop(&plan(Family::Arch, &[Tool::MuslGcc, Tool::Gcc], false, true)).to_string();
        assert!(why.contains("`sudo pacman -S --needed musl gcc`"), "{why}");
        let why = stop(&plan(Family::Other, &[Tool::Qemu, Tool::MuslGcc], true, true)).to_string();
        assert!(why.contains("QEMU (qemu-system-x86_64)") && why.contains("musl-gcc"), "{why}");
        assert!(why.contains("package manager"), "{why}");
    }

    #[test]
    fn uid_from_proc_status() {
        let status = "Name:\tcargo\nUmask:\t0022\nState:\tR (running)\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n";
        assert_eq!(effective_uid(status), Some(0));
        assert_eq!(effective_uid("Uid:\t1000\t1000\t1000\t1000\n"), Some(1000));
        assert_eq!(effective_uid("Name:\tx\n"), None);
    }

    #[test]
    fn path_search_finds_only_executables() {
        let dir = std::env::temp_dir().join(format!("xtask-prereq-{}", std::process::id()));
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(a.join("tool"), "").unwrap();
        std::fs::set_permissions(a.join("tool"), std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::write(b.join("tool"), "").unwrap();
        std::fs::set_permissions(b.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = std::env::join_paths([&a, &b]).unwrap();
        assert_eq!(find_in_path("tool", &path), Some(b.join("tool")));
        assert_eq!(find_in_path("other", &path), None);
        assert_eq!(find_in_path("tool", OsStr::new("")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn what_each_command_needs() {
        use cli::Command;
        let run = RunOpts::default();
        assert_eq!(needs(&Command::Run(run.clone())), [Tool::Qemu, Tool::MuslGcc, Tool::Gcc]);
        let uefi = RunOpts { uefi: true, ..run.clone() };
        assert_eq!(needs(&Command::Run(uefi)), [Tool::Qemu, Tool::Ovmf, Tool::MuslGcc, Tool::Gcc]);
        let linux = RunOpts { linux: true, ..run };
        assert_eq!(needs(&Command::Run(linux)), [Tool::Qemu, Tool::MuslGcc, Tool::Gcc]);
        // An image is booted elsewhere: no QEMU, no OVMF.
        assert_eq!(needs(&Command::Image(InitrdOpts::default())), [Tool::MuslGcc, Tool::Gcc]);
        let test = |suites: &[Suite]| {
            needs(&Command::Test(TestOpts {
                suites: suites.to_vec(),
                only: None,
                kernel_words: vec![],
                smp: vec![1],
                busybox: None,
                swap_disk: None,
            }))
        };
        assert_eq!(test(&Suite::ALL), [Tool::Qemu, Tool::Ovmf, Tool::MuslGcc, Tool::Gcc]);
        assert_eq!(test(&[Suite::Host]), []);
        assert_eq!(test(&[Suite::Kernel]), [Tool::Qemu, Tool::Ovmf]);
        assert_eq!(test(&[Suite::Host, Suite::Smoke]), [Tool::Qemu, Tool::Ovmf, Tool::MuslGcc, Tool::Gcc]);
        assert_eq!(needs(&Command::Bench(BenchOpts::default())), [Tool::Qemu, Tool::MuslGcc, Tool::Gcc]);
        assert_eq!(needs(&Command::Help), []);
    }
}
