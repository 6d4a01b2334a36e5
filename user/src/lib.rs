//! holdfast-user: a tiny runtime for ring-3 test programs that speak only the
//! Linux x86_64 system call ABI, so the very same static binary runs on Linux
//! and on Holdfast and the two can be compared.
//!
//! Layers, bottom up:
//! - [`sys`]: the `syscall` instruction, `Errno`, typed wrappers.
//! - [`entry`]: `_start` (via [`entry!`]), argv/envp/auxv, panic handler.
//! - [`mem`], [`heap`], [`sync`], [`thread`], [`probe`]: safe abstractions
//!   over raw memory, futexes and `clone`.
//!
//! All `unsafe` lives in those modules, each block with a `// SAFETY:` line.
//! Everything above them ([`io`], [`time`], [`fs`], [`hist`], [`tap`]) and all
//! binaries are safe code.

#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

pub mod entry;
pub mod fs;
pub mod fuzz;
pub mod heap;
pub mod hist;
pub mod io;
pub mod mem;
pub mod probe;
pub mod signal;
pub mod sync;
pub mod sys;
pub mod tap;
pub mod thread;
pub mod time;

pub use entry::Args;
pub use sys::Errno;
