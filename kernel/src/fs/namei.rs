//! Path names: copying them from user space (`getname`) and walking them
//! (`link_path_walk`), with Linux's errors in Linux's order.
//!
//! Paths are bytes, not UTF-8. Holdfast's name space is small and fixed:
//! the initrd's files and the directories their names imply (with `/` as
//! the root), and `/proc` (`/proc/self`, `/proc/thread-self`,
//! `/proc/<pid>`, `/proc/sys`, `/proc/sys/vm` and the files in them), and
//! `/dev` with `/dev/null` and `/dev/zero` (see [`Device`]). A
//! node is named by its canonical absolute path (no `.`, `..` or repeated
//! slashes), which is what a directory file remembers to serve as a
//! `dirfd`. Symbolic links do not exist here: `/proc/self` is resolved as
//! the directory it points to.
//!
//! Locking: none; the initrd is immutable and /proc lookups take only the
//! process table's own locks.

use alloc::vec::Vec;
use mm::Errno;

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

/// Files inside every `/proc/<pid>` directory (see `procfs::open`).
pub const PROC_PID_FILES: &[&[u8]] = &[b"maps", b"status", b"mmap_lock"];

/// A character device under `/dev` (`drivers/char/mem.c`'s).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// `/dev/null`: reads see end of file, writes are swallowed.
    Null,
    /// `/dev/zero`: reads give zeros, writes are swallowed.
    Zero,
}

impl Device {
    /// The device at canonical `path`, if there is one.
    pub fn from_path(path: &[u8]) -> Option<Device> {
        match path {
            b"/dev/null" => Some(Device::Null),
            b"/dev/zero" => Some(Device::Zero),
            _ => None,
        }
    }

    /// Linux's (major, minor).
    pub fn rdev(self) -> (u32, u32) {
        match self {
            Device::Null => (1, 3),
            Device::Zero => (1, 5),
        }
    }
}

/// Is `path` (canonical) inside `/proc`?
pub fn in_proc(path: &[u8]) -> bool {
    path == b"/proc" || path.starts_with(b"/proc/")
}

fn initrd_name(name: &str) -> &[u8] {
    name.trim_start_matches("./").trim_start_matches('/').as_bytes()
}

/// What the canonical absolute `path` names, if anything.
pub fn node_type(path: &[u8]) -> Option<NodeType> {
    if path == b"/" || path == b"/proc" || path == b"/dev" {
        return Some(NodeType::Dir);
    }
    if Device::from_path(path).is_some() {
        return Some(NodeType::File);
    }
    if let Some(rest) = path.strip_prefix(b"/proc/") {
        let mut parts = rest.split(|&b| b == b'/');
        let first = parts.next().unwrap_or(b"");
        let (second, third) = (parts.next(), parts.next());
        let more = parts.next().is_some();
        return match (first, second, third, more) {
            (b"cpuinfo" | b"vmstat" | b"sysrq-trigger", None, _, _) => Some(NodeType::File),
            (b"sys", None, _, _) => Some(NodeType::Dir),
            (b"sys", Some(b"vm"), None, _) => Some(NodeType::Dir),
            (b"sys", Some(b"vm"), Some(f), false) if super::procfs::Sysctl::from_name(f).is_some() => Some(NodeType::File),
            (who, None, _, _) if proc_pid_dir_exists(who) => Some(NodeType::Dir),
            (who, Some(f), None, _) if PROC_PID_FILES.contains(&f) && proc_pid_dir_exists(who) => Some(NodeType::File),
            _ => None,
        };
    }
    let want = path.strip_prefix(b"/").unwrap_or(path);
    let mut ty = None;
    for e in crate::fs::initrd::entries() {
        let name = initrd_name(e.name);
        if name == want {
            return Some(if e.mode & 0o170000 == 0o040000 { NodeType::Dir } else { NodeType::File });
        }
        if name.len() > want.len() && name.starts_with(want) && name[want.len()] == b'/' {
            ty = Some(NodeType::Dir);
        }
    }
    ty
}

/// The result of walking all of a path but its last component.
pub struct Parent {
    /// Canonical path of the directory the last component is looked up in.
    pub dir: Vec<u8>,
    /// The last component (empty for "/" or a path of only `.`/`..`).
    pub last: Vec<u8>,
    /// The path ended in a slash: its target must be a directory.
    pub trailing_slash: bool,
}

/// Look up `name` in the directory `dir`: `..` and `.` move in the name
/// space; a name longer than `NAME_MAX` is `ENAMETOOLONG` outside /proc
/// (whose lookups simply find nothing); a missing one is `ENOENT`.
pub fn step(dir: &mut Vec<u8>, name: &[u8]) -> Result<(), Errno> {
    match name {
        b"." => {}
        b".." => {
            let cut = dir.iter().rposition(|&b| b == b'/').unwrap_or(0);
            dir.truncate(cut.max(1));
        }
        _ => {
            if name.len() > NAME_MAX && !in_proc(dir) {
                return Err(Errno::ENAMETOOLONG);
            }
            let old = dir.len();
            if dir.as_slice() != b"/" {
                dir.push(b'/');
            }
            dir.extend_from_slice(name);
            if node_type(dir).is_none() {
                dir.truncate(old);
                return Err(Errno::ENOENT);
            }
        }
    }
    Ok(())
}

/// Walk `path` from `start` (a canonical directory path; ignored when
/// `path` is absolute) up to, not including, its last component. Every
/// directory passed through must be one (`ENOTDIR`) and exist (`ENOENT`).
pub fn walk_parent(start: &[u8], path: &[u8]) -> Result<Parent, Errno> {
    let mut dir: Vec<u8> = if path.first() == Some(&b'/') { b"/".to_vec() } else { start.to_vec() };
    let mut comps: Vec<&[u8]> = path.split(|&b| b == b'/').filter(|c| !c.is_empty()).collect();
    let trailing_slash = path.last() == Some(&b'/') && !comps.is_empty();
    let last = comps.pop().unwrap_or(b"");
    for c in comps {
        if node_type(&dir) != Some(NodeType::Dir) {
            return Err(Errno::ENOTDIR);
        }
        step(&mut dir, c)?;
    }
    if node_type(&dir) != Some(NodeType::Dir) {
        return Err(Errno::ENOTDIR);
    }
    Ok(Parent { dir, last: last.to_vec(), trailing_slash })
}

/// Walk all of `path` from `start`: the canonical path of what it names.
pub fn walk(start: &[u8], path: &[u8]) -> Result<(Vec<u8>, NodeType), Errno> {
    let p = walk_parent(start, path)?;
    let mut node = p.dir;
    if !p.last.is_empty() {
        step(&mut node, &p.last)?;
    }
    let ty = node_type(&node).ok_or(Errno::ENOENT)?;
    if p.trailing_slash && ty != NodeType::Dir {
        return Err(Errno::ENOTDIR);
    }
    Ok((node, ty))
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;

    /// The walk over the boot initrd (which holds `/cmdline`) and /proc:
    /// `.`/`..`, trailing slashes, and the errors in Linux's order.
    #[ktest]
    pub fn path_walk() {
        let ok = |start: &[u8], path: &[u8]| walk(start, path).map(|(p, t)| (alloc::string::String::from_utf8(p).unwrap(), t));
        assert_eq!(ok(b"/", b"/"), Ok(("/".into(), NodeType::Dir)));
        assert_eq!(ok(b"/proc", b".."), Ok(("/".into(), NodeType::Dir)));
        assert_eq!(ok(b"/", b"../.."), Ok(("/".into(), NodeType::Dir)), ".. of the root is the root");
        assert_eq!(ok(b"/", b"proc/sys/../sys//vm/./mlock_populate"), Ok(("/proc/sys/vm/mlock_populate".into(), NodeType::File)));
        assert_eq!(ok(b"/proc/sys", b"/cmdline"), Ok(("/cmdline".into(), NodeType::File)), "an absolute path ignores the start");
        assert_eq!(ok(b"/", b"/cmdline/"), Err(Errno::ENOTDIR), "trailing slash on a file");
        assert_eq!(ok(b"/", b"/cmdline/x"), Err(Errno::ENOTDIR), "a file in the middle");
        assert_eq!(ok(b"/", b"/nonexistent"), Err(Errno::ENOENT));
        assert_eq!(ok(b"/", b"/nonexistent/x"), Err(Errno::ENOENT));
        let long = [b'a'; NAME_MAX + 1];
        assert_eq!(ok(b"/", &long), Err(Errno::ENAMETOOLONG), "a component over NAME_MAX");
        assert_eq!(ok(b"/proc", &long), Err(Errno::ENOENT), "/proc lookups just find nothing");
        assert_eq!(ok(b"/", &long[..NAME_MAX]), Err(Errno::ENOENT), "NAME_MAX itself is fine");
    }
}
