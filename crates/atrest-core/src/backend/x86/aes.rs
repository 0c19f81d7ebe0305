//! AES with AES-NI, shared by the x86 backends: the key schedule and one-block encryption (the wide
//! backends broadcast these round keys into their registers).
//!
//! All functions here need only `aes,ssse3` (and SSE2); inlined into a backend compiled with AVX they take
//! the VEX encodings.
#![allow(unsafe_code)]

use core::arch::x86_64::*;

/// The most round keys an AES key has (AES-256: 14 rounds + 1).
pub(super) const MAX_ROUND_KEYS: usize = 15;

/// Loads 16 bytes into a register (constants are plain byte arrays, so they are usable from safe code).
#[target_feature(enable = "sse2")]
#[inline]
pub(super) fn load_const(bytes: &[u8; 16]) -> __m128i {
    // SAFETY: `bytes` is a valid, readable 16-byte array; the load is unaligned.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
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

/// XORs `E(K, block)` into `x`.
#[target_feature(enable = "aes,sse2")]
#[inline]
pub(super) fn encrypt_xor(keys: &[__m128i; MAX_ROUND_KEYS], rounds: usize, block: &[u8; 16], x: &mut [u8; 16]) {
    let b = _mm_xor_si128(encrypt_block(keys, rounds, load_const(block)), load_const(x));
    // SAFETY: `x` is a writable 16-byte array; the store is unaligned.
    unsafe { _mm_storeu_si128(x.as_mut_ptr().cast(), b) };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn have_aes() -> bool {
        std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("ssse3")
    }

    fn encrypt(key: &[u8], block: [u8; 16]) -> [u8; 16] {
        // SAFETY: callers checked `have_aes()`, so the CPU runs these target features.
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
        if !have_aes() {
            eprintln!("skipped: no AES-NI/SSSE3");
            return;
        }
        let pt: [u8; 16] = core::array::from_fn(|i| (i as u8) * 0x11);
        let k128: [u8; 16] = core::array::from_fn(|i| i as u8);
        let k256: [u8; 32] = core::array::from_fn(|i| i as u8);
        assert_eq!(hex(&encrypt(&k128, pt)), "69c4e0d86a7b0430d8cdb78070b4c55a");
        assert_eq!(hex(&encrypt(&k256, pt)), "8ea2b7ca516745bfeafc49904b496089");
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }
}
