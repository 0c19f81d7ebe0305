//! Store statistics for `info`.

use crate::error::Result;
use crate::keys::KeyInfo;
use crate::store::Store;

/// One collection's numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionStats {
    /// Its name.
    pub name: String,
    /// Documents.
    pub documents: u64,
    /// Attachments.
    pub attachments: u64,
    /// Distinct index entries.
    pub index_entries: u64,
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
    pub keys: Vec<KeyInfo>,
    /// Where the keys come from.
    pub key_source: String,
    /// The AEAD backend pages are sealed with.
    pub backend: String,
}

impl Store {
    /// Statistics.
    pub fn stats(&self) -> Result<StoreStats> {
        let s = self.state.read().unwrap_or_else(|p| p.into_inner());
        let mut bytes = 0;
        for n in self.storage.list().unwrap_or_default() {
            if let Ok(f) = self.storage.open(&n, false) {
                bytes += f.len().unwrap_or(0);
            }
        }
        let backend = atrest_core::Xaes256Gcm::try_new(&[0u8; 32]).map(|k| k.backend().to_string()).unwrap_or_default();
        Ok(StoreStats {
            store_id: self.format.store_id_hex(),
            page_size: self.codec.size.bytes(),
            segments: s.seg_keys.len(),
            bytes_on_disk: bytes,
            generation: s.manifest.generation,
            collections: s
                .colls
                .values()
                .map(|c| CollectionStats {
                    name: c.name.clone(),
                    documents: c.docs.len() as u64,
                    attachments: c.docs.values().map(|d| d.attachments.len() as u64).sum(),
                    index_entries: c.index.len() as u64,
                })
                .collect(),
            keys: self.keys.list()?,
            key_source: self.keys.describe(),
            backend,
        })
    }
}
