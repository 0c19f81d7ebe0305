//! The store's public operations.

use crate::attach::AttachmentReader;
use crate::commit::{Mode, Op};
use crate::error::{Result, StoreError};
use crate::json::{self, IndexPolicy};
use crate::log::record::Record;
use crate::maint::RekeyReport;
use crate::store::{Document, Store};
use crate::verify::VerifyReport;
use std::io::Read;

impl Store {
    /// Creates collection `name` with an index policy. Durable on return; [`StoreError::CollectionExists`]
    /// if it exists.
    pub fn create_collection(&self, name: &str, policy: IndexPolicy) -> Result<()> {
        self.inner.create_collection(name, policy)
    }

    /// Creates the collection with the default policy if it does not exist.
    pub fn ensure_collection(&self, name: &str) -> Result<()> {
        if self.inner.read_state().names.contains_key(name) {
            return Ok(());
        }
        match self.create_collection(name, IndexPolicy::All) {
            Err(StoreError::CollectionExists { .. }) => Ok(()),
            r => r,
        }
    }

    /// Collection names, sorted, with their policies.
    pub fn collections(&self) -> Vec<(String, IndexPolicy)> {
        let s = self.inner.read_state();
        let mut v: Vec<_> = s.colls.values().map(|c| (c.name.clone(), c.policy.clone())).collect();
        v.sort();
        v
    }

    /// Drops a collection and destroys its data keys (crypto-shredding whatever of it remains on disk).
    pub fn drop_collection(&self, name: &str) -> Result<()> {
        self.inner.drop_collection(name)
    }

    /// The number and facts of a collection (copied, so no lock is held while documents are checked).
    fn coll_info(&self, collection: &str) -> Result<(u64, crate::apply::CollInfo)> {
        let s = self.inner.read_state();
        let c = s.coll(collection)?;
        Ok((c.number, crate::apply::CollInfo { name: c.name.clone(), policy: c.policy.clone(), hash_key: c.hash_key }))
    }

    /// Checks a document and its id; returns its index hashes.
    fn check_put(&self, info: &crate::apply::CollInfo, id: &str, doc: &[u8]) -> Result<Vec<u64>> {
        json::check_id(id, &self.inner.cfg.limits)?;
        info.check(doc, &self.inner.cfg.limits)
    }

    /// Inserts or replaces a document; durable on return.
    pub fn put(&self, collection: &str, id: &str, doc: impl Into<Vec<u8>>) -> Result<()> {
        let _m = self.inner.maint_shared();
        let doc = doc.into();
        let (coll, info) = self.coll_info(collection)?;
        let hashes = self.check_put(&info, id, &doc)?;
        let op = Op::Rec(Record::Put { coll, id: id.to_owned(), doc }, hashes);
        self.inner.submit(vec![op], true, Mode::Normal).map(drop)
    }

    /// Inserts or replaces many documents as one group commit; durable on return. Every document is
    /// validated first (in parallel), so an invalid one (reported with its index) means none was written.
    pub fn put_many(&self, collection: &str, docs: Vec<Document>) -> Result<()> {
        use rayon::prelude::*;
        let _m = self.inner.maint_shared();
        let (coll, info) = self.coll_info(collection)?;
        // In the pool only work on the documents: no store lock is taken there (see `Inner::in_pool`).
        let ops = self.inner.in_pool(|| {
            docs.into_par_iter()
                .enumerate()
                .map(|(i, (id, doc))| match self.check_put(&info, &id, &doc) {
                    // The caller's id and document move into the record: nothing is copied per document.
                    Ok(hashes) => Ok(Op::Rec(Record::Put { coll, id, doc }, hashes)),
                    Err(e) => Err(StoreError::InBatch { index: i, id, source: Box::new(e) }),
                })
                .collect::<Result<Vec<_>>>()
        })?;
        self.inner.submit(ops, true, Mode::Normal).map(drop)
    }

    /// Deletes a document and its attachments; whether it existed. Durable on return.
    pub fn delete(&self, collection: &str, id: &str) -> Result<bool> {
        let _m = self.inner.maint_shared();
        let (coll, entry) = self.inner.lookup(collection, id)?;
        if entry.is_none() {
            return Ok(false);
        }
        self.inner.submit(vec![Op::Rec(Record::Delete { coll, id: id.to_owned() }, Vec::new())], true, Mode::Normal)?;
        Ok(true)
    }

    /// The document `id`, or `None`.
    pub fn get(&self, collection: &str, id: &str) -> Result<Option<Vec<u8>>> {
        let _m = self.inner.maint_shared();
        self.inner.get(collection, id)
    }

    /// Ids in order, from `start` (inclusive), at most `limit`.
    pub fn ids(&self, collection: &str, start: &str, limit: usize) -> Result<Vec<String>> {
        let _m = self.inner.maint_shared();
        self.inner.ids(collection, start, limit)
    }

    /// Every document of a collection in id order, read a thousand at a time (pages shared by documents are
    /// read and opened once per step).
    pub fn scan<'a>(&'a self, collection: &'a str) -> impl Iterator<Item = Result<Document>> + 'a {
        let mut next = Some(String::new());
        let mut buf: std::vec::IntoIter<Document> = Vec::new().into_iter();
        std::iter::from_fn(move || {
            loop {
                if let Some(d) = buf.next() {
                    return Some(Ok(d));
                }
                let start = next.take()?;
                let step = {
                    let _m = self.inner.maint_shared();
                    self.inner.scan_step(collection, &start)
                };
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
        let _m = self.inner.maint_shared();
        self.inner.find(collection, pointer, value)
    }

    /// [`Store::find`] as it goes: the index is read first (the matching ids only), then the documents are
    /// read a thousand at a time, so memory holds one chunk of documents however many match. Errors in the
    /// pointer, the value or the collection come at once; a read error ends the iteration.
    pub fn find_iter<'a>(
        &'a self,
        collection: &'a str,
        pointer: &'a str,
        value: &serde_json::Value,
    ) -> Result<impl Iterator<Item = Result<Document>> + 'a> {
        let (ids, wanted) = {
            let _m = self.inner.maint_shared();
            self.inner.find_ids(collection, pointer, value)?
        };
        let mut chunks = ids.into_iter().peekable();
        let mut buf: std::vec::IntoIter<Document> = Vec::new().into_iter();
        let mut failed = false;
        Ok(std::iter::from_fn(move || {
            loop {
                if let Some(d) = buf.next() {
                    return Some(Ok(d));
                }
                if failed {
                    return None;
                }
                chunks.peek()?;
                let chunk: Vec<String> = chunks.by_ref().take(crate::read::SCAN_STEP).collect();
                let _m = self.inner.maint_shared();
                match self.inner.find_docs(collection, pointer, &wanted, &chunk) {
                    Ok(docs) => buf = docs.into_iter(),
                    Err(e) => {
                        failed = true;
                        return Some(Err(e));
                    }
                }
            }
        }))
    }

    /// Number of live documents in a collection.
    pub fn count(&self, collection: &str) -> Result<u64> {
        Ok(self.inner.read_state().coll(collection)?.docs)
    }

    /// Stores the bytes of `input` as attachment `name` of document `id` (replacing one of that name).
    /// Durable on return; returns its length.
    pub fn attach(&self, collection: &str, id: &str, name: &str, input: impl Read) -> Result<u64> {
        self.inner.attach(collection, id, name, input)
    }

    /// Names and lengths of a document's attachments.
    pub fn attachments(&self, collection: &str, id: &str) -> Result<Vec<(String, u64)>> {
        let _m = self.inner.maint_shared();
        self.inner.attachments(collection, id)
    }

    /// Removes an attachment; whether it existed. Durable on return.
    pub fn detach(&self, collection: &str, id: &str, name: &str) -> Result<bool> {
        self.inner.detach(collection, id, name)
    }

    /// A reader that streams attachment `name` of document `id`, or `None` if there is none.
    pub fn attachment_reader<'a>(
        &'a self,
        collection: &str,
        id: &str,
        name: &str,
    ) -> Result<Option<AttachmentReader<'a>>> {
        self.inner.attachment_reader(collection, id, name)
    }

    /// Writes the buffers as runs and a new manifest; afterwards opening the store replays only the log
    /// written after this point.
    pub fn checkpoint(&self) -> Result<()> {
        self.inner.checkpoint()
    }

    /// Makes a new active data key for the store and for every collection. Pages sealed before stay
    /// readable under their old keys; `rekey` rewrites them.
    pub fn rotate(&self) -> Result<Vec<u32>> {
        self.inner.rotate()
    }

    /// Rewrites every live document, attachment and index run under the current keys, removes the old
    /// segments, and destroys retired data keys that nothing references any more. Other operations wait
    /// while it runs. `progress(done, total)` is called as documents are rewritten.
    pub fn rekey(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<RekeyReport> {
        self.inner.rekey(progress)
    }

    /// Rebuilds a collection's id map and index from its records in the log (the way back for a collection
    /// whose runs are damaged or missing). Other operations wait while it runs; `progress(done, total)`
    /// counts log pages read. Returns the number of live documents found.
    pub fn reindex(&self, collection: &str, progress: &mut dyn FnMut(u64, u64)) -> Result<u64> {
        self.inner.reindex(collection, progress)
    }

    /// Opens every page of every file the manifest names, checks every run, and lists each failure with its
    /// file and offset. `progress(done, total)` counts pages. Writes wait while it runs.
    pub fn verify(&self, progress: &mut dyn FnMut(u64, u64)) -> Result<VerifyReport> {
        self.inner.verify(progress)
    }

    /// A small sealed metadata value kept in the catalog (e.g. hashes of access tokens), if set.
    pub fn meta(&self, name: &str) -> Option<Vec<u8>> {
        self.inner.read_state().manifest.meta.get(name).cloned()
    }

    /// The names of all metadata values.
    pub fn meta_names(&self) -> Vec<String> {
        self.inner.read_state().manifest.meta.keys().cloned().collect()
    }

    /// Sets metadata value `name` (or removes it with `None`); durable on return. Values are sealed with the
    /// catalog and rewritten with every manifest, so keep them small (kilobytes).
    pub fn set_meta(&self, name: &str, value: Option<Vec<u8>>) -> Result<()> {
        if value.as_ref().is_some_and(|v| v.len() > 1 << 20) {
            return Err(StoreError::Config(format!("metadata value {name:?} is over 1 MiB")));
        }
        self.inner.set_meta(name, value)
    }
}
