//! GHASH with PCLMULQDQ on one 128-bit lane, shared by the x86 backends: multiplication, reduction, the
//! key powers, and moving the frame's accumulator in and out of registers.
//!
//! # Representation
//! GHASH's bit order is reflected: coefficient `x^i` of a block is bit `7 - i % 8` of byte `i / 8`. Reversing
//! the 16 bytes (`pshufb`) turns a block into a 128-bit integer whose bit `127 - i` holds `x^i`. Read as a
//! polynomial in `y` with bit `k` holding `y^k`, every field element becomes `R(a) = y^127 · a(1/y)`, the
//! field polynomial becomes `P'(y) = y^128 + y^127 + y^126 + y^121 + 1`, and a carry-less product satisfies
//! `R(a)·R(b) = R(ab)·y^127 (mod P')`. So products are reduced Montgomery-style, by `y^-128`, which needs
//! no bit reversal: twice, the low 64 bits `t` are cancelled by adding `t·P'` and the value shifts down by
//! 64 bits (`t·(y^63 + y^62 + y^57)` is one `pclmulqdq` with `0xc2 << 56`). The missing factor `y` is put
//! into the key once: the backends store `K(h) = R(h)·y`, and `mont(R(a)·K(h)) = R(a·h)`.
//! `K(h^(i+1)) = mont(K(h^i)·K(h))` gives the powers.
//!
//! All functions here need only `aes,pclmulqdq,ssse3`; when they are inlined into a backend compiled with
//! AVX they take the VEX encodings.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

use super::aes::{RoundKeys, encrypt_block, load_const};
use crate::gcm::Xi;

/// How many GHASH key powers the backends precompute for their 128-bit tables: one 128-byte stride.
pub(super) const POWERS: usize = 8;

/// `P'` without its `y^128` term: `y^127 + y^126 + y^121` in the high qword, `1` in the low one.
pub(super) const GF_POLY: u128 = (0xc200_0000_0000_0000u128 << 64) | 1;

/// The `pshufb` mask that reverses the bytes of a 128-bit lane.
pub(super) const BSWAP_MASK: [u8; 16] = [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0];

/// `u128` to a register, least significant byte first (the reflected form used for GHASH).
#[target_feature(enable = "sse2")]
#[inline]
pub(super) fn from_u128(v: u128) -> __m128i {
    load_const(&v.to_le_bytes())
}

/// The reflected form `R` of a 16-byte block.
#[target_feature(enable = "ssse3")]
#[inline]
pub(super) fn reflect(block: __m128i) -> __m128i {
    _mm_shuffle_epi8(block, load_const(&BSWAP_MASK))
}

/// Reduces the 256-bit carry-less product `lo + mi·y^64 + hi·y^128` by `y^-128` modulo `P'`.
#[target_feature(enable = "pclmulqdq,sse2")]
#[inline]
pub(super) fn reduce(lo: __m128i, mi: __m128i, hi: __m128i) -> __m128i {
    let poly = from_u128(GF_POLY);
    // Cancel lo's low qword: add lo.lo * P', then drop 64 bits.
    let t = _mm_clmulepi64_si128::<0x10>(lo, poly);
    let mi = _mm_xor_si128(_mm_xor_si128(mi, _mm_shuffle_epi32::<0x4e>(lo)), t);
    // Same for mi's low qword.
    let t = _mm_clmulepi64_si128::<0x10>(mi, poly);
    _mm_xor_si128(_mm_xor_si128(hi, _mm_shuffle_epi32::<0x4e>(mi)), t)
}

/// `mont(a·b)`: with `b = K(h)` and `a = R(x)` this is `R(x·h)`.
#[target_feature(enable = "pclmulqdq,sse2")]
#[inline]
pub(super) fn gf_mul(a: __m128i, b: __m128i) -> __m128i {
    let lo = _mm_clmulepi64_si128::<0x00>(a, b);
    let mi = _mm_xor_si128(_mm_clmulepi64_si128::<0x01>(a, b), _mm_clmulepi64_si128::<0x10>(a, b));
    let hi = _mm_clmulepi64_si128::<0x11>(a, b);
    reduce(lo, mi, hi)
}

/// Xors a lane's two 64-bit halves into its low half (the middle operand of Karatsuba multiplication).
#[target_feature(enable = "sse2")]
#[inline]
pub(super) fn fold_halves(a: __m128i) -> __m128i {
    _mm_xor_si128(a, _mm_unpackhi_epi64(a, a))
}

/// GHASH key material: `K(H^8), ..., K(H^1)` followed by zeros, so that `n` trailing blocks can be hashed by
/// starting at entry `8 - n` and reading on without running out of table.
pub(super) struct HashKey {
    pub(super) powers: [__m128i; 2 * POWERS],
}

/// Computes the GHASH key powers from the round keys: `H = AES(K, 0)`, `K(H) = R(H)·y`.
#[target_feature(enable = "aes,pclmulqdq,ssse3")]
pub(super) fn hash_key(keys: &RoundKeys) -> HashKey {
    let mut h = encrypt_block(&keys.keys, keys.rounds, _mm_setzero_si128());
    let mut bytes = [0u8; 16];
    // SAFETY: `bytes` is a writable 16-byte array; the store is unaligned.
    unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), h) };
    let r = u128::from_be_bytes(bytes);
    // Multiply by y modulo P', without branching on the key.
    let k = (r << 1) ^ (GF_POLY & 0u128.wrapping_sub(r >> 127));
    let h1 = from_u128(k);
    let mut powers = [_mm_setzero_si128(); 2 * POWERS];
    let mut cur = h1;
    for i in (0..POWERS).rev() {
        powers[i] = cur;
        cur = gf_mul(cur, h1);
    }
    zeroize::Zeroize::zeroize(&mut bytes);
    zeroize::Zeroize::zeroize(&mut h);
    zeroize::Zeroize::zeroize(&mut cur);
    HashKey { powers }
}

/// Absorbs one or two blocks into the frame's accumulator, one multiplication by `K(H)` each: the frame's
/// short calls (a short AAD, the length block), where a wide table lookup costs more than it saves.
#[target_feature(enable = "pclmulqdq,ssse3")]
#[inline]
pub(super) fn absorb_short(h1: __m128i, xi: &mut Xi, data: &[u8]) {
    debug_assert!(data.len() == 16 || data.len() == 32);
    let mut acc = load_xi(xi);
    for block in data.chunks_exact(16) {
        let d = reflect(load_const(block.try_into().expect("16 bytes")));
        acc = gf_mul(_mm_xor_si128(acc, d), h1);
    }
    store_xi(xi, acc);
}

/// The frame's accumulator in reflected form (a big-endian block read as an integer is exactly that).
#[target_feature(enable = "sse2")]
#[inline]
pub(super) fn load_xi(xi: &Xi) -> __m128i {
    from_u128(*xi)
}

/// Writes a reflected accumulator back as the frame's `Xi`.
#[target_feature(enable = "sse2")]
#[inline]
pub(super) fn store_xi(xi: &mut Xi, acc: __m128i) {
    let mut bytes = [0u8; 16];
    // SAFETY: `bytes` is a writable 16-byte array; the store is unaligned.
    unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), acc) };
    *xi = u128::from_le_bytes(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn have_pclmulqdq() -> bool {
        std::arch::is_x86_feature_detected!("pclmulqdq") && std::arch::is_x86_feature_detected!("ssse3")
    }

    /// `gf_mul` against a bit-serial GHASH multiplication written from the GCM specification.
    #[test]
    fn gf_mul_matches_bitwise_definition() {
        if !have_pclmulqdq() {
            eprintln!("skipped: no PCLMULQDQ");
            return;
        }
        let mut seed = 0x0123_4567_89ab_cdefu64;
        for _ in 0..20 {
            let x = next_block(&mut seed);
            let h = next_block(&mut seed);
            let want = spec_mul(u128::from_be_bytes(x), u128::from_be_bytes(h));
            // SAFETY: `have_pclmulqdq()` was checked above.
            let got = unsafe {
                let r = u128::from_be_bytes(h);
                let k = (r << 1) ^ (GF_POLY & 0u128.wrapping_sub(r >> 127));
                let prod = gf_mul(from_u128(u128::from_be_bytes(x)), from_u128(k));
                let mut bytes = [0u8; 16];
                _mm_storeu_si128(bytes.as_mut_ptr().cast(), prod);
                u128::from_le_bytes(bytes)
            };
            assert_eq!(got, want);
        }
    }

    /// GCM's multiplication (NIST SP 800-38D, algorithm 1) on blocks read as big-endian integers.
    fn spec_mul(x: u128, y: u128) -> u128 {
        let r = 0xe1u128 << 120;
        let (mut z, mut v) = (0u128, y);
        for i in 0..128 {
            if (x >> (127 - i)) & 1 == 1 {
                z ^= v;
            }
            v = if v & 1 == 1 { (v >> 1) ^ r } else { v >> 1 };
        }
        z
    }

    fn next_block(seed: &mut u64) -> [u8; 16] {
        let mut out = [0u8; 16];
        for chunk in out.chunks_mut(8) {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            chunk.copy_from_slice(&seed.to_le_bytes());
        }
        out
    }
}
