//! The keyring: the data directory's list of wrapped data keys, and the operations that change it.
//!
//! Every change is built on a copy, written with [`crate::atomic::replace`], and adopted only once it is on
//! disk; a failed provider call or write leaves the file and the in-memory keyring as they were, and no key is
//! handed out that the keyring could not persist. Unwrapped keys are cached for a bounded lease (see
//! [`KeyringOptions::lease`]) so reads keep working through a short key-service outage.

mod cache;
mod entry;
mod file;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use atrest_core::Xaes256Gcm;
use atrest_core::page::{KeyLookup, KeySourceError, LookupError, Sealer};
use std::time::Duration;

pub use entry::{EntryInfo, KeyState, Scope, ScopeName};

use self::cache::KeyCache;
use self::entry::Entry;
use self::file::KeyringData;
use crate::atomic;
use crate::clock::Clock;
use crate::error::{KeyError, Result};
use crate::provider::KeyProvider;
use crate::secret::{DataKey, KEY_LEN, MasterKeyId};

/// File name of the keyring inside the data directory.
pub const KEYRING_FILE: &str = "keyring";

/// Associated data of master-key check values.
const CHECK_AAD: &[u8] = b"atrest-keyring-check-v1";

/// Tunables of an open keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyringOptions {
    /// How long an unwrapped key may be served from memory. After half of it the keyring asks the provider
    /// again (and keeps serving the cached key if the provider is unreachable); after all of it the key is
    /// dropped from memory and the provider must answer.
    pub lease: Duration,
}

impl Default for KeyringOptions {
    fn default() -> Self {
        KeyringOptions { lease: Duration::from_secs(15 * 60) }
    }
}

/// How many stored items still use a data key; the store answers this before a key is destroyed.
pub trait ReferenceCheck {
    /// The number of pages (or other items) sealed under `key_id`.
    ///
    /// # Errors
    /// When the store cannot count them; the key is then not destroyed.
    fn references(&self, key_id: u32) -> std::result::Result<u64, Box<dyn std::error::Error + Send + Sync>>;
}

/// A count known in advance.
impl ReferenceCheck for u64 {
    fn references(&self, _key_id: u32) -> std::result::Result<u64, Box<dyn std::error::Error + Send + Sync>> {
        Ok(*self)
    }
}

/// What a master-key rotation did.
#[derive(Debug)]
pub struct MasterKeyRotation {
    /// How many live data keys were re-wrapped.
    pub rewrapped: usize,
    /// Master keys no longer used by this keyring and retired in the provider.
    pub retired: Vec<MasterKeyId>,
    /// Master keys no longer used whose retirement failed (the keyring itself is already rotated).
    pub not_retired: Vec<(MasterKeyId, KeyError)>,
}

struct State {
    data: KeyringData,
    cache: KeyCache,
}

/// The keyring of one data directory, with its provider and clock.
pub struct Keyring {
    path: PathBuf,
    provider: Arc<dyn KeyProvider>,
    clock: Arc<dyn Clock>,
    options: KeyringOptions,
    state: Mutex<State>,
    /// The cache's withdrawal counter (see [`KeyLookup::revision`]).
    revision: Arc<AtomicU64>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("path", &self.path).field("provider", &self.provider.describe()).finish()
    }
}

impl Keyring {
    fn assemble(
        path: PathBuf,
        provider: Arc<dyn KeyProvider>,
        clock: Arc<dyn Clock>,
        options: KeyringOptions,
        data: KeyringData,
    ) -> Keyring {
        let cache = KeyCache::default();
        let revision = cache.revision();
        Keyring { path, provider, clock, options, state: Mutex::new(State { data, cache }), revision }
    }

    /// The keyring file of `data_dir`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(KEYRING_FILE)
    }

    /// Creates an empty keyring in `data_dir` whose data keys will be wrapped under `master_key`, which must
    /// already exist in `provider`.
    ///
    /// # Errors
    /// [`KeyError::KeyringExists`], provider errors, or [`KeyError::KeyringIo`].
    pub fn create(
        data_dir: &Path,
        provider: Arc<dyn KeyProvider>,
        master_key: &MasterKeyId,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        Self::create_with(data_dir, provider, master_key, clock, KeyringOptions::default())
    }

    /// [`Keyring::create`] with options.
    ///
    /// # Errors
    /// As [`Keyring::create`].
    pub fn create_with(
        data_dir: &Path,
        provider: Arc<dyn KeyProvider>,
        master_key: &MasterKeyId,
        clock: Arc<dyn Clock>,
        options: KeyringOptions,
    ) -> Result<Self> {
        let path = Self::path_in(data_dir);
        if path.exists() {
            return Err(KeyError::KeyringExists { path });
        }
        let check = provider.wrap(master_key, &DataKey::from_bytes([0; KEY_LEN]), CHECK_AAD)?;
        let data = KeyringData {
            provider: provider.kind().to_owned(),
            master_key: master_key.clone(),
            next_id: 1,
            checks: [(master_key.clone(), check)].into(),
            entries: Vec::new(),
        };
        let keyring = Self::assemble(path, provider, clock, options, data);
        let data = keyring.lock().data.clone();
        keyring.persist(&data)?;
        Ok(keyring)
    }

    /// Opens the keyring of `data_dir` and unwraps every live data key, so that a wrong or missing master key,
    /// an unreachable provider or a tampered entry shows up now rather than at the first read.
    ///
    /// # Errors
    /// [`KeyError::KeyringMissing`], [`KeyError::KeyringCorrupt`], [`KeyError::KeyringTampered`],
    /// [`KeyError::ProviderMismatch`], and the provider's errors.
    pub fn open(data_dir: &Path, provider: Arc<dyn KeyProvider>, clock: Arc<dyn Clock>) -> Result<Self> {
        Self::open_with(data_dir, provider, clock, KeyringOptions::default())
    }

    /// [`Keyring::open`] with options.
    ///
    /// # Errors
    /// As [`Keyring::open`].
    pub fn open_with(
        data_dir: &Path,
        provider: Arc<dyn KeyProvider>,
        clock: Arc<dyn Clock>,
        options: KeyringOptions,
    ) -> Result<Self> {
        let path = Self::path_in(data_dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(KeyError::KeyringMissing { path }),
            Err(source) => return Err(KeyError::KeyringIo { path, source }),
        };
        let data = file::decode(&path, &bytes)?;
        if data.provider != provider.kind() {
            return Err(KeyError::ProviderMismatch {
                path,
                expected: data.provider,
                actual: provider.kind().to_owned(),
            });
        }
        let keyring = Self::assemble(path, provider, clock, options, data);
        {
            let mut state = keyring.lock();
            let now = keyring.clock.now_unix();
            let live: Vec<Entry> =
                state.data.entries.iter().filter(|e| e.info.state != KeyState::Destroyed).cloned().collect();
            for entry in &live {
                let key = keyring.unwrap_entry(&state.data, entry)?;
                state.cache.insert(entry.info.id, key, now);
            }
            let masters: Vec<MasterKeyId> = state.data.checks.keys().cloned().collect();
            for master in &masters {
                match keyring.verify_check(&state.data, master) {
                    // Live keys under this master key did unwrap, so the key is right and the check value
                    // was altered.
                    Err(KeyError::WrongMasterKey { .. }) if live.iter().any(|e| &e.info.master_key == master) => {
                        return Err(keyring.tampered(0, "the master-key check value was altered"));
                    }
                    other => other?,
                }
            }
            if !state.data.checks.contains_key(&state.data.master_key) {
                return Err(keyring.tampered(0, "the current master key has no check value"));
            }
        }
        Ok(keyring)
    }

    /// The keyring file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The provider.
    pub fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }

    /// The master key new data keys are wrapped under.
    pub fn master_key(&self) -> MasterKeyId {
        self.lock().data.master_key.clone()
    }

    /// The metadata of every entry, destroyed ones included, in id order. No key material.
    pub fn entries(&self) -> Vec<EntryInfo> {
        self.lock().data.entries.iter().map(|e| e.info.clone()).collect()
    }

    /// The active data key of `scope`, made (and persisted) first if the scope has none.
    ///
    /// # Errors
    /// Provider errors, [`KeyError::KeyringIo`]; nothing is returned for a key the keyring could not persist.
    pub fn active_key(&self, scope: Scope) -> Result<(u32, DataKey)> {
        let mut state = self.lock();
        self.active_locked(&mut state, scope)
    }

    /// The page [`Sealer`] of `scope`'s active data key (made first if the scope has none), shared by every
    /// caller until the key changes: after [`Keyring::rotate_data_key`] or [`Keyring::destroy`] this returns a
    /// sealer of the new key. Ask for it per batch rather than keeping it, so writes follow rotation.
    ///
    /// The sealer is built from the keyring's own entry, so the key id written into each page is the id of
    /// the key that sealed it, and it shares its key schedule with the keyring's [`KeyLookup`].
    ///
    /// # Errors
    /// As [`Keyring::active_key`]; [`KeyError::Cipher`], [`KeyError::Random`].
    pub fn sealer(&self, scope: Scope) -> Result<Arc<Sealer>> {
        let mut state = self.lock();
        let (id, _) = self.active_locked(&mut state, scope)?;
        if let Some(sealer) = state.cache.sealer(scope, id) {
            return Ok(sealer);
        }
        let cipher = Self::cipher_locked(&mut state, id)?;
        let sealer = Arc::new(Sealer::with_key(cipher, id).map_err(|e| KeyError::Random(e.to_string()))?);
        state.cache.set_sealer(scope, Arc::clone(&sealer));
        Ok(sealer)
    }

    /// The page cipher of data key `id`, active or decrypt-only: the same object for as long as the key stays
    /// in memory. This is what [`KeyLookup::key`] returns.
    ///
    /// # Errors
    /// As [`Keyring::key`]; [`KeyError::Cipher`].
    pub fn cipher(&self, id: u32) -> Result<Arc<Xaes256Gcm>> {
        let mut state = self.lock();
        self.cached_key(&mut state, id)?;
        Self::cipher_locked(&mut state, id)
    }

    fn cipher_locked(state: &mut State, id: u32) -> Result<Arc<Xaes256Gcm>> {
        state.cache.cipher(id).ok_or(KeyError::UnknownKey { key_id: id })?.map_err(KeyError::Cipher)
    }

    fn active_locked(&self, state: &mut State, scope: Scope) -> Result<(u32, DataKey)> {
        if let Some(id) = active_id(&state.data, scope) {
            let key = self.cached_key(state, id)?;
            return Ok((id, key));
        }
        let mut data = state.data.clone();
        let (id, key) = self.new_entry(&mut data, scope)?;
        self.persist(&data)?;
        state.data = data;
        state.cache.insert(id, key.clone(), self.clock.now_unix());
        Ok((id, key))
    }

    /// The data key `id`, active or decrypt-only, for reading.
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`], [`KeyError::KeyDestroyed`], provider errors once the cached copy's lease ran out.
    pub fn key(&self, id: u32) -> Result<DataKey> {
        let mut state = self.lock();
        self.cached_key(&mut state, id)
    }

    /// Makes a new active key for `scope` and turns the previous one (if any) decrypt-only, in one update.
    ///
    /// # Errors
    /// Provider errors, [`KeyError::KeyringIo`]; on error the keyring is unchanged.
    pub fn rotate_data_key(&self, scope: Scope) -> Result<(u32, DataKey)> {
        let mut state = self.lock();
        let mut data = state.data.clone();
        let now = self.clock.now_unix();
        if let Some(old) = active_id(&data, scope) {
            let old_key = self.cached_key(&mut state, old)?;
            let entry = data.entries.iter_mut().find(|e| e.info.id == old).expect("active id is in the keyring");
            entry.info.state = KeyState::DecryptOnly;
            entry.info.changed = now;
            let wrapped = entry.wrapped.clone().expect("a live entry has a wrapped key");
            entry.binding = Some(entry::bind(&old_key, &entry.info, &wrapped)?);
        }
        let (id, key) = self.new_entry(&mut data, scope)?;
        self.persist(&data)?;
        state.data = data;
        state.cache.insert(id, key.clone(), now);
        self.revision.fetch_add(1, Ordering::Release);
        Ok((id, key))
    }

    /// Re-wraps every live data key under `new_master` (which must exist in the provider), makes it the current
    /// master key, and then retires the master keys no longer used.
    ///
    /// # Errors
    /// [`KeyError::MasterKeyNotFound`] and other provider errors, [`KeyError::KeyringIo`]; on error the keyring
    /// is unchanged. A failed retirement is reported in [`MasterKeyRotation::not_retired`], not as an error.
    pub fn rotate_master_key(&self, new_master: &MasterKeyId) -> Result<MasterKeyRotation> {
        let mut state = self.lock();
        if !self.provider.master_key_ids()?.contains(new_master) {
            return Err(KeyError::MasterKeyNotFound {
                master_key: new_master.to_string(),
                provider: self.provider.describe(),
            });
        }
        let mut data = state.data.clone();
        let now = self.clock.now_unix();
        let mut rewrapped = 0;
        for i in 0..data.entries.len() {
            if data.entries[i].info.state == KeyState::Destroyed {
                continue;
            }
            let key = self.cached_key(&mut state, data.entries[i].info.id)?;
            let entry = &mut data.entries[i];
            entry.info.master_key = new_master.clone();
            entry.info.changed = now;
            let wrapped = self.provider.wrap(new_master, &key, &entry::wrap_aad(&entry.info))?;
            entry.binding = Some(entry::bind(&key, &entry.info, &wrapped)?);
            entry.wrapped = Some(wrapped);
            rewrapped += 1;
        }
        let check = self.provider.wrap(new_master, &DataKey::from_bytes([0; KEY_LEN]), CHECK_AAD)?;
        let old: Vec<MasterKeyId> = data.checks.keys().filter(|m| *m != new_master).cloned().collect();
        data.checks = [(new_master.clone(), check)].into();
        data.master_key = new_master.clone();
        self.persist(&data)?;
        state.data = data;
        drop(state);
        let mut rotation = MasterKeyRotation { rewrapped, retired: Vec::new(), not_retired: Vec::new() };
        for master in old {
            match self.provider.retire_master_key(&master) {
                Ok(()) => rotation.retired.push(master),
                Err(e) => rotation.not_retired.push((master, e)),
            }
        }
        Ok(rotation)
    }

    /// Destroys data key `id` once `references` reports that nothing uses it: the keyring keeps the id, scope
    /// and dates, but no wrapped copy of the key, and the cached copy is dropped. Destroying a destroyed key
    /// does nothing. An active key may be destroyed too (all of a dropped collection's keys, for
    /// crypto-shredding); its scope gets a fresh key at the next [`Keyring::active_key`].
    ///
    /// Older copies of the keyring (backups, blocks the filesystem has not reused) still hold the wrapped key;
    /// rotating the master key and retiring the old one makes those useless too.
    ///
    /// # Errors
    /// [`KeyError::KeyStillReferenced`], [`KeyError::UnknownKey`], [`KeyError::KeyringIo`].
    pub fn destroy(&self, id: u32, references: &dyn ReferenceCheck) -> Result<()> {
        let mut state = self.lock();
        let mut data = state.data.clone();
        let entry = data.entries.iter_mut().find(|e| e.info.id == id).ok_or(KeyError::UnknownKey { key_id: id })?;
        if entry.info.state == KeyState::Destroyed {
            return Ok(());
        }
        let count =
            references.references(id).map_err(|e| KeyError::ReferenceCheck { key_id: id, reason: e.to_string() })?;
        if count > 0 {
            return Err(KeyError::KeyStillReferenced { key_id: id, count });
        }
        entry.info.state = KeyState::Destroyed;
        entry.info.changed = self.clock.now_unix();
        entry.wrapped = None;
        entry.binding = None;
        self.persist(&data)?;
        state.data = data;
        state.cache.remove(id);
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn persist(&self, data: &KeyringData) -> Result<()> {
        atomic::replace(&self.path, &file::encode(data), 0o600)
            .map_err(|source| KeyError::KeyringIo { path: self.path.clone(), source })
    }

    fn tampered(&self, key_id: u32, reason: &'static str) -> KeyError {
        KeyError::KeyringTampered { path: self.path.clone(), key_id, reason }
    }

    /// Adds a new active entry for `scope` to `data` (not yet persisted).
    fn new_entry(&self, data: &mut KeyringData, scope: Scope) -> Result<(u32, DataKey)> {
        let id = data.next_id;
        let next = id.checked_add(1).ok_or(KeyError::KeyIdsExhausted)?;
        let now = self.clock.now_unix();
        let info = EntryInfo {
            id,
            scope,
            master_key: data.master_key.clone(),
            provider: self.provider.kind().to_owned(),
            state: KeyState::Active,
            created: now,
            changed: now,
        };
        let key = DataKey::generate()?;
        let wrapped = self.provider.wrap(&info.master_key, &key, &entry::wrap_aad(&info))?;
        let binding = entry::bind(&key, &info, &wrapped)?;
        data.entries.push(Entry { info, wrapped: Some(wrapped), binding: Some(binding) });
        data.next_id = next;
        Ok((id, key))
    }

    /// The key from the cache while its lease holds, refreshed from the provider after half of it.
    fn cached_key(&self, state: &mut State, id: u32) -> Result<DataKey> {
        let entry = state.data.entries.iter().find(|e| e.info.id == id).ok_or(KeyError::UnknownKey { key_id: id })?;
        if entry.info.state == KeyState::Destroyed {
            return Err(KeyError::KeyDestroyed { key_id: id });
        }
        let now = self.clock.now_unix();
        let lease = self.options.lease.as_secs();
        let cached = state.cache.get(id, now, lease);
        if let Some((key, age)) = &cached
            && age.saturating_mul(2) < lease
        {
            return Ok(key.clone());
        }
        let entry = entry.clone();
        match self.unwrap_entry(&state.data, &entry) {
            Ok(key) => {
                state.cache.insert(id, key.clone(), now);
                Ok(key)
            }
            Err(e) if e.is_transient() && cached.is_some() => Ok(cached.map(|(k, _)| k).expect("checked")),
            Err(e) => {
                state.cache.remove(id);
                Err(e)
            }
        }
    }

    /// Unwraps a live entry and checks its binding, telling a wrong master key from a tampered entry.
    fn unwrap_entry(&self, data: &KeyringData, entry: &Entry) -> Result<DataKey> {
        let id = entry.info.id;
        let (Some(wrapped), Some(binding)) = (&entry.wrapped, &entry.binding) else {
            return Err(KeyError::KeyDestroyed { key_id: id });
        };
        if entry.info.provider != self.provider.kind() {
            return Err(self.tampered(id, "the entry names another provider"));
        }
        if !data.checks.contains_key(&entry.info.master_key) {
            return Err(self.tampered(id, "the entry names a master key the keyring does not use"));
        }
        let key = match self.provider.unwrap(&entry.info.master_key, wrapped, &entry::wrap_aad(&entry.info)) {
            Ok(key) => key,
            Err(KeyError::UnwrapFailed { .. }) => {
                self.verify_check(data, &entry.info.master_key)?;
                return Err(self.tampered(id, "the wrapped key or its metadata does not authenticate"));
            }
            Err(e) => return Err(e),
        };
        if !entry::verify(&key, &entry.info, wrapped, binding)? {
            return Err(self.tampered(id, "the metadata does not match its binding"));
        }
        Ok(key)
    }

    /// Checks that the provider's master key is the one the keyring was written with.
    fn verify_check(&self, data: &KeyringData, master: &MasterKeyId) -> Result<()> {
        let value = data.checks.get(master).ok_or_else(|| self.tampered(0, "a master key has no check value"))?;
        match self.provider.unwrap(master, value, CHECK_AAD) {
            Ok(key) if key.expose_secret() == &[0u8; KEY_LEN] => Ok(()),
            Ok(_) => Err(self.tampered(0, "the master-key check value was altered")),
            Err(KeyError::UnwrapFailed { .. }) => {
                Err(KeyError::WrongMasterKey { master_key: master.to_string(), provider: self.provider.describe() })
            }
            Err(e) => Err(e),
        }
    }
}

fn active_id(data: &KeyringData, scope: Scope) -> Option<u32> {
    data.entries.iter().find(|e| e.info.scope == scope && e.info.state == KeyState::Active).map(|e| e.info.id)
}

/// The keyring as the key lookup of an [`Opener`](atrest_core::page::Opener): live keys open their pages,
/// destroyed and unknown ids fail with their own errors, and any other failure (provider unreachable, lease
/// run out, tampered entry) is reported as unavailable with the [`KeyError`] inside, typed. A destroyed key, a
/// rotation and a key dropped after its lease change [`KeyLookup::revision`], so an opener drops the subkeys
/// it derived at its next open.
impl KeyLookup for Keyring {
    fn key(&self, id: u32) -> std::result::Result<Arc<Xaes256Gcm>, LookupError> {
        self.cipher(id).map_err(|e| match e {
            KeyError::UnknownKey { .. } => LookupError::Unknown,
            KeyError::KeyDestroyed { .. } => LookupError::Destroyed,
            other => LookupError::Unavailable(KeySourceError::new(other)),
        })
    }

    fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }
}
