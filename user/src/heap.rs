//! The global allocator: size-class free lists on mmap'd chunks.
//!
//! Requests up to 4 KiB (with alignment up to 4 KiB) are rounded up to a
//! power-of-two class (16 B .. 4 KiB). Each class keeps a singly linked free
//! list threaded through the free blocks themselves; an empty list is refilled
//! by bump-allocating from the current 256 KiB chunk (obtained with mmap and
//! never returned). Larger requests get their own mapping and are unmapped
//! on free. One futex mutex guards the lot: simple, and fine for test loads.

use crate::mem::{self, page_round_up, PAGE_SIZE};
use crate::sync::Mutex;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr;

const MIN_SHIFT: usize = 4; // 16 bytes
const MAX_SHIFT: usize = 12; // 4096 bytes
const CLASSES: usize = MAX_SHIFT - MIN_SHIFT + 1;
const CHUNK: usize = 256 * 1024;

struct State {
    free: [usize; CLASSES],
    bump: usize,
    bump_end: usize,
}

pub struct Heap {
    state: Mutex<State>,
}

#[global_allocator]
static HEAP: Heap = Heap { state: Mutex::new(State { free: [0; CLASSES], bump: 0, bump_end: 0 }) };

fn class_of(layout: &Layout) -> Option<usize> {
    let size = layout.size().max(layout.align()).max(1 << MIN_SHIFT);
    if size > 1 << MAX_SHIFT {
        return None;
    }
    let shift = usize::BITS as usize - (size - 1).leading_zeros() as usize;
    Some(shift.max(MIN_SHIFT) - MIN_SHIFT)
}

impl State {
    fn alloc_small(&mut self, class: usize) -> *mut u8 {
        let head = self.free[class];
        if head != 0 {
            // SAFETY: a free-list entry is a free block we own whose first
            // word holds the next entry.
            self.free[class] = unsafe { ptr::read(head as *const usize) };
            return head as *mut u8;
        }
        let size = 1usize << (class + MIN_SHIFT);
        let mut start = (self.bump + size - 1) & !(size - 1);
        if self.bump == 0 || start + size > self.bump_end {
            match mem::mmap_nofixed(0, CHUNK, mem::prot::RW, mem::map::PRIVATE | mem::map::ANONYMOUS) {
                Ok(a) => {
                    self.bump = a;
                    self.bump_end = a + CHUNK;
                    start = a;
                }
                Err(_) => return ptr::null_mut(),
            }
        }
        self.bump = start + size;
        start as *mut u8
    }

    fn free_small(&mut self, p: *mut u8, class: usize) {
        // SAFETY: `p` is a block of this class being returned by its owner;
        // it is at least 16 bytes and 16-aligned, so a usize fits.
        unsafe { ptr::write(p as *mut usize, self.free[class]) };
        self.free[class] = p as usize;
    }
}

// SAFETY: blocks handed out are disjoint, at least `layout.size()` long and
// aligned to `layout.align()` (class size >= align, classes are power-of-two
// sized and aligned; large blocks are page-aligned and align <= PAGE_SIZE).
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match class_of(&layout) {
            Some(c) => self.state.lock().alloc_small(c),
            None if layout.align() <= PAGE_SIZE => {
                mem::mmap_nofixed(0, page_round_up(layout.size()), mem::prot::RW, mem::map::PRIVATE | mem::map::ANONYMOUS)
                    .map_or(ptr::null_mut(), |a| a as *mut u8)
            }
            None => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        match class_of(&layout) {
            Some(c) => self.state.lock().free_small(p, c),
            // SAFETY: a large block is its own mapping, owned by the caller,
            // who is giving it up.
            None => unsafe {
                let _ = mem::munmap(p as usize, page_round_up(layout.size()));
            },
        }
    }
}
