//! The index on disk: each collection's id map and secondary index as a log-structured merge tree.
//!
//! Writes go to a bounded in-memory buffer (`memtable.rs`); a checkpoint writes the buffer as new
//! immutable sorted runs of sealed pages (`run.rs`, read by `reader.rs`) and the manifest names them; runs
//! are merged in the background (`merge.rs`) so a lookup touches a bounded number of them. Lookups go
//! newest first: the buffer, then the runs, and the first entry found for a key wins (a deletion is an
//! entry too). Pages are read through one bounded cache (`cache.rs`).

pub(crate) mod bloom;
pub(crate) mod cache;
pub(crate) mod hash;
pub(crate) mod indexbuf;
pub(crate) mod memtable;
pub(crate) mod merge;
pub(crate) mod reader;
pub(crate) mod run;

use crate::error::{Result, StoreError};
use crate::pages::{BodyHeader, PageCodec};
use crate::storage::{Storage, StorageFile, read_exact_at};
use atrest_core::page::PageKind;
use cache::PageCache;
use std::sync::Arc;

/// What reading runs needs: the codec that opens pages, the cache, the directory, and the collection's name
/// for error messages.
pub(crate) struct Ctx<'a> {
    pub(crate) codec: &'a PageCodec,
    pub(crate) cache: &'a PageCache,
    pub(crate) storage: &'a dyn Storage,
    pub(crate) coll: Option<&'a str>,
}

impl Ctx<'_> {
    /// An integrity error for page `page` of `file`.
    pub(crate) fn fail(&self, file: &str, page: u64, detail: String) -> StoreError {
        StoreError::Integrity {
            collection: self.coll.map(str::to_owned),
            file: self.storage.describe(file),
            offset: page * self.codec.size.bytes() as u64,
            detail,
        }
    }

    /// Page `no` of a file, opened (through the cache if `cache`): the whole page, body decrypted in place.
    pub(crate) fn read_page(
        &self,
        file: &dyn StorageFile,
        file_id: u64,
        name: &str,
        no: u64,
        cache: bool,
    ) -> Result<Arc<[u8]>> {
        self.cache.follow(self.codec.keys_revision());
        if cache && let Some(p) = self.cache.get((file_id, no)) {
            return Ok(p);
        }
        let size = self.codec.size.bytes();
        let mut buf = vec![0u8; size];
        let n = read_exact_at(file, &mut buf, no * size as u64)
            .map_err(StoreError::io("reading", self.storage.describe(name)))?;
        if n != size {
            return Err(self.fail(name, no, "page missing: the file ends early".into()));
        }
        if let Some(Err(e)) = self.codec.open_run(file_id, no, &mut buf).pop() {
            return Err(crate::pages::page_error(e, |d| self.fail(name, no, d)));
        }
        let page: Arc<[u8]> = buf.into();
        if cache {
            self.cache.insert((file_id, no), page.clone());
        }
        Ok(page)
    }

    /// The payload and flags of an opened index page.
    pub(crate) fn payload_flags<'p>(&self, page: &'p [u8], name: &str, no: u64) -> Result<(&'p [u8], u8)> {
        let body = &page[self.codec.size.body_range()];
        let h = BodyHeader::read(body, PageKind::Data).map_err(|d| self.fail(name, no, d.into()))?;
        if h.kind != PageKind::Index {
            return Err(self.fail(name, no, format!("expected an index page, found {:?}", h.kind)));
        }
        Ok((&body[crate::pages::BODY_HEADER..crate::pages::BODY_HEADER + h.used], h.flags))
    }

    /// The payload of an opened index page.
    pub(crate) fn payload<'p>(&self, page: &'p [u8], name: &str, no: u64) -> Result<&'p [u8]> {
        self.payload_flags(page, name, no).map(|p| p.0)
    }
}
