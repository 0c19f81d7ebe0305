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
use super::detect::arm::{ArmAes, ArmPmull};
use crate::gcm::{Kernel, Xi};

/// Proof that the CPU runs this backend: the ARMv8 AES and PMULL instructions (NEON is in the baseline).
pub(crate) type Armv8Token = (ArmAes, ArmPmull);

/// An expanded AES-GCM key for the `armv8` backend. The round keys and hash key powers are wiped on drop
/// (both types zeroize themselves). Each call loads them into NEON registers; copies the compiler spills
/// to the stack during a call are not wiped, as with any Rust AES implementation.
pub(crate) struct GcmKey {
    /// Proof that this CPU runs the instructions below.
    _cpu: Armv8Token,
    round_keys: RoundKeys,
    powers: Powers,
}

impl Kernel for GcmKey {
    type Proof = Armv8Token;

    fn new(key: &[u8], cpu: Armv8Token) -> GcmKey {
        // SAFETY: `cpu` exists only when the probe found AES and PMULL; NEON is in the aarch64 baseline.
        let (round_keys, powers) = unsafe { expand(key) };
        GcmKey { _cpu: cpu, round_keys, powers }
    }

    #[inline(always)]
    fn encrypt_xor(&self, block: &[u8; 16], x: &mut [u8; 16]) {
        // SAFETY: the key's token proves the CPU features.
        let mut k = unsafe { encrypt(&self.round_keys, block) };
        for (x, k) in x.iter_mut().zip(&k) {
            *x ^= k;
        }
        zeroize::Zeroize::zeroize(&mut k);
    }

    #[inline(always)]
    fn ghash(&self, xi: &mut Xi, blocks: &[u8]) {
        // SAFETY: the key's token proves the CPU features.
        unsafe { gcm::ghash(&self.powers, xi, blocks) };
    }

    #[inline(always)]
    fn seal_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        self.run(nonce, xi, buf, Direction::Seal);
    }

    #[inline(always)]
    fn open_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        self.run(nonce, xi, buf, Direction::Open);
    }

    fn in_context<R>(&self, frame: impl FnOnce() -> R) -> R {
        // SAFETY: the key's token proves the CPU features.
        unsafe { in_features(frame) }
    }
}

/// Runs the frame with this backend's target features, so the kernel's methods inline into it.
#[target_feature(enable = "neon,aes")]
fn in_features<R>(frame: impl FnOnce() -> R) -> R {
    frame()
}

impl GcmKey {
    #[inline(always)]
    fn run(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>, direction: Direction) {
        let len = buf.len();
        let (inp, out) = buf.into_raw();
        // SAFETY: the key's token proves the CPU features. An `InOutBuf` of `len` elements guarantees `inp`
        // readable and `out` writable for `len` bytes, either the same buffer or non-overlapping ones, for
        // the lifetimes it borrowed, which outlast this call; the frame passes whole blocks.
        unsafe {
            match self.round_keys.rounds {
                10 => run::<10>(self, nonce, xi, inp, out, len, direction),
                _ => run::<14>(self, nonce, xi, inp, out, len, direction),
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
    let mut h = [0u8; 16];
    // SAFETY: the caller's features are this function's.
    h = unsafe { encrypt(&round_keys, &h) };
    let powers = Powers::new(&h);
    zeroize::Zeroize::zeroize(&mut h);
    (round_keys, powers)
}

/// Encrypts one block.
///
/// # Safety
/// The CPU has NEON and AES.
#[target_feature(enable = "neon,aes")]
#[inline]
unsafe fn encrypt(round_keys: &RoundKeys, block: &[u8; 16]) -> [u8; 16] {
    let b = vec::load(block);
    match round_keys.rounds {
        10 => vec::store(Schedule::<10>::load(round_keys).encrypt(b)),
        _ => vec::store(Schedule::<14>::load(round_keys).encrypt(b)),
    }
}

/// Loads the key into registers and runs the bulk of one seal or open with `NR` rounds.
///
/// # Safety
/// The CPU has NEON, AES and PMULL; `inp` is readable and `out` writable for `len` bytes (whole blocks),
/// equal or disjoint; `key.round_keys.rounds == NR`.
#[target_feature(enable = "neon,aes")]
unsafe fn run<const NR: usize>(
    key: &GcmKey,
    nonce: &[u8; 12],
    xi: &mut Xi,
    inp: *const u8,
    out: *mut u8,
    len: usize,
    direction: Direction,
) {
    let keys = CallKeys::<NR>::new(Schedule::load(&key.round_keys), key.powers.load(), nonce);
    match direction {
        // SAFETY: the buffer contract is the caller's, and this function's target features are the CPU's.
        Direction::Seal => unsafe { gcm::seal(&keys, xi, inp, out, len) },
        // SAFETY: as above.
        Direction::Open => unsafe { gcm::open(&keys, xi, inp, out, len) },
    }
}

/// The kernel against `soft` on an aarch64 CPU with the Cryptography Extensions (run under QEMU by
/// `scripts/test.d/40-aarch64.sh`).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::detect::prove;
    use crate::backend::kernel_tests::{lens, matches_soft};

    #[test]
    fn matches_soft_all_paths() {
        let Some(token) = prove::<Armv8Token>() else {
            eprintln!("skipped: this CPU has no ARMv8 AES/PMULL");
            return;
        };
        matches_soft("armv8", lens(), |key| GcmKey::new(key, token));
    }
}
