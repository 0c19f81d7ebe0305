//! rustls configurations restricted to one cipher suite, so a handshake either negotiates exactly that suite
//! or fails.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{CipherSuite, ClientConfig, ServerConfig, SupportedProtocolVersion};

use super::pki::Identity;

/// Every AES-GCM suite, TLS 1.3 first.
pub const AES_GCM_SUITES: [CipherSuite; 6] = [
    CipherSuite::TLS13_AES_128_GCM_SHA256,
    CipherSuite::TLS13_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
];

/// The protocol version `suite` belongs to.
pub fn version(suite: CipherSuite) -> &'static SupportedProtocolVersion {
    if format!("{suite:?}").starts_with("TLS13_") { &rustls::version::TLS13 } else { &rustls::version::TLS12 }
}

/// `provider` offering only `suite`.
pub fn only(mut provider: CryptoProvider, suite: CipherSuite) -> Arc<CryptoProvider> {
    provider.cipher_suites.retain(|s| s.suite() == suite);
    assert_eq!(provider.cipher_suites.len(), 1, "{suite:?} is not offered by the provider");
    Arc::new(provider)
}

pub fn server_config(provider: CryptoProvider, suite: CipherSuite, identity: &Identity) -> Arc<ServerConfig> {
    let config = ServerConfig::builder_with_provider(only(provider, suite))
        .with_protocol_versions(&[version(suite)])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(identity.chain(), identity.key())
        .unwrap();
    Arc::new(config)
}

pub fn client_config(provider: CryptoProvider, suite: CipherSuite, identity: &Identity) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(only(provider, suite))
        .with_protocol_versions(&[version(suite)])
        .unwrap()
        .with_root_certificates(identity.roots())
        .with_no_client_auth();
    Arc::new(config)
}

/// A body of `len` bytes that differs at every offset from a shifted copy of itself, so a lost, repeated or
/// reordered record shows up as a mismatch.
pub fn body(len: usize, salt: u32) -> Vec<u8> {
    (0..len as u32).map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(salt) >> 13) as u8).collect()
}
