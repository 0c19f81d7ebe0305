//! Attachments: named binary streams on a document, stored as sealed chunk pages and streamed in and out a
//! bounded number of pages at a time. The chunks are written without a sync; the record that names them is
//! committed (and synced) after the last chunk, so a crash mid-upload leaves only unreferenced pages.

use crate::commit::{Mode, Op};
use crate::error::{Result, StoreError};
use crate::log::record::{Extent, Record};
use crate::store::Inner;
use std::io::Read;

/// Pages of attachment data written or read per step.
const STEP_PAGES: usize = 64;

/// Longest attachment name in bytes.
pub const MAX_ATTACHMENT_NAME: usize = 1024;

fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_ATTACHMENT_NAME {
        return Err(StoreError::BadAttachmentName { name: name.to_owned() });
    }
    Ok(())
}

impl Inner {
    /// Stores the bytes of `input` as attachment `name` of document `id` (replacing one of that name).
    /// Durable on return; returns its length.
    pub(crate) fn attach(&self, collection: &str, id: &str, name: &str, input: impl Read) -> Result<u64> {
        check_name(name)?;
        let _m = self.maint_shared();
        self.attach_unlocked(collection, id, name, input, true)
    }

    pub(crate) fn attach_unlocked(
        &self,
        collection: &str,
        id: &str,
        name: &str,
        mut input: impl Read,
        sync: bool,
    ) -> Result<u64> {
        let coll = self.doc_coll(collection, id)?;
        let step = STEP_PAGES * self.codec.payload_cap();
        let mut extents: Vec<Extent> = Vec::new();
        let mut len = 0u64;
        loop {
            let mut buf = Vec::with_capacity(step);
            (&mut input).take(step as u64).read_to_end(&mut buf).map_err(StoreError::Input)?;
            if buf.is_empty() {
                break;
            }
            len += buf.len() as u64;
            let full = buf.len() == step;
            for x in self.submit(vec![Op::Chunks(coll, buf)], false, Mode::Normal)? {
                match extents.last_mut() {
                    Some(l) if l.seg == x.seg && l.first + u64::from(l.pages) == x.first => l.pages += x.pages,
                    _ => extents.push(x),
                }
            }
            if !full {
                break;
            }
        }
        let rec = Record::Attach { coll, id: id.to_owned(), name: name.to_owned(), len, extents };
        self.submit(vec![Op::Rec(rec, Vec::new())], sync, Mode::Normal)?;
        Ok(len)
    }

    /// The collection's number and the entry of a live document, or `NoSuchDocument`.
    fn doc_entry(&self, collection: &str, id: &str) -> Result<(u64, crate::collection::DocEntry)> {
        match self.lookup(collection, id)? {
            (n, Some(e)) => Ok((n, e)),
            (_, None) => Err(StoreError::NoSuchDocument { collection: collection.to_owned(), id: id.to_owned() }),
        }
    }

    fn doc_coll(&self, collection: &str, id: &str) -> Result<u64> {
        self.doc_entry(collection, id).map(|e| e.0)
    }

    /// Names and lengths of a document's attachments.
    pub(crate) fn attachments(&self, collection: &str, id: &str) -> Result<Vec<(String, u64)>> {
        Ok(self.doc_entry(collection, id)?.1.attachments.iter().map(|(n, a)| (n.clone(), a.len)).collect())
    }

    /// Removes an attachment; whether it existed. Durable on return.
    pub(crate) fn detach(&self, collection: &str, id: &str, name: &str) -> Result<bool> {
        let _m = self.maint_shared();
        if !self.attachments(collection, id)?.iter().any(|(n, _)| n == name) {
            return Ok(false);
        }
        let coll = self.doc_coll(collection, id)?;
        let rec = Record::Detach { coll, id: id.to_owned(), name: name.to_owned() };
        self.submit(vec![Op::Rec(rec, Vec::new())], true, Mode::Normal)?;
        Ok(true)
    }

    /// A reader that streams attachment `name` of document `id`, or `None` if there is none.
    pub(crate) fn attachment_reader<'a>(
        &'a self,
        collection: &str,
        id: &str,
        name: &str,
    ) -> Result<Option<AttachmentReader<'a>>> {
        let _m = self.maint_shared();
        match self.attachment_reader_unlocked(collection, id, name) {
            Ok(r) => Ok(Some(r)),
            Err(StoreError::NoSuchDocument { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub(crate) fn attachment_reader_unlocked<'a>(
        &'a self,
        collection: &str,
        id: &str,
        name: &str,
    ) -> Result<AttachmentReader<'a>> {
        let none = || StoreError::NoSuchDocument { collection: collection.to_owned(), id: format!("{id} / {name}") };
        let e = self.doc_entry(collection, id).map_err(|e| match e {
            StoreError::NoSuchDocument { .. } => none(),
            e => e,
        })?;
        let a = e.1.attachments.get(name).ok_or_else(none)?;
        Ok(AttachmentReader {
            store: self,
            collection: collection.to_owned(),
            extents: a.extents.clone(),
            remaining: a.len,
            next: (0, 0),
            buf: Vec::new(),
            pos: 0,
        })
    }
}

/// Streams an attachment, opening [`STEP_PAGES`] pages at a time. A page that fails to open is an
/// [`std::io::ErrorKind::InvalidData`] error wrapping the store's integrity error.
pub struct AttachmentReader<'a> {
    store: &'a Inner,
    collection: String,
    extents: Vec<Extent>,
    remaining: u64,
    /// Next (extent index, page within it) to read.
    next: (usize, u32),
    buf: Vec<u8>,
    pos: usize,
}

impl AttachmentReader<'_> {
    /// Bytes not yet read.
    pub fn remaining(&self) -> u64 {
        self.remaining + (self.buf.len() - self.pos) as u64
    }

    fn refill(&mut self) -> Result<()> {
        self.buf.clear();
        self.pos = 0;
        let Some(x) = self.extents.get(self.next.0).copied() else {
            if self.remaining > 0 {
                return Err(StoreError::Integrity {
                    collection: Some(self.collection.clone()),
                    file: String::new(),
                    offset: 0,
                    detail: "attachment is shorter than recorded".into(),
                });
            }
            return Ok(());
        };
        let n = (x.pages - self.next.1).min(STEP_PAGES as u32);
        let first = x.first + u64::from(self.next.1);
        let pages = self.store.read_pages(&self.collection, x.seg, first, n as usize)?;
        let size = self.store.codec.size.bytes();
        for (i, page) in pages.chunks_exact(size).enumerate() {
            let body = &page[self.store.codec.size.body_range()];
            let h = crate::pages::BodyHeader::read(body, atrest_core::page::PageKind::Attachment).map_err(|d| {
                StoreError::Integrity {
                    collection: Some(self.collection.clone()),
                    file: self.store.storage.describe(&crate::files::seg_name(x.seg)),
                    offset: (first + i as u64) * size as u64,
                    detail: d.into(),
                }
            })?;
            if h.kind != atrest_core::page::PageKind::Attachment {
                return Err(StoreError::Integrity {
                    collection: Some(self.collection.clone()),
                    file: self.store.storage.describe(&crate::files::seg_name(x.seg)),
                    offset: (first + i as u64) * size as u64,
                    detail: format!("attachment extent points at a {:?} page", h.kind),
                });
            }
            let take = (h.used as u64).min(self.remaining) as usize;
            self.buf.extend_from_slice(&body[crate::pages::BODY_HEADER..crate::pages::BODY_HEADER + take]);
            self.remaining -= take as u64;
        }
        self.next.1 += n;
        if self.next.1 == x.pages {
            self.next = (self.next.0 + 1, 0);
        }
        Ok(())
    }
}

impl Read for AttachmentReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.buf.len() {
            if self.remaining == 0 {
                return Ok(0);
            }
            self.refill().map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            if self.buf.is_empty() && self.remaining > 0 && self.next.0 >= self.extents.len() {
                return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "attachment truncated"));
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
