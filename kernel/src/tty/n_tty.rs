//! The line discipline (Linux drivers/tty/n_tty.c): what happens to each
//! byte typed on the terminal, and which bytes a `read` may take.
//!
//! Input passes the termios input flags (`ISTRIP`, `IGNCR`, `ICRNL`,
//! `INLCR`), then, with `ISIG`, the interrupt, quit and suspend characters
//! become signals for the foreground process group (and flush the input
//! unless `NOFLSH`); with `ICANON` the erase, word-erase (`IEXTEN`) and
//! kill characters edit the line being typed, and newline, `VEOL`,
//! `VEOL2` and `VEOF` complete it. Completed lines (canonical mode) or all
//! bytes (raw mode) are readable. Echo follows `ECHO`, `ECHOE`, `ECHOK`,
//! `ECHONL` and `ECHOCTL` (control characters as `^X`).
//!
//! Invariants: `read_buf` holds at most [`N_TTY_BUF_SIZE`] bytes; in
//! canonical mode `canon_end` is the end of the last completed line, and
//! only `read_buf[..canon_end]` is readable; where a `VEOF` completed a
//! line its position is kept in `eof_marks`, so that a read
//! stops there and an empty line reads as end of file.
//!
//! This type is pure state: no locks, no I/O. Its owner ([`super::Tty`])
//! holds it under the terminal lock, sends the echo bytes it returns and
//! delivers the signals it reports.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

use super::termios::*;

/// Most bytes buffered for reading (Linux `N_TTY_BUF_SIZE`).
pub const N_TTY_BUF_SIZE: usize = 4096;

/// What receiving one byte asks of the terminal besides buffering it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    None,
    /// Send this signal to the foreground process group.
    Signal(u8),
}

/// The line discipline's state.
pub struct NTty {
    read_buf: VecDeque<u8>,
    /// Canonical mode: bytes before this index form completed lines.
    canon_end: usize,
    /// Canonical mode: indices (into `read_buf`) of lines ended by VEOF.
    eof_marks: VecDeque<usize>,
    /// The next byte is taken literally (after `VLNEXT`).
    lnext: bool,
    /// Column of the cursor, for erasing tabs and control characters.
    column: usize,
}

pub const SIGINT: u8 = 2;
pub const SIGQUIT: u8 = 3;
pub const SIGTSTP: u8 = 20;

impl NTty {
    pub const fn new() -> NTty {
        NTty { read_buf: VecDeque::new(), canon_end: 0, eof_marks: VecDeque::new(), lnext: false, column: 0 }
    }

    /// Bytes a read could take now (Linux `input_available_p` with a
    /// `VMIN` of 1): completed lines in canonical mode, or an end of file.
    pub fn readable(&self, t: &Termios) -> usize {
        if t.icanon() {
            self.canon_end
        } else {
            self.read_buf.len()
        }
    }

    /// A canonical read would return end of file (an empty line ended by
    /// `VEOF` is next).
    pub fn at_eof(&self, t: &Termios) -> bool {
        t.icanon() && self.eof_marks.front() == Some(&0)
    }

    /// Something is ready for a read: bytes, or an end of file.
    pub fn input_available(&self, t: &Termios, min: usize) -> bool {
        self.at_eof(t) || self.readable(t) >= min.max(1)
    }

    /// Up to `max` readable bytes, without taking them; in canonical mode
    /// a read stops at the end of one line (after its newline, or where
    /// `VEOF` ended it).
    pub fn peek(&self, t: &Termios, max: usize) -> Vec<u8> {
        let mut n = self.readable(t).min(max);
        if t.icanon() {
            if let Some(nl) = self.read_buf.iter().take(n).position(|&b| b == b'\n' || Some(b) == t.eol()) {
                n = n.min(nl + 1);
            }
            if let Some(&mark) = self.eof_marks.front() {
                n = n.min(mark);
            }
        }
        self.read_buf.iter().take(n).copied().collect()
    }

    /// Take `n` bytes that [`NTty::peek`] returned; in canonical mode an
    /// `VEOF` mark reached is consumed with them.
    pub fn consume(&mut self, t: &Termios, n: usize) {
        let n = n.min(self.read_buf.len());
        self.read_buf.drain(..n);
        self.canon_end = self.canon_end.saturating_sub(n);
        for m in self.eof_marks.iter_mut() {
            *m = m.saturating_sub(n);
        }
        if t.icanon() && self.eof_marks.front() == Some(&0) {
            // A read that ended at (or only found) an end of file takes it.
            self.eof_marks.pop_front();
        }
    }

    /// Throw away all input (`TCFLSH`, a signal character without
    /// `NOFLSH`, `TCSETSF`).
    pub fn flush_input(&mut self) {
        self.read_buf.clear();
        self.canon_end = 0;
        self.eof_marks.clear();
        self.lnext = false;
    }

    /// Switching canonical mode off makes the partial line readable;
    /// switching it on starts a new line at the end of what is there.
    pub fn set_canon(&mut self, canon: bool) {
        self.canon_end = if canon { self.read_buf.len() } else { 0 };
        if !canon {
            self.eof_marks.clear();
        }
    }

    /// Receive one byte from the line: returns what the terminal must do
    /// and appends the echo to `echo`.
    pub fn receive(&mut self, t: &Termios, mut c: u8, echo: &mut Vec<u8>) -> Action {
        if t.iflag & ISTRIP != 0 {
            c &= 0x7f;
        }
        if self.lnext {
            self.lnext = false;
            self.put(t, c, echo);
            return Action::None;
        }
        match c {
            b'\r' if t.iflag & IGNCR != 0 => return Action::None,
            b'\r' if t.iflag & ICRNL != 0 => c = b'\n',
            b'\n' if t.iflag & INLCR != 0 => c = b'\r',
            _ => {}
        }
        if t.lflag & ISIG != 0 {
            let sig = match c {
                _ if c == t.cc[VINTR] && c != 0 => Some(SIGINT),
                _ if c == t.cc[VQUIT] && c != 0 => Some(SIGQUIT),
                _ if c == t.cc[VSUSP] && c != 0 => Some(SIGTSTP),
                _ => None,
            };
            if let Some(sig) = sig {
                if t.lflag & NOFLSH == 0 {
                    self.flush_input();
                }
                self.echo_char(t, c, echo);
                return Action::Signal(sig);
            }
        }
        if t.icanon() {
            if t.lflag & IEXTEN != 0 && c == t.cc[VLNEXT] && c != 0 {
                self.lnext = true;
                return Action::None;
            }
            if c == t.cc[VERASE] && c != 0 {
                self.erase(t, 1, echo);
                return Action::None;
            }
            if t.lflag & IEXTEN != 0 && c == t.cc[VWERASE] && c != 0 {
                self.erase_word(t, echo);
                return Action::None;
            }
            if c == t.cc[VKILL] && c != 0 {
                let line = self.read_buf.len() - self.canon_end;
                if t.lflag & ECHOK != 0 && t.lflag & ECHOE == 0 && t.lflag & ECHO != 0 {
                    self.echo_char(t, c, echo);
                    echo.push(b'\n');
                    self.column = 0;
                    self.drop_line(line);
                } else {
                    self.erase(t, line, echo);
                }
                return Action::None;
            }
            if c == t.cc[VEOF] && c != 0 {
                if self.read_buf.len() < N_TTY_BUF_SIZE {
                    self.canon_end = self.read_buf.len();
                    self.eof_marks.push_back(self.read_buf.len());
                }
                return Action::None;
            }
            if c == b'\n' || (c != 0 && (c == t.cc[VEOL] || c == t.cc[VEOL2])) {
                if self.read_buf.len() < N_TTY_BUF_SIZE {
                    self.read_buf.push_back(c);
                    self.canon_end = self.read_buf.len();
                    if t.lflag & ECHO != 0 || (c == b'\n' && t.lflag & ECHONL != 0) {
                        self.echo_char(t, c, echo);
                    }
                }
                return Action::None;
            }
        }
        self.put(t, c, echo);
        Action::None
    }

    /// Buffer an ordinary byte and echo it. A full buffer drops it (in
    /// canonical mode one byte is kept free for the newline).
    fn put(&mut self, t: &Termios, c: u8, echo: &mut Vec<u8>) {
        let room = if t.icanon() { N_TTY_BUF_SIZE - 1 } else { N_TTY_BUF_SIZE };
        if self.read_buf.len() >= room {
            return;
        }
        self.read_buf.push_back(c);
        if t.lflag & ECHO != 0 {
            self.echo_char(t, c, echo);
        }
    }

    /// Echo one byte: control characters as `^X` with `ECHOCTL` (tab and
    /// newline as themselves).
    fn echo_char(&mut self, t: &Termios, c: u8, echo: &mut Vec<u8>) {
        if t.lflag & ECHO == 0 && c != b'\n' {
            return;
        }
        if is_ctl(c) && t.lflag & ECHOCTL != 0 {
            echo.extend_from_slice(&[b'^', c ^ 0x40]);
            self.column += 2;
        } else {
            echo.push(c);
            self.column = match c {
                b'\n' | b'\r' => 0,
                b'\t' => (self.column | 7) + 1,
                _ => self.column + 1,
            };
        }
    }

    /// Remove the last `n` bytes of the line being typed, rubbing them out
    /// on the screen (`ECHOE`: backspace-space-backspace per column).
    fn erase(&mut self, t: &Termios, n: usize, echo: &mut Vec<u8>) {
        for _ in 0..n {
            if self.read_buf.len() <= self.canon_end {
                break;
            }
            let Some(c) = self.read_buf.pop_back() else { break };
            if t.lflag & ECHO != 0 && t.lflag & ECHOE != 0 {
                let width = if is_ctl(c) && c != b'\t' {
                    if t.lflag & ECHOCTL != 0 {
                        2
                    } else {
                        0
                    }
                } else {
                    1
                };
                for _ in 0..width {
                    echo.extend_from_slice(b"\x08 \x08");
                }
                self.column = self.column.saturating_sub(width);
            } else if t.lflag & ECHO != 0 {
                self.echo_char(t, t.cc[VERASE], echo);
            }
        }
    }

    /// `VWERASE`: erase trailing blanks, then the word before them.
    fn erase_word(&mut self, t: &Termios, echo: &mut Vec<u8>) {
        let line: Vec<u8> = self.read_buf.iter().skip(self.canon_end).copied().collect();
        let blanks = line.iter().rev().take_while(|c| c.is_ascii_whitespace()).count();
        let word = line[..line.len() - blanks].iter().rev().take_while(|c| !c.is_ascii_whitespace()).count();
        self.erase(t, blanks + word, echo);
    }

    fn drop_line(&mut self, n: usize) {
        for _ in 0..n {
            self.read_buf.pop_back();
        }
    }
}

fn is_ctl(c: u8) -> bool {
    c < 0x20 && c != b'\t' && c != b'\n' || c == 0x7f
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;

    fn feed(n: &mut NTty, t: &Termios, s: &[u8]) -> (Vec<u8>, Vec<Action>) {
        let mut echo = Vec::new();
        let acts = s.iter().map(|&c| n.receive(t, c, &mut echo)).filter(|a| *a != Action::None).collect();
        (echo, acts)
    }

    fn read(n: &mut NTty, t: &Termios, max: usize) -> Vec<u8> {
        let v = n.peek(t, max);
        n.consume(t, v.len());
        v
    }

    #[ktest]
    pub fn canonical_lines_are_edited_before_they_are_readable() {
        let t = Termios::default();
        let mut n = NTty::new();
        let (echo, _) = feed(&mut n, &t, b"helo\x7flo wor\x17world\r");
        assert_eq!(read(&mut n, &t, 100), b"hello world\n");
        assert_eq!(echo, b"helo\x08 \x08lo wor\x08 \x08\x08 \x08\x08 \x08world\n");
        feed(&mut n, &t, b"partial");
        assert_eq!(n.readable(&t), 0, "an unfinished line is not readable");
        feed(&mut n, &t, b"\x15again\n");
        assert_eq!(read(&mut n, &t, 3), b"aga", "a short read takes part of the line");
        assert_eq!(read(&mut n, &t, 100), b"in\n");
    }

    #[ktest]
    pub fn eof_ends_a_line_and_an_empty_line_reads_as_end_of_file() {
        let t = Termios::default();
        let mut n = NTty::new();
        feed(&mut n, &t, b"ab\x04\x04cd\n");
        assert_eq!(read(&mut n, &t, 100), b"ab");
        assert!(n.at_eof(&t));
        assert_eq!(read(&mut n, &t, 100), b"", "the empty line is end of file");
        assert_eq!(read(&mut n, &t, 100), b"cd\n");
        assert!(!n.input_available(&t, 1));
    }

    #[ktest]
    pub fn interrupt_flushes_input_and_asks_for_sigint() {
        let t = Termios::default();
        let mut n = NTty::new();
        let (echo, acts) = feed(&mut n, &t, b"junk\x03");
        assert_eq!(acts, [Action::Signal(SIGINT)]);
        assert_eq!(echo, b"junk^C");
        assert_eq!(n.readable(&t), 0);
        assert!(n.peek(&t, 10).is_empty());
    }

    #[ktest]
    pub fn raw_mode_passes_every_byte_without_echo() {
        let mut t = Termios::default();
        t.lflag &= !(ICANON | ECHO | ISIG);
        t.iflag &= !ICRNL;
        let mut n = NTty::new();
        n.set_canon(false);
        let (echo, acts) = feed(&mut n, &t, b"a\x03\x7f\r");
        assert!(echo.is_empty() && acts.is_empty());
        assert_eq!(read(&mut n, &t, 100), b"a\x03\x7f\r");
    }
}
