//! `mlock_contend REGION_MIB [REPS] [--quick] [--threads N] [--kinds abc] [--pause-ms MS] [--lockstat]
//! [--strategy NAME] [--timeline]`: what other threads feel while one thread mlock()s a big region.
//!
//! `--strategy NAME` first switches Holdfast's population strategy by
//! writing NAME to `/proc/sys/vm/mlock_populate` (the same switch as the
//! kernel word `mlock_populate=NAME`). If that write fails (an unknown
//! name, or a kernel without the file, such as Linux) the program says so
//! and exits 2 without measuring anything: a run under another strategy
//! than the one asked for would be mislabelled.
//!
//! The main thread maps REGION_MIB MiB of private anonymous memory, untouched,
//! and does REPS (default 3; `--quick`: 1) repetitions of
//!
//! ```text
//!   pause | mlock(region) | mincore check | pause | munlock(region) |
//!   madvise(MADV_DONTNEED) + mincore check (munmap+mmap if pages stayed)
//! ```
//!
//! so every mlock has to populate the whole region again. Meanwhile the
//! measuring threads (3 by default, kinds assigned round-robin) loop on one
//! operation each, timed with CLOCK_MONOTONIC:
//!
//! - a `mmap+munmap` of one anonymous page: a writer on the mmap lock;
//! - b one first-touch page fault in the thread's own 1 MiB region (emptied
//!   with `MADV_DONTNEED`, untimed, when used up: madvise takes the mmap lock
//!   for read, so this thread never queues as a writer); a reader;
//! - c open/read/close of `/proc/self/maps`, as `ps` does: a reader.
//!
//! `--kinds bc` runs only the given kinds (e.g. readers only, to see whether
//! a strategy frees readers as long as no writer queues); the RESULT fields
//! of a kind that did not run are 0. Kind d (not in the default set, not in
//! RESULT) is a control: a few µs of pure user-space computation, no system
//! call but the clock, so it stalls only when it does not get a CPU.
//!
//! Each sample has a start and an end time. The main thread publishes the
//! intervals of its own calls (mlock, and "other": munlock, madvise, mincore,
//! remap) in a shared table, appending an entry (start unknown = 0, end
//! unknown = MAX) *before* it reads the clock and filling in the end after
//! the call returns, so a thread that classifies a sample right after taking
//! its end time errs only by nanoseconds, and only towards "overlapping". A
//! sample that overlaps an mlock call counts as "in mlock"; one that overlaps
//! none of the main thread's calls counts as "baseline"; the rest (overlapping
//! only munlock/madvise) is counted in neither. Classifying on the fly keeps
//! memory constant however many samples a run takes.
//!
//! Output: one row per repetition (mlock ms, munlock ms, pages/s, pages
//! resident after mlock), one row per operation kind (count, p50/p99/max in
//! µs of the samples in mlock, `max_at` = how far into its mlock call the
//! slowest of them began, negative if before; then count, p50/p99/max of the
//! baseline), notes on anything odd, and a last line for `cargo xtask bench`:
//!
//! ```text
//! RESULT strategy=NAME region_mib=N mlock_ms=X pages_per_s=Y a_n=.. a_p50=.. a_p99=.. a_max=.. b_n=.. ... c_max=..
//! ```
//!
//! (in-mlock statistics: `_n` the number of samples, the rest µs as
//! integers; mlock_ms is the median over the repetitions, pages_per_s
//! derived from it). The strategy is read from
//! `/proc/sys/vm/mlock_populate`; where that file does not exist (Linux) it
//! is `linux`.
//!
//! `--timeline` also keeps the individual samples of the last repetition,
//! from the pause before its mlock to the end of the pause after it, and
//! prints them before the RESULT line, each kind as
//!
//! ```text
//! TIMELINE kind=a strategy=NAME mlock_us=D seen=N kept=K shown=S slowest=W
//! TL a T:LAT T:LAT ...      (up to 16 points a line)
//! ```
//!
//! T is the sample's start in whole µs since that mlock call began
//! (negative before it), LAT its latency in µs with one decimal, points in
//! time order; `seen` counts the samples taken in the window, `kept` those
//! still held after thinning, `shown` the points printed (all TL lines of
//! the kind together), and the `slowest` slowest kept samples are always
//! among them. Memory and output are bounded: each thread holds at most
//! [`TL_CAP`] samples in a buffer touched before the run (so recording
//! takes no page fault, which would queue on the mmap lock), and when it
//! fills drops every other sample faster than [`TL_SLOW_NS`] (and records
//! only every 2nd, 4th, ... such sample from then on), never a slower one
//! (a buffer of nothing but slow samples keeps its first ones);
//! at most [`TL_POINTS`] points of a kind are printed: its [`TL_SLOWEST`]
//! slowest, and evenly spaced ones of the rest. A last line `timeline:
//! L lines, B bytes in X ms` says what printing cost.
//!
//! mlock needs CAP_IPC_LOCK or a large enough RLIMIT_MEMLOCK. If the first
//! mlock fails with ENOMEM or EPERM the program tries to raise the limit with
//! setrlimit and retries once; if that fails too it says why and exits 1.
//! Exit status 0 means everything ran: every mlock/munlock returned 0, every
//! operation kind made progress and none of its operations failed. Times are
//! reported, never judged.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering::SeqCst};
use holdfast_user::hist::Histogram;
use holdfast_user::mem::{prot, Region, PAGE_SIZE};
use holdfast_user::sync::Mutex;
use holdfast_user::sys::{self, Errno, Rlimit};
use holdfast_user::{entry, fs, println, thread, time, Args};

entry!(main);

/// Operation kinds: (letter, short name, lock side).
const KINDS: [(&str, &str, &str); 4] =
    [("a", "mmap+munmap", "write"), ("b", "page fault", "read"), ("c", "read maps", "read"), ("d", "cpu spin", "none")];
/// Kinds in the RESULT line and in the default `--kinds`.
const RESULT_KINDS: usize = 3;
/// Iterations of kind d's user-space loop (a few µs).
const SPIN_ITERS: u32 = 2000;
const FAULT_REGION: usize = 1 << 20;
const MAX_REGION_MIB: u64 = 1 << 16;
const MAX_REPS: u64 = 1000;
const MAX_THREADS: u64 = 63;
const MAX_PAUSE_MS: u64 = 60_000;

const USAGE: &str = concat!(
    "usage: mlock_contend REGION_MIB [REPS] [--quick] [--threads N] [--kinds abc] [--pause-ms MS] [--lockstat]\n",
    "  REGION_MIB 1..=65536 (64..=512 typical); REPS default 3, --quick: 1\n",
    "  --threads N: measuring threads, kinds round-robin (default: one per kind)\n",
    "  --kinds abc: which kinds run: a mmap+munmap, b fault, c read maps, d cpu spin (control)\n",
    "  --pause-ms MS: pause between phases (default 100)\n",
    "  --lockstat: print Holdfast's mmap_lock statistics (/proc/self/mmap_lock) and populate_* lines of /proc/vmstat at the end\n",
    "  --strategy NAME: first switch Holdfast's mlock population strategy (/proc/sys/vm/mlock_populate)\n",
    "  --timeline: print every kind's samples (thinned) around the last mlock as TIMELINE/TL lines"
);

/// `--timeline`: samples one thread holds at most (16 bytes each).
const TL_CAP: usize = 1 << 17;
/// `--timeline`: samples at least this slow are never thinned out.
const TL_SLOW_NS: u64 = 1_000_000;
/// `--timeline`: points printed per kind at most ...
const TL_POINTS: usize = 600;
/// ... of which the slowest this many, always.
const TL_SLOWEST: usize = 200;
/// `--timeline`: points per `TL` line.
const TL_PER_LINE: usize = 16;

// ------------------------------------------------------------ intervals --

/// What the main thread was doing during an interval.
const IV_MLOCK: u8 = 0;
const IV_OTHER: u8 = 1;

struct Interval {
    kind: AtomicU8,
    start: AtomicU64,
    end: AtomicU64,
}

/// The main thread's calls, in time order and never overlapping, so their
/// ends increase: a reader scans from the newest and stops at the first one
/// that ended before its sample began. Only the main thread appends.
struct Intervals {
    n: AtomicUsize,
    iv: Box<[Interval]>,
}

/// Where a sample falls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    InMlock = 0,
    Other = 1,
    Baseline = 2,
}

impl Intervals {
    fn new(cap: usize) -> Self {
        let iv = (0..cap)
            .map(|_| Interval { kind: AtomicU8::new(IV_OTHER), start: AtomicU64::new(0), end: AtomicU64::new(u64::MAX) })
            .collect::<Vec<_>>()
            .into_boxed_slice();
        Intervals { n: AtomicUsize::new(0), iv }
    }

    /// Publish a new interval, then read the clock: returns (index, start).
    fn begin(&self, kind: u8) -> (usize, u64) {
        let i = self.n.load(SeqCst);
        assert!(i < self.iv.len(), "interval table full");
        let e = &self.iv[i];
        e.kind.store(kind, SeqCst);
        e.start.store(0, SeqCst);
        e.end.store(u64::MAX, SeqCst);
        self.n.store(i + 1, SeqCst);
        let t0 = time::monotonic_ns();
        e.start.store(t0, SeqCst);
        (i, t0)
    }

    /// Read the clock, then close interval `i`: returns the end time.
    fn end(&self, i: usize) -> u64 {
        let t1 = time::monotonic_ns();
        self.iv[i].end.store(t1, SeqCst);
        t1
    }

    /// Relabel interval `i` (a failed mlock that was retried becomes "other").
    fn relabel(&self, i: usize, kind: u8) {
        self.iv[i].kind.store(kind, SeqCst);
    }

    /// Start of the first mlock call that overlaps `[t0, t1]`.
    fn mlock_start_overlapping(&self, t0: u64, t1: u64) -> Option<u64> {
        let n = self.n.load(SeqCst);
        self.iv[..n].iter().find_map(|e| {
            let (s, end) = (e.start.load(SeqCst), e.end.load(SeqCst));
            (e.kind.load(SeqCst) == IV_MLOCK && s <= t1 && end >= t0).then_some(s)
        })
    }

    /// Classify the sample `[t0, t1]`, called after `t1` was taken.
    fn classify(&self, t0: u64, t1: u64) -> Class {
        let n = self.n.load(SeqCst);
        let mut class = Class::Baseline;
        for e in self.iv[..n].iter().rev() {
            let end = e.end.load(SeqCst);
            if end < t0 {
                break;
            }
            if e.start.load(SeqCst) <= t1 {
                if e.kind.load(SeqCst) == IV_MLOCK {
                    return Class::InMlock;
                }
                class = Class::Other;
            }
        }
        class
    }
}

// ------------------------------------------------------------- timeline --

/// One thread's `--timeline` samples: (start ns, latency ns), in time
/// order, at most [`TL_CAP`] of them in a buffer allocated and written
/// before the run. Only the owning thread touches it until it hands it in.
struct Recorder {
    buf: Vec<(u64, u64)>,
    len: usize,
    /// Samples taken while armed.
    seen: u64,
    /// Of those, the ones faster than [`TL_SLOW_NS`].
    fast_seen: u64,
    /// Only every `stride`-th fast sample is recorded.
    stride: u64,
    /// Thinning freed nothing: the buffer holds only slow samples, and
    /// later samples are dropped.
    full: bool,
}

impl Recorder {
    /// A recorder with room for `cap` samples (0: `--timeline` is off).
    fn new(cap: usize) -> Self {
        let mut buf = Vec::new();
        // Written with a non-zero value, so every page is touched now.
        buf.resize(cap, (u64::MAX, 0));
        Recorder { buf, len: 0, seen: 0, fast_seen: 0, stride: 1, full: false }
    }

    fn record(&mut self, t0: u64, lat: u64) {
        if self.buf.is_empty() || self.full {
            return;
        }
        self.seen += 1;
        if lat < TL_SLOW_NS {
            self.fast_seen += 1;
            if !(self.fast_seen - 1).is_multiple_of(self.stride) {
                return;
            }
        }
        if self.len == self.buf.len() {
            self.thin();
            if self.len == self.buf.len() {
                self.full = true; // nothing but slow samples: keep the first ones
                return;
            }
        }
        self.buf[self.len] = (t0, lat);
        self.len += 1;
    }

    /// Drops every other fast sample held (the fast ones held are fast
    /// samples number 0, s, 2s, ...; those left are 0, 2s, 4s, ...) and
    /// doubles the stride to match.
    fn thin(&mut self) {
        let mut fast = 0u64;
        let mut kept = 0;
        for i in 0..self.len {
            let (t0, lat) = self.buf[i];
            let keep = lat >= TL_SLOW_NS || {
                fast += 1;
                fast % 2 == 1
            };
            if keep {
                self.buf[kept] = (t0, lat);
                kept += 1;
            }
        }
        self.len = kept;
        self.stride *= 2;
    }

    /// The samples held, the buffer given back.
    fn into_samples(mut self) -> Vec<(u64, u64)> {
        self.buf.truncate(self.len);
        self.buf
    }
}

/// Which of `samples` (in time order) to print: all if there are at most
/// `points`; otherwise the `slowest` slowest and, of the rest, evenly
/// spaced ones up to `points` in all. Returns indices in time order.
fn timeline_pick(samples: &[(u64, u64)], points: usize, slowest: usize) -> Vec<usize> {
    if samples.len() <= points {
        return (0..samples.len()).collect();
    }
    let mut by_lat: Vec<usize> = (0..samples.len()).collect();
    by_lat.sort_unstable_by(|&x, &y| samples[y].1.cmp(&samples[x].1));
    let mut pick = vec![false; samples.len()];
    for &i in &by_lat[..slowest] {
        pick[i] = true;
    }
    let rest: Vec<usize> = (0..samples.len()).filter(|&i| !pick[i]).collect();
    let want = points - slowest;
    for k in 0..want {
        pick[rest[k * rest.len() / want]] = true;
    }
    (0..samples.len()).filter(|&i| pick[i]).collect()
}

/// Prints the `TIMELINE`/`TL` lines of every kind that recorded samples,
/// relative to the mlock call `[m0, m0 + mlock_ns]`; returns (lines, bytes).
fn print_timeline(strat: &str, results: &[WorkerResult], m0: u64, mlock_ns: u64) -> (usize, usize) {
    let (mut lines, mut bytes) = (0, 0);
    for (k, kd) in KINDS.iter().enumerate() {
        let mine = || results.iter().filter(|r| r.kind == k);
        if mine().next().is_none() {
            continue;
        }
        let mut samples: Vec<(u64, u64)> = mine().flat_map(|r| r.timeline.iter().copied()).collect();
        samples.sort_unstable();
        let seen: u64 = mine().map(|r| r.tl_seen).sum();
        let pick = timeline_pick(&samples, TL_POINTS, TL_SLOWEST);
        let head = format!(
            "TIMELINE kind={} strategy={} mlock_us={} seen={} kept={} shown={} slowest={}",
            kd.0,
            strat,
            us_int(mlock_ns),
            seen,
            samples.len(),
            pick.len(),
            TL_SLOWEST.min(samples.len())
        );
        println!("{}", head);
        lines += 1;
        bytes += head.len() + 1;
        for chunk in pick.chunks(TL_PER_LINE) {
            let mut line = format!("TL {}", kd.0);
            for &i in chunk {
                let (t0, lat) = samples[i];
                let t = (t0 as i64 - m0 as i64).div_euclid(1000);
                line.push_str(&format!(" {}:{}.{}", t, lat / 1000, (lat % 1000) / 100));
            }
            println!("{}", line);
            lines += 1;
            bytes += line.len() + 1;
        }
    }
    (lines, bytes)
}

// -------------------------------------------------------------- workers --

struct WorkerResult {
    kind: usize,
    /// Indexed by `Class`.
    hist: [Histogram; 3],
    /// The longest sample that overlapped an mlock call: (start, end).
    worst: (u64, u64),
    errors: u32,
    first_error: Option<Errno>,
    /// `--timeline`: the samples held, and how many were taken.
    timeline: Vec<(u64, u64)>,
    tl_seen: u64,
}

fn fail(res: &mut WorkerResult, e: Errno) {
    res.errors += 1;
    res.first_error.get_or_insert(e);
}

struct Shared {
    ready: AtomicU32,
    go: AtomicU32,
    stop: AtomicU32,
    /// `--timeline`: nonzero while the samples are recorded.
    tl_armed: AtomicU32,
    /// `--timeline`: each thread's recorder capacity (0: off).
    tl_cap: usize,
    ivs: Intervals,
    results: Mutex<Vec<WorkerResult>>,
}

/// One measuring thread: allocate everything it needs, report ready, wait
/// for the start, loop on `kind` until told to stop, hand in histograms.
fn worker(kind: usize, s: &Shared) {
    let mut res = WorkerResult {
        kind,
        hist: [Histogram::new(), Histogram::new(), Histogram::new()],
        errors: 0,
        first_error: None,
        worst: (0, 0),
        timeline: Vec::new(),
        tl_seen: 0,
    };
    let mut rec = Recorder::new(s.tl_cap);
    let mut buf: Vec<u8> = vec![0; 64 * 1024]; // touched now, not during the run
                                               // Kind b: its own region, mapped (and its page tables for it built) now.
    let mut region: Option<Region> = None;
    if kind == 1 {
        match Region::map_anon(FAULT_REGION, prot::RW) {
            Ok(r) => region = Some(r),
            Err(e) => fail(&mut res, e),
        }
    }
    let mut next_page = 0;
    s.ready.fetch_add(1, SeqCst);
    let _ = sys::futex_wake(&s.ready, 1, true);
    while s.go.load(SeqCst) == 0 {
        let _ = sys::futex_wait(&s.go, 0, None, true);
    }
    while s.stop.load(SeqCst) == 0 {
        let (t0, t1) = match kind {
            0 => {
                let t0 = time::monotonic_ns();
                let r = Region::map_anon(PAGE_SIZE, prot::RW).and_then(|r| r.unmap());
                let t1 = time::monotonic_ns();
                if let Err(e) = r {
                    fail(&mut res, e);
                }
                (t0, t1)
            }
            1 => {
                let Some(r) = region.as_mut() else { break };
                if next_page == FAULT_REGION / PAGE_SIZE {
                    // Used up: drop its pages (untimed; a reader of the lock).
                    if let Err(e) = r.dontneed(0, FAULT_REGION) {
                        fail(&mut res, e);
                        break;
                    }
                    next_page = 0;
                }
                let t0 = time::monotonic_ns();
                r.touch(next_page * PAGE_SIZE, 1);
                let t1 = time::monotonic_ns();
                next_page += 1;
                (t0, t1)
            }
            3 => {
                let t0 = time::monotonic_ns();
                let mut x = 0u32;
                for i in 0..SPIN_ITERS {
                    x = core::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                }
                let t1 = time::monotonic_ns();
                core::hint::black_box(x);
                (t0, t1)
            }
            _ => {
                let t0 = time::monotonic_ns();
                let r = fs::read_file_into(c"/proc/self/maps", &mut buf);
                let t1 = time::monotonic_ns();
                match r {
                    Ok(0) => fail(&mut res, Errno::EIO),
                    Ok(_) => {}
                    Err(e) => fail(&mut res, e),
                }
                (t0, t1)
            }
        };
        let class = s.ivs.classify(t0, t1);
        res.hist[class as usize].record(t1.saturating_sub(t0));
        if class == Class::InMlock && t1.saturating_sub(t0) > res.worst.1 - res.worst.0 {
            res.worst = (t0, t1);
        }
        if s.tl_armed.load(SeqCst) != 0 {
            rec.record(t0, t1.saturating_sub(t0));
        }
    }
    res.tl_seen = rec.seen;
    res.timeline = rec.into_samples();
    s.results.lock().push(res);
}

// ------------------------------------------------------------ arguments --

struct Opts {
    region_mib: u64,
    reps: u64,
    threads: u64,
    kinds: Vec<usize>,
    pause_ms: u64,
    lockstat: bool,
    /// `--strategy NAME`: written to `/proc/sys/vm/mlock_populate` first.
    strategy: Option<String>,
    /// `--timeline`: print the last repetition's samples.
    timeline: bool,
}

fn parse_num(s: Option<&str>, lo: u64, hi: u64) -> Option<u64> {
    s?.parse::<u64>().ok().filter(|v| (lo..=hi).contains(v))
}

fn parse_args(args: &Args) -> Result<Opts, String> {
    let mut pos = Vec::new();
    let (mut quick, mut threads, mut pause_ms, mut lockstat) = (false, None, 100, false);
    let mut strategy = None;
    let mut timeline = false;
    let mut kinds: Vec<usize> = (0..RESULT_KINDS).collect();
    let mut i = 1;
    let mut only_positional = false;
    while i < args.len() {
        let a = args.get(i).unwrap_or("?");
        match a {
            _ if only_positional => pos.push(a),
            "--" => only_positional = true,
            // Holdfast gives every word after `init=` to the program, so a
            // kernel word placed there would silently not take effect.
            _ if a.contains('=') => {
                return Err(format!(
                    "{}: not an argument of this program (on Holdfast, kernel words such as \
                     mlock_populate=NAME go before init= on the command line; or use --strategy NAME)",
                    a
                ))
            }
            "--quick" => quick = true,
            "--lockstat" => lockstat = true,
            "--timeline" => timeline = true,
            "--threads" => {
                i += 1;
                threads = Some(parse_num(args.get(i), 1, MAX_THREADS).ok_or(format!("--threads wants 1..={}", MAX_THREADS))?);
            }
            "--kinds" => {
                i += 1;
                let k = args.get(i).unwrap_or("");
                kinds = KINDS.iter().enumerate().filter(|(_, kd)| k.contains(kd.0)).map(|(n, _)| n).collect();
                if kinds.is_empty() || k.chars().any(|c| !KINDS.iter().any(|kd| kd.0.starts_with(c))) {
                    return Err(String::from("--kinds wants letters from abc"));
                }
            }
            "--pause-ms" => {
                i += 1;
                pause_ms = parse_num(args.get(i), 0, MAX_PAUSE_MS).ok_or(format!("--pause-ms wants 0..={}", MAX_PAUSE_MS))?;
            }
            "--strategy" => {
                i += 1;
                let name = args.get(i).filter(|n| !n.is_empty() && !n.starts_with('-'));
                strategy = Some(String::from(name.ok_or("--strategy wants a strategy name, e.g. hold-write")?));
            }
            "-h" | "--help" => return Err(String::new()),
            _ if a.starts_with('-') => return Err(format!("unknown option {}", a)),
            _ => pos.push(a),
        }
        i += 1;
    }
    if pos.is_empty() || pos.len() > 2 {
        return Err(String::from("want REGION_MIB [REPS]"));
    }
    let region_mib = parse_num(Some(pos[0]), 1, MAX_REGION_MIB).ok_or(format!("REGION_MIB wants 1..={}", MAX_REGION_MIB))?;
    let mut reps = match pos.get(1) {
        Some(r) => parse_num(Some(r), 1, MAX_REPS).ok_or(format!("REPS wants 1..={}", MAX_REPS))?,
        None => 3,
    };
    if quick {
        reps = 1;
    }
    let threads = threads.unwrap_or(kinds.len() as u64);
    Ok(Opts { region_mib, reps, threads, kinds, pause_ms, lockstat, strategy, timeline })
}

// ------------------------------------------------------------ formatting --

/// ns as µs for the table: one decimal below 100 µs, whole µs above.
fn us(ns: u64) -> String {
    if ns < 100_000 {
        format!("{}.{}", ns / 1000, (ns % 1000) / 100)
    } else {
        format!("{}", (ns + 500) / 1000)
    }
}

/// ns as whole µs, rounded, for the RESULT line.
fn us_int(ns: u64) -> u64 {
    (ns + 500) / 1000
}

/// ns as ms with two decimals.
fn ms(ns: u64) -> String {
    let hundredths = (ns + 5_000) / 10_000;
    format!("{}.{:02}", hundredths / 100, hundredths % 100)
}

fn median(v: &mut [u64]) -> u64 {
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn pages_per_s(pages: usize, ns: u64) -> u64 {
    (pages as u128 * 1_000_000_000 / (ns.max(1) as u128)) as u64
}

/// The active population strategy: `/proc/sys/vm/mlock_populate`, or
/// `linux` where the file does not exist.
fn strategy() -> String {
    match fs::read_file(c"/proc/sys/vm/mlock_populate") {
        Ok(b) => {
            let s = core::str::from_utf8(&b).unwrap_or("?").trim();
            if s.is_empty() || s.contains(char::is_whitespace) {
                String::from("unknown")
            } else {
                String::from(s)
            }
        }
        Err(Errno::ENOENT) => String::from("linux"),
        Err(_) => String::from("unknown"),
    }
}

/// Switches the population strategy: writes `name` to
/// `/proc/sys/vm/mlock_populate`. `Err` says why it did not take.
fn set_strategy(name: &str) -> Result<(), String> {
    let path = c"/proc/sys/vm/mlock_populate";
    let fd = match sys::openat(sys::AT_FDCWD, path, sys::O_WRONLY | sys::O_CLOEXEC, 0) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => {
            return Err(String::from(
                "this kernel has no /proc/sys/vm/mlock_populate (Linux has one fixed strategy); \
                 --strategy works on Holdfast only",
            ))
        }
        Err(e) => return Err(format!("cannot open /proc/sys/vm/mlock_populate: {:?}", e)),
    };
    let res = sys::write_all(fd, name.as_bytes());
    let _ = sys::close(fd);
    match res {
        Ok(()) => Ok(()),
        Err(Errno::EINVAL) => Err(format!("the kernel knows no strategy {:?} (EINVAL from /proc/sys/vm/mlock_populate)", name)),
        Err(e) => Err(format!("writing {:?} to /proc/sys/vm/mlock_populate: {:?}", name, e)),
    }
}

fn resident(r: &Region) -> Result<usize, Errno> {
    Ok(r.mincore()?.iter().filter(|&&b| b & 1 != 0).count())
}

// ------------------------------------------------------------------ main --

struct Rep {
    mlock_ns: u64,
    munlock_ns: u64,
    populated: usize,
    dropped_by: &'static str,
}

/// mlock with the RLIMIT_MEMLOCK fallback: on the first ENOMEM/EPERM raise
/// the limit and retry once. Returns (result, start and ns of the
/// successful or last attempt), and notes what it did in `msgs`.
fn timed_mlock(ivs: &Intervals, r: &Region, may_raise: &mut bool, msgs: &mut Vec<String>) -> (Result<(), Errno>, u64, u64) {
    loop {
        let (i, t0) = ivs.begin(IV_MLOCK);
        let res = sys::mlock(r.addr(), r.len());
        let t1 = ivs.end(i);
        match res {
            Err(e @ (Errno::ENOMEM | Errno::EPERM)) if *may_raise => {
                *may_raise = false;
                ivs.relabel(i, IV_OTHER);
                let old = sys::getrlimit(sys::RLIMIT_MEMLOCK).unwrap_or_default();
                let inf = Rlimit { cur: sys::RLIM_INFINITY, max: sys::RLIM_INFINITY };
                let raised = sys::setrlimit(sys::RLIMIT_MEMLOCK, &inf)
                    .or_else(|_| sys::setrlimit(sys::RLIMIT_MEMLOCK, &Rlimit { cur: old.max, max: old.max }));
                let now = sys::getrlimit(sys::RLIMIT_MEMLOCK).unwrap_or_default();
                let what = match raised {
                    Ok(()) if now.cur > old.cur => format!("raised it to {}", rlim(now.cur)),
                    Ok(()) => String::from("could not raise it (hard limit, no CAP_SYS_RESOURCE)"),
                    Err(e) => format!("setrlimit failed: {}", e),
                };
                msgs.push(format!(
                    "mlock: {} with RLIMIT_MEMLOCK cur={} max={}; {}; retried once",
                    e,
                    rlim(old.cur),
                    rlim(old.max),
                    what
                ));
                continue;
            }
            _ => return (res, t0, t1.saturating_sub(t0)),
        }
    }
}

fn rlim(v: u64) -> String {
    if v == sys::RLIM_INFINITY {
        String::from("unlimited")
    } else {
        format!("{}KiB", v / 1024)
    }
}

fn main(args: Args) -> i32 {
    let o = match parse_args(&args) {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                println!("mlock_contend: {}", e);
            }
            println!("{}", USAGE);
            return 2;
        }
    };
    if let Some(name) = &o.strategy {
        if let Err(why) = set_strategy(name) {
            println!("mlock_contend: --strategy {}: {}", name, why);
            return 2;
        }
    }
    let strat = strategy();
    let len = (o.region_mib as usize) << 20;
    let pause = o.pause_ms * 1_000_000;
    println!(
        "mlock_contend: strategy={} region={} MiB ({} pages) reps={} threads={} kinds={} pause={} ms",
        strat,
        o.region_mib,
        len / PAGE_SIZE,
        o.reps,
        o.threads,
        o.kinds.iter().map(|&k| KINDS[k].0).collect::<String>(),
        o.pause_ms
    );

    let mut region = match Region::map_anon(len, prot::RW) {
        Ok(r) => r,
        Err(e) => {
            println!("error: mmap of {} MiB failed: {}", o.region_mib, e);
            return 1;
        }
    };
    let pages = region.pages();

    // Each rep appends at most: (failed mlock) + mlock + check + munlock +
    // drop (+ remap fallback) = 6 intervals.
    let shared = Arc::new(Shared {
        ready: AtomicU32::new(0),
        go: AtomicU32::new(0),
        stop: AtomicU32::new(0),
        tl_armed: AtomicU32::new(0),
        tl_cap: if o.timeline { TL_CAP } else { 0 },
        ivs: Intervals::new(o.reps as usize * 6 + 8),
        results: Mutex::new(Vec::new()),
    });
    let mut handles = Vec::new();
    for i in 0..o.threads as usize {
        let s = shared.clone();
        let kind = o.kinds[i % o.kinds.len()];
        match thread::spawn(move || worker(kind, &s)) {
            Ok(h) => handles.push(h),
            Err(e) => {
                println!("error: clone of measuring thread {} failed: {}", i, e);
                shared.go.store(1, SeqCst);
                shared.stop.store(1, SeqCst);
                let _ = sys::futex_wake(&shared.go, u32::MAX, true);
                handles.into_iter().for_each(|h| h.join());
                return 1;
            }
        }
    }
    // Wait until every thread has allocated and touched what it needs.
    loop {
        let r = shared.ready.load(SeqCst);
        if r == o.threads as u32 {
            break;
        }
        let _ = sys::futex_wait(&shared.ready, r, None, true);
    }
    let ivs = &shared.ivs;
    let mut reps: Vec<Rep> = Vec::with_capacity(o.reps as usize);
    let mut msgs: Vec<String> = Vec::new();
    let mut fatal: Option<String> = None;
    let mut may_raise = true;
    // `--timeline`: the last repetition's mlock call (start, ns).
    let mut tl_mlock: Option<(u64, u64)> = None;

    shared.go.store(1, SeqCst);
    let _ = sys::futex_wake(&shared.go, u32::MAX, true);
    for rep in 1..=o.reps {
        let last = rep == o.reps && o.timeline;
        if last {
            shared.tl_armed.store(1, SeqCst);
        }
        let _ = time::sleep_ns(pause);
        let (res, mlock_t0, mlock_ns) = timed_mlock(ivs, &region, &mut may_raise, &mut msgs);
        if last {
            tl_mlock = Some((mlock_t0, mlock_ns));
        }
        if let Err(e) = res {
            let rl = sys::getrlimit(sys::RLIMIT_MEMLOCK).unwrap_or_default();
            fatal = Some(format!(
                "mlock({} MiB) failed in rep {}: {} (RLIMIT_MEMLOCK cur={} max={}); mlock of this size needs \
                 CAP_IPC_LOCK or `ulimit -l` >= {} (KiB); try a smaller REGION_MIB",
                o.region_mib,
                rep,
                e,
                rlim(rl.cur),
                rlim(rl.max),
                len / 1024
            ));
            break;
        }
        let (i, _) = ivs.begin(IV_OTHER);
        let populated = resident(&region);
        ivs.end(i);
        let populated = match populated {
            Ok(n) => n,
            Err(e) => {
                fatal = Some(format!("mincore after mlock failed: {}", e));
                break;
            }
        };
        if populated != pages {
            msgs.push(format!("rep {}: after mlock returned 0 only {}/{} pages are resident", rep, populated, pages));
        }
        let _ = time::sleep_ns(pause);
        shared.tl_armed.store(0, SeqCst);

        let (i, t0) = ivs.begin(IV_OTHER);
        let res = sys::munlock(region.addr(), region.len());
        let munlock_ns = ivs.end(i).saturating_sub(t0);
        if let Err(e) = res {
            fatal = Some(format!("munlock({} MiB) failed in rep {}: {}", o.region_mib, rep, e));
            break;
        }

        // Drop the pages so the next mlock must populate again.
        let (i, _) = ivs.begin(IV_OTHER);
        let mut dropped_by = "MADV_DONTNEED";
        let mut left = region.dontneed(0, len).and_then(|_| resident(&region));
        if !matches!(left, Ok(0)) {
            msgs.push(format!("rep {}: MADV_DONTNEED left {:?} pages resident; remapping instead", rep, left));
            dropped_by = "munmap+mmap";
            left = region.remap_fixed(0, len, prot::RW).and_then(|_| resident(&region));
        }
        ivs.end(i);
        if !matches!(left, Ok(0)) {
            msgs.push(format!("rep {}: pages still resident after remapping: {:?}", rep, left));
            dropped_by = "NOT dropped";
        }
        reps.push(Rep { mlock_ns, munlock_ns, populated, dropped_by });
    }
    let _ = time::sleep_ns(pause);
    shared.stop.store(1, SeqCst);
    for h in handles {
        h.join();
    }
    drop(region);

    // ---------------------------------------------------------- report --
    println!("rep   mlock_ms  munlock_ms    pages/s  resident after mlock, dropped by");
    for (n, r) in reps.iter().enumerate() {
        println!(
            "{:>3} {:>10} {:>11} {:>10}  {}/{}, {}",
            n + 1,
            ms(r.mlock_ns),
            ms(r.munlock_ns),
            pages_per_s(pages, r.mlock_ns),
            r.populated,
            pages,
            r.dropped_by
        );
    }
    let results = shared.results.lock();
    let mut per_kind: Vec<([Histogram; 3], u32, u32, Option<Errno>)> = Vec::new();
    let mut worst_at: Vec<String> = Vec::new();
    for k in 0..KINDS.len() {
        let mut h = [Histogram::new(), Histogram::new(), Histogram::new()];
        let (mut nthreads, mut errors, mut first) = (0, 0, None);
        let mut worst = (0u64, 0u64);
        for r in results.iter().filter(|r| r.kind == k) {
            if r.worst.1 - r.worst.0 > worst.1 - worst.0 {
                worst = r.worst;
            }
            for c in 0..3 {
                h[c].merge(&r.hist[c]);
            }
            nthreads += 1;
            errors += r.errors;
            first = first.or(r.first_error);
        }
        // Where the worst in-mlock sample began, relative to its mlock call.
        worst_at.push(match shared.ivs.mlock_start_overlapping(worst.0, worst.1) {
            Some(m) if worst.1 > worst.0 && worst.0 >= m => format!("+{}", ms(worst.0 - m)),
            Some(m) if worst.1 > worst.0 => format!("-{}", ms(m - worst.0)),
            _ => String::from("-"),
        });
        per_kind.push((h, nthreads, errors, first));
    }
    println!("latency in us per op. Left: samples overlapping an mlock() call (max_at: ms into that mlock when the");
    println!("slowest one began); right: baseline, samples overlapping none of the mlock thread's calls.");
    println!(
        "{:<20} {:>7} {:>8} {:>8} {:>8} {:>8} | {:>6} {:>6} {:>6} {:>6}",
        "op (lock side)", "n", "p50", "p99", "max", "max_at", "n", "p50", "p99", "max"
    );
    for (k, (h, nthreads, _, _)) in per_kind.iter().enumerate() {
        if *nthreads == 0 {
            continue;
        }
        let (m, b) = (&h[Class::InMlock as usize], &h[Class::Baseline as usize]);
        println!(
            "{:<20} {:>7} {:>8} {:>8} {:>8} {:>8} | {:>6} {:>6} {:>6} {:>6}",
            format!("{} {} ({})", KINDS[k].0, KINDS[k].1, KINDS[k].2),
            m.count(),
            us(m.p50()),
            us(m.p99()),
            us(m.max()),
            worst_at[k],
            b.count(),
            us(b.p50()),
            us(b.p99()),
            us(b.max())
        );
    }
    for m in &msgs {
        println!("note: {}", m);
    }
    if let Some((m0, mlock_ns)) = tl_mlock {
        let t = time::monotonic_ns();
        let (lines, bytes) = print_timeline(&strat, &results, m0, mlock_ns);
        println!("timeline: {} lines, {} bytes in {} ms", lines, bytes, ms(time::monotonic_ns() - t));
    }
    if o.lockstat {
        // Holdfast only: Linux has no such file.
        match fs::read_file(c"/proc/self/mmap_lock") {
            Ok(b) => println!("mmap_lock statistics:\n{}", core::str::from_utf8(&b).unwrap_or("?").trim_end()),
            Err(e) => println!("note: no mmap_lock statistics (/proc/self/mmap_lock: {})", e),
        }
        // With the kernel word mm.populate_profile: where population's time went.
        if let Ok(b) = fs::read_file(c"/proc/vmstat") {
            for line in core::str::from_utf8(&b).unwrap_or("").lines().filter(|l| l.starts_with("populate_")) {
                println!("{}", line);
            }
        }
    }

    // -------------------------------------------------------- verdict --
    let mut errors: Vec<String> = Vec::new();
    if let Some(f) = fatal {
        errors.push(f);
    }
    if results.len() != o.threads as usize {
        errors.push(format!("{} of {} measuring threads reported", results.len(), o.threads));
    }
    for (k, (h, nthreads, errs, first)) in per_kind.iter().enumerate() {
        let total: u64 = h.iter().map(|h| h.count()).sum();
        if *nthreads > 0 && total == 0 {
            errors.push(format!("{} {}: no operation completed", KINDS[k].0, KINDS[k].1));
        }
        if *errs > 0 {
            errors.push(format!("{} {}: {} operations failed, first with {:?}", KINDS[k].0, KINDS[k].1, errs, first));
        }
    }
    if !errors.is_empty() || reps.len() != o.reps as usize {
        for e in &errors {
            println!("error: {}", e);
        }
        println!("mlock_contend: FAILED");
        return 1;
    }

    let mut mlocks: Vec<u64> = reps.iter().map(|r| r.mlock_ns).collect();
    let med = median(&mut mlocks);
    let mut line = format!(
        "RESULT strategy={} region_mib={} mlock_ms={} pages_per_s={}",
        strat,
        o.region_mib,
        ms(med),
        pages_per_s(pages, med)
    );
    for (k, (h, _, _, _)) in per_kind.iter().enumerate().take(RESULT_KINDS) {
        let m = &h[Class::InMlock as usize];
        let l = KINDS[k].0;
        line.push_str(&format!(
            " {l}_n={} {l}_p50={} {l}_p99={} {l}_max={}",
            m.count(),
            us_int(m.p50()),
            us_int(m.p99()),
            us_int(m.max())
        ));
    }
    println!("{}", line);
    0
}
