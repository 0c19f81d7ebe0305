//! The server's certificate: read from PEM files, or self-signed and generated on first start in a directory
//! outside the data directory (key 0600, directory 0700), then reused while it covers the listen host.

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rcgen::{CertificateParams, DnType, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::error::ServeError;
use crate::options::{TlsSource, cert_path, key_path, names_path};

/// A certificate chain and its key, ready for rustls.
pub struct ServerCert {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
    /// SHA-256 of the leaf certificate (DER), as colon-separated upper-case hex like `openssl x509
    /// -fingerprint -sha256` prints it.
    pub fingerprint: String,
    /// The certificate file.
    pub cert_path: PathBuf,
    /// Whether the certificate is self-signed by this server (generated now or on an earlier start).
    pub self_signed: bool,
    /// Whether it was generated on this start.
    pub generated_now: bool,
}

impl std::fmt::Debug for ServerCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerCert")
            .field("fingerprint", &self.fingerprint)
            .field("cert_path", &self.cert_path)
            .field("self_signed", &self.self_signed)
            .finish_non_exhaustive()
    }
}

/// Loads the certificate `source` names, generating a self-signed one for `listen_host` when needed.
pub(crate) fn load(source: &TlsSource, listen_host: &str, data_dir: &Path) -> Result<ServerCert, ServeError> {
    match source {
        TlsSource::Files { cert, key } => read(cert, key, false, false),
        TlsSource::SelfSigned { dir } => {
            refuse_inside(dir, data_dir)?;
            let names = names_for(listen_host);
            let generated_now = !covers(dir, &names);
            if generated_now {
                generate(dir, &names)?;
            }
            read(&cert_path(dir), &key_path(dir), true, generated_now)
        }
    }
}

fn read(cert: &Path, key: &Path, self_signed: bool, generated_now: bool) -> Result<ServerCert, ServeError> {
    let mode = fs::metadata(key)
        .map_err(|source| ServeError::CertFile { action: "reading", path: key.to_owned(), source })?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(ServeError::KeyPermissions { path: key.to_owned(), mode: mode & 0o777 });
    }
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(pem_error(cert, "certificate chain"))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem_error(cert, "certificate chain"))?;
    let Some(leaf) = chain.first() else {
        return Err(ServeError::CertPem {
            path: cert.to_owned(),
            expected: "certificate chain",
            source: rustls::pki_types::pem::Error::NoItemsFound,
        });
    };
    let fingerprint = fingerprint(leaf);
    let key = PrivateKeyDer::from_pem_file(key).map_err(pem_error(key, "private key"))?;
    Ok(ServerCert { chain, key, fingerprint, cert_path: cert.to_owned(), self_signed, generated_now })
}

fn pem_error<'a>(
    path: &'a Path,
    expected: &'static str,
) -> impl FnOnce(rustls::pki_types::pem::Error) -> ServeError + 'a {
    move |source| ServeError::CertPem { path: path.to_owned(), expected, source }
}

fn file_error<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ServeError + 'a {
    move |source| ServeError::CertFile { action, path: path.to_owned(), source }
}

/// SHA-256 of a DER certificate, colon-separated upper-case hex.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    Sha256::digest(der).iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

/// The names a generated certificate lists: `localhost`, both loopback addresses, and the listen host
/// unless it is a wildcard address (which no client connects to).
fn names_for(listen_host: &str) -> Vec<String> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    let wildcard = listen_host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    if !wildcard && !listen_host.is_empty() && !names.iter().any(|n| n == listen_host) {
        names.push(listen_host.to_owned());
    }
    names
}

/// Whether `dir` holds a generated certificate whose names include all of `names`.
fn covers(dir: &Path, names: &[String]) -> bool {
    let Ok(listed) = fs::read_to_string(names_path(dir)) else { return false };
    cert_path(dir).exists() && key_path(dir).exists() && names.iter().all(|n| listed.lines().any(|l| l == n))
}

fn generate(dir: &Path, names: &[String]) -> Result<(), ServeError> {
    DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|source| ServeError::CertFile {
        action: "creating directory",
        path: dir.to_owned(),
        source,
    })?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(DnType::CommonName, "atrest serve (self-signed)");
    let cert = params.self_signed(&key)?;
    // The key first and the list of names last: a start interrupted in between regenerates everything.
    write_new(&key_path(dir), key.serialize_pem().as_bytes(), 0o600)?;
    write_new(&cert_path(dir), cert.pem().as_bytes(), 0o644)?;
    write_new(&names_path(dir), (names.join("\n") + "\n").as_bytes(), 0o644)
}

/// Writes `bytes` to `path` through a temporary file in the same directory, created with `mode`, synced
/// and renamed into place.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), ServeError> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut file =
        OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp).map_err(file_error("creating", &tmp))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(file_error("writing", &tmp))?;
    fs::rename(&tmp, path).map_err(file_error("renaming into place", path))
}

/// Refuses a certificate directory inside the data directory (symbolic links resolved on both sides).
fn refuse_inside(dir: &Path, data_dir: &Path) -> Result<(), ServeError> {
    let (resolved_dir, resolved_data) = (resolve(dir), resolve(data_dir));
    if resolved_dir.starts_with(&resolved_data) {
        return Err(ServeError::CertDirInsideData { dir: dir.to_owned(), data_dir: data_dir.to_owned() });
    }
    Ok(())
}

/// `path` made absolute with its longest existing prefix canonicalized, for paths that may not exist yet.
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(canonical) = existing.canonicalize() {
            return rest.iter().rev().fold(canonical, |p, c| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return absolute,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cover_loopback_and_the_listen_host_but_not_a_wildcard() {
        assert_eq!(names_for("127.0.0.1"), ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(names_for("0.0.0.0"), ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(names_for("::"), ["localhost", "127.0.0.1", "::1"]);
        assert_eq!(names_for("db.example.net"), ["localhost", "127.0.0.1", "::1", "db.example.net"]);
    }

    #[test]
    fn fingerprint_is_colon_separated_upper_hex_sha256() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(
            fingerprint(b"abc"),
            "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
    }

    #[test]
    fn a_certificate_directory_inside_the_data_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        fs::create_dir(&data).unwrap();
        let err = refuse_inside(&data.join("tls/not-yet"), &data).unwrap_err();
        assert!(matches!(err, ServeError::CertDirInsideData { .. }), "{err}");
        // Through a symbolic link to the data directory, too.
        std::os::unix::fs::symlink(&data, tmp.path().join("link")).unwrap();
        assert!(refuse_inside(&tmp.path().join("link/tls"), &data).is_err());
        assert!(refuse_inside(&tmp.path().join("tls"), &data).is_ok());
    }
}
