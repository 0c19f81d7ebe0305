//! The bulk of one-pass AES-GCM, the kernel of the shared frame ([`crate::gcm`]): counter-mode AES and
//! GHASH over the same buffer's whole blocks, eight blocks per step.
//!
//! Each step runs the AES rounds of eight counter blocks round-major and slots the eight `PMULL`
//! multiplications of a GHASH group between the rounds, so the AES and multiply units work side by side
//! (the structure of the fastest ARM code, e.g. OpenSSL's unrolled aes-gcm-armv8 and ring's aarch64 GCM).
//! When opening, the group is the ciphertext being decrypted in the same step; when sealing, the
//! ciphertext of a step exists only after its rounds, so a step hashes the previous step's output and the
//! last group is hashed after the loop.
//!
//! Inputs and outputs are raw pointers from an `InOutBuf`: equal (in place) or not overlapping. Every step
//! reads its input blocks before it writes the output blocks at the same offsets, so both cases are right.

use core::arch::aarch64::{
    uint8x16_t, uint32x4_t, veorq_u8, vreinterpretq_u8_u32, vreinterpretq_u32_u8, vsetq_lane_u32,
};

use super::aes::Schedule;
use super::ghash::{HashKey, Powers, WIDTH};
use super::vec::{load, load_at, reverse, store, store_at, zero};
use crate::gcm::Xi;

/// Bytes in one eight-block step.
const STEP: usize = 16 * WIDTH;

/// Call sites of [`CallKeys::keystream8_hashing`].
const SEAL: u8 = 0;
const OPEN: u8 = 1;

/// Everything one call needs in registers: round keys, hash key powers, and the nonce block.
pub(super) struct CallKeys<const NR: usize> {
    pub(super) aes: Schedule<NR>,
    pub(super) hash: HashKey,
    /// `nonce || 0^32`, with the counter word set per block.
    base: uint32x4_t,
}

impl<const NR: usize> CallKeys<NR> {
    /// Combines the loaded keys with the nonce.
    #[target_feature(enable = "neon,aes")]
    pub(super) fn new(aes: Schedule<NR>, hash: HashKey, nonce: &[u8; 12]) -> Self {
        let mut block = [0u8; 16];
        block[..12].copy_from_slice(nonce);
        CallKeys { aes, hash, base: vreinterpretq_u32_u8(load(&block)) }
    }

    /// The counter block `nonce || be32(ctr)`.
    #[target_feature(enable = "neon,aes")]
    #[inline]
    fn counter(&self, ctr: u32) -> uint8x16_t {
        // Lane 3 holds bytes 12..16 little-endian; the counter is big-endian there.
        vreinterpretq_u8_u32(vsetq_lane_u32::<3>(u32::from_le_bytes(ctr.to_be_bytes()), self.base))
    }

    /// Eight counter blocks from `ctr`, encrypted.
    #[target_feature(enable = "neon,aes")]
    #[inline]
    fn keystream8(&self, ctr: u32) -> [uint8x16_t; WIDTH] {
        let mut s = self.counters8(ctr);
        for r in 0..NR - 1 {
            self.aes.round8(&mut s, r);
        }
        self.aes.last8(&mut s);
        s
    }

    /// Eight counter blocks from `ctr`, encrypted while `x` (POLYVAL order) is absorbed into `acc`.
    ///
    /// `SITE` gives each caller (seal, open) its own instance: a function with a single call site is
    /// inlined into the loop, so round keys and hash powers stay in registers across steps. (Inlining cannot
    /// be forced on a `#[target_feature]` function.)
    #[target_feature(enable = "neon,aes")]
    #[inline]
    fn keystream8_hashing<const SITE: u8>(
        &self,
        ctr: u32,
        acc: uint8x16_t,
        x: &[uint8x16_t; WIDTH],
    ) -> ([uint8x16_t; WIDTH], uint8x16_t) {
        let mut s = self.counters8(ctr);
        let mut sum = self.hash.wide(0, veorq_u8(acc, x[0]));
        for r in 0..NR - 1 {
            self.aes.round8(&mut s, r);
            // Block 0 went in above; blocks 1..8 ride along with rounds 1..8 (every key size has more).
            if r >= 1
                && let Some(&xr) = x.get(r)
            {
                sum = sum.xor(self.hash.wide(r, xr));
            }
        }
        self.aes.last8(&mut s);
        (s, sum.reduce())
    }

    #[target_feature(enable = "neon,aes")]
    #[inline]
    fn counters8(&self, ctr: u32) -> [uint8x16_t; WIDTH] {
        let mut s = [zero(); WIDTH];
        for (i, b) in s.iter_mut().enumerate() {
            *b = self.counter(ctr.wrapping_add(i as u32));
        }
        s
    }
}

/// The frame's accumulator in POLYVAL order: the block `X_i` byte-reversed, i.e. the integer little-endian.
#[target_feature(enable = "neon")]
#[inline]
fn load_xi(xi: &Xi) -> uint8x16_t {
    load(&xi.to_le_bytes())
}

/// Writes a POLYVAL-order accumulator back as the frame's `Xi`.
#[target_feature(enable = "neon")]
#[inline]
fn store_xi(xi: &mut Xi, acc: uint8x16_t) {
    *xi = u128::from_le_bytes(store(acc));
}

/// Absorbs whole blocks into the frame's accumulator.
#[target_feature(enable = "neon,aes")]
#[inline]
pub(super) fn ghash(powers: &Powers, xi: &mut Xi, data: &[u8]) {
    let acc = powers.load().absorb_padded(load_xi(xi), data);
    store_xi(xi, acc);
}

/// Encrypts `len` bytes (whole blocks) from `inp` to `out`, absorbing the ciphertext into `xi`.
///
/// # Safety
/// `inp` must be readable and `out` writable for `len` bytes, a multiple of 16; they are equal or do not
/// overlap. The CPU has NEON, AES and PMULL.
#[target_feature(enable = "neon,aes")]
pub(super) unsafe fn seal<const NR: usize>(k: &CallKeys<NR>, xi: &mut Xi, inp: *const u8, out: *mut u8, len: usize) {
    debug_assert_eq!(len % 16, 0);
    let mut acc = load_xi(xi);
    let mut ctr: u32 = 2;
    let mut off = 0;
    let steps = len / STEP;
    if steps > 0 {
        // The first step has no previous ciphertext to hash.
        let ks = k.keystream8(ctr);
        // SAFETY: `off + STEP <= len`, so the step is inside both buffers (caller's contract).
        let mut pending = unsafe { xor_step(inp, out, off, &ks) };
        ctr = ctr.wrapping_add(WIDTH as u32);
        off += STEP;
        for _ in 1..steps {
            let (ks, next) = k.keystream8_hashing::<SEAL>(ctr, acc, &pending);
            acc = next;
            // SAFETY: as above; this step ends at `off + STEP <= steps * STEP <= len`.
            pending = unsafe { xor_step(inp, out, off, &ks) };
            ctr = ctr.wrapping_add(WIDTH as u32);
            off += STEP;
        }
        acc = k.hash.absorb8(acc, &pending);
    }
    while len - off >= 16 {
        let ks = k.aes.encrypt(k.counter(ctr));
        // SAFETY: `off + 16 <= len`, inside both buffers; the input block is read before the output is written.
        let c = unsafe { veorq_u8(load_at(inp, off), ks) };
        // SAFETY: as above.
        unsafe { store_at(out, off, c) };
        acc = k.hash.absorb1(acc, reverse(c));
        ctr = ctr.wrapping_add(1);
        off += 16;
    }
    store_xi(xi, acc);
}

/// Absorbs `len` bytes (whole blocks) of ciphertext at `inp` into `xi` and decrypts them to `out`.
///
/// # Safety
/// As for [`seal`].
#[target_feature(enable = "neon,aes")]
pub(super) unsafe fn open<const NR: usize>(k: &CallKeys<NR>, xi: &mut Xi, inp: *const u8, out: *mut u8, len: usize) {
    debug_assert_eq!(len % 16, 0);
    let mut acc = load_xi(xi);
    let mut ctr: u32 = 2;
    let mut off = 0;
    for _ in 0..len / STEP {
        let mut c = [zero(); WIDTH];
        let mut x = [zero(); WIDTH];
        for (i, (ci, xi)) in c.iter_mut().zip(&mut x).enumerate() {
            // SAFETY: `off + STEP <= len`, so every block of the step is readable from `inp`.
            *ci = unsafe { load_at(inp, off + 16 * i) };
            *xi = reverse(*ci);
        }
        let (ks, next) = k.keystream8_hashing::<OPEN>(ctr, acc, &x);
        acc = next;
        for (i, (ci, ki)) in c.iter().zip(&ks).enumerate() {
            // SAFETY: the step is writable in `out`; all its input blocks were read above.
            unsafe { store_at(out, off + 16 * i, veorq_u8(*ci, *ki)) };
        }
        ctr = ctr.wrapping_add(WIDTH as u32);
        off += STEP;
    }
    while len - off >= 16 {
        // SAFETY: `off + 16 <= len`, inside both buffers.
        let c = unsafe { load_at(inp, off) };
        acc = k.hash.absorb1(acc, reverse(c));
        let p = veorq_u8(c, k.aes.encrypt(k.counter(ctr)));
        // SAFETY: as above; the input block was read first.
        unsafe { store_at(out, off, p) };
        ctr = ctr.wrapping_add(1);
        off += 16;
    }
    store_xi(xi, acc);
}

/// XORs one eight-block step of input at `off` with the keystream into the output, and returns the
/// ciphertext blocks in POLYVAL order for hashing.
///
/// # Safety
/// `off + STEP` bytes must be readable from `inp` and writable in `out`, which are equal or disjoint.
#[target_feature(enable = "neon,aes")]
#[inline]
unsafe fn xor_step(inp: *const u8, out: *mut u8, off: usize, ks: &[uint8x16_t; WIDTH]) -> [uint8x16_t; WIDTH] {
    let mut c = [zero(); WIDTH];
    for (i, (ci, ki)) in c.iter_mut().zip(ks).enumerate() {
        // SAFETY: block `i` of the step is readable (caller's contract).
        *ci = veorq_u8(unsafe { load_at(inp, off + 16 * i) }, *ki);
    }
    let mut x = [zero(); WIDTH];
    for (i, (ci, xi)) in c.iter().zip(&mut x).enumerate() {
        // SAFETY: block `i` of the step is writable; every input block of the step was read above.
        unsafe { store_at(out, off + 16 * i, *ci) };
        *xi = reverse(*ci);
    }
    x
}
