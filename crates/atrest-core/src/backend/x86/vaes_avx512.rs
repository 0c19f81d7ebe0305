//! `vaes-avx512`: AES-GCM on 512-bit registers with VAES and VPCLMULQDQ (four blocks per register).
//!
//! The main loop takes 256 bytes (16 blocks, 4 registers) per iteration: the AES rounds of these blocks are
//! interleaved with GHASH of 16 ciphertext blocks (the previous iteration's output when sealing, this
//! iteration's input when opening). GHASH multiplies the 16 blocks by the precomputed powers `H^16..H^1`
//! (four multiplications per register, summed with three-way `vpternlogd` XORs) and reduces once per
//! iteration. Counters live little-endian in a register, one `vpaddd` per four blocks, byte-swapped once when
//! used. Fewer than 16 remaining whole blocks are encrypted and hashed with byte-masked loads and stores
//! (`vmovdqu8` with an opmask) from the table position `H^n`, never through a copy or a scalar loop; the
//! partial last block, the length block and the tag are the shared frame's ([`crate::gcm`]).
//!
//! The GHASH representation is in [`super::ghash`] and the key schedule in [`super::aes`].
#![allow(unsafe_code)]

use core::arch::x86_64::*;
use core::ptr;

use aead::inout::InOutBuf;
use zeroize::Zeroize;

use super::aes::{self, MAX_ROUND_KEYS};
use super::cpu::{Aes, Avx2, Avx512, Pclmulqdq, Ssse3, Vaes, Vpclmulqdq};
use super::ghash;
use crate::gcm::{Kernel, Xi};

/// Proof that the CPU runs this backend: the 128-bit helpers' AES-NI, PCLMULQDQ and SSSE3; AVX2; AVX-512
/// F/BW/VL with the opmask and ZMM state saved by the OS; VAES and VPCLMULQDQ.
pub(crate) type VaesAvx512Token = ((Aes, Pclmulqdq, Ssse3), (Avx2, Avx512), Vaes, Vpclmulqdq);

/// Blocks per 512-bit register.
const LANES: usize = 4;
/// Registers per main-loop iteration.
const VECS: usize = 4;
/// Blocks per main-loop iteration, and GHASH key powers kept.
const BLOCKS: usize = LANES * VECS;
/// Bytes per main-loop iteration.
const STRIDE: usize = 16 * BLOCKS;

/// An expanded key: round keys broadcast to all four lanes, GHASH key powers, and the proof that this CPU
/// runs the instructions. Everything is zeroized on drop.
#[repr(C, align(64))]
pub(crate) struct GcmKey {
    rk: [__m512i; MAX_ROUND_KEYS],
    rk128: [__m128i; MAX_ROUND_KEYS],
    /// `[K(H^16), K(H^15), K(H^14), K(H^13)], [K(H^12)..K(H^9)], ...`: the powers for the 4 registers of a
    /// full stride, lane 0 first.
    powers: [__m512i; VECS],
    /// The same powers with each lane's halves xored into its low half (Karatsuba's middle operand).
    powers_x: [__m512i; VECS],
    /// `K(H^16)..K(H^1)` then zeros: `n` trailing blocks are multiplied by the four-lane groups that start
    /// at entry `16 - n`, and the zeros keep the last group's read inside the table.
    tail_powers: [__m128i; 2 * BLOCKS],
    rounds: usize,
    _token: VaesAvx512Token,
}

impl Drop for GcmKey {
    fn drop(&mut self) {
        self.rk.zeroize();
        self.rk128.zeroize();
        self.powers.zeroize();
        self.powers_x.zeroize();
        self.tail_powers.zeroize();
    }
}

/// Reads 64 bytes.
///
/// # Safety
/// `p..p + 64` must be readable.
#[inline(always)]
unsafe fn ld(p: *const u8) -> __m512i {
    // SAFETY: the caller guarantees 64 readable bytes; `read_unaligned` has no alignment requirement.
    unsafe { ptr::read_unaligned(p.cast::<__m512i>()) }
}

/// Writes 64 bytes.
///
/// # Safety
/// `p..p + 64` must be writable.
#[inline(always)]
unsafe fn st(p: *mut u8, v: __m512i) {
    // SAFETY: the caller guarantees 64 writable bytes; `write_unaligned` has no alignment requirement.
    unsafe { ptr::write_unaligned(p.cast::<__m512i>(), v) }
}

/// The opmask that selects the bytes of the first `blocks` (1..=4) blocks of a register.
#[inline(always)]
fn block_mask(blocks: usize) -> __mmask64 {
    debug_assert!((1..=LANES).contains(&blocks));
    u64::MAX >> (64 - 16 * blocks)
}

impl Kernel for GcmKey {
    type Proof = VaesAvx512Token;

    fn new(key: &[u8], token: VaesAvx512Token) -> GcmKey {
        // SAFETY: `token` exists only if the probe found every target feature `expand` enables, with the OS
        // saving the YMM, ZMM and opmask state.
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
                ghash::absorb_short(self.tail_powers[BLOCKS - 1], xi, blocks)
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
#[target_feature(enable = "aes,pclmulqdq,ssse3,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")]
fn in_features<R>(frame: impl FnOnce() -> R) -> R {
    frame()
}

impl GcmKey {
    #[target_feature(enable = "aes,pclmulqdq,ssse3,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")]
    fn expand(key: &[u8], token: VaesAvx512Token) -> GcmKey {
        let mut rk = aes::expand_key(key);
        let mut hk = ghash::hash_key(&rk);
        // `hk` holds K(H^8)..K(H^1); K(H^(8+i)) = mont(K(H^i)·K(H^8)).
        let mut table = [_mm_setzero_si128(); 2 * BLOCKS];
        for i in 0..8 {
            table[i] = ghash::gf_mul(hk.powers[i], hk.powers[0]);
            table[8 + i] = hk.powers[i];
        }
        let group = |v: usize| {
            let t = &table[LANES * v..];
            _mm512_inserti64x4::<1>(_mm512_castsi256_si512(_mm256_set_m128i(t[1], t[0])), _mm256_set_m128i(t[3], t[2]))
        };
        let out = GcmKey {
            rk: core::array::from_fn(|i| _mm512_broadcast_i32x4(rk.keys[i])),
            rk128: rk.keys,
            powers: core::array::from_fn(group),
            powers_x: core::array::from_fn(|v| fold_halves(group(v))),
            tail_powers: table,
            rounds: rk.rounds,
            _token: token,
        };
        rk.keys.zeroize();
        hk.powers.zeroize();
        table.zeroize();
        out
    }

    /// AES-CTR and GHASH over `len` bytes (whole blocks) from `src` to `dst`: `ENC` seals (hash the output),
    /// else opens (hash the input).
    ///
    /// # Safety
    /// The CPU supports the enabled features; `src` is readable and `dst` writable for `len` bytes, a
    /// multiple of 16, and the two are equal or disjoint.
    #[target_feature(enable = "aes,pclmulqdq,ssse3,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")]
    unsafe fn crypt<const NR: usize, const ENC: bool>(
        &self,
        nonce: &[u8; 12],
        xi: &mut Xi,
        src: *const u8,
        dst: *mut u8,
        len: usize,
    ) {
        debug_assert_eq!(len % 16, 0);
        let mut acc = ghash::load_xi(xi);
        let bswap = _mm512_broadcast_i32x4(aes::load_const(&ghash::BSWAP_MASK));
        // Little-endian counters 2..=5 (counter 1 masks the tag); the 32-bit adds wrap as inc32 must.
        let le = _mm512_broadcast_i32x4(ghash::reflect(aes::j0(nonce)));
        let mut ctr = _mm512_add_epi32(le, _mm512_set_epi32(0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 1));
        // When the output starts 16 or 48 bytes past a 64-byte boundary, every 64-byte access of the main loop
        // straddles two cache lines in a way that costs about 8 % at 64 KiB on Zen 4 (measured; 0 and 32 do
        // not). The first 1-3 blocks then take the masked path so the strides start on the boundary.
        let head = head_blocks(dst, len);
        if head > 0 {
            // SAFETY: `16 head < len` bytes lie within both buffers.
            acc = unsafe { self.tail::<NR, ENC>(ctr, acc, bswap, src, dst, head) };
            ctr = _mm512_add_epi32(ctr, _mm512_broadcast_i32x4(_mm_set_epi32(0, 0, 0, head as i32)));
        }
        // SAFETY: the head lies within both buffers, so these stay in bounds (or one past the end).
        let (src, dst, len) = unsafe { (src.add(16 * head), dst.add(16 * head), len - 16 * head) };
        let strides = len / STRIDE;
        if ENC {
            if strides > 0 {
                let ks = self.keystream::<NR, VECS>(&mut ctr, bswap);
                for (j, k) in ks.iter().enumerate() {
                    // SAFETY: the first stride lies within `src`/`dst` (`strides > 0`).
                    unsafe { st(dst.add(64 * j), _mm512_xor_si512(ld(src.add(64 * j)), *k)) };
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
            // SAFETY: `done..len` lies within both buffers and is a whole number (< 16) of blocks.
            acc = unsafe { self.tail::<NR, ENC>(ctr, acc, bswap, src.add(done), dst.add(done), (len - done) / 16) };
        }
        ghash::store_xi(xi, acc);
        acc.zeroize();
    }

    /// `V` registers (4V blocks) of keystream from the counters, advancing them.
    #[target_feature(enable = "aes,pclmulqdq,ssse3,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")]
    #[inline]
    fn keystream<const NR: usize, const V: usize>(&self, ctr: &mut __m512i, bswap: __m512i) -> [__m512i; V] {
        let inc = _mm512_broadcast_i32x4(_mm_set_epi32(0, 0, 0, LANES as i32));
        let mut b = [_mm512_setzero_si512(); V];
        for x in &mut b {
            *x = _mm512_xor_si512(_mm512_shuffle_epi8(*ctr, bswap), self.rk[0]);
            *ctr = _mm512_add_epi32(*ctr, inc);
        }
        for r in 1..NR {
            for x in &mut b {
                *x = _mm512_aesenc_epi128(*x, self.rk[r]);
            }
        }
        for x in &mut b {
            *x = _mm512_aesenclast_epi128(*x, self.rk[NR]);
        }
        b
    }

    /// One main-loop stride: encrypts 256 bytes `src -> dst` and hashes the 256 ciphertext bytes at `gsrc`,
    /// one register of GHASH after each of the first AES rounds and the reduction after the later ones.
    /// `ENC` (sealing) hashes a stride written earlier; opening hashes `src` itself, and loads all of it
    /// before the first store.
    ///
    /// # Safety
    /// `src`/`gsrc` readable and `dst` writable for 256 bytes; `dst` equals or is disjoint from `src`, and
    /// `gsrc` is `src` or a stride not written by this call.
    #[target_feature(enable = "aes,pclmulqdq,ssse3,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")]
    #[inline]
    unsafe fn stride<const NR: usize, const ENC: bool>(
        &self,
        ctr: &mut __m512i,
        acc: &mut __m128i,
        bswap: __m512i,
        src: *const u8,
        dst: *mut u8,
        gsrc: *const u8,
    ) {
        let inc = _mm512_broadcast_i32x4(_mm_set_epi32(0, 0, 0, LANES as i32));
        // Round keys are read where they are used, as volatile loads, so that LLVM cannot hoist all 15 out
        // of the loop into registers and then serialize the four AES chains to relieve register pressure.
        let rk = |r: usize| {
            debug_assert!(r <= NR);
            // SAFETY: `r <= NR < 15`, so the pointer stays inside `self.rk`, which is aligned and initialized.
            unsafe { ptr::read_volatile(self.rk.as_ptr().add(r)) }
        };
        let mut b = [_mm512_setzero_si512(); VECS];
        let k0 = rk(0);
        for x in &mut b {
            *x = _mm512_xor_si512(_mm512_shuffle_epi8(*ctr, bswap), k0);
            *ctr = _mm512_add_epi32(*ctr, inc);
        }
        macro_rules! round {
            ($r:expr) => {
                let k = rk($r);
                for x in &mut b {
                    *x = _mm512_aesenc_epi128(*x, k);
                }
            };
        }
        let g = |v: usize| {
            // SAFETY: `gsrc` is readable for 256 bytes and `v < 4`.
            let raw = unsafe { ld(gsrc.add(64 * v)) };
            _mm512_shuffle_epi8(raw, bswap)
        };
        round!(1);
        let d = _mm512_xor_si512(g(0), _mm512_zextsi128_si512(*acc));
        let mut k = Karatsuba::mul(d, self.powers[0], self.powers_x[0]);
        round!(2);
        k.add(g(1), self.powers[1], self.powers_x[1]);
        round!(3);
        k.add(g(2), self.powers[2], self.powers_x[2]);
        round!(4);
        k.add(g(3), self.powers[3], self.powers_x[3]);
        let w = k.wide();
        round!(5);
        let poly = _mm512_broadcast_i32x4(ghash::from_u128(ghash::GF_POLY));
        let t = _mm512_clmulepi64_epi128::<0x10>(w.lo, poly);
        let mi = _mm512_ternarylogic_epi32::<0x96>(w.mi, _mm512_shuffle_epi32::<0x4e>(w.lo), t);
        round!(6);
        let t = _mm512_clmulepi64_epi128::<0x10>(mi, poly);
        let hi = _mm512_ternarylogic_epi32::<0x96>(w.hi, _mm512_shuffle_epi32::<0x4e>(mi), t);
        round!(7);
        *acc = fold_lanes(hi);
        for r in 8..NR {
            round!(r);
        }
        // aesenclast(x, k ^ p) equals aesenclast(x, k) ^ p, which takes the data xor off the critical path.
        let last = rk(NR);
        if ENC {
            for (j, x) in b.iter().enumerate() {
                // SAFETY: `src` is readable and `dst` writable for 256 bytes.
                unsafe {
                    let p = ld(src.add(64 * j));
                    st(dst.add(64 * j), _mm512_aesenclast_epi128(*x, _mm512_xor_si512(last, p)));
                }
            }
        } else {
            // In place a store may alias a later load, so all loads come first.
            // SAFETY: `src` is readable for 256 bytes.
            let keys: [__m512i; VECS] =
                core::array::from_fn(|j| _mm512_xor_si512(last, unsafe { ld(src.add(64 * j)) }));
            for (j, (x, k)) in b.iter().zip(keys).enumerate() {
                // SAFETY: `dst` is writable for 256 bytes.
                unsafe { st(dst.add(64 * j), _mm512_aesenclast_epi128(*x, k)) };
            }
        }
    }

    /// GHASH of one full stride (16 blocks at `p`) into `acc`.
    ///
    /// # Safety
    /// `p` is readable for 256 bytes.
    #[target_feature(enable = "aes,pclmulqdq,ssse3,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")]
    #[inline]
    unsafe fn ghash_stride(&self, acc: __m128i, p: *const u8, bswap: __m512i) -> __m128i {
        // SAFETY: `p` is readable for 256 bytes.
        let g = |v: usize| _mm512_shuffle_epi8(unsafe { ld(p.add(64 * v)) }, bswap);
        let mut w = Wide::mul(_mm512_xor_si512(g(0), _mm512_zextsi128_si512(acc)), self.powers[0]);
        for v in 1..VECS {
            w.add(g(v), self.powers[v]);
        }
        w.reduce()
    }

    /// GHASH of `n` (1..=15) blocks given by `block(v)`, register by register (zero past the last block),
    /// multiplying block `i` by `H^(n-i)`.
    #[target_feature(enable = "aes,pclmulqdq,ssse3,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")]
    #[inline]
    fn ghash_regs(&self, acc: __m128i, n: usize, block: impl Fn(usize) -> __m512i) -> __m128i {
        debug_assert!((1..BLOCKS).contains(&n));
        // Groups of four entries from `16 - n`: the last one ends at most at entry 16 - n + 4 n.div_ceil(4)
        // <= 19 < 32, inside the table.
        let table = self.tail_powers[BLOCKS - n..].as_ptr().cast::<u8>();
        // SAFETY: see above; the table is initialized.
        let h = |v: usize| unsafe { ld(table.add(64 * v)) };
        let mut w = Wide::mul(_mm512_xor_si512(block(0), _mm512_zextsi128_si512(acc)), h(0));
        for v in 1..n.div_ceil(LANES) {
            w.add(block(v), h(v));
        }
        w.reduce()
    }

    /// Absorbs whole blocks into the frame's accumulator.
    #[target_feature(enable = "aes,pclmulqdq,ssse3,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")]
    fn ghash_bytes(&self, xi: &mut Xi, data: &[u8]) {
        let bswap = _mm512_broadcast_i32x4(aes::load_const(&ghash::BSWAP_MASK));
        let mut acc = ghash::load_xi(xi);
        let mut chunks = data.chunks_exact(STRIDE);
        for c in &mut chunks {
            // SAFETY: `c` is 256 readable bytes.
            acc = unsafe { self.ghash_stride(acc, c.as_ptr(), bswap) };
        }
        let rest = chunks.remainder();
        let n = rest.len() / 16;
        if n > 0 {
            acc = self.ghash_regs(acc, n, |v| {
                let blocks = (n - LANES * v).min(LANES);
                // SAFETY: the masked load reads only the `blocks` blocks of register `v`, which lie in `rest`.
                let raw = unsafe { _mm512_maskz_loadu_epi8(block_mask(blocks), rest.as_ptr().add(64 * v).cast()) };
                _mm512_shuffle_epi8(raw, bswap)
            });
        }
        ghash::store_xi(xi, acc);
    }

    /// The last `n` (1..=15) whole blocks, with byte-masked loads and stores.
    ///
    /// # Safety
    /// `src` readable and `dst` writable for `16 n` bytes, equal or disjoint.
    #[target_feature(enable = "aes,pclmulqdq,ssse3,avx,avx2,avx512f,avx512bw,avx512vl,vaes,vpclmulqdq")]
    unsafe fn tail<const NR: usize, const ENC: bool>(
        &self,
        mut ctr: __m512i,
        acc: __m128i,
        bswap: __m512i,
        src: *const u8,
        dst: *mut u8,
        n: usize,
    ) -> __m128i {
        debug_assert!((1..BLOCKS).contains(&n));
        let vecs = n.div_ceil(LANES);
        let mut ks = [_mm512_setzero_si512(); VECS];
        match vecs {
            1 => ks[..1].copy_from_slice(&self.keystream::<NR, 1>(&mut ctr, bswap)),
            2 => ks[..2].copy_from_slice(&self.keystream::<NR, 2>(&mut ctr, bswap)),
            3 => ks[..3].copy_from_slice(&self.keystream::<NR, 3>(&mut ctr, bswap)),
            _ => ks = self.keystream::<NR, 4>(&mut ctr, bswap),
        }
        // The ciphertext of each register, zero past the last block.
        let mut ct = [_mm512_setzero_si512(); VECS];
        for v in 0..vecs {
            let mask = block_mask((n - LANES * v).min(LANES));
            // SAFETY: the masked load and store touch only the blocks of register `v` that lie within the
            // `16 n` bytes of `src` and `dst`; the load comes first, so in place is fine.
            unsafe {
                let input = _mm512_maskz_loadu_epi8(mask, src.add(64 * v).cast());
                let output = _mm512_xor_si512(input, ks[v]);
                _mm512_mask_storeu_epi8(dst.add(64 * v).cast(), mask, output);
                ct[v] = if ENC { _mm512_maskz_mov_epi8(mask, output) } else { input };
            }
        }
        let acc = self.ghash_regs(acc, n, |v| _mm512_shuffle_epi8(ct[v], bswap));
        ks.zeroize();
        acc
    }
}

/// A sum of Karatsuba products in four lanes: the middle term still contains `lo + hi`.
struct Karatsuba {
    lo: __m512i,
    mi: __m512i,
    hi: __m512i,
}

impl Karatsuba {
    /// The four lane products `d·h`; `hx` is `fold_halves(h)`.
    #[target_feature(enable = "avx512f,vpclmulqdq")]
    #[inline]
    fn mul(d: __m512i, h: __m512i, hx: __m512i) -> Karatsuba {
        Karatsuba {
            lo: _mm512_clmulepi64_epi128::<0x00>(d, h),
            mi: _mm512_clmulepi64_epi128::<0x00>(fold_halves(d), hx),
            hi: _mm512_clmulepi64_epi128::<0x11>(d, h),
        }
    }

    /// Adds the four lane products `d·h`.
    #[target_feature(enable = "avx512f,vpclmulqdq")]
    #[inline]
    fn add(&mut self, d: __m512i, h: __m512i, hx: __m512i) {
        self.lo = _mm512_xor_si512(self.lo, _mm512_clmulepi64_epi128::<0x00>(d, h));
        self.mi = _mm512_xor_si512(self.mi, _mm512_clmulepi64_epi128::<0x00>(fold_halves(d), hx));
        self.hi = _mm512_xor_si512(self.hi, _mm512_clmulepi64_epi128::<0x11>(d, h));
    }

    /// The plain unreduced sum.
    #[target_feature(enable = "avx512f")]
    #[inline]
    fn wide(self) -> Wide {
        Wide { lo: self.lo, mi: _mm512_ternarylogic_epi32::<0x96>(self.mi, self.lo, self.hi), hi: self.hi }
    }
}

/// Each lane's two 64-bit halves xored into its low half (the middle operand of Karatsuba multiplication).
#[target_feature(enable = "avx512f")]
#[inline]
fn fold_halves(a: __m512i) -> __m512i {
    _mm512_xor_si512(a, _mm512_unpackhi_epi64(a, a))
}

/// How many leading blocks (0..=3) to process apart so that the main loop's stores start 64-byte aligned:
/// only when the output is 16-byte aligned (whole blocks can then reach the boundary), at 16 or 48 bytes past
/// one (the offsets that measured slow), and when at least one full stride follows.
fn head_blocks(dst: *mut u8, len: usize) -> usize {
    let mis = dst as usize % 64;
    let head = (64 - mis) / 16;
    if (mis == 16 || mis == 48) && len >= 16 * head + STRIDE { head } else { 0 }
}

/// An unreduced sum of 256-bit products in four lanes: `lo + mi·y^64 + hi·y^128` per lane.
struct Wide {
    lo: __m512i,
    mi: __m512i,
    hi: __m512i,
}

impl Wide {
    /// The four lane products `d·h`.
    #[target_feature(enable = "avx512f,vpclmulqdq")]
    #[inline]
    fn mul(d: __m512i, h: __m512i) -> Wide {
        Wide {
            lo: _mm512_clmulepi64_epi128::<0x00>(d, h),
            mi: _mm512_xor_si512(_mm512_clmulepi64_epi128::<0x01>(d, h), _mm512_clmulepi64_epi128::<0x10>(d, h)),
            hi: _mm512_clmulepi64_epi128::<0x11>(d, h),
        }
    }

    /// Adds the four lane products `d·h`.
    #[target_feature(enable = "avx512f,vpclmulqdq")]
    #[inline]
    fn add(&mut self, d: __m512i, h: __m512i) {
        self.lo = _mm512_xor_si512(self.lo, _mm512_clmulepi64_epi128::<0x00>(d, h));
        self.mi = _mm512_ternarylogic_epi32::<0x96>(
            self.mi,
            _mm512_clmulepi64_epi128::<0x01>(d, h),
            _mm512_clmulepi64_epi128::<0x10>(d, h),
        );
        self.hi = _mm512_xor_si512(self.hi, _mm512_clmulepi64_epi128::<0x11>(d, h));
    }

    /// Montgomery reduction of each lane (see `ghash::reduce`), then the lanes summed.
    #[target_feature(enable = "avx512f,avx2,vpclmulqdq")]
    #[inline]
    fn reduce(self) -> __m128i {
        let poly = _mm512_broadcast_i32x4(ghash::from_u128(ghash::GF_POLY));
        let t = _mm512_clmulepi64_epi128::<0x10>(self.lo, poly);
        let mi = _mm512_ternarylogic_epi32::<0x96>(self.mi, _mm512_shuffle_epi32::<0x4e>(self.lo), t);
        let t = _mm512_clmulepi64_epi128::<0x10>(mi, poly);
        fold_lanes(_mm512_ternarylogic_epi32::<0x96>(self.hi, _mm512_shuffle_epi32::<0x4e>(mi), t))
    }
}

/// The XOR of a register's four 128-bit lanes.
#[target_feature(enable = "avx512f,avx2")]
#[inline]
fn fold_lanes(v: __m512i) -> __m128i {
    let y = _mm256_xor_si256(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64::<1>(v));
    _mm_xor_si128(_mm256_castsi256_si128(y), _mm256_extracti128_si256::<1>(y))
}

/// The kernel against `soft` across the stride and masked-tail paths (also under Miri where it implements
/// the intrinsics; see `scripts/test.d/30-miri.sh`).
#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::detect::{CpuFeatures, prove};
    use crate::backend::kernel_tests::matches_soft;
    use crate::backend::soft;
    use crate::gcm;

    #[test]
    fn matches_soft_all_paths() {
        let Some(token) = prove::<VaesAvx512Token>() else {
            let f = CpuFeatures::get();
            eprintln!(
                "skipped: vaes-avx512 needs AVX-512 F/BW/VL with the OS saving ZMM and opmask state, VAES, \
                 VPCLMULQDQ and AVX2; this host has avx512f={} avx512bw={} avx512vl={} zmm-state={} vaes={} \
                 vpclmulqdq={} avx2={}",
                f.avx512f, f.avx512bw, f.avx512vl, f.zmm_state, f.vaes, f.vpclmulqdq, f.avx2
            );
            return;
        };
        // Every tail size 1..=15 blocks with and without a stride before it, a stride alone, two strides
        // with partial blocks; fewer under Miri.
        let lens: &[usize] = if cfg!(miri) {
            &[0, 5, 47, 256, 256 + 16 * 15 + 3]
        } else {
            &[0, 1, 5, 16, 47, 64, 100, 255, 256, 257, 300, 511, 512, 530, 768 + 16 * 13 + 9, 1030, 4096]
        };
        matches_soft("vaes-avx512", lens, |key| GcmKey::new(key, token));
    }

    /// Every output offset within a 64-byte line: 16 and 48 take the aligning head path, the others not;
    /// sealed in place and between buffers, each compared with `soft`, and opened again.
    #[test]
    fn every_offset_within_a_line() {
        let Some(token) = prove::<VaesAvx512Token>() else {
            eprintln!("skipped: this CPU (or OS) cannot run vaes-avx512");
            return;
        };
        let hw = GcmKey::new(&[3u8; 32], token);
        let sw = soft::GcmKey::new(&[3u8; 32], prove().expect("soft always runs"));
        let lens: &[usize] = if cfg!(miri) { &[256 + 48 + 5] } else { &[256 + 16, 256 + 48, 256 + 48 + 5, 1000, 4096] };
        #[repr(C, align(64))]
        struct Line([u8; 4096 + 128]);
        for &len in lens {
            let pt: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut want = pt.clone();
            let tag = gcm::seal(&sw, &[5; 12], b"aad", want.as_mut_slice().into()).unwrap();
            for off in (0..64).step_by(if cfg!(miri) { 16 } else { 1 }) {
                let mut line = Box::new(Line([0; 4096 + 128]));
                let buf = &mut line.0[off..off + len];
                buf.copy_from_slice(&pt);
                let t = gcm::seal(&hw, &[5; 12], b"aad", buf.into()).unwrap();
                assert_eq!((t, &*buf), (tag, &want[..]), "in place, len {len} offset {off}");
                let mut out = Box::new(Line([0; 4096 + 128]));
                let t = gcm::seal(&hw, &[5; 12], b"aad", InOutBuf::new(&pt, &mut out.0[off..off + len]).unwrap());
                assert_eq!((t.unwrap(), &out.0[off..off + len]), (tag, &want[..]), "between, len {len} offset {off}");
                gcm::open(&hw, &[5; 12], b"aad", (&mut line.0[off..off + len]).into(), &tag).unwrap();
                assert_eq!(&line.0[off..off + len], &pt[..], "open, len {len} offset {off}");
            }
        }
    }
}
