//! In-memory state of a collection (where each document is, its index keys, its attachments) and its
//! checkpoint encoding, which is written to sealed index pages so that opening a store does not re-read
//! documents.
//!
//! ```text
//! checkpoint = pointer count u32 | pointer str* | doc count u32 | doc*
//! doc        = id str | seg u64 | page u64 | offset u32 | len u32
//!              | key count u32 | (pointer index u32 | value str)*
//!              | attachment count u32 | (name str | length u64 | extent count u32 | extent*)*
//! ```

use crate::codec::{Dec, DecodeError, Enc};
use crate::json::{IndexKey, IndexPolicy};
use crate::record::{Extent, Loc};
use std::collections::btree_map::Entry;
use std::collections::hash_map::Entry as HashEntry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A stored attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttEntry {
    pub(crate) len: u64,
    pub(crate) extents: Vec<Extent>,
}

/// One document's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocEntry {
    pub(crate) loc: Loc,
    /// Its index keys, shared with the index map (one allocation per distinct key, not per use).
    pub(crate) keys: Vec<Arc<IndexKey>>,
    pub(crate) attachments: BTreeMap<String, AttEntry>,
}

/// A collection: catalog facts and its live documents.
#[derive(Debug, Clone)]
pub(crate) struct Collection {
    pub(crate) number: u64,
    pub(crate) name: String,
    pub(crate) policy: IndexPolicy,
    pub(crate) docs: BTreeMap<String, DocEntry>,
    pub(crate) index: HashMap<Arc<IndexKey>, BTreeSet<String>>,
    /// Changed since its last checkpoint.
    pub(crate) dirty: bool,
    /// The index file of its last checkpoint (0: none yet).
    pub(crate) index_file: u64,
    pub(crate) index_pages: u64,
}

impl Collection {
    pub(crate) fn new(number: u64, name: String, policy: IndexPolicy) -> Collection {
        Collection {
            number,
            name,
            policy,
            docs: BTreeMap::new(),
            index: HashMap::new(),
            dirty: true,
            index_file: 0,
            index_pages: 0,
        }
    }

    /// Inserts or replaces a document (a replaced document keeps its attachments). One walk of the id map,
    /// and the id moves in: no copy of it beyond one per index key.
    pub(crate) fn put(&mut self, id: String, loc: Loc, keys: Vec<IndexKey>) {
        self.dirty = true;
        let Collection { docs, index, .. } = self;
        match docs.entry(id) {
            Entry::Occupied(mut o) => {
                let old = std::mem::take(&mut o.get_mut().keys);
                unindex(index, o.key(), &old);
                let keys = index_keys(index, o.key(), keys);
                let e = o.get_mut();
                e.loc = loc;
                e.keys = keys;
            }
            Entry::Vacant(v) => {
                let keys = index_keys(index, v.key(), keys);
                v.insert(DocEntry { loc, keys, attachments: BTreeMap::new() });
            }
        }
    }

    /// Removes a document and its attachments; whether it existed.
    pub(crate) fn delete(&mut self, id: &str) -> bool {
        match self.docs.remove(id) {
            Some(old) => {
                self.dirty = true;
                unindex(&mut self.index, id, &old.keys);
                true
            }
            None => false,
        }
    }

    pub(crate) fn attach(&mut self, id: &str, name: String, att: AttEntry) {
        if let Some(d) = self.docs.get_mut(id) {
            self.dirty = true;
            d.attachments.insert(name, att);
        }
    }

    pub(crate) fn detach(&mut self, id: &str, name: &str) {
        if let Some(d) = self.docs.get_mut(id) {
            self.dirty = true;
            d.attachments.remove(name);
        }
    }

    /// Encodes the documents for a checkpoint.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut pointers: HashMap<&str, u32> = HashMap::new();
        let mut table: Vec<&str> = Vec::new();
        for d in self.docs.values() {
            for k in &d.keys {
                pointers.entry(&k.pointer).or_insert_with(|| {
                    table.push(&k.pointer);
                    (table.len() - 1) as u32
                });
            }
        }
        let mut e = Enc::new();
        e.u32(table.len() as u32);
        for p in &table {
            e.str(p);
        }
        e.u32(self.docs.len() as u32);
        for (id, d) in &self.docs {
            e.str(id).u64(d.loc.seg).u64(d.loc.page).u32(d.loc.offset).u32(d.loc.len);
            e.u32(d.keys.len() as u32);
            for k in &d.keys {
                e.u32(pointers[k.pointer.as_str()]).str(&k.value);
            }
            e.u32(d.attachments.len() as u32);
            for (name, a) in &d.attachments {
                e.str(name).u64(a.len).u32(a.extents.len() as u32);
                for x in &a.extents {
                    e.u64(x.seg).u64(x.first).u32(x.pages);
                }
            }
        }
        e.finish()
    }

    /// Restores the documents from a checkpoint and rebuilds the secondary index.
    pub(crate) fn decode_into(&mut self, buf: &[u8]) -> Result<(), DecodeError> {
        let mut d = Dec::new(buf, "index checkpoint");
        let np = d.count(4)?;
        let mut table = Vec::with_capacity(np);
        for _ in 0..np {
            table.push(d.string()?);
        }
        let nd = d.count(32)?;
        for _ in 0..nd {
            let id = d.string()?;
            let loc = Loc { seg: d.u64()?, page: d.u64()?, offset: d.u32()?, len: d.u32()? };
            let nk = d.count(8)?;
            let mut keys = Vec::with_capacity(nk);
            for _ in 0..nk {
                let p = d.u32()? as usize;
                let pointer = table.get(p).ok_or(d.fail("pointer index out of range"))?.clone();
                keys.push(IndexKey { pointer, value: d.string()? });
            }
            let na = d.count(16)?;
            let mut attachments = BTreeMap::new();
            for _ in 0..na {
                let name = d.string()?;
                let len = d.u64()?;
                let nx = d.count(20)?;
                let mut extents = Vec::with_capacity(nx);
                for _ in 0..nx {
                    extents.push(Extent { seg: d.u64()?, first: d.u64()?, pages: d.u32()? });
                }
                attachments.insert(name, AttEntry { len, extents });
            }
            let keys = index_keys(&mut self.index, &id, keys);
            self.docs.insert(id, DocEntry { loc, keys, attachments });
        }
        if !d.is_empty() {
            return Err(d.fail("trailing bytes"));
        }
        Ok(())
    }
}

/// Takes `id` out of the index under each of `keys`, dropping keys no document has any more.
fn unindex(index: &mut HashMap<Arc<IndexKey>, BTreeSet<String>>, id: &str, keys: &[Arc<IndexKey>]) {
    for k in keys {
        if let Some(set) = index.get_mut(&**k) {
            set.remove(id);
            if set.is_empty() {
                index.remove(&**k);
            }
        }
    }
}

/// Adds `id` under each key, reusing the index's copy of keys it already has. Each key is hashed once (keys
/// can be long strings): a key the index has already costs one small allocation, dropped at once, instead of
/// a second hash.
fn index_keys(
    index: &mut HashMap<Arc<IndexKey>, BTreeSet<String>>,
    id: &str,
    keys: Vec<IndexKey>,
) -> Vec<Arc<IndexKey>> {
    keys.into_iter()
        .map(|k| match index.entry(Arc::new(k)) {
            HashEntry::Occupied(mut o) => {
                o.get_mut().insert(id.to_owned());
                o.key().clone()
            }
            HashEntry::Vacant(v) => {
                let shared = v.key().clone();
                v.insert(BTreeSet::new()).insert(id.to_owned());
                shared
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trip_rebuilds_index() {
        let mut c = Collection::new(1, "c".into(), IndexPolicy::All);
        let key = |p: &str, v: &str| IndexKey { pointer: p.into(), value: v.into() };
        c.put("a".into(), Loc { seg: 1, page: 2, offset: 3, len: 4 }, vec![key("/x", "1"), key("/y", "2")]);
        c.put("b".into(), Loc { seg: 1, page: 3, offset: 0, len: 9 }, vec![key("/x", "1")]);
        c.attach("b", "pic".into(), AttEntry { len: 5, extents: vec![Extent { seg: 1, first: 4, pages: 1 }] });
        let buf = c.encode();
        let mut d = Collection::new(1, "c".into(), IndexPolicy::All);
        d.decode_into(&buf).unwrap();
        assert_eq!(d.docs, c.docs);
        assert_eq!(d.index, c.index);
        assert_eq!(d.index[&key("/x", "1")].len(), 2);
        assert!(Arc::ptr_eq(&d.docs["a"].keys[0], &d.docs["b"].keys[0]), "equal keys share one allocation");
        assert!(d.decode_into(&buf[..buf.len() - 1]).is_err());
        c.delete("a");
        assert!(!c.index.contains_key(&key("/y", "2")));
    }
}
