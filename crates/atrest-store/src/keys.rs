//! What the store needs from the key hierarchy, as a small trait, so tests can inject keys and the store does
//! not depend on how the keyring stores them. [`crate::keyring::KeyringSource`] adapts `atrest-keys`.

use crate::error::Result;
use std::collections::BTreeMap;
use std::sync::Mutex;
use zeroize::Zeroizing;

/// What a data key protects. Collections are numbered (their names are user data and live only in the
/// sealed catalog), so a dropped collection's key can be destroyed on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyScope {
    /// The store's own metadata: manifest and catalog.
    Store,
    /// One collection's documents, index and attachments.
    Collection(u64),
}

/// Public facts about one data key (never its bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The id written into page headers.
    pub id: u32,
    /// What it protects.
    pub scope: KeyScope,
    /// Whether new pages of its scope are sealed under it.
    pub active: bool,
    /// Whether it was destroyed (its pages can no longer be opened).
    pub destroyed: bool,
}

/// The store's view of the key hierarchy.
pub trait KeySource: Send + Sync + std::fmt::Debug {
    /// The active key id of `scope`, creating the scope's first key if it has none.
    fn active(&self, scope: KeyScope) -> Result<u32>;
    /// The bytes of key `id`, or `None` if it is unknown or destroyed.
    fn key(&self, id: u32) -> Result<Option<Zeroizing<[u8; 32]>>>;
    /// Makes a new active key for `scope`; the old one stays readable. Returns the new id.
    fn rotate(&self, scope: KeyScope) -> Result<u32>;
    /// Destroys key `id` (crypto-shredding whatever is still sealed under it).
    fn destroy(&self, id: u32) -> Result<()>;
    /// Every key.
    fn list(&self) -> Result<Vec<KeyInfo>>;
    /// Where the keys come from, for `info`.
    fn describe(&self) -> String;
}

/// The in-memory key table: id to (facts, bytes unless destroyed).
type KeyTable = BTreeMap<u32, (KeyInfo, Option<Zeroizing<[u8; 32]>>)>;

/// Keys held only in memory: for tests and benchmarks. Anything sealed under them is lost with the process.
#[derive(Debug, Default)]
pub struct MemoryKeys {
    keys: Mutex<KeyTable>,
}

impl MemoryKeys {
    /// An empty in-memory key set.
    pub fn new() -> MemoryKeys {
        MemoryKeys::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, KeyTable> {
        self.keys.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn create(map: &mut KeyTable, scope: KeyScope) -> Result<u32> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut bytes[..]).map_err(|e| atrest_keys::KeyError::Random(e.to_string()))?;
        for (info, _) in map.values_mut() {
            if info.scope == scope {
                info.active = false;
            }
        }
        let id = map.keys().next_back().map_or(1, |k| k + 1);
        map.insert(id, (KeyInfo { id, scope, active: true, destroyed: false }, Some(bytes)));
        Ok(id)
    }
}

impl KeySource for MemoryKeys {
    fn active(&self, scope: KeyScope) -> Result<u32> {
        let mut map = self.lock();
        if let Some((info, _)) = map.values().find(|(i, _)| i.scope == scope && i.active) {
            return Ok(info.id);
        }
        Self::create(&mut map, scope)
    }
    fn key(&self, id: u32) -> Result<Option<Zeroizing<[u8; 32]>>> {
        Ok(self.lock().get(&id).and_then(|(_, k)| k.clone()))
    }
    fn rotate(&self, scope: KeyScope) -> Result<u32> {
        Self::create(&mut self.lock(), scope)
    }
    fn destroy(&self, id: u32) -> Result<()> {
        if let Some((info, key)) = self.lock().get_mut(&id) {
            info.destroyed = true;
            info.active = false;
            *key = None;
        }
        Ok(())
    }
    fn list(&self) -> Result<Vec<KeyInfo>> {
        Ok(self.lock().values().map(|(i, _)| i.clone()).collect())
    }
    fn describe(&self) -> String {
        "in-memory keys (test only)".into()
    }
}
