//! What the TLS record benchmarks share: the providers under test and one direction (an encrypter and a
//! decrypter with the same key) of a suite.

use rustls::crypto::CryptoProvider;
use rustls::crypto::cipher::{AeadKey, Iv, MessageDecrypter, MessageEncrypter, OutboundChunks, OutboundPlainMessage};
use rustls::crypto::tls13::OkmBlock;
use rustls::{CipherSuite, ContentType, ProtocolVersion, SupportedCipherSuite};

/// Record plaintext sizes: the largest record (bulk transfers) and a small one.
pub const SIZES: [usize; 2] = [16 << 10, 1 << 10];
/// The TLS 1.3 suites and the TLS 1.2 ECDHE-ECDSA ones (ECDHE-RSA protects records identically).
pub const SUITES: [CipherSuite; 4] = [
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
];

/// The providers under test, by name.
pub fn providers() -> Vec<(String, CryptoProvider)> {
    let mut list: Vec<(String, CryptoProvider)> = atrest_core::backend::supported()
        .into_iter()
        .map(|b| (format!("atrest-{b}"), atrest_rustls::provider_with_backend(b).expect("supported backend")))
        .collect();
    list.push(("ring".to_owned(), rustls::crypto::ring::default_provider()));
    #[cfg(feature = "aws-lc-peer")]
    list.push(("aws-lc-rs".to_owned(), rustls::crypto::aws_lc_rs::default_provider()));
    list
}

/// A `len`-byte key: rustls only builds keys from secrets, so this derives one from a fixed secret.
fn key(len: usize) -> AeadKey {
    let id = if len == 16 { CipherSuite::TLS13_AES_128_GCM_SHA256 } else { CipherSuite::TLS13_AES_256_GCM_SHA384 };
    let Some(SupportedCipherSuite::Tls13(suite)) =
        rustls::crypto::ring::ALL_CIPHER_SUITES.iter().copied().find(|s| s.suite() == id)
    else {
        unreachable!("ring offers {id:?}")
    };
    let expander = suite.hkdf_provider.expander_for_okm(&OkmBlock::new(&[0x42; 32]));
    rustls::internal::derive_traffic_key(&*expander, suite.aead_alg)
}

/// An encrypter and a decrypter of `suite` from `provider`, with the same key, and the record version.
pub fn direction(
    provider: &CryptoProvider,
    id: CipherSuite,
) -> (Box<dyn MessageEncrypter>, Box<dyn MessageDecrypter>, ProtocolVersion) {
    let suite = provider.cipher_suites.iter().copied().find(|s| s.suite() == id).expect("suite offered");
    let iv = [0x24; 12];
    match suite {
        SupportedCipherSuite::Tls13(s) => {
            let len = s.aead_alg.key_len();
            let enc = s.aead_alg.encrypter(key(len), Iv::from(iv));
            (enc, s.aead_alg.decrypter(key(len), Iv::from(iv)), ProtocolVersion::TLSv1_3)
        }
        SupportedCipherSuite::Tls12(s) => {
            let len = s.aead_alg.key_block_shape().enc_key_len;
            let enc = s.aead_alg.encrypter(key(len), &iv[..4], &iv[4..]);
            (enc, s.aead_alg.decrypter(key(len), &iv[..4]), ProtocolVersion::TLSv1_2)
        }
    }
}

pub fn plain(version: ProtocolVersion, payload: &[u8]) -> OutboundPlainMessage<'_> {
    OutboundPlainMessage { typ: ContentType::ApplicationData, version, payload: OutboundChunks::Single(payload) }
}

pub fn short_name(id: CipherSuite) -> String {
    format!("{id:?}").replace("TLS_ECDHE_ECDSA_WITH_", "TLS12_")
}
