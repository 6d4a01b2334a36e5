//! Property tests of `walk_page_range` on random page tables and vma sets.
//!
//! The world: an 8 MiB window straddling a PML4 or a PUD boundary, four
//! 2 MiB slots each empty, one 2 MiB page, or a few random 4 KiB pages;
//! sorted, disjoint vmas (some `VM_PFNMAP`); a random page range.
//!
//! From the events a walk reports, every page of the range gets at most one
//! class (4 KiB page seen by `pte_entry`, huge page seen by `pmd_entry`,
//! hole with its depth), the events come in address order, and the classes
//! must equal what a page-by-page model computes: so each mapped page inside
//! a walked vma is visited exactly once, the holes are reported once and
//! cover exactly the rest. Further properties: `ACTION_CONTINUE` skips the
//! ptes of a pmd, `test_walk` skip / abort, and a callback's `Stop` ends
//! the walk at once and its code is returned.

use std::collections::{BTreeMap, BTreeSet};

use std::num::NonZeroI32;

use mm::pagewalk::{walk_page_range, MmWalk, MmWalkOps, TestWalk, WalkAction, WalkControl};
use mm::pgtable::{ArenaPhysMem, Level, PageSize, PageTable, PhysMem, PtSlot, PteFlags};
use mm::vma::{VmFlags, Vma, VmaKind};
use proptest::prelude::*;

const K: u64 = 4096;
const M2: u64 = 2 << 20;
const SLOTS: u64 = 4;
const WINDOW_PAGES: u64 = SLOTS * 512;
const BASES: [u64; 2] = [(1 << 39) - 2 * M2, (3 << 30) - 2 * M2];

#[derive(Clone, Debug)]
enum Slot {
    Empty,
    Huge,
    Small(Vec<u64>),
}

#[derive(Clone, Debug)]
struct World {
    base: u64,
    slots: Vec<Slot>,
    /// (gap before, length, PFNMAP) in pages.
    vma_segments: Vec<(u64, u64, bool)>,
    /// Range, in pages of the window.
    start: u64,
    end: u64,
}

fn world() -> impl Strategy<Value = World> {
    let slot = prop_oneof![
        1 => Just(Slot::Empty),
        1 => Just(Slot::Huge),
        2 => proptest::collection::vec(prop_oneof![0..512u64, 0..4u64, 508..512u64], 1..40).prop_map(Slot::Small),
    ];
    (
        prop::sample::select(&BASES[..]),
        proptest::collection::vec(slot, SLOTS as usize),
        proptest::collection::vec((0..64u64, 1..700u64, prop::bool::weighted(0.2)), 0..8),
        0..WINDOW_PAGES,
        1..=WINDOW_PAGES,
    )
        .prop_map(|(base, slots, vma_segments, start, len)| World {
            base,
            slots,
            vma_segments,
            start,
            end: (start + len).min(WINDOW_PAGES),
        })
}

/// The built world: page table, mappings (va -> size), vmas.
struct Built<'a> {
    pt: PageTable<&'a ArenaPhysMem>,
    maps: BTreeMap<u64, PageSize>,
    vmas: Vec<Vma>,
    start: u64,
    end: u64,
}

fn build<'a>(w: &World, arena: &'a ArenaPhysMem) -> Built<'a> {
    let mut pt = PageTable::new(arena).unwrap();
    let mut maps = BTreeMap::new();
    for (i, slot) in w.slots.iter().enumerate() {
        let slot_va = w.base + i as u64 * M2;
        match slot {
            Slot::Empty => {}
            Slot::Huge => {
                pt.map(slot_va, 0x4000_0000 + i as u64 * M2, PageSize::Size2M, PteFlags::WRITABLE).unwrap();
                maps.insert(slot_va, PageSize::Size2M);
            }
            Slot::Small(pages) => {
                for &p in pages {
                    let va = slot_va + p * K;
                    maps.entry(va).or_insert_with(|| {
                        pt.map(va, 0x100_0000 + p * K, PageSize::Size4K, PteFlags::USER).unwrap();
                        PageSize::Size4K
                    });
                }
            }
        }
    }
    let mut vmas = Vec::new();
    let mut cursor = 0;
    for &(gap, len, pfn) in &w.vma_segments {
        let start = cursor + gap;
        let end = (start + len).min(WINDOW_PAGES);
        if start >= end {
            break;
        }
        let mut flags = VmFlags::READ | VmFlags::WRITE;
        if pfn {
            flags |= VmFlags::PFNMAP;
        }
        vmas.push(Vma { start: w.base + start * K, end: w.base + end * K, flags, kind: VmaKind::Anonymous, anon_pgoff: 0 });
        cursor = end;
    }
    Built { pt, maps, vmas, start: w.base + w.start * K, end: w.base + w.end * K }
}

/// What one page of the range is reported as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Pte,
    Huge,
    Hole(i32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Pmd { addr: u64, next: u64, leaf: bool },
    Pte(u64),
    Hole { addr: u64, next: u64, depth: i32 },
}

/// The recording shared by both ops types.
#[derive(Default)]
struct Recorder {
    ev: Vec<Ev>,
    /// Return `stop.1` from the `stop.0`-th event (1-based).
    stop: Option<(usize, i32)>,
    /// 2 MiB regions (va >> 21) whose pmd_entry sets ACTION_CONTINUE.
    continued: BTreeSet<u64>,
    pre: usize,
    post: usize,
}

impl Recorder {
    fn record(&mut self, e: Ev) -> WalkControl {
        self.ev.push(e);
        match self.stop {
            Some((n, val)) if n == self.ev.len() => WalkControl::Stop(NonZeroI32::new(val).unwrap()),
            _ => WalkControl::Continue,
        }
    }

    fn pmd<P: PhysMem>(&mut self, pmd: PtSlot, addr: u64, next: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
        let leaf = walk.get(pmd).is_leaf(Level::Pmd);
        if self.continued.contains(&(addr >> 21)) {
            walk.action = WalkAction::Continue;
        }
        self.record(Ev::Pmd { addr, next, leaf })
    }
}

/// Ops without `test_walk` (Linux default: PFNMAP vmas are holes).
#[derive(Default)]
struct Plain(Recorder);

impl MmWalkOps for Plain {
    const HAS_PMD_ENTRY: bool = true;
    const HAS_PTE_ENTRY: bool = true;
    fn pmd_entry<P: PhysMem>(&mut self, pmd: PtSlot, addr: u64, next: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.0.pmd(pmd, addr, next, walk)
    }
    fn pte_entry<P: PhysMem>(&mut self, _pte: PtSlot, addr: u64, _next: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.0.record(Ev::Pte(addr))
    }
    fn pte_hole<P: PhysMem>(&mut self, addr: u64, next: u64, depth: i32, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.0.record(Ev::Hole { addr, next, depth })
    }
    fn pre_vma<P: PhysMem>(&mut self, _start: u64, _end: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.0.pre += 1;
        WalkControl::Continue
    }
    fn post_vma<P: PhysMem>(&mut self, _walk: &mut MmWalk<'_, P>) {
        self.0.post += 1;
    }
}

/// Ops with a `test_walk` that answers `decisions[vma start]`.
struct Tested {
    rec: Recorder,
    decisions: BTreeMap<u64, i32>,
}

impl MmWalkOps for Tested {
    const HAS_PMD_ENTRY: bool = true;
    const HAS_PTE_ENTRY: bool = true;
    fn test_walk<P: PhysMem>(&mut self, _start: u64, _end: u64, walk: &mut MmWalk<'_, P>) -> TestWalk {
        // Linux's int: 0 walk, > 0 skip, < 0 stop with it.
        match walk.vma.map_or(0, |v| self.decisions[&v.start]) {
            0 => TestWalk::Walk,
            d if d > 0 => TestWalk::Skip,
            d => TestWalk::Stop(NonZeroI32::new(d).unwrap()),
        }
    }
    fn pmd_entry<P: PhysMem>(&mut self, pmd: PtSlot, addr: u64, next: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.rec.pmd(pmd, addr, next, walk)
    }
    fn pte_entry<P: PhysMem>(&mut self, _pte: PtSlot, addr: u64, _next: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.rec.record(Ev::Pte(addr))
    }
    fn pte_hole<P: PhysMem>(&mut self, addr: u64, next: u64, depth: i32, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.rec.record(Ev::Hole { addr, next, depth })
    }
    fn pre_vma<P: PhysMem>(&mut self, _start: u64, _end: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.rec.pre += 1;
        WalkControl::Continue
    }
    fn post_vma<P: PhysMem>(&mut self, _walk: &mut MmWalk<'_, P>) {
        self.rec.post += 1;
    }
}

/// The model: per page of `[start, end)`, the expected class (`None`: no
/// event), the walk's return value and how many vmas get walked.
fn expected(b: &Built, decisions: Option<&BTreeMap<u64, i32>>, continued: &BTreeSet<u64>) -> (Vec<Option<Class>>, i32, usize) {
    let used = |shift: u32, only_4k: bool| -> BTreeSet<u64> {
        b.maps.iter().filter(|(_, s)| !only_4k || **s == PageSize::Size4K).map(|(va, _)| va >> shift).collect()
    };
    let (pgds, puds, pte_tables) = (used(39, false), used(30, false), used(21, true));
    let mut out = Vec::new();
    let mut ret = 0;
    let mut walked = BTreeSet::new();
    let mut va = b.start;
    while va < b.end {
        let class = if ret != 0 {
            None
        } else {
            match b.vmas.iter().find(|v| v.contains(va)) {
                None => Some(Class::Hole(-1)),
                Some(v) => {
                    let decision = match decisions {
                        Some(d) => d[&v.start],
                        None if v.flags.contains(VmFlags::PFNMAP) => 2, // reported as a hole, skipped
                        None => 0,
                    };
                    if decision < 0 {
                        ret = decision;
                        None
                    } else if decision == 1 {
                        None
                    } else if decision == 2 {
                        Some(Class::Hole(-1))
                    } else {
                        walked.insert(v.start);
                        let skipped_ptes = continued.contains(&(va >> 21));
                        if b.maps.get(&(va & !(M2 - 1))) == Some(&PageSize::Size2M) {
                            Some(Class::Huge)
                        } else if b.maps.contains_key(&va) {
                            (!skipped_ptes).then_some(Class::Pte)
                        } else if !pgds.contains(&(va >> 39)) {
                            Some(Class::Hole(0))
                        } else if !puds.contains(&(va >> 30)) {
                            Some(Class::Hole(2))
                        } else if !pte_tables.contains(&(va >> 21)) {
                            Some(Class::Hole(3))
                        } else {
                            (!skipped_ptes).then_some(Class::Hole(4))
                        }
                    }
                }
            }
        };
        out.push(class);
        va += K;
    }
    (out, ret, walked.len())
}

/// Classes of the pages of `[start, end)` from the events; checks order,
/// bounds and that no page is reported twice.
fn classes_from(b: &Built, ev: &[Ev]) -> Result<Vec<Option<Class>>, TestCaseError> {
    let mut out = vec![None; ((b.end - b.start) / K) as usize];
    let mut last_end = b.start;
    for e in ev {
        let (addr, next, class) = match *e {
            Ev::Pte(a) => (a, a + K, Class::Pte),
            Ev::Pmd { addr, next, leaf: true } => (addr, next, Class::Huge),
            Ev::Pmd { addr, next, leaf: false } => {
                prop_assert!(addr >= last_end && next <= b.end, "pmd event out of order: {:?}", e);
                continue;
            }
            Ev::Hole { addr, next, depth } => (addr, next, Class::Hole(depth)),
        };
        prop_assert!(addr >= last_end, "event out of order or overlapping: {:?} after {:#x}", e, last_end);
        prop_assert!(addr < next && next <= b.end, "event outside the range: {:?}", e);
        prop_assert!(addr % K == 0 && next % K == 0, "unaligned event {:?}", e);
        for va in (addr..next).step_by(K as usize) {
            let slot = &mut out[((va - b.start) / K) as usize];
            prop_assert!(slot.is_none(), "page {:#x} reported twice", va);
            *slot = Some(class);
        }
        last_end = next;
    }
    Ok(out)
}

fn check_pages(b: &Built, got: &[Option<Class>], want: &[Option<Class>]) -> Result<(), TestCaseError> {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        prop_assert_eq!(g, w, "page {:#x}", b.start + i as u64 * K);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    /// Holes and visited pages partition the range as the model says;
    /// ACTION_CONTINUE drops exactly the pte-level events of its pmds.
    #[test]
    fn walk_partitions_the_range(w in world(), continued in proptest::collection::btree_set(0..SLOTS, 0..3)) {
        let arena = ArenaPhysMem::new();
        let mut b = build(&w, &arena);
        let continued: BTreeSet<u64> = continued.iter().map(|s| (w.base + s * M2) >> 21).collect();
        let mut ops = Plain(Recorder { continued: continued.clone(), ..Recorder::default() });
        let ret = walk_page_range(&mut b.pt, &b.vmas, b.start, b.end, &mut ops);
        let (want, want_ret, walked) = expected(&b, None, &continued);
        prop_assert_eq!(ret, want_ret);
        let got = classes_from(&b, &ops.0.ev)?;
        check_pages(&b, &got, &want)?;
        prop_assert_eq!((ops.0.pre, ops.0.post), (walked, walked));
        if continued.is_empty() {
            prop_assert!(got.iter().all(Option::is_some), "holes and visited pages cover the range");
        }
        b.pt.free_all_tables();
        prop_assert_eq!(arena.in_use(), 0);
    }

    /// test_walk: 0 walks (PFNMAP too), 1 skips silently, <0 aborts with it.
    #[test]
    fn test_walk_skips_and_aborts(w in world(), picks in proptest::collection::vec(prop_oneof![4 => Just(0), 2 => Just(1), 1 => Just(-1)], 8)) {
        let arena = ArenaPhysMem::new();
        let mut b = build(&w, &arena);
        let decisions: BTreeMap<u64, i32> = b.vmas.iter().zip(&picks).enumerate()
            .map(|(i, (v, &p))| (v.start, if p < 0 { -100 - i as i32 } else { p }))
            .collect();
        let mut ops = Tested { rec: Recorder::default(), decisions: decisions.clone() };
        let ret = walk_page_range(&mut b.pt, &b.vmas, b.start, b.end, &mut ops);
        let (want, want_ret, walked) = expected(&b, Some(&decisions), &BTreeSet::new());
        prop_assert_eq!(ret, want_ret);
        check_pages(&b, &classes_from(&b, &ops.rec.ev)?, &want)?;
        prop_assert_eq!((ops.rec.pre, ops.rec.post), (walked, walked));
    }

    /// The n-th callback returning non-zero stops the walk there and the
    /// value is returned: the events are a prefix of the full walk's.
    #[test]
    fn nonzero_return_stops_the_walk(w in world(), pick in any::<prop::sample::Index>(), positive in any::<bool>()) {
        let arena = ArenaPhysMem::new();
        let mut b = build(&w, &arena);
        let mut full = Plain::default();
        prop_assert_eq!(walk_page_range(&mut b.pt, &b.vmas, b.start, b.end, &mut full), 0);
        let all = full.0.ev;
        prop_assume!(!all.is_empty());
        let n = pick.index(all.len());
        // A positive pte_hole result for a PFNMAP vma only skips it (Linux).
        let in_pfnmap = |a: u64| b.vmas.iter().any(|v| v.contains(a) && v.flags.contains(VmFlags::PFNMAP));
        let val = match all[n] {
            Ev::Hole { addr, depth: -1, .. } if in_pfnmap(addr) => -7,
            _ if positive => 7,
            _ => -7,
        };
        let mut ops = Plain(Recorder { stop: Some((n + 1, val)), ..Recorder::default() });
        prop_assert_eq!(walk_page_range(&mut b.pt, &b.vmas, b.start, b.end, &mut ops), val);
        prop_assert_eq!(&ops.0.ev[..], &all[..=n]);
        prop_assert_eq!(ops.0.pre, ops.0.post, "post_vma runs for every pre_vma");
    }
}
