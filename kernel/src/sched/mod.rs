//! The scheduler: preemptive round-robin over kernel and user threads on
//! one CPU, driven by the local APIC timer.
//!
//! Every timer tick wakes expired sleepers and rotates the run queue. A
//! thread sleeps with [`block_current`], which checks for a pending
//! wake-up and marks the thread [`ThreadState::Blocked`] in one step under
//! the scheduler lock; [`wake`] takes the same lock, and either finds the
//! thread Blocked and queues it or leaves the wake-up pending
//! (`wake_pending`) for its next block, so a wake-up is never lost. When
//! nothing is runnable the idle thread halts.
//!
//! Threads start with [`spawn`], which runs a closure on the new thread
//! once the switch to it is finished; a user thread then enters ring 3
//! with [`start_user`]. The unsafe parts (the hand-over of the closure
//! through the new stack, the user frame at the top of the kernel stack)
//! live here and in `switch`, not in the callers.
//!
//! Locking: the scheduler state is a spin mutex taken only with interrupts
//! disabled. Every other spin lock in the kernel is also taken with
//! interrupts disabled, so preemption (a switch from the timer interrupt)
//! never happens while one is held. A dead thread's stack is freed by the
//! next thread to run, never by itself.
//!
//! Holdfast schedules on the boot CPU only; `--smp` adds CPUs that stay idle.

pub mod rwsem_backend;
pub mod switch;
pub mod thread;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;
use spin::Mutex;
use x86_64::instructions::interrupts;

pub use thread::{Thread, ThreadState};

use crate::arch::syscall::UserFrame;

struct Sched {
    run_queue: VecDeque<Arc<Thread>>,
    current: Option<Arc<Thread>>,
    idle: Option<Arc<Thread>>,
    sleepers: Vec<Arc<Thread>>,
    /// The dead thread just switched away from, freed by the next thread.
    reap: Option<Arc<Thread>>,
    /// Context switches so far (read by the tests).
    #[cfg_attr(not(feature = "ktest"), allow(dead_code))]
    switches: u64,
}

static SCHED: Mutex<Sched> =
    Mutex::new(Sched { run_queue: VecDeque::new(), current: None, idle: None, sleepers: Vec::new(), reap: None, switches: 0 });

fn with<R>(f: impl FnOnce(&mut Sched) -> R) -> R {
    interrupts::without_interrupts(|| f(&mut SCHED.lock()))
}

extern "C" fn idle_loop(_: u64) -> ! {
    finish_switch();
    loop {
        interrupts::enable_and_hlt();
    }
}

/// Adopt the boot context as the first thread and create the idle thread.
pub fn init() {
    let boot = Arc::new(Thread::boot());
    let idle = Arc::new(Thread::new(0, String::from("idle")));
    let rsp = switch::initial_stack(idle.kstack_top(), idle_loop, 0);
    // SAFETY: the idle thread has never run; nothing else reads its slot.
    unsafe { *idle.saved_rsp_ptr() = rsp };
    with(|s| {
        s.current = Some(boot);
        s.idle = Some(idle);
    });
}

/// The running thread.
pub fn current() -> Arc<Thread> {
    with(|s| s.current.clone().expect("sched::init not called"))
}

/// Make `thread` runnable, running `body` on its own kernel stack: the
/// one way to start a thread. The body runs after the switch to the new
/// thread has been finished (the dead thread switched away from freed,
/// interrupts enabled); it ends with [`exit_current`] or by entering ring
/// 3 ([`start_user`]).
pub fn spawn<F>(thread: impl Into<Arc<Thread>>, body: F) -> Arc<Thread>
where
    F: FnOnce() -> ! + Send + 'static,
{
    let t: Arc<Thread> = thread.into();
    let body = Box::into_raw(Box::new(body)) as u64;
    // The top of every kernel stack is reserved for the thread's user
    // frame (see `start_user`); kernel code runs below it.
    let rsp = switch::initial_stack(t.kstack_top() - thread::USER_FRAME_RESERVE, thread_start::<F>, body);
    // SAFETY: the thread has never run; nothing else reads its slot.
    unsafe { *t.saved_rsp_ptr() = rsp };
    t.set_state(ThreadState::Runnable);
    with(|s| s.run_queue.push_back(t.clone()));
    t
}

/// First code of every thread started by [`spawn`]: finish the switch,
/// then run the body, moved out of its box (which is freed before the
/// body, which never returns, runs).
extern "C" fn thread_start<F: FnOnce() -> ! + Send + 'static>(body: u64) -> ! {
    finish_switch();
    // SAFETY: `body` is the `Box<F>` that `spawn::<F>` leaked for this
    // thread, which starts exactly once.
    let body: F = *unsafe { Box::from_raw(body as *mut F) };
    body()
}

/// Enter ring 3 with `frame`, for good: the frame goes at the top of the
/// current thread's kernel stack (the area reserved for it, which the code
/// running below never uses), where later entries from ring 3 push theirs.
pub fn start_user(frame: UserFrame) -> ! {
    let top = current().kstack_top();
    const _: () = assert!(core::mem::size_of::<UserFrame>() as u64 <= thread::USER_FRAME_RESERVE);
    assert!(top != 0, "the boot thread cannot enter user mode");
    let slot = (top - core::mem::size_of::<UserFrame>() as u64) as *mut UserFrame;
    // SAFETY: the slot is the top of this thread's own kernel stack, which
    // holds nothing else that is still needed (this never returns), and
    // the frame written there is a complete user frame.
    unsafe {
        slot.write(frame);
        crate::arch::syscall::enter_user(slot)
    }
}

/// The second half of every context switch, run by the thread switched
/// to: frees the dead thread switched away from and enables interrupts.
fn finish_switch() {
    let dead = with(|s| s.reap.take());
    drop(dead);
    interrupts::enable();
}

/// Pick the next thread and switch to it. The current thread goes back on
/// the run queue if it is still runnable. Call with interrupts disabled.
pub fn schedule() {
    __schedule(SwitchReason::Preempt);
}

/// Why the current thread enters the scheduler.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SwitchReason {
    /// It stays runnable (timer tick, yield) or is already dead.
    Preempt,
    /// It goes to sleep unless a wake-up is already pending.
    Block,
}

fn __schedule(reason: SwitchReason) {
    debug_assert!(!interrupts::are_enabled());
    let (prev_slot, next_rsp) = {
        let mut s = SCHED.lock();
        let prev = s.current.take().expect("sched::init not called");
        if reason == SwitchReason::Block {
            // "Decide to sleep" and "sleep" are one step under the lock
            // that `wake` takes: a wake-up is either already pending here
            // or finds the thread Blocked and queues it.
            if prev.wake_pending.swap(false, Ordering::SeqCst) {
                s.current = Some(prev);
                return;
            }
            prev.nr_blocks.fetch_add(1, Ordering::Relaxed);
            prev.set_state(ThreadState::Blocked);
        }
        let idle = s.idle.clone().unwrap();
        let prev_runnable = matches!(prev.state(), ThreadState::Running | ThreadState::Runnable) && !Arc::ptr_eq(&prev, &idle);
        let next = match s.run_queue.pop_front() {
            Some(n) => n,
            None if prev_runnable => {
                s.current = Some(prev);
                return;
            }
            None => idle.clone(),
        };
        if Arc::ptr_eq(&next, &prev) {
            s.current = Some(prev);
            return;
        }
        if prev_runnable {
            prev.set_state(ThreadState::Runnable);
            s.run_queue.push_back(prev.clone());
        }
        next.set_state(ThreadState::Running);
        // SAFETY: both areas are 16-byte aligned 512-byte fxsave areas owned
        // by threads that are not running user code right now.
        unsafe {
            core::arch::x86_64::_fxsave64(prev.fpu_ptr() as *mut u8);
            core::arch::x86_64::_fxrstor64(next.fpu_ptr() as *const u8);
        }
        crate::arch::switch_address_space_and_stack(next.switch_target());
        let slot = prev.saved_rsp_ptr();
        // SAFETY: `next` is not running, so its saved rsp is stable.
        let next_rsp = unsafe { *next.saved_rsp_ptr() };
        if prev.state() == ThreadState::Dead {
            s.reap = Some(prev);
        }
        // `prev` stays alive: either in the run queue, a wait queue, the
        // reap slot, or held by its process.
        s.current = Some(next);
        s.switches += 1;
        (slot, next_rsp)
    };
    // SAFETY: interrupts are off; the slot belongs to the thread that is
    // switching away, whose stack stays alive until it has been switched
    // away from (dead threads are freed by the next thread).
    unsafe { switch::switch_context(prev_slot, next_rsp) };
    let dead = SCHED.lock().reap.take();
    drop(dead);
}

/// Give up the CPU to the next runnable thread.
pub fn yield_now() {
    interrupts::without_interrupts(schedule);
}

/// Block the current thread until [`wake`] (or a pending wake) releases it.
/// May return early; callers re-check their condition.
pub fn block_current() {
    interrupts::without_interrupts(|| {
        #[cfg(feature = "ktest")]
        tests::block_window();
        __schedule(SwitchReason::Block);
    });
}

/// Make `t` runnable (or make its next block return at once).
pub fn wake(t: &Arc<Thread>) {
    interrupts::without_interrupts(|| {
        let mut s = SCHED.lock();
        if t.state() == ThreadState::Blocked {
            t.set_state(ThreadState::Runnable);
            s.run_queue.push_back(t.clone());
        } else if t.state() != ThreadState::Dead {
            t.wake_pending.store(true, Ordering::SeqCst);
        }
    });
}

/// Sleep until the monotonic clock reaches `deadline_ns`, or until woken
/// (callers re-check). Returns early if a fatal signal is pending.
pub fn sleep_until(deadline_ns: u64) {
    let me = current();
    while crate::arch::time::now_ns() < deadline_ns && !me.fatal_signal_pending() {
        block_until(deadline_ns);
    }
}

/// Block until woken or until the monotonic clock reaches `deadline_ns`
/// (whichever is first). May return early; callers re-check.
pub fn block_until(deadline_ns: u64) {
    let me = current();
    if crate::arch::time::now_ns() >= deadline_ns {
        return;
    }
    me.wake_at.store(deadline_ns, Ordering::SeqCst);
    with(|s| s.sleepers.push(me.clone()));
    block_current();
    with(|s| s.sleepers.retain(|t| !Arc::ptr_eq(t, &me)));
    me.wake_at.store(0, Ordering::SeqCst);
}

/// Timer tick (interrupt context, interrupts off): account the tick, wake
/// expired sleepers and preempt the current thread.
pub fn tick() {
    let now = crate::arch::time::now_ns();
    let expired: Vec<Arc<Thread>> = {
        let mut s = SCHED.lock();
        let Some(cur) = s.current.clone() else { return };
        cur.ticks.fetch_add(1, Ordering::Relaxed);
        let (due, rest): (Vec<_>, Vec<_>) = s.sleepers.drain(..).partition(|t| {
            let at = t.wake_at.load(Ordering::SeqCst);
            at != 0 && at <= now
        });
        s.sleepers = rest;
        due
    };
    for t in &expired {
        wake(t);
    }
    #[cfg(feature = "ktest")]
    tests::tick_waker();
    schedule();
}

/// Terminate the current thread. Its stack is freed by the next thread.
pub fn exit_current() -> ! {
    interrupts::disable();
    current().set_state(ThreadState::Dead);
    schedule();
    unreachable!("a dead thread was scheduled");
}

/// Number of context switches so far.
#[cfg(feature = "ktest")]
pub fn switches() -> u64 {
    with(|s| s.switches)
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;
    use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64};

    static SPINS: AtomicU64 = AtomicU64::new(0);
    static STOP: AtomicBool = AtomicBool::new(false);

    fn spinner() -> ! {
        while !STOP.load(Ordering::SeqCst) {
            SPINS.fetch_add(1, Ordering::Relaxed);
        }
        exit_current();
    }

    /// A thread that never yields is preempted by the timer: the test
    /// thread, busy too, still gets the CPU back and sees it progress.
    #[ktest]
    pub fn busy_threads_are_preempted() {
        STOP.store(false, Ordering::SeqCst);
        SPINS.store(0, Ordering::SeqCst);
        // Counted before the spawn: the timer may switch to the spinner
        // before the next line runs, and that switch is the one to see.
        let switches0 = switches();
        let t = spawn(Thread::new(thread::alloc_tid(), String::from("spinner")), spinner);
        let start = crate::arch::time::now_ns();
        // Busy-wait (never yield) until the spinner has run a while.
        while SPINS.load(Ordering::Relaxed) < 1000 {
            assert!(crate::arch::time::now_ns() - start < 5_000_000_000, "spinner never ran: no preemption");
        }
        assert!(switches() > switches0);
        STOP.store(true, Ordering::SeqCst);
        while t.state() != ThreadState::Dead {
            yield_now();
        }
    }

    /// Thread that the lost-wake-up test puts to sleep (0: none).
    static WINDOW_TID: AtomicU32 = AtomicU32::new(0);
    /// The next timer tick wakes `TICK_WAKE` once.
    static ARMED: AtomicBool = AtomicBool::new(false);
    static TICK_WAKE: Mutex<Option<Arc<Thread>>> = Mutex::new(None);
    static ROUNDS_DONE: AtomicU64 = AtomicU64::new(0);
    const ROUNDS: u64 = 200;

    /// Called by `block_current` between the caller's decision to sleep and
    /// the sleep itself. For the test's sleeper it waits there, interrupts
    /// on, for the next timer tick, whose waker wakes the sleeper right in
    /// the middle of going to sleep: what a wake-up from another CPU can do
    /// at any moment.
    pub(super) fn block_window() {
        let tid = WINDOW_TID.load(Ordering::SeqCst);
        if tid != 0 && with(|s| s.current.as_ref().is_some_and(|c| c.tid == tid)) {
            interrupts::enable_and_hlt();
            interrupts::disable();
        }
    }

    /// Timer-tick side of the test: one wake-up per arming.
    pub(super) fn tick_waker() {
        if ARMED.swap(false, Ordering::SeqCst) {
            let t = TICK_WAKE.lock().clone();
            if let Some(t) = t {
                wake(&t);
            }
        }
    }

    fn sleeper() -> ! {
        WINDOW_TID.store(current().tid, Ordering::SeqCst);
        for _ in 0..ROUNDS {
            ARMED.store(true, Ordering::SeqCst);
            block_current();
            ROUNDS_DONE.fetch_add(1, Ordering::SeqCst);
        }
        WINDOW_TID.store(0, Ordering::SeqCst);
        exit_current();
    }

    /// A wake-up that lands while a thread is on its way to sleep is not
    /// lost: a timer-interrupt waker hits the window between "decide to
    /// sleep" and "sleep" in every one of many rounds, and each round's
    /// single wake-up must end that round's sleep.
    #[ktest]
    pub fn wake_up_in_the_sleep_window_is_not_lost() {
        ROUNDS_DONE.store(0, Ordering::SeqCst);
        let t = Arc::new(Thread::new(thread::alloc_tid(), String::from("sleeper")));
        interrupts::without_interrupts(|| *TICK_WAKE.lock() = Some(t.clone()));
        spawn(t.clone(), sleeper);
        let mut last = (0, crate::arch::time::now_ns());
        while ROUNDS_DONE.load(Ordering::SeqCst) < ROUNDS {
            let done = ROUNDS_DONE.load(Ordering::SeqCst);
            let now = crate::arch::time::now_ns();
            if done != last.0 {
                last = (done, now);
            }
            // A round needs one tick (4 ms); a second without one is a
            // sleeper that missed its wake-up and will never wake.
            assert!(now - last.1 < 1_000_000_000, "wake-up lost: sleeper stuck in round {done} of {ROUNDS}");
            yield_now();
        }
        interrupts::without_interrupts(|| *TICK_WAKE.lock() = None);
        while t.state() != ThreadState::Dead {
            yield_now();
        }
    }

    /// sleep_until sleeps at least until the deadline, and not much longer.
    #[ktest]
    pub fn sleep_until_deadline() {
        let start = crate::arch::time::now_ns();
        sleep_until(start + 30_000_000);
        let slept = crate::arch::time::now_ns() - start;
        assert!(slept >= 30_000_000, "woke after {slept} ns");
        assert!(slept < 2_000_000_000, "overslept: {slept} ns");
    }
}
