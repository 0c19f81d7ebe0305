//! Opening pages: key lookup by id, and a bounded cache of derived subkeys by (key id, nonce prefix).
//!
//! Pages written by one writer epoch share a nonce prefix, so a reader that caches the subkey derived for a
//! (key id, prefix) pair pays the XAES derivation once per epoch instead of once per page. The cache entry
//! remembers which key object it was derived from, and the key is looked up again on every open, so a key
//! that the lookup no longer returns (destroyed, rotated out) stops opening pages at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use super::PageContext;
use super::error::PageError;
use super::format::{Aad, HEADER_LEN, PageHeader, PageKind, PageSize};
use super::lookup::{KeyLookup, LookupError};
use crate::xaes::{XAES_NONCE_LEN, XAES_PREFIX_LEN};
use crate::{Aes256Gcm, Xaes256Gcm};

/// How many derived subkeys an [`Opener`] keeps by default; the least recently used is dropped first.
pub const OPENER_CACHE_CAPACITY: usize = 256;

/// A page that opened: its authenticated header fields and its plaintext body (inside the caller's buffer).
/// `Debug` shows the body's length, never its bytes, so a logged page leaks no plaintext.
#[derive(PartialEq, Eq)]
pub struct OpenedPage<'p> {
    /// The page kind.
    pub kind: PageKind,
    /// The id of the key it was sealed under.
    pub key_id: u32,
    /// The physical page size.
    pub size: PageSize,
    /// The plaintext body, exactly `size.capacity()` bytes.
    pub body: &'p mut [u8],
}

impl std::fmt::Debug for OpenedPage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedPage")
            .field("kind", &self.kind)
            .field("key_id", &self.key_id)
            .field("size", &self.size)
            .field("body_len", &self.body.len())
            .finish()
    }
}

struct CacheEntry {
    parent: Weak<Xaes256Gcm>,
    subkey: Arc<Aes256Gcm>,
    used: u64,
}

struct SubkeyCache {
    capacity: usize,
    clock: u64,
    /// The lookup's [`KeyLookup::revision`] the entries were derived under.
    revision: u64,
    entries: HashMap<(u32, [u8; XAES_PREFIX_LEN]), CacheEntry>,
}

/// Opens sealed pages, looking their keys up by id.
pub struct Opener<L> {
    keys: L,
    cache: Mutex<SubkeyCache>,
}

impl<L> std::fmt::Debug for Opener<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opener").finish_non_exhaustive()
    }
}

impl<L: KeyLookup> Opener<L> {
    /// An opener with the default cache capacity ([`OPENER_CACHE_CAPACITY`]).
    pub fn new(keys: L) -> Opener<L> {
        Self::with_cache_capacity(keys, OPENER_CACHE_CAPACITY)
    }

    /// An opener that caches at most `capacity` derived subkeys (at least one).
    pub fn with_cache_capacity(keys: L, capacity: usize) -> Opener<L> {
        let capacity = capacity.max(1);
        Opener {
            keys,
            cache: Mutex::new(SubkeyCache {
                capacity,
                clock: 0,
                revision: 0,
                entries: HashMap::with_capacity(capacity),
            }),
        }
    }

    /// The key lookup.
    pub fn keys(&self) -> &L {
        &self.keys
    }

    /// Drops every cached subkey derived from key `id` (they are zeroized once no page operation holds them).
    pub fn forget_key(&self, id: u32) {
        self.lock().entries.retain(|(key_id, _), _| *key_id != id);
    }

    /// Number of subkeys in the cache.
    pub fn cached_subkeys(&self) -> usize {
        self.lock().entries.len()
    }

    /// Opens `page` in place: checks the header, finds the key, and decrypts the body if the page is authentic
    /// for `ctx`.
    ///
    /// # Errors
    /// A structural [`PageError`] naming the bad header field (nothing decrypted), [`PageError::UnknownKey`],
    /// [`PageError::KeyDestroyed`], [`PageError::KeyUnavailable`],
    /// or the opaque [`PageError::Authentication`] (the body has been zeroed).
    pub fn open<'p>(&self, page: &'p mut [u8], ctx: &PageContext<'_>) -> Result<OpenedPage<'p>, PageError> {
        let prepared = self.prepare(page)?;
        open_prepared(&prepared, page, ctx)
    }

    /// Opens every job, across the current rayon pool when the batch is large enough to gain. Each page
    /// succeeds or fails on its own; the result at index `i` belongs to `jobs[i]`.
    ///
    /// Headers are parsed and subkeys found on the calling thread first; consecutive pages of one writer epoch
    /// (same key id and nonce prefix) share one key lookup, which keeps that serial step to a few nanoseconds
    /// per page so the batch scales with threads.
    pub fn open_batch<'p>(&self, jobs: &'p mut [super::OpenJob<'_>]) -> Vec<Result<OpenedPage<'p>, PageError>> {
        let mut recent: Option<(u32, [u8; XAES_PREFIX_LEN], Arc<Aes256Gcm>)> = None;
        let prepared: Vec<_> = jobs
            .iter()
            .map(|job| {
                let header = PageHeader::parse(job.page)?;
                let prefix = prefix_of(&header);
                if let Some((id, p, subkey)) = &recent
                    && *id == header.key_id
                    && *p == prefix
                {
                    return Ok(Prepared { header, subkey: Arc::clone(subkey) });
                }
                let subkey = self.subkey_for(&header)?;
                recent = Some((header.key_id, prefix, Arc::clone(&subkey)));
                Ok(Prepared { header, subkey })
            })
            .collect();
        super::batch::open_all(jobs, prepared)
    }

    /// [`Opener::open_batch`] on the threads of `pool` instead of the current rayon pool.
    pub fn open_batch_in<'p>(
        &self,
        pool: &rayon::ThreadPool,
        jobs: &'p mut [super::OpenJob<'_>],
    ) -> Vec<Result<OpenedPage<'p>, PageError>> {
        pool.install(|| self.open_batch(jobs))
    }

    /// Parses the header and finds the subkey: the part of opening that touches shared state.
    pub(crate) fn prepare(&self, page: &[u8]) -> Result<Prepared, PageError> {
        let header = PageHeader::parse(page)?;
        let subkey = self.subkey_for(&header)?;
        Ok(Prepared { header, subkey })
    }

    /// Looks the header's key up and returns the subkey for its nonce prefix, from the cache or derived now.
    fn subkey_for(&self, header: &PageHeader) -> Result<Arc<Aes256Gcm>, PageError> {
        let id = header.key_id;
        let parent = self.keys.key(id).map_err(|e| match e {
            LookupError::Unknown => PageError::UnknownKey { id },
            LookupError::Destroyed => PageError::KeyDestroyed { id },
            LookupError::Unavailable(source) => PageError::KeyUnavailable { id, source },
        })?;
        let prefix = prefix_of(header);
        let cache_key = (id, prefix);
        let revision = self.keys.revision();
        {
            let mut cache = self.lock();
            if cache.revision != revision {
                // A key was withdrawn: drop every derived subkey rather than work out which are stale.
                cache.entries.clear();
                cache.revision = revision;
            }
            cache.clock += 1;
            let now = cache.clock;
            if let Some(entry) = cache.entries.get_mut(&cache_key)
                && std::ptr::eq(entry.parent.as_ptr(), Arc::as_ptr(&parent))
            {
                entry.used = now;
                return Ok(Arc::clone(&entry.subkey));
            }
        }
        // Derive outside the lock: it is a key schedule plus GHASH powers, and other pages need not wait.
        let subkey = Arc::new(parent.derive(&prefix));
        let mut cache = self.lock();
        if cache.entries.len() >= cache.capacity
            && !cache.entries.contains_key(&cache_key)
            && let Some(oldest) = cache.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| *k)
        {
            cache.entries.remove(&oldest);
        }
        let used = cache.clock;
        cache
            .entries
            .insert(cache_key, CacheEntry { parent: Arc::downgrade(&parent), subkey: Arc::clone(&subkey), used });
        Ok(subkey)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SubkeyCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The nonce prefix that selects a page's subkey.
fn prefix_of(header: &PageHeader) -> [u8; XAES_PREFIX_LEN] {
    let mut prefix = [0u8; XAES_PREFIX_LEN];
    prefix.copy_from_slice(&header.nonce[..XAES_PREFIX_LEN]);
    prefix
}

/// A parsed header and the subkey to open its page with.
pub(crate) struct Prepared {
    header: PageHeader,
    subkey: Arc<Aes256Gcm>,
}

/// Authenticates and decrypts a page whose header was parsed into `prepared`.
pub(crate) fn open_prepared<'p>(
    prepared: &Prepared,
    page: &'p mut [u8],
    ctx: &PageContext<'_>,
) -> Result<OpenedPage<'p>, PageError> {
    let header = &prepared.header;
    let size = header.size;
    if page.len() != size.bytes() {
        return Err(PageError::BadSize { expected: size.bytes(), actual: page.len() });
    }
    let mut header_bytes = [0u8; HEADER_LEN];
    header_bytes.copy_from_slice(&page[..HEADER_LEN]);
    let aad = Aad::new(&header_bytes, ctx);
    let (_, rest) = page.split_at_mut(HEADER_LEN);
    let (body, tag) = rest.split_at_mut(size.capacity());
    let mut tag_bytes = [0u8; 16];
    tag_bytes.copy_from_slice(tag);
    let mut suffix = [0u8; XAES_NONCE_LEN - XAES_PREFIX_LEN];
    suffix.copy_from_slice(&header.nonce[XAES_PREFIX_LEN..]);
    if prepared.subkey.open_in_place(&suffix, aad.as_bytes(), body, &tag_bytes).is_err() {
        // The AEAD zeroes on authentication failure; zero here too so no other error path can leak.
        body.fill(0);
        return Err(PageError::Authentication);
    }
    Ok(OpenedPage { kind: header.kind, key_id: header.key_id, size, body })
}
