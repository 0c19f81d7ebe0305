//! Error types, one per operation.
//!
//! Authentication failure is deliberately a single opaque variant: callers learn that a message did not
//! verify, never why, and the output buffer has already been zeroed when they see it.

use crate::backend::Backend;

/// Why a message could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The message is longer than GCM can encrypt under one nonce (2^36 - 32 bytes).
    #[error("message of {len} bytes exceeds the GCM limit of {max} bytes")]
    MessageTooLong {
        /// Length of the rejected message.
        len: u64,
        /// The largest length GCM allows.
        max: u64,
    },
    /// The associated data is longer than GCM allows (2^61 - 1 bytes).
    #[error("associated data of {len} bytes exceeds the GCM limit")]
    AadTooLong {
        /// Length of the rejected associated data.
        len: u64,
    },
    /// Input and output buffers of an in-out operation differ in length.
    #[error("input is {input} bytes but output buffer is {output} bytes")]
    LengthMismatch {
        /// Input length.
        input: usize,
        /// Output length.
        output: usize,
    },
}

/// Why a message could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The ciphertext, tag, nonce or associated data is not authentic. The output buffer was zeroed.
    #[error("authentication failed")]
    Authentication,
    /// The ciphertext is longer than GCM can produce (2^36 - 32 bytes); nothing was decrypted.
    #[error("ciphertext of {len} bytes exceeds the GCM limit of {max} bytes")]
    MessageTooLong {
        /// Length of the rejected ciphertext.
        len: u64,
        /// The largest length GCM allows.
        max: u64,
    },
    /// The associated data is longer than GCM allows.
    #[error("associated data of {len} bytes exceeds the GCM limit")]
    AadTooLong {
        /// Length of the rejected associated data.
        len: u64,
    },
    /// Input and output buffers of an in-out operation differ in length.
    #[error("input is {input} bytes but output buffer is {output} bytes")]
    LengthMismatch {
        /// Input length.
        input: usize,
        /// Output length.
        output: usize,
    },
}

/// Why a backend could not be selected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    /// No backend has this name.
    #[error("unknown backend {name:?}; this host supports: {}", names(supported))]
    Unknown {
        /// The name that was asked for.
        name: String,
        /// The backends this host can run, highest priority first.
        supported: Vec<Backend>,
    },
    /// The backend exists but this CPU (or OS) cannot run it.
    #[error("backend {backend} is not supported by this CPU; this host supports: {}", names(supported))]
    Unsupported {
        /// The backend that was asked for.
        backend: Backend,
        /// The backends this host can run, highest priority first.
        supported: Vec<Backend>,
    },
    /// The `ATREST_BACKEND` environment variable names a backend that cannot be used.
    #[error("ATREST_BACKEND={value:?} cannot be used: {reason}")]
    Environment {
        /// The variable's value.
        value: String,
        /// Why it was refused.
        reason: Box<BackendError>,
    },
}

fn names(list: &[Backend]) -> String {
    list.iter().map(|b| b.name()).collect::<Vec<_>>().join(", ")
}

/// A key of the wrong length was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key is {actual} bytes, expected {expected}")]
pub struct KeyLengthError {
    /// The length the algorithm needs.
    pub expected: usize,
    /// The length that was given.
    pub actual: usize,
}
