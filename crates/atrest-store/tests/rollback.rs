//! Rollback protection: a data directory older than the key service's record of the store is refused, with
//! an error that says what is older and by how much; an accepted rewind moves the record.

mod common;

use std::path::Path;
use std::sync::Arc;

use atrest_keys::{InsecureMemoryProvider, KeyError, KeyProvider, Keyring, MasterKeyId, SystemClock};
use atrest_store::{FsStorage, IndexPolicy, RollbackCheck, Store, StoreConfig, StoreError};
use common::small_cfg;

fn provider() -> Arc<InsecureMemoryProvider> {
    Arc::new(InsecureMemoryProvider::with_master_key(&MasterKeyId::new("m1").unwrap()).unwrap())
}

fn open_keyring(dir: &Path, p: &Arc<dyn KeyProvider>) -> Arc<Keyring> {
    Arc::new(Keyring::open(dir, p.clone(), Arc::new(SystemClock)).unwrap())
}

fn cfg(dir: &Path, p: &Arc<dyn KeyProvider>) -> StoreConfig {
    small_cfg(Arc::new(FsStorage::new(dir)), open_keyring(dir, p))
}

fn create(dir: &Path, p: &Arc<dyn KeyProvider>) -> Store {
    std::fs::create_dir_all(dir).unwrap();
    let keys = Keyring::create(dir, p.clone(), &MasterKeyId::new("m1").unwrap(), Arc::new(SystemClock)).unwrap();
    Store::create(small_cfg(Arc::new(FsStorage::new(dir)), Arc::new(keys))).unwrap()
}

/// Replaces the files of `to` with those of `from` (the lock file aside).
fn put_back(from: &Path, to: &Path) {
    for e in std::fs::read_dir(to).unwrap() {
        let e = e.unwrap();
        if e.file_name() != atrest_store::LOCK_FILE {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    copy_dir(from, to);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_name() != atrest_store::LOCK_FILE {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn rollback(r: Result<Store, StoreError>) -> Vec<String> {
    match r {
        Err(StoreError::Rollback { behind, .. }) => behind,
        Err(e) => panic!("expected a rollback error, got {e}"),
        Ok(_) => panic!("expected a rollback error, the store opened"),
    }
}

#[test]
fn a_copy_of_the_directory_put_back_after_writes_is_refused_until_accepted() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, snap) = (tmp.path().join("data"), tmp.path().join("snap"));
    let p: Arc<dyn KeyProvider> = provider();
    let s = create(&dir, &p);
    s.create_collection("c", IndexPolicy::All).unwrap();
    s.put("c", "a", br#"{"x":1}"#.to_vec()).unwrap();
    s.close().unwrap();
    copy_dir(&dir, &snap);
    let s = Store::open(cfg(&dir, &p)).unwrap();
    for i in 0..5 {
        s.put("c", &format!("b{i}"), br#"{"x":2}"#.to_vec()).unwrap();
    }
    s.close().unwrap();
    put_back(&snap, &dir);
    let before: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect();
    let e = Store::open(cfg(&dir, &p)).expect_err("refused");
    assert!(e.to_string().contains("rollback"), "{e}");
    assert!(e.to_string().contains("5 commit batches of acknowledged writes missing"), "{e}");
    assert!(e.to_string().contains("atrest accept-rollback"), "{e}");
    let after: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).collect();
    assert_eq!(before, after, "a refused open changes nothing");
    // Accepting the rewind says what was older and moves the record back: then it opens as usual.
    let mut accept = cfg(&dir, &p);
    accept.rollback = RollbackCheck::Accept;
    let s = Store::open(accept).unwrap();
    let accepted = s.accepted_rollback();
    assert!(accepted[0].contains("commit batch"), "{accepted:?}");
    assert_eq!(s.count("c").unwrap(), 1);
    s.close().unwrap();
    let s = Store::open(cfg(&dir, &p)).unwrap();
    assert!(s.accepted_rollback().is_empty());
    assert_eq!(s.stats().unwrap().anchored.unwrap().generation, s.stats().unwrap().generation);
}

#[test]
fn an_old_keyring_after_drop_is_refused_so_a_shredded_key_stays_dead() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let p: Arc<dyn KeyProvider> = provider();
    let s = create(&dir, &p);
    s.create_collection("secret", IndexPolicy::All).unwrap();
    s.put("secret", "a", br#"{"x":1}"#.to_vec()).unwrap();
    s.close().unwrap();
    let old_keyring = std::fs::read(dir.join(atrest_keys::KEYRING_FILE)).unwrap();
    let s = Store::open(cfg(&dir, &p)).unwrap();
    s.drop_collection("secret").unwrap();
    s.close().unwrap();
    std::fs::write(dir.join(atrest_keys::KEYRING_FILE), &old_keyring).unwrap();
    let behind = rollback(Store::open(cfg(&dir, &p)));
    assert!(behind.iter().any(|b| b.contains("live again that were destroyed (crypto-shredded)")), "{behind:?}");
}

#[test]
fn an_old_manifest_is_refused_before_replay_removes_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let p: Arc<dyn KeyProvider> = provider();
    let s = create(&dir, &p);
    s.create_collection("c", IndexPolicy::All).unwrap();
    s.put("c", "a", br#"{"x":1}"#.to_vec()).unwrap();
    s.close().unwrap();
    let old_manifest = std::fs::read(dir.join(atrest_store::MANIFEST_FILE)).unwrap();
    let s = Store::open(cfg(&dir, &p)).unwrap();
    s.put("c", "b", br#"{"x":2}"#.to_vec()).unwrap();
    s.checkpoint().unwrap();
    s.checkpoint().unwrap();
    s.close().unwrap();
    let files = std::fs::read_dir(&dir).unwrap().count();
    std::fs::write(dir.join(atrest_store::MANIFEST_FILE), &old_manifest).unwrap();
    let behind = rollback(Store::open(cfg(&dir, &p)));
    assert!(behind[0].starts_with("the manifest is at generation"), "{behind:?}");
    assert!(behind[0].contains("manifest writes"), "{behind:?}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), files, "the runs the old manifest does not name are kept");
}

#[test]
fn the_record_follows_checkpoints_and_drops_in_the_background() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let p: Arc<dyn KeyProvider> = provider();
    let s = create(&dir, &p);
    s.create_collection("c", IndexPolicy::All).unwrap();
    s.put("c", "a", br#"{"x":1}"#.to_vec()).unwrap();
    s.checkpoint().unwrap();
    let generation = s.stats().unwrap().generation;
    // No timing is asserted: the background thread is only waited for.
    let mut waited = 0;
    while s.stats().unwrap().anchored.unwrap().generation < generation {
        std::thread::sleep(std::time::Duration::from_millis(10));
        waited += 1;
        assert!(waited < 60_000, "the record never reached the checkpoint's generation");
    }
    let held = s.stats().unwrap().anchored.unwrap();
    assert!(held.durable_batch >= 1 && held.keys_through >= 2, "{held:?}");
    drop(s);
}

/// A provider that keeps no state records (as the KMIP provider does not yet).
#[derive(Debug)]
struct NoRecords(Arc<InsecureMemoryProvider>);

impl KeyProvider for NoRecords {
    fn kind(&self) -> &'static str {
        self.0.kind()
    }
    fn describe(&self) -> String {
        "a provider without records".into()
    }
    fn master_key_ids(&self) -> atrest_keys::Result<Vec<MasterKeyId>> {
        self.0.master_key_ids()
    }
    fn create_master_key(&self, id: &MasterKeyId) -> atrest_keys::Result<()> {
        self.0.create_master_key(id)
    }
    fn wrap(&self, m: &MasterKeyId, k: &atrest_keys::DataKey, aad: &[u8]) -> atrest_keys::Result<Vec<u8>> {
        self.0.wrap(m, k, aad)
    }
    fn unwrap(&self, m: &MasterKeyId, w: &[u8], aad: &[u8]) -> atrest_keys::Result<atrest_keys::DataKey> {
        self.0.unwrap(m, w, aad)
    }
    fn retire_master_key(&self, id: &MasterKeyId) -> atrest_keys::Result<()> {
        self.0.retire_master_key(id)
    }
}

#[test]
fn a_provider_without_records_opens_unprotected_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let p: Arc<dyn KeyProvider> = Arc::new(NoRecords(provider()));
    let s = create(&dir, &p);
    s.close().unwrap();
    let s = Store::open(cfg(&dir, &p)).unwrap();
    let stats = s.stats().unwrap();
    assert!(stats.anchored.is_none());
    assert!(stats.anchor_problem.unwrap().contains("cannot keep state records"));
    s.close().unwrap();
}

#[test]
fn a_record_for_another_store_is_refused_as_corrupt() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mem = provider();
    let p: Arc<dyn KeyProvider> = mem.clone();
    let s = create(&dir, &p);
    let name = s.format().store_id_hex();
    s.close().unwrap();
    let mut other = atrest_keys::StateRecord { store_id: [0xee; 16], ..Default::default() };
    other.generation = 1;
    mem.write_record(&name, &MasterKeyId::new("m1").unwrap(), &other.encode()).unwrap();
    match Store::open(cfg(&dir, &p)) {
        Err(StoreError::Keys(KeyError::StateRecordCorrupt { reason, .. })) => {
            assert!(reason.contains("eeee"), "{reason}")
        }
        other => panic!("expected a corrupt record, got {other:?}"),
    }
}

#[test]
fn a_key_service_away_at_close_is_reported_and_the_record_catches_up_later() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data");
    let mem = provider();
    let p: Arc<dyn KeyProvider> = mem.clone();
    let s = create(&dir, &p);
    s.create_collection("c", IndexPolicy::All).unwrap();
    s.close().unwrap();
    let s = Store::open(cfg(&dir, &p)).unwrap();
    let before = s.stats().unwrap().anchored.unwrap();
    mem.simulate_fault(Some(atrest_keys::SimulatedFault::Unreachable));
    // Writes go on within the key lease; the record cannot follow, and close says so.
    s.put("c", "a", br#"{"x":1}"#.to_vec()).unwrap();
    match s.advance_record() {
        Err(StoreError::RecordNotAdvanced(e)) => assert!(matches!(e, KeyError::ProviderUnreachable { .. }), "{e}"),
        other => panic!("expected RecordNotAdvanced, got {other:?}"),
    }
    assert!(s.stats().unwrap().anchor_problem.unwrap().contains("unreachable"));
    let e = s.close().unwrap_err();
    assert!(e.to_string().contains("durable") && e.to_string().contains("not advanced"), "{e}");
    mem.simulate_fault(None);
    let s = Store::open(cfg(&dir, &p)).unwrap();
    assert_eq!(s.get("c", "a").unwrap().unwrap(), br#"{"x":1}"#);
    let after = s.stats().unwrap().anchored.unwrap();
    assert!(after.durable_batch > before.durable_batch, "{before:?} {after:?}");
    assert!(s.stats().unwrap().anchor_problem.is_none());
    s.close().unwrap();
}
