//! Damage stays local: a damaged or missing run fails only the lookups that need it, with an integrity error
//! naming the file; `verify` lists every failure (bytes appended to any file included); `reindex` brings the
//! collection back from its documents in the log.

mod common;

use atrest_store::{FsStorage, IndexPolicy, Store, StoreConfig, StoreError};
use common::small_cfg;
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

fn cfg(dir: &Path, keys: &Arc<atrest_keys::Keyring>) -> StoreConfig {
    small_cfg(Arc::new(FsStorage::new(dir)), keys.clone())
}

fn runs(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("run-"))
        .collect()
}

fn flip(path: &Path, offset: u64) {
    let mut b = std::fs::read(path).unwrap();
    b[offset as usize] ^= 0x20;
    std::fs::write(path, b).unwrap();
}

/// A store with collections `a` and `b`; returns the run files that belong to `a`.
fn two_collections(dir: &Path, keys: &Arc<atrest_keys::Keyring>) -> BTreeSet<String> {
    let s = Store::create(cfg(dir, keys)).unwrap();
    s.create_collection("a", IndexPolicy::All).unwrap();
    let docs = |p: &str| {
        (0..300).map(|i| (format!("{p}{i:04}"), format!(r#"{{"i":{i},"even":{}}}"#, i % 2 == 0).into_bytes())).collect()
    };
    s.put_many("a", docs("a")).unwrap();
    s.checkpoint().unwrap();
    let of_a = runs(dir);
    s.create_collection("b", IndexPolicy::All).unwrap();
    s.put_many("b", docs("b")).unwrap();
    s.close().unwrap();
    assert_eq!(of_a.len(), 2, "an id map and an index run: {of_a:?}");
    of_a
}

#[test]
fn a_damaged_run_fails_its_collection_only_and_reindex_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
    let of_a = two_collections(dir.path(), &keys);
    for name in &of_a {
        flip(&dir.path().join(name), 100);
    }
    let s = Store::open(cfg(dir.path(), &keys)).unwrap();
    match s.get("a", "a0007") {
        Err(StoreError::Integrity { collection, file, .. }) => {
            assert_eq!(collection.as_deref(), Some("a"));
            assert!(of_a.iter().any(|n| file.ends_with(n.as_str())), "{file}");
        }
        other => panic!("expected an integrity error, got {other:?}"),
    }
    assert!(s.find("a", "/i", &json!(7)).is_err());
    // The other collection does not notice.
    assert_eq!(s.get("b", "b0007").unwrap().unwrap(), br#"{"i":7,"even":false}"#);
    assert_eq!(s.find("b", "/even", &json!(true)).unwrap().len(), 150);
    let report = s.verify(&mut |_, _| {}).unwrap();
    let failed: BTreeSet<&str> = report.failures.iter().map(|f| f.file.rsplit('/').next().unwrap()).collect();
    assert_eq!(failed, of_a.iter().map(String::as_str).collect(), "{:?}", report.failures);
    let mut steps = 0;
    assert_eq!(s.reindex("a", &mut |_, _| steps += 1).unwrap(), 300);
    assert!(steps > 0, "no progress reported");
    assert_eq!(s.get("a", "a0007").unwrap().unwrap(), br#"{"i":7,"even":false}"#);
    assert_eq!(s.find("a", "/even", &json!(false)).unwrap().len(), 150);
    assert!(s.verify(&mut |_, _| {}).unwrap().is_ok());
    s.close().unwrap();
    for name in &of_a {
        assert!(!dir.path().join(name).exists(), "the damaged run {name} was not removed");
    }
}

#[test]
fn a_missing_run_fails_lookups_not_the_open_and_reindex_repairs_it() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
    let of_a = two_collections(dir.path(), &keys);
    for name in &of_a {
        std::fs::remove_file(dir.path().join(name)).unwrap();
    }
    let s = Store::open(cfg(dir.path(), &keys)).unwrap();
    let e = s.get("a", "a0001").unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    assert!(s.get("b", "b0001").unwrap().is_some());
    s.reindex("a", &mut |_, _| {}).unwrap();
    assert_eq!(s.count("a").unwrap(), 300);
    assert!(s.get("a", "a0001").unwrap().is_some());
}

#[test]
fn verify_reports_bytes_appended_to_any_file() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
    let of_a = two_collections(dir.path(), &keys);
    let s = Store::open(cfg(dir.path(), &keys)).unwrap();
    assert!(s.verify(&mut |_, _| {}).unwrap().is_ok());
    let append = |name: &str, n: usize| {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(dir.path().join(name)).unwrap();
        f.write_all(&vec![0x5a; n]).unwrap();
    };
    let first_seg = "seg-0000000000000001.atr";
    append("MANIFEST", 16 << 10);
    append(of_a.iter().next().unwrap(), 4096);
    append(first_seg, 4096 + 100);
    let report = s.verify(&mut |_, _| {}).unwrap();
    for name in ["MANIFEST", of_a.iter().next().unwrap().as_str(), first_seg] {
        assert!(report.failures.iter().any(|f| f.file.ends_with(name)), "{name} not reported: {:?}", report.failures);
    }
    assert!(report.failures.iter().any(|f| f.detail.contains("partial page")), "{:?}", report.failures);
}
