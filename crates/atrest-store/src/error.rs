//! The store's errors: each says what went wrong and where (collection, file, offset), so an operator can act
//! on it. Page authentication failures surface as [`StoreError::Integrity`], never as data.

use std::io;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O operation failed.
    #[error("{op} {file}: {source}")]
    Io {
        /// What the store was doing.
        op: &'static str,
        /// The file (full path or storage name).
        file: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A page failed to open, or its content did not decode: the data was tampered with or corrupted.
    #[error("integrity error in {}{file} at offset {offset}: {detail}",
        collection.as_ref().map(|c| format!("collection {c:?}, file ")).unwrap_or_else(|| "file ".into()))]
    Integrity {
        /// The collection the page belongs to, when known.
        collection: Option<String>,
        /// The file.
        file: String,
        /// Byte offset of the page in the file.
        offset: u64,
        /// What failed (authentication, unknown key, malformed record).
        detail: String,
    },
    /// An earlier write failed; the store refuses writes until it is reopened (nothing acknowledged is lost).
    #[error("the store refuses writes after a failed write ({cause}); reopen it to recover")]
    Poisoned {
        /// The failure that poisoned it.
        cause: String,
    },
    /// The directory holds no store.
    #[error("no atrest store in {dir} (missing {file}); run `atrest init` first")]
    NotAStore {
        /// The data directory.
        dir: String,
        /// The file that was expected.
        file: &'static str,
    },
    /// Another process owns the data directory (it holds the directory's lock). Nothing was changed.
    #[error(
        "the store in {dir} is in use by another process ({}); one process owns a data directory at a time: \
         stop it, or send the command through it",
        if holder.is_empty() { "it has not said who it is" } else { holder.as_str() }
    )]
    InUse {
        /// The data directory.
        dir: String,
        /// What the owner recorded about itself: its pid and command (and the URL of a server).
        holder: String,
    },
    /// A store already exists where one was to be created.
    #[error("a store already exists in {dir}")]
    AlreadyExists {
        /// The data directory.
        dir: String,
    },
    /// The store's format file is from another version or is damaged.
    #[error("bad store format file {file}: {detail}")]
    Format {
        /// The file.
        file: String,
        /// What is wrong.
        detail: String,
    },
    /// The document id is empty.
    #[error("document id is empty")]
    EmptyId,
    /// The document id is longer than allowed.
    #[error("document id is {len} bytes, more than the limit of {max}")]
    IdTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The document id has a control character (tab, newline, NUL, ESC...).
    #[error(
        "document id {id:?} has the control character U+{code:04X} at byte {offset}: ids may not contain \
         control characters"
    )]
    IdControlCharacter {
        /// The id.
        id: String,
        /// Byte offset of the character in the id.
        offset: usize,
        /// The character.
        code: u32,
    },
    /// The document is larger than allowed.
    #[error("document is {len} bytes, more than the limit of {max}")]
    DocumentTooLarge {
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The document is not valid JSON (or repeats a key, or nests too deep); says what and at which byte.
    #[error("document is not valid JSON: {0}")]
    InvalidJson(#[source] atrest_json::JsonError),
    /// The document is valid JSON but not an object.
    #[error("document must be a JSON object")]
    NotAnObject,
    /// A query value must be a string, number, boolean or null.
    #[error("query value must be a JSON scalar (string, number, boolean or null)")]
    NotAScalar,
    /// A path is not a JSON Pointer.
    #[error("{pointer:?} is not a JSON Pointer (e.g. /address/city)")]
    BadPointer {
        /// The path given.
        pointer: String,
    },
    /// A collection name is empty, too long or has control characters.
    #[error("bad collection name {name:?}: must be 1 to 255 bytes without control characters")]
    BadCollectionName {
        /// The name given.
        name: String,
    },
    /// A collection of this name exists already.
    #[error("collection {name:?} already exists")]
    CollectionExists {
        /// The name.
        name: String,
    },
    /// No collection has this name.
    #[error("no collection named {name:?}")]
    NoSuchCollection {
        /// The name.
        name: String,
    },
    /// No document has this id.
    #[error("no document {id:?} in collection {collection:?}")]
    NoSuchDocument {
        /// The collection.
        collection: String,
        /// The id.
        id: String,
    },
    /// The queried path is not indexed by the collection's policy.
    #[error("path {pointer} is not indexed in collection {collection:?}")]
    NotIndexed {
        /// The collection.
        collection: String,
        /// The path.
        pointer: String,
    },
    /// An attachment name is empty or too long.
    #[error("bad attachment name {name:?}: must be 1 to 1024 bytes")]
    BadAttachmentName {
        /// The name given.
        name: String,
    },
    /// One document of a batch was refused; nothing of the batch was written.
    #[error("document {index} of the batch (id {id:?}): {source}")]
    InBatch {
        /// Its position in the batch.
        index: usize,
        /// Its id.
        id: String,
        /// Why.
        #[source]
        source: Box<StoreError>,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The key service or keyring failed: a key service that does not answer, a wrong PIN, a tampered
    /// keyring. Not an integrity error: the data may be fine.
    #[error("keys: {0}")]
    Keys(#[from] atrest_keys::KeyError),
    /// The data directory is older than the key service's record of the store (a copy put back, an old
    /// keyring, manifest or segment): refused, nothing was changed. Each entry says what is older and by how
    /// much. `atrest accept-rollback` (or [`crate::RollbackCheck::Accept`]) accepts a rewind that is meant.
    #[error(
        "rollback refused: the data directory {dir} is older than the key service's record of this store: {}; \
         if this copy is meant to be the store now, run `atrest accept-rollback`",
        behind.join("; ")
    )]
    Rollback {
        /// The data directory.
        dir: String,
        /// What is older, and by how much.
        behind: Vec<String>,
    },
    /// Everything is durable, but the key service's record against rollback could not be moved on to it (the
    /// service did not answer): until it is, a copy of the directory from before is not recognized as older.
    #[error("the store's data is durable, but the key service's record against rollback was not advanced: {0}")]
    RecordNotAdvanced(#[source] atrest_keys::KeyError),
    /// A page could not be sealed (a backend or RNG failure).
    #[error("sealing a page failed: {0}")]
    Seal(#[from] atrest_core::page::PageError),
    /// Reading the input stream of an attachment failed.
    #[error("reading attachment input: {0}")]
    Input(#[source] io::Error),
}

impl From<atrest_json::JsonError> for StoreError {
    /// Size and top-level faults have their own variants (callers handle them apart); the rest is invalid JSON.
    fn from(e: atrest_json::JsonError) -> StoreError {
        match e.kind {
            atrest_json::ErrorKind::TooLarge { len, max } => StoreError::DocumentTooLarge { len, max },
            atrest_json::ErrorKind::NotAnObject => StoreError::NotAnObject,
            atrest_json::ErrorKind::NotAScalar => StoreError::NotAScalar,
            _ => StoreError::InvalidJson(e),
        }
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Builds an [`StoreError::Io`].
    pub(crate) fn io(op: &'static str, file: impl Into<String>) -> impl FnOnce(io::Error) -> StoreError {
        let file = file.into();
        move |source| StoreError::Io { op, file, source }
    }
}
