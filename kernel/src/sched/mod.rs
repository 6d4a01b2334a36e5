//! The scheduler: preemptive round-robin over kernel and user threads on
//! every CPU, driven by each CPU's local APIC timer.
//!
//! Each CPU has a run queue of threads allowed to run on it (their
//! affinity mask includes it). Every timer tick wakes expired sleepers and
//! rotates the CPU's queue; a CPU whose queue is empty takes a thread from
//! the longest other queue (idle CPUs pull work), and runs its idle thread,
//! which halts, when there is none. [`wake`] puts a thread at the front of
//! the queue of the CPU it last ran on, or of an idle CPU it may run on,
//! and sends that CPU a reschedule IPI, so that a thread woken because a
//! lock it waits for was handed to it runs within microseconds, not at
//! the next tick.
//!
//! A thread sleeps with [`block_current`], which checks for a pending
//! wake-up and marks the thread [`ThreadState::Blocked`] in one step under
//! the scheduler lock; [`wake`] takes the same lock, and either finds the
//! thread Blocked and queues it or leaves the wake-up pending
//! (`wake_pending`) for its next block, so a wake-up is never lost. A
//! thread marked Blocked or Runnable is still running on its CPU until
//! the switch away from it has saved its registers: its `on_cpu` flag
//! stays set until then (Linux's `p->on_cpu`), and a CPU that picks it
//! waits for the flag to clear before switching to it.
//!
//! Threads start with [`spawn`], which runs a closure on the new thread
//! once the switch to it is finished; a user thread then enters ring 3
//! with [`start_user`]. The unsafe parts (the hand-over of the closure
//! through the new stack, the user frame at the top of the kernel stack)
//! live here and in `switch`, not in the callers.
//!
//! Locking: one spin lock over every CPU's queue, taken only with
//! interrupts disabled, never held across a context switch. The thread a
//! CPU switched away from is released by the next thread to run there
//! ([`finish_switch`], through `PREV`, which only its own CPU touches):
//! that clears its `on_cpu` and drops the CPU's reference, which frees a
//! dead thread's stack only once nothing runs on it.

pub mod lockdep;
#[cfg(feature = "ktest")]
mod locktorture;
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

use crate::arch::percpu::{self, MAX_CPUS};
use crate::arch::syscall::UserFrame;
use crate::sync::lock_irqs_off;

/// One CPU's part of the scheduler.
struct CpuRq {
    queue: VecDeque<Arc<Thread>>,
    current: Option<Arc<Thread>>,
    idle: Option<Arc<Thread>>,
    /// Context switches on this CPU.
    switches: u64,
}

impl CpuRq {
    const fn new() -> CpuRq {
        CpuRq { queue: VecDeque::new(), current: None, idle: None, switches: 0 }
    }

    fn is_idle(&self) -> bool {
        match (&self.current, &self.idle) {
            (Some(c), Some(i)) => Arc::ptr_eq(c, i),
            _ => false,
        }
    }
}

struct Sched {
    cpus: [CpuRq; MAX_CPUS],
    sleepers: Vec<Arc<Thread>>,
}

static SCHED: Mutex<Sched> = Mutex::new(Sched { cpus: [const { CpuRq::new() }; MAX_CPUS], sleepers: Vec::new() });

/// Length of each CPU's run queue, for [`need_resched`] (written under the
/// scheduler lock).
static QUEUED: [core::sync::atomic::AtomicU32; MAX_CPUS] = [const { core::sync::atomic::AtomicU32::new(0) }; MAX_CPUS];

/// The thread each CPU last switched away from, until the next thread
/// there has finished the switch (see the module doc).
static PREV: [Mutex<Option<Arc<Thread>>>; MAX_CPUS] = [const { Mutex::new(None) }; MAX_CPUS];

fn with<R>(f: impl FnOnce(&mut Sched) -> R) -> R {
    interrupts::without_interrupts(|| f(&mut lock_irqs_off(&SCHED)))
}

extern "C" fn idle_loop(_: u64) -> ! {
    finish_switch();
    halt_until_work()
}

/// An idle thread's body: halt until an interrupt (a tick, a reschedule
/// IPI) switches to work.
fn halt_until_work() -> ! {
    loop {
        interrupts::enable_and_hlt();
    }
}

/// Make `t` the thread this CPU's `current()` names. Interrupts disabled.
fn set_percpu_current(t: &Arc<Thread>) {
    percpu::this_cpu().current.store(Arc::as_ptr(t) as *mut (), Ordering::Release);
}

/// Adopt the boot context as the first thread and create the boot CPU's
/// idle thread.
pub fn init() {
    let boot = Arc::new(Thread::boot(String::from("boot")));
    let idle = Arc::new(Thread::new(0, String::from("idle/0")));
    let rsp = switch::initial_stack(idle.kstack_top(), idle_loop, 0);
    // SAFETY: the idle thread has never run; nothing else reads its slot.
    unsafe { *idle.saved_rsp_ptr() = rsp };
    with(|s| {
        set_percpu_current(&boot);
        s.cpus[0].current = Some(boot);
        s.cpus[0].idle = Some(idle);
    });
}

/// What an application processor runs once it is set up: its boot context
/// becomes its idle thread, and it takes threads from then on.
pub fn ap_main() -> ! {
    let me = percpu::cpu_index();
    let idle = Arc::new(Thread::boot(alloc::format!("idle/{me}")));
    idle.cpu.store(me as u32, Ordering::Relaxed);
    with(|s| {
        set_percpu_current(&idle);
        s.cpus[me].current = Some(idle.clone());
        s.cpus[me].idle = Some(idle);
    });
    halt_until_work()
}

/// The running thread.
pub fn current() -> Arc<Thread> {
    interrupts::without_interrupts(|| {
        let p = percpu::this_cpu().current.load(Ordering::Acquire) as *const Thread;
        assert!(!p.is_null(), "sched::init not called");
        // SAFETY: the pointer is the running thread's, which this CPU's
        // run queue holds an `Arc` of for as long as it runs (and it is
        // running: it is us).
        unsafe {
            Arc::increment_strong_count(p);
            Arc::from_raw(p)
        }
    })
}

/// Index of the CPU running the caller (which may move at the next
/// switch).
pub fn this_cpu() -> usize {
    interrupts::without_interrupts(percpu::cpu_index)
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
    t.cpu.store(this_cpu() as u32, Ordering::Relaxed);
    interrupts::without_interrupts(|| {
        let mut s = lock_irqs_off(&SCHED);
        t.set_state(ThreadState::Runnable);
        enqueue(&mut s, t.clone());
    });
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
/// to, interrupts still disabled: release the thread switched away from
/// on this CPU (clear its `on_cpu`, so that another CPU may run it, and
/// drop this CPU's reference, which frees a dead thread).
fn finish_switch_irqs_off() {
    let prev = PREV[percpu::cpu_index()].lock().take();
    if let Some(prev) = prev {
        prev.on_cpu.store(false, Ordering::Release);
        drop(prev);
    }
}

/// [`finish_switch_irqs_off`], then enable interrupts: how a new thread
/// starts.
fn finish_switch() {
    finish_switch_irqs_off();
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

/// May `t` run on CPU `cpu`?
fn allowed(t: &Thread, cpu: usize) -> bool {
    t.may_run_on(cpu)
}

/// How a thread joins a run queue.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Enqueue {
    /// New, or moved: at the back.
    Back,
    /// Woken from a sleep: at the front, and a remote CPU is told to
    /// reschedule at once even if it is busy (Linux's wake-up preemption:
    /// a thread that slept, typically on a lock another thread just
    /// released, runs before those that used up their slice).
    Woken,
}

/// Queue the runnable thread `t` on a CPU it may run on: the CPU it last
/// ran on if that one is idle, else an idle CPU, else its last CPU (or the
/// first allowed one). A remote CPU gets a reschedule IPI if it is idle,
/// or for a woken thread. Returns the CPU chosen. Scheduler lock held.
fn enqueue(s: &mut Sched, t: Arc<Thread>) -> usize {
    enqueue_as(s, t, Enqueue::Back)
}

fn enqueue_as(s: &mut Sched, t: Arc<Thread>, how: Enqueue) -> usize {
    let online = percpu::nr_online().max(1);
    let last = t.cpu.load(Ordering::Relaxed) as usize;
    let idle_here = |s: &Sched, c: usize| s.cpus[c].is_idle() && s.cpus[c].queue.is_empty();
    let target = if last < online && allowed(&t, last) && idle_here(s, last) {
        last
    } else if let Some(c) = (0..online).find(|&c| allowed(&t, c) && idle_here(s, c)) {
        c
    } else if last < online && allowed(&t, last) {
        last
    } else {
        (0..online).find(|&c| allowed(&t, c)).unwrap_or(0)
    };
    match how {
        Enqueue::Back => s.cpus[target].queue.push_back(t),
        Enqueue::Woken => s.cpus[target].queue.push_front(t),
    }
    publish_len(s, target);
    if target != percpu::cpu_index() && (s.cpus[target].is_idle() || how == Enqueue::Woken) {
        if let Some(c) = percpu::cpu(target) {
            crate::arch::apic::send_ipi(c.apic_id, crate::arch::apic::RESCHEDULE_VECTOR);
        }
    }
    target
}

/// The next thread for CPU `me`: its own queue first, else one taken from
/// the longest queue among the others that may run here.
fn pick_next(s: &mut Sched, me: usize) -> Option<Arc<Thread>> {
    if let Some(t) = s.cpus[me].queue.pop_front() {
        publish_len(s, me);
        return Some(t);
    }
    let online = percpu::nr_online().max(1);
    let victim = (0..online).filter(|&c| c != me && !s.cpus[c].queue.is_empty()).max_by_key(|&c| s.cpus[c].queue.len())?;
    let pos = s.cpus[victim].queue.iter().position(|t| allowed(t, me))?;
    let t = s.cpus[victim].queue.remove(pos);
    publish_len(s, victim);
    t
}

/// Publish the length of CPU `c`'s queue for [`need_resched`]. Scheduler
/// lock held.
fn publish_len(s: &Sched, c: usize) {
    QUEUED[c].store(s.cpus[c].queue.len() as u32, Ordering::Relaxed);
}

fn __schedule(reason: SwitchReason) {
    debug_assert!(!interrupts::are_enabled());
    let me = percpu::cpu_index();
    let (prev_slot, next_rsp) = {
        let mut s = lock_irqs_off(&SCHED);
        let prev = s.cpus[me].current.take().expect("sched::init not called");
        if reason == SwitchReason::Block {
            // "Decide to sleep" and "sleep" are one step under the lock
            // that `wake` takes: a wake-up is either already pending here
            // or finds the thread Blocked and queues it.
            if prev.wake_pending.swap(false, Ordering::SeqCst) {
                s.cpus[me].current = Some(prev);
                return;
            }
            prev.nr_blocks.fetch_add(1, Ordering::Relaxed);
            prev.set_state(ThreadState::Blocked);
        }
        let idle = s.cpus[me].idle.clone().expect("this CPU has an idle thread");
        let prev_is_idle = Arc::ptr_eq(&prev, &idle);
        let prev_runnable = matches!(prev.state(), ThreadState::Running | ThreadState::Runnable) && !prev_is_idle;
        let prev_may_stay = prev_runnable && allowed(&prev, me);
        let next = match pick_next(&mut s, me) {
            Some(n) => n,
            None if prev_may_stay => {
                s.cpus[me].current = Some(prev);
                return;
            }
            None if prev_is_idle => {
                s.cpus[me].current = Some(prev);
                return;
            }
            None => idle.clone(),
        };
        if Arc::ptr_eq(&next, &prev) {
            s.cpus[me].current = Some(prev);
            return;
        }
        if prev_runnable {
            prev.set_state(ThreadState::Runnable);
            if prev_may_stay {
                s.cpus[me].queue.push_back(prev.clone());
                publish_len(&s, me);
            } else {
                enqueue(&mut s, prev.clone());
            }
        }
        // The thread may still be switching out on the CPU it ran on last;
        // its saved registers are valid once that CPU clears `on_cpu`.
        while next.on_cpu.load(Ordering::Acquire) {
            crate::sync::spin_irqs_off();
        }
        next.on_cpu.store(true, Ordering::Relaxed);
        next.set_state(ThreadState::Running);
        next.cpu.store(me as u32, Ordering::Relaxed);
        // SAFETY: both areas are 16-byte aligned 512-byte fxsave areas owned
        // by threads that are not running user code right now.
        unsafe {
            core::arch::x86_64::_fxsave64(prev.fpu_ptr() as *mut u8);
            core::arch::x86_64::_fxrstor64(next.fpu_ptr() as *const u8);
        }
        crate::arch::switch_address_space_and_stack(next.switch_target());
        let slot = prev.saved_rsp_ptr();
        // SAFETY: `next` is not running anywhere (its on_cpu was clear),
        // so its saved rsp is stable.
        let next_rsp = unsafe { *next.saved_rsp_ptr() };
        set_percpu_current(&next);
        s.cpus[me].current = Some(next);
        s.cpus[me].switches += 1;
        #[cfg(feature = "ktest")]
        let prev_tid = prev.tid();
        // This CPU's reference to `prev` lives in PREV until the thread
        // switched to has finished the switch.
        *PREV[me].lock() = Some(prev);
        #[cfg(feature = "ktest")]
        drop(s);
        #[cfg(feature = "ktest")]
        tests::switch_window(prev_tid);
        (slot, next_rsp)
    };
    // SAFETY: interrupts are off; the slot belongs to the thread that is
    // switching away, whose stack stays alive (PREV holds it) until the
    // next thread on this CPU has finished the switch.
    unsafe { switch::switch_context(prev_slot, next_rsp) };
    finish_switch_irqs_off();
}

/// Give `child`, a thread that has never run, a copy of the running
/// thread's x87/SSE registers (fork: the child resumes with its parent's
/// FPU state, as Linux's `fpu_clone` gives it).
pub fn copy_fpu_state_to(child: &Thread) {
    assert!(
        child.state() == ThreadState::Blocked && !child.on_cpu.load(Ordering::Acquire),
        "copying FPU state into a thread that ran"
    );
    interrupts::without_interrupts(|| {
        // SAFETY: `child` has never run, so nothing else reads or writes
        // its 16-byte aligned 512-byte fxsave area; with interrupts off no
        // switch saves this CPU's registers meanwhile, and they are the
        // running user thread's (the kernel uses no SSE).
        unsafe { core::arch::x86_64::_fxsave64(child.fpu_ptr() as *mut u8) }
    });
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
        let mut s = lock_irqs_off(&SCHED);
        if t.state() == ThreadState::Blocked {
            t.set_state(ThreadState::Runnable);
            enqueue_as(&mut s, t.clone(), Enqueue::Woken);
        } else if t.state() != ThreadState::Dead {
            t.wake_pending.store(true, Ordering::SeqCst);
        }
    });
}

/// The reschedule IPI: another CPU queued a thread here.
pub fn reschedule_ipi() {
    schedule();
}

/// Set the CPUs `t` may run on (`sched_setaffinity`): `mask` must name at
/// least one online CPU. A queued thread moves to a queue it may use; a
/// running thread that may no longer stay moves at its next switch (the
/// caller yields when `t` is itself).
pub fn set_affinity(t: &Arc<Thread>, mask: u64) -> bool {
    let online_mask = online_mask();
    if mask & online_mask == 0 {
        return false;
    }
    with(|s| {
        t.affinity.store(mask & online_mask, Ordering::SeqCst);
        for c in 0..MAX_CPUS {
            if let Some(pos) = s.cpus[c].queue.iter().position(|q| Arc::ptr_eq(q, t)) {
                if !allowed(t, c) {
                    let q = s.cpus[c].queue.remove(pos).unwrap();
                    publish_len(s, c);
                    enqueue(s, q);
                }
            }
        }
    });
    true
}

/// Does a thread wait in this CPU's run queue (Linux `need_resched()`)?
/// A hint: read without the scheduler lock.
pub fn need_resched() -> bool {
    let me = this_cpu();
    QUEUED[me].load(Ordering::Relaxed) != 0
}

/// Bit mask of the online CPUs.
pub fn online_mask() -> u64 {
    let n = percpu::nr_online().clamp(1, MAX_CPUS);
    if n == 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// Sleep until the monotonic clock reaches `deadline_ns`, or until woken
/// (callers re-check). Returns early if a fatal signal is pending (a
/// killable sleep; kernel tests use it).
#[cfg_attr(not(feature = "ktest"), allow(dead_code))]
pub fn sleep_until(deadline_ns: u64) {
    let me = current();
    while crate::arch::time::now_ns() < deadline_ns && !me.fatal_signal_pending() {
        block_until(deadline_ns);
    }
}

/// A sleep that a signal ended before its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted;

/// Sleep until the monotonic clock reaches `deadline_ns` unless a signal
/// is pending first ([`Thread::signal_pending`]): the interruptible
/// sleep (Linux `TASK_INTERRUPTIBLE`). A sender sets the flag before it
/// wakes the thread, so the signal is never missed.
pub fn sleep_until_interruptible(deadline_ns: u64) -> Result<(), Interrupted> {
    let me = current();
    while crate::arch::time::now_ns() < deadline_ns {
        if me.signal_pending() {
            return Err(Interrupted);
        }
        block_until(deadline_ns);
    }
    Ok(())
}

/// Block until `done()` holds or a signal is pending (Linux
/// `wait_event_interruptible`): `Err(Interrupted)` for a signal, which a
/// system call turns into `ERESTARTSYS`. The caller is on a wait list
/// whose waker makes `done()` true and then calls [`wake`]; a signal's
/// sender sets the thread's pending flag and then wakes it, so neither
/// wake-up is lost.
pub fn wait_event_interruptible(mut done: impl FnMut() -> bool) -> Result<(), Interrupted> {
    let me = current();
    loop {
        if done() {
            return Ok(());
        }
        if me.signal_pending() {
            return Err(Interrupted);
        }
        block_current();
    }
}

/// Block until a signal is pending ([`Thread::signal_pending`]), as
/// `pause` does: an event that never comes.
pub fn wait_for_signal() {
    let _ = wait_event_interruptible(|| false);
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
    let me = percpu::cpu_index();
    let expired: Vec<Arc<Thread>> = {
        let mut s = lock_irqs_off(&SCHED);
        let Some(cur) = s.cpus[me].current.clone() else { return };
        cur.ticks.fetch_add(1, Ordering::Relaxed);
        if s.sleepers.is_empty() {
            Vec::new()
        } else {
            let (due, rest): (Vec<_>, Vec<_>) = s.sleepers.drain(..).partition(|t| {
                let at = t.wake_at.load(Ordering::SeqCst);
                at != 0 && at <= now
            });
            s.sleepers = rest;
            due
        }
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

/// Context switches so far on each online CPU.
#[cfg(feature = "ktest")]
pub fn switches_per_cpu() -> Vec<u64> {
    with(|s| (0..percpu::nr_online()).map(|c| s.cpus[c].switches).collect())
}

/// Number of context switches so far.
#[cfg(feature = "ktest")]
pub fn switches() -> u64 {
    switches_per_cpu().iter().sum()
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
        if tid != 0 && current().tid() == tid {
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
        WINDOW_TID.store(current().tid(), Ordering::SeqCst);
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

    /// Thread whose switches away the on_cpu test slows down (0: none).
    static SLOW_SWITCH_TID: AtomicU32 = AtomicU32::new(0);
    static SLOW_ROUNDS: AtomicU64 = AtomicU64::new(0);
    static SLOW_STOP: AtomicBool = AtomicBool::new(false);
    const SLOW_ROUNDS_WANTED: u64 = 300;

    /// Called by `__schedule` after the scheduler lock is released and
    /// before the registers of the thread switching away are saved: for
    /// the test's thread it lingers there, so that another CPU that has
    /// just been handed the thread (woken meanwhile) would switch to it
    /// before its registers are saved, were it not for `on_cpu`.
    pub(super) fn switch_window(prev_tid: u32) {
        if prev_tid != 0 && prev_tid == SLOW_SWITCH_TID.load(Ordering::Relaxed) {
            for _ in 0..20_000 {
                core::hint::spin_loop();
            }
        }
    }

    fn slow_sleeper() -> ! {
        while SLOW_ROUNDS.load(Ordering::SeqCst) < SLOW_ROUNDS_WANTED {
            block_current();
            SLOW_ROUNDS.fetch_add(1, Ordering::SeqCst);
        }
        SLOW_STOP.store(true, Ordering::SeqCst);
        exit_current();
    }

    fn slow_waker(sleeper: Arc<Thread>) -> ! {
        while !SLOW_STOP.load(Ordering::SeqCst) {
            wake(&sleeper);
            for _ in 0..500 {
                core::hint::spin_loop();
            }
        }
        exit_current();
    }

    /// A thread woken while its CPU is still switching away from it is
    /// not run elsewhere before its registers are saved (`on_cpu`): its
    /// switches away are slowed down in the middle, while a waker on
    /// another CPU wakes it again and again and idle CPUs take it. Every
    /// round must complete, on intact stacks.
    #[ktest]
    pub fn woken_thread_waits_for_its_switch_away_to_finish() {
        let ncpu = percpu::nr_online();
        if ncpu < 3 {
            crate::kprintln!("  one or two CPUs online: nothing to race");
            return;
        }
        SLOW_ROUNDS.store(0, Ordering::SeqCst);
        SLOW_STOP.store(false, Ordering::SeqCst);
        let sleeper = Arc::new(Thread::new(thread::alloc_tid(), String::from("slow-switch")));
        SLOW_SWITCH_TID.store(sleeper.tid(), Ordering::SeqCst);
        spawn(sleeper.clone(), slow_sleeper);
        let w = Thread::new(thread::alloc_tid(), String::from("slow-waker"));
        w.affinity.store(1 << 1, Ordering::SeqCst);
        w.cpu.store(1, Ordering::SeqCst);
        let s2 = sleeper.clone();
        let waker = spawn(w, move || slow_waker(s2));
        let start = crate::arch::time::now_ns();
        while sleeper.state() != ThreadState::Dead || waker.state() != ThreadState::Dead {
            assert!(
                crate::arch::time::now_ns() - start < 60_000_000_000,
                "stuck after {} of {SLOW_ROUNDS_WANTED} rounds",
                SLOW_ROUNDS.load(Ordering::SeqCst)
            );
            sleep_until(crate::arch::time::now_ns() + 2_000_000);
        }
        SLOW_SWITCH_TID.store(0, Ordering::SeqCst);
        assert_eq!(SLOW_ROUNDS.load(Ordering::SeqCst), SLOW_ROUNDS_WANTED);
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
