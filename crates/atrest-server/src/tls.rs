//! The rustls server configuration: atrest-rustls' provider (record protection on atrest-core), TLS 1.3, and
//! TLS 1.2 only when asked for; ALPN offers HTTP/2 and HTTP/1.1.

use std::sync::Arc;

use rustls::ServerConfig;
use rustls::version::{TLS12, TLS13};

use crate::cert::ServerCert;
use crate::error::ServeError;

pub(crate) fn server_config(cert: &ServerCert, allow_tls12: bool) -> Result<Arc<ServerConfig>, ServeError> {
    let provider = Arc::new(atrest_rustls::provider()?);
    let versions: &[&rustls::SupportedProtocolVersion] = if allow_tls12 { &[&TLS13, &TLS12] } else { &[&TLS13] };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)?
        .with_no_client_auth()
        .with_single_cert(cert.chain.clone(), cert.key.clone_key())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
