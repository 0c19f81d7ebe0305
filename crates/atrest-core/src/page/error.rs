//! Why a page could not be sealed or opened.
//!
//! Every structural problem names the field at fault, because a verify tool or an operator needs to know
//! whether a file is from a newer version, holds a foreign page, or is simply corrupt. Authentication failure
//! is the exception: one opaque variant, raised only after the body has been zeroed.

use super::lookup::KeySourceError;
use crate::error::{BackendError, SealError};

/// Why a page could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PageError {
    /// The buffer is shorter than the part that had to be read.
    #[error("page truncated: {len} bytes, need at least {min}")]
    Truncated {
        /// Bytes available.
        len: usize,
        /// Bytes needed.
        min: usize,
    },
    /// The magic field is not `ATRP`: this is not a sealed page (or not the start of one).
    #[error("bad page magic {found:02x?}, expected \"ATRP\"")]
    BadMagic {
        /// The four bytes found.
        found: [u8; 4],
    },
    /// The format version field names a version this code cannot read.
    #[error("unsupported page format version {version}")]
    UnsupportedVersion {
        /// The version found.
        version: u8,
    },
    /// The algorithm id field names no known AEAD.
    #[error("unknown page algorithm id {id}")]
    UnknownAlgorithm {
        /// The id found.
        id: u8,
    },
    /// The page kind field holds no known kind.
    #[error("unknown page kind {kind}")]
    UnknownKind {
        /// The kind id found.
        kind: u8,
    },
    /// The header's size code is not log2 of a supported page size (12..=16).
    #[error("unsupported page size code {code} in header (expected 12..=16)")]
    UnsupportedPageSize {
        /// The size code found.
        code: u8,
    },
    /// A page size was requested that is not a power of two from 4 KiB to 64 KiB.
    #[error("invalid page size {bytes} bytes: must be a power of two from 4096 to 65536")]
    InvalidPageSize {
        /// The size requested.
        bytes: usize,
    },
    /// The page buffer is not the size the header declares (opening) or is not a valid page size (sealing).
    #[error("page buffer is {actual} bytes, expected {expected}")]
    BadSize {
        /// The size required.
        expected: usize,
        /// The size given.
        actual: usize,
    },
    /// The plaintext body to seal is not exactly the page's capacity.
    #[error("page body is {actual} bytes, expected the capacity {expected}")]
    BadBodySize {
        /// The page's capacity.
        expected: usize,
        /// The body length given.
        actual: usize,
    },
    /// The page names a key id the opener's key lookup does not know.
    #[error("page is sealed under key id {id}, which is unknown")]
    UnknownKey {
        /// The key id from the (unauthenticated) header.
        id: u32,
    },
    /// The page's key was destroyed: the page was crypto-shredded and can never be opened.
    #[error("page is sealed under key id {id}, which was destroyed")]
    KeyDestroyed {
        /// The key id from the (unauthenticated) header.
        id: u32,
    },
    /// The page's key exists but could not be had now: the key service is unreachable or the key's lease ran
    /// out. Retrying later may succeed; `source` is the key service's own error.
    #[error("key id {id} is unavailable: {source}")]
    KeyUnavailable {
        /// The key id from the (unauthenticated) header.
        id: u32,
        /// What the key service reported ([`KeySourceError::downcast_ref`] recovers its type).
        source: KeySourceError,
    },
    /// The page is not authentic: wrong key, wrong place (file id, page number, context), or altered bytes.
    /// The body has been zeroed.
    #[error("page authentication failed")]
    Authentication,
    /// The operating system's random number generator failed while drawing a nonce prefix.
    #[error("OS random number generator failed: {0}")]
    Random(getrandom::Error),
    /// The key could not be built on the requested backend.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The AEAD refused the input: the context's `extra` bytes exceed GCM's associated-data limit.
    #[error(transparent)]
    Seal(#[from] SealError),
}

/// A batch operation failed on one job; no job of a failed seal batch was sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("page {index} of the batch: {error}")]
pub struct BatchError {
    /// Index of the failing job in the batch.
    pub index: usize,
    /// What was wrong with it.
    pub error: PageError,
}
