//! `contend [threads] [seconds]`: the start of the mmap_lock contention
//! workload.
//!
//! Thread `i` runs kind `i % 3` for the whole duration, timing every
//! operation with CLOCK_MONOTONIC:
//!
//! - `mmap_munmap`: mmap one anonymous page, munmap it (writer side of
//!   mmap_lock twice per op);
//! - `fault`: one first-touch page fault in the thread's own fresh 1 MiB
//!   region (reader side); when the region is used up it is unmapped and a
//!   new one mapped, untimed;
//! - `maps_read`: open, read and close `/proc/self/maps` (reader side, walks
//!   every VMA).
//!
//! At the end it prints one row per kind: threads, ops, p50/p99/max in µs
//! (log-linear histogram, percentiles within 6.25%). Defaults: 3 threads,
//! 2 seconds. The structure (which thread does what) is fixed; only the op
//! counts depend on speed. Benchmarks report, they don't fail on a time: the
//! checks are only that every kind made progress and the run ended on time.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use holdfast_user::hist::{self, Histogram, Micros};
use holdfast_user::mem::{prot, Region, PAGE_SIZE};
use holdfast_user::sync::Mutex;
use holdfast_user::tap::Tap;
use holdfast_user::time::{self, Instant};
use holdfast_user::{entry, fs, println, sys, thread, Args};

entry!(main);

const KINDS: [&str; 3] = ["mmap_munmap", "fault", "maps_read"];
const FAULT_REGION: usize = 1 << 20;
const MAX_THREADS: usize = 64;
const MAX_SECONDS: u64 = 600;

struct Shared {
    go: AtomicU32,
    stop: AtomicU32,
    results: Mutex<Vec<(usize, Histogram, u32)>>,
}

fn parse_arg(args: &Args, i: usize, default: u64, max: u64) -> Option<u64> {
    match args.get(i) {
        None => Some(default),
        Some(s) => s.parse::<u64>().ok().filter(|&v| v >= 1 && v <= max),
    }
}

fn main(args: Args) -> i32 {
    let mut t = Tap::new("contend");
    let (threads, seconds) = match (parse_arg(&args, 1, 3, MAX_THREADS as u64), parse_arg(&args, 2, 2, MAX_SECONDS)) {
        (Some(th), Some(s)) => (th as usize, s),
        _ => {
            t.ok(false, format!("usage: contend [threads 1..={}] [seconds 1..={}]", MAX_THREADS, MAX_SECONDS));
            return t.finish();
        }
    };
    t.note(format!("{} threads, {} s, kinds assigned round-robin: {:?}", threads, seconds, KINDS));
    t.ok(hist::self_check(), "histogram self-check");

    let shared = Arc::new(Shared { go: AtomicU32::new(0), stop: AtomicU32::new(0), results: Mutex::new(Vec::new()) });
    let mut handles = Vec::new();
    for i in 0..threads {
        let s = shared.clone();
        match thread::spawn(move || worker(i % KINDS.len(), &s)) {
            Ok(h) => handles.push(h),
            Err(e) => {
                t.check(false, format!("clone worker {}", i), e, "Ok");
            }
        }
    }

    let start = Instant::now();
    shared.go.store(1, Ordering::Release);
    let _ = sys::futex_wake(&shared.go, u32::MAX, true);
    let _ = time::sleep_ns(seconds * 1_000_000_000);
    shared.stop.store(1, Ordering::Release);
    for h in handles {
        h.join();
    }
    let elapsed = start.elapsed_ns();

    let results = shared.results.lock();
    println!("{:<12} {:>7} {:>10} {:>10} {:>10} {:>10}", "kind", "threads", "ops", "p50_us", "p99_us", "max_us");
    let mut errors = 0;
    let mut progress = Vec::new();
    for (k, name) in KINDS.iter().enumerate() {
        let mut h = Histogram::new();
        let mut n = 0;
        for (kind, hh, errs) in results.iter() {
            if *kind == k {
                h.merge(hh);
                n += 1;
                errors += errs;
            }
        }
        println!(
            "{:<12} {:>7} {:>10} {:>10} {:>10} {:>10}",
            name,
            n,
            h.count(),
            Micros(h.p50()),
            Micros(h.p99()),
            Micros(h.max())
        );
        if n > 0 {
            progress.push((name, n, h.count()));
        }
    }
    for (name, n, count) in progress {
        t.check(count > 0, format!("{}: {} thread(s) made progress", name, n), count, "> 0 ops");
    }
    t.eq(results.len(), threads, "every worker reported");
    t.eq(errors, 0, "no operation failed");
    t.check(
        elapsed < (seconds + 5) * 1_000_000_000,
        "run ended within the duration + 5 s",
        elapsed,
        format!("< {} ns", (seconds + 5) * 1_000_000_000),
    );
    t.finish()
}

/// One worker: wait for the start signal, loop on `kind` until told to stop,
/// then hand in the histogram and the number of failed operations.
fn worker(kind: usize, s: &Shared) {
    while s.go.load(Ordering::Acquire) == 0 {
        let _ = sys::futex_wait(&s.go, 0, None, true);
    }
    let mut h = Histogram::new();
    let mut errors = 0u32;
    let mut region: Option<Region> = None;
    let mut next_page = 0;
    let mut buf = Vec::with_capacity(64 * 1024);
    while s.stop.load(Ordering::Relaxed) == 0 {
        match kind {
            0 => {
                let t0 = time::monotonic_ns();
                let ok = Region::map_anon(PAGE_SIZE, prot::RW).and_then(|r| r.unmap()).is_ok();
                h.record(time::monotonic_ns() - t0);
                errors += !ok as u32;
            }
            1 => {
                if region.is_none() || next_page == FAULT_REGION / PAGE_SIZE {
                    region = None; // unmap the used-up region first
                    match Region::map_anon(FAULT_REGION, prot::RW) {
                        Ok(r) => region = Some(r),
                        Err(_) => {
                            errors += 1;
                            continue;
                        }
                    }
                    next_page = 0;
                }
                let r = region.as_mut().expect("region mapped above");
                let t0 = time::monotonic_ns();
                r.touch(next_page * PAGE_SIZE, 1);
                h.record(time::monotonic_ns() - t0);
                next_page += 1;
            }
            _ => {
                let t0 = time::monotonic_ns();
                let ok = fs::read_file_into(c"/proc/self/maps", &mut buf).is_ok_and(|n| n > 0);
                h.record(time::monotonic_ns() - t0);
                errors += !ok as u32;
            }
        }
    }
    s.results.lock().push((kind, h, errors));
}
