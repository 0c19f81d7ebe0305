//! Moving 16-byte blocks between memory and NEON registers: the only memory access the leaf code does.

use core::arch::aarch64::{uint8x16_t, vdupq_n_u8, vextq_u8, vld1q_u8, vrev64q_u8, vst1q_u8};

/// Loads a block from an array.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn load(bytes: &[u8; 16]) -> uint8x16_t {
    // SAFETY: the reference is valid for reading 16 bytes; `vld1q_u8` has no alignment requirement.
    unsafe { vld1q_u8(bytes.as_ptr()) }
}

/// Stores a block into an array.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn store(v: uint8x16_t) -> [u8; 16] {
    let mut out = [0u8; 16];
    // SAFETY: `out` is valid for writing 16 bytes; `vst1q_u8` has no alignment requirement.
    unsafe { vst1q_u8(out.as_mut_ptr(), v) };
    out
}

/// Loads the block at `p + off`.
///
/// # Safety
/// `p + off .. p + off + 16` must be readable.
#[target_feature(enable = "neon")]
#[inline]
pub(super) unsafe fn load_at(p: *const u8, off: usize) -> uint8x16_t {
    // SAFETY: the caller guarantees the 16 bytes at `p + off` are readable; no alignment is required.
    unsafe { vld1q_u8(p.add(off)) }
}

/// Stores a block at `p + off`.
///
/// # Safety
/// `p + off .. p + off + 16` must be writable.
#[target_feature(enable = "neon")]
#[inline]
pub(super) unsafe fn store_at(p: *mut u8, off: usize, v: uint8x16_t) {
    // SAFETY: the caller guarantees the 16 bytes at `p + off` are writable; no alignment is required.
    unsafe { vst1q_u8(p.add(off), v) }
}

/// Reverses the 16 bytes of a block: GHASH's big-endian bit order becomes POLYVAL's little-endian one
/// (RFC 8452, appendix A), which is what `PMULL` computes in.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn reverse(v: uint8x16_t) -> uint8x16_t {
    let r = vrev64q_u8(v);
    vextq_u8::<8>(r, r)
}

/// The all-zero block.
#[target_feature(enable = "neon")]
#[inline]
pub(super) fn zero() -> uint8x16_t {
    vdupq_n_u8(0)
}
