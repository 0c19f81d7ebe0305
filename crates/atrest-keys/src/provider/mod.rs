//! The key service interface and its providers.
//!
//! A provider holds master keys (KEKs) and wraps and unwraps data keys under them; the keyring in the data
//! directory keeps only what a provider returned from [`KeyProvider::wrap`]. Providers are called with the
//! entry metadata as associated data; those that can bind it (the local key file, the in-memory provider) do,
//! and the keyring binds it again under the data key itself, so a provider that cannot (RFC 3394 key wrap in a
//! PKCS#11 token) still yields a keyring whose tampered entries fail.
//!
//! Network providers (KMIP) fail with [`KeyError::ProviderUnreachable`] for anything a retry may fix; wrap a
//! provider in [`Retrying`] to retry those with backoff.

#[cfg(feature = "kmip")]
pub(crate) mod kmip;
mod local_file;
pub(crate) mod local_record;
mod memory;
#[cfg(feature = "pkcs11")]
mod pkcs11;
mod retry;
mod spec_text;
mod xaes_wrap;

use std::fmt;

#[cfg(feature = "kmip")]
pub use kmip::{KmipConfig, KmipProvider, KmipWrapping, WrapMethod as KmipWrapMethod};
pub use local_file::{LocalKeyFileProvider, default_key_file_path};
pub use memory::{InsecureMemoryProvider, SimulatedFault};
#[cfg(feature = "pkcs11")]
pub use pkcs11::{PinSource, Pkcs11Config, Pkcs11Provider};
pub use retry::{RetryPolicy, Retrying, Sleeper, ThreadSleeper};

use crate::error::Result;
use crate::secret::{DataKey, MasterKeyId};

/// What a provider says about itself when asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderHealth {
    /// The provider, as [`KeyProvider::describe`] names it.
    pub provider: String,
    /// The master keys it holds.
    pub master_keys: Vec<MasterKeyId>,
}

/// A key service: holds master keys and wraps data keys under them.
///
/// Implementations must be usable from several threads. Every method that talks to the service returns
/// [`crate::KeyError::ProviderUnreachable`] when the service cannot be reached, and
/// [`crate::KeyError::MasterKeyNotFound`] when the named master key is absent.
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// The kind of provider, recorded in every keyring entry (`local-file`, `pkcs11`, `insecure-memory`).
    fn kind(&self) -> &'static str;

    /// A human-readable name for messages: the kind and where it is (a path, a token label).
    fn describe(&self) -> String;

    /// The provider as a string [`crate::ProviderSpec::parse`] reads back (`file:…`, `pkcs11:…`, `kmip://…`):
    /// paths and names, never a secret. The keyring records it, so that a data directory (or a backup of
    /// it) names the provider that holds its master key. `None` for providers that have no such form.
    fn locator(&self) -> Option<String> {
        None
    }

    /// The ids of the master keys this provider holds.
    fn master_key_ids(&self) -> Result<Vec<MasterKeyId>>;

    /// Creates a new master key under `id`, generated inside the provider where it can.
    ///
    /// # Errors
    /// [`crate::KeyError::MasterKeyExists`] when the id is taken.
    fn create_master_key(&self, id: &MasterKeyId) -> Result<()>;

    /// Wraps `key` under master key `master`, binding `aad` where the mechanism allows.
    fn wrap(&self, master: &MasterKeyId, key: &DataKey, aad: &[u8]) -> Result<Vec<u8>>;

    /// Unwraps what [`KeyProvider::wrap`] returned.
    ///
    /// # Errors
    /// [`crate::KeyError::UnwrapFailed`] when the wrapped key does not authenticate under this master key.
    fn unwrap(&self, master: &MasterKeyId, wrapped: &[u8], aad: &[u8]) -> Result<DataKey>;

    /// Retires a master key once nothing is wrapped under it any more (the last step of master-key rotation).
    /// Providers whose keys are managed elsewhere may keep the key and only stop using it.
    fn retire_master_key(&self, id: &MasterKeyId) -> Result<()>;

    /// The copies of state record `name` (see [`crate::StateRecord`]) the service holds: none, one, or two
    /// where an update was cut short between writing the new copy and removing the old one.
    ///
    /// # Errors
    /// [`crate::KeyError::RecordsUnsupported`] by default; [`crate::KeyError::StateRecordCorrupt`] for a copy
    /// that does not authenticate.
    fn read_records(&self, name: &str) -> Result<Vec<Vec<u8>>> {
        let _ = name;
        Err(crate::KeyError::RecordsUnsupported { provider: self.describe() })
    }

    /// Replaces state record `name` with `bytes`, atomically (a reader sees the old copy, the new one, or
    /// both). Where the storage is not itself the key service's (a file beside the local key file), the
    /// record is authenticated under a key derived from master key `master`.
    ///
    /// # Errors
    /// [`crate::KeyError::RecordsUnsupported`] by default; the service's errors.
    fn write_record(&self, name: &str, master: &MasterKeyId, bytes: &[u8]) -> Result<()> {
        let _ = (name, master, bytes);
        Err(crate::KeyError::RecordsUnsupported { provider: self.describe() })
    }

    /// Checks that the service answers, and lists its master keys.
    fn health(&self) -> Result<ProviderHealth> {
        Ok(ProviderHealth { provider: self.describe(), master_keys: self.master_key_ids()? })
    }
}
