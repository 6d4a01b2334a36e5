//! Credentials: who a process is and what it may do (Linux `struct cred`
//! with the rules of kernel/sys.c, kernel/groups.c, kernel/capability.c
//! and security/commoncap.c).
//!
//! A [`Creds`] value is never changed in place by a system call: each
//! `set*id`, `setgroups` or `capset` computes a new value from the old one
//! (or fails with `EPERM`/`EINVAL` and changes nothing), and the caller
//! stores it, as Linux's `prepare_creds`/`commit_creds`.
//!
//! Invariants, as Linux keeps them:
//! - the fs ids follow the effective ids, except after `setfsuid`/`setfsgid`;
//! - the effective capabilities lie within the permitted ones, and the
//!   permitted set never grows except by `execve` as root;
//! - leaving effective uid 0 clears the effective capabilities, returning
//!   to it makes the permitted set effective, and once none of the real,
//!   effective and saved uids is 0 the permitted set is gone;
//! - moving the fsuid away from 0 drops exactly the file-system
//!   capabilities ([`CAP_FS_MASK`]) from the effective set;
//! - supplementary groups are kept sorted.
//!
//! Holdfast keeps one `Creds` per process (Linux: per thread; C libraries
//! apply every `set*id` to all threads of a process).
//!
//! Locking: none here; the process holds its `Creds` under an `IrqMutex`,
//! taken briefly by the system calls that read or replace it.

use alloc::sync::Arc;
use alloc::vec::Vec;
use mm::Errno;

/// A capability set: bit `n` is capability `n` (Linux `kernel_cap_t`).
pub type CapSet = u64;

pub const CAP_CHOWN: u32 = 0;
pub const CAP_DAC_OVERRIDE: u32 = 1;
pub const CAP_FOWNER: u32 = 3;
pub const CAP_FSETID: u32 = 4;
pub const CAP_KILL: u32 = 5;
pub const CAP_SETGID: u32 = 6;
pub const CAP_SETUID: u32 = 7;
pub const CAP_SETPCAP: u32 = 8;
pub const CAP_IPC_LOCK: u32 = 14;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_SYS_RESOURCE: u32 = 24;
/// The highest capability Linux 6.x knows (`CAP_CHECKPOINT_RESTORE`).
pub const CAP_LAST_CAP: u32 = 40;
/// Every capability (`CAP_FULL_SET`); bits above are dropped from input.
pub const CAP_VALID_MASK: CapSet = (1 << (CAP_LAST_CAP + 1)) - 1;
/// The capabilities an fsuid change moves: `CAP_CHOWN`, `CAP_DAC_OVERRIDE`,
/// `CAP_DAC_READ_SEARCH`, `CAP_FOWNER`, `CAP_FSETID`, `CAP_LINUX_IMMUTABLE`,
/// `CAP_MKNOD` and `CAP_MAC_OVERRIDE` (Linux `CAP_FS_MASK`).
pub const CAP_FS_MASK: CapSet = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 9) | (1 << 27) | (1 << 32);
/// Most supplementary groups a process may have (Linux `NGROUPS_MAX`).
pub const NGROUPS_MAX: usize = 65536;

/// An id argument of `-1`: "leave this one unchanged".
pub const ID_UNCHANGED: u32 = u32::MAX;

/// Who a process is, and its capabilities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Creds {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    /// Supplementary groups, sorted.
    pub groups: Arc<[u32]>,
    pub cap_inheritable: CapSet,
    pub cap_permitted: CapSet,
    pub cap_effective: CapSet,
    pub cap_bset: CapSet,
    pub cap_ambient: CapSet,
}

fn given(id: u32) -> Option<u32> {
    (id != ID_UNCHANGED).then_some(id)
}

impl Creds {
    /// The first process's credentials: root with every capability.
    pub fn root() -> Creds {
        Creds {
            uid: 0,
            euid: 0,
            suid: 0,
            fsuid: 0,
            gid: 0,
            egid: 0,
            sgid: 0,
            fsgid: 0,
            groups: Arc::from([]),
            cap_inheritable: 0,
            cap_permitted: CAP_VALID_MASK,
            cap_effective: CAP_VALID_MASK,
            cap_bset: CAP_VALID_MASK,
            cap_ambient: 0,
        }
    }

    /// Is capability `cap` in the effective set (Linux `capable`)?
    pub fn capable(&self, cap: u32) -> bool {
        self.cap_effective & (1 << cap) != 0
    }

    /// `setuid(uid)`: with `CAP_SETUID` all of real, effective and saved;
    /// otherwise only the effective uid, to the real or saved one.
    pub fn set_uid(&self, uid: u32) -> Result<Creds, Errno> {
        let uid = given(uid).ok_or(Errno::EINVAL)?;
        let mut new = self.clone();
        if self.capable(CAP_SETUID) {
            new.uid = uid;
            new.suid = uid;
        } else if uid != self.uid && uid != self.suid {
            return Err(Errno::EPERM);
        }
        new.euid = uid;
        new.fsuid = uid;
        new.fix_setuid(self);
        Ok(new)
    }

    /// `setreuid(ruid, euid)`: the real uid may become the real or
    /// effective one, the effective uid any of the three; a new real uid,
    /// or an effective uid other than the old real one, becomes the saved
    /// uid too.
    pub fn set_reuid(&self, ruid: u32, euid: u32) -> Result<Creds, Errno> {
        let priv_ = self.capable(CAP_SETUID);
        let mut new = self.clone();
        if let Some(r) = given(ruid) {
            if r != self.uid && r != self.euid && !priv_ {
                return Err(Errno::EPERM);
            }
            new.uid = r;
        }
        if let Some(e) = given(euid) {
            if e != self.uid && e != self.euid && e != self.suid && !priv_ {
                return Err(Errno::EPERM);
            }
            new.euid = e;
        }
        if given(ruid).is_some() || given(euid).is_some_and(|e| e != self.uid) {
            new.suid = new.euid;
        }
        new.fsuid = new.euid;
        new.fix_setuid(self);
        Ok(new)
    }

    /// `setresuid(ruid, euid, suid)`: without `CAP_SETUID` each new id
    /// must be one of the old real, effective and saved uids.
    pub fn set_resuid(&self, ruid: u32, euid: u32, suid: u32) -> Result<Creds, Errno> {
        let known = |id: u32| id == self.uid || id == self.euid || id == self.suid;
        let asks_new = [ruid, euid, suid].into_iter().filter_map(given).any(|id| !known(id));
        if asks_new && !self.capable(CAP_SETUID) {
            return Err(Errno::EPERM);
        }
        let mut new = self.clone();
        new.uid = given(ruid).unwrap_or(self.uid);
        new.euid = given(euid).unwrap_or(self.euid);
        new.suid = given(suid).unwrap_or(self.suid);
        new.fsuid = new.euid;
        new.fix_setuid(self);
        Ok(new)
    }

    /// `setfsuid(uid)`: the new credentials if the change is allowed and
    /// is one (the call always returns the old fsuid).
    pub fn set_fsuid(&self, uid: u32) -> Option<Creds> {
        let uid = given(uid)?;
        let allowed = [self.uid, self.euid, self.suid, self.fsuid].contains(&uid) || self.capable(CAP_SETUID);
        if !allowed || uid == self.fsuid {
            return None;
        }
        let mut new = self.clone();
        new.fsuid = uid;
        if self.fsuid == 0 && uid != 0 {
            new.cap_effective &= !CAP_FS_MASK;
        } else if self.fsuid != 0 && uid == 0 {
            new.cap_effective |= new.cap_permitted & CAP_FS_MASK;
        }
        Some(new)
    }

    /// `setgid(gid)`, as [`Creds::set_uid`] with `CAP_SETGID` (and no
    /// capability changes).
    pub fn set_gid(&self, gid: u32) -> Result<Creds, Errno> {
        let gid = given(gid).ok_or(Errno::EINVAL)?;
        let mut new = self.clone();
        if self.capable(CAP_SETGID) {
            new.gid = gid;
            new.sgid = gid;
        } else if gid != self.gid && gid != self.sgid {
            return Err(Errno::EPERM);
        }
        new.egid = gid;
        new.fsgid = gid;
        Ok(new)
    }

    /// `setregid(rgid, egid)`, as [`Creds::set_reuid`].
    pub fn set_regid(&self, rgid: u32, egid: u32) -> Result<Creds, Errno> {
        let priv_ = self.capable(CAP_SETGID);
        let mut new = self.clone();
        if let Some(r) = given(rgid) {
            if r != self.gid && r != self.egid && !priv_ {
                return Err(Errno::EPERM);
            }
            new.gid = r;
        }
        if let Some(e) = given(egid) {
            if e != self.gid && e != self.egid && e != self.sgid && !priv_ {
                return Err(Errno::EPERM);
            }
            new.egid = e;
        }
        if given(rgid).is_some() || given(egid).is_some_and(|e| e != self.gid) {
            new.sgid = new.egid;
        }
        new.fsgid = new.egid;
        Ok(new)
    }

    /// `setresgid(rgid, egid, sgid)`, as [`Creds::set_resuid`].
    pub fn set_resgid(&self, rgid: u32, egid: u32, sgid: u32) -> Result<Creds, Errno> {
        let known = |id: u32| id == self.gid || id == self.egid || id == self.sgid;
        let asks_new = [rgid, egid, sgid].into_iter().filter_map(given).any(|id| !known(id));
        if asks_new && !self.capable(CAP_SETGID) {
            return Err(Errno::EPERM);
        }
        let mut new = self.clone();
        new.gid = given(rgid).unwrap_or(self.gid);
        new.egid = given(egid).unwrap_or(self.egid);
        new.sgid = given(sgid).unwrap_or(self.sgid);
        new.fsgid = new.egid;
        Ok(new)
    }

    /// `setfsgid(gid)`, as [`Creds::set_fsuid`].
    pub fn set_fsgid(&self, gid: u32) -> Option<Creds> {
        let gid = given(gid)?;
        let allowed = [self.gid, self.egid, self.sgid, self.fsgid].contains(&gid) || self.capable(CAP_SETGID);
        if !allowed || gid == self.fsgid {
            return None;
        }
        let mut new = self.clone();
        new.fsgid = gid;
        Some(new)
    }

    /// `setgroups`: needs `CAP_SETGID`; the list is stored sorted.
    /// `groups` is already limited to [`NGROUPS_MAX`] by the caller.
    pub fn set_groups(&self, mut groups: Vec<u32>) -> Result<Creds, Errno> {
        if !self.capable(CAP_SETGID) {
            return Err(Errno::EPERM);
        }
        groups.sort_unstable();
        let mut new = self.clone();
        new.groups = Arc::from(groups);
        Ok(new)
    }

    /// `capset`: the permitted set may only shrink, the effective set must
    /// lie within the new permitted one, and the inheritable set within
    /// the old inheritable and bounding sets (and, without `CAP_SETPCAP`,
    /// within the old inheritable and permitted ones). Linux
    /// `cap_capset`.
    pub fn capset(&self, effective: CapSet, permitted: CapSet, inheritable: CapSet) -> Result<Creds, Errno> {
        let (effective, permitted, inheritable) = (effective & CAP_VALID_MASK, permitted & CAP_VALID_MASK, inheritable & CAP_VALID_MASK);
        let subset = |a: CapSet, b: CapSet| a & !b == 0;
        if !self.capable(CAP_SETPCAP) && !subset(inheritable, self.cap_inheritable | self.cap_permitted) {
            return Err(Errno::EPERM);
        }
        if !subset(inheritable, self.cap_inheritable | self.cap_bset)
            || !subset(permitted, self.cap_permitted)
            || !subset(effective, permitted)
        {
            return Err(Errno::EPERM);
        }
        let mut new = self.clone();
        new.cap_effective = effective;
        new.cap_permitted = permitted;
        new.cap_inheritable = inheritable;
        new.cap_ambient &= permitted & inheritable;
        Ok(new)
    }

    /// The credentials a program starts with after `execve` of a file
    /// without set-id bits or file capabilities (Linux
    /// `cap_bprm_creds_from_file`): the saved and fs ids become the
    /// effective ones; root (real or effective uid 0) gets its bounding
    /// set and inheritable set as permitted and all of it effective, every
    /// other user only its ambient set.
    pub fn after_exec(&self) -> Creds {
        let mut new = self.clone();
        new.suid = new.euid;
        new.fsuid = new.euid;
        new.sgid = new.egid;
        new.fsgid = new.egid;
        if new.uid == 0 || new.euid == 0 {
            new.cap_permitted = (new.cap_inheritable | new.cap_bset) & CAP_VALID_MASK;
            new.cap_effective = new.cap_permitted;
            new.cap_ambient = 0;
        } else {
            new.cap_permitted = new.cap_ambient;
            new.cap_effective = new.cap_ambient;
        }
        new
    }

    /// Capabilities after a uid change from `old` (Linux
    /// `cap_emulate_setxuid`).
    fn fix_setuid(&mut self, old: &Creds) {
        let had_root = old.uid == 0 || old.euid == 0 || old.suid == 0;
        let has_root = self.uid == 0 || self.euid == 0 || self.suid == 0;
        if had_root && !has_root {
            self.cap_permitted = 0;
            self.cap_effective = 0;
            self.cap_ambient = 0;
        }
        if old.euid == 0 && self.euid != 0 {
            self.cap_effective = 0;
        }
        if old.euid != 0 && self.euid == 0 {
            self.cap_effective = self.cap_permitted;
        }
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;

    fn user(uid: u32) -> Creds {
        Creds::root().set_resuid(uid, uid, uid).unwrap()
    }

    #[ktest]
    pub fn leaving_root_for_good_empties_the_permitted_set() {
        let c = user(1000);
        assert_eq!((c.uid, c.euid, c.suid, c.fsuid), (1000, 1000, 1000, 1000));
        assert_eq!((c.cap_permitted, c.cap_effective), (0, 0));
        assert_eq!(c.set_uid(0), Err(Errno::EPERM));
        assert_eq!(c.set_resuid(ID_UNCHANGED, 0, ID_UNCHANGED), Err(Errno::EPERM));
    }

    #[ktest]
    pub fn a_temporary_euid_keeps_the_permitted_set() {
        let root = Creds::root();
        let c = root.set_resuid(ID_UNCHANGED, 1000, ID_UNCHANGED).unwrap();
        assert_eq!((c.cap_permitted, c.cap_effective), (CAP_VALID_MASK, 0));
        let back = c.set_resuid(ID_UNCHANGED, 0, ID_UNCHANGED).unwrap();
        assert_eq!(back, root);
    }

    #[ktest]
    pub fn setfsuid_moves_only_the_fs_capabilities() {
        let root = Creds::root();
        let c = root.set_fsuid(1000).unwrap();
        assert_eq!(c.cap_effective, CAP_VALID_MASK & !CAP_FS_MASK);
        assert!(c.capable(CAP_IPC_LOCK));
        assert_eq!(c.set_fsuid(0).unwrap(), root);
        assert_eq!(root.set_fsuid(0), None, "no change is no new credentials");
        assert_eq!(user(5).set_fsuid(0), None);
    }

    #[ktest]
    pub fn capset_cannot_grow_permitted_or_exceed_it() {
        let root = Creds::root();
        let no_ipc = CAP_VALID_MASK & !(1 << CAP_IPC_LOCK);
        let c = root.capset(no_ipc, no_ipc, 0).unwrap();
        assert!(!c.capable(CAP_IPC_LOCK));
        assert_eq!(c.capset(CAP_VALID_MASK, no_ipc, 0), Err(Errno::EPERM));
        assert_eq!(c.capset(no_ipc, CAP_VALID_MASK, 0), Err(Errno::EPERM));
        assert_eq!(root.capset(u64::MAX, u64::MAX, 0).unwrap(), root, "unknown bits are dropped");
    }

    #[ktest]
    pub fn exec_gives_root_its_bounding_set_back() {
        let root = Creds::root();
        let c = root.capset(0, 1 << CAP_IPC_LOCK, 0).unwrap().after_exec();
        assert_eq!(c, root);
        let u = user(7).after_exec();
        assert_eq!((u.cap_permitted, u.cap_effective), (0, 0));
    }

    #[ktest]
    pub fn groups_are_sorted_and_need_setgid() {
        let c = Creds::root().set_groups(alloc::vec![9, 3, 5]).unwrap();
        assert_eq!(&*c.groups, &[3, 5, 9]);
        assert_eq!(user(1).set_groups(alloc::vec![]), Err(Errno::EPERM));
    }
}
