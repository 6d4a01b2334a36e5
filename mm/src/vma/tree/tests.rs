//! Unit tests of [`VmaTree`]: each operation, its edge cases and errors.
//! The randomized comparison against a model is `mm/tests/vma_tree_prop.rs`.

use super::*;
use crate::vma::VmaKind;
use alloc::vec;

const P: u64 = PAGE_SIZE;
const RW: VmFlags = VmFlags::READ.union(VmFlags::WRITE);
const RWL: VmFlags = RW.union(VmFlags::LOCKED);

fn vma(start_page: u64, end_page: u64, flags: VmFlags) -> Vma {
    Vma::new_anonymous(start_page * P, end_page * P, flags)
}

/// A tree from `(start_page, end_page, flags)` triples.
fn tree(spec: &[(u64, u64, VmFlags)]) -> VmaTree {
    let mut t = VmaTree::new();
    for &(s, e, f) in spec {
        t.insert(vma(s, e, f)).unwrap();
    }
    t.check_invariants().unwrap();
    t
}

/// The tree as `(start_page, end_page, flags)` triples.
fn pages(t: &VmaTree) -> Vec<(u64, u64, VmFlags)> {
    t.iter().map(|v| (v.start / P, v.end / P, v.flags)).collect()
}

#[test]
fn empty_tree() {
    let t = VmaTree::new();
    assert!(t.is_empty());
    assert_eq!(t.len(), 0);
    assert_eq!(t.find_vma(0), None);
    assert_eq!(t.find_vma_prev(5 * P), (None, None));
    assert_eq!(t.iter().count(), 0);
    assert_eq!(t.first(), None);
    assert_eq!(t.last(), None);
    t.check_invariants().unwrap();
}

#[test]
fn insert_keeps_order_and_balance() {
    let mut t = VmaTree::new();
    // Ascending, descending and interleaved inserts all stay balanced.
    for i in 0..200 {
        t.insert(vma(1000 + 2 * i, 1001 + 2 * i, RW)).unwrap();
        t.insert(vma(999 - 2 * i, 1000 - 2 * i, RW)).unwrap();
        t.check_invariants().unwrap();
    }
    assert_eq!(t.len(), 400);
    let starts: Vec<u64> = t.iter().map(|v| v.start / P).collect();
    let mut sorted = starts.clone();
    sorted.sort();
    assert_eq!(starts, sorted);
    // AVL height bound: 1.44 log2(n + 2).
    assert!(t.height(t.root) <= 13, "height {}", t.height(t.root));
    assert_eq!(t.first().unwrap().start, 601 * P);
    assert_eq!(t.last().unwrap().end, 1399 * P);
}

#[test]
fn insert_rejects_overlap_and_malformed() {
    let mut t = tree(&[(10, 20, RW)]);
    assert_eq!(t.insert(vma(15, 25, RW)), Err(Errno::EEXIST));
    assert_eq!(t.insert(vma(5, 11, RW)), Err(Errno::EEXIST));
    assert_eq!(t.insert(vma(10, 20, RW)), Err(Errno::EEXIST));
    assert_eq!(t.insert(vma(12, 13, RW)), Err(Errno::EEXIST));
    assert_eq!(t.insert(vma(0, 30, RW)), Err(Errno::EEXIST));
    let bad = Vma { start: 3 * P, end: 3 * P, flags: RW, kind: VmaKind::Anonymous, anon_pgoff: 0 };
    assert_eq!(t.insert(bad), Err(Errno::EINVAL));
    let bad = Vma { start: 3 * P + 1, end: 4 * P, flags: RW, kind: VmaKind::Anonymous, anon_pgoff: 0 };
    assert_eq!(t.insert(bad), Err(Errno::EINVAL));
    let bad = Vma { start: 5 * P, end: 4 * P, flags: RW, kind: VmaKind::Anonymous, anon_pgoff: 0 };
    assert_eq!(t.insert(bad), Err(Errno::EINVAL));
    // Touching neighbours are fine and are not merged.
    t.insert(vma(20, 30, RW)).unwrap();
    t.insert(vma(0, 10, RW)).unwrap();
    assert_eq!(pages(&t), vec![(0, 10, RW), (10, 20, RW), (20, 30, RW)]);
    t.check_invariants().unwrap();
}

#[test]
fn find_vma_linux_semantics() {
    let t = tree(&[(10, 20, RW), (30, 40, RWL)]);
    assert_eq!(t.find_vma(0).unwrap().start, 10 * P);
    assert_eq!(t.find_vma(10 * P).unwrap().start, 10 * P);
    assert_eq!(t.find_vma(20 * P - 1).unwrap().start, 10 * P);
    // At `end` the vma no longer matches: the next one does.
    assert_eq!(t.find_vma(20 * P).unwrap().start, 30 * P);
    assert_eq!(t.find_vma(25 * P).unwrap().start, 30 * P);
    assert_eq!(t.find_vma(40 * P), None);
    assert_eq!(t.vma_lookup(25 * P), None);
    assert_eq!(t.vma_lookup(35 * P).unwrap().flags, RWL);

    let (v, prev) = t.find_vma_prev(25 * P);
    assert_eq!((v.unwrap().start, prev.unwrap().start), (30 * P, 10 * P));
    let (v, prev) = t.find_vma_prev(15 * P);
    assert_eq!((v.unwrap().start, prev), (10 * P, None));
    let (v, prev) = t.find_vma_prev(20 * P);
    assert_eq!((v.unwrap().start, prev.unwrap().start), (30 * P, 10 * P));
    let (v, prev) = t.find_vma_prev(u64::MAX);
    assert_eq!((v, prev.unwrap().start), (None, 30 * P));
}

#[test]
fn find_vma_intersection_and_range() {
    let t = tree(&[(10, 20, RW), (30, 40, RW), (40, 50, RW), (60, 70, RW)]);
    assert_eq!(t.find_vma_intersection(0, 10 * P), None);
    assert_eq!(t.find_vma_intersection(0, 10 * P + 1).unwrap().start, 10 * P);
    assert_eq!(t.find_vma_intersection(20 * P, 30 * P), None);
    assert_eq!(t.find_vma_intersection(25 * P, 45 * P).unwrap().start, 30 * P);
    assert_eq!(t.find_vma_intersection(15 * P, 15 * P), None);
    assert_eq!(t.find_vma_intersection(16 * P, 15 * P), None);

    let r: Vec<u64> = t.range(15 * P, 60 * P).map(|v| v.start / P).collect();
    assert_eq!(r, vec![10, 30, 40]);
    let r: Vec<u64> = t.range(20 * P, 61 * P).map(|v| v.start / P).collect();
    assert_eq!(r, vec![30, 40, 60]);
    assert_eq!(t.range(50 * P, 60 * P).count(), 0);
    assert_eq!(t.range(30 * P, 30 * P).count(), 0);
    assert_eq!(t.range(0, u64::MAX).count(), 4);
    assert_eq!((&t).into_iter().count(), 4);
}

#[test]
fn remove_by_start() {
    let mut t = tree(&[(10, 20, RW), (30, 40, RW), (50, 60, RW)]);
    assert_eq!(t.remove(15 * P), None, "only exact starts are removed");
    assert_eq!(t.remove(30 * P), Some(vma(30, 40, RW)));
    assert_eq!(t.remove(30 * P), None);
    t.check_invariants().unwrap();
    assert_eq!(pages(&t), vec![(10, 20, RW), (50, 60, RW)]);
    // Freed slots are reused.
    t.insert(vma(30, 35, RW)).unwrap();
    assert_eq!(t.nodes.len(), 3);
    t.check_invariants().unwrap();
    for s in [10, 30, 50] {
        assert!(t.remove(s * P).is_some());
        t.check_invariants().unwrap();
    }
    assert!(t.is_empty());
}

#[test]
fn remove_many_stays_balanced() {
    let mut t = VmaTree::new();
    for i in 0..300 {
        t.insert(vma(2 * i, 2 * i + 1, RW)).unwrap();
    }
    for i in (0..300).step_by(3).chain((1..300).step_by(3)) {
        assert!(t.remove(2 * i * P).is_some());
        t.check_invariants().unwrap();
    }
    assert_eq!(t.len(), 100);
}

#[test]
fn get_mut_flags_changes_only_flags() {
    let mut t = tree(&[(10, 20, RW)]);
    assert!(t.get_mut_flags(11 * P).is_none());
    *t.get_mut_flags(10 * P).unwrap() |= VmFlags::LOCKED;
    assert_eq!(t.get(10 * P).unwrap().flags, RWL);
    t.check_invariants().unwrap();
}

#[test]
fn split_inside_and_at_boundaries() {
    let mut t = tree(&[(10, 20, RWL)]);
    assert_eq!(t.split(10 * P), Err(Errno::EINVAL), "split at start");
    assert_eq!(t.split(20 * P), Err(Errno::EINVAL), "split at end");
    assert_eq!(t.split(5 * P), Err(Errno::EINVAL), "outside");
    assert_eq!(t.split(15 * P + 1), Err(Errno::EINVAL), "unaligned");
    assert_eq!(pages(&t), vec![(10, 20, RWL)]);
    t.split(15 * P).unwrap();
    t.split(11 * P).unwrap();
    assert_eq!(pages(&t), vec![(10, 11, RWL), (11, 15, RWL), (15, 20, RWL)]);
    t.check_invariants().unwrap();
}

#[test]
fn merge_at_boundaries() {
    let io = RW | VmFlags::IO;
    let mut t = tree(&[(10, 20, RW), (20, 30, RW), (30, 40, RWL), (50, 60, RWL), (60, 70, io), (70, 80, io)]);
    assert!(!t.merge_at(15 * P), "not a boundary");
    assert!(!t.merge_at(30 * P), "flags differ");
    assert!(!t.merge_at(40 * P), "hole after");
    assert!(!t.merge_at(50 * P), "hole before");
    assert!(!t.merge_at(70 * P), "VM_SPECIAL never merges");
    assert!(!t.merge_at(0));
    assert!(!t.merge_at(u64::MAX));
    assert!(t.merge_at(20 * P));
    assert_eq!(pages(&t)[0], (10, 30, RW));
    assert_eq!(t.len(), 5);
    t.check_invariants().unwrap();
}

#[test]
fn modify_flags_splits_and_merges() {
    let mut t = tree(&[(10, 20, RW)]);
    // mlock the middle: three vmas.
    let ch = t.vma_modify_flags(12 * P, 15 * P, |f| f | VmFlags::LOCKED).unwrap();
    assert_eq!(ch, vec![FlagChange { start: 12 * P, end: 15 * P, old: RW, new: RWL }]);
    assert_eq!(ch[0].pages(), 3);
    assert_eq!(pages(&t), vec![(10, 12, RW), (12, 15, RWL), (15, 20, RW)]);
    t.check_invariants().unwrap();
    // mlock overlapping the locked piece: only the unlocked part changes
    // and it merges into the locked vma.
    let ch = t.vma_modify_flags(14 * P, 17 * P, |f| f | VmFlags::LOCKED).unwrap();
    assert_eq!(ch, vec![FlagChange { start: 15 * P, end: 17 * P, old: RW, new: RWL }]);
    assert_eq!(pages(&t), vec![(10, 12, RW), (12, 17, RWL), (17, 20, RW)]);
    // munlock everything: merges back into one vma.
    let ch = t.vma_modify_flags(10 * P, 20 * P, |f| f - VmFlags::LOCKED_MASK).unwrap();
    assert_eq!(ch.len(), 1);
    assert_eq!(ch[0].pages(), 5);
    assert_eq!(pages(&t), vec![(10, 20, RW)]);
    t.check_invariants().unwrap();
}

#[test]
fn modify_flags_no_change_means_no_split() {
    let mut t = tree(&[(10, 20, RWL), (20, 30, RW)]);
    let ch = t.vma_modify_flags(12 * P, 25 * P, |f| f).unwrap();
    assert!(ch.is_empty());
    assert_eq!(pages(&t), vec![(10, 20, RWL), (20, 30, RW)]);
    // A toggle flips each piece exactly once even across merges.
    let ch = t.vma_modify_flags(10 * P, 30 * P, |f| f ^ VmFlags::LOCKED).unwrap();
    assert_eq!(ch.len(), 2);
    assert_eq!(pages(&t), vec![(10, 20, RW), (20, 30, RWL)]);
    t.check_invariants().unwrap();
}

#[test]
fn modify_flags_errors_leave_tree_unchanged() {
    let mut t = tree(&[(10, 20, RW), (25, 30, RW)]);
    let before = pages(&t);
    let mut called = false;
    let mut f = |fl: VmFlags| {
        called = true;
        fl | VmFlags::LOCKED
    };
    assert_eq!(t.vma_modify_flags(15 * P, 27 * P, &mut f), Err(Errno::ENOMEM), "hole");
    assert_eq!(t.vma_modify_flags(5 * P, 12 * P, &mut f), Err(Errno::ENOMEM), "unmapped start");
    assert_eq!(t.vma_modify_flags(28 * P, 31 * P, &mut f), Err(Errno::ENOMEM), "short tail");
    assert_eq!(t.vma_modify_flags(12 * P, 11 * P, &mut f), Err(Errno::EINVAL));
    assert_eq!(t.vma_modify_flags(12 * P + 1, 13 * P, &mut f), Err(Errno::EINVAL));
    assert_eq!(t.vma_modify_flags(12 * P, 12 * P, &mut f), Ok(vec![]));
    assert!(!called);
    assert_eq!(pages(&t), before);
    assert_eq!(t.mapped_run_end(15 * P, 27 * P), 20 * P);
    assert_eq!(t.mapped_run_end(5 * P, 27 * P), 5 * P);
    assert_eq!(t.mapped_run_end(26 * P, 27 * P), 27 * P);
}

#[test]
fn modify_flags_special_vmas_do_not_merge() {
    let io = RW | VmFlags::IO;
    let mut t = tree(&[(10, 20, io)]);
    t.vma_modify_flags(12 * P, 14 * P, |f| f | VmFlags::LOCKED).unwrap();
    t.vma_modify_flags(12 * P, 14 * P, |f| f - VmFlags::LOCKED).unwrap();
    assert_eq!(pages(&t), vec![(10, 12, io), (12, 14, io), (14, 20, io)]);
}

#[test]
fn unmap_range_trims_splits_removes() {
    let mut t = tree(&[(10, 20, RW), (20, 30, RWL), (40, 50, RW)]);
    // Punch a hole inside one vma.
    let gone = t.unmap_range(12 * P, 14 * P).unwrap();
    assert_eq!(gone, vec![vma(12, 14, RW)]);
    assert_eq!(pages(&t), vec![(10, 12, RW), (14, 20, RW), (20, 30, RWL), (40, 50, RW)]);
    t.check_invariants().unwrap();
    // Trim the tail of one, remove one, trim the head of another.
    let gone = t.unmap_range(16 * P, 45 * P).unwrap();
    assert_eq!(gone, vec![vma(16, 20, RW), vma(20, 30, RWL), vma(40, 45, RW)]);
    assert_eq!(pages(&t), vec![(10, 12, RW), (14, 16, RW), (45, 50, RW)]);
    t.check_invariants().unwrap();
    // Nothing there; empty range; bad arguments.
    assert_eq!(t.unmap_range(20 * P, 40 * P), Ok(vec![]));
    assert_eq!(t.unmap_range(10 * P, 10 * P), Ok(vec![]));
    assert_eq!(t.unmap_range(11 * P, 10 * P), Err(Errno::EINVAL));
    assert_eq!(t.unmap_range(10 * P + 5, 11 * P), Err(Errno::EINVAL));
    // Exact vma bounds.
    assert_eq!(t.unmap_range(45 * P, 50 * P).unwrap(), vec![vma(45, 50, RW)]);
    assert_eq!(t.unmap_range(0, !(P - 1)).unwrap().len(), 2);
    assert!(t.is_empty());
    t.check_invariants().unwrap();
}

const TOP: u64 = 1 << 20; // pages

#[test]
fn gua_empty_tree() {
    let t = VmaTree::new();
    assert_eq!(t.get_unmapped_area(4 * P, 0, P, P, TOP * P), Some((TOP - 4) * P));
    assert_eq!(t.get_unmapped_area(4 * P, 0, 16 * P, P, (TOP - 1) * P), Some((TOP - 16) * P));
    assert_eq!(t.get_unmapped_area(TOP * P, 0, P, 0, TOP * P), Some(0));
    assert_eq!(t.get_unmapped_area(TOP * P, 0, P, P, TOP * P), None, "full space");
}

#[test]
fn gua_bad_arguments() {
    let t = tree(&[(10, 20, RW)]);
    assert_eq!(t.get_unmapped_area(0, 0, P, 0, TOP * P), None);
    assert_eq!(t.get_unmapped_area(P + 1, 0, P, 0, TOP * P), None);
    assert_eq!(t.get_unmapped_area(P, 0, 3 * P, 0, TOP * P), None);
    assert_eq!(t.get_unmapped_area(P, 0, 0, 0, TOP * P), None);
    assert_eq!(t.get_unmapped_area(P, 0, P / 2, 0, TOP * P), None);
    assert_eq!(t.get_unmapped_area(P, 0, P, 5 * P, 5 * P), None);
    assert_eq!(t.get_unmapped_area(P, 0, P, 6 * P, 5 * P), None);
    assert_eq!(t.get_unmapped_area(P, 0, P, u64::MAX, u64::MAX), None);
    assert_eq!(t.get_unmapped_area(P, 0, 1 << 63, 0, u64::MAX), Some(1 << 63));
    assert_eq!(t.get_unmapped_area(!(P - 1), 0, 1 << 63, 0, u64::MAX), None);
    // Unaligned low/high are rounded inwards.
    assert_eq!(t.get_unmapped_area(P, 0, P, 20 * P - 1, 21 * P + 7), Some(20 * P));
    assert_eq!(t.get_unmapped_area(P, 0, P, 20 * P + 1, 21 * P + 7), None);
}

#[test]
fn gua_hint() {
    let t = tree(&[(10, 20, RW), (30, 40, RW)]);
    let high = 100 * P;
    // Free hint: taken even though higher space exists and it is unaligned
    // with respect to `align`.
    assert_eq!(t.get_unmapped_area(5 * P, 22 * P, P, 0, high), Some(22 * P));
    assert_eq!(t.get_unmapped_area(5 * P, 23 * P, 8 * P, 0, high), Some(23 * P));
    assert_eq!(t.get_unmapped_area(10 * P, 20 * P, P, 0, high), Some(20 * P), "exact gap");
    // Colliding hints fall back to the top-down search.
    assert_eq!(t.get_unmapped_area(11 * P, 20 * P, P, 0, high), Some(89 * P));
    assert_eq!(t.get_unmapped_area(P, 19 * P, P, 0, high), Some(99 * P));
    assert_eq!(t.get_unmapped_area(2 * P, 9 * P, P, 0, high), Some(98 * P));
    // Unaligned hint, hint outside [low, high), hint 0: ignored.
    assert_eq!(t.get_unmapped_area(P, 22 * P + 1, P, 0, high), Some(99 * P));
    assert_eq!(t.get_unmapped_area(P, 99 * P, P, 0, 99 * P), Some(98 * P));
    assert_eq!(t.get_unmapped_area(P, 5 * P, P, 6 * P, high), Some(99 * P));
    assert_eq!(t.get_unmapped_area(P, 0, P, 0, high), Some(99 * P));
}

#[test]
fn gua_top_down_gaps() {
    // Gaps: [0,10) 10, [20,22) 2, [25,30) 5, [40,100) above.
    let t = tree(&[(10, 20, RW), (22, 25, RW), (30, 40, RW)]);
    let g = |len: u64, align: u64, low: u64, high: u64| t.get_unmapped_area(len * P, 0, align * P, low * P, high * P).map(|a| a / P);
    assert_eq!(g(1, 1, 0, 100), Some(99));
    assert_eq!(g(60, 1, 0, 100), Some(40), "exactly the top gap");
    assert_eq!(g(61, 1, 0, 100), None);
    assert_eq!(g(1, 1, 0, 40), Some(29), "high at a vma end");
    assert_eq!(g(5, 1, 0, 40), Some(25), "exact fit inside");
    assert_eq!(g(6, 1, 0, 40), Some(4), "falls to the bottom gap");
    assert_eq!(g(2, 1, 0, 25), Some(20));
    assert_eq!(g(3, 1, 0, 25), Some(7));
    assert_eq!(g(10, 1, 0, 40), Some(0));
    assert_eq!(g(10, 1, 1, 40), None, "low clips the bottom gap");
    assert_eq!(g(3, 1, 27, 40), Some(27), "low clips a gap from below");
    assert_eq!(g(4, 1, 27, 40), None);
    assert_eq!(g(2, 1, 0, 29), Some(27), "high clips a gap from above");
    assert_eq!(g(1, 1, 20, 22), Some(21));
    assert_eq!(g(1, 1, 10, 20), None, "range fully mapped");
}

#[test]
fn gua_alignment() {
    // Gaps: [0,10), [20,30) (10 pages, start not 8-aligned: 24 is), [40,..)
    let t = tree(&[(10, 20, RW), (30, 40, RW)]);
    let g = |len: u64, align: u64, low: u64, high: u64| t.get_unmapped_area(len * P, 0, align * P, low * P, high * P).map(|a| a / P);
    assert_eq!(g(2, 8, 0, 100), Some(96));
    assert_eq!(g(2, 8, 0, 97), Some(88));
    assert_eq!(g(2, 16, 0, 40), None, "needs 2+15=17 > 10");
    assert_eq!(g(2, 8, 0, 40), Some(24), "need 2+7=9 <= 10");
    assert_eq!(g(4, 8, 0, 40), None, "need 11 > 10: skipped even though 24 would fit");
    assert_eq!(g(8, 8, 0, 100), Some(88));
    assert_eq!(g(2, 32, 0, 100), Some(96));
    assert_eq!(g(2, 32, 0, 97), Some(64));
    assert_eq!(g(2, 128, 0, 100), None, "no gap of 129 pages");
    assert_eq!(g(2, 128, 0, 1000), Some(896));
    // Every answer is aligned, free and inside the range.
    for align in [1, 2, 4, 8, 16] {
        for len in 1..12 {
            if let Some(a) = g(len, align, 0, 100) {
                assert_eq!(a % align, 0);
                assert!(a + len <= 100);
                assert!(t.find_vma_intersection(a * P, (a + len) * P).is_none());
            }
        }
    }
}

#[test]
fn gua_full_space() {
    let t = tree(&[(1, 50, RW), (50, 100, RW)]);
    assert_eq!(t.get_unmapped_area(P, 0, P, P, 100 * P), None);
    assert_eq!(t.get_unmapped_area(P, 0, P, 0, 100 * P), Some(0));
    assert_eq!(t.get_unmapped_area(P, 50 * P, P, 0, 100 * P), Some(0), "colliding hint");
}

#[test]
fn gua_many_vmas_matches_scan() {
    // Deterministic pseudo-random layout; compare with a linear scan.
    let mut t = VmaTree::new();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut addr = 16;
    for _ in 0..500 {
        let gap = next() % 9;
        let len = 1 + next() % 6;
        addr += gap;
        t.insert(vma(addr, addr + len, RW)).unwrap();
        addr += len;
    }
    t.check_invariants().unwrap();
    let vmas: Vec<Vma> = t.iter().cloned().collect();
    for len in 1..10 {
        for high in (0..addr + 20).step_by(37) {
            let got = t.get_unmapped_area(len * P, 0, P, 0, high * P).map(|a| a / P);
            // Highest a with [a, a+len) free and a + len <= high.
            let want = (0..=high.saturating_sub(len))
                .rev()
                .take_while(|_| high >= len)
                .find(|&a| vmas.iter().all(|v| v.end <= a * P || v.start >= (a + len) * P));
            assert_eq!(got, want, "len {len} high {high}");
        }
    }
}

#[test]
fn check_invariants_detects_corruption() {
    let base = tree(&[(10, 20, RW), (30, 40, RW), (50, 60, RW), (70, 80, RW)]);
    let root = base.root as usize;

    let mut t = base.clone();
    t.nodes[root].max_gap += P;
    assert!(t.check_invariants().unwrap_err().contains("augmented"));

    let mut t = base.clone();
    t.nodes[root].height += 1;
    assert!(t.check_invariants().unwrap_err().contains("height"));

    let mut t = base.clone();
    t.nodes[root].vma.end += P / 2;
    assert!(t.check_invariants().is_err(), "unaligned end");

    let mut t = base.clone();
    t.len += 1;
    assert!(t.check_invariants().unwrap_err().contains("len"));

    let mut t = base.clone();
    t.free.push(base.root);
    assert!(t.check_invariants().is_err(), "reachable slot on the free list");

    // A right-leaning chain: ordered but not balanced.
    let mut t = VmaTree::new();
    for i in 0..3 {
        let n = t.alloc_node(vma(10 * i, 10 * i + 5, RW));
        t.len += 1;
        if i == 0 {
            t.root = n;
        } else {
            t.nodes[n as usize - 1].right = n;
        }
    }
    for n in (0..3).rev() {
        t.update(n);
    }
    assert!(t.check_invariants().unwrap_err().contains("balance"));
}
