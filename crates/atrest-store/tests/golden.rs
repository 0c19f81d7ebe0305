//! Stores written by earlier builds open and keep everything: format version 1 (tests/golden/v1-store) is
//! migrated to the current format (its index rewritten as runs, its log replayed); format version 2
//! (tests/golden/v2-store) pins the current manifest, run and page formats. See each fixture's README.

use atrest_keys::{Keyring, LocalKeyFileProvider, SystemClock};
use atrest_store::{FsStorage, IndexPolicy, STORE_FORMAT_VERSION, Store, StoreConfig};
use serde_json::json;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

fn fixture() -> PathBuf {
    golden("v1-store")
}

/// Copies the version-1 fixture out of the repository (the key file must be private) and opens the store.
fn open_copy(dir: &Path, progress: &mut dyn FnMut(u64, u64)) -> atrest_store::Result<Store> {
    open_fixture(&fixture(), dir, progress)
}

fn open_fixture(fixture: &Path, dir: &Path, progress: &mut dyn FnMut(u64, u64)) -> atrest_store::Result<Store> {
    let data = dir.join("data");
    if !data.exists() {
        std::fs::create_dir(&data).unwrap();
        for e in std::fs::read_dir(fixture.join("data")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), data.join(e.file_name())).unwrap();
            std::fs::set_permissions(data.join(e.file_name()), std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let key = dir.join("master.key");
        std::fs::copy(fixture.join("master.key"), &key).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let provider = LocalKeyFileProvider::open(&dir.join("master.key"), &data).unwrap();
    let keyring = Keyring::open(&data, Arc::new(provider), Arc::new(SystemClock)).unwrap();
    let cfg = StoreConfig::new(Arc::new(FsStorage::new(&data)), Arc::new(keyring));
    Store::open_with_progress(cfg, progress)
}

#[test]
fn a_version_1_store_is_migrated_on_open_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut last = (0, 0);
    let s = open_copy(dir.path(), &mut |d, t| last = (d, t)).unwrap();
    assert_eq!(last.0, last.1, "progress did not finish: {last:?}");
    assert!(last.1 > 0);
    assert_eq!(Store::read_format(&FsStorage::new(&data)).unwrap().version, STORE_FORMAT_VERSION);
    let names: Vec<String> =
        std::fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.starts_with("idx-")), "version-1 index files left: {names:?}");
    assert!(names.iter().any(|n| n.starts_with("run-")), "{names:?}");

    assert_eq!(
        s.collections(),
        vec![
            ("cities".to_owned(), IndexPolicy::Paths(vec!["/address/city".into(), "/name".into()])),
            ("logs".to_owned(), IndexPolicy::None),
            ("people".to_owned(), IndexPolicy::All),
            ("soak".to_owned(), IndexPolicy::All),
        ]
    );
    assert_eq!(
        s.get("people", "bob").unwrap().unwrap(),
        r#"{"name":"Bob","address":{"city":"Tromsø"},"n":22}"#.as_bytes()
    );
    assert!(s.get("people", "cy").unwrap().is_none());
    let oslo: Vec<String> =
        s.find("people", "/address/city", &json!("Oslo")).unwrap().into_iter().map(|d| d.0).collect();
    assert_eq!(oslo, ["ada"]);
    assert!(s.find("people", "/address/city", &json!("Bergen")).unwrap().is_empty(), "a replaced value");
    assert_eq!(s.find("cities", "/name", &json!("Oslo")).unwrap().len(), 1);
    assert_eq!(s.count("logs").unwrap(), 2);
    let mut photo = Vec::new();
    s.attachment_reader("people", "ada", "photo").unwrap().unwrap().read_to_end(&mut photo).unwrap();
    let want = std::fs::read_to_string(fixture().join("attachment.sha256")).unwrap();
    assert_eq!(hex(&sha(&photo)), want.split_whitespace().next().unwrap());

    // Every write the killed soak process acknowledged, some of them after the last version-1 checkpoint.
    let acked: Vec<(String, usize)> = std::fs::read_to_string(fixture().join("soak-acked.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let mut w = l.split_whitespace().skip(1);
            (w.next().unwrap().to_owned(), w.next().unwrap().parse().unwrap())
        })
        .collect();
    assert!(acked.len() > 100);
    for (id, i) in &acked {
        let doc = format!(r#"{{"p":"s","i":{i},"pad":"{}"}}"#, "s".repeat((i * 37) % 3000));
        assert_eq!(s.get("soak", id).unwrap().as_deref(), Some(doc.as_bytes()), "{id}");
    }
    assert!(s.count("soak").unwrap() >= acked.len() as u64);
    assert!(!s.find("soak", "/i", &json!(acked[0].1)).unwrap().is_empty());
    let report = s.verify(&mut |_, _| {}).unwrap();
    assert!(report.is_ok(), "{report:?}");

    // It goes on as a current store.
    s.put("people", "dee", br#"{"name":"Dee","address":{"city":"Oslo"}}"#.to_vec()).unwrap();
    s.close().unwrap();
    let s = open_copy(dir.path(), &mut |_, _| panic!("migrated twice")).unwrap();
    assert_eq!(s.find("people", "/address/city", &json!("Oslo")).unwrap().len(), 2);
}

#[test]
fn the_current_format_reads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let fx = golden("v2-store");
    let s = open_fixture(&fx, dir.path(), &mut |_, _| panic!("a current store was migrated")).unwrap();
    assert_eq!(s.format().version, STORE_FORMAT_VERSION);
    assert_eq!(s.format().page_size.bytes(), 4096);
    let st = s.stats().unwrap();
    let people = st.collections.iter().find(|c| c.name == "people").unwrap();
    assert_eq!((people.documents, people.id_runs, people.index_runs), (2, 3, 2));
    assert_eq!(s.get("people", "ada").unwrap().unwrap(), br#"{"name":"Ada","address":{"city":"Oslo"},"n":1}"#);
    assert_eq!(
        s.get("people", "bob").unwrap().unwrap(),
        r#"{"name":"Bob","address":{"city":"Tromsø"},"n":22}"#.as_bytes()
    );
    assert!(s.get("people", "cy").unwrap().is_none(), "the deletion in a run");
    assert_eq!(s.ids("people", "", 10).unwrap(), ["ada", "bob"]);
    let find = |c: &str, p: &str, v: serde_json::Value| -> Vec<String> {
        s.find(c, p, &v).unwrap().into_iter().map(|d| d.0).collect()
    };
    assert_eq!(find("people", "/address/city", json!("Oslo")), ["ada"]);
    assert_eq!(find("people", "/n", json!(22)), ["bob"]);
    assert!(find("people", "/address/city", json!("Bergen")).is_empty());
    assert_eq!(find("cities", "/address/city", json!("Oslo")), ["oslo"]);
    assert_eq!(s.scan("logs").map(|d| d.unwrap().0).collect::<Vec<_>>(), ["l1", "l2"]);
    let mut photo = Vec::new();
    s.attachment_reader("people", "ada", "photo").unwrap().unwrap().read_to_end(&mut photo).unwrap();
    let want = std::fs::read_to_string(fx.join("attachment.sha256")).unwrap();
    assert_eq!(hex(&sha(&photo)), want.split_whitespace().next().unwrap());
    let report = s.verify(&mut |_, _| {}).unwrap();
    assert!(report.is_ok(), "{report:?}");
}

fn sha(b: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(b).into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
