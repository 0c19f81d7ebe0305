//! `aesni`: AES-GCM on 128-bit registers with AES-NI and PCLMULQDQ, for CPUs without VAES.
//!
//! Same shape as `vaes-avx2` with one block per register: 8 blocks per iteration, their AES rounds
//! interleaved with GHASH of 8 ciphertext blocks (Karatsuba against `H^8..H^1`, one reduction), tails hashed
//! from `H^n`. The code is compiled twice from one macro: once for SSE encodings (`aes,pclmulqdq,ssse3`) and
//! once with AVX, whose three-operand VEX forms save register copies; the key picks the variant its token
//! allows.
#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::ptr;

use aead::inout::InOutBuf;
use zeroize::Zeroize;

use super::aes::{self, MAX_ROUND_KEYS};
use super::cpu::{Aes, Avx, Pclmulqdq, Ssse3};
use super::ghash::{self, POWERS};
use crate::backend::detect::{CpuFeatures, Detected, Proof};
use crate::gcm::{Kernel, Xi};

/// Bytes per main-loop iteration.
const STRIDE: usize = 128;

/// Proof that the CPU runs the `aesni` backend: AES-NI, PCLMULQDQ and SSSE3, and, if the probe found it,
/// AVX with its register state, which lets the VEX-encoded variant run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AesniToken {
    _base: (Aes, Pclmulqdq, Ssse3),
    avx: Option<Avx>,
}

impl Proof for AesniToken {
    fn detect(features: &CpuFeatures, detected: Detected) -> Option<Self> {
        Some(AesniToken { _base: Proof::detect(features, detected)?, avx: Avx::detect(features, detected) })
    }
}

impl AesniToken {
    /// Whether the AVX (VEX-encoded) variant may run.
    pub(crate) fn avx(self) -> bool {
        self.avx.is_some()
    }

    /// The same proof restricted to the SSE variant, which needs a subset of the features (lets tests run
    /// both variants on one CPU).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn without_avx(self) -> AesniToken {
        AesniToken { avx: None, ..self }
    }
}

/// Round keys, GHASH key powers and the proof that this CPU runs the chosen instruction variant. Zeroized on
/// drop.
pub(crate) struct GcmKey {
    rk: [__m128i; MAX_ROUND_KEYS],
    /// `K(H^8)..K(H^1)` then zeros (see `ghash::HashKey`).
    powers: [__m128i; 2 * POWERS],
    /// Each power's halves xored into its low half (Karatsuba's middle operand), same indexing; only the
    /// eight real powers are needed.
    powers_x: [__m128i; POWERS],
    rounds: usize,
    token: AesniToken,
}

impl Drop for GcmKey {
    fn drop(&mut self) {
        self.rk.zeroize();
        self.powers.zeroize();
        self.powers_x.zeroize();
    }
}

/// A 128-byte stack buffer for tails shorter than a stride.
#[repr(C, align(16))]
struct Stride([u8; STRIDE]);

/// Reads 16 bytes.
///
/// # Safety
/// `p..p + 16` must be readable.
#[inline(always)]
unsafe fn ld(p: *const u8) -> __m128i {
    // SAFETY: the caller guarantees 16 readable bytes; `read_unaligned` has no alignment requirement.
    unsafe { ptr::read_unaligned(p.cast::<__m128i>()) }
}

/// Writes 16 bytes.
///
/// # Safety
/// `p..p + 16` must be writable.
#[inline(always)]
unsafe fn st(p: *mut u8, v: __m128i) {
    // SAFETY: the caller guarantees 16 writable bytes; `write_unaligned` has no alignment requirement.
    unsafe { ptr::write_unaligned(p.cast::<__m128i>(), v) }
}

impl Kernel for GcmKey {
    type Proof = AesniToken;

    fn new(key: &[u8], token: AesniToken) -> GcmKey {
        // SAFETY: `token` exists only if the probe found AES-NI, PCLMULQDQ and SSSE3, the features
        // `expand_key` and `hash_key` enable.
        let (mut rk, mut hk) = unsafe {
            let rk = aes::expand_key(key);
            let hk = ghash::hash_key(&rk);
            (rk, hk)
        };
        // SAFETY: as above; `fold_halves` needs only SSE2.
        let powers_x = unsafe { core::array::from_fn(|i| ghash::fold_halves(hk.powers[i])) };
        let key = GcmKey { rk: rk.keys, powers: hk.powers, powers_x, rounds: rk.rounds, token };
        rk.keys.zeroize();
        hk.powers.zeroize();
        key
    }

    #[inline(always)]
    fn encrypt_xor(&self, block: &[u8; 16], x: &mut [u8; 16]) {
        // SAFETY: the token proves AES-NI (and SSE2 is in the x86_64 baseline).
        unsafe { aes::encrypt_xor(&self.rk, self.rounds, block, x) };
    }

    #[inline(always)]
    fn ghash(&self, xi: &mut Xi, blocks: &[u8]) {
        // SAFETY: the token proves the features of the variant it selects.
        unsafe { if self.token.avx() { avx::ghash(self, xi, blocks) } else { sse::ghash(self, xi, blocks) } }
    }

    #[inline(always)]
    fn seal_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        self.run::<true>(nonce, xi, buf);
    }

    #[inline(always)]
    fn open_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        self.run::<false>(nonce, xi, buf);
    }

    fn in_context<R>(&self, frame: impl FnOnce() -> R) -> R {
        // SAFETY: the token proves the features of the variant it selects.
        unsafe { if self.token.avx() { avx::in_features(frame) } else { sse::in_features(frame) } }
    }
}

impl GcmKey {
    #[inline(always)]
    fn run<const ENC: bool>(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        let len = buf.len();
        debug_assert_eq!(len % 16, 0);
        let (src, dst) = buf.into_raw();
        // SAFETY: the token proves the features of the variant it selects (`avx` only when the probe found
        // AVX with OS-enabled YMM state); `InOutBuf` guarantees `src` readable and `dst` writable for `len`
        // bytes, equal or disjoint, and the frame passes whole blocks.
        unsafe {
            match (self.token.avx(), self.rounds) {
                (true, 10) => avx::blocks::<10, ENC>(self, nonce, xi, src, dst, len),
                (true, _) => avx::blocks::<14, ENC>(self, nonce, xi, src, dst, len),
                (false, 10) => sse::blocks::<10, ENC>(self, nonce, xi, src, dst, len),
                (false, _) => sse::blocks::<14, ENC>(self, nonce, xi, src, dst, len),
            }
        }
    }
}

/// The whole data path, instantiated per instruction set (the literal is the `target_feature` list).
macro_rules! gcm_impl {
    ($features:literal) => {
        use core::arch::x86_64::*;
        use core::ptr;

        use zeroize::Zeroize;

        use super::super::aes;
        use super::super::ghash::{self, POWERS};
        use super::{GcmKey, STRIDE, Stride, ld, st};
        use crate::gcm::Xi;

        /// AES-CTR and GHASH over `len` bytes (whole blocks) from `src` to `dst`: `ENC` seals (hash the
        /// output), else opens (hash the input).
        ///
        /// # Safety
        /// The CPU supports the enabled features; `src` is readable and `dst` writable for `len` bytes, a
        /// multiple of 16, and the two are equal or disjoint.
        #[target_feature(enable = $features)]
        pub(super) unsafe fn blocks<const NR: usize, const ENC: bool>(
            k: &GcmKey,
            nonce: &[u8; 12],
            xi: &mut Xi,
            src: *const u8,
            dst: *mut u8,
            len: usize,
        ) {
            let mut acc = ghash::load_xi(xi);
            let bswap = aes::load_const(&ghash::BSWAP_MASK);
            // Little-endian counter 2 (counter 1 masks the tag); 32-bit adds wrap as inc32 must.
            let mut ctr = _mm_add_epi32(ghash::reflect(aes::j0(nonce)), _mm_set_epi32(0, 0, 0, 1));
            let strides = len / STRIDE;
            if ENC {
                if strides > 0 {
                    let ks = keystream::<NR, 8>(k, &mut ctr, bswap);
                    for (j, x) in ks.iter().enumerate() {
                        // SAFETY: the first stride lies within `src`/`dst` (`strides > 0`).
                        unsafe { st(dst.add(16 * j), _mm_xor_si128(ld(src.add(16 * j)), *x)) };
                    }
                    for s in 1..strides {
                        let off = s * STRIDE;
                        // SAFETY: stride `s` and the previous one lie within the buffers (`s < strides`).
                        unsafe {
                            stride::<NR>(
                                k,
                                &mut ctr,
                                &mut acc,
                                bswap,
                                src.add(off),
                                dst.add(off),
                                dst.add(off - STRIDE),
                            )
                        };
                    }
                    // SAFETY: the last full stride of the output was written above.
                    acc = unsafe { ghash_blocks(k, acc, dst.add((strides - 1) * STRIDE), POWERS, bswap) };
                }
            } else {
                for s in 0..strides {
                    let off = s * STRIDE;
                    // SAFETY: stride `s` lies within the buffers; opening hashes the input stride itself.
                    unsafe { stride::<NR>(k, &mut ctr, &mut acc, bswap, src.add(off), dst.add(off), src.add(off)) };
                }
            }
            let done = strides * STRIDE;
            if done < len {
                // SAFETY: `done..len` lies within both buffers.
                acc = unsafe { tail::<NR, ENC>(k, ctr, acc, bswap, src.add(done), dst.add(done), len - done) };
            }
            ghash::store_xi(xi, acc);
            acc.zeroize();
        }

        /// `V` blocks of keystream from the counter, advancing it.
        #[target_feature(enable = $features)]
        #[inline]
        fn keystream<const NR: usize, const V: usize>(k: &GcmKey, ctr: &mut __m128i, bswap: __m128i) -> [__m128i; V] {
            let one = _mm_set_epi32(0, 0, 0, 1);
            let mut b = [_mm_setzero_si128(); V];
            for x in &mut b {
                *x = _mm_xor_si128(_mm_shuffle_epi8(*ctr, bswap), k.rk[0]);
                *ctr = _mm_add_epi32(*ctr, one);
            }
            for r in 1..NR {
                for x in &mut b {
                    *x = _mm_aesenc_si128(*x, k.rk[r]);
                }
            }
            for x in &mut b {
                *x = _mm_aesenclast_si128(*x, k.rk[NR]);
            }
            b
        }

        /// One main-loop stride: encrypts 128 bytes `src -> dst` and hashes the 128 ciphertext bytes at
        /// `gsrc`, one GHASH block after each of the first 8 AES rounds.
        ///
        /// # Safety
        /// `src`/`gsrc` readable and `dst` writable for 128 bytes; `dst` equals or is disjoint from `src`,
        /// and `gsrc` is `src` or a stride not written by this call.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn stride<const NR: usize>(
            k: &GcmKey,
            ctr: &mut __m128i,
            acc: &mut __m128i,
            bswap: __m128i,
            src: *const u8,
            dst: *mut u8,
            gsrc: *const u8,
        ) {
            let one = _mm_set_epi32(0, 0, 0, 1);
            let mut b = [_mm_setzero_si128(); 8];
            for x in &mut b {
                *x = _mm_xor_si128(_mm_shuffle_epi8(*ctr, bswap), k.rk[0]);
                *ctr = _mm_add_epi32(*ctr, one);
            }
            let (mut lo, mut mi, mut hi) = (_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128());
            for r in 1..NR {
                for x in &mut b {
                    *x = _mm_aesenc_si128(*x, k.rk[r]);
                }
                let j = r - 1;
                if j < POWERS {
                    // SAFETY: `gsrc` is readable for 128 bytes and `j < 8`.
                    let mut d = _mm_shuffle_epi8(unsafe { ld(gsrc.add(16 * j)) }, bswap);
                    if j == 0 {
                        d = _mm_xor_si128(d, *acc);
                    }
                    lo = _mm_xor_si128(lo, _mm_clmulepi64_si128::<0x00>(d, k.powers[j]));
                    hi = _mm_xor_si128(hi, _mm_clmulepi64_si128::<0x11>(d, k.powers[j]));
                    mi = _mm_xor_si128(mi, _mm_clmulepi64_si128::<0x00>(ghash::fold_halves(d), k.powers_x[j]));
                } else if j == POWERS {
                    *acc = ghash::reduce(lo, _mm_xor_si128(mi, _mm_xor_si128(lo, hi)), hi);
                }
            }
            for (j, x) in b.iter().enumerate() {
                // SAFETY: `src` is readable and `dst` writable for 128 bytes.
                unsafe {
                    let p = ld(src.add(16 * j));
                    st(dst.add(16 * j), _mm_aesenclast_si128(*x, _mm_xor_si128(k.rk[NR], p)));
                }
            }
        }

        /// GHASH of `n` (1..=8) blocks at `p` into `acc`, multiplying block `i` by `H^(n-i)`.
        ///
        /// # Safety
        /// `p` is readable for `16 * n` bytes.
        #[target_feature(enable = $features)]
        #[inline]
        unsafe fn ghash_blocks(k: &GcmKey, acc: __m128i, p: *const u8, n: usize, bswap: __m128i) -> __m128i {
            debug_assert!((1..=POWERS).contains(&n));
            let (mut lo, mut mi, mut hi) = (_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128());
            for i in 0..n {
                // SAFETY: `p` is readable for `16 * n` bytes.
                let mut d = _mm_shuffle_epi8(unsafe { ld(p.add(16 * i)) }, bswap);
                if i == 0 {
                    d = _mm_xor_si128(d, acc);
                }
                let h = POWERS - n + i;
                lo = _mm_xor_si128(lo, _mm_clmulepi64_si128::<0x00>(d, k.powers[h]));
                hi = _mm_xor_si128(hi, _mm_clmulepi64_si128::<0x11>(d, k.powers[h]));
                mi = _mm_xor_si128(mi, _mm_clmulepi64_si128::<0x00>(ghash::fold_halves(d), k.powers_x[h]));
            }
            ghash::reduce(lo, _mm_xor_si128(mi, _mm_xor_si128(lo, hi)), hi)
        }

        /// Runs the frame with this variant's target features, so the kernel's methods inline into it.
        #[target_feature(enable = $features)]
        pub(super) fn in_features<R>(frame: impl FnOnce() -> R) -> R {
            frame()
        }

        /// Absorbs whole blocks into the frame's accumulator.
        #[target_feature(enable = $features)]
        #[inline]
        pub(super) fn ghash(k: &GcmKey, xi: &mut Xi, data: &[u8]) {
            let bswap = aes::load_const(&ghash::BSWAP_MASK);
            let mut acc = ghash::load_xi(xi);
            let mut chunks = data.chunks_exact(STRIDE);
            for c in &mut chunks {
                // SAFETY: `c` is 128 readable bytes.
                acc = unsafe { ghash_blocks(k, acc, c.as_ptr(), POWERS, bswap) };
            }
            let rest = chunks.remainder();
            if !rest.is_empty() {
                // SAFETY: `rest` is readable for its length, a multiple of 16 bytes.
                acc = unsafe { ghash_blocks(k, acc, rest.as_ptr(), rest.len() / 16, bswap) };
            }
            ghash::store_xi(xi, acc);
        }

        /// The last `rem` (< 128, whole blocks) bytes: through a stack buffer, which is wiped afterwards.
        ///
        /// # Safety
        /// `src` readable and `dst` writable for `rem` bytes.
        #[target_feature(enable = $features)]
        unsafe fn tail<const NR: usize, const ENC: bool>(
            k: &GcmKey,
            mut ctr: __m128i,
            mut acc: __m128i,
            bswap: __m128i,
            src: *const u8,
            dst: *mut u8,
            rem: usize,
        ) -> __m128i {
            debug_assert!(rem > 0 && rem < STRIDE);
            let mut buf = Stride([0; STRIDE]);
            // SAFETY: `src` is readable for `rem` bytes and `buf` (a local) has room for 128.
            unsafe { ptr::copy_nonoverlapping(src, buf.0.as_mut_ptr(), rem) };
            let blocks = rem.div_ceil(16);
            let mut ks = [_mm_setzero_si128(); 8];
            match blocks {
                1 => ks[..1].copy_from_slice(&keystream::<NR, 1>(k, &mut ctr, bswap)),
                2 => ks[..2].copy_from_slice(&keystream::<NR, 2>(k, &mut ctr, bswap)),
                3..=4 => ks[..4].copy_from_slice(&keystream::<NR, 4>(k, &mut ctr, bswap)),
                _ => ks = keystream::<NR, 8>(k, &mut ctr, bswap),
            }
            if !ENC {
                // SAFETY: `buf` holds 128 bytes, zero past the ciphertext.
                acc = unsafe { ghash_blocks(k, acc, buf.0.as_ptr(), blocks, bswap) };
            }
            for (i, x) in ks.iter().enumerate().take(blocks) {
                let p = buf.0[16 * i..].as_mut_ptr();
                // SAFETY: `p` points at 16 bytes inside `buf`.
                unsafe { st(p, _mm_xor_si128(ld(p), *x)) };
            }
            // SAFETY: `dst` is writable for `rem` bytes; `buf` is a local, disjoint from it.
            unsafe { ptr::copy_nonoverlapping(buf.0.as_ptr(), dst, rem) };
            if ENC {
                buf.0[rem..].fill(0);
                // SAFETY: `buf` holds 128 bytes, zero past the ciphertext.
                acc = unsafe { ghash_blocks(k, acc, buf.0.as_ptr(), blocks, bswap) };
            }
            buf.0[..rem].zeroize();
            ks.zeroize();
            acc
        }
    };
}

/// SSE encodings, for CPUs with AES-NI but no AVX.
mod sse {
    gcm_impl!("aes,pclmulqdq,ssse3");
}

/// VEX (AVX) encodings of the same code.
mod avx {
    gcm_impl!("aes,pclmulqdq,ssse3,avx");
}

/// Both instruction variants against `soft` (also under Miri, without and with AVX).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::detect::prove;
    use crate::backend::kernel_tests::{lens, matches_soft};

    #[test]
    fn matches_soft_both_variants() {
        let Some(token) = prove::<AesniToken>() else {
            eprintln!("skipped: this CPU has no AES-NI/PCLMULQDQ/SSSE3");
            return;
        };
        matches_soft("aesni sse", lens(), |key| GcmKey::new(key, token.without_avx()));
        if token.avx() {
            matches_soft("aesni avx", lens(), |key| GcmKey::new(key, token));
        } else {
            eprintln!("skipped the AVX variant: no AVX or no YMM state");
        }
    }
}
