//! Property tests: random mlock / munlock / fault / free sequences on a few
//! pages, checked against a model that counts each page's locked mappings.
//!
//! `exact_while_on_lru` is Holdfast's situation (pages never leave the
//! LRU): the counting must be exact. `never_overcounts_with_isolation` adds
//! Linux's isolate/putback, where the count may fall short but a page must
//! never stay mlocked without a locked mapping.

use mm::page_meta::{MlockTransition, PageFlags, PageMeta, PageMetaArray};
use mm::vma::VmFlags;
use proptest::prelude::*;

const NPAGES: usize = 4;
const BASE_PFN: u64 = 0x1000;

#[derive(Clone, Debug)]
enum Op {
    /// A fault maps the (fresh) page into a vma, locked or not.
    Fault {
        page: usize,
        locked: bool,
    },
    /// The mlock walk finds the page mapped in a VM_LOCKED vma.
    Mlock(usize),
    /// A locked mapping of the page goes away.
    Munlock(usize),
    /// The last reference is dropped (possibly while still mlocked).
    Free(usize),
    /// Linux folio_isolate_lru / folio_putback_lru.
    Isolate(usize),
    Putback(usize),
}

fn op(with_isolation: bool) -> BoxedStrategy<Op> {
    let page = 0..NPAGES;
    let base = prop_oneof![
        3 => (page.clone(), any::<bool>()).prop_map(|(page, locked)| Op::Fault { page, locked }),
        5 => page.clone().prop_map(Op::Mlock),
        5 => page.clone().prop_map(Op::Munlock),
        1 => page.clone().prop_map(Op::Free),
    ];
    if with_isolation {
        prop_oneof![
            10 => base,
            2 => page.clone().prop_map(Op::Isolate),
            2 => page.prop_map(Op::Putback),
        ]
        .boxed()
    } else {
        base.boxed()
    }
}

#[derive(Clone, Copy, Default, Debug)]
struct PageModel {
    /// Allocated and mapped by a fault (present in some page table).
    present: bool,
    on_lru: bool,
    /// Locked mappings not yet unlocked.
    locked: u32,
}

const LOCKED_VMA: VmFlags = VmFlags::READ.union(VmFlags::WRITE).union(VmFlags::LOCKED);
const PLAIN_VMA: VmFlags = VmFlags::READ.union(VmFlags::WRITE);

fn page(a: &PageMetaArray, i: usize) -> &PageMeta {
    a.pfn_to_page(BASE_PFN + i as u64).unwrap()
}

/// Apply `op` to the array and the model, checking what the array reports.
/// `exact`: pages never leave the LRU, so counts must be exact.
fn apply(a: &PageMetaArray, m: &mut [PageModel; NPAGES], op: &Op, exact: bool) -> Result<(), TestCaseError> {
    match *op {
        Op::Fault { page: i, locked } => {
            let p = page(a, i);
            if m[i].present {
                return Ok(()); // already mapped: a fault would not allocate
            }
            p.prep_new_page().map_err(|e| TestCaseError::fail(format!("prep: {e:?}")))?;
            let t = a.folio_add_lru_vma(p, if locked { LOCKED_VMA } else { PLAIN_VMA });
            let want = if locked { MlockTransition::Mlocked } else { MlockTransition::NotMlocked };
            prop_assert_eq!(t, Ok(want));
            m[i] = PageModel { present: true, on_lru: true, locked: u32::from(locked) };
        }
        Op::Mlock(i) => {
            if m[i].present {
                let t = a.mlock_folio(page(a, i));
                m[i].locked += 1;
                if m[i].locked == 1 {
                    prop_assert_eq!(t, MlockTransition::Mlocked);
                } else if exact {
                    prop_assert_eq!(t, MlockTransition::StillMlocked);
                } else {
                    // An earlier undercount may have cleared MLOCKED already.
                    prop_assert!(t.is_mlocked());
                }
            }
        }
        Op::Munlock(i) => {
            if m[i].locked > 0 {
                let t = a.munlock_folio(page(a, i));
                m[i].locked -= 1;
                if m[i].locked == 0 {
                    prop_assert!(!t.is_mlocked(), "last munlock left the page mlocked");
                }
            } else {
                // Unbalanced munlock: must change nothing.
                let before = page(a, i).state();
                let nr = a.nr_mlock();
                prop_assert_eq!(a.munlock_folio(page(a, i)), MlockTransition::NotMlocked);
                prop_assert_eq!(page(a, i).state(), before);
                prop_assert_eq!(a.nr_mlock(), nr);
            }
        }
        Op::Free(i) => {
            if m[i].present {
                prop_assert_eq!(a.put_page(page(a, i)), Ok(true));
                prop_assert_eq!(page(a, i).state().flags, PageFlags::empty());
                m[i] = PageModel::default();
            } else {
                prop_assert!(a.put_page(page(a, i)).is_err());
            }
        }
        Op::Isolate(i) => {
            prop_assert_eq!(a.folio_isolate_lru(page(a, i)), m[i].on_lru);
            m[i].on_lru = false;
        }
        Op::Putback(i) => {
            if m[i].present && !m[i].on_lru {
                prop_assert_eq!(a.folio_add_lru(page(a, i)), Ok(()));
                m[i].on_lru = true;
            }
        }
    }
    Ok(())
}

/// Invariants that hold in every case.
fn check_always(a: &PageMetaArray, m: &[PageModel; NPAGES]) -> Result<(), TestCaseError> {
    let mut mlocked = 0;
    for (i, pm) in m.iter().enumerate() {
        let s = page(a, i).state();
        let is_mlocked = s.flags.contains(PageFlags::MLOCKED);
        prop_assert_eq!(s.flags.contains(PageFlags::LRU), pm.on_lru, "page {}", i);
        if !is_mlocked {
            prop_assert_eq!(s.mlock_count, 0, "page {}: count without MLOCKED", i);
        } else {
            mlocked += 1;
            prop_assert!(pm.locked > 0, "page {}: MLOCKED with no locked mapping", i);
        }
        prop_assert!(s.mlock_count <= pm.locked, "page {}: overcount {} > {}", i, s.mlock_count, pm.locked);
        if pm.on_lru {
            prop_assert_eq!(s.flags.contains(PageFlags::UNEVICTABLE), is_mlocked, "page {}", i);
        }
    }
    let st = a.stats();
    prop_assert_eq!(a.nr_mlock(), mlocked);
    prop_assert_eq!(st.nr_mlock, mlocked);
    prop_assert_eq!(
        st.unevictable_pgs_mlocked,
        mlocked + st.unevictable_pgs_munlocked + st.unevictable_pgs_stranded + st.unevictable_pgs_cleared
    );
    Ok(())
}

fn new_array() -> PageMetaArray {
    PageMetaArray::new(BASE_PFN, NPAGES).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Pages never leave the LRU: MLOCKED iff a locked mapping exists,
    /// mlock_count equals the number of locked mappings, nr_mlock equals
    /// the number of MLOCKED pages.
    #[test]
    fn exact_while_on_lru(ops in prop::collection::vec(op(false), 1..200)) {
        let a = new_array();
        let mut m = [PageModel::default(); NPAGES];
        for op in &ops {
            apply(&a, &mut m, op, true)?;
            check_always(&a, &m)?;
            for (i, pm) in m.iter().enumerate() {
                let s = page(&a, i).state();
                prop_assert_eq!(s.flags.contains(PageFlags::MLOCKED), pm.locked > 0, "page {}", i);
                prop_assert_eq!(s.mlock_count, pm.locked, "page {}", i);
            }
            let locked_pages = m.iter().filter(|pm| pm.locked > 0).count() as u64;
            prop_assert_eq!(a.nr_mlock(), locked_pages);
        }
    }

    /// With isolation and putback (Linux reclaim/migration): undercounts are
    /// allowed, overcounts and stuck-mlocked pages are not.
    #[test]
    fn never_overcounts_with_isolation(ops in prop::collection::vec(op(true), 1..200)) {
        let a = new_array();
        let mut m = [PageModel::default(); NPAGES];
        for op in &ops {
            apply(&a, &mut m, op, false)?;
            check_always(&a, &m)?;
        }
    }
}
