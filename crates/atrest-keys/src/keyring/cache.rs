//! Unwrapped data keys held in memory for a bounded lease, each with the page cipher built from it. Dropping
//! an entry drops (and so zeroizes) both.
//!
//! The cipher is kept with the key so that every lookup of a key id returns the same `Arc` while the key is
//! unchanged: an [`Opener`](atrest_core::page::Opener) caches derived subkeys by that identity, and a page
//! [`Sealer`] built from it shares its key schedule. A refreshed lease that unwraps the same bytes keeps the
//! same cipher.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use atrest_core::Xaes256Gcm;
use atrest_core::page::Sealer;

use super::entry::Scope;
use crate::secret::DataKey;

struct Cached {
    key: DataKey,
    cipher: Option<Arc<Xaes256Gcm>>,
    fetched: u64,
}

pub(crate) struct KeyCache {
    /// The lease in seconds.
    lease: u64,
    keys: HashMap<u32, Cached>,
    /// The sealer of each scope's active key, built on first use and dropped when that key changes state.
    sealers: HashMap<Scope, Arc<Sealer>>,
    /// Bumped whenever a key leaves the cache; shared with the keyring, which reports it as its
    /// [`KeyLookup::revision`](atrest_core::page::KeyLookup::revision) without taking its lock.
    revision: Arc<AtomicU64>,
    /// No cached key's lease ends before this (Unix seconds); may be early, never late. Shared with the
    /// keyring, which checks it against the clock before reporting its revision.
    next_expiry: Arc<AtomicU64>,
}

impl KeyCache {
    /// An empty cache whose keys are held for `lease` seconds.
    pub(crate) fn new(lease: u64) -> KeyCache {
        KeyCache {
            lease,
            keys: HashMap::new(),
            sealers: HashMap::new(),
            revision: Arc::default(),
            next_expiry: Arc::new(AtomicU64::new(u64::MAX)),
        }
    }

    /// Stores `key`, fetched at `now` (Unix seconds); keeps the cipher if the bytes did not change.
    pub(crate) fn insert(&mut self, id: u32, key: DataKey, now: u64) {
        let cipher = match self.keys.get(&id) {
            Some(old) if old.key.expose_secret() == key.expose_secret() => old.cipher.clone(),
            Some(_) => {
                self.remove(id);
                None
            }
            None => None,
        };
        self.keys.insert(id, Cached { key, cipher, fetched: now });
        self.next_expiry.fetch_min(now.saturating_add(self.lease), Ordering::AcqRel);
    }

    /// The age in seconds of cached key `id`, unless its lease ran out (then it is dropped).
    pub(crate) fn age(&mut self, id: u32, now: u64) -> Option<u64> {
        let cached = self.keys.get(&id)?;
        // A clock that went backwards counts as an expired lease, never as a longer one.
        match now.checked_sub(cached.fetched) {
            Some(age) if age < self.lease => Some(age),
            _ => {
                self.remove(id);
                None
            }
        }
    }

    /// A copy of cached key `id` (call [`KeyCache::age`] first, which enforces the lease).
    pub(crate) fn key(&self, id: u32) -> Option<DataKey> {
        self.keys.get(&id).map(|c| c.key.clone())
    }

    /// Drops every key whose lease ran out by `now`, and notes when the next one ends.
    pub(crate) fn expire(&mut self, now: u64) {
        let expired: Vec<u32> = self
            .keys
            .iter()
            .filter(|(_, c)| now.checked_sub(c.fetched).is_none_or(|age| age >= self.lease))
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.remove(id);
        }
        let next = self.keys.values().map(|c| c.fetched.saturating_add(self.lease)).min().unwrap_or(u64::MAX);
        self.next_expiry.store(next, Ordering::Release);
    }

    /// The ids of cached keys at least half-way through their lease, due for a refresh.
    pub(crate) fn due(&self, now: u64) -> Vec<u32> {
        let mut due: Vec<u32> = self
            .keys
            .iter()
            .filter(|(_, c)| now.checked_sub(c.fetched).is_none_or(|age| age.saturating_mul(2) >= self.lease))
            .map(|(&id, _)| id)
            .collect();
        due.sort_unstable();
        due
    }

    /// The cipher of a key that is in the cache (call [`KeyCache::age`] first, which enforces the lease),
    /// built now if it was not yet.
    pub(crate) fn cipher(&mut self, id: u32) -> Option<Result<Arc<Xaes256Gcm>, atrest_core::BackendError>> {
        let cached = self.keys.get_mut(&id)?;
        if let Some(cipher) = &cached.cipher {
            return Some(Ok(Arc::clone(cipher)));
        }
        Some(Xaes256Gcm::try_new(cached.key.expose_secret()).map(|c| {
            let c = Arc::new(c);
            cached.cipher = Some(Arc::clone(&c));
            c
        }))
    }

    /// The cached sealer of `scope`, if it still seals under `id`.
    pub(crate) fn sealer(&self, scope: Scope, id: u32) -> Option<Arc<Sealer>> {
        self.sealers.get(&scope).filter(|s| s.key_id() == id).cloned()
    }

    /// Remembers the sealer of `scope`.
    pub(crate) fn set_sealer(&mut self, scope: Scope, sealer: Arc<Sealer>) {
        self.sealers.insert(scope, sealer);
    }

    /// Forgets `id`, its cipher and any sealer using it.
    pub(crate) fn remove(&mut self, id: u32) {
        if self.keys.remove(&id).is_some() {
            self.revision.fetch_add(1, Ordering::Release);
        }
        self.sealers.retain(|_, s| s.key_id() != id);
    }

    /// The counter bumped when a key leaves the cache.
    pub(crate) fn revision(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.revision)
    }

    /// When the next lease ends, at the earliest.
    pub(crate) fn next_expiry(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.next_expiry)
    }
}
