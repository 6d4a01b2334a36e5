//! Shared fixtures for the mm_* integration tests: a thread-safe arena,
//! an `MmStruct` on it, credentials.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

pub mod swap;

use mm::page_meta::PageMetaArray;
use mm::pgtable::{ArenaPhysMem, NoFlush, PhysMem, ARENA_BASE};
use mm::rwsem::StdBackend;
use mm::{MlockCreds, MmStruct};

pub use mm::addr::PAGE_SIZE;
pub const P: u64 = PAGE_SIZE;

/// `ArenaPhysMem` behind a mutex, shareable between threads (the arena
/// itself is single-threaded).
#[derive(Clone, Debug, Default)]
pub struct SharedArena(pub Arc<Mutex<ArenaPhysMem>>);

impl SharedArena {
    pub fn in_use(&self) -> u64 {
        self.0.lock().unwrap().in_use()
    }
    pub fn allocated(&self) -> u64 {
        self.0.lock().unwrap().allocated()
    }
    pub fn set_limit(&self, limit: Option<u64>) {
        self.0.lock().unwrap().set_limit(limit)
    }
}

impl PhysMem for SharedArena {
    fn alloc_frame(&self) -> Option<u64> {
        self.0.lock().unwrap().alloc_frame()
    }
    fn free_frame(&self, pa: u64) {
        self.0.lock().unwrap().free_frame(pa)
    }
    fn read_entry(&self, table_pa: u64, index: usize) -> u64 {
        self.0.lock().unwrap().read_entry(table_pa, index)
    }
    fn write_entry(&self, table_pa: u64, index: usize, val: u64) {
        self.0.lock().unwrap().write_entry(table_pa, index, val)
    }
}

pub type TestMm = MmStruct<SharedArena, StdBackend, NoFlush>;

pub struct World {
    pub mm: Arc<TestMm>,
    pub arena: SharedArena,
    pub meta: Arc<PageMetaArray>,
    pub backend: StdBackend,
}

/// Frames the metadata array covers (the arena hands out ARENA_BASE + i * 4K).
pub const META_FRAMES: usize = 1 << 17;

pub fn world() -> World {
    world_with(mm::PopulateStrategy::default())
}

pub fn world_with(strategy: mm::PopulateStrategy) -> World {
    let arena = SharedArena::default();
    let meta = Arc::new(PageMetaArray::new(ARENA_BASE >> 12, META_FRAMES).unwrap());
    let backend = StdBackend::new();
    let mut mm = MmStruct::new(arena.clone(), backend.clone(), NoFlush, meta.clone(), None).unwrap();
    mm.enable_rmap().unwrap();
    mm.set_populate_strategy(Some(strategy));
    World { mm: Arc::new(mm), arena, meta, backend }
}

pub fn root() -> MlockCreds {
    MlockCreds::root()
}

pub fn nobody(limit: u64) -> MlockCreds {
    MlockCreds::user(limit)
}

#[track_caller]
pub fn check(mm: &TestMm) {
    if let Err(e) = mm::invariants::check_mm_invariants(mm) {
        panic!("invariant violated: {e}\nmaps: {:#x?}", mm.maps_snapshot_locked());
    }
}

pub fn present(mm: &TestMm, addr: u64, len: u64) -> usize {
    mm.mincore(addr, len).unwrap().iter().filter(|&&b| b == 1).count()
}

pub fn anon_rw() -> (u64, u64) {
    (mm::mmap::PROT_READ | mm::mmap::PROT_WRITE, mm::mmap::MAP_PRIVATE | mm::mmap::MAP_ANONYMOUS)
}
