//! One owner per data directory, and a poisoned store instead of a hung one.

mod common;

use atrest_store::{FaultPlan, FsStorage, IndexPolicy, Store, StoreConfig, StoreError};
use common::{mem, small_cfg};
use std::sync::Arc;

fn fs_cfg(dir: &std::path::Path, keys: &Arc<atrest_keys::Keyring>, owner: &str) -> StoreConfig {
    let mut c = small_cfg(Arc::new(FsStorage::new(dir)), keys.clone());
    c.owner = owner.to_owned();
    c
}

#[test]
fn a_second_open_is_refused_naming_the_owner_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let keys = Arc::new(atrest_keys::Keyring::ephemeral().unwrap());
    let s = Store::create(fs_cfg(dir.path(), &keys, "atrest serve https://127.0.0.1:1")).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    s.put("c", "a", br#"{"x":1}"#.to_vec()).unwrap();
    let listing = |d: &std::path::Path| {
        let mut v: Vec<(String, u64)> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.metadata().unwrap().len()))
            .collect();
        v.sort();
        v
    };
    let before = listing(dir.path());
    for attempt in [Store::open(fs_cfg(dir.path(), &keys, "atrest get")), Store::create(fs_cfg(dir.path(), &keys, "x"))]
    {
        match attempt {
            Err(StoreError::InUse { holder, dir: d }) => {
                assert!(holder.contains(&format!("pid {}", std::process::id())), "{holder}");
                assert!(holder.contains("atrest serve https://127.0.0.1:1"), "{holder}");
                assert!(d.contains(&dir.path().display().to_string()));
            }
            other => panic!("expected InUse, got {other:?}"),
        }
    }
    assert_eq!(listing(dir.path()), before, "a refused open changed files");
    let msg = Store::open(fs_cfg(dir.path(), &keys, "atrest get")).unwrap_err().to_string();
    assert!(msg.contains("in use by another process") && msg.contains("atrest serve"), "{msg}");
    s.close().unwrap();
    // Closed: the directory is free again, and what was written is there.
    let s = Store::open(fs_cfg(dir.path(), &keys, "atrest get")).unwrap();
    assert_eq!(s.get("c", "a").unwrap().unwrap(), br#"{"x":1}"#);
    drop(s);
    // Dropped without close: free too.
    Store::open(fs_cfg(dir.path(), &keys, "atrest get")).unwrap();
}

#[test]
fn the_in_memory_storage_has_one_owner_too() {
    let (fs, keys) = mem();
    let s = Store::create(small_cfg(Arc::new(fs.clone()), keys.clone())).unwrap();
    assert!(matches!(Store::open(small_cfg(Arc::new(fs.clone()), keys.clone())), Err(StoreError::InUse { .. })));
    drop(s);
    Store::open(small_cfg(Arc::new(fs), keys)).unwrap();
}

#[test]
fn a_panicking_commit_poisons_the_store_instead_of_hanging_it() {
    let (fs, keys) = mem();
    let s = Store::create(small_cfg(Arc::new(fs.clone()), keys.clone())).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    s.put("c", "kept", br#"{"x":1}"#.to_vec()).unwrap();
    fs.set_plan(FaultPlan::PanicAt(1));
    let err = s.put("c", "lost", br#"{"x":2}"#.to_vec()).unwrap_err();
    assert!(matches!(&err, StoreError::Poisoned { cause } if cause.contains("panicked")), "{err}");
    // Later writers get the same error at once rather than waiting for a leader that is gone.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
        scope.spawn(|| tx.send(s.put("c", "later", br#"{"x":3}"#.to_vec())).unwrap());
        let r = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("a writer hung after the panic");
        assert!(matches!(r, Err(StoreError::Poisoned { .. })), "{r:?}");
    });
    assert_eq!(s.get("c", "kept").unwrap().unwrap(), br#"{"x":1}"#, "reads go on");
    drop(s);
    fs.set_plan(FaultPlan::None);
    let s = Store::open(small_cfg(Arc::new(fs), keys)).unwrap();
    assert!(s.get("c", "kept").unwrap().is_some());
    s.put("c", "after", br#"{"x":4}"#.to_vec()).unwrap();
}

#[test]
fn creating_an_existing_collection_is_its_own_error() {
    let (fs, keys) = mem();
    let s = Store::create(small_cfg(Arc::new(fs), keys)).unwrap();
    s.create_collection("c", IndexPolicy::All).unwrap();
    let e = s.create_collection("c", IndexPolicy::None).unwrap_err();
    assert!(matches!(&e, StoreError::CollectionExists { name } if name == "c"), "{e}");
    s.ensure_collection("c").unwrap();
}
