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
    /// Index into `IndexBuf::spans`: the entry's id.
    doc: u32,
    live: bool,
}

/// Below this many entries a buffer sorts its keys in one piece; above, it first spreads them over
/// [`BUCKETS`] buckets by the top bits of the hash (which is uniform), so each piece sorts in cache.
const BUCKETED_FROM: usize = 1 << 16;
const BUCKET_BITS: u32 = 16;
const BUCKETS: usize = 1 << BUCKET_BITS;

/// Index entries in the order they were added; a later entry for the same (hash, id) wins.
#[derive(Debug, Default, Clone)]
pub(crate) struct IndexBuf {
    ents: Vec<Ent>,
    /// Each id once per run of consecutive entries with that id (one document's values): (offset, length)
    /// in `ids`. An id written again later gets another span with the same bytes.
    spans: Vec<(u32, u32)>,
    ids: Vec<u8>,
}

impl IndexBuf {
    /// Adds `(hash, id) → live or deleted`.
    pub(crate) fn push(&mut self, hash: u64, id: &[u8], live: bool) {
        let same = self.spans.last().is_some_and(|&(off, len)| &self.ids[off as usize..(off + len) as usize] == id);
        if !same {
            let off = self.ids.len() as u32;
            self.ids.extend_from_slice(id);
            self.spans.push((off, id.len() as u32));
        }
        // Positions take 31 bits of a sort key (see `sorted_keys`); a buffer is checkpointed long before.
        debug_assert!(self.ents.len() < 1 << 31, "an index buffer of 2^31 entries");
        let doc = (self.spans.len() - 1) as u32;
        self.ents.push(Ent { hash, doc, live });
    }

    fn span_id(&self, doc: u32) -> &[u8] {
        let (off, len) = self.spans[doc as usize];
        &self.ids[off as usize..(off + len) as usize]
    }

    fn id(&self, e: &Ent) -> &[u8] {
        self.span_id(e.doc)
    }

    fn key(&self, e: &Ent) -> Vec<u8> {
        let id = self.id(e);
        let mut k = Vec::with_capacity(8 + id.len());
        k.extend_from_slice(&e.hash.to_be_bytes());
        k.extend_from_slice(id);
        k
    }

    /// The newest entry of each key, in key order, as `(hash, id, live)`.
    fn sorted(&self) -> impl Iterator<Item = (u64, &[u8], bool)> {
        let (keys, docs) = self.sorted_keys();
        keys.into_iter().map(move |k| {
            let hash = (k >> 64) as u64;
            let rank = (k >> 32) as u32;
            (hash, self.span_id(docs[rank as usize]), k & 1 == 1)
        })
    }

    /// Every entry as one integer — hash, then the rank of its id in byte order, then its position and
    /// liveness — sorted, keeping only the newest entry of each (hash, id); and for each rank, a span with
    /// that id.
    ///
    /// Ids are ranked once (there are far fewer ids than entries: one per document), so the sort compares
    /// integers, never bytes, and reading the result never goes back to the entries (in an order that would
    /// miss the cache on every one).
    fn sorted_keys(&self) -> (Vec<u128>, Vec<u32>) {
        let n = self.ents.len();
        let mut by_id: Vec<u32> = (0..self.spans.len() as u32).collect();
        by_id.sort_unstable_by(|&a, &b| self.span_id(a).cmp(self.span_id(b)));
        let mut rank = vec![0u32; self.spans.len()];
        let mut docs: Vec<u32> = Vec::new();
        for (i, &d) in by_id.iter().enumerate() {
            if i == 0 || self.span_id(by_id[i - 1]) != self.span_id(d) {
                docs.push(d);
            }
            rank[d as usize] = (docs.len() - 1) as u32;
        }
        let key = |i: usize, e: &Ent| -> u128 {
            (u128::from(e.hash) << 64)
                | (u128::from(rank[e.doc as usize]) << 32)
                | ((i as u128) << 1)
                | u128::from(e.live)
        };
        let mut keys: Vec<u128> = if n < BUCKETED_FROM {
            let mut k: Vec<u128> = self.ents.iter().enumerate().map(|(i, e)| key(i, e)).collect();
            k.sort_unstable();
            k
        } else {
            // One counting pass by the hash's top bits, one scatter, then each bucket sorted on its own.
            let bucket = |e: &Ent| (e.hash >> (64 - BUCKET_BITS)) as usize;
            let mut start = vec![0usize; BUCKETS + 1];
            for e in &self.ents {
                start[bucket(e) + 1] += 1;
            }
            for b in 0..BUCKETS {
                start[b + 1] += start[b];
            }
            let mut at = start.clone();
            let mut k = vec![0u128; n];
            for (i, e) in self.ents.iter().enumerate() {
                let b = bucket(e);
                k[at[b]] = key(i, e);
                at[b] += 1;
            }
            for b in 0..BUCKETS {
                k[start[b]..start[b + 1]].sort_unstable();
            }
            k
        };
        // Keep the last of each (hash, rank) run: the highest position, the newest entry.
        keys.dedup_by(|next, kept| {
            let same = *next >> 32 == *kept >> 32;
            if same {
                *kept = *next;
            }
            same
        });
        (keys, docs)
    }
}

fn value(live: bool) -> Vec<u8> {
    if live { LIVE.to_vec() } else { DELETED.to_vec() }
}

impl Buffer for IndexBuf {
    fn bytes(&self) -> usize {
        self.ents.len() * std::mem::size_of::<Ent>() + self.spans.len() * 8 + self.ids.len()
    }
    fn len(&self) -> usize {
        self.ents.len()
    }
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.ents.iter().rev().find(|e| self.key(e) == key).map(|e| value(e.live))
    }
    fn range_from(&self, from: &[u8], limit: usize) -> Vec<Entry> {
        self.sorted()
            .map(|(h, id, live)| ([&h.to_be_bytes()[..], id].concat(), value(live)))
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
        for (hash, id, live) in self.sorted() {
            key.clear();
            key.extend_from_slice(&hash.to_be_bytes());
            key.extend_from_slice(id);
            f(&key, if live { LIVE } else { DELETED })?;
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

    /// Both sorting paths (small, and bucketed past `BUCKETED_FROM`) against a map that applies the same
    /// entries in order: ids written out of order and again later, hashes shared by many ids, deletions.
    #[test]
    fn sorted_matches_a_model_on_both_paths() {
        for n in [1_000usize, BUCKETED_FROM * 3] {
            let mut b = IndexBuf::default();
            let mut model: BTreeMap<Vec<u8>, bool> = BTreeMap::new();
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let mut added = 0;
            while added < n {
                let id = format!("doc-{:05}", next() % (n as u64 / 4));
                for _ in 0..1 + next() % 6 {
                    // A few shared hashes (common values) among many distinct ones.
                    let r = next();
                    let hash = if r % 3 == 0 { r % 5 } else { r };
                    let live = r % 7 != 0;
                    b.push(hash, id.as_bytes(), live);
                    model.insert([&hash.to_be_bytes()[..], id.as_bytes()].concat(), live);
                    added += 1;
                }
            }
            let mut got = Vec::new();
            b.for_each_sorted(&mut |k, v| {
                got.push((k.to_vec(), v == LIVE));
                Ok(())
            })
            .unwrap();
            let want: Vec<(Vec<u8>, bool)> = model.into_iter().collect();
            assert_eq!(got.len(), want.len(), "n = {n}");
            assert!(got == want, "n = {n}: sorted entries differ from the model");
        }
    }
}
