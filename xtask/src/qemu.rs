//! Running QEMU: building its command line, streaming the guest's serial
//! output (COM1) to a log file and to a line callback, enforcing a timeout,
//! and decoding how QEMU ended.
//!
//! Protocol with the kernel: the kernel writes an exit code `c` to the
//! `isa-debug-exit` device (port 0xf4) and QEMU exits with `(c << 1) | 1`.
//! `-no-reboot` turns a triple fault into a QEMU exit with status 0.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use boot::Firmware;

use crate::build::{self, QEMU_INSTALL};
use crate::error::{Error, Result};

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-x86_64";

/// The line the kernel prints once it runs its main function.
pub const MAIN_REACHED: &str = "holdfast: kernel main reached";

/// Where OVMF (UEFI firmware for QEMU) may be installed.
const OVMF_CANDIDATES: &[&str] = &["/usr/share/ovmf/OVMF.fd", "/usr/share/qemu/OVMF.fd", "/usr/share/OVMF/OVMF.fd"];

/// How the disk image is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// A plain disk (`-drive format=raw,file=IMG`, IDE).
    Disk,
    /// A USB mass-storage stick on an xHCI controller, the way a PC boots
    /// a USB stick.
    UsbStick,
}

/// What QEMU is to run.
#[derive(Debug, Clone)]
pub struct Machine {
    pub firmware: Firmware,
    pub image: PathBuf,
    pub attach: Attach,
    pub smp: u32,
    pub mem: String,
    pub display: bool,
    pub gdb: bool,
    /// Use KVM; otherwise QEMU emulates the CPU (TCG).
    pub kvm: bool,
    /// Emulate (never KVM) with guest time derived from the instructions
    /// executed (`-icount shift=4`: 16 ns each, about what TCG manages, so
    /// guest time still roughly follows wall time), so that the guest's
    /// clocks never see the host deschedule QEMU: latencies measured inside
    /// the guest then depend on the guest's work alone, not on the host's
    /// load.
    pub icount: bool,
    /// The CPU model (`-cpu`): `max` by default; older models lack
    /// features such as SMAP that a real PC may lack too.
    pub cpu: String,
    /// The machine type (`-machine`), if not QEMU's default `pc` (i440FX):
    /// `q35` is a PCIe chipset like a current PC's, with its own memory
    /// layout (2 GiB below 4 GiB once the guest has 2.75 GiB or more).
    pub machine: Option<String>,
    /// A COM1 serial port (on stdout); without one the guest's only output
    /// is its screen.
    pub serial: bool,
    /// A swap disk image to attach as a virtio-blk device
    /// (`crate::swapdisk`).
    pub swap_disk: Option<PathBuf>,
    /// A QMP socket at this path (`-qmp unix:PATH,server=on,wait=off`),
    /// for commands such as `screendump` while the guest runs.
    pub qmp: Option<PathBuf>,
}

impl Machine {
    pub fn new(firmware: Firmware, image: PathBuf) -> Self {
        Machine {
            firmware,
            image,
            attach: Attach::Disk,
            smp: 1,
            mem: "1G".into(),
            display: false,
            gdb: false,
            kvm: kvm_available(),
            icount: false,
            cpu: "max".into(),
            machine: None,
            serial: true,
            swap_disk: None,
            qmp: None,
        }
    }
}

/// QEMU's arguments for `m`; `ovmf` is needed for UEFI.
pub fn args(m: &Machine, ovmf: Option<&Path>) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    let mut push = |s: &[&str]| a.extend(s.iter().map(|s| s.to_string()));
    if m.icount {
        // While the guest idles (hlt), its time jumps to the next timer.
        push(&["-icount", "shift=4,sleep=on"]);
    } else if m.kvm {
        push(&["-accel", "kvm"]);
    }
    if let Some(machine) = &m.machine {
        push(&["-machine", machine]);
    }
    push(&["-cpu", &m.cpu]);
    push(&["-smp", &m.smp.to_string(), "-m", &m.mem]);
    if m.firmware == Firmware::Uefi {
        let ovmf = ovmf.map(|p| p.display().to_string()).unwrap_or_else(|| OVMF_CANDIDATES[0].into());
        push(&["-bios", &ovmf]);
    }
    let drive = format!("format=raw,file={}", m.image.display());
    // With a swap disk too, the firmware must be told which disk boots:
    // SeaBIOS would try the virtio disk before a USB stick, and fail.
    let bootindex = if m.swap_disk.is_some() { ",bootindex=0" } else { "" };
    match m.attach {
        Attach::Disk if m.swap_disk.is_some() => {
            push(&["-drive", &format!("if=none,id=boot,{drive}"), "-device", &format!("ide-hd,drive=boot{bootindex}")])
        }
        Attach::Disk => push(&["-drive", &drive]),
        Attach::UsbStick => push(&[
            "-device",
            "qemu-xhci,id=xhci",
            "-drive",
            &format!("if=none,id=stick,{drive}"),
            "-device",
            &format!("usb-storage,bus=xhci.0,drive=stick{bootindex}"),
        ]),
    }
    if let Some(swap) = &m.swap_disk {
        push(&["-drive", &format!("file={},if=none,id=swap0,format=raw", swap.display()), "-device", "virtio-blk-pci,drive=swap0"]);
    }
    // No network: firmware would otherwise try PXE boot first.
    push(&["-nic", "none"]);
    push(&["-serial", if m.serial { "stdio" } else { "none" }]);
    push(&["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot"]);
    if !m.display {
        push(&["-display", "none", "-monitor", "none"]);
    }
    if let Some(qmp) = &m.qmp {
        push(&["-qmp", &format!("unix:{},server=on,wait=off", qmp.display())]);
    }
    if m.gdb {
        push(&["-s", "-S"]);
    }
    a
}

/// Whether to use KVM: only when asked with `HOLDFAST_KVM=1` and
/// `/dev/kvm` is usable. Off by default because `-cpu max` under nested or
/// restricted KVM can abort QEMU; TCG always works, only slower.
pub fn kvm_available() -> bool {
    std::env::var("HOLDFAST_KVM").is_ok_and(|v| v == "1") && std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok()
}

/// Finds OVMF or explains how to install it.
pub fn find_ovmf() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("OVMF_PATH") {
        return Ok(PathBuf::from(p));
    }
    OVMF_CANDIDATES.iter().map(PathBuf::from).find(|p| p.is_file()).ok_or_else(|| {
        Error::new(format!(
            "OVMF (UEFI firmware for QEMU) not found at {}: install it with `{QEMU_INSTALL}` \
                 or point OVMF_PATH at OVMF.fd",
            OVMF_CANDIDATES[0]
        ))
    })
}

/// Checks that QEMU can be started.
pub fn check_qemu() -> Result<()> {
    match Command::new(QEMU).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status() {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Error::new(format!("`{QEMU} --version` failed ({s}); reinstall with `{QEMU_INSTALL}`"))),
        Err(e) => Err(build::spawn_error(std::ffi::OsStr::new(QEMU), e)),
    }
}

/// Whether a run counts as having heard from the guest, for [`decode`]:
/// it wrote to serial, or it had no serial port to write to (`args` has
/// `-serial none`), so that only QEMU's own error line tells a failure of
/// QEMU from kernel code 0.
pub fn serial_or_none(serial_seen: bool, args: &[String]) -> bool {
    serial_seen || args.windows(2).any(|w| w[0] == "-serial" && w[1] == "none")
}

/// How QEMU ended, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The kernel wrote this code to isa-debug-exit.
    Kernel(i32),
    /// QEMU exited with 0 without the kernel's exit code: a triple fault
    /// or reset (with `-no-reboot`), or an ACPI power-off.
    NoExitCode,
    /// QEMU itself failed (bad option, missing file ...).
    QemuError { status: i32, message: String },
    /// xtask killed QEMU (timeout or a test saw what it waited for).
    Killed,
    /// QEMU died from a signal xtask did not send.
    Signal,
}

/// The status in the kernel's line `holdfast: init exited with status N ...`.
pub fn init_exit_status(line: &str) -> Option<i32> {
    let rest = &line[line.find(INIT_EXITED)? + INIT_EXITED.len()..];
    rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

const INIT_EXITED: &str = "holdfast: init exited with status ";

/// isa-debug-exit carries 7 bits; a status of 128 + signal (a process
/// killed by a signal) arrives truncated. The kernel also prints the full
/// status; use it when it agrees with the truncated code.
pub fn widen_status(exit: Exit, printed: Option<i32>) -> Exit {
    match (exit, printed) {
        (Exit::Kernel(code), Some(full)) if full & 0x7F == code => Exit::Kernel(full),
        (e, _) => e,
    }
}

/// Decodes QEMU's exit status. QEMU's own errors also exit with 1, which
/// is what kernel code 0 looks like; they are told apart by QEMU's error
/// line on stderr and by the guest never having written to serial.
pub fn decode(status: Option<i32>, qemu_stderr: &str, serial_seen: bool) -> Exit {
    let Some(s) = status else { return Exit::Signal };
    let qemu_error = qemu_stderr
        .lines()
        .find(|l| l.starts_with("qemu-system") && !l.contains("warning:"))
        .map(|l| l.trim().to_string());
    match s {
        0 => Exit::NoExitCode,
        1 if qemu_error.is_some() || !serial_seen => Exit::QemuError {
            status: 1,
            message: qemu_error.unwrap_or_else(|| "QEMU exited with 1 before the guest wrote anything".into()),
        },
        s if s & 1 == 1 => Exit::Kernel(s >> 1),
        s => Exit::QemuError { status: s, message: qemu_error.unwrap_or_default() },
    }
}

impl Exit {
    /// A sentence for the developer.
    pub fn describe(&self) -> String {
        match self {
            Exit::Kernel(c) => format!("kernel exited with status {c}"),
            Exit::NoExitCode => "QEMU ended without an exit code from the kernel (triple fault, reset or power-off)".into(),
            Exit::QemuError { status, message } => format!("QEMU failed (exit status {status}): {message}"),
            Exit::Killed => "QEMU was stopped by xtask".into(),
            Exit::Signal => "QEMU was killed by a signal".into(),
        }
    }
}

/// What the line callback wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    /// Kill QEMU now: the run has shown what it had to.
    Stop,
}

/// The result of one QEMU run.
#[derive(Debug)]
pub struct Outcome {
    pub exit: Exit,
    pub timed_out: bool,
    /// The callback asked to stop.
    pub stopped: bool,
    pub elapsed: Duration,
}

/// One QEMU run.
pub struct Run<'a> {
    pub args: Vec<String>,
    /// Serial output goes here, complete even if QEMU is killed.
    pub log: &'a Path,
    /// Also copy serial output to our stdout.
    pub echo: bool,
    /// Let QEMU read the terminal (for `run`). Otherwise the serial line's
    /// input is a pipe that carries what the guest asks to be typed: a
    /// serial line `tty: send HEX` ([`TYPE_REQUEST`]) has the bytes HEX
    /// written to it.
    pub stdin: bool,
    /// Text typed on the serial line once a line containing the first
    /// string has been seen (a shell session, typed when the shell starts).
    pub typed: Option<(&'a str, &'a str)>,
    pub timeout: Option<Duration>,
}

/// A guest program asks the harness to type bytes on the serial line:
/// `tty: send 68690a` types "hi\n" (used by `user/c/tty.c`).
pub const TYPE_REQUEST: &str = "tty: send ";

/// The bytes of a [`TYPE_REQUEST`] line, if it is one.
pub fn type_request(line: &str) -> Option<Vec<u8>> {
    let hex = line.trim().strip_prefix(TYPE_REQUEST)?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

enum Event {
    Line(String),
    Eof,
}

/// Runs QEMU, calling `on_line` for each serial line (without the line
/// end). Prints the command line first.
pub fn run(r: &Run<'_>, mut on_line: impl FnMut(&str) -> Flow) -> Result<Outcome> {
    if let Some(dir) = r.log.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::new(format!("creating {}: {e}", dir.display())))?;
    }
    let mut log = File::create(r.log).map_err(|e| Error::new(format!("creating {}: {e}", r.log.display())))?;
    let mut cmd = Command::new(QEMU);
    cmd.args(&r.args)
        .stdin(if r.stdin { Stdio::inherit() } else { Stdio::piped() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    build::announce(&cmd);
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| build::spawn_error(cmd.get_program(), e))?;

    let mut typing = child.stdin.take();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().expect("stdout is piped");
    let echo = r.echo;
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match stdout.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let _ = log.write_all(&buf);
                    let _ = log.flush();
                    if echo {
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(&buf);
                        let _ = out.flush();
                    }
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']).to_string();
                    if tx.send(Event::Line(line)).is_err() {
                        // Nobody listens any more; keep draining into the log.
                    }
                }
            }
        }
        let _ = tx.send(Event::Eof);
    });
    let mut stderr_pipe = child.stderr.take().expect("stderr is piped");
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let mut buf = [0u8; 4096];
        loop {
            match stderr_pipe.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let _ = std::io::stderr().write_all(&buf[..n]);
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        }
        text
    });

    let mut timed_out = false;
    let mut stopped = false;
    let mut serial_seen = false;
    let mut init_status: Option<i32> = None;
    let mut typed = false;
    loop {
        let event = match r.timeout {
            Some(t) => match t.checked_sub(start.elapsed()) {
                Some(left) => rx.recv_timeout(left).map_err(|e| matches!(e, mpsc::RecvTimeoutError::Timeout)),
                None => Err(true),
            },
            None => rx.recv().map_err(|_| false),
        };
        match event {
            Ok(Event::Line(line)) => {
                serial_seen = true;
                if let Some(st) = init_exit_status(&line) {
                    init_status = Some(st);
                }
                if let (Some(bytes), Some(pipe)) = (type_request(&line), typing.as_mut()) {
                    let _ = pipe.write_all(&bytes).and_then(|_| pipe.flush());
                }
                if let (Some((trigger, text)), Some(pipe)) = (r.typed, typing.as_mut()) {
                    if !typed && line.contains(trigger) {
                        typed = true;
                        let _ = pipe.write_all(text.as_bytes()).and_then(|_| pipe.flush());
                    }
                }
                if !stopped && on_line(&line) == Flow::Stop {
                    stopped = true;
                    let _ = child.kill();
                }
            }
            Ok(Event::Eof) | Err(false) => break,
            Err(true) => {
                timed_out = true;
                let _ = child.kill();
                break;
            }
        }
    }
    drop(typing);
    let status = child.wait().map_err(|e| Error::new(format!("waiting for QEMU: {e}")))?;
    let _ = reader.join();
    let stderr_text = err_reader.join().unwrap_or_default();
    let exit = if timed_out || stopped {
        Exit::Killed
    } else {
        widen_status(decode(status.code(), &stderr_text, serial_or_none(serial_seen, &r.args)), init_status)
    };
    Ok(Outcome { exit, timed_out, stopped, elapsed: start.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_requests_decode_hex() {
        assert_eq!(type_request("tty: send 68690a"), Some(b"hi\n".to_vec()));
        assert_eq!(type_request("tty: send 6"), None);
        assert_eq!(type_request("tty: send zz"), None);
        assert_eq!(type_request("something else"), None);
    }

    #[test]
    fn exit_status_decoding() {
        assert_eq!(decode(Some(1), "", true), Exit::Kernel(0));
        assert_eq!(init_exit_status("holdfast: init exited with status 139 (frames: 1)"), Some(139));
        assert_eq!(init_exit_status("something else"), None);
        assert_eq!(widen_status(Exit::Kernel(11), Some(139)), Exit::Kernel(139));
        assert_eq!(widen_status(Exit::Kernel(3), Some(139)), Exit::Kernel(3));
        assert_eq!(decode(Some(3), "", true), Exit::Kernel(1));
        assert_eq!(decode(Some(5), "", true), Exit::Kernel(2));
        assert_eq!(decode(Some(255), "", true), Exit::Kernel(127));
        assert_eq!(decode(Some(0), "", true), Exit::NoExitCode);
        assert_eq!(decode(None, "", true), Exit::Signal);
        // QEMU's own failure looks like kernel code 0 but has an error line.
        let err = "qemu-system-x86_64: -drive format=raw,file=x: Could not open 'x': No such file or directory\n";
        assert!(matches!(decode(Some(1), err, false), Exit::QemuError { status: 1, .. }));
        assert!(matches!(decode(Some(1), "", false), Exit::QemuError { .. }));
        // A warning is not an error.
        let warn = "qemu-system-x86_64: warning: host doesn't support requested feature\n";
        assert_eq!(decode(Some(1), warn, true), Exit::Kernel(0));
        assert!(matches!(decode(Some(2), "", true), Exit::QemuError { status: 2, .. }));
    }

    #[test]
    fn bios_disk_command_line() {
        let mut m = Machine::new(Firmware::Bios, "/t/bios.img".into());
        m.kvm = false;
        let a = args(&m, None).join(" ");
        assert!(a.contains("-drive format=raw,file=/t/bios.img"), "{a}");
        assert!(a.contains("-device isa-debug-exit,iobase=0xf4,iosize=0x04"));
        assert!(a.contains("-no-reboot") && a.contains("-cpu max") && a.contains("-m 1G") && a.contains("-smp 1"));
        assert!(a.contains("-display none") && a.contains("-serial stdio"));
        assert!(!a.contains("-bios") && !a.contains("-s -S") && !a.contains("kvm"));
        m.kvm = true;
        assert!(args(&m, None).join(" ").starts_with("-accel kvm -cpu max"));
        // Instruction-counted time is emulation only.
        m.icount = true;
        let a = args(&m, None).join(" ");
        assert!(a.starts_with("-icount shift=4,sleep=on -cpu max") && !a.contains("kvm"), "{a}");
        m.cpu = "qemu64,+x2apic".into();
        assert!(args(&m, None).join(" ").contains("-cpu qemu64,+x2apic -smp 1"));
    }

    #[test]
    fn uefi_usb_command_line() {
        let mut m = Machine::new(Firmware::Uefi, "/t/uefi.img".into());
        m.attach = Attach::UsbStick;
        m.gdb = true;
        m.display = true;
        m.smp = 4;
        let a = args(&m, Some(Path::new("/o/OVMF.fd"))).join(" ");
        assert!(a.contains("-bios /o/OVMF.fd"), "{a}");
        assert!(a.contains(
            "-device qemu-xhci,id=xhci -drive if=none,id=stick,format=raw,file=/t/uefi.img \
             -device usb-storage,bus=xhci.0,drive=stick"
        ));
        assert!(a.contains("-s -S") && a.contains("-smp 4") && !a.contains("-display none"));
        assert!(!a.contains("-machine") && !a.contains("-qmp") && !a.contains("virtio-blk"), "{a}");
        m.swap_disk = Some("/t/swap.img".into());
        let a = args(&m, Some(Path::new("/o/OVMF.fd"))).join(" ");
        assert!(a.contains("-drive file=/t/swap.img,if=none,id=swap0,format=raw -device virtio-blk-pci,drive=swap0"), "{a}");
        assert!(a.contains("-device usb-storage,bus=xhci.0,drive=stick,bootindex=0"), "{a}");
        m.attach = Attach::Disk;
        let a = args(&m, Some(Path::new("/o/OVMF.fd"))).join(" ");
        assert!(a.contains("-drive if=none,id=boot,format=raw,file=/t/uefi.img -device ide-hd,drive=boot,bootindex=0"), "{a}");
    }

    #[test]
    fn q35_without_serial_with_qmp() {
        let mut m = Machine::new(Firmware::Uefi, "/t/uefi.img".into());
        m.kvm = false;
        m.machine = Some("q35".into());
        m.serial = false;
        m.qmp = Some("/t/qmp.sock".into());
        let a = args(&m, Some(Path::new("/o/OVMF.fd"))).join(" ");
        assert!(a.starts_with("-machine q35 -cpu max"), "{a}");
        assert!(a.contains("-serial none") && !a.contains("-serial stdio"), "{a}");
        assert!(a.contains("-device isa-debug-exit,iobase=0xf4,iosize=0x04"), "{a}");
        assert!(a.contains("-qmp unix:/t/qmp.sock,server=on,wait=off"), "{a}");
    }

    #[test]
    fn without_serial_the_exit_code_alone_counts() {
        // Kernel status 0 is QEMU status 1, which without any serial output
        // would otherwise pass for QEMU failing early.
        assert_eq!(decode(Some(1), "", serial_or_none(false, &["-serial".into(), "none".into()])), Exit::Kernel(0));
        assert!(matches!(
            decode(Some(1), "", serial_or_none(false, &["-serial".into(), "stdio".into()])),
            Exit::QemuError { .. }
        ));
        let err = "qemu-system-x86_64: -drive format=raw,file=x: Could not open 'x'\n";
        assert!(matches!(
            decode(Some(1), err, serial_or_none(false, &["-serial".into(), "none".into()])),
            Exit::QemuError { .. }
        ));
    }
}
