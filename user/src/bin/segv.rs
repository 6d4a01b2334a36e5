//! `segv`: a thread writes to address 0x10. The default action for SIGSEGV
//! kills the whole process (every thread), so a shell sees status 139
//! (128 + 11). This program never exits normally: if the main thread is still
//! running after one second, the kernel failed to kill it and it exits 1.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use holdfast_user::{entry, println, probe, thread, time, Args};

entry!(main);

fn main(_args: Args) -> i32 {
    println!("# segv: a thread writes to 0x10; expect death by SIGSEGV (status 139)");
    match thread::spawn(|| probe::write_null_page(0x10)) {
        Ok(h) => {
            let _ = time::sleep_ns(1_000_000_000);
            println!("not ok 1 - process still alive 1 s after the thread's fault (tid {})", h.tid());
        }
        Err(e) => println!("not ok 1 - clone failed: {:?}", e),
    }
    1
}
