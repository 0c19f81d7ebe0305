//! `vaes-avx2`: AES-GCM on 256-bit registers with VAES and VPCLMULQDQ (two blocks per register).
//!
//! The main loop takes 128 bytes (8 blocks, 4 registers) per iteration: the AES rounds of these blocks are
//! interleaved with GHASH of 8 ciphertext blocks (the previous iteration's output when sealing, this
//! iteration's input when opening), so the AES and carry-less-multiply units work side by side. GHASH
//! multiplies the 8 blocks by the precomputed powers `H^8..H^1` with Karatsuba (3 multiplications per block
//! pair instead of 4) and reduces once per iteration. Counters live little-endian in a register (one
//! `vpaddd` per two blocks) and are byte-swapped once when used. A tail of fewer than 8 blocks is hashed by
//! starting the power table at `H^n`.
//!
//! This is the bulk stride of the shared GCM frame ([`crate::gcm`]); the GHASH representation is in
//! [`super::ghash`] and the key schedule in [`super::aes`].
#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::ptr;

use aead::inout::InOutBuf;
use zeroize::Zeroize;

use super::aes::{self, MAX_ROUND_KEYS};
use super::cpu::{Aes, Avx2, Pclmulqdq, Ssse3, Vaes, Vpclmulqdq};
use super::ghash::{self, POWERS};
use crate::gcm::{Kernel, Xi};

/// Proof that the CPU runs this backend: AES-NI, PCLMULQDQ and SSSE3 for the 128-bit helpers, AVX2 with the
/// YMM state, VAES and VPCLMULQDQ. VAES on YMM registers needs no AVX-512 state, so a CPU whose OS enables
/// no ZMM state still runs it.
pub(crate) type VaesAvx2Token = ((Aes, Pclmulqdq, Ssse3), Avx2, Vaes, Vpclmulqdq);

/// Bytes per main-loop iteration.
const STRIDE: usize = 128;

/// An expanded key: round keys broadcast to both lanes, GHASH key powers, and the proof that this CPU runs
/// VAES/VPCLMULQDQ/AVX2. Everything is zeroized on drop.
#[repr(C, align(32))]
pub(crate) struct GcmKey {
    rk: [__m256i; MAX_ROUND_KEYS],
    rk128: [__m128i; MAX_ROUND_KEYS],
    /// `[K(H^8), K(H^7)], [K(H^6), K(H^5)], ...`: the powers for the 4 registers of a full stride.
    powers256: [__m256i; POWERS / 2],
    /// The same powers with each lane's halves xored into its low half (Karatsuba's middle operand).
    powers_x: [__m256i; POWERS / 2],
    /// `K(H^8)..K(H^1)` then zeros, read at an offset for tails (see `ghash::HashKey`).
    powers: [__m128i; 2 * POWERS],
    rounds: usize,
    _token: VaesAvx2Token,
}

impl Drop for GcmKey {
    fn drop(&mut self) {
        self.rk.zeroize();
        self.rk128.zeroize();
        self.powers256.zeroize();
        self.powers_x.zeroize();
        self.powers.zeroize();
    }
}

/// A 128-byte stack buffer aligned for 256-bit loads, for tails shorter than a stride.
#[repr(C, align(32))]
struct Stride([u8; STRIDE]);

/// Reads 32 bytes.
///
/// # Safety
/// `p..p + 32` must be readable.
#[inline(always)]
unsafe fn ld(p: *const u8) -> __m256i {
    // SAFETY: the caller guarantees 32 readable bytes; `read_unaligned` has no alignment requirement.
    unsafe { ptr::read_unaligned(p.cast::<__m256i>()) }
}

/// Writes 32 bytes.
///
/// # Safety
/// `p..p + 32` must be writable.
#[inline(always)]
unsafe fn st(p: *mut u8, v: __m256i) {
    // SAFETY: the caller guarantees 32 writable bytes; `write_unaligned` has no alignment requirement.
    unsafe { ptr::write_unaligned(p.cast::<__m256i>(), v) }
}

impl Kernel for GcmKey {
    type Proof = VaesAvx2Token;

    fn new(key: &[u8], token: VaesAvx2Token) -> GcmKey {
        // SAFETY: `token` exists only if the probe found VAES, VPCLMULQDQ, AVX2, AES-NI, PCLMULQDQ, SSSE3 and
        // OS support for YMM state, which are all the target features `expand` enables.
        unsafe { Self::expand(key, token) }
    }

    #[inline(always)]
    fn encrypt_xor(&self, block: &[u8; 16], x: &mut [u8; 16]) {
        // SAFETY: the key's token proves AES-NI.
        unsafe { aes::encrypt_xor(&self.rk128, self.rounds, block, x) };
    }

    #[inline(always)]
    fn ghash(&self, xi: &mut Xi, blocks: &[u8]) {
        // SAFETY: the key's token proves the target features of both functions.
        unsafe {
            // The frame's usual calls (a short AAD, the length block) take the small inlined path.
            if blocks.len() <= 32 {
                ghash::absorb_short(self.powers[POWERS - 1], xi, blocks)
            } else {
                self.ghash_bytes(xi, blocks)
            }
        }
    }

    #[inline(always)]
    fn seal_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        let len = buf.len();
        let (src, dst) = buf.into_raw();
        // SAFETY: the key's token proves the target features (see `new`); `InOutBuf` guarantees `src` is
        // readable and `dst` writable for `len` bytes and that they are equal or do not overlap; the frame
        // passes whole blocks.
        unsafe {
            match self.rounds {
                10 => self.crypt::<10, true>(nonce, xi, src, dst, len),
                _ => self.crypt::<14, true>(nonce, xi, src, dst, len),
            }
        }
    }

    #[inline(always)]
    fn open_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        let len = buf.len();
        let (src, dst) = buf.into_raw();
        // SAFETY: as in `seal_blocks`.
        unsafe {
            match self.rounds {
                10 => self.crypt::<10, false>(nonce, xi, src, dst, len),
                _ => self.crypt::<14, false>(nonce, xi, src, dst, len),
            }
        }
    }

    fn in_context<R>(&self, frame: impl FnOnce() -> R) -> R {
        // SAFETY: the key's token proves the target features of `in_features`.
        unsafe { in_features(frame) }
    }
}

/// Runs the frame with this backend's target features, so the kernel's methods inline into it.
#[target_feature(enable = "aes,pclmulqdq,avx,avx2,vaes,vpclmulqdq")]
fn in_features<R>(frame: impl FnOnce() -> R) -> R {
    frame()
}

impl GcmKey {
    #[target_feature(enable = "aes,pclmulqdq,avx,avx2,vaes,vpclmulqdq")]
    fn expand(key: &[u8], token: VaesAvx2Token) -> GcmKey {
        let mut rk = aes::expand_key(key);
        let hk = ghash::hash_key(&rk);
        let powers = hk.powers;
        let pair = |i: usize| _mm256_set_m128i(powers[2 * i + 1], powers[2 * i]);
        let pair_x =
            |i: usize| _mm256_set_m128i(ghash::fold_halves(powers[2 * i + 1]), ghash::fold_halves(powers[2 * i]));
        let out = GcmKey {
            rk: core::array::from_fn(|i| _mm256_broadcastsi128_si256(rk.keys[i])),
            rk128: rk.keys,
            powers256: core::array::from_fn(pair),
            powers_x: core::array::from_fn(pair_x),
            powers,
            rounds: rk.rounds,
            _token: token,
        };
        rk.keys.zeroize();
        let mut hk = hk;
        hk.powers.zeroize();
        out
    }

    /// AES-CTR and GHASH over `len` bytes (whole blocks) from `src` to `dst`: `ENC` seals (hash the output),
    /// else opens (hash the input).
    ///
    /// # Safety
    /// The CPU supports the enabled features; `src` is readable and `dst` writable for `len` bytes, a
    /// multiple of 16, and the two are equal or disjoint.
    #[target_feature(enable = "aes,pclmulqdq,avx,avx2,vaes,vpclmulqdq")]
    unsafe fn crypt<const NR: usize, const ENC: bool>(
        &self,
        nonce: &[u8; 12],
        xi: &mut Xi,
        src: *const u8,
        dst: *mut u8,
        len: usize,
    ) {
        let mut acc = ghash::load_xi(xi);
        let bswap = _mm256_broadcastsi128_si256(aes::load_const(&ghash::BSWAP_MASK));
        // Little-endian counters 2 and 3 (counter 1 masks the tag); the 32-bit adds wrap as inc32 must.
        let le = _mm256_broadcastsi128_si256(ghash::reflect(aes::j0(nonce)));
        let mut ctr = _mm256_add_epi32(le, _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 1));
        let strides = len / STRIDE;
        if ENC {
            if strides > 0 {
                let ks = self.keystream::<NR, 4>(&mut ctr, bswap);
                for (j, k) in ks.iter().enumerate() {
                    // SAFETY: the first stride lies within `src`/`dst` (`strides > 0`).
                    unsafe { st(dst.add(32 * j), _mm256_xor_si256(ld(src.add(32 * j)), *k)) };
                }
                for s in 1..strides {
                    let off = s * STRIDE;
                    // SAFETY: stride `s` and the previous one lie within the buffers (`s < strides`).
                    unsafe {
                        self.stride::<NR, ENC>(
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
                acc = unsafe { self.ghash_stride(acc, dst.add((strides - 1) * STRIDE), bswap) };
            }
        } else {
            for s in 0..strides {
                let off = s * STRIDE;
                // SAFETY: stride `s` lies within the buffers; opening hashes the input stride itself.
                unsafe { self.stride::<NR, ENC>(&mut ctr, &mut acc, bswap, src.add(off), dst.add(off), src.add(off)) };
            }
        }
        let done = strides * STRIDE;
        if done < len {
            // SAFETY: `done..len` lies within both buffers.
            acc = unsafe { self.tail::<NR, ENC>(ctr, acc, bswap, src.add(done), dst.add(done), len - done) };
        }
        ghash::store_xi(xi, acc);
        acc.zeroize();
    }

    /// `V` registers (2V blocks) of keystream from the counters, advancing them.
    #[target_feature(enable = "aes,pclmulqdq,avx,avx2,vaes,vpclmulqdq")]
    #[inline]
    fn keystream<const NR: usize, const V: usize>(&self, ctr: &mut __m256i, bswap: __m256i) -> [__m256i; V] {
        let inc = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
        let mut b = [_mm256_setzero_si256(); V];
        for x in &mut b {
            *x = _mm256_xor_si256(_mm256_shuffle_epi8(*ctr, bswap), self.rk[0]);
            *ctr = _mm256_add_epi32(*ctr, inc);
        }
        for r in 1..NR {
            for x in &mut b {
                *x = _mm256_aesenc_epi128(*x, self.rk[r]);
            }
        }
        for x in &mut b {
            *x = _mm256_aesenclast_epi128(*x, self.rk[NR]);
        }
        b
    }

    /// One main-loop stride: encrypts 128 bytes `src -> dst` and hashes the 128 ciphertext bytes at `gsrc`,
    /// with the GHASH steps placed between the AES rounds. `ENC` (sealing) hashes a stride written earlier;
    /// opening hashes `src` itself, and orders the final loads and stores for that.
    ///
    /// # Safety
    /// `src`/`gsrc` readable and `dst` writable for 128 bytes; `dst` equals or is disjoint from `src`, and
    /// `gsrc` is `src` or a stride not written by this call.
    #[target_feature(enable = "aes,pclmulqdq,avx,avx2,vaes,vpclmulqdq")]
    #[inline]
    unsafe fn stride<const NR: usize, const ENC: bool>(
        &self,
        ctr: &mut __m256i,
        acc: &mut __m128i,
        bswap: __m256i,
        src: *const u8,
        dst: *mut u8,
        gsrc: *const u8,
    ) {
        let inc = _mm256_set_epi32(0, 0, 0, 2, 0, 0, 0, 2);
        // Round keys are read where they are used, as volatile loads: otherwise LLVM hoists all 15 out of
        // the loop into registers, spills most of them, and to ease the register pressure serializes the
        // four AES chains, which then run back to back instead of side by side.
        let rk = |r: usize| {
            debug_assert!(r <= NR);
            // SAFETY: `r <= NR < 15`, so the pointer stays inside `self.rk`, which is aligned and initialized.
            unsafe { ptr::read_volatile(self.rk.as_ptr().add(r)) }
        };
        let mut b = [_mm256_setzero_si256(); 4];
        let k0 = rk(0);
        for x in &mut b {
            *x = _mm256_xor_si256(_mm256_shuffle_epi8(*ctr, bswap), k0);
            *ctr = _mm256_add_epi32(*ctr, inc);
        }
        macro_rules! round {
            ($r:expr) => {
                let k = rk($r);
                for x in &mut b {
                    *x = _mm256_aesenc_epi128(*x, k);
                }
            };
        }
        let g = |v: usize| {
            // SAFETY: `gsrc` is readable for 128 bytes and `v < 4`.
            let raw = unsafe { ld(gsrc.add(32 * v)) };
            _mm256_shuffle_epi8(raw, bswap)
        };
        round!(1);
        let d = _mm256_xor_si256(g(0), _mm256_zextsi128_si256(*acc));
        let mut lo = _mm256_clmulepi64_epi128::<0x00>(d, self.powers256[0]);
        let mut hi = _mm256_clmulepi64_epi128::<0x11>(d, self.powers256[0]);
        round!(2);
        let mut mi = _mm256_clmulepi64_epi128::<0x00>(fold_halves(d), self.powers_x[0]);
        let d = g(1);
        round!(3);
        lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128::<0x00>(d, self.powers256[1]));
        hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128::<0x11>(d, self.powers256[1]));
        round!(4);
        mi = _mm256_xor_si256(mi, _mm256_clmulepi64_epi128::<0x00>(fold_halves(d), self.powers_x[1]));
        let d = g(2);
        round!(5);
        lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128::<0x00>(d, self.powers256[2]));
        hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128::<0x11>(d, self.powers256[2]));
        round!(6);
        mi = _mm256_xor_si256(mi, _mm256_clmulepi64_epi128::<0x00>(fold_halves(d), self.powers_x[2]));
        let d = g(3);
        round!(7);
        lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128::<0x00>(d, self.powers256[3]));
        hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128::<0x11>(d, self.powers256[3]));
        round!(8);
        mi = _mm256_xor_si256(mi, _mm256_clmulepi64_epi128::<0x00>(fold_halves(d), self.powers_x[3]));
        // Karatsuba: the middle term still contains lo and hi.
        mi = _mm256_xor_si256(mi, _mm256_xor_si256(lo, hi));
        round!(9);
        let poly = _mm256_broadcastsi128_si256(ghash::from_u128(ghash::GF_POLY));
        let t = _mm256_clmulepi64_epi128::<0x10>(lo, poly);
        mi = _mm256_xor_si256(_mm256_xor_si256(mi, _mm256_shuffle_epi32::<0x4e>(lo)), t);
        for r in 10..NR {
            round!(r);
        }
        let t = _mm256_clmulepi64_epi128::<0x10>(mi, poly);
        hi = _mm256_xor_si256(_mm256_xor_si256(hi, _mm256_shuffle_epi32::<0x4e>(mi)), t);
        *acc = _mm_xor_si128(_mm256_castsi256_si128(hi), _mm256_extracti128_si256::<1>(hi));
        // aesenclast(x, k ^ p) equals aesenclast(x, k) ^ p, which takes the data xor off the critical path.
        let last = rk(NR);
        if ENC {
            for (j, x) in b.iter().enumerate() {
                // SAFETY: `src` is readable and `dst` writable for 128 bytes.
                unsafe {
                    let p = ld(src.add(32 * j));
                    st(dst.add(32 * j), _mm256_aesenclast_epi128(*x, _mm256_xor_si256(last, p)));
                }
            }
        } else {
            // Opening: all four loads before the first store. In place a store may alias a later load, so
            // loads after it could not reuse the GHASH loads of the same input (measured: ~4% faster open,
            // but ~7% slower seal, hence only here).
            // SAFETY: `src` is readable for 128 bytes.
            let keys: [__m256i; 4] = core::array::from_fn(|j| _mm256_xor_si256(last, unsafe { ld(src.add(32 * j)) }));
            for (j, (x, k)) in b.iter().zip(keys).enumerate() {
                // SAFETY: `dst` is writable for 128 bytes.
                unsafe { st(dst.add(32 * j), _mm256_aesenclast_epi128(*x, k)) };
            }
        }
    }

    /// GHASH of one full stride (8 blocks at `p`) into `acc`.
    ///
    /// # Safety
    /// `p` is readable for 128 bytes.
    #[target_feature(enable = "aes,pclmulqdq,avx,avx2,vaes,vpclmulqdq")]
    #[inline]
    unsafe fn ghash_stride(&self, acc: __m128i, p: *const u8, bswap: __m256i) -> __m128i {
        let (mut lo, mut mi, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256());
        for v in 0..POWERS / 2 {
            // SAFETY: `p` is readable for 128 bytes.
            let mut d = _mm256_shuffle_epi8(unsafe { ld(p.add(32 * v)) }, bswap);
            if v == 0 {
                d = _mm256_xor_si256(d, _mm256_zextsi128_si256(acc));
            }
            lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128::<0x00>(d, self.powers256[v]));
            hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128::<0x11>(d, self.powers256[v]));
            mi = _mm256_xor_si256(mi, _mm256_clmulepi64_epi128::<0x00>(fold_halves(d), self.powers_x[v]));
        }
        mi = _mm256_xor_si256(mi, _mm256_xor_si256(lo, hi));
        reduce(lo, mi, hi)
    }

    /// GHASH of `n` (1..=8) blocks at `p` into `acc`, multiplying block `i` by `H^(n-i)`.
    ///
    /// # Safety
    /// `p` is readable for `16 * n` bytes.
    #[target_feature(enable = "aes,pclmulqdq,avx,avx2,vaes,vpclmulqdq")]
    #[inline]
    unsafe fn ghash_blocks(&self, acc: __m128i, p: *const u8, n: usize, bswap: __m256i) -> __m128i {
        debug_assert!((1..=POWERS).contains(&n));
        // The table holds 16 entries, so reading 2 * n.div_ceil(2) of them from `8 - n` stays inside it.
        let table = self.powers[POWERS - n..].as_ptr().cast::<u8>();
        let (mut lo, mut mi, mut hi) = (_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256());
        for v in 0..n.div_ceil(2) {
            // SAFETY: `p` is readable for blocks `2v` and, unless `n` is odd and this is the last register,
            // `2v + 1` (caller); `table + 32 v` stays within `powers` (entries `8 - n + 2v + 1 <= 8 - n + n =
            // 8 < 16`).
            let (data, h) = unsafe {
                let data = if 2 * v + 1 == n {
                    _mm256_zextsi128_si256(_mm_loadu_si128(p.add(32 * v).cast()))
                } else {
                    ld(p.add(32 * v))
                };
                (data, ld(table.add(32 * v)))
            };
            let mut d = _mm256_shuffle_epi8(data, bswap);
            if v == 0 {
                d = _mm256_xor_si256(d, _mm256_zextsi128_si256(acc));
            }
            lo = _mm256_xor_si256(lo, _mm256_clmulepi64_epi128::<0x00>(d, h));
            hi = _mm256_xor_si256(hi, _mm256_clmulepi64_epi128::<0x11>(d, h));
            mi = _mm256_xor_si256(mi, _mm256_clmulepi64_epi128::<0x01>(d, h));
            mi = _mm256_xor_si256(mi, _mm256_clmulepi64_epi128::<0x10>(d, h));
        }
        reduce(lo, mi, hi)
    }

    /// Absorbs whole blocks into the frame's accumulator.
    #[target_feature(enable = "aes,pclmulqdq,avx,avx2,vaes,vpclmulqdq")]
    fn ghash_bytes(&self, xi: &mut Xi, data: &[u8]) {
        let bswap = _mm256_broadcastsi128_si256(aes::load_const(&ghash::BSWAP_MASK));
        let mut acc = ghash::load_xi(xi);
        let mut chunks = data.chunks_exact(STRIDE);
        for c in &mut chunks {
            // SAFETY: `c` is 128 readable bytes.
            acc = unsafe { self.ghash_stride(acc, c.as_ptr(), bswap) };
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // SAFETY: `rest` is readable for its length, a whole number of blocks.
            acc = unsafe { self.ghash_blocks(acc, rest.as_ptr(), rest.len() / 16, bswap) };
        }
        ghash::store_xi(xi, acc);
    }

    /// The last `rem` (< 128, whole blocks) bytes: through a zero-padded stack buffer, which is wiped
    /// afterwards.
    ///
    /// # Safety
    /// `src` readable and `dst` writable for `rem` bytes.
    #[target_feature(enable = "aes,pclmulqdq,avx,avx2,vaes,vpclmulqdq")]
    unsafe fn tail<const NR: usize, const ENC: bool>(
        &self,
        mut ctr: __m256i,
        mut acc: __m128i,
        bswap: __m256i,
        src: *const u8,
        dst: *mut u8,
        rem: usize,
    ) -> __m128i {
        debug_assert!(rem > 0 && rem < STRIDE);
        let mut buf = Stride([0; STRIDE]);
        // SAFETY: `src` is readable for `rem` bytes and `buf` (a local) has room for 128.
        unsafe { ptr::copy_nonoverlapping(src, buf.0.as_mut_ptr(), rem) };
        let blocks = rem.div_ceil(16);
        let mut ks = [_mm256_setzero_si256(); 4];
        match blocks {
            1..=2 => ks[..1].copy_from_slice(&self.keystream::<NR, 1>(&mut ctr, bswap)),
            3..=4 => ks[..2].copy_from_slice(&self.keystream::<NR, 2>(&mut ctr, bswap)),
            _ => ks = self.keystream::<NR, 4>(&mut ctr, bswap),
        }
        if !ENC {
            // SAFETY: `buf` holds 128 bytes, zero past the ciphertext.
            acc = unsafe { self.ghash_blocks(acc, buf.0.as_ptr(), blocks, bswap) };
        }
        for (v, k) in ks.iter().enumerate() {
            let p = buf.0[32 * v..].as_mut_ptr();
            // SAFETY: `p` points at 32 bytes inside `buf`.
            unsafe { st(p, _mm256_xor_si256(ld(p), *k)) };
        }
        // SAFETY: `dst` is writable for `rem` bytes; `buf` is a local, disjoint from it.
        unsafe { ptr::copy_nonoverlapping(buf.0.as_ptr(), dst, rem) };
        if ENC {
            buf.0[rem..].fill(0);
            // SAFETY: `buf` holds 128 bytes, zero past the ciphertext.
            acc = unsafe { self.ghash_blocks(acc, buf.0.as_ptr(), blocks, bswap) };
        }
        buf.0[..rem].zeroize();
        ks.zeroize();
        acc
    }
}

/// Each lane's two halves xored into its low half.
#[target_feature(enable = "avx2")]
#[inline]
fn fold_halves(a: __m256i) -> __m256i {
    _mm256_xor_si256(a, _mm256_unpackhi_epi64(a, a))
}

/// Montgomery reduction of both lanes (see `ghash::reduce`), then the lanes summed.
#[target_feature(enable = "avx2,vpclmulqdq")]
#[inline]
fn reduce(lo: __m256i, mi: __m256i, hi: __m256i) -> __m128i {
    let poly = _mm256_broadcastsi128_si256(ghash::from_u128(ghash::GF_POLY));
    let t = _mm256_clmulepi64_epi128::<0x10>(lo, poly);
    let mi = _mm256_xor_si256(_mm256_xor_si256(mi, _mm256_shuffle_epi32::<0x4e>(lo)), t);
    let t = _mm256_clmulepi64_epi128::<0x10>(mi, poly);
    let hi = _mm256_xor_si256(_mm256_xor_si256(hi, _mm256_shuffle_epi32::<0x4e>(mi)), t);
    _mm_xor_si128(_mm256_castsi256_si128(hi), _mm256_extracti128_si256::<1>(hi))
}

/// The kernel against `soft` (also under Miri, with the AVX2/VAES/VPCLMULQDQ target features).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::detect::prove;
    use crate::backend::kernel_tests::{lens, matches_soft};

    #[test]
    fn matches_soft_all_paths() {
        let Some(token) = prove::<VaesAvx2Token>() else {
            eprintln!("skipped: this CPU (or OS) cannot run vaes-avx2");
            return;
        };
        matches_soft("vaes-avx2", lens(), |key| GcmKey::new(key, token));
    }
}
