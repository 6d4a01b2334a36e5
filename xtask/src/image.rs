//! Kernel command line, initrd and disk images, and the two commands
//! built on them: `cargo xtask image` and `cargo xtask run`.
//!
//! The kernel's command line is the file `/cmdline` in the initrd: one
//! line of space-separated words. Kernel words come first; `init=/PROGRAM`
//! and the program's arguments come last, so everything after `init=`
//! belongs to the program.

use std::path::{Path, PathBuf};
use std::time::Duration;

use boot::cpio::Entry;
use boot::Firmware;

use crate::build::{self, Paths};
use crate::cli::{InitrdOpts, RunOpts};
use crate::error::{Error, Result};
use crate::qemu::{self, Exit, Flow};

/// Builds the command line from kernel words (e.g. `stay`,
/// `ktest.start=3`) and the init program with its arguments.
pub fn cmdline(kernel_words: &[String], init: &[String]) -> std::result::Result<String, String> {
    let mut words: Vec<String> = Vec::new();
    for w in kernel_words {
        words.push(w.clone());
    }
    if let Some((program, args)) = init.split_first() {
        let program = if program.starts_with('/') { program.clone() } else { format!("/{program}") };
        if program == "/" {
            return Err("the init program needs a name, e.g. `-- /contend`".into());
        }
        words.push(format!("init={program}"));
        words.extend(args.iter().cloned());
    }
    for w in &words {
        if w.is_empty() || w.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!(
                "command-line word {w:?} is empty or contains whitespace; the kernel splits its command line at spaces"
            ));
        }
    }
    Ok(words.join(" "))
}

/// The initrd entries: `/cmdline`, then each host file under its base name,
/// executable (0755) if the host file has an execute bit, else 0644.
pub fn initrd_entries(cmdline: &str, files: &[PathBuf]) -> Result<Vec<Entry>> {
    use std::os::unix::fs::PermissionsExt;
    let mut entries = vec![Entry::file("/cmdline", 0o644, format!("{cmdline}\n").into_bytes())];
    for f in files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::new(format!("--add {}: not a file name", f.display())))?;
        let data = std::fs::read(f).map_err(|e| Error::new(format!("--add {}: {e}", f.display())))?;
        let host_mode = std::fs::metadata(f).map_err(|e| Error::new(format!("--add {}: {e}", f.display())))?.permissions().mode();
        let perm = if host_mode & 0o111 != 0 { 0o755 } else { 0o644 };
        entries.push(Entry::file(format!("/{name}"), perm, data));
    }
    Ok(entries)
}

/// Built images for one kernel and initrd.
pub struct Images {
    pub bios: Option<PathBuf>,
    pub uefi: Option<PathBuf>,
}

/// Writes `<stem>.cpio` and the requested images `<stem>-bios.img` /
/// `<stem>-uefi.img` under `dir`.
pub fn make_images(paths: &Paths, kernel: &Path, entries: &[Entry], dir: &Path, stem: &str, which: &[Firmware]) -> Result<Images> {
    let initrd = dir.join(format!("{stem}.cpio"));
    boot::write_initrd(&initrd, entries)?;
    let bios = which.contains(&Firmware::Bios).then(|| dir.join(format!("{stem}-bios.img")));
    let uefi = which.contains(&Firmware::Uefi).then(|| dir.join(format!("{stem}-uefi.img")));
    let shown: Vec<String> = bios.iter().chain(uefi.iter()).map(|p| paths.show(p)).collect();
    eprintln!("  imaging {} + {} -> {}", paths.show(kernel), paths.show(&initrd), shown.join(", "));
    let input = boot::ImageInput::new(kernel, Some(&initrd));
    boot::create_images(&input, bios.as_deref(), uefi.as_deref())?;
    Ok(Images { bios, uefi })
}

fn warn_missing_init(init: &[String], files: &[PathBuf]) {
    let Some(program) = init.first() else { return };
    let name = program.trim_start_matches('/');
    let present = files.iter().any(|f| f.file_name().and_then(|n| n.to_str()) == Some(name));
    if !present {
        eprintln!("warning: /{name} is neither a user program nor an --add file; the kernel will not find it");
    }
}

/// The init program and its arguments: the user's, or the default demo.
fn init_or_default(init: &[String]) -> Vec<String> {
    if init.is_empty() {
        DEFAULT_INIT.iter().map(|s| s.to_string()).collect()
    } else {
        init.to_vec()
    }
}

/// Every user program plus the `--add` files, for the initrd.
fn initrd_files(paths: &Paths, add: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = crate::user::all_programs(&crate::user::build_user_programs(paths)?)?;
    files.extend(add.iter().cloned());
    Ok(files)
}

/// `cargo xtask image`.
pub fn image(opts: &InitrdOpts) -> Result<()> {
    let paths = Paths::new();
    let init = init_or_default(&opts.init);
    let line = cmdline(&opts.kernel_words, &init).map_err(Error::new)?;
    let kernel = build::build_kernel(&paths, false)?;
    let files = initrd_files(&paths, &opts.add)?;
    warn_missing_init(&init, &files);
    let entries = initrd_entries(&line, &files)?;
    let images = make_images(&paths, &kernel, &entries, &paths.out, "holdfast", &[Firmware::Bios, Firmware::Uefi])?;
    let (bios, uefi) = (images.bios.unwrap(), images.uefi.unwrap());
    println!("kernel command line: {line:?}");
    println!("BIOS image: {}", bios.display());
    println!("UEFI image: {}", uefi.display());
    println!();
    print!("{}", write_instructions(&uefi));
    Ok(())
}

/// How to write `image` to a USB stick, for `cargo xtask image` to print.
pub fn write_instructions(image: &Path) -> String {
    format!(
        "To boot a PC from a USB stick, write one image to the whole stick (not a partition):\n\
         \x20 sudo dd if={} of=/dev/sdX bs=4M conv=fsync status=progress\n\
         (use the BIOS image for machines without UEFI).\n\
         WARNING: dd overwrites the device without asking. Check with `lsblk` that /dev/sdX\n\
         is the stick and not one of your disks.\n",
        image.display()
    )
}

/// The kernel's load offset from the bootloader's log line
/// `INFO : virtual_address_offset: 0xffff800000000000`.
pub fn load_offset(line: &str) -> Option<&str> {
    let rest = &line[line.find("virtual_address_offset: ")? + "virtual_address_offset: ".len()..];
    let offset = rest.split_whitespace().next()?;
    let hex = offset.strip_prefix("0x")?;
    (!hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(offset)
}

/// What `cargo xtask run` boots without `-- /PROGRAM`: the short mlock
/// contention demo.
pub const DEFAULT_INIT: &[&str] = &["/mlock_contend", "64", "--quick"];

/// `cargo xtask run`: returns the kernel's exit status.
pub fn run(opts: &RunOpts) -> Result<i32> {
    let paths = Paths::new();
    let mut kernel_words = opts.initrd.kernel_words.clone();
    if opts.stay {
        kernel_words.push("stay".into());
    }
    let init = init_or_default(&opts.initrd.init);
    let line = cmdline(&kernel_words, &init).map_err(Error::new)?;
    qemu::check_qemu()?;
    let firmware = if opts.uefi { Firmware::Uefi } else { Firmware::Bios };
    let ovmf = if opts.uefi { Some(qemu::find_ovmf()?) } else { None };

    let kernel = build::build_kernel(&paths, false)?;
    let files = initrd_files(&paths, &opts.initrd.add)?;
    warn_missing_init(&init, &files);
    let entries = initrd_entries(&line, &files)?;
    let images = make_images(&paths, &kernel, &entries, &paths.out, "run", &[firmware])?;
    let image = images.bios.or(images.uefi).expect("one image was requested");

    let mut machine = qemu::Machine::new(firmware, image);
    machine.smp = opts.smp;
    machine.mem = opts.mem.clone();
    if let Some(bytes) = opts.swap_disk {
        let swap = paths.out.join("run-swap.img");
        crate::swapdisk::create(&swap, bytes)?;
        machine.swap_disk = Some(swap);
    }
    machine.display = opts.display;
    machine.gdb = opts.gdb;
    let log = paths.logs().join("run.log");
    eprintln!("kernel command line: {line:?}");
    if opts.gdb {
        eprintln!(
            "QEMU waits for gdb; attach with:\n  gdb {} -ex 'target remote :1234'\n\
             The kernel is position-independent: once the bootloader logs where it loaded it,\n\
             xtask prints the `symbol-file -o OFFSET` command that relocates the symbols.",
            paths.show(&kernel)
        );
    }
    let kernel_shown = paths.show(&kernel);
    let outcome = qemu::run(
        &qemu::Run {
            args: qemu::args(&machine, ovmf.as_deref()),
            log: &log,
            echo: true,
            stdin: true,
            typed: None,
            timeout: opts.timeout_secs.map(Duration::from_secs),
        },
        |line| {
            if opts.gdb {
                if let Some(offset) = load_offset(line) {
                    eprintln!("xtask: in gdb, run: symbol-file -o {offset} {kernel_shown}");
                }
            }
            Flow::Continue
        },
    )?;
    match outcome.exit {
        Exit::Kernel(code) => {
            eprintln!("{} (serial log: {})", outcome.exit.describe(), paths.show(&log));
            Ok(code)
        }
        Exit::Killed if outcome.timed_out => Err(Error::new(format!(
            "timed out after {} s; QEMU killed (serial log: {})",
            outcome.elapsed.as_secs(),
            paths.show(&log)
        ))),
        other => Err(Error::new(format!("{} (serial log: {})", other.describe(), paths.show(&log)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn cmdline_construction() {
        assert_eq!(cmdline(&[], &[]).unwrap(), "");
        assert_eq!(cmdline(&w("stay"), &[]).unwrap(), "stay");
        assert_eq!(cmdline(&[], &w("/contend 4 8")).unwrap(), "init=/contend 4 8");
        assert_eq!(cmdline(&[], &w("contend")).unwrap(), "init=/contend");
        assert_eq!(
            cmdline(&w("stay mlock_populate=yield-to-waiters"), &w("/contend -t 4")).unwrap(),
            "stay mlock_populate=yield-to-waiters init=/contend -t 4"
        );
        assert_eq!(cmdline(&w("ktest.start=3"), &[]).unwrap(), "ktest.start=3");
        assert!(cmdline(&[], &["/p".into(), "two words".into()]).is_err());
        assert!(cmdline(&[], &["/p".into(), "".into()]).is_err());
        assert!(cmdline(&[], &["/".into()]).is_err());
    }

    #[test]
    fn image_says_how_to_write_the_stick() {
        let text = write_instructions(Path::new("/t/holdfast-uefi.img"));
        assert!(text.contains("\n  sudo dd if=/t/holdfast-uefi.img of=/dev/sdX bs=4M conv=fsync status=progress\n"), "{text}");
        assert!(text.contains("whole stick (not a partition)") && text.contains("BIOS image"), "{text}");
        assert!(text.contains("WARNING: dd overwrites") && text.contains("`lsblk`"), "{text}");
    }

    #[test]
    fn load_offset_from_bootloader_log() {
        assert_eq!(load_offset("INFO : virtual_address_offset: 0xffff800000000000"), Some("0xffff800000000000"));
        assert_eq!(load_offset("INFO : virtual_address_offset: garbage"), None);
        assert_eq!(load_offset("INFO : Entry point at: 0xffff800000008620"), None);
    }

    #[test]
    fn initrd_has_cmdline_and_added_files() {
        let dir = std::env::temp_dir().join(format!("xtask-initrd-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prog = dir.join("contend");
        std::fs::write(&prog, b"\x7fELF").unwrap();
        std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        let text = dir.join("notes.txt");
        std::fs::write(&text, b"text").unwrap();
        std::fs::set_permissions(&text, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let e = initrd_entries("init=/contend", &[prog, text]).unwrap();
        assert_eq!(e[0].path, "/cmdline");
        assert_eq!(e[0].data, b"init=/contend\n");
        assert_eq!(e[1].path, "/contend");
        assert_eq!(e[1].mode, 0o100755, "an executable host file is executable");
        assert_eq!(e[2].path, "/notes.txt");
        assert_eq!(e[2].mode, 0o100644, "a host file without execute bits is not");
        assert!(initrd_entries("", &[dir.join("missing")]).unwrap_err().to_string().contains("missing"));
    }
}
