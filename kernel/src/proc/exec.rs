//! Starting a program: the first process ([`spawn_process`]) and
//! `execve`/`execveat` ([`do_execveat`]), which load a static ELF
//! executable, or run a `#!` script's interpreter, found through
//! [`super::Services::open_exec`].
//!
//! `execve` follows Linux's fs/exec.c in two halves. Before the point of no
//! return everything that can fail with an error for the caller is done
//! (the caller's process is untouched): the file is opened, argv and envp
//! are copied into the kernel under Linux's limits (`MAX_ARG_STRLEN` per
//! string, a quarter of `RLIMIT_STACK` in all, `EFAULT` for a bad
//! pointer), `#!` lines are followed (at most [`MAX_REWRITES`] times,
//! `ELOOP` beyond), the ELF file is parsed and a new address space made.
//! Then ([`begin_new_exec`]) the other threads are killed and reaped (the
//! pid stays), the new address space replaces the old one, which is torn
//! down with its mlocks (a new `MmStruct` has no `VM_LOCKED` vma, no
//! `locked_vm` and no `MCL_FUTURE`), close-on-exec descriptors are
//! closed, handled signals reset to `SIG_DFL` and the name becomes the
//! file's. A failure after that (out of memory while loading) kills the
//! process with SIGSEGV, as Linux does.
//!
//! The loader runs on the new address space, so it fills memory with the
//! ordinary user-copy helpers (pages are faulted in on demand). Segments
//! are mapped read-write first, filled, then given their final
//! protection; pages shared by two segments get the union of both.
//!
//! Locking: none held across the steps; the process's `in_exec` flag makes
//! one thread at a time go past the point of no return.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use mm::addr::{page_align_down, PAGE_SIZE};
use mm::Errno;

use super::elf_consts::*;
use super::stack;
use super::{Process, UserMm};
use crate::arch::syscall::{new_user_frame, UserFrame};
use crate::sched::{self, thread::Thread};
use crate::uaccess;

/// Top of the initial stack (one guard page below the end of user space).
pub const STACK_TOP: u64 = 0x7fff_ffff_e000;
/// Load bias of static-PIE executables (Linux's `ELF_ET_DYN_BASE` area).
pub const PIE_BASE: u64 = 0x5555_5555_4000;

/// `dirfd` meaning the working directory.
pub const AT_FDCWD: i32 = -100;
/// `execveat` flag: do not follow a final symbolic link (Holdfast has none).
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
/// `execveat` flag: an empty path names `dirfd` itself.
pub const AT_EMPTY_PATH: u32 = 0x1000;
/// Longest argument or environment string, its NUL included.
pub const MAX_ARG_STRLEN: usize = 32 * PAGE_SIZE as usize;
/// Most argument or environment strings.
const MAX_ARG_STRINGS: usize = 0x7FFF_FFFF;
/// Room for the strings whatever `RLIMIT_STACK` says (`ARG_MAX`).
const ARG_MAX: u64 = 32 * PAGE_SIZE;
/// Linux's default stack limit (`_STK_LIM`); the strings take at most
/// three quarters of it.
const STK_LIM: u64 = 8 << 20;
/// Bytes of a file exec reads before mapping it: the ELF program headers
/// must lie in them.
pub const EXEC_HEAD_MAX: usize = 16 << 10;
/// Bytes of a file's head that `#!` parsing sees (`BINPRM_BUF_SIZE`).
const BINPRM_BUF_SIZE: usize = 256;
/// `#!` rewrites followed before `ELOOP` (Linux's `exec_binprm` gives up
/// at depth 6).
pub const MAX_REWRITES: usize = 5;
/// Longest process name (`TASK_COMM_LEN` - 1).
pub const TASK_COMM_LEN: usize = 16;

/// A file opened for execution: its first bytes and its pages.
pub struct ExecImage {
    /// The first [`EXEC_HEAD_MAX`] bytes (all of a shorter file): what
    /// `#!` and the ELF headers are read from.
    pub head: Vec<u8>,
    /// The file's size.
    pub size: u64,
    /// The file's pages (its page cache object): the program's segments
    /// map them.
    pub obj: Arc<mm::shmem::Shmem>,
    /// The file's absolute path (what `/proc/<pid>/exe` names).
    pub path: Vec<u8>,
}

/// What exec gathers before the point of no return (Linux's
/// `linux_binprm`).
struct Binprm {
    /// The name the program was executed by (`AT_EXECFN`, the process
    /// name); `/dev/fd/N[/path]` for a descriptor-relative `execveat`.
    filename: Vec<u8>,
    /// The file to run now: the executed one, or the last interpreter.
    image: ExecImage,
    /// The name of `image` (`bprm->interp`): a script's path goes into its
    /// interpreter's argv under this name.
    interp: Vec<u8>,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    /// Bytes the strings may still take (`bprm->p - bprm->argmin`).
    room: u64,
    /// The file is reachable only through a close-on-exec descriptor: a
    /// script's interpreter could not open it (`BINPRM_FLAGS_PATH_INACCESSIBLE`).
    path_inaccessible: bool,
}

impl Binprm {
    /// Account for a string of `len` bytes (its NUL included), as
    /// `copy_strings` does: `E2BIG` past `MAX_ARG_STRLEN` or the room left.
    fn take_room(&mut self, len: usize) -> Result<(), Errno> {
        if len > MAX_ARG_STRLEN || len as u64 > self.room {
            return Err(Errno::E2BIG);
        }
        self.room -= len as u64;
        Ok(())
    }

    /// `copy_string_kernel`, at the front of argv.
    fn push_front_arg(&mut self, s: &[u8]) -> Result<(), Errno> {
        self.take_room(s.len() + 1)?;
        let v = try_copy(s)?;
        self.argv.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
        self.argv.insert(0, v);
        Ok(())
    }
}

fn try_copy(s: &[u8]) -> Result<Vec<u8>, Errno> {
    let mut v = Vec::new();
    v.try_reserve_exact(s.len()).map_err(|_| Errno::ENOMEM)?;
    v.extend_from_slice(s);
    Ok(v)
}

/// `count`: the number of pointers before the NULL ending the user array at
/// `addr` (0 for a NULL array), `EFAULT` if it faults, `E2BIG` past
/// `max` strings.
fn count(addr: u64, max: usize) -> Result<usize, Errno> {
    if addr == 0 {
        return Ok(0);
    }
    let mut n = 0usize;
    loop {
        let at = addr.checked_add(8 * n as u64).ok_or(Errno::EFAULT)?;
        if uaccess::read_user::<u64>(at)? == 0 {
            return Ok(n);
        }
        n += 1;
        if n > max {
            return Err(Errno::E2BIG);
        }
    }
}

/// Copy the NUL-terminated user string at `addr` (`strnlen_user` with
/// `MAX_ARG_STRLEN`): `EFAULT` if it faults before its end, `E2BIG` if it
/// is longer than `MAX_ARG_STRLEN` with its NUL.
fn copy_arg_string(addr: u64) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 512];
    let mut at = addr;
    while out.len() < MAX_ARG_STRLEN {
        // Never read across a page boundary in one go: the next page may
        // not exist even though the string ends before it.
        let to_page_end = (PAGE_SIZE - at % PAGE_SIZE) as usize;
        let n = chunk.len().min(to_page_end);
        uaccess::copy_from_user(&mut chunk[..n], at)?;
        let (part, end) = match chunk[..n].iter().position(|&b| b == 0) {
            Some(z) => (&chunk[..z], true),
            None => (&chunk[..n], false),
        };
        out.try_reserve(part.len()).map_err(|_| Errno::ENOMEM)?;
        out.extend_from_slice(part);
        if end {
            return if out.len() < MAX_ARG_STRLEN { Ok(out) } else { Err(Errno::E2BIG) };
        }
        at = at.checked_add(n as u64).ok_or(Errno::EFAULT)?;
    }
    Err(Errno::E2BIG)
}

/// `copy_strings`: the `n` strings of the user array at `addr`, each
/// charged to `bprm`'s room.
fn copy_strings(bprm: &mut Binprm, addr: u64, n: usize) -> Result<Vec<Vec<u8>>, Errno> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    out.try_reserve_exact(n).map_err(|_| Errno::ENOMEM)?;
    for i in 0..n {
        let p = uaccess::read_user::<u64>(addr + 8 * i as u64)?;
        let s = copy_arg_string(p)?;
        bprm.take_room(s.len() + 1)?;
        out.push(s);
    }
    Ok(out)
}

/// `execve`/`execveat` of `filename` (already copied in, see
/// [`super::Services::open_exec`] for `dirfd`, `path` and `flags`) with the
/// user arrays `argv` and `envp`. On success the calling thread is the
/// process's only one and `frame` enters the new program; an `Err` before
/// the point of no return leaves the caller as it was, one after it has
/// the process killed by SIGSEGV.
pub fn do_execveat(
    dirfd: i32,
    path: &[u8],
    argv: u64,
    envp: u64,
    flags: u32,
    path_inaccessible: bool,
    frame: &mut UserFrame,
) -> Result<(), Errno> {
    let proc = super::current();
    // Under memory pressure the kernel heap or the new page-table root may
    // find no free frame: everything before the point of no return is
    // gathered again after a round of reclaim, as Linux's allocator
    // would reclaim inside each allocation.
    let (mut bprm, new_mm) = crate::memory::swap::retry_after_reclaim(|| {
        let bprm = prepare_binprm(&proc, dirfd, path, argv, envp, flags, path_inaccessible)?;
        Ok((bprm, Arc::new(UserMm::new()?)))
    })?;

    begin_new_exec(&proc, new_mm, &bprm.filename)?;
    *proc.exe.lock() = core::mem::take(&mut bprm.image.path);
    // The point of no return is behind: a failure kills the process.
    match load(&proc, &bprm.image, &bprm.filename, &bprm.argv, &bprm.envp) {
        Ok((entry, sp)) => {
            *frame = new_user_frame(entry, sp);
            Ok(())
        }
        Err(e) => {
            crate::kprintln!("exec {}: failed after the point of no return: {:?}", proc.name(), e);
            super::signal::send_fatal(&proc, super::signal::SIGSEGV);
            Err(e)
        }
    }
}

/// Everything exec gathers before the point of no return (Linux
/// `bprm_execve` up to `begin_new_exec`): the file opened, `#!` lines
/// followed to an ELF file whose head is valid, the argument and
/// environment strings copied in. Changes nothing in the caller.
#[allow(clippy::too_many_arguments)]
fn prepare_binprm(
    proc: &Process,
    dirfd: i32,
    path: &[u8],
    argv: u64,
    envp: u64,
    flags: u32,
    path_inaccessible: bool,
) -> Result<Binprm, Errno> {
    let image = (super::services().open_exec)(dirfd, path, flags)?;
    let filename = if dirfd == AT_FDCWD || path.first() == Some(&b'/') {
        try_copy(path)?
    } else if path.is_empty() {
        alloc::format!("/dev/fd/{dirfd}").into_bytes()
    } else {
        let mut f = alloc::format!("/dev/fd/{dirfd}/").into_bytes();
        f.try_reserve(path.len()).map_err(|_| Errno::ENOMEM)?;
        f.extend_from_slice(path);
        f
    };
    let argc = count(argv, MAX_ARG_STRINGS)?;
    let envc = count(envp, MAX_ARG_STRINGS)?;
    // bprm_stack_limits: a quarter of RLIMIT_STACK (at most 3/4 of
    // _STK_LIM, at least ARG_MAX) for the strings and their pointers.
    let stack_cur = proc.rlimits.lock()[super::RLIMIT_STACK].cur;
    let limit = (STK_LIM / 4 * 3).min(stack_cur / 4).max(ARG_MAX);
    let ptr_size = (argc.max(1) as u64).checked_add(envc as u64).and_then(|n| n.checked_mul(8)).ok_or(Errno::E2BIG)?;
    if limit <= ptr_size {
        return Err(Errno::E2BIG);
    }
    let mut bprm =
        Binprm { interp: filename.clone(), filename, image, argv: Vec::new(), envp: Vec::new(), room: limit - ptr_size, path_inaccessible };
    bprm.take_room(bprm.filename.len() + 1)?;
    bprm.envp = copy_strings(&mut bprm, envp, envc)?;
    bprm.argv = copy_strings(&mut bprm, argv, argc)?;
    if bprm.argv.is_empty() {
        // Programs that start at argv[1] must not walk into envp.
        bprm.push_front_arg(b"")?;
    }
    // exec_binprm: follow #! lines to an ELF file.
    let mut depth = 0;
    while bprm.image.head.starts_with(b"#!") {
        if depth == MAX_REWRITES {
            return Err(Errno::ELOOP);
        }
        load_script(&mut bprm)?;
        depth += 1;
    }
    super::elf::parse_head(&bprm.image.head, bprm.image.size)?;
    Ok(bprm)
}

fn spacetab(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// The interpreter and its optional argument of a `#!` line in `head`
/// (the file's first `BINPRM_BUF_SIZE` bytes, zero-padded), as Linux's
/// binfmt_script reads it: the interpreter's name ends at a space, tab
/// or NUL, everything after it up to the end of the line (trailing spaces
/// and tabs dropped) is one argument. `ENOEXEC` for a line without an
/// interpreter, or one that does not end within the first
/// `BINPRM_BUF_SIZE` bytes and whose interpreter name might be cut off.
pub fn parse_shebang(head: &[u8; BINPRM_BUF_SIZE]) -> Result<(&[u8], Option<&[u8]>), Errno> {
    let buf_end = BINPRM_BUF_SIZE - 1;
    let mut i_end = match head.iter().position(|&c| c == b'\n') {
        Some(nl) => nl,
        None => {
            let first = (2..=buf_end).find(|&i| !spacetab(head[i])).ok_or(Errno::ENOEXEC)?;
            // Without a later space, tab or NUL the name may be truncated.
            if !(first..=buf_end).any(|i| spacetab(head[i]) || head[i] == 0) {
                return Err(Errno::ENOEXEC);
            }
            buf_end
        }
    };
    while i_end > 2 && spacetab(head[i_end - 1]) {
        i_end -= 1;
    }
    let i_name = (2..i_end).find(|&i| !spacetab(head[i])).ok_or(Errno::ENOEXEC)?;
    let i_sep = (i_name..i_end).find(|&i| spacetab(head[i]) || head[i] == 0);
    let name_end = i_sep.unwrap_or(i_end);
    let arg = match i_sep {
        Some(sep) if head[sep] != 0 => (sep..i_end).find(|&i| !spacetab(head[i])).map(|a| {
            // The argument ends at the line's end or at a NUL in it.
            let end = (a..i_end).find(|&i| head[i] == 0).unwrap_or(i_end);
            &head[a..end]
        }),
        _ => None,
    };
    if name_end == i_name {
        return Err(Errno::ENOEXEC);
    }
    Ok((&head[i_name..name_end], arg))
}

/// binfmt_script's `load_script`: replace argv[0] by the interpreter's
/// name, its argument and the script's name, and make the interpreter
/// the file to run.
fn load_script(bprm: &mut Binprm) -> Result<(), Errno> {
    let mut head = [0u8; BINPRM_BUF_SIZE];
    let n = bprm.image.head.len().min(BINPRM_BUF_SIZE);
    head[..n].copy_from_slice(&bprm.image.head[..n]);
    let (name, arg) = parse_shebang(&head)?;
    if bprm.path_inaccessible {
        return Err(Errno::ENOENT);
    }
    if !bprm.argv.is_empty() {
        let zero = bprm.argv.remove(0);
        bprm.room += zero.len() as u64 + 1;
    }
    let script = core::mem::take(&mut bprm.interp);
    bprm.push_front_arg(&script)?;
    if let Some(a) = arg {
        bprm.push_front_arg(a)?;
    }
    bprm.push_front_arg(name)?;
    bprm.interp = try_copy(name)?;
    bprm.image = (super::services().open_exec)(AT_FDCWD, name, 0)?;
    Ok(())
}

/// `de_thread`: kill every other thread of the process and wait until they
/// have left it. `EINTR` if the process is being killed meanwhile (this
/// thread then exits on its way out).
fn de_thread(proc: &Arc<Process>) -> Result<(), Errno> {
    let me = sched::current();
    if proc.in_exec.swap(true, Ordering::SeqCst) {
        // Another thread is past this point and kills this one: wait for it.
        while !me.fatal_signal_pending() {
            sched::yield_now();
        }
        return Err(Errno::EINTR);
    }
    loop {
        let others: Vec<Arc<Thread>> = proc.threads.lock().iter().filter(|t| !Arc::ptr_eq(t, &me)).cloned().collect();
        if others.is_empty() {
            break;
        }
        if me.fatal_signal_pending() {
            proc.in_exec.store(false, Ordering::SeqCst);
            return Err(Errno::EINTR);
        }
        for t in &others {
            t.set_fatal_signal();
            sched::wake(t);
        }
        drop(others);
        sched::yield_now();
    }
    proc.in_exec.store(false, Ordering::SeqCst);
    Ok(())
}

/// Linux's `begin_new_exec`, the point of no return: one thread left, the
/// new address space in place of the old (whose pages and mlocks are
/// released), close-on-exec descriptors closed, handlers reset, the
/// credentials recomputed (`Creds::after_exec`), the
/// thread's TLS, FPU and clear-tid state cleared, the name set.
fn begin_new_exec(proc: &Arc<Process>, new_mm: Arc<UserMm>, filename: &[u8]) -> Result<(), Errno> {
    de_thread(proc)?;
    let me = sched::current();
    // The thread takes over the leader's id: the process keeps its pid and
    // the thread that runs the new program is its leader.
    let old_tid = me.tid();
    me.set_tid(proc.pid);
    super::signal::rename_thread(proc, old_tid, proc.pid);
    // exec_mm_release: nobody else shares the old address space to be told.
    me.clear_child_tid.store(0, Ordering::SeqCst);
    let old = proc.exec_mmap(new_mm);
    // A parent asleep in vfork for this address space goes on; the old
    // address space goes when its last user (a vfork parent may still
    // be one) lets go of it.
    super::fork::mm_release(proc);
    if old.mmput() {
        // Every other thread loaded the kernel's table before it left the
        // process, and this one now runs on the new table.
        assert!(!crate::arch::tlb::loaded_anywhere(old.root_pa()), "freeing a page table a CPU has loaded");
        old.exit_mmap();
    }
    drop(old);
    proc.stack_start.store(0, Ordering::SeqCst);
    proc.files.close_on_exec();
    super::signal::reset_handlers_for_exec(proc);
    {
        let mut creds = proc.creds.lock();
        *creds = creds.after_exec();
    }
    me.fs_base.store(0, Ordering::SeqCst);
    me.gs_base.store(0, Ordering::SeqCst);
    crate::arch::reset_user_registers();
    let base = filename.rsplit(|&b| b == b'/').next().unwrap_or(filename);
    let comm = &base[..base.len().min(TASK_COMM_LEN - 1)];
    *proc.name.lock() = String::from_utf8_lossy(comm).into_owned();
    Ok(())
}

/// Create a process running `path` from the initrd with `argv`/`envp`.
pub fn spawn_process(path: &str, argv: Vec<String>, envp: Vec<String>, is_init: bool) -> Result<Arc<Process>, Errno> {
    let image = (super::services().open_exec)(AT_FDCWD, path.as_bytes(), 0)?;
    super::elf::parse_head(&image.head, image.size)?; // fail early, in the caller
    let init_pid = if is_init { crate::sched::thread::alloc_init_pid() } else { None };
    let pid = init_pid.unwrap_or_else(crate::sched::thread::alloc_tid);
    let name = path.rsplit('/').next().unwrap_or(path);
    let proc = Process::new(pid, name, is_init)?;
    let thread = Thread::try_new(pid, String::from(name)).ok_or(Errno::ENOMEM)?;
    super::attach(&thread, &proc);
    thread.cr3.store(proc.mm().root_pa(), Ordering::SeqCst);
    let filename = String::from(path);
    let t = Arc::new(thread);
    proc.threads.lock().push(t.clone());
    *proc.exe.lock() = image.path.clone();
    sched::spawn(t, move || process_start(image, filename, argv, envp));
    Ok(proc)
}

/// The first thread of a new process: load the program, enter ring 3.
fn process_start(image: ExecImage, filename: String, argv: Vec<String>, envp: Vec<String>) -> ! {
    let proc = super::current();
    match load(&proc, &image, filename.as_bytes(), &argv, &envp) {
        Ok((entry, sp)) => {
            drop((image, filename, argv, envp));
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

/// Map the executable `image` and the stack into the current process's
/// (new) address space; returns the entry point and the stack pointer.
///
/// Linux `load_elf_binary`'s shape: each page a segment's file bytes
/// cover maps the file's page privately (so every process running the
/// program shares its text, and a write copies), the rest of a segment
/// (its bss) is anonymous; the bytes of the last file page past a
/// segment's file size are zeroed (`padzero`, which copies that page).
/// Pages are mapped read-write first, then each run gets its final
/// protection and is faulted in (writable runs copied); pages shared by
/// two segments get the union of both.
fn load<S: AsRef<[u8]>>(proc: &Arc<Process>, image: &ExecImage, filename: &[u8], argv: &[S], envp: &[S]) -> Result<(u64, u64), Errno> {
    let exe = super::elf::parse_head(&image.head, image.size)?;
    let bias = if exe.is_pie { PIE_BASE } else { 0 };
    let mm = proc.mm();
    // page -> (protection, the file page it shows, if any)
    let mut pages: BTreeMap<u64, (u64, Option<u64>)> = BTreeMap::new();
    let mut highest = 0;
    for seg in &exe.segments {
        let start = page_align_down(seg.vaddr + bias);
        let file_end = (seg.vaddr + bias + seg.filesz).next_multiple_of(PAGE_SIZE);
        let end = (seg.vaddr + bias + seg.memsz).next_multiple_of(PAGE_SIZE);
        for page in (start..end).step_by(PAGE_SIZE as usize) {
            let e = pages.entry(page).or_insert((0, None));
            e.0 |= prot_of(seg.flags);
            if page < file_end {
                e.1 = Some(seg.offset / PAGE_SIZE + (page - start) / PAGE_SIZE);
            }
        }
        highest = highest.max(end);
    }
    // Runs of pages that map consecutive file pages, or anonymous memory:
    // (start, end, the file page at start).
    let mut spans: Vec<(u64, u64, Option<u64>)> = Vec::new();
    for (&va, &(_, file)) in &pages {
        let continues = |&(start, end, first): &(u64, u64, Option<u64>)| {
            end == va
                && match (first, file) {
                    (None, None) => true,
                    (Some(first), Some(f)) => first + (va - start) / PAGE_SIZE == f,
                    _ => false,
                }
        };
        match spans.last_mut() {
            Some(span) if continues(span) => span.1 += PAGE_SIZE,
            _ => {
                spans.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                spans.push((va, va + PAGE_SIZE, file));
            }
        }
    }
    for (start, end, file) in spans {
        match file {
            Some(pgoff) => mm.mmap_fixed_file(start, end - start, PROT_READ | PROT_WRITE, image.obj.clone(), pgoff)?,
            None => mm.mmap_fixed_anon(start, end - start, PROT_READ | PROT_WRITE, false)?,
        }
    }
    let zeros = [0u8; PAGE_SIZE as usize];
    for seg in exe.segments.iter().filter(|s| s.memsz > s.filesz) {
        let from = seg.vaddr + bias + seg.filesz;
        let to = from.next_multiple_of(PAGE_SIZE).min(seg.vaddr + bias + seg.memsz);
        if to > from {
            uaccess::copy_to_user(from, &zeros[..(to - from) as usize])?;
        }
    }
    for (start, end, prot) in runs(pages.iter().map(|(&p, &(prot, _))| (p, prot))) {
        mm.do_mprotect(start, end - start, prot)?;
        // Fault the program in now (writable pages copied), so that its
        // threads never wait for `mmap_lock` to run their own code or
        // write their data: Linux needs no such thing, its faults take a
        // per-vma lock and map the page cache around them, but Holdfast's
        // take `mmap_lock` for read, which a long mlock holds for write.
        let advice = if prot & PROT_WRITE != 0 { mm::mman::MADV_POPULATE_WRITE } else { mm::mman::MADV_POPULATE_READ };
        if prot & (PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
            mm.madvise(start, end - start, advice)?;
        }
    }
    mm.set_brk_base(highest)?;

    let stack_size = proc.rlimits.lock()[super::RLIMIT_STACK].cur.clamp(128 << 10, 64 << 20);
    let stack_start = STACK_TOP - stack_size;
    mm.mmap_fixed_anon(stack_start, stack_size, PROT_READ | PROT_WRITE, true)?;
    proc.stack_start.store(stack_start, Ordering::SeqCst);
    let creds = proc.creds();
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
        (stack::AT_GID, creds.gid as u64),
        (stack::AT_EGID, creds.egid as u64),
        (stack::AT_HWCAP, 0),
        (stack::AT_CLKTCK, 100),
        (stack::AT_SECURE, 0),
    ];
    let img = stack::build(STACK_TOP, filename, argv, envp, &auxv, random_bytes())?;
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

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;

    fn head(s: &[u8]) -> [u8; BINPRM_BUF_SIZE] {
        let mut h = [0u8; BINPRM_BUF_SIZE];
        h[..s.len()].copy_from_slice(s);
        h
    }

    /// `#!` lines as binfmt_script reads them.
    #[ktest]
    pub fn shebang_lines() {
        let ok = |s: &[u8]| parse_shebang(&head(s)).map(|(n, a)| (n.to_vec(), a.map(<[u8]>::to_vec)));
        assert_eq!(ok(b"#!/bin/sh\n"), Ok((b"/bin/sh".to_vec(), None)));
        assert_eq!(ok(b"#! \t/bin/sh  -e  -x \t\nrest"), Ok((b"/bin/sh".to_vec(), Some(b"-e  -x".to_vec()))));
        assert_eq!(ok(b"#!/bin/sh"), Ok((b"/bin/sh".to_vec(), None)), "no newline, ends in the buffer");
        assert_eq!(ok(b"#!\n"), Err(Errno::ENOEXEC), "no interpreter");
        assert_eq!(ok(b"#!   \n"), Err(Errno::ENOEXEC), "only blanks");
        let mut long = [b'x'; BINPRM_BUF_SIZE];
        long[..3].copy_from_slice(b"#!/");
        assert_eq!(parse_shebang(&long).map(|_| ()), Err(Errno::ENOEXEC), "a name cut off by the buffer's end");
        long[100] = b' ';
        assert_eq!(parse_shebang(&long).map(|(n, _)| n.len()), Ok(98), "a name that ends within the buffer");
    }
}
