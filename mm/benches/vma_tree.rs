//! `VmaTree` against a `BTreeMap<u64, Vma>` interval map with a linear gap
//! scan (the approach other Rust kernels use), on 100 000 vmas.
//!
//! Run: `cargo bench -p mm --bench vma_tree`. Plain `Instant` timing, no
//! harness; prints ns/op. Figures, not pass/fail.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::ops::Bound::{Excluded, Unbounded};
use std::time::Instant;

use mm::addr::PAGE_SIZE;
use mm::vma::{VmFlags, Vma, VmaTree};

const P: u64 = PAGE_SIZE;
const N: usize = 100_000;
/// Where the layout starts: the gap below it is the only big one in the
/// "worst case" layout.
const BASE: u64 = 0x1000_0000;

/// xorshift64: deterministic, dependency-free randomness.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The baseline: vmas keyed by start in a `BTreeMap`.
struct BTreeVmas {
    map: BTreeMap<u64, Vma>,
}

impl BTreeVmas {
    /// First vma with `end > addr`.
    fn find_vma(&self, addr: u64) -> Option<&Vma> {
        if let Some((_, v)) = self.map.range(..=addr).next_back() {
            if v.end > addr {
                return Some(v);
            }
        }
        self.map.range((Excluded(addr), Unbounded)).next().map(|(_, v)| v)
    }

    /// Top-down linear scan over the gaps below `high`, same rule as
    /// `VmaTree::get_unmapped_area` without a hint.
    fn get_unmapped_area(&self, len: u64, align: u64, low: u64, high: u64) -> Option<u64> {
        let need = len + align - P;
        let fit = |s: u64, e: u64| -> Option<u64> {
            let (s, e) = (s.max(low), e.min(high));
            (e > s && e - s >= need).then(|| (e - len) & !(align - 1))
        };
        let mut gap_end = high;
        for v in self.map.range(..high).rev().map(|(_, v)| v) {
            if let Some(a) = fit(v.end, gap_end) {
                return Some(a);
            }
            gap_end = gap_end.min(v.start);
            if gap_end <= low {
                return None;
            }
        }
        fit(0, gap_end)
    }
}

/// `N` vmas of 4 pages separated by 1-page gaps, plus `big` gaps of 32
/// pages at random places.
fn layout(rng: &mut Rng, big: usize) -> Vec<Vma> {
    let mut big_at: Vec<usize> = (0..big).map(|_| rng.below(N as u64) as usize).collect();
    big_at.sort();
    let mut vmas = Vec::with_capacity(N);
    let mut addr = BASE;
    let mut b = 0;
    for i in 0..N {
        let flags = if i % 3 == 0 { VmFlags::READ } else { VmFlags::READ | VmFlags::WRITE };
        vmas.push(Vma::new_anonymous(addr, addr + 4 * P, flags));
        addr += 5 * P;
        while b < big_at.len() && big_at[b] == i {
            addr += 32 * P;
            b += 1;
        }
    }
    vmas
}

fn per_op(start: Instant, ops: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / ops as f64
}

fn build(vmas: &[Vma], order: &[usize]) -> (VmaTree, BTreeVmas, f64, f64) {
    let t0 = Instant::now();
    let mut tree = VmaTree::new();
    for &i in order {
        tree.insert(vmas[i].clone()).expect("layout has no overlaps");
    }
    let tree_ns = per_op(t0, order.len());
    let t0 = Instant::now();
    let mut map = BTreeMap::new();
    for &i in order {
        map.insert(vmas[i].start, vmas[i].clone());
    }
    let map_ns = per_op(t0, order.len());
    tree.check_invariants().expect("tree invariants");
    (tree, BTreeVmas { map }, tree_ns, map_ns)
}

fn row(what: &str, tree_ns: f64, map_ns: f64) {
    println!("{what:<58} {tree_ns:>12.1} {map_ns:>14.1} {:>8.1}x", map_ns / tree_ns);
}

fn main() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    println!("vma_tree bench: {N} vmas (4 pages each, 1-page gaps)");
    println!("{:<58} {:>12} {:>14} {:>9}", "ns/op", "VmaTree", "BTreeMap+scan", "speedup");

    // --- layout with 100 big gaps at random places ---
    let vmas = layout(&mut rng, 100);
    let span_end = vmas.last().unwrap().end;
    let mut order: Vec<usize> = (0..N).collect();
    for i in (1..N).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let (tree, map, tree_ns, map_ns) = build(&vmas, &order);
    row("insert (random order)", tree_ns, map_ns);

    // find_vma at random addresses inside the layout.
    const LOOKUPS: usize = 1_000_000;
    let addrs: Vec<u64> = (0..LOOKUPS).map(|_| BASE + rng.below(span_end - BASE)).collect();
    for &a in addrs.iter().take(1000) {
        assert_eq!(tree.find_vma(a), map.find_vma(a));
    }
    let t0 = Instant::now();
    for &a in &addrs {
        black_box(tree.find_vma(black_box(a)));
    }
    let tree_ns = per_op(t0, LOOKUPS);
    let t0 = Instant::now();
    for &a in &addrs {
        black_box(map.find_vma(black_box(a)));
    }
    row("find_vma (random address)", tree_ns, per_op(t0, LOOKUPS));

    // get_unmapped_area, 8 pages (only the 32-page gaps fit), below a
    // random `high`: the scan walks back to the nearest big gap.
    let len = 8 * P;
    let highs: Vec<u64> = (0..10_000).map(|_| (BASE + rng.below(span_end - BASE)) & !(P - 1)).collect();
    let bench_gua = |what: &str, align: u64, highs: &[u64], tree: &VmaTree, map: &BTreeVmas| {
        for &h in highs.iter().take(200) {
            assert_eq!(tree.get_unmapped_area(len, 0, align, P, h), map.get_unmapped_area(len, align, P, h));
        }
        let t0 = Instant::now();
        for &h in highs {
            black_box(tree.get_unmapped_area(black_box(len), 0, align, P, h));
        }
        let tree_ns = per_op(t0, highs.len());
        let t0 = Instant::now();
        for &h in highs {
            black_box(map.get_unmapped_area(black_box(len), align, P, h));
        }
        row(what, tree_ns, per_op(t0, highs.len()));
    };
    bench_gua("get_unmapped_area 8 pages, random high, 100 big gaps", P, &highs, &tree, &map);
    bench_gua("  same, align 16 pages", 16 * P, &highs, &tree, &map);

    // --- worst case for the scan: the only fitting gap is below all vmas ---
    let vmas = layout(&mut rng, 0);
    let order: Vec<usize> = (0..N).collect();
    let (tree, map, tree_ns, map_ns) = build(&vmas, &order);
    row("insert (ascending)", tree_ns, map_ns);
    let top = vmas.last().unwrap().end;
    let highs: Vec<u64> = vec![top; 200];
    bench_gua("get_unmapped_area 8 pages, only gap below all vmas", P, &highs, &tree, &map);

    // The common mmap case: room right above the last vma.
    let highs: Vec<u64> = vec![top + 1024 * P; 10_000];
    bench_gua("get_unmapped_area 8 pages, free space at the top", P, &highs, &tree, &map);
}
