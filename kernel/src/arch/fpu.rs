//! The user thread's x87/SSE registers as a signal frame sees them.
//!
//! The kernel is built without SSE, so while a user thread runs kernel
//! code the CPU's x87/SSE registers still hold that thread's values (the
//! scheduler saves and restores them on every switch). A signal frame
//! takes them with `fxsave` ([`save_user`]), the handler starts from the
//! initial state ([`reset_user`]) and `rt_sigreturn` puts a user-supplied
//! image back with `fxrstor` ([`restore_user`]), after checking what
//! `fxrstor` would fault on (MXCSR bits the CPU does not implement).
//! Holdfast does not enable XSAVE, so the frame holds Linux's legacy
//! 512-byte `fxsave` area, as Linux writes it on a CPU without XSAVE.
//!
//! Locking: none; the registers are the running thread's. A preemption
//! between two calls saves and restores them whole.

/// A 512-byte `fxsave` image, 16-byte aligned as the instructions need.
#[repr(C, align(16))]
#[derive(Clone, Copy)]
pub struct FxArea(pub [u8; 512]);

impl FxArea {
    pub const fn zeroed() -> FxArea {
        FxArea([0; 512])
    }

    /// The state after `fninit` with SSE exceptions masked (FCW 0x37F,
    /// MXCSR 0x1F80): what a signal handler starts with.
    pub fn initial() -> FxArea {
        let mut a = FxArea::zeroed();
        a.0[0..2].copy_from_slice(&0x037Fu16.to_le_bytes());
        a.0[24..28].copy_from_slice(&0x1F80u32.to_le_bytes());
        a
    }

    /// The MXCSR field.
    pub fn mxcsr(&self) -> u32 {
        u32::from_le_bytes([self.0[24], self.0[25], self.0[26], self.0[27]])
    }
}

/// The MXCSR bits this CPU implements (the `MXCSR_MASK` field `fxsave`
/// reports; 0xFFBF when it reports 0, as the SDM says).
fn mxcsr_feature_mask() -> u32 {
    let mut a = FxArea::zeroed();
    // SAFETY: `a` is a 16-byte aligned 512-byte area owned here.
    unsafe { core::arch::x86_64::_fxsave64(a.0.as_mut_ptr()) };
    match u32::from_le_bytes([a.0[28], a.0[29], a.0[30], a.0[31]]) {
        0 => 0xFFBF,
        m => m,
    }
}

/// The running user thread's x87/SSE registers.
pub fn save_user() -> FxArea {
    let mut a = FxArea::zeroed();
    // SAFETY: `a` is a 16-byte aligned 512-byte area owned here.
    unsafe { core::arch::x86_64::_fxsave64(a.0.as_mut_ptr()) };
    // Bytes 464..512 are free for software; Linux's `sw_reserved` there
    // carries no XSAVE magic on a CPU without XSAVE.
    a.0[464..].fill(0);
    a
}

/// Load `area` into the running user thread's x87/SSE registers. `Err`
/// (nothing loaded) if MXCSR sets bits the CPU does not implement, on
/// which `fxrstor` would fault.
pub fn restore_user(area: &FxArea) -> Result<(), ()> {
    if area.mxcsr() & !mxcsr_feature_mask() != 0 {
        return Err(());
    }
    // SAFETY: `area` is a 16-byte aligned 512-byte image whose MXCSR has
    // only implemented bits; every other field is accepted by `fxrstor`.
    unsafe { core::arch::x86_64::_fxrstor64(area.0.as_ptr()) };
    Ok(())
}

/// Give the running user thread the initial x87/SSE state.
pub fn reset_user() {
    let a = FxArea::initial();
    // SAFETY: the initial image is valid for `fxrstor`.
    unsafe { core::arch::x86_64::_fxrstor64(a.0.as_ptr()) };
}
