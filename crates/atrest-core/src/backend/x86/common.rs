//! 128-bit building blocks both x86 backends share: AES key expansion with AES-NI, single-block AES,
//! and GHASH arithmetic on one 128-bit lane (multiplication, reduction, the key powers).
//!
//! # GHASH representation
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

/// The most round keys an AES key has (AES-256: 14 rounds + 1).
pub(super) const MAX_ROUND_KEYS: usize = 15;

/// How many GHASH key powers the backends precompute: one 128-byte stride of blocks.
pub(super) const POWERS: usize = 8;

/// `P'` without its `y^128` term: `y^127 + y^126 + y^121` in the high qword, `1` in the low one.
pub(super) const GF_POLY: u128 = (0xc200_0000_0000_0000u128 << 64) | 1;

/// The `pshufb` mask that reverses the bytes of a 128-bit lane.
pub(super) const BSWAP_MASK: [u8; 16] = [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0];

/// Loads a constant into a register; the constants above are plain data so they are usable from safe code.
#[target_feature(enable = "sse2")]
#[inline]
pub(super) fn load_const(bytes: &[u8; 16]) -> __m128i {
    // SAFETY: `bytes` is a valid, readable 16-byte array; the load is unaligned.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

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

/// Expanded AES round keys (11 for AES-128, 15 for AES-256), zeroized by their owner.
pub(super) struct RoundKeys {
    pub(super) keys: [__m128i; MAX_ROUND_KEYS],
    /// Number of rounds: 10 or 14.
    pub(super) rounds: usize,
}

/// One step of the key schedule: `prefix_xor(xor_src) ^ SubWord(RotWord?(w)) ^ rcon` in every column, where
/// `w` is the last word of `assist_src`. `$rot` picks the `pshufb` mask that broadcasts `w` rotated (AES-128
/// and AES-256 even keys) or as is (AES-256 odd keys, `rcon = 0`). When all four columns are equal,
/// ShiftRows is the identity, so `aesenclast(columns, rcon)` is exactly SubWord plus the round constant.
/// (`aeskeygenassist` would do the same, but Miri cannot run it and the key schedule must run there too.)
macro_rules! expand_step {
    ($assist_src:expr, $xor_src:expr, $rcon:literal, $rot:expr) => {{
        let rcon = _mm_set1_epi32($rcon);
        let t = _mm_aesenclast_si128(_mm_shuffle_epi8($assist_src, load_const($rot)), rcon);
        let mut k = $xor_src;
        k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        k = _mm_xor_si128(k, _mm_slli_si128::<4>(k));
        _mm_xor_si128(k, t)
    }};
}

/// Broadcasts `RotWord` of the last word to all columns.
const ROT_LAST: [u8; 16] = [13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12];
/// Broadcasts the last word unrotated.
const LAST: [u8; 16] = [12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15];

/// Expands a 16- or 32-byte AES key (FIPS-197 key schedule).
#[target_feature(enable = "aes,ssse3")]
pub(super) fn expand_key(key: &[u8]) -> RoundKeys {
    let mut keys = [_mm_setzero_si128(); MAX_ROUND_KEYS];
    let load = |bytes: &[u8]| -> __m128i {
        let arr: &[u8; 16] = bytes.try_into().expect("16-byte half of the key");
        load_const(arr)
    };
    match key.len() {
        16 => {
            keys[0] = load(key);
            keys[1] = expand_step!(keys[0], keys[0], 0x01, &ROT_LAST);
            keys[2] = expand_step!(keys[1], keys[1], 0x02, &ROT_LAST);
            keys[3] = expand_step!(keys[2], keys[2], 0x04, &ROT_LAST);
            keys[4] = expand_step!(keys[3], keys[3], 0x08, &ROT_LAST);
            keys[5] = expand_step!(keys[4], keys[4], 0x10, &ROT_LAST);
            keys[6] = expand_step!(keys[5], keys[5], 0x20, &ROT_LAST);
            keys[7] = expand_step!(keys[6], keys[6], 0x40, &ROT_LAST);
            keys[8] = expand_step!(keys[7], keys[7], 0x80, &ROT_LAST);
            keys[9] = expand_step!(keys[8], keys[8], 0x1b, &ROT_LAST);
            keys[10] = expand_step!(keys[9], keys[9], 0x36, &ROT_LAST);
            RoundKeys { keys, rounds: 10 }
        }
        32 => {
            keys[0] = load(&key[..16]);
            keys[1] = load(&key[16..]);
            keys[2] = expand_step!(keys[1], keys[0], 0x01, &ROT_LAST);
            keys[3] = expand_step!(keys[2], keys[1], 0x00, &LAST);
            keys[4] = expand_step!(keys[3], keys[2], 0x02, &ROT_LAST);
            keys[5] = expand_step!(keys[4], keys[3], 0x00, &LAST);
            keys[6] = expand_step!(keys[5], keys[4], 0x04, &ROT_LAST);
            keys[7] = expand_step!(keys[6], keys[5], 0x00, &LAST);
            keys[8] = expand_step!(keys[7], keys[6], 0x08, &ROT_LAST);
            keys[9] = expand_step!(keys[8], keys[7], 0x00, &LAST);
            keys[10] = expand_step!(keys[9], keys[8], 0x10, &ROT_LAST);
            keys[11] = expand_step!(keys[10], keys[9], 0x00, &LAST);
            keys[12] = expand_step!(keys[11], keys[10], 0x20, &ROT_LAST);
            keys[13] = expand_step!(keys[12], keys[11], 0x00, &LAST);
            keys[14] = expand_step!(keys[13], keys[12], 0x40, &ROT_LAST);
            RoundKeys { keys, rounds: 14 }
        }
        n => unreachable!("AES key length {n} was checked by the caller"),
    }
}

/// AES-encrypts one block with `rounds` rounds.
#[target_feature(enable = "aes,sse2")]
#[inline]
pub(super) fn encrypt_block(keys: &[__m128i; MAX_ROUND_KEYS], rounds: usize, block: __m128i) -> __m128i {
    let mut b = _mm_xor_si128(block, keys[0]);
    for k in &keys[1..rounds] {
        b = _mm_aesenc_si128(b, *k);
    }
    _mm_aesenclast_si128(b, keys[rounds])
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

/// GCM's first counter block `J0 = nonce || 0x00000001`.
#[target_feature(enable = "sse2")]
#[inline]
pub(super) fn j0(nonce: &[u8; 12]) -> __m128i {
    let mut block = [0u8; 16];
    block[..12].copy_from_slice(nonce);
    block[15] = 1;
    load_const(&block)
}

/// The final GHASH block (bit lengths of AAD and ciphertext) in reflected form.
#[target_feature(enable = "ssse3")]
#[inline]
pub(super) fn length_block(aad_len: usize, ct_len: usize) -> __m128i {
    reflect(load_const(&crate::gcm::length_block(aad_len, ct_len)))
}

/// The tag: `reflect(acc) xor AES(K, J0)`.
#[target_feature(enable = "aes,ssse3")]
#[inline]
pub(super) fn tag(keys: &[__m128i; MAX_ROUND_KEYS], rounds: usize, nonce: &[u8; 12], acc: __m128i) -> [u8; 16] {
    let mask = encrypt_block(keys, rounds, j0(nonce));
    let t = _mm_xor_si128(reflect(acc), mask);
    let mut out = [0u8; 16];
    // SAFETY: `out` is a writable 16-byte array; the store is unaligned.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), t) };
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn have_aesni() -> bool {
        std::arch::is_x86_feature_detected!("aes")
            && std::arch::is_x86_feature_detected!("pclmulqdq")
            && std::arch::is_x86_feature_detected!("ssse3")
    }

    fn encrypt(key: &[u8], block: [u8; 16]) -> [u8; 16] {
        // SAFETY: callers checked `have_aesni()`, so the CPU runs these target features.
        unsafe {
            let rk = expand_key(key);
            let out = encrypt_block(&rk.keys, rk.rounds, load_const(&block));
            let mut bytes = [0u8; 16];
            _mm_storeu_si128(bytes.as_mut_ptr().cast(), out);
            bytes
        }
    }

    /// FIPS-197 appendix C.1 and C.3 example vectors.
    #[test]
    fn fips197_examples() {
        if !have_aesni() {
            eprintln!("skipped: no AES-NI");
            return;
        }
        let pt: [u8; 16] = core::array::from_fn(|i| (i as u8) * 0x11);
        let k128: [u8; 16] = core::array::from_fn(|i| i as u8);
        let k256: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(hex(&encrypt(&k128, pt)), "69c4e0d86a7b0430d8cdb78070b4c55a");
        assert_eq!(hex(&encrypt(&k256, pt)), "8ea2b7ca516745bfeafc49904b496089");
    }

    /// `gf_mul` against a bit-serial GHASH multiplication written from the GCM specification.
    #[test]
    fn gf_mul_matches_bitwise_definition() {
        if !have_aesni() {
            eprintln!("skipped: no PCLMULQDQ");
            return;
        }
        let mut seed = 0x0123_4567_89ab_cdefu64;
        for _ in 0..20 {
            let x = next_block(&mut seed);
            let h = next_block(&mut seed);
            let want = spec_mul(u128::from_be_bytes(x), u128::from_be_bytes(h));
            // SAFETY: `have_aesni()` was checked above.
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

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
