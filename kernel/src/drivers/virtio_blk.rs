//! virtio-blk over the legacy (virtio 0.9.5, "transitional") PCI
//! transport, as the swap disk: QEMU's `virtio-blk-pci` on a PCI slot
//! offers it next to the virtio 1.0 transport, and it needs only an I/O
//! BAR and one physically contiguous ring.
//!
//! The device: PCI vendor 0x1af4, device 0x1001. Its registers are in I/O
//! BAR 0 (see the `REG_*` offsets); the block device's configuration
//! (capacity in 512-byte sectors) follows them at 0x14, MSI-X being off.
//!
//! One virtqueue (queue 0) in the legacy layout: descriptor table, then
//! the available ring, then, at the next 4 KiB boundary, the used ring, in
//! one [`DmaRegion`]. Requests are three-descriptor chains (header, data,
//! status) set up once per request slot: slot `i` owns descriptors `3i`,
//! `3i + 1`, `3i + 2`, a 16-byte header and a status byte in the shared
//! header page, and a 4 KiB data page (a bounce buffer: callers' pages
//! need not be physically contiguous). A transfer is always one 4 KiB
//! page, eight sectors.
//!
//! Features: `VIRTIO_BLK_F_FLUSH` is accepted when offered, which keeps
//! QEMU's write cache on; no flush is ever sent, since swap contents do
//! not outlive the boot. A read-only device (`VIRTIO_BLK_F_RO`) is not
//! used for swap. Nothing else is negotiated (no indirect descriptors, no
//! event index).
//!
//! Completion is by polling the used ring: the avail ring asks the device
//! for no interrupts (`VRING_AVAIL_F_NO_INTERRUPT`). A waiter holds no
//! lock while the device works: it takes the queue lock to submit, drops
//! it, notifies the device, and then retakes it briefly, each time round,
//! to reap completed requests (its own or other threads'); between looks it
//! yields the CPU (the `relax` service) if interrupts are enabled. Several
//! threads may have requests in flight at once, up to the number of slots.
//! A request the device has not completed within [`TIMEOUT_NS`] fails with
//! [`SwapIoError::Io`], and so does every later request (the device is
//! taken to be dead); its slot stays with the device (abandoned) until
//! the device completes it or is reset, so a late completion never lands
//! in memory that was given back.
//!
//! Errors are `Err`, never panics: no device, no usable BAR or queue, a
//! status byte other than `VIRTIO_BLK_S_OK`, a timeout, a slot outside the
//! swap area.
//!
//! Locking: [`Queue`]'s [`IrqMutex`] covers the ring indices, the slot
//! states and the slots' header, status and data pages; it is held for
//! ring bookkeeping and 4 KiB copies only, never across the device's work.
//! The notify register write needs no lock.

use super::pci::{self, IoPorts, PciDevice, PCI_COMMAND_IO, PCI_COMMAND_MASTER};
use crate::memory::dma::DmaRegion;
use crate::sync::IrqMutex;
use alloc::sync::Arc;
use core::sync::atomic::{fence, Ordering};
use mm::swap::header::{self, SwapHeader};
use mm::swap::{SwapDevice, SwapIoError, SWAP_PAGE_SIZE};

const VIRTIO_VENDOR: u16 = 0x1af4;
/// The transitional virtio-blk device id (the legacy transport's).
const VIRTIO_BLK_LEGACY_ID: u16 = 0x1001;

// Legacy register offsets in I/O BAR 0.
const REG_DEVICE_FEATURES: u16 = 0x00;
const REG_DRIVER_FEATURES: u16 = 0x04;
const REG_QUEUE_PFN: u16 = 0x08;
const REG_QUEUE_SIZE: u16 = 0x0c;
const REG_QUEUE_SELECT: u16 = 0x0e;
const REG_QUEUE_NOTIFY: u16 = 0x10;
const REG_STATUS: u16 = 0x12;
/// The device-specific configuration, without MSI-X.
const REG_CONFIG: u16 = 0x14;

// Device status bits.
const STATUS_ACKNOWLEDGE: u8 = 1;
const STATUS_DRIVER: u8 = 2;
const STATUS_DRIVER_OK: u8 = 4;
const STATUS_NEEDS_RESET: u8 = 64;
const STATUS_FAILED: u8 = 128;

const VIRTIO_BLK_F_RO: u32 = 1 << 5;
const VIRTIO_BLK_F_FLUSH: u32 = 1 << 9;

const VIRTIO_BLK_T_IN: u32 = 0;
const VIRTIO_BLK_T_OUT: u32 = 1;
const VIRTIO_BLK_S_OK: u8 = 0;

const VRING_DESC_F_NEXT: u16 = 1;
const VRING_DESC_F_WRITE: u16 = 2;
const VRING_AVAIL_F_NO_INTERRUPT: u16 = 1;

/// The legacy transport's ring alignment (and page-frame unit).
const VRING_ALIGN: usize = 4096;
const SECTOR_SIZE: u64 = 512;
const SECTORS_PER_PAGE: u64 = SWAP_PAGE_SIZE as u64 / SECTOR_SIZE;

/// Most requests in flight at once.
const MAX_SLOTS: usize = 16;
/// A request not completed by then fails.
pub const TIMEOUT_NS: u64 = 10_000_000_000;

/// What the driver needs from the layers above it, registered at boot.
#[derive(Clone, Copy)]
pub struct Services {
    /// Let other threads run while waiting for the device.
    pub relax: fn(),
    /// Nanoseconds since boot, for timeouts.
    pub now_ns: fn() -> u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Free,
    /// Submitted; its thread waits for it.
    InFlight,
    /// The device completed it; its thread has not looked yet.
    Done,
    /// Its thread gave up (timeout); freed when the device completes it.
    Abandoned,
}

/// The ring state the queue lock covers.
struct Queue {
    /// Next free entry of the avail ring (free-running).
    avail_idx: u16,
    /// Used-ring entries consumed so far (free-running).
    last_used: u16,
    slots: [Slot; MAX_SLOTS],
    /// A request timed out: the device is taken to be dead, and every
    /// later request fails at once rather than after another timeout.
    broken: bool,
}

/// A transfer's direction and the caller's page.
enum Buf<'a> {
    /// Read into this page.
    In(&'a mut [u8; SWAP_PAGE_SIZE]),
    /// Write this page.
    Out(&'a [u8; SWAP_PAGE_SIZE]),
}

/// One virtio-blk device with its one queue.
pub struct VirtioBlk {
    pub bdf: pci::Bdf,
    ports: IoPorts,
    /// Capacity in 512-byte sectors.
    capacity: u64,
    queue_size: u16,
    nr_slots: usize,
    /// Descriptors, avail ring, used ring.
    ring: DmaRegion,
    used_offset: usize,
    /// Page 0: the slots' headers (32 bytes each: 16 header, 1 status);
    /// page `1 + i`: slot `i`'s data.
    bufs: DmaRegion,
    queue: IrqMutex<Queue>,
    services: Services,
}

fn desc_offset(i: usize) -> usize {
    16 * i
}

impl VirtioBlk {
    /// Reset and set up the device at `dev`.
    fn new(dev: &PciDevice, services: Services) -> Result<VirtioBlk, &'static str> {
        let ports = IoPorts::from_bar(dev, 0).ok_or("BAR 0 is not an I/O BAR")?;
        dev.enable(PCI_COMMAND_IO | PCI_COMMAND_MASTER);
        // Reset, then acknowledge (virtio 0.9.5, 2.2.1 Device Initialization).
        ports.write8(REG_STATUS, 0);
        if ports.read8(REG_STATUS) != 0 {
            return Err("device did not reset");
        }
        ports.write8(REG_STATUS, STATUS_ACKNOWLEDGE);
        ports.write8(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
        let offered = ports.read32(REG_DEVICE_FEATURES);
        if offered & VIRTIO_BLK_F_RO != 0 {
            ports.write8(REG_STATUS, STATUS_FAILED);
            return Err("device is read-only");
        }
        ports.write32(REG_DRIVER_FEATURES, offered & VIRTIO_BLK_F_FLUSH);

        ports.write16(REG_QUEUE_SELECT, 0);
        let queue_size = ports.read16(REG_QUEUE_SIZE);
        if queue_size < 3 {
            ports.write8(REG_STATUS, STATUS_FAILED);
            return Err("device has no queue 0");
        }
        let n = usize::from(queue_size);
        let avail_end = desc_offset(n) + 4 + 2 * n + 2;
        let used_offset = avail_end.next_multiple_of(VRING_ALIGN);
        let ring_len = used_offset + (4 + 8 * n + 2).next_multiple_of(VRING_ALIGN);
        let fail = |why| {
            ports.write8(REG_STATUS, STATUS_FAILED);
            why
        };
        let ring = DmaRegion::new((ring_len / VRING_ALIGN) as u64).ok_or_else(|| fail("no memory for the ring"))?;
        let nr_slots = (n / 3).min(MAX_SLOTS);
        let bufs = DmaRegion::new(1 + nr_slots as u64).ok_or_else(|| fail("no memory for request buffers"))?;
        let pfn = u32::try_from(ring.pa() / VRING_ALIGN as u64).map_err(|_| fail("ring above 16 TiB"))?;

        // Each slot's chain, fixed from now on but for the data
        // descriptor's direction.
        for i in 0..nr_slots {
            let d = 3 * i;
            let header = bufs.pa() + 32 * i as u64;
            let data = bufs.pa() + SWAP_PAGE_SIZE as u64 * (1 + i as u64);
            for (k, (addr, len, flags)) in
                [(header, 16, VRING_DESC_F_NEXT), (data, SWAP_PAGE_SIZE as u32, VRING_DESC_F_NEXT), (header + 16, 1, VRING_DESC_F_WRITE)]
                    .into_iter()
                    .enumerate()
            {
                let off = desc_offset(d + k);
                ring.write_u64(off, addr);
                ring.write_u32(off + 8, len);
                ring.write_u16(off + 12, flags);
                ring.write_u16(off + 14, (d + k + 1) as u16);
            }
        }
        ring.write_u16(desc_offset(n), VRING_AVAIL_F_NO_INTERRUPT);
        fence(Ordering::SeqCst);
        ports.write32(REG_QUEUE_PFN, pfn);
        ports.write8(REG_STATUS, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_DRIVER_OK);
        if ports.read8(REG_STATUS) & (STATUS_FAILED | STATUS_NEEDS_RESET) != 0 {
            // Reset: the device lets go of the ring before it is freed.
            ports.write8(REG_STATUS, 0);
            return Err("device refused the driver");
        }
        let capacity = u64::from(ports.read32(REG_CONFIG)) | u64::from(ports.read32(REG_CONFIG + 4)) << 32;
        Ok(VirtioBlk {
            bdf: dev.bdf,
            ports,
            capacity,
            queue_size,
            nr_slots,
            ring,
            used_offset,
            bufs,
            queue: IrqMutex::new(Queue { avail_idx: 0, last_used: 0, slots: [Slot::Free; MAX_SLOTS], broken: false }),
            services,
        })
    }

    /// Size in bytes.
    pub fn capacity_bytes(&self) -> u64 {
        self.capacity * SECTOR_SIZE
    }

    /// Whole 4 KiB pages on the device.
    pub fn nr_pages(&self) -> u64 {
        self.capacity / SECTORS_PER_PAGE
    }

    /// Mark every request the device completed since the last look.
    fn reap(&self, q: &mut Queue) {
        let n = usize::from(self.queue_size);
        loop {
            let used_idx = self.ring.read_u16(self.used_offset + 2);
            if used_idx == q.last_used {
                return;
            }
            // Read the entry only after seeing the index (rmb).
            fence(Ordering::SeqCst);
            let entry = self.used_offset + 4 + 8 * (usize::from(q.last_used) % n);
            let head = self.ring.read_u32(entry) as usize;
            q.last_used = q.last_used.wrapping_add(1);
            match q.slots.get_mut(head / 3) {
                Some(s) if head % 3 == 0 && *s == Slot::InFlight => *s = Slot::Done,
                Some(s) if head % 3 == 0 && *s == Slot::Abandoned => *s = Slot::Free,
                _ => log::error!("virtio-blk {}: used ring names descriptor {head}, not in flight", self.bdf),
            }
        }
    }

    fn wait_a_little(&self) {
        if x86_64::instructions::interrupts::are_enabled() {
            (self.services.relax)();
        } else {
            core::hint::spin_loop();
        }
    }

    /// Transfer one page at page number `page` of the device: `buf`'s
    /// page is copied to the device, or filled from it.
    ///
    /// Must not be called with a spin lock held: it waits (yielding) for
    /// the device.
    fn transfer(&self, page: u64, mut buf: Buf<'_>) -> Result<(), SwapIoError> {
        if page >= self.nr_pages() {
            return Err(SwapIoError::BadSlot);
        }
        let deadline = (self.services.now_ns)().saturating_add(TIMEOUT_NS);
        // Take a slot and make the request available.
        let slot = loop {
            let mut q = self.queue.lock();
            if q.broken {
                return Err(SwapIoError::Io);
            }
            self.reap(&mut q);
            if let Some(i) = q.slots[..self.nr_slots].iter().position(|s| *s == Slot::Free) {
                q.slots[i] = Slot::InFlight;
                let header = 32 * i;
                self.bufs.write_u32(header, if matches!(buf, Buf::Out(_)) { VIRTIO_BLK_T_OUT } else { VIRTIO_BLK_T_IN });
                self.bufs.write_u32(header + 4, 0);
                self.bufs.write_u64(header + 8, page * SECTORS_PER_PAGE);
                // Not a status the device writes: a completion without
                // one shows.
                self.bufs.write_u8(header + 16, 0xff);
                let data_flags = match buf {
                    Buf::In(_) => VRING_DESC_F_NEXT | VRING_DESC_F_WRITE,
                    Buf::Out(src) => {
                        self.bufs.copy_in(SWAP_PAGE_SIZE * (1 + i), src);
                        VRING_DESC_F_NEXT
                    }
                };
                self.ring.write_u16(desc_offset(3 * i + 1) + 12, data_flags);
                let n = usize::from(self.queue_size);
                let avail = desc_offset(n);
                self.ring.write_u16(avail + 4 + 2 * (usize::from(q.avail_idx) % n), (3 * i) as u16);
                // The entry before the index (wmb).
                fence(Ordering::SeqCst);
                q.avail_idx = q.avail_idx.wrapping_add(1);
                self.ring.write_u16(avail + 2, q.avail_idx);
                fence(Ordering::SeqCst);
                break i;
            }
            drop(q);
            if (self.services.now_ns)() > deadline {
                return Err(SwapIoError::Io);
            }
            self.wait_a_little();
        };
        self.ports.write16(REG_QUEUE_NOTIFY, 0);
        // Wait for it, holding no lock in between looks.
        loop {
            {
                let mut q = self.queue.lock();
                self.reap(&mut q);
                if q.slots[slot] == Slot::Done {
                    let status = self.bufs.read_u8(32 * slot + 16);
                    if let (Buf::In(dst), VIRTIO_BLK_S_OK) = (&mut buf, status) {
                        self.bufs.copy_out(SWAP_PAGE_SIZE * (1 + slot), &mut dst[..]);
                    }
                    q.slots[slot] = Slot::Free;
                    return if status == VIRTIO_BLK_S_OK { Ok(()) } else { Err(SwapIoError::Io) };
                }
                if (self.services.now_ns)() > deadline {
                    q.slots[slot] = Slot::Abandoned;
                    q.broken = true;
                    log::error!("virtio-blk {}: page {page} timed out; no further requests", self.bdf);
                    return Err(SwapIoError::Io);
                }
            }
            self.wait_a_little();
        }
    }

    /// Read device page `page` into `buf`.
    pub fn read_page(&self, page: u64, buf: &mut [u8; SWAP_PAGE_SIZE]) -> Result<(), SwapIoError> {
        self.transfer(page, Buf::In(buf))
    }

    /// Write `buf` to device page `page`.
    pub fn write_page(&self, page: u64, buf: &[u8; SWAP_PAGE_SIZE]) -> Result<(), SwapIoError> {
        self.transfer(page, Buf::Out(buf))
    }
}

impl Drop for VirtioBlk {
    /// Reset the device first: it then no longer reads or writes the
    /// ring and buffers (requests abandoned after a timeout included)
    /// when their frames are freed.
    fn drop(&mut self) {
        self.ports.write8(REG_STATUS, 0);
    }
}

/// A virtio-blk disk used whole as a swap area: slot N is bytes
/// `[N * 4096, (N + 1) * 4096)`; the Linux swap header in slot 0 says how
/// many slots there are and which are bad.
pub struct SwapDisk {
    disk: VirtioBlk,
    header: SwapHeader,
}

impl SwapDisk {
    /// The parsed swap header.
    #[cfg_attr(not(feature = "ktest"), allow(dead_code))]
    pub fn header(&self) -> &SwapHeader {
        &self.header
    }

    fn check(&self, slot: u64) -> Result<(), SwapIoError> {
        if self.header.is_bad(slot) {
            Err(SwapIoError::BadSlot)
        } else {
            Ok(())
        }
    }
}

impl SwapDevice for SwapDisk {
    fn nr_slots(&self) -> u64 {
        self.header.nr_slots()
    }

    fn write_page(&self, slot: u64, page: &[u8; SWAP_PAGE_SIZE]) -> Result<(), SwapIoError> {
        self.check(slot)?;
        self.disk.write_page(slot, page)
    }

    fn read_page(&self, slot: u64, page: &mut [u8; SWAP_PAGE_SIZE]) -> Result<(), SwapIoError> {
        self.check(slot)?;
        self.disk.read_page(slot, page)
    }

    /// A disk keeps stale slots; nothing to do.
    fn discard(&self, _slot: u64) {}
}

static SWAP_DISK: spin::Once<Option<Arc<SwapDisk>>> = spin::Once::new();

/// A virtio-blk disk was found and set up (with or without a swap header).
static DISK_PRESENT: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Whether a virtio-blk disk was found at boot, swap header or not
/// (`swapon` of a disk without one is `EINVAL`, of none `ENOENT`).
pub fn disk_present() -> bool {
    DISK_PRESENT.load(core::sync::atomic::Ordering::Acquire)
}

/// Find the first legacy virtio-blk device, set it up and read its swap
/// header. Logs what it found; no device, or no swap header, is not an
/// error: there is then simply no swap disk.
pub fn init(services: Services) {
    SWAP_DISK.call_once(|| {
        let dev = pci::find(VIRTIO_VENDOR, &[VIRTIO_BLK_LEGACY_ID])?;
        let disk = match VirtioBlk::new(&dev, services) {
            Ok(d) => d,
            Err(why) => {
                log::warn!("virtio-blk at pci {}: {why}", dev.bdf);
                return None;
            }
        };
        DISK_PRESENT.store(true, core::sync::atomic::Ordering::Release);
        let mut page = [0u8; SWAP_PAGE_SIZE];
        let mib = disk.capacity_bytes() >> 20;
        if let Err(e) = disk.read_page(0, &mut page) {
            log::warn!("virtio-blk: {mib} MiB at pci {}, reading the swap header: {e:?}", dev.bdf);
            return None;
        }
        match header::parse(&page, disk.nr_pages()) {
            Ok(header) => {
                log::info!(
                    "virtio-blk: {mib} MiB at pci {} (legacy transport, queue {}, port {:#x}), swap header: {} pages",
                    dev.bdf,
                    disk.queue_size,
                    disk.ports.base(),
                    header.nr_good_pages()
                );
                Some(Arc::new(SwapDisk { disk, header }))
            }
            Err(e) => {
                log::warn!("virtio-blk: {mib} MiB at pci {}, no swap header: {e:?}", dev.bdf);
                None
            }
        }
    });
}

/// The swap disk found at boot, as a swap device, with its bad slots
/// (from the swap header). `swapon=/dev/vda` swaps on it
/// ([`crate::memory::swap`]).
pub fn swap_disk() -> Option<(Arc<dyn SwapDevice>, alloc::vec::Vec<u64>)> {
    let d = swap_disk_concrete()?;
    let h = d.header();
    let bad = (1..h.nr_slots()).filter(|&s| h.is_bad(s)).collect();
    Some((d as Arc<dyn SwapDevice>, bad))
}

fn swap_disk_concrete() -> Option<Arc<SwapDisk>> {
    SWAP_DISK.get().cloned().flatten()
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;
    use alloc::boxed::Box;
    use core::sync::atomic::AtomicU64;

    /// The page pattern for `slot` in round `round`.
    fn pattern(slot: u64, round: u64, page: &mut [u8; SWAP_PAGE_SIZE]) {
        let mut x = slot.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ round.wrapping_mul(0xc2b2_ae3d_27d4_eb4f) | 1;
        for chunk in page.as_chunks_mut::<8>().0 {
            // xorshift64: every slot's page differs, and so do its words.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *chunk = x.to_le_bytes();
        }
    }

    /// Patterns written to a few hundred slots read back intact; slots
    /// outside the area (and the header's) are errors; throughput of
    /// 4096-page write and read runs (fewer if the disk is smaller).
    #[ktest]
    pub fn swap_disk_roundtrip() {
        // The kernel suite always attaches one (`cargo xtask test`).
        let disk = swap_disk_concrete().expect("no virtio-blk swap disk found");
        let dev: Arc<dyn SwapDevice> = disk.clone();
        let slots = dev.nr_slots();
        assert_eq!(slots, disk.header().nr_slots());
        let mut page = Box::new([0u8; SWAP_PAGE_SIZE]);
        let mut back = Box::new([0u8; SWAP_PAGE_SIZE]);
        // Out of range, and the header slot.
        assert_eq!(dev.write_page(slots, &page), Err(SwapIoError::BadSlot));
        assert_eq!(dev.read_page(slots, &mut back), Err(SwapIoError::BadSlot));
        assert_eq!(dev.read_page(u64::MAX, &mut back), Err(SwapIoError::BadSlot));
        assert_eq!(dev.write_page(0, &page), Err(SwapIoError::BadSlot));
        // A few hundred slots spread over the disk, the last included.
        let n = 300.min(slots - 1);
        let pick = |k: u64| 1 + k * (slots - 2) / (n - 1).max(1);
        for k in 0..n {
            pattern(pick(k), 1, &mut page);
            dev.write_page(pick(k), &page).expect("write");
        }
        for k in (0..n).rev() {
            pattern(pick(k), 1, &mut page);
            dev.read_page(pick(k), &mut back).expect("read");
            assert!(page[..] == back[..], "slot {} read back differs", pick(k));
        }
        // Overwriting replaces.
        pattern(pick(0), 2, &mut page);
        dev.write_page(pick(0), &page).unwrap();
        dev.read_page(pick(0), &mut back).unwrap();
        assert!(page[..] == back[..]);
        // The header survived.
        let mut header_page = Box::new([0u8; SWAP_PAGE_SIZE]);
        disk.disk.read_page(0, &mut header_page).unwrap();
        assert_eq!(header::parse(&header_page, disk.disk.nr_pages()).as_ref(), Ok(disk.header()));

        // Throughput: sequential single-page requests.
        let run = 4096.min(slots - 1);
        let now = disk.disk.services.now_ns;
        let t0 = now();
        for s in 1..=run {
            page[..8].copy_from_slice(&s.to_le_bytes());
            dev.write_page(s, &page).unwrap();
        }
        let t1 = now();
        for s in 1..=run {
            dev.read_page(s, &mut back).unwrap();
            assert_eq!(back[..8], s.to_le_bytes());
        }
        let t2 = now();
        let rate = |ns: u64| run * 1_000_000_000 / ns.max(1);
        log::info!(
            "virtio-blk: {run} page writes in {} ms ({} pages/s), {run} page reads in {} ms ({} pages/s)",
            (t1 - t0) / 1_000_000,
            rate(t1 - t0),
            (t2 - t1) / 1_000_000,
            rate(t2 - t1)
        );
    }

    const WRITERS: u64 = 4;
    const PER_WRITER: u64 = 150;
    static FINISHED: AtomicU64 = AtomicU64::new(0);
    static MISMATCHES: AtomicU64 = AtomicU64::new(0);

    /// Several threads (on several CPUs at `--smp 4`) with requests in
    /// flight at once, each on its own slots: every page reads back as its
    /// own thread wrote it.
    #[ktest]
    pub fn concurrent_writers_and_readers() {
        use crate::sched::{self, Thread, ThreadState};
        let disk = swap_disk_concrete().expect("no virtio-blk swap disk found");
        assert!(disk.nr_slots() > WRITERS * PER_WRITER, "swap disk too small for the test");
        FINISHED.store(0, Ordering::SeqCst);
        MISMATCHES.store(0, Ordering::SeqCst);
        let threads: alloc::vec::Vec<_> = (0..WRITERS)
            .map(|w| {
                let disk = disk.clone();
                let name = alloc::format!("vblk-{w}");
                sched::spawn(Thread::new(sched::thread::alloc_tid(), name), move || {
                    let mut page = Box::new([0u8; SWAP_PAGE_SIZE]);
                    let mut back = Box::new([0u8; SWAP_PAGE_SIZE]);
                    let slot = |k: u64| 1 + k * WRITERS + w;
                    for round in 0..2 {
                        for k in 0..PER_WRITER {
                            pattern(slot(k), 10 + round, &mut page);
                            if disk.write_page(slot(k), &page).is_err() {
                                MISMATCHES.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        for k in 0..PER_WRITER {
                            pattern(slot(k), 10 + round, &mut page);
                            if disk.read_page(slot(k), &mut back).is_err() || page[..] != back[..] {
                                MISMATCHES.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                    // exit_current never returns: drop by hand.
                    drop((disk, page, back));
                    FINISHED.fetch_add(1, Ordering::SeqCst);
                    sched::exit_current()
                })
            })
            .collect();
        let start = crate::arch::time::now_ns();
        while threads.iter().any(|t| t.state() != ThreadState::Dead) {
            assert!(crate::arch::time::now_ns() - start < 60_000_000_000, "writers did not finish");
            sched::yield_now();
        }
        assert_eq!(FINISHED.load(Ordering::SeqCst), WRITERS);
        assert_eq!(MISMATCHES.load(Ordering::SeqCst), 0, "pages read back differ or failed");
    }
}
