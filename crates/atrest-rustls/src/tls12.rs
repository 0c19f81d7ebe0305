//! TLS 1.2 record protection with AES-GCM (RFC 5288 §3, RFC 5246 §6.2.3.3).
//!
//! ```text
//! TLSCiphertext:  type | version | length (2) | explicit_nonce (8) | ciphertext | tag (16)
//! nonce = salt (4, the key block's client/server_write_IV) || explicit_nonce (8)
//! aad   = seq (8) | type (1) | version (2) | plaintext length (2)
//! ```
//!
//! The explicit nonce must never repeat under one key. It is `seed XOR seq`, where the 8-byte seed is
//! drawn from the key block (rustls' `explicit_nonce_len` extension of it): distinct for every record
//! because sequence numbers are, and it does not reveal the sequence number on the wire.

use atrest_core::{Backend, TAG_LEN, Tag};
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, KeyBlockShape, MessageDecrypter, MessageEncrypter,
    NONCE_LEN, OutboundOpaqueMessage, OutboundPlainMessage, PrefixedPayload, Tls12AeadAlgorithm,
    UnsupportedOperationError, make_tls12_aad,
};
use rustls::{ConnectionTrafficSecrets, Error};

use crate::record_key::{HeldIv, KeySize, RecordKey, Unusable, hold_iv, record_nonce};

/// Length of the salt, the fixed part of the nonce.
const SALT_LEN: usize = 4;
/// Length of the explicit nonce carried in each record.
const EXPLICIT_NONCE_LEN: usize = NONCE_LEN - SALT_LEN;
/// The largest plaintext a record may carry (RFC 5246 §6.2.1).
const MAX_FRAGMENT_LEN: usize = 1 << 14;

/// The AES-GCM algorithm of a TLS 1.2 suite, bound to one atrest-core backend.
pub(crate) struct Tls12Gcm {
    pub(crate) size: KeySize,
    pub(crate) backend: Backend,
}

impl Tls12AeadAlgorithm for Tls12Gcm {
    fn encrypter(&self, key: AeadKey, iv: &[u8], extra: &[u8]) -> Box<dyn MessageEncrypter> {
        let built = (|| Ok((RecordKey::new(self.size, self.backend, &key)?, hold_iv(&[iv, extra])?)))();
        match built {
            Ok((key, nonce_base)) => Box::new(Tls12Encrypter { key, nonce_base }),
            Err(reason) => Unusable::boxed(reason),
        }
    }

    fn decrypter(&self, key: AeadKey, iv: &[u8]) -> Box<dyn MessageDecrypter> {
        let built = (|| {
            let salt = <[u8; SALT_LEN]>::try_from(iv)
                .map_err(|_| crate::KeySetupError::IvLength { expected: SALT_LEN, actual: iv.len() })?;
            Ok((RecordKey::new(self.size, self.backend, &key)?, salt))
        })();
        match built {
            Ok((key, salt)) => Box::new(Tls12Decrypter { key, salt }),
            Err(reason) => Unusable::boxed(reason),
        }
    }

    fn key_block_shape(&self) -> KeyBlockShape {
        KeyBlockShape { enc_key_len: self.size.len(), fixed_iv_len: SALT_LEN, explicit_nonce_len: EXPLICIT_NONCE_LEN }
    }

    fn extract_keys(
        &self,
        key: AeadKey,
        iv: &[u8],
        explicit: &[u8],
    ) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        let iv = hold_iv(&[iv, explicit]).map_err(|_| UnsupportedOperationError)?;
        Ok(self.size.traffic_secrets(key, Iv::from(*iv)))
    }
}

struct Tls12Encrypter {
    key: RecordKey,
    /// `salt || explicit nonce seed`: record `seq` uses `nonce_base XOR (0^32 || seq)`.
    nonce_base: HeldIv,
}

impl MessageEncrypter for Tls12Encrypter {
    fn encrypt(&mut self, msg: OutboundPlainMessage<'_>, seq: u64) -> Result<OutboundOpaqueMessage, Error> {
        let total = self.encrypted_payload_len(msg.payload.len());
        let nonce = record_nonce(&self.nonce_base, seq);
        let aad = make_tls12_aad(seq, msg.typ, msg.version, msg.payload.len());
        let mut payload = PrefixedPayload::with_capacity(total);
        payload.extend_from_slice(&nonce[SALT_LEN..]);
        payload.extend_from_chunks(&msg.payload);
        let tag = self.key.seal(&nonce, &aad, &mut payload.as_mut()[EXPLICIT_NONCE_LEN..])?;
        payload.extend_from_slice(&tag);
        Ok(OutboundOpaqueMessage::new(msg.typ, msg.version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        EXPLICIT_NONCE_LEN + payload_len + TAG_LEN
    }
}

struct Tls12Decrypter {
    key: RecordKey,
    salt: [u8; SALT_LEN],
}

impl MessageDecrypter for Tls12Decrypter {
    fn decrypt<'a>(&mut self, mut msg: InboundOpaqueMessage<'a>, seq: u64) -> Result<InboundPlainMessage<'a>, Error> {
        let len = msg.payload.len();
        let plain_len = len.checked_sub(EXPLICIT_NONCE_LEN + TAG_LEN).ok_or(Error::DecryptError)?;
        let mut nonce = [0u8; NONCE_LEN];
        nonce[..SALT_LEN].copy_from_slice(&self.salt);
        nonce[SALT_LEN..].copy_from_slice(&msg.payload[..EXPLICIT_NONCE_LEN]);
        let aad = make_tls12_aad(seq, msg.typ, msg.version, plain_len);
        let (body, tag) = msg.payload[EXPLICIT_NONCE_LEN..].split_at_mut(plain_len);
        let tag: &Tag = (&*tag).try_into().map_err(|_| Error::DecryptError)?;
        self.key.open(&nonce, &aad, body, tag)?;
        if plain_len > MAX_FRAGMENT_LEN {
            return Err(Error::PeerSentOversizedRecord);
        }
        Ok(msg.into_plain_message_range(EXPLICIT_NONCE_LEN..EXPLICIT_NONCE_LEN + plain_len))
    }
}
