//! The x86 selection rule walked over tables of feature combinations, without tokens: which backend the
//! priority list picks for each CPU/OS combination, and whether `aesni` may use VEX encodings.

use super::cpu::Avx;
use crate::backend::detect::{CpuFeatures, Proof};
use crate::backend::dispatch::allowed;
use crate::backend::{Backend, PRIORITY};

/// Whether a key of the `aesni` backend takes its VEX-encoded variant on `f`.
fn aesni_uses_avx(f: CpuFeatures) -> bool {
    Avx::holds(&f)
}

/// Everything a Zen 4 core reports, with YMM state enabled (the OS may or may not enable ZMM; the rule does
/// not look at it).
const ZEN4: CpuFeatures = CpuFeatures {
    aes: true,
    pclmulqdq: true,
    ssse3: true,
    ymm_state: true,
    avx: true,
    avx2: true,
    vaes: true,
    vpclmulqdq: true,
    zmm_state: false,
    avx512f: false,
    avx512bw: false,
    avx512vl: false,
    arm_aes: false,
    arm_pmull: false,
};

fn pick(f: CpuFeatures) -> Backend {
    PRIORITY.into_iter().find(|b| allowed(*b, &f)).expect("soft is always allowed")
}

#[test]
fn selection_table() {
    let none = CpuFeatures::default();
    let table: &[(&str, CpuFeatures, Backend, bool)] = &[
        ("Zen 4 / Ice Lake, YMM state on (XCR0 = 0x7)", ZEN4, Backend::VaesAvx2, true),
        // std reports no AVX/AVX2 when the OS saves no YMM state; the rule must not depend on that.
        (
            "VAES CPU, no YMM state, detector still reports AVX2",
            CpuFeatures { ymm_state: false, ..ZEN4 },
            Backend::Aesni,
            false,
        ),
        (
            "VAES CPU, detector folded YMM into avx/avx2 = false",
            CpuFeatures { avx: false, avx2: false, ymm_state: false, ..ZEN4 },
            Backend::Aesni,
            false,
        ),
        ("VAES without VPCLMULQDQ", CpuFeatures { vpclmulqdq: false, ..ZEN4 }, Backend::Aesni, true),
        ("VPCLMULQDQ without VAES (Zen 2, Skylake)", CpuFeatures { vaes: false, ..ZEN4 }, Backend::Aesni, true),
        ("VAES without AVX2", CpuFeatures { avx2: false, ..ZEN4 }, Backend::Aesni, true),
        ("VAES but AES-NI masked by the hypervisor", CpuFeatures { aes: false, ..ZEN4 }, Backend::Soft, true),
        ("VAES but PCLMULQDQ masked", CpuFeatures { pclmulqdq: false, ..ZEN4 }, Backend::Soft, true),
        ("VAES but SSSE3 masked", CpuFeatures { ssse3: false, ..ZEN4 }, Backend::Soft, true),
        (
            "Westmere / Goldmont: AES-NI, no AVX",
            CpuFeatures { aes: true, pclmulqdq: true, ssse3: true, ..none },
            Backend::Aesni,
            false,
        ),
        (
            "Sandy Bridge: AES-NI + AVX",
            CpuFeatures { aes: true, pclmulqdq: true, ssse3: true, avx: true, ymm_state: true, ..none },
            Backend::Aesni,
            true,
        ),
        (
            "AES-NI + AVX reported, but no YMM state",
            CpuFeatures { aes: true, pclmulqdq: true, ssse3: true, avx: true, ..none },
            Backend::Aesni,
            false,
        ),
        ("AES-NI without PCLMULQDQ", CpuFeatures { aes: true, ssse3: true, ..none }, Backend::Soft, false),
        ("nothing", none, Backend::Soft, false),
        // The armv8 backend is not built for x86, whatever the flags say.
        ("ARM features only", CpuFeatures { arm_aes: true, arm_pmull: true, ..none }, Backend::Soft, false),
    ];
    for (name, features, want, avx) in table {
        assert_eq!(pick(*features), *want, "{name}: {features:?}");
        assert_eq!(aesni_uses_avx(*features), *avx, "{name}: aesni AVX variant");
    }
}

#[test]
fn vaes_never_without_ymm_state() {
    // All 2^8 combinations of the x86 flags: vaes-avx2 is allowed exactly when all eight are set.
    for bits in 0u32..256 {
        let f = CpuFeatures {
            aes: bits & 1 != 0,
            pclmulqdq: bits & 2 != 0,
            ssse3: bits & 4 != 0,
            ymm_state: bits & 8 != 0,
            avx: bits & 16 != 0,
            avx2: bits & 32 != 0,
            vaes: bits & 64 != 0,
            vpclmulqdq: bits & 128 != 0,
            ..CpuFeatures::default()
        };
        assert_eq!(allowed(Backend::VaesAvx2, &f), bits == 255, "{f:?}");
        assert_eq!(allowed(Backend::Aesni, &f), bits & 7 == 7, "{f:?}");
        if !f.ymm_state {
            assert!(!aesni_uses_avx(f));
        }
    }
}
