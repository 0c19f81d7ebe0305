//! The sealed-page layer in C: sealers with writer epochs, openers that find keys through a C callback (or a
//! keyring), and batches spread over threads. Declared in `include/atrest.h` under "Sealed pages".
//!
//! What C engines would otherwise rebuild, and get wrong: nonces come from the sealer (random prefix per writer
//! epoch, counter per page, renewed after 2^32 pages), the header and its associated data are the page
//! codec's, and the opener caches the subkey of each (key id, epoch) so a page costs one AES-GCM pass.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, c_void};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use atrest_core::page::{
    KeyLookup, KeySourceError, LookupError, OpenJob, Opener, PageContext, PageKind, SealJob, Sealer,
};
use atrest_core::{Backend, Xaes256Gcm};
use zeroize::Zeroizing;

use crate::status::{fail, page_status};
use crate::{AtrestStatus, array, backend_from, buffer, input};

/// Where a page lives (`atrest_page_ctx` in C): bound into its authentication.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct AtrestPageCtx {
    /// The file the page belongs to.
    pub file_id: u64,
    /// The page's number within the file.
    pub page_no: u64,
    /// Further bytes the engine binds in (e.g. a write generation); NULL when `extra_len` is 0.
    pub extra: *const u8,
    /// Length of `extra`.
    pub extra_len: usize,
}

/// One page of a seal batch (`atrest_seal_job`): the body is already at `page + ATREST_PAGE_HEADER_LEN`.
#[repr(C)]
#[derive(Debug)]
pub struct AtrestSealJob {
    /// The page kind (`atrest_page_kind`).
    pub kind: u8,
    /// Where the page will live.
    pub ctx: AtrestPageCtx,
    /// The page buffer, sealed in place.
    pub page: *mut u8,
    /// Its length: a page size.
    pub page_len: usize,
}

/// One page of an open batch (`atrest_open_job`); `status`, `kind` and `key_id` are outputs.
#[repr(C)]
#[derive(Debug)]
pub struct AtrestOpenJob {
    /// Where the page was read from.
    pub ctx: AtrestPageCtx,
    /// The sealed page, opened in place.
    pub page: *mut u8,
    /// Its length.
    pub page_len: usize,
    /// This page's result.
    pub status: AtrestStatus,
    /// The page kind, when it opened.
    pub kind: u8,
    /// The key id it was sealed under, when it opened.
    pub key_id: u32,
}

/// What an opened page is (`atrest_opened`); its body is at `page + ATREST_PAGE_HEADER_LEN`.
#[repr(C)]
#[derive(Debug, Default)]
pub struct AtrestOpened {
    /// The page kind.
    pub kind: u8,
    /// The key id it was sealed under.
    pub key_id: u32,
    /// The body length: the page's capacity.
    pub body_len: usize,
}

/// A page sealer (`atrest_sealer`): one per writer; shareable between threads.
#[derive(Debug)]
pub struct AtrestSealer(pub(crate) Arc<Sealer>);

/// A page opener (`atrest_opener`): shareable between threads.
#[derive(Debug)]
pub struct AtrestOpener(pub(crate) Opener<Box<dyn KeyLookup>>);

/// The key-lookup callback: writes the 32-byte key of `key_id` to `key_out` and returns `ATREST_OK`, or returns
/// `ATREST_ERR_UNKNOWN_KEY`, `ATREST_ERR_KEY_DESTROYED` or `ATREST_ERR_KEY_UNAVAILABLE`. Its result is taken as
/// a plain `int` (what a C enum is), so any other value a callback returns is an unavailable key, never an
/// invalid Rust enum.
pub type AtrestKeyLookupFn = unsafe extern "C" fn(ctx: *mut c_void, key_id: u32, key_out: *mut u8) -> c_int;

/// The status a lookup callback returned, as the error inside [`LookupError::Unavailable`].
#[derive(Debug, thiserror::Error)]
#[error("the key lookup callback returned status {0}")]
pub struct CallbackStatus(pub c_int);

/// The C caller's context pointer, which the header requires to be usable from every thread that opens pages.
struct CallerContext(*mut c_void);
// SAFETY: the header's contract for atrest_opener_new: the callback and its context may be called from any
// thread that calls atrest_open_page / atrest_open_batch, concurrently.
unsafe impl Send for CallerContext {}
// SAFETY: as above; the pointer itself is never dereferenced on this side.
unsafe impl Sync for CallerContext {}

/// The ciphers built so far, by key id, with the bytes each was built from.
type Built = HashMap<u32, (Zeroizing<[u8; 32]>, Arc<Xaes256Gcm>)>;

/// A key lookup through a C callback. Keys are rebuilt only when the bytes for an id change, so each id keeps
/// one cipher object and the opener's subkey cache applies.
struct CallbackLookup {
    callback: AtrestKeyLookupFn,
    context: CallerContext,
    backend: Backend,
    built: Mutex<Built>,
    revision: AtomicU64,
}

impl CallbackLookup {
    fn forget(&self, id: u32) {
        if self.built.lock().unwrap_or_else(PoisonError::into_inner).remove(&id).is_some() {
            self.revision.fetch_add(1, Ordering::Release);
        }
    }
}

impl KeyLookup for CallbackLookup {
    fn key(&self, id: u32) -> Result<Arc<Xaes256Gcm>, LookupError> {
        let mut key = Zeroizing::new([0u8; 32]);
        // SAFETY: the callback and context come from atrest_opener_new, whose contract makes them callable
        // from this thread; `key` has the 32 writable bytes the callback may write.
        let status = unsafe { (self.callback)(self.context.0, id, key.as_mut_ptr()) };
        match status {
            s if s == AtrestStatus::Ok as c_int => {}
            s if s == AtrestStatus::UnknownKey as c_int => {
                self.forget(id);
                return Err(LookupError::Unknown);
            }
            s if s == AtrestStatus::KeyDestroyed as c_int => {
                self.forget(id);
                return Err(LookupError::Destroyed);
            }
            other => return Err(LookupError::Unavailable(KeySourceError::new(CallbackStatus(other)))),
        }
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((bytes, cipher)) = built.get(&id) {
            if **bytes == *key {
                return Ok(Arc::clone(cipher));
            }
            self.revision.fetch_add(1, Ordering::Release);
        }
        let cipher = Arc::new(
            Xaes256Gcm::with_backend(&key, self.backend)
                .map_err(|e| LookupError::Unavailable(KeySourceError::new(e)))?,
        );
        built.insert(id, (key, Arc::clone(&cipher)));
        Ok(cipher)
    }

    fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }
}

/// Reads a page context.
///
/// # Safety
/// `ctx` is NULL or points to a readable `atrest_page_ctx` whose `extra` is valid for `extra_len` bytes.
unsafe fn context<'a>(ctx: *const AtrestPageCtx) -> Result<PageContext<'a>, AtrestStatus> {
    // SAFETY: NULL or a readable context by the caller's contract.
    let ctx = unsafe { ctx.as_ref() }.ok_or(AtrestStatus::NullPointer)?;
    // SAFETY: `extra` is valid for `extra_len` bytes by the caller's contract; NULL is accepted only for 0.
    let extra = unsafe { input(ctx.extra, ctx.extra_len) }?;
    Ok(PageContext::new(ctx.file_id, ctx.page_no).with_extra(extra))
}

fn kind(id: u8) -> Result<PageKind, AtrestStatus> {
    PageKind::try_from(id).map_err(|e| page_status(&e))
}

/// Stores a new handle in `out`.
///
/// # Safety
/// `out` is NULL or writable.
unsafe fn give<T>(out: *mut *mut T, value: T) -> Result<(), AtrestStatus> {
    if out.is_null() {
        return Err(AtrestStatus::NullPointer);
    }
    // SAFETY: non-null and writable by the caller's contract.
    unsafe { out.write(Box::into_raw(Box::new(value))) };
    Ok(())
}

/// A sealer for the 32-byte data key `key`, written into pages as `key_id`; see the header.
///
/// # Safety
/// `key` points to 32 bytes, `backend` is NULL or NUL-terminated, `out` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_sealer_new(
    key: *const u8,
    key_id: u32,
    backend: *const c_char,
    out: *mut *mut AtrestSealer,
) -> AtrestStatus {
    crate::status((|| {
        if out.is_null() {
            return Err(AtrestStatus::NullPointer);
        }
        // SAFETY: 32 readable bytes at `key` and a NULL or NUL-terminated `backend` by the header's contract.
        let (bytes, backend) = unsafe { (Zeroizing::new(array::<32>(key)?), backend_from(backend)?) };
        let cipher = Xaes256Gcm::with_backend(&bytes, backend).map_err(|_| AtrestStatus::Backend)?;
        let sealer = Sealer::with_key(Arc::new(cipher), key_id).map_err(|e| page_status(&e))?;
        // SAFETY: `out` is non-null and writable.
        unsafe { give(out, AtrestSealer(Arc::new(sealer))) }
    })())
}

/// Frees a sealer (NULL is ignored).
///
/// # Safety
/// `sealer` is NULL or a live handle, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_sealer_free(sealer: *mut AtrestSealer) {
    if !sealer.is_null() {
        // SAFETY: made by Box::into_raw in `give`, freed once by the caller's contract.
        drop(unsafe { Box::from_raw(sealer) });
    }
}

/// The key id a sealer writes into its pages, or 0 for NULL.
///
/// # Safety
/// `sealer` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_sealer_key_id(sealer: *const AtrestSealer) -> u32 {
    // SAFETY: NULL or a live handle by the caller's contract.
    unsafe { sealer.as_ref() }.map_or(0, |s| s.0.key_id())
}

/// Seals one page; see the header.
///
/// # Safety
/// `sealer` live, `ctx` readable, `body` NULL or `body_len` readable bytes not overlapping `page`, `page`
/// `page_len` writable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_seal_page(
    sealer: *const AtrestSealer,
    kind_id: u8,
    ctx: *const AtrestPageCtx,
    body: *const u8,
    body_len: usize,
    page: *mut u8,
    page_len: usize,
) -> AtrestStatus {
    crate::status((|| {
        // SAFETY: NULL or a live handle by the caller's contract.
        let sealer = unsafe { sealer.as_ref() }.ok_or(AtrestStatus::NullPointer)?;
        // SAFETY: `ctx` and `page` valid by the header's contract; NULLs are rejected.
        let (ctx, page) = unsafe { (context(ctx)?, buffer(page, page_len)?) };
        let kind = kind(kind_id)?;
        let result = if body.is_null() {
            sealer.0.seal_in_place(kind, &ctx, page)
        } else {
            // SAFETY: `body_len` readable bytes that do not overlap `page`, by the header's contract.
            let body = unsafe { input(body, body_len)? };
            sealer.0.seal(kind, &ctx, body, page)
        };
        result.map_err(|e| page_status(&e))
    })())
}

/// Seals a batch of pages in place across threads; see the header.
///
/// # Safety
/// `sealer` live; `jobs` points to `n` jobs whose contexts and pages are valid and whose pages do not
/// overlap; `failed_index` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_seal_batch(
    sealer: *const AtrestSealer,
    jobs: *mut AtrestSealJob,
    n: usize,
    failed_index: *mut usize,
) -> AtrestStatus {
    crate::status((|| {
        // SAFETY: NULL or a live handle by the caller's contract.
        let sealer = unsafe { sealer.as_ref() }.ok_or(AtrestStatus::NullPointer)?;
        let raw: &[AtrestSealJob] = match (jobs.is_null(), n) {
            (_, 0) => &[],
            (true, _) => return Err(AtrestStatus::NullPointer),
            // SAFETY: non-null, aligned (a C array of the struct) and `n` readable jobs by the caller's contract.
            (false, _) => unsafe { std::slice::from_raw_parts(jobs, n) },
        };
        let mut batch = Vec::with_capacity(n);
        for job in raw {
            // SAFETY: each job's context and page are valid, and pages do not overlap, by the contract.
            let (ctx, page) = unsafe { (context(&job.ctx)?, buffer(job.page, job.page_len)?) };
            batch.push(SealJob::in_place(kind(job.kind)?, ctx, page));
        }
        sealer.0.seal_batch(&mut batch).map_err(|e| {
            if !failed_index.is_null() {
                // SAFETY: non-null and writable by the caller's contract.
                unsafe { failed_index.write(e.index) };
            }
            page_status(&e.error)
        })
    })())
}

/// An opener whose keys come from `lookup`; see the header.
///
/// # Safety
/// `lookup` and `ctx` callable from every thread that opens pages; `backend` NULL or NUL-terminated;
/// `out` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_opener_new(
    lookup: Option<AtrestKeyLookupFn>,
    ctx: *mut c_void,
    backend: *const c_char,
    out: *mut *mut AtrestOpener,
) -> AtrestStatus {
    crate::status((|| {
        let callback = lookup.ok_or(AtrestStatus::NullPointer)?;
        // SAFETY: NULL or NUL-terminated by the header's contract.
        let backend = unsafe { backend_from(backend)? };
        let keys = CallbackLookup {
            callback,
            context: CallerContext(ctx),
            backend,
            built: Mutex::new(HashMap::new()),
            revision: AtomicU64::new(0),
        };
        // SAFETY: `out` is writable by the header's contract; NULL is rejected.
        unsafe { give(out, AtrestOpener(Opener::new(Box::new(keys)))) }
    })())
}

/// Frees an opener (NULL is ignored).
///
/// # Safety
/// `opener` is NULL or a live handle, freed once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_opener_free(opener: *mut AtrestOpener) {
    if !opener.is_null() {
        // SAFETY: made by Box::into_raw in `give`, freed once by the caller's contract.
        drop(unsafe { Box::from_raw(opener) });
    }
}

/// Opens one page in place; see the header.
///
/// # Safety
/// `opener` live, `ctx` readable, `page` `page_len` writable bytes, `out` NULL or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_open_page(
    opener: *const AtrestOpener,
    ctx: *const AtrestPageCtx,
    page: *mut u8,
    page_len: usize,
    out: *mut AtrestOpened,
) -> AtrestStatus {
    crate::status((|| {
        // SAFETY: NULL or a live handle by the caller's contract.
        let opener = unsafe { opener.as_ref() }.ok_or(AtrestStatus::NullPointer)?;
        // SAFETY: `ctx` and `page` valid by the header's contract; NULLs are rejected.
        let (ctx, page) = unsafe { (context(ctx)?, buffer(page, page_len)?) };
        let opened = opener.0.open(page, &ctx).map_err(|e| page_status(&e))?;
        let info = AtrestOpened { kind: opened.kind.id(), key_id: opened.key_id, body_len: opened.body.len() };
        // SAFETY: NULL or writable by the caller's contract.
        if let Some(out) = unsafe { out.as_mut() } {
            *out = info;
        }
        Ok(())
    })())
}

/// Opens a batch of pages in place across threads, one status per page; see the header.
///
/// # Safety
/// `opener` live; `jobs` points to `n` writable jobs whose contexts and pages are valid and whose pages do not
/// overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atrest_open_batch(
    opener: *const AtrestOpener,
    jobs: *mut AtrestOpenJob,
    n: usize,
) -> AtrestStatus {
    crate::status((|| {
        // SAFETY: NULL or a live handle by the caller's contract.
        let opener = unsafe { opener.as_ref() }.ok_or(AtrestStatus::NullPointer)?;
        if n == 0 {
            return Ok(());
        }
        if jobs.is_null() {
            return Err(AtrestStatus::NullPointer);
        }
        // SAFETY: non-null, aligned and `n` writable jobs by the caller's contract.
        let raw = unsafe { std::slice::from_raw_parts_mut(jobs, n) };
        let mut batch = Vec::with_capacity(n);
        let mut slots = Vec::with_capacity(n);
        for (i, job) in raw.iter_mut().enumerate() {
            // SAFETY: each job's context and page are valid, and pages do not overlap, by the contract.
            match unsafe { context(&job.ctx).and_then(|c| Ok((c, buffer(job.page, job.page_len)?))) } {
                Ok((ctx, page)) => {
                    batch.push(OpenJob::new(page, ctx));
                    slots.push(i);
                }
                Err(status) => job.status = status,
            }
        }
        let results: Vec<Result<(u8, u32), AtrestStatus>> = opener
            .0
            .open_batch(&mut batch)
            .into_iter()
            .map(|r| r.map(|p| (p.kind.id(), p.key_id)).map_err(|e| page_status(&e)))
            .collect();
        drop(batch);
        for (i, result) in slots.into_iter().zip(results) {
            let job = &mut raw[i];
            match result {
                Ok((kind, key_id)) => (job.status, job.kind, job.key_id) = (AtrestStatus::Ok, kind, key_id),
                Err(status) => job.status = status,
            }
        }
        if let Some(job) = raw.iter().find(|j| j.status != AtrestStatus::Ok) {
            return Err(fail(job.status, "a page of the batch did not open; each job has its own status"));
        }
        Ok(())
    })())
}
