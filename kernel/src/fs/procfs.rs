//! `/proc`: the files Holdfast generates.
//!
//! `/proc/self/maps` (and `/proc/<pid>/maps`) in Linux's exact format,
//! `/proc/self/status` with Name, Pid, Threads, VmSize, VmLck, VmRSS in
//! Linux's layout, `/proc/sys/vm/mlock_populate` (the population
//! strategy switch) and `/proc/self/mmap_lock` (statistics of the
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

/// Open a regular /proc file by its canonical path, if it names one of ours.
pub fn open(path: &[u8]) -> Option<Result<FileKind, Errno>> {
    if path == b"/proc/sys/vm/mlock_populate" {
        return Some(Ok(FileKind::MlockPopulateSysctl));
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
