//! Errors of the key layer.
//!
//! Each failure an operator must tell apart has its own variant: an unreachable key service, a wrong PIN, a
//! missing master key and a wrong master key need different fixes, so they are never folded into one message.
//! Messages name the file or key at fault and say what to do about it. An authentication failure inside a
//! provider (`UnwrapFailed`) stays opaque; the keyring turns it into `WrongMasterKey` or `KeyringTampered`
//! using the keyring's master-key check values.

use std::path::PathBuf;
use std::sync::Arc;

/// Why a key operation failed. `Clone`, so that an error met while opening a page (where the key lookup hands
/// it on behind a shared pointer) reaches the caller as this type again.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key service could not be reached (module not loadable, token absent, connection refused, timeout).
    #[error("key provider {provider} is unreachable: {reason}; check that the key service is running and reachable")]
    ProviderUnreachable {
        /// The provider, as [`crate::KeyProvider::describe`] names it.
        provider: String,
        /// What failed.
        reason: String,
    },
    /// A data key's lease ran out and the key service did not answer when asked for the key again: the store
    /// fails closed (nothing is read or written under that key) until the service answers.
    #[error(
        "key service {provider} is unavailable: data key {key_id} is no longer held (its lease of {lease_secs} s \
         ran out) and the service did not answer ({reason}); operations that need this key fail until the \
         service is reachable again, and resume by themselves when it is"
    )]
    KeyServiceUnavailable {
        /// The key service, as [`crate::KeyProvider::describe`] names it.
        provider: String,
        /// The data key that could not be had.
        key_id: u32,
        /// The lease, in seconds.
        lease_secs: u64,
        /// What the service (or the way to it) answered, or that it is being asked again too soon.
        reason: String,
    },
    /// The provider refused the PIN or credentials.
    #[error("key provider {provider} refused the PIN (login failed); supply the user PIN of that token")]
    WrongPin {
        /// The provider.
        provider: String,
    },
    /// The provider holds no master key with this id.
    #[error(
        "master key {master_key:?} was not found in key provider {provider}; create it, or point atrest at the \
         provider that holds it"
    )]
    MasterKeyNotFound {
        /// The master-key id that was asked for.
        master_key: String,
        /// The provider.
        provider: String,
    },
    /// The key service reports the master key in a state other than Active (pre-active, revoked,
    /// compromised, destroyed), so it may neither wrap nor unwrap.
    #[error(
        "master key {master_key:?} in key provider {provider} is {state}, not active: it can no longer wrap or \
         unwrap data keys; re-activate it on the key service, or rotate to an active master key"
    )]
    MasterKeyNotActive {
        /// The master-key id.
        master_key: String,
        /// The provider.
        provider: String,
        /// The state the service reported.
        state: String,
    },
    /// A provider configuration (such as a `kmip://` string, or the files it names) cannot be used.
    #[error("key provider configuration {config}: {reason}")]
    ProviderConfig {
        /// The configuration as given.
        config: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No key provider was named and the keyring records none (written before keyrings recorded it).
    #[error(
        "no key provider given, and keyring {keyring} records none; name the provider that holds the master key \
         (--keys file:PATH, pkcs11:MODULE?token=LABEL&pin-file=PATH or kmip://HOST:PORT?cert=…&key=…&ca=…)"
    )]
    NoProvider {
        /// The keyring.
        keyring: PathBuf,
    },
    /// A keys configuration file cannot be used.
    #[error("keys configuration {path} line {line}: {reason}")]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0: the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A store's state record, as the key service returned it, cannot be read: damaged, or (beside a local
    /// key file) altered or written under another master key.
    #[error("the state record {origin} (the key service's record against rollback) is unusable: {reason}")]
    StateRecordCorrupt {
        /// Where it came from (a file, a token object, a KMIP object).
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// The provider cannot keep state records, so it cannot protect a store against rollback.
    #[error("key provider {provider} cannot keep state records (rollback protection)")]
    RecordsUnsupported {
        /// The provider.
        provider: String,
    },
    /// A master key with this id already exists, so it is not created again.
    #[error("master key {master_key:?} already exists in key provider {provider}")]
    MasterKeyExists {
        /// The master-key id.
        master_key: String,
        /// The provider.
        provider: String,
    },
    /// A master-key id that cannot be used (empty, too long, or with characters the provider cannot store).
    #[error("invalid master-key id {master_key:?}: {reason}")]
    InvalidMasterKeyId {
        /// The id.
        master_key: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// An engine-defined scope name that cannot be used.
    #[error("invalid scope name {name:?}: {reason}")]
    InvalidScopeName {
        /// The name.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
    /// The provider's master key of this id is not the one the keyring was written with.
    #[error(
        "master key {master_key:?} in key provider {provider} is not the key this keyring was written with; \
         restore the original master key (key file or HSM object)"
    )]
    WrongMasterKey {
        /// The master-key id.
        master_key: String,
        /// The provider.
        provider: String,
    },
    /// A wrapped key did not authenticate under its master key (opaque, as authentication failures are).
    /// The keyring reports this as [`KeyError::WrongMasterKey`] or [`KeyError::KeyringTampered`].
    #[error("a wrapped key failed to unwrap under master key {master_key:?}")]
    UnwrapFailed {
        /// The master-key id.
        master_key: String,
    },
    /// Any other provider failure (a PKCS#11 return code, an I/O error of a key file).
    #[error("key provider {provider} failed: {reason}")]
    Provider {
        /// The provider.
        provider: String,
        /// What failed.
        reason: String,
    },
    /// The local master-key file lies inside the data directory, next to the data it protects.
    #[error(
        "key file {path} is inside the data directory {data_dir}; move it outside the data directory \
         (for example to ~/.config/atrest/keys/) so that a copy of the data does not carry its key"
    )]
    KeyFileInsideDataDir {
        /// The key file.
        path: PathBuf,
        /// The data directory.
        data_dir: PathBuf,
    },
    /// The local master-key file can be read or written by group or others.
    #[error("key file {path} has mode {mode:04o}, readable or writable by others; run `chmod 600 {path}`")]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The directory of the local master-key file can be written by group or others, who could swap the key.
    #[error("key directory {path} has mode {mode:04o}, writable by group or others; run `chmod 700 {path}`")]
    KeyDirPermissions {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The local master-key file is not a key file of this format.
    #[error("key file {path} is malformed at line {line}: {reason}; restore it from its backup")]
    KeyFileMalformed {
        /// The key file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The local master-key file could not be read, written or created.
    #[error("key file {path}: {source}")]
    KeyFileIo {
        /// The key file or its directory.
        path: PathBuf,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// The keyring file cannot be decoded: truncated (torn write), bad checksum, or not a keyring.
    #[error("keyring {path} is corrupt: {reason}; restore the data directory's keyring from a backup")]
    KeyringCorrupt {
        /// The keyring file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A keyring entry decodes but its metadata or wrapped key does not authenticate: it was altered.
    #[error(
        "keyring {path} was tampered with: entry {key_id}: {reason}; restore the keyring from a backup and \
         find out who can write the data directory"
    )]
    KeyringTampered {
        /// The keyring file.
        path: PathBuf,
        /// The data key id of the entry; 0 when the keyring's master-key check values are at fault.
        key_id: u32,
        /// What failed to authenticate.
        reason: &'static str,
    },
    /// The keyring was written for another kind of provider.
    #[error("keyring {path} was written with key provider kind {expected:?}, but {actual:?} was given")]
    ProviderMismatch {
        /// The keyring file.
        path: PathBuf,
        /// The provider kind the keyring records.
        expected: String,
        /// The provider kind given.
        actual: String,
    },
    /// `Keyring::create` found a keyring already there.
    #[error("keyring {path} already exists; open it instead of creating a new one")]
    KeyringExists {
        /// The keyring file.
        path: PathBuf,
    },
    /// `Keyring::open` found no keyring.
    #[error("no keyring at {path}; is this an atrest data directory?")]
    KeyringMissing {
        /// The expected keyring file.
        path: PathBuf,
    },
    /// The keyring file could not be read or written.
    #[error("keyring {path}: {source}")]
    KeyringIo {
        /// The keyring file or its directory.
        path: PathBuf,
        /// The I/O error.
        source: Arc<std::io::Error>,
    },
    /// No keyring entry has this id.
    #[error("data key {key_id} is not in the keyring")]
    UnknownKey {
        /// The data key id.
        key_id: u32,
    },
    /// The data key was destroyed; what it encrypted is unreadable for good.
    #[error("data key {key_id} was destroyed; data encrypted under it cannot be read")]
    KeyDestroyed {
        /// The data key id.
        key_id: u32,
    },
    /// The data key is still used by stored data, so destroying it is refused.
    #[error(
        "data key {key_id} is still referenced by {count} stored item(s); re-encrypt or delete them before \
         destroying the key"
    )]
    KeyStillReferenced {
        /// The data key id.
        key_id: u32,
        /// How many references the store reported.
        count: u64,
    },
    /// The store could not count a key's references, so the key was not destroyed.
    #[error("could not count the references to data key {key_id}: {reason}; the key was not destroyed")]
    ReferenceCheck {
        /// The data key id.
        key_id: u32,
        /// What the store reported.
        reason: String,
    },
    /// A data key's page cipher could not be built: `ATREST_BACKEND` names a backend this CPU cannot run.
    #[error("cannot build the cipher of a data key: {0}")]
    Cipher(#[source] atrest_core::BackendError),
    /// All `u32` data key ids were used; ids are never reused.
    #[error("the keyring has used every data key id; no new data key can be made")]
    KeyIdsExhausted,
    /// The operating system's random number generator failed.
    #[error("random number generator failed: {0}")]
    Random(String),
}

impl KeyError {
    /// Whether retrying the same operation later may succeed (the key service was unreachable).
    pub fn is_transient(&self) -> bool {
        matches!(self, KeyError::ProviderUnreachable { .. } | KeyError::KeyServiceUnavailable { .. })
    }

    /// A [`KeyError::KeyFileIo`].
    pub(crate) fn key_file_io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> KeyError {
        let path = path.into();
        move |source| KeyError::KeyFileIo { path, source: Arc::new(source) }
    }

    /// A [`KeyError::KeyringIo`].
    pub(crate) fn keyring_io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> KeyError {
        let path = path.into();
        move |source| KeyError::KeyringIo { path, source: Arc::new(source) }
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = KeyError> = std::result::Result<T, E>;

/// Fills `buf` from the operating system's random number generator.
pub(crate) fn random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| KeyError::Random(e.to_string()))
}
