//! Fixtures for the swap tests (`mm_swap`, `mm_swapoff`): a world with a
//! zram device swapped on, populated memory with a marker in each page,
//! and what is swapped out.

use std::sync::Arc;

use mm::mmap::MAP_POPULATE;
use mm::pgtable::PhysMem;
use mm::swap::zram::Zram;

use super::{anon_rw, root, world, TestMm, World, P};

/// A world with a zram device of `slots` slots swapped on.
pub fn swap_world(slots: u64) -> World {
    let w = world();
    w.meta.swap().swapon(Arc::new(Zram::new(slots).unwrap()), &[]).unwrap();
    w
}

/// The frame mapped at `va`.
pub fn frame(mm: &TestMm, va: u64) -> u64 {
    mm.follow_page(va).expect("mapped").0
}

/// Private rw memory, populated, page i holding a marker in words 0 and 511.
pub fn populated(w: &World, pages: u64) -> u64 {
    let (prot, flags) = anon_rw();
    let a = w.mm.do_mmap(0, pages * P, prot, flags | MAP_POPULATE, &root()).unwrap();
    for i in 0..pages {
        let pa = frame(&w.mm, a + i * P);
        w.arena.write_entry(pa, 0, 0x5eed_0000 + i);
        w.arena.write_entry(pa, 511, !i);
    }
    a
}

/// How many of the `pages` pages at `a` are swapped out.
pub fn swapped(mm: &TestMm, a: u64, pages: u64) -> u64 {
    (0..pages).filter(|i| mm.swapped_out(a + i * P)).count() as u64
}
