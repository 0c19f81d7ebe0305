//! The keys that seal backup manifests.
//!
//! A manifest is sealed under the store-scope data key of the store's keyring, so reading one needs the master
//! key from its provider, like reading the store itself. While backing up, the live store's keys are used;
//! to restore or verify, the keyring copied into the backup is opened with the provider.

use std::sync::Arc;

use atrest_keys::{KeyError, Keyring, Scope};
use zeroize::Zeroizing;

use crate::error::{BackupError, Result};

/// A 256-bit data key.
pub type KeyBytes = Zeroizing<[u8; 32]>;

/// Where manifest keys come from.
pub trait ManifestKeys {
    /// The key new manifests are sealed under, and its id.
    ///
    /// # Errors
    /// When the key hierarchy cannot produce it.
    fn sealing_key(&self) -> Result<(u32, KeyBytes)>;

    /// Key `id`, or `None` if it is unknown or destroyed.
    ///
    /// # Errors
    /// When the key hierarchy fails (other than by not having the key).
    fn key(&self, id: u32) -> Result<Option<KeyBytes>>;
}

impl ManifestKeys for Keyring {
    fn sealing_key(&self) -> Result<(u32, KeyBytes)> {
        let (id, key) = self.active_key(Scope::Store)?;
        Ok((id, Zeroizing::new(*key.expose_secret())))
    }

    fn key(&self, id: u32) -> Result<Option<KeyBytes>> {
        match Keyring::key(self, id) {
            Ok(key) => Ok(Some(Zeroizing::new(*key.expose_secret()))),
            Err(KeyError::UnknownKey { .. } | KeyError::KeyDestroyed { .. }) => Ok(None),
            Err(e) => Err(BackupError::Keys(e)),
        }
    }
}

impl<T: ManifestKeys + ?Sized> ManifestKeys for Arc<T> {
    fn sealing_key(&self) -> Result<(u32, KeyBytes)> {
        (**self).sealing_key()
    }

    fn key(&self, id: u32) -> Result<Option<KeyBytes>> {
        (**self).key(id)
    }
}

impl<T: ManifestKeys + ?Sized> ManifestKeys for &T {
    fn sealing_key(&self) -> Result<(u32, KeyBytes)> {
        (**self).sealing_key()
    }

    fn key(&self, id: u32) -> Result<Option<KeyBytes>> {
        (**self).key(id)
    }
}
