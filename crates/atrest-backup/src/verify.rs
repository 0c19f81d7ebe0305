//! `verify-backup`: every object of a backup is fetched and checked against its digest, every file against its
//! whole-file digest, and then every page of the reassembled store is opened with the master key. Each
//! problem names the file (and object) at fault.

use std::fmt;
use std::sync::Arc;

use atrest_keys::KeyProvider;

use crate::error::{BackupError, Result};
use crate::fetch::{fetch_all, open_backup, resolve_id};
use crate::target::Target;

/// What is wrong with one object or file of a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProblemKind {
    /// The object is not at the target.
    Missing,
    /// The object has another size than the manifest says (truncated or extended).
    WrongSize {
        /// Size in the manifest.
        expected: u64,
        /// Size at the target.
        actual: u64,
    },
    /// The bytes do not match their digest.
    Altered,
    /// The manifest cannot be read or does not authenticate.
    Unreadable(String),
    /// A page of the reassembled file does not open.
    Page {
        /// Byte offset of the page in the file.
        offset: u64,
        /// What the store reported.
        detail: String,
    },
}

/// One problem, by file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The store file (or `(manifest)`).
    pub file: String,
    /// The object at the target that holds the bad bytes.
    pub object: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, object) = (&self.file, &self.object);
        match &self.kind {
            ProblemKind::Missing => write!(f, "{file}: object {object} is missing"),
            ProblemKind::WrongSize { expected, actual } => {
                write!(f, "{file}: object {object} is {actual} bytes, expected {expected} (truncated or extended)")
            }
            ProblemKind::Altered => write!(f, "{file}: {object} does not match its digest (altered)"),
            ProblemKind::Unreadable(detail) => write!(f, "{file}: {object}: {detail}"),
            ProblemKind::Page { offset, detail } => write!(f, "{file}: page at byte {offset} does not open: {detail}"),
        }
    }
}

/// What a clean verification saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyBackupReport {
    /// The backup verified.
    pub id: String,
    /// Files checked.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
    /// Pages opened.
    pub pages_ok: u64,
    /// Pages under destroyed keys of dropped collections (crypto-shredded, expected).
    pub pages_shredded: u64,
}

/// Verifies backup `id` (default: the newest) at `target`, with the master key from `provider`.
///
/// # Errors
/// [`BackupError::Damaged`] listing every problem by file name; [`BackupError::NoSuchBackup`] /
/// [`BackupError::NoBackups`]; key errors (a wrong or unreachable master key); target errors.
pub fn verify_backup(target: &Target, id: Option<&str>, provider: Arc<dyn KeyProvider>) -> Result<VerifyBackupReport> {
    let id = resolve_id(target, id)?;
    let scratch = tempfile::Builder::new().prefix("atrest-verify-backup-").tempdir().map_err(|source| {
        BackupError::Io { op: "creating a scratch directory in", path: std::env::temp_dir(), source }
    })?;
    let damaged = |problems| BackupError::Damaged { id: id.clone(), problems };
    let opened = open_backup(target, &id, provider, scratch.path())?.map_err(damaged)?;
    let problems = fetch_all(target, &opened.manifest, scratch.path())?;
    if !problems.is_empty() {
        return Err(damaged(problems));
    }
    let pages =
        crate::store::open_pages(scratch.path(), opened.keyring.clone(), &id, atrest_store::RollbackCheck::Ignore)?;
    if !pages.problems.is_empty() {
        return Err(damaged(pages.problems));
    }
    Ok(VerifyBackupReport {
        id: id.clone(),
        files: opened.manifest.files.len(),
        bytes: opened.manifest.files.iter().map(|f| f.size).sum(),
        pages_ok: pages.pages_ok,
        pages_shredded: pages.pages_shredded,
    })
}
