//! Helpers shared by the record-level tests: suite lookup, key material, and sealing or opening one record
//! through a rustls `MessageEncrypter` / `MessageDecrypter`.

use rustls::crypto::cipher::{
    AeadKey, InboundOpaqueMessage, Iv, MessageDecrypter, MessageEncrypter, OutboundChunks, OutboundPlainMessage,
};
use rustls::crypto::tls13::OkmBlock;
use rustls::{
    CipherSuite, ContentType, Error, ProtocolVersion, SupportedCipherSuite, Tls12CipherSuite, Tls13CipherSuite,
};

/// The suite `id` from `suites`.
pub fn find(suites: &[SupportedCipherSuite], id: CipherSuite) -> SupportedCipherSuite {
    *suites.iter().find(|s| s.suite() == id).unwrap_or_else(|| panic!("{id:?} is not offered"))
}

/// ring's own suite `id`: the independent implementation the records are compared with.
pub fn ring_suite(id: CipherSuite) -> SupportedCipherSuite {
    find(rustls::crypto::ring::ALL_CIPHER_SUITES, id)
}

pub fn tls13(suite: SupportedCipherSuite) -> &'static Tls13CipherSuite {
    match suite {
        SupportedCipherSuite::Tls13(s) => s,
        other => panic!("{:?} is not a TLS 1.3 suite", other.suite()),
    }
}

pub fn tls12(suite: SupportedCipherSuite) -> &'static Tls12CipherSuite {
    match suite {
        SupportedCipherSuite::Tls12(s) => s,
        other => panic!("{:?} is not a TLS 1.2 suite", other.suite()),
    }
}

/// The write key and IV of a TLS 1.3 traffic secret (RFC 8446 §7.3), derived the way rustls derives them.
pub fn traffic_key(suite: &Tls13CipherSuite, secret: &[u8]) -> (AeadKey, Iv) {
    let expander = suite.hkdf_provider.expander_for_okm(&OkmBlock::new(secret));
    (rustls::internal::derive_traffic_key(&*expander, suite.aead_alg), rustls::internal::derive_traffic_iv(&*expander))
}

/// A `len`-byte AEAD key determined by `seed` (rustls builds keys only from derived secrets, so this goes
/// through the same derivation; equal seeds give equal keys).
pub fn aead_key(len: usize, seed: &[u8]) -> AeadKey {
    let id = match len {
        16 => CipherSuite::TLS13_AES_128_GCM_SHA256,
        32 => CipherSuite::TLS13_AES_256_GCM_SHA384,
        _ => panic!("no AES-GCM key of {len} bytes"),
    };
    let suite = tls13(ring_suite(id));
    let secret = suite.common.hash_provider.hash(seed);
    traffic_key(suite, secret.as_ref()).0
}

/// Seals one record and returns it with its 5-byte header.
pub fn seal(
    enc: &mut dyn MessageEncrypter,
    typ: ContentType,
    version: ProtocolVersion,
    payload: &[u8],
    seq: u64,
) -> Result<Vec<u8>, Error> {
    let expected_len = enc.encrypted_payload_len(payload.len());
    let record = enc.encrypt(OutboundPlainMessage { typ, version, payload: OutboundChunks::Single(payload) }, seq)?;
    let record = record.encode();
    assert_eq!(record.len(), 5 + expected_len, "encrypted_payload_len disagrees with the record");
    Ok(record)
}

/// What opening one record gave, and the record buffer as the decrypter left it.
pub struct Opened {
    pub result: Result<(ContentType, Vec<u8>), Error>,
    pub buffer: Vec<u8>,
}

/// Opens one record (header included) in place.
pub fn open(dec: &mut dyn MessageDecrypter, record: &[u8], seq: u64) -> Opened {
    let typ = ContentType::from(record[0]);
    let version = ProtocolVersion::from(u16::from_be_bytes([record[1], record[2]]));
    let mut buffer = record[5..].to_vec();
    let result = dec
        .decrypt(InboundOpaqueMessage::new(typ, version, &mut buffer), seq)
        .map(|plain| (plain.typ, plain.payload.to_vec()));
    Opened { result, buffer }
}

/// Parses hex with any whitespace between the digits.
pub fn unhex(text: &str) -> Vec<u8> {
    let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(&digits).unwrap_or_else(|e| panic!("bad hex {digits:?}: {e}"))
}
