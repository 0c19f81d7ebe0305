//! Errors of backup, restore and verify. Each names the object, backup or file at fault; a manifest that does
//! not authenticate is one opaque error, as everywhere in atrest.

use std::path::PathBuf;

/// Result alias of this crate.
pub type Result<T, E = BackupError> = std::result::Result<T, E>;

/// What went wrong with a backup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// The target string is neither a local path nor a URL `object_store` understands (with the features
    /// this build has).
    #[error("backup target {target:?}: {reason}")]
    Target {
        /// The target as given.
        target: String,
        /// Why it was refused.
        reason: String,
    },
    /// Another process is backing up to or pruning this (local) target.
    #[error(
        "backup target {target} is in use by another backup or prune (it holds {}); one process at a time writes \
         to a target",
        lock.display()
    )]
    TargetBusy {
        /// The target.
        target: String,
        /// Its lock file.
        lock: PathBuf,
    },
    /// The target holds another store's backups: a target holds the backups of one store.
    #[error(
        "backup target {target} holds the backups of store {holds}, not of this store {this}: a target holds one \
         store's backups, so give each store its own target (another directory or prefix)"
    )]
    ForeignStore {
        /// The target.
        target: String,
        /// The store whose backups it holds (hex).
        holds: String,
        /// The store at hand (hex).
        this: String,
    },
    /// The target holds backups of several stores (written before targets were bound to one store), so "the
    /// newest backup" is ambiguous.
    #[error(
        "backup target {target} holds backups of several stores ({}): name the backup to use by its id",
        stores.join(", ")
    )]
    MixedTarget {
        /// The target.
        target: String,
        /// The store ids (hex) found in its manifests.
        stores: Vec<String>,
    },
    /// An object-store call failed.
    #[error("backup target {target}: {op} {object}: {source}")]
    Store {
        /// The target.
        target: String,
        /// What was being done.
        op: &'static str,
        /// The object's name under the target.
        object: String,
        /// The object store's error (boxed: it is large).
        #[source]
        source: Box<object_store::Error>,
    },
    /// A local file could not be read or written.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No backup with this id exists at the target.
    #[error("backup {id:?} not found at {target}")]
    NoSuchBackup {
        /// The id asked for.
        id: String,
        /// The target.
        target: String,
    },
    /// The target holds no backup at all.
    #[error("no backup found at {target}")]
    NoBackups {
        /// The target.
        target: String,
    },
    /// A backup manifest is malformed (before or after authentication).
    #[error("backup manifest {object}: {detail}")]
    ManifestFormat {
        /// The manifest's object name.
        object: String,
        /// What is wrong.
        detail: String,
    },
    /// A backup manifest did not authenticate under its key: altered, truncated, renamed, or the wrong keys.
    #[error("backup manifest {object}: authentication failed")]
    ManifestAuthentication {
        /// The manifest's object name.
        object: String,
    },
    /// The data key a manifest names is not in the keyring (or was destroyed).
    #[error("backup manifest {object}: data key {key_id} is not available")]
    ManifestKey {
        /// The manifest's object name.
        object: String,
        /// The key id in its header.
        key_id: u32,
    },
    /// The key hierarchy failed (provider unreachable, wrong master key, tampered keyring...).
    #[error("keys: {0}")]
    Keys(#[from] atrest_keys::KeyError),
    /// Restore was pointed at a directory that is not empty.
    #[error("restore destination {path} is not empty")]
    DestinationNotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// A backup failed verification: each problem names the file (and object) at fault.
    #[error("backup {id} failed verification: {}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Damaged {
        /// The backup id.
        id: String,
        /// Everything found wrong.
        problems: Vec<crate::verify::Problem>,
    },
    /// The snapshot cannot be backed up as it is (a bad file name, a file listed twice, no keyring, a file
    /// shorter than its noted length).
    #[error("snapshot: {0}")]
    Snapshot(String),
    /// The live store failed (producing its snapshot).
    #[error("the store being backed up: {0}")]
    LiveStore(#[source] atrest_store::StoreError),
    /// Opening the restored or downloaded store, or its pages, failed.
    #[error("opening the pages of backup {id}: {source}")]
    Pages {
        /// The backup id.
        id: String,
        /// What the store reported.
        #[source]
        source: atrest_store::StoreError,
    },
    /// A retention or schedule setting is out of range.
    #[error("{0}")]
    Config(String),
    /// The operating system's random number generator failed.
    #[error("OS random number generator: {0}")]
    Random(String),
}
