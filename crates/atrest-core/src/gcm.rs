//! The GCM frame every backend shares (NIST SP 800-38D): the length limits, hashing the associated data,
//! the partial last block, the length block, the tag, its constant-time comparison, and wiping the output
//! when a message does not verify. A backend supplies only a [`Kernel`]: its block cipher, its GHASH, and
//! its bulk stride over whole blocks, where AES-CTR and GHASH run interleaved in one pass.
//!
//! The frame is generic over the kernel, so each backend gets its own copy with direct calls; the backend is
//! chosen once per call in [`dispatch`](crate::backend::dispatch).

use aead::inout::InOutBuf;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::backend::detect::Proof;
use crate::error::{OpenError, SealError};

/// A GCM authentication tag.
pub type Tag = [u8; 16];

/// Length of a GCM tag in bytes.
pub const TAG_LEN: usize = 16;

/// The longest plaintext GCM encrypts under one nonce: 2^32 - 2 blocks, i.e. 2^36 - 32 bytes.
pub const MAX_MESSAGE_LEN: u64 = (1 << 36) - 32;

/// The longest associated data GCM authenticates: 2^64 - 1 bits.
pub const MAX_AAD_LEN: u64 = (1 << 61) - 1;

/// GCM's block size.
const BLOCK: usize = 16;

/// The GHASH accumulator carried between kernel calls: the block `X_i` of SP 800-38D (section 6.4) read as a
/// big-endian integer. Kernels keep it in registers in their own representation within a call; as an
/// integer it is wiped with one store.
pub(crate) type Xi = u128;

/// What a backend supplies to the frame. Each method is one entry into the backend's instructions, so the
/// frame calls few of them per message: the bulk of a message costs one [`Kernel::seal_blocks`] or
/// [`Kernel::open_blocks`] call.
pub(crate) trait Kernel: Sized {
    /// The CPU features the backend's instructions need, as a proof token.
    type Proof: Proof;

    /// Expands a 16- or 32-byte AES key (the caller has checked the length) into round keys and GHASH key
    /// powers. Taking the proof by value is what makes the backend's `unsafe` calls sound.
    fn new(key: &[u8], proof: Self::Proof) -> Self;

    /// XORs `E(K, block)` into `x`. The key stream never leaves the kernel's registers this way.
    fn encrypt_xor(&self, block: &[u8; 16], x: &mut [u8; 16]);

    /// Absorbs `blocks` (a whole number of 16-byte blocks) into `xi`.
    fn ghash(&self, xi: &mut Xi, blocks: &[u8]);

    /// Encrypts the message's whole blocks, `buf` (a multiple of 16 bytes, from the message's start), with
    /// counters `nonce || 2`, `nonce || 3`, ... (32-bit wrapping) and absorbs the ciphertext into `xi`.
    fn seal_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>);

    /// Absorbs the ciphertext `buf` (a multiple of 16 bytes, from the message's start) into `xi` and
    /// decrypts it with the same counters as [`Kernel::seal_blocks`].
    fn open_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>);

    /// Runs `frame`, the whole seal or open of one message, in the backend's target-feature context. The
    /// frame and the kernel's methods are inlined into it, so the compiler sees one function per backend and
    /// message direction, with the kernel's small steps (one GHASH block, one AES block) inlined rather than
    /// called. Without it a 4 KiB message measured about 5% slower.
    #[inline(always)]
    fn in_context<R>(&self, frame: impl FnOnce() -> R) -> R {
        frame()
    }
}

/// Large keys live on the heap so that every key type stays small; the kernel is the boxed one.
impl<K: Kernel> Kernel for Box<K> {
    type Proof = K::Proof;

    fn new(key: &[u8], proof: Self::Proof) -> Self {
        Box::new(K::new(key, proof))
    }

    fn encrypt_xor(&self, block: &[u8; 16], x: &mut [u8; 16]) {
        (**self).encrypt_xor(block, x);
    }

    fn ghash(&self, xi: &mut Xi, blocks: &[u8]) {
        (**self).ghash(xi, blocks);
    }

    fn seal_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        (**self).seal_blocks(nonce, xi, buf);
    }

    fn open_blocks(&self, nonce: &[u8; 12], xi: &mut Xi, buf: InOutBuf<'_, '_, u8>) {
        (**self).open_blocks(nonce, xi, buf);
    }

    #[inline(always)]
    fn in_context<R>(&self, frame: impl FnOnce() -> R) -> R {
        (**self).in_context(frame)
    }
}

/// GCM's final GHASH block: the bit lengths of the AAD and the ciphertext, big-endian.
pub(crate) fn length_block(aad_len: usize, ct_len: usize) -> [u8; 16] {
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(&((aad_len as u64) * 8).to_be_bytes());
    block[8..].copy_from_slice(&((ct_len as u64) * 8).to_be_bytes());
    block
}

/// The counter block `nonce || be32(ctr)`.
fn counter_block(nonce: &[u8; 12], ctr: u32) -> [u8; 16] {
    let mut block = [0u8; 16];
    block[..12].copy_from_slice(nonce);
    block[12..].copy_from_slice(&ctr.to_be_bytes());
    block
}

/// Seals `buf` (in place or from its input to its output) and returns the tag.
pub(crate) fn seal<K: Kernel>(
    k: &K,
    nonce: &[u8; 12],
    aad: &[u8],
    buf: InOutBuf<'_, '_, u8>,
) -> Result<Tag, SealError> {
    k.in_context(|| seal_message(k, nonce, aad, buf))
}

#[inline(always)]
fn seal_message<K: Kernel>(k: &K, nonce: &[u8; 12], aad: &[u8], buf: InOutBuf<'_, '_, u8>) -> Result<Tag, SealError> {
    check_len(buf.len(), aad.len()).map_err(|e| match e {
        LimitError::Message(len) => SealError::MessageTooLong { len, max: MAX_MESSAGE_LEN },
        LimitError::Aad(len) => SealError::AadTooLong { len },
    })?;
    let len = buf.len();
    let mut xi = hash_aad(k, aad);
    let whole = len - len % BLOCK;
    let (blocks, mut rest) = buf.split_at(whole);
    if whole > 0 {
        k.seal_blocks(nonce, &mut xi, blocks);
    }
    // The last GHASH input: the zero-padded partial block, if any, then the length block. It holds only
    // ciphertext and lengths, so it needs no wiping.
    let mut last = [0u8; 2 * BLOCK];
    let mut start = BLOCK;
    if !rest.is_empty() {
        let n = rest.len();
        let block: &mut [u8; 16] = (&mut last[..BLOCK]).try_into().expect("one block");
        block[..n].copy_from_slice(rest.get_in());
        k.encrypt_xor(&counter_block(nonce, partial_counter(whole)), block);
        rest.get_out().copy_from_slice(&block[..n]);
        block[n..].fill(0);
        start = 0;
    }
    last[BLOCK..].copy_from_slice(&length_block(aad.len(), len));
    k.ghash(&mut xi, &last[start..]);
    Ok(finish(k, nonce, xi))
}

/// Opens `buf` and checks `tag` in constant time. On failure the output is zeroed and one opaque error
/// returned.
pub(crate) fn open<K: Kernel>(
    k: &K,
    nonce: &[u8; 12],
    aad: &[u8],
    buf: InOutBuf<'_, '_, u8>,
    tag: &Tag,
) -> Result<(), OpenError> {
    k.in_context(|| open_message(k, nonce, aad, buf, tag))
}

#[inline(always)]
fn open_message<K: Kernel>(
    k: &K,
    nonce: &[u8; 12],
    aad: &[u8],
    mut buf: InOutBuf<'_, '_, u8>,
    tag: &Tag,
) -> Result<(), OpenError> {
    check_len(buf.len(), aad.len()).map_err(|e| match e {
        LimitError::Message(len) => OpenError::MessageTooLong { len, max: MAX_MESSAGE_LEN },
        LimitError::Aad(len) => OpenError::AadTooLong { len },
    })?;
    let len = buf.len();
    let mut xi = hash_aad(k, aad);
    let whole = len - len % BLOCK;
    let (blocks, mut rest) = buf.reborrow().split_at(whole);
    if whole > 0 {
        k.open_blocks(nonce, &mut xi, blocks);
    }
    let mut last = [0u8; 2 * BLOCK];
    let mut start = BLOCK;
    if !rest.is_empty() {
        // The ciphertext is hashed, so it is copied out before an in-place decryption overwrites it.
        let n = rest.len();
        last[..n].copy_from_slice(rest.get_in());
        let mut plain: [u8; 16] = last[..BLOCK].try_into().expect("one block");
        k.encrypt_xor(&counter_block(nonce, partial_counter(whole)), &mut plain);
        rest.get_out().copy_from_slice(&plain[..n]);
        plain.zeroize();
        start = 0;
    }
    last[BLOCK..].copy_from_slice(&length_block(aad.len(), len));
    k.ghash(&mut xi, &last[start..]);
    let mut computed = finish(k, nonce, xi);
    let ok: bool = computed.ct_eq(tag).into();
    computed.zeroize();
    if ok {
        Ok(())
    } else {
        buf.get_out().zeroize();
        Err(OpenError::Authentication)
    }
}

/// GHASH of the associated data, zero-padded, from a zero accumulator.
#[inline(always)]
fn hash_aad<K: Kernel>(k: &K, aad: &[u8]) -> Xi {
    let mut xi = 0;
    let whole = aad.len() - aad.len() % BLOCK;
    if whole > 0 {
        k.ghash(&mut xi, &aad[..whole]);
    }
    if whole < aad.len() {
        let mut block = [0u8; BLOCK];
        block[..aad.len() - whole].copy_from_slice(&aad[whole..]);
        k.ghash(&mut xi, &block);
    }
    xi
}

/// The counter of the partial block that follows `whole` bytes of whole blocks.
fn partial_counter(whole: usize) -> u32 {
    // Counter 2 is the first data block; `whole / 16 < 2^32 - 2` by the length limit, and inc32 wraps.
    ((whole / BLOCK) as u32).wrapping_add(2)
}

/// The tag: the final GHASH value XOR `E(K, nonce || 1)`. The GHASH value is wiped; the mask never leaves
/// the kernel.
#[inline(always)]
fn finish<K: Kernel>(k: &K, nonce: &[u8; 12], mut xi: Xi) -> Tag {
    let mut tag = xi.to_be_bytes();
    k.encrypt_xor(&counter_block(nonce, 1), &mut tag);
    xi.zeroize();
    tag
}

enum LimitError {
    Message(u64),
    Aad(u64),
}

fn check_len(msg: usize, aad: usize) -> Result<(), LimitError> {
    let (msg, aad) = (msg as u64, aad as u64);
    if msg > MAX_MESSAGE_LEN {
        return Err(LimitError::Message(msg));
    }
    if aad > MAX_AAD_LEN {
        return Err(LimitError::Aad(aad));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gcm_length_limits_are_enforced_at_the_boundary() {
        // Buffers of 2^36 bytes cannot be allocated in a test, so the limit check itself is tested.
        let max = MAX_MESSAGE_LEN as usize;
        assert!(check_len(max, 0).is_ok());
        assert!(matches!(check_len(max + 1, 0), Err(LimitError::Message(n)) if n == MAX_MESSAGE_LEN + 1));
        assert!(matches!(check_len(usize::MAX, 0), Err(LimitError::Message(_))));
        assert!(check_len(0, MAX_AAD_LEN as usize).is_ok());
        assert!(matches!(check_len(0, MAX_AAD_LEN as usize + 1), Err(LimitError::Aad(_))));
        assert_eq!(MAX_MESSAGE_LEN, (1u64 << 32) * 16 - 32, "2^32 - 2 blocks of 16 bytes");
    }

    #[test]
    fn length_block_is_bit_lengths_big_endian() {
        let b = length_block(3, 0x1_0000_0001);
        assert_eq!(&b[..8], &24u64.to_be_bytes());
        assert_eq!(&b[8..], &(0x1_0000_0001u64 * 8).to_be_bytes());
    }

    #[test]
    fn counter_block_is_nonce_then_big_endian_counter() {
        let b = counter_block(&[0xab; 12], 0x0102_0304);
        assert_eq!(&b[..12], &[0xab; 12]);
        assert_eq!(&b[12..], &[1, 2, 3, 4]);
    }
}
