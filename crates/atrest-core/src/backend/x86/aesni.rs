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

use super::common::{self, MAX_ROUND_KEYS, POWERS};
use crate::backend::detect::AesniToken;
use crate::gcm::Tag;

/// Bytes per main-loop iteration.
const STRIDE: usize = 128;

/// Round keys, GHASH key powers and the proof that this CPU runs the chosen instruction variant. Zeroized on
/// drop.
pub(crate) struct GcmKey {
    rk: [__m128i; MAX_ROUND_KEYS],
    /// `K(H^8)..K(H^1)` then zeros (see `common::HashKey`).
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

impl GcmKey {
    /// Expands a 16- or 32-byte key (length checked by the caller).
    pub(crate) fn new(key: &[u8], token: AesniToken) -> GcmKey {
        // SAFETY: `token` exists only if the probe found AES-NI, PCLMULQDQ and SSSE3, the features
        // `expand_key` and `hash_key` enable.
        let (mut rk, mut hk) = unsafe {
            let rk = common::expand_key(key);
            let hk = common::hash_key(&rk);
            (rk, hk)
        };
        // SAFETY: as above; `fold_halves` needs only SSE2.
        let powers_x = unsafe { core::array::from_fn(|i| common::fold_halves(hk.powers[i])) };
        let key = GcmKey { rk: rk.keys, powers: hk.powers, powers_x, rounds: rk.rounds, token };
        rk.keys.zeroize();
        hk.powers.zeroize();
        key
    }

    /// Encrypts the buffer and returns the tag.
    pub(crate) fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: InOutBuf<'_, '_, u8>) -> Tag {
        self.run::<true>(nonce, aad, buf)
    }

    /// Decrypts the buffer and returns the tag computed over the ciphertext.
    pub(crate) fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: InOutBuf<'_, '_, u8>) -> Tag {
        self.run::<false>(nonce, aad, buf)
    }

    fn run<const ENC: bool>(&self, nonce: &[u8; 12], aad: &[u8], buf: InOutBuf<'_, '_, u8>) -> Tag {
        let len = buf.len();
        let (src, dst) = buf.into_raw();
        // SAFETY: the token proves the features of the variant it selects (`avx` only when the probe found
        // AVX with OS-enabled YMM state); `InOutBuf` guarantees `src` readable and `dst` writable for `len`
        // bytes, equal or disjoint.
        unsafe {
            match (self.token.avx(), self.rounds) {
                (true, 10) => avx::crypt::<10, ENC>(self, nonce, aad, src, dst, len),
                (true, _) => avx::crypt::<14, ENC>(self, nonce, aad, src, dst, len),
                (false, 10) => sse::crypt::<10, ENC>(self, nonce, aad, src, dst, len),
                (false, _) => sse::crypt::<14, ENC>(self, nonce, aad, src, dst, len),
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

        use super::common::{self, POWERS};
        use super::{GcmKey, STRIDE, Stride, ld, st};
        use crate::gcm::Tag;

        /// GCM over `len` bytes from `src` to `dst`: `ENC` seals (hash the output), else opens (hash the
        /// input).
        ///
        /// # Safety
        /// The CPU supports the enabled features; `src` is readable and `dst` writable for `len` bytes, and
        /// the two are equal or disjoint.
        #[target_feature(enable = $features)]
        pub(super) unsafe fn crypt<const NR: usize, const ENC: bool>(
            k: &GcmKey,
            nonce: &[u8; 12],
            aad: &[u8],
            src: *const u8,
            dst: *mut u8,
            len: usize,
        ) -> Tag {
            let mut acc = ghash_aad(k, aad);
            let bswap = common::load_const(&common::BSWAP_MASK);
            // Little-endian counter 2 (counter 1 masks the tag); 32-bit adds wrap as inc32 must.
            let mut ctr = _mm_add_epi32(common::reflect(common::j0(nonce)), _mm_set_epi32(0, 0, 0, 1));
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
            acc = common::gf_mul(_mm_xor_si128(acc, common::length_block(aad.len(), len)), k.powers[POWERS - 1]);
            let tag = common::tag(&k.rk, NR, nonce, acc);
            acc.zeroize();
            tag
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
                    mi = _mm_xor_si128(mi, _mm_clmulepi64_si128::<0x00>(common::fold_halves(d), k.powers_x[j]));
                } else if j == POWERS {
                    *acc = common::reduce(lo, _mm_xor_si128(mi, _mm_xor_si128(lo, hi)), hi);
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
                mi = _mm_xor_si128(mi, _mm_clmulepi64_si128::<0x00>(common::fold_halves(d), k.powers_x[h]));
            }
            common::reduce(lo, _mm_xor_si128(mi, _mm_xor_si128(lo, hi)), hi)
        }

        /// GHASH of the associated data, from a zero accumulator.
        #[target_feature(enable = $features)]
        fn ghash_aad(k: &GcmKey, aad: &[u8]) -> __m128i {
            let bswap = common::load_const(&common::BSWAP_MASK);
            let mut acc = _mm_setzero_si128();
            let mut chunks = aad.chunks_exact(STRIDE);
            for c in &mut chunks {
                // SAFETY: `c` is 128 readable bytes.
                acc = unsafe { ghash_blocks(k, acc, c.as_ptr(), POWERS, bswap) };
            }
            let rest = chunks.remainder();
            if !rest.is_empty() {
                let mut buf = Stride([0; STRIDE]);
                buf.0[..rest.len()].copy_from_slice(rest);
                // SAFETY: `buf` is 128 readable bytes, zero past the data.
                acc = unsafe { ghash_blocks(k, acc, buf.0.as_ptr(), rest.len().div_ceil(16), bswap) };
            }
            acc
        }

        /// The last `rem` (< 128) bytes: through a zero-padded stack buffer, which is wiped afterwards.
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
            buf.0.zeroize();
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

/// Small cases, also run under Miri by `scripts/test.d/30-miri.sh` (without and with AVX): both
/// instruction variants against `soft` across the stride and tail paths, in place and between buffers.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::detect::{self, Token};
    use crate::backend::{Backend, soft};

    fn tokens() -> Vec<AesniToken> {
        match detect::token(Backend::Aesni) {
            Some(Token::Aesni(t)) => {
                let mut v = vec![t.without_avx()];
                if t.avx() {
                    v.push(t);
                }
                v
            }
            _ => {
                eprintln!("skipped: this CPU has no AES-NI/PCLMULQDQ/SSSE3");
                Vec::new()
            }
        }
    }

    fn data(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| (i as u8).wrapping_mul(13) ^ seed).collect()
    }

    #[test]
    fn matches_soft() {
        // Under Miri every instruction is interpreted: keep the lengths few but cover the empty message, a
        // partial block, a tail of several blocks, exactly one stride and stride + tail.
        let lens: &[usize] = if cfg!(miri) { &[0, 5, 47, 128, 161] } else { &[0, 1, 5, 16, 47, 128, 161, 300, 1030] };
        for token in tokens() {
            for key in [&[7u8; 16][..], &[9u8; 32][..]] {
                let hw = GcmKey::new(key, token);
                let sw = soft::GcmKey::new(key);
                for &len in lens {
                    let aad = data(len % 37, 1);
                    let nonce = [len as u8; 12];
                    let pt = data(len, 2);
                    let mut a = pt.clone();
                    let ta = hw.seal(&nonce, &aad, a.as_mut_slice().into());
                    let mut b = pt.clone();
                    let tb = sw.seal(&nonce, &aad, b.as_mut_slice().into());
                    assert_eq!((ta, &a), (tb, &b), "seal avx={} len={len}", token.avx());
                    let mut out = vec![0u8; len];
                    let to = hw.open(&nonce, &aad, InOutBuf::new(&a, &mut out).unwrap());
                    assert_eq!((to, &out), (ta, &pt), "open avx={} len={len}", token.avx());
                }
            }
        }
    }
}
