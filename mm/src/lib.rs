//! Holdfast's memory-management core.
//!
//! Every algorithm the Linux memory-locking story is about lives here: the
//! VMA tree, 4-level page tables and `walk_page_range`, the rwsem used as the
//! mmap lock, per-frame metadata and the frame allocator. The crate is
//! `no_std` + `alloc`, contains no `unsafe`, and reaches the machine only
//! through small traits that the kernel implements (and host tests implement
//! with plain memory). All of its tests run on the host: `cargo test -p mm`.
//!
//! On top of those sits the address space, [`MmStruct`] (`mm_struct`), and
//! what the kernel's syscall layer calls on it, one module per system-call
//! family as in Linux's `mm/`: the fault handler's mm part (`fault`, stack
//! growth in `stack`), `mmap`, `mprotect`, `madvise`, `mincore`, `msync`,
//! `mremap`, `fork` (`dup_mmap`, copy-on-write), the shmem object behind
//! shared anonymous memory (`shmem`), the reverse maps from a frame to
//! the ptes mapping it (`rmap`) (their
//! constants in `mman`, the page-level work they share in
//! `memory`, the batched TLB flush and deferred freeing that every unmap
//! and protection change goes through in `mmu_gather`), the mlock family
//! (`mlock`, with the deliberately racy `mlock_downgrade_retake`), the
//! LRU lists (`lru`), page reclaim into swap (`vmscan`) and the swap
//! devices, slot counts and compressed in-RAM device (`swap`),
//! population (`gup`) under a selectable lock strategy (`populate`, with
//! optional accounting of where its time goes in `populate_profile`), the
//! consistency checker run after every operation in tests (`invariants`)
//! and the lock-order checker (`lockdep`). No module imports one above it: the modules form no
//! import cycle (`mmu_gather` uses only the machine traits of
//! `pgtable::phys`, which lie below it; `PageTable` records into it).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod addr;
pub mod errno;
pub mod fault;
pub mod fork;
pub mod frame;
pub mod gup;
pub mod invariants;
pub mod irqlock;
pub mod lockdep;
pub mod lru;
pub mod madvise;
pub mod memory;
pub mod mincore;
pub mod mlock;
pub mod mlock_downgrade_retake;
pub mod mm_struct;
pub mod mman;
pub mod mmap;
pub mod mmu_gather;
pub mod mprotect;
pub mod mremap;
pub mod msync;
pub mod page_meta;
pub mod pagewalk;
pub mod pgtable;
pub mod populate;
pub mod populate_profile;
pub mod rmap;
pub mod rwsem;
pub mod shmdt;
pub mod shmem;
pub mod smaps;
pub mod stack;
pub mod swap;
pub mod truncate;
pub mod vma;
pub mod vmscan;

pub use errno::Errno;
pub use mm_struct::{MlockCreds, MmStruct};
pub use populate::PopulateStrategy;
