//! Property test: random sequences of mmap / munmap / mprotect / mlock /
//! munlock / mlockall / munlockall / fault / madvise / brk on a 16-page
//! window, under a random population strategy. After every operation:
//! `check_mm_invariants`, `nr_mlock` equals the present pages of
//! `VM_LOCKED` vmas, and the per-page flags (protection, `VM_LOCKED`,
//! `VM_LOCKONFAULT`, shared) and the returned errno match a page-by-page
//! model of Linux's rules (partial application up to a hole included). At
//! the end, `exit_mmap` must give every frame back.
#![cfg(not(loom))]

mod common;
use common::*;

use mm::fault::FaultAccess;
use mm::mlock::{MCL_CURRENT, MCL_FUTURE, MCL_ONFAULT, MLOCK_ONFAULT};
use mm::mmap::*;
use mm::vma::VmFlags;
use mm::{Errno, PopulateStrategy};
use proptest::prelude::*;

const WIN: u64 = 0x4000_0000;
const NPAGES: u64 = 16;
const BRK: u64 = 0x40_0000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct PageModel {
    prot: u64,
    locked: bool,
    onfault: bool,
    shared: bool,
}

#[derive(Clone, Debug)]
enum Op {
    Mmap { page: u64, len: u64, prot: u64, locked: bool, populate: bool, shared: bool },
    Munmap { page: u64, len: u64 },
    Mprotect { page: u64, len: u64, prot: u64 },
    Mlock { page: u64, len: u64, onfault: bool },
    Munlock { page: u64, len: u64 },
    Mlockall { flags: u32 },
    Munlockall,
    Fault { page: u64, write: bool },
    Madvise { page: u64, len: u64, advice: i32 },
    Brk { pages: u64 },
}

fn prot() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(PROT_NONE),
        Just(PROT_READ),
        Just(PROT_READ | PROT_WRITE),
        Just(PROT_READ | PROT_EXEC),
        Just(PROT_WRITE),
        Just(PROT_EXEC)
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let page = 0..NPAGES;
    let len = 1..=8u64;
    prop_oneof![
        3 => (page.clone(), len.clone(), prot(), any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(page, len, prot, locked, populate, shared)| Op::Mmap { page, len, prot, locked, populate, shared }),
        1 => (page.clone(), len.clone()).prop_map(|(page, len)| Op::Munmap { page, len }),
        2 => (page.clone(), len.clone(), prot()).prop_map(|(page, len, prot)| Op::Mprotect { page, len, prot }),
        3 => (page.clone(), len.clone(), any::<bool>()).prop_map(|(page, len, onfault)| Op::Mlock { page, len, onfault }),
        2 => (page.clone(), len.clone()).prop_map(|(page, len)| Op::Munlock { page, len }),
        1 => prop_oneof![
            Just(MCL_CURRENT), Just(MCL_FUTURE), Just(MCL_CURRENT | MCL_FUTURE),
            Just(MCL_CURRENT | MCL_ONFAULT), Just(MCL_FUTURE | MCL_ONFAULT)
        ].prop_map(|flags| Op::Mlockall { flags }),
        1 => Just(Op::Munlockall),
        4 => (page.clone(), any::<bool>()).prop_map(|(page, write)| Op::Fault { page, write }),
        2 => (page.clone(), len.clone(), prop_oneof![Just(MADV_DONTNEED), Just(MADV_DONTNEED_LOCKED), Just(MADV_WILLNEED), Just(MADV_POPULATE_READ), Just(MADV_POPULATE_WRITE)])
            .prop_map(|(page, len, advice)| Op::Madvise { page, len, advice }),
        1 => (0..6u64).prop_map(|pages| Op::Brk { pages }),
    ]
}

struct Model {
    pages: [Option<PageModel>; NPAGES as usize],
    def_locked: bool,
    def_onfault: bool,
}

impl Model {
    /// Linux's "apply up to the first hole" rule: the pages changed, and
    /// whether the range was complete.
    fn run(&self, page: u64, len: u64) -> (std::ops::Range<u64>, bool) {
        let end = (page + len).min(NPAGES);
        let mut p = page;
        while p < end && self.pages[p as usize].is_some() {
            p += 1;
        }
        (page..p, p == end && page + len <= NPAGES)
    }
}

fn prot_of(f: VmFlags) -> u64 {
    let mut p = 0;
    if f.contains(VmFlags::READ) {
        p |= PROT_READ;
    }
    if f.contains(VmFlags::WRITE) {
        p |= PROT_WRITE;
    }
    if f.contains(VmFlags::EXEC) {
        p |= PROT_EXEC;
    }
    p
}

fn actual(w: &World) -> [Option<PageModel>; NPAGES as usize] {
    let mut out = [None; NPAGES as usize];
    for (s, e, f) in w.mm.maps_snapshot() {
        for i in 0..NPAGES {
            let a = WIN + i * P;
            if s <= a && a < e {
                out[i as usize] = Some(PageModel {
                    prot: prot_of(f),
                    locked: f.contains(VmFlags::LOCKED),
                    onfault: f.contains(VmFlags::LOCKONFAULT),
                    shared: f.contains(VmFlags::MAYSHARE),
                });
            }
        }
    }
    out
}

fn run_ops(strategy: PopulateStrategy, ops: &[Op]) -> Result<(), TestCaseError> {
    let w = world_with(strategy);
    let r = root();
    w.mm.set_brk_base(BRK).unwrap();
    let mut m = Model { pages: [None; NPAGES as usize], def_locked: false, def_onfault: false };
    for (i, op) in ops.iter().enumerate() {
        let ctx = format!("op {i} {op:?}");
        match *op {
            Op::Mmap { page, len, prot, locked, populate, shared } => {
                let mut flags = MAP_ANONYMOUS | MAP_FIXED | if shared { MAP_SHARED } else { MAP_PRIVATE };
                if locked {
                    flags |= MAP_LOCKED;
                }
                if populate {
                    flags |= MAP_POPULATE;
                }
                let len = len.min(NPAGES - page);
                let res = w.mm.do_mmap(WIN + page * P, len * P, prot, flags, &r);
                prop_assert_eq!(res, Ok(WIN + page * P), "{}", ctx);
                let lk = locked || m.def_locked;
                for p in page..page + len {
                    m.pages[p as usize] = Some(PageModel { prot, locked: lk, onfault: m.def_onfault && lk, shared });
                }
            }
            Op::Munmap { page, len } => {
                prop_assert_eq!(w.mm.do_munmap(WIN + page * P, len * P), Ok(()), "{}", ctx);
                for p in page..(page + len).min(NPAGES) {
                    m.pages[p as usize] = None;
                }
            }
            Op::Mprotect { page, len, prot } => {
                let res = w.mm.do_mprotect(WIN + page * P, len * P, prot);
                let (run, complete) = m.run(page, len);
                let expect = if run.is_empty() || !complete { Err(Errno::ENOMEM) } else { Ok(()) };
                prop_assert_eq!(res, expect, "{}", ctx);
                for p in run {
                    if let Some(pm) = m.pages[p as usize].as_mut() {
                        pm.prot = prot;
                    }
                }
            }
            Op::Mlock { page, len, onfault } => {
                let res = w.mm.do_mlock(WIN + page * P, len * P, if onfault { MLOCK_ONFAULT } else { 0 }, &r);
                let (run, complete) = m.run(page, len);
                let prot_none = run.clone().any(|p| m.pages[p as usize].is_some_and(|pm| pm.prot == PROT_NONE));
                let expect = if run.is_empty() || !complete {
                    Err(Errno::ENOMEM)
                } else if prot_none && !onfault {
                    Err(Errno::ENOMEM)
                } else {
                    Ok(())
                };
                prop_assert_eq!(res, expect, "{}", ctx);
                for p in run {
                    if let Some(pm) = m.pages[p as usize].as_mut() {
                        pm.locked = true;
                        pm.onfault = onfault;
                    }
                }
            }
            Op::Munlock { page, len } => {
                let res = w.mm.do_munlock(WIN + page * P, len * P);
                let (run, complete) = m.run(page, len);
                let expect = if run.is_empty() || !complete { Err(Errno::ENOMEM) } else { Ok(()) };
                prop_assert_eq!(res, expect, "{}", ctx);
                for p in run {
                    if let Some(pm) = m.pages[p as usize].as_mut() {
                        pm.locked = false;
                        pm.onfault = false;
                    }
                }
            }
            Op::Mlockall { flags } => {
                prop_assert_eq!(w.mm.do_mlockall(flags, &r), Ok(()), "{}", ctx);
                m.def_locked = flags & MCL_FUTURE != 0;
                m.def_onfault = m.def_locked && flags & MCL_ONFAULT != 0;
                if flags & MCL_CURRENT != 0 {
                    for pm in m.pages.iter_mut().flatten() {
                        pm.locked = true;
                        pm.onfault = flags & MCL_ONFAULT != 0;
                    }
                }
            }
            Op::Munlockall => {
                prop_assert_eq!(w.mm.do_munlockall(), Ok(()), "{}", ctx);
                m.def_locked = false;
                m.def_onfault = false;
                for pm in m.pages.iter_mut().flatten() {
                    pm.locked = false;
                    pm.onfault = false;
                }
            }
            Op::Fault { page, write } => {
                let access = if write { FaultAccess::Write } else { FaultAccess::Read };
                let res = w.mm.handle_mm_fault(WIN + page * P + 17, access, true);
                let ok = match m.pages[page as usize] {
                    None => false,
                    Some(pm) => if write { pm.prot & PROT_WRITE != 0 } else { pm.prot != PROT_NONE },
                };
                prop_assert_eq!(res.is_ok(), ok, "{}: {:?}", ctx, res);
            }
            Op::Madvise { page, len, advice } => {
                let res = w.mm.madvise(WIN + page * P, len * P, advice);
                let end = (page + len).min(NPAGES);
                let hole = page + len > NPAGES || (page..end).any(|p| m.pages[p as usize].is_none());
                let locked = (page..end).any(|p| m.pages[p as usize].is_some_and(|pm| pm.locked));
                match advice {
                    MADV_POPULATE_READ | MADV_POPULATE_WRITE => {
                        // Page by page: no vma is ENOMEM, a vma without
                        // VM_READ (VM_WRITE) is EINVAL; the pages before
                        // stay populated.
                        let need = if advice == MADV_POPULATE_WRITE { PROT_WRITE } else { PROT_READ };
                        let mut p = page;
                        let mut expect = Ok(());
                        while p < page + len {
                            match m.pages.get(p as usize).copied().flatten() {
                                None => expect = Err(Errno::ENOMEM),
                                Some(pm) if pm.prot & need == 0 => expect = Err(Errno::EINVAL),
                                Some(_) => {
                                    p += 1;
                                    continue;
                                }
                            }
                            break;
                        }
                        prop_assert_eq!(res, expect, "{}", ctx);
                        prop_assert_eq!(present(&w.mm, WIN + page * P, (p - page) * P), (p - page) as usize, "{}: populated", ctx);
                    }
                    MADV_DONTNEED if locked => prop_assert_eq!(res, Err(Errno::EINVAL), "{}", ctx),
                    _ if hole => prop_assert_eq!(res, Err(Errno::ENOMEM), "{}", ctx),
                    _ => prop_assert_eq!(res, Ok(()), "{}", ctx),
                }
            }
            Op::Brk { pages } => {
                let want = BRK + pages * P;
                prop_assert_eq!(w.mm.do_brk(want, &r), want, "{}", ctx);
            }
        }
        if let Err(e) = mm::invariants::check_mm_invariants(&*w.mm) {
            return Err(TestCaseError::fail(format!("{ctx}: {e}\n{:#x?}", w.mm.maps_snapshot())));
        }
        let locked_present: usize = w
            .mm
            .maps_snapshot()
            .iter()
            .filter(|x| x.2.contains(VmFlags::LOCKED))
            .map(|x| present(&w.mm, x.0, x.1 - x.0))
            .sum();
        prop_assert_eq!(w.meta.nr_mlock(), locked_present as u64, "{}: nr_mlock", ctx);
        prop_assert_eq!(actual(&w), m.pages, "{}: flags", ctx);
    }
    w.mm.exit_mmap();
    prop_assert_eq!(w.arena.in_use(), 0);
    prop_assert_eq!(w.meta.nr_mlock(), 0);
    Ok(())
}

fn strategy() -> impl Strategy<Value = PopulateStrategy> {
    prop::sample::select(PopulateStrategy::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn random_ops_keep_invariants(s in strategy(), ops in prop::collection::vec(op(), 1..40)) {
        run_ops(s, &ops)?;
    }
}
