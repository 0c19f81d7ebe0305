//! The x86 feature tokens the backends compose their proofs from, and the one probe std does not offer:
//! which register state the OS saves (XCR0), read directly so the selection rule names it. Reading XCR0
//! takes `unsafe`, which is why this lives in the leaf.
#![allow(unsafe_code)]

#[cfg(not(miri))]
use core::arch::x86_64::{__cpuid, _xgetbv};

use crate::backend::detect::feature_token;

feature_token!(
    /// AES-NI (`aesenc` on XMM registers).
    Aes,
    |f| f.aes
);
feature_token!(
    /// PCLMULQDQ (carry-less multiplication on XMM registers).
    Pclmulqdq,
    |f| f.pclmulqdq
);
feature_token!(
    /// SSSE3 (`pshufb`).
    Ssse3,
    |f| f.ssse3
);
feature_token!(
    /// AVX (VEX encodings) with the YMM state saved by the OS.
    Avx,
    |f| f.avx && f.ymm_state
);
feature_token!(
    /// AVX2 with AVX and the YMM state saved by the OS.
    Avx2,
    |f| f.avx2 && f.avx && f.ymm_state
);
feature_token!(
    /// VAES (AES on YMM/ZMM registers).
    Vaes,
    |f| f.vaes
);
feature_token!(
    /// VPCLMULQDQ (carry-less multiplication on YMM/ZMM registers).
    Vpclmulqdq,
    |f| f.vpclmulqdq
);
feature_token!(
    /// AVX-512 F, BW and VL with the opmask and ZMM state saved by the OS (XCR0 bits 5-7, besides the YMM
    /// state of bits 1-2). A CPU that has AVX-512 but whose OS does not save that state must not use it.
    Avx512,
    |f| f.avx512f && f.avx512bw && f.avx512vl && f.zmm_state && f.ymm_state
);

/// XCR0 bits of the SSE and AVX (upper YMM) state.
#[cfg(not(miri))]
const XCR0_YMM: u64 = 0b110;
/// XCR0 bits of the AVX-512 state: opmask, upper halves of ZMM0-15, ZMM16-31.
#[cfg(not(miri))]
const XCR0_ZMM: u64 = 0b1110_0000;

/// XCR0, or 0 when the OS has not enabled `xgetbv` (CPUID.1:ECX.OSXSAVE).
#[cfg(not(miri))]
fn xcr0() -> u64 {
    const OSXSAVE: u32 = 1 << 27;
    if __cpuid(1).ecx & OSXSAVE == 0 {
        return 0;
    }
    // SAFETY: OSXSAVE means the OS set CR4.OSXSAVE, so `xgetbv` is enabled and XCR0 (index 0) exists.
    unsafe { xgetbv0() }
}

#[cfg(not(miri))]
#[target_feature(enable = "xsave")]
fn xgetbv0() -> u64 {
    // SAFETY: `xgetbv` with index 0 reads XCR0; the caller checked that the OS enabled XSAVE.
    unsafe { _xgetbv(0) }
}

/// Whether the OS has enabled SSE and AVX (YMM) register state: CPUID.1:ECX.OSXSAVE and XCR0 bits 1-2.
#[cfg(not(miri))]
pub(crate) fn os_saves_ymm() -> bool {
    xcr0() & XCR0_YMM == XCR0_YMM
}

/// Whether the OS has also enabled the AVX-512 state: XCR0 bits 1-2 and 5-7.
#[cfg(not(miri))]
pub(crate) fn os_saves_zmm() -> bool {
    let want = XCR0_YMM | XCR0_ZMM;
    xcr0() & want == want
}

/// Miri cannot execute `cpuid`/`xgetbv`; it runs with the features named in `RUSTFLAGS`.
#[cfg(miri)]
pub(crate) fn os_saves_ymm() -> bool {
    cfg!(target_feature = "avx")
}

/// Miri cannot execute `cpuid`/`xgetbv`; it runs with the features named in `RUSTFLAGS`.
#[cfg(miri)]
pub(crate) fn os_saves_zmm() -> bool {
    cfg!(target_feature = "avx512f")
}
