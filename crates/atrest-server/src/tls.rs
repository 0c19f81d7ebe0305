//! The rustls server configuration: atrest-rustls' provider (record protection on atrest-core), TLS 1.3, and
//! TLS 1.2 only when asked for; ALPN offers HTTP/2 and HTTP/1.1; client certificates required when a client
//! CA file is given.

use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::server::WebPkiClientVerifier;
use rustls::version::{TLS12, TLS13};

use crate::cert::ServerCert;
use crate::error::ServeError;

pub(crate) fn server_config(
    cert: &ServerCert,
    allow_tls12: bool,
    client_ca: Option<&Path>,
) -> Result<Arc<ServerConfig>, ServeError> {
    let provider = Arc::new(atrest_rustls::provider()?);
    let versions: &[&rustls::SupportedProtocolVersion] = if allow_tls12 { &[&TLS13, &TLS12] } else { &[&TLS13] };
    let builder = ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let builder = match client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let pem = |source| ServeError::CertPem { path: path.to_owned(), expected: "CA certificate", source };
            for ca in CertificateDer::pem_file_iter(path).map_err(pem)? {
                roots.add(ca.map_err(pem)?)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| ServeError::ClientCa { path: path.to_owned(), detail: e.to_string() })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(cert.chain.clone(), cert.key.clone_key())?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
