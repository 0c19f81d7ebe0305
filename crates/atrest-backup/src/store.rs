//! The glue to `atrest-store`: backing up a live store, and opening every page of a restored one.

use std::path::Path;
use std::sync::Arc;

use atrest_keys::Keyring;
use atrest_store::{FsStorage, RollbackCheck, Store, StoreConfig};

use crate::error::{BackupError, Result};
use crate::source::{ReadAt, Snapshot, SnapshotFile};
use crate::target::Target;
use crate::upload::{BackupReport, backup_snapshot};
use crate::verify::{Problem, ProblemKind};

struct StorageReader(Arc<dyn atrest_store::StorageFile>);

impl ReadAt for StorageReader {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        self.0.read_at(buf, offset)
    }
}

/// A consistent snapshot of a live store (writes pause only while its files are listed and opened).
///
/// # Errors
/// [`BackupError::LiveStore`] with the store's error.
pub fn snapshot(store: &Store) -> Result<Snapshot> {
    let files = store.snapshot().map_err(BackupError::LiveStore)?;
    Ok(Snapshot {
        files: files
            .into_iter()
            .map(|f| SnapshotFile { name: f.name, len: f.len, reader: Box::new(StorageReader(f.file)) })
            .collect(),
    })
}

/// Backs up a live store to `target` as a new incremental backup. Writes may go on meanwhile.
///
/// # Errors
/// As [`backup_snapshot`]; a store whose keys are not a keyring in its data directory cannot be backed up.
pub fn backup(store: &Store, target: &Target) -> Result<BackupReport> {
    let snap = snapshot(store)?;
    backup_snapshot(&snap, target, store.keys(), store.format().store_id, now_ms())
}

/// The current time in Unix milliseconds.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// What opening every page of a store directory found.
pub(crate) struct PagesChecked {
    pub(crate) pages_ok: u64,
    pub(crate) pages_shredded: u64,
    pub(crate) problems: Vec<Problem>,
    /// What of the store was older than the key service's record, accepted (see `open_pages`).
    pub(crate) rewound: Vec<String>,
}

/// Opens the store in `dir` with `keyring` and verifies every page; failures become problems named by file.
/// `rollback` says what the open does with the key service's record of the store: a restore accepts the
/// backup's older state (and moves the record to it), a verification's scratch copy leaves the record alone.
pub(crate) fn open_pages(dir: &Path, keyring: Arc<Keyring>, id: &str, rollback: RollbackCheck) -> Result<PagesChecked> {
    let mut cfg = StoreConfig::new(Arc::new(FsStorage::new(dir)), keyring);
    cfg.rollback = rollback;
    let pages_err = |source| BackupError::Pages { id: id.to_owned(), source };
    let store = Store::open(cfg).map_err(pages_err)?;
    let report = store.verify(&mut |_, _| {}).map_err(pages_err)?;
    let rewound = store.accepted_rollback();
    let problems = report
        .failures
        .into_iter()
        .map(|f| {
            let file = Path::new(&f.file).file_name().map_or(f.file.clone(), |n| n.to_string_lossy().into_owned());
            Problem {
                object: format!("(page in {file})"),
                file,
                kind: ProblemKind::Page { offset: f.offset, detail: f.detail },
            }
        })
        .collect();
    Ok(PagesChecked { pages_ok: report.pages_ok, pages_shredded: report.pages_shredded, problems, rewound })
}
