//! Property test: random alloc / alloc_contiguous / free sequences on a
//! `FrameAllocator` with random usable regions, checked against a model
//! (the set of usable frames and the set of allocated frames).

use std::collections::HashSet;

use mm::addr::PAGE_SIZE;
use mm::frame::{FrameAllocator, FrameError};
use proptest::prelude::*;

/// Window of managed pfns: `[BASE, BASE + WINDOW)`.
const BASE: u64 = 0x300;
const WINDOW: u64 = 1500;

#[derive(Clone, Debug)]
enum Op {
    Alloc,
    AllocContiguous {
        count: u64,
        align_shift: u32,
    },
    /// Free the `n % len`-th allocated frame (no-op if none), then check
    /// that freeing it again is refused.
    FreeAllocated(usize),
    /// Free an arbitrary frame number near the window (often bogus).
    FreeAny(u64),
    /// Free an unaligned address.
    FreeUnaligned(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Alloc),
        2 => (1u64..24, 0u32..6).prop_map(|(count, align_shift)| Op::AllocContiguous { count, align_shift }),
        5 => any::<usize>().prop_map(Op::FreeAllocated),
        1 => (0..BASE + WINDOW + 64).prop_map(Op::FreeAny),
        1 => (0..(BASE + WINDOW) * PAGE_SIZE).prop_map(Op::FreeUnaligned),
    ]
}

/// Usable regions as byte ranges with sub-page ragged edges, plus the pfns
/// they should contribute (aligned inward, clipped to the window).
fn regions() -> impl Strategy<Value = (Vec<(u64, u64)>, HashSet<u64>)> {
    // (gap in pages, length in pages, ragged start bytes, ragged end bytes)
    prop::collection::vec((0u64..40, 0u64..200, 0u64..PAGE_SIZE, 0u64..PAGE_SIZE), 1..8).prop_map(|parts| {
        // Start a little below the window so clipping is exercised too.
        let mut pfn = BASE - 10;
        let mut ranges = Vec::new();
        let mut usable = HashSet::new();
        for (gap, len, ragged_start, ragged_end) in parts {
            // A ragged start rounds up into the next page: keep a page of gap.
            let start = pfn + gap + 1;
            let end = start + len;
            let start_byte = start * PAGE_SIZE - ragged_start;
            let end_byte = end * PAGE_SIZE + ragged_end;
            ranges.push((start_byte, end_byte));
            for p in start..end {
                if (BASE..BASE + WINDOW).contains(&p) {
                    usable.insert(p);
                }
            }
            pfn = end;
        }
        (ranges, usable)
    })
}

struct Model {
    usable: HashSet<u64>,
    allocated: HashSet<u64>,
    /// Allocation order, to pick frames to free deterministically.
    order: Vec<u64>,
}

impl Model {
    fn take(&mut self, pfn: u64) {
        assert!(self.usable.contains(&pfn), "handed out unusable pfn {pfn:#x}");
        assert!(self.allocated.insert(pfn), "handed out pfn {pfn:#x} twice");
        self.order.push(pfn);
    }

    fn release(&mut self, pfn: u64) {
        assert!(self.allocated.remove(&pfn));
        self.order.retain(|&p| p != pfn);
    }

    fn is_free(&self, pfn: u64) -> bool {
        self.usable.contains(&pfn) && !self.allocated.contains(&pfn)
    }

    /// Is there an aligned run of `count` free frames anywhere?
    fn has_run(&self, count: u64, align: u64) -> bool {
        let first = BASE.div_ceil(align) * align;
        (first..BASE + WINDOW).step_by(align as usize).any(|s| (s..s + count).all(|p| self.is_free(p)))
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn allocator_matches_model(
        (ranges, usable) in regions(),
        ops in prop::collection::vec(op(), 1..150),
    ) {
        let mut fa = FrameAllocator::with_capacity(BASE, WINDOW).unwrap();
        let mut added = 0;
        for &(s, e) in &ranges {
            added += fa.add_region(s, e).unwrap();
        }
        prop_assert_eq!(added, usable.len() as u64);
        prop_assert_eq!(fa.total_frames(), usable.len() as u64);

        let mut m = Model { usable, allocated: HashSet::new(), order: Vec::new() };
        for op in ops {
            match op {
                Op::Alloc => match fa.alloc() {
                    Some(pa) => {
                        prop_assert_eq!(pa % PAGE_SIZE, 0);
                        m.take(pa / PAGE_SIZE);
                    }
                    None => prop_assert_eq!(m.allocated.len(), m.usable.len(), "None with frames free"),
                },
                Op::AllocContiguous { count, align_shift } => {
                    let align = 1u64 << align_shift;
                    match fa.alloc_contiguous(count, align) {
                        Some(pa) => {
                            let pfn = pa / PAGE_SIZE;
                            prop_assert_eq!(pa % PAGE_SIZE, 0);
                            prop_assert_eq!(pfn % align, 0, "misaligned run at {:#x}", pfn);
                            for p in pfn..pfn + count {
                                m.take(p);
                            }
                        }
                        None => prop_assert!(!m.has_run(count, align), "None although a run of {} exists", count),
                    }
                }
                Op::FreeAllocated(n) => {
                    if !m.order.is_empty() {
                        let pfn = m.order[n % m.order.len()];
                        prop_assert_eq!(fa.free(pfn * PAGE_SIZE), Ok(()));
                        m.release(pfn);
                        prop_assert_eq!(fa.free(pfn * PAGE_SIZE), Err(FrameError::DoubleFree));
                    }
                }
                Op::FreeAny(pfn) => {
                    let expect = if m.allocated.contains(&pfn) {
                        Ok(())
                    } else if m.usable.contains(&pfn) {
                        Err(FrameError::DoubleFree)
                    } else {
                        Err(FrameError::OutOfRange)
                    };
                    prop_assert_eq!(fa.free(pfn * PAGE_SIZE), expect);
                    if expect.is_ok() {
                        m.release(pfn);
                    }
                }
                Op::FreeUnaligned(pa) => {
                    if pa % PAGE_SIZE != 0 {
                        prop_assert_eq!(fa.free(pa), Err(FrameError::Unaligned));
                    }
                }
            }
            prop_assert_eq!(fa.free_frames(), (m.usable.len() - m.allocated.len()) as u64);
        }
        // Full agreement frame by frame at the end, then drain.
        for pfn in BASE - 16..BASE + WINDOW + 16 {
            prop_assert_eq!(fa.is_allocated(pfn * PAGE_SIZE), m.allocated.contains(&pfn));
        }
        while let Some(pa) = fa.alloc() {
            m.take(pa / PAGE_SIZE);
        }
        prop_assert_eq!(m.allocated.len(), m.usable.len());
        prop_assert_eq!(fa.free_frames(), 0);
    }
}
