//! Why the server could not start, serve or stop cleanly; each variant names the file, address or setting at
//! fault.

use std::io;
use std::path::PathBuf;

/// An error of `atrest serve`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listen address is not `HOST:PORT` or does not resolve.
    #[error("cannot use listen address {value:?}: {reason}")]
    ListenAddress {
        /// The address as given.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Binding or configuring the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A certificate or key file could not be read or written.
    #[error("{action} {path}: {source}")]
    CertFile {
        /// What was being done ("reading", "writing", ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A certificate or key file is not valid PEM of the expected kind.
    #[error("{path} is not a PEM {expected}: {source}")]
    CertPem {
        /// The file.
        path: PathBuf,
        /// "certificate chain" or "private key".
        expected: &'static str,
        /// The parser's error.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A private key file is readable or writable by group or others.
    #[error("private key {path} has mode {mode:o}; it must be 0600 or stricter (chmod 600 it)")]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The generated certificate's directory would be inside the data directory.
    #[error("TLS certificate directory {dir} is inside the data directory {data_dir}; keep it outside")]
    CertDirInsideData {
        /// The certificate directory.
        dir: PathBuf,
        /// The data directory.
        data_dir: PathBuf,
    },
    /// No certificate was given and there is no default place for a generated one.
    #[error("no --tls-cert/--tls-key given and neither XDG_CONFIG_HOME nor HOME is set for a generated certificate")]
    NoCertDir,
    /// Generating the self-signed certificate failed.
    #[error("generating a self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the certificate and key (for example a key that does not match the certificate).
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// The atrest-core backend for TLS record protection cannot run here (`ATREST_BACKEND`).
    #[error("TLS record protection: {0}")]
    Backend(#[from] atrest_core::BackendError),
    /// The async runtime or the signal handlers could not be set up.
    #[error("setting up the server runtime: {0}")]
    Runtime(#[source] io::Error),
    /// In-flight requests did not finish within the drain timeout; the store was not closed cleanly (it
    /// recovers on the next open, like after a crash, and loses nothing acknowledged).
    #[error("requests still in flight after the {seconds} s drain timeout; store not closed cleanly")]
    DrainTimeout {
        /// The drain timeout.
        seconds: u64,
    },
    /// The client CA file holds no usable CA certificate.
    #[error("client CA file {path}: {detail}")]
    ClientCa {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The token records in the store's catalog could not be read.
    #[error("reading the access tokens: {0}")]
    Tokens(#[from] crate::auth::TokenError),
    /// Closing the store after draining failed.
    #[error("closing the store: {0}")]
    Store(#[from] atrest_store::StoreError),
}
