//! Futexes: `FUTEX_WAIT` / `FUTEX_WAKE`, private and shared, with timeouts.
//!
//! A waiter is keyed by (address space, user address), except a shared
//! futex (no `FUTEX_PRIVATE_FLAG`) in a `VM_SHARED` mapping, which is
//! keyed by its page (frame and offset), as Linux keys shmem futexes, so
//! that processes sharing the memory (`MAP_SHARED` anonymous mappings
//! inherited across fork) meet. A shared futex in private memory keeps
//! the address-space key, as in Linux; a vfork child shares the parent's
//! address space and so its keys. `wait` compares the futex word
//! with the expected value *under the table lock* (reading it without
//! sleeping; a missing page is faulted in outside the lock and the check
//! retried, as Linux's `get_futex_value_locked`), so a `wake` that follows
//! a change of the word can never be missed. A word the process may not
//! read (unmapped, or a `PROT_NONE` page, which is not present to the MMU)
//! faults in both reads, and the copy's fault fixup makes it `EFAULT`.
//!
//! Locking: one `IrqMutex` over all waiters (few, short lists).

use alloc::sync::Arc;
use alloc::vec::Vec;
use mm::Errno;

use super::Process;
use crate::sched::{self, Thread};
use crate::sync::IrqMutex;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FutexKey {
    mm: usize,
    addr: u64,
}

struct Waiter {
    key: FutexKey,
    thread: Arc<Thread>,
    woken: bool,
}

static WAITERS: IrqMutex<Vec<Waiter>> = IrqMutex::new(Vec::new());

fn key_of(proc: &Arc<Process>, uaddr: u64, shared: bool) -> Result<FutexKey, Errno> {
    if uaddr % 4 != 0 {
        return Err(Errno::EINVAL);
    }
    crate::uaccess::access_ok(uaddr, 4)?;
    if shared && proc.mm().vma_flags_at(uaddr).is_some_and(|f| f.contains(mm::vma::VmFlags::SHARED)) {
        // Keyed by the page: fault it in (or EFAULT), then take its frame.
        crate::uaccess::read_user::<u32>(uaddr)?;
        if let Some((pa, _)) = proc.mm().follow_page(uaddr) {
            return Ok(FutexKey { mm: 0, addr: pa + (uaddr & (mm::addr::PAGE_SIZE - 1)) });
        }
    }
    Ok(FutexKey { mm: Arc::as_ptr(&proc.mm()) as usize, addr: uaddr })
}

/// `FUTEX_WAIT`: sleep while `*uaddr == val`, until woken, the deadline
/// (monotonic ns) passes (`ETIMEDOUT`) or a fatal signal (`EINTR`).
pub fn wait(proc: &Arc<Process>, uaddr: u64, val: u32, deadline: Option<u64>, shared: bool) -> Result<(), Errno> {
    let key = key_of(proc, uaddr, shared)?;
    let me = sched::current();
    loop {
        let mut w = WAITERS.lock();
        match crate::arch::extable::read_user_u32_nofault(uaddr) {
            Ok(cur) if cur != val => return Err(Errno::EAGAIN),
            Ok(_) => {
                w.push(Waiter { key, thread: me.clone(), woken: false });
                break;
            }
            Err(_) => {
                drop(w);
                crate::uaccess::read_user::<u32>(uaddr)?; // fault it in, or EFAULT
            }
        }
    }
    loop {
        let verdict = {
            let mut w = WAITERS.lock();
            let i = w.iter().position(|x| Arc::ptr_eq(&x.thread, &me)).expect("futex waiter vanished");
            let timed_out = deadline.is_some_and(|d| crate::arch::time::now_ns() >= d);
            if w[i].woken {
                w.remove(i);
                Some(Ok(()))
            } else if me.signal_pending() {
                // `EINTR` after a handler; otherwise the wait restarts
                // (untimed waits also after an `SA_RESTART` handler).
                w.remove(i);
                Some(Err(if deadline.is_some() { Errno::ERESTARTNOHAND } else { Errno::ERESTARTSYS }))
            } else if timed_out {
                w.remove(i);
                Some(Err(Errno::ETIMEDOUT))
            } else {
                None
            }
        };
        if let Some(v) = verdict {
            return v;
        }
        match deadline {
            Some(d) => sched::block_until(d),
            None => sched::block_current(),
        }
    }
}

/// `FUTEX_WAKE`: wake up to `n` waiters on `uaddr`; returns how many.
pub fn wake(proc: &Arc<Process>, uaddr: u64, n: u32, shared: bool) -> Result<u32, Errno> {
    let key = key_of(proc, uaddr, shared)?;
    let mut woken = Vec::new();
    {
        let mut w = WAITERS.lock();
        for x in w.iter_mut().filter(|x| x.key == key && !x.woken).take(n as usize) {
            x.woken = true;
            woken.push(x.thread.clone());
        }
    }
    for t in &woken {
        sched::wake(t);
    }
    Ok(woken.len() as u32)
}

/// `FUTEX_REQUEUE` / `FUTEX_CMP_REQUEUE`: wake up to `nr_wake` waiters on
/// `uaddr` and move up to `nr_requeue` of the others to `uaddr2`. With
/// `cmp = Some(v)`, fail with `EAGAIN` unless `*uaddr == v` (checked under
/// the table lock). Returns the number woken plus requeued.
pub fn requeue(
    proc: &Arc<Process>,
    uaddr: u64,
    uaddr2: u64,
    nr_wake: u32,
    nr_requeue: u32,
    cmp: Option<u32>,
    shared: bool,
) -> Result<u32, Errno> {
    let key = key_of(proc, uaddr, shared)?;
    let key2 = key_of(proc, uaddr2, shared)?;
    let mut woken = Vec::new();
    let mut moved = 0u32;
    loop {
        let mut w = WAITERS.lock();
        if let Some(expected) = cmp {
            match crate::arch::extable::read_user_u32_nofault(uaddr) {
                Ok(cur) if cur != expected => return Err(Errno::EAGAIN),
                Ok(_) => {}
                Err(_) => {
                    drop(w);
                    crate::uaccess::read_user::<u32>(uaddr)?;
                    continue;
                }
            }
        }
        for x in w.iter_mut().filter(|x| x.key == key && !x.woken) {
            if (woken.len() as u32) < nr_wake {
                x.woken = true;
                woken.push(x.thread.clone());
            } else if moved < nr_requeue {
                x.key = key2;
                moved += 1;
            } else {
                break;
            }
        }
        break;
    }
    for t in &woken {
        sched::wake(t);
    }
    Ok(woken.len() as u32 + moved)
}
