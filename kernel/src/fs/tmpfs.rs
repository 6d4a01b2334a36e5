//! tmpfs: the writable in-memory file system mounted at `/` (Linux's
//! `mm/shmem.c` with `fs/libfs.c`'s directories).
//!
//! An [`Inode`] is a directory, a regular file, a symbolic link or a
//! character device (`/dev/null`, `/dev/zero`), with Linux's attributes:
//! mode, uid, gid, link count, and access/modify/change times. There is no
//! separate dentry cache: a directory maps each name to its child inode,
//! and a directory knows its parent (for `..` and `getcwd`). A name is
//! also given a cookie, increasing and never reused within the directory,
//! which is the `getdents64` offset: listing while entries are removed or
//! added never repeats or skips a surviving one.
//!
//! File data lives in whole 4 KiB frames held by a shmem object
//! ([`mm::shmem::Shmem`], the file's page cache) by page offset; mappings
//! of the file map the same frames, so `read`/`write` and stores through
//! a shared mapping see each other. A page never written is a hole and
//! reads as zeros. Files copied
//! from the initrd at boot keep the initrd's bytes as a read-only backing
//! (no copy, nothing charged): a page written is copied from the backing
//! first, the whole backing is copied into pages when the file is first
//! mapped or executed, and the backing is cut when the file is truncated.
//! The pages `write` adds are charged against the size limit, half of RAM
//! as Linux's default: past it a write is `ENOSPC`; a frame the allocator
//! refuses is `ENOMEM`. (Pages a shared mapping faults in are not
//! charged.) A file that shrinks takes its pages past the end out of
//! every address space that maps them ([`Truncation`]), then frees them.
//!
//! An inode lives as long as a directory entry, an open file or a working
//! directory holds it: an unlinked file that is still open keeps its data
//! until the last close.
//!
//! Locking: every change to the tree (create, link, unlink, rename, rmdir)
//! holds [`TREE`], then the directories' own locks; a lookup takes one
//! directory lock at a time. Lock order: `TREE` > directory > `meta` >
//! file data > the file's shmem object > frame allocator. User memory is
//! never touched under any of them, and no address space's lock is taken
//! under them: a [`Truncation`] unmaps after the file data lock is gone.

use alloc::collections::BTreeMap;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use mm::Errno;

use super::namei::Device;
use crate::memory::page;
use crate::memory::phys::KernelPhys;
use crate::sync::IrqMutex;
use mm::pgtable::PhysMem;
use mm::shmem::{IndexEntry, Shmem, F_SEAL_FUTURE_WRITE, F_SEAL_GROW, F_SEAL_SHRINK, F_SEAL_WRITE};

pub const PAGE_SIZE: u64 = 4096;

/// `st_mode` type bits.
pub const S_IFMT: u32 = 0o170000;
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFLNK: u32 = 0o120000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_ISUID: u32 = 0o4000;
pub const S_ISGID: u32 = 0o2000;
pub const S_ISVTX: u32 = 0o1000;

/// The file system's device as `/proc/<pid>/maps` shows it (major, minor:
/// `st_dev` 0x1d).
pub const MAPS_DEV: (u32, u32) = (0, 0x1d);

/// Largest file size (`MAX_LFS_FILESIZE`).
pub const MAX_FILESIZE: u64 = i64::MAX as u64;

/// Serialises every change to the directory tree (Linux's per-directory
/// `i_rwsem`s and `s_vfs_rename_mutex`, as one lock).
pub static TREE: IrqMutex<()> = IrqMutex::new(());

static NEXT_INO: AtomicU64 = AtomicU64::new(1);
/// Pages charged to tmpfs, and the most it may hold.
static USED_PAGES: AtomicU64 = AtomicU64::new(0);
static MAX_PAGES: AtomicU64 = AtomicU64::new(0);
static ROOT: spin::Once<Arc<Inode>> = spin::Once::new();

/// The time now, for timestamps: nanoseconds since the epoch.
pub fn now() -> u64 {
    crate::arch::rtc::boot_epoch_ns() + crate::arch::time::now_ns()
}

/// An inode's attributes.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    /// Type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub atime: u64,
    pub mtime: u64,
    pub ctime: u64,
}

/// One file of the file system.
pub struct Inode {
    pub ino: u64,
    pub meta: IrqMutex<Meta>,
    pub kind: InodeKind,
}

pub enum InodeKind {
    Dir(IrqMutex<Dir>),
    File(IrqMutex<FileData>),
    Symlink(Vec<u8>),
    Chr(Device),
}

/// A directory's entries.
pub struct Dir {
    /// The parent (the root's is empty: its `..` is itself).
    pub parent: Weak<Inode>,
    by_name: BTreeMap<Vec<u8>, u64>,
    by_cookie: BTreeMap<u64, (Vec<u8>, Arc<Inode>)>,
    next_cookie: u64,
    /// Removed (`rmdir`): nothing may be created in it.
    pub dead: bool,
    /// `/proc` is mounted here.
    pub proc_mount: bool,
}

/// A path naming `target` (a file may have several names: the first found
/// in a depth-first search from the root), `None` if it has none. Takes
/// one directory lock at a time; `ENOMEM` counts as not found.
pub fn find_path(target: &Arc<Inode>) -> Option<Vec<u8>> {
    let mut stack: Vec<(Arc<Inode>, Vec<u8>)> = Vec::new();
    stack.try_reserve(1).ok()?;
    stack.push((root(), Vec::new()));
    while let Some((dir, path)) = stack.pop() {
        let Some(d) = dir.dir() else { continue };
        let mut entries: Vec<(Vec<u8>, Arc<Inode>)> = Vec::new();
        {
            let d = d.lock();
            entries.try_reserve_exact(d.by_cookie.len()).ok()?;
            entries.extend(d.by_cookie.values().cloned());
        }
        for (name, child) in entries {
            let mut p = Vec::new();
            p.try_reserve_exact(path.len() + 1 + name.len()).ok()?;
            p.extend_from_slice(&path);
            p.push(b'/');
            p.extend_from_slice(&name);
            if Arc::ptr_eq(&child, target) {
                return Some(p);
            }
            if child.is_dir() {
                stack.try_reserve(1).ok()?;
                stack.push((child, p));
            }
        }
    }
    None
}

/// The first cookie of a name; 0 and 1 are `.` and `..`.
pub const FIRST_COOKIE: u64 = 2;

impl Dir {
    fn new(parent: Weak<Inode>) -> Dir {
        Dir { parent, by_name: BTreeMap::new(), by_cookie: BTreeMap::new(), next_cookie: FIRST_COOKIE, dead: false, proc_mount: false }
    }

    pub fn get(&self, name: &[u8]) -> Option<Arc<Inode>> {
        let c = self.by_name.get(name)?;
        self.by_cookie.get(c).map(|(_, i)| i.clone())
    }

    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The first entry at or after cookie `from`: (cookie, name, inode).
    pub fn entry_from(&self, from: u64) -> Option<(u64, Vec<u8>, Arc<Inode>)> {
        self.by_cookie.range(from..).next().map(|(c, (n, i))| (*c, n.clone(), i.clone()))
    }

    /// The name under which `child` is listed.
    pub fn name_of(&self, child: &Arc<Inode>) -> Option<Vec<u8>> {
        self.by_cookie.values().find(|(_, i)| Arc::ptr_eq(i, child)).map(|(n, _)| n.clone())
    }

    fn insert(&mut self, name: Vec<u8>, inode: Arc<Inode>) -> Result<(), Errno> {
        let c = self.next_cookie;
        self.by_cookie.try_insert_or_enomem(c, (name.clone(), inode))?;
        self.by_name.insert(name, c);
        self.next_cookie += 1;
        Ok(())
    }

    fn remove(&mut self, name: &[u8]) -> Option<Arc<Inode>> {
        let c = self.by_name.remove(name)?;
        self.by_cookie.remove(&c).map(|(_, i)| i)
    }
}

/// `BTreeMap` insertion that reports heap exhaustion instead of aborting
/// (the node allocation is tried first with a probe of the same size).
trait TryInsert<K, V> {
    fn try_insert_or_enomem(&mut self, k: K, v: V) -> Result<(), Errno>;
}

impl<K: Ord, V> TryInsert<K, V> for BTreeMap<K, V> {
    fn try_insert_or_enomem(&mut self, k: K, v: V) -> Result<(), Errno> {
        // A B-tree node is a few hundred bytes: if 1 KiB cannot be had the
        // insert would abort the kernel, so refuse it first.
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(1024).map_err(|_| Errno::ENOMEM)?;
        drop(probe);
        self.insert(k, v);
        Ok(())
    }
}

/// A regular file's data: its pages live in a shmem object (Linux: the
/// inode's page cache), which mappings of the file map and the inode pins.
pub struct FileData {
    pub size: u64,
    /// The file's pages, by page offset.
    obj: Arc<Shmem>,
    /// The initrd's bytes under pages not yet written (cut at `size`;
    /// empty once the file was mapped: [`FileData::mmap_object`]).
    backing: &'static [u8],
    /// Pages charged to the size limit (added by writes; pages a shared
    /// mapping faults in are not charged).
    charged: u64,
}

/// A shrink of a file's size, finished outside the file's lock
/// ([`FileData::truncate`]): when dropped, the pages past the new end
/// leave every address space that maps them, then the object.
#[must_use = "the pages cut off are unmapped and freed when dropped"]
pub struct Truncation {
    obj: Arc<Shmem>,
    from: u64,
    detached: Vec<u64>,
}

impl Drop for Truncation {
    fn drop(&mut self) {
        if self.obj.mappers() > 0 {
            for p in crate::proc::all() {
                p.mm().unmap_mapping_pages(&self.obj, self.from);
            }
        }
        self.obj.put_detached(&self.detached, crate::proc::usermm::page_meta(), &KernelPhys);
    }
}

impl FileData {
    fn new(backing: &'static [u8], ino: u64) -> FileData {
        let size = backing.len() as u64;
        let obj = Arc::new(Shmem::new_with_ino(size.div_ceil(PAGE_SIZE), ino));
        obj.pin();
        FileData { size, obj, backing, charged: 0 }
    }

    /// Pages holding data: written ones and unshadowed backing ones
    /// (`st_blocks` is this times 8).
    pub fn nr_pages(&self) -> u64 {
        let backing = (self.backing.len() as u64).div_ceil(PAGE_SIZE);
        let shadowed = (0..backing).filter(|&i| self.obj.lookup(i) != IndexEntry::Hole).count() as u64;
        (self.obj.nr_cached() + self.obj.nr_swapped()) as u64 + backing - shadowed
    }

    /// Copy bytes at `pos` into `out` (up to the end of the file and of
    /// the page `pos` is in); returns how many. A page in swap is swapped
    /// in first (the caller should have done that before taking the
    /// file's lock, [`swapin_before_lock`]; reclaim may have taken it again
    /// since).
    /// Errors: `ENOMEM`, `EIO` (the swap-in failed).
    pub fn read_page(&self, pos: u64, out: &mut [u8]) -> Result<usize, Errno> {
        if pos >= self.size {
            return Ok(0);
        }
        let off = (pos % PAGE_SIZE) as usize;
        let n = out.len().min(PAGE_SIZE as usize - off).min((self.size - pos) as usize);
        let meta = crate::proc::usermm::page_meta();
        if let Some(pa) = self.obj.get_page(meta, &KernelPhys, pos / PAGE_SIZE)? {
            page::copy_from_frame(pa, off, &mut out[..n]);
            put_page(pa);
        } else {
            out[..n].fill(0);
            let b = self.backing;
            if (pos as usize) < b.len() {
                let m = n.min(b.len() - pos as usize);
                out[..m].copy_from_slice(&b[pos as usize..pos as usize + m]);
            }
        }
        Ok(n)
    }

    /// Write `data` at `pos` (within one page), growing the file: a new
    /// page is charged to the size limit (`ENOSPC`) and allocated
    /// (`ENOMEM`).
    pub fn write_page(&mut self, pos: u64, data: &[u8]) -> Result<(), Errno> {
        let index = pos / PAGE_SIZE;
        let off = (pos % PAGE_SIZE) as usize;
        let end = pos + data.len() as u64;
        let old_pages = self.obj.nr_pages();
        if end > self.size {
            self.obj.set_nr_pages(end.div_ceil(PAGE_SIZE).max(old_pages));
        }
        let mut refused = None;
        let got = self.obj.find_or_add_swapin(crate::proc::usermm::page_meta(), &KernelPhys, index, || match charge_page() {
            Ok(pa) => Some(pa),
            Err(e) => {
                refused = Some(e);
                None
            }
        });
        let (pa, new) = match got {
            Ok(r) => r,
            Err(e) => {
                self.obj.set_nr_pages(old_pages);
                return Err(refused.unwrap_or(e));
            }
        };
        if new {
            self.charged += 1;
            let start = (index * PAGE_SIZE) as usize;
            if start < self.backing.len() {
                let m = (self.backing.len() - start).min(PAGE_SIZE as usize);
                page::copy_to_frame(pa, 0, &self.backing[start..start + m]);
            }
        }
        page::copy_to_frame(pa, off, data);
        // The reference find_or_add took for this write.
        put_page(pa);
        self.size = self.size.max(end);
        Ok(())
    }

    /// Set the size (`shmem_setattr`'s truncation): growing makes a hole;
    /// shrinking cuts the backing, zeroes the tail of a cut page, and takes
    /// the pages past the end out of the file, to be unmapped everywhere
    /// and freed when the returned [`Truncation`] drops (outside the
    /// caller's locks: it takes address spaces' `mmap_lock`s).
    /// Errors: `EPERM` a smaller size under `F_SEAL_SHRINK`, a larger one
    /// under `F_SEAL_GROW`; `ENOMEM` (nothing changed).
    pub fn truncate(&mut self, size: u64) -> Result<Option<Truncation>, Errno> {
        let seals = self.obj.seals();
        if (size < self.size && seals & F_SEAL_SHRINK != 0) || (size > self.size && seals & F_SEAL_GROW != 0) {
            return Err(Errno::EPERM);
        }
        if size >= self.size {
            self.size = size;
            self.obj.set_nr_pages(size.div_ceil(PAGE_SIZE));
            return Ok(None);
        }
        let keep = size.div_ceil(PAGE_SIZE);
        // The tail of a page cut in two reads as zeros from now on (in
        // RAM for that: a page in swap is swapped in).
        if !size.is_multiple_of(PAGE_SIZE) {
            if let Some(pa) = self.obj.get_page(crate::proc::usermm::page_meta(), &KernelPhys, size / PAGE_SIZE)? {
                page::zero_frame_from(pa, (size % PAGE_SIZE) as usize);
                put_page(pa);
            }
        }
        // The size first: a fault past it from now on is SIGBUS, so no
        // page is added there while the others are taken out.
        let old_pages = self.obj.nr_pages();
        self.obj.set_nr_pages(keep);
        let detached = match self.obj.detach_pages_from(keep) {
            Ok(d) => d,
            Err(e) => {
                self.obj.set_nr_pages(old_pages);
                return Err(e);
            }
        };
        let gone = (detached.len() as u64).min(self.charged);
        self.charged -= gone;
        uncharge(gone);
        if (self.backing.len() as u64) > size {
            self.backing = &self.backing[..size as usize];
        }
        self.size = size;
        Ok(Some(Truncation { obj: self.obj.clone(), from: keep, detached }))
    }

    /// The file's shmem object (its pages and its seals).
    pub fn object(&self) -> &Arc<Shmem> {
        &self.obj
    }

    /// Linux `shmem_write_begin`'s seal checks for a write of `len`
    /// bytes at `pos`: how many of them may be written. Under
    /// `F_SEAL_WRITE` or `F_SEAL_FUTURE_WRITE` none (`EPERM`); under
    /// `F_SEAL_GROW` those before the end (`EPERM` if none is).
    pub fn sealed_write_len(&self, pos: u64, len: usize) -> Result<usize, Errno> {
        let seals = self.obj.seals();
        if seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0 {
            return Err(Errno::EPERM);
        }
        if seals & F_SEAL_GROW != 0 && pos + len as u64 > self.size {
            if pos >= self.size {
                return Err(Errno::EPERM);
            }
            return Ok((self.size - pos) as usize);
        }
        Ok(len)
    }

    /// Name the file's pages in `/proc/<pid>/maps` (a memfd's name).
    pub fn label(&self, name: alloc::sync::Arc<str>, dev: (u32, u32)) {
        self.obj.set_label(name, dev);
    }

    /// The object to map (`shmem_mmap`): the initrd's bytes, if any are
    /// left, are first copied into pages of their own (the page cache
    /// holds every page a mapping can see).
    /// Errors: `ENOSPC`/`ENOMEM` as a write.
    pub fn mmap_object(&mut self) -> Result<Arc<Shmem>, Errno> {
        let backing = self.backing;
        let pages = (backing.len() as u64).div_ceil(PAGE_SIZE);
        for i in 0..pages {
            if self.obj.lookup(i) == IndexEntry::Hole {
                let start = (i * PAGE_SIZE) as usize;
                let end = (start + PAGE_SIZE as usize).min(backing.len());
                self.write_page(i * PAGE_SIZE, &backing[start..end])?;
            }
        }
        self.backing = &[];
        Ok(self.obj.clone())
    }
}

/// Drop a reference [`Shmem::get_page`] or [`Shmem::find_or_add`] took
/// (never the last: the object holds one while the page is in it, and a
/// page taken out meanwhile is freed by whoever drops the last).
fn put_page(pa: u64) {
    let meta = crate::proc::usermm::page_meta();
    if let Some(folio) = meta.get(pa) {
        if let Ok(true) = meta.put_page(folio) {
            KernelPhys.free_frame(pa);
        }
    }
}

/// Swap in page `pos / PAGE_SIZE` of `file` if it is in swap, before the
/// caller takes the file's lock (which is held with interrupts off: a
/// disk read is better done outside it). Failures are left for the read
/// or write under the lock to meet again and report.
pub fn swapin_before_lock(file: &IrqMutex<FileData>, pos: u64) {
    let obj = file.lock().obj.clone();
    if matches!(obj.lookup(pos / PAGE_SIZE), IndexEntry::Swapped(_)) {
        let _ = obj.shmem_swapin(crate::proc::usermm::page_meta(), &KernelPhys, pos / PAGE_SIZE, &mut None);
    }
}

impl Drop for FileData {
    fn drop(&mut self) {
        uncharge(self.charged);
        self.obj.unpin(crate::proc::usermm::page_meta(), &KernelPhys);
    }
}

/// Charge one page to the size limit and allocate it (zeroed).
fn charge_page() -> Result<u64, Errno> {
    let max = MAX_PAGES.load(Ordering::Relaxed);
    USED_PAGES
        .try_update(Ordering::Relaxed, Ordering::Relaxed, |u| (u < max).then_some(u + 1))
        .map_err(|_| Errno::ENOSPC)?;
    crate::memory::frame::alloc_user().ok_or_else(|| {
        uncharge(1);
        Errno::ENOMEM
    })
}

fn uncharge(n: u64) {
    USED_PAGES.fetch_sub(n, Ordering::Relaxed);
}

impl Inode {
    /// A new inode (not yet in any directory, link count 0 for files and
    /// 2 for directories as `shmem_mknod` with `inc_nlink` makes them).
    pub fn new(mode: u32, uid: u32, gid: u32, kind: InodeKind) -> Result<Arc<Inode>, Errno> {
        Inode::new_with_ino(NEXT_INO.fetch_add(1, Ordering::Relaxed), mode, uid, gid, kind)
    }

    /// [`Inode::new`] with its inode number already taken.
    fn new_with_ino(ino: u64, mode: u32, uid: u32, gid: u32, kind: InodeKind) -> Result<Arc<Inode>, Errno> {
        let t = now();
        let meta = Meta { mode, uid, gid, nlink: 0, atime: t, mtime: t, ctime: t };
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(256).map_err(|_| Errno::ENOMEM)?;
        drop(probe);
        Ok(Arc::new(Inode { ino, meta: IrqMutex::new(meta), kind }))
    }

    pub fn new_dir(mode: u32, uid: u32, gid: u32, parent: Weak<Inode>) -> Result<Arc<Inode>, Errno> {
        Inode::new(S_IFDIR | (mode & 0o7777), uid, gid, InodeKind::Dir(IrqMutex::new(Dir::new(parent))))
    }

    pub fn new_file(mode: u32, uid: u32, gid: u32, backing: &'static [u8]) -> Result<Arc<Inode>, Errno> {
        let ino = NEXT_INO.fetch_add(1, Ordering::Relaxed);
        let data = FileData::new(backing, ino);
        Inode::new_with_ino(ino, S_IFREG | (mode & 0o7777), uid, gid, InodeKind::File(IrqMutex::new(data)))
    }

    pub fn new_symlink(target: &[u8], uid: u32, gid: u32) -> Result<Arc<Inode>, Errno> {
        let mut t = Vec::new();
        t.try_reserve_exact(target.len()).map_err(|_| Errno::ENOMEM)?;
        t.extend_from_slice(target);
        Inode::new(S_IFLNK | 0o777, uid, gid, InodeKind::Symlink(t))
    }

    pub fn meta(&self) -> Meta {
        *self.meta.lock()
    }

    pub fn mode(&self) -> u32 {
        self.meta.lock().mode
    }

    pub fn is_dir(&self) -> bool {
        matches!(self.kind, InodeKind::Dir(_))
    }

    pub fn dir(&self) -> Option<&IrqMutex<Dir>> {
        match &self.kind {
            InodeKind::Dir(d) => Some(d),
            _ => None,
        }
    }

    pub fn file(&self) -> Option<&IrqMutex<FileData>> {
        match &self.kind {
            InodeKind::File(f) => Some(f),
            _ => None,
        }
    }

    /// `st_size`: data length, link target length, or 0 for directories
    /// (Linux's tmpfs counts entries times `BOGO_DIRENT_SIZE`).
    pub fn size(&self) -> u64 {
        match &self.kind {
            InodeKind::File(f) => f.lock().size,
            InodeKind::Symlink(t) => t.len() as u64,
            InodeKind::Dir(d) => d.lock().by_name.len() as u64 * 20,
            InodeKind::Chr(_) => 0,
        }
    }

    /// `st_blocks` (512-byte units): the pages a file holds.
    pub fn blocks(&self) -> u64 {
        match &self.kind {
            InodeKind::File(f) => f.lock().nr_pages() * 8,
            _ => 0,
        }
    }

    /// `d_type` for `getdents64`.
    pub fn d_type(&self) -> u8 {
        match &self.kind {
            InodeKind::Dir(_) => 4,
            InodeKind::File(_) => 8,
            InodeKind::Symlink(_) => 10,
            InodeKind::Chr(_) => 2,
        }
    }

    /// Mark the data changed (mtime and ctime).
    pub fn touch_mc(&self) {
        let t = now();
        let mut m = self.meta.lock();
        m.mtime = t;
        m.ctime = t;
    }

    /// Mark the attributes changed (ctime).
    pub fn touch_c(&self) {
        self.meta.lock().ctime = now();
    }

    /// Is this directory (one) an ancestor of, or `other` itself?
    pub fn is_ancestor_of(self: &Arc<Inode>, other: &Arc<Inode>) -> bool {
        let mut at = other.clone();
        loop {
            if Arc::ptr_eq(&at, self) {
                return true;
            }
            let up = at.dir().and_then(|d| d.lock().parent.upgrade());
            match up {
                Some(p) if !Arc::ptr_eq(&p, &at) => at = p,
                _ => return false,
            }
        }
    }
}

/// The root directory.
pub fn root() -> Arc<Inode> {
    ROOT.get().expect("tmpfs::init not called").clone()
}

/// Put `inode` in `dir` as `name` (holding [`TREE`]): a directory's
/// parent link and the link counts follow. `EEXIST` if the name is taken,
/// `ENOENT` if `dir` was removed.
pub fn link_into(_tree: &(), dir: &Arc<Inode>, name: &[u8], inode: Arc<Inode>) -> Result<(), Errno> {
    let d = dir.dir().ok_or(Errno::ENOTDIR)?;
    let mut d = d.lock();
    if d.dead {
        return Err(Errno::ENOENT);
    }
    if d.by_name.contains_key(name) {
        return Err(Errno::EEXIST);
    }
    let is_dir = inode.is_dir();
    if let Some(sub) = inode.dir() {
        sub.lock().parent = Arc::downgrade(dir);
    }
    d.insert(name.to_vec(), inode.clone())?;
    drop(d);
    inode.meta.lock().nlink += if is_dir { 2 } else { 1 };
    if is_dir {
        dir.meta.lock().nlink += 1;
    }
    dir.touch_mc();
    Ok(())
}

/// Take `name` out of `dir` (holding [`TREE`]): the inode loses the
/// link (a directory both of its own), its parent the `..` link. The
/// inode is returned: drop it after `TREE`, as it may be the last
/// reference and free the file's pages.
#[must_use = "drop the inode outside TREE"]
pub fn unlink_from(_tree: &(), dir: &Arc<Inode>, name: &[u8]) -> Option<Arc<Inode>> {
    let inode = dir.dir()?.lock().remove(name)?;
    if let Some(sub) = inode.dir() {
        sub.lock().dead = true;
        inode.meta.lock().nlink = 0;
        dir.meta.lock().nlink -= 1;
    } else {
        let mut m = inode.meta.lock();
        m.nlink = m.nlink.saturating_sub(1);
    }
    inode.touch_c();
    dir.touch_mc();
    Some(inode)
}

/// Move `name` from `old_dir` to `new_name` in `new_dir`, replacing what
/// was there (already checked by the caller) (holding [`TREE`]); returns
/// the replaced inode, to be dropped after `TREE`.
pub fn rename(
    tree: &(),
    old_dir: &Arc<Inode>,
    old_name: &[u8],
    new_dir: &Arc<Inode>,
    new_name: &[u8],
) -> Result<Option<Arc<Inode>>, Errno> {
    let inode = old_dir.dir().and_then(|d| d.lock().get(old_name)).ok_or(Errno::ENOENT)?;
    // Make sure the insert cannot fail after the removal.
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(2048).map_err(|_| Errno::ENOMEM)?;
    drop(probe);
    let replaced = unlink_from(tree, new_dir, new_name);
    let _moved = unlink_from(tree, old_dir, old_name);
    if let Some(sub) = inode.dir() {
        sub.lock().dead = false;
    }
    link_into(tree, new_dir, new_name, inode.clone())?;
    // A directory keeps its own two links (unlink_from zeroed them).
    if inode.is_dir() {
        inode.meta.lock().nlink = 2 + count_subdirs(&inode);
    }
    Ok(replaced)
}

fn count_subdirs(dir: &Arc<Inode>) -> u32 {
    dir.dir().map_or(0, |d| d.lock().by_cookie.values().filter(|(_, i)| i.is_dir()).count() as u32)
}

/// Build the root: the initrd's files (with their archived modes, read
/// through from the initrd until written), `/proc` (where /proc is
/// mounted), `/dev` with `null`, `zero` and `shm`, `/tmp` (1777), and
/// `/etc/passwd` and `/etc/group` unless the initrd has them. The size
/// limit is half of `total_bytes` of RAM.
pub fn init(total_bytes: u64) {
    MAX_PAGES.store(total_bytes / 2 / PAGE_SIZE, Ordering::Relaxed);
    let root = Inode::new_dir(0o755, 0, 0, Weak::new()).expect("tmpfs root");
    root.meta.lock().nlink = 2;
    ROOT.call_once(|| root.clone());
    let t = &*TREE.lock();
    let mkdir = |parent: &Arc<Inode>, name: &[u8], mode: u32| -> Arc<Inode> {
        if let Some(d) = parent.dir().and_then(|d| d.lock().get(name)) {
            return d;
        }
        let d = Inode::new_dir(mode, 0, 0, Arc::downgrade(parent)).expect("tmpfs directory at boot");
        link_into(t, parent, name, d.clone()).expect("tmpfs directory at boot");
        d
    };
    for e in super::initrd::entries() {
        let name = e.name.trim_start_matches("./").trim_start_matches('/').as_bytes();
        if name.is_empty() || name == b"." {
            continue;
        }
        let mut comps: Vec<&[u8]> = name.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
        let Some(last) = comps.pop() else { continue };
        let mut dir = root.clone();
        for c in comps {
            dir = mkdir(&dir, c, 0o755);
        }
        let perm = e.mode & 0o7777;
        match e.mode & S_IFMT {
            S_IFDIR => {
                mkdir(&dir, last, perm).meta.lock().mode = S_IFDIR | perm;
            }
            S_IFLNK => {
                if let Ok(l) = Inode::new_symlink(e.data, 0, 0) {
                    let _ = link_into(t, &dir, last, l);
                }
            }
            _ => {
                if let Ok(f) = Inode::new_file(perm, 0, 0, e.data) {
                    let _ = link_into(t, &dir, last, f);
                }
            }
        }
    }
    let proc = mkdir(&root, b"proc", 0o555);
    proc.dir().unwrap().lock().proc_mount = true;
    let dev = mkdir(&root, b"dev", 0o755);
    for (name, d, perm) in [
        (&b"null"[..], Device::Null, 0o666),
        (b"zero", Device::Zero, 0o666),
        (b"tty", Device::Tty, 0o666),
        (b"console", Device::Console, 0o600),
    ] {
        let c = Inode::new(S_IFCHR | perm, 0, 0, InodeKind::Chr(d)).expect("tmpfs device at boot");
        let _ = link_into(t, &dev, name, c);
    }
    mkdir(&dev, b"shm", 0o1777).meta.lock().mode = S_IFDIR | 0o1777;
    mkdir(&root, b"tmp", 0o1777).meta.lock().mode = S_IFDIR | 0o1777;
    let etc = mkdir(&root, b"etc", 0o755);
    for (name, text) in [
        (
            &b"passwd"[..],
            &b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"[..],
        ),
        (b"group", b"root:x:0:\nnogroup:x:65534:\n"),
    ] {
        if etc.dir().unwrap().lock().get(name).is_none() {
            if let Ok(f) = Inode::new_file(0o644, 0, 0, text) {
                let _ = link_into(t, &etc, name, f);
            }
        }
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;

    fn read_all(f: &FileData) -> Vec<u8> {
        let mut out = alloc::vec![0u8; f.size as usize];
        let mut at = 0;
        while at < out.len() {
            at += f.read_page(at as u64, &mut out[at..]).unwrap();
        }
        out
    }

    /// A file over initrd bytes: a write copies the page first, holes
    /// read as zeros, truncation cuts pages and the backing, and every
    /// page is charged and uncharged.
    #[ktest]
    pub fn file_pages_holes_and_truncate() {
        let used = USED_PAGES.load(Ordering::Relaxed);
        let inode = Inode::new_file(0o644, 0, 0, b"hello world").unwrap();
        let mut f = inode.file().unwrap().lock();
        assert_eq!(f.nr_pages(), 1, "the backing page");
        assert_eq!(USED_PAGES.load(Ordering::Relaxed), used, "the backing is not charged");
        f.write_page(3, b"XY").unwrap();
        assert_eq!(read_all(&f), b"helXY world");
        assert_eq!(f.nr_pages(), 1, "the written page shadows the backing one");
        f.write_page(2 * PAGE_SIZE + 10, b"z").unwrap();
        assert_eq!(f.size, 2 * PAGE_SIZE + 11);
        assert_eq!(f.nr_pages(), 2, "page 1 is a hole");
        let all = read_all(&f);
        assert!(all[11..2 * PAGE_SIZE as usize + 10].iter().all(|&b| b == 0), "holes read as zeros");
        assert_eq!(USED_PAGES.load(Ordering::Relaxed), used + 2);
        drop(f.truncate(2).unwrap());
        assert_eq!(read_all(&f), b"he");
        assert_eq!(USED_PAGES.load(Ordering::Relaxed), used + 1, "page 2 is gone");
        drop(f.truncate(20).unwrap());
        assert_eq!(read_all(&f), b"he\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", "the cut tail reads as zeros");
        drop(f);
        drop(inode);
        assert_eq!(USED_PAGES.load(Ordering::Relaxed), used, "the last reference frees every page");
    }

    /// Past the size limit a new page is ENOSPC; nothing stays charged.
    #[ktest]
    pub fn size_limit_is_enospc() {
        let inode = Inode::new_file(0o644, 0, 0, &[]).unwrap();
        let mut f = inode.file().unwrap().lock();
        let max = MAX_PAGES.swap(USED_PAGES.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        let first = f.write_page(0, b"a");
        let second = f.write_page(PAGE_SIZE, b"b");
        MAX_PAGES.store(max, Ordering::Relaxed);
        assert_eq!((first, second), (Ok(()), Err(Errno::ENOSPC)));
        assert_eq!(f.size, 1, "a refused write does not grow the file");
    }
}
