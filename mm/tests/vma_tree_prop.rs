//! Property test: `VmaTree` against a naive model.
//!
//! The model is a sorted `Vec<Vma>` changed by linear scans, written
//! independently of the tree (e.g. `vma_modify_flags` applies all splits and
//! flag changes first and then tries the merges, where the tree interleaves
//! them). Random sequences of inserts, removes, splits, merges, flag
//! changes, unmaps and `get_unmapped_area` calls run on both; every result
//! must be identical, and `check_invariants()` must hold after every
//! operation. Queries (`find_vma`, `find_vma_prev`, `range`, ...) are
//! compared after every operation too.

use mm::addr::PAGE_SIZE;
use mm::vma::{FlagChange, VmFlags, Vma, VmaKind, VmaTree};
use mm::Errno;
use proptest::prelude::*;

const P: u64 = PAGE_SIZE;

// ---- the model ---------------------------------------------------------

#[derive(Clone, Debug, Default)]
struct Model {
    /// Sorted by start, non-overlapping.
    vmas: Vec<Vma>,
}

fn aligned(a: u64) -> bool {
    a.is_multiple_of(P)
}

/// Linux's `VM_SPECIAL` (`VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP`),
/// spelled out here rather than taken from `VmFlags::SPECIAL`.
const MODEL_VM_SPECIAL: [VmFlags; 4] = [VmFlags::IO, VmFlags::DONTEXPAND, VmFlags::PFNMAP, VmFlags::MIXEDMAP];

/// The model's merge rule, written from Linux's `vma_merge` /
/// `is_mergeable_vma` and not from `Vma::can_merge_with`, so that a wrong
/// rule in the tree shows up as a difference: `prev` must end exactly where
/// `next` starts; neither may carry a `VM_SPECIAL` bit (`vma_merge` gives
/// up on those); the flags must be equal bit for bit (Linux ignores only
/// `VM_SOFTDIRTY`, which Holdfast does not have); and both must be backed
/// the same way (anonymous: Linux also wants compatible `anon_vma`s and
/// contiguous `vm_pgoff`: Holdfast keeps one anon_vma per fork tree, so
/// only the `vm_pgoff` rule applies — `next` must continue `prev`'s).
fn mergeable(prev: &Vma, next: &Vma) -> bool {
    let adjacent = prev.end == next.start;
    let special = MODEL_VM_SPECIAL.iter().any(|&s| prev.flags.contains(s) || next.flags.contains(s));
    let same_flags = prev.flags.bits() == next.flags.bits();
    let same_backing = matches!((&prev.kind, &next.kind), (VmaKind::Anonymous, VmaKind::Anonymous));
    let contiguous = next.anon_pgoff == prev.anon_pgoff + (prev.end - prev.start) / P;
    adjacent && !special && same_flags && same_backing && contiguous
}

/// The `vm_pgoff` of the piece of `v` that starts at `addr`.
fn pgoff_at(v: &Vma, addr: u64) -> u64 {
    v.anon_pgoff + (addr - v.start) / P
}

impl Model {
    fn sort(&mut self) {
        self.vmas.sort_by_key(|v| v.start);
    }

    fn find_vma(&self, addr: u64) -> Option<&Vma> {
        self.vmas.iter().find(|v| v.end > addr)
    }

    fn find_vma_prev(&self, addr: u64) -> (Option<&Vma>, Option<&Vma>) {
        (self.find_vma(addr), self.vmas.iter().rfind(|v| v.end <= addr))
    }

    fn overlaps(&self, start: u64, end: u64) -> bool {
        self.vmas.iter().any(|v| v.start < end && start < v.end)
    }

    fn range(&self, start: u64, end: u64) -> Vec<Vma> {
        // An empty or reversed interval intersects nothing.
        self.vmas.iter().filter(|v| start < end && v.start < end && start < v.end).cloned().collect()
    }

    fn insert(&mut self, vma: Vma) -> Result<(), Errno> {
        if vma.start >= vma.end || !aligned(vma.start) || !aligned(vma.end) {
            return Err(Errno::EINVAL);
        }
        if self.overlaps(vma.start, vma.end) {
            return Err(Errno::EEXIST);
        }
        self.vmas.push(vma);
        self.sort();
        Ok(())
    }

    fn remove(&mut self, start: u64) -> Option<Vma> {
        let i = self.vmas.iter().position(|v| v.start == start)?;
        Some(self.vmas.remove(i))
    }

    fn split(&mut self, addr: u64) -> Result<(), Errno> {
        if !aligned(addr) {
            return Err(Errno::EINVAL);
        }
        let i = self.vmas.iter().position(|v| v.start < addr && addr < v.end).ok_or(Errno::EINVAL)?;
        let hi = Vma { start: addr, anon_pgoff: pgoff_at(&self.vmas[i], addr), ..self.vmas[i].clone() };
        self.vmas[i].end = addr;
        self.vmas.push(hi);
        self.sort();
        Ok(())
    }

    fn merge_at(&mut self, addr: u64) -> bool {
        let (Some(i), Some(j)) = (self.vmas.iter().position(|v| v.end == addr), self.vmas.iter().position(|v| v.start == addr)) else {
            return false;
        };
        if !mergeable(&self.vmas[i], &self.vmas[j]) {
            return false;
        }
        self.vmas[i].end = self.vmas[j].end;
        self.vmas.remove(j);
        true
    }

    fn covered(&self, start: u64, end: u64) -> bool {
        (start / P..end / P).all(|p| self.vmas.iter().any(|v| v.contains(p * P)))
    }

    fn mapped_run_end(&self, start: u64, end: u64) -> u64 {
        let mut e = start;
        while e < end && self.vmas.iter().any(|v| v.contains(e)) {
            e = (e / P + 1) * P; // next page boundary
        }
        e.min(end).max(start)
    }

    fn vma_modify_flags(&mut self, start: u64, end: u64, f: impl Fn(VmFlags) -> VmFlags) -> Result<Vec<FlagChange>, Errno> {
        if start > end || !aligned(start) || !aligned(end) {
            return Err(Errno::EINVAL);
        }
        if start == end {
            return Ok(vec![]);
        }
        if !self.covered(start, end) {
            return Err(Errno::ENOMEM);
        }
        // Phase 1: split and change flags.
        let mut changes = vec![];
        let mut out = vec![];
        for v in self.vmas.drain(..) {
            if v.end <= start || v.start >= end {
                out.push(v);
                continue;
            }
            let (s, e) = (v.start.max(start), v.end.min(end));
            let new = f(v.flags);
            if new == v.flags {
                out.push(v);
                continue;
            }
            if v.start < s {
                out.push(Vma { end: s, ..v.clone() });
            }
            out.push(Vma { start: s, end: e, flags: new, anon_pgoff: pgoff_at(&v, s), ..v.clone() });
            if e < v.end {
                out.push(Vma { start: e, anon_pgoff: pgoff_at(&v, e), ..v.clone() });
            }
            changes.push(FlagChange { start: s, end: e, old: v.flags, new });
        }
        self.vmas = out;
        // Phase 2: try to merge at both ends of every changed piece.
        for c in &changes {
            self.merge_at(c.end);
            self.merge_at(c.start);
        }
        Ok(changes)
    }

    fn unmap_range(&mut self, start: u64, end: u64) -> Result<Vec<Vma>, Errno> {
        if start > end || !aligned(start) || !aligned(end) {
            return Err(Errno::EINVAL);
        }
        let mut removed = vec![];
        let mut out = vec![];
        for v in self.vmas.drain(..) {
            if start == end || v.end <= start || v.start >= end {
                out.push(v);
                continue;
            }
            if v.start < start {
                out.push(Vma { end: start, ..v.clone() });
            }
            if v.end > end {
                out.push(Vma { start: end, anon_pgoff: pgoff_at(&v, end), ..v.clone() });
            }
            removed.push(Vma { start: v.start.max(start), end: v.end.min(end), anon_pgoff: pgoff_at(&v, v.start.max(start)), ..v });
        }
        self.vmas = out;
        self.sort();
        Ok(removed)
    }

    /// Free gaps `[s, e)` from the highest down, over the whole u64 space.
    fn gaps_top_down(&self) -> Vec<(u64, u64)> {
        let mut gaps = vec![];
        let mut prev_end = 0;
        for v in &self.vmas {
            if v.start > prev_end {
                gaps.push((prev_end, v.start));
            }
            prev_end = v.end;
        }
        gaps.push((prev_end, u64::MAX));
        gaps.reverse();
        gaps
    }

    fn get_unmapped_area(&self, len: u64, hint: u64, align: u64, low: u64, high: u64) -> Option<u64> {
        if len == 0 || !aligned(len) || !align.is_power_of_two() || align < P {
            return None;
        }
        let low = low.checked_add(P - 1)? / P * P;
        let high = high / P * P;
        if low >= high || high - low < len {
            return None;
        }
        if hint != 0 && aligned(hint) && hint >= low && hint + len <= high && !self.overlaps(hint, hint + len) {
            return Some(hint);
        }
        let need = len.checked_add(align - P)?;
        for (s, e) in self.gaps_top_down() {
            let (s, e) = (s.max(low), e.min(high));
            if e > s && e - s >= need {
                return Some((e - len) / align * align);
            }
        }
        None
    }
}

// ---- operations ---------------------------------------------------------

const FLAGS: [VmFlags; 4] = [
    VmFlags::READ,
    VmFlags::READ.union(VmFlags::WRITE),
    VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::LOCKED),
    VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::IO),
];

/// Flag transformations for `vma_modify_flags`, as mlock/munlock/mprotect use them.
#[derive(Clone, Copy, Debug)]
enum FlagOp {
    Mlock,
    MlockOnFault,
    Munlock,
    ToggleLocked,
    AddWrite,
    Identity,
}

impl FlagOp {
    fn apply(self, f: VmFlags) -> VmFlags {
        match self {
            FlagOp::Mlock => (f - VmFlags::LOCKONFAULT) | VmFlags::LOCKED,
            FlagOp::MlockOnFault => f | VmFlags::LOCKED_MASK,
            FlagOp::Munlock => f - VmFlags::LOCKED_MASK,
            FlagOp::ToggleLocked => f ^ VmFlags::LOCKED,
            FlagOp::AddWrite => f | VmFlags::WRITE,
            FlagOp::Identity => f,
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Insert {
        start: u64,
        pages: u64,
        flags: VmFlags,
    },
    Remove {
        start: u64,
    },
    /// Remove the `i % len`-th vma (always hits when the tree is not empty).
    RemoveNth {
        i: usize,
    },
    Split {
        addr: u64,
    },
    MergeAt {
        addr: u64,
    },
    ModifyFlags {
        start: u64,
        end: u64,
        op: FlagOp,
    },
    UnmapRange {
        start: u64,
        end: u64,
    },
    GetUnmappedArea {
        pages: u64,
        hint: u64,
        align_shift: u32,
        low: u64,
        high: u64,
    },
    GetMutFlags {
        start: u64,
        flags: usize,
    },
    // Ops aimed at existing vmas (index taken modulo the vma count), so
    // that boundaries, adjacency and full coverage happen often.
    /// Insert right after the `i`-th vma, touching it, with flag set
    /// `flags` or (if out of range) the same flags as that vma.
    InsertAfterNth {
        i: usize,
        pages: u64,
        flags: usize,
    },
    /// Set the flags of the `i`-th vma through `get_mut_flags`.
    GetMutFlagsNth {
        i: usize,
        flags: usize,
    },
    /// Split the `i`-th vma `off` pages after its start.
    SplitNth {
        i: usize,
        off: u64,
    },
    /// Merge at the end of the `i`-th vma.
    MergeNth {
        i: usize,
    },
    /// Change flags from `off_lo` pages after the start of vma `i` to
    /// `off_hi` pages before the end of vma `j`.
    ModifyNth {
        i: usize,
        j: usize,
        off_lo: u64,
        off_hi: u64,
        op: FlagOp,
    },
}

/// An address in pages `0..=space`, now and then one byte off a page boundary.
fn addr(space: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        20 => (0..=space).prop_map(|p| p * P),
        1 => (0..=space).prop_map(|p| p * P + 1),
    ]
}

fn flag_op() -> impl Strategy<Value = FlagOp> {
    prop_oneof![
        Just(FlagOp::Mlock),
        Just(FlagOp::MlockOnFault),
        Just(FlagOp::Munlock),
        Just(FlagOp::ToggleLocked),
        Just(FlagOp::AddWrite),
        Just(FlagOp::Identity),
    ]
}

fn op(space: u64, max_pages: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..space, 1..=max_pages, 0..FLAGS.len())
            .prop_map(|(s, n, flags)| Op::Insert { start: s * P, pages: n, flags: FLAGS[flags] }),
        1 => addr(space).prop_map(|start| Op::Remove { start }),
        2 => any::<usize>().prop_map(|i| Op::RemoveNth { i }),
        2 => addr(space).prop_map(|addr| Op::Split { addr }),
        2 => addr(space).prop_map(|addr| Op::MergeAt { addr }),
        3 => (addr(space), addr(space), flag_op())
            .prop_map(|(a, b, op)| Op::ModifyFlags { start: a.min(b), end: a.max(b), op }),
        1 => (addr(space), addr(space)).prop_map(|(start, end)| Op::ModifyFlags { start, end, op: FlagOp::Mlock }),
        2 => (addr(space), addr(space)).prop_map(|(a, b)| Op::UnmapRange { start: a.min(b), end: a.max(b) }),
        3 => (0..=max_pages + 2, prop_oneof![Just(0u64), addr(space)], 0u32..5, addr(space), addr(space + 8))
            .prop_map(|(pages, hint, align_shift, low, high)| Op::GetUnmappedArea { pages, hint, align_shift, low, high }),
        1 => (addr(space), 0..FLAGS.len()).prop_map(|(start, flags)| Op::GetMutFlags { start, flags }),
        3 => (any::<usize>(), 1..=max_pages, 0..2 * FLAGS.len())
            .prop_map(|(i, pages, flags)| Op::InsertAfterNth { i, pages, flags }),
        1 => (any::<usize>(), 0..FLAGS.len()).prop_map(|(i, flags)| Op::GetMutFlagsNth { i, flags }),
        1 => (any::<usize>(), 0u64..4).prop_map(|(i, off)| Op::SplitNth { i, off }),
        2 => any::<usize>().prop_map(|i| Op::MergeNth { i }),
        5 => (any::<usize>(), prop_oneof![3 => Just(0usize), 1 => 1usize..4], prop_oneof![3 => Just(0u64), 1 => 1u64..3], prop_oneof![3 => Just(0u64), 1 => 1u64..3], flag_op())
            .prop_map(|(i, d, off_lo, off_hi, op)| Op::ModifyNth { i, j: i.wrapping_add(d), off_lo, off_hi, op }),
    ]
}

/// Turn an op aimed at the `i`-th vma into a plain op on addresses, using
/// the model (`None` if there is no vma to aim at).
fn resolve(op: Op, model: &Model) -> Option<Op> {
    let n = model.vmas.len();
    let nth = |i: usize| model.vmas.get(i % n.max(1));
    Some(match op {
        Op::InsertAfterNth { i, pages, flags } => {
            let v = nth(i)?;
            Op::Insert { start: v.end, pages, flags: FLAGS.get(flags).copied().unwrap_or(v.flags) }
        }
        Op::GetMutFlagsNth { i, flags } => Op::GetMutFlags { start: nth(i)?.start, flags },
        Op::SplitNth { i, off } => Op::Split { addr: nth(i)?.start + off * P },
        Op::MergeNth { i } => Op::MergeAt { addr: nth(i)?.end },
        Op::ModifyNth { i, j, off_lo, off_hi, op } => {
            let (a, b) = (nth(i)?, nth(j)?);
            let (a, b) = if a.start <= b.start { (a, b) } else { (b, a) };
            let start = (a.start + off_lo * P).min(a.end - P);
            let end = b.end.saturating_sub(off_hi * P).max(b.start + P).max(start);
            Op::ModifyFlags { start, end, op }
        }
        op => op,
    })
}

// ---- the check ----------------------------------------------------------

/// Compare every query of `tree` with `model` at a few addresses.
fn compare_queries(tree: &VmaTree, model: &Model, probes: &[u64]) -> Result<(), TestCaseError> {
    prop_assert_eq!(tree.len(), model.vmas.len());
    prop_assert_eq!(tree.is_empty(), model.vmas.is_empty());
    prop_assert_eq!(tree.iter().cloned().collect::<Vec<_>>(), model.vmas.clone());
    prop_assert_eq!(tree.first(), model.vmas.first());
    prop_assert_eq!(tree.last(), model.vmas.last());
    for &a in probes {
        prop_assert_eq!(tree.find_vma(a), model.find_vma(a), "find_vma({:#x})", a);
        prop_assert_eq!(tree.find_vma_prev(a), model.find_vma_prev(a), "find_vma_prev({:#x})", a);
        prop_assert_eq!(tree.vma_lookup(a), model.vmas.iter().find(|v| v.contains(a)));
        prop_assert_eq!(tree.get(a), model.vmas.iter().find(|v| v.start == a));
        for &b in probes {
            let want = model.range(a, b);
            prop_assert_eq!(tree.find_vma_intersection(a, b), want.first().filter(|_| a < b), "find_vma_intersection({:#x}, {:#x})", a, b);
            prop_assert_eq!(tree.range(a, b).cloned().collect::<Vec<_>>(), model.range(a, b));
            if a <= b {
                prop_assert_eq!(tree.mapped_run_end(a, b), model.mapped_run_end(a, b));
            }
        }
    }
    Ok(())
}

fn run(ops: Vec<Op>, space: u64) -> Result<(), TestCaseError> {
    let mut tree = VmaTree::new();
    let mut model = Model::default();
    let mut stats = std::collections::BTreeMap::<String, (u32, u32)>::new();
    for op in ops {
        let op = match resolve(op, &model) {
            Some(op) => op,
            None => continue,
        };
        let mut probes = vec![0];
        let mut ok = true;
        match op.clone() {
            Op::Insert { start, pages, flags } => {
                let vma = Vma::new_anonymous(start, start + pages * P, flags);
                let t = tree.insert(vma.clone());
                prop_assert_eq!(t, model.insert(vma), "{:?}", op);
                ok = t.is_ok();
                probes.extend([start, start + pages * P]);
            }
            Op::Remove { start } => {
                let t = tree.remove(start);
                ok = t.is_some();
                prop_assert_eq!(t, model.remove(start), "{:?}", op);
                probes.push(start);
            }
            Op::RemoveNth { i } => {
                if !model.vmas.is_empty() {
                    let start = model.vmas[i % model.vmas.len()].start;
                    prop_assert_eq!(tree.remove(start), model.remove(start), "{:?}", op);
                    probes.push(start);
                }
            }
            Op::Split { addr } => {
                let t = tree.split(addr);
                ok = t.is_ok();
                prop_assert_eq!(t, model.split(addr), "{:?}", op);
                probes.push(addr);
            }
            Op::MergeAt { addr } => {
                ok = tree.merge_at(addr);
                prop_assert_eq!(ok, model.merge_at(addr), "{:?}", op);
                probes.extend([addr.saturating_sub(P), addr]);
            }
            Op::ModifyFlags { start, end, op: fop } => {
                let pieces = if start < end { model.range(start, end).len() } else { 0 };
                let mut calls = 0;
                let t = tree.vma_modify_flags(start, end, |f| {
                    calls += 1;
                    fop.apply(f)
                });
                let m = model.vma_modify_flags(start, end, |f| fop.apply(f));
                prop_assert_eq!(t.clone(), m, "{:?}", op);
                // f runs once per vma in the range, and not at all on error.
                prop_assert_eq!(calls, if t.is_ok() { pieces } else { 0 }, "calls of f, {:?}", op);
                ok = t.is_ok_and(|c| !c.is_empty());
                probes.extend([start, end]);
            }
            Op::UnmapRange { start, end } => {
                let t = tree.unmap_range(start, end);
                ok = t.as_ref().is_ok_and(|r| !r.is_empty());
                prop_assert_eq!(t, model.unmap_range(start, end), "{:?}", op);
                probes.extend([start, end]);
            }
            Op::GetUnmappedArea { pages, hint, align_shift, low, high } => {
                let (len, align) = (pages * P, P << align_shift);
                let got = tree.get_unmapped_area(len, hint, align, low, high);
                prop_assert_eq!(got, model.get_unmapped_area(len, hint, align, low, high), "{:?}", op);
                ok = got.is_some();
                if let Some(a) = got {
                    // Whatever it returns is usable.
                    prop_assert!(a >= low && a + len <= high && !model.overlaps(a, a + len), "{:#x} {:?}", a, op);
                    prop_assert!(a == hint || a % align == 0);
                }
                // With page alignment and no hint the answer is exactly
                // the highest free address: brute force over pages.
                if align == P && hint == 0 && len > 0 {
                    let lo = low.div_ceil(P);
                    let hi = high / P;
                    let brute = (lo..=hi.saturating_sub(pages))
                        .rev()
                        .filter(|_| hi >= pages && hi > lo)
                        .find(|&p| !model.overlaps(p * P, (p + pages) * P))
                        .map(|p| p * P);
                    prop_assert_eq!(got, brute, "brute force, {:?}", op);
                }
            }
            Op::GetMutFlags { start, flags } => {
                let t = tree.get_mut_flags(start).map(|f| {
                    *f = FLAGS[flags];
                });
                let m = model.vmas.iter_mut().find(|v| v.start == start).map(|v| {
                    v.flags = FLAGS[flags];
                });
                ok = t.is_some();
                prop_assert_eq!(t, m);
            }
            _ => unreachable!("resolved above"),
        }
        let name = format!("{op:?}");
        let name = name.split([' ', '{']).next().unwrap_or("").to_string();
        let e = stats.entry(name).or_default();
        e.0 += 1;
        e.1 += ok as u32;
        if let Err(e) = tree.check_invariants() {
            return Err(TestCaseError::fail(format!("invariant broken after {op:?}: {e}\n{tree:?}")));
        }
        // Probe the touched addresses, their neighbours and a few fixed ones.
        let extra: Vec<u64> = probes.iter().flat_map(|&a| [a.saturating_sub(1), a + 1]).collect();
        probes.extend(extra);
        probes.extend([space / 2 * P, space * P, u64::MAX]);
        compare_queries(&tree, &model, &probes)?;
    }
    if std::env::var_os("VMA_PROP_STATS").is_some() {
        // How often each operation did something (succeeded / found / changed).
        eprintln!("{stats:?}");
    }
    // Every vma the model holds is anonymous; the tree kept the kind.
    prop_assert!(tree.iter().all(|v| v.kind == VmaKind::Anonymous));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A small address space (64 pages): dense, collisions everywhere.
    #[test]
    fn tree_matches_model_dense(ops in prop::collection::vec(op(64, 8), 1..120)) {
        run(ops, 64)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A bigger space with many small vmas: deeper trees, more rotations.
    #[test]
    fn tree_matches_model_deep(ops in prop::collection::vec(op(2048, 6), 200..500)) {
        run(ops, 2048)?;
    }
}
