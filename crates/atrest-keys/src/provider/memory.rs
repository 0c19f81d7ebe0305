//! A provider that keeps master keys in process memory. For tests only: the name says it, and the keyring
//! records its kind as `insecure-memory`, so a keyring made with it is never mistaken for a protected one.
//!
//! It can be told to fail the way a real key service fails (unreachable, PIN refused), and its master keys can
//! be removed or replaced, so the keyring's failure handling is testable without an HSM.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::{KeyProvider, xaes_wrap};
use crate::error::{KeyError, Result};
use crate::secret::{DataKey, MasterKeyId, MasterKeyMaterial};

/// A failure the in-memory provider can be told to simulate on every call until cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimulatedFault {
    /// Every call fails with [`KeyError::ProviderUnreachable`].
    Unreachable,
    /// Every call fails with [`KeyError::WrongPin`].
    WrongPin,
}

#[derive(Debug, Default)]
struct State {
    keys: BTreeMap<MasterKeyId, MasterKeyMaterial>,
    records: BTreeMap<String, Vec<u8>>,
    fault: Option<SimulatedFault>,
}

/// Master keys in process memory, for tests. Offers no protection at all.
#[derive(Debug, Default)]
pub struct InsecureMemoryProvider {
    state: Mutex<State>,
    unwrap_calls: AtomicU64,
}

impl InsecureMemoryProvider {
    /// An empty provider.
    pub fn new() -> Self {
        Self::default()
    }

    /// A provider holding one fresh master key named `id`.
    ///
    /// # Errors
    /// When the random number generator fails.
    pub fn with_master_key(id: &MasterKeyId) -> Result<Self> {
        let provider = Self::new();
        provider.create_master_key(id)?;
        Ok(provider)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes every later call fail with `fault` (or succeed again with `None`).
    pub fn simulate_fault(&self, fault: Option<SimulatedFault>) {
        self.state().fault = fault;
    }

    /// Replaces (or inserts) the bytes of master key `id`, as a swapped key file or HSM object would.
    pub fn replace_master_key(&self, id: &MasterKeyId, material: MasterKeyMaterial) {
        self.state().keys.insert(id.clone(), material);
    }

    /// Removes master key `id`, as if it had been deleted from the key service.
    pub fn remove_master_key(&self, id: &MasterKeyId) {
        self.state().keys.remove(id);
    }

    /// How many times [`KeyProvider::unwrap`] was called, so tests can see the keyring's cache at work.
    pub fn unwrap_calls(&self) -> u64 {
        self.unwrap_calls.load(Ordering::Relaxed)
    }

    fn check(&self, state: &State) -> Result<()> {
        match state.fault {
            None => Ok(()),
            Some(SimulatedFault::Unreachable) => {
                Err(KeyError::ProviderUnreachable { provider: self.describe(), reason: "simulated outage".to_owned() })
            }
            Some(SimulatedFault::WrongPin) => Err(KeyError::WrongPin { provider: self.describe() }),
        }
    }

    fn material(&self, state: &State, id: &MasterKeyId) -> Result<MasterKeyMaterial> {
        self.check(state)?;
        state
            .keys
            .get(id)
            .cloned()
            .ok_or_else(|| KeyError::MasterKeyNotFound { master_key: id.to_string(), provider: self.describe() })
    }
}

impl KeyProvider for InsecureMemoryProvider {
    fn kind(&self) -> &'static str {
        "insecure-memory"
    }

    fn describe(&self) -> String {
        "insecure in-memory provider (tests only)".to_owned()
    }

    fn master_key_ids(&self) -> Result<Vec<MasterKeyId>> {
        let state = self.state();
        self.check(&state)?;
        Ok(state.keys.keys().cloned().collect())
    }

    fn create_master_key(&self, id: &MasterKeyId) -> Result<()> {
        let mut state = self.state();
        self.check(&state)?;
        if state.keys.contains_key(id) {
            return Err(KeyError::MasterKeyExists { master_key: id.to_string(), provider: self.describe() });
        }
        state.keys.insert(id.clone(), MasterKeyMaterial::generate()?);
        Ok(())
    }

    fn wrap(&self, master: &MasterKeyId, key: &DataKey, aad: &[u8]) -> Result<Vec<u8>> {
        let kek = self.material(&self.state(), master)?;
        xaes_wrap::wrap(&self.describe(), master, &kek, key, aad)
    }

    fn unwrap(&self, master: &MasterKeyId, wrapped: &[u8], aad: &[u8]) -> Result<DataKey> {
        self.unwrap_calls.fetch_add(1, Ordering::Relaxed);
        let kek = self.material(&self.state(), master)?;
        xaes_wrap::unwrap(&self.describe(), master, &kek, wrapped, aad)
    }

    fn retire_master_key(&self, id: &MasterKeyId) -> Result<()> {
        let mut state = self.state();
        self.check(&state)?;
        state.keys.remove(id);
        Ok(())
    }

    fn read_records(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        let state = self.state();
        self.check(&state)?;
        Ok(state.records.get(name).cloned().into_iter().collect())
    }

    fn write_record(&self, name: &str, _master: &MasterKeyId, bytes: &[u8]) -> Result<()> {
        let mut state = self.state();
        self.check(&state)?;
        state.records.insert(name.to_owned(), bytes.to_vec());
        Ok(())
    }
}
