//! Terminal settings as Linux's x86_64 ABI has them: `struct termios`
//! (what `TCGETS`/`TCSETS` copy), `struct winsize`, and the flag and
//! control-character names of `<asm-generic/termbits.h>`.
//!
//! Holdfast's console starts with Linux's defaults for a serial line
//! (`tty_std_termios`: `ICRNL|IXON`, `OPOST|ONLCR`, `B38400|CS8|CREAD|HUPCL`,
//! `ISIG|ICANON|ECHO|ECHOE|ECHOK|ECHOCTL|ECHOKE|IEXTEN`, `^C ^\ ^? ^U ^D`
//! ...). No locking here: plain values, kept under the terminal lock.

// c_iflag
pub const ISTRIP: u32 = 0o000040;
pub const INLCR: u32 = 0o000100;
pub const IGNCR: u32 = 0o000200;
pub const ICRNL: u32 = 0o000400;
pub const IXON: u32 = 0o002000;
// c_oflag
pub const OPOST: u32 = 0o000001;
pub const ONLCR: u32 = 0o000004;
// c_cflag
pub const B38400: u32 = 0o000017;
pub const CS8: u32 = 0o000060;
pub const CREAD: u32 = 0o000200;
pub const HUPCL: u32 = 0o002000;
// c_lflag
pub const ISIG: u32 = 0o000001;
pub const ICANON: u32 = 0o000002;
pub const ECHO: u32 = 0o000010;
pub const ECHOE: u32 = 0o000020;
pub const ECHOK: u32 = 0o000040;
pub const ECHONL: u32 = 0o000100;
pub const NOFLSH: u32 = 0o000200;
pub const TOSTOP: u32 = 0o000400;
pub const ECHOCTL: u32 = 0o001000;
pub const ECHOKE: u32 = 0o004000;
pub const IEXTEN: u32 = 0o100000;

// c_cc indices
pub const VINTR: usize = 0;
pub const VQUIT: usize = 1;
pub const VERASE: usize = 2;
pub const VKILL: usize = 3;
pub const VEOF: usize = 4;
pub const VTIME: usize = 5;
pub const VMIN: usize = 6;
pub const VSUSP: usize = 10;
pub const VEOL: usize = 11;
pub const VWERASE: usize = 14;
pub const VLNEXT: usize = 15;
pub const VEOL2: usize = 16;
/// Control characters in the kernel's `struct termios` (Linux `NCCS`).
pub const NCCS: usize = 19;

/// The size of `struct termios` in bytes: four flag words, the line
/// discipline number and the control characters.
pub const TERMIOS_SIZE: usize = 16 + 1 + NCCS;

/// `struct termios`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    pub iflag: u32,
    pub oflag: u32,
    pub cflag: u32,
    pub lflag: u32,
    pub line: u8,
    pub cc: [u8; NCCS],
}

/// Linux's `tty_std_termios` (with `INIT_C_CC`): where the console starts.
pub const TTY_STD_TERMIOS: Termios = Termios {
    iflag: ICRNL | IXON,
    oflag: OPOST | ONLCR,
    cflag: B38400 | CS8 | CREAD | HUPCL,
    lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
    line: 0,
    // ^C ^\ ^? ^U ^D, VTIME 0, VMIN 1, -, ^Q ^S ^Z, -, ^R ^O ^W ^V.
    cc: [0x03, 0x1c, 0x7f, 0x15, 0x04, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0, 0],
};

impl Default for Termios {
    fn default() -> Termios {
        TTY_STD_TERMIOS
    }
}

impl Termios {
    pub fn icanon(&self) -> bool {
        self.lflag & ICANON != 0
    }

    /// The extra end-of-line character, if one is set.
    pub fn eol(&self) -> Option<u8> {
        (self.cc[VEOL] != 0).then_some(self.cc[VEOL])
    }

    /// The bytes of `struct termios` as user space sees them.
    pub fn to_bytes(self) -> [u8; TERMIOS_SIZE] {
        let mut b = [0u8; TERMIOS_SIZE];
        for (i, w) in [self.iflag, self.oflag, self.cflag, self.lflag].into_iter().enumerate() {
            b[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
        }
        b[16] = self.line;
        b[17..].copy_from_slice(&self.cc);
        b
    }

    /// A `struct termios` from user space.
    pub fn from_bytes(b: &[u8; TERMIOS_SIZE]) -> Termios {
        let word = |i: usize| u32::from_ne_bytes([b[i * 4], b[i * 4 + 1], b[i * 4 + 2], b[i * 4 + 3]]);
        let mut cc = [0u8; NCCS];
        cc.copy_from_slice(&b[17..]);
        Termios { iflag: word(0), oflag: word(1), cflag: word(2), lflag: word(3), line: b[16], cc }
    }
}

/// `struct winsize`: rows, columns and (unused) pixel sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Winsize {
    pub rows: u16,
    pub cols: u16,
    pub xpixel: u16,
    pub ypixel: u16,
}

impl Winsize {
    pub fn to_bytes(self) -> [u8; 8] {
        let mut b = [0u8; 8];
        for (i, v) in [self.rows, self.cols, self.xpixel, self.ypixel].into_iter().enumerate() {
            b[i * 2..i * 2 + 2].copy_from_slice(&v.to_ne_bytes());
        }
        b
    }

    pub fn from_bytes(b: &[u8; 8]) -> Winsize {
        let half = |i: usize| u16::from_ne_bytes([b[i * 2], b[i * 2 + 1]]);
        Winsize { rows: half(0), cols: half(1), xpixel: half(2), ypixel: half(3) }
    }
}
