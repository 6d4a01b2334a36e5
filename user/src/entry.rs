//! Process entry, arguments and the panic handler.
//!
//! The kernel starts a process at `_start` with the System V initial stack:
//!
//! ```text
//!   rsp -> argc
//!          argv[0] .. argv[argc-1], NULL
//!          envp[0] .. , NULL
//!          auxv: (type, value) pairs .. (AT_NULL, 0)
//! ```
//!
//! `_start` (emitted into each binary by [`crate::entry!`]) passes `rsp` to
//! [`start_rust`], which builds [`Args`], calls the binary's `main`, and
//! exits the process with its return value.

use crate::sys;
use core::ffi::CStr;

/// The initial stack's argument, environment and auxiliary vectors.
#[derive(Clone, Copy)]
pub struct Args {
    argc: usize,
    argv: *const *const u8,
    envp: *const *const u8,
    auxv: *const usize,
}

// SAFETY: Args points into the initial stack, which is never freed and never
// written after start-up.
unsafe impl Send for Args {}
// SAFETY: as above; it is read-only.
unsafe impl Sync for Args {}

impl Args {
    pub fn len(&self) -> usize {
        self.argc
    }

    pub fn is_empty(&self) -> bool {
        self.argc == 0
    }

    /// `argv[i]` as UTF-8 (lossy: invalid strings become `"?"`).
    pub fn get(&self, i: usize) -> Option<&'static str> {
        self.get_bytes(i).map(|b| core::str::from_utf8(b).unwrap_or("?"))
    }

    pub fn get_bytes(&self, i: usize) -> Option<&'static [u8]> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: argv has argc valid C-string pointers (i < argc), living on
        // the never-freed initial stack.
        unsafe { Some(CStr::from_ptr(*self.argv.add(i) as *const _).to_bytes()) }
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        (0..self.argc).filter_map(move |i| self.get(i))
    }

    /// Number of environment strings.
    pub fn env_len(&self) -> usize {
        let mut n = 0;
        // SAFETY: envp is a NULL-terminated array on the initial stack.
        while unsafe { !(*self.envp.add(n)).is_null() } {
            n += 1;
        }
        n
    }

    /// The auxiliary vector entry of `key` (e.g. `AT_PAGESZ` = 6).
    pub fn auxv(&self, key: usize) -> Option<usize> {
        let mut p = self.auxv;
        loop {
            // SAFETY: auxv is a sequence of (type, value) pairs ending with
            // AT_NULL (0), on the initial stack.
            let (k, v) = unsafe { (*p, *p.add(1)) };
            if k == 0 {
                return None;
            }
            if k == key {
                return Some(v);
            }
            // SAFETY: not yet at AT_NULL, so the next pair exists.
            p = unsafe { p.add(2) };
        }
    }
}

pub const AT_PAGESZ: usize = 6;
pub const AT_ENTRY: usize = 9;

/// Called by `_start` with the initial stack pointer.
///
/// # Safety
/// `sp` must be the process's initial `rsp`, laid out as the module comment
/// says; `main` is the binary's entry point.
#[allow(improper_ctypes_definitions)] // `main` is only a code address here
pub unsafe extern "C" fn start_rust(sp: *const usize, main: fn(Args) -> i32) -> ! {
    // SAFETY: the kernel built the initial stack as documented above.
    let args = unsafe {
        let argc = *sp;
        let argv = sp.add(1) as *const *const u8;
        let envp = argv.add(argc + 1);
        let mut e = envp;
        while !(*e).is_null() {
            e = e.add(1);
        }
        Args { argc, argv, envp, auxv: e.add(1) as *const usize }
    };
    let code = main(args);
    sys::exit_group(code)
}

/// Define `_start` for a binary whose entry point is `$main: fn(Args) -> i32`.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        core::arch::global_asm!(
            ".globl _start",
            ".type _start,@function",
            "_start:",
            "xor ebp, ebp",
            "mov rdi, rsp",
            "lea rsi, [rip + {main}]",
            "and rsp, -16",
            "call {start}",
            "ud2",
            start = sym $crate::entry::start_rust,
            main = sym $main,
        );
    };
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    crate::io::eprint_fmt(format_args!("panic: {}\n", info));
    sys::exit_group(101)
}
