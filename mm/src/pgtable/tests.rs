//! Unit tests of `PageTable` against the arena.

use super::*;
use crate::mmu_gather::MmuGather;

const K: u64 = 4096;
const M2: u64 = 2 << 20;
const G1: u64 = 1 << 30;
const RW: PteFlags = PteFlags::WRITABLE.union(PteFlags::USER);
const FRAME: u64 = 0x4000_0000;

fn setup(arena: &ArenaPhysMem) -> PageTable<&ArenaPhysMem> {
    PageTable::new(arena).expect("root frame")
}

/// `unmap` as one operation: its own gather, finished (flushed, tables freed).
fn unmap_now(pt: &mut PageTable<&ArenaPhysMem>, va: u64, arena: &ArenaPhysMem, tlb: &RecordingTlb) -> Result<Mapping, MapError> {
    let mut g = MmuGather::tlb_gather_mmu();
    let r = pt.unmap(va, &mut g);
    g.tlb_finish_mmu(arena, tlb);
    r
}

/// `protect` as one operation.
fn protect_now(
    pt: &mut PageTable<&ArenaPhysMem>,
    va: u64,
    flags: PteFlags,
    arena: &ArenaPhysMem,
    tlb: &RecordingTlb,
) -> Result<PteFlags, MapError> {
    let mut g = MmuGather::tlb_gather_mmu();
    let r = pt.protect(va, flags, &mut g);
    g.tlb_finish_mmu(arena, tlb);
    r
}

/// The events of one flush round over one leaf of `size` at `va`.
fn one_leaf_round(va: u64, size: u64, freed_tables: bool) -> [TlbEvent; 2] {
    [TlbEvent::Range { start: va, end: va + size, stride_shift: size.trailing_zeros(), freed_tables }, TlbEvent::Page(va)]
}

#[test]
fn new_table_is_one_frame_and_translates_nothing() {
    let arena = ArenaPhysMem::new();
    let pt = setup(&arena);
    assert_eq!(arena.in_use(), 1);
    assert!(arena.is_allocated(pt.root_pa()));
    assert_eq!(pt.translate(0), None);
    assert_eq!(pt.translate(0x7fff_ffff_f000), None);
    assert_eq!(pt.free_all_tables(), 1);
    assert_eq!(arena.in_use(), 0);
}

#[test]
fn map_4k_allocates_three_tables_and_translates() {
    let arena = ArenaPhysMem::new();
    let mut pt = setup(&arena);
    let va = 0x0000_1234_5678_9000;
    pt.map(va, FRAME, PageSize::Size4K, RW).unwrap();
    assert_eq!(arena.in_use(), 4, "root + pud + pmd + pte tables");
    let m = pt.translate(va).unwrap();
    assert_eq!(m, Mapping { pa: FRAME, size: PageSize::Size4K, flags: RW | PteFlags::PRESENT });
    // Offsets inside the page translate too; the neighbours do not.
    assert_eq!(pt.translate(va + 0x123).unwrap().pa, FRAME + 0x123);
    assert_eq!(pt.translate(va + K), None);
    assert_eq!(pt.translate(va - K), None);
    // A second page in the same page table costs no frame.
    pt.map(va + K, FRAME + K, PageSize::Size4K, PteFlags::empty()).unwrap();
    assert_eq!(arena.in_use(), 4);
    assert_eq!(pt.translate(va + K).unwrap().flags, PteFlags::PRESENT);
}

#[test]
fn map_2m_and_1g_pages() {
    let arena = ArenaPhysMem::new();
    let mut pt = setup(&arena);
    pt.map(4 * M2, 8 * M2, PageSize::Size2M, RW).unwrap();
    assert_eq!(arena.in_use(), 3, "root + pud + pmd tables, no pte table");
    let m = pt.translate(4 * M2 + 0x1_2345).unwrap();
    assert_eq!(m, Mapping { pa: 8 * M2 + 0x1_2345, size: PageSize::Size2M, flags: RW | PteFlags::PRESENT });
    assert_eq!(pt.translate(5 * M2), None);

    pt.map(3 * G1, G1, PageSize::Size1G, PteFlags::empty()).unwrap();
    assert_eq!(arena.in_use(), 3, "a 1 GiB page needs only the pud table");
    assert_eq!(pt.translate(3 * G1 + 5 * M2 + 7).unwrap().pa, G1 + 5 * M2 + 7);
    assert_eq!(pt.translate(3 * G1).unwrap().size, PageSize::Size1G);
}

#[test]
fn huge_flag_is_decided_by_size_only() {
    let arena = ArenaPhysMem::new();
    let mut pt = setup(&arena);
    pt.map(0x1000, FRAME, PageSize::Size4K, PteFlags::HUGE | PteFlags::WRITABLE).unwrap();
    assert_eq!(pt.translate(0x1000).unwrap().flags, PteFlags::PRESENT | PteFlags::WRITABLE);
    pt.map(M2, 0, PageSize::Size2M, PteFlags::WRITABLE).unwrap();
    // The pmd entry itself carries HUGE; translate reports it via the size.
    let slot = pt.lookup(M2).last();
    assert_eq!(slot.level(), Level::Pmd);
    assert!(pt.get(slot).is_leaf(Level::Pmd));
    assert!(pt.get(slot).flags().contains(PteFlags::HUGE));
    assert_eq!(pt.translate(M2).unwrap().flags, PteFlags::PRESENT | PteFlags::WRITABLE);
}

#[test]
fn map_errors() {
    let arena = ArenaPhysMem::new();
    let mut pt = setup(&arena);
    let e = |r: Result<(), MapError>| r.unwrap_err();
    assert_eq!(e(pt.map(0x1001, FRAME, PageSize::Size4K, RW)), MapError::Misaligned);
    assert_eq!(e(pt.map(0x1000, FRAME + 1, PageSize::Size4K, RW)), MapError::Misaligned);
    assert_eq!(e(pt.map(M2 + K, 0, PageSize::Size2M, RW)), MapError::Misaligned);
    assert_eq!(e(pt.map(M2, K, PageSize::Size2M, RW)), MapError::Misaligned);
    assert_eq!(e(pt.map(1 << 47, FRAME, PageSize::Size4K, RW)), MapError::NonCanonical);
    assert_eq!(e(pt.map(0xFFFF_7FFF_FFFF_F000, FRAME, PageSize::Size4K, RW)), MapError::NonCanonical);
    assert_eq!(e(pt.map(0x1000, 1 << 52, PageSize::Size4K, RW)), MapError::BadPhysAddr);
    assert_eq!(arena.in_use(), 1, "refused maps allocate nothing");

    pt.map(0x1000, FRAME, PageSize::Size4K, RW).unwrap();
    assert_eq!(e(pt.map(0x1000, FRAME, PageSize::Size4K, RW)), MapError::AlreadyMapped);
    // A 2 MiB page over an existing 4 KiB page.
    assert_eq!(e(pt.map(0, 0, PageSize::Size2M, RW)), MapError::AlreadyMapped);
    // A 4 KiB page inside an existing 2 MiB page.
    pt.map(2 * M2, 0, PageSize::Size2M, RW).unwrap();
    assert_eq!(e(pt.map(2 * M2 + 5 * K, FRAME, PageSize::Size4K, RW)), MapError::AlreadyMapped);
    // A 1 GiB page over the tables below it.
    assert_eq!(e(pt.map(0, 0, PageSize::Size1G, RW)), MapError::AlreadyMapped);
    assert_eq!(pt.translate(0x1000).unwrap().pa, FRAME);
    assert_eq!(pt.translate(2 * M2).unwrap().pa, 0);
}

#[test]
fn map_out_of_frames_leaves_nothing_behind() {
    let arena = ArenaPhysMem::with_limit(3);
    let mut pt = setup(&arena);
    // Needs pud, pmd and pte tables: only two more frames allowed.
    assert_eq!(pt.map(0x1000, FRAME, PageSize::Size4K, RW), Err(MapError::OutOfFrames));
    assert_eq!(arena.in_use(), 1, "the partial path was freed");
    assert_eq!(pt.translate(0x1000), None);
    // With the tables half there, a failure frees only what it allocated.
    pt.map(0, 0, PageSize::Size2M, RW).unwrap();
    assert_eq!(arena.in_use(), 3);
    assert_eq!(pt.map(M2, FRAME, PageSize::Size4K, RW), Err(MapError::OutOfFrames));
    assert_eq!(arena.in_use(), 3);
    assert!(pt.translate(0).is_some());
    arena.set_limit(None);
    pt.map(M2, FRAME, PageSize::Size4K, RW).unwrap();
    assert_eq!(arena.in_use(), 4);
    assert!(matches!(PageTable::new(&ArenaPhysMem::with_limit(0)), Err(MapError::OutOfFrames)));
}

#[test]
fn unmap_returns_mapping_flushes_and_frees_empty_tables() {
    let arena = ArenaPhysMem::new();
    let tlb = RecordingTlb::new();
    let mut pt = setup(&arena);
    let va = 0x7000_0000_0000;
    pt.map(va, FRAME, PageSize::Size4K, RW).unwrap();
    pt.map(va + K, FRAME + K, PageSize::Size4K, RW).unwrap();
    pt.map(va + M2, 0, PageSize::Size2M, PteFlags::empty()).unwrap();
    assert_eq!(arena.in_use(), 4);

    let m = unmap_now(&mut pt, va, &arena, &tlb).unwrap();
    assert_eq!(m, Mapping { pa: FRAME, size: PageSize::Size4K, flags: RW | PteFlags::PRESENT });
    assert_eq!(tlb.events(), one_leaf_round(va, K, false));
    assert_eq!(pt.translate(va), None);
    assert_eq!(arena.in_use(), 4, "the pte table still maps va + 4K");

    tlb.clear();
    unmap_now(&mut pt, va + K, &arena, &tlb).unwrap();
    assert_eq!(tlb.events(), one_leaf_round(va + K, K, true));
    assert_eq!(arena.in_use(), 3, "empty pte table freed, pmd table still holds the 2M page");

    tlb.clear();
    let m = unmap_now(&mut pt, va + M2, &arena, &tlb).unwrap();
    assert_eq!(m, Mapping { pa: 0, size: PageSize::Size2M, flags: PteFlags::PRESENT });
    assert_eq!(arena.in_use(), 1, "pmd and pud tables freed");
    assert_eq!(tlb.events(), one_leaf_round(va + M2, M2, true), "a 2M leaf is one stride of 2M");
    assert_eq!(pt.free_all_tables(), 1);
    assert_eq!(arena.in_use(), 0);
}

#[test]
fn unmap_and_protect_errors() {
    let arena = ArenaPhysMem::new();
    let tlb = RecordingTlb::new();
    let mut pt = setup(&arena);
    assert_eq!(unmap_now(&mut pt, 0x1000, &arena, &tlb), Err(MapError::NotMapped));
    assert_eq!(protect_now(&mut pt, 0x1000, RW, &arena, &tlb), Err(MapError::NotMapped));
    assert_eq!(unmap_now(&mut pt, 1 << 47, &arena, &tlb), Err(MapError::NonCanonical));
    pt.map(M2, 0, PageSize::Size2M, RW).unwrap();
    assert_eq!(unmap_now(&mut pt, M2 + K, &arena, &tlb), Err(MapError::Misaligned));
    assert_eq!(protect_now(&mut pt, M2 + K, RW, &arena, &tlb), Err(MapError::Misaligned));
    assert_eq!(unmap_now(&mut pt, 3 * M2, &arena, &tlb), Err(MapError::NotMapped));
    assert!(tlb.events().is_empty(), "refused operations flush nothing");
    assert!(pt.translate(M2).is_some());
    assert_eq!(Errno::from(MapError::AlreadyMapped), Errno::EEXIST);
    assert_eq!(Errno::from(MapError::OutOfFrames), Errno::ENOMEM);
}

#[test]
fn protect_changes_flags_keeps_frame_and_size() {
    let arena = ArenaPhysMem::new();
    let tlb = RecordingTlb::new();
    let mut pt = setup(&arena);
    pt.map(0x5000, FRAME, PageSize::Size4K, RW).unwrap();
    pt.map(M2, 4 * M2, PageSize::Size2M, RW).unwrap();
    let mut g = MmuGather::tlb_gather_mmu();
    let old = pt.protect(0x5000, PteFlags::USER | PteFlags::NO_EXECUTE | PteFlags::SOFTW1, &mut g).unwrap();
    assert_eq!(old, RW | PteFlags::PRESENT);
    let m = pt.translate(0x5000).unwrap();
    assert_eq!(m.pa, FRAME);
    assert_eq!(m.flags, PteFlags::PRESENT | PteFlags::USER | PteFlags::NO_EXECUTE | PteFlags::SOFTW1);
    pt.protect(M2, PteFlags::empty(), &mut g).unwrap();
    assert_eq!(pt.translate(M2 + 3), Some(Mapping { pa: 4 * M2 + 3, size: PageSize::Size2M, flags: PteFlags::PRESENT }));
    assert!(tlb.events().is_empty(), "nothing flushed before the gather is finished");
    g.tlb_finish_mmu(&arena, &tlb);
    // One round over both; the 4K leaf makes the stride 4K: 512 pages, a full flush.
    let range = TlbEvent::Range { start: 0x5000, end: 2 * M2, stride_shift: 12, freed_tables: false };
    assert_eq!(tlb.events(), [range, TlbEvent::All]);
}

#[test]
fn free_all_tables_frees_every_table() {
    let arena = ArenaPhysMem::new();
    let mut pt = setup(&arena);
    for i in 0..8u64 {
        pt.map(i * 3 * G1 + i * K, FRAME, PageSize::Size4K, RW).unwrap();
    }
    pt.map(0xFFFF_8000_0000_0000, FRAME, PageSize::Size4K, PteFlags::GLOBAL).unwrap();
    let in_use = arena.in_use();
    assert_eq!(pt.free_all_tables() as u64, in_use);
    assert_eq!(arena.in_use(), 0);
}

#[test]
fn kernel_half_is_shared_and_protected() {
    let arena = ArenaPhysMem::new();
    let tlb = RecordingTlb::new();
    let mut kernel = setup(&arena);
    let kva = 0xFFFF_FFFF_8000_0000;
    kernel.map(kva, FRAME, PageSize::Size4K, PteFlags::WRITABLE | PteFlags::GLOBAL).unwrap();
    let kernel_frames = arena.in_use();

    let mut user = PageTable::new_with_kernel_half(&arena, kernel.root_pa()).unwrap();
    assert!(user.kernel_half_shared());
    assert_eq!(arena.in_use(), kernel_frames + 1, "only a new root");
    assert_eq!(user.translate(kva).unwrap().pa, FRAME);
    assert_eq!(user.map(kva + K, FRAME, PageSize::Size4K, RW), Err(MapError::KernelHalf));
    assert_eq!(unmap_now(&mut user, kva, &arena, &tlb), Err(MapError::KernelHalf));
    assert_eq!(protect_now(&mut user, kva, RW, &arena, &tlb), Err(MapError::KernelHalf));
    user.map(0x1000, FRAME, PageSize::Size4K, RW).unwrap();
    assert_eq!(kernel.translate(0x1000), None);

    // The kernel maps more below its existing PML4 entry: the user sees it.
    kernel.map(kva + M2, 0, PageSize::Size2M, PteFlags::WRITABLE).unwrap();
    assert_eq!(user.translate(kva + M2).unwrap().size, PageSize::Size2M);

    // Unmapping the kernel's last page under that PML4 entry keeps the pud
    // table, which the user root still points to.
    unmap_now(&mut kernel, kva, &arena, &tlb).unwrap();
    unmap_now(&mut kernel, kva + M2, &arena, &tlb).unwrap();
    assert_eq!(user.translate(kva), None);

    assert_eq!(user.free_all_tables(), 4, "root + pud + pmd + pte of the lower half");
    assert!(arena.in_use() > 1, "the kernel half is still there");
    kernel.free_all_tables();
    assert_eq!(arena.in_use(), 0);
}

#[test]
fn canonical_bounds() {
    assert!(is_canonical(0));
    assert!(is_canonical((1 << 47) - 1));
    assert!(!is_canonical(1 << 47));
    assert!(!is_canonical(0xFFFF_7FFF_FFFF_FFFF));
    assert!(is_canonical(UPPER_HALF_START));
    assert!(is_canonical(u64::MAX));
}

#[test]
fn level_arithmetic() {
    assert_eq!(Level::Pte.shift(), 12);
    assert_eq!(Level::Pmd.entry_size(), M2);
    assert_eq!(Level::Pud.entry_size(), G1);
    assert_eq!(Level::Pgd.shift(), 39);
    assert_eq!(Level::Pgd.index(0xFFFF_8000_0000_0000), 256);
    assert_eq!(Level::Pte.index(0x1_f000), 0x1f);
    assert_eq!(Level::Pmd.addr_end(M2 + K, 10 * M2), 2 * M2);
    assert_eq!(Level::Pmd.addr_end(M2 + K, M2 + 2 * K), M2 + 2 * K);
    assert_eq!(Level::Pgd.addr_end(0xFFFF_FF80_0000_0000, u64::MAX), u64::MAX, "no overflow at the top");
    assert_eq!(PageSize::Size2M.bytes(), M2);
    assert_eq!(PageSize::from_level(Level::Pgd), None);
}

#[test]
#[should_panic(expected = "not allocated")]
fn arena_detects_double_free() {
    let arena = ArenaPhysMem::new();
    let pa = arena.alloc_frame().unwrap();
    arena.free_frame(pa);
    arena.free_frame(pa);
}

#[test]
fn arena_frames_are_zeroed_and_reused() {
    let arena = ArenaPhysMem::new();
    let a = arena.alloc_frame().unwrap();
    assert_eq!(a % 4096, 0);
    assert_ne!(a, 0);
    arena.write_entry(a, 7, 0xdead_b000);
    arena.free_frame(a);
    let b = arena.alloc_frame().unwrap();
    assert_eq!(b, a, "slot reused");
    assert_eq!(arena.read_entry(b, 7), 0, "handed out zeroed");
    assert_eq!((arena.allocated(), arena.freed(), arena.in_use()), (2, 1, 1));
}

/// A protnone leaf (Linux `pte_protnone`): the raw entry has `PRESENT`
/// clear, so the MMU faults on every access to it, yet the page table still
/// treats it as a mapping: it translates to its frame, keeps its page table
/// alive, refuses a second mapping, is unmapped like any leaf, and
/// `protect` makes it present again on the same frame.
#[test]
fn protnone_leaf_is_not_present_to_the_mmu_but_stays_mapped() {
    let arena = ArenaPhysMem::new();
    let tlb = RecordingTlb::new();
    let mut pt = setup(&arena);
    let rw_nx = RW | PteFlags::NO_EXECUTE;
    pt.map(0x5000, FRAME, PageSize::Size4K, rw_nx).unwrap();
    let tables = arena.in_use();
    assert_eq!(protect_now(&mut pt, 0x5000, PteFlags::PROTNONE, &arena, &tlb).unwrap(), rw_nx | PteFlags::PRESENT);
    assert_eq!(tlb.events(), one_leaf_round(0x5000, K, false), "going non-present is flushed");
    let slot = pt.lookup(0x5000).last();
    let e = pt.get(slot);
    assert_eq!(slot.level(), Level::Pte);
    assert_eq!(e.raw() & PteFlags::PRESENT.bits(), 0, "the MMU must see a non-present entry");
    assert!(e.is_protnone() && e.is_present() && !e.is_none() && e.is_leaf(Level::Pte));
    assert_eq!(e.leaf_frame(Level::Pte), FRAME);
    assert_eq!(pt.translate(0x5008), Some(Mapping { pa: FRAME + 8, size: PageSize::Size4K, flags: PteFlags::PROTNONE }));
    assert_eq!(pt.map(0x5000, FRAME + K, PageSize::Size4K, RW), Err(MapError::AlreadyMapped));

    // map() can make one directly (mremap moves entries that way), and its
    // page table stays while a protnone leaf is left in it.
    pt.map(0x6000, FRAME + K, PageSize::Size4K, PteFlags::PROTNONE).unwrap();
    assert!(pt.get(pt.lookup(0x6000).last()).is_protnone());
    assert_eq!(unmap_now(&mut pt, 0x6000, &arena, &tlb).unwrap().pa, FRAME + K);
    assert_eq!(arena.in_use(), tables, "the protnone leaf at 0x5000 keeps its tables");

    // Back to accessible: present again, same frame.
    protect_now(&mut pt, 0x5000, PteFlags::USER | PteFlags::NO_EXECUTE, &arena, &tlb).unwrap();
    let e = pt.get(pt.lookup(0x5000).last());
    assert!(!e.is_protnone() && e.raw() & PteFlags::PRESENT.bits() != 0);
    assert_eq!(
        pt.translate(0x5000).unwrap(),
        Mapping { pa: FRAME, size: PageSize::Size4K, flags: PteFlags::PRESENT | PteFlags::USER | PteFlags::NO_EXECUTE }
    );
    protect_now(&mut pt, 0x5000, PteFlags::PROTNONE, &arena, &tlb).unwrap();
    assert_eq!(
        unmap_now(&mut pt, 0x5000, &arena, &tlb).unwrap(),
        Mapping { pa: FRAME, size: PageSize::Size4K, flags: PteFlags::PROTNONE }
    );
    assert_eq!(arena.in_use(), 1, "tables freed once the last leaf went");
}

#[test]
fn swap_entries_encode_type_and_inverted_offset() {
    for (t, off) in [(0u8, 1u64), (3, 0x1234), (MAX_SWAP_TYPE, MAX_SWAP_OFFSET), (1, 0)] {
        let e = PtEntry::swap(t, off).unwrap();
        assert!(e.is_swap() && e.is_none() && !e.is_clear() && !e.is_present(), "{e:?}");
        assert_eq!(e.swap_entry(), Some((t, off)));
        // Never the address of low memory, where frames live (L1TF).
        assert!(off == MAX_SWAP_OFFSET || e.addr() > 0x000F_0000_0000_0000 || off > 0xffff, "{e:?}");
    }
    assert_eq!(PtEntry::swap(MAX_SWAP_TYPE + 1, 0), None);
    assert_eq!(PtEntry::swap(0, MAX_SWAP_OFFSET + 1), None);
    assert_eq!(PtEntry::NONE.swap_entry(), None);
    assert!(!PtEntry(FRAME | PteFlags::PRESENT.bits() | SWAP_MARK).is_swap(), "a present entry is never a swap entry");
}

#[test]
fn a_swap_entry_replaces_a_pte_keeps_its_table_and_is_never_overwritten() {
    let arena = ArenaPhysMem::new();
    let tlb = RecordingTlb::new();
    let mut pt = setup(&arena);
    pt.map(0x5000, FRAME, PageSize::Size4K, RW).unwrap();
    let swp = PtEntry::swap(1, 42).unwrap();
    let mut g = MmuGather::tlb_gather_mmu();
    let m = pt.set_swap_pte(0x5000, swp, &mut g).unwrap();
    g.tlb_finish_mmu(&arena, &tlb);
    assert_eq!(m.pa, FRAME);
    assert!(tlb.events().contains(&TlbEvent::Page(0x5000)), "the old translation is flushed");
    assert_eq!(pt.translate(0x5000), None, "no frame is mapped");
    assert_eq!(pt.swap_entry_at(0x5000), Some(swp));
    assert_eq!(pt.map(0x5000, FRAME, PageSize::Size4K, RW), Err(MapError::AlreadyMapped));
    // Unmapping a neighbour must not free the table the swap entry is in.
    let tables = arena.in_use();
    pt.map(0x6000, FRAME + K, PageSize::Size4K, RW).unwrap();
    unmap_now(&mut pt, 0x6000, &arena, &tlb).unwrap();
    assert_eq!(arena.in_use(), tables);
    assert_eq!(pt.swap_entry_at(0x5000), Some(swp));
    // Swap-in checks the entry is still the one read.
    assert_eq!(pt.replace_swap_pte(0x5000, PtEntry::swap(1, 43).unwrap(), FRAME, RW), Err(MapError::NotMapped));
    pt.replace_swap_pte(0x5000, swp, FRAME + 2 * K, RW).unwrap();
    assert_eq!(pt.translate(0x5000).unwrap().pa, FRAME + 2 * K);
}

#[test]
fn install_and_clear_swap_entries() {
    let arena = ArenaPhysMem::new();
    let tlb = RecordingTlb::new();
    let mut pt = setup(&arena);
    let swp = PtEntry::swap(0, 7).unwrap();
    let before = arena.in_use();
    pt.install_swap_pte(G1 + 3 * K, swp).unwrap();
    assert_eq!(arena.in_use(), before + 3, "tables allocated down to the PTE");
    assert_eq!(pt.install_swap_pte(G1 + 3 * K, swp), Err(MapError::AlreadyMapped));
    assert_eq!(pt.install_swap_pte(G1 + 5, swp), Err(MapError::Misaligned));
    assert_eq!(pt.install_swap_pte(G1, PtEntry::NONE), Err(MapError::BadPhysAddr));
    let mut g = MmuGather::tlb_gather_mmu();
    assert_eq!(pt.clear_swap_pte(G1 + 3 * K, &mut g), Some(swp));
    assert_eq!(pt.clear_swap_pte(G1 + 3 * K, &mut g), None);
    g.tlb_finish_mmu(&arena, &tlb);
    assert_eq!(arena.in_use(), before, "the emptied tables are freed");
}
