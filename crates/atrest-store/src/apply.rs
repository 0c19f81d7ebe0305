//! Turning durable records into changes of a collection's trees.
//!
//! A put must know what it replaces: the replaced document's index entries are deleted (their hashes
//! recomputed from that document, read back from the log), its attachments carried over, and the document
//! count kept. So every record first looks its id up — all of a batch's lookups at once: the buffers under
//! one short hold of the state lock, then the runs without it, across the pool (only the commit leader, or
//! replay, changes the buffers, so what they find cannot change meanwhile). Records of one batch see each
//! other through an overlay. The changes are then applied under the lock in one short step.
//!
//! Replay after a crash and `reindex` apply records through the same code, so a store rebuilt from its log
//! has exactly the trees its writes built.

use crate::collection::{DELETED, DocEntry, Lsm, lookup_runs};
use crate::commit::{Applied, Mode};
use crate::error::Result;
use crate::index::hash::index_hash;
use crate::index::reader::Run;
use crate::json::{self, IndexPolicy};
use crate::log::record::{Loc, Record};
use crate::manifest::integrity;
use crate::store::Inner;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Whose trees the records change.
pub(crate) enum Target<'a> {
    /// The live collections of the store.
    Live,
    /// A collection's trees being rebuilt (`reindex`), not yet installed.
    Shadow { coll: u64, lsm: &'a Lsm },
}

/// What one record does to its collection: the id map entry it writes and the index entries it adds or
/// deletes.
#[derive(Debug)]
struct Change {
    id: Vec<u8>,
    entry: Vec<u8>,
    index: Vec<(u64, bool)>,
}

/// What records do to one collection.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    changes: Vec<Change>,
    docs: i64,
}

impl Changes {
    /// Applies the changes to a collection's buffers and document count.
    pub(crate) fn apply_to(self, lsm: &mut Lsm, docs: &mut u64) {
        for c in self.changes {
            for &(h, live) in &c.index {
                lsm.index.mem.push(h, &c.id, live);
            }
            lsm.ids.mem.put(c.id, c.entry);
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
    /// Checks a document and returns its index hashes under this collection's policy (sorted, distinct).
    pub(crate) fn check(&self, doc: &[u8], limits: &json::Limits) -> Result<Vec<u64>> {
        json::index_hashes(doc, limits, &self.policy, |p, v| index_hash(&self.hash_key, p, v))
    }

    /// The index hashes of a document already stored. One that no longer passes the checks (stored by a
    /// build that checked less, e.g. before repeated keys were refused) is still a document: it is kept,
    /// readable, and indexed by no value.
    pub(crate) fn hashes_of(&self, doc: &[u8]) -> Vec<u64> {
        let any = json::Limits { max_id_len: usize::MAX, max_doc_len: usize::MAX };
        self.check(doc, &any).unwrap_or_default()
    }
}

/// A document as it stands part way through applying records: its entry, and its index hashes once known.
type Current<'a> = Option<(DocEntry, Option<Cow<'a, [u64]>>)>;

/// An id to look up before the batch: its collection, and the runs to ask if the buffers do not know it.
struct Pending<'a> {
    coll: u64,
    id: &'a str,
    runs: Arc<Vec<Arc<Run>>>,
}

impl Inner {
    /// The facts of the collections `applied` touches (or, for a rebuild, of the one collection).
    fn infos(&self, applied: &[Applied], target: &Target<'_>) -> HashMap<u64, CollInfo> {
        let s = self.read_state();
        let info = |c: &crate::collection::Collection| CollInfo {
            name: c.name.clone(),
            policy: c.policy.clone(),
            hash_key: c.hash_key,
        };
        match target {
            Target::Live => {
                let mut out = HashMap::new();
                for a in applied {
                    let n = a.rec.coll();
                    if let (false, Some(c)) = (out.contains_key(&n), s.colls.get(&n)) {
                        out.insert(n, info(c));
                    }
                }
                out
            }
            Target::Shadow { coll, .. } => {
                s.colls.get(coll).map(|c| HashMap::from([(*coll, info(c))])).unwrap_or_default()
            }
        }
    }

    /// Looks up, before the batch, every (collection, id) the batch touches.
    fn prefetch<'a>(
        &self,
        applied: &'a [Applied],
        infos: &HashMap<u64, CollInfo>,
        target: &Target<'_>,
        pooled: bool,
    ) -> Result<HashMap<(u64, &'a str), Current<'a>>> {
        use rayon::prelude::*;
        let mut found: HashMap<(u64, &'a str), Current<'a>> = HashMap::with_capacity(applied.len());
        let mut pending: Vec<Pending<'a>> = Vec::new();
        {
            // One hold of the state lock for the buffers of the whole batch.
            let guard;
            let mut runs_of: HashMap<u64, Arc<Vec<Arc<Run>>>> = HashMap::new();
            let lsm_of = |n: u64| -> Option<&Lsm> {
                match target {
                    Target::Live => None,
                    Target::Shadow { coll, lsm } if *coll == n => Some(lsm),
                    Target::Shadow { .. } => None,
                }
            };
            guard = matches!(target, Target::Live).then(|| self.read_state());
            for a in applied {
                let coll = a.rec.coll();
                let id = a.rec.id();
                if !infos.contains_key(&coll) || found.contains_key(&(coll, id)) {
                    continue;
                }
                let lsm = match (&guard, lsm_of(coll)) {
                    (_, Some(l)) => l,
                    (Some(s), None) => match s.colls.get(&coll) {
                        Some(c) => &c.lsm,
                        None => continue,
                    },
                    (None, None) => continue,
                };
                match lsm.ids.probe(id.as_bytes()) {
                    Ok(v) => {
                        let e = self.decode_entry(&infos[&coll].name, id, &v)?;
                        found.insert((coll, id), e.map(|e| (e, None)));
                    }
                    Err(runs) => {
                        let runs = runs_of.entry(coll).or_insert_with(|| Arc::new(runs)).clone();
                        // A placeholder until the runs answer, so the id is looked up once.
                        found.insert((coll, id), None);
                        pending.push(Pending { coll, id, runs });
                    }
                }
            }
        }
        let look = |p: &Pending<'_>| {
            let ctx = self.ctx(Some(&infos[&p.coll].name));
            lookup_runs(&ctx, &p.runs, p.id.as_bytes())
        };
        // The commit leader looks up on its own thread (see `PageCodec::seal_run_here`); replay and reindex,
        // which nothing else competes with, across the pool.
        let answers: Vec<Result<Option<Vec<u8>>>> = if pooled {
            self.in_pool(|| pending.par_iter().map(look).collect())
        } else {
            pending.iter().map(look).collect()
        };
        for (p, a) in pending.iter().zip(answers) {
            if let Some(v) = a? {
                let e = self.decode_entry(&infos[&p.coll].name, p.id, &v)?;
                found.insert((p.coll, p.id), e.map(|e| (e, None)));
            }
        }
        Ok(found)
    }

    fn decode_entry(&self, coll: &str, id: &str, v: &[u8]) -> Result<Option<DocEntry>> {
        DocEntry::decode(v)
            .map_err(|e| integrity(Some(coll), &*self.storage, "", 0, format!("id map entry of {id:?}: {e}")))
    }

    /// Works out the changes `applied` (in log order) make; records of collections that are gone are
    /// skipped. With `pooled`, the lookups of what the records replace run across the pool.
    pub(crate) fn plan_changes(
        &self,
        applied: Vec<Applied>,
        target: &Target<'_>,
        pooled: bool,
    ) -> Result<BTreeMap<u64, Changes>> {
        let infos = self.infos(&applied, target);
        let mut current = self.prefetch(&applied, &infos, target, pooled)?;
        let mut out: BTreeMap<u64, Changes> = BTreeMap::new();
        for Applied { loc, rec, hashes, mode } in &applied {
            let coll = rec.coll();
            let Some(info) = infos.get(&coll) else { continue };
            let ch = out.entry(coll).or_default();
            let id = rec.id();
            let key = (coll, id);
            let old = current.get(&key).cloned().flatten();
            match rec {
                Record::Put { .. } => {
                    let attachments = old.as_ref().map(|o| o.0.attachments.clone()).unwrap_or_default();
                    let entry = DocEntry { loc: *loc, attachments };
                    let index = match old {
                        None => {
                            ch.docs += 1;
                            index_diff(&[], hashes)
                        }
                        // The same document at a new place: its index entries stand.
                        Some(_) if *mode == Mode::Rewrite => Vec::new(),
                        Some((o, known)) => {
                            let before = match known {
                                Some(h) => h,
                                None => Cow::Owned(self.hashes_at(info, o.loc)?),
                            };
                            index_diff(&before, hashes)
                        }
                    };
                    ch.changes.push(Change { id: id.as_bytes().to_vec(), entry: entry.encode(), index });
                    current.insert(key, Some((entry, Some(Cow::Borrowed(hashes.as_slice())))));
                }
                Record::Delete { .. } => {
                    if let Some((o, known)) = old {
                        ch.docs -= 1;
                        let before = match known {
                            Some(h) => h,
                            None => Cow::Owned(self.hashes_at(info, o.loc)?),
                        };
                        let index = index_diff(&before, &[]);
                        ch.changes.push(Change { id: id.as_bytes().to_vec(), entry: DELETED.to_vec(), index });
                    }
                    current.insert(key, None);
                }
                Record::Attach { name, len, extents, .. } => {
                    if let Some((mut e, known)) = old {
                        e.attachments
                            .insert(name.clone(), crate::collection::AttEntry { len: *len, extents: extents.clone() });
                        ch.changes.push(Change { id: id.as_bytes().to_vec(), entry: e.encode(), index: Vec::new() });
                        current.insert(key, Some((e, known)));
                    }
                }
                Record::Detach { name, .. } => {
                    if let Some((mut e, known)) = old {
                        e.attachments.remove(name);
                        ch.changes.push(Change { id: id.as_bytes().to_vec(), entry: e.encode(), index: Vec::new() });
                        current.insert(key, Some((e, known)));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The index hashes of the document at `loc` (read back from the log).
    fn hashes_at(&self, info: &CollInfo, loc: Loc) -> Result<Vec<u64>> {
        if matches!(info.policy, IndexPolicy::None) {
            return Ok(Vec::new());
        }
        let doc = self.read_doc(&info.name, loc)?;
        Ok(info.hashes_of(&doc))
    }
}

/// The index entries to delete (hashes in `before` but not `after`) and to add (in `after` but not
/// `before`); both lists sorted.
fn index_diff(before: &[u64], after: &[u64]) -> Vec<(u64, bool)> {
    let mut out = Vec::new();
    for &h in before {
        if after.binary_search(&h).is_err() {
            out.push((h, false));
        }
    }
    for &h in after {
        if before.binary_search(&h).is_err() {
            out.push((h, true));
        }
    }
    out
}
