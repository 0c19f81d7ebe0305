//! # atrest-rustls
//!
//! A rustls [`CryptoProvider`] whose record protection runs on atrest-core: the AES-128-GCM and
//! AES-256-GCM suites of TLS 1.3 and TLS 1.2 seal and open every record with the same audited AES-GCM
//! backends (VAES-AVX2, AES-NI, ARMv8, portable) that protect data at rest. Key exchange (X25519, P-256,
//! P-384), certificate signatures and verification, hashing, HKDF/PRF and randomness come from rustls'
//! `ring` provider.
//!
//! Any rustls client or server can use it:
//!
//! ```
//! use std::sync::Arc;
//!
//! let provider = Arc::new(atrest_rustls::provider().unwrap());
//! let config = rustls::ClientConfig::builder_with_provider(provider)
//!     .with_safe_default_protocol_versions()
//!     .unwrap()
//!     .with_root_certificates(rustls::RootCertStore::empty())
//!     .with_no_client_auth();
//! # let _ = config;
//! ```
//!
//! Only AES-GCM suites are offered: ChaCha20-Poly1305 would not run on atrest-core, and every TLS 1.2 and
//! 1.3 implementation supports AES-GCM. Keys are expanded once per direction and zeroized on drop; a
//! record that does not authenticate is rustls' one opaque [`rustls::Error::DecryptError`], and its
//! buffer has been zeroed by then.
//!
//! ## Why ring's provider for the rest
//! ring builds with only a C compiler (no CMake, Go or NASM), is already the peer the workspace
//! benchmarks against, and cross-compiles with the same toolchain as the rest of the workspace. The price
//! is that ring has no post-quantum hybrid key exchange (X25519MLKEM768) and no FIPS module; both would
//! come with aws-lc-rs's provider, whose key exchange could replace ring's here without touching record
//! protection.

mod error;
mod record_key;
mod suites;
mod tls12;
mod tls13;

use atrest_core::backend::default_backend;
use atrest_core::{Backend, BackendError};
use rustls::crypto::CryptoProvider;

pub use error::KeySetupError;
pub use suites::{cipher_suites, suite_backend};

/// The provider on atrest-core's default backend: the one `ATREST_BACKEND` names, else the fastest this
/// host supports.
///
/// # Errors
/// When `ATREST_BACKEND` names an unknown backend or one this host cannot run.
pub fn provider() -> Result<CryptoProvider, BackendError> {
    provider_with_backend(default_backend()?)
}

/// The provider with record protection pinned to `backend`.
///
/// # Errors
/// [`BackendError::Unsupported`] when this host cannot run `backend`.
pub fn provider_with_backend(backend: Backend) -> Result<CryptoProvider, BackendError> {
    Ok(CryptoProvider { cipher_suites: cipher_suites(backend)?.to_vec(), ..rustls::crypto::ring::default_provider() })
}
