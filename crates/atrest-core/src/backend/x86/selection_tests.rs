//! The x86 selection rule walked over tables of feature combinations, without tokens (so it is tested on any
//! host, with or without AVX-512): which backend the priority list picks for each CPU/OS combination, and
//! whether `aesni` may use VEX encodings.

use super::cpu::Avx;
use crate::backend::detect::{CpuFeatures, Proof};
use crate::backend::dispatch::allowed;
use crate::backend::{Backend, PRIORITY};

/// Whether a key of the `aesni` backend takes its VEX-encoded variant on `f`.
fn aesni_uses_avx(f: CpuFeatures) -> bool {
    Avx::holds(&f)
}

/// What a Zen 4 core reports when its OS saves YMM but not ZMM state (XCR0 = 0x7): the CPUID bits of AVX-512
/// are set, but std's detector folds the missing state in, and the rule reads the state itself too.
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

/// The same core with the AVX-512 state enabled (XCR0 = 0xe7): Zen 4, Ice Lake, Sapphire Rapids.
const ZEN4_ZMM: CpuFeatures = CpuFeatures { zmm_state: true, avx512f: true, avx512bw: true, avx512vl: true, ..ZEN4 };

fn pick(f: CpuFeatures) -> Backend {
    PRIORITY.into_iter().find(|b| allowed(*b, &f)).expect("soft is always allowed")
}

#[test]
fn selection_table() {
    let none = CpuFeatures::default();
    let table: &[(&str, CpuFeatures, Backend, bool)] = &[
        ("Zen 4 / Ice Lake / Sapphire Rapids, ZMM state on (XCR0 = 0xe7)", ZEN4_ZMM, Backend::VaesAvx512, true),
        (
            "AVX-512 CPU, OS saves no ZMM state, detector still reports AVX-512",
            CpuFeatures { zmm_state: false, ..ZEN4_ZMM },
            Backend::VaesAvx2,
            true,
        ),
        ("AVX-512 without BW", CpuFeatures { avx512bw: false, ..ZEN4_ZMM }, Backend::VaesAvx2, true),
        ("AVX-512 without VL", CpuFeatures { avx512vl: false, ..ZEN4_ZMM }, Backend::VaesAvx2, true),
        ("AVX-512 BW/VL without F", CpuFeatures { avx512f: false, ..ZEN4_ZMM }, Backend::VaesAvx2, true),
        (
            "ZMM state but no YMM state bits (malformed XCR0)",
            CpuFeatures { ymm_state: false, ..ZEN4_ZMM },
            Backend::Aesni,
            false,
        ),
        (
            "Skylake-SP / Cascade Lake: AVX-512 F/BW/VL, no VAES/VPCLMULQDQ",
            CpuFeatures { vaes: false, vpclmulqdq: false, ..ZEN4_ZMM },
            Backend::Aesni,
            true,
        ),
        ("AVX-512 and VAES, no VPCLMULQDQ", CpuFeatures { vpclmulqdq: false, ..ZEN4_ZMM }, Backend::Aesni, true),
        ("Zen 4 / Ice Lake, YMM state only (XCR0 = 0x7)", ZEN4, Backend::VaesAvx2, true),
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

#[test]
fn avx512_needs_every_feature_and_the_zmm_state() {
    // All 2^12 combinations of the x86 flags: vaes-avx512 is allowed exactly when all twelve are set, and
    // then it is the pick.
    for bits in 0u32..1 << 12 {
        let bit = |i: u32| bits & (1 << i) != 0;
        let f = CpuFeatures {
            aes: bit(0),
            pclmulqdq: bit(1),
            ssse3: bit(2),
            ymm_state: bit(3),
            avx: bit(4),
            avx2: bit(5),
            vaes: bit(6),
            vpclmulqdq: bit(7),
            zmm_state: bit(8),
            avx512f: bit(9),
            avx512bw: bit(10),
            avx512vl: bit(11),
            ..CpuFeatures::default()
        };
        let all = bits == (1 << 12) - 1;
        assert_eq!(allowed(Backend::VaesAvx512, &f), all, "{f:?}");
        assert_eq!(pick(f) == Backend::VaesAvx512, all, "{f:?}");
        // The AVX-512 flags never change whether the narrower backends run.
        assert_eq!(allowed(Backend::VaesAvx2, &f), bits & 0xff == 0xff, "{f:?}");
    }
}
