//! CPU features, detected once at boot with CPUID.
//!
//! Real PCs differ: many from before about 2015 have no SMAP, some no SMEP
//! or PCID, very old ones no NX. The kernel uses a feature only when the
//! CPU reports it (Linux's `boot_cpu_has`). [`detect`] first runs on the
//! boot CPU, from [`super::enable_protections`]; later calls return the
//! same read-only copy.

use core::fmt;

/// The CPU features Holdfast cares about, as CPUID reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// Supervisor-mode access prevention (CPUID 7.0:EBX[20]); needed for
    /// `stac`/`clac`, which raise #UD without it.
    pub smap: bool,
    /// Supervisor-mode execution prevention (CPUID 7.0:EBX[7]).
    pub smep: bool,
    /// No-execute pages, EFER.NXE (CPUID 8000_0001h:EDX[20]).
    pub nx: bool,
    /// x2APIC mode (CPUID 1:ECX[21]).
    pub x2apic: bool,
    /// Process-context identifiers (CPUID 1:ECX[17]).
    pub pcid: bool,
    /// `rdfsbase` and friends (CPUID 7.0:EBX[0]).
    pub fsgsbase: bool,
    /// `xsave`/`xrstor` (CPUID 1:ECX[26]).
    pub xsave: bool,
}

impl Features {
    /// Read the features from CPUID on this CPU.
    pub fn from_cpuid() -> Self {
        use core::arch::x86_64::{__cpuid, __cpuid_count};
        // CPUID exists on every x86_64 CPU; leaves beyond the maximum the
        // CPU reports return garbage, so check the maxima first.
        let max_basic = __cpuid(0).eax;
        let max_ext = __cpuid(0x8000_0000).eax;
        let ecx1 = __cpuid(1).ecx;
        let ebx7 = if max_basic >= 7 { __cpuid_count(7, 0).ebx } else { 0 };
        let edx_ext1 = if max_ext >= 0x8000_0001 { __cpuid(0x8000_0001).edx } else { 0 };
        let bit = |r: u32, b: u32| r & (1 << b) != 0;
        Features {
            smap: bit(ebx7, 20),
            smep: bit(ebx7, 7),
            nx: bit(edx_ext1, 20),
            x2apic: bit(ecx1, 21),
            pcid: bit(ecx1, 17),
            fsgsbase: bit(ebx7, 0),
            xsave: bit(ecx1, 26),
        }
    }

    /// The names of the features present, in Linux's `/proc/cpuinfo`
    /// spelling.
    pub fn present(&self) -> impl Iterator<Item = &'static str> {
        self.list().into_iter().filter(|&(_, on)| on).map(|(name, _)| name)
    }

    fn list(&self) -> [(&'static str, bool); 7] {
        [
            ("smap", self.smap),
            ("smep", self.smep),
            ("nx", self.nx),
            ("x2apic", self.x2apic),
            ("pcid", self.pcid),
            ("fsgsbase", self.fsgsbase),
            ("xsave", self.xsave),
        ]
    }
}

/// `smap smep nx (missing: pcid x2apic)`: what is present, then what is not.
impl fmt::Display for Features {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, _) in self.list().iter().filter(|(_, on)| *on) {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(name)?;
            first = false;
        }
        let mut missing = self.list().into_iter().filter(|(_, on)| !*on).peekable();
        if missing.peek().is_some() {
            f.write_str(if first { "(missing:" } else { " (missing:" })?;
            for (name, _) in missing {
                write!(f, " {name}")?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

static FEATURES: spin::Once<Features> = spin::Once::new();

/// The boot CPU's features, read from CPUID on the first call.
pub fn detect() -> Features {
    *FEATURES.call_once(Features::from_cpuid)
}

#[cfg(feature = "ktest")]
pub mod tests {
    use super::Features;
    use crate::ktest::ktest;
    use alloc::format;

    #[ktest]
    pub fn features_match_cpuid_and_format() {
        assert_eq!(super::detect(), Features::from_cpuid());
        let none = Features::default();
        assert_eq!(format!("{none}"), "(missing: smap smep nx x2apic pcid fsgsbase xsave)");
        let some = Features { smap: true, nx: true, ..none };
        assert_eq!(format!("{some}"), "smap nx (missing: smep x2apic pcid fsgsbase xsave)");
        let all = Features { smap: true, smep: true, nx: true, x2apic: true, pcid: true, fsgsbase: true, xsave: true };
        assert_eq!(format!("{all}"), "smap smep nx x2apic pcid fsgsbase xsave");
    }

    #[ktest]
    pub fn protections_follow_features() {
        use x86_64::registers::control::{Cr4, Cr4Flags};
        use x86_64::registers::model_specific::{Efer, EferFlags};
        let f = super::detect();
        let cr4 = Cr4::read();
        assert_eq!(cr4.contains(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION), f.smap);
        assert_eq!(cr4.contains(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION), f.smep);
        assert_eq!(crate::arch::extable::smap_enabled(), f.smap, "user copies must lift SMAP iff it is on");
        if f.nx {
            assert!(Efer::read().contains(EferFlags::NO_EXECUTE_ENABLE));
        }
    }
}

/// What CPUID says the CPU is: vendor string, brand string, family, model,
/// stepping (Linux's `struct cpuinfo_x86`, the parts `/proc/cpuinfo` shows).
#[derive(Clone, Debug)]
pub struct Identity {
    pub vendor: [u8; 12],
    pub brand: [u8; 48],
    pub family: u32,
    pub model: u32,
    pub stepping: u32,
}

/// Read this CPU's identity from CPUID.
pub fn identity() -> Identity {
    use core::arch::x86_64::__cpuid;
    let l0 = __cpuid(0);
    let mut vendor = [0u8; 12];
    vendor[0..4].copy_from_slice(&l0.ebx.to_le_bytes());
    vendor[4..8].copy_from_slice(&l0.edx.to_le_bytes());
    vendor[8..12].copy_from_slice(&l0.ecx.to_le_bytes());
    let eax1 = __cpuid(1).eax;
    let base_family = (eax1 >> 8) & 0xF;
    let family = if base_family == 0xF { base_family + ((eax1 >> 20) & 0xFF) } else { base_family };
    let model = if base_family >= 6 { ((eax1 >> 4) & 0xF) | (((eax1 >> 16) & 0xF) << 4) } else { (eax1 >> 4) & 0xF };
    let mut brand = [0u8; 48];
    if __cpuid(0x8000_0000).eax >= 0x8000_0004 {
        for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
            let r = __cpuid(leaf);
            for (j, w) in [r.eax, r.ebx, r.ecx, r.edx].into_iter().enumerate() {
                brand[i * 16 + j * 4..i * 16 + j * 4 + 4].copy_from_slice(&w.to_le_bytes());
            }
        }
    }
    Identity { vendor, brand, family, model, stepping: eax1 & 0xF }
}
