//! A collection: its catalog facts and its two LSM trees — the id map (id → where the document is, and
//! its attachments) and the secondary index (keyed hash of pointer and value, then id → live) — and the
//! lookups over them.
//!
//! ```text
//! id map key    = id (UTF-8)
//! id map value  = 0                                          (deleted)
//!               | 1 | seg u64 | page u64 | offset u32 | len u32   (the Put record's location)
//!                   | attachment count varint | (name varint-bytes | length varint
//!                   | extent count varint | (segment varint | first page varint | pages varint)*)*
//! index key     = hash u64 BE | id                           (hash = index_hash(hash key, pointer, value))
//! index value   = 0 (deleted) | 1 (live)
//! ```
//!
//! An index entry says only that the document had a value with that hash when it was written: a lookup
//! re-checks every candidate against the document (two values can share a hash, and an entry of a replaced
//! document is deleted in the same commit that replaces it).

use crate::codec::{Dec, DecodeError, Enc};
use crate::error::Result;
use crate::index::Ctx;
use crate::index::indexbuf::IndexBuf;
use crate::index::memtable::{Buffer, Memtable};
use crate::index::merge::{MergeIter, Source};
use crate::index::reader::{Entry, Run};
use crate::index::run::RunKind;
use crate::json::IndexPolicy;
use crate::log::record::{Extent, Loc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The value of a deleted key.
pub(crate) const DELETED: &[u8] = &[0];
/// The value of a live index entry.
pub(crate) const LIVE: &[u8] = &[1];

/// A stored attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttEntry {
    pub(crate) len: u64,
    pub(crate) extents: Vec<Extent>,
}

/// Where a live document is, and its attachments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DocEntry {
    pub(crate) loc: Loc,
    pub(crate) attachments: BTreeMap<String, AttEntry>,
}

impl DocEntry {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut e = Enc::new();
        e.u8(1).u64(self.loc.seg).u64(self.loc.page).u32(self.loc.offset).u32(self.loc.len);
        e.varint(self.attachments.len() as u64);
        for (name, a) in &self.attachments {
            e.varint(name.len() as u64).raw(name.as_bytes()).varint(a.len).varint(a.extents.len() as u64);
            for x in &a.extents {
                e.varint(x.seg).varint(x.first).varint(u64::from(x.pages));
            }
        }
        e.finish()
    }

    /// Decodes an id map value: `None` for a deletion.
    pub(crate) fn decode(b: &[u8]) -> Result<Option<DocEntry>, DecodeError> {
        let mut d = Dec::new(b, "id map entry");
        match d.u8()? {
            0 if d.is_empty() => return Ok(None),
            1 => {}
            _ => return Err(d.fail("unknown entry tag")),
        }
        let loc = Loc { seg: d.u64()?, page: d.u64()?, offset: d.u32()?, len: d.u32()? };
        let n = d.varint()?;
        let mut attachments = BTreeMap::new();
        for _ in 0..n {
            let name = String::from_utf8(d.var_bytes()?.to_vec()).map_err(|_| d.fail("name is not UTF-8"))?;
            let len = d.varint()?;
            let nx = d.varint()?;
            if nx > d.remaining() as u64 {
                return Err(d.fail("extent count exceeds the bytes present"));
            }
            let mut extents = Vec::with_capacity(nx as usize);
            for _ in 0..nx {
                let seg = d.varint()?;
                let first = d.varint()?;
                let pages = u32::try_from(d.varint()?).map_err(|_| d.fail("extent longer than 2^32 pages"))?;
                extents.push(Extent { seg, first, pages });
            }
            attachments.insert(name, AttEntry { len, extents });
        }
        if !d.is_empty() {
            return Err(d.fail("trailing bytes"));
        }
        Ok(Some(DocEntry { loc, attachments }))
    }
}

/// The key of an index entry.
pub(crate) fn index_key(hash: u64, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + id.len());
    k.extend_from_slice(&hash.to_be_bytes());
    k.extend_from_slice(id.as_bytes());
    k
}

/// One LSM tree: the buffer, the buffer being written out as a run (during a checkpoint), and the runs,
/// newest first.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tree<B: Buffer> {
    pub(crate) mem: B,
    pub(crate) frozen: Option<Arc<B>>,
    pub(crate) runs: Vec<Arc<Run>>,
}

/// A collection's two trees.
#[derive(Debug, Default, Clone)]
pub(crate) struct Lsm {
    pub(crate) ids: Tree<Memtable>,
    pub(crate) index: Tree<IndexBuf>,
}

impl Lsm {
    /// The runs of one tree, newest first.
    pub(crate) fn runs(&self, kind: RunKind) -> &Vec<Arc<Run>> {
        match kind {
            RunKind::Ids => &self.ids.runs,
            RunKind::Index => &self.index.runs,
        }
    }

    /// The runs of one tree, to change.
    pub(crate) fn runs_mut(&mut self, kind: RunKind) -> &mut Vec<Arc<Run>> {
        match kind {
            RunKind::Ids => &mut self.ids.runs,
            RunKind::Index => &mut self.index.runs,
        }
    }

    /// Every run of both trees.
    pub(crate) fn all_runs(&self) -> impl Iterator<Item = &Arc<Run>> {
        self.ids.runs.iter().chain(&self.index.runs)
    }

    /// Bytes of the buffers that take writes (frozen ones not included).
    pub(crate) fn live_bytes(&self) -> usize {
        self.ids.mem.bytes() + self.index.mem.bytes()
    }

    /// Bytes of the buffers, frozen ones included.
    pub(crate) fn mem_bytes(&self) -> usize {
        let buf = |m: usize, f: Option<usize>| m + f.unwrap_or(0);
        buf(self.ids.mem.bytes(), self.ids.frozen.as_ref().map(|f| f.bytes()))
            + buf(self.index.mem.bytes(), self.index.frozen.as_ref().map(|f| f.bytes()))
    }
}

/// A collection.
#[derive(Debug, Clone)]
pub(crate) struct Collection {
    pub(crate) number: u64,
    pub(crate) name: String,
    pub(crate) policy: IndexPolicy,
    /// The key of its index hashes (random, kept in the sealed catalog).
    pub(crate) hash_key: [u8; 16],
    /// Live documents.
    pub(crate) docs: u64,
    /// Live documents as of the checkpoint (what the catalog records: replay counts the rest again).
    pub(crate) ckpt_docs: u64,
    pub(crate) lsm: Lsm,
}

impl<B: Buffer> Tree<B> {
    /// Starts a lookup of `key`: the buffer's entry, or the runs to look in.
    pub(crate) fn probe(&self, key: &[u8]) -> std::result::Result<Vec<u8>, Vec<Arc<Run>>> {
        if let Some(v) = self.mem.get(key).or_else(|| self.frozen.as_ref().and_then(|f| f.get(key))) {
            return Ok(v);
        }
        Err(self.runs.clone())
    }

    /// What an ordered read from `from` needs, taken under the state lock: the buffers' entries from `from`
    /// (at most `limit` of each, newest buffer first), and the runs. When a buffer had more than `limit`
    /// entries, `cut` is the smallest last key among those cut short: the merge is complete only up to it.
    pub(crate) fn view_from(&self, from: &[u8], limit: usize) -> View {
        let mut bufs = Vec::new();
        let mut cut: Option<Vec<u8>> = None;
        for m in std::iter::once(&self.mem).chain(self.frozen.as_deref()) {
            let mut e = m.range_from(from, limit + 1);
            if e.len() > limit {
                e.truncate(limit);
                let last = e[limit - 1].0.clone();
                cut = Some(match cut {
                    Some(c) if c < last => c,
                    _ => last,
                });
            }
            bufs.push(e);
        }
        View { bufs, cut, runs: self.runs.clone() }
    }

    /// Every buffered entry with key prefix `prefix`, newest buffer first, and the runs.
    pub(crate) fn view_prefix(&self, prefix: &[u8]) -> View {
        let bufs = std::iter::once(&self.mem).chain(self.frozen.as_deref()).map(|m| m.with_prefix(prefix)).collect();
        View { bufs, cut: None, runs: self.runs.clone() }
    }
}

/// A consistent view of a tree from a key on, read without the state lock.
pub(crate) struct View {
    pub(crate) bufs: Vec<Vec<Entry>>,
    pub(crate) cut: Option<Vec<u8>>,
    pub(crate) runs: Vec<Arc<Run>>,
}

impl View {
    /// The merged entries (deletions included) from `from`, in key order, newest winning.
    pub(crate) fn merged<'c>(self, ctx: &'c Ctx<'c>, from: &[u8], cache: bool) -> MergeIter<'c> {
        let mut sources: Vec<Source<'c>> = Vec::new();
        for b in self.bufs {
            sources.push(Box::new(b.into_iter().map(Ok)));
        }
        for r in &self.runs {
            sources.push(Box::new(r.iter(ctx, from, cache)));
        }
        MergeIter::new(sources)
    }
}

/// Finishes an id lookup in the runs, newest first.
pub(crate) fn lookup_runs(ctx: &Ctx<'_>, runs: &[Arc<Run>], key: &[u8]) -> Result<Option<Vec<u8>>> {
    for r in runs {
        if let Some(v) = r.get(ctx, key)? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}
