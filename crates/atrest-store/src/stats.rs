//! Store statistics for `info`.

use crate::error::Result;
use crate::index::memtable::Buffer;
use crate::store::Store;
use atrest_keys::{EntryInfo, Scope};

/// One collection's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionStats {
    /// Its name.
    pub name: String,
    /// Live documents.
    pub documents: u64,
    /// Runs of its id map.
    pub id_runs: usize,
    /// Runs of its index.
    pub index_runs: usize,
    /// Index entries in its runs and buffer (deletions that merges have not dropped yet included).
    pub index_entries: u64,
}

/// Where the group-commit leader's wall time went since the store was opened, summed over commits, in
/// microseconds: what limits a store whose writers wait for one another.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitTimes {
    /// Commits led.
    pub commits: u64,
    /// Packing records into pages, sealing them and handing them to the disk.
    pub pack_seal_us: u64,
    /// Waiting for writes still in flight at the end of a commit.
    pub write_wait_us: u64,
    /// `fdatasync`.
    pub sync_us: u64,
    /// Applying the durable records to the buffers (looking up what each replaces).
    pub apply_us: u64,
}

/// What `info` shows.
#[derive(Debug, Clone)]
pub struct StoreStats {
    /// Store id (hex).
    pub store_id: String,
    /// Page size in bytes.
    pub page_size: usize,
    /// Segment files.
    pub segments: usize,
    /// Bytes of all files the store owns.
    pub bytes_on_disk: u64,
    /// Manifest generation.
    pub generation: u64,
    /// Per collection.
    pub collections: Vec<CollectionStats>,
    /// Every data key (ids and states, never bytes).
    pub keys: Vec<EntryInfo>,
    /// Where the keys come from.
    pub key_source: String,
    /// The AEAD backend pages are sealed with.
    pub backend: String,
    /// Bytes of opened pages held in the page cache now.
    pub cache_bytes: usize,
    /// Bytes held by the in-memory buffers of the id maps and indexes.
    pub buffer_bytes: usize,
    /// What the key service's record of the store holds (rollback protection), as last written or read;
    /// `None` where protection is off.
    pub anchored: Option<atrest_keys::StateRecord>,
    /// Why rollback protection is off, or the last failure to advance the record.
    pub anchor_problem: Option<String>,
    /// Where the commit leader's time went since the store was opened.
    pub commits: CommitTimes,
}

impl Store {
    /// Statistics.
    pub fn stats(&self) -> Result<StoreStats> {
        let inner = &*self.inner;
        let s = inner.read_state();
        let mut bytes = 0;
        for n in inner.storage.list().unwrap_or_default() {
            if let Ok(f) = inner.storage.open(&n, false) {
                bytes += f.len().unwrap_or(0);
            }
        }
        let (anchored, anchor_problem) = inner.anchor.status();
        let commits = inner.commit_times.get();
        let backend = atrest_core::Xaes256Gcm::try_new(&[0u8; 32]).map(|k| k.backend().to_string()).unwrap_or_default();
        Ok(StoreStats {
            store_id: inner.format.store_id_hex(),
            page_size: inner.codec.size.bytes(),
            segments: s.seg_keys.len(),
            bytes_on_disk: bytes,
            generation: s.manifest.generation,
            collections: s
                .colls
                .values()
                .map(|c| CollectionStats {
                    name: c.name.clone(),
                    documents: c.docs,
                    id_runs: c.lsm.ids.runs.len(),
                    index_runs: c.lsm.index.runs.len(),
                    index_entries: c.lsm.index.runs.iter().map(|r| r.meta.entries).sum::<u64>()
                        + c.lsm.index.mem.len() as u64,
                })
                .collect(),
            // Scopes of other engines sharing the keyring are not the store's keys.
            keys: inner.keys.entries().into_iter().filter(|e| !matches!(e.scope, Scope::Named(_))).collect(),
            key_source: inner.keys.describe(),
            backend,
            cache_bytes: inner.cache.bytes(),
            buffer_bytes: s.mem_bytes(),
            anchored,
            anchor_problem,
            commits,
        })
    }
}
