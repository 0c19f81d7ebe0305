//! The keyring: the data directory's list of wrapped data keys, and the operations that change it.
//!
//! Every change is built on a copy, written with [`crate::atomic::replace`], and adopted only once it is on
//! disk; a failed provider call or write leaves the file and the in-memory keyring as they were, and no key is
//! handed out that the keyring could not persist. Unwrapped keys are cached for a bounded lease (see
//! [`KeyringOptions::lease`] and `lease.rs`) so reads and writes keep working through a short key-service
//! outage, and fail closed after it.

mod cache;
pub(crate) mod entry;
pub(crate) mod file;
mod lease;
mod state_record;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use atrest_core::Xaes256Gcm;
use atrest_core::page::{KeyLookup, KeySourceError, LookupError, Sealer};

pub use entry::{EntryInfo, KeyState, Scope, ScopeName};

use self::cache::KeyCache;
use self::entry::Entry;
use self::file::KeyringData;
use self::lease::Backoff;
use crate::atomic;
use crate::clock::{Clock, SystemClock};
use crate::error::{KeyError, Result};
use crate::provider::{InsecureMemoryProvider, KeyProvider};
use crate::secret::{DataKey, KEY_LEN, MasterKeyId};

/// File name of the keyring inside the data directory.
pub const KEYRING_FILE: &str = "keyring";

/// Associated data of master-key check values.
const CHECK_AAD: &[u8] = b"atrest-keyring-check-v1";

/// What [`Keyring::path`] shows for a keyring held only in memory.
const IN_MEMORY: &str = "(in-memory keyring)";

/// Tunables of an open keyring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyringOptions {
    /// How long an unwrapped data key may be served from memory without the key service confirming it. After
    /// half of it the keyring asks the service again in the background (serving the cached key meanwhile,
    /// and for as long as the service does not answer); after all of it the key is dropped from memory and
    /// every operation that needs it fails with [`KeyError::KeyServiceUnavailable`] until the service
    /// answers again. Default 15 minutes; see docs/keys.md, "Lease and outages".
    pub lease: Duration,
}

impl Default for KeyringOptions {
    fn default() -> Self {
        KeyringOptions { lease: Duration::from_secs(15 * 60) }
    }
}

impl KeyringOptions {
    /// How long to wait before asking a key service that failed again: a quarter of the lease, at least one
    /// second and at most five, so that a service that comes back is used again within seconds, and one that
    /// stays away is not asked on every operation.
    pub fn retry_after_failure(&self) -> Duration {
        (self.lease / 4).clamp(Duration::from_secs(1), Duration::from_secs(5))
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
    /// A provider call made for the cache is under way (a lease refresh, or a caller fetching an expired key).
    fetching: bool,
    /// The provider failed: not asked again for the cache before this passes.
    backoff: Option<Backoff>,
}

/// What the keyring's handle and its background lease refresh share.
struct Core {
    path: PathBuf,
    /// Whether changes are written to `path` (false for a keyring held only in memory).
    persistent: bool,
    provider: Arc<dyn KeyProvider>,
    clock: Arc<dyn Clock>,
    options: KeyringOptions,
    state: Mutex<State>,
    /// Signalled when a provider call made for the cache ends.
    fetched: Condvar,
    /// The cache's withdrawal counter (see [`KeyLookup::revision`]).
    revision: Arc<AtomicU64>,
    /// The cache's earliest lease end, checked without the lock.
    next_expiry: Arc<AtomicU64>,
    /// The last state record read from or written to the key service (see `state_record.rs`), kept so a
    /// master-key rotation can re-authenticate it; held for the whole of a record write or a rotation, so the
    /// two never interleave. Locked before `state`, never while `state` is held.
    record: Mutex<Option<crate::record::StateRecord>>,
}

/// The keyring of one data directory, with its provider and clock: the one data-key layer of atrest. It
/// keeps the wrapped keys, hands out the active key of each scope (as a page [`Sealer`]), finds any key by
/// its id for reading ([`KeyLookup`]), and holds the one cache of unwrapped keys, under a lease.
pub struct Keyring {
    core: Arc<Core>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("path", &self.core.path)
            .field("provider", &self.core.provider.describe())
            .finish()
    }
}

impl Keyring {
    fn assemble(
        path: PathBuf,
        persistent: bool,
        provider: Arc<dyn KeyProvider>,
        clock: Arc<dyn Clock>,
        options: KeyringOptions,
        data: KeyringData,
    ) -> Keyring {
        let cache = KeyCache::new(options.lease.as_secs());
        let revision = cache.revision();
        let next_expiry = cache.next_expiry();
        let state = State { data, cache, fetching: false, backoff: None };
        Keyring {
            core: Arc::new(Core {
                path,
                persistent,
                provider,
                clock,
                options,
                state: Mutex::new(state),
                fetched: Condvar::new(),
                revision,
                next_expiry,
                record: Mutex::new(None),
            }),
        }
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
        Self::new_keyring(path, true, provider, master_key, clock, options)
    }

    /// A keyring held only in memory: nothing is written, and the keys are gone with the process. For tests,
    /// benchmarks and engines that keep their keyring elsewhere.
    ///
    /// # Errors
    /// Provider errors.
    pub fn in_memory(
        provider: Arc<dyn KeyProvider>,
        master_key: &MasterKeyId,
        clock: Arc<dyn Clock>,
        options: KeyringOptions,
    ) -> Result<Self> {
        Self::new_keyring(PathBuf::from(IN_MEMORY), false, provider, master_key, clock, options)
    }

    /// An in-memory keyring (see [`Keyring::in_memory`]) under a fresh master key of an
    /// [`InsecureMemoryProvider`]: keys that protect nothing beyond the process, for tests and benchmarks.
    ///
    /// # Errors
    /// When the random number generator fails.
    pub fn ephemeral() -> Result<Self> {
        let master = MasterKeyId::new("ephemeral")?;
        let provider = Arc::new(InsecureMemoryProvider::with_master_key(&master)?);
        Self::in_memory(provider, &master, Arc::new(SystemClock), KeyringOptions::default())
    }

    fn new_keyring(
        path: PathBuf,
        persistent: bool,
        provider: Arc<dyn KeyProvider>,
        master_key: &MasterKeyId,
        clock: Arc<dyn Clock>,
        options: KeyringOptions,
    ) -> Result<Self> {
        let check = provider.wrap(master_key, &DataKey::from_bytes([0; KEY_LEN]), CHECK_AAD)?;
        let data = KeyringData {
            provider: provider.kind().to_owned(),
            locator: provider.locator(),
            master_key: master_key.clone(),
            next_id: 1,
            checks: [(master_key.clone(), check)].into(),
            entries: Vec::new(),
        };
        let keyring = Self::assemble(path, persistent, provider, clock, options, data);
        let data = keyring.core.lock().data.clone();
        keyring.core.persist(&data)?;
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
            Err(source) => return Err(KeyError::keyring_io(path)(source)),
        };
        let data = file::decode(&path, &bytes)?;
        if data.provider != provider.kind() {
            return Err(KeyError::ProviderMismatch {
                path,
                expected: data.provider,
                actual: provider.kind().to_owned(),
            });
        }
        let keyring = Self::assemble(path, true, provider, clock, options, data);
        {
            let core = &keyring.core;
            let mut state = core.lock();
            let now = core.clock.now_unix();
            let live: Vec<Entry> =
                state.data.entries.iter().filter(|e| e.info.state != KeyState::Destroyed).cloned().collect();
            for entry in &live {
                let key = core.unwrap_entry(&state.data, entry)?;
                state.cache.insert(entry.info.id, key, now);
            }
            let masters: Vec<MasterKeyId> = state.data.checks.keys().cloned().collect();
            for master in &masters {
                match core.verify_check(&state.data, master) {
                    // Live keys under this master key did unwrap, so the key is right and the check value
                    // was altered.
                    Err(KeyError::WrongMasterKey { .. }) if live.iter().any(|e| &e.info.master_key == master) => {
                        return Err(core.tampered(0, "the master-key check value was altered"));
                    }
                    other => other?,
                }
            }
            if !state.data.checks.contains_key(&state.data.master_key) {
                return Err(core.tampered(0, "the current master key has no check value"));
            }
            // The provider that answered is the one to record (a moved key file, another server holding the
            // same key): open, restore and verify-backup then find it.
            let locator = core.provider.locator();
            if locator.is_some() && locator != state.data.locator {
                let mut data = state.data.clone();
                data.locator = locator;
                core.persist(&data)?;
                state.data = data;
            }
        }
        Ok(keyring)
    }

    /// The provider the keyring of `data_dir` records (see [`crate::KeyProvider::locator`]), read without
    /// opening it; `None` for a keyring written before keyrings recorded it, or by a provider without one.
    ///
    /// # Errors
    /// [`KeyError::KeyringMissing`], [`KeyError::KeyringCorrupt`], [`KeyError::KeyringIo`].
    pub fn recorded_provider(data_dir: &Path) -> Result<Option<String>> {
        let path = Self::path_in(data_dir);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(KeyError::KeyringMissing { path }),
            Err(source) => return Err(KeyError::keyring_io(path)(source)),
        };
        Self::recorded_provider_in(&path, &bytes)
    }

    /// [`Keyring::recorded_provider`] of keyring file bytes (a backup's copy); `name` names them in errors.
    ///
    /// # Errors
    /// [`KeyError::KeyringCorrupt`].
    pub fn recorded_provider_in(name: &Path, bytes: &[u8]) -> Result<Option<String>> {
        Ok(file::decode(name, bytes)?.locator)
    }

    /// The provider this keyring records.
    pub fn locator(&self) -> Option<String> {
        self.core.lock().data.locator.clone()
    }

    /// The keyring file (for a keyring held in memory, a placeholder that says so).
    pub fn path(&self) -> &Path {
        &self.core.path
    }

    /// The provider.
    pub fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.core.provider
    }

    /// The options it was opened with.
    pub fn options(&self) -> KeyringOptions {
        self.core.options
    }

    /// The keyring, its current master key and provider, for messages (no key material).
    pub fn describe(&self) -> String {
        format!(
            "keyring {} (master key {} in {})",
            self.path().display(),
            self.master_key(),
            self.provider().describe()
        )
    }

    /// The master key new data keys are wrapped under.
    pub fn master_key(&self) -> MasterKeyId {
        self.core.lock().data.master_key.clone()
    }

    /// The metadata of every entry, destroyed ones included, in id order. No key material.
    pub fn entries(&self) -> Vec<EntryInfo> {
        self.core.lock().data.entries.iter().map(|e| e.info.clone()).collect()
    }

    /// The active data key of `scope`, made (and persisted) first if the scope has none.
    ///
    /// # Errors
    /// Provider errors, [`KeyError::KeyringIo`]; nothing is returned for a key the keyring could not persist.
    /// [`KeyError::KeyServiceUnavailable`] once the key's lease ran out and the service does not answer.
    pub fn active_key(&self, scope: Scope) -> Result<(u32, DataKey)> {
        let (state, id) = self.hold_active(scope)?;
        Ok((id, state.cache.key(id).ok_or(KeyError::UnknownKey { key_id: id })?))
    }

    /// The page [`Sealer`] of `scope`'s active data key (made first if the scope has none), shared by every
    /// caller until the key changes: after [`Keyring::rotate_data_key`] or [`Keyring::destroy`] this returns a
    /// sealer of the new key. Ask for it per batch rather than keeping it, so writes follow rotation and stop
    /// when the key's lease runs out with the key service away.
    ///
    /// The sealer is built from the keyring's own entry, so the key id written into each page is the id of
    /// the key that sealed it, and it shares its key schedule with the keyring's [`KeyLookup`].
    ///
    /// # Errors
    /// As [`Keyring::active_key`]; [`KeyError::Cipher`], [`KeyError::Random`].
    pub fn sealer(&self, scope: Scope) -> Result<Arc<Sealer>> {
        let (mut state, id) = self.hold_active(scope)?;
        if let Some(sealer) = state.cache.sealer(scope, id) {
            return Ok(sealer);
        }
        let cipher = Core::cipher_locked(&mut state, id)?;
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
        let mut state = self.core.hold(id)?;
        Core::cipher_locked(&mut state, id)
    }

    /// The data key `id`, active or decrypt-only, for reading.
    ///
    /// # Errors
    /// [`KeyError::UnknownKey`], [`KeyError::KeyDestroyed`]; [`KeyError::KeyServiceUnavailable`] once the
    /// cached copy's lease ran out and the service does not answer; the provider's refusals (a revoked or
    /// missing master key).
    pub fn key(&self, id: u32) -> Result<DataKey> {
        let state = self.core.hold(id)?;
        state.cache.key(id).ok_or(KeyError::UnknownKey { key_id: id })
    }

    /// Asks the key service again for every cached key past half its lease, now, on this thread (the keyring
    /// otherwise does this in the background when such a key is used). Returns how many were refreshed.
    ///
    /// # Errors
    /// The first failure of the service; keys it refused (a revoked master key) are dropped from memory.
    pub fn refresh_leases(&self) -> Result<usize> {
        let mut state = self.core.lock();
        while state.fetching {
            state = self.core.fetched.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.fetching = true;
        drop(state);
        self.core.refresh()
    }

    /// Locks the state with `scope`'s active key (made first if the scope has none) held within its lease.
    fn hold_active(&self, scope: Scope) -> Result<(MutexGuard<'_, State>, u32)> {
        loop {
            let id = {
                let mut state = self.core.lock();
                match active_id(&state.data, scope) {
                    Some(id) => id,
                    None => {
                        let id = self.core.new_active(&mut state, scope)?;
                        return Ok((state, id));
                    }
                }
            };
            let state = self.core.hold(id)?;
            // A rotation between the two locks makes another key active: go again.
            if active_id(&state.data, scope) == Some(id) {
                return Ok((state, id));
            }
        }
    }

    /// Makes a new active key for `scope` and turns the previous one (if any) decrypt-only, in one update.
    ///
    /// # Errors
    /// Provider errors, [`KeyError::KeyringIo`]; on error the keyring is unchanged.
    pub fn rotate_data_key(&self, scope: Scope) -> Result<(u32, DataKey)> {
        let core = &self.core;
        let mut state = core.lock();
        let mut data = state.data.clone();
        let now = core.clock.now_unix();
        if let Some(old) = active_id(&data, scope) {
            let old_key = core.key_locked(&mut state, old)?;
            let entry = data.entries.iter_mut().find(|e| e.info.id == old).expect("active id is in the keyring");
            entry.info.state = KeyState::DecryptOnly;
            entry.info.changed = now;
            let wrapped = entry.wrapped.clone().expect("a live entry has a wrapped key");
            entry.binding = Some(entry::bind(&old_key, &entry.info, &wrapped)?);
        }
        let (id, key) = core.new_entry(&mut data, scope)?;
        core.persist(&data)?;
        state.data = data;
        state.cache.insert(id, key.clone(), now);
        core.revision.fetch_add(1, Ordering::Release);
        Ok((id, key))
    }

    /// Re-wraps every live data key under `new_master` (which must exist in the provider), makes it the current
    /// master key, and then retires the master keys no longer used.
    ///
    /// # Errors
    /// [`KeyError::MasterKeyNotFound`] and other provider errors, [`KeyError::KeyringIo`]; on error the keyring
    /// is unchanged. A failed retirement is reported in [`MasterKeyRotation::not_retired`], not as an error.
    pub fn rotate_master_key(&self, new_master: &MasterKeyId) -> Result<MasterKeyRotation> {
        let core = &self.core;
        let record = core.record.lock().unwrap_or_else(PoisonError::into_inner);
        let mut state = core.lock();
        if !core.provider.master_key_ids()?.contains(new_master) {
            return Err(KeyError::MasterKeyNotFound {
                master_key: new_master.to_string(),
                provider: core.provider.describe(),
            });
        }
        let mut data = state.data.clone();
        let now = core.clock.now_unix();
        let mut rewrapped = 0;
        for i in 0..data.entries.len() {
            if data.entries[i].info.state == KeyState::Destroyed {
                continue;
            }
            let key = core.key_locked(&mut state, data.entries[i].info.id)?;
            let entry = &mut data.entries[i];
            entry.info.master_key = new_master.clone();
            entry.info.changed = now;
            let wrapped = core.provider.wrap(new_master, &key, &entry::wrap_aad(&entry.info))?;
            entry.binding = Some(entry::bind(&key, &entry.info, &wrapped)?);
            entry.wrapped = Some(wrapped);
            rewrapped += 1;
        }
        let check = core.provider.wrap(new_master, &DataKey::from_bytes([0; KEY_LEN]), CHECK_AAD)?;
        let old: Vec<MasterKeyId> = data.checks.keys().filter(|m| *m != new_master).cloned().collect();
        data.checks = [(new_master.clone(), check)].into();
        data.master_key = new_master.clone();
        core.persist(&data)?;
        state.data = data;
        drop(state);
        let mut rotation = MasterKeyRotation { rewrapped, retired: Vec::new(), not_retired: Vec::new() };
        // A state record authenticated under an old master key must move to the new one before the old one
        // goes; if it cannot, the old keys stay (the record would be unreadable without them).
        if let Some(record) = record.as_ref()
            && let Err(e) = core.write_record_locked(record, new_master)
        {
            rotation.not_retired = old.into_iter().map(|m| (m, e.clone())).collect();
            return Ok(rotation);
        }
        drop(record);
        for master in old {
            match core.provider.retire_master_key(&master) {
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
        let core = &self.core;
        let mut state = core.lock();
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
        entry.info.changed = core.clock.now_unix();
        entry.wrapped = None;
        entry.binding = None;
        core.persist(&data)?;
        state.data = data;
        state.cache.remove(id);
        Ok(())
    }
}

impl Core {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn persist(&self, data: &KeyringData) -> Result<()> {
        if !self.persistent {
            return Ok(());
        }
        atomic::replace(&self.path, &file::encode(data), 0o600).map_err(KeyError::keyring_io(&self.path))
    }

    fn tampered(&self, key_id: u32, reason: &'static str) -> KeyError {
        KeyError::KeyringTampered { path: self.path.clone(), key_id, reason }
    }

    fn cipher_locked(state: &mut State, id: u32) -> Result<Arc<Xaes256Gcm>> {
        state.cache.cipher(id).ok_or(KeyError::UnknownKey { key_id: id })?.map_err(KeyError::Cipher)
    }

    /// Adds a new active entry for `scope` to the keyring, persisted, its key cached. For a scope without one.
    fn new_active(&self, state: &mut State, scope: Scope) -> Result<u32> {
        let mut data = state.data.clone();
        let (id, key) = self.new_entry(&mut data, scope)?;
        self.persist(&data)?;
        state.data = data;
        state.cache.insert(id, key, self.clock.now_unix());
        Ok(id)
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

    /// Counts withdrawals, leases that ran out included: once the earliest lease has ended, the expired keys
    /// are dropped here (without waiting for their next use), so a reader that follows the revision (the
    /// store's page cache) stops serving what they opened.
    fn revision(&self) -> u64 {
        let core = &self.core;
        let now = core.clock.now_unix();
        if now >= core.next_expiry.load(Ordering::Acquire) {
            core.lock().cache.expire(now);
        }
        core.revision.load(Ordering::Acquire)
    }
}
