//! The store: collections of JSON documents, always encrypted.

use crate::commit::{Op, Queue};
use crate::config::StoreConfig;
use crate::error::{Result, StoreError};
use crate::index::Collection;
use crate::json::{self, IndexPolicy};
use crate::keys::KeySource;
use crate::log::{LogWriter, seg_name};
use crate::manifest::{FormatInfo, Manifest, integrity};
use crate::pages::PageCodec;
use crate::record::{Loc, Record};
use crate::storage::{Storage, StorageFile, read_exact_at};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

/// The mutable in-memory state, behind one lock.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) manifest: Manifest,
    pub(crate) colls: BTreeMap<u64, Collection>,
    pub(crate) names: HashMap<String, u64>,
    /// Every live segment and the key ids its pages use.
    pub(crate) seg_keys: BTreeMap<u64, BTreeSet<u32>>,
    pub(crate) since_checkpoint: u64,
}

impl State {
    pub(crate) fn coll(&self, name: &str) -> Result<&Collection> {
        self.names
            .get(name)
            .and_then(|n| self.colls.get(n))
            .ok_or_else(|| StoreError::NoSuchCollection { name: name.to_owned() })
    }
}

/// An open store. All methods take `&self`; it is `Send + Sync`, and concurrent writers share group commits.
pub struct Store {
    pub(crate) cfg: StoreConfig,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) keys: Arc<dyn KeySource>,
    pub(crate) codec: PageCodec,
    pub(crate) format: FormatInfo,
    pub(crate) state: RwLock<State>,
    pub(crate) writer: Mutex<LogWriter>,
    pub(crate) queue: Mutex<Queue>,
    pub(crate) queue_cv: Condvar,
    pub(crate) poison: Mutex<Option<String>>,
    /// Held shared by every operation and exclusively by `rekey`, which moves data between files.
    pub(crate) maint: RwLock<()>,
    pub(crate) files: Mutex<HashMap<u64, Arc<dyn StorageFile>>>,
    pub(crate) next_file: AtomicU64,
    pub(crate) next_batch: AtomicU64,
    /// The pool of `StoreConfig::threads` (shared with the codec), or `None` for rayon's global pool.
    pub(crate) pool: Option<Arc<rayon::ThreadPool>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("store_id", &self.format.store_id_hex()).finish_non_exhaustive()
    }
}

/// A document id with its document.
pub type Document = (String, Vec<u8>);

impl Store {
    /// Runs `f` in the store's pool. `f` must be work on data it was given: it may take leaf locks (nonce
    /// counters, key caches) but never the writer, state, queue or maintenance lock, nor wait for another
    /// caller. Threads holding those locks wait
    /// for the pool (sealing a checkpoint's index under the writer lock, verify's page opens), so a pool
    /// thread waiting for such a lock can leave no thread to do that work: with `threads = 1` a checkpoint
    /// and a commit leader running `write_jobs` in the pool deadlocked that way. So commits, checkpoints and
    /// recovery run on their caller's thread and send only sealing and opening here (see `PageCodec`).
    pub(crate) fn in_pool<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    pub(crate) fn alloc_file_id(&self) -> u64 {
        self.next_file.fetch_add(1, Ordering::Relaxed)
    }

    fn read_lock(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn maint_shared(&self) -> std::sync::RwLockReadGuard<'_, ()> {
        self.maint.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The store's format facts (page size, store id).
    pub fn format(&self) -> FormatInfo {
        self.format
    }

    /// The key source.
    pub fn keys(&self) -> &Arc<dyn KeySource> {
        &self.keys
    }

    /// Creates collection `name` with an index policy. Durable on return.
    pub fn create_collection(&self, name: &str, policy: IndexPolicy) -> Result<()> {
        json::check_collection_name(name)?;
        policy.validate()?;
        let _m = self.maint_shared();
        self.check_poison()?;
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        if state.names.contains_key(name) {
            return Err(StoreError::Config(format!("collection {name:?} already exists")));
        }
        let number = state.manifest.next_coll;
        state.manifest.next_coll += 1;
        self.keys.active(crate::keys::KeyScope::Collection(number))?;
        state.colls.insert(number, Collection::new(number, name.to_owned(), policy));
        state.names.insert(name.to_owned(), number);
        self.poison_on_err(self.checkpoint_locked(&mut state, &writer))
    }

    /// Creates the collection with the default policy if it does not exist.
    pub fn ensure_collection(&self, name: &str) -> Result<()> {
        if self.read_lock().names.contains_key(name) {
            return Ok(());
        }
        match self.create_collection(name, IndexPolicy::All) {
            Err(StoreError::Config(_)) if self.read_lock().names.contains_key(name) => Ok(()),
            r => r,
        }
    }

    /// Collection names, sorted, with their policies.
    pub fn collections(&self) -> Vec<(String, IndexPolicy)> {
        let s = self.read_lock();
        let mut v: Vec<_> = s.colls.values().map(|c| (c.name.clone(), c.policy.clone())).collect();
        v.sort();
        v
    }

    pub(crate) fn poison_on_err<T>(&self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r
            && matches!(e, StoreError::Io { .. })
        {
            self.poison.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert_with(|| e.to_string());
        }
        r
    }

    /// The number and index policy of a collection (copied, so no lock is held while documents are parsed).
    fn coll_policy(&self, collection: &str) -> Result<(u64, IndexPolicy)> {
        let s = self.read_lock();
        let c = s.coll(collection)?;
        Ok((c.number, c.policy.clone()))
    }

    /// Checks a document and its id; returns its index keys.
    fn check_put(&self, policy: &IndexPolicy, id: &str, doc: &[u8]) -> Result<Vec<json::IndexKey>> {
        json::check_id(id, &self.cfg.limits)?;
        json::parse_document(doc, &self.cfg.limits, policy)
    }

    /// Inserts or replaces a document; durable on return.
    pub fn put(&self, collection: &str, id: &str, doc: impl Into<Vec<u8>>) -> Result<()> {
        let _m = self.maint_shared();
        let (coll, policy) = self.coll_policy(collection)?;
        let doc = doc.into();
        let keys = self.check_put(&policy, id, &doc)?;
        self.submit(vec![Op::Rec(Record::Put { coll, id: id.to_owned(), doc }, keys)], true).map(drop)
    }

    /// Inserts or replaces many documents as one group commit; durable on return. Every document is
    /// validated first (in parallel), so an invalid one (reported with its index) means none was written.
    pub fn put_many(&self, collection: &str, docs: Vec<Document>) -> Result<()> {
        use rayon::prelude::*;
        let _m = self.maint_shared();
        let (coll, policy) = self.coll_policy(collection)?;
        let ops = self.in_pool(|| {
            docs.into_par_iter()
                .enumerate()
                .map(|(i, (id, doc))| match self.check_put(&policy, &id, &doc) {
                    // The caller's id and document move into the record: nothing is copied per document.
                    Ok(keys) => Ok(Op::Rec(Record::Put { coll, id, doc }, keys)),
                    Err(e) => Err(StoreError::InBatch { index: i, id, source: Box::new(e) }),
                })
                .collect::<Result<Vec<_>>>()
        })?;
        self.submit(ops, true).map(drop)
    }

    /// Deletes a document and its attachments; whether it existed. Durable on return.
    pub fn delete(&self, collection: &str, id: &str) -> Result<bool> {
        let _m = self.maint_shared();
        let coll = {
            let s = self.read_lock();
            let c = s.coll(collection)?;
            if !c.docs.contains_key(id) {
                return Ok(false);
            }
            c.number
        };
        self.submit(vec![Op::Rec(Record::Delete { coll, id: id.to_owned() }, Vec::new())], true)?;
        Ok(true)
    }

    /// The document `id`, or `None`.
    pub fn get(&self, collection: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let _m = self.maint_shared();
        let loc = {
            let s = self.read_lock();
            match s.coll(collection)?.docs.get(id) {
                Some(d) => d.loc,
                None => return Ok(None),
            }
        };
        self.read_doc(collection, loc).map(Some)
    }

    /// Ids in order, from `start` (inclusive), at most `limit`.
    pub fn ids(&self, collection: &str, start: &str, limit: usize) -> Result<Vec<String>> {
        let s = self.read_lock();
        Ok(s.coll(collection)?.docs.range(start.to_owned()..).take(limit).map(|(k, _)| k.clone()).collect())
    }

    /// Ids and locations in id order, from `start` (inclusive), at most `limit`.
    pub(crate) fn locs(&self, collection: &str, start: &str, limit: usize) -> Result<Vec<(String, Loc)>> {
        let s = self.read_lock();
        Ok(s.coll(collection)?.docs.range(start.to_owned()..).take(limit).map(|(k, d)| (k.clone(), d.loc)).collect())
    }

    /// Every document of a collection in id order, read 1000 at a time (pages shared by documents are read
    /// and opened once per step).
    pub fn scan<'a>(&'a self, collection: &'a str) -> impl Iterator<Item = Result<Document>> + 'a {
        let mut next = Some(String::new());
        let mut buf: std::vec::IntoIter<Document> = Vec::new().into_iter();
        std::iter::from_fn(move || {
            loop {
                if let Some(d) = buf.next() {
                    return Some(Ok(d));
                }
                let start = next.take()?;
                let step = (|| {
                    let _m = self.maint_shared();
                    let locs = self.locs(collection, &start, 1000)?;
                    let docs = self.read_docs(collection, &locs.iter().map(|l| l.1).collect::<Vec<_>>())?;
                    Ok::<_, StoreError>(locs.into_iter().map(|l| l.0).zip(docs).collect::<Vec<_>>())
                })();
                match step {
                    Ok(docs) if docs.is_empty() => return None,
                    Ok(docs) => {
                        next = docs.last().map(|l| format!("{}\0", l.0));
                        buf = docs.into_iter();
                    }
                    Err(e) => return Some(Err(e)),
                }
            }
        })
    }

    /// Documents whose value at `pointer` equals `value` (a JSON scalar), in id order.
    pub fn find(&self, collection: &str, pointer: &str, value: &serde_json::Value) -> Result<Vec<Document>> {
        json::check_pointer(pointer)?;
        let wanted = crate::json::IndexKey { pointer: pointer.to_owned(), value: json::canonical_scalar(value)? };
        let _m = self.maint_shared();
        let locs: Vec<(String, Loc)> = {
            let s = self.read_lock();
            let c = s.coll(collection)?;
            if !c.policy.covers(pointer) {
                return Err(StoreError::NotIndexed { collection: collection.to_owned(), pointer: pointer.to_owned() });
            }
            match c.index.get(&wanted) {
                Some(ids) => ids.iter().filter_map(|id| c.docs.get(id).map(|d| (id.clone(), d.loc))).collect(),
                None => Vec::new(),
            }
        };
        let docs = self.read_docs(collection, &locs.iter().map(|l| l.1).collect::<Vec<_>>())?;
        Ok(locs.into_iter().map(|l| l.0).zip(docs).collect())
    }

    /// Number of documents in a collection.
    pub fn count(&self, collection: &str) -> Result<usize> {
        Ok(self.read_lock().coll(collection)?.docs.len())
    }

    pub(crate) fn file(&self, seg: u64) -> Result<Arc<dyn StorageFile>> {
        let mut files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = files.get(&seg) {
            return Ok(f.clone());
        }
        let name = seg_name(seg);
        let f: Arc<dyn StorageFile> = Arc::from(
            self.storage.open(&name, false).map_err(StoreError::io("opening", self.storage.describe(&name)))?,
        );
        files.insert(seg, f.clone());
        Ok(f)
    }

    /// Reads `count` pages of segment `seg` from `first`, opens them, and returns the buffer (bodies decrypted
    /// in place), or an integrity error naming the collection, file and offset.
    pub(crate) fn read_pages(&self, collection: &str, seg: u64, first: u64, count: usize) -> Result<Vec<u8>> {
        let size = self.codec.size.bytes();
        let file = self.file(seg)?;
        let name = seg_name(seg);
        let mut buf = vec![0u8; count * size];
        let off = first * size as u64;
        let n =
            read_exact_at(&*file, &mut buf, off).map_err(StoreError::io("reading", self.storage.describe(&name)))?;
        let fail = |i: usize, detail: String| {
            integrity(Some(collection), &*self.storage, &name, off + (i * size) as u64, detail)
        };
        if n != buf.len() {
            return Err(fail(n / size, "page missing: the file ends early".into()));
        }
        let results = self.codec.open_run(seg, first, &mut buf);
        for (i, r) in results.into_iter().enumerate() {
            r.map_err(|e| fail(i, e.to_string()))?;
        }
        Ok(buf)
    }

    /// Checkpoints and closes the store.
    pub fn close(self) -> Result<()> {
        self.checkpoint()
    }
}
