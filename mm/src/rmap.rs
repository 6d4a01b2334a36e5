//! Reverse maps (Linux `mm/rmap.c`): from a frame to every pte that maps
//! it, and the walks built on that — [`rmap_walk`], [`page_referenced`]
//! (Linux `folio_referenced`) and [`try_to_unmap_count`] (the counting
//! half of `try_to_unmap`).
//!
//! # Structure
//!
//! - An anonymous page (`ANON`, private memory and its copy-on-write
//!   copies) records its *linear index* ([`PageMeta::index`]) when it is
//!   first mapped: [`Vma::linear_page_index`] of its address, from the
//!   vma's `anon_pgoff` (Linux `vm_pgoff`), which splits, merges,
//!   extensions and mremap keep, so that `vma.address_of_index(index)` is
//!   where any vma that may map the page maps it.
//! - The address spaces that may map an anonymous page are those of its
//!   [`AnonVma`]: one per fork tree — a new mm has its own (and is not on
//!   its list: a walk always visits the mm it starts from first), fork
//!   puts parent and child on the parent's and the child shares it (Linux chains an anon_vma per vma; Holdfast keeps
//!   one coarser list per family, so a walk may visit address spaces that
//!   do not map the page, and finds that out from their ptes). Fork is the
//!   only way an anonymous page reaches another address space, so the
//!   anon_vma of *any* mm that maps the page is the page's. `exec` starts
//!   a new mm, hence a new anon_vma.
//! - A shmem object's page records its offset in the object as its index;
//!   the object's [`IMmap`] (Linux `i_mmap`) lists the address spaces
//!   that have mapped it (joined at `mmap` and at fork), and every vma of
//!   those that maps the object at that offset may map the page.
//! - Every list names an mm by its [`MmStruct::id`] and a weak reference
//!   to its inner lock (the vma tree and the page table): a list never
//!   keeps an address space alive; an exited one is pruned when the list
//!   next grows. A list may name an mm that no longer maps anything of the
//!   page's: the walk checks each candidate pte.
//! - The per-frame mapcount ([`PageMeta::mapcount`], Linux `_mapcount`)
//!   counts the ptes mapping the frame in all address spaces: +1 when a
//!   fault maps it (new page, shmem page, copy-on-write copy) and for each
//!   pte fork copies, -1 when a zap (munmap, `MADV_DONTNEED`, exit) or a
//!   copy-on-write fault removes one; mremap moves ptes and keeps it.
//!   Every pte added or removed goes through one of the rmap hooks below
//!   ([`folio_add_new_anon_rmap`], [`folio_add_file_rmap_pte`],
//!   [`folio_dup_rmap_pte`], [`folio_remove_rmap_pte`]), which keep the
//!   mapcount and, as in Linux 5.18+, the page's `mlock_count`: a pte
//!   added in a `VM_LOCKED` vma mlocks the page once more, one removed
//!   from such a vma munlocks it once, so unmapping the last locked
//!   mapping munlocks the page wherever it happens (munmap, exit, a
//!   copy-on-write fault, truncation).
//!
//! # Invariants
//!
//! While no operation is half done: every pte mapping a frame is found by
//! [`rmap_walk`] from any mm that maps the frame, and their number is the
//! frame's mapcount (checked by [`crate::invariants`]).
//!
//! # Locking
//!
//! A walk never takes an `mmap_lock` (Linux's does not): it takes the
//! list's lock (the rmap lock, Linux's anon_vma lock or `i_mmap_rwsem`),
//! then each listed mm's inner lock (its page-table lock) in turn, one at a
//! time. So the order is `mmap_lock > rmap lock > inner lock`
//! ([`crate::lockdep`]): lists are joined and left with no inner lock held
//! (at mm creation, fork and mmap, under the `mmap_lock` of the mm doing
//! it), and a walk must not run with an inner lock held. A walk can
//! therefore meet a vma in the middle of an operation that holds its
//! `mmap_lock` for write and has released its inner lock for a while —
//! `mlock_vma_pages_range` between two page tables — and that is what the
//! `VM_IO` guard is for: `mlock_vma_folio` ignores a vma that carries it
//! (see [`crate::mlock`]).

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;
use core::any::Any;

use crate::errno::Errno;
use crate::lockdep::LockClass;
use crate::mm_struct::{InnerGuard, MmInner, MmStruct};
use crate::page_meta::{PageMeta, PageMetaArray};
use crate::pgtable::{PhysMem, PteFlags, TlbFlush};
use crate::rwsem::backend::LockdepHeld;
use crate::rwsem::RwSemBackend;
use crate::shmem::Shmem;
use crate::vma::{VmFlags, Vma};

/// Take an rmap lock: a spinlock held with interrupts as they were (a
/// walk takes inner locks under it, which spin with interrupts enabled,
/// calling the backend's `cpu_relax`; a contender does the same, so that
/// on one CPU a preempted holder gets to run).
fn lock_rmap<'a, L, B: RwSemBackend>(lock: &'a spin::Mutex<L>, backend: &B) -> spin::MutexGuard<'a, L> {
    loop {
        if let Some(g) = lock.try_lock() {
            return g;
        }
        while lock.is_locked() {
            backend.cpu_relax();
        }
    }
}

/// Linux `folio_add_new_anon_rmap` with `folio_add_lru_vma`: a page
/// fresh from the allocator (one reference, no flags) is now mapped by
/// its first pte, in a vma with `vm_flags`: it becomes anonymous and
/// exclusive with linear index `index` in the anon_vma `anon_vma_id` (see
/// the module doc), and goes on
/// the LRU, mlocked in a `VM_LOCKED` vma.
///
/// Locking: the inner lock of the mm whose pte maps it held.
pub(crate) fn folio_add_new_anon_rmap(meta: &PageMetaArray, folio: &PageMeta, vm_flags: VmFlags, index: u64, anon_vma_id: u64) {
    folio.set_anon();
    folio.set_anon_exclusive(true);
    folio.set_index(index);
    folio.set_mapping(anon_vma_id);
    folio.add_mapcount();
    // Fresh, so not on the LRU yet: this cannot fail.
    let _ = meta.folio_add_lru_vma(folio, vm_flags);
}

/// Linux `folio_add_file_rmap_pte`: one more pte, in a vma with
/// `vm_flags`, maps a shmem object's page (`mlock_vma_folio`: counted in
/// its `mlock_count` when the vma is `VM_LOCKED`).
///
/// Locking: the inner lock of the mm whose pte maps it held.
pub(crate) fn folio_add_file_rmap_pte(meta: &PageMetaArray, folio: &PageMeta, vm_flags: VmFlags) {
    folio.add_mapcount();
    meta.mlock_vma_folio(folio, vm_flags);
}

/// Linux `folio_dup_anon_rmap_pte`/`folio_dup_file_rmap_pte`: fork copied
/// a pte mapping the page into the child. No mlock: the child's vmas
/// never inherit `VM_LOCKED`.
///
/// Locking: the parent's inner lock held.
pub(crate) fn folio_dup_rmap_pte(folio: &PageMeta) {
    folio.add_mapcount();
}

/// Linux `folio_remove_rmap_pte`: a pte mapping the page, in a vma with
/// `vm_flags`, went away (`munlock_vma_folio`: one locked mapping less
/// when the vma is `VM_LOCKED`; the last one munlocks the page). The
/// caller then drops the pte's reference.
///
/// Locking: the inner lock of the mm whose pte it was held.
pub(crate) fn folio_remove_rmap_pte(meta: &PageMetaArray, folio: &PageMeta, vm_flags: VmFlags) {
    folio.remove_mapcount();
    meta.munlock_vma_folio(folio, vm_flags);
}

/// An mm's inner lock as the rmap lists hold it.
pub(crate) type SharedInner<P, T> = spin::Mutex<MmInner<P, T>>;

/// An mm on an anon_vma's list: its id and its inner lock.
type AnonMember<P, T> = (u64, Weak<SharedInner<P, T>>);

/// An mm's inner lock on a shmem object's list, its type erased.
type ErasedInner = dyn Any + Send + Sync;

/// Finds an mm's inner lock again from a shmem list's entry.
type RecoverFn<P, T> = fn(Arc<ErasedInner>) -> Option<Arc<SharedInner<P, T>>>;

/// Linux `struct anon_vma`, one per fork tree: the address spaces that may
/// map its anonymous pages. See the module doc.
pub struct AnonVma<P: PhysMem, T: TlbFlush> {
    /// Unique for the life of the system; recorded in its pages
    /// ([`PageMeta::mapping`]).
    id: u64,
    members: spin::Mutex<Vec<AnonMember<P, T>>>,
}

static NEXT_ANON_VMA_ID: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// A new id for an anon_vma or a shmem object, unique among both (pages
/// record it, [`PageMeta::mapping`], and reclaim finds it again in the
/// [`AnonVmaRegistry`]).
pub(crate) fn next_mapping_id() -> u64 {
    NEXT_ANON_VMA_ID.fetch_add(1, core::sync::atomic::Ordering::Relaxed)
}

impl<P: PhysMem, T: TlbFlush> Default for AnonVma<P, T> {
    fn default() -> Self {
        AnonVma::new()
    }
}

impl<P: PhysMem, T: TlbFlush> AnonVma<P, T> {
    /// An anon_vma no mm has joined.
    pub fn new() -> Self {
        AnonVma { id: next_mapping_id(), members: spin::Mutex::new(Vec::new()) }
    }

    /// The id its pages record.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Mm `id`, whose inner lock is `inner`, joins unless it already has
    /// (pruning exited mms).
    ///
    /// Errors: `ENOMEM` if the list cannot grow.
    /// Locking: takes the rmap lock; no inner lock may be held.
    pub(crate) fn link<B: RwSemBackend>(&self, backend: &B, id: u64, inner: &Arc<SharedInner<P, T>>) -> Result<(), Errno> {
        link_member(&self.members, backend, id, Arc::downgrade(inner))
    }
}

/// Mm `id` (`inner`: its inner lock) joins the rmap list `list` unless it
/// already has; mms that exited leave it.
///
/// Errors: `ENOMEM` if the list cannot grow.
/// Locking: takes the rmap lock; no inner lock may be held.
fn link_member<W: ?Sized, B: RwSemBackend>(
    list: &spin::Mutex<Vec<(u64, Weak<W>)>>,
    backend: &B,
    id: u64,
    inner: Weak<W>,
) -> Result<(), Errno> {
    let _lockdep = LockdepHeld::acquire(backend, LockClass::Rmap);
    let mut members = lock_rmap(list, backend);
    members.retain(|(_, w)| w.strong_count() > 0);
    if members.iter().any(|(i, _)| *i == id) {
        return Ok(());
    }
    members.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
    members.push((id, inner));
    Ok(())
}

/// The anon_vmas and shmem objects by id, so that reclaim, which starts
/// from a page, finds the address spaces that may map it and the object
/// that holds it (Linux follows `folio->mapping`; a page here records its
/// anon_vma's or its object's id, [`PageMeta::mapping`]). Holds them as
/// `dyn Any`, weakly: an anon_vma lives as long as an mm uses it, and a
/// page whose anon_vma is gone is mapped nowhere; an object lives as long
/// as a vma or an owner holds it. Swapoff goes over the objects to find
/// their swapped-out pages.
///
/// Locking: its own spinlock, a leaf held with interrupts off
/// ([`crate::irqlock`]): taken with no lock held (reclaim, swapoff) and
/// under an inner lock and a shmem object's lock (a page's first fault
/// registers its object).
#[derive(Default)]
pub struct AnonVmaRegistry {
    map: crate::irqlock::IrqSpinLock<alloc::collections::BTreeMap<u64, Weak<dyn Any + Send + Sync>>>,
}

impl AnonVmaRegistry {
    /// Record `anon_vma` (pruning dead entries).
    ///
    /// Errors: `ENOMEM` if the map cannot grow.
    pub fn register<P, T>(&self, anon_vma: &Arc<AnonVma<P, T>>) -> Result<(), Errno>
    where
        P: PhysMem + Send + 'static,
        T: TlbFlush + Send + 'static,
    {
        self.insert(anon_vma.id(), anon_vma.clone())
    }

    /// Record `any` as `id` (pruning dead entries).
    ///
    /// Errors: `ENOMEM` if the map cannot grow.
    fn insert(&self, id: u64, any: Arc<dyn Any + Send + Sync>) -> Result<(), Errno> {
        let mut m = self.map.lock();
        m.retain(|_, w| w.strong_count() > 0);
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(512).map_err(|_| Errno::ENOMEM)?;
        drop(probe);
        m.insert(id, Arc::downgrade(&any));
        Ok(())
    }

    /// The anon_vma with `id`, if it is still in use.
    pub fn find<P, T>(&self, id: u64) -> Option<Arc<AnonVma<P, T>>>
    where
        P: PhysMem + Send + 'static,
        T: TlbFlush + Send + 'static,
    {
        let any = self.map.lock().get(&id)?.upgrade()?;
        any.downcast::<AnonVma<P, T>>().ok()
    }

    /// Record the shmem object `obj` (pruning dead entries).
    ///
    /// Errors: `ENOMEM` if the map cannot grow.
    pub fn register_shmem(&self, obj: &Arc<Shmem>) -> Result<(), Errno> {
        self.insert(obj.id(), obj.clone())
    }

    /// The shmem object with `id`, if it is still held.
    pub fn find_shmem(&self, id: u64) -> Option<Arc<Shmem>> {
        let any = self.map.lock().get(&id)?.upgrade()?;
        any.downcast::<Shmem>().ok()
    }

    /// Every shmem object still held (for swapoff).
    ///
    /// Errors: `ENOMEM` if the list cannot be had.
    pub fn shmem_objects(&self) -> Result<Vec<Arc<Shmem>>, Errno> {
        let m = self.map.lock();
        let mut out = Vec::new();
        out.try_reserve_exact(m.len()).map_err(|_| Errno::ENOMEM)?;
        out.extend(m.values().filter_map(|w| w.upgrade()?.downcast::<Shmem>().ok()));
        Ok(out)
    }
}

/// A shmem object's list of the address spaces that have mapped it (Linux
/// `i_mmap`). Not generic (a [`Shmem`] is not): it holds the mms' inner
/// locks as `dyn Any`, and a walk finds them again by their type.
#[derive(Default)]
pub struct IMmap {
    members: spin::Mutex<Vec<(u64, Weak<dyn Any + Send + Sync>)>>,
}

impl core::fmt::Debug for IMmap {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IMmap").finish_non_exhaustive()
    }
}

impl IMmap {
    /// Mm `id`, whose inner lock is `inner`, joins unless it already has
    /// (pruning exited mms).
    ///
    /// Errors: `ENOMEM` if the list cannot grow.
    /// Locking: takes the rmap lock; no inner lock may be held.
    pub(crate) fn link<B: RwSemBackend>(&self, backend: &B, id: u64, inner: Weak<dyn Any + Send + Sync>) -> Result<(), Errno> {
        link_member(&self.members, backend, id, inner)
    }
}

/// One pte mapping the frame, as a walk found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RmapHit {
    /// The [`MmStruct::id`] of the address space.
    pub mm_id: u64,
    /// The page's address there.
    pub addr: u64,
    /// The frame.
    pub pa: u64,
    /// Flags of the vma mapping it.
    pub vm_flags: VmFlags,
    /// The pte's flags.
    pub pte_flags: PteFlags,
}

/// What a walk looks for in each address space.
enum Target {
    /// An anonymous page with this linear index.
    Anon(u64),
    /// Page `index` of this shmem object.
    Shmem(Arc<Shmem>, u64),
}

impl Target {
    /// Where `v` maps the target, if it can.
    fn address_in(&self, v: &Vma) -> Option<u64> {
        match self {
            Target::Anon(index) => {
                // Anonymous pages live in anonymous vmas, and as private
                // copies in private mappings of objects.
                if v.shmem().is_some() && v.flags.contains(crate::vma::VmFlags::SHARED) {
                    return None;
                }
                v.address_of_index(*index)
            }
            Target::Shmem(obj, index) => {
                let (o, first) = v.shmem_index(v.start)?;
                if !Arc::ptr_eq(o, obj) {
                    return None;
                }
                let off = index.checked_sub(first)?;
                (off < v.pages()).then(|| v.start + (off << crate::addr::PAGE_SHIFT))
            }
        }
    }
}

/// Visit every pte of the mm `id` (inner lock `inner`) that maps `pa` as
/// `target`; `visit` gets the locked inner state and the hit, and returns
/// whether to go on. Returns whether to go on. `hint`: where an anonymous
/// page was last found (updated).
///
/// Locking: the rmap lock held; takes `inner`.
fn walk_mm<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush>(
    backend: &B,
    id: u64,
    inner: &SharedInner<P, T>,
    target: &Target,
    pa: u64,
    hint: &mut Option<u64>,
    visit: &mut dyn FnMut(&mut MmInner<P, T>, &RmapHit) -> bool,
) -> bool {
    let mut g = InnerGuard::lock(backend, inner);
    // An anonymous page is mapped at most once in an address space, and
    // fork maps it at the same address in every one: try where it was
    // last found first.
    let anon = matches!(target, Target::Anon(_));
    if let (true, Some(h)) = (anon, *hint) {
        if let Some(v) = g.vmas.vma_lookup(h).cloned() {
            if target.address_in(&v) == Some(h) {
                if let Some(m) = g.pgtable.as_ref().and_then(|pt| pt.translate(h)) {
                    if m.pa == pa {
                        let hit = RmapHit { mm_id: id, addr: h, pa, vm_flags: v.flags, pte_flags: m.flags };
                        return visit(&mut g, &hit);
                    }
                }
            }
        }
    }
    let mut cursor = 0;
    loop {
        let Some(v) = g.vmas.find_vma(cursor).cloned() else { return true };
        cursor = v.end;
        let Some(addr) = target.address_in(&v) else { continue };
        let Some(m) = g.pgtable.as_ref().and_then(|pt| pt.translate(addr)) else { continue };
        if m.pa != pa {
            continue;
        }
        let hit = RmapHit { mm_id: id, addr, pa, vm_flags: v.flags, pte_flags: m.flags };
        if anon {
            *hint = Some(addr);
            return visit(&mut g, &hit);
        }
        if !visit(&mut g, &hit) {
            return false;
        }
    }
}

/// The shmem object of `mm` whose page `index` is `pa`, if `mm` maps one.
///
/// Locking: takes `mm`'s inner lock (and the objects' page locks).
fn shmem_of<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush>(mm: &MmStruct<P, B, T>, pa: u64, index: u64) -> Option<Arc<Shmem>> {
    let g = mm.lock_inner();
    let found = g.vmas.iter().filter_map(|v| v.shmem()).find(|obj| obj.find(index) == Some(pa)).cloned();
    found
}

/// Linux `rmap_walk`: call `visit` with the locked inner state of the
/// address space and the hit for every pte mapping the frame `pa`, until
/// it returns `false`. `mm` must map the frame (its anon_vma or its shmem
/// object is the frame's); a frame `mm` does not map is not walked.
/// `hint`: where `mm` maps an anonymous frame, if the caller knows.
///
/// Locking: no lock of `mm` may be held (any `mmap_lock` may: the walk
/// takes none); takes the rmap lock, then each listed mm's inner lock.
pub(crate) fn rmap_walk_locked<P, B, T>(
    mm: &MmStruct<P, B, T>,
    pa: u64,
    hint: Option<u64>,
    visit: &mut dyn FnMut(&mut MmInner<P, T>, &RmapHit) -> bool,
) where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    let Some(folio) = mm.page_meta().get(pa) else { return };
    let backend = mm.mmap_lock.backend();
    if folio.is_anon() {
        // Linux `rmap_walk_anon`.
        let target = Target::Anon(folio.index());
        let anon_vma = mm.anon_vma();
        let _lockdep = LockdepHeld::acquire(backend, LockClass::Rmap);
        let members = lock_rmap(&anon_vma.members, backend);
        let others = members.iter().filter_map(|(id, w)| Some((*id, w.upgrade()?)));
        walk_members(mm, &target, pa, hint, others, visit);
    } else {
        // Linux `rmap_walk_file`.
        let index = folio.index();
        let Some(ops) = mm.shmem_rmap_ops() else {
            // Not on any object's list: only this mm can be walked.
            let Some(obj) = shmem_of(mm, pa, index) else { return };
            walk_members(mm, &Target::Shmem(obj, index), pa, hint, core::iter::empty(), visit);
            return;
        };
        let Some(obj) = shmem_of(mm, pa, index) else { return };
        let target = Target::Shmem(obj.clone(), index);
        let i_mmap = obj.i_mmap();
        let _lockdep = LockdepHeld::acquire(backend, LockClass::Rmap);
        let members = lock_rmap(&i_mmap.members, backend);
        let others = members.iter().filter_map(|(id, w)| Some((*id, (ops.recover)(w.upgrade()?)?)));
        walk_members(mm, &target, pa, hint, others, visit);
    }
}

/// Walk `mm` first, then the other address spaces of a locked rmap list
/// (`others`: id and inner lock; `mm` itself is skipped there), until
/// `visit` says stop.
///
/// Locking: the rmap lock of the list `others` comes from held (if any);
/// takes each inner lock in turn.
fn walk_members<P, B, T>(
    mm: &MmStruct<P, B, T>,
    target: &Target,
    pa: u64,
    mut hint: Option<u64>,
    others: impl Iterator<Item = (u64, Arc<SharedInner<P, T>>)>,
    visit: &mut dyn FnMut(&mut MmInner<P, T>, &RmapHit) -> bool,
) where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    let backend = mm.mmap_lock.backend();
    let me = mm.id();
    if !walk_mm::<P, B, T>(backend, me, mm.inner_arc(), target, pa, &mut hint, visit) {
        return;
    }
    for (id, inner) in others.filter(|(id, _)| *id != me) {
        if !walk_mm::<P, B, T>(backend, id, &inner, target, pa, &mut hint, visit) {
            return;
        }
    }
}

/// Linux `rmap_walk_anon` for reclaim, which starts from a page, not from
/// an mm: visit every pte mapping the anonymous frame `pa` (linear index
/// `index`) in the address spaces on `anon_vma`'s list, until `visit`
/// returns `false`. (Every mm that can hold its pages is on the list:
/// see [`MmStruct::enable_rmap`].)
///
/// Locking: no inner lock held; takes the rmap lock, then each listed
/// mm's inner lock in turn.
pub(crate) fn rmap_walk_anon_vma<P, B, T>(
    backend: &B,
    anon_vma: &AnonVma<P, T>,
    pa: u64,
    index: u64,
    visit: &mut dyn FnMut(&mut MmInner<P, T>, &RmapHit) -> bool,
) where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    let target = Target::Anon(index);
    let _lockdep = LockdepHeld::acquire(backend, LockClass::Rmap);
    let members = lock_rmap(&anon_vma.members, backend);
    let mut hint = None;
    for (id, inner) in members.iter().filter_map(|(id, w)| Some((*id, w.upgrade()?))) {
        if !walk_mm::<P, B, T>(backend, id, &inner, &target, pa, &mut hint, visit) {
            return;
        }
    }
}

/// Linux `rmap_walk_file` for reclaim, which starts from a page: visit
/// every pte mapping the frame `pa`, page `index` of the shmem object
/// `obj`, in the address spaces on the object's `i_mmap` list, until
/// `visit` returns `false`. An mm whose inner lock is not of type
/// `SharedInner<P, T>` is passed by (every kernel mm is of one type).
///
/// Locking: no inner lock held; takes the rmap lock, then each listed
/// mm's inner lock in turn.
pub(crate) fn rmap_walk_shmem<P, B, T>(
    backend: &B,
    obj: &Arc<Shmem>,
    pa: u64,
    index: u64,
    visit: &mut dyn FnMut(&mut MmInner<P, T>, &RmapHit) -> bool,
) where
    P: PhysMem + Clone + Send + 'static,
    B: RwSemBackend,
    T: TlbFlush + Send + 'static,
{
    let target = Target::Shmem(obj.clone(), index);
    let _lockdep = LockdepHeld::acquire(backend, LockClass::Rmap);
    let members = lock_rmap(&obj.i_mmap().members, backend);
    let mut hint = None;
    let listed = members.iter().filter_map(|(id, w)| Some((*id, w.upgrade()?.downcast::<SharedInner<P, T>>().ok()?)));
    for (id, inner) in listed {
        if !walk_mm::<P, B, T>(backend, id, &inner, &target, pa, &mut hint, visit) {
            return;
        }
    }
}

/// [`rmap_walk_locked`] for callers that only look: `visit` gets each hit.
///
/// Locking: as [`rmap_walk_locked`].
pub fn rmap_walk<P, B, T>(mm: &MmStruct<P, B, T>, pa: u64, visit: &mut dyn FnMut(&RmapHit) -> bool)
where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    rmap_walk_locked(mm, pa, None, &mut |_, hit| visit(hit));
}

/// What [`page_referenced`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Referenced {
    /// Ptes mapping the page (Linux's `pra.mapcount` before it counts down).
    pub mapcount: usize,
    /// Of those, the ones that had the accessed bit (now cleared).
    pub referenced: usize,
    /// The union of the flags of the vmas mapping it (Linux `vm_flags`).
    pub vm_flags: VmFlags,
}

/// Linux `folio_referenced` with `folio_referenced_one`: count the ptes
/// mapping `pa`, test and clear their accessed bits (flushing the
/// translation), and collect their vmas' flags. A page reclaim could meet
/// — one not on the unevictable list — that is found in a `VM_LOCKED` vma
/// gets the mlock it missed (`mlock_vma_folio`, which leaves a vma with
/// the `VM_IO` guard alone: it is in the middle of
/// `mlock_vma_pages_range`, which counts the page itself).
///
/// Locking: as [`rmap_walk_locked`].
pub fn page_referenced<P, B, T>(mm: &MmStruct<P, B, T>, pa: u64) -> Referenced
where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    let meta = mm.page_meta();
    let mut r = Referenced { mapcount: 0, referenced: 0, vm_flags: VmFlags::empty() };
    let Some(folio) = meta.get(pa) else { return r };
    rmap_walk_locked(mm, pa, None, &mut |inner, hit| {
        r.mapcount += 1;
        r.vm_flags |= hit.vm_flags;
        if hit.vm_flags.contains(VmFlags::LOCKED) && !folio.is_unevictable() {
            // "Restore the mlock which got missed."
            meta.mlock_vma_folio(folio, hit.vm_flags);
        }
        if hit.pte_flags.contains(PteFlags::ACCESSED) {
            r.referenced += 1;
            clear_young(inner, hit);
        }
        true
    });
    r
}

/// Linux `ptep_clear_flush_young` on x86: clear the accessed bit of
/// `hit`'s pte, with no flush (see
/// [`PageTable::ptep_test_and_clear_young`](crate::pgtable::PageTable::ptep_test_and_clear_young)).
///
/// Locking: `inner` locked.
pub(crate) fn clear_young<P: PhysMem, T: TlbFlush>(inner: &mut MmInner<P, T>, hit: &RmapHit) {
    if let Some(pt) = inner.pgtable.as_mut() {
        pt.ptep_test_and_clear_young(hit.addr);
    }
}

/// The mapping count `try_to_unmap` would meet for `pa`: the ptes an rmap
/// walk finds, and how many of them are in `VM_LOCKED` vmas (which
/// `try_to_unmap_one` refuses to unmap, mlocking the page instead).
/// Holdfast does not reclaim or migrate, so nothing is unmapped; the
/// invariant checker uses the counts.
///
/// Locking: as [`rmap_walk_locked`].
/// `hint`: where `mm` maps the page, if known (spares a search).
pub fn try_to_unmap_count<P, B, T>(mm: &MmStruct<P, B, T>, pa: u64, hint: Option<u64>) -> (u32, u32)
where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    let (mut maps, mut locked) = (0u32, 0u32);
    rmap_walk_locked(mm, pa, hint, &mut |_, hit| {
        maps += 1;
        if hit.vm_flags.contains(VmFlags::LOCKED) && !hit.vm_flags.intersects(VmFlags::SPECIAL) {
            locked += 1;
        }
        true
    });
    (maps, locked)
}

/// How an mm goes onto a shmem object's list and is found there again:
/// the list holds `dyn Any` (a [`Shmem`] is not generic), and only code
/// that knows the mm's types can make and unmake that. Made by
/// [`ShmemRmapOps::new`] for types that can be shared between CPUs; see
/// [`MmStruct::enable_rmap`].
pub struct ShmemRmapOps<P: PhysMem, T: TlbFlush> {
    erase: fn(&Arc<SharedInner<P, T>>) -> Weak<ErasedInner>,
    recover: RecoverFn<P, T>,
}

impl<P: PhysMem, T: TlbFlush> Clone for ShmemRmapOps<P, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: PhysMem, T: TlbFlush> Copy for ShmemRmapOps<P, T> {}

impl<P: PhysMem + Send + 'static, T: TlbFlush + Send + 'static> ShmemRmapOps<P, T> {
    /// The operations for mms of these types.
    pub fn new() -> Self {
        ShmemRmapOps {
            erase: |inner| {
                let weak: Weak<SharedInner<P, T>> = Arc::downgrade(inner);
                weak
            },
            recover: |any| any.downcast::<SharedInner<P, T>>().ok(),
        }
    }
}

impl<P: PhysMem + Send + 'static, T: TlbFlush + Send + 'static> Default for ShmemRmapOps<P, T> {
    fn default() -> Self {
        Self::new()
    }
}

/// `mm` maps (or is about to map) `obj`: join the object's list (Linux's
/// `vma_link` into `i_mmap`). Nothing if it already has, or if `mm` does
/// not go on shmem lists (see [`MmStruct::enable_rmap`]).
///
/// Errors: `ENOMEM` if the list cannot grow.
/// Locking: `mmap_lock` of `mm` held for write by the caller; no inner
/// lock held; takes the rmap lock.
pub(crate) fn link_shmem<P, B, T>(mm: &MmStruct<P, B, T>, obj: &Shmem) -> Result<(), Errno>
where
    P: PhysMem + Clone,
    B: RwSemBackend,
    T: TlbFlush,
{
    let Some(ops) = mm.shmem_rmap_ops() else { return Ok(()) };
    obj.i_mmap().link(mm.mmap_lock.backend(), mm.id(), (ops.erase)(mm.inner_arc()))
}
