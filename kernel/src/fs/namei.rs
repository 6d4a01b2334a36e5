//! Path names: copying them from user space (`getname`), walking them
//! (`link_path_walk`, `path_lookupat`, `filename_parentat`) and the
//! permission checks of the walk (`may_lookup`, `generic_permission`),
//! with Linux's errors in Linux's order.
//!
//! Paths are bytes, not UTF-8. The name space is the tmpfs mounted at `/`
//! (see `fs::tmpfs`: the initrd's files, `/tmp`, `/dev`, `/etc`, and what
//! programs create), with `/proc` mounted on its `proc` directory. A tmpfs
//! node is its inode; a /proc node is its canonical absolute path (no `.`,
//! `..` or repeated slashes), over the fixed set of /proc files
//! (`/proc/self`, `/proc/thread-self`, `/proc/<pid>`, `/proc/sys`, `/proc/sysvipc`,
//! `/proc/sys/vm` and the files in them), where `/proc/self` is resolved
//! as the directory it points to. Symbolic links are followed, at most 40
//! in one lookup (`ELOOP`).
//!
//! Everything that turns a path into a file goes through [`lookup`] (or
//! [`lookup_parent`] for the calls that create or remove a name).
//!
//! Locking: a tmpfs lookup takes one directory lock at a time; /proc
//! lookups take only the process table's own locks.

use alloc::sync::Arc;
use alloc::vec::Vec;
use mm::Errno;

use super::tmpfs::{self, Inode, InodeKind};
use crate::proc::cred::{CapSet, CAP_DAC_OVERRIDE};

use crate::uaccess::copy_from_user;

/// Longest path, counting its terminating NUL (`PATH_MAX`).
pub const PATH_MAX: usize = 4096;
/// Longest path component a disk file system accepts (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// What a canonical path names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeType {
    Dir,
    File,
}

/// Copy a NUL-terminated path from user space, as Linux's `getname`:
/// `EFAULT` if it faults before its NUL, `ENAMETOOLONG` if it has no NUL in
/// its first `PATH_MAX` bytes, `ENOENT` if it is empty (unless
/// `empty_ok`, for `AT_EMPTY_PATH`).
pub fn getname(addr: u64, empty_ok: bool) -> Result<Vec<u8>, Errno> {
    let mut out = Vec::new();
    let mut chunk = [0u8; 64];
    let mut at = addr;
    while out.len() < PATH_MAX {
        // Never read across a page boundary in one go: the next page may
        // not exist even though the string ends before it.
        let to_page_end = (4096 - (at % 4096)) as usize;
        let n = chunk.len().min(to_page_end).min(PATH_MAX - out.len());
        copy_from_user(&mut chunk[..n], at)?;
        if let Some(z) = chunk[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&chunk[..z]);
            if out.is_empty() && !empty_ok {
                return Err(Errno::ENOENT);
            }
            return Ok(out);
        }
        out.extend_from_slice(&chunk[..n]);
        at += n as u64;
    }
    Err(Errno::ENAMETOOLONG)
}

/// Linux's `name_to_int` for `/proc/<pid>`: decimal, no leading zero.
fn proc_pid(name: &[u8]) -> Option<u32> {
    if name.is_empty() || (name.len() > 1 && name[0] == b'0') || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    core::str::from_utf8(name).ok()?.parse().ok()
}

/// Does a `/proc/<who>` directory exist?
fn proc_pid_dir_exists(who: &[u8]) -> bool {
    match who {
        b"self" | b"thread-self" => crate::proc::try_current().is_some(),
        _ => proc_pid(who).is_some_and(|pid| crate::proc::find(pid).is_some()),
    }
}

/// Files inside every `/proc/<pid>` directory (see `procfs::open`;
/// `exe` is a symbolic link, [`proc_symlink_target`]).
pub const PROC_PID_FILES: &[&[u8]] = &[b"maps", b"smaps", b"smaps_rollup", b"status", b"mmap_lock", b"exe"];

/// The target of the /proc symbolic link at canonical `path`:
/// `/proc/<pid>/exe` names the program the process runs.
pub fn proc_symlink_target(path: &[u8]) -> Option<Vec<u8>> {
    let rest = path.strip_prefix(b"/proc/")?;
    let (who, file) = rest.split_at(rest.iter().position(|&b| b == b'/')?);
    if file != b"/exe" {
        return None;
    }
    let p = match who {
        b"self" | b"thread-self" => crate::proc::try_current()?,
        _ => crate::proc::find(proc_pid(who)?)?,
    };
    let exe = p.exe.lock().clone();
    (!exe.is_empty()).then_some(exe)
}

/// A character device under `/dev` (`drivers/char/mem.c`'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// `/dev/null`: reads see end of file, writes are swallowed.
    Null,
    /// `/dev/tty`: the caller's controlling terminal (always the console).
    Tty,
    /// `/dev/console`: the console.
    Console,
    /// `/dev/zero`: reads give zeros, writes are swallowed.
    Zero,
}

impl Device {
    /// Linux's (major, minor).
    pub fn rdev(self) -> (u32, u32) {
        match self {
            Device::Null => (1, 3),
            Device::Zero => (1, 5),
            Device::Tty => (5, 0),
            Device::Console => (5, 1),
        }
    }
}

/// Is `path` (canonical) inside `/proc`?
pub fn in_proc(path: &[u8]) -> bool {
    path == b"/proc" || path.starts_with(b"/proc/")
}

/// What the canonical /proc `path` names, if anything.
pub fn proc_node_type(path: &[u8]) -> Option<NodeType> {
    if path == b"/proc" {
        return Some(NodeType::Dir);
    }
    let rest = path.strip_prefix(b"/proc/")?;
    let mut parts = rest.split(|&b| b == b'/');
    let first = parts.next().unwrap_or(b"");
    let (second, third) = (parts.next(), parts.next());
    let more = parts.next().is_some();
    match (first, second, third, more) {
        (b"cpuinfo" | b"meminfo" | b"swaps" | b"vmstat" | b"sysrq-trigger", None, _, _) => Some(NodeType::File),
        (b"sys" | b"sysvipc", None, _, _) => Some(NodeType::Dir),
        (b"sysvipc", Some(b"shm"), None, _) => Some(NodeType::File),
        (b"sys", Some(b"vm"), None, _) => Some(NodeType::Dir),
        (b"sys", Some(b"vm"), Some(f), false) if super::procfs::Sysctl::from_name(f).is_some() => Some(NodeType::File),
        (who, None, _, _) if proc_pid_dir_exists(who) => Some(NodeType::Dir),
        (who, Some(f), None, _) if PROC_PID_FILES.contains(&f) && proc_pid_dir_exists(who) => Some(NodeType::File),
        _ => None,
    }
}

/// The entries of the /proc directory at canonical `path` (name and
/// `d_type`), for `getdents64`: what [`proc_node_type`] knows to be
/// there, in a fixed order (live pids last, ascending).
pub fn proc_dir_entries(path: &[u8]) -> Vec<(Vec<u8>, u8)> {
    const DT_DIR: u8 = 4;
    const DT_REG: u8 = 8;
    const DT_LNK: u8 = 10;
    let mut out: Vec<(Vec<u8>, u8)> = Vec::new();
    let mut push = |name: &[u8], ty: u8| out.push((name.to_vec(), ty));
    match path {
        b"/proc" => {
            for f in [&b"cpuinfo"[..], b"meminfo", b"swaps", b"vmstat", b"sysrq-trigger"] {
                push(f, DT_REG);
            }
            for d in [&b"sys"[..], b"sysvipc", b"self", b"thread-self"] {
                push(d, DT_DIR);
            }
            let mut pids: Vec<u32> = crate::proc::all()
                .iter()
                .filter(|p| !p.dead.load(core::sync::atomic::Ordering::SeqCst))
                .map(|p| p.pid)
                .collect();
            pids.sort_unstable();
            for pid in pids {
                push(alloc::format!("{pid}").as_bytes(), DT_DIR);
            }
        }
        b"/proc/sys" => push(b"vm", DT_DIR),
        b"/proc/sysvipc" => push(b"shm", DT_REG),
        b"/proc/sys/vm" => {
            for f in [&b"max_map_count"[..], b"mlock_populate", b"swappiness"] {
                push(f, DT_REG);
            }
        }
        _ if proc_node_type(path) == Some(NodeType::Dir) => {
            for f in PROC_PID_FILES {
                push(f, if *f == &b"exe"[..] { DT_LNK } else { DT_REG });
            }
        }
        _ => {}
    }
    out
}

/// The credentials file access is checked with (Linux's fsuid, fsgid,
/// supplementary groups and the file-system capabilities).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsCred {
    pub uid: u32,
    pub gid: u32,
    pub groups: Arc<[u32]>,
    pub caps: CapSet,
}

impl FsCred {
    /// The calling process's (fsuid, fsgid, effective capabilities).
    pub fn current() -> FsCred {
        Self::of(&crate::proc::current().creds(), false)
    }

    /// The real ids, as `access` checks them (`faccessat` without
    /// `AT_EACCESS`): root's capabilities only for a real uid 0.
    pub fn current_real() -> FsCred {
        Self::of(&crate::proc::current().creds(), true)
    }

    /// The kernel's own (starting the first process): root's.
    pub fn kernel() -> FsCred {
        Self::of(&crate::proc::Creds::root(), false)
    }

    fn of(c: &crate::proc::Creds, real: bool) -> FsCred {
        if real {
            let caps = if c.uid == 0 { c.cap_permitted } else { 0 };
            FsCred { uid: c.uid, gid: c.gid, groups: c.groups.clone(), caps }
        } else {
            FsCred { uid: c.fsuid, gid: c.fsgid, groups: c.groups.clone(), caps: c.cap_effective }
        }
    }

    /// Is capability `cap` in the set the check uses?
    pub fn capable(&self, cap: u32) -> bool {
        self.caps & (1 << cap) != 0
    }

    /// Is `gid` the fsgid or a supplementary group (`in_group_p`)?
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.groups.binary_search(&gid).is_ok()
    }
}

pub const MAY_EXEC: u32 = 1;
pub const MAY_WRITE: u32 = 2;
pub const MAY_READ: u32 = 4;

/// `generic_permission` on a tmpfs inode: the owner's, group's or
/// others' bits; `CAP_DAC_OVERRIDE` passes all but exec of a file with
/// no `x` bit.
pub fn permission(inode: &Inode, mask: u32, cred: &FsCred) -> Result<(), Errno> {
    let m = inode.meta();
    if cred.capable(CAP_DAC_OVERRIDE) {
        if mask & MAY_EXEC != 0 && !inode.is_dir() && m.mode & 0o111 == 0 {
            return Err(Errno::EACCES);
        }
        return Ok(());
    }
    let bits = if m.uid == cred.uid {
        m.mode >> 6
    } else if cred.in_group(m.gid) {
        m.mode >> 3
    } else {
        m.mode
    } & 7;
    if mask & 7 & !bits != 0 {
        return Err(Errno::EACCES);
    }
    Ok(())
}

/// A point in the name space.
#[derive(Clone)]
pub enum Node {
    /// A tmpfs inode.
    Tmpfs(Arc<Inode>),
    /// A /proc file or directory, by canonical path.
    Proc(Vec<u8>),
}

impl Node {
    pub fn root() -> Node {
        Node::Tmpfs(tmpfs::root())
    }

    pub fn is_dir(&self) -> bool {
        match self {
            Node::Tmpfs(i) => i.is_dir(),
            Node::Proc(p) => proc_node_type(p) == Some(NodeType::Dir),
        }
    }

    pub fn is_symlink(&self) -> bool {
        match self {
            Node::Tmpfs(i) => matches!(i.kind, InodeKind::Symlink(_)),
            Node::Proc(p) => proc_symlink_target(p).is_some(),
        }
    }

    /// A symbolic link's target.
    pub fn link_target(&self) -> Option<Vec<u8>> {
        match self {
            Node::Tmpfs(i) => match &i.kind {
                InodeKind::Symlink(t) => Some(t.clone()),
                _ => None,
            },
            Node::Proc(p) => proc_symlink_target(p),
        }
    }

    /// The inode, for a tmpfs node.
    pub fn inode(&self) -> Option<&Arc<Inode>> {
        match self {
            Node::Tmpfs(i) => Some(i),
            Node::Proc(_) => None,
        }
    }

    /// `may_lookup`: search (exec) permission on a directory.
    fn may_lookup(&self, cred: FsCred) -> Result<(), Errno> {
        match self {
            Node::Tmpfs(i) => permission(i, MAY_EXEC, &cred),
            Node::Proc(_) => Ok(()),
        }
    }
}

/// Most symbolic links one lookup follows (`MAXSYMLINKS`).
pub const MAXSYMLINKS: u32 = 40;

/// Look `name` up in the directory `dir` (`lookup_fast`/`lookup_slow`):
/// `.` and `..` move in the name space (the root's `..` is itself, that
/// of `/proc` the root); a tmpfs name over `NAME_MAX` is `ENAMETOOLONG`
/// (/proc lookups just find nothing); a missing one is `ENOENT`.
pub fn step(dir: &Node, name: &[u8]) -> Result<Node, Errno> {
    match dir {
        Node::Tmpfs(d) => {
            let dl = d.dir().ok_or(Errno::ENOTDIR)?.lock();
            let found = match name {
                b"." => d.clone(),
                b".." => dl.parent.upgrade().unwrap_or_else(|| d.clone()),
                _ if name.len() > NAME_MAX => return Err(Errno::ENAMETOOLONG),
                _ => dl.get(name).ok_or(Errno::ENOENT)?,
            };
            drop(dl);
            if name != b".." && name != b"." && found.dir().is_some_and(|c| c.lock().proc_mount) {
                return Ok(Node::Proc(b"/proc".to_vec()));
            }
            Ok(Node::Tmpfs(found))
        }
        Node::Proc(p) => {
            let mut path = p.clone();
            match name {
                b"." => {}
                b".." if path == b"/proc" => return Ok(Node::root()),
                b".." => {
                    let cut = path.iter().rposition(|&b| b == b'/').unwrap_or(0);
                    path.truncate(cut.max(1));
                }
                _ => {
                    path.push(b'/');
                    path.extend_from_slice(name);
                    proc_node_type(&path).ok_or(Errno::ENOENT)?;
                }
            }
            Ok(Node::Proc(path))
        }
    }
}

/// The result of walking all of a path but its last component.
pub struct Parent {
    /// The directory the last component is looked up in.
    pub dir: Node,
    /// The last component (empty for "/"; may be `.` or `..`).
    pub last: Vec<u8>,
    /// The path ended in a slash: its target must be a directory.
    pub trailing_slash: bool,
}

impl Parent {
    /// Linux's `LAST_NORM`: the last component is a name, not `.`, `..`
    /// or nothing.
    pub fn is_norm(&self) -> bool {
        !matches!(self.last.as_slice(), b"" | b"." | b"..")
    }
}

/// A walk in progress: the symbolic links followed so far.
pub struct Walk {
    pub cred: FsCred,
    links: u32,
}

impl Walk {
    pub fn new(cred: FsCred) -> Walk {
        Walk { cred, links: 0 }
    }

    /// Count one more symbolic link followed by the caller (`ELOOP` past
    /// [`MAXSYMLINKS`]).
    pub fn count_link(&mut self) -> Result<(), Errno> {
        self.links += 1;
        if self.links > MAXSYMLINKS {
            return Err(Errno::ELOOP);
        }
        Ok(())
    }

    /// Follow the symbolic link `link` found in `dir`: its target walked
    /// from `dir` (or the root), all of it followed; `ELOOP` past
    /// [`MAXSYMLINKS`].
    fn follow(&mut self, dir: &Node, link: &Node) -> Result<Node, Errno> {
        self.count_link()?;
        let Some(target) = link.link_target() else { return Ok(link.clone()) };
        self.walk(dir.clone(), &target, true)
    }

    /// `filename_parentat`: walk `path` from `start` (ignored when `path`
    /// is absolute) up to its last component. Every directory passed
    /// through must be one (`ENOTDIR`), exist (`ENOENT`) and be
    /// searchable (`EACCES`), the last one too.
    pub fn parent(&mut self, start: Node, path: &[u8]) -> Result<Parent, Errno> {
        let mut dir = if path.first() == Some(&b'/') { Node::root() } else { start };
        let mut comps: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
        let trailing_slash = path.last() == Some(&b'/') && !comps.is_empty();
        let last = comps.pop().unwrap_or(b"");
        for c in comps {
            if !dir.is_dir() {
                return Err(Errno::ENOTDIR);
            }
            dir.may_lookup(self.cred.clone())?;
            let mut next = step(&dir, c)?;
            if next.is_symlink() {
                next = self.follow(&dir, &next)?;
            }
            dir = next;
        }
        if !dir.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !last.is_empty() {
            dir.may_lookup(self.cred.clone())?;
        }
        Ok(Parent { dir, last: last.to_vec(), trailing_slash })
    }

    /// `path_lookupat`: walk all of `path` from `start`; a symbolic link
    /// last is followed when `follow` (or the path ends in a slash).
    pub fn walk(&mut self, start: Node, path: &[u8], follow: bool) -> Result<Node, Errno> {
        let p = self.parent(start, path)?;
        self.last(p, follow)
    }

    /// Finish a walk: look up the last component of `p`.
    pub fn last(&mut self, p: Parent, follow: bool) -> Result<Node, Errno> {
        if p.last.is_empty() {
            return Ok(p.dir);
        }
        let mut node = step(&p.dir, &p.last)?;
        if node.is_symlink() && (follow || p.trailing_slash) {
            node = self.follow(&p.dir, &node)?;
        }
        if p.trailing_slash && !node.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(node)
    }
}

/// `AT_FDCWD`: a relative path starts at the working directory.
const AT_FDCWD: i32 = -100;

/// Where a path lookup starts (`path_init`): the root for an absolute
/// path, the working directory for `AT_FDCWD`, else the directory open at
/// `dirfd` (`EBADF`, `ENOTDIR`).
pub fn start_dir(dirfd: i32, path: &[u8]) -> Result<Node, Errno> {
    if path.first() == Some(&b'/') {
        return Ok(Node::root());
    }
    let p = crate::proc::current();
    if dirfd == AT_FDCWD {
        return Ok(super::file::fs_struct(&p).lock().cwd.clone());
    }
    let f = super::file::files(&p).lock().get_raw(dirfd)?;
    match f.node() {
        Some(n) if n.is_dir() => Ok(n),
        _ => Err(Errno::ENOTDIR),
    }
}

/// Look up `path` from `start` with the caller's credentials, following
/// a final symbolic link when `follow`: the one way from a path to a
/// file (open, stat, chdir and execve go through it).
pub fn lookup(start: Node, path: &[u8], follow: bool) -> Result<Node, Errno> {
    Walk::new(FsCred::current()).walk(start, path, follow)
}

/// Look up all of `path` but its last component (for the calls that
/// create, remove or rename a name).
pub fn lookup_parent(start: Node, path: &[u8]) -> Result<Parent, Errno> {
    Walk::new(FsCred::current()).parent(start, path)
}

/// The canonical absolute path of the directory `node` (`d_path`, for
/// `getcwd`): `ENOENT` if it was removed (or is not a directory: a file
/// may have many names or none).
pub fn path_of(node: &Node) -> Result<Vec<u8>, Errno> {
    let mut inode = match node {
        Node::Proc(p) => return Ok(p.clone()),
        Node::Tmpfs(i) => i.clone(),
    };
    let mut names: Vec<Vec<u8>> = Vec::new();
    loop {
        let parent = match inode.dir() {
            Some(d) => {
                let d = d.lock();
                if d.dead {
                    return Err(Errno::ENOENT);
                }
                d.parent.upgrade()
            }
            None => return Err(Errno::ENOENT),
        };
        let Some(parent) = parent else { break };
        let name = parent.dir().and_then(|d| d.lock().name_of(&inode)).ok_or(Errno::ENOENT)?;
        names.push(name);
        inode = parent;
    }
    let mut out = Vec::new();
    for n in names.iter().rev() {
        out.push(b'/');
        out.extend_from_slice(n);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Ok(out)
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;

    /// The walk over the root tmpfs (which holds the initrd's `/cmdline`)
    /// and /proc: `.`/`..`, trailing slashes, and the errors in Linux's
    /// order.
    #[ktest]
    pub fn path_walk() {
        let root = FsCred::kernel();
        let ok = |start: &[u8], path: &[u8]| {
            let start = Walk::new(root.clone()).walk(Node::root(), start, true).unwrap();
            // A directory or /proc file by its path, a tmpfs file by its
            // inode number (files have no path of their own).
            let name = |n: &Node| match n.inode() {
                Some(i) if !i.is_dir() => Ok(alloc::format!("ino {}", i.ino)),
                _ => path_of(n).map(|p| alloc::string::String::from_utf8(p).unwrap()),
            };
            Walk::new(root.clone()).walk(start, path, true).and_then(|n| Ok((name(&n)?, n.is_dir())))
        };
        let cmdline = tmpfs::root().dir().unwrap().lock().get(b"cmdline").expect("the initrd's /cmdline is in the root");
        let cmdline = alloc::format!("ino {}", cmdline.ino);
        assert_eq!(ok(b"/", b"/"), Ok(("/".into(), true)));
        assert_eq!(ok(b"/proc", b".."), Ok(("/".into(), true)));
        assert_eq!(ok(b"/", b"../.."), Ok(("/".into(), true)), ".. of the root is the root");
        assert_eq!(ok(b"/", b"proc/sys/../sys//vm/./mlock_populate"), Ok(("/proc/sys/vm/mlock_populate".into(), false)));
        assert_eq!(ok(b"/proc/sys", b"/cmdline"), Ok((cmdline, false)), "an absolute path ignores the start");
        assert_eq!(ok(b"/", b"/cmdline/"), Err(Errno::ENOTDIR), "trailing slash on a file");
        assert_eq!(ok(b"/", b"/cmdline/x"), Err(Errno::ENOTDIR), "a file in the middle");
        assert_eq!(ok(b"/", b"/nonexistent"), Err(Errno::ENOENT));
        assert_eq!(ok(b"/", b"/nonexistent/x"), Err(Errno::ENOENT));
        assert_eq!(ok(b"/", b"/dev/shm/"), Ok(("/dev/shm".into(), true)));
        let long = [b'a'; NAME_MAX + 1];
        assert_eq!(ok(b"/", &long), Err(Errno::ENAMETOOLONG), "a component over NAME_MAX");
        assert_eq!(ok(b"/proc", &long), Err(Errno::ENOENT), "/proc lookups just find nothing");
        assert_eq!(ok(b"/", &long[..NAME_MAX]), Err(Errno::ENOENT), "NAME_MAX itself is fine");
    }
}
