//! Link the user binaries as static, non-PIE executables at a fixed base.
//!
//! `x86_64-unknown-none` links static-PIE (ET_DYN) by default, which Linux
//! would load fine but only because our code happens to need no relocation
//! processing; an ET_EXEC at 0x400000 is the simplest thing for both Linux and
//! Holdfast's ELF loader to run: map the PT_LOAD segments where they say and
//! jump to `e_entry`.

fn main() {
    println!("cargo:rustc-link-arg-bins=--no-pie");
    println!("cargo:rustc-link-arg-bins=--image-base=0x400000");
    println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
    println!("cargo:rustc-link-arg-bins=--entry=_start");
    // No PT_GNU_RELRO: .data.rel.ro joins .data, leaving one R, one RX and
    // one RW PT_LOAD (plus .bss in the RW one) for the loader to map.
    println!("cargo:rustc-link-arg-bins=-znorelro");
    // Keep the symbol table (for addresses in fault reports), drop DWARF:
    // the binaries go into the initrd and shrink ~20x.
    println!("cargo:rustc-link-arg-bins=--strip-debug");
    println!("cargo:rerun-if-changed=build.rs");
}
