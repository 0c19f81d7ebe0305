//! Reading documents by location. Many documents share a page, so a set of reads is sorted, merged into runs
//! of adjacent pages, and each run is read with one I/O and opened as one batch across threads: a scan or a
//! rekey decrypts each page once, not once per document on it.

use crate::error::Result;
use crate::log::seg_name;
use crate::manifest::integrity;
use crate::pages::{BODY_HEADER, BodyHeader, CONTINUES};
use crate::record::{Loc, Record};
use crate::store::Store;

/// Longest run of pages read at once.
const MAX_RUN_PAGES: u64 = 256;

impl Store {
    /// Pages a record at `loc` occupies.
    fn pages_of(&self, loc: &Loc) -> u64 {
        (loc.offset as u64 + u64::from(loc.len)).div_ceil(self.codec.payload_cap() as u64).max(1)
    }

    /// Reads the documents at `locs`, in the same order.
    pub(crate) fn read_docs(&self, collection: &str, locs: &[Loc]) -> Result<Vec<Vec<u8>>> {
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
            let buf = self.read_pages(collection, first.seg, first.page, (end - first.page) as usize)?;
            for &k in &order[i..j] {
                out[k] = self.extract(collection, &buf, first.page, locs[k])?;
            }
            i = j;
        }
        Ok(out)
    }

    /// Reads and decodes the document at `loc`.
    pub(crate) fn read_doc(&self, collection: &str, loc: Loc) -> Result<Vec<u8>> {
        Ok(self.read_docs(collection, &[loc])?.pop().unwrap_or_default())
    }

    /// Takes the Put record at `loc` out of opened pages `buf` that start at page `base`.
    fn extract(&self, collection: &str, buf: &[u8], base: u64, loc: Loc) -> Result<Vec<u8>> {
        let size = self.codec.size.bytes();
        let name = seg_name(loc.seg);
        let fail = |detail: &str| {
            integrity(Some(collection), &*self.storage, &name, loc.page * size as u64, detail.to_owned())
        };
        let pages = self.pages_of(&loc) as usize;
        let start = (loc.page - base) as usize * size;
        let Some(span) = buf.get(start..start + pages * size) else {
            return Err(fail("record location is outside the pages read"));
        };
        let mut rec = Vec::with_capacity(loc.len as usize);
        let mut offset = loc.offset as usize;
        for (i, page) in span.chunks_exact(size).enumerate() {
            let body = &page[self.codec.size.body_range()];
            let h = BodyHeader::read(body).map_err(fail)?;
            if offset > h.used || (i + 1 < pages && h.flags & CONTINUES == 0) {
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
