//! The store's use of sealed pages: which key seals which scope, how a page is bound to its place, and the
//! small header the store puts at the start of every page body.
//!
//! ```text
//! body offset  size  field
//!           0     4  used      payload bytes in this page (u32 LE)
//!           4     1  flags     bit 0 BATCH_END: last page of a commit batch
//!                              bit 1 CONTINUES: this page's payload stream goes on in the next page
//!           5     1  kind      what the page holds (a `PageKind` id); 0 in format-version-1 pages, whose
//!                              kind is the one in the page header
//!           6     2  reserved  zero
//!           8     8  batch     commit batch sequence number (u64 LE), increasing through the log
//!          16     8  synced    highest batch number already durable when this page was sealed (u64 LE)
//!          24     …  payload   `used` bytes, then zeros to the end of the body
//! ```
//!
//! The kind lives inside the sealed body: every page header the store writes says `Data`, so a reader of
//! the disk cannot tell documents from attachments, index runs or the catalog by their headers.
//!
//! `synced` lets recovery tell a torn tail (the damaged batch was never made durable: truncate it) from damage
//! in the middle of the log (a later page says the damaged batch was durable: refuse to open).
//!
//! Every page is bound (as associated data, by atrest-core) to its file id, its page number and the store's
//! 16-byte id, so a page moved to another offset, file or store fails to open.
//!
//! A page whose key cannot be had (the key service is away past the key's lease) is not damaged: callers turn
//! its error into [`StoreError::Keys`] with [`page_error`], never into an integrity error, and the log scan
//! stops there instead of taking the page for the end of the log.

use crate::error::{Result, StoreError};
use crate::keys::KeyScope;
use atrest_core::page::{OpenJob, OpenedPage, Opener, PageContext, PageError, PageKind, PageSize, SealJob, Sealer};
use atrest_keys::{KeyError, Keyring};
use std::sync::Arc;

/// Length of the store's header at the start of every page body.
pub(crate) const BODY_HEADER: usize = 24;
/// Flag: last page of a commit batch.
pub(crate) const BATCH_END: u8 = 1;
/// Flag: the payload stream continues in the next page.
pub(crate) const CONTINUES: u8 = 2;

/// The page kind every header the store writes carries (the real kind is in the sealed body).
pub(crate) const HEADER_KIND: PageKind = PageKind::Data;

/// The parsed body header of an opened page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyHeader {
    pub(crate) used: usize,
    pub(crate) flags: u8,
    pub(crate) kind: PageKind,
    pub(crate) batch: u64,
    pub(crate) synced: u64,
}

impl BodyHeader {
    pub(crate) fn write(self, body: &mut [u8]) {
        body[0..4].copy_from_slice(&(self.used as u32).to_le_bytes());
        body[4] = self.flags;
        body[5] = self.kind.id();
        body[6..8].fill(0);
        body[8..16].copy_from_slice(&self.batch.to_le_bytes());
        body[16..24].copy_from_slice(&self.synced.to_le_bytes());
    }

    /// Parses and checks the header of an authenticated body; `header_kind` is the kind in the page header
    /// (which format-version-1 pages use instead of the body's).
    pub(crate) fn read(body: &[u8], header_kind: PageKind) -> Result<BodyHeader, &'static str> {
        if body.len() < BODY_HEADER {
            return Err("page body shorter than its header");
        }
        let used = u32::from_le_bytes([body[0], body[1], body[2], body[3]]) as usize;
        if used > body.len() - BODY_HEADER {
            return Err("page payload length exceeds the page");
        }
        let flags = body[4];
        if flags & !(BATCH_END | CONTINUES) != 0 || body[6..8] != [0, 0] {
            return Err("unknown page flags");
        }
        let kind = match body[5] {
            0 => header_kind,
            k => PageKind::try_from(k).map_err(|_| "unknown page kind in the body header")?,
        };
        let word = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&body[at..at + 8]);
            u64::from_le_bytes(b)
        };
        Ok(BodyHeader { used, flags, kind, batch: word(8), synced: word(16) })
    }
}

/// Seals and opens the store's pages. Keys come from the keyring (the one data-key layer, with its cache of
/// unwrapped keys under a lease): the opener looks each page's key up by id there, and each run of pages is
/// sealed by the sealer of its scope's active key, asked for per run so that writes follow rotation and stop
/// when a key's lease ran out with the key service away.
#[derive(Debug)]
pub(crate) struct PageCodec {
    pub(crate) size: PageSize,
    store_id: [u8; 16],
    keys: Arc<Keyring>,
    opener: Opener<Arc<Keyring>>,
    /// The store's own thread pool (`StoreConfig::threads`), or `None` for rayon's global pool.
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl PageCodec {
    pub(crate) fn new(
        size: PageSize,
        store_id: [u8; 16],
        keys: Arc<Keyring>,
        pool: Option<Arc<rayon::ThreadPool>>,
    ) -> PageCodec {
        PageCodec { size, store_id, opener: Opener::new(Arc::clone(&keys)), keys, pool }
    }

    /// Runs a seal or open in the store's pool. Only this work on buffers (and `put_many`'s checks) runs
    /// there: callers hold the writer or state lock around it, so work that waited for such a lock on a pool
    /// thread could deadlock a small pool (see [`crate::Store`]'s `in_pool`).
    fn in_pool<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    /// Payload bytes per page.
    pub(crate) fn payload_cap(&self) -> usize {
        self.size.capacity() - BODY_HEADER
    }

    pub(crate) fn ctx(&self, file_id: u64, page_no: u64) -> PageContext<'_> {
        PageContext::new(file_id, page_no).with_extra(&self.store_id)
    }

    /// The keyring's withdrawal count (see [`crate::index::cache::PageCache::follow`]).
    pub(crate) fn keys_revision(&self) -> u64 {
        atrest_core::page::KeyLookup::revision(&*self.keys)
    }

    /// The sealer of the scope's active key.
    pub(crate) fn sealer(&self, scope: KeyScope) -> Result<Arc<Sealer>> {
        Ok(self.keys.sealer(scope)?)
    }

    /// Seals consecutive pages `buf` (bodies, with their body headers, already in place) of file `file_id`
    /// starting at `first_page`, all of one scope, across threads. Returns the key id used.
    pub(crate) fn seal_run(&self, scope: KeyScope, file_id: u64, first_page: u64, buf: &mut [u8]) -> Result<u32> {
        self.seal_with(&*self.sealer(scope)?, file_id, first_page, buf)
    }

    /// [`PageCodec::seal_run`] on the calling thread, page after page: the commit leader's way. Its pages would
    /// otherwise queue in the pool behind the next batch's document checks, and the leader is what every
    /// writer waits for (20 % more ingest with indexing off in `atrest bench`'s ingest, measured in pairs).
    pub(crate) fn seal_run_here(&self, scope: KeyScope, file_id: u64, first_page: u64, buf: &mut [u8]) -> Result<u32> {
        let sealer = self.sealer(scope)?;
        for (i, page) in buf.chunks_exact_mut(self.size.bytes()).enumerate() {
            sealer
                .seal_in_place(HEADER_KIND, &self.ctx(file_id, first_page + i as u64), page)
                .map_err(StoreError::Seal)?;
        }
        Ok(sealer.key_id())
    }

    /// [`PageCodec::seal_run`] with a given sealer (a run keeps one key from its first page to its last).
    pub(crate) fn seal_with(&self, sealer: &Sealer, file_id: u64, first_page: u64, buf: &mut [u8]) -> Result<u32> {
        let mut jobs: Vec<SealJob<'_>> = buf
            .chunks_exact_mut(self.size.bytes())
            .enumerate()
            .map(|(i, page)| SealJob {
                kind: HEADER_KIND,
                ctx: self.ctx(file_id, first_page + i as u64),
                body: None,
                page,
            })
            .collect();
        self.in_pool(|| sealer.seal_batch(&mut jobs)).map_err(|e| StoreError::Seal(e.error))?;
        Ok(sealer.key_id())
    }

    /// Opens one page in place.
    pub(crate) fn open<'p>(&self, file_id: u64, page_no: u64, page: &'p mut [u8]) -> Result<OpenedPage<'p>, PageError> {
        self.opener.open(page, &self.ctx(file_id, page_no))
    }

    /// Opens consecutive pages in place, across threads: each page's body is decrypted where it lies (see
    /// [`PageSize::body_range`]); one result (kind, key id) per page.
    pub(crate) fn open_run(
        &self,
        file_id: u64,
        first_page: u64,
        buf: &mut [u8],
    ) -> Vec<Result<(PageKind, u32), PageError>> {
        let size = self.size.bytes();
        if buf.len() <= size {
            // One page (a `get`, a run block): opened here, since handing it to the pool costs more than it.
            return buf
                .chunks_exact_mut(size)
                .map(|page| self.opener.open(page, &self.ctx(file_id, first_page)).map(|p| (p.kind, p.key_id)))
                .collect();
        }
        let mut jobs: Vec<OpenJob<'_>> = buf
            .chunks_exact_mut(size)
            .enumerate()
            .map(|(i, page)| OpenJob::new(page, self.ctx(file_id, first_page + i as u64)))
            .collect();
        self.in_pool(|| self.opener.open_batch(&mut jobs).into_iter().map(|r| r.map(|p| (p.kind, p.key_id))).collect())
    }
}

/// The store's error for a page that failed to open: [`StoreError::Keys`] with the key service's own error
/// when its key could not be had (the data may be fine), else what `damaged` makes of the page error.
pub(crate) fn page_error(e: PageError, damaged: impl FnOnce(String) -> StoreError) -> StoreError {
    match key_unavailable(&e) {
        Some(k) => StoreError::Keys(k),
        None => damaged(e.to_string()),
    }
}

/// The key service's error inside a page error, if the page's key could not be had.
pub(crate) fn key_unavailable(e: &PageError) -> Option<KeyError> {
    match e {
        PageError::KeyUnavailable { id, source } => {
            Some(source.downcast_ref::<KeyError>().cloned().unwrap_or_else(|| KeyError::KeyServiceUnavailable {
                provider: "the key lookup".into(),
                key_id: *id,
                lease_secs: 0,
                reason: source.to_string(),
            }))
        }
        _ => None,
    }
}
