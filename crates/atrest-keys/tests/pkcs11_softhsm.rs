//! The PKCS#11 provider against SoftHSM2, with a token this test creates under its own `SOFTHSM2_CONF`.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` when the module is initialized, and the environment of a running test
//! process cannot be changed safely while other tests run. So `pkcs11_softhsm` sets up a private token
//! directory, then runs the ignored test `pkcs11_softhsm_child` in a child process of this test binary with the
//! variable set, and fails if the child fails. Without SoftHSM2 the test fails with a message saying what to
//! install (scripts/test.d/05-packages.sh installs it).

mod common;
#[path = "support/services.rs"]
mod services;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use atrest_keys::{
    DataKey, KeyError, KeyProvider, Keyring, ManualClock, Pkcs11Config, Pkcs11Provider, Scope, StateRecord,
};
use common::{T0, contains, mid, rewrite_keyring};
use services::SoftHsm;
use zeroize::Zeroizing;

const TOKEN: &str = "atrest-test";
const PIN: &str = "20461";
const SO_PIN: &str = "93177";

fn config(module: &Path, pin: &str) -> Pkcs11Config {
    Pkcs11Config {
        module: module.to_owned(),
        token_label: TOKEN.to_owned(),
        pin: Zeroizing::new(pin.to_owned()),
        pin_source: None,
        destroy_retired_master_keys: true,
    }
}

#[test]
fn pkcs11_softhsm() {
    let dir = tempfile::tempdir().unwrap();
    let hsm = SoftHsm::new(dir.path(), TOKEN, PIN, SO_PIN);
    let (conf, module) = (hsm.conf, hsm.module);
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "pkcs11_softhsm_child", "--ignored", "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_CONF", &conf)
        .env("ATREST_TEST_SOFTHSM_MODULE", &module)
        .env("ATREST_TEST_DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&child.stdout), String::from_utf8_lossy(&child.stderr));
    assert!(child.status.success(), "the SoftHSM2 checks failed:\n{out}");
    assert!(out.contains("1 passed"), "the SoftHSM2 checks did not run:\n{out}");
}

#[test]
#[ignore = "run by pkcs11_softhsm in a child process with SOFTHSM2_CONF set"]
fn pkcs11_softhsm_child() {
    let module = PathBuf::from(std::env::var_os("ATREST_TEST_SOFTHSM_MODULE").expect("started by pkcs11_softhsm"));
    let data = PathBuf::from(std::env::var_os("ATREST_TEST_DATA_DIR").unwrap());
    std::fs::create_dir_all(&data).unwrap();

    // Unreachable: no module at that path, or no token with that label.
    let mut bad = config(Path::new("/nonexistent/libpkcs11-missing.so"), PIN);
    let err = Pkcs11Provider::connect(bad.clone()).unwrap_err();
    assert!(matches!(&err, KeyError::ProviderUnreachable { reason, .. } if reason.contains("cannot load")), "{err}");
    assert!(err.is_transient());
    bad.module = module.clone();
    bad.token_label = "no-such-token".to_owned();
    let err = Pkcs11Provider::connect(bad).unwrap_err();
    assert!(matches!(err, KeyError::ProviderUnreachable { .. }), "{err}");

    // Wrong PIN (before any session is logged in).
    let err = Pkcs11Provider::connect(config(&module, "11111")).unwrap_err();
    assert!(matches!(err, KeyError::WrongPin { .. }), "{err}");
    assert!(!err.to_string().contains("11111"), "the PIN is never shown: {err}");

    let provider = Pkcs11Provider::connect(config(&module, PIN)).unwrap();
    let shown = format!("{provider:?}");
    assert!(shown.contains("<redacted>") && !shown.contains(PIN), "{shown}");

    // Master key created by label on request, inside the token, sensitive and not extractable.
    assert!(provider.master_key_ids().unwrap().is_empty());
    assert!(matches!(provider.master_key_protection(&mid("m1")), Err(KeyError::MasterKeyNotFound { .. })));
    provider.create_master_key(&mid("m1")).unwrap();
    assert_eq!(provider.master_key_protection(&mid("m1")).unwrap(), (true, false), "(sensitive, extractable)");
    assert!(matches!(provider.create_master_key(&mid("m1")), Err(KeyError::MasterKeyExists { .. })));
    assert_eq!(provider.master_key_ids().unwrap(), vec![mid("m1")]);

    // Wrap and unwrap: RFC 3394 output is the key length plus 8 bytes.
    let key = DataKey::generate().unwrap();
    let wrapped = provider.wrap(&mid("m1"), &key, b"").unwrap();
    assert_eq!(wrapped.len(), 40);
    assert!(!contains(&wrapped, &key.expose_secret()[..8]));
    assert_eq!(provider.unwrap(&mid("m1"), &wrapped, b"").unwrap().expose_secret(), key.expose_secret());
    let mut flipped = wrapped.clone();
    flipped[20] ^= 1;
    let err = provider.unwrap(&mid("m1"), &flipped, b"").unwrap_err();
    assert!(matches!(err, KeyError::UnwrapFailed { .. }), "{err}");

    // Missing master key.
    let err = provider.wrap(&mid("absent"), &key, b"").unwrap_err();
    assert!(matches!(&err, KeyError::MasterKeyNotFound { master_key, .. } if master_key == "absent"), "{err}");
    assert!(matches!(provider.unwrap(&mid("absent"), &wrapped, b""), Err(KeyError::MasterKeyNotFound { .. })));

    // Wrong master key: what m1 wrapped does not unwrap under m2.
    provider.create_master_key(&mid("m2")).unwrap();
    let err = provider.unwrap(&mid("m2"), &wrapped, b"").unwrap_err();
    assert!(matches!(err, KeyError::UnwrapFailed { .. }), "{err}");

    // A keyring under the token: keys survive reopening, rotation re-wraps and destroys the old object.
    let provider: Arc<dyn KeyProvider> = Arc::new(provider);
    let clock = Arc::new(ManualClock::new(T0));
    let keyring = Keyring::create(&data, provider.clone(), &mid("m1"), clock.clone()).unwrap();

    // State records (rollback protection) are private data objects on the token, updated in place.
    let sid = [0x42; 16];
    assert!(keyring.read_state_record(&sid).unwrap().is_none());
    let mut record = StateRecord {
        store_id: sid,
        generation: 3,
        durable_batch: 9,
        keys_through: 2,
        shredded: [1].into(),
        written: T0,
    };
    keyring.write_state_record(&record).unwrap();
    record.generation = 4;
    record.shredded.insert(2);
    keyring.write_state_record(&record).unwrap();
    assert_eq!(provider.read_records(&"42".repeat(16)).unwrap().len(), 1, "one object, updated");
    assert!(provider.read_records(&"43".repeat(16)).unwrap().is_empty());

    let (id, dek) = keyring.active_key(Scope::Collection(5)).unwrap();
    let (id2, dek2) = keyring.rotate_data_key(Scope::Collection(5)).unwrap();
    drop(keyring);
    let keyring = Keyring::open(&data, provider.clone(), clock.clone()).unwrap();
    assert_eq!(keyring.key(id).unwrap().expose_secret(), dek.expose_secret());
    assert_eq!(keyring.entries()[0].provider, "pkcs11");
    let rotation = keyring.rotate_master_key(&mid("m2")).unwrap();
    assert_eq!((rotation.rewrapped, rotation.retired.clone()), (2, vec![mid("m1")]));
    assert_eq!(provider.master_key_ids().unwrap(), vec![mid("m2")]);
    drop(keyring);
    let keyring = Keyring::open(&data, provider.clone(), clock.clone()).unwrap();
    assert_eq!(keyring.key(id2).unwrap().expose_secret(), dek2.expose_secret());
    // The token's record outlives the rotation and the reopen.
    assert_eq!(keyring.read_state_record(&sid).unwrap(), Some(record));
    drop(keyring);

    // RFC 3394 binds no metadata; the keyring's binding still catches an edited entry.
    let path = Keyring::path_in(&data);
    let good = std::fs::read(&path).unwrap();
    rewrite_keyring(&path, |b| b["entries"][0]["scope"] = serde_json::json!({"collection": 6}));
    let err = Keyring::open(&data, provider.clone(), clock.clone()).unwrap_err();
    assert!(matches!(err, KeyError::KeyringTampered { key_id: 1, .. }), "{err}");
    std::fs::write(&path, &good).unwrap();

    // The keyring's master key replaced by another of the same label: a wrong master key.
    provider.retire_master_key(&mid("m2")).unwrap();
    let err = Keyring::open(&data, provider.clone(), clock.clone()).unwrap_err();
    assert!(matches!(&err, KeyError::MasterKeyNotFound { master_key, .. } if master_key == "m2"), "{err}");
    provider.create_master_key(&mid("m2")).unwrap();
    let err = Keyring::open(&data, provider.clone(), clock).unwrap_err();
    assert!(matches!(&err, KeyError::WrongMasterKey { master_key, .. } if master_key == "m2"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), good, "failed opens leave the keyring as it was");
}
