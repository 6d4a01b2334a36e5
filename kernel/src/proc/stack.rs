//! The System V initial process stack: argc, argv, envp and the auxiliary
//! vector, with the strings and `AT_RANDOM` bytes above them.
//!
//! [`build`] lays the image out in a kernel buffer for a given stack top;
//! the loader copies it to user memory in one go. The resulting stack
//! pointer (pointing at argc) is 16-byte aligned, as the ABI requires.

use alloc::string::String;
use alloc::vec::Vec;

pub const AT_NULL: u64 = 0;
pub const AT_PHDR: u64 = 3;
pub const AT_PHENT: u64 = 4;
pub const AT_PHNUM: u64 = 5;
pub const AT_PAGESZ: u64 = 6;
pub const AT_BASE: u64 = 7;
pub const AT_FLAGS: u64 = 8;
pub const AT_ENTRY: u64 = 9;
pub const AT_UID: u64 = 11;
pub const AT_EUID: u64 = 12;
pub const AT_GID: u64 = 13;
pub const AT_EGID: u64 = 14;
pub const AT_PLATFORM: u64 = 15;
pub const AT_HWCAP: u64 = 16;
pub const AT_CLKTCK: u64 = 17;
pub const AT_SECURE: u64 = 23;
pub const AT_RANDOM: u64 = 25;
pub const AT_EXECFN: u64 = 31;

/// A built stack image: `bytes` go at `[sp, top)`.
pub struct StackImage {
    pub sp: u64,
    pub bytes: Vec<u8>,
}

/// Lay out the initial stack below `top`. `auxv` holds the entries that do
/// not point into the stack; `AT_RANDOM`, `AT_PLATFORM`, `AT_EXECFN` and
/// `AT_NULL` are added here.
pub fn build(top: u64, argv: &[String], envp: &[String], auxv: &[(u64, u64)], random: [u8; 16]) -> StackImage {
    // Strings area, built downwards from `top`.
    let mut strings: Vec<u8> = Vec::new();
    let mut place = |bytes: &[u8]| -> u64 {
        strings.splice(0..0, bytes.iter().copied());
        top - strings.len() as u64
    };
    let platform = place(b"x86_64\0");
    let random_at = place(&random);
    let mut put_str = |s: &String| {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        place(&b)
    };
    let env_ptrs: Vec<u64> = envp.iter().rev().map(&mut put_str).collect::<Vec<_>>().into_iter().rev().collect();
    let arg_ptrs: Vec<u64> = argv.iter().rev().map(&mut put_str).collect::<Vec<_>>().into_iter().rev().collect();
    let execfn = arg_ptrs.first().copied().unwrap_or(0);
    let strings_start = (top - strings.len() as u64) & !0xF;

    let mut aux: Vec<(u64, u64)> = auxv.to_vec();
    aux.push((AT_RANDOM, random_at));
    aux.push((AT_PLATFORM, platform));
    aux.push((AT_EXECFN, execfn));
    aux.push((AT_NULL, 0));

    let mut words: Vec<u64> = Vec::new();
    words.push(arg_ptrs.len() as u64);
    words.extend(&arg_ptrs);
    words.push(0);
    words.extend(&env_ptrs);
    words.push(0);
    for (k, v) in aux {
        words.push(k);
        words.push(v);
    }
    let mut sp = strings_start - 8 * words.len() as u64;
    sp &= !0xF;
    let mut bytes = alloc::vec![0u8; (top - sp) as usize];
    for (i, w) in words.iter().enumerate() {
        let off = i * 8;
        bytes[off..off + 8].copy_from_slice(&w.to_le_bytes());
    }
    let soff = (top - strings.len() as u64 - sp) as usize;
    bytes[soff..].copy_from_slice(&strings);
    StackImage { sp, bytes }
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;
    use alloc::string::ToString;

    fn word(img: &StackImage, top: u64, addr: u64) -> u64 {
        let off = (addr - img.sp) as usize;
        assert!(addr < top);
        u64::from_le_bytes(img.bytes[off..off + 8].try_into().unwrap())
    }

    fn cstr(img: &StackImage, addr: u64) -> String {
        let off = (addr - img.sp) as usize;
        let end = img.bytes[off..].iter().position(|&b| b == 0).unwrap();
        String::from_utf8(img.bytes[off..off + end].to_vec()).unwrap()
    }

    #[ktest]
    pub fn initial_stack_layout() {
        let top = 0x7fff_0000_0000;
        let argv = ["/prog".to_string(), "a1".to_string()];
        let envp = ["K=V".to_string()];
        let img = build(top, &argv, &envp, &[(AT_PAGESZ, 4096)], [7; 16]);
        assert_eq!(img.sp % 16, 0, "sp must be 16-byte aligned");
        assert_eq!(img.sp + img.bytes.len() as u64, top);
        assert_eq!(word(&img, top, img.sp), 2, "argc");
        assert_eq!(cstr(&img, word(&img, top, img.sp + 8)), "/prog");
        assert_eq!(cstr(&img, word(&img, top, img.sp + 16)), "a1");
        assert_eq!(word(&img, top, img.sp + 24), 0);
        assert_eq!(cstr(&img, word(&img, top, img.sp + 32)), "K=V");
        assert_eq!(word(&img, top, img.sp + 40), 0);
        let mut at = img.sp + 48;
        let mut seen = alloc::vec::Vec::new();
        loop {
            let (k, v) = (word(&img, top, at), word(&img, top, at + 8));
            seen.push(k);
            if k == AT_RANDOM {
                let off = (v - img.sp) as usize;
                assert_eq!(&img.bytes[off..off + 16], &[7; 16]);
            }
            if k == AT_NULL {
                break;
            }
            at += 16;
        }
        assert_eq!(seen, [AT_PAGESZ, AT_RANDOM, AT_PLATFORM, AT_EXECFN, AT_NULL]);
    }
}
