//! `segv`: the smallest ring-3 program: prints a greeting and its argv.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use holdfast_user::{entry, println, Args};

entry!(main);

fn main(args: Args) -> i32 {
    println!("segv from ring 3");
    println!("argc = {}", args.len());
    for (i, a) in args.iter().enumerate() {
        println!("argv[{}] = {}", i, a);
    }
    println!("ok 1 - segv");
    println!("1..1");
    0
}
