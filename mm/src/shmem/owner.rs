//! What the owner of a shmem object (a SysV segment) adds to it: hooks on
//! the vmas that map it, Linux's `vm_operations_struct` `open`/`close` as
//! SysV shm uses them (`shm_open`, `shm_close`: `shm_nattch` counts the
//! vmas), and the unevictable mapping of `SHM_LOCK` (Linux
//! `mapping_set_unevictable`, `mapping_clear_unevictable` with
//! `shmem_unlock_mapping`).
//!
//! Invariants: while the object is unevictable every page it holds carries
//! `MAPPING_UNEVICTABLE` (see [`crate::page_meta`]), so a page it adds
//! joins the LRU unevictable, and a munlock leaves its pages there; when it
//! becomes evictable again none does, and its pages that are not mlocked
//! are back on the evictable LRU. The hooks are installed once, before any
//! vma maps the object, so `open` and `close` calls pair up.
//!
//! Locking: [`Shmem::set_unevictable`] holds the object's page-index lock
//! over the flag and the walk, so a page being added sees the flag before
//! or after the whole walk. The hooks run with an mm's inner lock held
//! (its vma tree is changing): they must not take an mm lock or touch
//! user memory, and may only drop a pin with [`Shmem::unpin_in_close`].

use alloc::sync::Arc;
use core::sync::atomic::Ordering;

use super::Shmem;
use crate::page_meta::PageMetaArray;

/// The owner's hooks on the vmas holding a shmem object.
pub trait ShmemVmOps: Send + Sync {
    /// A vma holding the object went into a vma tree (mmap, fork, split,
    /// mremap's new vma).
    fn open(&self);
    /// A vma holding the object left its vma tree (munmap, exit, a
    /// mremap's old vma).
    fn close(&self);
}

impl Shmem {
    /// Install the owner's hooks, before any vma maps the object. Returns
    /// `false` (and installs nothing) if it already has hooks.
    pub fn set_vm_ops(&self, ops: Arc<dyn ShmemVmOps>) -> bool {
        let mut slot = self.vm_ops.lock();
        if slot.is_some() {
            return false;
        }
        *slot = Some(ops);
        true
    }

    /// Has the object an owner's hooks (then its vmas do not merge)?
    pub fn has_vm_ops(&self) -> bool {
        self.vm_ops.lock().is_some()
    }

    /// Is the object unevictable (`SHM_LOCK`ed)?
    pub fn is_unevictable(&self) -> bool {
        self.unevictable.load(Ordering::Relaxed)
    }

    /// Make the object's pages unevictable (`true`: Linux
    /// `mapping_set_unevictable`, which populates nothing and leaves pages
    /// already on the evictable LRU there) or evictable again (`false`:
    /// `mapping_clear_unevictable` and `shmem_unlock_mapping`, which moves
    /// every page that is not mlocked back to the evictable LRU).
    ///
    /// Locking: takes the object's lock; no mm lock needed.
    pub fn set_unevictable(&self, meta: &PageMetaArray, unevictable: bool) {
        let pages = self.pages.lock();
        self.unevictable.store(unevictable, Ordering::Relaxed);
        let in_ram = pages.values().flatten().filter_map(|&e| match super::IndexEntry::decode(e) {
            super::IndexEntry::Page(pa) => Some(pa),
            _ => None,
        });
        for pa in in_ram {
            if let Some(folio) = meta.get(pa) {
                if unevictable {
                    meta.folio_set_mapping_unevictable(folio);
                } else {
                    meta.folio_clear_mapping_unevictable(folio);
                }
            }
        }
    }

    /// [`Shmem::unpin`] from inside [`ShmemVmOps::close`]: the owner lets
    /// go while a vma is leaving its tree. The pages are not released
    /// here (ptes may still map them): the address space removing the vma
    /// releases them into its TLB gather once the vma is out, if no other
    /// vma holds the object (see the module documentation of
    /// [`crate::shmem`]).
    pub fn unpin_in_close(&self) {
        let old = self.pins.fetch_sub(1, Ordering::SeqCst);
        debug_assert!(old > 0, "shmem pin count underflow");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mmu_gather::MmuGather;
    use crate::page_meta::PageFlags;
    use crate::pgtable::{ArenaPhysMem, NoFlush, PhysMem, ARENA_BASE};
    use alloc::sync::Arc;

    fn setup() -> (ArenaPhysMem, PageMetaArray, Arc<Shmem>) {
        (ArenaPhysMem::new(), PageMetaArray::new(ARENA_BASE >> 12, 4096).unwrap(), Arc::new(Shmem::new(4).unwrap()))
    }

    fn add(obj: &Arc<Shmem>, meta: &PageMetaArray, phys: &ArenaPhysMem, index: u64) -> u64 {
        let pa = obj.find_or_add(meta, index, || phys.alloc_frame()).unwrap().0;
        // Keep only the object's reference.
        meta.put_page(meta.get(pa).unwrap()).unwrap();
        pa
    }

    fn flags(meta: &PageMetaArray, pa: u64) -> PageFlags {
        meta.get(pa).unwrap().flags()
    }

    fn release(obj: &Shmem, meta: &PageMetaArray, phys: &ArenaPhysMem) {
        obj.release_pages(meta, &mut MmuGather::tlb_gather_mmu(), phys, &NoFlush);
    }

    #[test]
    fn pages_added_while_unevictable_are_unevictable_not_mlocked() {
        let (phys, meta, obj) = setup();
        let before = add(&obj, &meta, &phys, 0);
        obj.set_unevictable(&meta, true);
        let after = add(&obj, &meta, &phys, 1);
        // Linux leaves a page already on the evictable LRU there.
        assert!(!flags(&meta, before).contains(PageFlags::UNEVICTABLE));
        assert!(flags(&meta, after).contains(PageFlags::UNEVICTABLE | PageFlags::LRU));
        assert!(!flags(&meta, after).contains(PageFlags::MLOCKED));
        assert_eq!(meta.page_counts().unevictable, 1);
        assert_eq!(meta.nr_mlock(), 0);
        obj.set_unevictable(&meta, false);
        assert_eq!(meta.page_counts().unevictable, 0);
        assert!(!flags(&meta, after).intersects(PageFlags::UNEVICTABLE | PageFlags::MAPPING_UNEVICTABLE));
        assert_eq!(meta.stats().unevictable_pgs_rescued, 1);
        release(&obj, &meta, &phys);
    }

    #[test]
    fn munlock_keeps_an_unevictable_mappings_page_unevictable() {
        let (phys, meta, obj) = setup();
        let old = add(&obj, &meta, &phys, 0);
        obj.set_unevictable(&meta, true);
        let new = add(&obj, &meta, &phys, 1);
        for pa in [old, new] {
            let folio = meta.get(pa).unwrap();
            meta.mlock_folio(folio);
            assert_eq!(folio.mlock_count(), 1);
            meta.munlock_folio(folio);
            assert!(!folio.is_mlocked() && folio.is_unevictable(), "stays on the unevictable LRU");
        }
        assert_eq!(meta.nr_mlock(), 0);
        assert_eq!(meta.page_counts().unevictable, 2);
        obj.set_unevictable(&meta, false);
        assert_eq!(meta.page_counts().unevictable, 0);
        release(&obj, &meta, &phys);
    }

    #[test]
    fn making_evictable_leaves_mlocked_pages_unevictable() {
        let (phys, meta, obj) = setup();
        obj.set_unevictable(&meta, true);
        let pa = add(&obj, &meta, &phys, 0);
        let folio = meta.get(pa).unwrap();
        meta.mlock_folio(folio);
        obj.set_unevictable(&meta, false);
        assert!(folio.is_mlocked() && folio.is_unevictable() && folio.mlock_count() == 1);
        meta.munlock_folio(folio);
        assert!(!folio.is_unevictable());
        release(&obj, &meta, &phys);
    }

    struct Count(core::sync::atomic::AtomicIsize);

    impl ShmemVmOps for Count {
        fn open(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
        fn close(&self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn hooks_see_every_mapper_and_install_once() {
        let obj = Shmem::new(1).unwrap();
        let ops = Arc::new(Count(core::sync::atomic::AtomicIsize::new(0)));
        assert!(!obj.has_vm_ops());
        assert!(obj.set_vm_ops(ops.clone()));
        assert!(!obj.set_vm_ops(ops.clone()));
        assert!(obj.has_vm_ops());
        obj.add_mapper(crate::vma::VmFlags::empty());
        obj.add_mapper(crate::vma::VmFlags::empty());
        obj.remove_mapper(crate::vma::VmFlags::empty());
        assert_eq!(ops.0.load(Ordering::SeqCst), 1);
        obj.remove_mapper(crate::vma::VmFlags::empty());
        assert_eq!(ops.0.load(Ordering::SeqCst), 0);
    }
}
