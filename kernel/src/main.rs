//! Holdfast: a small x86_64 kernel that makes Linux's memory-locking story
//! (the mmap lock, mlock, page-table walks) visible and measurable.
//!
//! Boot order: consoles, GDT/IDT, physical memory and the heap, the initrd
//! and its command line, the APIC timer; then either the demo or, when built
//! with the `ktest` feature, the in-kernel test suite.
//!
//! Layers, each importing only those below it:
//!
//! ```text
//! syscall   fs          system calls; files, /proc, path lookup, the initrd
//! proc                  processes: address space glue, exec, exit, signals, futexes
//! sched                 threads, the run queue, the rwsem backend
//! arch      uaccess     CPU, interrupts, entry, context switch; user copies
//! memory  sync  cmdline  logger  drivers     (frames, heap, locks, consoles)
//! ```
//!
//! The lower layers reach up only through what is registered here at boot:
//! the entry-path handlers of [`arch::handlers`] and the process layer's
//! [`proc::Services`]. `main.rs` is the one module that sees every layer.
#![no_std]
#![no_main]
#![feature(allocator_ext)]
// `#[ktest]` is a `macro_rules!` attribute.
#![cfg_attr(feature = "ktest", feature(macro_attr))]
// Every unsafe operation sits in an `unsafe` block with a `// SAFETY:`
// comment, also inside `unsafe fn`s; `proc`, `syscall` and `fs` have none.
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
// The test build runs the in-kernel suite instead of starting a process, so
// the process-start path is unreachable there.
#![cfg_attr(feature = "ktest", allow(dead_code))]

extern crate alloc;

mod arch;
mod cmdline;
mod drivers;
mod fs;
mod ipc;
#[cfg(feature = "ktest")]
mod ktest;
mod logger;
mod memory;
mod proc;
mod sched;
mod sync;
mod syscall;
mod tty;
mod uaccess;

use bootloader_api::config::{BootloaderConfig, Mapping};
use bootloader_api::{entry_point, BootInfo};

/// Bootloader configuration: map all physical memory at a dynamic offset and
/// keep every bootloader-chosen mapping in the upper half, which is the
/// kernel's; the lower half belongs to user processes.
pub static BOOTLOADER_CONFIG: BootloaderConfig = {
    let mut config = BootloaderConfig::new_default();
    config.mappings.physical_memory = Some(Mapping::Dynamic);
    config.mappings.dynamic_range_start = Some(0xFFFF_8000_0000_0000);
    config.kernel_stack_size = 256 * 1024;
    config
};

entry_point!(kernel_main, config = &BOOTLOADER_CONFIG);

fn kernel_main(boot_info: &'static mut BootInfo) -> ! {
    let serial = drivers::serial::init();
    if let Some(fb) = boot_info.framebuffer.as_mut() {
        drivers::framebuffer::init(fb);
    }
    logger::init();
    kprintln!("holdfast: kernel main reached");
    log::info!("Holdfast booting (serial console: {})", if serial { "COM1" } else { "none" });
    if let Some((w, h)) = drivers::framebuffer::resolution() {
        log::info!("framebuffer console {}x{}", w, h);
    }

    arch::init_kernel_page_table();
    let phys_offset = boot_info.physical_memory_offset.into_option().expect("bootloader did not map physical memory");
    memory::set_phys_offset(phys_offset);
    let mem = memory::frame::init(&boot_info.memory_regions);
    memory::heap::init();
    // Per-CPU data (GS base), then this CPU's GDT, TSS and IDT.
    arch::apic::enable_boot_cpu();
    arch::percpu::init_this_cpu(0, arch::apic::id());
    arch::tlb::note_cr3_load(arch::kernel_page_table());
    arch::gdt::init();
    arch::idt::init();
    let cpu = arch::enable_protections();
    log::info!("cpu features: {cpu}");
    if !cpu.nx {
        // Page-table entries (the kernel's and mm's vm_page_prot) carry
        // the NX bit (bit 63), which is reserved without EFER.NXE: the
        // first such entry the CPU walks faults. (The bootloader sets
        // EFER.NXE unconditionally, so such a CPU rarely gets this far.)
        log::warn!("cpu has no NX: page tables with no-execute entries will fault");
    }
    arch::handlers::register(arch::handlers::Handlers {
        syscall: syscall::dispatch,
        console_irq: tty::receive_irq,
        timer_tick: sched::tick,
        reschedule: sched::reschedule_ipi,
        before_return_to_user: proc::signal::before_return_to_user,
        user_fault: proc::fault::handle_user_fault,
        user_signal: proc::fault::user_signal,
    });
    proc::init(proc::Services { open_exec: fs::exec::open_exec, new_files: fs::file::Files::with_console });

    log::info!(
        "memory map: {} regions, {} MiB usable; frames: {} total, {} free",
        mem.regions,
        mem.usable_bytes >> 20,
        mem.total_frames,
        mem.free_frames
    );
    proc::usermm::init(mem.base_pfn, mem.npages);
    let (heap_size, _) = memory::heap::stats();
    log::info!("heap ready: {} KiB mapped, grows on demand", heap_size >> 10);

    if let Some(addr) = boot_info.ramdisk_addr.into_option() {
        // SAFETY: the bootloader loaded the ramdisk at this address with this
        // length and never reuses it.
        let bytes = unsafe { core::slice::from_raw_parts(addr as *const u8, boot_info.ramdisk_len as usize) };
        fs::initrd::init(bytes);
    }
    cmdline::init(fs::initrd::lookup("/cmdline").map(|e| e.data));
    mm::populate_profile::set_enabled(cmdline::flag("mm.populate_profile"));
    sched::lockdep::set_enabled(cfg!(feature = "ktest") || cmdline::flag("mm.check_invariants"));
    log::info!("initrd: {} files; command line: \"{}\"", fs::initrd::entries().count(), cmdline::get());

    sched::init();
    // The mm crate's leaf spinlocks (LRU, swap) hold interrupts off.
    mm::irqlock::set_irq_ops(mm::irqlock::IrqOps {
        save: || {
            use mm::rwsem::RwSemBackend;
            sched::rwsem_backend::SchedBackend.local_irq_save()
        },
        restore: |were| {
            use mm::rwsem::RwSemBackend;
            sched::rwsem_backend::SchedBackend.local_irq_restore(were)
        },
    });
    arch::pit::disable_legacy_pic();
    arch::apic::init();
    arch::rtc::init();
    // After the clocks: the files get their times.
    fs::tmpfs::init(mem.usable_bytes);
    arch::syscall::init();
    x86_64::instructions::interrupts::enable();
    log::info!(
        "timer: local APIC at {} Hz ({} counts/ms), TSC {} MHz",
        arch::apic::HZ,
        arch::apic::timer_per_ms(),
        arch::time::tsc_per_ms() / 1000
    );
    let (t0, ns0) = (arch::apic::ticks(), arch::time::now_ns());
    while arch::apic::ticks() < t0 + 3 {
        x86_64::instructions::hlt();
    }
    log::info!("timer ticking: 3 ticks in {} us", (arch::time::now_ns() - ns0) / 1000);
    sync::set_irqs_off_spin_hook(arch::tlb::poll);
    let cpus = arch::smp::boot_aps(boot_info.rsdp_addr.into_option(), sched::ap_main);
    log::info!(
        "smp: {} CPU{} online ({})",
        cpus,
        if cpus == 1 { "" } else { "s" },
        if arch::apic::x2apic() { "x2APIC" } else { "xAPIC" }
    );
    console_input(boot_info.rsdp_addr.into_option(), serial);
    drivers::virtio_blk::init(drivers::virtio_blk::Services { relax: sched::yield_now, now_ns: arch::time::now_ns });
    // Swap (zram=SIZE, a swap disk) and kswapd, once threads can run.
    memory::swap::init();

    #[cfg(feature = "ktest")]
    ktest::run_all();

    #[cfg(not(feature = "ktest"))]
    demo()
}

/// Route COM1's receive interrupt through the I/O APIC to this (the boot)
/// CPU, so that typed bytes reach the console terminal.
fn console_input(rsdp: Option<u64>, serial: bool) {
    tty::init(tty::Services {
        kill_pgrp: proc::signal::kill_pgrp,
        session_of_pgrp: proc::session_of_pgrp,
        session_leader_lives: proc::session_leader_lives,
        current: proc::tty_caller,
        capable_sys_admin: || proc::current().capable(proc::cred::CAP_SYS_ADMIN),
        ignores_signal: proc::signal::current_blocks_or_ignores,
        pgrp_orphaned: proc::wait::is_pgrp_orphaned,
    });
    tty::start_rx_worker();
    if !serial {
        return;
    }
    let routed = rsdp.ok_or("no ACPI RSDP").and_then(arch::ioapic::init).and_then(|io| {
        let gsi = arch::ioapic::route_isa_irq(arch::ioapic::COM1_IRQ, arch::ioapic::COM1_VECTOR, arch::apic::id())?;
        Ok((io, gsi))
    });
    match routed {
        Ok((io, gsi)) => {
            drivers::serial::enable_rx_interrupt();
            log::info!("console input: COM1 on I/O APIC {} (GSI {gsi}, vector {:#x})", io.id, arch::ioapic::COM1_VECTOR);
        }
        Err(e) => log::warn!("console input: none ({e}); reads of the console wait for ever"),
    }
}

/// The default boot: show that the timer ticks, then power off (under QEMU)
/// unless `stay` is on the command line.
#[cfg(not(feature = "ktest"))]
fn demo() -> ! {
    if let Some(argv) = cmdline::init_argv() {
        start_init(argv);
    }
    let t0 = arch::apic::ticks();
    let start = arch::time::now_ns();
    for _ in 0..3 {
        let target = arch::apic::ticks() + arch::apic::HZ / 4;
        while arch::apic::ticks() < target {
            x86_64::instructions::hlt();
        }
        log::info!("tick {} ({} ms since start)", arch::apic::ticks() - t0, (arch::time::now_ns() - start) / 1_000_000);
    }
    let (total, free) = memory::frame::counts();
    log::info!("frames: {} total, {} free", total, free);
    if cmdline::flag("stay") {
        log::info!("stay: halting instead of powering off");
        arch::halt_loop();
    }
    log::info!("holdfast: demo done, powering off");
    poweroff(arch::qemu::EXIT_SUCCESS)
}

/// Power off (under QEMU: exit with `code`) once the first process or the
/// demo is done. With `poweroff_delay=SECONDS` the kernel first waits that
/// long, the screen still showing the last output (a machine without a
/// serial port has no other; xtask dumps it meanwhile). The wait spins on
/// the TSC, so it works with interrupts on or off.
pub fn poweroff(code: u32) -> ! {
    if let Some(seconds) = cmdline::value("poweroff_delay").and_then(|v| v.parse::<u64>().ok()) {
        log::info!("powering off in {seconds} s");
        let end = arch::time::now_ns().saturating_add(seconds.saturating_mul(1_000_000_000));
        while arch::time::now_ns() < end {
            core::hint::spin_loop();
        }
    }
    arch::qemu::exit(code)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    x86_64::instructions::interrupts::disable();
    // The first CPU to panic stops the others and prints; a CPU that
    // panics after it just stops; a panic while printing the first one
    // ends the run with what it can still say.
    match arch::smp::claim_panic() {
        arch::smp::PanicRole::First => {}
        arch::smp::PanicRole::Other => arch::smp::stop_this_cpu(),
        arch::smp::PanicRole::Nested => {
            crate::drivers::serial::force_write_fmt(format_args!("KERNEL PANIC (while panicking): {}\n", info));
            arch::qemu::exit(arch::qemu::EXIT_PANIC)
        }
    }
    #[cfg(feature = "ktest")]
    if let Some((i, name)) = ktest::current() {
        logger::panic_print(format_args!("ktest: FAILED {} {}\n  panicked: {}\n", i, name, info));
        arch::qemu::exit(arch::qemu::EXIT_TEST_PANICKED);
    }
    logger::panic_print(format_args!("KERNEL PANIC: {}\n", info));
    arch::qemu::exit(arch::qemu::EXIT_PANIC)
}

/// Start the first process: `init=PATH ARGS...` from the command line.
/// The run ends when it exits.
#[cfg(not(feature = "ktest"))]
fn start_init(argv: alloc::vec::Vec<alloc::string::String>) -> ! {
    use alloc::string::String;
    let path = argv[0].clone();
    let envp = alloc::vec![String::from("HOME=/"), String::from("PATH=/"), String::from("TERM=linux")];
    if let Some(s) = cmdline::value("mlock_populate") {
        match mm::populate::PopulateStrategy::from_name(s) {
            Some(st) => mm::populate::set_global_strategy(st),
            None => log::warn!("unknown mlock_populate={s}; keeping the default"),
        }
    }
    match proc::exec::spawn_process(&path, argv, envp, true) {
        Ok(p) => {
            log::info!("started {} as pid {}", path, p.pid);
            // The first process leads the console's session, its group
            // in the foreground.
            tty::console().set_session(p.pid);
        }
        Err(e) => {
            log::error!("cannot start {}: {:?}", path, e);
            arch::qemu::exit(127);
        }
    }
    // The boot thread becomes a reaper-free idle: everything else happens
    // in the processes; init's exit powers off.
    loop {
        sched::block_current();
    }
}
