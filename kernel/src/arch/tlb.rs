//! TLB shootdown: invalidating an address space's translations on every
//! CPU that may cache them (Linux `flush_tlb_mm_range`,
//! arch/x86/mm/tlb.c).
//!
//! Which CPUs may cache an address space's translations: those that have
//! its page table loaded. Each CPU publishes the root it has loaded in
//! `LOADED_CR3` *before* writing CR3 ([`note_cr3_load`]); a flusher
//! changes the page table first and then reads every CPU's published root
//! (both sequentially consistent), so a CPU it does not see loads the
//! table only after the change and cannot cache the old entry. A CPU
//! leaves an address space only by loading another root, which drops all
//! its non-global translations, so a CPU found with another root needs
//! nothing. Holdfast does not run kernel threads on a user's table (no
//! lazy TLB mode): the loaded root is always the running thread's.
//!
//! A flush of up to [`FLUSH_CEILING`] pages invalidates page by page
//! (`invlpg`), a larger one reloads CR3 (Linux's
//! `tlb_single_page_flush_ceiling`). Remote CPUs get the request through
//! one global mailbox and a [`TLB_FLUSH_VECTOR`](super::apic::TLB_FLUSH_VECTOR)
//! IPI; the flusher waits until every target has acknowledged, so when a
//! flush returns no CPU holds a stale translation and the caller may free
//! the frames (the mm crate's `mmu_gather` frees only after the flush).
//!
//! Locking: the mailbox is owned by whoever holds `SHOOTDOWN`. Waiting,
//! for the mailbox or for acknowledgements, happens with interrupts
//! disabled, so every such wait also answers the requests addressed to
//! this CPU ([`service`]): two CPUs flushing at once never wait on each
//! other. A flush must not be started while holding a lock that another
//! CPU may spin for with interrupts disabled (an `IrqMutex`); the mm
//! crate flushes under its own `inner` lock, which is taken with
//! interrupts enabled.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use super::percpu::{self, MAX_CPUS};

/// Largest flush done entry by entry; above it CPUs reload CR3.
pub const FLUSH_CEILING: u64 = mm::pgtable::TLB_SINGLE_PAGE_FLUSH_CEILING;

/// The root each CPU has loaded (0: not online yet).
static LOADED_CR3: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

/// Serializes shootdowns: its holder owns the mailbox below.
static SHOOTDOWN: spin::Mutex<()> = spin::Mutex::new(());
/// The request in the mailbox: address space, first page, end (exclusive;
/// `u64::MAX` means everything).
static REQ_CR3: AtomicU64 = AtomicU64::new(0);
static REQ_START: AtomicU64 = AtomicU64::new(0);
static REQ_END: AtomicU64 = AtomicU64::new(0);
static REQ_STRIDE: AtomicU64 = AtomicU64::new(12);
/// CPUs that have not yet acknowledged the request in the mailbox.
static PENDING: AtomicU64 = AtomicU64::new(0);

/// Counters for tests and `/proc`: shootdown rounds started, IPIs sent,
/// remote flushes done.
static ROUNDS: AtomicU64 = AtomicU64::new(0);
static IPIS_SENT: AtomicU64 = AtomicU64::new(0);
static REMOTE_FLUSHES: AtomicU64 = AtomicU64::new(0);

/// Publish that this CPU is about to load `cr3`. Interrupts disabled; call
/// right before the CR3 write.
pub fn note_cr3_load(cr3: u64) {
    LOADED_CR3[percpu::cpu_index()].store(cr3, Ordering::SeqCst);
}

/// Flush the translations of `[start, end)`, whose entries are
/// `1 << stride_shift` bytes apart, on this CPU: one `invlpg` per entry up
/// to [`FLUSH_CEILING`] entries, a CR3 reload above (and for `end ==
/// u64::MAX`).
fn flush_local(start: u64, end: u64, stride_shift: u32) {
    let stride = 1u64 << stride_shift;
    let strides = end.saturating_sub(start).div_ceil(stride);
    if end == u64::MAX || strides > FLUSH_CEILING {
        x86_64::instructions::tlb::flush_all();
    } else {
        let mut va = start;
        while va < end {
            x86_64::instructions::tlb::flush(x86_64::VirtAddr::new_truncate(va));
            va += stride;
        }
    }
}

/// Answer the request in the mailbox if it is addressed to this CPU.
/// Interrupts disabled.
fn service() {
    let me = 1u64 << percpu::cpu_index();
    if PENDING.load(Ordering::Acquire) & me == 0 {
        return;
    }
    let cr3 = REQ_CR3.load(Ordering::Acquire);
    if super::current_page_table() == cr3 {
        flush_local(REQ_START.load(Ordering::Acquire), REQ_END.load(Ordering::Acquire), REQ_STRIDE.load(Ordering::Acquire) as u32);
        REMOTE_FLUSHES.fetch_add(1, Ordering::Relaxed);
    }
    PENDING.fetch_and(!me, Ordering::AcqRel);
}

/// The TLB-flush IPI.
pub(super) fn handle_flush_ipi() {
    service();
}

/// Answer a shootdown request addressed to this CPU, if one waits: what a
/// CPU spinning with interrupts disabled does between attempts
/// (`sync::spin_irqs_off`). Interrupts disabled.
pub fn poll() {
    if percpu::nr_online() > 1 {
        service();
    }
}

/// Flush `[start, end)` (entries `1 << stride_shift` bytes apart; `end ==
/// u64::MAX`: everything) of the address space rooted at `cr3` on every
/// CPU that has it loaded, and return when all have done so: one IPI round
/// for the whole range. `cr3 == 0` names a table that no CPU but possibly
/// this one can have loaded (a table being built or torn down by its only
/// user).
pub fn flush_range(cr3: u64, start: u64, end: u64, stride_shift: u32) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let me = percpu::cpu_index();
        if cr3 == 0 || super::current_page_table() == cr3 {
            flush_local(start, end, stride_shift);
        }
        if cr3 == 0 || percpu::nr_online() < 2 {
            return;
        }
        // The page-table change is ordered before the reads below.
        core::sync::atomic::fence(Ordering::SeqCst);
        let targets = remote_targets(cr3, me);
        if targets == 0 {
            return;
        }
        let guard = loop {
            if let Some(g) = SHOOTDOWN.try_lock() {
                break g;
            }
            service();
            core::hint::spin_loop();
        };
        // Re-read: CPUs may have switched away while this one waited.
        let targets = remote_targets(cr3, me);
        REQ_CR3.store(cr3, Ordering::Release);
        REQ_START.store(start, Ordering::Release);
        REQ_END.store(end, Ordering::Release);
        REQ_STRIDE.store(stride_shift as u64, Ordering::Release);
        PENDING.store(targets, Ordering::Release);
        ROUNDS.fetch_add(1, Ordering::Relaxed);
        for cpu in 0..MAX_CPUS {
            if targets & (1 << cpu) != 0 {
                if let Some(c) = percpu::cpu(cpu) {
                    super::apic::send_ipi(c.apic_id, super::apic::TLB_FLUSH_VECTOR);
                    IPIS_SENT.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        while PENDING.load(Ordering::Acquire) != 0 {
            core::hint::spin_loop();
        }
        drop(guard);
    });
}

/// CPUs other than `me` that have `cr3` loaded, as a bit mask.
fn remote_targets(cr3: u64, me: usize) -> u64 {
    (0..percpu::nr_online().min(MAX_CPUS))
        .filter(|&c| c != me && LOADED_CR3[c].load(Ordering::SeqCst) == cr3)
        .fold(0, |m, c| m | (1 << c))
}

/// Does any CPU have the page table rooted at `cr3` loaded? (Before an
/// address space's tables are freed, none may.)
pub fn loaded_anywhere(cr3: u64) -> bool {
    LOADED_CR3.iter().take(percpu::nr_online().max(1)).any(|c| c.load(Ordering::SeqCst) == cr3)
}

/// Shootdown counters: (rounds, IPIs sent, remote flushes done).
pub fn stats() -> (u64, u64, u64) {
    (ROUNDS.load(Ordering::Relaxed), IPIS_SENT.load(Ordering::Relaxed), REMOTE_FLUSHES.load(Ordering::Relaxed))
}

/// The mm crate's TLB maintenance for one address space: flushes go to
/// every CPU that has it loaded ([`flush_range`]). The root is set once
/// the address space's page table exists ([`KernelTlb::set_root`]);
/// before that, and for [`KernelTlb::local`], only this CPU flushes.
#[derive(Clone, Debug, Default)]
pub struct KernelTlb {
    root: Arc<AtomicU64>,
}

impl KernelTlb {
    /// Flushes for a table no other CPU can have loaded.
    #[cfg(feature = "ktest")]
    pub fn local() -> KernelTlb {
        KernelTlb::default()
    }

    /// Name the page table this instance flushes for. `self` and its
    /// clones share the root.
    pub fn set_root(&self, cr3: u64) {
        self.root.store(cr3, Ordering::SeqCst);
    }
}

/// The mm flushes through its `MmuGather`, one `flush_range` per
/// operation; freed page tables need nothing beyond the flush, since no
/// CPU runs on a user table lazily (see the module doc).
impl mm::pgtable::TlbFlush for KernelTlb {
    fn flush_page(&self, va: u64) {
        let va = va & !0xFFF;
        flush_range(self.root.load(Ordering::SeqCst), va, va + 4096, 12);
    }

    fn flush_all(&self) {
        flush_range(self.root.load(Ordering::SeqCst), 0, u64::MAX, 12);
    }

    fn flush_range(&self, start: u64, end: u64, stride_shift: u32, _freed_tables: bool) {
        flush_range(self.root.load(Ordering::SeqCst), start, end, stride_shift);
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::arch::extable::probe_read_u64;
    use crate::ktest::ktest;
    use crate::memory::phys::KernelPhys;
    use crate::sched::{self, Thread, ThreadState};
    use alloc::string::String;
    use core::sync::atomic::{AtomicBool, AtomicU32};
    use mm::pgtable::{PageSize, PageTable, PteFlags};

    const VA: u64 = 0x5000_0000;
    /// What the reader saw at VA: 0 not yet, else the value, or FAULTED.
    static SEEN: AtomicU64 = AtomicU64::new(0);
    /// 1: read once more now; 2: stop.
    static STEP: AtomicU32 = AtomicU32::new(0);
    static READY: AtomicBool = AtomicBool::new(false);
    const FAULTED: u64 = u64::MAX;

    /// Runs on CPU 1 on the test's page table: reads VA (caching its
    /// translation), then spins without switching until told to read once
    /// more, and reports what that read found.
    fn reader() -> ! {
        SEEN.store(probe_read_u64(VA).unwrap_or(FAULTED), Ordering::SeqCst);
        READY.store(true, Ordering::SeqCst);
        while STEP.load(Ordering::SeqCst) == 0 {
            core::hint::spin_loop();
        }
        SEEN.store(probe_read_u64(VA).unwrap_or(FAULTED), Ordering::SeqCst);
        sched::exit_current();
    }

    /// Map VA on a fresh table, let a thread on CPU 1 read it, unmap it
    /// here with `tlb`, put new contents in the old frame (as a reuse
    /// would), and return what CPU 1's second read found.
    fn unmap_while_cached_elsewhere(tlb_root_known: bool) -> u64 {
        let kernel = crate::arch::kernel_page_table();
        let mut pt = PageTable::new_with_kernel_half(KernelPhys, kernel).expect("page table");
        let frame = crate::memory::frame::alloc_zeroed().expect("frame");
        let poke = |v: u64| {
            // SAFETY: the frame is this test's own, reached through the
            // physical-memory mapping.
            unsafe { core::ptr::write_volatile(crate::memory::phys_to_virt(frame) as *mut u64, v) }
        };
        poke(0x1111);
        pt.map(VA, frame, PageSize::Size4K, PteFlags::WRITABLE | PteFlags::NO_EXECUTE).expect("map");
        let tlb = KernelTlb::default();
        if tlb_root_known {
            tlb.set_root(pt.root_pa());
        }
        SEEN.store(0, Ordering::SeqCst);
        STEP.store(0, Ordering::SeqCst);
        READY.store(false, Ordering::SeqCst);
        let t = Thread::new(crate::sched::thread::alloc_tid(), String::from("tlb-reader"));
        t.affinity.store(1 << 1, Ordering::SeqCst);
        t.cpu.store(1, Ordering::SeqCst);
        t.cr3.store(pt.root_pa(), Ordering::SeqCst);
        let t = sched::spawn(t, reader);
        while !READY.load(Ordering::SeqCst) {
            sched::yield_now();
        }
        assert_eq!(SEEN.load(Ordering::SeqCst), 0x1111, "CPU 1 did not read the mapped page");
        let mut gather = mm::mmu_gather::MmuGather::tlb_gather_mmu();
        pt.unmap(VA, &mut gather).expect("unmap");
        gather.tlb_finish_mmu(&KernelPhys, &tlb);
        poke(0x2222);
        STEP.store(1, Ordering::SeqCst);
        while t.state() != ThreadState::Dead {
            sched::yield_now();
        }
        let seen = SEEN.load(Ordering::SeqCst);
        pt.free_all_tables();
        crate::memory::frame::free(frame).unwrap();
        seen
    }

    /// After an unmap on one CPU returns, another CPU that had the page's
    /// translation cached faults on it instead of reading the frame's new
    /// contents. The control run flushes only this CPU and shows the
    /// stale read the shootdown prevents.
    #[ktest]
    pub fn unmap_is_seen_by_every_cpu_that_cached_it() {
        if percpu::nr_online() < 2 {
            log::info!("tlb: one CPU online; nothing to shoot down");
            return;
        }
        let (rounds0, ..) = stats();
        assert_eq!(unmap_while_cached_elsewhere(false), 0x2222, "control: a local-only flush left CPU 1 a stale translation");
        assert_eq!(stats().0, rounds0, "the local-only flush sent no IPI");
        assert_eq!(unmap_while_cached_elsewhere(true), FAULTED, "CPU 1 read through a stale translation after the unmap returned");
        assert!(stats().0 > rounds0, "no shootdown round");
    }
}
