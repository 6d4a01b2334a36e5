//! `/proc`: the files Holdfast generates.
//!
//! `/proc/self/maps` (and `/proc/<pid>/maps`) in Linux's exact format,
//! `/proc/<pid>/smaps` and `smaps_rollup` ([`smaps`]), `/proc/meminfo`
//! ([`meminfo`]),
//! `/proc/self/status` with Name, Pid, Threads, VmSize, VmLck, VmRSS in
//! Linux's layout, the sysctls `/proc/sys/vm/mlock_populate` (the
//! population strategy switch) and `/proc/sys/vm/max_map_count`, and
//! `/proc/sysvipc/shm` (the SysV shared memory segments, [`crate::ipc::shm`]),
//! `/proc/cpuinfo` (one block per online CPU), `/proc/swaps`,
//! `/proc/vmstat` (page counts of the LRU lists, swap and reclaim
//! events, the `unevictable_pgs_*` events, TLB
//! shootdown counters, and with `mm.populate_profile` the
//! `mm::populate_profile` counters as `populate_*` lines), `/proc/sysrq-trigger` (key `c` crashes the kernel,
//! as Linux's does: how the panic path is tested), `/proc/self/mmap_lock`
//! (statistics of the
//! process's mmap lock: acquisitions, contention, wait and hold times).
//! The directories (`/proc`, `/proc/<pid>`, `/proc/sys`, ...) are known to
//! `fs::namei`. Contents are generated when the file is opened; the mmap
//! lock is taken for read while generating and released before any user
//! copy.

mod meminfo;
mod smaps;

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
    /// `swappiness`: reclaim's anonymous-versus-file balance, 0 to 200.
    Swappiness,
}

impl Sysctl {
    /// The sysctl a file name in `/proc/sys/vm` names.
    pub fn from_name(name: &[u8]) -> Option<Sysctl> {
        match name {
            b"mlock_populate" => Some(Sysctl::MlockPopulate),
            b"max_map_count" => Some(Sysctl::MaxMapCount),
            b"swappiness" => Some(Sysctl::Swappiness),
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
            Sysctl::Swappiness => alloc::format!("{}\n", mm::vmscan::vm_swappiness()),
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
                let n = parse_int_minmax(text, i32::MAX as u32)?;
                mm::vma::set_max_map_count(n as usize);
            }
            Sysctl::Swappiness => {
                let n = parse_int_minmax(text, mm::vmscan::MAX_SWAPPINESS)?;
                mm::vmscan::set_vm_swappiness(n).map_err(|_| Errno::EINVAL)?;
            }
        }
        Ok(())
    }
}

/// A decimal int from 0 to `max` (an optional `+` first), as Linux's
/// `proc_dointvec_minmax` takes it; EINVAL otherwise.
fn parse_int_minmax(text: &str, max: u32) -> Result<u32, Errno> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Errno::EINVAL);
    }
    let n: u32 = digits.parse().map_err(|_| Errno::EINVAL)?;
    if n > max {
        return Err(Errno::EINVAL);
    }
    Ok(n)
}

/// A key written to `/proc/sysrq-trigger` (Linux `__handle_sysrq`): `c`
/// panics the kernel ("sysrq triggered crash", as Linux's
/// `sysrq_handle_crash`); any other key logs the keys Holdfast knows.
pub fn sysrq_trigger(key: u8) {
    match key {
        b'c' => panic!("sysrq triggered crash"),
        _ => log::info!("sysrq: HELP : crash(c)"),
    }
}

/// Open a regular /proc file by its canonical path, if it names one of ours.
pub fn open(path: &[u8]) -> Option<Result<FileKind, Errno>> {
    if let Some(s) = Sysctl::from_path(path) {
        return Some(Ok(FileKind::Sysctl(s)));
    }
    if path == b"/proc/cpuinfo" {
        return Some(Ok(FileKind::Bytes(FileBytes::Owned(cpuinfo().into_bytes()))));
    }
    if path == b"/proc/sysrq-trigger" {
        return Some(Ok(FileKind::SysrqTrigger));
    }
    if path == b"/proc/sysvipc/shm" {
        return Some(Ok(FileKind::Bytes(FileBytes::Owned(crate::ipc::shm::proc_show().into_bytes()))));
    }
    if path == b"/proc/meminfo" {
        return Some(Ok(FileKind::Bytes(FileBytes::Owned(meminfo::meminfo().into_bytes()))));
    }
    if path == b"/proc/vmstat" {
        return Some(Ok(FileKind::Bytes(FileBytes::Owned(vmstat().into_bytes()))));
    }
    if path == b"/proc/swaps" {
        return Some(Ok(FileKind::Bytes(FileBytes::Owned(swaps().into_bytes()))));
    }
    let (proc, file) = target(path)?;
    let Some(proc) = proc else { return Some(Err(Errno::ENOENT)) };
    let text = match file {
        b"maps" => {
            let stack = proc.stack_start.load(core::sync::atomic::Ordering::Relaxed);
            proc.mm().proc_maps((stack != 0).then_some(stack))
        }
        b"smaps" | b"smaps_rollup" => {
            let stack = proc.stack_start.load(core::sync::atomic::Ordering::Relaxed);
            let vmas = match proc.mm().smaps((stack != 0).then_some(stack)) {
                Ok(v) => v,
                Err(e) => return Some(Err(e)),
            };
            if file == b"smaps" {
                smaps::smaps(&vmas)
            } else {
                smaps::smaps_rollup(&vmas)
            }
        }
        b"status" => status(&proc),
        b"mmap_lock" => proc.mm().lock_stats_text(),
        _ => return Some(Err(Errno::ENOENT)),
    };
    Some(Ok(FileKind::Bytes(FileBytes::Owned(text.into_bytes()))))
}

fn status(p: &Arc<Process>) -> String {
    let creds = p.creds();
    let mut s = String::new();
    let _ = writeln!(s, "Name:\t{}", p.name());
    let _ = writeln!(s, "State:\tR (running)");
    let _ = writeln!(s, "Tgid:\t{}", p.pid);
    let _ = writeln!(s, "Pid:\t{}", p.pid);
    let _ = writeln!(s, "PPid:\t{}", p.ppid.load(core::sync::atomic::Ordering::SeqCst));
    let _ = writeln!(s, "Uid:\t{}\t{}\t{}\t{}", creds.uid, creds.euid, creds.suid, creds.fsuid);
    let _ = writeln!(s, "Gid:\t{}\t{}\t{}\t{}", creds.gid, creds.egid, creds.sgid, creds.fsgid);
    // Each group, then one space (Linux's trailing space included).
    s.push_str("Groups:\t");
    for (i, g) in creds.groups.iter().enumerate() {
        let _ = write!(s, "{}{g}", if i == 0 { "" } else { " " });
    }
    s.push_str(" \n");
    s.push_str(&p.mm().proc_status_vm());
    let _ = writeln!(s, "Threads:\t{}", p.nr_threads());
    let _ = writeln!(s, "CapInh:\t{:016x}", creds.cap_inheritable);
    let _ = writeln!(s, "CapPrm:\t{:016x}", creds.cap_permitted);
    let _ = writeln!(s, "CapEff:\t{:016x}", creds.cap_effective);
    let _ = writeln!(s, "CapBnd:\t{:016x}", creds.cap_bset);
    let _ = writeln!(s, "CapAmb:\t{:016x}", creds.cap_ambient);
    // The thread-group leader's CPUs, as Linux shows them.
    let leader = p.threads.lock().iter().find(|t| t.tid() == p.pid).cloned();
    let mask = leader.map_or(u64::MAX, |t| t.affinity.load(core::sync::atomic::Ordering::Relaxed)) & crate::sched::online_mask();
    let _ = writeln!(s, "Cpus_allowed:\t{mask:x}");
    let _ = writeln!(s, "Cpus_allowed_list:\t{}", cpu_list(mask));
    s
}

/// A CPU mask as Linux prints a CPU list: `0-3`, `0,2`, `1-2,5`.
fn cpu_list(mask: u64) -> String {
    let mut out = String::new();
    let mut cpu = 0;
    while cpu < 64 {
        if mask & (1 << cpu) == 0 {
            cpu += 1;
            continue;
        }
        let start = cpu;
        while cpu + 1 < 64 && mask & (1 << (cpu + 1)) != 0 {
            cpu += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == cpu {
            let _ = write!(out, "{start}");
        } else {
            let _ = write!(out, "{start}-{cpu}");
        }
        cpu += 1;
    }
    out
}

/// `/proc/swaps` in Linux's layout (`swap_show`): one line per swap
/// device, sizes in kB, and its priority.
fn swaps() -> String {
    let mut s = String::from("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n");
    let kb = mm::addr::PAGE_SIZE >> 10;
    for d in crate::proc::usermm::page_meta().swap().summaries() {
        let name = crate::memory::swapfile::device_name(d.type_);
        let _ = writeln!(s, "{name:<40}{:<8}\t{}\t\t{}\t\t{}", "partition", d.pages * kb, d.used * kb, d.prio);
    }
    s
}

/// `/proc/vmstat`, under Linux's names: page counts (free, mlocked, on
/// each LRU list, anonymous, shmem), swap and reclaim events, the
/// unevictable-LRU events of
/// `Documentation/mm/unevictable-lru.rst`, and the TLB shootdown counters
/// (`CONFIG_DEBUG_TLBFLUSH`: shootdown rounds this kernel started, and
/// flushes CPUs did on another's request).
fn vmstat() -> String {
    let (_, free) = crate::memory::frame::counts();
    let meta = crate::proc::usermm::page_meta();
    let lru = meta.lru_sizes();
    let pages = meta.page_counts();
    let ev = meta.stats();
    let mut s = String::new();
    // Page counts, in pages, in Linux's order (zone, then node items).
    for (name, v) in [
        ("nr_free_pages", free),
        ("nr_mlock", ev.nr_mlock),
        ("nr_inactive_anon", lru.inactive_anon),
        ("nr_active_anon", lru.active_anon),
        ("nr_inactive_file", lru.inactive_file),
        ("nr_active_file", lru.active_file),
        ("nr_unevictable", pages.unevictable),
        ("nr_anon_pages", pages.anon),
        ("nr_file_pages", meta.nr_shmem()),
        ("nr_shmem", meta.nr_shmem()),
    ] {
        let _ = writeln!(s, "{name} {v}");
    }
    // Events since boot.
    let (rounds, _ipis, received) = crate::arch::tlb::stats();
    let sw = meta.swap().events();
    for (name, v) in [
        ("pgmajfault", sw.pgmajfault),
        ("pswpin", sw.pswpin),
        ("pswpout", sw.pswpout),
        ("pgactivate", sw.pgactivate),
        ("pgdeactivate", sw.pgdeactivate),
        ("pgsteal_kswapd", sw.pgsteal_kswapd),
        ("pgsteal_direct", sw.pgsteal_direct),
        ("pgscan_kswapd", sw.pgscan_kswapd),
        ("pgscan_direct", sw.pgscan_direct),
        ("unevictable_pgs_culled", ev.unevictable_pgs_culled),
        ("unevictable_pgs_rescued", ev.unevictable_pgs_rescued),
        ("unevictable_pgs_mlocked", ev.unevictable_pgs_mlocked),
        ("unevictable_pgs_munlocked", ev.unevictable_pgs_munlocked),
        ("unevictable_pgs_cleared", ev.unevictable_pgs_cleared),
        ("unevictable_pgs_stranded", ev.unevictable_pgs_stranded),
        ("nr_tlb_remote_flush", rounds),
        ("nr_tlb_remote_flush_received", received),
    ] {
        let _ = writeln!(s, "{name} {v}");
    }
    if mm::populate_profile::enabled() {
        let p = mm::populate_profile::snapshot();
        let _ = writeln!(s, "populate_pages {}", p.pages);
        let _ = writeln!(s, "populate_ns {}", p.populate_ns);
        let _ = writeln!(s, "populate_alloc_ns {}", p.alloc_ns);
        let _ = writeln!(s, "populate_zero_ns {}", p.zero_ns);
        let _ = writeln!(s, "populate_install_ns {}", p.install_ns);
    }
    s
}

/// `/proc/cpuinfo`: one block per online CPU, in Linux's layout (the
/// fields a program or a person usually reads).
fn cpuinfo() -> String {
    let id = crate::arch::cpu::identity();
    let text = |b: &[u8]| String::from(core::str::from_utf8(b).unwrap_or("").trim_matches(|c: char| c == '\0' || c == ' '));
    let (vendor, brand) = (text(&id.vendor), text(&id.brand));
    let features = crate::arch::cpu::detect();
    let flags: alloc::vec::Vec<&str> = features.present().collect();
    let n = crate::arch::percpu::nr_online();
    let mut s = String::new();
    for c in crate::arch::percpu::online() {
        let _ = writeln!(s, "processor\t: {}", c.cpu);
        let _ = writeln!(s, "vendor_id\t: {vendor}");
        let _ = writeln!(s, "cpu family\t: {}", id.family);
        let _ = writeln!(s, "model\t\t: {}", id.model);
        let _ = writeln!(s, "model name\t: {brand}");
        let _ = writeln!(s, "stepping\t: {}", id.stepping);
        let _ = writeln!(s, "cpu MHz\t\t: {}.000", crate::arch::time::tsc_per_ms() / 1000);
        let _ = writeln!(s, "physical id\t: 0");
        let _ = writeln!(s, "siblings\t: {n}");
        let _ = writeln!(s, "core id\t\t: {}", c.cpu);
        let _ = writeln!(s, "cpu cores\t: {n}");
        let _ = writeln!(s, "apicid\t\t: {}", c.apic_id);
        let _ = writeln!(s, "initial apicid\t: {}", c.apic_id);
        let _ = writeln!(s, "fpu\t\t: yes");
        let _ = writeln!(s, "flags\t\t: fpu sse sse2 {}", flags.join(" "));
        s.push('\n');
    }
    s
}
