//! `syscall_fuzz [iterations] [seed] [trace|compare]`: the kernel survives
//! random system calls with hostile arguments, and its answers stay
//! consistent.
//!
//! Each iteration picks one of ~50 system calls and arguments shaped by
//! `holdfast_user::fuzz` (pointers into the sandbox or into the kernel,
//! wrapping and unaligned ranges, invalid flags, memory-management calls
//! confined to a 64 MiB arena, including mlock, mlockall and MAP_LOCKED).
//! The sequence is a function of the seed alone. With `trace`, every call
//! and its result is printed. `compare` prints the same kind of trace of a
//! run meant to match Linux's line by line on any machine
//! (`fuzz::Mode::Compare`: no calls whose answer depends on the machine,
//! pids and the break printed symbolically); `cargo xtask test --suite
//! linux` compares such traces from Holdfast and from the host's Linux.
//!
//! Checked during the run: every error is a Linux errno (1..=133); a
//! successful `MAP_FIXED` mmap returns its address; `brk` never fails.
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
use holdfast_user::fuzz::{Call, Mode, Sandbox, Traced, ARENA, ARENA_LEN, CALLS};
use holdfast_user::mem::{self, map};
use holdfast_user::sys::{self, Errno};
use holdfast_user::tap::Tap;
use holdfast_user::{entry, fs, println, Args};

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

fn main(args: Args) -> i32 {
    let mut t = Tap::new("syscall_fuzz");
    let iterations: u32 = match args.get(1).map(|s| s.parse()) {
        None => 3000,
        Some(Ok(n)) if n > 0 => n,
        _ => {
            t.ok(false, "usage: syscall_fuzz [iterations] [seed] [trace|compare]");
            return t.finish();
        }
    };
    let seed: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1);
    let (trace, mode) = match args.get(3) {
        None => (false, Mode::Fuzz),
        Some("trace") => (true, Mode::Fuzz),
        Some("compare") => (true, Mode::Compare),
        Some(_) => {
            t.ok(false, "usage: syscall_fuzz [iterations] [seed] [trace|compare]");
            return t.finish();
        }
    };
    t.note(format!("{iterations} calls, seed {seed}, {mode:?} mode"));

    let pid = sys::getpid();
    let mut sb = match Sandbox::new(seed, mode) {
        Ok(sb) => sb,
        Err(e) => {
            t.check(false, "map the sandbox's scratch and control pages (compare: and set RLIMIT_MEMLOCK)", e, "Ok");
            return t.finish();
        }
    };

    // The loop must not allocate: after mlockall(MCL_FUTURE) and a setuid
    // away from root, the allocator's next mmap may fail (as on Linux).
    let mut tallies: Vec<Tally> = CALLS.iter().map(|_| Tally::new()).collect();
    let mut bad_errno = Vec::with_capacity(16);
    let mut bad_mmap = Vec::with_capacity(16);
    let mut bad_brk = Vec::with_capacity(16);
    for i in 0..iterations {
        let which = sb.rng.below(CALLS.len());
        let call = CALLS[which];
        let a = sb.args(call);
        let ret = sb.call(call, a);
        if trace {
            println!("{i} {}", Traced { sb: &sb, call, args: a, ret });
        }
        tallies[which].record(ret);
        if (-4095..0).contains(&ret) && !(1..=133).contains(&-ret) {
            note(&mut bad_errno, (i, call, ret));
        }
        if call == Call::Mmap && ret >= 0 && a[3] & map::FIXED != 0 && ret as usize != a[0] {
            note(&mut bad_mmap, (i, a[0], ret));
        }
        if call == Call::Brk && ret <= 0 {
            note(&mut bad_brk, (i, a[0], ret));
        }
    }

    // First undo MCL_FUTURE, so that reporting may allocate again.
    let unlocked = sys::munlockall();
    for (c, tally) in CALLS.iter().zip(&tallies) {
        let mut errs = String::new();
        for (e, n) in &tally.errnos {
            errs.push_str(&format!(" {:?}x{}", Errno(*e), n));
        }
        t.note(format!("{:?}: {} calls, {} ok;{}", c, tally.calls, tally.ok, errs));
    }
    t.check(bad_errno.is_empty(), "every error is a Linux errno (1..=133)", &bad_errno, "none");
    t.check(bad_mmap.is_empty(), "a successful MAP_FIXED mmap returns its address", &bad_mmap, "none");
    t.check(bad_brk.is_empty(), "brk never fails (it returns the current break)", &bad_brk, "none");
    t.eq(sys::getpid(), pid, "the process survived: getpid unchanged");

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
