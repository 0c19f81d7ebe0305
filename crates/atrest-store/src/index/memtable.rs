//! The in-memory buffer of an LSM tree: the newest entries, sorted, until a checkpoint writes them as a run.
//!
//! Its size is counted so the store can checkpoint before the buffers of all collections together pass
//! `StoreConfig::memtable_bytes`; whatever the store's size, ingest memory stays bounded.

use super::reader::Entry;
use crate::error::Result;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Bookkeeping bytes counted per entry on top of its key and value (tree node share, two vectors).
const ENTRY_OVERHEAD: usize = 64;

/// A visitor of entries in key order.
pub(crate) type EntryFn<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// What a tree's buffer offers: lookups, ordered reads, and its entries in key order for a checkpoint.
pub(crate) trait Buffer: Default + Clone + std::fmt::Debug + Send + Sync {
    /// Approximate memory held.
    fn bytes(&self) -> usize;
    /// Entries held.
    fn len(&self) -> usize;
    /// Whether it holds nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The newest value of `key`.
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Entries from `from` on, in key order, at most `limit`.
    fn range_from(&self, from: &[u8], limit: usize) -> Vec<Entry>;
    /// Every entry whose key starts with `prefix`, in key order.
    fn with_prefix(&self, prefix: &[u8]) -> Vec<Entry>;
    /// Calls `f` with every entry in key order.
    fn for_each_sorted(&self, f: &mut EntryFn<'_>) -> Result<()>;
}

/// Sorted key → value entries, newest write wins (the id map's buffer: one entry per document, read in
/// order by scans).
#[derive(Debug, Default, Clone)]
pub(crate) struct Memtable {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

impl Memtable {
    /// Sets `key` to `value`.
    pub(crate) fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        let add = key.len() + value.len() + ENTRY_OVERHEAD;
        let vlen = value.len();
        match self.map.insert(key, value) {
            Some(old) => self.bytes = self.bytes + vlen - old.len(),
            None => self.bytes += add,
        }
    }
}

impl Buffer for Memtable {
    fn bytes(&self) -> usize {
        self.bytes
    }
    fn len(&self) -> usize {
        self.map.len()
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.map.get(key).cloned()
    }
    fn range_from(&self, from: &[u8], limit: usize) -> Vec<Entry> {
        self.map
            .range::<[u8], _>((Bound::Included(from), Bound::Unbounded))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    fn with_prefix(&self, prefix: &[u8]) -> Vec<Entry> {
        self.map
            .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
    fn for_each_sorted(&self, f: &mut EntryFn<'_>) -> Result<()> {
        self.map.iter().try_for_each(|(k, v)| f(k, v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_wins_and_bytes_track_contents() {
        let mut m = Memtable::default();
        m.put(b"b".to_vec(), b"1".to_vec());
        m.put(b"a".to_vec(), b"22".to_vec());
        let one = m.bytes();
        m.put(b"b".to_vec(), b"333".to_vec());
        assert_eq!(m.bytes(), one + 2);
        assert_eq!(m.get(b"b"), Some(b"333".to_vec()));
        assert_eq!(m.range_from(b"a", 1), vec![(b"a".to_vec(), b"22".to_vec())]);
        m.put(b"ab".to_vec(), vec![]);
        assert_eq!(m.with_prefix(b"a").len(), 2);
        assert_eq!(m.len(), 3);
    }
}
