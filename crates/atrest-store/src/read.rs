//! Reads: point lookups in the id map, documents by location, ordered scans and equality queries.
//!
//! Many documents share a page, so a set of document reads is sorted, merged into runs of adjacent pages,
//! and each run is read with one I/O and opened as one batch across threads: a scan decrypts each page
//! once, not once per document on it. Single-page reads (a `get`) go through the page cache.

use crate::collection::{DELETED, DocEntry, LIVE};
use crate::error::{Result, StoreError};
use crate::files::seg_name;
use crate::index::hash::index_hash;
use crate::json::{self, IndexPolicy};
use crate::log::record::{Loc, Record};
use crate::manifest::integrity;
use crate::pages::{BODY_HEADER, BodyHeader, CONTINUES};
use crate::storage::read_exact_at;
use crate::store::{Document, Inner};
use atrest_core::page::PageKind;
use std::sync::Arc;

/// Longest run of pages read at once.
const MAX_RUN_PAGES: u64 = 256;
/// Documents read per step of a scan.
pub(crate) const SCAN_STEP: usize = 1000;

/// Opened pages: one buffer read in one I/O, or pages from the cache.
enum Pages {
    Buf(Vec<u8>, usize),
    Cached(Vec<Arc<[u8]>>),
}

impl Pages {
    fn page(&self, i: usize) -> Option<&[u8]> {
        match self {
            Pages::Buf(b, size) => b.get(i * size..(i + 1) * size),
            Pages::Cached(v) => v.get(i).map(|p| &p[..]),
        }
    }
}

impl Inner {
    /// Pages a record at `loc` occupies.
    fn pages_of(&self, loc: &Loc) -> u64 {
        (loc.offset as u64 + u64::from(loc.len)).div_ceil(self.codec.payload_cap() as u64).max(1)
    }

    /// The collection's number and the entry of `id`, if it is live.
    pub(crate) fn lookup(&self, collection: &str, id: &str) -> Result<(u64, Option<DocEntry>)> {
        let (number, probe) = {
            let s = self.read_state();
            let c = s.coll(collection)?;
            (c.number, c.lsm.ids.probe(id.as_bytes()))
        };
        let value = match probe {
            Ok(v) => Some(v),
            Err(runs) => crate::collection::lookup_runs(&self.ctx(Some(collection)), &runs, id.as_bytes())?,
        };
        let entry = match value {
            Some(v) => DocEntry::decode(&v).map_err(|e| {
                integrity(Some(collection), &*self.storage, "", 0, format!("id map entry of {id:?}: {e}"))
            })?,
            None => None,
        };
        Ok((number, entry))
    }

    /// The document `id`, or `None`.
    pub(crate) fn get(&self, collection: &str, id: &str) -> Result<Option<Vec<u8>>> {
        match self.lookup(collection, id)?.1 {
            Some(e) => self.read_doc(collection, e.loc).map(Some),
            None => Ok(None),
        }
    }

    /// Live ids and entries in id order from `start` (inclusive): at most `limit`, possibly fewer before
    /// the end (call again from after the last).
    pub(crate) fn entries_from(&self, collection: &str, start: &str, limit: usize) -> Result<Vec<(String, DocEntry)>> {
        let view = self.read_state().coll(collection)?.lsm.ids.view_from(start.as_bytes(), limit);
        let cut = view.cut.clone();
        let ctx = self.ctx(Some(collection));
        let mut out = Vec::new();
        for e in view.merged(&ctx, start.as_bytes(), false) {
            let (k, v) = e?;
            if cut.as_ref().is_some_and(|c| k > *c) || out.len() == limit {
                break;
            }
            if v == DELETED {
                continue;
            }
            let id = String::from_utf8(k).map_err(|_| ctx.fail("", 0, "an id in the id map is not UTF-8".into()))?;
            let entry = DocEntry::decode(&v)
                .map_err(|e| ctx.fail("", 0, format!("id map entry of {id:?}: {e}")))?
                .ok_or_else(|| ctx.fail("", 0, "deleted entry where a live one was read".into()))?;
            out.push((id, entry));
        }
        Ok(out)
    }

    /// Live ids in order, from `start` (inclusive), at most `limit`.
    pub(crate) fn ids(&self, collection: &str, start: &str, limit: usize) -> Result<Vec<String>> {
        let mut out = Vec::new();
        let mut from = start.to_owned();
        while out.len() < limit {
            let step = self.entries_from(collection, &from, (limit - out.len()).min(SCAN_STEP))?;
            let Some(last) = step.last() else { break };
            from = format!("{}\0", last.0);
            out.extend(step.into_iter().map(|e| e.0));
        }
        Ok(out)
    }

    /// One step of a scan: documents in id order from `start`.
    pub(crate) fn scan_step(&self, collection: &str, start: &str) -> Result<Vec<Document>> {
        let entries = self.entries_from(collection, start, SCAN_STEP)?;
        let docs = self.read_docs(collection, &entries.iter().map(|e| e.1.loc).collect::<Vec<_>>(), false)?;
        Ok(entries.into_iter().map(|e| e.0).zip(docs).collect())
    }

    /// Documents whose value at `pointer` equals `value` (a JSON scalar), in id order.
    pub(crate) fn find(&self, collection: &str, pointer: &str, value: &serde_json::Value) -> Result<Vec<Document>> {
        let (ids, wanted) = self.find_ids(collection, pointer, value)?;
        self.find_docs(collection, pointer, &wanted, &ids)
    }

    /// The ids the index lists for `value` at `pointer` (a superset: an entry is a hash), in id order, and the
    /// value's canonical form to check the documents against.
    pub(crate) fn find_ids(
        &self,
        collection: &str,
        pointer: &str,
        value: &serde_json::Value,
    ) -> Result<(Vec<String>, Vec<u8>)> {
        json::check_pointer(pointer)?;
        let wanted = json::canonical_scalar(value)?;
        let (view, hash) = {
            let s = self.read_state();
            let c = s.coll(collection)?;
            if !c.policy.covers(pointer) || matches!(c.policy, IndexPolicy::None) {
                return Err(StoreError::NotIndexed { collection: collection.to_owned(), pointer: pointer.to_owned() });
            }
            let hash = index_hash(&c.hash_key, pointer, &wanted);
            (c.lsm.index.view_prefix(&hash.to_be_bytes()), hash)
        };
        let prefix = hash.to_be_bytes();
        let ctx = self.ctx(Some(collection));
        let mut ids = Vec::new();
        for e in view.merged(&ctx, &prefix, true) {
            let (k, v) = e?;
            if !k.starts_with(&prefix) {
                break;
            }
            if v == LIVE {
                let id = String::from_utf8(k[8..].to_vec())
                    .map_err(|_| ctx.fail("", 0, "an id in the index is not UTF-8".into()))?;
                ids.push(id);
            }
        }
        Ok((ids, wanted))
    }

    /// The documents of `ids` (from [`Inner::find_ids`]) that exist and hold `wanted` at `pointer` now.
    pub(crate) fn find_docs(
        &self,
        collection: &str,
        pointer: &str,
        wanted: &[u8],
        ids: &[String],
    ) -> Result<Vec<Document>> {
        let mut found = Vec::new();
        for id in ids {
            if let (_, Some(e)) = self.lookup(collection, id)? {
                found.push((id.clone(), e.loc));
            }
        }
        let docs = self.read_docs(collection, &found.iter().map(|f| f.1).collect::<Vec<_>>(), true)?;
        // An index entry is a hash: keep only the documents that really hold the value there now.
        Ok(found
            .into_iter()
            .map(|f| f.0)
            .zip(docs)
            .filter(|(_, doc)| json::canonical_at(doc, pointer).as_deref() == Some(wanted))
            .collect())
    }

    /// Reads the documents at `locs`, in the same order.
    pub(crate) fn read_docs(&self, collection: &str, locs: &[Loc], cache: bool) -> Result<Vec<Vec<u8>>> {
        let mut order: Vec<usize> = (0..locs.len()).collect();
        order.sort_by_key(|&i| (locs[i].seg, locs[i].page));
        let mut out: Vec<Vec<u8>> = vec![Vec::new(); locs.len()];
        let mut i = 0;
        while i < order.len() {
            let first = locs[order[i]];
            let mut end = first.page + self.pages_of(&first);
            let mut j = i + 1;
            while j < order.len() {
                let l = locs[order[j]];
                let l_end = l.page + self.pages_of(&l);
                if l.seg != first.seg || l.page > end || l_end.max(end) - first.page > MAX_RUN_PAGES {
                    break;
                }
                end = end.max(l_end);
                j += 1;
            }
            let count = (end - first.page) as usize;
            let pages = if cache && count == 1 {
                Pages::Cached(vec![self.log_page(collection, first.seg, first.page)?])
            } else {
                Pages::Buf(self.read_pages(collection, first.seg, first.page, count)?, self.codec.size.bytes())
            };
            for &k in &order[i..j] {
                out[k] = self.extract(collection, &pages, first.page, locs[k])?;
            }
            i = j;
        }
        Ok(out)
    }

    /// Reads and decodes the document at `loc` (through the page cache).
    pub(crate) fn read_doc(&self, collection: &str, loc: Loc) -> Result<Vec<u8>> {
        Ok(self.read_docs(collection, &[loc], true)?.pop().unwrap_or_default())
    }

    /// One log page, opened, through the cache.
    fn log_page(&self, collection: &str, seg: u64, no: u64) -> Result<Arc<[u8]>> {
        self.cache.follow(self.codec.keys_revision());
        if let Some(p) = self.cache.get((seg, no)) {
            return Ok(p);
        }
        let buf = self.read_pages(collection, seg, no, 1)?;
        let page: Arc<[u8]> = buf.into();
        self.cache.insert((seg, no), page.clone());
        Ok(page)
    }

    /// Reads `count` pages of segment `seg` from `first`, opens them, and returns the buffer (bodies decrypted
    /// in place), or an integrity error naming the collection, file and offset.
    pub(crate) fn read_pages(&self, collection: &str, seg: u64, first: u64, count: usize) -> Result<Vec<u8>> {
        let size = self.codec.size.bytes();
        let file = self.file(seg)?;
        let name = seg_name(seg);
        let mut buf = vec![0u8; count * size];
        let off = first * size as u64;
        let n =
            read_exact_at(&*file, &mut buf, off).map_err(StoreError::io("reading", self.storage.describe(&name)))?;
        let fail = |i: usize, detail: String| {
            integrity(Some(collection), &*self.storage, &name, off + (i * size) as u64, detail)
        };
        if n != buf.len() {
            return Err(fail(n / size, "page missing: the file ends early".into()));
        }
        let results = self.codec.open_run(seg, first, &mut buf);
        for (i, r) in results.into_iter().enumerate() {
            r.map_err(|e| crate::pages::page_error(e, |d| fail(i, d)))?;
        }
        Ok(buf)
    }

    /// Takes the Put record at `loc` out of opened pages that start at page `base`.
    fn extract(&self, collection: &str, pages: &Pages, base: u64, loc: Loc) -> Result<Vec<u8>> {
        let size = self.codec.size.bytes();
        let name = seg_name(loc.seg);
        let fail = |detail: &str| {
            integrity(Some(collection), &*self.storage, &name, loc.page * size as u64, detail.to_owned())
        };
        let n = self.pages_of(&loc) as usize;
        let start = (loc.page - base) as usize;
        let mut rec = Vec::with_capacity(loc.len as usize);
        let mut offset = loc.offset as usize;
        for i in 0..n {
            let page = pages.page(start + i).ok_or_else(|| fail("record location is outside the pages read"))?;
            let body = &page[self.codec.size.body_range()];
            let h = BodyHeader::read(body, PageKind::Data).map_err(fail)?;
            if h.kind != PageKind::Data || offset > h.used || (i + 1 < n && h.flags & CONTINUES == 0) {
                return Err(fail("record location does not match its pages"));
            }
            let take = (h.used - offset).min(loc.len as usize - rec.len());
            rec.extend_from_slice(&body[BODY_HEADER + offset..BODY_HEADER + offset + take]);
            offset = 0;
        }
        if rec.len() != loc.len as usize || rec.len() < 4 {
            return Err(fail("record is shorter than its location says"));
        }
        match Record::decode(&rec[4..]) {
            Ok(Record::Put { doc, .. }) => Ok(doc),
            Ok(_) => Err(fail("location points at a record that is not a document")),
            Err(e) => Err(fail(&e.to_string())),
        }
    }
}
