//! CPU feature detection, done once per process, and the proof tokens that hardware keys require.
//!
//! A token is a zero-sized value that can only be made after the probe found what it stands for. Each CPU
//! feature has its own token (on x86 in [`x86::cpu`](super::x86::cpu)); a backend's token is the tuple of
//! the features it needs, e.g. `(Aes, Pclmulqdq, Ssse3)`, so the rule "which features does this backend
//! need" is written once, as a type, and both the selection tables and the key constructors read it.
//! Hardware key constructors take their token by value, so holding a hardware key proves the CPU can run
//! its instructions.

use std::sync::OnceLock;

/// The crypto-relevant features of this CPU, as seen by the OS (register state the OS has not enabled
/// counts as absent).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(clippy::struct_excessive_bools)]
pub struct CpuFeatures {
    /// x86 AES-NI.
    pub aes: bool,
    /// x86 PCLMULQDQ.
    pub pclmulqdq: bool,
    /// x86 SSSE3 (`pshufb`, used to byte-swap blocks).
    pub ssse3: bool,
    /// x86: the OS saves YMM register state (CPUID OSXSAVE and XCR0 bits 1-2), which every VEX-encoded
    /// instruction needs. Read directly, so the rule does not depend on how a detector folds it in.
    pub ymm_state: bool,
    /// x86 AVX with YMM state enabled by the OS.
    pub avx: bool,
    /// x86 AVX2 with YMM state enabled by the OS.
    pub avx2: bool,
    /// x86 VAES (vector AES on YMM/ZMM registers).
    pub vaes: bool,
    /// x86 VPCLMULQDQ (vector carry-less multiply).
    pub vpclmulqdq: bool,
    /// x86: the OS saves the AVX-512 register state, opmask and both halves of ZMM0-31 (XCR0 bits 5-7)
    /// besides the YMM state. Read directly from XCR0, like `ymm_state`.
    pub zmm_state: bool,
    /// x86 AVX-512 Foundation.
    pub avx512f: bool,
    /// x86 AVX-512 Byte and Word instructions (byte shuffles and byte-masked loads and stores).
    pub avx512bw: bool,
    /// x86 AVX-512 Vector Length extensions (EVEX encodings on XMM/YMM registers).
    pub avx512vl: bool,
    /// aarch64 AES instructions (FEAT_AES).
    pub arm_aes: bool,
    /// aarch64 PMULL (FEAT_PMULL).
    pub arm_pmull: bool,
}

impl CpuFeatures {
    /// The features of the CPU this process runs on, probed on first use.
    pub fn get() -> CpuFeatures {
        static FEATURES: OnceLock<CpuFeatures> = OnceLock::new();
        *FEATURES.get_or_init(probe)
    }

    /// Names of the features present, for reports.
    pub fn names(&self) -> Vec<&'static str> {
        let all = [
            (self.aes, "aes"),
            (self.pclmulqdq, "pclmulqdq"),
            (self.ssse3, "ssse3"),
            (self.ymm_state, "ymm-state"),
            (self.avx, "avx"),
            (self.avx2, "avx2"),
            (self.vaes, "vaes"),
            (self.vpclmulqdq, "vpclmulqdq"),
            (self.zmm_state, "zmm-state"),
            (self.avx512f, "avx512f"),
            (self.avx512bw, "avx512bw"),
            (self.avx512vl, "avx512vl"),
            (self.arm_aes, "arm-aes"),
            (self.arm_pmull, "arm-pmull"),
        ];
        all.into_iter().filter(|(on, _)| *on).map(|(_, n)| n).collect()
    }
}

#[cfg(target_arch = "x86_64")]
fn probe() -> CpuFeatures {
    // std's detection folds in XCR0 (AVX only with YMM state, AVX-512 only with ZMM state); the state bits
    // are also read directly so the selection rule states them itself.
    CpuFeatures {
        aes: std::arch::is_x86_feature_detected!("aes"),
        pclmulqdq: std::arch::is_x86_feature_detected!("pclmulqdq"),
        ssse3: std::arch::is_x86_feature_detected!("ssse3"),
        ymm_state: super::x86::cpu::os_saves_ymm(),
        avx: std::arch::is_x86_feature_detected!("avx"),
        avx2: std::arch::is_x86_feature_detected!("avx2"),
        vaes: std::arch::is_x86_feature_detected!("vaes"),
        vpclmulqdq: std::arch::is_x86_feature_detected!("vpclmulqdq"),
        zmm_state: super::x86::cpu::os_saves_zmm(),
        avx512f: std::arch::is_x86_feature_detected!("avx512f"),
        avx512bw: std::arch::is_x86_feature_detected!("avx512bw"),
        avx512vl: std::arch::is_x86_feature_detected!("avx512vl"),
        ..CpuFeatures::default()
    }
}

#[cfg(target_arch = "aarch64")]
fn probe() -> CpuFeatures {
    CpuFeatures {
        arm_aes: std::arch::is_aarch64_feature_detected!("aes"),
        arm_pmull: std::arch::is_aarch64_feature_detected!("pmull"),
        ..CpuFeatures::default()
    }
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
fn probe() -> CpuFeatures {
    CpuFeatures::default()
}

/// The permission to make a proof token: only this module creates one, from the real probe, in [`prove`].
/// Token constructors take it by value, so no other code path can make a token.
#[derive(Clone, Copy)]
pub(crate) struct Detected(());

/// A proof token: a zero-sized value standing for one CPU feature or, as a tuple, for all of its members.
pub(crate) trait Proof: Copy {
    /// The token, if `features` contain what it stands for.
    fn detect(features: &CpuFeatures, detected: Detected) -> Option<Self>;

    /// Whether `features` contain what the token stands for: the selection rule alone, so tests can walk
    /// tables of feature combinations (the token made here is dropped).
    fn holds(features: &CpuFeatures) -> bool {
        Self::detect(features, Detected(())).is_some()
    }
}

/// The token `P` for this CPU, if the probe found everything it stands for.
pub(crate) fn prove<P: Proof>() -> Option<P> {
    P::detect(&CpuFeatures::get(), Detected(()))
}

/// Proof that needs nothing: the portable backend's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Portable(());

impl Proof for Portable {
    fn detect(_: &CpuFeatures, _: Detected) -> Option<Self> {
        Some(Portable(()))
    }
}

macro_rules! tuple_proof {
    ($($t:ident),+) => {
        impl<$($t: Proof),+> Proof for ($($t,)+) {
            fn detect(features: &CpuFeatures, detected: Detected) -> Option<Self> {
                Some(($($t::detect(features, detected)?,)+))
            }
        }
    };
}

tuple_proof!(A, B);
tuple_proof!(A, B, C);
tuple_proof!(A, B, C, D);

/// A token for one feature, made when `features` satisfy `$rule`. Its field is private to the module that
/// declares it, so the only way to get one is [`prove`].
#[allow(unused_macros)] // each architecture declares its own features
macro_rules! feature_token {
    ($(#[$doc:meta])* $name:ident, |$f:ident| $rule:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub(crate) struct $name(());

        impl $crate::backend::detect::Proof for $name {
            fn detect(
                $f: &$crate::backend::detect::CpuFeatures,
                _: $crate::backend::detect::Detected,
            ) -> Option<Self> {
                if $rule { Some($name(())) } else { None }
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use feature_token;

/// The features of the ARMv8 backend.
#[cfg(all(target_arch = "aarch64", target_endian = "little"))]
pub(crate) mod arm {
    feature_token!(
        /// ARMv8 AES instructions (`AESE`, `AESMC`).
        ArmAes,
        |f| f.arm_aes
    );
    feature_token!(
        /// ARMv8 64-bit polynomial multiplication (`PMULL`, `PMULL2`).
        ArmPmull,
        |f| f.arm_pmull
    );
}
