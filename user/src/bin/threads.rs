//! `threads`: raw `clone` threads sharing the address space.
//!
//! 8 threads each take a futex mutex 10 000 times to increment a shared
//! counter; they are joined through CLONE_CHILD_CLEARTID (the kernel zeroes
//! the tid word and futex-wakes it at thread exit). Checks: the total, that
//! every thread has its own tid (and shares the pid), that CLONE_SETTLS gave
//! each thread its own `%fs` base, and that FUTEX_WAIT with a 10 ms timeout
//! returns ETIMEDOUT after at least 10 ms.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU32, Ordering};
use holdfast_user::sync::{self, Mutex};
use holdfast_user::sys::{self, Errno};
use holdfast_user::tap::Tap;
use holdfast_user::time::Instant;
use holdfast_user::{entry, fs, thread, Args};

entry!(main);

const THREADS: usize = 8;
const ITERS: u64 = 10_000;

struct Shared {
    counter: Mutex<u64>,
    /// (tid, pid, %fs base, %fs:0) as seen by each thread.
    seen: Mutex<Vec<(i32, i32, usize, usize)>>,
}

fn main(_args: Args) -> i32 {
    let mut t = Tap::new("threads");
    let main_pid = sys::getpid();
    let main_tid = sys::gettid();
    let shared = Arc::new(Shared { counter: Mutex::new(0), seen: Mutex::new(Vec::new()) });
    let go = Arc::new(AtomicU32::new(0));

    let mut handles = Vec::new();
    for _ in 0..THREADS {
        let s = shared.clone();
        let go = go.clone();
        let h = thread::spawn(move || {
            // Wait for the start signal so all threads contend at once.
            while go.load(Ordering::Acquire) == 0 {
                let _ = sys::futex_wait(&go, 0, None, true);
            }
            s.seen.lock().push((sys::gettid(), sys::getpid(), sys::arch_get_fs().unwrap_or(0), sys::read_fs_qword0()));
            for _ in 0..ITERS {
                *s.counter.lock() += 1;
            }
        });
        match h {
            Ok(h) => handles.push(h),
            Err(e) => {
                t.check(false, "clone thread", e, "Ok");
            }
        }
    }
    t.eq(handles.len(), THREADS, "clone created 8 threads");
    let tids_from_clone: Vec<i32> = handles.iter().map(|h| h.tid()).collect();
    t.ok(
        handles.iter().all(|h| h.tid_word_value() == 0 || h.tid_word_value() == h.tid() as u32),
        "CLONE_PARENT_SETTID stored the tid (or the thread already exited)",
    );
    // Threads is 1 + however many have not yet exited; they are all parked.
    t.eq(thread_count().as_str(), "9", "/proc/self/status Threads: 9 while the threads wait");

    go.store(1, Ordering::Release);
    let _ = sys::futex_wake(&go, u32::MAX, true);
    let start = Instant::now();
    for h in handles {
        h.join();
    }
    t.note(format!("{} threads x {} locked increments took {} us", THREADS, ITERS, start.elapsed_ns() / 1000));

    let total = *shared.counter.lock();
    t.eq(total, THREADS as u64 * ITERS, "counter total after join");

    let seen = shared.seen.lock().clone();
    t.eq(seen.len(), THREADS, "every thread ran");
    let mut tids: Vec<i32> = seen.iter().map(|s| s.0).collect();
    tids.sort_unstable();
    tids.dedup();
    t.eq(tids.len(), THREADS, "gettid distinct per thread");
    t.ok(!tids.contains(&main_tid), "no thread has the main thread's tid");
    let mut from_clone = tids_from_clone.clone();
    from_clone.sort_unstable();
    t.eq(from_clone, tids, "clone's return values are the threads' gettid");
    t.ok(seen.iter().all(|s| s.1 == main_pid), "getpid is the same in every thread (CLONE_THREAD)");
    t.ok(seen.iter().all(|s| s.2 != 0 && s.2 == s.3), "CLONE_SETTLS: each thread's %fs:0 is its own TLS pointer");
    let mut bases: Vec<usize> = seen.iter().map(|s| s.2).collect();
    bases.sort_unstable();
    bases.dedup();
    t.eq(bases.len(), THREADS, "each thread has a distinct %fs base");

    // FUTEX_WAIT with a timeout on a value that nobody changes.
    let word = AtomicU32::new(7);
    let start = Instant::now();
    let r = sync::wait_timeout(&word, 7, 10_000_000);
    let waited = start.elapsed_ns();
    t.eq(r, Err(Errno::ETIMEDOUT), "futex WAIT with 10 ms timeout -> ETIMEDOUT");
    t.check(waited >= 10_000_000, "futex timeout waited >= 10 ms", waited, ">= 10000000 ns");
    t.eq(sync::wait_timeout(&word, 8, 10_000_000), Err(Errno::EAGAIN), "futex WAIT on a changed value -> EAGAIN");
    t.eq(sys::futex_wake(&word, 1, true), Ok(0), "futex WAKE with no waiters wakes 0");

    // After the joins only the main thread is left. The tid word is cleared
    // slightly before the thread leaves the thread group (Linux: exit_mm runs
    // before exit_notify), so allow the count up to a second to settle.
    let deadline = Instant::now();
    let mut n = alloc::string::String::new();
    while deadline.elapsed_ns() < 1_000_000_000 {
        n = thread_count();
        if n == "1" {
            break;
        }
        let _ = holdfast_user::time::sleep_ns(1_000_000);
    }
    t.eq(n.as_str(), "1", "/proc/self/status Threads: 1 after join");
    t.finish()
}

/// The `Threads:` value of /proc/self/status, or "?".
fn thread_count() -> alloc::string::String {
    let buf = fs::read_file(c"/proc/self/status").unwrap_or_default();
    let text = core::str::from_utf8(&buf).unwrap_or("");
    let n = text.lines().find(|l| l.starts_with("Threads:")).map(|l| l[8..].trim()).unwrap_or("?");
    alloc::string::String::from(n)
}
