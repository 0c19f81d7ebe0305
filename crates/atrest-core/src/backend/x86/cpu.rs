//! The one probe std does not offer: whether the OS saves the YMM register state (XCR0 bits 1 and 2), which
//! VEX-encoded instructions need. Kept here because reading XCR0 takes `unsafe`.
#![allow(unsafe_code)]

#[cfg(not(miri))]
use core::arch::x86_64::{__cpuid, _xgetbv};

/// Whether the OS has enabled SSE and AVX (YMM) register state: CPUID.1:ECX.OSXSAVE and XCR0 bits 1-2.
#[cfg(not(miri))]
pub(crate) fn os_saves_ymm() -> bool {
    const OSXSAVE: u32 = 1 << 27;
    if __cpuid(1).ecx & OSXSAVE == 0 {
        return false;
    }
    // SAFETY: OSXSAVE means the OS set CR4.OSXSAVE, so `xgetbv` is enabled and XCR0 (index 0) exists.
    let xcr0 = unsafe { xgetbv0() };
    xcr0 & 0b110 == 0b110
}

#[cfg(not(miri))]
#[target_feature(enable = "xsave")]
fn xgetbv0() -> u64 {
    // SAFETY: `xgetbv` with index 0 reads XCR0; the caller checked that the OS enabled XSAVE.
    unsafe { _xgetbv(0) }
}

/// Miri cannot execute `cpuid`/`xgetbv`; it runs with the features named in `RUSTFLAGS`.
#[cfg(miri)]
pub(crate) fn os_saves_ymm() -> bool {
    cfg!(target_feature = "avx")
}
