//! The console terminal: the serial line (COM1) as a Linux tty, with the
//! line discipline of [`n_tty`] and the settings of [`termios`].
//!
//! Input arrives by interrupt: COM1's receive interrupt (ISA IRQ 4,
//! routed through the I/O APIC) calls [`receive_irq`], which moves the
//! bytes into a fixed ring and wakes the `tty-rx` kernel thread; that
//! thread runs every byte through the line discipline, echoes, wakes
//! readers and sends `SIGINT`/`SIGQUIT`/`SIGTSTP` to the foreground
//! process group (none of which an interrupt handler may do: they
//! allocate). Output
//! (`write`, and echo) goes to every console with `OPOST`/`ONLCR`
//! applied (a newline becomes CR LF on the line). The framebuffer shows
//! the same bytes.
//!
//! Reads follow Linux's n_tty: canonical mode returns at most one line
//! once it is complete (an empty line ended by `VEOF` is end of file);
//! raw mode follows `VMIN`/`VTIME` (`VMIN` bytes, or what is there when
//! `VTIME` tenths of a second pass; both 0: what is there, perhaps
//! nothing). `O_NONBLOCK` gives `EAGAIN` instead of waiting. One reader at
//! a time takes bytes (Linux's `atomic_read_lock`): a second waits.
//!
//! Locking: `RX` is an `IrqMutex` shared with the interrupt handler;
//! [`Tty::inner`] is an `IrqMutex` too, never held across a user copy,
//! a console write or a signal; a reader peeks under it, copies out unlocked, then consumes what it
//! copied. Waiters join `waiters` under the lock before they block, and
//! every change wakes the list under the lock, so no wake-up is lost
//! (as pipes do, see `sched::wake`).

pub mod n_tty;
pub mod termios;

use alloc::sync::Arc;
use alloc::vec::Vec;
use mm::Errno;

use crate::sched::{self, Thread};
use crate::sync::{IrqMutex, IrqMutexGuard};
use n_tty::{Action, NTty};
use termios::*;

/// What the process layer does for the terminal (registered at boot).
pub struct Services {
    /// Send `sig` to every process of group `pgrp`.
    pub kill_pgrp: fn(pgrp: u32, sig: u8),
    /// The session of the live process group `id`, or else of the live
    /// process `id` (Linux's `session_of_pgrp(find_vpid(id))`).
    pub session_of_pgrp: fn(id: u32) -> Option<u32>,
    /// Does session `sid`'s leader live?
    pub session_leader_lives: fn(sid: u32) -> bool,
    /// The calling process.
    pub current: fn() -> Caller,
    /// May the calling process take a terminal from another session
    /// (`CAP_SYS_ADMIN`)?
    pub capable_sys_admin: fn() -> bool,
    /// Does the calling thread block or ignore `sig`?
    pub ignores_signal: fn(sig: u8) -> bool,
    /// Is process group `pgrp` orphaned?
    pub pgrp_orphaned: fn(pgrp: u32) -> bool,
}

const SIGTTIN: u8 = 21;
const SIGTTOU: u8 = 22;

/// The calling process as its terminal sees it.
#[derive(Clone, Copy, Debug)]
pub struct Caller {
    pub pid: u32,
    pub pgid: u32,
    pub sid: u32,
}

/// The registered services: without them (before boot has wired the
/// process layer) no process has a controlling terminal.
fn services() -> Result<&'static Services, Errno> {
    SERVICES.get().ok_or(Errno::ENOTTY)
}

static SERVICES: spin::Once<Services> = spin::Once::new();

/// Register what the terminal needs from the process layer.
pub fn init(services: Services) {
    SERVICES.call_once(|| services);
}

struct TtyInner {
    termios: Termios,
    winsize: Winsize,
    ldisc: NTty,
    /// The foreground process group (`TIOCSPGRP`); 0 until one is set.
    pgrp: u32,
    /// The session whose controlling terminal this is (0: none); it
    /// holds it while its leader lives.
    session: u32,
    /// A reader is between its peek and its consume.
    reading: bool,
    waiters: Vec<Arc<Thread>>,
}

impl TtyInner {
    fn wake_all(&mut self) {
        for t in self.waiters.drain(..) {
            sched::wake(&t);
        }
    }
}

/// A terminal.
pub struct Tty {
    inner: IrqMutex<TtyInner>,
}

/// The console: COM1 and the framebuffer.
static CONSOLE: Tty = Tty {
    inner: IrqMutex::new(TtyInner {
        termios: TTY_STD_TERMIOS,
        winsize: Winsize { rows: 24, cols: 80, xpixel: 0, ypixel: 0 },
        ldisc: NTty::new(),
        pgrp: 0,
        session: 0,
        reading: false,
        waiters: Vec::new(),
    }),
};

/// The console terminal.
pub fn console() -> &'static Tty {
    &CONSOLE
}

/// Bytes received by the interrupt handler, not yet given to the line
/// discipline (Linux's tty flip buffer): a fixed ring, so that the
/// handler never allocates. Bytes that find it full are dropped.
struct RxRing {
    buf: [u8; RX_RING_SIZE],
    head: usize,
    len: usize,
}

const RX_RING_SIZE: usize = 4096;

static RX: IrqMutex<RxRing> = IrqMutex::new(RxRing { buf: [0; RX_RING_SIZE], head: 0, len: 0 });
/// The thread that runs received bytes through the line discipline
/// (Linux's `flush_to_ldisc` work).
static RX_WORKER: spin::Once<Arc<Thread>> = spin::Once::new();

/// COM1's receive interrupt (interrupts disabled): move every byte the
/// UART holds into the ring and wake the worker.
pub fn receive_irq() {
    let mut bytes = [0u8; 16];
    loop {
        let n = crate::drivers::serial::receive(&mut bytes);
        if n == 0 {
            break;
        }
        let mut rx = RX.lock();
        for &b in &bytes[..n] {
            if rx.len < RX_RING_SIZE {
                let at = (rx.head + rx.len) % RX_RING_SIZE;
                rx.buf[at] = b;
                rx.len += 1;
            }
        }
    }
    if let Some(w) = RX_WORKER.get() {
        sched::wake(w);
    }
}

/// Start the worker that feeds received bytes to the console's line
/// discipline (once, at boot).
pub fn start_rx_worker() {
    let t = sched::spawn(Thread::new(sched::thread::alloc_tid(), alloc::string::String::from("tty-rx")), || loop {
        let mut chunk = [0u8; 256];
        let n = {
            let mut rx = RX.lock();
            let n = rx.len.min(chunk.len());
            for (i, c) in chunk.iter_mut().take(n).enumerate() {
                *c = rx.buf[(rx.head + i) % RX_RING_SIZE];
            }
            rx.head = (rx.head + n) % RX_RING_SIZE;
            rx.len -= n;
            n
        };
        if n == 0 {
            // A wake between the check and the block is kept pending.
            sched::block_current();
        } else {
            CONSOLE.receive(&chunk[..n]);
        }
    });
    RX_WORKER.call_once(|| t);
}

/// Send `bytes` to every console, `OPOST`/`ONLCR` applied as `t` says.
fn output(t: &Termios, bytes: &[u8]) {
    if t.oflag & OPOST != 0 && t.oflag & ONLCR != 0 && bytes.contains(&b'\n') {
        let mut out = Vec::with_capacity(bytes.len() + 16);
        for &b in bytes {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
        crate::logger::write_bytes(&out);
    } else {
        crate::logger::write_bytes(bytes);
    }
}

// ioctl requests (asm-generic/ioctls.h).
pub const TCGETS: u32 = 0x5401;
pub const TCSETS: u32 = 0x5402;
pub const TCSETSW: u32 = 0x5403;
pub const TCSETSF: u32 = 0x5404;
pub const TCFLSH: u32 = 0x540B;
pub const TIOCSCTTY: u32 = 0x540E;
pub const TIOCGPGRP: u32 = 0x540F;
pub const TIOCSPGRP: u32 = 0x5410;
pub const TIOCOUTQ: u32 = 0x5411;
pub const TIOCGWINSZ: u32 = 0x5413;
pub const TIOCSWINSZ: u32 = 0x5414;
pub const FIONREAD: u32 = 0x541B;
/// `TCFLSH` arguments.
const TCIFLUSH: u64 = 0;
const TCOFLUSH: u64 = 1;
const TCIOFLUSH: u64 = 2;

impl Tty {
    /// Bytes from the line (the receive worker).
    fn receive(&self, bytes: &[u8]) {
        let mut echo = Vec::new();
        let mut signals = Vec::new();
        let (termios, pgrp) = {
            let mut i = self.inner.lock();
            let t = i.termios;
            for &b in bytes {
                if let Action::Signal(sig) = i.ldisc.receive(&t, b, &mut echo) {
                    signals.push(sig);
                }
            }
            i.wake_all();
            (t, i.pgrp)
        };
        if !echo.is_empty() {
            output(&termios, &echo);
        }
        if pgrp != 0 {
            if let Some(s) = SERVICES.get() {
                for sig in signals {
                    (s.kill_pgrp)(pgrp, sig);
                }
            }
        }
    }

    /// Wait for a change of the terminal (the lock is released first);
    /// `EINTR` if a fatal signal is pending.
    fn wait(mut i: IrqMutexGuard<'_, TtyInner>, deadline_ns: Option<u64>) -> Result<(), Errno> {
        let me = sched::current();
        if me.fatal_signal_pending() {
            return Err(Errno::EINTR);
        }
        if !i.waiters.iter().any(|t| Arc::ptr_eq(t, &me)) {
            i.waiters.push(me);
        }
        drop(i);
        match deadline_ns {
            Some(d) => sched::block_until(d),
            None => sched::block_current(),
        }
        Ok(())
    }

    fn unqueue(&self) {
        let me = sched::current();
        self.inner.lock().waiters.retain(|t| !Arc::ptr_eq(t, &me));
    }

    /// `read` (n_tty_read) into user memory at `buf`, by the foreground
    /// group only (`SIGTTIN` otherwise, see [`Tty::check_change`]).
    pub fn read(&self, buf: u64, count: usize, nonblock: bool) -> Result<usize, Errno> {
        self.check_change(SIGTTIN)?;
        if count == 0 {
            return Ok(0);
        }
        let r = self.read_inner(buf, count, nonblock);
        self.unqueue();
        r
    }

    fn read_inner(&self, buf: u64, count: usize, nonblock: bool) -> Result<usize, Errno> {
        let mut deadline: Option<u64> = None;
        loop {
            let mut i = self.inner.lock();
            let t = i.termios;
            // Raw mode: VMIN bytes wanted; VTIME tenths of a second bound
            // the wait (from the start of the read: a simplification of
            // Linux's inter-byte timer once bytes have arrived).
            let (min, time) = if t.icanon() { (1, 0) } else { (t.cc[VMIN] as usize, t.cc[VTIME] as u64) };
            if time > 0 && deadline.is_none() {
                deadline = Some(crate::arch::time::now_ns() + time * 100_000_000);
            }
            let expired = deadline.is_some_and(|d| crate::arch::time::now_ns() >= d);
            let ready = !i.reading && i.ldisc.input_available(&t, min.min(count));
            let give_what_is_there = !t.icanon() && (min == 0 && time == 0 || expired);
            if ready || (!i.reading && give_what_is_there) {
                let data = i.ldisc.peek(&t, count);
                if data.is_empty() {
                    // An end of file (canonical), or nothing in raw mode
                    // with VMIN 0.
                    i.ldisc.consume(&t, 0);
                    return Ok(0);
                }
                i.reading = true;
                drop(i);
                let copied = crate::uaccess::copy_to_user(buf, &data);
                let mut i = self.inner.lock();
                i.reading = false;
                if copied.is_ok() {
                    i.ldisc.consume(&t, data.len());
                }
                i.wake_all();
                return copied.map(|_| data.len());
            }
            if nonblock {
                return Err(Errno::EAGAIN);
            }
            Self::wait(i, deadline)?;
        }
    }

    /// `write` from user memory at `buf`: the bytes go to every console.
    /// With `TOSTOP`, by the foreground group only (`SIGTTOU` otherwise).
    pub fn write(&self, buf: u64, count: usize) -> Result<usize, Errno> {
        if self.inner.lock().termios.lflag & TOSTOP != 0 {
            self.check_change(SIGTTOU)?;
        }
        let mut kbuf = Vec::new();
        kbuf.try_reserve_exact(count.min(mm::addr::PAGE_SIZE as usize)).map_err(|_| Errno::ENOMEM)?;
        kbuf.resize(count.min(mm::addr::PAGE_SIZE as usize), 0);
        let mut done = 0usize;
        while done < count {
            let at = buf + done as u64;
            let n = (count - done).min((mm::addr::PAGE_SIZE - at % mm::addr::PAGE_SIZE) as usize);
            if let Err(e) = crate::uaccess::copy_from_user(&mut kbuf[..n], at) {
                return if done > 0 { Ok(done) } else { Err(e) };
            }
            let t = self.inner.lock().termios;
            output(&t, &kbuf[..n]);
            done += n;
        }
        Ok(done)
    }

    /// `POLLIN` when a read would not wait, always `POLLOUT`; with `wait`
    /// the current thread joins the wait list first.
    pub fn poll(&self, wait: bool) -> u16 {
        const POLLIN: u16 = 0x1;
        const POLLOUT: u16 = 0x4;
        const POLLRDNORM: u16 = 0x40;
        const POLLWRNORM: u16 = 0x100;
        let mut i = self.inner.lock();
        if wait {
            let me = sched::current();
            if !i.waiters.iter().any(|t| Arc::ptr_eq(t, &me)) {
                i.waiters.push(me);
            }
        }
        let t = i.termios;
        let min = if t.icanon() { 1 } else { (t.cc[VMIN] as usize).max(1) };
        let readable = if i.ldisc.input_available(&t, min) { POLLIN | POLLRDNORM } else { 0 };
        readable | POLLOUT | POLLWRNORM
    }

    /// Leave the wait list (the end of a `poll`).
    pub fn poll_done(&self) {
        self.unqueue();
    }

    /// The terminal ioctls (tty_ioctl, n_tty_ioctl); `ENOTTY` for others.
    pub fn ioctl(&self, request: u32, arg: u64) -> Result<u64, Errno> {
        use crate::uaccess::{copy_from_user, copy_to_user, write_user};
        match request {
            TCGETS => {
                let t = self.inner.lock().termios;
                copy_to_user(arg, &t.to_bytes()).map(|_| 0)
            }
            TCSETS | TCSETSW | TCSETSF => {
                self.check_change(SIGTTOU)?;
                let mut b = [0u8; TERMIOS_SIZE];
                copy_from_user(&mut b, arg)?;
                let new = Termios::from_bytes(&b);
                let mut i = self.inner.lock();
                if request == TCSETSF {
                    i.ldisc.flush_input();
                }
                if new.icanon() != i.termios.icanon() {
                    i.ldisc.set_canon(new.icanon());
                }
                i.termios = new;
                i.wake_all();
                Ok(0)
            }
            TCFLSH => match self.check_change(SIGTTOU).map(|_| arg)? {
                TCIFLUSH | TCIOFLUSH => {
                    self.inner.lock().ldisc.flush_input();
                    Ok(0)
                }
                // Output is written synchronously: nothing is queued.
                TCOFLUSH => Ok(0),
                _ => Err(Errno::EINVAL),
            },
            TIOCGWINSZ => {
                let ws = self.inner.lock().winsize;
                copy_to_user(arg, &ws.to_bytes()).map(|_| 0)
            }
            TIOCSWINSZ => {
                let mut b = [0u8; 8];
                copy_from_user(&mut b, arg)?;
                self.inner.lock().winsize = Winsize::from_bytes(&b);
                Ok(0)
            }
            TIOCGPGRP => {
                if !self.is_ctty(&(services()?.current)()) {
                    return Err(Errno::ENOTTY);
                }
                let pgrp = self.inner.lock().pgrp;
                write_user(arg, &pgrp).map(|_| 0)
            }
            TIOCSPGRP => self.tiocspgrp(arg),
            TIOCSCTTY => self.tiocsctty(arg),
            FIONREAD => {
                let i = self.inner.lock();
                let n = i.ldisc.readable(&i.termios) as i32;
                drop(i);
                write_user(arg, &n).map(|_| 0)
            }
            TIOCOUTQ => write_user(arg, &0i32).map(|_| 0),
            _ => Err(Errno::ENOTTY),
        }
    }

    /// Make this the controlling terminal of session `sid`, with the
    /// leader's group (`sid` too) in the foreground: the first process's,
    /// at boot.
    pub fn set_session(&self, sid: u32) {
        let mut i = self.inner.lock();
        i.session = sid;
        i.pgrp = sid;
    }

    /// Is this the controlling terminal of the caller `c`: of its
    /// session, whose leader lives?
    fn is_ctty(&self, c: &Caller) -> bool {
        let session = self.inner.lock().session;
        session != 0 && session == c.sid && services().is_ok_and(|s| (s.session_leader_lives)(session))
    }

    /// `tty_check_change` (Linux `__tty_check_change`): a process of a
    /// background group of this terminal's session may not go on with
    /// `sig`'s operation: its group is sent `sig` (which stops it by
    /// default) and the call restarts once it runs again
    /// (`ERESTARTSYS`); if it blocks or ignores `sig` the operation goes
    /// on (`EIO` for `SIGTTIN`, a read); in an orphaned group it is `EIO`.
    fn check_change(&self, sig: u8) -> Result<(), Errno> {
        let Ok(s) = services() else { return Ok(()) };
        let c = (s.current)();
        if !self.is_ctty(&c) {
            return Ok(());
        }
        let pgrp = self.inner.lock().pgrp;
        if pgrp == 0 || pgrp == c.pgid {
            return Ok(());
        }
        if (s.ignores_signal)(sig) {
            return if sig == SIGTTIN { Err(Errno::EIO) } else { Ok(()) };
        }
        if (s.pgrp_orphaned)(c.pgid) {
            return Err(Errno::EIO);
        }
        (s.kill_pgrp)(c.pgid, sig);
        Err(Errno::ERESTARTSYS)
    }

    /// `TIOCSPGRP` (Linux `tiocspgrp`): the group (`EFAULT`; negative is
    /// `EINVAL`) becomes the foreground one if this is the caller's
    /// controlling terminal (else `ENOTTY`), the group or process exists
    /// (else `ESRCH`) and is of the caller's session (else `EPERM`).
    fn tiocspgrp(&self, arg: u64) -> Result<u64, Errno> {
        match self.check_change(SIGTTOU) {
            Err(Errno::EIO) => return Err(Errno::ENOTTY),
            r => r?,
        }
        let pgrp = crate::uaccess::read_user::<i32>(arg)?;
        if pgrp < 0 {
            return Err(Errno::EINVAL);
        }
        let s = services()?;
        let c = (s.current)();
        if !self.is_ctty(&c) {
            return Err(Errno::ENOTTY);
        }
        match (s.session_of_pgrp)(pgrp as u32) {
            None => Err(Errno::ESRCH),
            Some(sid) if sid != c.sid => Err(Errno::EPERM),
            Some(_) => {
                self.inner.lock().pgrp = pgrp as u32;
                Ok(0)
            }
        }
    }

    /// `TIOCSCTTY` (Linux `tiocsctty`): a session leader without a
    /// controlling terminal takes this one, its group in the foreground,
    /// unless another session holds it (`EPERM`; with `arg` 1 and
    /// `CAP_SYS_ADMIN` it is taken from that session). Already the
    /// leader's: nothing to do. Not a session leader: `EPERM`.
    fn tiocsctty(&self, arg: u64) -> Result<u64, Errno> {
        let s = services()?;
        let c = (s.current)();
        let leader = c.pid == c.sid;
        if leader && self.is_ctty(&c) {
            return Ok(0);
        }
        if !leader {
            return Err(Errno::EPERM);
        }
        let held = {
            let session = self.inner.lock().session;
            session != 0 && (s.session_leader_lives)(session)
        };
        if held && !(arg == 1 && (s.capable_sys_admin)()) {
            return Err(Errno::EPERM);
        }
        let mut i = self.inner.lock();
        i.session = c.sid;
        i.pgrp = c.pgid;
        Ok(0)
    }
}
