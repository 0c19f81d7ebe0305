//! Certificates for the tests: a CA, and a server certificate for `localhost` and 127.0.0.1 issued by it,
//! with an ECDSA P-256 or RSA 2048 key (the TLS 1.2 suites are tied to the key type).

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_RSA_SHA256};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{CipherSuite, RootCertStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Ecdsa,
    Rsa,
}

impl KeyKind {
    /// The key type a server needs for `suite`: RSA for the TLS 1.2 `ECDHE_RSA` suites, else ECDSA.
    pub fn for_suite(suite: CipherSuite) -> KeyKind {
        if format!("{suite:?}").contains("_RSA_") { KeyKind::Rsa } else { KeyKind::Ecdsa }
    }
}

/// A server's certificate chain and key, and the CA that clients trust.
pub struct Identity {
    pub kind: KeyKind,
    pub ca: CertificateDer<'static>,
    pub ca_pem: String,
    pub cert: CertificateDer<'static>,
    pub cert_pem: String,
    key_pkcs8: Vec<u8>,
    pub key_pem: String,
}

impl Identity {
    pub fn new(kind: KeyKind) -> Identity {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "atrest-rustls test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);

        let key = match kind {
            KeyKind::Ecdsa => KeyPair::generate().unwrap(),
            KeyKind::Rsa => {
                KeyPair::from_pkcs8_pem_and_sign_algo(include_str!("../data/rsa2048-test-key.pem"), &PKCS_RSA_SHA256)
                    .unwrap()
            }
        };
        let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let cert = params.signed_by(&key, &issuer).unwrap();
        Identity {
            kind,
            ca: ca_cert.der().clone(),
            ca_pem: ca_cert.pem(),
            cert: cert.der().clone(),
            cert_pem: cert.pem(),
            key_pkcs8: key.serialize_der(),
            key_pem: key.serialize_pem(),
        }
    }

    pub fn chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.cert.clone()]
    }

    pub fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_pkcs8.clone()))
    }

    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.ca.clone()).unwrap();
        roots
    }

    /// Writes `ca.pem`, `cert.pem` and `key.pem` into `dir` for tools that read files.
    pub fn write_pem(&self, dir: &Path) -> PemFiles {
        let files = PemFiles { ca: dir.join("ca.pem"), cert: dir.join("cert.pem"), key: dir.join("key.pem") };
        std::fs::write(&files.ca, &self.ca_pem).unwrap();
        std::fs::write(&files.cert, &self.cert_pem).unwrap();
        std::fs::write(&files.key, &self.key_pem).unwrap();
        files
    }
}

pub struct PemFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}
