//! The LRU lists reclaim scans (Linux `struct lruvec`, one per machine:
//! Holdfast has one memory node and no memory cgroups).
//!
//! Four evictable lists, as Linux keeps them: inactive and active, for
//! anonymous (swap-backed) pages and for file pages. Every user page in
//! Holdfast is swap-backed (private anonymous memory, and the shmem objects
//! behind shared memory, tmpfs and the files of the initrd), so every
//! evictable page goes on the anonymous lists and the file lists stay
//! empty until a page cache that can drop clean pages exists. A new page
//! goes to the head of the inactive list (Linux 5.9+ for anonymous pages);
//! reclaim takes pages from the tail, activates the ones the reverse maps
//! find referenced and deactivates from the active tail when the inactive
//! list runs short.
//!
//! The unevictable list stays imaginary, as since Linux 5.18: a page that is
//! `UNEVICTABLE` (mlocked, or of a `SHM_LOCK`ed object) is on none of these
//! lists and is only counted. Which list a page belongs on follows from its
//! state word alone ([`PageMeta::state`](crate::page_meta::PageMeta::state)):
//! on the LRU (`LRU`) and evictable means on a list, anything else
//! (isolated by reclaim, unevictable, free) means on none.
//!
//! # Invariants (under the lruvec lock)
//!
//! - The links form four doubly-linked lists; a page is on at most one, and
//!   `len` counts each.
//! - After [`Lruvec::sync`] of a page returns, and until its state word
//!   changes again, the page is on a list iff its state says `LRU` and not
//!   `UNEVICTABLE`. Every state change that can flip that is followed by a
//!   `sync` of the page ([`crate::page_meta`] does it), and `sync` reads the
//!   state under the lock, so concurrent changes end with the last `sync`
//!   seeing the last state: no page is lost from the lists, none stays on
//!   one when it became unevictable.
//!
//! # Locking
//!
//! One spinlock, the lruvec lock (Linux `lruvec->lru_lock`), around the
//! links and lengths, held with interrupts off ([`crate::irqlock`]). In the lock order it sits below the page-table lock
//! (the fault path adds pages with its mm's inner lock held) and above the
//! frame allocator; nothing is taken while holding it.

use alloc::vec::Vec;

use crate::irqlock::IrqSpinLock;

use crate::page_meta::{PageFlags, PageState};

/// One of the evictable LRU lists (Linux `enum lru_list`, less
/// `LRU_UNEVICTABLE`, which Holdfast only counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LruList {
    InactiveAnon = 0,
    ActiveAnon = 1,
    InactiveFile = 2,
    ActiveFile = 3,
}

impl LruList {
    pub const ALL: [LruList; 4] = [LruList::InactiveAnon, LruList::ActiveAnon, LruList::InactiveFile, LruList::ActiveFile];

    /// The active list of the same kind.
    pub const fn active(self) -> LruList {
        match self {
            LruList::InactiveAnon | LruList::ActiveAnon => LruList::ActiveAnon,
            LruList::InactiveFile | LruList::ActiveFile => LruList::ActiveFile,
        }
    }

    /// The inactive list of the same kind.
    pub const fn inactive(self) -> LruList {
        match self {
            LruList::InactiveAnon | LruList::ActiveAnon => LruList::InactiveAnon,
            LruList::InactiveFile | LruList::ActiveFile => LruList::InactiveFile,
        }
    }

    pub const fn is_active(self) -> bool {
        matches!(self, LruList::ActiveAnon | LruList::ActiveFile)
    }
}

/// A page's place in the lists: neighbours as index + 1 (0 = none) and the
/// list as its number + 1 (0 = on no list), so that all-zero is "off".
#[derive(Clone, Copy, Debug, Default)]
struct Link {
    prev: u32,
    next: u32,
    list: u8,
}

struct Lists {
    /// Index + 1 of the first (most recently added) page of each list.
    head: [u32; 4],
    /// Index + 1 of the last (next to scan) page of each list.
    tail: [u32; 4],
    len: [u64; 4],
    links: Vec<Link>,
}

/// The LRU lists of one array of frames; pages are named by their index
/// in the array (pfn minus the array's first pfn).
pub struct Lruvec {
    lists: IrqSpinLock<Lists>,
}

/// Lengths of the four lists (Linux `lruvec_page_state`, in pages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LruSizes {
    pub inactive_anon: u64,
    pub active_anon: u64,
    pub inactive_file: u64,
    pub active_file: u64,
}

impl Lruvec {
    /// Lists for `npages` frames, all off; `None` if the heap cannot hold
    /// the links.
    pub fn new(npages: usize) -> Option<Lruvec> {
        let mut links = Vec::new();
        links.try_reserve_exact(npages).ok()?;
        links.resize(npages, Link::default());
        Some(Lruvec { lists: IrqSpinLock::new(Lists { head: [0; 4], tail: [0; 4], len: [0; 4], links }) })
    }

    /// Put page `idx` where its state `read_state` (read under the lruvec
    /// lock) says it belongs: on `list` if it is on the LRU and evictable
    /// (staying on the list it is on, if any), else on no list.
    ///
    /// Locking: takes the lruvec lock.
    pub fn sync(&self, idx: usize, list: LruList, read_state: impl FnOnce() -> PageState) {
        let mut l = self.lists.lock();
        let st = read_state();
        let belongs = st.flags.contains(PageFlags::LRU) && !st.flags.contains(PageFlags::UNEVICTABLE);
        match (l.on(idx), belongs) {
            (None, true) => l.push_head(idx, list),
            (Some(_), false) => l.unlink(idx),
            _ => {}
        }
    }

    /// The list page `idx` is on, if any.
    ///
    /// Locking: takes the lruvec lock.
    pub fn list_of(&self, idx: usize) -> Option<LruList> {
        self.lists.lock().on(idx)
    }

    /// Move page `idx`, if it is on a list, to the head of `to` (Linux
    /// `folio_activate` / `lru_deactivate`).
    ///
    /// Locking: takes the lruvec lock.
    pub fn move_to(&self, idx: usize, to: LruList) -> bool {
        let mut l = self.lists.lock();
        if l.on(idx).is_none() {
            return false;
        }
        l.unlink(idx);
        l.push_head(idx, to);
        true
    }

    /// Take up to `nr` pages off the tail of `list` (Linux
    /// `isolate_lru_folios`): for each tail page `isolate` decides, under
    /// the lruvec lock, whether it is taken (`true`: it leaves the list,
    /// and `isolate` has cleared its `LRU` flag and holds a reference) or
    /// rotated to the head (`false`: a page being freed, or one that
    /// cannot be taken now). Returns the indices taken and the number of
    /// pages looked at.
    ///
    /// Locking: takes the lruvec lock; `isolate` must take no lock.
    pub fn isolate_tail(&self, list: LruList, nr: usize, mut isolate: impl FnMut(usize) -> bool) -> (Vec<usize>, usize) {
        let mut taken = Vec::new();
        if taken.try_reserve_exact(nr).is_err() {
            return (taken, 0);
        }
        let mut l = self.lists.lock();
        let len = usize::try_from(l.len[list as usize]).unwrap_or(usize::MAX);
        let mut scanned = 0;
        while taken.len() < nr && scanned < len {
            let t = l.tail[list as usize];
            if t == 0 {
                break;
            }
            let idx = (t - 1) as usize;
            scanned += 1;
            l.unlink(idx);
            if isolate(idx) {
                taken.push(idx);
            } else {
                l.push_head(idx, list);
            }
        }
        (taken, scanned)
    }

    /// The lists' lengths.
    ///
    /// Locking: takes the lruvec lock.
    pub fn sizes(&self) -> LruSizes {
        let l = self.lists.lock();
        LruSizes {
            inactive_anon: l.len[LruList::InactiveAnon as usize],
            active_anon: l.len[LruList::ActiveAnon as usize],
            inactive_file: l.len[LruList::InactiveFile as usize],
            active_file: l.len[LruList::ActiveFile as usize],
        }
    }

    /// Check the links against the lengths: every list walks from head to
    /// tail through consistent back links, and has `len` pages. For tests
    /// and the invariant checker.
    ///
    /// Locking: takes the lruvec lock.
    pub fn check(&self) -> Result<(), &'static str> {
        let l = self.lists.lock();
        let mut seen = 0u64;
        for list in LruList::ALL {
            let mut prev = 0u32;
            let mut cur = l.head[list as usize];
            let mut n = 0u64;
            while cur != 0 {
                let link = l.links.get((cur - 1) as usize).ok_or("link out of range")?;
                if link.prev != prev {
                    return Err("broken back link");
                }
                if link.list != list as u8 + 1 {
                    return Err("page on a list it does not name");
                }
                n += 1;
                if n > l.links.len() as u64 {
                    return Err("cycle");
                }
                prev = cur;
                cur = link.next;
            }
            if l.tail[list as usize] != prev {
                return Err("tail is not the last page");
            }
            if n != l.len[list as usize] {
                return Err("length does not match the list");
            }
            seen += n;
        }
        let tagged = l.links.iter().filter(|k| k.list != 0).count() as u64;
        if tagged != seen {
            return Err("a page names a list it is not on");
        }
        Ok(())
    }
}

impl Lists {
    fn on(&self, idx: usize) -> Option<LruList> {
        match self.links.get(idx)?.list {
            0 => None,
            n => LruList::ALL.get(usize::from(n - 1)).copied(),
        }
    }

    fn push_head(&mut self, idx: usize, list: LruList) {
        let Ok(me) = u32::try_from(idx + 1) else { return };
        if idx >= self.links.len() {
            return;
        }
        let li = list as usize;
        let old_head = self.head[li];
        self.links[idx] = Link { prev: 0, next: old_head, list: list as u8 + 1 };
        if old_head != 0 {
            self.links[(old_head - 1) as usize].prev = me;
        } else {
            self.tail[li] = me;
        }
        self.head[li] = me;
        self.len[li] += 1;
    }

    fn unlink(&mut self, idx: usize) {
        let Some(list) = self.on(idx) else { return };
        let li = list as usize;
        let Link { prev, next, .. } = self.links[idx];
        if prev != 0 {
            self.links[(prev - 1) as usize].next = next;
        } else {
            self.head[li] = next;
        }
        if next != 0 {
            self.links[(next - 1) as usize].prev = prev;
        } else {
            self.tail[li] = prev;
        }
        self.links[idx] = Link::default();
        self.len[li] -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(flags: PageFlags) -> PageState {
        PageState { flags, mlock_count: 0 }
    }

    const ON: PageFlags = PageFlags::LRU;

    #[test]
    fn sync_adds_and_removes_by_state() {
        let v = Lruvec::new(8).unwrap();
        for i in 0..4 {
            v.sync(i, LruList::InactiveAnon, || st(ON));
        }
        assert_eq!(v.sizes().inactive_anon, 4);
        // Again: stays where it is, no double insert.
        v.sync(2, LruList::InactiveAnon, || st(ON));
        assert_eq!(v.sizes().inactive_anon, 4);
        v.sync(1, LruList::InactiveAnon, || st(ON | PageFlags::UNEVICTABLE));
        v.sync(3, LruList::InactiveAnon, || st(PageFlags::empty()));
        assert_eq!(v.sizes().inactive_anon, 2);
        assert_eq!(v.list_of(1), None);
        assert_eq!(v.list_of(0), Some(LruList::InactiveAnon));
        v.check().unwrap();
    }

    #[test]
    fn isolate_takes_from_the_tail_oldest_first() {
        let v = Lruvec::new(8).unwrap();
        for i in 0..5 {
            v.sync(i, LruList::InactiveAnon, || st(ON));
        }
        let (taken, scanned) = v.isolate_tail(LruList::InactiveAnon, 2, |_| true);
        assert_eq!(taken, [0, 1]);
        assert_eq!(scanned, 2);
        // Refused pages rotate to the head; the scan stops after one lap.
        let (taken, scanned) = v.isolate_tail(LruList::InactiveAnon, 10, |i| i == 3);
        assert_eq!(taken, [3]);
        assert_eq!(scanned, 3);
        assert_eq!(v.sizes().inactive_anon, 2);
        v.check().unwrap();
    }

    #[test]
    fn move_between_lists() {
        let v = Lruvec::new(4).unwrap();
        v.sync(0, LruList::InactiveAnon, || st(ON));
        assert!(v.move_to(0, LruList::ActiveAnon));
        assert!(!v.move_to(1, LruList::ActiveAnon));
        let s = v.sizes();
        assert_eq!((s.inactive_anon, s.active_anon), (0, 1));
        // A sync of a page already on a list keeps it there.
        v.sync(0, LruList::InactiveAnon, || st(ON));
        assert_eq!(v.list_of(0), Some(LruList::ActiveAnon));
        v.check().unwrap();
    }

    #[test]
    fn random_operations_keep_the_lists_consistent() {
        let v = Lruvec::new(64).unwrap();
        let mut x = 12345u64;
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let idx = (x % 64) as usize;
            match (x >> 8) % 4 {
                0 => v.sync(idx, LruList::InactiveAnon, || st(ON)),
                1 => v.sync(idx, LruList::InactiveAnon, || st(PageFlags::empty())),
                2 => {
                    v.move_to(idx, LruList::ActiveAnon);
                }
                _ => {
                    v.isolate_tail(LruList::ALL[(x >> 16) as usize % 2], 3, |i| i % 2 == 0);
                }
            }
        }
        v.check().unwrap();
    }
}
