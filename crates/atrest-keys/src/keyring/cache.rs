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

#[derive(Default)]
pub(crate) struct KeyCache {
    keys: HashMap<u32, Cached>,
    /// The sealer of each scope's active key, built on first use and dropped when that key changes state.
    sealers: HashMap<Scope, Arc<Sealer>>,
    /// Bumped whenever a key leaves the cache; shared with the keyring, which reports it as its
    /// [`KeyLookup::revision`](atrest_core::page::KeyLookup::revision) without taking its lock.
    revision: Arc<AtomicU64>,
}

impl KeyCache {
    /// Stores `key`, fetched at `now` (Unix seconds); keeps the cipher if the bytes did not change.
    pub(crate) fn insert(&mut self, id: u32, key: DataKey, now: u64) {
        let cipher = match self.keys.remove(&id) {
            Some(old) if old.key.expose_secret() == key.expose_secret() => old.cipher,
            _ => None,
        };
        self.keys.insert(id, Cached { key, cipher, fetched: now });
    }

    /// The key and its age in seconds, unless its lease of `lease` seconds ran out (then it is dropped).
    pub(crate) fn get(&mut self, id: u32, now: u64, lease: u64) -> Option<(DataKey, u64)> {
        let cached = self.keys.get(&id)?;
        // A clock that went backwards counts as an expired lease, never as a longer one.
        let age = now.checked_sub(cached.fetched);
        match age {
            Some(age) if age < lease => Some((cached.key.clone(), age)),
            _ => {
                self.remove(id);
                None
            }
        }
    }

    /// The cipher of a key that is in the cache (call [`KeyCache::get`] first, which enforces the lease),
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
}
