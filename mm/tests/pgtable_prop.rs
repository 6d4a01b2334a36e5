//! Property test: random map / unmap / protect sequences on a `PageTable`
//! against a model `BTreeMap<va, (pa, size, flags)>`.
//!
//! The addresses come from an 8 MiB window that straddles a PML4 (512 GiB)
//! or a PUD (1 GiB) boundary, and the page offsets cluster at the ends of
//! each 2 MiB slot, so 4 KiB and 2 MiB mappings collide often. After every
//! operation the results must agree with the model, every page of the
//! window must translate as the model says, and the arena must hold exactly
//! the tables the model's mappings need (so empty tables are freed at once).
//! Some maps run with a frame limit, to check that a failed map leaves
//! nothing behind. At the end everything is unmapped: only the root remains.

use std::collections::{BTreeMap, BTreeSet};

use mm::mmu_gather::MmuGather;
use mm::pgtable::{ArenaPhysMem, EventLog, MachineEvent, MapError, Mapping, PageSize, PageTable, PteFlags, RecordingTlb, TlbEvent};
use proptest::prelude::*;

const K: u64 = 4096;
const M2: u64 = 2 << 20;
/// 2 MiB slots in the window.
const SLOTS: u64 = 4;
const WINDOW_PAGES: u64 = SLOTS * 512;

/// Window bases: straddling the first PML4 boundary, or a PUD boundary.
const BASES: [u64; 2] = [(1 << 39) - 2 * M2, (3 << 30) - 2 * M2];

#[derive(Clone, Debug)]
enum Op {
    /// Map a 4 KiB page; `squeeze` limits the frames the arena may add.
    Map4K { page: u64, frame: u64, flags: PteFlags, squeeze: Option<u64> },
    /// Map a 2 MiB page in slot `slot`.
    Map2M { slot: u64, frame: u64, flags: PteFlags, squeeze: Option<u64> },
    /// Unmap at a page (may be inside a 2 MiB mapping: misaligned).
    Unmap { page: u64 },
    /// Unmap at the start of a 2 MiB slot.
    UnmapSlot { slot: u64 },
    /// Change the flags at a page.
    Protect { page: u64, flags: PteFlags },
}

fn flags() -> impl Strategy<Value = PteFlags> {
    let bits = [PteFlags::WRITABLE, PteFlags::USER, PteFlags::NO_EXECUTE, PteFlags::SOFTW1, PteFlags::GLOBAL, PteFlags::HUGE];
    proptest::collection::vec(any::<bool>(), bits.len())
        .prop_map(move |on| bits.iter().zip(on).filter(|(_, on)| *on).fold(PteFlags::empty(), |acc, (b, _)| acc | *b))
}

/// A page of the window, clustered near the ends of its 2 MiB slot.
fn page() -> impl Strategy<Value = u64> {
    (0..SLOTS, prop_oneof![0..6u64, 506..512u64, 0..512u64]).prop_map(|(slot, sub)| slot * 512 + sub)
}

fn squeeze() -> impl Strategy<Value = Option<u64>> {
    prop_oneof![6 => Just(None), 1 => (0..3u64).prop_map(Some)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (page(), 0..1u64 << 24, flags(), squeeze()).prop_map(|(page, f, flags, squeeze)| Op::Map4K { page, frame: f * K, flags, squeeze }),
        2 => (0..SLOTS, 0..1u64 << 15, flags(), squeeze()).prop_map(|(slot, f, flags, squeeze)| Op::Map2M { slot, frame: f * M2, flags, squeeze }),
        4 => page().prop_map(|page| Op::Unmap { page }),
        1 => (0..SLOTS).prop_map(|slot| Op::UnmapSlot { slot }),
        2 => (page(), flags()).prop_map(|(page, flags)| Op::Protect { page, flags }),
    ]
}

/// What the page table should contain: mapping start -> (frame, size, flags).
#[derive(Default)]
struct Model {
    maps: BTreeMap<u64, (u64, PageSize, PteFlags)>,
}

fn stored(flags: PteFlags) -> PteFlags {
    (flags - PteFlags::HUGE) | PteFlags::PRESENT
}

impl Model {
    /// The mapping covering `va`: (start, frame, size, flags).
    fn covering(&self, va: u64) -> Option<(u64, u64, PageSize, PteFlags)> {
        let (&start, &(pa, size, flags)) = self.maps.range(..=va).next_back()?;
        (va < start + size.bytes()).then_some((start, pa, size, flags))
    }

    fn overlaps(&self, va: u64, len: u64) -> bool {
        self.covering(va).is_some() || self.maps.range(va..va + len).next().is_some()
    }

    /// Table frames the mappings need: root, one per used PML4 / PUD entry,
    /// one per 2 MiB region holding 4 KiB pages.
    fn tables(&self) -> u64 {
        let set = |shift: u32, only_4k: bool| {
            self.maps
                .iter()
                .filter(|(_, (_, size, _))| !only_4k || *size == PageSize::Size4K)
                .map(|(va, _)| va >> shift)
                .collect::<BTreeSet<_>>()
                .len() as u64
        };
        1 + set(39, false) + set(30, false) + set(21, true)
    }

    /// Frames a new mapping at `va` of `size` would allocate.
    fn tables_needed(&self, va: u64, size: PageSize) -> u64 {
        let used = |shift: u32, only_4k: bool| {
            self.maps.iter().any(|(m, (_, s, _))| m >> shift == va >> shift && (!only_4k || *s == PageSize::Size4K))
        };
        let mut n = u64::from(!used(39, false)) + u64::from(!used(30, false));
        if size == PageSize::Size4K {
            n += u64::from(!used(21, true));
        }
        n
    }

    fn map(&mut self, va: u64, pa: u64, size: PageSize, flags: PteFlags, squeeze: Option<u64>) -> Result<(), MapError> {
        if self.overlaps(va, size.bytes()) {
            return Err(MapError::AlreadyMapped);
        }
        if squeeze.is_some_and(|extra| self.tables_needed(va, size) > extra) {
            return Err(MapError::OutOfFrames);
        }
        self.maps.insert(va, (pa, size, stored(flags)));
        Ok(())
    }

    fn unmap(&mut self, va: u64) -> Result<Mapping, MapError> {
        let (start, pa, size, flags) = self.covering(va).ok_or(MapError::NotMapped)?;
        if start != va {
            return Err(MapError::Misaligned);
        }
        self.maps.remove(&va);
        Ok(Mapping { pa, size, flags })
    }

    fn protect(&mut self, va: u64, flags: PteFlags) -> Result<PteFlags, MapError> {
        let (start, _, _, old) = self.covering(va).ok_or(MapError::NotMapped)?;
        if start != va {
            return Err(MapError::Misaligned);
        }
        self.maps.get_mut(&va).expect("covering").2 = stored(flags);
        Ok(old)
    }

    fn translate(&self, va: u64) -> Option<Mapping> {
        let (start, pa, size, flags) = self.covering(va)?;
        Some(Mapping { pa: pa + (va - start), size, flags })
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 160, ..ProptestConfig::default() })]

    #[test]
    fn page_table_matches_model(base in prop::sample::select(&BASES[..]), ops in proptest::collection::vec(op(), 1..120)) {
        let log = EventLog::new();
        let arena = ArenaPhysMem::with_log(log.clone());
        let tlb = RecordingTlb::with_log(log.clone());
        let mut pt = PageTable::new(&arena).unwrap();
        let mut model = Model::default();
        let va_of = |page: u64| base + page * K;
        // Checked after every operation: the pages the operations touch, their
        // neighbours and the slot boundaries (the whole window at the end).
        let mut probes = BTreeSet::new();
        for op in &ops {
            if let Op::Map4K { page, .. } | Op::Unmap { page } | Op::Protect { page, .. } = *op {
                probes.extend([page.saturating_sub(1), page, (page + 1).min(WINDOW_PAGES - 1)]);
            }
        }
        for slot in 0..SLOTS {
            probes.extend([slot * 512, slot * 512 + 511]);
        }

        for op in &ops {
            tlb.clear();
            match *op {
                Op::Map4K { page, frame, flags, squeeze } | Op::Map2M { slot: page, frame, flags, squeeze } => {
                    let (va, size) = match op {
                        Op::Map4K { .. } => (va_of(page), PageSize::Size4K),
                        _ => (base + page * M2, PageSize::Size2M),
                    };
                    arena.set_limit(squeeze.map(|extra| arena.in_use() + extra));
                    let got = pt.map(va, frame, size, flags);
                    arena.set_limit(None);
                    prop_assert_eq!(got, model.map(va, frame, size, flags, squeeze), "{:?}", op);
                    prop_assert!(tlb.events().is_empty(), "map flushes nothing");
                }
                Op::Unmap { page } => {
                    let va = va_of(page);
                    let mut g = MmuGather::tlb_gather_mmu();
                    let got = pt.unmap(va, &mut g);
                    prop_assert!(log.events().is_empty(), "nothing flushed or freed before the gather is finished");
                    g.tlb_finish_mmu(&arena, &tlb);
                    let size = got.map(|m| m.size.bytes());
                    prop_assert_eq!(got, model.unmap(va), "{:?}", op);
                    let events = log.take();
                    if let Ok(size) = size {
                        // One round over the page (one stride of its size),
                        // then the tables it emptied.
                        let round = matches!(
                            events[..],
                            [MachineEvent::Tlb(TlbEvent::Range { start, end, stride_shift, .. }), MachineEvent::Tlb(TlbEvent::Page(p)), ..]
                                if start == va && end == va + size && stride_shift == size.trailing_zeros() && p == va
                        );
                        prop_assert!(round, "{:x?}", events);
                        prop_assert!(events[2..].iter().all(|e| matches!(e, MachineEvent::FreeFrame(_))), "{:x?}", events);
                    } else {
                        prop_assert_eq!(events, vec![]);
                    }
                }
                Op::UnmapSlot { slot } => {
                    let va = base + slot * M2;
                    let mut g = MmuGather::tlb_gather_mmu();
                    let got = pt.unmap(va, &mut g);
                    g.tlb_finish_mmu(&arena, &tlb);
                    prop_assert_eq!(got, model.unmap(va), "{:?}", op);
                }
                Op::Protect { page, flags } => {
                    let va = va_of(page);
                    let mut g = MmuGather::tlb_gather_mmu();
                    let got = pt.protect(va, flags, &mut g);
                    g.tlb_finish_mmu(&arena, &tlb);
                    prop_assert_eq!(got, model.protect(va, flags), "{:?}", op);
                }
            }
            for &page in &probes {
                let va = va_of(page);
                prop_assert_eq!(pt.translate(va + 8), model.translate(va + 8), "page {} after {:?}", page, op);
            }
            prop_assert_eq!(arena.in_use(), model.tables(), "table frames after {:?}", op);
        }
        for page in 0..WINDOW_PAGES {
            prop_assert_eq!(pt.translate(va_of(page)), model.translate(va_of(page)), "page {}", page);
        }

        let starts: Vec<u64> = model.maps.keys().copied().collect();
        let mut g = MmuGather::tlb_gather_mmu();
        for va in starts {
            if g.needs_flush() {
                g.tlb_flush_mmu(&arena, &tlb);
            }
            prop_assert!(pt.unmap(va, &mut g).is_ok());
        }
        g.tlb_finish_mmu(&arena, &tlb);
        prop_assert_eq!(arena.in_use(), 1, "only the root is left");
        prop_assert_eq!(pt.free_all_tables(), 1);
        prop_assert_eq!(arena.in_use(), 0);
        prop_assert_eq!(arena.allocated(), arena.freed());
    }
}
