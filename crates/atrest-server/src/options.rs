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
    /// A PEM file of CA certificates: when set, every client must present a certificate issued by one of
    /// them (mutual TLS), on top of its bearer token.
    pub client_ca: Option<PathBuf>,
    /// Where `POST /v1/admin/backup` backs up to (a directory or object-store URL); without it that route
    /// answers 409. Clients cannot name a target: that would let a token write anywhere the server can.
    pub backup_target: Option<String>,
    /// Body sizes, timeouts and concurrency.
    pub limits: HttpLimits,
}

/// Limits that keep one client from exhausting the server.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// Largest document body (the store's own limit by default).
    pub max_document: u64,
    /// Largest attachment body.
    pub max_attachment: u64,
    /// Largest streamed import body.
    pub max_import: u64,
    /// Largest body of the small JSON requests (create a collection, a token, a backup).
    pub max_request: u64,
    /// Store operations in flight at once; past it requests get 503 with Retry-After.
    pub max_in_flight: usize,
    /// Connections at once; past it new connections wait in the listen backlog.
    pub max_connections: usize,
    /// A request body with no bytes for this long gets 408.
    pub body_stall: Duration,
    /// HTTP/1: time for a request's headers to arrive, counted from when the connection is idle (so it is
    /// also the idle timeout of a kept-alive connection).
    pub header_timeout: Duration,
    /// A connection whose reads or writes make no progress for this long is closed (idle HTTP/2
    /// connections, clients that stop reading a response).
    pub io_timeout: Duration,
    /// Failed authentications an address may make at once...
    pub auth_failure_burst: u32,
    /// ...and how many more per second after that.
    pub auth_failures_per_second: f64,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            max_document: atrest_store::Limits::default().max_doc_len as u64,
            max_attachment: 4 << 30,
            max_import: 256 << 30,
            max_request: 64 << 10,
            max_in_flight: 512,
            max_connections: 4096,
            body_stall: Duration::from_secs(30),
            header_timeout: Duration::from_secs(30),
            io_timeout: Duration::from_secs(120),
            auth_failure_burst: 20,
            auth_failures_per_second: 1.0,
        }
    }
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
            client_ca: None,
            backup_target: None,
            limits: HttpLimits::default(),
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
