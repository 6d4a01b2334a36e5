//! The kernel heap: `linked_list_allocator` in a reserved 512 GiB window,
//! grown on demand with frames from the frame allocator.
//!
//! Invariant: `[HEAP.start, HEAP.start + heap.size())` is mapped.
//! When an allocation does not fit, the heap maps at least [`GROW_STEP`]
//! more bytes at its top (only what the allocation needs when free frames
//! are down to the reserve) and extends itself, then retries.
//!
//! Locking: a spin mutex taken with interrupts disabled. Lock order:
//! heap > kmap > frame allocator. Interrupt handlers must not allocate.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, Ordering};
use linked_list_allocator::Heap;
use mm::addr::PAGE_SIZE;
use spin::Mutex;
use x86_64::instructions::interrupts::without_interrupts;

const INITIAL_SIZE: u64 = 1 << 20;
const GROW_STEP: u64 = 1 << 20;
const MAX_SIZE: u64 = 256 << 30;

struct KernelHeap {
    heap: Mutex<Heap>,
}

#[global_allocator]
static HEAP: KernelHeap = KernelHeap { heap: Mutex::new(Heap::empty()) };
static HEAP_START: AtomicU64 = AtomicU64::new(0);

fn map_range(start: u64, len: u64) -> Result<(), &'static str> {
    (start..start + len).step_by(PAGE_SIZE as usize).try_for_each(super::kmap::map_page)
}

/// Reserve the heap window and map its first megabyte.
pub fn init() {
    let start = super::kmap::reserve_pml4_slot().expect("no free kernel PML4 slot for the heap");
    map_range(start, INITIAL_SIZE).expect("map initial heap");
    HEAP_START.store(start, Ordering::Relaxed);
    without_interrupts(|| {
        // SAFETY: [start, start + INITIAL_SIZE) was just mapped, is unused and
        // belongs to the heap from now on.
        unsafe { HEAP.heap.lock().init(start as *mut u8, INITIAL_SIZE as usize) }
    });
}

/// (mapped bytes, used bytes) of the heap.
pub fn stats() -> (u64, u64) {
    without_interrupts(|| {
        let h = crate::sync::lock_irqs_off(&HEAP.heap);
        (h.size() as u64, h.used() as u64)
    })
}

fn grow(heap: &mut Heap, need: u64) -> bool {
    // A step at a time; when memory is short, as many frames as there are
    // (the last ones may be fewer than a step): whatever got mapped joins
    // the heap, and the allocation succeeds if it was enough.
    let need = need.next_multiple_of(PAGE_SIZE);
    // Near the reserve of free frames (which is for allocations like this
    // one), take only what is needed: a whole step would eat it.
    let (_, free) = super::frame::counts();
    let step = if free > super::frame::reserve() + GROW_STEP / PAGE_SIZE { need.max(GROW_STEP) } else { need };
    let by = step.min(MAX_SIZE.saturating_sub(heap.size() as u64));
    let top = heap.top() as u64;
    let mut mapped = 0;
    while mapped < by && super::kmap::map_page(top + mapped).is_ok() {
        mapped += PAGE_SIZE;
    }
    if mapped > 0 {
        // SAFETY: [top, top + mapped) directly follows the heap and was
        // just mapped.
        unsafe { heap.extend(mapped as usize) };
    }
    mapped >= need
}

// SAFETY: allocation is serialised by the mutex; the heap only hands out
// memory inside its mapped window.
unsafe impl GlobalAlloc for KernelHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        without_interrupts(|| {
            let mut heap = crate::sync::lock_irqs_off(&self.heap);
            loop {
                if let Ok(p) = heap.allocate_first_fit(layout) {
                    return p.as_ptr();
                }
                if !grow(&mut heap, (layout.size() + layout.align()) as u64 + PAGE_SIZE) {
                    return core::ptr::null_mut();
                }
            }
        })
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` with this layout (GlobalAlloc contract).
        without_interrupts(|| unsafe { crate::sync::lock_irqs_off(&self.heap).deallocate(NonNull::new_unchecked(ptr), layout) })
    }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use crate::ktest::ktest;
    use alloc::boxed::Box;
    use alloc::vec::Vec;

    #[ktest]
    pub fn large_allocation_grows_heap() {
        let (size0, _) = super::stats();
        let n = 8 << 20;
        let mut v: Vec<u8> = Vec::with_capacity(n);
        v.resize(n, 0x5A);
        assert!(super::stats().0 > size0, "heap did not grow");
        assert!(v.iter().step_by(4093).all(|&b| b == 0x5A));
        assert_eq!(v[n - 1], 0x5A);
    }

    #[ktest]
    pub fn many_small_allocations() {
        let boxes: Vec<Box<u64>> = (0..20_000u64).map(Box::new).collect();
        for (i, b) in boxes.iter().enumerate() {
            assert_eq!(**b, i as u64);
        }
        let (_, used_with) = super::stats();
        drop(boxes);
        let (_, used_after) = super::stats();
        assert!(used_after < used_with, "frees did not return memory");
    }
}
