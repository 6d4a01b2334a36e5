//! The address space: [`MmStruct`] (Linux `struct mm_struct`).
//!
//! An `MmStruct` owns the vmas of one process ([`VmaTree`]), its page table
//! ([`PageTable`]), the counters Linux keeps in the mm (`total_vm`,
//! `locked_vm`, rss, `def_flags`, `start_brk`/`brk`) and the mmap lock, a
//! sleeping [`RwSem`]. The operations on it live in their own modules:
//! [`fault`](crate::fault) (the fault handler's mm part),
//! [`mmap`](crate::mmap) (mmap/munmap/brk/exit), [`mprotect`](crate::mprotect),
//! [`madvise`](crate::madvise), [`mincore`](crate::mincore),
//! [`msync`](crate::msync), [`mremap`](crate::mremap),
//! [`memory`](crate::memory) (zap, teardown, present-pte iteration),
//! [`mlock`](crate::mlock) (the mlock family, with
//! [`mlock_downgrade_retake`](crate::mlock_downgrade_retake)),
//! [`gup`](crate::gup) (`__mm_populate`), [`populate`](crate::populate)
//! (the population strategies), [`stack`](crate::stack),
//! [`invariants`](crate::invariants) (the consistency checker) and
//! [`smaps`](crate::smaps) (the page counts of `/proc/<pid>/smaps`). This module
//! imports none of them: the operations build on the mm, never the
//! reverse.
//!
//! # Locking
//!
//! Two locks, always taken in this order:
//!
//! 1. `mmap_lock` (the rwsem, public): the *logical* lock, exactly Linux's.
//!    The vma tree and the vma flags change only with it held for write;
//!    faults and population hold it for read; `/proc` readers for read.
//! 2. `inner` (a spinlock around [`MmInner`]): the *physical* lock that
//!    makes the shared state mutable from `&self`. It plays the part of
//!    Linux's page-table lock: several threads may hold `mmap_lock` for
//!    read and fault at once, and they serialise their page-table updates
//!    here. It is held only for short, non-sleeping sections (one fault, one
//!    vma operation, one snapshot) with interrupts disabled (the rwsem
//!    backend's `local_irq_save`), so that its holder is never preempted;
//!    a contender spins with interrupts as it had them, calling the
//!    backend's `cpu_relax` (which yields on one CPU). Never sleep and
//!    never take `mmap_lock` with `inner` held.
//!
//! An rmap walk ([`crate::rmap`]) reaches this mm without its `mmap_lock`:
//! it holds an anon_vma's or a shmem object's list lock (the rmap lock,
//! between the two above) and takes `inner` under it. So `inner` may be
//! taken by a walk while `mmap_lock` is held for write by an operation
//! that released `inner` for a while (`mlock_vma_pages_range` between two
//! page tables), and an rmap list is never joined with `inner` held.
//!
//! Per-frame metadata ([`PageMetaArray`], atomics) is below both; the frame
//! allocator (behind [`PhysMem`]) is last. The rwsem backend's lock-order
//! checker ([`crate::lockdep`]) sees every acquisition of the two locks
//! (and the kernel's frame allocator) and refuses one out of this order.
//!
//! ## The protocol, checked by the compiler
//!
//! A function that needs `mmap_lock` held for write takes a
//! [`&MmapWriteLocked`](MmapWriteLocked); one that needs it held for read
//! or write takes an [`MmapLocked`], which also says which of the two it
//! is. Both are zero-sized proofs that only a guard of this mm's
//! `mmap_lock` can make — [`MmStruct::mmap_write_locked`] from the
//! `RwSemWriteGuard`, [`MmStruct::mmap_read_locked`] from an
//! `RwSemReadGuard`, [`MmapWriteLocked::as_locked`] from a write proof —
//! and they borrow that guard: a proof cannot outlive its hold, and the
//! guard cannot be dropped, downgraded or handed on while a proof made from
//! it is alive. Calling such a function without the lock, with the read
//! lock where it needs the write lock, or after the lock was released does
//! not compile. The entry points (`do_mmap`, `do_mlock`, ...) take the lock
//! themselves and make the proofs; the kernel never needs to.
//!
//! ```
//! # use std::sync::Arc;
//! # use mm::page_meta::PageMetaArray;
//! # use mm::pgtable::{ArenaPhysMem, NoFlush, ARENA_BASE};
//! # use mm::rwsem::StdBackend;
//! # use mm::MmStruct;
//! # let arena = ArenaPhysMem::new();
//! # let meta = Arc::new(PageMetaArray::new(ARENA_BASE >> 12, 64).unwrap());
//! # let mm = MmStruct::new(&arena, StdBackend::new(), NoFlush, meta, None).unwrap();
//! let write = mm.mmap_lock.write();
//! let locked = mm.mmap_write_locked(&write); // the proof borrows the guard
//! assert!(locked.as_locked().is_write());
//! let read = write.downgrade(); // the write proof is gone: it is not used again
//! assert!(!mm.mmap_read_locked(&read).is_write());
//! ```
//!
//! A read hold makes no write proof:
//!
//! ```compile_fail,E0308
//! # use std::sync::Arc;
//! # use mm::page_meta::PageMetaArray;
//! # use mm::pgtable::{ArenaPhysMem, NoFlush, ARENA_BASE};
//! # use mm::rwsem::StdBackend;
//! # use mm::MmStruct;
//! # let arena = ArenaPhysMem::new();
//! # let meta = Arc::new(PageMetaArray::new(ARENA_BASE >> 12, 64).unwrap());
//! # let mm = MmStruct::new(&arena, StdBackend::new(), NoFlush, meta, None).unwrap();
//! let read = mm.mmap_lock.read();
//! let _locked = mm.mmap_write_locked(&read);
//! ```
//!
//! and a proof does not outlive the hold it was made from:
//!
//! ```compile_fail,E0505
//! # use std::sync::Arc;
//! # use mm::page_meta::PageMetaArray;
//! # use mm::pgtable::{ArenaPhysMem, NoFlush, ARENA_BASE};
//! # use mm::rwsem::StdBackend;
//! # use mm::MmStruct;
//! # let arena = ArenaPhysMem::new();
//! # let meta = Arc::new(PageMetaArray::new(ARENA_BASE >> 12, 64).unwrap());
//! # let mm = MmStruct::new(&arena, StdBackend::new(), NoFlush, meta, None).unwrap();
//! let write = mm.mmap_lock.write();
//! let locked = mm.mmap_write_locked(&write);
//! drop(write);
//! let _still = locked.as_locked();
//! ```
//!
//! Nor can one be made by hand (its field is private):
//!
//! ```compile_fail,E0451
//! let _forged = mm::mm_struct::MmapWriteLocked { _held: core::marker::PhantomData };
//! ```
//!
//! `&mut MmStruct` is exclusive access: nobody can hold either lock, and
//! the teardown of an mm dropped without `exit_mmap` makes its write proof
//! from that. The inner lock is not part of the proofs: a function that
//! needs it takes `&mut MmInner`, which only `lock_inner` hands out. The
//! order of the two locks is not a type rule: every path takes `mmap_lock`
//! (and makes its proof) first and the inner lock inside it, as above.
//!
//! # Invariants (see [`check_mm_invariants`](crate::invariants::check_mm_invariants))
//!
//! With `mmap_lock` not held for write by anyone in the middle of an
//! operation: `total_vm` is the number of pages of all vmas, `locked_vm` the
//! number of pages of `VM_LOCKED` vmas, `rss` the number of present ptes
//! (present as Linux counts it: `PROT_NONE` pages are protnone ptes, not
//! present to the MMU but mapped, see [`vm_pte_flags`]);
//! every present pte lies in a vma and carries the protection that vma's
//! flags give (a private writable page that fork shared may be
//! read-only, see [`crate::fork`]); every frame is mapped at most once in
//! this mm; a frame mapped in a `VM_LOCKED` (non-special) vma is `MLOCKED`
//! with `mlock_count == 1`, any other mapped frame is not `MLOCKED` —
//! unless fork shares it with other address spaces, whose locked mappings
//! count too.
//!
//! # Frames
//!
//! Data frames come from the same [`PhysMem`] as page-table frames
//! (`alloc_frame` hands out zeroed 4 KiB frames, which is what an
//! anonymous page needs); `P: Clone` so that the mm can keep a handle next to
//! the one inside its page table. Each data frame must be described by the
//! [`PageMetaArray`] given at construction.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::marker::PhantomData;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::addr::{PAGE_SHIFT, TASK_SIZE};
use crate::errno::Errno;
use crate::lockdep::LockClass;
use crate::page_meta::PageMetaArray;
use crate::pgtable::{NoFlush, PageTable, PhysMem, PteFlags, TlbFlush};
use crate::populate::{PopulateProgress, PopulateStrategy};
use crate::rwsem::backend::{lock_irqsave, IrqsSaved, LockdepHeld};
use crate::rwsem::{RwSem, RwSemBackend, RwSemReadGuard, RwSemWriteGuard};
use crate::vma::{VmFlags, VmaTree};

/// Lowest address a user mapping may have (Linux `mmap_min_addr` default).
pub const MMAP_MIN_ADDR: u64 = 0x10000;
/// Top of the top-down mmap area (Linux `mmap_base`, without
/// randomisation): 2^47 minus a gap of 128 GiB that leaves room for the
/// stack below `TASK_SIZE`.
pub const MMAP_BASE: u64 = 0x7f00_0000_0000;

/// The credentials that decide about memory locking, passed in by the
/// caller (the kernel's syscall layer reads them from the current task).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MlockCreds {
    /// `RLIMIT_MEMLOCK` soft limit in bytes; `RLIM_INFINITY` is `u64::MAX`.
    pub memlock_limit: u64,
    /// The task has `CAP_IPC_LOCK`.
    pub cap_ipc_lock: bool,
}

impl MlockCreds {
    /// `RLIM_INFINITY` for `memlock_limit`.
    pub const RLIM_INFINITY: u64 = u64::MAX;

    /// Root: `CAP_IPC_LOCK`, unlimited.
    pub const fn root() -> MlockCreds {
        MlockCreds { memlock_limit: u64::MAX, cap_ipc_lock: true }
    }

    /// An unprivileged task with `limit` bytes of `RLIMIT_MEMLOCK`.
    pub const fn user(limit: u64) -> MlockCreds {
        MlockCreds { memlock_limit: limit, cap_ipc_lock: false }
    }

    /// The limit in pages (Linux `rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT`).
    pub const fn limit_pages(&self) -> u64 {
        self.memlock_limit >> PAGE_SHIFT
    }
}

/// The page-table flags a mapped page of a vma with `flags` gets (Linux
/// `vm_get_page_prot`): `PRESENT | USER`, `WRITABLE` iff `VM_WRITE`,
/// `NO_EXECUTE` iff not `VM_EXEC`.
///
/// A vma without any access (`PROT_NONE`) gets `PROTNONE` alone, Linux's
/// `PAGE_NONE`: its pages become protnone leaves, not present to the MMU,
/// so every access faults — a user access is `SIGSEGV`, a kernel user copy
/// ends at its fixup with `EFAULT` — while the frame stays mapped in the
/// page table, counted in rss, mlocked if it was, visible to `mincore` and
/// to the walks, and comes back with its contents when the vma becomes
/// accessible again.
pub fn vm_pte_flags(flags: VmFlags) -> PteFlags {
    if !flags.intersects(VmFlags::READ | VmFlags::WRITE | VmFlags::EXEC) {
        return PteFlags::PROTNONE;
    }
    let mut f = PteFlags::PRESENT | PteFlags::USER | PteFlags::NO_EXECUTE;
    if flags.contains(VmFlags::WRITE) {
        f |= PteFlags::WRITABLE;
    }
    if flags.contains(VmFlags::EXEC) {
        f -= PteFlags::NO_EXECUTE;
    }
    f
}

/// The bits of a leaf that [`vm_pte_flags`] decides (the CPU may add
/// `ACCESSED`/`DIRTY`).
pub const PTE_PROT_MASK: PteFlags = PteFlags::PRESENT
    .union(PteFlags::WRITABLE)
    .union(PteFlags::USER)
    .union(PteFlags::NO_EXECUTE)
    .union(PteFlags::PROTNONE);

/// The bits of a leaf the CPU sets as it uses the page (`ACCESSED`,
/// `DIRTY`; Linux's young and dirty). A change of protection keeps them,
/// as Linux's `pte_modify` does (`_PAGE_CHG_MASK`): `/proc/<pid>/smaps`
/// reads them.
pub const PTE_AD_MASK: PteFlags = PteFlags::ACCESSED.union(PteFlags::DIRTY);

/// The bits a fault that maps or upgrades a page for `access` sets in its
/// pte: young, and dirty for a write (Linux `do_anonymous_page`,
/// `wp_page_copy`, `wp_page_reuse`: `pte_mkyoung`, `pte_mkdirty`), so a page
/// population wrote without a CPU access reads as Linux's does.
pub fn fault_ad_bits(write: bool) -> PteFlags {
    if write {
        PTE_AD_MASK
    } else {
        PteFlags::ACCESSED
    }
}

/// Proof that this thread holds an mm's `mmap_lock` for write, for as long
/// as the borrow `'a` of the write guard lasts. Zero-sized; made by
/// [`MmStruct::mmap_write_locked`]. See the module doc, "The protocol".
#[derive(Debug)]
pub struct MmapWriteLocked<'a> {
    _held: PhantomData<&'a ()>,
}

impl MmapWriteLocked<'_> {
    /// The same hold as a proof of "held for read or write".
    pub fn as_locked(&self) -> MmapLocked<'_> {
        MmapLocked { write: true, _held: PhantomData }
    }
}

/// Proof that this thread holds an mm's `mmap_lock`, for read or for write
/// ([`is_write`](Self::is_write) says which), for as long as the borrow
/// `'a` of the guard lasts. Zero-sized apart from that flag; made by
/// [`MmStruct::mmap_read_locked`] or [`MmapWriteLocked::as_locked`].
#[derive(Clone, Copy, Debug)]
pub struct MmapLocked<'a> {
    write: bool,
    _held: PhantomData<&'a ()>,
}

impl MmapLocked<'_> {
    /// Whether the hold is the write lock.
    pub fn is_write(&self) -> bool {
        self.write
    }
}

/// Everything the inner lock protects. Fields are crate-visible so that the
/// operation modules can split borrows (`&mut inner.pgtable` next to
/// `&inner.vmas`).
pub struct MmInner<P: PhysMem, T: TlbFlush> {
    /// The vmas (changed only with `mmap_lock` held for write).
    pub(crate) vmas: VmaTree,
    /// The page table; `None` after [`MmStruct::exit_mmap`].
    pub(crate) pgtable: Option<PageTable<P>>,
    /// Where data frames come from and go back to.
    pub(crate) phys: P,
    /// TLB invalidation for this address space.
    pub(crate) tlb: T,
    /// Pages of all vmas (Linux `total_vm`).
    pub(crate) total_vm: u64,
    /// Pages of `VM_LOCKED` vmas (Linux `locked_vm`).
    pub(crate) locked_vm: u64,
    /// Flags every new vma gets (`VM_LOCKED`/`VM_LOCKONFAULT` after
    /// `mlockall(MCL_FUTURE)`).
    pub(crate) def_flags: VmFlags,
    /// Start of the heap (Linux `start_brk`).
    pub(crate) start_brk: u64,
    /// Current program break (Linux `brk`, not page aligned).
    pub(crate) brk: u64,
    /// Present user pages (Linux `MM_ANONPAGES`).
    pub(crate) rss: u64,
    /// Swap entries in this mm's page table (Linux `MM_SWAPENTS`).
    pub(crate) swap_ents: u64,
    /// The id of the anon_vma new anonymous pages go into
    /// ([`crate::rmap::AnonVma::id`]).
    pub(crate) anon_vma_id: u64,
}

/// The populate test hook (see [`MmStruct::set_populate_hook`]): called
/// with the mm and where population is ([`PopulateProgress`]).
pub type PopulateHook<P, B, T> = Arc<dyn Fn(&MmStruct<P, B, T>, PopulateProgress) + Send + Sync>;

/// The mlock test hook (see [`MmStruct::set_mlock_hook`]): called with the
/// mm and the address where `mlock_vma_pages_range` resumes.
pub type MlockHook<P, B, T> = Arc<dyn Fn(&MmStruct<P, B, T>, u64) + Send + Sync>;

/// The inner lock held, interrupts disabled until after it is released
/// (fields drop in order).
pub(crate) struct InnerGuard<'a, P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> {
    guard: spin::MutexGuard<'a, MmInner<P, T>>,
    _lockdep: LockdepHeld<'a, B>,
    _irqs: IrqsSaved<'a, B>,
}

impl<'a, P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> InnerGuard<'a, P, B, T> {
    /// Take an mm's inner lock `lock` (its own, or one an rmap list names),
    /// interrupts disabled while it is held, with `backend`'s lock-order
    /// checking.
    pub(crate) fn lock(backend: &'a B, lock: &'a spin::Mutex<MmInner<P, T>>) -> Self {
        let lockdep = LockdepHeld::acquire(backend, LockClass::PageTable);
        let (guard, irqs) = lock_irqsave(lock, backend);
        InnerGuard { guard, _lockdep: lockdep, _irqs: irqs }
    }
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> core::ops::Deref for InnerGuard<'_, P, B, T> {
    type Target = MmInner<P, T>;

    fn deref(&self) -> &MmInner<P, T> {
        &self.guard
    }
}

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> core::ops::DerefMut for InnerGuard<'_, P, B, T> {
    fn deref_mut(&mut self) -> &mut MmInner<P, T> {
        &mut self.guard
    }
}

/// One address space. See the module documentation.
pub struct MmStruct<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush = NoFlush> {
    /// The mmap lock (Linux `mmap_lock`). See the module doc for what it
    /// protects.
    pub mmap_lock: RwSem<B>,
    /// The inner lock and what it protects, shared with the rmap lists
    /// that name this mm (see [`crate::rmap`]).
    inner: Arc<spin::Mutex<MmInner<P, T>>>,
    /// Names this mm in rmap walks ([`MmStruct::id`]).
    id: u64,
    /// The anon_vma of this mm's anonymous pages, shared with every mm
    /// forked from it or it was forked from (see [`crate::rmap`]).
    anon_vma: Arc<crate::rmap::AnonVma<P, T>>,
    /// How this mm goes onto shmem objects' rmap lists; `None`: it does
    /// not (see [`MmStruct::enable_rmap`]).
    shmem_rmap: Option<crate::rmap::ShmemRmapOps<P, T>>,
    /// The same physical memory as `inner.phys`, usable without the inner
    /// lock (faults allocate and zero their frame before taking it).
    pub(crate) phys: P,
    page_meta: Arc<PageMetaArray>,
    root_pa: u64,
    /// `PopulateStrategy as u8`, or [`STRATEGY_GLOBAL`].
    strategy: AtomicU8,
    /// Called, when set, where population could let another thread in
    /// (see [`MmStruct::set_populate_hook`]). Only in test builds.
    #[cfg(any(test, feature = "test-hooks"))]
    hook: spin::Mutex<Option<PopulateHook<P, B, T>>>,
    /// Called, when set, in each window of `mlock_vma_pages_range`
    /// (see [`MmStruct::set_mlock_hook`]). Only in test builds.
    #[cfg(any(test, feature = "test-hooks"))]
    mlock_hook: spin::Mutex<Option<MlockHook<P, B, T>>>,
    /// Whether `mlock_vma_pages_range` sets the `VM_IO` guard (see
    /// [`MmStruct::set_vm_io_guard`]); always on outside test builds.
    #[cfg(any(test, feature = "test-hooks"))]
    vm_io_guard: core::sync::atomic::AtomicBool,
    /// [`exit_mmap`](MmStruct::exit_mmap) has torn the mm down: nothing
    /// can map into it any more, and dropping it has nothing to do.
    pub(crate) exited: core::sync::atomic::AtomicBool,
    /// Whether this mm is on its anon_vma's list ([`Self::anon_vma_prepare`]).
    anon_linked: core::sync::atomic::AtomicBool,
}

/// The next [`MmStruct::id`].
static NEXT_MM_ID: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(1);

/// Value of `MmStruct::strategy` meaning "follow the global setting".
const STRATEGY_GLOBAL: u8 = u8::MAX;

impl<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush> MmStruct<P, B, T> {
    /// A new, empty address space.
    ///
    /// `phys` supplies page-table frames and (zeroed) data frames;
    /// `page_meta` must describe every frame `phys` can hand out for data;
    /// `kernel_root`: the kernel's PML4 whose upper half is shared
    /// (`new_with_kernel_half`), or `None` on the host.
    ///
    /// Errors: `ENOMEM` if there is no frame for the root table.
    pub fn new(phys: P, backend: B, tlb: T, page_meta: Arc<PageMetaArray>, kernel_root: Option<u64>) -> Result<Self, Errno> {
        let pgtable = match kernel_root {
            Some(root) => PageTable::new_with_kernel_half(phys.clone(), root),
            None => PageTable::new(phys.clone()),
        }
        .map_err(|_| Errno::ENOMEM)?;
        let root_pa = pgtable.root_pa();
        let anon_vma = Arc::new(crate::rmap::AnonVma::new());
        Ok(MmStruct {
            mmap_lock: RwSem::new(backend).with_lock_class(LockClass::MmapLock),
            phys: phys.clone(),
            inner: Arc::new(spin::Mutex::new(MmInner {
                vmas: VmaTree::new(),
                pgtable: Some(pgtable),
                phys,
                tlb,
                total_vm: 0,
                locked_vm: 0,
                def_flags: VmFlags::empty(),
                start_brk: 0,
                brk: 0,
                rss: 0,
                swap_ents: 0,
                anon_vma_id: anon_vma.id(),
            })),
            id: NEXT_MM_ID.fetch_add(1, Ordering::Relaxed),
            anon_vma,
            shmem_rmap: None,
            page_meta,
            root_pa,
            strategy: AtomicU8::new(STRATEGY_GLOBAL),
            #[cfg(any(test, feature = "test-hooks"))]
            hook: spin::Mutex::new(None),
            #[cfg(any(test, feature = "test-hooks"))]
            mlock_hook: spin::Mutex::new(None),
            #[cfg(any(test, feature = "test-hooks"))]
            vm_io_guard: core::sync::atomic::AtomicBool::new(true),
            exited: core::sync::atomic::AtomicBool::new(false),
            anon_linked: core::sync::atomic::AtomicBool::new(false),
        })
    }

    /// A number naming this mm, unique for the life of the system (rmap
    /// walks report it).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The anon_vma of this mm's anonymous pages.
    pub(crate) fn anon_vma(&self) -> &Arc<crate::rmap::AnonVma<P, T>> {
        &self.anon_vma
    }

    /// Use `anon_vma` (a parent's, at fork, which this mm joined) instead
    /// of its own, and the parent's way onto shmem lists.
    pub(crate) fn set_rmap_from(&mut self, anon_vma: Arc<crate::rmap::AnonVma<P, T>>, shmem_rmap: Option<crate::rmap::ShmemRmapOps<P, T>>) {
        self.lock_inner().anon_vma_id = anon_vma.id();
        self.anon_vma = anon_vma;
        self.shmem_rmap = shmem_rmap;
        // Fork linked it (see `dup_mmap`).
        self.anon_linked.store(true, Ordering::Release);
    }

    /// Let this mm go onto the rmap lists of the shmem objects it maps, so
    /// that rmap walks starting from other address spaces find its
    /// mappings of their pages ([`crate::rmap`]), and let reclaim find its
    /// anonymous pages: the mm joins its own anon_vma's list, and the
    /// anon_vma goes into the page metadata's registry
    /// ([`crate::rmap::AnonVmaRegistry`]). Needs types that can be shared
    /// between CPUs (the lists are not generic); mms forked from this one
    /// inherit it. Call it on a new mm, before it maps anything. Without
    /// it the mm's shmem mappings are found only by walks that start from
    /// it, and reclaim never meets its anonymous pages.
    ///
    /// Errors: `ENOMEM` if a list cannot grow.
    /// Locking: no lock of this mm held; takes the rmap lock.
    pub fn enable_rmap(&mut self) -> Result<(), Errno>
    where
        P: Send + 'static,
        T: Send + 'static,
    {
        self.shmem_rmap = Some(crate::rmap::ShmemRmapOps::new());
        self.page_meta.anon_vmas().register(&self.anon_vma)
    }

    /// Linux `anon_vma_prepare`: before this mm maps its first anonymous
    /// page, it joins its anon_vma's list (if it goes on rmap lists at
    /// all, see [`enable_rmap`](Self::enable_rmap)), so that reclaim's
    /// walks, which start from the anon_vma, find it. (Not earlier: a new
    /// mm must stay unshared until fork has copied into it.)
    ///
    /// Errors: `ENOMEM` if the list cannot grow.
    /// Locking: `mmap_lock` held by the caller; no inner lock; takes the
    /// rmap lock.
    pub(crate) fn anon_vma_prepare(&self) -> Result<(), Errno> {
        if self.shmem_rmap.is_none() || self.anon_linked.load(Ordering::Acquire) {
            return Ok(());
        }
        self.anon_vma.link(self.mmap_lock.backend(), self.id, &self.inner)?;
        self.anon_linked.store(true, Ordering::Release);
        Ok(())
    }

    /// See [`enable_rmap`](Self::enable_rmap).
    pub(crate) fn shmem_rmap_ops(&self) -> Option<crate::rmap::ShmemRmapOps<P, T>> {
        self.shmem_rmap
    }

    /// The shmem objects this mm's vmas map (each once).
    ///
    /// Errors: `ENOMEM`.
    /// Locking: takes the inner lock.
    pub(crate) fn maps_shmem_objects(&self) -> Result<Vec<Arc<crate::shmem::Shmem>>, Errno> {
        let g = self.lock_inner();
        let mut out: Vec<Arc<crate::shmem::Shmem>> = Vec::new();
        for obj in g.vmas.iter().filter_map(|v| v.shmem()) {
            if !out.iter().any(|o| Arc::ptr_eq(o, obj)) {
                out.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                out.push(obj.clone());
            }
        }
        Ok(out)
    }

    /// The inner lock itself, for the rmap lists that name this mm.
    pub(crate) fn inner_arc(&self) -> &Arc<spin::Mutex<MmInner<P, T>>> {
        &self.inner
    }

    /// The proof that `guard`, a write hold of this mm's `mmap_lock`, is
    /// held (see the module doc, "The protocol").
    ///
    /// Panics if `guard` holds another rwsem.
    pub fn mmap_write_locked<'g>(&self, guard: &'g RwSemWriteGuard<'_, B>) -> MmapWriteLocked<'g> {
        assert!(core::ptr::eq(guard.rwsem(), &self.mmap_lock), "a write guard of another mm's mmap_lock");
        MmapWriteLocked { _held: PhantomData }
    }

    /// The proof that `guard`, a read hold of this mm's `mmap_lock`, is
    /// held.
    ///
    /// Panics if `guard` holds another rwsem.
    pub fn mmap_read_locked<'g>(&self, guard: &'g RwSemReadGuard<'_, B>) -> MmapLocked<'g> {
        assert!(core::ptr::eq(guard.rwsem(), &self.mmap_lock), "a read guard of another mm's mmap_lock");
        MmapLocked { write: false, _held: PhantomData }
    }

    /// The inner state and a write proof, without taking either lock:
    /// `&mut self` means nobody else can hold them — unless an rmap list
    /// names this mm ([`crate::rmap`]), whose walks take the inner lock
    /// without the mm: then `None`. A new mm is named by none.
    pub(crate) fn exclusive(&mut self) -> Option<(MmapWriteLocked<'_>, &mut MmInner<P, T>)> {
        let inner = Arc::get_mut(&mut self.inner)?;
        Some((MmapWriteLocked { _held: PhantomData }, inner.get_mut()))
    }

    /// Run `f` with a write proof and the inner state of an mm nobody else
    /// can reach but rmap walks (teardown on drop): the inner lock is
    /// taken if an rmap list names the mm.
    pub(crate) fn with_exclusive<R>(&mut self, f: impl FnOnce(&MmapWriteLocked<'_>, &mut MmInner<P, T>) -> R) -> R {
        let locked = MmapWriteLocked { _held: PhantomData };
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            return f(&locked, inner.get_mut());
        }
        let mut g = self.lock_inner();
        f(&locked, &mut g)
    }

    /// Take the inner lock, interrupts disabled while it is held (see the
    /// module doc).
    ///
    /// Locking: never with `inner` already held by this thread.
    pub(crate) fn lock_inner(&self) -> InnerGuard<'_, P, B, T> {
        InnerGuard::lock(self.mmap_lock.backend(), &self.inner)
    }

    /// The frame metadata this mm counts mlocks in.
    pub fn page_meta(&self) -> &PageMetaArray {
        &self.page_meta
    }

    pub(crate) fn page_meta_arc(&self) -> &Arc<PageMetaArray> {
        &self.page_meta
    }

    /// Physical address of the PML4 (for CR3). Stays the same for the life
    /// of the mm; after [`exit_mmap`](Self::exit_mmap) the frame is freed
    /// and must not be loaded.
    pub fn root_pa(&self) -> u64 {
        self.root_pa
    }

    /// Pages of all vmas (`VmSize` in pages).
    pub fn total_vm(&self) -> u64 {
        self.lock_inner().total_vm
    }

    /// Pages of `VM_LOCKED` vmas (`VmLck` in pages).
    pub fn locked_vm(&self) -> u64 {
        self.lock_inner().locked_vm
    }

    /// Present user pages (`VmRSS` in pages).
    pub fn rss(&self) -> u64 {
        self.lock_inner().rss
    }

    /// Flags new vmas inherit (`VM_LOCKED`, plus `VM_LOCKONFAULT`, after
    /// `mlockall(MCL_FUTURE)`).
    pub fn def_flags(&self) -> VmFlags {
        self.lock_inner().def_flags
    }

    /// `(start_brk, brk)`.
    pub fn brk_range(&self) -> (u64, u64) {
        let g = self.lock_inner();
        (g.start_brk, g.brk)
    }

    /// Set the heap start (the ELF loader calls this with the end of the
    /// data segment): `start_brk = brk = PAGE_ALIGN(addr)`. Refused
    /// (`EINVAL`) beyond `TASK_SIZE` or once the heap has grown.
    ///
    /// Locking: takes `mmap_lock` for write.
    pub fn set_brk_base(&self, addr: u64) -> Result<(), Errno> {
        let aligned = crate::addr::page_align_up(addr).ok_or(Errno::EINVAL)?;
        if aligned >= TASK_SIZE {
            return Err(Errno::EINVAL);
        }
        let _w = self.mmap_lock.write();
        let mut g = self.lock_inner();
        if g.brk != g.start_brk {
            return Err(Errno::EINVAL);
        }
        g.start_brk = aligned;
        g.brk = aligned;
        Ok(())
    }

    /// Linux `follow_page` without the reference: the frame mapped at `va`
    /// and its pte flags, or `None` if nothing is mapped. Never faults. A
    /// `PROT_NONE` page is returned too, with flags `PROTNONE` (no
    /// `PRESENT`): callers that would access it must check.
    ///
    /// Locking: takes the inner lock only; the answer may be stale unless
    /// the caller holds `mmap_lock`.
    pub fn follow_page(&self, va: u64) -> Option<(u64, PteFlags)> {
        let g = self.lock_inner();
        let m = g.pgtable.as_ref()?.translate(crate::addr::page_align_down(va))?;
        Some((m.pa, m.flags))
    }

    /// Whether the pte of `va` is a swap entry (the page was reclaimed).
    ///
    /// Locking: takes the inner lock only.
    pub fn swapped_out(&self, va: u64) -> bool {
        let g = self.lock_inner();
        g.pgtable.as_ref().and_then(|pt| pt.swap_entry_at(crate::addr::page_align_down(va))).is_some()
    }

    /// Swap entries in this mm's page table (Linux `MM_SWAPENTS`,
    /// `VmSwap` in `/proc/<pid>/status`).
    ///
    /// Locking: takes the inner lock only.
    pub fn swap_ents(&self) -> u64 {
        self.lock_inner().swap_ents
    }

    /// The flags of the vma containing `addr`, if any.
    ///
    /// Locking: takes the inner lock only; the answer may be stale unless
    /// the caller holds `mmap_lock`.
    pub fn vma_flags_at(&self, addr: u64) -> Option<VmFlags> {
        self.lock_inner().vmas.vma_lookup(addr).map(|v| v.flags)
    }

    /// Number of vmas (Linux `map_count`).
    pub fn map_count(&self) -> usize {
        self.lock_inner().vmas.len()
    }

    /// `(start, end, flags)` of every vma, in address order.
    ///
    /// Locking: takes `mmap_lock` for read (like reading `/proc/self/maps`).
    pub fn maps_snapshot(&self) -> Vec<(u64, u64, VmFlags)> {
        let _r = self.mmap_lock.read();
        self.maps_snapshot_locked()
    }

    /// [`maps_snapshot`](Self::maps_snapshot) for a caller that already
    /// holds `mmap_lock` (or is a test that knows nobody writes).
    pub fn maps_snapshot_locked(&self) -> Vec<(u64, u64, VmFlags)> {
        self.lock_inner().vmas.iter().map(|v| (v.start, v.end, v.flags)).collect()
    }

    /// `/proc/self/maps` in Linux's exact format. `start_stack` is the
    /// initial stack pointer: the vma containing it is labelled `[stack]`;
    /// the vma overlapping `[start_brk, brk]` is `[heap]`.
    ///
    /// Locking: takes `mmap_lock` for read.
    pub fn proc_maps(&self, start_stack: Option<u64>) -> String {
        let _r = self.mmap_lock.read();
        let (start_brk, brk) = self.brk_range();
        let lines: Vec<_> = self.lock_inner().vmas.iter().map(|v| (v.start, v.end, v.flags, crate::smaps::maps_backing(v))).collect();
        let mut out = String::new();
        for (start, end, flags, (f, object)) in lines {
            let name =
                object.or_else(|| crate::smaps::maps_vma_name(start, end, (start_brk, brk), start_stack).map(alloc::borrow::Cow::Borrowed));
            out.push_str(&format_maps_line(start, end, flags, f.offset, f.major, f.minor, f.ino, name.as_deref()));
        }
        out
    }

    /// The memory lines of `/proc/self/status` in Linux's format:
    /// `VmSize`, `VmLck`, `VmRSS`, `VmSwap` (kB, right-aligned in 8
    /// columns; Linux prints `VmSwap` further down, among others Holdfast
    /// leaves out).
    pub fn proc_status_vm(&self) -> String {
        let g = self.lock_inner();
        let kb = |pages: u64| pages << (PAGE_SHIFT - 10);
        let mut s = String::new();
        let _ = writeln!(s, "VmSize:\t{:>8} kB", kb(g.total_vm));
        let _ = writeln!(s, "VmLck:\t{:>8} kB", kb(g.locked_vm));
        let _ = writeln!(s, "VmRSS:\t{:>8} kB", kb(g.rss));
        let _ = writeln!(s, "VmSwap:\t{:>8} kB", kb(g.swap_ents));
        s
    }

    /// The population strategy in force for this mm: its own setting if one
    /// was made with [`set_populate_strategy`](Self::set_populate_strategy),
    /// else the global one ([`crate::populate::global_strategy`]).
    pub fn populate_strategy(&self) -> PopulateStrategy {
        match self.strategy.load(Ordering::Relaxed) {
            STRATEGY_GLOBAL => crate::populate::global_strategy(),
            v => PopulateStrategy::from_u8(v).unwrap_or_default(),
        }
    }

    /// Give this mm its own strategy (`None`: follow the global setting).
    pub fn set_populate_strategy(&self, s: Option<PopulateStrategy>) {
        self.strategy.store(s.map_or(STRATEGY_GLOBAL, |s| s as u8), Ordering::Relaxed);
    }

    /// Test hook: `hook` is called where population could let another
    /// thread in — after every batch of pages under a held `mmap_lock`
    /// while pages remain, and in every window where it holds none —
    /// with a [`PopulateProgress`] saying how far it is and what it holds
    /// (see [`crate::populate`], "Test hook"). It never holds the inner
    /// lock; only where `progress.lock` is `Unlocked` may it call mm
    /// operations itself, elsewhere it must leave that to another thread.
    /// Compiled only in test builds (feature `test-hooks`: the kernel's
    /// `ktest` build and mm's own tests); the race tests let a racing
    /// thread go from here.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn set_populate_hook(&self, hook: Option<PopulateHook<P, B, T>>) {
        *self.hook.lock() = hook;
    }

    /// Run the populate hook, if any (a no-op outside test builds).
    /// Locking: `mmap_lock` as `progress.lock` says; not the inner lock.
    pub(crate) fn run_populate_hook(&self, progress: PopulateProgress) {
        #[cfg(any(test, feature = "test-hooks"))]
        {
            let hook = self.hook.lock().clone();
            if let Some(h) = hook {
                h(self, progress);
            }
        }
        #[cfg(not(any(test, feature = "test-hooks")))]
        let _ = progress;
    }

    /// Test hook: `hook` is called in every window `mlock_vma_pages_range`
    /// opens between two page tables — `mmap_lock` held for write, the
    /// inner lock released — with the address where the walk resumes. It
    /// may run rmap walks ([`crate::rmap`]), which is what the `VM_IO`
    /// guard is about, or let another thread run them; it must not take
    /// this mm's `mmap_lock`. Compiled only in test builds (feature
    /// `test-hooks`).
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn set_mlock_hook(&self, hook: Option<MlockHook<P, B, T>>) {
        *self.mlock_hook.lock() = hook;
    }

    /// Run the mlock hook, if any (a no-op outside test builds).
    /// Locking: `mmap_lock` held for write; not the inner lock.
    pub(crate) fn run_mlock_hook(&self, next: u64) {
        #[cfg(any(test, feature = "test-hooks"))]
        {
            let hook = self.mlock_hook.lock().clone();
            if let Some(h) = hook {
                h(self, next);
            }
        }
        #[cfg(not(any(test, feature = "test-hooks")))]
        let _ = next;
    }

    /// Test switch: with `false`, `mlock_vma_pages_range` no longer sets
    /// the `VM_IO` guard on the vma it walks, so that a test can show the
    /// double counting the guard prevents. Compiled only in test builds.
    #[cfg(any(test, feature = "test-hooks"))]
    pub fn set_vm_io_guard(&self, on: bool) {
        self.vm_io_guard.store(on, Ordering::Relaxed);
    }

    /// Whether `mlock_vma_pages_range` sets the `VM_IO` guard (always,
    /// outside test builds).
    pub(crate) fn vm_io_guard(&self) -> bool {
        #[cfg(any(test, feature = "test-hooks"))]
        return self.vm_io_guard.load(Ordering::Relaxed);
        #[cfg(not(any(test, feature = "test-hooks")))]
        true
    }
}

/// One line of `/proc/<pid>/maps`, exactly as Linux's `show_map_vma`
/// prints it: `%08lx-%08lx %c%c%c%c %08llx %02x:%02x %lu ` and, if there is
/// a name, padding to column 73 (`25 + 6 * sizeof(void *) - 1` characters,
/// then one more space) and the name; then `\n`. Anonymous memory has
/// offset 0, device 00:00 and inode 0. The fourth flag letter is `s` for
/// `VM_MAYSHARE`, else `p`.
#[allow(clippy::too_many_arguments)]
pub fn format_maps_line(start: u64, end: u64, flags: VmFlags, pgoff: u64, major: u32, minor: u32, ino: u64, name: Option<&str>) -> String {
    let mut s = String::new();
    let c = |f: VmFlags, ch: char| if flags.contains(f) { ch } else { '-' };
    let _ = write!(
        s,
        "{:08x}-{:08x} {}{}{}{} {:08x} {:02x}:{:02x} {} ",
        start,
        end,
        c(VmFlags::READ, 'r'),
        c(VmFlags::WRITE, 'w'),
        c(VmFlags::EXEC, 'x'),
        if flags.contains(VmFlags::MAYSHARE) { 's' } else { 'p' },
        pgoff,
        major,
        minor,
        ino
    );
    if let Some(name) = name {
        const WIDTH: usize = 25 + 6 * 8 - 1;
        while s.len() < WIDTH {
            s.push(' ');
        }
        s.push(' ');
        s.push_str(name);
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod lock_order_tests {
    use super::*;
    use crate::pgtable::{ArenaPhysMem, ARENA_BASE};
    use crate::rwsem::StdBackend;

    fn mm() -> MmStruct<&'static ArenaPhysMem, StdBackend> {
        let arena: &'static ArenaPhysMem = alloc::boxed::Box::leak(alloc::boxed::Box::new(ArenaPhysMem::new()));
        let meta = Arc::new(PageMetaArray::new(ARENA_BASE >> 12, 64).unwrap());
        MmStruct::new(arena, StdBackend::new(), NoFlush, meta, None).unwrap()
    }

    /// mmap_lock, then the inner lock: the documented order, and both are
    /// forgotten once released.
    #[test]
    fn mmap_lock_then_page_table_lock_is_in_order() {
        let mm = mm();
        let read = mm.mmap_lock.read();
        let inner = mm.lock_inner();
        assert!(StdBackend::held_locks().holds(LockClass::PageTable));
        drop(inner);
        drop(read);
        assert!(StdBackend::held_locks().is_empty());
    }

    /// An mm torn down by `exit_mmap` is dropped without its inner lock,
    /// even while an rmap list still names it: the kernel drops the last
    /// reference to an exited process's mm in a context switch, where the
    /// thread switched to may be waiting for another mm's inner lock.
    #[test]
    fn dropping_an_exited_mm_takes_no_lock() {
        let parent = mm();
        let mut child = MmStruct::new(parent.phys, StdBackend::new(), NoFlush, parent.page_meta_arc().clone(), None).unwrap();
        parent.dup_mmap(&mut child).unwrap();
        child.exit_mmap();
        let _other = parent.lock_inner();
        drop(child);
    }

    /// Taking mmap_lock under the inner lock is caught at the acquisition.
    #[test]
    #[should_panic(expected = "taking the mmap_lock while holding the page-table lock")]
    fn mmap_lock_under_page_table_lock_is_caught() {
        let mm = mm();
        let _inner = mm.lock_inner();
        let _read = mm.mmap_lock.read();
    }
}
