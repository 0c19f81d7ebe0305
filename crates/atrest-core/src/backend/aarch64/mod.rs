//! The `armv8` backend: AES-GCM on the ARMv8 Cryptography Extensions (`AESE`/`AESMC` and `PMULL`), AES and
//! GHASH in one pass, eight blocks per step with one GHASH reduction per step (see [`gcm`]).
//!
//! This directory is the only place in the crate where `unsafe` is allowed for this architecture: the
//! intrinsics need the CPU features, and the data path takes an `InOutBuf`'s raw pointers so that
//! separate input and output buffers cost no copy. A key can only be built with an [`Armv8Token`], which
//! the detector hands out after it found AES and PMULL, so every call into the intrinsics is justified by
//! the token the key holds.

#![allow(unsafe_code)]

mod aes;
mod gcm;
mod ghash;
mod vec;

use aead::inout::InOutBuf;

use self::aes::{RoundKeys, Schedule};
use self::gcm::CallKeys;
use self::ghash::Powers;
use super::detect::Armv8Token;
use crate::gcm::Tag;

/// An expanded AES-GCM key for the `armv8` backend. The round keys and hash key powers are wiped on drop
/// (both types zeroize themselves). Each call loads them into NEON registers; copies the compiler spills
/// to the stack during a call are not wiped, as with any Rust AES implementation.
pub(crate) struct GcmKey {
    /// Proof that this CPU runs the instructions below.
    _cpu: Armv8Token,
    round_keys: RoundKeys,
    powers: Powers,
}

impl GcmKey {
    /// Expands a 16- or 32-byte AES key (the caller has checked the length).
    pub(crate) fn new(cpu: Armv8Token, key: &[u8]) -> GcmKey {
        // SAFETY: `cpu` exists only when the probe found AES and PMULL; NEON is in the aarch64 baseline.
        let (round_keys, powers) = unsafe { expand(key) };
        GcmKey { _cpu: cpu, round_keys, powers }
    }

    /// Encrypts the buffer and returns the tag.
    pub(crate) fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: InOutBuf<'_, '_, u8>) -> Tag {
        let len = buf.len();
        let (inp, out) = buf.into_raw();
        // SAFETY: the key's token proves the CPU features. An `InOutBuf` of `len` elements guarantees `inp`
        // readable and `out` writable for `len` bytes, either the same buffer or non-overlapping ones, for
        // the lifetimes it borrowed, which outlast this call.
        unsafe {
            match self.round_keys.rounds {
                10 => run::<10>(self, nonce, aad, inp, out, len, Direction::Seal),
                _ => run::<14>(self, nonce, aad, inp, out, len, Direction::Seal),
            }
        }
    }

    /// Decrypts the buffer and returns the tag computed over the ciphertext; the caller compares it.
    pub(crate) fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: InOutBuf<'_, '_, u8>) -> Tag {
        let len = buf.len();
        let (inp, out) = buf.into_raw();
        // SAFETY: as in `seal`.
        unsafe {
            match self.round_keys.rounds {
                10 => run::<10>(self, nonce, aad, inp, out, len, Direction::Open),
                _ => run::<14>(self, nonce, aad, inp, out, len, Direction::Open),
            }
        }
    }
}

#[derive(Clone, Copy)]
enum Direction {
    Seal,
    Open,
}

/// Expands the AES key and derives the GHASH key powers.
///
/// # Safety
/// The CPU has NEON, AES and PMULL.
#[target_feature(enable = "neon,aes")]
unsafe fn expand(key: &[u8]) -> (RoundKeys, Powers) {
    let round_keys = aes::expand(key);
    let mut h = match round_keys.rounds {
        10 => vec::store(Schedule::<10>::load(&round_keys).encrypt(vec::zero())),
        _ => vec::store(Schedule::<14>::load(&round_keys).encrypt(vec::zero())),
    };
    let powers = Powers::new(&h);
    zeroize::Zeroize::zeroize(&mut h);
    (round_keys, powers)
}

/// Loads the key into registers and runs one seal or open with `NR` rounds.
///
/// # Safety
/// The CPU has NEON, AES and PMULL; `inp` is readable and `out` writable for `len` bytes, equal or disjoint;
/// `key.round_keys.rounds == NR`.
#[target_feature(enable = "neon,aes")]
unsafe fn run<const NR: usize>(
    key: &GcmKey,
    nonce: &[u8; 12],
    aad: &[u8],
    inp: *const u8,
    out: *mut u8,
    len: usize,
    direction: Direction,
) -> Tag {
    let keys = CallKeys::<NR>::new(Schedule::load(&key.round_keys), key.powers.load(), nonce);
    match direction {
        // SAFETY: the buffer contract is the caller's, and this function's target features are the CPU's.
        Direction::Seal => unsafe { gcm::seal(&keys, aad, inp, out, len) },
        // SAFETY: as above.
        Direction::Open => unsafe { gcm::open(&keys, aad, inp, out, len) },
    }
}
