//! The AES-GCM key of one direction of a connection, on the atrest-core backend its provider was built for,
//! and the per-record nonce of RFC 8446 §5.3 / RFC 5288 §3.

use std::sync::Arc;

use atrest_core::{Aes128Gcm, Aes256Gcm, Backend, Tag};
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, MessageDecrypter, MessageEncrypter, NONCE_LEN,
    OutboundOpaqueMessage, OutboundPlainMessage,
};
use rustls::{ConnectionTrafficSecrets, Error, OtherError};
use zeroize::Zeroizing;

use crate::error::KeySetupError;

/// The two AES key sizes TLS uses with GCM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeySize {
    Aes128,
    Aes256,
}

impl KeySize {
    /// Key length in bytes.
    pub(crate) const fn len(self) -> usize {
        match self {
            KeySize::Aes128 => Aes128Gcm::KEY_LEN,
            KeySize::Aes256 => Aes256Gcm::KEY_LEN,
        }
    }

    /// The key material in the form kTLS and other record layers take it.
    pub(crate) fn traffic_secrets(self, key: AeadKey, iv: Iv) -> ConnectionTrafficSecrets {
        match self {
            KeySize::Aes128 => ConnectionTrafficSecrets::Aes128Gcm { key, iv },
            KeySize::Aes256 => ConnectionTrafficSecrets::Aes256Gcm { key, iv },
        }
    }
}

/// An expanded AES-GCM key. atrest-core zeroizes the expanded key when it is dropped; the raw key bytes
/// stay in rustls' [`AeadKey`], which zeroizes itself, and are never copied here.
pub(crate) enum RecordKey {
    Aes128(Aes128Gcm),
    Aes256(Aes256Gcm),
}

impl RecordKey {
    /// Expands `key` on `backend`.
    pub(crate) fn new(size: KeySize, backend: Backend, key: &AeadKey) -> Result<RecordKey, KeySetupError> {
        let bytes = key.as_ref();
        let wrong_length = || KeySetupError::KeyLength { expected: size.len(), actual: bytes.len() };
        Ok(match size {
            KeySize::Aes128 => {
                RecordKey::Aes128(Aes128Gcm::with_backend(bytes.try_into().map_err(|_| wrong_length())?, backend)?)
            }
            KeySize::Aes256 => {
                RecordKey::Aes256(Aes256Gcm::with_backend(bytes.try_into().map_err(|_| wrong_length())?, backend)?)
            }
        })
    }

    /// Encrypts `buf` in place. A record never reaches GCM's length limits, so a failure here means a
    /// record layer bug; it is reported as rustls' encryption error rather than a panic.
    pub(crate) fn seal(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8]) -> Result<Tag, Error> {
        match self {
            RecordKey::Aes128(k) => k.seal_in_place(nonce, aad, buf),
            RecordKey::Aes256(k) => k.seal_in_place(nonce, aad, buf),
        }
        .map_err(|_| Error::EncryptError)
    }

    /// Decrypts `buf` in place if `tag` verifies. Any failure is rustls' one opaque
    /// [`Error::DecryptError`], and atrest-core has zeroed `buf` by then, so no unauthenticated plaintext
    /// is left behind in the record buffer.
    pub(crate) fn open(&self, nonce: &[u8; NONCE_LEN], aad: &[u8], buf: &mut [u8], tag: &Tag) -> Result<(), Error> {
        match self {
            RecordKey::Aes128(k) => k.open_in_place(nonce, aad, buf, tag),
            RecordKey::Aes256(k) => k.open_in_place(nonce, aad, buf, tag),
        }
        .map_err(|_| Error::DecryptError)
    }
}

/// The per-record nonce: the 64-bit sequence number, big-endian and left-padded with zeros to 12 bytes,
/// XORed with `iv`. RFC 8446 §5.3 defines it so for TLS 1.3 (with the write IV); for TLS 1.2 the same
/// construction over `salt || initial explicit nonce` yields `salt || (explicit XOR seq)`, an explicit
/// nonce that is distinct for every record of a key, as RFC 5288 §3 requires.
pub(crate) fn record_nonce(iv: &[u8; NONCE_LEN], seq: u64) -> [u8; NONCE_LEN] {
    let mut nonce = *iv;
    for (n, s) in nonce[NONCE_LEN - 8..].iter_mut().zip(seq.to_be_bytes()) {
        *n ^= s;
    }
    nonce
}

/// A 12-byte IV held for the life of a key and wiped when the key goes away.
pub(crate) type HeldIv = Zeroizing<[u8; NONCE_LEN]>;

/// Copies an IV of exactly [`NONCE_LEN`] bytes out of `parts`, which are concatenated.
pub(crate) fn hold_iv(parts: &[&[u8]]) -> Result<HeldIv, KeySetupError> {
    let actual: usize = parts.iter().map(|p| p.len()).sum();
    if actual != NONCE_LEN {
        return Err(KeySetupError::IvLength { expected: NONCE_LEN, actual });
    }
    let mut iv = Zeroizing::new([0u8; NONCE_LEN]);
    let mut at = 0;
    for part in parts {
        iv[at..at + part.len()].copy_from_slice(part);
        at += part.len();
    }
    Ok(iv)
}

/// Stands in for an encrypter or decrypter whose key could not be set up: every record fails with the
/// typed reason, so a connection can never fall back to something weaker.
pub(crate) struct Unusable(Arc<KeySetupError>);

impl Unusable {
    pub(crate) fn boxed(reason: KeySetupError) -> Box<Unusable> {
        Box::new(Unusable(Arc::new(reason)))
    }

    fn error(&self) -> Error {
        Error::Other(OtherError(self.0.clone()))
    }
}

impl MessageEncrypter for Unusable {
    fn encrypt(&mut self, _msg: OutboundPlainMessage<'_>, _seq: u64) -> Result<OutboundOpaqueMessage, Error> {
        Err(self.error())
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len
    }
}

impl MessageDecrypter for Unusable {
    fn decrypt<'a>(&mut self, _msg: InboundOpaqueMessage<'a>, _seq: u64) -> Result<InboundPlainMessage<'a>, Error> {
        Err(self.error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_xors_the_big_endian_sequence_number_into_the_last_eight_bytes() {
        let iv = [0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab];
        assert_eq!(record_nonce(&iv, 0), iv);
        let n = record_nonce(&iv, 0x0102_0304_0506_0708);
        assert_eq!(n, [0xa0, 0xa1, 0xa2, 0xa3, 0xa5, 0xa7, 0xa5, 0xa3, 0xad, 0xaf, 0xad, 0xa3]);
        // Distinct sequence numbers give distinct nonces.
        assert_ne!(record_nonce(&iv, 1), record_nonce(&iv, 2));
    }

    #[test]
    fn iv_parts_must_add_up_to_twelve_bytes() {
        let iv = hold_iv(&[&[1, 2, 3, 4], &[5, 6, 7, 8, 9, 10, 11, 12]]).unwrap();
        assert_eq!(*iv, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        assert_eq!(hold_iv(&[&[0; 4], &[0; 7]]).unwrap_err(), KeySetupError::IvLength { expected: 12, actual: 11 });
    }

    #[test]
    fn a_key_of_the_wrong_length_is_a_typed_error() {
        let key = AeadKey::from([7u8; 32]);
        let err = RecordKey::new(KeySize::Aes128, Backend::Soft, &key).err().unwrap();
        assert_eq!(err, KeySetupError::KeyLength { expected: 16, actual: 32 });
        assert!(RecordKey::new(KeySize::Aes256, Backend::Soft, &key).is_ok());
    }
}
