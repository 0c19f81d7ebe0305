//! The keys of a run: the embedded default, a fresh master key in a local key file kept outside the data
//! directory, wrapping the data keys of a keyring inside it (as `atrest init` sets a store up).

use std::path::Path;
use std::sync::Arc;

use atrest_keys::{Keyring, LocalKeyFileProvider, MasterKeyId, SystemClock};

use crate::error::BenchError;

/// The keyring of a new store in `data_dir` (which must exist), with its key file created in `key_dir`.
///
/// # Errors
/// [`BenchError::Keys`] if the key file or keyring cannot be created.
pub fn embedded(data_dir: &Path, key_dir: &Path) -> Result<Arc<Keyring>, BenchError> {
    let err = |e: atrest_keys::KeyError| BenchError::Keys(e.to_string());
    let master = MasterKeyId::new("bench-master").map_err(err)?;
    let provider = LocalKeyFileProvider::create(&key_dir.join("master.key"), data_dir, &master).map_err(err)?;
    let keyring = Keyring::create(data_dir, Arc::new(provider), &master, Arc::new(SystemClock)).map_err(err)?;
    Ok(Arc::new(keyring))
}
