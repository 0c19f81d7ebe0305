//! Why a benchmark run failed: each error names the file or stage at fault.

use std::path::PathBuf;

/// A failed benchmark run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BenchError {
    /// A file-system operation of the harness itself failed.
    #[error("cannot {what} ({}): {source}", path.display())]
    Io {
        /// What the harness was doing.
        what: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The store failed during a stage.
    #[error("store failed while {stage}: {source}")]
    Store {
        /// The stage (e.g. "ingesting with indexing off").
        stage: String,
        /// The store's error.
        #[source]
        source: atrest_store::StoreError,
    },
    /// A crypto backend could not build a key or seal/open a page.
    #[error("crypto measurement failed: {0}")]
    Crypto(String),
    /// The key file or keyring for the run could not be set up.
    #[error("cannot set up keys for the run: {0}")]
    Keys(String),
    /// An option is out of range.
    #[error("invalid option {option}: {detail}")]
    Option {
        /// The option's name, as on the command line.
        option: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A thread of the harness failed without an error value.
    #[error("{0}")]
    Worker(String),
    /// A read returned other data than was stored.
    #[error("data check failed: {0}")]
    Mismatch(String),
}
