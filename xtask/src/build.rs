//! Where things live and how xtask runs programs: the workspace paths,
//! printing and running commands, prerequisite checks, and the kernel build.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::error::{Error, Result};

/// The kernel's target triple (a built-in, tier-2 target).
pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// Install hint for QEMU and OVMF on Debian/Ubuntu.
pub const QEMU_INSTALL: &str = "sudo apt-get install qemu-system-x86 ovmf";

/// Paths of the workspace and of xtask's outputs.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The workspace root (holds Cargo.toml, kernel/, xtask/ ...).
    pub root: PathBuf,
    /// Cargo's target directory (`target/` unless CARGO_TARGET_DIR says otherwise).
    pub target: PathBuf,
    /// xtask's own outputs: `target/holdfast/`.
    pub out: PathBuf,
}

impl Paths {
    pub fn new() -> Self {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in a subdirectory of the workspace")
            .to_path_buf();
        let target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => root.join(dir),
            _ => root.join("target"),
        };
        let out = target.join("holdfast");
        Paths { root, target, out }
    }

    /// Directory for serial logs.
    pub fn logs(&self) -> PathBuf {
        self.out.join("logs")
    }

    /// The kernel ELF kept for a build flavour: `kernel.elf` / `kernel-ktest.elf`.
    pub fn kernel_elf(&self, ktest: bool) -> PathBuf {
        self.out.join(if ktest { "kernel-ktest.elf" } else { "kernel.elf" })
    }

    /// A path relative to the workspace root, for messages.
    pub fn show(&self, p: &Path) -> String {
        p.strip_prefix(&self.root).unwrap_or(p).display().to_string()
    }
}

/// Quotes one word for display the way a POSIX shell would need it.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The command as a copy-pasteable shell line, with the environment
/// variables xtask set on it.
pub fn command_line(cmd: &Command) -> String {
    let mut words = Vec::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            words.push(format!("{}={}", k.to_string_lossy(), shell_quote(&v.to_string_lossy())));
        }
    }
    // `cargo` as started by `cargo xtask` is the pinned toolchain's; inside
    // the project a plain `cargo` resolves to the same one.
    let program = Path::new(cmd.get_program());
    let program = if program.file_name() == Some(OsStr::new("cargo")) { "cargo".into() } else { program.to_string_lossy() };
    words.push(shell_quote(&program));
    words.extend(cmd.get_args().map(|a| shell_quote(&a.to_string_lossy())));
    words.join(" ")
}

/// Prints the command as `$ ...` (to stderr, so it never mixes with parsed output).
pub fn announce(cmd: &Command) {
    eprintln!("$ {}", command_line(cmd));
}

/// Explains a failure to start `program`.
pub fn spawn_error(program: &OsStr, e: std::io::Error) -> Error {
    let name = program.to_string_lossy();
    if e.kind() == ErrorKind::NotFound {
        let hint = if name.contains("qemu") {
            format!("install it with `{QEMU_INSTALL}`")
        } else if name.contains("cargo") || name.contains("rustc") {
            "install rustup (https://rustup.rs), then run `rustup toolchain install` in the project root".to_string()
        } else {
            "install it and make sure it is on PATH".to_string()
        };
        Error::new(format!("`{name}` not found: {hint}"))
    } else {
        Error::new(format!("could not start `{name}`: {e}"))
    }
}

/// Prints and runs `cmd` with inherited stdio; returns its status.
pub fn run_status(cmd: &mut Command) -> Result<ExitStatus> {
    announce(cmd);
    cmd.status().map_err(|e| spawn_error(cmd.get_program(), e))
}

/// Prints and runs `cmd`; a non-zero status is an error.
pub fn run_checked(cmd: &mut Command, what: &str) -> Result<()> {
    let status = run_status(cmd)?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::new(format!("{what} failed ({status}); see the output above")))
    }
}

/// `cargo` as invoked by `cargo xtask` (same toolchain), run in the root.
pub fn cargo(paths: &Paths) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.current_dir(&paths.root);
    cmd
}

/// Checks that the pinned toolchain has the kernel target installed.
pub fn check_kernel_target(paths: &Paths) -> Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .current_dir(&paths.root)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| spawn_error(&rustc, e))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !sysroot.join("lib/rustlib").join(KERNEL_TARGET).is_dir() {
        return Err(Error::new(format!(
            "the Rust target {KERNEL_TARGET} is not installed for the pinned toolchain: \
             run `rustup toolchain install` in {} (it reads rust-toolchain.toml)",
            paths.root.display()
        )));
    }
    Ok(())
}

/// Builds the kernel (with the `ktest` feature and profile when asked) and
/// copies the ELF to `target/holdfast/kernel[-ktest].elf`. Returns the copy.
pub fn build_kernel(paths: &Paths, ktest: bool) -> Result<PathBuf> {
    check_kernel_target(paths)?;
    let profile = if ktest { "ktest" } else { "release" };
    let mut cmd = cargo(paths);
    cmd.args(["build", "-p", "kernel", "--profile", profile, "--target", KERNEL_TARGET]);
    if ktest {
        cmd.args(["--features", "ktest"]);
    }
    run_checked(&mut cmd, "building the kernel")?;
    let built = paths.target.join(KERNEL_TARGET).join(profile).join("kernel");
    let copy = paths.kernel_elf(ktest);
    std::fs::create_dir_all(&paths.out).map_err(|e| Error::new(format!("creating {}: {e}", paths.out.display())))?;
    std::fs::copy(&built, &copy).map_err(|e| Error::new(format!("copying {} to {}: {e}", built.display(), copy.display())))?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("-drive"), "-drive");
        assert_eq!(shell_quote("format=raw,file=/a/b.img"), "format=raw,file=/a/b.img");
        assert_eq!(shell_quote("--cfg loom"), "'--cfg loom'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn command_line_shows_env_and_args() {
        let mut c = Command::new("cargo");
        c.env("RUSTFLAGS", "--cfg loom").args(["test", "-p", "mm"]);
        assert_eq!(command_line(&c), "RUSTFLAGS='--cfg loom' cargo test -p mm");
    }

    #[test]
    fn missing_qemu_hint() {
        let e = spawn_error(OsStr::new("qemu-system-x86_64"), ErrorKind::NotFound.into());
        assert!(e.to_string().contains(QEMU_INSTALL), "{e}");
    }
}
