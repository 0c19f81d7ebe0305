//! Everything in a backup stays sealed: no marker the user stored is readable from the target in any common
//! encoding, no unwrapped data key is there, and crypto-shredding reaches later backups (and earlier ones once
//! the master key they were wrapped under is retired).

mod common;
#[path = "../../atrest-store/tests/support/markers.rs"]
mod markers;

use atrest_backup::{BackupError, Target, backup, restore, verify_backup};
use atrest_keys::{KeyProvider, KeyState, MasterKeyId, Scope};
use atrest_store::IndexPolicy;
use common::{Fixture, contents, files_under};
use markers::{base64, contains, forms};

#[test]
fn no_marker_or_unwrapped_key_is_readable_from_the_target() {
    assert_eq!(base64(b"Man"), "TWFu");
    assert!(contains(base64(b"##QMarkerQ").as_bytes(), &forms("QMarkerQ")[5]));

    let fx = Fixture::new();
    let (store, keyring) = fx.create_store("data");
    let markers = [
        "CollNameMarkerQX",
        "DocIdMarkerQX",
        "FieldNameMarkerQX",
        "ValueMarkerQX",
        "AttNameMarkerQX",
        "AttBytesMarkerQX",
    ];
    store.create_collection("CollNameMarkerQX", IndexPolicy::All).unwrap();
    for i in 0..50 {
        let doc = format!(r#"{{"FieldNameMarkerQX":"ValueMarkerQX {i}","n":{i}}}"#);
        store.put("CollNameMarkerQX", &format!("DocIdMarkerQX-{i}"), doc).unwrap();
    }
    let att: Vec<u8> = b"AttBytesMarkerQX ".repeat(2000);
    store.attach("CollNameMarkerQX", "DocIdMarkerQX-1", "AttNameMarkerQX.txt", &att[..]).unwrap();
    store.checkpoint().unwrap();
    store.put("CollNameMarkerQX", "DocIdMarkerQX-late", r#"{"FieldNameMarkerQX":"ValueMarkerQX late"}"#).unwrap();

    let target_dir = fx.path("target");
    let target = Target::open(target_dir.to_str().unwrap()).unwrap();
    backup(&store, &target).unwrap();
    store.put("CollNameMarkerQX", "DocIdMarkerQX-second", r#"{"FieldNameMarkerQX":"ValueMarkerQX 2"}"#).unwrap();
    backup(&store, &target).unwrap();

    let files = files_under(&target_dir);
    assert!(files.len() > 5, "{files:?}");
    let keys: Vec<[u8; 32]> = keyring
        .entries()
        .iter()
        .filter(|e| e.state != KeyState::Destroyed)
        .map(|e| *keyring.key(e.id).unwrap().expose_secret())
        .collect();
    assert!(keys.len() >= 2, "a store key and a collection key");
    let mut bytes_searched = 0;
    for f in &files {
        let hay = std::fs::read(f).unwrap();
        bytes_searched += hay.len();
        for m in markers {
            for (i, form) in forms(m).iter().enumerate() {
                assert!(!contains(&hay, form), "marker {m} (form {i}) readable in {}", f.display());
            }
        }
        for k in &keys {
            assert!(!contains(&hay, k), "an unwrapped data key is in {}", f.display());
        }
        let name = f.file_name().unwrap().to_string_lossy();
        assert!(!markers.iter().any(|m| name.contains(m)), "{name}");
    }
    assert!(bytes_searched > att.len(), "the attachment's bytes are in the backup, sealed");

    // The same markers are readable after a restore with the master key: the search above had something to miss.
    restore(&target, None, &fx.path("restored"), fx.provider()).unwrap();
    let (restored, _) = fx.open_store(&fx.path("restored"));
    assert_eq!(contents(&restored), contents(&store));
}

#[test]
fn crypto_shredding_across_backups() {
    let fx = Fixture::new();
    let (store, keyring) = fx.create_store("data");
    store.create_collection("keep", IndexPolicy::All).unwrap();
    store.create_collection("secret", IndexPolicy::All).unwrap();
    for i in 0..30 {
        store.put("keep", &format!("k{i}"), format!(r#"{{"i":{i}}}"#)).unwrap();
        store.put("secret", &format!("s{i}"), format!(r#"{{"i":{i},"pad":"{}"}}"#, "s".repeat(300))).unwrap();
    }
    let target = Target::open(fx.path("target").to_str().unwrap()).unwrap();
    let before = backup(&store, &target).unwrap();
    let secret_keys: Vec<u32> = keyring
        .entries()
        .iter()
        .filter(|e| matches!(e.scope, Scope::Collection(_)) && e.state == KeyState::Active)
        .map(|e| e.id)
        .collect();
    assert_eq!(secret_keys.len(), 2);

    store.drop_collection("secret").unwrap();
    let after = backup(&store, &target).unwrap();

    // A later backup: the collection is gone and its key is destroyed in the backup's keyring, so whatever
    // of its pages the backup still holds cannot be opened by anyone.
    let r = restore(&target, Some(&after.id), &fx.path("after"), fx.provider()).unwrap();
    let (restored, rk) = fx.open_store(&fx.path("after"));
    assert!(restored.collections().iter().all(|(n, _)| n != "secret"));
    assert_eq!(restored.count("keep").unwrap(), 30);
    let destroyed: Vec<u32> = rk.entries().iter().filter(|e| e.state == KeyState::Destroyed).map(|e| e.id).collect();
    assert_eq!(destroyed.len(), 1, "{destroyed:?}");
    assert!(rk.key(destroyed[0]).is_err());
    assert!(secret_keys.contains(&destroyed[0]));
    let v = verify_backup(&target, Some(&after.id), fx.provider()).unwrap();
    assert!(r.pages_shredded > 0, "the dropped collection's pages are still in the backup, sealed: {r:?}");
    assert_eq!(v.pages_shredded, r.pages_shredded);

    // An earlier backup still holds the key wrapped under the master key: with that master key it restores
    // the dropped collection (documented in docs/threat-model.md).
    restore(&target, Some(&before.id), &fx.path("before"), fx.provider()).unwrap();
    let (old, _) = fx.open_store(&fx.path("before"));
    assert_eq!(old.count("secret").unwrap(), 30);
    drop(old);

    // Rotating the master key and retiring the old one shreds the earlier backups too: their keyring can no
    // longer be unwrapped. A backup taken after the rotation restores with the new master key.
    let m2 = MasterKeyId::new("m2").unwrap();
    fx.provider.create_master_key(&m2).unwrap();
    let rotation = keyring.rotate_master_key(&m2).unwrap();
    assert_eq!(rotation.retired, std::slice::from_ref(&fx.master));
    let err = restore(&target, Some(&before.id), &fx.path("before-2"), fx.provider()).unwrap_err();
    assert!(matches!(err, BackupError::Keys(_)), "{err}");
    assert!(verify_backup(&target, Some(&after.id), fx.provider()).is_err());
    let fresh = backup(&store, &target).unwrap();
    restore(&target, Some(&fresh.id), &fx.path("fresh"), fx.provider()).unwrap();
    let (fresh_store, _) = fx.open_store(&fx.path("fresh"));
    assert_eq!(contents(&fresh_store), contents(&store));
}

/// Nonce prefixes of every sealed page of the store files in `dir`, by (file, offset), with the page bytes.
fn pages(dir: &std::path::Path) -> std::collections::BTreeMap<(String, usize), ([u8; 12], Vec<u8>)> {
    let mut out = std::collections::BTreeMap::new();
    for f in files_under(dir) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if !(name == "MANIFEST" || name.ends_with(".atr")) {
            continue;
        }
        for (i, page) in std::fs::read(&f).unwrap().chunks(4096).enumerate() {
            let h = atrest_core::page::PageHeader::parse_prefix(page).unwrap();
            let prefix: [u8; 12] = h.nonce[..12].try_into().unwrap();
            out.insert((name.clone(), i * 4096), (prefix, page.to_vec()));
        }
    }
    out
}

#[test]
fn restored_stores_draw_fresh_nonce_prefixes() {
    let fx = Fixture::new();
    let (store, _keyring) = fx.create_store("data");
    store.create_collection("c", IndexPolicy::All).unwrap();
    for i in 0..40 {
        store.put("c", &format!("d{i}"), format!(r#"{{"i":{i}}}"#)).unwrap();
    }
    let target = Target::memory().unwrap();
    backup(&store, &target).unwrap();
    // Restore the same backup twice and write to both copies, as a restore next to a running original would.
    restore(&target, None, &fx.path("pristine"), fx.provider()).unwrap();
    let before = pages(&fx.path("pristine"));
    let old: std::collections::BTreeSet<[u8; 12]> = before.values().map(|(p, _)| *p).collect();
    let mut fresh = Vec::new();
    for name in ["a", "b"] {
        restore(&target, None, &fx.path(name), fx.provider()).unwrap();
        let (s, _) = fx.open_store(&fx.path(name));
        for i in 0..20 {
            s.put("c", &format!("{name}{i}"), format!(r#"{{"copy":"{name}","i":{i}}}"#)).unwrap();
        }
        s.close().unwrap();
        let new: std::collections::BTreeSet<[u8; 12]> = pages(&fx.path(name))
            .into_iter()
            .filter(|(k, (_, bytes))| before.get(k).is_none_or(|(_, b)| b != bytes))
            .map(|(_, (p, _))| p)
            .collect();
        assert!(!new.is_empty(), "copy {name} sealed new pages");
        assert!(new.is_disjoint(&old), "copy {name} reused a nonce prefix from the backup");
        fresh.push(new);
    }
    assert!(fresh[0].is_disjoint(&fresh[1]), "two restores of one backup share a nonce prefix");
}
