//! The compressed in-RAM swap device (`mm::swap::zram`): pages of every
//! kind (incompressible, compressible, zero, same-filled) read back intact;
//! the `mm_stat` counters move as Linux's zram's do; overwrite and discard
//! free the old object; the memory limit and a failed heap allocation
//! refuse a write with `NoSpace` and leave the slot's old contents; a
//! random sequence of writes, reads and discards agrees with a map; four
//! threads on disjoint and shared slots only ever read pages that some
//! writer stored in that slot.
#![cfg(not(loom))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use mm::swap::zram::{Zram, ZramStats, HUGE_CLASS_SIZE};
use mm::swap::{SwapDevice, SwapIoError, SWAP_PAGE_SIZE};
use proptest::prelude::*;

type Page = [u8; SWAP_PAGE_SIZE];

// ---------------------------------------------------------------------
// A global allocator that refuses every allocation of one thread on
// request: an infallible allocation on the refused path aborts the test
// binary instead of passing.

struct Refusing;

thread_local! {
    static REFUSE: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator, or returns null (allowed by
// the GlobalAlloc contract) while this thread refuses.
unsafe impl GlobalAlloc for Refusing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if REFUSE.try_with(|r| r.get()).unwrap_or(false) {
            return std::ptr::null_mut();
        }
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Refusing = Refusing;

/// Run `f` with every heap allocation of this thread refused.
fn refusing<R>(f: impl FnOnce() -> R) -> R {
    REFUSE.with(|r| r.set(true));
    let out = f();
    REFUSE.with(|r| r.set(false));
    out
}

// ---------------------------------------------------------------------
// Pages.

fn xorshift(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    x
}

/// Pseudo-random bytes: LZ4 cannot shrink them.
fn random_page(seed: u64) -> Page {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut p = [0u8; SWAP_PAGE_SIZE];
    for c in p.as_chunks_mut::<8>().0 {
        *c = xorshift(&mut s).to_le_bytes();
    }
    p
}

/// Text-like data with long repeats: compresses well, yet no two 8-byte
/// words of a line are all equal.
fn patterned_page(seed: u64) -> Page {
    let mut p = [0u8; SWAP_PAGE_SIZE];
    let line = format!("record {seed:016x}: the quick brown fox jumps over the lazy dog\n");
    for (i, b) in p.iter_mut().enumerate() {
        *b = line.as_bytes()[i % line.len()];
    }
    p
}

fn same_page(word: u64) -> Page {
    let mut p = [0u8; SWAP_PAGE_SIZE];
    for c in p.as_chunks_mut::<8>().0 {
        *c = word.to_ne_bytes();
    }
    p
}

fn read(z: &Zram, slot: u64) -> Result<Page, SwapIoError> {
    let mut p = [0xa5u8; SWAP_PAGE_SIZE];
    z.read_page(slot, &mut p).map(|()| p)
}

fn zram(nr_slots: u64) -> Zram {
    Zram::new(nr_slots).expect("zram device")
}

/// Counters that must be zero once nothing is stored.
fn assert_empty(s: &ZramStats) {
    assert_eq!(s.pages_stored, 0, "{s:?}");
    assert_eq!(s.orig_data_size, 0, "{s:?}");
    assert_eq!(s.compr_data_size, 0, "{s:?}");
    assert_eq!(s.mem_used_total, 0, "{s:?}");
    assert_eq!(s.same_pages, 0, "{s:?}");
    assert_eq!(s.huge_pages, 0, "{s:?}");
}

// ---------------------------------------------------------------------
// One page of each kind.

#[test]
fn new_device_is_empty() {
    let z = zram(16);
    assert_eq!(z.nr_slots(), 16);
    assert_empty(&z.stats());
    assert_eq!(z.stats().mem_limit, 0);
    for slot in 0..16 {
        assert_eq!(read(&z, slot), Err(SwapIoError::BadSlot), "slot {slot}");
    }
}

#[test]
fn random_page_is_stored_raw() {
    let z = zram(4);
    let p = random_page(1);
    z.write_page(1, &p).unwrap();
    assert_eq!(read(&z, 1).unwrap(), p);
    let s = z.stats();
    println!("random page: {s:?}");
    assert_eq!(s.pages_stored, 1);
    assert_eq!(s.orig_data_size, SWAP_PAGE_SIZE as u64);
    // Linux accounts a huge page as PAGE_SIZE compressed bytes.
    assert_eq!(s.compr_data_size, SWAP_PAGE_SIZE as u64);
    assert!(s.mem_used_total >= SWAP_PAGE_SIZE as u64, "{s:?}");
    assert_eq!(s.huge_pages, 1);
    assert_eq!(s.huge_pages_since, 1);
    assert_eq!(s.same_pages, 0);
}

#[test]
fn patterned_page_is_compressed() {
    let z = zram(4);
    let p = patterned_page(7);
    z.write_page(2, &p).unwrap();
    assert_eq!(read(&z, 2).unwrap(), p);
    let s = z.stats();
    println!("patterned page: {s:?}");
    assert_eq!(s.pages_stored, 1);
    assert_eq!(s.orig_data_size, SWAP_PAGE_SIZE as u64);
    assert!(s.compr_data_size > 0, "{s:?}");
    assert!(s.compr_data_size < HUGE_CLASS_SIZE as u64, "{s:?}");
    assert!(s.compr_data_size < 512, "LZ4 should shrink repeated text a lot: {s:?}");
    assert!(s.mem_used_total >= s.compr_data_size, "{s:?}");
    assert!(s.mem_used_total < SWAP_PAGE_SIZE as u64, "{s:?}");
    assert_eq!(s.huge_pages, 0);
    assert_eq!(s.same_pages, 0);
}

#[test]
fn zero_page_takes_no_memory() {
    let z = zram(4);
    z.write_page(3, &[0u8; SWAP_PAGE_SIZE]).unwrap();
    assert_eq!(read(&z, 3).unwrap(), [0u8; SWAP_PAGE_SIZE]);
    let s = z.stats();
    assert_eq!(s.pages_stored, 1);
    assert_eq!(s.orig_data_size, SWAP_PAGE_SIZE as u64);
    assert_eq!(s.same_pages, 1);
    assert_eq!(s.compr_data_size, 0);
    assert_eq!(s.mem_used_total, 0);
    assert_eq!(s.huge_pages, 0);
}

#[test]
fn same_filled_page_takes_no_memory() {
    let z = zram(4);
    let p = same_page(0xdead_beef_cafe_babe);
    z.write_page(0, &p).unwrap();
    assert_eq!(read(&z, 0).unwrap(), p);
    let s = z.stats();
    assert_eq!(s.same_pages, 1);
    assert_eq!(s.pages_stored, 1);
    assert_eq!(s.mem_used_total, 0);
    assert_eq!(s.compr_data_size, 0);

    // One byte off in the last word: not same-filled, but compressible.
    let mut q = p;
    q[SWAP_PAGE_SIZE - 1] ^= 1;
    z.write_page(1, &q).unwrap();
    assert_eq!(read(&z, 1).unwrap(), q);
    assert_eq!(read(&z, 0).unwrap(), p);
    let s = z.stats();
    assert_eq!(s.same_pages, 1, "{s:?}");
    assert_eq!(s.pages_stored, 2);
    assert!(s.compr_data_size > 0 && s.compr_data_size < HUGE_CLASS_SIZE as u64, "{s:?}");
}

// ---------------------------------------------------------------------
// Overwrite, discard, limits, bad slots.

#[test]
fn overwrite_frees_the_old_object() {
    let z = zram(4);
    z.write_page(1, &random_page(5)).unwrap();
    let huge = z.stats();
    assert_eq!(huge.huge_pages, 1);

    z.write_page(1, &patterned_page(5)).unwrap();
    assert_eq!(read(&z, 1).unwrap(), patterned_page(5));
    let s = z.stats();
    assert_eq!(s.pages_stored, 1, "{s:?}");
    assert_eq!(s.huge_pages, 0, "{s:?}");
    assert_eq!(s.huge_pages_since, 1, "{s:?}");
    assert!(s.mem_used_total < huge.mem_used_total, "{s:?}");
    assert!(s.compr_data_size < huge.compr_data_size, "{s:?}");
    assert_eq!(s.mem_used_max, huge.mem_used_total, "{s:?}");

    z.write_page(1, &[0u8; SWAP_PAGE_SIZE]).unwrap();
    let s = z.stats();
    assert_eq!(s.pages_stored, 1, "{s:?}");
    assert_eq!(s.same_pages, 1, "{s:?}");
    assert_eq!(s.mem_used_total, 0, "{s:?}");
    assert_eq!(s.compr_data_size, 0, "{s:?}");

    z.write_page(1, &random_page(6)).unwrap();
    let s = z.stats();
    assert_eq!(s.same_pages, 0, "{s:?}");
    assert_eq!(s.huge_pages, 1, "{s:?}");
    assert_eq!(s.huge_pages_since, 2, "{s:?}");
    assert_eq!(read(&z, 1).unwrap(), random_page(6));
}

#[test]
fn discard_frees() {
    let z = zram(8);
    z.write_page(1, &random_page(1)).unwrap();
    z.write_page(2, &patterned_page(2)).unwrap();
    z.write_page(3, &same_page(3)).unwrap();
    assert_eq!(z.stats().pages_stored, 3);
    z.discard(2);
    assert_eq!(read(&z, 2), Err(SwapIoError::BadSlot));
    let s = z.stats();
    assert_eq!(s.pages_stored, 2);
    assert_eq!(s.compr_data_size, SWAP_PAGE_SIZE as u64);
    for slot in [1, 3] {
        z.discard(slot);
    }
    // Discarding an empty slot or one outside the device does nothing.
    z.discard(3);
    z.discard(8);
    z.discard(u64::MAX);
    let s = z.stats();
    assert_empty(&s);
    assert!(s.mem_used_max >= SWAP_PAGE_SIZE as u64, "{s:?}");
    assert_eq!(s.huge_pages_since, 1);
    for slot in 0..8 {
        assert_eq!(read(&z, slot), Err(SwapIoError::BadSlot));
    }
}

#[test]
fn bad_slots() {
    let z = zram(8);
    let p = patterned_page(1);
    for slot in [8, 9, u64::MAX] {
        assert_eq!(z.write_page(slot, &p), Err(SwapIoError::BadSlot));
        assert_eq!(read(&z, slot), Err(SwapIoError::BadSlot));
    }
    // An empty slot inside the device.
    assert_eq!(read(&z, 7), Err(SwapIoError::BadSlot));
    // A failed read leaves the caller's buffer alone.
    let mut buf = [0x5au8; SWAP_PAGE_SIZE];
    assert_eq!(z.read_page(7, &mut buf), Err(SwapIoError::BadSlot));
    assert_eq!(buf, [0x5au8; SWAP_PAGE_SIZE]);
    assert_empty(&z.stats());
    // The last slot works.
    z.write_page(7, &p).unwrap();
    assert_eq!(read(&z, 7).unwrap(), p);
}

#[test]
fn mem_limit_refuses_and_keeps_old_contents() {
    let z = zram(8);
    let small = patterned_page(1);
    z.write_page(1, &small).unwrap();
    let used = z.stats().mem_used_total;
    assert!(used > 0 && used < 1024, "{used}");

    z.set_mem_limit(used + 1024);
    assert_eq!(z.stats().mem_limit, used + 1024);
    // A raw page would take 4 KiB: refused, the compressed page stays.
    assert_eq!(z.write_page(1, &random_page(9)), Err(SwapIoError::NoSpace));
    assert_eq!(read(&z, 1).unwrap(), small);
    assert_eq!(z.write_page(2, &random_page(9)), Err(SwapIoError::NoSpace));
    assert_eq!(read(&z, 2), Err(SwapIoError::BadSlot));
    let s = z.stats();
    assert_eq!(s.pages_stored, 1, "{s:?}");
    assert_eq!(s.mem_used_total, used, "{s:?}");
    assert_eq!(s.huge_pages, 0, "{s:?}");
    assert_eq!(s.huge_pages_since, 0, "{s:?}");

    // Same-filled pages need no memory: never refused.
    z.write_page(2, &same_page(42)).unwrap();
    assert_eq!(read(&z, 2).unwrap(), same_page(42));
    // Replacing an object by one of the same size fits under the limit.
    z.write_page(1, &patterned_page(2)).unwrap();
    assert_eq!(read(&z, 1).unwrap(), patterned_page(2));

    // Lifting the limit lets the raw page in.
    z.set_mem_limit(0);
    z.write_page(3, &random_page(9)).unwrap();
    assert_eq!(read(&z, 3).unwrap(), random_page(9));
    assert_eq!(z.stats().huge_pages, 1);
}

#[test]
fn failed_allocation_is_no_space_and_keeps_old_contents() {
    let z = zram(8);
    let old = patterned_page(3);
    z.write_page(1, &old).unwrap();
    z.write_page(2, &random_page(3)).unwrap();
    let before = z.stats();
    let (compressible, incompressible, same) = (patterned_page(4), random_page(4), same_page(4));

    // Results are checked after the refusing window: a failed assertion
    // allocates its message.
    let mut p1 = [0u8; SWAP_PAGE_SIZE];
    let mut p2 = [0u8; SWAP_PAGE_SIZE];
    let mut p3 = [0u8; SWAP_PAGE_SIZE];
    let r = refusing(|| {
        [
            z.write_page(1, &compressible),
            z.write_page(1, &incompressible),
            z.write_page(3, &compressible),
            // Reads, discards and same-filled writes allocate nothing.
            z.read_page(1, &mut p1),
            z.read_page(2, &mut p2),
            z.read_page(3, &mut p3),
            z.write_page(4, &same),
            z.read_page(4, &mut p3),
            {
                z.discard(4);
                Ok(())
            },
        ]
    });
    let no_space = Err(SwapIoError::NoSpace);
    assert_eq!(r, [no_space, no_space, no_space, Ok(()), Ok(()), Err(SwapIoError::BadSlot), Ok(()), Ok(()), Ok(())]);
    assert_eq!(p1, old);
    assert_eq!(p2, random_page(3));
    assert_eq!(p3, same);
    assert_eq!(z.stats(), before);
    assert_eq!(read(&z, 1).unwrap(), old);
    assert_eq!(read(&z, 3), Err(SwapIoError::BadSlot));
    assert_eq!(read(&z, 4), Err(SwapIoError::BadSlot));
}

#[test]
fn new_fails_cleanly_when_the_table_cannot_be_allocated() {
    assert!(refusing(|| Zram::new(16)).is_err());
    assert!(Zram::new(u64::MAX).is_err());
}

#[test]
fn mm_stat_line_has_linux_layout() {
    let z = zram(8);
    z.write_page(1, &random_page(1)).unwrap();
    z.write_page(2, &patterned_page(1)).unwrap();
    z.write_page(3, &same_page(0)).unwrap();
    z.set_mem_limit(1 << 20);
    let s = z.stats();
    let line = z.mm_stat_line();
    println!("mm_stat: {line:?}");
    assert!(line.ends_with('\n'));
    let body = line.strip_suffix('\n').unwrap();
    // "%8llu %8llu ..." : nine fields, each right-aligned in 8 columns.
    let fields: Vec<&str> = body.split(' ').filter(|f| !f.is_empty()).collect();
    assert_eq!(fields.len(), 9, "{line:?}");
    let numbers: Vec<u64> = fields.iter().map(|f| f.parse().unwrap()).collect();
    assert_eq!(
        numbers,
        vec![
            s.orig_data_size,
            s.compr_data_size,
            s.mem_used_total,
            s.mem_limit,
            s.mem_used_max,
            s.same_pages,
            0, // pages_compacted
            s.huge_pages,
            s.huge_pages_since,
        ]
    );
    assert_eq!(&body[..8], format!("{:>8}", s.orig_data_size));
    assert_eq!(body.len(), 9 * 8 + 8, "{line:?}");
}

// ---------------------------------------------------------------------
// Random sequences against a model.

const PROP_SLOTS: u64 = 12;

#[derive(Clone, Debug)]
enum Kind {
    Zero,
    Same(u64),
    Random(u64),
    Patterned(u64),
}

impl Kind {
    fn page(&self) -> Page {
        match *self {
            Kind::Zero => [0u8; SWAP_PAGE_SIZE],
            Kind::Same(w) => same_page(w),
            Kind::Random(s) => random_page(s),
            Kind::Patterned(s) => patterned_page(s),
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Write(u64, Kind),
    Read(u64),
    Discard(u64),
    Limit(u64),
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Zero),
        any::<u64>().prop_map(Kind::Same),
        any::<u64>().prop_map(Kind::Random),
        any::<u64>().prop_map(Kind::Patterned),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    // A few slots past the end of the device.
    let slot = 0..PROP_SLOTS + 2;
    prop_oneof![
        6 => (slot.clone(), kind()).prop_map(|(s, k)| Op::Write(s, k)),
        4 => slot.clone().prop_map(Op::Read),
        2 => slot.prop_map(Op::Discard),
        1 => prop_oneof![Just(0u64), 0u64..5 * SWAP_PAGE_SIZE as u64].prop_map(Op::Limit),
    ]
}

fn is_same(p: &Page) -> bool {
    let words = p.as_chunks::<8>().0;
    words.iter().all(|w| *w == words[0])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_a_map(ops in prop::collection::vec(op(), 1..80)) {
        let z = zram(PROP_SLOTS);
        let mut model: HashMap<u64, Page> = HashMap::new();
        let mut limit = 0u64;
        for op in &ops {
            match op {
                Op::Write(slot, k) => {
                    let page = k.page();
                    let before = z.stats();
                    let r = z.write_page(*slot, &page);
                    if *slot >= PROP_SLOTS {
                        prop_assert_eq!(r, Err(SwapIoError::BadSlot));
                    } else if limit == 0 || is_same(&page) {
                        prop_assert_eq!(r, Ok(()));
                    } else {
                        prop_assert!(r == Ok(()) || r == Err(SwapIoError::NoSpace), "{:?}", r);
                    }
                    match r {
                        Ok(()) => {
                            model.insert(*slot, page);
                            // A write that needs memory never takes the device
                            // past its limit; a same-filled one never adds any.
                            let used = z.stats().mem_used_total;
                            prop_assert!(
                                limit == 0 || used <= limit || (is_same(&page) && used <= before.mem_used_total),
                                "{} > {}", used, limit
                            );
                        }
                        Err(_) => prop_assert_eq!(z.stats(), before),
                    }
                }
                Op::Read(slot) => match model.get(slot) {
                    Some(p) => prop_assert_eq!(&read(&z, *slot).unwrap()[..], &p[..]),
                    None => prop_assert_eq!(read(&z, *slot), Err(SwapIoError::BadSlot)),
                },
                Op::Discard(slot) => {
                    z.discard(*slot);
                    model.remove(slot);
                }
                Op::Limit(bytes) => {
                    z.set_mem_limit(*bytes);
                    limit = *bytes;
                }
            }
            let s = z.stats();
            prop_assert_eq!(s.pages_stored, model.len() as u64);
            prop_assert_eq!(s.orig_data_size, model.len() as u64 * SWAP_PAGE_SIZE as u64);
            prop_assert_eq!(s.same_pages, model.values().filter(|p| is_same(p)).count() as u64);
            prop_assert!(s.mem_used_total >= s.compr_data_size);
            prop_assert!(s.mem_used_max >= s.mem_used_total);
        }
        for slot in 0..PROP_SLOTS {
            match model.get(&slot) {
                Some(p) => prop_assert_eq!(&read(&z, slot).unwrap()[..], &p[..]),
                None => prop_assert_eq!(read(&z, slot), Err(SwapIoError::BadSlot)),
            }
            z.discard(slot);
        }
        let s = z.stats();
        prop_assert_eq!(s.pages_stored, 0);
        prop_assert_eq!(s.compr_data_size, 0);
        prop_assert_eq!(s.mem_used_total, 0);
        prop_assert_eq!(s.same_pages, 0);
        prop_assert_eq!(s.huge_pages, 0);
    }
}

// ---------------------------------------------------------------------
// Threads.

const THREADS: u64 = 4;
const OWN_SLOTS: u64 = 6;
const SHARED_SLOTS: u64 = 4;
const SHARED_BASE: u64 = THREADS * OWN_SLOTS;
const ROUNDS: u32 = 300;

/// The page `writer` stores in `slot` in round `seq`; every kind of page
/// the device handles, each naming its slot, writer and round.
fn tagged_page(slot: u64, writer: u64, seq: u32) -> Page {
    let tag = (slot << 40) | (writer << 32) | u64::from(seq);
    match seq % 3 {
        0 => same_page(tag | 1 << 63),
        1 => {
            let mut p = patterned_page(tag);
            p[..8].copy_from_slice(&tag.to_le_bytes());
            p
        }
        _ => {
            let mut p = random_page(tag);
            p[..8].copy_from_slice(&tag.to_le_bytes());
            p
        }
    }
}

/// Who wrote `p` to `slot`, if it is a page [`tagged_page`] makes for it.
fn decode(slot: u64, p: &Page) -> Option<(u64, u32)> {
    let word = u64::from_le_bytes(p[..8].try_into().unwrap());
    let tag = if is_same(p) { u64::from_ne_bytes(p[..8].try_into().unwrap()) & !(1 << 63) } else { word };
    let (s, writer, seq) = (tag >> 40, (tag >> 32) & 0xff, tag as u32);
    (s == slot && tagged_page(slot, writer, seq) == *p).then_some((writer, seq))
}

#[test]
fn threads_read_only_what_was_written() {
    let z = Arc::new(zram(SHARED_BASE + SHARED_SLOTS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let z = Arc::clone(&z);
            std::thread::spawn(move || {
                let mut rng = 0x1234_5678 + t;
                let mut last: HashMap<u64, u32> = HashMap::new();
                for seq in 1..=ROUNDS {
                    let own = t * OWN_SLOTS + xorshift(&mut rng) % OWN_SLOTS;
                    z.write_page(own, &tagged_page(own, t, seq)).unwrap();
                    last.insert(own, seq);
                    let shared = SHARED_BASE + xorshift(&mut rng) % SHARED_SLOTS;
                    z.write_page(shared, &tagged_page(shared, t, seq)).unwrap();

                    // Own slots: exactly what this thread wrote last.
                    let probe = t * OWN_SLOTS + xorshift(&mut rng) % OWN_SLOTS;
                    match (read(&z, probe), last.get(&probe)) {
                        (Ok(p), Some(&s)) => assert_eq!(decode(probe, &p), Some((t, s))),
                        (Err(e), None) => assert_eq!(e, SwapIoError::BadSlot),
                        (r, l) => panic!("slot {probe}: read {:?}, last write {l:?}", r.map(|_| ())),
                    }
                    // Shared slots: a page some thread wrote there.
                    let probe = SHARED_BASE + xorshift(&mut rng) % SHARED_SLOTS;
                    if let Ok(p) = read(&z, probe) {
                        let (w, _) = decode(probe, &p).expect("a page written to this slot");
                        assert!(w < THREADS);
                    }
                    if seq % 50 == 0 {
                        z.discard(shared);
                    }
                }
                last
            })
        })
        .collect();
    let mut owned = 0;
    for h in handles {
        let last = h.join().expect("thread");
        for (slot, seq) in &last {
            let p = read(&z, *slot).unwrap();
            assert!(decode(*slot, &p).is_some_and(|(_, s)| s == *seq));
        }
        owned += last.len() as u64;
    }
    let s = z.stats();
    assert!(s.pages_stored >= owned && s.pages_stored <= owned + SHARED_SLOTS, "{s:?}");
    for slot in 0..SHARED_BASE + SHARED_SLOTS {
        z.discard(slot);
    }
    assert_empty(&z.stats());
}
