//! Shared fixtures: a store in a temporary directory with its keyring under an in-memory master key.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use atrest_core::page::PageSize;
use atrest_keys::{InsecureMemoryProvider, KeyProvider, Keyring, MasterKeyId, SystemClock};
use atrest_store::{FsStorage, Store, StoreConfig};

/// A temporary directory with a master key provider.
pub struct Fixture {
    pub root: tempfile::TempDir,
    pub provider: Arc<InsecureMemoryProvider>,
    pub master: MasterKeyId,
}

impl Fixture {
    pub fn new() -> Fixture {
        let master = MasterKeyId::new("m1").unwrap();
        let provider = Arc::new(InsecureMemoryProvider::with_master_key(&master).unwrap());
        Fixture { root: tempfile::tempdir().unwrap(), provider, master }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.root.path().join(name)
    }

    pub fn provider(&self) -> Arc<dyn KeyProvider> {
        self.provider.clone()
    }

    /// A new store in `name` (4 KiB pages, small segments so a test store has several).
    pub fn create_store(&self, name: &str) -> (Store, Arc<Keyring>) {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).unwrap();
        let keyring =
            Arc::new(Keyring::create(&dir, self.provider.clone(), &self.master, Arc::new(SystemClock)).unwrap());
        let store = Store::create(config(&dir, keyring.clone())).unwrap();
        (store, keyring)
    }

    /// Opens the store in `dir` with this fixture's provider.
    pub fn open_store(&self, dir: &Path) -> (Store, Arc<Keyring>) {
        let keyring = Arc::new(Keyring::open(dir, self.provider.clone(), Arc::new(SystemClock)).unwrap());
        let store = Store::open(config(dir, keyring.clone())).unwrap();
        (store, keyring)
    }
}

pub fn config(dir: &Path, keyring: Arc<Keyring>) -> StoreConfig {
    let mut cfg = StoreConfig::new(Arc::new(FsStorage::new(dir)), keyring);
    cfg.page_size = PageSize::KIB_4;
    cfg.segment_bytes = 64 << 10;
    cfg
}

/// Everything a store holds: (collection, id) -> (document, attachments by name).
pub type Contents = BTreeMap<(String, String), (Vec<u8>, BTreeMap<String, Vec<u8>>)>;

pub fn contents(store: &Store) -> Contents {
    let mut out = Contents::new();
    for (coll, _) in store.collections() {
        for doc in store.scan(&coll) {
            let (id, body) = doc.unwrap();
            let mut atts = BTreeMap::new();
            for (name, _) in store.attachments(&coll, &id).unwrap() {
                let mut r = store.attachment_reader(&coll, &id, &name).unwrap().unwrap();
                let mut bytes = Vec::new();
                r.read_to_end(&mut bytes).unwrap();
                atts.insert(name, bytes);
            }
            out.insert((coll.clone(), id), (body, atts));
        }
    }
    out
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}
