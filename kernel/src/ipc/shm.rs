//! System V shared memory (Linux ipc/shm.c with the parts of ipc/util.c
//! it uses): `shmget`, `shmat`, `shmdt`, `shmctl` and `/proc/sysvipc/shm`.
//!
//! A segment is a [`Shmem`] object the segment pins ([`Shmem::pin`]) from
//! `shmget` until it is destroyed, plus Linux's `shmid_kernel` fields.
//! `shmat` maps the object `MAP_SHARED` from offset 0
//! ([`mm::mm_struct::MmStruct::do_mmap_object`]); `shmdt` unmaps the
//! vmas attached at an address ([`mm::mm_struct::MmStruct::do_shmdt`]).
//! The segment's [`ShmemVmOps`] hooks count the vmas that map it, as
//! Linux's `shm_open`/`shm_close` do: `shm_nattch` goes up for each vma
//! that enters an address space (shmat, fork, a split) and down for each
//! that leaves one (shmdt, munmap, exit; they never merge), and each updates
//! `shm_atime`/`shm_dtime` and `shm_lpid`.
//!
//! Ids are Linux's: `index + seq * SEQ_MULTIPLIER`, the index allocated
//! cyclically below `max(in_use * 3 / 2, 64)` (`ipc_idr_alloc`), the
//! sequence number advancing whenever the allocation wraps.
//!
//! Invariants:
//! - `nattch` equals the number of vmas in any address space that map the
//!   segment's object (the object's `mappers`); `attaching` counts the
//!   `shmat`s between their lookup and their mapping (Linux's temporary
//!   `shm_nattch++` in `do_shmat`);
//! - a segment is in the registry until it is destroyed: by `IPC_RMID`
//!   when nothing maps it and no `shmat` is under way, otherwise (it is
//!   then `SHM_DEST`, its key `IPC_PRIVATE`) by whichever of the last
//!   detach or the last pending `shmat` leaves both counts at 0.
//!   Destruction drops the segment's pin; the pages go with the last
//!   mapping, or at once if there is none;
//! - a `SHM_LOCKED` segment's object is unevictable and its size is
//!   charged to `locked_by` (Linux's `mlock_ucounts`) in [`ShmIds::locked`]
//!   until `SHM_UNLOCK` or destruction (`user_shm_lock`).
//!
//! Locking: one [`IrqMutex`] over the registry and every segment's fields
//! (Linux has a lock per segment and a rwsem over the ids; one lock is
//! enough here). The mm calls the hooks with an mm's inner lock held, so
//! that lock comes before this one: nothing here calls into an mm, maps,
//! unmaps or copies user memory while holding it. Page work (unpin, the
//! unevictable walk) takes the object's own lock, which nests inside
//! both.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::fmt::Write;

use mm::mman::{MAP_FIXED, MAP_FIXED_NOREPLACE, MAP_SHARED, PROT_EXEC, PROT_READ, PROT_WRITE};
use mm::mmap::MmapBacking;
use mm::shmem::{Shmem, ShmemVmOps};
use mm::Errno;

use crate::proc::cred::{Creds, CAP_IPC_LOCK, CAP_SYS_ADMIN};
use crate::sync::IrqMutex;
use crate::syscall::{Args, SysResult};
use crate::uaccess::{copy_from_user, copy_to_user};

/// `IPC_PRIVATE`: the key of a segment no `shmget` can find.
const IPC_PRIVATE: i32 = 0;
const IPC_CREAT: u64 = 0o1000;
const IPC_EXCL: u64 = 0o2000;
/// shmget: huge pages (Holdfast has none).
const SHM_HUGETLB: u64 = 0o4000;
const IPC_RMID: i64 = 0;
const IPC_SET: i64 = 1;
const IPC_STAT: i64 = 2;
const IPC_INFO: i64 = 3;
const SHM_LOCK: i64 = 11;
const SHM_UNLOCK: i64 = 12;
const SHM_STAT: i64 = 13;
const SHM_INFO: i64 = 14;
const SHM_STAT_ANY: i64 = 15;
/// shmat flags.
const SHM_RDONLY: u64 = 0o10000;
const SHM_RND: u64 = 0o20000;
const SHM_REMAP: u64 = 0o40000;
const SHM_EXEC: u64 = 0o100000;
/// Mode bits beyond the permissions.
const SHM_DEST: u32 = 0o1000;
const SHM_LOCKED: u32 = 0o2000;
const S_IRWXUGO: u32 = 0o777;
const S_IRUGO: u32 = 0o444;
const S_IWUGO: u32 = 0o222;
const S_IXUGO: u32 = 0o111;
/// `CAP_IPC_OWNER`: bypasses the permission bits.
const CAP_IPC_OWNER: u32 = 15;

/// Linux's defaults (include/uapi/linux/shm.h): `SHMMIN`, `SHMMAX`,
/// `SHMALL` (in pages), `SHMMNI`, `SHMSEG`.
const SHMMIN: u64 = 1;
const SHMMAX: u64 = u64::MAX - (1 << 24);
const SHMALL: u64 = u64::MAX - (1 << 24);
const SHMMNI: usize = 4096;
const SHMSEG: u64 = SHMMNI as u64;
/// `SHMLBA` on x86-64: a page.
const SHMLBA: u64 = mm::addr::PAGE_SIZE;
/// `IPCMNI`: ids are `index + seq * SEQ_MULTIPLIER`.
const SEQ_MULTIPLIER: i32 = 32768;
/// Largest sequence number (`ipcid_seq_max`: `INT_MAX / SEQ_MULTIPLIER`).
const SEQ_MAX: i32 = i32::MAX / SEQ_MULTIPLIER;
/// `ipc_min_cycle`: the smallest index range `ipc_idr_alloc` cycles in.
const MIN_CYCLE: usize = 64;

/// A segment's fields (Linux `shmid_kernel` and its `kern_ipc_perm`).
#[derive(Clone, Debug)]
struct ShmFields {
    key: i32,
    uid: u32,
    gid: u32,
    cuid: u32,
    cgid: u32,
    /// Permissions plus `SHM_DEST` and `SHM_LOCKED`.
    mode: u32,
    atime: i64,
    dtime: i64,
    ctime: i64,
    cpid: u32,
    lpid: u32,
    /// Vmas mapping the segment.
    nattch: u64,
    /// `shmat`s under way.
    attaching: u64,
    /// The real uid charged for `SHM_LOCK`, while locked.
    locked_by: Option<u32>,
}

/// One segment.
pub struct Segment {
    /// Its id (`index + seq * SEQ_MULTIPLIER`).
    id: i32,
    /// Size in bytes, as asked.
    segsz: u64,
    obj: Arc<Shmem>,
}

impl Segment {
    fn index(&self) -> usize {
        (self.id % SEQ_MULTIPLIER) as usize
    }

    fn pages(&self) -> u64 {
        self.segsz.div_ceil(mm::addr::PAGE_SIZE)
    }
}

/// The registry (Linux `ipc_ids` of the shm namespace) and every
/// segment's fields.
struct ShmIds {
    /// Segments by index, with their fields.
    slots: BTreeMap<usize, (Arc<Segment>, ShmFields)>,
    /// Next index the cyclic allocation tries.
    next_idx: usize,
    /// Index allocated last.
    last_idx: Option<usize>,
    /// Current sequence number.
    seq: i32,
    /// Pages of all segments (Linux `shm_tot`).
    shm_tot: u64,
    /// Pages locked with `SHM_LOCK`, by real uid (Linux's
    /// `UCOUNT_RLIMIT_MEMLOCK`).
    locked: BTreeMap<u32, u64>,
}

static IDS: IrqMutex<ShmIds> =
    IrqMutex::new(ShmIds { slots: BTreeMap::new(), next_idx: 0, last_idx: None, seq: 0, shm_tot: 0, locked: BTreeMap::new() });

/// Seconds since the epoch (`ktime_get_real_seconds`).
fn now() -> i64 {
    ((crate::arch::rtc::boot_epoch_ns() + crate::arch::time::now_ns()) / 1_000_000_000) as i64
}

/// The calling process's pid (its thread group's: `task_tgid`), 0 for a
/// kernel thread.
fn current_tgid() -> u32 {
    crate::proc::try_current().map_or(0, |p| p.pid)
}

/// Linux `in_group_p`: the fsgid or a supplementary group.
fn in_group(c: &Creds, gid: u32) -> bool {
    c.fsgid == gid || c.groups.binary_search(&gid).is_ok()
}

/// Linux `ipcperms`: may `c` access the segment for `flag` (rwx bits in
/// any of the three positions)? `CAP_IPC_OWNER` bypasses the bits.
fn ipcperms(c: &Creds, f: &ShmFields, flag: u32) -> bool {
    let requested = (flag >> 6) | (flag >> 3) | flag;
    let mut granted = f.mode;
    if c.euid == f.cuid || c.euid == f.uid {
        granted >>= 6;
    } else if in_group(c, f.cgid) || in_group(c, f.gid) {
        granted >>= 3;
    }
    requested & !granted & 0o7 == 0 || c.capable(CAP_IPC_OWNER)
}

/// Linux `ipcctl_obtain_check`'s test: the owner or creator, or
/// `CAP_SYS_ADMIN`.
fn owner_or_admin(c: &Creds, f: &ShmFields) -> bool {
    c.euid == f.cuid || c.euid == f.uid || c.capable(CAP_SYS_ADMIN)
}

impl ShmIds {
    /// Linux `ipc_obtain_object_check`: the segment of `id`.
    fn lookup(&mut self, id: i64) -> Result<&mut (Arc<Segment>, ShmFields), Errno> {
        if id < 0 || id > i32::MAX as i64 {
            return Err(Errno::EINVAL);
        }
        let idx = (id % SEQ_MULTIPLIER as i64) as usize;
        match self.slots.get_mut(&idx) {
            Some(e) if e.0.id as i64 == id => Ok(e),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Linux `ipc_get_maxidx`.
    fn max_idx(&self) -> i64 {
        match self.slots.keys().next_back() {
            None => -1,
            Some(&i) => i as i64,
        }
    }

    /// Linux `ipc_idr_alloc` (without a checkpoint-restore `next_id`):
    /// the index and id for a new segment, or `None` when the cycle range
    /// is full.
    fn alloc_id(&mut self) -> Option<(usize, i32)> {
        let max = (self.slots.len() * 3 / 2).max(MIN_CYCLE).min(SEQ_MULTIPLIER as usize);
        // idr_alloc_cyclic: from the cursor up to max, then from 0.
        let start = if self.next_idx >= max { 0 } else { self.next_idx };
        let idx = (start..max).chain(0..start).find(|i| !self.slots.contains_key(i))?;
        self.next_idx = idx + 1;
        if self.last_idx.is_some_and(|last| idx <= last) {
            self.seq += 1;
            if self.seq >= SEQ_MAX {
                self.seq = 0;
            }
        }
        self.last_idx = Some(idx);
        Some((idx, idx as i32 + self.seq * SEQ_MULTIPLIER))
    }

    /// Take the segment out of the registry and release its charges
    /// (Linux `shm_destroy` up to the `fput`); the caller drops the pin.
    fn remove(&mut self, idx: usize) -> Option<Arc<Segment>> {
        let (seg, mut f) = self.slots.remove(&idx)?;
        self.shm_tot -= seg.pages();
        if let Some(uid) = f.locked_by.take() {
            self.uncharge_lock(uid, seg.pages());
        }
        Some(seg)
    }

    fn uncharge_lock(&mut self, uid: u32, pages: u64) {
        if let Some(n) = self.locked.get_mut(&uid) {
            *n = n.saturating_sub(pages);
            if *n == 0 {
                self.locked.remove(&uid);
            }
        }
    }
}

/// Drop a destroyed segment's pin (outside [`IDS`] and any mm lock): its
/// pages go now if nothing maps the object.
fn release(seg: &Segment) {
    seg.obj.set_unevictable(crate::proc::usermm::page_meta(), false);
    seg.obj.unpin(crate::proc::usermm::page_meta(), &crate::memory::phys::KernelPhys);
}

/// The hooks a segment puts on its object's vmas (Linux `shm_vm_ops`).
struct SegmentVmOps(Weak<Segment>);

impl ShmemVmOps for SegmentVmOps {
    /// Linux `shm_open`: one more vma maps the segment.
    fn open(&self) {
        let Some(seg) = self.0.upgrade() else { return };
        let mut ids = IDS.lock();
        if let Some((s, f)) = ids.slots.get_mut(&seg.index()) {
            if Arc::ptr_eq(s, &seg) {
                f.atime = now();
                f.lpid = current_tgid();
                f.nattch += 1;
            }
        }
    }

    /// Linux `shm_close`: one vma less; the last one of a removed segment
    /// destroys it. The mm that removes the vma frees the pages.
    fn close(&self) {
        let Some(seg) = self.0.upgrade() else { return };
        let mut ids = IDS.lock();
        let idx = seg.index();
        let Some((s, f)) = ids.slots.get_mut(&idx) else { return };
        if !Arc::ptr_eq(s, &seg) {
            return;
        }
        f.lpid = current_tgid();
        f.dtime = now();
        f.nattch = f.nattch.saturating_sub(1);
        if f.nattch == 0 && f.attaching == 0 && f.mode & SHM_DEST != 0 {
            if let Some(seg) = ids.remove(idx) {
                drop(ids);
                seg.obj.set_unevictable(crate::proc::usermm::page_meta(), false);
                seg.obj.unpin_in_close();
            }
        }
    }
}

/// Linux `newseg`: a new segment of `size` bytes for `key` with the
/// permission bits of `shmflg`.
fn newseg(ids: &mut ShmIds, key: i32, size: u64, shmflg: u64, c: &Creds) -> SysResult {
    if !(SHMMIN..=SHMMAX).contains(&size) {
        return Err(Errno::EINVAL);
    }
    let pages = size.div_ceil(mm::addr::PAGE_SIZE);
    if ids.shm_tot.checked_add(pages).is_none_or(|t| t > SHMALL) {
        return Err(Errno::ENOSPC);
    }
    // Holdfast is like a Linux built without hugetlbfs, whose
    // hugetlb_file_setup answers ENOSYS.
    if shmflg & SHM_HUGETLB != 0 {
        return Err(Errno::ENOSYS);
    }
    if ids.slots.len() >= SHMMNI {
        return Err(Errno::ENOSPC);
    }
    let (idx, id) = ids.alloc_id().ok_or(Errno::ENOSPC)?;
    // Linux's segment is the unlinked shmem file "SYSV<key>" on the
    // internal mount, whose inode number is the id.
    let obj = Arc::new(Shmem::new_with_ino(pages, id as u64));
    obj.set_label(alloc::format!("/SYSV{:08x} (deleted)", key).into(), (0, 1));
    let seg = Arc::new(Segment { id, segsz: size, obj });
    seg.obj.pin();
    seg.obj.set_vm_ops(Arc::new(SegmentVmOps(Arc::downgrade(&seg))));
    let fields = ShmFields {
        key,
        uid: c.euid,
        gid: c.egid,
        cuid: c.euid,
        cgid: c.egid,
        mode: shmflg as u32 & S_IRWXUGO,
        atime: 0,
        dtime: 0,
        ctime: now(),
        cpid: current_tgid(),
        lpid: 0,
        nattch: 0,
        attaching: 0,
        locked_by: None,
    };
    ids.slots.insert(idx, (seg, fields));
    ids.shm_tot += pages;
    Ok(id as u64)
}

/// `shmget(key, size, shmflg)` (Linux `ipcget`).
///
/// Errors: `EINVAL` size below `SHMMIN` or above `SHMMAX` for a new
/// segment, or above an existing one's; `ENOENT` no segment has the key
/// and no `IPC_CREAT`; `EEXIST` `IPC_CREAT | IPC_EXCL` and it exists;
/// `EACCES` the mode does not grant what `shmflg` asks; `ENOSPC` too many
/// segments or pages; `ENOSYS` `SHM_HUGETLB` (no hugetlbfs); `ENOMEM`.
pub fn sys_shmget(a: Args) -> SysResult {
    let [key, size, shmflg, ..] = a.0;
    let key = key as i32;
    let c = crate::proc::current().creds();
    let mut ids = IDS.lock();
    if key == IPC_PRIVATE {
        return newseg(&mut ids, key, size, shmflg, &c);
    }
    let found = ids.slots.values().find(|(_, f)| f.key == key).map(|(s, f)| (s.id, s.segsz, f.clone()));
    match found {
        None if shmflg & IPC_CREAT == 0 => Err(Errno::ENOENT),
        None => newseg(&mut ids, key, size, shmflg, &c),
        Some(_) if shmflg & (IPC_CREAT | IPC_EXCL) == IPC_CREAT | IPC_EXCL => Err(Errno::EEXIST),
        Some((_, segsz, _)) if segsz < size => Err(Errno::EINVAL),
        Some((_, _, f)) if !ipcperms(&c, &f, shmflg as u32 & S_IRWXUGO) => Err(Errno::EACCES),
        Some((id, ..)) => Ok(id as u64),
    }
}

/// `shmat(shmid, shmaddr, shmflg)` (Linux `do_shmat`): the address the
/// segment is attached at.
///
/// Errors: `EINVAL` bad id, an address not page aligned without
/// `SHM_RND`, `SHM_REMAP` without an address or rounding to 0, a range
/// that wraps or overlaps a mapping without `SHM_REMAP`; `EACCES` the mode
/// does not grant read (and write unless `SHM_RDONLY`, exec with
/// `SHM_EXEC`); mmap's errors (`ENOMEM`, ...).
pub fn sys_shmat(a: Args) -> SysResult {
    let [shmid, shmaddr, shmflg, ..] = a.0;
    let shmid = shmid as i32 as i64;
    if shmid < 0 {
        return Err(Errno::EINVAL);
    }
    let mut addr = shmaddr;
    let mut flags = MAP_SHARED;
    if addr != 0 {
        if addr & (SHMLBA - 1) != 0 {
            if shmflg & SHM_RND == 0 {
                return Err(Errno::EINVAL);
            }
            addr &= !(SHMLBA - 1);
            if addr == 0 && shmflg & SHM_REMAP != 0 {
                return Err(Errno::EINVAL);
            }
        }
        flags |= if shmflg & SHM_REMAP != 0 { MAP_FIXED } else { MAP_FIXED_NOREPLACE };
    } else if shmflg & SHM_REMAP != 0 {
        return Err(Errno::EINVAL);
    }
    let (mut prot, mut acc) = if shmflg & SHM_RDONLY != 0 { (PROT_READ, S_IRUGO) } else { (PROT_READ | PROT_WRITE, S_IRUGO | S_IWUGO) };
    if shmflg & SHM_EXEC != 0 {
        prot |= PROT_EXEC;
        acc |= S_IXUGO;
    }
    let p = crate::proc::current();
    let c = p.creds();
    let seg = {
        let mut ids = IDS.lock();
        let (seg, f) = ids.lookup(shmid)?;
        if !ipcperms(&c, f, acc) {
            return Err(Errno::EACCES);
        }
        f.attaching += 1;
        seg.clone()
    };
    let size = seg.segsz;
    let result = if addr != 0 && addr.checked_add(size).is_none() {
        Err(Errno::EINVAL)
    } else {
        let backing = MmapBacking { obj: seg.obj.clone(), pgoff: 0, may_write: shmflg & SHM_RDONLY == 0 };
        // An occupied range without SHM_REMAP: Linux's
        // find_vma_intersection check, EINVAL.
        p.mm().do_mmap_object(addr, size, prot, flags, backing, &p.mlock_creds()).map_err(|e| {
            if e == Errno::EEXIST {
                Errno::EINVAL
            } else {
                e
            }
        })
    };
    // Linux's out_nattch: the attach is done (or failed); a removed
    // segment nothing maps any more goes now.
    let mut ids = IDS.lock();
    let idx = seg.index();
    let gone = match ids.slots.get_mut(&idx) {
        Some((s, f)) if Arc::ptr_eq(s, &seg) => {
            f.attaching -= 1;
            f.nattch == 0 && f.attaching == 0 && f.mode & SHM_DEST != 0
        }
        _ => false,
    };
    let removed = if gone { ids.remove(idx) } else { None };
    drop(ids);
    if let Some(seg) = removed {
        release(&seg);
    }
    result
}

/// `shmdt(shmaddr)`: detach the segment attached at `shmaddr`.
///
/// Errors: `EINVAL` `shmaddr` not page aligned or no segment attached
/// there.
pub fn sys_shmdt(a: Args) -> SysResult {
    let [shmaddr, ..] = a.0;
    let p = crate::proc::current();
    p.mm().do_shmdt(shmaddr, segment_size).map(|_| 0)
}

/// The size in bytes of the segment whose object `obj` is, if it is one
/// (Linux: a vma whose `vm_ops` are `shm_vm_ops`). Called by the mm with
/// its locks held: takes only [`IDS`].
fn segment_size(obj: &Shmem) -> Option<u64> {
    let ids = IDS.lock();
    ids.slots.values().find(|(s, _)| core::ptr::eq(Arc::as_ptr(&s.obj), obj)).map(|(s, _)| s.segsz)
}

/// `struct shmid64_ds` on x86-64 (112 bytes).
fn shmid64_ds(seg: &Segment, f: &ShmFields) -> [u8; 112] {
    let mut b = [0u8; 112];
    let mut put = |off: usize, bytes: &[u8]| b[off..off + bytes.len()].copy_from_slice(bytes);
    // struct ipc64_perm
    put(0, &f.key.to_le_bytes());
    put(4, &f.uid.to_le_bytes());
    put(8, &f.gid.to_le_bytes());
    put(12, &f.cuid.to_le_bytes());
    put(16, &f.cgid.to_le_bytes());
    put(20, &(f.mode as u16).to_le_bytes());
    put(24, &((seg.id / SEQ_MULTIPLIER) as u16).to_le_bytes());
    put(48, &seg.segsz.to_le_bytes());
    put(56, &f.atime.to_le_bytes());
    put(64, &f.dtime.to_le_bytes());
    put(72, &f.ctime.to_le_bytes());
    put(80, &f.cpid.to_le_bytes());
    put(84, &f.lpid.to_le_bytes());
    put(88, &f.nattch.to_le_bytes());
    b
}

fn le_u32(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// `shmctl(shmid, cmd, buf)` (Linux `ksys_shmctl` with version `IPC_64`).
///
/// Errors: `EINVAL` negative id or command, unknown command, bad id (an
/// index for `SHM_STAT`), `IPC_SET` of an invalid uid or gid; `EACCES`
/// `IPC_STAT`/`SHM_STAT` without read permission; `EPERM` `IPC_SET`/
/// `IPC_RMID` by neither owner, creator nor `CAP_SYS_ADMIN`, `SHM_LOCK`/
/// `SHM_UNLOCK` by neither owner nor creator without `CAP_IPC_LOCK`, or
/// `SHM_LOCK` so with `RLIMIT_MEMLOCK` 0; `ENOMEM` `SHM_LOCK` beyond the
/// user's `RLIMIT_MEMLOCK`; `EFAULT` bad buffer.
pub fn sys_shmctl(a: Args) -> SysResult {
    let [shmid, cmd, buf, ..] = a.0;
    let (shmid, cmd) = (shmid as i32 as i64, cmd as i32 as i64);
    if cmd < 0 || shmid < 0 {
        return Err(Errno::EINVAL);
    }
    let p = crate::proc::current();
    let c = p.creds();
    match cmd {
        IPC_INFO => {
            let maxidx = IDS.lock().max_idx().max(0);
            let mut b = [0u8; 72];
            for (i, v) in [SHMMAX, SHMMIN, SHMMNI as u64, SHMSEG, SHMALL].iter().enumerate() {
                b[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
            }
            copy_to_user(buf, &b)?;
            Ok(maxidx as u64)
        }
        SHM_INFO => {
            let (maxidx, used, tot, objs) = {
                let ids = IDS.lock();
                let objs: Vec<Arc<Shmem>> = ids.slots.values().map(|(s, _)| s.obj.clone()).collect();
                (ids.max_idx().max(0), ids.slots.len() as u32, ids.shm_tot, objs)
            };
            // Linux `shm_get_stat`: pages in RAM and pages in swap.
            let rss: u64 = objs.iter().map(|o| o.nr_cached() as u64).sum();
            let swp: u64 = objs.iter().map(|o| o.nr_swapped() as u64).sum();
            let mut b = [0u8; 48];
            b[0..4].copy_from_slice(&used.to_le_bytes());
            b[8..16].copy_from_slice(&tot.to_le_bytes());
            b[16..24].copy_from_slice(&rss.to_le_bytes());
            b[24..32].copy_from_slice(&swp.to_le_bytes());
            copy_to_user(buf, &b)?;
            Ok(maxidx as u64)
        }
        IPC_STAT | SHM_STAT | SHM_STAT_ANY => {
            let (ds, ret) = {
                let mut ids = IDS.lock();
                // SHM_STAT takes an index (Linux: the index bits of any id).
                let idx = (shmid % SEQ_MULTIPLIER as i64) as usize;
                let (seg, f) = if cmd == IPC_STAT { ids.lookup(shmid)? } else { ids.slots.get_mut(&idx).ok_or(Errno::EINVAL)? };
                if cmd != SHM_STAT_ANY && !ipcperms(&c, f, S_IRUGO) {
                    return Err(Errno::EACCES);
                }
                (shmid64_ds(seg, f), if cmd == IPC_STAT { 0 } else { seg.id as u64 })
            };
            copy_to_user(buf, &ds)?;
            Ok(ret)
        }
        IPC_SET => {
            let mut b = [0u8; 112];
            copy_from_user(&mut b, buf)?;
            let (uid, gid, mode) = (le_u32(&b, 4), le_u32(&b, 8), le_u32(&b, 20) & 0xffff);
            let mut ids = IDS.lock();
            let (_, f) = ids.lookup(shmid)?;
            if !owner_or_admin(&c, f) {
                return Err(Errno::EPERM);
            }
            if uid == u32::MAX || gid == u32::MAX {
                return Err(Errno::EINVAL);
            }
            f.uid = uid;
            f.gid = gid;
            f.mode = (f.mode & !S_IRWXUGO) | (mode & S_IRWXUGO);
            f.ctime = now();
            Ok(0)
        }
        IPC_RMID => {
            let mut ids = IDS.lock();
            let (seg, f) = ids.lookup(shmid)?;
            if !owner_or_admin(&c, f) {
                return Err(Errno::EPERM);
            }
            // Linux do_shm_rmid.
            let idx = seg.index();
            if f.nattch > 0 || f.attaching > 0 {
                f.mode |= SHM_DEST;
                f.key = IPC_PRIVATE;
                return Ok(0);
            }
            let removed = ids.remove(idx);
            drop(ids);
            if let Some(seg) = removed {
                release(&seg);
            }
            Ok(0)
        }
        SHM_LOCK | SHM_UNLOCK => shmctl_do_lock(&p, &c, shmid, cmd == SHM_LOCK),
        _ => Err(Errno::EINVAL),
    }
}

/// Linux `shmctl_do_lock` with `shmem_lock` and `user_shm_lock`.
fn shmctl_do_lock(p: &crate::proc::Process, c: &Creds, shmid: i64, lock: bool) -> SysResult {
    let limit = p.mlock_creds().memlock_limit;
    let cap = c.capable(CAP_IPC_LOCK);
    let mut ids = IDS.lock();
    let (seg, f) = ids.lookup(shmid)?;
    if !cap {
        if c.euid != f.uid && c.euid != f.cuid {
            return Err(Errno::EPERM);
        }
        if lock && limit == 0 {
            return Err(Errno::EPERM);
        }
    }
    let (seg, locked_by) = (seg.clone(), f.locked_by);
    let meta = crate::proc::usermm::page_meta();
    if lock {
        if locked_by.is_some() {
            return Ok(0);
        }
        // user_shm_lock: the user's locked pages, this segment's included,
        // within RLIMIT_MEMLOCK unless CAP_IPC_LOCK.
        let pages = seg.pages();
        let total = ids.locked.get(&c.uid).copied().unwrap_or(0).saturating_add(pages);
        let limit_pages = if limit == mm::mm_struct::MlockCreds::RLIM_INFINITY { u64::MAX } else { limit >> mm::addr::PAGE_SHIFT };
        if total > limit_pages && !cap {
            return Err(Errno::ENOMEM);
        }
        ids.locked.insert(c.uid, total);
        let (_, f) = ids.lookup(shmid)?;
        f.locked_by = Some(c.uid);
        f.mode |= SHM_LOCKED;
        seg.obj.set_unevictable(meta, true);
        return Ok(0);
    }
    let Some(uid) = locked_by else { return Ok(0) };
    let (_, f) = ids.lookup(shmid)?;
    f.locked_by = None;
    f.mode &= !SHM_LOCKED;
    ids.uncharge_lock(uid, seg.pages());
    seg.obj.set_unevictable(meta, false);
    Ok(0)
}

/// `/proc/sysvipc/shm` (Linux `sysvipc_shm_proc_show` under its header),
/// segments in index order.
pub fn proc_show() -> String {
    let mut s = String::from(
        "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n",
    );
    let segs: Vec<(Arc<Segment>, ShmFields)> = IDS.lock().slots.values().cloned().collect();
    for (seg, f) in segs {
        let rss = seg.obj.nr_cached() as u64 * mm::addr::PAGE_SIZE;
        let _ = writeln!(
            s,
            "{:>10} {:>10}  {:>4o} {:>21} {:>5} {:>5}  {:>5} {:>5} {:>5} {:>5} {:>5} {:>10} {:>10} {:>10} {:>21} {:>21}",
            f.key, seg.id, f.mode, seg.segsz, f.cpid, f.lpid, f.nattch, f.uid, f.gid, f.cuid, f.cgid, f.atime, f.dtime, f.ctime, rss, 0
        );
    }
    s
}
