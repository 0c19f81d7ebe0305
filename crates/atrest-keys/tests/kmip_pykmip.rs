//! The KMIP provider against a real KMIP server: PyKMIP's `pykmip-server` (PyPI package `pykmip`, installed by
//! scripts/test.d/07-pykmip.sh), started on 127.0.0.1 on a free port with a CA, server and client certificate
//! this test generates, and stopped (killed) when the test ends, pass or fail.
//!
//! The server is found at `$ATREST_PYKMIP_SERVER`, else in the virtual environment the script makes
//! (`$HOME/.cache/atrest/pykmip/bin/pykmip-server`), else on `PATH`; without it the test fails saying what to
//! install. The checks share one server (it takes a few seconds to start): create, wrap and unwrap through the
//! server's Encrypt/Decrypt, a keyring rotated to a new server key, revoked and destroyed keys refused, the
//! Get fallback, an unreachable server and a restart.

mod common;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use atrest_keys::{
    DataKey, KeyError, KeyProvider, Keyring, KmipConfig, KmipProvider, KmipWrapMethod, KmipWrapping, ManualClock, Scope,
};
use common::{T0, contains, mid};
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};

fn pykmip_server() -> PathBuf {
    if let Some(p) = std::env::var_os("ATREST_PYKMIP_SERVER").filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(home) = std::env::var_os("HOME") {
        let venv = Path::new(&home).join(".cache/atrest/pykmip/bin/pykmip-server");
        if venv.exists() {
            return venv;
        }
    }
    if let Some(found) = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("pykmip-server")).find(|p| p.exists()))
    {
        return found;
    }
    panic!(
        "pykmip-server not found: install PyKMIP (scripts/test.d/07-pykmip.sh makes a virtual environment in \
         ~/.cache/atrest/pykmip with `pip install pykmip`), or set ATREST_PYKMIP_SERVER to the server script"
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate (PyKMIP requires the client-auth
/// extended key usage and a common name, its client identity), written as PEM files into `dir`.
fn certificates(dir: &Path, ca_name: &str) -> (PathBuf, PathBuf, PathBuf, PathBuf, PathBuf) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, ca_name);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::from_params(&ca, &ca_key);
    let leaf = |sans: Vec<String>, cn: &str, eku| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(sans).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![eku];
        (p.signed_by(&key, &issuer).unwrap().pem(), key.serialize_pem())
    };
    let (server_pem, server_key) = leaf(vec!["127.0.0.1".into()], "127.0.0.1", ExtendedKeyUsagePurpose::ServerAuth);
    let (client_pem, client_key) = leaf(vec![], "atrest-test", ExtendedKeyUsagePurpose::ClientAuth);
    let write = |name: &str, text: &str| {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    (
        write(&format!("{ca_name}.pem"), &ca_cert.pem()),
        write(&format!("{ca_name}-server.pem"), &server_pem),
        write(&format!("{ca_name}-server.key"), &server_key),
        write(&format!("{ca_name}-client.pem"), &client_pem),
        write(&format!("{ca_name}-client.key"), &client_key),
    )
}

/// A running `pykmip-server` in its own process group (it forks a policy monitor), whose whole group is killed
/// on drop.
struct Server {
    child: Child,
    port: u16,
    conf: PathBuf,
    log: PathBuf,
}

impl Server {
    fn start(conf: &Path, log: &Path, port: u16) -> Server {
        let child = Command::new(pykmip_server())
            .args(["-f", conf.to_str().unwrap(), "-l", log.to_str().unwrap()])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("pykmip-server starts");
        let mut s = Server { child, port, conf: conf.to_owned(), log: log.to_owned() };
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = s.child.try_wait().unwrap() {
                panic!("pykmip-server exited ({status}): {}", std::fs::read_to_string(log).unwrap_or_default());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "pykmip-server did not listen on port {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        s
    }

    fn stop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        *self = Server::start(&self.conf.clone(), &self.log.clone(), self.port);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn kmip_provider_against_pykmip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ca, server_pem, server_key, client_pem, client_key) = certificates(d, "ca");
    std::fs::create_dir(d.join("policies")).unwrap();
    let port = free_port();
    let conf = d.join("server.conf");
    std::fs::write(
        &conf,
        format!(
            "[server]\nhostname=127.0.0.1\nport={port}\ncertificate_path={}\nkey_path={}\nca_path={}\n\
             auth_suite=TLS1.2\npolicy_path={}\nenable_tls_client_auth=True\nlogging_level=INFO\n\
             database_path={}\n",
            server_pem.display(),
            server_key.display(),
            ca.display(),
            d.join("policies").display(),
            d.join("pykmip.sqlite").display()
        ),
    )
    .unwrap();
    let mut server = Server::start(&conf, &d.join("server.log"), port);
    let url = |extra: &str| {
        format!(
            "kmip://127.0.0.1:{port}?cert={}&key={}&ca={}&timeout=5{extra}",
            client_pem.display(),
            client_key.display(),
            ca.display()
        )
    };

    // Encrypt/Decrypt on the server: the master key never leaves it.
    let p = KmipProvider::from_url(&url("")).unwrap();
    assert_eq!(p.wrapping(), &KmipWrapping::ServerEncrypt);
    assert_eq!(p.describe(), format!("KMIP server 127.0.0.1:{port}"));
    assert_eq!(p.kind(), "kmip");
    assert!(p.master_key_ids().unwrap().is_empty());
    p.create_master_key(&mid("m1")).unwrap();
    assert!(matches!(p.create_master_key(&mid("m1")), Err(KeyError::MasterKeyExists { .. })));
    assert_eq!(p.master_key_ids().unwrap(), [mid("m1")]);
    let key = DataKey::generate().unwrap();
    let wrapped = p.wrap(&mid("m1"), &key, b"entry 1").unwrap();
    assert_eq!((wrapped[0], wrapped.len()), (0x01, 1 + 12 + 32 + 16));
    assert!(!contains(&wrapped, &key.expose_secret()[..8]));
    assert_eq!(p.unwrap(&mid("m1"), &wrapped, b"entry 1").unwrap().expose_secret(), key.expose_secret());
    assert_ne!(p.wrap(&mid("m1"), &key, b"entry 1").unwrap(), wrapped, "a fresh IV each time");
    for (bad, aad) in
        [(flip(&wrapped, 20), &b"entry 1"[..]), (flip(&wrapped, 60), b"entry 1"), (wrapped.clone(), b"entry 2")]
    {
        let err = p.unwrap(&mid("m1"), &bad, aad).unwrap_err();
        assert!(matches!(err, KeyError::UnwrapFailed { .. }), "{err}");
    }
    let err = p.wrap(&mid("absent"), &key, b"").unwrap_err();
    assert!(matches!(&err, KeyError::MasterKeyNotFound { master_key, .. } if master_key == "absent"), "{err}");

    // A keyring on the server's key; master-key rotation creates a new server key and rewraps under it.
    let provider: Arc<dyn KeyProvider> = Arc::new(p);
    let clock = Arc::new(ManualClock::new(T0));
    let data = d.join("data");
    std::fs::create_dir(&data).unwrap();
    let keyring = Keyring::create(&data, provider.clone(), &mid("m1"), clock.clone()).unwrap();
    let (id, dek) = keyring.active_key(Scope::Collection(3)).unwrap();
    provider.create_master_key(&mid("m2")).unwrap();
    let rotation = keyring.rotate_master_key(&mid("m2")).unwrap();
    assert_eq!(rotation.retired, [mid("m1")]);
    assert_eq!(rotation.rewrapped, 1, "the one data key: {rotation:?}");
    drop(keyring);
    let keyring = Keyring::open(&data, provider.clone(), clock.clone()).unwrap();
    assert_eq!(keyring.key(id).unwrap().expose_secret(), dek.expose_secret());
    assert_eq!(keyring.entries()[0].provider, "kmip");
    drop(keyring);
    // The retired key was revoked on the server: it is refused, saying so.
    let err = provider.unwrap(&mid("m1"), &wrapped, b"entry 1").unwrap_err();
    assert!(matches!(&err, KeyError::MasterKeyNotActive { state, .. } if state.contains("deactivated")), "{err}");
    assert!(err.to_string().contains("not active"), "{err}");

    // Destroy on retire (configured): PyKMIP deletes destroyed objects, so the key is then not found.
    let destroying = KmipProvider::from_url(&url("&prefix=d-&destroy-retired=true")).unwrap();
    destroying.create_master_key(&mid("k")).unwrap();
    let w = destroying.wrap(&mid("k"), &key, b"").unwrap();
    destroying.retire_master_key(&mid("k")).unwrap();
    assert!(matches!(destroying.unwrap(&mid("k"), &w, b""), Err(KeyError::MasterKeyNotFound { .. })));
    assert!(!destroying.master_key_ids().unwrap().contains(&mid("k")));

    // The Get fallback (forced here; chosen by itself where a server's Query lists no Encrypt), saying so.
    let fetching = KmipProvider::from_url(&url("&prefix=g-&wrap=get")).unwrap();
    assert!(matches!(fetching.wrapping(), KmipWrapping::FetchedKey(_)));
    assert!(fetching.describe().contains("fetched with Get"), "{}", fetching.describe());
    fetching.create_master_key(&mid("m1")).unwrap();
    let w = fetching.wrap(&mid("m1"), &key, b"a").unwrap();
    assert_eq!(w[0], 0x02);
    assert_eq!(fetching.unwrap(&mid("m1"), &w, b"a").unwrap().expose_secret(), key.expose_secret());
    assert!(matches!(fetching.unwrap(&mid("m1"), &w, b"b"), Err(KeyError::UnwrapFailed { .. })));
    let server_side = KmipProvider::from_url(&url("&prefix=g-")).unwrap();
    assert_eq!(server_side.unwrap(&mid("m1"), &w, b"a").unwrap().expose_secret(), key.expose_secret());
    assert_eq!(KmipConfig::parse(&url("&wrap=get")).unwrap().wrap, KmipWrapMethod::Get);

    // The server goes away: a typed, transient error naming it; after a restart the provider reconnects.
    server.stop();
    let err = provider.unwrap(&mid("m2"), &wrapped, b"").unwrap_err();
    assert!(
        matches!(&err, KeyError::ProviderUnreachable { provider, .. } if provider.contains(&port.to_string())),
        "{err}"
    );
    assert!(err.is_transient());
    let err = KmipProvider::from_url(&url("")).unwrap_err();
    assert!(matches!(err, KeyError::ProviderUnreachable { .. }), "{err}");
    server.restart();
    let keyring = Keyring::open(&data, provider.clone(), clock).unwrap();
    assert_eq!(keyring.key(id).unwrap().expose_secret(), dek.expose_secret());

    // A client certificate from another CA is turned away in the handshake; missing files are a config error.
    let (_, _, _, other_pem, other_key) = certificates(d, "other");
    let mut cfg = KmipConfig::parse(&url("")).unwrap();
    cfg.cert = other_pem;
    cfg.key = other_key;
    let err = KmipProvider::connect(cfg.clone()).unwrap_err();
    assert!(matches!(err, KeyError::ProviderUnreachable { .. }), "{err}");
    cfg.cert = d.join("missing.pem");
    let err = KmipProvider::connect(cfg).unwrap_err();
    assert!(matches!(&err, KeyError::ProviderConfig { reason, .. } if reason.contains("missing.pem")), "{err}");
}

fn flip(b: &[u8], i: usize) -> Vec<u8> {
    let mut v = b.to_vec();
    v[i] ^= 1;
    v
}
