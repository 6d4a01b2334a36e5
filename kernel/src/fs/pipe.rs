//! Pipes: `pipe` / `pipe2`, Linux's `fs/pipe.c` semantics.
//!
//! A pipe is a ring of at most [`PIPE_DEF_BUFFERS`] page-sized buffers
//! (64 KiB). A write whose length is not a multiple of the page size
//! first tries to append its first `len % PAGE_SIZE` bytes to the last
//! buffer; everything else goes into fresh buffers of up to a page each,
//! so a write of at most `PIPE_BUF` (a page) is never split. Reads consume
//! from the oldest buffer and return as soon as they got something and
//! the pipe is empty. A read of an empty pipe with no writer left is end
//! of file; a write with no reader left is `EPIPE` after `SIGPIPE` to the
//! writing thread, whose default action ends the process (ignored or
//! handled, the program sees `EPIPE`).
//!
//! Blocking: a reader waits while the pipe is empty and writers remain, a
//! writer while it is full (`EAGAIN` instead with `O_NONBLOCK`). A waiter
//! enters the pipe's wait list under the pipe lock, then blocks; whoever
//! changes the pipe wakes the list after the change, under the same lock,
//! so a wake-up between the check and the block leaves the waiter's wake
//! pending instead of lost (see `sched::wake`). The sleep is
//! interruptible: a signal ends it with `ERESTARTSYS` (`EINTR`, or a
//! restart after an `SA_RESTART` handler), as Linux's pipes do.
//! `poll` uses the same list: a poller joins the list of every pipe it
//! polls before it checks them ([`PipeEnd::poll`]), and leaves them all
//! when it returns.
//!
//! A read or write takes user memory as one stream over iovecs
//! ([`UserIov`]), so `readv`/`writev` are single pipe operations. User
//! memory is never touched under the pipe lock (a fault may sleep):
//! a writer copies into a kernel page first and then moves it into the
//! ring; a reader marks the pipe as being read (`reading`; other readers
//! wait), copies out of the oldest buffer unlocked, and then consumes
//! what was copied, so bytes a fault kept from the reader stay in the
//! pipe in order.
//!
//! Locking: `Pipe::inner` is an `IrqMutex`, held briefly, never across a
//! copy or a sleep; it may take the scheduler's lock (to wake).

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::vec::Vec;
use mm::Errno;

use crate::sched::{self, Thread};
use crate::sync::{IrqMutex, IrqMutexGuard};
use crate::uaccess::{copy_from_user, copy_to_user};

const PAGE_SIZE: usize = 4096;
/// Buffers in a pipe (Linux's default `pipe_max_size` / `PAGE_SIZE`).
pub const PIPE_DEF_BUFFERS: usize = 16;

/// One page of data: bytes `offset..offset + len` are unread.
struct PipeBuffer {
    page: Vec<u8>,
    offset: usize,
    len: usize,
}

struct PipeInner {
    bufs: VecDeque<PipeBuffer>,
    readers: usize,
    writers: usize,
    /// A reader is copying out of the oldest buffer.
    reading: bool,
    /// Threads waiting for any change (data, space, an end closed).
    waiters: Vec<Arc<Thread>>,
}

impl PipeInner {
    fn full(&self) -> bool {
        self.bufs.len() >= PIPE_DEF_BUFFERS
    }

    fn nr_bytes(&self) -> usize {
        self.bufs.iter().map(|b| b.len).sum()
    }

    /// Wake every waiter (they re-check their condition).
    fn wake_all(&mut self) {
        for t in self.waiters.drain(..) {
            sched::wake(&t);
        }
    }
}

/// A pipe, shared by its read and write ends.
pub struct Pipe {
    inner: IrqMutex<PipeInner>,
}

/// One end of a pipe, held by the open file; dropping it (the file's last
/// descriptor closed) counts the end out and wakes the other side.
pub struct PipeEnd {
    pipe: Arc<Pipe>,
    write: bool,
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        let mut p = self.pipe.inner.lock();
        if self.write {
            p.writers -= 1;
        } else {
            p.readers -= 1;
        }
        p.wake_all();
    }
}

/// Queue the current thread on `p` and block it (the lock is released
/// first). An interruptible sleep: `ERESTARTSYS` if a signal is pending
/// (`EINTR`, or a restart with `SA_RESTART`).
fn wait(mut p: IrqMutexGuard<'_, PipeInner>) -> Result<(), Errno> {
    let me = sched::current();
    if me.signal_pending() {
        return Err(Errno::ERESTARTSYS);
    }
    if !p.waiters.iter().any(|t| Arc::ptr_eq(t, &me)) {
        p.waiters.push(me.clone());
    }
    drop(p);
    sched::block_current();
    Ok(())
}

/// Remove the current thread from `p`'s wait list (after a wait that ended
/// in an error, so that no reference to it stays behind).
fn unqueue(pipe: &Pipe) {
    let me = sched::current();
    pipe.inner.lock().waiters.retain(|t| !Arc::ptr_eq(t, &me));
}

/// A zeroed kernel buffer of `len` bytes, or `ENOMEM` when the heap
/// cannot grow (`pipe_write`'s failed `alloc_page`), never a panic.
fn buffer(len: usize) -> Result<Vec<u8>, Errno> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| Errno::ENOMEM)?;
    v.resize(len, 0);
    Ok(v)
}

/// User memory as one stream over iovec segments `(base, len)` (each
/// checked with `access_ok`): Linux's `iov_iter`, so that a `readv` or
/// `writev` is one pipe operation (a `writev` of up to `PIPE_BUF` bytes
/// in all is as atomic as a `write`).
pub type UserIov<'a> = &'a [(u64, usize)];

fn iov_count(iov: UserIov) -> usize {
    iov.iter().map(|s| s.1).sum()
}

/// Apply `op(user address, kernel range)` to the bytes at stream offset
/// `off` on, piece by piece over the segments; the first error ends it.
fn iov_each(
    iov: UserIov,
    mut off: usize,
    len: usize,
    mut op: impl FnMut(u64, core::ops::Range<usize>) -> Result<(), Errno>,
) -> Result<(), Errno> {
    let mut done = 0usize;
    for &(base, seg) in iov {
        if done == len {
            break;
        }
        if off >= seg {
            off -= seg;
            continue;
        }
        let n = (seg - off).min(len - done);
        op(base + off as u64, done..done + n)?;
        done += n;
        off = 0;
    }
    Ok(())
}

/// Copy `src` to the stream at offset `off` (all of it, or `EFAULT`).
fn iov_copy_to(iov: UserIov, off: usize, src: &[u8]) -> Result<(), Errno> {
    iov_each(iov, off, src.len(), |at, r| copy_to_user(at, &src[r]))
}

/// Fill `dst` from the stream at offset `off` (all of it, or `EFAULT`).
fn iov_copy_from(iov: UserIov, off: usize, dst: &mut [u8]) -> Result<(), Errno> {
    iov_each(iov, off, dst.len(), |at, r| copy_from_user(&mut dst[r], at))
}

/// A new pipe: its read end and its write end.
pub fn create() -> (PipeEnd, PipeEnd) {
    let pipe = Arc::new(Pipe {
        inner: IrqMutex::new(PipeInner { bufs: VecDeque::new(), readers: 1, writers: 1, reading: false, waiters: Vec::new() }),
    });
    (PipeEnd { pipe: pipe.clone(), write: false }, PipeEnd { pipe, write: true })
}

/// `poll` events.
pub const POLLIN: u16 = 0x1;
pub const POLLOUT: u16 = 0x4;
pub const POLLERR: u16 = 0x8;
pub const POLLHUP: u16 = 0x10;
pub const POLLRDNORM: u16 = 0x40;
pub const POLLWRNORM: u16 = 0x100;

impl PipeEnd {
    /// `pipe_poll`: which events hold now, for a file opened with
    /// `f_mode`; with `wait`, the current thread first joins the pipe's
    /// wait list, so that any later change wakes it (`poll_wait` before
    /// the check: no change between the check and the sleep is missed).
    pub fn poll(&self, f_mode: u32, wait: bool) -> u16 {
        let mut p = self.pipe.inner.lock();
        if wait {
            let me = sched::current();
            if !p.waiters.iter().any(|t| Arc::ptr_eq(t, &me)) {
                p.waiters.push(me);
            }
        }
        let mut mask = 0;
        if f_mode & super::file::FMODE_READ != 0 {
            if !p.bufs.is_empty() {
                mask |= POLLIN | POLLRDNORM;
            }
            if p.writers == 0 {
                mask |= POLLHUP;
            }
        }
        if f_mode & super::file::FMODE_WRITE != 0 {
            if !p.full() {
                mask |= POLLOUT | POLLWRNORM;
            }
            if p.readers == 0 {
                mask |= POLLERR;
            }
        }
        mask
    }

    /// Leave the pipe's wait list (the end of a `poll`).
    pub fn poll_done(&self) {
        unqueue(&self.pipe);
    }

    /// Unread bytes (`FIONREAD`).
    pub fn nr_bytes(&self) -> usize {
        self.pipe.inner.lock().nr_bytes()
    }

    /// `pipe_read` into the user memory of `iov`.
    pub fn read(&self, iov: UserIov, nonblock: bool) -> Result<usize, Errno> {
        let r = self.read_inner(iov, nonblock);
        unqueue(&self.pipe);
        r
    }

    fn read_inner(&self, iov: UserIov, nonblock: bool) -> Result<usize, Errno> {
        let count = iov_count(iov);
        if count == 0 {
            return Ok(0);
        }
        let mut done = 0usize;
        // A page holds at most a buffer's bytes.
        let mut kbuf = buffer(PAGE_SIZE.min(count))?;
        loop {
            let mut p = self.pipe.inner.lock();
            if p.reading {
                wait(p)?;
                continue;
            }
            if let Some(b) = p.bufs.front() {
                // As Linux: the piece is what this buffer holds (up to what
                // is asked); a fault anywhere in it consumes none of it.
                let n = b.len.min(count - done);
                kbuf[..n].copy_from_slice(&b.page[b.offset..b.offset + n]);
                p.reading = true;
                drop(p);
                let copied = iov_copy_to(iov, done, &kbuf[..n]);
                let mut p = self.pipe.inner.lock();
                p.reading = false;
                if copied.is_ok() {
                    let b = p.bufs.front_mut().expect("only the reader consumes");
                    b.offset += n;
                    b.len -= n;
                    if b.len == 0 {
                        p.bufs.pop_front();
                    }
                    done += n;
                }
                p.wake_all();
                drop(p);
                if let Err(e) = copied {
                    return if done > 0 { Ok(done) } else { Err(e) };
                }
                if done == count {
                    return Ok(done);
                }
                continue;
            }
            if done > 0 || p.writers == 0 {
                return Ok(done);
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            wait(p)?;
        }
    }

    /// `pipe_write` from the user memory of `iov`.
    /// With no reader left the writing thread gets `SIGPIPE` and the
    /// write returns what it wrote before, or `EPIPE`.
    pub fn write(&self, iov: UserIov, nonblock: bool) -> Result<usize, Errno> {
        let mut sigpipe = false;
        let r = self.write_inner(iov, nonblock, &mut sigpipe);
        unqueue(&self.pipe);
        if sigpipe {
            // To the writing thread (Linux `send_sig(SIGPIPE, current)`):
            // its action decides (ignored, handled, or the end).
            use crate::proc::signal;
            let (p, me) = (crate::proc::current(), sched::current());
            let _ = signal::send_to_thread(&p, &me, signal::SigInfo::from_current(signal::SIGPIPE, signal::SI_USER));
        }
        r
    }

    fn write_inner(&self, iov: UserIov, nonblock: bool, sigpipe: &mut bool) -> Result<usize, Errno> {
        let count = iov_count(iov);
        if count == 0 {
            return Ok(0);
        }
        if self.pipe.inner.lock().readers == 0 {
            *sigpipe = true;
            return Err(Errno::EPIPE);
        }
        let mut done = 0usize;
        // The head of the write that may join the last buffer.
        let chars = count % PAGE_SIZE;
        if chars != 0 {
            let mut head = buffer(chars)?;
            iov_copy_from(iov, 0, &mut head)?;
            let mut p = self.pipe.inner.lock();
            if p.readers == 0 {
                *sigpipe = true;
                return Err(Errno::EPIPE);
            }
            if let Some(b) = p.bufs.back_mut().filter(|b| b.offset + b.len + chars <= PAGE_SIZE) {
                let end = b.offset + b.len;
                b.page[end..end + chars].copy_from_slice(&head);
                b.len += chars;
                done = chars;
                p.wake_all();
                if done == count {
                    return Ok(done);
                }
            }
        }
        // The next page-sized piece, copied in but not yet in the pipe.
        let mut piece: Option<Vec<u8>> = None;
        loop {
            if piece.is_none() {
                let n = (count - done).min(PAGE_SIZE);
                let mut page = match buffer(PAGE_SIZE) {
                    Ok(page) => page,
                    Err(e) => return if done > 0 { Ok(done) } else { Err(e) },
                };
                if let Err(e) = iov_copy_from(iov, done, &mut page[..n]) {
                    return if done > 0 { Ok(done) } else { Err(e) };
                }
                page.truncate(n);
                piece = Some(page);
            }
            let mut p = self.pipe.inner.lock();
            if p.readers == 0 {
                *sigpipe = true;
                return if done > 0 { Ok(done) } else { Err(Errno::EPIPE) };
            }
            if !p.full() {
                let mut page = piece.take().expect("a piece is ready");
                let len = page.len();
                // Back to its full page: the capacity is already there.
                page.resize(PAGE_SIZE, 0);
                p.bufs.push_back(PipeBuffer { page, offset: 0, len });
                done += len;
                p.wake_all();
                if done == count {
                    return Ok(done);
                }
                continue;
            }
            if nonblock {
                return if done > 0 { Ok(done) } else { Err(Errno::EAGAIN) };
            }
            if let Err(e) = wait(p) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
        }
    }
}
