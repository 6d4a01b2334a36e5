//! BusyBox, Holdfast's shell: Debian's `busybox-static` package, fetched
//! once with `apt-get download` into `target/busybox/` and unpacked with
//! `dpkg-deb`, unmodified and never committed; or any static busybox
//! given with `--busybox PATH` (where there is no apt).
//!
//! The user programs' directory gets a copy named `busybox`, so that the
//! shell tests run it like any other program: on Holdfast from the initrd
//! and natively on the host.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::{self, Paths};
use crate::error::{Error, Result};
use crate::linux_guest::cached_deb;

/// The Debian package.
pub const PACKAGE: &str = "busybox-static";

static EXPLICIT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Use `path` (`--busybox PATH`) instead of Debian's package.
pub fn set_explicit(path: PathBuf) {
    let _ = EXPLICIT.set(path);
}

/// `target/busybox/`.
fn dir(paths: &Paths) -> PathBuf {
    paths.target.join("busybox")
}

/// The busybox binary: `explicit` if given, else Debian's, downloaded and
/// unpacked once.
pub fn busybox(paths: &Paths, explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return if p.is_file() { Ok(p.to_path_buf()) } else { Err(Error::new(format!("--busybox {}: no such file", p.display()))) };
    }
    let dir = dir(paths);
    let unpacked = dir.join("root/bin/busybox");
    if unpacked.is_file() {
        return Ok(unpacked);
    }
    std::fs::create_dir_all(&dir).map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))?;
    let hint = "or give a static busybox with --busybox PATH";
    let deb = match cached_deb(&dir, PACKAGE) {
        Some((deb, _)) => deb,
        None => {
            let mut cmd = Command::new("apt-get");
            cmd.args(["download", PACKAGE]).current_dir(&dir);
            build::run_checked(&mut cmd, &format!("downloading {PACKAGE} (run `apt-get update` first, {hint})"))?;
            cached_deb(&dir, PACKAGE)
                .map(|(d, _)| d)
                .ok_or_else(|| Error::new(format!("apt-get download {PACKAGE} left no {PACKAGE}_*.deb in {}", dir.display())))?
        }
    };
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("-x").arg(&deb).arg(dir.join("root"));
    build::run_checked(&mut cmd, &format!("unpacking {} ({hint})", deb.display()))?;
    if unpacked.is_file() {
        Ok(unpacked)
    } else {
        Err(Error::new(format!("{} holds no bin/busybox", deb.display())))
    }
}

/// Put busybox into the user programs' directory `out` as `busybox`.
/// Without one (no apt, no `--busybox`), the shell tests fail and say why;
/// everything else still builds.
pub fn install(paths: &Paths, out: &Path) {
    let to = out.join("busybox");
    match busybox(paths, EXPLICIT.get().map(PathBuf::as_path)) {
        Ok(bb) => {
            if let Err(e) = std::fs::copy(&bb, &to) {
                eprintln!("warning: copying {} to {}: {e}", bb.display(), to.display());
            }
        }
        Err(e) => {
            let _ = std::fs::remove_file(&to);
            eprintln!("warning: no busybox for the shell tests: {e}");
        }
    }
}
