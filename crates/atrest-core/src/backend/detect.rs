//! CPU feature detection, done once per process, and the proof tokens that hardware keys require.
//!
//! A token is a zero-sized value that can only be made here, after the probe found the features its
//! backend needs. Hardware key constructors take the token by value, so holding a hardware key proves the
//! CPU can run its instructions.

use std::sync::OnceLock;

use super::Backend;

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
            (self.arm_aes, "arm-aes"),
            (self.arm_pmull, "arm-pmull"),
        ];
        all.into_iter().filter(|(on, _)| *on).map(|(_, n)| n).collect()
    }
}

#[cfg(target_arch = "x86_64")]
fn probe() -> CpuFeatures {
    // std's detection folds in XCR0: `avx`/`avx2` are reported only when the OS saves YMM state.
    CpuFeatures {
        aes: std::arch::is_x86_feature_detected!("aes"),
        pclmulqdq: std::arch::is_x86_feature_detected!("pclmulqdq"),
        ssse3: std::arch::is_x86_feature_detected!("ssse3"),
        ymm_state: super::x86::cpu::os_saves_ymm(),
        avx: std::arch::is_x86_feature_detected!("avx"),
        avx2: std::arch::is_x86_feature_detected!("avx2"),
        vaes: std::arch::is_x86_feature_detected!("vaes"),
        vpclmulqdq: std::arch::is_x86_feature_detected!("vpclmulqdq"),
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

/// Proof that a backend may run on this CPU.
#[derive(Debug, Clone, Copy)]
#[allow(dead_code)] // hardware variants exist only on their architectures
pub(crate) enum Token {
    /// The portable backend needs no proof.
    Soft,
    /// The probe found ARMv8 AES and PMULL.
    #[cfg(all(target_arch = "aarch64", target_endian = "little"))]
    Armv8(Armv8Token),
    /// The probe found VAES, VPCLMULQDQ, AVX2, AES-NI, PCLMULQDQ and OS-enabled YMM state.
    #[cfg(target_arch = "x86_64")]
    VaesAvx2(VaesAvx2Token),
    /// The probe found AES-NI, PCLMULQDQ and SSSE3 (and says whether AVX encodings may be used).
    #[cfg(target_arch = "x86_64")]
    Aesni(AesniToken),
}

/// Proof that the CPU runs the `vaes-avx2` backend's instructions. Its field is private, so only [`token`]
/// makes one.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct VaesAvx2Token(());

/// Proof that the CPU runs the `aesni` backend's instructions; `avx` says whether the VEX-encoded variant
/// may run too. Its field is private, so only [`token`] makes one.
#[cfg(target_arch = "x86_64")]
#[derive(Debug, Clone, Copy)]
pub(crate) struct AesniToken {
    avx: bool,
}

#[cfg(target_arch = "x86_64")]
impl AesniToken {
    /// Whether the AVX (VEX-encoded) variant may run: AVX present and its register state enabled.
    pub(crate) fn avx(self) -> bool {
        self.avx
    }

    /// The same proof restricted to the SSE variant, which needs a subset of the features (lets tests run
    /// both variants on one CPU).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn without_avx(self) -> AesniToken {
        AesniToken { avx: false }
    }
}

/// Whether the `aesni` backend may use VEX (AVX) encodings with `features`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) fn aesni_uses_avx(features: CpuFeatures) -> bool {
    features.avx && features.ymm_state
}

/// Proof that the CPU has the ARMv8 AES and PMULL instructions. Its field is private, so only [`token`]
/// makes one.
#[cfg(all(target_arch = "aarch64", target_endian = "little"))]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Armv8Token(());

/// The token for `backend`, if this host can run it and this build contains it. Tokens are made only
/// here, from the features the probe really found.
pub(crate) fn token(backend: Backend) -> Option<Token> {
    if !allowed(backend, CpuFeatures::get()) {
        return None;
    }
    match backend {
        Backend::Soft => Some(Token::Soft),
        // Hardware backends are added with their leaf modules.
        #[cfg(all(target_arch = "aarch64", target_endian = "little"))]
        Backend::Armv8 => Some(Token::Armv8(Armv8Token(()))),
        #[cfg(not(all(target_arch = "aarch64", target_endian = "little")))]
        Backend::Armv8 => None,
        #[cfg(target_arch = "x86_64")]
        Backend::VaesAvx2 => Some(Token::VaesAvx2(VaesAvx2Token(()))),
        #[cfg(target_arch = "x86_64")]
        Backend::Aesni => Some(Token::Aesni(AesniToken { avx: aesni_uses_avx(CpuFeatures::get()) })),
        #[cfg(not(target_arch = "x86_64"))]
        Backend::VaesAvx2 | Backend::Aesni => None,
    }
}

/// Whether `features` suffice for `backend`: the selection logic alone, so tests can walk tables of feature
/// combinations without making tokens.
pub(crate) fn allowed(backend: Backend, features: CpuFeatures) -> bool {
    match backend {
        Backend::Soft => true,
        // VAES/VPCLMULQDQ on YMM registers need only AVX2-level state (XCR0 bits 1-2), not AVX-512 state:
        // a CPU with VAES whose OS enables no ZMM state still runs this backend.
        Backend::VaesAvx2 => {
            features.vaes
                && features.vpclmulqdq
                && features.avx2
                && features.avx
                && features.ymm_state
                && features.aes
                && features.pclmulqdq
                && features.ssse3
        }
        Backend::Aesni => features.aes && features.pclmulqdq && features.ssse3,
        Backend::Armv8 => features.arm_aes && features.arm_pmull,
    }
}
