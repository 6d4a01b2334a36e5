//! CPU placement: `sched_getaffinity`, `sched_setaffinity`, `getcpu`.
//!
//! A thread's affinity is a mask of CPU indices (Holdfast brings up at most
//! 64 CPUs, so one `unsigned long`: Linux's `cpumask_size()` is 8 here).
//! Errors follow Linux's order (kernel/sched/syscalls.c): the length
//! first, then the user pointer, then the thread, then the mask.
//!
//! Locking: the scheduler's own (`sched::set_affinity`).

use alloc::sync::Arc;
use mm::Errno;

use super::{Args, SysResult};
use crate::proc;
use crate::sched::{self, Thread};
use crate::uaccess::{copy_from_user, copy_to_user, write_user};

/// Bytes of a CPU mask (`cpumask_size()`).
const CPUMASK_SIZE: u32 = 8;

/// The thread `pid` names: 0 is the caller, else a thread id (ESRCH).
fn target(pid: u64) -> Result<Arc<Thread>, Errno> {
    let pid = pid as u32 as i32;
    if pid == 0 {
        return Ok(sched::current());
    }
    let tid = u32::try_from(pid).map_err(|_| Errno::ESRCH)?;
    proc::find_thread(tid).map(|(_, t)| t).ok_or(Errno::ESRCH)
}

/// `sched_getaffinity(pid, len, mask)`: EINVAL unless `len` covers every
/// CPU (Linux compares `len * 8` as a 32-bit unsigned int, so a length
/// of 2^29 wraps to 0 and is refused) and is a multiple of 8; copies
/// `min(len, 8)` bytes and returns that count.
pub fn sys_sched_getaffinity(a: Args) -> SysResult {
    let [pid, len, mask, ..] = a.0;
    let len = len as u32;
    let nr_cpu_ids = sched::online_mask().count_ones();
    if len.wrapping_mul(8) < nr_cpu_ids || len % 8 != 0 {
        return Err(Errno::EINVAL);
    }
    let t = target(pid)?;
    let bits = t.affinity.load(core::sync::atomic::Ordering::SeqCst) & sched::online_mask();
    let n = len.min(CPUMASK_SIZE) as usize;
    copy_to_user(mask, &bits.to_le_bytes()[..n])?;
    Ok(n as u64)
}

/// `sched_setaffinity(pid, len, mask)`: a shorter mask is zero-extended, a
/// longer one cut to 8 bytes (EFAULT if unreadable); EINVAL if it names no
/// online CPU. The caller moves off a CPU it no longer may use at once.
pub fn sys_sched_setaffinity(a: Args) -> SysResult {
    let [pid, len, mask, ..] = a.0;
    let len = (len as u32).min(CPUMASK_SIZE) as usize;
    let mut bytes = [0u8; CPUMASK_SIZE as usize];
    copy_from_user(&mut bytes[..len], mask)?;
    let t = target(pid)?;
    if !sched::set_affinity(&t, u64::from_le_bytes(bytes)) {
        return Err(Errno::EINVAL);
    }
    if Arc::ptr_eq(&t, &sched::current()) && !t.may_run_on(sched::this_cpu()) {
        sched::yield_now();
    }
    Ok(0)
}

/// `getcpu(cpu, node, tcache)`: the CPU the caller runs on, node 0.
pub fn sys_getcpu(a: Args) -> SysResult {
    let [cpu, node, ..] = a.0;
    let here = sched::this_cpu() as u32;
    if cpu != 0 {
        write_user(cpu, &here)?;
    }
    if node != 0 {
        write_user(node, &0u32)?;
    }
    Ok(0)
}
