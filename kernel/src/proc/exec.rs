//! Starting a program: load a static ELF executable (from the initrd, found
//! through [`super::Services::find_executable`]) into a new process and
//! enter ring 3 at its entry point.
//!
//! The loader runs in the new process's first thread, on the new address
//! space, so it fills memory with the ordinary user-copy helpers (pages are
//! faulted in on demand). Segments are mapped read-write first, filled,
//! then given their final protection; pages shared by two segments get the
//! union of both protections.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use mm::addr::{page_align_down, PAGE_SIZE};
use mm::Errno;

use super::elf_consts::*;
use super::stack;
use super::Process;
use crate::arch::syscall::new_user_frame;
use crate::sched::{self, thread::Thread};
use crate::uaccess;

/// Top of the initial stack (one guard page below the end of user space).
pub const STACK_TOP: u64 = 0x7fff_ffff_e000;
/// Load bias of static-PIE executables (Linux's `ELF_ET_DYN_BASE` area).
pub const PIE_BASE: u64 = 0x5555_5555_4000;

struct StartInfo {
    image: &'static [u8],
    argv: Vec<String>,
    envp: Vec<String>,
}

/// Create a process running `path` from the initrd with `argv`/`envp`.
pub fn spawn_process(path: &str, argv: Vec<String>, envp: Vec<String>, is_init: bool) -> Result<Arc<Process>, Errno> {
    let image = (super::services().find_executable)(path).ok_or(Errno::ENOENT)?;
    super::elf::parse(image)?; // fail early, in the caller
    let pid = crate::sched::thread::alloc_tid();
    let name = path.rsplit('/').next().unwrap_or(path);
    let proc = Process::new(pid, name, is_init)?;
    let thread = Thread::try_new(pid, String::from(name)).ok_or(Errno::ENOMEM)?;
    super::attach(&thread, &proc);
    thread.cr3.store(proc.mm().root_pa(), Ordering::SeqCst);
    let info = StartInfo { image, argv, envp };
    let t = Arc::new(thread);
    proc.threads.lock().push(t.clone());
    sched::spawn(t, move || process_start(info));
    Ok(proc)
}

/// The first thread of a new process: load the program, enter ring 3.
fn process_start(info: StartInfo) -> ! {
    let proc = super::current();
    match load(&proc, &info) {
        Ok((entry, sp)) => {
            drop(info);
            drop(proc);
            sched::start_user(new_user_frame(entry, sp))
        }
        Err(e) => {
            crate::kprintln!("exec {}: failed: {:?}", proc.name(), e);
            drop(proc);
            super::exit::do_exit_group(super::ExitStatus::Exited(127))
        }
    }
}

fn random_bytes() -> [u8; 16] {
    let mut x = crate::arch::time::now_ns() ^ 0x9E37_79B9_7F4A_7C15;
    let mut out = [0u8; 16];
    for b in out.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    out
}

fn prot_of(flags: u32) -> u64 {
    let mut p = 0;
    if flags & PF_R != 0 {
        p |= PROT_READ;
    }
    if flags & PF_W != 0 {
        p |= PROT_WRITE;
    }
    if flags & PF_X != 0 {
        p |= PROT_EXEC;
    }
    p
}

/// Map the executable and the stack into the current (new) process.
fn load(proc: &Arc<Process>, info: &StartInfo) -> Result<(u64, u64), Errno> {
    let exe = super::elf::parse(info.image)?;
    let bias = if exe.is_pie { PIE_BASE } else { 0 };
    let mm = proc.mm();
    let mut page_prot: BTreeMap<u64, u64> = BTreeMap::new();
    let mut highest = 0;
    for seg in &exe.segments {
        let start = page_align_down(seg.vaddr + bias);
        let end = (seg.vaddr + bias + seg.memsz).next_multiple_of(PAGE_SIZE);
        for page in (start..end).step_by(PAGE_SIZE as usize) {
            *page_prot.entry(page).or_insert(0) |= prot_of(seg.flags);
        }
        highest = highest.max(end);
    }
    // Map every page once, read-write, then fill, then give each run of
    // pages its final protection.
    for (start, end, ()) in runs(page_prot.keys().map(|&p| (p, ()))) {
        mm.mmap_fixed_anon(start, end - start, PROT_READ | PROT_WRITE, false)?;
    }
    for seg in &exe.segments {
        let file = &info.image[seg.offset as usize..(seg.offset + seg.filesz) as usize];
        uaccess::copy_to_user(seg.vaddr + bias, file)?;
    }
    for (start, end, prot) in runs(page_prot.iter().map(|(&p, &prot)| (p, prot))) {
        mm.do_mprotect(start, end - start, prot)?;
    }
    mm.set_brk_base(highest)?;

    let stack_size = proc.rlimits.lock()[super::RLIMIT_STACK].cur.clamp(128 << 10, 64 << 20);
    let stack_start = STACK_TOP - stack_size;
    mm.mmap_fixed_anon(stack_start, stack_size, PROT_READ | PROT_WRITE, true)?;
    proc.stack_start.store(stack_start, Ordering::SeqCst);
    let creds = *proc.creds.lock();
    let phdr = exe.phdr_vaddr.map_or(0, |p| p + bias);
    let auxv = [
        (stack::AT_PHDR, phdr),
        (stack::AT_PHENT, super::elf::PHENT_SIZE),
        (stack::AT_PHNUM, exe.phnum),
        (stack::AT_PAGESZ, PAGE_SIZE),
        (stack::AT_BASE, 0),
        (stack::AT_FLAGS, 0),
        (stack::AT_ENTRY, exe.entry + bias),
        (stack::AT_UID, creds.uid as u64),
        (stack::AT_EUID, creds.euid as u64),
        (stack::AT_GID, 0),
        (stack::AT_EGID, 0),
        (stack::AT_HWCAP, 0),
        (stack::AT_CLKTCK, 100),
        (stack::AT_SECURE, 0),
    ];
    let img = stack::build(STACK_TOP, &info.argv, &info.envp, &auxv, random_bytes());
    uaccess::copy_to_user(img.sp, &img.bytes)?;
    Ok((exe.entry + bias, img.sp))
}

/// Group sorted (page, key) pairs into [start, end) runs of contiguous
/// pages with equal keys.
fn runs<K: PartialEq>(pages: impl Iterator<Item = (u64, K)>) -> Vec<(u64, u64, K)> {
    let mut out: Vec<(u64, u64, K)> = Vec::new();
    for (p, k) in pages {
        match out.last_mut() {
            Some((_, end, key)) if *end == p && *key == k => *end += PAGE_SIZE,
            _ => out.push((p, p + PAGE_SIZE, k)),
        }
    }
    out
}
