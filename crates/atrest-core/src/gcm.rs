//! Backend dispatch for AES-GCM, and the checks every backend shares: GCM's length limits, the
//! constant-time tag comparison, and wiping the output when a message does not verify.

use aead::inout::InOutBuf;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::backend::detect::{self, Token};
use crate::backend::{Backend, soft};
use crate::error::{BackendError, OpenError, SealError};

/// A GCM authentication tag.
pub type Tag = [u8; 16];

/// Length of a GCM tag in bytes.
pub const TAG_LEN: usize = 16;

/// The longest plaintext GCM encrypts under one nonce: 2^32 - 2 blocks, i.e. 2^36 - 32 bytes.
pub const MAX_MESSAGE_LEN: u64 = (1 << 36) - 32;

/// The longest associated data GCM authenticates: 2^64 - 1 bits.
pub const MAX_AAD_LEN: u64 = (1 << 61) - 1;

/// GCM's final GHASH block: the bit lengths of the AAD and the ciphertext, big-endian.
pub(crate) fn length_block(aad_len: usize, ct_len: usize) -> [u8; 16] {
    let mut block = [0u8; 16];
    block[..8].copy_from_slice(&((aad_len as u64) * 8).to_be_bytes());
    block[8..].copy_from_slice(&((ct_len as u64) * 8).to_be_bytes());
    block
}

/// An expanded AES-GCM key bound to the backend chosen when it was built.
pub(crate) enum GcmKey {
    Soft(soft::GcmKey),
    #[cfg(all(target_arch = "aarch64", target_endian = "little"))]
    Armv8(crate::backend::aarch64::GcmKey),
    #[cfg(target_arch = "x86_64")]
    VaesAvx2(Box<crate::backend::x86::vaes_avx2::GcmKey>),
    #[cfg(target_arch = "x86_64")]
    Aesni(crate::backend::x86::aesni::GcmKey),
}

impl GcmKey {
    /// Expands `key` (16 or 32 bytes, checked by the caller) for `backend`.
    pub(crate) fn new(backend: Backend, key: &[u8]) -> Result<GcmKey, BackendError> {
        let token = detect::token(backend)
            .ok_or_else(|| BackendError::Unsupported { backend, supported: crate::backend::supported() })?;
        Ok(match token {
            Token::Soft => GcmKey::Soft(soft::GcmKey::new(key)),
            #[cfg(all(target_arch = "aarch64", target_endian = "little"))]
            Token::Armv8(cpu) => GcmKey::Armv8(crate::backend::aarch64::GcmKey::new(cpu, key)),
            #[cfg(target_arch = "x86_64")]
            Token::VaesAvx2(cpu) => GcmKey::VaesAvx2(Box::new(crate::backend::x86::vaes_avx2::GcmKey::new(key, cpu))),
            #[cfg(target_arch = "x86_64")]
            Token::Aesni(cpu) => GcmKey::Aesni(crate::backend::x86::aesni::GcmKey::new(key, cpu)),
        })
    }

    /// The backend this key runs on.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            GcmKey::Soft(_) => Backend::Soft,
            #[cfg(all(target_arch = "aarch64", target_endian = "little"))]
            GcmKey::Armv8(_) => Backend::Armv8,
            #[cfg(target_arch = "x86_64")]
            GcmKey::VaesAvx2(_) => Backend::VaesAvx2,
            #[cfg(target_arch = "x86_64")]
            GcmKey::Aesni(_) => Backend::Aesni,
        }
    }

    /// Encrypts `buf` in place or from its input to its output, returning the tag.
    pub(crate) fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: InOutBuf<'_, '_, u8>) -> Result<Tag, SealError> {
        check_len(buf.len(), aad.len()).map_err(|e| match e {
            LimitError::Message(len) => SealError::MessageTooLong { len, max: MAX_MESSAGE_LEN },
            LimitError::Aad(len) => SealError::AadTooLong { len },
        })?;
        Ok(match self {
            GcmKey::Soft(k) => k.seal(nonce, aad, buf),
            #[cfg(all(target_arch = "aarch64", target_endian = "little"))]
            GcmKey::Armv8(k) => k.seal(nonce, aad, buf),
            #[cfg(target_arch = "x86_64")]
            GcmKey::VaesAvx2(k) => k.seal(nonce, aad, buf),
            #[cfg(target_arch = "x86_64")]
            GcmKey::Aesni(k) => k.seal(nonce, aad, buf),
        })
    }

    /// Decrypts `buf` and verifies `tag`. On failure the output is zeroed and one opaque error returned.
    pub(crate) fn open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        mut buf: InOutBuf<'_, '_, u8>,
        tag: &Tag,
    ) -> Result<(), OpenError> {
        check_len(buf.len(), aad.len()).map_err(|e| match e {
            LimitError::Message(len) => OpenError::MessageTooLong { len, max: MAX_MESSAGE_LEN },
            LimitError::Aad(len) => OpenError::AadTooLong { len },
        })?;
        let mut computed = match self {
            GcmKey::Soft(k) => k.open(nonce, aad, buf.reborrow()),
            #[cfg(all(target_arch = "aarch64", target_endian = "little"))]
            GcmKey::Armv8(k) => k.open(nonce, aad, buf.reborrow()),
            #[cfg(target_arch = "x86_64")]
            GcmKey::VaesAvx2(k) => k.open(nonce, aad, buf.reborrow()),
            #[cfg(target_arch = "x86_64")]
            GcmKey::Aesni(k) => k.open(nonce, aad, buf.reborrow()),
        };
        let ok: bool = computed.ct_eq(tag).into();
        computed.zeroize();
        if ok {
            Ok(())
        } else {
            buf.get_out().zeroize();
            Err(OpenError::Authentication)
        }
    }
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
}
