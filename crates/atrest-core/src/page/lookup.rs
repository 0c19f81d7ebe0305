//! How an [`Opener`](super::Opener) finds the data key of a page: the [`KeyLookup`] trait and why a lookup
//! can fail.
//!
//! A lookup is fallible in three distinct ways, because an engine reacts to each differently: a key id nobody
//! ever issued points at a foreign or forged page, a destroyed key means the page was crypto-shredded on
//! purpose, and an unavailable key (key service down, lease run out) is an outage that a retry may cure. The
//! last one carries the key service's own error, typed, so a caller can downcast it instead of parsing text.

use std::collections::HashMap;
use std::sync::Arc;

use crate::Xaes256Gcm;

/// The error a key service reported, shared so that [`PageError`](super::PageError) stays `Clone`.
///
/// Equality is identity (the same report), since arbitrary errors have no equality of their own.
#[derive(Clone)]
pub struct KeySourceError(Arc<dyn std::error::Error + Send + Sync + 'static>);

impl KeySourceError {
    /// Wraps the key service's error.
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> KeySourceError {
        KeySourceError(Arc::new(error))
    }

    /// The key service's error as its own type, if it is a `T`.
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        self.0.downcast_ref::<T>()
    }

    /// The key service's error.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl std::fmt::Debug for KeySourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.0, f)
    }
}

impl std::fmt::Display for KeySourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.0, f)
    }
}

impl std::error::Error for KeySourceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl PartialEq for KeySourceError {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for KeySourceError {}

/// Why a [`KeyLookup`] has no key for an id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupError {
    /// No key with this id exists here (a page from elsewhere, or a forged key id).
    Unknown,
    /// The key existed and was destroyed: what it sealed is unreadable for good.
    Destroyed,
    /// The key exists but cannot be had now (key service unreachable, lease expired); retrying may succeed.
    Unavailable(KeySourceError),
}

/// Finds the data key for a key id. Implemented for maps from id to key, for `Arc`s, references and boxes of
/// a lookup, and (through [`lookup_fn`]) for closures.
///
/// The opener calls it on every open, so a key withdrawn here stops opening pages at once. Return the same
/// `Arc` for the same key while it is available: cached subkeys are tied to the key object they were derived
/// from, so a lookup that builds a fresh key per call re-derives on every page.
pub trait KeyLookup: Send + Sync {
    /// The key with this id.
    ///
    /// # Errors
    /// [`LookupError`] says whether the id is unknown, its key destroyed, or the key service unavailable.
    fn key(&self, id: u32) -> Result<Arc<Xaes256Gcm>, LookupError>;

    /// A number that changes whenever a key is withdrawn (destroyed, or dropped after its lease). An opener
    /// that sees it change drops its cached subkeys, so no derived key outlives its parent in memory. A
    /// lookup whose keys are never withdrawn keeps the default, 0.
    fn revision(&self) -> u64 {
        0
    }
}

impl<T: KeyLookup + ?Sized> KeyLookup for Arc<T> {
    fn key(&self, id: u32) -> Result<Arc<Xaes256Gcm>, LookupError> {
        (**self).key(id)
    }
    fn revision(&self) -> u64 {
        (**self).revision()
    }
}

impl<T: KeyLookup + ?Sized> KeyLookup for Box<T> {
    fn key(&self, id: u32) -> Result<Arc<Xaes256Gcm>, LookupError> {
        (**self).key(id)
    }
    fn revision(&self) -> u64 {
        (**self).revision()
    }
}

impl<T: KeyLookup + ?Sized> KeyLookup for &T {
    fn key(&self, id: u32) -> Result<Arc<Xaes256Gcm>, LookupError> {
        (**self).key(id)
    }
    fn revision(&self) -> u64 {
        (**self).revision()
    }
}

impl KeyLookup for HashMap<u32, Arc<Xaes256Gcm>> {
    fn key(&self, id: u32) -> Result<Arc<Xaes256Gcm>, LookupError> {
        self.get(&id).cloned().ok_or(LookupError::Unknown)
    }
}

/// A lookup made of a closure (see [`lookup_fn`]).
pub struct LookupFn<F>(F);

impl<F> std::fmt::Debug for LookupFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LookupFn")
    }
}

/// A lookup that calls `f`; `Ok`/`Err` as [`KeyLookup::key`]. For a closure that only knows "have it or not",
/// map `None` to [`LookupError::Unknown`].
pub fn lookup_fn<F>(f: F) -> LookupFn<F>
where
    F: Fn(u32) -> Result<Arc<Xaes256Gcm>, LookupError> + Send + Sync,
{
    LookupFn(f)
}

impl<F> KeyLookup for LookupFn<F>
where
    F: Fn(u32) -> Result<Arc<Xaes256Gcm>, LookupError> + Send + Sync,
{
    fn key(&self, id: u32) -> Result<Arc<Xaes256Gcm>, LookupError> {
        (self.0)(id)
    }
}
