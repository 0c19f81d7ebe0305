//! AES on the ARMv8 Cryptography Extensions: the key schedule and block encryption, one block or eight.
//!
//! `AESE` is AddRoundKey + ShiftRows + SubBytes and `AESMC` is MixColumns, so a round is `AESMC(AESE(s, k))`
//! and the last round is `AESE(s, k) ^ k_last`. The key schedule's SubWord also runs on `AESE` (with a zero
//! round key and the word in all four columns, ShiftRows changes nothing), so no table lookup ever depends
//! on the key.

use core::arch::aarch64::{
    uint8x16_t, vaeseq_u8, vaesmcq_u8, vdupq_n_u8, vdupq_n_u32, veorq_u8, vgetq_lane_u32, vreinterpretq_u8_u32,
    vreinterpretq_u32_u8,
};

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::vec::load;

/// The most round keys an AES key schedule has (AES-256: 14 rounds + 1).
pub(super) const MAX_ROUND_KEYS: usize = 15;

/// An expanded AES encryption key, as bytes so it can be wiped; loaded into registers per call.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(super) struct RoundKeys {
    /// Round keys `0..=rounds`; the rest stay zero.
    pub(super) keys: [[u8; 16]; MAX_ROUND_KEYS],
    /// 10 for AES-128, 14 for AES-256.
    pub(super) rounds: usize,
}

/// The round keys of one call, in registers. `NR` is the number of rounds.
#[derive(Clone, Copy)]
pub(super) struct Schedule<const NR: usize> {
    k: [uint8x16_t; MAX_ROUND_KEYS],
}

impl<const NR: usize> Schedule<NR> {
    /// Loads the round keys. `keys.rounds` must equal `NR` (the caller dispatches on it).
    #[target_feature(enable = "neon,aes")]
    pub(super) fn load(keys: &RoundKeys) -> Self {
        debug_assert_eq!(keys.rounds, NR);
        let mut k = [vdupq_n_u8(0); MAX_ROUND_KEYS];
        for (dst, src) in k.iter_mut().zip(&keys.keys) {
            *dst = load(src);
        }
        Schedule { k }
    }

    /// Encrypts one block.
    #[target_feature(enable = "neon,aes")]
    #[inline]
    pub(super) fn encrypt(&self, mut s: uint8x16_t) -> uint8x16_t {
        for r in 0..NR - 1 {
            s = vaesmcq_u8(vaeseq_u8(s, self.k[r]));
        }
        veorq_u8(vaeseq_u8(s, self.k[NR - 1]), self.k[NR])
    }

    /// One full round on eight blocks (round `r < NR - 1`), round-major so the eight dependency chains
    /// overlap in the pipeline.
    #[target_feature(enable = "neon,aes")]
    #[inline]
    pub(super) fn round8(&self, s: &mut [uint8x16_t; 8], r: usize) {
        for b in s.iter_mut() {
            *b = vaesmcq_u8(vaeseq_u8(*b, self.k[r]));
        }
    }

    /// The last round on eight blocks.
    #[target_feature(enable = "neon,aes")]
    #[inline]
    pub(super) fn last8(&self, s: &mut [uint8x16_t; 8]) {
        for b in s.iter_mut() {
            *b = veorq_u8(vaeseq_u8(*b, self.k[NR - 1]), self.k[NR]);
        }
    }
}

/// SubWord: the AES S-box on each byte of a word.
#[target_feature(enable = "neon,aes")]
fn sub_word(w: u32) -> u32 {
    let s = vaeseq_u8(vreinterpretq_u8_u32(vdupq_n_u32(w)), vdupq_n_u8(0));
    vgetq_lane_u32::<0>(vreinterpretq_u32_u8(s))
}

/// FIPS 197 key expansion for a 16- or 32-byte key (the caller has checked the length). Words are read
/// little-endian, so RotWord is a rotation right by one byte and Rcon goes into the low byte.
#[target_feature(enable = "neon,aes")]
pub(super) fn expand(key: &[u8]) -> RoundKeys {
    let nk = key.len() / 4;
    assert!(nk == 4 || nk == 8, "AES key length {} was checked by the caller", key.len());
    let rounds = nk + 6;
    let total = 4 * (rounds + 1);
    let mut w = [0u32; 4 * MAX_ROUND_KEYS];
    for (word, bytes) in w.iter_mut().zip(key.chunks_exact(4)) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let mut rcon: u32 = 1;
    for i in nk..total {
        let mut t = w[i - 1];
        if i % nk == 0 {
            t = sub_word(t.rotate_right(8)) ^ rcon;
            // Rcon is public: doubling in GF(2^8) may branch.
            rcon = if rcon & 0x80 != 0 { (rcon << 1) ^ 0x11b } else { rcon << 1 };
        } else if nk == 8 && i % nk == 4 {
            t = sub_word(t);
        }
        w[i] = w[i - nk] ^ t;
    }
    let mut keys = [[0u8; 16]; MAX_ROUND_KEYS];
    for (round_key, words) in keys.iter_mut().zip(w[..total].chunks_exact(4)) {
        for (dst, word) in round_key.chunks_exact_mut(4).zip(words) {
            dst.copy_from_slice(&word.to_le_bytes());
        }
    }
    w.zeroize();
    RoundKeys { keys, rounds }
}
