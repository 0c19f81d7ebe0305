//! How a store is opened: where its files are, where its keys come from, and its tuning.

use crate::error::{Result, StoreError};
use crate::json::Limits;
use crate::storage::Storage;
use atrest_core::page::PageSize;
use atrest_keys::{Clock, Keyring, SystemClock};
use std::sync::Arc;
use std::time::Duration;

/// Everything [`crate::Store::create`] and [`crate::Store::open`] need.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The data directory (or a test double).
    pub storage: Arc<dyn Storage>,
    /// The data keys: the keyring in the data directory, opened with the master key's provider (or
    /// [`Keyring::ephemeral`] for tests). Its options set the lease on unwrapped keys.
    pub keys: Arc<Keyring>,
    /// Page size of a new store (an existing store keeps its own). Default 16 KiB.
    pub page_size: PageSize,
    /// A segment is closed once it reaches this size. Default 64 MiB.
    pub segment_bytes: u64,
    /// A commit batch is cut into writes of at most this size (one aligned write each). Default 8 MiB.
    pub batch_bytes: usize,
    /// A checkpoint (the buffers become runs; replay after a crash starts there) happens at the latest once
    /// this much log was written since the last one. Default 256 MiB.
    pub checkpoint_bytes: u64,
    /// The in-memory buffers of all collections' id maps and indexes together are written out as runs once
    /// they hold this much. Default 64 MiB.
    pub memtable_bytes: usize,
    /// The cache of opened pages (index runs, filters, documents read by `get`). Default 256 MiB.
    pub cache_bytes: usize,
    /// Who this process is, recorded in the data directory's lock so that a second opener's error can name
    /// it (e.g. `atrest serve https://127.0.0.1:8443`). The process id is added.
    pub owner: String,
    /// Id and document size limits.
    pub limits: Limits,
    /// Threads used to seal and open batches (0: one per core).
    pub threads: usize,
    /// The id of a new store (random if `None`); callers that name the key file after the store draw it.
    pub store_id: Option<[u8; 16]>,
    /// Rotate every data key automatically once the last rotation is this old (checked on each commit).
    pub rotate_every: Option<Duration>,
    /// The time source for automatic rotation (injected so tests can move time).
    pub clock: Arc<dyn Clock>,
    /// What opening does with the key service's record of the store (rollback protection). Default
    /// [`RollbackCheck::Refuse`].
    pub rollback: RollbackCheck,
    /// While the store changes, the key service's record is advanced at least this often (besides every
    /// checkpoint, manifest change and close): the window within which a rollback goes unnoticed. Default 5 s.
    pub anchor_every: Duration,
}

/// What opening a store does with the key service's record of it (see docs/keys.md, "Rollback protection").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RollbackCheck {
    /// A directory older than the record is refused with [`StoreError::Rollback`].
    #[default]
    Refuse,
    /// A directory older than the record is accepted and the record is moved back to it (a restore from
    /// backup, `atrest accept-rollback`); [`crate::Store::accepted_rollback`] says what was accepted.
    Accept,
    /// The record is neither read nor written (a scratch copy of a store, such as the one `verify-backup`
    /// opens, which must not move the live store's record).
    Ignore,
}

impl StoreConfig {
    /// A configuration with defaults.
    pub fn new(storage: Arc<dyn Storage>, keys: Arc<Keyring>) -> StoreConfig {
        StoreConfig {
            storage,
            keys,
            page_size: PageSize::KIB_16,
            segment_bytes: 64 << 20,
            batch_bytes: 8 << 20,
            checkpoint_bytes: 256 << 20,
            memtable_bytes: 64 << 20,
            cache_bytes: 256 << 20,
            owner: std::env::args().next().map_or_else(
                || "a program".to_owned(),
                |a| std::path::Path::new(&a).file_name().map_or(a.clone(), |f| f.to_string_lossy().into_owned()),
            ),
            limits: Limits::default(),
            threads: 0,
            store_id: None,
            rotate_every: None,
            clock: Arc::new(SystemClock),
            rollback: RollbackCheck::Refuse,
            anchor_every: Duration::from_secs(5),
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        if self.segment_bytes < self.page_size.bytes() as u64 * 4 {
            return Err(StoreError::Config("segment_bytes must hold at least 4 pages".into()));
        }
        if self.batch_bytes < self.page_size.bytes() {
            return Err(StoreError::Config("batch_bytes must hold at least one page".into()));
        }
        if self.memtable_bytes < 64 << 10 {
            return Err(StoreError::Config("memtable_bytes must be at least 64 KiB".into()));
        }
        if self.cache_bytes < 1 << 20 {
            return Err(StoreError::Config("cache_bytes must be at least 1 MiB".into()));
        }
        if self.anchor_every.is_zero() {
            return Err(StoreError::Config("anchor_every must be more than zero".into()));
        }
        if self.limits.max_id_len == 0 || self.limits.max_id_len > 64 << 10 {
            return Err(StoreError::Config("max_id_len must be 1 to 65536 bytes".into()));
        }
        if self.limits.max_doc_len == 0 || self.limits.max_doc_len > 1 << 30 {
            return Err(StoreError::Config("max_doc_len must be 1 byte to 1 GiB".into()));
        }
        Ok(())
    }
}
