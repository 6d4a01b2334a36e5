//! `syscall_fuzz [iterations] [seed] [trace|compare|child]`: the kernel
//! survives random system calls with hostile arguments, and its answers
//! stay consistent.
//!
//! Each iteration picks one of ~80 system calls and arguments shaped by
//! `holdfast_user::fuzz` (pointers into the sandbox or into the kernel,
//! wrapping and unaligned ranges, invalid flags, memory-management calls
//! confined to a 64 MiB arena, including mlock, mlockall and MAP_LOCKED;
//! files in a directory of its own, pipes, signals with handlers and an
//! interval timer interrupting blocked calls, fork with children that make
//! random calls of their own or exec this program, wait4 and waitid,
//! execve of files that cannot run). The sequence is a function of the
//! seed alone. With `trace`, every call and its result is printed. `compare` prints the same kind of trace of a
//! run meant to match Linux's line by line on any machine
//! (`fuzz::Mode::Compare`: no calls whose answer depends on the machine,
//! pids and the break printed symbolically); `cargo xtask test --suite
//! linux` compares such traces from Holdfast and from the host's Linux.
//!
//! `child` is how a forked child that execs this program runs: no output,
//! no fork, exit status 0 when its own checks pass.
//!
//! Checked during the run: every error is a Linux errno (1..=133); a
//! successful `MAP_FIXED` mmap returns its address; `brk` never fails;
//! every child reaped exited 0 (or died of a signal the sandbox sent
//! before an exec'd child handled it).
//! Checked after it: the process is intact, `/proc/self/maps` is sorted and
//! without overlaps, and after `munlockall` and unmapping the arena
//! `VmLck` is 0 kB and nothing is left in the arena. Holdfast's tests boot
//! it with `mm.check_invariants`, so the kernel also checks its own
//! address-space invariants after every memory-management call.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use holdfast_user::fuzz::{self, call_at, Call, Mode, Problem, Sandbox, Traced, ARENA, ARENA_LEN};
use holdfast_user::mem;
use holdfast_user::sys::{self, Errno};
use holdfast_user::tap::Tap;
use holdfast_user::{entry, eprintln, fs, println, Args};

entry!(main);

/// Per-call tally: calls, successes, and how often each errno came back.
struct Tally {
    calls: u32,
    ok: u32,
    errnos: Vec<(u16, u32)>,
}

impl Tally {
    fn new() -> Tally {
        Tally { calls: 0, ok: 0, errnos: Vec::with_capacity(40) }
    }

    fn record(&mut self, ret: isize) {
        self.calls += 1;
        if (-4095..0).contains(&ret) {
            let e = (-ret) as u16;
            match self.errnos.iter_mut().find(|(x, _)| *x == e) {
                Some((_, n)) => *n += 1,
                None => note(&mut self.errnos, (e, 1)),
            }
        } else {
            self.ok += 1;
        }
    }
}

/// Push unless full: the loop must not allocate (see `Sandbox::new`).
fn note<T>(v: &mut Vec<T>, x: T) {
    if v.len() < v.capacity() {
        v.push(x);
    }
}

/// `(start, end)` of every line of /proc/self/maps.
fn maps_ranges(text: &str) -> Option<Vec<(u64, u64)>> {
    text.lines()
        .map(|l| {
            let range = l.split(' ').next()?;
            let (a, b) = range.split_once('-')?;
            Some((u64::from_str_radix(a, 16).ok()?, u64::from_str_radix(b, 16).ok()?))
        })
        .collect()
}

fn vmlck_kb(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmLck:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// A child's run (see the module comment): the exit status says whether
/// its checks passed.
fn child(iterations: u32, seed: u64) -> i32 {
    let mut sb = match Sandbox::new(seed, Mode::Fuzz, true) {
        Ok(sb) => sb,
        Err(e) => {
            eprintln!("syscall_fuzz child {}: setting up the sandbox: {e:?}", sys::getpid());
            return fuzz::CHILD_FAILED;
        }
    };
    let mut failed = false;
    for _ in 0..iterations {
        let (_, call, a, ret) = sb.step();
        if let Some(p) = fuzz::problem(call, a, ret) {
            eprintln!("syscall_fuzz child {}: {p:?}: {}", sys::getpid(), Traced { sb: &sb, call, args: a, ret });
            failed = true;
        }
    }
    let _ = fuzz::stop_guard();
    let _ = sys::munlockall();
    let _ = sb.remove_files();
    if failed {
        fuzz::CHILD_FAILED
    } else {
        0
    }
}

fn main(args: Args) -> i32 {
    let mut t = Tap::new("syscall_fuzz");
    let iterations: u32 = match args.get(1).map(|s| s.parse()) {
        None => 3000,
        Some(Ok(n)) if n > 0 => n,
        _ => {
            t.ok(false, "usage: syscall_fuzz [iterations] [seed] [trace|compare|child]");
            return t.finish();
        }
    };
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let (trace, mode) = match args.get(3) {
        None => (false, Mode::Fuzz),
        Some("trace") => (true, Mode::Fuzz),
        Some("compare") => (true, Mode::Compare),
        Some("child") => return child(iterations, seed),
        Some(_) => {
            t.ok(false, "usage: syscall_fuzz [iterations] [seed] [trace|compare|child]");
            return t.finish();
        }
    };
    t.note(format!("{iterations} calls, seed {seed}, {mode:?} mode"));

    let pid = sys::getpid();
    let mut sb = match Sandbox::new(seed, mode, false) {
        Ok(sb) => sb,
        Err(e) => {
            t.check(false, "map the sandbox's scratch and control pages (compare: and set RLIMIT_MEMLOCK)", e, "Ok");
            return t.finish();
        }
    };

    // The loop must not allocate: after mlockall(MCL_FUTURE) and a setuid
    // away from root, the allocator's next mmap may fail (as on Linux).
    let mut tallies: Vec<Tally> = (0..sb.call_count()).map(|_| Tally::new()).collect();
    let mut problems: Vec<(u32, Call, isize, Problem)> = Vec::with_capacity(48);
    for i in 0..iterations {
        let (which, call, a, ret) = sb.step();
        if trace {
            println!("{i} {}", Traced { sb: &sb, call, args: a, ret });
        }
        tallies[which].record(ret);
        if let Some(p) = fuzz::problem(call, a, ret) {
            note(&mut problems, (i, call, ret, p));
        }
    }
    let bad_children = sb.reap_all().len();
    let stopped = if mode == Mode::Fuzz { fuzz::stop_guard() } else { Ok(()) };

    // First undo MCL_FUTURE, so that reporting may allocate again.
    let unlocked = sys::munlockall();
    for (i, tally) in tallies.iter().enumerate() {
        let mut errs = String::new();
        for (e, n) in &tally.errnos {
            errs.push_str(&format!(" {:?}x{}", Errno(*e), n));
        }
        t.note(format!("{:?}: {} calls, {} ok;{}", call_at(i), tally.calls, tally.ok, errs));
    }
    let of = |kind: Problem| -> Vec<(u32, Call, isize)> { problems.iter().filter(|p| p.3 == kind).map(|p| (p.0, p.1, p.2)).collect() };
    t.check(of(Problem::NotAnErrno).is_empty(), "every error is a Linux errno (1..=133)", of(Problem::NotAnErrno), "none");
    t.check(
        of(Problem::MapFixedMoved).is_empty(),
        "a successful MAP_FIXED mmap returns its address",
        of(Problem::MapFixedMoved),
        "none",
    );
    t.check(
        of(Problem::BrkFailed).is_empty(),
        "brk never fails (it returns the current break)",
        of(Problem::BrkFailed),
        "none",
    );
    t.eq(sys::getpid(), pid, "the process survived: getpid unchanged");
    if mode == Mode::Fuzz {
        let bad: Vec<String> = sb.reap_all().iter().map(|(p, st)| format!("pid {p} status {st:#x}")).collect();
        t.check(bad_children == 0, "every child exited 0 (or died of a signal sent before it handled it)", bad, "none");
        t.note(format!("signal handlers ran {} times", fuzz::delivered()));
        t.ok(fuzz::delivered() > 0 && stopped.is_ok(), "signals reached their handlers; the guard timer stops");
        if let Err(e) = sb.remove_files() {
            t.note(format!("the sandbox's directory stays: {e:?} (a setuid away from root)"));
        }
    }

    match fs::read_file(c"/proc/self/maps").ok().and_then(|b| String::from_utf8(b).ok()) {
        Some(text) => {
            let ranges = maps_ranges(&text);
            let sorted = ranges.as_ref().is_some_and(|r| r.iter().all(|(a, b)| a < b) && r.windows(2).all(|w| w[0].1 <= w[1].0));
            t.ok(sorted, "/proc/self/maps parses, sorted and without overlaps");
        }
        None => {
            t.ok(false, "read /proc/self/maps");
        }
    }

    t.eq(unlocked, Ok(()), "munlockall");
    t.eq(sb.unmap_arena(), Ok(()), "munmap the whole arena");
    t.eq(
        mem::mincore_probe(ARENA, ARENA_LEN).map(|_| ()),
        Err(Errno::ENOMEM),
        "nothing left in the arena (mincore: ENOMEM)",
    );
    let status = fs::read_file(c"/proc/self/status").ok().and_then(|b| String::from_utf8(b).ok()).unwrap_or_default();
    t.eq(vmlck_kb(&status), Some(0), "VmLck is 0 kB after munlockall");
    t.finish()
}
