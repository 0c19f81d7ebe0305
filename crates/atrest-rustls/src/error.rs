//! Why a record key could not be set up.
//!
//! rustls builds record keys through infallible factory methods, so this error reaches the application
//! inside [`rustls::Error::Other`] on the first record of the affected direction. Decryption failures are
//! never reported here: they are rustls' one opaque [`rustls::Error::DecryptError`].

use atrest_core::BackendError;

/// A record key could not be built from the key material rustls derived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetupError {
    /// The atrest-core backend the provider was built for cannot run on this host.
    #[error("atrest-core backend unavailable for TLS record protection: {0}")]
    Backend(#[from] BackendError),
    /// The key is not as long as the cipher suite's AES key.
    #[error("TLS record key is {actual} bytes, the cipher suite needs {expected}")]
    KeyLength {
        /// The suite's key length.
        expected: usize,
        /// The length rustls supplied.
        actual: usize,
    },
    /// The fixed IV (with the explicit nonce seed, for TLS 1.2) is not 12 bytes.
    #[error("TLS record IV is {actual} bytes, AES-GCM needs {expected}")]
    IvLength {
        /// The nonce length AES-GCM takes.
        expected: usize,
        /// The length rustls supplied.
        actual: usize,
    },
}
