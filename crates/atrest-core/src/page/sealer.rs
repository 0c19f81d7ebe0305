//! Sealing pages under writer epochs.
//!
//! A [`Sealer`] draws a random 12-byte nonce prefix from the OS RNG when it is built and gives its pages the
//! nonces `prefix || counter` (counter as a 96-bit big-endian integer, starting at 0). After
//! [`MAX_EPOCH_PAGES`] pages it draws a new prefix. The XAES-256-GCM subkey for a prefix is derived once, so
//! each page then costs one plain AES-256-GCM seal. Nonces are handed out under a lock before any work is
//! fanned out to threads, and never derived from a page number (pages are rewritten in place).
//!
//! Why nonces never repeat under one key: within an epoch the counter is strictly increasing and below 2^32,
//! so the 24-byte nonces of one sealer differ. Across epochs and across sealers (processes, restarts, restored
//! backups, cloned VMs) the prefixes are independent uniform 96-bit values; with `E` epochs ever opened under
//! one data key, the chance that two share a prefix is at most `E^2 / 2^97` (below 2^-37 for 2^30
//! epochs). Only prefix collisions could repeat a nonce, because distinct prefixes select distinct subkeys.

use std::sync::{Arc, Mutex, PoisonError};

use super::PageContext;
use super::error::{BatchError, PageError};
use super::format::{Aad, HEADER_LEN, PAGE_TAG_LEN, PageHeader, PageKind, PageSize};
use crate::backend::Backend;
use crate::xaes::{XAES_NONCE_LEN, XAES_PREFIX_LEN};
use crate::{Aes256Gcm, Xaes256Gcm};

/// Pages sealed under one nonce prefix before a new one is drawn: 2^32, which keeps every derived subkey far
/// inside AES-GCM's usage bounds (at most 2^32 messages of at most 2^12 blocks each).
pub const MAX_EPOCH_PAGES: u64 = 1 << 32;

/// One nonce prefix and the subkey derived from it.
struct Epoch {
    prefix: [u8; XAES_PREFIX_LEN],
    subkey: Arc<Aes256Gcm>,
    next: u64,
}

/// A nonce handed out for one page, with the subkey it belongs to.
pub(crate) struct Assigned {
    pub(crate) subkey: Arc<Aes256Gcm>,
    pub(crate) nonce: [u8; XAES_NONCE_LEN],
}

/// Seals pages under one data key, giving each a unique nonce. Shareable across threads (`&self` methods);
/// one per writer is the intended use.
pub struct Sealer {
    key: Arc<Xaes256Gcm>,
    key_id: u32,
    epoch_pages: u64,
    epoch: Mutex<Epoch>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("key_id", &self.key_id).field("backend", &self.backend()).finish_non_exhaustive()
    }
}

impl Sealer {
    /// A sealer for the 32-byte data key `key`, known to openers as `key_id`, on the default backend.
    ///
    /// # Errors
    /// [`PageError::Backend`] if `ATREST_BACKEND` names a backend this host cannot run;
    /// [`PageError::Random`] if the OS RNG fails.
    pub fn new(key: &[u8; 32], key_id: u32) -> Result<Sealer, PageError> {
        Self::with_key(Arc::new(Xaes256Gcm::try_new(key)?), key_id)
    }

    /// A sealer for an already built key (which fixes the backend).
    ///
    /// # Errors
    /// [`PageError::Random`] if the OS RNG fails.
    pub fn with_key(key: Arc<Xaes256Gcm>, key_id: u32) -> Result<Sealer, PageError> {
        let epoch = new_epoch(&key)?;
        Ok(Sealer { key, key_id, epoch_pages: MAX_EPOCH_PAGES, epoch: Mutex::new(epoch) })
    }

    /// Lowers the number of pages sealed per prefix (clamped to `1..=MAX_EPOCH_PAGES`). Rotating sooner is
    /// always safe; it costs one subkey derivation per epoch.
    #[must_use]
    pub fn with_epoch_pages(mut self, pages: u64) -> Sealer {
        self.epoch_pages = pages.clamp(1, MAX_EPOCH_PAGES);
        self
    }

    /// The key id written into every page.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The backend the pages are sealed on.
    pub fn backend(&self) -> Backend {
        self.key.backend()
    }

    /// The nonce prefix of the current epoch (not secret: it is written into every page).
    pub fn epoch_prefix(&self) -> [u8; XAES_PREFIX_LEN] {
        self.epoch.lock().unwrap_or_else(PoisonError::into_inner).prefix
    }

    /// Seals `body` (exactly the capacity of a page of `page.len()` bytes) into `page`.
    ///
    /// # Errors
    /// [`PageError::InvalidPageSize`] if `page.len()` is not a page size, [`PageError::BadBodySize`] if
    /// `body` is not its capacity, [`PageError::Random`] if a new epoch was due and the OS RNG failed. `page`
    /// is untouched on error.
    pub fn seal(&self, kind: PageKind, ctx: &PageContext<'_>, body: &[u8], page: &mut [u8]) -> Result<(), PageError> {
        check_job(Some(body), page)?;
        let assigned = self.next_nonce(&mut self.epoch.lock().unwrap_or_else(PoisonError::into_inner))?;
        seal_assigned(&assigned, self.key_id, kind, ctx, Some(body), page)
    }

    /// Seals the body already written at [`PageSize::body_range`] of `page`, in place.
    ///
    /// # Errors
    /// As [`Sealer::seal`].
    pub fn seal_in_place(&self, kind: PageKind, ctx: &PageContext<'_>, page: &mut [u8]) -> Result<(), PageError> {
        check_job(None, page)?;
        let assigned = self.next_nonce(&mut self.epoch.lock().unwrap_or_else(PoisonError::into_inner))?;
        seal_assigned(&assigned, self.key_id, kind, ctx, None, page)
    }

    /// Seals every job, across the current rayon pool when the batch is large enough to gain.
    ///
    /// All jobs are checked and all nonces assigned before any page is sealed, so on error no page was
    /// written.
    ///
    /// # Errors
    /// The first invalid job, by index; or [`PageError::Random`] (reported at index 0) if the OS RNG failed.
    pub fn seal_batch(&self, jobs: &mut [super::SealJob<'_>]) -> Result<(), BatchError> {
        for (index, job) in jobs.iter().enumerate() {
            check_job(job.body, job.page).map_err(|error| BatchError { index, error })?;
        }
        let assigned = self.assign(jobs.len()).map_err(|error| BatchError { index: 0, error })?;
        super::batch::seal_all(jobs, &assigned, self.key_id).map_err(|(index, error)| BatchError { index, error })
    }

    /// [`Sealer::seal_batch`] on the threads of `pool` instead of the current rayon pool.
    ///
    /// # Errors
    /// As [`Sealer::seal_batch`].
    pub fn seal_batch_in(&self, pool: &rayon::ThreadPool, jobs: &mut [super::SealJob<'_>]) -> Result<(), BatchError> {
        pool.install(|| self.seal_batch(jobs))
    }

    /// Reserves the nonces of `n` pages now, to seal them later on any thread or executor: each
    /// [`PageNonce`] seals exactly one page and is consumed doing so, so no nonce can be used twice. This is
    /// the batch API for engines that schedule work themselves (an async runtime, their own thread pool).
    ///
    /// # Errors
    /// [`PageError::Random`] if a new epoch was due and the OS RNG failed.
    pub fn reserve(&self, n: usize) -> Result<Vec<PageNonce>, PageError> {
        let key_id = self.key_id;
        Ok(self.assign(n)?.into_iter().map(|assigned| PageNonce { assigned, key_id }).collect())
    }

    /// Hands out `n` consecutive nonces under one lock, opening new epochs as needed.
    pub(crate) fn assign(&self, n: usize) -> Result<Vec<Assigned>, PageError> {
        let mut epoch = self.epoch.lock().unwrap_or_else(PoisonError::into_inner);
        (0..n).map(|_| self.next_nonce(&mut epoch)).collect()
    }

    /// The next nonce of the current epoch, after opening a new epoch if this one is used up.
    fn next_nonce(&self, epoch: &mut Epoch) -> Result<Assigned, PageError> {
        if epoch.next >= self.epoch_pages {
            *epoch = new_epoch(&self.key)?;
        }
        let mut nonce = [0u8; XAES_NONCE_LEN];
        nonce[..XAES_PREFIX_LEN].copy_from_slice(&epoch.prefix);
        nonce[XAES_NONCE_LEN - 8..].copy_from_slice(&epoch.next.to_be_bytes());
        epoch.next += 1;
        Ok(Assigned { subkey: Arc::clone(&epoch.subkey), nonce })
    }
}

/// The nonce of one page, reserved by [`Sealer::reserve`]. `Send`, so it can travel to the thread that seals
/// the page; sealing consumes it. A reservation dropped unused simply skips its nonce.
pub struct PageNonce {
    assigned: Assigned,
    key_id: u32,
}

impl std::fmt::Debug for PageNonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageNonce").field("key_id", &self.key_id).field("nonce", &self.assigned.nonce).finish()
    }
}

impl PageNonce {
    /// The key id the page will carry.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The 24-byte nonce the page will carry (not secret: it is written into the header).
    pub fn nonce(&self) -> [u8; XAES_NONCE_LEN] {
        self.assigned.nonce
    }

    /// Seals `body` into `page` under this nonce; as [`Sealer::seal`].
    ///
    /// # Errors
    /// As [`Sealer::seal`] (never [`PageError::Random`]); the nonce is spent either way.
    pub fn seal(self, kind: PageKind, ctx: &PageContext<'_>, body: &[u8], page: &mut [u8]) -> Result<(), PageError> {
        seal_assigned(&self.assigned, self.key_id, kind, ctx, Some(body), page)
    }

    /// Seals the body already in `page` in place under this nonce; as [`Sealer::seal_in_place`].
    ///
    /// # Errors
    /// As [`PageNonce::seal`].
    pub fn seal_in_place(self, kind: PageKind, ctx: &PageContext<'_>, page: &mut [u8]) -> Result<(), PageError> {
        seal_assigned(&self.assigned, self.key_id, kind, ctx, None, page)
    }
}

fn new_epoch(key: &Xaes256Gcm) -> Result<Epoch, PageError> {
    let mut prefix = [0u8; XAES_PREFIX_LEN];
    getrandom::fill(&mut prefix).map_err(PageError::Random)?;
    Ok(Epoch { prefix, subkey: Arc::new(key.derive(&prefix)), next: 0 })
}

/// Checks a page buffer (and the body to copy into it, if any) before a nonce is spent on it.
pub(crate) fn check_job(body: Option<&[u8]>, page: &[u8]) -> Result<PageSize, PageError> {
    let size = PageSize::new(page.len())?;
    if let Some(body) = body
        && body.len() != size.capacity()
    {
        return Err(PageError::BadBodySize { expected: size.capacity(), actual: body.len() });
    }
    Ok(size)
}

/// Seals one checked job with its assigned nonce.
pub(crate) fn seal_assigned(
    assigned: &Assigned,
    key_id: u32,
    kind: PageKind,
    ctx: &PageContext<'_>,
    body: Option<&[u8]>,
    page: &mut [u8],
) -> Result<(), PageError> {
    let size = check_job(body, page)?;
    let header = PageHeader::new(kind, size, key_id, assigned.nonce).encode();
    let aad = Aad::new(&header, ctx);
    let (head, rest) = page.split_at_mut(HEADER_LEN);
    let (body_out, tag_out) = rest.split_at_mut(size.capacity());
    let mut suffix = [0u8; XAES_NONCE_LEN - XAES_PREFIX_LEN];
    suffix.copy_from_slice(&assigned.nonce[XAES_PREFIX_LEN..]);
    let tag = match body {
        Some(body) => assigned.subkey.seal_into(&suffix, aad.as_bytes(), body, body_out)?,
        None => assigned.subkey.seal_in_place(&suffix, aad.as_bytes(), body_out)?,
    };
    head.copy_from_slice(&header);
    debug_assert_eq!(tag_out.len(), PAGE_TAG_LEN);
    tag_out.copy_from_slice(&tag);
    Ok(())
}

/// Seals one page with a caller-chosen nonce.
///
/// This exists for test vectors, golden files and fuzzing. Sealing two different pages under the same key
/// and nonce destroys confidentiality and authenticity of both; production code uses a [`Sealer`], which
/// assigns nonces itself.
///
/// # Errors
/// As [`Sealer::seal`] (never [`PageError::Random`]).
pub fn seal_with_nonce(
    key: &Xaes256Gcm,
    key_id: u32,
    nonce: &[u8; XAES_NONCE_LEN],
    kind: PageKind,
    ctx: &PageContext<'_>,
    body: &[u8],
    page: &mut [u8],
) -> Result<(), PageError> {
    check_job(Some(body), page)?;
    let mut prefix = [0u8; XAES_PREFIX_LEN];
    prefix.copy_from_slice(&nonce[..XAES_PREFIX_LEN]);
    let assigned = Assigned { subkey: key.subkey(&prefix), nonce: *nonce };
    seal_assigned(&assigned, key_id, kind, ctx, Some(body), page)
}
