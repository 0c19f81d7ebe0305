//! GHASH on `PMULL`, computed as POLYVAL (RFC 8452, appendix A).
//!
//! `PMULL` multiplies polynomials whose coefficient of `x^i` is bit `i`, which is POLYVAL's order, while GHASH
//! reverses the bits. RFC 8452 gives the bridge: `GHASH(H, X..) = rev(POLYVAL(mulX(rev(H)), rev(X)..))`,
//! where `rev` reverses the 16 bytes. POLYVAL's product is `a * b * x^-128` modulo
//! `x^128 + x^127 + x^126 + x^121 + 1`, a Montgomery product, which reduces in two folds by the 64-bit
//! constant `0xc2 << 56` and needs no bit shifts.
//!
//! The multiplication is Karatsuba (three `PMULL`s). Eight blocks are hashed with one reduction: the
//! unreduced products of the blocks with `H^8 .. H^1` are summed first (the reduction is linear), which is
//! what the precomputed powers are for.

use core::arch::aarch64::{
    uint8x16_t, veorq_u8, vextq_u8, vgetq_lane_u64, vmull_high_p64, vmull_p64, vreinterpretq_p64_u8,
    vreinterpretq_u8_p128, vreinterpretq_u64_u8,
};

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::vec::{load, store, zero};

/// How many blocks one aggregated GHASH step absorbs, and how many powers of `H` are kept.
pub(super) const WIDTH: usize = 8;

/// `x^128 mod P` without its constant term, shifted down by 64: the Montgomery folding constant.
const FOLD: u64 = 0xc200_0000_0000_0000;

/// The powers `H^1 .. H^8` of the (POLYVAL-domain) hash key, as bytes so they can be wiped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(super) struct Powers {
    /// `h[i]` is `H^(i+1)`, little-endian.
    h: [[u8; 16]; WIDTH],
}

/// A 256-bit product before reduction, in Karatsuba form: `lo`, `hi` and the middle product whose
/// correction (`^ lo ^ hi`) is deferred to [`Wide::reduce`], so sums of products stay cheap.
#[derive(Clone, Copy)]
pub(super) struct Wide {
    lo: uint8x16_t,
    mid: uint8x16_t,
    hi: uint8x16_t,
}

/// The hash key in registers for one call: the powers and, for Karatsuba, each power's two halves XORed.
#[derive(Clone, Copy)]
pub(super) struct HashKey {
    h: [uint8x16_t; WIDTH],
    k: [u64; WIDTH],
}

/// `mulX_POLYVAL(rev(h))`: turns GHASH's key into POLYVAL's (constant time).
fn polyval_key(h: &[u8; 16]) -> [u8; 16] {
    let v = u128::from_be_bytes(*h);
    let carry = v >> 127;
    let poly: u128 = (1 << 127) | (1 << 126) | (1 << 121) | 1;
    ((v << 1) ^ (poly & 0u128.wrapping_sub(carry))).to_le_bytes()
}

impl Powers {
    /// Precomputes `H^1 .. H^8` from GHASH's key `E(K, 0^128)`.
    #[target_feature(enable = "neon,aes")]
    pub(super) fn new(ghash_key: &[u8; 16]) -> Powers {
        let mut h1 = polyval_key(ghash_key);
        let base = load(&h1);
        h1.zeroize();
        let base_k = karatsuba_key(base);
        let mut h = [[0u8; 16]; WIDTH];
        let mut p = base;
        for slot in &mut h {
            *slot = store(p);
            p = mul(p, base, base_k).reduce();
        }
        Powers { h }
    }

    /// Loads the powers into registers.
    #[target_feature(enable = "neon,aes")]
    pub(super) fn load(&self) -> HashKey {
        let mut h = [zero(); WIDTH];
        let mut k = [0u64; WIDTH];
        for i in 0..WIDTH {
            h[i] = load(&self.h[i]);
            k[i] = karatsuba_key(h[i]);
        }
        HashKey { h, k }
    }
}

/// The XOR of a value's two 64-bit halves: Karatsuba's middle operand.
#[target_feature(enable = "neon,aes")]
#[inline]
fn karatsuba_key(v: uint8x16_t) -> u64 {
    let v = vreinterpretq_u64_u8(v);
    vgetq_lane_u64::<0>(v) ^ vgetq_lane_u64::<1>(v)
}

/// The unreduced product `a * h`; `hk` is [`karatsuba_key`] of `h`.
#[target_feature(enable = "neon,aes")]
#[inline]
fn mul(a: uint8x16_t, h: uint8x16_t, hk: u64) -> Wide {
    let a64 = vreinterpretq_u64_u8(a);
    let h64 = vreinterpretq_u64_u8(h);
    let lo = vmull_p64(vgetq_lane_u64::<0>(a64), vgetq_lane_u64::<0>(h64));
    let hi = vmull_high_p64(vreinterpretq_p64_u8(a), vreinterpretq_p64_u8(h));
    let mid = vmull_p64(vgetq_lane_u64::<0>(a64) ^ vgetq_lane_u64::<1>(a64), hk);
    Wide { lo: vreinterpretq_u8_p128(lo), mid: vreinterpretq_u8_p128(mid), hi: vreinterpretq_u8_p128(hi) }
}

impl Wide {
    /// The sum of two unreduced products.
    #[target_feature(enable = "neon")]
    #[inline]
    pub(super) fn xor(self, o: Wide) -> Wide {
        Wide { lo: veorq_u8(self.lo, o.lo), mid: veorq_u8(self.mid, o.mid), hi: veorq_u8(self.hi, o.hi) }
    }

    /// Montgomery reduction: the 256-bit `x3:x2:x1:x0` becomes `(x + m * P) / x^128`, with `m` chosen in
    /// two 64-bit folds so the low half cancels. Each fold multiplies a word by [`FOLD`] and also adds the
    /// word itself 128 bits up (the `x^128` term of `P`).
    #[target_feature(enable = "neon,aes")]
    #[inline]
    pub(super) fn reduce(self) -> uint8x16_t {
        let z = zero();
        let mid = veorq_u8(self.mid, veorq_u8(self.lo, self.hi));
        // x01 = lo ^ (mid << 64), x23 = hi ^ (mid >> 64).
        let x01 = veorq_u8(self.lo, vextq_u8::<8>(z, mid));
        let x23 = veorq_u8(self.hi, vextq_u8::<8>(mid, z));
        // Fold x0: t = x0 * FOLD lands on words 1..2; x0 itself lands on word 2.
        let t = vreinterpretq_u8_p128(vmull_p64(vgetq_lane_u64::<0>(vreinterpretq_u64_u8(x01)), FOLD));
        // b = [x0 ^ t.hi, x1 ^ t.lo]: lane 1 is the folded word 1, lane 0 is what goes to word 2.
        let b = veorq_u8(x01, vextq_u8::<8>(t, t));
        // Fold word 1 the same way: its product lands on words 2..3, the word itself on word 3.
        let t2 = vreinterpretq_u8_p128(vmull_high_p64(vreinterpretq_p64_u8(b), vreinterpretq_p64_u8(vfold())));
        veorq_u8(x23, veorq_u8(t2, b))
    }
}

/// [`FOLD`] in both lanes, for `PMULL2`.
#[target_feature(enable = "neon")]
#[inline]
fn vfold() -> uint8x16_t {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&FOLD.to_le_bytes());
    bytes[8..].copy_from_slice(&FOLD.to_le_bytes());
    load(&bytes)
}

impl HashKey {
    /// The unreduced product of block `i` of an eight-block group with its power `H^(8-i)`. Block 0 must
    /// already carry the running hash XORed in.
    #[target_feature(enable = "neon,aes")]
    #[inline]
    pub(super) fn wide(&self, i: usize, x: uint8x16_t) -> Wide {
        let p = WIDTH - 1 - i;
        mul(x, self.h[p], self.k[p])
    }

    /// Absorbs one block (already in POLYVAL order).
    #[target_feature(enable = "neon,aes")]
    #[inline]
    pub(super) fn absorb1(&self, acc: uint8x16_t, x: uint8x16_t) -> uint8x16_t {
        mul(veorq_u8(acc, x), self.h[0], self.k[0]).reduce()
    }

    /// Absorbs the first `n <= 8` blocks of `x` (in POLYVAL order) with one reduction.
    #[target_feature(enable = "neon,aes")]
    #[inline]
    pub(super) fn absorb_n(&self, acc: uint8x16_t, x: &[uint8x16_t; WIDTH], n: usize) -> uint8x16_t {
        debug_assert!((1..=WIDTH).contains(&n));
        let mut sum = mul(veorq_u8(acc, x[0]), self.h[n - 1], self.k[n - 1]);
        for (j, &block) in x.iter().enumerate().take(n).skip(1) {
            sum = sum.xor(mul(block, self.h[n - 1 - j], self.k[n - 1 - j]));
        }
        sum.reduce()
    }

    /// Absorbs eight blocks (in POLYVAL order) with one reduction.
    #[target_feature(enable = "neon,aes")]
    #[inline]
    pub(super) fn absorb8(&self, acc: uint8x16_t, x: &[uint8x16_t; WIDTH]) -> uint8x16_t {
        self.absorb_n(acc, x, WIDTH)
    }

    /// Absorbs a byte string, zero-padded to whole blocks (GHASH's treatment of AAD and ciphertext).
    #[target_feature(enable = "neon,aes")]
    pub(super) fn absorb_padded(&self, mut acc: uint8x16_t, data: &[u8]) -> uint8x16_t {
        let (blocks, rest) = data.as_chunks::<16>();
        let mut groups = blocks.chunks_exact(WIDTH);
        for group in &mut groups {
            let mut x = [zero(); WIDTH];
            for (xi, b) in x.iter_mut().zip(group) {
                *xi = super::vec::reverse(load(b));
            }
            acc = self.absorb8(acc, &x);
        }
        let tail = groups.remainder();
        if !tail.is_empty() {
            let mut x = [zero(); WIDTH];
            for (xi, b) in x.iter_mut().zip(tail) {
                *xi = super::vec::reverse(load(b));
            }
            acc = self.absorb_n(acc, &x, tail.len());
        }
        if !rest.is_empty() {
            let mut last = [0u8; 16];
            last[..rest.len()].copy_from_slice(rest);
            acc = self.absorb1(acc, super::vec::reverse(load(&last)));
        }
        acc
    }
}
