//! The System V initial process stack: argc, argv, envp and the auxiliary
//! vector, with the strings and `AT_RANDOM` bytes above them.
//!
//! [`build`] lays the image out in a kernel buffer for a given stack top;
//! the loader copies it to user memory in one go. The resulting stack
//! pointer (pointing at argc) is 16-byte aligned, as the ABI requires.

use alloc::vec::Vec;
use mm::Errno;

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

/// Lay out the initial stack below `top`, strings from the top down as
/// Linux does: the executed file's name (`AT_EXECFN`), the environment,
/// the arguments, the platform string and the `AT_RANDOM` bytes. `auxv`
/// holds the entries that do not point into the stack; `AT_RANDOM`,
/// `AT_PLATFORM`, `AT_EXECFN` and `AT_NULL` are added here. `ENOMEM` if
/// the kernel heap cannot hold the image.
pub fn build<S: AsRef<[u8]>>(
    top: u64,
    execfn: &[u8],
    argv: &[S],
    envp: &[S],
    auxv: &[(u64, u64)],
    random: [u8; 16],
) -> Result<StackImage, Errno> {
    // Where each string goes, from the top down.
    let mut used = 0u64;
    let mut at = |len: usize| -> u64 {
        used += len as u64;
        top - used
    };
    let execfn_at = at(execfn.len() + 1);
    let mut env_ptrs: Vec<u64> = Vec::new();
    env_ptrs.try_reserve_exact(envp.len()).map_err(|_| Errno::ENOMEM)?;
    env_ptrs.extend(envp.iter().rev().map(|s| at(s.as_ref().len() + 1)));
    env_ptrs.reverse();
    let mut arg_ptrs: Vec<u64> = Vec::new();
    arg_ptrs.try_reserve_exact(argv.len()).map_err(|_| Errno::ENOMEM)?;
    arg_ptrs.extend(argv.iter().rev().map(|s| at(s.as_ref().len() + 1)));
    arg_ptrs.reverse();
    let platform = at(PLATFORM.len() + 1);
    let random_at = at(random.len());
    let strings_start = (top - used) & !0xF;

    let mut aux: Vec<(u64, u64)> = auxv.to_vec();
    aux.push((AT_RANDOM, random_at));
    aux.push((AT_PLATFORM, platform));
    aux.push((AT_EXECFN, execfn_at));
    aux.push((AT_NULL, 0));

    let nwords = 1 + arg_ptrs.len() + 1 + env_ptrs.len() + 1 + 2 * aux.len();
    let sp = (strings_start - 8 * nwords as u64) & !0xF;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact((top - sp) as usize).map_err(|_| Errno::ENOMEM)?;
    bytes.resize((top - sp) as usize, 0u8);
    let mut put = |addr: u64, b: &[u8]| {
        let off = (addr - sp) as usize;
        bytes[off..off + b.len()].copy_from_slice(b);
    };
    let mut w = sp;
    let mut word = |v: u64| {
        put(w, &v.to_le_bytes());
        w += 8;
    };
    word(arg_ptrs.len() as u64);
    arg_ptrs.iter().for_each(|&p| word(p));
    word(0);
    env_ptrs.iter().for_each(|&p| word(p));
    word(0);
    for (k, v) in aux {
        word(k);
        word(v);
    }
    // The strings (their NULs are the zeroed bytes after each).
    put(execfn_at, execfn);
    for (p, s) in env_ptrs.iter().zip(envp) {
        put(*p, s.as_ref());
    }
    for (p, s) in arg_ptrs.iter().zip(argv) {
        put(*p, s.as_ref());
    }
    put(platform, PLATFORM);
    put(random_at, &random);
    Ok(StackImage { sp, bytes })
}

/// `AT_PLATFORM`'s string.
const PLATFORM: &[u8] = b"x86_64";

#[cfg(feature = "ktest")]
pub mod tests {
    use super::*;
    use crate::ktest::ktest;
    use alloc::string::{String, ToString};

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
        let img = build(top, b"/prog", &argv, &envp, &[(AT_PAGESZ, 4096)], [7; 16]).unwrap();
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
            if k == AT_EXECFN {
                assert_eq!(cstr(&img, v), "/prog");
                assert_eq!(v + 6, top, "the file name is the topmost string");
            }
            if k == AT_NULL {
                break;
            }
            at += 16;
        }
        assert_eq!(seen, [AT_PAGESZ, AT_RANDOM, AT_PLATFORM, AT_EXECFN, AT_NULL]);
    }
}
