//! The buffer of a collection's index tree: an append-only list, sorted once when it is written out.
//!
//! Indexing adds several entries per document (one per indexed value), so the buffer is built for appending:
//! an entry is 24 bytes in one vector and its id is stored once per document in an arena, with no allocation
//! or comparison per entry. Sorting happens in bulk when a checkpoint writes the buffer as a run; a query
//! (rare next to ingest) scans the buffer for its hash.

use super::memtable::{Buffer, EntryFn};
use super::reader::Entry;
use crate::collection::{DELETED, LIVE};
use crate::error::Result;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy)]
struct Ent {
    hash: u64,
    off: u32,
    len: u32,
    live: bool,
}

/// Index entries in the order they were added; a later entry for the same (hash, id) wins.
#[derive(Debug, Default, Clone)]
pub(crate) struct IndexBuf {
    ents: Vec<Ent>,
    ids: Vec<u8>,
    last: Option<(u32, u32)>,
}

impl IndexBuf {
    /// Adds `(hash, id) → live or deleted`.
    pub(crate) fn push(&mut self, hash: u64, id: &[u8], live: bool) {
        let (off, len) = match self.last {
            Some((off, len)) if &self.ids[off as usize..(off + len) as usize] == id => (off, len),
            _ => {
                let off = self.ids.len() as u32;
                self.ids.extend_from_slice(id);
                let at = (off, id.len() as u32);
                self.last = Some(at);
                at
            }
        };
        self.ents.push(Ent { hash, off, len, live });
    }

    fn id(&self, e: &Ent) -> &[u8] {
        &self.ids[e.off as usize..(e.off + e.len) as usize]
    }

    fn key(&self, e: &Ent) -> Vec<u8> {
        let mut k = Vec::with_capacity(8 + e.len as usize);
        k.extend_from_slice(&e.hash.to_be_bytes());
        k.extend_from_slice(self.id(e));
        k
    }

    /// The newest entry of each key, in key order.
    ///
    /// Sorts (hash, position) pairs — contiguous, so the sort stays in cache — which orders entries with one
    /// hash by when they were added. Only groups with one hash (a value many documents share) whose ids are
    /// not already in order are then sorted by id, which a bulk load in id order never needs.
    fn sorted(&self) -> Vec<&Ent> {
        let n = self.ents.len();
        let mut order: Vec<(u64, u32)> = self.ents.iter().enumerate().map(|(i, e)| (e.hash, i as u32)).collect();
        order.sort_unstable();
        let mut start = 0;
        while start < n {
            let h = order[start].0;
            let mut end = start + 1;
            while end < n && order[end].0 == h {
                end += 1;
            }
            let group = &mut order[start..end];
            let id = |p: &(u64, u32)| self.id(&self.ents[p.1 as usize]);
            if group.len() > 1 && group.windows(2).any(|w| id(&w[0]) > id(&w[1])) {
                // Stable, so among equal ids the last added stays last.
                group.sort_by(|a, b| id(a).cmp(id(b)));
            }
            start = end;
        }
        let mut out: Vec<&Ent> = Vec::with_capacity(n);
        for (_, i) in order {
            let e = &self.ents[i as usize];
            match out.last_mut() {
                Some(l) if l.hash == e.hash && l.len == e.len && self.id(l) == self.id(e) => *l = e,
                _ => out.push(e),
            }
        }
        out
    }
}

fn value(live: bool) -> Vec<u8> {
    if live { LIVE.to_vec() } else { DELETED.to_vec() }
}

impl Buffer for IndexBuf {
    fn bytes(&self) -> usize {
        self.ents.len() * std::mem::size_of::<Ent>() + self.ids.len()
    }
    fn len(&self) -> usize {
        self.ents.len()
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.ents.iter().rev().find(|e| self.key(e) == key).map(|e| value(e.live))
    }
    fn range_from(&self, from: &[u8], limit: usize) -> Vec<Entry> {
        self.sorted()
            .into_iter()
            .map(|e| (self.key(e), value(e.live)))
            .filter(|(k, _)| k.as_slice() >= from)
            .take(limit)
            .collect()
    }
    fn with_prefix(&self, prefix: &[u8]) -> Vec<Entry> {
        // Index lookups ask for one hash (an 8-byte prefix): scan for it, newest entry per id.
        let mut found: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
        let hash = (prefix.len() >= 8).then(|| u64::from_be_bytes(prefix[..8].try_into().expect("8 bytes")));
        for e in &self.ents {
            if hash.is_none_or(|h| h == e.hash) {
                let k = self.key(e);
                if k.starts_with(prefix) {
                    found.insert(k, e.live);
                }
            }
        }
        found.into_iter().map(|(k, l)| (k, value(l))).collect()
    }
    fn for_each_sorted(&self, f: &mut EntryFn<'_>) -> Result<()> {
        let mut key = Vec::new();
        for e in self.sorted() {
            key.clear();
            key.extend_from_slice(&e.hash.to_be_bytes());
            key.extend_from_slice(self.id(e));
            f(&key, if e.live { LIVE } else { DELETED })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_newest_wins_and_prefix_lookups_agree() {
        let mut b = IndexBuf::default();
        b.push(5, b"b", true);
        b.push(5, b"a", true);
        b.push(9, b"a", true);
        b.push(5, b"b", false);
        b.push(1, b"c", true);
        b.push(u64::MAX, b"z", true);
        b.push(u64::MAX, b"y", true);
        b.push(1 << 40, b"c", true);
        let mut got = Vec::new();
        b.for_each_sorted(&mut |k, v| {
            got.push((k.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
        let key = |h: u64, id: &[u8]| [&h.to_be_bytes()[..], id].concat();
        assert_eq!(
            got,
            vec![
                (key(1, b"c"), LIVE.to_vec()),
                (key(5, b"a"), LIVE.to_vec()),
                (key(5, b"b"), DELETED.to_vec()),
                (key(9, b"a"), LIVE.to_vec()),
                (key(1 << 40, b"c"), LIVE.to_vec()),
                (key(u64::MAX, b"y"), LIVE.to_vec()),
                (key(u64::MAX, b"z"), LIVE.to_vec()),
            ]
        );
        assert_eq!(b.with_prefix(&5u64.to_be_bytes()), got[1..3].to_vec());
        assert_eq!(b.get(&key(5, b"b")), Some(DELETED.to_vec()));
        assert_eq!(b.range_from(&key(5, b"b"), 1), got[2..3].to_vec());
    }
}
