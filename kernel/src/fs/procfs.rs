//! `/proc`: the files Holdfast generates.
//!
//! `/proc/self/maps` (and `/proc/<pid>/maps`) in Linux's exact format,
//! `/proc/self/status` with Name, Pid, Threads, VmSize, VmLck, VmRSS in
//! Linux's layout, the sysctls `/proc/sys/vm/mlock_populate` (the
//! population strategy switch) and `/proc/sys/vm/max_map_count`, and
//! `/proc/self/mmap_lock` (statistics of the
//! process's mmap lock: acquisitions, contention, wait and hold times).
//! The directories (`/proc`, `/proc/<pid>`, `/proc/sys`, ...) are known to
//! `fs::namei`. Contents are generated when the file is opened; the mmap
//! lock is taken for read while generating and released before any user
//! copy.

use alloc::string::String;
use alloc::sync::Arc;
use core::fmt::Write;
use mm::Errno;

use super::file::{FileBytes, FileKind};
use crate::proc::Process;

fn target(path: &[u8]) -> Option<(Option<Arc<Process>>, &[u8])> {
    let rest = path.strip_prefix(b"/proc/")?;
    let slash = rest.iter().position(|&b| b == b'/')?;
    let (who, file) = (&rest[..slash], &rest[slash + 1..]);
    if who == b"self" || who == b"thread-self" {
        return Some((crate::proc::try_current(), file));
    }
    let pid: u32 = core::str::from_utf8(who).ok()?.parse().ok()?;
    Some((crate::proc::find(pid), file))
}

/// A writable setting under `/proc/sys/vm` (root only, as Linux's 0644
/// files owned by root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sysctl {
    /// `mlock_populate`: the population strategy, by name.
    MlockPopulate,
    /// `max_map_count`: the most vmas an address space may have.
    MaxMapCount,
}

impl Sysctl {
    /// The sysctl a file name in `/proc/sys/vm` names.
    pub fn from_name(name: &[u8]) -> Option<Sysctl> {
        match name {
            b"mlock_populate" => Some(Sysctl::MlockPopulate),
            b"max_map_count" => Some(Sysctl::MaxMapCount),
            _ => None,
        }
    }

    /// The sysctl a canonical path names.
    pub fn from_path(path: &[u8]) -> Option<Sysctl> {
        Self::from_name(path.strip_prefix(b"/proc/sys/vm/")?)
    }

    /// The file's contents: the value and a newline.
    pub fn read(self) -> String {
        match self {
            Sysctl::MlockPopulate => alloc::format!("{}\n", mm::populate::global_strategy().name()),
            Sysctl::MaxMapCount => alloc::format!("{}\n", mm::vma::max_map_count()),
        }
    }

    /// Set the value from the bytes written (the first page of them, as
    /// Linux's `proc_dostring` / `proc_dointvec_minmax` read).
    pub fn write(self, text: &[u8]) -> Result<(), Errno> {
        let text = core::str::from_utf8(text)
            .map_err(|_| Errno::EINVAL)?
            .trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
        match self {
            Sysctl::MlockPopulate => {
                let s = mm::populate::PopulateStrategy::from_name(text).ok_or(Errno::EINVAL)?;
                mm::populate::set_global_strategy(s);
            }
            Sysctl::MaxMapCount => {
                // An int from 0 to INT_MAX.
                let digits = text.strip_prefix('+').unwrap_or(text);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(Errno::EINVAL);
                }
                let n: u32 = digits.parse().map_err(|_| Errno::EINVAL)?;
                if n > i32::MAX as u32 {
                    return Err(Errno::EINVAL);
                }
                mm::vma::set_max_map_count(n as usize);
            }
        }
        Ok(())
    }
}

/// Open a regular /proc file by its canonical path, if it names one of ours.
pub fn open(path: &[u8]) -> Option<Result<FileKind, Errno>> {
    if let Some(s) = Sysctl::from_path(path) {
        return Some(Ok(FileKind::Sysctl(s)));
    }
    let (proc, file) = target(path)?;
    let Some(proc) = proc else { return Some(Err(Errno::ENOENT)) };
    let text = match file {
        b"maps" => {
            let stack = proc.stack_start.load(core::sync::atomic::Ordering::Relaxed);
            proc.mm.proc_maps((stack != 0).then_some(stack))
        }
        b"status" => status(&proc),
        b"mmap_lock" => proc.mm.lock_stats_text(),
        _ => return Some(Err(Errno::ENOENT)),
    };
    Some(Ok(FileKind::Bytes(FileBytes::Owned(text.into_bytes()))))
}

fn status(p: &Arc<Process>) -> String {
    let creds = *p.creds.lock();
    let mut s = String::new();
    let _ = writeln!(s, "Name:\t{}", p.name());
    let _ = writeln!(s, "State:\tR (running)");
    let _ = writeln!(s, "Tgid:\t{}", p.pid);
    let _ = writeln!(s, "Pid:\t{}", p.pid);
    let _ = writeln!(s, "PPid:\t0");
    let _ = writeln!(s, "Uid:\t{0}\t{1}\t{1}\t{1}", creds.uid, creds.euid);
    let _ = writeln!(s, "Gid:\t0\t0\t0\t0");
    s.push_str(&p.mm.proc_status_vm());
    let _ = writeln!(s, "Threads:\t{}", p.nr_threads());
    let _ = writeln!(s, "CapEff:\t{:016x}", if creds.cap_ipc_lock { 0x000001ffffffffffu64 } else { 0 });
    s
}
