//! The keyring with the in-memory provider: persistence, rotation with an injected clock, destruction,
//! tamper and torn-file detection, leases, and failures that must leave the keyring unchanged.

mod common;

use std::time::Duration;

use std::sync::Arc;

use atrest_keys::{
    InsecureMemoryProvider, KeyError, KeyProvider, KeyState, Keyring, KeyringOptions, MasterKeyMaterial, Scope,
    SimulatedFault,
};
use common::{Fixture, T0, contains, mid, rewrite_keyring};

#[test]
fn keys_persist_and_ids_are_unique() {
    let f = Fixture::new();
    let (store_id, store_key) = f.keyring.active_key(Scope::Store).unwrap();
    let (c7, c7_key) = f.keyring.active_key(Scope::Collection(7)).unwrap();
    assert_eq!((store_id, c7), (1, 2));
    assert_ne!(store_key.expose_secret(), c7_key.expose_secret());
    // Asking again returns the same active key.
    let (again, again_key) = f.keyring.active_key(Scope::Collection(7)).unwrap();
    assert_eq!(again, c7);
    assert_eq!(again_key.expose_secret(), c7_key.expose_secret());

    let reopened = f.reopen().unwrap();
    assert_eq!(reopened.key(store_id).unwrap().expose_secret(), store_key.expose_secret());
    assert_eq!(reopened.key(c7).unwrap().expose_secret(), c7_key.expose_secret());
    let entries = reopened.entries();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].scope, Scope::Collection(7));
    assert_eq!(entries[1].master_key, mid("m1"));
    assert_eq!(entries[1].provider, "insecure-memory");
    assert_eq!(entries[1].state, KeyState::Active);
    assert_eq!(entries[1].created, T0);
    assert!(matches!(reopened.key(99), Err(KeyError::UnknownKey { key_id: 99 })));
}

#[test]
fn create_refuses_an_existing_keyring_and_open_a_missing_one() {
    let f = Fixture::new();
    let err = Keyring::create(f.dir.path(), f.provider.clone(), &mid("m1"), f.clock.clone()).unwrap_err();
    assert!(matches!(err, KeyError::KeyringExists { .. }), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = Keyring::open(empty.path(), f.provider.clone(), f.clock.clone()).unwrap_err();
    assert!(matches!(err, KeyError::KeyringMissing { .. }), "{err}");
}

#[test]
fn data_key_rotation_keeps_old_keys_for_reading() {
    let f = Fixture::new();
    let (old, old_key) = f.keyring.active_key(Scope::Collection(7)).unwrap();
    f.clock.advance(Duration::from_secs(3600));
    let (new, new_key) = f.keyring.rotate_data_key(Scope::Collection(7)).unwrap();
    assert!(new > old);
    assert_ne!(new_key.expose_secret(), old_key.expose_secret());
    assert_eq!(f.keyring.active_key(Scope::Collection(7)).unwrap().0, new);

    let reopened = f.reopen().unwrap();
    let entries = reopened.entries();
    let old_entry = entries.iter().find(|e| e.id == old).unwrap();
    let new_entry = entries.iter().find(|e| e.id == new).unwrap();
    assert_eq!(old_entry.state, KeyState::DecryptOnly);
    assert_eq!((old_entry.created, old_entry.changed), (T0, T0 + 3600));
    assert_eq!((new_entry.state, new_entry.created), (KeyState::Active, T0 + 3600));
    assert_eq!(reopened.key(old).unwrap().expose_secret(), old_key.expose_secret());
    assert_eq!(reopened.active_key(Scope::Collection(7)).unwrap().0, new);
    // Rotating a scope that has no key yet simply makes its first one.
    let (first, _) = reopened.rotate_data_key(Scope::Collection(9)).unwrap();
    assert_eq!(first, new + 1);
}

#[test]
fn master_key_rotation_rewraps_everything_and_retires_the_old_key() {
    let f = Fixture::new();
    let (a, a_key) = f.keyring.active_key(Scope::Store).unwrap();
    let (b, b_key) = f.keyring.active_key(Scope::Collection(1)).unwrap();
    let before = f.file_bytes();
    f.provider.create_master_key(&mid("m2")).unwrap();
    f.clock.advance(Duration::from_secs(60));
    let rotation = f.keyring.rotate_master_key(&mid("m2")).unwrap();
    assert_eq!(rotation.rewrapped, 2);
    assert_eq!(rotation.retired, vec![mid("m1")]);
    assert!(rotation.not_retired.is_empty());
    assert_eq!(f.keyring.master_key(), mid("m2"));
    // The old master key is gone from the provider, and no old wrapped bytes remain in the file.
    assert_eq!(f.provider.master_key_ids().unwrap(), vec![mid("m2")]);
    let after = f.file_bytes();
    let old_body: serde_json::Value = serde_json::from_slice(before.split(|&b| b == b'\n').next().unwrap()).unwrap();
    for e in old_body["entries"].as_array().unwrap() {
        assert!(!contains(&after, e["wrapped"].as_str().unwrap().as_bytes()));
    }
    let reopened = f.reopen().unwrap();
    assert!(reopened.entries().iter().all(|e| e.master_key == mid("m2") && e.changed == T0 + 60));
    assert_eq!(reopened.key(a).unwrap().expose_secret(), a_key.expose_secret());
    assert_eq!(reopened.key(b).unwrap().expose_secret(), b_key.expose_secret());
}

#[test]
fn destroy_is_refused_while_referenced_and_leaves_no_wrapped_copy() {
    let f = Fixture::new();
    let (id, _) = f.keyring.active_key(Scope::Collection(3)).unwrap();
    let (_, _) = f.keyring.rotate_data_key(Scope::Collection(3)).unwrap();
    let body: serde_json::Value =
        serde_json::from_slice(f.file_bytes().split(|&b| b == b'\n').next().unwrap()).unwrap();
    let wrapped = body["entries"][0]["wrapped"].as_str().unwrap().to_owned();
    let raw_wrapped = hex::decode(&wrapped).unwrap();
    let before = f.file_bytes();

    let err = f.keyring.destroy(id, &3u64).unwrap_err();
    assert!(matches!(err, KeyError::KeyStillReferenced { key_id, count: 3 } if key_id == id), "{err}");
    assert!(err.to_string().contains(&format!("data key {id}")));
    assert_eq!(f.file_bytes(), before, "a refused destroy must not touch the keyring");
    assert!(f.keyring.key(id).is_ok());

    f.keyring.destroy(id, &0u64).unwrap();
    let after = f.file_bytes();
    assert!(!contains(&after, wrapped.as_bytes()));
    assert!(!contains(&after, &raw_wrapped));
    assert!(matches!(f.keyring.key(id), Err(KeyError::KeyDestroyed { key_id }) if key_id == id));
    f.keyring.destroy(id, &5u64).unwrap(); // already destroyed: nothing to do

    let reopened = f.reopen().unwrap();
    let entry = reopened.entries().into_iter().find(|e| e.id == id).unwrap();
    assert_eq!(entry.state, KeyState::Destroyed);
    assert!(matches!(reopened.key(id), Err(KeyError::KeyDestroyed { .. })));
    // The id is never handed out again.
    let (next, _) = reopened.active_key(Scope::Collection(4)).unwrap();
    assert!(next > id + 1);
}

/// `value` (a hex string) with the digit at `index` changed.
fn flip_hex_digit(value: &serde_json::Value, index: usize) -> String {
    let mut digits: Vec<u8> = value.as_str().unwrap().bytes().collect();
    digits[index] = if digits[index] == b'0' { b'1' } else { b'0' };
    String::from_utf8(digits).unwrap()
}

/// A keyring with an active store key (1), a decrypt-only (2) and an active (3) key for collection 7.
fn tamper_fixture() -> Fixture {
    let f = Fixture::new();
    f.keyring.active_key(Scope::Store).unwrap();
    f.keyring.active_key(Scope::Collection(7)).unwrap();
    f.clock.advance(Duration::from_secs(10));
    f.keyring.rotate_data_key(Scope::Collection(7)).unwrap();
    f
}

#[test]
fn every_tampered_field_is_detected() {
    type Edit = fn(&mut serde_json::Value);
    let cases: &[(&str, Edit)] = &[
        ("id", |b| {
            b["entries"][0]["id"] = 2.into();
            b["entries"][1]["id"] = 1.into();
        }),
        ("scope", |b| b["entries"][1]["scope"] = serde_json::json!({"collection": 8})),
        ("master_key", |b| b["entries"][0]["master_key"] = "m2".into()),
        ("provider", |b| b["entries"][0]["provider"] = "local-file".into()),
        ("state", |b| b["entries"][0]["state"] = "decrypt_only".into()),
        ("created", |b| b["entries"][1]["created"] = (T0 + 1).into()),
        ("changed", |b| b["entries"][1]["changed"] = (T0 + 11).into()),
        ("wrapped", |b| b["entries"][2]["wrapped"] = flip_hex_digit(&b["entries"][2]["wrapped"], 0).into()),
        ("binding", |b| b["entries"][2]["binding"] = flip_hex_digit(&b["entries"][2]["binding"], 55).into()),
        ("check value", |b| b["checks"][0]["value"] = flip_hex_digit(&b["checks"][0]["value"], 9).into()),
    ];
    for (field, edit) in cases {
        let f = tamper_fixture();
        f.provider.create_master_key(&mid("m2")).unwrap();
        rewrite_keyring(f.keyring.path(), edit);
        let err = f.reopen().expect_err(field);
        assert!(matches!(err, KeyError::KeyringTampered { .. }), "{field}: {err}");
    }
}

#[test]
fn flipped_bytes_and_torn_files_are_reported() {
    let f = tamper_fixture();
    let good = f.file_bytes();
    let path = f.keyring.path().to_owned();
    for i in (0..good.len()).step_by(7) {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let err = f.reopen().expect_err("flipped byte");
        assert!(matches!(err, KeyError::KeyringCorrupt { .. }), "byte {i}: {err}");
    }
    for len in [0, 1, good.len() / 2, good.len() - 66, good.len() - 1] {
        std::fs::write(&path, &good[..len]).unwrap();
        let err = f.reopen().expect_err("torn file");
        assert!(matches!(err, KeyError::KeyringCorrupt { .. }), "length {len}: {err}");
        assert!(err.to_string().contains(&path.display().to_string()));
    }
    std::fs::write(&path, &good).unwrap();
    assert!(f.reopen().is_ok());
}

/// Runs `op`, which must fail with an error `check` accepts, and checks that the keyring file and the open
/// keyring's entries did not change.
fn assert_unchanged<T: std::fmt::Debug>(
    f: &Fixture,
    op: impl FnOnce() -> atrest_keys::Result<T>,
    check: impl FnOnce(&KeyError) -> bool,
) {
    let bytes = f.file_bytes();
    let entries = f.keyring.entries();
    let err = op().expect_err("the operation must fail");
    assert!(check(&err), "unexpected error: {err}");
    assert_eq!(f.file_bytes(), bytes, "the keyring file changed after: {err}");
    assert_eq!(f.keyring.entries(), entries);
}

#[test]
fn an_unreachable_provider_changes_nothing() {
    let f = tamper_fixture();
    f.provider.simulate_fault(Some(SimulatedFault::Unreachable));
    assert_unchanged(
        &f,
        || f.keyring.rotate_data_key(Scope::Store),
        |e| matches!(e, KeyError::ProviderUnreachable { .. }),
    );
    assert_unchanged(
        &f,
        || f.keyring.active_key(Scope::Collection(40)),
        |e| matches!(e, KeyError::ProviderUnreachable { .. }),
    );
    assert_unchanged(
        &f,
        || f.keyring.rotate_master_key(&mid("m1")),
        |e| matches!(e, KeyError::ProviderUnreachable { .. }),
    );
    let err = f.reopen().unwrap_err();
    assert!(err.is_transient());
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[test]
fn a_refused_pin_changes_nothing() {
    let f = tamper_fixture();
    f.provider.simulate_fault(Some(SimulatedFault::WrongPin));
    assert_unchanged(&f, || f.keyring.active_key(Scope::Collection(40)), |e| matches!(e, KeyError::WrongPin { .. }));
    assert_unchanged(
        &f,
        || f.keyring.rotate_data_key(Scope::Collection(7)),
        |e| matches!(e, KeyError::WrongPin { .. }),
    );
    let err = f.reopen().unwrap_err();
    assert!(matches!(err, KeyError::WrongPin { .. }) && !err.is_transient(), "{err}");
}

#[test]
fn a_missing_master_key_changes_nothing() {
    let f = tamper_fixture();
    assert_unchanged(
        &f,
        || f.keyring.rotate_master_key(&mid("m9")),
        |e| matches!(e, KeyError::MasterKeyNotFound { master_key, .. } if master_key == "m9"),
    );
    f.provider.remove_master_key(&mid("m1"));
    assert_unchanged(
        &f,
        || f.keyring.active_key(Scope::Collection(40)),
        |e| matches!(e, KeyError::MasterKeyNotFound { .. }),
    );
    let err = f.reopen().unwrap_err();
    assert!(matches!(&err, KeyError::MasterKeyNotFound { master_key, .. } if master_key == "m1"), "{err}");
}

#[test]
fn a_wrong_master_key_changes_nothing() {
    let f = tamper_fixture();
    f.provider.replace_master_key(&mid("m1"), MasterKeyMaterial::generate().unwrap());
    let bytes = f.file_bytes();
    let err = f.reopen().unwrap_err();
    assert!(matches!(&err, KeyError::WrongMasterKey { master_key, .. } if master_key == "m1"), "{err}");
    assert!(err.to_string().contains("restore the original master key"));
    assert_eq!(f.file_bytes(), bytes);
    // The open keyring still holds leased keys; once the lease runs out the wrong key shows up, and a
    // rotation does not write anything.
    f.clock.advance(Duration::from_secs(24 * 3600));
    assert_unchanged(&f, || f.keyring.rotate_data_key(Scope::Store), |e| matches!(e, KeyError::WrongMasterKey { .. }));
    assert_unchanged(&f, || f.keyring.key(1), |e| matches!(e, KeyError::WrongMasterKey { .. }));
}

#[test]
fn a_failed_write_changes_nothing_and_hands_out_no_key() {
    let f = tamper_fixture();
    // A directory where the temporary file must go makes the atomic update fail before the rename.
    std::fs::create_dir(f.dir.path().join(".keyring.tmp")).unwrap();
    assert_unchanged(&f, || f.keyring.rotate_data_key(Scope::Store), |e| matches!(e, KeyError::KeyringIo { .. }));
    assert_unchanged(&f, || f.keyring.active_key(Scope::Collection(41)), |e| matches!(e, KeyError::KeyringIo { .. }));
    std::fs::remove_dir(f.dir.path().join(".keyring.tmp")).unwrap();
    let (id, _) = f.keyring.active_key(Scope::Collection(41)).unwrap();
    assert_eq!(id, 4, "the failed attempts used no id");
    assert!(f.reopen().is_ok());
}

/// Waits (up to ten seconds) until `cond` holds: for the keyring's background lease refresh.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(10), "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn cached_keys_serve_reads_for_a_bounded_lease() {
    let f = Fixture::new();
    let (id, key) = f.keyring.active_key(Scope::Store).unwrap();
    let reopened = f.reopen().unwrap(); // default lease: 15 minutes
    let calls = f.provider.unwrap_calls();
    assert_eq!(reopened.key(id).unwrap().expose_secret(), key.expose_secret());
    assert_eq!(f.provider.unwrap_calls(), calls, "a fresh key is served from memory");

    f.provider.simulate_fault(Some(SimulatedFault::Unreachable));
    f.clock.advance(Duration::from_secs(10 * 60));
    // Past half the lease the provider is asked again in the background; being unreachable, the cached key
    // still serves, and the caller did not wait for the provider.
    assert_eq!(reopened.key(id).unwrap().expose_secret(), key.expose_secret());
    eventually("the provider is asked again", || f.provider.unwrap_calls() > calls);
    assert_eq!(reopened.key(id).unwrap().expose_secret(), key.expose_secret());
    f.clock.advance(Duration::from_secs(5 * 60));
    let err = reopened.key(id).unwrap_err();
    match &err {
        KeyError::KeyServiceUnavailable { provider, key_id, lease_secs, reason } => {
            assert_eq!((*key_id, *lease_secs), (id, 900));
            assert!(provider.contains("in-memory provider") && reason.contains("simulated outage"), "{err}");
        }
        other => panic!("expected KeyServiceUnavailable, got {other}"),
    }
    assert!(err.is_transient() && err.to_string().contains("lease"), "{err}");
    // Within the retry interval the service is not asked again: the error comes at once.
    let calls = f.provider.unwrap_calls();
    assert!(matches!(reopened.key(id), Err(KeyError::KeyServiceUnavailable { .. })));
    assert!(matches!(reopened.cipher(id), Err(KeyError::KeyServiceUnavailable { .. })));
    assert_eq!(f.provider.unwrap_calls(), calls);

    // The service is back: after the retry interval the key is fetched again, without reopening.
    f.provider.simulate_fault(None);
    f.clock.advance(KeyringOptions::default().retry_after_failure());
    assert_eq!(reopened.key(id).unwrap().expose_secret(), key.expose_secret());
    assert_eq!(f.provider.unwrap_calls(), calls + 1);
}

#[test]
fn a_refresh_that_finds_the_master_key_gone_stops_serving_at_once() {
    let f = Fixture::new();
    let (id, _) = f.keyring.active_key(Scope::Store).unwrap();
    f.clock.advance(Duration::from_secs(8 * 60));
    f.provider.remove_master_key(&mid("m1"));
    // Still within the lease, but the service answers that the master key is gone.
    assert!(matches!(f.keyring.refresh_leases(), Err(KeyError::MasterKeyNotFound { .. })));
    assert!(matches!(f.keyring.key(id), Err(KeyError::MasterKeyNotFound { .. })));
}

#[test]
fn a_refresh_renews_the_lease() {
    let f = Fixture::new();
    let (id, _) = f.keyring.active_key(Scope::Store).unwrap();
    let cipher = f.keyring.cipher(id).unwrap();
    f.clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(f.keyring.refresh_leases().unwrap(), 1);
    f.clock.advance(Duration::from_secs(10 * 60));
    // Twenty minutes after the fetch, but ten after the refresh: still held, the same cipher object.
    f.provider.simulate_fault(Some(SimulatedFault::Unreachable));
    assert!(Arc::ptr_eq(&f.keyring.cipher(id).unwrap(), &cipher));
}

#[test]
fn a_clock_that_goes_back_ends_the_lease() {
    let f = Fixture::new();
    let (id, _) = f.keyring.active_key(Scope::Store).unwrap();
    f.provider.simulate_fault(Some(SimulatedFault::Unreachable));
    f.clock.set(T0 - 1);
    assert!(matches!(f.keyring.key(id), Err(KeyError::KeyServiceUnavailable { .. })));
}

#[test]
fn secrets_never_show_in_debug_output() {
    let f = Fixture::new();
    let (_, key) = f.keyring.active_key(Scope::Store).unwrap();
    let material = MasterKeyMaterial::generate().unwrap();
    let hex_key = hex::encode(key.expose_secret());
    let hex_master = hex::encode(material.expose_secret());
    let shown = format!("{key:?} {key:#?} {material:?} {:?} {:?}", f.keyring, f.provider);
    assert!(shown.contains("DataKey(<redacted>)") && shown.contains("MasterKeyMaterial(<redacted>)"), "{shown}");
    assert!(!shown.contains(&hex_key) && !shown.contains(&hex_master), "{shown}");
    // Byte-array renderings too: the Debug of [u8; 32] would print decimal numbers.
    assert!(!shown.contains(&format!("{:?}", key.expose_secret())));
}

#[test]
fn secrets_are_zeroized_on_drop_and_the_keyring_is_shareable() {
    // Compile-time checks: this test fails to build if a bound is lost.
    fn zeroize_on_drop<T: zeroize::ZeroizeOnDrop>() {}
    fn send_sync<T: Send + Sync>() {}
    zeroize_on_drop::<atrest_keys::DataKey>();
    zeroize_on_drop::<MasterKeyMaterial>();
    send_sync::<Keyring>();
    #[cfg(feature = "pkcs11")]
    send_sync::<atrest_keys::Pkcs11Provider>();
    send_sync::<atrest_keys::LocalKeyFileProvider>();
}

#[test]
fn destroying_an_active_key_gives_its_scope_a_fresh_one() {
    let f = Fixture::new();
    let (id, key) = f.keyring.active_key(Scope::Collection(12)).unwrap();
    f.keyring.destroy(id, &0u64).unwrap();
    let (fresh, fresh_key) = f.keyring.active_key(Scope::Collection(12)).unwrap();
    assert_ne!(fresh, id);
    assert_ne!(fresh_key.expose_secret(), key.expose_secret());
    assert!(matches!(f.keyring.key(id), Err(KeyError::KeyDestroyed { .. })));
    assert!(f.reopen().is_ok());
}

/// A provider whose unwrap hangs while told to, as a key service that accepts a request and never answers.
#[derive(Debug)]
struct Hanging {
    inner: InsecureMemoryProvider,
    hang: std::sync::Mutex<bool>,
    released: std::sync::Condvar,
    entered: std::sync::atomic::AtomicBool,
}

impl KeyProvider for Hanging {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn describe(&self) -> String {
        "hanging test provider".into()
    }
    fn master_key_ids(&self) -> atrest_keys::Result<Vec<atrest_keys::MasterKeyId>> {
        self.inner.master_key_ids()
    }
    fn create_master_key(&self, id: &atrest_keys::MasterKeyId) -> atrest_keys::Result<()> {
        self.inner.create_master_key(id)
    }
    fn wrap(&self, m: &atrest_keys::MasterKeyId, k: &atrest_keys::DataKey, aad: &[u8]) -> atrest_keys::Result<Vec<u8>> {
        self.inner.wrap(m, k, aad)
    }
    fn unwrap(&self, m: &atrest_keys::MasterKeyId, w: &[u8], aad: &[u8]) -> atrest_keys::Result<atrest_keys::DataKey> {
        let mut hang = self.hang.lock().unwrap();
        self.entered.store(*hang, std::sync::atomic::Ordering::SeqCst);
        while *hang {
            hang = self.released.wait(hang).unwrap();
        }
        drop(hang);
        self.inner.unwrap(m, w, aad)
    }
    fn retire_master_key(&self, id: &atrest_keys::MasterKeyId) -> atrest_keys::Result<()> {
        self.inner.retire_master_key(id)
    }
}

#[test]
fn a_key_service_that_hangs_fails_waiting_callers_closed() {
    let provider = Arc::new(Hanging {
        inner: InsecureMemoryProvider::with_master_key(&mid("m1")).unwrap(),
        hang: std::sync::Mutex::new(false),
        released: std::sync::Condvar::new(),
        entered: Default::default(),
    });
    let clock = Arc::new(atrest_keys::ManualClock::new(T0));
    let options = KeyringOptions { lease: Duration::from_secs(4) };
    let keyring = Arc::new(Keyring::in_memory(provider.clone(), &mid("m1"), clock.clone(), options).unwrap());
    let (id, _) = keyring.active_key(Scope::Store).unwrap();
    clock.advance(Duration::from_secs(5));
    *provider.hang.lock().unwrap() = true;
    let first = {
        let keyring = keyring.clone();
        std::thread::spawn(move || keyring.key(id).map(|_| ()))
    };
    eventually("the first caller is inside the provider", || {
        provider.entered.load(std::sync::atomic::Ordering::SeqCst)
    });
    let started = std::time::Instant::now();
    let err = keyring.key(id).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "waited {:?}", started.elapsed());
    assert!(
        matches!(&err, KeyError::KeyServiceUnavailable { reason, .. } if reason.contains("not been answered")),
        "{err}"
    );
    *provider.hang.lock().unwrap() = false;
    provider.released.notify_all();
    first.join().unwrap().unwrap();
    keyring.key(id).unwrap();
}
