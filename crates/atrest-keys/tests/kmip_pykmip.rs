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
#[path = "support/services.rs"]
mod services;

use std::sync::Arc;

use atrest_keys::{
    DataKey, KeyError, KeyProvider, Keyring, KmipConfig, KmipProvider, KmipWrapMethod, KmipWrapping, ManualClock,
    Scope, StateRecord,
};
use common::{T0, contains, mid};
use services::{PyKmip, certificates};

#[test]
fn kmip_provider_against_pykmip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kmip = PyKmip::start(d);
    let (ca, client_pem, client_key, port) =
        (kmip.certs.ca.clone(), kmip.certs.client_pem.clone(), kmip.certs.client_key.clone(), kmip.server.port);
    let mut server = kmip.server;
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

    // State records (rollback protection): Secret Data objects on the server, replaced by each write, never
    // listed as master keys.
    let sid = [0x17; 16];
    assert!(keyring.read_state_record(&sid).unwrap().is_none());
    let mut record = StateRecord {
        store_id: sid,
        generation: 2,
        durable_batch: 5,
        keys_through: 1,
        shredded: [].into(),
        written: T0,
    };
    keyring.write_state_record(&record).unwrap();
    record.generation = 3;
    record.shredded.insert(1);
    keyring.write_state_record(&record).unwrap();
    assert_eq!(provider.read_records(&"17".repeat(16)).unwrap().len(), 1, "the older copy was destroyed");
    assert_eq!(keyring.read_state_record(&sid).unwrap(), Some(record.clone()));
    assert_eq!(provider.master_key_ids().unwrap(), [mid("m1")]);

    provider.create_master_key(&mid("m2")).unwrap();
    let rotation = keyring.rotate_master_key(&mid("m2")).unwrap();
    assert_eq!(rotation.retired, [mid("m1")]);
    assert_eq!(rotation.rewrapped, 1, "the one data key: {rotation:?}");
    drop(keyring);
    let keyring = Keyring::open(&data, provider.clone(), clock.clone()).unwrap();
    assert_eq!(keyring.key(id).unwrap().expose_secret(), dek.expose_secret());
    assert_eq!(keyring.entries()[0].provider, "kmip");
    assert_eq!(keyring.read_state_record(&sid).unwrap(), Some(record));
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
    let other = certificates(d, "other");
    let mut cfg = KmipConfig::parse(&url("")).unwrap();
    cfg.cert = other.client_pem;
    cfg.key = other.client_key;
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
