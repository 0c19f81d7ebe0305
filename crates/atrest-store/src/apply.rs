//! Turning durable records into changes of a collection's trees.
//!
//! A put must know what it replaces: the replaced document's index entries are deleted (their hashes
//! recomputed from that document, read back from the log), its attachments carried over, and the document
//! count kept. The lookups happen before the state lock is taken (only the commit leader, or replay,
//! changes the buffers, so what they find cannot change meanwhile); the changes are then applied under the
//! lock in one short step. Records of one commit see each other through an overlay.
//!
//! Replay after a crash and `reindex` apply records through the same code, so a store rebuilt from its log
//! has exactly the trees its writes built.

use crate::collection::{DELETED, DocEntry, LIVE, Lsm, index_key, lookup_runs};
use crate::commit::{Applied, Mode};
use crate::error::Result;
use crate::index::hash::index_hash;
use crate::json::{self, IndexPolicy};
use crate::log::record::{Loc, Record};
use crate::manifest::integrity;
use crate::store::Inner;
use std::collections::{BTreeMap, HashMap};

/// Whose trees the records change.
pub(crate) enum Target<'a> {
    /// The live collections of the store.
    Live,
    /// A collection's trees being rebuilt (`reindex`), not yet installed.
    Shadow { coll: u64, lsm: &'a Lsm },
}

/// What records do to one collection.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    ids: Vec<(Vec<u8>, Vec<u8>)>,
    index: Vec<(Vec<u8>, Vec<u8>)>,
    docs: i64,
}

impl Changes {
    /// Applies the changes to a collection's buffers and document count.
    pub(crate) fn apply_to(self, lsm: &mut Lsm, docs: &mut u64) {
        for (k, v) in self.ids {
            lsm.ids.mem.put(k, v);
        }
        for (k, v) in self.index {
            lsm.index.mem.put(k, v);
        }
        *docs = docs.saturating_add_signed(self.docs);
    }
}

/// What a collection's records need to know about it.
#[derive(Clone)]
pub(crate) struct CollInfo {
    pub(crate) name: String,
    pub(crate) policy: IndexPolicy,
    pub(crate) hash_key: [u8; 16],
}

impl CollInfo {
    /// The index hashes of a document under this collection's policy (sorted, distinct).
    pub(crate) fn hashes_of(&self, doc: &[u8]) -> Result<Vec<u64>> {
        let keys =
            json::parse_document(doc, &json::Limits { max_id_len: usize::MAX, max_doc_len: usize::MAX }, &self.policy)?;
        Ok(self.hashes(&keys))
    }

    /// The hashes of index keys (sorted, distinct).
    pub(crate) fn hashes(&self, keys: &[json::IndexKey]) -> Vec<u64> {
        let mut h: Vec<u64> = keys.iter().map(|k| index_hash(&self.hash_key, &k.pointer, &k.value)).collect();
        h.sort_unstable();
        h.dedup();
        h
    }
}

/// A document as it stands part way through applying records: its entry, and its index hashes once known.
type Current = Option<(DocEntry, Option<Vec<u64>>)>;

impl Inner {
    /// The collections' facts, for the collections `applied` touches.
    fn infos(&self, applied: &[Applied]) -> HashMap<u64, CollInfo> {
        let s = self.read_state();
        let mut out = HashMap::new();
        for a in applied {
            let n = a.rec.coll();
            if let (false, Some(c)) = (out.contains_key(&n), s.colls.get(&n)) {
                out.insert(n, CollInfo { name: c.name.clone(), policy: c.policy.clone(), hash_key: c.hash_key });
            }
        }
        out
    }

    /// Works out the changes `applied` (in log order) make; records of collections that are gone are
    /// skipped.
    pub(crate) fn plan_changes(&self, applied: Vec<Applied>, target: &Target<'_>) -> Result<BTreeMap<u64, Changes>> {
        let infos = match target {
            Target::Live => self.infos(&applied),
            Target::Shadow { coll, .. } => {
                let s = self.read_state();
                let Some(c) = s.colls.get(coll) else { return Ok(BTreeMap::new()) };
                HashMap::from([(
                    *coll,
                    CollInfo { name: c.name.clone(), policy: c.policy.clone(), hash_key: c.hash_key },
                )])
            }
        };
        let mut overlay: HashMap<(u64, String), Current> = HashMap::new();
        let mut out: BTreeMap<u64, Changes> = BTreeMap::new();
        for Applied { loc, rec, hashes, mode } in applied {
            let coll = rec.coll();
            let Some(info) = infos.get(&coll) else { continue };
            let ch = out.entry(coll).or_default();
            match rec {
                Record::Put { id, .. } => {
                    let old = self.current(&mut overlay, target, coll, info, &id)?;
                    let attachments = old.as_ref().map(|o| o.0.attachments.clone()).unwrap_or_default();
                    let entry = DocEntry { loc, attachments };
                    ch.ids.push((id.as_bytes().to_vec(), entry.encode()));
                    match old {
                        None => {
                            ch.docs += 1;
                            index_diff(ch, &id, &[], &hashes);
                        }
                        // The same document at a new place: its index entries stand.
                        Some(_) if mode == Mode::Rewrite => {}
                        Some((o, known)) => {
                            let before = match known {
                                Some(h) => h,
                                None => self.hashes_at(info, o.loc)?,
                            };
                            index_diff(ch, &id, &before, &hashes);
                        }
                    }
                    overlay.insert((coll, id), Some((entry, Some(hashes))));
                }
                Record::Delete { id, .. } => {
                    let old = self.current(&mut overlay, target, coll, info, &id)?;
                    if let Some((o, known)) = old {
                        ch.ids.push((id.as_bytes().to_vec(), DELETED.to_vec()));
                        ch.docs -= 1;
                        let before = match known {
                            Some(h) => h,
                            None => self.hashes_at(info, o.loc)?,
                        };
                        index_diff(ch, &id, &before, &[]);
                    }
                    overlay.insert((coll, id), None);
                }
                Record::Attach { id, name, len, extents, .. } => {
                    if let Some((mut e, known)) = self.current(&mut overlay, target, coll, info, &id)? {
                        e.attachments.insert(name, crate::collection::AttEntry { len, extents });
                        ch.ids.push((id.as_bytes().to_vec(), e.encode()));
                        overlay.insert((coll, id), Some((e, known)));
                    }
                }
                Record::Detach { id, name, .. } => {
                    if let Some((mut e, known)) = self.current(&mut overlay, target, coll, info, &id)? {
                        e.attachments.remove(&name);
                        ch.ids.push((id.as_bytes().to_vec(), e.encode()));
                        overlay.insert((coll, id), Some((e, known)));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The document `id` as it stands: from this commit's earlier records, else from the collection.
    fn current(
        &self,
        overlay: &mut HashMap<(u64, String), Current>,
        target: &Target<'_>,
        coll: u64,
        info: &CollInfo,
        id: &str,
    ) -> Result<Current> {
        if let Some(c) = overlay.get(&(coll, id.to_owned())) {
            return Ok(c.clone());
        }
        let probe = match target {
            Target::Live => {
                let s = self.read_state();
                match s.colls.get(&coll) {
                    Some(c) => c.lsm.ids.probe(id.as_bytes()),
                    None => return Ok(None),
                }
            }
            Target::Shadow { lsm, .. } => lsm.ids.probe(id.as_bytes()),
        };
        let value = match probe {
            Ok(v) => Some(v),
            Err(runs) => lookup_runs(&self.ctx(Some(&info.name)), &runs, id.as_bytes())?,
        };
        let Some(value) = value else { return Ok(None) };
        let entry = DocEntry::decode(&value)
            .map_err(|e| integrity(Some(&info.name), &*self.storage, "", 0, format!("id map entry of {id:?}: {e}")))?;
        Ok(entry.map(|e| (e, None)))
    }

    /// The index hashes of the document at `loc` (read back from the log).
    fn hashes_at(&self, info: &CollInfo, loc: Loc) -> Result<Vec<u64>> {
        if matches!(info.policy, IndexPolicy::None) {
            return Ok(Vec::new());
        }
        let doc = self.read_doc(&info.name, loc)?;
        info.hashes_of(&doc)
    }
}

/// Deletes the index entries of hashes in `before` but not `after`, adds those in `after` but not `before`.
fn index_diff(ch: &mut Changes, id: &str, before: &[u64], after: &[u64]) {
    for &h in before {
        if after.binary_search(&h).is_err() {
            ch.index.push((index_key(h, id), DELETED.to_vec()));
        }
    }
    for &h in after {
        if before.binary_search(&h).is_err() {
            ch.index.push((index_key(h, id), LIVE.to_vec()));
        }
    }
}
