//! Host library that turns a Holdfast kernel ELF (plus an optional initrd)
//! into bootable disk images, using the `bootloader` crate 0.11.
//!
//! - [`create_images`] writes a BIOS (MBR) image and/or a UEFI (GPT) image.
//!   Either one can be written raw to a USB stick and booted on a PC.
//! - [`cpio`] (the workspace's `cpio` crate, re-exported) writes the `newc`
//!   archive that serves as the initrd. The bootloader loads it into memory
//!   as the "ramdisk" and tells the kernel where it is; the kernel's command line travels inside it as `/cmdline`
//!   (bootloader 0.11 has no command line of its own).
//!
//! Nothing here panics on bad input: every failure is an [`Error`] that
//! names the file involved.

pub use cpio;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use bootloader::BootConfig;

/// Which firmware an image is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Firmware {
    /// Legacy BIOS: MBR disk, bootloader stages in the boot sector and a FAT partition.
    Bios,
    /// UEFI: GPT disk with an EFI system partition holding `efi/boot/bootx64.efi`.
    Uefi,
}

impl fmt::Display for Firmware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Firmware::Bios => "BIOS",
            Firmware::Uefi => "UEFI",
        })
    }
}

/// Everything that can go wrong while building images or an initrd.
#[derive(Debug)]
pub enum Error {
    /// The kernel ELF does not exist or cannot be read.
    MissingKernel(PathBuf),
    /// The file is not an ELF executable (checked by its magic).
    NotElf(PathBuf),
    /// The initrd file does not exist or cannot be read.
    MissingRamdisk(PathBuf),
    /// Reading or writing a file failed.
    Io {
        /// What we were doing, e.g. "writing initrd".
        what: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The initrd could not be encoded.
    Cpio(cpio::CpioError),
    /// The bootloader failed to create an image (its message, with causes).
    Image {
        /// Which image.
        firmware: Firmware,
        /// Where it was to be written.
        path: PathBuf,
        /// The bootloader's error chain.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::MissingKernel(p) => write!(f, "kernel ELF {} not found or unreadable", p.display()),
            Error::NotElf(p) => write!(f, "{} is not an ELF file", p.display()),
            Error::MissingRamdisk(p) => write!(f, "initrd {} not found or unreadable", p.display()),
            Error::Io { what, path, source } => write!(f, "{what} {}: {source}", path.display()),
            Error::Cpio(e) => write!(f, "{e}"),
            Error::Image { firmware, path, message } => {
                write!(f, "creating the {firmware} image {} failed: {message}", path.display())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Cpio(e) => Some(e),
            _ => None,
        }
    }
}

impl From<cpio::CpioError> for Error {
    fn from(e: cpio::CpioError) -> Self {
        Error::Cpio(e)
    }
}

/// What to put into the images.
#[derive(Debug, Clone)]
pub struct ImageInput<'a> {
    /// The kernel ELF (`target/x86_64-unknown-none/release/kernel` or a copy).
    pub kernel: &'a Path,
    /// The initrd (a cpio archive), loaded by the bootloader as the ramdisk.
    pub ramdisk: Option<&'a Path>,
    /// Write framebuffer log messages while booting. They are useful on
    /// real hardware but slow under QEMU's TCG emulation.
    pub framebuffer_logging: bool,
}

impl<'a> ImageInput<'a> {
    /// Kernel and optional ramdisk, framebuffer logging on.
    pub fn new(kernel: &'a Path, ramdisk: Option<&'a Path>) -> Self {
        ImageInput { kernel, ramdisk, framebuffer_logging: true }
    }

    fn boot_config(&self) -> BootConfig {
        let mut config = BootConfig::default();
        config.frame_buffer_logging = self.framebuffer_logging;
        config.serial_logging = true;
        config
    }

    fn check(&self) -> Result<(), Error> {
        let mut magic = [0u8; 4];
        let read = std::fs::File::open(self.kernel).and_then(|mut f| io::Read::read_exact(&mut f, &mut magic));
        if read.is_err() {
            return Err(Error::MissingKernel(self.kernel.to_path_buf()));
        }
        if &magic != b"\x7fELF" {
            return Err(Error::NotElf(self.kernel.to_path_buf()));
        }
        if let Some(r) = self.ramdisk {
            if std::fs::File::open(r).is_err() {
                return Err(Error::MissingRamdisk(r.to_path_buf()));
            }
        }
        Ok(())
    }
}

/// Writes the BIOS image to `bios` and the UEFI image to `uefi` (each if
/// given), creating parent directories as needed.
pub fn create_images(input: &ImageInput<'_>, bios: Option<&Path>, uefi: Option<&Path>) -> Result<(), Error> {
    input.check()?;
    let config = input.boot_config();
    for (firmware, out) in [(Firmware::Bios, bios), (Firmware::Uefi, uefi)] {
        let Some(out) = out else { continue };
        if let Some(dir) = out.parent() {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io { what: "creating directory", path: dir.to_path_buf(), source })?;
        }
        let result = match firmware {
            Firmware::Bios => {
                let mut b = bootloader::BiosBoot::new(input.kernel);
                if let Some(r) = input.ramdisk {
                    b.set_ramdisk(r);
                }
                b.set_boot_config(&config);
                b.create_disk_image(out)
            }
            Firmware::Uefi => {
                let mut b = bootloader::UefiBoot::new(input.kernel);
                if let Some(r) = input.ramdisk {
                    b.set_ramdisk(r);
                }
                b.set_boot_config(&config);
                b.create_disk_image(out)
            }
        };
        result.map_err(|e| Error::Image { firmware, path: out.to_path_buf(), message: format!("{e:#}") })?;
    }
    Ok(())
}

/// Writes a `newc` initrd holding `entries` to `path`.
pub fn write_initrd(path: &Path, entries: &[cpio::Entry]) -> Result<(), Error> {
    let bytes = cpio::archive_bytes(entries)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { what: "creating directory", path: dir.to_path_buf(), source })?;
    }
    std::fs::write(path, bytes).map_err(|source| Error::Io { what: "writing initrd", path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("holdfast-boot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn missing_kernel_is_an_error_not_a_panic() {
        let k = tmp("does-not-exist.elf");
        let err = create_images(&ImageInput::new(&k, None), Some(&tmp("x.img")), None).unwrap_err();
        assert!(matches!(err, Error::MissingKernel(_)));
        assert!(err.to_string().contains("does-not-exist.elf"));
    }

    #[test]
    fn non_elf_kernel_is_rejected() {
        let k = tmp("not-an-elf");
        std::fs::write(&k, b"hello").unwrap();
        let err = create_images(&ImageInput::new(&k, None), None, Some(&tmp("y.img"))).unwrap_err();
        assert!(matches!(err, Error::NotElf(_)), "{err}");
    }

    #[test]
    fn missing_ramdisk_is_reported() {
        let k = tmp("fake.elf");
        std::fs::write(&k, b"\x7fELF....").unwrap();
        let r = tmp("no-initrd.cpio");
        let err = create_images(&ImageInput::new(&k, Some(&r)), None, None).unwrap_err();
        assert!(matches!(err, Error::MissingRamdisk(_)), "{err}");
    }

    #[test]
    fn initrd_is_written() {
        let p = tmp("sub/initrd.cpio");
        write_initrd(&p, &[cpio::Entry::file("/cmdline", 0o644, b"stay\n".to_vec())]).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        assert!(bytes.starts_with(b"070701"));
        assert_eq!(bytes.len() % 4, 0);
    }
}
