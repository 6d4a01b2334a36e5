//! `hello`: the smallest ring-3 program: prints a greeting and its argv.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use holdfast_user::tap::Tap;
use holdfast_user::{entry, println, Args};

entry!(main);

fn main(args: Args) -> i32 {
    println!("hello from ring 3");
    let mut t = Tap::new("hello");
    t.note(format_args!("argc = {}", args.len()));
    for (i, a) in args.iter().enumerate() {
        t.note(format_args!("argv[{}] = {}", i, a));
    }
    t.ok(!args.is_empty(), "argc >= 1");
    t.finish()
}
