//! `cargo xtask`: Holdfast's developer CLI.
//!
//! - `run`   builds kernel, initrd and image and boots them in QEMU;
//! - `image` writes BIOS and UEFI disk images for real hardware;
//! - `test`  runs the host tests, the in-kernel suite, the boot smoke tests,
//!   the user programs on Holdfast and the same programs on this Linux;
//! - `bench` boots the mlock contention workload once per population
//!   strategy and region size and prints one table; `bench --swap`
//!   measures swap and reclaim instead (`bench_swap`);
//! - `run --linux` and `bench --linux` boot the same programs on a Linux
//!   kernel in the same QEMU (`linux_guest`); `bench --plot DIR` draws
//!   the table as SVG charts (`plot`), and one run per kernel as a
//!   timeline (`timeline`).
//!
//! Before `run`, `test`, `bench` and `image`, xtask looks for the programs
//! outside Rust that the command needs (QEMU, OVMF, musl-gcc) and installs
//! the missing ones on Debian and Ubuntu (`prereq`).
//!
//! Every command that xtask runs (cargo, QEMU) is printed before it runs.
//! Failures are reported as one `error:` line with what to do about it,
//! never as a panic.

mod bench;
mod bench_swap;
mod build;
mod busybox;
mod cli;
mod error;
mod image;
mod linux_guest;
mod plot;
mod prereq;
mod qemu;
mod report;
mod screen;
mod swapdisk;
mod test;
mod timeline;
mod user;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("error: {msg}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    // QEMU, OVMF and musl-gcc, installed here when missing (`prereq`).
    if let Err(e) = prereq::ensure(&prereq::needs(&command)) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    if let cli::Command::Run(cli::RunOpts { busybox: Some(p), .. }) | cli::Command::Test(cli::TestOpts { busybox: Some(p), .. }) = &command
    {
        busybox::set_explicit(p.clone());
    }
    let result = match command {
        cli::Command::Help => {
            print!("{}", cli::USAGE);
            Ok(0)
        }
        cli::Command::Run(opts) if opts.linux => linux_guest::run(&opts),
        cli::Command::Run(opts) => image::run(&opts),
        cli::Command::Image(opts) => image::image(&opts).map(|()| 0),
        cli::Command::Test(opts) => test::test(&opts),
        cli::Command::Bench(opts) if opts.swap => bench_swap::bench_swap(&opts),
        cli::Command::Bench(opts) => bench::bench(&opts),
    };
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
