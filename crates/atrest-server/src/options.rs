//! What `atrest serve` is told: where to listen, which certificate to present, which TLS versions to allow.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Settings of one server.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `HOST:PORT` to listen on (`[::1]:8443` for IPv6); port 0 picks a free port.
    pub listen: String,
    /// The data directory of the store being served. A generated certificate is never kept inside it.
    pub data_dir: PathBuf,
    /// The certificate to present.
    pub tls: TlsSource,
    /// Also accept TLS 1.2 (its AES-GCM suites with ECDHE only). Off: TLS 1.3 only.
    pub allow_tls12: bool,
    /// How long a shutdown waits for in-flight requests before giving up on them.
    pub drain_timeout: Duration,
}

impl ServeOptions {
    /// TLS 1.3 only, a 30 s drain, and the certificate from `tls`.
    pub fn new(listen: impl Into<String>, data_dir: impl Into<PathBuf>, tls: TlsSource) -> ServeOptions {
        ServeOptions {
            listen: listen.into(),
            data_dir: data_dir.into(),
            tls,
            allow_tls12: false,
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsSource {
    /// A PEM certificate chain (leaf first) and its PEM private key (`--tls-cert`, `--tls-key`).
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key; must not be readable by group or others.
        key: PathBuf,
    },
    /// A self-signed certificate for `localhost`, 127.0.0.1, ::1 and the listen host, generated in `dir` on
    /// first start (key mode 0600, directory 0700) and reused afterwards.
    SelfSigned {
        /// Where `cert.pem` and `key.pem` live; must be outside the data directory.
        dir: PathBuf,
    },
}

impl TlsSource {
    /// The default place for a store's generated certificate: `$XDG_CONFIG_HOME/atrest/tls/<store-id>/`,
    /// else `$HOME/.config/atrest/tls/<store-id>/` (next to the default key files); `None` when neither
    /// variable is set.
    pub fn default_self_signed(store_id_hex: &str) -> Option<TlsSource> {
        let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
            Some(dir) => PathBuf::from(dir),
            None => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".config"),
        };
        Some(TlsSource::SelfSigned { dir: base.join("atrest").join("tls").join(store_id_hex) })
    }

    /// The generated certificate's file, when this source generates one.
    pub fn generated_cert_path(&self) -> Option<PathBuf> {
        match self {
            TlsSource::Files { .. } => None,
            TlsSource::SelfSigned { dir } => Some(cert_path(dir)),
        }
    }
}

pub(crate) fn cert_path(dir: &Path) -> PathBuf {
    dir.join("cert.pem")
}

pub(crate) fn key_path(dir: &Path) -> PathBuf {
    dir.join("key.pem")
}

/// The names a generated certificate lists, one per line (to tell whether it covers a new listen host).
pub(crate) fn names_path(dir: &Path) -> PathBuf {
    dir.join("names.txt")
}
