//! TLS 1.3 record protection with AES-GCM (RFC 8446 §5.2-5.4).
//!
//! ```text
//! TLSCiphertext:  type 0x17 | legacy_record_version 0x0303 | length (2) | encrypted_record
//! encrypted_record = AES-GCM(key, nonce, aad = the 5-byte record header,
//!                            TLSInnerPlaintext = content | real content type (1) | zero padding)
//!                    || tag (16)
//! nonce = write_iv XOR (0^32 || seq as 64-bit big-endian)
//! ```

use atrest_core::{Backend, TAG_LEN, Tag};
use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, InboundPlainMessage, Iv, MessageDecrypter, MessageEncrypter, OutboundOpaqueMessage,
    OutboundPlainMessage, PrefixedPayload, Tls13AeadAlgorithm, UnsupportedOperationError,
};
use rustls::{ConnectionTrafficSecrets, ContentType, Error, ProtocolVersion};

use crate::record_key::{HeldIv, KeySize, RecordKey, Unusable, hold_iv, record_nonce};

/// The AES-GCM algorithm of a TLS 1.3 suite, bound to one atrest-core backend.
pub(crate) struct Tls13Gcm {
    pub(crate) size: KeySize,
    pub(crate) backend: Backend,
}

impl Tls13Gcm {
    fn key(&self, key: &AeadKey, iv: &Iv) -> Result<(RecordKey, HeldIv), crate::KeySetupError> {
        Ok((RecordKey::new(self.size, self.backend, key)?, hold_iv(&[iv.as_ref()])?))
    }
}

impl Tls13AeadAlgorithm for Tls13Gcm {
    fn encrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageEncrypter> {
        match self.key(&key, &iv) {
            Ok((key, iv)) => Box::new(Tls13Encrypter { key, iv }),
            Err(reason) => Unusable::boxed(reason),
        }
    }

    fn decrypter(&self, key: AeadKey, iv: Iv) -> Box<dyn MessageDecrypter> {
        match self.key(&key, &iv) {
            Ok((key, iv)) => Box::new(Tls13Decrypter { key, iv }),
            Err(reason) => Unusable::boxed(reason),
        }
    }

    fn key_len(&self) -> usize {
        self.size.len()
    }

    fn extract_keys(&self, key: AeadKey, iv: Iv) -> Result<ConnectionTrafficSecrets, UnsupportedOperationError> {
        Ok(self.size.traffic_secrets(key, iv))
    }
}

/// The additional data of a TLS 1.3 record: its 5-byte header (RFC 8446 §5.2).
fn header_aad(typ: ContentType, version: ProtocolVersion, len: usize) -> Result<[u8; 5], Error> {
    let len = u16::try_from(len).map_err(|_| Error::EncryptError)?.to_be_bytes();
    let version = u16::from(version).to_be_bytes();
    Ok([u8::from(typ), version[0], version[1], len[0], len[1]])
}

struct Tls13Encrypter {
    key: RecordKey,
    iv: HeldIv,
}

impl MessageEncrypter for Tls13Encrypter {
    fn encrypt(&mut self, msg: OutboundPlainMessage<'_>, seq: u64) -> Result<OutboundOpaqueMessage, Error> {
        let total = self.encrypted_payload_len(msg.payload.len());
        // Every protected TLS 1.3 record is application_data with legacy version TLS 1.2 on the outside.
        let (outer_type, outer_version) = (ContentType::ApplicationData, ProtocolVersion::TLSv1_2);
        let aad = header_aad(outer_type, outer_version, total)?;
        let mut payload = PrefixedPayload::with_capacity(total);
        payload.extend_from_chunks(&msg.payload);
        payload.extend_from_slice(&[u8::from(msg.typ)]);
        let tag = self.key.seal(&record_nonce(&self.iv, seq), &aad, payload.as_mut())?;
        payload.extend_from_slice(&tag);
        Ok(OutboundOpaqueMessage::new(outer_type, outer_version, payload))
    }

    fn encrypted_payload_len(&self, payload_len: usize) -> usize {
        payload_len + 1 + TAG_LEN
    }
}

struct Tls13Decrypter {
    key: RecordKey,
    iv: HeldIv,
}

impl MessageDecrypter for Tls13Decrypter {
    fn decrypt<'a>(&mut self, mut msg: InboundOpaqueMessage<'a>, seq: u64) -> Result<InboundPlainMessage<'a>, Error> {
        let len = msg.payload.len();
        let body_len = len.checked_sub(TAG_LEN).ok_or(Error::DecryptError)?;
        // The header as received, so a record whose outer type or version was changed does not verify.
        let aad = header_aad(msg.typ, msg.version, len).map_err(|_| Error::DecryptError)?;
        let (body, tag) = msg.payload.split_at_mut(body_len);
        let tag: &Tag = (&*tag).try_into().map_err(|_| Error::DecryptError)?;
        self.key.open(&record_nonce(&self.iv, seq), &aad, body, tag)?;
        msg.payload.truncate(body_len);
        // Strips the padding, reads the real content type and enforces the plaintext size limit.
        msg.into_tls13_unpadded_message()
    }
}
