//! A bounded cache of opened (authenticated and decrypted) pages, shared by every reader of a store: run
//! blocks, filters and block indexes, and log pages read by `get`. Its size is `StoreConfig::cache_bytes`;
//! a store's memory does not grow with its data.
//!
//! Sharded by page so readers on different threads rarely meet on a lock; each shard evicts with the CLOCK
//! algorithm (a page read since the hand last passed gets a second chance).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Shards of the cache (a power of two).
const SHARDS: usize = 16;

/// Where a page lives: the id its file's pages are bound to, and its page number.
pub(crate) type PageId = (u64, u64);

struct Entry {
    page: Arc<[u8]>,
    referenced: bool,
}

#[derive(Default)]
struct Shard {
    map: HashMap<PageId, Entry>,
    clock: VecDeque<PageId>,
    bytes: usize,
}

/// The page cache.
pub(crate) struct PageCache {
    shards: Vec<Mutex<Shard>>,
    shard_bytes: usize,
    /// The keyring's withdrawal count the cached pages were opened under (see [`PageCache::follow`]).
    keys_revision: AtomicU64,
}

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCache").field("bytes", &(self.shard_bytes * SHARDS)).finish_non_exhaustive()
    }
}

impl PageCache {
    /// A cache holding at most about `bytes` of pages.
    pub(crate) fn new(bytes: usize) -> PageCache {
        PageCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            shard_bytes: bytes / SHARDS,
            keys_revision: AtomicU64::new(0),
        }
    }

    fn shard(&self, id: PageId) -> std::sync::MutexGuard<'_, Shard> {
        let h = id.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ id.1.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        self.shards[(h >> 59) as usize % SHARDS].lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Empties the cache when the keyring's withdrawal count (`KeyLookup::revision`) is not `revision` any
    /// more: a key was destroyed, rotated out or dropped after its lease, and no plaintext opened under the
    /// old keys is served from memory after that. Readers call it before [`PageCache::get`].
    pub(crate) fn follow(&self, revision: u64) {
        if self.keys_revision.swap(revision, Ordering::AcqRel) != revision {
            for s in &self.shards {
                *s.lock().unwrap_or_else(|p| p.into_inner()) = Shard::default();
            }
        }
    }

    /// The cached page, if present.
    pub(crate) fn get(&self, id: PageId) -> Option<Arc<[u8]>> {
        let mut s = self.shard(id);
        let e = s.map.get_mut(&id)?;
        e.referenced = true;
        Some(e.page.clone())
    }

    /// Caches a page (an opened page is immutable: its file is never rewritten in place).
    pub(crate) fn insert(&self, id: PageId, page: Arc<[u8]>) {
        let limit = self.shard_bytes;
        if page.len() > limit {
            return;
        }
        let mut s = self.shard(id);
        let len = page.len();
        if let Some(old) = s.map.insert(id, Entry { page, referenced: false }) {
            s.bytes -= old.page.len();
        } else {
            s.clock.push_back(id);
        }
        s.bytes += len;
        while s.bytes > limit {
            let Some(victim) = s.clock.pop_front() else { break };
            match s.map.get_mut(&victim) {
                Some(e) if e.referenced => {
                    e.referenced = false;
                    s.clock.push_back(victim);
                }
                Some(_) => {
                    let e = s.map.remove(&victim).expect("present above");
                    s.bytes -= e.page.len();
                }
                None => {}
            }
        }
    }

    /// Bytes of pages held now.
    pub(crate) fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap_or_else(|p| p.into_inner()).bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_within_its_size_and_keeps_what_is_used() {
        let cache = PageCache::new(SHARDS * 4096);
        let page = |b: u8| -> Arc<[u8]> { vec![b; 1024].into() };
        for i in 0..1000u64 {
            cache.insert((1, i), page(i as u8));
            // Page (1, 0) is read all the time, so CLOCK keeps it.
            assert!(cache.get((1, 0)).is_some(), "hot page evicted at {i}");
        }
        assert!(cache.bytes() <= SHARDS * 4096);
        assert_eq!(cache.get((1, 999)).unwrap()[0], 999u64 as u8);
        assert!(cache.get((2, 0)).is_none());
    }
}
