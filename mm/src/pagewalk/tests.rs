//! Unit tests of the walker: Linux's rules one by one, and an
//! `mlock_pte_range`-shaped callback.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::pgtable::{ArenaPhysMem, PageSize};
use crate::vma::VmaKind;

const K: u64 = 4096;
const M2: u64 = 2 << 20;
const G1: u64 = 1 << 30;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ev {
    Pud(u64, u64),
    Pmd(u64, u64, bool),
    Pte(u64),
    Hole(u64, u64, i32),
    Test(u64, u64),
    Pre(u64, u64),
    Post,
}

/// Records every callback; which of pud/pmd/pte it "implements" is a const
/// parameter. `stop_at` makes the n-th event return `stop_val`.
#[derive(Default)]
struct Rec<const PUD: bool, const PMD: bool, const PTE: bool> {
    ev: Vec<Ev>,
    stop_at: Option<usize>,
    stop_val: i32,
    pmd_action: Option<WalkAction>,
    again_budget: u32,
}

impl<const PUD: bool, const PMD: bool, const PTE: bool> Rec<PUD, PMD, PTE> {
    fn push(&mut self, e: Ev) -> WalkControl {
        self.ev.push(e);
        if self.stop_at == Some(self.ev.len()) {
            WalkControl::Stop(NonZeroI32::new(self.stop_val).unwrap())
        } else {
            WalkControl::Continue
        }
    }
}

impl<const PUD: bool, const PMD: bool, const PTE: bool> MmWalkOps for Rec<PUD, PMD, PTE> {
    const HAS_PUD_ENTRY: bool = PUD;
    const HAS_PMD_ENTRY: bool = PMD;
    const HAS_PTE_ENTRY: bool = PTE;

    fn pud_entry<P: PhysMem>(&mut self, _pud: PtSlot, addr: u64, next: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.push(Ev::Pud(addr, next))
    }
    fn pmd_entry<P: PhysMem>(&mut self, pmd: PtSlot, addr: u64, next: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
        let leaf = walk.get(pmd).is_leaf(Level::Pmd);
        if let Some(a) = self.pmd_action {
            if a == WalkAction::Again && self.again_budget == 0 {
                walk.action = WalkAction::Subtree;
            } else {
                self.again_budget = self.again_budget.saturating_sub(1);
                walk.action = a;
            }
        }
        self.push(Ev::Pmd(addr, next, leaf))
    }
    fn pte_entry<P: PhysMem>(&mut self, pte: PtSlot, addr: u64, next: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
        assert_eq!(next, addr + K);
        assert!(walk.get(pte).is_present());
        self.push(Ev::Pte(addr))
    }
    fn pte_hole<P: PhysMem>(&mut self, addr: u64, next: u64, depth: i32, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.push(Ev::Hole(addr, next, depth))
    }
    fn pre_vma<P: PhysMem>(&mut self, start: u64, end: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.push(Ev::Pre(start, end))
    }
    fn post_vma<P: PhysMem>(&mut self, _walk: &mut MmWalk<'_, P>) {
        self.ev.push(Ev::Post);
    }
}

fn vma(start: u64, end: u64) -> Vma {
    Vma { start, end, flags: VmFlags::READ | VmFlags::WRITE, kind: VmaKind::Anonymous, anon_pgoff: 0 }
}

/// 4K pages at 1G + {0, 1, 3} pages, a 2M page at 1G + 2M.
fn populated(arena: &ArenaPhysMem) -> PageTable<&ArenaPhysMem> {
    let mut pt = PageTable::new(arena).unwrap();
    for i in [0, 1, 3] {
        pt.map(G1 + i * K, 0x100_0000 + i * K, PageSize::Size4K, PteFlags::WRITABLE).unwrap();
    }
    pt.map(G1 + M2, 0x20_0000, PageSize::Size2M, PteFlags::WRITABLE).unwrap();
    pt
}

#[test]
fn full_walk_reports_entries_and_holes_with_depths() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let v = [vma(0, 4 * G1)];
    let mut ops = Rec::<true, true, true>::default();
    let r = walk_page_range(&mut pt, &v, G1 - K, G1 + 3 * M2, &mut ops);
    assert_eq!(r, 0);
    assert_eq!(
        ops.ev,
        vec![
            Ev::Pre(G1 - K, G1 + 3 * M2),
            // pud entry 0 (the first GiB) is empty
            Ev::Hole(G1 - K, G1, 2),
            Ev::Pud(G1, G1 + 3 * M2),
            Ev::Pmd(G1, G1 + M2, false),
            Ev::Pte(G1),
            Ev::Pte(G1 + K),
            Ev::Hole(G1 + 2 * K, G1 + 3 * K, 4),
            Ev::Pte(G1 + 3 * K),
            Ev::Hole(G1 + 4 * K, G1 + M2, 4),
            Ev::Pmd(G1 + M2, G1 + 2 * M2, true),
            Ev::Hole(G1 + 2 * M2, G1 + 3 * M2, 3),
            Ev::Post,
        ]
    );
}

#[test]
fn empty_pgd_is_a_depth_0_hole_and_gaps_are_depth_minus_1() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let t = 1u64 << 39; // second PML4 entry: empty
    let v = [vma(t, t + 2 * K), vma(t + 4 * K, t + 5 * K)];
    let mut ops = Rec::<false, false, true>::default();
    assert_eq!(walk_page_range(&mut pt, &v, t - K, t + 6 * K, &mut ops), 0);
    assert_eq!(
        ops.ev,
        vec![
            Ev::Hole(t - K, t, -1),
            Ev::Pre(t, t + 2 * K),
            Ev::Hole(t, t + 2 * K, 0),
            Ev::Post,
            Ev::Hole(t + 2 * K, t + 4 * K, -1),
            Ev::Pre(t + 4 * K, t + 5 * K),
            Ev::Hole(t + 4 * K, t + 5 * K, 0),
            Ev::Post,
            Ev::Hole(t + 5 * K, t + 6 * K, -1),
        ]
    );
}

#[test]
fn descends_only_as_far_as_callbacks_exist() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let v = [vma(G1, G1 + 4 * M2)];
    // Only pmd_entry (mlock's shape): no pte-level events.
    let mut ops = Rec::<false, true, false>::default();
    assert_eq!(walk_page_range(&mut pt, &v, G1, G1 + 4 * M2, &mut ops), 0);
    assert_eq!(
        ops.ev,
        vec![
            Ev::Pre(G1, G1 + 4 * M2),
            Ev::Pmd(G1, G1 + M2, false),
            Ev::Pmd(G1 + M2, G1 + 2 * M2, true),
            Ev::Hole(G1 + 2 * M2, G1 + 3 * M2, 3),
            Ev::Hole(G1 + 3 * M2, G1 + 4 * M2, 3),
            Ev::Post,
        ]
    );
    // Only pud_entry: no pmd-level events at all.
    let mut ops = Rec::<true, false, false>::default();
    assert_eq!(walk_page_range(&mut pt, &v, G1, G1 + 4 * M2, &mut ops), 0);
    assert_eq!(ops.ev, vec![Ev::Pre(G1, G1 + 4 * M2), Ev::Pud(G1, G1 + 4 * M2), Ev::Post]);
    // No entry callbacks: only holes at the pgd level (none here) and pre/post.
    let mut ops = Rec::<false, false, false>::default();
    assert_eq!(walk_page_range(&mut pt, &v, G1, G1 + 4 * M2, &mut ops), 0);
    assert_eq!(ops.ev, vec![Ev::Pre(G1, G1 + 4 * M2), Ev::Post]);
}

#[test]
fn huge_pmd_is_not_seen_by_pte_entry() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let v = [vma(G1 + M2, G1 + 2 * M2)];
    let mut ops = Rec::<false, false, true>::default();
    assert_eq!(walk_page_range(&mut pt, &v, G1 + M2, G1 + 2 * M2, &mut ops), 0);
    assert_eq!(ops.ev, vec![Ev::Pre(G1 + M2, G1 + 2 * M2), Ev::Post]);
}

#[test]
fn action_continue_skips_and_again_repeats() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let v = [vma(G1, G1 + M2)];
    let mut ops = Rec::<false, true, true> { pmd_action: Some(WalkAction::Continue), ..Default::default() };
    assert_eq!(walk_page_range(&mut pt, &v, G1, G1 + M2, &mut ops), 0);
    assert_eq!(ops.ev, vec![Ev::Pre(G1, G1 + M2), Ev::Pmd(G1, G1 + M2, false), Ev::Post]);

    let mut ops = Rec::<false, true, true> { pmd_action: Some(WalkAction::Again), again_budget: 2, ..Default::default() };
    assert_eq!(walk_page_range(&mut pt, &v, G1, G1 + 2 * K, &mut ops), 0);
    assert_eq!(
        ops.ev,
        vec![
            Ev::Pre(G1, G1 + 2 * K),
            Ev::Pmd(G1, G1 + 2 * K, false),
            Ev::Pmd(G1, G1 + 2 * K, false),
            Ev::Pmd(G1, G1 + 2 * K, false),
            Ev::Pte(G1),
            Ev::Pte(G1 + K),
            Ev::Post,
        ]
    );
}

#[test]
fn nonzero_return_stops_the_walk_and_is_returned() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let v = [vma(G1, G1 + 4 * M2)];
    for (stop_at, val) in [(3, 7), (5, -5), (1, 9)] {
        let mut ops = Rec::<false, true, true> { stop_at: Some(stop_at), stop_val: val, ..Default::default() };
        assert_eq!(walk_page_range(&mut pt, &v, G1, G1 + 4 * M2, &mut ops), val);
        if stop_at == 1 {
            // pre_vma failing: no post_vma
            assert_eq!(ops.ev.len(), 1);
        } else {
            assert_eq!(ops.ev.len(), stop_at + 1, "post_vma still runs");
            assert_eq!(ops.ev.last(), Some(&Ev::Post));
        }
    }
}

#[test]
fn pfnmap_vma_is_a_hole_by_default() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let mut pfn = vma(G1, G1 + M2);
    pfn.flags |= VmFlags::PFNMAP;
    let v = [pfn, vma(G1 + M2, G1 + 2 * M2)];
    let mut ops = Rec::<false, true, true>::default();
    assert_eq!(walk_page_range(&mut pt, &v, G1, G1 + 2 * M2, &mut ops), 0);
    assert_eq!(
        ops.ev,
        vec![Ev::Hole(G1, G1 + M2, -1), Ev::Pre(G1 + M2, G1 + 2 * M2), Ev::Pmd(G1 + M2, G1 + 2 * M2, true), Ev::Post]
    );
    // A negative pte_hole result for the PFNMAP vma aborts the walk.
    let mut ops = Rec::<false, true, true> { stop_at: Some(1), stop_val: -3, ..Default::default() };
    assert_eq!(walk_page_range(&mut pt, &v, G1, G1 + 2 * M2, &mut ops), -3);
    assert_eq!(ops.ev.len(), 1);
}

/// test_walk: skip the vma containing `skip`, abort at the one containing `abort`.
struct Picky {
    skip: u64,
    abort: u64,
    ev: Vec<Ev>,
}

impl MmWalkOps for Picky {
    const HAS_PTE_ENTRY: bool = true;
    fn test_walk<P: PhysMem>(&mut self, start: u64, end: u64, walk: &mut MmWalk<'_, P>) -> TestWalk {
        self.ev.push(Ev::Test(start, end));
        let vma = walk.vma.expect("test_walk runs for vmas");
        if vma.contains(self.skip) {
            TestWalk::Skip
        } else if vma.contains(self.abort) {
            TestWalk::Stop(NonZeroI32::new(-4).unwrap())
        } else {
            TestWalk::Walk
        }
    }
    fn pte_entry<P: PhysMem>(&mut self, _pte: PtSlot, addr: u64, _next: u64, _walk: &mut MmWalk<'_, P>) -> WalkControl {
        self.ev.push(Ev::Pte(addr));
        WalkControl::Continue
    }
}

#[test]
fn test_walk_skips_and_aborts() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    // A PFNMAP vma is walked when test_walk says so.
    let mut a = vma(G1, G1 + K);
    a.flags |= VmFlags::PFNMAP;
    let v = [a, vma(G1 + K, G1 + 2 * K), vma(G1 + 3 * K, G1 + 4 * K), vma(G1 + 4 * K, G1 + 5 * K)];
    let mut ops = Picky { skip: G1 + K, abort: G1 + 4 * K, ev: Vec::new() };
    assert_eq!(walk_page_range(&mut pt, &v, G1, G1 + 5 * K, &mut ops), -4);
    assert_eq!(
        ops.ev,
        vec![
            Ev::Test(G1, G1 + K),
            Ev::Pte(G1),
            Ev::Test(G1 + K, G1 + 2 * K),
            Ev::Test(G1 + 3 * K, G1 + 4 * K),
            Ev::Pte(G1 + 3 * K),
            Ev::Test(G1 + 4 * K, G1 + 5 * K),
        ]
    );
}

#[test]
fn bad_ranges_are_einval() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let v = [vma(G1, 2 * G1)];
    let mut ops = Rec::<true, true, true>::default();
    let einval = -(Errno::EINVAL as i32);
    assert_eq!(walk_page_range(&mut pt, &v, G1, G1, &mut ops), einval);
    assert_eq!(walk_page_range(&mut pt, &v, G1 + K, G1, &mut ops), einval);
    assert_eq!(walk_page_range(&mut pt, &v, G1 + 1, G1 + K, &mut ops), einval);
    assert_eq!(walk_page_range(&mut pt, &v, (1 << 47) - K, 1 << 48, &mut ops), einval);
    assert_eq!(walk_page_range_novma(&mut pt, 0, UPPER_HALF_START + K, &mut ops), einval);
    assert_eq!(walk_page_range_vma(&mut pt, &v[0], G1 - K, G1 + K, &mut ops), einval);
    assert_eq!(walk_page_range_vma(&mut pt, &v[0], G1, 2 * G1 + K, &mut ops), einval);
    assert!(ops.ev.is_empty());
}

#[test]
fn walk_page_range_vma_skips_test_walk() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let mut a = vma(G1, G1 + M2);
    a.flags |= VmFlags::PFNMAP;
    let mut ops = Rec::<false, false, true>::default();
    assert_eq!(walk_page_range_vma(&mut pt, &a, G1, G1 + 2 * K, &mut ops), 0);
    assert_eq!(ops.ev, vec![Ev::Pre(G1, G1 + 2 * K), Ev::Pte(G1), Ev::Pte(G1 + K), Ev::Post]);
}

#[test]
fn novma_walks_the_kernel_half() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let kva = 0xFFFF_FFFF_8000_0000;
    pt.map(kva + K, 0x30_0000, PageSize::Size4K, PteFlags::GLOBAL).unwrap();
    let mut ops = Rec::<false, false, true>::default();
    assert_eq!(walk_page_range_novma(&mut pt, kva, kva + 3 * K, &mut ops), 0);
    assert_eq!(ops.ev, vec![Ev::Hole(kva, kva + K, 4), Ev::Pte(kva + K), Ev::Hole(kva + 2 * K, kva + 3 * K, 4)]);
    // The very top of the address space: the range ends at the last page.
    let mut ops = Rec::<false, false, true>::default();
    assert_eq!(walk_page_range_novma(&mut pt, u64::MAX - 2 * K + 1, u64::MAX - K + 1, &mut ops), 0);
    // kva is in pud entry 510; entry 511 (the last GiB) is empty.
    assert_eq!(ops.ev, vec![Ev::Hole(u64::MAX - 2 * K + 1, u64::MAX - K + 1, 2)]);
}

/// `mlock_pte_range` in Holdfast's terms: a pmd_entry that handles a huge
/// pmd itself, or iterates the ptes of the pmd and marks them (here with
/// SOFTW1, where Holdfast will bump the page's mlock_count), then
/// sets `Continue`.
#[derive(Default)]
struct MlockLike {
    locked: Vec<u64>,
    huge: Vec<u64>,
}

impl MmWalkOps for MlockLike {
    const HAS_PMD_ENTRY: bool = true;

    fn pmd_entry<P: PhysMem>(&mut self, pmd: PtSlot, addr: u64, end: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
        let locked = walk.vma.is_some_and(|v| v.flags.contains(VmFlags::LOCKED));
        if walk.get(pmd).is_leaf(Level::Pmd) {
            self.huge.push(addr);
            walk.action = WalkAction::Continue;
            return WalkControl::Continue;
        }
        let Some(ptes) = walk.pte_range(pmd, addr, end) else {
            walk.action = WalkAction::Again;
            return WalkControl::Continue;
        };
        for (pte_addr, pte) in ptes {
            let e = walk.get(pte);
            if !e.is_present() {
                continue;
            }
            let flags = if locked { e.leaf_flags() | PteFlags::SOFTW1 } else { e.leaf_flags() - PteFlags::SOFTW1 };
            walk.set_leaf_flags(pte, flags).expect("present leaf");
            self.locked.push(pte_addr);
        }
        walk.action = WalkAction::Continue;
        WalkControl::Continue
    }
}

#[test]
fn mlock_pte_range_shaped_callback_marks_ptes() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let mut v = vma(G1, G1 + 4 * M2);
    v.flags |= VmFlags::LOCKED;
    let mut ops = MlockLike::default();
    assert_eq!(walk_page_range(&mut pt, [&v], G1 + K, G1 + 4 * M2, &mut ops), 0);
    assert_eq!(ops.locked, vec![G1 + K, G1 + 3 * K], "G1 itself is outside the range");
    assert_eq!(ops.huge, vec![G1 + M2]);
    assert!(!pt.translate(G1).unwrap().flags.contains(PteFlags::SOFTW1));
    assert!(pt.translate(G1 + K).unwrap().flags.contains(PteFlags::SOFTW1));
    assert!(pt.translate(G1 + 3 * K).unwrap().flags.contains(PteFlags::SOFTW1));
    assert_eq!(pt.translate(G1 + 3 * K).unwrap().pa, 0x100_0000 + 3 * K, "frame kept");

    // munlock: the same walk over a vma without VM_LOCKED clears the mark.
    v.flags -= VmFlags::LOCKED;
    let mut ops = MlockLike::default();
    assert_eq!(walk_page_range_vma(&mut pt, &v, G1, G1 + M2, &mut ops), 0);
    assert!(!pt.translate(G1 + K).unwrap().flags.contains(PteFlags::SOFTW1));
}

#[test]
fn pte_range_refuses_what_is_not_a_page_table() {
    struct Probe(Vec<bool>);
    impl MmWalkOps for Probe {
        const HAS_PMD_ENTRY: bool = true;
        fn pmd_entry<P: PhysMem>(&mut self, pmd: PtSlot, addr: u64, end: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
            self.0.push(walk.pte_range(pmd, addr, end).is_some());
            // Ranges outside this pmd are refused.
            assert!(walk.pte_range(pmd, addr, addr + M2 + K).is_none());
            assert!(walk.pte_range(pmd, addr + M2, addr + M2 + K).is_none());
            assert!(walk.pte_range(pmd, addr, addr).is_none());
            WalkControl::Continue
        }
    }
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let mut ops = Probe(Vec::new());
    assert_eq!(walk_page_range_novma(&mut pt, G1, G1 + 2 * M2, &mut ops), 0);
    assert_eq!(ops.0, vec![true, false], "page table yes, huge leaf no");
}

#[test]
fn unsorted_and_overlapping_vmas_never_walk_twice() {
    let arena = ArenaPhysMem::new();
    let mut pt = populated(&arena);
    let v = [vma(G1, G1 + 2 * K), vma(G1 + K, G1 + 4 * K), vma(G1 - M2, G1), vma(G1 + 3 * K, G1 + 3 * K)];
    let mut ops = Rec::<false, false, true>::default();
    assert_eq!(walk_page_range(&mut pt, &v, G1, G1 + 5 * K, &mut ops), 0);
    let ptes: Vec<_> = ops.ev.iter().filter(|e| matches!(e, Ev::Pte(_))).collect();
    assert_eq!(ptes, [&Ev::Pte(G1), &Ev::Pte(G1 + K), &Ev::Pte(G1 + 3 * K)]);
    assert_eq!(ops.ev.last(), Some(&Ev::Hole(G1 + 4 * K, G1 + 5 * K, -1)));
}

#[test]
fn callbacks_cannot_change_a_shared_kernel_half() {
    struct Mark(Vec<(u64, Option<PteFlags>)>);
    impl MmWalkOps for Mark {
        const HAS_PTE_ENTRY: bool = true;
        fn pte_entry<P: PhysMem>(&mut self, pte: PtSlot, addr: u64, _next: u64, walk: &mut MmWalk<'_, P>) -> WalkControl {
            assert_eq!(pte.va(), addr);
            let r = walk.set_leaf_flags(pte, PteFlags::SOFTW1);
            self.0.push((addr, r));
            WalkControl::Continue
        }
    }
    let arena = ArenaPhysMem::new();
    let mut kernel = PageTable::new(&arena).unwrap();
    let kva = 0xFFFF_FFFF_8000_0000;
    kernel.map(kva, 0x30_0000, PageSize::Size4K, PteFlags::GLOBAL).unwrap();
    let mut user = PageTable::new_with_kernel_half(&arena, kernel.root_pa()).unwrap();
    user.map(K, 0x40_0000, PageSize::Size4K, PteFlags::USER).unwrap();

    let mut ops = Mark(Vec::new());
    assert_eq!(walk_page_range_novma(&mut user, kva, kva + K, &mut ops), 0);
    assert_eq!(walk_page_range_novma(&mut user, K, 2 * K, &mut ops), 0);
    assert_eq!(ops.0, vec![(kva, None), (K, Some(PteFlags::PRESENT | PteFlags::USER))]);
    assert_eq!(kernel.translate(kva).unwrap().flags, PteFlags::PRESENT | PteFlags::GLOBAL);
    assert_eq!(user.translate(K).unwrap().flags, PteFlags::PRESENT | PteFlags::SOFTW1);

    // The kernel's own table may change its half.
    let mut ops = Mark(Vec::new());
    assert_eq!(walk_page_range_novma(&mut kernel, kva, kva + K, &mut ops), 0);
    assert_eq!(ops.0, vec![(kva, Some(PteFlags::PRESENT | PteFlags::GLOBAL))]);
    user.free_all_tables();
    kernel.free_all_tables();
    assert_eq!(arena.in_use(), 0);
}
