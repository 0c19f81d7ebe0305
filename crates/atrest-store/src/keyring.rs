//! Adapts the `atrest-keys` keyring (wrapped data keys in the data directory, master key in a provider) to
//! the store's [`KeySource`].

use crate::error::{Result, StoreError};
use crate::keys::{KeyInfo, KeyScope, KeySource};
use atrest_keys::{KeyState, Keyring, Scope};
use std::sync::Arc;
use zeroize::Zeroizing;

/// A [`KeySource`] over an `atrest-keys` [`Keyring`].
#[derive(Debug, Clone)]
pub struct KeyringSource {
    keyring: Arc<Keyring>,
}

impl KeyringSource {
    /// Wraps an open keyring.
    pub fn new(keyring: Arc<Keyring>) -> KeyringSource {
        KeyringSource { keyring }
    }

    /// The keyring.
    pub fn keyring(&self) -> &Arc<Keyring> {
        &self.keyring
    }
}

fn scope(s: KeyScope) -> Scope {
    match s {
        KeyScope::Store => Scope::Store,
        KeyScope::Collection(n) => Scope::Collection(n),
    }
}

fn keys_err(e: atrest_keys::KeyError) -> StoreError {
    StoreError::Keys(e)
}

impl KeySource for KeyringSource {
    fn active(&self, s: KeyScope) -> Result<u32> {
        self.keyring.active_key(scope(s)).map(|(id, _)| id).map_err(keys_err)
    }
    fn key(&self, id: u32) -> Result<Option<Zeroizing<[u8; 32]>>> {
        match self.keyring.key(id) {
            Ok(k) => Ok(Some(Zeroizing::new(*k.expose_secret()))),
            Err(atrest_keys::KeyError::UnknownKey { .. } | atrest_keys::KeyError::KeyDestroyed { .. }) => Ok(None),
            Err(e) => Err(keys_err(e)),
        }
    }
    fn rotate(&self, s: KeyScope) -> Result<u32> {
        self.keyring.rotate_data_key(scope(s)).map(|(id, _)| id).map_err(keys_err)
    }
    fn destroy(&self, id: u32) -> Result<()> {
        // The store has checked that no live file uses the key before asking.
        self.keyring.destroy(id, &0u64).map_err(keys_err)
    }
    fn list(&self) -> Result<Vec<KeyInfo>> {
        Ok(self
            .keyring
            .entries()
            .into_iter()
            .filter_map(|e| {
                let scope = match e.scope {
                    Scope::Store => KeyScope::Store,
                    Scope::Collection(n) => KeyScope::Collection(n),
                    // Scopes of other engines sharing the keyring are not the store's keys.
                    Scope::Named(_) => return None,
                };
                Some(KeyInfo {
                    id: e.id,
                    scope,
                    active: e.state == KeyState::Active,
                    destroyed: e.state == KeyState::Destroyed,
                })
            })
            .collect())
    }
    fn describe(&self) -> String {
        format!(
            "keyring {} (master key {} in {})",
            self.keyring.path().display(),
            self.keyring.master_key(),
            self.keyring.provider().describe()
        )
    }
}
