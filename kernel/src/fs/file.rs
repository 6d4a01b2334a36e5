//! Open files and the per-process file-descriptor table.
//!
//! Holdfast's files: the console (fds 0-2: reads see end of file, writes
//! go to every console), read-only initrd files, `/proc` files (generated
//! when opened, like a `seq_file` snapshot), and the writable
//! `/proc/sys/vm/mlock_populate` switch.
//!
//! Locking: the table is behind the process's `IrqMutex`; a file's offset
//! has its own. Data is copied to and from user memory outside both.

use alloc::sync::Arc;
use alloc::vec::Vec;
use mm::Errno;

use crate::sync::IrqMutex;

/// What an open file is.
pub enum FileKind {
    Console,
    /// Read-only bytes (an initrd file or a generated /proc snapshot).
    Bytes(FileBytes),
    /// `/proc/sys/vm/mlock_populate`: reads the strategy, writes select one.
    MlockPopulateSysctl,
}

/// Borrowed (initrd) or owned (generated) contents.
pub enum FileBytes {
    Static(&'static [u8]),
    Owned(Vec<u8>),
}

impl FileBytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            FileBytes::Static(s) => s,
            FileBytes::Owned(v) => v,
        }
    }
}

/// An open file description.
pub struct File {
    pub kind: FileKind,
    pos: IrqMutex<u64>,
}

/// `st_mode` bits.
pub const S_IFREG: u32 = 0o100000;
pub const S_IFCHR: u32 = 0o020000;

impl File {
    pub fn new(kind: FileKind) -> Arc<File> {
        Arc::new(File { kind, pos: IrqMutex::new(0) })
    }

    /// Read at the current offset into `buf`; returns bytes read (0 = EOF).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        let sysctl;
        let data: &[u8] = match &self.kind {
            FileKind::Console => return Ok(0),
            FileKind::Bytes(b) => b.as_slice(),
            FileKind::MlockPopulateSysctl => {
                sysctl = alloc::format!("{}\n", mm::populate::global_strategy().name());
                sysctl.as_bytes()
            }
        };
        let mut pos = self.pos.lock();
        let start = (*pos as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        *pos += n as u64;
        Ok(n)
    }

    /// Write `data` (the console and the sysctl are writable).
    pub fn write(&self, data: &[u8]) -> Result<usize, Errno> {
        match &self.kind {
            FileKind::Console => {
                crate::kprint!("{}", alloc::string::String::from_utf8_lossy(data));
                Ok(data.len())
            }
            FileKind::Bytes(_) => Err(Errno::EBADF),
            FileKind::MlockPopulateSysctl => {
                let name = core::str::from_utf8(data).map_err(|_| Errno::EINVAL)?.trim();
                let s = mm::populate::PopulateStrategy::from_name(name).ok_or(Errno::EINVAL)?;
                mm::populate::set_global_strategy(s);
                Ok(data.len())
            }
        }
    }

    /// `lseek`.
    pub fn lseek(&self, off: i64, whence: u32) -> Result<u64, Errno> {
        let size = self.size() as i64;
        let mut pos = self.pos.lock();
        let new = match (&self.kind, whence) {
            (FileKind::Console, _) => return Err(Errno::ESPIPE),
            (_, 0) => off,
            (_, 1) => *pos as i64 + off,
            (_, 2) => size + off,
            _ => return Err(Errno::EINVAL),
        };
        if new < 0 {
            return Err(Errno::EINVAL);
        }
        *pos = new as u64;
        Ok(new as u64)
    }

    pub fn size(&self) -> u64 {
        match &self.kind {
            FileKind::Bytes(b) => b.as_slice().len() as u64,
            _ => 0,
        }
    }

    pub fn mode(&self) -> u32 {
        match &self.kind {
            FileKind::Console => S_IFCHR | 0o620,
            FileKind::Bytes(_) => S_IFREG | 0o444,
            FileKind::MlockPopulateSysctl => S_IFREG | 0o644,
        }
    }

    pub fn is_tty(&self) -> bool {
        matches!(self.kind, FileKind::Console)
    }
}

/// A process's file descriptors.
pub struct FdTable {
    fds: Vec<Option<Arc<File>>>,
}

/// Most descriptors a process may hold (RLIMIT_NOFILE's default).
const MAX_FDS: usize = 1024;

impl FdTable {
    /// stdin, stdout and stderr on the console.
    pub fn with_console() -> FdTable {
        let c = File::new(FileKind::Console);
        FdTable { fds: alloc::vec![Some(c.clone()), Some(c.clone()), Some(c)] }
    }

    /// Install `f` at the lowest free descriptor.
    pub fn install(&mut self, f: Arc<File>) -> Result<i32, Errno> {
        if let Some(i) = self.fds.iter().position(Option::is_none) {
            self.fds[i] = Some(f);
            return Ok(i as i32);
        }
        if self.fds.len() >= MAX_FDS {
            return Err(Errno::EMFILE);
        }
        self.fds.push(Some(f));
        Ok(self.fds.len() as i32 - 1)
    }

    pub fn get(&self, fd: i32) -> Result<Arc<File>, Errno> {
        usize::try_from(fd).ok().and_then(|i| self.fds.get(i)).and_then(Clone::clone).ok_or(Errno::EBADF)
    }

    pub fn close(&mut self, fd: i32) -> Result<(), Errno> {
        let slot = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)).ok_or(Errno::EBADF)?;
        slot.take().map(|_| ()).ok_or(Errno::EBADF)
    }

    pub fn close_all(&mut self) {
        self.fds.clear();
    }
}
