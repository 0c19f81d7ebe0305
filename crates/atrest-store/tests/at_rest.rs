//! Nothing readable at rest; tampering is detected (verify lists it, reads fail with an integrity error);
//! rotation, rekey and drop manage the keys.

mod common;
#[path = "support/markers.rs"]
mod markers;

use atrest_keys::{KeyError, KeyState, Keyring, Scope};
use atrest_store::{FaultStorage, IndexPolicy, Storage, Store, StoreError};
use common::small_cfg;
use markers::{base64, contains, forms};
use std::io::Read;
use std::sync::Arc;

#[test]
fn no_marker_is_readable_in_any_file() {
    let fs = FaultStorage::new();
    let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
    let cfg = small_cfg(Arc::new(fs.clone()), keys);
    let s = Store::create(cfg.clone()).unwrap();
    let markers =
        ["CollMarkerQZX", "IdMarkerQZX", "FieldMarkerQZX", "ValueMarkerQZX", "AttNameMarkerQZX", "AttBytesMarkerQZX"];
    s.create_collection("CollMarkerQZX", IndexPolicy::All).unwrap();
    for i in 0..30 {
        let doc = format!(r#"{{"FieldMarkerQZX":"ValueMarkerQZX","n":{i}}}"#);
        s.put("CollMarkerQZX", &format!("IdMarkerQZX{i}"), doc.into_bytes()).unwrap();
    }
    let bytes = "AttBytesMarkerQZX".repeat(2000);
    s.attach("CollMarkerQZX", "IdMarkerQZX3", "AttNameMarkerQZX", bytes.as_bytes()).unwrap();
    s.close().unwrap();
    let names = fs.list().unwrap();
    assert!(names.len() >= 3, "expected format, manifest, segment and index files: {names:?}");
    for name in names {
        let data = fs.read_file(&name).unwrap();
        for m in markers {
            assert!(!contains(name.as_bytes(), m.as_bytes()), "{m} in file name {name}");
            for form in forms(m) {
                assert!(!contains(&data, &form), "{m} readable in {name} as {:?}", String::from_utf8_lossy(&form));
            }
        }
    }
    // The check itself can see a marker when one is there.
    assert!(contains(b"xxAttBytesMarkerQZXxx", &forms("AttBytesMarkerQZX")[0]));
    assert!(contains(base64(b"QAttBytesMarkerQZX!").as_bytes(), &forms("AttBytesMarkerQZX")[4]));
    let s = Store::open(cfg).unwrap();
    assert_eq!(s.count("CollMarkerQZX").unwrap(), 30);
}

#[test]
fn tampered_pages_fail_reads_and_verify() {
    let fs = FaultStorage::new();
    let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
    let cfg = small_cfg(Arc::new(fs.clone()), keys);
    let s = Store::create(cfg.clone()).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    for i in 0..20 {
        s.put("c", &format!("k{i}"), format!(r#"{{"i":{i},"pad":"{}"}}"#, "z".repeat(1000)).into_bytes()).unwrap();
    }
    s.close().unwrap();
    let s = Store::open(cfg.clone()).unwrap();
    assert!(s.verify(&mut |_, _| {}).unwrap().is_ok());
    let seg = fs.list().unwrap().into_iter().find(|n| n.starts_with("seg-")).unwrap();
    assert!(flip(&fs, &seg, 4096 + 100));
    let report = s.verify(&mut |_, _| {}).unwrap();
    assert_eq!(report.failures.len(), 1, "{report:?}");
    assert!(report.failures[0].file.contains(&seg) && report.failures[0].offset == 4096);
    let mut saw = false;
    for i in 0..20 {
        match s.get("c", &format!("k{i}")) {
            Ok(Some(d)) => assert!(String::from_utf8(d).unwrap().contains(&format!("\"i\":{i}"))),
            Err(StoreError::Integrity { collection, file, .. }) => {
                assert_eq!(collection.as_deref(), Some("c"));
                assert!(file.contains(&seg));
                saw = true;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(saw, "no read met the tampered page");
}

#[test]
fn rotate_rekey_and_drop_manage_keys() {
    let fs = FaultStorage::new();
    let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
    let cfg = small_cfg(Arc::new(fs.clone()), keys.clone());
    let s = Store::create(cfg.clone()).unwrap();
    s.create_collection("a", IndexPolicy::All).unwrap();
    s.create_collection("b", IndexPolicy::All).unwrap();
    s.put("a", "1", b"{\"v\":1}".to_vec()).unwrap();
    s.attach("a", "1", "f", &[7u8; 10_000][..]).unwrap();
    s.put("b", "1", b"{\"v\":2}".to_vec()).unwrap();
    let before: Vec<u32> = keys.entries().iter().map(|k| k.id).collect();
    assert_eq!(before.len(), 3, "a store key and one per collection");
    s.rotate().unwrap();
    s.put("a", "2", b"{\"v\":3}".to_vec()).unwrap();
    assert_eq!(s.get("a", "1").unwrap().unwrap(), b"{\"v\":1}", "pages from before the rotation stay readable");
    let mut calls = 0;
    let report = s.rekey(&mut |_, _| calls += 1).unwrap();
    assert!(calls > 0);
    assert_eq!(report.documents, 3);
    let mut destroyed = report.keys_destroyed.clone();
    destroyed.sort();
    assert_eq!(destroyed, before, "every pre-rotation key is unreferenced after rekey");
    let mut att = Vec::new();
    s.attachment_reader("a", "1", "f").unwrap().unwrap().read_to_end(&mut att).unwrap();
    assert_eq!(att, vec![7u8; 10_000]);
    assert!(s.verify(&mut |_, _| {}).unwrap().is_ok());
    let b_num = keys
        .entries()
        .into_iter()
        .find(|k| {
            k.state == KeyState::Active
                && matches!(k.scope, Scope::Collection(_))
                && k.id == keys.active_key(Scope::Collection(2)).unwrap().0
        })
        .unwrap();
    s.drop_collection("b").unwrap();
    assert!(matches!(keys.key(b_num.id), Err(KeyError::KeyDestroyed { .. })), "dropped collection's key destroyed");
    assert!(matches!(s.get("b", "1"), Err(StoreError::NoSuchCollection { .. })));
    let v = s.verify(&mut |_, _| {}).unwrap();
    assert!(v.is_ok() && v.pages_shredded > 0, "{v:?}");
    drop(s);
    let s = Store::open(cfg).unwrap();
    assert_eq!(s.get("a", "2").unwrap().unwrap(), b"{\"v\":3}");
    assert_eq!(s.collections().len(), 1);
}

#[test]
fn keys_rotate_on_schedule_with_an_injected_clock() {
    let fs = FaultStorage::new();
    let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
    let clock = Arc::new(atrest_keys::ManualClock::new(1_000_000));
    let mut cfg = small_cfg(Arc::new(fs), keys.clone());
    cfg.rotate_every = Some(std::time::Duration::from_secs(3600));
    cfg.clock = clock.clone();
    let s = Store::create(cfg.clone()).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    s.put("c", "1", b"{}".to_vec()).unwrap();
    let active =
        |k: &Keyring| k.entries().into_iter().filter(|k| k.state == KeyState::Active).map(|k| k.id).collect::<Vec<_>>();
    let first = active(&keys);
    clock.advance(std::time::Duration::from_secs(3599));
    s.put("c", "2", b"{}".to_vec()).unwrap();
    assert_eq!(active(&keys), first, "not due yet");
    clock.advance(std::time::Duration::from_secs(2));
    s.put("c", "3", b"{}".to_vec()).unwrap();
    let second = active(&keys);
    assert_eq!(second.len(), 2);
    assert!(second.iter().all(|k| !first.contains(k)), "every scope rotated: {first:?} -> {second:?}");
    drop(s);
    let s = Store::open(cfg).unwrap();
    s.put("c", "4", b"{}".to_vec()).unwrap();
    assert_eq!(active(&keys), second, "the rotation time was persisted");
    assert_eq!(s.count("c").unwrap(), 4);
}

/// Flips one bit of a stored file (so the byte surely changes), durably.
fn flip(fs: &FaultStorage, name: &str, offset: usize) -> bool {
    let Some(data) = fs.read_file(name) else { return false };
    offset < data.len() && fs.tamper(name, offset, &[data[offset] ^ 0x01])
}
