//! Paths a user program can drive while the kernel heap is exhausted must
//! not allocate infallibly: here every allocation made by the thread under
//! test fails (a global allocator that refuses on request), so an
//! infallible one aborts the test binary instead of passing.
//!
//! - an rwsem waiter that cannot queue polls instead, and still gets in;
//! - exit of an address space with many vmas and pages, and madvise over
//!   them, succeed; munmap succeeds or is refused with ENOMEM, changing
//!   nothing.
#![cfg(not(loom))]

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

struct Refusing;

thread_local! {
    static REFUSE: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator, or returns null (allowed by
// the GlobalAlloc contract) while this thread refuses.
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if REFUSE.try_with(|r| r.get()).unwrap_or(false) {
            return std::ptr::null_mut();
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Refusing = Refusing;

/// Run `f` with every allocation of this thread refused.
fn refusing<R>(f: impl FnOnce() -> R) -> R {
    REFUSE.with(|r| r.set(true));
    let out = f();
    REFUSE.with(|r| r.set(false));
    out
}

#[test]
fn rwsem_waiter_without_memory_polls_and_gets_in() {
    let sem = Arc::new(mm::rwsem::RwSem::new(mm::rwsem::StdBackend::new()));
    sem.down_write();
    let got = Arc::new(AtomicBool::new(false));
    let t = {
        let (sem, got) = (sem.clone(), got.clone());
        std::thread::spawn(move || {
            refusing(|| {
                sem.down_read();
                got.store(true, Ordering::SeqCst);
                sem.up_read();
            })
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(!got.load(Ordering::SeqCst), "reader got in while the writer held the lock");
    assert_eq!(sem.nr_waiters(), 0, "the reader could not have queued without memory");
    sem.up_write();
    t.join().expect("the reader did not panic");
    assert!(got.load(Ordering::SeqCst));
    assert!(!sem.is_locked());
}

#[test]
fn munmap_madvise_and_exit_need_no_memory() {
    let w = world();
    let (prot, flags) = anon_rw();
    let pages = 600u64;
    let a = w.mm.do_mmap(0, pages * P, prot, flags, &root()).unwrap();
    for i in 0..pages {
        w.mm.handle_mm_fault(a + i * P, mm::fault::FaultAccess::Write, mm::fault::FaultOrigin::User).unwrap();
    }
    // Many vmas: every other page read-only.
    for i in (1..pages).step_by(2) {
        w.mm.do_mprotect(a + i * P, P, mm::mmap::PROT_READ).unwrap();
    }
    let vmas = w.mm.map_count();
    // (Results are checked outside `refusing`: a failed assertion needs
    // memory to print.)
    let r = refusing(|| w.mm.madvise(a, pages * P, mm::mmap::MADV_DONTNEED));
    assert_eq!(r, Ok(()));
    assert_eq!(present(&w.mm, a, pages * P), 0, "MADV_DONTNEED left pages");
    for i in 0..pages {
        w.mm.handle_mm_fault(a + i * P, mm::fault::FaultAccess::Read, mm::fault::FaultOrigin::User).unwrap();
    }
    // munmap over hundreds of vmas may be refused for want of memory (as
    // Linux's may: its maple tree preallocates), but then changes nothing.
    let r = refusing(|| w.mm.do_munmap(a + P, (pages / 2) * P));
    assert!(matches!(r, Ok(()) | Err(mm::Errno::ENOMEM)), "{r:?}");
    if r.is_err() {
        assert_eq!(w.mm.map_count(), vmas);
        assert_eq!(present(&w.mm, a, pages * P), pages as usize);
    }
    check(&w.mm);
    let in_use = w.arena.in_use();
    refusing(|| w.mm.exit_mmap());
    assert_eq!(w.mm.map_count(), 0);
    assert!(w.arena.in_use() < in_use);
    assert_eq!(w.meta.nr_mlock(), 0);
}
