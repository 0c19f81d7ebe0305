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

use crate::error::{Result, StoreError};
use crate::keys::{KeyScope, KeySource};
use atrest_core::Xaes256Gcm;
use atrest_core::page::{
    KeyLookup, KeySourceError, LookupError, OpenJob, OpenedPage, Opener, PageContext, PageError, PageKind, PageSize,
    SealJob, Sealer,
};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

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

/// Key lookup for the opener: keys are unwrapped on first use and cached.
#[derive(Debug)]
pub(crate) struct KeyCache {
    source: Arc<dyn KeySource>,
    cache: RwLock<HashMap<u32, Arc<Xaes256Gcm>>>,
}

/// The opener's handle on the shared [`KeyCache`].
#[derive(Debug, Clone)]
pub(crate) struct SharedKeys(Arc<KeyCache>);

impl KeyLookup for SharedKeys {
    fn key(&self, id: u32) -> Result<Arc<Xaes256Gcm>, LookupError> {
        self.0.key(id)
    }
}

impl KeyCache {
    fn key(&self, id: u32) -> Result<Arc<Xaes256Gcm>, LookupError> {
        if let Some(k) = self.cache.read().unwrap_or_else(|p| p.into_inner()).get(&id) {
            return Ok(k.clone());
        }
        let unavailable = |e| LookupError::Unavailable(KeySourceError::new(e));
        let bytes = self.source.key(id).map_err(unavailable)?.ok_or(LookupError::Unknown)?;
        let key = Arc::new(Xaes256Gcm::try_new(&bytes).map_err(|e| LookupError::Unavailable(KeySourceError::new(e)))?);
        self.cache.write().unwrap_or_else(|p| p.into_inner()).insert(id, key.clone());
        Ok(key)
    }
}

/// Seals and opens the store's pages.
#[derive(Debug)]
pub(crate) struct PageCodec {
    pub(crate) size: PageSize,
    store_id: [u8; 16],
    keys: Arc<dyn KeySource>,
    opener: Opener<SharedKeys>,
    lookup: Arc<KeyCache>,
    sealers: RwLock<HashMap<KeyScope, Arc<Sealer>>>,
    /// The store's own thread pool (`StoreConfig::threads`), or `None` for rayon's global pool.
    pool: Option<Arc<rayon::ThreadPool>>,
}

impl PageCodec {
    pub(crate) fn new(
        size: PageSize,
        store_id: [u8; 16],
        keys: Arc<dyn KeySource>,
        pool: Option<Arc<rayon::ThreadPool>>,
    ) -> PageCodec {
        let lookup = Arc::new(KeyCache { source: keys.clone(), cache: RwLock::new(HashMap::new()) });
        PageCodec {
            size,
            store_id,
            keys,
            opener: Opener::new(SharedKeys(lookup.clone())),
            lookup,
            sealers: RwLock::new(HashMap::new()),
            pool,
        }
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

    /// The sealer of the scope's active key (built on first use, rebuilt after rotation).
    pub(crate) fn sealer(&self, scope: KeyScope) -> Result<Arc<Sealer>> {
        if let Some(s) = self.sealers.read().unwrap_or_else(|p| p.into_inner()).get(&scope) {
            return Ok(s.clone());
        }
        let id = self.keys.active(scope)?;
        let key = self.lookup.key(id).map_err(|e| {
            StoreError::Keys(match e {
                LookupError::Unknown => atrest_keys::KeyError::UnknownKey { key_id: id },
                LookupError::Destroyed => atrest_keys::KeyError::KeyDestroyed { key_id: id },
                LookupError::Unavailable(src) => {
                    atrest_keys::KeyError::Provider { provider: self.keys.describe(), reason: src.to_string() }
                }
            })
        })?;
        let sealer = Arc::new(Sealer::with_key(key, id)?);
        self.sealers.write().unwrap_or_else(|p| p.into_inner()).insert(scope, sealer.clone());
        Ok(sealer)
    }

    /// Forgets cached sealers so the next page of each scope uses the scope's (new) active key.
    pub(crate) fn reset_sealers(&self) {
        self.sealers.write().unwrap_or_else(|p| p.into_inner()).clear();
    }

    /// Forgets a destroyed key.
    pub(crate) fn forget_key(&self, id: u32) {
        self.lookup.cache.write().unwrap_or_else(|p| p.into_inner()).remove(&id);
        self.opener.forget_key(id);
    }

    /// Seals consecutive pages `buf` (bodies, with their body headers, already in place) of file `file_id`
    /// starting at `first_page`, all of one scope, across threads. Returns the key id used.
    pub(crate) fn seal_run(&self, scope: KeyScope, file_id: u64, first_page: u64, buf: &mut [u8]) -> Result<u32> {
        self.seal_with(&*self.sealer(scope)?, file_id, first_page, buf)
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
        let mut jobs: Vec<OpenJob<'_>> = buf
            .chunks_exact_mut(size)
            .enumerate()
            .map(|(i, page)| OpenJob::new(page, self.ctx(file_id, first_page + i as u64)))
            .collect();
        self.in_pool(|| self.opener.open_batch(&mut jobs).into_iter().map(|r| r.map(|p| (p.kind, p.key_id))).collect())
    }
}
