//! Holdfast's user programs: the Rust programs of the `user/` crate and the
//! static musl C programs under `user/c` (ABI checks) and `user/c/mlock`
//! (the mlock conformance suite), built into `target/holdfast/user/`, and
//! the files of `user/scripts/` (`#!` scripts and other test files), copied
//! there with their permissions (the initrd keeps the execute bit), and
//! BusyBox ([`crate::busybox`]), the shell.
//!
//! The same binaries run on Holdfast (packed into the initrd) and on the
//! host's Linux (the `linux` test suite runs them natively), which is how
//! the two are compared.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::build::{self, Paths, KERNEL_TARGET};
use crate::error::{Error, Result};

/// Install hint for the C compiler the C programs need.
pub const MUSL_INSTALL: &str = "sudo apt-get install musl-tools";

/// Names of the Rust programs: the files of `user/src/bin/`.
fn rust_programs(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("user/src/bin");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map_err(|e| Error::new(format!("reading {}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".rs").map(String::from))
        .collect();
    names.sort();
    Ok(names)
}

/// Build every user program into `target/holdfast/user/`; returns that
/// directory.
pub fn build_user_programs(paths: &Paths) -> Result<PathBuf> {
    let out = paths.out.join("user");
    std::fs::create_dir_all(&out).map_err(|e| Error::new(format!("creating {}: {e}", out.display())))?;
    build::check_kernel_target(paths)?;
    let mut cmd = build::cargo(paths);
    cmd.args(["build", "-p", "holdfast-user", "--release", "--target", KERNEL_TARGET]);
    build::run_checked(&mut cmd, "building the Rust user programs")?;
    for name in rust_programs(&paths.root)? {
        let built = paths.target.join(KERNEL_TARGET).join("release").join(&name);
        std::fs::copy(&built, out.join(&name)).map_err(|e| Error::new(format!("copying {}: {e}", built.display())))?;
    }
    if Command::new("musl-gcc").arg("--version").output().is_err() {
        return Err(Error::new(format!("musl-gcc not found: install it with {MUSL_INSTALL}")));
    }
    for script in ["user/c/build.sh", "user/c/mlock/build.sh"] {
        let mut cmd = Command::new("bash");
        cmd.arg(paths.root.join(script)).arg(&out).current_dir(&paths.root);
        build::run_checked(&mut cmd, &format!("building the C programs ({script})"))?;
    }
    copy_scripts(&paths.root.join("user/scripts"), &out)?;
    crate::busybox::install(paths, &out);
    Ok(out)
}

/// Copy every file of `src` (`user/scripts/`) into `out`, permissions
/// included: what the tests execute keeps its execute bit, what they must
/// fail to execute has none.
fn copy_scripts(src: &Path, out: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(src) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::new(format!("reading {}: {e}", src.display()))),
    };
    for e in entries.filter_map(|e| e.ok()).filter(|e| e.path().is_file()) {
        let to = out.join(e.file_name());
        // std::fs::copy copies the permission bits too.
        std::fs::copy(e.path(), &to).map_err(|err| Error::new(format!("copying {}: {err}", e.path().display())))?;
    }
    Ok(())
}

/// Every built program (for `cargo xtask run`, which packs them all so
/// that `-- /NAME` works without `--add`).
pub fn all_programs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::new(format!("reading {}: {e}", dir.display())))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    Ok(v)
}
