//! The address-space consistency checker: [`check_mm_invariants`].
//!
//! The kernel calls it after every mm syscall in test builds; host tests
//! call it after every operation. It checks, and describes the first
//! violation found:
//!
//! 1. the vma tree's own invariants ([`VmaTree::check_invariants`](crate::vma::VmaTree::check_invariants));
//! 2. no vma carries the transient `VM_IO` guard of `mlock_vma_pages_range`
//!    unless it is a special mapping (`VM_PFNMAP` too);
//! 3. `total_vm` == pages of all vmas; `locked_vm` == pages of `VM_LOCKED`
//!    vmas;
//! 4. every present pte lies inside a vma (below `TASK_SIZE`, not in a
//!    special vma) and carries exactly the protection bits
//!    [`vm_pte_flags`] gives that vma's flags;
//! 5. no frame is mapped twice; each mapped frame has metadata, a reference
//!    count equal to its number of mappings (1);
//! 6. a frame mapped by a `VM_LOCKED` vma is `MLOCKED` with `mlock_count`
//!    equal to the number of such mappings; a frame mapped by no
//!    `VM_LOCKED` vma is not `MLOCKED` (page_meta's counting is exact here
//!    because Holdfast's pages never leave the LRU, see
//!    [`crate::page_meta`]);
//! 7. `rss` == number of present ptes.
//!
//! Frames that are `MLOCKED` but not mapped by this mm at all cannot be seen
//! from one mm (the metadata array is shared); tests check `nr_mlock`.
//!
//! Locking: takes `mmap_lock` for read when it can get it without waiting
//! (`down_read_trylock`); a caller that holds it already (any mode) or
//! knows the mm is quiescent may call it either way: the check then runs
//! under the inner lock alone, which is enough for a consistent snapshot
//! between operations but may see an operation half done if one is running.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;

use crate::addr::TASK_SIZE;
use crate::mm_struct::{vm_pte_flags, MmStruct, PTE_PROT_MASK};
use crate::mmap::present_ptes;
use crate::pgtable::{PhysMem, TlbFlush};
use crate::rwsem::RwSemBackend;
use crate::vma::VmFlags;

/// Check every invariant listed in the module doc. O(vmas + present pages).
pub fn check_mm_invariants<P: PhysMem + Clone, B: RwSemBackend, T: TlbFlush>(mm: &MmStruct<P, B, T>) -> Result<(), String> {
    let _r = mm.mmap_lock.try_read();
    let meta = mm.page_meta();
    let mut g = mm.lock_inner();
    let inner = &mut *g;
    inner.vmas.check_invariants().map_err(|e| format!("vma tree: {e}"))?;

    let mut total = 0u64;
    let mut locked = 0u64;
    for v in inner.vmas.iter() {
        total += v.pages();
        if v.flags.contains(VmFlags::LOCKED) {
            locked += v.pages();
        }
        if v.flags.contains(VmFlags::IO) && !v.flags.contains(VmFlags::PFNMAP) {
            return Err(format!("vma {:#x}..{:#x} left with the VM_IO guard: {:?}", v.start, v.end, v.flags));
        }
        if v.end > TASK_SIZE {
            return Err(format!("vma {:#x}..{:#x} beyond TASK_SIZE", v.start, v.end));
        }
    }
    if total != inner.total_vm {
        return Err(format!("total_vm is {} but the vmas have {} pages", inner.total_vm, total));
    }
    if locked != inner.locked_vm {
        return Err(format!("locked_vm is {} but VM_LOCKED vmas have {} pages", inner.locked_vm, locked));
    }

    let Some(pt) = inner.pgtable.as_mut() else {
        if inner.rss != 0 {
            return Err(format!("no page table but rss {}", inner.rss));
        }
        return Ok(());
    };
    let ptes = present_ptes(pt, 0, TASK_SIZE);
    if ptes.len() as u64 != inner.rss {
        return Err(format!("rss is {} but {} ptes are present", inner.rss, ptes.len()));
    }
    // frame -> (mappings, locked mappings, first va)
    let mut frames: BTreeMap<u64, (u32, u32, u64)> = BTreeMap::new();
    for &(va, pa, flags) in &ptes {
        let Some(v) = inner.vmas.vma_lookup(va) else {
            return Err(format!("present pte at {va:#x} (frame {pa:#x}) outside any vma"));
        };
        if v.flags.intersects(VmFlags::PFNMAP) {
            return Err(format!("present pte at {va:#x} in a special vma {:?}", v.flags));
        }
        let want = vm_pte_flags(v.flags);
        if flags.intersection(PTE_PROT_MASK) != want {
            return Err(format!(
                "pte at {va:#x} has {:?} but its vma {:#x}..{:#x} ({:?}) wants {:?}",
                flags.intersection(PTE_PROT_MASK),
                v.start,
                v.end,
                v.flags,
                want
            ));
        }
        let entry = frames.entry(pa).or_insert((0, 0, va));
        entry.0 += 1;
        if v.flags.contains(VmFlags::LOCKED) {
            entry.1 += 1;
        }
        if entry.0 > 1 {
            return Err(format!("frame {pa:#x} mapped twice: at {:#x} and {va:#x}", entry.2));
        }
    }
    for (&pa, &(maps, locked_maps, va)) in &frames {
        let Some(folio) = meta.get(pa) else {
            return Err(format!("frame {pa:#x} (at {va:#x}) has no metadata"));
        };
        if folio.page_ref_count() != maps {
            return Err(format!("frame {pa:#x} (at {va:#x}) has refcount {} for {maps} mappings", folio.page_ref_count()));
        }
        let st = folio.state();
        if locked_maps > 0 {
            if !folio.is_mlocked() || st.mlock_count != locked_maps {
                return Err(format!(
                    "frame {pa:#x} (at {va:#x}) in a VM_LOCKED vma: mlocked {} mlock_count {} (want {locked_maps})",
                    folio.is_mlocked(),
                    st.mlock_count
                ));
            }
        } else if folio.is_mlocked() {
            return Err(format!(
                "frame {pa:#x} (at {va:#x}) is MLOCKED (count {}) but no VM_LOCKED vma maps it",
                st.mlock_count
            ));
        }
    }
    Ok(())
}
